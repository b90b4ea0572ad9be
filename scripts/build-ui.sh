#!/usr/bin/env bash
# Builds the web UI (ui/) into OUTDIR with Vite; called by the CMake build (src/server).
# Installs the npm packages from package-lock.json first when node_modules is missing or older
# than the lock file, so a build after `git pull` picks up new packages.
set -euo pipefail
out="${1:?usage: build-ui.sh OUTDIR}"
cd "$(dirname "$0")/../ui"
if ! command -v npm >/dev/null; then
  echo "build-ui: npm is not installed; run scripts/setup.sh, or configure with -DTUG_BUILD_UI=OFF" >&2
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build -- --outDir "$out" --emptyOutDir --logLevel warn
