#!/usr/bin/env bash
# Team queues at scale (docs/benchmarks.md): queue::Scheduler with 100 queues at 1,000 / 10,000 /
# 100,000 queued runs, on one core. Prints ns per operation (median of REPS repetitions) for a
# decision (Finish + Next + Start), an Enqueue and an Explain, the growth ratio from one size to
# the next, and the heap per queued run.
#
#   cmake --preset release -DTUG_BUILD_UI=OFF
#   cmake --build --preset release --target queue_bench
#   bench/queue_bench.sh     (REPS=3 MIN_TIME=0.5)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bench/queue_bench}
[[ -x $BIN ]] || { echo "build first: cmake --build --preset release --target queue_bench" >&2; exit 1; }
echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(mktemp)
taskset -c 0 "$BIN" --benchmark_repetitions="${REPS:-3}" --benchmark_min_time="${MIN_TIME:-0.5}" \
  --benchmark_out="$out" --benchmark_out_format=json > /dev/null
python3 - "$out" <<'PY'
import json, statistics, sys
runs = [b for b in json.load(open(sys.argv[1]))["benchmarks"] if b.get("run_type") == "iteration"]
by = {}
for b in runs:
    name, size = b["run_name"].split("/")[:2]
    by.setdefault(name, {}).setdefault(int(size), []).append(b)
print(f"{'operation':<12} {'queued':>8} {'ns/op (median)':>15} {'runs':>18} {'× previous size':>16} {'bytes/queued':>13}")
for name, sizes in by.items():
    prev = None
    for size in sorted(sizes):
        ns = [b["ns_per_op"] for b in sizes[size]]
        med = statistics.median(ns)
        mem = statistics.median(b["bytes_per_queued"] for b in sizes[size])
        ratio = f"{med / prev:.2f}" if prev else ""
        spread = "/".join(f"{x:.0f}" for x in ns)
        print(f"{name[3:]:<12} {size:>8} {med:>15.0f} {spread:>18} {ratio:>16} {mem:>13.0f}")
        prev = med
PY
rm -f "$out"
