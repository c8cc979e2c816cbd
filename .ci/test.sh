#!/usr/bin/env bash
# The README's test command. Installs and starts what the tests need (Debian's
# clickhouse-server and kcat, Apache Kafka from Maven Central), checks
# formatting and vet, runs the whole suite with the race detector against the
# real services, and stops the services again.
#
# Under CI (CI=true) a service that cannot be started fails the run; elsewhere
# the tests that need it are skipped, and say so.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*" >&2; }

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
say "go vet"
go vet ./...

missing=()
for p in clickhouse-server:clickhouse-server clickhouse-client:clickhouse-client kcat:kcat; do
  command -v "${p%%:*}" >/dev/null || missing+=("${p##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} (apt)"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null 2>&1; then
    say "could not install ${missing[*]}"
    [ "${CI:-}" = true ] && exit 1
  fi
fi

services_ok=true
say "starting ClickHouse"
if ./.ci/clickhouse.sh start; then
  export "$(./.ci/clickhouse.sh env)"
else
  services_ok=false
fi
say "starting Apache Kafka"
if ./.ci/kafka.sh start; then
  export "$(./.ci/kafka.sh env)"
else
  services_ok=false
fi
trap './.ci/kafka.sh stop; ./.ci/clickhouse.sh stop' EXIT
if [ "$services_ok" != true ]; then
  say "a service did not start"
  [ "${CI:-}" = true ] && exit 1
fi

say "go test -race ./..."
go test -race -count=1 -timeout 15m ./...

say "scimwatch rules test rules/builtin"
go run ./cmd/scimwatch rules test rules/builtin
