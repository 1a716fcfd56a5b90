#!/usr/bin/env python3
# Writes the synthetic seeds of tests/fuzz/corpus/{tls-server,cmsg,proxy}.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run: python3 tests/fuzz/gen-seeds.py. The layouts are described at the
# top of fuzz-tls-server.c, fuzz-cmsg.c and fuzz-proxy.c. The seeds
# tls-server/hello-{gnutls-cli,openssl}-* (the first flight of gnutls-cli
# 3.7 and OpenSSL 3.0 s_client, captured from a local listener, with a 0
# mode byte in front) are committed as they are; variants are made from
# one. regress-* are inputs the fuzzer found, kept as they are.
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
TLS = os.path.join(HERE, "corpus", "tls-server")
CMSG = os.path.join(HERE, "corpus", "cmsg")
PROXY = os.path.join(HERE, "corpus", "proxy")


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def tls_seeds():
    with open(os.path.join(TLS, "hello-gnutls-cli-default"), "rb") as f:
        hello = f.read()[1:]
    raw = {
        "hello-trickle-1": b"\x02" + hello,
        "hello-trickle-64": b"\x0e" + hello,
        "hello-truncated": b"\x00" + hello[:77],
        "hello-header-only": b"\x00" + hello[:5],
        "hello-twice": b"\x00" + hello + hello,
        "hello-then-alert": b"\x04" + hello + bytes([21, 3, 3, 0, 2, 2, 40]),
        "hello-bad-length": b"\x00" + hello[:3] + b"\xff\xff" + hello[5:],
        "http-get": b"\x00GET / HTTP/1.1\r\nHost: localhost\r\n"
                    b"User-Agent: qioc-fuzz\r\n\r\n",
        "sslv2-hello": b"\x00" + bytes.fromhex(
            "802e0103010015000000100100800300800700c0060040020080040080")
            + bytes(16),
        "garbage": b"\x00" + bytes(random.Random(11).randrange(256)
                                   for _ in range(300)),
        "empty": b"\x00",
    }
    for name, data in raw.items():
        write(TLS, name, data)

    (DATA, ALERT, BYE, KEY_UPDATE, REHANDSHAKE, RAW, READ_SIZE,
     SERVER_WRITE, SERVER_SHUTDOWN, PAUSE) = range(10)

    def data(b):
        return bytes([DATA, len(b)]) + b

    def ops(*parts):
        return b"".join(bytes(p) if isinstance(p, list) else p
                        for p in parts)

    scripts = {
        "script-tls13-data-bye": (0x01, ops(
            data(b"hello, server\n"), data(bytes(range(200))),
            [BYE, 0, 0])),
        "script-tls12-data-bye": (0x03, ops(
            data(b"hello over TLS 1.2\n"), [BYE, 0, 0])),
        "script-tls13-pending": (0x05, ops(
            [READ_SIZE, 0], data(bytes(255)), data(b"x" * 100))),
        "script-tls13-no-bye": (0x21, data(b"cut short")),
        "script-tls13-keyupdate": (0x09, ops(
            data(b"before"), [KEY_UPDATE, 1, 0], data(b"after"),
            [BYE, 0, 0])),
        "script-tls12-renegotiate": (0x03, ops(
            data(b"before"), [REHANDSHAKE, 0, 0], data(b"after"))),
        "script-alert": (0x01, ops(
            data(b"abc"), [ALERT, 0, 90], data(b"def"), [ALERT, 1, 10])),
        "script-raw-garbage": (0x01, ops(
            data(b"abc"), [RAW, 5, 0x17, 3, 3, 0, 1])),
        "script-server-half-close": (0x01, ops(
            [SERVER_WRITE, 40, SERVER_SHUTDOWN, 1], data(b"still talking"),
            [BYE, 0, 0])),
        "script-server-shut-read": (0x03, ops(
            data(b"abc"), [SERVER_SHUTDOWN, 0], data(b"def"))),
        "script-coroutine-pending": (0x09, ops(
            data(bytes(range(255))), data(b"y" * 50), [BYE, 0, 0])),
        "script-paused-keyupdate": (0x09, ops(
            [PAUSE, 0], [SERVER_WRITE, 255] * 12, [KEY_UPDATE, 1, 0],
            data(b"need to write first"), [PAUSE, 0], [SERVER_WRITE, 255],
            data(b"z"), [BYE, 0, 0])),
        "script-paused-shutdown": (0x01, ops(
            [PAUSE, 0], [SERVER_WRITE, 255] * 12, [SERVER_SHUTDOWN, 1],
            data(b"half"), [PAUSE, 0], [BYE, 0, 0])),
        "script-small-records": (0x81, ops(
            [PAUSE, 0], [SERVER_WRITE, 200] * 12, [KEY_UPDATE, 1, 0],
            [PAUSE, 0], [SERVER_WRITE, 200], data(b"end"), [BYE, 0, 0])),
    }
    for name, (mode, body) in scripts.items():
        write(TLS, name, bytes([mode]) + body)


def cmsg_seeds():
    PASSCRED, MIXED_WANT, FD_LIMIT, READ_ALL, CLOSE = 1, 2, 4, 8, 16
    CREDS, FORGED, SPLIT, READ_AFTER = 1, 2, 4, 8

    def msg(payload, nfds, flags=0):
        return bytes([len(payload), nfds, flags]) + payload

    def seed(options, msgs, reads=b""):
        return bytes([options, len(msgs) - 1]) + b"".join(msgs) + reads

    seeds = {
        "plain": seed(0, [msg(b"hello", 0)]),
        "one-fd": seed(0, [msg(b"x", 1)]),
        "max-fds": seed(0, [msg(b"253", 253, 0x30)]),
        "passcred-truncated": seed(PASSCRED, [msg(b"cut", 253)]),
        "passcred-fits": seed(PASSCRED, [msg(b"fit", 240)]),
        "split-cmsgs": seed(0, [msg(b"two", 100, SPLIT | 0x10)]),
        "creds": seed(PASSCRED, [msg(b"me", 2, CREDS),
                                 msg(b"pid1", 2, CREDS | FORGED)]),
        "fd-limit": seed(FD_LIMIT | (3 << 5), [msg(b"ten", 10)]),
        "interleaved": seed(0, [msg(b"first", 3, READ_AFTER),
                                msg(b"second", 5, READ_AFTER | 0x20),
                                msg(b"third", 0),
                                msg(b"fourth", 7, 0x40)],
                            bytes([0x82, 0x01, 0x05, 0x80, 0x83, 0x02])),
        "unwanted": seed(MIXED_WANT, [msg(b"drop", 4), msg(b"keep", 4)],
                         bytes([0x03, 0x40, 0x03, 0x00])),
        "read-all": seed(READ_ALL, [msg(b"abcdef", 6), msg(b"ghij", 2)],
                         bytes([9])),
        "empty-with-fds": seed(0, [msg(b"", 5), msg(b"after", 1)]),
        "close-sender": seed(CLOSE, [msg(b"bye", 3, 0x40)]),
        "eight-full": seed(PASSCRED | FD_LIMIT | (7 << 5),
                           [msg(bytes([i]) * 31, 253, i << 4)
                            for i in range(8)]),
    }
    for name, data in seeds.items():
        write(CMSG, name, data)


def proxy_seeds():
    (SOCKS4_REPLY, SOCKS5_METHOD, SOCKS5_AUTH, SOCKS5_REPLY, HTTP_RESPONSE,
     SOCKS4_REQUEST, SOCKS5_GREETING, SOCKS5_AUTH_REQUEST, SOCKS5_REQUEST,
     HTTP_REQUEST) = range(10)
    PASSWORD, TRICKLE = 1 << 4, 1 << 5

    def port(n):
        return n.to_bytes(2, "big")

    v6 = bytes.fromhex("20010db8000000000000000000000001")
    seeds = {
        # client side: what a proxy answers
        "socks4-granted": (SOCKS4_REPLY, b"\x00\x5a" + bytes(6)),
        "socks4-rejected": (SOCKS4_REPLY, b"\x00\x5b" + bytes(6)),
        "socks4-identd": (SOCKS4_REPLY | TRICKLE, b"\x04\x5c" + bytes(6)),
        "socks5-method-none": (SOCKS5_METHOD, b"\x05\x00"),
        "socks5-method-password": (SOCKS5_METHOD | PASSWORD, b"\x05\x02"),
        "socks5-method-refused": (SOCKS5_METHOD | PASSWORD, b"\x05\xff"),
        "socks5-auth-ok": (SOCKS5_AUTH, b"\x01\x00"),
        "socks5-auth-wrong": (SOCKS5_AUTH, b"\x01\x01"),
        "socks5-reply-ipv4": (SOCKS5_REPLY, b"\x05\x00\x00\x01"
                              b"\x0a\x00\x00\x01" + port(1080)),
        "socks5-reply-ipv6": (SOCKS5_REPLY | TRICKLE,
                              b"\x05\x00\x00\x04" + v6 + port(443)),
        "socks5-reply-name": (SOCKS5_REPLY,
                              b"\x05\x00\x00\x03\x09proxy.lan" + port(1)),
        "socks5-reply-refused": (SOCKS5_REPLY,
                                 b"\x05\x05\x00\x01" + bytes(6)),
        "http-200": (HTTP_RESPONSE,
                     b"HTTP/1.1 200 Connection established\r\n\r\n"),
        "http-200-headers": (HTTP_RESPONSE | TRICKLE,
                             b"HTTP/1.0 200 OK\r\nVia: 1.1 squid\r\n"
                             b"Proxy-Agent: x\r\n\r\n"),
        "http-407": (HTTP_RESPONSE,
                     b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Basic realm=\"x\"\r\n\r\n"),
        "http-lf": (HTTP_RESPONSE, b"HTTP/1.1 200 OK\n\n"),
        # server side: what a client asks
        "socks4-request": (SOCKS4_REQUEST, b"\x04\x01" + port(80)
                           + b"\x01\x02\x03\x04bob\x00"),
        "socks4a-request": (SOCKS4_REQUEST,
                            b"\x04\x01" + port(443) + b"\x00\x00\x00\x01u\x00"
                            b"example.org\x00"),
        "socks4-bind": (SOCKS4_REQUEST,
                        b"\x04\x02" + port(80) + b"\x01\x02\x03\x04\x00"),
        "socks5-greeting": (SOCKS5_GREETING, b"\x05\x02\x00\x02"),
        "socks5-greeting-none": (SOCKS5_GREETING | TRICKLE, b"\x05\x01\x00"),
        "socks5-auth-request": (SOCKS5_AUTH_REQUEST,
                                b"\x01\x03bob\x06secret"),
        "socks5-request-ipv4": (SOCKS5_REQUEST, b"\x05\x01\x00\x01"
                                b"\x7f\x00\x00\x01" + port(22)),
        "socks5-request-ipv6": (SOCKS5_REQUEST,
                                b"\x05\x01\x00\x04" + v6 + port(443)),
        "socks5-request-name": (SOCKS5_REQUEST | TRICKLE,
                                b"\x05\x01\x00\x03\x0bexample.org" + port(80)),
        "socks5-request-bind": (SOCKS5_REQUEST,
                                b"\x05\x02\x00\x01" + bytes(6)),
        "http-connect": (HTTP_REQUEST,
                         b"CONNECT example.com:443 HTTP/1.1\r\n"
                         b"Host: example.com:443\r\n\r\n"),
        "http-connect-v6-auth": (HTTP_REQUEST,
                                 b"CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n"
                                 b"Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
                                 b"\r\n"),
        "http-connect-lf": (HTTP_REQUEST | TRICKLE,
                            b"CONNECT h:80 HTTP/1.0\nUser-Agent: x\n\n"),
        "http-get": (HTTP_REQUEST, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    }
    for name, (mode, body) in seeds.items():
        write(PROXY, name, bytes([mode]) + body)


tls_seeds()
cmsg_seeds()
proxy_seeds()
