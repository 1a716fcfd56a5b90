/*
 * qioc - proxy handshakes over a channel, both sides
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Why not GIO's GProxy: it implements the SOCKS4A, SOCKS5 and HTTP CONNECT
 * clients, but over a GIOStream, where qioc's layers run over any
 * QIOChannel (a child's pipes, a TLS session, a unix socket); it has no
 * server side; and its errors carry neither the SOCKS reply code nor the
 * HTTP status line a user needs to see. So the messages are built and
 * parsed in src/proxy-proto.c, and driven here: one coroutine per
 * handshake, each step a write of one message or a read of exactly one,
 * run as a QIOTask whose completion hands the channel on.
 */
#include "config.h"

#include <string.h>

#include "context.h"
#include "log.h"
#include "proxy.h"

#define PENDING_KEY "qioc-proxy-pending"

typedef struct QiocProxyCall QiocProxyCall;

/* A handshake: the steps, in order, in the call's coroutine. */
typedef gboolean coroutine_fn QiocProxyRun(QiocProxyCall *call, GError **errp);

/* A parser of proxy-proto.h, fed the call for its out parameters. */
typedef gssize QiocProxyParse(QiocProxyCall *call, const guint8 *buf, gsize len,
                              GError **errp);

struct QiocProxyCall {
    QIOChannel *ioc;
    const char *peer; /* "the SOCKS5 proxy", "the client": for messages */
    const QiocAddress *addr;
    QiocProxyRun *run;
    GByteArray *buf;
    GCancellable *cancel;
    QIOCoroutine *co;
    guint timer;
    double timeout;
    gboolean late;
    guint conn;
    QiocOpenDone *done;
    QiocProxyAnswered *answered;
    gpointer data;
    /* as a client */
    QiocProxyClientConfig client;
    guint8 method;
    /* as the proxy */
    QiocProxyServerConfig server;
    QiocProxyRequest req;
    gboolean offers_none;
    gboolean offers_password;
    guint8 rep;
    guint status;
    /* an answer */
    GError *answer_err;
    GSocketAddress *bound;
    /* a lookup, while the coroutine waits for it */
    GList *found;
    GError *found_err;
};

static void call_free(gpointer data)
{
    QiocProxyCall *call = data;

    g_clear_handle_id(&call->timer, qioc_source_remove);
    g_clear_object(&call->ioc);
    g_byte_array_unref(call->buf);
    g_object_unref(call->cancel);
    qioc_proxy_request_clear(&call->req);
    g_clear_error(&call->answer_err);
    g_clear_object(&call->bound);
    g_free(call);
}

static QiocProxyCall *call_new(QIOChannel *ioc, const char *peer,
                               const QiocAddress *addr, QiocProxyRun *run,
                               double timeout, gpointer data)
{
    QiocProxyCall *call = g_new0(QiocProxyCall, 1);

    call->ioc = ioc;
    call->peer = peer;
    call->addr = addr;
    call->run = run;
    call->buf = g_byte_array_new();
    call->cancel = g_cancellable_new();
    call->timeout = timeout;
    call->conn = qioc_log_conn();
    call->data = data;
    return call;
}

/* -d and -dd lines of the connection the call belongs to. */
static void call_log(QiocProxyCall *call, int level, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void call_log(QiocProxyCall *call, int level, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;
    guint prev;

    if (qioc_log_get_level() < level) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    prev = qioc_log_conn_enter(call->conn);
    qioc_log_address(level, call->addr->index, call->addr->text, "%s", msg);
    qioc_log_conn_leave(prev);
}

/* ---------------------------------------------------------------- I/O */

/*
 * The timeout cuts the channel off, so that a read or write waiting on
 * it fails at once, and cancels a lookup in progress.
 */
static gboolean call_late(gpointer data)
{
    QiocProxyCall *call = data;

    call->timer = 0;
    call->late = TRUE;
    g_cancellable_cancel(call->cancel);
    qio_channel_shutdown(call->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    qio_channel_wake_read(call->ioc);
    return G_SOURCE_REMOVE;
}

/* Exactly @n bytes into @p, yielding while none are there. */
static gboolean coroutine_fn read_exact(QiocProxyCall *call, guint8 *p, gsize n,
                                        GError **errp)
{
    while (n > 0 && !call->late) {
        ssize_t r = qio_channel_read(call->ioc, (char *)p, n, errp);

        if (r == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_yield(call->ioc, G_IO_IN);
            continue;
        }
        if (r < 0) {
            return FALSE;
        }
        if (r == 0) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                        "%s closed the connection during the handshake",
                        call->peer);
            return FALSE;
        }
        p += r;
        n -= r;
    }
    if (call->late) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "late");
        return FALSE;
    }
    return TRUE;
}

static gboolean coroutine_fn write_msg(QiocProxyCall *call, const void *msg,
                                       gsize len, GError **errp)
{
    return qio_channel_write_all(call->ioc, msg, len, errp) == 0;
}

static gboolean coroutine_fn write_buf(QiocProxyCall *call, GError **errp)
{
    return write_msg(call, call->buf->data, call->buf->len, errp);
}

/*
 * One message, read as its parser asks: never a byte past its end. With
 * @keep, the bytes already in the buffer are its beginning.
 */
static gboolean coroutine_fn read_msg(QiocProxyCall *call,
                                      QiocProxyParse *parse, gboolean keep,
                                      GError **errp)
{
    if (!keep) {
        g_byte_array_set_size(call->buf, 0);
    }
    for (;;) {
        gsize have = call->buf->len;
        gssize need = parse(call, call->buf->data, have, errp);

        if (need < 0) {
            return FALSE;
        }
        if ((gsize)need == have) {
            return TRUE;
        }
        g_return_val_if_fail((gsize)need > have &&
                                 (gsize)need <= 2 * QIOC_HTTP_HEADER_MAX,
                             FALSE);
        g_byte_array_set_size(call->buf, need);
        if (!read_exact(call, call->buf->data + have, need - have, errp)) {
            return FALSE;
        }
    }
}

static void lookup_done(GObject *source, GAsyncResult *res, gpointer data)
{
    QiocProxyCall *call = data;

    call->found = g_resolver_lookup_by_name_with_flags_finish(
        G_RESOLVER(source), res, &call->found_err);
    qio_coroutine_enter(call->co);
}

static GResolverNameLookupFlags lookup_flags(int family)
{
    return family == AF_INET    ? G_RESOLVER_NAME_LOOKUP_FLAGS_IPV4_ONLY
           : family == AF_INET6 ? G_RESOLVER_NAME_LOOKUP_FLAGS_IPV6_ONLY
                                : G_RESOLVER_NAME_LOOKUP_FLAGS_DEFAULT;
}

/* Every address of @host (a literal is its own), without blocking. */
static GList *coroutine_fn lookup(QiocProxyCall *call, const char *host,
                                  int family, GError **errp)
{
    g_autoptr(GResolver) resolver = NULL;
    GInetAddress *literal = g_inet_address_new_from_string(host);
    GList *found;

    if (literal) {
        return g_list_prepend(NULL, literal);
    }
    resolver = g_resolver_get_default();
    call->co = qio_coroutine_self();
    g_resolver_lookup_by_name_with_flags_async(
        resolver, host, lookup_flags(family), call->cancel, lookup_done, call);
    qio_coroutine_yield();
    found = g_steal_pointer(&call->found);
    if (!found) {
        g_propagate_prefixed_error(errp, g_steal_pointer(&call->found_err),
                                   "%s: ", host);
    }
    return found;
}

/* ---------------------------------------------------------------- task */

static void call_task_done(QIOTask *task, gpointer data)
{
    QiocProxyCall *call = data;
    guint prev = qioc_log_conn_enter(call->conn);
    GError *err = NULL;

    if (qio_task_propagate_error(task, &err)) {
        if (call->answered) {
            call->answered(err, call->data);
        } else {
            qio_channel_close(call->ioc, NULL);
            call->done(NULL, err, call->data);
        }
    } else if (call->answered) {
        call->answered(NULL, call->data);
    } else {
        call->done(g_steal_pointer(&call->ioc), NULL, call->data);
    }
    qioc_log_conn_leave(prev);
}

static void coroutine_fn call_entry(void *opaque)
{
    QIOTask *task = opaque;
    QiocProxyCall *call = qio_task_get_result_pointer(task);
    GError *err = NULL;

    if (!call->run(call, &err) && call->late) {
        g_clear_error(&err);
        err = g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                          "%s did not finish the handshake within %g s",
                          call->peer, call->timeout);
    }
    g_clear_handle_id(&call->timer, qioc_source_remove);
    if (err) {
        qio_task_set_error(task, err);
    }
    qio_task_complete(task);
}

/* Run @call in a coroutine of its own, as a task on its channel. */
static void call_start(QiocProxyCall *call)
{
    QIOTask *task =
        qio_task_new(G_OBJECT(call->ioc), call_task_done, call, call_free);

    qio_task_set_result_pointer(task, call, NULL);
    qio_channel_set_blocking(call->ioc, false, NULL);
    if (call->timeout > 0) {
        call->timer =
            qioc_timeout_add((guint)(call->timeout * 1000), call_late, call);
    }
    qio_coroutine_enter(qio_coroutine_create(call_entry, task));
}

/* ---------------------------------------------------------------- client */

static gssize parse_socks4_reply(QiocProxyCall *call, const guint8 *buf,
                                 gsize len, GError **errp)
{
    return qioc_socks4_reply_parse(buf, len, errp);
}

static gssize parse_socks5_method(QiocProxyCall *call, const guint8 *buf,
                                  gsize len, GError **errp)
{
    return qioc_socks5_method_parse(buf, len, call->client.pass != NULL,
                                    &call->method, errp);
}

static gssize parse_socks5_auth(QiocProxyCall *call, const guint8 *buf,
                                gsize len, GError **errp)
{
    return qioc_socks5_auth_parse(buf, len, errp);
}

static gssize parse_socks5_reply(QiocProxyCall *call, const guint8 *buf,
                                 gsize len, GError **errp)
{
    return qioc_socks5_reply_parse(buf, len, errp);
}

static gssize parse_http_response(QiocProxyCall *call, const guint8 *buf,
                                  gsize len, GError **errp)
{
    return qioc_http_connect_response_parse(buf, len, errp);
}

/* @host as an address of @family, for a proxy that wants one. */
static char *coroutine_fn resolve_one(QiocProxyCall *call, const char *host,
                                      int family, GError **errp)
{
    GList *found = lookup(call, host, family, errp);
    char *text = found ? g_inet_address_to_string(found->data) : NULL;

    g_resolver_free_addresses(found);
    return text;
}

static gboolean coroutine_fn socks4_client(QiocProxyCall *call, GError **errp)
{
    const QiocProxyClientConfig *c = &call->client;
    gboolean socks4a = c->proto == QIOC_PROXY_SOCKS4A;
    g_autofree char *host =
        socks4a ? g_strdup(c->host) : resolve_one(call, c->host, AF_INET, errp);

    return host &&
           qioc_socks4_request(call->buf, host, c->port, c->user ? c->user : "",
                               socks4a, errp) &&
           write_buf(call, errp) &&
           read_msg(call, parse_socks4_reply, FALSE, errp);
}

static gboolean coroutine_fn socks5_login(QiocProxyCall *call, GError **errp)
{
    const QiocProxyClientConfig *c = &call->client;

    g_byte_array_set_size(call->buf, 0);
    return qioc_socks5_auth_request(call->buf, c->user ? c->user : "", c->pass,
                                    errp) &&
           write_buf(call, errp) &&
           read_msg(call, parse_socks5_auth, FALSE, errp);
}

static gboolean coroutine_fn socks5_client(QiocProxyCall *call, GError **errp)
{
    const QiocProxyClientConfig *c = &call->client;

    qioc_socks5_greeting(call->buf, c->pass != NULL);
    if (!write_buf(call, errp) ||
        !read_msg(call, parse_socks5_method, FALSE, errp)) {
        return FALSE;
    }
    if (call->method == 2 && !socks5_login(call, errp)) {
        return FALSE;
    }
    g_byte_array_set_size(call->buf, 0);
    return qioc_socks5_connect_request(call->buf, c->host, c->port, errp) &&
           write_buf(call, errp) &&
           read_msg(call, parse_socks5_reply, FALSE, errp);
}

static gboolean coroutine_fn http_client(QiocProxyCall *call, GError **errp)
{
    const QiocProxyClientConfig *c = &call->client;
    /* as socat: an IPv4 address, unless -6 or pf=ip6 say otherwise */
    int family = c->family == AF_INET6 ? AF_INET6 : AF_INET;
    g_autofree char *host = c->resolve
                                ? resolve_one(call, c->host, family, errp)
                                : g_strdup(c->host);
    g_autofree char *request = NULL;

    if (!host) {
        return FALSE;
    }
    request = qioc_http_connect_request(host, c->port, c->user);
    return write_msg(call, request, strlen(request), errp) &&
           read_msg(call, parse_http_response, FALSE, errp);
}

static const struct {
    QiocProxyRun *run;
    const char *name;
    const char *peer;
} client_protos[] = {
    [QIOC_PROXY_SOCKS4] = {socks4_client, "SOCKS4", "the SOCKS4 proxy"},
    [QIOC_PROXY_SOCKS4A] = {socks4_client, "SOCKS4A", "the SOCKS4A proxy"},
    [QIOC_PROXY_SOCKS5] = {socks5_client, "SOCKS5", "the SOCKS5 proxy"},
    [QIOC_PROXY_HTTP] = {http_client, "HTTP CONNECT", "the HTTP proxy"},
};

void qioc_proxy_client_async(QIOChannel *ioc, const QiocProxyClientConfig *cfg,
                             QiocOpenDone *done, gpointer data)
{
    QiocProxyCall *call =
        call_new(ioc, client_protos[cfg->proto].peer, cfg->addr,
                 client_protos[cfg->proto].run, cfg->timeout, data);

    call->client = *cfg;
    call->done = done;
    call_log(call, 2, "%s: asking for %s port %u",
             client_protos[cfg->proto].name, cfg->host, cfg->port);
    call_start(call);
}

/* ---------------------------------------------------------------- server */

static gssize parse_socks4_request(QiocProxyCall *call, const guint8 *buf,
                                   gsize len, GError **errp)
{
    return qioc_socks4_request_parse(buf, len, &call->req, errp);
}

static gssize parse_socks5_greeting(QiocProxyCall *call, const guint8 *buf,
                                    gsize len, GError **errp)
{
    return qioc_socks5_greeting_parse(buf, len, &call->offers_none,
                                      &call->offers_password, errp);
}

static gssize parse_socks5_login(QiocProxyCall *call, const guint8 *buf,
                                 gsize len, GError **errp)
{
    return qioc_socks5_auth_request_parse(buf, len, &call->req, errp);
}

static gssize parse_socks5_request(QiocProxyCall *call, const guint8 *buf,
                                   gsize len, GError **errp)
{
    return qioc_socks5_request_parse(buf, len, &call->req, &call->rep, errp);
}

static gssize parse_http_request(QiocProxyCall *call, const guint8 *buf,
                                 gsize len, GError **errp)
{
    return qioc_http_connect_request_parse(buf, len, &call->req, &call->status,
                                           errp);
}

/* The same length whatever the bytes: no early exit on a mismatch. */
static gboolean secret_equal(const char *given, const char *expected)
{
    gsize n = strlen(expected);
    guint diff = strlen(given) != n;

    for (gsize i = 0; i < n; i++) {
        diff |= (guint8)given[MIN(i, strlen(given))] ^ (guint8)expected[i];
    }
    return diff == 0;
}

static gboolean credentials_ok(const QiocProxyCall *call)
{
    const QiocProxyServerConfig *s = &call->server;

    return call->req.user && call->req.pass &&
           secret_equal(call->req.user, s->user) &&
           secret_equal(call->req.pass, s->pass);
}

/* A failure answer, and @err for the caller (transfer full). */
static gboolean coroutine_fn refuse(QiocProxyCall *call, GError *err,
                                    GError **errp)
{
    /* best effort: the client may be gone already */
    if (call->buf->len > 0) {
        write_buf(call, NULL);
    }
    g_propagate_error(errp, err);
    return FALSE;
}

static gboolean coroutine_fn socks4_serve(QiocProxyCall *call, GError **errp)
{
    GError *err = NULL;

    if (!read_msg(call, parse_socks4_request, TRUE, &err)) {
        g_byte_array_set_size(call->buf, 0);
        qioc_socks4_reply(call->buf, FALSE);
        return refuse(call, err, errp);
    }
    g_byte_array_set_size(call->buf, 0);
    if (call->server.pass) {
        qioc_socks4_reply(call->buf, FALSE);
        return refuse(call,
                      g_error_new(G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                                  "a SOCKS4 client cannot give the password "
                                  "this proxy requires (sockspass=)"),
                      errp);
    }
    call->req.version = 4;
    return TRUE;
}

/* SOCKS5: the method qioc takes, and the login if it is a password. */
static gboolean coroutine_fn socks5_authenticate(QiocProxyCall *call,
                                                 GError **errp)
{
    gboolean password = call->server.pass != NULL;
    GError *err = NULL;

    g_byte_array_set_size(call->buf, 0);
    if (password ? !call->offers_password : !call->offers_none) {
        qioc_socks5_method_reply(call->buf, 0xff);
        return refuse(call,
                      g_error_new(G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                                  "the client offers no %s",
                                  password ? "username/password login"
                                           : "way in without a password"),
                      errp);
    }
    qioc_socks5_method_reply(call->buf, password ? 2 : 0);
    if (!write_buf(call, errp)) {
        return FALSE;
    }
    if (!password) {
        return TRUE;
    }
    if (!read_msg(call, parse_socks5_login, FALSE, errp)) {
        return FALSE;
    }
    g_byte_array_set_size(call->buf, 0);
    qioc_socks5_auth_reply(call->buf, credentials_ok(call));
    if (!credentials_ok(call)) {
        err = g_error_new(G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                          "wrong user name or password from the client "
                          "(user \"%s\")",
                          call->req.user ? call->req.user : "");
        return refuse(call, err, errp);
    }
    return write_buf(call, errp);
}

static gboolean coroutine_fn socks5_serve(QiocProxyCall *call, GError **errp)
{
    GError *err = NULL;

    if (!read_msg(call, parse_socks5_greeting, TRUE, errp) ||
        !socks5_authenticate(call, errp)) {
        return FALSE;
    }
    call->rep = 1;
    if (!read_msg(call, parse_socks5_request, FALSE, &err)) {
        g_byte_array_set_size(call->buf, 0);
        qioc_socks5_reply(call->buf, call->rep, NULL);
        return refuse(call, err, errp);
    }
    g_byte_array_set_size(call->buf, 0);
    call->req.version = 5;
    return TRUE;
}

static gboolean coroutine_fn http_serve(QiocProxyCall *call, GError **errp)
{
    GError *err = NULL;
    g_autofree char *reply = NULL;

    call->status = 400;
    if (read_msg(call, parse_http_request, TRUE, &err) &&
        (!call->server.pass || credentials_ok(call))) {
        g_byte_array_set_size(call->buf, 0);
        call->req.version = 1;
        return TRUE;
    }
    if (!err) {
        call->status = 407;
        err = g_error_new(G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                          "%s from the client (proxyauth=)",
                          call->req.user ? "wrong user name or password"
                                         : "no Proxy-Authorization");
    }
    reply = qioc_http_connect_reply(call->status);
    g_byte_array_set_size(call->buf, 0);
    g_byte_array_append(call->buf, (const guint8 *)reply, strlen(reply));
    return refuse(call, err, errp);
}

static gboolean port_allowed(const QiocProxyServerConfig *s, guint16 port)
{
    for (guint i = 0; s->ports && i < s->ports->len; i++) {
        const QiocPortRange *r = &g_array_index(s->ports, QiocPortRange, i);

        if (port >= r->first && port <= r->last) {
            return TRUE;
        }
    }
    return s->ports == NULL;
}

/* A v4 address as a v4-mapped v6 one shows it is still v4 to a mask. */
static GInetAddress *unmapped(GInetAddress *ia)
{
    const guint8 *b = g_inet_address_to_bytes(ia);
    static const guint8 prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (g_inet_address_get_family(ia) == G_SOCKET_FAMILY_IPV6 &&
        memcmp(b, prefix, sizeof(prefix)) == 0) {
        return g_inet_address_new_from_bytes(b + 12, G_SOCKET_FAMILY_IPV4);
    }
    return g_object_ref(ia);
}

static gboolean address_allowed(const QiocProxyServerConfig *s,
                                GInetAddress *ia)
{
    g_autoptr(GInetAddress) plain = unmapped(ia);

    for (guint i = 0; i < s->allow->len; i++) {
        if (g_inet_address_mask_matches(s->allow->pdata[i], plain)) {
            return TRUE;
        }
    }
    return FALSE;
}

static char *target_text(const QiocProxyRequest *req)
{
    return strchr(req->host, ':')
               ? g_strdup_printf("[%s]:%u", req->host, req->port)
               : g_strdup_printf("%s:%u", req->host, req->port);
}

/* The failure answer of the client's protocol, for @err. */
static void failure_answer(QiocProxyCall *call, int version, const GError *err)
{
    g_autofree char *reply = NULL;

    g_byte_array_set_size(call->buf, 0);
    if (version == 4) {
        qioc_socks4_reply(call->buf, FALSE);
    } else if (version == 5) {
        qioc_socks5_reply(call->buf, qioc_socks5_rep_of_error(err), NULL);
    } else {
        reply = qioc_http_connect_reply(qioc_http_status_of_error(err));
        g_byte_array_append(call->buf, (const guint8 *)reply, strlen(reply));
    }
}

/*
 * The target the client asked for, resolved and checked against allow=
 * and allow-port=: the addresses it may go to, or an error (answered).
 */
static gboolean coroutine_fn check_target(QiocProxyCall *call,
                                          QiocProxyPending *pending,
                                          GError **errp)
{
    const QiocProxyServerConfig *s = &call->server;
    GError *err = NULL;
    GList *found = port_allowed(s, call->req.port)
                       ? lookup(call, call->req.host, s->family, &err)
                       : NULL;

    for (GList *l = found; l; l = l->next) {
        if (address_allowed(s, l->data)) {
            g_ptr_array_add(pending->addrs,
                            g_inet_socket_address_new(l->data, call->req.port));
        }
    }
    g_resolver_free_addresses(found);
    if (pending->addrs->len > 0) {
        return TRUE;
    }
    if (!err) {
        err = g_error_new(G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                          "refused %s: not in allow=%s%s%s", pending->target,
                          s->allow_text, s->ports ? " allow-port=" : "",
                          s->ports ? call->addr->o.allow_port : "");
    }
    failure_answer(call, pending->version, err);
    return refuse(call, err, errp);
}

static void pending_free(gpointer data)
{
    QiocProxyPending *pending = data;

    g_free(pending->target);
    g_ptr_array_unref(pending->addrs);
    g_free(pending);
}

static const char *const version_names[] = {
    [1] = "HTTP", [4] = "SOCKS4", [5] = "SOCKS5"};

static gboolean coroutine_fn server_run(QiocProxyCall *call, GError **errp)
{
    QiocProxyPending *pending;
    gboolean ok;

    if (call->server.http) {
        ok = http_serve(call, errp);
    } else if (!read_exact(call, g_byte_array_set_size(call->buf, 1)->data, 1,
                           errp)) {
        return FALSE;
    } else if (call->buf->data[0] == 4) {
        ok = socks4_serve(call, errp);
    } else if (call->buf->data[0] == 5) {
        ok = socks5_serve(call, errp);
    } else {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "not a SOCKS request (first byte 0x%02x)",
                    call->buf->data[0]);
        return FALSE;
    }
    if (!ok) {
        return FALSE;
    }
    pending = g_new0(QiocProxyPending, 1);
    pending->version = call->req.version;
    pending->target = target_text(&call->req);
    pending->addrs = g_ptr_array_new_with_free_func(g_object_unref);
    call_log(call, 1, "%s CONNECT %s%s%s", version_names[pending->version],
             pending->target, call->req.user ? " user " : "",
             call->req.user ? call->req.user : "");
    if (!check_target(call, pending, errp)) {
        pending_free(pending);
        return FALSE;
    }
    g_object_set_data_full(G_OBJECT(call->ioc), PENDING_KEY, pending,
                           pending_free);
    return TRUE;
}

void qioc_proxy_server_async(QIOChannel *ioc, const QiocProxyServerConfig *cfg,
                             QiocOpenDone *done, gpointer data)
{
    QiocProxyCall *call =
        call_new(ioc, "the client", cfg->addr, server_run, cfg->timeout, data);

    call->server = *cfg;
    call->done = done;
    call_start(call);
}

QiocProxyPending *qioc_proxy_pending(QIOChannel *ioc)
{
    return ioc ? g_object_get_data(G_OBJECT(ioc), PENDING_KEY) : NULL;
}

/* ---------------------------------------------------------------- answer */

static gboolean coroutine_fn answer_run(QiocProxyCall *call, GError **errp)
{
    QiocProxyPending *pending = qioc_proxy_pending(call->ioc);
    g_autofree char *reply = NULL;

    g_return_val_if_fail(pending != NULL, FALSE);
    if (call->answer_err) {
        failure_answer(call, pending->version, call->answer_err);
    } else if (pending->version == 4) {
        qioc_socks4_reply(call->buf, TRUE);
    } else if (pending->version == 5) {
        qioc_socks5_reply(call->buf, 0, call->bound);
    } else {
        reply = qioc_http_connect_reply(200);
        g_byte_array_append(call->buf, (const guint8 *)reply, strlen(reply));
    }
    g_object_set_data(G_OBJECT(call->ioc), PENDING_KEY, NULL);
    return write_buf(call, errp);
}

void qioc_proxy_answer_async(QIOChannel *ioc, const GError *err,
                             GSocketAddress *bound, QiocProxyAnswered *done,
                             gpointer data)
{
    QiocProxyCall *call =
        call_new(g_object_ref(ioc), "the client", NULL, answer_run, 0, data);

    call->answered = done;
    call->answer_err = err ? g_error_copy(err) : NULL;
    call->bound = bound ? g_object_ref(bound) : NULL;
    call_start(call);
}
