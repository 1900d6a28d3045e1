package signerlink_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	signerlink "github.com/kezekbot/kezekbot/signer-link"
	"github.com/kezekbot/kezekbot/signer-link/fakeegov"
)

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    signerlink.Rate
		wantErr bool
	}{
		{"30/1m,10", signerlink.Rate{PerSecond: 0.5, Burst: 10}, false},
		{"100/1s,200", signerlink.Rate{PerSecond: 100, Burst: 200}, false},
		{"off", signerlink.Rate{}, false},
		{"30/1m", signerlink.Rate{}, true},
		{"0/1m,1", signerlink.Rate{}, true},
		{"-1/1m,1", signerlink.Rate{}, true},
		{"NaN/1m,1", signerlink.Rate{}, true},
		{"1/0s,1", signerlink.Rate{}, true},
		{"1/1m,0", signerlink.Rate{}, true},
		{"1/1m,x", signerlink.Rate{}, true},
		{"", signerlink.Rate{}, true},
	} {
		got, err := signerlink.ParseRate(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	d := signerlink.DefaultSignLimits()
	if d.Client.Off() || d.Link.Off() || d.Global.Off() {
		t.Errorf("a default limit is off: %+v", d)
	}
}

func TestClientAddr(t *testing.T) {
	proxies, err := signerlink.ParseTrustedProxies("10.0.0.0/8, 127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signerlink.ParseTrustedProxies("10.0.0.0/8,nonsense"); err == nil {
		t.Error("a bad trusted proxy was accepted")
	}
	for _, tt := range []struct {
		name, remote string
		xff          []string
		trusted      bool
		want         string
	}{
		{"no proxy trusted: header ignored", "203.0.113.7:4000", []string{"1.2.3.4"}, false, "203.0.113.7"},
		{"untrusted peer: header ignored", "203.0.113.7:4000", []string{"1.2.3.4"}, true, "203.0.113.7"},
		{"trusted proxy: last hop", "10.1.2.3:4000", []string{"198.51.100.9"}, true, "198.51.100.9"},
		{"spoofed left part ignored", "10.1.2.3:4000", []string{"1.1.1.1, 198.51.100.9"}, true, "198.51.100.9"},
		{"chain of proxies", "127.0.0.1:4000", []string{"1.1.1.1, 198.51.100.9, 10.9.9.9"}, true, "198.51.100.9"},
		{"two headers", "127.0.0.1:4000", []string{"1.1.1.1", "198.51.100.9"}, true, "198.51.100.9"},
		{"garbage hop: stop at proxy", "10.1.2.3:4000", []string{"198.51.100.9, junk"}, true, "10.1.2.3"},
		{"only proxies", "10.1.2.3:4000", []string{"10.2.2.2"}, true, "10.2.2.2"},
		{"ipv6", "[2001:db8::1]:4000", nil, true, "2001:db8::1"},
		{"v4-mapped", "[::ffff:203.0.113.7]:4000", nil, false, "203.0.113.7"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/s/x", nil)
		r.RemoteAddr = tt.remote
		for _, h := range tt.xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		var tr []netip.Prefix
		if tt.trusted {
			tr = proxies
		}
		if got := signerlink.ClientAddr(r, tr); got.String() != tt.want {
			t.Errorf("%s: ClientAddr = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestMemoryLimiter(t *testing.T) {
	m := signerlink.NewMemoryLimiter()
	ctx := context.Background()
	var ok int
	for range 20 {
		if pass, retry, err := m.Allow(ctx, "k", 1, 5); err != nil {
			t.Fatal(err)
		} else if pass {
			ok++
		} else if retry <= 0 || retry > time.Second {
			t.Errorf("retry = %v", retry)
		}
	}
	if ok != 5 {
		t.Errorf("%d of 20 passed at once, want the burst of 5", ok)
	}
	if _, _, err := m.Allow(ctx, "k", 0, 1); err == nil {
		t.Error("rate 0 accepted")
	}
}

// limits returns an env option with the given limits, trusting the test server's peer
// (127.0.0.1) as the proxy, so that X-Forwarded-For picks the client.
func limits(client, link, global string, refused func(string)) envOption {
	return func(c *signerlink.Config) {
		l := signerlink.SignLimits{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
		for _, x := range []struct {
			s   string
			dst *signerlink.Rate
		}{{client, &l.Client}, {link, &l.Link}, {global, &l.Global}} {
			r, err := signerlink.ParseRate(x.s)
			if err != nil {
				panic(err)
			}
			*x.dst = r
		}
		c.SignLimits = &l
		c.OnRateLimited = refused
	}
}

type refusals struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *refusals) add(scope string) { r.mu.Lock(); r.n[scope]++; r.mu.Unlock() }
func (r *refusals) get(scope string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[scope]
}

func from(addr string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("X-Forwarded-For", addr) }
}

// TestSignatureRateLimit: a flood of POSTs from one address is refused with 429, Retry-After
// and the parent's language once its client budget is spent, before any verification, while
// a parent at another address signs as usual; the buckets are in Redis, so a second replica
// over the same Redis refuses the same flood.
func TestSignatureRateLimit(t *testing.T) {
	t.Parallel()
	ref := &refusals{n: map[string]int{}}
	opt := func(c *signerlink.Config) {
		limits("5/1m,5", "off", "off", ref.add)(c)
		c.RateLimiter = nil // set below: the env's Redis store
	}
	e := newEnv(t, opt)
	redisLimiter := func(c *signerlink.Config) { opt(c); c.RateLimiter = e.links }
	e.svc = e.newService(redisLimiter)
	e.mount(e.svc)
	replica2 := e.newService(redisLimiter)

	attacker := e.parent(time.Hour)
	link := e.issueRevoke(attacker, "kk")
	b := e.browser()
	if st := b.open(link.URL); st != http.StatusOK {
		t.Fatalf("open: %d", st)
	}
	const flood = 60
	var passed, refused int
	for i := range flood {
		if i == flood/2 {
			e.mount(replica2) // the rest of the flood reaches another replica
		}
		r := b.post([]byte("<not-signed/>"), from("203.0.113.7"))
		switch r.Status {
		case http.StatusTooManyRequests:
			refused++
			if r.Reason != "rate_limited" || !r.Retry || !strings.Contains(r.Message, "Қол қою әрекеттері тым көп") {
				t.Fatalf("429 answer = %+v", r)
			}
			if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
				t.Fatalf("Retry-After = %q", r.Header.Get("Retry-After"))
			}
		case http.StatusBadRequest:
			passed++
		default:
			t.Fatalf("flood POST → %d %+v", r.Status, r)
		}
	}
	t.Logf("flood from one address: %d POSTs, %d let through (to verification), %d refused with 429", flood, passed, refused)
	if passed != 5 || refused != flood-5 || ref.get("client") != flood-5 {
		t.Errorf("passed %d, refused %d (counted %d); want 5 and %d", passed, refused, ref.get("client"), flood-5)
	}

	// An honest parent at another address is served, by either replica.
	p := e.parent(time.Hour)
	bl := e.issueBind(p)
	hb := e.browser()
	hb.open(bl.URL)
	wantStatus(t, hb.post(e.sign(hb.document(), p.Auth), from("198.51.100.9")), http.StatusOK, "ok")

	// A browser (no JSON) gets the page, in the link's language.
	req, _ := http.NewRequest(http.MethodPost, link.URL, strings.NewReader("xml=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page strings.Builder
	_, _ = io.Copy(&page, resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(page.String(), `lang="kk"`) || !strings.Contains(page.String(), "Қол қою әрекеттері тым көп") {
		t.Errorf("browser 429: %d Retry-After %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), page.String())
	}
}

func TestSignatureRateLimitPerLinkAndGlobal(t *testing.T) {
	t.Parallel()
	ref := &refusals{n: map[string]int{}}
	e := newEnv(t, limits("off", "3/1m,3", "off", ref.add))
	p := e.parent(time.Hour)
	link := e.issueRevoke(p, "ru")
	b := e.browser()
	b.open(link.URL)
	// Many addresses, one link: the link's budget holds.
	var refused int
	for i := range 10 {
		r := b.post([]byte("<x/>"), from("198.51.100."+strconv.Itoa(i+1)))
		if r.Status == http.StatusTooManyRequests {
			refused++
			if !strings.Contains(r.Message, "Слишком много попыток") {
				t.Errorf("ru message = %q", r.Message)
			}
		}
	}
	if refused != 7 || ref.get("link") != 7 {
		t.Errorf("per link: refused %d (counted %d), want 7", refused, ref.get("link"))
	}

	ref2 := &refusals{n: map[string]int{}}
	e2 := newEnv(t, limits("off", "off", "4/1m,4", ref2.add))
	refused = 0
	for i := range 6 {
		p := e2.parent(time.Hour)
		l := e2.issueBind(p)
		b := e2.browser()
		b.open(l.URL)
		if r := b.post([]byte("<x/>"), from("198.51.100."+strconv.Itoa(i+1))); r.Status == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused != 2 || ref2.get("global") != 2 {
		t.Errorf("global: refused %d (counted %d), want 2", refused, ref2.get("global"))
	}
}

// FuzzClientAddr: X-Forwarded-For is outside input. Whatever it says, the client is the TCP
// peer or an address written in the header, never a panic; with no proxy trusted it is always
// the peer. FuzzParseRate: the limits' parser never panics and what it accepts is a usable rate.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.1:80", "1.1.1.1, 2.2.2.2")
	f.Add("[::1]:1", "::ffff:1.2.3.4,junk")
	f.Add("nonsense", "")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest(http.MethodPost, "/s/x", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		peer := signerlink.ClientAddr(r, nil)
		got := signerlink.ClientAddr(r, trusted)
		if got != peer && !strings.Contains(xff, got.String()) && !strings.Contains(xff, got.StringExpanded()) {
			addr := got.String()
			// An IPv4-mapped address in the header comes back unmapped.
			if !strings.Contains(xff, "::ffff:"+addr) && !strings.Contains(strings.ToLower(xff), addr) {
				t.Fatalf("client %s is neither the peer %s nor in the header %q", got, peer, xff)
			}
		}
	})
}

func FuzzParseRate(f *testing.F) {
	f.Add("30/1m,10")
	f.Add("off")
	f.Add("1e308/1ns,1")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := signerlink.ParseRate(s)
		if err != nil || r.Off() {
			return
		}
		if !(r.PerSecond > 0) || r.Burst < 1 {
			t.Fatalf("ParseRate(%q) = %+v", s, r)
		}
		if _, _, err := signerlink.NewMemoryLimiter().Allow(context.Background(), "k", r.PerSecond, r.Burst); err != nil {
			t.Fatalf("ParseRate(%q) = %+v, which the limiter refuses: %v", s, r, err)
		}
	})
}

// TestEGovPutRateLimited: the eGov mobile PUT (API №2) goes through the same limits and is
// refused with 429, Retry-After and the protocol's JSON in the link's language.
func TestEGovPutRateLimited(t *testing.T) {
	t.Parallel()
	ref := &refusals{n: map[string]int{}}
	e := newEnv(t, egovOn, limits("off", "2/1m,2", "off", ref.add))
	p := e.parent(time.Hour)
	ctx := context.Background()
	link := e.issueRevoke(p, "kk")
	b := e.browser()
	b.open(link.URL)
	app := e.app(p, fakeegov.Sign)
	a1, _, err := app.Open(ctx, link.URL+"/egov")
	if err != nil || a1 == nil {
		t.Fatal(err)
	}
	var codes []int
	for range 3 {
		ans, err := app.Put(ctx, a1.Document.URI, a1.Document.AuthToken, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, ans.StatusCode)
		if ans.StatusCode == http.StatusTooManyRequests && (ans.Code != "rate_limited" || !strings.Contains(ans.Message, "Қол қою әрекеттері тым көп")) {
			t.Errorf("429 answer = %+v", ans)
		}
	}
	if codes[0] == http.StatusTooManyRequests || codes[1] == http.StatusTooManyRequests || codes[2] != http.StatusTooManyRequests || ref.get("link") != 1 {
		t.Errorf("PUT statuses %v (refusals counted %d), want the third refused with 429", codes, ref.get("link"))
	}
}
