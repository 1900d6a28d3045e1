package postgres

import (
	"context"
	"embed"
	"fmt"
	"hash/crc64"
	"io/fs"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies the embedded migrations that the database does not have yet. Replicas may
// call it at the same time: goose holds an advisory lock while it works.
func (db *DB) Migrate(ctx context.Context) error {
	provider, closeDB, err := db.provider(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer closeDB()
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// MigrationVersion returns the version of the newest applied migration, 0 for an empty
// database.
func (db *DB) MigrationVersion(ctx context.Context) (int64, error) {
	provider, closeDB, err := db.provider(ctx)
	if err != nil {
		return 0, fmt.Errorf("migration version: %w", err)
	}
	defer closeDB()
	v, err := provider.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("migration version: %w", err)
	}
	return v, nil
}

// provider builds a goose provider over a database/sql handle that borrows the pool's
// connections, so it sees the same configuration (search_path included).
func (db *DB) provider(ctx context.Context) (*goose.Provider, func(), error) {
	// The advisory lock is keyed by the schema: tests migrate many schemas of one database in
	// parallel and must not queue behind each other, while replicas of one deployment share it.
	var schema string
	if err := db.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, nil, fmt.Errorf("read current schema: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(crc64.Checksum([]byte("kezekbot migrations "+schema), crc64.MakeTable(crc64.ECMA))>>1)),
		lock.WithLockTimeout(1, 300), // poll each second, up to five minutes
	)
	if err != nil {
		return nil, nil, fmt.Errorf("migration lock: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, nil, fmt.Errorf("migration files: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, sub,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true), // no Go migrations registered by other packages
		goose.WithVerbose(false),
	)
	if err != nil {
		_ = sqlDB.Close()
		return nil, nil, fmt.Errorf("migration provider: %w", err)
	}
	return provider, func() { _ = sqlDB.Close() }, nil
}
