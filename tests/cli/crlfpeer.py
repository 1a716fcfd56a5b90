#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An SMTP-like server that insists on CR LF line ends, for qioc's tests.

  crlfpeer.py --ready FILE --received FILE

Listens on a free 127.0.0.1 port, writes the port to --ready (by rename,
so tests poll for the file), serves one client: greets with "220 ready",
then answers each line ended by CR LF with "250 LINE", "221 bye" to
QUIT (and closes), and "500 bare line end" to a line with a CR or an LF
of its own.  Every line end it sends is CR LF.  --received gets every
byte the client sent.
"""

import argparse
import os
import socket


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ready", required=True)
    p.add_argument("--received", required=True)
    args = p.parse_args()

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    with open(args.ready + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(args.ready + ".tmp", args.ready)

    conn, _ = srv.accept()
    conn.sendall(b"220 ready\r\n")
    got = b""
    pending = b""
    while True:
        data = conn.recv(4096)
        if not data:
            break
        got += data
        pending += data
        while b"\r\n" in pending:
            line, pending = pending.split(b"\r\n", 1)
            if b"\r" in line or b"\n" in line:
                conn.sendall(b"500 bare line end\r\n")
            elif line == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                pending = None
                break
            else:
                conn.sendall(b"250 " + line + b"\r\n")
        if pending is None:
            break
    with open(args.received, "wb") as f:
        f.write(got)
    conn.close()


if __name__ == "__main__":
    main()
