#!/usr/bin/env bash
# Marketplace API benchmark: loads AIQ_BENCH_COUNT (default 1,000,000) synthetic leads into a fresh
# Postgres database, serves the API (the same create_app as `aiqleads serve`) and a trivial actix
# handler side by side, and drives each with `wrk` (Debian package) at 64 connections on loopback:
# mixed searches, lead detail, and the trivial handler. Prints throughput and p50/p99 latency.
#
#   bash benches/api/run.sh            # needs Postgres (AIQ_TEST_POSTGRES_URL) and wrk
#   AIQ_BENCH_COUNT=100000 AIQ_BENCH_SECONDS=10 bash benches/api/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aiqleads/target}"
COUNT="${AIQ_BENCH_COUNT:-1000000}"
SECONDS_PER_RUN="${AIQ_BENCH_SECONDS:-15}"
ADMIN_URL="${AIQ_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="aiq_api_bench"
DB_URL="${ADMIN_URL%/*}/$DB"
API=127.0.0.1:18090
TRIVIAL=127.0.0.1:18091
WORK="$(mktemp -d)"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release -p aiq-api --example bench_server
BIN="$CARGO_TARGET_DIR/release/examples/bench_server"

if [ "${AIQ_BENCH_REUSE:-0}" != 1 ]; then
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  "$BIN" load "$DB_URL" "$COUNT"
fi
started=$(date +%s.%N)
"$BIN" serve "$DB_URL" "$API" "$TRIVIAL" "$WORK/token" > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
# The API listens once its catalogue is loaded (every lead read once): minutes at most.
for _ in $(seq 1 3000); do
  curl -sf "http://$API/readyz" >/dev/null && curl -sf "http://$TRIVIAL/" >/dev/null && break
  kill -0 $SERVER 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.2
done
curl -sf "http://$API/readyz" >/dev/null || { echo "the API never got ready" >&2; exit 1; }
rss_mib() { awk '/VmRSS/ { printf "%d", $2 / 1024 }' "/proc/$SERVER/status"; }
echo "server ready in $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s (catalogue loaded), RSS $(rss_mib) MiB"
export AIQ_BENCH_TOKEN="$(cat "$WORK/token")" AIQ_BENCH_COUNT="$COUNT"

drive() { # name url script
  local out
  # wrk reads the script once per thread: a real file, not a pipe.
  cat "$3" benches/api/report.lua > "$WORK/$1.lua"
  out=$(wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/$1.lua" "$2" | grep '^RESULT')
  printf '%-8s %s\n' "$1" "${out#RESULT }" >&2
  if ! grep -q ' errors=0 ' <<<"$out"; then
    echo "$1: some answers were not 2xx; the figures are not valid" >&2
    exit 1
  fi
  echo "$out"
}
echo "leads: $COUNT, $SECONDS_PER_RUN s per run, 64 connections, $(nproc) cores"
# Warm the caches once (a short search run), then measure.
wrk -t2 -c16 -d3s -s benches/api/search.lua "http://$API" >/dev/null
search=$(drive search "http://$API" benches/api/search.lua | tail -1)
detail=$(drive detail "http://$API" benches/api/detail.lua | tail -1)
trivial=$(drive trivial "http://$TRIVIAL" /dev/null | tail -1)
rps() { sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$1"; }
p99() { sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$1"; }
ratio=$(awk -v a="$(rps "$detail")" -v b="$(rps "$trivial")" 'BEGIN { printf "%.2f", a / b }')
echo "server RSS after the runs: $(rss_mib) MiB"
echo "targets: search p99 $(p99 "$search") ms (< 20), detail p99 $(p99 "$detail") ms (< 5), detail/trivial throughput $ratio (>= 0.4)"
