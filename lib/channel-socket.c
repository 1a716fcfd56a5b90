/*
 * libqio - stream sockets: unix (path and abstract) and TCP
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>

#if defined(__linux__) && defined(SO_ZEROCOPY) && defined(MSG_ZEROCOPY)
#include <linux/errqueue.h>
#define QIO_HAVE_ZEROCOPY 1
#endif

#include "qio/channel-socket.h"
#include "qio/channel-watch.h"
#include "qio/task.h"

typedef struct QIOSocketAsync QIOSocketAsync;

struct _QIOChannelSocket {
    QIOChannel parent;
    int fd;
    int family;
    /* The mode asked for; applied when a socket arrives after the call. */
    bool blocking;
    /*
     * O_NONBLOCK as this channel last left its own socket: 1 or 0; -1 for
     * a descriptor from outside (qio_channel_socket_new_fd), whose file
     * description others may change, so it is set every time.
     */
    int fd_nonblock;
    /* A listener's socket file, removed on close if still the same inode. */
    char *unlink_path;
    dev_t unlink_dev;
    ino_t unlink_ino;
    /* A connect_async or listen_async in flight, abandoned by close. */
    QIOSocketAsync *async;
    /* An inet socket on a kernel that takes SO_ZEROCOPY. */
    bool zc_possible;
    /* SO_ZEROCOPY is on: writes may use MSG_ZEROCOPY. */
    bool zc_enabled;
    /* Zero-copy sends the kernel numbered, and how many it reported done. */
    guint32 zc_queued;
    guint32 zc_done;
    /* Since the last flush: a zero-copy write, one that avoided a copy. */
    bool zc_unflushed;
    bool zc_avoided_copy;
};

G_DEFINE_FINAL_TYPE(QIOChannelSocket, qio_channel_socket, QIO_TYPE_CHANNEL)

/* Room for the most descriptors the kernel passes in one message. */
typedef union {
    char buf[CMSG_SPACE(sizeof(int) * QIO_CHANNEL_SOCKET_MAX_FDS)];
    struct cmsghdr align;
} QIOSocketControl;

static const QIOChannelSocketOptions qio_socket_defaults =
    QIO_CHANNEL_SOCKET_OPTIONS_INIT;

/* ---------------------------------------------------------------- helpers */

/* One call, where F_GETFL and F_SETFL take two. */
static int set_nonblocking(int fd, bool nonblocking)
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
    if (set_nonblocking(sioc->fd, nonblocking) < 0) {
        return -1;
    }
    if (sioc->fd_nonblock >= 0) {
        sioc->fd_nonblock = nonblocking;
    }
    return 0;
}

static bool is_inet_family(int family)
{
    return family == AF_INET || family == AF_INET6;
}

static void zc_enable(QIOChannelSocket *sioc);

/*
 * Give @sioc its socket and the features that come with it; @fd_nonblock
 * is the socket's O_NONBLOCK if this library made it, else -1.
 */
static void socket_adopt(QIOChannelSocket *sioc, int fd, int family,
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

/*
 * Sockets are made blocking; a channel switched to non-blocking before it
 * had one gets that mode now.
 */
static int socket_apply_blocking(QIOChannelSocket *sioc, GError **errp)
{
    if (sioc->blocking || socket_set_fd_mode(sioc, true) == 0) {
        return 0;
    }
    qio__error_errno(errp, errno, "set socket non-blocking");
    return -1;
}

/* I/O on a channel without a socket: an error of its own, not EBADF. */
static bool socket_check_open(QIOChannelSocket *sioc, GError **errp)
{
    if (sioc->fd >= 0) {
        return true;
    }
    qio__error(errp, QIO_CHANNEL_ERROR_CLOSED, "socket is not open");
    return false;
}

static bool address_to_native(GSocketAddress *sa,
                              struct sockaddr_storage *ss, socklen_t *len,
                              GError **errp)
{
    gssize size = g_socket_address_get_native_size(sa);

    memset(ss, 0, sizeof(*ss));
    if (size <= 0 || (gsize)size > sizeof(*ss)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                    "unsupported socket address");
        return false;
    }
    if (!g_socket_address_to_native(sa, ss, sizeof(*ss), errp)) {
        return false;
    }
    *len = size;
    return true;
}

/* Whether a resolved address passes the family filters of @opts. */
static bool address_wanted(GSocketAddress *sa,
                           const QIOChannelSocketOptions *opts)
{
    int family = g_socket_address_get_family(sa);

    if (!is_inet_family(family)) {
        return true;
    }
    if (opts->family != AF_UNSPEC && family != opts->family) {
        return false;
    }
    return !opts->bind ||
           (int)g_socket_address_get_family(opts->bind) == family;
}

/* HOST:PORT as a user writes it: an IPv6 host in brackets. */
static char *connectable_text(GSocketConnectable *addr)
{
    GNetworkAddress *na;
    const char *host;

    if (!G_IS_NETWORK_ADDRESS(addr)) {
        return g_socket_connectable_to_string(addr);
    }
    na = G_NETWORK_ADDRESS(addr);
    host = g_network_address_get_hostname(na);
    return g_strdup_printf(strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
                           g_network_address_get_port(na));
}

GSocketAddress *qio__address_next(GSocketAddressEnumerator *en,
                                  GSocketConnectable *addr, GError **errp)
{
    g_autoptr(GError) err = NULL;
    GSocketAddress *sa = g_socket_address_enumerator_next(en, NULL, &err);
    const char *reason;
    const char *host;

    if (!err) {
        return sa;
    }
    if (err->domain != G_RESOLVER_ERROR || !G_IS_NETWORK_ADDRESS(addr)) {
        g_propagate_error(errp, g_steal_pointer(&err));
        return NULL;
    }
    /* GLib says: Error resolving “HOST”: REASON */
    reason = strstr(err->message, "\u201d: ");
    reason = reason ? reason + strlen("\u201d: ") : err->message;
    host = g_network_address_get_hostname(G_NETWORK_ADDRESS(addr));
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "resolve %s: %s",
                host, reason);
    return NULL;
}

static void no_address_error(GSocketConnectable *addr, const char *op,
                             GError **errp)
{
    g_autofree char *text = connectable_text(addr);

    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                "%s %s: no address of the requested family", op, text);
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

/* ---------------------------------------------------------------- connect */

/*
 * How a finished non-blocking connect(2) ended: 0 or an errno value.
 * A socket with a peer is connected; that costs one call and leaves any
 * later error to the reads. Otherwise a peer that accepted, sent and
 * reset before we looked leaves ECONNRESET in SO_ERROR although the
 * connection was made and its data is queued; taking that error as a
 * failed connect would lose the data. So a peek comes first: data, or an
 * orderly end, proves the connection; an error it returns (which it
 * clears) is the connect's; only when it would block does SO_ERROR decide.
 */
static int connect_result(int fd)
{
    struct sockaddr_storage peer;
    socklen_t peerlen = sizeof(peer);
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    ssize_t n;
    char c;

    if (getpeername(fd, (struct sockaddr *)&peer, &peerlen) == 0) {
        return 0;
    }
    n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n >= 0) {
        return 0;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
        return errno;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0) {
        return errno;
    }
    return soerr;
}

/* Wait for a connect in progress; returns its outcome as an errno value. */
static int connect_wait(int fd, int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    int ret;

    do {
        int wait_ms = -1;

        if (timeout_ms > 0) {
            gint64 left = deadline - g_get_monotonic_time();
            wait_ms = left > 0 ? (int)((left + 999) / 1000) : 0;
        }
        ret = poll(&pfd, 1, wait_ms);
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        return errno;
    }
    if (ret == 0) {
        return ETIMEDOUT;
    }
    return connect_result(fd);
}

/*
 * connect(2) with an optional timeout, done as a non-blocking connect
 * and poll. A blocking connect interrupted by a signal goes on in the
 * background, so it is waited for the same way.
 */
static int connect_fd(int fd, const struct sockaddr *sa, socklen_t len,
                      int timeout_ms)
{
    int err = 0;

    if (timeout_ms > 0 && set_nonblocking(fd, true) < 0) {
        return errno;
    }
    if (connect(fd, sa, len) < 0) {
        err = errno;
    }
    if (err == EINPROGRESS || err == EINTR) {
        err = connect_wait(fd, timeout_ms);
    }
    if (timeout_ms > 0 && err == 0 && set_nonblocking(fd, false) < 0) {
        err = errno;
    }
    return err;
}

static int bind_local(int fd, GSocketAddress *local, GError **errp)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;

    if (!address_to_native(local, &ss, &len, errp)) {
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
        g_autofree char *text = qio_socket_address_to_string(local);

        qio__error_errno(errp, errno, "bind to %s", text);
        return -1;
    }
    return 0;
}

/* A connected socket for one address, or -1 with @errp set. */
static int connect_one(GSocketAddress *sa,
                       const QIOChannelSocketOptions *opts, GError **errp)
{
    g_autofree char *text = qio_socket_address_to_string(sa);
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int fd;
    int err;

    if (!address_to_native(sa, &ss, &len, errp)) {
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        qio__error_errno(errp, errno, "connect to %s", text);
        return -1;
    }
    if (opts->bind && bind_local(fd, opts->bind, errp) < 0) {
        close(fd);
        return -1;
    }
    err = connect_fd(fd, (struct sockaddr *)&ss, len,
                     opts->connect_timeout_ms);
    if (err != 0) {
        close(fd);
        qio__error_errno(errp, err, "connect to %s", text);
        return -1;
    }
    return fd;
}

int qio_channel_socket_connect_sync(QIOChannelSocket *ioc,
                                    GSocketConnectable *addr,
                                    const QIOChannelSocketOptions *opts,
                                    GError **errp)
{
    g_autoptr(GSocketAddressEnumerator) en = NULL;
    g_autoptr(GError) last = NULL;

    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), -1);
    g_return_val_if_fail(G_IS_SOCKET_CONNECTABLE(addr), -1);
    g_return_val_if_fail(ioc->fd < 0, -1);
    g_return_val_if_fail(ioc->async == NULL, -1);
    opts = opts ? opts : &qio_socket_defaults;

    en = g_socket_connectable_enumerate(addr);
    for (;;) {
        g_autoptr(GSocketAddress) sa = NULL;
        int fd;

        /* A resolver error is reported only if no address was tried. */
        sa = qio__address_next(en, addr, last ? NULL : &last);
        if (!sa) {
            break;
        }
        if (!address_wanted(sa, opts)) {
            continue;
        }
        g_clear_error(&last);
        fd = connect_one(sa, opts, &last);
        if (fd >= 0) {
            socket_adopt(ioc, fd, g_socket_address_get_family(sa), false,
                         0);
            return socket_apply_blocking(ioc, errp);
        }
    }
    if (!last) {
        no_address_error(addr, "connect to", errp);
        return -1;
    }
    g_propagate_error(errp, g_steal_pointer(&last));
    return -1;
}

/* ---------------------------------------------------------------- listen */

/* The file a unix address names, or NULL (abstract, anonymous, inet). */
static const char *unix_path_of(GSocketAddress *sa)
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
static void unlink_stale_socket(const char *path)
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

    if (is_inet_family(family) && opts->reuseaddr &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0) {
        return errno;
    }
    if (family == AF_INET6 && v6only >= 0 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
                   sizeof(v6only)) < 0) {
        return errno;
    }
    return 0;
}

/* Remember the socket file bind created, to remove it on close. */
static void remember_socket_file(QIOChannelSocket *sioc, const char *path)
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
    g_return_if_fail(QIO_IS_CHANNEL_SOCKET(sioc));
    if (!enabled) {
        g_clear_pointer(&sioc->unlink_path, g_free);
    }
}

static void unlink_socket_file(QIOChannelSocket *sioc)
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

/* bind and listen on a fresh socket; returns 0 or an errno value. */
static int listen_fd(QIOChannelSocket *sioc, int fd,
                     const struct sockaddr_storage *ss, socklen_t len,
                     const char *path, const QIOChannelSocketOptions *opts,
                     int v6only)
{
    int err = listen_prepare(fd, ss->ss_family, opts, v6only);

    if (err != 0) {
        return err;
    }
    if (path && opts->unlink_early) {
        unlink_stale_socket(path);
    }
    if (bind(fd, (const struct sockaddr *)ss, len) < 0) {
        return errno;
    }
    if (path) {
        remember_socket_file(sioc, path);
    }
    if (listen(fd, opts->backlog) < 0) {
        err = errno;
        unlink_socket_file(sioc);
        return err;
    }
    return 0;
}

/*
 * Listen on one address. Returns 0, or an errno value with @errp set
 * (the value lets the wildcard case tell "no IPv6 here" from the rest).
 */
static int listen_one(QIOChannelSocket *sioc, GSocketAddress *sa,
                      const QIOChannelSocketOptions *opts, int v6only,
                      GError **errp)
{
    g_autofree char *text = qio_socket_address_to_string(sa);
    struct sockaddr_storage ss;
    socklen_t len = 0;
    const char *path = unix_path_of(sa);
    int fd;
    int err;

    if (!address_to_native(sa, &ss, &len, errp)) {
        return EINVAL;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    err = fd < 0 ? errno : listen_fd(sioc, fd, &ss, len, path, opts, v6only);
    if (err != 0) {
        if (fd >= 0) {
            close(fd);
        }
        qio__error_errno(errp, err, "listen on %s", text);
        return err;
    }
    socket_adopt(sioc, fd, ss.ss_family, true, 0);
    return 0;
}

static bool is_wildcard(GSocketConnectable *addr)
{
    const char *host;

    if (!G_IS_NETWORK_ADDRESS(addr)) {
        return false;
    }
    host = g_network_address_get_hostname(G_NETWORK_ADDRESS(addr));
    return !host || !*host || g_str_equal(host, "::") ||
           g_str_equal(host, "0.0.0.0");
}

static int listen_wildcard_on(QIOChannelSocket *sioc, const char *host,
                              guint16 port,
                              const QIOChannelSocketOptions *opts,
                              int v6only, GError **errp)
{
    g_autoptr(GSocketAddress) sa = g_inet_socket_address_new_from_string(
        host, port);

    return listen_one(sioc, sa, opts, v6only, errp);
}

/*
 * All local addresses: one IPv6 socket that takes IPv4 clients too, unless
 * the family says otherwise or the system has no IPv6.
 */
static int listen_wildcard(QIOChannelSocket *sioc, GSocketConnectable *addr,
                           const QIOChannelSocketOptions *opts,
                           GError **errp)
{
    guint16 port = g_network_address_get_port(G_NETWORK_ADDRESS(addr));
    g_autoptr(GError) err6 = NULL;
    int v6only;
    int err;

    if (opts->family == AF_INET) {
        return listen_wildcard_on(sioc, "0.0.0.0", port, opts, -1, errp);
    }
    v6only = opts->v6only >= 0 ? opts->v6only : opts->family == AF_INET6;
    err = listen_wildcard_on(sioc, "::", port, opts, v6only, &err6);
    if (err == 0) {
        return 0;
    }
    if (opts->family == AF_INET6 ||
        (err != EAFNOSUPPORT && err != EADDRNOTAVAIL)) {
        g_propagate_error(errp, g_steal_pointer(&err6));
        return err;
    }
    return listen_wildcard_on(sioc, "0.0.0.0", port, opts, -1, errp);
}

/* The first resolved address that can be bound. */
static int listen_resolved(QIOChannelSocket *sioc, GSocketConnectable *addr,
                           const QIOChannelSocketOptions *opts,
                           GError **errp)
{
    g_autoptr(GSocketAddressEnumerator) en = g_socket_connectable_enumerate(
        addr);
    g_autoptr(GError) last = NULL;
    int v6only = opts->v6only >= 0 ? opts->v6only : 0;

    for (;;) {
        g_autoptr(GSocketAddress) sa = NULL;

        sa = qio__address_next(en, addr, last ? NULL : &last);
        if (!sa) {
            break;
        }
        if (!address_wanted(sa, opts)) {
            continue;
        }
        g_clear_error(&last);
        if (listen_one(sioc, sa, opts, v6only, &last) == 0) {
            return 0;
        }
    }
    if (!last) {
        no_address_error(addr, "listen on", errp);
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
    opts = opts ? opts : &qio_socket_defaults;

    if (is_wildcard(addr)) {
        ret = listen_wildcard(ioc, addr, opts, errp) == 0 ? 0 : -1;
    } else {
        ret = listen_resolved(ioc, addr, opts, errp);
    }
    if (ret < 0) {
        return -1;
    }
    return socket_apply_blocking(ioc, errp);
}

/* ---------------------------------------------------------------- async */

/*
 * One connect_async or listen_async in flight. The caller's task holds
 * the channel, so @sioc is not a reference of its own; the channel points
 * back here so that closing it abandons the operation.
 */
struct QIOSocketAsync {
    QIOChannelSocket *sioc;
    QIOTask *task;
    GMainContext *context;
    GSocketConnectable *addr;
    QIOChannelSocketOptions opts;
    bool abandoned;
    /* connect: the resolved addresses, the next one to try, the last error */
    GList *addrs;
    GList *next;
    GError *last;
    /* connect: the attempt in flight, what it waits for, its deadline */
    GSocketAddress *current;
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd;
    GSource *watch;
    QIOAioFd aio;               /* or the wait for the socket's connect */
    GSource *timer;
    guint retry_ms;
    /* an idle that moves the operation on from inside @context */
    GSource *idle;
};

/*
 * The worker's own copy of @addr: a GNetworkAddress caches what it
 * resolved without a lock, so two threads must not enumerate one.
 * Socket addresses are immutable and shared as they are.
 */
static GSocketConnectable *connectable_for_worker(GSocketConnectable *addr)
{
    GNetworkAddress *na;

    if (!G_IS_NETWORK_ADDRESS(addr)) {
        return g_object_ref(addr);
    }
    na = G_NETWORK_ADDRESS(addr);
    return g_object_new(G_TYPE_NETWORK_ADDRESS, "hostname",
                        g_network_address_get_hostname(na), "port",
                        (guint)g_network_address_get_port(na), "scheme",
                        g_network_address_get_scheme(na), NULL);
}

static QIOSocketAsync *socket_async_new(QIOChannelSocket *sioc,
                                        GSocketConnectable *addr,
                                        const QIOChannelSocketOptions *opts,
                                        QIOTaskFunc callback, gpointer opaque,
                                        GDestroyNotify destroy,
                                        GMainContext *context)
{
    QIOSocketAsync *op = g_new0(QIOSocketAsync, 1);

    op->sioc = sioc;
    op->task = qio_task_new(G_OBJECT(sioc), callback, opaque, destroy);
    op->context = context ? g_main_context_ref(context)
                          : g_main_context_ref_thread_default();
    op->addr = connectable_for_worker(addr);
    op->opts = opts ? *opts : qio_socket_defaults;
    if (op->opts.bind) {
        g_object_ref(op->opts.bind);
    }
    op->fd = -1;
    qio__aio_fd_init(&op->aio);
    sioc->async = op;
    return op;
}

static void socket_async_free(QIOSocketAsync *op)
{
    g_assert(op->fd < 0 && !op->watch && !op->aio.ep && !op->timer &&
             !op->idle);
    g_main_context_unref(op->context);
    g_object_unref(op->addr);
    g_clear_object(&op->opts.bind);
    g_list_free_full(op->addrs, g_object_unref);
    g_clear_object(&op->current);
    g_clear_error(&op->last);
    g_free(op);
}

/*
 * Report @err (transfer full, NULL for success) through the caller's
 * task. The channel is free for another operation by the time the
 * callback runs.
 */
static void socket_async_finish(QIOSocketAsync *op, GError *err)
{
    QIOTask *task = op->task;

    op->sioc->async = NULL;
    socket_async_free(op);
    qio_task_set_error(task, err);
    qio_task_complete(task);
}

static GError *socket_async_closed_error(QIOSocketAsync *op, const char *what)
{
    g_autofree char *text = g_socket_connectable_to_string(op->addr);
    GError *err = NULL;

    qio__error(&err, QIO_CHANNEL_ERROR_CLOSED, "%s %s: the channel was closed",
               what, text);
    return err;
}

/* Run @func from an idle in the operation's context. */
static void socket_async_schedule(QIOSocketAsync *op, GSourceFunc func)
{
    g_assert(!op->idle);
    op->idle = g_idle_source_new();
    g_source_set_priority(op->idle, G_PRIORITY_DEFAULT);
    g_source_set_static_name(op->idle, "qio-socket-async");
    g_source_set_callback(op->idle, func, op, NULL);
    g_source_attach(op->idle, op->context);
}

/* Called first thing in an idle's callback. */
static void socket_async_idle_ran(QIOSocketAsync *op)
{
    g_source_unref(g_steal_pointer(&op->idle));
}

static void drop_source(GSource **source)
{
    if (*source) {
        g_source_destroy(*source);
        g_source_unref(g_steal_pointer(source));
    }
}

/*
 * All addresses @addr stands for that @opts lets through; may block (name
 * resolution). A resolver error counts only if nothing was resolved.
 */
static GList *resolve_addresses(GSocketConnectable *addr,
                                const QIOChannelSocketOptions *opts,
                                GError **errp)
{
    g_autoptr(GSocketAddressEnumerator) en = NULL;
    g_autoptr(GError) err = NULL;
    GList *found = NULL;
    GSocketAddress *sa;

    /* A socket address is its own list: no enumerator to make. */
    if (G_IS_SOCKET_ADDRESS(addr) && address_wanted(G_SOCKET_ADDRESS(addr),
                                                    opts)) {
        return g_list_prepend(NULL, g_object_ref(addr));
    }
    en = g_socket_connectable_enumerate(addr);
    while ((sa = qio__address_next(en, addr, &err))) {
        if (address_wanted(sa, opts)) {
            found = g_list_prepend(found, sa);
        } else {
            g_object_unref(sa);
        }
    }
    if (found) {
        return g_list_reverse(found);
    }
    if (err) {
        g_propagate_error(errp, g_steal_pointer(&err));
    } else {
        no_address_error(addr, "connect to", errp);
    }
    return NULL;
}

static void address_list_free(gpointer list)
{
    g_list_free_full(list, g_object_unref);
}

/* ---------------------------------------------------------- async connect */

/* How often to ask a unix listener with a full queue again. */
#define CONNECT_RETRY_MIN_MS 5
#define CONNECT_RETRY_MAX_MS 200

static void connect_next(QIOSocketAsync *op);

static void connect_stop_waiting(QIOSocketAsync *op)
{
    drop_source(&op->watch);
    qio__aio_fd_clear(&op->aio);
    drop_source(&op->timer);
}

static void connect_drop_fd(QIOSocketAsync *op)
{
    close(op->fd);
    op->fd = -1;
}

static void connect_succeeded(QIOSocketAsync *op)
{
    QIOChannelSocket *sioc = op->sioc;
    int fd = op->fd;
    GError *err = NULL;

    op->fd = -1;
    /* Attempts are non-blocking; the channel gets the mode it asked for. */
    if (sioc->blocking && set_nonblocking(fd, false) < 0) {
        qio__error_errno(&err, errno, "set socket %s",
                         sioc->blocking ? "blocking" : "non-blocking");
        close(fd);
        socket_async_finish(op, err);
        return;
    }
    socket_adopt(sioc, fd, g_socket_address_get_family(op->current), false,
                 !sioc->blocking);
    socket_async_finish(op, NULL);
}

/* "connect to ADDRESS: REASON", the text made only when it is needed. */
static void connect_error(QIOSocketAsync *op, int err)
{
    g_autofree char *text = qio_socket_address_to_string(op->current);

    g_clear_error(&op->last);
    qio__error_errno(&op->last, err, "connect to %s", text);
}

/* The attempt in flight is over, with @err an errno value (0: success). */
static void connect_attempt_over(QIOSocketAsync *op, int err)
{
    connect_stop_waiting(op);
    if (err == 0) {
        connect_succeeded(op);
        return;
    }
    connect_drop_fd(op);
    connect_error(op, err);
    connect_next(op);
}

static gboolean connect_writable(int fd, GIOCondition cond, gpointer data)
{
    connect_attempt_over(data, connect_result(fd));
    return G_SOURCE_REMOVE;
}

static void connect_ready(void *opaque)
{
    QIOSocketAsync *op = opaque;
    /* Writable, with no error or hang-up: connected, nothing to ask. */
    bool clean = !(op->aio.revents & (EPOLLERR | EPOLLHUP));

    qio__aio_fd_clear(&op->aio);
    connect_attempt_over(op, clean ? 0 : connect_result(op->fd));
}

/*
 * In the context's epoll set, like the channels' handlers: a watch source
 * would cost GLib four wake-ups of its loop per connection.
 */
static void connect_watch_fd(QIOSocketAsync *op)
{
    if (qio__aio_fd_set(&op->aio, op->context, op->fd, NULL, connect_ready,
                        op)) {
        return;
    }
    op->watch = g_unix_fd_source_new(op->fd, G_IO_OUT);
    g_source_set_callback(op->watch, G_SOURCE_FUNC(connect_writable), op,
                          NULL);
}

static gboolean connect_timed_out(gpointer data)
{
    connect_attempt_over(data, ETIMEDOUT);
    return G_SOURCE_REMOVE;
}

/* connect(2) the attempt's socket; returns 0 or an errno value. */
static int connect_call(QIOSocketAsync *op)
{
    if (connect(op->fd, (struct sockaddr *)&op->ss, op->sslen) == 0) {
        return 0;
    }
    return errno;
}

static void connect_wait_async(QIOSocketAsync *op);

/*
 * A unix listener whose queue is full refuses a non-blocking connect with
 * EAGAIN, and nothing can be polled for room: ask again, less and less
 * often, until the listener accepts or the timeout strikes.
 */
static gboolean connect_retry(gpointer data)
{
    QIOSocketAsync *op = data;
    int err = connect_call(op);

    if (err == EAGAIN || err == EINTR) {
        drop_source(&op->watch);
        op->retry_ms = MIN(op->retry_ms * 2, CONNECT_RETRY_MAX_MS);
        connect_wait_async(op);
        return G_SOURCE_REMOVE;
    }
    connect_attempt_over(op, err);
    return G_SOURCE_REMOVE;
}

/* Wait in the context for the attempt to finish. */
static void connect_wait_async(QIOSocketAsync *op)
{
    if (op->ss.ss_family == AF_UNIX) {
        op->watch = g_timeout_source_new(op->retry_ms);
        g_source_set_callback(op->watch, connect_retry, op, NULL);
    } else {
        connect_watch_fd(op);
    }
    if (op->watch) {
        g_source_set_static_name(op->watch, "qio-socket-connect");
        g_source_attach(op->watch, op->context);
    }
    if (op->opts.connect_timeout_ms > 0 && !op->timer) {
        op->timer = g_timeout_source_new(op->opts.connect_timeout_ms);
        g_source_set_static_name(op->timer, "qio-socket-connect-timeout");
        g_source_set_callback(op->timer, connect_timed_out, op, NULL);
        g_source_attach(op->timer, op->context);
    }
}

/* Whether a failed non-blocking connect(2) is still under way. */
static bool connect_pending(QIOSocketAsync *op, int err)
{
    if (op->ss.ss_family == AF_UNIX) {
        return err == EAGAIN || err == EINTR;
    }
    /* Interrupted, a TCP connect goes on in the background. */
    return err == EINPROGRESS || err == EINTR;
}

/*
 * Start a non-blocking connect to op->current. Returns 0 when connected
 * already, EINPROGRESS when waiting, -1 with op->last set on failure.
 */
static int connect_start(QIOSocketAsync *op)
{
    int err;

    if (!address_to_native(op->current, &op->ss, &op->sslen, &op->last)) {
        return -1;
    }
    op->fd = socket(op->ss.ss_family,
                    SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (op->fd < 0) {
        connect_error(op, errno);
        return -1;
    }
    if (op->opts.bind && bind_local(op->fd, op->opts.bind, &op->last) < 0) {
        connect_drop_fd(op);
        return -1;
    }
    err = connect_call(op);
    if (err == 0) {
        return 0;
    }
    if (connect_pending(op, err)) {
        op->retry_ms = CONNECT_RETRY_MIN_MS;
        connect_wait_async(op);
        return EINPROGRESS;
    }
    connect_error(op, err);
    connect_drop_fd(op);
    return -1;
}

/* Try the remaining addresses in order, until one connects or is waited on. */
static void connect_next(QIOSocketAsync *op)
{
    GError *err = NULL;

    while (op->next && !op->abandoned) {
        g_set_object(&op->current, op->next->data);
        op->next = op->next->next;
        g_clear_error(&op->last);
        switch (connect_start(op)) {
        case 0:
            connect_succeeded(op);
            return;
        case EINPROGRESS:
            return;
        }
    }
    if (op->abandoned) {
        err = socket_async_closed_error(op, "connect to");
    } else if (op->last) {
        err = g_steal_pointer(&op->last);
    } else {
        no_address_error(op->addr, "connect to", &err);
    }
    socket_async_finish(op, err);
}

static gboolean connect_next_idle(gpointer data)
{
    socket_async_idle_ran(data);
    connect_next(data);
    return G_SOURCE_REMOVE;
}

static void connect_resolve_worker(QIOTask *task, gpointer data)
{
    QIOSocketAsync *op = data;
    GError *err = NULL;
    GList *addrs = resolve_addresses(op->addr, &op->opts, &err);

    qio_task_set_error(task, err);
    qio_task_set_result_pointer(task, addrs, address_list_free);
}

/* Back in the context with the resolved addresses (or why there are none). */
static void connect_resolved(QIOTask *task, gpointer data)
{
    QIOSocketAsync *op = data;

    qio_task_propagate_error(task, &op->last);
    op->addrs = qio_task_steal_result_pointer(task);
    op->next = op->addrs;
    connect_next(op);
}

void qio_channel_socket_connect_async(QIOChannelSocket *ioc,
                                      GSocketConnectable *addr,
                                      const QIOChannelSocketOptions *opts,
                                      QIOTaskFunc callback, gpointer opaque,
                                      GDestroyNotify destroy,
                                      GMainContext *context)
{
    QIOSocketAsync *op;
    QIOTask *resolve;

    g_return_if_fail(QIO_IS_CHANNEL_SOCKET(ioc));
    g_return_if_fail(G_IS_SOCKET_CONNECTABLE(addr));
    g_return_if_fail(callback != NULL);
    g_return_if_fail(ioc->fd < 0);
    g_return_if_fail(ioc->async == NULL);

    op = socket_async_new(ioc, addr, opts, callback, opaque, destroy,
                          context);
    if (G_IS_SOCKET_ADDRESS(addr)) {
        /* Nothing to resolve; still start (and finish) in the context. */
        op->addrs = resolve_addresses(addr, &op->opts, &op->last);
        op->next = op->addrs;
        socket_async_schedule(op, connect_next_idle);
        return;
    }
    resolve = qio_task_new(NULL, connect_resolved, op, NULL);
    qio_task_run_in_thread(resolve, connect_resolve_worker, op, NULL,
                           op->context);
}

/* ----------------------------------------------------------- async listen */

/* Move the listening socket of @from, with its socket file, to @to. */
static int socket_take_listener(QIOChannelSocket *to, QIOChannelSocket *from,
                                GError **errp)
{
    int fd = from->fd;

    to->unlink_path = g_steal_pointer(&from->unlink_path);
    to->unlink_dev = from->unlink_dev;
    to->unlink_ino = from->unlink_ino;
    qio__channel_set_poll_fd(QIO_CHANNEL(from), -1);
    from->fd = -1;
    socket_adopt(to, fd, from->family, true, from->fd_nonblock);
    return socket_apply_blocking(to, errp);
}

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
        socket_async_finish(op, err);
        return;
    }
    if (op->abandoned) {
        /* Dropping @lsn closes its socket and removes its file. */
        socket_async_finish(op, socket_async_closed_error(op, "listen on"));
        return;
    }
    socket_take_listener(op->sioc, lsn, &err);
    socket_async_finish(op, err);
}

void qio_channel_socket_listen_async(QIOChannelSocket *ioc,
                                     GSocketConnectable *addr,
                                     const QIOChannelSocketOptions *opts,
                                     QIOTaskFunc callback, gpointer opaque,
                                     GDestroyNotify destroy,
                                     GMainContext *context)
{
    QIOSocketAsync *op;
    QIOTask *task;

    g_return_if_fail(QIO_IS_CHANNEL_SOCKET(ioc));
    g_return_if_fail(G_IS_SOCKET_CONNECTABLE(addr));
    g_return_if_fail(callback != NULL);
    g_return_if_fail(ioc->fd < 0);
    g_return_if_fail(ioc->async == NULL);

    op = socket_async_new(ioc, addr, opts, callback, opaque, destroy,
                          context);
    task = qio_task_new(NULL, listen_done, op, NULL);
    qio_task_run_in_thread(task, listen_worker, op, NULL, op->context);
}

/*
 * The channel is being closed: give up. A connect attempt in flight is
 * stopped now and the operation completes from the context; a worker
 * still resolving or listening cannot be stopped, so its result is
 * dropped when it arrives.
 */
static void socket_async_abandon(QIOSocketAsync *op)
{
    op->abandoned = true;
    if (op->fd >= 0) {
        connect_stop_waiting(op);
        connect_drop_fd(op);
        socket_async_schedule(op, connect_next_idle);
    }
}

/* ---------------------------------------------------------------- public */

QIOChannelSocket *qio_channel_socket_new(void)
{
    return g_object_new(QIO_TYPE_CHANNEL_SOCKET, NULL);
}

QIOChannelSocket *qio_channel_socket_new_fd(int fd, GError **errp)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int listening = 0;
    socklen_t optlen = sizeof(listening);
    int flags;
    QIOChannelSocket *sioc;

    g_return_val_if_fail(fd >= 0, NULL);

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) < 0 ||
        (flags = fcntl(fd, F_GETFL)) < 0) {
        qio__error_errno(errp, errno, "descriptor %d", fd);
        return NULL;
    }
    sioc = qio_channel_socket_new();
    sioc->blocking = !(flags & O_NONBLOCK);
    socket_adopt(sioc, fd, ss.ss_family, listening != 0, -1);
    return sioc;
}

QIOChannelSocket *qio_channel_socket_accept(QIOChannelSocket *ioc,
                                            GError **errp)
{
    QIOChannelSocket *client;
    int fd;

    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), NULL);

    if (!socket_check_open(ioc, errp)) {
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
    socket_adopt(client, fd, ioc->family, false, 0);
    return client;
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
static int take_fds(struct msghdr *msg, int **fds, size_t *nfds,
                    GError **errp)
{
    g_autofree int *got = NULL;
    size_t n = 0;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c;
         c = CMSG_NXTHDR(msg, c)) {
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

    if (!socket_check_open(sioc, errp)) {
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
    if (msg.msg_control && take_fds(&msg, fds, nfds, errp) < 0) {
        return -1;
    }
    return ret;
}

static void put_fds(struct msghdr *msg, QIOSocketControl *control,
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

    if (!is_inet_family(sioc->family)) {
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
static int zc_account(QIOChannelSocket *sioc, struct msghdr *msg,
                      GError **errp)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c;
         c = CMSG_NXTHDR(msg, c)) {
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
    struct pollfd pfd = { .fd = sioc->fd, .events = 0 };
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
static ssize_t socket_sendmsg(int fd, const struct msghdr *msg, int flags)
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
    ssize_t ret = socket_sendmsg(sioc->fd, msg, MSG_ZEROCOPY);
    int got = 0;

    if (ret < 0 && errno == ENOBUFS) {
        got = zc_reap(sioc, errp);
        if (got < 0) {
            return -1;
        }
        errno = ENOBUFS;
    }
    if (got > 0) {
        ret = socket_sendmsg(sioc->fd, msg, MSG_ZEROCOPY);
    }
    /* The kernel numbers a send only if it took some bytes. */
    if (ret > 0) {
        sioc->zc_queued++;
        sioc->zc_unflushed = true;
        return ret;
    }
    if (ret < 0 && errno == ENOBUFS) {
        ret = socket_sendmsg(sioc->fd, msg, 0);
        sioc->zc_unflushed |= ret > 0;
    }
    return send_result(ret, errp);
#else
    g_assert_not_reached();
#endif
}

/* Only a socket that took SO_ZEROCOPY (not a reused channel's old one). */
static bool zc_check_write(QIOChannelSocket *sioc, size_t nfds,
                           GError **errp)
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
                                         const struct iovec *iov,
                                         size_t niov, int *fds, size_t nfds,
                                         int flags, GError **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    QIOSocketControl control;
    struct msghdr msg = {
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = MIN(niov, IOV_MAX),
    };

    if (!socket_check_open(sioc, errp)) {
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
    if (fds && nfds > 0) {
        put_fds(&msg, &control, fds, nfds);
    }
    return send_result(socket_sendmsg(sioc->fd, &msg, 0), errp);
}

static int socket_close(QIOChannelSocket *sioc, GError **errp)
{
    int fd = sioc->fd;

    if (sioc->async) {
        socket_async_abandon(sioc->async);
    }
    if (fd < 0) {
        return 0;
    }
    /* Before close: while the socket lives, its file cannot be rebound. */
    unlink_socket_file(sioc);
    /*
     * Unflushed zero-copy sends are forgotten: the kernel drops their
     * completions with the socket and unpins their pages once sent.
     */
    zc_reset(sioc);
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

static int qio_channel_socket_shutdown(QIOChannel *ioc,
                                       QIOChannelShutdown how, GError **errp)
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
    if (!socket_check_open(sioc, errp)) {
        return -1;
    }
    if (shutdown(sioc->fd, sys_how[how]) < 0) {
        qio__error_errno(errp, errno, "shutdown socket");
        return -1;
    }
    return 0;
}

/* TCP options are hints: failing to set one changes nothing for callers. */
static void set_tcp_option(QIOChannelSocket *sioc, int option, int value)
{
    if (sioc->fd >= 0 && is_inet_family(sioc->family)) {
        (void)setsockopt(sioc->fd, IPPROTO_TCP, option, &value,
                         sizeof(value));
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
