package bot

import (
	"context"
	"sync"
)

// lanes serialize work per chat in arrival order. A chat's lane exists only while some update
// of it is running or waiting (refcounted by its queue), so idle chats cost nothing.
// sync.Mutex alone would not do: it does not hand over in FIFO order.
type lanes struct {
	shards [64]laneShard
	// onQueued, when set (tests), is called after an update joins a busy chat's queue.
	onQueued func(chatID int64)
}

type laneShard struct {
	mu sync.Mutex
	m  map[int64]*lane
}

type lane struct {
	// waiting holds one channel per queued update, oldest first; the running update closes the
	// head's channel to hand the lane over.
	waiting []chan struct{}
}

var lanePool = sync.Pool{New: func() any { return new(lane) }}

func (l *lanes) init() {
	for i := range l.shards {
		l.shards[i].m = make(map[int64]*lane)
	}
}

func (l *lanes) shard(chatID int64) *laneShard {
	return &l.shards[uint64(chatID)%uint64(len(l.shards))]
}

// acquire returns once every earlier update of chatID has released the lane, or with ctx's
// error (then the caller does not hold the lane).
func (l *lanes) acquire(ctx context.Context, chatID int64) error {
	s := l.shard(chatID)
	s.mu.Lock()
	ln, busy := s.m[chatID]
	if !busy {
		ln = lanePool.Get().(*lane)
		s.m[chatID] = ln
		s.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	ln.waiting = append(ln.waiting, ch)
	s.mu.Unlock()
	if l.onQueued != nil {
		l.onQueued(chatID)
	}

	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-ch:
		// Handed over just as ctx ended: pass it on rather than leave the chat stuck.
		l.releaseLocked(s, chatID)
	default:
		for i, w := range ln.waiting {
			if w == ch {
				ln.waiting = append(ln.waiting[:i], ln.waiting[i+1:]...)
				break
			}
		}
	}
	return ctx.Err()
}

// release hands the lane to the next waiting update of chatID, or drops it.
func (l *lanes) release(chatID int64) {
	s := l.shard(chatID)
	s.mu.Lock()
	l.releaseLocked(s, chatID)
	s.mu.Unlock()
}

func (l *lanes) releaseLocked(s *laneShard, chatID int64) {
	ln := s.m[chatID]
	if len(ln.waiting) == 0 {
		delete(s.m, chatID)
		ln.waiting = ln.waiting[:0]
		lanePool.Put(ln)
		return
	}
	next := ln.waiting[0]
	ln.waiting[0] = nil
	ln.waiting = ln.waiting[1:]
	close(next)
}

// active returns how many chats have a lane, for tests.
func (l *lanes) active() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
