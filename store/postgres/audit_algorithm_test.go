package postgres_test

import (
	"testing"
	"time"
)

// TestAuditAlgorithm: the audit row says which algorithm signed it (GOST or RSA), so an
// auditor need not parse the evidence to tell; an unbind row, which has no signature, has none.
func TestAuditAlgorithm(t *testing.T) {
	t.Parallel()
	db, f := MustOpenDB(t)
	ctx := t.Context()
	for i, alg := range []string{"gost2015-512", "rsa"} {
		iin := f.parent(t)
		ev := evidence(iin)
		ev.Algorithm = alg
		chat := int64(7700 + i)
		if err := db.Bind(ctx, chat, "kk", ev); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := db.Pool().QueryRow(ctx, `SELECT algorithm FROM audit_log WHERE nonce = $1`, ev.Nonce).Scan(&got); err != nil || got != alg {
			t.Fatalf("audit algorithm = %q, %v; want %q", got, err, alg)
		}
		if err := db.Unbind(ctx, chat); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'unbind' AND algorithm IS NULL`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("unbind rows without an algorithm: %d, %v", n, err)
	}
	if _, err := db.Pool().Exec(ctx, `INSERT INTO audit_log (at, chat_id, action, algorithm) VALUES ($1, 1, 'unbind', 'dsa')`, time.Now()); err == nil {
		t.Fatal("an unknown algorithm was stored")
	}
}
