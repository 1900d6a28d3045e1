#!/usr/bin/env bash
# kezekbot through ../shared/bench (fakeapi2 + loadgen), then grammY and nullbot in the same
# session (run-grammy.sh with NULLBOT=1), back to back. Prints loadgen's JSON lines on stdout,
# progress on stderr; stops only what it started (by PID). Loopback only, every run bounded.
#
#   bash scripts/bench-harness.sh             # kezekbot, then grammY + nullbot
#   PEERS=0 bash scripts/bench-harness.sh     # kezekbot only
#
# Settings (environment, defaults in brackets): BENCH [../shared/bench]  FAKE_ADDR [127.0.0.1:18281]
#   BOT_PORT [18290]  CONC [32]  RATES ["500 1000"]  RATE_SECONDS [10]  WARMUP [1000]  PEERS [1]
#   DB [postgres://postgres@127.0.0.1:5432/kezekbot_bench] (created and migrated if missing)
#   REDIS [redis://127.0.0.1:6379/13]  PPROF_ADDR (empty: off)  BIN [/tmp/kezekbot-bench]
#   KBIN (empty: build ./cmd/kezekbot): a kezekbot binary to measure instead, e.g. an older build
#   BOT_GOMAXPROCS (empty: the runtime's default) GOMAXPROCS of kezekbot only
#   SATURATION [1]: the small and big runs (0: only the fixed-rate ones)
#   PROFILE (empty: off): with PPROF_ADDR, a 10 s CPU profile of the last fixed-rate run
#   is written there, starting 3 s into it
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH:-$ROOT/../shared/bench}
FAKE_ADDR=${FAKE_ADDR:-127.0.0.1:18281}
BOT_PORT=${BOT_PORT:-18290}
CONC=${CONC:-32}
RATES=${RATES-500 1000}
RATE_SECONDS=${RATE_SECONDS:-10}
WARMUP=${WARMUP:-1000}
PEERS=${PEERS:-1}
DB=${DB:-postgres://postgres@127.0.0.1:5432/kezekbot_bench}
REDIS=${REDIS:-redis://127.0.0.1:6379/13}
PPROF_ADDR=${PPROF_ADDR:-}
BIN=${BIN:-/tmp/kezekbot-bench}
SATURATION=${SATURATION:-1}
PROFILE=${PROFILE:-}
SECRET=bench-secret-0123456789abcdef0123456789  # serve wants ≥ 32 characters
log() { echo "bench-harness: $*" >&2; }

mkdir -p "$BIN"
log "building kezekbot, fakeapi2, loadgen into $BIN"
KBIN=${KBIN:-}
if [ -z "$KBIN" ]; then (cd "$ROOT" && go build -o "$BIN/kezekbot" ./cmd/kezekbot); KBIN=$BIN/kezekbot; fi
(cd "$BENCH/fakeapi2" && go build -o "$BIN/fakeapi2" .)
(cd "$BENCH/loadgen" && go build -o "$BIN/loadgen" .)
dbname=${DB##*/}
psql "${DB%/*}/postgres" -tAc "select 1 from pg_database where datname='$dbname'" | grep -q 1 ||
  psql "${DB%/*}/postgres" -qc "create database $dbname" >/dev/null

FAKE_PID= BOT_PID=
cleanup() {
  for p in $BOT_PID $FAKE_PID; do kill "$p" 2>/dev/null || true; done
  for p in $BOT_PID $FAKE_PID; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$BIN/fakeapi2" -addr "$FAKE_ADDR" >"$BIN/fakeapi2.log" 2>&1 &
FAKE_PID=$!
env ${BOT_GOMAXPROCS:+GOMAXPROCS=$BOT_GOMAXPROCS} KEZEKBOT_MODE=webhook KEZEKBOT_TELEGRAM_TOKEN=123456:bench-token-bench-token-bench-token-xx \
  KEZEKBOT_TELEGRAM_API_URL="http://$FAKE_ADDR" KEZEKBOT_WEBHOOK_SECRET=$SECRET \
  KEZEKBOT_HTTP_ADDR="127.0.0.1:$BOT_PORT" KEZEKBOT_DATABASE_URL="$DB" KEZEKBOT_REDIS_URL="$REDIS" \
  KEZEKBOT_TRUST_DIR="$ROOT/../shared/testdata/ncalayer-samples/trust" \
  KEZEKBOT_LINK_KEYS="1:$(printf 'kezekbot-bench-link-key-32-bytes' | base64)" \
  KEZEKBOT_LOG_LEVEL=warn KEZEKBOT_PPROF_ADDR="$PPROF_ADDR" \
  "$KBIN" serve --migrate >"$BIN/kezekbot.log" 2>&1 &
BOT_PID=$!
for ((i = 0; i < 200; i++)); do curl -sf -o /dev/null "http://127.0.0.1:$BOT_PORT/readyz" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$BOT_PORT/readyz" || { log "kezekbot did not start: $(tail -5 "$BIN/kezekbot.log")"; exit 1; }
REDIS_PID=$(pgrep -x redis-server | head -1 || true)
AUX="fakeapi=$FAKE_PID${REDIS_PID:+,redis=$REDIS_PID}"
loadgen() { # label chats updates [extra args...]
  local label=$1 chats=$2 updates=$3; shift 3
  timeout 115 "$BIN/loadgen" -label "kezekbot/$label" -target "http://127.0.0.1:$BOT_PORT" \
    -path /telegram/webhook -secret "$SECRET" -api "http://$FAKE_ADDR" -button 1:ru -chats "$chats" \
    -updates "$updates" -concurrency "$CONC" -timeout 100s -bot-pid "$BOT_PID" -aux-pids "$AUX" "$@" ||
    log "run $label: loadgen exit $?"
}
log "kezekbot pid $BOT_PID ($KBIN, tree at $(git -C "$ROOT" rev-parse --short HEAD)), fakeapi2 pid $FAKE_PID"
if [ "$WARMUP" -gt 0 ]; then loadgen warmup 100 "$WARMUP" >/dev/null; fi
if [ "$SATURATION" = 1 ]; then
  loadgen small 200 2000
  loadgen big 1000 20000
fi
PROF_PID=
for r in $RATES; do
  if [ -n "$PROFILE" ] && [ -n "$PPROF_ADDR" ]; then
    (sleep 3 && curl -sf -o "$PROFILE" "http://$PPROF_ADDR/debug/pprof/profile?seconds=10") &
    PROF_PID=$!
  fi
  loadgen "rate$r" 1000 $((r * RATE_SECONDS)) -rate "$r"
done
[ -z "$PROF_PID" ] || wait "$PROF_PID" || log "profile: curl failed"
log "kezekbot error lines: $(grep -c '"level":"ERROR"\|level=ERROR' "$BIN/kezekbot.log" || true) (log: $BIN/kezekbot.log)"
cleanup; BOT_PID= FAKE_PID=

if [ "$PEERS" = 1 ]; then
  FAKE_ADDR=$FAKE_ADDR BOT_PORT=18390 NULL_PORT=18392 RATES="$RATES" WARMUP="$WARMUP" NULLBOT=1 \
    BIN="$BIN" LOGS="$BIN" bash "$BENCH/run-grammy.sh"
fi
