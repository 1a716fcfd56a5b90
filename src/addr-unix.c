/*
 * qioc - UNIX-CONNECT, UNIX-LISTEN and their ABSTRACT forms; a
 * UNIX-CONNECT to a datagram socket gets a datagram socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gunixsocketaddress.h>
#include <sys/stat.h>

#include "addr.h"

static gboolean is_abstract(const QiocEndpoint *ep)
{
    return ep->desc->kind == QIOC_ADDR_ABSTRACT_CONNECT ||
           ep->desc->kind == QIOC_ADDR_ABSTRACT_LISTEN ||
           ep->desc->kind == QIOC_ADDR_ABSTRACT_SENDTO;
}

static GSocketConnectable *unix_address(const QiocEndpoint *ep)
{
    GUnixSocketAddressType type = is_abstract(ep)
                                      ? G_UNIX_SOCKET_ADDRESS_ABSTRACT
                                      : G_UNIX_SOCKET_ADDRESS_PATH;

    return G_SOCKET_CONNECTABLE(
        g_unix_socket_address_new_with_type(ep->addr->params[0], -1, type));
}

GSocketAddress *qioc_unix_bind_address(const QiocEndpoint *ep)
{
    const char *bind = ep->addr->o.bind;

    if (!bind) {
        return NULL;
    }
    return g_unix_socket_address_new_with_type(
        bind, -1,
        is_abstract(ep) ? G_UNIX_SOCKET_ADDRESS_ABSTRACT
                        : G_UNIX_SOCKET_ADDRESS_PATH);
}

typedef struct {
    QiocEndpoint *ep;
    QiocOpenDone *done;
    gpointer data;
} QiocUnixConnect;

/*
 * A stream connect that failed may have met a datagram socket (socat's
 * UNIX-CLIENT takes either): connect a datagram socket to it then, and
 * report the stream error if that fails too.
 */
static void unix_connected(QIOChannel *ioc, GError *err, gpointer data)
{
    QiocUnixConnect *c = data;
    QiocUnixConnect call = *c;

    g_free(c);
    if (!ioc) {
        g_autoptr(GSocketConnectable) sa = unix_address(call.ep);
        g_autoptr(GSocketAddress) bind = qioc_unix_bind_address(call.ep);
        QIOChannelSocket *sioc =
            qioc_unix_dgram_client(G_SOCKET_ADDRESS(sa), TRUE, bind, NULL);

        if (sioc) {
            g_clear_error(&err);
            ioc = QIO_CHANNEL(sioc);
        }
    }
    call.done(ioc, err, call.data);
}

static void unix_connect(QiocEndpoint *ep, QIOChannel *peer, QiocOpenDone *done,
                         gpointer data)
{
    g_autoptr(GSocketConnectable) sa = unix_address(ep);
    QIOChannelSocketOptions sopts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    QiocUnixConnect *c = g_new0(QiocUnixConnect, 1);

    *c = (QiocUnixConnect){ep, done, data};
    qioc_sockopt_init(&sopts, ep);
    sopts.bind = qioc_unix_bind_address(ep);
    if (ep->addr->o.connect_timeout > 0) {
        sopts.connect_timeout_ms = (int)(ep->addr->o.connect_timeout * 1000);
    }
    qioc_socket_connect(sa, &sopts, unix_connected, c);
    g_clear_object(&sopts.bind);
}

/* A socket file left by a listener that is gone looks the same as one
 * in use: say what removes it. */
static void in_use_hint(const QiocEndpoint *ep, GError **errp)
{
    if (!is_abstract(ep) && !ep->addr->o.unlink_early && errp &&
        g_error_matches(*errp, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)) {
        qioc_error_hint(errp, "if nothing listens there any more, "
                              "unlink-early removes the old socket file");
    }
}

static QIONetListener *unix_listen(QiocEndpoint *ep, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    g_autoptr(GSocketConnectable) sa = unix_address(ep);
    g_autoptr(QIONetListener) listener = qio_net_listener_new();
    QIOChannelSocketOptions sopts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    mode_t old;
    int rc;

    sopts.backlog = (int)addr->o.backlog;
    sopts.unlink_early = addr->o.unlink_early;
    qioc_sockopt_init(&sopts, ep);
    old = qioc_umask_push(addr);
    rc = qio_net_listener_open_sync(listener, sa, &sopts, errp);
    qioc_umask_pop(addr, old);
    if (rc < 0) {
        in_use_hint(ep, errp);
        return NULL;
    }
    if (!is_abstract(ep) &&
        !qioc_set_file_attrs(addr, addr->params[0], TRUE, errp)) {
        qio_net_listener_disconnect(listener);
        return NULL;
    }
    if (addr->o.unlink_close == 0) {
        for (guint i = 0; i < qio_net_listener_get_nsockets(listener); i++) {
            qio_channel_socket_set_unlink_on_close(
                qio_net_listener_get_socket(listener, i), FALSE);
        }
    }
    return g_steal_pointer(&listener);
}

static const QiocAddrType unix_connect_types[] = {
    {"UNIX-CONNECT", QIOC_NAMES("UNIX", "UNIX-CLIENT", "LOCAL"),
     QIOC_ADDR_UNIX_CONNECT, AF_UNSPEC, 1, 1, QIOC_T_UCONN, "PATH",
     "connect to a unix socket, stream or datagram"},
};

static const QiocAddrType unix_listen_types[] = {
    {"UNIX-LISTEN", QIOC_NAMES("UNIX-L"), QIOC_ADDR_UNIX_LISTEN, AF_UNSPEC, 1,
     1, QIOC_T_ULISTEN | QIOC_OPTGRP_UNIXLISTEN | QIOC_OPTGRP_FSPERM, "PATH",
     "listen on a unix stream socket"},
};

static const QiocAddrType abstract_connect_types[] = {
    {"ABSTRACT-CONNECT", QIOC_NAMES("ABSTRACT", "ABSTRACT-CLIENT"),
     QIOC_ADDR_ABSTRACT_CONNECT, AF_UNSPEC, 1, 1, QIOC_T_UCONN, "NAME",
     "connect to a socket in the abstract namespace"},
};

static const QiocAddrType abstract_listen_types[] = {
    {"ABSTRACT-LISTEN", QIOC_NAMES("ABSTRACT-L"), QIOC_ADDR_ABSTRACT_LISTEN,
     AF_UNSPEC, 1, 1, QIOC_T_ULISTEN, "NAME",
     "listen on a socket in the abstract namespace"},
};

const QiocAddrDesc qioc_addr_unix_connect = {
    .kind = QIOC_ADDR_UNIX_CONNECT,
    QIOC_ADDR_TYPES(unix_connect_types),
    .check = qioc_address_check_sun_path,
    .connect = unix_connect};

const QiocAddrDesc qioc_addr_unix_listen = {.kind = QIOC_ADDR_UNIX_LISTEN,
                                            QIOC_ADDR_TYPES(unix_listen_types),
                                            .check =
                                                qioc_address_check_sun_path,
                                            .listen = unix_listen};

const QiocAddrDesc qioc_addr_abstract_connect = {
    .kind = QIOC_ADDR_ABSTRACT_CONNECT,
    QIOC_ADDR_TYPES(abstract_connect_types),
    .check = qioc_address_check_sun_path,
    .connect = unix_connect};

const QiocAddrDesc qioc_addr_abstract_listen = {
    .kind = QIOC_ADDR_ABSTRACT_LISTEN,
    QIOC_ADDR_TYPES(abstract_listen_types),
    .check = qioc_address_check_sun_path,
    .listen = unix_listen};
