/*
 * libqio - several listening sockets serving one callback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include <string.h>

#include "qio/net-listener.h"

/* Clients taken per wake-up, so one busy socket cannot starve the loop. */
#define ACCEPT_BURST 16

struct _QIONetListener {
    GObject parent;
    char *name;
    GPtrArray *sockets; /* QIOChannelSocket, listening */
    GPtrArray *watches; /* GSource, one per socket, or empty */
    QIONetListenerClientFunc func;
    gpointer data;
    GDestroyNotify notify;
    GMainContext *context;
    QIONetListenerErrorFunc error_func;
    gpointer error_data;
    gboolean paused;
    GSource *backoff; /* pause after an accept error */
};

G_DEFINE_TYPE(QIONetListener, qio_net_listener, G_TYPE_OBJECT)

static void listener_unwatch(QIONetListener *l)
{
    for (guint i = 0; i < l->watches->len; i++) {
        g_source_destroy(g_ptr_array_index(l->watches, i));
    }
    g_ptr_array_set_size(l->watches, 0);
}

static void listener_clear_backoff(QIONetListener *l)
{
    if (l->backoff) {
        g_source_destroy(l->backoff);
        g_clear_pointer(&l->backoff, g_source_unref);
    }
}

static void qio_net_listener_finalize(GObject *obj)
{
    QIONetListener *l = QIO_NET_LISTENER(obj);

    listener_clear_backoff(l);
    listener_unwatch(l);
    g_ptr_array_unref(l->watches);
    g_ptr_array_unref(l->sockets);
    if (l->notify) {
        l->notify(l->data);
    }
    g_clear_pointer(&l->context, g_main_context_unref);
    g_free(l->name);
    G_OBJECT_CLASS(qio_net_listener_parent_class)->finalize(obj);
}

static void qio_net_listener_class_init(QIONetListenerClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = qio_net_listener_finalize;
}

static void qio_net_listener_init(QIONetListener *l)
{
    l->sockets = g_ptr_array_new_with_free_func(g_object_unref);
    l->watches = g_ptr_array_new_with_free_func((GDestroyNotify)g_source_unref);
}

QIONetListener *qio_net_listener_new(void)
{
    return g_object_new(QIO_TYPE_NET_LISTENER, NULL);
}

void qio_net_listener_set_name(QIONetListener *l, const char *name)
{
    g_return_if_fail(QIO_IS_NET_LISTENER(l));
    g_free(l->name);
    l->name = g_strdup(name);
    for (guint i = 0; i < l->sockets->len; i++) {
        qio_channel_set_name(g_ptr_array_index(l->sockets, i), name);
    }
}

/* ---------------------------------------------------------------- accept */

static void listener_rewatch(QIONetListener *l);

static gboolean backoff_done(gpointer data)
{
    QIONetListener *l = data;

    g_clear_pointer(&l->backoff, g_source_unref);
    listener_rewatch(l);
    return G_SOURCE_REMOVE;
}

/* Out of descriptors or memory: say so, then wait before trying again. */
static void listener_backoff(QIONetListener *l, const GError *err)
{
    if (l->error_func) {
        l->error_func(l, err, l->error_data);
    }
    listener_unwatch(l);
    listener_clear_backoff(l);
    l->backoff = g_timeout_source_new(QIO_NET_LISTENER_ERROR_PAUSE_MS);
    g_source_set_callback(l->backoff, backoff_done, l, NULL);
    g_source_attach(l->backoff, l->context);
}

/* Errors that belong to one client, not to the listener. */
static gboolean client_error(const GError *err)
{
    return g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
           g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
           g_error_matches(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE) ||
           g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
           g_error_matches(err, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE) ||
           g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE);
}

/*
 * Whether this wake-up may take another client. The client function may
 * have paused, stopped, redirected or disconnected the listener: each of
 * these destroys the watch being dispatched (and disconnecting closes its
 * socket, where one more accept would be reported as an accept error).
 */
static gboolean accept_more(void)
{
    return !g_source_is_destroyed(g_main_current_source());
}

static gboolean listener_accept(QIOChannel *ioc, GIOCondition cond,
                                gpointer data)
{
    QIONetListener *l = data;
    QIOChannelSocket *server = QIO_CHANNEL_SOCKET(ioc);

    g_object_ref(l);
    for (int i = 0; i < ACCEPT_BURST && accept_more(); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(QIOChannelSocket) client =
            qio_channel_socket_accept(server, &err);

        if (client) {
            l->func(l, client, l->data);
            continue;
        }
        if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
            break;
        }
        if (!client_error(err)) {
            listener_backoff(l, err);
            break;
        }
    }
    g_object_unref(l);
    return G_SOURCE_CONTINUE;
}

/* The context the watches go to (qio_channel_add_watch_source()'s). */
static GMainContext *listener_context(QIONetListener *l)
{
    GMainContext *ctx = l->context;

    if (!ctx) {
        ctx = g_main_context_get_thread_default();
    }
    return ctx ? ctx : g_main_context_default();
}

/* Watch every socket, or none, as the current state asks. */
static void listener_rewatch(QIONetListener *l)
{
    listener_unwatch(l);
    if (!l->func || l->paused || l->backoff) {
        return;
    }
    for (guint i = 0; i < l->sockets->len; i++) {
        QIOChannel *ioc = g_ptr_array_index(l->sockets, i);

        GSource *watch = qio_channel_create_watch(ioc, G_IO_IN);

        /*
         * A source that cannot recurse has its descriptors taken out of
         * the poll set while it runs and put back after, each time waking
         * the loop: two eventfd writes per accept round. listener_accept()
         * runs no loop of its own.
         */
        g_source_set_can_recurse(watch, TRUE);
        g_source_set_callback(watch, G_SOURCE_FUNC(listener_accept), l, NULL);
        g_source_attach(watch, listener_context(l));
        g_ptr_array_add(l->watches, watch);
    }
}

/* ---------------------------------------------------------------- open */

void qio_net_listener_add(QIONetListener *l, QIOChannelSocket *sioc)
{
    g_return_if_fail(QIO_IS_NET_LISTENER(l));
    g_return_if_fail(QIO_IS_CHANNEL_SOCKET(sioc));

    if (l->name) {
        qio_channel_set_name(QIO_CHANNEL(sioc), l->name);
    }
    /* Accept in bursts without ever blocking the loop. */
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);
    g_ptr_array_add(l->sockets, g_object_ref(sioc));
    listener_rewatch(l);
}

static gboolean is_wildcard(GSocketConnectable *addr)
{
    const char *host;

    if (!G_IS_NETWORK_ADDRESS(addr)) {
        return TRUE; /* an inet or unix socket address: one socket */
    }
    host = g_network_address_get_hostname(G_NETWORK_ADDRESS(addr));
    return !host || !*host || g_str_equal(host, "::") ||
           g_str_equal(host, "0.0.0.0");
}

static guint16 socket_port(QIOChannelSocket *sioc)
{
    g_autoptr(GSocketAddress) sa =
        qio_channel_socket_get_local_address(sioc, NULL);

    if (!G_IS_INET_SOCKET_ADDRESS(sa)) {
        return 0;
    }
    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(sa));
}

static int listen_one(QIONetListener *l, GSocketConnectable *addr,
                      const QIOChannelSocketOptions *opts, GError **errp)
{
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();

    if (qio_channel_socket_listen_sync(sioc, addr, opts, errp) < 0) {
        return -1;
    }
    qio_net_listener_add(l, sioc);
    return 0;
}

/* With port 0, later sockets take the port the first one got. */
static GSocketAddress *with_port(GInetSocketAddress *isa, guint16 port)
{
    if (port == 0 || g_inet_socket_address_get_port(isa) != 0) {
        return g_object_ref(G_SOCKET_ADDRESS(isa));
    }
    return g_inet_socket_address_new(g_inet_socket_address_get_address(isa),
                                     port);
}

static int listen_resolved(QIONetListener *l, GSocketConnectable *addr,
                           const QIOChannelSocketOptions *opts, GError **errp)
{
    g_autoptr(GSocketAddressEnumerator) en =
        g_socket_connectable_enumerate(addr);
    g_autoptr(GError) last = NULL;
    guint opened = 0;
    guint16 port = 0;

    for (;;) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GSocketAddress) sa = qio__address_next(en, addr, &err);
        g_autoptr(GSocketAddress) bound = NULL;

        if (!sa) {
            if (err) {
                g_propagate_error(errp, g_steal_pointer(&err));
                return -1;
            }
            break;
        }
        bound = with_port(G_INET_SOCKET_ADDRESS(sa), port);
        if (listen_one(l, G_SOCKET_CONNECTABLE(bound), opts, &err) < 0) {
            g_clear_error(&last);
            last = g_steal_pointer(&err);
            continue;
        }
        opened++;
        if (port == 0) {
            port =
                socket_port(g_ptr_array_index(l->sockets, l->sockets->len - 1));
        }
    }
    if (opened == 0) {
        if (last) {
            g_propagate_error(errp, g_steal_pointer(&last));
        } else {
            qio__error_errno(errp, EADDRNOTAVAIL, "listen");
        }
        return -1;
    }
    return 0;
}

int qio_net_listener_open_sync(QIONetListener *l, GSocketConnectable *addr,
                               const QIOChannelSocketOptions *opts,
                               GError **errp)
{
    g_return_val_if_fail(QIO_IS_NET_LISTENER(l), -1);
    g_return_val_if_fail(G_IS_SOCKET_CONNECTABLE(addr), -1);

    if (is_wildcard(addr)) {
        return listen_one(l, addr, opts, errp);
    }
    return listen_resolved(l, addr, opts, errp);
}

/* ---------------------------------------------------------------- control */

void qio_net_listener_set_client_func_full(QIONetListener *l,
                                           QIONetListenerClientFunc func,
                                           gpointer data, GDestroyNotify notify,
                                           GMainContext *context)
{
    g_return_if_fail(QIO_IS_NET_LISTENER(l));

    if (l->notify) {
        l->notify(l->data);
    }
    l->func = func;
    l->data = data;
    l->notify = notify;
    g_clear_pointer(&l->context, g_main_context_unref);
    l->context = context ? g_main_context_ref(context) : NULL;
    if (func) {
        /* Where the clients will most likely wait: before the first. */
        qio__aio_epoll_prepare(listener_context(l));
    }
    listener_clear_backoff(l);
    listener_rewatch(l);
}

void qio_net_listener_set_client_func(QIONetListener *l,
                                      QIONetListenerClientFunc func,
                                      gpointer data, GDestroyNotify notify)
{
    qio_net_listener_set_client_func_full(l, func, data, notify, NULL);
}

void qio_net_listener_set_error_func(QIONetListener *l,
                                     QIONetListenerErrorFunc func,
                                     gpointer data)
{
    g_return_if_fail(QIO_IS_NET_LISTENER(l));
    l->error_func = func;
    l->error_data = data;
}

void qio_net_listener_pause(QIONetListener *l)
{
    g_return_if_fail(QIO_IS_NET_LISTENER(l));
    l->paused = TRUE;
    listener_unwatch(l);
}

void qio_net_listener_resume(QIONetListener *l)
{
    g_return_if_fail(QIO_IS_NET_LISTENER(l));
    l->paused = FALSE;
    listener_rewatch(l);
}

static gboolean wait_client_ready(QIOChannel *ioc, GIOCondition cond,
                                  gpointer data)
{
    QIOChannelSocket **out = data;
    g_autoptr(GError) err = NULL;

    if (!*out) {
        *out = qio_channel_socket_accept(QIO_CHANNEL_SOCKET(ioc), &err);
    }
    return G_SOURCE_CONTINUE;
}

QIOChannelSocket *qio_net_listener_wait_client(QIONetListener *l)
{
    g_autoptr(GMainContext) ctx = NULL;
    g_autoptr(GPtrArray) sources = NULL;
    QIOChannelSocket *client = NULL;

    g_return_val_if_fail(QIO_IS_NET_LISTENER(l), NULL);
    if (l->sockets->len == 0) {
        return NULL;
    }
    ctx = g_main_context_new();
    sources = g_ptr_array_new_with_free_func((GDestroyNotify)g_source_unref);
    listener_unwatch(l);
    for (guint i = 0; i < l->sockets->len; i++) {
        g_ptr_array_add(sources, qio_channel_add_watch_source(
                                     g_ptr_array_index(l->sockets, i), G_IO_IN,
                                     wait_client_ready, &client, NULL, ctx));
    }
    while (!client) {
        g_main_context_iteration(ctx, TRUE);
    }
    for (guint i = 0; i < sources->len; i++) {
        g_source_destroy(g_ptr_array_index(sources, i));
    }
    listener_rewatch(l);
    return client;
}

void qio_net_listener_disconnect(QIONetListener *l)
{
    g_return_if_fail(QIO_IS_NET_LISTENER(l));

    listener_clear_backoff(l);
    listener_unwatch(l);
    for (guint i = 0; i < l->sockets->len; i++) {
        qio_channel_close(g_ptr_array_index(l->sockets, i), NULL);
    }
    g_ptr_array_set_size(l->sockets, 0);
}

gboolean qio_net_listener_is_connected(QIONetListener *l)
{
    g_return_val_if_fail(QIO_IS_NET_LISTENER(l), FALSE);
    return l->sockets->len > 0;
}

guint qio_net_listener_get_nsockets(QIONetListener *l)
{
    g_return_val_if_fail(QIO_IS_NET_LISTENER(l), 0);
    return l->sockets->len;
}

QIOChannelSocket *qio_net_listener_get_socket(QIONetListener *l, guint i)
{
    g_return_val_if_fail(QIO_IS_NET_LISTENER(l), NULL);
    g_return_val_if_fail(i < l->sockets->len, NULL);
    return g_ptr_array_index(l->sockets, i);
}
