/*
 * echo-server: a QIONetListener on 127.0.0.1 in a GMainLoop, echoing what
 * every client sends until the client closes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *     cc echo-server.c $(pkg-config --cflags --libs qio-1.0) -o echo-server
 *     ./echo-server [PORT [CLIENTS]]
 *
 * PORT 0 (the default) picks a free port; the program prints the port it
 * listens on. With CLIENTS, it exits once that many clients are done.
 */
#include <stdio.h>
#include <stdlib.h>

#include <qio/qio.h>

static GMainLoop *loop;
static int clients_left = -1; /* -1: serve for ever */

/* A watch callback: the client has data, or has closed. */
static gboolean client_ready(QIOChannel *ioc, GIOCondition condition,
                             gpointer data)
{
    g_autoptr(GError) err = NULL;
    char buf[4096];
    ssize_t n;

    n = qio_channel_read(ioc, buf, sizeof(buf), &err);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        return G_SOURCE_CONTINUE; /* woken for nothing: wait again */
    }
    if (n > 0 && qio_channel_write_all(ioc, buf, (size_t)n, &err) == 0) {
        return G_SOURCE_CONTINUE;
    }
    if (err) {
        fprintf(stderr, "echo-server: %s\n", err->message);
    }
    /*
     * End-of-file or an error: close. Removing the watch drops its
     * reference, the last one, so the channel is freed.
     */
    qio_channel_close(ioc, NULL);
    if (clients_left > 0 && --clients_left == 0) {
        g_main_loop_quit(loop);
    }
    return G_SOURCE_REMOVE;
}

/* Called in the main context for every client accepted. */
static void new_client(QIONetListener *listener, QIOChannelSocket *sioc,
                       gpointer data)
{
    QIOChannel *ioc = QIO_CHANNEL(sioc);

    /* Clients arrive blocking; a server in one thread must not block. */
    qio_channel_set_blocking(ioc, false, NULL);
    qio_channel_set_name(ioc, "echo-client");
    /* The watch holds a reference on @sioc: the listener's goes away. */
    qio_channel_add_watch(ioc, G_IO_IN, client_ready, NULL, NULL);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIONetListener) listener = qio_net_listener_new();
    g_autoptr(GSocketConnectable) addr = NULL;
    g_autoptr(GSocketAddress) local = NULL;
    QIOChannelSocket *first;

    addr = g_network_address_new("127.0.0.1",
                                 (guint16)(argc > 1 ? atoi(argv[1]) : 0));
    clients_left = argc > 2 ? atoi(argv[2]) : -1;

    if (qio_net_listener_open_sync(listener, addr, NULL, &err) < 0) {
        fprintf(stderr, "echo-server: %s\n", err->message);
        return 1;
    }
    first = qio_net_listener_get_socket(listener, 0);
    local = qio_channel_socket_get_local_address(first, &err);
    if (!local) {
        fprintf(stderr, "echo-server: %s\n", err->message);
        return 1;
    }
    printf("listening on port %u\n",
           g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local)));
    fflush(stdout);

    loop = g_main_loop_new(NULL, FALSE);
    qio_net_listener_set_client_func(listener, new_client, NULL, NULL);
    g_main_loop_run(loop);

    qio_net_listener_disconnect(listener);
    g_main_loop_unref(loop);
    return 0;
}
