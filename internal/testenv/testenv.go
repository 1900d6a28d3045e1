// Package testenv finds what tests need from outside the repository: Debian's Chromium for the
// browser tests and the NCALayer sample corpus in ../shared. Without them a test skips on a
// developer's machine and fails in CI (CI=true), where .ci/run provides both.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Chromium returns the browser to drive: $KEZEKBOT_CHROMIUM, Debian's /usr/bin/chromium, or
// another usual name on PATH.
func Chromium(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("KEZEKBOT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(tb, "chromium not found: apt-get install -y chromium (or set KEZEKBOT_CHROMIUM) to run the browser test")
	return ""
}

// NCALayerSamples returns ../shared/testdata/ncalayer-samples, found next to the directory
// holding go.mod.
func NCALayerSamples(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(dir, "..", "shared", "testdata", "ncalayer-samples")
			if _, err := os.Stat(filepath.Join(s, "expected.tsv")); err != nil {
				missing(tb, "NCALayer sample corpus not found at "+s+" (expected next to the repository): "+err.Error())
			}
			return s
		}
		if filepath.Dir(dir) == dir {
			tb.Fatalf("no go.mod above %s", wd)
		}
	}
}

func missing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatal(msg + " — CI must provide it")
	}
	tb.Skip(msg)
}
