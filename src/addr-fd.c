/*
 * qioc - FD:N, an inherited descriptor
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "addr.h"

/* What the descriptor was opened for. */
static QiocAccess access_of(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0) {
        return QIOC_ACCESS_RDWR;
    }
    switch (fl & O_ACCMODE) {
    case O_RDONLY:
        return QIOC_ACCESS_READ;
    case O_WRONLY:
        return QIOC_ACCESS_WRITE;
    default:
        return QIOC_ACCESS_RDWR;
    }
}

QIOChannel *qioc_open_fd(const QiocAddress *addr, QiocAccess *access,
                         QIOChannel *peer, const QiocOptions *opts, GError **errp)
{
    int fd = (int)g_ascii_strtoll(addr->params[0], NULL, 10);
    QIOChannel *ioc;

    if (fcntl(fd, F_GETFD) < 0) {
        qioc_addr_error_errno(errp, errno, "descriptor %d", fd);
        return NULL;
    }
    /* Sockets get a socket channel, so shutdown and fd passing work. */
    ioc = qio_channel_new_fd(fd, errp);
    if (ioc) {
        *access &= access_of(fd);
    }
    return ioc;
}

/* ACCEPT-FD:N: an inherited listening socket (inetd, systemd style). */
QIONetListener *qioc_listen_fd(const QiocAddress *addr,
                               const QiocOptions *opts, GError **errp)
{
    int fd = (int)g_ascii_strtoll(addr->params[0], NULL, 10);
    g_autoptr(QIONetListener) listener = qio_net_listener_new();
    g_autoptr(QIOChannelSocket) sioc = NULL;

    if (fcntl(fd, F_GETFD) < 0) {
        qioc_addr_error_errno(errp, errno, "descriptor %d", fd);
        return NULL;
    }
    sioc = qio_channel_socket_new_fd(fd, errp);
    if (!sioc) {
        return NULL;
    }
    if (!qio_channel_has_feature(QIO_CHANNEL(sioc),
                                 QIO_CHANNEL_FEATURE_LISTEN)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "descriptor %d is not a listening socket", fd);
        return NULL;
    }
    qio_net_listener_add(listener, sioc);
    return g_steal_pointer(&listener);
}
