/*
 * tls-client: a verified TLS connection to HOST PORT, one line there and
 * one line back.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *     cc tls-client.c $(pkg-config --cflags --libs qio-1.0) -o tls-client
 *     ./tls-client localhost 4433 ca.pem
 *
 * The server's certificate must be issued by the CA of CA-FILE and name
 * HOST. Against `openssl s_server -rev`, which answers each line
 * reversed, it prints "desserts".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qio/qio.h>

static int fail(GError *err)
{
    fprintf(stderr, "tls-client: %s\n", err->message);
    return 1;
}

int main(int argc, char **argv)
{
    static const char line[] = "stressed\n";
    QIOTLSCredsOptions opts = QIO_TLS_CREDS_OPTIONS_INIT;
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) addr = NULL;
    g_autoptr(QIOTLSCreds) creds = NULL;
    g_autoptr(QIOChannelSocket) sock = NULL;
    g_autoptr(QIOChannelTLS) tls = NULL;
    char buf[sizeof(line)];

    if (argc != 4) {
        fprintf(stderr, "usage: %s HOST PORT CA-FILE\n", argv[0]);
        return 2;
    }

    /* Trust only this CA; verification is on by default. */
    opts.ca_file = argv[3];
    creds = qio_tls_creds_new(QIO_TLS_CREDS_ENDPOINT_CLIENT, &opts, &err);
    if (!creds) {
        return fail(err);
    }

    addr = g_network_address_new(argv[1], (guint16)atoi(argv[2]));
    sock = qio_channel_socket_new();
    if (qio_channel_socket_connect_sync(sock, addr, NULL, &err) < 0) {
        return fail(err);
    }

    /* The session runs over the socket; HOST is sent (SNI) and checked. */
    tls = qio_channel_tls_new_client(QIO_CHANNEL(sock), creds, argv[1], &err);
    if (!tls || qio_channel_tls_handshake_sync(tls, &err) < 0) {
        return fail(err);
    }
    fprintf(stderr, "tls-client: verified %s\n",
            qio_channel_tls_get_peer_dn(tls));

    if (qio_channel_write_all(QIO_CHANNEL(tls), line, strlen(line), &err) < 0) {
        return fail(err);
    }
    /* The answer is as long as the line sent: read exactly that much. */
    if (qio_channel_read_all(QIO_CHANNEL(tls), buf, strlen(line), &err) < 0) {
        return fail(err);
    }
    fwrite(buf, 1, strlen(line), stdout);

    /* Sends close_notify, then closes the socket below. */
    if (qio_channel_close(QIO_CHANNEL(tls), &err) < 0) {
        return fail(err);
    }
    return 0;
}
