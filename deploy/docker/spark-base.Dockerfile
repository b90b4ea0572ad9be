# syntax=docker/dockerfile:1
# The common base of Tugboat's Spark images: Java 17, Python 3 for PySpark, tini (Spark's
# entrypoint runs the driver and executors under it), and Spark's user 185. Every Spark version
# builds on it (spark.Dockerfile), so nodes share these layers across versions.
#   docker build -f deploy/docker/spark-base.Dockerfile -t registry.example.com/tugboat/spark-base:bookworm deploy/docker
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      openjdk-17-jre-headless python3 python3-pip python3-venv procps tini bash \
      ca-certificates curl krb5-user libnss3 \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/bin/python3 /usr/local/bin/python \
 && groupadd --system --gid 185 spark \
 && useradd --system --uid 185 --gid spark --home-dir /opt/spark/work-dir --shell /bin/bash spark \
 && install -d -o spark -g spark /opt/spark /opt/spark/work-dir
# Spark finds java on the PATH (no JAVA_HOME: its path differs per architecture).
ENV PYSPARK_PYTHON=python3
USER 185
WORKDIR /opt/spark/work-dir
