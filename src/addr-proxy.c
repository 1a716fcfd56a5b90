/*
 * qioc - proxies: SOCKS4, SOCKS4A, SOCKS5 and PROXY (HTTP CONNECT) as
 * clients, SOCKS-SERVER and PROXY-SERVER as the proxy, and DYNAMIC, which
 * connects where a proxy's client asked
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A client is written two ways. Alone, as socat writes it, it connects to
 * the proxy over TCP itself (SOCKS4:PROXY:HOST:PORT,socksport=1080), as
 * TLS:HOST:PORT does, and then asks; as a layer of a chain
 * (SOCKS5:HOST:PORT|TCP:PROXY:1080) it asks over whatever the address to
 * its right opened. The handshakes are src/proxy.c's.
 */
#include "config.h"

#include <string.h>

#include "addr-tcp.h"
#include "log.h"
#include "proxy.h"

/* ---------------------------------------------------------------- clients */

typedef struct {
    QiocTcpTarget *proxy; /* written alone: the proxy to connect to */
    QiocProxyClientConfig cfg;
    char *auth; /* PROXY: proxyauth= */
} QiocProxyClientState;

static void client_state_free(gpointer data)
{
    QiocProxyClientState *st = data;

    g_clear_pointer(&st->proxy, qioc_tcp_target_free);
    g_free(st->auth);
    g_free(st);
}

/* The transport of a chain: the endpoint at the bottom of the layers. */
static const QiocEndpoint *transport_of(const QiocEndpoint *ep)
{
    while (ep->below) {
        ep = ep->below;
    }
    return ep;
}

static QiocProxyProto client_proto(const QiocAddress *addr)
{
    switch (addr->type->kind) {
    case QIOC_ADDR_SOCKS4:
        return g_ascii_strcasecmp(addr->type->name, "SOCKS4A") == 0
                   ? QIOC_PROXY_SOCKS4A
                   : QIOC_PROXY_SOCKS4;
    case QIOC_ADDR_SOCKS5:
        return QIOC_PROXY_SOCKS5;
    default:
        return QIOC_PROXY_HTTP;
    }
}

/*
 * Written alone, PROXY:[PROXYPORT:]HOST:PORT connects to the proxy: its
 * port is the second parameter of four, else socksport= or proxyport=.
 */
static QiocTcpTarget *client_proxy_target(const QiocEndpoint *ep, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    g_autofree char *port = NULL;

    if (addr->nparams == 4) {
        port = g_strdup(addr->params[1]);
    } else {
        port = g_strdup_printf("%" G_GINT64_FORMAT,
                               addr->type->kind == QIOC_ADDR_HTTP_CONNECT
                                   ? addr->o.proxyport
                                   : addr->o.socksport);
    }
    return qioc_tcp_target_new_at(ep, addr->params[0], port, errp);
}

static gboolean client_prepare(QiocEndpoint *ep, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    QiocProxyClientState *st = g_new0(QiocProxyClientState, 1);
    QiocProxyClientConfig *cfg = &st->cfg;
    double timeout = transport_of(ep)->addr->o.connect_timeout;

    ep->state = st;
    if (!qioc_ip_parse_port(addr->params[addr->nparams - 1], &cfg->port,
                            errp)) {
        return FALSE;
    }
    if (!addr->type->layer && !(st->proxy = client_proxy_target(ep, errp))) {
        return FALSE;
    }
    cfg->proto = client_proto(addr);
    cfg->host = addr->params[addr->nparams - 2];
    cfg->user = addr->o.socksuser;
    cfg->pass = addr->o.sockspass;
    if (!cfg->user && cfg->proto != QIOC_PROXY_SOCKS5) {
        /* socat's SOCKS4 user id: who runs it */
        cfg->user =
            g_getenv("LOGNAME") ? g_getenv("LOGNAME") : g_getenv("USER");
    }
    if (cfg->proto == QIOC_PROXY_HTTP) {
        cfg->user = addr->o.proxyauth;
        cfg->pass = NULL;
    }
    cfg->family = ep->family;
    cfg->resolve = addr->o.resolve;
    cfg->timeout = MAX(timeout, 0);
    cfg->addr = addr;
    return TRUE;
}

static void client_connect(QiocEndpoint *ep, QIOChannel *peer,
                           QiocOpenDone *done, gpointer data)
{
    qioc_tcp_connect(ep, ((QiocProxyClientState *)ep->state)->proxy, done,
                     data);
}

static void client_wrap(QiocEndpoint *ep, QIOChannel *ioc, QiocOpenDone *done,
                        gpointer data)
{
    qioc_proxy_client_async(ioc, &((QiocProxyClientState *)ep->state)->cfg,
                            done, data);
}

/* A TLS layer over a proxy checks the target's name. */
static const char *client_host(const QiocEndpoint *ep)
{
    return ((QiocProxyClientState *)ep->state)->cfg.host;
}

static gboolean check_client_target(const QiocAddress *addr, GError **errp)
{
    const char *host = addr->params[addr->nparams - 2];

    /* a line break in it would end an HTTP request line early */
    for (const char *p = host; *p; p++) {
        if ((guchar)*p < 0x20 || *p == 0x7f) {
            qioc_address_fail(addr, errp, "bad host \"%s\": control characters",
                              host);
            return FALSE;
        }
    }
    return qioc_address_check_proxy_ports(addr, errp);
}

static gboolean check_socks_client(const QiocAddress *addr, GError **errp)
{
    if (addr->o.sockspass && !addr->o.socksuser) {
        qioc_address_fail(addr, errp, "sockspass= needs socksuser=");
        return FALSE;
    }
    if (addr->o.sockspass && addr->type->kind == QIOC_ADDR_SOCKS4) {
        qioc_address_fail(addr, errp,
                          "SOCKS4 has no password: use SOCKS5 for "
                          "sockspass=");
        return FALSE;
    }
    return check_client_target(addr, errp);
}

static gboolean check_proxyauth(const QiocAddress *addr, GError **errp)
{
    if (addr->o.proxyauth && !strchr(addr->o.proxyauth, ':')) {
        qioc_address_fail(addr, errp,
                          "bad value \"%s\" for proxyauth: expected "
                          "USER:PASS",
                          addr->o.proxyauth);
        return FALSE;
    }
    return TRUE;
}

static gboolean check_http_client(const QiocAddress *addr, GError **errp)
{
    return check_proxyauth(addr, errp) && check_client_target(addr, errp);
}

#define SOCKS_ALONE (QIOC_T_TCONN | QIOC_OPTGRP_SOCKS | QIOC_OPTGRP_SOCKSPORT)
#define HTTP_ALONE                                                             \
    (QIOC_T_TCONN | QIOC_OPTGRP_HTTPPROXY | QIOC_OPTGRP_PROXYPORT |            \
     QIOC_OPTGRP_HTTPCLIENT)
#define HTTP_LAYER (QIOC_OPTGRP_HTTPPROXY | QIOC_OPTGRP_HTTPCLIENT)

static const QiocAddrType socks4_types[] = {
    {"SOCKS4", NULL, QIOC_ADDR_SOCKS4, AF_UNSPEC, 3, 4, SOCKS_ALONE,
     "PROXY:[PROXYPORT:]HOST:PORT",
     "connect to HOST:PORT through the SOCKS4 proxy PROXY (qioc resolves "
     "HOST)"},
    {"SOCKS4A", NULL, QIOC_ADDR_SOCKS4, AF_UNSPEC, 3, 4, SOCKS_ALONE,
     "PROXY:[PROXYPORT:]HOST:PORT",
     "connect to HOST:PORT through the SOCKS4A proxy PROXY, which resolves "
     "HOST"},
    {"SOCKS4", NULL, QIOC_ADDR_SOCKS4, AF_UNSPEC, 2, 2, QIOC_OPTGRP_SOCKS,
     "HOST:PORT",
     "ask the SOCKS4 proxy the address to its right reaches for HOST:PORT",
     TRUE},
    {"SOCKS4A", NULL, QIOC_ADDR_SOCKS4, AF_UNSPEC, 2, 2, QIOC_OPTGRP_SOCKS,
     "HOST:PORT",
     "ask the SOCKS4A proxy the address to its right reaches for HOST:PORT",
     TRUE},
};

static const QiocAddrType socks5_types[] = {
    {"SOCKS5", QIOC_NAMES("SOCKS5-CONNECT"), QIOC_ADDR_SOCKS5, AF_UNSPEC, 3, 4,
     SOCKS_ALONE, "PROXY:[PROXYPORT:]HOST:PORT",
     "connect to HOST:PORT through the SOCKS5 proxy PROXY (socksuser=, "
     "sockspass=)"},
    {"SOCKS5", QIOC_NAMES("SOCKS5-CONNECT"), QIOC_ADDR_SOCKS5, AF_UNSPEC, 2, 2,
     QIOC_OPTGRP_SOCKS, "HOST:PORT",
     "ask the SOCKS5 proxy the address to its right reaches for HOST:PORT",
     TRUE},
};

static const QiocAddrType http_connect_types[] = {
    {"PROXY", QIOC_NAMES("PROXY-CONNECT", "HTTP-CONNECT"),
     QIOC_ADDR_HTTP_CONNECT, AF_UNSPEC, 3, 4, HTTP_ALONE,
     "PROXY:[PROXYPORT:]HOST:PORT",
     "connect to HOST:PORT through the HTTP proxy PROXY (CONNECT)"},
    {"PROXY", QIOC_NAMES("PROXY-CONNECT", "HTTP-CONNECT"),
     QIOC_ADDR_HTTP_CONNECT, AF_UNSPEC, 2, 2, HTTP_LAYER, "HOST:PORT",
     "ask the HTTP proxy the address to its right reaches to CONNECT to "
     "HOST:PORT",
     TRUE},
};

const QiocAddrDesc qioc_addr_socks4 = {.kind = QIOC_ADDR_SOCKS4,
                                       QIOC_ADDR_TYPES(socks4_types),
                                       .check = check_socks_client,
                                       .prepare = client_prepare,
                                       .free_state = client_state_free,
                                       .connect = client_connect,
                                       .wrap = client_wrap,
                                       .host = client_host};

const QiocAddrDesc qioc_addr_socks5 = {.kind = QIOC_ADDR_SOCKS5,
                                       QIOC_ADDR_TYPES(socks5_types),
                                       .check = check_socks_client,
                                       .prepare = client_prepare,
                                       .free_state = client_state_free,
                                       .connect = client_connect,
                                       .wrap = client_wrap,
                                       .host = client_host};

const QiocAddrDesc qioc_addr_http_connect = {
    .kind = QIOC_ADDR_HTTP_CONNECT,
    QIOC_ADDR_TYPES(http_connect_types),
    .check = check_http_client,
    .prepare = client_prepare,
    .free_state = client_state_free,
    .connect = client_connect,
    .wrap = client_wrap,
    .host = client_host};

/* ---------------------------------------------------------------- servers */

typedef struct {
    QiocProxyServerConfig cfg;
    GPtrArray *allow; /* GInetAddressMask */
    GArray *ports;    /* QiocPortRange, or NULL */
    char *user;       /* PROXY-SERVER: proxyauth='s halves */
    char *pass;
} QiocProxyServerState;

static void server_state_free(gpointer data)
{
    QiocProxyServerState *st = data;

    g_clear_pointer(&st->allow, g_ptr_array_unref);
    g_clear_pointer(&st->ports, g_array_unref);
    g_free(st->user);
    g_free(st->pass);
    g_free(st);
}

/* One PORT or FIRST-LAST of allow-port=. */
static gboolean port_range_parse(const char *text, QiocPortRange *r)
{
    g_auto(GStrv) ends = g_strsplit(text, "-", 3);
    guint64 first, last;

    if (!ends[0] || (ends[1] && ends[2]) ||
        !g_ascii_string_to_unsigned(ends[0], 10, 1, 65535, &first, NULL) ||
        !g_ascii_string_to_unsigned(ends[1] ? ends[1] : ends[0], 10, first,
                                    65535, &last, NULL)) {
        return FALSE;
    }
    r->first = (guint16)first;
    r->last = (guint16)last;
    return TRUE;
}

/* allow-port='s ranges, or NULL with *@bad the first word that is none. */
static GArray *port_ranges(const char *text, char **bad)
{
    g_auto(GStrv) words = g_strsplit(text, ";", -1);
    g_autoptr(GArray) ranges = g_array_new(FALSE, FALSE, sizeof(QiocPortRange));

    for (char **w = words; *w; w++) {
        QiocPortRange r;

        if (!port_range_parse(g_strstrip(*w), &r)) {
            *bad = g_strdup(*w);
            return NULL;
        }
        g_array_append_val(ranges, r);
    }
    return g_steal_pointer(&ranges);
}

static gboolean check_server(const QiocAddress *addr, GError **errp)
{
    g_autofree char *bad = NULL;
    g_autoptr(GArray) ranges = NULL;

    if (addr->o.allow_port &&
        !(ranges = port_ranges(addr->o.allow_port, &bad))) {
        qioc_address_fail(addr, errp,
                          "bad value \"%s\" for allow-port: expected "
                          "PORT[-PORT][;PORT[-PORT]]... (1 to 65535)",
                          addr->o.allow_port);
        return FALSE;
    }
    if (!addr->o.socksuser != !addr->o.sockspass) {
        qioc_address_fail(addr, errp,
                          "socksuser= and sockspass= go together: a client "
                          "must give both");
        return FALSE;
    }
    return check_proxyauth(addr, errp);
}

static gboolean server_prepare(QiocEndpoint *ep, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    QiocProxyServerState *st = g_new0(QiocProxyServerState, 1);
    QiocProxyServerConfig *cfg = &st->cfg;
    g_autofree char *bad = NULL;

    ep->state = st;
    /* allow=, with its host names resolved once, as range= is */
    if (!(st->allow = qioc_networks_resolve(addr->o.allow, "allow", errp))) {
        return FALSE;
    }
    if (addr->o.allow_port) {
        st->ports = port_ranges(addr->o.allow_port, &bad);
    }
    cfg->http = addr->type->kind == QIOC_ADDR_PROXY_SERVER;
    if (cfg->http && addr->o.proxyauth) {
        const char *colon = strchr(addr->o.proxyauth, ':');

        st->user = g_strndup(addr->o.proxyauth, colon - addr->o.proxyauth);
        st->pass = g_strdup(colon + 1);
    } else if (!cfg->http) {
        st->user = g_strdup(addr->o.socksuser);
        st->pass = g_strdup(addr->o.sockspass);
    }
    cfg->user = st->user;
    cfg->pass = st->pass;
    cfg->allow = st->allow;
    cfg->allow_text = addr->o.allow->text;
    cfg->ports = st->ports;
    cfg->family = ep->family;
    cfg->timeout = MAX(addr->o.handshake_timeout, 0);
    cfg->addr = addr;
    return TRUE;
}

static void server_wrap(QiocEndpoint *ep, QIOChannel *ioc, QiocOpenDone *done,
                        gpointer data)
{
    qioc_proxy_server_async(ioc, &((QiocProxyServerState *)ep->state)->cfg,
                            done, data);
}

static const QiocAddrType socks_server_types[] = {
    {"SOCKS-SERVER", QIOC_NAMES("SOCKS5-SERVER", "SOCKS4-SERVER"),
     QIOC_ADDR_SOCKS_SERVER, AF_UNSPEC, 0, 0,
     QIOC_OPTGRP_SOCKS | QIOC_OPTGRP_PROXYSERVER, "",
     "be a SOCKS4, SOCKS4A and SOCKS5 proxy to the clients of the address to "
     "its right; the other address is DYNAMIC",
     TRUE},
};

static const QiocAddrType proxy_server_types[] = {
    {"PROXY-SERVER", QIOC_NAMES("HTTP-PROXY", "HTTP-PROXY-SERVER"),
     QIOC_ADDR_PROXY_SERVER, AF_UNSPEC, 0, 0,
     QIOC_OPTGRP_HTTPPROXY | QIOC_OPTGRP_PROXYSERVER, "",
     "be an HTTP CONNECT proxy to the clients of the address to its right; "
     "the other address is DYNAMIC",
     TRUE},
};

const QiocAddrDesc qioc_addr_socks_server = {
    .kind = QIOC_ADDR_SOCKS_SERVER,
    QIOC_ADDR_TYPES(socks_server_types),
    .check = check_server,
    .flags = QIOC_ADDR_NAMES_TARGET,
    .prepare = server_prepare,
    .free_state = server_state_free,
    .wrap = server_wrap};

const QiocAddrDesc qioc_addr_proxy_server = {
    .kind = QIOC_ADDR_PROXY_SERVER,
    QIOC_ADDR_TYPES(proxy_server_types),
    .check = check_server,
    .flags = QIOC_ADDR_NAMES_TARGET,
    .prepare = server_prepare,
    .free_state = server_state_free,
    .wrap = server_wrap};

/* ---------------------------------------------------------------- DYNAMIC */

typedef struct {
    QiocEndpoint *ep;
    QIOChannel *client; /* the proxy's client, waiting for the answer */
    guint next;         /* the next of the allowed addresses to try */
    QIOChannel *ioc;    /* connected */
    GError *err;        /* or why not */
    QiocOpenDone *done;
    gpointer data;
    guint conn; /* the connection its lines are about (with `fork`) */
} QiocDynamicCall;

static void dynamic_try(QiocDynamicCall *d);

static void dynamic_end(QiocDynamicCall *d, QIOChannel *ioc, GError *err)
{
    QiocDynamicCall call = *d;

    g_object_unref(call.client);
    g_free(d);
    call.done(ioc, err, call.data);
}

static void dynamic_answered(GError *err, gpointer data)
{
    QiocDynamicCall *d = data;
    QIOChannel *ioc = g_steal_pointer(&d->ioc);

    if (!ioc) {
        /* the client was told; the connect's own error is what counts */
        g_clear_error(&err);
        dynamic_end(d, NULL, g_steal_pointer(&d->err));
        return;
    }
    if (err) {
        qio_channel_close(ioc, NULL);
        g_clear_object(&ioc);
        g_prefix_error(&err, "answering the client: ");
    }
    dynamic_end(d, ioc, err);
}

static void dynamic_connected_in(QiocDynamicCall *d, QIOChannel *ioc,
                                 GError *err);

static void dynamic_connected(QIOChannel *ioc, GError *err, gpointer data)
{
    QiocDynamicCall *d = data;
    guint prev = qioc_log_conn_enter(d->conn);

    dynamic_connected_in(d, ioc, err);
    qioc_log_conn_leave(prev);
}

static void dynamic_connected_in(QiocDynamicCall *d, QIOChannel *ioc,
                                 GError *err)
{
    QiocProxyPending *pending = qioc_proxy_pending(d->client);
    g_autoptr(GSocketAddress) bound = NULL;

    if (!ioc && d->next < pending->addrs->len) {
        qioc_log_address(1, d->ep->addr->index, d->ep->addr->text,
                         "%s: %s; trying its next address", pending->target,
                         err->message);
        g_error_free(err);
        dynamic_try(d);
        return;
    }
    if (!ioc) {
        g_prefix_error(&err, "%s: ", pending->target);
        d->err = err;
        qioc_proxy_answer_async(d->client, err, NULL, dynamic_answered, d);
        return;
    }
    d->ioc = ioc;
    bound = qio_channel_socket_get_local_address(QIO_CHANNEL_SOCKET(ioc), NULL);
    qioc_log_address(1, d->ep->addr->index, d->ep->addr->text,
                     "connected to %s", pending->target);
    qioc_proxy_answer_async(d->client, NULL, bound, dynamic_answered, d);
}

static void dynamic_try(QiocDynamicCall *d)
{
    QiocProxyPending *pending = qioc_proxy_pending(d->client);

    qioc_tcp_connect_to(d->ep, d->ep->state, pending->addrs->pdata[d->next++],
                        dynamic_connected, d);
}

static void dynamic_connect(QiocEndpoint *ep, QIOChannel *peer,
                            QiocOpenDone *done, gpointer data)
{
    QiocDynamicCall *d;

    if (!qioc_proxy_pending(peer)) {
        done(NULL,
             g_error_new(G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                         "no proxy client asked for a target"),
             data);
        return;
    }
    d = g_new0(QiocDynamicCall, 1);
    *d = (QiocDynamicCall){ep,   g_object_ref(peer), 0, NULL, NULL, done,
                           data, qioc_log_conn()};
    dynamic_try(d);
}

static gboolean dynamic_prepare(QiocEndpoint *ep, GError **errp)
{
    ep->state = qioc_tcp_target_new_at(ep, NULL, NULL, errp);
    return ep->state != NULL;
}

/* A retry would come after the client was told it failed. */
static gboolean check_dynamic(const QiocAddress *addr, GError **errp)
{
    if (addr->o.retry > 0 || addr->o.forever) {
        qioc_address_fail(addr, errp,
                          "DYNAMIC does not retry: the proxy's client is told "
                          "at once, and can ask again");
        return FALSE;
    }
    return TRUE;
}

static const QiocAddrType dynamic_types[] = {
    {"DYNAMIC", NULL, QIOC_ADDR_DYNAMIC, AF_UNSPEC, 0, 0,
     QIOC_T_TCONN & ~QIOC_OPTGRP_RECONNECT, "",
     "connect over TCP where the client of the other address's "
     "SOCKS-SERVER or PROXY-SERVER asks"},
};

const QiocAddrDesc qioc_addr_dynamic = {
    .kind = QIOC_ADDR_DYNAMIC,
    QIOC_ADDR_TYPES(dynamic_types),
    .check = check_dynamic,
    .flags = QIOC_ADDR_AFTER_PEER | QIOC_ADDR_NEEDS_TARGET,
    .prepare = dynamic_prepare,
    .free_state = (GDestroyNotify)qioc_tcp_target_free,
    .connect = dynamic_connect};
