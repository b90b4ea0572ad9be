#!/usr/bin/env bash
# Store throughput: durable enqueue + claim + complete cycles per second, on SQLite (group
# commit) and on a throwaway PostgreSQL beside pgbench -N (simple update) on the same server in
# the same run, with the ratio. BATCH is the production path's batching (the API's Submitter
# batches submits; the dispatcher claims several due attempts at once; ends come one by one);
# batch 1 is one call per step.
#   cmake --preset release && cmake --build --preset release --target store_bench
#   bench/store_bench.sh            (env: THREADS=32 BATCH=8 SECONDS_PER_ROUND=5 ROUNDS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bench/store_bench}
[[ -x $BIN ]] || { echo "build first: cmake --build --preset release --target store_bench" >&2; exit 1; }
THREADS=${THREADS:-32}
BATCH=${BATCH:-8}
S=${SECONDS_PER_ROUND:-5}
R=${ROUNDS:-3}
echo "== machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%d)"
echo "== SQLite, synchronous=normal (WAL; durable across process crashes), batch $BATCH"
"$BIN" --store sqlite --threads "$THREADS" --batch "$BATCH" --seconds "$S" --rounds "$R"
echo "== SQLite, batch 1"
"$BIN" --store sqlite --threads "$THREADS" --seconds "$S" --rounds "$R"
echo "== SQLite, one thread, batch 1 (no group commit possible)"
"$BIN" --store sqlite --threads 1 --seconds "$S" --rounds "$R"
echo "== SQLite, synchronous=full (fsync per commit), batch $BATCH"
"$BIN" --store sqlite --sync full --threads "$THREADS" --batch "$BATCH" --seconds "$S" --rounds "$R"
echo "== PostgreSQL 15 (initdb in /tmp, fsync on), batch $BATCH, and pgbench -N on it"
"$BIN" --store postgres-temp --threads "${PG_THREADS:-16}" --batch "$BATCH" --seconds "$S" --rounds "$R"
echo "== PostgreSQL 15, batch 1, and pgbench -N on it"
"$BIN" --store postgres-temp --threads "${PG_THREADS:-16}" --seconds "$S" --rounds "$R"
