#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Misbehaving proxies for qioc's proxy tests (tests/cli/proxy.bats).

Each mode listens on 127.0.0.1:--port, serves one client, and writes
"ready" to the --ready file (atomically) once it listens.

Modes:
  socks5-close         read the SOCKS5 greeting, then close
  socks5-silent        read the SOCKS5 greeting, then say nothing
  socks5-eager TEXT    answer a no-authentication CONNECT, sending the
                       reply and TEXT in one send(); then close
  http-eager TEXT      answer a CONNECT with "HTTP/1.1 200 ..." and TEXT in
                       one send(); then close
  socks-client HOST PORT TARGET TPORT
                       not a proxy: connect to the SOCKS5 server at HOST
                       PORT, ask for TARGET:TPORT and print the reply's
                       code (connect mode; no --port)
"""

import argparse
import os
import signal
import socket
import struct
import sys


def listen(args):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", args.port))
    s.listen(4)
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write("ready\n")
    os.rename(tmp, args.ready)
    conn, _ = s.accept()
    return conn


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def read_greeting(conn):
    ver, n = recv_exact(conn, 2)
    recv_exact(conn, n)
    return ver


def read_socks5_request(conn):
    head = recv_exact(conn, 4)
    if head[3] == 1:
        recv_exact(conn, 4 + 2)
    elif head[3] == 4:
        recv_exact(conn, 16 + 2)
    else:
        n = recv_exact(conn, 1)[0]
        recv_exact(conn, n + 2)


def drain(conn):
    while conn.recv(65536):
        pass


def mode_socks5_close(args):
    conn = listen(args)
    read_greeting(conn)
    conn.close()


def mode_socks5_silent(args):
    conn = listen(args)
    read_greeting(conn)
    drain(conn)


def mode_socks5_eager(args):
    conn = listen(args)
    read_greeting(conn)
    conn.sendall(b"\x05\x00")
    read_socks5_request(conn)
    reply = b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + \
        struct.pack("!H", 4242)
    conn.sendall(reply + args.text.encode())
    conn.close()


def mode_http_eager(args):
    conn = listen(args)
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += recv_exact(conn, 1)
    conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n" +
                 args.text.encode())
    conn.close()


def mode_socks_client(args):
    conn = socket.create_connection((args.host, args.proxy_port))
    conn.sendall(b"\x05\x01\x00")
    recv_exact(conn, 2)
    conn.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(args.target) +
                 struct.pack("!H", args.target_port))
    reply = conn.recv(10)
    print(reply[1] if len(reply) > 1 else "closed")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int)
    p.add_argument("--ready")
    p.add_argument("--timeout", type=float, default=60)
    sub = p.add_subparsers(dest="mode", required=True)
    sub.add_parser("socks5-close")
    sub.add_parser("socks5-silent")
    for name in ("socks5-eager", "http-eager"):
        s = sub.add_parser(name)
        s.add_argument("text")
    s = sub.add_parser("socks-client")
    s.add_argument("host")
    s.add_argument("proxy_port", type=int)
    s.add_argument("target")
    s.add_argument("target_port", type=int)
    args = p.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    fn = globals()["mode_" + args.mode.replace("-", "_")]
    try:
        sys.exit(fn(args) or 0)
    except (EOFError, OSError) as e:
        print("proxypeer: %s" % e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
