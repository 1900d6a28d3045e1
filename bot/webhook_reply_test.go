package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/flows"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// failingCommits makes every Commit fail after it reached Redis (a lost reply, say).
type failingCommits struct{ *redisstore.Store }

func (f failingCommits) Commit(context.Context, int64, int64, redisstore.Turn, []byte) error {
	return errors.New("connection reset")
}

// silentPress answers a press silently and edits the live message, like most presses.
func silentPress(_ context.Context, _ int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error) {
	st.Rev++
	if _, ok := ev.(flows.Press); ok {
		return st, []flows.Effect{flows.Answer{}, flows.Show{Screen: flows.Screen{Kind: flows.ScreenMenu, Rev: st.Rev}}}, nil
	}
	return st, []flows.Effect{flows.Show{Screen: flows.Screen{Kind: flows.ScreenWelcome, Rev: st.Rev}, New: true}}, nil
}

// serveUpdate posts upd to a webhook handler around in and returns the status and body.
func serveUpdate(t *testing.T, in Handler, upd *models.Update) (int, string) {
	t.Helper()
	body, err := json.Marshal(upd)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	w := httptest.NewRecorder()
	NewWebhook(in, "", 0, quiet).ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

// menuPress is a button's callback data (an outdated one: the fakes do not check).
var menuPress = flows.EncodeCallback(flows.Button{Action: flows.ActMenu}, 1)

func answersByCall(srv *telegramtest.Server) int { return len(srv.CallsOf("answerCallbackQuery")) }

// TestWebhookAnswerRides covers when a callback query's answer rides on the webhook answer:
// only silent answers, only after the turn committed and the update is acknowledged; a
// redelivered duplicate carries it again; everything else answers by a Bot API call.
func TestWebhookAnswerRides(t *testing.T) {
	const chat = 8101
	wantRide := func(id string) string { return `{"method":"answerCallbackQuery","callback_query_id":"` + id + `"}` }

	t.Run("silent answer after commit, again on a redelivery", func(t *testing.T) {
		f := newFixture(t, nil)
		f.steps.fn = silentPress
		if code, body := serveUpdate(t, f.in, textUpdate(f.id(), chat, "/start")); code != 200 || body != "" {
			t.Fatalf("start: %d %q", code, body)
		}
		st, _ := f.state(t, chat)
		press := pressUpdate(f.id(), chat, st.MsgID, menuPress)
		code, body := serveUpdate(t, f.in, press)
		if code != 200 || body != wantRide(press.CallbackQuery.ID) {
			t.Fatalf("press: %d %q", code, body)
		}
		if n := answersByCall(f.srv); n != 0 {
			t.Fatalf("answered by %d Bot API calls as well", n)
		}
		// The answer above never reached Telegram: the same update comes again. It is a
		// duplicate (no second edit), and its webhook answer carries the answer again.
		edits := len(f.srv.CallsOf("editMessageText"))
		code, body = serveUpdate(t, f.in, press)
		if code != 200 || body != wantRide(press.CallbackQuery.ID) {
			t.Fatalf("redelivered press: %d %q", code, body)
		}
		if n := len(f.srv.CallsOf("editMessageText")); n != edits {
			t.Fatalf("redelivery edited again: %d edits, want %d", n, edits)
		}
	})

	t.Run("answer with a text goes by call", func(t *testing.T) {
		f := newFixture(t, nil) // defaultStep answers a press with a catalog text
		code, body := serveUpdate(t, f.in, pressUpdate(f.id(), chat, 1, menuPress))
		if code != 200 || body != "" {
			t.Fatalf("press: %d %q", code, body)
		}
		if c := f.srv.CallsOf("answerCallbackQuery"); len(c) != 1 || c[0].Params["text"] != "ru:answer.ok" {
			t.Fatalf("answers = %+v", c)
		}
	})

	t.Run("commit failed: by call", func(t *testing.T) {
		f := newFixture(t, func(o *IntakeOptions) { o.Turns = failingCommits{o.Turns.(*redisstore.Store)} })
		f.steps.fn = silentPress
		code, body := serveUpdate(t, f.in, pressUpdate(f.id(), chat, 1, menuPress))
		if code != 200 || body != "" {
			t.Fatalf("press: %d %q", code, body)
		}
		if n := answersByCall(f.srv); n != 1 {
			t.Fatalf("answers by call = %d, want 1", n)
		}
	})

	t.Run("update to be retried: by call, no 200", func(t *testing.T) {
		f := newFixture(t, nil)
		f.steps.fn = silentPress
		f.srv.FailNext("sendMessage", 2, 502, 0) // both attempts fail: Telegram must retry
		code, body := serveUpdate(t, f.in, pressUpdate(f.id(), chat, 1, menuPress))
		if code != http.StatusInternalServerError || strings.Contains(body, "answerCallbackQuery") {
			t.Fatalf("press: %d %q", code, body)
		}
		if n := answersByCall(f.srv); n != 1 {
			t.Fatalf("answers by call = %d, want 1", n)
		}
	})

	t.Run("panic: by call", func(t *testing.T) {
		f := newFixture(t, nil)
		f.steps.fn = func(context.Context, int64, flows.State, flows.Event) (flows.State, []flows.Effect, error) {
			panic("boom")
		}
		code, body := serveUpdate(t, f.in, pressUpdate(f.id(), chat, 1, menuPress))
		if code != 200 || body != "" {
			t.Fatalf("press: %d %q", code, body)
		}
		if n := answersByCall(f.srv); n != 1 {
			t.Fatalf("answers by call = %d, want 1", n)
		}
	})

	t.Run("polling: by call", func(t *testing.T) {
		f := newFixture(t, nil)
		f.steps.fn = silentPress
		if err := f.in.Handle(testCtx(t), pressUpdate(f.id(), chat, 1, menuPress)); err != nil {
			t.Fatal(err)
		}
		if n := answersByCall(f.srv); n != 1 {
			t.Fatalf("answers by call = %d, want 1", n)
		}
	})

	t.Run("inline message: rides at once", func(t *testing.T) {
		f := newFixture(t, nil)
		upd := &models.Update{ID: f.id(), CallbackQuery: &models.CallbackQuery{ID: "inl", From: models.User{ID: chat}, Data: "x"}}
		code, body := serveUpdate(t, f.in, upd)
		if code != 200 || body != wantRide("inl") || answersByCall(f.srv) != 0 {
			t.Fatalf("press: %d %q, %d calls", code, body, answersByCall(f.srv))
		}
	})
}

// TestTelegramtestRunsWebhookAnswer: the fake Bot API carries out a call in a webhook answer,
// as Telegram does, so end-to-end tests see the answer wherever the bot sends it.
func TestTelegramtestRunsWebhookAnswer(t *testing.T) {
	f := newFixture(t, nil)
	f.steps.fn = silentPress
	ctx := testCtx(t)
	srv := httptest.NewServer(NewWebhook(f.in, "sekret", 0, quiet))
	defer srv.Close()
	if _, err := f.send.Bot().SetWebhook(ctx, &tgbot.SetWebhookParams{URL: srv.URL, SecretToken: "sekret"}); err != nil {
		t.Fatal(err)
	}
	press := pressUpdate(f.id(), 8102, 1, menuPress)
	if status, err := f.srv.PushWebhook(ctx, *press); err != nil || status != 200 {
		t.Fatalf("push = %d %v", status, err)
	}
	c := f.srv.CallsOf("answerCallbackQuery")
	if len(c) != 1 || !c[0].InWebhookAnswer || c[0].Params["callback_query_id"] != press.CallbackQuery.ID {
		t.Fatalf("answers = %+v", c)
	}
}
