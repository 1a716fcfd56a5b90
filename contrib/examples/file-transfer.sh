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

# The helpers all the examples share (spawn, reap, wait_for, free_port,
# start_listener, ...), and the scratch directory $WORK.
# shellcheck source=common.bash
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"

command -v "$QIOC" >/dev/null || die "no qioc binary ($QIOC)"
command -v "$PYTHON3" >/dev/null || skip "needs python3 ($PYTHON3)"

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
