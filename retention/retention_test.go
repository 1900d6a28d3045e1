package retention_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/retention"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * retention.Day, true},
		{"5y", 5 * retention.Year, true},
		{"36h", 36 * time.Hour, true},
		{"1h", time.Hour, true},
		{"100y", 100 * retention.Year, true},
		{"59m", 0, false}, // under an hour
		{"101y", 0, false},
		{"0d", 0, false},
		{"-3d", 0, false},
		{"d", 0, false},
		{"5", 0, false},
		{"", 0, false},
		{"1.5y", 0, false},
		{"99999999999999999999d", 0, false},
		{"3 d", 0, false},
	}
	for _, tt := range tests {
		got, err := retention.ParsePeriod(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("ParsePeriod(%q): error is not one line: %q", tt.in, err)
		}
	}
}

// FuzzParsePeriod: a setting is outside input; whatever it is, the answer is a period within
// the bounds or a one-line error.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"30d", "5y", "36h", "0d", "-1y", "1e9y", "9223372036854775807d", "1h1m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := retention.ParsePeriod(s)
		if err != nil {
			if d != 0 || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("ParsePeriod(%q) = %v, %q", s, d, err)
			}
			return
		}
		if d < retention.MinPeriod || d > retention.MaxPeriod {
			t.Fatalf("ParsePeriod(%q) = %v, outside [%v, %v]", s, d, retention.MinPeriod, retention.MaxPeriod)
		}
	})
}

// overlapStore is a replica's store that notes how many purges run at once; each purge takes a
// while, so that overlapping ones would be seen.
type overlapStore struct {
	*postgres.DB
	running, most, runs *atomic.Int64
}

func (s overlapStore) Purge(ctx context.Context, c map[string]time.Time, batch int, between func(context.Context) error) ([]postgres.PurgeCount, error) {
	n := s.running.Add(1)
	defer s.running.Add(-1)
	for {
		m := s.most.Load()
		if n <= m || s.most.CompareAndSwap(m, n) {
			break
		}
	}
	s.runs.Add(1)
	time.Sleep(30 * time.Millisecond)
	if err := between(ctx); err != nil {
		return nil, err
	}
	return s.DB.Purge(ctx, c, batch, between)
}

// Two replicas (two pools on one database) purging as often as they can never purge at once.
func TestTwoReplicasNeverPurgeAtOnce(t *testing.T) {
	url := pgtest.URL(t)
	var running, most, runs, busy atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		p := &retention.Purger{
			Store:   overlapStore{pgtest.Open(t, url), &running, &most, &runs},
			Periods: retention.Defaults,
			Owner:   "replica",
		}
		wg.Go(func() {
			for range 20 {
				_, err := p.Once(t.Context(), 0)
				switch {
				case errors.Is(err, retention.ErrBusy):
					busy.Add(1)
				case err != nil:
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("at most %d purges ran at once, want 1", most.Load())
	}
	if runs.Load() == 0 || busy.Load() == 0 {
		t.Fatalf("%d purges ran and %d found the lease busy; the test wants both to happen", runs.Load(), busy.Load())
	}
	t.Logf("%d purges, %d refused as busy", runs.Load(), busy.Load())
}

// With a gap, replicas that try in turn purge once per interval, not once each.
func TestGapMakesOnePurgePerInterval(t *testing.T) {
	url := pgtest.URL(t)
	var running, most, runs atomic.Int64
	var ps []*retention.Purger
	for range 3 {
		ps = append(ps, &retention.Purger{Store: overlapStore{pgtest.Open(t, url), &running, &most, &runs}, Periods: retention.Defaults, Owner: "r"})
	}
	for _, p := range ps {
		if _, err := p.Once(t.Context(), time.Hour); err != nil && !errors.Is(err, retention.ErrBusy) {
			t.Fatal(err)
		}
	}
	if runs.Load() != 1 {
		t.Fatalf("%d replicas purged within one interval, want 1", runs.Load())
	}
}

// Run purges in the background, one log line of counts per run, and stops when its context
// ends.
func TestRunLogsOneLinePerRun(t *testing.T) {
	db := pgtest.New(t)
	if _, err := db.Pool().Exec(t.Context(), `INSERT INTO outbox (kind, iin, created_at, processed_at)
		VALUES ('x', '900101300027', now() - interval '30 days', now() - interval '30 days')`); err != nil {
		t.Fatal(err)
	}
	var buf testenv.SyncBuffer
	p := &retention.Purger{Store: db, Periods: retention.Defaults, Log: slog.New(slog.NewTextHandler(&buf, nil))}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, 20*time.Millisecond) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), "outbox=1") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	line, _, _ := strings.Cut(buf.String(), "\n")
	for _, want := range []string{"purge done", "notifications=0", "outbox=1", "audit_log=0", "took="} {
		if !strings.Contains(line, want) {
			t.Fatalf("first purge line %q lacks %q", line, want)
		}
	}
	if strings.Contains(buf.String(), "900101300027") {
		t.Fatal("the purge logged an IIN")
	}
}
