/*
 * libqio - sockets: unix (path and abstract), TCP and UDP
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The channel itself: I/O, descriptor passing, zero copy, shutdown and
 * close. Connecting is in socket-connect.c, listening and accepting in
 * socket-listen.c, datagram sockets and their I/O in socket-dgram.c.
 */
#include "qio-private.h"

#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#if defined(__linux__) && defined(SO_ZEROCOPY) && defined(MSG_ZEROCOPY)
#include <linux/errqueue.h>
#define QIO_HAVE_ZEROCOPY 1
#endif

#include "qio/channel-socket.h"
#include "qio/channel-watch.h"

G_DEFINE_FINAL_TYPE(QIOChannelSocket, qio_channel_socket, QIO_TYPE_CHANNEL)

const QIOChannelSocketOptions qio__socket_defaults =
    QIO_CHANNEL_SOCKET_OPTIONS_INIT;

/* ---------------------------------------------------------------- helpers */

/* One call, where F_GETFL and F_SETFL take two. */
int qio__socket_set_nonblocking(int fd, bool nonblocking)
{
    int on = nonblocking;

    return ioctl(fd, FIONBIO, &on);
}

/* Switch the channel's socket to @nonblocking unless it is known to be. */
static int socket_set_fd_mode(QIOChannelSocket *sioc, bool nonblocking)
{
    if (sioc->fd_nonblock == (int)nonblocking) {
        return 0;
    }
    if (qio__socket_set_nonblocking(sioc->fd, nonblocking) < 0) {
        return -1;
    }
    if (sioc->fd_nonblock >= 0) {
        sioc->fd_nonblock = nonblocking;
    }
    return 0;
}

bool qio__socket_is_inet(int family)
{
    return family == AF_INET || family == AF_INET6;
}

static void zc_enable(QIOChannelSocket *sioc);

void qio__socket_adopt(QIOChannelSocket *sioc, int fd, int family,
                       bool listening, int fd_nonblock)
{
    QIOChannel *ioc = QIO_CHANNEL(sioc);

    sioc->fd = fd;
    sioc->family = family;
    sioc->fd_nonblock = fd_nonblock;
    qio__channel_set_poll_fd(ioc, fd);
    if (listening) {
        qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_LISTEN);
        return;
    }
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN);
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_READ_MSG_PEEK);
    if (family == AF_UNIX) {
        qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS);
    }
    zc_enable(sioc);
}

void qio__socket_adopt_dgram(QIOChannelSocket *sioc, int fd, int family,
                             int fd_nonblock)
{
    QIOChannel *ioc = QIO_CHANNEL(sioc);

    sioc->fd = fd;
    sioc->family = family;
    sioc->fd_nonblock = fd_nonblock;
    sioc->datagram = true;
    qio__dgram_settings(sioc);
    qio__channel_set_poll_fd(ioc, fd);
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN);
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_READ_MSG_PEEK);
    if (family == AF_UNIX) {
        qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS);
    }
}

int qio__socket_take(QIOChannelSocket *to, QIOChannelSocket *from,
                     GError **errp)
{
    int fd = from->fd;

    to->unlink_path = g_steal_pointer(&from->unlink_path);
    to->unlink_dev = from->unlink_dev;
    to->unlink_ino = from->unlink_ino;
    qio__channel_set_poll_fd(QIO_CHANNEL(from), -1);
    from->fd = -1;
    if (from->datagram) {
        from->datagram = false;
        qio__socket_adopt_dgram(to, fd, from->family, from->fd_nonblock);
    } else {
        qio__socket_adopt(to, fd, from->family, true, from->fd_nonblock);
    }
    return qio__socket_apply_blocking(to, errp);
}

int qio__socket_apply_blocking(QIOChannelSocket *sioc, GError **errp)
{
    if (sioc->blocking || socket_set_fd_mode(sioc, true) == 0) {
        return 0;
    }
    qio__error_errno(errp, errno, "set socket non-blocking");
    return -1;
}

/* I/O on a channel without a socket: an error of its own, not EBADF. */
bool qio__socket_check_open(QIOChannelSocket *sioc, GError **errp)
{
    if (sioc->fd >= 0) {
        return true;
    }
    qio__error(errp, QIO_CHANNEL_ERROR_CLOSED, "socket is not open");
    return false;
}

/* ---------------------------------------------------------------- text */

static char *inet_to_string(GInetSocketAddress *isa)
{
    GInetAddress *ia = g_inet_socket_address_get_address(isa);
    g_autofree char *host = g_inet_address_to_string(ia);
    guint port = g_inet_socket_address_get_port(isa);
    guint32 scope = 0;
    char ifname[IF_NAMESIZE];

    if (g_inet_address_get_family(ia) == G_SOCKET_FAMILY_IPV4) {
        return g_strdup_printf("%s:%u", host, port);
    }
    scope = g_inet_socket_address_get_scope_id(isa);
    if (scope == 0) {
        return g_strdup_printf("[%s]:%u", host, port);
    }
    if (if_indextoname(scope, ifname)) {
        return g_strdup_printf("[%s%%%s]:%u", host, ifname, port);
    }
    return g_strdup_printf("[%s%%%u]:%u", host, scope, port);
}

/* "@name", as ss(8) shows abstract names, NULs inside included. */
static char *abstract_to_string(GUnixSocketAddress *usa)
{
    const char *name = g_unix_socket_address_get_path(usa);
    gsize len = g_unix_socket_address_get_path_len(usa);
    GString *text = g_string_new("@");

    if (g_unix_socket_address_get_address_type(usa) ==
        G_UNIX_SOCKET_ADDRESS_ABSTRACT_PADDED) {
        while (len > 0 && name[len - 1] == '\0') {
            len--;
        }
    }
    for (gsize i = 0; i < len; i++) {
        g_string_append_c(text, name[i] ? name[i] : '@');
    }
    return g_string_free(text, FALSE);
}

static char *unix_to_string(GUnixSocketAddress *usa)
{
    switch (g_unix_socket_address_get_address_type(usa)) {
    case G_UNIX_SOCKET_ADDRESS_PATH:
        return g_strdup(g_unix_socket_address_get_path(usa));
    case G_UNIX_SOCKET_ADDRESS_ABSTRACT:
    case G_UNIX_SOCKET_ADDRESS_ABSTRACT_PADDED:
        return abstract_to_string(usa);
    default:
        return g_strdup("(unnamed)");
    }
}

char *qio_socket_address_to_string(GSocketAddress *addr)
{
    g_return_val_if_fail(G_IS_SOCKET_ADDRESS(addr), NULL);

    if (G_IS_INET_SOCKET_ADDRESS(addr)) {
        return inet_to_string(G_INET_SOCKET_ADDRESS(addr));
    }
    if (G_IS_UNIX_SOCKET_ADDRESS(addr)) {
        return unix_to_string(G_UNIX_SOCKET_ADDRESS(addr));
    }
    return g_strdup("(unknown)");
}

/* ---------------------------------------------------------------- public */

QIOChannelSocket *qio_channel_socket_new(void)
{
    return g_object_new(QIO_TYPE_CHANNEL_SOCKET, NULL);
}

/* getsockopt(2) of an int at SOL_SOCKET level. */
static int socket_int_option(int fd, int option, int *value)
{
    socklen_t len = sizeof(*value);

    return getsockopt(fd, SOL_SOCKET, option, value, &len);
}

QIOChannelSocket *qio_channel_socket_new_fd(int fd, GError **errp)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int listening = 0;
    int type = 0;
    int flags;
    QIOChannelSocket *sioc;

    g_return_val_if_fail(fd >= 0, NULL);

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
        socket_int_option(fd, SO_ACCEPTCONN, &listening) < 0 ||
        socket_int_option(fd, SO_TYPE, &type) < 0 ||
        (flags = fcntl(fd, F_GETFL)) < 0) {
        qio__error_errno(errp, errno, "descriptor %d", fd);
        return NULL;
    }
    sioc = qio_channel_socket_new();
    sioc->blocking = !(flags & O_NONBLOCK);
    if (type == SOCK_DGRAM) {
        qio__socket_adopt_dgram(sioc, fd, ss.ss_family, -1);
    } else {
        qio__socket_adopt(sioc, fd, ss.ss_family, listening != 0, -1);
    }
    return sioc;
}

int qio_channel_socket_get_fd(QIOChannelSocket *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), -1);
    return ioc->fd;
}

static GSocketAddress *socket_address(QIOChannelSocket *ioc, bool remote,
                                      GError **errp)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int ret;

    memset(&ss, 0, sizeof(ss));
    if (remote) {
        ret = getpeername(ioc->fd, (struct sockaddr *)&ss, &len);
    } else {
        ret = getsockname(ioc->fd, (struct sockaddr *)&ss, &len);
    }
    if (ret < 0) {
        qio__error_errno(errp, errno, "get %s address",
                         remote ? "remote" : "local");
        return NULL;
    }
    return g_socket_address_new_from_native(&ss, len);
}

GSocketAddress *qio_channel_socket_get_local_address(QIOChannelSocket *ioc,
                                                     GError **errp)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), NULL);
    return socket_address(ioc, false, errp);
}

GSocketAddress *qio_channel_socket_get_remote_address(QIOChannelSocket *ioc,
                                                      GError **errp)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), NULL);
    return socket_address(ioc, true, errp);
}

gboolean qio_channel_socket_is_unix(QIOChannelSocket *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), FALSE);
    return ioc->fd >= 0 && ioc->family == AF_UNIX;
}

/* ---------------------------------------------------------------- I/O */

/*
 * Collect the SCM_RIGHTS descriptors of @msg. Unwanted ones (@fds NULL)
 * are closed: a peer must not be able to fill our descriptor table.
 */
int qio__socket_take_fds(struct msghdr *msg, int **fds, size_t *nfds,
                         GError **errp)
{
    g_autofree int *got = NULL;
    size_t n = 0;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        size_t count;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        got = g_renew(int, got, n + count);
        memcpy(got + n, CMSG_DATA(c), count * sizeof(int));
        n += count;
    }
    if (!fds || (msg->msg_flags & MSG_CTRUNC)) {
        qio__close_fds(g_steal_pointer(&got), n);
    }
    if (fds && (msg->msg_flags & MSG_CTRUNC)) {
        qio__error(errp, QIO_CHANNEL_ERROR_FD_TRUNCATED,
                   "descriptors were truncated: the message carried more "
                   "than could be received");
        return -1;
    }
    if (fds) {
        *fds = g_steal_pointer(&got);
    }
    if (nfds) {
        *nfds = fds ? n : 0;
    }
    return 0;
}

static ssize_t qio_channel_socket_readv(QIOChannel *ioc,
                                        const struct iovec *iov, size_t niov,
                                        int **fds, size_t *nfds, int flags,
                                        GError **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    QIOSocketControl control;
    struct msghdr msg = {
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = MIN(niov, IOV_MAX),
    };
    int rflags = 0;
    ssize_t ret;

    if (sioc->datagram) {
        return qio__dgram_readv(sioc, iov, niov, fds, nfds, flags, NULL, errp);
    }
    if (!qio__socket_check_open(sioc, errp)) {
        return -1;
    }
    if (flags & QIO_CHANNEL_READ_FLAG_MSG_PEEK) {
        rflags |= MSG_PEEK;
    }
    if (fds || sioc->family == AF_UNIX) {
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        rflags |= MSG_CMSG_CLOEXEC;
    }
    do {
        ret = recvmsg(sioc->fd, &msg, rflags);
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        qio__error_errno(errp, errno, "read from socket");
        return -1;
    }
    if (msg.msg_control && qio__socket_take_fds(&msg, fds, nfds, errp) < 0) {
        return -1;
    }
    return ret;
}

void qio__socket_put_fds(struct msghdr *msg, QIOSocketControl *control,
                         const int *fds, size_t nfds)
{
    struct cmsghdr *c;
    size_t size = nfds * sizeof(int);

    memset(control, 0, CMSG_SPACE(size));
    msg->msg_control = control->buf;
    msg->msg_controllen = CMSG_SPACE(size);
    c = CMSG_FIRSTHDR(msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(size);
    memcpy(CMSG_DATA(c), fds, size);
}

/* ---------------------------------------------------------------- zero copy */

/*
 * SO_ZEROCOPY is the kernel's consent: without it MSG_ZEROCOPY is silently
 * ignored, and no completion would ever arrive for flush to wait on.
 */
static bool zc_turn_on(QIOChannelSocket *sioc)
{
#ifdef QIO_HAVE_ZEROCOPY
    int on = 1;

    if (!sioc->zc_enabled &&
        setsockopt(sioc->fd, SOL_SOCKET, SO_ZEROCOPY, &on, sizeof(on)) == 0) {
        sioc->zc_enabled = true;
    }
#endif
    return sioc->zc_enabled;
}

/*
 * Whether the kernel takes SO_ZEROCOPY is asked once, on the first inet
 * socket; every other one turns it on at its first zero-copy write, so
 * that short connections that never write that way pay no system call.
 */
static void zc_enable(QIOChannelSocket *sioc)
{
#ifdef QIO_HAVE_ZEROCOPY
    static gsize kernel_answer; /* 0: not asked, 1: yes, 2: no */

    if (!qio__socket_is_inet(sioc->family)) {
        return;
    }
    if (g_once_init_enter(&kernel_answer)) {
        g_once_init_leave(&kernel_answer, zc_turn_on(sioc) ? 1 : 2);
    }
    if (kernel_answer != 1) {
        return;
    }
    sioc->zc_possible = true;
    qio_channel_set_feature(QIO_CHANNEL(sioc),
                            QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY);
#endif
}

/* Forget the sends of a socket that is going away. */
static void zc_reset(QIOChannelSocket *sioc)
{
    sioc->zc_possible = false;
    sioc->zc_enabled = false;
    sioc->zc_queued = 0;
    sioc->zc_done = 0;
    sioc->zc_unflushed = false;
    sioc->zc_avoided_copy = false;
}

/* The kernel numbers sends in 32 bits and wraps; so does the count. */
static bool zc_pending(QIOChannelSocket *sioc)
{
    return (gint32)(sioc->zc_queued - sioc->zc_done) > 0;
}

#ifdef QIO_HAVE_ZEROCOPY

/* An error-queue message: the error, then the address of whoever sent it. */
typedef union {
    char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
                        sizeof(struct sockaddr_in6))];
    struct cmsghdr align;
} QIOSocketErrControl;

static bool is_recverr(const struct cmsghdr *c)
{
    return (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
           (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
}

/*
 * A completion covers the sends numbered ee_info to ee_data. Over
 * loopback it always says COPIED: the receiving socket could hold the
 * pages for ever, so the kernel copies them when it delivers.
 */
static void zc_completed(QIOChannelSocket *sioc,
                         const struct sock_extended_err *ee)
{
    sioc->zc_done += ee->ee_data - ee->ee_info + 1;
    if (!(ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED)) {
        sioc->zc_avoided_copy = true;
    }
}

/*
 * Account one error-queue message. Other origins (timestamps someone
 * enabled on the descriptor) are not ours, unless they carry an error.
 */
static int zc_account(QIOChannelSocket *sioc, struct msghdr *msg, GError **errp)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        struct sock_extended_err ee;

        if (!is_recverr(c) || c->cmsg_len < CMSG_LEN(sizeof(ee))) {
            continue;
        }
        memcpy(&ee, CMSG_DATA(c), sizeof(ee));
        if (ee.ee_origin == SO_EE_ORIGIN_ZEROCOPY) {
            zc_completed(sioc, &ee);
        } else if (ee.ee_errno != 0) {
            qio__error_errno(errp, ee.ee_errno, "socket error queue");
            return -1;
        }
    }
    return 0;
}

/* Take every message queued now (MSG_ERRQUEUE never blocks): a count. */
static int zc_reap(QIOChannelSocket *sioc, GError **errp)
{
    int got = 0;

    for (;;) {
        QIOSocketErrControl control;
        struct msghdr msg = {
            .msg_control = control.buf,
            .msg_controllen = sizeof(control.buf),
        };

        if (recvmsg(sioc->fd, &msg, MSG_ERRQUEUE) < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return got;
            }
            qio__error_errno(errp, errno, "read socket error queue");
            return -1;
        }
        if (zc_account(sioc, &msg, errp) < 0) {
            return -1;
        }
        got++;
    }
}

#else /* !QIO_HAVE_ZEROCOPY */

static int zc_reap(QIOChannelSocket *sioc, GError **errp)
{
    return 0;
}

#endif /* QIO_HAVE_ZEROCOPY */

/* How long a hung-up socket waits between looks at its error queue. */
#define ZC_HUP_MIN_MS 1
#define ZC_HUP_MAX_MS 100

/*
 * Wait for more completions: their arrival raises POLLERR. So does a
 * connection error, which is fetched (and so consumed) and reported. A
 * socket shut down both ways polls POLLHUP for ever, though its data may
 * still be in flight: it is looked at again, less and less often.
 */
static int zc_wait(QIOChannelSocket *sioc, guint *hup_ms, GError **errp)
{
    struct pollfd pfd = {.fd = sioc->fd, .events = 0};
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    int ret;

    do {
        ret = poll(&pfd, 1, -1);
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        qio__error_errno(errp, errno, "wait for zero-copy completions");
        return -1;
    }
    if (pfd.revents & POLLNVAL) {
        qio__error_errno(errp, EBADF, "wait for zero-copy completions");
        return -1;
    }
    if (pfd.revents & POLLERR) {
        if (getsockopt(sioc->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
            soerr = errno;
        }
        if (soerr != 0) {
            qio__error_errno(errp, soerr, "flush zero-copy writes");
            return -1;
        }
        return 0;
    }
    *hup_ms = CLAMP(*hup_ms * 2, ZC_HUP_MIN_MS, ZC_HUP_MAX_MS);
    g_usleep(*hup_ms * G_TIME_SPAN_MILLISECOND);
    return 0;
}

static int qio_channel_socket_flush(QIOChannel *ioc, GError **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    guint hup_ms = 0;
    int ret;

    if (!sioc->zc_unflushed) {
        return 0;
    }
    while (zc_pending(sioc)) {
        int got = zc_reap(sioc, errp);

        if (got < 0 || (got == 0 && zc_wait(sioc, &hup_ms, errp) < 0)) {
            return -1;
        }
    }
    ret = sioc->zc_avoided_copy ? 0 : 1;
    sioc->zc_unflushed = false;
    sioc->zc_avoided_copy = false;
    return ret;
}

/* ---------------------------------------------------------------- write */

/* MSG_NOSIGNAL: a peer that went away must not kill the host. */
ssize_t qio__socket_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    ssize_t ret;

    do {
        ret = sendmsg(fd, msg, flags | MSG_NOSIGNAL);
    } while (ret < 0 && errno == EINTR);
    return ret;
}

/* What writev returns for a sendmsg result (errno set if negative). */
static ssize_t send_result(ssize_t ret, GError **errp)
{
    if (ret >= 0) {
        return ret;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return QIO_CHANNEL_ERR_BLOCK;
    }
    qio__error_errno(errp, errno, "write to socket");
    return -1;
}

/*
 * ENOBUFS: the pinned pages are over RLIMIT_MEMLOCK or the completions
 * over net.core.optmem_max. Taking the completions queued frees option
 * memory, so try once more; then copy, so that the write still happens
 * (flush counts it as a send that was copied).
 */
static ssize_t zc_sendmsg(QIOChannelSocket *sioc, const struct msghdr *msg,
                          GError **errp)
{
#ifdef QIO_HAVE_ZEROCOPY
    ssize_t ret = qio__socket_sendmsg(sioc->fd, msg, MSG_ZEROCOPY);
    int got = 0;

    if (ret < 0 && errno == ENOBUFS) {
        got = zc_reap(sioc, errp);
        if (got < 0) {
            return -1;
        }
        errno = ENOBUFS;
    }
    if (got > 0) {
        ret = qio__socket_sendmsg(sioc->fd, msg, MSG_ZEROCOPY);
    }
    /* The kernel numbers a send only if it took some bytes. */
    if (ret > 0) {
        sioc->zc_queued++;
        sioc->zc_unflushed = true;
        return ret;
    }
    if (ret < 0 && errno == ENOBUFS) {
        ret = qio__socket_sendmsg(sioc->fd, msg, 0);
        sioc->zc_unflushed |= ret > 0;
    }
    return send_result(ret, errp);
#else
    g_assert_not_reached();
#endif
}

/* Only a socket that took SO_ZEROCOPY (not a reused channel's old one). */
static bool zc_check_write(QIOChannelSocket *sioc, size_t nfds, GError **errp)
{
    if (!sioc->zc_possible || !zc_turn_on(sioc)) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "socket does not support zero-copy writes");
        return false;
    }
    if (nfds > 0) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "descriptors cannot be sent with a zero-copy write");
        return false;
    }
    return true;
}

static ssize_t qio_channel_socket_writev(QIOChannel *ioc,
                                         const struct iovec *iov, size_t niov,
                                         int *fds, size_t nfds, int flags,
                                         GError **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    QIOSocketControl control;
    struct msghdr msg = {
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = MIN(niov, IOV_MAX),
    };

    if (!qio__socket_check_open(sioc, errp)) {
        return -1;
    }
    if (flags & QIO_CHANNEL_WRITE_FLAG_ZERO_COPY) {
        if (!zc_check_write(sioc, fds ? nfds : 0, errp)) {
            return -1;
        }
        return zc_sendmsg(sioc, &msg, errp);
    }
    if (nfds > QIO_CHANNEL_SOCKET_MAX_FDS) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "cannot send %zu descriptors in one message (at most %d)",
                   nfds, QIO_CHANNEL_SOCKET_MAX_FDS);
        return -1;
    }
    if (sioc->datagram) {
        return qio__dgram_writev(sioc, iov, niov, fds, nfds, NULL, errp);
    }
    if (fds && nfds > 0) {
        qio__socket_put_fds(&msg, &control, fds, nfds);
    }
    return send_result(qio__socket_sendmsg(sioc->fd, &msg, 0), errp);
}

static int socket_close(QIOChannelSocket *sioc, GError **errp)
{
    int fd = sioc->fd;

    if (sioc->async) {
        qio__socket_async_abandon(sioc->async);
    }
    if (fd < 0) {
        return 0;
    }
    /* Before close: while the socket lives, its file cannot be rebound. */
    qio__socket_unlink_file(sioc);
    /*
     * Unflushed zero-copy sends are forgotten: the kernel drops their
     * completions with the socket and unpins their pages once sent.
     */
    zc_reset(sioc);
    if (sioc->dgram) {
        qio__dgram_forget_sender(sioc->dgram);
    }
    sioc->datagram = false;
    qio__channel_set_poll_fd(QIO_CHANNEL(sioc), -1);
    sioc->fd = -1;
    /* On Linux the descriptor is gone even when close fails with EINTR. */
    if (close(fd) < 0 && errno != EINTR) {
        qio__error_errno(errp, errno, "close socket");
        return -1;
    }
    return 0;
}

static int qio_channel_socket_close(QIOChannel *ioc, GError **errp)
{
    return socket_close(QIO_CHANNEL_SOCKET(ioc), errp);
}

static GSource *qio_channel_socket_create_watch(QIOChannel *ioc,
                                                GIOCondition condition)
{
    return qio_channel_create_socket_watch(ioc, QIO_CHANNEL_SOCKET(ioc)->fd,
                                           condition);
}

static int qio_channel_socket_set_blocking(QIOChannel *ioc, bool enabled,
                                           GError **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);

    sioc->blocking = enabled;
    if (sioc->fd < 0 || socket_set_fd_mode(sioc, !enabled) == 0) {
        return 0;
    }
    qio__error_errno(errp, errno, "set socket %s",
                     enabled ? "blocking" : "non-blocking");
    return -1;
}

static int qio_channel_socket_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                                       GError **errp)
{
    static const int sys_how[] = {
        [QIO_CHANNEL_SHUTDOWN_READ] = SHUT_RD,
        [QIO_CHANNEL_SHUTDOWN_WRITE] = SHUT_WR,
        [QIO_CHANNEL_SHUTDOWN_BOTH] = SHUT_RDWR,
    };

    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);

    g_return_val_if_fail(how >= QIO_CHANNEL_SHUTDOWN_READ &&
                             how <= QIO_CHANNEL_SHUTDOWN_BOTH,
                         -1);
    if (!qio__socket_check_open(sioc, errp)) {
        return -1;
    }
    /*
     * An unconnected UDP socket is shut down all the same (its readers
     * wake up and read 0), but the kernel says ENOTCONN.
     */
    if (shutdown(sioc->fd, sys_how[how]) < 0 &&
        !(errno == ENOTCONN && sioc->datagram)) {
        qio__error_errno(errp, errno, "shutdown socket");
        return -1;
    }
    return 0;
}

/* TCP options are hints: failing to set one changes nothing for callers. */
static void set_tcp_option(QIOChannelSocket *sioc, int option, int value)
{
    if (sioc->fd >= 0 && qio__socket_is_inet(sioc->family)) {
        (void)setsockopt(sioc->fd, IPPROTO_TCP, option, &value, sizeof(value));
    }
}

static void qio_channel_socket_set_cork(QIOChannel *ioc, bool enabled)
{
    set_tcp_option(QIO_CHANNEL_SOCKET(ioc), TCP_CORK, enabled);
}

static void qio_channel_socket_set_delay(QIOChannel *ioc, bool enabled)
{
    set_tcp_option(QIO_CHANNEL_SOCKET(ioc), TCP_NODELAY, !enabled);
}

/* ---------------------------------------------------------------- object */

static void qio_channel_socket_finalize(GObject *obj)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(obj);

    socket_close(sioc, NULL);
    g_free(sioc->unlink_path);
    g_clear_pointer(&sioc->dgram, qio__dgram_free);
    G_OBJECT_CLASS(qio_channel_socket_parent_class)->finalize(obj);
}

static void qio_channel_socket_class_init(QIOChannelSocketClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    QIOChannelClass *ioc_class = QIO_CHANNEL_CLASS(klass);

    object_class->finalize = qio_channel_socket_finalize;
    ioc_class->io_writev = qio_channel_socket_writev;
    ioc_class->io_readv = qio_channel_socket_readv;
    ioc_class->io_close = qio_channel_socket_close;
    ioc_class->io_create_watch = qio_channel_socket_create_watch;
    ioc_class->io_set_blocking = qio_channel_socket_set_blocking;
    ioc_class->io_shutdown = qio_channel_socket_shutdown;
    ioc_class->io_set_cork = qio_channel_socket_set_cork;
    ioc_class->io_set_delay = qio_channel_socket_set_delay;
    ioc_class->io_flush = qio_channel_socket_flush;
}

static void qio_channel_socket_init(QIOChannelSocket *sioc)
{
    sioc->fd = -1;
    sioc->family = AF_UNSPEC;
    sioc->blocking = true;
    sioc->fd_nonblock = -1;
}
