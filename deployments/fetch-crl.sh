#!/usr/bin/env bash
# fetch-crl.sh DIR URL... — refreshes NCA's certificate revocation lists in DIR
# (KEZEKBOT_CRL_DIR) from their URLs, for cron (see deployments/README.md, "NCA certificates and
# revocation lists"). A file is replaced only by a complete download that parses as a CRL and
# is still current (nextUpdate in the future); the rename is atomic, so kezekbot, which re-reads
# DIR every 10 minutes, never sees half a file. A list that could not be refreshed keeps its
# old file and is named on stderr; the exit code is then 1, so cron's mail or the timer's
# failure shows it. Needs curl, openssl and GNU date.
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: fetch-crl.sh DIR URL..." >&2
  exit 2
fi
dir=$1
shift
[ -d "$dir" ] || { echo "fetch-crl: $dir is not a directory" >&2; exit 2; }

status=0
for url in "$@"; do
  name=$(basename "${url%%\?*}")
  case "$name" in *.crl | *.pem | *.der) ;; *) name="$name.crl" ;; esac
  tmp=$(mktemp "$dir/.fetch.XXXXXX") || exit 1
  fail() { rm -f "$tmp"; echo "fetch-crl: $url not refreshed ($1); keeping the old list" >&2; status=1; }
  if ! curl -fsS --max-time 60 --retry 2 -o "$tmp" "$url"; then
    fail "download failed"; continue
  fi
  form=DER
  if ! openssl crl -inform DER -in "$tmp" -noout 2>/dev/null; then
    form=PEM
    if ! openssl crl -inform PEM -in "$tmp" -noout 2>/dev/null; then
      fail "not a CRL"; continue
    fi
  fi
  next=$(openssl crl -inform "$form" -in "$tmp" -noout -nextupdate 2>/dev/null | sed -n 's/^nextUpdate=//p')
  if [ -z "$next" ] || [ "$(date -u -d "$next" +%s 2>/dev/null || echo 0)" -le "$(date -u +%s)" ]; then
    fail "past its nextUpdate ${next:-?}"; continue
  fi
  chmod 0644 "$tmp"
  mv -f "$tmp" "$dir/$name" || { fail "rename failed"; continue; }
done
exit $status
