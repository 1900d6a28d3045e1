package xmlsig

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSP results reported to OCSPOptions.Observe.
const (
	OCSPGood        = "good"        // the responder (or the cache) says good
	OCSPRevoked     = "revoked"     // revoked at or before the verification time
	OCSPUnknown     = "unknown"     // the responder does not know the certificate
	OCSPError       = "error"       // unreachable, timed out, non-200, garbage, bad signature
	OCSPStale       = "stale"       // a well-signed answer that does not cover the verification time
	OCSPUnsupported = "unsupported" // a GOST certificate, or no responder URL
)

// Defaults of OCSPOptions.
const (
	DefaultOCSPTimeout   = 3 * time.Second
	DefaultOCSPCacheSize = 10_000
	// DefaultOCSPMaxAge is how long an answer without nextUpdate is believed (and cached).
	DefaultOCSPMaxAge = time.Hour
	// ocspSkew tolerates a responder clock a little ahead of ours.
	ocspSkew = 5 * time.Minute
	// maxOCSPResponse caps what is read from a responder: NCA's answers are ~2 KiB, with the
	// responder's certificate.
	maxOCSPResponse = 64 << 10
)

// OCSPOptions configure NewOCSPChecker. The zero value asks the certificate's own responder
// (its AIA OCSP URL) with DefaultOCSPTimeout and caches DefaultOCSPCacheSize answers.
type OCSPOptions struct {
	// URL, when set, is asked instead of the certificate's AIA OCSP URL (NCA RK's is
	// http://ocsp.pki.gov.kz/; a local relay or a test responder in tests).
	URL string
	// Timeout bounds one request to the responder.
	Timeout time.Duration
	// CacheSize bounds the cached answers (one per certificate).
	CacheSize int
	// MaxAge is how long an answer without nextUpdate counts as fresh.
	MaxAge time.Duration
	// Hash names the CertID hash of requests: crypto.SHA256 (the default: what NCANode, which
	// talks to NCA's responder in production, sends) or crypto.SHA1 (RFC 5019's, what most
	// other responders expect).
	Hash crypto.Hash
	// Client sends the requests; a client without redirects when nil.
	Client *http.Client
	// Observe, when set, is told every check's result (the OCSP* constants) and whether the
	// answer came from the cache (metrics).
	Observe func(result string, cached bool)
}

// OCSPChecker asks an OCSP responder whether a certificate was revoked (RFC 6960). It
// implements RevocationChecker and fails closed: an answer it cannot get, read, verify or
// date is ReasonRevocationUnknown, never good.
//
// What is checked: the answer's signature, by the issuer itself or by a responder certificate
// the issuer signed (x/crypto/ocsp; the responder certificate's id-kp-OCSPSigning EKU is not
// required, as NCANode does not either); that it is about this serial; and that it covers the
// verification time (thisUpdate ≤ at ≤ nextUpdate, or at most MaxAge old without nextUpdate).
// Answers that hold (good or revoked) are cached, bounded, until they stop covering the time
// asked about. Requests carry a SHA-256 CertID by default (OCSPOptions.Hash).
//
// GOST certificates are refused (ReasonRevocationUnknown, result "unsupported") without a
// request: a GOST CertID would need a GOST 34.11 hash that x/crypto/ocsp cannot make, and
// NCA's GOST responder signs with GOST, which it cannot verify. Use CRLs for GOST
// (KEZEKBOT_REVOCATION=both checks RSA by OCSP and CRL, GOST by CRL).
type OCSPChecker struct {
	o      OCSPOptions
	client *http.Client

	mu    sync.Mutex
	cache map[ocspKey]ocspEntry
}

type ocspKey struct {
	issuer [32]byte
	serial string
}

type ocspEntry struct {
	revoked           bool
	revokedAt         time.Time
	thisUpdate, fresh time.Time // fresh: until when the answer covers a verification time
}

// NewOCSPChecker returns a checker; see OCSPOptions for the defaults.
func NewOCSPChecker(o OCSPOptions) (*OCSPChecker, error) {
	if o.URL != "" {
		u, err := url.Parse(o.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("ocsp: responder URL must be an http(s) URL, got %q", o.URL)
		}
	}
	switch o.Hash {
	case 0:
		o.Hash = crypto.SHA256
	case crypto.SHA1, crypto.SHA256:
	default:
		return nil, fmt.Errorf("ocsp: CertID hash must be SHA-1 or SHA-256")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultOCSPTimeout
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultOCSPCacheSize
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultOCSPMaxAge
	}
	client := o.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &OCSPChecker{o: o, client: client, cache: make(map[ocspKey]ocspEntry)}, nil
}

func (c *OCSPChecker) observe(result string, cached bool) {
	if c.o.Observe != nil {
		c.o.Observe(result, cached)
	}
}

// Check implements RevocationChecker.
func (c *OCSPChecker) Check(ctx context.Context, leaf, issuer *x509.Certificate, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ocsp check: %w", err)
	}
	if leaf == nil || issuer == nil || leaf.SerialNumber == nil {
		return newError(ReasonRevocationUnknown, "ocsp check: no issuer certificate")
	}
	if isGOST2015Key(issuer) || isGOST2015Key(leaf) {
		c.observe(OCSPUnsupported, false)
		return newError(ReasonRevocationUnknown, "ocsp check: GOST certificates are not supported by OCSP here (GOST CertID hash and GOST-signed answers); check them by CRL")
	}
	key := ocspKey{issuer: sha256.Sum256(issuer.Raw), serial: leaf.SerialNumber.Text(16)}
	if e, ok := c.cached(key, at); ok {
		return c.verdict(e, leaf, at, true)
	}
	server := c.o.URL
	if server == "" {
		for _, s := range leaf.OCSPServer {
			if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
				server = s
				break
			}
		}
	}
	if server == "" {
		c.observe(OCSPUnsupported, false)
		return newError(ReasonRevocationUnknown, "ocsp check: the certificate names no OCSP responder and none is configured")
	}
	resp, err := c.ask(ctx, server, leaf, issuer)
	if err != nil {
		c.observe(OCSPError, false)
		return newError(ReasonRevocationUnknown, "ocsp check: %v", err)
	}
	if resp.Status == ocsp.Unknown {
		c.observe(OCSPUnknown, false)
		return newError(ReasonRevocationUnknown, "ocsp check: the responder does not know certificate serial %x", leaf.SerialNumber)
	}
	if resp.Status != ocsp.Good && resp.Status != ocsp.Revoked {
		c.observe(OCSPError, false)
		return newError(ReasonRevocationUnknown, "ocsp check: unexpected status %d", resp.Status)
	}
	e := ocspEntry{revoked: resp.Status == ocsp.Revoked, revokedAt: resp.RevokedAt, thisUpdate: resp.ThisUpdate, fresh: resp.NextUpdate}
	if e.fresh.IsZero() {
		e.fresh = resp.ThisUpdate.Add(c.o.MaxAge)
	}
	if !covers(e, at) {
		c.observe(OCSPStale, false)
		return newError(ReasonRevocationUnknown, "ocsp check: the answer (thisUpdate %s, valid until %s) does not cover %s",
			e.thisUpdate.UTC().Format(time.RFC3339), e.fresh.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	c.store(key, e, at)
	return c.verdict(e, leaf, at, false)
}

func covers(e ocspEntry, at time.Time) bool {
	return !e.thisUpdate.After(at.Add(ocspSkew)) && !at.After(e.fresh)
}

func (c *OCSPChecker) verdict(e ocspEntry, leaf *x509.Certificate, at time.Time, cached bool) error {
	if e.revoked && !e.revokedAt.After(at) {
		c.observe(OCSPRevoked, cached)
		return newError(ReasonRevoked, "certificate serial %x revoked at %s (OCSP)", leaf.SerialNumber, e.revokedAt.UTC().Format(time.RFC3339))
	}
	c.observe(OCSPGood, cached)
	return nil
}

func (c *OCSPChecker) cached(k ocspKey, at time.Time) (ocspEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[k]
	if !ok {
		return ocspEntry{}, false
	}
	if !covers(e, at) {
		if at.After(e.fresh) {
			delete(c.cache, k)
		}
		return ocspEntry{}, false
	}
	return e, true
}

// store keeps e; a full cache first drops answers that went stale, then arbitrary ones (map
// order), so it never grows past CacheSize.
func (c *OCSPChecker) store(k ocspKey, e ocspEntry, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cache[k]; !ok && len(c.cache) >= c.o.CacheSize {
		for kk, ee := range c.cache {
			if at.After(ee.fresh) {
				delete(c.cache, kk)
			}
		}
		for kk := range c.cache {
			if len(c.cache) < c.o.CacheSize {
				break
			}
			delete(c.cache, kk)
		}
	}
	c.cache[k] = e
}

// CacheLen is the number of cached answers (tests, metrics).
func (c *OCSPChecker) CacheLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cache)
}

// ask POSTs one request (RFC 6960 appendix A) and reads and verifies the answer.
func (c *OCSPChecker) ask(ctx context.Context, server string, leaf, issuer *x509.Certificate) (*ocsp.Response, error) {
	req, err := ocsp.CreateRequest(leaf, issuer, &ocsp.RequestOptions{Hash: c.o.Hash})
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, server, bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/ocsp-request")
	hreq.Header.Set("Accept", "application/ocsp-response")
	hresp, err := c.client.Do(hreq)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("responder %s: no answer within %v", hostOf(server), c.o.Timeout)
		}
		return nil, fmt.Errorf("responder %s: %w", hostOf(server), err)
	}
	defer hresp.Body.Close()
	if hresp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("responder %s: HTTP %d", hostOf(server), hresp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(hresp.Body, maxOCSPResponse+1))
	if err != nil {
		return nil, fmt.Errorf("responder %s: read: %w", hostOf(server), err)
	}
	if len(body) > maxOCSPResponse {
		return nil, fmt.Errorf("responder %s: answer over %d bytes", hostOf(server), maxOCSPResponse)
	}
	resp, err := ocsp.ParseResponseForCert(body, leaf, issuer)
	if err != nil {
		return nil, fmt.Errorf("responder %s: %w", hostOf(server), err)
	}
	return resp, nil
}

func hostOf(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Host
	}
	return "?"
}

// EitherGood combines two checkers for KEZEKBOT_REVOCATION=both: the certificate is revoked
// if either says so, and good if neither says revoked and at least one says good. So an OCSP
// outage falls back on the CRLs (and a CRL past nextUpdate on OCSP) without ever letting a
// revocation known to one of them through; with both unknown, the check fails closed.
type EitherGood struct {
	First, Second RevocationChecker
}

// Check implements RevocationChecker.
func (b EitherGood) Check(ctx context.Context, leaf, issuer *x509.Certificate, at time.Time) error {
	e1 := b.First.Check(ctx, leaf, issuer, at)
	if ReasonOf(e1) == ReasonRevoked {
		return e1
	}
	e2 := b.Second.Check(ctx, leaf, issuer, at)
	if ReasonOf(e2) == ReasonRevoked {
		return e2
	}
	if e1 == nil || e2 == nil {
		return nil
	}
	return newError(ReasonRevocationUnknown, "%v; %v", e1, e2)
}
