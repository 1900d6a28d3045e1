package bot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
)

type handlerFunc func(ctx context.Context, upd *models.Update) error

func (f handlerFunc) Handle(ctx context.Context, upd *models.Update) error { return f(ctx, upd) }

func TestWebhookStatus(t *testing.T) {
	const secret = "s3cret_-token"
	var got []int64
	var mu sync.Mutex
	h := NewWebhook(handlerFunc(func(_ context.Context, upd *models.Update) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, upd.ID)
		if upd.ID == 99 {
			return ErrRetry
		}
		return nil
	}), secret, 256, quiet)

	ok := `{"update_id":7,"message":{"message_id":1,"date":1,"chat":{"id":5,"type":"private"},"text":"/start"}}`
	tests := []struct {
		name   string
		method string
		secret string // "-" = no header
		body   string
		want   int
	}{
		{"OK", "POST", secret, ok, 200},
		{"NoSecret", "POST", "-", ok, 401},
		{"WrongSecret", "POST", "s3cret_-tokeN", ok, 401},
		{"SecretPrefix", "POST", "s3cret", ok, 401},
		{"GET", "GET", secret, "", 405},
		{"TooLarge", "POST", secret, `{"update_id":8,"message":{"text":"` + strings.Repeat("x", 300) + `"}}`, 413},
		{"NotJSON", "POST", secret, "update_id=7", 400},
		{"Array", "POST", secret, `[{"update_id":7}]`, 400},
		{"NoUpdateID", "POST", secret, `{"message":{"message_id":1}}`, 400},
		{"ZeroUpdateID", "POST", secret, `{"update_id":0}`, 400},
		{"Null", "POST", secret, `null`, 400},
		{"Empty", "POST", secret, ``, 400},
		{"WrongType", "POST", secret, `{"update_id":"7"}`, 400},
		{"HandlerFails", "POST", secret, `{"update_id":99}`, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/telegram/webhook", strings.NewReader(tt.body))
			if tt.secret != "-" {
				r.Header.Set(SecretHeader, tt.secret)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tt.want, w.Body)
			}
		})
	}
	if len(got) != 2 || got[0] != 7 || got[1] != 99 {
		t.Fatalf("handled = %v, want [7 99]", got)
	}
}

func TestWebhookNoSecretConfigured(t *testing.T) {
	h := NewWebhook(handlerFunc(func(context.Context, *models.Update) error { return nil }), "", 0, quiet)
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"update_id":1}`))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("status = %d", w.Code)
	}
}

// TestWebhookEndToEnd: Telegram (the fake) pushes to the webhook, the Intake handles the
// update against real Redis and replies through the fake.
func TestWebhookEndToEnd(t *testing.T) {
	f := newFixture(t, nil)
	ctx := testCtx(t)
	srv := httptest.NewServer(NewWebhook(f.in, "sekret", 0, quiet))
	defer srv.Close()
	if _, err := f.send.Bot().SetWebhook(ctx, &tgbot.SetWebhookParams{URL: srv.URL + "/hook", SecretToken: "sekret"}); err != nil {
		t.Fatal(err)
	}
	status, err := f.srv.PushWebhook(ctx, *textUpdate(0, 2001, "/start"))
	if err != nil || status != 200 {
		t.Fatalf("push = %d %v", status, err)
	}
	c, err := f.srv.WaitFor(ctx, telegramtest.Method("sendMessage"))
	if err != nil || c.ChatID() != 2001 {
		t.Fatalf("reply = %+v %v", c, err)
	}
	if st, ok := f.state(t, 2001); !ok || st.MsgID != c.MessageID() {
		t.Fatalf("state = %+v %v", st, ok)
	}
}

func FuzzWebhook(f *testing.F) {
	seeds := []string{
		`{"update_id":7,"message":{"message_id":1,"date":1,"chat":{"id":5,"type":"private"},"from":{"id":5,"is_bot":false,"first_name":"A","language_code":"kk"},"text":"/start"}}`,
		`{"update_id":8,"callback_query":{"id":"c","from":{"id":5,"is_bot":false,"first_name":"A"},"chat_instance":"1","data":"1:menu:0:1","message":{"message_id":3,"date":1,"chat":{"id":5,"type":"private"}}}}`,
		`{"update_id":9,"callback_query":{"id":"c","from":{"id":5},"message":{"message_id":3,"date":0,"chat":{"id":5,"type":"private"}}}}`,
		`{"update_id":10,"my_chat_member":{"chat":{"id":5,"type":"private"},"from":{"id":5},"date":1,"old_chat_member":{"status":"member","user":{"id":1}},"new_chat_member":{"status":"kicked","user":{"id":1},"until_date":0}}}`,
		`{"update_id":11,"edited_message":{"message_id":1,"date":1,"chat":{"id":5,"type":"private"},"text":"x"}}`,
		`{"update_id":12,"message":{"message_id":1,"date":1,"chat":{"id":-100,"type":"supergroup"},"sticker":{"file_id":"x"}}}`,
		`{"update_id":-1}`, `{}`, `null`, `[]`, `{"update_id":1e3}`, `{"update_id":9223372036854775808}`,
		`{"update_id":1,"message":{"chat":{"id":"x"}}}`, `{"update_id":1,"my_chat_member":{"new_chat_member":{"status":7}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var routed bool
		h := NewWebhook(handlerFunc(func(_ context.Context, upd *models.Update) error {
			routed = true
			if upd.ID <= 0 {
				t.Fatalf("handler got update_id %d", upd.ID)
			}
			// The routing is part of decoding outside input too: it must not panic.
			in := &Intake{}
			in.classify(upd)
			_ = chatOf(upd)
			return nil
		}), "s", 1<<16, quiet)
		r := httptest.NewRequest("POST", "/", strings.NewReader(string(body)))
		r.Header.Set(SecretHeader, "s")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
			if !routed {
				t.Fatal("200 without handling")
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if routed {
				t.Fatalf("%d after handling", w.Code)
			}
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}
