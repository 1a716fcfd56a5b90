/*
 * qioc - connections, listeners and signals: running a relay
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A connection opens its two sides (accepting, connecting or opening, all
 * without blocking the loop), then hands them to a pump. Without `fork`
 * there is one connection and its end is qioc's end; with `fork` the
 * listening side makes a connection per client, each with a fresh
 * instance of the other address, until a signal stops the listener.
 * `fork` on a connecting address (socat's connect loop, src/connector.c)
 * makes a connection each time it connects, interval= seconds apart.
 * Everything here works with endpoints (src/addr.h): what an address
 * type does is its own file's business.
 *
 * A `fork` listener with workers=N runs N servers, each a thread with its
 * own GMainContext (its thread-default), endpoints, acceptor, coroutines
 * and buffers: a connection lives and dies on the thread that accepted
 * it. What they share (QiocShared) is counters: connection numbers and
 * max-children= (src/acceptor.c), held clients and the descriptor in
 * reserve (src/hold.c), the --stats totals. The main thread binds every
 * worker's listener, drops privileges once, then only waits: signals
 * arrive there and are posted to each worker's loop. With one worker
 * (the default) the server runs on the main thread, as it always did.
 */
#include "config.h"

#include <glib-unix.h>
#include <signal.h>

#include "acceptor.h"
#include "addr.h"
#include "connector.h"
#include "context.h"
#include "hold.h"
#include "lock.h"
#include "log.h"
#include "pump.h"
#include "serve.h"

typedef struct QiocServer QiocServer;
typedef struct QiocShared QiocShared;

typedef struct QiocConn {
    QiocServer *srv;
    int refs;               /* the server's, plus one per open */
    QIOChannel *ioc[2];     /* until the pump takes them */
    QiocAccess access[2];   /* what each side serves */
    gboolean opening[2];    /* the side's open has started */
    QiocAcceptor *acceptor; /* a one-client listener while opening */
    int listening;          /* its side */
    QiocPump *pump;
    GPid child; /* a child on the peer's descriptors */
    int child_side;
    guint child_watch;
    QiocHold hold; /* waiting for a descriptor */
    gboolean finished;
    guint number;       /* with `fork`, in accept order; else 0 */
    guint lock_retry;   /* opening again a side that waits for a lock */
    int lock_side;      /* that side */
    gboolean lock_said; /* the wait was logged */
} QiocConn;

/* One worker: the relay's only one unless workers= says more. */
struct QiocServer {
    QiocShared *shared;
    guint index;       /* from 0 */
    GMainContext *ctx; /* its loop's (the default one: main thread) */
    GThread *thread;   /* NULL on the main thread */
    const QiocOptions *opts;
    QiocEndpoint *ep[2];      /* its own: nothing shared on the data path */
    int serving;              /* side that accepts many clients, or -1 */
    QiocAcceptor *acceptor;   /* its acceptor */
    QiocConnector *connector; /* or, connecting with `fork`, its loop */
    QiocPumpConfig pump_cfg;  /* all but what each connection allows */
    GPtrArray *conns;
    GMainLoop *loop;
    int status;
    gboolean stopping;
};

/* What the workers share; the main thread owns it. */
struct QiocShared {
    const QiocOptions *opts;
    QiocServer **workers;
    guint nworkers;
    QiocAcceptShared accept; /* numbering, max-children= */
    QiocHolds holds;         /* clients waiting for descriptors */
    gint conns;              /* connections of every worker (atomic) */
    /* --stats totals, atomic (__atomic: GLib has no 64-bit add) */
    guint64 total_conns;
    guint64 total_bytes[2];
    GMainLoop *loop; /* the main thread's, while workers run */
    guint running;   /* worker threads not yet done */
    int signal;
};

static void conn_open_side(QiocConn *conn, int i);

/* ---------------------------------------------------------------- helpers */

static void close_channel(QIOChannel **ioc)
{
    if (*ioc) {
        qio_channel_close(*ioc, NULL);
        g_clear_object(ioc);
    }
}

static gboolean one_shot(QiocServer *srv)
{
    return srv->serving < 0;
}

static void server_quit_if_idle(QiocServer *srv)
{
    if (srv->conns->len == 0 && (one_shot(srv) || srv->stopping)) {
        g_main_loop_quit(srv->loop);
    }
}

/* ---------------------------------------------------------------- conns */

static QiocConn *conn_new(QiocServer *srv)
{
    QiocConn *conn = g_new0(QiocConn, 1);

    conn->srv = srv;
    conn->refs = 1;
    g_ptr_array_add(srv->conns, conn);
    g_atomic_int_inc(&srv->shared->conns);
    return conn;
}

static QiocConn *conn_ref(QiocConn *conn)
{
    conn->refs++;
    return conn;
}

static void conn_unref(QiocConn *conn)
{
    if (--conn->refs > 0) {
        return;
    }
    g_free(conn);
}

/*
 * What runs for @conn from the loop logs under its number; give the
 * result to qioc_log_conn_leave() on the way out.
 */
static guint conn_log_enter(const QiocConn *conn)
{
    return qioc_log_conn_enter(conn->number);
}

static gpointer conn_ref_p(gpointer conn)
{
    return conn_ref(conn);
}

static void conn_unref_p(gpointer conn)
{
    conn_unref(conn);
}

/* ---------------------------------------------------------------- workers */

/* Post @func to every worker but @self (NULL: all), in its own loop. */
static void shared_post(QiocShared *sh, QiocServer *self, GSourceFunc func)
{
    for (guint i = 0; i < sh->nworkers; i++) {
        if (sh->workers[i] != self) {
            qioc_context_post(sh->workers[i]->ctx, func, sh->workers[i], NULL);
        }
    }
}

/* Held clients or free slots changed: pause or resume accepting. */
static void server_recheck(QiocServer *srv)
{
    qioc_acceptor_set_held(srv->acceptor, qioc_holds_any(&srv->shared->holds));
}

static gboolean server_recheck_posted(gpointer data)
{
    server_recheck(data);
    return G_SOURCE_REMOVE;
}

/* A client is held or let go: every worker's listener follows. */
static void server_holds_changed(QiocServer *srv)
{
    server_recheck(srv);
    shared_post(srv->shared, srv, server_recheck_posted);
}

/* src/acceptor.c: a client ended at max-children=. */
static void server_slot_freed(gpointer data)
{
    QiocShared *sh = data;

    if (sh->nworkers > 1) {
        shared_post(sh, NULL, server_recheck_posted);
    }
}

/* What a connection moved, into the --stats totals. */
static void server_count(QiocServer *srv, QiocPump *pump)
{
    QiocShared *sh = srv->shared;

    __atomic_fetch_add(&sh->total_conns, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++) {
        __atomic_fetch_add(&sh->total_bytes[i], qioc_pump_bytes(pump, i),
                           __ATOMIC_RELAXED);
    }
}

/* The client is no longer held: the listener may accept again. */
static void conn_release_hold(QiocConn *conn)
{
    if (qioc_hold_active(&conn->hold)) {
        qioc_hold_release(&conn->hold);
        server_holds_changed(conn->srv);
    }
}

/* The connection is over: release what it holds and leave the server. */
static void conn_finish(QiocConn *conn)
{
    QiocServer *srv = conn->srv;

    if (conn->finished) {
        return;
    }
    conn->finished = TRUE;
    if (conn->lock_retry) {
        qioc_source_remove(conn->lock_retry);
        conn->lock_retry = 0;
    }
    g_clear_pointer(&conn->acceptor, qioc_acceptor_free);
    conn_release_hold(conn);
    if (conn->child) {
        /* Stopping (a signal): the child's work ends with qioc. */
        kill(conn->child, SIGTERM);
    }
    if (conn->pump) {
        if (one_shot(srv)) {
            srv->status = qioc_pump_status(conn->pump);
        } else {
            server_count(srv, conn->pump);
        }
        qioc_pump_free(conn->pump);
        conn->pump = NULL;
    }
    for (int i = 0; i < 2; i++) {
        /* Opened but never pumped: the type's end still applies. */
        if (conn->ioc[i]) {
            qioc_endpoint_finish(srv->ep[i], conn->ioc[i]);
            close_channel(&conn->ioc[i]);
        }
    }
    g_ptr_array_remove(srv->conns, conn);
    g_atomic_int_add(&srv->shared->conns, -1);
    if (srv->acceptor) {
        if (!srv->stopping) {
            qioc_holds_take_reserve(&srv->shared->holds);
        }
        qioc_acceptor_client_done(srv->acceptor);
    }
    if (srv->connector) {
        qioc_connector_client_done(srv->connector);
    }
    server_quit_if_idle(srv);
    conn_unref(conn);
}

static void conn_fail(QiocConn *conn, int i, const GError *err)
{
    qioc_endpoint_error(conn->srv->ep[i], err);
    if (one_shot(conn->srv)) {
        conn->srv->status = QIOC_EXIT_FAILURE;
    }
    conn_finish(conn);
}

/* ---------------------------------------------------------------- pumping */

static gboolean pump_finished_idle(gpointer data)
{
    QiocConn *conn = data;
    guint prev = conn_log_enter(conn);

    conn_finish(conn);
    qioc_log_conn_leave(prev);
    conn_unref(conn);
    return G_SOURCE_REMOVE;
}

/* Called inside a pump coroutine: finish from the loop instead. */
static void on_pump_done(QiocPump *pump, void *opaque)
{
    /* At the priority of the descriptors: a busy loop never idles. */
    qioc_idle_add_full(G_PRIORITY_DEFAULT, pump_finished_idle, conn_ref(opaque),
                       NULL);
}

/* --fds=require: both sides must carry descriptors, checked up front. */
static gboolean conn_fds_ok(QiocConn *conn)
{
    g_autoptr(GError) err = NULL;

    if (conn->srv->opts->fds != QIOC_FDS_REQUIRE) {
        return TRUE;
    }
    for (int i = 0; i < 2; i++) {
        if (!qio_channel_has_feature(conn->ioc[i],
                                     QIO_CHANNEL_FEATURE_FD_PASS)) {
            err = g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                              "cannot pass descriptors (--fds=require)");
            conn_fail(conn, i, err);
            return FALSE;
        }
    }
    return TRUE;
}

/* The pump configuration every connection shares, worked out once. */
/* crlf= and cr= of an address. */
static QiocLineEnd line_end_of(const QiocAddrOpts *o)
{
    return o->crlf ? QIOC_EOL_CRLF : o->cr ? QIOC_EOL_CR : QIOC_EOL_NL;
}

static void server_pump_config(QiocServer *srv)
{
    const QiocOptions *opts = srv->opts;
    QiocPumpConfig *cfg = &srv->pump_cfg;

    cfg->buffer_size = opts->buffer_size;
    cfg->close_timeout = opts->close_timeout;
    cfg->idle_timeout = opts->idle_timeout;
    cfg->traffic = opts->hexdump   ? QIOC_TRAFFIC_HEX
                   : opts->verbose ? QIOC_TRAFFIC_TEXT
                                   : QIOC_TRAFFIC_OFF;
    cfg->fds = opts->fds;
    cfg->stats = opts->stats;
    for (int i = 0; i < 2; i++) {
        const QiocAddrOpts *src = &qioc_address_reading(srv->ep[i]->addr)->o;
        const QiocAddrOpts *dst = &qioc_address_writing(srv->ep[!i]->addr)->o;
        QiocFlowConfig *flow = &cfg->flow[i];

        flow->readbytes = src->readbytes;
        flow->ignoreeof = src->ignoreeof;
        flow->null_eof = src->null_eof;
        flow->shut = dst->shut;
        flow->send_fds = dst->send_fds;
        flow->record = opts->record[i];
        flow->read_eol = line_end_of(src);
        flow->write_eol = line_end_of(dst);
        flow->has_escape = src->escape >= 0;
        flow->escape = (guchar)src->escape;
    }
}

/* Side @from is read when -u/-U allow it and the channels serve it. */
static gboolean conn_flow_enabled(QiocConn *conn, int from)
{
    const QiocOptions *o = conn->srv->opts;

    if ((o->left_to_right && from == 1) || (o->right_to_left && from == 0)) {
        return FALSE;
    }
    return (conn->access[from] & QIOC_ACCESS_READ) &&
           (conn->access[!from] & QIOC_ACCESS_WRITE);
}

static gboolean side_finish(QIOChannel *ioc, void *data)
{
    return qioc_endpoint_finish(data, ioc);
}

static void conn_start_pump(QiocConn *conn)
{
    QiocServer *srv = conn->srv;
    QiocPumpConfig cfg = srv->pump_cfg;
    QiocPumpSide side[2];

    if (!conn_fds_ok(conn)) {
        return;
    }
    for (int i = 0; i < 2; i++) {
        QiocEndpoint *ep = srv->ep[i];

        /* idle-timeout= of a listener: -T for its clients. */
        if (ep->addr->o.idle_timeout > 0 &&
            (cfg.idle_timeout <= 0 ||
             ep->addr->o.idle_timeout < cfg.idle_timeout)) {
            cfg.idle_timeout = ep->addr->o.idle_timeout;
        }
        /* Nothing ends a datagram session but its being idle. */
        if (QIO_IS_CHANNEL_DATAGRAM_PEER(conn->ioc[i]) &&
            cfg.idle_timeout <= 0) {
            cfg.idle_timeout = QIOC_DGRAM_SESSION_IDLE;
        }
        cfg.flow[i].enabled = conn_flow_enabled(conn, i);
        cfg.conn = conn->number;
        side[i] = (QiocPumpSide){
            .ioc = g_steal_pointer(&conn->ioc[i]),
            .index = ep->addr->index,
            .name = ep->addr->text,
            .inherited = qioc_endpoint_inherited(ep),
            .finish = side_finish,
            .finish_data = ep,
        };
    }
    qioc_log_transfer_started();
    conn->pump = qioc_pump_start(side, &cfg, on_pump_done, conn);
    if (srv->stopping) {
        qioc_pump_stop(conn->pump, FALSE);
    }
}

/* ---------------------------------------------------------------- holding */

static void conn_hold_event_in(QiocConn *conn, gboolean gone)
{
    QiocServer *srv = conn->srv;
    const QiocAddress *addr = srv->ep[srv->serving]->addr;

    if (gone) {
        qioc_log_address(1, addr->index, addr->text,
                         "the held client went away");
        conn_finish(conn);
        return;
    }
    qioc_holds_spend_reserve(&srv->shared->holds,
                             (guint)g_atomic_int_get(&srv->shared->conns));
    conn_open_side(conn, !srv->serving);
}

static void conn_hold_event(gpointer data, gboolean gone)
{
    QiocConn *conn = data;
    guint prev = conn_log_enter(conn);

    conn_hold_event_in(conn, gone);
    qioc_log_conn_leave(prev);
}

/* Only a fork listener's client waits, and only for its other side. */
static gboolean conn_can_hold(QiocConn *conn, int i, const GError *err)
{
    QiocServer *srv = conn->srv;

    return !one_shot(srv) && !srv->stopping && i != srv->serving &&
           conn->ioc[srv->serving] && qioc_hold_helps(err);
}

static gboolean conn_lock_retry(gpointer data)
{
    QiocConn *conn = data;
    guint prev = conn_log_enter(conn);

    conn->lock_retry = 0;
    conn_open_side(conn, conn->lock_side);
    qioc_log_conn_leave(prev);
    return G_SOURCE_REMOVE;
}

/*
 * Side @i waits for a lock held elsewhere (flock-ex, setlkw, waitlock=,
 * src/lock.c): open it again in 100 ms, the loop running meanwhile.
 */
static gboolean conn_wait_lock(QiocConn *conn, int i, const GError *err)
{
    if (!g_error_matches(err, QIOC_LOCK_ERROR, QIOC_LOCK_ERROR_WAIT) ||
        conn->srv->stopping) {
        return FALSE;
    }
    if (!conn->lock_said) {
        const QiocAddress *addr = conn->srv->ep[i]->addr;

        qioc_log_address(1, addr->index, addr->text, "%s", err->message);
        conn->lock_said = TRUE;
    }
    conn->lock_side = i;
    conn->lock_retry = qioc_timeout_add_full(
        G_PRIORITY_DEFAULT, 100, conn_lock_retry, conn_ref(conn), conn_unref_p);
    return TRUE;
}

/* Opening side @i failed: hold the client if descriptors ran out. */
static void conn_open_failed(QiocConn *conn, int i, const GError *err)
{
    QiocServer *srv = conn->srv;
    g_autoptr(GError) expired = NULL;

    if (conn_wait_lock(conn, i, err)) {
        return;
    }
    if (!conn_can_hold(conn, i, err)) {
        conn_fail(conn, i, err);
        return;
    }
    if (!qioc_hold(&conn->hold, &srv->shared->holds, srv->ep[i],
                   conn->ioc[srv->serving], err, conn_hold_event, conn,
                   conn_ref_p, conn_unref_p, &expired)) {
        conn_fail(conn, i, expired);
        return;
    }
    server_holds_changed(srv);
}

/* ---------------------------------------------------------------- opening */

typedef struct {
    QiocConn *conn;
    int i;
} QiocOpenCall;

static QiocOpenCall *open_call(QiocConn *conn, int i)
{
    QiocOpenCall *call = g_new0(QiocOpenCall, 1);

    call->conn = conn_ref(conn);
    call->i = i;
    return call;
}

static const char *const access_words[] = {
    [QIOC_ACCESS_READ] = "read",
    [QIOC_ACCESS_WRITE] = "written",
};

/*
 * -u/-U need the first address readable and the second writable (or the
 * reverse); an address opened only the other way (rdonly, wronly, CREATE,
 * STDOUT, ...) cannot serve: say so instead of moving nothing.
 */
static gboolean conn_access_ok(QiocConn *conn, int i)
{
    const QiocOptions *opts = conn->srv->opts;
    QiocAccess missing = conn->srv->ep[i]->need & ~conn->access[i];
    g_autoptr(GError) err = NULL;

    if (!(opts->left_to_right || opts->right_to_left) || !missing) {
        return TRUE;
    }
    err = g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                      "cannot be %s (%s moves data %s it)",
                      access_words[missing], opts->left_to_right ? "-u" : "-U",
                      missing == QIOC_ACCESS_READ ? "out of" : "into");
    conn_fail(conn, i, err);
    return FALSE;
}

/*
 * The connect loop's side of a connection opened or failed: the next
 * connection may start, or, failed, there is none (the one-shot rule of
 * the exit status, for the loop as a whole).
 */
static void conn_connect_loop_step(QiocConn *conn, int i, gboolean ok)
{
    QiocServer *srv = conn->srv;

    if (!srv->connector || i != srv->serving) {
        return;
    }
    qioc_connector_opened(srv->connector, ok);
    if (!ok) {
        srv->status = QIOC_EXIT_FAILURE;
        srv->stopping = TRUE;
    }
}

static void conn_side_opened(QiocConn *conn, int i, QIOChannel *ioc,
                             GError *err)
{
    QiocEndpoint *ep = conn->srv->ep[i];

    conn_connect_loop_step(conn, i, ioc != NULL);
    if (conn->finished) {
        close_channel(&ioc);
        g_clear_error(&err);
        return;
    }
    if (!ioc) {
        conn_open_failed(conn, i, err);
        g_error_free(err);
        return;
    }
    conn_release_hold(conn);
    qio_channel_set_name(ioc, ep->addr->text);
    conn->ioc[i] = ioc;
    if (!conn_access_ok(conn, i)) {
        return;
    }
    qioc_log_address(1, ep->addr->index, ep->addr->text, "open");
    qioc_endpoint_log_channel(ep, ioc);
    if (conn->ioc[0] && conn->ioc[1]) {
        conn_start_pump(conn);
    } else if (!conn->opening[!i]) {
        /*
         * Like socat: the other address is opened once this one is, so a
         * client that fails its TLS handshake costs no backend connection,
         * and an EXEC child can be told who its peer is.
         */
        conn_open_side(conn, !i);
    }
}

static void open_done(QIOChannel *ioc, GError *err, gpointer data)
{
    QiocOpenCall *call = data;
    QiocConn *conn = call->conn;
    guint prev = conn_log_enter(conn);

    conn_side_opened(conn, call->i, ioc, err);
    qioc_log_conn_leave(prev);
    conn_unref(conn);
    g_free(call);
}

/* A client of side @i's listener: put the type's layer on it. */
static void conn_accepted(QiocConn *conn, int i, QIOChannel *client)
{
    qioc_endpoint_wrap_async(conn->srv->ep[i], g_object_ref(client), open_done,
                             open_call(conn, i));
}

/* The client of a one-client listener. */
static void conn_on_client(QIOChannel *client, guint number, gpointer data)
{
    QiocConn *conn = conn_ref(data);
    guint prev = conn_log_enter(conn);

    conn_accepted(conn, conn->listening, client);
    qioc_log_conn_leave(prev);
    conn_unref(conn);
}

static void conn_accept_failed(const GError *err, gpointer data)
{
    QiocConn *conn = data;
    guint prev = conn_log_enter(conn);

    conn_fail(conn, conn->listening, err);
    qioc_log_conn_leave(prev);
}

static void conn_listen(QiocConn *conn, int i)
{
    GError *err = NULL;

    conn->listening = i;
    conn->acceptor = qioc_acceptor_new(conn->srv->ep[i], NULL, conn_on_client,
                                       conn_accept_failed, conn, &err);
    if (!conn->acceptor) {
        conn_open_failed(conn, i, err);
        g_error_free(err);
        return;
    }
    conn_release_hold(conn);
}

static void conn_child_exited(GPid pid, gint status, gpointer data)
{
    QiocConn *conn = data;
    guint prev = conn_log_enter(conn);

    conn->child_watch = 0;
    conn->child = 0;
    g_spawn_close_pid(pid);
    if (!qioc_endpoint_exited(conn->srv->ep[conn->child_side], pid, status) &&
        one_shot(conn->srv)) {
        conn->srv->status = QIOC_EXIT_FAILURE;
    }
    conn_finish(conn);
    qioc_log_conn_leave(prev);
}

/* A child takes over the other side's descriptors (EXEC nofork). */
static void conn_spawn(QiocConn *conn, int i)
{
    g_autoptr(GError) err = NULL;
    GPid pid;

    if (!conn->ioc[!i]) {
        err = g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                          "nofork needs the other address opened first");
        conn_fail(conn, i, err);
        return;
    }
    if (!qioc_endpoint_spawn(conn->srv->ep[i], conn->ioc[!i], &pid, &err)) {
        conn_open_failed(conn, i, err);
        return;
    }
    conn_release_hold(conn);
    /* The child has its own copies; ours would keep the peer open. */
    close_channel(&conn->ioc[!i]);
    conn->child = pid;
    conn->child_side = i;
    conn->child_watch =
        qioc_child_watch_add_full(G_PRIORITY_DEFAULT, pid, conn_child_exited,
                                  conn_ref(conn), (GDestroyNotify)conn_unref);
}

static void conn_open_side(QiocConn *conn, int i)
{
    QiocEndpoint *ep = conn->srv->ep[i];
    GError *err = NULL;
    QIOChannel *ioc;

    conn_ref(conn);
    conn->opening[i] = TRUE;
    conn->access[i] = ep->need;
    if (qioc_endpoint_takes_peer(ep)) {
        conn_spawn(conn, i);
    } else if (qioc_endpoint_is_listener(ep)) {
        conn_listen(conn, i);
    } else if (qioc_endpoint_ops(ep)->connect) {
        qioc_endpoint_connect_async(ep, conn->ioc[!i], open_done,
                                    open_call(conn, i));
    } else {
        ioc = qioc_endpoint_open(ep, &conn->access[i], conn->ioc[!i], &err);
        if (ioc && qioc_endpoint_has_layers(ep)) {
            /* TLS:NAME|EXEC:...: the layers go on what opened at once */
            qioc_endpoint_wrap_async(ep, ioc, open_done, open_call(conn, i));
        } else {
            conn_side_opened(conn, i, ioc, err);
        }
    }
    conn_unref(conn);
}

/* ---------------------------------------------------------------- serving */

/* A client of the `fork` listener: a connection of its own. */
static void server_on_client(QIOChannel *client, guint number, gpointer data)
{
    QiocServer *srv = data;
    int s = srv->serving;
    QiocConn *conn = conn_ref(conn_new(srv));

    conn->number = number;
    if (srv->shared->nworkers > 1) {
        qioc_info(1, "worker %u of %u serves the client", srv->index + 1,
                  srv->shared->nworkers);
    }
    conn->opening[s] = TRUE;
    conn->access[s] = srv->ep[s]->need;
    conn_accepted(conn, s, client);
    conn_unref(conn);
}

static void server_stop(QiocServer *srv, gboolean hard);

static gboolean server_stop_posted(gpointer data)
{
    server_stop(data, FALSE);
    return G_SOURCE_REMOVE;
}

static gboolean server_stop_hard_posted(gpointer data)
{
    server_stop(data, TRUE);
    return G_SOURCE_REMOVE;
}

static void server_accept_failed(const GError *err, gpointer data)
{
    QiocServer *srv = data;

    qioc_endpoint_error(srv->ep[srv->serving], err);
    srv->status = QIOC_EXIT_FAILURE;
    srv->stopping = TRUE;
    /* accept-timeout= runs on one worker, for all of them. */
    shared_post(srv->shared, srv, server_stop_posted);
    server_quit_if_idle(srv);
}

/* The connect loop's next connection (`fork` on a connecting address). */
static void server_connect_start(guint number, gpointer data)
{
    QiocServer *srv = data;
    QiocConn *conn = conn_new(srv);
    guint prev;

    conn->number = number;
    prev = conn_log_enter(conn);
    conn_open_side(conn, srv->serving);
    qioc_log_conn_leave(prev);
}

static gboolean server_listen(QiocServer *srv)
{
    QiocEndpoint *ep = srv->ep[srv->serving];
    g_autoptr(GError) err = NULL;

    if (!qioc_endpoint_is_listener(ep)) {
        srv->connector = qioc_connector_new(ep, server_connect_start, srv);
        qioc_log_transfer_started();
        return TRUE;
    }
    srv->acceptor =
        qioc_acceptor_new(ep, &srv->shared->accept, server_on_client,
                          server_accept_failed, srv, &err);
    if (!srv->acceptor) {
        qioc_endpoint_error(ep, err);
        return FALSE;
    }
    qioc_holds_take_reserve(&srv->shared->holds);
    qioc_log_transfer_started();
    return TRUE;
}

/* ---------------------------------------------------------------- signals */

static void server_stop(QiocServer *srv, gboolean hard)
{
    srv->stopping = TRUE;
    if (srv->acceptor) {
        qioc_acceptor_stop(srv->acceptor);
    }
    if (srv->connector) {
        qioc_connector_stop(srv->connector);
    }
    /* Backwards: finishing a connection removes it from the array. */
    for (guint i = srv->conns->len; i-- > 0;) {
        QiocConn *conn = g_ptr_array_index(srv->conns, i);
        guint prev = conn_log_enter(conn);

        if (conn->pump) {
            qioc_pump_stop(conn->pump, hard);
        } else {
            conn_finish(conn);
        }
        qioc_log_conn_leave(prev);
    }
    server_quit_if_idle(srv);
}

/* On the main thread: each worker stops in its own loop. */
static gboolean on_signal(QiocShared *sh, int signum)
{
    gboolean again = sh->signal != 0;

    sh->signal = signum;
    qioc_info(1, "%s: %s", g_strsignal(signum),
              again ? "stopping now" : "flushing what was read");
    if (sh->nworkers == 1) {
        server_stop(sh->workers[0], again);
    } else {
        shared_post(sh, NULL,
                    again ? server_stop_hard_posted : server_stop_posted);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_sigint(gpointer data)
{
    return on_signal(data, SIGINT);
}

static gboolean on_sigterm(gpointer data)
{
    return on_signal(data, SIGTERM);
}

/* ---------------------------------------------------------------- setup */

/* The endpoints, each prepared once; the side serving many clients. */
static gboolean server_endpoints(QiocServer *srv, QiocAddress *addr[2])
{
    srv->serving = -1;
    for (int i = 0; i < 2; i++) {
        g_autoptr(GError) err = NULL;

        srv->ep[i] = qioc_endpoint_new(addr[i], srv->opts, &err);
        if (!srv->ep[i]) {
            qioc_log_address(QIOC_LOG_ERROR, addr[i]->index, addr[i]->text,
                             "%s", err->message);
            return FALSE;
        }
        if (srv->serving < 0 && (qioc_endpoint_serves_many(srv->ep[i]) ||
                                 qioc_endpoint_connects_many(srv->ep[i]))) {
            srv->serving = i;
        }
    }
    server_pump_config(srv);
    return TRUE;
}

/* What an address does to qioc itself (setsid, su=, ...), on both. */
typedef gboolean QiocProcessStep(const QiocEndpoint *ep, GError **errp);

static gboolean server_process_step(QiocServer *srv, QiocProcessStep *step)
{
    for (int i = 0; i < 2; i++) {
        g_autoptr(GError) err = NULL;

        if (!step(srv->ep[i], &err)) {
            qioc_endpoint_error(srv->ep[i], err);
            return FALSE;
        }
    }
    return TRUE;
}

/* Worker @index; the first runs on the main thread's default context. */
static QiocServer *server_new(QiocShared *sh, guint index)
{
    QiocServer *srv = g_new0(QiocServer, 1);

    srv->shared = sh;
    srv->index = index;
    srv->opts = sh->opts;
    srv->serving = -1;
    srv->conns = g_ptr_array_new();
    srv->ctx = index == 0 && sh->nworkers == 1
                   ? g_main_context_ref_thread_default()
                   : g_main_context_new();
    srv->loop = g_main_loop_new(srv->ctx, FALSE);
    return srv;
}

static void server_free(QiocServer *srv)
{
    g_clear_pointer(&srv->acceptor, qioc_acceptor_free);
    g_clear_pointer(&srv->connector, qioc_connector_free);
    g_ptr_array_unref(srv->conns);
    g_main_loop_unref(srv->loop);
    g_main_context_unref(srv->ctx);
    for (int i = 0; i < 2; i++) {
        qioc_endpoint_free(srv->ep[i]);
    }
    g_free(srv);
}

/* workers= of the listener serving many clients; 1 for anything else. */
static guint shared_count_workers(QiocServer *first)
{
    if (first->serving < 0 ||
        !qioc_endpoint_ops(first->ep[first->serving])->listen) {
        return 1;
    }
    return (guint)MAX(first->ep[first->serving]->addr->o.workers, 1);
}

/* Every worker with its endpoints; the first decides how many. */
static gboolean shared_workers(QiocShared *sh, QiocAddress *addr[2])
{
    QiocServer *first;

    sh->nworkers = 1;
    sh->workers = g_new0(QiocServer *, 1);
    first = sh->workers[0] = server_new(sh, 0);
    if (!server_endpoints(first, addr)) {
        return FALSE;
    }
    sh->nworkers = shared_count_workers(first);
    if (sh->nworkers == 1) {
        return TRUE;
    }
    sh->accept.share_fds = !first->ep[first->serving]->addr->o.reuseport;
    /* Every worker runs a context of its own, the first too. */
    server_free(first);
    sh->workers = g_renew(QiocServer *, sh->workers, sh->nworkers);
    for (guint i = 0; i < sh->nworkers; i++) {
        sh->workers[i] = server_new(sh, i);
        if (!server_endpoints(sh->workers[i], addr)) {
            sh->nworkers = i + 1;
            return FALSE;
        }
    }
    return TRUE;
}

/* Each worker's listener, its sources in the worker's context. */
static gboolean shared_listen(QiocShared *sh)
{
    for (guint i = 0; i < sh->nworkers; i++) {
        QiocServer *srv = sh->workers[i];
        gboolean ok;

        g_main_context_push_thread_default(srv->ctx);
        ok = server_listen(srv);
        g_main_context_pop_thread_default(srv->ctx);
        if (!ok) {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean shared_start(QiocShared *sh, QiocAddress *addr[2])
{
    QiocServer *first;

    if (!shared_workers(sh, addr)) {
        return FALSE;
    }
    first = sh->workers[0];
    /* setsid, setpgid= before any open; su=, chroot= once listening. */
    if (!server_process_step(first, qioc_endpoint_setsid)) {
        return FALSE;
    }
    if (one_shot(first)) {
        /* A child on its peer's descriptors needs that peer open first. */
        conn_open_side(conn_new(first), qioc_endpoint_after_peer(first->ep[0]));
        return server_process_step(first, qioc_endpoint_drop_privileges);
    }
    /* Every worker listens before the privileges go, once for all. */
    return shared_listen(sh) &&
           server_process_step(first, qioc_endpoint_drop_privileges);
}

/* ---------------------------------------------------------------- running */

static gboolean worker_exited(gpointer data)
{
    QiocShared *sh = data;

    if (--sh->running == 0) {
        g_main_loop_quit(sh->loop);
    }
    return G_SOURCE_REMOVE;
}

/* A worker thread: its loop until it stops, then what it owns. */
static gpointer worker_thread(gpointer data)
{
    QiocServer *srv = data;

    g_main_context_push_thread_default(srv->ctx);
    g_main_loop_run(srv->loop);
    /* Its sources are in its context: removed from this thread. */
    g_clear_pointer(&srv->acceptor, qioc_acceptor_free);
    qioc_pump_thread_done();
    g_main_context_pop_thread_default(srv->ctx);
    qioc_context_post(g_main_context_default(), worker_exited, srv->shared,
                      NULL);
    return NULL;
}

/*
 * The channel classes are set up here, once, before any worker could make
 * its first channel of a type at the same time as another: GType's locks
 * make that safe, but ThreadSanitizer cannot see them (uninstrumented
 * GLib) and would report the class initialisation as a race.
 */
static void shared_init_classes(void)
{
    static GType (*const types[])(void) = {
        qio_channel_socket_get_type, qio_channel_tls_get_type,
        qio_channel_file_get_type,   qio_channel_command_get_type,
        qio_channel_dual_get_type,   qio_channel_datagram_peer_get_type,
    };

    for (gsize i = 0; i < G_N_ELEMENTS(types); i++) {
        g_type_class_unref(g_type_class_ref(types[i]()));
    }
}

static void shared_run_threads(QiocShared *sh)
{
    shared_init_classes();
    sh->loop = g_main_loop_new(NULL, FALSE);
    for (guint i = 0; i < sh->nworkers; i++) {
        g_autofree char *name = g_strdup_printf("qioc-worker-%u", i + 1);

        sh->workers[i]->thread =
            g_thread_new(name, worker_thread, sh->workers[i]);
        sh->running++;
    }
    g_main_loop_run(sh->loop);
    for (guint i = 0; i < sh->nworkers; i++) {
        g_thread_join(g_steal_pointer(&sh->workers[i]->thread));
    }
    g_main_loop_unref(sh->loop);
}

static void shared_run(QiocShared *sh)
{
    QiocServer *first = sh->workers[0];

    if (sh->nworkers > 1) {
        shared_run_threads(sh);
    } else if (first->conns->len > 0 || !one_shot(first)) {
        g_main_loop_run(first->loop);
    }
}

/* --stats of a `fork` listener: the sums over every connection. */
static void shared_print_totals(QiocShared *sh)
{
    QiocServer *first = sh->workers[0];

    if (!sh->opts->stats || !first || one_shot(first)) {
        return;
    }
    qioc_error("stats: total: %" G_GUINT64_FORMAT " connections, "
               "%" G_GUINT64_FORMAT " bytes 1 -> 2, %" G_GUINT64_FORMAT
               " bytes 2 -> 1",
               sh->total_conns, sh->total_bytes[0], sh->total_bytes[1]);
}

/* The first failure of any worker, else success. */
static int shared_status(QiocShared *sh)
{
    for (guint i = 0; i < sh->nworkers; i++) {
        if (sh->workers[i] && sh->workers[i]->status) {
            return sh->workers[i]->status;
        }
    }
    return QIOC_EXIT_OK;
}

static void shared_clear(QiocShared *sh)
{
    for (guint i = 0; i < sh->nworkers; i++) {
        g_clear_pointer(&sh->workers[i], server_free);
    }
    g_free(sh->workers);
    qioc_holds_clear(&sh->holds);
    g_clear_pointer(&sh->accept.fds, g_array_unref);
}

int qioc_serve(QiocAddress *addr[2], const QiocOptions *opts)
{
    QiocShared sh = {
        .opts = opts,
        .accept = {.slot_freed = server_slot_freed},
    };
    guint sigs[2] = {
        g_unix_signal_add(SIGINT, on_sigint, &sh),
        g_unix_signal_add(SIGTERM, on_sigterm, &sh),
    };
    int status;

    sh.accept.slot_data = &sh;
    qioc_holds_init(&sh.holds);
    if (shared_start(&sh, addr)) {
        shared_run(&sh);
        status = shared_status(&sh);
    } else {
        status = QIOC_EXIT_FAILURE;
    }
    g_source_remove(sigs[0]);
    g_source_remove(sigs[1]);
    shared_print_totals(&sh);
    shared_clear(&sh);
    return sh.signal ? QIOC_EXIT_SIGNAL_BASE + sh.signal : status;
}
