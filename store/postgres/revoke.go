package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot"
)

// OutboxReferralRevoked is the outbox kind RevokeReferral writes. The row's chat_id is the chat
// that revoked, its iin the applicant's, so the consumer can tell the applicant's other chats
// (ChatsOfIIN); the payload is a ReferralRevokedPayload.
const OutboxReferralRevoked = "referral_revoked"

// ReferralRevokedPayload is the JSON payload of an OutboxReferralRevoked row. It carries no
// IIN and no child's name: the outbox is read by a process that only needs to send a notice.
type ReferralRevokedPayload struct {
	ApplicationID      int64           `json:"application_id"`
	ApplicationNumber  string          `json:"application_number"`
	ReferralID         int64           `json:"referral_id"`
	Kindergarten       string          `json:"kindergarten"`
	Status             kezekbot.Status `json:"status"`
	QueueNumber        int             `json:"queue_number"`
	BenefitQueueNumber int             `json:"benefit_queue_number"`
	RevokedAt          time.Time       `json:"revoked_at"`
	// ExceptChat is the chat that signed the revocation: it already shows the result, so the
	// notification is for the applicant's other chats only.
	ExceptChat int64 `json:"except_chat,omitempty"`
}

// RevokeReferral revokes a referral on the applicant's signed request, in one transaction: it
// records the signature (a nonce already used gives ECONFLICT), locks the application and the
// referral, checks that the application is the applicant's (ENOTFOUND otherwise) and that the
// referral may still be revoked now (kezekbot.CheckRevoke: a *kezekbot.RevokeRefusal, wrapped,
// for a referral that is not active or whose 24 hours are over), closes the referral, returns
// the application to the queue and renumbers that queue, and writes a history row and an
// outbox row. A reason that NormalizeReason rejects gives EINVALID; evidence for another IIN
// gives EFORBIDDEN.
//
// Two revocations of the same referral at once are serialised by the row locks: the second
// sees the referral revoked and gets the refusal.
func (db *DB) RevokeReferral(ctx context.Context, req kezekbot.RevokeRequest) (kezekbot.RevokeResult, error) {
	var res kezekbot.RevokeResult
	reason, err := kezekbot.NormalizeReason(req.Reason)
	if err != nil {
		return res, fmt.Errorf("revoke referral %d: %w", req.ReferralID, err)
	}
	if req.ApplicantIIN.IsZero() {
		return res, fmt.Errorf("revoke referral %d: %w", req.ReferralID,
			kezekbot.Errorf(kezekbot.ENOTFOUND, "application %d not found", req.ApplicationID))
	}
	if err := checkEvidence(req.Evidence); err != nil {
		return res, fmt.Errorf("revoke referral %d: %w", req.ReferralID, err)
	}
	if !req.Evidence.IIN.Equal(req.ApplicantIIN) {
		return res, fmt.Errorf("revoke referral %d: %w", req.ReferralID,
			kezekbot.Errorf(kezekbot.EFORBIDDEN, "the signature is not the applicant's"))
	}
	now := db.now()
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		res, err = revoke(ctx, tx, req, reason, now)
		return err
	})
	if err != nil {
		return kezekbot.RevokeResult{}, fmt.Errorf("revoke referral %d: %w", req.ReferralID, dbError(err, "referral"))
	}
	return res, nil
}

func revoke(ctx context.Context, tx pgx.Tx, req kezekbot.RevokeRequest, reason string, now time.Time) (kezekbot.RevokeResult, error) {
	var res kezekbot.RevokeResult
	// The signature first: a replayed document fails here, before any lock is taken, and a
	// concurrent use of the same nonce waits on the unique index and then fails.
	object := fmt.Sprintf("application/%d/referral/%d", req.ApplicationID, req.ReferralID)
	if err := insertAudit(ctx, tx, now, req.ChatID, kezekbot.ActionRevoke, object, req.Evidence); err != nil {
		return res, err
	}

	var year int16
	app, err := scanApplication(tx.QueryRow(ctx, `SELECT `+applicationColumns+`, a.queue_year FROM `+applicationFrom+`
		WHERE a.id = $1 AND p.iin = $2 FOR UPDATE OF a`, req.ApplicationID, req.ApplicantIIN.Digits()), &year)
	if err != nil {
		return res, fmt.Errorf("lock application %d: %w", req.ApplicationID, dbError(err, "application"))
	}
	ref, err := scanReferral(tx.QueryRow(ctx, `SELECT `+referralColumns+`
		FROM referrals r JOIN kindergartens k ON k.id = r.kindergarten_id
		WHERE r.id = $1 AND r.application_id = $2 FOR UPDATE OF r`, req.ReferralID, app.ID))
	if err != nil {
		return res, fmt.Errorf("lock referral: %w", dbError(err, "referral"))
	}
	// Checked again here, under the lock and at this moment: the button the parent pressed
	// was drawn up to 24 hours earlier, and the signing itself takes time.
	if err := kezekbot.CheckRevoke(ref, now); err != nil {
		return res, err
	}
	// Taken before the queue changes, so that renumbering sees every revocation committed
	// before it; see lockQueue.
	if err := lockQueue(ctx, tx, year); err != nil {
		return res, err
	}

	if _, err := tx.Exec(ctx, `UPDATE referrals SET state = 'revoked', closed_at = $2, revoke_reason = $3 WHERE id = $1`,
		ref.ID, now, reason); err != nil {
		return res, fmt.Errorf("close referral: %w", err)
	}
	// With another referral still active the application keeps its status and stays out of
	// the queue. queued_since is left as it was: the application returns to the place its
	// registration time gives it, not to the end of the queue. A queued row must carry
	// numbers (a CHECK, not deferrable), so it gets at least 1 until renumberQueue below sets
	// the real ones.
	if _, err := tx.Exec(ctx, `WITH s AS (
			SELECT CASE WHEN EXISTS (SELECT 1 FROM referrals r WHERE r.application_id = $1 AND r.state = 'active')
				THEN 'referral_issued' ELSE 'queued' END AS status
		)
		UPDATE applications a SET
			status = s.status,
			queue_number = CASE WHEN s.status = 'queued' THEN greatest(a.queue_number, 1) ELSE a.queue_number END,
			benefit_queue_number = CASE WHEN s.status = 'queued' AND a.benefit_category < 3
				THEN greatest(a.benefit_queue_number, 1) ELSE a.benefit_queue_number END,
			status_changed_at = $2,
			version = a.version + 1
		FROM s
		WHERE a.id = $1`, app.ID, now); err != nil {
		return res, fmt.Errorf("return application to the queue: %w", err)
	}
	if err := renumberQueue(ctx, tx, year); err != nil {
		return res, err
	}

	app, err = scanApplication(tx.QueryRow(ctx, `SELECT `+applicationColumns+` FROM `+applicationFrom+` WHERE a.id = $1`, app.ID))
	if err != nil {
		return res, fmt.Errorf("reload application: %w", err)
	}
	ref.State, ref.ClosedAt, ref.RevokeReason = kezekbot.ReferralRevoked, now, reason

	queueNumber := 0
	if app.Status == kezekbot.StatusQueued {
		queueNumber = app.QueueNumber
	}
	if _, err := tx.Exec(ctx, `INSERT INTO application_history (application_id, at, event, status, queue_number, note)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		app.ID, now, kezekbot.EventReferralRevoked, app.Status, queueNumber, reason); err != nil {
		return res, fmt.Errorf("write history: %w", err)
	}
	payload, err := json.Marshal(ReferralRevokedPayload{
		ApplicationID:      app.ID,
		ApplicationNumber:  app.Number,
		ReferralID:         ref.ID,
		Kindergarten:       ref.Kindergarten.Name,
		Status:             app.Status,
		QueueNumber:        app.QueueNumber,
		BenefitQueueNumber: app.BenefitQueueNumber,
		RevokedAt:          now,
		ExceptChat:         req.ChatID,
	})
	if err != nil {
		return res, fmt.Errorf("encode outbox payload: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (kind, chat_id, iin, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
		OutboxReferralRevoked, req.ChatID, app.ApplicantIIN.Digits(), payload, now); err != nil {
		return res, fmt.Errorf("write outbox: %w", err)
	}
	return kezekbot.RevokeResult{Application: app, Referral: ref}, nil
}

// lockQueue serialises changes to the queue of one birth year until the transaction ends.
// Renumbering reads every queued application of the year; without the lock, two transactions
// that each return an application to the queue would each rank without the other's and commit
// numbers that disagree. The key includes the schema, so test schemas do not wait on each
// other.
func lockQueue(ctx context.Context, tx pgx.Tx, year int16) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema() || ' queue'), $1)`, int32(year)); err != nil {
		return fmt.Errorf("lock queue %d: %w", year, err)
	}
	return nil
}

// renumberQueue gives the queued applications of a birth year their numbers in the order of
// kezekbot.CompareQueue: category, registration time, id. queue_number counts over the whole
// year; benefit_queue_number counts within categories 1 and 2 and is 0 in the general queue,
// as kezekbot.QueuePositions does. Only rows whose numbers change are written. The caller
// holds lockQueue.
func renumberQueue(ctx context.Context, tx pgx.Tx, year int16) error {
	_, err := tx.Exec(ctx, `WITH ranked AS (
			SELECT id,
				row_number() OVER (ORDER BY benefit_category, registered_at, id) AS q,
				CASE WHEN benefit_category < 3
					THEN row_number() OVER (PARTITION BY benefit_category ORDER BY registered_at, id)
					ELSE 0 END AS b
			FROM applications
			WHERE status = 'queued' AND queue_year = $1
		)
		UPDATE applications a SET queue_number = r.q, benefit_queue_number = r.b, version = a.version + 1
		FROM ranked r
		WHERE a.id = r.id AND (a.queue_number, a.benefit_queue_number) IS DISTINCT FROM (r.q, r.b)`, year)
	if err != nil {
		return fmt.Errorf("renumber queue %d: %w", year, err)
	}
	return nil
}
