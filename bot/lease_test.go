package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// leasedTurn begins a real turn whose lease is lease.
func leasedTurn(t *testing.T, lease time.Duration) redisstore.Turn {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	s, err := redisstore.Open(context.Background(), redisstore.TestURL(redisDB), redisstore.Options{Prefix: "kzbot:" + hex.EncodeToString(b[:]) + ":", LockTTL: lease})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	tr, err := s.Begin(context.Background(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestLeaseKeeper: renewals keep a turn's context alive past its lease; a lost lease or one
// that could not be renewed for a whole lease ends it with the cause; the keeper's goroutine
// stops once nothing is held.
func TestLeaseKeeper(t *testing.T) {
	// Long enough that a loaded machine's late wake-up (renewals are due every third of it)
	// does not let a renewed lease lapse by itself (90 ms did once with five test runs at once).
	const lease = 450 * time.Millisecond
	tr := leasedTurn(t, lease)
	for _, tc := range []struct {
		name  string
		renew error
		want  error // nil: still alive after three leases
	}{
		{"renewed", nil, nil},
		{"lost", redisstore.ErrStale, redisstore.ErrStale},
		{"unreachable", errors.New("connection refused"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var renewals atomic.Int32
			k := &leaseKeeper{log: quiet, renew: func(context.Context, int64, redisstore.Turn) error {
				renewals.Add(1)
				return tc.renew
			}}
			ctx, release := k.hold(context.Background(), 1, tr)
			select {
			case <-ctx.Done():
			case <-time.After(3 * lease):
			}
			cause := context.Cause(ctx)
			switch {
			case tc.renew == nil:
				if cause != nil || renewals.Load() < 3 {
					t.Fatalf("cause %v after %d renewals, want alive after ≥ 3", cause, renewals.Load())
				}
			case tc.want != nil:
				if !errors.Is(cause, tc.want) {
					t.Fatalf("cause %v, want %v", cause, tc.want)
				}
			default:
				if cause == nil {
					t.Fatal("still alive after renewals failed for three leases")
				}
			}
			release()
			if !errors.Is(ctx.Err(), context.Canceled) {
				t.Fatalf("after release: %v", ctx.Err())
			}
			deadline := time.Now().Add(2 * time.Second)
			for {
				k.mu.Lock()
				running := k.running
				k.mu.Unlock()
				if !running {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("keeper still running with nothing held")
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}
