package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/sandbox"
)

func TestSandboxRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	api := telegramtest.New()
	defer api.Close()
	ui := sandbox.New(api.Handler, []sandbox.Persona{{ChatID: 42, Name: "Айгерим", Role: "parent", Lang: "kk"}}, slog.Default())
	done := make(chan error, 1)
	go func() { done <- ui.Run(ctx) }()
	srv := httptest.NewServer(ui)
	defer srv.Close()

	post := func(path string, body any) *http.Response {
		t.Helper()
		b, _ := json.Marshal(body)
		resp, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post("/sandbox/api/send", map[string]any{"chat": 42, "text": "/start"}); r.StatusCode != 200 {
		t.Fatalf("send: %d", r.StatusCode)
	}
	if r := post("/sandbox/api/send", map[string]any{"chat": 7, "text": "hi"}); r.StatusCode != 400 {
		t.Fatalf("unknown chat: %d", r.StatusCode)
	}
	if r := post("/sandbox/api/send", map[string]any{"chat": 42, "text": "  "}); r.StatusCode != 400 {
		t.Fatalf("empty text: %d", r.StatusCode)
	}

	// The bot (here a bare client) reads the update and answers with a keyboard.
	b, err := tgbot.New("1:test", tgbot.WithServerURL(api.URL), tgbot.WithSkipGetMe())
	if err != nil {
		t.Fatal(err)
	}
	if api.Pending() != 1 {
		t.Fatalf("pending = %d", api.Pending())
	}
	msg, err := b.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: 42, Text: "<b>Сәлем</b>", ParseMode: models.ParseModeHTML,
		ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Рус", CallbackData: "1:ru:0:1"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := post("/sandbox/api/press", map[string]any{"chat": 42, "message_id": msg.ID, "data": "1:ru:0:1"}); r.StatusCode != 200 {
		t.Fatalf("press: %d", r.StatusCode)
	}
	if r := post("/sandbox/api/press", map[string]any{"chat": 42, "message_id": msg.ID, "data": strings.Repeat("x", 65)}); r.StatusCode != 400 {
		t.Fatalf("long data: %d", r.StatusCode)
	}

	resp, err := http.Get(srv.URL + "/sandbox/api/events?chat=42&since=0")
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Events []sandbox.Event }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got.Events) < 1 || got.Events[0].Kind != "user" {
		t.Fatalf("events = %+v", got.Events)
	}
	// The bot's message arrives through Run; long-poll until it does.
	deadline := time.Now().Add(5 * time.Second)
	for !hasKind(got.Events, "message") && time.Now().Before(deadline) {
		resp, err := http.Get(srv.URL + "/sandbox/api/events?chat=42&since=" + itoa(got.Events[len(got.Events)-1].Seq))
		if err != nil {
			t.Fatal(err)
		}
		var more struct{ Events []sandbox.Event }
		_ = json.NewDecoder(resp.Body).Decode(&more)
		resp.Body.Close()
		got.Events = append(got.Events, more.Events...)
	}
	if !hasKind(got.Events, "message") {
		t.Fatalf("bot message not in transcript: %+v", got.Events)
	}
	resp, err = http.Get(srv.URL + "/")
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("page: %v %v", err, resp)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func hasKind(evs []sandbox.Event, k string) bool {
	for _, e := range evs {
		if e.Kind == k {
			return true
		}
	}
	return false
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
