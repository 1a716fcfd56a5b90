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

# The helpers all the examples share (spawn, reap, wait_for, free_port,
# start_listener, ...), and the scratch directory $WORK.
# shellcheck source=common.bash
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"

command -v "$QIOC" >/dev/null || die "no qioc binary ($QIOC)"
command -v "$PYTHON3" >/dev/null || skip "needs python3 ($PYTHON3)"

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
