/*
 * libqio - stream sockets: listening and accepting
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "qio/channel-socket.h"
#include "qio/task.h"

/* ---------------------------------------------------------------- listen */

const char *qio__socket_unix_path(GSocketAddress *sa)
{
    GUnixSocketAddress *usa;

    if (!G_IS_UNIX_SOCKET_ADDRESS(sa)) {
        return NULL;
    }
    usa = G_UNIX_SOCKET_ADDRESS(sa);
    if (g_unix_socket_address_get_address_type(usa) !=
        G_UNIX_SOCKET_ADDRESS_PATH) {
        return NULL;
    }
    return g_unix_socket_address_get_path(usa);
}

/* unlink_early: only a socket file is in the way legitimately. */
void qio__socket_unlink_stale(const char *path)
{
    struct stat st;

    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(path);
    }
}

/* Socket options before bind; returns 0 or an errno value. */
static int listen_prepare(int fd, int family,
                          const QIOChannelSocketOptions *opts, int v6only)
{
    int on = 1;

    if (qio__socket_is_inet(family) && opts->reuseaddr &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0) {
        return errno;
    }
    if (family == AF_INET6 && v6only >= 0 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) <
            0) {
        return errno;
    }
    return 0;
}

void qio__socket_remember_file(QIOChannelSocket *sioc, const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        return;
    }
    sioc->unlink_path = g_canonicalize_filename(path, NULL);
    sioc->unlink_dev = st.st_dev;
    sioc->unlink_ino = st.st_ino;
}

/* Remove the socket file if it is still the one this listener created. */
void qio_channel_socket_set_unlink_on_close(QIOChannelSocket *sioc,
                                            gboolean enabled)
{
    struct sockaddr_un sun = {0};
    socklen_t len = sizeof(sun);

    g_return_if_fail(QIO_IS_CHANNEL_SOCKET(sioc));
    if (!enabled) {
        g_clear_pointer(&sioc->unlink_path, g_free);
        return;
    }
    /* A path fills sun_path up to its NUL; an abstract name starts with
     * NUL, an unnamed socket has none. */
    if (!sioc->unlink_path && sioc->fd >= 0 &&
        getsockname(sioc->fd, (struct sockaddr *)&sun, &len) == 0 &&
        sun.sun_family == AF_UNIX &&
        len > offsetof(struct sockaddr_un, sun_path) && sun.sun_path[0]) {
        g_autofree char *path = g_strndup(
            sun.sun_path, len - offsetof(struct sockaddr_un, sun_path));

        qio__socket_remember_file(sioc, path);
    }
}

void qio__socket_unlink_file(QIOChannelSocket *sioc)
{
    g_autofree char *path = g_steal_pointer(&sioc->unlink_path);
    struct stat st;

    if (!path || lstat(path, &st) < 0) {
        return;
    }
    if (S_ISSOCK(st.st_mode) && st.st_dev == sioc->unlink_dev &&
        st.st_ino == sioc->unlink_ino) {
        unlink(path);
    }
}

/* bind and listen on a prepared socket; returns 0 or an errno value. */
static int listen_fd(QIOChannelSocket *sioc, int fd,
                     const struct sockaddr_storage *ss, socklen_t len,
                     const char *path, const QIOChannelSocketOptions *opts)
{
    int err;

    if (path && opts->unlink_early) {
        qio__socket_unlink_stale(path);
    }
    if (bind(fd, (const struct sockaddr *)ss, len) < 0) {
        return errno;
    }
    if (path) {
        qio__socket_remember_file(sioc, path);
    }
    if (listen(fd, opts->backlog) < 0) {
        err = errno;
        qio__socket_unlink_file(sioc);
        return err;
    }
    return 0;
}

/*
 * Listen on one address. Returns 0, or an errno value with @errp set
 * (the value lets the wildcard case tell "no IPv6 here" from the rest),
 * or -1 with @errp set when the setup function refused the socket.
 */
static int listen_one(QIOChannelSocket *sioc, GSocketAddress *sa,
                      const QIOChannelSocketOptions *opts, int v6only,
                      GError **errp)
{
    g_autofree char *text = qio_socket_address_to_string(sa);
    struct sockaddr_storage ss;
    socklen_t len = 0;
    const char *path = qio__socket_unix_path(sa);
    int fd;
    int err;

    if (!qio__socket_address_to_native(sa, &ss, &len, errp)) {
        return EINVAL;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    err = fd < 0 ? errno : listen_prepare(fd, ss.ss_family, opts, v6only);
    if (err == 0 &&
        !qio__socket_setup(fd, ss.ss_family, opts, "listen on", sa, errp)) {
        close(fd);
        return -1;
    }
    if (err == 0) {
        err = listen_fd(sioc, fd, &ss, len, path, opts);
    }
    if (err != 0) {
        if (fd >= 0) {
            close(fd);
        }
        qio__error_errno(errp, err, "listen on %s", text);
        return err;
    }
    qio__socket_adopt(sioc, fd, ss.ss_family, true, 0);
    return 0;
}

bool qio__socket_is_wildcard(GSocketConnectable *addr)
{
    const char *host;

    if (!G_IS_NETWORK_ADDRESS(addr)) {
        return false;
    }
    host = g_network_address_get_hostname(G_NETWORK_ADDRESS(addr));
    return !host || !*host || g_str_equal(host, "::") ||
           g_str_equal(host, "0.0.0.0");
}

static int bind_wildcard_on(QIOChannelSocket *sioc, const char *host,
                            guint16 port, const QIOChannelSocketOptions *opts,
                            int v6only, QIOSocketBindFunc *bind_one,
                            GError **errp)
{
    g_autoptr(GSocketAddress) sa =
        g_inet_socket_address_new_from_string(host, port);

    return bind_one(sioc, sa, opts, v6only, errp);
}

int qio__socket_bind_wildcard(QIOChannelSocket *sioc, GSocketConnectable *addr,
                              const QIOChannelSocketOptions *opts,
                              QIOSocketBindFunc *bind_one, GError **errp)
{
    guint16 port = g_network_address_get_port(G_NETWORK_ADDRESS(addr));
    g_autoptr(GError) err6 = NULL;
    int v6only;
    int err;

    if (opts->family == AF_INET) {
        return bind_wildcard_on(sioc, "0.0.0.0", port, opts, -1, bind_one,
                                errp);
    }
    v6only = opts->v6only >= 0 ? opts->v6only : opts->family == AF_INET6;
    err = bind_wildcard_on(sioc, "::", port, opts, v6only, bind_one, &err6);
    if (err == 0) {
        return 0;
    }
    if (opts->family == AF_INET6 ||
        (err != EAFNOSUPPORT && err != EADDRNOTAVAIL)) {
        g_propagate_error(errp, g_steal_pointer(&err6));
        return err;
    }
    return bind_wildcard_on(sioc, "0.0.0.0", port, opts, -1, bind_one, errp);
}

int qio__socket_bind_first(QIOChannelSocket *sioc, GSocketConnectable *addr,
                           const QIOChannelSocketOptions *opts, int v6only,
                           QIOSocketBindFunc *bind_one, const char *op,
                           GError **errp)
{
    g_autoptr(GSocketAddressEnumerator) en =
        g_socket_connectable_enumerate(addr);
    g_autoptr(GError) last = NULL;

    for (;;) {
        g_autoptr(GSocketAddress) sa = NULL;

        sa = qio__address_next(en, addr, last ? NULL : &last);
        if (!sa) {
            break;
        }
        if (!qio__socket_address_wanted(sa, opts)) {
            continue;
        }
        g_clear_error(&last);
        if (bind_one(sioc, sa, opts, v6only, &last) == 0) {
            return 0;
        }
    }
    if (!last) {
        qio__socket_no_address_error(addr, op, errp);
        return -1;
    }
    g_propagate_error(errp, g_steal_pointer(&last));
    return -1;
}

int qio_channel_socket_listen_sync(QIOChannelSocket *ioc,
                                   GSocketConnectable *addr,
                                   const QIOChannelSocketOptions *opts,
                                   GError **errp)
{
    int ret;

    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), -1);
    g_return_val_if_fail(G_IS_SOCKET_CONNECTABLE(addr), -1);
    g_return_val_if_fail(ioc->fd < 0, -1);
    g_return_val_if_fail(ioc->async == NULL, -1);
    opts = opts ? opts : &qio__socket_defaults;

    if (qio__socket_is_wildcard(addr)) {
        ret = qio__socket_bind_wildcard(ioc, addr, opts, listen_one, errp) == 0
                  ? 0
                  : -1;
    } else {
        /* An address other than the wildcard: IPv6 only, unless told. */
        ret = qio__socket_bind_first(ioc, addr, opts,
                                     opts->v6only >= 0 ? opts->v6only : 0,
                                     listen_one, "listen on", errp);
    }
    if (ret < 0) {
        return -1;
    }
    return qio__socket_apply_blocking(ioc, errp);
}

/* ----------------------------------------------------------- async listen */

/* A channel of its own, so that the caller's is untouched until done. */
static void listen_worker(QIOTask *task, gpointer data)
{
    QIOSocketAsync *op = data;
    QIOChannelSocket *lsn = qio_channel_socket_new();
    GError *err = NULL;

    if (qio_channel_socket_listen_sync(lsn, op->addr, &op->opts, &err) < 0) {
        qio_task_set_error(task, err);
        g_object_unref(lsn);
        return;
    }
    qio_task_set_result_pointer(task, lsn, g_object_unref);
}

static void listen_done(QIOTask *task, gpointer data)
{
    QIOSocketAsync *op = data;
    g_autoptr(QIOChannelSocket) lsn = qio_task_steal_result_pointer(task);
    GError *err = NULL;

    if (qio_task_propagate_error(task, &err)) {
        qio__socket_async_finish(op, err);
        return;
    }
    if (op->abandoned) {
        /* Dropping @lsn closes its socket and removes its file. */
        qio__socket_async_finish(
            op, qio__socket_async_closed_error(op, "listen on"));
        return;
    }
    qio__socket_take(op->sioc, lsn, &err);
    qio__socket_async_finish(op, err);
}

void qio_channel_socket_listen_async(QIOChannelSocket *ioc,
                                     GSocketConnectable *addr,
                                     const QIOChannelSocketOptions *opts,
                                     QIOTaskFunc callback, gpointer opaque,
                                     GDestroyNotify destroy,
                                     GMainContext *context)
{
    QIOSocketAsync *op = qio__socket_async_new(ioc, addr, opts, callback,
                                               opaque, destroy, context);
    QIOTask *task;

    if (!op) {
        return;
    }
    task = qio_task_new(NULL, listen_done, op, NULL);
    qio_task_run_in_thread(task, listen_worker, op, NULL, op->context);
}

/* ---------------------------------------------------------------- accept */

QIOChannelSocket *qio_channel_socket_accept(QIOChannelSocket *ioc,
                                            GError **errp)
{
    QIOChannelSocket *client;
    int fd;

    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), NULL);

    if (!qio__socket_check_open(ioc, errp)) {
        return NULL;
    }
    do {
        fd = accept4(ioc->fd, NULL, NULL, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        qio__error_errno(errp, errno, "accept");
        return NULL;
    }
    client = qio_channel_socket_new();
    qio__socket_adopt(client, fd, ioc->family, false, 0);
    return client;
}
