package signerlink_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/flows"
	signerlink "github.com/kezekbot/kezekbot/signer-link"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig"
	"github.com/kezekbot/kezekbot/signer-link/xmlsig/xmlsigtest"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
	redisstore "github.com/kezekbot/kezekbot/store/redis"
)

// redisDB is the Redis database number assigned to this package's tests.
const redisDB = 3

var (
	_ signerlink.Store     = (*postgres.DB)(nil)
	_ signerlink.LinkStore = (*redisstore.Store)(nil)
	_ signerlink.Verifier  = (*xmlsig.Verifier)(nil)
)

// clock is a settable clock shared by the service and the database, so a test can let 24 hours
// or a link's lifetime pass. It starts at real time because the test CA's certificates are
// valid from an hour ago.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock() *clock {
	c := &clock{}
	now := time.Now().Truncate(time.Second)
	c.t.Store(&now)
	return c
}

func (c *clock) Now() time.Time { return *c.t.Load() }

func (c *clock) Advance(d time.Duration) {
	now := c.Now().Add(d)
	c.t.Store(&now)
}

// resumer records the events the service reports; it stands in for the bot's intake.
type resumer struct {
	mu     sync.Mutex
	events chan injected
	fail   error
}

type injected struct {
	ChatID int64
	Event  flows.Event
}

func newResumer() *resumer { return &resumer{events: make(chan injected, 16)} }

func (r *resumer) Inject(_ context.Context, chatID int64, ev flows.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events <- injected{chatID, ev}
	return r.fail
}

// next waits for the next event, with a deadline.
func (r *resumer) next(t *testing.T) injected {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event reported to the chat within 10s")
		return injected{}
	}
}

// none checks that nothing was reported (everything the handler does is synchronous, so by
// the time the response is read an event would already be queued).
func (r *resumer) none(t *testing.T) {
	t.Helper()
	select {
	case ev := <-r.events:
		t.Fatalf("unexpected event for chat %d: %#v", ev.ChatID, ev.Event)
	default:
	}
}

// env is one signer-link wired to real PostgreSQL and Redis, a test CA and an HTTP server.
type env struct {
	t       *testing.T
	clock   *clock
	db      *postgres.DB
	links   *redisstore.Store
	ca      *xmlsigtest.CA
	gostCA  *xmlsigtest.CA // GOST-2015-512 keys; trusted beside ca, as a real trust dir holds both
	ver     *xmlsig.Verifier
	res     *resumer
	srv     *httptest.Server
	handler atomic.Pointer[http.Handler]
	svc     *signerlink.Service
	keys    signerlink.Keys
	logs    *bytes.Buffer
	logMu   *sync.Mutex

	kindergarten int64
	serial       atomic.Int64
}

type envOption func(*signerlink.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, clock: newClock(), res: newResumer(), logs: &bytes.Buffer{}, logMu: &sync.Mutex{}}
	e.db = pgtest.New(t)
	e.db.Now = e.clock.Now

	var b [6]byte
	_, _ = rand.Read(b[:])
	ls, err := redisstore.Open(context.Background(), redisstore.TestURL(redisDB), redisstore.Options{Prefix: "sl" + hex.EncodeToString(b[:]) + ":"})
	if err != nil {
		t.Fatalf("open redis (DB %d): %v", redisDB, err)
	}
	t.Cleanup(func() { _ = ls.Close() })
	e.links = ls

	e.ca, err = xmlsigtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	e.gostCA, err = xmlsigtest.NewGOSTCA()
	if err != nil {
		t.Fatal(err)
	}
	e.ver, err = xmlsig.NewVerifier(xmlsigtest.TrustStoreOf(e.ca, e.gostCA))
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*e.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.keys = signerlink.Keys{Current: key(1)}
	e.svc = e.newService(opts...)
	e.mount(e.svc)
	if err := e.db.Pool().QueryRow(context.Background(), `INSERT INTO kindergartens (name, address, lat, lon)
		VALUES ($1, 'г. Астана, ул. Сыганак, 10', 51.128, 71.430) RETURNING id`, `Ясли-сад №7 «Балдырған» <&>`).Scan(&e.kindergarten); err != nil {
		t.Fatalf("add kindergarten: %v", err)
	}
	return e
}

func key(id byte) signerlink.Key {
	return signerlink.Key{ID: id, Secret: bytes.Repeat([]byte{id, 0x5a}, 16)}
}

// newService builds another service over the same stores (e.g. with rotated keys).
func (e *env) newService(opts ...envOption) *signerlink.Service {
	e.t.Helper()
	cfg := signerlink.Config{
		PublicURL: e.srv.URL,
		Keys:      e.keys,
		Links:     e.links,
		Store:     e.db,
		Verifier:  e.ver,
		Resumer:   e.res,
		Logger:    slog.New(slog.NewTextHandler(lockedWriter{e.logMu, e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       e.clock.Now,
		// Limits off: tests of other things post many times from one address (ratelimit_test
		// turns them on).
		SignLimits: &signerlink.SignLimits{},
		// Attempt limits off too (attempts_test turns them on).
		MaxFailedAttempts: -1,
		LinkIssueRate:     &signerlink.Rate{},
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := signerlink.New(cfg)
	if err != nil {
		e.t.Fatalf("new service: %v", err)
	}
	return svc
}

func (e *env) mount(svc *signerlink.Service) {
	mux := http.NewServeMux()
	mux.Handle("/s/", svc.Handler())
	var h http.Handler = mux
	e.handler.Store(&h)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (e *env) logText() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.logs.String()
}

// iin returns a new valid IIN of an adult (born 1990-05-06).
func (e *env) iin() kezekbot.IIN { return e.iinBorn("900506", 4) }

// iinBorn returns a new valid IIN for a birth date YYMMDD and century/sex digit.
func (e *env) iinBorn(yymmdd string, century int) kezekbot.IIN {
	for {
		prefix := fmt.Sprintf("%s%d%04d", yymmdd, century, e.serial.Add(1)%10000)
		if d, ok := kezekbot.IINCheckDigit(prefix); ok {
			return kezekbot.MustParseIIN(fmt.Sprintf("%s%d", prefix, d))
		}
	}
}

// parent is an applicant with both keys and one application with an active referral issued
// refAge ago.
type parent struct {
	IIN        kezekbot.IIN
	Auth, Sign *xmlsigtest.Person
	AppID      int64
	AppNumber  string
	RefID      int64
	ChatID     int64
}

var chatIDs atomic.Int64

func (e *env) parent(refAge time.Duration) parent {
	e.t.Helper()
	return e.parentWith(e.ca, refAge)
}

// gostParent is a parent whose AUTH and SIGN keys are GOST 34.10-2015 512.
func (e *env) gostParent(refAge time.Duration) parent {
	e.t.Helper()
	return e.parentWith(e.gostCA, refAge)
}

func (e *env) parentWith(ca *xmlsigtest.CA, refAge time.Duration) parent {
	e.t.Helper()
	p := parent{IIN: e.iin(), ChatID: 7_000_000 + chatIDs.Add(1)}
	var err error
	if p.Auth, err = ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageAuth, IIN: p.IIN.Digits()}); err != nil {
		e.t.Fatal(err)
	}
	if p.Sign, err = ca.Issue(xmlsigtest.PersonOptions{Usage: xmlsig.UsageSign, IIN: p.IIN.Digits()}); err != nil {
		e.t.Fatal(err)
	}
	n := e.serial.Add(1)
	p.AppNumber = fmt.Sprintf("УО.2021.%06d.1", n)
	child := e.iinBorn("210510", 5)
	issued := e.clock.Now().Add(-refAge)
	reg := time.Date(2021, 6, 1, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	err = pgx.BeginFunc(ctx, e.db.Pool(), func(tx pgx.Tx) error {
		var applicantID, childID int64
		if err := tx.QueryRow(ctx, `INSERT INTO applicants (iin, name, phone, email) VALUES ($1, 'Тест Заявитель', '7770000000', 't@example.kz') RETURNING id`,
			p.IIN.Digits()).Scan(&applicantID); err != nil {
			return fmt.Errorf("applicant: %w", err)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO children (iin, name, birth_date) VALUES ($1, 'Ребёнок Тестовый', '2021-05-10') RETURNING id`,
			child.Digits()).Scan(&childID); err != nil {
			return fmt.Errorf("child: %w", err)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO applications (number, child_id, applicant_id, benefit,
				registered_at, status, status_changed_at, queued_since, queue_number, benefit_queue_number)
			VALUES ($1, $2, $3, 'none', $4, 'referral_issued', $4, $4, $5, 0) RETURNING id`,
			p.AppNumber, childID, applicantID, reg, 100000+n).Scan(&p.AppID); err != nil {
			return fmt.Errorf("application: %w", err)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO referrals (application_id, kindergarten_id, issued_at, state, enrol_before, extendable)
			VALUES ($1, $2, $3, 'active', $4, true) RETURNING id`,
			p.AppID, e.kindergarten, issued, issued.AddDate(0, 0, 5)).Scan(&p.RefID); err != nil {
			return fmt.Errorf("referral: %w", err)
		}
		return nil
	})
	if err != nil {
		e.t.Fatalf("add parent: %v", err)
	}
	return p
}

func (e *env) issueBind(p parent) flows.Link {
	e.t.Helper()
	l, err := e.svc.Issue(context.Background(), flows.SignRequest{ChatID: p.ChatID, Action: kezekbot.ActionBind, Lang: flows.Russian})
	if err != nil {
		e.t.Fatalf("issue bind link: %v", err)
	}
	return l
}

func (e *env) issueRevoke(p parent, lang flows.Lang) flows.Link {
	e.t.Helper()
	l, err := e.svc.Issue(context.Background(), flows.SignRequest{
		ChatID: p.ChatID, Action: kezekbot.ActionRevoke, Lang: lang, IIN: p.IIN,
		ApplicationID: p.AppID, ReferralID: p.RefID, Reason: "Выбрали другой садик </reason><action>bind</action>",
	})
	if err != nil {
		e.t.Fatalf("issue revoke link: %v", err)
	}
	return l
}

// browser is one parent's browser: a cookie jar and the page's CSRF value.
type browser struct {
	e      *env
	c      *http.Client
	link   string
	csrf   string
	page   string
	header http.Header
}

var csrfAttr = regexp.MustCompile(`data-csrf="([^"]+)"`)

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// open GETs the link page and keeps its CSRF value. It returns the status.
func (b *browser) open(link string) int {
	b.e.t.Helper()
	b.link = link
	resp, err := b.c.Get(link)
	if err != nil {
		b.e.t.Fatalf("GET page: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.page = string(body)
	b.header = resp.Header
	if m := csrfAttr.FindStringSubmatch(b.page); m != nil {
		b.csrf = m[1]
	}
	return resp.StatusCode
}

func (b *browser) document() []byte {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.link+"/document", nil)
	req.Header.Set("X-CSRF-Token", b.csrf)
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatalf("GET document: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.e.t.Fatalf("GET document: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		b.e.t.Fatalf("document content type %q", ct)
	}
	return body
}

type result struct {
	Status  int
	OK      bool   `json:"ok"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Retry   bool   `json:"retry"`
	Back    string `json:"back"`
	Header  http.Header
}

// post sends a signed document the way the page's script does.
func (b *browser) post(signed []byte, edit ...func(*http.Request)) result {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.link, bytes.NewReader(signed))
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	req.Header.Set("X-CSRF-Token", b.csrf)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", b.e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for _, f := range edit {
		f(req)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := result{Status: resp.StatusCode, Header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &r); err != nil {
			b.e.t.Fatalf("POST answer is not JSON: %v: %s", err, body)
		}
	} else {
		r.Message = string(body)
	}
	return r
}

// sign signs doc with person p, as NCALayer would.
func (e *env) sign(doc []byte, p *xmlsigtest.Person) []byte {
	e.t.Helper()
	signed, err := xmlsigtest.Sign(doc, p)
	if err != nil {
		e.t.Fatalf("sign: %v", err)
	}
	return signed
}

func (e *env) referralState(p parent) kezekbot.ReferralState {
	e.t.Helper()
	d, err := e.db.Application(context.Background(), p.IIN, p.AppID)
	if err != nil {
		e.t.Fatalf("load application: %v", err)
	}
	for _, r := range d.Referrals {
		if r.ID == p.RefID {
			return r.State
		}
	}
	e.t.Fatalf("referral %d gone", p.RefID)
	return ""
}

func (e *env) boundIIN(chatID int64) kezekbot.IIN {
	e.t.Helper()
	iin, err := e.db.BoundIIN(context.Background(), chatID)
	if err != nil && kezekbot.ErrorCode(err) != kezekbot.ENOTFOUND {
		e.t.Fatalf("bound IIN: %v", err)
	}
	return iin
}

func wantStatus(t *testing.T, r result, status int, reason string) {
	t.Helper()
	if r.Status != status || r.Reason != reason {
		t.Fatalf("POST → %d %q (%s), want %d %q", r.Status, r.Reason, r.Message, status, reason)
	}
}
