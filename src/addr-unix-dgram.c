/*
 * qioc - unix datagram sockets: UNIX-SENDTO, UNIX-RECVFROM, UNIX-RECV and
 * their ABSTRACT forms
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * UNIX-SENDTO sends each datagram to PATH from a socket of its own, bound
 * to a name the kernel picks in the abstract namespace so that the
 * receiver can answer (socat leaves it unbound: no answer can come back).
 * UNIX-RECVFROM binds PATH and answers the sender of the last datagram;
 * UNIX-RECV binds PATH and only receives. Descriptors travel with the
 * datagrams, as over a unix stream socket. UNIX-CONNECT falls back on
 * qioc_unix_dgram_client() when PATH turns out to be a datagram socket.
 */
#include "config.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"

static gboolean is_abstract(const QiocEndpoint *ep)
{
    switch (ep->desc->kind) {
    case QIOC_ADDR_ABSTRACT_SENDTO:
    case QIOC_ADDR_ABSTRACT_RECVFROM:
    case QIOC_ADDR_ABSTRACT_RECV:
        return TRUE;
    default:
        return FALSE;
    }
}

static GSocketAddress *dgram_address(const QiocEndpoint *ep)
{
    return g_unix_socket_address_new_with_type(
        ep->addr->params[0], -1,
        is_abstract(ep) ? G_UNIX_SOCKET_ADDRESS_ABSTRACT
                        : G_UNIX_SOCKET_ADDRESS_PATH);
}

/* bind= of a unix client, or the kernel's autobind (an unnamed abstract
 * address that replies can reach) when @local is NULL. */
static gboolean bind_client(int fd, GSocketAddress *local, GError **errp)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct sockaddr_storage ss;
    socklen_t len = sizeof(sa_family_t);
    const struct sockaddr *sa = (struct sockaddr *)&sun;

    if (local) {
        if (!g_socket_address_to_native(local, &ss, sizeof(ss), errp)) {
            return FALSE;
        }
        sa = (struct sockaddr *)&ss;
        len = (socklen_t)g_socket_address_get_native_size(local);
    }
    if (bind(fd, sa, len) < 0) {
        g_autofree char *text =
            local ? qio_socket_address_to_string(local) : g_strdup("");

        qioc_error_errno(errp, errno, "bind%s%s", local ? " to " : "", text);
        return FALSE;
    }
    return TRUE;
}

QIOChannelSocket *qioc_unix_dgram_client(GSocketAddress *to, gboolean connected,
                                         GSocketAddress *local, GError **errp)
{
    struct sockaddr_storage ss;
    g_autofree char *text = qio_socket_address_to_string(to);
    g_autoptr(QIOChannelSocket) sioc = NULL;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0) {
        qioc_error_errno(errp, errno, "socket");
        return NULL;
    }
    if (!bind_client(fd, local, errp)) {
        close(fd);
        return NULL;
    }
    sioc = qio_channel_socket_new_fd(fd, errp);
    if (!sioc) {
        close(fd);
        return NULL;
    }
    /* From here a failure's close removes the file bind= made. */
    if (local) {
        qio_channel_socket_set_unlink_on_close(sioc, TRUE);
    }
    if (connected &&
        (!g_socket_address_to_native(to, &ss, sizeof(ss), errp) ||
         connect(fd, (struct sockaddr *)&ss,
                 (socklen_t)g_socket_address_get_native_size(to)) < 0)) {
        if (errp && !*errp) {
            qioc_error_errno(errp, errno, "connect to %s", text);
        }
        qio_channel_close(QIO_CHANNEL(sioc), NULL);
        return NULL;
    }
    if (!connected) {
        qio_channel_socket_set_send_address(sioc, to);
    }
    return g_steal_pointer(&sioc);
}

static QIOChannel *unix_open_sendto(QiocEndpoint *ep, QiocAccess *access,
                                    QIOChannel *peer, GError **errp)
{
    g_autoptr(GSocketAddress) to = dgram_address(ep);
    g_autoptr(GSocketAddress) bind = qioc_unix_bind_address(ep);
    QIOChannelSocket *sioc = qioc_unix_dgram_client(to, FALSE, bind, errp);

    if (sioc &&
        !qioc_sockopt_apply_socket(
            ep, sioc, QIOC_SOCKOPT_BEFORE | QIOC_SOCKOPT_CONNECTED, errp)) {
        qio_channel_close(QIO_CHANNEL(sioc), NULL);
        g_clear_object(&sioc);
    }
    return sioc ? QIO_CHANNEL(sioc) : NULL;
}

/* A socket file left by a receiver that is gone: say what removes it. */
static void in_use_hint(const QiocEndpoint *ep, GError **errp)
{
    if (!is_abstract(ep) && !ep->addr->o.unlink_early && errp &&
        g_error_matches(*errp, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)) {
        qioc_error_hint(errp, "if nothing receives there any more, "
                              "unlink-early removes the old socket file");
    }
}

/* PATH bound (mode=, user=, group=, umask= as for UNIX-LISTEN). */
static QIOChannelSocket *unix_bind(QiocEndpoint *ep, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    g_autoptr(GSocketAddress) local = dgram_address(ep);
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    QIOChannelSocketOptions sopts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    mode_t old;
    int rc;

    sopts.unlink_early = addr->o.unlink_early;
    qioc_sockopt_init(&sopts, ep);
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);
    old = qioc_umask_push(addr);
    rc = qio_channel_socket_dgram_sync(sioc, G_SOCKET_CONNECTABLE(local), NULL,
                                       &sopts, errp);
    qioc_umask_pop(addr, old);
    if (rc < 0) {
        in_use_hint(ep, errp);
        return NULL;
    }
    if ((!is_abstract(ep) &&
         !qioc_set_file_attrs(addr, addr->params[0], TRUE, errp)) ||
        !qioc_sockopt_apply_socket(ep, sioc, QIOC_SOCKOPT_CONNECTED, errp)) {
        qio_channel_close(QIO_CHANNEL(sioc), NULL);
        return NULL;
    }
    if (addr->o.unlink_close == 0) {
        qio_channel_socket_set_unlink_on_close(sioc, FALSE);
    }
    return g_steal_pointer(&sioc);
}

static const QiocDgramRole unix_roles[QIOC_ADDR__COUNT] = {
    [QIOC_ADDR_UNIX_RECVFROM] = QIOC_DGRAM_REPLY,
    [QIOC_ADDR_UNIX_RECV] = QIOC_DGRAM_RECV,
    [QIOC_ADDR_ABSTRACT_RECVFROM] = QIOC_DGRAM_REPLY,
    [QIOC_ADDR_ABSTRACT_RECV] = QIOC_DGRAM_RECV,
};

/* The receiving types: PATH bound, then answering or only reading. */
static QIOChannel *unix_open_receiver(QiocEndpoint *ep, QiocAccess *access,
                                      QIOChannel *peer, GError **errp)
{
    QIOChannelSocket *sioc = unix_bind(ep, errp);

    return sioc ? qioc_dgram_channel(sioc, unix_roles[ep->desc->kind], NULL,
                                     access)
                : NULL;
}

/* ---------------------------------------------------------------- types */

static const QiocAddrType unix_sendto_types[] = {
    {"UNIX-SENDTO", NULL, QIOC_ADDR_UNIX_SENDTO, AF_UNSPEC, 1, 1, QIOC_T_DSEND,
     "PATH", "send datagrams to a unix datagram socket"},
};

static const QiocAddrType unix_recvfrom_types[] = {
    {"UNIX-RECVFROM", NULL, QIOC_ADDR_UNIX_RECVFROM, AF_UNSPEC, 1, 1,
     QIOC_T_DRECV, "PATH",
     "receive datagrams on a unix socket, answer the last sender"},
};

static const QiocAddrType unix_recv_types[] = {
    {"UNIX-RECV", NULL, QIOC_ADDR_UNIX_RECV, AF_UNSPEC, 1, 1, QIOC_T_DRECV,
     "PATH", "only receive datagrams on a unix socket"},
};

static const QiocAddrType abstract_sendto_types[] = {
    {"ABSTRACT-SENDTO", NULL, QIOC_ADDR_ABSTRACT_SENDTO, AF_UNSPEC, 1, 1,
     QIOC_T_DSEND, "NAME", "UNIX-SENDTO in the abstract namespace"},
};

static const QiocAddrType abstract_recvfrom_types[] = {
    {"ABSTRACT-RECVFROM", NULL, QIOC_ADDR_ABSTRACT_RECVFROM, AF_UNSPEC, 1, 1,
     QIOC_T_DABSTRACT, "NAME", "UNIX-RECVFROM in the abstract namespace"},
};

static const QiocAddrType abstract_recv_types[] = {
    {"ABSTRACT-RECV", NULL, QIOC_ADDR_ABSTRACT_RECV, AF_UNSPEC, 1, 1,
     QIOC_T_DABSTRACT, "NAME", "UNIX-RECV in the abstract namespace"},
};

const QiocAddrDesc qioc_addr_unix_sendto = {.kind = QIOC_ADDR_UNIX_SENDTO,
                                            QIOC_ADDR_TYPES(unix_sendto_types),
                                            .check =
                                                qioc_address_check_sun_path,
                                            .open = unix_open_sendto};

const QiocAddrDesc qioc_addr_unix_recvfrom = {
    .kind = QIOC_ADDR_UNIX_RECVFROM,
    QIOC_ADDR_TYPES(unix_recvfrom_types),
    .check = qioc_address_check_sun_path,
    .open = unix_open_receiver};

const QiocAddrDesc qioc_addr_unix_recv = {.kind = QIOC_ADDR_UNIX_RECV,
                                          QIOC_ADDR_TYPES(unix_recv_types),
                                          .check = qioc_address_check_sun_path,
                                          .open = unix_open_receiver};

const QiocAddrDesc qioc_addr_abstract_sendto = {
    .kind = QIOC_ADDR_ABSTRACT_SENDTO,
    QIOC_ADDR_TYPES(abstract_sendto_types),
    .check = qioc_address_check_sun_path,
    .open = unix_open_sendto};

const QiocAddrDesc qioc_addr_abstract_recvfrom = {
    .kind = QIOC_ADDR_ABSTRACT_RECVFROM,
    QIOC_ADDR_TYPES(abstract_recvfrom_types),
    .check = qioc_address_check_sun_path,
    .open = unix_open_receiver};

const QiocAddrDesc qioc_addr_abstract_recv = {
    .kind = QIOC_ADDR_ABSTRACT_RECV,
    QIOC_ADDR_TYPES(abstract_recv_types),
    .check = qioc_address_check_sun_path,
    .open = unix_open_receiver};
