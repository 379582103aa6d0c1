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

echo "== cargo test (all crates, all targets: unit, integration, end-to-end, benches in test mode)"
cargo test --workspace --all-targets --locked
echo "== doctests"
cargo test --workspace --doc --locked
