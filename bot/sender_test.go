package bot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
)

const testToken = "123456:TEST-token"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type unreachable struct {
	chat   int64
	reason string
}

// senderFixture is a Sender against a fresh fake whose sleeps are recorded, not slept.
type senderFixture struct {
	srv    *telegramtest.Server
	s      *Sender
	mu     sync.Mutex
	sleeps []time.Duration
	unr    []unreachable
}

func newSenderFixture(t *testing.T, opts ...telegramtest.Option) *senderFixture {
	t.Helper()
	f := &senderFixture{srv: telegramtest.New(opts...)}
	t.Cleanup(f.srv.Close)
	s, err := NewSender(testToken, SenderOptions{
		APIURL: f.srv.URL,
		Log:    quiet,
		OnUnreachable: func(chat int64, reason string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.unr = append(f.unr, unreachable{chat, reason})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.sleep = func(ctx context.Context, d time.Duration) error {
		f.mu.Lock()
		f.sleeps = append(f.sleeps, d)
		f.mu.Unlock()
		return ctx.Err()
	}
	f.s = s
	return f
}

func (f *senderFixture) slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sleeps)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSenderSendMessage(t *testing.T) {
	kb := &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "A", CallbackData: "1:apps:0:1"}}}}
	tests := []struct {
		name      string
		setup     func(*telegramtest.Server)
		wantErr   error // nil = success
		wantCalls int
		wantSleep []time.Duration // nil = don't check, empty = none
		wantUnr   []unreachable
	}{
		{name: "OK", wantCalls: 1, wantSleep: []time.Duration{}},
		{
			name:      "429ThenOK",
			setup:     func(s *telegramtest.Server) { s.FailNext("sendMessage", 2, 429, 3) },
			wantCalls: 3, wantSleep: []time.Duration{3 * time.Second, 3 * time.Second},
		},
		{
			name:      "429TooLong",
			setup:     func(s *telegramtest.Server) { s.FailNext("sendMessage", 1, 429, 60) },
			wantErr:   tgbot.ErrorTooManyRequests, // checked through errors.As below
			wantCalls: 1, wantSleep: []time.Duration{},
		},
		{
			name:      "429Exhausted",
			setup:     func(s *telegramtest.Server) { s.FailNext("sendMessage", 10, 429, 1) },
			wantErr:   tgbot.ErrorTooManyRequests,
			wantCalls: 4, wantSleep: []time.Duration{time.Second, time.Second, time.Second},
		},
		{
			name:      "Blocked",
			setup:     func(s *telegramtest.Server) { s.Block(42) },
			wantErr:   ErrBlocked,
			wantCalls: 1, wantSleep: []time.Duration{},
			wantUnr: []unreachable{{42, telegramtest.DescBlocked}},
		},
		{
			name:      "ChatNotFound",
			setup:     func(s *telegramtest.Server) { s.ChatNotFound(42) },
			wantErr:   ErrChatNotFound,
			wantCalls: 1, wantSleep: []time.Duration{},
			wantUnr: []unreachable{{42, telegramtest.DescChatNotFound}},
		},
		{
			name:      "5xxThenOK",
			setup:     func(s *telegramtest.Server) { s.FailNext("sendMessage", 2, 502, 0) },
			wantCalls: 3,
		},
		{
			name:      "NetworkThenOK",
			setup:     func(s *telegramtest.Server) { s.DropNext("sendMessage", 1) },
			wantCalls: 2,
		},
		{
			name: "OtherBadRequest",
			setup: func(s *telegramtest.Server) {
				s.FailNextWith("sendMessage", 1, &telegramtest.APIError{Code: 400, Description: "Bad Request: can't parse entities"})
			},
			wantErr:   tgbot.ErrorBadRequest,
			wantCalls: 1, wantSleep: []time.Duration{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSenderFixture(t)
			if tt.setup != nil {
				tt.setup(f.srv)
			}
			id, err := f.s.SendMessage(testCtx(t), 42, Message{Text: "hi", Keyboard: kb})
			switch {
			case tt.wantErr == nil:
				if err != nil || id != 1 {
					t.Fatalf("SendMessage = %d, %v", id, err)
				}
			case tt.wantErr == tgbot.ErrorTooManyRequests:
				var tm *tgbot.TooManyRequestsError
				if !errors.As(err, &tm) {
					t.Fatalf("err = %v, want TooManyRequestsError", err)
				}
			default:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			}
			if tt.wantErr == ErrBlocked || tt.wantErr == ErrChatNotFound {
				var ce *ChatError
				if !errors.As(err, &ce) || ce.ChatID != 42 {
					t.Fatalf("err = %#v, want ChatError for chat 42", err)
				}
			}
			if n := len(f.srv.CallsOf("sendMessage")); n != tt.wantCalls {
				t.Fatalf("sendMessage calls = %d, want %d", n, tt.wantCalls)
			}
			if tt.wantSleep != nil && !slices.Equal(f.slept(), tt.wantSleep) {
				t.Fatalf("sleeps = %v, want %v", f.slept(), tt.wantSleep)
			}
			if !slices.Equal(f.unr, tt.wantUnr) {
				t.Fatalf("OnUnreachable = %v, want %v", f.unr, tt.wantUnr)
			}
		})
	}
}

func TestSenderBackoffGrowsAndCaps(t *testing.T) {
	f := newSenderFixture(t)
	f.s.o.MaxAttempts = 6
	f.srv.FailNext("sendMessage", 5, 500, 0)
	if _, err := f.s.SendMessage(testCtx(t), 1, Message{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	sl := f.slept()
	if len(sl) != 5 {
		t.Fatalf("sleeps = %v", sl)
	}
	base := f.s.o.Backoff
	for i, d := range sl {
		lo := min(base<<i, f.s.o.MaxBackoff)
		if d < lo || d > lo+lo/2 {
			t.Fatalf("sleep %d = %v, want in [%v, %v]", i, d, lo, lo+lo/2)
		}
	}
}

func TestSenderCancelledWhileWaiting(t *testing.T) {
	f := newSenderFixture(t)
	f.s.sleep = sleepCtx
	f.srv.FailNext("sendMessage", 1, 429, 5)
	ctx, cancel := context.WithCancel(testCtx(t))
	go func() {
		// Cancel once the 429 has been answered, i.e. while the Sender waits out retry_after.
		_, _ = f.srv.WaitFor(ctx, telegramtest.Method("sendMessage"))
		cancel()
	}()
	_, err := f.s.SendMessage(ctx, 1, Message{Text: "x"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestSenderEditMessageText(t *testing.T) {
	tests := []struct {
		name     string
		msgID    int
		text     string
		setup    func(*telegramtest.Server)
		wantID   int
		wantErr  error
		wantSend int // sendMessage calls after the first
	}{
		{name: "OK", msgID: 1, text: "edited", wantID: 1},
		{name: "NotModified", msgID: 1, text: "first", wantID: 1},
		{name: "NotFoundFallsBack", msgID: 77, text: "again", wantID: 2, wantSend: 1},
		{
			name: "CantBeEditedFallsBack", msgID: 1, text: "again", wantID: 2, wantSend: 1,
			setup: func(s *telegramtest.Server) {
				s.FailNextWith("editMessageText", 1, &telegramtest.APIError{Code: 400, Description: "Bad Request: message can't be edited"})
			},
		},
		{name: "Blocked", msgID: 1, text: "x", setup: func(s *telegramtest.Server) { s.Block(9) }, wantErr: ErrBlocked},
		{
			name: "429ThenOK", msgID: 1, text: "edited", wantID: 1,
			setup: func(s *telegramtest.Server) { s.FailNext("editMessageText", 1, 429, 1) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSenderFixture(t)
			ctx := testCtx(t)
			if _, err := f.s.SendMessage(ctx, 9, Message{Text: "first"}); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(f.srv)
			}
			id, err := f.s.EditMessageText(ctx, 9, tt.msgID, Message{Text: tt.text})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || id != tt.wantID {
				t.Fatalf("EditMessageText = %d, %v; want %d", id, err, tt.wantID)
			}
			if n := len(f.srv.CallsOf("sendMessage")) - 1; n != tt.wantSend {
				t.Fatalf("extra sends = %d, want %d", n, tt.wantSend)
			}
			if text, _ := f.srv.MessageText(9, id); text != tt.text {
				t.Fatalf("message %d shows %q, want %q", id, text, tt.text)
			}
		})
	}
}

func TestSenderAnswerCallbackQuery(t *testing.T) {
	f := newSenderFixture(t)
	ctx := testCtx(t)
	if err := f.s.AnswerCallbackQuery(ctx, "q1", "done", true); err != nil {
		t.Fatal(err)
	}
	c := f.srv.CallsOf("answerCallbackQuery")[0]
	if c.Params["callback_query_id"] != "q1" || c.Params["text"] != "done" || c.Params["show_alert"] != "true" {
		t.Fatalf("params = %v", c.Params)
	}
	f.srv.FailNextWith("answerCallbackQuery", 1, &telegramtest.APIError{Code: 400, Description: telegramtest.DescQueryTooOld})
	if err := f.s.AnswerCallbackQuery(ctx, "q2", "", false); err != nil {
		t.Fatalf("too old: %v, want nil", err)
	}
	f.srv.FailNext("answerCallbackQuery", 1, 401, 0)
	if err := f.s.AnswerCallbackQuery(ctx, "q3", "", false); err == nil {
		t.Fatal("401 answered as success")
	}
}

func TestSenderGetUpdates(t *testing.T) {
	f := newSenderFixture(t)
	ctx := testCtx(t)
	f.srv.EnqueueUpdate(models.Update{Message: &models.Message{ID: 1, Date: 1, Chat: models.Chat{ID: 3, Type: "private"}, Text: "hi"}})
	got, err := f.s.GetUpdates(ctx, 0, 100, 5*time.Second, []string{"message"})
	if err != nil || len(got) != 1 || got[0].Message.Text != "hi" {
		t.Fatalf("GetUpdates = %+v, %v", got, err)
	}
	c := f.srv.CallsOf("getUpdates")[0]
	if c.Params["timeout"] != "5" || c.Params["allowed_updates"] != `["message"]` {
		t.Fatalf("params = %v", c.Params)
	}
	f.srv.FailNext("getUpdates", 1, 429, 7)
	var tm *tgbot.TooManyRequestsError
	if _, err := f.s.GetUpdates(ctx, 2, 100, 0, nil); !errors.As(err, &tm) || tm.RetryAfter != 7 {
		t.Fatalf("429: %v", err)
	}
	f.srv.FailNext("getUpdates", 1, 502, 0)
	if _, err := f.s.GetUpdates(ctx, 2, 100, 0, nil); !isTransient(err) {
		t.Fatalf("502 not transient: %v", err)
	}
	if _, err := f.s.Bot().SetWebhook(ctx, &tgbot.SetWebhookParams{URL: "https://example.org/hook"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.GetUpdates(ctx, 2, 100, 0, nil); !errors.Is(err, tgbot.ErrorConflict) {
		t.Fatalf("webhook set: %v, want ErrorConflict", err)
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{errors.New("error response from telegram for method sendMessage, 502 Bad Gateway"), 502},
		{errors.New("x: error response from telegram for method sendMessage, 500 Internal Server Error"), 500},
		{errors.New("error response from telegram for method sendMessage, 4"), 4},
		{errors.New("error response from telegram for method sendMessage"), 0},
		{&apiError{Code: 503}, 503},
		{errors.New("nothing"), 0},
	}
	for _, tt := range tests {
		if got := statusOf(tt.err); got != tt.want {
			t.Errorf("statusOf(%q) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
