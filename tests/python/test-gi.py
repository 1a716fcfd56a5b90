#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# libqio through GObject introspection: what a Python program sees with
# `from gi.repository import Qio` (Debian: python3-gi). Real sockets on
# loopback, a real TLS handshake with certificates made here by openssl,
# watches in a GLib main loop. Speaks TAP for make check; run from the
# build tree with GI_TYPELIB_PATH=lib and LD_LIBRARY_PATH=lib/.libs.

import hashlib
import os
import subprocess
import sys
import tempfile
import traceback

import gi

gi.require_version("Qio", "1.0")
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib, Qio  # noqa: E402

LOOPBACK = "127.0.0.1"


def listener():
    """A listening socket channel on a free loopback port, and its address."""
    lsock = Qio.ChannelSocket.new()
    lsock.listen_sync(Gio.InetSocketAddress.new_from_string(LOOPBACK, 0), None)
    return lsock, lsock.get_local_address()


def socket_pair():
    """Two connected socket channels: (client, server)."""
    lsock, addr = listener()
    client = Qio.ChannelSocket.new()
    client.connect_sync(addr, None)
    server = lsock.accept()
    lsock.close()
    return client, server


def read_exactly(ioc, n):
    """n bytes from a blocking channel, read with read_bytes()."""
    parts, got = [], 0
    while got < n:
        chunk = ioc.read_bytes(min(65536, n - got)).get_data()
        if not chunk:
            raise AssertionError("end of file after %d of %d bytes" % (got, n))
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def write_all(ioc, data):
    while data:
        n = ioc.write(data)
        assert n > 0, "write returned %d" % n
        data = data[n:]


def run_loop(loop, seconds=10):
    """Run loop until it quits; fail if that takes more than seconds."""
    timed_out = []

    def late():
        timed_out.append(True)
        loop.quit()
        return GLib.SOURCE_REMOVE

    timer = GLib.timeout_add_seconds(seconds, late)
    loop.run()
    if timed_out:
        raise AssertionError("the main loop did not finish in %d s" % seconds)
    GLib.source_remove(timer)


# ---------------------------------------------------------------- cases


def test_socket_pair_bytes_intact():
    client, server = socket_pair()
    data = os.urandom(1 << 20)
    # 1 MiB does not fit the socket buffers: write from a thread-free
    # loop would need watches; a blocking reader in a child is simpler:
    # write half, read half, alternately.
    half = len(data) // 2
    for part in (data[:half], data[half:]):
        pid = os.fork()
        if pid == 0:
            try:
                write_all(client, part)
            finally:
                os._exit(0)
        got = read_exactly(server, len(part))
        os.waitpid(pid, 0)
        assert hashlib.sha256(got).digest() == hashlib.sha256(part).digest()
    client.shutdown(Qio.ChannelShutdown.WRITE)
    assert server.read_bytes(16).get_size() == 0, "no end of file"
    client.close()
    server.close()


def test_watch_fires_in_main_loop():
    client, server = socket_pair()
    client.set_blocking(False)
    loop = GLib.MainLoop()
    seen = []

    def readable(ioc, condition, *args):
        seen.append(ioc.read_bytes(100).get_data())
        loop.quit()
        return GLib.SOURCE_REMOVE

    client.add_watch(GLib.IOCondition.IN, readable, None)
    GLib.idle_add(lambda: server.write(b"ping from the server") and False)
    run_loop(loop)
    assert seen == [b"ping from the server"], seen
    # Nothing left: a non-blocking read says so as G_IO_ERROR_WOULD_BLOCK.
    try:
        client.read_bytes(100)
    except GLib.Error as e:
        assert e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.WOULD_BLOCK), e
    else:
        raise AssertionError("read_bytes() on an empty socket did not raise")
    client.close()
    server.close()


def make_certs(d):
    """A CA and a server certificate for localhost, signed by it."""
    def ossl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", "/CN=qio test CA", "-keyout", d + "/ca-key.pem",
         "-out", d + "/ca.pem")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-subj", "/CN=localhost", "-keyout", d + "/key.pem",
         "-out", d + "/req.pem")
    with open(d + "/ext", "w") as f:
        f.write("subjectAltName=DNS:localhost\n")
    ossl("x509", "-req", "-in", d + "/req.pem", "-CA", d + "/ca.pem",
         "-CAkey", d + "/ca-key.pem", "-CAcreateserial", "-days", "2",
         "-extfile", d + "/ext", "-out", d + "/cert.pem")


def creds(endpoint, **fields):
    opts = Qio.TLSCredsOptions()
    opts.verify = True
    for k, v in fields.items():
        setattr(opts, k, v)
    return Qio.TLSCreds.new(endpoint, opts)


def handshake_both(tclient, tserver):
    """Both handshakes in one main loop; the errors, or None, per side."""
    loop = GLib.MainLoop()
    results = {}

    def done(side):
        def finished(task, *args):
            try:
                task.propagate_error()
                results[side] = None
            except GLib.Error as e:
                results[side] = e.message
            if len(results) == 2:
                loop.quit()
        return finished

    tserver.handshake(done("server"), None, None)
    tclient.handshake(done("client"), None, None)
    run_loop(loop)
    return results


def tls_pair(d, hostname):
    client, server = socket_pair()
    for ioc in (client, server):
        ioc.set_blocking(False)
    srv = creds(Qio.TLSCredsEndpoint.SERVER, cert_file=d + "/cert.pem",
                key_file=d + "/key.pem")
    cli = creds(Qio.TLSCredsEndpoint.CLIENT, ca_file=d + "/ca.pem")
    return (Qio.ChannelTLS.new_client(client, cli, hostname),
            Qio.ChannelTLS.new_server(server, srv))


def test_tls_handshake_verified():
    with tempfile.TemporaryDirectory() as d:
        make_certs(d)
        tclient, tserver = tls_pair(d, "localhost")
        results = handshake_both(tclient, tserver)
        assert results == {"client": None, "server": None}, results
        assert tclient.get_verify_status() == 0
        for ioc in (tclient, tserver):
            ioc.set_blocking(True)
        write_all(tclient, b"secret over TLS")
        assert read_exactly(tserver, 15) == b"secret over TLS"
        tclient.close()
        tserver.close()


def test_tls_wrong_name_refused():
    with tempfile.TemporaryDirectory() as d:
        make_certs(d)
        tclient, tserver = tls_pair(d, "not-localhost.example")
        results = handshake_both(tclient, tserver)
        assert results["client"], "the client accepted a wrong name"
        tclient.close()
        tserver.close()


def test_version_from_python():
    """qio-version.h is in the GIR: the constants and the run-time check."""
    version = (Qio.MAJOR_VERSION, Qio.MINOR_VERSION, Qio.MICRO_VERSION)
    assert version >= (0, 1, 0), version
    # NULL: the library loaded is at least the version asked for
    assert Qio.check_version(*version) is None
    too_new = Qio.check_version(Qio.MAJOR_VERSION + 1, 0, 0)
    assert too_new, "a newer major version must be refused"


def test_connect_refused_raises():
    lsock, addr = listener()
    lsock.close()  # nothing listens there now
    try:
        Qio.ChannelSocket.new().connect_sync(addr, None)
    except GLib.Error as e:
        assert "refused" in e.message.lower(), e.message
    else:
        raise AssertionError("connecting to a closed port did not raise")


def main():
    cases = [(n, f) for n, f in sorted(globals().items())
             if n.startswith("test_") and callable(f)]
    print("1..%d" % len(cases))
    failed = 0
    for i, (name, func) in enumerate(cases, 1):
        try:
            func()
        except Exception:
            failed += 1
            print("not ok %d %s" % (i, name))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        else:
            print("ok %d %s" % (i, name))
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
