package testenv

import (
	"os/exec"
	"testing"
)

// Tool returns the path of a command-line tool a test runs (caddy, xmlsec1): it skips on a
// developer's machine without it and fails in CI (CI=true), where .ci/run installs it from
// the named Debian package.
func Tool(tb testing.TB, name, debianPackage string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(tb, name+" not found: apt-get install -y "+debianPackage+" to run this test")
	}
	return p
}
