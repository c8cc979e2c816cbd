#!/usr/bin/env bash
# chDB: ClickHouse 26 in-process, from PyPI's chdb-core, for the tests that
# run scimwatch's SQL on a current ClickHouse as well as on Debian's 18.16.
# Nothing runs: "start" installs it into .cache/chdb (a Python venv with
# pandas and pyarrow, about 900 MB; git ignores .cache), "env" names its
# Python for the tests.
#
#   .ci/chdb.sh start|stop|status|env
set -euo pipefail
cd "$(dirname "$0")/.."
version=26.9.0
dir=.cache/chdb
py="$dir/bin/python"
installed() { "$py" -c "import chdb, sys; sys.exit(chdb.__version__ != '$version')" 2>/dev/null; }
case "${1:-}" in
  start)
    installed && { echo "chdb: chdb-core $version in $dir"; exit 0; }
    echo "chdb: installing chdb-core $version from PyPI into $dir (a wheel of about 180 MB)"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check "chdb-core==$version"
    installed ;;
  stop) ;;
  status) installed && echo "chdb: chdb-core $version in $dir" || { echo "chdb: not installed" >&2; exit 1; } ;;
  env) echo "SCIMWATCH_TEST_CHDB=$(pwd)/$py" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
