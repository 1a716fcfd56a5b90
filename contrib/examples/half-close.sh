#!/usr/bin/env bash
# half-close.sh - a peer that answers only after end-of-file, like sort(1)
# or an HTTP/1.0 upload: qioc passes the end of one direction on as a
# half-close (shutdown of writing) and keeps the other direction open for
# the answer:
#
#     qioc - TCP:127.0.0.1:BACKEND < data                  # direct
#     qioc TCP-LISTEN:PORT,fork TCP:127.0.0.1:BACKEND      # a forwarder
#     qioc - TCP:127.0.0.1:PORT < data                     # through it
#
# The python3 peer reads to end-of-file, then answers with the byte count
# and SHA-256 of what it read.  A relay that closed instead of half-closing
# would lose the answer; one that did not pass the end on would hang.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

# The helpers all the examples share (spawn, reap, wait_for, free_port,
# start_listener, ...), and the scratch directory $WORK.
# shellcheck source=common.bash
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"

command -v "$QIOC" >/dev/null || die "no qioc binary ($QIOC)"
command -v "$PYTHON3" >/dev/null || skip "needs python3 ($PYTHON3)"

# Reads everything, then answers "BYTES SHA256" and closes.
SUMMER='
import hashlib, os, socket, sys, threading

def serve(conn):
    with conn:
        digest, size = hashlib.sha256(), 0
        while data := conn.recv(65536):
            digest.update(data)
            size += len(data)
        conn.sendall(b"%d %s\n" % (size, digest.hexdigest().encode()))

srv = socket.create_server(("127.0.0.1", 0))
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'

start_summer() {
    spawn "$PYTHON3" -c "$SUMMER" "$WORK/summer.port"
    PID_ALIVE=$! wait_for "the peer" test -s "$WORK/summer.port"
    BACKEND=$(<"$WORK/summer.port")
}

# ask PORT: send the data to PORT, compare the answer with our own sum.
ask() {
    local answer
    answer=$(timeout "$LIMIT" "$QIOC" - TCP:127.0.0.1:"$1" <"$WORK/data") ||
        die "qioc - TCP:127.0.0.1:$1 failed"
    [[ $answer == "$EXPECTED" ]] ||
        die "port $1 answered '$answer', expected '$EXPECTED'"
}

head -c $((3 * 1024 * 1024)) /dev/urandom >"$WORK/data"
EXPECTED="$(wc -c <"$WORK/data") $(sha256sum <"$WORK/data" | cut -d' ' -f1)"
start_summer
ask "$BACKEND"
PORT=$(free_port)
start_listener TCP-LISTEN:"$PORT",fork,reuseaddr TCP:127.0.0.1:"$BACKEND"
ask "$PORT"
stop_qioc "$QIOC_PID"
echo "$ME: ok: the answer after end-of-file came back, direct and forwarded"
