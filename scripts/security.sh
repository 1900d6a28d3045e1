#!/usr/bin/env bash
# make security: the figures of issue 17 — hostile inputs tried and accepted that should not
# have been, and the signature rate limit under a flood — from the TestSecurityReport* tests
# (which also run, quietly, in make test). Fails when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3
bash scripts/services.sh >/dev/null 2>&1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
go test -count=1 -run '^TestSecurityReport' -v ./bot ./signer-link ./signer-link/xmlsig >"$out" 2>&1 || status=$?
grep -o 'security: .*' "$out" | sed 's/^security: /  /' || true
if [ $status -ne 0 ]; then
  grep -E '^(--- FAIL|FAIL|panic)|_test.go:[0-9]+:' "$out" | grep -v 'security: ' >&2 || true
  echo "security: FAILED" >&2
  exit $status
fi
echo "security: all figures within bounds (0 accepted that should not have been)"
