#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A unix-socket peer that sends and receives descriptors (SCM_RIGHTS),
for qioc's descriptor-forwarding tests (fds.bats).

    fdpeer.py (--listen | --connect) (--unix PATH | --tcp PORT)
              [--ready FILE] [--conns N]
              [--send SPEC] [--kind memfd|pipe] [--file PATH]...
              [--lockstep] [--ack] [--expect FILE] [--report FILE]
              [--save FILE]

A listening peer writes "ready" to --ready (atomically) once it listens
and serves --conns clients (0: until killed), each in its own thread.
--tcp PORT uses TCP on 127.0.0.1 instead (no descriptors pass there).

--send SPEC sends messages, SPEC being "BYTES:NFDS[,BYTES:NFDS]...": each
message is BYTES bytes of letters ending in a newline, sent with one
sendmsg together with NFDS new descriptors (memfds, or pipes with
--kind pipe) whose content is the token "m<K>f<J>" (message K, descriptor
J). --file PATH adds a descriptor open on PATH to the first message.
--expect FILE gets what the other side should report (below).  With
--lockstep the sender waits for one "+" back after each message; with
--ack a receiver sends "+" for every newline it reads.  So in lockstep no
two messages are ever in flight at once.

Whatever arrives is read until end-of-file and described in --report
(appended, one block per connection, written when it ends):

    conn
    fds OFFSET TOKEN...    per recvmsg that carried descriptors: the
                           stream offset of its first byte and the
                           content of each descriptor, in order
    bytes N SHA256         all data received
    nfds N                 descriptors received

--save FILE gets the data received (or, on a peer that only sends, the
data sent).  A side without --send half-closes after end-of-file.
"""

import argparse
import hashlib
import os
import signal
import socket
import sys
import threading

LETTERS = bytes((b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" * 5)[:256])
MAX_FDS = 253
lock = threading.Lock()


def token_fd(token, kind):
    data = token.encode()
    if kind == "pipe":
        r, w = os.pipe()
        os.write(w, data)
        os.close(w)
        return r
    fd = os.memfd_create(token)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def read_fd(fd):
    chunks = []
    total = 0
    while total < 4096:
        b = os.read(fd, 4096 - total)
        if not b:
            break
        chunks.append(b)
        total += len(b)
    text = b"".join(chunks).decode("ascii", "replace").strip()
    return "".join("_" if c.isspace() else c for c in text) or "-"


def parse_spec(spec):
    msgs = []
    for item in spec.split(","):
        n, _, k = item.partition(":")
        msgs.append((int(n), int(k or 0)))
    return msgs


def build(args):
    """The messages to send: (data, fds), and the expected report."""
    out = []
    expect = ["conn"]
    sha = hashlib.sha256()
    offset = 0
    for k, (n, nfds) in enumerate(parse_spec(args.send)):
        data = os.urandom(max(n - 1, 0)).translate(LETTERS) + b"\n"
        data = data[-n:] if n else b""
        tokens = ["m%df%d" % (k, j) for j in range(nfds)]
        fds = [token_fd(t, args.kind) for t in tokens]
        if k == 0:
            for path in args.file or []:
                fds.append(os.open(path, os.O_RDONLY))
                with open(path, "rb") as f:
                    tokens.append(read_fd(f.fileno()))
        if fds:
            expect.append("fds %d %s" % (offset, " ".join(tokens)))
        out.append((data, fds))
        sha.update(data)
        offset += len(data)
    expect.append("bytes %d %s" % (offset, sha.hexdigest()))
    expect.append("nfds %d" % sum(len(f) for _, f in out))
    return out, expect


def sender(conn, msgs, acks, args, errors):
    try:
        for data, fds in msgs:
            if fds:
                sent = socket.send_fds(conn, [data], fds)
                for fd in fds:
                    os.close(fd)
                if sent < len(data):
                    conn.sendall(data[sent:])
            else:
                conn.sendall(data)
            if args.lockstep and not acks.acquire(timeout=args.timeout):
                raise OSError("no ack")
        conn.shutdown(socket.SHUT_WR)
    except OSError as e:
        errors.append("send: %s" % e)


def serve(conn, args):
    errors = []
    acks = threading.Semaphore(0)
    t = None
    if args.send:
        msgs, expect = build(args)
        if args.expect:
            with lock, open(args.expect, "a") as f:
                f.write("\n".join(expect) + "\n")
        if args.save:
            with lock, open(args.save, "ab") as f:
                f.write(b"".join(d for d, _ in msgs))
        t = threading.Thread(target=sender, args=(conn, msgs, acks, args, errors))
        t.start()
    report = ["conn"]
    sha = hashlib.sha256()
    offset = 0
    nfds = 0
    saved = []
    try:
        while True:
            data, fds, flags, _ = socket.recv_fds(conn, 1 << 16, MAX_FDS)
            if flags & socket.MSG_CTRUNC:
                errors.append("recv: descriptors truncated")
            if fds:
                report.append("fds %d %s" % (offset, " ".join(read_fd(fd) for fd in fds)))
                nfds += len(fds)
                for fd in fds:
                    os.close(fd)
            if not data and not fds:
                break
            sha.update(data)
            offset += len(data)
            if args.save and not args.send:
                saved.append(data)
            if args.lockstep:
                for _ in range(data.count(b"+")):
                    acks.release()
            if args.ack and data.count(b"\n"):
                conn.sendall(b"+" * data.count(b"\n"))
    except OSError as e:
        errors.append("recv: %s" % e)
    if t:
        t.join()
    else:
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    conn.close()
    report.append("bytes %d %s" % (offset, sha.hexdigest()))
    report.append("nfds %d" % nfds)
    with lock:
        if args.report:
            with open(args.report, "a") as f:
                f.write("\n".join(report) + "\n")
        if saved:
            with open(args.save, "ab") as f:
                f.write(b"".join(saved))
    for e in errors:
        print("fdpeer: " + e, file=sys.stderr)
    return 1 if errors else 0


def main():
    p = argparse.ArgumentParser(description="descriptor-passing peer")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--listen", action="store_true")
    g.add_argument("--connect", action="store_true")
    w = p.add_mutually_exclusive_group(required=True)
    w.add_argument("--unix")
    w.add_argument("--tcp", type=int, metavar="PORT")
    p.add_argument("--ready")
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--send")
    p.add_argument("--kind", choices=("memfd", "pipe"), default="memfd")
    p.add_argument("--file", action="append")
    p.add_argument("--lockstep", action="store_true")
    p.add_argument("--ack", action="store_true")
    p.add_argument("--expect")
    p.add_argument("--report")
    p.add_argument("--save")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    if args.tcp is not None:
        fam, addr = socket.AF_INET, ("127.0.0.1", args.tcp)
    else:
        fam, addr = socket.AF_UNIX, args.unix
    if args.connect:
        conn = socket.socket(fam, socket.SOCK_STREAM)
        conn.connect(addr)
        return serve(conn, args)

    srv = socket.socket(fam, socket.SOCK_STREAM)
    if fam == socket.AF_UNIX:
        try:
            os.unlink(args.unix)
        except FileNotFoundError:
            pass
    else:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(addr)
    srv.listen(16)
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write("ready\n")
        os.rename(args.ready + ".tmp", args.ready)
    threads = []
    results = []
    n = 0
    while args.conns == 0 or n < args.conns:
        conn, _ = srv.accept()
        n += 1
        t = threading.Thread(target=lambda c=conn: results.append(serve(c, args)))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return 1 if any(results) else 0


if __name__ == "__main__":
    sys.exit(main())
