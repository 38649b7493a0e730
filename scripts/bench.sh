#!/usr/bin/env bash
# `npm run bench`: installs what the benchmarks need if it is missing (like scripts/test.sh), then
# runs test/bench/run.ts. The table goes to stdout, progress to stderr. Not part of `npm test`.
#   BENCH_SCALE=small         a quick check of the machinery (a couple of minutes)
#   BENCH_EMBEDDED_DAYS=90    the full 90 days on the embedded engine too (slow: WebAssembly ingest)
#   BENCH_RUNS=N              timed runs per query (default 200; small: 50)
#   BENCH_ONLY=native|embedded one phase only
#   BENCH_SKIP=backup,restore leave out the backup and/or restore benches (other modules own them)
#   BENCH_JSON=FILE           also write the rows as JSON
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
# PostgreSQL 15 + TimescaleDB for the native server (seconds when already installed).
bash scripts/install-timescaledb.sh

exec npx tsx test/bench/run.ts "$@"
