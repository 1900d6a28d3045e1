package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// `kezekbot purge`: the dry run shows counts and cut-offs and changes nothing, the purge
// deletes, a held lease is exit 1, a bad period exit 2 with one line.
func TestPurgeCommand(t *testing.T) {
	url := pgtest.URL(t)
	t.Setenv("KEZEKBOT_DATABASE_URL", url)
	db := pgtest.Open(t, url)
	ctx := t.Context()
	if _, err := db.Pool().Exec(ctx, `INSERT INTO outbox (kind, created_at, processed_at)
		SELECT 'x', now() - interval '8 days', now() - interval '8 days' FROM generate_series(1, 5)`); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	purge := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"purge"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errs := purge("--dry-run")
	if code != 0 || count() != 5 {
		t.Fatalf("dry run: exit %d, %d outbox rows left; stderr %q", code, count(), errs)
	}
	cut := time.Now().Add(-7 * 24 * time.Hour).UTC().Format("2006-01-02T")
	for _, want := range []string{"would delete", "outbox", "7d", cut, "audit_log", "5y", "dry run: 5 rows would go; nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}

	if code, out, errs = purge("-retain-outbox", "9d"); code != 0 || count() != 5 || !strings.Contains(out, "0 rows deleted") {
		t.Fatalf("purge with a 9-day outbox period: exit %d, %d rows left\n%s%s", code, count(), out, errs)
	}

	// Another process holds the lease: nothing is deleted, exit 1, the holder named.
	if ok, err := db.AcquirePurgeLease(ctx, "replica-a/1", time.Minute, 0); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if code, _, errs = purge(); code != 1 || count() != 5 || !strings.Contains(errs, "replica-a/1") {
		t.Fatalf("purge beside a held lease: exit %d, %d rows left, stderr %q", code, count(), errs)
	}
	if err := db.ReleasePurgeLease(ctx, "replica-a/1", true); err != nil {
		t.Fatal(err)
	}

	if code, out, errs = purge(); code != 0 || count() != 0 || !strings.Contains(out, "5 rows deleted") {
		t.Fatalf("purge: exit %d, %d rows left\n%s%s", code, count(), out, errs)
	}

	for _, bad := range [][]string{{"-retain-evidence", "forever"}, {"-retain-outbox", "10m"}, {"-purge-every", "5s"}, {"-purge-batch", "0"}, {"extra"}} {
		code, _, errs := purge(bad...)
		if code != 2 || strings.Count(errs, "\n") != 1 {
			t.Errorf("purge %v: exit %d, stderr %q; want 2 and one line", bad, code, errs)
		}
	}
	t.Setenv("KEZEKBOT_RETAIN_NOTIFICATIONS", "0d")
	if code, _, errs := purge("--dry-run"); code != 2 || !strings.Contains(errs, "KEZEKBOT_RETAIN_NOTIFICATIONS") {
		t.Errorf("bad KEZEKBOT_RETAIN_NOTIFICATIONS: exit %d, %q", code, errs)
	}
}
