#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real network peer for qioc's command-line tests.

Every mode talks over one stream connection: a TCP port (--port, with
--host, default 127.0.0.1), a unix socket path (--unix) or an abstract
name (--abstract). By default the peer listens and serves one client;
with --connect it connects instead.  A listening peer writes "ready" to
the --ready file (atomically, by rename) once it listens, so tests poll
for that file instead of sleeping.  --events FILE gets one line per thing
the peer observed ("peer 127.0.0.1 40000", "eof", "no-eof", ...).

Modes:
  echo-after-eof [--delay S]   read until end-of-file, wait S seconds,
                               send back everything read, close
  xfer [--send F] [--recv F]   at once: send F then half-close (or keep
       [--no-shut]             open with --no-shut), and write what is
                               received until end-of-file to F
  probe [--window S]           read until end-of-file; if none comes
        [--reply TEXT]         within S seconds of silence, note
                               "no-eof"; then try to send TEXT and close
  hold [--send TEXT]           send TEXT, read and discard until end-of-file,
       [--stay S]              then keep the connection open S seconds
  trickle --count N            send one byte every S seconds, N times,
          --interval S         then half-close and read until end-of-file
  reset [--send-bytes N]       send N bytes, read --recv-bytes N bytes,
        [--recv-bytes N]       then close with SO_LINGER 0 (an RST)
  blackhole                    listen with a full backlog, so that further
                               connects hang; stays until killed
  free-port [--v6]             print a port free on 127.0.0.1 (and ::)
  stale-unix PATH              leave a unix socket file nobody listens on
"""

import argparse
import os
import signal
import socket
import struct
import sys
import threading
import time


def note(args, line):
    if args.events:
        with open(args.events, "a") as f:
            f.write(line + "\n")


def mark_ready(args):
    if args.ready:
        tmp = args.ready + ".tmp"
        with open(tmp, "w") as f:
            f.write("ready\n")
        os.rename(tmp, args.ready)
    else:
        print("ready", flush=True)


def sock_family_addr(args):
    if args.unix is not None:
        return socket.AF_UNIX, args.unix
    if args.abstract is not None:
        return socket.AF_UNIX, "\0" + args.abstract
    fam = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    return fam, (args.host, args.port)


def listen_socket(args, backlog=None):
    fam, addr = sock_family_addr(args)
    srv = socket.socket(fam, socket.SOCK_STREAM)
    if fam != socket.AF_UNIX:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    elif fam == socket.AF_UNIX and args.unix is not None:
        try:
            os.unlink(args.unix)
        except FileNotFoundError:
            pass
    srv.bind(addr)
    srv.listen(args.backlog if backlog is None else backlog)
    return srv


def open_conn(args):
    """One connected stream: accepted (default) or connected (--connect)."""
    fam, addr = sock_family_addr(args)
    if args.connect:
        conn = socket.socket(fam, socket.SOCK_STREAM)
        conn.connect(addr)
    else:
        srv = listen_socket(args)
        mark_ready(args)
        conn, _ = srv.accept()
        srv.close()
        if args.unix is not None:
            try:
                os.unlink(args.unix)
            except FileNotFoundError:
                pass
    if fam != socket.AF_UNIX:
        local, peer = conn.getsockname(), conn.getpeername()
        note(args, "local %s %d" % (local[0], local[1]))
        note(args, "peer %s %d" % (peer[0], peer[1]))
    return conn


def read_to_eof(conn, sink=None):
    total = 0
    while True:
        data = conn.recv(1 << 16)
        if not data:
            return total
        total += len(data)
        if sink is not None:
            sink.write(data)


def send_file(conn, path):
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 16)
            if not chunk:
                return
            conn.sendall(chunk)


def mode_echo_after_eof(args):
    conn = open_conn(args)
    chunks = []
    while True:
        data = conn.recv(1 << 16)
        if not data:
            break
        chunks.append(data)
    note(args, "eof")
    time.sleep(args.delay)
    conn.sendall(b"".join(chunks))
    note(args, "sent")
    conn.close()


def mode_xfer(args):
    conn = open_conn(args)
    errors = []

    def sender():
        try:
            if args.send:
                send_file(conn, args.send)
                note(args, "sent")
            if not args.no_shut:
                conn.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append("send: %s" % e)

    t = threading.Thread(target=sender)
    t.start()
    try:
        if args.recv:
            with open(args.recv, "wb") as f:
                read_to_eof(conn, f)
        else:
            read_to_eof(conn)
        note(args, "eof")
    except OSError as e:
        errors.append("recv: %s" % e)
    t.join()
    conn.close()
    for e in errors:
        note(args, e)
        print("peer: " + e, file=sys.stderr)
    return 1 if errors else 0


def mode_probe(args):
    conn = open_conn(args)
    conn.settimeout(args.window)
    try:
        read_to_eof(conn)
        note(args, "eof")
    except socket.timeout:
        note(args, "no-eof")
    except OSError as e:
        note(args, "recv-error %s" % e.strerror)
    conn.settimeout(None)
    try:
        conn.sendall(args.reply.encode())
        time.sleep(0.2)  # give an RST time to come back
        conn.sendall(args.reply.encode())
        note(args, "reply-sent")
    except OSError as e:
        note(args, "reply-failed %s" % e.strerror)
    conn.close()


def mode_hold(args):
    conn = open_conn(args)
    if args.send:
        conn.sendall(args.send.encode())
        note(args, "sent")
    n = read_to_eof(conn)
    note(args, "eof %d" % n)
    if args.stay:
        time.sleep(args.stay)
    conn.close()


def mode_trickle(args):
    conn = open_conn(args)
    for _ in range(args.count):
        conn.sendall(b"x")
        time.sleep(args.interval)
    conn.shutdown(socket.SHUT_WR)
    note(args, "sent")
    read_to_eof(conn)
    note(args, "eof")
    conn.close()


def mode_reset(args):
    conn = open_conn(args)
    if args.send_bytes:
        conn.sendall(b"r" * args.send_bytes)
        note(args, "sent")
    got = 0
    while got < args.recv_bytes:
        data = conn.recv(min(1 << 16, args.recv_bytes - got))
        if not data:
            break
        got += len(data)
    note(args, "received %d" % got)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    conn.close()
    note(args, "reset")


def mode_blackhole(args):
    srv = listen_socket(args, backlog=0)
    fam, addr = sock_family_addr(args)
    fillers = []
    # Fill the accept queue; later SYNs are dropped and connects hang.
    for _ in range(4):
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(addr)
        except BlockingIOError:
            pass
        fillers.append(c)
    mark_ready(args)
    while True:
        time.sleep(1)


def mode_free_port(args):
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 0))
    except OSError:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def mode_stale_unix(args):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(args.path)
    s.close()


def main():
    p = argparse.ArgumentParser(description="peer for qioc's tests")
    p.add_argument("--port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--unix")
    p.add_argument("--abstract")
    p.add_argument("--connect", action="store_true")
    p.add_argument("--ready")
    p.add_argument("--events")
    p.add_argument("--backlog", type=int, default=8)
    p.add_argument("--timeout", type=float, default=60,
                   help="give up (exit 3) after this many seconds")
    sub = p.add_subparsers(dest="mode", required=True)

    s = sub.add_parser("echo-after-eof")
    s.add_argument("--delay", type=float, default=0)
    s = sub.add_parser("xfer")
    s.add_argument("--send")
    s.add_argument("--recv")
    s.add_argument("--no-shut", action="store_true")
    s = sub.add_parser("probe")
    s.add_argument("--window", type=float, default=1.0)
    s.add_argument("--reply", default="reply\n")
    s = sub.add_parser("hold")
    s.add_argument("--send", help="text to send first")
    s.add_argument("--stay", type=float, default=0,
                   help="after end-of-file, keep the connection this long")
    s = sub.add_parser("trickle")
    s.add_argument("--count", type=int, default=5)
    s.add_argument("--interval", type=float, default=0.2)
    s = sub.add_parser("reset")
    s.add_argument("--send-bytes", type=int, default=0)
    s.add_argument("--recv-bytes", type=int, default=0)
    sub.add_parser("blackhole")
    s = sub.add_parser("free-port")
    s = sub.add_parser("stale-unix")
    s.add_argument("path")

    args = p.parse_args()
    # A peer never outlives a broken test by much.
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    fn = globals()["mode_" + args.mode.replace("-", "_")]
    sys.exit(fn(args) or 0)


if __name__ == "__main__":
    main()
