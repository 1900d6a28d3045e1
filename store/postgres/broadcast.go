package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/audience"
)

// Broadcast states.
const (
	BroadcastRunning = "running"
	BroadcastStopped = "stopped"
	BroadcastDone    = "done"
)

// Broadcast sources.
const (
	SourceBot = "bot"
	SourceCLI = "cli"
	SourceAPI = "api"
)

// NewBroadcast is what a staff member asked for.
type NewBroadcast struct {
	CreatedBy int64 // Telegram user id of the staff member; 0 from the CLI and the API
	Source    string
	Audience  audience.Audience
	TextKK    string
	TextRU    string
	Paid      bool // send with allow_paid_broadcast (up to 1000 messages/s, billed in Stars)
	// The staff chat and message to edit with progress; 0 for none.
	ProgressChatID    int64
	ProgressMessageID int
}

// Broadcast is a broadcast with its exact counters.
type Broadcast struct {
	ID                int64             `json:"id"`
	CreatedAt         time.Time         `json:"created_at"`
	CreatedBy         int64             `json:"created_by,omitempty"`
	Source            string            `json:"source"`
	Audience          audience.Audience `json:"audience"`
	TextKK            string            `json:"text_kk,omitempty"`
	TextRU            string            `json:"text_ru,omitempty"`
	Paid              bool              `json:"paid,omitempty"`
	State             string            `json:"state"`
	Total             int               `json:"total"`
	Sent              int               `json:"sent"`
	Failed            int               `json:"failed"`
	Blocked           int               `json:"blocked"`
	FinishedAt        time.Time         `json:"finished_at,omitzero"`
	ProgressChatID    int64             `json:"-"`
	ProgressMessageID int               `json:"-"`
}

// Done is how many deliveries reached a final state.
func (b Broadcast) Done() int { return b.Sent + b.Failed + b.Blocked }

// Remaining is how many deliveries are pending or in flight.
func (b Broadcast) Remaining() int { return b.Total - b.Done() }

const broadcastColumns = `id, created_at, coalesce(created_by, 0), source, audience, text_kk, text_ru, paid, state,
	total, sent, failed, blocked, finished_at, coalesce(progress_chat_id, 0), coalesce(progress_message_id, 0)`

func scanBroadcast(row pgx.Row) (Broadcast, error) {
	var b Broadcast
	var aud []byte
	var fin *time.Time
	err := row.Scan(&b.ID, &b.CreatedAt, &b.CreatedBy, &b.Source, &aud, &b.TextKK, &b.TextRU, &b.Paid, &b.State,
		&b.Total, &b.Sent, &b.Failed, &b.Blocked, &fin, &b.ProgressChatID, &b.ProgressMessageID)
	if err != nil {
		return b, err
	}
	if fin != nil {
		b.FinishedAt = *fin
	}
	if err := json.Unmarshal(aud, &b.Audience); err != nil {
		return b, fmt.Errorf("decode audience: %w", err)
	}
	return b, nil
}

// audienceWhere is the filter over telegram_bindings b shared by counting and enqueueing.
// Unset fields are NULL parameters, so one statement (and one plan shape) serves every
// audience. Unreachable chats are left out: they would only be marked blocked again.
const audienceWhere = `
	NOT EXISTS (SELECT 1 FROM chat_unreachable u WHERE u.chat_id = b.chat_id)
	AND ($1::boolean OR EXISTS (
		SELECT 1 FROM applicants ap JOIN applications a ON a.applicant_id = ap.id
		WHERE ap.iin = b.iin
		  AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM referrals r WHERE r.application_id = a.id
		       AND r.kindergarten_id = $2 AND r.state IN ('active', 'used')))
		  AND ($3::text IS NULL OR a.status = $3)
		  AND ($4::integer IS NULL OR a.queue_year BETWEEN $4 AND $5)
		  AND ($6::text[] IS NULL OR a.number = ANY ($6))))`

func audienceArgs(a audience.Audience) []any {
	args := []any{a.All(), nil, nil, nil, nil, nil}
	if a.KindergartenID != 0 {
		args[1] = a.KindergartenID
	}
	if a.Status != "" {
		args[2] = string(a.Status)
	}
	if from, to := a.Years(); from != 0 {
		args[3], args[4] = from, to
	}
	if len(a.Numbers) > 0 {
		args[5] = a.Numbers
	}
	return args
}

// CountAudience returns how many reachable bound chats a selects, for the confirmation screen.
func (db *DB) CountAudience(ctx context.Context, a audience.Audience) (int, error) {
	if err := a.Validate(); err != nil {
		return 0, fmt.Errorf("count audience: %w", err)
	}
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM telegram_bindings b WHERE `+audienceWhere, audienceArgs(a)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count audience: %w", dbError(err, "audience"))
	}
	return n, nil
}

// CreateBroadcast writes the broadcast and one pending delivery per recipient in one
// transaction, with INSERT … SELECT: the recipients never pass through Go, so a million cost
// no memory here. A broadcast with no recipients is created done. Texts must not be both empty.
func (db *DB) CreateBroadcast(ctx context.Context, nb NewBroadcast) (Broadcast, error) {
	if err := nb.Audience.Validate(); err != nil {
		return Broadcast{}, fmt.Errorf("create broadcast: %w", err)
	}
	if nb.TextKK == "" && nb.TextRU == "" {
		return Broadcast{}, fmt.Errorf("create broadcast: %w", kezekbot.Errorf(kezekbot.EINVALID, "text is required"))
	}
	switch nb.Source {
	case SourceBot, SourceCLI, SourceAPI:
	default:
		return Broadcast{}, fmt.Errorf("create broadcast: %w", kezekbot.Errorf(kezekbot.EINVALID, "unknown source %q", nb.Source))
	}
	aud, err := json.Marshal(nb.Audience)
	if err != nil {
		return Broadcast{}, fmt.Errorf("create broadcast: encode audience: %w", err)
	}
	now := db.now()
	var b Broadcast
	err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO broadcasts (created_at, created_by, source, audience, text_kk, text_ru, paid,
				state, progress_chat_id, progress_message_id)
			VALUES ($1, nullif($2, 0::bigint), $3, $4, $5, $6, $7, 'running', nullif($8, 0::bigint), nullif($9, 0))
			RETURNING id`,
			now, nb.CreatedBy, nb.Source, aud, nb.TextKK, nb.TextRU, nb.Paid, nb.ProgressChatID, nb.ProgressMessageID).Scan(&id)
		if err != nil {
			return fmt.Errorf("insert broadcast: %w", err)
		}
		// A chat whose language the staff did not write in gets the other text; lang here is
		// the chat's own, the engine picks the text.
		args := append(audienceArgs(nb.Audience), id)
		tag, err := tx.Exec(ctx, `INSERT INTO broadcast_deliveries (broadcast_id, chat_id, lang)
			SELECT $7, b.chat_id, b.lang FROM telegram_bindings b WHERE `+audienceWhere, args...)
		if err != nil {
			return fmt.Errorf("insert deliveries: %w", err)
		}
		b, err = scanBroadcast(tx.QueryRow(ctx, `UPDATE broadcasts SET total = $2,
				state = CASE WHEN $2 = 0 THEN 'done' ELSE state END,
				finished_at = CASE WHEN $2 = 0 THEN created_at END
			WHERE id = $1 RETURNING `+broadcastColumns, id, tag.RowsAffected()))
		if err != nil {
			return fmt.Errorf("set total: %w", err)
		}
		return nil
	})
	if err != nil {
		return Broadcast{}, fmt.Errorf("create broadcast: %w", dbError(err, "broadcast"))
	}
	return b, nil
}

// GetBroadcast returns one broadcast; ENOTFOUND if there is none.
func (db *DB) GetBroadcast(ctx context.Context, id int64) (Broadcast, error) {
	b, err := scanBroadcast(db.pool.QueryRow(ctx, `SELECT `+broadcastColumns+` FROM broadcasts WHERE id = $1`, id))
	if err != nil {
		return b, fmt.Errorf("load broadcast %d: %w", id, dbError(err, "broadcast"))
	}
	return b, nil
}

// ListBroadcasts returns the newest broadcasts first, at most limit (1–1000).
func (db *DB) ListBroadcasts(ctx context.Context, limit int) ([]Broadcast, error) {
	limit = min(max(limit, 1), 1000)
	rows, err := db.pool.Query(ctx, `SELECT `+broadcastColumns+` FROM broadcasts ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list broadcasts: %w", dbError(err, "broadcasts"))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Broadcast, error) { return scanBroadcast(r) })
	if err != nil {
		return nil, fmt.Errorf("list broadcasts: %w", dbError(err, "broadcasts"))
	}
	return out, nil
}

// StopBroadcast stops a running broadcast: workers claim none of its deliveries any more and
// put back those they hold unsent. Stopping a stopped or done broadcast changes nothing.
func (db *DB) StopBroadcast(ctx context.Context, id int64) (Broadcast, error) {
	b, err := scanBroadcast(db.pool.QueryRow(ctx, `UPDATE broadcasts SET state = CASE WHEN state = 'running' THEN 'stopped' ELSE state END
		WHERE id = $1 RETURNING `+broadcastColumns, id))
	if err != nil {
		return b, fmt.Errorf("stop broadcast %d: %w", id, dbError(err, "broadcast"))
	}
	return b, nil
}

// ResumeBroadcast lets workers claim a stopped broadcast's deliveries again; one with nothing
// left becomes done. Resuming a running or done broadcast changes nothing.
func (db *DB) ResumeBroadcast(ctx context.Context, id int64) (Broadcast, error) {
	b, err := scanBroadcast(db.pool.QueryRow(ctx, `UPDATE broadcasts SET
			state = CASE WHEN state <> 'stopped' THEN state WHEN sent + failed + blocked = total THEN 'done' ELSE 'running' END,
			finished_at = CASE WHEN state = 'stopped' AND sent + failed + blocked = total THEN now() ELSE finished_at END
		WHERE id = $1 RETURNING `+broadcastColumns, id))
	if err != nil {
		return b, fmt.Errorf("resume broadcast %d: %w", id, dbError(err, "broadcast"))
	}
	return b, nil
}

// SetBroadcastProgressMessage records the staff message that shows a broadcast's progress.
func (db *DB) SetBroadcastProgressMessage(ctx context.Context, id, chatID int64, messageID int) error {
	tag, err := db.pool.Exec(ctx, `UPDATE broadcasts SET progress_chat_id = $2, progress_message_id = $3 WHERE id = $1`, id, chatID, messageID)
	if err != nil {
		return fmt.Errorf("set progress message of broadcast %d: %w", id, dbError(err, "broadcast"))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set progress message of broadcast %d: %w", id, kezekbot.Errorf(kezekbot.ENOTFOUND, "broadcast not found"))
	}
	return nil
}

// ProgressDue is a broadcast whose progress message should be redrawn now, with what was
// drawn last time so the caller can compute the rate.
type ProgressDue struct {
	Broadcast
	PrevAt   time.Time // when progress was drawn last; CreatedAt the first time
	PrevDone int
	Now      time.Time // the database's clock
	Lang     string    // the language of the staff member who started it (ru by default)
}

// ClaimProgress returns the broadcasts whose progress message is due: running ones not drawn
// within every, and stopped or done ones whose final state was not drawn yet. Claiming stamps
// them, so of several replicas exactly one draws each time.
func (db *DB) ClaimProgress(ctx context.Context, every time.Duration) ([]ProgressDue, error) {
	rows, err := db.pool.Query(ctx, `WITH due AS (
			SELECT id, coalesce(progress_at, created_at) AS prev_at, progress_done AS prev_done FROM broadcasts
			WHERE progress_chat_id IS NOT NULL AND progress_message_id IS NOT NULL
			  AND ((state = 'running' AND (progress_at IS NULL OR progress_at <= now() - $1 * interval '1 millisecond'))
			    OR (state <> 'running' AND progress_drawn IS DISTINCT FROM state))
			ORDER BY id LIMIT 50 FOR UPDATE SKIP LOCKED)
		UPDATE broadcasts b SET progress_at = now(), progress_done = b.sent + b.failed + b.blocked, progress_drawn = b.state
		FROM due WHERE b.id = due.id
		RETURNING b.id, b.created_at, coalesce(b.created_by, 0), b.source, b.audience, b.text_kk, b.text_ru, b.paid,
			b.state, b.total, b.sent, b.failed, b.blocked, b.finished_at, coalesce(b.progress_chat_id, 0),
			coalesce(b.progress_message_id, 0), due.prev_at, due.prev_done, now(),
			coalesce((SELECT s.lang FROM staff s WHERE s.user_id = b.created_by), 'ru')`, every.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("claim progress: %w", dbError(err, "broadcasts"))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ProgressDue, error) {
		var p ProgressDue
		var aud []byte
		var fin *time.Time
		err := r.Scan(&p.ID, &p.CreatedAt, &p.CreatedBy, &p.Source, &aud, &p.TextKK, &p.TextRU, &p.Paid, &p.State,
			&p.Total, &p.Sent, &p.Failed, &p.Blocked, &fin, &p.ProgressChatID, &p.ProgressMessageID, &p.PrevAt, &p.PrevDone, &p.Now, &p.Lang)
		if fin != nil {
			p.FinishedAt = *fin
		}
		if err == nil {
			err = json.Unmarshal(aud, &p.Audience)
		}
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim progress: %w", dbError(err, "broadcasts"))
	}
	return out, nil
}

// MarkUnreachable records that a chat cannot be messaged, e.g. from a my_chat_member update
// saying the bot was blocked, or a 403 seen by the bot's Sender. reason may be one of blocked,
// deactivated, not_found, kicked, or Telegram's description, which is reduced to one of them.
// Pending deliveries and notifications to the chat are then skipped as blocked.
func (db *DB) MarkUnreachable(ctx context.Context, chatID int64, reason string) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO chat_unreachable (chat_id, reason, at) VALUES ($1, $2, now())
		ON CONFLICT (chat_id) DO UPDATE SET reason = excluded.reason, at = excluded.at`, chatID, UnreachableReason(reason))
	if err != nil {
		return fmt.Errorf("mark chat %d unreachable: %w", chatID, dbError(err, "chat"))
	}
	return nil
}

// SetReachable forgets that a chat was unreachable: the user unblocked the bot or wrote to it.
func (db *DB) SetReachable(ctx context.Context, chatID int64) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM chat_unreachable WHERE chat_id = $1`, chatID); err != nil {
		return fmt.Errorf("mark chat %d reachable: %w", chatID, dbError(err, "chat"))
	}
	return nil
}

// Unreachable reports whether a chat is marked unreachable.
func (db *DB) Unreachable(ctx context.Context, chatID int64) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM chat_unreachable WHERE chat_id = $1)`, chatID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check chat %d: %w", chatID, dbError(err, "chat"))
	}
	return ok, nil
}

// DeliveryCounts counts a broadcast's deliveries by state from the rows themselves; tests and
// operators use it to check the counters on the broadcast row.
func (db *DB) DeliveryCounts(ctx context.Context, id int64) (map[string]int, error) {
	rows, err := db.pool.Query(ctx, `SELECT state, count(*) FROM broadcast_deliveries WHERE broadcast_id = $1 GROUP BY state`, id)
	if err != nil {
		return nil, fmt.Errorf("count deliveries of broadcast %d: %w", id, dbError(err, "deliveries"))
	}
	out := map[string]int{}
	var st string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&st, &n}, func() error { out[st] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("count deliveries of broadcast %d: %w", id, dbError(err, "deliveries"))
	}
	return out, nil
}

// UnreachableReason reduces a reason or a Bot API description to the stored reasons.
func UnreachableReason(s string) string {
	l := strings.ToLower(s)
	switch {
	case l == "not_found" || strings.Contains(l, "not found"):
		return "not_found"
	case strings.Contains(l, "deactivated"):
		return "deactivated"
	case strings.Contains(l, "kicked"):
		return "kicked"
	}
	return "blocked"
}
