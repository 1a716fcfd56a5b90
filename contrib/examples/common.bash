# common.bash - what every example in this directory shares: the
# scratch directory, background processes that are always cleaned up,
# polling instead of sleeping, free ports, and a listener to start and
# stop. The examples source it; it is not run on its own.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Variables set here (BACKEND, QIOC_PID, ...) are read by the examples.
# shellcheck disable=SC2034

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

# Is a unix stream socket listening at path $1?  (/proc/net/unix flags
# 00010000 = accepting; the file alone appears already at bind().)
unix_listening() {
    awk -v p="$1" '$NF == p && $4 == "00010000" { f = 1 }
                   END { exit !f }' /proc/net/unix
}

# Start qioc with "$@" in the background ($QIOC_PID) and wait until it
# listens on TCP port $PORT.
start_listener() {
    spawn timeout "$LIMIT" "$QIOC" "$@"
    QIOC_PID=$!
    PID_ALIVE=$QIOC_PID wait_for "qioc to listen on port $PORT" \
        tcp_listening "$PORT"
}

# SIGTERM stops a listener; qioc then exits 128+15.
stop_qioc() {
    kill -TERM "$1"
    reap "$1"
    ((REAPED == 143)) || die "qioc exited $REAPED after SIGTERM, not 143"
}

# Skip (exit 77) when this qioc does not implement address type $1 yet;
# $2 is an address of that type that opens quickly or fails quickly.
require_type() {
    local out
    out=$(timeout 10 "$QIOC" -u STDIN "$2" </dev/null 2>&1) || true
    [[ $out != *"not implemented"* ]] || skip "$1 not implemented yet"
}

# Start the echo server; its port in $BACKEND.
start_backend() {
    spawn "$PYTHON3" -c "$ECHO_SERVER" "$WORK/backend.port"
    PID_ALIVE=$! wait_for "the echo backend" test -s "$WORK/backend.port"
    BACKEND=$(<"$WORK/backend.port")
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
