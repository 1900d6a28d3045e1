package signerlink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kezekbot/kezekbot/flows"
)

// Every POSTed signature costs an XML parse, a chain check and an RSA verification (about
// 1 ms of CPU); without a limit one client can keep every replica busy. SignLimiter limits
// signature submissions per client address, per link and over the whole service, before any
// of that work is done. The buckets live in Redis in production (store/redis's Store.Allow),
// so replicas share them.

// RateLimiter takes one request from the bucket key (rate per second, up to burst at once);
// when it refuses, retryIn says when a request would pass. store/redis's Store implements it
// (shared by replicas); MemoryLimiter is the one-process fallback.
type RateLimiter interface {
	Allow(ctx context.Context, key string, rate float64, burst int) (ok bool, retryIn time.Duration, err error)
}

// Rate is a token bucket: PerSecond on average, Burst at once. The zero Rate is no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Off reports whether the rate limits nothing.
func (r Rate) Off() bool { return r.PerSecond == 0 }

// String prints r in ParseRate's form.
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	per, n := "1s", r.PerSecond
	if r.PerSecond < 1 {
		per, n = "1m", r.PerSecond*60
	}
	return strconv.FormatFloat(n, 'f', -1, 64) + "/" + per + "," + strconv.Itoa(r.Burst)
}

// ParseRate reads "N/DURATION,BURST" (e.g. "30/1m,10": 30 a minute, 10 at once), or "off".
func ParseRate(s string) (Rate, error) {
	if s == "off" {
		return Rate{}, nil
	}
	spec, burstS, ok := strings.Cut(s, ",")
	nS, perS, ok2 := strings.Cut(spec, "/")
	if !ok || !ok2 {
		return Rate{}, fmt.Errorf("want N/DURATION,BURST like 30/1m,10 (or off), got %q", s)
	}
	n, err := strconv.ParseFloat(nS, 64)
	if err != nil || !(n > 0) || math.IsInf(n, 0) {
		return Rate{}, fmt.Errorf("want a positive count before the slash, got %q", s)
	}
	per, err := time.ParseDuration(perS)
	if err != nil || per <= 0 {
		return Rate{}, fmt.Errorf("want a positive duration after the slash (1s, 1m), got %q", s)
	}
	burst, err := strconv.Atoi(burstS)
	if err != nil || burst < 1 || burst > 1_000_000 {
		return Rate{}, fmt.Errorf("want a burst from 1 to 1000000 after the comma, got %q", s)
	}
	rate := n / per.Seconds()
	if !(rate >= 1.0/86400 && rate <= 1e6) {
		return Rate{}, fmt.Errorf("want a rate between 1 a day and 1000000 a second, got %q", s)
	}
	return Rate{PerSecond: rate, Burst: burst}, nil
}

// SignLimits are the three limits on signature submissions.
type SignLimits struct {
	// Client limits one client address (an IPv6 client by its /64): enough for a family or a
	// ЦОН behind one NAT, far below what would load a replica.
	Client Rate
	// Link limits attempts on one link: a parent retrying with another key a few times.
	Link Rate
	// Global limits the whole service (all replicas together when the limiter is Redis).
	Global Rate
	// TrustedProxies are the addresses of the reverse proxies in front of the bot; only a
	// request from one of them has its X-Forwarded-For believed. Empty: the TCP peer is the
	// client (no header is trusted).
	TrustedProxies []netip.Prefix
}

// Default limits, sized for a city: Astana has ~100k families in the queue and referrals go
// out in batches; a busy hour is a few thousand signatures, well under the global limit, which
// itself costs about 0.1 of a core in verification.
const (
	DefaultSignRateClient = "30/1m,10"
	DefaultSignRateLink   = "10/1m,5"
	DefaultSignRateGlobal = "100/1s,200"
)

// DefaultSignLimits returns the default limits.
func DefaultSignLimits() SignLimits {
	must := func(s string) Rate {
		r, err := ParseRate(s)
		if err != nil {
			panic(err) // the constants above parse; a test checks it
		}
		return r
	}
	return SignLimits{Client: must(DefaultSignRateClient), Link: must(DefaultSignRateLink), Global: must(DefaultSignRateGlobal)}
}

// ParseTrustedProxies reads a comma-separated list of addresses or CIDR prefixes ("" is none).
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("want IP addresses or CIDR prefixes, got %q", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// SignLimiter applies SignLimits. It is safe for concurrent use.
type SignLimiter struct {
	lim     RateLimiter
	limits  SignLimits
	refused func(scope string)
	log     *slog.Logger
}

// NewSignLimiter returns a limiter over lim (a MemoryLimiter when nil). refused, when set, is
// called with "client", "link" or "global" for every refusal (the /metrics counter).
func NewSignLimiter(lim RateLimiter, limits SignLimits, refused func(scope string), log *slog.Logger) *SignLimiter {
	if lim == nil {
		lim = NewMemoryLimiter()
	}
	if log == nil {
		log = slog.Default()
	}
	return &SignLimiter{lim: lim, limits: limits, refused: refused, log: log}
}

// Allow takes one submission of link (any stable string naming it, e.g. the token) from r's
// client. Scopes are tried client first, then link, then global, so a flood from one address
// is refused before it spends the link's or everyone's budget. A refusal returns the scope
// and when to retry. A limiter that fails (Redis down) lets the request through and logs: the
// link itself lives in Redis, so the request fails right after anyway.
func (l *SignLimiter) Allow(ctx context.Context, r *http.Request, link string) (ok bool, scope string, retry time.Duration) {
	if l == nil {
		return true, "", 0
	}
	checks := []struct {
		scope, key string
		rate       Rate
	}{
		{"client", "sign:client:" + ClientKey(ClientAddr(r, l.limits.TrustedProxies)), l.limits.Client},
		{"link", "sign:link:" + linkKey(link), l.limits.Link},
		{"global", "sign:global", l.limits.Global},
	}
	for _, c := range checks {
		if c.rate.Off() {
			continue
		}
		ok, retry, err := l.lim.Allow(ctx, c.key, c.rate.PerSecond, c.rate.Burst)
		if err != nil {
			l.log.WarnContext(ctx, "signature rate limit unavailable; request let through", slog.String("scope", c.scope), slog.Any("err", err))
			continue
		}
		if !ok {
			if l.refused != nil {
				l.refused(c.scope)
			}
			return false, c.scope, retry
		}
	}
	return true, "", 0
}

// ClientAddr is the address of the client that sent r: the TCP peer, unless the peer is a
// trusted proxy, in which case X-Forwarded-For is read from the right, skipping trusted
// proxies; the first address that is not one is the client. Anything a client could forge
// (the left part of the header) is never used. An unparsable peer gives the zero Addr.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		a, _ := netip.ParseAddr(r.RemoteAddr)
		return a.Unmap()
	}
	addr := ap.Addr().Unmap()
	if !isTrusted(addr, trusted) {
		return addr
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr // a hop we cannot read: stop at the last proxy we trust
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a
		}
		addr = a
	}
	return addr
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientKey names a client's bucket: an IPv4 address, or an IPv6 /64 (one subscriber gets a
// whole /64, so per-address limits would be no limits).
func ClientKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// linkKey names a link's bucket without putting the token into Redis keys.
func linkKey(link string) string {
	h := sha256.Sum256([]byte(link))
	return hex.EncodeToString(h[:12])
}

// MemoryLimiter is a RateLimiter for one process (tests, the sandbox, a single instance):
// GCRA per key, like the Redis one.
type MemoryLimiter struct {
	mu  sync.Mutex
	tat map[string]time.Time
	now func() time.Time
}

// NewMemoryLimiter returns an empty MemoryLimiter.
func NewMemoryLimiter() *MemoryLimiter {
	return &MemoryLimiter{tat: map[string]time.Time{}, now: time.Now}
}

// memoryKeys bounds the map: past it, buckets that are full again are dropped.
const memoryKeys = 100_000

// Allow implements RateLimiter.
func (m *MemoryLimiter) Allow(_ context.Context, key string, rate float64, burst int) (bool, time.Duration, error) {
	if !(rate > 0) || math.IsInf(rate, 0) || burst < 1 {
		return false, 0, errors.New("memory rate limit: need rate > 0 and burst >= 1")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if len(m.tat) >= memoryKeys {
		for k, t := range m.tat {
			if t.Before(now) {
				delete(m.tat, k)
			}
		}
	}
	T := time.Duration(float64(time.Second) / rate)
	tat := m.tat[key]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(T)
	if at := next.Add(-T * time.Duration(burst)); at.After(now) {
		return false, at.Sub(now), nil
	}
	m.tat[key] = next
	return true, 0, nil
}

// retryAfterSeconds is the Retry-After value for a wait: whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}

// LimitSignature applies the signature limits to a submission on the link token. When it
// refuses, it has answered 429 with Retry-After and the page (or JSON) in the link's
// language, and returns false. Every route that accepts a signature (the page's POST, the eGov
// mobile PUT) calls it before reading the body.
func (s *Service) LimitSignature(w http.ResponseWriter, r *http.Request, token string) bool {
	ok, lang := s.SignatureAllowed(w, r, token)
	if !ok {
		s.renderError(w, r, lang, "rate_limited", nil)
	}
	return ok
}

// SignatureAllowed takes one signature submission on the link token from the limits. When it
// refuses, it has set Retry-After on w, and the caller answers 429 in its own protocol's shape
// (the eGov mobile PUT answers the app's JSON) in lang, the link's language.
func (s *Service) SignatureAllowed(w http.ResponseWriter, r *http.Request, token string) (ok bool, lang flows.Lang) {
	ok, scope, retry := s.limiter.Allow(r.Context(), r, token)
	if ok {
		return true, ""
	}
	lang = langFromAcceptLanguage(r.Header.Get("Accept-Language"))
	if c, err := s.keys.parseToken(token); err == nil {
		lang = normLang(c.Lang)
	}
	s.log.InfoContext(r.Context(), "signature refused by rate limit", slog.String("scope", scope), slog.Duration("retry", retry))
	w.Header().Set("Retry-After", retryAfterSeconds(retry))
	return false, lang
}

// LimitSignatures wraps a handler of /s/{token}… routes with LimitSignature.
func (s *Service) LimitSignatures(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, _ := strings.CutPrefix(r.URL.Path, "/s/")
		token, _, _ := strings.Cut(rest, "/")
		if !s.LimitSignature(w, r, token) {
			return
		}
		next.ServeHTTP(w, r)
	})
}
