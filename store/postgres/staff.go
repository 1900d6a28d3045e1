package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot"
)

// Staff roles.
const (
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

// StaffMember is a Telegram user allowed to use the staff commands.
type StaffMember struct {
	UserID  int64     `json:"user_id"`
	Role    string    `json:"role"`
	Lang    string    `json:"lang"`
	Note    string    `json:"note,omitempty"`
	AddedAt time.Time `json:"added_at"`
}

// AddStaff adds a staff member or changes the role, language and note of one.
func (db *DB) AddStaff(ctx context.Context, m StaffMember) (StaffMember, error) {
	if m.UserID <= 0 {
		return m, fmt.Errorf("add staff: %w", kezekbot.Errorf(kezekbot.EINVALID, "telegram user id must be positive"))
	}
	if m.Role != RoleOperator && m.Role != RoleAdmin {
		return m, fmt.Errorf("add staff: %w", kezekbot.Errorf(kezekbot.EINVALID, "role must be operator or admin"))
	}
	if m.Lang == "" {
		m.Lang = "ru"
	}
	err := db.pool.QueryRow(ctx, `INSERT INTO staff (user_id, role, lang, note, added_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id) DO UPDATE SET role = excluded.role, lang = excluded.lang, note = excluded.note
		RETURNING added_at`, m.UserID, m.Role, m.Lang, m.Note, db.now()).Scan(&m.AddedAt)
	if err != nil {
		return m, fmt.Errorf("add staff %d: %w", m.UserID, dbError(err, "staff member"))
	}
	return m, nil
}

// RemoveStaff removes a staff member; ENOTFOUND if there was none.
func (db *DB) RemoveStaff(ctx context.Context, userID int64) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM staff WHERE user_id = $1`, userID)
	if err != nil {
		return fmt.Errorf("remove staff %d: %w", userID, dbError(err, "staff member"))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("remove staff %d: %w", userID, kezekbot.Errorf(kezekbot.ENOTFOUND, "no such staff member"))
	}
	return nil
}

// ListStaff returns every staff member by user id.
func (db *DB) ListStaff(ctx context.Context) ([]StaffMember, error) {
	rows, err := db.pool.Query(ctx, `SELECT user_id, role, lang, note, added_at FROM staff ORDER BY user_id`)
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", dbError(err, "staff"))
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StaffMember])
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", dbError(err, "staff"))
	}
	return out, nil
}

// GetStaff returns a staff member; ENOTFOUND for a user who is not staff. The bot calls it
// to decide whether /broadcast goes to the staff dialog.
func (db *DB) GetStaff(ctx context.Context, userID int64) (StaffMember, error) {
	var m StaffMember
	err := db.pool.QueryRow(ctx, `SELECT user_id, role, lang, note, added_at FROM staff WHERE user_id = $1`, userID).
		Scan(&m.UserID, &m.Role, &m.Lang, &m.Note, &m.AddedAt)
	if err != nil {
		return m, fmt.Errorf("load staff %d: %w", userID, dbError(err, "staff member"))
	}
	return m, nil
}
