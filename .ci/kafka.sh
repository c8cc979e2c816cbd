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
# SCIMWATCH_KAFKA_DIR (default: a directory under /tmp) holds config, data,
# logs and the test CA; SCIMWATCH_KAFKA_PORT the plaintext client port
# (19092). The same broker also listens with SASL_SSL on port + 2 (19094),
# as managed Kafka and Azure Event Hubs do: a certificate signed by a CA
# made here with openssl (tls/ca.crt), SCRAM-SHA-256 and SCRAM-SHA-512
# users created at format time, PLAIN users in the listener's JAAS config,
# among them Event Hubs' shape ($ConnectionString, the connection string as
# the password). On port + 3 it listens with SSL and requires a client
# certificate of the same CA (mTLS; tls/client.crt). ACLs are on (StandardAuthorizer): every user is a super
# user but scimwatch-acl, which has only the rights a test grants it. The
# passwords are test fixtures, printed by env.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$root/.ci/kafka/pom.xml")
libs=$root/.cache/kafka-$version/libs
dir=${SCIMWATCH_KAFKA_DIR:-/tmp/scimwatch-kafka}
port=${SCIMWATCH_KAFKA_PORT:-19092}
cport=$((port + 1))
sport=$((port + 2))
mport=$((port + 3))
pidfile=$dir/kafka.pid
# Test fixtures, not secrets: the users of the SASL_SSL listener.
scram_user=scimwatch-scram scram_password=scram-test-password
# The least-privilege user: the only one ACLs bind (the others are super
# users); the test grants it what README, "Least privilege", lists.
acl_user=scimwatch-acl acl_password=acl-test-password
plain_user=scimwatch-plain plain_password=plain-test-password
eventhubs_password='Endpoint=sb://scimwatch-test.servicebus.windows.net/;SharedAccessKeyName=scimwatch;SharedAccessKey=test-key='
storepass=scimwatch-test-store

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

listening() {
  local p
  for p in "$port" "$sport" "$mport"; do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || return 1; done
}

# certificates makes the test CA and the broker's certificate (for
# 127.0.0.1 and localhost), and the broker's PKCS#12 keystore.
certificates() {
  local t=$dir/tls
  tls_pair "$t" "scimwatch Kafka test CA"
  openssl pkcs12 -export -in "$t/server.crt" -inkey "$t/server.key" -certfile "$t/ca.crt" \
    -out "$t/server.p12" -passout "pass:$storepass"
  # A client certificate of the same CA, for the mTLS listener.
  openssl req -newkey rsa:2048 -nodes -subj "/CN=scimwatch-client" -keyout "$t/client.key" -out "$t/client.csr" 2>/dev/null
  openssl x509 -req -days 3650 -in "$t/client.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial -out "$t/client.crt" 2>/dev/null
}

start() {
  fetch
  if running && listening; then return; fi
  stop
  rm -rf "$dir"
  mkdir -p "$dir/data" "$dir/log"
  certificates
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,SASL_SSL://127.0.0.1:$sport,MTLS://127.0.0.1:$mport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_SSL://127.0.0.1:$sport,MTLS://127.0.0.1:$mport
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL
listener.name.mtls.ssl.keystore.location=$dir/tls/server.p12
listener.name.mtls.ssl.keystore.password=$storepass
listener.name.mtls.ssl.keystore.type=PKCS12
listener.name.mtls.ssl.truststore.location=$dir/tls/ca.crt
listener.name.mtls.ssl.truststore.type=PEM
listener.name.mtls.ssl.client.auth=required
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:$scram_user;User:$plain_user;User:\$ConnectionString;User:CN=scimwatch-client
listener.name.sasl_ssl.ssl.keystore.location=$dir/tls/server.p12
listener.name.sasl_ssl.ssl.keystore.password=$storepass
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$plain_user="$plain_password" user_\$ConnectionString="$eventhubs_password";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
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
    -c "$dir/server.properties" \
    --add-scram "SCRAM-SHA-256=[name=$scram_user,password=$scram_password]" \
    --add-scram "SCRAM-SHA-512=[name=$scram_user,password=$scram_password]" \
    --add-scram "SCRAM-SHA-512=[name=$acl_user,password=$acl_password]" \
    >"$dir/log/format.log" 2>&1 || { cat "$dir/log/format.log" >&2; exit 1; }
  log "starting on 127.0.0.1:$port, SASL_SSL on 127.0.0.1:$sport, mTLS on 127.0.0.1:$mport (data in $dir)"
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
  env)
    echo "SCIMWATCH_TEST_KAFKA=127.0.0.1:$port"
    echo "SCIMWATCH_TEST_KAFKA_SASL_SSL=127.0.0.1:$sport"
    echo "SCIMWATCH_TEST_KAFKA_CA=$dir/tls/ca.crt"
    echo "SCIMWATCH_TEST_KAFKA_MTLS=127.0.0.1:$mport"
    echo "SCIMWATCH_TEST_KAFKA_CLIENT_CERT=$dir/tls/client.crt"
    echo "SCIMWATCH_TEST_KAFKA_CLIENT_KEY=$dir/tls/client.key"
    echo "SCIMWATCH_TEST_KAFKA_SCRAM=$scram_user:$scram_password"
    echo "SCIMWATCH_TEST_KAFKA_ACL_USER=$acl_user:$acl_password"
    echo "SCIMWATCH_TEST_KAFKA_PLAIN=$plain_user:$plain_password"
    echo "SCIMWATCH_TEST_KAFKA_EVENTHUBS=$eventhubs_password"
    ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
