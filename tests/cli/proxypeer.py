#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fake proxies and a file server for qioc's proxy tests (proxy.bats).

The real proxies (microsocks, dante, tinyproxy) cover the ordinary
handshakes; these cover what a real proxy does not do on demand: closing
in the middle of a handshake, sending its reply and the first bytes of
the tunnel in one segment, and telling the test exactly what the client
asked for.  Every mode listens on 127.0.0.1:--port (xfer, http and
serve-file on ::1 too, where it can be bound) and writes "ready" to the
--ready file (atomically, by rename) once it listens, so tests poll for
that file instead of sleeping.  --events FILE gets one line per thing
observed.

Modes:
  close-after-greeting         read the client's first bytes (a SOCKS
                               greeting or request, or an HTTP request
                               line), then close without answering
  silent                       read the client's first bytes, then say
                               nothing until the client closes
  early-data --proto P         do the proxy side of SOCKS4/4A (P socks4),
             [--data TEXT]     SOCKS5 (socks5) or HTTP CONNECT (http) and
                               send the success reply and TEXT in one
                               send(); then read to end-of-file and
                               close.  The request is
                               noted as one line: "socks4 HOST PORT USER",
                               "socks4a NAME PORT USER", "socks5 TYPE HOST
                               PORT" (TYPE ipv4, ipv6 or name), "socks5-auth
                               USER PASS", "http REQUEST-LINE" and "http
                               HEADER: VALUE" for each header
  xfer --send F --recv F       one client, on 127.0.0.1 or ::1 (whichever a
       [--exact N]             proxy resolving "localhost" picks): send F
       [--cert C --key K]      and half-close while writing what arrives
       [--close-first]         until end-of-file to the --recv file.  With
                               --exact, read N bytes and close without
                               half-closing first: microsocks and
                               tinyproxy end both directions when one
                               ends.  With --cert and --key (and --exact),
                               the same inside TLS, ended by close_notify
                               both ways; --close-first sends the sink's
                               close_notify and closes without waiting
                               for the client's
  http --directory D           python's http.server over D, on 127.0.0.1
                               and ::1 (where it can be bound): curl's
                               target, reached by a name or an address;
                               requests are noted, not printed
  serve-file --send F          accept clients (on 127.0.0.1 and ::1) until
                               killed; send each the file F, half-close,
                               read to end-of-file and close (one thread
                               per client)
"""

import argparse
import os
import select
import signal
import socket
import ssl
import struct
import sys
import threading


def note(args, line):
    if args.events:
        with open(args.events, "a") as f:
            f.write(line + "\n")


def mark_ready(args):
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        f.write("ready\n")
    os.rename(tmp, args.ready)


def listen(args, ready=True):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(8)
    if ready:
        mark_ready(args)
    return srv


def listen_both(args):
    """Listeners on 127.0.0.1 and, where it can be bound, ::1."""
    socks = [listen(args, ready=False)]
    try:
        s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s6.bind(("::1", args.port))
        s6.listen(8)
        socks.append(s6)
    except OSError:
        pass
    mark_ready(args)
    return socks


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        data = conn.recv(n - len(buf))
        if not data:
            raise EOFError("end-of-file after %d of %d bytes" % (len(buf), n))
        buf += data
    return buf


def recv_until(conn, end, limit=65536):
    buf = b""
    while not buf.endswith(end):
        data = conn.recv(1)
        if not data:
            raise EOFError("end-of-file in the middle of a message")
        buf += data
        if len(buf) > limit:
            raise ValueError("message too long")
    return buf


def drain(conn):
    while conn.recv(1 << 16):
        pass


def socks4_request(args, conn, first):
    # VN CD DSTPORT DSTIP USERID NUL [HOST NUL]
    head = first + recv_exact(conn, 7)
    port, ip = struct.unpack("!H4s", head[2:8])
    user = recv_until(conn, b"\0")[:-1].decode()
    if ip[:3] == b"\0\0\0" and ip[3] != 0:
        name = recv_until(conn, b"\0")[:-1].decode()
        note(args, "socks4a %s %d %s" % (name, port, user))
    else:
        note(args, "socks4 %s %d %s" % (socket.inet_ntoa(ip), port, user))
    return b"\x00\x5a" + head[2:8]


def socks5_request(args, conn, first):
    nmethods = recv_exact(conn, 1)[0]
    methods = recv_exact(conn, nmethods)
    if 2 in methods and args.auth:
        conn.sendall(b"\x05\x02")
        ver, ulen = recv_exact(conn, 2)
        user = recv_exact(conn, ulen).decode()
        plen = recv_exact(conn, 1)[0]
        pw = recv_exact(conn, plen).decode()
        note(args, "socks5-auth %s %s" % (user, pw))
        conn.sendall(b"\x01\x00")
    else:
        conn.sendall(b"\x05\x00")
    ver, cmd, rsv, atyp = recv_exact(conn, 4)
    if atyp == 1:
        kind, host = "ipv4", socket.inet_ntop(socket.AF_INET,
                                              recv_exact(conn, 4))
    elif atyp == 4:
        kind, host = "ipv6", socket.inet_ntop(socket.AF_INET6,
                                              recv_exact(conn, 16))
    else:
        kind, host = "name", recv_exact(conn, recv_exact(conn, 1)[0]).decode()
    port = struct.unpack("!H", recv_exact(conn, 2))[0]
    note(args, "socks5 %s %s %d" % (kind, host, port))
    # Bound address 127.0.0.1:4321.
    return b"\x05\x00\x00\x01\x7f\x00\x00\x01\x10\xe1"


def http_request(args, conn, first):
    block = (first + recv_until(conn, b"\r\n\r\n")).decode("latin-1")
    lines = block.split("\r\n")
    note(args, "http " + lines[0])
    for line in lines[1:]:
        if line:
            note(args, "http " + line)
    return b"HTTP/1.1 200 OK\r\n\r\n"


def mode_close_after_greeting(args):
    srv = listen(args)
    conn, _ = srv.accept()
    data = conn.recv(512)
    note(args, "got %d" % len(data))
    conn.close()
    note(args, "closed")


def mode_silent(args):
    srv = listen(args)
    conn, _ = srv.accept()
    data = conn.recv(512)
    note(args, "got %d" % len(data))
    drain(conn)
    note(args, "eof")
    conn.close()


def mode_early_data(args):
    srv = listen(args)
    conn, _ = srv.accept()
    first = recv_exact(conn, 1)
    handler = {"socks4": socks4_request, "socks5": socks5_request,
               "http": http_request}[args.proto]
    reply = handler(args, conn, first)
    # The reply and the tunnel's first bytes in one segment.
    conn.sendall(reply + args.data.encode())
    note(args, "sent")
    drain(conn)
    note(args, "eof")
    conn.close()


def mode_xfer(args):
    socks = listen_both(args)
    ready, _, _ = select.select(socks, [], [])
    conn, peer = ready[0].accept()
    for s in socks:
        s.close()
    note(args, "peer %s" % peer[0])
    with open(args.send, "rb") as f:
        down = f.read()
    if args.cert:
        return xfer_tls(args, conn, down)
    errors = []

    def sender():
        try:
            conn.sendall(down)
            if args.exact is None:
                conn.shutdown(socket.SHUT_WR)
            note(args, "sent")
        except OSError as e:
            errors.append("send: %s" % e)

    t = threading.Thread(target=sender)
    t.start()
    with open(args.recv, "wb") as f:
        got = 0
        while args.exact is None or got < args.exact:
            want = 1 << 16
            if args.exact is not None:
                want = min(want, args.exact - got)
            data = conn.recv(want)
            if not data:
                break
            f.write(data)
            got += len(data)
    note(args, "received %d" % got)
    t.join()
    conn.close()
    for e in errors:
        note(args, e)
        print("proxypeer: " + e, file=sys.stderr)
    return 1 if errors else 0


def xfer_tls(args, conn, down):
    """One TLS session: send all, receive --exact bytes, then close_notify.
    One thread: OpenSSL objects are not shared between threads, and qioc
    reads while it writes, so sending first is safe.  With --close-first
    the sink sends its close_notify and closes without waiting for the
    client's (which a proxy that does not half-close would lose anyway);
    otherwise it waits for the client's close_notify."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    tls = ctx.wrap_socket(conn, server_side=True)
    note(args, "handshake %s" % tls.version())
    tls.sendall(down)
    note(args, "sent")
    got = 0
    with open(args.recv, "wb") as f:
        while got < args.exact:
            data = tls.recv(min(1 << 16, args.exact - got))
            if not data:
                break
            f.write(data)
            got += len(data)
    note(args, "received %d" % got)
    if args.close_first:
        # Non-blocking: SSL_shutdown sends close_notify, and the wait
        # for the client's fails at once. While the socket has no room
        # (the client still reading what was sent), wait until it has:
        # giving up then would close without the close_notify.
        tls.setblocking(False)
    try:
        while True:
            try:
                tls.unwrap()
                note(args, "close_notify")
                break
            except ssl.SSLWantWriteError:
                # tls, not conn: wrap_socket() detached conn (fileno -1).
                select.select([], [tls], [], 10)
    except ssl.SSLWantReadError:
        note(args, "close_notify sent")
    except (OSError, ssl.SSLError) as e:
        note(args, "unwrap: %s" % e)
    # The socket is tls's since wrap_socket(): closing conn would leave
    # it open until the process ends, after "closed" was noted.
    tls.close()
    note(args, "closed")
    return 0


def serve_one(conn, path):
    try:
        with open(path, "rb") as f:
            conn.sendall(f.read())
        conn.shutdown(socket.SHUT_WR)
        drain(conn)
    except OSError:
        pass
    conn.close()


def mode_serve_file(args):
    socks = listen_both(args)
    while True:
        ready, _, _ = select.select(socks, [], [])
        for srv in ready:
            conn, _ = srv.accept()
            threading.Thread(target=serve_one, args=(conn, args.send),
                             daemon=True).start()


def mode_http(args):
    """python's http.server over --directory, on 127.0.0.1 and ::1."""
    import functools
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt, *a):
            note(args, "http " + fmt % a)

    handler = functools.partial(Quiet, directory=args.directory)

    class V6(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6

        def server_bind(self):
            self.socket.setsockopt(socket.IPPROTO_IPV6,
                                   socket.IPV6_V6ONLY, 1)
            super().server_bind()

    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", args.port),
                                               handler)]
    try:
        servers.append(V6(("::1", args.port), handler))
    except OSError:
        pass
    for srv in servers[1:]:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    mark_ready(args)
    servers[0].serve_forever()


def main():
    p = argparse.ArgumentParser(description="fake proxies for qioc's tests")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--events")
    p.add_argument("--timeout", type=float, default=60,
                   help="give up (exit 3) after this many seconds")
    sub = p.add_subparsers(dest="mode", required=True)
    sub.add_parser("close-after-greeting")
    sub.add_parser("silent")
    s = sub.add_parser("early-data")
    s.add_argument("--proto", choices=["socks4", "socks5", "http"],
                   required=True)
    s.add_argument("--data", default="hello")
    s.add_argument("--auth", action="store_true",
                   help="socks5: choose username/password when offered")
    s = sub.add_parser("xfer")
    s.add_argument("--send", required=True)
    s.add_argument("--recv", required=True)
    s.add_argument("--exact", type=int,
                   help="read this many bytes, never half-close")
    s.add_argument("--cert", help="speak TLS (needs --exact)")
    s.add_argument("--key")
    s.add_argument("--close-first", action="store_true",
                   help="TLS: close without waiting for close_notify")
    s = sub.add_parser("serve-file")
    s.add_argument("--send", required=True)
    s = sub.add_parser("http")
    s.add_argument("--directory", required=True)
    args = p.parse_args()
    # A peer never outlives a broken test by much.
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    fn = globals()["mode_" + args.mode.replace("-", "_")]
    try:
        sys.exit(fn(args) or 0)
    except (EOFError, ValueError, OSError) as e:
        note(args, "error %s" % e)
        print("proxypeer: %s" % e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
