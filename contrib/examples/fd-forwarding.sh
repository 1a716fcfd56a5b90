#!/usr/bin/env bash
# fd-forwarding.sh - expose a descriptor-passing socket (Wayland, D-Bus,
# a container runtime...) at another path, descriptors included:
#
#     qioc UNIX-LISTEN:DIR/exposed.sock,fork UNIX-CONNECT:DIR/real.sock
#
# A python3 "compositor" listens on real.sock.  To "GET" it answers with a
# memfd holding a greeting, passed as SCM_RIGHTS; to "PUT" it reads the
# pipe the client sent along and answers with what it read.  A python3
# client talks to exposed.sock only: the descriptors must cross qioc in
# both directions, still attached to their bytes.  Exit 0 on success.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

# The helpers all the examples share (spawn, reap, wait_for, free_port,
# start_listener, ...), and the scratch directory $WORK.
# shellcheck source=common.bash
. "$(dirname "${BASH_SOURCE[0]}")/common.bash"

command -v "$QIOC" >/dev/null || die "no qioc binary ($QIOC)"
command -v "$PYTHON3" >/dev/null || skip "needs python3 ($PYTHON3)"

# Both sides read a request or an answer line and collect every descriptor
# that arrives with it: descriptors ride on the bytes they were sent with.
COMMON='
import os, socket, sys

GREETING = b"hello from the compositor\n"
SECRET = b"a secret that only travels in a pipe\n"

def read_line(sock):
    data, fds = b"", []
    while not data.endswith(b"\n"):
        chunk, more, _, _ = socket.recv_fds(sock, 4096, 8)
        if not chunk:
            break
        data, fds = data + chunk, fds + more
    return data, fds

def read_all(fd):
    out = b""
    while chunk := os.read(fd, 4096):
        out += chunk
    return out
'

COMPOSITOR='
import threading

def answer(conn):
    with conn:
        request, fds = read_line(conn)
        if request == b"GET\n":
            memfd = os.memfd_create("greeting")
            os.write(memfd, GREETING)
            socket.send_fds(conn, [b"FD\n"], [memfd])
            os.close(memfd)
        elif request == b"PUT\n" and len(fds) == 1:
            conn.sendall(b"GOT " + read_all(fds[0]))
        else:
            conn.sendall(b"ERROR %r with %d fds\n" % (request, len(fds)))
        for fd in fds:
            os.close(fd)

srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen()
while True:
    conn, _ = srv.accept()
    threading.Thread(target=answer, args=(conn,), daemon=True).start()
'

CLIENT='
def connect():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sys.argv[1])
    return sock

def get():
    with connect() as sock:
        sock.sendall(b"GET\n")
        answer, fds = read_line(sock)
    if answer != b"FD\n" or len(fds) != 1:
        sys.exit(f"GET: answer {answer!r} with {len(fds)} descriptors")
    # The memfd was written, not rewound: read it from offset 0.
    greeting = os.pread(fds[0], 4096, 0)
    if greeting != GREETING:
        sys.exit(f"GET: the memfd holds {greeting!r}")

def put():
    r, w = os.pipe()
    os.write(w, SECRET)
    os.close(w)
    with connect() as sock:
        socket.send_fds(sock, [b"PUT\n"], [r])
        os.close(r)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    if answer != b"GOT " + SECRET:
        sys.exit(f"PUT: answer {answer!r}")

{"get": get, "put": put}[sys.argv[2]]()
'

start_compositor() {
    REAL=$WORK/real.sock
    spawn "$PYTHON3" -c "$COMMON$COMPOSITOR" "$REAL"
    PID_ALIVE=$! wait_for "the compositor" unix_listening "$REAL"
}

# The forwarder: each client of exposed.sock gets its own connection to
# real.sock; SCM_RIGHTS pass through because both sides are unix sockets.
start_forwarder() {
    EXPOSED=$WORK/exposed.sock
    spawn timeout "$LIMIT" "$QIOC" \
        UNIX-LISTEN:"$EXPOSED",fork UNIX-CONNECT:"$REAL"
    QIOC_PID=$!
    PID_ALIVE=$QIOC_PID wait_for "qioc to listen on $EXPOSED" \
        unix_listening "$EXPOSED"
}

client() {
    timeout "$LIMIT" "$PYTHON3" -c "$COMMON$CLIENT" "$EXPOSED" "$1" ||
        die "the $1 client failed"
}

start_compositor
start_forwarder
client get      # server -> client: a memfd
client put      # client -> server: a pipe
client get      # and again: fork serves every client
stop_qioc "$QIOC_PID"
echo "$ME: ok: descriptors crossed $EXPOSED -> $REAL both ways"
