package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot"
)

// Command states (city_commands.state).
const (
	CommandPending  = "pending"
	CommandSending  = "sending"
	CommandAccepted = "accepted"
	CommandRefused  = "refused"
)

// CityCommand is a parent's signed revocation on its way to the city (migration 00014).
type CityCommand struct {
	ID             int64
	IdempotencyKey string
	Nonce          string
	ChatID         int64
	ApplicantIIN   kezekbot.IIN
	ApplicationID  int64
	// ApplicationNumber and Kindergarten are what the parent saw when signing, for the
	// messages about the command; the city's answer carries the truth.
	ApplicationNumber string
	ReferralID        int64
	Kindergarten      string
	Reason            string
	// SignedXML is the signed document exactly as verified.
	SignedXML  []byte
	SignedAt   time.Time
	CertSerial string
	CertIssuer string

	State     string
	Attempts  int // claims so far, this one included
	LastError string
	CreatedAt time.Time
}

// EnqueueRevoke records a verified revocation for the city, in one transaction: the audit row
// with its evidence (a nonce used before gives ECONFLICT) and the command carrying the request,
// the evidence and the idempotency key. Nothing is revoked here; a deliverer sends the command.
func (db *DB) EnqueueRevoke(ctx context.Context, req kezekbot.RevokeRequest, c CityCommand) error {
	reason, err := kezekbot.NormalizeReason(req.Reason)
	if err != nil {
		return fmt.Errorf("enqueue revocation of referral %d: %w", req.ReferralID, err)
	}
	if err := checkEvidence(req.Evidence); err != nil {
		return fmt.Errorf("enqueue revocation of referral %d: %w", req.ReferralID, err)
	}
	if req.ApplicantIIN.IsZero() || !req.Evidence.IIN.Equal(req.ApplicantIIN) {
		return fmt.Errorf("enqueue revocation of referral %d: %w", req.ReferralID,
			kezekbot.Errorf(kezekbot.EFORBIDDEN, "the signature is not the applicant's"))
	}
	if c.IdempotencyKey == "" {
		return fmt.Errorf("enqueue revocation of referral %d: %w", req.ReferralID,
			kezekbot.Errorf(kezekbot.EINVALID, "idempotency key is required"))
	}
	now := db.now()
	signedAt := req.Evidence.VerifiedAt
	if signedAt.IsZero() {
		signedAt = now
	}
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		object := fmt.Sprintf("application/%d/referral/%d", req.ApplicationID, req.ReferralID)
		if err := insertAudit(ctx, tx, now, req.ChatID, kezekbot.ActionRevoke, object, req.Evidence); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO city_commands (kind, idempotency_key, nonce, chat_id, applicant_iin,
				application_id, application_number, referral_id, kindergarten, reason, signed_xml, signed_at,
				cert_serial, cert_issuer, created_at)
			VALUES ('revoke', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			c.IdempotencyKey, req.Evidence.Nonce, req.ChatID, req.ApplicantIIN.Digits(), req.ApplicationID,
			c.ApplicationNumber, req.ReferralID, c.Kindergarten, reason, req.Evidence.SignedXML, signedAt,
			req.Evidence.Serial, req.Evidence.Issuer, now)
		if err != nil {
			return fmt.Errorf("write command: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("enqueue revocation of referral %d: %w", req.ReferralID, dbError(err, "command"))
	}
	return nil
}

const commandColumns = `id, idempotency_key, nonce, chat_id, applicant_iin, application_id, application_number,
	referral_id, kindergarten, reason, signed_xml, signed_at, cert_serial, cert_issuer, state, attempts,
	coalesce(last_error, ''), created_at`

func scanCommand(r pgx.Row) (CityCommand, error) {
	var c CityCommand
	var iin string
	err := r.Scan(&c.ID, &c.IdempotencyKey, &c.Nonce, &c.ChatID, &iin, &c.ApplicationID, &c.ApplicationNumber,
		&c.ReferralID, &c.Kindergarten, &c.Reason, &c.SignedXML, &c.SignedAt, &c.CertSerial, &c.CertIssuer,
		&c.State, &c.Attempts, &c.LastError, &c.CreatedAt)
	if err != nil {
		return c, err
	}
	if c.ApplicantIIN, err = kezekbot.ParseIIN(iin); err != nil {
		return c, fmt.Errorf("command %d: stored IIN: %w", c.ID, err)
	}
	return c, nil
}

// ClaimCommands leases up to n commands to owner for lease: pending ones that are due, and
// ones whose holder's lease ran out (a replica that crashed mid-delivery). Rows are locked with
// FOR UPDATE SKIP LOCKED, so replicas claiming at once get disjoint commands, and a command is
// held by one owner at a time.
func (db *DB) ClaimCommands(ctx context.Context, owner string, n int, lease time.Duration) ([]CityCommand, error) {
	rows, err := db.pool.Query(ctx, `WITH c AS (
			SELECT id AS cid FROM city_commands
			WHERE (state = 'pending' AND (next_at IS NULL OR next_at <= now()))
			   OR (state = 'sending' AND lease_until < now())
			ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
		UPDATE city_commands t SET state = 'sending', owner = $2,
			lease_until = now() + $3 * interval '1 millisecond', attempts = t.attempts + 1
		FROM c WHERE t.id = c.cid
		RETURNING `+commandColumns, n, owner, lease.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("claim commands: %w", dbError(err, "commands"))
	}
	cmds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CityCommand, error) { return scanCommand(r) })
	if err != nil {
		return nil, fmt.Errorf("claim commands: %w", dbError(err, "commands"))
	}
	return cmds, nil
}

// RetryCommand hands a claimed command back for another attempt at or after at, noting why
// this one got no answer. It reports false when owner no longer holds the command (its lease
// ran out and another replica took it).
func (db *DB) RetryCommand(ctx context.Context, id int64, owner string, at time.Time, why string) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE city_commands SET state = 'pending', owner = NULL, lease_until = NULL,
			next_at = $3, last_error = left($4, 500)
		WHERE id = $1 AND owner = $2 AND state = 'sending'`, id, owner, at, why)
	if err != nil {
		return false, fmt.Errorf("retry command %d: %w", id, dbError(err, "command"))
	}
	return tag.RowsAffected() == 1, nil
}

// AcceptCommand records the city's acceptance of a claimed command in one transaction: the
// command is closed with the answer as received, and the outbox gets a referral_revoked row
// for the applicant's chats other than the one that signed (that chat is told in place). It
// reports false, and writes nothing, when owner no longer holds the command.
func (db *DB) AcceptCommand(ctx context.Context, id int64, owner string, answer []byte, p ReferralRevokedPayload) (bool, error) {
	var ok bool
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var chat int64
		var iin string
		err := tx.QueryRow(ctx, `UPDATE city_commands SET state = 'accepted', owner = NULL, lease_until = NULL,
				answer = $3, done_at = now(), last_error = NULL
			WHERE id = $1 AND owner = $2 AND state = 'sending' RETURNING chat_id, applicant_iin`, id, owner, answer).Scan(&chat, &iin)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("close command: %w", err)
		}
		ok = true
		payload, err := json.Marshal(EventPayload{
			ApplicationID: p.ApplicationID, ApplicationNumber: p.ApplicationNumber, ReferralID: p.ReferralID,
			Kindergarten: p.Kindergarten, Status: p.Status, QueueNumber: p.QueueNumber, RevokedAt: p.RevokedAt,
			ExceptChat: chat,
		})
		if err != nil {
			return fmt.Errorf("encode outbox payload: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (kind, chat_id, iin, payload, created_at) VALUES ($1, $2, $3, $4, now())`,
			OutboxReferralRevoked, chat, iin, payload); err != nil {
			return fmt.Errorf("write outbox: %w", err)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("accept command %d: %w", id, dbError(err, "command"))
	}
	return ok, nil
}

// RefuseCommand closes a claimed command with the city's refusal code. It reports false when
// owner no longer holds the command.
func (db *DB) RefuseCommand(ctx context.Context, id int64, owner, code string) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE city_commands SET state = 'refused', owner = NULL, lease_until = NULL,
			refusal_code = $3, done_at = now(), last_error = NULL
		WHERE id = $1 AND owner = $2 AND state = 'sending'`, id, owner, code)
	if err != nil {
		return false, fmt.Errorf("refuse command %d: %w", id, dbError(err, "command"))
	}
	return tag.RowsAffected() == 1, nil
}

// LateCommands returns the open commands older than age whose parent was not told yet that
// the city is not answering.
func (db *DB) LateCommands(ctx context.Context, age time.Duration) ([]CityCommand, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+commandColumns+` FROM city_commands
		WHERE state IN ('pending', 'sending') AND late_told_at IS NULL
			AND created_at < now() - $1 * interval '1 millisecond'
		ORDER BY id LIMIT 100`, age.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("late commands: %w", dbError(err, "commands"))
	}
	cmds, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CityCommand, error) { return scanCommand(r) })
	if err != nil {
		return nil, fmt.Errorf("late commands: %w", dbError(err, "commands"))
	}
	return cmds, nil
}

// MarkLateTold notes that the parent was told command id is late; it reports true only to the
// first caller, so replicas tell the parent once.
func (db *DB) MarkLateTold(ctx context.Context, id int64) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE city_commands SET late_told_at = now() WHERE id = $1 AND late_told_at IS NULL`, id)
	if err != nil {
		return false, fmt.Errorf("mark command %d late: %w", id, dbError(err, "command"))
	}
	return tag.RowsAffected() == 1, nil
}

// CommandQueue is the state of the commands not yet answered, for metrics and `city status`.
type CommandQueue struct {
	Depth  int
	Oldest time.Time // zero when Depth is 0
	Open   []OpenCommand
}

// OpenCommand is one command not yet answered, as an operator sees it: no personal data.
type OpenCommand struct {
	ID        int64
	State     string
	Attempts  int
	CreatedAt time.Time
	NextAt    time.Time
	LastError string
}

// OpenCommands returns the number of commands not yet answered, the age of the oldest, and up
// to limit of them, oldest first.
func (db *DB) OpenCommands(ctx context.Context, limit int) (CommandQueue, error) {
	var q CommandQueue
	var oldest *time.Time
	if err := db.pool.QueryRow(ctx, `SELECT count(*), min(created_at) FROM city_commands WHERE state IN ('pending', 'sending')`).
		Scan(&q.Depth, &oldest); err != nil {
		return q, fmt.Errorf("command queue: %w", dbError(err, "commands"))
	}
	if oldest != nil {
		q.Oldest = *oldest
	}
	if limit <= 0 || q.Depth == 0 {
		return q, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT id, state, attempts, created_at, coalesce(next_at, lease_until, created_at), coalesce(last_error, '')
		FROM city_commands WHERE state IN ('pending', 'sending') ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return q, fmt.Errorf("command queue: %w", dbError(err, "commands"))
	}
	q.Open, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (OpenCommand, error) {
		var o OpenCommand
		err := r.Scan(&o.ID, &o.State, &o.Attempts, &o.CreatedAt, &o.NextAt, &o.LastError)
		return o, err
	})
	if err != nil {
		return q, fmt.Errorf("command queue: %w", dbError(err, "commands"))
	}
	return q, nil
}
