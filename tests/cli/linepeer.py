#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A line-oriented TCP peer for the READLINE tests.

Listens on 127.0.0.1 (a port of the kernel's choosing, written to the
--ready file once listening), serves one client: sends --greet and
--prompt, records every byte received in --record (unbuffered), and with
--answer answers each line with "got: LINE\\n" and the prompt again; with
--hold FILE it waits for FILE to exist before each answer (so that a test
can type while the answer is held).  Ends at the client's end-of-file.
"""
import argparse
import os
import socket
import time


def wait_for(path, deadline):
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit("linepeer: gave up waiting for " + path)
        time.sleep(0.01)


def serve(conn, args, rec):
    deadline = time.monotonic() + args.timeout
    conn.sendall((args.greet + args.prompt).encode())
    pending = b""
    while True:
        data = conn.recv(4096)
        if not data:
            return
        rec.write(data)
        pending += data
        while args.answer and b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if args.hold:
                wait_for(args.hold, deadline)
                os.unlink(args.hold)
            conn.sendall(b"got: " + line + b"\n" + args.prompt.encode())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ready", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--greet", default="")
    p.add_argument("--prompt", default="")
    p.add_argument("--answer", action="store_true")
    p.add_argument("--hold")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(args.timeout)
    with open(args.ready + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.rename(args.ready + ".tmp", args.ready)
    conn, _ = srv.accept()
    conn.settimeout(args.timeout)
    with open(args.record, "wb", buffering=0) as rec:
        serve(conn, args, rec)
    conn.close()


if __name__ == "__main__":
    main()
