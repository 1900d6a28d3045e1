package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// PostgresBin returns the directory of the PostgreSQL server binaries (initdb, pg_ctl,
// pg_basebackup, pg_dump, pg_restore) for tests that run servers of their own: $KEZEKBOT_PG_BIN,
// the newest Debian /usr/lib/postgresql/<version>/bin, or `pg_config --bindir`. It skips on a
// developer's machine without them and fails in CI, where scripts/services.sh installs them.
func PostgresBin(tb testing.TB) string {
	tb.Helper()
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "pg_ctl", "pg_basebackup", "pg_dump", "pg_restore"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("KEZEKBOT_PG_BIN"); d != "" {
		if !has(d) {
			tb.Fatalf("KEZEKBOT_PG_BIN=%s lacks initdb, pg_ctl, pg_basebackup, pg_dump or pg_restore", d)
		}
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) int { v, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return v }
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); has(d) {
			return d
		}
	}
	missing(tb, "PostgreSQL server binaries not found: apt-get install -y postgresql (or set KEZEKBOT_PG_BIN)")
	return ""
}
