/*
 * qioc - opening parsed addresses as channels
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

typedef struct {
    QiocAddrKind kind;
    QiocOpenFunc *open;
} QiocOpener;

static const QiocOpener openers[] = {
    { QIOC_ADDR_STDIO, qioc_open_stdio },
    { QIOC_ADDR_STDIN, qioc_open_stdio },
    { QIOC_ADDR_STDOUT, qioc_open_stdio },
    { QIOC_ADDR_STDERR, qioc_open_stdio },
    { QIOC_ADDR_FD, qioc_open_fd },
    { QIOC_ADDR_PIPE, qioc_open_pipe },
    { QIOC_ADDR_FILE, qioc_open_file },
    { QIOC_ADDR_GOPEN, qioc_open_gopen },
    { QIOC_ADDR_CREATE, qioc_open_create },
    { QIOC_ADDR_UNIX_CONNECT, qioc_open_unix_connect },
    { QIOC_ADDR_UNIX_LISTEN, qioc_open_unix_listen },
    { QIOC_ADDR_ABSTRACT_CONNECT, qioc_open_unix_connect },
    { QIOC_ADDR_ABSTRACT_LISTEN, qioc_open_unix_listen },
    { QIOC_ADDR_TCP_CONNECT, qioc_open_tcp_connect },
    { QIOC_ADDR_TCP_LISTEN, qioc_open_tcp_listen },
    { QIOC_ADDR_EXEC, qioc_open_exec },
    { QIOC_ADDR_SYSTEM, qioc_open_system },
    { QIOC_ADDR_TLS_CONNECT, qioc_open_tls_connect },
    { QIOC_ADDR_TLS_LISTEN, qioc_open_tls_listen },
};

QIOChannel *qioc_addr_open(const QiocAddress *addr, QiocAccess *access,
                           const QiocOptions *opts, GError **errp)
{
    for (gsize i = 0; i < G_N_ELEMENTS(openers); i++) {
        if (openers[i].kind == addr->type->kind) {
            return openers[i].open(addr, access, opts, errp);
        }
    }
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                "address type %s is not implemented yet", addr->type->name);
    return NULL;
}

void qioc_addr_error_errno(GError **errp, int err, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *what = NULL;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(err), "%s: %s", what,
                g_strerror(err));
}

int qioc_addr_family(const QiocAddress *addr, const QiocOptions *opts)
{
    const char *pf;

    if (addr->type->family != AF_UNSPEC) {
        return addr->type->family;
    }
    pf = qioc_address_get_string(addr, "pf");
    if (pf) {
        return g_str_equal(pf, "ip6") ? AF_INET6 : AF_INET;
    }
    return opts->family;
}

/* ---------------------------------------------------------------- connect */

QIOChannel *qioc_addr_connect_retry(const QiocAddress *addr,
                                    const QiocOptions *opts,
                                    QiocConnectFunc *connect, GError **errp)
{
    gint64 retries = qioc_address_get_int(addr, "retry", 0);
    double interval = qioc_address_get_duration(addr, "interval", 1.0);

    for (gint64 attempt = 0;; attempt++) {
        g_autoptr(GError) err = NULL;
        QIOChannel *ioc = connect(addr, opts, &err);

        if (ioc) {
            return ioc;
        }
        if (attempt >= retries) {
            g_propagate_error(errp, g_steal_pointer(&err));
            return NULL;
        }
        qioc_info(1, "address %d (%s): %s; retrying in %g s", addr->index,
                  addr->text, err->message, interval);
        g_usleep((gulong)(interval * G_USEC_PER_SEC));
    }
}

/* ---------------------------------------------------------------- accept */

/* A v4 client of a dual-stack listener shows as ::ffff:a.b.c.d. */
static GInetAddress *unmap_v4(GInetAddress *ia)
{
    const guint8 *b = g_inet_address_to_bytes(ia);
    static const guint8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
                                       0xff };

    if (g_inet_address_get_family(ia) == G_SOCKET_FAMILY_IPV6 &&
        memcmp(b, prefix, sizeof(prefix)) == 0) {
        return g_inet_address_new_from_bytes(b + 12, G_SOCKET_FAMILY_IPV4);
    }
    return g_object_ref(ia);
}

static gboolean in_range(const char *range, GSocketAddress *peer)
{
    g_auto(GStrv) cidrs = g_strsplit(range, ";", -1);
    g_autoptr(GInetAddress) ia = NULL;

    if (!G_IS_INET_SOCKET_ADDRESS(peer)) {
        return FALSE;
    }
    ia = unmap_v4(
        g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(peer)));
    for (char **c = cidrs; *c; c++) {
        g_autoptr(GInetAddressMask) mask =
            g_inet_address_mask_new_from_string(g_strstrip(*c), NULL);

        if (mask && g_inet_address_mask_matches(mask, ia)) {
            return TRUE;
        }
    }
    return FALSE;
}

/* Is the client allowed by range=? Refusals are logged, not errors. */
static gboolean client_allowed(const QiocAddress *addr,
                               QIOChannelSocket *client)
{
    const char *range = qioc_address_get_string(addr, "range");
    g_autoptr(GSocketAddress) peer = NULL;
    g_autofree char *text = NULL;

    if (!range) {
        return TRUE;
    }
    peer = qio_channel_socket_get_remote_address(client, NULL);
    if (peer && in_range(range, peer)) {
        return TRUE;
    }
    text = peer ? qio_socket_address_to_string(peer) : g_strdup("?");
    qioc_error("refused %s: not in range=%s", text, range);
    return FALSE;
}

static gboolean wait_client(const QiocAddress *addr, int fd, GError **errp)
{
    double timeout = qioc_address_get_duration(addr, "accept-timeout", -1);
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int ms = timeout < 0 ? -1 : (int)(timeout * 1000);
    int rc;

    do {
        rc = poll(&pfd, 1, ms);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        qioc_addr_error_errno(errp, errno, "accept");
        return FALSE;
    }
    if (rc == 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                    "accept: no client within %g s (accept-timeout)",
                    timeout);
        return FALSE;
    }
    return TRUE;
}

QIOChannel *qioc_addr_accept_one(const QiocAddress *addr,
                                 QIOChannelSocket *listener, GError **errp)
{
    int fd = qio_channel_socket_get_fd(listener);

    for (;;) {
        g_autoptr(GError) err = NULL;
        QIOChannelSocket *client;

        if (!wait_client(addr, fd, errp)) {
            return NULL;
        }
        client = qio_channel_socket_accept(listener, &err);
        if (!client) {
            if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
                continue;
            }
            g_propagate_error(errp, g_steal_pointer(&err));
            return NULL;
        }
        if (client_allowed(addr, client)) {
            qio_channel_close(QIO_CHANNEL(listener), NULL);
            return QIO_CHANNEL(client);
        }
        qio_channel_close(QIO_CHANNEL(client), NULL);
        g_object_unref(client);
    }
}

/* ---------------------------------------------------------------- attrs */

gboolean qioc_addr_set_file_attrs(const QiocAddress *addr, const char *path,
                                  GError **errp)
{
    uid_t uid = (uid_t)qioc_address_get_int(addr, "user", -1);
    gid_t gid = (gid_t)qioc_address_get_int(addr, "group", -1);

    if (qioc_address_has_opt(addr, "mode")) {
        mode_t mode = (mode_t)qioc_address_get_int(addr, "mode", 0);

        if (chmod(path, mode) < 0) {
            qioc_addr_error_errno(errp, errno, "chmod %s", path);
            return FALSE;
        }
    }
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) < 0) {
        qioc_addr_error_errno(errp, errno, "chown %s", path);
        return FALSE;
    }
    return TRUE;
}

void qioc_addr_set_tcp_opts(const QiocAddress *addr, QIOChannelSocket *sioc)
{
    int fd = qio_channel_socket_get_fd(sioc);
    int one = 1;

    if (qioc_address_get_flag(addr, "nodelay")) {
        qio_channel_set_delay(QIO_CHANNEL(sioc), false);
    }
    if (qioc_address_get_flag(addr, "keepalive")) {
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    }
}
