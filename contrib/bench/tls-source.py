#!/usr/bin/env python3
# tls-source.py - a TLS client that sends SIZE bytes from memory
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   tls-source.py SIZE HOST PORT
#
# Connects (retrying a refused connect for 10 s, so a listener still
# starting is waited for), does a TLS handshake without verifying the
# server (the benchmark's self-signed certificate), sends SIZE bytes from
# one 1 MiB buffer, then sends close_notify and waits for the server's.
# Prints the negotiated protocol and cipher on stderr. run.sh uses it only
# where tls-source.c cannot be compiled (no GnuTLS headers): this one costs
# the client more CPU, which on two cores leaves less for the relay.
import socket
import ssl
import sys
import time

CHUNK = 1 << 20


def connect(host, port):
    deadline = time.monotonic() + 10
    while True:
        try:
            return socket.create_connection((host, port))
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def main():
    size, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = connect(host, port)
    raw.settimeout(120)
    tls = ctx.wrap_socket(raw, server_hostname="localhost")
    print("tls-source: %s %s" % (tls.version(), tls.cipher()[0]),
          file=sys.stderr)
    buf = memoryview(b"q" * CHUNK)
    left = size
    while left > 0:
        n = min(left, CHUNK)
        tls.sendall(buf[:n])
        left -= n
    # close_notify both ways: the relay forwards the end of our data, the
    # sink closes, and the relay then ends the TLS session in turn.
    try:
        tls.unwrap().close()
    except (OSError, ssl.SSLError) as e:
        print("tls-source: shutdown: %s" % e, file=sys.stderr)
        raw.close()


if __name__ == "__main__":
    main()
