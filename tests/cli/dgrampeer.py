#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real datagram peers for qioc's command-line tests (tests/cli/dgram.bats).

An address is HOST:PORT (UDP; an IPv6 host in brackets, [::1]:PORT), a
unix socket path starting with "/" or ".", or @NAME for the abstract
namespace. A peer that receives writes "ready" to --ready (atomically,
by rename) once bound, so tests poll for the file instead of sleeping.

Modes:
  free-port                  print a UDP port free on 127.0.0.1 and ::1
  echo ADDR [--count N]      answer every datagram to its sender, as is,
                             N times (default: until killed)
  recv ADDR --count N        receive N datagrams; print their lengths, one
       [--out FILE]          per line, and write them (concatenated) to FILE
  send ADDR --sizes L,L,...  send one datagram per size (random bytes, the
       [--out FILE]          i-th starts with its index) from a socket of
       [--bind ADDR]         its own; write them (concatenated) to FILE
       [--replies]           then receive as many answers and check each
                             is the datagram sent, byte for byte
  clients ADDR --clients N   N sockets at once, each sending --count M
          --count M          datagrams that name the client, each waiting
                             for its answers: every client must get back
                             exactly its own datagrams; prints "ok N M"
"""

import argparse
import os
import random
import socket
import sys
import threading


def parse_addr(text):
    if text.startswith("/") or text.startswith("."):
        return socket.AF_UNIX, text
    if text.startswith("@"):
        return socket.AF_UNIX, "\0" + text[1:]
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, (host, int(port))


def dgram_socket(family):
    return socket.socket(family, socket.SOCK_DGRAM)


def bound_client(family, bind=None, tmpdir=None, tag=""):
    s = dgram_socket(family)
    if bind:
        s.bind(parse_addr(bind)[1])
    elif family == socket.AF_UNIX:
        # An unbound unix sender cannot be answered: autobind a name.
        s.bind("")
    return s


def mark_ready(path):
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write("ready\n")
        os.rename(tmp, path)


def payload(size, index, tag=b""):
    head = b"%s#%d:" % (tag, index)
    if size <= len(head):
        return head[:size]
    return head + random.randbytes(size - len(head))


def cmd_free_port(args):
    while True:
        a = dgram_socket(socket.AF_INET)
        a.bind(("127.0.0.1", 0))
        port = a.getsockname()[1]
        try:
            b = dgram_socket(socket.AF_INET6)
            b.bind(("::1", port))
            b.close()
        except OSError:
            a.close()
            continue
        a.close()
        print(port)
        return 0


def receiver(args):
    family, addr = parse_addr(args.addr)
    s = dgram_socket(family)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(addr)
    mark_ready(args.ready)
    return s


def cmd_echo(args):
    s = receiver(args)
    n = 0
    while args.count is None or n < args.count:
        data, peer = s.recvfrom(1 << 17)
        s.sendto(data, peer)
        n += 1
    return 0


def cmd_recv(args):
    s = receiver(args)
    out = open(args.out, "wb") if args.out else None
    for _ in range(args.count):
        data = s.recv(1 << 20)
        print(len(data), flush=True)
        if out:
            out.write(data)
            out.flush()
    return 0


def cmd_send(args):
    family, addr = parse_addr(args.addr)
    s = bound_client(family, args.bind)
    s.settimeout(args.timeout)
    sent = [payload(int(n), i) for i, n in enumerate(args.sizes.split(","))]
    for d in sent:
        s.sendto(d, addr)
    if args.out:
        with open(args.out, "wb") as f:
            f.write(b"".join(sent))
    if not args.replies:
        return 0
    got = [s.recv(1 << 17) for _ in sent]
    if got != sent:
        print("answers differ: sent %s, got %s"
              % ([len(d) for d in sent], [len(d) for d in got]))
        return 1
    print("ok %d" % len(got))
    return 0


def one_client(args, family, addr, index, errors):
    s = bound_client(family)
    s.settimeout(args.timeout)
    tag = b"client%d" % index
    sent = [payload(random.randint(1, 1400), i, tag) for i in range(args.count)]
    try:
        for d in sent:
            s.sendto(d, addr)
            got = s.recv(1 << 17)
            if got != d:
                errors.append("client %d: sent %r..., got %r..."
                              % (index, d[:20], got[:20]))
                return
    except OSError as e:
        errors.append("client %d: %s" % (index, e))


def cmd_clients(args):
    family, addr = parse_addr(args.addr)
    errors = []
    threads = [threading.Thread(target=one_client,
                                args=(args, family, addr, i, errors))
               for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print("\n".join(errors))
        return 1
    print("ok %d %d" % (args.clients, args.count))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    sub.add_parser("free-port")
    for name in ("echo", "recv", "send", "clients"):
        m = sub.add_parser(name)
        m.add_argument("addr")
        m.add_argument("--ready")
        m.add_argument("--count", type=int)
        m.add_argument("--out")
        m.add_argument("--sizes", default="1")
        m.add_argument("--bind")
        m.add_argument("--replies", action="store_true")
        m.add_argument("--clients", type=int, default=1)
        m.add_argument("--timeout", type=float, default=10)
    args = p.parse_args()
    return {"free-port": cmd_free_port, "echo": cmd_echo, "recv": cmd_recv,
            "send": cmd_send, "clients": cmd_clients}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
