package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// leaseKeeper renews the chat leases of the turns in progress. One goroutine scans the held
// leases every sixth of a lease while any is held, and renews each a third of a lease after
// it was taken or last renewed (so no later than half a lease: the lease never runs out under a
// live turn while Redis answers). It replaced a timer per turn: nearly every turn ends long
// before its first renewal, and arming and stopping a timer per turn showed up in the CPU
// profile at steady load (~3%) where registering in a map does not. The goroutine exits when
// no lease is held and starts again with the next one.
//
// A turn whose lease is lost (another turn took the chat: ErrStale) or ran out without a
// renewal has its context cancelled with the cause, because another replica may now run the
// chat; the turn stops acting on it.
type leaseKeeper struct {
	renew func(ctx context.Context, chatID int64, t redisstore.Turn) error
	log   *slog.Logger

	mu      sync.Mutex
	held    map[*heldLease]struct{}
	running bool
}

type heldLease struct {
	chatID int64
	turn   redisstore.Turn
	lease  time.Duration
	ctx    context.Context
	cancel context.CancelCauseFunc

	// Guarded by leaseKeeper.mu.
	renewAt, expires time.Time
	renewing         bool
}

// hold registers t's lease until release is called; the returned context ends when the lease
// is lost. A turn without a lease (Lease() ≤ 0) is returned as is.
func (k *leaseKeeper) hold(ctx context.Context, chatID int64, t redisstore.Turn) (context.Context, func()) {
	lease := t.Lease()
	if lease <= 0 {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	now := time.Now()
	h := &heldLease{chatID: chatID, turn: t, lease: lease, ctx: ctx, cancel: cancel,
		renewAt: now.Add(lease / 3), expires: now.Add(lease)}
	k.mu.Lock()
	if k.held == nil {
		k.held = make(map[*heldLease]struct{})
	}
	k.held[h] = struct{}{}
	if !k.running {
		k.running = true
		go k.loop()
	}
	k.mu.Unlock()
	return ctx, func() {
		k.mu.Lock()
		delete(k.held, h)
		k.mu.Unlock()
		cancel(nil)
	}
}

// loop scans the held leases until none is left.
func (k *leaseKeeper) loop() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		k.mu.Lock()
		if len(k.held) == 0 {
			k.running = false
			k.mu.Unlock()
			return
		}
		now := time.Now()
		next := time.Duration(-1)
		var due []*heldLease
		for h := range k.held {
			if next < 0 || h.lease/6 < next {
				next = h.lease / 6
			}
			switch {
			case h.renewing:
			case !now.Before(h.expires):
				// Renewals failed for a whole lease (Redis unreachable): stop acting.
				delete(k.held, h)
				k.log.Error("turn lease ran out unrenewed", "chat_id", h.chatID)
				h.cancel(errors.New("lease ran out unrenewed"))
			case !now.Before(h.renewAt):
				h.renewing = true
				due = append(due, h)
			}
		}
		k.mu.Unlock()
		for _, h := range due {
			go k.renewOne(h)
		}
		t.Reset(max(next, time.Millisecond))
		<-t.C
	}
}

// renewOne renews one lease, bounded by a third of the lease.
func (k *leaseKeeper) renewOne(h *heldLease) {
	sent := time.Now()
	rctx, rcancel := context.WithTimeout(h.ctx, h.lease/3)
	err := k.renew(rctx, h.chatID, h.turn)
	rcancel()
	k.mu.Lock()
	defer k.mu.Unlock()
	h.renewing = false
	if _, live := k.held[h]; !live {
		return // the turn ended meanwhile
	}
	switch {
	case err == nil:
		h.expires = sent.Add(h.lease)
		h.renewAt = sent.Add(h.lease / 3)
	case errors.Is(err, redisstore.ErrStale):
		delete(k.held, h)
		k.log.Error("turn lost its chat lease", "chat_id", h.chatID, "err", err)
		h.cancel(err)
	case !time.Now().Before(h.expires):
		delete(k.held, h)
		k.log.Error("turn lease ran out unrenewed", "chat_id", h.chatID, "err", err)
		h.cancel(fmt.Errorf("lease ran out: %w", err))
	default:
		k.log.Warn("renew turn lease", "chat_id", h.chatID, "err", err)
		h.renewAt = time.Now() // again at the next scan
	}
}
