package broadcast_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/audience"
	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

func createBroadcast(t testing.TB, db *postgres.DB, a audience.Audience) postgres.Broadcast {
	t.Helper()
	b, err := db.CreateBroadcast(context.Background(), postgres.NewBroadcast{
		Source: postgres.SourceCLI, Audience: a, TextKK: "Сәлем", TextRU: "Привет",
	})
	if err != nil {
		t.Fatalf("create broadcast: %v", err)
	}
	return b
}

// TestBroadcastPacedAndClassified sends a broadcast through a fake Bot API that limits the
// rate like Telegram and fails in every way we classify. Every recipient must end sent or
// classified, nobody gets two messages, and after the first 429 the fake never sees more
// than the configured rate in any second.
func TestBroadcastPacedAndClassified(t *testing.T) {
	t.Parallel()
	const (
		n     = 240
		rate  = 40.0
		first = int64(1000)
	)
	db := pgtest.New(t)
	seedBindings(t, db, first, n)
	ctx := context.Background()

	// Marked before the broadcast: not even enqueued.
	if err := db.MarkUnreachable(ctx, first, "blocked"); err != nil {
		t.Fatal(err)
	}
	b := createBroadcast(t, db, audience.Audience{})
	if b.Total != n-1 {
		t.Fatalf("total = %d, want %d (unreachable chat left out)", b.Total, n-1)
	}
	// Marked after enqueueing (a my_chat_member update): skipped without a send.
	if err := db.MarkUnreachable(ctx, first+1, "kicked"); err != nil {
		t.Fatal(err)
	}

	srv := telegramtest.New(telegramtest.WithRateLimit(rate, 1))
	t.Cleanup(srv.Close)
	blocked := []int64{first + 10, first + 11, first + 12, first + 13, first + 14}
	missing := []int64{first + 20, first + 21, first + 22}
	for _, c := range blocked {
		srv.Block(c)
	}
	for _, c := range missing {
		srv.ChatNotFound(c)
	}
	// The first call is flooded, like a bot that just started a broadcast on top of other
	// traffic; then two dropped connections and two server errors, all transient.
	srv.FailNext("sendMessage", 1, http.StatusTooManyRequests, 1)
	srv.DropNext("sendMessage", 2)
	srv.FailNext("sendMessage", 2, http.StatusInternalServerError, 0)

	rc, prefix := newRedis(t)
	pacer := broadcast.NewRedisPacer(rc, prefix, broadcast.Limits{Global: rate, Margin: testMargin}, 0)
	rec := newRecorder()
	e, err := broadcast.New(db, broadcast.TelegramSender{B: newBot(t, srv.URL)}, pacer, broadcast.Config{
		Owner: "w1", Rate: rate, BackoffBase: 50 * time.Millisecond, Lease: 10 * time.Second, OnRecord: rec.OnRecord,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := startEngine(t, e)
	done := waitState(t, db, rec, b.ID, postgres.BroadcastDone, 60*time.Second)
	stop()

	wantBlocked := 1 + len(blocked) + len(missing)
	if done.Sent != n-1-wantBlocked || done.Blocked != wantBlocked || done.Failed != 0 {
		t.Errorf("counters sent/blocked/failed = %d/%d/%d, want %d/%d/0", done.Sent, done.Blocked, done.Failed, n-1-wantBlocked, wantBlocked)
	}
	counts, err := db.DeliveryCounts(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if counts["sent"] != done.Sent || counts["blocked"] != done.Blocked || counts["pending"]+counts["sending"] != 0 {
		t.Errorf("rows %v disagree with counters %+v", counts, done)
	}
	for _, c := range append(append([]int64{first + 1}, blocked...), missing...) {
		if u, err := db.Unreachable(ctx, c); err != nil || !u {
			t.Errorf("chat %d unreachable = %v, %v; want true", c, u, err)
		}
	}

	ok, all := sends(srv)
	for chat, k := range ok {
		if k != 1 {
			t.Errorf("chat %d got %d messages", chat, k)
		}
	}
	if len(ok) != done.Sent {
		t.Errorf("fake saw %d chats served, store says %d sent", len(ok), done.Sent)
	}
	for _, c := range all {
		if c.ChatID() == first+1 || c.ChatID() == first {
			t.Errorf("unreachable chat %d was sent to", c.ChatID())
		}
	}
	var first429 time.Time
	for _, c := range all {
		if e := c.Err(); e != nil && e.Code == http.StatusTooManyRequests {
			first429 = c.At
			break
		}
	}
	if first429.IsZero() {
		t.Fatal("no 429 seen; the test did not exercise the pause")
	}
	if m := maxInWindow(all, first429, time.Second); m > int(rate) {
		dumpDensest(t, all, time.Second)
		t.Errorf("fake saw %d sendMessage calls in one second after the first 429, limit %v", m, rate)
	}
	if v := srv.Violations(); v != 0 {
		t.Errorf("fake rate limit answered 429 %d times on its own", v)
	}
}

// TestStopResume stops a broadcast midway: nothing more is claimed, what was held goes back
// to pending, and resuming finishes it with no duplicates.
func TestStopResume(t *testing.T) {
	t.Parallel()
	const n, rate = 150, 50.0
	db := pgtest.New(t)
	seedBindings(t, db, 5000, n)
	b := createBroadcast(t, db, audience.Audience{})
	srv := telegramtest.New()
	t.Cleanup(srv.Close)
	rc, prefix := newRedis(t)
	rec := newRecorder()
	e, err := broadcast.New(db, broadcast.TelegramSender{B: newBot(t, srv.URL)},
		broadcast.NewRedisPacer(rc, prefix, broadcast.Limits{Global: rate, Margin: testMargin}, 0),
		broadcast.Config{Owner: "w1", Rate: rate, OnRecord: rec.OnRecord, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.WaitFor(ctx, func(c telegramtest.Call) bool { return c.Seq >= 30 }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.StopBroadcast(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	// Once every held row is back to pending the engine is idle for this broadcast.
	var counts map[int]int
	_ = counts
	for {
		c, err := db.DeliveryCounts(ctx, b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c["sending"] == 0 {
			break
		}
		select {
		case <-rec.ch:
		case <-ctx.Done():
			t.Fatalf("rows still held after stop: %v", c)
		}
	}
	stopped, err := db.GetBroadcast(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	callsAtStop := len(srv.CallsOf("sendMessage"))
	if stopped.State != postgres.BroadcastStopped || stopped.Sent != callsAtStop || stopped.Remaining() == 0 {
		t.Fatalf("after stop: %+v, fake saw %d", stopped, callsAtStop)
	}
	if _, err := db.ResumeBroadcast(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	e.Kick()
	done := waitState(t, db, rec, b.ID, postgres.BroadcastDone, 30*time.Second)
	ok, _ := sends(srv)
	if done.Sent != n || len(ok) != n {
		t.Fatalf("sent %d, fake served %d chats, want %d", done.Sent, len(ok), n)
	}
	for chat, k := range ok {
		if k != 1 {
			t.Errorf("chat %d got %d messages", chat, k)
		}
	}
}

// TestGracefulRestart cancels the engine mid-broadcast and starts a new one under the same
// name: a clean stop records every send, so nothing is sent twice.
func TestGracefulRestart(t *testing.T) {
	t.Parallel()
	const n, rate = 150, 60.0
	db := pgtest.New(t)
	seedBindings(t, db, 9000, n)
	b := createBroadcast(t, db, audience.Audience{})
	srv := telegramtest.New(telegramtest.WithDelay(20 * time.Millisecond))
	t.Cleanup(srv.Close)
	rc, prefix := newRedis(t)
	rec := newRecorder()
	newEngine := func() *broadcast.Engine {
		e, err := broadcast.New(db, broadcast.TelegramSender{B: newBot(t, srv.URL)},
			broadcast.NewRedisPacer(rc, prefix, broadcast.Limits{Global: rate, Margin: testMargin}, 0),
			broadcast.Config{Owner: "same-name", Rate: rate, OnRecord: rec.OnRecord})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	stop := startEngine(t, newEngine())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.WaitFor(ctx, func(c telegramtest.Call) bool { return c.Seq >= 40 }); err != nil {
		t.Fatal(err)
	}
	stop()
	mid, err := db.GetBroadcast(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := db.DeliveryCounts(ctx, b.ID); c["sending"] != 0 || mid.Sent != len(srv.CallsOf("sendMessage")) {
		t.Fatalf("after a clean stop: rows %v, counters %+v, fake saw %d", c, mid, len(srv.CallsOf("sendMessage")))
	}
	startEngine(t, newEngine())
	waitState(t, db, rec, b.ID, postgres.BroadcastDone, 30*time.Second)
	ok, all := sends(srv)
	if len(ok) != n || len(all) != n {
		t.Fatalf("fake served %d chats with %d calls, want %d and %d", len(ok), len(all), n, n)
	}
}

// TestReplicas runs three engines on one broadcast: they share the rows without duplicates
// and the rate through Redis.
func TestReplicas(t *testing.T) {
	t.Parallel()
	const n, rate = 300, 60.0
	db := pgtest.New(t)
	seedBindings(t, db, 20000, n)
	b := createBroadcast(t, db, audience.Audience{})
	srv := telegramtest.New(telegramtest.WithRateLimit(rate, 1))
	t.Cleanup(srv.Close)
	rc, prefix := newRedis(t)
	rec := newRecorder()
	for _, name := range []string{"a", "b", "c"} {
		e, err := broadcast.New(db, broadcast.TelegramSender{B: newBot(t, srv.URL)},
			broadcast.NewRedisPacer(rc, prefix, broadcast.Limits{Global: rate, Margin: testMargin}, 0),
			broadcast.Config{Owner: name, Rate: rate, OnRecord: rec.OnRecord})
		if err != nil {
			t.Fatal(err)
		}
		startEngine(t, e)
	}
	done := waitState(t, db, rec, b.ID, postgres.BroadcastDone, 60*time.Second)
	ok, all := sends(srv)
	if done.Sent != n || len(ok) != n || len(all) != n {
		dumpDensest(t, all, time.Second)
		for _, c := range all {
			if c.Failed() {
				t.Logf("failed call %d chat %d at %s: %v", c.Seq, c.ChatID(), c.At.Format("05.000000"), c.Err())
			}
		}
		t.Fatalf("sent %d, fake served %d chats with %d calls; want %d each", done.Sent, len(ok), len(all), n)
	}
	if v := srv.Violations(); v != 0 {
		t.Errorf("three replicas together exceeded the rate: %d 429s", v)
	}
}
