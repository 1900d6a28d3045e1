#!/usr/bin/env bash
# Installs the outside tools some tests drive, from Debian's packages, when they are missing:
# Chromium (the signing page and sandbox browser tests) and OpenSSL's GOST engine (the
# Streebog oracle). Run by `make test` and .ci/run.
# Without root or apt it cannot install; then it says loudly which tests will not run, because
# `go test` only reports those skips with -v (CI sets CI=true, and there they fail instead).
set -uo pipefail

log() { echo "testtools: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi; }

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || return 1
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq >/dev/null || return 1; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# "check": install nothing, only say again what is missing (after the tests, where it is seen).
install=1; [ "${1:-}" = check ] && install=0

missing=()
have_chromium() { [ -n "${KEZEKBOT_CHROMIUM:-}" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; }
if ! have_chromium; then
  if [ $install = 1 ]; then log "installing chromium for the browser tests"; apt_install chromium fonts-dejavu-core || true; fi
  have_chromium || missing+=("chromium (the browser tests of signer-link and the sandbox)")
fi

# caddy: the proxy's access log test (deployments); xmlsec1: stored evidence must verify with an
# independent verifier (signer-link).
for tool in caddy xmlsec1; do
  if ! command -v $tool >/dev/null; then
    if [ $install = 1 ]; then log "installing $tool"; apt_install $tool || true; fi
    command -v $tool >/dev/null || missing+=("$tool (deployments' access log test / signer-link's xmlsec1 evidence test)")
  fi
done

# redis-server (its --sentinel mode is redis-sentinel) and redis-cli: the Redis Cluster and
# Sentinel failover tests (store/redis, broadcast) start their own servers.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  if [ $install = 1 ]; then log "installing redis-server (the Cluster and Sentinel tests)"; apt_install redis-server redis-tools || true; fi
  command -v redis-server >/dev/null || missing+=("redis-server (store/redis and broadcast's Cluster and Sentinel tests)")
fi

# OpenSSL's GOST engine: the independent Streebog oracle of signer-link/gost/streebog's tests.
have_gost_engine() { command -v openssl >/dev/null && openssl dgst -engine gost -md_gost12_256 </dev/null >/dev/null 2>&1; }
if ! have_gost_engine; then
  if [ $install = 1 ]; then log "installing libengine-gost-openssl (the Streebog oracle)"; apt_install openssl libengine-gost-openssl || true; fi
  have_gost_engine || missing+=("libengine-gost-openssl (the Streebog tests against OpenSSL's GOST engine)")
fi

if [ ${#missing[@]} -gt 0 ]; then
  {
    echo
    echo "################################################################################"
    echo "# NOT INSTALLED, SO THESE TESTS WILL BE SKIPPED (install them, or CI fails):"
    for m in "${missing[@]}"; do echo "#   - $m"; done
    echo "################################################################################"
    echo
  } >&2
fi
exit 0
