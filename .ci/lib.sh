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

# tls_pair makes, in directory $1, a test CA named $2 (ca.key, ca.crt) and
# a server certificate of it for 127.0.0.1 and localhost (server.key,
# server.crt), with openssl.
tls_pair() {
  local t=$1
  mkdir -p "$t"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$2" -keyout "$t/ca.key" -out "$t/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$t/server.key" -out "$t/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$t/san.ext"
  openssl x509 -req -days 3650 -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial \
    -extfile "$t/san.ext" -out "$t/server.crt" 2>/dev/null
}
