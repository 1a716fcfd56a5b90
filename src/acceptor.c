/*
 * qioc - accepting the clients of a listening address
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One acceptor for both ways of listening: without `fork` it takes a
 * single client and closes (like socat, so that a second client is
 * refused rather than queued); with `fork` it keeps accepting, paused
 * while max-children= connections run or a client waits for a
 * descriptor (src/hold.c). A datagram server (UDP-LISTEN with fork)
 * makes each new sender a client, a session of its own, and is never
 * paused: new senders are refused instead while the sessions are at
 * max-children=. A listen that fails is tried again from a
 * timer, retry= times (without limit with forever) interval= seconds
 * apart, the loop running meanwhile.
 *
 * With workers= each worker thread has an acceptor of its own, on a
 * socket of its own (SO_REUSEPORT) or on a copy of the first one's
 * descriptors; they share the numbering and the max-children= count
 * (QiocAcceptShared), so that a slot is taken atomically before a client
 * is handed on. Two workers may both accept when one slot is left: the
 * loser keeps its client waiting, accepted but idle as it would be in the
 * backlog, until a slot frees.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "acceptor.h"
#include "context.h"
#include "log.h"

struct QiocAcceptor {
    QiocEndpoint *ep;
    QIONetListener *listener; /* NULL once a one-client acceptor is
                               * done, or stopped */
    QIODatagramServer *dgram; /* instead: a session per sender */
    gboolean once;            /* no `fork`: the first client only */
    guint64 limit;            /* clients at once; 0: no limit */
    QiocAcceptShared own;     /* what @shared points to with one worker */
    QiocAcceptShared *shared; /* numbering, clients, with other workers */
    GQueue parked;            /* QiocParked: accepted, waiting for a slot */
    guint unpark;             /* the idle source handing them on */
    gboolean held;
    gboolean paused;
    gboolean stopped;
    gboolean failing; /* an accept error was reported */
    guint timer;      /* accept-timeout= */
    guint retry;      /* the next listen try */
    gint64 tries;     /* listen tries that failed */
    guint conn;       /* without `fork`: the connection it listens for */
    QiocAcceptFunc *on_client;
    QiocAcceptFailFunc *on_fail;
    gpointer data;
};

/* A client accepted while other workers held every slot. */
typedef struct {
    QIOChannelSocket *client;
    guint number;
} QiocParked;

static void parked_free(gpointer data)
{
    QiocParked *p = data;

    qio_channel_close(QIO_CHANNEL(p->client), NULL);
    g_object_unref(p->client);
    g_free(p);
}

static void acceptor_clear_timer(QiocAcceptor *acc)
{
    g_clear_handle_id(&acc->timer, qioc_source_remove);
    g_clear_handle_id(&acc->retry, qioc_source_remove);
}

static void acceptor_close(QiocAcceptor *acc)
{
    if (acc->dgram) {
        qio_datagram_server_set_peer_func(acc->dgram, NULL, NULL, NULL);
        qio_datagram_server_stop(acc->dgram);
        g_clear_object(&acc->dgram);
    }
    if (acc->listener) {
        qio_net_listener_set_client_func(acc->listener, NULL, NULL, NULL);
        qio_net_listener_disconnect(acc->listener);
        g_clear_object(&acc->listener);
    }
}

static gboolean acceptor_full(const QiocAcceptor *acc)
{
    return acc->limit > 0 &&
           (guint64)g_atomic_int_get(&acc->shared->clients) >= acc->limit;
}

/* Count a client against max-children=; FALSE when no slot is left. */
static gboolean acceptor_take_slot(QiocAcceptor *acc)
{
    gint n;

    do {
        n = g_atomic_int_get(&acc->shared->clients);
        if (acc->limit > 0 && (guint64)n >= acc->limit) {
            return FALSE;
        }
    } while (
        !g_atomic_int_compare_and_exchange(&acc->shared->clients, n, n + 1));
    return TRUE;
}

/* Give a slot back; TRUE if every slot had been taken. */
static gboolean acceptor_give_slot(QiocAcceptor *acc)
{
    gint n;

    do {
        n = g_atomic_int_get(&acc->shared->clients);
        if (n == 0) {
            return FALSE;
        }
    } while (
        !g_atomic_int_compare_and_exchange(&acc->shared->clients, n, n - 1));
    return acc->limit > 0 && (guint64)n >= acc->limit;
}

static void acceptor_pause(QiocAcceptor *acc)
{
    if (acc->listener && !acc->paused) {
        acc->paused = TRUE;
        qio_net_listener_pause(acc->listener);
    }
}

/*
 * Only a paused listener: resuming rebuilds its watch, which GLib pays
 * for with a wakeup of the loop, for every connection.
 */
static gboolean acceptor_unpark(gpointer data);

static void acceptor_resume(QiocAcceptor *acc)
{
    if (!acc->listener || !acc->paused || acc->stopped || acc->held ||
        acceptor_full(acc)) {
        return;
    }
    if (!g_queue_is_empty(&acc->parked)) {
        /* Not from here: this runs inside a connection's end. */
        if (!acc->unpark) {
            acc->unpark = qioc_idle_add_full(G_PRIORITY_DEFAULT,
                                             acceptor_unpark, acc, NULL);
        }
        return;
    }
    acc->paused = FALSE;
    qio_net_listener_resume(acc->listener);
}

static void acceptor_hand_on(QiocAcceptor *acc, QIOChannelSocket *client,
                             guint number)
{
    if (acc->once) {
        /* No other client is taken: the listening socket closes. */
        g_object_ref(client);
        acceptor_close(acc);
        acc->on_client(QIO_CHANNEL(client), number, acc->data);
        g_object_unref(client);
        return;
    }
    if (acceptor_full(acc)) {
        acceptor_pause(acc);
    }
    acc->on_client(QIO_CHANNEL(client), number, acc->data);
}

/* Other workers took the last slot meanwhile: the client waits. */
static void acceptor_park(QiocAcceptor *acc, QIOChannelSocket *client,
                          guint number)
{
    QiocParked *p = g_new(QiocParked, 1);
    const QiocAddress *addr = acc->ep->addr;

    p->client = g_object_ref(client);
    p->number = number;
    g_queue_push_tail(&acc->parked, p);
    acceptor_pause(acc);
    qioc_log_address(2, addr->index, addr->text,
                     "max-children clients run on other workers: waiting");
}

static gboolean acceptor_unpark(gpointer data)
{
    QiocAcceptor *acc = data;

    acc->unpark = 0;
    while (!acc->stopped && !acc->held && !g_queue_is_empty(&acc->parked) &&
           acceptor_take_slot(acc)) {
        QiocParked *p = g_queue_pop_head(&acc->parked);
        guint prev = qioc_log_conn_enter(p->number);

        acceptor_hand_on(acc, p->client, p->number);
        qioc_log_conn_leave(prev);
        g_object_unref(p->client);
        g_free(p);
    }
    acceptor_resume(acc);
    return G_SOURCE_REMOVE;
}

/* ---------------------------------------------------------------- refusal */

/*
 * A refused client (range=, sourceport=, lowport) is closed gently: its
 * side of the stream is ended at once, then what it sends is read and
 * dropped until it ends too, so that it sees an end of stream rather than
 * the reset that closing a socket with unread data sends (which would
 * make a client that had already sent a line fail on "Connection reset
 * by peer", depending on timing). The drain is bounded in bytes, time
 * and in how many run at once; past these the socket is just closed.
 */
#define REFUSED_DRAIN_BYTES (64 * 1024)
#define REFUSED_DRAIN_MS 2000
#define REFUSED_DRAINS_MAX 64

static gint refused_draining;

typedef struct {
    QIOChannel *ioc;
    GSource *watch;
    GSource *timer;
    gsize left;
} QiocRefused;

static void refused_end(QiocRefused *r)
{
    g_source_destroy(r->watch);
    g_source_unref(r->watch);
    g_source_destroy(r->timer);
    g_source_unref(r->timer);
    qio_channel_close(r->ioc, NULL);
    g_object_unref(r->ioc);
    g_free(r);
    g_atomic_int_dec_and_test(&refused_draining);
}

static gboolean refused_readable(QIOChannel *ioc, GIOCondition cond,
                                 gpointer data)
{
    QiocRefused *r = data;
    char buf[16384];

    for (;;) {
        ssize_t n = qio_channel_read(ioc, buf, MIN(sizeof(buf), r->left), NULL);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            return G_SOURCE_CONTINUE;
        }
        if (n <= 0 || (r->left -= (gsize)n) == 0) {
            refused_end(r);
            return G_SOURCE_REMOVE;
        }
    }
}

static gboolean refused_timeout(gpointer data)
{
    refused_end(data);
    return G_SOURCE_REMOVE;
}

static void refused_close(QIOChannelSocket *client)
{
    QIOChannel *ioc = QIO_CHANNEL(client);
    QiocRefused *r;

    if (g_atomic_int_add(&refused_draining, 1) >= REFUSED_DRAINS_MAX ||
        qio_channel_set_blocking(ioc, false, NULL) < 0 ||
        qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_WRITE, NULL) < 0) {
        g_atomic_int_dec_and_test(&refused_draining);
        qio_channel_close(ioc, NULL);
        return;
    }
    r = g_new0(QiocRefused, 1);
    r->ioc = g_object_ref(ioc);
    r->left = REFUSED_DRAIN_BYTES;
    r->watch = qio_channel_create_watch(ioc, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(r->watch, G_SOURCE_FUNC(refused_readable), r, NULL);
    g_source_attach(r->watch, qioc_context());
    r->timer = g_timeout_source_new(REFUSED_DRAIN_MS);
    g_source_set_callback(r->timer, refused_timeout, r, NULL);
    g_source_attach(r->timer, qioc_context());
}

/* ---------------------------------------------------------------- clients */

static void acceptor_take_client(QiocAcceptor *acc, QIOChannelSocket *client,
                                 guint number)
{
    const QiocAddress *addr = acc->ep->addr;

    if (!qioc_endpoint_accept_client(acc->ep, client)) {
        refused_close(client);
        return;
    }
    if (acc->failing) {
        acc->failing = FALSE;
        qioc_log_address(1, addr->index, addr->text, "accepting again");
    }
    g_atomic_int_set(&acc->shared->had_client, 1);
    acceptor_clear_timer(acc);
    if (!acceptor_take_slot(acc)) {
        acceptor_park(acc, client, number);
        return;
    }
    acceptor_hand_on(acc, client, number);
}

/*
 * With `fork`, each client is numbered, and so is every line about it;
 * a one-client listener logs under the connection it listens for.
 */
static void acceptor_on_client(QIONetListener *listener,
                               QIOChannelSocket *client, gpointer data)
{
    QiocAcceptor *acc = data;
    guint number =
        acc->once ? 0 : (guint)g_atomic_int_add(&acc->shared->numbered, 1) + 1;
    guint prev = qioc_log_conn_enter(acc->once ? acc->conn : number);

    acceptor_take_client(acc, client, number);
    qioc_log_conn_leave(prev);
}

/*
 * Why a new sender gets no session, or NULL when it gets one. The
 * socket is never paused: the sessions there are share it.
 */
static const char *acceptor_refuses_sender(QiocAcceptor *acc,
                                           GSocketAddress *from)
{
    if (acc->stopped) {
        return "stopping";
    }
    if (acc->held) {
        return "waiting for a descriptor";
    }
    if (acceptor_full(acc)) {
        return "max-children sessions run";
    }
    if (!qioc_endpoint_sender_allowed(acc->ep, from)) {
        return ""; /* said at -d already */
    }
    if (!acceptor_take_slot(acc)) {
        return "max-children sessions run";
    }
    return NULL;
}

static gboolean acceptor_take_sender(QiocAcceptor *acc,
                                     QIOChannelDatagramPeer *peer, guint number)
{
    GSocketAddress *from = qio_channel_datagram_peer_get_address(peer);
    const QiocAddress *addr = acc->ep->addr;
    const char *why = acceptor_refuses_sender(acc, from);
    g_autofree char *text = NULL;

    if (qioc_log_get_level() >= 1) {
        text = qio_socket_address_to_string(from);
    }
    if (why) {
        if (*why) {
            qioc_log_address(1, addr->index, addr->text,
                             "dropped a datagram from %s: %s", text, why);
        }
        return FALSE;
    }
    qioc_log_address(1, addr->index, addr->text, "session with %s", text);
    g_atomic_int_set(&acc->shared->had_client, 1);
    acceptor_clear_timer(acc);
    acc->on_client(QIO_CHANNEL(peer), number, acc->data);
    return TRUE;
}

/* The first datagram of a sender with no session: a client. */
static gboolean acceptor_on_peer(QIODatagramServer *server,
                                 QIOChannelDatagramPeer *peer, gpointer data)
{
    QiocAcceptor *acc = data;
    guint number = (guint)g_atomic_int_get(&acc->shared->numbered) + 1;
    guint prev = qioc_log_conn_enter(number);
    gboolean taken = acceptor_take_sender(acc, peer, number);

    if (taken) {
        g_atomic_int_set(&acc->shared->numbered, (gint)number);
    }
    qioc_log_conn_leave(prev);
    return taken;
}

/*
 * Out of descriptors (or memory) the listener pauses and tries again; one
 * line says so, not one per try, until a client gets through again.
 */
static void acceptor_on_error(QIONetListener *listener, const GError *err,
                              gpointer data)
{
    QiocAcceptor *acc = data;
    const QiocAddress *addr = acc->ep->addr;

    if (acc->failing) {
        qioc_log_address(2, addr->index, addr->text, "%s", err->message);
        return;
    }
    acc->failing = TRUE;
    qioc_log_address(QIOC_LOG_ERROR, addr->index, addr->text,
                     "%s; pausing and retrying", err->message);
}

static gboolean acceptor_timeout(gpointer data)
{
    QiocAcceptor *acc = data;
    g_autoptr(GError) err =
        g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                    "accept: no client within %g s (accept-timeout)",
                    acc->ep->addr->o.accept_timeout);

    acc->timer = 0;
    if (!g_atomic_int_get(&acc->shared->had_client)) {
        qioc_acceptor_stop(acc);
        acc->on_fail(err, acc->data);
    }
    return G_SOURCE_REMOVE;
}

/* A listener on copies of the first worker's listening descriptors. */
static QIONetListener *listener_on_fds(QiocEndpoint *ep, GArray *fds,
                                       GError **errp)
{
    g_autoptr(QIONetListener) listener = qio_net_listener_new();

    qio_net_listener_set_name(listener, ep->addr->text);
    for (guint i = 0; i < fds->len; i++) {
        int fd = fcntl(g_array_index(fds, int, i), F_DUPFD_CLOEXEC, 0);

        if (fd < 0) {
            qioc_error_errno(errp, errno, "dup of listening socket %d",
                             g_array_index(fds, int, i));
            return NULL;
        }
        if (!qioc_listener_add_fd(listener, fd, NULL, errp)) {
            close(fd);
            return NULL;
        }
    }
    return g_steal_pointer(&listener);
}

/* Listen, or share what the first worker listens on (share_fds). */
static QIONetListener *acceptor_listener(QiocAcceptor *acc, GError **errp)
{
    QiocAcceptShared *sh = acc->shared;
    QIONetListener *listener;

    if (sh->share_fds && sh->fds && sh->fds->len > 0) {
        return listener_on_fds(acc->ep, sh->fds, errp);
    }
    listener = qioc_endpoint_listen(acc->ep, errp);
    if (listener && sh->share_fds) {
        sh->fds = g_array_new(FALSE, FALSE, sizeof(int));
        for (guint i = 0; i < qio_net_listener_get_nsockets(listener); i++) {
            int fd = qio_channel_socket_get_fd(
                qio_net_listener_get_socket(listener, i));

            g_array_append_val(sh->fds, fd);
        }
    }
    return listener;
}

/* Open the listening socket(s) and start accepting. */
static gboolean acceptor_listen(QiocAcceptor *acc, GError **errp)
{
    if (qioc_endpoint_ops(acc->ep)->serve) {
        acc->dgram = qioc_endpoint_serve(acc->ep, errp);
        if (!acc->dgram) {
            return FALSE;
        }
        qio_datagram_server_set_peer_func(acc->dgram, acceptor_on_peer, acc,
                                          NULL);
        qio_datagram_server_start(acc->dgram, NULL);
        return TRUE;
    }
    acc->listener = acceptor_listener(acc, errp);
    if (!acc->listener) {
        return FALSE;
    }
    qio_net_listener_set_error_func(acc->listener, acceptor_on_error, acc);
    qio_net_listener_set_client_func(acc->listener, acceptor_on_client, acc,
                                     NULL);
    return TRUE;
}

static gboolean acceptor_retry(gpointer data);

/*
 * The listen failed with @err: TRUE when retry= or forever allow another
 * try, which is then due in interval= seconds (said at -d).
 */
static gboolean acceptor_retry_later(QiocAcceptor *acc, const GError *err)
{
    const QiocAddress *addr = acc->ep->addr;

    if (acc->stopped || (!addr->o.forever && acc->tries >= addr->o.retry)) {
        return FALSE;
    }
    acc->tries++;
    qioc_log_address(1, addr->index, addr->text, "%s; retrying in %g s",
                     err->message, addr->o.interval);
    acc->retry =
        qioc_timeout_add((guint)(addr->o.interval * 1000), acceptor_retry, acc);
    return TRUE;
}

static gboolean acceptor_retry(gpointer data)
{
    QiocAcceptor *acc = data;
    g_autoptr(GError) err = NULL;

    acc->retry = 0;
    if (!acceptor_listen(acc, &err) && !acceptor_retry_later(acc, err)) {
        qioc_acceptor_stop(acc);
        acc->on_fail(err, acc->data);
    }
    return G_SOURCE_REMOVE;
}

QiocAcceptor *qioc_acceptor_new(QiocEndpoint *ep, QiocAcceptShared *shared,
                                QiocAcceptFunc *on_client,
                                QiocAcceptFailFunc *on_fail, gpointer data,
                                GError **errp)
{
    const QiocAddrOpts *o = &ep->addr->o;
    QiocAcceptor *acc = g_new0(QiocAcceptor, 1);
    GError *err = NULL;

    acc->ep = ep;
    acc->shared = shared ? shared : &acc->own;
    g_queue_init(&acc->parked);
    acc->once = !qioc_endpoint_serves_many(ep);
    acc->conn = qioc_log_conn();
    acc->limit = acc->once ? 1 : (guint64)MAX(o->max_children, 0);
    acc->on_client = on_client;
    acc->on_fail = on_fail;
    acc->data = data;
    if (!acceptor_listen(acc, &err) && !acceptor_retry_later(acc, err)) {
        g_propagate_error(errp, err);
        qioc_acceptor_free(acc);
        return NULL;
    }
    g_clear_error(&err);
    /* One timer for all workers: the first client of any ends it. */
    if (o->accept_timeout >= 0 &&
        g_atomic_int_compare_and_exchange(&acc->shared->timer_taken, 0, 1)) {
        acc->timer = qioc_timeout_add((guint)(o->accept_timeout * 1000),
                                      acceptor_timeout, acc);
    }
    return acc;
}

void qioc_acceptor_client_done(QiocAcceptor *acc)
{
    if (!acc) {
        return;
    }
    if (acceptor_give_slot(acc) && acc->shared->slot_freed) {
        acc->shared->slot_freed(acc->shared->slot_data);
    }
    acceptor_resume(acc);
}

void qioc_acceptor_set_held(QiocAcceptor *acc, gboolean held)
{
    if (!acc) {
        return;
    }
    acc->held = held;
    if (held) {
        acceptor_pause(acc);
    } else {
        acceptor_resume(acc);
    }
}

void qioc_acceptor_recheck(QiocAcceptor *acc)
{
    if (acc) {
        acceptor_resume(acc);
    }
}

void qioc_acceptor_stop(QiocAcceptor *acc)
{
    acc->stopped = TRUE;
    acceptor_clear_timer(acc);
    g_clear_handle_id(&acc->unpark, qioc_source_remove);
    g_queue_clear_full(&acc->parked, parked_free);
    if (acc->listener) {
        qio_net_listener_disconnect(acc->listener);
    }
}

void qioc_acceptor_free(QiocAcceptor *acc)
{
    if (!acc) {
        return;
    }
    acceptor_clear_timer(acc);
    g_clear_handle_id(&acc->unpark, qioc_source_remove);
    g_queue_clear_full(&acc->parked, parked_free);
    acceptor_close(acc);
    g_free(acc);
}
