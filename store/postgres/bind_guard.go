package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/kezekbot/kezekbot"
)

// refuseBoundElsewhere fails with kezekbot.ErrBoundElsewhere when iin is bound to a chat other
// than chatID (issue 17: a second binding of one IIN is refused). A transaction-scoped
// advisory lock on the IIN serialises two chats binding the same IIN at once, which the
// check alone could not (there is no row to lock yet).
func refuseBoundElsewhere(ctx context.Context, tx pgx.Tx, chatID int64, iin kezekbot.IIN) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('kezekbot:bind:' || $1, 0))`, iin.Digits()); err != nil {
		return fmt.Errorf("lock the IIN's bindings: %w", err)
	}
	var other int64
	err := tx.QueryRow(ctx, `SELECT chat_id FROM telegram_bindings WHERE iin = $1 AND chat_id <> $2 LIMIT 1`, iin.Digits(), chatID).Scan(&other)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("look for other bindings: %w", err)
	}
	return kezekbot.ErrBoundElsewhere
}
