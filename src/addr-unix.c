/*
 * qioc - UNIX-CONNECT, UNIX-LISTEN, ABSTRACT-CONNECT, ABSTRACT-LISTEN
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <sys/stat.h>

#include "addr.h"

static gboolean is_abstract(const QiocAddress *addr)
{
    return addr->type->kind == QIOC_ADDR_ABSTRACT_CONNECT ||
           addr->type->kind == QIOC_ADDR_ABSTRACT_LISTEN;
}

static GSocketConnectable *unix_address(const QiocAddress *addr)
{
    GUnixSocketAddressType type = is_abstract(addr)
                                      ? G_UNIX_SOCKET_ADDRESS_ABSTRACT
                                      : G_UNIX_SOCKET_ADDRESS_PATH;

    return G_SOCKET_CONNECTABLE(
        g_unix_socket_address_new_with_type(addr->params[0], -1, type));
}

static QIOChannelSocketOptions connect_options(const QiocAddress *addr)
{
    QIOChannelSocketOptions sopts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    double timeout = qioc_address_get_duration(addr, "connect-timeout", 0);

    sopts.connect_timeout_ms = (int)(timeout * 1000);
    return sopts;
}

typedef struct {
    QiocOpenDone *done;
    gpointer data;
} QiocConnectCall;

/* QIOTask completion -> QiocOpenDone, for every socket connect. */
static void socket_connected(QIOTask *task, gpointer opaque)
{
    QiocConnectCall *call = opaque;
    GError *err = NULL;
    QIOChannel *ioc = NULL;

    if (!qio_task_propagate_error(task, &err)) {
        ioc = QIO_CHANNEL(g_object_ref(qio_task_get_source(task)));
    }
    call->done(ioc, err, call->data);
}

void qioc_addr_socket_connect(GSocketConnectable *sa,
                              const QIOChannelSocketOptions *sopts,
                              QiocOpenDone *done, gpointer data)
{
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    QiocConnectCall *call = g_new0(QiocConnectCall, 1);

    call->done = done;
    call->data = data;
    /* What the pump wants: no mode switches after the connect. */
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);
    qio_channel_socket_connect_async(sioc, sa, sopts,
                                     socket_connected, call,
                                     g_free, NULL);
}

void qioc_connect_unix(const QiocAddress *addr, const QiocOptions *opts,
                       QiocOpenDone *done, gpointer data)
{
    g_autoptr(GSocketConnectable) sa = unix_address(addr);
    QIOChannelSocketOptions sopts = connect_options(addr);

    qioc_addr_socket_connect(sa, &sopts, done, data);
}

static int listen_masked(const QiocAddress *addr, QIONetListener *listener,
                         GSocketConnectable *sa,
                         const QIOChannelSocketOptions *sopts, GError **errp)
{
    gboolean masked = qioc_address_has_opt(addr, "umask");
    mode_t old = 0;
    int rc;

    if (masked) {
        old = umask((mode_t)qioc_address_get_int(addr, "umask", 022));
    }
    rc = qio_net_listener_open_sync(listener, sa, sopts, errp);
    if (masked) {
        umask(old);
    }
    return rc;
}

QIONetListener *qioc_listen_unix(const QiocAddress *addr,
                                 const QiocOptions *opts, GError **errp)
{
    g_autoptr(GSocketConnectable) sa = unix_address(addr);
    g_autoptr(QIONetListener) listener = qio_net_listener_new();
    QIOChannelSocketOptions sopts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;

    sopts.backlog = (int)qioc_address_get_int(addr, "backlog", 128);
    sopts.unlink_early = qioc_address_get_flag(addr, "unlink-early");
    if (listen_masked(addr, listener, sa, &sopts, errp) < 0) {
        return NULL;
    }
    if (!is_abstract(addr) &&
        !qioc_addr_set_file_attrs(addr, addr->params[0], errp)) {
        qio_net_listener_disconnect(listener);
        return NULL;
    }
    if (!qioc_address_get_flag(addr, "unlink-close")) {
        for (guint i = 0; i < qio_net_listener_get_nsockets(listener); i++) {
            qio_channel_socket_set_unlink_on_close(
                qio_net_listener_get_socket(listener, i), FALSE);
        }
    }
    return g_steal_pointer(&listener);
}
