package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// retentionIIN is a valid IIN (check digit computed by kezekbot.MustParseIIN's rules).
const retentionIIN = "900101300027"

// retentionRow is a row of the kind label names, finished age before now; kind is its purge
// kind, "" for rows no period may remove.
type retentionRow struct {
	kind  string // a postgres.Purge* kind, or "" for rows that must stay whatever their age
	label string
	age   time.Duration
}

func insertRetentionRow(t *testing.T, pool *pgxpool.Pool, now time.Time, r retentionRow, n int) {
	t.Helper()
	ctx := t.Context()
	at := now.Add(-r.age)
	var err error
	switch r.label {
	case "notification_sent", "notification_failed":
		state, msg := "sent", any(1)
		if r.label == "notification_failed" {
			state, msg = "failed", nil
		}
		_, err = pool.Exec(ctx, `INSERT INTO notifications (dedupe_key, chat_id, kind, text, created_at, state, message_id, done_at)
			VALUES ($1, 42, 'reminder', 'x', $2, $3, $4, $2)`, fmt.Sprintf("%s/%d/%d", r.label, r.age, n), at, state, msg)
	case "notification_pending":
		_, err = pool.Exec(ctx, `INSERT INTO notifications (dedupe_key, chat_id, kind, text, created_at)
			VALUES ($1, 42, 'reminder', 'x', $2)`, fmt.Sprintf("%s/%d/%d", r.label, r.age, n), at)
	case "broadcast_done", "broadcast_stopped", "broadcast_running":
		state := r.label[len("broadcast_"):]
		var fin any
		if state == "done" {
			fin = at
		}
		var id int64
		if err = pool.QueryRow(ctx, `INSERT INTO broadcasts (created_at, source, audience, text_ru, state, total, sent, finished_at)
			VALUES ($1, 'cli', '{}', 'x', $2, 3, 2, $3) RETURNING id`, at.Add(-time.Hour), state, fin).Scan(&id); err == nil {
			_, err = pool.Exec(ctx, `INSERT INTO broadcast_deliveries (broadcast_id, chat_id, lang, state, message_id, done_at)
				SELECT $1, c, 'ru', 'sent', 1, $2 FROM generate_series(1, 2) c`, id, at)
		}
		if err == nil {
			_, err = pool.Exec(ctx, `INSERT INTO broadcast_deliveries (broadcast_id, chat_id, lang) VALUES ($1, 3, 'ru')`, id)
		}
	case "outbox_processed":
		_, err = pool.Exec(ctx, `INSERT INTO outbox (kind, created_at, processed_at) VALUES ('x', $1, $1)`, at)
	case "outbox_pending":
		_, err = pool.Exec(ctx, `INSERT INTO outbox (kind, created_at) VALUES ('x', $1)`, at)
	case "command_accepted", "command_pending":
		state, done := "accepted", any(at)
		if r.label == "command_pending" {
			state, done = "pending", nil
		}
		key := fmt.Sprintf("key-%s-%d-%d-xxxxxxxx", r.label, r.age, n)
		_, err = pool.Exec(ctx, `INSERT INTO city_commands (kind, idempotency_key, nonce, chat_id, applicant_iin,
				application_id, referral_id, reason, signed_xml, signed_at, cert_serial, cert_issuer, state, created_at, done_at)
			VALUES ('revoke', $1, $1, 42, $2, 1, 1, 'r', '\x3c78'::bytea, $3, 's', 'i', $4, $3, $5)`,
			key, retentionIIN, at, state, done)
	case "change":
		_, err = pool.Exec(ctx, `INSERT INTO city_changes (change_id, applied_at) VALUES ($1, $2)`,
			fmt.Sprintf("c-%d-%d", r.age, n), at)
	case "audit_revoke", "audit_bind_unbound", "audit_bind_bound":
		action, chat := "revoke", int64(100+n)
		if r.label != "audit_revoke" {
			action = "bind"
		}
		if r.label == "audit_bind_bound" {
			chat = int64(900 + n)
			if _, err = pool.Exec(ctx, `INSERT INTO telegram_bindings (chat_id, iin, lang, bound_at) VALUES ($1, $2, 'ru', $3)`,
				chat, retentionIIN, at); err != nil {
				break
			}
		}
		_, err = pool.Exec(ctx, `INSERT INTO audit_log (at, chat_id, action, iin_masked, evidence_xml, nonce)
			VALUES ($1, $2, $3, '**********27', '\x3c78'::bytea, $4)`, at, chat, action, fmt.Sprintf("n-%s-%d-%d", r.label, r.age, n))
	default:
		t.Fatalf("unknown row %q", r.label)
	}
	if err != nil {
		t.Fatalf("insert %s (age %v): %v", r.label, r.age, err)
	}
}

// tableCounts counts every row of the tables a purge may touch.
func tableCounts(t *testing.T, pool *pgxpool.Pool) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range []string{"notifications", "broadcast_deliveries", "broadcasts", "outbox", "city_commands", "city_changes", "audit_log", "telegram_bindings"} {
		var n int64
		if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

func TestPurgeKeepsWhatIsInsideItsPeriod(t *testing.T) {
	db := pgtest.New(t)
	pool := db.Pool()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	const day = 24 * time.Hour
	periods := map[string]time.Duration{
		postgres.PurgeNotifications: 30 * day,
		postgres.PurgeDeliveries:    20 * day,
		postgres.PurgeOutbox:        7 * day,
		postgres.PurgeCommands:      90 * day,
		postgres.PurgeChanges:       10 * day,
		postgres.PurgeAudit:         5 * 365 * day,
	}
	cutoffs := map[string]time.Time{}
	for k, p := range periods {
		cutoffs[k] = now.Add(-p)
	}
	// Per kind, rows a second inside and a second outside its period. The purge compares
	// with <, so a row exactly at the cut-off stays.
	type pair struct{ kind, label string }
	pairs := []pair{
		{postgres.PurgeNotifications, "notification_sent"},
		{postgres.PurgeNotifications, "notification_failed"},
		{postgres.PurgeDeliveries, "broadcast_done"},
		{postgres.PurgeOutbox, "outbox_processed"},
		{postgres.PurgeCommands, "command_accepted"},
		{postgres.PurgeChanges, "change"},
		{postgres.PurgeAudit, "audit_revoke"},
		{postgres.PurgeAudit, "audit_bind_unbound"},
	}
	for i, p := range pairs {
		insertRetentionRow(t, pool, now, retentionRow{p.kind, p.label, periods[p.kind] - time.Second}, i)
		insertRetentionRow(t, pool, now, retentionRow{p.kind, p.label, periods[p.kind]}, i)
		insertRetentionRow(t, pool, now, retentionRow{p.kind, p.label, periods[p.kind] + time.Second}, i)
	}
	// Rows no period removes, however old: unfinished work, resumable broadcasts, the
	// evidence of a binding the chat still has.
	ancient := 10 * 365 * day
	for i, label := range []string{"notification_pending", "broadcast_stopped", "broadcast_running", "outbox_pending",
		"command_pending", "audit_bind_bound"} {
		insertRetentionRow(t, pool, now, retentionRow{"", label, ancient}, 100+i)
	}
	// Evidence past every other period but inside its own.
	insertRetentionRow(t, pool, now, retentionRow{postgres.PurgeAudit, "audit_revoke", 400 * day}, 200)

	before := tableCounts(t, pool)
	dry, err := db.CountPurgeable(t.Context(), cutoffs)
	if err != nil {
		t.Fatal(err)
	}
	if after := tableCounts(t, pool); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("dry run changed the tables: %v → %v", before, after)
	}
	want := map[string]int64{
		postgres.PurgeNotifications: 2, // sent and failed, one each outside
		postgres.PurgeDeliveries:    3, // every row of the done broadcast outside
		postgres.PurgeOutbox:        1,
		postgres.PurgeCommands:      1,
		postgres.PurgeChanges:       1,
		postgres.PurgeAudit:         2, // the revoke and the unbound chat's bind
	}
	for _, c := range dry {
		if c.Rows != want[c.Kind] || !c.Cutoff.Equal(cutoffs[c.Kind]) {
			t.Errorf("dry run %s: %d rows before %v; want %d before %v", c.Kind, c.Rows, c.Cutoff, want[c.Kind], cutoffs[c.Kind])
		}
	}
	if len(dry) != len(postgres.PurgeKinds) {
		t.Fatalf("dry run covered %d kinds, want %d", len(dry), len(postgres.PurgeKinds))
	}

	done, err := db.Purge(t.Context(), cutoffs, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range done {
		if c.Rows != dry[i].Rows {
			t.Errorf("purged %d %s, the dry run said %d", c.Rows, c.Kind, dry[i].Rows)
		}
	}
	again, err := db.CountPurgeable(t.Context(), cutoffs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again {
		if c.Rows != 0 {
			t.Errorf("after the purge %d %s rows are still past the cut-off", c.Rows, c.Kind)
		}
	}
	after := tableCounts(t, pool)
	var sum int64
	for _, c := range done {
		sum += c.Rows
	}
	var b, a int64
	for k := range before {
		b += before[k]
		a += after[k]
	}
	if b-a != sum {
		t.Fatalf("%d rows went, the purge reported %d", b-a, sum)
	}
	// What stays, by name.
	checks := []struct {
		what string
		q    string
		args []any
		want int64
	}{
		{"pending notification", `SELECT count(*) FROM notifications WHERE state = 'pending'`, nil, 1},
		{"notifications at or inside the period", `SELECT count(*) FROM notifications WHERE state <> 'pending'`, nil, 4},
		{"deliveries of the stopped and running broadcasts", `SELECT count(*) FROM broadcast_deliveries d JOIN broadcasts b ON b.id = d.broadcast_id WHERE b.state <> 'done'`, nil, 6},
		{"broadcast rows", `SELECT count(*) FROM broadcasts`, nil, 5},
		{"unprocessed outbox row", `SELECT count(*) FROM outbox WHERE processed_at IS NULL`, nil, 1},
		{"pending command", `SELECT count(*) FROM city_commands WHERE state = 'pending'`, nil, 1},
		{"bound chat's old bind evidence", `SELECT count(*) FROM audit_log a JOIN telegram_bindings t USING (chat_id) WHERE a.at < $1`, []any{cutoffs[postgres.PurgeAudit]}, 1},
		{"revocation evidence past the other periods", `SELECT count(*) FROM audit_log WHERE action = 'revoke' AND evidence_xml IS NOT NULL`, nil, 3},
	}
	for _, c := range checks {
		var n int64
		if err := pool.QueryRow(t.Context(), c.q, c.args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != c.want {
			t.Errorf("%s: %d rows, want %d", c.what, n, c.want)
		}
	}
}

// A big table goes in many bounded transactions, with the lease renewed between them.
func TestPurgeDeletesInBatches(t *testing.T) {
	db := pgtest.New(t)
	now := time.Now()
	old := now.Add(-60 * 24 * time.Hour)
	const rows = 25_000
	if _, err := db.Pool().Exec(t.Context(), `INSERT INTO notifications (dedupe_key, chat_id, kind, text, created_at, state, message_id, done_at)
		SELECT 'k' || g, g, 'reminder', 'x', $1, 'sent', 1, $1 FROM generate_series(1, $2) g`, old, rows); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(t.Context(), `INSERT INTO notifications (dedupe_key, chat_id, kind, text, created_at, state, message_id, done_at)
		VALUES ('fresh', 1, 'reminder', 'x', $1, 'sent', 1, $1)`, now); err != nil {
		t.Fatal(err)
	}
	var between atomic.Int64
	cut := map[string]time.Time{postgres.PurgeNotifications: now.Add(-30 * 24 * time.Hour)}
	counts, err := db.Purge(t.Context(), cut, 1000, func(context.Context) error {
		between.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 1 || counts[0].Rows != rows {
		t.Fatalf("purged %+v, want %d notifications", counts, rows)
	}
	// 25 full batches, each followed by a renewal; the 26th finds nothing and ends.
	if got := between.Load(); got != rows/1000 {
		t.Fatalf("%d renewals between batches, want %d", got, rows/1000)
	}
	var left int64
	if err := db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM notifications`).Scan(&left); err != nil || left != 1 {
		t.Fatalf("%d notifications left (%v), want the fresh one", left, err)
	}

	// A lost lease stops the purge after the batch in hand.
	if _, err := db.Pool().Exec(t.Context(), `INSERT INTO notifications (dedupe_key, chat_id, kind, text, created_at, state, message_id, done_at)
		SELECT 'again' || g, g, 'reminder', 'x', $1, 'sent', 1, $1 FROM generate_series(1, 3000) g`, old); err != nil {
		t.Fatal(err)
	}
	counts, err = db.Purge(t.Context(), cut, 1000, func(context.Context) error { return postgres.ErrLeaseLost })
	if !errors.Is(err, postgres.ErrLeaseLost) || len(counts) != 1 || counts[0].Rows != 1000 {
		t.Fatalf("purge with a lost lease: %+v, %v; want one batch of 1000 and ErrLeaseLost", counts, err)
	}
}

func TestPurgeLeaseHasOneHolder(t *testing.T) {
	url := pgtest.URL(t)
	// Two pools, as two replicas have.
	dbs := []*postgres.DB{pgtest.Open(t, url), pgtest.Open(t, url)}
	ctx := t.Context()
	const racers = 8
	var won atomic.Int64
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			ok, err := dbs[i%2].AcquirePurgeLease(ctx, fmt.Sprintf("replica-%d", i), time.Minute, 0)
			if err != nil {
				t.Error(err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d racers got the lease, want exactly 1", won.Load())
	}
	holder, until, err := dbs[0].PurgeLeaseHolder(ctx)
	if err != nil || holder == "" || until.IsZero() {
		t.Fatalf("holder %q until %v (%v)", holder, until, err)
	}
	if err := dbs[1].RenewPurgeLease(ctx, "someone-else", time.Minute); !errors.Is(err, postgres.ErrLeaseLost) {
		t.Fatalf("a non-holder renewed: %v", err)
	}
	if err := dbs[1].RenewPurgeLease(ctx, holder, time.Minute); err != nil {
		t.Fatalf("the holder could not renew: %v", err)
	}
	// Done: within the gap nobody purges again; without one anybody may.
	if err := dbs[0].ReleasePurgeLease(ctx, holder, true); err != nil {
		t.Fatal(err)
	}
	if ok, err := dbs[1].AcquirePurgeLease(ctx, "next", time.Minute, time.Hour); err != nil || ok {
		t.Fatalf("acquired within the gap after a finished purge: %v, %v", ok, err)
	}
	if ok, err := dbs[1].AcquirePurgeLease(ctx, "manual", 50*time.Millisecond, 0); err != nil || !ok {
		t.Fatalf("a purge without a gap could not take a free lease: %v, %v", ok, err)
	}
	// A holder that dies (never renews) is replaced once its lease runs out, and then it
	// cannot renew.
	if ok, _ := dbs[0].AcquirePurgeLease(ctx, "other", time.Minute, 0); ok {
		t.Fatal("acquired a lease that is still held")
	}
	time.Sleep(100 * time.Millisecond)
	if ok, err := dbs[0].AcquirePurgeLease(ctx, "other", time.Minute, 0); err != nil || !ok {
		t.Fatalf("an expired lease was not taken over: %v, %v", ok, err)
	}
	if err := dbs[1].RenewPurgeLease(ctx, "manual", time.Minute); !errors.Is(err, postgres.ErrLeaseLost) {
		t.Fatalf("the replaced holder renewed: %v", err)
	}
	// A failed purge releases without recording a run: the next may start at once.
	if _, err := dbs[0].Pool().Exec(ctx, `UPDATE purge_lease SET last_done_at = NULL`); err != nil {
		t.Fatal(err)
	}
	if err := dbs[0].ReleasePurgeLease(ctx, "other", false); err != nil {
		t.Fatal(err)
	}
	if ok, err := dbs[1].AcquirePurgeLease(ctx, "retry", time.Minute, time.Hour); err != nil || !ok {
		t.Fatalf("after a failed purge the next could not start: %v, %v", ok, err)
	}
}

// BenchmarkPurgeNotifications: deleting old notifications in batches of 1,000 beside fresh
// ones the purge must skip (reported as rows/s).
func BenchmarkPurgeNotifications(b *testing.B) {
	db := pgtest.New(b)
	ctx := context.Background()
	old := time.Now().Add(-60 * 24 * time.Hour)
	cut := map[string]time.Time{postgres.PurgeNotifications: time.Now().Add(-30 * 24 * time.Hour)}
	if _, err := db.Pool().Exec(ctx, `INSERT INTO notifications (dedupe_key, chat_id, kind, text, created_at, state, message_id, done_at)
		SELECT 'fresh' || g, g, 'reminder', 'x', now(), 'sent', 1, now() FROM generate_series(1, 20000) g`); err != nil {
		b.Fatal(err)
	}
	const rows = 20_000
	var total int64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if _, err := db.Pool().Exec(ctx, `INSERT INTO notifications (dedupe_key, chat_id, kind, text, created_at, state, message_id, done_at)
			SELECT 'old' || $3::int || '-' || g, g, 'reminder', 'x', $1, 'sent', 1, $1 FROM generate_series(1, $2) g`, old, rows, i); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		counts, err := db.Purge(ctx, cut, 1000, nil)
		if err != nil || counts[0].Rows != rows {
			b.Fatal(counts, err)
		}
		total += counts[0].Rows
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
}
