/*
 * qioc - helpers the address families share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

QiocAccess qioc_access_needed(const QiocOptions *opts, int i)
{
    if (opts->left_to_right) {
        return i == 0 ? QIOC_ACCESS_READ : QIOC_ACCESS_WRITE;
    }
    if (opts->right_to_left) {
        return i == 0 ? QIOC_ACCESS_WRITE : QIOC_ACCESS_READ;
    }
    return QIOC_ACCESS_RDWR;
}

int qioc_access_flags(QiocAccess access)
{
    switch (access) {
    case QIOC_ACCESS_READ:
        return O_RDONLY;
    case QIOC_ACCESS_WRITE:
        return O_WRONLY;
    default:
        return O_RDWR;
    }
}

QiocAccess qioc_access_of_flags(int flags)
{
    switch (flags & O_ACCMODE) {
    case O_RDONLY:
        return QIOC_ACCESS_READ;
    case O_WRONLY:
        return QIOC_ACCESS_WRITE;
    default:
        return QIOC_ACCESS_RDWR;
    }
}

mode_t qioc_umask_push(const QiocAddress *addr)
{
    return addr->o.umask >= 0 ? umask((mode_t)addr->o.umask) : 0;
}

void qioc_umask_pop(const QiocAddress *addr, mode_t old)
{
    if (addr->o.umask >= 0) {
        umask(old);
    }
}

static gboolean set_mode(const char *path, gint64 mode, GError **errp)
{
    if (mode >= 0 && chmod(path, (mode_t)mode) < 0) {
        qioc_error_errno(errp, errno, "chmod %s", path);
        return FALSE;
    }
    return TRUE;
}

gboolean qioc_set_file_attrs(const QiocAddress *addr, const char *path,
                             gboolean created, GError **errp)
{
    uid_t uid = (uid_t)addr->o.user;
    gid_t gid = (gid_t)addr->o.group;

    if ((created && !set_mode(path, addr->o.mode, errp)) ||
        !set_mode(path, addr->o.perm_late, errp)) {
        return FALSE;
    }
    if ((addr->o.user >= 0 || addr->o.group >= 0) &&
        chown(path, uid, gid) < 0) {
        qioc_error_errno(errp, errno, "chown %s", path);
        return FALSE;
    }
    return TRUE;
}

typedef struct {
    QiocOpenDone *done;
    gpointer data;
} QiocConnectCall;

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

void qioc_socket_connect(GSocketConnectable *sa,
                         const QIOChannelSocketOptions *sopts,
                         QiocOpenDone *done, gpointer data)
{
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    QiocConnectCall *call = g_new0(QiocConnectCall, 1);

    call->done = done;
    call->data = data;
    /* What the pump wants: no mode switches after the connect. */
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);
    qio_channel_socket_connect_async(sioc, sa, sopts, socket_connected, call,
                                     g_free, NULL);
}

void qioc_socket_dgram(GSocketConnectable *local, GSocketConnectable *remote,
                       const QIOChannelSocketOptions *sopts, QiocOpenDone *done,
                       gpointer data)
{
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    QiocConnectCall *call = g_new0(QiocConnectCall, 1);

    call->done = done;
    call->data = data;
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);
    qio_channel_socket_dgram_async(sioc, local, remote, sopts, socket_connected,
                                   call, g_free, NULL);
}

QIOChannel *qioc_dgram_channel(QIOChannelSocket *sioc, QiocDgramRole role,
                               GSocketAddress *to, QiocAccess *access)
{
    switch (role) {
    case QIOC_DGRAM_SEND:
        qio_channel_socket_set_send_address(sioc, to);
        break;
    case QIOC_DGRAM_REPLY:
        qio_channel_socket_set_reply_to_sender(sioc, TRUE);
        break;
    case QIOC_DGRAM_RECV:
        *access = QIOC_ACCESS_READ;
        break;
    }
    return QIO_CHANNEL(sioc);
}

gboolean qioc_listener_add_fd(QIONetListener *listener, int fd,
                              const char *hint, GError **errp)
{
    g_autoptr(QIOChannelSocket) sioc = NULL;

    if (fcntl(fd, F_GETFD) < 0) {
        qioc_error_errno(errp, errno, "descriptor %d", fd);
        return FALSE;
    }
    sioc = qio_channel_socket_new_fd(fd, errp);
    if (!sioc) {
        return FALSE;
    }
    if (!qio_channel_has_feature(QIO_CHANNEL(sioc),
                                 QIO_CHANNEL_FEATURE_LISTEN)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "descriptor %d is not a listening socket%s", fd,
                    hint ? hint : "");
        return FALSE;
    }
    qio_net_listener_add(listener, sioc);
    return TRUE;
}

char *qioc_socat_ipv6(GInetAddress *ia)
{
    const guint8 *b = g_inet_address_to_bytes(ia);
    GString *out = g_string_new("[");

    for (int i = 0; i < 16; i += 2) {
        g_string_append_printf(out, "%s%02x%02x", i ? ":" : "", b[i], b[i + 1]);
    }
    g_string_append_c(out, ']');
    return g_string_free(out, FALSE);
}

void qioc_error_errno(GError **errp, int err, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *what = NULL;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(err), "%s: %s", what,
                g_strerror(err));
}

void qioc_error_hint(GError **errp, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *hint = NULL;
    char *message;

    if (!errp || !*errp) {
        return;
    }
    va_start(ap, fmt);
    hint = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    message = g_strdup_printf("%s; %s", (*errp)->message, hint);
    g_free((*errp)->message);
    (*errp)->message = message;
}

/* chroot= then su=, on qioc itself. */
static gboolean drop_privileges(const QiocAddress *addr, GError **errp)
{
    uid_t uid = (uid_t)addr->o.su;
    struct passwd *pw = addr->o.su >= 0 ? getpwuid(uid) : NULL;

    if (addr->o.su >= 0 && !pw) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "su=%u: no such user", (guint)uid);
        return FALSE;
    }
    if (addr->o.chroot && (chroot(addr->o.chroot) < 0 || chdir("/") < 0)) {
        qioc_error_errno(errp, errno, "chroot %s", addr->o.chroot);
        return FALSE;
    }
    if (pw && (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
               setgid(pw->pw_gid) < 0 || setuid(uid) < 0)) {
        qioc_error_errno(errp, errno, "su=%s", pw->pw_name);
        return FALSE;
    }
    if (pw && setuid(0) == 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "su=%s: root privileges could be regained", pw->pw_name);
        return FALSE;
    }
    return TRUE;
}

/* A dual address's halves each carry their own process options. */
static gboolean each_half(const QiocEndpoint *ep,
                          gboolean (*step)(const QiocEndpoint *, GError **),
                          GError **errp)
{
    return step(qioc_endpoint_dual_half(ep, 0), errp) &&
           step(qioc_endpoint_dual_half(ep, 1), errp);
}

gboolean qioc_endpoint_drop_privileges(const QiocEndpoint *ep, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    const QiocAddrDesc *d = ep->desc;

    if (d->kind == QIOC_ADDR_DUAL) {
        return each_half(ep, qioc_endpoint_drop_privileges, errp);
    }
    /* A child's own. */
    if (d->kind == QIOC_ADDR_EXEC || d->kind == QIOC_ADDR_SYSTEM ||
        (addr->o.su < 0 && !addr->o.chroot)) {
        return TRUE;
    }
    if (!drop_privileges(addr, errp)) {
        return FALSE;
    }
    qioc_log_address(1, addr->index, addr->text, "running as uid %u gid %u%s%s",
                     (guint)getuid(), (guint)getgid(),
                     addr->o.chroot ? ", root " : "",
                     addr->o.chroot ? addr->o.chroot : "");
    return TRUE;
}

/* setpgid=: 0 or 1 (socat's) make a new group. */
static gboolean own_setpgid(const QiocAddress *addr, GError **errp)
{
    pid_t pgid = addr->o.setpgid == 1 ? 0 : (pid_t)addr->o.setpgid;

    if (setpgid(0, pgid) < 0) {
        qioc_error_errno(errp, errno, "setpgid %d", (int)pgid);
        return FALSE;
    }
    qioc_log_address(1, addr->index, addr->text, "process group %d",
                     (int)getpgrp());
    return TRUE;
}

gboolean qioc_endpoint_setsid(const QiocEndpoint *ep, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    QiocAddrKind kind = ep->desc->kind;

    if (kind == QIOC_ADDR_DUAL) {
        return each_half(ep, qioc_endpoint_setsid, errp);
    }
    /* EXEC and SYSTEM: the child's, set when it starts. */
    if (kind == QIOC_ADDR_EXEC || kind == QIOC_ADDR_SYSTEM) {
        return TRUE;
    }
    if (addr->o.setsid) {
        if (setsid() < 0) {
            qioc_error_errno(errp, errno, "setsid");
            return FALSE;
        }
        qioc_log_address(1, addr->index, addr->text, "new session %d",
                         (int)getpid());
    } else if (addr->o.setpgid >= 0) {
        return own_setpgid(addr, errp);
    }
    return TRUE;
}
