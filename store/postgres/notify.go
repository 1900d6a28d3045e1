package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot"
)

// Outbox kinds the notification consumer understands, besides OutboxReferralRevoked. The
// store writes them in the transaction of the change; ImportEvents writes them for changes
// made elsewhere; ScheduleReminders writes OutboxRevocationReminder.
const (
	OutboxReferralIssued     = "referral_issued"
	OutboxReferralExpired    = "referral_expired"
	OutboxReferralUsed       = "referral_used"
	OutboxStatusChanged      = "status_changed"
	OutboxQueueChanged       = "queue_changed"
	OutboxRevocationReminder = "revocation_reminder"
)

// NotifyKinds lists every outbox kind the consumer handles.
var NotifyKinds = []string{OutboxReferralIssued, OutboxRevocationReminder, OutboxReferralRevoked, OutboxReferralExpired,
	OutboxReferralUsed, OutboxStatusChanged, OutboxQueueChanged}

// EventPayload is the payload of an outbox row, a superset of ReferralRevokedPayload. Every
// field is optional: the consumer fills what is missing from the tables, so an import may send
// only an application number and the new status.
type EventPayload struct {
	// EventID is the source's id of an imported event; the same id is notified once.
	EventID           string          `json:"event_id,omitempty"`
	ApplicationID     int64           `json:"application_id,omitempty"`
	ApplicationNumber string          `json:"application_number,omitempty"`
	ReferralID        int64           `json:"referral_id,omitempty"`
	Kindergarten      string          `json:"kindergarten,omitempty"`
	Status            kezekbot.Status `json:"status,omitempty"`
	OldStatus         kezekbot.Status `json:"old_status,omitempty"`
	QueueNumber       int             `json:"queue_number,omitempty"`
	OldQueueNumber    int             `json:"old_queue_number,omitempty"`
	IssuedAt          time.Time       `json:"issued_at,omitzero"`
	RevokedAt         time.Time       `json:"revoked_at,omitzero"`
	// ExceptChat is a chat not to notify: the one that signed a revocation handed to the city,
	// which is told the city's answer in place.
	ExceptChat int64 `json:"except_chat,omitempty"`
}

// NotifyTarget is a chat to tell: bound to the applicant, reachable, with its language and
// the notification kinds it muted.
type NotifyTarget struct {
	ChatID int64
	Lang   string
	Muted  []string
}

// NotifyContext is one outbox event with what the tables say about it.
type NotifyContext struct {
	OutboxID  int64
	Kind      string
	CreatedAt time.Time
	Payload   EventPayload
	// PayloadErr is set when the payload did not decode; the fields above are then zero.
	PayloadErr error

	ApplicationID     int64
	ApplicationNumber string
	Status            kezekbot.Status
	QueueNumber       int
	ReferralID        int64
	Kindergarten      string
	IssuedAt          time.Time
	ReferralState     kezekbot.ReferralState
	// QueueMark is the queue number the parent was last told about (0: never).
	QueueMark int
	Targets   []NotifyTarget
}

// NewNotification is a rendered notification to enqueue. DedupeKey makes it idempotent.
type NewNotification struct {
	DedupeKey string
	ChatID    int64
	Kind      string
	Text      string
	Buttons   []byte // JSON inline keyboard, nil for none
}

// NotifyOutput is what rendering one event produced.
type NotifyOutput struct {
	Notifications []NewNotification
	// QueueMark, when > 0, becomes the application's last notified queue number.
	QueueMark int
}

// ConsumeOutbox takes up to n unprocessed outbox rows (FOR UPDATE SKIP LOCKED, so replicas
// share them), calls render for each, inserts the notifications it returns and marks the rows
// processed, all in one transaction: a crash leaves either both or neither, and a
// notification whose dedupe key exists already is not inserted again. render must not do
// I/O; it returns the number of rows consumed.
func (db *DB) ConsumeOutbox(ctx context.Context, n int, render func(NotifyContext) NotifyOutput) (int, error) {
	var done int
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, kind, coalesce(chat_id, 0), coalesce(iin, ''), payload, created_at FROM outbox
			WHERE processed_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, n)
		if err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		type row struct {
			id      int64
			kind    string
			chat    int64
			iin     string
			payload []byte
			created time.Time
		}
		events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.id, &x.kind, &x.chat, &x.iin, &x.payload, &x.created)
			return x, err
		})
		if err != nil {
			return fmt.Errorf("claim outbox: %w", err)
		}
		if len(events) == 0 {
			return nil
		}
		var out []NewNotification
		ids := make([]int64, 0, len(events))
		for _, ev := range events {
			ids = append(ids, ev.id)
			nc := NotifyContext{OutboxID: ev.id, Kind: ev.kind, CreatedAt: ev.created}
			if err := json.Unmarshal(ev.payload, &nc.Payload); err != nil {
				nc.Payload, nc.PayloadErr = EventPayload{}, err
			} else if err := resolveEvent(ctx, tx, &nc, ev.chat, ev.iin); err != nil {
				return err
			}
			o := render(nc)
			out = append(out, o.Notifications...)
			if o.QueueMark > 0 && nc.ApplicationID > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO notify_queue_marks (application_id, queue_number, at) VALUES ($1, $2, now())
					ON CONFLICT (application_id) DO UPDATE SET queue_number = excluded.queue_number, at = excluded.at`,
					nc.ApplicationID, o.QueueMark); err != nil {
					return fmt.Errorf("set queue mark: %w", err)
				}
			}
		}
		if err := insertNotifications(ctx, tx, out); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE outbox SET processed_at = now() WHERE id = ANY ($1)`, ids); err != nil {
			return fmt.Errorf("mark outbox processed: %w", err)
		}
		done = len(events)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("consume outbox: %w", dbError(err, "outbox"))
	}
	return done, nil
}

func insertNotifications(ctx context.Context, tx pgx.Tx, ns []NewNotification) error {
	if len(ns) == 0 {
		return nil
	}
	keys, kinds, texts := make([]string, len(ns)), make([]string, len(ns)), make([]string, len(ns))
	chats := make([]int64, len(ns))
	buttons := make([]*string, len(ns))
	for i, n := range ns {
		keys[i], kinds[i], texts[i], chats[i] = n.DedupeKey, n.Kind, n.Text, n.ChatID
		if len(n.Buttons) > 0 {
			s := string(n.Buttons)
			buttons[i] = &s
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO notifications (dedupe_key, chat_id, kind, text, buttons, created_at)
		SELECT k, c, kd, t, b::jsonb, now() FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[]) AS x (k, c, kd, t, b)
		ON CONFLICT (dedupe_key) DO NOTHING`, keys, chats, kinds, texts, buttons)
	if err != nil {
		return fmt.Errorf("insert notifications: %w", err)
	}
	return nil
}

// resolveEvent fills nc from the tables: the application (by id, number or referral), the
// referral, the last notified queue number and the chats to tell.
func resolveEvent(ctx context.Context, tx pgx.Tx, nc *NotifyContext, chatID int64, iin string) error {
	p := nc.Payload
	nc.ApplicationID, nc.ApplicationNumber, nc.ReferralID = p.ApplicationID, p.ApplicationNumber, p.ReferralID
	nc.Status, nc.QueueNumber, nc.Kindergarten, nc.IssuedAt = p.Status, p.QueueNumber, p.Kindergarten, p.IssuedAt
	if nc.ReferralID > 0 {
		var appID int64
		var state string
		err := tx.QueryRow(ctx, `SELECT r.application_id, k.name, r.issued_at, r.state FROM referrals r
			JOIN kindergartens k ON k.id = r.kindergarten_id WHERE r.id = $1`, nc.ReferralID).Scan(&appID, &nc.Kindergarten, &nc.IssuedAt, &state)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fmt.Errorf("load referral: %w", err)
		default:
			nc.ReferralState = kezekbot.ReferralState(state)
			if nc.ApplicationID == 0 {
				nc.ApplicationID = appID
			}
		}
	}
	var applicant string
	if nc.ApplicationID > 0 || nc.ApplicationNumber != "" {
		var status string
		var queue int
		err := tx.QueryRow(ctx, `SELECT a.id, a.number, a.status, a.queue_number, ap.iin FROM applications a
			JOIN applicants ap ON ap.id = a.applicant_id
			WHERE ($1::bigint > 0 AND a.id = $1) OR ($1::bigint = 0 AND a.number = $2)`,
			nc.ApplicationID, nc.ApplicationNumber).Scan(&nc.ApplicationID, &nc.ApplicationNumber, &status, &queue, &applicant)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fmt.Errorf("load application: %w", err)
		default:
			// The payload says what changed; the table says where it stands now. The payload
			// wins for imports that arrive before our copy is updated.
			if nc.Status == "" {
				nc.Status = kezekbot.Status(status)
			}
			if nc.QueueNumber == 0 {
				nc.QueueNumber = queue
			}
		}
	}
	if nc.ApplicationID > 0 {
		err := tx.QueryRow(ctx, `SELECT queue_number FROM notify_queue_marks WHERE application_id = $1`, nc.ApplicationID).Scan(&nc.QueueMark)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("load queue mark: %w", err)
		}
	}
	// The applicant's chats, whoever wrote the row; the row's own IIN or chat when the
	// application is unknown here.
	who, arg := `b.iin = $1`, any(applicant)
	switch {
	case applicant != "":
	case iin != "":
		arg = iin
	case chatID != 0:
		who, arg = `b.chat_id = $1`, chatID
	default:
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT b.chat_id, b.lang, coalesce(array_agg(m.kind) FILTER (WHERE m.kind IS NOT NULL), '{}')
		FROM telegram_bindings b LEFT JOIN notification_mutes m ON m.chat_id = b.chat_id
		WHERE `+who+` AND NOT EXISTS (SELECT 1 FROM chat_unreachable u WHERE u.chat_id = b.chat_id)
		GROUP BY b.chat_id, b.lang ORDER BY b.chat_id`, arg)
	if err != nil {
		return fmt.Errorf("load chats: %w", err)
	}
	nc.Targets, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (NotifyTarget, error) {
		var t NotifyTarget
		err := r.Scan(&t.ChatID, &t.Lang, &t.Muted)
		return t, err
	})
	if err != nil {
		return fmt.Errorf("load chats: %w", err)
	}
	except := []int64{}
	if p.ExceptChat != 0 {
		except = append(except, p.ExceptChat)
	}
	if nc.Kind == OutboxReferralRevoked && nc.ReferralID > 0 {
		// A revocation signed in a chat and sent to the city (city mode): that chat is told the
		// city's answer in place, whichever way the news comes back (the deliverer's row or the
		// city's change feed).
		rows, err := tx.Query(ctx, `SELECT chat_id FROM city_commands WHERE referral_id = $1 AND state <> 'refused'`, nc.ReferralID)
		if err != nil {
			return fmt.Errorf("load signing chats: %w", err)
		}
		chats, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("load signing chats: %w", err)
		}
		except = append(except, chats...)
	}
	if len(except) > 0 {
		nc.Targets = slices.DeleteFunc(nc.Targets, func(t NotifyTarget) bool { return slices.Contains(except, t.ChatID) })
	}
	return nil
}

// ScheduleReminders writes a revocation_reminder outbox row for every active referral whose
// revocation window (kezekbot.RevocationWindow from issue) closes within before, once per
// referral however many replicas run it. It returns how many it wrote.
func (db *DB) ScheduleReminders(ctx context.Context, before time.Duration) (int, error) {
	tag, err := db.pool.Exec(ctx, `WITH due AS (
			INSERT INTO notify_reminders (referral_id, at)
			SELECT r.id, now() FROM referrals r
			WHERE r.state = 'active'
			  AND r.issued_at + $1 * interval '1 millisecond' > now()
			  AND r.issued_at + ($1 - $2) * interval '1 millisecond' <= now()
			ON CONFLICT (referral_id) DO NOTHING
			RETURNING referral_id)
		INSERT INTO outbox (kind, payload, created_at)
		SELECT 'revocation_reminder', jsonb_build_object('referral_id', referral_id), now() FROM due`,
		kezekbot.RevocationWindow.Milliseconds(), before.Milliseconds())
	if err != nil {
		return 0, fmt.Errorf("schedule reminders: %w", dbError(err, "reminders"))
	}
	return int(tag.RowsAffected()), nil
}

// ImportedEvent is a change made outside this store (the city's system), reported through
// the admin API or the CLI.
type ImportedEvent struct {
	Kind    string       `json:"kind"`
	Payload EventPayload `json:"payload"`
}

// ImportEvents validates events and writes them to the outbox in one transaction, for the
// consumer to notify. Errors have code EINVALID and name the event's index.
func (db *DB) ImportEvents(ctx context.Context, events []ImportedEvent) (int, error) {
	for i, ev := range events {
		if err := ev.Validate(); err != nil {
			return 0, fmt.Errorf("import events: event %d: %w", i, err)
		}
	}
	now := db.now()
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		for _, ev := range events {
			payload, err := json.Marshal(ev.Payload)
			if err != nil {
				return fmt.Errorf("encode payload: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO outbox (kind, payload, created_at) VALUES ($1, $2, $3)`, ev.Kind, payload, now); err != nil {
				return fmt.Errorf("write outbox: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("import events: %w", dbError(err, "outbox"))
	}
	return len(events), nil
}

// Validate checks an imported event as outside input.
func (ev ImportedEvent) Validate() error {
	if !slices.Contains(NotifyKinds, ev.Kind) || ev.Kind == OutboxRevocationReminder {
		return kezekbot.Errorf(kezekbot.EINVALID, "unknown kind %q", ev.Kind)
	}
	p := ev.Payload
	if p.ApplicationID <= 0 && p.ApplicationNumber == "" && p.ReferralID <= 0 {
		return kezekbot.Errorf(kezekbot.EINVALID, "an application id, application number or referral id is required")
	}
	if p.ApplicationID < 0 || p.ReferralID < 0 || p.QueueNumber < 0 || p.OldQueueNumber < 0 {
		return kezekbot.Errorf(kezekbot.EINVALID, "ids and queue numbers must not be negative")
	}
	if len(p.ApplicationNumber) > 64 || len(p.EventID) > 128 || len(p.Kindergarten) > 300 {
		return kezekbot.Errorf(kezekbot.EINVALID, "a field is too long")
	}
	// The kindergarten's name is shown to parents as given: the same guard as broadcasts.
	if !utf8.ValidString(p.Kindergarten) || kezekbot.ContainsIIN(p.Kindergarten) {
		return kezekbot.Errorf(kezekbot.EINVALID, "kindergarten must be valid UTF-8 without an IIN")
	}
	if (p.Status != "" && !p.Status.Valid()) || (p.OldStatus != "" && !p.OldStatus.Valid()) {
		return kezekbot.Errorf(kezekbot.EINVALID, "unknown status")
	}
	switch ev.Kind {
	case OutboxStatusChanged:
		if p.Status == "" {
			return kezekbot.Errorf(kezekbot.EINVALID, "status_changed needs status")
		}
	case OutboxQueueChanged:
		if p.QueueNumber <= 0 {
			return kezekbot.Errorf(kezekbot.EINVALID, "queue_changed needs queue_number")
		}
	case OutboxReferralIssued, OutboxReferralRevoked, OutboxReferralExpired, OutboxReferralUsed:
		if p.ReferralID <= 0 && p.Kindergarten == "" {
			return kezekbot.Errorf(kezekbot.EINVALID, "%s needs referral_id or kindergarten", ev.Kind)
		}
	}
	return nil
}

// Mute kinds a parent can switch off in /settings.
var MuteKinds = []string{"referral_issued", "reminder", "referral_closed", "status_changed", "queue_changed"}

// SetMuted mutes or unmutes one kind of notification for a chat.
func (db *DB) SetMuted(ctx context.Context, chatID int64, kind string, muted bool) error {
	if !slices.Contains(MuteKinds, kind) {
		return fmt.Errorf("mute: %w", kezekbot.Errorf(kezekbot.EINVALID, "unknown notification kind %q", kind))
	}
	var err error
	if muted {
		_, err = db.pool.Exec(ctx, `INSERT INTO notification_mutes (chat_id, kind, at) VALUES ($1, $2, now()) ON CONFLICT DO NOTHING`, chatID, kind)
	} else {
		_, err = db.pool.Exec(ctx, `DELETE FROM notification_mutes WHERE chat_id = $1 AND kind = $2`, chatID, kind)
	}
	if err != nil {
		return fmt.Errorf("mute %s for chat %d: %w", kind, chatID, dbError(err, "mute"))
	}
	return nil
}

// Muted returns the kinds a chat muted, sorted.
func (db *DB) Muted(ctx context.Context, chatID int64) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT kind FROM notification_mutes WHERE chat_id = $1 ORDER BY kind`, chatID)
	if err != nil {
		return nil, fmt.Errorf("load mutes of chat %d: %w", chatID, dbError(err, "mutes"))
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("load mutes of chat %d: %w", chatID, dbError(err, "mutes"))
	}
	return out, nil
}

// NotificationRow is a notification as stored, for tests and operators.
type NotificationRow struct {
	ID        int64
	DedupeKey string
	ChatID    int64
	Kind      string
	Text      string
	State     string
	MessageID int
}

// NotificationsOf returns a chat's notifications, oldest first.
func (db *DB) NotificationsOf(ctx context.Context, chatID int64) ([]NotificationRow, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, dedupe_key, chat_id, kind, text, state, coalesce(message_id, 0)
		FROM notifications WHERE chat_id = $1 ORDER BY id`, chatID)
	if err != nil {
		return nil, fmt.Errorf("list notifications of chat %d: %w", chatID, dbError(err, "notifications"))
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[NotificationRow])
	if err != nil {
		return nil, fmt.Errorf("list notifications of chat %d: %w", chatID, dbError(err, "notifications"))
	}
	return out, nil
}
