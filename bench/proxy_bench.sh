#!/usr/bin/env bash
# GET through `tug server`'s Spark UI proxy vs. straight to the driver, with wrk (run by hand;
# never in CI). Prints the lines that go into docs/benchmarks.md.
#
# The driver is a stand-in: bench/hello_beast --body-bytes (one io thread, a fixed HTML page of
# BODY bytes for every GET). The run is real: a Spark run submitted to a `tug server` (release
# build, authentication on, a bearer token on every request) whose spark engine works against
# scripts/kube-testenv's kube-apiserver with the node simulator (tests/kube_sim_cluster, a test
# helper from the dev build) playing spark-submit and the kubelets; the simulated driver pod's IP
# is 127.0.0.1 and spark.ui_port is the stand-in's port, so the proxy resolves the run to it
# exactly as in a cluster (spark.ui_access: direct).
#
# Per round: wrk against the stand-in directly, then through the proxy
# (/runs/<id>/spark-ui/jobs/), then GET /api/v1/runs/<id> of the same server for reference (the
# proxy's access check and resolver each read the run from the store), -t2 -c$CONNS
# -d${DURATION}s; medians of $ROUNDS rounds.
#   bench/proxy_bench.sh
#   TUG_BEFORE=/tmp/tug-before bench/proxy_bench.sh   # also an earlier tug binary, same session
# Env: DURATION (10), CONNS (64), ROUNDS (3), BODY (16384), HTTP_THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}
BODY=${BODY:-16384}
HTTP_THREADS=${HTTP_THREADS:-2}
BEFORE=${TUG_BEFORE:-}

cmake --preset release >/dev/null
cmake --build --preset release --target tug hello_beast >/dev/null
cmake --preset dev >/dev/null
cmake --build --preset dev --target kube_sim_cluster >/dev/null
BIN=build/release
WORK=$(mktemp -d /tmp/tug-proxy-bench-XXXXXX)
PIDS=()
CLUSTER_PID=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # The cluster last: its API server must outlive the tug servers' informers.
  if [ -n "$CLUSTER_PID" ]; then kill "$CLUSTER_PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# "<req/s> <p99 ms> <non-2xx+socket errors>" of one wrk run.
wrk_once() {
  local out
  out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@")
  echo "$out" | python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", t, re.M)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
errs = 0
for pat in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"):
    for g in re.findall(pat, t):
        errs += sum(int(x) for x in (g if isinstance(g, tuple) else (g,)))
print(f"{rps:.0f} {p99:.2f} {errs}")'
}

median() { python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# The stand-in driver.
UP=$(free_port)
$BIN/bench/hello_beast --port "$UP" --threads 1 --body-bytes "$BODY" >"$WORK/upstream.out" & PIDS+=($!)

# The simulated cluster.
build/dev/tests/kube_sim_cluster >"$WORK/cluster.out" 2>"$WORK/cluster.err" & CLUSTER_PID=$!
for _ in $(seq 600); do grep -q '^ready ' "$WORK/cluster.out" 2>/dev/null && break; sleep 0.1; done
if ! grep -q '^ready ' "$WORK/cluster.out"; then
  echo "the simulated cluster did not start:" >&2; cat "$WORK/cluster.err" >&2; exit 1
fi
KUBECONFIG_FILE=$(awk '/^ready / {print $2}' "$WORK/cluster.out")

# Starts a tug server (binary $1, name $2) with a Spark run whose driver is the stand-in;
# sets TUG_PORT, TUG_PID, TOKEN, RUN.
start_tug() {
  local tug=$1 name=$2 dir="$WORK/$2"
  mkdir -p "$dir"
  cat >"$dir/tug.yaml" <<EOF
engine: {driver: kubernetes}
clusters:
  - name: sim
    kubeconfig: $KUBECONFIG_FILE
    namespace: default
spark:
  versions: {"3.5": "apache/spark:3.5.1"}
  ui_access: direct
  ui_port: $UP
http:
  threads: $HTTP_THREADS
auth:
  enabled: true
  bootstrap_token_file: $dir/admin-token
EOF
  TUG_PORT=$(free_port)
  "$tug" server --listen "127.0.0.1:$TUG_PORT" --data-dir "$dir/data" --config "$dir/tug.yaml" \
    >"$dir/out" 2>"$dir/err" & TUG_PID=$!; PIDS+=($TUG_PID)
  for _ in $(seq 300); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
  TOKEN=$(cat "$dir/admin-token")
  local S=(--server "http://127.0.0.1:$TUG_PORT" --token "$TOKEN")
  cat >"$dir/def.yaml" <<'EOF'
name: ui-bench
kind: spark
spark:
  version: "3.5"
  main: local:///opt/spark/examples/src/main/python/pi.py
  driver: {cores: 1, memory: 1Gi}
  executor: {cores: 1, memory: 1Gi, instances: 1}
  # The simulated driver runs until deleted (env would also reach spark-submit, which would then
  # never submit).
  conf: {spark.kubernetes.driverEnv.TUG_SIM: hang}
EOF
  "$tug" "${S[@]}" apply -f "$dir/def.yaml" >/dev/null
  RUN=$("$tug" "${S[@]}" run ui-bench | tr -d ' \n')
  local code=""
  for _ in $(seq 1200); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
      "http://127.0.0.1:$TUG_PORT/runs/$RUN/spark-ui/jobs/" || true)
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  if [ "$code" != 200 ]; then
    echo "$name: the run's Spark UI did not come up (last status $code)" >&2; tail -20 "$dir/err" >&2; exit 1
  fi
}

stop_tug() { kill "$TUG_PID"; wait "$TUG_PID" 2>/dev/null || true; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%F)"
echo "wrk -t2 -c$CONNS -d${DURATION}s --latency, $ROUNDS rounds, page $BODY bytes; tug http.threads $HTTP_THREADS, everything on loopback sharing the cores"

# One block per binary: rounds of (direct, proxy), medians, ratio to the block's direct.
measure() {
  local label=$1
  local d_rps=() d_p99=() p_rps=() p_p99=() a_rps=() a_p99=() errs=0
  for round in $(seq "$ROUNDS"); do
    read -r r p e < <(wrk_once "http://127.0.0.1:$UP/jobs/")
    d_rps+=("$r"); d_p99+=("$p"); errs=$((errs + e))
    echo "  [$round] direct  $r req/s  p99 ${p} ms"
    read -r r p e < <(wrk_once -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$TUG_PORT/runs/$RUN/spark-ui/jobs/")
    p_rps+=("$r"); p_p99+=("$p"); errs=$((errs + e))
    echo "  [$round] $label  $r req/s  p99 ${p} ms"
    # Reference: the API's own read of the same run (auth + one store read, no upstream).
    read -r r p e < <(wrk_once -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$TUG_PORT/api/v1/runs/$RUN")
    a_rps+=("$r"); a_p99+=("$p"); errs=$((errs + e))
    echo "  [$round] GET /api/v1/runs/{id}  $r req/s  p99 ${p} ms"
  done
  local dr dp pr pp ar ap
  dr=$(median "${d_rps[@]}"); dp=$(median "${d_p99[@]}")
  pr=$(median "${p_rps[@]}"); pp=$(median "${p_p99[@]}")
  ar=$(median "${a_rps[@]}"); ap=$(median "${a_p99[@]}")
  python3 -c "
dr, dp, pr, pp, ar, ap = $dr, $dp, $pr, $pp, $ar, $ap
print(f'median direct                {dr:9.0f} req/s  p99 {dp:8.2f} ms')
print(f'median $label {pr:9.0f} req/s  p99 {pp:8.2f} ms   ratio {pr/dr:.2f}x req/s, {pp/dp:.1f}x p99 of direct')
print(f'median GET /api/v1/runs/{{id}} {ar:9.0f} req/s  p99 {ap:8.2f} ms   (the proxy is {pr/ar:.2f}x its req/s)')"
  echo "  errors (non-2xx + socket): $errs"
}

start_tug "$BIN/tug" after
echo "proxy: $BIN/tug ($(git rev-parse --short HEAD)), run $RUN"
measure "via proxy (this)"
stop_tug

if [ -n "$BEFORE" ]; then
  start_tug "$BEFORE" before
  echo "proxy: $BEFORE (TUG_BEFORE), run $RUN"
  measure "via proxy (before)"
  stop_tug
fi
