package xmlsig_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

// ocspResponder is a local OCSP responder: it parses each request and answers with what
// answer returns for it, counting requests.
type ocspResponder struct {
	srv    *httptest.Server
	hits   atomic.Int64
	answer func(req *ocsp.Request) []byte
}

func newOCSPResponder(t *testing.T, answer func(req *ocsp.Request) []byte) *ocspResponder {
	t.Helper()
	r := &ocspResponder{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		r.hits.Add(1)
		body, _ := io.ReadAll(hr.Body)
		req, err := ocsp.ParseRequest(body)
		if err != nil || hr.Header.Get("Content-Type") != "application/ocsp-request" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		_, _ = w.Write(r.answer(req))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func TestOCSPChecker(t *testing.T) {
	ca, err := xmlsigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := xmlsigtest.NewCAWithOptions(xmlsigtest.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := mustIssue(t, ca, xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign})
	now := time.Now().Truncate(time.Second)
	resp := func(ca *xmlsigtest.CA, status int, this, next, revokedAt time.Time) []byte {
		t.Helper()
		b, err := ca.OCSPResponse(p, status, this, next, revokedAt)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// An address nothing listens on: a listener opened and closed at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + l.Addr().String() + "/"
	_ = l.Close()

	tests := []struct {
		name    string
		answer  []byte // nil: use url as is
		url     string
		slow    bool
		at      time.Time
		want    xmlsig.Reason
		wantObs string
	}{
		{"Good", resp(ca, ocsp.Good, now.Add(-time.Minute), now.Add(time.Hour), time.Time{}), "", false, now, "", xmlsig.OCSPGood},
		{"Revoked", resp(ca, ocsp.Revoked, now.Add(-time.Minute), now.Add(time.Hour), now.Add(-30*time.Minute)), "", false, now, xmlsig.ReasonRevoked, xmlsig.OCSPRevoked},
		{"RevokedLaterThanSignature", resp(ca, ocsp.Revoked, now.Add(-time.Minute), now.Add(time.Hour), now.Add(10*time.Minute)), "", false, now, "", xmlsig.OCSPGood},
		{"Unknown", resp(ca, ocsp.Unknown, now.Add(-time.Minute), now.Add(time.Hour), time.Time{}), "", false, now, xmlsig.ReasonRevocationUnknown, xmlsig.OCSPUnknown},
		{"Stale", resp(ca, ocsp.Good, now.Add(-72*time.Hour), now.Add(-48*time.Hour), time.Time{}), "", false, now, xmlsig.ReasonRevocationUnknown, xmlsig.OCSPStale},
		{"NoNextUpdateTooOld", resp(ca, ocsp.Good, now.Add(-2*time.Hour), time.Time{}, time.Time{}), "", false, now, xmlsig.ReasonRevocationUnknown, xmlsig.OCSPStale},
		{"FromTheFuture", resp(ca, ocsp.Good, now.Add(time.Hour), now.Add(2*time.Hour), time.Time{}), "", false, now, xmlsig.ReasonRevocationUnknown, xmlsig.OCSPStale},
		{"SignedByAnotherCA", resp(other, ocsp.Good, now.Add(-time.Minute), now.Add(time.Hour), time.Time{}), "", false, now, xmlsig.ReasonRevocationUnknown, xmlsig.OCSPError},
		{"Garbage", []byte("<html>502 Bad Gateway</html>"), "", false, now, xmlsig.ReasonRevocationUnknown, xmlsig.OCSPError},
		{"TryLater", []byte{0x30, 0x03, 0x0a, 0x01, 0x03}, "", false, now, xmlsig.ReasonRevocationUnknown, xmlsig.OCSPError},
		{"Unreachable", nil, deadURL, false, now, xmlsig.ReasonRevocationUnknown, xmlsig.OCSPError},
		{"Timeout", resp(ca, ocsp.Good, now.Add(-time.Minute), now.Add(time.Hour), time.Time{}), "", true, now, xmlsig.ReasonRevocationUnknown, xmlsig.OCSPError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url
			if tt.answer != nil {
				release := make(chan struct{})
				r := newOCSPResponder(t, func(*ocsp.Request) []byte {
					if tt.slow {
						<-release
					}
					return tt.answer
				})
				t.Cleanup(func() { close(release) })
				url = r.srv.URL
			}
			var obs []string
			c, err := xmlsig.NewOCSPChecker(xmlsig.OCSPOptions{URL: url, Timeout: 200 * time.Millisecond,
				Observe: func(res string, _ bool) { obs = append(obs, res) }})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Check(context.Background(), p.Cert, ca.Intermediate, tt.at)
			if got := xmlsig.ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q, want %q (err %v)", got, tt.want, err)
			}
			if tt.want == "" && err != nil {
				t.Fatalf("err %v", err)
			}
			if len(obs) != 1 || obs[0] != tt.wantObs {
				t.Fatalf("observed %v, want [%s]", obs, tt.wantObs)
			}
		})
	}
}

func TestOCSPCache(t *testing.T) {
	ca, err := xmlsigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	people := []*xmlsigtest.Person{mustIssue(t, ca, xmlsigtest.PersonOptions{}), mustIssue(t, ca, xmlsigtest.PersonOptions{}), mustIssue(t, ca, xmlsigtest.PersonOptions{})}
	now := time.Now().Truncate(time.Second)
	next := now.Add(time.Hour)
	r := newOCSPResponder(t, func(req *ocsp.Request) []byte {
		if req.HashAlgorithm != crypto.SHA256 {
			return []byte("want a SHA-256 CertID")
		}
		for _, p := range people {
			if p.Cert.SerialNumber.Cmp(req.SerialNumber) == 0 {
				b, err := ca.OCSPResponse(p, ocsp.Good, now.Add(-time.Minute), next, time.Time{})
				if err != nil {
					panic(err)
				}
				return b
			}
		}
		return []byte("no")
	})
	var mu sync.Mutex
	cachedHits := 0
	c, err := xmlsig.NewOCSPChecker(xmlsig.OCSPOptions{URL: r.srv.URL, CacheSize: 2, Observe: func(_ string, cached bool) {
		mu.Lock()
		defer mu.Unlock()
		if cached {
			cachedHits++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(p *xmlsigtest.Person, at time.Time) {
		t.Helper()
		if err := c.Check(context.Background(), p.Cert, ca.Intermediate, at); err != nil {
			t.Fatal(err)
		}
	}
	check(people[0], now)
	check(people[0], now.Add(time.Minute))
	if h := r.hits.Load(); h != 1 || cachedHits != 1 {
		t.Fatalf("second check: %d requests, %d cache hits; want 1, 1", h, cachedHits)
	}
	// Past nextUpdate the cached answer no longer counts: ask again (and get a stale one).
	if err := c.Check(context.Background(), people[0].Cert, ca.Intermediate, next.Add(time.Minute)); xmlsig.ReasonOf(err) != xmlsig.ReasonRevocationUnknown {
		t.Fatalf("after nextUpdate: %v", err)
	}
	if h := r.hits.Load(); h != 2 {
		t.Fatalf("after nextUpdate: %d requests, want 2", h)
	}
	// Bounded: three certificates in a cache of two.
	for _, p := range people {
		check(p, now)
	}
	if n := c.CacheLen(); n > 2 {
		t.Fatalf("cache holds %d answers, bound is 2", n)
	}
}

func TestOCSPRefusesGOST(t *testing.T) {
	ca, err := xmlsigtest.NewGOSTCA()
	if err != nil {
		t.Fatal(err)
	}
	p := mustIssue(t, ca, xmlsigtest.PersonOptions{})
	r := newOCSPResponder(t, func(*ocsp.Request) []byte { return nil })
	c, err := xmlsig.NewOCSPChecker(xmlsig.OCSPOptions{URL: r.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Check(context.Background(), p.Cert, ca.Intermediate, time.Now())
	if xmlsig.ReasonOf(err) != xmlsig.ReasonRevocationUnknown || r.hits.Load() != 0 {
		t.Fatalf("GOST: %v after %d requests; want revocation_unknown without asking", err, r.hits.Load())
	}
}

type fixedChecker struct{ err error }

func (f fixedChecker) Check(context.Context, *x509.Certificate, *x509.Certificate, time.Time) error {
	return f.err
}

func TestEitherGood(t *testing.T) {
	revoked := &xmlsig.Error{Reason: xmlsig.ReasonRevoked}
	unknown := &xmlsig.Error{Reason: xmlsig.ReasonRevocationUnknown}
	other := errors.New("boom")
	tests := []struct {
		name          string
		first, second error
		want          xmlsig.Reason
	}{
		{"BothGood", nil, nil, ""},
		{"FirstRevoked", revoked, nil, xmlsig.ReasonRevoked},
		{"SecondRevoked", nil, revoked, xmlsig.ReasonRevoked},
		{"RevokedBeatsUnknown", unknown, revoked, xmlsig.ReasonRevoked},
		{"OCSPDownCRLGood", unknown, nil, ""},
		{"CRLStaleOCSPGood", nil, other, ""},
		{"BothUnknown", unknown, other, xmlsig.ReasonRevocationUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := xmlsig.EitherGood{First: fixedChecker{tt.first}, Second: fixedChecker{tt.second}}
			err := c.Check(context.Background(), nil, nil, time.Now())
			if got := xmlsig.ReasonOf(err); got != tt.want || (tt.want == "" && err != nil) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzOCSPAnswer: whatever a responder (or someone between us and it) answers, the checker
// never panics and never calls a certificate good on an answer the issuer did not sign.
func FuzzOCSPAnswer(f *testing.F) {
	ca, err := xmlsigtest.NewCA()
	if err != nil {
		f.Fatal(err)
	}
	other, err := xmlsigtest.NewCAWithOptions(xmlsigtest.CAOptions{})
	if err != nil {
		f.Fatal(err)
	}
	p, err := ca.Issue(xmlsigtest.PersonOptions{})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	forged, err := other.OCSPResponse(p, ocsp.Good, now.Add(-time.Minute), now.Add(time.Hour), time.Time{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(forged)
	f.Add([]byte{0x30, 0x03, 0x0a, 0x01, 0x00})
	f.Add([]byte("<html>"))
	var body atomic.Pointer[[]byte]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(*body.Load()) }))
	f.Cleanup(srv.Close)
	c, err := xmlsig.NewOCSPChecker(xmlsig.OCSPOptions{URL: srv.URL, CacheSize: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		body.Store(&b)
		if err := c.Check(context.Background(), p.Cert, ca.Intermediate, now); err == nil {
			t.Fatalf("an answer not signed by the issuer was taken as good: %x", b)
		}
	})
}

// BenchmarkOCSPCached is a check answered from the cache (the common case: a parent who
// signs again within the answer's validity).
func BenchmarkOCSPCached(b *testing.B) {
	ca, err := xmlsigtest.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	p, err := ca.Issue(xmlsigtest.PersonOptions{})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	der, err := ca.OCSPResponse(p, ocsp.Good, now.Add(-time.Minute), now.Add(time.Hour), time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(der) }))
	b.Cleanup(srv.Close)
	c, err := xmlsig.NewOCSPChecker(xmlsig.OCSPOptions{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Check(ctx, p.Cert, ca.Intermediate, now); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := c.Check(ctx, p.Cert, ca.Intermediate, now); err != nil {
			b.Fatal(err)
		}
	}
}
