/*
 * libqio - datagram sockets: UDP and unix
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * qio_channel_socket_dgram_sync() and _async(), which make the socket,
 * and the I/O of every datagram socket: io_readv and io_writev of the
 * channel come here when it holds one, so that a stream socket pays one
 * test of a flag for the existence of datagrams, and a datagram socket
 * pays for sender filters and reply addresses only when they are set.
 */
#include "qio-private.h"

#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "qio/channel-socket.h"
#include "qio/task.h"

/*
 * What set_send_address, set_reply_to_sender and set_sender_filter say,
 * kept across sockets; and who sent the last datagram, kept per socket.
 */
struct QIOSocketDgram {
    GSocketAddress *send_to; /* or NULL */
    struct sockaddr_storage send_ss;
    socklen_t send_len;
    bool reply;
    QIOChannelSocketSenderFilter filter; /* or NULL */
    gpointer filter_data;
    GDestroyNotify filter_destroy;
    /* The sender of the last datagram returned, if any, as received. */
    bool have_last;
    struct sockaddr_storage last_ss;
    socklen_t last_len;
    /* The same as an object: made when someone asks for it. */
    GSocketAddress *last;
    /* set_keep_control: the control messages of the last datagram. */
    bool keep_control;
    GBytes *last_control; /* or NULL: none came */
};

void qio__dgram_forget_sender(QIOSocketDgram *dg)
{
    dg->have_last = false;
    dg->last_len = 0;
    g_clear_object(&dg->last);
    g_clear_pointer(&dg->last_control, g_bytes_unref);
}

void qio__dgram_free(QIOSocketDgram *dg)
{
    qio__dgram_forget_sender(dg);
    g_clear_object(&dg->send_to);
    if (dg->filter_destroy) {
        dg->filter_destroy(dg->filter_data);
    }
    g_free(dg);
}

QIOSocketDgram *qio__dgram_settings(QIOChannelSocket *sioc)
{
    if (!sioc->dgram) {
        sioc->dgram = g_new0(QIOSocketDgram, 1);
    }
    return sioc->dgram;
}

/*
 * A received sender address as an object. An unbound unix sender (a
 * socketpair's other end, a socket that never bound) has no name: the
 * kernel returns none, and GLib needs at least the family to say so.
 */
static GSocketAddress *sender_address(const struct sockaddr_storage *ss,
                                      socklen_t len, int family)
{
    if (family == AF_UNIX && len <= offsetof(struct sockaddr_un, sun_path)) {
        return g_unix_socket_address_new_with_type(
            "", 0, G_UNIX_SOCKET_ADDRESS_ANONYMOUS);
    }
    return g_socket_address_new_from_native((gpointer)ss, len);
}

/* FALSE with @errp set unless @sioc holds a datagram socket. */
static bool dgram_check(QIOChannelSocket *sioc, const char *op, GError **errp)
{
    if (!qio__socket_check_open(sioc, errp)) {
        return false;
    }
    if (!sioc->datagram) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "%s: not a datagram socket", op);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- receive */

/* Everything one recvmsg(2) fills in. */
typedef struct {
    struct msghdr msg;
    struct sockaddr_storage from;
    QIOSocketControl control;
} DgramRecv;

static void dgram_recv_init(DgramRecv *r, const struct iovec *iov, size_t niov,
                            bool control)
{
    r->msg = (struct msghdr){
        .msg_name = &r->from,
        .msg_namelen = sizeof(r->from),
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = MIN(niov, IOV_MAX),
    };
    if (control) {
        r->msg.msg_control = r->control.buf;
        r->msg.msg_controllen = sizeof(r->control.buf);
    }
}

/*
 * One datagram. MSG_TRUNC makes Linux return its whole length, however
 * little of it fit: that is how a cut datagram is told from one that
 * filled the buffer exactly.
 */
static ssize_t dgram_recvmsg(QIOChannelSocket *sioc, DgramRecv *r, int rflags,
                             GError **errp)
{
    ssize_t ret;

    do {
        ret = recvmsg(sioc->fd, &r->msg, rflags | MSG_TRUNC);
    } while (ret < 0 && errno == EINTR);
    if (ret >= 0) {
        return ret;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return QIO_CHANNEL_ERR_BLOCK;
    }
    qio__error_errno(errp, errno, "receive datagram");
    return -1;
}

/*
 * Whether the filter, if any, lets the datagram in @r through; its
 * sender, as an object, goes to *@sender. A rejected datagram is gone:
 * its descriptors are closed, and a peeked one is taken off the queue.
 */
static bool dgram_sender_wanted(QIOChannelSocket *sioc, DgramRecv *r,
                                int rflags, GSocketAddress **sender)
{
    QIOSocketDgram *dg = sioc->dgram;

    if (!dg->filter) {
        return true;
    }
    *sender = sender_address(&r->from, r->msg.msg_namelen, sioc->family);
    if (dg->filter(*sender, dg->filter_data)) {
        return true;
    }
    g_clear_object(sender);
    if (r->msg.msg_control) {
        qio__socket_take_fds(&r->msg, NULL, NULL, NULL);
    }
    if (rflags & MSG_PEEK) {
        (void)recv(sioc->fd, NULL, 0, MSG_DONTWAIT | MSG_TRUNC);
    }
    return false;
}

/*
 * The datagram just returned came from there, with these control
 * messages (kept only when asked for, and never on a unix socket, whose
 * descriptors were taken out).
 */
static void dgram_remember_sender(QIOChannelSocket *sioc, const DgramRecv *r,
                                  GSocketAddress *sender)
{
    QIOSocketDgram *dg = sioc->dgram;

    g_clear_pointer(&dg->last_control, g_bytes_unref);
    if (dg->keep_control && sioc->family != AF_UNIX &&
        r->msg.msg_controllen > 0) {
        dg->last_control =
            g_bytes_new(r->msg.msg_control, r->msg.msg_controllen);
    }
    dg->have_last = true;
    dg->last_len = MIN(r->msg.msg_namelen, sizeof(dg->last_ss));
    memcpy(&dg->last_ss, &r->from, dg->last_len);
    g_clear_object(&dg->last);
    dg->last = sender;
}

static GSocketAddress *dgram_last_sender(QIOChannelSocket *sioc)
{
    QIOSocketDgram *dg = sioc->dgram;

    if (!dg || !dg->have_last) {
        return NULL;
    }
    if (!dg->last) {
        dg->last = sender_address(&dg->last_ss, dg->last_len, sioc->family);
    }
    return dg->last;
}

/*
 * A datagram longer than the buffer is consumed all the same: report it
 * rather than return its head as if it were all. A peek may look at the
 * head only; the datagram stays queued.
 */
static ssize_t dgram_check_length(DgramRecv *r, ssize_t len, int rflags,
                                  const struct iovec *iov, size_t niov,
                                  GError **errp)
{
    size_t room;

    if (!(r->msg.msg_flags & MSG_TRUNC)) {
        return len;
    }
    room = qio__iov_size(iov, MIN(niov, IOV_MAX));
    if (rflags & MSG_PEEK) {
        return MIN((size_t)len, room);
    }
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                "datagram of %zd bytes does not fit in %zu", len, room);
    return -1;
}

ssize_t qio__dgram_readv(QIOChannelSocket *sioc, const struct iovec *iov,
                         size_t niov, int **fds, size_t *nfds, int flags,
                         GSocketAddress **from, GError **errp)
{
    g_autoptr(GSocketAddress) sender = NULL;
    bool is_unix = sioc->family == AF_UNIX;
    bool control = is_unix || sioc->dgram->keep_control;
    int rflags = is_unix ? MSG_CMSG_CLOEXEC : 0;
    DgramRecv r;
    ssize_t len;

    if (!qio__socket_check_open(sioc, errp)) {
        return -1;
    }
    if (flags & QIO_CHANNEL_READ_FLAG_MSG_PEEK) {
        rflags |= MSG_PEEK;
    }
    do {
        dgram_recv_init(&r, iov, niov, control);
        len = dgram_recvmsg(sioc, &r, rflags, errp);
    } while (len >= 0 && !dgram_sender_wanted(sioc, &r, rflags, &sender));
    if (len < 0) {
        return len;
    }
    len = dgram_check_length(&r, len, rflags, iov, niov, errp);
    if (is_unix && qio__socket_take_fds(&r.msg, len >= 0 ? fds : NULL, nfds,
                                        len >= 0 ? errp : NULL) < 0) {
        return -1;
    }
    if (len < 0) {
        return -1;
    }
    dgram_remember_sender(sioc, &r, g_steal_pointer(&sender));
    if (from && dgram_last_sender(sioc)) {
        *from = g_object_ref(dgram_last_sender(sioc));
    }
    return len;
}

/* ---------------------------------------------------------------- send */

/*
 * Where a write without an address goes: the last sender when replying
 * to it, else the send address, else the connected peer (no name).
 */
static bool dgram_destination(QIOChannelSocket *sioc, struct msghdr *msg,
                              GError **errp)
{
    QIOSocketDgram *dg = sioc->dgram;

    if (!dg) {
        return true;
    }
    if (dg->reply && dg->have_last) {
        msg->msg_name = &dg->last_ss;
        msg->msg_namelen = dg->last_len;
    } else if (dg->send_to) {
        msg->msg_name = &dg->send_ss;
        msg->msg_namelen = dg->send_len;
    } else if (dg->reply) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                    "no datagram received yet: nobody to answer");
        return false;
    }
    return true;
}

/* "send to ADDRESS: REASON", naming the peer for a connected socket. */
static void dgram_send_error(QIOChannelSocket *sioc, const struct msghdr *msg,
                             int err, GError **errp)
{
    g_autoptr(GSocketAddress) sa = NULL;
    g_autofree char *text = NULL;

    if (msg->msg_name) {
        sa = sender_address(msg->msg_name, msg->msg_namelen, sioc->family);
    } else {
        sa = qio_channel_socket_get_remote_address(sioc, NULL);
    }
    if (!sa) {
        qio__error_errno(errp, err, "send datagram");
        return;
    }
    text = qio_socket_address_to_string(sa);
    qio__error_errno(errp, err, "send to %s", text);
}

ssize_t qio__dgram_writev(QIOChannelSocket *sioc, const struct iovec *iov,
                          size_t niov, const int *fds, size_t nfds,
                          GSocketAddress *to, GError **errp)
{
    QIOSocketControl control;
    struct sockaddr_storage ss;
    struct msghdr msg = {
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = MIN(niov, IOV_MAX),
    };
    ssize_t ret;

    if (!qio__socket_check_open(sioc, errp)) {
        return -1;
    }
    if (to) {
        if (!qio__socket_address_to_native(to, &ss, &msg.msg_namelen, errp)) {
            return -1;
        }
        msg.msg_name = &ss;
    } else if (!dgram_destination(sioc, &msg, errp)) {
        return -1;
    }
    if (fds && nfds > 0) {
        qio__socket_put_fds(&msg, &control, fds, nfds);
    }
    ret = qio__socket_sendmsg(sioc->fd, &msg, 0);
    if (ret >= 0) {
        return ret;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return QIO_CHANNEL_ERR_BLOCK;
    }
    dgram_send_error(sioc, &msg, errno, errp);
    return -1;
}

/* ---------------------------------------------------------------- public */

gboolean qio_channel_socket_is_datagram(QIOChannelSocket *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), FALSE);
    return ioc->fd >= 0 && ioc->datagram;
}

ssize_t qio_channel_socket_recvfrom(QIOChannelSocket *ioc,
                                    const struct iovec *iov, size_t niov,
                                    GSocketAddress **from, GError **errp)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), -1);
    g_return_val_if_fail(iov || niov == 0, -1);

    if (from) {
        *from = NULL;
    }
    if (!dgram_check(ioc, "receive", errp)) {
        return -1;
    }
    return qio__dgram_readv(ioc, iov, niov, NULL, NULL, 0, from, errp);
}

ssize_t qio_channel_socket_sendto(QIOChannelSocket *ioc,
                                  const struct iovec *iov, size_t niov,
                                  GSocketAddress *to, GError **errp)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), -1);
    g_return_val_if_fail(iov || niov == 0, -1);
    g_return_val_if_fail(!to || G_IS_SOCKET_ADDRESS(to), -1);

    if (!dgram_check(ioc, "send", errp)) {
        return -1;
    }
    return qio__dgram_writev(ioc, iov, niov, NULL, 0, to, errp);
}

void qio_channel_socket_set_send_address(QIOChannelSocket *ioc,
                                         GSocketAddress *to)
{
    QIOSocketDgram *dg;
    struct sockaddr_storage ss = {0};
    socklen_t len = 0;

    g_return_if_fail(QIO_IS_CHANNEL_SOCKET(ioc));
    g_return_if_fail(!to || G_IS_SOCKET_ADDRESS(to));

    if (to && !qio__socket_address_to_native(to, &ss, &len, NULL)) {
        g_critical("%s: unsupported socket address", G_STRFUNC);
        return;
    }
    dg = qio__dgram_settings(ioc);
    g_set_object(&dg->send_to, to);
    dg->send_ss = ss;
    dg->send_len = len;
}

void qio_channel_socket_set_reply_to_sender(QIOChannelSocket *ioc,
                                            gboolean enabled)
{
    g_return_if_fail(QIO_IS_CHANNEL_SOCKET(ioc));
    qio__dgram_settings(ioc)->reply = enabled;
}

void qio_channel_socket_set_sender_filter(QIOChannelSocket *ioc,
                                          QIOChannelSocketSenderFilter func,
                                          gpointer data, GDestroyNotify destroy)
{
    QIOSocketDgram *dg;
    GDestroyNotify old_destroy;
    gpointer old_data;

    g_return_if_fail(QIO_IS_CHANNEL_SOCKET(ioc));

    dg = qio__dgram_settings(ioc);
    old_destroy = dg->filter_destroy;
    old_data = dg->filter_data;
    dg->filter = func;
    dg->filter_data = data;
    dg->filter_destroy = destroy;
    if (old_destroy) {
        old_destroy(old_data);
    }
}

GSocketAddress *qio_channel_socket_get_last_sender(QIOChannelSocket *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), NULL);
    return dgram_last_sender(ioc);
}

void qio_channel_socket_set_keep_control(QIOChannelSocket *ioc,
                                         gboolean enabled)
{
    g_return_if_fail(QIO_IS_CHANNEL_SOCKET(ioc));
    qio__dgram_settings(ioc)->keep_control = enabled;
}

gboolean qio__dgram_keeps_control(QIOChannelSocket *sioc)
{
    return sioc->dgram && sioc->dgram->keep_control && sioc->family != AF_UNIX;
}

GBytes *qio_channel_socket_get_last_control(QIOChannelSocket *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), NULL);
    if (!ioc->dgram || !ioc->dgram->have_last) {
        return NULL;
    }
    return ioc->dgram->last_control;
}

/* ---------------------------------------------------------------- make */

/*
 * Socket options before bind; returns 0 or an errno value. SO_REUSEADDR
 * only for a given port: Linux lets two UDP sockets that both set it
 * share the port it picks for port 0, crossing their traffic.
 */
static int dgram_prepare(int fd, int family, GSocketAddress *local,
                         const QIOChannelSocketOptions *opts, int v6only)
{
    int on = 1;

    if (local && qio__socket_is_inet(family) && opts->reuseaddr &&
        g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local)) != 0 &&
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

/* Bind @fd to @sa, remembering a socket file it makes; 0 or an errno. */
static int dgram_bind(QIOChannelSocket *sioc, int fd, GSocketAddress *sa,
                      const QIOChannelSocketOptions *opts, GError **errp)
{
    const char *path = qio__socket_unix_path(sa);
    g_autofree char *text = NULL;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int err;

    if (!qio__socket_address_to_native(sa, &ss, &len, errp)) {
        return EINVAL;
    }
    if (path && opts->unlink_early) {
        qio__socket_unlink_stale(path);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) == 0) {
        if (path) {
            qio__socket_remember_file(sioc, path);
        }
        return 0;
    }
    err = errno;
    text = qio_socket_address_to_string(sa);
    qio__error_errno(errp, err, "bind to %s", text);
    return err;
}

/* connect(2) @fd to @sa; 0 or an errno value with @errp set. */
static int dgram_connect_fd(int fd, GSocketAddress *sa, GError **errp)
{
    g_autofree char *text = NULL;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int ret;

    if (!qio__socket_address_to_native(sa, &ss, &len, errp)) {
        return EINVAL;
    }
    do {
        ret = connect(fd, (struct sockaddr *)&ss, len);
    } while (ret < 0 && errno == EINTR);
    if (ret == 0) {
        return 0;
    }
    ret = errno;
    text = qio_socket_address_to_string(sa);
    qio__error_errno(errp, ret, "connect to %s", text);
    return ret;
}

/* A datagram socket of @family, prepared and set up; -1 with @errp set. */
static int dgram_socket(int family, GSocketAddress *local, GSocketAddress *name,
                        const char *op, const QIOChannelSocketOptions *opts,
                        int v6only, int *err, GError **errp)
{
    g_autofree char *text = NULL;
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    *err = fd < 0 ? errno : dgram_prepare(fd, family, local, opts, v6only);
    if (*err != 0) {
        if (fd >= 0) {
            close(fd);
        }
        text = qio_socket_address_to_string(name);
        qio__error_errno(errp, *err, "%s %s", op, text);
        return -1;
    }
    if (!qio__socket_setup(fd, family, opts, op, name, errp)) {
        close(fd);
        *err = -1;
        return -1;
    }
    return fd;
}

/*
 * One datagram socket for @sioc: bound to @local and connected to
 * @remote, each if given. Returns 0, or an errno value with @errp set
 * (the value lets the wildcard case tell "no IPv6 here" from the rest),
 * or -1 with @errp set when the setup function refused the socket.
 */
static int dgram_open(QIOChannelSocket *sioc, int family, GSocketAddress *local,
                      GSocketAddress *remote,
                      const QIOChannelSocketOptions *opts, int v6only,
                      GError **errp)
{
    const char *op = remote ? "connect to" : "bind to";
    int err = 0;
    int fd = dgram_socket(family, local, remote ? remote : local, op, opts,
                          v6only, &err, errp);

    if (fd < 0) {
        return err;
    }
    if (local) {
        err = dgram_bind(sioc, fd, local, opts, errp);
    }
    if (err == 0 && remote) {
        err = dgram_connect_fd(fd, remote, errp);
    }
    if (err != 0) {
        qio__socket_unlink_file(sioc);
        close(fd);
        return err;
    }
    qio__socket_adopt_dgram(sioc, fd, family, 0);
    return 0;
}

/* A remote address of the family asked for (the local one is matched to
 * it by dgram_try_remote). */
static bool dgram_family_wanted(GSocketAddress *sa,
                                const QIOChannelSocketOptions *opts)
{
    int family = g_socket_address_get_family(sa);

    return !qio__socket_is_inet(family) || opts->family == AF_UNSPEC ||
           family == opts->family;
}

/* bind_one for the shared wildcard and first-address loops. */
static int dgram_bind_one(QIOChannelSocket *sioc, GSocketAddress *sa,
                          const QIOChannelSocketOptions *opts, int v6only,
                          GError **errp)
{
    return dgram_open(sioc, g_socket_address_get_family(sa), sa, NULL, opts,
                      v6only, errp);
}

/* Every address @addr stands for (may block); FALSE with @errp set. */
static bool dgram_resolve(GSocketConnectable *addr, GList **out, GError **errp)
{
    g_autoptr(GSocketAddressEnumerator) en =
        g_socket_connectable_enumerate(addr);
    g_autoptr(GError) err = NULL;
    GList *found = NULL;
    GSocketAddress *sa;

    while ((sa = qio__address_next(en, addr, &err))) {
        found = g_list_prepend(found, sa);
    }
    if (!found && err) {
        g_propagate_error(errp, g_steal_pointer(&err));
        return false;
    }
    *out = g_list_reverse(found);
    return true;
}

/* The local address to bind for a remote one of @family, or NULL. */
static GSocketAddress *dgram_local_for(GSocketConnectable *local,
                                       GList *resolved, int family)
{
    guint16 port;

    if (qio__socket_is_wildcard(local) && qio__socket_is_inet(family)) {
        port = g_network_address_get_port(G_NETWORK_ADDRESS(local));
        return g_inet_socket_address_new_from_string(
            family == AF_INET ? "0.0.0.0" : "::", port);
    }
    for (GList *l = resolved; l; l = l->next) {
        if ((int)g_socket_address_get_family(l->data) == family) {
            return g_object_ref(l->data);
        }
    }
    return NULL;
}

/* Try one remote address, bound to the local one of its family if any. */
static int dgram_try_remote(QIOChannelSocket *sioc, GSocketAddress *remote,
                            GSocketConnectable *local, GList *resolved,
                            const QIOChannelSocketOptions *opts, GError **errp)
{
    int family = g_socket_address_get_family(remote);
    g_autoptr(GSocketAddress) bind_sa = NULL;

    if (local) {
        bind_sa = dgram_local_for(local, resolved, family);
        if (!bind_sa) {
            qio__socket_no_address_error(local, "bind to", errp);
            return -1;
        }
    }
    return dgram_open(sioc, family, bind_sa, remote, opts, opts->v6only, errp);
}

/* Connected: the first remote address that works. */
static int dgram_connect_remote(QIOChannelSocket *sioc,
                                GSocketConnectable *local,
                                GSocketConnectable *remote,
                                const QIOChannelSocketOptions *opts,
                                GError **errp)
{
    g_autoptr(GSocketAddressEnumerator) en = NULL;
    g_autoptr(GError) last = NULL;
    GList *resolved = NULL;
    int ret = -1;

    if (local && !qio__socket_is_wildcard(local) &&
        !dgram_resolve(local, &resolved, errp)) {
        return -1;
    }
    en = g_socket_connectable_enumerate(remote);
    for (;;) {
        g_autoptr(GSocketAddress) sa = NULL;

        sa = qio__address_next(en, remote, last ? NULL : &last);
        if (!sa) {
            break;
        }
        if (!dgram_family_wanted(sa, opts)) {
            continue;
        }
        g_clear_error(&last);
        ret = dgram_try_remote(sioc, sa, local, resolved, opts, &last);
        if (ret == 0) {
            break;
        }
    }
    g_list_free_full(resolved, g_object_unref);
    if (ret == 0) {
        return 0;
    }
    if (!last) {
        qio__socket_no_address_error(remote, "connect to", errp);
        return -1;
    }
    g_propagate_error(errp, g_steal_pointer(&last));
    return -1;
}

int qio_channel_socket_dgram_sync(QIOChannelSocket *ioc,
                                  GSocketConnectable *local,
                                  GSocketConnectable *remote,
                                  const QIOChannelSocketOptions *opts,
                                  GError **errp)
{
    int ret;

    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(ioc), -1);
    g_return_val_if_fail(!local || G_IS_SOCKET_CONNECTABLE(local), -1);
    g_return_val_if_fail(!remote || G_IS_SOCKET_CONNECTABLE(remote), -1);
    g_return_val_if_fail(local || remote, -1);
    g_return_val_if_fail(ioc->fd < 0, -1);
    g_return_val_if_fail(ioc->async == NULL, -1);
    opts = opts ? opts : &qio__socket_defaults;

    if (!local && opts->bind) {
        local = G_SOCKET_CONNECTABLE(opts->bind);
    }
    if (remote) {
        ret = dgram_connect_remote(ioc, local, remote, opts, errp);
    } else if (qio__socket_is_wildcard(local)) {
        ret = qio__socket_bind_wildcard(ioc, local, opts, dgram_bind_one, errp);
    } else {
        /* opts->bind is @local itself here: no other address to match. */
        QIOChannelSocketOptions bopts = *opts;

        bopts.bind = NULL;
        ret = qio__socket_bind_first(ioc, local, &bopts, opts->v6only,
                                     dgram_bind_one, "bind to", errp);
    }
    if (ret != 0) {
        return -1;
    }
    return qio__socket_apply_blocking(ioc, errp);
}

/* ---------------------------------------------------------------- async */

/* op->addr is the remote address, unless it is op->local itself. */
static GSocketConnectable *dgram_async_remote(QIOSocketAsync *op)
{
    return op->addr == op->local ? NULL : op->addr;
}

/* In a channel of its own, so that the caller's is untouched until done. */
static void dgram_worker(QIOTask *task, gpointer data)
{
    QIOSocketAsync *op = data;
    QIOChannelSocket *sock = qio_channel_socket_new();
    GError *err = NULL;

    if (qio_channel_socket_dgram_sync(sock, op->local, dgram_async_remote(op),
                                      &op->opts, &err) < 0) {
        qio_task_set_error(task, err);
        g_object_unref(sock);
        return;
    }
    qio_task_set_result_pointer(task, sock, g_object_unref);
}

static void dgram_done(QIOTask *task, gpointer data)
{
    QIOSocketAsync *op = data;
    g_autoptr(QIOChannelSocket) sock = qio_task_steal_result_pointer(task);
    GError *err = NULL;

    if (qio_task_propagate_error(task, &err)) {
        qio__socket_async_finish(op, err);
        return;
    }
    if (op->abandoned) {
        /* Dropping @sock closes its socket and removes its file. */
        err = qio__socket_async_closed_error(
            op, dgram_async_remote(op) ? "connect to" : "bind to");
        qio__socket_async_finish(op, err);
        return;
    }
    qio__socket_take(op->sioc, sock, &err);
    qio__socket_async_finish(op, err);
}

void qio_channel_socket_dgram_async(QIOChannelSocket *ioc,
                                    GSocketConnectable *local,
                                    GSocketConnectable *remote,
                                    const QIOChannelSocketOptions *opts,
                                    QIOTaskFunc callback, gpointer opaque,
                                    GDestroyNotify destroy,
                                    GMainContext *context)
{
    QIOSocketAsync *op;
    QIOTask *task;

    g_return_if_fail(!local || G_IS_SOCKET_CONNECTABLE(local));
    g_return_if_fail(local || remote);

    op = qio__socket_async_new(ioc, remote ? remote : local, opts, callback,
                               opaque, destroy, context);
    if (!op) {
        return;
    }
    if (!remote) {
        op->local = g_object_ref(op->addr);
    } else if (local) {
        op->local = qio__socket_connectable_copy(local);
    }
    task = qio_task_new(NULL, dgram_done, op, NULL);
    qio_task_run_in_thread(task, dgram_worker, op, NULL, op->context);
}
