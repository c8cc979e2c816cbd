#!/usr/bin/env bash
# Starts, stops or shows the services scimwatch's tests and benchmarks use:
# ClickHouse on 127.0.0.1:19000, Apache Kafka on 127.0.0.1:19092, Alertmanager
# on 127.0.0.1:19193 and Prometheus on 127.0.0.1:19190, as plain processes with
# their data under /tmp. The test command starts what is not
# running and stops only what it started, so services started here stay up
# for `scimwatch bench ingest` and `clickhouse-client --port 19000`.
#
#   .ci/services.sh start|stop|status
set -euo pipefail
cd "$(dirname "$0")"
case "${1:-}" in
  start) for s in clickhouse kafka alertmanager prometheus; do ./$s.sh start; done
         for s in clickhouse kafka alertmanager prometheus; do ./$s.sh status; done ;;
  stop) for s in prometheus alertmanager kafka clickhouse; do ./$s.sh stop; done ;;
  status) rc=0; for s in clickhouse kafka alertmanager prometheus; do ./$s.sh status || rc=1; done; exit $rc ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
