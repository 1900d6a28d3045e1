package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/store/postgres"
)

func TestDemoParents(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range postgres.DemoParents {
		iin, err := kezekbot.ParseIIN(p.IIN)
		if err != nil {
			t.Errorf("%s: %v", p.Name, err)
			continue
		}
		if age := now.Year() - iin.BirthDate().Year(); age < 18 || seen[p.IIN] || (p.Lang != "kk" && p.Lang != "ru") {
			t.Errorf("demo parent %s: age %d, duplicate %v, lang %q", p.Name, age, seen[p.IIN], p.Lang)
		}
		seen[p.IIN] = true
	}
}

// demoState is what the demo data looks like from the parents' side.
type demoState map[int64]kezekbot.ApplicationDetail

func loadDemo(t *testing.T, db *postgres.DB) demoState {
	t.Helper()
	out := demoState{}
	for _, p := range postgres.DemoParents {
		iin := kezekbot.MustParseIIN(p.IIN)
		apps, err := db.Applications(t.Context(), iin)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range apps {
			d, err := db.Application(t.Context(), iin, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			out[a.ID] = d
		}
	}
	return out
}

func TestSeed(t *testing.T) {
	t.Parallel()
	db := pgtestNew(t)
	if err := db.Seed(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	first := loadDemo(t, db)

	t.Run("Stories", func(t *testing.T) {
		perParent := map[string]int{}
		var revocable, activeNotRevocable, revoked int
		statuses := map[kezekbot.Status]bool{}
		benefits := map[kezekbot.Benefit]bool{}
		for _, d := range first {
			perParent[d.ApplicantIIN.Digits()]++
			statuses[d.Status] = true
			benefits[d.Benefit] = true
			if d.ChildIIN.BirthDate() != d.ChildBirthDate.UTC() || d.ChildIIN.BirthDate().Year() < 2000 {
				t.Errorf("%s: child IIN does not match the birth date", d.Number)
			}
			if len(d.History) == 0 || d.History[0].Event != kezekbot.EventRegistered || len(d.Documents) < 2 {
				t.Errorf("%s: history %v, documents %v", d.Number, d.History, d.Documents)
			}
			for _, r := range d.Referrals {
				switch {
				case kezekbot.CheckRevoke(r, now) == nil:
					revocable++
					// The sandbox tells which parent can try a revocation: the parent's note
					// names this application.
					for _, p := range postgres.DemoParents {
						if p.IIN == d.ApplicantIIN.Digits() && !strings.Contains(p.Note, "revocable ("+d.Number+")") {
							t.Errorf("%s: revocable, but %s's note does not say so: %q", d.Number, p.Name, p.Note)
						}
					}
					if !r.IssuedAt.Equal(now.Add(-10*time.Minute)) && !r.IssuedAt.Equal(now.Add(-3*time.Hour)) {
						t.Errorf("%s: revocable referral issued %v", d.Number, r.IssuedAt)
					}
				case r.State == kezekbot.ReferralActive:
					activeNotRevocable++
				case r.State == kezekbot.ReferralRevoked:
					revoked++
					if r.RevokeReason == "" || d.History[len(d.History)-1].Event != kezekbot.EventReferralRevoked {
						t.Errorf("%s: revoked referral without reason or history", d.Number)
					}
				}
			}
		}
		if revocable < 1 || activeNotRevocable < 1 || revoked < 1 {
			t.Errorf("referrals: %d revocable, %d active not revocable, %d revoked; want each >= 1", revocable, activeNotRevocable, revoked)
		}
		if len(statuses) != len(kezekbot.Statuses) || len(benefits) < 4 {
			t.Errorf("statuses %v, benefits %v: want every status and several benefits", statuses, benefits)
		}
		for i, p := range postgres.DemoParents {
			if n := perParent[p.IIN]; n < 2 || (i == 3 && n < 11) {
				t.Errorf("demo parent %d has %d applications", i, n)
			}
		}
		checkQueuesWhere(t, db, "true")
	})

	t.Run("Idempotent", func(t *testing.T) {
		// Revoke the revocable referral, then seed again: the demo is back as it was, with
		// the same application ids.
		var app kezekbot.ApplicationDetail
		for _, d := range first {
			if len(d.Revocable(now)) > 0 {
				app = d
				break
			}
		}
		if _, err := db.RevokeReferral(t.Context(), revokeRequest(app.ApplicantIIN, app.ID, app.Revocable(now)[0].ID)); err != nil {
			t.Fatal(err)
		}
		if err := db.Seed(t.Context(), now); err != nil {
			t.Fatalf("second Seed: %v", err)
		}
		second := loadDemo(t, db)
		if len(second) != len(first) {
			t.Fatalf("%d applications after reseeding, %d before", len(second), len(first))
		}
		for id, a := range first {
			b, ok := second[id]
			if !ok {
				t.Fatalf("application %d (%s) lost its id", id, a.Number)
			}
			if a.Number != b.Number || a.Status != b.Status || a.QueueNumber != b.QueueNumber || a.BenefitQueueNumber != b.BenefitQueueNumber ||
				!a.StatusChangedAt.Equal(b.StatusChangedAt) || !a.RegisteredAt.Equal(b.RegisteredAt) || !a.ChildIIN.Equal(b.ChildIIN) {
				t.Errorf("%s changed: %+v → %+v", a.Number, a.Application, b.Application)
			}
			if len(a.Referrals) != len(b.Referrals) || len(a.History) != len(b.History) || len(a.Documents) != len(b.Documents) {
				t.Errorf("%s: referrals %d→%d, history %d→%d, documents %d→%d", a.Number,
					len(a.Referrals), len(b.Referrals), len(a.History), len(b.History), len(a.Documents), len(b.Documents))
			}
		}
		var kgs, parents int
		if err := db.Pool().QueryRow(t.Context(), `SELECT (SELECT count(*) FROM kindergartens), (SELECT count(*) FROM applicants)`).Scan(&kgs, &parents); err != nil {
			t.Fatal(err)
		}
		if kgs != 8 || parents != len(postgres.DemoParents) {
			t.Errorf("%d kindergartens, %d applicants after two seeds", kgs, parents)
		}
	})

	t.Run("ErrClockTooEarly", func(t *testing.T) {
		wantCode(t, db.Seed(t.Context(), time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)), kezekbot.EINVALID)
	})
}
