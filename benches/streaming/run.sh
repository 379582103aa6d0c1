#!/usr/bin/env bash
# End-to-end streaming benchmark: COUNT raw listings (default 1,000,000, built from the shared tables)
# in `listings.raw` on a local Kafka-protocol broker (tansu, SQLite storage), then
#   1. the limit: a bare rdkafka group consumer that only counts the messages of listings.raw;
#   2. `aiqleads run all` (partition -> enrich -> Postgres + Parquet) to completion, with its peak RSS.
# Prints listings/s of both and their ratio (target >= 0.5) and the peak memory (target < 1 GiB).
# Needs Postgres on 127.0.0.1:5432 (trust) and the tansu binary (scripts/test.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/../.."
count="${1:-1000000}"
cache="${AIQ_CACHE_DIR:-$HOME/.cache/aiqleads}"
export CARGO_TARGET_DIR="$cache/target"
tansu="${AIQ_TANSU:-$cache/tools/bin/tansu}"
[ -x "$tansu" ] || { echo "error: $tansu missing: run bash scripts/test.sh once (it installs tansu)" >&2; exit 1; }
port="${AIQ_BENCH_KAFKA_PORT:-19092}"
database="aiq_bench_stream_$$"
rebuilt="aiq_bench_backfill_$$"
work="$(mktemp -d)"
broker_pid=""
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
  for db in "$database" "$rebuilt"; do
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building (release)"
cargo build -q --release --locked --bin aiqleads
cargo build -q --release --locked -p aiq-benches --example stream_bench
bin="$CARGO_TARGET_DIR/release"

echo "== tansu on 127.0.0.1:$port (storage in $work)"
(cd "$work" && exec "$tansu" broker --listener-url "tcp://127.0.0.1:$port" \
  --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine sqlite://tansu.db >broker.log 2>&1) &
broker_pid=$!
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
# tansu 0.6's SQLite schema has no index on `header (topition, offset_id)`, and a fetch looks up each
# record's headers: every record fetched scans the whole header table, so draining N records with
# headers (ours carry the schema version) costs N^2 and a 1M-record topic never drains. The index
# tansu lacks, added to its database once it made its tables; both the limit and the job gain.
python3 - "$work/tansu.db" <<'PY'
import sqlite3, sys, time
deadline = time.time() + 30
while True:
    try:
        db = sqlite3.connect(sys.argv[1], timeout=30)
        db.execute("CREATE INDEX IF NOT EXISTS header_by_record ON header (topition, offset_id)")
        db.commit()
        break
    except sqlite3.OperationalError:
        if time.time() > deadline:
            raise
        time.sleep(0.2)
PY

export AIQ__BUS__URL="kafka://127.0.0.1:$port"
export AIQ__STORE__URL="postgres://postgres@127.0.0.1:5432/$database"
export AIQ__LAKE__DIR="$work/lake"
export AIQ__METRICS__LISTEN=""
export AIQ__RUNNER__BATCH_SIZE="${AIQ_BENCH_BATCH:-8192}"
export AIQ__RUNNER__BATCH_LINGER="200ms"
# A broker loaded by the benchmark answers heartbeats late: a longer session avoids rebalances that
# only measure the broker.
export AIQ__BUS__KAFKA__SESSION_TIMEOUT_MS="${AIQ_BENCH_SESSION_MS:-45000}"
psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $database" >/dev/null
"$bin/aiqleads" kafka create-topics --partitions "${AIQ_BENCH_PARTITIONS:-4}" >/dev/null

echo "== loading $count raw listings"
"$bin/examples/stream_bench" load "127.0.0.1:$port" "$count"

echo "== the limit: a bare consumer counting listings.raw"
limit_line="$("$bin/examples/stream_bench" drain "127.0.0.1:$port" listings.raw "$count")"
echo "$limit_line"
limit_rate="$(echo "$limit_line" | sed -E 's/.*\(([0-9]+)\/s\).*/\1/')"

echo "== aiqleads run all (partition -> enrich -> Postgres + Parquet)"
# A loaded tansu can take over 30 s to answer a new group's first fetch (seen 2026-12-03: the run
# ended having read nothing); the idle wait is subtracted from the figures, so waiting longer is free.
idle="${AIQ_BENCH_IDLE:-120}"
start=$(date +%s.%N)
/usr/bin/time -v -o "$work/time.txt" "$bin/aiqleads" run all --exit-when-idle "${idle}s" | tee "$work/run.txt"
end=$(date +%s.%N)
rss_kb="$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$work/time.txt")"
listings="$(psql -qtA -h 127.0.0.1 -U postgres -d "$database" -c 'SELECT count(*) FROM listings')"
leads="$(psql -qtA -h 127.0.0.1 -U postgres -d "$database" -c 'SELECT count(*) FROM leads')"
partition_in="$(sed -nE 's/^partition: ([0-9]+) records in.*/\1/p' "$work/run.txt")"
if [ "$partition_in" != "$count" ]; then
  echo "error: the run stopped before the end (partition job read ${partition_in:-0} of $count); the" >&2
  echo "broker answered slower than the idle limit: rerun with a larger AIQ_BENCH_IDLE" >&2
  exit 1
fi
python3 - "$count" "$start" "$end" "$idle" "$limit_rate" "$rss_kb" "$listings" "$leads" <<'PY'
import sys
count, start, end, idle, limit, rss_kb, listings, leads = sys.argv[1:]
busy = float(end) - float(start) - float(idle)
rate = int(count) / busy
print(f"job: {count} raw listings -> {listings} listings, {leads} properties in Postgres in {busy:.1f} s "
      f"(wall time minus the {idle} s idle wait): {rate:,.0f} listings/s")
print(f"limit (bare consumer): {int(limit):,} messages/s; ratio {rate / int(limit):.2f} (target >= 0.5)")
print(f"peak resident memory of the job process: {int(rss_kb) / 1024:,.0f} MiB (target < 1024)")
PY

# The lake's batch jobs on what the run wrote: compaction, then a backfill of a fresh database from
# the compacted lake, which must hold exactly what the streaming job stored.
echo "== aiqleads run compact"
files_before="$(find "$work/lake/leads" -name '*.parquet' | wc -l)"
start=$(date +%s.%N)
"$bin/aiqleads" run compact
end=$(date +%s.%N)
files_after="$(find "$work/lake/leads" -name '*.parquet' | wc -l)"
echo "compact: $files_before leads files -> $files_after in $(python3 -c "print(f'{$end - $start:.1f}')") s"
echo "== aiqleads run backfill (a fresh database from the lake)"
psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $rebuilt" >/dev/null
start=$(date +%s.%N)
AIQ__STORE__URL="postgres://postgres@127.0.0.1:5432/$rebuilt" "$bin/aiqleads" run backfill
end=$(date +%s.%N)
# A digest of every column of every row: the md5 of the rows' md5s (the rows' text itself would pass
# Postgres's 1 GB limit on one value at this size).
digest() {
  psql -v ON_ERROR_STOP=1 -qtA -h 127.0.0.1 -U postgres -d "$1" -c "SELECT md5(string_agg(md5(to_jsonb(l)::text), '' ORDER BY source, source_listing_id)) FROM listings l"
  psql -v ON_ERROR_STOP=1 -qtA -h 127.0.0.1 -U postgres -d "$1" -c "SELECT md5(string_agg(md5((to_jsonb(l) - 'revision')::text), '' ORDER BY property_id)) FROM leads l"
}
streamed_digest="$(digest "$database")"
rebuilt_digest="$(digest "$rebuilt")"
if [ "$(wc -l <<<"$streamed_digest")" != 2 ] || [ "$streamed_digest" != "$rebuilt_digest" ]; then
  echo "error: the backfilled database differs from the one the streaming job wrote" >&2
  echo "streamed: $streamed_digest; rebuilt: $rebuilt_digest" >&2
  exit 1
fi
echo "backfill: $listings listings, $leads properties in $(python3 -c "print(f'{$end - $start:.1f}')") s; every column equal to the streaming job's store"
