#!/usr/bin/env bash
# Sets up, builds (release) and runs `tug server` on the embedded default:
# SQLite + the local engine, listening on 127.0.0.1:8080, data in ./.tug.
# Extra arguments go to `tug server` (e.g. --listen 127.0.0.1:9090 --data-dir /tmp/tug).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target tug
exec ./build/release/tug server "$@"
