// Package testenv finds what tests need from outside the repository: Debian's Chromium for the
// browser tests, OpenSSL with Debian's GOST engine (the Streebog oracle) and the sample
// corpora in ../shared. Without them a test skips on a developer's machine and fails in CI
// (CI=true), where make test (scripts/testtools.sh) and .ci/run provide them.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
	return sharedTestdata(tb, "ncalayer-samples", "NCALayer sample corpus")
}

// GOSTSamples returns ../shared/testdata/gost-samples (real Kalkan GOST XML signatures).
func GOSTSamples(tb testing.TB) string {
	tb.Helper()
	return sharedTestdata(tb, "gost-samples", "GOST sample corpus")
}

var gostEngine struct {
	once sync.Once
	path string
	err  string
}

// OpenSSLGOST returns the openssl binary if it can load Debian's GOST engine
// (libengine-gost-openssl), the independent Streebog oracle: `openssl dgst -engine gost
// -md_gost12_512`. KEZEKBOT_OPENSSL overrides the binary.
func OpenSSLGOST(tb testing.TB) string {
	tb.Helper()
	gostEngine.once.Do(func() {
		bin := os.Getenv("KEZEKBOT_OPENSSL")
		if bin == "" {
			bin = "openssl"
		}
		p, err := exec.LookPath(bin)
		if err != nil {
			gostEngine.err = "openssl not found: " + err.Error()
			return
		}
		// Streebog-256 of the empty string (RFC 6986 has no such vector; this only proves the
		// engine loads and hashes).
		cmd := exec.Command(p, "dgst", "-engine", "gost", "-md_gost12_256", "-r")
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.Output()
		if err != nil || !strings.HasPrefix(string(out), "3f539a213e97c802cc229d474c6aa32a825a360b2a933a949fd925208d9ce1bb") {
			gostEngine.err = "openssl cannot load the GOST engine (apt-get install -y libengine-gost-openssl)"
			return
		}
		gostEngine.path = p
	})
	if gostEngine.path == "" {
		missing(tb, gostEngine.err)
	}
	return gostEngine.path
}

func sharedTestdata(tb testing.TB, name, what string) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(dir, "..", "shared", "testdata", name)
			if _, err := os.Stat(filepath.Join(s, "expected.tsv")); err != nil {
				missing(tb, what+" not found at "+s+" (expected next to the repository): "+err.Error())
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
