package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/flows"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

func TestIntakeStart(t *testing.T) {
	f := newFixture(t, nil)
	ctx := testCtx(t)
	const chat = 501
	if err := f.in.Handle(ctx, textUpdate(f.id(), chat, "/start@kezek_test_bot deep")); err != nil {
		t.Fatal(err)
	}
	calls := f.steps.recorded()
	if len(calls) != 1 || calls[0].chat != chat || calls[0].ev != (flows.Start{TelegramLang: "kk"}) {
		t.Fatalf("steps = %+v", calls)
	}
	sends := f.srv.CallsOf("sendMessage")
	if len(sends) != 1 || sends[0].ChatID() != chat || sends[0].Params["text"] != "welcome r1 " {
		t.Fatalf("sends = %+v", sends)
	}
	st, ok := f.state(t, chat)
	if !ok || st.MsgID != sends[0].MessageID() || st.Rev != 1 {
		t.Fatalf("state = %+v %v, want MsgID %d", st, ok, sends[0].MessageID())
	}

	// A press edits the live message and answers its callback query.
	upd := pressUpdate(f.id(), chat, st.MsgID, flows.EncodeCallback(flows.Button{Action: flows.ActApps, ID: 2}, 1))
	if err := f.in.Handle(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if ev := f.steps.recorded()[1].ev; ev != (flows.Press{Action: flows.ActApps, ID: 2, Rev: 1, MsgID: st.MsgID}) {
		t.Fatalf("press event = %#v", ev)
	}
	ans := f.srv.CallsOf("answerCallbackQuery")
	if len(ans) != 1 || ans[0].Params["callback_query_id"] != upd.CallbackQuery.ID || ans[0].Params["text"] != "ru:answer.ok" {
		t.Fatalf("answers = %+v", ans)
	}
	edits := f.srv.CallsOf("editMessageText")
	if len(edits) != 1 || edits[0].Params["message_id"] != fmt.Sprint(st.MsgID) || edits[0].Params["text"] != "menu r2 " {
		t.Fatalf("edits = %+v", edits)
	}
	// The answer goes out before the edit, as the dialog ordered.
	if ans[0].Seq > edits[0].Seq {
		t.Fatal("answer after edit")
	}
}

func TestIntakeRoutes(t *testing.T) {
	const chat = 601
	msg := func(mut func(*models.Message)) *models.Update {
		u := textUpdate(0, chat, "")
		mut(u.Message)
		return u
	}
	tests := []struct {
		name  string
		upd   *models.Update
		want  flows.Event // nil = no step
		chat  int64
		calls []string // Bot API methods expected, in order
	}{
		{"Text", textUpdate(0, chat, "hello"), flows.Text{Text: "hello"}, chat, []string{"sendMessage"}},
		{"Command", textUpdate(0, chat, "/lang kk"), flows.Command{Name: "lang", Arg: "kk"}, chat, []string{"sendMessage"}},
		{"Sticker", msg(func(m *models.Message) { m.Sticker = &models.Sticker{FileID: "s"} }), flows.Unsupported{Kind: "sticker"}, chat, []string{"sendMessage"}},
		{"Photo", msg(func(m *models.Message) { m.Photo = []models.PhotoSize{{FileID: "p"}}; m.Caption = "x" }), flows.Unsupported{Kind: "photo"}, chat, []string{"sendMessage"}},
		{"Voice", msg(func(m *models.Message) { m.Voice = &models.Voice{FileID: "v"} }), flows.Unsupported{Kind: "voice"}, chat, []string{"sendMessage"}},
		{"Document", msg(func(m *models.Message) { m.Document = &models.Document{FileID: "d"} }), flows.Unsupported{Kind: "document"}, chat, []string{"sendMessage"}},
		{"Edited", &models.Update{EditedMessage: textUpdate(0, chat, "x").Message}, flows.Unsupported{Kind: "edited_message"}, chat, []string{"sendMessage"}},
		{"BadPress", pressUpdate(0, chat, 5, "1:rocket:0:1"), flows.BadPress{}, chat, []string{"answerCallbackQuery"}},
		{"GroupCommand", func() *models.Update {
			u := textUpdate(0, -100777, "/start@kezek_test_bot")
			u.Message.Chat.Type = models.ChatTypeSupergroup
			return u
		}(), flows.Start{TelegramLang: "kk"}, -100777, []string{"sendMessage"}},
		{"GroupChatter", func() *models.Update {
			u := textUpdate(0, -100777, "hi all")
			u.Message.Chat.Type = models.ChatTypeGroup
			return u
		}(), nil, 0, nil},
		{"ChannelPost", &models.Update{ChannelPost: &models.Message{ID: 1, Chat: models.Chat{ID: -1001, Type: models.ChatTypeChannel}, Text: "/start"}}, nil, 0, nil},
		{"InlineQuery", &models.Update{InlineQuery: &models.InlineQuery{ID: "iq", Query: "x"}}, nil, 0, nil},
		{"InlineCallback", &models.Update{CallbackQuery: &models.CallbackQuery{ID: "cbi", InlineMessageID: "im", Data: "x"}}, nil, 0, []string{"answerCallbackQuery"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			tt.upd.ID = f.id()
			if err := f.in.Handle(testCtx(t), tt.upd); err != nil {
				t.Fatal(err)
			}
			steps := f.steps.recorded()
			if tt.want == nil {
				if len(steps) != 0 {
					t.Fatalf("steps = %+v, want none", steps)
				}
			} else if len(steps) != 1 || !reflect.DeepEqual(steps[0].ev, tt.want) || steps[0].chat != tt.chat {
				t.Fatalf("steps = %+v, want %#v in chat %d", steps, tt.want, tt.chat)
			}
			var methods []string
			for _, c := range f.srv.Calls() {
				methods = append(methods, c.Method)
			}
			if !reflect.DeepEqual(methods, tt.calls) {
				t.Fatalf("calls = %v, want %v", methods, tt.calls)
			}
			if tt.chat < 0 {
				if _, ok := f.state(t, tt.chat); ok {
					t.Fatal("state stored for a group chat")
				}
			}
		})
	}
}

func TestIntakeChatMember(t *testing.T) {
	f := newFixture(t, nil)
	ctx := testCtx(t)
	kicked := &models.Update{ID: f.id(), MyChatMember: &models.ChatMemberUpdated{
		Chat: models.Chat{ID: 701, Type: models.ChatTypePrivate}, From: models.User{ID: 701},
		OldChatMember: models.ChatMember{Type: models.ChatMemberTypeMember, Member: &models.ChatMemberMember{}},
		NewChatMember: models.ChatMember{Type: models.ChatMemberTypeBanned, Banned: &models.ChatMemberBanned{}},
	}}
	if err := f.in.Handle(ctx, kicked); err != nil {
		t.Fatal(err)
	}
	if got := f.unreachable(); !reflect.DeepEqual(got, []int64{701}) {
		t.Fatalf("unreachable = %v", got)
	}
	added := &models.Update{ID: f.id(), MyChatMember: &models.ChatMemberUpdated{
		Chat: models.Chat{ID: -100555, Type: models.ChatTypeSupergroup}, From: models.User{ID: 1, LanguageCode: "kk"},
		OldChatMember: models.ChatMember{Type: models.ChatMemberTypeLeft, Left: &models.ChatMemberLeft{}},
		NewChatMember: models.ChatMember{Type: models.ChatMemberTypeMember, Member: &models.ChatMemberMember{}},
	}}
	if err := f.in.Handle(ctx, added); err != nil {
		t.Fatal(err)
	}
	sends := f.srv.CallsOf("sendMessage")
	if len(f.srv.Calls()) != 1 || len(sends) != 1 || sends[0].ChatID() != -100555 || sends[0].Params["text"] != "group r0 " {
		t.Fatalf("calls = %+v", f.srv.Calls())
	}
	if len(f.steps.recorded()) != 0 {
		t.Fatal("dialog stepped for a membership change")
	}
}

// gate blocks a step until released, and reports when it started.
type gate struct {
	started chan struct{}
	release chan struct{}
}

func newGate() gate { return gate{make(chan struct{}), make(chan struct{})} }

func TestIntakePerChatOrder(t *testing.T) {
	const n = 30
	f := newFixture(t, nil)
	ctx := testCtx(t)
	const chat = 801
	first := newGate()
	var once sync.Once
	f.steps.fn = func(ctx context.Context, c int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error) {
		once.Do(func() {
			close(first.started)
			<-first.release
		})
		return defaultStep(c, st, ev)
	}
	queued := make(chan struct{}, n)
	f.in.lanes.onQueued = func(int64) { queued <- struct{}{} }

	errs := make(chan error, n)
	ids := make([]int64, n)
	for i := range n {
		ids[i] = f.id()
		u := textUpdate(ids[i], chat, fmt.Sprintf("m%02d", i))
		go func() { errs <- f.in.Handle(ctx, u) }()
		// Arrival order is the order updates reach the chat's lane: wait for each before
		// sending the next, so the expected order is known.
		if i == 0 {
			waitCh(t, ctx, first.started)
		} else {
			waitCh(t, ctx, queued)
		}
	}
	close(first.release)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	steps := f.steps.recorded()
	for i, s := range steps {
		if want := (flows.Text{Text: fmt.Sprintf("m%02d", i)}); s.ev != want {
			t.Fatalf("step %d = %#v, want %#v", i, s.ev, want)
		}
		// Each step saw the state the previous one committed.
		if i > 0 && s.st.Reason != fmt.Sprintf("m%02d", i-1) {
			t.Fatalf("step %d saw state %+v", i, s.st)
		}
	}
	if f.in.lanes.active() != 0 {
		t.Fatalf("%d lanes left", f.in.lanes.active())
	}
}

func waitCh(t *testing.T, ctx context.Context, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("timed out")
	}
}

func TestIntakeChatsInParallel(t *testing.T) {
	const bound = 3
	f := newFixture(t, func(o *IntakeOptions) { o.MaxConcurrent = bound })
	ctx := testCtx(t)
	var inFlight, peak atomic.Int32
	started := make(chan int64, 10)
	release := make(chan struct{})
	f.steps.fn = func(ctx context.Context, c int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		started <- c
		<-release
		inFlight.Add(-1)
		return defaultStep(c, st, ev)
	}
	errs := make(chan error, 6)
	for c := range int64(6) {
		u := textUpdate(f.id(), 900+c, "x")
		go func() { errs <- f.in.Handle(ctx, u) }()
	}
	// Three different chats are inside Step at once: none waits for another chat.
	for range bound {
		select {
		case <-started:
		case <-ctx.Done():
			t.Fatal("chats did not run in parallel")
		}
	}
	close(release)
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if p := peak.Load(); p > bound {
		t.Fatalf("peak concurrency %d > bound %d", p, bound)
	}
}

func TestIntakePanic(t *testing.T) {
	f := newFixture(t, nil)
	ctx := testCtx(t)
	const chat = 1001
	f.steps.fn = func(ctx context.Context, c int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error) {
		if p, ok := ev.(flows.Press); ok && p.ID == 13 {
			panic("boom")
		}
		return defaultStep(c, st, ev)
	}
	upd := pressUpdate(f.id(), chat, 1, flows.EncodeCallback(flows.Button{Action: flows.ActOpen, ID: 13}, 1))
	if err := f.in.Handle(ctx, upd); err != nil {
		t.Fatalf("panic returned %v, want nil (poison dropped)", err)
	}
	if ans := f.srv.CallsOf("answerCallbackQuery"); len(ans) != 1 || ans[0].Params["callback_query_id"] != upd.CallbackQuery.ID {
		t.Fatalf("answers after panic = %+v", ans)
	}
	// The turn was aborted: the chat is not locked, the next update runs at once.
	if err := f.in.Handle(ctx, textUpdate(f.id(), chat, "/start")); err != nil {
		t.Fatal(err)
	}
	if len(f.srv.CallsOf("sendMessage")) != 1 {
		t.Fatal("chat stuck after a panic")
	}
}

func TestIntakeDuplicate(t *testing.T) {
	f := newFixture(t, nil)
	ctx := testCtx(t)
	upd := textUpdate(f.id(), 1101, "/start")
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.in.Handle(ctx, upd); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := f.in.Handle(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if n := len(f.steps.recorded()); n != 1 {
		t.Fatalf("steps = %d, want 1", n)
	}
	if n := len(f.srv.CallsOf("sendMessage")); n != 1 {
		t.Fatalf("sends = %d, want 1", n)
	}
}

func TestIntakeEveryCallbackAnswered(t *testing.T) {
	const chat = 1201
	tests := []struct {
		name  string
		data  string
		chat  int64
		setup func(*fixture)
	}{
		{name: "Press", data: flows.EncodeCallback(flows.Button{Action: flows.ActMenu}, 1), chat: chat},
		{name: "Unparsable", data: "\x00garbage", chat: chat},
		{name: "StepErrorNoEffects", data: flows.EncodeCallback(flows.Button{Action: flows.ActMenu}, 1), chat: chat, setup: func(f *fixture) {
			f.steps.fn = func(context.Context, int64, flows.State, flows.Event) (flows.State, []flows.Effect, error) {
				return flows.State{}, nil, errors.New("data down")
			}
		}},
		{name: "ShowOnly", data: flows.EncodeCallback(flows.Button{Action: flows.ActMenu}, 1), chat: chat, setup: func(f *fixture) {
			f.steps.fn = func(context.Context, int64, flows.State, flows.Event) (flows.State, []flows.Effect, error) {
				return flows.State{}, []flows.Effect{flows.Show{Screen: flows.Screen{Kind: flows.ScreenMenu}}}, nil
			}
		}},
		{name: "Panic", data: "x", chat: chat, setup: func(f *fixture) {
			f.steps.fn = func(context.Context, int64, flows.State, flows.Event) (flows.State, []flows.Effect, error) {
				panic("x")
			}
		}},
		{name: "Blocked", data: flows.EncodeCallback(flows.Button{Action: flows.ActMenu}, 1), chat: chat, setup: func(f *fixture) { f.srv.Block(chat) }},
		{name: "AnswerFails", data: flows.EncodeCallback(flows.Button{Action: flows.ActMenu}, 1), chat: chat, setup: func(f *fixture) {
			f.srv.FailNextWith("answerCallbackQuery", 1, &telegramtest.APIError{Code: 400, Description: telegramtest.DescQueryTooOld})
		}},
		{name: "Group", data: flows.EncodeCallback(flows.Button{Action: flows.ActMenu}, 1), chat: -100999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if tt.setup != nil {
				tt.setup(f)
			}
			upd := pressUpdate(f.id(), tt.chat, 3, tt.data)
			if tt.chat < 0 {
				upd.CallbackQuery.Message.Message.Chat.Type = models.ChatTypeSupergroup
			}
			if err := f.in.Handle(testCtx(t), upd); err != nil {
				t.Fatal(err)
			}
			if ans := f.srv.CallsOf("answerCallbackQuery"); len(ans) != 1 || ans[0].Params["callback_query_id"] != upd.CallbackQuery.ID {
				t.Fatalf("answers = %+v, want exactly one for %s", ans, upd.CallbackQuery.ID)
			}
		})
	}
}

func TestIntakeBlockedChatDoesNotBreakOthers(t *testing.T) {
	f := newFixture(t, nil)
	ctx := testCtx(t)
	f.srv.Block(1301)
	var wg sync.WaitGroup
	for _, c := range []int64{1301, 1302, 1303} {
		u := textUpdate(f.id(), c, "/start")
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.in.Handle(ctx, u); err != nil {
				t.Errorf("chat %d: %v", c, err)
			}
		}()
	}
	wg.Wait()
	ok := map[int64]bool{}
	for _, c := range f.srv.CallsOf("sendMessage") {
		ok[c.ChatID()] = !c.Failed()
	}
	if !ok[1302] || !ok[1303] || ok[1301] {
		t.Fatalf("delivered = %v", ok)
	}
	if got := f.unreachable(); !reflect.DeepEqual(got, []int64{1301}) {
		t.Fatalf("unreachable = %v", got)
	}
	// The blocked chat's turn was committed anyway: redelivery would not help.
	if _, ok := f.state(t, 1301); !ok {
		t.Fatal("no state for the blocked chat")
	}
}

func TestIntakeTransientFailureIsRetried(t *testing.T) {
	f := newFixture(t, nil)
	ctx := testCtx(t)
	const chat = 1401
	f.srv.FailNext("sendMessage", 2, 502, 0) // both of the Sender's attempts
	upd := textUpdate(f.id(), chat, "/start")
	if err := f.in.Handle(ctx, upd); !errors.Is(err, ErrRetry) {
		t.Fatalf("err = %v, want ErrRetry", err)
	}
	if _, ok := f.state(t, chat); ok {
		t.Fatal("state committed after a failed reply")
	}
	// Telegram's redelivery is handled: the first attempt neither marked it done nor kept the lock.
	if err := f.in.Handle(ctx, upd); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.state(t, chat); !ok {
		t.Fatal("no state after the redelivery")
	}
}

func TestIntakeBusyChat(t *testing.T) {
	f := newFixture(t, func(o *IntakeOptions) { o.BusyWait = 50 * time.Millisecond })
	ctx := testCtx(t)
	const chat = 1501
	// Another replica holds the chat.
	turn, err := f.store.Begin(ctx, chat, 0)
	if err != nil {
		t.Fatal(err)
	}
	upd := pressUpdate(f.id(), chat, 1, "x")
	if err := f.in.Handle(ctx, upd); !errors.Is(err, ErrChatBusy) {
		t.Fatalf("err = %v, want ErrChatBusy", err)
	}
	if len(f.steps.recorded()) != 0 {
		t.Fatal("stepped without the lock")
	}
	if len(f.srv.CallsOf("answerCallbackQuery")) != 1 {
		t.Fatal("callback not answered")
	}
	if err := f.store.Abort(ctx, chat, 0, turn); err != nil {
		t.Fatal(err)
	}
	if err := f.in.Handle(ctx, upd); err != nil {
		t.Fatalf("after the other replica let go: %v", err)
	}
}

func TestIntakeCorruptState(t *testing.T) {
	f := newFixture(t, nil)
	ctx := testCtx(t)
	const chat = 1601
	turn, err := f.store.Begin(ctx, chat, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.Commit(ctx, chat, 0, turn, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if err := f.in.Handle(ctx, textUpdate(f.id(), chat, "hi")); err != nil {
		t.Fatal(err)
	}
	if st := f.steps.recorded()[0].st; st != (flows.State{}) {
		t.Fatalf("state = %+v, want fresh", st)
	}
	if st, _ := f.state(t, chat); st.Reason != "hi" {
		t.Fatalf("saved state = %+v", st)
	}
}

func TestIntakeEditFallback(t *testing.T) {
	f := newFixture(t, nil)
	ctx := testCtx(t)
	const chat = 1701
	if err := f.in.Handle(ctx, textUpdate(f.id(), chat, "/start")); err != nil {
		t.Fatal(err)
	}
	st, _ := f.state(t, chat)
	// The live message is gone (the parent deleted it): the screen comes as a new message
	// and becomes the live one.
	if _, err := f.send.Bot().DeleteMessage(ctx, &tgbot.DeleteMessageParams{ChatID: chat, MessageID: st.MsgID}); err != nil {
		t.Fatal(err)
	}
	if err := f.in.Handle(ctx, pressUpdate(f.id(), chat, st.MsgID, flows.EncodeCallback(flows.Button{Action: flows.ActMenu}, st.Rev))); err != nil {
		t.Fatal(err)
	}
	st2, _ := f.state(t, chat)
	if st2.MsgID == st.MsgID || st2.MsgID == 0 {
		t.Fatalf("MsgID %d → %d, want a new message", st.MsgID, st2.MsgID)
	}
	if text, ok := f.srv.MessageText(chat, st2.MsgID); !ok || text != "menu r2 " {
		t.Fatalf("live message = %q %v", text, ok)
	}
}

func TestIntakeInject(t *testing.T) {
	f := newFixture(t, nil)
	ctx := testCtx(t)
	ev := flows.Signed{Nonce: "n1", OK: true}
	for range 2 { // no dedupe: both run
		if err := f.in.Inject(ctx, 1801, ev); err != nil {
			t.Fatal(err)
		}
	}
	steps := f.steps.recorded()
	if len(steps) != 2 || steps[0].ev != ev || steps[1].st.Rev != 1 {
		t.Fatalf("steps = %+v", steps)
	}
}

// TestIntakeGroupDedupe: a redelivered group update (same update_id) is handled once, like a
// private one: a command in a supergroup thread, and the bot being added to a group or a
// supergroup. Telegram redelivers whenever a webhook answer is late.
func TestIntakeGroupDedupe(t *testing.T) {
	join := func(chat int64, typ models.ChatType) *models.Update {
		return &models.Update{MyChatMember: &models.ChatMemberUpdated{
			Chat: models.Chat{ID: chat, Type: typ}, From: models.User{ID: 1, LanguageCode: "ru"},
			OldChatMember: models.ChatMember{Type: models.ChatMemberTypeLeft, Left: &models.ChatMemberLeft{}},
			NewChatMember: models.ChatMember{Type: models.ChatMemberTypeMember, Member: &models.ChatMemberMember{}},
		}}
	}
	thread := func() *models.Update {
		u := textUpdate(0, -100888, "/start@kezek_test_bot")
		u.Message.Chat.Type = models.ChatTypeSupergroup
		u.Message.Chat.IsForum = true
		u.Message.MessageThreadID = 7
		return u
	}
	for _, tt := range []struct {
		name string
		upd  *models.Update
	}{
		{"SupergroupThreadCommand", thread()},
		{"JoinGroup", join(-555, models.ChatTypeGroup)},
		{"JoinSupergroup", join(-100556, models.ChatTypeSupergroup)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			ctx := testCtx(t)
			tt.upd.ID = f.id()
			for range 3 {
				if err := f.in.Handle(ctx, tt.upd); err != nil {
					t.Fatal(err)
				}
			}
			if n := len(f.srv.CallsOf("sendMessage")); n != 1 {
				t.Fatalf("sendMessage %d times for one update delivered 3 times", n)
			}
		})
	}
}

// TestIntakeGroupNoticeOnlyOnJoin: only a real join earns the group notice; a promotion of a
// restricted member or a change of rights does not.
func TestIntakeGroupNoticeOnlyOnJoin(t *testing.T) {
	restricted := func(member bool) models.ChatMember {
		return models.ChatMember{Type: models.ChatMemberTypeRestricted, Restricted: &models.ChatMemberRestricted{IsMember: member}}
	}
	member := models.ChatMember{Type: models.ChatMemberTypeMember, Member: &models.ChatMemberMember{}}
	admin := models.ChatMember{Type: models.ChatMemberTypeAdministrator, Administrator: &models.ChatMemberAdministrator{}}
	left := models.ChatMember{Type: models.ChatMemberTypeLeft, Left: &models.ChatMemberLeft{}}
	kicked := models.ChatMember{Type: models.ChatMemberTypeBanned, Banned: &models.ChatMemberBanned{}}
	for _, tt := range []struct {
		name     string
		old, new models.ChatMember
		notice   bool
	}{
		{"LeftToMember", left, member, true},
		{"KickedToAdministrator", kicked, admin, true},
		{"LeftToRestrictedMember", left, restricted(true), true},
		{"RestrictedNonMemberToMember", restricted(false), member, true},
		{"RestrictedMemberToAdministrator", restricted(true), admin, false},
		{"MemberToAdministrator", member, admin, false},
		{"AdministratorToMember", admin, member, false},
		{"MemberToRestrictedMember", member, restricted(true), false},
		{"MemberToLeft", member, left, false},
		{"LeftToRestrictedNonMember", left, restricted(false), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			upd := &models.Update{ID: f.id(), MyChatMember: &models.ChatMemberUpdated{
				Chat: models.Chat{ID: -100600, Type: models.ChatTypeSupergroup}, From: models.User{ID: 1},
				OldChatMember: tt.old, NewChatMember: tt.new,
			}}
			if err := f.in.Handle(testCtx(t), upd); err != nil {
				t.Fatal(err)
			}
			if got := len(f.srv.CallsOf("sendMessage")) == 1; got != tt.notice {
				t.Fatalf("notice sent = %v, want %v", got, tt.notice)
			}
		})
	}
}

// TestIntakeRenewsLease: a turn that runs longer than its chat lease keeps the chat (another
// replica's Begin stays busy) because the intake renews the lease, so the lease can be short
// and a crashed replica stalls a chat only briefly.
func TestIntakeRenewsLease(t *testing.T) {
	// Long enough that a loaded machine's late timer (a renewal is due every lease/3) cannot
	// let the lease lapse by itself; the test sleeps two leases.
	const lease = 600 * time.Millisecond
	var b [6]byte
	_, _ = rand.Read(b[:])
	store, err := redisstore.Open(context.Background(), redisstore.TestURL(redisDB), redisstore.Options{Prefix: "kzbot:" + hex.EncodeToString(b[:]) + ":", LockTTL: lease})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	f := newFixture(t, func(o *IntakeOptions) { o.Turns = store })
	const chat = 1301
	g := newGate()
	f.steps.fn = func(ctx context.Context, c int64, st flows.State, ev flows.Event) (flows.State, []flows.Effect, error) {
		close(g.started)
		<-g.release
		return defaultStep(c, st, ev)
	}
	ctx := testCtx(t)
	done := make(chan error, 1)
	go func() { done <- f.in.Handle(ctx, textUpdate(f.id(), chat, "/start")) }()
	waitCh(t, ctx, g.started)
	time.Sleep(2 * lease) // two leases: without renewal the chat would be free
	if _, err := store.Begin(ctx, chat, 99999); !errors.Is(err, redisstore.ErrBusy) {
		t.Fatalf("another replica's Begin during a long turn: %v, want ErrBusy", err)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st, _, err := store.State(ctx, chat); err != nil || st == nil {
		t.Fatalf("the long turn did not commit: %v", err)
	}
}
