package broadcast

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pacer decides when the next message may go, for every replica at once.
type Pacer interface {
	// Reserve books a send slot for chatID. ok=false means nothing was booked: try again
	// after wait (the chat or the whole bot is busy or paused). ok=true means the slot is
	// booked wait from now; send then.
	Reserve(ctx context.Context, chatID int64, paid bool) (Slot, error)
	// Cancel gives back the chat's (and group's) part of a booked slot that will not be used,
	// so that the next try for that chat does not wait a second for a message never sent.
	// The global part is not given back: it has passed.
	Cancel(ctx context.Context, chatID int64, s Slot) error
	// Pause stops every sender of every replica for d (a 429's retry_after).
	Pause(ctx context.Context, d time.Duration) error
}

// Slot is a Reserve answer: OK means booked, to be used Wait from now; otherwise try again
// after Wait.
type Slot struct {
	Wait time.Duration
	OK   bool
	// what Cancel needs: the chat's and group's booked and previous values
	undo []int64
}

// Limits are Telegram's limits as the pacer applies them.
type Limits struct {
	// Global is the bulk rate, messages per second over the bot; default 30.
	Global float64
	// Paid is the rate for paid broadcasts (allow_paid_broadcast); default and maximum 1000.
	Paid float64
	// PerChat is the rate to one private chat; default 1.
	PerChat float64
	// PerGroup is the rate to one group (chat id < 0); default 20 per minute.
	PerGroup float64
	// Margin paces this fraction under each rate, default 0.01: slots exactly 1/rate apart
	// put the (n+1)-th message exactly one second after the first, and any network jitter
	// then shows Telegram n+1 in a second.
	Margin float64
}

func (l Limits) withDefaults() Limits {
	if l.Global <= 0 {
		l.Global = 30
	}
	if l.Paid <= 0 || l.Paid > 1000 {
		l.Paid = 1000
	}
	if l.PerChat <= 0 {
		l.PerChat = 1
	}
	if l.PerGroup <= 0 {
		l.PerGroup = 20.0 / 60
	}
	if l.Margin <= 0 || l.Margin >= 0.5 {
		l.Margin = 0.01
	}
	return l
}

// interval is the spacing, in microseconds, that paces rate with the margin.
func (l Limits) interval(rate float64) int64 {
	return int64(1e6 / (rate * (1 - l.Margin)))
}

// RedisPacer is a Pacer shared through Redis: GCRA with no burst on three keys (the bot, the
// chat, the group), checked and booked in one script run so that one send costs one round
// trip, and a shared pause key that a 429 sets. Time is the Redis server's, so replicas with
// skewed clocks agree.
//
// It books a slot at most Horizon ahead: a sender sleeps until its slot, which keeps the
// send rate exact without anyone polling, while a 429 stops at most Horizon of booked sends.
//
// Redis Cluster runs a script only on keys of one hash slot, and Reserve must check and book
// the bot's, the chat's and the group's keys and read the pause in one step, or two replicas
// could both take the last global slot. So every pacer key carries one hash tag, {pacer}: all
// of them live in one slot of one master. That costs nothing a split would have saved: every
// Reserve touches the global key anyway, so the pacer is one serialisation point whatever the
// layout, and one Redis node runs tens of thousands of these scripts a second against
// Telegram's 30 (paid: 1,000) messages a second. Chat and group keys expire a second or so
// after their slot, so the slot holds about rate × 2 s of them. The guarantee is unchanged on
// a single node, Sentinel and Cluster: no replica books past any limit or through a pause.
// (Keys were <prefix>g, pause, c:<chat>, gr:<chat> before the tag: a replica of the old
// layout and one of the new do not see each other's bookings, so replace replicas with no
// broadcast running, or accept up to twice the rate, and Telegram's 429s, for the overlap.)
type RedisPacer struct {
	c       redis.Scripter
	prefix  string
	l       Limits
	horizon int64 // µs
	global  string
	pause   string
	// boxed script arguments, fixed for the pacer's life
	gArg, pArg, cArg, grArg, hArg string
}

// NewRedisPacer returns a pacer keyed under prefix (e.g. "kz:bc:"); every replica of one bot
// must use the same prefix and limits. horizon ≤ 0 takes 250ms.
func NewRedisPacer(c redis.Scripter, prefix string, l Limits, horizon time.Duration) *RedisPacer {
	l = l.withDefaults()
	if horizon <= 0 {
		horizon = 250 * time.Millisecond
	}
	return &RedisPacer{
		c: c, prefix: prefix, l: l, horizon: horizon.Microseconds(),
		global: prefix + pacerTag + "g", pause: prefix + pacerTag + "pause",
		gArg:  strconv.FormatInt(l.interval(l.Global), 10),
		pArg:  strconv.FormatInt(l.interval(l.Paid), 10),
		cArg:  strconv.FormatInt(l.interval(l.PerChat), 10),
		grArg: strconv.FormatInt(l.interval(l.PerGroup), 10),
		hArg:  strconv.FormatInt(horizon.Microseconds(), 10),
	}
}

// Limits returns the effective limits.
func (p *RedisPacer) Limits() Limits { return p.l }

// reserveScript: KEYS pause, global, chat[, group]. ARGV global interval µs, chat interval µs,
// group interval µs, horizon µs. Reply {0, wait µs} booked, {1, wait µs} not booked.
// The slot is the latest of the three keys; nothing is booked when it is beyond the horizon,
// so a busy chat never books the global key far ahead (every other chat would wait behind it).
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local h = tonumber(ARGV[4])
local pz = tonumber(redis.call('GET', KEYS[1]) or '0')
if pz > now then return {1, pz - now} end
local c = math.max(tonumber(redis.call('GET', KEYS[3]) or '0'), now)
local gr = now
if #KEYS > 3 then gr = math.max(tonumber(redis.call('GET', KEYS[4]) or '0'), now) end
local g = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), now)
local slot = math.max(g, c, gr)
if slot - now > h then return {1, slot - now - h} end
local function book(k, iv)
  local nt = slot + iv
  local prev = tonumber(redis.call('GET', k) or '0')
  redis.call('SET', k, string.format('%.0f', nt), 'PX', math.floor((nt - now) / 1000) + 1000)
  return {nt, prev}
end
book(KEYS[2], tonumber(ARGV[1]))
local r = {0, slot - now}
local b = book(KEYS[3], tonumber(ARGV[2]))
r[3], r[4] = b[1], b[2]
if #KEYS > 3 then
  b = book(KEYS[4], tonumber(ARGV[3]))
  r[5], r[6] = b[1], b[2]
end
return r
`)

// cancelScript: KEYS chat[, group]. ARGV booked, previous value per key. A key is put back
// only if nobody booked after us.
var cancelScript = redis.NewScript(`
for i, k in ipairs(KEYS) do
  local booked, prev = ARGV[2 * i - 1], tonumber(ARGV[2 * i])
  if redis.call('GET', k) == booked then
    if prev == 0 then redis.call('DEL', k) else redis.call('SET', k, string.format('%.0f', prev), 'KEEPTTL') end
  end
end
return 0
`)

// pauseScript: KEYS pause. ARGV pause µs. Extends, never shortens, the pause.
var pauseScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > cur then
  redis.call('SET', KEYS[1], string.format('%.0f', until_), 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 1000)
end
return 0
`)

// pacerTag is the hash tag every pacer key carries, so that all of them share one Redis
// Cluster slot (see RedisPacer). It follows the prefix, so a prefix with braces of its own
// still puts all of one pacer's keys in one slot (that of the prefix's tag).
const pacerTag = "{pacer}:"

func (p *RedisPacer) keys(chatID int64) []string {
	chat := strconv.FormatInt(chatID, 10)
	keys := []string{p.pause, p.global, p.prefix + pacerTag + "c:" + chat}
	if chatID < 0 {
		keys = append(keys, p.prefix+pacerTag+"gr:"+chat)
	}
	return keys
}

// Reserve implements Pacer.
func (p *RedisPacer) Reserve(ctx context.Context, chatID int64, paid bool) (Slot, error) {
	iv := p.gArg
	if paid {
		iv = p.pArg
	}
	r, err := reserveScript.Run(ctx, p.c, p.keys(chatID), iv, p.cArg, p.grArg, p.hArg).Int64Slice()
	if err != nil {
		return Slot{}, fmt.Errorf("pacer reserve: %w", err)
	}
	if len(r) < 2 {
		return Slot{}, fmt.Errorf("pacer reserve: unexpected reply %v", r)
	}
	return Slot{Wait: time.Duration(r[1]) * time.Microsecond, OK: r[0] == 0, undo: r[2:]}, nil
}

// Cancel implements Pacer.
func (p *RedisPacer) Cancel(ctx context.Context, chatID int64, s Slot) error {
	if !s.OK || len(s.undo) < 2 {
		return nil
	}
	keys := p.keys(chatID)[2:]
	args := make([]any, 0, len(s.undo))
	for _, v := range s.undo {
		args = append(args, strconv.FormatInt(v, 10))
	}
	if len(args) > 2*len(keys) {
		args = args[:2*len(keys)]
	}
	if err := cancelScript.Run(ctx, p.c, keys[:len(args)/2], args...).Err(); err != nil {
		return fmt.Errorf("pacer cancel: %w", err)
	}
	return nil
}

// Pause implements Pacer.
func (p *RedisPacer) Pause(ctx context.Context, d time.Duration) error {
	if err := pauseScript.Run(ctx, p.c, []string{p.pause}, d.Microseconds()).Err(); err != nil {
		return fmt.Errorf("pacer pause: %w", err)
	}
	return nil
}

// PausedFor returns how long the shared pause still lasts.
func (p *RedisPacer) PausedFor(ctx context.Context) (time.Duration, error) {
	v, err := p.c.EvalRO(ctx, `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
return math.max(0, tonumber(redis.call('GET', KEYS[1]) or '0') - now)`, []string{p.pause}).Int64()
	if err != nil {
		return 0, fmt.Errorf("pacer paused: %w", err)
	}
	return time.Duration(v) * time.Microsecond, nil
}
