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
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  perl python3 procps wrk bc
  # The Kubernetes test environment (scripts/kube-testenv): etcd, and what building
  # kube-apiserver from Debian's source package needs.
  etcd-server openssl curl golang-1.19-go rsync dpkg-dev make golang-github-modern-go-reflect2-dev
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
