#!/usr/bin/env bash
# A real Apache Cassandra for the L7 tests, from Maven Central (no Debian package exists): the
# cassandra-all jar and its runtime dependencies, fetched once per machine with mvn and run on
# Java 17 with a minimal single-node configuration on loopback.
#
#   scripts/cassandra.sh fetch                 # the jars, into $CACHE (idempotent)
#   scripts/cassandra.sh run DIR PORT          # a node in the foreground: config, data, log in DIR
#   scripts/cassandra.sh start [PORT]          # in the background under $D (default port 19042)
#   scripts/cassandra.sh stop
#
# Measured on the 2-core machine: CQL ready 25-50 s after start (more on a busy machine), 0.7 GB
# RSS with the 768 MiB heap set below.
set -euo pipefail

VERSION=5.0.6
CACHE=${FERROTEL_CACHE:-/var/cache/ferrotel}/cassandra/$VERSION
D=/tmp/ferrotel-cassandra

say() { echo "cassandra: $*"; }
die() { echo "cassandra: error: $*" >&2; exit 1; }

fetch() {
    [[ -f $CACHE/complete ]] && return 0
    if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
        apt-get update -q >/dev/null && apt-get install -y -q openjdk-17-jre-headless maven >/dev/null
    fi
    mkdir -p "$CACHE"
    cat >"$CACHE/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ferrotel</groupId><artifactId>cassandra-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId><artifactId>cassandra-all</artifactId>
      <version>$VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
    say "fetching cassandra-all $VERSION and its dependencies into $CACHE"
    rm -rf "${CACHE:?}/lib"
    mvn -q -B -f "$CACHE/pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$CACHE/lib" -DincludeScope=runtime || die "mvn failed"
    touch "$CACHE/complete"
}

# The JVM flags Cassandra's own jvm17 options file sets for the modules it reaches into.
jvm_flags() {
    local e o
    for e in java.base/jdk.internal.misc java.base/jdk.internal.ref java.base/sun.nio.ch \
        java.management.rmi/com.sun.jmx.remote.internal.rmi java.rmi/sun.rmi.registry \
        java.rmi/sun.rmi.server java.sql/java.sql; do
        echo "--add-exports=$e=ALL-UNNAMED"
    done
    for o in java.base/java.lang.module java.base/jdk.internal.loader java.base/jdk.internal.ref \
        java.base/jdk.internal.reflect java.base/jdk.internal.math java.base/jdk.internal.module \
        java.base/jdk.internal.util.jar jdk.management/com.sun.management.internal \
        java.base/sun.nio.ch java.base/java.io java.base/java.nio java.base/java.util.concurrent \
        java.base/java.util java.base/java.util.concurrent.atomic java.base/java.lang \
        java.base/java.math java.base/java.lang.reflect java.base/java.net; do
        echo "--add-opens=$o=ALL-UNNAMED"
    done
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() {
    local dir=$1 port=$2 storage
    [[ -n $dir && -n $port ]] || die "usage: run DIR PORT"
    fetch
    storage=$(free_port)
    mkdir -p "$dir"
    cat >"$dir/cassandra.yaml" <<EOF
cluster_name: ferrotel
num_tokens: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
data_file_directories: [$dir/data]
commitlog_directory: $dir/commitlog
saved_caches_directory: $dir/saved_caches
hints_directory: $dir/hints
cdc_raw_directory: $dir/cdc
commitlog_sync: periodic
commitlog_sync_period: 10000ms
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$storage"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: $storage
native_transport_port: $port
start_native_transport: true
endpoint_snitch: SimpleSnitch
EOF
    cat >"$dir/logback.xml" <<EOF
<configuration>
  <appender name="F" class="ch.qos.logback.core.FileAppender">
    <file>$dir/system.log</file>
    <encoder><pattern>%d %level [%thread] %logger{20} %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="F"/></root>
</configuration>
EOF
    # shellcheck disable=SC2046 # one flag per line
    exec java -Xms256m -Xmx768m -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError $(jvm_flags) \
        -javaagent:"$CACHE/lib/jamm-0.4.0.jar" \
        -Dcassandra-foreground=yes -Dcassandra.config="file://$dir/cassandra.yaml" \
        -Dlogback.configurationFile="$dir/logback.xml" -Dcassandra.storagedir="$dir" \
        -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=100 \
        -cp "$CACHE/lib/*" org.apache.cassandra.service.CassandraDaemon
}

start() {
    local port=${1:-19042} end
    fetch
    if [[ -f $D/pid ]] && kill -0 "$(cat "$D/pid")" 2>/dev/null; then
        say "already running (pid $(cat "$D/pid"))"
        return 0
    fi
    rm -rf "$D" && mkdir -p "$D"
    setsid "$0" run "$D" "$port" >"$D/out.log" 2>&1 &
    echo $! >"$D/pid"
    end=$((SECONDS + 120))
    until grep -q "Starting listening for CQL clients" "$D/system.log" 2>/dev/null; do
        kill -0 "$(cat "$D/pid")" 2>/dev/null || { tail -n 30 "$D/out.log" "$D/system.log" >&2 || true; die "exited"; }
        ((SECONDS < end)) || die "not ready after 120 s; see $D/system.log"
        sleep 0.5
    done
    say "ready on 127.0.0.1:$port (pid $(cat "$D/pid"))"
}

stop() {
    local pid
    pid=$(cat "$D/pid" 2>/dev/null) || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        say "stopped"
    fi
    rm -f "$D/pid"
}

case ${1:-} in
fetch) fetch ;;
run) shift; run "$@" ;;
start) shift; start "$@" ;;
stop) stop ;;
*) die "usage: $0 fetch | run DIR PORT | start [PORT] | stop" ;;
esac
