"""Runs SQL on chDB (ClickHouse in-process, from PyPI's chdb-core) for
scimwatch's tests: one JSON request per line on stdin, {"sql": "..."}, one
JSON answer per line on stdout, {"rows": [[...], ...]} or {"error": "..."}.
The database lives in the directory given as the first argument.
Written for scimwatch."""
import json
import sys

from chdb import session


def main():
    s = session.Session(sys.argv[1])
    for line in sys.stdin:
        req = json.loads(line)
        try:
            res = s.query(req["sql"], "JSONCompact")
            out = res.bytes() if hasattr(res, "bytes") else bytes(res)
            rows = json.loads(out)["data"] if out.strip() else []
            answer = {"rows": rows}
        except Exception as e:  # the error goes back to the test, which names the statement
            answer = {"error": str(e).split("\n")[0]}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
