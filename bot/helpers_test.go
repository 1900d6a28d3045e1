package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/flows"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// redisDB is the Redis database number assigned to package bot's tests.
const redisDB = 2

// openStore opens the real Redis (DB 2, or KEZEKBOT_TEST_REDIS_URL's server) under a random
// key prefix, and deletes that prefix's keys afterwards.
func openStore(tb testing.TB) *redisstore.Store {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "kzbot:" + hex.EncodeToString(b[:]) + ":"
	s, err := redisstore.Open(context.Background(), redisstore.TestURL(redisDB), redisstore.Options{Prefix: prefix})
	if err != nil {
		tb.Fatalf("open redis: %v (set %s)", err, redisstore.TestURLEnv)
	}
	tb.Cleanup(func() {
		ctx := context.Background()
		c := s.Client()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		_ = s.Close()
	})
	return s
}

// stepCall is one recorded Step.
type stepCall struct {
	chat int64
	st   flows.State
	ev   flows.Event
}

// fakeStepper records steps and answers with fn, or with a default dialog: a Press gets an
// Answer and an edit, everything else a new message.
type fakeStepper struct {
	mu    sync.Mutex
	calls []stepCall
	fn    func(ctx context.Context, chat int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error)
}

func (f *fakeStepper) Step(ctx context.Context, chat int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error) {
	f.mu.Lock()
	f.calls = append(f.calls, stepCall{chat, st, ev})
	f.mu.Unlock()
	if f.fn != nil {
		return f.fn(ctx, chat, st, ev)
	}
	return defaultStep(chat, st, ev)
}

func defaultStep(_ int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error) {
	st.Rev++
	st.Lang = flows.Russian
	switch ev := ev.(type) {
	case flows.Press:
		return st, []flows.Effect{flows.Answer{Key: "answer.ok"}, flows.Show{Screen: flows.Screen{Kind: flows.ScreenMenu, Rev: st.Rev}}}, nil
	case flows.BadPress:
		return st, []flows.Effect{flows.Answer{Key: "notice.stale"}}, nil
	case flows.Text:
		st.Reason = ev.Text
	}
	return st, []flows.Effect{flows.Show{Screen: flows.Screen{Kind: flows.ScreenWelcome, Rev: st.Rev}, New: true}}, nil
}

func (f *fakeStepper) recorded() []stepCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]stepCall(nil), f.calls...)
}

type fakeRenderer struct{}

func (fakeRenderer) Screen(s flows.Screen) Message {
	kb := &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{
		{Text: "Menu", CallbackData: flows.EncodeCallback(flows.Button{Action: flows.ActMenu}, s.Rev)},
	}}}
	return Message{Text: fmt.Sprintf("%s r%d %s", s.Kind, s.Rev, s.Notice), Keyboard: kb}
}

func (fakeRenderer) Text(lang flows.Lang, key string, _ map[string]any) string {
	return string(lang) + ":" + key
}

// fixture is an Intake with a fake Bot API, real Redis and a fake dialog.
type fixture struct {
	srv       *telegramtest.Server
	store     *redisstore.Store
	steps     *fakeStepper
	send      *Sender
	in        *Intake
	mu        sync.Mutex
	unreached []int64
	nextUpd   int64
}

func newFixture(tb testing.TB, tweak func(*IntakeOptions)) *fixture {
	tb.Helper()
	f := &fixture{srv: telegramtest.New(), store: openStore(tb), steps: &fakeStepper{}, nextUpd: 1000}
	tb.Cleanup(f.srv.Close)
	onUnr := func(chat int64, _ string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.unreached = append(f.unreached, chat)
	}
	s, err := NewSender(testToken, SenderOptions{APIURL: f.srv.URL, Log: quiet, OnUnreachable: onUnr, MaxAttempts: 2})
	if err != nil {
		tb.Fatal(err)
	}
	s.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	f.send = s
	o := IntakeOptions{Steps: f.steps, Render: fakeRenderer{}, Turns: f.store, Send: s, OnUnreachable: onUnr, Log: quiet}
	if tweak != nil {
		tweak(&o)
	}
	in, err := NewIntake(o)
	if err != nil {
		tb.Fatal(err)
	}
	f.in = in
	return f
}

func (f *fixture) unreachable() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.unreached...)
}

func (f *fixture) id() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextUpd++
	return f.nextUpd
}

// state reads a chat's committed dialog state.
func (f *fixture) state(tb testing.TB, chat int64) (flows.State, bool) {
	tb.Helper()
	blob, _, err := f.store.State(context.Background(), chat)
	if err != nil {
		tb.Fatal(err)
	}
	if blob == nil {
		return flows.State{}, false
	}
	var st flows.State
	if err := json.Unmarshal(blob, &st); err != nil {
		tb.Fatalf("state of chat %d: %v", chat, err)
	}
	return st, true
}

func textUpdate(id, chat int64, text string) *models.Update {
	return &models.Update{ID: id, Message: &models.Message{
		ID: int(id), Date: 1_700_000_000, Text: text,
		From: &models.User{ID: chat, FirstName: "P", LanguageCode: "kk"},
		Chat: models.Chat{ID: chat, Type: models.ChatTypePrivate},
	}}
}

func pressUpdate(id, chat int64, msgID int, data string) *models.Update {
	return &models.Update{ID: id, CallbackQuery: &models.CallbackQuery{
		ID: fmt.Sprintf("cb%d", id), From: models.User{ID: chat, LanguageCode: "ru"}, Data: data, ChatInstance: "ci",
		Message: models.MaybeInaccessibleMessage{Message: &models.Message{
			ID: msgID, Date: 1_700_000_000, Chat: models.Chat{ID: chat, Type: models.ChatTypePrivate},
		}},
	}}
}
