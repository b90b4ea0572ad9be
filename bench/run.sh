#!/usr/bin/env bash
# Benchmarks for the walking skeleton (run by hand; they never gate CI). Prints the figures that
# go into docs/benchmarks.md. Everything runs on loopback; every process started here is stopped.
#   bench/run.sh            # all
#   DURATION=5 bench/run.sh # shorter wrk runs
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
cmake --preset release >/dev/null
cmake --build --preset release --target tug hello_beast hello_tug_net >/dev/null
BIN=build/release
WORK=$(mktemp -d /tmp/tug-bench-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wrk_summary() { # label, wrk args...
  local label=$1; shift
  local out; out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@")
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  local errs; errs=$(echo "$out" | grep -E "Non-2xx|Socket errors" || true)
  printf '%-34s %10s req/s   p50 %-8s p99 %-8s %s\n' "$label" "$rps" "$p50" "$p99" "$errs"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); $(date -u +%F)"
echo "wrk -t2 -c$CONNS -d${DURATION}s on loopback (wrk shares the 2 cores with the server)"

# 1. Baselines: a hello-world Beast server, and the same hello route through our net layer.
P=$(free_port); $BIN/bench/hello_beast --port "$P" --threads 2 >/dev/null & PIDS+=($!)
Q=$(free_port); $BIN/bench/hello_tug_net --port "$Q" --threads 2 >/dev/null & PIDS+=($!)
sleep 0.5
for round in $(seq "${ROUNDS:-1}"); do
  wrk_summary "[$round] baseline hello_beast GET /" "http://127.0.0.1:$P/"
  wrk_summary "[$round] hello via tug net layer" "http://127.0.0.1:$Q/"
done

# 2. tug server with dispatch off (API only), SQLite in a temp dir.
P=$(free_port)
TUG_DISPATCH=false $BIN/tug server --listen 127.0.0.1:$P --data-dir "$WORK/api" >"$WORK/api.out" 2>"$WORK/api.err" & TUG_PID=$!; PIDS+=($TUG_PID)
for _ in $(seq 100); do grep -q listening "$WORK/api.out" 2>/dev/null && break; sleep 0.1; done
sleep 1
echo "tug server idle RSS: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$TUG_PID/status)"
S="--server http://127.0.0.1:$P"
printf 'name: noop\ncommand: "true"\nresources: {memory: 32Mi}\n' >"$WORK/noop.yaml"
$BIN/tug $S apply -f "$WORK/noop.yaml" >/dev/null
ID=$($BIN/tug $S run noop)
for round in $(seq "${ROUNDS:-1}"); do
  wrk_summary "[$round] GET /api/v1/runs/{id}" "http://127.0.0.1:$P/api/v1/runs/$ID"
  wrk_summary "[$round] POST /api/v1/runs (durable)" -s bench/post_run.lua "http://127.0.0.1:$P/api/v1/runs"
done
echo "tug server RSS after load: $(awk '/VmRSS/ {printf "%.1f MB", $2/1024}' /proc/$TUG_PID/status)"
kill $TUG_PID; wait $TUG_PID 2>/dev/null || true

# 3. Submit -> process started on the local engine.
P=$(free_port)
$BIN/tug server --listen 127.0.0.1:$P --data-dir "$WORK/lat" >"$WORK/lat.out" 2>"$WORK/lat.err" & TUG_PID=$!; PIDS+=($TUG_PID)
for _ in $(seq 100); do grep -q listening "$WORK/lat.out" 2>/dev/null && break; sleep 0.1; done
python3 bench/submit_latency.py "http://127.0.0.1:$P" "${RUNS:-200}"
kill $TUG_PID; wait $TUG_PID 2>/dev/null || true
