package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

func TestBroadcastAndStaffCLI(t *testing.T) {
	url := pgtest.URL(t)
	t.Setenv("KEZEKBOT_DATABASE_URL", url)
	db := pgtest.Open(t, url)
	ctx := context.Background()
	if _, err := db.Pool().Exec(ctx, `INSERT INTO telegram_bindings (chat_id, iin, lang, bound_at)
		SELECT 100 + i, p || iin_check_digit(p), 'kk', now() FROM
		(SELECT i, '8501013' || lpad(i::text, 4, '0') AS p FROM generate_series(1, 12) i) x
		WHERE iin_check_digit(p) IS NOT NULL LIMIT 10`); err != nil {
		t.Fatal(err)
	}
	events := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(events, []byte(`[{"kind":"status_changed","payload":{"application_number":"A-1","status":"enrolled"}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		run          func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) int
		args         []string
		code         int
		out, errLine string
	}{
		{bc, nil, 2, "", "usage:"},
		{bc, []string{"-h"}, 0, "usage:", ""},
		{bc, []string{"frobnicate"}, 2, "", "unknown subcommand"},
		{bc, []string{"create"}, 2, "", "--text-ru or --text-kk is required"},
		{bc, []string{"create", "--text-kk", "  "}, 2, "", "--text-ru or --text-kk is required"},
		{bc, []string{"create", "--text-ru", "x", "--status", "gone"}, 2, "", "unknown status"},
		{bc, []string{"create", "--text-ru", "x", "--birth-years", "20-19"}, 2, "", "--birth-years"},
		{bc, []string{"create", "--text-ru", "x", "--bogus"}, 2, "", "flag provided but not defined"},
		{bc, []string{"create", "--text-ru", "Привет", "--dry-run"}, 0, "10 recipients", ""},
		{bc, []string{"create", "--text-ru", "Привет", "--text-kk", "Сәлем"}, 0, "broadcast 1 created: 10 recipients", ""},
		{bc, []string{"list"}, 0, "running", ""},
		{bc, []string{"show", "1"}, 0, `"total": 10`, ""},
		{bc, []string{"show", "x"}, 2, "", "positive number"},
		{bc, []string{"show", "99"}, 1, "", "not found"},
		{bc, []string{"stop", "1"}, 0, `"state": "stopped"`, ""},
		{bc, []string{"wait", "1"}, 0, "(stopped)", ""},
		{bc, []string{"resume", "1"}, 0, `"state": "running"`, ""},
		{bc, []string{"events", events}, 0, "imported 1 events", ""},
		{bc, []string{"events", "/no/such/file"}, 2, "", "no such file"},
		{st, nil, 2, "", "usage:"},
		{st, []string{"add", "42", "admin", "--lang", "kk"}, 0, "staff 42 is admin (kk)", ""},
		{st, []string{"add", "42", "root"}, 2, "", "role must be operator or admin"},
		{st, []string{"add", "-5", "admin"}, 2, "", "usage"},
		{st, []string{"list"}, 0, "42", ""},
		{st, []string{"remove", "42"}, 0, "removed", ""},
		{st, []string{"remove", "42"}, 1, "", "no such staff member"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := tt.run(ctx, tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errb.String(), tt.errLine) {
			t.Errorf("%v: code %d out %q err %q; want %d, %q, %q", tt.args, code, out.String(), errb.String(), tt.code, tt.out, tt.errLine)
		}
		if tt.code == 2 && strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 && tt.args != nil {
			t.Errorf("%v: bad args must give one line, got %q", tt.args, errb.String())
		}
	}
}

func bc(ctx context.Context, args []string, out, errb *bytes.Buffer) int {
	return runBroadcast(ctx, args, out, errb)
}

func st(ctx context.Context, args []string, out, errb *bytes.Buffer) int {
	return runStaff(ctx, args, out, errb)
}
