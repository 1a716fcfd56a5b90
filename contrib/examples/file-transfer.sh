#!/usr/bin/env bash
# file-transfer.sh - send a file over TCP, one way:
#
#     qioc -u TCP-LISTEN:PORT,reuseaddr CREATE:received     # receiver
#     qioc -u FILE:source TCP:HOST:PORT                     # sender
#
# -u copies only from the first address to the second, so neither side
# waits for data from the other.  The receiver serves one client (no fork)
# and exits when the sender's end-of-file arrives.  Checks both exit
# statuses and compares SHA-256 sums of 8 MiB of random data.
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

start_receiver() {
    PORT=$(free_port)
    start_listener -u TCP-LISTEN:"$PORT",reuseaddr CREATE:"$WORK/received"
    RECEIVER=$QIOC_PID
}

send_file() {
    head -c $((8 * 1024 * 1024)) /dev/urandom >"$WORK/source"
    timeout "$LIMIT" "$QIOC" -u FILE:"$WORK/source" TCP:127.0.0.1:"$PORT" ||
        die "the sender failed"
}

check_receiver() {
    reap "$RECEIVER"
    ((REAPED == 0)) || die "the receiver exited with status $REAPED"
    local sent got
    sent=$(sha256sum <"$WORK/source")
    got=$(sha256sum <"$WORK/received")
    [[ $sent == "$got" ]] || die "checksums differ: sent $sent, got $got"
}

start_receiver
send_file
check_receiver
echo "$ME: ok: 8 MiB sent over port $PORT, checksums match"
