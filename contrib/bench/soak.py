#!/usr/bin/env python3
# soak.py - backend, load driver and verdict of soak.sh (benchmark helper)
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   soak.py backend
#       Serves 127.0.0.1 on a port from the kernel; prints "backend PORT".
#   soak.py load --plain HOST:PORT --tls HOST:PORT --cafile CERT --status FILE
#       Mixed load through the relays (see CLIENTS below) until SIGTERM or
#       SIGINT. First one checked request through each relay (a refused
#       connect is retried for 10 s); then FILE is written, and rewritten
#       every 0.5 s and at exit, as one line "requests N bytes N errors N
#       resets N" (counters since the start). Errors are also printed to
#       stderr (the first 20 and then every 100th), with their kind.
#       A failed check: "error ..." on stderr and exit status 2.
#   soak.py verdict SAMPLES [--fds-idle NAME BEFORE AFTER]...
#       Reads the samples soak.sh wrote ("NAME SECONDS RSS_KIB FDS" per
#       line) and prints the verdict (rule below); exit status 0 when every
#       figure is flat, 1 when one grows.
#
# The protocol between the clients and the backend (through the relay),
# one connection carrying one or more commands:
#
#   REQ M N OFF\n + M bytes   -> "%08x\n" (CRC-32 of the M bytes) + N bytes
#                                of the stream at OFF
#   BULK N OFF\n + N bytes    -> N bytes of the stream at OFF, sent while the
#                                N bytes are read, then "%08x\n": the CRC-32
#                                of the N bytes received
#   SEND N OFF\n              -> N bytes of the stream at OFF
#
# The backend closes the connection at end-of-file from the client. "The
# stream at OFF" is POOL, a fixed pseudo-random buffer that both ends make
# from the same seed, repeated without end, from byte OFF on: the clients
# check every byte they receive against it, and a bulk transfer's CRC-32
# both ways against the CRC-32 of what was sent (the same stream).
import argparse
import asyncio
import os
import random
import signal
import socket
import ssl
import statistics
import struct
import sys
import time
import zlib

POOL_SIZE = (1 << 20) + 4093  # not a power of two: a repeat is not a chunk
POOL = random.Random(0x50A4).randbytes(POOL_SIZE)
POOL2 = POOL + POOL  # any slice of up to POOL_SIZE bytes without wrapping
CHUNK = 256 << 10

# The load, per relay (plain, tls): how many clients of each kind run at
# once, and how they pace themselves. 19 clients through the plain relay,
# 10 through the TLS one, about 500 requests per second in all: enough
# to exercise every path of the relay's loop, little enough to leave a
# 2-core machine usable.
CLIENTS = {
    #               plain  tls
    "newconn": (4, 2),  # a new connection per request, then PACE_NEWCONN s
    "keepalive": (8, 4),  # KEEPALIVE_REQS requests per connection, paced
    "bulk": (1, 1),  # BULK_SIZE each way, checksummed, then BULK_PAUSE s
    "reset": (2, 1),  # reads part of a big answer, then resets (linger 0)
    "slow": (4, 2),  # reads SLOW_RATE bytes/s for SLOW_SECS, then closes
}
PACE_NEWCONN = 0.02  # seconds between requests of one newconn client
PACE_KEEPALIVE = 0.01  # seconds between requests of one keepalive client
KEEPALIVE_REQS = (200, 2000)  # requests per keep-alive connection
REQ_BODY = (0, 2048)  # request body, bytes
REQ_ANSWER = (1, 16384)  # answer, bytes
BULK_SIZE = 64 << 20
BULK_PAUSE = 5.0
RESET_AFTER = (16 << 10, 4 << 20)  # bytes read before the reset
RESET_PAUSE = 0.5
SLOW_RATE = 4096  # bytes per second
SLOW_SECS = (10, 30)
TIMEOUT = 30  # seconds for a request, 120 for a bulk transfer


def stream_chunks(off, n, chunk=CHUNK):
    """The stream at OFF, N bytes, as memoryviews of at most CHUNK."""
    pos = off % POOL_SIZE
    view = memoryview(POOL2)
    while n > 0:
        size = min(n, chunk, POOL_SIZE)
        yield view[pos : pos + size]
        pos = (pos + size) % POOL_SIZE
        n -= size


def stream_bytes(off, n):
    return b"".join(stream_chunks(off, n))


# ------------------------------------------------------------ backend


async def send_stream(writer, off, n):
    for chunk in stream_chunks(off, n):
        writer.write(chunk)
        await writer.drain()


async def serve(reader, writer):
    sender = None
    try:
        while line := await reader.readline():
            cmd, *args = line.split()
            args = [int(a) for a in args]
            if cmd == b"REQ":
                body = await reader.readexactly(args[0])
                writer.write(b"%08x\n" % zlib.crc32(body))
                await send_stream(writer, args[2], args[1])
            elif cmd == b"BULK":
                n, off = args
                sender = asyncio.create_task(send_stream(writer, off, n))
                crc = 0
                while n > 0:
                    data = await reader.read(min(n, CHUNK))
                    if not data:
                        raise ConnectionError("end of file in BULK")
                    crc = zlib.crc32(data, crc)
                    n -= len(data)
                await sender
                sender = None
                writer.write(b"%08x\n" % crc)
                await writer.drain()
            elif cmd == b"SEND":
                await send_stream(writer, args[1], args[0])
            else:
                raise ValueError(f"bad command {line!r}")
    except (OSError, ValueError, asyncio.IncompleteReadError):
        pass  # clients reset on purpose; the clients count real errors
    finally:
        if sender:
            sender.cancel()
        writer.transport.abort()


async def backend():
    server = await asyncio.start_server(
        serve, "127.0.0.1", 0, limit=CHUNK, backlog=1024
    )
    print("backend", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


# ------------------------------------------------------------ load


class Failure(Exception):
    pass


class Load:
    def __init__(self, targets, cafile, status):
        self.targets = targets  # name -> (host, port, tls context or None)
        self.status = status
        self.requests = self.bytes = self.errors = self.resets = 0
        self.rng = random.Random()
        self.stopping = asyncio.Event()

    def write_status(self):
        tmp = self.status + ".tmp"
        with open(tmp, "w") as f:
            f.write(
                f"requests {self.requests} bytes {self.bytes} "
                f"errors {self.errors} resets {self.resets}\n"
            )
        os.replace(tmp, self.status)

    async def connect(self, target, limit=CHUNK):
        host, port, ctx = self.targets[target]
        return await asyncio.open_connection(
            host,
            port,
            ssl=ctx,
            server_hostname="localhost" if ctx else None,
            limit=limit,
        )

    async def read_check(self, reader, off, n):
        """Read N bytes that must be the stream at OFF."""
        pos = off % POOL_SIZE
        while n > 0:
            data = await reader.read(min(n, CHUNK))
            if not data:
                raise Failure(f"end of file with {n} bytes to come")
            if data != POOL2[pos : pos + len(data)]:
                raise Failure("bytes differ from what was sent")
            pos = (pos + len(data)) % POOL_SIZE
            n -= len(data)
            self.bytes += len(data)

    async def request(self, reader, writer):
        """One REQ on an open connection, checked."""
        m = self.rng.randint(*REQ_BODY)
        n = self.rng.randint(*REQ_ANSWER)
        off = self.rng.randrange(POOL_SIZE)
        body = stream_bytes(self.rng.randrange(POOL_SIZE), m)
        writer.write(b"REQ %d %d %d\n" % (m, n, off) + body)
        self.bytes += m
        line = await reader.readline()
        if line != b"%08x\n" % zlib.crc32(body):
            raise Failure(f"bad CRC line {line!r}")
        await self.read_check(reader, off, n)
        self.requests += 1

    @staticmethod
    async def close(writer):
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass

    @staticmethod
    def reset(writer):
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    # One iteration of each kind of client.

    async def newconn(self, target):
        reader, writer = await self.connect(target)
        await self.request(reader, writer)
        await self.close(writer)
        await asyncio.sleep(PACE_NEWCONN)

    async def keepalive(self, target):
        reader, writer = await asyncio.wait_for(self.connect(target), TIMEOUT)
        for _ in range(self.rng.randint(*KEEPALIVE_REQS)):
            if self.stopping.is_set():
                break
            await asyncio.wait_for(self.request(reader, writer), TIMEOUT)
            await asyncio.sleep(PACE_KEEPALIVE)
        await self.close(writer)

    async def bulk(self, target):
        reader, writer = await self.connect(target, limit=4 * CHUNK)
        off = self.rng.randrange(POOL_SIZE)
        writer.write(b"BULK %d %d\n" % (BULK_SIZE, off))

        async def upload():
            crc = 0
            for chunk in stream_chunks(off, BULK_SIZE):
                crc = zlib.crc32(chunk, crc)
                writer.write(chunk)
                await writer.drain()
                self.bytes += len(chunk)
            return crc

        sender = asyncio.create_task(upload())
        try:
            await self.read_check(reader, off, BULK_SIZE)
            crc = await sender
        finally:
            sender.cancel()
        line = await reader.readline()
        if line != b"%08x\n" % crc:
            raise Failure(f"the backend's CRC {line!r} is not {crc:08x}")
        self.requests += 1
        await self.close(writer)
        await asyncio.sleep(BULK_PAUSE)

    async def reset_client(self, target):
        reader, writer = await self.connect(target)
        off = self.rng.randrange(POOL_SIZE)
        # A big answer, and half the time a big upload at the same time.
        if self.rng.random() < 0.5:
            writer.write(b"SEND %d %d\n" % (BULK_SIZE, off))
        else:
            writer.write(b"BULK %d %d\n" % (BULK_SIZE, off))
            for chunk in stream_chunks(off, self.rng.randint(*RESET_AFTER)):
                writer.write(chunk)
        await self.read_check(reader, off, self.rng.randint(*RESET_AFTER))
        self.reset(writer)
        self.resets += 1
        self.requests += 1
        await asyncio.sleep(RESET_PAUSE)

    async def slow(self, target):
        reader, writer = await self.connect(target, limit=SLOW_RATE)
        off = self.rng.randrange(POOL_SIZE)
        secs = self.rng.randint(*SLOW_SECS)
        writer.write(b"SEND %d %d\n" % (BULK_SIZE, off))
        for _ in range(secs):
            if self.stopping.is_set():
                break
            await self.read_check(reader, off, SLOW_RATE)
            off += SLOW_RATE
            await asyncio.sleep(1)
        # Unread data is waiting: the kernel answers this close with a
        # reset, as for any client that leaves before the end.
        self.reset(writer)
        self.requests += 1

    async def worker(self, kind, target):
        run = {
            "newconn": self.newconn,
            "keepalive": self.keepalive,
            "bulk": self.bulk,
            "reset": self.reset_client,
            "slow": self.slow,
        }[kind]
        # A time limit for one iteration (a keep-alive connection's
        # requests have one each).
        limit = {
            "bulk": 4 * TIMEOUT,
            "keepalive": None,
            "slow": TIMEOUT + 2 * SLOW_SECS[1],
        }.get(kind, TIMEOUT)
        # Start at different times, so the kinds do not move in step.
        await asyncio.sleep(self.rng.random())
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(run(target), limit)
            except Exception as e:  # CancelledError is no Exception
                if self.stopping.is_set():
                    break
                self.errors += 1
                if self.errors <= 20 or self.errors % 100 == 0:
                    print(
                        f"soak.py: error {self.errors} ({kind} {target},"
                        f" {time.strftime('%H:%M:%S')}):"
                        f" {type(e).__name__}: {e}",
                        file=sys.stderr,
                        flush=True,
                    )
                await asyncio.sleep(0.5)

    async def check(self, target):
        """One request through a relay, retrying a refused connect."""
        deadline = time.monotonic() + 10
        while True:
            try:
                reader, writer = await self.connect(target)
                break
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)
        await asyncio.wait_for(self.request(reader, writer), TIMEOUT)
        await self.close(writer)

    async def run(self):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        for target in self.targets:
            try:
                await self.check(target)
            except Exception as e:
                print(
                    f"error: a request through {target} failed:"
                    f" {type(e).__name__}: {e}",
                    file=sys.stderr,
                )
                return 2
        tasks = []
        for kind, counts in CLIENTS.items():
            for target, count in zip(("plain", "tls"), counts):
                if target in self.targets:
                    tasks += [
                        asyncio.create_task(self.worker(kind, target))
                        for _ in range(count)
                    ]
        self.write_status()
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
            self.write_status()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.write_status()
        return 0


def hostport(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def load(args):
    targets = {}
    if args.plain:
        targets["plain"] = (*hostport(args.plain), None)
    if args.tls:
        ctx = ssl.create_default_context(cafile=args.cafile)
        targets["tls"] = (*hostport(args.tls), ctx)
    return asyncio.run(Load(targets, args.cafile, args.status).run())


# ------------------------------------------------------------ verdict

# The rule. The samples of the first third of the run are a warm-up and
# are left out: allocators, caches and the kernel's socket buffers reach
# their working size there. The rest is cut in two halves, "the second
# third" and "the last third". A figure (RSS, descriptors) of a process
# is "growing" when both
#   - the median of the last third exceeds the median of the second third
#     by more than the tolerance, and
#   - the least-squares slope over both thirds, times the time they span,
#     exceeds the tolerance too;
# otherwise it is "flat". A leak, growth that goes on, moves both. The
# medians alone would pass a figure that rises only in its last samples
# (noise at the end of a short run); the slope alone could be tipped by a
# few odd samples (one taken while a bulk transfer holds its buffers),
# which the medians ignore. A step that stays (a pool that grew once) and
# is larger than the tolerance reads as growth. Tolerances:
# RSS max(1 MiB, 5 % of the second third's median); descriptors max(16,
# 25 %): their count at an instant is the listener's plus two per
# connection in flight, which the new-connection clients move by a dozen.
# Descriptors are also counted before the load and once it has stopped
# (soak.sh waits up to 30 s for them to settle): any more after than
# before is a leak, whatever the samples say.
RSS_TOL = (1024, 0.05)
FDS_TOL = (16, 0.25)


def slope(ts, ys):
    mt, my = statistics.fmean(ts), statistics.fmean(ys)
    den = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / den if den else 0.0


def judge(ts, ys, tol, unit):
    """(grows, text) for one figure's samples."""
    n = len(ys)
    w = n // 3
    half = w + (n - w) // 2
    mid, last = ys[w:half], ys[half:]
    m1, m2 = statistics.median(mid), statistics.median(last)
    limit = max(tol[0], tol[1] * m1)
    rise = slope(ts[w:], ys[w:]) * (ts[-1] - ts[w])
    grows = m2 - m1 > limit and rise > limit
    text = (
        f"median {m1:g}{unit} -> {m2:g}{unit} ({m2 - m1:+g}), fitted line"
        f" {rise:+.0f} over {ts[-1] - ts[w]:g} s, tolerance {limit:.0f}"
    )
    return grows, text


def verdict(args):
    samples = {}
    for line in open(args.samples):
        name, t, rss, fds = line.split()
        samples.setdefault(name, []).append((float(t), int(rss), int(fds)))
    idle = {name: (int(b), int(a)) for name, b, a in args.fds_idle or []}
    growing = False
    for name, rows in samples.items():
        if len(rows) < 3:
            print(f"{name}: {len(rows)} samples, 3 needed for a verdict")
            return 2
        ts = [r[0] for r in rows]
        for what, col, tol, unit in (("RSS", 1, RSS_TOL, " KiB"),
                                     ("descriptors", 2, FDS_TOL, "")):
            grows, text = judge(ts, [r[col] for r in rows], tol, unit)
            why = ""
            if what == "descriptors" and name in idle:
                before, after = idle[name]
                text += f"; {before} before the load, {after} after"
                if after > before:
                    grows = True
                    why = f" ({after - before} left open after the load)"
            growing |= grows
            print(
                f"verdict: {name} {what}: {'growing' if grows else 'flat'}"
                f"{why}: {text}"
            )
    print(f"verdict: {'growing' if growing else 'flat'}")
    return 1 if growing else 0


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="mode", required=True)
    sub.add_parser("backend")
    lp = sub.add_parser("load")
    lp.add_argument("--plain")
    lp.add_argument("--tls")
    lp.add_argument("--cafile")
    lp.add_argument("--status", required=True)
    vp = sub.add_parser("verdict")
    vp.add_argument("samples")
    vp.add_argument("--fds-idle", nargs=3, action="append",
                    metavar=("NAME", "BEFORE", "AFTER"))
    args = p.parse_args()
    if args.mode == "backend":
        try:
            asyncio.run(backend())
        except KeyboardInterrupt:
            pass
        return 0
    if args.mode == "load":
        return load(args)
    return verdict(args)


if __name__ == "__main__":
    sys.exit(main())
