#!/usr/bin/env bash
# exec-service.sh - programs as network services and filters (inetd style):
#
#     qioc TCP-LISTEN:PORT,fork 'EXEC:wc -c'           # one wc per client
#     qioc TCP-LISTEN:PORT,fork 'SYSTEM:echo "you are $QIOC_PEERADDR"'
#     printf 'b\na\n' | qioc - EXEC:sort                # a one-shot filter
#
# EXEC splits its command into words as a shell would, without a shell;
# SYSTEM hands it to /bin/sh -c.  The child's stdin/stdout are the channel;
# the end of the input reaches it as end-of-file, and its answer still
# travels back.  Children of a socket address learn their peer from
# QIOC_PEERADDR and friends.  Exit 0 on success, 77 when EXEC is missing.
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

# expect WANT COMMAND...: run COMMAND, its output must be WANT.
expect() {
    local want=$1 got
    shift
    got=$(timeout "$LIMIT" "$@") || die "failed: $*"
    [[ $got == "$want" ]] || die "'$*' printed '$got', expected '$want'"
}

# wc answers only once its input has ended: a half-close, not a close.
counting_service() {
    PORT=$(free_port)
    start_listener TCP-LISTEN:"$PORT",fork,reuseaddr 'EXEC:wc -c'
    expect 5 "$QIOC" - TCP:127.0.0.1:"$PORT" < <(printf hello)
    expect 11 "$QIOC" - TCP:127.0.0.1:"$PORT" < <(printf 'hello again')
    stop_qioc "$QIOC_PID"
}

# The single quotes keep $QIOC_PEERADDR for the child's shell.
peer_service() {
    PORT=$(free_port)
    # shellcheck disable=SC2016 # expanded by the child's /bin/sh
    start_listener TCP-LISTEN:"$PORT",fork,reuseaddr \
        'SYSTEM:echo "you are $QIOC_PEERADDR"'
    expect "you are 127.0.0.1" "$QIOC" -U STDOUT TCP:127.0.0.1:"$PORT"
    stop_qioc "$QIOC_PID"
}

filters() {
    expect $'a\nb' "$QIOC" - EXEC:sort < <(printf 'b\na\n')
    # Quotes group words for EXEC, as in a shell: one argument "a, b".
    expect '<a, b>' "$QIOC" -U STDOUT "EXEC:printf '<%s>' 'a, b'"
}

require_type EXEC EXEC:true
counting_service
peer_service
filters
echo "$ME: ok: EXEC and SYSTEM served clients and filtered pipelines"
