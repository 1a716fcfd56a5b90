/*
 * qioc - TCP (connect) and TCP-LISTEN, IPv4 and IPv6
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <netdb.h>
#include <string.h>

#include "addr.h"

/* A port number or a service name from /etc/services. */
static gboolean parse_port(const char *text, guint16 *port, GError **errp)
{
    guint64 n;
    struct servent *se;

    if (g_ascii_string_to_unsigned(text, 10, 0, 65535, &n, NULL)) {
        *port = (guint16)n;
        return TRUE;
    }
    se = getservbyname(text, "tcp");
    if (!se) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "unknown port or service \"%s\"", text);
        return FALSE;
    }
    *port = ntohs((guint16)se->s_port);
    return TRUE;
}

/* Split "HOST[:PORT]", "[V6]:PORT" or a bare IPv6 literal. */
static void split_host_port(const char *text, char **host, char **port)
{
    const char *colon;

    if (text[0] == '[' && (colon = strstr(text, "]")) != NULL) {
        *host = g_strndup(text + 1, colon - text - 1);
        *port = colon[1] == ':' ? g_strdup(colon + 2) : NULL;
        return;
    }
    colon = strrchr(text, ':');
    if (!colon || strchr(text, ':') != colon) {
        *host = g_strdup(text);
        *port = NULL;
        return;
    }
    *host = g_strndup(text, colon - text);
    *port = g_strdup(colon + 1);
}

/* The first address @host resolves to, in @family if not AF_UNSPEC. */
static GInetAddress *lookup_one(const char *host, int family, GError **errp)
{
    g_autolist(GInetAddress) list = NULL;

    list = g_resolver_lookup_by_name(g_resolver_get_default(), host, NULL,
                                     errp);
    for (GList *l = list; l; l = l->next) {
        GSocketFamily f = g_inet_address_get_family(l->data);

        if (family == AF_UNSPEC || (int)f == family) {
            return g_object_ref(l->data);
        }
    }
    if (list) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "%s has no address of the requested family", host);
    }
    return NULL;
}

/*
 * resolve_one() looks a name up once: qioc_prepare_tcp() does it at
 * start-up, so a bind= host name never blocks the loop per connection.
 * Main thread only, like everything in qioc's loop.
 */
static GInetAddress *resolve_one(const char *host, int family, GError **errp)
{
    static GHashTable *resolved;
    g_autofree char *key = g_strdup_printf("%d %s", family, host);
    GInetAddress *ia = g_inet_address_new_from_string(host);

    if (ia) {
        return ia;
    }
    if (!resolved) {
        resolved = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         g_object_unref);
    }
    ia = g_hash_table_lookup(resolved, key);
    if (ia) {
        return g_object_ref(ia);
    }
    ia = lookup_one(host, family, errp);
    if (ia) {
        g_hash_table_insert(resolved, g_steal_pointer(&key),
                            g_object_ref(ia));
    }
    return ia;
}

/* bind= and sourceport= as a local address, or NULL when neither. */
static gboolean local_address(const QiocAddress *addr, int family,
                              GSocketAddress **out, GError **errp)
{
    const char *bind = qioc_address_get_string(addr, "bind");
    g_autofree char *host = NULL;
    g_autofree char *port = NULL;
    g_autoptr(GInetAddress) ia = NULL;
    guint16 portnum = 0;

    *out = NULL;
    if (bind) {
        split_host_port(bind, &host, &port);
    }
    if (qioc_address_has_opt(addr, "sourceport")) {
        g_free(port);
        port = g_strdup_printf(
            "%" G_GINT64_FORMAT,
            qioc_address_get_int(addr, "sourceport", 0));
    }
    if (!host && !port) {
        return TRUE;
    }
    if (port && !parse_port(port, &portnum, errp)) {
        return FALSE;
    }
    if (host && *host) {
        ia = resolve_one(host, family, errp);
    } else {
        ia = g_inet_address_new_any(family == AF_INET6 ? G_SOCKET_FAMILY_IPV6
                                                       : G_SOCKET_FAMILY_IPV4);
    }
    if (!ia) {
        g_prefix_error(errp, "bind=%s: ", bind ? bind : "");
        return FALSE;
    }
    *out = g_inet_socket_address_new(ia, portnum);
    return TRUE;
}

gboolean qioc_prepare_tcp(const QiocAddress *addr, const QiocOptions *opts,
                          GError **errp)
{
    g_autoptr(GSocketAddress) local = NULL;

    return local_address(addr, qioc_addr_family(addr, opts), &local, errp);
}

typedef struct {
    const QiocAddress *addr;
    QiocOpenDone *done;
    gpointer data;
} QiocTcpConnect;

/* Options that apply once connected. */
static void tcp_connected(QIOChannel *ioc, GError *err, gpointer data)
{
    QiocTcpConnect *c = data;
    QiocTcpConnect call = *c;

    g_free(c);
    if (ioc) {
        qioc_addr_set_tcp_opts(call.addr, QIO_CHANNEL_SOCKET(ioc));
    }
    call.done(ioc, err, call.data);
}

/* What a connect to @addr needs, worked out once for all its connections. */
typedef struct {
    GSocketConnectable *target;
    GSocketAddress *local;      /* bind=, sourceport=, or NULL */
    QIOChannelSocketOptions sopts;
} QiocTcpTarget;

static void tcp_target_free(gpointer data)
{
    QiocTcpTarget *t = data;

    g_object_unref(t->target);
    g_clear_object(&t->local);
    g_free(t);
}

static QiocTcpTarget *tcp_target_new(const QiocAddress *addr,
                                     const QiocOptions *opts, GError **errp)
{
    g_autoptr(GSocketAddress) local = NULL;
    g_autoptr(GInetAddress) ia = NULL;
    QiocTcpTarget *t;
    int family = qioc_addr_family(addr, opts);
    guint16 port;

    if (!parse_port(addr->params[1], &port, errp) ||
        !local_address(addr, family, &local, errp)) {
        return NULL;
    }
    t = g_new0(QiocTcpTarget, 1);
    t->sopts = (QIOChannelSocketOptions)QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    t->sopts.family = family;
    t->sopts.connect_timeout_ms =
        (int)(qioc_address_get_duration(addr, "connect-timeout", 0) * 1000);
    t->local = g_steal_pointer(&local);
    /*
     * An address literal needs no resolving: as a socket address it is
     * connected from the loop at once, where a host name costs a resolver
     * thread per connection (measured: a third of qioc's CPU time with a
     * new connection per HTTP request, contrib/bench http).
     */
    ia = g_inet_address_new_from_string(addr->params[0]);
    t->target = ia ? G_SOCKET_CONNECTABLE(g_inet_socket_address_new(ia, port))
                   : g_network_address_new(addr->params[0], port);
    return t;
}

/*
 * The target of @addr, from a cache: a fork listener connects the same
 * address for every client. Main thread only, like resolve_one().
 */
static const QiocTcpTarget *tcp_target(const QiocAddress *addr,
                                       const QiocOptions *opts, GError **errp)
{
    static GHashTable *targets;
    QiocTcpTarget *t;

    if (!targets) {
        targets = g_hash_table_new_full(NULL, NULL, NULL, tcp_target_free);
    }
    t = g_hash_table_lookup(targets, addr);
    if (!t && (t = tcp_target_new(addr, opts, errp)) != NULL) {
        g_hash_table_insert(targets, (gpointer)addr, t);
    }
    return t;
}

void qioc_connect_tcp(const QiocAddress *addr, const QiocOptions *opts,
                      QiocOpenDone *done, gpointer data)
{
    const QiocTcpTarget *t;
    QIOChannelSocketOptions sopts;
    QiocTcpConnect *c;
    GError *err = NULL;

    t = tcp_target(addr, opts, &err);
    if (!t) {
        done(NULL, err, data);
        return;
    }
    sopts = t->sopts;
    sopts.bind = t->local;
    c = g_new0(QiocTcpConnect, 1);
    *c = (QiocTcpConnect){ addr, done, data };
    qioc_addr_socket_connect(t->target, &sopts, tcp_connected, c);
}

/* The host part of bind= for a listener, or NULL for every address. */
static char *listen_host(const QiocAddress *addr)
{
    const char *bind = qioc_address_get_string(addr, "bind");
    g_autofree char *port = NULL;
    char *host = NULL;

    if (!bind) {
        return NULL;
    }
    split_host_port(bind, &host, &port);
    return host;
}

QIONetListener *qioc_listen_tcp(const QiocAddress *addr,
                                const QiocOptions *opts, GError **errp)
{
    g_autoptr(QIONetListener) listener = qio_net_listener_new();
    g_autoptr(GSocketConnectable) na = NULL;
    g_autofree char *host = listen_host(addr);
    QIOChannelSocketOptions sopts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    guint16 port;

    if (!parse_port(addr->params[0], &port, errp)) {
        return NULL;
    }
    sopts.family = qioc_addr_family(addr, opts);
    sopts.backlog = (int)qioc_address_get_int(addr, "backlog", 128);
    sopts.reuseaddr = qioc_address_get_flag(addr, "reuseaddr");
    if (qioc_address_has_opt(addr, "ipv6only")) {
        sopts.v6only = qioc_address_get_flag(addr, "ipv6only");
    }
    na = g_network_address_new(host ? host : "", port);
    if (qio_net_listener_open_sync(listener, na, &sopts, errp) < 0) {
        return NULL;
    }
    return g_steal_pointer(&listener);
}
