# syntax=docker/dockerfile:1
# The tug image: `tug` (server and client) and `tug-shim`, non-root, on Debian bookworm-slim with
# only the shared libraries tug links. Build from the repository root:
#   docker build -f deploy/docker/tug.Dockerfile -t registry.example.com/tugboat/tug:0.1.0 .
# --build-arg TUG_BUILD_UI=OFF builds without the web UI.

ARG NODE_IMAGE=node:20-bookworm-slim

# Node.js 20 for the web UI's Vite build: bookworm ships Node 18, which Vite 5 does not support.
FROM ${NODE_IMAGE} AS node

FROM debian:bookworm AS build
ARG TUG_BUILD_UI=ON
# The build packages of scripts/setup.sh; its test-only ones (GoogleTest, Google Benchmark,
# PostgreSQL server, etcd, Go, Chromium, Prometheus) are left out: the release preset builds no
# tests or benchmarks.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential g++ cmake ninja-build pkg-config git ca-certificates \
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
      libsqlite3-dev libpq-dev libssl-dev libyaml-cpp-dev libcli11-dev \
      libspdlog-dev libfmt-dev libvectorscan-dev \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s /usr/local/lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
WORKDIR /src
COPY . .
# Release preset (RelWithDebInfo, no tests); benchmarks off: they need Google Benchmark.
RUN cmake --preset release -DTUG_BUILD_UI="${TUG_BUILD_UI}" -DTUG_BUILD_BENCH=OFF \
 && cmake --build --preset release --target tug tug-shim \
 && strip --strip-debug build/release/tug build/release/tug-shim

FROM debian:bookworm-slim
# Exactly the shared libraries `ldd tug` lists from outside libc (tug-shim is static), and the
# CA bundle for the API server, PostgreSQL over TLS and S3.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libboost-json1.81.0 libboost-url1.81.0 libfmt9 libpq5 libspdlog1.10 \
      libsqlite3-0 libssl3 libvectorscan5 libyaml-cpp0.7 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tug \
 && useradd --system --uid 10001 --gid tug --home-dir /var/lib/tugboat --shell /usr/sbin/nologin tug \
 && install -d -o tug -g tug -m 0750 /var/lib/tugboat
# tug-shim sits beside tug: the local engine finds it there.
COPY --from=build /src/build/release/tug /src/build/release/tug-shim /usr/local/bin/
USER 10001:10001
# The data directory is the config's (the chart sets data_dir: /var/lib/tugboat); no TUG_DATA_DIR
# here, since the environment would override the config file. `tug server` listens on loopback
# until authentication exists, so a bare `docker run` is reachable only from inside.
WORKDIR /var/lib/tugboat
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tug"]
CMD ["server"]
