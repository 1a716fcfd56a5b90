/*
 * libqio - stream sockets: name lookup and connecting
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * qio_channel_socket_connect_sync() and _async(), and what listening
 * shares with them: the resolved addresses and the record of an
 * operation in flight.
 */
#include "qio-private.h"

#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>

#include "qio/channel-socket.h"
#include "qio/task.h"

/* ---------------------------------------------------------------- lookup */

bool qio__socket_address_to_native(GSocketAddress *sa,
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

bool qio__socket_address_wanted(GSocketAddress *sa,
                                const QIOChannelSocketOptions *opts)
{
    int family = g_socket_address_get_family(sa);

    if (!qio__socket_is_inet(family)) {
        return true;
    }
    if (opts->family != AF_UNSPEC && family != opts->family) {
        return false;
    }
    return !opts->bind ||
           (int)g_socket_address_get_family(opts->bind) == family;
}

/* HOST:PORT as a user writes it: an IPv6 host in brackets. */
char *qio__socket_connectable_text(GSocketConnectable *addr)
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
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "resolve %s: %s", host,
                reason);
    return NULL;
}

void qio__socket_no_address_error(GSocketConnectable *addr, const char *op,
                                  GError **errp)
{
    g_autofree char *text = qio__socket_connectable_text(addr);

    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                "%s %s: no address of the requested family", op, text);
}

bool qio__socket_setup(int fd, int family, const QIOChannelSocketOptions *opts,
                       const char *op, GSocketAddress *sa, GError **errp)
{
    g_autofree char *text = NULL;

    if (!opts->setup || opts->setup(fd, family, opts->setup_data, errp)) {
        return true;
    }
    text = qio_socket_address_to_string(sa);
    g_prefix_error(errp, "%s %s: ", op, text);
    return false;
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
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
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

    if (timeout_ms > 0 && qio__socket_set_nonblocking(fd, true) < 0) {
        return errno;
    }
    if (connect(fd, sa, len) < 0) {
        err = errno;
    }
    if (err == EINPROGRESS || err == EINTR) {
        err = connect_wait(fd, timeout_ms);
    }
    if (timeout_ms > 0 && err == 0 &&
        qio__socket_set_nonblocking(fd, false) < 0) {
        err = errno;
    }
    return err;
}

/* The file a unix path address names, or NULL (abstract, IP). */
static const char *bind_path(GSocketAddress *local)
{
    if (!G_IS_UNIX_SOCKET_ADDRESS(local) ||
        g_unix_socket_address_get_address_type(G_UNIX_SOCKET_ADDRESS(local)) !=
            G_UNIX_SOCKET_ADDRESS_PATH) {
        return NULL;
    }
    return g_unix_socket_address_get_path(G_UNIX_SOCKET_ADDRESS(local));
}

/*
 * A unix client bound to a path made the socket file there: a connect
 * that failed removes it again (else the next try of the same bind would
 * find the path taken), a channel that connected removes it when closed.
 */
static void unbind_failed(GSocketAddress *local)
{
    const char *path = local ? bind_path(local) : NULL;

    if (path) {
        unlink(path);
    }
}

static void remember_bound(QIOChannelSocket *sioc, GSocketAddress *local)
{
    const char *path = local ? bind_path(local) : NULL;

    if (path) {
        qio__socket_remember_file(sioc, path);
    }
}

static int bind_local(int fd, GSocketAddress *local, GError **errp)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;

    if (!qio__socket_address_to_native(local, &ss, &len, errp)) {
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
static int connect_one(GSocketAddress *sa, const QIOChannelSocketOptions *opts,
                       GError **errp)
{
    g_autofree char *text = qio_socket_address_to_string(sa);
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int fd;
    int err;

    if (!qio__socket_address_to_native(sa, &ss, &len, errp)) {
        return -1;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        qio__error_errno(errp, errno, "connect to %s", text);
        return -1;
    }
    if (!qio__socket_setup(fd, ss.ss_family, opts, "connect to", sa, errp) ||
        (opts->bind && bind_local(fd, opts->bind, errp) < 0)) {
        close(fd);
        return -1;
    }
    err = connect_fd(fd, (struct sockaddr *)&ss, len, opts->connect_timeout_ms);
    if (err != 0) {
        close(fd);
        if (opts->bind) {
            unbind_failed(opts->bind);
        }
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
    opts = opts ? opts : &qio__socket_defaults;

    en = g_socket_connectable_enumerate(addr);
    for (;;) {
        g_autoptr(GSocketAddress) sa = NULL;
        int fd;

        /* A resolver error is reported only if no address was tried. */
        sa = qio__address_next(en, addr, last ? NULL : &last);
        if (!sa) {
            break;
        }
        if (!qio__socket_address_wanted(sa, opts)) {
            continue;
        }
        g_clear_error(&last);
        fd = connect_one(sa, opts, &last);
        if (fd >= 0) {
            qio__socket_adopt(ioc, fd, g_socket_address_get_family(sa), false,
                              0);
            remember_bound(ioc, opts->bind);
            return qio__socket_apply_blocking(ioc, errp);
        }
    }
    if (!last) {
        qio__socket_no_address_error(addr, "connect to", errp);
        return -1;
    }
    g_propagate_error(errp, g_steal_pointer(&last));
    return -1;
}

/* ---------------------------------------------------------------- async */

/*
 * The worker's own copy of @addr: a GNetworkAddress caches what it
 * resolved without a lock, so two threads must not enumerate one.
 * Socket addresses are immutable and shared as they are.
 */
GSocketConnectable *qio__socket_connectable_copy(GSocketConnectable *addr)
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

QIOSocketAsync *qio__socket_async_new(QIOChannelSocket *sioc,
                                      GSocketConnectable *addr,
                                      const QIOChannelSocketOptions *opts,
                                      QIOTaskFunc callback, gpointer opaque,
                                      GDestroyNotify destroy,
                                      GMainContext *context)
{
    QIOSocketAsync *op;

    g_return_val_if_fail(QIO_IS_CHANNEL_SOCKET(sioc), NULL);
    g_return_val_if_fail(G_IS_SOCKET_CONNECTABLE(addr), NULL);
    g_return_val_if_fail(callback != NULL, NULL);
    g_return_val_if_fail(sioc->fd < 0, NULL);
    g_return_val_if_fail(sioc->async == NULL, NULL);

    op = g_new0(QIOSocketAsync, 1);
    op->sioc = sioc;
    op->task = qio_task_new(G_OBJECT(sioc), callback, opaque, destroy);
    op->context = context ? g_main_context_ref(context)
                          : g_main_context_ref_thread_default();
    op->addr = qio__socket_connectable_copy(addr);
    op->opts = opts ? *opts : qio__socket_defaults;
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
    g_clear_object(&op->local);
    g_clear_object(&op->opts.bind);
    g_list_free_full(op->addrs, g_object_unref);
    g_clear_object(&op->current);
    g_clear_error(&op->last);
    g_free(op);
}

void qio__socket_async_finish(QIOSocketAsync *op, GError *err)
{
    QIOTask *task = op->task;

    op->sioc->async = NULL;
    socket_async_free(op);
    qio_task_set_error(task, err);
    qio_task_complete(task);
}

GError *qio__socket_async_closed_error(QIOSocketAsync *op, const char *what)
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
    if (G_IS_SOCKET_ADDRESS(addr) &&
        qio__socket_address_wanted(G_SOCKET_ADDRESS(addr), opts)) {
        return g_list_prepend(NULL, g_object_ref(addr));
    }
    en = g_socket_connectable_enumerate(addr);
    while ((sa = qio__address_next(en, addr, &err))) {
        if (qio__socket_address_wanted(sa, opts)) {
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
        qio__socket_no_address_error(addr, "connect to", errp);
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
    if (op->bound) {
        unbind_failed(op->opts.bind);
        op->bound = false;
    }
}

static void connect_succeeded(QIOSocketAsync *op)
{
    QIOChannelSocket *sioc = op->sioc;
    int fd = op->fd;
    GError *err = NULL;

    op->fd = -1;
    /* Attempts are non-blocking; the channel gets the mode it asked for. */
    if (sioc->blocking && qio__socket_set_nonblocking(fd, false) < 0) {
        qio__error_errno(&err, errno, "set socket %s",
                         sioc->blocking ? "blocking" : "non-blocking");
        close(fd);
        qio__socket_async_finish(op, err);
        return;
    }
    qio__socket_adopt(sioc, fd, g_socket_address_get_family(op->current), false,
                      !sioc->blocking);
    op->bound = false;
    remember_bound(sioc, op->opts.bind);
    qio__socket_async_finish(op, NULL);
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
    g_source_set_callback(op->watch, G_SOURCE_FUNC(connect_writable), op, NULL);
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

    if (!qio__socket_address_to_native(op->current, &op->ss, &op->sslen,
                                       &op->last)) {
        return -1;
    }
    op->fd =
        socket(op->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (op->fd < 0) {
        connect_error(op, errno);
        return -1;
    }
    if (!qio__socket_setup(op->fd, op->ss.ss_family, &op->opts, "connect to",
                           op->current, &op->last) ||
        (op->opts.bind && bind_local(op->fd, op->opts.bind, &op->last) < 0)) {
        connect_drop_fd(op);
        return -1;
    }
    op->bound = op->opts.bind && bind_path(op->opts.bind);
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
        err = qio__socket_async_closed_error(op, "connect to");
    } else if (op->last) {
        err = g_steal_pointer(&op->last);
    } else {
        qio__socket_no_address_error(op->addr, "connect to", &err);
    }
    qio__socket_async_finish(op, err);
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
    QIOSocketAsync *op = qio__socket_async_new(ioc, addr, opts, callback,
                                               opaque, destroy, context);
    QIOTask *resolve;

    if (!op) {
        return;
    }
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

void qio__socket_async_abandon(QIOSocketAsync *op)
{
    op->abandoned = true;
    if (op->fd >= 0) {
        connect_stop_waiting(op);
        connect_drop_fd(op);
        socket_async_schedule(op, connect_next_idle);
    }
}
