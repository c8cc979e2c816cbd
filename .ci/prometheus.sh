#!/usr/bin/env bash
# Starts or stops Debian's Prometheus for scimwatch's tests, as a plain
# process on 127.0.0.1 with its data in a directory of its own (installed
# with apt when absent). Idempotent. It scrapes, every second, the targets
# listed in targets.json of its directory (file service discovery): a test
# writes its own metrics endpoint there.
#
#   .ci/prometheus.sh start|stop|status|env
#
# SCIMWATCH_PROM_DIR (default: a directory under /tmp); SCIMWATCH_PROM_PORT
# the port (19190).
set -euo pipefail

dir=${SCIMWATCH_PROM_DIR:-/tmp/scimwatch-prometheus}
port=${SCIMWATCH_PROM_PORT:-19190}
pidfile=$dir/prometheus.pid

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

log() { printf 'prometheus.sh: %s\n' "$*" >&2; }

install() {
  command -v prometheus >/dev/null && return
  log "installing Debian's prometheus"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if command -v service >/dev/null; then service prometheus stop >/dev/null 2>&1 || true; fi
}

answers() { curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; }

start() {
  install
  if running && answers; then return; fi
  stop
  rm -rf "$dir"
  mkdir -p "$dir/data"
  echo '[]' >"$dir/targets.json"
  cat >"$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: scimwatch
    file_sd_configs:
      - files: ["$dir/targets*.json"]   # each test writes its own targets-NAME.json
        refresh_interval: 1s
YAML
  log "starting on 127.0.0.1:$port (data in $dir)"
  nohup prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" </dev/null >"$dir/prometheus.log" 2>&1 &
  echo $! >"$pidfile"
  await prometheus "$dir/prometheus.log"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running && answers; then echo "prometheus: running on 127.0.0.1:$port"; else echo "prometheus: not running"; exit 1; fi ;;
  env) echo "SCIMWATCH_TEST_PROMETHEUS=http://127.0.0.1:$port"; echo "SCIMWATCH_TEST_PROMETHEUS_TARGETS=$dir/targets.json" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
