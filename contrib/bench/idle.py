#!/usr/bin/env python3
# idle.py - hold many idle connections through a relay (benchmark helper)
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs a backend that accepts and holds every connection, and the clients.
# Driven line by line on stdin; answers one line on stdout per command:
#
#   (start)          -> "backend PORT"    the backend listens on 127.0.0.1
#   connect PORT N   -> "ready N"         N clients connected to PORT and
#                                          N connections accepted by the
#                                          backend (i.e. forwarded)
#   ping             -> "pinged N"        one byte each way on every
#                                          connection
#   close / EOF      -> "closed"          everything closed
#
# Clients connect a few at a time (at most WINDOW not yet forwarded), so a
# relay with a small listen backlog (socat's is 5) is not flooded into SYN
# retransmissions. Any failure is an "error ..." line and exit status 1.
import socket
import sys
import threading
import time

WINDOW = 4
TIMEOUT = 60


class Backend:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.cond = threading.Condition()
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.cond:
                self.conns.append(conn)
                self.cond.notify_all()

    def wait_for(self, n):
        deadline = time.monotonic() + TIMEOUT
        with self.cond:
            while len(self.conns) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("backend has %d of %d connections"
                                       % (len(self.conns), n))
                self.cond.wait(left)


def reply(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def connect_all(backend, port, n, clients):
    base = len(backend.conns)
    for i in range(n):
        backend.wait_for(base + max(0, i - WINDOW))
        c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        clients.append(c)
    backend.wait_for(base + n)
    return len(clients)


def ping_all(backend, clients):
    for c in clients:
        c.sendall(b"x")
    for s in backend.conns:
        s.settimeout(TIMEOUT)
        if s.recv(1) != b"x":
            raise ConnectionError("backend: lost a ping")
        s.sendall(b"y")
    for c in clients:
        if c.recv(1) != b"y":
            raise ConnectionError("client: lost a pong")
    return len(clients)


def main():
    backend = Backend()
    clients = []
    reply("backend %d" % backend.port)
    for line in sys.stdin:
        words = line.split()
        try:
            if words[:1] == ["connect"]:
                n = connect_all(backend, int(words[1]), int(words[2]),
                                clients)
                reply("ready %d" % n)
            elif words[:1] == ["ping"]:
                reply("pinged %d" % ping_all(backend, clients))
            elif words[:1] == ["close"]:
                break
            else:
                reply("error unknown command %r" % line.strip())
        except (OSError, TimeoutError) as e:
            reply("error %s" % e)
            sys.exit(1)
    for s in clients + backend.conns:
        s.close()
    backend.sock.close()
    reply("closed")


if __name__ == "__main__":
    main()
