package sync_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/citytest"
	citysync "github.com/kezekbot/kezekbot/city/sync"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// fakeFeed serves changes from a slice; the cursor is the index of the next change. fail
// makes the next calls fail with *city.Unavailable.
type fakeFeed struct {
	mu      gosync.Mutex
	changes []city.Change
	fail    int
	calls   atomic.Int64
}

func (f *fakeFeed) Changes(_ context.Context, after string, limit int) (city.ChangePage, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return city.ChangePage{}, &city.Unavailable{RetryAfter: time.Millisecond, Err: errors.New("503 from the city")}
	}
	from := 0
	if after != "" {
		from, _ = strconv.Atoi(after)
	}
	to := min(from+limit, len(f.changes))
	return city.ChangePage{Changes: f.changes[from:to], Next: strconv.Itoa(to)}, nil
}

// feedOf makes n changes of n/2 applications: each created, then issued a referral or moved
// in the queue; every fifth change is delivered twice.
func feedOf(n int) []city.Change {
	var out []city.Change
	for i := 0; len(out) < n; i++ {
		a := citytest.Snapshot(2*i+1, 1) // odd indexes: queued
		out = append(out, citytest.Change("c"+strconv.Itoa(len(out)), city.ChangeApplicationCreated, a))
		b := citytest.Snapshot(2*i+1, 2)
		b.QueueNumber++
		out = append(out, citytest.Change("c"+strconv.Itoa(len(out)), city.ChangeApplicationChanged, b))
		if i%5 == 0 {
			out = append(out, out[len(out)-1])
		}
	}
	return out[:n]
}

func TestPullerTwoReplicas(t *testing.T) {
	db := pgtest.New(t)
	feed := &fakeFeed{changes: feedOf(400), fail: 3}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs strings.Builder
	var logMu gosync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelInfo}))
	var wg gosync.WaitGroup
	for range 2 {
		p := citysync.NewPuller(db, feed, citysync.PullConfig{Limit: 37, Interval: 5 * time.Millisecond,
			MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, Log: log})
		wg.Go(func() {
			if err := p.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := db.Cursor(ctx, citysync.DefaultSource)
		if err != nil {
			t.Fatal(err)
		}
		if c == "400" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cursor at %q after 20s", c)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	var ids, outbox int
	if err := db.Pool().QueryRow(context.Background(), `SELECT (SELECT count(*) FROM city_changes), (SELECT count(*) FROM outbox)`).Scan(&ids, &outbox); err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for _, c := range feed.changes {
		distinct[c.ID] = true
	}
	if ids != len(distinct) {
		t.Fatalf("%d change ids recorded, want %d", ids, len(distinct))
	}
	// Each application_changed moved the queue number once: one queue_changed each, even
	// with two replicas and redeliveries.
	if want := len(distinct) / 2; outbox != want {
		t.Fatalf("%d outbox rows, want %d", outbox, want)
	}
	l := logs.String()
	// Three failures in all, shared by two replicas: each outage a replica sees is logged once
	// (a replica may see two short ones), never once per attempt.
	if n := strings.Count(l, "dependency down"); n < 1 || n > 3 {
		t.Fatalf("outage logged %d times:\n%s", n, l)
	}
	if strings.Count(l, "dependency back") != strings.Count(l, "dependency down") {
		t.Fatalf("recovery not logged once per outage:\n%s", l)
	}
}

// The puller waits at least the city's Retry-After and stops on cancel while waiting.
func TestPullerBackoff(t *testing.T) {
	feed := &fakeFeed{fail: 1 << 30}
	var waits []time.Duration
	ctx, cancel := context.WithCancel(context.Background())
	p := citysync.NewPuller(staticStore{}, feed, citysync.PullConfig{MinBackoff: time.Second, MaxBackoff: 8 * time.Second,
		Sleep: func(ctx context.Context, d time.Duration) error {
			waits = append(waits, d)
			if len(waits) == 6 {
				cancel()
				return ctx.Err()
			}
			return nil
		}})
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for i, d := range waits {
		ceil := min(time.Second<<i, 8*time.Second)
		if d < ceil/2 || d > ceil {
			t.Fatalf("wait %d = %v, want within [%v, %v]", i, d, ceil/2, ceil)
		}
	}
	feed.fail = 1 << 30
	retry := &retryFeed{after: 30 * time.Second}
	waits = nil
	ctx, cancel = context.WithCancel(context.Background())
	p = citysync.NewPuller(staticStore{}, retry, citysync.PullConfig{Sleep: func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		cancel()
		return ctx.Err()
	}})
	_ = p.Run(ctx)
	if len(waits) != 1 || waits[0] != 30*time.Second {
		t.Fatalf("Retry-After not honoured: %v", waits)
	}
}

type retryFeed struct{ after time.Duration }

func (r *retryFeed) Changes(context.Context, string, int) (city.ChangePage, error) {
	return city.ChangePage{}, &city.Unavailable{RetryAfter: r.after, Err: errors.New("429")}
}

type staticStore struct{}

func (staticStore) Cursor(context.Context, string) (string, error) { return "", nil }
func (staticStore) ApplyPage(context.Context, string, string, city.ChangePage) (city.Applied, error) {
	return city.Applied{}, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// One replica, a long outage: one warning when it starts, one line when it ends.
func TestPullerLogsOutageOnce(t *testing.T) {
	feed := &fakeFeed{changes: feedOf(10), fail: 20}
	var logs strings.Builder
	var mu gosync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := &memStore{}
	p := citysync.NewPuller(store, feed, citysync.PullConfig{Log: log, Interval: time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error {
			if store.cursor() == "10" {
				cancel()
			}
			return ctx.Err()
		}})
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if w, b := strings.Count(logs.String(), "dependency down"), strings.Count(logs.String(), "dependency back"); w != 1 || b != 1 {
		t.Fatalf("%d outage and %d recovery lines after 20 failures:\n%s", w, b, logs.String())
	}
}

// memStore is a PageStore in memory.
type memStore struct {
	mu  gosync.Mutex
	cur string
}

func (m *memStore) cursor() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

func (m *memStore) Cursor(context.Context, string) (string, error) { return m.cursor(), nil }

func (m *memStore) ApplyPage(_ context.Context, _, after string, page city.ChangePage) (city.Applied, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur = page.Next
	return city.Applied{Applied: len(page.Changes)}, nil
}
