// Package redisstore keeps kezekbot's short-lived shared state in Redis: the per-chat dialog
// state with its lock and update_id dedupe, single-use signing links, and the rate limits and
// 429 pause that broadcast workers share across replicas.
//
// Every multi-key operation is one Lua script, so the bot's hot path costs exactly two round
// trips per update (Begin, Commit) and replicas never see a half-done write. Server TIME is used
// wherever time matters, so replicas with skewed clocks still agree.
//
// Key layout (all under Options.Prefix, default "kz:"):
//
//	<p>{<chat>}:d          hash: s = state blob, v = version, o = lock owner, x = lock expiry (ms),
//	                       c = last committer (makes a replayed Commit idempotent)
//	<p>{<chat>}:u:<update> dedupe mark: "p<owner>" while in progress, "d" once handled
//	<p>{l}n:<nonce>        hash: b = link blob, s = scope
//	<p>{l}s:<scope>        the nonce currently live for scope
//	<p>{l}x:<nonce>        hash: a link's notes (eGov mobile steps, token hash, last outcome)
//	<p>rl:<key>            GCRA theoretical arrival time (µs, server clock)
//	<p>pz:<key>            exists while key is paused
//
// Redis Cluster runs a script only on keys of one hash slot, so every script's keys share a
// hash tag: {chat} keeps a chat's keys together (chats spread over the cluster), {l} keeps all
// signing-link keys in one slot (the link scripts reach the previous link's key, computed in
// Lua, and links are few). The rate limit and pause scripts touch one key each. Since every key
// of a script begins with the same prefix, a prefix holding braces of its own still leaves a
// script's keys in one slot (it only stops chats from spreading).
//
// Until the {l} tag, link keys were <p>ln:, <p>ls: and <p>lx:; the first deploy with the tag
// ignores those (links issued before it no longer open; the parent asks for a new one).
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options tune a Store. Zero values take the defaults.
type Options struct {
	Prefix    string        // key prefix; default "kz:"
	StateTTL  time.Duration // dialog state lifetime after the last commit; default 30m
	DedupeTTL time.Duration // how long an update_id is remembered; default 1h
	// LockTTL is the lease a turn holds its chat by; a live turn renews it (Renew), so it only
	// bounds how long a crashed replica blocks a chat; default 5s.
	LockTTL time.Duration
	// StateCache is how many chats' last committed state this replica keeps, so that the next
	// turn of such a chat need not read it back from Redis (Begin checks it is still current);
	// default 16384, negative: off.
	StateCache int
	// WaitReplicas > 0 makes Commit wait (Redis WAIT, on the connection that wrote) until that
	// many replicas have the commit, at most WaitTimeout (default 1s); fewer in time and Commit
	// fails with ErrNotReplicated, so the update is not acknowledged and Telegram redelivers it.
	// With Sentinel this is what keeps an acknowledged update through a failover; 0 (default):
	// asynchronous replication, a failover can lose the last commits. Not for Cluster.
	WaitReplicas int
	WaitTimeout  time.Duration
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "kz:"
	}
	if o.StateTTL <= 0 {
		o.StateTTL = 30 * time.Minute
	}
	if o.DedupeTTL <= 0 {
		o.DedupeTTL = time.Hour
	}
	if o.LockTTL <= 0 {
		o.LockTTL = 5 * time.Second
	}
	if o.WaitTimeout <= 0 {
		o.WaitTimeout = time.Second
	}
	return o
}

// Store is safe for concurrent use; open it once per process.
type Store struct {
	c redis.UniversalClient
	o Options

	// TTL arguments in milliseconds, boxed once so the hot path does not allocate them.
	stateMS, dedupeMS, lockMS any

	// Lock owner tokens are instance + counter: unique across replicas (64 random bits per
	// instance) without a syscall per update. They guard against mistakes, not attackers.
	instance string
	seq      atomic.Uint64

	cache     *stateCache
	cacheHits atomic.Uint64
}

// Open connects to the single Redis named by rawURL (redis:// or rediss://; every client
// setting comes from the URL, see redis.ParseURL) and checks it with PING. OpenTopology reaches
// Sentinel and Cluster deployments.
func Open(ctx context.Context, rawURL string, o Options) (*Store, error) {
	return OpenTopology(ctx, rawURL, Topology{}, o)
}

// OpenTopology is Open for a Redis reached as t says (see Topology and Connect).
func OpenTopology(ctx context.Context, rawURL string, t Topology, o Options) (*Store, error) {
	c, err := Connect(rawURL, t)
	if err != nil {
		return nil, fmt.Errorf("open redis: %w", err)
	}
	if _, cluster := c.(*redis.ClusterClient); cluster && o.WaitReplicas > 0 {
		_ = c.Close()
		return nil, fmt.Errorf("open redis: WaitReplicas needs a single server or Sentinel, not Cluster")
	}
	s := New(c, o)
	if err := s.Ping(ctx); err != nil {
		_ = s.c.Close()
		return nil, fmt.Errorf("open redis: %w", err)
	}
	return s, nil
}

// plainConnDialer hides the socket of plain TCP and unix connections from go-redis's pool
// health check. That check peeks at the socket (recvfrom MSG_PEEK) on every command, one extra
// syscall per round trip, about a fifth of the client's CPU on the bot's hot path. What it
// guards against, a connection Redis closed while idle, still surfaces: the command fails with
// EOF or a reset, go-redis retries it on a fresh connection (MaxRetries), and the turn scripts
// are written to be replayed safely. TLS connections are left as they are (go-redis does not
// check them anyway).
func plainConnDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		switch c.(type) {
		case *net.TCPConn, *net.UnixConn:
			return opaqueConn{c}, nil
		}
		return c, nil
	}
}

// opaqueConn is a net.Conn without SyscallConn.
type opaqueConn struct{ net.Conn }

// New wraps an existing client: a single node, a Sentinel failover or a Cluster client. Close
// closes it.
func New(c redis.UniversalClient, o Options) *Store {
	o = o.withDefaults()
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return &Store{
		c:        c,
		o:        o,
		stateMS:  ms(o.StateTTL),
		dedupeMS: ms(o.DedupeTTL),
		lockMS:   ms(o.LockTTL),
		instance: hex.EncodeToString(b[:]) + ".",
		cache:    newStateCache(o.StateCache),
	}
}

// StateCacheHits is how many turns began without reading their state back from Redis.
func (s *Store) StateCacheHits() uint64 { return s.cacheHits.Load() }

// ms renders d as whole milliseconds, at least 1 (PX 0 is an error in Redis).
func ms(d time.Duration) string {
	m := d.Milliseconds()
	if m < 1 {
		m = 1
	}
	return strconv.FormatInt(m, 10)
}

// Ping checks the connection.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	return nil
}

// Close closes the underlying client.
func (s *Store) Close() error { return s.c.Close() }

// Client returns the underlying client, for health checks and tools.
func (s *Store) Client() redis.UniversalClient { return s.c }

// Options returns the effective options (defaults filled in).
func (s *Store) Options() Options { return s.o }

func (s *Store) chatKey(chatID int64) string {
	var b [64]byte
	k := append(b[:0], s.o.Prefix...)
	k = append(k, '{')
	k = strconv.AppendInt(k, chatID, 10)
	k = append(k, "}:d"...)
	return string(k)
}

// turnKeys returns the keys a turn script touches: the chat hash, plus the dedupe key when
// the update has an id. Both are cut from one string to save an allocation per call.
func (s *Store) turnKeys(chatID, updateID int64) []string {
	if updateID == 0 {
		return []string{s.chatKey(chatID)}
	}
	var b [128]byte
	k := append(b[:0], s.o.Prefix...)
	k = append(k, '{')
	k = strconv.AppendInt(k, chatID, 10)
	k = append(k, "}:d"...)
	n := len(k)
	k = append(k, k[:n-1]...) // "<p>{<chat>}:"
	k = append(k, "u:"...)
	k = strconv.AppendInt(k, updateID, 10)
	both := string(k)
	return []string{both[:n], both[n:]}
}

func (s *Store) token() string {
	return s.instance + strconv.FormatUint(s.seq.Add(1), 36)
}
