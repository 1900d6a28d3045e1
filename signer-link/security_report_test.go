package signerlink_test

import (
	"bytes"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	signerlink "github.com/kezekbot/kezekbot/signer-link"
)

// TestSecurityReportRateLimit floods one signing link from one address with the default
// limits and the Redis limiter, while 20 honest parents at other addresses bind their chats,
// and reports refused vs let through. `make security` prints the line.
func TestSecurityReportRateLimit(t *testing.T) {
	t.Parallel()
	var refusedCounted atomic.Int64
	e := newEnv(t)
	limits := signerlink.DefaultSignLimits()
	limits.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	e.svc = e.newService(func(c *signerlink.Config) {
		c.SignLimits = &limits
		c.RateLimiter = e.links
		c.OnRateLimited = func(string) { refusedCounted.Add(1) }
	})
	e.mount(e.svc)

	attacker := e.parent(time.Hour)
	link := e.issueRevoke(attacker, "ru")
	ab := e.browser()
	ab.open(link.URL)

	const flood = 2000
	var let, refused, other atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range 4 {
		wg.Go(func() {
			c := &http.Client{Jar: ab.c.Jar, Timeout: 10 * time.Second}
			for range flood / 4 {
				req, _ := http.NewRequest(http.MethodPost, link.URL, bytes.NewReader([]byte("<kezekbot:request/>")))
				req.Header.Set("Content-Type", "application/xml")
				req.Header.Set("X-CSRF-Token", ab.csrf)
				req.Header.Set("Accept", "application/json")
				req.Header.Set("X-Forwarded-For", "203.0.113.66")
				resp, err := c.Do(req)
				if err != nil {
					other.Add(1)
					continue
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusTooManyRequests:
					refused.Add(1)
				case http.StatusBadRequest:
					let.Add(1) // reached verification, which refused the garbage
				default:
					other.Add(1)
				}
			}
			_ = w
		})
	}
	var served int
	const honest = 20
	for i := range honest {
		p := e.parent(time.Hour)
		b := e.browser()
		b.open(e.issueBind(p).URL)
		r := b.post(e.sign(b.document(), p.Auth), from("198.51.100."+strconv.Itoa(10+i)))
		if r.Status == http.StatusOK {
			served++
		}
		e.res.next(t)
	}
	wg.Wait()
	elapsed := time.Since(start)
	t.Logf("security: rate limit (defaults client %s, link %s, global %s; buckets in Redis): a flood of %d signature POSTs from one address in %.1fs — %d let through to verification, %d refused with 429 (%d counted for /metrics), %d other; honest parents at other addresses meanwhile: %d of %d served",
		limits.Client, limits.Link, limits.Global, flood, elapsed.Seconds(), let.Load(), refused.Load(), refusedCounted.Load(), other.Load(), served, honest)
	if served != honest || other.Load() != 0 || let.Load() > 20 || refused.Load() < flood-20 {
		t.Fail()
	}
}
