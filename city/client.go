package city

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kezekbot/kezekbot"
)

// Endpoint names, as metrics and errors spell them.
const (
	EndpointSearch      = "search"
	EndpointApplication = "application"
	EndpointRevoke      = "revoke"
	EndpointChanges     = "changes"
)

// Request results, as metrics spell them.
const (
	ResultOK          = "ok"
	ResultNotFound    = "not_found"   // 404 with a not_found problem
	ResultRefused     = "refused"     // 4xx with another problem code
	ResultUnavailable = "unavailable" // 5xx, 429, 401/403, network
	ResultTimeout     = "timeout"     // no answer before the deadline
	ResultContract    = "contract"    // an answer the contract does not allow
)

// Body limits: a list or one application is small (a parent's dozen applications with
// histories is tens of KiB); a change page carries up to a thousand snapshots.
const (
	DefaultMaxBody        = 4 << 20
	DefaultMaxChangesBody = 16 << 20
)

// Default deadlines of one request when the caller's context has none.
const (
	DefaultTimeout        = 1500 * time.Millisecond // reads: a parent is waiting for the card
	DefaultRevokeTimeout  = 10 * time.Second        // the worker retries; give the city time
	DefaultChangesTimeout = 10 * time.Second        // a page of up to a thousand snapshots
)

// Metrics receives one observation per request. *metrics.Metrics implements it.
type Metrics interface {
	CityRequest(endpoint, result string, d time.Duration)
}

// ErrUnauthorized is inside the *Unavailable of a 401 or 403: the city refused kezekbot's
// credentials. Retrying helps only after an operator fixes the token or certificate.
var ErrUnauthorized = errors.New("the city refused kezekbot's credentials")

// Config configures a Client. BaseURL is required; authentication is a bearer Token, a client
// certificate (CertFile and KeyFile, PEM), or both. CAFile (PEM) replaces the system roots for
// checking the city's server certificate.
type Config struct {
	BaseURL  string
	Token    string
	CertFile string
	KeyFile  string
	CAFile   string
	// Timeout bounds a search or an application read when the caller's context has no
	// deadline (default DefaultTimeout). A deadline on the context wins, longer or shorter.
	Timeout time.Duration
	// RevokeTimeout and ChangesTimeout do the same for revocations and change pages.
	RevokeTimeout  time.Duration
	ChangesTimeout time.Duration
	// MaxBody and MaxChangesBody limit answer bodies (defaults DefaultMaxBody and
	// DefaultMaxChangesBody); a longer answer is a *ContractError.
	MaxBody        int64
	MaxChangesBody int64
	// HTTPClient replaces the client built from the TLS settings (tests). Redirects are
	// never followed either way.
	HTTPClient *http.Client
	Metrics    Metrics
}

// Client is an HTTP client of the city's queue system (api/queue.yaml). It is safe for
// concurrent use. It logs nothing: errors name the endpoint and what was wrong, never an IIN,
// the token or a signed document.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	cfg   Config
	now   func() time.Time
}

// NewClient checks cfg and builds a client. Certificate files are read once, here.
func NewClient(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, kezekbot.Errorf(kezekbot.EINVALID, "city: base URL must be an http(s) URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, kezekbot.Errorf(kezekbot.EINVALID, "city: base URL must carry no credentials, query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if strings.ContainsAny(cfg.Token, "\r\n") {
		return nil, kezekbot.Errorf(kezekbot.EINVALID, "city: token must be one line")
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, kezekbot.Errorf(kezekbot.EINVALID, "city: a client certificate needs both the certificate and the key file")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RevokeTimeout <= 0 {
		cfg.RevokeTimeout = DefaultRevokeTimeout
	}
	if cfg.ChangesTimeout <= 0 {
		cfg.ChangesTimeout = DefaultChangesTimeout
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxChangesBody <= 0 {
		cfg.MaxChangesBody = DefaultMaxChangesBody
	}
	c := &Client{base: u, token: cfg.Token, cfg: cfg, now: time.Now}
	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient
		c.hc = &hc
	} else {
		tc, err := TLSConfig(cfg.CertFile, cfg.KeyFile, cfg.CAFile)
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		tr.MaxIdleConnsPerHost = 32
		c.hc = &http.Client{Transport: tr}
	}
	// A redirect could carry the bearer token or a revocation somewhere the operator did not
	// configure; the contract has none.
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

// TLSConfig builds the TLS settings of a city connection: a client certificate when certFile
// and keyFile are set, and caFile as the only roots when set.
func TLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, kezekbot.Errorf(kezekbot.EINVALID, "city: client certificate: %v", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, kezekbot.Errorf(kezekbot.EINVALID, "city: CA file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, kezekbot.Errorf(kezekbot.EINVALID, "city: CA file %s holds no PEM certificate", caFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// Applications returns the applications of the applicant iin (POST /v1/applications/search).
// Every one is checked with Detail and must belong to iin.
func (c *Client) Applications(ctx context.Context, iin kezekbot.IIN) ([]Application, error) {
	if iin.IsZero() {
		return nil, kezekbot.Errorf(kezekbot.EINVALID, "city: search needs an applicant IIN")
	}
	body, _ := json.Marshal(SearchRequest{ApplicantIIN: iin})
	var out ApplicationList
	err := c.do(ctx, EndpointSearch, http.MethodPost, "/v1/applications/search", nil, body, func(b []byte) error {
		return decodeApplications(b, iin, &out)
	})
	return out.Applications, err
}

// Application returns one application with its referrals, history and documents
// (GET /v1/applications/{id}, header X-Applicant-IIN). An application that does not exist or
// belongs to another applicant is a *Problem with code not_found.
func (c *Client) Application(ctx context.Context, iin kezekbot.IIN, id int64) (Application, error) {
	if iin.IsZero() || id <= 0 {
		return Application{}, kezekbot.Errorf(kezekbot.EINVALID, "city: an application read needs an IIN and a positive id")
	}
	h := http.Header{HeaderApplicantIIN: {iin.Digits()}}
	var out Application
	err := c.do(ctx, EndpointApplication, http.MethodGet, "/v1/applications/"+strconv.FormatInt(id, 10), h, nil, func(b []byte) error {
		return decodeApplication(b, iin, id, &out)
	})
	return out, err
}

// Revoke sends a signed revocation (POST /v1/revocations, header Idempotency-Key). A refusal
// is a *Problem with a code from RefusalCodes; the same request may be sent again any number
// of times, and the city answers a repeat as it answered the first.
func (c *Client) Revoke(ctx context.Context, req RevokeRequest) (RevokeAccepted, error) {
	if err := req.Validate(); err != nil {
		return RevokeAccepted{}, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return RevokeAccepted{}, fmt.Errorf("city: encode revocation: %w", err)
	}
	h := http.Header{HeaderIdempotencyKey: {req.IdempotencyKey}}
	var out RevokeAccepted
	err = c.do(ctx, EndpointRevoke, http.MethodPost, "/v1/revocations", h, body, func(b []byte) error {
		return decodeRevokeAccepted(b, req, &out)
	})
	return out, err
}

// Changes returns the changes after the cursor after ("" is the beginning of the feed), at
// most limit of them (0: the city's default). Every change is checked with Validate.
func (c *Client) Changes(ctx context.Context, after string, limit int) (ChangePage, error) {
	if len(after) > MaxCursorLen || limit < 0 || limit > MaxPageLimit {
		return ChangePage{}, kezekbot.Errorf(kezekbot.EINVALID, "city: cursor longer than %d bytes or limit outside 0..%d", MaxCursorLen, MaxPageLimit)
	}
	q := url.Values{}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/v1/changes"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out ChangePage
	err := c.do(ctx, EndpointChanges, http.MethodGet, path, nil, nil, func(b []byte) error {
		return decodeChangePage(b, after, limit, &out)
	})
	return out, err
}

// Header names of the contract.
const (
	HeaderApplicantIIN   = "X-Applicant-IIN"
	HeaderIdempotencyKey = "Idempotency-Key"
)

// Contract limits outside the shapes.
const (
	MaxCursorLen         = 1024
	MaxPageLimit         = 1000
	MaxIdempotencyKeyLen = 128
)

// Validate checks a revocation before it is sent (kezekbot's own bug would otherwise come
// back as the city's invalid_request).
func (r RevokeRequest) Validate() error {
	switch {
	case r.IdempotencyKey == "" || len(r.IdempotencyKey) > MaxIdempotencyKeyLen || !printableASCII(r.IdempotencyKey):
		return kezekbot.Errorf(kezekbot.EINVALID, "city: idempotency key must be 1..%d printable ASCII characters", MaxIdempotencyKeyLen)
	case r.ApplicantIIN.IsZero():
		return kezekbot.Errorf(kezekbot.EINVALID, "city: revocation needs the applicant IIN")
	case r.ApplicationID <= 0 || r.ReferralID <= 0:
		return kezekbot.Errorf(kezekbot.EINVALID, "city: revocation needs positive application and referral ids")
	case strings.TrimSpace(r.Reason) == "":
		return kezekbot.Errorf(kezekbot.EINVALID, "city: revocation needs a reason")
	case r.SignedXML == "":
		return kezekbot.Errorf(kezekbot.EINVALID, "city: revocation needs the signed XML")
	case r.SignedAt.IsZero() || r.CertSerial == "" || r.CertIssuer == "":
		return kezekbot.Errorf(kezekbot.EINVALID, "city: revocation needs the signing time and the certificate's serial and issuer")
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// do sends one request and hands a 2xx body to decode. Every failure becomes a *Problem, an
// *Unavailable or a *ContractError; the metrics get one observation.
func (c *Client) do(ctx context.Context, endpoint, method, path string, h http.Header, body []byte, decode func([]byte) error) (err error) {
	start := c.now()
	result := ResultOK
	defer func() {
		if c.cfg.Metrics != nil {
			c.cfg.Metrics.CityRequest(endpoint, result, time.Since(start))
		}
	}()
	timeout, limit := c.cfg.Timeout, c.cfg.MaxBody
	switch endpoint {
	case EndpointRevoke:
		timeout = c.cfg.RevokeTimeout
	case EndpointChanges:
		timeout, limit = c.cfg.ChangesTimeout, c.cfg.MaxChangesBody
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		result = ResultContract
		return &ContractError{Endpoint: endpoint, Err: err}
	}
	for k, v := range h {
		req.Header.Set(k, v[0]) // canonical keys: X-Applicant-IIN goes out as X-Applicant-Iin
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "kezekbot-city/"+Version)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		result = ResultUnavailable
		if ctx.Err() != nil {
			result = ResultTimeout
			return &Unavailable{Err: fmt.Errorf("%s: no answer in time: %w", endpoint, ctx.Err())}
		}
		return &Unavailable{Err: fmt.Errorf("%s: %w", endpoint, stripURL(err))}
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if rerr != nil {
		result = ResultUnavailable
		if ctx.Err() != nil {
			result = ResultTimeout
		}
		return &Unavailable{Err: fmt.Errorf("%s: reading the answer: %w", endpoint, stripURL(rerr))}
	}
	err = interpret(endpoint, resp.StatusCode, resp.Header, b, limit, c.now(), decode)
	result = resultOf(err)
	return err
}

// interpret maps one answer to the client's result; it does no I/O, so the fuzz test drives
// it directly.
func interpret(endpoint string, status int, h http.Header, b []byte, limit int64, now time.Time, decode func([]byte) error) error {
	contract := func(format string, args ...any) error {
		return &ContractError{Endpoint: endpoint, Err: fmt.Errorf(format, args...)}
	}
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return &Unavailable{RetryAfter: parseRetryAfter(h.Get("Retry-After"), now), Err: fmt.Errorf("%s: HTTP %d", endpoint, status)}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &Unavailable{Err: fmt.Errorf("%s: HTTP %d: %w", endpoint, status, ErrUnauthorized)}
	}
	if int64(len(b)) > limit {
		return contract("answer larger than %d bytes", limit)
	}
	switch {
	case status >= 200 && status < 300:
		if !isJSON(h.Get("Content-Type"), false) {
			return contract("HTTP %d with content type %q, want application/json", status, trimCT(h.Get("Content-Type")))
		}
		if err := decode(b); err != nil {
			var ce *ContractError
			if errors.As(err, &ce) {
				return err
			}
			return &ContractError{Endpoint: endpoint, Err: err}
		}
		return nil
	case status == http.StatusBadRequest || status == http.StatusNotFound || status == http.StatusConflict || status == http.StatusUnprocessableEntity:
		if !isJSON(h.Get("Content-Type"), true) {
			return contract("HTTP %d with content type %q, want application/problem+json", status, trimCT(h.Get("Content-Type")))
		}
		var p Problem
		if err := strictDecode(b, &p); err != nil {
			return contract("HTTP %d: problem: %v", status, err)
		}
		if !slices.Contains(RefusalCodes, p.Code) {
			return contract("HTTP %d: problem code %q is not in the closed list", status, truncate(p.Code, 40))
		}
		if status == http.StatusNotFound && p.Code != RefuseNotFound {
			return contract("HTTP 404 with problem code %q, want not_found", p.Code)
		}
		if len(p.Message) > 1000 {
			p.Message = p.Message[:1000]
		}
		return &p
	}
	return contract("unexpected HTTP %d", status)
}

func resultOf(err error) string {
	var (
		p  *Problem
		u  *Unavailable
		ce *ContractError
	)
	switch {
	case err == nil:
		return ResultOK
	case errors.As(err, &p):
		if p.Code == RefuseNotFound {
			return ResultNotFound
		}
		return ResultRefused
	case errors.As(err, &u):
		if errors.Is(err, context.DeadlineExceeded) {
			return ResultTimeout
		}
		return ResultUnavailable
	case errors.As(err, &ce):
		return ResultContract
	}
	return ResultContract
}

// stripURL drops the URL from a *url.Error: the message stays, the base URL (an internal host
// an operator may not want in parents' error reports) does not.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}

func isJSON(ct string, problem bool) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (problem && mt == "application/problem+json")
}

func trimCT(ct string) string { return truncate(ct, 60) }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; anything else, or a time in
// the past, is 0. It is capped at an hour: a city asking for more is treated as down and
// asked again then.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > 3600 {
			n = 3600
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), time.Hour)
}

// strictDecode decodes exactly one JSON value with no unknown fields and nothing after it.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

func decodeApplications(b []byte, iin kezekbot.IIN, out *ApplicationList) error {
	if err := strictDecode(b, out); err != nil {
		return err
	}
	if out.Applications == nil {
		return errors.New(`"applications" is required (an empty list when there are none)`)
	}
	for i, a := range out.Applications {
		if _, err := a.Detail(); err != nil {
			return fmt.Errorf("applications[%d]: %w", i, err)
		}
		if !a.Applicant.IIN.Equal(iin) {
			// Someone else's application in a parent's list is the worst answer there is.
			return fmt.Errorf("applications[%d] belongs to another applicant", i)
		}
	}
	return nil
}

func decodeApplication(b []byte, iin kezekbot.IIN, id int64, out *Application) error {
	if err := strictDecode(b, out); err != nil {
		return err
	}
	if _, err := out.Detail(); err != nil {
		return err
	}
	if out.ID != id {
		return fmt.Errorf("asked for application %d, got %d", id, out.ID)
	}
	if !out.Applicant.IIN.Equal(iin) {
		return fmt.Errorf("application %d belongs to another applicant", id)
	}
	return nil
}

func decodeRevokeAccepted(b []byte, req RevokeRequest, out *RevokeAccepted) error {
	if err := strictDecode(b, out); err != nil {
		return err
	}
	a := out.Application
	if _, err := a.Detail(); err != nil {
		return err
	}
	switch {
	case a.ID != req.ApplicationID:
		return fmt.Errorf("revoked in application %d, got application %d", req.ApplicationID, a.ID)
	case !a.Applicant.IIN.Equal(req.ApplicantIIN):
		return fmt.Errorf("application %d belongs to another applicant", a.ID)
	case out.Status != a.Status || out.QueueNumber != a.QueueNumber || out.BenefitQueueNumber != a.BenefitQueueNumber:
		return errors.New("status or queue numbers differ from the application's")
	}
	i := slices.IndexFunc(a.Referrals, func(r Referral) bool { return r.ID == req.ReferralID })
	if i < 0 || a.Referrals[i].State != string(kezekbot.ReferralRevoked) {
		return fmt.Errorf("accepted, but referral %d is not revoked in the application", req.ReferralID)
	}
	return nil
}

func decodeChangePage(b []byte, after string, limit int, out *ChangePage) error {
	if err := strictDecode(b, out); err != nil {
		return err
	}
	if out.Changes == nil {
		return errors.New(`"changes" is required (an empty list when there are none)`)
	}
	if limit > 0 && len(out.Changes) > limit {
		return fmt.Errorf("asked for at most %d changes, got %d", limit, len(out.Changes))
	}
	if len(out.Next) > MaxCursorLen {
		return fmt.Errorf("next cursor longer than %d bytes", MaxCursorLen)
	}
	if out.Next == "" && (after != "" || len(out.Changes) > 0) {
		return errors.New(`"next" is required once there is a cursor`)
	}
	if len(out.Changes) == 0 && out.Next != after && after != "" {
		return errors.New(`an empty page must give back the cursor it was asked with`)
	}
	for i, ch := range out.Changes {
		if err := ch.Validate(); err != nil {
			return fmt.Errorf("changes[%d]: %w", i, err)
		}
	}
	return nil
}
