#!/usr/bin/env bash
# port-forward.sh - forward a local TCP port to a backend, many clients at
# once:
#
#     qioc TCP-LISTEN:PORT,fork,reuseaddr TCP:127.0.0.1:BACKEND
#
# A python3 echo server plays the backend; three qioc clients send random
# data through the forwarder at the same time and must get it back intact.
# Exit 0 on success.  Uses $QIOC (default: qioc from PATH) and $PYTHON3.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

# The helpers all the examples share (spawn, reap, wait_for, free_port,
# start_listener, ...), and the scratch directory $WORK.
# shellcheck source=common.bash
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"

command -v "$QIOC" >/dev/null || die "no qioc binary ($QIOC)"
command -v "$PYTHON3" >/dev/null || skip "needs python3 ($PYTHON3)"

# Three clients at once: fork must serve them concurrently.
run_clients() {
    local i clients=()
    for i in 1 2 3; do
        head -c $((1024 * 1024 * i)) /dev/urandom >"$WORK/in.$i"
        spawn timeout "$LIMIT" "$QIOC" - TCP:127.0.0.1:"$PORT" \
            <"$WORK/in.$i" >"$WORK/out.$i"
        clients+=("$!")
    done
    for i in 1 2 3; do
        reap "${clients[i - 1]}"
        ((REAPED == 0)) || die "client $i exited with status $REAPED"
        cmp -s "$WORK/in.$i" "$WORK/out.$i" ||
            die "client $i got different data back"
    done
}

start_backend
PORT=$(free_port)
start_listener TCP-LISTEN:"$PORT",fork,reuseaddr TCP:127.0.0.1:"$BACKEND"
run_clients
stop_qioc "$QIOC_PID"
echo "$ME: ok: 3 concurrent clients forwarded through port $PORT"
