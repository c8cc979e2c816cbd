#!/usr/bin/env bash
# Starts or stops a ClickHouse server for scimwatch's tests: Debian's
# clickhouse-server package (installed when absent), listening on 127.0.0.1
# only, with its data in a directory of its own. Idempotent.
#
#   .ci/clickhouse.sh start     install if needed, start, wait until it answers
#   .ci/clickhouse.sh stop      stop it (data kept until the next start)
#   .ci/clickhouse.sh restart   stop then start, keeping the data
#   .ci/clickhouse.sh status    exit 0 when it runs and answers
#   .ci/clickhouse.sh env       print the variables the tests read
#
# SCIMWATCH_CH_DIR (default: a directory under /tmp) holds config, data,
# logs and the pid file; SCIMWATCH_CH_PORT the native port (19000), and
# SCIMWATCH_CH_HTTP_PORT the HTTP port (the native port + 1). The native
# protocol is also served over TLS on the native port + 2 (tcp_port_secure),
# with a certificate of a CA made here with openssl (tls/ca.crt).
set -euo pipefail

dir=${SCIMWATCH_CH_DIR:-/tmp/scimwatch-clickhouse}
port=${SCIMWATCH_CH_PORT:-19000}
http_port=${SCIMWATCH_CH_HTTP_PORT:-$((port + 1))}
secure_port=$((port + 2))
pidfile=$dir/clickhouse.pid
# The scheduled rules' reader of the tests: a user that may read one
# database, read-only (test credentials, on loopback only).
rules_database=scimwatch_rules_test
rules_password=rules-test-password
# The writer of the TLS tests: a password user that may use one database.
writer_database=scimwatch_tls_test  # and default, where 18.16 logs in before the database exists
writer_password=writer-test-password

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

log() { printf 'clickhouse.sh: %s\n' "$*" >&2; }

install() {
  command -v clickhouse-server >/dev/null && return
  log "installing Debian's clickhouse-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
  # The package's own service is not used: tests run their own instance.
  if command -v service >/dev/null; then service clickhouse-server stop >/dev/null 2>&1 || true; fi
}


answers() {
  clickhouse-client --host 127.0.0.1 --port "$port" -q "SELECT 1" >/dev/null 2>&1 &&
    (exec 3<>"/dev/tcp/127.0.0.1/$secure_port") 2>/dev/null
}

# certificates makes the test CA and the server's certificate (for
# 127.0.0.1 and localhost).
certificates() {
  local t=$dir/tls
  [ -f "$t/server.crt" ] && return
  tls_pair "$t" "scimwatch ClickHouse test CA"
  chmod 600 "$t/server.key"
}

configure() {
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
  certificates
  cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/server.err.log</errorlog><size>100M</size><count>2</count></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$port</tcp_port>
    <http_port>$http_port</http_port>
    <tcp_port_secure>$secure_port</tcp_port_secure>
    <openSSL><server>
        <certificateFile>$dir/tls/server.crt</certificateFile>
        <privateKeyFile>$dir/tls/server.key</privateKeyFile>
        <verificationMode>none</verificationMode>
        <loadDefaultCAFile>false</loadDefaultCAFile>
        <cacheSessions>true</cacheSessions>
        <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
        <preferServerCiphers>true</preferServerCiphers>
    </server></openSSL>
    <max_connections>256</max_connections>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
XML
  cat >"$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage><load_balancing>random</load_balancing></default>
        <!-- Scheduled rules' reader, as README "Least privilege" says: read-only (1: table functions refused too), one database. -->
        <scimwatch_rules><readonly>1</readonly><max_memory_usage>2000000000</max_memory_usage></scimwatch_rules></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
        <scimwatch_rules><password>$rules_password</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>scimwatch_rules</profile><quota>default</quota>
            <allow_databases><database>$rules_database</database></allow_databases></scimwatch_rules>
        <scimwatch_writer><password>$writer_password</password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota>
            <allow_databases><database>default</database><database>$writer_database</database></allow_databases></scimwatch_writer></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
}

start() {
  install
  if running && answers; then return; fi
  stop # one from before, without what this script configures now
  configure
  log "starting on 127.0.0.1:$port (data in $dir)"
  nohup clickhouse-server --config-file="$dir/config.xml" </dev/null >"$dir/log/stdout.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if answers; then return; fi
    if ! running; then log "server exited:"; tail -n 20 "$dir/log/stdout.log" "$dir/log/server.err.log" >&2 || true; exit 1; fi
    sleep 0.5
  done
  log "server did not answer in 60 s"; exit 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if running && answers; then echo "clickhouse: running on 127.0.0.1:$port"; else echo "clickhouse: not running"; exit 1; fi ;;
  env) echo "SCIMWATCH_TEST_CLICKHOUSE=127.0.0.1:$port"
       echo "SCIMWATCH_TEST_CLICKHOUSE_HTTP=127.0.0.1:$http_port"
       echo "SCIMWATCH_TEST_CLICKHOUSE_RULES=scimwatch_rules:$rules_password@$rules_database"
       echo "SCIMWATCH_TEST_CLICKHOUSE_TLS=127.0.0.1:$secure_port"
       echo "SCIMWATCH_TEST_CLICKHOUSE_CA=$dir/tls/ca.crt"
       echo "SCIMWATCH_TEST_CLICKHOUSE_WRITER=scimwatch_writer:$writer_password@$writer_database" ;;
  *) echo "usage: $0 start|stop|restart|status|env" >&2; exit 2 ;;
esac
