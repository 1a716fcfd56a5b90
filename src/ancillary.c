/*
 * qioc - the ancillary data received datagrams come with
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * so-timestamp, ip-pktinfo, ip-recvttl and the others ask the kernel to
 * hand each datagram over with control messages (cmsg(3)); libqio keeps
 * those of the last datagram read, and of the first of each session of a
 * fork server. Here they become what socat makes of them: items of a
 * type, a name and a value, logged at -dd as "ancillary message: IP_TTL:
 * ttl=53", and given to an EXEC or SYSTEM child as variables
 * (SOCAT_IP_TTL=53, and QIOC_IP_TTL=53), in socat's formats. One table
 * says, for each message, how to decode it.
 */
#include "config.h"

#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "ancillary.h"
#include "log.h"

gboolean qioc_ancillary_wanted(const QiocAddrOpts *o)
{
    return o->so_timestamp || o->ip_pktinfo || o->ip_recvtos || o->ip_recvttl ||
           o->ip_recvopts || o->ipv6_recvpktinfo || o->ipv6_recvhoplimit ||
           o->ipv6_recvtclass || o->ipv6_recvrthdr || o->ipv6_recvdstopts ||
           o->ipv6_recvhopopts;
}

void qioc_ancillary_keep(const QiocEndpoint *ep, QIOChannelSocket *sioc)
{
    if (qioc_ancillary_wanted(&ep->addr->o)) {
        qio_channel_socket_set_keep_control(sioc, TRUE);
    }
}

GBytes *qioc_ancillary_of(QIOChannel *ioc)
{
    if (QIO_IS_CHANNEL_DUAL(ioc)) {
        ioc = qio_channel_dual_get_reader(QIO_CHANNEL_DUAL(ioc));
    }
    if (QIO_IS_CHANNEL_SOCKET(ioc)) {
        return qio_channel_socket_get_last_control(QIO_CHANNEL_SOCKET(ioc));
    }
    if (QIO_IS_CHANNEL_DATAGRAM_PEER(ioc)) {
        return qio_channel_datagram_peer_get_control(
            QIO_CHANNEL_DATAGRAM_PEER(ioc));
    }
    return NULL;
}

/* ---------------------------------------------------------------- items */

/* One item of a message: "IP_PKTINFO", "dstaddr", "IP_DSTADDR", value. */
typedef struct {
    const char *type;
    const char *name;
    const char *env; /* the variable, after the prefix; NULL: none */
    char *value;
} QiocAncItem;

typedef void (*QiocAncFunc)(const QiocAncItem *item, gpointer data);

static void item(QiocAncFunc fn, gpointer data, const char *type,
                 const char *name, const char *env, char *value)
{
    QiocAncItem it = {type, name, env, value};

    fn(&it, data);
    g_free(value);
}

/* Bytes as socat dumps them: "x" and two hex digits a byte. */
static char *hex_dump(const guint8 *p, size_t len)
{
    GString *s = g_string_new("x");

    for (size_t i = 0; i < len; i++) {
        g_string_append_printf(s, "%02x", p[i]);
    }
    return g_string_free(s, FALSE);
}

static char *ifname(unsigned index)
{
    char name[IF_NAMESIZE] = "";

    return g_strdup(if_indextoname(index, name) ? name : "");
}

static char *ipv4_text(const struct in_addr *a)
{
    g_autoptr(GInetAddress) ia =
        g_inet_address_new_from_bytes((const guint8 *)a, G_SOCKET_FAMILY_IPV4);

    return g_inet_address_to_string(ia);
}

/* socat's IPv6 form: bracketed, every group of four hex digits. */
static char *ipv6_text(const struct in6_addr *a)
{
    g_autoptr(GInetAddress) ia =
        g_inet_address_new_from_bytes(a->s6_addr, G_SOCKET_FAMILY_IPV6);

    return qioc_socat_ipv6(ia);
}

/* ---------------------------------------------------------------- decoders */

typedef struct {
    const guint8 *data;
    size_t len;
} QiocAncData;

static int data_int(const QiocAncData *d)
{
    int v = 0;

    memcpy(&v, d->data, MIN(d->len, sizeof(v)));
    return v;
}

/* ctime(3)'s form without its newline, then the microseconds. */
static void dec_timestamp(const QiocAncData *d, QiocAncFunc fn, gpointer data)
{
    struct timeval tv = {0};
    struct tm tm;
    char when[64];
    time_t t;

    memcpy(&tv, d->data, MIN(d->len, sizeof(tv)));
    t = tv.tv_sec;
    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm);
    item(fn, data, "SCM_TIMESTAMP", "timestamp", "TIMESTAMP",
         g_strdup_printf("%s, %06ld usecs", when, (long)tv.tv_usec));
}

static void dec_ip_pktinfo(const QiocAncData *d, QiocAncFunc fn, gpointer data)
{
    struct in_pktinfo pi = {0};

    memcpy(&pi, d->data, MIN(d->len, sizeof(pi)));
    item(fn, data, "IP_PKTINFO", "if", "IP_IF", ifname(pi.ipi_ifindex));
    item(fn, data, "IP_PKTINFO", "locaddr", "IP_LOCADDR",
         ipv4_text(&pi.ipi_spec_dst));
    item(fn, data, "IP_PKTINFO", "dstaddr", "IP_DSTADDR",
         ipv4_text(&pi.ipi_addr));
}

/* IP_TOS is one byte; IP_TTL an int. */
static void dec_ip_tos(const QiocAncData *d, QiocAncFunc fn, gpointer data)
{
    item(fn, data, "IP_TOS", "tos", "IP_TOS",
         g_strdup_printf("%u", d->len ? d->data[0] : 0));
}

static void dec_ip_ttl(const QiocAncData *d, QiocAncFunc fn, gpointer data)
{
    item(fn, data, "IP_TTL", "ttl", "IP_TTL",
         g_strdup_printf("%u", (unsigned)data_int(d)));
}

static void dec_ip_options(const QiocAncData *d, QiocAncFunc fn, gpointer data)
{
    item(fn, data, "IP_OPTIONS", "options", "IP_OPTIONS",
         hex_dump(d->data, d->len));
}

static void dec_ipv6_pktinfo(const QiocAncData *d, QiocAncFunc fn,
                             gpointer data)
{
    struct in6_pktinfo pi = {0};

    memcpy(&pi, d->data, MIN(d->len, sizeof(pi)));
    item(fn, data, "IPV6_PKTINFO", "dstaddr", "IPV6_DSTADDR",
         ipv6_text(&pi.ipi6_addr));
    item(fn, data, "IPV6_PKTINFO", "if", "IPV6_IF", ifname(pi.ipi6_ifindex));
}

static void dec_ipv6_hoplimit(const QiocAncData *d, QiocAncFunc fn,
                              gpointer data)
{
    item(fn, data, "IPV6_HOPLIMIT", "hoplimit", "IPV6_HOPLIMIT",
         g_strdup_printf("%d", data_int(d)));
}

/* socat dumps the class as four bytes, most significant first. */
static void dec_ipv6_tclass(const QiocAncData *d, QiocAncFunc fn, gpointer data)
{
    item(fn, data, "IPV6_TCLASS", "tclass", "IPV6_TCLASS",
         g_strdup_printf("x%08x", (unsigned)data_int(d)));
}

static void dec_ipv6_rthdr(const QiocAncData *d, QiocAncFunc fn, gpointer data)
{
    item(fn, data, "IPV6_RTHDR", "rthdr", "IPV6_RTHDR",
         hex_dump(d->data, d->len));
}

static void dec_ipv6_dstopts(const QiocAncData *d, QiocAncFunc fn,
                             gpointer data)
{
    item(fn, data, "IPV6_DSTOPTS", "dstopts", "IPV6_DSTOPTS",
         hex_dump(d->data, d->len));
}

static void dec_ipv6_hopopts(const QiocAncData *d, QiocAncFunc fn,
                             gpointer data)
{
    item(fn, data, "IPV6_HOPOPTS", "hopopts", "IPV6_HOPOPTS",
         hex_dump(d->data, d->len));
}

static const struct {
    int level;
    int type;
    void (*decode)(const QiocAncData *d, QiocAncFunc fn, gpointer data);
} decoders[] = {
    {SOL_SOCKET, SCM_TIMESTAMP, dec_timestamp},
    {IPPROTO_IP, IP_PKTINFO, dec_ip_pktinfo},
    {IPPROTO_IP, IP_TOS, dec_ip_tos},
    {IPPROTO_IP, IP_TTL, dec_ip_ttl},
    {IPPROTO_IP, IP_OPTIONS, dec_ip_options},
    {IPPROTO_IP, IP_RECVOPTS, dec_ip_options}, /* Linux's type for them */
    {IPPROTO_IPV6, IPV6_PKTINFO, dec_ipv6_pktinfo},
    {IPPROTO_IPV6, IPV6_HOPLIMIT, dec_ipv6_hoplimit},
    {IPPROTO_IPV6, IPV6_TCLASS, dec_ipv6_tclass},
    {IPPROTO_IPV6, IPV6_RTHDR, dec_ipv6_rthdr},
    {IPPROTO_IPV6, IPV6_DSTOPTS, dec_ipv6_dstopts},
    {IPPROTO_IPV6, IPV6_HOPOPTS, dec_ipv6_hopopts},
};

/* A message no row knows: its bytes, under socat's generic names. */
static void dec_other(const struct cmsghdr *c, const QiocAncData *d,
                      QiocAncFunc fn, gpointer data)
{
    g_autofree char *type = NULL;
    g_autofree char *name = NULL;

    switch (c->cmsg_level) {
    case SOL_SOCKET:
        type = g_strdup_printf("SOCKET.%d", c->cmsg_type);
        break;
    case IPPROTO_IP:
        type = g_strdup("IP");
        name = g_strdup_printf("type_%d", c->cmsg_type);
        break;
    case IPPROTO_IPV6:
        type = g_strdup_printf("IPV6.%d", c->cmsg_type);
        break;
    default:
        type = g_strdup_printf("LEVEL%d", c->cmsg_level);
        name = g_strdup_printf("type%d", c->cmsg_type);
        break;
    }
    item(fn, data, type, name ? name : "data", NULL, hex_dump(d->data, d->len));
}

/* Calls @fn for each item of the messages in @control. */
static void ancillary_each(GBytes *control, QiocAncFunc fn, gpointer data)
{
    struct msghdr msg = {0};
    gsize len = 0;

    if (!control) {
        return;
    }
    msg.msg_control = (void *)g_bytes_get_data(control, &len);
    msg.msg_controllen = len;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        QiocAncData d = {CMSG_DATA(c),
                         c->cmsg_len - (size_t)(CMSG_DATA(c) - (guint8 *)c)};
        guint i;

        for (i = 0; i < G_N_ELEMENTS(decoders); i++) {
            if (decoders[i].level == c->cmsg_level &&
                decoders[i].type == c->cmsg_type) {
                decoders[i].decode(&d, fn, data);
                break;
            }
        }
        if (i == G_N_ELEMENTS(decoders)) {
            dec_other(c, &d, fn, data);
        }
    }
}

/* ---------------------------------------------------------------- uses */

static void log_item(const QiocAncItem *it, gpointer data)
{
    qioc_info(2, "ancillary message: %s: %s=%s", it->type, it->name, it->value);
}

void qioc_ancillary_log(GBytes *control)
{
    if (qioc_log_get_level() >= 2) {
        ancillary_each(control, log_item, NULL);
    }
}

typedef struct {
    const char *const *prefixes;
    GPtrArray *env;
} QiocAncEnv;

static void env_item(const QiocAncItem *it, gpointer data)
{
    QiocAncEnv *e = data;

    for (guint i = 0; it->env && e->prefixes[i]; i++) {
        g_ptr_array_add(e->env, g_strdup_printf("%s%s=%s", e->prefixes[i],
                                                it->env, it->value));
    }
}

void qioc_ancillary_env(GBytes *control, const char *const *prefixes,
                        GPtrArray *env)
{
    QiocAncEnv e = {prefixes, env};

    ancillary_each(control, env_item, &e);
}
