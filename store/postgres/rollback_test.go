package postgres_test

import (
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// TestOlderReleaseOnNewerSchema is the runbook's rollback: a newer release has migrated the
// database one step further (an added column, as the expand/contract rule allows), and the
// release before it is rolled back onto that schema. Its Migrate (serve --migrate, the
// migrate Job) must leave the newer schema alone rather than fail, and its store must work.
func TestOlderReleaseOnNewerSchema(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	db := pgtest.Open(t, url)
	db.Now = func() time.Time { return now }
	ctx := t.Context()
	newer := newestMigration(t) + 1000
	for _, sql := range []string{
		`ALTER TABLE telegram_bindings ADD COLUMN added_by_a_newer_release text`,
		`INSERT INTO goose_db_version (version_id, is_applied) VALUES (` + itoa(newer) + `, true)`,
	} {
		if _, err := db.Pool().Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("the older release's migrate on a newer schema: %v", err)
	}
	if v, err := db.MigrationVersion(ctx); err != nil || v != newer {
		t.Fatalf("version %d (%v) after the older release's migrate, want the newer %d left alone", v, err, newer)
	}
	f := &fixture{db: db}
	iin := f.parent(t)
	if err := db.Bind(ctx, 1, "ru", evidence(iin)); err != nil {
		t.Fatal(err)
	}
	if got, err := db.BoundIIN(ctx, 1); err != nil || got != iin {
		t.Fatalf("bound %v (%v)", got, err)
	}
}

// TestMigrateDownTo: the down steps a rollback may use work and can be re-applied; below
// OldestDownTarget is refused.
func TestMigrateDownTo(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, pgtest.URL(t))
	ctx := t.Context()
	newest := newestMigration(t)
	undone, err := db.MigrateDownTo(ctx, postgres.OldestDownTarget)
	if err != nil {
		t.Fatal(err)
	}
	if len(undone) == 0 || undone[0] != newest {
		t.Fatalf("undid %v, want from %d down", undone, newest)
	}
	if v, err := db.MigrationVersion(ctx); err != nil || v != postgres.OldestDownTarget {
		t.Fatalf("version %d (%v), want %d", v, err, postgres.OldestDownTarget)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if v, err := db.MigrationVersion(ctx); err != nil || v != newest {
		t.Fatalf("version %d (%v) after up, want %d", v, err, newest)
	}
	_, err = db.MigrateDownTo(ctx, postgres.OldestDownTarget-1)
	wantCode(t, err, kezekbot.EINVALID)
	if v, _ := db.MigrationVersion(ctx); v != newest {
		t.Fatalf("a refused down changed the version to %d", v)
	}
}
