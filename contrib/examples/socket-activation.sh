#!/usr/bin/env bash
# socket-activation.sh - qioc started the way systemd socket activation
# starts it (contrib/systemd/qioc@.service), simulated without systemd:
#
#     qioc SD-LISTEN,fork TCP:127.0.0.1:BACKEND        # every passed socket
#     qioc SD-LISTEN:admin,fork TCP:127.0.0.1:BACKEND  # only the one named
#
# A python3 launcher does systemd's part: it binds the listening sockets,
# moves them to descriptors 3, 4, ..., sets LISTEN_FDS, LISTEN_FDNAMES and
# LISTEN_PID, and execs qioc.  LISTEN_PID is the launcher's own pid, which
# exec hands on to qioc.  Checks a round trip through each socket, the
# choice by name, and the errors for an unknown name and a foreign pid.
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

# argv: READY-FILE NAME[:NAME...] COMMAND...  Binds one socket per name on
# 127.0.0.1 (free ports), writes "NAME PORT" lines to READY-FILE, execs.
LAUNCHER='
import fcntl, os, socket, sys

ready, names, command = sys.argv[1], sys.argv[2].split(":"), sys.argv[3:]
socks = [socket.create_server(("127.0.0.1", 0)) for _ in names]
ports = [s.getsockname()[1] for s in socks]
# Out of the way first: a socket may already sit on 3 or 4.
high = [fcntl.fcntl(s.fileno(), fcntl.F_DUPFD_CLOEXEC, 100) for s in socks]
for s in socks:
    s.close()
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i, inheritable=True)
    os.close(fd)
env = dict(os.environ, LISTEN_FDS=str(len(socks)),
           LISTEN_FDNAMES=":".join(names), LISTEN_PID=str(os.getpid()))
with open(ready + ".tmp", "w") as f:
    f.writelines(f"{n} {p}\n" for n, p in zip(names, ports))
os.rename(ready + ".tmp", ready)
os.execvpe(command[0], command, env)
'

# launch NAMES QIOC-ARGS...: start qioc socket-activated ($QIOC_PID), its
# ports in the associative array PORTS, by name.
declare -A PORTS
LAUNCHES=0
launch() {
    local names=$1 ready=$WORK/ready.$((++LAUNCHES)) name port
    shift
    spawn timeout "$LIMIT" "$PYTHON3" -c "$LAUNCHER" "$ready" "$names" \
        "$QIOC" "$@"
    QIOC_PID=$!
    PID_ALIVE=$QIOC_PID wait_for "the launcher" test -s "$ready"
    PORTS=()
    while read -r name port; do PORTS[$name]=$port; done <"$ready"
}

# The sockets listen before qioc runs: a client may connect at once and
# waits in the backlog until qioc accepts it.
round_trip() {
    local port=${PORTS[$1]} out
    out=$(printf 'ping %s\n' "$1" |
        timeout "$LIMIT" "$QIOC" - TCP:127.0.0.1:"$port") ||
        die "no answer through the socket named $1"
    [[ $out == "ping $1" ]] || die "socket $1 answered '$out'"
}

all_sockets() {
    launch web:admin SD-LISTEN,fork TCP:127.0.0.1:"$BACKEND"
    round_trip web
    round_trip admin
    round_trip web
    stop_qioc "$QIOC_PID"
}

# Clients waiting in the accept queue of listening port $1 (/proc/net/tcp
# shows it as the rx_queue of the listening socket).
accept_queue() {
    local hex
    hex=$(awk -v p="$(printf ':%04X' "$1")" \
        '$4 == "0A" && $2 ~ (p "$") { split($5, q, ":"); print q[2] }' \
        /proc/net/tcp)
    echo $((16#${hex:-0}))
}

# With a NAME, qioc serves that socket and leaves the others alone: a
# client of "web" stays in its queue while "admin" answers.
by_name() {
    local web
    launch web:admin SD-LISTEN:admin,fork TCP:127.0.0.1:"$BACKEND"
    exec {web}<>/dev/tcp/127.0.0.1/"${PORTS[web]}"
    round_trip admin
    (($(accept_queue "${PORTS[web]}") == 1)) ||
        die "qioc accepted a client of the socket named web"
    exec {web}>&-
    stop_qioc "$QIOC_PID"
}

# qioc must refuse, not guess: exit 1 with an error about address 1.
expect_error() {
    local want=$1 out status=0
    shift
    out=$("$@" 2>&1) || status=$?
    ((status == 1)) || die "exit status $status, not 1, for: $*"
    [[ $out == *"$want"* ]] || die "no '$want' in: $out"
}

unknown_name() {
    expect_error "address 1 (SD-LISTEN:nosuch)" timeout "$LIMIT" \
        "$PYTHON3" -c "$LAUNCHER" "$WORK/ready.x" web \
        "$QIOC" SD-LISTEN:nosuch TCP:127.0.0.1:"$BACKEND"
}

# Sockets meant for another process (LISTEN_PID) are not ours to take.
foreign_pid() {
    expect_error "address 1 (SD-LISTEN)" env LISTEN_FDS=1 LISTEN_PID=1 \
        timeout "$LIMIT" "$QIOC" SD-LISTEN TCP:127.0.0.1:"$BACKEND"
}

start_backend
all_sockets
by_name
unknown_name
foreign_pid
echo "$ME: ok: SD-LISTEN served passed sockets, chose by name, refused others"
