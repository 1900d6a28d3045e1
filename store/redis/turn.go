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
	State   []byte // the chat's state blob; nil if none
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
)

// beginScript: KEYS[1] chat hash, KEYS[2] dedupe key (optional).
// ARGV: owner token, lock TTL ms, dedupe TTL ms.
// Reply: {0, version, state|nil} or {code[, lock ms left]}.
//
// Our own token already in the hash means this is go-redis replaying a Begin whose reply was
// lost: answer as the first run did. An in-progress mark counts only while its owner still
// holds the chat lock: if that worker died or aborted, the redelivery must run instead of being
// dropped as a duplicate. The hash TTL is raised to at least the lock TTL so state cannot
// expire under a held lock. Numbers go through string.format because Lua's tostring keeps only
// 14 digits.
var beginScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 's', 'v', 'o', 'x')
if h[3] == ARGV[1] then return {0, tonumber(h[2]) or 0, h[1]} end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local held = h[3] and (tonumber(h[4]) or 0) > now
if #KEYS > 1 then
  local d = redis.call('GET', KEYS[2])
  if d == 'd' then return {1} end
  if d and held and d == 'p' .. h[3] then return {2} end
end
if held then return {3, tonumber(h[4]) - now} end
local lock = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'o', ARGV[1], 'x', string.format('%.0f', now + lock))
if redis.call('PTTL', KEYS[1]) < lock then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if #KEYS > 1 then redis.call('SET', KEYS[2], 'p' .. ARGV[1], 'PX', ARGV[3]) end
return {0, tonumber(h[2]) or 0, h[1]}
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
	r, err := beginScript.Run(ctx, s.c, s.turnKeys(chatID, updateID), tok, s.lockMS, s.dedupeMS).Slice()
	if err != nil {
		return Turn{}, fmt.Errorf("begin chat %d update %d: %w", chatID, updateID, err)
	}
	code, _ := r[0].(int64)
	switch code {
	case beginOK:
	case beginDone:
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
// the update handled for DedupeTTL and releases the lock.
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
	n, err := commitScript.Run(ctx, s.c, s.turnKeys(chatID, updateID),
		t.token, strconv.FormatInt(t.Version, 10), mode, state, s.stateMS, s.dedupeMS).Int64()
	if err != nil {
		return fmt.Errorf("commit chat %d update %d: %w", chatID, updateID, err)
	}
	switch n {
	case 0:
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
