/*
 * qioc - the table of address types, and endpoints
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "addr.h"
#include "context.h"
#include "lock.h"
#include "log.h"
#include "splice.h"
#include "term.h"

/* Every kind's description, by kind; a unit test checks it is complete. */
static const QiocAddrDesc *const addr_descs[QIOC_ADDR__COUNT] = {
    [QIOC_ADDR_STDIO] = &qioc_addr_stdio,
    [QIOC_ADDR_STDIN] = &qioc_addr_stdin,
    [QIOC_ADDR_STDOUT] = &qioc_addr_stdout,
    [QIOC_ADDR_STDERR] = &qioc_addr_stderr,
    [QIOC_ADDR_FD] = &qioc_addr_fd,
    [QIOC_ADDR_PIPE] = &qioc_addr_pipe,
    [QIOC_ADDR_FILE] = &qioc_addr_file,
    [QIOC_ADDR_GOPEN] = &qioc_addr_gopen,
    [QIOC_ADDR_CREATE] = &qioc_addr_create,
    [QIOC_ADDR_UNIX_CONNECT] = &qioc_addr_unix_connect,
    [QIOC_ADDR_UNIX_LISTEN] = &qioc_addr_unix_listen,
    [QIOC_ADDR_ABSTRACT_CONNECT] = &qioc_addr_abstract_connect,
    [QIOC_ADDR_ABSTRACT_LISTEN] = &qioc_addr_abstract_listen,
    [QIOC_ADDR_TCP_CONNECT] = &qioc_addr_tcp_connect,
    [QIOC_ADDR_TCP_LISTEN] = &qioc_addr_tcp_listen,
    [QIOC_ADDR_EXEC] = &qioc_addr_exec,
    [QIOC_ADDR_SYSTEM] = &qioc_addr_system,
    [QIOC_ADDR_TLS_CONNECT] = &qioc_addr_tls_connect,
    [QIOC_ADDR_TLS_LISTEN] = &qioc_addr_tls_listen,
    [QIOC_ADDR_ACCEPT_FD] = &qioc_addr_accept_fd,
    [QIOC_ADDR_SD_LISTEN] = &qioc_addr_sd_listen,
    [QIOC_ADDR_DUAL] = &qioc_addr_dual,
    [QIOC_ADDR_UDP_CONNECT] = &qioc_addr_udp_connect,
    [QIOC_ADDR_UDP_LISTEN] = &qioc_addr_udp_listen,
    [QIOC_ADDR_UDP_SENDTO] = &qioc_addr_udp_sendto,
    [QIOC_ADDR_UDP_DATAGRAM] = &qioc_addr_udp_datagram,
    [QIOC_ADDR_UDP_RECVFROM] = &qioc_addr_udp_recvfrom,
    [QIOC_ADDR_UDP_RECV] = &qioc_addr_udp_recv,
    [QIOC_ADDR_UNIX_SENDTO] = &qioc_addr_unix_sendto,
    [QIOC_ADDR_UNIX_RECVFROM] = &qioc_addr_unix_recvfrom,
    [QIOC_ADDR_UNIX_RECV] = &qioc_addr_unix_recv,
    [QIOC_ADDR_ABSTRACT_SENDTO] = &qioc_addr_abstract_sendto,
    [QIOC_ADDR_ABSTRACT_RECVFROM] = &qioc_addr_abstract_recvfrom,
    [QIOC_ADDR_ABSTRACT_RECV] = &qioc_addr_abstract_recv,
    [QIOC_ADDR_READLINE] = &qioc_addr_readline,
    [QIOC_ADDR_PTY] = &qioc_addr_pty,
    [QIOC_ADDR_SOCKS4] = &qioc_addr_socks4,
    [QIOC_ADDR_SOCKS5] = &qioc_addr_socks5,
    [QIOC_ADDR_HTTP_CONNECT] = &qioc_addr_http_connect,
    [QIOC_ADDR_SOCKS_SERVER] = &qioc_addr_socks_server,
    [QIOC_ADDR_PROXY_SERVER] = &qioc_addr_proxy_server,
    [QIOC_ADDR_DYNAMIC] = &qioc_addr_dynamic,
};

const QiocAddrDesc *qioc_addr_desc(QiocAddrKind kind)
{
    g_return_val_if_fail(kind < QIOC_ADDR__COUNT, NULL);
    return addr_descs[kind];
}

/* ---------------------------------------------------------------- endpoint */

/* The IPv4 address @ia with its bits past @bits cleared. */
static GInetAddress *network_of(GInetAddress *ia, guint bits)
{
    guint8 b[4];

    memcpy(b, g_inet_address_to_bytes(ia), 4);
    for (guint i = 0; i < 32; i++) {
        if (i >= bits) {
            b[i / 8] &= (guint8) ~(0x80u >> (i % 8));
        }
    }
    return g_inet_address_new_from_bytes(b, G_SOCKET_FAMILY_IPV4);
}

/*
 * Every address @entry's host resolves to, each as a network: HOST alone
 * is its addresses exactly; HOST/BITS (socat's HOST:NETMASK) widens its
 * IPv4 addresses to /BITS, while its IPv6 addresses stay exact (an IPv4
 * prefix says nothing of an IPv6 network).
 */
static gboolean networks_add_host(GPtrArray *masks, const char *option,
                                  const char *entry, GError **errp)
{
    g_autoptr(GResolver) resolver = g_resolver_get_default();
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) parts = g_strsplit(entry, "/", 2);
    const char *host = parts[0];
    guint v4_bits = parts[1] ? (guint)g_ascii_strtoull(parts[1], NULL, 10) : 32;
    GList *found = g_resolver_lookup_by_name(resolver, host, NULL, &err);

    if (!found) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s=%s: %s", option,
                    host, err->message);
        return FALSE;
    }
    for (GList *l = found; l; l = l->next) {
        GInetAddress *ia = l->data;
        gboolean v4 = g_inet_address_get_family(ia) == G_SOCKET_FAMILY_IPV4;
        g_autoptr(GInetAddress) net = v4 ? network_of(ia, v4_bits) : NULL;

        g_ptr_array_add(masks, g_inet_address_mask_new(
                                   net ? net : ia, v4 ? v4_bits : 128, NULL));
    }
    g_resolver_free_addresses(found);
    return TRUE;
}

GPtrArray *qioc_networks_resolve(const QiocNetworks *nets, const char *option,
                                 GError **errp)
{
    g_autoptr(GPtrArray) masks = g_ptr_array_new_with_free_func(g_object_unref);

    for (guint i = 0; i < nets->masks->len; i++) {
        g_ptr_array_add(masks, g_object_ref(nets->masks->pdata[i]));
    }
    for (guint i = 0; i < nets->hosts->len; i++) {
        if (!networks_add_host(masks, option, nets->hosts->pdata[i], errp)) {
            return NULL;
        }
    }
    return g_steal_pointer(&masks);
}

/* range=: its networks, and its host names resolved, once. */
static gboolean endpoint_range(QiocEndpoint *ep, GError **errp)
{
    const QiocNetworks *nets = ep->addr->o.range;

    return !nets || (ep->range = qioc_networks_resolve(nets, "range", errp));
}

/* One endpoint, prepared; a layer's knows what it runs over first. */
static QiocEndpoint *endpoint_new(const QiocAddress *addr,
                                  const QiocOptions *opts,
                                  const QiocEndpoint *below, GError **errp)
{
    g_autoptr(QiocEndpoint) ep = g_new0(QiocEndpoint, 1);

    ep->addr = addr;
    ep->desc = qioc_addr_desc(addr->type->kind);
    ep->opts = opts;
    ep->family = qioc_address_family(addr, opts->family);
    ep->need = qioc_access_needed(opts, addr->index - 1);
    ep->below = below;
    if (!endpoint_range(ep, errp) ||
        (ep->desc->prepare && !ep->desc->prepare(ep, errp))) {
        return NULL;
    }
    return g_steal_pointer(&ep);
}

/* A chain's layers, from the transport out, each over the one before. */
static gboolean endpoint_layers(QiocEndpoint *ep, GError **errp)
{
    const GPtrArray *layers = ep->addr->layers;
    const QiocEndpoint *below = ep;

    if (!layers) {
        return TRUE;
    }
    ep->layers =
        g_ptr_array_new_full(layers->len, (GDestroyNotify)qioc_endpoint_free);
    g_ptr_array_set_size(ep->layers, layers->len);
    for (guint i = layers->len; i-- > 0;) {
        QiocEndpoint *layer =
            endpoint_new(layers->pdata[i], ep->opts, below, errp);

        if (!layer) {
            return FALSE;
        }
        ep->layers->pdata[i] = layer;
        below = layer;
    }
    return TRUE;
}

QiocEndpoint *qioc_endpoint_new(const QiocAddress *addr,
                                const QiocOptions *opts, GError **errp)
{
    g_autoptr(QiocEndpoint) ep = endpoint_new(addr, opts, NULL, errp);

    if (!ep || !endpoint_layers(ep, errp)) {
        return NULL;
    }
    if (ep->layers) {
        /* a handshake goes both ways, whichever way the data flows */
        ep->need = QIOC_ACCESS_RDWR;
    }
    return g_steal_pointer(&ep);
}

void qioc_endpoint_free(QiocEndpoint *ep)
{
    if (!ep) {
        return;
    }
    if (ep->state && ep->desc->free_state) {
        ep->desc->free_state(ep->state);
    }
    g_clear_pointer(&ep->range, g_ptr_array_unref);
    g_clear_pointer(&ep->layers, g_ptr_array_unref);
    g_free(ep);
}

const QiocAddrDesc *qioc_endpoint_ops(const QiocEndpoint *ep)
{
    return ep->desc->choose ? ep->desc->choose(ep) : ep->desc;
}

gboolean qioc_endpoint_is_listener(const QiocEndpoint *ep)
{
    const QiocAddrDesc *ops = qioc_endpoint_ops(ep);

    return ops->listen != NULL || ops->serve != NULL;
}

gboolean qioc_endpoint_serves_many(const QiocEndpoint *ep)
{
    return qioc_endpoint_is_listener(ep) && ep->addr->o.fork;
}

gboolean qioc_endpoint_connects_many(const QiocEndpoint *ep)
{
    return !qioc_endpoint_is_listener(ep) && ep->addr->o.fork &&
           qioc_endpoint_ops(ep)->connect != NULL;
}

gboolean qioc_endpoint_takes_peer(const QiocEndpoint *ep)
{
    return qioc_endpoint_ops(ep)->spawn != NULL;
}

gboolean qioc_endpoint_after_peer(const QiocEndpoint *ep)
{
    return qioc_endpoint_takes_peer(ep) ||
           (qioc_endpoint_ops(ep)->flags & QIOC_ADDR_AFTER_PEER);
}

gboolean qioc_endpoint_has_layers(const QiocEndpoint *ep)
{
    return ep->layers != NULL;
}

const char *qioc_endpoint_host(const QiocEndpoint *ep)
{
    return ep->desc->host ? ep->desc->host(ep) : NULL;
}

/* The layer (or type) of @addr whose description has @flag, or NULL. */
static const QiocAddress *address_with_flag(const QiocAddress *addr, guint flag)
{
    for (guint i = 0; addr->layers && i < addr->layers->len; i++) {
        const QiocAddress *layer = addr->layers->pdata[i];

        if (qioc_addr_desc(layer->type->kind)->flags & flag) {
            return layer;
        }
    }
    return qioc_addr_desc(addr->type->kind)->flags & flag ? addr : NULL;
}

gboolean qioc_address_check_pair(QiocAddress *const addr[2], GError **errp)
{
    for (int i = 0; i < 2; i++) {
        const QiocAddress *dynamic =
            address_with_flag(addr[i], QIOC_ADDR_NEEDS_TARGET);
        const QiocAddress *server =
            address_with_flag(addr[i], QIOC_ADDR_NAMES_TARGET);

        if (dynamic && !address_with_flag(addr[!i], QIOC_ADDR_NAMES_TARGET)) {
            qioc_address_fail(addr[i], errp,
                              "%s connects where a proxy's client asks: the "
                              "other address needs a SOCKS-SERVER or "
                              "PROXY-SERVER layer",
                              dynamic->type->name);
            return FALSE;
        }
        if (server && !address_with_flag(addr[!i], QIOC_ADDR_NEEDS_TARGET)) {
            qioc_address_fail(addr[i], errp,
                              "%s connects each client where it asks: the "
                              "other address must be DYNAMIC",
                              server->type->name);
            return FALSE;
        }
    }
    return TRUE;
}

static void not_supported(const QiocEndpoint *ep, const char *what,
                          GError **errp)
{
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                "address type %s cannot %s", ep->addr->type->name, what);
}

/* lockfile=, waitlock= and the locks on @ioc's descriptors (src/lock.c). */
static gboolean endpoint_lock(QiocEndpoint *ep, QIOChannel *ioc,
                              QiocAccess access, GError **errp)
{
    QiocLockToken *token;

    if (!qioc_lock_wanted(ep->addr)) {
        return TRUE;
    }
    token = qioc_lock_file_take(ep->addr, errp);
    if (!token && (ep->addr->o.lockfile || ep->addr->o.waitlock)) {
        return FALSE;
    }
    qioc_lock_token_attach(token, ioc);
    return qioc_lock_descriptors(ep->addr, ioc, access, errp);
}

/* socat's ioctl-* options: how each passes its value. */
static const struct {
    const char *name;
    gsize offset;
    gboolean by_value; /* the int itself, not a pointer to it */
} ioctl_options[] = {
    {"ioctl-void", offsetof(QiocAddrOpts, ioctl_void), TRUE},
    {"ioctl-int", offsetof(QiocAddrOpts, ioctl_int), TRUE},
    {"ioctl-intp", offsetof(QiocAddrOpts, ioctl_intp), FALSE},
    {"ioctl-bin", offsetof(QiocAddrOpts, ioctl_bin), FALSE},
    {"ioctl-string", offsetof(QiocAddrOpts, ioctl_string), FALSE},
};

/* One ioctl option on @fd; a pointer argument points to a copy. */
static gboolean ioctl_one(int fd, const char *name, const QiocSockopt *io,
                          gboolean by_value, GError **errp)
{
    gsize len;
    const guint8 *data = g_bytes_get_data(io->value, &len);
    g_autofree guint8 *copy = g_memdup2(data, len ? len : 1);
    unsigned long request = (unsigned long)(guint32)io->name;
    int arg = 0;
    int rc;

    if (by_value && len == sizeof(int)) {
        memcpy(&arg, data, sizeof(int));
    }
    rc = by_value ? ioctl(fd, request, (long)arg) : ioctl(fd, request, copy);
    if (rc < 0) {
        qioc_error_errno(errp, errno, "%s=%lu: ioctl on descriptor %d", name,
                         request, fd);
        return FALSE;
    }
    return TRUE;
}

/* The ioctl-* options on the descriptors of the directions @access. */
static gboolean endpoint_ioctls(QiocEndpoint *ep, QIOChannel *ioc,
                                QiocAccess access, GError **errp)
{
    int rfd = access & QIOC_ACCESS_READ ? qioc_channel_fd(ioc, TRUE) : -1;
    int wfd = access & QIOC_ACCESS_WRITE ? qioc_channel_fd(ioc, FALSE) : -1;
    int fds[2] = {rfd, wfd == rfd ? -1 : wfd};

    for (gsize i = 0; i < G_N_ELEMENTS(ioctl_options); i++) {
        const QiocSockopt *io = G_STRUCT_MEMBER(QiocSockopt *, &ep->addr->o,
                                                ioctl_options[i].offset);

        for (int k = 0; io && k < 2; k++) {
            if (fds[k] >= 0 && !ioctl_one(fds[k], ioctl_options[i].name, io,
                                          ioctl_options[i].by_value, errp)) {
                return FALSE;
            }
        }
    }
    return TRUE;
}

/*
 * What every opened channel gets: its locks (in the directions @access
 * it was opened for) and its terminal modes (raw, echo=, ...). Takes
 * @ioc; NULL when @ioc is NULL or that fails.
 */
static QIOChannel *endpoint_opened(QiocEndpoint *ep, QIOChannel *ioc,
                                   QiocAccess access, GError **errp)
{
    if (ioc && (!endpoint_lock(ep, ioc, access & ep->need, errp) ||
                !endpoint_ioctls(ep, ioc, access & ep->need, errp) ||
                !qioc_term_setup(ep->addr, ioc, errp))) {
        qio_channel_close(ioc, NULL);
        g_clear_object(&ioc);
    }
    return ioc;
}

QIOChannel *qioc_endpoint_open(QiocEndpoint *ep, QiocAccess *access,
                               QIOChannel *peer, GError **errp)
{
    const QiocAddrDesc *ops = qioc_endpoint_ops(ep);
    QIOChannel *ioc;

    if (!ops->open) {
        not_supported(ep, "be opened at once", errp);
        return NULL;
    }
    ioc = ops->open(ep, access, peer, errp);
    return endpoint_opened(ep, ioc, *access, errp);
}

QIONetListener *qioc_endpoint_listen(QiocEndpoint *ep, GError **errp)
{
    const QiocAddrDesc *ops = qioc_endpoint_ops(ep);
    QIONetListener *listener;

    if (!ops->listen) {
        not_supported(ep, "listen", errp);
        return NULL;
    }
    listener = ops->listen(ep, errp);
    if (!listener) {
        return NULL;
    }
    qio_net_listener_set_name(listener, ep->addr->text);
    for (guint i = 0; qioc_log_get_level() >= 2 &&
                      i < qio_net_listener_get_nsockets(listener);
         i++) {
        QIOChannelSocket *sioc = qio_net_listener_get_socket(listener, i);
        g_autoptr(GSocketAddress) local =
            qio_channel_socket_get_local_address(sioc, NULL);
        g_autofree char *text =
            local ? qio_socket_address_to_string(local) : g_strdup("?");

        qioc_log_address(2, ep->addr->index, ep->addr->text,
                         "listening on %s (socket %d)", text,
                         qio_channel_socket_get_fd(sioc));
    }
    return listener;
}

QIODatagramServer *qioc_endpoint_serve(QiocEndpoint *ep, GError **errp)
{
    const QiocAddrDesc *ops = qioc_endpoint_ops(ep);
    QIODatagramServer *server;

    if (!ops->serve) {
        not_supported(ep, "serve datagram senders", errp);
        return NULL;
    }
    server = ops->serve(ep, errp);
    if (server && qioc_log_get_level() >= 2) {
        QIOChannelSocket *sioc = qio_datagram_server_get_socket(server);
        g_autoptr(GSocketAddress) local =
            qio_channel_socket_get_local_address(sioc, NULL);
        g_autofree char *text =
            local ? qio_socket_address_to_string(local) : g_strdup("?");

        qioc_log_address(2, ep->addr->index, ep->addr->text,
                         "receiving on %s (socket %d), a session per sender",
                         text, qio_channel_socket_get_fd(sioc));
    }
    return server;
}

gboolean qioc_endpoint_finish(QiocEndpoint *ep, QIOChannel *ioc)
{
    /* a chain's transport sees its own channel, under the TLS layers */
    while (ep->layers && ioc && QIO_IS_CHANNEL_TLS(ioc)) {
        ioc = qio_channel_tls_get_master(QIO_CHANNEL_TLS(ioc));
    }
    return !ioc || !ep->desc->finish || ep->desc->finish(ep, ioc);
}

gboolean qioc_endpoint_spawn(QiocEndpoint *ep, QIOChannel *peer, GPid *pid,
                             GError **errp)
{
    return qioc_endpoint_ops(ep)->spawn(ep, peer, pid, errp);
}

gboolean qioc_endpoint_exited(QiocEndpoint *ep, GPid pid, int status)
{
    return qioc_endpoint_ops(ep)->exited(ep, pid, status);
}

void qioc_endpoint_error(const QiocEndpoint *ep, const GError *err)
{
    qioc_log_address(QIOC_LOG_ERROR, ep->addr->index, ep->addr->text, "%s",
                     err->message);
}

/* ---------------------------------------------------------------- connect */

/*
 * A connect and the layers that go on it (TLS, a proxy's handshake) are
 * one try, as in socat: retry= tries again when the handshake fails too.
 */
typedef struct {
    QiocEndpoint *ep;
    QiocConnectFunc *connect; /* fixed at the first try */
    QIOChannel *peer;
    QiocOpenDone *done;
    gpointer data;
    gint64 retries_left;
    guint conn; /* the connection its lines are about (with `fork`) */
} QiocConnectRetry;

static void connect_attempt(QiocConnectRetry *r);

static gboolean connect_retry_timer(gpointer data)
{
    QiocConnectRetry *r = data;
    guint prev = qioc_log_conn_enter(r->conn);

    connect_attempt(r);
    qioc_log_conn_leave(prev);
    return G_SOURCE_REMOVE;
}

static void connect_finished_in(QIOChannel *ioc, GError *err,
                                QiocConnectRetry *r)
{
    double interval = r->ep->addr->o.interval;

    /* A lock to wait for is the caller's to wait for, not a failed try. */
    if (ioc || (r->retries_left <= 0 && !r->ep->addr->o.forever) ||
        g_error_matches(err, QIOC_LOCK_ERROR, QIOC_LOCK_ERROR_WAIT)) {
        QiocOpenDone *done = r->done;
        gpointer done_data = r->data;

        g_clear_object(&r->peer);
        g_free(r);
        done(ioc, err, done_data);
        return;
    }
    r->retries_left--;
    qioc_log_address(1, r->ep->addr->index, r->ep->addr->text,
                     "%s; retrying in %g s", err->message, interval);
    g_error_free(err);
    qioc_timeout_add((guint)(interval * 1000), connect_retry_timer, r);
}

static void connect_finished(QIOChannel *ioc, GError *err, gpointer data)
{
    QiocConnectRetry *r = data;
    guint prev = qioc_log_conn_enter(r->conn);

    connect_finished_in(ioc, err, r);
    qioc_log_conn_leave(prev);
}

/* The options set once connected (setsockopt-int=, ...), then the wrap. */
static void connect_then_wrap(QIOChannel *ioc, GError *err, gpointer data)
{
    QiocConnectRetry *r = data;
    guint prev = qioc_log_conn_enter(r->conn);

    if (ioc && QIO_IS_CHANNEL_SOCKET(ioc) &&
        !qioc_sockopt_apply_socket(r->ep, QIO_CHANNEL_SOCKET(ioc),
                                   QIOC_SOCKOPT_CONNECTED, &err)) {
        qio_channel_close(ioc, NULL);
        g_clear_object(&ioc);
    }
    ioc =
        endpoint_opened(r->ep, ioc, QIOC_ACCESS_READ | QIOC_ACCESS_WRITE, &err);
    if (ioc) {
        qioc_endpoint_wrap_async(r->ep, ioc, connect_finished, r);
    } else {
        connect_finished_in(NULL, err, r);
    }
    qioc_log_conn_leave(prev);
}

static void connect_attempt(QiocConnectRetry *r)
{
    r->connect(r->ep, r->peer, connect_then_wrap, r);
}

void qioc_endpoint_connect_async(QiocEndpoint *ep, QIOChannel *peer,
                                 QiocOpenDone *done, gpointer data)
{
    const QiocAddrDesc *ops = qioc_endpoint_ops(ep);
    QiocConnectRetry *r;

    if (!ops->connect) {
        GError *err = NULL;

        not_supported(ep, "connect", &err);
        done(NULL, err, data);
        return;
    }
    r = g_new0(QiocConnectRetry, 1);
    *r = (QiocConnectRetry){ep,
                            ops->connect,
                            peer ? g_object_ref(peer) : NULL,
                            done,
                            data,
                            MAX(ep->addr->o.retry, 0),
                            qioc_log_conn()};
    connect_attempt(r);
}

/* A chain's layers going on, one after the other, innermost first. */
typedef struct {
    QiocEndpoint *ep;
    guint next; /* layers still to apply: ep->layers->pdata[0..next) */
    QiocOpenDone *done;
    gpointer data;
    guint conn;
} QiocLayering;

static void layer_done(QIOChannel *ioc, GError *err, gpointer data)
{
    QiocLayering *l = data;
    guint prev = qioc_log_conn_enter(l->conn);
    QiocEndpoint *layer;

    if (!ioc || l->next == 0) {
        QiocLayering call = *l;

        g_free(l);
        call.done(ioc, err, call.data);
        qioc_log_conn_leave(prev);
        return;
    }
    layer = l->ep->layers->pdata[--l->next];
    qioc_log_address(2, layer->addr->index, layer->addr->text,
                     "layer %s over the channel below",
                     layer->addr->type->name);
    layer->desc->wrap(layer, ioc, layer_done, l);
    qioc_log_conn_leave(prev);
}

void qioc_endpoint_wrap_async(QiocEndpoint *ep, QIOChannel *ioc,
                              QiocOpenDone *done, gpointer data)
{
    QiocLayering *l;

    if (!ep->layers) {
        if (ep->desc->wrap) {
            ep->desc->wrap(ep, ioc, done, data);
            return;
        }
        done(ioc, NULL, data);
        return;
    }
    l = g_new0(QiocLayering, 1);
    *l = (QiocLayering){ep, ep->layers->len, done, data, qioc_log_conn()};
    if (ep->desc->wrap) {
        ep->desc->wrap(ep, ioc, layer_done, l);
        return;
    }
    layer_done(ioc, NULL, l);
}

/* ---------------------------------------------------------------- accept */

/* A v4 client of a dual-stack listener shows as ::ffff:a.b.c.d. */
static GInetAddress *unmap_v4(GInetAddress *ia)
{
    const guint8 *b = g_inet_address_to_bytes(ia);
    static const guint8 prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (g_inet_address_get_family(ia) == G_SOCKET_FAMILY_IPV6 &&
        memcmp(b, prefix, sizeof(prefix)) == 0) {
        return g_inet_address_new_from_bytes(b + 12, G_SOCKET_FAMILY_IPV4);
    }
    return g_object_ref(ia);
}

static gboolean in_range(GPtrArray *range, GSocketAddress *peer)
{
    g_autoptr(GInetAddress) ia = NULL;

    if (!G_IS_INET_SOCKET_ADDRESS(peer)) {
        return FALSE;
    }
    ia = unmap_v4(
        g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(peer)));
    for (guint i = 0; i < range->len; i++) {
        if (g_inet_address_mask_matches(range->pdata[i], ia)) {
            return TRUE;
        }
    }
    return FALSE;
}

static guint peer_port(GSocketAddress *peer)
{
    return G_IS_INET_SOCKET_ADDRESS(peer)
               ? g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(peer))
               : 0;
}

/*
 * Why a listener's client (or a receiver's sender) @peer is not served:
 * range=, and socat's client port checks sourceport= and lowport (a port
 * below 1024 says that root on the client's host let it have one); NULL
 * when it is.
 */
static char *peer_refusal(const QiocEndpoint *ep, GSocketAddress *peer)
{
    const QiocAddrOpts *o = &ep->addr->o;
    guint32 groups = ep->addr->type->groups;
    guint port = peer ? peer_port(peer) : 0;

    if (o->range && !(peer && in_range(ep->range, peer))) {
        return g_strdup_printf("not in range=%s", o->range->text);
    }
    /* On a client (UDP-SENDTO, ...) they are its own port, not a check. */
    if (!(groups & QIOC_OPTGRP_IPLISTEN) || (groups & QIOC_OPTGRP_IPCONNECT)) {
        return NULL;
    }
    if (o->sourceport >= 0 && port != (guint)o->sourceport) {
        return g_strdup_printf(
            "source port %u is not sourceport=%" G_GINT64_FORMAT, port,
            o->sourceport);
    }
    if (o->lowport && (port == 0 || port >= 1024)) {
        return g_strdup_printf("source port %u is not below 1024 (lowport)",
                               port);
    }
    return NULL;
}

static gboolean client_allowed(QiocEndpoint *ep, QIOChannelSocket *client)
{
    g_autoptr(GSocketAddress) peer = NULL;
    g_autofree char *why = NULL;
    g_autofree char *text = NULL;

    if (!ep->addr->o.range && ep->addr->o.sourceport < 0 &&
        !ep->addr->o.lowport) {
        return TRUE;
    }
    peer = qio_channel_socket_get_remote_address(client, NULL);
    why = peer_refusal(ep, peer);
    if (!why) {
        return TRUE;
    }
    text = peer ? qio_socket_address_to_string(peer) : g_strdup("?");
    qioc_error("refused %s: %s", text, why);
    return FALSE;
}

gboolean qioc_endpoint_sender_allowed(const QiocEndpoint *ep,
                                      GSocketAddress *from)
{
    g_autofree char *why = peer_refusal(ep, from);
    g_autofree char *text = NULL;

    if (!why) {
        return TRUE;
    }
    if (qioc_log_get_level() >= 1) {
        text = from ? qio_socket_address_to_string(from) : g_strdup("?");
        qioc_log_address(1, ep->addr->index, ep->addr->text,
                         "dropped a datagram from %s: %s", text, why);
    }
    return FALSE;
}

gboolean qioc_endpoint_accept_client(QiocEndpoint *ep, QIOChannelSocket *client)
{
    g_autoptr(GError) err = NULL;

    if (!client_allowed(ep, client)) {
        return FALSE;
    }
    qioc_endpoint_log_client(ep, client);
    if (!qioc_sockopt_apply_socket(ep, client, QIOC_SOCKOPT_ACCEPTED, &err)) {
        qioc_endpoint_error(ep, err);
        return FALSE;
    }
    if (ep->desc->accepted) {
        ep->desc->accepted(ep, client);
    }
    return TRUE;
}

/* ---------------------------------------------------------------- -d, -dd */

static char *socket_text(GSocketAddress *sa)
{
    return sa ? qio_socket_address_to_string(sa) : g_strdup("?");
}

/* A unix client has no useful address: who it is, "pid 1234 uid 1000". */
static char *unix_peer_text(QIOChannelSocket *client)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(qio_channel_socket_get_fd(client), SOL_SOCKET, SO_PEERCRED,
                   &cred, &len) < 0) {
        return g_strdup("?");
    }
    return g_strdup_printf("pid %d uid %u", (int)cred.pid, cred.uid);
}

void qioc_endpoint_log_client(const QiocEndpoint *ep, QIOChannelSocket *client)
{
    g_autoptr(GSocketAddress) peer = NULL;
    g_autofree char *text = NULL;

    if (qioc_log_get_level() < 1) {
        return;
    }
    peer = qio_channel_socket_get_remote_address(client, NULL);
    text = G_IS_UNIX_SOCKET_ADDRESS(peer) ? unix_peer_text(client)
                                          : socket_text(peer);
    qioc_log_address(1, ep->addr->index, ep->addr->text, "client %s", text);
}

static char *socket_ends(QIOChannelSocket *sioc)
{
    g_autoptr(GSocketAddress) local =
        qio_channel_socket_get_local_address(sioc, NULL);
    g_autoptr(GSocketAddress) peer =
        qio_channel_socket_get_remote_address(sioc, NULL);
    g_autofree char *l = socket_text(local);
    g_autofree char *p = socket_text(peer);

    return g_strdup_printf("socket %d, local %s, peer %s",
                           qio_channel_socket_get_fd(sioc), l, p);
}

/* What a descriptor is: a path, socket:[...], pipe:[...], /dev/pts/N. */
static char *fd_text(int fd)
{
    g_autofree char *link = g_strdup_printf("/proc/self/fd/%d", fd);
    g_autofree char *what = g_file_read_link(link, NULL);

    return g_strdup_printf("%d (%s)", fd, what ? what : "?");
}

static char *file_fds(QIOChannelFile *fioc)
{
    int rfd = qio_channel_file_get_read_fd(fioc);
    int wfd = qio_channel_file_get_write_fd(fioc);
    g_autofree char *r = NULL;
    g_autofree char *w = NULL;

    if (rfd < 0 || wfd < 0 || rfd == wfd) {
        r = fd_text(rfd >= 0 ? rfd : wfd);
        return g_strdup_printf("descriptor %s", r);
    }
    r = fd_text(rfd);
    w = fd_text(wfd);
    return g_strdup_printf("descriptors %s for reading, %s for writing", r, w);
}

void qioc_endpoint_log_channel(const QiocEndpoint *ep, QIOChannel *ioc)
{
    g_autofree char *what = NULL;

    if (qioc_log_get_level() < 2) {
        return;
    }
    if (QIO_IS_CHANNEL_TLS(ioc)) {
        ioc = qio_channel_tls_get_master(QIO_CHANNEL_TLS(ioc));
    }
    if (QIO_IS_CHANNEL_SOCKET(ioc)) {
        what = socket_ends(QIO_CHANNEL_SOCKET(ioc));
    } else if (QIO_IS_CHANNEL_FILE(ioc)) {
        what = file_fds(QIO_CHANNEL_FILE(ioc));
    } else {
        return;
    }
    qioc_log_address(2, ep->addr->index, ep->addr->text, "%s", what);
}
