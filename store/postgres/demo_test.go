package postgres_test

import (
	"testing"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// TestDemoDetailsMatchSeed holds the two users of the demo together: what DemoDetails gives the
// reference city is what Seed writes into an empty database, ids aside.
func TestDemoDetailsMatchSeed(t *testing.T) {
	t.Parallel()
	db := pgtestNew(t)
	if err := db.Seed(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	seeded := map[string]kezekbot.ApplicationDetail{}
	for _, d := range loadDemo(t, db) {
		seeded[d.Number] = d
	}
	details, err := postgres.DemoDetails(now)
	if err != nil {
		t.Fatal(err)
	}
	if len(details) != len(seeded) {
		t.Fatalf("DemoDetails has %d applications, Seed wrote %d", len(details), len(seeded))
	}
	refIDs := map[int64]bool{}
	for i, d := range details {
		s, ok := seeded[d.Number]
		if !ok {
			t.Fatalf("%s not seeded", d.Number)
		}
		if d.ID != int64(i+1) {
			t.Errorf("%s: id %d, want %d", d.Number, d.ID, i+1)
		}
		a, b := d.Application, s.Application
		a.ID, b.ID = 0, 0
		if a.ChildName != b.ChildName || !a.ChildIIN.Equal(b.ChildIIN) || !a.ApplicantIIN.Equal(b.ApplicantIIN) || a.Status != b.Status ||
			a.QueueNumber != b.QueueNumber || a.BenefitQueueNumber != b.BenefitQueueNumber || a.Benefit != b.Benefit ||
			!a.RegisteredAt.Equal(b.RegisteredAt) || !a.StatusChangedAt.Equal(b.StatusChangedAt) || a.CONNumber != b.CONNumber ||
			a.Phone != b.Phone || a.Email != b.Email || a.ApplicantName != b.ApplicantName {
			t.Errorf("%s differs:\n demo %+v\n seed %+v", d.Number, a, b)
		}
		if len(d.Referrals) != len(s.Referrals) || len(d.History) != len(s.History) || len(d.Documents) != len(s.Documents) {
			t.Fatalf("%s: referrals %d/%d, history %d/%d, documents %d/%d", d.Number, len(d.Referrals), len(s.Referrals),
				len(d.History), len(s.History), len(d.Documents), len(s.Documents))
		}
		for j, r := range d.Referrals {
			sr := s.Referrals[j]
			if refIDs[r.ID] || r.ApplicationID != d.ID || r.State != sr.State || !r.IssuedAt.Equal(sr.IssuedAt) ||
				r.Kindergarten.Name != sr.Kindergarten.Name || r.Extendable != sr.Extendable || !r.EnrolBefore.Equal(sr.EnrolBefore) ||
				r.RevokeReason != sr.RevokeReason || !r.ClosedAt.Equal(sr.ClosedAt) {
				t.Errorf("%s referral %d differs: %+v vs %+v", d.Number, j, r, sr)
			}
			refIDs[r.ID] = true
		}
		for j, h := range d.History {
			sh := s.History[j]
			if !h.At.Equal(sh.At) || h.Event != sh.Event || h.Status != sh.Status || h.QueueNumber != sh.QueueNumber || h.Note != sh.Note {
				t.Errorf("%s history %d differs: %+v vs %+v", d.Number, j, h, sh)
			}
		}
		if _, err := city.FromDetail(d, 1).Detail(); err != nil {
			t.Errorf("%s as a city snapshot: %v", d.Number, err)
		}
	}
}
