/*
 * libqio - sessions per sender over one datagram socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One watch on the socket; each wake-up takes a batch with recvmmsg(2)
 * and hands every datagram to its sender's peer, making the peer first
 * if the sender is new. Reading whole batches is what keeps many busy
 * senders from costing a poll and a system call per datagram.
 */
#include "qio-private.h"

#include <string.h>

#include "qio/datagram-server.h"

/* A batch's messages and where they land; buffers are one allocation. */
typedef struct {
    guint n;
    char *bufs; /* n * QIO_DATAGRAM_SERVER_BUFFER_SIZE */
    struct mmsghdr msgs[QIO_DATAGRAM_SERVER_MAX_BATCH];
    struct iovec iov[QIO_DATAGRAM_SERVER_MAX_BATCH];
    QIODatagramAddr from[QIO_DATAGRAM_SERVER_MAX_BATCH];
    /* Control messages, when the socket keeps them; else NULL. */
    QIODatagramControl *control;
} QIODatagramBatch;

struct _QIODatagramServer {
    GObject parent;
    QIOChannelSocket *sock;
    /*
     * QIODatagramAddr (the peer's own) -> QIOChannelDatagramPeer, not
     * referenced: a peer nobody holds any more takes itself out.
     */
    GHashTable *peers;
    QIODatagramServerPeerFunc func;
    gpointer data;
    GDestroyNotify notify;
    GMainContext *context; /* while started */
    GSource *watch;        /* while started and not paused */
    bool started;
    bool paused;
    guint run; /* counts starts: a batch belongs to one run */
    guint batch_size;
    QIODatagramBatch *batch; /* from the first start on */
    QIODatagramServerStats stats;
};

G_DEFINE_FINAL_TYPE(QIODatagramServer, qio_datagram_server, G_TYPE_OBJECT)

/* ---------------------------------------------------------------- batch */

static QIODatagramBatch *batch_new(guint n, bool control)
{
    QIODatagramBatch *b = g_new0(QIODatagramBatch, 1);

    if (control) {
        b->control = g_new0(QIODatagramControl, n);
    }

    b->n = n;
    b->bufs = g_malloc((gsize)n * QIO_DATAGRAM_SERVER_BUFFER_SIZE);
    for (guint i = 0; i < n; i++) {
        b->iov[i].iov_base =
            b->bufs + (gsize)i * QIO_DATAGRAM_SERVER_BUFFER_SIZE;
        b->iov[i].iov_len = QIO_DATAGRAM_SERVER_BUFFER_SIZE;
        b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
        b->msgs[i].msg_hdr.msg_iovlen = 1;
        b->msgs[i].msg_hdr.msg_name = &b->from[i].ss;
    }
    return b;
}

static void batch_free(QIODatagramBatch *b)
{
    if (b) {
        g_free(b->control);
        g_free(b->bufs);
        g_free(b);
    }
}

/* recvmmsg(2) what is there, up to a batch: how many, or -1 (errno). */
static int batch_receive(QIODatagramBatch *b, int fd)
{
    int n;

    for (guint i = 0; i < b->n; i++) {
        b->msgs[i].msg_hdr.msg_namelen = sizeof(b->from[i].ss);
        b->msgs[i].msg_hdr.msg_flags = 0;
        if (b->control) {
            b->msgs[i].msg_hdr.msg_control = b->control[i].buf;
            b->msgs[i].msg_hdr.msg_controllen = sizeof(b->control[i].buf);
        }
        b->from[i].ss.ss_family = AF_UNSPEC;
    }
    do {
        n = recvmmsg(fd, b->msgs, b->n, MSG_DONTWAIT | MSG_TRUNC, NULL);
    } while (n < 0 && errno == EINTR);
    return n;
}

/* ---------------------------------------------------------------- sessions */

void qio__datagram_server_forget(QIODatagramServer *server,
                                 QIOChannelDatagramPeer *peer)
{
    const QIODatagramAddr *key = qio__datagram_peer_addr(peer);

    qio__datagram_peer_detach(peer);
    if (g_hash_table_lookup(server->peers, key) == peer) {
        g_hash_table_remove(server->peers, key);
    }
}

/* Every session ends; the server knows no sender afterwards. */
static void server_forget_all(QIODatagramServer *server)
{
    GHashTableIter it;
    gpointer peer;

    g_hash_table_iter_init(&it, server->peers);
    while (g_hash_table_iter_next(&it, NULL, &peer)) {
        qio__datagram_peer_detach(peer);
    }
    g_hash_table_remove_all(server->peers);
}

/*
 * The first datagram of @from: a peer holding it, in the table while the
 * peer function decides (so that the function may end or close it). If
 * the function keeps no reference, the peer goes when this one does.
 */
static void server_new_session(QIODatagramServer *server,
                               const QIODatagramAddr *from, const char *data,
                               size_t len, const struct msghdr *hdr)
{
    g_autoptr(QIOChannelDatagramPeer) peer = NULL;

    if (!server->func) {
        server->stats.refused++;
        return;
    }
    peer = qio__datagram_peer_new(server, server->sock, from);
    if (hdr->msg_control) {
        qio__datagram_peer_set_control(peer, hdr->msg_control,
                                       hdr->msg_controllen);
    }
    qio__datagram_peer_push(peer, data, len);
    g_hash_table_insert(server->peers, (gpointer)qio__datagram_peer_addr(peer),
                        peer);
    if (!server->func(server, peer, server->data)) {
        server->stats.refused++;
        qio_channel_close(QIO_CHANNEL(peer), NULL);
    }
}

/* Datagram @i of the batch, to its peer. */
static void server_deliver(QIODatagramServer *server, guint i)
{
    QIODatagramBatch *b = server->batch;
    const struct msghdr *hdr = &b->msgs[i].msg_hdr;
    size_t len = b->msgs[i].msg_len;
    QIODatagramAddr *from = &b->from[i];
    QIOChannelDatagramPeer *peer;

    server->stats.received++;
    if ((hdr->msg_flags & MSG_TRUNC) || len > QIO_DATAGRAM_SERVER_BUFFER_SIZE) {
        server->stats.truncated++;
        return;
    }
    if (len == 0) {
        server->stats.empty++;
        return;
    }
    from->len = hdr->msg_namelen;
    if (!qio__datagram_addr_canonicalize(from)) {
        server->stats.unanswerable++;
        return;
    }
    peer = g_hash_table_lookup(server->peers, from);
    if (!peer) {
        server_new_session(server, from, b->iov[i].iov_base, len, hdr);
    } else if (!qio__datagram_peer_push(peer, b->iov[i].iov_base, len)) {
        server->stats.queue_full++;
    }
}

/* ---------------------------------------------------------------- reading */

static void server_unwatch(QIODatagramServer *server)
{
    if (server->watch) {
        g_source_destroy(server->watch);
        g_clear_pointer(&server->watch, g_source_unref);
    }
}

static gboolean server_readable(QIOChannel *ioc, GIOCondition condition,
                                gpointer data)
{
    QIODatagramServer *server = data;
    g_autoptr(QIODatagramServer) hold = g_object_ref(server);
    int fd = qio_channel_socket_get_fd(server->sock);
    guint run = server->run;
    int n;

    /* The socket was closed under the server: nothing more will come. */
    if (fd < 0 || (condition & G_IO_NVAL)) {
        g_clear_pointer(&server->watch, g_source_unref);
        return G_SOURCE_REMOVE;
    }
    n = batch_receive(server->batch, fd);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            server->stats.errors++;
        }
        return G_SOURCE_CONTINUE;
    }
    server->stats.wakeups++;
    /*
     * The peer function may stop the server (and start it again): the
     * rest of the batch is dropped.
     */
    for (int i = 0; i < n && server->started && server->run == run; i++) {
        server_deliver(server, i);
    }
    return G_SOURCE_CONTINUE;
}

static void server_watch(QIODatagramServer *server)
{
    if (server->watch || !server->started || server->paused) {
        return;
    }
    server->watch =
        qio_channel_create_watch(QIO_CHANNEL(server->sock), G_IO_IN);
    g_source_set_callback(server->watch,
                          (GSourceFunc)(void (*)(void))server_readable, server,
                          NULL);
    g_source_attach(server->watch, server->context);
}

/* ---------------------------------------------------------------- type */

static void qio_datagram_server_dispose(GObject *obj)
{
    QIODatagramServer *server = QIO_DATAGRAM_SERVER(obj);

    server_unwatch(server);
    server_forget_all(server);
    G_OBJECT_CLASS(qio_datagram_server_parent_class)->dispose(obj);
}

static void qio_datagram_server_finalize(GObject *obj)
{
    QIODatagramServer *server = QIO_DATAGRAM_SERVER(obj);

    g_hash_table_unref(server->peers);
    if (server->notify) {
        server->notify(server->data);
    }
    batch_free(server->batch);
    g_clear_pointer(&server->context, g_main_context_unref);
    g_clear_object(&server->sock);
    G_OBJECT_CLASS(qio_datagram_server_parent_class)->finalize(obj);
}

static void qio_datagram_server_class_init(QIODatagramServerClass *klass)
{
    GObjectClass *oclass = G_OBJECT_CLASS(klass);

    oclass->dispose = qio_datagram_server_dispose;
    oclass->finalize = qio_datagram_server_finalize;
}

static void qio_datagram_server_init(QIODatagramServer *server)
{
    server->peers = g_hash_table_new_full(qio__datagram_addr_hash,
                                          qio__datagram_addr_equal, NULL, NULL);
    server->batch_size = QIO_DATAGRAM_SERVER_MAX_BATCH;
}

/* ---------------------------------------------------------------- public */

static bool is_datagram_socket(int fd)
{
    int type = 0;
    socklen_t len = sizeof(type);

    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
           type == SOCK_DGRAM;
}

QIODatagramServer *qio_datagram_server_new(QIOChannelSocket *sock)
{
    QIODatagramServer *server;

    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(sock), NULL);
    g_return_val_if_fail(is_datagram_socket(qio_channel_socket_get_fd(sock)),
                         NULL);

    server = g_object_new(QIO_TYPE_DATAGRAM_SERVER, NULL);
    server->sock = g_object_ref(sock);
    return server;
}

QIOChannelSocket *qio_datagram_server_get_socket(QIODatagramServer *server)
{
    g_return_val_if_fail(QIO_IS_DATAGRAM_SERVER(server), NULL);
    return server->sock;
}

void qio_datagram_server_set_peer_func(QIODatagramServer *server,
                                       QIODatagramServerPeerFunc func,
                                       gpointer data, GDestroyNotify notify)
{
    g_return_if_fail(QIO_IS_DATAGRAM_SERVER(server));

    if (server->notify) {
        server->notify(server->data);
    }
    server->func = func;
    server->data = data;
    server->notify = notify;
}

void qio_datagram_server_set_batch_size(QIODatagramServer *server, guint n)
{
    g_return_if_fail(QIO_IS_DATAGRAM_SERVER(server));
    g_return_if_fail(n >= 1 && n <= QIO_DATAGRAM_SERVER_MAX_BATCH);
    g_return_if_fail(!server->started);

    server->batch_size = n;
    g_clear_pointer(&server->batch, batch_free);
}

void qio_datagram_server_start(QIODatagramServer *server, GMainContext *context)
{
    g_return_if_fail(QIO_IS_DATAGRAM_SERVER(server));

    if (server->started) {
        return;
    }
    if (!context) {
        context = g_main_context_get_thread_default();
    }
    if (!context) {
        context = g_main_context_default();
    }
    g_clear_pointer(&server->context, g_main_context_unref);
    server->context = g_main_context_ref(context);
    if (!server->batch) {
        server->batch = batch_new(server->batch_size,
                                  qio__dgram_keeps_control(server->sock));
    }
    server->started = true;
    server->run++;
    server_watch(server);
}

void qio_datagram_server_stop(QIODatagramServer *server)
{
    g_return_if_fail(QIO_IS_DATAGRAM_SERVER(server));

    server->started = false;
    server_unwatch(server);
    server_forget_all(server);
}

void qio_datagram_server_pause(QIODatagramServer *server)
{
    g_return_if_fail(QIO_IS_DATAGRAM_SERVER(server));

    server->paused = true;
    server_unwatch(server);
}

void qio_datagram_server_resume(QIODatagramServer *server)
{
    g_return_if_fail(QIO_IS_DATAGRAM_SERVER(server));

    server->paused = false;
    server_watch(server);
}

guint qio_datagram_server_n_peers(QIODatagramServer *server)
{
    g_return_val_if_fail(QIO_IS_DATAGRAM_SERVER(server), 0);
    return g_hash_table_size(server->peers);
}

void qio_datagram_server_get_stats(QIODatagramServer *server,
                                   QIODatagramServerStats *stats)
{
    g_return_if_fail(QIO_IS_DATAGRAM_SERVER(server));
    g_return_if_fail(stats != NULL);
    *stats = server->stats;
}
