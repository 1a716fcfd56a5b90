/*
 * qioc - FD and ACCEPT-FD: inherited descriptors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "addr.h"

static int fd_param(const QiocEndpoint *ep)
{
    return (int)g_ascii_strtoll(ep->addr->params[0], NULL, 10);
}

/* What the descriptor was opened for, as far as fcntl can tell. */
static QiocAccess access_of(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? QIOC_ACCESS_RDWR : qioc_access_of_flags(fl);
}

static QIOChannel *fd_open(QiocEndpoint *ep, QiocAccess *access,
                           QIOChannel *peer, GError **errp)
{
    int fd = fd_param(ep);
    QIOChannel *ioc;

    if (fcntl(fd, F_GETFD) < 0) {
        qioc_error_errno(errp, errno, "descriptor %d", fd);
        return NULL;
    }
    /* Sockets get a socket channel, so shutdown and fd passing work. */
    ioc = qio_channel_new_fd(fd, errp);
    if (ioc) {
        *access &= access_of(fd);
    }
    return ioc;
}

static QIONetListener *accept_fd_listen(QiocEndpoint *ep, GError **errp)
{
    g_autoptr(QIONetListener) listener = qio_net_listener_new();

    if (!qioc_listener_add_fd(listener, fd_param(ep), NULL, errp)) {
        return NULL;
    }
    return g_steal_pointer(&listener);
}

static const QiocAddrType fd_types[] = {
    {"FD", NULL, QIOC_ADDR_FD, AF_UNSPEC, 1, 1, QIOC_T_READ | QIOC_T_TTY, "N",
     "an inherited descriptor: socket, pipe, tty or file"},
};

static const QiocAddrType accept_fd_types[] = {
    {"ACCEPT-FD", QIOC_NAMES("ACCEPT"), QIOC_ADDR_ACCEPT_FD, AF_UNSPEC, 1, 1,
     QIOC_T_ACCEPT, "N", "accept clients on an inherited listening socket"},
};

const QiocAddrDesc qioc_addr_fd = {.kind = QIOC_ADDR_FD,
                                   QIOC_ADDR_TYPES(fd_types),
                                   .check = qioc_address_check_fd,
                                   .flags = QIOC_ADDR_INHERITED,
                                   .open = fd_open};

const QiocAddrDesc qioc_addr_accept_fd = {.kind = QIOC_ADDR_ACCEPT_FD,
                                          QIOC_ADDR_TYPES(accept_fd_types),
                                          .check = qioc_address_check_fd,
                                          .listen = accept_fd_listen};
