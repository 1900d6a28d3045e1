package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// replaceLinkScript: KEYS[1] scope key, KEYS[2] new link key. ARGV: nonce, blob, TTL ms,
// link key prefix, scope.
//
// The previous link of the scope is deleted in the same step, so a second tap never leaves two
// working links. Its key is computed here (undeclared); that works on Redis Cluster because
// every link key carries the {l} hash tag, so it lives in the slot of the declared keys.
// The link remembers its scope so ConsumeLink can clear the pointer.
var replaceLinkScript = redis.NewScript(`
local old = redis.call('GET', KEYS[1])
if old and old ~= ARGV[1] then redis.call('DEL', ARGV[4] .. old) end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'b', ARGV[2], 's', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 0
`)

// consumeLinkScript: KEYS[1] link key. ARGV: scope key prefix, nonce. Reply: blob, or nil.
// Read and delete in one step: of two concurrent consumers exactly one gets the blob.
var consumeLinkScript = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'b', 's')
if not h[1] then return false end
redis.call('DEL', KEYS[1])
if h[2] then
  local sk = ARGV[1] .. h[2]
  if redis.call('GET', sk) == ARGV[2] then redis.call('DEL', sk) end
end
return h[1]
`)

// Link keys share the {l} hash tag (see the package doc): one cluster slot for every link.
func (s *Store) linkPrefix() string  { return s.o.Prefix + "{l}n:" }
func (s *Store) scopePrefix() string { return s.o.Prefix + "{l}s:" }

// ReplaceLink stores blob under nonce for ttl and makes scope (e.g. "chat:42:revoke") point at
// it, deleting the blob of the nonce the scope pointed at before. All in one step.
func (s *Store) ReplaceLink(ctx context.Context, scope, nonce string, blob []byte, ttl time.Duration) error {
	if scope == "" || nonce == "" {
		return errors.New("replace link: empty scope or nonce")
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("replace link %s: ttl %v too short", scope, ttl)
	}
	keys := []string{s.scopePrefix() + scope, s.linkPrefix() + nonce}
	if blob == nil {
		blob = []byte{} // go-redis would send nil as "", make that explicit
	}
	err := replaceLinkScript.Run(ctx, s.c, keys, nonce, blob, ms(ttl), s.linkPrefix(), scope).Err()
	if err != nil {
		return fmt.Errorf("replace link %s: %w", scope, err)
	}
	return nil
}

// Link returns the blob stored under nonce without using it up.
// ErrNotFound if it is missing, expired, replaced or already consumed.
func (s *Store) Link(ctx context.Context, nonce string) ([]byte, error) {
	b, err := s.c.HGet(ctx, s.linkPrefix()+nonce, "b").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read link: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read link: %w", err)
	}
	return b, nil
}

// ConsumeLink returns the blob stored under nonce and deletes it, so a link works once: of
// concurrent callers exactly one gets the blob and the others ErrNotFound. It also clears
// the scope's pointer if that still names this nonce.
func (s *Store) ConsumeLink(ctx context.Context, nonce string) ([]byte, error) {
	b, err := consumeLinkScript.Run(ctx, s.c, []string{s.linkPrefix() + nonce}, s.scopePrefix(), nonce).Text()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("consume link: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("consume link: %w", err)
	}
	return []byte(b), nil
}
