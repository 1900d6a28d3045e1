package redisstore_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/store/redis"
)

func TestLinkAttempts(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	ctx := t.Context()
	const max = 3
	tests := []struct {
		name     string
		outcomes []bool // per attempt: failed?
		wantDead int    // index of the attempt whose end kills the link; -1 none
	}{
		{"AllFail", []bool{true, true, true}, 2},
		{"OutagesGiveBack", []bool{false, false, false, false, true, true, true}, 6},
		{"FewerThanMax", []bool{true, true}, -1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nonce := "att" + string(rune('a'+i))
			if err := s.ReplaceLink(ctx, "chat:7:"+nonce, nonce, []byte("r"), time.Minute); err != nil {
				t.Fatal(err)
			}
			dead := -1
			for j, failed := range tt.outcomes {
				ok, err := s.TakeLinkAttempt(ctx, nonce, max)
				if err != nil || !ok {
					t.Fatalf("attempt %d: take = %v, %v", j, ok, err)
				}
				d, err := s.EndLinkAttempt(ctx, nonce, failed, max)
				if err != nil {
					t.Fatal(err)
				}
				if d {
					dead = j
				}
			}
			if dead != tt.wantDead {
				t.Fatalf("link died at attempt %d, want %d", dead, tt.wantDead)
			}
			_, err := s.Link(ctx, nonce)
			if gone := errors.Is(err, redisstore.ErrNotFound); gone != (tt.wantDead >= 0) {
				t.Fatalf("link gone = %v (err %v), want %v", gone, err, tt.wantDead >= 0)
			}
		})
	}
}

// TestLinkAttemptsParallel: 20 parallel failing attempts on a link with max 5: exactly 5 are
// let through, exactly one end kills the link.
func TestLinkAttemptsParallel(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	ctx := t.Context()
	if err := s.ReplaceLink(ctx, "chat:8:bind", "par", []byte("r"), time.Minute); err != nil {
		t.Fatal(err)
	}
	var taken, killed, gone atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ok, err := s.TakeLinkAttempt(ctx, "par", 5)
			if errors.Is(err, redisstore.ErrNotFound) {
				gone.Add(1)
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			if !ok {
				return
			}
			taken.Add(1)
			if d, err := s.EndLinkAttempt(ctx, "par", true, 5); err != nil {
				t.Error(err)
			} else if d {
				killed.Add(1)
			}
		})
	}
	wg.Wait()
	if taken.Load() != 5 || killed.Load() != 1 {
		t.Fatalf("taken %d, killed %d; want 5, 1", taken.Load(), killed.Load())
	}
	if _, err := s.Link(ctx, "par"); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("link after the limit: %v", err)
	}
}
