#!/usr/bin/env bash
# Starts, stops or shows the services scimwatch's tests and benchmarks use:
# ClickHouse on 127.0.0.1:19000 and Apache Kafka on 127.0.0.1:19092, as plain
# processes with their data under /tmp. The test command starts what is not
# running and stops only what it started, so services started here stay up
# for `scimwatch bench ingest` and `clickhouse-client --port 19000`.
#
#   .ci/services.sh start|stop|status
set -euo pipefail
cd "$(dirname "$0")"
case "${1:-}" in
  start) ./clickhouse.sh start && ./kafka.sh start && ./clickhouse.sh status && ./kafka.sh status ;;
  stop) ./kafka.sh stop; ./clickhouse.sh stop ;;
  status) rc=0; ./clickhouse.sh status || rc=1; ./kafka.sh status || rc=1; exit $rc ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
