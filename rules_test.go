package kezekbot_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
)

func TestCheckRevoke(t *testing.T) {
	issued := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	active := kezekbot.Referral{ID: 1, IssuedAt: issued, State: kezekbot.ReferralActive}
	tests := []struct {
		name   string
		ref    kezekbot.Referral
		now    time.Time
		reason kezekbot.RefusalReason // "" = allowed
	}{
		{"just issued", active, issued, ""},
		{"one minute in", active, issued.Add(time.Minute), ""},
		{"last moment", active, issued.Add(24*time.Hour - time.Nanosecond), ""},
		{"exactly 24h", active, issued.Add(24 * time.Hour), kezekbot.RefusalWindowClosed},
		{"two days", active, issued.Add(48 * time.Hour), kezekbot.RefusalWindowClosed},
		{"revoked", withState(active, kezekbot.ReferralRevoked), issued.Add(time.Hour), kezekbot.RefusalNotActive},
		{"used", withState(active, kezekbot.ReferralUsed), issued.Add(time.Hour), kezekbot.RefusalNotActive},
		{"expired", withState(active, kezekbot.ReferralExpired), issued.Add(time.Hour), kezekbot.RefusalNotActive},
		{"clock in another zone", active, issued.Add(23 * time.Hour).In(time.FixedZone("Astana", 5*3600)), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := kezekbot.CheckRevoke(tt.ref, tt.now)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckRevoke = %v, want allowed", err)
				}
				return
			}
			var r *kezekbot.RevokeRefusal
			if !errors.As(err, &r) || r.Reason != tt.reason {
				t.Fatalf("CheckRevoke = %v, want refusal %s", err, tt.reason)
			}
			if tt.reason == kezekbot.RefusalWindowClosed {
				if !r.ClosedAt.Equal(issued.Add(24 * time.Hour)) {
					t.Errorf("ClosedAt = %v", r.ClosedAt)
				}
				if kezekbot.ErrorCode(err) != kezekbot.EEXPIRED {
					t.Errorf("code = %s", kezekbot.ErrorCode(err))
				}
			}
		})
	}
}

func withState(r kezekbot.Referral, s kezekbot.ReferralState) kezekbot.Referral {
	r.State = s
	return r
}

func TestVisibleTo(t *testing.T) {
	a := kezekbot.MustParseIIN("791028302728")
	b := kezekbot.MustParseIIN("031231500126")
	app := kezekbot.Application{ApplicantIIN: a}
	if !app.VisibleTo(a) {
		t.Error("applicant cannot see own application")
	}
	if app.VisibleTo(b) {
		t.Error("another IIN sees the application")
	}
	if app.VisibleTo(kezekbot.IIN{}) {
		t.Error("an unbound chat sees the application")
	}
	if (kezekbot.Application{}).VisibleTo(kezekbot.IIN{}) {
		t.Error("zero IIN matches an application without applicant")
	}
}

func TestQueueOrder(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	keys := []kezekbot.QueueKey{
		{Category: kezekbot.CategoryGeneral, RegisteredAt: t0, ID: 1},
		{Category: kezekbot.CategoryPrimary, RegisteredAt: t0.Add(time.Hour), ID: 2},
		{Category: kezekbot.CategoryExtraordinary, RegisteredAt: t0.Add(2 * time.Hour), ID: 3},
		{Category: kezekbot.CategoryGeneral, RegisteredAt: t0.Add(-time.Hour), ID: 4},
		{Category: kezekbot.CategoryPrimary, RegisteredAt: t0, ID: 5},
		{Category: kezekbot.CategoryGeneral, RegisteredAt: t0, ID: 0}, // same time: id breaks the tie
	}
	pos := kezekbot.QueuePositions(keys)
	want := map[int64]kezekbot.Position{
		3: {Queue: 1, Benefit: 1},
		5: {Queue: 2, Benefit: 1},
		2: {Queue: 3, Benefit: 2},
		4: {Queue: 4},
		0: {Queue: 5},
		1: {Queue: 6},
	}
	for id, w := range want {
		if pos[id] != w {
			t.Errorf("id %d: %+v, want %+v", id, pos[id], w)
		}
	}
}

// The order is total and consistent whatever order the keys come in.
func TestQueueOrderProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 200 {
		n := 1 + r.IntN(40)
		keys := make([]kezekbot.QueueKey, n)
		for i := range keys {
			keys[i] = kezekbot.QueueKey{
				Category:     kezekbot.BenefitCategory(1 + r.IntN(3)),
				RegisteredAt: t0.Add(time.Duration(r.IntN(5)) * time.Hour),
				ID:           int64(i),
			}
		}
		a := kezekbot.QueuePositions(keys)
		r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		b := kezekbot.QueuePositions(keys)
		for id, p := range a {
			if b[id] != p {
				t.Fatalf("positions depend on input order: %d %+v vs %+v", id, p, b[id])
			}
		}
		sorted := slices.Clone(keys)
		kezekbot.SortQueue(sorted)
		for i := 1; i < len(sorted); i++ {
			if sorted[i-1].Category > sorted[i].Category {
				t.Fatal("a lower category stands after a higher one")
			}
		}
	}
}

func TestNormalizeReason(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "  Переезд  ", want: "Переезд"},
		{in: "Далеко\n\tот   дома", want: "Далеко от дома"},
		{in: "   ", err: "required"},
		{in: "", err: "required"},
		{in: "a\x00b", err: "control"},
		{in: "a\u202eb", want: "a\u202eb"},
		{in: "\xff", err: "UTF-8"},
		{in: strings.Repeat("я", kezekbot.MaxReasonLen), want: strings.Repeat("я", kezekbot.MaxReasonLen)},
		{in: strings.Repeat("я", kezekbot.MaxReasonLen+1), err: "longer"},
	}
	for _, tt := range tests {
		got, err := kezekbot.NormalizeReason(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("NormalizeReason(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeReason(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestBenefitCategories(t *testing.T) {
	for _, b := range kezekbot.Benefits {
		if !b.Valid() {
			t.Errorf("%s not valid", b)
		}
	}
	if kezekbot.BenefitNone.Category() != kezekbot.CategoryGeneral ||
		kezekbot.BenefitMilitary.Category() != kezekbot.CategoryExtraordinary ||
		kezekbot.BenefitLargeFamily.Category() != kezekbot.CategoryPrimary {
		t.Error("wrong categories")
	}
}

func TestErrorCode(t *testing.T) {
	if kezekbot.ErrorCode(nil) != "" {
		t.Error("nil")
	}
	if kezekbot.ErrorCode(errors.New("boom")) != kezekbot.EINTERNAL {
		t.Error("plain error is not internal")
	}
	wrapped := errors.Join(errors.New("ctx"), kezekbot.Errorf(kezekbot.ENOTFOUND, "no app"))
	if kezekbot.ErrorCode(wrapped) != kezekbot.ENOTFOUND {
		t.Error("wrapped code lost")
	}
	if kezekbot.ErrorMessage(errors.New("pq: secret")) != "Internal error." {
		t.Error("driver text leaks")
	}
}
