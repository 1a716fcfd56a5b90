/*
 * qioc - TCP (connect) and TCP-LISTEN, IPv4 and IPv6
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "addr-tcp.h"
#include "log.h"

gboolean qioc_ip_parse_port(const char *text, guint16 *port, GError **errp)
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

/* The first address @host resolves to, in @family if not AF_UNSPEC. */
static GInetAddress *lookup_one(const char *host, int family, GError **errp)
{
    g_autolist(GInetAddress) list = NULL;

    list =
        g_resolver_lookup_by_name(g_resolver_get_default(), host, NULL, errp);
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

GInetAddress *qioc_ip_resolve_one(const char *host, int family, GError **errp)
{
    GInetAddress *ia = g_inet_address_new_from_string(host);

    return ia ? ia : lookup_one(host, family, errp);
}

/*
 * lowport on a client: a free port from 640 to 1023, as socat picks one,
 * found by binding a probe socket of the address's kind (the real bind
 * follows at once). Only root, or CAP_NET_BIND_SERVICE, may.
 */
static gboolean low_port(const QiocAddress *addr, GInetAddress *ia,
                         guint16 *port, GError **errp)
{
    int type = addr->type->groups & QIOC_OPTGRP_TCP ? SOCK_STREAM : SOCK_DGRAM;
    guint start = (guint)g_random_int_range(640, 1024);
    int err = EADDRINUSE;

    for (guint i = 0; i < 1024 - 640; i++) {
        guint16 p = (guint16)(640 + (start - 640 + i) % (1024 - 640));
        g_autoptr(GSocketAddress) sa = g_inet_socket_address_new(ia, p);
        struct sockaddr_storage ss;
        int fd = socket(g_inet_address_get_family(ia) == G_SOCKET_FAMILY_IPV6
                            ? AF_INET6
                            : AF_INET,
                        type | SOCK_CLOEXEC, 0);

        if (fd < 0 || !g_socket_address_to_native(sa, &ss, sizeof(ss), NULL)) {
            err = errno;
            if (fd >= 0) {
                close(fd);
            }
            break;
        }
        err = bind(fd, (struct sockaddr *)&ss,
                   (socklen_t)g_socket_address_get_native_size(sa)) < 0
                  ? errno
                  : 0;
        close(fd);
        if (err == 0) {
            *port = p;
            return TRUE;
        }
        if (err != EADDRINUSE) {
            break;
        }
    }
    qioc_error_errno(errp, err, "lowport: bind a port from 640 to 1023");
    if (err == EACCES) {
        qioc_error_hint(errp, "ports below 1024 need root or "
                              "CAP_NET_BIND_SERVICE");
    }
    return FALSE;
}

gboolean qioc_ip_local_address(const QiocAddress *addr, int family,
                               GSocketAddress **out, GError **errp)
{
    const char *bind = addr->o.bind;
    g_autofree char *host = NULL;
    g_autofree char *port = NULL;
    g_autoptr(GInetAddress) ia = NULL;
    guint16 portnum = 0;

    *out = NULL;
    if (bind) {
        qioc_split_host_port(bind, &host, &port);
    }
    if (addr->o.sourceport >= 0) {
        g_free(port);
        port = g_strdup_printf("%" G_GINT64_FORMAT, addr->o.sourceport);
    }
    if (!host && !port && !addr->o.lowport) {
        return TRUE;
    }
    if (port && !qioc_ip_parse_port(port, &portnum, errp)) {
        return FALSE;
    }
    if (host && *host) {
        ia = qioc_ip_resolve_one(host, family, errp);
    } else {
        ia = g_inet_address_new_any(family == AF_INET6 ? G_SOCKET_FAMILY_IPV6
                                                       : G_SOCKET_FAMILY_IPV4);
    }
    if (!ia) {
        g_prefix_error(errp, "bind=%s: ", bind ? bind : "");
        return FALSE;
    }
    if (!port && addr->o.lowport && !low_port(addr, ia, &portnum, errp)) {
        return FALSE;
    }
    *out = g_inet_socket_address_new(ia, portnum);
    return TRUE;
}

/*
 * bind=HOST where HOST is a name with addresses of both families, and
 * the connect may take either: the local address of the family that
 * @first is not, so that the bind follows the family of each address
 * tried (bind=localhost reaches 127.0.0.1 when ::1 refuses). NULL
 * otherwise.
 */
static GSocketAddress *local_other_family(const QiocEndpoint *ep,
                                          GSocketAddress *first)
{
    g_autofree char *host = qioc_ip_listen_host(ep->addr);
    g_autoptr(GInetAddress) literal = NULL;
    GSocketAddress *other = NULL;
    int family;

    if (!first || ep->family != AF_UNSPEC || !host || !*host) {
        return NULL;
    }
    literal = g_inet_address_new_from_string(host);
    if (literal) {
        return NULL;
    }
    family = g_socket_address_get_family(first) == G_SOCKET_FAMILY_IPV6
                 ? AF_INET
                 : AF_INET6;
    /* A name without an address of the other family has no second try. */
    if (!qioc_ip_local_address(ep->addr, family, &other, NULL)) {
        return NULL;
    }
    return other;
}

struct QiocTcpTarget {
    GSocketConnectable *target;
    GSocketAddress *local;       /* bind=, sourceport=, or NULL */
    GSocketAddress *local_other; /* see local_other_family() */
    QIOChannelSocketOptions sopts;
};

typedef struct {
    QiocEndpoint *ep;
    const QiocTcpTarget *t;
    GSocketConnectable *target;
    gboolean other_tried;
    QiocOpenDone *done;
    gpointer data;
} QiocTcpConnect;

static void tcp_connect_with(QiocTcpConnect *c, GSocketAddress *local);

/* Options that apply once connected; a failed first family tries the other. */
static void tcp_connected(QIOChannel *ioc, GError *err, gpointer data)
{
    QiocTcpConnect *c = data;
    QiocTcpConnect call = *c;

    if (!ioc && c->t->local_other && !c->other_tried) {
        qioc_log_address(2, c->ep->addr->index, c->ep->addr->text,
                         "%s; trying the other family with its bind address",
                         err->message);
        g_error_free(err);
        c->other_tried = TRUE;
        tcp_connect_with(c, c->t->local_other);
        return;
    }
    g_object_unref(c->target);
    g_free(c);
    if (ioc) {
        qioc_tcp_set_opts(call.ep, QIO_CHANNEL_SOCKET(ioc));
    }
    call.done(ioc, err, call.data);
}

static void tcp_connect_with(QiocTcpConnect *c, GSocketAddress *local)
{
    QIOChannelSocketOptions sopts = c->t->sopts;

    sopts.bind = local;
    qioc_socket_connect(c->target, &sopts, tcp_connected, c);
}

void qioc_tcp_target_free(QiocTcpTarget *t)
{
    g_clear_object(&t->target);
    g_clear_object(&t->local);
    g_clear_object(&t->local_other);
    g_free(t);
}

QiocTcpTarget *qioc_tcp_target_new(const QiocEndpoint *ep, GError **errp)
{
    return qioc_tcp_target_new_at(ep, ep->addr->params[0], ep->addr->params[1],
                                  errp);
}

QiocTcpTarget *qioc_tcp_target_new_at(const QiocEndpoint *ep, const char *host,
                                      const char *port_text, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    g_autoptr(GSocketAddress) local = NULL;
    g_autoptr(GInetAddress) ia = NULL;
    QiocTcpTarget *t;
    guint16 port = 0;

    if ((port_text && !qioc_ip_parse_port(port_text, &port, errp)) ||
        !qioc_ip_local_address(addr, ep->family, &local, errp)) {
        return NULL;
    }
    t = g_new0(QiocTcpTarget, 1);
    t->sopts = (QIOChannelSocketOptions)QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    t->sopts.family = ep->family;
    qioc_sockopt_init(&t->sopts, ep);
    if (addr->o.connect_timeout > 0) {
        t->sopts.connect_timeout_ms = (int)(addr->o.connect_timeout * 1000);
    }
    t->local_other = local_other_family(ep, local);
    t->local = g_steal_pointer(&local);
    /*
     * An address literal needs no resolving: as a socket address it is
     * connected from the loop at once, where a host name costs a resolver
     * thread per connection (measured: a third of qioc's CPU time with a
     * new connection per HTTP request, contrib/bench http).
     */
    if (!host) {
        return t;
    }
    ia = g_inet_address_new_from_string(host);
    t->target = ia ? G_SOCKET_CONNECTABLE(g_inet_socket_address_new(ia, port))
                   : g_network_address_new(host, port);
    return t;
}

void qioc_tcp_connect_to(QiocEndpoint *ep, const QiocTcpTarget *t,
                         GSocketConnectable *target, QiocOpenDone *done,
                         gpointer data)
{
    QiocTcpConnect *c = g_new0(QiocTcpConnect, 1);

    *c = (QiocTcpConnect){ep, t, g_object_ref(target), FALSE, done, data};
    tcp_connect_with(c, t->local);
}

void qioc_tcp_connect(QiocEndpoint *ep, const QiocTcpTarget *t,
                      QiocOpenDone *done, gpointer data)
{
    qioc_tcp_connect_to(ep, t, t->target, done, data);
}

void qioc_tcp_set_opts(QiocEndpoint *ep, QIOChannelSocket *sioc)
{
    int one = 1;

    if (ep->addr->o.nodelay) {
        qio_channel_set_delay(QIO_CHANNEL(sioc), false);
    }
    if (ep->addr->o.keepalive) {
        setsockopt(qio_channel_socket_get_fd(sioc), SOL_SOCKET, SO_KEEPALIVE,
                   &one, sizeof(one));
    }
}

static gboolean tcp_prepare(QiocEndpoint *ep, GError **errp)
{
    ep->state = qioc_tcp_target_new(ep, errp);
    return ep->state != NULL;
}

static void tcp_connect(QiocEndpoint *ep, QIOChannel *peer, QiocOpenDone *done,
                        gpointer data)
{
    qioc_tcp_connect(ep, ep->state, done, data);
}

/* A TLS layer over TCP:HOST:PORT verifies HOST. */
static const char *tcp_host(const QiocEndpoint *ep)
{
    return ep->addr->params[0];
}

char *qioc_ip_listen_host(const QiocAddress *addr)
{
    g_autofree char *port = NULL;
    char *host = NULL;

    if (!addr->o.bind) {
        return NULL;
    }
    qioc_split_host_port(addr->o.bind, &host, &port);
    return host;
}

/* The first port an unprivileged process may bind (the kernel's setting). */
static guint unprivileged_port_start(void)
{
    g_autofree char *text = NULL;
    guint64 port;

    if (!g_file_get_contents("/proc/sys/net/ipv4/ip_unprivileged_port_start",
                             &text, NULL, NULL) ||
        !g_ascii_string_to_unsigned(g_strstrip(text), 10, 0, 65536, &port,
                                    NULL)) {
        return 1024;
    }
    return (guint)port;
}

void qioc_ip_privileged_port_hint(guint16 port, GError **errp)
{
    guint start;

    if (port == 0 || !errp ||
        !g_error_matches(*errp, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED)) {
        return;
    }
    start = unprivileged_port_start();
    if (port < start) {
        qioc_error_hint(errp,
                        "ports below %u need root or the capability "
                        "CAP_NET_BIND_SERVICE (setcap "
                        "cap_net_bind_service=+ep on qioc, or a systemd "
                        "socket with SD-LISTEN)",
                        start);
    }
}

QIONetListener *qioc_tcp_listen(QiocEndpoint *ep, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    g_autoptr(QIONetListener) listener = qio_net_listener_new();
    g_autoptr(GSocketConnectable) na = NULL;
    g_autofree char *host = qioc_ip_listen_host(addr);
    QIOChannelSocketOptions sopts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    guint16 port;

    if (!qioc_ip_parse_port(addr->params[0], &port, errp)) {
        return NULL;
    }
    sopts.family = ep->family;
    sopts.backlog = (int)addr->o.backlog;
    sopts.reuseaddr = addr->o.reuseaddr != 0;
    qioc_sockopt_init(&sopts, ep);
    if (addr->o.ipv6only >= 0) {
        sopts.v6only = addr->o.ipv6only;
    }
    na = g_network_address_new(host ? host : "", port);
    if (qio_net_listener_open_sync(listener, na, &sopts, errp) < 0) {
        qioc_ip_privileged_port_hint(port, errp);
        return NULL;
    }
    return g_steal_pointer(&listener);
}

/* ---------------------------------------------------------------- types */

static const QiocAddrType tcp_connect_types[] = {
    {"TCP", QIOC_NAMES("TCP-CONNECT", "INET"), QIOC_ADDR_TCP_CONNECT, AF_UNSPEC,
     2, 2, QIOC_T_TCONN, "HOST:PORT", "connect over TCP"},
    {"TCP4", QIOC_NAMES("TCP4-CONNECT", "INET4"), QIOC_ADDR_TCP_CONNECT,
     AF_INET, 2, 2, QIOC_T_TCONN, "HOST:PORT", "connect over TCP, IPv4 only"},
    {"TCP6", QIOC_NAMES("TCP6-CONNECT", "INET6"), QIOC_ADDR_TCP_CONNECT,
     AF_INET6, 2, 2, QIOC_T_TCONN, "HOST:PORT", "connect over TCP, IPv6 only"},
};

static const QiocAddrType tcp_listen_types[] = {
    {"TCP-LISTEN", QIOC_NAMES("TCP-L", "INET-LISTEN", "INET-L"),
     QIOC_ADDR_TCP_LISTEN, AF_UNSPEC, 1, 1, QIOC_T_TLISTEN, "PORT",
     "listen on a TCP port, IPv4 and IPv6"},
    {"TCP4-LISTEN", QIOC_NAMES("TCP4-L", "INET4-LISTEN", "INET4-L"),
     QIOC_ADDR_TCP_LISTEN, AF_INET, 1, 1, QIOC_T_TLISTEN, "PORT",
     "listen on a TCP port, IPv4 only"},
    {"TCP6-LISTEN", QIOC_NAMES("TCP6-L", "INET6-LISTEN", "INET6-L"),
     QIOC_ADDR_TCP_LISTEN, AF_INET6, 1, 1, QIOC_T_TLISTEN, "PORT",
     "listen on a TCP port, IPv6 only"},
};

const QiocAddrDesc qioc_addr_tcp_connect = {
    .kind = QIOC_ADDR_TCP_CONNECT,
    QIOC_ADDR_TYPES(tcp_connect_types),
    .check = qioc_address_check_connect_port,
    .prepare = tcp_prepare,
    .free_state = (GDestroyNotify)qioc_tcp_target_free,
    .connect = tcp_connect,
    .host = tcp_host};

const QiocAddrDesc qioc_addr_tcp_listen = {.kind = QIOC_ADDR_TCP_LISTEN,
                                           QIOC_ADDR_TYPES(tcp_listen_types),
                                           .check =
                                               qioc_address_check_listen_port,
                                           .listen = qioc_tcp_listen,
                                           .accepted = qioc_tcp_set_opts};
