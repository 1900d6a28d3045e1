package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kezekbot/kezekbot/store/postgres/pgtest"
)

// TestMigrateDownTo: `kezekbot migrate -down-to N` undoes what a rollback needs, migrate
// brings it back, and a number below the floor is a usage error that touches nothing.
func TestMigrateDownTo(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	tests := []struct {
		args    []string
		code    int
		out     string
		errLine string
	}{
		{[]string{"-database-url", url, "-down-to", "9"}, 2, "", "refusing to go below 10"},
		{[]string{"-database-url", url, "-down-to", "12"}, 0, "undid migration 13\ndatabase at migration 12\n", ""},
		{[]string{"-database-url", url}, 0, "database at migration 1", ""},
		{[]string{"-database-url", url, "-down-to", "x"}, 2, "", "invalid value"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := runMigrate(t.Context(), tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(out.String(), tt.out) || !strings.Contains(errb.String(), tt.errLine) {
			t.Errorf("%v: code %d out %q err %q; want %d, %q, %q", tt.args[2:], code, out.String(), errb.String(), tt.code, tt.out, tt.errLine)
		}
	}
}
