package broadcast_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// TestProgressMessage: the staff member's progress message is sent once, edited in place
// while the broadcast runs, and shows the final state.
func TestProgressMessage(t *testing.T) {
	t.Parallel()
	const staffChat = 42
	db := pgtest.New(t)
	ctx := context.Background()
	if _, err := db.AddStaff(ctx, postgres.StaffMember{UserID: staffChat, Role: postgres.RoleOperator, Lang: "kk"}); err != nil {
		t.Fatal(err)
	}
	seedBindings(t, db, 50000, 100)
	b, err := db.CreateBroadcast(ctx, postgres.NewBroadcast{CreatedBy: staffChat, Source: postgres.SourceBot, TextRU: "Привет"})
	if err != nil {
		t.Fatal(err)
	}
	srv := telegramtest.New()
	t.Cleanup(srv.Close)
	rc, prefix := newRedis(t)
	pacer := broadcast.NewRedisPacer(rc, prefix, broadcast.Limits{Global: 40}, 0)
	send := broadcast.TelegramSender{B: newBot(t, srv.URL)}
	p := broadcast.NewProgress(db, send, pacer, time.Second, nil)
	if err := p.Attach(ctx, b.ID, staffChat, "kk"); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	e, err := broadcast.New(db, send, pacer, broadcast.Config{Owner: "w", Rate: 40, OnRecord: rec.OnRecord})
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	pctx, cancel := context.WithCancel(ctx)
	pdone := make(chan error, 1)
	go func() { pdone <- p.Run(pctx) }()
	defer func() { cancel(); <-pdone }()
	waitState(t, db, rec, b.ID, postgres.BroadcastDone, 30*time.Second)

	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	final, err := srv.WaitFor(wctx, func(c telegramtest.Call) bool {
		return c.Method == "editMessageText" && strings.Contains(c.Params["text"], "аяқталды")
	})
	if err != nil {
		t.Fatalf("no final progress edit: %v", err)
	}
	if !strings.Contains(final.Params["text"], "Жіберілді: 100") || final.Params["reply_markup"] != "" {
		t.Errorf("final progress: %q, markup %q", final.Params["text"], final.Params["reply_markup"])
	}
	sends := 0
	for _, c := range srv.CallsOf("sendMessage") {
		if c.ChatID() == staffChat {
			sends++
		}
	}
	if sends != 1 {
		t.Errorf("progress message sent %d times, want once and then edited", sends)
	}
}
