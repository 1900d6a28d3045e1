#!/usr/bin/env bash
# make check / .ci/run: static and vulnerability checks, with pinned tool versions and no
# internet beyond the Go module proxy.
#  - govulncheck against a vulnerability database built here from the golang.org/x/vulndb
#    module (its cmd/indexdb), so the scan needs no vuln.go.dev; fails on any vulnerability
#    reachable from our code;
#  - staticcheck: fails on any finding;
#  - gosec: fails on any finding not excused, with its reason, in .gosec-exclusions.tsv.
# The tools and the database are cached outside the repository (KEZEKBOT_TOOLS_CACHE,
# default ~/.cache/kezekbot-tools), one folder per pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3

# Pinned versions. Bump them on purpose (and read the tools' release notes); a newer vulndb is
# a newer database: bump it at least monthly.
GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
INDEXDB=golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION
STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOSEC=github.com/securego/gosec/v2/cmd/gosec@v2.30.0

cache=${KEZEKBOT_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kezekbot-tools}
log() { echo "check: $*" >&2; }

# tool PKG@VERSION: the path of the binary, installed once per version.
tool() {
  local spec=$1 name=${1%@*}
  name=${name##*/}
  local dir="$cache/$name-${spec##*@}"
  if [ ! -x "$dir/$name" ]; then
    log "installing $spec"
    mkdir -p "$dir"
    GOBIN="$dir" go install "$spec"
  fi
  echo "$dir/$name"
}

vulndb() {
  local db="$cache/vulndb-$VULNDB_VERSION"
  if [ ! -s "$db/index/db.json" ]; then
    local indexdb src
    indexdb=$(tool "$INDEXDB")
    src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$src/data/osv" ] || { log "no data/osv in $src"; exit 1; }
    log "building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION"
    rm -rf "$db.tmp"
    "$indexdb" -out "$db.tmp" -vulns "$src/data/osv"
    rm -rf "$db" && mv "$db.tmp" "$db"
  fi
  echo "$db"
}

log "govulncheck ($GOVULNCHECK, database $VULNDB_VERSION)"
db=$(vulndb)
"$(tool "$GOVULNCHECK")" -db "file://$db" ./...

log "staticcheck ($STATICCHECK)"
"$(tool "$STATICCHECK")" ./...

log "gosec ($GOSEC)"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
# gosec exits 1 on findings; the gate below decides what fails.
"$(tool "$GOSEC")" -quiet -fmt json -out "$report" ./... || true
go run ./internal/cmd/gosecgate -exclusions .gosec-exclusions.tsv "$report"
log "all clean"
