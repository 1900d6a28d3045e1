package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/store/redis"
)

func chatKey(s *redisstore.Store, chat int64) string {
	return key(s, "{"+strconv.FormatInt(chat, 10)+"}:d")
}

func updateKey(s *redisstore.Store, chat, update int64) string {
	return key(s, "{"+strconv.FormatInt(chat, 10)+"}:u:"+strconv.FormatInt(update, 10))
}

func mustBegin(tb testing.TB, s *redisstore.Store, chat, update int64) redisstore.Turn {
	tb.Helper()
	t, err := s.Begin(context.Background(), chat, update)
	if err != nil {
		tb.Fatalf("Begin(%d, %d): %v", chat, update, err)
	}
	return t
}

func mustCommit(tb testing.TB, s *redisstore.Store, chat, update int64, t redisstore.Turn, state []byte) {
	tb.Helper()
	if err := s.Commit(context.Background(), chat, update, t, state); err != nil {
		tb.Fatalf("Commit(%d, %d): %v", chat, update, err)
	}
}

func wantState(tb testing.TB, s *redisstore.Store, chat int64, state string, nilState bool, version int64) {
	tb.Helper()
	st, v, err := s.State(context.Background(), chat)
	if err != nil {
		tb.Fatalf("State(%d): %v", chat, err)
	}
	if (st == nil) != nilState || string(st) != state || v != version {
		tb.Fatalf("State(%d) = %q (nil %v), v%d; want %q (nil %v), v%d", chat, st, st == nil, v, state, nilState, version)
	}
}

// beginRetry waits for a chat's lock to expire: it retries ErrBusy (and ErrInProgress, the
// same update's owner still holding the lock) until a deadline instead of sleeping a guessed
// time.
func beginRetry(tb testing.TB, s *redisstore.Store, chat, update int64) redisstore.Turn {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		t, err := s.Begin(context.Background(), chat, update)
		if err == nil {
			return t
		}
		retry := errors.Is(err, redisstore.ErrBusy) || errors.Is(err, redisstore.ErrInProgress)
		if !retry || time.Now().After(deadline) {
			tb.Fatalf("Begin(%d, %d): %v", chat, update, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBeginCommit(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	const chat = -100123 // group chats have negative ids

	wantState(t, s, chat, "", true, 0)
	t1 := mustBegin(t, s, chat, 1)
	if t1.State != nil || t1.Version != 0 {
		t.Fatalf("first turn: %q v%d, want nil v0", t1.State, t1.Version)
	}
	mustCommit(t, s, chat, 1, t1, []byte("step=1"))
	wantState(t, s, chat, "step=1", false, 1)

	t2 := mustBegin(t, s, chat, 2)
	if string(t2.State) != "step=1" || t2.Version != 1 {
		t.Fatalf("second turn: %q v%d, want step=1 v1", t2.State, t2.Version)
	}
	mustCommit(t, s, chat, 2, t2, []byte{0, 0xff, '\n'}) // blobs are binary-safe
	wantState(t, s, chat, "\x00\xff\n", false, 2)

	// nil deletes the state but keeps counting versions.
	t3 := mustBegin(t, s, chat, 3)
	mustCommit(t, s, chat, 3, t3, nil)
	wantState(t, s, chat, "", true, 3)
	t4 := mustBegin(t, s, chat, 4)
	if t4.State != nil || t4.Version != 3 {
		t.Fatalf("after delete: %q v%d, want nil v3", t4.State, t4.Version)
	}
	mustCommit(t, s, chat, 4, t4, []byte{}) // empty is a state, not a delete
	wantState(t, s, chat, "", false, 4)

	// update_id 0 (no id) skips dedupe.
	for range 2 {
		tz := mustBegin(t, s, chat, 0)
		mustCommit(t, s, chat, 0, tz, []byte("z"))
	}
	wantState(t, s, chat, "z", false, 6)
}

func TestTTL(t *testing.T) {
	o := redisstore.Options{StateTTL: 10 * time.Minute, DedupeTTL: 20 * time.Minute, LockTTL: 40 * time.Second}
	s := mustOpen(t, o)
	c := s.Client()
	ctx := t.Context()
	const chat = 7

	pttl := func(k string) time.Duration {
		t.Helper()
		d, err := c.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	within := func(what string, got, want time.Duration) {
		t.Helper()
		if got > want || got < want-5*time.Second {
			t.Fatalf("%s TTL = %v, want about %v", what, got, want)
		}
	}

	tr := mustBegin(t, s, chat, 100)
	within("chat hash under a lock", pttl(chatKey(s, chat)), o.LockTTL)
	within("in-progress mark", pttl(updateKey(s, chat, 100)), o.DedupeTTL)
	mustCommit(t, s, chat, 100, tr, []byte("x"))
	within("state", pttl(chatKey(s, chat)), o.StateTTL)
	within("done mark", pttl(updateKey(s, chat, 100)), o.DedupeTTL)

	// A held lock must not outlive its hash even when the state is about to expire.
	if err := c.PExpire(ctx, chatKey(s, chat), time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	tr = mustBegin(t, s, chat, 101)
	within("nearly expired state under a lock", pttl(chatKey(s, chat)), o.LockTTL)
	mustCommit(t, s, chat, 101, tr, []byte("y"))
	within("state", pttl(chatKey(s, chat)), o.StateTTL)
}

func TestDuplicate(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	ctx := t.Context()

	t.Run("Done", func(t *testing.T) {
		const chat, upd = 1, 10
		mustCommit(t, s, chat, upd, mustBegin(t, s, chat, upd), []byte("a"))
		_, err := s.Begin(ctx, chat, upd)
		if !errors.Is(err, redisstore.ErrDuplicate) || errors.Is(err, redisstore.ErrInProgress) {
			t.Fatalf("redelivery after commit: %v, want ErrDuplicate (done)", err)
		}
		wantState(t, s, chat, "a", false, 1) // and the state is untouched
	})
	t.Run("InProgress", func(t *testing.T) {
		const chat, upd = 2, 20
		tr := mustBegin(t, s, chat, upd)
		_, err := s.Begin(ctx, chat, upd)
		if !errors.Is(err, redisstore.ErrDuplicate) || !errors.Is(err, redisstore.ErrInProgress) {
			t.Fatalf("redelivery during the turn: %v, want ErrInProgress", err)
		}
		mustCommit(t, s, chat, upd, tr, []byte("b")) // the duplicate did not disturb the owner
	})
	t.Run("AbortLetsRetryRun", func(t *testing.T) {
		const chat, upd = 3, 30
		tr := mustBegin(t, s, chat, upd)
		if err := s.Abort(ctx, chat, upd, tr); err != nil {
			t.Fatal(err)
		}
		retry := mustBegin(t, s, chat, upd)
		mustCommit(t, s, chat, upd, retry, []byte("c"))
		wantState(t, s, chat, "c", false, 1)
		// The aborted turn is dead: it can neither commit nor disturb anything by aborting again.
		if err := s.Commit(ctx, chat, upd, tr, []byte("old")); !errors.Is(err, redisstore.ErrStale) {
			t.Fatalf("commit after abort: %v, want ErrStale", err)
		}
		if err := s.Abort(ctx, chat, upd, tr); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Begin(ctx, chat, upd); !errors.Is(err, redisstore.ErrDuplicate) {
			t.Fatalf("after commit: %v, want ErrDuplicate", err)
		}
	})
	t.Run("CrashedOwnerDoesNotSwallowRedelivery", func(t *testing.T) {
		s := mustOpen(t, redisstore.Options{LockTTL: 30 * time.Millisecond})
		const chat, upd = 4, 40
		_ = mustBegin(t, s, chat, upd) // the worker dies: no Commit, no Abort
		retry := beginRetry(t, s, chat, upd)
		mustCommit(t, s, chat, upd, retry, []byte("d"))
	})
}

func TestConcurrentBegin(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	const chat, n = 5, 16
	var (
		wg        sync.WaitGroup
		ok, busy  atomic.Int32
		start     = make(chan struct{})
		errs      = make(chan error, n)
		winner    = make(chan redisstore.Turn, n)
		winnerUpd atomic.Int64
	)
	for i := range n {
		wg.Go(func() {
			<-start
			tr, err := s.Begin(context.Background(), chat, int64(1000+i))
			switch {
			case err == nil:
				ok.Add(1)
				winnerUpd.Store(int64(1000 + i))
				winner <- tr
			case errors.Is(err, redisstore.ErrBusy):
				busy.Add(1)
			default:
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if ok.Load() != 1 || busy.Load() != n-1 {
		t.Fatalf("%d won, %d busy; want 1 and %d", ok.Load(), busy.Load(), n-1)
	}
	mustCommit(t, s, chat, winnerUpd.Load(), <-winner, []byte("w"))
	// The losers' updates were not marked, so each runs once the lock is free.
	for i := range n {
		upd := int64(1000 + i)
		if upd == winnerUpd.Load() {
			continue
		}
		mustCommit(t, s, chat, upd, mustBegin(t, s, chat, upd), []byte("w"))
	}
	wantState(t, s, chat, "w", false, n)
}

func TestStale(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// setup returns the turn whose Commit must fail, after making it stale.
		setup func(t *testing.T, s *redisstore.Store, chat int64) redisstore.Turn
		// want is the state left behind, which the stale Commit must not overwrite.
		want    string
		version int64
	}{
		{
			name: "LockTakenOver",
			setup: func(t *testing.T, s *redisstore.Store, chat int64) redisstore.Turn {
				old := mustBegin(t, s, chat, 1)
				_ = beginRetry(t, s, chat, 2) // the new owner is still working
				return old
			},
			want: "base", version: 1,
		},
		{
			name: "LockTakenOverAndCommitted",
			setup: func(t *testing.T, s *redisstore.Store, chat int64) redisstore.Turn {
				old := mustBegin(t, s, chat, 1)
				mustCommit(t, s, chat, 2, beginRetry(t, s, chat, 2), []byte("newer"))
				return old
			},
			want: "newer", version: 2,
		},
		{
			name: "LockTakenOverTwice",
			setup: func(t *testing.T, s *redisstore.Store, chat int64) redisstore.Turn {
				old := mustBegin(t, s, chat, 1)
				mustCommit(t, s, chat, 2, beginRetry(t, s, chat, 2), []byte("newer"))
				_ = mustBegin(t, s, chat, 3) // a third owner holds the lock now
				return old
			},
			want: "newer", version: 2,
		},
		{
			name: "VersionMoved",
			setup: func(t *testing.T, s *redisstore.Store, chat int64) redisstore.Turn {
				tr := mustBegin(t, s, chat, 1)
				tr.Version-- // as if the turn had read an older state
				return tr
			},
			want: "base", version: 1,
		},
		{
			name: "NotBegun",
			setup: func(t *testing.T, s *redisstore.Store, chat int64) redisstore.Turn {
				return redisstore.Turn{Version: 1}
			},
			want: "base", version: 1,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t, redisstore.Options{LockTTL: 30 * time.Millisecond})
			chat := int64(100 + i)
			mustCommit(t, s, chat, 0, mustBegin(t, s, chat, 0), []byte("base"))
			tr := tt.setup(t, s, chat)
			err := s.Commit(ctx, chat, 1, tr, []byte("stale"))
			if !errors.Is(err, redisstore.ErrStale) {
				t.Fatalf("Commit = %v, want ErrStale", err)
			}
			if code := kezekbot.ErrorCode(err); code != kezekbot.ECONFLICT {
				t.Fatalf("ErrorCode = %q, want %q", code, kezekbot.ECONFLICT)
			}
			wantState(t, s, chat, tt.want, false, tt.version)
			// The stale update was not marked done, so its redelivery may run later.
			if n, _ := s.Client().Get(ctx, updateKey(s, chat, 1)).Result(); n == "d" {
				t.Fatal("stale commit marked its update done")
			}
		})
	}
}

func TestAbortForeignTurn(t *testing.T) {
	s := mustOpen(t, redisstore.Options{LockTTL: 30 * time.Millisecond})
	ctx := t.Context()
	const chat = 9
	old := mustBegin(t, s, chat, 1)
	cur := beginRetry(t, s, chat, 2)
	if err := s.Abort(ctx, chat, 1, old); err != nil {
		t.Fatal(err)
	}
	// The old owner's Abort must not free the new owner's lock.
	if _, err := s.Begin(ctx, chat, 3); !errors.Is(err, redisstore.ErrBusy) {
		t.Fatalf("Begin after a foreign Abort: %v, want ErrBusy", err)
	}
	mustCommit(t, s, chat, 2, cur, []byte("ok"))
	if err := s.Abort(ctx, chat, 0, redisstore.Turn{}); err != nil {
		t.Fatalf("Abort of a zero Turn: %v", err)
	}
}

func TestRestart(t *testing.T) {
	s1 := mustOpen(t, redisstore.Options{})
	const chat = 11
	mustCommit(t, s1, chat, 1, mustBegin(t, s1, chat, 1), []byte("before restart"))
	mustCommit(t, s1, chat, 2, mustBegin(t, s1, chat, 2), []byte("before restart 2"))

	s2 := mustOpen(t, s1.Options()) // a new process: same Redis, same prefix
	tr := mustBegin(t, s2, chat, 3)
	if string(tr.State) != "before restart 2" || tr.Version != 2 {
		t.Fatalf("after restart: %q v%d", tr.State, tr.Version)
	}
	if _, err := s2.Begin(t.Context(), chat, 2); !errors.Is(err, redisstore.ErrDuplicate) {
		t.Fatalf("redelivery after restart: %v, want ErrDuplicate", err)
	}
	mustCommit(t, s2, chat, 3, tr, []byte("after"))
	wantState(t, s1, chat, "after", false, 3)
}

// TestReplay: go-redis retries a command whose connection broke before the reply came back,
// though Redis may already have run it. Both hot-path scripts must give the same answer again.
func TestReplay(t *testing.T) {
	s := mustOpen(t, redisstore.Options{})
	ctx := t.Context()
	const chat = 12
	mustCommit(t, s, chat, 1, mustBegin(t, s, chat, 1), []byte("one"))

	tr := mustBegin(t, s, chat, 2)
	again, err := s.ReplayBegin(ctx, chat, 2, tr)
	if err != nil {
		t.Fatalf("replayed Begin: %v, want the same turn", err)
	}
	if string(again.State) != "one" || again.Version != tr.Version {
		t.Fatalf("replayed Begin = %q v%d, want %q v%d", again.State, again.Version, tr.State, tr.Version)
	}
	mustCommit(t, s, chat, 2, tr, []byte("two"))
	if err := s.Commit(ctx, chat, 2, tr, []byte("two")); err != nil {
		t.Fatalf("replayed Commit: %v, want nil", err)
	}
	wantState(t, s, chat, "two", false, 2) // written once

	// Once another turn has committed, the old one is stale for good.
	mustCommit(t, s, chat, 3, mustBegin(t, s, chat, 3), nil)
	if err := s.Commit(ctx, chat, 2, tr, []byte("two")); !errors.Is(err, redisstore.ErrStale) {
		t.Fatalf("late replay of Commit: %v, want ErrStale", err)
	}
	wantState(t, s, chat, "", true, 3)
}

// TestRenew: a renewed turn keeps its chat past the first lease; a turn whose lease ran out
// and was taken over cannot renew (ErrStale) nor commit.
func TestRenew(t *testing.T) {
	ctx := context.Background()
	const lease = 200 * time.Millisecond
	s := mustOpen(t, redisstore.Options{LockTTL: lease})
	const chat = 77
	tr := mustBegin(t, s, chat, 770)
	if tr.Lease() != lease {
		t.Fatalf("Lease() = %v, want %v", tr.Lease(), lease)
	}
	for range 4 { // 4 × lease/2: twice the lease, held all along
		time.Sleep(lease / 2)
		if err := s.Renew(ctx, chat, tr); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Begin(ctx, chat, 771); !errors.Is(err, redisstore.ErrBusy) {
			t.Fatalf("Begin under a renewed lease: %v, want ErrBusy", err)
		}
	}
	mustCommit(t, s, chat, 770, tr, []byte("a"))

	dead := mustBegin(t, s, chat, 772) // its replica dies: no renewal
	time.Sleep(lease + 50*time.Millisecond)
	other := mustBegin(t, s, chat, 773)
	if err := s.Renew(ctx, chat, dead); !errors.Is(err, redisstore.ErrStale) {
		t.Fatalf("Renew of a lost lease: %v, want ErrStale", err)
	}
	mustCommit(t, s, chat, 773, other, []byte("b"))
	if err := s.Renew(ctx, chat, redisstore.Turn{}); !errors.Is(err, redisstore.ErrStale) {
		t.Fatalf("Renew of a turn never begun: %v, want ErrStale", err)
	}
}
