// Package postgres is kezekbot's PostgreSQL store: applicants, children, applications, their
// referrals, history and documents, Telegram bindings, the audit trail of signed actions and
// the notification outbox.
//
// It speaks in kezekbot types only. Driver errors never leave it: "no rows" becomes ENOTFOUND,
// a unique violation ECONFLICT, a constraint violation EINVALID; anything else is EINTERNAL
// with the driver's text kept for the log.
package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/kezekbot/kezekbot"
)

// DB is a pool of connections to the kezekbot database. It is safe for concurrent use; open
// it once per process.
type DB struct {
	pool *pgxpool.Pool

	// Now is the clock for the 24-hour rule and for timestamps written by the store. Tests pin
	// it; it defaults to time.Now.
	Now func() time.Time
}

// Open connects to the database at url (a postgres:// URL or a libpq key=value string) and
// checks that it answers. The URL may name several hosts with target_session_attrs=read-write
// (failover.go).
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error can quote the URL, password included; say only what went wrong.
		return nil, fmt.Errorf("open database: %w", kezekbot.Errorf(kezekbot.EINVALID, "database URL does not parse"))
	}
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open with a parsed pool configuration, for callers that set pool sizes,
// tracers or runtime parameters (pgtest sets search_path).
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*DB, error) {
	configureFailover(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db := &DB{pool: pool, Now: time.Now}
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes all connections; it waits for those in use to be released.
func (db *DB) Close() { db.pool.Close() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Pool returns the underlying pool, for tests and for adapters that share it (the outbox
// consumer).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// now returns the store's clock in microseconds, the precision PostgreSQL keeps, so that a
// time we compare against equals the time we store.
func (db *DB) now() time.Time {
	now := time.Now
	if db.Now != nil {
		now = db.Now
	}
	return now().Truncate(time.Microsecond)
}

// dbError maps a driver error to a domain error. what names the object for the message
// ("application 12"). Errors that are already domain errors pass unchanged.
func dbError(err error, what string) error {
	if err == nil {
		return nil
	}
	var de *kezekbot.Error
	var rr *kezekbot.RevokeRefusal
	if errors.As(err, &de) || errors.As(err, &rr) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return kezekbot.Errorf(kezekbot.ENOTFOUND, "%s not found", what)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Only the constraint name goes into the message: Detail can quote the row, IIN
		// included, and the message reaches logs.
		switch pe.Code {
		case "23505", "23P01": // unique_violation, exclusion_violation
			if pe.ConstraintName == "audit_log_nonce_key" {
				return kezekbot.Errorf(kezekbot.ECONFLICT, "%s: this signed document was already used", what)
			}
			return kezekbot.Errorf(kezekbot.ECONFLICT, "%s: conflicts with existing data (%s)", what, pe.ConstraintName)
		case "23514", "23502", "22001", "22007", "22008", "22P02": // check, not null, too long, bad date/time/text
			return kezekbot.Errorf(kezekbot.EINVALID, "%s: rejected by the schema (%s)", what, cmp.Or(pe.ConstraintName, pe.Code))
		case "23503": // foreign_key_violation: what it points at does not exist
			return kezekbot.Errorf(kezekbot.ENOTFOUND, "%s: refers to a missing object (%s)", what, pe.ConstraintName)
		case "40001", "40P01", "55P03": // serialization failure, deadlock, lock not available
			return kezekbot.Errorf(kezekbot.ECONFLICT, "%s: changed concurrently, try again", what)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}
