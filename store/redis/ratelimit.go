package redisstore

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// allowScript is GCRA: KEYS[1] holds the theoretical arrival time (TAT) in µs of the Redis
// server's clock, so every replica measures against the same clock. ARGV: emission interval
// µs (1/rate), burst. Reply: {1, 0} allowed, or {0, µs until the next request would pass}.
// A request passes when TAT+T-burst*T <= now, i.e. up to burst requests at once, then one per T.
var allowScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local T = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new = tat + T
local at = new - T * tonumber(ARGV[2])
if at > now then return {0, math.ceil(at - now)} end
redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000) + 1)
return {1, 0}
`)

// pauseScript: KEYS[1] pause key, ARGV[1] ms. Only lengthens a pause: replicas that get 429s
// with different retry_after values end up waiting for the longest.
var pauseScript = redis.NewScript(`
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
`)

// Allow takes one request from the rate limit key (rate per second, up to burst at once),
// shared by all replicas. When it returns false, retryIn says when a request would pass.
func (s *Store) Allow(ctx context.Context, key string, rate float64, burst int) (ok bool, retryIn time.Duration, err error) {
	if !(rate > 0) || math.IsInf(rate, 0) || burst < 1 {
		return false, 0, fmt.Errorf("rate limit %s: need rate > 0 and burst >= 1, got %v, %d", key, rate, burst)
	}
	T := strconv.FormatFloat(1e6/rate, 'f', -1, 64)
	r, err := allowScript.Run(ctx, s.c, []string{s.o.Prefix + "rl:" + key}, T, burst).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	if len(r) != 2 {
		return false, 0, fmt.Errorf("rate limit %s: unexpected reply %v", key, r)
	}
	return r[0] == 1, time.Duration(r[1]) * time.Microsecond, nil
}

// PauseUntil pauses key (e.g. the broadcast sender after a 429) until the given time. The time
// is turned into a duration here, so Redis expires it on its own clock; a pause is only ever
// lengthened.
func (s *Store) PauseUntil(ctx context.Context, key string, until time.Time) error {
	d := time.Until(until)
	if d < time.Millisecond {
		return nil
	}
	if err := pauseScript.Run(ctx, s.c, []string{s.o.Prefix + "pz:" + key}, ms(d)).Err(); err != nil {
		return fmt.Errorf("pause %s: %w", key, err)
	}
	return nil
}

// PausedFor returns how long key stays paused; 0 if it is not.
func (s *Store) PausedFor(ctx context.Context, key string) (time.Duration, error) {
	d, err := s.c.PTTL(ctx, s.o.Prefix+"pz:"+key).Result()
	if err != nil {
		return 0, fmt.Errorf("read pause %s: %w", key, err)
	}
	if d < 0 { // -2 missing, -1 no expiry (never written by us)
		return 0, nil
	}
	return d, nil
}
