package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/kezekbot/kezekbot/internal/redistest"
	"github.com/kezekbot/kezekbot/store/redis"
)

// TestCluster runs the store against a local three-master Redis Cluster: every script's keys
// must share a slot (Redis refuses otherwise with CROSSSLOT or "non local key"), and chats
// spread over the masters.
func TestCluster(t *testing.T) {
	addrs := redistest.Cluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := redisstore.OpenTopology(ctx, "redis://", redisstore.Topology{Cluster: addrs}, redisstore.Options{LockTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()

	t.Run("TurnsInOrder", func(t *testing.T) {
		const chats, updates = 24, 15
		var wg sync.WaitGroup
		errs := make(chan error, chats)
		for chat := int64(1); chat <= chats; chat++ {
			wg.Go(func() {
				if err := runChat(ctx, s, chat, updates, nil); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		masters := map[string]bool{}
		cc := s.Client().(*goredis.ClusterClient)
		for chat := int64(1); chat <= chats; chat++ {
			checkChat(t, ctx, s, chat, updates)
			m, err := cc.MasterForKey(ctx, "{"+strconv.FormatInt(chat, 10)+"}")
			if err != nil {
				t.Fatal(err)
			}
			masters[m.Options().Addr] = true
		}
		if len(masters) < 2 {
			t.Fatalf("all %d chats on %v: the test does not spread over the cluster", chats, masters)
		}
		// Redelivery is a duplicate, on whichever master the chat lives.
		if _, err := s.Begin(ctx, 7, 3); !errors.Is(err, redisstore.ErrDuplicate) {
			t.Fatalf("redelivered update: %v, want ErrDuplicate", err)
		}
	})

	t.Run("Links", func(t *testing.T) {
		if err := s.ReplaceLink(ctx, "chat:1:revoke", "n1", []byte("one"), time.Minute); err != nil {
			t.Fatal(err)
		}
		// The second link of the scope deletes the first (a key computed inside Lua).
		if err := s.ReplaceLink(ctx, "chat:1:revoke", "n2", []byte("two"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Link(ctx, "n1"); !errors.Is(err, redisstore.ErrNotFound) {
			t.Fatalf("replaced link: %v, want ErrNotFound", err)
		}
		b, err := s.ConsumeLink(ctx, "n2")
		if err != nil || string(b) != "two" {
			t.Fatalf("consume = %q, %v", b, err)
		}
		if _, err := s.ConsumeLink(ctx, "n2"); !errors.Is(err, redisstore.ErrNotFound) {
			t.Fatalf("second consume: %v, want ErrNotFound", err)
		}
		if err := s.SetLinkNotes(ctx, "n2", map[string]string{"step": "1"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if m, err := s.LinkNotes(ctx, "n2"); err != nil || m["step"] != "1" {
			t.Fatalf("notes = %v, %v", m, err)
		}
	})

	t.Run("RateLimitAndPause", func(t *testing.T) {
		for i := range 3 {
			ok, _, err := s.Allow(ctx, "sign:"+strconv.Itoa(i), 1, 1)
			if err != nil || !ok {
				t.Fatalf("allow %d = %v, %v", i, ok, err)
			}
		}
		if ok, _, _ := s.Allow(ctx, "sign:0", 1, 1); ok {
			t.Fatal("second request within the second passed")
		}
		if err := s.PauseUntil(ctx, "bc", time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if d, err := s.PausedFor(ctx, "bc"); err != nil || d <= 0 {
			t.Fatalf("paused for %v, %v", d, err)
		}
	})
}

// TestSentinelFailover streams committed turns of several chats through a Sentinel-watched
// master with one replica, fails over to the replica mid-stream, and checks that every
// acknowledged update is in the chat's state, in order. Commits wait for the replica
// (WaitReplicas 1): that is what keeps an acknowledged update through the failover.
func TestSentinelFailover(t *testing.T) {
	sn := redistest.Sentinel(t)
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
	defer cancel()
	s, err := redisstore.OpenTopology(ctx, "redis://", redisstore.Topology{Sentinels: sn.Sentinels, Master: redistest.MasterName},
		redisstore.Options{LockTTL: time.Second, WaitReplicas: 1, WaitTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()

	const chats = 6
	var acked ackCounter
	acked.last.Store(time.Now().UnixNano())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	counts := make([]int64, chats+1)
	errs := make(chan error, chats)
	var failed atomic.Bool
	for chat := int64(1); chat <= chats; chat++ {
		wg.Go(func() {
			n, err := runChatUntil(ctx, s, chat, stop, &acked)
			counts[chat] = n
			if err != nil {
				failed.Store(true)
				errs <- err
			}
		})
	}
	// Let some turns through, fail over, then let more through on the new master.
	waitAcked := func(n int64) {
		for acked.n.Load() < n && ctx.Err() == nil && !failed.Load() {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitAcked(60)
	before := acked.n.Load()
	newMaster, err := sn.Failover(ctx)
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	waitAcked(acked.n.Load() + 60)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("failover to %s: %d turns acknowledged before it, %d in all; longest pause between acknowledgements %v",
		newMaster, before, acked.n.Load(), time.Duration(acked.maxGap.Load()).Round(time.Millisecond))
	if failed.Load() {
		return
	}
	for chat := int64(1); chat <= chats; chat++ {
		checkChat(t, ctx, s, chat, counts[chat])
	}
}

// runChatUntil feeds chat updates 1, 2, … until stop, each retried like Telegram redelivers
// until acknowledged; it returns how many were acknowledged.
func runChatUntil(ctx context.Context, s *redisstore.Store, chat int64, stop <-chan struct{}, acked *ackCounter) (int64, error) {
	var n int64
	for {
		select {
		case <-stop:
			return n, nil
		default:
		}
		if err := runChat(ctx, s, chat, n+1, acked, n+1); err != nil {
			return n, err
		}
		n++
	}
}

// runChat handles chat's updates from (first, default 1) to last: each appends its id to the
// state, after checking that the state holds exactly the updates before it (nothing
// acknowledged lost, nothing out of order). Errors other than a broken invariant are retried,
// as a webhook's 5xx makes Telegram redeliver.
func runChat(ctx context.Context, s *redisstore.Store, chat, last int64, acked *ackCounter, first ...int64) error {
	from := int64(1)
	if len(first) > 0 {
		from = first[0]
	}
	for u := from; u <= last; u++ {
		for {
			if ctx.Err() != nil {
				return fmt.Errorf("chat %d update %d: %w", chat, u, ctx.Err())
			}
			tr, err := s.Begin(ctx, chat, u)
			if errors.Is(err, redisstore.ErrDuplicate) && !errors.Is(err, redisstore.ErrInProgress) {
				break // handled before (a commit whose confirmation was lost)
			}
			if err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			if want := seq(u - 1); string(tr.State) != want {
				_ = s.Abort(ctx, chat, u, tr)
				return fmt.Errorf("chat %d update %d began on state %q, want %q", chat, u, tr.State, want)
			}
			if err := s.Commit(ctx, chat, u, tr, []byte(seq(u))); err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			break
		}
		if acked != nil {
			acked.add()
		}
	}
	return nil
}

// seq is the state after updates 1..n: "1,2,…,n"; "" for n = 0.
func seq(n int64) string {
	var b strings.Builder
	for i := int64(1); i <= n; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(i, 10))
	}
	return b.String()
}

func checkChat(t *testing.T, ctx context.Context, s *redisstore.Store, chat, n int64) {
	t.Helper()
	st, _, err := s.State(ctx, chat)
	if err != nil {
		t.Fatal(err)
	}
	if want := seq(n); string(st) != want {
		t.Errorf("chat %d state %q, want %q", chat, st, want)
	}
}

// ackCounter counts acknowledged turns and the longest time without one.
type ackCounter struct{ n, last, maxGap atomic.Int64 }

func (a *ackCounter) add() {
	a.n.Add(1)
	now := time.Now().UnixNano()
	gap := now - a.last.Swap(now)
	for {
		m := a.maxGap.Load()
		if gap <= m || a.maxGap.CompareAndSwap(m, gap) {
			return
		}
	}
}
