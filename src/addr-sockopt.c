/*
 * qioc - socket options: ttl=, tos=, mss=, rcvbuf=, interface=,
 * setsockopt-*= and the others that are setsockopt(2) calls
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One table says, for each option, which setsockopt(2) call it is, on
 * which sockets and when: before bind or connect (through libqio's setup
 * function, so that a listener's TCP clients inherit it), once connected,
 * or on each accepted client.
 */
#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "dalan.h"

#define OFF(field) offsetof(QiocAddrOpts, field)

/* The families a row applies to. */
#define F_INET (1u << 0)
#define F_INET6 (1u << 1)
#define F_UNIX (1u << 2)
#define F_IP (F_INET | F_INET6)
#define F_ANY (F_IP | F_UNIX)

/* How a field of #QiocAddrOpts becomes setsockopt(2)'s value. */
typedef enum {
    VALUE_FLAG,    /* int, set when 1: the int 1 */
    VALUE_INT,     /* gint64, set when >= 0: an int */
    VALUE_LINGER,  /* gint64 seconds, set when >= 0: struct linger, on */
    VALUE_TEXT,    /* char *, set when not NULL: its bytes */
    VALUE_DATA,    /* char *, set when not NULL: the bytes it stands for in
                    * socat's data notation (src/dalan.h) */
    VALUE_GENERIC, /* QiocSockopt *, set when not NULL: level, name, bytes */
    VALUE_GROUP,   /* char * GROUP[:INTERFACE], set when not NULL: a
                    * multicast membership of the group's family */
} QiocSockoptValue;

typedef struct {
    const char *option; /* canonical name, for messages */
    gsize offset;
    QiocSockoptValue value;
    guint families;
    int level;
    int name;
    const char *cname; /* the option's C name, for messages */
    guint phases;      /* QiocSockoptPhase */
} QiocSockoptRow;

#define BEFORE QIOC_SOCKOPT_BEFORE
#define CONNECTED QIOC_SOCKOPT_CONNECTED
#define ACCEPTED QIOC_SOCKOPT_ACCEPTED

/*
 * On Linux a TCP client inherits its listener's options; a unix one does
 * not, so the buffer sizes are set on every accepted client too. ttl=
 * and tos= on an IPv6 socket set both families' fields: a dual-stack
 * listener's IPv4 clients use the IPv4 ones. The generic setsockopt-*
 * options are applied where socat applies them: on the connected socket
 * (each client of a listener), setsockopt-listen before bind.
 */
static const QiocSockoptRow sockopt_rows[] = {
    {"reuseaddr", OFF(reuseaddr), VALUE_FLAG, F_IP, SOL_SOCKET, SO_REUSEADDR,
     "SO_REUSEADDR", BEFORE},
    {"reuseport", OFF(reuseport), VALUE_FLAG, F_IP, SOL_SOCKET, SO_REUSEPORT,
     "SO_REUSEPORT", BEFORE},
    {"interface", OFF(interface), VALUE_TEXT, F_IP, SOL_SOCKET, SO_BINDTODEVICE,
     "SO_BINDTODEVICE", BEFORE},
    {"ttl", OFF(ttl), VALUE_INT, F_IP, IPPROTO_IP, IP_TTL, "IP_TTL", BEFORE},
    {"ttl", OFF(ttl), VALUE_INT, F_INET6, IPPROTO_IPV6, IPV6_UNICAST_HOPS,
     "IPV6_UNICAST_HOPS", BEFORE},
    {"tos", OFF(tos), VALUE_INT, F_IP, IPPROTO_IP, IP_TOS, "IP_TOS", BEFORE},
    {"tos", OFF(tos), VALUE_INT, F_INET6, IPPROTO_IPV6, IPV6_TCLASS,
     "IPV6_TCLASS", BEFORE},
    {"mss", OFF(mss), VALUE_INT, F_IP, IPPROTO_TCP, TCP_MAXSEG, "TCP_MAXSEG",
     BEFORE},
    {"linger", OFF(linger), VALUE_LINGER, F_IP, SOL_SOCKET, SO_LINGER,
     "SO_LINGER", BEFORE},
    {"broadcast", OFF(broadcast), VALUE_FLAG, F_IP, SOL_SOCKET, SO_BROADCAST,
     "SO_BROADCAST", BEFORE},
    {"ip-multicast-ttl", OFF(ip_multicast_ttl), VALUE_INT, F_IP, IPPROTO_IP,
     IP_MULTICAST_TTL, "IP_MULTICAST_TTL", BEFORE},
    {"ip-multicast-ttl", OFF(ip_multicast_ttl), VALUE_INT, F_INET6,
     IPPROTO_IPV6, IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS", BEFORE},
    {"ip-multicast-loop", OFF(ip_multicast_loop), VALUE_INT, F_IP, IPPROTO_IP,
     IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP", BEFORE},
    {"ip-multicast-loop", OFF(ip_multicast_loop), VALUE_INT, F_INET6,
     IPPROTO_IPV6, IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP", BEFORE},
    {"ip-add-membership", OFF(ip_add_membership), VALUE_GROUP, F_IP, 0, 0, NULL,
     BEFORE},
    {"ip-options", OFF(ip_options), VALUE_DATA, F_INET, IPPROTO_IP, IP_OPTIONS,
     "IP_OPTIONS", BEFORE},
    /* What received datagrams come with (src/ancillary.c). A dual-stack
     * socket takes the IPv4 ones for its IPv4 senders. */
    {"so-timestamp", OFF(so_timestamp), VALUE_FLAG, F_IP, SOL_SOCKET,
     SO_TIMESTAMP, "SO_TIMESTAMP", BEFORE},
    {"ip-pktinfo", OFF(ip_pktinfo), VALUE_FLAG, F_IP, IPPROTO_IP, IP_PKTINFO,
     "IP_PKTINFO", BEFORE},
    {"ip-recvtos", OFF(ip_recvtos), VALUE_FLAG, F_IP, IPPROTO_IP, IP_RECVTOS,
     "IP_RECVTOS", BEFORE},
    {"ip-recvttl", OFF(ip_recvttl), VALUE_FLAG, F_IP, IPPROTO_IP, IP_RECVTTL,
     "IP_RECVTTL", BEFORE},
    {"ip-recvopts", OFF(ip_recvopts), VALUE_FLAG, F_IP, IPPROTO_IP, IP_RECVOPTS,
     "IP_RECVOPTS", BEFORE},
    {"ipv6-recvpktinfo", OFF(ipv6_recvpktinfo), VALUE_FLAG, F_INET6,
     IPPROTO_IPV6, IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO", BEFORE},
    {"ipv6-recvhoplimit", OFF(ipv6_recvhoplimit), VALUE_FLAG, F_INET6,
     IPPROTO_IPV6, IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT", BEFORE},
    {"ipv6-recvtclass", OFF(ipv6_recvtclass), VALUE_FLAG, F_INET6, IPPROTO_IPV6,
     IPV6_RECVTCLASS, "IPV6_RECVTCLASS", BEFORE},
    {"ipv6-recvrthdr", OFF(ipv6_recvrthdr), VALUE_FLAG, F_INET6, IPPROTO_IPV6,
     IPV6_RECVRTHDR, "IPV6_RECVRTHDR", BEFORE},
    {"ipv6-recvdstopts", OFF(ipv6_recvdstopts), VALUE_FLAG, F_INET6,
     IPPROTO_IPV6, IPV6_RECVDSTOPTS, "IPV6_RECVDSTOPTS", BEFORE},
    {"ip-recverr", OFF(ip_recverr), VALUE_FLAG, F_IP, IPPROTO_IP, IP_RECVERR,
     "IP_RECVERR", BEFORE},
    {"ipv6-recverr", OFF(ipv6_recverr), VALUE_FLAG, F_INET6, IPPROTO_IPV6,
     IPV6_RECVERR, "IPV6_RECVERR", BEFORE},
    {"ipv6-recvhopopts", OFF(ipv6_recvhopopts), VALUE_FLAG, F_INET6,
     IPPROTO_IPV6, IPV6_RECVHOPOPTS, "IPV6_RECVHOPOPTS", BEFORE},
    {"rcvbuf", OFF(rcvbuf), VALUE_INT, F_ANY, SOL_SOCKET, SO_RCVBUF,
     "SO_RCVBUF", BEFORE | ACCEPTED},
    {"sndbuf", OFF(sndbuf), VALUE_INT, F_ANY, SOL_SOCKET, SO_SNDBUF,
     "SO_SNDBUF", BEFORE | ACCEPTED},
    {"setsockopt-listen", OFF(setsockopt_listen), VALUE_GENERIC, F_ANY, 0, 0,
     NULL, BEFORE},
    {"setsockopt-int", OFF(setsockopt_int), VALUE_GENERIC, F_ANY, 0, 0, NULL,
     CONNECTED | ACCEPTED},
    {"setsockopt-bin", OFF(setsockopt_bin), VALUE_GENERIC, F_ANY, 0, 0, NULL,
     CONNECTED | ACCEPTED},
    {"setsockopt-string", OFF(setsockopt_string), VALUE_GENERIC, F_ANY, 0, 0,
     NULL, CONNECTED | ACCEPTED},
};

#define FIELD(o, row, type) ((const type *)((const char *)(o) + (row)->offset))

static guint family_bit(int family)
{
    switch (family) {
    case AF_INET:
        return F_INET;
    case AF_INET6:
        return F_INET6;
    case AF_UNIX:
        return F_UNIX;
    default:
        return 0;
    }
}

/* One setsockopt(2) call, as the row and the options make it. */
typedef struct {
    int level;
    int name;
    int i;
    struct linger linger;
    struct ip_mreqn mreq4;
    struct ipv6_mreq mreq6;
    gconstpointer data;
    gsize len;
    GBytes *bytes; /* VALUE_DATA's, freed with the call */
} QiocSockoptCall;

gboolean qioc_multicast_group_parse(const char *text, GInetAddress **group,
                                    GInetAddress **local, guint *ifindex,
                                    GError **errp)
{
    g_autofree char *name = g_strdup(text);
    char *colon = strchr(name, ':');
    char *iface = NULL;
    char *close = name[0] == '[' ? strchr(name, ']') : NULL;

    if (close && (close[1] == '\0' || close[1] == ':')) {
        /* socat's [GROUP]:INTERFACE, as ipv6-join-group takes it */
        memmove(name, name + 1, (size_t)(close - name - 1));
        close[-1] = '\0';
        colon = close[1] == ':' ? close + 1 : NULL;
    } else if (colon && strchr(colon + 1, ':')) {
        /* An IPv6 group has colons of its own: the interface follows a
         * '%'. */
        colon = strrchr(name, '%');
    }
    if (colon) {
        *colon = '\0';
        iface = colon + 1;
    }
    *group = g_inet_address_new_from_string(name);
    *local = NULL;
    *ifindex = 0;
    if (!*group || !g_inet_address_get_is_multicast(*group)) {
        g_clear_object(group);
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "\"%s\" is not a multicast group address", name);
        return FALSE;
    }
    if (!iface || !*iface) {
        return TRUE;
    }
    *local = g_inet_address_new_from_string(iface);
    if (!*local) {
        *ifindex = if_nametoindex(iface);
    }
    if (!*local && *ifindex == 0) {
        g_clear_object(group);
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "no network interface \"%s\"", iface);
        return FALSE;
    }
    return TRUE;
}

/* ip-add-membership=: IP_ADD_MEMBERSHIP or IPV6_JOIN_GROUP. */
static gboolean group_call(const char *text, QiocSockoptCall *c)
{
    g_autoptr(GInetAddress) group = NULL;
    g_autoptr(GInetAddress) local = NULL;
    guint ifindex;

    if (!text ||
        !qioc_multicast_group_parse(text, &group, &local, &ifindex, NULL)) {
        return FALSE;
    }
    if (g_inet_address_get_family(group) == G_SOCKET_FAMILY_IPV6) {
        memcpy(&c->mreq6.ipv6mr_multiaddr, g_inet_address_to_bytes(group), 16);
        c->mreq6.ipv6mr_interface = ifindex;
        c->level = IPPROTO_IPV6;
        c->name = IPV6_JOIN_GROUP;
        c->data = &c->mreq6;
        c->len = sizeof(c->mreq6);
        return TRUE;
    }
    memcpy(&c->mreq4.imr_multiaddr, g_inet_address_to_bytes(group), 4);
    if (local && g_inet_address_get_family(local) == G_SOCKET_FAMILY_IPV4) {
        memcpy(&c->mreq4.imr_address, g_inet_address_to_bytes(local), 4);
    }
    c->mreq4.imr_ifindex = (int)ifindex;
    c->level = IPPROTO_IP;
    c->name = IP_ADD_MEMBERSHIP;
    c->data = &c->mreq4;
    c->len = sizeof(c->mreq4);
    return TRUE;
}

/* The call @row stands for, FALSE when its option is unset. */
static gboolean row_call(const QiocSockoptRow *row, const QiocAddrOpts *o,
                         QiocSockoptCall *c)
{
    const QiocSockopt *so;

    c->level = row->level;
    c->name = row->name;
    c->data = &c->i;
    c->len = sizeof(c->i);
    switch (row->value) {
    case VALUE_FLAG:
        c->i = 1;
        return *FIELD(o, row, int) == 1;
    case VALUE_INT:
        c->i = (int)*FIELD(o, row, gint64);
        return *FIELD(o, row, gint64) >= 0;
    case VALUE_LINGER:
        c->linger = (struct linger){1, (int)*FIELD(o, row, gint64)};
        c->data = &c->linger;
        c->len = sizeof(c->linger);
        return *FIELD(o, row, gint64) >= 0;
    case VALUE_TEXT:
        c->data = *FIELD(o, row, char *);
        c->len = c->data ? strlen(c->data) : 0;
        return c->data != NULL;
    case VALUE_DATA:
        return *FIELD(o, row, char *) != NULL;
    case VALUE_GENERIC:
        so = *FIELD(o, row, QiocSockopt *);
        if (!so) {
            return FALSE;
        }
        c->level = so->level;
        c->name = so->name;
        c->data = g_bytes_get_data(so->value, &c->len);
        return TRUE;
    case VALUE_GROUP:
        return group_call(*FIELD(o, row, char *), c);
    }
    g_return_val_if_reached(FALSE);
}

/* "interface=eth9: setsockopt SO_BINDTODEVICE: No such device" */
static void row_error(const QiocEndpoint *ep, const QiocSockoptRow *row,
                      int err, GError **errp)
{
    const char *text = g_hash_table_lookup(ep->addr->opts, row->option);

    qioc_error_errno(errp, err, "%s=%s: setsockopt%s%s", row->option,
                     text ? text : "1", row->cname ? " " : "",
                     row->cname ? row->cname : "");
}

/* VALUE_DATA: the bytes of the text, or FALSE with @errp set. */
static gboolean data_call(const QiocEndpoint *ep, const QiocSockoptRow *row,
                          QiocSockoptCall *c, GError **errp)
{
    const char *text = *FIELD(&ep->addr->o, row, char *);
    g_autofree char *why = NULL;

    c->bytes = qioc_dalan_to_bytes(text, &why);
    if (!c->bytes) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s=%s: %s",
                    row->option, text, why);
        return FALSE;
    }
    c->data = g_bytes_get_data(c->bytes, &c->len);
    return TRUE;
}

gboolean qioc_sockopt_apply(const QiocEndpoint *ep, int fd, int family,
                            QiocSockoptPhase phase, GError **errp)
{
    for (guint i = 0; i < G_N_ELEMENTS(sockopt_rows); i++) {
        const QiocSockoptRow *row = &sockopt_rows[i];
        QiocSockoptCall c = {0};
        gboolean ok;

        if (!(row->phases & phase) || !(row->families & family_bit(family)) ||
            !row_call(row, &ep->addr->o, &c)) {
            continue;
        }
        if (row->value == VALUE_DATA && !data_call(ep, row, &c, errp)) {
            return FALSE;
        }
        ok = setsockopt(fd, c.level, c.name, c.data, (socklen_t)c.len) == 0;
        if (!ok) {
            row_error(ep, row, errno, errp);
        }
        g_clear_pointer(&c.bytes, g_bytes_unref);
        if (!ok) {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean sockopt_setup(int fd, int family, gpointer data, GError **errp)
{
    return qioc_sockopt_apply(data, fd, family, QIOC_SOCKOPT_BEFORE, errp);
}

/* Whether some option of @ep is set in @phase. */
static gboolean any_in(const QiocEndpoint *ep, QiocSockoptPhase phase)
{
    for (guint i = 0; i < G_N_ELEMENTS(sockopt_rows); i++) {
        QiocSockoptCall c;

        if ((sockopt_rows[i].phases & phase) &&
            row_call(&sockopt_rows[i], &ep->addr->o, &c)) {
            return TRUE;
        }
    }
    return FALSE;
}

void qioc_sockopt_init(QIOChannelSocketOptions *sopts, const QiocEndpoint *ep)
{
    if (any_in(ep, QIOC_SOCKOPT_BEFORE)) {
        sopts->setup = sockopt_setup;
        sopts->setup_data = (gpointer)ep;
    }
}

/* AF_INET, AF_INET6 or AF_UNIX; 0 if the socket cannot say. */
static int socket_family(int fd)
{
    int family = 0;
    socklen_t len = sizeof(family);

    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len);
    return family;
}

gboolean qioc_sockopt_apply_socket(const QiocEndpoint *ep,
                                   QIOChannelSocket *sioc,
                                   QiocSockoptPhase phase, GError **errp)
{
    int fd = qio_channel_socket_get_fd(sioc);

    /* most connections set none: no getsockopt() to learn the family */
    return !any_in(ep, phase) ||
           qioc_sockopt_apply(ep, fd, socket_family(fd), phase, errp);
}
