package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Signature attempts on a link are counted in the link's own hash (field "f"), so the count
// lives and dies with the link, and every step is one script: replicas and parallel requests
// share it, and no interleaving lets more than max attempts through.
//
// An attempt is taken before its signature is verified and ended after: a failed one (wrong
// key, wrong IIN, a bad signature) keeps its place and, at max, kills the link; one that did
// not count (our own outage) gives its place back. A successful one consumes the link.

// takeAttemptScript: KEYS[1] link key. ARGV: max. Reply: -1 no such link, 0 refused (max taken),
// else the attempt's number.
var takeAttemptScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local n = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
if n >= tonumber(ARGV[1]) then return 0 end
return redis.call('HINCRBY', KEYS[1], 'f', 1)
`)

// endAttemptScript: KEYS[1] link key. ARGV: failed (1|0), max, scope key prefix, nonce.
// Reply: 1 when this call killed the link, else 0.
var endAttemptScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] ~= '1' then
  if tonumber(redis.call('HGET', KEYS[1], 'f') or '0') > 0 then redis.call('HINCRBY', KEYS[1], 'f', -1) end
  return 0
end
if tonumber(redis.call('HGET', KEYS[1], 'f') or '0') < tonumber(ARGV[2]) then return 0 end
local s = redis.call('HGET', KEYS[1], 's')
redis.call('DEL', KEYS[1])
if s then
  local sk = ARGV[3] .. s
  if redis.call('GET', sk) == ARGV[4] then redis.call('DEL', sk) end
end
return 1
`)

// TakeLinkAttempt takes one of max signature attempts on nonce's link. ok is false once max
// attempts were taken; ErrNotFound if the link is gone.
func (s *Store) TakeLinkAttempt(ctx context.Context, nonce string, max int) (ok bool, err error) {
	if nonce == "" || max < 1 {
		return false, errors.New("take link attempt: empty nonce or max < 1")
	}
	n, err := takeAttemptScript.Run(ctx, s.c, []string{s.linkPrefix() + nonce}, max).Int64()
	if err != nil {
		return false, fmt.Errorf("take link attempt: %w", err)
	}
	if n < 0 {
		return false, fmt.Errorf("take link attempt: %w", ErrNotFound)
	}
	return n > 0, nil
}

// EndLinkAttempt ends an attempt taken with TakeLinkAttempt. A failed attempt keeps its
// place; when max are taken it deletes the link (and its scope pointer), and dead is true
// for exactly the one call that did. An attempt that did not fail gives its place back. A
// link already gone is no error.
func (s *Store) EndLinkAttempt(ctx context.Context, nonce string, failed bool, max int) (dead bool, err error) {
	f := "0"
	if failed {
		f = "1"
	}
	n, err := endAttemptScript.Run(ctx, s.c, []string{s.linkPrefix() + nonce}, f, max, s.scopePrefix(), nonce).Int64()
	if err != nil {
		return false, fmt.Errorf("end link attempt: %w", err)
	}
	return n == 1, nil
}
