package broadcast_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot/audience"
	"github.com/kezekbot/kezekbot/bot/telegramtest"
	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
	"github.com/redis/go-redis/v9"
)

// Environment of a child engine process started by TestCrashResume.
const (
	envChild     = "KEZEKBOT_BCTEST_CHILD"
	envDB        = "KEZEKBOT_BCTEST_DB"
	envFake      = "KEZEKBOT_BCTEST_FAKE"
	envPrefix    = "KEZEKBOT_BCTEST_PREFIX"
	envBroadcast = "KEZEKBOT_BCTEST_BROADCAST"
	envRate      = "KEZEKBOT_BCTEST_RATE"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child runs one engine until the broadcast is done (exit 0) or it is killed.
func child() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := postgres.Open(ctx, os.Getenv(envDB))
	if err != nil {
		log.Error("child: open db", "err", err)
		return 3
	}
	defer db.Close()
	opt, err := redis.ParseURL(redisstore.TestURL(redisDB))
	if err != nil {
		return 3
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	id, _ := strconv.ParseInt(os.Getenv(envBroadcast), 10, 64)
	rate, _ := strconv.ParseFloat(os.Getenv(envRate), 64)
	var t testing.T // newBot only calls Fatalf on a bad URL
	e, err := broadcast.New(db, broadcast.TelegramSender{B: newBot(&t, os.Getenv(envFake))},
		broadcast.NewRedisPacer(rc, os.Getenv(envPrefix), broadcast.Limits{Global: rate}, 0),
		broadcast.Config{Owner: "crash-worker", Rate: rate, Log: log, OnRecord: func([]postgres.JobResult) {
			b, err := db.GetBroadcast(context.Background(), id)
			if err == nil && b.State == postgres.BroadcastDone {
				cancel()
			}
		}})
	if err != nil {
		log.Error("child: engine", "err", err)
		return 3
	}
	if err := e.Run(ctx); err != nil {
		log.Error("child: run", "err", err)
		return 1
	}
	return 0
}

func startChild(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), envChild+"=1"), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	return cmd
}

func waitChild(t *testing.T, cmd *exec.Cmd, timeout time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("child did not finish within %v", timeout)
		return nil
	}
}

// TestCrashResume kills an engine process with SIGKILL in the middle of a broadcast, starts
// another under the same worker name, and checks the totals: every recipient got the message,
// the store's counters are exact, and the only duplicates are messages the killed process
// had sent (or had in flight) but not yet recorded. It logs how many that was.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	t.Parallel()
	const (
		n    = 1500
		rate = 300.0
		kill = 500 // successful sends before the kill
	)
	url := pgtest.URL(t)
	db := pgtest.Open(t, url)
	seedBindings(t, db, 100000, n)
	b := createBroadcast(t, db, audience.Audience{})
	// A round trip like Telegram's keeps sends in flight at the moment of the kill.
	srv := telegramtest.New(telegramtest.WithDelay(20 * time.Millisecond))
	t.Cleanup(srv.Close)
	_, prefix := newRedis(t)
	env := []string{envDB + "=" + url, envFake + "=" + srv.URL, envPrefix + "=" + prefix,
		envBroadcast + "=" + strconv.FormatInt(b.ID, 10), envRate + "=" + fmt.Sprint(rate)}

	first := startChild(t, env...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	okSends := 0
	if _, err := srv.WaitFor(ctx, func(c telegramtest.Call) bool {
		if c.Method == "sendMessage" && !c.Failed() {
			okSends++
		}
		return okSends >= kill
	}); err != nil {
		_ = first.Process.Kill()
		t.Fatal(err)
	}
	if err := first.Process.Kill(); err != nil { // SIGKILL: no cleanup runs
		t.Fatal(err)
	}
	_ = waitChild(t, first, 10*time.Second)
	atKill, err := db.GetBroadcast(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The rows the dead process held: the only ones whose outcome is unknown, so the only
	// ones that may be sent twice.
	rows, err := db.Pool().Query(ctx, `SELECT chat_id FROM broadcast_deliveries WHERE broadcast_id = $1 AND state = 'sending'`, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	held := map[int64]bool{}
	var chat int64
	if _, err := pgx.ForEachRow(rows, []any{&chat}, func() error { held[chat] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	sentAtKill := len(srv.CallsOf("sendMessage"))

	second := startChild(t, env...)
	if err := waitChild(t, second, 90*time.Second); err != nil {
		t.Fatalf("second child: %v", err)
	}
	done, err := db.GetBroadcast(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	counts, err := db.DeliveryCounts(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != postgres.BroadcastDone || done.Sent != n || counts["sent"] != n {
		t.Fatalf("after restart: %+v, rows %v", done, counts)
	}
	ok, all := sends(srv)
	if len(ok) != n {
		t.Fatalf("fake served %d chats, want %d", len(ok), n)
	}
	dups := len(all) - n
	t.Logf("at the kill: fake had about %d sends, store had %d recorded, rows held %d; duplicates after restart: %d",
		sentAtKill, atKill.Sent, len(held), dups)
	for chat, k := range ok {
		if k > 1 && !held[chat] {
			t.Errorf("chat %d got %d messages but its row was not in flight at the kill", chat, k)
		}
		if k > 2 {
			t.Errorf("chat %d got %d messages", chat, k)
		}
	}
}
