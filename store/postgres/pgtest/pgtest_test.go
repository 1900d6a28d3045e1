package pgtest_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

func schemaExists(t *testing.T, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), pgtest.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var ok bool
	if err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestNew(t *testing.T) {
	var schema string
	t.Run("OK", func(t *testing.T) {
		db := pgtest.New(t)
		if err := db.Pool().QueryRow(t.Context(), `SELECT current_schema()`).Scan(&schema); err != nil {
			t.Fatal(err)
		}
		if !schemaExists(t, schema) {
			t.Fatalf("schema %s does not exist", schema)
		}
		v, err := db.MigrationVersion(t.Context())
		if err != nil || v < 1 {
			t.Fatalf("MigrationVersion = %d, %v; want >= 1", v, err)
		}
	})
	if schema == "" || schemaExists(t, schema) {
		t.Fatalf("schema %q was not dropped at cleanup", schema)
	}
}

func TestURL(t *testing.T) {
	u := pgtest.URL(t)
	db := pgtest.Open(t, u)
	var schema string
	var n int
	if err := db.Pool().QueryRow(t.Context(), `SELECT current_schema(), (SELECT count(*) FROM applications)`).Scan(&schema, &n); err != nil {
		t.Fatal(err)
	}
	if schema == "public" || n != 0 {
		t.Fatalf("schema %q with %d applications; want a fresh test schema", schema, n)
	}
	// Two calls give two schemas.
	other := pgtest.Open(t, pgtest.URL(t))
	var schema2 string
	if err := other.Pool().QueryRow(t.Context(), `SELECT current_schema()`).Scan(&schema2); err != nil {
		t.Fatal(err)
	}
	if schema2 == schema {
		t.Fatalf("two URLs share schema %s", schema)
	}
}
