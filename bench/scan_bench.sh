#!/usr/bin/env bash
# Log scanner throughput against grep -E on the same ≥1 GB log and the built-in catalog.
#   cmake --preset release && cmake --build --preset release --target scan_bench
#   bench/scan_bench.sh [SIZE_MB]      (default 1100; files go to /tmp)
# Prints the scanner's GB/s, peak RSS and matching-line count (fast path, then the per-line
# reference path unless SKIP_REFERENCE=1), grep's time and count, and the speed ratio.
# Counts can differ slightly: the scanner matches each line after relay prefixes are stripped
# and keeps at most kMaxHits (4096) matching lines; grep matches raw lines (\d written as [0-9]).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bench/scan_bench}
MB=${1:-1100}
LOG=/tmp/tug_scan_bench.log
PAT=/tmp/tug_scan_patterns.txt
[[ -x $BIN ]] || { echo "build first: cmake --build --preset release --target scan_bench" >&2; exit 1; }
if [[ ! -f $LOG || $(stat -c %s "$LOG") -lt $((MB * 1024 * 1024)) ]]; then
  "$BIN" gen "$LOG" "$MB"
fi
"$BIN" patterns "$PAT"
cat "$LOG" > /dev/null  # warm the page cache for both sides
echo "== scanner (fast path)"
fast=$("$BIN" scan "$LOG")
echo "$fast"
if [[ ${SKIP_REFERENCE:-0} != 1 ]]; then
  echo "== scanner (per-line reference path)"
  "$BIN" scan "$LOG" reference
fi
echo "== grep -E -c -f $PAT (LC_ALL=C)"
start=$(date +%s.%N)
gcount=$(LC_ALL=C grep -E -c -f "$PAT" "$LOG" || true)
end=$(date +%s.%N)
gsecs=$(echo "$end - $start" | bc -l)
bytes=$(stat -c %s "$LOG")
printf 'grep seconds=%.3f GBps=%.3f matching_lines=%s\n' "$gsecs" "$(echo "$bytes / $gsecs / 1000000000" | bc -l)" "$gcount"
if [[ ${STRIPPED_CHECK:-0} == 1 ]]; then
  # The same grep on lines with the generator's leading timestamp removed: the scanner strips
  # relay prefixes before matching, so this count is the one that should equal the scanner's.
  echo "grep count without timestamps: $(sed 's/^[0-9][0-9: ,-]* //' "$LOG" | LC_ALL=C grep -E -c -f "$PAT" || true)"
fi
ssecs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$fast")
printf 'ratio (grep time / scanner time) = %.2fx\n' "$(echo "$gsecs / $ssecs" | bc -l)"
