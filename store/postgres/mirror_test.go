package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
	"github.com/kezekbot/kezekbot/city/citytest"
	"github.com/kezekbot/kezekbot/store/postgres"
)

func bindChat(t *testing.T, db *postgres.DB, chat int64, iin kezekbot.IIN) {
	t.Helper()
	if _, err := db.Pool().Exec(context.Background(), `INSERT INTO telegram_bindings (chat_id, iin, lang, bound_at) VALUES ($1, $2, 'ru', now())`,
		chat, iin.Digits()); err != nil {
		t.Fatal(err)
	}
}

type outboxEvent struct {
	Kind   string
	IIN    string
	Event  postgres.EventPayload
	Chats  []int64
	Status kezekbot.Status
}

// drainOutbox consumes the outbox as the notifier would and returns what it saw.
func drainOutbox(t *testing.T, db *postgres.DB) []outboxEvent {
	t.Helper()
	var out []outboxEvent
	_, err := db.ConsumeOutbox(context.Background(), 1000, func(nc postgres.NotifyContext) postgres.NotifyOutput {
		if nc.PayloadErr != nil {
			t.Errorf("payload: %v", nc.PayloadErr)
		}
		ev := outboxEvent{Kind: nc.Kind, Event: nc.Payload, Status: nc.Status}
		for _, tg := range nc.Targets {
			ev.Chats = append(ev.Chats, tg.ChatID)
		}
		out = append(out, ev)
		return postgres.NotifyOutput{}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, db *postgres.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestApplyChanges(t *testing.T) {
	ctx := context.Background()
	db := pgtestNew(t)
	a0, a1, a2 := citytest.Snapshot(0, 1), citytest.Snapshot(1, 1), citytest.Snapshot(2, 1)
	bindChat(t, db, 501, a0.Applicant.IIN)
	bindChat(t, db, 502, a2.Applicant.IIN)

	batch := []city.Change{
		citytest.Change("c1", city.ChangeReferralIssued, a0),
		citytest.Change("c2", city.ChangeApplicationCreated, a1),
		citytest.Change("c3", city.ChangeApplicationCreated, a2),
		citytest.Change("c2", city.ChangeApplicationCreated, a1), // repeated in the batch
	}
	res, err := db.ApplyChanges(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if want := (city.Applied{Applied: 3, Duplicate: 1}); res != want {
		t.Fatalf("first batch: %+v, want %+v", res, want)
	}
	d, err := db.Application(ctx, a0.Applicant.IIN, a0.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != kezekbot.StatusReferralIssued || len(d.Referrals) != 1 || d.Referrals[0].ID != a0.Referrals[0].ID ||
		len(d.History) != 2 || len(d.Documents) != 1 || d.Number != a0.Number {
		t.Fatalf("card of the mirrored application: %+v", d)
	}
	if at, err := db.SyncedAt(ctx, a0.ID); err != nil || !at.Equal(now) {
		t.Fatalf("synced_at = %v, %v; want %v", at, err, now)
	}
	evs := drainOutbox(t, db)
	if len(evs) != 1 || evs[0].Kind != postgres.OutboxReferralIssued || evs[0].Event.EventID != "c1" ||
		evs[0].Event.ReferralID != a0.Referrals[0].ID || len(evs[0].Chats) != 1 || evs[0].Chats[0] != 501 {
		t.Fatalf("outbox after the first batch: %+v", evs)
	}

	// Redelivery: every id known, nothing written.
	res, err = db.ApplyChanges(ctx, batch[:3])
	if err != nil || res != (city.Applied{Duplicate: 3}) {
		t.Fatalf("redelivery: %+v, %v", res, err)
	}

	// Out of order: revision 3 arrives before revision 2.
	a2r3, a2r2 := citytest.Snapshot(2, 3), citytest.Snapshot(2, 2)
	a2r3.QueueNumber, a2r2.QueueNumber = 1, 2
	a2r3.Status, a2r3.StatusChangedAt = string(kezekbot.StatusRemoved), a2r3.StatusChangedAt.Add(time.Hour)
	res, err = db.ApplyChanges(ctx, []city.Change{citytest.Change("c5", city.ChangeApplicationChanged, a2r3)})
	if err != nil || res != (city.Applied{Applied: 1}) {
		t.Fatalf("revision 3: %+v, %v", res, err)
	}
	res, err = db.ApplyChanges(ctx, []city.Change{citytest.Change("c4", city.ChangeQueueChanged, a2r2)})
	if err != nil || res != (city.Applied{Stale: 1}) {
		t.Fatalf("revision 2 after 3: %+v, %v", res, err)
	}
	d, err = db.Application(ctx, a2.Applicant.IIN, a2.ID)
	if err != nil || d.Status != kezekbot.StatusRemoved || d.QueueNumber != 1 {
		t.Fatalf("after out-of-order delivery: status %s queue %d, %v", d.Status, d.QueueNumber, err)
	}
	if n := count(t, db, `SELECT count(*) FROM city_changes WHERE change_id = 'c4'`); n != 1 {
		t.Fatal("a stale change's id is not recorded")
	}
	// application_changed notifies what changed against the stored row: the status (queued →
	// removed); not the queue number, which a removed application no longer stands at.
	evs = drainOutbox(t, db)
	if len(evs) != 1 || evs[0].Kind != postgres.OutboxStatusChanged || evs[0].Event.OldStatus != kezekbot.StatusQueued ||
		evs[0].Event.EventID != "c5" || len(evs[0].Chats) != 1 || evs[0].Chats[0] != 502 {
		t.Fatalf("outbox after application_changed: %+v", evs)
	}

	// An application_changed that changes only the queue number notifies queue_changed.
	a1r2 := citytest.Snapshot(1, 2)
	a1r2.QueueNumber = 1
	if _, err := db.ApplyChanges(ctx, []city.Change{citytest.Change("c6", city.ChangeApplicationChanged, a1r2)}); err != nil {
		t.Fatal(err)
	}
	evs = drainOutbox(t, db)
	if len(evs) != 1 || evs[0].Kind != postgres.OutboxQueueChanged || evs[0].Event.OldQueueNumber != 2 || evs[0].Event.QueueNumber != 1 {
		t.Fatalf("outbox after a queue move: %+v", evs)
	}
	var iin string
	if err := db.Pool().QueryRow(ctx, `SELECT iin FROM outbox ORDER BY id DESC LIMIT 1`).Scan(&iin); err != nil || iin != a1.Applicant.IIN.Digits() {
		t.Fatalf("outbox iin: %v", err)
	}
}

func TestApplyChangesReferralLifecycle(t *testing.T) {
	ctx := context.Background()
	db := pgtestNew(t)
	a := citytest.Snapshot(10, 1) // referral_issued with referral 11
	if _, err := db.ApplyChanges(ctx, []city.Change{citytest.Change("i", city.ChangeReferralIssued, a)}); err != nil {
		t.Fatal(err)
	}
	// Revoked: back in the queue, the referral closed with its reason.
	r := citytest.Snapshot(10, 2)
	r.Status, r.QueueNumber = string(kezekbot.StatusQueued), 4
	r.Referrals = []city.Referral{citytest.Referral(10, a.Referrals[0].IssuedAt, string(kezekbot.ReferralRevoked))}
	if _, err := db.ApplyChanges(ctx, []city.Change{citytest.Change("r", city.ChangeReferralRevoked, r)}); err != nil {
		t.Fatal(err)
	}
	d, err := db.Application(ctx, a.Applicant.IIN, a.ID)
	if err != nil || d.Status != kezekbot.StatusQueued || len(d.Referrals) != 1 || d.Referrals[0].State != kezekbot.ReferralRevoked {
		t.Fatalf("after revocation: %+v, %v", d, err)
	}
	// A snapshot without the referral: the city no longer reports it, so neither do we.
	gone := citytest.Snapshot(10, 3)
	gone.Status, gone.QueueNumber, gone.Referrals = string(kezekbot.StatusQueued), 4, nil
	if _, err := db.UpsertSnapshot(ctx, gone, now); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM referrals WHERE application_id = $1`, a.ID); n != 0 {
		t.Fatalf("%d referrals left after a snapshot without them", n)
	}
	kinds := []string{}
	for _, ev := range drainOutbox(t, db) {
		kinds = append(kinds, ev.Kind)
	}
	if strings.Join(kinds, ",") != "referral_issued,referral_revoked" {
		t.Fatalf("outbox kinds %v", kinds)
	}
}

// Two applications swap queue numbers in the city; their snapshots arrive in two deliveries.
// Between them the mirror holds both at one number, which 00001's exclusion would refuse.
func TestApplyChangesQueueSwap(t *testing.T) {
	ctx := context.Background()
	db := pgtestNew(t)
	x, y := citytest.Snapshot(1, 1), citytest.Snapshot(3, 1) // same birth year? not needed: force it
	y.Child = x.Child
	y.Child.IIN = citytest.ChildIIN(1 + 1500*7) // same birth date, another child
	x.QueueNumber, y.QueueNumber = 1, 2
	if _, err := db.ApplyChanges(ctx, []city.Change{citytest.Change("x1", city.ChangeApplicationCreated, x),
		citytest.Change("y1", city.ChangeApplicationCreated, y)}); err != nil {
		t.Fatal(err)
	}
	x2 := x
	x2.Revision, x2.QueueNumber = 2, 2
	if _, err := db.ApplyChanges(ctx, []city.Change{citytest.Change("x2", city.ChangeQueueChanged, x2)}); err != nil {
		t.Fatalf("first half of a swap refused: %v", err)
	}
	y2 := y
	y2.Revision, y2.QueueNumber = 2, 1
	if _, err := db.ApplyChanges(ctx, []city.Change{citytest.Change("y2", city.ChangeQueueChanged, y2)}); err != nil {
		t.Fatal(err)
	}
	// kezekbot's own rows keep the rule.
	_, err := db.Pool().Exec(ctx, `UPDATE applications SET revision = NULL, synced_at = NULL, queue_number = 1`)
	if err == nil {
		t.Fatal("two embedded queued applications at one number were accepted")
	}
}

func TestApplyChangesAtomic(t *testing.T) {
	ctx := context.Background()
	db := pgtestNew(t)
	bindChat(t, db, 7, citytest.Snapshot(0, 1).Applicant.IIN)

	// A bad change anywhere: nothing applied, the error names its index.
	bad := citytest.Snapshot(1, 1)
	bad.QueueNumber = 0 // queued without a number
	_, err := db.ApplyChanges(ctx, []city.Change{citytest.Change("ok", city.ChangeReferralIssued, citytest.Snapshot(0, 1)),
		citytest.Change("bad", city.ChangeApplicationCreated, bad)})
	wantCode(t, err, kezekbot.EINVALID)
	if !strings.Contains(err.Error(), "change 1") || !strings.Contains(err.Error(), "queue_number") {
		t.Fatalf("error does not name the change and field: %v", err)
	}
	unknown := citytest.Change("u", "application_teleported", citytest.Snapshot(2, 1))
	if _, err := db.ApplyChanges(ctx, []city.Change{unknown}); kezekbot.ErrorCode(err) != kezekbot.EINVALID {
		t.Fatalf("unknown kind: %v", err)
	}

	// The transaction dies after the mirror's rows and before the outbox: neither stays.
	if _, err := db.Pool().Exec(ctx, `CREATE FUNCTION fail_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'killed'; END $$;
		CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION fail_outbox()`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ApplyChanges(ctx, []city.Change{citytest.Change("ok", city.ChangeReferralIssued, citytest.Snapshot(0, 1))}); err == nil {
		t.Fatal("a failed outbox write was not an error")
	}
	for _, table := range []string{"applications", "referrals", "city_changes", "outbox"} {
		if n := count(t, db, `SELECT count(*) FROM `+table); n != 0 {
			t.Fatalf("%d rows in %s after a failed batch", n, table)
		}
	}
	if _, err := db.Pool().Exec(ctx, `DROP TRIGGER fail_outbox ON outbox`); err != nil {
		t.Fatal(err)
	}
	res, err := db.ApplyChanges(ctx, []city.Change{citytest.Change("ok", city.ChangeReferralIssued, citytest.Snapshot(0, 1))})
	if err != nil || res.Applied != 1 {
		t.Fatalf("retry after the failure: %+v, %v", res, err)
	}
	if evs := drainOutbox(t, db); len(evs) != 1 || len(evs[0].Chats) != 1 {
		t.Fatalf("retry's notification: %+v", evs)
	}
}

func TestApplyPageCursor(t *testing.T) {
	ctx := context.Background()
	db := pgtestNew(t)
	page := city.ChangePage{Changes: []city.Change{citytest.Change("p1", city.ChangeApplicationCreated, citytest.Snapshot(0, 1))}, Next: "c1"}
	if _, err := db.ApplyPage(ctx, "city", "", page); err != nil {
		t.Fatal(err)
	}
	if c, err := db.Cursor(ctx, "city"); err != nil || c != "c1" {
		t.Fatalf("cursor = %q, %v", c, err)
	}
	// A replica that read the same page with the old cursor is told, and applies nothing.
	page2 := city.ChangePage{Changes: []city.Change{citytest.Change("p2", city.ChangeApplicationCreated, citytest.Snapshot(1, 1))}, Next: "c2"}
	_, err := db.ApplyPage(ctx, "city", "", page2)
	if !errors.Is(err, postgres.ErrCursorMoved) || kezekbot.ErrorCode(err) != kezekbot.ECONFLICT {
		t.Fatalf("stale cursor: %v", err)
	}
	if n := count(t, db, `SELECT count(*) FROM city_changes WHERE change_id = 'p2'`); n != 0 {
		t.Fatal("an overtaken page was applied")
	}
	// An empty page with the same cursor moves nothing.
	if res, err := db.ApplyPage(ctx, "city", "c1", city.ChangePage{Next: "c1"}); err != nil || res != (city.Applied{}) {
		t.Fatalf("empty page: %+v, %v", res, err)
	}
}

func TestUpsertSnapshot(t *testing.T) {
	ctx := context.Background()
	db := pgtestNew(t)
	a := citytest.Snapshot(5, 2)
	if ok, err := db.UpsertSnapshot(ctx, a, now); err != nil || !ok {
		t.Fatalf("first: %v, %v", ok, err)
	}
	later := now.Add(time.Minute)
	if ok, err := db.UpsertSnapshot(ctx, a, later); err != nil || ok {
		t.Fatalf("same revision: %v, %v", ok, err)
	}
	if at, _ := db.SyncedAt(ctx, a.ID); !at.Equal(later) {
		t.Fatalf("same revision did not move synced_at: %v", at)
	}
	old := citytest.Snapshot(5, 1)
	old.QueueNumber = 99
	if ok, err := db.UpsertSnapshot(ctx, old, later); err != nil || ok {
		t.Fatalf("older revision: %v, %v", ok, err)
	}
	if n := count(t, db, `SELECT count(*) FROM outbox`); n != 0 {
		t.Fatalf("a read-through refresh wrote %d outbox rows", n)
	}
	n, err := db.UpsertSnapshots(ctx, []city.Application{citytest.Snapshot(5, 2), citytest.Snapshot(6, 1), citytest.Snapshot(6, 1)}, later)
	if err != nil || n != 1 {
		t.Fatalf("bulk: %d, %v", n, err)
	}
}

// The card's read-through can bring a revision before the change feed does; the change still
// notifies (once), it just does not rewrite the data. An import is a baseline: changes up to
// its revisions notify nobody.
func TestReadThroughThenFeed(t *testing.T) {
	ctx := context.Background()
	db := pgtestNew(t)
	issued := citytest.Snapshot(20, 3) // referral_issued
	bindChat(t, db, 9, issued.Applicant.IIN)
	if ok, err := db.UpsertSnapshot(ctx, issued, now); err != nil || !ok {
		t.Fatalf("read-through: %v %v", ok, err)
	}
	older := citytest.Snapshot(20, 2)
	res, err := db.ApplyChanges(ctx, []city.Change{citytest.Change("f2", city.ChangeReferralIssued, older),
		citytest.Change("f3", city.ChangeReferralIssued, issued)})
	if err != nil || res != (city.Applied{Applied: 2}) {
		t.Fatalf("feed after read-through: %+v, %v", res, err)
	}
	if n := count(t, db, `SELECT count(*) FROM applications WHERE id = $1 AND revision = 3 AND feed_revision = 3`, issued.ID); n != 1 {
		t.Fatal("revision or feed mark wrong")
	}
	if evs := drainOutbox(t, db); len(evs) != 2 || len(evs[0].Chats) != 1 {
		t.Fatalf("notifications: %+v", evs)
	}
	if res, _ := db.ApplyChanges(ctx, []city.Change{citytest.Change("f1", city.ChangeReferralIssued, citytest.Snapshot(20, 1))}); res != (city.Applied{Stale: 1}) {
		t.Fatalf("older than the feed's mark: %+v", res)
	}

	imported := citytest.Snapshot(30, 4)
	if n, err := db.UpsertSnapshots(ctx, []city.Application{imported}, now); err != nil || n != 1 {
		t.Fatalf("import: %d %v", n, err)
	}
	res, err = db.ApplyChanges(ctx, []city.Change{citytest.Change("g4", city.ChangeReferralIssued, imported)})
	if err != nil || res != (city.Applied{Stale: 1}) {
		t.Fatalf("change at the imported revision: %+v, %v", res, err)
	}
}
