# syntax=docker/dockerfile:1
# One Spark version on the common base: Apache's binary distribution (checked against its
# published SHA-512), Spark's own Kubernetes entrypoint and decommission script, and the usual
# connectors: hadoop-aws with the AWS SDK bundle of the same Hadoop release (s3a://), and the
# PostgreSQL JDBC driver. deploy/docker/build-spark-images.sh builds every supported version with
# the right connector versions; by hand:
#   docker build -f deploy/docker/spark.Dockerfile --build-arg SPARK_VERSION=3.5.1 \
#     --build-arg HADOOP_AWS_VERSION=3.3.4 --build-arg AWS_SDK_BUNDLE_VERSION=1.12.262 \
#     -t registry.example.com/tugboat/spark:3.5.1 deploy/docker
ARG BASE_IMAGE=registry.example.com/tugboat/spark-base:bookworm

FROM ${BASE_IMAGE} AS fetch
ARG SPARK_VERSION=3.5.1
ARG HADOOP_AWS_VERSION=3.3.4
ARG AWS_SDK_BUNDLE_VERSION=1.12.262
ARG POSTGRES_JDBC_VERSION=42.7.3
ARG APACHE_ARCHIVE=https://archive.apache.org/dist
ARG MAVEN_CENTRAL=https://repo1.maven.org/maven2
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Downloads as root in this throwaway stage; the image itself runs as 185.
USER root
WORKDIR /tmp/fetch
# The .sha512 files come in two layouts (gpg --print-md for 3.3, sha512sum from 3.4): take the
# hex digits after the name either way.
RUN curl -fsSLO "${APACHE_ARCHIVE}/spark/spark-${SPARK_VERSION}/spark-${SPARK_VERSION}-bin-hadoop3.tgz" \
 && curl -fsSLo spark.sha512 "${APACHE_ARCHIVE}/spark/spark-${SPARK_VERSION}/spark-${SPARK_VERSION}-bin-hadoop3.tgz.sha512" \
 && want="$(sed -e 's/spark-[^ :]*\.tgz//' spark.sha512 | tr -d ' :\n\r' | tr 'A-F' 'a-f')" \
 && echo "${want}  spark-${SPARK_VERSION}-bin-hadoop3.tgz" | sha512sum -c - \
 && tar xzf "spark-${SPARK_VERSION}-bin-hadoop3.tgz" \
 && mv "spark-${SPARK_VERSION}-bin-hadoop3" spark \
 && rm "spark-${SPARK_VERSION}-bin-hadoop3.tgz"
# Connectors, each checked against Maven Central's SHA-1.
RUN for jar in \
      "org/apache/hadoop/hadoop-aws/${HADOOP_AWS_VERSION}/hadoop-aws-${HADOOP_AWS_VERSION}.jar" \
      "com/amazonaws/aws-java-sdk-bundle/${AWS_SDK_BUNDLE_VERSION}/aws-java-sdk-bundle-${AWS_SDK_BUNDLE_VERSION}.jar" \
      "org/postgresql/postgresql/${POSTGRES_JDBC_VERSION}/postgresql-${POSTGRES_JDBC_VERSION}.jar"; do \
      name="$(basename "${jar}")"; \
      curl -fsSLo "spark/jars/${name}" "${MAVEN_CENTRAL}/${jar}" || exit 1; \
      sum="$(curl -fsSL "${MAVEN_CENTRAL}/${jar}.sha1")" || exit 1; \
      echo "${sum%% *}  spark/jars/${name}" | sha1sum -c - || exit 1; \
    done

FROM ${BASE_IMAGE}
ARG SPARK_VERSION=3.5.1
LABEL org.opencontainers.image.title="tugboat-spark" \
      org.opencontainers.image.version="${SPARK_VERSION}" \
      org.opencontainers.image.description="Apache Spark ${SPARK_VERSION} with hadoop-aws and PostgreSQL JDBC for Tugboat"
COPY --from=fetch --chown=185:185 /tmp/fetch/spark/ /opt/spark/
# Spark's own Kubernetes entrypoint (driver/executor argument handling, tini) and the
# decommission hook that graceful decommissioning on spot calls.
COPY --from=fetch --chown=185:185 /tmp/fetch/spark/kubernetes/dockerfiles/spark/entrypoint.sh /opt/entrypoint.sh
COPY --from=fetch --chown=185:185 /tmp/fetch/spark/kubernetes/dockerfiles/spark/decom.sh /opt/decom.sh
ENV SPARK_HOME=/opt/spark \
    PATH=/opt/spark/bin:/opt/spark/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER 185
WORKDIR /opt/spark/work-dir
ENTRYPOINT ["/opt/entrypoint.sh"]
