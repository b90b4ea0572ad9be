#!/usr/bin/env bash
# Log scanner throughput against grep -E on the same ≥1 GB log and the built-in catalog.
#   cmake --preset release -DTUG_BUILD_UI=OFF && cmake --build --preset release --target scan_bench
#   bench/scan_bench.sh [SIZE_MB]      (default 1100; files go to /tmp)
# Env: ROUNDS (default 5) rounds of scanner + grep -E (+ ripgrep if installed) in turn, on the
# same warm file (how it sits in the page cache: CACHE, below); medians are reported. The
# scanner reads the file as `tug diagnose` does (ReadLogFile: memory-mapped, 256 KiB slices).
# READ=1 adds the scanner fed by fread in 64 KiB chunks (how
# this benchmark read before), STREAM=1 the issue-3 stream-prefilter path, REFERENCE=1 the
# per-line reference path (slow), MEMORY=1 the scanner fed from a copy of the file in memory
# (the scanner without reading; its RSS holds the whole file). Each round is timed twice: wall
# clock and CPU time (user + sys); on a shared machine the CPU figures are the steadier ones,
# and the ratio to grep is given for both.
# Counts can differ: the scanner matches each line after relay prefixes are stripped and keeps
# at most kMaxHits (4096) matching lines; grep matches raw lines (\d written as [0-9]).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/release/bench/scan_bench}
MB=${1:-1100}
ROUNDS=${ROUNDS:-5}
LOG=/tmp/tug_scan_bench.log
PAT=/tmp/tug_scan_patterns.txt
OUT=$(mktemp -d /tmp/tug_scan_bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
[[ -x $BIN ]] || { echo "build first: cmake --build --preset release --target scan_bench" >&2; exit 1; }
if [[ ! -f $LOG || $(stat -c %s "$LOG") -lt $((MB * 1024 * 1024)) ]]; then
  "$BIN" gen "$LOG" "$MB"
fi
"$BIN" patterns "$PAT" 2>/dev/null
bytes=$(stat -c %s "$LOG")
# The page cache, for every contender: by default as a log read back from disk has it (the
# file written back, dropped, and read again: readahead fills the cache with large folios, up
# to 2 MiB on ext4 and XFS in Linux 6.x); CACHE=written as a logging process leaves it (the file
# rewritten with 4 KiB writes: 4 KiB folios). Mapping a file costs several times more over small
# folios (per-page work in the kernel), which the scanner's memory-mapped read feels.
python3 - "$LOG" "${CACHE:-readback}" <<'PY'
import os, sys
path, how = sys.argv[1], sys.argv[2]
if how == "written":
    tmp = path + ".tmp"
    with open(path, "rb") as src, open(tmp, "wb", buffering=0) as dst:
        while chunk := src.read(4096):
            dst.write(chunk)
    os.replace(tmp, path)
else:
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
PY
cat "$LOG" > /dev/null
echo "== $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== log: $LOG, $bytes bytes; $(wc -l < "$PAT") patterns; page cache: ${CACHE:-readback} ($(awk '/^FileHugePages/ { print $2, $3 }' /proc/meminfo) in huge folios machine-wide)"
"$BIN" anchors | grep -E '^[0-9]+ short anchors|^long|^patterns without|^prefilter kernel' | sed 's/^/   /'

# run NAME CMD...: one timed run; appends "wall cpu" to $OUT/NAME and keeps its stdout.
run() {
  local name=$1
  shift
  /usr/bin/time -f '%e %U %S' -o "$OUT/time" "$@" > "$OUT/$name.out" || true
  awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$OUT/time" >> "$OUT/$name"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
have_rg=0
command -v rg > /dev/null && have_rg=1

for r in $(seq "$ROUNDS"); do
  run scanner "$BIN" scan "$LOG" literal
  scan_line=$(cat "$OUT/scanner.out")
  echo "round $r scanner: $scan_line"
  # The scanner's own timing (file reads + scan, after the catalog is compiled) is the figure;
  # /usr/bin/time's includes compiling the catalog (~0.2 s of CPU), like grep's includes its own.
  sed -n 's/.*seconds=\([0-9.]*\) GBps.*cpu_seconds=\([0-9.]*\) .*/\1 \2/p' <<<"$scan_line" >> "$OUT/scan_self"
  sed -n 's/.*peak_rss_kb=\([0-9]*\).*/\1/p' <<<"$scan_line" >> "$OUT/rss"
  if [[ ${READ:-0} == 1 ]]; then
    run readpath "$BIN" scan "$LOG" literal read
    sed -n 's/.*seconds=\([0-9.]*\) GBps.*cpu_seconds=\([0-9.]*\) .*/\1 \2/p' "$OUT/readpath.out" >> "$OUT/read_self"
    echo "round $r scanner fed by fread: $(cat "$OUT/readpath.out")"
  fi
  if [[ ${MEMORY:-0} == 1 ]]; then
    run memory "$BIN" scan "$LOG" literal memory
    sed -n 's/.*seconds=\([0-9.]*\) GBps.*cpu_seconds=\([0-9.]*\) .*/\1 \2/p' "$OUT/memory.out" >> "$OUT/memory_self"
    echo "round $r scanner on the file in memory: $(cat "$OUT/memory.out")"
  fi
  if [[ ${STREAM:-0} == 1 ]]; then
    run stream "$BIN" scan "$LOG" stream
    sed -n 's/.*seconds=\([0-9.]*\) GBps.*cpu_seconds=\([0-9.]*\) .*/\1 \2/p' "$OUT/stream.out" >> "$OUT/stream_self"
    echo "round $r stream path: $(cat "$OUT/stream.out")"
  fi
  if [[ ${REFERENCE:-0} == 1 ]]; then
    run reference "$BIN" scan "$LOG" reference
    sed -n 's/.*seconds=\([0-9.]*\) GBps.*cpu_seconds=\([0-9.]*\) .*/\1 \2/p' "$OUT/reference.out" >> "$OUT/reference_self"
    echo "round $r reference path: $(cat "$OUT/reference.out")"
  fi
  LC_ALL=C run grep grep -E -c -f "$PAT" "$LOG"
  echo "round $r grep -E: $(tail -1 "$OUT/grep") (wall cpu) matching_lines=$(cat "$OUT/grep.out")"
  if [[ $have_rg == 1 ]]; then
    run rg rg -c -f "$PAT" "$LOG"
    echo "round $r ripgrep: $(tail -1 "$OUT/rg") (wall cpu) matching_lines=$(cat "$OUT/rg.out")"
  fi
done

col() { awk -v c="$2" '{ print $c }' "$OUT/$1" | median; }
gbps() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.3f", b / s / 1e9 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
sw=$(col scan_self 1); sc=$(col scan_self 2)
gw=$(col grep 1); gc=$(col grep 2)
echo "== medians of $ROUNDS rounds"
printf 'scanner   wall %.3f s = %s GB/s   cpu %.3f s = %s GB/s   peak RSS %s KB (max)\n' \
  "$sw" "$(gbps "$sw")" "$sc" "$(gbps "$sc")" "$(sort -n "$OUT/rss" | tail -1)"
printf '          (whole process, with compiling the catalog: wall %.3f s, cpu %.3f s)\n' \
  "$(col scanner 1)" "$(col scanner 2)"
if [[ -f $OUT/read_self ]]; then
  dw=$(col read_self 1); dc=$(col read_self 2)
  printf 'fread     wall %.3f s = %s GB/s   cpu %.3f s = %s GB/s   (64 KiB fread chunks)\n' \
    "$dw" "$(gbps "$dw")" "$dc" "$(gbps "$dc")"
fi
if [[ -f $OUT/memory_self ]]; then
  mw=$(col memory_self 1); mc=$(col memory_self 2)
  printf 'in memory wall %.3f s = %s GB/s   cpu %.3f s = %s GB/s   (no page-cache copies)\n' \
    "$mw" "$(gbps "$mw")" "$mc" "$(gbps "$mc")"
fi
if [[ -f $OUT/stream_self ]]; then
  tw=$(col stream_self 1); tc=$(col stream_self 2)
  printf 'stream    wall %.3f s = %s GB/s   cpu %.3f s = %s GB/s   (issue-3 path)\n' \
    "$tw" "$(gbps "$tw")" "$tc" "$(gbps "$tc")"
fi
if [[ -f $OUT/reference_self ]]; then
  fw=$(col reference_self 1); fc=$(col reference_self 2)
  printf 'reference wall %.3f s = %s GB/s   cpu %.3f s = %s GB/s   (per-line path)\n' \
    "$fw" "$(gbps "$fw")" "$fc" "$(gbps "$fc")"
fi
printf 'grep -E   wall %.3f s = %s GB/s   cpu %.3f s = %s GB/s\n' "$gw" "$(gbps "$gw")" "$gc" "$(gbps "$gc")"
printf 'ratio (grep time / scanner time): wall %sx, cpu %sx\n' "$(ratio "$gw" "$sw")" "$(ratio "$gc" "$sc")"
if [[ $have_rg == 1 ]]; then
  rw=$(col rg 1); rc=$(col rg 2)
  printf 'ripgrep   wall %.3f s = %s GB/s   cpu %.3f s = %s GB/s; ratio wall %sx, cpu %sx\n' \
    "$rw" "$(gbps "$rw")" "$rc" "$(gbps "$rc")" "$(ratio "$rw" "$sw")" "$(ratio "$rc" "$sc")"
else
  echo "ripgrep   not installed (not downloaded for this benchmark)"
fi
awk -v w="$(gbps "$sw")" -v c="$(gbps "$sc")" -v rw="$(ratio "$gw" "$sw")" -v rc="$(ratio "$gc" "$sc")" 'BEGIN {
  printf "targets: >= 3 GB/s on one core: wall %s, cpu %s; >= 5x grep -E: wall %s, cpu %s\n",
    (w >= 3 ? "met" : "NOT met"), (c >= 3 ? "met" : "NOT met"),
    (rw >= 5 ? "met" : "NOT met"), (rc >= 5 ? "met" : "NOT met") }'
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
