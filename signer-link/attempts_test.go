package signerlink_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/flows"
	signerlink "github.com/kezekbot/kezekbot/signer-link"
	"github.com/kezekbot/kezekbot/signer-link/fakeegov"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
)

func withAttempts(max int) envOption {
	return func(c *signerlink.Config) { c.MaxFailedAttempts = max }
}

// countingVerifier counts the signatures that reach verification.
type countingVerifier struct {
	signerlink.Verifier
	mu sync.Mutex
	n  int
}

func (v *countingVerifier) Verify(ctx context.Context, doc []byte, p xmlsig.Policy) (*xmlsig.Result, error) {
	v.mu.Lock()
	v.n++
	v.mu.Unlock()
	return v.Verifier.Verify(ctx, doc, p)
}

// TestAttemptLimit: failed signatures of every kind spend a link's attempts on the page's
// POST; the one that spends the last answers 410 attempts_exhausted in the page's language
// and tells the chat once; the right signature after that finds no link. Failures that are
// ours (revocation status unknown) spend nothing.
func TestAttemptLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withAttempts(3))
	stranger, err := e.ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign, IIN: e.iin().Digits()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		lang flows.Lang
		bad  func(doc []byte, p parent) []byte
		text string
	}{
		{"WrongKey", flows.Russian, func(doc []byte, p parent) []byte { return e.sign(doc, p.Auth) }, "Слишком много неудачных попыток"},
		{"WrongIIN", flows.Kazakh, func(doc []byte, _ parent) []byte { return e.sign(doc, stranger) }, "сәтсіз әрекеттері тым көп"},
		{"BadSignature", flows.Russian, func(doc []byte, p parent) []byte { return tamper(e.sign(doc, p.Sign)) }, "запросите новую ссылку"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := e.parent(time.Hour)
			link := e.issueRevoke(p, tt.lang)
			b := e.browser()
			b.open(link.URL)
			doc := b.document()
			for i := range 2 {
				if r := b.post(tt.bad(doc, p)); r.Status == http.StatusGone || !r.Retry {
					t.Fatalf("attempt %d: %d %q retry=%v", i+1, r.Status, r.Reason, r.Retry)
				}
			}
			r := b.post(tt.bad(doc, p))
			wantStatus(t, r, http.StatusGone, "attempts_exhausted")
			if r.Retry || !strings.Contains(r.Message, tt.text) || r.Back == "" {
				t.Fatalf("spent answer: %+v", r)
			}
			got := e.res.next(t)
			if s, ok := got.Event.(flows.Signed); !ok || got.ChatID != p.ChatID || s.Rejected != flows.RejectedSpent || s.Nonce != link.Nonce {
				t.Fatalf("chat told %+v", got)
			}
			e.res.none(t)
			// The right key now finds the link gone.
			wantStatus(t, b.post(e.sign(doc, p.Sign)), http.StatusNotFound, "link_used")
			e.res.none(t)
		})
	}
}

func TestAttemptLimitSparesOurOutages(t *testing.T) {
	t.Parallel()
	ca, err := xmlsigtest.NewCA() // the process-wide CA, the env's too
	if err != nil {
		t.Fatal(err)
	}
	v, err := ca.Verifier(xmlsig.WithRevocation(unknownStatus{}))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withAttempts(2), func(c *signerlink.Config) { c.Verifier = v })
	p := e.parent(time.Hour)
	link := e.issueRevoke(p, flows.Russian)
	b := e.browser()
	b.open(link.URL)
	doc := b.document()
	for range 4 {
		wantStatus(t, b.post(e.sign(doc, p.Sign)), http.StatusServiceUnavailable, "revocation_unknown")
	}
	e.res.none(t)
	if code := b.open(link.URL); code != http.StatusOK {
		t.Fatalf("link after our own failures: %d", code)
	}
}

// unknownStatus is a revocation checker that never learns the status.
type unknownStatus struct{}

func (unknownStatus) Check(context.Context, *x509.Certificate, *x509.Certificate, time.Time) error {
	return &xmlsig.Error{Reason: xmlsig.ReasonRevocationUnknown, Detail: "responder down"}
}

// TestAttemptLimitParallel: 20 bad signatures at once on one link, by the page's POST and by
// eGov mobile's PUT together, never get more than the limit to verification, and the chat is
// told once.
func TestAttemptLimitParallel(t *testing.T) {
	t.Parallel()
	const max = 5
	cv := &countingVerifier{}
	e := newEnv(t, withAttempts(max), egovOn, func(c *signerlink.Config) {
		cv.Verifier = c.Verifier
		c.Verifier = cv
	})
	p := e.parent(time.Hour)
	ctx := context.Background()
	link := e.issueBind(p)
	b := e.browser()
	b.open(link.URL)
	doc := b.document()
	app := e.app(p, fakeegov.WrongKey)
	a1, _, err := app.Open(ctx, link.URL+"/egov")
	if err != nil || a1 == nil {
		t.Fatal(err)
	}
	edoc, _, err := app.Fetch(ctx, a1.Document.URI, a1.Document.AuthToken)
	if err != nil || edoc == nil {
		t.Fatal(err)
	}
	put, err := app.SignDocument(edoc)
	if err != nil {
		t.Fatal(err)
	}
	post := e.sign(doc, p.Sign) // SIGN key where bind needs AUTH
	var mu sync.Mutex
	reasons := map[string]int{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			var reason string
			if i%2 == 0 {
				reason = b.post(post).Reason
			} else {
				ans, err := app.Put(ctx, a1.Document.URI, a1.Document.AuthToken, put)
				if err != nil {
					t.Error(err)
				}
				reason = ans.Code
			}
			mu.Lock()
			reasons[reason]++
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("20 parallel bad attempts, limit %d: %d verified, answers %v", max, cv.n, reasons)
	if cv.n > max {
		t.Fatalf("%d signatures verified, limit %d (answers %v)", cv.n, max, reasons)
	}
	if reasons["key_usage"] != max-1 || reasons["attempts_exhausted"] < 1 {
		t.Fatalf("answers %v: want %d key_usage, then attempts_exhausted / link_used / egov_token", reasons, max-1)
	}
	spent := 0
	for {
		select {
		case got := <-e.res.events:
			if s, ok := got.Event.(flows.Signed); ok && s.Rejected == flows.RejectedSpent {
				spent++
			}
			continue
		default:
		}
		break
	}
	if spent != 1 {
		t.Fatalf("chat told %d times that the link is spent, want 1", spent)
	}
}

// TestLinkIssueLimit: a chat gets DefaultLinkIssueRate's burst of links, then
// flows.ErrTooManyLinks; another chat is not affected.
func TestLinkIssueLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *signerlink.Config) { c.LinkIssueRate = nil })
	p, q := e.parent(time.Hour), e.parent(time.Hour)
	tests := []struct {
		name    string
		p       parent
		wantErr bool
	}{
		{"1", p, false}, {"2", p, false}, {"3", p, false}, {"4", p, false}, {"5", p, false},
		{"6th within the minute", p, true},
		{"another chat", q, false},
	}
	for _, tt := range tests {
		_, err := e.svc.Issue(context.Background(), flows.SignRequest{ChatID: tt.p.ChatID, Action: "bind", Lang: flows.Kazakh})
		if got := errors.Is(err, flows.ErrTooManyLinks); got != tt.wantErr || (!tt.wantErr && err != nil) {
			t.Fatalf("%s: err %v, want too-many %v", tt.name, err, tt.wantErr)
		}
	}
}
