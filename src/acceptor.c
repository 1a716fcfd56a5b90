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
 */
#include "config.h"

#include "acceptor.h"
#include "log.h"

struct QiocAcceptor {
    QiocEndpoint *ep;
    QIONetListener *listener; /* NULL once a one-client acceptor is
                               * done, or stopped */
    QIODatagramServer *dgram; /* instead: a session per sender */
    gboolean once;            /* no `fork`: the first client only */
    guint64 limit;            /* clients at once; 0: no limit */
    guint64 clients;          /* accepted, not yet done */
    gboolean held;
    gboolean paused;
    gboolean stopped;
    gboolean had_client;
    gboolean failing; /* an accept error was reported */
    guint timer;      /* accept-timeout= */
    guint retry;      /* the next listen try */
    gint64 tries;     /* listen tries that failed */
    guint numbered;   /* with `fork`: clients accepted so far */
    guint conn;       /* without: the connection it listens for */
    QiocAcceptFunc *on_client;
    QiocAcceptFailFunc *on_fail;
    gpointer data;
};

static void acceptor_clear_timer(QiocAcceptor *acc)
{
    g_clear_handle_id(&acc->timer, g_source_remove);
    g_clear_handle_id(&acc->retry, g_source_remove);
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
    return acc->limit > 0 && acc->clients >= acc->limit;
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
static void acceptor_resume(QiocAcceptor *acc)
{
    if (acc->listener && acc->paused && !acc->stopped && !acc->held &&
        !acceptor_full(acc)) {
        acc->paused = FALSE;
        qio_net_listener_resume(acc->listener);
    }
}

static void acceptor_take_client(QiocAcceptor *acc, QIOChannelSocket *client,
                                 guint number)
{
    const QiocAddress *addr = acc->ep->addr;

    if (!qioc_endpoint_accept_client(acc->ep, client)) {
        qio_channel_close(QIO_CHANNEL(client), NULL);
        return;
    }
    if (acc->failing) {
        acc->failing = FALSE;
        qioc_log_address(1, addr->index, addr->text, "accepting again");
    }
    acc->had_client = TRUE;
    acceptor_clear_timer(acc);
    acc->clients++;
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

/*
 * With `fork`, each client is numbered, and so is every line about it;
 * a one-client listener logs under the connection it listens for.
 */
static void acceptor_on_client(QIONetListener *listener,
                               QIOChannelSocket *client, gpointer data)
{
    QiocAcceptor *acc = data;
    guint number = acc->once ? 0 : ++acc->numbered;
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
    acc->had_client = TRUE;
    acceptor_clear_timer(acc);
    acc->clients++;
    acc->on_client(QIO_CHANNEL(peer), number, acc->data);
    return TRUE;
}

/* The first datagram of a sender with no session: a client. */
static gboolean acceptor_on_peer(QIODatagramServer *server,
                                 QIOChannelDatagramPeer *peer, gpointer data)
{
    QiocAcceptor *acc = data;
    guint number = acc->numbered + 1;
    guint prev = qioc_log_conn_enter(number);
    gboolean taken = acceptor_take_sender(acc, peer, number);

    if (taken) {
        acc->numbered = number;
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
    if (!acc->had_client) {
        qioc_acceptor_stop(acc);
        acc->on_fail(err, acc->data);
    }
    return G_SOURCE_REMOVE;
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
    acc->listener = qioc_endpoint_listen(acc->ep, errp);
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
        g_timeout_add((guint)(addr->o.interval * 1000), acceptor_retry, acc);
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

QiocAcceptor *qioc_acceptor_new(QiocEndpoint *ep, QiocAcceptFunc *on_client,
                                QiocAcceptFailFunc *on_fail, gpointer data,
                                GError **errp)
{
    const QiocAddrOpts *o = &ep->addr->o;
    QiocAcceptor *acc = g_new0(QiocAcceptor, 1);
    GError *err = NULL;

    acc->ep = ep;
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
    if (o->accept_timeout >= 0) {
        acc->timer = g_timeout_add((guint)(o->accept_timeout * 1000),
                                   acceptor_timeout, acc);
    }
    return acc;
}

void qioc_acceptor_client_done(QiocAcceptor *acc)
{
    if (!acc) {
        return;
    }
    if (acc->clients > 0) {
        acc->clients--;
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

void qioc_acceptor_stop(QiocAcceptor *acc)
{
    acc->stopped = TRUE;
    acceptor_clear_timer(acc);
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
    acceptor_close(acc);
    g_free(acc);
}
