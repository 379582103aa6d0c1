#!/usr/bin/env bash
# The whole test suite, on a fresh machine or an old one. Build output is cached outside the clone
# (~/.cache/aiqleads by default, AIQ_CACHE_DIR to move it) so reruns are incremental.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${AIQ_CACHE_DIR:-$HOME/.cache/aiqleads}"
mkdir -p "$cache"
export CARGO_TARGET_DIR="$cache/target"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The machines this runs on have 2 cores; more parallel jobs only add memory pressure.
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

if [ ! -d ../shared/data ]; then
  echo "error: ../shared/data is missing. Tests read the shared real pages and tables: clone this" >&2
  echo "repository next to the shared folder (../shared/data/html, ../shared/data/tables)." >&2
  exit 1
fi

# Postgres for the store tests (jobs/tests/store_backends.rs create and drop their own databases
# through an admin URL). Started here when it does not answer, installed when it is missing; a
# cluster this script started is stopped again at exit, one that was already running is left alone.
postgres_started_by_us=""
stop_postgres() {
  if [ -n "$postgres_started_by_us" ]; then
    echo "== stopping the Postgres cluster $postgres_started_by_us/main this script started"
    pg_ctlcluster --skip-systemctl-redirect "$postgres_started_by_us" main stop || true
  fi
}
trap stop_postgres EXIT
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  postgres_installed_by_us=""
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    echo "== installing Postgres (apt-get install postgresql)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }
    postgres_installed_by_us=yes
  fi
  postgres_version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  if [ -n "$postgres_installed_by_us" ]; then
    # A fresh cluster asks for passwords over TCP; the tests connect as postgres without one, so
    # trust loopback connections (only on the cluster this script just installed).
    hba="/etc/postgresql/$postgres_version/main/pg_hba.conf"
    printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' | cat - "$hba" > "$hba.new"
    mv "$hba.new" "$hba"
    chown postgres:postgres "$hba"
  fi
  echo "== starting Postgres $postgres_version/main"
  pg_ctlcluster --skip-systemctl-redirect "$postgres_version" main start
  postgres_started_by_us="$postgres_version"
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 1
  done
  pg_isready -h 127.0.0.1 -p 5432 || { echo "error: Postgres did not answer on 127.0.0.1:5432 within 30 s" >&2; exit 1; }
fi
export AIQ_TEST_POSTGRES_URL="${AIQ_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# Redis for the API's cart tests: started here when it does not answer (and stopped again at exit,
# by PID), installed when missing.
redis_pid_by_us=""
stop_services() {
  stop_postgres
  if [ -n "$redis_pid_by_us" ]; then
    echo "== stopping the Redis server this script started (pid $redis_pid_by_us)"
    kill "$redis_pid_by_us" 2>/dev/null || true
  fi
}
trap stop_services EXIT
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "== installing Redis (apt-get install redis-server)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q redis-server >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null; }
  fi
  echo "== starting Redis on 127.0.0.1:6379"
  redis-server --bind 127.0.0.1 --port 6379 --save "" --appendonly no --daemonize no >"$cache/redis.log" 2>&1 &
  redis_pid_by_us=$!
  for _ in $(seq 1 30); do
    (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break
    sleep 0.2
  done
fi
export AIQ_TEST_REDIS_URL="${AIQ_TEST_REDIS_URL:-redis://127.0.0.1:6379}"

# A Kafka-protocol broker for the streaming tests: tansu (crates.io), built once into the cache. The
# tests start their own brokers (one per test, SQLite storage in a temporary folder) and stop them.
tools="$cache/tools"
if [ ! -x "$tools/bin/tansu" ]; then
  echo "== installing the tansu broker into $tools (first run only; several minutes)"
  CARGO_TARGET_DIR="$tools/target" cargo install tansu --version 0.6.0 --locked --no-default-features \
    --features libsql --root "$tools"
  rm -rf "$tools/target"
fi
export AIQ_TANSU="$tools/bin/tansu"

log="$cache/test-output.log"
status=0
echo "== cargo test (all crates, all targets: unit, integration, end-to-end, benches in test mode)"
# --no-fail-fast: one failing binary must not hide the results of the others.
cargo test --workspace --all-targets --locked --no-fail-fast 2>&1 | tee "$log" || status=1
echo "== doctests"
cargo test --workspace --doc --locked --no-fail-fast 2>&1 | tee -a "$log" || status=1
# One closing line over every test binary (the last binary alone may well have no tests).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i - 1); if ($i ~ /^failed;?$/) f += $(i - 1) } }
     END { printf "summary: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
