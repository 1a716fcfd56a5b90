#!/usr/bin/env bash
# unix-to-tcp.sh - give a TCP service a unix socket, so that local clients
# reach it through a file whose permissions say who may connect:
#
#     qioc UNIX-LISTEN:DIR/svc.sock,fork,mode=600 TCP:127.0.0.1:BACKEND
#     qioc - UNIX-CONNECT:DIR/svc.sock          # a client
#
# A python3 echo server plays the TCP service.  Checks the socket's mode,
# a 4 MiB round trip ending in a half-close on each hop, and that the
# socket file is gone after qioc stops.  Exit 0 on success.
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

# Is a unix stream socket listening at path $1?  (/proc/net/unix flags
# 00010000 = accepting; the file alone appears already at bind().)
unix_listening() {
    awk -v p="$1" '$NF == p && $4 == "00010000" { f = 1 }
                   END { exit !f }' /proc/net/unix
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

# SIGTERM stops a listener; qioc then exits 128+15.
stop_qioc() {
    kill -TERM "$1"
    reap "$1"
    ((REAPED == 143)) || die "qioc exited $REAPED after SIGTERM, not 143"
}

start_forwarder() {
    SOCK=$WORK/svc.sock
    spawn timeout "$LIMIT" "$QIOC" \
        UNIX-LISTEN:"$SOCK",fork,mode=600 TCP:127.0.0.1:"$BACKEND"
    QIOC_PID=$!
    PID_ALIVE=$QIOC_PID wait_for "qioc to listen on $SOCK" \
        unix_listening "$SOCK"
}

check_mode() {
    local mode
    mode=$(stat -c %a "$SOCK")
    [[ $mode == 600 ]] || die "$SOCK has mode $mode, not 600"
}

# qioc as the client: its stdin's end becomes a half-close on the unix
# socket, which the forwarder passes on to the TCP backend.
round_trip() {
    head -c $((4 * 1024 * 1024)) /dev/urandom >"$WORK/in"
    timeout "$LIMIT" "$QIOC" - UNIX-CONNECT:"$SOCK" <"$WORK/in" >"$WORK/out" ||
        die "the client failed"
    cmp -s "$WORK/in" "$WORK/out" || die "the data came back different"
}

start_backend
start_forwarder
check_mode
round_trip
stop_qioc "$QIOC_PID"
[[ ! -e $SOCK ]] || die "$SOCK is still there after qioc ended (unlink-close)"
echo "$ME: ok: unix socket $SOCK reached TCP port $BACKEND"
