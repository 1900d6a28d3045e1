package broadcast_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/broadcast"
	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// downStore is a NotifyStore whose database is down until up is set.
type downStore struct{ up, tries atomic.Int32 }

func (s *downStore) ConsumeOutbox(context.Context, int, func(postgres.NotifyContext) postgres.NotifyOutput) (int, error) {
	s.tries.Add(1)
	if s.up.Load() == 0 {
		return 0, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return 0, nil
}

func (s *downStore) ScheduleReminders(context.Context, time.Duration) (int, error) {
	s.tries.Add(1)
	if s.up.Load() == 0 {
		return 0, errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	}
	return 0, nil
}

// TestNotifierQuietOutage: while PostgreSQL is down the notifier logs the outage once (not an
// ERROR per poll), backs off instead of polling every 10 ms, and logs once when it is back.
func TestNotifierQuietOutage(t *testing.T) {
	t.Parallel()
	var out testenv.SyncBuffer
	s := &downStore{}
	n := broadcast.NewNotifier(s, broadcast.NotifyConfig{Poll: 10 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&out, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	time.Sleep(1500 * time.Millisecond)
	tries := s.tries.Load()
	s.up.Store(1)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "dependency back") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	log := out.String()
	if c := strings.Count(log, "level=ERROR"); c != 1 {
		t.Errorf("%d ERROR lines during a 1.5 s outage, want 1:\n%s", c, log)
	}
	if !strings.Contains(log, "dependency back") {
		t.Errorf("no line saying the database is back:\n%s", log)
	}
	// Polling every 10 ms would be 150 tries; the backoff (250 ms doubling) makes it a handful.
	if tries < 2 || tries > 10 {
		t.Errorf("%d tries in 1.5 s of outage, want a backoff", tries)
	}
}
