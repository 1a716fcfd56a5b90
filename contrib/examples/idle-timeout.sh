#!/usr/bin/env bash
# idle-timeout.sh - end a forwarded connection nobody uses any more:
#
#     qioc -T 1 TCP-LISTEN:PORT,reuseaddr TCP:127.0.0.1:BACKEND
#
# -T SECONDS ends a connection that moved no data in either direction for
# that long; that is a normal ending (exit 0).  A python3 client first
# keeps the connection busy for longer than the timeout, one ping every
# quarter second (so the timer must restart with each), then falls silent
# and must see qioc close the connection about a second later.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

QIOC=${QIOC:-qioc}
PYTHON3=${PYTHON3:-python3}
ME=${0##*/}
LIMIT=120   # seconds any one qioc may run: a hang fails, never blocks
PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qioc-example.XXXXXX")

die() { echo "$ME: FAIL: $*" >&2; exit 1; }

# Exit status 77 means "cannot run here" (the automake/bats convention).
skip() { echo "$ME: SKIP: $*" >&2; exit 77; }

# Kill what we started, by pid, and remove the scratch directory (kept
# when QIOC_EXAMPLE_KEEP is set, for a look after a failure).
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n ${QIOC_EXAMPLE_KEEP-} ]]; then
        echo "$ME: kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# Run a command in the background and remember it for cleanup.  The
# explicit <&0 keeps the caller's stdin: a bare '&' would read /dev/null.
spawn() { "$@" <&0 & PIDS+=("$!"); }

# Wait for background process $1; its exit status in $REAPED.
reap() {
    REAPED=0
    wait "$1" || REAPED=$?
    local -a keep=()
    local pid
    for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || keep+=("$pid"); done
    PIDS=("${keep[@]}")
}

# Poll (never a fixed sleep) until "$@" succeeds; give up after 10 s, or
# at once if process $PID_ALIVE (when set) has died.
wait_for() {
    local what=$1 i
    shift
    for ((i = 0; i < 200; i++)); do
        "$@" && return 0
        if [[ -n ${PID_ALIVE-} ]] && ! kill -0 "$PID_ALIVE" 2>/dev/null; then
            die "process $PID_ALIVE ended while waiting for $what"
        fi
        sleep 0.05
    done
    die "timed out waiting for $what"
}

command -v "$QIOC" >/dev/null || die "no qioc binary ($QIOC)"
command -v "$PYTHON3" >/dev/null || skip "needs python3 ($PYTHON3)"

# Is a socket listening on TCP port $1?  (/proc, so no client is used up.)
tcp_listening() {
    local files=(/proc/net/tcp) hex
    [[ -r /proc/net/tcp6 ]] && files+=(/proc/net/tcp6)
    hex=$(printf '%04X' "$1")
    awk -v p="$hex" '$4 == "0A" && $2 ~ (":" p "$") { f = 1 }
                     END { exit !f }' "${files[@]}"
}

# A port nobody listens on right now.
free_port() {
    "$PYTHON3" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Start qioc with "$@" in the background ($QIOC_PID) and wait until it
# listens on TCP port $PORT.
start_listener() {
    spawn timeout "$LIMIT" "$QIOC" "$@"
    QIOC_PID=$!
    PID_ALIVE=$QIOC_PID wait_for "qioc to listen on port $PORT" \
        tcp_listening "$PORT"
}

# An echo server on a port of its own choosing, written to $1 when ready;
# it half-closes after echoing everything, as a well-behaved peer does.
ECHO_SERVER='
import os, socket, sys, threading

def serve(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)

srv = socket.create_server(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'

# Start the echo server; its port in $BACKEND.
start_backend() {
    spawn "$PYTHON3" -c "$ECHO_SERVER" "$WORK/backend.port"
    PID_ALIVE=$! wait_for "the echo backend" test -s "$WORK/backend.port"
    BACKEND=$(<"$WORK/backend.port")
}

# argv: PORT PINGS.  Prints how long the connection lasted once idle.
CLIENT='
import socket, sys, time

port, pings = int(sys.argv[1]), int(sys.argv[2])
with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
    for i in range(pings):
        if i:
            time.sleep(0.25)    # the workload: 4 pings a second, not a sync
        sock.sendall(b"ping %d\n" % i)
        if sock.recv(100) != b"ping %d\n" % i:
            sys.exit(f"ping {i}: no echo: the connection ended while busy")
    idle = time.monotonic()
    if sock.recv(100) != b"":
        sys.exit("data arrived while idle")
    print(f"{time.monotonic() - idle:.2f}")
'

start_backend
PORT=$(free_port)
start_listener -T 1 TCP-LISTEN:"$PORT",reuseaddr TCP:127.0.0.1:"$BACKEND"
# 9 pings = 2 s busy, twice the timeout: the timer restarts on traffic.
idle=$(timeout "$LIMIT" "$PYTHON3" -c "$CLIENT" "$PORT" 9) ||
    die "the client failed"
reap "$QIOC_PID"
((REAPED == 0)) || die "qioc exited $REAPED after the idle timeout, not 0"
# Closed after about 1 s of silence: not at once, not never.
awk -v t="$idle" 'BEGIN { exit !(t >= 0.8 && t < 30) }' ||
    die "closed after $idle s of silence, expected about 1 s"
echo "$ME: ok: busy for 2 s, closed after $idle s idle (-T 1)"
