package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot"
)

// applicationColumns is the select list scanApplication reads, over
// applications a JOIN applicants p JOIN children c.
const applicationColumns = `a.id, a.number, c.name, c.iin, c.birth_date, p.name, p.iin, p.phone, p.email,
	a.queue_number, a.benefit_queue_number, a.benefit, a.registered_at, a.pep_number, a.con_number,
	a.status, a.status_changed_at, a.queued_since`

const applicationFrom = `applications a
	JOIN applicants p ON p.id = a.applicant_id
	JOIN children c ON c.id = a.child_id`

// scanApplication scans applicationColumns and then extra, for columns a caller adds at the end.
func scanApplication(row pgx.Row, extra ...any) (kezekbot.Application, error) {
	var (
		a                    kezekbot.Application
		childIIN, parentIIN  string
		benefit, status      string
		queueNum, benefitNum int32
	)
	dest := []any{&a.ID, &a.Number, &a.ChildName, &childIIN, &a.ChildBirthDate, &a.ApplicantName, &parentIIN,
		&a.Phone, &a.Email, &queueNum, &benefitNum, &benefit, &a.RegisteredAt, &a.PEPNumber, &a.CONNumber,
		&status, &a.StatusChangedAt, &a.QueuedSince}
	err := row.Scan(append(dest, extra...)...)
	if err != nil {
		return a, err
	}
	a.QueueNumber, a.BenefitQueueNumber = int(queueNum), int(benefitNum)
	a.Benefit, a.Status = kezekbot.Benefit(benefit), kezekbot.Status(status)
	// The schema checks IINs with the same algorithm, so a failure here is a bug, not input.
	if a.ChildIIN, err = kezekbot.ParseIIN(childIIN); err != nil {
		return a, fmt.Errorf("application %d: stored child IIN: %w", a.ID, err)
	}
	if a.ApplicantIIN, err = kezekbot.ParseIIN(parentIIN); err != nil {
		return a, fmt.Errorf("application %d: stored applicant IIN: %w", a.ID, err)
	}
	return a, nil
}

// Applications returns the applications filed by the applicant with iin, newest first
// (registration time descending). An IIN with no applications gets an empty list.
func (db *DB) Applications(ctx context.Context, iin kezekbot.IIN) ([]kezekbot.Application, error) {
	if iin.IsZero() {
		return nil, kezekbot.Errorf(kezekbot.EINVALID, "list applications: no IIN")
	}
	rows, err := db.pool.Query(ctx, `SELECT `+applicationColumns+` FROM `+applicationFrom+`
		WHERE p.iin = $1
		ORDER BY a.registered_at DESC, a.id DESC`, iin.Digits())
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", dbError(err, "applications"))
	}
	apps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (kezekbot.Application, error) {
		return scanApplication(row)
	})
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", dbError(err, "applications"))
	}
	return apps, nil
}

// Application returns application id with its referrals (oldest first, with their
// kindergarten), history (oldest first) and documents. It returns ENOTFOUND when there is no
// such application or when iin is not its applicant's: the portal shows an application only to
// the applicant who filed it, and saying "exists, not yours" would confirm someone else's
// application.
func (db *DB) Application(ctx context.Context, iin kezekbot.IIN, id int64) (kezekbot.ApplicationDetail, error) {
	var d kezekbot.ApplicationDetail
	if iin.IsZero() {
		return d, kezekbot.Errorf(kezekbot.ENOTFOUND, "application %d not found", id)
	}
	// One snapshot for the four reads, so the card never shows a status that disagrees with
	// its referrals; one round trip for the four queries.
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		d, err = loadDetail(ctx, tx, iin, id)
		return err
	})
	if err != nil {
		return kezekbot.ApplicationDetail{}, fmt.Errorf("load application %d: %w", id, dbError(err, "application"))
	}
	return d, nil
}

// loadDetail reads an application visible to iin and everything its card shows. Every query
// repeats the visibility condition, so no row of another applicant's application is read.
func loadDetail(ctx context.Context, tx pgx.Tx, iin kezekbot.IIN, id int64) (kezekbot.ApplicationDetail, error) {
	var d kezekbot.ApplicationDetail
	const visible = `EXISTS (SELECT 1 FROM applications va JOIN applicants vp ON vp.id = va.applicant_id
		WHERE va.id = $1 AND vp.iin = $2)`
	b := &pgx.Batch{}
	b.Queue(`SELECT `+applicationColumns+` FROM `+applicationFrom+` WHERE a.id = $1 AND p.iin = $2`,
		id, iin.Digits()).QueryRow(func(row pgx.Row) error {
		var err error
		d.Application, err = scanApplication(row)
		return err
	})
	b.Queue(`SELECT `+referralColumns+` FROM referrals r JOIN kindergartens k ON k.id = r.kindergarten_id
		WHERE r.application_id = $1 AND `+visible+` ORDER BY r.issued_at, r.id`, id, iin.Digits()).
		Query(func(rows pgx.Rows) error {
			var err error
			d.Referrals, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (kezekbot.Referral, error) {
				return scanReferral(row)
			})
			return err
		})
	b.Queue(`SELECT h.at, h.event, h.status, h.queue_number, h.note FROM application_history h
		WHERE h.application_id = $1 AND `+visible+` ORDER BY h.at, h.id`, id, iin.Digits()).
		Query(func(rows pgx.Rows) error {
			var err error
			d.History, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (kezekbot.HistoryEntry, error) {
				var (
					h             kezekbot.HistoryEntry
					event, status string
					queue         int32
				)
				err := row.Scan(&h.At, &event, &status, &queue, &h.Note)
				h.Event, h.Status, h.QueueNumber = kezekbot.HistoryEvent(event), kezekbot.Status(status), int(queue)
				return h, err
			})
			return err
		})
	b.Queue(`SELECT d.kind, d.number, d.issued_at FROM documents d
		WHERE d.application_id = $1 AND `+visible+` ORDER BY d.issued_at, d.id`, id, iin.Digits()).
		Query(func(rows pgx.Rows) error {
			var err error
			d.Documents, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (kezekbot.Document, error) {
				var doc kezekbot.Document
				err := row.Scan(&doc.Kind, &doc.Number, &doc.IssuedAt)
				return doc, err
			})
			return err
		})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return kezekbot.ApplicationDetail{}, err
	}
	return d, nil
}

// referralColumns is the select list scanReferral reads, over referrals r JOIN kindergartens k.
const referralColumns = `r.id, r.application_id, k.id, k.name, k.address, coalesce(k.lat, 0), coalesce(k.lon, 0),
	r.issued_at, r.state, r.closed_at, r.revoke_reason, r.enrol_before, r.extendable`

func scanReferral(row pgx.Row) (kezekbot.Referral, error) {
	var (
		r                     kezekbot.Referral
		state                 string
		closedAt, enrolBefore *time.Time
	)
	err := row.Scan(&r.ID, &r.ApplicationID, &r.Kindergarten.ID, &r.Kindergarten.Name, &r.Kindergarten.Address,
		&r.Kindergarten.Lat, &r.Kindergarten.Lon, &r.IssuedAt, &state, &closedAt, &r.RevokeReason, &enrolBefore,
		&r.Extendable)
	r.State = kezekbot.ReferralState(state)
	if closedAt != nil {
		r.ClosedAt = *closedAt
	}
	if enrolBefore != nil {
		r.EnrolBefore = *enrolBefore
	}
	return r, err
}
