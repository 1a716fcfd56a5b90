#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Slow and hostile peers for tests/cli/hostile.bats.

ADDR is HOST:PORT for TCP or a path (it holds a "/") for a unix socket.
--tls CAFILE makes a client speak TLS (checking the server's certificate
for "localhost") once connected.  A peer that serves writes its --ready
file (atomically, by rename) once it listens; a client that must hold a
state writes --ready once it is there, so the tests poll for files and
never sleep.  Results go to --report as one line of key=value words.

Modes:
  echo --listen ADDR           echo every client (any number, one thread,
                               non-blocking); half-closes after the client's
                               end-of-file
  flood --listen ADDR          send --bytes N to the one client as fast as
                               it takes them; report "stalled sent=K" once
                               no byte could be sent for --stall S seconds,
                               then "done sent=N sha256=H" at the end, or
                               "cut sent=K error=ERRNO" when the connection
                               is cut
  silent --connect ADDR        open --count N connections at once
                               (non-blocking) that never send a byte, then
                               wait until each is closed by the other end
                               (end-of-file or reset), at most --limit S
  slowloris --connect ADDR     send a real TLS ClientHello one byte every
                               --interval S until the server cuts it off
  sluggard --connect ADDR      connect (TLS with --tls), read nothing until
                               the --go file exists, then read to
                               end-of-file; report "received=N sha256=H";
                               with --reset, close with SO_LINGER 0 instead
  reset --connect ADDR         exchange with an echo server until --after N
                               bytes came back, send more, then close with
                               SO_LINGER 0 (an RST) while data is in flight
  check --connect ADDR         send --bytes N random bytes through an echo
                               server, check they come back intact
  socks --connect ADDR         the same through a SOCKS5 server, asking it
        --target HOST:PORT     for HOST:PORT
"""

import argparse
import hashlib
import os
import resource
import select
import socket
import ssl
import struct
import sys
import time


def raise_nofile(want=8192):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft == resource.RLIM_INFINITY or soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.rename(tmp, path)


def report(args, text):
    if args.report:
        with open(args.report, "a") as f:
            f.write(text + "\n")
    print(text, flush=True)


def family_addr(a):
    if "/" in a:
        return socket.AF_UNIX, a
    host, _, port = a.rpartition(":")
    return socket.AF_INET, (host or "127.0.0.1", int(port))


def listen(a):
    fam, addr = family_addr(a)
    s = socket.socket(fam, socket.SOCK_STREAM)
    if fam == socket.AF_INET:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    s.listen(4096)
    return s


def tls_context(cafile):
    return ssl.create_default_context(cafile=cafile)


def connect(args, rcvbuf=None):
    fam, addr = family_addr(args.connect)
    s = socket.socket(fam, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(args.limit)
    s.connect(addr)
    if args.tls:
        s = tls_context(args.tls).wrap_socket(s, server_hostname="localhost")
    return s


# ---------------------------------------------------------------- servers


def mode_echo(args):
    import selectors

    sel = selectors.DefaultSelector()
    srv = listen(args.listen)
    srv.setblocking(False)
    sel.register(srv, selectors.EVENT_READ, None)
    write_atomic(args.ready, "ready")
    conns = {}  # sock -> [pending bytes, eof seen]
    while True:
        for key, ev in sel.select():
            s = key.fileobj
            if s is srv:
                while True:
                    try:
                        c, _ = srv.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    c.setblocking(False)
                    conns[c] = [bytearray(), False]
                    sel.register(c, selectors.EVENT_READ, None)
                continue
            st = conns[s]
            try:
                if ev & selectors.EVENT_READ and not st[1]:
                    b = s.recv(1 << 16)
                    if b:
                        st[0] += b
                    else:
                        st[1] = True
                if st[0]:
                    n = s.send(st[0])
                    del st[0][:n]
            except BlockingIOError:
                pass
            except OSError:
                sel.unregister(s)
                s.close()
                del conns[s]
                continue
            if st[1] and not st[0]:
                sel.unregister(s)
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                s.close()
                del conns[s]
                continue
            # Read no more while a backlog waits to be sent back.
            mask = selectors.EVENT_WRITE if st[0] else 0
            if len(st[0]) < (1 << 20) and not st[1]:
                mask |= selectors.EVENT_READ
            sel.modify(s, mask, None)


def mode_flood(args):
    srv = listen(args.listen)
    write_atomic(args.ready, "ready")
    c, _ = srv.accept()
    # Small kernel buffers at both ends that the test controls, so that
    # what goes out before the stall is mostly what qioc holds.
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
    block = os.urandom(1048573)  # no power of two: the chunks shift
    h = hashlib.sha256()
    sent = 0
    stalled = False
    c.setblocking(False)
    while sent < args.bytes:
        off = sent % len(block)
        chunk = block[off : off + min(1 << 16, args.bytes - sent)]
        _, w, _ = select.select([], [c], [], args.stall)
        if not w:
            if not stalled:
                report(args, "stalled sent=%d" % sent)
                stalled = True
            continue
        try:
            n = c.send(chunk)
        except BlockingIOError:
            continue
        except OSError as e:
            report(args, "cut sent=%d error=%s" % (sent, e.errno))
            return 0
        h.update(chunk[:n])
        sent += n
    c.shutdown(socket.SHUT_WR)
    c.setblocking(True)
    c.settimeout(args.limit)
    try:
        while c.recv(1 << 16):
            pass
    except OSError:
        pass
    c.close()
    report(args, "done sent=%d sha256=%s" % (sent, h.hexdigest()))


# ---------------------------------------------------------------- clients


def mode_silent(args):
    raise_nofile(args.count + 256)
    fam, addr = family_addr(args.connect)
    ep = select.epoll()
    socks = {}
    connected = {}
    failed = []

    def finished(timeout):
        """Note the time of each connect that finished (its cut is timed
        from then); polled between the connects too, so that a slow loop
        does not date them late."""
        for fd, _ in ep.poll(timeout):
            if fd in connected:
                continue
            s = socks[fd]
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                if not failed:
                    print("connect: %s" % os.strerror(err), file=sys.stderr)
                failed.append(fd)
                ep.unregister(fd)
                continue
            connected[fd] = time.monotonic()
            ep.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)

    for i in range(args.count):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(addr)
        except (BlockingIOError, InterruptedError):
            pass
        socks[s.fileno()] = s
        ep.register(s.fileno(), select.EPOLLOUT)
        if i % 50 == 49:
            finished(0)
    # Wait for every connect to finish.
    deadline = time.monotonic() + args.limit
    while len(connected) + len(failed) < args.count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        finished(left)
    if len(connected) < args.count:
        report(args, "connected=%d failed=%d of %d" % (len(connected), len(failed), args.count))
        return 1
    write_atomic(args.ready, "connected=%d" % len(connected))
    # Wait for the other end to close each.
    cut = []
    data = 0
    deadline = time.monotonic() + args.limit
    while connected:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for fd, _ in ep.poll(left):
            s = socks[fd]
            try:
                b = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                b = b""
            if b:
                data += len(b)
                continue
            cut.append(time.monotonic() - connected.pop(fd))
            ep.unregister(fd)
            s.close()
    report(
        args,
        "closed=%d open=%d data=%d min=%.2f max=%.2f"
        % (len(cut), len(connected), data, min(cut, default=0), max(cut, default=0)),
    )
    return 0


def client_hello():
    """The first record python's TLS client sends: a real ClientHello."""
    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def mode_slowloris(args):
    hello = client_hello()
    assert hello[0] == 0x16, "not a TLS handshake record"
    fam, addr = family_addr(args.connect)
    s = socket.create_connection(addr, timeout=args.limit)
    start = time.monotonic()
    sent = 0
    how = "not cut"
    while sent < len(hello) and time.monotonic() - start < args.limit:
        try:
            s.send(hello[sent : sent + 1])
        except OSError as e:
            how = "cut (%s)" % e.strerror
            break
        sent += 1
        if sent == 1:
            write_atomic(args.ready, "sending")
        # The pace of the dribble, and the watch for the cut.
        r, _, _ = select.select([s], [], [], args.interval)
        if r:
            try:
                b = s.recv(4096)
            except OSError as e:
                how = "cut (%s)" % e.strerror
                break
            if not b:
                how = "cut (end-of-file)"
                break
    report(
        args,
        "%s after=%.2f sent=%d of=%d" % (how, time.monotonic() - start, sent, len(hello)),
    )


def mode_sluggard(args):
    s = connect(args, rcvbuf=1 << 16)
    s.settimeout(None)
    write_atomic(args.ready, "connected")
    deadline = time.monotonic() + args.limit
    while not os.path.exists(args.go):
        if time.monotonic() > deadline:
            report(args, "never told to read")
            return 1
        time.sleep(0.01)
    if args.reset:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        report(args, "reset")
        return 0
    s.settimeout(args.limit)
    h = hashlib.sha256()
    n = 0
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        h.update(b)
        n += len(b)
    s.close()
    report(args, "received=%d sha256=%s" % (n, h.hexdigest()))


def exchange(s, data, chunk=1 << 16):
    """Send @data to an echo server a chunk at a time, reading each back."""
    got = bytearray()
    for off in range(0, len(data), chunk):
        part = data[off : off + chunk]
        s.sendall(part)
        want = len(got) + len(part)
        while len(got) < want:
            b = s.recv(want - len(got))
            if not b:
                return got
            got += b
    return got


def mode_reset(args):
    s = connect(args)
    data = os.urandom(args.after)
    got = exchange(s, data)
    if got != data:
        report(args, "bad echo: %d bytes back of %d" % (len(got), len(data)))
        return 1
    # More on its way both ways when the reset goes out.
    s.sendall(os.urandom(1 << 16))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    report(args, "reset after=%d" % len(got))


def round_trip(s, n):
    data = os.urandom(n)
    start = time.monotonic()
    got = exchange(s, data)
    took = time.monotonic() - start
    if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
        return "bad: %d bytes back of %d" % (len(got), len(data))
    return "ok bytes=%d took=%.3f" % (n, took)


def mode_check(args):
    start = time.monotonic()
    s = connect(args)
    r = round_trip(s, args.bytes)
    s.close()
    print("%s served=%.3f" % (r, time.monotonic() - start), flush=True)
    return 0 if r.startswith("ok") else 1


def recv_exact(s, n):
    got = b""
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            raise EOFError("end-of-file after %d of %d bytes" % (len(got), n))
        got += b
    return got


def mode_socks(args):
    start = time.monotonic()
    s = connect(args)
    s.sendall(b"\x05\x01\x00")
    assert recv_exact(s, 2) == b"\x05\x00", "no-auth refused"
    host, _, port = args.target.rpartition(":")
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack("!H", int(port)))
    rep = recv_exact(s, 10)
    assert rep[1] == 0, "SOCKS reply %d" % rep[1]
    r = round_trip(s, args.bytes)
    s.close()
    print("%s served=%.3f" % (r, time.monotonic() - start), flush=True)
    return 0 if r.startswith("ok") else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode")
    ap.add_argument("--listen")
    ap.add_argument("--connect")
    ap.add_argument("--tls")
    ap.add_argument("--ready")
    ap.add_argument("--report")
    ap.add_argument("--go")
    ap.add_argument("--target")
    ap.add_argument("--reset", action="store_true")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--bytes", type=int, default=1 << 20)
    ap.add_argument("--after", type=int, default=1 << 20)
    ap.add_argument("--stall", type=float, default=1.0)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--limit", type=float, default=20.0)
    args = ap.parse_args()
    raise_nofile()
    modes = {
        "echo": mode_echo,
        "flood": mode_flood,
        "silent": mode_silent,
        "slowloris": mode_slowloris,
        "sluggard": mode_sluggard,
        "reset": mode_reset,
        "check": mode_check,
        "socks": mode_socks,
    }
    sys.exit(modes[args.mode](args) or 0)


if __name__ == "__main__":
    main()
