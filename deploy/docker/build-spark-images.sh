#!/usr/bin/env bash
# Builds the Spark images Tugboat supports, on one common base, tagged by Spark version:
#   REGISTRY=registry.example.com/tugboat deploy/docker/build-spark-images.sh [--push]
# The versions are the server's default spark.versions (src/server/config.h: 3.3, 3.4, 3.5);
# each row pins the hadoop-aws of the Hadoop release that Spark's -hadoop3 build ships and the AWS
# SDK bundle that hadoop-aws release was built against.
set -euo pipefail
cd "$(dirname "$0")"
REGISTRY="${REGISTRY:-registry.example.com/tugboat}"
BASE="$REGISTRY/spark-base:bookworm"
PUSH="${1:-}"

#        spark  hadoop-aws  aws-java-sdk-bundle
VERSIONS="3.3.3  3.3.2       1.11.1026
3.4.3  3.3.4       1.12.262
3.5.1  3.3.4       1.12.262"

docker build -f spark-base.Dockerfile -t "$BASE" .
[ "$PUSH" = "--push" ] && docker push "$BASE"
while read -r spark hadoop_aws sdk; do
  [ -n "$spark" ] || continue
  docker build -f spark.Dockerfile \
    --build-arg BASE_IMAGE="$BASE" \
    --build-arg SPARK_VERSION="$spark" \
    --build-arg HADOOP_AWS_VERSION="$hadoop_aws" \
    --build-arg AWS_SDK_BUNDLE_VERSION="$sdk" \
    -t "$REGISTRY/spark:$spark" -t "$REGISTRY/spark:${spark%.*}" .
  if [ "$PUSH" = "--push" ]; then
    docker push "$REGISTRY/spark:$spark"
    docker push "$REGISTRY/spark:${spark%.*}"
  fi
done <<<"$VERSIONS"
