#!/usr/bin/env bash
# A real Apache Kafka broker for the tests, from Maven Central's jars (no tarball download is
# possible here): a single KRaft node that is broker and controller at once, on 127.0.0.1.
#
#   scripts/kafka.sh fetch                 # the jars, once per machine, into $KAFKA_CACHE
#   scripts/kafka.sh classpath             # prints the classpath (fetching first if needed)
#   scripts/kafka.sh run PORT DIR          # formats DIR and runs the broker in the foreground
#   scripts/kafka.sh produce PORT TOPIC    # the console producer: one record per stdin line
#   scripts/kafka.sh consume PORT TOPIC N  # the console consumer: prints N records, then exits
#
# `run` replaces itself with the JVM (exec), so whoever started it owns the broker's pid and a
# SIGTERM/SIGKILL to it stops the broker. KAFKA_ADVERTISED_PORT: the port the broker tells clients
# to use (a recording proxy's); KAFKA_CONTROLLER_PORT: the controller's (default PORT + 1).
#
# Needs Java 17+ (Kafka 4's broker refuses older) and Maven; Debian: openjdk-17-jre-headless and
# maven. The cache is versioned: a new KAFKA_VERSION fetches afresh, an old one stays usable.
set -euo pipefail

KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
KAFKA_CACHE=${KAFKA_CACHE:-/var/cache/ferrotel/kafka}
LIB=$KAFKA_CACHE/$KAFKA_VERSION/lib

say() { echo "kafka: $*" >&2; }
die() { echo "kafka: error: $*" >&2; exit 1; }

fetch() {
    [[ -f $LIB/.complete ]] && return 0
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    mkdir -p "$KAFKA_CACHE"
    # tests running at once must not fill the same directory twice
    exec 9>"$KAFKA_CACHE/.lock"
    flock 9
    [[ -f $LIB/.complete ]] && return 0
    local work
    work=$(mktemp -d)
    # A throwaway project whose runtime dependencies are the broker and the command-line tools;
    # copy-dependencies resolves the whole transitive set the way Kafka's own build declares it.
    cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ferrotel</groupId><artifactId>kafka-jars</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version>
      <!-- Connect (and its Jetty/Jersey) is half the download; the console clients never load it -->
      <exclusions><exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion></exclusions>
    </dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
EOF
    say "fetching Kafka $KAFKA_VERSION jars into $LIB"
    mkdir -p "$LIB.tmp"
    if ! mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" >"$work/mvn.log" 2>&1; then
        tail -n 40 "$work/mvn.log" >&2
        rm -rf "$work" "$LIB.tmp"
        die "maven could not resolve Kafka $KAFKA_VERSION"
    fi
    # a second slf4j binding or log4j 1 bridge would make the JVM's logging pick one at random
    rm -f "$LIB.tmp"/slf4j-reload4j-*.jar "$LIB.tmp"/slf4j-log4j12-*.jar
    touch "$LIB.tmp/.complete"
    rm -rf "$LIB" && mv "$LIB.tmp" "$LIB"
    rm -rf "$work"
}

classpath() {
    fetch
    local cp="" jar
    for jar in "$LIB"/*.jar; do cp+="${cp:+:}$jar"; done
    echo "$cp"
}

# Quiet logging to stderr: the broker's INFO chatter is megabytes in a test run.
log4j() {
    cat >"$1" <<'EOF'
<Configuration status="warn">
  <Appenders><Console name="err" target="SYSTEM_ERR"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console></Appenders>
  <Loggers>
    <Logger name="kafka.server.KafkaServer" level="info"/>
    <Logger name="kafka.server.BrokerServer" level="info"/>
    <Root level="warn"><AppenderRef ref="err"/></Root>
  </Loggers>
</Configuration>
EOF
}

java_opts() {
    # small heap and fast start: one partition, a few records
    echo "-Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true"
}

run() {
    local port=${1:?port} dir=${2:?dir} cp controller
    command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
    cp=$(classpath)
    controller=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
    mkdir -p "$dir/logs"
    log4j "$dir/log4j2.xml"
    cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_ADVERTISED_PORT:-$port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/logs
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
EOF
    # shellcheck disable=SC2046
    java $(java_opts) -Dlog4j2.configurationFile="$dir/log4j2.xml" -cp "$cp" \
        kafka.tools.StorageTool format -t "$(uuid)" -c "$dir/server.properties" >&2
    # shellcheck disable=SC2046
    exec java $(java_opts) -Dlog4j2.configurationFile="$dir/log4j2.xml" -cp "$cp" \
        kafka.Kafka "$dir/server.properties"
}

# A cluster id: 16 random bytes, base64url without padding, as `kafka-storage random-uuid` makes.
uuid() { head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

client() {
    local main=$1 tmp cp
    shift
    cp=$(classpath)
    tmp=$(mktemp -d)
    log4j "$tmp/log4j2.xml"
    local rc=0
    # shellcheck disable=SC2046
    java $(java_opts) -Dlog4j2.configurationFile="$tmp/log4j2.xml" -cp "$cp" "$main" "$@" || rc=$?
    rm -rf "$tmp"
    return $rc
}

case ${1:-} in
fetch) fetch ;;
classpath) classpath ;;
run) run "${2:-}" "${3:-}" ;;
produce)
    client org.apache.kafka.tools.ConsoleProducer --bootstrap-server "127.0.0.1:${2:?port}" \
        --topic "${3:?topic}"
    ;;
consume)
    client org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "127.0.0.1:${2:?port}" \
        --topic "${3:?topic}" --from-beginning --max-messages "${4:?count}" --timeout-ms 30000
    ;;
*) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
