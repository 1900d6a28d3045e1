package postgres_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot"
	"github.com/kezekbot/kezekbot/internal/testenv"
	"github.com/kezekbot/kezekbot/store/postgres"
	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// TestRestoreDrill is the runbook's backup and restore (deployments/README.md, "Backup and
// restore"), run: a migrated schema with the demo data, bindings and a revocation with their
// signed evidence is dumped with pg_dump -Fc, dropped, restored with pg_restore, and the store
// then serves the same applications, bindings and audit trail, the evidence byte for byte, at
// the same migration version, and keeps writing.
func TestRestoreDrill(t *testing.T) {
	t.Parallel()
	bin := testenv.PostgresBin(t)
	url := pgtest.URL(t)
	db := pgtest.Open(t, url)
	db.Now = func() time.Time { return now }
	ctx := t.Context()
	if err := db.Seed(ctx, now); err != nil {
		t.Fatal(err)
	}
	// Bind every demo parent (evidence with its own bytes) and revoke the revocable referral.
	var revoked bool
	for i, p := range postgres.DemoParents {
		iin := kezekbot.MustParseIIN(p.IIN)
		ev := evidence(iin)
		ev.SignedXML = []byte("<?xml version=\"1.0\"?>\n<bind chat=\"" + itoa(int64(100+i)) + "\">\u00a0ЭЦҚ\r\n</bind>")
		if err := db.Bind(ctx, int64(100+i), p.Lang, ev); err != nil {
			t.Fatal(err)
		}
		apps, err := db.Applications(ctx, iin)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range apps {
			d, err := db.Application(ctx, iin, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range d.ActiveReferrals() {
				if !revoked && kezekbot.CheckRevoke(r, now) == nil {
					req := revokeRequest(iin, a.ID, r.ID)
					req.ChatID = int64(100 + i)
					if _, err := db.RevokeReferral(ctx, req); err != nil {
						t.Fatal(err)
					}
					revoked = true
				}
			}
		}
	}
	if !revoked {
		t.Fatal("the demo data has no revocable referral")
	}

	type snapshot struct {
		Apps     demoState
		Bindings map[int64]kezekbot.IIN
		Audit    []string // every audit_log row as JSON, evidence bytes hex-encoded by PostgreSQL
		Evidence [][]byte
		Version  int64
	}
	take := func(db *postgres.DB) snapshot {
		t.Helper()
		s := snapshot{Apps: loadDemo(t, db), Bindings: map[int64]kezekbot.IIN{}}
		for i := range postgres.DemoParents {
			iin, err := db.BoundIIN(ctx, int64(100+i))
			if err != nil {
				t.Fatal(err)
			}
			s.Bindings[int64(100+i)] = iin
		}
		rows, err := db.Pool().Query(ctx, `SELECT to_jsonb(a)::text, evidence_xml FROM audit_log a ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var js string
			var xml []byte
			if err := rows.Scan(&js, &xml); err != nil {
				t.Fatal(err)
			}
			s.Audit, s.Evidence = append(s.Audit, js), append(s.Evidence, xml)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if s.Version, err = db.MigrationVersion(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := take(db)
	if len(before.Audit) != len(postgres.DemoParents)+1 {
		t.Fatalf("%d audit rows, want a bind per demo parent and a revocation", len(before.Audit))
	}
	var schema string
	if err := db.Pool().QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Backup, loss, restore: the runbook's commands on this test's schema (production dumps
	// the whole database the same way, without -n).
	dump := filepath.Join(t.TempDir(), "kezekbot.dump")
	run := func(name string, args ...string) {
		t.Helper()
		out, err := exec.CommandContext(ctx, filepath.Join(bin, name), args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	run("pg_dump", "--format=custom", "--no-owner", "--schema="+schema, "--file="+dump, "--dbname="+pgtest.BaseURL())
	admin := pgtest.Open(t, pgtest.BaseURL())
	if _, err := admin.Pool().Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
		t.Fatal(err)
	}
	run("pg_restore", "--exit-on-error", "--single-transaction", "--no-owner", "--dbname="+pgtest.BaseURL(), dump)

	restored := pgtest.Open(t, url)
	restored.Now = func() time.Time { return now }
	after := take(restored)
	if !reflect.DeepEqual(before.Apps, after.Apps) {
		t.Errorf("applications differ after the restore")
	}
	if !reflect.DeepEqual(before.Bindings, after.Bindings) || before.Version != after.Version {
		t.Errorf("bindings %v / version %d after the restore, were %v / %d", after.Bindings, after.Version, before.Bindings, before.Version)
	}
	if !reflect.DeepEqual(before.Audit, after.Audit) {
		t.Errorf("audit trail differs after the restore:\n%q\n%q", after.Audit, before.Audit)
	}
	for i := range before.Evidence {
		if !bytes.Equal(before.Evidence[i], after.Evidence[i]) {
			t.Errorf("audit row %d: evidence differs after the restore", i)
		}
	}
	// The restored database takes writes (identities and sequences came back too).
	if err := restored.Bind(ctx, 999, "ru", evidence((&fixture{db: restored}).parent(t))); err != nil {
		t.Fatalf("bind after the restore: %v", err)
	}
	if err := restored.Migrate(ctx); err != nil {
		t.Fatalf("migrate after the restore: %v", err)
	}
}
