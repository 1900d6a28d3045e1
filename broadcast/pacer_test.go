package broadcast_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kezekbot/kezekbot/broadcast"
)

// BenchmarkPacer books slots from 100 goroutines for 5 seconds at 1000/s, as the engine's
// senders do, and reports the rate achieved: the pacer alone, without sending.
func BenchmarkPacer(b *testing.B) {
	for b.Loop() {
		rc, prefix := newRedis(b)
		p := broadcast.NewRedisPacer(rc, prefix, broadcast.Limits{Global: 1000}, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var n, late atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for g := range 100 {
			wg.Go(func() {
				chat := int64(g) << 32
				for ctx.Err() == nil {
					chat++
					slot, err := p.Reserve(ctx, chat, false)
					if err != nil {
						return
					}
					d, ok := slot.Wait, slot.OK
					at := time.Now().Add(d)
					t := time.NewTimer(d)
					select {
					case <-t.C:
					case <-ctx.Done():
						t.Stop()
						return
					}
					if ok {
						if time.Since(at) > 5*time.Millisecond {
							late.Add(1)
						}
						n.Add(1)
					}
				}
			})
		}
		wg.Wait()
		cancel()
		b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "slots/s")
		b.ReportMetric(float64(late.Load()), "late")
	}
}

// TestPacerLimits checks the pacer's arithmetic against Redis: a chat gets one slot a second,
// a group one every three seconds, and a pause holds everything back.
func TestPacerLimits(t *testing.T) {
	t.Parallel()
	rc, prefix := newRedis(t)
	checkPacerLimits(t, rc, prefix)
}

func checkPacerLimits(t *testing.T, rc redis.Scripter, prefix string) {
	p := broadcast.NewRedisPacer(rc, prefix, broadcast.Limits{Global: 1000}, 100*time.Millisecond)
	ctx := context.Background()
	tests := []struct {
		name    string
		chat    int64
		minWait time.Duration
	}{
		{"private chat, second message", 7, time.Second},
		{"group, second message", -100, 3 * time.Second},
	}
	for _, tt := range tests {
		start := time.Now()
		first, err := p.Reserve(ctx, tt.chat, false)
		if !first.OK || err != nil {
			t.Fatalf("%s: first reserve %+v, %v", tt.name, first, err)
		}
		second, err := p.Reserve(ctx, tt.chat, false)
		// The wait is the chat's interval less the time between the two calls (a loaded machine
		// may take a while between them), less the pacer's 100 ms of slack.
		want := tt.minWait - time.Since(start) - 100*time.Millisecond
		if err != nil || second.OK || second.Wait < want {
			t.Errorf("%s: second reserve = %+v, %v; want a refusal for ≥ %v", tt.name, second, err, want)
		}
		// Giving the first slot back frees the chat at once.
		if err := p.Cancel(ctx, tt.chat, first); err != nil {
			t.Fatal(err)
		}
		third, err := p.Reserve(ctx, tt.chat, false)
		if err != nil || !third.OK || third.Wait > 100*time.Millisecond {
			t.Errorf("%s: after cancel = %+v, %v", tt.name, third, err)
		}
	}
	if err := p.Pause(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.Pause(ctx, time.Second); err != nil { // a shorter pause does not shorten it
		t.Fatal(err)
	}
	slot, err := p.Reserve(ctx, 8, false)
	if err != nil || slot.OK || slot.Wait < 1900*time.Millisecond {
		t.Errorf("during a pause: %+v, %v", slot, err)
	}
	if left, err := p.PausedFor(ctx); err != nil || left < 1900*time.Millisecond {
		t.Errorf("PausedFor = %v, %v", left, err)
	}
}
