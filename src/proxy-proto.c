/*
 * qioc - the messages of SOCKS4, SOCKS4A, SOCKS5 (RFC 1928, RFC 1929) and
 * HTTP CONNECT, built and parsed without I/O
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * src/proxy-proto.h states the parsers' contract. Everything a parser
 * reads came from the network, so every length is checked against @len
 * before a byte is read, and everything quoted in an error message is
 * escaped to one printable line.
 */
#include "config.h"

#include <string.h>

#include "proxy-proto.h"

/* ---------------------------------------------------------------- common */

#define SOCKS4_VERSION 4
#define SOCKS5_VERSION 5
/* RFC 1929 has a version of its own for the username/password exchange. */
#define SOCKS5_AUTH_VERSION 1
/* A name, user id or password in a length byte, or qioc's limit. */
#define SOCKS_FIELD_MAX 255
/* The fixed heads: SOCKS4 VN CD DSTPORT DSTIP; SOCKS5 VER CMD/REP RSV ATYP. */
#define SOCKS4_HEAD 8
#define SOCKS5_HEAD 4

enum {
    SOCKS_CMD_CONNECT = 1,
};

enum {
    SOCKS5_ATYP_IPV4 = 1,
    SOCKS5_ATYP_NAME = 3,
    SOCKS5_ATYP_IPV6 = 4,
};

enum {
    SOCKS5_METHOD_NONE = 0,
    SOCKS5_METHOD_PASSWORD = 2,
};

enum {
    SOCKS4_GRANTED = 90,
    SOCKS4_REJECTED = 91,
};

/* How much of a line a peer sent goes into an error message. */
#define QUOTE_MAX 200
/* The method of an HTTP request is judged on this many first bytes. */
#define HTTP_METHOD_PEEK 8

/* A reply code, the GIOErrorEnum it becomes and what it means in words. */
typedef struct {
    guint code;
    GIOErrorEnum error;
    const char *words;
} ReplyWords;

static const ReplyWords *reply_lookup(const ReplyWords *table, gsize n,
                                      guint code)
{
    for (gsize i = 0; i < n; i++) {
        if (table[i].code == code) {
            return &table[i];
        }
    }
    return NULL;
}

static void put_u8(GByteArray *out, guint8 b)
{
    g_byte_array_append(out, &b, 1);
}

/* Ports go in network byte order. */
static void put_u16(GByteArray *out, guint16 v)
{
    guint8 b[2] = {v >> 8, v & 0xff};

    g_byte_array_append(out, b, sizeof(b));
}

static void put_str(GByteArray *out, const char *s)
{
    g_byte_array_append(out, (const guint8 *)s, strlen(s));
}

static guint16 get_u16(const guint8 *p)
{
    return (guint16)(p[0] << 8 | p[1]);
}

/*
 * Where a message of @total bytes stands: the bytes it still needs, or
 * complete. The driver reads only what it is asked for, so more than
 * @total bytes means it broke the contract; saying so is the one answer
 * that neither reads past the message nor returns less than @len.
 */
static gssize message_end(gsize len, gsize total, const char *who,
                          GError **errp)
{
    if (len < total) {
        return (gssize)total;
    }
    if (len > total) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "%s: %" G_GSIZE_FORMAT " bytes past the end of the message",
                    who, len - total);
        return -1;
    }
    return (gssize)len;
}

/*
 * The first line of @buf (up to CR or LF) as one printable line: what a
 * peer sent may hold any byte, so all but printable ASCII is escaped as
 * \xHH, and a long line is cut.
 */
static char *quote_line(const guint8 *buf, gsize len)
{
    GString *s = g_string_new(NULL);
    gsize i;

    for (i = 0; i < len && buf[i] != '\r' && buf[i] != '\n'; i++) {
        if (i == QUOTE_MAX) {
            g_string_append(s, "...");
            break;
        }
        if (buf[i] == '\\') {
            g_string_append(s, "\\\\");
        } else if (buf[i] >= 0x20 && buf[i] < 0x7f) {
            g_string_append_c(s, (char)buf[i]);
        } else {
            g_string_append_printf(s, "\\x%02x", buf[i]);
        }
    }
    return g_string_free(s, FALSE);
}

/* "SOCKS5 proxy: not a SOCKS5 reply (version byte 0x48)" and the like. */
static gssize not_a(const char *who, const char *what, guint8 version,
                    GError **errp)
{
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                "%s: not a %s (version byte 0x%02x)", who, what, version);
    return -1;
}

/* The SOCKS commands, for saying which one qioc does not do. */
static const struct {
    guint8 code;
    gboolean socks4;
    const char *name;
} socks_commands[] = {
    {1, TRUE, "CONNECT"},
    {2, TRUE, "BIND"},
    {3, FALSE, "UDP ASSOCIATE"},
};

/* Anything but CONNECT is an error. */
static gssize command_error(const char *who, guint8 cmd, gboolean socks4,
                            GError **errp)
{
    for (gsize i = 0; i < G_N_ELEMENTS(socks_commands); i++) {
        if (socks_commands[i].code == cmd &&
            (socks_commands[i].socks4 || !socks4)) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                        "%s: %s is not supported (command %u)", who,
                        socks_commands[i].name, cmd);
            return -1;
        }
    }
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                "%s: unknown command %u", who, cmd);
    return -1;
}

/* ---------------------------------------------------------------- SOCKS4 */

/* SOCKS4A's marker: DSTIP 0.0.0.x with x not 0 means "a name follows". */
static const guint8 socks4a_marker[4] = {0, 0, 0, 1};

static gboolean is_socks4a_marker(const guint8 *ip)
{
    return ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0;
}

/* A user id or name, as the protocols' length bytes allow. */
static gboolean check_field(const char *who, const char *what, const char *s,
                            gboolean empty_ok, GError **errp)
{
    gsize n = strlen(s);

    if (n > SOCKS_FIELD_MAX || (n == 0 && !empty_ok)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "%s: the %s must be %s%u bytes long", who, what,
                    empty_ok ? "at most " : "1 to ", SOCKS_FIELD_MAX);
        return FALSE;
    }
    return TRUE;
}

gboolean qioc_socks4_request(GByteArray *out, const char *host, guint16 port,
                             const char *user, gboolean socks4a, GError **errp)
{
    g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(host);
    const char *who = socks4a ? "SOCKS4A" : "SOCKS4";

    user = user ? user : "";
    if (!check_field(who, "user id", user, TRUE, errp)) {
        return FALSE;
    }
    if (ia && g_inet_address_get_family(ia) != G_SOCKET_FAMILY_IPV4) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                    "%s cannot carry an IPv6 address (%s)", who, host);
        return FALSE;
    }
    /* The target would read as SOCKS4A's marker. */
    if (ia && is_socks4a_marker(g_inet_address_to_bytes(ia))) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "%s cannot carry %s: it marks a SOCKS4A request", who,
                    host);
        return FALSE;
    }
    if (!ia && !socks4a) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                    "SOCKS4 cannot carry a host name (%s): resolve it first, "
                    "or use SOCKS4A",
                    host);
        return FALSE;
    }
    if (!ia && !check_field(who, "host name", host, FALSE, errp)) {
        return FALSE;
    }

    put_u8(out, SOCKS4_VERSION);
    put_u8(out, SOCKS_CMD_CONNECT);
    put_u16(out, port);
    g_byte_array_append(out, ia ? g_inet_address_to_bytes(ia) : socks4a_marker,
                        4);
    g_byte_array_append(out, (const guint8 *)user, strlen(user) + 1);
    if (!ia) {
        g_byte_array_append(out, (const guint8 *)host, strlen(host) + 1);
    }
    return TRUE;
}

static const ReplyWords socks4_replies[] = {
    {91, G_IO_ERROR_CONNECTION_REFUSED, "request rejected or failed"},
    {92, G_IO_ERROR_PROXY_FAILED,
     "rejected: it cannot reach the client's identd"},
    {93, G_IO_ERROR_PERMISSION_DENIED,
     "rejected: the client's identd reports a different user id"},
};

gssize qioc_socks4_reply_parse(const guint8 *buf, gsize len, GError **errp)
{
    const ReplyWords *reply;

    if (len < SOCKS4_HEAD) {
        return SOCKS4_HEAD;
    }
    /* The protocol says 0; some servers answer with their version, 4. */
    if (buf[0] != 0 && buf[0] != SOCKS4_VERSION) {
        return not_a("SOCKS4 proxy", "SOCKS4 reply", buf[0], errp);
    }
    if (buf[1] != SOCKS4_GRANTED) {
        reply =
            reply_lookup(socks4_replies, G_N_ELEMENTS(socks4_replies), buf[1]);
        g_set_error(errp, G_IO_ERROR,
                    reply ? reply->error : G_IO_ERROR_PROXY_FAILED,
                    "SOCKS4 proxy: %s (code %u)",
                    reply ? reply->words : "unknown reply", buf[1]);
        return -1;
    }
    return message_end(len, SOCKS4_HEAD, "SOCKS4 proxy", errp);
}

/*
 * A NUL-terminated field of a SOCKS4 request that starts at @start: 0
 * with its NUL's offset in *@nul, or the bytes to ask for (one more:
 * only the NUL tells the length), or -1 once it is longer than qioc takes.
 */
static gssize socks4_field(const guint8 *buf, gsize len, gsize start,
                           const char *what, gsize *nul, GError **errp)
{
    gsize avail = len - start;
    const guint8 *p = memchr(buf + start, 0, MIN(avail, SOCKS_FIELD_MAX + 1));

    if (p) {
        *nul = (gsize)(p - buf);
        return 0;
    }
    if (avail > SOCKS_FIELD_MAX) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                    "SOCKS4 client: %s over %u bytes", what, SOCKS_FIELD_MAX);
        return -1;
    }
    return (gssize)len + 1;
}

static void request_set_target(QiocProxyRequest *req, int version, char *host,
                               guint16 port)
{
    req->version = version;
    g_free(req->host);
    req->host = host;
    req->port = port;
}

static void request_set_credentials(QiocProxyRequest *req, char *user,
                                    char *pass)
{
    g_free(req->user);
    req->user = user;
    g_free(req->pass);
    req->pass = pass;
}

void qioc_proxy_request_clear(QiocProxyRequest *req)
{
    g_clear_pointer(&req->host, g_free);
    g_clear_pointer(&req->user, g_free);
    g_clear_pointer(&req->pass, g_free);
    req->version = 0;
    req->port = 0;
}

gssize qioc_socks4_request_parse(const guint8 *buf, gsize len,
                                 QiocProxyRequest *req, GError **errp)
{
    const char *who = "SOCKS4 client";
    gboolean socks4a;
    gsize user_nul;
    gsize name_nul = 0;
    gssize ret;
    char *host;

    if (len < SOCKS4_HEAD) {
        return SOCKS4_HEAD;
    }
    if (buf[0] != SOCKS4_VERSION) {
        return not_a(who, "SOCKS4 request", buf[0], errp);
    }
    if (buf[1] != SOCKS_CMD_CONNECT) {
        return command_error(who, buf[1], TRUE, errp);
    }
    socks4a = is_socks4a_marker(buf + 4);

    ret = socks4_field(buf, len, SOCKS4_HEAD, "user id", &user_nul, errp);
    if (ret != 0) {
        return ret;
    }
    if (socks4a) {
        ret =
            socks4_field(buf, len, user_nul + 1, "host name", &name_nul, errp);
        if (ret != 0) {
            return ret;
        }
        if (name_nul == user_nul + 1) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                        "%s: SOCKS4A request with an empty host name", who);
            return -1;
        }
    }
    ret = message_end(len, (socks4a ? name_nul : user_nul) + 1, who, errp);
    if (ret != (gssize)len) {
        return ret;
    }

    if (socks4a) {
        host = g_strdup((const char *)buf + user_nul + 1);
    } else {
        host = g_strdup_printf("%u.%u.%u.%u", buf[4], buf[5], buf[6], buf[7]);
    }
    request_set_target(req, 4, host, get_u16(buf + 2));
    /* An empty user id is none. */
    request_set_credentials(
        req, user_nul > SOCKS4_HEAD ? g_strdup((const char *)buf + 8) : NULL,
        NULL);
    return ret;
}

void qioc_socks4_reply(GByteArray *out, gboolean granted)
{
    /* DSTPORT and DSTIP mean nothing in the answer to CONNECT. */
    guint8 reply[SOCKS4_HEAD] = {0, granted ? SOCKS4_GRANTED : SOCKS4_REJECTED};

    g_byte_array_append(out, reply, sizeof(reply));
}

/* ---------------------------------------------------------------- SOCKS5 */

/* "no authentication" or "no authentication, username/password". */
static const char *offered_methods(gboolean password)
{
    return password ? "no authentication, username/password"
                    : "no authentication";
}

void qioc_socks5_greeting(GByteArray *out, gboolean password)
{
    put_u8(out, SOCKS5_VERSION);
    put_u8(out, password ? 2 : 1);
    put_u8(out, SOCKS5_METHOD_NONE);
    if (password) {
        put_u8(out, SOCKS5_METHOD_PASSWORD);
    }
}

gssize qioc_socks5_method_parse(const guint8 *buf, gsize len, gboolean password,
                                guint8 *method, GError **errp)
{
    const char *who = "SOCKS5 proxy";
    guint8 m;

    if (len < 2) {
        return 2;
    }
    if (buf[0] != SOCKS5_VERSION) {
        return not_a(who, "SOCKS5 reply", buf[0], errp);
    }
    m = buf[1];
    if (m == 0xff) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                    "%s: accepts none of the methods offered (%s)", who,
                    offered_methods(password));
        return -1;
    }
    if (m != SOCKS5_METHOD_NONE && !(m == SOCKS5_METHOD_PASSWORD && password)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_PROXY_FAILED,
                    "%s: chose method %u, not one of those offered (%s)", who,
                    m, offered_methods(password));
        return -1;
    }
    *method = m;
    return message_end(len, 2, who, errp);
}

gboolean qioc_socks5_auth_request(GByteArray *out, const char *user,
                                  const char *pass, GError **errp)
{
    if (!check_field("SOCKS5", "user name", user, FALSE, errp) ||
        !check_field("SOCKS5", "password", pass, FALSE, errp)) {
        return FALSE;
    }
    put_u8(out, SOCKS5_AUTH_VERSION);
    put_u8(out, (guint8)strlen(user));
    put_str(out, user);
    put_u8(out, (guint8)strlen(pass));
    put_str(out, pass);
    return TRUE;
}

gssize qioc_socks5_auth_parse(const guint8 *buf, gsize len, GError **errp)
{
    const char *who = "SOCKS5 proxy";

    if (len < 2) {
        return 2;
    }
    /* Some servers answer with the SOCKS version instead of RFC 1929's. */
    if (buf[0] != SOCKS5_AUTH_VERSION && buf[0] != SOCKS5_VERSION) {
        return not_a(who, "username/password reply", buf[0], errp);
    }
    if (buf[1] != 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                    "%s: wrong username or password", who);
        return -1;
    }
    return message_end(len, 2, who, errp);
}

gboolean qioc_socks5_connect_request(GByteArray *out, const char *host,
                                     guint16 port, GError **errp)
{
    g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(host);

    if (!ia && !check_field("SOCKS5", "host name", host, FALSE, errp)) {
        return FALSE;
    }
    put_u8(out, SOCKS5_VERSION);
    put_u8(out, SOCKS_CMD_CONNECT);
    put_u8(out, 0);
    if (!ia) {
        put_u8(out, SOCKS5_ATYP_NAME);
        put_u8(out, (guint8)strlen(host));
        put_str(out, host);
    } else if (g_inet_address_get_family(ia) == G_SOCKET_FAMILY_IPV4) {
        put_u8(out, SOCKS5_ATYP_IPV4);
        g_byte_array_append(out, g_inet_address_to_bytes(ia), 4);
    } else {
        put_u8(out, SOCKS5_ATYP_IPV6);
        g_byte_array_append(out, g_inet_address_to_bytes(ia), 16);
    }
    put_u16(out, port);
    return TRUE;
}

/*
 * The length of a SOCKS5 request or reply whose head is in @buf: the
 * head, the address of type buf[3], the port. A name's length is its
 * first byte, so until that is in, the answer covers the head and that
 * byte. 0 for an unknown address type.
 */
static gsize socks5_length(const guint8 *buf, gsize len)
{
    switch (buf[3]) {
    case SOCKS5_ATYP_IPV4:
        return SOCKS5_HEAD + 4 + 2;
    case SOCKS5_ATYP_IPV6:
        return SOCKS5_HEAD + 16 + 2;
    case SOCKS5_ATYP_NAME:
        return len <= SOCKS5_HEAD ? SOCKS5_HEAD + 1
                                  : SOCKS5_HEAD + 1 + buf[4] + 2;
    default:
        return 0;
    }
}

static const ReplyWords socks5_replies[] = {
    {1, G_IO_ERROR_PROXY_FAILED, "general failure"},
    {2, G_IO_ERROR_PERMISSION_DENIED, "connection not allowed by ruleset"},
    {3, G_IO_ERROR_NETWORK_UNREACHABLE, "network unreachable"},
    {4, G_IO_ERROR_HOST_UNREACHABLE, "host unreachable"},
    {5, G_IO_ERROR_CONNECTION_REFUSED, "connection refused"},
    {6, G_IO_ERROR_PROXY_FAILED, "TTL expired"},
    {7, G_IO_ERROR_PROXY_FAILED, "command not supported"},
    {8, G_IO_ERROR_PROXY_FAILED, "address type not supported"},
};

gssize qioc_socks5_reply_parse(const guint8 *buf, gsize len, GError **errp)
{
    const char *who = "SOCKS5 proxy";
    const ReplyWords *reply;
    gsize total;

    if (len < SOCKS5_HEAD) {
        return SOCKS5_HEAD;
    }
    if (buf[0] != SOCKS5_VERSION) {
        return not_a(who, "SOCKS5 reply", buf[0], errp);
    }
    if (buf[1] != 0) {
        reply =
            reply_lookup(socks5_replies, G_N_ELEMENTS(socks5_replies), buf[1]);
        if (reply) {
            g_set_error(errp, G_IO_ERROR, reply->error, "%s: %s (reply %u)",
                        who, reply->words, buf[1]);
        } else {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_PROXY_FAILED,
                        "%s: unknown reply %u", who, buf[1]);
        }
        return -1;
    }
    total = socks5_length(buf, len);
    if (total == 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "%s: unknown address type %u in its reply", who, buf[3]);
        return -1;
    }
    /* The bound address is read and dropped: qioc has no use for it. */
    return message_end(len, total, who, errp);
}

gssize qioc_socks5_greeting_parse(const guint8 *buf, gsize len, gboolean *none,
                                  gboolean *password, GError **errp)
{
    const char *who = "SOCKS5 client";
    gssize ret;

    if (len < 2) {
        return 2;
    }
    if (buf[0] != SOCKS5_VERSION) {
        return not_a(who, "SOCKS5 greeting", buf[0], errp);
    }
    /* No methods at all is taken too: the answer is 0xFF. */
    ret = message_end(len, 2 + (gsize)buf[1], who, errp);
    if (ret != (gssize)len) {
        return ret;
    }
    *none = memchr(buf + 2, SOCKS5_METHOD_NONE, buf[1]) != NULL;
    *password = memchr(buf + 2, SOCKS5_METHOD_PASSWORD, buf[1]) != NULL;
    return ret;
}

void qioc_socks5_method_reply(GByteArray *out, guint8 method)
{
    put_u8(out, SOCKS5_VERSION);
    put_u8(out, method);
}

gssize qioc_socks5_auth_request_parse(const guint8 *buf, gsize len,
                                      QiocProxyRequest *req, GError **errp)
{
    const char *who = "SOCKS5 client";
    gsize ulen;
    gsize plen;
    gssize ret;

    if (len < 2) {
        return 2;
    }
    if (buf[0] != SOCKS5_AUTH_VERSION) {
        return not_a(who, "username/password request", buf[0], errp);
    }
    ulen = buf[1];
    if (len < 2 + ulen + 1) {
        return (gssize)(2 + ulen + 1);
    }
    plen = buf[2 + ulen];
    ret = message_end(len, 3 + ulen + plen, who, errp);
    if (ret != (gssize)len) {
        return ret;
    }
    /* A NUL would cut the C string short of what was sent. */
    if (memchr(buf + 2, 0, ulen) || memchr(buf + 3 + ulen, 0, plen)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "%s: a NUL byte in the user name or password", who);
        return -1;
    }
    req->version = 5;
    request_set_credentials(req, g_strndup((const char *)buf + 2, ulen),
                            g_strndup((const char *)buf + 3 + ulen, plen));
    return ret;
}

void qioc_socks5_auth_reply(GByteArray *out, gboolean ok)
{
    put_u8(out, SOCKS5_AUTH_VERSION);
    put_u8(out, ok ? 0 : 1);
}

/* The target of a complete SOCKS5 request, as text; NULL for a bad name. */
static char *socks5_host(const guint8 *buf, GError **errp)
{
    const char *who = "SOCKS5 client";
    g_autoptr(GInetAddress) ia = NULL;
    gsize n = buf[4];

    switch (buf[3]) {
    case SOCKS5_ATYP_IPV4:
        ia = g_inet_address_new_from_bytes(buf + 4, G_SOCKET_FAMILY_IPV4);
        return g_inet_address_to_string(ia);
    case SOCKS5_ATYP_IPV6:
        ia = g_inet_address_new_from_bytes(buf + 4, G_SOCKET_FAMILY_IPV6);
        return g_inet_address_to_string(ia);
    default:
        break;
    }
    if (n == 0 || memchr(buf + 5, 0, n)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "%s: %s host name", who,
                    n == 0 ? "an empty" : "a NUL byte in the");
        return NULL;
    }
    return g_strndup((const char *)buf + 5, n);
}

gssize qioc_socks5_request_parse(const guint8 *buf, gsize len,
                                 QiocProxyRequest *req, guint8 *rep,
                                 GError **errp)
{
    const char *who = "SOCKS5 client";
    gsize total;
    gssize ret;
    char *host;

    if (len < SOCKS5_HEAD) {
        return SOCKS5_HEAD;
    }
    *rep = 1;
    if (buf[0] != SOCKS5_VERSION) {
        return not_a(who, "SOCKS5 request", buf[0], errp);
    }
    if (buf[1] != SOCKS_CMD_CONNECT) {
        *rep = 7;
        return command_error(who, buf[1], FALSE, errp);
    }
    total = socks5_length(buf, len);
    if (total == 0) {
        *rep = 8;
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                    "%s: unknown address type %u", who, buf[3]);
        return -1;
    }
    ret = message_end(len, total, who, errp);
    if (ret != (gssize)len) {
        return ret;
    }
    host = socks5_host(buf, errp);
    if (!host) {
        return -1;
    }
    request_set_target(req, 5, host, get_u16(buf + total - 2));
    *rep = 0;
    return ret;
}

void qioc_socks5_reply(GByteArray *out, guint8 rep, GSocketAddress *bound)
{
    static const guint8 any[4];
    GInetAddress *ia = NULL;
    GSocketFamily family = G_SOCKET_FAMILY_INVALID;

    if (G_IS_INET_SOCKET_ADDRESS(bound)) {
        ia = g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(bound));
        family = g_inet_address_get_family(ia);
    }
    put_u8(out, SOCKS5_VERSION);
    put_u8(out, rep);
    put_u8(out, 0);
    if (family == G_SOCKET_FAMILY_IPV4 || family == G_SOCKET_FAMILY_IPV6) {
        put_u8(out, family == G_SOCKET_FAMILY_IPV4 ? SOCKS5_ATYP_IPV4
                                                   : SOCKS5_ATYP_IPV6);
        g_byte_array_append(out, g_inet_address_to_bytes(ia),
                            g_inet_address_get_native_size(ia));
        put_u16(out,
                g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)));
        return;
    }
    put_u8(out, SOCKS5_ATYP_IPV4);
    g_byte_array_append(out, any, sizeof(any));
    put_u16(out, 0);
}

/* ---------------------------------------------------------------- HTTP */

/* A line of an HTTP head, without its CR LF. */
typedef struct {
    const guint8 *p;
    gsize n;
} Line;

/*
 * The line that starts at *@pos, moving *@pos past its LF; FALSE when no
 * complete line starts there. A bare LF ends a line too.
 */
static gboolean next_line(const guint8 *buf, gsize len, gsize *pos, Line *line)
{
    const guint8 *nl;

    if (*pos >= len) {
        return FALSE;
    }
    nl = memchr(buf + *pos, '\n', len - *pos);
    if (!nl) {
        return FALSE;
    }
    line->p = buf + *pos;
    line->n = (gsize)(nl - line->p);
    if (line->n > 0 && line->p[line->n - 1] == '\r') {
        line->n--;
    }
    *pos = (gsize)(nl - buf) + 1;
    return TRUE;
}

/*
 * Whether @buf ends with the blank line that closes a head. Only the end
 * is looked at: asked for one byte at a time, the driver hands over the
 * byte that completes the head last.
 */
static gboolean head_complete(const guint8 *buf, gsize len)
{
    return (len >= 2 && buf[len - 2] == '\n' && buf[len - 1] == '\n') ||
           (len >= 3 && memcmp(buf + len - 3, "\n\r\n", 3) == 0);
}

/* "HTTP/1.x" exactly. */
static gboolean http_version(const guint8 *p, gsize n)
{
    return n == 8 && memcmp(p, "HTTP/1.", 7) == 0 && g_ascii_isdigit(p[7]);
}

/*
 * The status of "HTTP/1.x DDD[ REASON]", or 0 if the line is not that.
 * Proxies in the wild put more than one space after the version, and
 * socat reads those too.
 */
static guint status_of_line(const Line *line)
{
    const guint8 *p = line->p;
    gsize i = 8;
    guint status = 0;

    if (line->n < 12 || !http_version(p, 8) || p[i] != ' ') {
        return 0;
    }
    while (i < line->n && p[i] == ' ') {
        i++;
    }
    if (line->n - i < 3 || (line->n - i > 3 && p[i + 3] != ' ')) {
        return 0;
    }
    for (gsize end = i + 3; i < end; i++) {
        if (!g_ascii_isdigit(p[i])) {
            return 0;
        }
        status = status * 10 + (guint)(p[i] - '0');
    }
    return status;
}

static gssize head_too_large(const char *who, GError **errp)
{
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                "%s: header block over %u bytes", who, QIOC_HTTP_HEADER_MAX);
    return -1;
}

/* What a status other than 2xx from a proxy becomes. */
static const ReplyWords http_failures[] = {
    {403, G_IO_ERROR_PERMISSION_DENIED, NULL},
    {407, G_IO_ERROR_PERMISSION_DENIED, NULL},
};

/* Bytes that are no HTTP response, quoted. */
static gssize not_http(const guint8 *buf, gsize len, GError **errp)
{
    g_autofree char *quoted = quote_line(buf, len);

    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                "HTTP proxy: not an HTTP response: \"%s\"", quoted);
    return -1;
}

char *qioc_http_connect_request(const char *host, guint16 port,
                                const char *auth)
{
    GString *s = g_string_new(NULL);
    g_autofree char *target = NULL;

    /* Only an IPv6 literal has a colon, and needs brackets around it. */
    target = strchr(host, ':') ? g_strdup_printf("[%s]:%u", host, port)
                               : g_strdup_printf("%s:%u", host, port);
    g_string_append_printf(s, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target,
                           target);
    if (auth) {
        g_autofree char *cred =
            g_base64_encode((const guchar *)auth, strlen(auth));

        g_string_append_printf(s, "Proxy-Authorization: Basic %s\r\n", cred);
    }
    g_string_append(s, "\r\n");
    return g_string_free(s, FALSE);
}

gssize qioc_http_connect_response_parse(const guint8 *buf, gsize len,
                                        GError **errp)
{
    const char *who = "HTTP proxy";
    gsize pos = 0;
    Line line;
    guint status;

    if (len == 0) {
        return 1;
    }
    /* Whatever does not start like HTTP is refused at its first byte. */
    if (memcmp(buf, "HTTP/1.", MIN(len, 7)) != 0) {
        return not_http(buf, len, errp);
    }
    /* The status line is judged as soon as it is in, the head when done. */
    if (buf[len - 1] == '\n' && next_line(buf, len, &pos, &line)) {
        const ReplyWords *failure;

        status = status_of_line(&line);
        if (status == 0) {
            return not_http(buf, len, errp);
        }
        if (status / 100 != 2) {
            g_autofree char *quoted = quote_line(line.p, line.n);

            failure = reply_lookup(http_failures, G_N_ELEMENTS(http_failures),
                                   status);
            g_set_error(errp, G_IO_ERROR,
                        failure ? failure->error : G_IO_ERROR_PROXY_FAILED,
                        "%s: %s", who, quoted);
            return -1;
        }
        if (head_complete(buf, len)) {
            return (gssize)len;
        }
    }
    if (len >= QIOC_HTTP_HEADER_MAX) {
        return head_too_large(who, errp);
    }
    return (gssize)len + 1;
}

/* RFC 9110's token characters: a method or a header name. */
static gboolean is_tchar(guint8 c)
{
    return g_ascii_isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static gboolean all_tchars(const guint8 *p, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        if (!is_tchar(p[i])) {
            return FALSE;
        }
    }
    return n > 0;
}

/*
 * Whether the first bytes can begin a request line: a token, then a
 * space. A client speaking something else (SOCKS, TLS) is answered at
 * once rather than after QIOC_HTTP_HEADER_MAX bytes.
 */
static gboolean method_plausible(const guint8 *buf, gsize len)
{
    for (gsize i = 0; i < MIN(len, HTTP_METHOD_PEEK); i++) {
        if (buf[i] == ' ') {
            return i > 0;
        }
        if (!is_tchar(buf[i])) {
            return FALSE;
        }
    }
    return TRUE;
}

/* A decimal port, 1 to 65535. */
static gboolean parse_port(const guint8 *p, gsize n, guint16 *port)
{
    guint v = 0;

    if (n == 0 || n > 5) {
        return FALSE;
    }
    for (gsize i = 0; i < n; i++) {
        if (!g_ascii_isdigit(p[i])) {
            return FALSE;
        }
        v = v * 10 + (guint)(p[i] - '0');
    }
    if (v == 0 || v > G_MAXUINT16) {
        return FALSE;
    }
    *port = (guint16)v;
    return TRUE;
}

/* A host name from a request target: no controls, nothing URL-like. */
static gboolean name_plausible(const guint8 *p, gsize n)
{
    if (n == 0 || n > SOCKS_FIELD_MAX) {
        return FALSE;
    }
    for (gsize i = 0; i < n; i++) {
        if (p[i] <= 0x20 || p[i] == 0x7f || strchr(":/[]@\\", p[i])) {
            return FALSE;
        }
    }
    return TRUE;
}

/* CONNECT's target, "HOST:PORT" or "[V6]:PORT": the host and the port. */
static char *parse_target(const guint8 *p, gsize n, guint16 *port)
{
    const guint8 *end = p + n;
    const guint8 *close;
    const guint8 *colon;
    g_autofree char *v6 = NULL;
    g_autoptr(GInetAddress) ia = NULL;

    if (n > 0 && p[0] == '[') {
        close = memchr(p, ']', n);
        if (!close || end - close < 2 || close[1] != ':' ||
            !parse_port(close + 2, (gsize)(end - close - 2), port)) {
            return NULL;
        }
        v6 = g_strndup((const char *)p + 1, (gsize)(close - p - 1));
        ia = g_inet_address_new_from_string(v6);
        if (!ia || g_inet_address_get_family(ia) != G_SOCKET_FAMILY_IPV6 ||
            strlen(v6) != (gsize)(close - p - 1)) {
            return NULL;
        }
        return g_inet_address_to_string(ia);
    }
    colon = memchr(p, ':', n);
    if (!colon || !name_plausible(p, (gsize)(colon - p)) ||
        !parse_port(colon + 1, (gsize)(end - colon - 1), port)) {
        return NULL;
    }
    return g_strndup((const char *)p, (gsize)(colon - p));
}

/*
 * A request the client got wrong: *@status is @code, and the error says
 * @wrong and quotes @line (NULL: a line not to be repeated in a log).
 */
static gboolean bad_request(guint code, const char *wrong, const Line *line,
                            guint *status, GError **errp)
{
    GIOErrorEnum error =
        code == 405 ? G_IO_ERROR_NOT_SUPPORTED : G_IO_ERROR_INVALID_DATA;
    g_autofree char *quoted = NULL;

    *status = code;
    if (!line) {
        g_set_error(errp, G_IO_ERROR, error, "HTTP client: %s", wrong);
        return FALSE;
    }
    quoted = quote_line(line->p, line->n);
    g_set_error(errp, G_IO_ERROR, error, "HTTP client: %s: \"%s\"", wrong,
                quoted);
    return FALSE;
}

/* "CONNECT HOST:PORT HTTP/1.x": the host (and port), else NULL. */
static char *request_line(const Line *line, guint16 *port, guint *status,
                          GError **errp)
{
    const guint8 *end = line->p + line->n;
    const guint8 *sp1 = memchr(line->p, ' ', line->n);
    const guint8 *sp2 = NULL;
    char *host;

    if (sp1) {
        sp2 = memchr(sp1 + 1, ' ', (gsize)(end - sp1 - 1));
    }
    if (!sp2 || !all_tchars(line->p, (gsize)(sp1 - line->p)) ||
        !http_version(sp2 + 1, (gsize)(end - sp2 - 1))) {
        bad_request(400, "malformed request line", line, status, errp);
        return NULL;
    }
    if (sp1 - line->p != 7 || memcmp(line->p, "CONNECT", 7) != 0) {
        bad_request(405, "only CONNECT is allowed", line, status, errp);
        return NULL;
    }
    host = parse_target(sp1 + 1, (gsize)(sp2 - sp1 - 1), port);
    if (!host) {
        bad_request(400, "bad CONNECT target", line, status, errp);
    }
    return host;
}

/* @p without the spaces and tabs around it. */
static Line trim_ows(const guint8 *p, gsize n)
{
    while (n > 0 && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    return (Line){p, n};
}

/* Strict base64: the alphabet, padded to a multiple of 4, '=' at the end. */
static gboolean base64_valid(const guint8 *p, gsize n)
{
    gsize pad = 0;

    if (n == 0 || n % 4 != 0) {
        return FALSE;
    }
    while (pad < 2 && p[n - 1 - pad] == '=') {
        pad++;
    }
    for (gsize i = 0; i < n - pad; i++) {
        if (!g_ascii_isalnum(p[i]) && p[i] != '+' && p[i] != '/') {
            return FALSE;
        }
    }
    return TRUE;
}

/*
 * A Proxy-Authorization value: Basic credentials decoded into *@user and
 * *@pass. Another scheme is left alone (no credentials: the driver may
 * answer 407); malformed Basic credentials are FALSE.
 */
static gboolean basic_credentials(const Line *value, char **user, char **pass)
{
    g_autofree char *b64 = NULL;
    g_autofree guchar *text = NULL;
    gsize scheme = 0;
    gsize n = 0;
    const guchar *colon;
    Line cred;

    while (scheme < value->n && value->p[scheme] != ' ' &&
           value->p[scheme] != '\t') {
        scheme++;
    }
    if (scheme != 5 ||
        g_ascii_strncasecmp((const char *)value->p, "Basic", 5) != 0) {
        return TRUE;
    }
    cred = trim_ows(value->p + scheme, value->n - scheme);
    if (!base64_valid(cred.p, cred.n)) {
        return FALSE;
    }
    b64 = g_strndup((const char *)cred.p, cred.n);
    text = g_base64_decode(b64, &n);
    /* RFC 7617: the user name ends at the first colon; no NUL anywhere. */
    colon = memchr(text, ':', n);
    if (!colon || memchr(text, 0, n)) {
        return FALSE;
    }
    *user = g_strndup((const char *)text, (gsize)(colon - text));
    *pass = g_strndup((const char *)colon + 1, (gsize)(text + n - colon - 1));
    return TRUE;
}

/*
 * The header lines after the request line, from @pos to the blank line:
 * Proxy-Authorization, at most once, into *@user and *@pass (set only
 * when all is well); the others only need to look like headers.
 */
static gboolean request_headers(const guint8 *buf, gsize len, gsize pos,
                                char **user, char **pass, guint *status,
                                GError **errp)
{
    static const char auth_name[] = "Proxy-Authorization";
    g_autofree char *u = NULL;
    g_autofree char *p = NULL;
    gboolean seen = FALSE;
    const guint8 *colon;
    Line line;
    Line value;

    while (next_line(buf, len, &pos, &line) && line.n > 0) {
        colon = memchr(line.p, ':', line.n);
        /* No space before the colon, no folded lines (RFC 9112 5.1, 5.2). */
        if (!colon || !all_tchars(line.p, (gsize)(colon - line.p))) {
            return bad_request(400, "malformed header", &line, status, errp);
        }
        if ((gsize)(colon - line.p) != strlen(auth_name) ||
            g_ascii_strncasecmp((const char *)line.p, auth_name,
                                strlen(auth_name)) != 0) {
            continue;
        }
        value = trim_ows(colon + 1, (gsize)(line.p + line.n - colon - 1));
        if (seen || !basic_credentials(&value, &u, &p)) {
            /* The line holds credentials: it is not quoted. */
            return bad_request(400,
                               seen ? "Proxy-Authorization twice"
                                    : "malformed Proxy-Authorization",
                               NULL, status, errp);
        }
        seen = TRUE;
    }
    *user = g_steal_pointer(&u);
    *pass = g_steal_pointer(&p);
    return TRUE;
}

gssize qioc_http_connect_request_parse(const guint8 *buf, gsize len,
                                       QiocProxyRequest *req, guint *status,
                                       GError **errp)
{
    g_autofree char *host = NULL;
    char *user = NULL;
    char *pass = NULL;
    guint16 port = 0;
    gsize pos = 0;
    Line line;

    if (len == 0) {
        return 1;
    }
    if (!method_plausible(buf, len)) {
        line = (Line){buf, len};
        bad_request(400, "not an HTTP request", &line, status, errp);
        return -1;
    }
    /* The request line is judged as soon as it is in, the head when done. */
    if (buf[len - 1] == '\n' && next_line(buf, len, &pos, &line)) {
        host = request_line(&line, &port, status, errp);
        if (!host) {
            return -1;
        }
        if (head_complete(buf, len)) {
            if (!request_headers(buf, len, pos, &user, &pass, status, errp)) {
                return -1;
            }
            request_set_target(req, 1, g_steal_pointer(&host), port);
            request_set_credentials(req, user, pass);
            *status = 200;
            return (gssize)len;
        }
    }
    if (len >= QIOC_HTTP_HEADER_MAX) {
        *status = 431;
        return head_too_large("HTTP client", errp);
    }
    return (gssize)len + 1;
}

static const struct {
    guint status;
    const char *reason;
} http_reasons[] = {
    {200, "Connection established"},
    {400, "Bad Request"},
    {403, "Forbidden"},
    {405, "Method Not Allowed"},
    {407, "Proxy Authentication Required"},
    {431, "Request Header Fields Too Large"},
    {502, "Bad Gateway"},
    {504, "Gateway Timeout"},
};

static const char *http_reason(guint status)
{
    for (gsize i = 0; i < G_N_ELEMENTS(http_reasons); i++) {
        if (http_reasons[i].status == status) {
            return http_reasons[i].reason;
        }
    }
    return "Error";
}

char *qioc_http_connect_reply(guint status)
{
    GString *s = g_string_new(NULL);

    g_string_append_printf(s, "HTTP/1.1 %u %s\r\n", status,
                           http_reason(status));
    if (status == 407) {
        g_string_append(s, "Proxy-Authenticate: Basic realm=\"qioc\"\r\n");
    }
    /* A failure ends the connection: no body, and the client knows it. */
    if (status != 200) {
        g_string_append(s, "Content-Length: 0\r\nConnection: close\r\n");
    }
    g_string_append(s, "\r\n");
    return g_string_free(s, FALSE);
}

/* ---------------------------------------------------------------- errors */

/* Why a target could not be reached, and what each protocol says. */
typedef struct {
    GIOErrorEnum code;
    guint8 rep;
    guint status;
} TargetError;

static const TargetError target_errors[] = {
    {G_IO_ERROR_CONNECTION_REFUSED, 5, 502},
    {G_IO_ERROR_HOST_UNREACHABLE, 4, 502},
    /* A name that does not resolve (src/addr-tcp.c, lib/socket-connect.c). */
    {G_IO_ERROR_NOT_FOUND, 4, 502},
    {G_IO_ERROR_TIMED_OUT, 4, 504},
    {G_IO_ERROR_NETWORK_UNREACHABLE, 3, 502},
    {G_IO_ERROR_PERMISSION_DENIED, 2, 403},
};

/* Anything else: a general failure, and the gateway's fault. */
static const TargetError target_other = {G_IO_ERROR_FAILED, 1, 502};

static const TargetError *target_error(const GError *err)
{
    int code;

    if (!err) {
        return &target_other;
    }
    /* GResolver's own errors are names that do not resolve, too. */
    if (err->domain == G_RESOLVER_ERROR) {
        code = G_IO_ERROR_NOT_FOUND;
    } else if (err->domain == G_IO_ERROR) {
        code = err->code;
    } else {
        return &target_other;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(target_errors); i++) {
        if ((int)target_errors[i].code == code) {
            return &target_errors[i];
        }
    }
    return &target_other;
}

guint8 qioc_socks5_rep_of_error(const GError *err)
{
    return target_error(err)->rep;
}

guint qioc_http_status_of_error(const GError *err)
{
    return target_error(err)->status;
}
