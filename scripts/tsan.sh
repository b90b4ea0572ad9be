#!/usr/bin/env bash
# Builds the `tsan` preset (Debug + ThreadSanitizer, build/tsan) and runs the unit and
# integration tests under it with the suppressions in tsan.supp (third-party false positives
# only; races in src/ are fixed, never suppressed). Not part of CI: see README.md (Developing).
#
#   scripts/tsan.sh                 unit + integration (C++ tests; the UI's Vitest suite is skipped)
#   scripts/tsan.sh -L e2e          any other ctest arguments instead, e.g. a label or -R NAME
#
# Every process a test starts (the test itself, `tug server`, `tug` commands) writes its reports
# to TUG_TSAN_DIR (default a new /tmp/tug-tsan.XXXXXX) as tsan.<pid>; `tug-shim` is a static,
# uninstrumented executable and writes none. Exits 1 when a test failed or any process reported
# a race, a lock-order inversion or a signal-unsafe call, after printing the reports.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

./scripts/setup.sh
# The Kubernetes integration tests need the cached kube-apiserver (built once, like test.sh).
./scripts/kube-testenv build >/dev/null
export TUG_REQUIRE_KUBE=1
cmake --preset tsan >/dev/null
nice cmake --build --preset tsan

reports="${TUG_TSAN_DIR:-$(mktemp -d /tmp/tug-tsan.XXXXXX)}"
mkdir -p "$reports"
rm -f "$reports"/tsan.*
# halt_on_error=0: collect every report of a run, not just the first; a process that reported
# exits 66 at its end, so its test fails too. history_size=4 keeps the other thread's stack in
# long tests (the default forgets it); second_deadlock_stack=1 shows both lock orders.
export TSAN_OPTIONS="suppressions=$root/tsan.supp:halt_on_error=0:second_deadlock_stack=1:history_size=4:log_path=$reports/tsan${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

args=("$@")
if [ ${#args[@]} -eq 0 ]; then args=(-L 'unit|integration' -LE ui); fi
status=0
ctest --test-dir build/tsan --output-on-failure -j2 "${args[@]}" || status=$?

found=$(grep -l 'WARNING: ThreadSanitizer' "$reports"/tsan.* 2>/dev/null || true)
if [ -n "$found" ]; then
  for f in $found; do
    echo "==== $f"
    cat "$f"
  done
  count=$(cat $found | grep -c 'WARNING: ThreadSanitizer')
  echo "tsan.sh: $count ThreadSanitizer report(s) in $(echo "$found" | wc -l) process(es); the" \
    "files are in $reports; fix the race in src/ (tsan.supp is for third-party false positives only)" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "tsan.sh: tests failed under ThreadSanitizer (ctest exit $status); reports dir $reports" >&2
  exit 1
fi
echo "tsan.sh: no ThreadSanitizer reports, all tests passed (reports dir $reports)"
