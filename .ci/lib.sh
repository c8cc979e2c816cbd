# Shared by .ci/kafka.sh and .ci/clickhouse.sh: a server started in the
# background and tracked by the pid file in $pidfile.

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

# stop ends the server: SIGTERM, up to 30 s for a clean exit, then SIGKILL.
stop() {
  running || { rm -f "$pidfile"; return; }
  local pid; pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return; }; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}
