/*
 * qioc - UDP: UDP (connect), UDP-LISTEN, UDP-SENDTO, UDP-DATAGRAM,
 * UDP-RECVFROM and UDP-RECV, IPv4 and IPv6
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every UDP address is one datagram socket, and every read or write of
 * the relay one datagram (src/pump.c keeps the boundaries):
 *  - UDP connects the socket to HOST:PORT: it sends there and hears only
 *    from there;
 *  - UDP-SENDTO and UDP-DATAGRAM leave it unconnected and send each
 *    datagram to HOST:PORT (UDP-DATAGRAM's may be a broadcast or
 *    multicast address), hearing from anyone range= allows;
 *  - UDP-RECVFROM binds PORT, waits for the first datagram (so that an
 *    EXEC child starts knowing its sender, as under socat) and answers
 *    the sender of the last datagram;
 *  - UDP-RECV binds PORT and only receives;
 *  - UDP-LISTEN binds PORT, waits for the first datagram, and from then on
 *    talks to its sender only (the socket is connected to it).
 * With fork, UDP-LISTEN and UDP-RECVFROM serve every sender at once, each
 * as a session of its own (libqio's QIODatagramServer, run by
 * src/acceptor.c). With an ancillary-data option (so-timestamp, ...) the
 * socket keeps what each datagram comes with (src/ancillary.c).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "addr-tcp.h"
#include "ancillary.h"
#include "context.h"
#include "log.h"

/* What an address needs, worked out once at start-up. */
typedef struct {
    GSocketConnectable *target; /* HOST:PORT of UDP, or NULL */
    GSocketAddress *send_to;    /* HOST:PORT of UDP-SENDTO, -DATAGRAM */
    GSocketConnectable *local;  /* the address bound, or NULL: any */
    guint16 port;               /* the PORT of a receiving type */
} QiocUdpState;

static void udp_state_free(QiocUdpState *st)
{
    g_clear_object(&st->target);
    g_clear_object(&st->send_to);
    g_clear_object(&st->local);
    g_free(st);
}

static void udp_socket_options(const QiocEndpoint *ep,
                               QIOChannelSocketOptions *sopts)
{
    *sopts = (QIOChannelSocketOptions)QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    sopts->family = ep->family;
    /* A second socket on a UDP port takes datagrams from the first: only
     * when asked (reuseaddr=1, reuseport, set by the setup function). */
    sopts->reuseaddr = false;
    if (ep->addr->o.ipv6only >= 0) {
        sopts->v6only = ep->addr->o.ipv6only;
    }
    qioc_sockopt_init(sopts, ep);
}

/* ---------------------------------------------------------------- prepare */

/* UDP: HOST:PORT to connect to, and bind= or sourceport=. */
static gboolean udp_prepare_client(QiocEndpoint *ep, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    g_autoptr(GSocketAddress) local = NULL;
    g_autoptr(GInetAddress) ia = NULL;
    QiocUdpState *st;
    guint16 port;

    if (!qioc_ip_parse_port(addr->params[1], &port, errp) ||
        !qioc_ip_local_address(addr, ep->family, &local, errp)) {
        return FALSE;
    }
    st = g_new0(QiocUdpState, 1);
    st->local = local ? G_SOCKET_CONNECTABLE(g_steal_pointer(&local)) : NULL;
    ia = g_inet_address_new_from_string(addr->params[0]);
    st->target = ia ? G_SOCKET_CONNECTABLE(g_inet_socket_address_new(ia, port))
                    : g_network_address_new(addr->params[0], port);
    ep->state = st;
    return TRUE;
}

/*
 * UDP-SENDTO, UDP-DATAGRAM: HOST:PORT resolved now (every datagram goes
 * there), and the local address: bind= or sourceport=, else any port of
 * HOST's family.
 */
/*
 * The family the target is looked up in: the address type's (UDP4-...),
 * else that of a literal bind= address, else any.
 */
static int udp_sendto_family(const QiocEndpoint *ep)
{
    g_autofree char *host = NULL;
    g_autofree char *port = NULL;
    g_autoptr(GInetAddress) ia = NULL;

    if (ep->family != AF_UNSPEC || !ep->addr->o.bind) {
        return ep->family;
    }
    qioc_split_host_port(ep->addr->o.bind, &host, &port);
    ia = host && *host ? g_inet_address_new_from_string(host) : NULL;
    return ia ? (int)g_inet_address_get_family(ia) : AF_UNSPEC;
}

static gboolean udp_prepare_sendto(QiocEndpoint *ep, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    g_autoptr(GSocketAddress) local = NULL;
    g_autoptr(GInetAddress) ia = NULL;
    QiocUdpState *st;
    guint16 port;

    if (!qioc_ip_parse_port(addr->params[1], &port, errp)) {
        return FALSE;
    }
    ia = qioc_ip_resolve_one(addr->params[0], udp_sendto_family(ep), errp);
    /* bind=:PORT binds the target's family ("localhost" may be ::1). */
    if (!ia || !qioc_ip_local_address(addr, (int)g_inet_address_get_family(ia),
                                      &local, errp)) {
        return FALSE;
    }
    if (!local) {
        g_autoptr(GInetAddress) any =
            g_inet_address_new_any(g_inet_address_get_family(ia));

        local = g_inet_socket_address_new(any, 0);
    }
    st = g_new0(QiocUdpState, 1);
    st->send_to = g_inet_socket_address_new(ia, port);
    st->local = G_SOCKET_CONNECTABLE(g_steal_pointer(&local));
    ep->state = st;
    return TRUE;
}

/* The receiving types: PORT on bind='s host, else on every address. */
static gboolean udp_prepare_receiver(QiocEndpoint *ep, GError **errp)
{
    g_autofree char *host = qioc_ip_listen_host(ep->addr);
    QiocUdpState *st;
    guint16 port;

    if (!qioc_ip_parse_port(ep->addr->params[0], &port, errp)) {
        return FALSE;
    }
    st = g_new0(QiocUdpState, 1);
    st->port = port;
    st->local = g_network_address_new(host ? host : "", port);
    ep->state = st;
    return TRUE;
}

/* ---------------------------------------------------------------- opening */

/* UDP's socket, once connected: it keeps ancillary data if asked. */
typedef struct {
    const QiocEndpoint *ep;
    QiocOpenDone *done;
    gpointer data;
} QiocUdpConnect;

static void udp_connected(QIOChannel *ioc, GError *err, gpointer data)
{
    QiocUdpConnect *c = data;

    if (ioc) {
        qioc_ancillary_keep(c->ep, QIO_CHANNEL_SOCKET(ioc));
    }
    c->done(ioc, err, c->data);
    g_free(c);
}

static void udp_connect(QiocEndpoint *ep, QIOChannel *peer, QiocOpenDone *done,
                        gpointer data)
{
    QiocUdpState *st = ep->state;
    QIOChannelSocketOptions sopts;
    QiocUdpConnect *c = g_new0(QiocUdpConnect, 1);

    *c = (QiocUdpConnect){ep, done, data};
    udp_socket_options(ep, &sopts);
    qioc_socket_dgram(st->local, st->target, &sopts, udp_connected, c);
}

/* A socket bound to the address's local address, now. */
static QIOChannelSocket *udp_bind(QiocEndpoint *ep, GError **errp)
{
    QiocUdpState *st = ep->state;
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    QIOChannelSocketOptions sopts;

    udp_socket_options(ep, &sopts);
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);
    if (qio_channel_socket_dgram_sync(sioc, st->local, NULL, &sopts, errp) <
        0) {
        qioc_ip_privileged_port_hint(st->port, errp);
        return NULL;
    }
    /* setsockopt-int= and the others set on a socket in use. */
    if (!qioc_sockopt_apply_socket(ep, sioc, QIOC_SOCKOPT_CONNECTED, errp)) {
        qio_channel_close(QIO_CHANNEL(sioc), NULL);
        return NULL;
    }
    qioc_ancillary_keep(ep, sioc);
    return g_steal_pointer(&sioc);
}

static gboolean sender_filter(GSocketAddress *from, gpointer data)
{
    return qioc_endpoint_sender_allowed(data, from);
}

/* range=, sourceport=, lowport on what an unconnected socket receives. */
static void udp_filter_senders(QiocEndpoint *ep, QIOChannelSocket *sioc)
{
    const QiocAddrOpts *o = &ep->addr->o;

    if (o->range || o->sourceport >= 0 || o->lowport) {
        qio_channel_socket_set_sender_filter(sioc, sender_filter, ep, NULL);
    }
}

/* What each type that opens at once does with its bound socket. */
static const QiocDgramRole udp_roles[QIOC_ADDR__COUNT] = {
    [QIOC_ADDR_UDP_SENDTO] = QIOC_DGRAM_SEND,
    [QIOC_ADDR_UDP_DATAGRAM] = QIOC_DGRAM_SEND,
    [QIOC_ADDR_UDP_RECVFROM] = QIOC_DGRAM_REPLY,
    [QIOC_ADDR_UDP_RECV] = QIOC_DGRAM_RECV,
};

static QIOChannel *udp_open(QiocEndpoint *ep, QiocAccess *access,
                            QIOChannel *peer, GError **errp)
{
    QiocUdpState *st = ep->state;
    QIOChannelSocket *sioc = udp_bind(ep, errp);

    if (!sioc) {
        return NULL;
    }
    udp_filter_senders(ep, sioc);
    return qioc_dgram_channel(sioc, udp_roles[ep->desc->kind], st->send_to,
                              access);
}

/* ---------------------------------------------------------------- UDP-LISTEN
 */

/* UDP-LISTEN and UDP-RECVFROM without fork: waiting for the first
 * datagram. */
typedef struct {
    QiocEndpoint *ep;
    QIOChannelSocket *sioc;
    QiocOpenDone *done;
    gpointer data;
    guint watch;
    guint timer; /* accept-timeout= */
    guint conn;  /* the connection its lines are about */
} QiocUdpFirst;

static void first_finish(QiocUdpFirst *w, GError *err)
{
    QIOChannel *ioc = err ? NULL : QIO_CHANNEL(g_object_ref(w->sioc));

    g_clear_handle_id(&w->watch, qioc_source_remove);
    g_clear_handle_id(&w->timer, qioc_source_remove);
    if (err) {
        qio_channel_close(QIO_CHANNEL(w->sioc), NULL);
    }
    g_object_unref(w->sioc);
    w->done(ioc, err, w->data);
    g_free(w);
}

/*
 * The first datagram is peeked through the channel, so that its sender
 * and what it came with (ancillary data) are the channel's last: what an
 * EXEC child is told (src/addr-exec.c). It stays queued for the relay.
 * UDP-RECVFROM's sender filter drops what range= refuses; UDP-LISTEN's
 * first sender becomes the peer (the socket is connected to it) unless
 * range= refuses it, and then it is dropped and the wait goes on.
 */
static gboolean first_datagram_in(QiocUdpFirst *w)
{
    int fd = qio_channel_socket_get_fd(w->sioc);
    GSocketAddress *from;
    struct sockaddr_storage ss;
    GError *err = NULL;
    char byte;
    struct iovec iov = {&byte, 1};
    ssize_t n =
        qio_channel_readv_full(QIO_CHANNEL(w->sioc), &iov, 1, NULL, NULL,
                               QIO_CHANNEL_READ_FLAG_MSG_PEEK, &err);

    if (n == QIO_CHANNEL_ERR_BLOCK) {
        return G_SOURCE_CONTINUE;
    }
    if (n >= 0 && w->ep->desc->kind == QIOC_ADDR_UDP_RECVFROM) {
        qioc_dgram_channel(w->sioc, QIOC_DGRAM_REPLY, NULL, NULL);
    } else if (n >= 0) {
        from = qio_channel_socket_get_last_sender(w->sioc);
        if (!qioc_endpoint_sender_allowed(w->ep, from)) {
            recv(fd, &byte, 1, MSG_DONTWAIT);
            return G_SOURCE_CONTINUE;
        }
        g_socket_address_to_native(from, &ss, sizeof(ss), NULL);
        if (connect(fd, (struct sockaddr *)&ss,
                    g_socket_address_get_native_size(from)) < 0) {
            g_autofree char *text = qio_socket_address_to_string(from);

            qioc_error_errno(&err, errno, "connect to %s", text);
        } else {
            qioc_endpoint_log_client(w->ep, w->sioc);
        }
    }
    w->watch = 0;
    first_finish(w, err);
    return G_SOURCE_REMOVE;
}

static gboolean first_datagram(QIOChannel *ioc, GIOCondition cond,
                               gpointer data)
{
    QiocUdpFirst *w = data;
    guint prev = qioc_log_conn_enter(w->conn);
    gboolean again = first_datagram_in(w);

    qioc_log_conn_leave(prev);
    return again;
}

static gboolean first_timed_out(gpointer data)
{
    QiocUdpFirst *w = data;
    guint prev = qioc_log_conn_enter(w->conn);

    w->timer = 0;
    first_finish(w, g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                "no datagram within %g s (accept-timeout)",
                                w->ep->addr->o.accept_timeout));
    qioc_log_conn_leave(prev);
    return G_SOURCE_REMOVE;
}

static void udp_listen_connect(QiocEndpoint *ep, QIOChannel *peer,
                               QiocOpenDone *done, gpointer data)
{
    GError *err = NULL;
    QIOChannelSocket *sioc = udp_bind(ep, &err);
    QiocUdpFirst *w;

    if (!sioc) {
        done(NULL, err, data);
        return;
    }
    qioc_endpoint_log_channel(ep, QIO_CHANNEL(sioc));
    if (ep->desc->kind == QIOC_ADDR_UDP_RECVFROM) {
        udp_filter_senders(ep, sioc);
    }
    w = g_new0(QiocUdpFirst, 1);
    *w = (QiocUdpFirst){ep, sioc, done, data, 0, 0, qioc_log_conn()};
    w->watch = qio_channel_add_watch_full(
        QIO_CHANNEL(sioc), G_IO_IN, first_datagram, w, NULL, qioc_context());
    if (ep->addr->o.accept_timeout > 0) {
        w->timer = qioc_timeout_add((guint)(ep->addr->o.accept_timeout * 1000),
                                    first_timed_out, w);
    }
}

/* ---------------------------------------------------------------- fork */

static QIODatagramServer *udp_serve(QiocEndpoint *ep, GError **errp)
{
    g_autoptr(QIOChannelSocket) sioc = udp_bind(ep, errp);

    return sioc ? qio_datagram_server_new(sioc) : NULL;
}

/* With fork, the receiving types serve every sender. */
static const QiocAddrDesc udp_server = {
    .kind = QIOC_ADDR_UDP_LISTEN,
    .serve = udp_serve,
};

static const QiocAddrDesc *udp_choose(const QiocEndpoint *ep)
{
    return ep->addr->o.fork ? &udp_server : ep->desc;
}

/* ---------------------------------------------------------------- checks */

static gboolean udp_check_membership(const QiocAddress *addr, GError **errp)
{
    g_autoptr(GInetAddress) group = NULL;
    g_autoptr(GInetAddress) local = NULL;
    g_autoptr(GError) err = NULL;
    guint ifindex;

    if (addr->o.ip_add_membership &&
        !qioc_multicast_group_parse(addr->o.ip_add_membership, &group, &local,
                                    &ifindex, &err)) {
        qioc_address_fail(addr, errp, "ip-add-membership=%s: %s",
                          addr->o.ip_add_membership, err->message);
        return FALSE;
    }
    return TRUE;
}

static gboolean udp_check_client(const QiocAddress *addr, GError **errp)
{
    return qioc_address_check_connect_port(addr, errp) &&
           udp_check_membership(addr, errp);
}

static gboolean udp_check_receiver(const QiocAddress *addr, GError **errp)
{
    return qioc_address_check_listen_port(addr, errp) &&
           udp_check_membership(addr, errp);
}

/* ---------------------------------------------------------------- types */

static const QiocAddrType udp_connect_types[] = {
    {"UDP", QIOC_NAMES("UDP-CONNECT"), QIOC_ADDR_UDP_CONNECT, AF_UNSPEC, 2, 2,
     QIOC_T_UCLIENT, "HOST:PORT", "exchange datagrams with HOST:PORT (UDP)"},
    {"UDP4", QIOC_NAMES("UDP4-CONNECT"), QIOC_ADDR_UDP_CONNECT, AF_INET, 2, 2,
     QIOC_T_UCLIENT, "HOST:PORT", "UDP with HOST:PORT, IPv4 only"},
    {"UDP6", QIOC_NAMES("UDP6-CONNECT"), QIOC_ADDR_UDP_CONNECT, AF_INET6, 2, 2,
     QIOC_T_UCLIENT, "HOST:PORT", "UDP with HOST:PORT, IPv6 only"},
};

static const QiocAddrType udp_listen_types[] = {
    {"UDP-LISTEN", QIOC_NAMES("UDP-L"), QIOC_ADDR_UDP_LISTEN, AF_UNSPEC, 1, 1,
     QIOC_T_USERVER, "PORT",
     "receive on a UDP port, then talk to the first sender (fork: to each)"},
    {"UDP4-LISTEN", QIOC_NAMES("UDP4-L"), QIOC_ADDR_UDP_LISTEN, AF_INET, 1, 1,
     QIOC_T_USERVER, "PORT", "UDP-LISTEN, IPv4 only"},
    {"UDP6-LISTEN", QIOC_NAMES("UDP6-L"), QIOC_ADDR_UDP_LISTEN, AF_INET6, 1, 1,
     QIOC_T_USERVER, "PORT", "UDP-LISTEN, IPv6 only"},
};

static const QiocAddrType udp_sendto_types[] = {
    {"UDP-SENDTO", NULL, QIOC_ADDR_UDP_SENDTO, AF_UNSPEC, 2, 2, QIOC_T_USENDTO,
     "HOST:PORT", "send datagrams to HOST:PORT, receive from anyone"},
    {"UDP4-SENDTO", NULL, QIOC_ADDR_UDP_SENDTO, AF_INET, 2, 2, QIOC_T_USENDTO,
     "HOST:PORT", "UDP-SENDTO, IPv4 only"},
    {"UDP6-SENDTO", NULL, QIOC_ADDR_UDP_SENDTO, AF_INET6, 2, 2, QIOC_T_USENDTO,
     "HOST:PORT", "UDP-SENDTO, IPv6 only"},
};

static const QiocAddrType udp_datagram_types[] = {
    {"UDP-DATAGRAM", NULL, QIOC_ADDR_UDP_DATAGRAM, AF_UNSPEC, 2, 2,
     QIOC_T_USENDTO, "ADDRESS:PORT",
     "send to a unicast, broadcast or multicast address, receive from "
     "anyone"},
    {"UDP4-DATAGRAM", NULL, QIOC_ADDR_UDP_DATAGRAM, AF_INET, 2, 2,
     QIOC_T_USENDTO, "ADDRESS:PORT", "UDP-DATAGRAM, IPv4 only"},
    {"UDP6-DATAGRAM", NULL, QIOC_ADDR_UDP_DATAGRAM, AF_INET6, 2, 2,
     QIOC_T_USENDTO, "ADDRESS:PORT", "UDP-DATAGRAM, IPv6 only"},
};

static const QiocAddrType udp_recvfrom_types[] = {
    {"UDP-RECVFROM", NULL, QIOC_ADDR_UDP_RECVFROM, AF_UNSPEC, 1, 1,
     QIOC_T_USERVER, "PORT",
     "receive on a UDP port, answer the last sender (fork: each sender)"},
    {"UDP4-RECVFROM", NULL, QIOC_ADDR_UDP_RECVFROM, AF_INET, 1, 1,
     QIOC_T_USERVER, "PORT", "UDP-RECVFROM, IPv4 only"},
    {"UDP6-RECVFROM", NULL, QIOC_ADDR_UDP_RECVFROM, AF_INET6, 1, 1,
     QIOC_T_USERVER, "PORT", "UDP-RECVFROM, IPv6 only"},
};

static const QiocAddrType udp_recv_types[] = {
    {"UDP-RECV", NULL, QIOC_ADDR_UDP_RECV, AF_UNSPEC, 1, 1, QIOC_T_URECV,
     "PORT", "only receive datagrams on a UDP port"},
    {"UDP4-RECV", NULL, QIOC_ADDR_UDP_RECV, AF_INET, 1, 1, QIOC_T_URECV, "PORT",
     "UDP-RECV, IPv4 only"},
    {"UDP6-RECV", NULL, QIOC_ADDR_UDP_RECV, AF_INET6, 1, 1, QIOC_T_URECV,
     "PORT", "UDP-RECV, IPv6 only"},
};

const QiocAddrDesc qioc_addr_udp_connect = {.kind = QIOC_ADDR_UDP_CONNECT,
                                            QIOC_ADDR_TYPES(udp_connect_types),
                                            .check = udp_check_client,
                                            .prepare = udp_prepare_client,
                                            .free_state =
                                                (GDestroyNotify)udp_state_free,
                                            .connect = udp_connect};

const QiocAddrDesc qioc_addr_udp_listen = {.kind = QIOC_ADDR_UDP_LISTEN,
                                           QIOC_ADDR_TYPES(udp_listen_types),
                                           .check = udp_check_receiver,
                                           .prepare = udp_prepare_receiver,
                                           .free_state =
                                               (GDestroyNotify)udp_state_free,
                                           .choose = udp_choose,
                                           .connect = udp_listen_connect};

const QiocAddrDesc qioc_addr_udp_sendto = {.kind = QIOC_ADDR_UDP_SENDTO,
                                           QIOC_ADDR_TYPES(udp_sendto_types),
                                           .check = udp_check_client,
                                           .prepare = udp_prepare_sendto,
                                           .free_state =
                                               (GDestroyNotify)udp_state_free,
                                           .open = udp_open};

const QiocAddrDesc qioc_addr_udp_datagram = {
    .kind = QIOC_ADDR_UDP_DATAGRAM,
    QIOC_ADDR_TYPES(udp_datagram_types),
    .check = udp_check_client,
    .prepare = udp_prepare_sendto,
    .free_state = (GDestroyNotify)udp_state_free,
    .open = udp_open};

const QiocAddrDesc qioc_addr_udp_recvfrom = {
    .kind = QIOC_ADDR_UDP_RECVFROM,
    QIOC_ADDR_TYPES(udp_recvfrom_types),
    .check = udp_check_receiver,
    .prepare = udp_prepare_receiver,
    .free_state = (GDestroyNotify)udp_state_free,
    .choose = udp_choose,
    .connect = udp_listen_connect};

const QiocAddrDesc qioc_addr_udp_recv = {.kind = QIOC_ADDR_UDP_RECV,
                                         QIOC_ADDR_TYPES(udp_recv_types),
                                         .check = udp_check_receiver,
                                         .prepare = udp_prepare_receiver,
                                         .free_state =
                                             (GDestroyNotify)udp_state_free,
                                         .open = udp_open};
