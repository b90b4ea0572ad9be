#!/usr/bin/env bash
# Pod launch throughput against a real kube-apiserver (scripts/kube-testenv), by hand, never in CI.
# Env: PODS (default 1000), THREADS (8). Prints one line per configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release --target kube_launch >/dev/null
dir="$(mktemp -d)"
trap 'scripts/kube-testenv down "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT
scripts/kube-testenv up "$dir" >/dev/null
bin=build/release/bench/kube_launch
PODS="${PODS:-1000}"
THREADS="${THREADS:-8}"
echo "machine: $(nproc) cores, $(uname -r); $(date -u +%F)"
# Limiter raised far above what the server takes: the server's own rate.
"$bin" "$dir/kubeconfig" default "$PODS" "$THREADS" 100000 100000
# Limiter binding: the rate should be ~the configured QPS.
"$bin" "$dir/kubeconfig" default 300 "$THREADS" 20 1
"$bin" "$dir/kubeconfig" default 600 "$THREADS" 50 1
