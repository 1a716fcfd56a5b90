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

# The helpers all the examples share (spawn, reap, wait_for, free_port,
# start_listener, ...), and the scratch directory $WORK.
# shellcheck source=common.bash
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"

command -v "$QIOC" >/dev/null || die "no qioc binary ($QIOC)"
command -v "$PYTHON3" >/dev/null || skip "needs python3 ($PYTHON3)"

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
