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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

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
    VALUE_GENERIC, /* QiocSockopt *, set when not NULL: level, name, bytes */
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
    gconstpointer data;
    gsize len;
} QiocSockoptCall;

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
    case VALUE_GENERIC:
        so = *FIELD(o, row, QiocSockopt *);
        if (!so) {
            return FALSE;
        }
        c->level = so->level;
        c->name = so->name;
        c->data = g_bytes_get_data(so->value, &c->len);
        return TRUE;
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

gboolean qioc_sockopt_apply(const QiocEndpoint *ep, int fd, int family,
                            QiocSockoptPhase phase, GError **errp)
{
    for (guint i = 0; i < G_N_ELEMENTS(sockopt_rows); i++) {
        const QiocSockoptRow *row = &sockopt_rows[i];
        QiocSockoptCall c;

        if (!(row->phases & phase) || !(row->families & family_bit(family)) ||
            !row_call(row, &ep->addr->o, &c)) {
            continue;
        }
        if (setsockopt(fd, c.level, c.name, c.data, (socklen_t)c.len) < 0) {
            row_error(ep, row, errno, errp);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean sockopt_setup(int fd, int family, gpointer data, GError **errp)
{
    return qioc_sockopt_apply(data, fd, family, QIOC_SOCKOPT_BEFORE, errp);
}

/* Whether some option of @ep is set before bind or connect. */
static gboolean any_before(const QiocEndpoint *ep)
{
    for (guint i = 0; i < G_N_ELEMENTS(sockopt_rows); i++) {
        QiocSockoptCall c;

        if ((sockopt_rows[i].phases & QIOC_SOCKOPT_BEFORE) &&
            row_call(&sockopt_rows[i], &ep->addr->o, &c)) {
            return TRUE;
        }
    }
    return FALSE;
}

void qioc_sockopt_init(QIOChannelSocketOptions *sopts, const QiocEndpoint *ep)
{
    if (any_before(ep)) {
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

    return qioc_sockopt_apply(ep, fd, socket_family(fd), phase, errp);
}
