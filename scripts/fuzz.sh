#!/usr/bin/env bash
# Builds the `fuzz` preset (clang, libFuzzer, ASan/UBSan) and runs libFuzzer targets, one at a
# time, each in one process at nice 10, starting from a scratch copy of its seed corpus (the
# repository's fuzz/corpus/<target> never grows by itself; copy reproducers there by hand).
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]      default: all, 60 seconds each
#
# TARGET: api, yaml_definition, watch_decoder, scanner (or fuzz_<name>). Prints execs/s, coverage,
# corpus size and findings per target; exits 1 when a target found something. The scratch dir
# (TUG_FUZZ_DIR, default a new /tmp/tug-fuzz.XXXXXX) keeps the grown corpora, logs and the
# crash-/leak-/timeout-/oom- reproducers; rerun one with `build/fuzz/.../fuzz_<name> FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:-all}"
seconds="${2:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2; }

declare -A binaries=(
  [fuzz_api]=src/server/fuzz_api
  [fuzz_yaml_definition]=src/core/fuzz_yaml_definition
  [fuzz_watch_decoder]=src/engine/kubernetes/fuzz_watch_decoder
  [fuzz_scanner]=src/diagnose/fuzz_scanner
)
declare -A max_len=(
  [fuzz_api]=65536
  [fuzz_yaml_definition]=16384
  [fuzz_watch_decoder]=65536
  [fuzz_scanner]=1048576
)
order=(fuzz_api fuzz_yaml_definition fuzz_watch_decoder fuzz_scanner)

if [[ "$target" == all ]]; then
  targets=("${order[@]}")
else
  t="fuzz_${target#fuzz_}"
  [[ -n "${binaries[$t]:-}" ]] || {
    echo "fuzz.sh: unknown target '$target'; use one of: all ${order[*]#fuzz_}" >&2
    exit 2
  }
  targets=("$t")
fi

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is missing; run scripts/setup.sh" >&2; exit 2; }
[[ -f build/fuzz/CMakeCache.txt ]] || cmake --preset fuzz >/dev/null
# Only the targets: the preset's other targets (the web UI, the tug binary) are not needed here.
nice -n 10 cmake --build --preset fuzz --target "${targets[@]}" -j "${TUG_FUZZ_BUILD_JOBS:-1}"

scratch="${TUG_FUZZ_DIR:-$(mktemp -d /tmp/tug-fuzz.XXXXXX)}"
echo "fuzz.sh: scratch dir $scratch (${seconds}s per target)"
found=0
for t in "${targets[@]}"; do
  dir="$scratch/$t"
  mkdir -p "$dir/corpus"
  if [[ -d "fuzz/corpus/$t" ]]; then cp -n "fuzz/corpus/$t"/* "$dir/corpus/" 2>/dev/null || true; fi
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$t]}"
        -print_final_stats=1 -artifact_prefix="$dir/")
  [[ -f "fuzz/$t.dict" ]] && args+=(-dict="fuzz/$t.dict")
  echo "== $t: nice -n 10 build/fuzz/${binaries[$t]} ${args[*]} $dir/corpus"
  start=$(date +%s)
  set +e
  UBSAN_OPTIONS=print_stacktrace=1 nice -n 10 "build/fuzz/${binaries[$t]}" "${args[@]}" \
    "$dir/corpus" >"$dir/fuzz.log" 2>&1
  rc=$?
  set -e
  elapsed=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$dir/fuzz.log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1, ft \2/p' <<<"$last")
  corpus=$(find "$dir/corpus" -type f | wc -l)
  corpus_kb=$(du -sk "$dir/corpus" | cut -f1)
  findings=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o \
    -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) | sort)
  echo "   ran ${elapsed}s, exit $rc: ${execs:-?} execs, ${rate:-?} execs/s, ${cov:-cov ?}," \
    "corpus $corpus files (${corpus_kb} KiB)"
  if [[ -n "$findings" || $rc -ne 0 ]]; then
    found=1
    echo "   FINDINGS (log: $dir/fuzz.log):"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_[a-z_]+:)' "$dir/fuzz.log" | head -5 | sed 's/^/     /'
    for f in $findings; do echo "     $f"; done
  else
    echo "   no findings"
  fi
done
exit $found
