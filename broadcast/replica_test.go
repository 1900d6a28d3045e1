package broadcast_test

import (
	"context"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/flows/staff"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// TestStaffDialogEndToEnd drives the staff dialog through the replica's effects: count,
// create, attach the progress message, and the broadcast is delivered.
func TestStaffDialogEndToEnd(t *testing.T) {
	t.Parallel()
	const staffUser = 77
	db := pgtest.New(t)
	seedBindings(t, db, 70000, 20)
	srv := telegramtest.New()
	t.Cleanup(srv.Close)
	rc, prefix := newRedis(t)
	rec := newRecorder()
	send := broadcast.TelegramSender{B: newBot(t, srv.URL)}
	r, err := broadcast.NewReplica(db, send, broadcast.NewRedisPacer(rc, prefix, broadcast.Limits{Global: 50}, 0),
		broadcast.Config{Owner: "w", Rate: 50, OnRecord: rec.OnRecord}, broadcast.NotifyConfig{})
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, r.Engine)
	ctx := context.Background()

	st := staff.State{Lang: "ru"}
	var id int64
	feed := func(ev staff.Event) {
		for ev != nil {
			var out []staff.Effect
			st, out = staff.Step(st, ev)
			ev = nil
			for _, eff := range out {
				next, _, err := r.StaffEffect(ctx, staffUser, staffUser, st.Lang, eff)
				if err != nil {
					t.Fatalf("effect %T: %v", eff, err)
				}
				if c, ok := next.(staff.Created); ok {
					id = c.ID
				}
				if next != nil {
					ev = next
				}
			}
		}
	}
	feed(staff.Command{Name: "broadcast"})
	feed(staff.Press{Action: staff.ActAll, Rev: st.Rev})
	if st.Name != staff.STextRU || st.Count != 20 {
		t.Fatalf("after counting: %+v", st)
	}
	feed(staff.Text{Text: "Завтра приём документов до 18:00"})
	feed(staff.Press{Action: staff.ActSkip, Rev: st.Rev})
	feed(staff.Press{Action: staff.ActConfirm, Rev: st.Rev})
	if id == 0 || st.Name != staff.SIdle {
		t.Fatalf("not created: %+v", st)
	}
	b := waitState(t, db, rec, id, postgres.BroadcastDone, 30*time.Second)
	if b.Sent != 20 || b.CreatedBy != staffUser || b.Source != postgres.SourceBot {
		t.Fatalf("broadcast %+v", b)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := srv.WaitFor(wctx, func(c telegramtest.Call) bool { return c.ChatID() == staffUser }); err != nil {
		t.Fatal("no progress message")
	}
}
