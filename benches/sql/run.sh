#!/usr/bin/env bash
# `aiqleads sql` (DataFusion) against DuckDB on the same Parquet lake: the ten analyst queries of
# jobs/tests/queries/, on a lake of COUNT listings (default 1,000,000, from the shared tables, through
# `aiqleads pipeline`). Each engine runs all ten in one process (views created, files listed, queries
# answered); the answers are compared, the totals printed. Target: aiqleads at most 1.3x DuckDB.
# Needs Python with duckdb (`pip install duckdb`; installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
count="${1:-1000000}"
cache="${AIQ_CACHE_DIR:-$HOME/.cache/aiqleads}"
export CARGO_TARGET_DIR="$cache/target"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -c "import duckdb" 2>/dev/null || pip install -q duckdb

echo "== building (release)"
cargo build -q --release --locked --bin aiqleads
cargo build -q --release --locked -p aiq-benches --example stream_bench
bin="$CARGO_TARGET_DIR/release"

echo "== a lake of $count listings"
"$bin/examples/stream_bench" jsonl "$work/listings.jsonl" "$count"
# The summary's first line only; through a file, since `| head` would end the run early by SIGPIPE.
AIQ__LAKE__ROWS_PER_FILE=250000 "$bin/aiqleads" pipeline --input "$work/listings.jsonl" --out "$work/out" >"$work/pipeline.txt" 2>&1
head -n 1 "$work/pipeline.txt"
lake="$work/out/lake"

python3 - "$bin/aiqleads" "$lake" jobs/tests/queries <<'PY'
import csv, glob, os, subprocess, sys, time
import duckdb

aiqleads, lake, queries_dir = sys.argv[1:]
files = sorted(glob.glob(os.path.join(queries_dir, "*.sql")))
queries = [open(f).read().strip().rstrip(";") for f in files]

# DataFusion: one process, the ten statements on standard input, CSV out.
script = "".join(q + ";\n" for q in queries)
env = dict(os.environ, AIQ__LAKE__DIR=lake)
started = time.perf_counter()
run = subprocess.run([aiqleads, "sql", "--format", "csv"], input=script, capture_output=True, text=True, env=env)
datafusion_seconds = time.perf_counter() - started
if run.returncode != 0:
    sys.exit(f"aiqleads sql failed: {run.stderr}")

# DuckDB: the same rows under the same names (current_leads by its plain definition, a window with
# the same order and tiebreak as aiqleads), then the same queries (dialect differences only).
def duck_dialect(sql):
    return (sql.replace("first_value(", "first(").replace("last_value(", "last(")
               .replace("to_unixtime(", "epoch("))
started = time.perf_counter()
con = duckdb.connect()
con.execute(f"CREATE VIEW leads AS SELECT * FROM read_parquet('{lake}/leads/**/*.parquet', hive_partitioning = true)")
con.execute("""CREATE VIEW current_leads AS SELECT * EXCLUDE (fetch_rank) FROM (
    SELECT *, row_number() OVER (PARTITION BY source, source_listing_id
        ORDER BY fetched_at DESC NULLS LAST, input_stream DESC NULLS LAST,
                 input_partition DESC NULLS LAST, input_offset DESC NULLS LAST) AS fetch_rank
    FROM leads) WHERE fetch_rank = 1""")
duck_answers = [con.execute(duck_dialect(q)).fetchall() for q in queries]
duckdb_seconds = time.perf_counter() - started

# Compare answers: DataFusion's CSV blocks, one per statement, against DuckDB's rows.
def norm(value):
    if value is None or value == "":
        return ""
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)
# The prompt writes the results one after the other, each with its header line.
lines = run.stdout.splitlines()
mismatches, at = 0, 0
for name, rows in zip(files, duck_answers):
    block = lines[at + 1 : at + 1 + len(rows)]
    at += 1 + len(rows)
    df_rows = [[norm(v) for v in r] for r in csv.reader(block)]
    dd_rows = [[norm(v) for v in r] for r in rows]
    if sorted(df_rows) != sorted(dd_rows):
        mismatches += 1
        print(f"answers differ: {os.path.basename(name)}")
if at != len(lines):
    mismatches += 1
    print(f"DataFusion printed {len(lines)} lines, DuckDB's answers account for {at}")
print(f"aiqleads sql (DataFusion): {datafusion_seconds:.2f} s for {len(queries)} queries (one process, start-up included)")
print(f"DuckDB {duckdb.__version__}: {duckdb_seconds:.2f} s (in-process)")
print(f"ratio {datafusion_seconds / duckdb_seconds:.2f} (target <= 1.3); answers differing: {mismatches}")
PY
