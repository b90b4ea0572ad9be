#!/usr/bin/env bash
# Fleet simulator speed: scheduler placements/s at 1,000 nodes (MostAllocated and
# LeastAllocated) and the wall time of a whole generated day (8,000 Spark + 2,000 container
# runs, simulated in steady state: three copies of the day) per policy, medians of RUNS runs.
#   cmake --preset release && cmake --build --preset release --target sim_bench
#   bench/sim_bench.sh            (RUNS=3 NODES=1000 PLACEMENTS=2000000 by default)
# Then the same day through the CLI, single core (taskset), for the table in docs/fleet.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bench/sim_bench}
TUG=${TUG:-build/release/tug}
[[ -x $BIN ]] || { echo "build first: cmake --build --preset release --target sim_bench" >&2; exit 1; }
taskset -c 0 "$BIN" --runs "${RUNS:-3}" --nodes "${NODES:-1000}" --placements "${PLACEMENTS:-2000000}"
if [[ -x $TUG ]]; then
  echo "== tug sim --generate --policy a,b,c (one core)"
  /usr/bin/time -f "wall %e s, max RSS %M KiB" taskset -c 0 "$TUG" sim --generate --policy a,b,c \
    -o markdown > /dev/null
fi
