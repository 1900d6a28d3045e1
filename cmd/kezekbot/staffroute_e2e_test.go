package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/flows/staff"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// A staff member broadcasts from the chat, end to end: /broadcast, «all», a Russian text, no
// Kazakh one, confirm; the broadcast row is created and the bound demo parents get the text,
// the staff chat the progress message. A parent's /broadcast is an unknown command.
func TestE2EStaffBroadcast(t *testing.T) {
	e := newE2EEnv(t)
	ctx := context.Background()
	const staffChat, stranger = 9001, 3900
	bound := []int64{3901, 3902}
	for i, chat := range bound {
		lang := []string{"ru", "kk"}[i%2]
		if _, err := e.db.Pool().Exec(ctx, `INSERT INTO telegram_bindings (chat_id, iin, lang, bound_at) VALUES ($1, $2, $3, now())`,
			chat, postgres.DemoParents[i].IIN, lang); err != nil {
			t.Fatalf("bind demo chat %d: %v", chat, err)
		}
	}
	if _, err := e.db.AddStaff(ctx, postgres.StaffMember{UserID: staffChat, Role: postgres.RoleOperator, Lang: "ru"}); err != nil {
		t.Fatal(err)
	}
	e.start()
	// The broadcast engine and the progress drawer, as serve runs them.
	wctx, stopWorkers := context.WithCancel(ctx)
	done := make(chan struct{})
	workers := e.running.app.workers()
	go func() {
		defer close(done)
		errs := make(chan error, len(workers))
		for _, w := range workers {
			go func() { errs <- w(wctx) }()
		}
		for range workers {
			if err := <-errs; err != nil {
				t.Errorf("broadcast worker: %v", err)
			}
		}
	}()
	t.Cleanup(func() { stopWorkers(); <-done })

	// Not staff: /broadcast is just an unknown command, and no staff screen is drawn.
	p := e.chat(stranger, "ru", 0)
	s := p.send("/broadcast")
	p.wantText(s, e.tr("ru", "notice.unknown_command", nil))
	if strings.Contains(s.Text, broadcast.T("ru", "staff.screen.audience")) {
		t.Fatalf("a parent saw the staff screen: %q", s.Text)
	}
	if st := e.state(stranger); st.Staff != "" {
		t.Fatalf("a parent's state has a staff dialog: %q", st.Staff)
	}

	op := e.chat(staffChat, "ru", 0)
	tr := func(key string) string { return broadcast.T("ru", key) }
	// head is a screen text's start, before any placeholder.
	head := func(key string) string { return strings.SplitN(strings.SplitN(tr(key), "{", 2)[0], "\n", 2)[0] }
	s = op.send("/broadcast@KezekBot")
	op.wantText(s, head("staff.screen.audience"))
	for _, row := range s.Buttons {
		for _, b := range row {
			if !strings.HasPrefix(b.CallbackData, staff.Prefix) {
				t.Fatalf("staff screen button %+v is not a staff button", b)
			}
		}
	}
	s = op.press(tr("staff.btn.all"))
	op.wantText(s, head("staff.screen.text_ru"))
	const text = "Завтра приём документов до 18:00 <b>не</b> забудьте"
	s = op.send(text)
	op.wantText(s, head("staff.screen.text_kk"))
	s = op.press(tr("staff.btn.skip"))
	op.wantText(s, tr("staff.audience.all"))
	// The preview is plain text: the staff member's markup is shown as typed.
	if last := s.Shows[len(s.Shows)-1]; !strings.Contains(last.Params["text"], text) || last.Params["parse_mode"] != "" {
		t.Fatalf("preview %q (parse mode %q) does not show the text as typed", last.Params["text"], last.Params["parse_mode"])
	}
	s = op.press(tr("staff.btn.confirm"))
	op.wantText(s, "№")

	list, err := e.db.ListBroadcasts(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("broadcasts %+v, want one", list)
	}
	b := list[0]
	if b.CreatedBy != staffChat || b.Source != postgres.SourceBot || b.TextRU != text || b.TextKK != "" || b.Total != len(bound) || !b.Audience.All() {
		t.Fatalf("broadcast %+v", b)
	}
	if !strings.Contains(s.Text, "№"+strconv.FormatInt(b.ID, 10)) {
		t.Fatalf("started screen %q does not name broadcast %d", s.Text, b.ID)
	}

	wait, cancel := context.WithTimeout(ctx, e2eWait)
	defer cancel()
	for _, chat := range bound {
		if _, err := e.tg.WaitFor(wait, func(c telegramtest.Call) bool {
			return c.Method == "sendMessage" && c.ChatID() == chat && c.Params["text"] == text && !c.Failed()
		}); err != nil {
			t.Fatalf("demo parent chat %d did not get the broadcast: %v", chat, err)
		}
	}
	progress := broadcast.T("ru", "progress.title", "ID", strconv.FormatInt(b.ID, 10))
	if _, err := e.tg.WaitFor(wait, func(c telegramtest.Call) bool {
		return c.Method == "sendMessage" && c.ChatID() == staffChat && strings.Contains(c.Params["text"], progress)
	}); err != nil {
		t.Fatalf("no progress message in the staff chat: %v", err)
	}
	// Nobody else got it: not the parent who typed /broadcast, not the staff member.
	for _, c := range e.tg.CallsOf("sendMessage") {
		if c.Params["text"] == text && c.ChatID() != bound[0] && c.ChatID() != bound[1] {
			t.Fatalf("chat %d got the broadcast", c.ChatID())
		}
	}
	if st := e.state(staffChat); st.Staff == "" || strings.Contains(string(st.Staff), `"n":`) {
		t.Fatalf("staff dialog not finished in the state: %q", st.Staff)
	}

	// A stale staff button (the dialog is over) is answered and changes nothing.
	s = op.pressData(s.MsgID, staff.EncodeCallback(staff.ActConfirm, 0, 1))
	if got := s.Answer.Params["text"]; got != tr("staff.answer.stale") {
		t.Fatalf("stale staff press answered %q", got)
	}
	// A parent pressing a staff button gets the parents' stale answer.
	s = p.pressData(1, staff.EncodeCallback(staff.ActAll, 0, 1))
	p.wantAnswer(s, "answer.stale")
	if list, _ := e.db.ListBroadcasts(ctx, 10); len(list) != 1 {
		t.Fatalf("broadcasts %d, want still one", len(list))
	}
	e.checkAnswered()
	e.checkLogs()
}
