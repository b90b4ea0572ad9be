#!/usr/bin/env bash
# Local launches, measured against the floor in the same session (run by hand; never in CI):
#   1. floor: posix_spawn + wait of /bin/true (1 and 2 threads), and of tug-shim alone
#   2. the local engine alone (LocalEngine::Launch with tug-shim, no store), per cgroup mode
#   3. through a server on SQLite: launches/s for N `true` runs from 8 clients, and
#      submit -> started at 100 submits/s (p50/p99), per cgroup mode
#   4. two replicas on one PostgreSQL: launches/s through a SIGKILL of one of them
#      (scripts/chaos.py: 0 lost, 0 started twice)
# Modes: MODES="auto none" (auto = v2 where its memory controller is writable, else v1; none =
# the watchdog). N=2000 by default. The figures go into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
MODES=${MODES:-auto none}
PRESET=${PRESET:-release}
cmake --preset "$PRESET" >/dev/null
cmake --build --preset "$PRESET" --target tug tug-shim tug-pg-temp spawn_floor local_launch >/dev/null
B=$PWD/build/$PRESET
# BENCH_DIR puts the data dirs on another filesystem (the inode allocator matters: see docs).
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/tug-launch-bench-XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r), $(date -u +%F)"
echo "== cgroups: $(stat -fc %T /sys/fs/cgroup) at /sys/fs/cgroup; unified controllers: $(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null || cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null || echo none)"
echo "== filesystem of the data dir: $(stat -fc %T "$WORK"), $(findmnt -no FSTYPE,OPTIONS -T "$WORK" 2>/dev/null || true)"
echo "== 1. floor"
"$B/bench/spawn_floor" "$N" 1
"$B/bench/spawn_floor" "$N" 2
"$B/bench/spawn_floor" 1000 1 "$B/tug-shim" 2>/dev/null
for mode in $MODES; do
  echo "== 2. the local engine alone, cgroup $mode"
  TMPDIR="$WORK" "$B/bench/local_launch" --shim "$B/tug-shim" --n "$N" --threads 1 --cgroup "$mode"
  TMPDIR="$WORK" "$B/bench/local_launch" --shim "$B/tug-shim" --n "$N" --threads 8 --cgroup "$mode"
done
for mode in $MODES; do
  echo "== 3. through tug server (SQLite), cgroup $mode"
  D="$WORK/server-$mode"
  mkdir -p "$D"
  TUG_CGROUP=$mode "$B/tug" server --listen 127.0.0.1:0 --data-dir "$D" >"$D/out" 2>"$D/err" &
  PIDS+=($!)
  for _ in $(seq 200); do grep -q http "$D/out" 2>/dev/null && break; sleep 0.05; done
  URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$D/out" | head -1)
  python3 bench/launch_rate.py "$URL" "$N" --clients 8
  python3 bench/submit_latency.py "$URL" 200 100
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
done
echo "== 4. two replicas on one PostgreSQL, one SIGKILL at a random moment"
python3 scripts/chaos.py --tug "$B/tug" --pg-temp "$B/tug-pg-temp" --store postgres --replicas 2 \
  --runs "${REPLICA_RUNS:-5000}" --kills 1 --rate 0 --sleep 0 --clients 16
