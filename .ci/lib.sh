# Shared by the service scripts of .ci/: a server started in the
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

# await waits up to 60 s for the server to answer (the caller's answers
# function); if it exits or does not answer, it shows the end of log and
# fails.
await() {
  local name=$1 logfile=$2
  for _ in $(seq 1 120); do
    if answers; then return; fi
    if ! running; then log "$name exited:"; tail -n 20 "$logfile" >&2; exit 1; fi
    sleep 0.5
  done
  log "$name did not answer in 60 s"; tail -n 20 "$logfile" >&2; exit 1
}
