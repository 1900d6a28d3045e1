package postgres_test

import (
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
)

func TestApplications(t *testing.T) {
	t.Parallel()
	db, f := MustOpenDB(t)
	alice, bob := f.parent(t), f.parent(t)
	reg := time.Date(2021, 6, 1, 9, 0, 0, 0, time.UTC)
	older, _ := f.addApp(t, appSpec{Applicant: alice, Registered: reg})
	newer, _ := f.addApp(t, appSpec{Applicant: alice, Registered: reg.Add(48 * time.Hour), Benefit: kezekbot.BenefitLargeFamily})
	tie, _ := f.addApp(t, appSpec{Applicant: alice, Registered: reg}) // same time as older: higher id first
	bobs, _ := f.addApp(t, appSpec{Applicant: bob, Registered: reg.Add(time.Hour)})

	t.Run("NewestFirst", func(t *testing.T) {
		apps, err := db.Applications(t.Context(), alice)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, a := range apps {
			ids = append(ids, a.ID)
			if !a.ApplicantIIN.Equal(alice) || !a.VisibleTo(alice) {
				t.Errorf("application %d is not alice's", a.ID)
			}
		}
		want := []int64{newer, tie, older}
		if len(ids) != len(want) || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
			t.Fatalf("ids = %v, want %v", ids, want)
		}
		a := apps[0]
		if a.Benefit != kezekbot.BenefitLargeFamily || a.Status != kezekbot.StatusQueued || a.ChildIIN.IsZero() ||
			a.ChildBirthDate.Year() != 2021 || !a.RegisteredAt.Equal(reg.Add(48*time.Hour)) || a.Number == "" {
			t.Errorf("application fields not loaded: %+v", a)
		}
	})
	t.Run("OnlyOwn", func(t *testing.T) {
		apps, err := db.Applications(t.Context(), bob)
		if err != nil {
			t.Fatal(err)
		}
		if len(apps) != 1 || apps[0].ID != bobs {
			t.Fatalf("bob sees %v, want only %d", apps, bobs)
		}
	})
	t.Run("NoneForStranger", func(t *testing.T) {
		apps, err := db.Applications(t.Context(), f.parent(t))
		if err != nil || len(apps) != 0 {
			t.Fatalf("stranger sees %v, %v", apps, err)
		}
	})
	t.Run("ErrZeroIIN", func(t *testing.T) {
		_, err := db.Applications(t.Context(), kezekbot.IIN{})
		wantCode(t, err, kezekbot.EINVALID)
	})
}

func TestApplication(t *testing.T) {
	t.Parallel()
	db, f := MustOpenDB(t)
	alice, bob := f.parent(t), f.parent(t)
	issued := now.Add(-10 * time.Minute)
	id, refs := f.addApp(t, appSpec{
		Applicant: alice,
		Benefit:   kezekbot.BenefitMilitary,
		Referrals: []refSpec{
			{IssuedAt: now.AddDate(0, -2, 0), State: kezekbot.ReferralRevoked, Reason: "далеко от дома"},
			{IssuedAt: issued},
		},
		Documents: []kezekbot.Document{
			{Kind: "benefit_certificate", Number: "123", IssuedAt: time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)},
			{Kind: "birth_certificate", Number: "0001234", IssuedAt: time.Date(2021, 5, 20, 0, 0, 0, 0, time.UTC)},
		},
		History: []kezekbot.HistoryEntry{
			{At: now.Add(-time.Hour), Event: kezekbot.EventReferralIssued, Status: kezekbot.StatusReferralIssued},
			{At: time.Date(2021, 6, 1, 9, 0, 0, 0, time.UTC), Event: kezekbot.EventRegistered, Status: kezekbot.StatusQueued, QueueNumber: 7},
		},
	})
	bobs, _ := f.addApp(t, appSpec{Applicant: bob})

	t.Run("OK", func(t *testing.T) {
		d, err := db.Application(t.Context(), alice, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.ID != id || d.Status != kezekbot.StatusReferralIssued || d.Benefit != kezekbot.BenefitMilitary {
			t.Errorf("application = %+v", d.Application)
		}
		if len(d.Referrals) != 2 || d.Referrals[0].ID != refs[0] || d.Referrals[1].ID != refs[1] {
			t.Fatalf("referrals = %+v, want ids %v oldest first", d.Referrals, refs)
		}
		r := d.Referrals[1]
		if r.State != kezekbot.ReferralActive || !r.IssuedAt.Equal(issued) || !r.ClosedAt.IsZero() ||
			r.Kindergarten.Name == "" || r.Kindergarten.Lat == 0 || r.EnrolBefore.IsZero() || !r.Extendable {
			t.Errorf("active referral = %+v", r)
		}
		if old := d.Referrals[0]; old.State != kezekbot.ReferralRevoked || old.RevokeReason != "далеко от дома" || old.ClosedAt.IsZero() {
			t.Errorf("revoked referral = %+v", old)
		}
		if rev := d.Revocable(now); len(rev) != 1 || rev[0].ID != refs[1] {
			t.Errorf("revocable = %+v", rev)
		}
		if len(d.History) != 2 || d.History[0].Event != kezekbot.EventRegistered || d.History[0].QueueNumber != 7 {
			t.Errorf("history = %+v, want registered first", d.History)
		}
		if len(d.Documents) != 2 || d.Documents[0].Kind != "birth_certificate" || d.Documents[0].IssuedAt.Day() != 20 {
			t.Errorf("documents = %+v", d.Documents)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		d, err := db.Application(t.Context(), bob, bobs)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Referrals)+len(d.History)+len(d.Documents) != 0 {
			t.Fatalf("detail = %+v", d)
		}
	})
	for _, tt := range []struct {
		name string
		iin  kezekbot.IIN
		id   int64
	}{
		{"ErrNotFoundOtherApplicant", bob, id},
		{"ErrNotFoundOtherApplicantReverse", alice, bobs},
		{"ErrNotFoundNoSuchID", alice, 999999},
		{"ErrNotFoundZeroIIN", kezekbot.IIN{}, id},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := db.Application(t.Context(), tt.iin, tt.id)
			wantCode(t, err, kezekbot.ENOTFOUND)
			if d.ID != 0 || len(d.Referrals) != 0 {
				t.Fatalf("returned data with the error: %+v", d)
			}
		})
	}
}
