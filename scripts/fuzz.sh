#!/usr/bin/env bash
# make fuzz / .ci/run: each fuzz target of a parser of outside input for a few seconds
# (FUZZTIME, default 3s). A crasher Go finds is written to the package's testdata/fuzz/<Target>/
# and fails the run: commit it with the fix, and it stays a regression case of `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3
fuzztime=${FUZZTIME:-3s}
# The parsers of outside input; each run stays near 40 s in all (the build takes most of it).
# FUZZ_ALL=1 adds the targets whose seeds `go test` runs anyway.
targets=(
  "./bot FuzzFastDecodeUpdate"           # the webhook update decoder (vs encoding/json)
  "./signer-link/xmlsig FuzzVerify 8s"   # the XML signature verifier (its workers spend ~3s setting up a test CA)
  "./signer-link FuzzParseToken"         # the signing link token parser
  ". FuzzParseIIN"                       # the IIN parser
  ". FuzzContainsIIN"                    # the broadcast IIN guard
  "./city/sync FuzzPushHandler"          # the city's push endpoint (signature header and body)
)
if [ -n "${FUZZ_ALL:-}" ]; then
  targets+=("./bot FuzzWebhook" "./signer-link FuzzClientAddr" "./signer-link FuzzParseRate"
    "./broadcast FuzzParseBroadcastRequest" "./broadcast FuzzParseEvents" "./flows FuzzParseCallback" "./retention FuzzParsePeriod")
fi
start=$SECONDS
for t in "${targets[@]}"; do
  set -- $t
  d=${3:-$fuzztime}
  echo "fuzz: $2 ($1) for $d" >&2
  if ! out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "$d" "$1" 2>&1); then
    echo "$out" >&2
    echo "fuzz: $2 failed; its input is under $1/testdata/fuzz/$2/: fix the bug and commit the input" >&2
    exit 1
  fi
  echo "$out" | tail -n 2
done
echo "fuzz: ${#targets[@]} targets, $((SECONDS - start))s in all" >&2
