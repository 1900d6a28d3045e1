package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Turn is one update's hold on a chat, from Begin to Commit or Abort.
type Turn struct {
	// State is the chat's state blob; nil if none. It may be shared with the store's cache:
	// read it, never modify it.
	State   []byte
	Version int64  // version of State; Commit writes Version+1
	token   string // lock owner
	lease   time.Duration
}

// Lease is how long the turn holds its chat unless renewed (Options.LockTTL).
func (t Turn) Lease() time.Duration { return t.lease }

// Result codes of beginScript; numbers keep the reply small and parsing cheap.
const (
	beginOK         = 0
	beginDone       = 1
	beginInProgress = 2
	beginBusy       = 3
	beginCached     = 4 // {4, version}: the state is the one the caller named (stateCache)
)

// beginScript: KEYS[1] chat hash, KEYS[2] dedupe key (optional).
// ARGV: owner token, lock TTL ms, dedupe TTL ms[, cached version, cached committer token].
// Reply: {0, version, state|nil}, {4, version} when the stored version and last committer are
// the cached ones (the state is then the cached blob and is not sent), or {code[, lock ms left]}.
//
// Our own token already in the hash means this is go-redis replaying a Begin whose reply was
// lost: answer as the first run did. An in-progress mark counts only while its owner still
// holds the chat lock: if that worker died or aborted, the redelivery must run instead of being
// dropped as a duplicate. The hash TTL is raised to at least the lock TTL so state cannot
// expire under a held lock. Numbers go through string.format because Lua's tostring keeps only
// 14 digits.
var beginScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'v', 'o', 'x', 'c')
if h[2] == ARGV[1] then return {0, tonumber(h[1]) or 0, redis.call('HGET', KEYS[1], 's')} end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local held = h[2] and (tonumber(h[3]) or 0) > now
if #KEYS > 1 then
  local d = redis.call('GET', KEYS[2])
  if d == 'd' then return {1} end
  if d and held and d == 'p' .. h[2] then return {2} end
end
if held then return {3, tonumber(h[3]) - now} end
local lock = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'o', ARGV[1], 'x', string.format('%.0f', now + lock))
if redis.call('PTTL', KEYS[1]) < lock then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if #KEYS > 1 then redis.call('SET', KEYS[2], 'p' .. ARGV[1], 'PX', ARGV[3]) end
if ARGV[5] and h[1] == ARGV[4] and h[4] == ARGV[5] then return {4, tonumber(h[1])} end
return {0, tonumber(h[1]) or 0, redis.call('HGET', KEYS[1], 's')}
`)

// commitScript: KEYS as beginScript. ARGV: owner token, expected version, "s" (set) or
// "d" (delete), state, state TTL ms, dedupe TTL ms. Reply: 0 ok, 1 lock lost, 2 version moved.
//
// Ownership is the token still being in the hash. An expired lock that nobody took over is
// still ours: no one else can have written, and the version check backs that up.
// c remembers the last committer, so a Commit that go-redis replays after a lost reply
// reports success instead of a false ErrStale.
// Deleting state keeps the version field so versions never repeat while the chat is active.
var commitScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'o', 'v', 'c')
local v = tonumber(h[2]) or 0
if h[1] ~= ARGV[1] then
  if h[3] == ARGV[1] and v == tonumber(ARGV[2]) + 1 then return 0 end
  return 1
end
if v ~= tonumber(ARGV[2]) then return 2 end
local nv = string.format('%.0f', v + 1)
if ARGV[3] == 's' then
  redis.call('HSET', KEYS[1], 's', ARGV[4], 'v', nv, 'c', ARGV[1])
  redis.call('HDEL', KEYS[1], 'o', 'x')
else
  redis.call('HSET', KEYS[1], 'v', nv, 'c', ARGV[1])
  redis.call('HDEL', KEYS[1], 's', 'o', 'x')
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if #KEYS > 1 then redis.call('SET', KEYS[2], 'd', 'PX', ARGV[6]) end
return 0
`)

// abortScript: KEYS as beginScript. ARGV: owner token. Drops only what this owner holds.
var abortScript = redis.NewScript(`
if #KEYS > 1 and redis.call('GET', KEYS[2]) == 'p' .. ARGV[1] then redis.call('DEL', KEYS[2]) end
if redis.call('HGET', KEYS[1], 'o') == ARGV[1] then redis.call('HDEL', KEYS[1], 'o', 'x') end
return 0
`)

// renewScript: KEYS[1] chat hash. ARGV: owner token, lock TTL ms. Reply: 1 renewed, 0 lost.
// The lock is renewed only while the token still owns it, from the server's clock like Begin.
var renewScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'o') ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local lock = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'x', string.format('%.0f', now + lock))
if redis.call('PTTL', KEYS[1]) < lock then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`)

// Renew extends t's hold on the chat by another LockTTL. A turn that runs longer than a
// fraction of LockTTL renews, so the lease can be short: a replica that dies mid-turn blocks
// its chat for LockTTL, not for the longest a turn may take. ErrStale: the lock is lost (it
// expired and another turn took it); the caller must stop acting on the chat.
func (s *Store) Renew(ctx context.Context, chatID int64, t Turn) error {
	if t.token == "" {
		return fmt.Errorf("renew chat %d: %w (turn was not begun)", chatID, ErrStale)
	}
	n, err := renewScript.Run(ctx, s.c, []string{s.chatKey(chatID)}, t.token, s.lockMS).Int64()
	if err != nil {
		return fmt.Errorf("renew chat %d: %w", chatID, err)
	}
	if n != 1 {
		return fmt.Errorf("renew chat %d: lock lost: %w", chatID, ErrStale)
	}
	return nil
}

// Begin starts handling update updateID (0 = no dedupe) of chat chatID in one round trip:
// it locks the chat for LockTTL, marks the update in progress and returns the chat's state.
//
// Errors: ErrDuplicate if the update was handled or is being handled (ErrInProgress);
// ErrBusy if another update of the chat holds the lock. Follow a nil error with exactly one
// Commit or Abort.
func (s *Store) Begin(ctx context.Context, chatID, updateID int64) (Turn, error) {
	return s.begin(ctx, chatID, updateID, s.token())
}

func (s *Store) begin(ctx context.Context, chatID, updateID int64, tok string) (Turn, error) {
	var r []any
	var err error
	known, cached := s.cache.get(chatID)
	if cached {
		ver, by := known.args()
		r, err = beginScript.Run(ctx, s.c, s.turnKeys(chatID, updateID), tok, s.lockMS, s.dedupeMS, ver, by).Slice()
	} else {
		r, err = beginScript.Run(ctx, s.c, s.turnKeys(chatID, updateID), tok, s.lockMS, s.dedupeMS).Slice()
	}
	if err != nil {
		return Turn{}, fmt.Errorf("begin chat %d update %d: %w", chatID, updateID, err)
	}
	code, _ := r[0].(int64)
	switch code {
	case beginOK:
	case beginCached:
		if v, _ := r[1].(int64); !cached || len(r) != 2 || v != known.version {
			return Turn{}, fmt.Errorf("begin chat %d update %d: unexpected cached reply %v", chatID, updateID, r)
		}
		s.cacheHits.Add(1)
		return Turn{State: known.state, Version: known.version, token: tok, lease: s.o.LockTTL}, nil
	case beginDone:
		if s.o.WaitReplicas > 0 {
			// The done mark may be a commit the replicas never got (its Commit failed with
			// ErrNotReplicated): a failover would lose it, so it is no duplicate until they have it.
			if err := s.confirmDone(ctx, s.turnKeys(chatID, updateID)[1]); err != nil {
				return Turn{}, fmt.Errorf("begin chat %d update %d: %w", chatID, updateID, err)
			}
		}
		return Turn{}, fmt.Errorf("begin chat %d update %d: %w", chatID, updateID, ErrDuplicate)
	case beginInProgress:
		return Turn{}, fmt.Errorf("begin chat %d update %d: %w", chatID, updateID, ErrInProgress)
	case beginBusy:
		return Turn{}, fmt.Errorf("begin chat %d update %d: %w", chatID, updateID, ErrBusy)
	default:
		return Turn{}, fmt.Errorf("begin chat %d update %d: unexpected reply code %d", chatID, updateID, code)
	}
	if len(r) != 3 {
		return Turn{}, fmt.Errorf("begin chat %d update %d: unexpected reply length %d", chatID, updateID, len(r))
	}
	t := Turn{token: tok, lease: s.o.LockTTL}
	t.Version, _ = r[1].(int64)
	if st, ok := r[2].(string); ok {
		t.State = []byte(st)
	}
	return t, nil
}

// Commit ends a turn in one round trip: if t still owns the chat lock and the stored version
// is t.Version, it stores state (nil deletes it) as version t.Version+1 for StateTTL, marks
// the update handled for DedupeTTL and releases the lock. The store keeps state for the chat's
// next Begin (Options.StateCache): the caller must not modify it afterwards.
//
// Errors: ErrStale if the lock was taken over or the version moved; nothing is written then
// and the update is left unmarked, so a redelivery runs again. Committing the same turn again
// with nothing in between returns nil, which keeps go-redis's retry after a lost reply safe.
func (s *Store) Commit(ctx context.Context, chatID, updateID int64, t Turn, state []byte) error {
	if t.token == "" {
		return fmt.Errorf("commit chat %d update %d: %w (turn was not begun)", chatID, updateID, ErrStale)
	}
	mode := "s"
	if state == nil {
		mode = "d"
	}
	keys := s.turnKeys(chatID, updateID)
	args := []any{t.token, strconv.FormatInt(t.Version, 10), mode, state, s.stateMS, s.dedupeMS}
	var n int64
	var err error
	if s.o.WaitReplicas > 0 {
		n, err = s.commitWaited(ctx, keys, args)
	} else {
		n, err = commitScript.Run(ctx, s.c, keys, args...).Int64()
	}
	if err != nil || n != 0 {
		s.cache.drop(chatID)
	}
	if err != nil {
		return fmt.Errorf("commit chat %d update %d: %w", chatID, updateID, err)
	}
	switch n {
	case 0:
		s.cache.put(chatID, cachedState{version: t.Version + 1, token: t.token, state: state})
		return nil
	case 1:
		return fmt.Errorf("commit chat %d update %d: lock lost: %w", chatID, updateID, ErrStale)
	case 2:
		return fmt.Errorf("commit chat %d update %d: version moved: %w", chatID, updateID, ErrStale)
	default:
		return fmt.Errorf("commit chat %d update %d: unexpected reply %d", chatID, updateID, n)
	}
}

// Abort gives a turn up: it releases the chat lock and forgets the in-progress mark, both only
// if t still owns them, so a redelivery of the update runs again. Aborting a turn that was
// never begun or already lost is a no-op.
func (s *Store) Abort(ctx context.Context, chatID, updateID int64, t Turn) error {
	if t.token == "" {
		return nil
	}
	if err := abortScript.Run(ctx, s.c, s.turnKeys(chatID, updateID), t.token).Err(); err != nil {
		return fmt.Errorf("abort chat %d update %d: %w", chatID, updateID, err)
	}
	return nil
}

// State returns the chat's state blob and version without locking: nil, 0 when there is
// none. For tools and tests; the bot reads state through Begin.
func (s *Store) State(ctx context.Context, chatID int64) ([]byte, int64, error) {
	r, err := s.c.HMGet(ctx, s.chatKey(chatID), "s", "v").Result()
	if err != nil {
		return nil, 0, fmt.Errorf("read state of chat %d: %w", chatID, err)
	}
	var st []byte
	if v, ok := r[0].(string); ok {
		st = []byte(v)
	}
	var ver int64
	if v, ok := r[1].(string); ok {
		if ver, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, 0, fmt.Errorf("read state of chat %d: bad version: %w", chatID, err)
		}
	}
	return st, ver, nil
}

// commitWaited runs commitScript and WAIT in one pipeline, so both go over one connection:
// WAIT counts the replicas that have everything this connection wrote. A NOSCRIPT (a fresh
// server after a failover) loads the script and tries once more.
func (s *Store) commitWaited(ctx context.Context, keys []string, args []any) (int64, error) {
	for attempt := 0; ; attempt++ {
		pipe := s.c.Pipeline()
		ev := commitScript.EvalSha(ctx, pipe, keys, args...)
		w := pipe.Do(ctx, "WAIT", s.o.WaitReplicas, s.o.WaitTimeout.Milliseconds())
		_, _ = pipe.Exec(ctx)
		if err := ev.Err(); err != nil {
			if attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
				if err := commitScript.Load(ctx, s.c).Err(); err != nil {
					return 0, err
				}
				continue
			}
			return 0, err
		}
		n, err := ev.Int64()
		if err != nil {
			return 0, err
		}
		got, err := w.Int64()
		if err != nil {
			return 0, fmt.Errorf("wait for replicas: %w", err)
		}
		if n == 0 && got < int64(s.o.WaitReplicas) {
			return 0, fmt.Errorf("%d of %d replicas in %v: %w", got, s.o.WaitReplicas, s.o.WaitTimeout, ErrNotReplicated)
		}
		return n, nil
	}
}

// confirmDone waits until the replicas have everything up to the done mark at key: it writes
// the mark's TTL again (a write moves this connection's replication offset to now) and WAITs
// on the same connection. ErrNotReplicated if fewer than WaitReplicas confirm in time.
func (s *Store) confirmDone(ctx context.Context, key string) error {
	pipe := s.c.Pipeline()
	pipe.PExpire(ctx, key, s.o.DedupeTTL)
	w := pipe.Do(ctx, "WAIT", s.o.WaitReplicas, s.o.WaitTimeout.Milliseconds())
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("confirm done mark: %w", err)
	}
	got, err := w.Int64()
	if err != nil {
		return fmt.Errorf("wait for replicas: %w", err)
	}
	if got < int64(s.o.WaitReplicas) {
		return fmt.Errorf("done mark: %d of %d replicas in %v: %w", got, s.o.WaitReplicas, s.o.WaitTimeout, ErrNotReplicated)
	}
	return nil
}
