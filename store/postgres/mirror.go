package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/city"
)

// The mirror (KEZEKBOT_QUEUE=city): kezekbot's copy of the city's applications, kept by
// snapshots. See migrations/00013_city_mirror.sql for which of the schema's rules hold for a
// mirrored row and why. Every writer of the mirror (a change batch, a read-through refresh, an
// import batch) holds one transaction-level advisory lock, so that "is this snapshot newer than
// ours" and the notifications it causes are decided against a copy nobody else is changing.
// Writers are few and their transactions short; one batch of 500 changes holds it for about
// 30 ms.

// ErrCursorMoved is returned (wrapped, code ECONFLICT) by ApplyPage when the stored cursor is
// not the one the page was read with: another replica applied it first.
var ErrCursorMoved = errors.New("the change feed cursor moved")

var docKind = regexp.MustCompile(`^[a-z][a-z_]*$`)

var historyEvents = []kezekbot.HistoryEvent{kezekbot.EventRegistered, kezekbot.EventReferralIssued,
	kezekbot.EventReferralRevoked, kezekbot.EventReferralExpired, kezekbot.EventEnrolled,
	kezekbot.EventQueueChanged, kezekbot.EventStatusChanged}

// CheckSnapshot checks a snapshot as outside input against everything the schema checks of
// one application (the rules that hold for a mirrored row), so that a broken snapshot is a
// clear error naming its field before anything is written, not a failed batch at commit. Errors
// have code EINVALID and never quote values.
func CheckSnapshot(a city.Application) (kezekbot.ApplicationDetail, error) {
	d, err := a.Detail()
	if err != nil {
		return d, err
	}
	bad := func(field string) (kezekbot.ApplicationDetail, error) {
		return kezekbot.ApplicationDetail{}, kezekbot.Errorf(kezekbot.EINVALID, "application %d: bad %s", a.ID, field)
	}
	active := 0
	seen := make(map[int64]bool, len(d.Referrals))
	for _, r := range d.Referrals {
		switch {
		case seen[r.ID]:
			return bad("referral (id repeated)")
		case (r.State == kezekbot.ReferralActive) != r.ClosedAt.IsZero():
			return bad("referral.closed_at")
		case !r.ClosedAt.IsZero() && r.ClosedAt.Before(r.IssuedAt):
			return bad("referral.closed_at")
		case (r.State == kezekbot.ReferralRevoked) != (r.RevokeReason != ""):
			return bad("referral.revoke_reason")
		case utf8.RuneCountInString(r.RevokeReason) > kezekbot.MaxReasonLen:
			return bad("referral.revoke_reason")
		case r.Kindergarten.Lat < -90 || r.Kindergarten.Lat > 90 || r.Kindergarten.Lon < -180 || r.Kindergarten.Lon > 180:
			return bad("referral.kindergarten")
		}
		seen[r.ID] = true
		if r.State == kezekbot.ReferralActive {
			active++
		}
	}
	cat := d.Benefit.Category()
	switch {
	case (d.Status == kezekbot.StatusReferralIssued) != (active > 0):
		return bad("status (referral_issued exactly while a referral is active)")
	case d.Status == kezekbot.StatusQueued && d.QueueNumber == 0:
		return bad("queue_number")
	case cat == kezekbot.CategoryGeneral && d.BenefitQueueNumber != 0:
		return bad("benefit_queue_number")
	case cat != kezekbot.CategoryGeneral && d.Status == kezekbot.StatusQueued && d.BenefitQueueNumber == 0:
		return bad("benefit_queue_number")
	case d.StatusChangedAt.Before(d.RegisteredAt):
		return bad("status_changed_at")
	case d.QueuedSince.Before(d.RegisteredAt):
		return bad("queued_since")
	case !d.ChildIIN.BirthDate().Equal(d.ChildBirthDate):
		return bad("child.birth_date")
	case len(d.PEPNumber) > 64 || len(d.CONNumber) > 64:
		return bad("pep_number")
	case d.QueueNumber > math.MaxInt32 || d.BenefitQueueNumber > math.MaxInt32:
		return bad("queue_number") // the columns are integer
	}
	for _, h := range d.History {
		if !slices.Contains(historyEvents, h.Event) {
			return bad("history.event")
		}
		if h.QueueNumber > math.MaxInt32 {
			return bad("history.queue_number")
		}
	}
	for _, doc := range d.Documents {
		if !docKind.MatchString(doc.Kind) {
			return bad("document.kind")
		}
		if doc.IssuedAt.IsZero() {
			return bad("document.issued_at")
		}
	}
	return d, nil
}

// lockMirror serialises the mirror's writers until the transaction ends. The key includes the
// schema, so test schemas do not wait on each other.
func lockMirror(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema() || ' city mirror'))`); err != nil {
		return fmt.Errorf("lock mirror: %w", err)
	}
	return nil
}

// UpsertSnapshot stores a snapshot of one application read from the city (the card's
// read-through) when its revision is newer than the mirror's, and reports whether it did. A
// snapshot of the revision the mirror holds only moves synced_at (the city confirmed the copy
// is current). It writes no notifications: the change feed brings those (a change the
// read-through got ahead of still notifies; see feed_revision in 00013).
//
// a must be a whole snapshot (GET /v1/applications/{id}), not an item of a search list: lists
// may leave referrals, history and documents out, and a snapshot without a referral deletes it.
func (db *DB) UpsertSnapshot(ctx context.Context, a city.Application, syncedAt time.Time) (bool, error) {
	if _, err := CheckSnapshot(a); err != nil {
		return false, fmt.Errorf("upsert snapshot: %w", err)
	}
	var applied bool
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockMirror(ctx, tx); err != nil {
			return err
		}
		stored, err := storedStates(ctx, tx, []int64{a.ID})
		if err != nil {
			return err
		}
		if rev := stored[a.ID].revision; rev >= a.Revision {
			if rev == a.Revision {
				_, err = tx.Exec(ctx, `UPDATE applications SET synced_at = greatest(synced_at, $2) WHERE id = $1`, a.ID, syncedAt)
			}
			return err
		}
		ids, err := writeSnapshots(ctx, tx, []city.Application{a}, stored, false, syncedAt)
		applied = len(ids) == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("upsert snapshot of application %d: %w", a.ID, dbError(err, "application"))
	}
	return applied, nil
}

// UpsertSnapshots is UpsertSnapshot for many snapshots in one transaction (`kezekbot import`):
// each is checked first (an error names its index, nothing is written), then those newer than
// the mirror's copy are written in bulk; importing the same snapshots twice changes nothing. A
// snapshot repeated in the batch counts once, at its highest revision. It returns how many
// were written. The commit does not wait for the WAL flush: use it for loads that can be run
// again (an import), not for changes that were acknowledged to their sender.
func (db *DB) UpsertSnapshots(ctx context.Context, snaps []city.Application, syncedAt time.Time) (int, error) {
	for i, a := range snaps {
		if _, err := CheckSnapshot(a); err != nil {
			return 0, fmt.Errorf("upsert snapshots: snapshot %d: %w", i, err)
		}
	}
	var n int
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockMirror(ctx, tx); err != nil {
			return err
		}
		// A bulk load is repeatable (idempotent by revision): a crash may lose the last
		// batches acknowledged, and loading again restores them. Not waiting for the WAL
		// flush per batch is worth that.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return fmt.Errorf("bulk load settings: %w", err)
		}
		latest := make(map[int64]int, len(snaps))
		ids := make([]int64, 0, len(snaps))
		for i, a := range snaps {
			if j, ok := latest[a.ID]; !ok {
				ids = append(ids, a.ID)
				latest[a.ID] = i
			} else if a.Revision > snaps[j].Revision {
				latest[a.ID] = i
			}
		}
		stored, err := storedStates(ctx, tx, ids)
		if err != nil {
			return err
		}
		newer := make([]city.Application, 0, len(ids))
		for _, id := range ids {
			if a := snaps[latest[id]]; a.Revision > stored[id].revision {
				newer = append(newer, a)
			}
		}
		written, err := writeSnapshots(ctx, tx, newer, stored, true, syncedAt)
		n = len(written)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("upsert snapshots: %w", dbError(err, "applications"))
	}
	return n, nil
}

// storedState is what the mirror holds of an application, for deciding what a change changed.
type storedState struct {
	exists   bool
	revision int64 // 0 for a row kezekbot numbers itself: any snapshot is newer
	// feedRev is the highest revision the change feed (or an import, as a baseline) accounted
	// for: a change above it notifies, even when a read-through already wrote its data.
	feedRev int64
	status  string
	queue   int
	hash    []byte // details_hash: history and documents as last written
}

func storedStates(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]storedState, error) {
	rows, err := tx.Query(ctx, `SELECT id, coalesce(revision, 0), coalesce(feed_revision, 0), status, queue_number, details_hash
		FROM applications WHERE id = ANY ($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("load stored revisions: %w", err)
	}
	out := make(map[int64]storedState, len(ids))
	var (
		id, rev, feed int64
		status        string
		queue         int32
		hash          []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &rev, &feed, &status, &queue, &hash}, func() error {
		out[id] = storedState{exists: true, revision: rev, feedRev: feed, status: status, queue: int(queue), hash: hash}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load stored revisions: %w", err)
	}
	return out, nil
}

// ApplyChanges applies a batch of changes (a push) in one transaction; see applyChanges.
func (db *DB) ApplyChanges(ctx context.Context, changes []city.Change) (city.Applied, error) {
	return db.applyChanges(ctx, changes, nil)
}

// ApplyPage applies a pulled page of source's change feed and moves the feed's cursor from
// after (the cursor the page was read with; "" for the feed's start) to page.Next, in one
// transaction: a crash applies both or neither, so no page is skipped. When the stored cursor
// is not after, another replica got there first: nothing is applied and the error wraps
// ErrCursorMoved (code ECONFLICT); read the cursor again.
func (db *DB) ApplyPage(ctx context.Context, source, after string, page city.ChangePage) (city.Applied, error) {
	return db.applyChanges(ctx, page.Changes, &cursorMove{source: source, from: after, to: page.Next})
}

type cursorMove struct{ source, from, to string }

// Cursor returns where the pull worker of source stands ("" before the first page).
func (db *DB) Cursor(ctx context.Context, source string) (string, error) {
	var c string
	err := db.pool.QueryRow(ctx, `SELECT cursor FROM city_cursors WHERE source = $1`, source).Scan(&c)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("load cursor of %s: %w", source, dbError(err, "cursor"))
	}
	return c, nil
}

// outboxRow is one notification event an applied change causes.
type outboxRow struct {
	kind    string
	iin     string
	payload []byte
}

// applyChanges validates every change (an error names the index and id; nothing is applied),
// then in one transaction: records each change id (a duplicate, in the batch or from before, is
// counted and ignored), writes each change whose revision is newer than the mirror's copy (an
// older or equal one is counted stale), writes the notification outbox rows of the applied
// changes, and moves the cursor if one is given. Changes of one application within a batch are
// taken in order, each compared with the one before it.
func (db *DB) applyChanges(ctx context.Context, changes []city.Change, cur *cursorMove) (city.Applied, error) {
	var res city.Applied
	for i, c := range changes {
		if err := c.Validate(); err != nil {
			return res, fmt.Errorf("apply changes: change %d: %w", i, err)
		}
		if _, err := CheckSnapshot(c.Application); err != nil {
			return res, fmt.Errorf("apply changes: change %d (%s): %w", i, c.ID, err)
		}
	}
	// Duplicates within the batch: the first occurrence counts.
	seen := make(map[string]bool, len(changes))
	fresh := make([]int, 0, len(changes))
	ids := make([]string, 0, len(changes))
	for i, c := range changes {
		if seen[c.ID] {
			res.Duplicate++
			continue
		}
		seen[c.ID] = true
		fresh = append(fresh, i)
		ids = append(ids, c.ID)
	}
	now := db.now()
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		res = city.Applied{Duplicate: res.Duplicate}
		if err := lockMirror(ctx, tx); err != nil {
			return err
		}
		if cur != nil {
			var stored string
			err := tx.QueryRow(ctx, `SELECT cursor FROM city_cursors WHERE source = $1`, cur.source).Scan(&stored)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("load cursor: %w", err)
			}
			if stored != cur.from {
				return fmt.Errorf("%w: %w", kezekbot.Errorf(kezekbot.ECONFLICT, "feed %s", cur.source), ErrCursorMoved)
			}
		}
		if len(ids) == 0 {
			return moveCursor(ctx, tx, cur, now)
		}
		rows, err := tx.Query(ctx, `INSERT INTO city_changes (change_id, applied_at) SELECT unnest($1::text[]), $2
			ON CONFLICT (change_id) DO NOTHING RETURNING change_id`, ids, now)
		if err != nil {
			return fmt.Errorf("record change ids: %w", err)
		}
		recorded, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("record change ids: %w", err)
		}
		isNew := make(map[string]bool, len(recorded))
		for _, id := range recorded {
			isNew[id] = true
		}
		appIDs := make([]int64, 0, len(recorded))
		for _, i := range fresh {
			if isNew[changes[i].ID] {
				appIDs = append(appIDs, changes[i].Application.ID)
			}
		}
		stored, err := storedStates(ctx, tx, appIDs)
		if err != nil {
			return err
		}
		state := maps.Clone(stored) // as of each change in the batch
		final := make(map[int64]int, len(appIDs))
		order := make([]int64, 0, len(appIDs))
		var events []outboxRow
		for _, i := range fresh {
			c := changes[i]
			if !isNew[c.ID] {
				res.Duplicate++
				continue
			}
			a := c.Application
			prev := state[a.ID]
			if a.Revision <= prev.feedRev {
				res.Stale++
				continue
			}
			res.Applied++
			evs, err := changeEvents(c, prev)
			if err != nil {
				return err
			}
			events = append(events, evs...)
			next := prev
			next.exists, next.feedRev = true, a.Revision
			if a.Revision > prev.revision {
				next.revision, next.status, next.queue = a.Revision, a.Status, a.QueueNumber
				if _, ok := final[a.ID]; !ok {
					order = append(order, a.ID)
				}
				final[a.ID] = i
			}
			state[a.ID] = next
		}
		snaps := make([]city.Application, 0, len(order))
		for _, id := range order {
			snaps = append(snaps, changes[final[id]].Application)
		}
		if _, err := writeSnapshots(ctx, tx, snaps, stored, true, now); err != nil {
			return err
		}
		// Applications a read-through had already brought to this revision or beyond: only the
		// feed's mark moves.
		var feedIDs, feedRevs []int64
		for id, st := range state {
			if _, written := final[id]; !written && st.feedRev > stored[id].feedRev {
				feedIDs, feedRevs = append(feedIDs, id), append(feedRevs, st.feedRev)
			}
		}
		if len(feedIDs) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE applications a SET feed_revision = x.r
				FROM unnest($1::bigint[], $2::bigint[]) AS x (id, r) WHERE a.id = x.id`, feedIDs, feedRevs); err != nil {
				return fmt.Errorf("move feed revisions: %w", err)
			}
		}
		if err := writeOutbox(ctx, tx, events, now); err != nil {
			return err
		}
		return moveCursor(ctx, tx, cur, now)
	})
	if err != nil {
		return city.Applied{}, fmt.Errorf("apply changes: %w", dbError(err, "changes"))
	}
	return res, nil
}

func moveCursor(ctx context.Context, tx pgx.Tx, cur *cursorMove, now time.Time) error {
	if cur == nil || cur.to == "" || cur.to == cur.from {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO city_cursors (source, cursor, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`, cur.source, cur.to, now)
	if err != nil {
		return fmt.Errorf("move cursor: %w", err)
	}
	return nil
}

// changeEvents maps an applied change to the outbox events the notifier renders. The change id
// is the event id, so a notification is sent once per chat however the event is replayed.
// application_created/changed notify only what actually changed against the mirror's copy
// before it; a change that creates the application notifies no status or queue move (there is
// nothing it moved from; the notifier takes the first queue number it sees as the baseline).
func changeEvents(c city.Change, prev storedState) ([]outboxRow, error) {
	a := c.Application
	base := EventPayload{
		EventID:           c.ID,
		ApplicationID:     a.ID,
		ApplicationNumber: a.Number,
		Status:            kezekbot.Status(a.Status),
		QueueNumber:       a.QueueNumber,
	}
	var out []outboxRow
	add := func(kind string, p EventPayload) error {
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode outbox payload: %w", err)
		}
		out = append(out, outboxRow{kind: kind, iin: a.Applicant.IIN.Digits(), payload: b})
		return nil
	}
	status := func() error {
		p := base
		p.OldStatus = kezekbot.Status(prev.status)
		return add(OutboxStatusChanged, p)
	}
	queue := func() error {
		p := base
		p.OldQueueNumber = prev.queue
		return add(OutboxQueueChanged, p)
	}
	switch c.Kind {
	case city.ChangeReferralIssued, city.ChangeReferralRevoked, city.ChangeReferralExpired, city.ChangeReferralUsed:
		i := slices.IndexFunc(a.Referrals, func(r city.Referral) bool { return r.ID == c.ReferralID })
		r := a.Referrals[i] // Validate checked that it is there
		p := base
		p.ReferralID, p.Kindergarten, p.IssuedAt = r.ID, r.Kindergarten.Name, r.IssuedAt
		if c.Kind == city.ChangeReferralRevoked && r.ClosedAt != nil {
			p.RevokedAt = *r.ClosedAt
		}
		kind := map[string]string{
			city.ChangeReferralIssued:  OutboxReferralIssued,
			city.ChangeReferralRevoked: OutboxReferralRevoked,
			city.ChangeReferralExpired: OutboxReferralExpired,
			city.ChangeReferralUsed:    OutboxReferralUsed,
		}[c.Kind]
		return out, add(kind, p)
	case city.ChangeStatusChanged:
		return out, status()
	case city.ChangeQueueChanged:
		return out, queue()
	}
	// application_created / application_changed
	if !prev.exists {
		return out, nil
	}
	if prev.status != a.Status {
		if err := status(); err != nil {
			return nil, err
		}
	}
	if prev.queue != a.QueueNumber && a.Status == string(kezekbot.StatusQueued) {
		if err := queue(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func writeOutbox(ctx context.Context, tx pgx.Tx, events []outboxRow, now time.Time) error {
	if len(events) == 0 {
		return nil
	}
	kinds, iins, payloads := make([]string, len(events)), make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		kinds[i], iins[i], payloads[i] = e.kind, e.iin, string(e.payload)
	}
	_, err := tx.Exec(ctx, `INSERT INTO outbox (kind, iin, payload, created_at)
		SELECT k, i, p::jsonb, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS x (k, i, p)`, kinds, iins, payloads, now)
	if err != nil {
		return fmt.Errorf("write outbox: %w", err)
	}
	return nil
}

// writeSnapshots writes checked snapshots, at most one per application, in bulk: one statement
// per table. Applications whose stored revision is not older are left alone (the caller
// filtered them under the mirror lock already; the condition keeps a bug from going back in
// time). Of the written applications, referrals missing from the snapshot are deleted and
// history and documents replaced (unless their hash is the stored one: stored is what the
// caller read under the lock). feed says whether the snapshots come from the change feed or an
// import (their revision becomes the feed's mark, above which changes notify) or from a
// read-through (the mark stays). It returns the ids of the applications written.
func writeSnapshots(ctx context.Context, tx pgx.Tx, snaps []city.Application, stored map[int64]storedState, feed bool, syncedAt time.Time) ([]int64, error) {
	if len(snaps) == 0 {
		return nil, nil
	}
	hashes := make([][]byte, len(snaps))
	for i, a := range snaps {
		h, err := detailsHash(a)
		if err != nil {
			return nil, err
		}
		hashes[i] = h
	}
	// Applicants and children by IIN (they have no city id), each once per statement.
	applicants := map[string][3]string{}
	children := map[string][3]string{}
	var apIINs, chIINs []string
	for _, a := range snaps {
		iin := a.Applicant.IIN.Digits()
		if _, ok := applicants[iin]; !ok {
			apIINs = append(apIINs, iin)
		}
		applicants[iin] = [3]string{a.Applicant.Name, a.Applicant.Phone, a.Applicant.Email}
		iin = a.Child.IIN.Digits()
		if _, ok := children[iin]; !ok {
			chIINs = append(chIINs, iin)
		}
		children[iin] = [3]string{a.Child.Name, a.Child.BirthDate, ""}
	}
	apIDs, err := upsertPeople(ctx, tx, applicantsSQL, apIINs, applicants)
	if err != nil {
		return nil, fmt.Errorf("upsert applicants: %w", err)
	}
	chIDs, err := upsertPeople(ctx, tx, childrenSQL, chIINs, children)
	if err != nil {
		return nil, fmt.Errorf("upsert children: %w", err)
	}

	n := len(snaps)
	var (
		ids, revs, childIDs, apps     = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		numbers, benefits, peps, cons = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		statuses                      = make([]string, n)
		registered, changed, since    = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		queues, bqueues               = make([]int64, n), make([]int64, n)
	)
	for i, a := range snaps {
		ids[i], revs[i] = a.ID, a.Revision
		childIDs[i], apps[i] = chIDs[a.Child.IIN.Digits()], apIDs[a.Applicant.IIN.Digits()]
		numbers[i], benefits[i], peps[i], cons[i], statuses[i] = a.Number, a.Benefit, a.PEPNumber, a.CONNumber, a.Status
		registered[i], changed[i], since[i] = a.RegisteredAt, a.StatusChangedAt, a.QueuedSince
		queues[i], bqueues[i] = int64(a.QueueNumber), int64(a.BenefitQueueNumber) // ::int[] in SQL; CheckSnapshot bounds them
	}
	rows, err := tx.Query(ctx, `INSERT INTO applications (id, revision, synced_at, number, child_id, applicant_id, benefit,
			registered_at, pep_number, con_number, status, status_changed_at, queued_since, queue_number, benefit_queue_number, details_hash, feed_revision)
		SELECT id, rev, $15, num, ch, ap, ben, reg, pep, con, st, stc, qs, qn, bqn, dh, CASE WHEN $17 THEN rev END
		FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::timestamptz[],
			$8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::int[], $14::int[], $16::bytea[])
			AS x (id, rev, num, ch, ap, ben, reg, pep, con, st, stc, qs, qn, bqn, dh)
		ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, synced_at = excluded.synced_at,
			number = excluded.number, child_id = excluded.child_id, applicant_id = excluded.applicant_id,
			benefit = excluded.benefit, registered_at = excluded.registered_at, pep_number = excluded.pep_number,
			con_number = excluded.con_number, status = excluded.status, status_changed_at = excluded.status_changed_at,
			queued_since = excluded.queued_since, queue_number = excluded.queue_number,
			benefit_queue_number = excluded.benefit_queue_number, details_hash = excluded.details_hash,
			feed_revision = coalesce(excluded.feed_revision, applications.feed_revision), version = applications.version + 1
		WHERE applications.revision IS NULL OR applications.revision < excluded.revision
		RETURNING id`,
		ids, revs, numbers, childIDs, apps, benefits, registered, peps, cons, statuses, changed, since, queues, bqueues, syncedAt, hashes, feed)
	if err != nil {
		return nil, fmt.Errorf("upsert applications: %w", err)
	}
	written, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("upsert applications: %w", err)
	}
	if len(written) == 0 {
		return nil, nil
	}
	isWritten := make(map[int64]bool, len(written))
	for _, id := range written {
		isWritten[id] = true
	}

	// Kindergartens, referrals, history and documents of the written applications.
	kgs := map[int64]city.Kindergarten{}
	var kgIDs []int64
	var (
		rIDs, rApps, rKgs   []int64
		rIssued             []time.Time
		rStates, rReasons   []string
		rClosed, rEnrol     []*time.Time
		rExt                []bool
		hApps               []int64
		hAt                 []time.Time
		hEvents, hStatuses  []string
		hQueues             []int64
		hNotes              []string
		dApps               []int64
		dKinds, dNums, dIss []string
	)
	// Applications that were there before: their old referrals, history and documents may go.
	// A new one has none, and looking costs an index probe per table and application.
	var oldApps, detailApps []int64
	for i, a := range snaps {
		if !isWritten[a.ID] {
			continue
		}
		rewrite := !bytes.Equal(stored[a.ID].hash, hashes[i])
		if stored[a.ID].exists {
			oldApps = append(oldApps, a.ID)
			if rewrite {
				detailApps = append(detailApps, a.ID)
			}
		}
		for _, r := range a.Referrals {
			if _, ok := kgs[r.Kindergarten.ID]; !ok {
				kgIDs = append(kgIDs, r.Kindergarten.ID)
			}
			kgs[r.Kindergarten.ID] = r.Kindergarten
			rIDs, rApps, rKgs = append(rIDs, r.ID), append(rApps, a.ID), append(rKgs, r.Kindergarten.ID)
			rIssued, rStates, rReasons = append(rIssued, r.IssuedAt), append(rStates, r.State), append(rReasons, r.RevokeReason)
			rClosed, rExt = append(rClosed, r.ClosedAt), append(rExt, r.Extendable)
			var enrol *time.Time
			if r.EnrolBefore != "" {
				t, _ := time.Parse(city.Date, r.EnrolBefore) // CheckSnapshot parsed it
				enrol = &t
			}
			rEnrol = append(rEnrol, enrol)
		}
		if !rewrite {
			continue
		}
		for _, h := range a.History {
			hApps, hAt, hEvents, hStatuses = append(hApps, a.ID), append(hAt, h.At), append(hEvents, h.Event), append(hStatuses, h.Status)
			hQueues, hNotes = append(hQueues, int64(h.QueueNumber)), append(hNotes, h.Note)
		}
		for _, d := range a.Documents {
			dApps, dKinds, dNums, dIss = append(dApps, a.ID), append(dKinds, d.Kind), append(dNums, d.Number), append(dIss, d.IssuedAt)
		}
	}
	b := &pgx.Batch{}
	if len(kgIDs) > 0 {
		kNames, kAddrs := make([]string, len(kgIDs)), make([]string, len(kgIDs))
		kLats, kLons := make([]*float64, len(kgIDs)), make([]*float64, len(kgIDs))
		for i, id := range kgIDs {
			k := kgs[id]
			kNames[i], kAddrs[i] = k.Name, k.Address
			if k.Lat != nil && k.Lon != nil {
				kLats[i], kLons[i] = k.Lat, k.Lon
			}
		}
		b.Queue(`INSERT INTO kindergartens (id, name, address, lat, lon)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::float8[], $5::float8[])
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, address = excluded.address, lat = excluded.lat, lon = excluded.lon
			WHERE (kindergartens.name, kindergartens.address, kindergartens.lat, kindergartens.lon)
				IS DISTINCT FROM (excluded.name, excluded.address, excluded.lat, excluded.lon)`,
			kgIDs, kNames, kAddrs, kLats, kLons)
	}
	if len(oldApps) > 0 {
		b.Queue(`DELETE FROM referrals WHERE application_id = ANY ($1) AND id <> ALL (coalesce($2::bigint[], '{}'))`, oldApps, rIDs)
	}
	if len(rIDs) > 0 {
		b.Queue(`INSERT INTO referrals (id, application_id, kindergarten_id, issued_at, state, closed_at, revoke_reason, enrol_before, extendable)
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[], $6::timestamptz[],
				$7::text[], $8::date[], $9::bool[])
			ON CONFLICT (id) DO UPDATE SET application_id = excluded.application_id, kindergarten_id = excluded.kindergarten_id,
				issued_at = excluded.issued_at, state = excluded.state, closed_at = excluded.closed_at,
				revoke_reason = excluded.revoke_reason, enrol_before = excluded.enrol_before, extendable = excluded.extendable
			WHERE (referrals.application_id, referrals.kindergarten_id, referrals.issued_at, referrals.state, referrals.closed_at,
					referrals.revoke_reason, referrals.enrol_before, referrals.extendable)
				IS DISTINCT FROM (excluded.application_id, excluded.kindergarten_id, excluded.issued_at, excluded.state,
					excluded.closed_at, excluded.revoke_reason, excluded.enrol_before, excluded.extendable)`,
			rIDs, rApps, rKgs, rIssued, rStates, rClosed, rReasons, rEnrol, rExt)
	}
	if len(detailApps) > 0 {
		b.Queue(`DELETE FROM application_history WHERE application_id = ANY ($1)`, detailApps)
	}
	if len(hApps) > 0 {
		b.Queue(`INSERT INTO application_history (application_id, at, event, status, queue_number, note)
			SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::int[], $6::text[])`,
			hApps, hAt, hEvents, hStatuses, hQueues, hNotes)
	}
	if len(detailApps) > 0 {
		b.Queue(`DELETE FROM documents WHERE application_id = ANY ($1)`, detailApps)
	}
	if len(dApps) > 0 {
		b.Queue(`INSERT INTO documents (application_id, kind, number, issued_at)
			SELECT a, k, n, d::date FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS x (a, k, n, d)`, dApps, dKinds, dNums, dIss)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("write referrals, history and documents: %w", err)
	}
	return written, nil
}

// detailsHash is a hash of a snapshot's history and documents, to tell whether the stored
// ones need rewriting.
func detailsHash(a city.Application) ([]byte, error) {
	b, err := json.Marshal(struct {
		H []city.HistoryEntry
		D []city.Document
	}{a.History, a.Documents})
	if err != nil {
		return nil, fmt.Errorf("hash history and documents: %w", err)
	}
	h := sha256.Sum256(b)
	return h[:16], nil
}

// peopleSQL are the statements of upsertPeople for one table: people have no city id, only
// an IIN, and up to three fields.
type peopleSQL struct{ load, update, insert string }

// Every lookup goes through the IIN index row by row (LATERAL … LIMIT 1 keeps the planner from
// turning it into a join that hashes the whole table per batch, which made a million-line
// import quadratic).
var (
	applicantsSQL = peopleSQL{
		load: `SELECT x.iin, p.id, p.name, p.phone, p.email FROM unnest($1::text[]) AS x (iin)
			CROSS JOIN LATERAL (SELECT id, name, phone, email FROM applicants a WHERE a.iin = x.iin LIMIT 1) p`,
		update: `UPDATE applicants a SET name = x.f1, phone = x.f2, email = x.f3
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS x (id, f1, f2, f3) WHERE a.id = x.id`,
		insert: `INSERT INTO applicants (iin, name, phone, email)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) RETURNING iin, id`,
	}
	childrenSQL = peopleSQL{
		load: `SELECT x.iin, p.id, p.name, to_char(p.birth_date, 'YYYY-MM-DD'), '' FROM unnest($1::text[]) AS x (iin)
			CROSS JOIN LATERAL (SELECT id, name, birth_date FROM children c WHERE c.iin = x.iin LIMIT 1) p`,
		update: `UPDATE children c SET name = x.f1, birth_date = x.f2::date
			FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS x (id, f1, f2, f3) WHERE c.id = x.id`,
		insert: `INSERT INTO children (iin, name, birth_date)
			SELECT i, f1, f2::date FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x (i, f1, f2, f3)
			RETURNING iin, id`,
	}
)

// upsertPeople returns the ids of the people with iins, adding the missing ones and rewriting
// only those whose fields changed (a row update costs its CHECKs and indexes). The caller holds
// the mirror lock, so no other writer adds the same IIN meanwhile.
func upsertPeople(ctx context.Context, tx pgx.Tx, q peopleSQL, iins []string, want map[string][3]string) (map[string]int64, error) {
	ids := make(map[string]int64, len(iins))
	rows, err := tx.Query(ctx, q.load, iins)
	if err != nil {
		return nil, err
	}
	var (
		iin string
		id  int64
		f   [3]string
		upd struct {
			ids        []int64
			f1, f2, f3 []string
		}
	)
	_, err = pgx.ForEachRow(rows, []any{&iin, &id, &f[0], &f[1], &f[2]}, func() error {
		ids[iin] = id
		if w := want[iin]; w != f {
			upd.ids, upd.f1, upd.f2, upd.f3 = append(upd.ids, id), append(upd.f1, w[0]), append(upd.f2, w[1]), append(upd.f3, w[2])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(upd.ids) > 0 {
		if _, err := tx.Exec(ctx, q.update, upd.ids, upd.f1, upd.f2, upd.f3); err != nil {
			return nil, err
		}
	}
	var ins struct{ iins, f1, f2, f3 []string }
	for _, iin := range iins {
		if _, ok := ids[iin]; !ok {
			w := want[iin]
			ins.iins, ins.f1, ins.f2, ins.f3 = append(ins.iins, iin), append(ins.f1, w[0]), append(ins.f2, w[1]), append(ins.f3, w[2])
		}
	}
	if len(ins.iins) == 0 {
		return ids, nil
	}
	rows, err = tx.Query(ctx, q.insert, ins.iins, ins.f1, ins.f2, ins.f3)
	if err != nil {
		return nil, err
	}
	_, err = pgx.ForEachRow(rows, []any{&iin, &id}, func() error {
		ids[iin] = id
		return nil
	})
	return ids, err
}

// LastChangeAt is what the change-feed lag metric reads: when the newest change was applied (zero
// when none was).
func (db *DB) LastChangeAt(ctx context.Context) (time.Time, error) {
	var at *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT max(applied_at) FROM city_changes`).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("last change: %w", dbError(err, "change ids"))
	}
	if at == nil {
		return time.Time{}, nil
	}
	return *at, nil
}

// SyncedAt returns when the mirror last heard of application id from the city (zero for a row
// kezekbot holds itself, ENOTFOUND for no such application). The adapter shows it on a card
// it could not refresh.
func (db *DB) SyncedAt(ctx context.Context, id int64) (time.Time, error) {
	var at *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT synced_at FROM applications WHERE id = $1`, id).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("synced_at of application %d: %w", id, dbError(err, "application"))
	}
	if at == nil {
		return time.Time{}, nil
	}
	return *at, nil
}
