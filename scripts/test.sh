#!/usr/bin/env bash
# Sets up, builds with AddressSanitizer + UndefinedBehaviorSanitizer (preset dev) and runs every
# test: unit, integration and end-to-end. Pass ctest arguments to run a slice, e.g. -L unit.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# kube-apiserver for the Kubernetes integration tests: built once (~5 min on 2 cores), then
# cached in ~/.cache/tugboat. The tests fail rather than skip when it is missing.
./scripts/kube-testenv build >/dev/null
export TUG_REQUIRE_KUBE=1
cmake --preset dev >/dev/null
cmake --build --preset dev
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --preset dev "$@"
