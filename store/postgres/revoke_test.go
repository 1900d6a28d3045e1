package postgres_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/store/postgres"
)

func revokeRequest(iin kezekbot.IIN, appID, refID int64) kezekbot.RevokeRequest {
	return kezekbot.RevokeRequest{
		ChatID:        42,
		ApplicantIIN:  iin,
		ApplicationID: appID,
		ReferralID:    refID,
		Reason:        "  далеко   от дома\n",
		Evidence:      evidence(iin),
	}
}

func TestRevokeReferral(t *testing.T) {
	t.Parallel()
	db, f := MustOpenDB(t)
	alice, bob := f.parent(t), f.parent(t)
	day := func(m, d int) time.Time { return time.Date(2021, time.Month(m), d, 9, 0, 0, 0, time.UTC) }

	// The 2021 queue: general A (June), primary B (July), general C (August); the revoked
	// application X (general, mid-July) must land between A and C, behind B.
	f.addApp(t, appSpec{Applicant: bob, Registered: day(6, 1)})
	f.addApp(t, appSpec{Applicant: bob, Registered: day(7, 1), Benefit: kezekbot.BenefitDisabledParent})
	f.addApp(t, appSpec{Applicant: bob, Registered: day(8, 1)})
	// Another birth year is another queue and must not move.
	other, _ := f.addApp(t, appSpec{Applicant: bob, Birth: time.Date(2020, 3, 3, 0, 0, 0, 0, time.UTC)})

	t.Run("OK", func(t *testing.T) {
		x, refs := f.addApp(t, appSpec{Applicant: alice, Registered: day(7, 15), Referrals: []refSpec{{IssuedAt: now.Add(-10 * time.Minute)}}})
		req := revokeRequest(alice, x, refs[0])
		res, err := db.RevokeReferral(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		a, r := res.Application, res.Referral
		if a.ID != x || a.Status != kezekbot.StatusQueued || a.QueueNumber != 3 || a.BenefitQueueNumber != 0 {
			t.Errorf("application = status %s, queue %d/%d; want queued 3/0", a.Status, a.QueueNumber, a.BenefitQueueNumber)
		}
		if !a.StatusChangedAt.Equal(now) || !a.QueuedSince.Equal(day(7, 15)) {
			t.Errorf("status changed %v, queued since %v; want now and the registration time", a.StatusChangedAt, a.QueuedSince)
		}
		if r.ID != refs[0] || r.State != kezekbot.ReferralRevoked || !r.ClosedAt.Equal(now) || r.RevokeReason != "далеко от дома" {
			t.Errorf("referral = %+v", r)
		}

		d, err := db.Application(t.Context(), alice, x)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != kezekbot.StatusQueued || d.QueueNumber != 3 || len(d.ActiveReferrals()) != 0 {
			t.Errorf("stored application = %+v", d)
		}
		if n := len(d.History); n == 0 || d.History[n-1] != (kezekbot.HistoryEntry{
			At: d.History[n-1].At, Event: kezekbot.EventReferralRevoked, Status: kezekbot.StatusQueued, QueueNumber: 3, Note: "далеко от дома",
		}) || !d.History[n-1].At.Equal(now) {
			t.Errorf("history = %+v", d.History)
		}

		var action, object, masked, nonce string
		var xml []byte
		if err := db.Pool().QueryRow(t.Context(), `SELECT action, object, iin_masked, nonce, evidence_xml FROM audit_log WHERE nonce = $1`,
			req.Evidence.Nonce).Scan(&action, &object, &masked, &nonce, &xml); err != nil {
			t.Fatalf("audit row: %v", err)
		}
		if action != "revoke" || !strings.HasSuffix(object, "/referral/"+itoa(refs[0])) || masked != "**********"+alice.Digits()[10:] || len(xml) == 0 {
			t.Errorf("audit = %s %s %s", action, object, masked)
		}

		var kind, iin string
		var chat int64
		var raw []byte
		if err := db.Pool().QueryRow(t.Context(), `SELECT kind, chat_id, iin, payload FROM outbox WHERE payload->>'referral_id' = $1`,
			itoa(refs[0])).Scan(&kind, &chat, &iin, &raw); err != nil {
			t.Fatalf("outbox row: %v", err)
		}
		var p postgres.ReferralRevokedPayload
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		if kind != postgres.OutboxReferralRevoked || chat != 42 || iin != alice.Digits() ||
			p.ApplicationID != x || p.QueueNumber != 3 || p.Status != kezekbot.StatusQueued || p.Kindergarten == "" || !p.RevokedAt.Equal(now) {
			t.Errorf("outbox = %s %d %+v", kind, chat, p)
		}

		// The other birth year kept its numbers.
		var q int
		if err := db.Pool().QueryRow(t.Context(), `SELECT queue_number FROM applications WHERE id = $1`, other).Scan(&q); err != nil || q < 100000 {
			t.Errorf("2020 queue changed: %d, %v", q, err)
		}
	})

	t.Run("AlmostWindowEnd", func(t *testing.T) {
		x, refs := f.addApp(t, appSpec{Applicant: alice, Referrals: []refSpec{{IssuedAt: now.Add(-kezekbot.RevocationWindow + time.Microsecond)}}})
		if _, err := db.RevokeReferral(t.Context(), revokeRequest(alice, x, refs[0])); err != nil {
			t.Fatal(err)
		}
	})

	for _, tt := range []struct {
		name   string
		ref    refSpec
		reason kezekbot.RefusalReason
		code   string
	}{
		{"ErrWindowClosedExactly", refSpec{IssuedAt: now.Add(-kezekbot.RevocationWindow)}, kezekbot.RefusalWindowClosed, kezekbot.EEXPIRED},
		{"ErrWindowClosedTwoDays", refSpec{IssuedAt: now.Add(-48 * time.Hour)}, kezekbot.RefusalWindowClosed, kezekbot.EEXPIRED},
		{"ErrNotActiveExpired", refSpec{IssuedAt: now.Add(-time.Hour), State: kezekbot.ReferralExpired}, kezekbot.RefusalNotActive, kezekbot.ECONFLICT},
		{"ErrNotActiveRevoked", refSpec{IssuedAt: now.Add(-time.Hour), State: kezekbot.ReferralRevoked}, kezekbot.RefusalNotActive, kezekbot.ECONFLICT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			x, refs := f.addApp(t, appSpec{Applicant: alice, Referrals: []refSpec{tt.ref}})
			req := revokeRequest(alice, x, refs[0])
			_, err := db.RevokeReferral(t.Context(), req)
			var refusal *kezekbot.RevokeRefusal
			if !errors.As(err, &refusal) {
				t.Fatalf("err = %v, want a *RevokeRefusal", err)
			}
			wantCode(t, err, tt.code)
			if refusal.Reason != tt.reason {
				t.Errorf("reason = %s, want %s", refusal.Reason, tt.reason)
			}
			if tt.reason == kezekbot.RefusalWindowClosed && !refusal.ClosedAt.Equal(tt.ref.IssuedAt.Add(24*time.Hour)) {
				t.Errorf("ClosedAt = %v, want issued_at+24h = %v", refusal.ClosedAt, tt.ref.IssuedAt.Add(24*time.Hour))
			}
			assertUntouched(t, db, alice, x, tt.ref.State, req.Evidence.Nonce)
		})
	}

	t.Run("AnotherStillActive", func(t *testing.T) {
		x, refs := f.addApp(t, appSpec{Applicant: alice, Referrals: []refSpec{{IssuedAt: now.Add(-time.Hour)}, {IssuedAt: now.Add(-time.Hour)}}})
		res, err := db.RevokeReferral(t.Context(), revokeRequest(alice, x, refs[0]))
		if err != nil {
			t.Fatal(err)
		}
		if res.Application.Status != kezekbot.StatusReferralIssued || res.Referral.State != kezekbot.ReferralRevoked {
			t.Fatalf("status %s, referral %s; want referral_issued, revoked", res.Application.Status, res.Referral.State)
		}
		// The second one can still be revoked, and then the application is queued.
		res, err = db.RevokeReferral(t.Context(), revokeRequest(alice, x, refs[1]))
		if err != nil || res.Application.Status != kezekbot.StatusQueued {
			t.Fatalf("second revoke: %v, status %s", err, res.Application.Status)
		}
	})

	x, refs := f.addApp(t, appSpec{Applicant: alice, Referrals: []refSpec{{IssuedAt: now.Add(-time.Hour)}}})
	y, yrefs := f.addApp(t, appSpec{Applicant: alice, Referrals: []refSpec{{IssuedAt: now.Add(-time.Hour)}}})
	for _, tt := range []struct {
		name string
		code string
		req  func() kezekbot.RevokeRequest
	}{
		{"ErrNotFoundOtherApplicant", kezekbot.ENOTFOUND, func() kezekbot.RevokeRequest { return revokeRequest(bob, x, refs[0]) }},
		{"ErrNotFoundReferralOfAnotherApplication", kezekbot.ENOTFOUND, func() kezekbot.RevokeRequest { return revokeRequest(alice, x, yrefs[0]) }},
		{"ErrNotFoundNoSuchApplication", kezekbot.ENOTFOUND, func() kezekbot.RevokeRequest { return revokeRequest(alice, 999999, refs[0]) }},
		{"ErrNotFoundNoSuchReferral", kezekbot.ENOTFOUND, func() kezekbot.RevokeRequest { return revokeRequest(alice, x, 999999) }},
		{"ErrForbiddenSomeoneElsesSignature", kezekbot.EFORBIDDEN, func() kezekbot.RevokeRequest {
			r := revokeRequest(alice, x, refs[0])
			r.Evidence = evidence(bob)
			return r
		}},
		{"ErrInvalidNoReason", kezekbot.EINVALID, func() kezekbot.RevokeRequest {
			r := revokeRequest(alice, x, refs[0])
			r.Reason = " \n "
			return r
		}},
		{"ErrInvalidReasonTooLong", kezekbot.EINVALID, func() kezekbot.RevokeRequest {
			r := revokeRequest(alice, x, refs[0])
			r.Reason = strings.Repeat("я", kezekbot.MaxReasonLen+1)
			return r
		}},
		{"ErrInvalidNoNonce", kezekbot.EINVALID, func() kezekbot.RevokeRequest {
			r := revokeRequest(alice, x, refs[0])
			r.Evidence.Nonce = ""
			return r
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req()
			_, err := db.RevokeReferral(t.Context(), req)
			wantCode(t, err, tt.code)
			assertUntouched(t, db, alice, x, kezekbot.ReferralActive, req.Evidence.Nonce)
		})
	}

	t.Run("ErrConflictReplayedNonce", func(t *testing.T) {
		first := revokeRequest(alice, x, refs[0])
		if _, err := db.RevokeReferral(t.Context(), first); err != nil {
			t.Fatal(err)
		}
		replay := revokeRequest(alice, y, yrefs[0])
		replay.Evidence = first.Evidence
		_, err := db.RevokeReferral(t.Context(), replay)
		wantCode(t, err, kezekbot.ECONFLICT)
		assertUntouched(t, db, alice, y, kezekbot.ReferralActive, "")
		// The same document cannot bind a chat either.
		wantCode(t, db.Bind(t.Context(), 7, "kk", first.Evidence), kezekbot.ECONFLICT)
	})
}

// assertUntouched checks that a failed revocation changed nothing: the referral keeps its
// state, the application its status, and no audit, history or outbox row was written.
func assertUntouched(t *testing.T, db *postgres.DB, iin kezekbot.IIN, appID int64, state kezekbot.ReferralState, nonce string) {
	t.Helper()
	if state == "" {
		state = kezekbot.ReferralActive
	}
	d, err := db.Application(t.Context(), iin, appID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Referrals[0].State != state {
		t.Errorf("referral state = %s, want %s", d.Referrals[0].State, state)
	}
	if want := kezekbot.StatusQueued; state == kezekbot.ReferralActive && d.Status == want {
		t.Errorf("application returned to the queue")
	}
	for _, h := range d.History {
		if h.Event == kezekbot.EventReferralRevoked {
			t.Errorf("history has a revocation: %+v", h)
		}
	}
	var audits, outbox int
	if err := db.Pool().QueryRow(t.Context(), `SELECT (SELECT count(*) FROM audit_log WHERE nonce = $1),
		(SELECT count(*) FROM outbox WHERE payload->>'application_id' = $2)`, nonce, itoa(appID)).Scan(&audits, &outbox); err != nil {
		t.Fatal(err)
	}
	if (nonce != "" && audits != 0) || outbox != 0 {
		t.Errorf("%d audit rows, %d outbox rows written by a failed revocation", audits, outbox)
	}
}

// TestRevokeReferralConcurrent revokes each referral from two goroutines at once (two taps,
// two devices): exactly one wins, the other gets the refusal, nothing is applied twice.
func TestRevokeReferralConcurrent(t *testing.T) {
	t.Parallel()
	db, f := MustOpenDB(t)
	alice := f.parent(t)
	for i := range 3 {
		f.addApp(t, appSpec{Applicant: alice, Registered: time.Date(2021, 6, 1+i, 9, 0, 0, 0, time.UTC)})
	}
	const n = 8
	type target struct{ app, ref int64 }
	var targets []target
	for i := range n {
		app, refs := f.addApp(t, appSpec{Applicant: alice, Registered: time.Date(2021, 7, 1+i, 9, 0, 0, 0, time.UTC),
			Referrals: []refSpec{{IssuedAt: now.Add(-time.Hour)}}})
		targets = append(targets, target{app, refs[0]})
	}

	errs := make([][2]error, n)
	var wg sync.WaitGroup
	for i, tg := range targets {
		for j := range 2 {
			wg.Go(func() {
				_, errs[i][j] = db.RevokeReferral(t.Context(), revokeRequest(alice, tg.app, tg.ref))
			})
		}
	}
	wg.Wait()

	for i, e := range errs {
		ok := 0
		for _, err := range e {
			if err == nil {
				ok++
				continue
			}
			if c := kezekbot.ErrorCode(err); c != kezekbot.ECONFLICT {
				t.Errorf("target %d: loser got %q (%v), want conflict", i, c, err)
			}
		}
		if ok != 1 {
			t.Errorf("target %d: %d revocations succeeded, want 1 (%v)", i, ok, e)
		}
	}
	var history, audits, outbox int
	if err := db.Pool().QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM application_history WHERE event = 'referral_revoked'),
		(SELECT count(*) FROM audit_log WHERE action = 'revoke'),
		(SELECT count(*) FROM outbox)`).Scan(&history, &audits, &outbox); err != nil {
		t.Fatal(err)
	}
	if history != n || audits != n || outbox != n {
		t.Errorf("history %d, audit %d, outbox %d rows; want %d each", history, audits, outbox, n)
	}
	checkQueues(t, db)
}

// TestRevokeReferralQueueOrder is a randomised property test: whatever the mix of categories,
// registration times (with ties) and birth years, the numbers the SQL renumbering gives are
// the ones kezekbot.QueuePositions gives over the same applications, after each revocation
// and after a burst of concurrent ones.
func TestRevokeReferralQueueOrder(t *testing.T) {
	t.Parallel()
	for seed := range uint64(3) {
		t.Run("Seed"+itoa(int64(seed)), func(t *testing.T) {
			t.Parallel()
			db, f := MustOpenDB(t)
			rng := rand.New(rand.NewPCG(seed, 99))
			parents := []kezekbot.IIN{f.parent(t), f.parent(t), f.parent(t)}
			type target struct {
				iin      kezekbot.IIN
				app, ref int64
			}
			var targets []target
			for range 80 {
				s := appSpec{
					Applicant: parents[rng.IntN(len(parents))],
					Benefit:   kezekbot.Benefits[rng.IntN(len(kezekbot.Benefits))],
					Birth:     time.Date(2020+rng.IntN(2), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC),
					// Few distinct times, so that ties fall back to the id.
					Registered: time.Date(2022, 1, 1+rng.IntN(10), 9, 0, 0, 0, time.UTC),
				}
				switch rng.IntN(4) {
				case 0, 1: // queued
				case 2:
					s.Referrals = []refSpec{{IssuedAt: now.Add(-time.Duration(1+rng.IntN(600)) * time.Minute)}}
				case 3:
					s.Status = kezekbot.StatusEnrolled
					s.Referrals = []refSpec{{IssuedAt: now.AddDate(0, -1, 0), State: kezekbot.ReferralUsed}}
				}
				app, refs := f.addApp(t, s)
				if s.Status == "" && len(refs) > 0 {
					targets = append(targets, target{s.Applicant, app, refs[0]})
				}
			}
			rng.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })

			half := len(targets) / 2
			for _, tg := range targets[:half] {
				res, err := db.RevokeReferral(t.Context(), revokeRequest(tg.iin, tg.app, tg.ref))
				if err != nil {
					t.Fatal(err)
				}
				want := checkQueues(t, db)[res.Application.ID]
				if got := (kezekbot.Position{Queue: res.Application.QueueNumber, Benefit: res.Application.BenefitQueueNumber}); got != want {
					t.Fatalf("application %d: result position %+v, want %+v", tg.app, got, want)
				}
			}
			var wg sync.WaitGroup
			for _, tg := range targets[half:] {
				wg.Go(func() {
					if _, err := db.RevokeReferral(t.Context(), revokeRequest(tg.iin, tg.app, tg.ref)); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			checkQueues(t, db)
		})
	}
}

// checkQueues compares the stored numbers of every renumbered queue (a year in which some
// revocation happened; fixtures leave placeholder numbers elsewhere) with
// kezekbot.QueuePositions over the queued applications of that year, using the Go category of
// each benefit, and returns the expected positions.
func checkQueues(t *testing.T, db *postgres.DB) map[int64]kezekbot.Position {
	t.Helper()
	return checkQueuesWhere(t, db, `a.queue_year IN (
			SELECT q.queue_year FROM applications q JOIN application_history h ON h.application_id = q.id
			WHERE h.event = 'referral_revoked')`)
}

// checkQueuesWhere is checkQueues over the years that cond selects.
func checkQueuesWhere(t *testing.T, db *postgres.DB, cond string) map[int64]kezekbot.Position {
	t.Helper()
	rows, err := db.Pool().Query(t.Context(), `SELECT a.id, a.benefit, a.registered_at, a.queue_number, a.benefit_queue_number, a.queue_year
		FROM applications a
		WHERE a.status = 'queued' AND `+cond)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	keys := map[int16][]kezekbot.QueueKey{}
	stored := map[int64]kezekbot.Position{}
	for rows.Next() {
		var (
			id      int64
			benefit string
			reg     time.Time
			q, b    int32
			year    int16
		)
		if err := rows.Scan(&id, &benefit, &reg, &q, &b, &year); err != nil {
			t.Fatal(err)
		}
		keys[year] = append(keys[year], kezekbot.QueueKey{Category: kezekbot.Benefit(benefit).Category(), RegisteredAt: reg, ID: id})
		stored[id] = kezekbot.Position{Queue: int(q), Benefit: int(b)}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[int64]kezekbot.Position{}
	for _, k := range keys {
		for id, p := range kezekbot.QueuePositions(k) {
			want[id] = p
			if stored[id] != p {
				t.Errorf("application %d: stored position %+v, queue order gives %+v", id, stored[id], p)
			}
		}
	}
	return want
}
