// Package pgtest gives tests an isolated, migrated kezekbot database: a fresh schema in the
// test database per call, dropped when the test ends. Tests of any package that needs
// PostgreSQL (store, bot end-to-end, signer-link, cmd) import it.
//
// The server comes from KEZEKBOT_TEST_DATABASE_URL, by default
// postgres://postgres@127.0.0.1:5432/test. Each schema is independent, so tests may call
// t.Parallel freely.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/kezekbot/kezekbot/store/postgres"
)

// EnvURL names the environment variable with the test server's URL.
const EnvURL = "KEZEKBOT_TEST_DATABASE_URL"

// DefaultURL is used when EnvURL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test"

// BaseURL returns the test server's URL, without a schema.
func BaseURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// New returns a DB on a fresh, migrated schema. The DB is closed and the schema dropped when
// the test ends.
func New(tb testing.TB) *postgres.DB {
	tb.Helper()
	schema := newSchema(tb)
	cfg, err := pgxpool.ParseConfig(BaseURL())
	if err != nil {
		tb.Fatalf("pgtest: parse %s: %v", EnvURL, err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	db, err := postgres.OpenConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("pgtest: open schema %s: %v", schema, err)
	}
	// Registered after the schema's cleanup, so it runs before it: close, then drop.
	tb.Cleanup(db.Close)
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("pgtest: migrate schema %s: %v", schema, err)
	}
	return db
}

// URL returns a URL of a fresh, migrated schema, for a subprocess or for code under test that
// opens the database itself. The schema travels in the libpq options parameter
// (options=-csearch_path=…), which psql and pgx both honour. It is dropped when the test ends.
func URL(tb testing.TB) string {
	tb.Helper()
	schema := newSchema(tb)
	u := withSearchPath(tb, schema)
	db, err := postgres.Open(context.Background(), u)
	if err != nil {
		tb.Fatalf("pgtest: open schema %s: %v", schema, err)
	}
	defer db.Close()
	if err := db.Migrate(context.Background()); err != nil {
		tb.Fatalf("pgtest: migrate schema %s: %v", schema, err)
	}
	return u
}

// Open opens a DB on url (as URL returns) and closes it when the test ends. It does not
// migrate.
func Open(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		tb.Fatalf("pgtest: open: %v", err)
	}
	tb.Cleanup(db.Close)
	return db
}

func withSearchPath(tb testing.TB, schema string) string {
	tb.Helper()
	base := BaseURL()
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("pgtest: %s must be a postgres:// URL to add a schema to it", EnvURL)
	}
	q := u.Query()
	opts := strings.TrimSpace(q.Get("options") + " -csearch_path=" + schema)
	q.Set("options", opts)
	u.RawQuery = q.Encode()
	return u.String()
}

// newSchema creates a schema with a random name and drops it, with everything in it, when the
// test ends.
func newSchema(tb testing.TB) string {
	tb.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	schema := "pgtest_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, BaseURL())
	if err != nil {
		tb.Fatalf("pgtest: connect to the test database (set %s): %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("pgtest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		// Not t.Context: it is cancelled by the time cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, BaseURL())
		if err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return schema
}
