package redisstore_test

import (
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/store/redis"
)

func TestAllowBurst(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	ctx := t.Context()
	tests := []struct {
		name  string
		burst int
	}{
		{"Burst1", 1},
		{"Burst5", 5},
		{"Burst30", 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One token per ~17 minutes: nothing refills during the test, so the count is exact.
			const rate = 0.001
			allowed := 0
			for range tt.burst + 10 {
				ok, retry, err := s.Allow(ctx, "burst:"+tt.name, rate, tt.burst)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					allowed++
					if retry != 0 {
						t.Fatalf("allowed with retryIn %v", retry)
					}
				} else if period := time.Duration(float64(time.Second) / rate); retry <= 0 || retry > period {
					t.Fatalf("denied with retryIn %v, want (0, %v]", retry, period)
				}
			}
			if allowed != tt.burst {
				t.Fatalf("allowed %d of %d at once, want the burst %d", allowed, tt.burst+10, tt.burst)
			}
		})
	}
	t.Run("KeysAreIndependent", func(t *testing.T) {
		for _, k := range []string{"a", "b"} {
			if ok, _, err := s.Allow(ctx, "indep:"+k, 0.001, 1); err != nil || !ok {
				t.Fatalf("Allow(%s) = %v, %v", k, ok, err)
			}
		}
	})
	t.Run("BadArgs", func(t *testing.T) {
		for _, a := range []struct {
			rate  float64
			burst int
		}{{0, 1}, {-1, 1}, {1, 0}} {
			if _, _, err := s.Allow(ctx, "bad", a.rate, a.burst); err == nil {
				t.Errorf("Allow(rate %v, burst %d): want error", a.rate, a.burst)
			}
		}
	})
}

// TestAllowRate hammers one key and checks the number of passes against the elapsed time. The
// window is measured around all the calls, so the bounds hold however slowly the loop runs:
// at most burst + rate·elapsed (+1 for the rounding of the window's edges), and, since a
// call is made at least every few ms, no fewer than half of that.
func TestAllowRate(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	ctx := t.Context()
	const (
		rate  = 200.0
		burst = 10
	)
	start := time.Now()
	allowed, calls := 0, 0
	for time.Since(start) < 300*time.Millisecond {
		ok, _, err := s.Allow(ctx, "rate", rate, burst)
		if err != nil {
			t.Fatal(err)
		}
		calls++
		if ok {
			allowed++
		}
	}
	elapsed := time.Since(start).Seconds()
	maxAllowed := burst + int(rate*elapsed) + 1
	minAllowed := int(rate*0.3) / 2
	t.Logf("%d of %d calls passed in %.3fs (rate %v/s, burst %d)", allowed, calls, elapsed, rate, burst)
	if allowed > maxAllowed || allowed < minAllowed {
		t.Fatalf("%d passed, want between %d and %d", allowed, minAllowed, maxAllowed)
	}
}

func TestPause(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	ctx := t.Context()

	if d, err := s.PausedFor(ctx, "tg"); err != nil || d != 0 {
		t.Fatalf("PausedFor before a pause = %v, %v; want 0", d, err)
	}
	if err := s.PauseUntil(ctx, "tg", time.Now().Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	d, err := s.PausedFor(ctx, "tg")
	if err != nil || d <= 25*time.Second || d > 30*time.Second {
		t.Fatalf("PausedFor = %v, %v; want about 30s", d, err)
	}
	// A shorter pause from another replica does not cut the longer one short.
	if err := s.PauseUntil(ctx, "tg", time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.PausedFor(ctx, "tg"); d <= 25*time.Second {
		t.Fatalf("shorter pause shortened it to %v", d)
	}
	// A longer one extends it; one in the past is a no-op.
	if err := s.PauseUntil(ctx, "tg", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.PausedFor(ctx, "tg"); d <= 55*time.Second {
		t.Fatalf("longer pause gave %v", d)
	}
	if err := s.PauseUntil(ctx, "other", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.PausedFor(ctx, "other"); d != 0 {
		t.Fatalf("past pause: PausedFor = %v, want 0", d)
	}
}
