#!/usr/bin/env bash
# Starts or stops Debian's Prometheus Alertmanager for scimwatch's tests, as
# a plain process on 127.0.0.1 with its data in a directory of its own
# (installed with apt when absent). Idempotent.
#
#   .ci/alertmanager.sh start     install if needed, start, wait until it answers
#   .ci/alertmanager.sh stop      stop it
#   .ci/alertmanager.sh status    exit 0 when it runs and answers
#   .ci/alertmanager.sh env       print the variables the tests read
#
# SCIMWATCH_AM_DIR (default: a directory under /tmp) holds config and data;
# SCIMWATCH_AM_PORT the port (19193). It groups alerts by rule and tenant and
# sends them nowhere: the tests read them back through its API.
set -euo pipefail

dir=${SCIMWATCH_AM_DIR:-/tmp/scimwatch-alertmanager}
port=${SCIMWATCH_AM_PORT:-19193}
pidfile=$dir/alertmanager.pid

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

log() { printf 'alertmanager.sh: %s\n' "$*" >&2; }

install() {
  command -v prometheus-alertmanager >/dev/null && return
  log "installing Debian's prometheus-alertmanager"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends prometheus-alertmanager >/dev/null
  # The package's own service is not used: tests run their own instance.
  if command -v service >/dev/null; then service prometheus-alertmanager stop >/dev/null 2>&1 || true; fi
}

answers() { curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; }

start() {
  install
  if running && answers; then return; fi
  stop
  rm -rf "$dir"
  mkdir -p "$dir/data"
  cat >"$dir/alertmanager.yml" <<YAML
route:
  receiver: nowhere
  group_by: [rule, tenant]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: nowhere
YAML
  log "starting on 127.0.0.1:$port (data in $dir)"
  nohup prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --cluster.listen-address= </dev/null >"$dir/alertmanager.log" 2>&1 &
  echo $! >"$pidfile"
  await alertmanager "$dir/alertmanager.log"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running && answers; then echo "alertmanager: running on 127.0.0.1:$port"; else echo "alertmanager: not running"; exit 1; fi ;;
  env) echo "SCIMWATCH_TEST_ALERTMANAGER=http://127.0.0.1:$port" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
