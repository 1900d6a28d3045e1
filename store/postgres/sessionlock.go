package postgres

import (
	"context"
	"fmt"
	"hash/crc64"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kezekbot/kezekbot"
)

// SessionLock is a PostgreSQL advisory lock held by one connection of the pool until
// Release. PostgreSQL drops it when that session ends, so a process that dies (kill -9, a
// crash) leaves nothing held.
type SessionLock struct {
	conn *pgxpool.Conn
	key  int64
	// Database and Schema say where the lock applies: the same name in another database or
	// schema is another lock.
	Database, Schema string
}

// TryLock takes the advisory lock called name for this database and schema, or answers
// ECONFLICT at once when another session holds it. The sandbox holds "sandbox" for its
// lifetime, so that a second sandbox cannot re-seed the data under a running one.
func (db *DB) TryLock(ctx context.Context, name string) (*SessionLock, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	l := &SessionLock{conn: conn}
	if err := conn.QueryRow(ctx, "SELECT current_database(), current_schema()").Scan(&l.Database, &l.Schema); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	// One bigint key, as goose's migration lock uses, derived from the name and the schema
	// (tests run many schemas of one database at once).
	l.key = int64(crc64.Checksum([]byte("kezekbot lock "+name+" "+l.Schema), crc64.MakeTable(crc64.ECMA)) >> 1)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", l.key).Scan(&ok); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if !ok {
		conn.Release()
		return nil, kezekbot.Errorf(kezekbot.ECONFLICT, "%s is held by another session in database %q, schema %q", name, l.Database, l.Schema)
	}
	return l, nil
}

// Release gives the lock back and returns its connection to the pool. If the unlock cannot
// be sent, the connection is closed instead, which releases the lock just the same.
func (l *SessionLock) Release() {
	if l == nil || l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", l.key); err != nil {
		_ = l.conn.Hijack().Close(ctx)
	} else {
		l.conn.Release()
	}
	l.conn = nil
}
