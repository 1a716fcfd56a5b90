/*
 * libqio - the datagrams of one peer over a shared datagram socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The server fills the peer's queue from its own watch; the peer's reads
 * only take from that queue, and its writes go straight to the shared
 * socket. Its watch is level-triggered on the queue: every iteration of
 * the context asks the queue again in prepare(), so a datagram queued by
 * the server's dispatch is seen at the next iteration without a wake-up.
 */
#include "qio-private.h"

#include <limits.h>
#include <netinet/in.h>
#include <string.h>

#include "qio/channel-datagram-peer.h"

struct _QIOChannelDatagramPeer {
    QIOChannel parent;

    QIODatagramServer *server; /* no reference; NULL once forgotten */
    QIOChannelSocket *sock;    /* the shared socket; NULL once closed */
    QIODatagramAddr addr;      /* the key of the server's table */
    GSocketAddress *address;
    char *text;            /* the address, for messages */
    GBytes *first_control; /* of the first datagram, if kept; or NULL */

    GQueue queue; /* GBytes, oldest first */
    gsize queued_bytes;
    guint max_datagrams;
    gsize max_bytes;
    guint64 dropped;

    int shut; /* QIOChannelShutdown bits */
    bool ended;
    bool closed;
};

G_DEFINE_FINAL_TYPE(QIOChannelDatagramPeer, qio_channel_datagram_peer,
                    QIO_TYPE_CHANNEL)

/* ---------------------------------------------------------------- address */

bool qio__datagram_addr_canonicalize(QIODatagramAddr *addr)
{
    /* An unbound unix sender's address is empty, or the family alone. */
    if (addr->len <= sizeof(sa_family_t)) {
        return false;
    }
    switch (addr->ss.ss_family) {
    case AF_INET:
        if (addr->len < sizeof(struct sockaddr_in)) {
            return false;
        }
        addr->len = sizeof(struct sockaddr_in);
        memset(((struct sockaddr_in *)&addr->ss)->sin_zero, 0,
               sizeof(((struct sockaddr_in *)&addr->ss)->sin_zero));
        return true;
    case AF_INET6:
        if (addr->len < sizeof(struct sockaddr_in6)) {
            return false;
        }
        addr->len = sizeof(struct sockaddr_in6);
        ((struct sockaddr_in6 *)&addr->ss)->sin6_flowinfo = 0;
        return true;
    default:
        return true;
    }
}

guint qio__datagram_addr_hash(gconstpointer p)
{
    const QIODatagramAddr *addr = p;
    const guchar *b = (const guchar *)&addr->ss;
    guint h = 5381;

    for (socklen_t i = 0; i < addr->len; i++) {
        h = h * 33 + b[i];
    }
    return h;
}

gboolean qio__datagram_addr_equal(gconstpointer a, gconstpointer b)
{
    const QIODatagramAddr *x = a;
    const QIODatagramAddr *y = b;

    return x->len == y->len && memcmp(&x->ss, &y->ss, x->len) == 0;
}

/* ---------------------------------------------------------------- queue */

static void peer_clear_queue(QIOChannelDatagramPeer *peer)
{
    g_queue_clear_full(&peer->queue, (GDestroyNotify)g_bytes_unref);
    peer->queued_bytes = 0;
}

static bool peer_has_room(QIOChannelDatagramPeer *peer, size_t len)
{
    if (peer->queue.length == 0) {
        return true;
    }
    return peer->queue.length < peer->max_datagrams &&
           peer->queued_bytes + len <= peer->max_bytes;
}

bool qio__datagram_peer_push(QIOChannelDatagramPeer *peer, const void *data,
                             size_t len)
{
    /* Nobody will read it: not a drop a reader should hear about. */
    if (peer->closed || (peer->shut & QIO_CHANNEL_SHUTDOWN_READ)) {
        return true;
    }
    if (!peer_has_room(peer, len)) {
        peer->dropped++;
        return false;
    }
    g_queue_push_tail(&peer->queue, g_bytes_new(data, len));
    peer->queued_bytes += len;
    return true;
}

/* Whether a read would not block: a datagram, or the end. */
static bool peer_readable(QIOChannelDatagramPeer *peer)
{
    return peer->queue.length > 0 || peer->ended || peer->closed ||
           (peer->shut & QIO_CHANNEL_SHUTDOWN_READ);
}

/* ---------------------------------------------------------------- I/O */

static void iov_from_buf(const struct iovec *iov, size_t niov, const char *data,
                         size_t len)
{
    for (size_t i = 0; i < niov && len > 0; i++) {
        size_t n = MIN(len, iov[i].iov_len);

        memcpy(iov[i].iov_base, data, n);
        data += n;
        len -= n;
    }
}

static ssize_t qio_channel_datagram_peer_readv(QIOChannel *ioc,
                                               const struct iovec *iov,
                                               size_t niov, int **fds,
                                               size_t *nfds, int flags,
                                               GError **errp)
{
    QIOChannelDatagramPeer *peer = QIO_CHANNEL_DATAGRAM_PEER(ioc);
    g_autoptr(GBytes) dgram = NULL;
    size_t room = qio__iov_size(iov, niov);
    gsize len;
    const char *data;

    if (peer->closed || (peer->shut & QIO_CHANNEL_SHUTDOWN_READ)) {
        return 0;
    }
    dgram = g_queue_pop_head(&peer->queue);
    if (!dgram) {
        return peer->ended ? 0 : QIO_CHANNEL_ERR_BLOCK;
    }
    data = g_bytes_get_data(dgram, &len);
    peer->queued_bytes -= len;
    /* As recv(2) would cut it, but a cut datagram is a corrupt one. */
    if (len > room) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                    "datagram of %" G_GSIZE_FORMAT " bytes does not fit in %zu",
                    len, room);
        return -1;
    }
    iov_from_buf(iov, niov, data, len);
    return len;
}

/* FALSE, with @errp set, when writing cannot work now or ever. */
static bool peer_check_write(QIOChannelDatagramPeer *peer, GError **errp)
{
    if (peer->shut & QIO_CHANNEL_SHUTDOWN_WRITE) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                    "send to %s: writing was shut down", peer->text);
        return false;
    }
    if (peer->closed || qio_channel_socket_get_fd(peer->sock) < 0) {
        qio__error(errp, QIO_CHANNEL_ERROR_CLOSED,
                   "send to %s: channel is closed", peer->text);
        return false;
    }
    return true;
}

/*
 * One datagram. sendmsg(2) gathers the iovec into it; only an iovec the
 * kernel refuses (more than IOV_MAX pieces) is copied into one piece.
 * Replies to many peers at once could go out in one sendmmsg(2) here, if
 * writes were queued per socket rather than sent at once.
 */
static ssize_t peer_sendmsg(QIOChannelDatagramPeer *peer,
                            const struct iovec *iov, size_t niov)
{
    int fd = qio_channel_socket_get_fd(peer->sock);
    g_autofree char *flat = NULL;
    struct iovec one;
    struct msghdr msg = {
        .msg_name = &peer->addr.ss,
        .msg_namelen = peer->addr.len,
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = niov,
    };
    ssize_t ret;

    if (niov > IOV_MAX) {
        one.iov_len = qio__iov_size(iov, niov);
        one.iov_base = flat = g_malloc(one.iov_len);
        for (size_t i = 0, off = 0; i < niov; off += iov[i++].iov_len) {
            memcpy(flat + off, iov[i].iov_base, iov[i].iov_len);
        }
        msg.msg_iov = &one;
        msg.msg_iovlen = 1;
    }
    do {
        ret = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (ret < 0 && errno == EINTR);
    return ret;
}

static ssize_t qio_channel_datagram_peer_writev(QIOChannel *ioc,
                                                const struct iovec *iov,
                                                size_t niov, int *fds,
                                                size_t nfds, int flags,
                                                GError **errp)
{
    QIOChannelDatagramPeer *peer = QIO_CHANNEL_DATAGRAM_PEER(ioc);
    ssize_t ret;

    if (!peer_check_write(peer, errp)) {
        return -1;
    }
    ret = peer_sendmsg(peer, iov, niov);
    if (ret >= 0) {
        return ret;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return QIO_CHANNEL_ERR_BLOCK;
    }
    qio__error_errno(errp, errno, "send to %s", peer->text);
    return -1;
}

static int qio_channel_datagram_peer_set_blocking(QIOChannel *ioc, bool enabled,
                                                  GError **errp)
{
    if (!enabled) {
        return 0;
    }
    qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
               "datagram peer channels cannot block: their datagrams "
               "arrive through the server's main context");
    return -1;
}

/* ---------------------------------------------------------------- ending */

static int qio_channel_datagram_peer_shutdown(QIOChannel *ioc,
                                              QIOChannelShutdown how,
                                              GError **errp)
{
    QIOChannelDatagramPeer *peer = QIO_CHANNEL_DATAGRAM_PEER(ioc);

    peer->shut |= how;
    if (how & QIO_CHANNEL_SHUTDOWN_READ) {
        peer_clear_queue(peer);
    }
    return 0;
}

static int qio_channel_datagram_peer_close(QIOChannel *ioc, GError **errp)
{
    QIOChannelDatagramPeer *peer = QIO_CHANNEL_DATAGRAM_PEER(ioc);

    if (peer->closed) {
        return 0;
    }
    peer->closed = true;
    peer_clear_queue(peer);
    qio_channel_datagram_peer_end(peer);
    g_clear_object(&peer->sock);
    return 0;
}

void qio__datagram_peer_detach(QIOChannelDatagramPeer *peer)
{
    peer->server = NULL;
    peer->ended = true;
}

void qio_channel_datagram_peer_end(QIOChannelDatagramPeer *peer)
{
    g_return_if_fail(QIO_IS_CHANNEL_DATAGRAM_PEER(peer));

    peer->ended = true;
    if (peer->server) {
        qio__datagram_server_forget(peer->server, peer);
    }
}

/* ---------------------------------------------------------------- watch */

/* Reported whatever was asked for, as by the descriptor watches. */
#define PEER_WATCH_ALWAYS (G_IO_HUP | G_IO_ERR | G_IO_NVAL)

/*
 * %G_IO_IN comes from the queue, %G_IO_OUT from polling the shared
 * socket. Without a socket to poll (the peer was closed) writing is
 * "ready": the write fails at once instead of waiting for ever.
 */
typedef struct {
    GSource parent;
    QIOChannelDatagramPeer *peer;
    GIOCondition condition;
    GPollFD pfd;
    bool polling;
} QIODatagramPeerSource;

static GIOCondition peer_source_ready(QIODatagramPeerSource *src)
{
    GIOCondition ready = 0;

    if ((src->condition & G_IO_IN) && peer_readable(src->peer)) {
        ready |= G_IO_IN;
    }
    if (src->polling) {
        ready |= src->pfd.revents & (src->condition | PEER_WATCH_ALWAYS);
    } else if (src->condition & G_IO_OUT) {
        ready |= G_IO_OUT;
    }
    return ready;
}

static gboolean peer_source_prepare(GSource *source, gint *timeout)
{
    QIODatagramPeerSource *src = (QIODatagramPeerSource *)source;

    *timeout = -1;
    return ((src->condition & G_IO_IN) && peer_readable(src->peer)) ||
           ((src->condition & G_IO_OUT) && !src->polling);
}

static gboolean peer_source_check(GSource *source)
{
    return peer_source_ready((QIODatagramPeerSource *)source) != 0;
}

static gboolean peer_source_dispatch(GSource *source, GSourceFunc callback,
                                     gpointer user_data)
{
    QIODatagramPeerSource *src = (QIODatagramPeerSource *)source;
    QIOChannelFunc func = (QIOChannelFunc)(void (*)(void))callback;

    if (!func) {
        return G_SOURCE_REMOVE;
    }
    return func(QIO_CHANNEL(src->peer), peer_source_ready(src), user_data);
}

static void peer_source_finalize(GSource *source)
{
    g_clear_object(&((QIODatagramPeerSource *)source)->peer);
}

static GSourceFuncs peer_source_funcs = {
    .prepare = peer_source_prepare,
    .check = peer_source_check,
    .dispatch = peer_source_dispatch,
    .finalize = peer_source_finalize,
};

static GSource *qio_channel_datagram_peer_create_watch(QIOChannel *ioc,
                                                       GIOCondition condition)
{
    QIOChannelDatagramPeer *peer = QIO_CHANNEL_DATAGRAM_PEER(ioc);
    GSource *source =
        g_source_new(&peer_source_funcs, sizeof(QIODatagramPeerSource));
    QIODatagramPeerSource *src = (QIODatagramPeerSource *)source;
    int fd = peer->sock ? qio_channel_socket_get_fd(peer->sock) : -1;

    src->peer = g_object_ref(peer);
    src->condition = condition;
    if (qio_channel_get_name(ioc)) {
        g_source_set_name(source, qio_channel_get_name(ioc));
    }
    if ((condition & G_IO_OUT) && fd >= 0) {
        src->pfd.fd = fd;
        src->pfd.events = G_IO_OUT;
        src->polling = true;
        g_source_add_poll(source, &src->pfd);
    }
    return source;
}

/* ---------------------------------------------------------------- type */

/* Nobody holds the session any more: the server forgets it. */
static void qio_channel_datagram_peer_dispose(GObject *obj)
{
    QIOChannelDatagramPeer *peer = QIO_CHANNEL_DATAGRAM_PEER(obj);

    if (peer->server) {
        qio__datagram_server_forget(peer->server, peer);
    }
    G_OBJECT_CLASS(qio_channel_datagram_peer_parent_class)->dispose(obj);
}

static void qio_channel_datagram_peer_finalize(GObject *obj)
{
    QIOChannelDatagramPeer *peer = QIO_CHANNEL_DATAGRAM_PEER(obj);

    peer_clear_queue(peer);
    g_clear_object(&peer->sock);
    g_clear_object(&peer->address);
    g_clear_pointer(&peer->first_control, g_bytes_unref);
    g_free(peer->text);
    G_OBJECT_CLASS(qio_channel_datagram_peer_parent_class)->finalize(obj);
}

static void
qio_channel_datagram_peer_class_init(QIOChannelDatagramPeerClass *klass)
{
    GObjectClass *oclass = G_OBJECT_CLASS(klass);
    QIOChannelClass *ioc_class = QIO_CHANNEL_CLASS(klass);

    oclass->dispose = qio_channel_datagram_peer_dispose;
    oclass->finalize = qio_channel_datagram_peer_finalize;
    ioc_class->io_readv = qio_channel_datagram_peer_readv;
    ioc_class->io_writev = qio_channel_datagram_peer_writev;
    ioc_class->io_close = qio_channel_datagram_peer_close;
    ioc_class->io_create_watch = qio_channel_datagram_peer_create_watch;
    ioc_class->io_set_blocking = qio_channel_datagram_peer_set_blocking;
    ioc_class->io_shutdown = qio_channel_datagram_peer_shutdown;
}

static void qio_channel_datagram_peer_init(QIOChannelDatagramPeer *peer)
{
    g_queue_init(&peer->queue);
    peer->max_datagrams = QIO_CHANNEL_DATAGRAM_PEER_MAX_QUEUE;
    peer->max_bytes = QIO_CHANNEL_DATAGRAM_PEER_MAX_QUEUE_BYTES;
    qio_channel_set_feature(QIO_CHANNEL(peer), QIO_CHANNEL_FEATURE_SHUTDOWN);
}

QIOChannelDatagramPeer *qio__datagram_peer_new(QIODatagramServer *server,
                                               QIOChannelSocket *sock,
                                               const QIODatagramAddr *addr)
{
    QIOChannelDatagramPeer *peer =
        g_object_new(QIO_TYPE_CHANNEL_DATAGRAM_PEER, NULL);
    g_autofree char *name = NULL;

    peer->server = server;
    peer->sock = g_object_ref(sock);
    peer->addr = *addr;
    peer->address = g_socket_address_new_from_native(&peer->addr.ss, addr->len);
    peer->text = peer->address ? qio_socket_address_to_string(peer->address)
                               : g_strdup("(unknown)");
    name = g_strdup_printf("datagram peer %s", peer->text);
    qio_channel_set_name(QIO_CHANNEL(peer), name);
    return peer;
}

const QIODatagramAddr *qio__datagram_peer_addr(QIOChannelDatagramPeer *peer)
{
    return &peer->addr;
}

/* ---------------------------------------------------------------- public */

GSocketAddress *
qio_channel_datagram_peer_get_address(QIOChannelDatagramPeer *peer)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_DATAGRAM_PEER(peer), NULL);
    return peer->address;
}

void qio__datagram_peer_set_control(QIOChannelDatagramPeer *peer,
                                    const void *control, size_t len)
{
    g_clear_pointer(&peer->first_control, g_bytes_unref);
    if (len > 0) {
        peer->first_control = g_bytes_new(control, len);
    }
}

GBytes *qio_channel_datagram_peer_get_control(QIOChannelDatagramPeer *peer)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_DATAGRAM_PEER(peer), NULL);
    return peer->first_control;
}

gboolean qio_channel_datagram_peer_is_ended(QIOChannelDatagramPeer *peer)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_DATAGRAM_PEER(peer), FALSE);
    return peer->ended;
}

guint64 qio_channel_datagram_peer_get_dropped(QIOChannelDatagramPeer *peer)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_DATAGRAM_PEER(peer), 0);
    return peer->dropped;
}

guint qio_channel_datagram_peer_get_queued(QIOChannelDatagramPeer *peer)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_DATAGRAM_PEER(peer), 0);
    return peer->queue.length;
}

void qio_channel_datagram_peer_set_queue_limit(QIOChannelDatagramPeer *peer,
                                               guint max_datagrams,
                                               gsize max_bytes)
{
    g_return_if_fail(QIO_IS_CHANNEL_DATAGRAM_PEER(peer));
    g_return_if_fail(max_datagrams >= 1);
    peer->max_datagrams = max_datagrams;
    peer->max_bytes = max_bytes;
}
