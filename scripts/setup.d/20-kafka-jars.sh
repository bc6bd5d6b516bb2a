#!/usr/bin/env bash
# Apache Kafka 4.3.1 jars (broker, Java client, kafka-tools) from Maven Central.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
libs="$ODRADEK_CACHE/kafka-4.3.1/libs"
stamp="$libs/.complete-$(sha256sum "$root/tools/kafka/pom.xml" | cut -c1-16)"
[ -e "$stamp" ] && exit 0
mkdir -p "$libs"
mvn -q -B -f "$root/tools/kafka/pom.xml" -Dmaven.repo.local="$ODRADEK_CACHE/m2" \
    dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime
touch "$stamp"
