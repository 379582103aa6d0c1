#!/usr/bin/env bash
# The Postgres sink (upserts + per-property view + offsets, one transaction per batch) against a
# plain binary COPY of the same rows, COUNT leads (default 1,000,000) built from the shared tables.
# Target: the sink at least 0.7 of COPY. Needs Postgres on 127.0.0.1:5432 (trust, user postgres).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${AIQ_CACHE_DIR:-$HOME/.cache/aiqleads}/target"
cargo build -q --release --locked -p aiq-jobs --example sink_bench
"$CARGO_TARGET_DIR/release/examples/sink_bench" \
  "${AIQ_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}" "${1:-1000000}" "${2:-10000}"
