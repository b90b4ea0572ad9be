#!/usr/bin/env bash
# Fleet simulator speed (docs/benchmarks.md), in three parts:
#  1. sim_bench: scheduler placements/s at NODES ready nodes (default 1,000, 10,000 and 100,000),
#     MostAllocated and LeastAllocated, through the node index (Cluster::Pick) and through the
#     scan of every node it replaced, in thread cpu time, on one core; then a whole generated day
#     (8,000 Spark + 2,000 container runs, three copies in steady state) per policy. Medians of
#     RUNS runs.
#  2. `tug sim --generate --policy a,b,c` through the CLI, one core.
#  3. `tug sim` on an 80,553-row Alibaba-shaped batch_task.csv (header row, CRLF, 9,017 Waiting
#     rows without requests; SYNTHETIC, written by scripts/synthetic_batch_task.py unless
#     ALIBABA=path names a file, such as the real one), policies a,b,c, on all cores. TUG_BEFORE=
#     path also times an earlier tug binary on the same file, right before, for a same-session
#     comparison.
#
#   cmake --preset release -DTUG_BUILD_UI=OFF
#   cmake --build --preset release --target sim_bench tug
#   bench/sim_bench.sh     (RUNS=3 NODES=1000,10000,100000 PLACEMENTS=2000000 SKIP_DAY= SKIP_ALIBABA=)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bench/sim_bench}
TUG=${TUG:-build/release/tug}
[[ -x $BIN ]] || { echo "build first: cmake --build --preset release --target sim_bench" >&2; exit 1; }
echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
day=()
[[ -n ${SKIP_DAY:-} ]] && day=(--skip-day)
taskset -c 0 "$BIN" --runs "${RUNS:-3}" --nodes "${NODES:-1000,10000,100000}" \
  --placements "${PLACEMENTS:-2000000}" "${day[@]}"
[[ -x $TUG ]] || exit 0
if [[ -z ${SKIP_DAY:-} ]]; then
  echo "== tug sim --generate --policy a,b,c (one core)"
  /usr/bin/time -f "wall %e s, user %U s, max RSS %M KiB" taskset -c 0 "$TUG" sim --generate \
    --policy a,b,c -o markdown > /dev/null
fi
[[ -n ${SKIP_ALIBABA:-} ]] && exit 0
file=${ALIBABA:-}
if [[ -z $file ]]; then
  file=$(mktemp -d)/batch_task.csv
  python3 scripts/synthetic_batch_task.py --header --crlf -o "$file"
  echo "== synthetic Alibaba file: $(wc -l < "$file") lines (header included) in $file"
fi
for bin in ${TUG_BEFORE:-} "$TUG"; do
  echo "== $bin sim --trace $file --format alibaba --policy a,b,c (all cores)"
  /usr/bin/time -f "wall %e s, user %U s, max RSS %M KiB" "$bin" sim --trace "$file" \
    --format alibaba --policy a,b,c -o markdown > /dev/null
done
