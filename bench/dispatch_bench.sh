#!/usr/bin/env bash
# The dispatcher's launch rate with team queues against without (issue 26 item 3), by hand, never
# in CI: bench/dispatch_bench.cpp, REPS rounds of (off, on) or (on, off) alternately, so the load
# of a shared machine falls on both; prints every run, the medians and their ratio.
# Env: REPS (5), QUEUED (100000), QUEUE_COUNT (100), LAUNCHES (3000), ENGINE_US (0: the
# dispatcher is the bottleneck), HOLD_MS (50), STORE (sqlite | postgres: a throwaway server from
# tug-pg-temp), PRESET (release).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
PRESET=${PRESET:-release}
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  cmake --preset "$PRESET" >/dev/null
  cmake --build --preset "$PRESET" --target dispatch_bench tug-pg-temp >/dev/null
fi
B=$PWD/build/$PRESET
args=(--queued "${QUEUED:-100000}" --queue-count "${QUEUE_COUNT:-100}" --launches "${LAUNCHES:-3000}"
  --engine-us "${ENGINE_US:-0}" --hold-ms "${HOLD_MS:-50}")
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r), $(date -u '+%F %H:%M UTC')"
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$REPS"); do
  order=(off on)
  (( i % 2 == 0 )) && order=(on off)
  for mode in "${order[@]}"; do
    pg=()
    if [[ "${STORE:-sqlite}" == postgres ]]; then
      # A fresh database per run: tug-pg-temp prints the URL and serves until stdin closes.
      coproc PG { "$B/tug-pg-temp"; }
      read -r url <&"${PG[0]}"
      pg=(--pg "$url")
    fi
    line=$("$B/bench/dispatch_bench" --queues "$mode" "${args[@]}" "${pg[@]}" 2>/dev/null)
    echo "$line" | tee -a "$out"
    echo "   load: $(cut -d' ' -f1-3 /proc/loadavg)"
    if [[ ${#pg[@]} -gt 0 ]]; then
      eval "exec ${PG[1]}>&-"
      wait "$PG_PID" 2>/dev/null || true
    fi
  done
done
python3 - "$out" <<'PY'
import re, statistics, sys
rates = {"on": [], "off": []}
first = {"on": [], "off": []}
for line in open(sys.argv[1]):
    m = re.search(r"queues=(\w+).*first_launch_s=([\d.]+).*rate=([\d.]+)/s", line)
    if m:
        rates[m.group(1)].append(float(m.group(3)))
        first[m.group(1)].append(float(m.group(2)))
on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
print(f"median launches/s: queues off {off:.1f}, queues on {on:.1f}; ratio on/off {on / off:.3f}")
print(f"median time to the first launch (start-up, incl. the rebuild): off {statistics.median(first['off']):.3f} s, on {statistics.median(first['on']):.3f} s")
PY
