/*
 * tcp-client: connect to HOST PORT, send a line, print what comes back.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *     cc tcp-client.c $(pkg-config --cflags --libs qio-1.0) -o tcp-client
 *     ./tcp-client localhost 7000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qio/qio.h>

int main(int argc, char **argv)
{
    static const char line[] = "hello from libqio\n";
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) addr = NULL;
    g_autoptr(QIOChannelSocket) sock = NULL;
    QIOChannel *ioc;
    char buf[4096];
    ssize_t n;

    if (argc != 3) {
        fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
        return 2;
    }
    addr = g_network_address_new(argv[1], (guint16)atoi(argv[2]));
    sock = qio_channel_socket_new();
    ioc = QIO_CHANNEL(sock);

    /* Resolves the name and tries each address until one connects. */
    if (qio_channel_socket_connect_sync(sock, addr, NULL, &err) < 0) {
        fprintf(stderr, "tcp-client: %s\n", err->message);
        return 1;
    }

    /* Send the whole line, then tell the server there is no more. */
    if (qio_channel_write_all(ioc, line, strlen(line), &err) < 0 ||
        qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_WRITE, &err) < 0) {
        fprintf(stderr, "tcp-client: %s\n", err->message);
        return 1;
    }

    /* Print the answer until the server closes (a read of 0). */
    while ((n = qio_channel_read(ioc, buf, sizeof(buf), &err)) > 0) {
        fwrite(buf, 1, (size_t)n, stdout);
    }
    if (n < 0) {
        fprintf(stderr, "tcp-client: %s\n", err->message);
        return 1;
    }
    return qio_channel_close(ioc, &err) < 0 ? 1 : 0;
}
