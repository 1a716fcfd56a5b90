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

# The helpers all the examples share (spawn, reap, wait_for, free_port,
# start_listener, ...), and the scratch directory $WORK.
# shellcheck source=common.bash
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"

command -v "$QIOC" >/dev/null || die "no qioc binary ($QIOC)"
command -v "$PYTHON3" >/dev/null || skip "needs python3 ($PYTHON3)"

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
