// Package citytest makes valid city snapshots and changes for tests and benchmarks of the
// mirror, the change ingestion and `kezekbot import`: deterministic, distinct per index, with
// the schema's rules kept (IINs agreeing with birth dates, a referral exactly when the status
// says so, benefit queue numbers where the category needs them).
package citytest

import (
	"fmt"
	"strconv"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
)

// Base is the time the generated snapshots happen around.
var Base = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// iin returns a valid IIN of someone born on birth, distinct per (birth, serial) for serials
// below 5000.
func iin(birth time.Time, centuryMale byte, serial int) kezekbot.IIN {
	for _, sex := range []byte{centuryMale, centuryMale + 1} {
		for _, s := range []int{serial * 2, serial*2 + 1} {
			prefix := birth.Format("060102") + string(sex) + fmt.Sprintf("%04d", s%10000)
			if d, ok := kezekbot.IINCheckDigit(prefix); ok {
				return kezekbot.MustParseIIN(prefix + strconv.Itoa(d))
			}
		}
	}
	panic("citytest: no valid IIN for a prefix") // four prefixes in a row never all fail
}

// ChildIIN and ApplicantIIN are the IINs Snapshot(i, …) uses.
func ChildIIN(i int) kezekbot.IIN {
	return iin(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%1500), '5', (i/1500)%5000)
}

// ApplicantIIN is the applicant of Snapshot(i, …); two consecutive indexes share one.
func ApplicantIIN(i int) kezekbot.IIN {
	j := i / 2
	return iin(time.Date(1985, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, j%4000), '3', (j/4000)%5000)
}

// Snapshot returns application number i (id i+1) at revision rev. Every tenth has an active
// referral (id i+1), every seventh a benefit; the others are queued at number i+1.
func Snapshot(i int, rev int64) city.Application {
	child := ChildIIN(i)
	reg := Base.Add(-time.Duration(i%100000) * time.Minute)
	a := city.Application{
		ID:              int64(i) + 1,
		Revision:        rev,
		Number:          fmt.Sprintf("УО.%d.%07d", child.BirthDate().Year(), i+1),
		Applicant:       city.Person{IIN: ApplicantIIN(i), Name: "Тестова Айгерим", Phone: "+77010000000"},
		Child:           city.Child{IIN: child, Name: "Тестов Арман", BirthDate: child.BirthDate().Format(city.Date)},
		Benefit:         string(kezekbot.BenefitNone),
		RegisteredAt:    reg,
		Status:          string(kezekbot.StatusQueued),
		StatusChangedAt: reg,
		QueuedSince:     reg,
		QueueNumber:     i + 1,
		History: []city.HistoryEntry{{At: reg, Event: string(kezekbot.EventRegistered),
			Status: string(kezekbot.StatusQueued), QueueNumber: i + 1}},
		Documents: []city.Document{{Kind: "birth_certificate", Number: "I-" + strconv.Itoa(i), IssuedAt: child.BirthDate().AddDate(0, 0, 7).Format(city.Date)}},
	}
	if i%7 == 0 {
		a.Benefit, a.BenefitQueueNumber = string(kezekbot.BenefitLargeFamily), i/7+1
	}
	if i%10 == 0 {
		issued := reg.Add(time.Hour)
		a.Status, a.StatusChangedAt = string(kezekbot.StatusReferralIssued), issued
		a.Referrals = []city.Referral{Referral(i, issued, string(kezekbot.ReferralActive))}
		a.History = append(a.History, city.HistoryEntry{At: issued, Event: string(kezekbot.EventReferralIssued),
			Status: string(kezekbot.StatusReferralIssued), QueueNumber: i + 1})
	}
	return a
}

// Referral is referral i+1 to one of fifty kindergartens, in state (closed an hour after
// issue unless active; a revoked one with a reason).
func Referral(i int, issued time.Time, state string) city.Referral {
	k := i%50 + 1
	r := city.Referral{
		ID:           int64(i) + 1,
		Kindergarten: city.Kindergarten{ID: int64(k), Name: fmt.Sprintf("Ясли-сад №%d", k), Address: "Астана"},
		IssuedAt:     issued,
		State:        state,
		EnrolBefore:  issued.AddDate(0, 0, 5).Format(city.Date),
	}
	if state != string(kezekbot.ReferralActive) {
		closed := issued.Add(time.Hour)
		r.ClosedAt = &closed
	}
	if state == string(kezekbot.ReferralRevoked) {
		r.RevokeReason = "передумали"
	}
	return r
}

// Change wraps a snapshot in a change of kind with id.
func Change(id, kind string, a city.Application) city.Change {
	c := city.Change{ID: id, Kind: kind, At: Base, Application: a}
	if len(a.Referrals) > 0 {
		c.ReferralID = a.Referrals[len(a.Referrals)-1].ID
	}
	return c
}
