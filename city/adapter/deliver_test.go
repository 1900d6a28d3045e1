package adapter_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/adapter"
	"github.com/kezekbot/kezekbot/flows"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

var (
	parent = kezekbot.MustParseIIN("791028302728")
	kid    = kezekbot.MustParseIIN("200515610902")
	t0     = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
)

const signedXML = "<?xml version=\"1.0\"?>\n<revoke>\r\n  <nonce>n</nonce> <ds:Signature/></revoke>"

// snapshot is application id of the parent with referral id*10, at revision rev.
func snapshot(id, rev int64, state string, status string) city.Application {
	issued := t0.Add(-2 * time.Hour)
	a := city.Application{
		ID: id, Revision: rev, Number: fmt.Sprintf("УО.2024.%06d.1", id),
		Applicant: city.Person{IIN: parent, Name: "Иванова Мария"},
		Child:     city.Child{IIN: kid, Name: "Иванов Алихан", BirthDate: "2020-05-15"},
		Benefit:   "none", RegisteredAt: t0.Add(-400 * 24 * time.Hour), Status: status,
		StatusChangedAt: issued, QueuedSince: t0.Add(-400 * 24 * time.Hour), QueueNumber: 0,
		Referrals: []city.Referral{{ID: id * 10, Kindergarten: city.Kindergarten{ID: 1, Name: "ЧДС 1"}, IssuedAt: issued, State: state}},
	}
	if status == "queued" {
		a.QueueNumber = 14
	}
	if state == "revoked" {
		at := t0
		a.Referrals[0].ClosedAt, a.Referrals[0].RevokeReason = &at, "Переезд"
	}
	return a
}

// fakeCity is a city that keeps revocations by idempotency key, as the contract says, and
// notices two sends of one key at once.
type fakeCity struct {
	mu        sync.Mutex
	revoked   map[string]city.RevokeAccepted
	requests  []city.RevokeRequest
	inFlight  map[string]bool
	overlap   bool
	fail      func(n int) error // the n-th request's failure (0-based), nil for an answer
	refuse    string
	delay     time.Duration
	revisions int64
}

func newFakeCity() *fakeCity {
	return &fakeCity{revoked: map[string]city.RevokeAccepted{}, inFlight: map[string]bool{}, revisions: 5}
}

func (c *fakeCity) Revoke(ctx context.Context, req city.RevokeRequest) (city.RevokeAccepted, error) {
	c.mu.Lock()
	n := len(c.requests)
	c.requests = append(c.requests, req)
	if c.inFlight[req.IdempotencyKey] {
		c.overlap = true
	}
	c.inFlight[req.IdempotencyKey] = true
	c.mu.Unlock()
	defer func() { c.mu.Lock(); delete(c.inFlight, req.IdempotencyKey); c.mu.Unlock() }()
	if c.delay > 0 {
		select {
		case <-time.After(c.delay):
		case <-ctx.Done():
			return city.RevokeAccepted{}, &city.Unavailable{Err: ctx.Err()}
		}
	}
	if c.fail != nil {
		if err := c.fail(n); err != nil {
			return city.RevokeAccepted{}, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if acc, ok := c.revoked[req.IdempotencyKey]; ok {
		return acc, nil
	}
	if c.refuse != "" {
		return city.RevokeAccepted{}, &city.Problem{Code: c.refuse}
	}
	c.revisions++
	a := snapshot(req.ApplicationID, c.revisions, "revoked", "queued")
	acc := city.RevokeAccepted{Status: "queued", QueueNumber: 14, BenefitQueueNumber: 0, Application: a}
	c.revoked[req.IdempotencyKey] = acc
	return acc, nil
}

func (c *fakeCity) count() (revocations, requests int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.revoked), len(c.requests)
}

type fakeMirror struct {
	mu    sync.Mutex
	snaps []city.Application
}

func (m *fakeMirror) UpsertSnapshot(_ context.Context, a city.Application, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.snaps = append(m.snaps, a)
	return true, nil
}

type chatLog struct {
	mu  sync.Mutex
	evs map[int64][]flows.Event
}

func (l *chatLog) Inject(_ context.Context, chat int64, ev flows.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.evs == nil {
		l.evs = map[int64][]flows.Event{}
	}
	l.evs[chat] = append(l.evs[chat], ev)
	return nil
}

func (l *chatLog) of(chat int64) []flows.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]flows.Event(nil), l.evs[chat]...)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func enqueue(t *testing.T, db *postgres.DB, chat int64, nonce string) {
	t.Helper()
	req := kezekbot.RevokeRequest{ChatID: chat, ApplicantIIN: parent, ApplicationID: 2, ReferralID: 20, Reason: "Переезд",
		Evidence: kezekbot.Evidence{SignedXML: []byte(signedXML), IIN: parent, Subject: "CN=ИВАНОВА", Serial: "0a1b", Issuer: "CN=НУЦ РК (RSA) TEST",
			VerifiedAt: t0, Nonce: nonce}}
	if err := db.EnqueueRevoke(t.Context(), req, postgres.CityCommand{IdempotencyKey: adapter.IdempotencyKey(nonce), ApplicationNumber: "УО.2024.000002.1", Kindergarten: "ЧДС 1"}); err != nil {
		t.Fatal(err)
	}
}

func deliverer(db *postgres.DB, c adapter.Revoker, m *fakeMirror, chats *chatLog, owner string) *adapter.Deliverer {
	return &adapter.Deliverer{Commands: db, City: c, Snapshots: m, Resumer: chats, Owner: owner, Log: quiet(),
		Lease: 400 * time.Millisecond, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, Poll: 5 * time.Millisecond}
}

func commandState(t *testing.T, db *postgres.DB) (state, code, lastErr string, attempts int) {
	t.Helper()
	var c, l *string
	if err := db.Pool().QueryRow(t.Context(), `SELECT state, refusal_code, last_error, attempts FROM city_commands`).Scan(&state, &c, &l, &attempts); err != nil {
		t.Fatal(err)
	}
	if c != nil {
		code = *c
	}
	if l != nil {
		lastErr = *l
	}
	return
}

func TestEnqueueKeepsEvidenceWithTheAudit(t *testing.T) {
	db := pgtest.New(t)
	enqueue(t, db, 1001, "nonce-1")
	var xml []byte
	var key, serial, issuer string
	if err := db.Pool().QueryRow(t.Context(), `SELECT signed_xml, idempotency_key, cert_serial, cert_issuer FROM city_commands`).Scan(&xml, &key, &serial, &issuer); err != nil {
		t.Fatal(err)
	}
	if string(xml) != signedXML || key != adapter.IdempotencyKey("nonce-1") || serial != "0a1b" || issuer == "" {
		t.Errorf("command kept %q %q %q %q", xml, key, serial, issuer)
	}
	var audits int
	if err := db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit_log WHERE nonce = 'nonce-1' AND evidence_xml = $1`, []byte(signedXML)).Scan(&audits); err != nil || audits != 1 {
		t.Fatalf("audit rows %d, %v", audits, err)
	}
	// The same signature again: refused by the audit's nonce, and no second command.
	req := kezekbot.RevokeRequest{ChatID: 1001, ApplicantIIN: parent, ApplicationID: 2, ReferralID: 20, Reason: "Переезд",
		Evidence: kezekbot.Evidence{SignedXML: []byte(signedXML), IIN: parent, Serial: "0a1b", Issuer: "x", Nonce: "nonce-1"}}
	err := db.EnqueueRevoke(t.Context(), req, postgres.CityCommand{IdempotencyKey: adapter.IdempotencyKey("nonce-1")})
	if kezekbot.ErrorCode(err) != kezekbot.ECONFLICT {
		t.Errorf("second enqueue: %v", err)
	}
	var n int
	_ = db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM city_commands`).Scan(&n)
	if n != 1 {
		t.Errorf("%d commands", n)
	}
}

func TestIdempotencyKey(t *testing.T) {
	a, b := adapter.IdempotencyKey("nonce-1"), adapter.IdempotencyKey("nonce-2")
	if a == b || a != adapter.IdempotencyKey("nonce-1") || len(a) < 16 || len(a) > 128 {
		t.Errorf("keys %q %q", a, b)
	}
}

func TestDeliverAccepted(t *testing.T) {
	db := pgtest.New(t)
	enqueue(t, db, 1001, "nonce-1")
	c, m, chats := newFakeCity(), &fakeMirror{}, &chatLog{}
	d := deliverer(db, c, m, chats, "r1")
	if n, err := d.RunOnce(t.Context()); err != nil || n != 1 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	if state, _, _, _ := commandState(t, db); state != postgres.CommandAccepted {
		t.Fatalf("state %s", state)
	}
	if revs, _ := c.count(); revs != 1 || c.requests[0].SignedXML != signedXML || c.requests[0].CertSerial != "0a1b" {
		t.Fatalf("city got %d revocations: %+v", revs, c.requests)
	}
	if len(m.snaps) != 1 || m.snaps[0].Referrals[0].State != "revoked" {
		t.Errorf("mirror got %+v", m.snaps)
	}
	evs := chats.of(1001)
	if len(evs) != 1 {
		t.Fatalf("chat told %v", evs)
	}
	ev := evs[0].(flows.RevokeDecided)
	if !ev.Accepted || ev.Nonce != "nonce-1" || ev.Result.Application.QueueNumber != 14 || !ev.Result.Application.ApplicantIIN.Equal(parent) {
		t.Errorf("event %+v", ev)
	}
	var except int64
	var kind string
	if err := db.Pool().QueryRow(t.Context(), `SELECT kind, (payload->>'except_chat')::bigint FROM outbox`).Scan(&kind, &except); err != nil || kind != postgres.OutboxReferralRevoked || except != 1001 {
		t.Errorf("outbox %s except %d: %v", kind, except, err)
	}
	// Nothing left to do.
	if n, _ := d.RunOnce(t.Context()); n != 0 {
		t.Errorf("claimed %d after the answer", n)
	}
}

func TestDeliverRefused(t *testing.T) {
	for _, code := range city.RefusalCodes {
		t.Run(code, func(t *testing.T) {
			db := pgtest.New(t)
			enqueue(t, db, 1001, "nonce-1")
			c, chats := newFakeCity(), &chatLog{}
			c.refuse = code
			d := deliverer(db, c, &fakeMirror{}, chats, "r1")
			if _, err := d.RunOnce(t.Context()); err != nil {
				t.Fatal(err)
			}
			if state, got, _, _ := commandState(t, db); state != postgres.CommandRefused || got != code {
				t.Fatalf("state %s code %s", state, got)
			}
			evs := chats.of(1001)
			if len(evs) != 1 || evs[0].(flows.RevokeDecided).Code != code || evs[0].(flows.RevokeDecided).Accepted {
				t.Errorf("told %+v", evs)
			}
			var n int
			_ = db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM outbox`).Scan(&n)
			if n != 0 {
				t.Errorf("a refusal wrote %d outbox rows", n)
			}
		})
	}
}

// The city down, slow to answer with 5xx, broken, then back: the command stays queued with the
// reason, is retried with the same key and delivered once.
func TestDeliverRetriesUntilTheCityAnswers(t *testing.T) {
	db := pgtest.New(t)
	enqueue(t, db, 1001, "nonce-1")
	c, chats := newFakeCity(), &chatLog{}
	c.fail = func(n int) error {
		switch n {
		case 0:
			return &city.Unavailable{Err: errors.New("503 Service Unavailable")}
		case 1:
			return &city.ContractError{Endpoint: "revocations", Err: errors.New("malformed JSON")}
		case 2:
			return &city.Problem{Code: "no_such_code"}
		}
		return nil
	}
	d := deliverer(db, c, &fakeMirror{}, chats, "r1")
	for i := range 3 {
		if _, err := d.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		state, _, lastErr, attempts := commandState(t, db)
		if state != postgres.CommandPending || lastErr == "" || attempts != i+1 {
			t.Fatalf("after failure %d: %s %q %d", i, state, lastErr, attempts)
		}
		time.Sleep(10 * time.Millisecond) // past the backoff
	}
	if _, err := d.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if state, _, _, _ := commandState(t, db); state != postgres.CommandAccepted {
		t.Fatalf("state %s", state)
	}
	keys := map[string]bool{}
	for _, r := range c.requests {
		keys[r.IdempotencyKey] = true
	}
	if revs, reqs := c.count(); revs != 1 || reqs != 4 || len(keys) != 1 {
		t.Errorf("%d revocations from %d requests with %d keys", revs, reqs, len(keys))
	}
	if len(chats.of(1001)) != 1 {
		t.Errorf("told %v", chats.of(1001))
	}
}

func TestBackoff(t *testing.T) {
	d := &adapter.Deliverer{BackoffBase: time.Second, BackoffMax: time.Minute, Jitter: func(n time.Duration) time.Duration { return n - 1 }}
	for _, tc := range []struct {
		attempts int
		max      time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {10, time.Minute}, {100, time.Minute}} {
		if got := d.Backoff(tc.attempts); got != tc.max {
			t.Errorf("Backoff(%d) = %v, want at most %v", tc.attempts, got, tc.max)
		}
	}
	d.Jitter = func(time.Duration) time.Duration { return 0 }
	if got := d.Backoff(3); got != 2*time.Second {
		t.Errorf("Backoff(3) without jitter = %v, want half of 4s", got)
	}
	// Retry-After wins over a shorter backoff.
	db := pgtest.New(t)
	enqueue(t, db, 1001, "nonce-1")
	c := newFakeCity()
	c.fail = func(int) error { return &city.Unavailable{RetryAfter: time.Hour, Err: errors.New("429")} }
	dd := deliverer(db, c, &fakeMirror{}, &chatLog{}, "r1")
	if _, err := dd.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	var next time.Time
	_ = db.Pool().QueryRow(t.Context(), `SELECT next_at FROM city_commands`).Scan(&next)
	if time.Until(next) < 59*time.Minute {
		t.Errorf("next attempt at %v, want after Retry-After", next)
	}
}

// Past the give-up notice the parent is told once, and the command is still delivered later.
func TestDeliverTellsLateOnce(t *testing.T) {
	db := pgtest.New(t)
	enqueue(t, db, 1001, "nonce-1")
	if _, err := db.Pool().Exec(t.Context(), `UPDATE city_commands SET created_at = now() - interval '31 minutes'`); err != nil {
		t.Fatal(err)
	}
	c, chats := newFakeCity(), &chatLog{}
	c.fail = func(int) error { return &city.Unavailable{Err: errors.New("connection refused")} }
	d1, d2 := deliverer(db, c, &fakeMirror{}, chats, "r1"), deliverer(db, c, &fakeMirror{}, chats, "r2")
	for range 3 {
		_, _ = d1.RunOnce(t.Context())
		_, _ = d2.RunOnce(t.Context())
		time.Sleep(10 * time.Millisecond)
	}
	evs := chats.of(1001)
	if len(evs) != 1 || !evs[0].(flows.RevokeDecided).Delayed {
		t.Fatalf("told %+v", evs)
	}
	q, err := db.OpenCommands(t.Context(), 10)
	if err != nil || q.Depth != 1 || len(q.Open) != 1 || q.Open[0].LastError == "" || time.Since(q.Oldest) < 30*time.Minute {
		t.Fatalf("queue %+v, %v", q, err)
	}
	c.mu.Lock()
	c.fail = nil
	c.mu.Unlock()
	time.Sleep(10 * time.Millisecond)
	if _, err := d1.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	evs = chats.of(1001)
	if len(evs) != 2 || !evs[1].(flows.RevokeDecided).Accepted {
		t.Fatalf("told %+v", evs)
	}
}

// Two replicas at once never send one command at the same time.
func TestTwoReplicasNeverSendOneCommandAtOnce(t *testing.T) {
	db := pgtest.New(t)
	for i := range 6 {
		enqueue(t, db, 1001+int64(i), fmt.Sprintf("nonce-%d", i))
	}
	c := newFakeCity()
	c.delay = 20 * time.Millisecond
	chats := &chatLog{}
	var wg sync.WaitGroup
	for _, owner := range []string{"r1", "r2", "r3"} {
		d := deliverer(db, c, &fakeMirror{}, chats, owner)
		d.Batch = 2
		wg.Go(func() {
			for range 5 {
				_, _ = d.RunOnce(t.Context())
			}
		})
	}
	wg.Wait()
	revs, reqs := c.count()
	if c.overlap || revs != 6 || reqs != 6 {
		t.Errorf("overlap %v, %d revocations from %d requests", c.overlap, revs, reqs)
	}
}

// crashing is a command store whose owner dies right after the city answered: nothing it
// would record reaches the database.
type crashing struct{ adapter.Commands }

func (crashing) RetryCommand(context.Context, int64, string, time.Time, string) (bool, error) {
	return false, errors.New("killed")
}
func (crashing) AcceptCommand(context.Context, int64, string, []byte, postgres.ReferralRevokedPayload) (bool, error) {
	return false, errors.New("killed")
}
func (crashing) RefuseCommand(context.Context, int64, string, string) (bool, error) {
	return false, errors.New("killed")
}

// A replica killed between the city's answer and recording it: its lease runs out, another
// replica sends the command again with the same key, the city answers the first answer, and
// the city holds exactly one revocation.
func TestKilledMidDeliveryRevokesOnce(t *testing.T) {
	db := pgtest.New(t)
	enqueue(t, db, 1001, "nonce-1")
	c, chats := newFakeCity(), &chatLog{}
	dead := deliverer(db, c, &fakeMirror{}, chats, "r1")
	dead.Commands = crashing{db}
	if _, err := dead.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if state, _, _, _ := commandState(t, db); state != postgres.CommandSending {
		t.Fatalf("after the crash: %s", state)
	}
	alive := deliverer(db, c, &fakeMirror{}, chats, "r2")
	// Inside the dead replica's lease, nobody touches the command.
	if n, _ := alive.RunOnce(t.Context()); n != 0 {
		t.Fatalf("claimed a leased command")
	}
	time.Sleep(450 * time.Millisecond)
	if n, err := alive.RunOnce(t.Context()); err != nil || n != 1 {
		t.Fatalf("after the lease: %d, %v", n, err)
	}
	if state, _, _, attempts := commandState(t, db); state != postgres.CommandAccepted || attempts != 2 {
		t.Fatalf("state %s attempts %d", state, attempts)
	}
	if revs, reqs := c.count(); revs != 1 || reqs != 2 || c.requests[0].IdempotencyKey != c.requests[1].IdempotencyKey {
		t.Errorf("%d revocations from %d requests", revs, reqs)
	}
	if evs := chats.of(1001); len(evs) != 1 {
		t.Errorf("told %v", evs)
	}
}

// Wake delivers a new command at once, without waiting for the next poll; Run stops on ctx.
func TestWakeDeliversAtOnce(t *testing.T) {
	db := pgtest.New(t)
	c, chats := newFakeCity(), &chatLog{}
	d := deliverer(db, c, &fakeMirror{}, chats, "r1")
	d.Poll = time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	d.Wake() // before Run: must not race with it
	go func() { done <- d.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	enqueue(t, db, 1001, "nonce-1")
	d.Wake()
	deadline := time.Now().Add(5 * time.Second)
	for len(chats.of(1001)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a woken deliverer did not deliver")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop on ctx")
	}
}
