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
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

/* What each address type does. */
static const QiocAddrOps addr_ops[] = {
    { QIOC_ADDR_STDIO, .open = qioc_open_stdio },
    { QIOC_ADDR_STDIN, .open = qioc_open_stdio },
    { QIOC_ADDR_STDOUT, .open = qioc_open_stdio },
    { QIOC_ADDR_STDERR, .open = qioc_open_stdio },
    { QIOC_ADDR_FD, .open = qioc_open_fd },
    { QIOC_ADDR_PIPE, .open = qioc_open_pipe },
    { QIOC_ADDR_FILE, .open = qioc_open_file },
    { QIOC_ADDR_GOPEN, .open = qioc_open_file },
    { QIOC_ADDR_CREATE, .open = qioc_open_create },
    { QIOC_ADDR_EXEC, .open = qioc_open_exec },
    { QIOC_ADDR_SYSTEM, .open = qioc_open_system },
    { QIOC_ADDR_UNIX_CONNECT, .connect = qioc_connect_unix },
    { QIOC_ADDR_ABSTRACT_CONNECT, .connect = qioc_connect_unix },
    { QIOC_ADDR_TCP_CONNECT, .prepare = qioc_prepare_tcp,
      .connect = qioc_connect_tcp },
    { QIOC_ADDR_UNIX_LISTEN, .listen = qioc_listen_unix },
    { QIOC_ADDR_ABSTRACT_LISTEN, .listen = qioc_listen_unix },
    { QIOC_ADDR_TCP_LISTEN, .listen = qioc_listen_tcp },
    { QIOC_ADDR_ACCEPT_FD, .listen = qioc_listen_fd },
    { QIOC_ADDR_SD_LISTEN, .listen = qioc_listen_systemd },
    { QIOC_ADDR_TLS_CONNECT, .prepare = qioc_prepare_tls,
      .connect = qioc_connect_tcp, .wrap = qioc_wrap_tls_client },
    { QIOC_ADDR_TLS_LISTEN, .prepare = qioc_prepare_tls,
      .listen = qioc_listen_tcp, .wrap = qioc_wrap_tls_server },
};

/* GOPEN of a unix socket connects, without blocking, like UNIX-CONNECT. */
static const QiocAddrOps gopen_socket_ops = {
    QIOC_ADDR_GOPEN, .connect = qioc_connect_unix
};

/*
 * A named FIFO opens like a connecting type: written only, it waits for a
 * reader as socat's does, and that wait is an open(2) that blocks, so it
 * happens off the loop (addr-file.c).
 */
static const QiocAddrOps fifo_ops = {
    QIOC_ADDR_PIPE, .connect = qioc_connect_fifo
};

static gboolean is_socket_path(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

const QiocAddrOps *qioc_addr_ops(const QiocAddress *addr)
{
    if (addr->type->kind == QIOC_ADDR_GOPEN &&
        is_socket_path(addr->params[0])) {
        return &gopen_socket_ops;
    }
    if (addr->type->kind == QIOC_ADDR_PIPE && addr->nparams > 0) {
        return &fifo_ops;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(addr_ops); i++) {
        if (addr_ops[i].kind == addr->type->kind) {
            return &addr_ops[i];
        }
    }
    return NULL;
}

QiocAccess qioc_addr_access(const QiocOptions *opts, int i)
{
    if (opts->left_to_right) {
        return i == 0 ? QIOC_ACCESS_READ : QIOC_ACCESS_WRITE;
    }
    if (opts->right_to_left) {
        return i == 0 ? QIOC_ACCESS_WRITE : QIOC_ACCESS_READ;
    }
    return QIOC_ACCESS_RDWR;
}

gboolean qioc_addr_prepare(const QiocAddress *addr, const QiocOptions *opts,
                           GError **errp)
{
    const QiocAddrOps *ops = qioc_addr_ops(addr);

    return !ops || !ops->prepare || ops->prepare(addr, opts, errp);
}

gboolean qioc_addr_is_listener(const QiocAddress *addr)
{
    const QiocAddrOps *ops = qioc_addr_ops(addr);

    return ops && ops->listen;
}

static void not_implemented(const QiocAddress *addr, GError **errp)
{
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                "address type %s is not implemented yet", addr->type->name);
}

QIOChannel *qioc_addr_open(const QiocAddress *addr, QiocAccess *access,
                           QIOChannel *peer, const QiocOptions *opts,
                           GError **errp)
{
    const QiocAddrOps *ops = qioc_addr_ops(addr);

    if (!ops || !ops->open) {
        not_implemented(addr, errp);
        return NULL;
    }
    return ops->open(addr, access, peer, opts, errp);
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

typedef struct {
    const QiocAddress *addr;
    QiocConnectFunc *connect;     /* fixed at the first try */
    const QiocOptions *opts;
    QiocOpenDone *done;
    gpointer data;
    gint64 retries_left;
} QiocConnectRetry;

static void connect_attempt(QiocConnectRetry *r);

static gboolean connect_retry_timer(gpointer data)
{
    connect_attempt(data);
    return G_SOURCE_REMOVE;
}

static void connect_finished(QIOChannel *ioc, GError *err, gpointer data)
{
    QiocConnectRetry *r = data;
    double interval;

    if (ioc || r->retries_left <= 0) {
        QiocOpenDone *done = r->done;
        gpointer done_data = r->data;

        g_free(r);
        done(ioc, err, done_data);
        return;
    }
    r->retries_left--;
    interval = qioc_address_get_duration(r->addr, "interval", 1.0);
    qioc_info(1, "address %d (%s): %s; retrying in %g s", r->addr->index,
              r->addr->text, err->message, interval);
    g_error_free(err);
    g_timeout_add((guint)(interval * 1000), connect_retry_timer, r);
}

static void connect_attempt(QiocConnectRetry *r)
{
    r->connect(r->addr, r->opts, connect_finished, r);
}

typedef struct {
    const QiocAddress *addr;
    const QiocOptions *opts;
    QiocOpenDone *done;
    gpointer data;
} QiocWrapStep;

static void connect_then_wrap(QIOChannel *ioc, GError *err, gpointer data)
{
    QiocWrapStep *w = data;
    QiocWrapStep step = *w;

    g_free(w);
    if (!ioc) {
        step.done(NULL, err, step.data);
        return;
    }
    qioc_addr_wrap_async(step.addr, step.opts, ioc, step.done, step.data);
}

void qioc_addr_connect_async(const QiocAddress *addr,
                             const QiocOptions *opts, QiocOpenDone *done,
                             gpointer data)
{
    const QiocAddrOps *ops = qioc_addr_ops(addr);
    QiocConnectRetry *r;
    QiocWrapStep *w;

    if (!ops || !ops->connect) {
        GError *err = NULL;

        not_implemented(addr, &err);
        done(NULL, err, data);
        return;
    }
    w = g_new0(QiocWrapStep, 1);
    *w = (QiocWrapStep){ addr, opts, done, data };
    r = g_new0(QiocConnectRetry, 1);
    *r = (QiocConnectRetry){ addr, ops->connect, opts, connect_then_wrap, w,
                             qioc_address_get_int(addr, "retry", 0) };
    connect_attempt(r);
}

void qioc_addr_wrap_async(const QiocAddress *addr, const QiocOptions *opts,
                          QIOChannel *ioc, QiocOpenDone *done, gpointer data)
{
    const QiocAddrOps *ops = qioc_addr_ops(addr);

    if (ops && ops->wrap) {
        ops->wrap(addr, opts, ioc, done, data);
        return;
    }
    done(ioc, NULL, data);
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

gboolean qioc_addr_client_ok(const QiocAddress *addr,
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

/* ---------------------------------------------------------------- -dd */

static char *socket_text(GSocketAddress *sa)
{
    return sa ? qio_socket_address_to_string(sa) : g_strdup("?");
}

static char *socket_ends(QIOChannelSocket *sioc)
{
    g_autoptr(GSocketAddress) local =
        qio_channel_socket_get_local_address(sioc, NULL);
    g_autoptr(GSocketAddress) peer =
        qio_channel_socket_get_remote_address(sioc, NULL);
    g_autofree char *l = socket_text(local);
    g_autofree char *p = socket_text(peer);

    return g_strdup_printf("socket %d, local %s, peer %s",
                           qio_channel_socket_get_fd(sioc), l, p);
}

/* What a descriptor is: a path, socket:[...], pipe:[...], /dev/pts/N. */
static char *fd_text(int fd)
{
    g_autofree char *link = g_strdup_printf("/proc/self/fd/%d", fd);
    g_autofree char *what = g_file_read_link(link, NULL);

    return g_strdup_printf("%d (%s)", fd, what ? what : "?");
}

static char *file_fds(QIOChannelFile *fioc)
{
    int rfd = qio_channel_file_get_read_fd(fioc);
    int wfd = qio_channel_file_get_write_fd(fioc);
    g_autofree char *r = NULL;
    g_autofree char *w = NULL;

    if (rfd < 0 || wfd < 0 || rfd == wfd) {
        r = fd_text(rfd >= 0 ? rfd : wfd);
        return g_strdup_printf("descriptor %s", r);
    }
    r = fd_text(rfd);
    w = fd_text(wfd);
    return g_strdup_printf("descriptors %s for reading, %s for writing", r,
                           w);
}

void qioc_addr_log_channel(const QiocAddress *addr, QIOChannel *ioc)
{
    g_autofree char *what = NULL;

    if (qioc_log_get_level() < 2) {
        return;
    }
    if (QIO_IS_CHANNEL_TLS(ioc)) {
        ioc = qio_channel_tls_get_master(QIO_CHANNEL_TLS(ioc));
    }
    if (QIO_IS_CHANNEL_SOCKET(ioc)) {
        what = socket_ends(QIO_CHANNEL_SOCKET(ioc));
    } else if (QIO_IS_CHANNEL_FILE(ioc)) {
        what = file_fds(QIO_CHANNEL_FILE(ioc));
    } else {
        return;
    }
    qioc_info(2, "address %d (%s): %s", addr->index, addr->text, what);
}

void qioc_addr_log_listener(const QiocAddress *addr,
                            QIONetListener *listener)
{
    if (qioc_log_get_level() < 2) {
        return;
    }
    for (guint i = 0; i < qio_net_listener_get_nsockets(listener); i++) {
        QIOChannelSocket *sioc = qio_net_listener_get_socket(listener, i);
        g_autoptr(GSocketAddress) local =
            qio_channel_socket_get_local_address(sioc, NULL);
        g_autofree char *text = socket_text(local);

        qioc_info(2, "address %d (%s): listening on %s (socket %d)",
                  addr->index, addr->text, text,
                  qio_channel_socket_get_fd(sioc));
    }
}
