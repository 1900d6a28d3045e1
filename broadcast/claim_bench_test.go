package broadcast_test

import (
	"context"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/audience"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// BenchmarkClaimRecord measures the store's side of one delivery: claiming rows in batches
// of 250 and recording them sent, on a 100k-recipient broadcast.
func BenchmarkClaimRecord(b *testing.B) {
	db := pgtest.New(b)
	seedBindings(b, db, 1, 100_000)
	bc := createBroadcast(b, db, audience.Audience{})
	ctx := context.Background()
	running := []int64{bc.ID}
	var claim, record time.Duration
	rows := 0
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		jobs, err := db.ClaimJobs(ctx, "bench", 250, time.Minute, running)
		if err != nil {
			b.Fatal(err)
		}
		if len(jobs) == 0 {
			b.StopTimer()
			if _, err := db.Pool().Exec(ctx, `UPDATE broadcast_deliveries SET state = 'pending', message_id = NULL, done_at = NULL`); err != nil {
				b.Fatal(err)
			}
			if _, err := db.Pool().Exec(ctx, `UPDATE broadcasts SET state = 'running', sent = 0, finished_at = NULL`); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			continue
		}
		t1 := time.Now()
		rs := make([]postgres.JobResult, len(jobs))
		for i, j := range jobs {
			rs[i] = postgres.JobResult{Broadcast: j.Broadcast, ChatID: j.ChatID, Outcome: postgres.OutcomeSent, MessageID: i + 1}
		}
		if err := db.RecordJobs(ctx, "bench", rs); err != nil {
			b.Fatal(err)
		}
		claim += t1.Sub(t0)
		record += time.Since(t1)
		rows += len(jobs)
	}
	b.ReportMetric(float64(rows)/(claim+record).Seconds(), "rows/s")
	b.ReportMetric(claim.Seconds()*1e6/float64(rows), "claim-µs/row")
	b.ReportMetric(record.Seconds()*1e6/float64(rows), "record-µs/row")
}
