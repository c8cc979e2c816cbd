"""Runs SQL on chDB (ClickHouse in-process, from PyPI's chdb-core) for
scimwatch's tests: one JSON request per line on stdin, {"sql": "...",
"format": "JSONCompact" or "TabSeparated"}, one JSON answer per line on
stdout: {"rows": [[...], ...]} (JSONCompact), {"text": "..."}
(TabSeparated) or {"error": "..."}. The database lives in the directory
given as the first argument. Written for scimwatch."""
import json
import sys

from chdb import session


def main():
    s = session.Session(sys.argv[1])
    for line in sys.stdin:
        req = json.loads(line)
        fmt = req.get("format") or "JSONCompact"
        try:
            res = s.query(req["sql"], fmt)
            out = res.bytes() if hasattr(res, "bytes") else bytes(res)
            if fmt == "JSONCompact":
                answer = {"rows": json.loads(out)["data"] if out.strip() else []}
            else:
                answer = {"text": out.decode("utf-8", "replace")}
        except Exception as e:  # the error goes back to the test, which names the statement
            answer = {"error": str(e).split("\n")[0]}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
