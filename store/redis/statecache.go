package redisstore

import (
	"strconv"
	"sync"
)

// stateCache keeps, per chat, the state this replica committed last, with the version and
// the committing turn's token that Redis stored along with it. Begin sends the version and
// token it holds; when both still match in Redis, the chat's state is exactly the cached blob
// (every write of a chat's state sets a new version and the writer's token, and tokens never
// repeat), so the script leaves the blob out of its reply. A replica that committed the chat's
// last turn — the common case: the same chat comes back to the same replica, or there is one
// replica — then never reads its state back. Any mismatch (another replica wrote, the state
// expired and the hash was recreated) answers with the stored state as before, and Commit's
// version check stays the safety net.
//
// Bounded: when full, a shard drops an arbitrary entry; a miss costs only the blob's transfer.
type stateCache struct {
	shards [32]stateShard
	max    int // entries per shard
}

type stateShard struct {
	mu sync.Mutex
	m  map[int64]cachedState
}

type cachedState struct {
	version int64
	token   string // the committing turn's token (the hash's c field)
	state   []byte // shared, never modified; nil: the chat has no state
}

// newStateCache returns a cache of about size entries, or nil (off) when size < 0.
func newStateCache(size int) *stateCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = defaultStateCache
	}
	c := &stateCache{}
	c.max = max(1, (size+len(c.shards)-1)/len(c.shards))
	for i := range c.shards {
		c.shards[i].m = make(map[int64]cachedState)
	}
	return c
}

// defaultStateCache: about a few MB of blobs, far more chats than talk in any half hour of a
// replica's life at the loads we measured.
const defaultStateCache = 16384

func (c *stateCache) shard(chatID int64) *stateShard {
	i := chatID % int64(len(c.shards))
	if i < 0 {
		i = -i
	}
	return &c.shards[i]
}

func (c *stateCache) get(chatID int64) (cachedState, bool) {
	if c == nil {
		return cachedState{}, false
	}
	s := c.shard(chatID)
	s.mu.Lock()
	e, ok := s.m[chatID]
	s.mu.Unlock()
	return e, ok
}

func (c *stateCache) put(chatID int64, e cachedState) {
	if c == nil {
		return
	}
	s := c.shard(chatID)
	s.mu.Lock()
	if _, ok := s.m[chatID]; !ok && len(s.m) >= c.max {
		for k := range s.m { // map order is random: an arbitrary victim
			delete(s.m, k)
			break
		}
	}
	s.m[chatID] = e
	s.mu.Unlock()
}

func (c *stateCache) drop(chatID int64) {
	if c == nil {
		return
	}
	s := c.shard(chatID)
	s.mu.Lock()
	delete(s.m, chatID)
	s.mu.Unlock()
}

// args are the Begin script's extra arguments that name the cached version.
func (e cachedState) args() (string, string) {
	return strconv.FormatInt(e.version, 10), e.token
}
