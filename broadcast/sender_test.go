package broadcast_test

import (
	"context"
	"testing"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/broadcast"
)

// TestSenderButtonBytes: buttons leave as exactly the fields they use. go-telegram/bot's
// InlineKeyboardButton would add "copy_text":{"text":""} to each (a struct that omitempty
// never drops), a button of two types that Telegram refuses.
func TestSenderButtonBytes(t *testing.T) {
	t.Parallel()
	srv := telegramtest.New()
	t.Cleanup(srv.Close)
	send := broadcast.TelegramSender{B: newBot(t, srv.URL)}
	ctx := context.Background()
	buttons := [][]broadcast.Button{
		{{Text: "Open", Data: "1:o:5:0"}},
		{{Text: "Map <&>", URL: "https://2gis.kz/astana?q=1&x=2"}},
	}
	const want = `{"inline_keyboard":[[{"text":"Open","callback_data":"1:o:5:0"}],[{"text":"Map \u003c\u0026\u003e","url":"https://2gis.kz/astana?q=1\u0026x=2"}]]}`
	id, err := send.Send(ctx, broadcast.Message{ChatID: 7, Text: "hi", Buttons: buttons})
	if err != nil {
		t.Fatal(err)
	}
	if err := send.Edit(ctx, 7, id, "hi again", buttons); err != nil {
		t.Fatal(err)
	}
	if _, err := send.Send(ctx, broadcast.Message{ChatID: 7, Text: "no buttons"}); err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3", len(calls))
	}
	for _, c := range calls[:2] {
		if got := c.Params["reply_markup"]; got != want {
			t.Errorf("%s reply_markup\n got %s\nwant %s", c.Method, got, want)
		}
	}
	if got, ok := calls[2].Params["reply_markup"]; ok {
		t.Errorf("a message without buttons carries reply_markup %q", got)
	}
}
