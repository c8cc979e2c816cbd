#!/usr/bin/env bash
# Starts or stops a single-node Apache Kafka 4.x broker in KRaft mode for
# scimwatch's tests, as a plain Java process on 127.0.0.1. The jars come
# from Maven Central (`mvn dependency:copy-dependencies` on .ci/kafka/pom.xml)
# into the ignored .cache/ directory. Idempotent.
#
#   .ci/kafka.sh start     fetch jars if needed, format a fresh store, start, wait until it answers
#   .ci/kafka.sh stop      stop it
#   .ci/kafka.sh status    exit 0 when it runs and listens
#   .ci/kafka.sh env       print the variables the tests read
#
# SCIMWATCH_KAFKA_DIR (default: a directory under /tmp) holds config, data
# and logs; SCIMWATCH_KAFKA_PORT the client port (19092).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/.ci/kafka/pom.xml")
libs=$root/.cache/kafka-$version/libs
dir=${SCIMWATCH_KAFKA_DIR:-/tmp/scimwatch-kafka}
port=${SCIMWATCH_KAFKA_PORT:-19092}
cport=$((port + 1))
pidfile=$dir/kafka.pid

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }

fetch() {
  [ -f "$libs/kafka_2.13-$version.jar" ] && return
  log "fetching Apache Kafka $version jars (about 45 MB) from Maven Central into $libs"
  mkdir -p "$libs"
  # Maven's output (which keeps terminal escape codes even in batch mode)
  # is shown only if it fails, without them.
  local out=$root/.cache/mvn-kafka.log
  if ! mvn -q -B -f "$root/.ci/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime >"$out" 2>&1; then
    sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' "$out" >&2
    rm -rf "$libs"
    exit 1
  fi
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

start() {
  fetch
  if running && listening; then return; fi
  stop
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/log"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
  local java_opts=(-Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true -Dorg.slf4j.simpleLogger.defaultLogLevel=warn)
  java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format -t "$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)" \
    -c "$dir/server.properties" >"$dir/log/format.log" 2>&1 || { cat "$dir/log/format.log" >&2; exit 1; }
  log "starting on 127.0.0.1:$port (data in $dir)"
  nohup java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$dir/server.properties" </dev/null >"$dir/log/server.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if listening; then return; fi
    if ! running; then log "broker exited:"; tail -n 30 "$dir/log/server.log" >&2; exit 1; fi
    sleep 0.5
  done
  log "broker did not listen in 60 s"; tail -n 30 "$dir/log/server.log" >&2; exit 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running && listening; then echo "kafka: running on 127.0.0.1:$port"; else echo "kafka: not running"; exit 1; fi ;;
  env) echo "SCIMWATCH_TEST_KAFKA=127.0.0.1:$port" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
