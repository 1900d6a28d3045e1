package refcity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/refcity"
	"github.com/kezekbot/kezekbot/store/postgres"
)

var now = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

const token = "reference-city-token"

type fixture struct {
	city   *refcity.City
	srv    *httptest.Server
	client *city.Client
	demo   map[string]kezekbot.ApplicationDetail // by number
	clock  *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newFixture(t *testing.T, mod func(*refcity.Config)) *fixture {
	t.Helper()
	demo, err := postgres.DemoDetails(now)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: now.Add(time.Minute)}
	cfg := refcity.Config{Token: token, Now: clk.Now, Seed: 1}
	if mod != nil {
		mod(&cfg)
	}
	c, err := refcity.New(cfg, demo)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	cl, err := city.NewClient(city.Config{BaseURL: srv.URL, Token: token, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{city: c, srv: srv, client: cl, demo: map[string]kezekbot.ApplicationDetail{}, clock: clk}
	for _, d := range demo {
		f.demo[d.Number] = d
	}
	return f
}

func (f *fixture) app(number string) kezekbot.ApplicationDetail { return f.demo[number] }

func revokeReq(d kezekbot.ApplicationDetail, refID int64, key string) city.RevokeRequest {
	return city.RevokeRequest{
		IdempotencyKey: key, ApplicantIIN: d.ApplicantIIN, ApplicationID: d.ID, ReferralID: refID,
		Reason: "Далеко от дома", SignedXML: "<?xml version=\"1.0\"?>\r\n<revoke a=\"1\">Қала &amp; «сад»\t</revoke>\n",
		SignedAt: now, CertSerial: "0a1b2c", CertIssuer: "CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA)",
	}
}

func problemCode(err error) string {
	var p *city.Problem
	if errors.As(err, &p) {
		return p.Code
	}
	return "no problem: " + func() string {
		if err == nil {
			return "nil"
		}
		return err.Error()
	}()
}

func TestReads(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	parent := kezekbot.MustParseIIN(postgres.DemoParents[3].IIN)
	apps, err := f.client.Applications(ctx, parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 12 {
		t.Errorf("foster parent has %d applications, want 12", len(apps))
	}
	mine := f.app("УО.2020.004102.1")
	a, err := f.client.Application(ctx, parent, mine.ID)
	if err != nil || a.Number != mine.Number || len(a.History) == 0 || len(a.Documents) == 0 || len(a.Referrals) != 1 {
		t.Fatalf("card: %+v, %v", a, err)
	}
	// Another applicant's application does not exist for this one, and neither does a
	// made-up id.
	other := f.app("УО.2021.004518.1")
	if _, err := f.client.Application(ctx, parent, other.ID); problemCode(err) != city.RefuseNotFound {
		t.Errorf("another's application: %v", err)
	}
	if _, err := f.client.Application(ctx, parent, 999999); problemCode(err) != city.RefuseNotFound {
		t.Errorf("made-up id: %v", err)
	}
	stranger := kezekbot.MustParseIIN("791028302728")
	if apps, err := f.client.Applications(ctx, stranger); err != nil || len(apps) != 0 {
		t.Errorf("a stranger sees %d applications, %v", len(apps), err)
	}

	// Without the token nothing is served.
	resp, err := http.Post(f.srv.URL+"/v1/applications/search", "application/json", strings.NewReader(`{"applicant_iin":"880412401274"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: HTTP %d", resp.StatusCode)
	}
}

func TestRevocation(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	d := f.app("УО.2020.004102.1") // 2020 queue, primary right, referral issued 3 hours ago
	ref := d.Referrals[0].ID
	twinA, twinB := f.app("УО.2020.006655.1"), f.app("УО.2020.006656.1")
	before := len(f.city.ChangeLog())

	req := revokeReq(d, ref, "key-1")
	res, err := f.client.Revoke(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the twins in the same category: first in the 2020 queue and in the
	// primary-right queue; both twins move one place down.
	if res.Status != string(kezekbot.StatusQueued) || res.QueueNumber != 1 || res.BenefitQueueNumber != 1 {
		t.Errorf("after revoking: %s, queue %d, benefit %d", res.Status, res.QueueNumber, res.BenefitQueueNumber)
	}
	for _, tw := range []kezekbot.ApplicationDetail{twinA, twinB} {
		s, _ := f.city.Snapshot(tw.ID)
		if s.QueueNumber != tw.QueueNumber+1 || s.Revision <= 1 {
			t.Errorf("%s: queue %d → %d, revision %d", tw.Number, tw.QueueNumber, s.QueueNumber, s.Revision)
		}
	}
	log := f.city.ChangeLog()[before:]
	var kinds []string
	for _, ch := range log {
		kinds = append(kinds, ch.Kind+":"+ch.Application.Number)
	}
	want := []string{"referral_revoked:" + d.Number, "queue_changed:" + twinA.Number, "queue_changed:" + twinB.Number}
	if !slices.Equal(kinds, want) {
		t.Errorf("changes %v, want %v", kinds, want)
	}

	// The same key again: the same answer, no second revocation.
	again, err := f.client.Revoke(ctx, req)
	if err != nil || again.Application.Revision != res.Application.Revision {
		t.Errorf("replay: %v, revision %d vs %d", err, again.Application.Revision, res.Application.Revision)
	}
	revs := f.city.Revocations()
	if len(revs) != 1 || revs[0].SignedXML != req.SignedXML || revs[0].IdempotencyKey != "key-1" {
		t.Fatalf("recorded %d revocations", len(revs))
	}

	// The same key with another body is refused; a new key for the same referral is not_active.
	changed := req
	changed.Reason = "Другая причина"
	if _, err := f.client.Revoke(ctx, changed); problemCode(err) != city.RefuseInvalid {
		t.Errorf("key reused: %v", err)
	}
	if _, err := f.client.Revoke(ctx, revokeReq(d, ref, "key-2")); problemCode(err) != city.RefuseNotActive {
		t.Errorf("second revocation: %v", err)
	}

	old := f.app("УО.2021.003390.1") // issued two days ago
	if _, err := f.client.Revoke(ctx, revokeReq(old, old.Referrals[0].ID, "key-3")); problemCode(err) != city.RefuseWindowClosed {
		t.Errorf("old referral: %v", err)
	}
	other := f.app("УО.2021.004518.1")
	wrong := revokeReq(other, other.Referrals[0].ID, "key-4")
	wrong.ApplicantIIN = d.ApplicantIIN
	if _, err := f.client.Revoke(ctx, wrong); problemCode(err) != city.RefuseNotApplicant {
		t.Errorf("someone else's: %v", err)
	}
	if _, err := f.client.Revoke(ctx, revokeReq(other, 424242, "key-5")); problemCode(err) != city.RefuseNotFound {
		t.Errorf("made-up referral: %v", err)
	}
	// 24 hours after issue the other demo referral is closed too.
	f.clock.Add(24 * time.Hour)
	if _, err := f.client.Revoke(ctx, revokeReq(other, other.Referrals[0].ID, "key-6")); problemCode(err) != city.RefuseWindowClosed {
		t.Errorf("after 24h: %v", err)
	}
	if n := len(f.city.Revocations()); n != 1 {
		t.Errorf("%d revocations recorded, want 1", n)
	}

	// Header and body keys must agree.
	body, _ := json.Marshal(revokeReq(other, other.Referrals[0].ID, "key-7"))
	hreq, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/v1/revocations", bytes.NewReader(body))
	hreq.Header.Set("Authorization", "Bearer "+token)
	hreq.Header.Set("Idempotency-Key", "key-8")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 422 || !strings.Contains(string(b), city.RefuseInvalid) {
		t.Errorf("mismatched keys: %d %s", resp.StatusCode, b)
	}
}

func TestIssueReferralAndFeed(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	d := f.app("УО.2020.006655.1") // first twin, first in the 2020 queue
	second := f.app("УО.2020.006656.1")
	body, _ := json.Marshal(refcity.IssueRequest{ApplicationID: d.ID})
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/_ref/referrals", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ans refcity.IssueAnswer
	_ = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if resp.StatusCode != 200 || ans.ReferralID == 0 {
		t.Fatalf("issue: HTTP %d %+v", resp.StatusCode, ans)
	}
	a, err := f.client.Application(ctx, d.ApplicantIIN, d.ID)
	if err != nil || a.Status != string(kezekbot.StatusReferralIssued) || a.Referrals[len(a.Referrals)-1].State != "active" {
		t.Fatalf("after issue: %+v %v", a.Status, err)
	}
	s, _ := f.city.Snapshot(second.ID)
	if s.QueueNumber != second.QueueNumber-1 {
		t.Errorf("second twin: %d → %d", second.QueueNumber, s.QueueNumber)
	}
	// Issuing to an application that is not queued is refused.
	if _, err := f.city.IssueReferral(d.ID, 0); kezekbot.ErrorCode(err) != kezekbot.ECONFLICT {
		t.Errorf("second issue: %v", err)
	}
	// And the new referral can be revoked at once.
	if _, err := f.client.Revoke(ctx, revokeReq(d, ans.ReferralID, "k")); err != nil {
		t.Fatal(err)
	}

	// The whole feed, five at a time: every change once, in order, the cursor stable.
	var got []city.Change
	cursor := ""
	for {
		page, err := f.client.Changes(ctx, cursor, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Changes) == 0 {
			if page.Next != cursor {
				t.Errorf("empty page moved the cursor %q → %q", cursor, page.Next)
			}
			break
		}
		got = append(got, page.Changes...)
		cursor = page.Next
	}
	all := f.city.ChangeLog()
	if len(got) != len(all) || len(got) < len(f.demo)+3 {
		t.Fatalf("pulled %d changes, log has %d", len(got), len(all))
	}
	revs := map[int64]int64{}
	for i, ch := range got {
		if ch.ID != all[i].ID {
			t.Fatalf("change %d is %s, want %s", i, ch.ID, all[i].ID)
		}
		if ch.Application.Revision < revs[ch.Application.ID] {
			t.Errorf("%s: revision went down", ch.ID)
		}
		revs[ch.Application.ID] = ch.Application.Revision
	}
	// Asking again with an old cursor gives the same page.
	p1, _ := f.client.Changes(ctx, "3", 2)
	p2, _ := f.client.Changes(ctx, "3", 2)
	if p1.Next != p2.Next || p1.Changes[0].ID != p2.Changes[0].ID {
		t.Errorf("cursor not stable")
	}
	if _, err := f.client.Changes(ctx, "nonsense", 2); problemCode(err) != city.RefuseInvalid {
		t.Errorf("bad cursor: %v", err)
	}
}

func setFaults(t *testing.T, f *fixture, faults string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/_ref/faults", strings.NewReader(faults))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("faults %s: HTTP %d", faults, resp.StatusCode)
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	parent := kezekbot.MustParseIIN(postgres.DemoParents[0].IIN)

	setFaults(t, f, `{"malformed_rate":1}`)
	_, err := f.client.Applications(ctx, parent)
	var ce *city.ContractError
	if !errors.As(err, &ce) {
		t.Errorf("malformed: %v", err)
	}
	setFaults(t, f, `{"error_rate":1}`)
	_, err = f.client.Applications(ctx, parent)
	var u *city.Unavailable
	if !errors.As(err, &u) || u.RetryAfter != time.Second {
		t.Errorf("5xx: %v", err)
	}
	setFaults(t, f, `{"timeout_rate":1}`)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err = f.client.Applications(short, parent); !errors.As(err, &u) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
	setFaults(t, f, `{"latency":"30ms","jitter":"10ms"}`)
	start := time.Now()
	if _, err = f.client.Applications(ctx, parent); err != nil || time.Since(start) < 30*time.Millisecond {
		t.Errorf("latency: %v after %v", err, time.Since(start))
	}

	// A lost answer: the revocation happened, the client learns it from the replay.
	d := f.app("УО.2021.004518.1")
	setFaults(t, f, `{"lost_answer_rate":1}`)
	req := revokeReq(d, d.Referrals[0].ID, "lost-1")
	if _, err := f.client.Revoke(ctx, req); !errors.As(err, &u) {
		t.Fatalf("lost answer: %v", err)
	}
	setFaults(t, f, `{}`)
	if res, err := f.client.Revoke(ctx, req); err != nil || res.Status != string(kezekbot.StatusQueued) {
		t.Fatalf("replay after a lost answer: %v", err)
	}
	if n := len(f.city.Revocations()); n != 1 {
		t.Errorf("%d revocations", n)
	}

	// Bad faults are refused.
	for _, bad := range []string{`{"error_rate":2}`, `{"latency":"forever"}`, `{"typo_rate":0.5}`} {
		r, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/_ref/faults", strings.NewReader(bad))
		r.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 422 {
			t.Errorf("%s: HTTP %d", bad, resp.StatusCode)
		}
	}
}

// TestPullWithDuplicatesAndReordering: a consumer that applies a change id once and keeps the
// highest revision ends with the city's state, whatever the feed does.
func TestPullWithDuplicatesAndReordering(t *testing.T) {
	f := newFixture(t, func(c *refcity.Config) {
		c.Faults = refcity.Faults{DuplicateRate: 0.5, OutOfOrderRate: 0.5}
	})
	seen := map[string]int{}
	cursor := ""
	for range 1000 {
		page, err := f.client.Changes(t.Context(), cursor, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Changes) == 0 {
			break
		}
		for _, ch := range page.Changes {
			seen[ch.ID]++
		}
		cursor = page.Next
	}
	dups := 0
	for _, ch := range f.city.ChangeLog() {
		if seen[ch.ID] == 0 {
			t.Errorf("change %s never delivered", ch.ID)
		}
		dups += seen[ch.ID] - 1
	}
	if dups == 0 {
		t.Errorf("no duplicate delivered at rate 0.5")
	}
}

func TestPusher(t *testing.T) {
	secret := []byte("push-secret")
	var mu sync.Mutex
	got := map[string]int{}
	var order []string
	fails := 2
	kezek := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if len(body) > 8<<10 {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		if r.URL.Path != city.PushPath || city.VerifySignature(secret, r.Header.Get(city.HeaderSignature), body, time.Now()) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var page city.ChangePage
		if err := json.Unmarshal(body, &page); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, ch := range page.Changes {
			got[ch.ID]++
			order = append(order, ch.ID)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer kezek.Close()
	f := newFixture(t, func(c *refcity.Config) {
		// Batches of 6 are over the 8 KiB the fake kezekbot takes: sent in halves.
		c.PushURL, c.PushSecret, c.PushBatch, c.PushMaxBody, c.Now = kezek.URL, secret, 6, 8<<10, time.Now
		c.Faults = refcity.Faults{DuplicateRate: 1, OutOfOrderRate: 1}
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.city.RunPusher(ctx) }()

	if _, err := f.city.IssueReferral(f.app("УО.2022.009963.1").ID, 0); err != nil {
		t.Fatal(err)
	}
	all := f.city.ChangeLog()
	deadline := time.After(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == len(all) {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("pushed %d of %d changes", n, len(all))
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunPusher: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	dup := false
	for _, n := range got {
		dup = dup || n > 1
	}
	if !dup || slices.IsSorted(order) {
		t.Errorf("faults had no effect: duplicates %v, order %v", dup, order[:6])
	}
}
