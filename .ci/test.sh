#!/usr/bin/env bash
# The README's test command. Installs and starts what the tests need (Debian's
# clickhouse-server, kcat, prometheus and prometheus-alertmanager, Apache Kafka
# from Maven Central, chDB, a current ClickHouse in-process, from PyPI), checks
# formatting and vet, runs the whole suite with the race detector against the
# real services, and runs the built-in rules' own tests.
#
# A service this script started is stopped again at the end; one that was
# already running (./.ci/services.sh start) is left running.
#
# Under CI (CI=true) a service that cannot be started fails the run; elsewhere
# the tests that need it are skipped, and say so.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*" >&2; }
start=$(date +%s)

say "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
say "go vet (the first run downloads the Go modules, about 400 MB)"
go vet ./...

missing=()
for p in clickhouse-server:clickhouse-server clickhouse-client:clickhouse-client kcat:kcat \
  prometheus:prometheus prometheus-alertmanager:prometheus-alertmanager curl:curl openssl:openssl; do
  command -v "${p%%:*}" >/dev/null || missing+=("${p##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} (apt: about 30 MB)"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null 2>&1; then
    say "could not install ${missing[*]}"
    [ "${CI:-}" = true ] && exit 1
  fi
fi

services_ok=true
stops=()
for svc in clickhouse kafka alertmanager prometheus chdb; do
  if ./.ci/"$svc".sh status >/dev/null 2>&1; then
    say "$svc already running: it stays running"
  else
    say "starting $svc"
    if ./.ci/"$svc".sh start; then
      stops+=("$svc")
    else
      services_ok=false
    fi
  fi
  if [ "$services_ok" = true ]; then
    while read -r kv; do export "$kv"; done < <(./.ci/"$svc".sh env)
  fi
done
trap 'for s in "${stops[@]}"; do ./.ci/"$s".sh stop; done' EXIT
if [ "$services_ok" != true ]; then
  say "a service did not start"
  [ "${CI:-}" = true ] && exit 1
fi

# Compiling with the race detector takes a few minutes on a fresh machine:
# compile package by package first, so that each one shows as it is ready.
say "compiling the tests with the race detector"
go test -race -count=1 -run '^$' ./... | sed -e 's/\[no tests to run\]/compiled/'

say "go test -race ./...: each test as it ends"
go run gotest.tools/gotestsum@v1.13.0 --format testname --format-hide-empty-pkg -- -race -count=1 -timeout 15m ./...

say "scimwatch rules test rules/builtin"
go run ./cmd/scimwatch rules test rules/builtin

say "passed in $(( $(date +%s) - start )) s"
