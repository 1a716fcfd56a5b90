#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A program on the slave side of qioc's PTY, as a serial-line program is.

It opens PATH (link= or /dev/pts/N) as a terminal, not as its controlling
one, puts it in raw mode (tty.setraw: no echo, no line editing, no CR/LF
translation, no signals), and then at once:

  --send FILE              writes FILE in --chunk byte pieces
  --recv FILE --bytes N    reads exactly N bytes into FILE

then, with --until-hangup, reads until the master side is gone (EIO or
end-of-file), and closes the terminal. --events FILE gets "slave-open"
just before the open; --ready FILE appears (by rename) once the terminal
is raw, so that tests start sending only then. --as-found leaves the
terminal's modes as qioc set them (PTY,raw,echo=0).
"""

import argparse
import os
import signal
import sys
import threading
import tty


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


def send(fd, path, chunk, errors):
    try:
        with open(path, "rb") as f:
            while True:
                data = f.read(chunk)
                if not data:
                    return
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
    except OSError as e:
        errors.append("send: %s" % e)


def recv(fd, path, count, errors):
    try:
        with open(path, "wb") as f:
            while count > 0:
                data = os.read(fd, min(count, 1 << 16))
                if not data:
                    errors.append("recv: end-of-file %d bytes early" % count)
                    return
                f.write(data)
                count -= len(data)
    except OSError as e:
        errors.append("recv: %s" % e)


def until_hangup(fd):
    try:
        while os.read(fd, 1 << 16):
            pass
    except OSError:
        pass  # EIO: the master side is gone


def main():
    p = argparse.ArgumentParser(description="pty slave for qioc's tests")
    p.add_argument("path")
    p.add_argument("--send")
    p.add_argument("--chunk", type=int, default=1000)
    p.add_argument("--recv")
    p.add_argument("--bytes", type=int, default=0)
    p.add_argument("--until-hangup", action="store_true")
    p.add_argument("--events")
    p.add_argument("--ready")
    p.add_argument("--timeout", type=float, default=60)
    p.add_argument("--as-found", action="store_true",
                   help="leave the terminal's modes as found (no setraw)")
    args = p.parse_args()
    # A peer never outlives a broken test by much.
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.setitimer(signal.ITIMER_REAL, args.timeout)

    note(args, "slave-open")
    fd = os.open(args.path, os.O_RDWR | os.O_NOCTTY)
    if not args.as_found:
        tty.setraw(fd)
    mark_ready(args)
    errors = []
    threads = []
    if args.send:
        threads.append(threading.Thread(
            target=send, args=(fd, args.send, args.chunk, errors)))
    if args.recv:
        threads.append(threading.Thread(
            target=recv, args=(fd, args.recv, args.bytes, errors)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if args.until_hangup:
        until_hangup(fd)
    os.close(fd)
    for e in errors:
        print("ptypeer: " + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
