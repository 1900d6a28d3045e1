package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot"
)

// BoundIIN returns the IIN a chat is bound to, or the zero IIN and nil when it is not bound.
func (db *DB) BoundIIN(ctx context.Context, chatID int64) (kezekbot.IIN, error) {
	var digits string
	err := db.pool.QueryRow(ctx, `SELECT iin FROM telegram_bindings WHERE chat_id = $1`, chatID).Scan(&digits)
	if errors.Is(err, pgx.ErrNoRows) {
		return kezekbot.IIN{}, nil
	}
	if err != nil {
		return kezekbot.IIN{}, fmt.Errorf("load binding of chat %d: %w", chatID, dbError(err, "binding"))
	}
	iin, err := kezekbot.ParseIIN(digits)
	if err != nil {
		// The schema validates IINs the same way; a failure here is a bug, not input.
		return kezekbot.IIN{}, fmt.Errorf("load binding of chat %d: stored IIN: %w", chatID, err)
	}
	return iin, nil
}

// Bind binds a chat to the IIN of the certificate in ev, replacing an earlier binding of the
// chat, and records the signature in the audit log, in one transaction. lang is "kk" or "ru".
// A signature whose nonce was already used gives ECONFLICT; missing evidence gives EINVALID;
// an IIN bound to another chat gives kezekbot.ErrBoundElsewhere (bind_guard.go).
func (db *DB) Bind(ctx context.Context, chatID int64, lang string, ev kezekbot.Evidence) error {
	if lang != "kk" && lang != "ru" {
		return fmt.Errorf("bind chat %d: %w", chatID, kezekbot.Errorf(kezekbot.EINVALID, "unknown language %q", lang))
	}
	if err := checkEvidence(ev); err != nil {
		return fmt.Errorf("bind chat %d: %w", chatID, err)
	}
	now := db.now()
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := refuseBoundElsewhere(ctx, tx, chatID, ev.IIN); err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, now, chatID, kezekbot.ActionBind, "", ev); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO telegram_bindings (chat_id, iin, lang, bound_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (chat_id) DO UPDATE SET iin = excluded.iin, lang = excluded.lang, bound_at = excluded.bound_at`,
			chatID, ev.IIN.Digits(), lang, now)
		if err != nil {
			return fmt.Errorf("write binding: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bind chat %d: %w", chatID, dbError(err, "binding"))
	}
	return nil
}

// Unbind removes a chat's binding (/logout). Unbinding a chat that is not bound is not an
// error. The removal is audited, without evidence: logging out needs no signature.
func (db *DB) Unbind(ctx context.Context, chatID int64) error {
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var digits string
		err := tx.QueryRow(ctx, `DELETE FROM telegram_bindings WHERE chat_id = $1 RETURNING iin`, chatID).Scan(&digits)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete binding: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO audit_log (at, chat_id, action, iin_masked) VALUES ($1, $2, 'unbind', $3)`,
			db.now(), chatID, maskIIN(digits))
		if err != nil {
			return fmt.Errorf("write audit: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("unbind chat %d: %w", chatID, dbError(err, "binding"))
	}
	return nil
}

// ChatsOfIIN returns the chats bound to iin, in ascending order; none is an empty list.
func (db *DB) ChatsOfIIN(ctx context.Context, iin kezekbot.IIN) ([]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT chat_id FROM telegram_bindings WHERE iin = $1 ORDER BY chat_id`, iin.Digits())
	if err != nil {
		return nil, fmt.Errorf("list chats of an IIN: %w", dbError(err, "bindings"))
	}
	chats, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list chats of an IIN: %w", dbError(err, "bindings"))
	}
	return chats, nil
}

// checkEvidence rejects evidence that the audit log could not hold as proof.
func checkEvidence(ev kezekbot.Evidence) error {
	switch {
	case ev.IIN.IsZero():
		return kezekbot.Errorf(kezekbot.EINVALID, "evidence carries no IIN")
	case ev.Nonce == "":
		return kezekbot.Errorf(kezekbot.EINVALID, "evidence carries no nonce")
	case len(ev.SignedXML) == 0:
		return kezekbot.Errorf(kezekbot.EINVALID, "evidence carries no signed document")
	}
	return nil
}

// insertAudit records an action done on a signature. The nonce is unique across the log, so a
// signed document already used fails here with a unique violation (ECONFLICT).
func insertAudit(ctx context.Context, tx pgx.Tx, at time.Time, chatID int64, action kezekbot.Action, object string, ev kezekbot.Evidence) error {
	var alg *string
	if ev.Algorithm != "" {
		alg = &ev.Algorithm
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (at, chat_id, action, object, iin_masked, evidence_xml,
			cert_subject, cert_serial, cert_issuer, cert_not_before, cert_not_after, verified_at, nonce, algorithm)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		at, chatID, string(action), object, maskIIN(ev.IIN.Digits()), ev.SignedXML,
		ev.Subject, ev.Serial, ev.Issuer, nullTime(ev.NotBefore), nullTime(ev.NotAfter), nullTime(ev.VerifiedAt), ev.Nonce, alg)
	if err != nil {
		return fmt.Errorf("write audit: %w", err)
	}
	return nil
}

// maskIIN keeps the last two digits, as kezekbot.IIN.LogValue does: enough for an operator
// to tell two parents apart, too little to look anyone up.
func maskIIN(digits string) string {
	if len(digits) != 12 {
		return ""
	}
	return "**********" + digits[10:]
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// SetLang changes the language a bound chat is notified in (flows.LangStore). A chat with no
// binding has nothing to change: Bind takes the dialog's language when it binds.
func (db *DB) SetLang(ctx context.Context, chatID int64, lang string) error {
	if lang != "kk" && lang != "ru" {
		return fmt.Errorf("set language of chat %d: %w", chatID, kezekbot.Errorf(kezekbot.EINVALID, "unknown language %q", lang))
	}
	if _, err := db.pool.Exec(ctx, `UPDATE telegram_bindings SET lang = $2 WHERE chat_id = $1 AND lang <> $2`, chatID, lang); err != nil {
		return fmt.Errorf("set language of chat %d: %w", chatID, dbError(err, "binding"))
	}
	return nil
}
