package postgres_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/citytest"
)

// BenchmarkApplyChanges applies batches of 500 changes (a push or a pulled page) to a mirror
// that already holds the applications: every change is a newer revision that moves a queue
// number (90%) or issues or revokes a referral (10%), so each writes the application, its history, documents and
// referrals and one outbox row. Reports changes/s.
func BenchmarkApplyChanges(b *testing.B) {
	const batch = 500
	ctx := context.Background()
	db := pgtestNew(b)
	const apps = 5000
	base := make([]city.Application, apps)
	for i := range base {
		base[i] = citytest.Snapshot(i, 1)
	}
	for i := 0; i < apps; i += 1000 {
		if _, err := db.UpsertSnapshots(ctx, base[i:i+1000], now); err != nil {
			b.Fatal(err)
		}
	}
	rev := int64(1)
	next := 0
	b.ResetTimer()
	total := 0
	for b.Loop() {
		changes := make([]city.Change, batch)
		for j := range changes {
			i := next % apps
			if i == 0 {
				rev++
			}
			next++
			a := citytest.Snapshot(i, rev)
			kind := city.ChangeReferralIssued
			switch {
			case a.Status == "queued":
				a.QueueNumber += int(rev)
				kind = city.ChangeApplicationChanged
			case rev%2 == 0:
				// Every other round the referral is revoked: the status, the referral and
				// the history change, so the deferred checks run too.
				ref := citytest.Referral(i, a.Referrals[0].IssuedAt, "revoked")
				a.Status, a.Referrals = "queued", []city.Referral{ref}
				a.History = append(a.History, city.HistoryEntry{At: *ref.ClosedAt, Event: "referral_revoked", Status: "queued", QueueNumber: a.QueueNumber})
				kind = city.ChangeReferralRevoked
			}
			changes[j] = citytest.Change("b"+strconv.Itoa(next), kind, a)
		}
		res, err := db.ApplyChanges(ctx, changes)
		if err != nil || res.Applied != batch {
			b.Fatalf("%+v, %v", res, err)
		}
		total += batch
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "changes/s")
	b.ReportMetric(0, "ns/op")
}
