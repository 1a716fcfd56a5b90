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
 */
#include "config.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "pump.h"
#include "serve.h"

typedef struct QiocServer QiocServer;

typedef struct QiocConn {
    QiocServer *srv;
    int refs;                     /* the server's, plus one per open */
    QiocSide side[2];
    QIONetListener *listener;     /* a one-client listener while opening */
    guint accept_timer;
    QiocPump *pump;
    GPid child;                   /* nofork: the child doing the work */
    guint child_watch;
    gint64 held_since;            /* waiting for a descriptor, or 0 */
    guint hold_timer;             /* its next try */
    guint hold_watch;             /* its client going away */
    gboolean finished;
} QiocConn;

struct QiocServer {
    const QiocOptions *opts;
    QiocAddress **addr;
    int serving;                  /* side that accepts many clients, or -1 */
    QIONetListener *listener;     /* its listener */
    gboolean paused;              /* by max-children or held clients */
    guint accept_timer;
    gboolean had_client;
    gboolean accept_failing;      /* an accept error was reported */
    guint held;                   /* clients waiting for a descriptor */
    int reserve;                  /* a descriptor to give up, or -1 */
    GPtrArray *conns;
    gint64 max_children;
    GMainLoop *loop;
    int signal;
    int status;
    gboolean stopping;
};

static void conn_open_side(QiocConn *conn, int i);
static void conn_finish(QiocConn *conn);
static void conn_stop_holding(QiocConn *conn);
static void server_take_reserve(QiocServer *srv);

/* ---------------------------------------------------------------- helpers */

static void report(const QiocAddress *addr, const GError *err)
{
    qioc_error("address %d (%s): %s", addr->index, addr->text, err->message);
}

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

static void conn_stop_listening(QiocConn *conn)
{
    if (conn->accept_timer) {
        g_source_remove(conn->accept_timer);
        conn->accept_timer = 0;
    }
    if (conn->listener) {
        qio_net_listener_disconnect(conn->listener);
        g_clear_object(&conn->listener);
    }
}

static void server_pause(QiocServer *srv)
{
    if (srv->listener && !srv->paused) {
        srv->paused = TRUE;
        qio_net_listener_pause(srv->listener);
    }
}

/*
 * Only a listener paused by max-children or held clients: resuming
 * rebuilds its watch, which GLib pays for with a wakeup of the loop, for
 * every connection.
 */
static void server_resume(QiocServer *srv)
{
    if (srv->listener && srv->paused && !srv->stopping && srv->held == 0 &&
        (srv->max_children <= 0 || srv->conns->len < srv->max_children)) {
        srv->paused = FALSE;
        qio_net_listener_resume(srv->listener);
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
    conn_stop_listening(conn);
    conn_stop_holding(conn);
    if (conn->child) {
        /* Stopping (a signal): the child's work ends with qioc. */
        kill(conn->child, SIGTERM);
    }
    if (conn->pump) {
        if (one_shot(srv)) {
            srv->status = qioc_pump_status(conn->pump);
        }
        qioc_pump_free(conn->pump);
        conn->pump = NULL;
    } else {
        close_channel(&conn->side[0].ioc);
        close_channel(&conn->side[1].ioc);
    }
    g_ptr_array_remove(srv->conns, conn);
    server_take_reserve(srv);
    server_resume(srv);
    server_quit_if_idle(srv);
    conn_unref(conn);
}

static void conn_fail(QiocConn *conn, int i, const GError *err)
{
    report(conn->srv->addr[i], err);
    if (one_shot(conn->srv)) {
        conn->srv->status = QIOC_EXIT_FAILURE;
    }
    conn_finish(conn);
}

static gboolean pump_finished_idle(gpointer data)
{
    QiocConn *conn = data;

    conn_finish(conn);
    conn_unref(conn);
    return G_SOURCE_REMOVE;
}

/* Called inside a pump coroutine: finish from the loop instead. */
static void on_pump_done(QiocPump *pump, void *opaque)
{
    /* At the priority of the descriptors: a busy loop never idles. */
    g_idle_add_full(G_PRIORITY_DEFAULT, pump_finished_idle, conn_ref(opaque),
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
        if (!qio_channel_has_feature(conn->side[i].ioc,
                                     QIO_CHANNEL_FEATURE_FD_PASS)) {
            err = g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                              "cannot pass descriptors (--fds=require)");
            conn_fail(conn, i, err);
            return FALSE;
        }
    }
    return TRUE;
}

static void conn_start_pump(QiocConn *conn)
{
    if (!conn_fds_ok(conn)) {
        return;
    }
    conn->pump = qioc_pump_start(&conn->side[0], &conn->side[1],
                                 conn->srv->opts, on_pump_done, conn);
    if (conn->srv->stopping) {
        qioc_pump_stop(conn->pump, FALSE);
    }
}

/* ---------------------------------------------------------------- holding */

/*
 * Descriptors ran out after a client was accepted, so its other side
 * could not be opened: the client is held rather than turned away. The
 * listener pauses (another client would find the table as full) and the
 * other side is tried again after the listener's own pause, once per
 * pause, until it opens, the client goes away, or connect-timeout= ends
 * the wait.
 */

static gboolean out_of_descriptors(const GError *err)
{
    return g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES) ||
           g_error_matches(err, G_SPAWN_ERROR, G_SPAWN_ERROR_MFILE) ||
           g_error_matches(err, G_SPAWN_ERROR, G_SPAWN_ERROR_NFILE);
}

/* Only a fork listener's client waits, and only for its other side. */
static gboolean conn_can_hold(QiocConn *conn, int i, const GError *err)
{
    QiocServer *srv = conn->srv;

    return !one_shot(srv) && !srv->stopping && i != srv->serving &&
           conn->side[srv->serving].ioc && out_of_descriptors(err);
}

/*
 * One descriptor in reserve (libuv keeps one for accept): when every
 * connection is a held client, none of them will ever free a descriptor,
 * and giving this one up lets the first through. Taken again whenever a
 * connection ends, before the listener accepts anew.
 */
static void server_take_reserve(QiocServer *srv)
{
    if (srv->reserve < 0 && !one_shot(srv) && !srv->stopping) {
        srv->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
}

static void server_spend_reserve(QiocServer *srv)
{
    if (srv->reserve >= 0 && srv->held == srv->conns->len) {
        qioc_info(2, "every client waits for a descriptor: giving up the "
                  "one in reserve");
        close(srv->reserve);
        srv->reserve = -1;
    }
}

static gboolean conn_hold_retry(gpointer data)
{
    QiocConn *conn = data;

    conn->hold_timer = 0;
    server_spend_reserve(conn->srv);
    conn_open_side(conn, !conn->srv->serving);
    return G_SOURCE_REMOVE;
}

/*
 * A held client that hangs up or resets is let go. A TCP client's FIN
 * is no hang-up: it may be a half-close, still waiting for an answer.
 */
static gboolean conn_held_client_gone(QIOChannel *ioc, GIOCondition cond,
                                      gpointer data)
{
    QiocConn *conn = data;
    const QiocAddress *addr = conn->srv->addr[conn->srv->serving];

    conn->hold_watch = 0;
    qioc_info(1, "address %d (%s): the held client went away", addr->index,
              addr->text);
    conn_finish(conn);
    return G_SOURCE_REMOVE;
}

static void conn_start_holding(QiocConn *conn, int i, const GError *err)
{
    QiocServer *srv = conn->srv;
    const QiocAddress *addr = srv->addr[i];
    QIOChannel *client = conn->side[srv->serving].ioc;

    conn->held_since = g_get_monotonic_time();
    conn->hold_watch = qio_channel_add_watch(client, G_IO_HUP | G_IO_ERR,
                                             conn_held_client_gone,
                                             conn_ref(conn),
                                             (GDestroyNotify)conn_unref);
    /* One line while descriptors are short, as for accept errors. */
    if (srv->held++ == 0) {
        qioc_error("address %d (%s): %s; holding the client and retrying",
                   addr->index, addr->text, err->message);
    } else {
        qioc_info(1, "address %d (%s): %s; holding the client and retrying",
                  addr->index, addr->text, err->message);
    }
    server_pause(srv);
}

static void conn_stop_holding(QiocConn *conn)
{
    if (!conn->held_since) {
        return;
    }
    conn->held_since = 0;
    conn->srv->held--;
    if (conn->hold_timer) {
        g_source_remove(conn->hold_timer);
        conn->hold_timer = 0;
    }
    if (conn->hold_watch) {
        g_source_remove(conn->hold_watch);
        conn->hold_watch = 0;
    }
}

/* connect-timeout= bounds the wait for a descriptor too. */
static GError *conn_hold_expired(QiocConn *conn, int i, const GError *err)
{
    const QiocAddress *addr = conn->srv->addr[i];
    double secs = qioc_address_get_duration(addr, "connect-timeout", 0);
    gint64 held = g_get_monotonic_time() - conn->held_since;

    if (secs <= 0 || held < secs * G_USEC_PER_SEC) {
        return NULL;
    }
    return g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "%s; no descriptor within %g s (connect-timeout)",
                       err->message, secs);
}

static void conn_hold(QiocConn *conn, int i, const GError *err)
{
    const QiocAddress *addr = conn->srv->addr[i];
    g_autoptr(GError) expired = NULL;

    if (!conn->held_since) {
        conn_start_holding(conn, i, err);
    } else {
        expired = conn_hold_expired(conn, i, err);
        if (expired) {
            conn_fail(conn, i, expired);
            return;
        }
        qioc_info(2, "address %d (%s): %s; still holding the client",
                  addr->index, addr->text, err->message);
    }
    conn->hold_timer = g_timeout_add_full(G_PRIORITY_DEFAULT,
                                          QIO_NET_LISTENER_ERROR_PAUSE_MS,
                                          conn_hold_retry, conn_ref(conn),
                                          (GDestroyNotify)conn_unref);
}

/* Opening side @i failed: hold the client if descriptors ran out. */
static void conn_open_failed(QiocConn *conn, int i, const GError *err)
{
    if (conn_can_hold(conn, i, err)) {
        conn_hold(conn, i, err);
    } else {
        conn_fail(conn, i, err);
    }
}

/* The other side opened (or listens) after its client was held. */
static void conn_held_side_opened(QiocConn *conn)
{
    if (conn->held_since) {
        conn_stop_holding(conn);
        server_resume(conn->srv);
    }
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
    QiocAccess need = qioc_addr_access(opts, i);
    QiocAccess missing = need & ~conn->side[i].access;
    g_autoptr(GError) err = NULL;

    if (!(opts->left_to_right || opts->right_to_left) || !missing) {
        return TRUE;
    }
    err = g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                      "cannot be %s (%s moves data %s it)",
                      access_words[missing],
                      opts->left_to_right ? "-u" : "-U",
                      missing == QIOC_ACCESS_READ ? "out of" : "into");
    conn_fail(conn, i, err);
    return FALSE;
}

static void conn_side_opened(QiocConn *conn, int i, QIOChannel *ioc,
                             GError *err)
{
    const QiocAddress *addr = conn->srv->addr[i];

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
    conn_held_side_opened(conn);
    qio_channel_set_name(ioc, addr->text);
    conn->side[i].ioc = ioc;
    if (!conn_access_ok(conn, i)) {
        return;
    }
    qioc_info(1, "address %d (%s): open", addr->index, addr->text);
    qioc_addr_log_channel(addr, ioc);
    if (conn->side[0].ioc && conn->side[1].ioc) {
        conn_start_pump(conn);
    } else if (!conn->side[!i].addr) {
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

    conn_side_opened(conn, call->i, ioc, err);
    conn_unref(conn);
    g_free(call);
}

/* nodelay and keepalive of a TCP listener apply to each accepted client. */
static void accepted_client_opts(const QiocAddress *addr,
                                 QIOChannelSocket *client)
{
    QiocAddrKind kind = addr->type->kind;

    if (kind == QIOC_ADDR_TCP_LISTEN || kind == QIOC_ADDR_TLS_LISTEN) {
        qioc_addr_set_tcp_opts(addr, client);
    }
}

static void log_client(const QiocAddress *addr, QIOChannelSocket *client)
{
    g_autoptr(GSocketAddress) peer = NULL;
    g_autofree char *text = NULL;

    if (qioc_log_get_level() < 1) {
        return;
    }
    peer = qio_channel_socket_get_remote_address(client, NULL);
    text = peer ? qio_socket_address_to_string(peer) : g_strdup("?");
    qioc_info(1, "address %d (%s): client %s", addr->index, addr->text,
              text);
}

/* A one-client listener: the first client allowed by range= is it. */
static void conn_on_client(QIONetListener *listener, QIOChannelSocket *sioc,
                           gpointer data)
{
    QiocOpenCall *call = data;
    QiocConn *conn = call->conn;
    int i = call->i;
    const QiocAddress *addr = conn->srv->addr[i];

    if (!qioc_addr_client_ok(addr, sioc)) {
        qio_channel_close(QIO_CHANNEL(sioc), NULL);
        return;
    }
    log_client(addr, sioc);
    accepted_client_opts(addr, sioc);
    conn_ref(conn);
    /* Frees @call; no other client is taken. */
    qio_net_listener_set_client_func(listener, NULL, NULL, NULL);
    conn_stop_listening(conn);
    qioc_addr_wrap_async(addr, conn->srv->opts,
                         QIO_CHANNEL(g_object_ref(sioc)), open_done,
                         open_call(conn, i));
    conn_unref(conn);
}

static GError *accept_timeout_error(const QiocAddress *addr)
{
    double secs = qioc_address_get_duration(addr, "accept-timeout", 0);

    return g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "accept: no client within %g s (accept-timeout)",
                       secs);
}

static gboolean conn_accept_timeout(gpointer data)
{
    QiocOpenCall *call = data;
    QiocConn *conn = call->conn;
    g_autoptr(GError) err = accept_timeout_error(conn->srv->addr[call->i]);

    conn->accept_timer = 0;
    conn_fail(conn, call->i, err);
    return G_SOURCE_REMOVE;
}

static void free_open_call(gpointer data)
{
    QiocOpenCall *call = data;

    conn_unref(call->conn);
    g_free(call);
}

static guint accept_timer(const QiocAddress *addr, GSourceFunc func,
                          gpointer data, GDestroyNotify notify)
{
    double secs = qioc_address_get_duration(addr, "accept-timeout", -1);

    if (secs < 0) {
        if (notify) {
            notify(data);
        }
        return 0;
    }
    return g_timeout_add_full(G_PRIORITY_DEFAULT, (guint)(secs * 1000), func,
                              data, notify);
}

static void conn_listen(QiocConn *conn, int i)
{
    const QiocAddress *addr = conn->srv->addr[i];
    GError *err = NULL;
    QiocOpenCall *call;

    conn->listener = qioc_addr_ops(addr)->listen(addr, conn->srv->opts, &err);
    if (!conn->listener) {
        conn_open_failed(conn, i, err);
        g_error_free(err);
        return;
    }
    conn_held_side_opened(conn);
    qio_net_listener_set_name(conn->listener, addr->text);
    qioc_addr_log_listener(addr, conn->listener);
    call = open_call(conn, i);
    qio_net_listener_set_client_func(conn->listener, conn_on_client, call,
                                     free_open_call);
    conn->accept_timer = accept_timer(addr, conn_accept_timeout,
                                      open_call(conn, i), free_open_call);
}

static void conn_child_exited(GPid pid, gint status, gpointer data)
{
    QiocConn *conn = data;
    int i = qioc_exec_is_nofork(conn->srv->addr[0]) ? 0 : 1;

    conn->child_watch = 0;
    conn->child = 0;
    g_spawn_close_pid(pid);
    if (!qioc_exec_report_exit(conn->srv->addr[i], pid, status) &&
        one_shot(conn->srv)) {
        conn->srv->status = QIOC_EXIT_FAILURE;
    }
    conn_finish(conn);
}

/* nofork: the child takes over the other side's descriptors. */
static void conn_spawn_nofork(QiocConn *conn, int i)
{
    g_autoptr(GError) err = NULL;
    GPid pid;

    if (!conn->side[!i].ioc) {
        err = g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                          "nofork needs the other address opened first");
        conn_fail(conn, i, err);
        return;
    }
    if (!qioc_exec_spawn_nofork(conn->srv->addr[i], conn->side[!i].ioc, &pid,
                                &err)) {
        conn_open_failed(conn, i, err);
        return;
    }
    conn_held_side_opened(conn);
    /* The child has its own copies; ours would keep the peer open. */
    close_channel(&conn->side[!i].ioc);
    conn->child = pid;
    conn->child_watch = g_child_watch_add_full(
        G_PRIORITY_DEFAULT, pid, conn_child_exited, conn_ref(conn),
        (GDestroyNotify)conn_unref);
}

static void conn_open_side(QiocConn *conn, int i)
{
    QiocServer *srv = conn->srv;
    const QiocAddress *addr = srv->addr[i];
    const QiocAddrOps *ops = qioc_addr_ops(addr);
    GError *err = NULL;
    QIOChannel *ioc;

    conn_ref(conn);
    conn->side[i].addr = addr;
    conn->side[i].access = qioc_addr_access(srv->opts, i);
    if (qioc_exec_is_nofork(addr)) {
        conn_spawn_nofork(conn, i);
    } else if (ops && ops->listen) {
        conn_listen(conn, i);
    } else if (ops && ops->connect) {
        qioc_addr_connect_async(addr, srv->opts, open_done,
                                open_call(conn, i));
    } else {
        ioc = qioc_addr_open(addr, &conn->side[i].access,
                             conn->side[!i].ioc, srv->opts, &err);
        conn_side_opened(conn, i, ioc, err);
    }
    conn_unref(conn);
}

/* ---------------------------------------------------------------- serving */

static void server_on_client(QIONetListener *listener, QIOChannelSocket *sioc,
                             gpointer data)
{
    QiocServer *srv = data;
    int s = srv->serving;
    const QiocAddress *addr = srv->addr[s];
    QiocConn *conn;

    if (!qioc_addr_client_ok(addr, sioc)) {
        qio_channel_close(QIO_CHANNEL(sioc), NULL);
        return;
    }
    log_client(addr, sioc);
    accepted_client_opts(addr, sioc);
    srv->had_client = TRUE;
    if (srv->accept_failing) {
        srv->accept_failing = FALSE;
        qioc_info(1, "address %d (%s): accepting again", addr->index,
                  addr->text);
    }
    conn = conn_ref(conn_new(srv));
    conn->side[s].addr = addr;
    conn->side[s].access = qioc_addr_access(srv->opts, s);
    qioc_addr_wrap_async(addr, srv->opts,
                         QIO_CHANNEL(g_object_ref(sioc)), open_done,
                         open_call(conn, s));
    conn_unref(conn);
    if (srv->max_children > 0 && srv->conns->len >= srv->max_children) {
        server_pause(srv);
    }
}

/*
 * Out of descriptors (or memory) the listener pauses and tries again; one
 * line says so, not one per try, until a client gets through again.
 */
static void server_on_accept_error(QIONetListener *listener,
                                   const GError *err, gpointer data)
{
    QiocServer *srv = data;
    const QiocAddress *addr = srv->addr[srv->serving];

    if (srv->accept_failing) {
        qioc_info(2, "address %d (%s): %s", addr->index, addr->text,
                  err->message);
        return;
    }
    srv->accept_failing = TRUE;
    qioc_error("address %d (%s): %s; pausing and retrying", addr->index,
               addr->text, err->message);
}

static gboolean server_accept_timeout(gpointer data)
{
    QiocServer *srv = data;
    g_autoptr(GError) err = NULL;

    srv->accept_timer = 0;
    if (srv->had_client) {
        return G_SOURCE_REMOVE;
    }
    err = accept_timeout_error(srv->addr[srv->serving]);
    report(srv->addr[srv->serving], err);
    srv->status = QIOC_EXIT_FAILURE;
    srv->stopping = TRUE;
    qio_net_listener_disconnect(srv->listener);
    server_quit_if_idle(srv);
    return G_SOURCE_REMOVE;
}

static gboolean server_listen(QiocServer *srv)
{
    const QiocAddress *addr = srv->addr[srv->serving];
    g_autoptr(GError) err = NULL;

    srv->listener = qioc_addr_ops(addr)->listen(addr, srv->opts, &err);
    if (!srv->listener) {
        report(addr, err);
        return FALSE;
    }
    qio_net_listener_set_name(srv->listener, addr->text);
    qioc_addr_log_listener(addr, srv->listener);
    qio_net_listener_set_error_func(srv->listener, server_on_accept_error,
                                    srv);
    qio_net_listener_set_client_func(srv->listener, server_on_client, srv,
                                     NULL);
    srv->max_children = qioc_address_get_int(addr, "max-children", 0);
    srv->accept_timer = accept_timer(addr, server_accept_timeout, srv, NULL);
    server_take_reserve(srv);
    return TRUE;
}

/* The side with a `fork` listener, or -1. */
static int serving_side(QiocAddress *addr[2])
{
    for (int i = 0; i < 2; i++) {
        if (qioc_addr_is_listener(addr[i]) &&
            qioc_address_get_flag(addr[i], "fork")) {
            return i;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- signals */

static void server_stop(QiocServer *srv, gboolean hard)
{
    srv->stopping = TRUE;
    if (srv->accept_timer) {
        g_source_remove(srv->accept_timer);
        srv->accept_timer = 0;
    }
    if (srv->listener) {
        qio_net_listener_disconnect(srv->listener);
    }
    /* Backwards: finishing a connection removes it from the array. */
    for (guint i = srv->conns->len; i-- > 0;) {
        QiocConn *conn = g_ptr_array_index(srv->conns, i);

        if (conn->pump) {
            qioc_pump_stop(conn->pump, hard);
        } else {
            conn_finish(conn);
        }
    }
    server_quit_if_idle(srv);
}

static gboolean on_signal(QiocServer *srv, int signum)
{
    gboolean again = srv->signal != 0;

    srv->signal = signum;
    qioc_info(1, "%s: %s", g_strsignal(signum),
              again ? "stopping now" : "flushing what was read");
    server_stop(srv, again);
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

/* ---------------------------------------------------------------- main */

static gboolean server_start(QiocServer *srv)
{
    for (int i = 0; i < 2; i++) {
        g_autoptr(GError) err = NULL;

        if (!qioc_addr_prepare(srv->addr[i], srv->opts, &err)) {
            report(srv->addr[i], err);
            return FALSE;
        }
    }
    if (one_shot(srv)) {
        /* A nofork child needs its peer's descriptor: open that first. */
        conn_open_side(conn_new(srv), qioc_exec_is_nofork(srv->addr[0]));
        return TRUE;
    }
    return server_listen(srv);
}

int qioc_serve(QiocAddress *addr[2], const QiocOptions *opts)
{
    QiocServer srv = {
        .opts = opts,
        .addr = addr,
        .serving = serving_side(addr),
        .reserve = -1,
        .conns = g_ptr_array_new(),
        .loop = g_main_loop_new(NULL, FALSE),
    };
    guint sigs[2] = {
        g_unix_signal_add(SIGINT, on_sigint, &srv),
        g_unix_signal_add(SIGTERM, on_sigterm, &srv),
    };

    if (!server_start(&srv)) {
        srv.status = QIOC_EXIT_FAILURE;
    } else if (srv.conns->len > 0 || !one_shot(&srv)) {
        g_main_loop_run(srv.loop);
    }
    g_source_remove(sigs[0]);
    g_source_remove(sigs[1]);
    if (srv.listener) {
        qio_net_listener_disconnect(srv.listener);
        g_object_unref(srv.listener);
    }
    if (srv.reserve >= 0) {
        close(srv.reserve);
    }
    g_ptr_array_unref(srv.conns);
    g_main_loop_unref(srv.loop);
    return srv.signal ? QIOC_EXIT_SIGNAL_BASE + srv.signal : srv.status;
}
