/*
 * qioc - SOCKS4, SOCKS4A, SOCKS5 and HTTP CONNECT messages, both sides
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The parsers follow the convention of src/proxy-proto.h: given the bytes
 * of one message so far, they say how many the message needs in all,
 * never more than it has, so that a caller reads nothing of what follows.
 */
#include "config.h"

#include <string.h>

#include "proxy-proto.h"

/* A name, user id or password field: one length byte's worth. */
#define FIELD_MAX 255

/* What a reply code means, and the error it makes. */
typedef struct {
    guint code;
    GIOErrorEnum error;
    const char *words;
} ReplyCode;

static const ReplyCode socks4_codes[] = {
    {91, G_IO_ERROR_CONNECTION_REFUSED, "request rejected or failed"},
    {92, G_IO_ERROR_PROXY_FAILED,
     "rejected: it cannot reach the client's identd"},
    {93, G_IO_ERROR_PROXY_FAILED,
     "rejected: identd reports a different user id"},
};

static const ReplyCode socks5_codes[] = {
    {1, G_IO_ERROR_PROXY_FAILED, "general failure"},
    {2, G_IO_ERROR_PERMISSION_DENIED, "connection not allowed by ruleset"},
    {3, G_IO_ERROR_NETWORK_UNREACHABLE, "network unreachable"},
    {4, G_IO_ERROR_HOST_UNREACHABLE, "host unreachable"},
    {5, G_IO_ERROR_CONNECTION_REFUSED, "connection refused"},
    {6, G_IO_ERROR_TIMED_OUT, "TTL expired"},
    {7, G_IO_ERROR_NOT_SUPPORTED, "command not supported"},
    {8, G_IO_ERROR_NOT_SUPPORTED, "address type not supported"},
};

static const ReplyCode *reply_code(const ReplyCode *codes, gsize n, guint code)
{
    for (gsize i = 0; i < n; i++) {
        if (codes[i].code == code) {
            return &codes[i];
        }
    }
    return NULL;
}

static gssize fail(GError **errp, GIOErrorEnum code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static gssize fail(GError **errp, GIOErrorEnum code, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(errp, G_IO_ERROR, code, msg);
    return -1;
}

static void put_u16(GByteArray *out, guint16 v)
{
    guint8 b[2] = {v >> 8, v & 0xff};

    g_byte_array_append(out, b, 2);
}

static guint16 get_u16(const guint8 *p)
{
    return (guint16)(p[0] << 8 | p[1]);
}

static void put_byte(GByteArray *out, guint8 b)
{
    g_byte_array_append(out, &b, 1);
}

static void put_cstr(GByteArray *out, const char *s)
{
    g_byte_array_append(out, (const guint8 *)s, strlen(s) + 1);
}

/* @host as an address, or NULL for a name. */
static GInetAddress *literal(const char *host)
{
    return g_inet_address_new_from_string(host);
}

/* ---------------------------------------------------------------- SOCKS4 */

gboolean qioc_socks4_request(GByteArray *out, const char *host, guint16 port,
                             const char *user, gboolean socks4a, GError **errp)
{
    g_autoptr(GInetAddress) ia = literal(host);
    static const guint8 name_follows[4] = {0, 0, 0, 1};

    if (strlen(user) > FIELD_MAX || strlen(host) > FIELD_MAX) {
        fail(errp, G_IO_ERROR_INVALID_ARGUMENT,
             "SOCKS4: a user id or host name is at most 255 bytes");
        return FALSE;
    }
    if (ia && g_inet_address_get_family(ia) != G_SOCKET_FAMILY_IPV4) {
        fail(errp, G_IO_ERROR_NOT_SUPPORTED,
             "SOCKS4 cannot reach the IPv6 address %s: use SOCKS5", host);
        return FALSE;
    }
    if (!ia && !socks4a) {
        fail(errp, G_IO_ERROR_INVALID_ARGUMENT,
             "SOCKS4 needs an IPv4 address, not the name %s", host);
        return FALSE;
    }
    put_byte(out, 4);
    put_byte(out, 1); /* CONNECT */
    put_u16(out, port);
    g_byte_array_append(out, ia ? g_inet_address_to_bytes(ia) : name_follows,
                        4);
    put_cstr(out, user);
    if (!ia) {
        put_cstr(out, host);
    }
    return TRUE;
}

gssize qioc_socks4_reply_parse(const guint8 *buf, gsize len, GError **errp)
{
    const ReplyCode *rc;

    if (len < 8) {
        return 8;
    }
    if (buf[0] != 0 && buf[0] != 4) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "SOCKS4 proxy: not a SOCKS4 reply (version byte 0x%02x)",
                    buf[0]);
    }
    if (buf[1] == 90) {
        return 8;
    }
    rc = reply_code(socks4_codes, G_N_ELEMENTS(socks4_codes), buf[1]);
    if (!rc) {
        return fail(errp, G_IO_ERROR_PROXY_FAILED,
                    "SOCKS4 proxy: unknown reply %u", buf[1]);
    }
    return fail(errp, rc->error, "SOCKS4 proxy: %s (code %u)", rc->words,
                rc->code);
}

/* ---------------------------------------------------------------- SOCKS5 */

void qioc_socks5_greeting(GByteArray *out, gboolean password)
{
    static const guint8 none[] = {5, 1, 0};
    static const guint8 both[] = {5, 2, 0, 2};

    if (password) {
        g_byte_array_append(out, both, sizeof(both));
    } else {
        g_byte_array_append(out, none, sizeof(none));
    }
}

gssize qioc_socks5_method_parse(const guint8 *buf, gsize len, gboolean password,
                                guint8 *method, GError **errp)
{
    if (len < 2) {
        return 2;
    }
    if (buf[0] != 5) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "SOCKS5 proxy: not a SOCKS5 reply (version byte 0x%02x)",
                    buf[0]);
    }
    if (buf[1] != 0 && !(password && buf[1] == 2)) {
        return fail(errp, G_IO_ERROR_PERMISSION_DENIED,
                    "SOCKS5 proxy: accepts none of the methods offered (%s)",
                    password ? "no authentication, username/password"
                             : "no authentication");
    }
    *method = buf[1];
    return 2;
}

gboolean qioc_socks5_auth_request(GByteArray *out, const char *user,
                                  const char *pass, GError **errp)
{
    gsize ulen = strlen(user), plen = strlen(pass);

    if (ulen == 0 || ulen > FIELD_MAX || plen == 0 || plen > FIELD_MAX) {
        fail(errp, G_IO_ERROR_INVALID_ARGUMENT,
             "SOCKS5: a user name and password are 1 to 255 bytes each");
        return FALSE;
    }
    put_byte(out, 1);
    put_byte(out, (guint8)ulen);
    g_byte_array_append(out, (const guint8 *)user, ulen);
    put_byte(out, (guint8)plen);
    g_byte_array_append(out, (const guint8 *)pass, plen);
    return TRUE;
}

gssize qioc_socks5_auth_parse(const guint8 *buf, gsize len, GError **errp)
{
    if (len < 2) {
        return 2;
    }
    if (buf[1] != 0) {
        return fail(errp, G_IO_ERROR_PERMISSION_DENIED,
                    "SOCKS5 proxy: wrong username or password");
    }
    return 2;
}

/* ATYP and the address: an IPv4 or IPv6 literal, else a name. */
static gboolean put_socks5_address(GByteArray *out, const char *host,
                                   GError **errp)
{
    g_autoptr(GInetAddress) ia = literal(host);
    gsize n = strlen(host);

    if (ia) {
        gboolean v4 = g_inet_address_get_family(ia) == G_SOCKET_FAMILY_IPV4;

        put_byte(out, v4 ? 1 : 4);
        g_byte_array_append(out, g_inet_address_to_bytes(ia),
                            g_inet_address_get_native_size(ia));
        return TRUE;
    }
    if (n == 0 || n > FIELD_MAX) {
        fail(errp, G_IO_ERROR_INVALID_ARGUMENT,
             "SOCKS5: a host name is 1 to 255 bytes");
        return FALSE;
    }
    put_byte(out, 3);
    put_byte(out, (guint8)n);
    g_byte_array_append(out, (const guint8 *)host, n);
    return TRUE;
}

gboolean qioc_socks5_connect_request(GByteArray *out, const char *host,
                                     guint16 port, GError **errp)
{
    static const guint8 head[] = {5, 1, 0};
    guint before = out->len;

    g_byte_array_append(out, head, sizeof(head));
    if (!put_socks5_address(out, host, errp)) {
        g_byte_array_set_size(out, before);
        return FALSE;
    }
    put_u16(out, port);
    return TRUE;
}

/*
 * The length of a SOCKS5 address and port starting at ATYP @p[0] (with
 * @have bytes of it): 0 for an unknown type; for a name, 2 until its
 * length byte is in.
 */
static gsize socks5_address_len(const guint8 *p, gsize have)
{
    switch (p[0]) {
    case 1:
        return 1 + 4 + 2;
    case 4:
        return 1 + 16 + 2;
    case 3:
        return have < 2 ? 2 : 1 + 1 + (gsize)p[1] + 2;
    default:
        return 0;
    }
}

gssize qioc_socks5_reply_parse(const guint8 *buf, gsize len, GError **errp)
{
    const ReplyCode *rc;
    gsize need;

    if (len < 4) {
        return 4;
    }
    if (buf[0] != 5) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "SOCKS5 proxy: not a SOCKS5 reply (version byte 0x%02x)",
                    buf[0]);
    }
    if (buf[1] != 0) {
        rc = reply_code(socks5_codes, G_N_ELEMENTS(socks5_codes), buf[1]);
        if (!rc) {
            return fail(errp, G_IO_ERROR_PROXY_FAILED,
                        "SOCKS5 proxy: unknown reply %u", buf[1]);
        }
        return fail(errp, rc->error, "SOCKS5 proxy: %s (reply %u)", rc->words,
                    rc->code);
    }
    need = socks5_address_len(buf + 3, len - 3);
    if (need == 0) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "SOCKS5 proxy: unknown address type %u in its reply",
                    buf[3]);
    }
    return (gssize)(3 + need);
}

/* ---------------------------------------------------------------- HTTP */

char *qioc_http_connect_request(const char *host, guint16 port,
                                const char *auth)
{
    g_autofree char *target = strchr(host, ':')
                                  ? g_strdup_printf("[%s]:%u", host, port)
                                  : g_strdup_printf("%s:%u", host, port);
    GString *req = g_string_new(NULL);

    g_string_append_printf(req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target,
                           target);
    if (auth) {
        g_autofree char *b64 =
            g_base64_encode((const guchar *)auth, strlen(auth));

        g_string_append_printf(req, "Proxy-Authorization: Basic %s\r\n", b64);
    }
    g_string_append(req, "\r\n");
    return g_string_free(req, FALSE);
}

/* Where a head that ends at @len does end: after "\r\n\r\n" or "\n\n". */
static gboolean head_complete(const guint8 *buf, gsize len)
{
    return (len >= 4 && memcmp(buf + len - 4, "\r\n\r\n", 4) == 0) ||
           (len >= 2 && memcmp(buf + len - 2, "\n\n", 2) == 0);
}

/* The first line, for a message: one line of printable bytes, bounded. */
static char *first_line(const guint8 *buf, gsize len)
{
    GString *out = g_string_new(NULL);

    for (gsize i = 0; i < len && buf[i] != '\r' && buf[i] != '\n'; i++) {
        if (out->len >= 200) {
            g_string_append(out, "...");
            break;
        }
        if (buf[i] < 0x20 || buf[i] >= 0x7f) {
            g_string_append_printf(out, "\\x%02x", buf[i]);
        } else {
            g_string_append_c(out, (char)buf[i]);
        }
    }
    return g_string_free(out, FALSE);
}

gssize qioc_http_connect_response_parse(const guint8 *buf, gsize len,
                                        GError **errp)
{
    g_autofree char *line = NULL;

    if (len >= 5 && memcmp(buf, "HTTP/", 5) != 0) {
        line = first_line(buf, len);
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "HTTP proxy: not an HTTP response: %s", line);
    }
    if (!head_complete(buf, len)) {
        if (len >= QIOC_HTTP_HEADER_MAX) {
            return fail(errp, G_IO_ERROR_INVALID_DATA,
                        "HTTP proxy: response head over %d bytes",
                        QIOC_HTTP_HEADER_MAX);
        }
        return (gssize)len + 1;
    }
    line = first_line(buf, len);
    if (!g_str_has_prefix(line, "HTTP/1.") || strlen(line) < 12 ||
        line[8] != ' ' || !g_ascii_isdigit(line[9]) ||
        !g_ascii_isdigit(line[10]) || !g_ascii_isdigit(line[11])) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "HTTP proxy: not an HTTP response: %s", line);
    }
    if (line[9] != '2') {
        guint status = (guint)g_ascii_strtoull(line + 9, NULL, 10);

        return fail(errp,
                    status == 407 || status == 403
                        ? G_IO_ERROR_PERMISSION_DENIED
                        : G_IO_ERROR_PROXY_FAILED,
                    "HTTP proxy: %s", line);
    }
    return (gssize)len;
}

/* ---------------------------------------------------------------- server */

void qioc_proxy_request_clear(QiocProxyRequest *req)
{
    g_clear_pointer(&req->host, g_free);
    g_clear_pointer(&req->user, g_free);
    if (req->pass) {
        memset(req->pass, 0, strlen(req->pass));
        g_clear_pointer(&req->pass, g_free);
    }
}

/* A NUL-terminated field from @p on, at most FIELD_MAX bytes: its end. */
static const guint8 *cstr_end(const guint8 *p, const guint8 *end)
{
    for (const guint8 *q = p; q < end && q - p <= FIELD_MAX; q++) {
        if (*q == 0) {
            return q;
        }
    }
    return NULL;
}

gssize qioc_socks4_request_parse(const guint8 *buf, gsize len,
                                 QiocProxyRequest *req, GError **errp)
{
    const guint8 *end = buf + len;
    const guint8 *user_end;
    const guint8 *host_end;
    gboolean name;

    if (len < 9) {
        return 9;
    }
    if (buf[0] != 4) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "not a SOCKS4 request (version byte 0x%02x)", buf[0]);
    }
    if (buf[1] != 1) {
        return fail(errp, G_IO_ERROR_NOT_SUPPORTED,
                    "SOCKS4 command %u is not supported (only CONNECT)",
                    buf[1]);
    }
    name = buf[4] == 0 && buf[5] == 0 && buf[6] == 0 && buf[7] != 0;
    user_end = cstr_end(buf + 8, end);
    if (!user_end) {
        return len - 8 > FIELD_MAX ? fail(errp, G_IO_ERROR_INVALID_DATA,
                                          "SOCKS4 user id over 255 bytes")
                                   : (gssize)len + 1;
    }
    host_end = name ? cstr_end(user_end + 1, end) : user_end;
    if (!host_end) {
        return (gsize)(end - user_end - 1) > FIELD_MAX
                   ? fail(errp, G_IO_ERROR_INVALID_DATA,
                          "SOCKS4A host name over 255 bytes")
                   : (gssize)len + 1;
    }
    if (name && host_end == user_end + 1) {
        return fail(errp, G_IO_ERROR_INVALID_DATA, "SOCKS4A: empty host name");
    }
    qioc_proxy_request_clear(req);
    req->version = 4;
    req->port = get_u16(buf + 2);
    req->user = *(buf + 8) ? g_strdup((const char *)buf + 8) : NULL;
    req->host =
        name ? g_strdup((const char *)user_end + 1)
             : g_strdup_printf("%u.%u.%u.%u", buf[4], buf[5], buf[6], buf[7]);
    return (gssize)len;
}

void qioc_socks4_reply(GByteArray *out, gboolean granted)
{
    guint8 reply[8] = {0, granted ? 90 : 91, 0, 0, 0, 0, 0, 0};

    g_byte_array_append(out, reply, sizeof(reply));
}

gssize qioc_socks5_greeting_parse(const guint8 *buf, gsize len, gboolean *none,
                                  gboolean *password, GError **errp)
{
    gsize need;

    if (len < 2) {
        return 2;
    }
    if (buf[0] != 5) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "not a SOCKS5 greeting (version byte 0x%02x)", buf[0]);
    }
    need = 2 + (gsize)buf[1];
    if (len < need) {
        return (gssize)need;
    }
    *none = *password = FALSE;
    for (gsize i = 2; i < need; i++) {
        *none = *none || buf[i] == 0;
        *password = *password || buf[i] == 2;
    }
    return (gssize)need;
}

void qioc_socks5_method_reply(GByteArray *out, guint8 method)
{
    guint8 reply[2] = {5, method};

    g_byte_array_append(out, reply, sizeof(reply));
}

gssize qioc_socks5_auth_request_parse(const guint8 *buf, gsize len,
                                      QiocProxyRequest *req, GError **errp)
{
    gsize ulen, plen;

    if (len < 2) {
        return 2;
    }
    if (buf[0] != 1) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "not a SOCKS5 username/password request (version 0x%02x)",
                    buf[0]);
    }
    ulen = buf[1];
    if (len < 2 + ulen + 1) {
        return (gssize)(2 + ulen + 1);
    }
    plen = buf[2 + ulen];
    if (len < 3 + ulen + plen) {
        return (gssize)(3 + ulen + plen);
    }
    if (memchr(buf + 2, 0, ulen) || memchr(buf + 3 + ulen, 0, plen)) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "a NUL byte in a SOCKS5 user name or password");
    }
    g_free(req->user);
    req->user = g_strndup((const char *)buf + 2, ulen);
    g_free(req->pass);
    req->pass = g_strndup((const char *)buf + 3 + ulen, plen);
    return (gssize)(3 + ulen + plen);
}

void qioc_socks5_auth_reply(GByteArray *out, gboolean ok)
{
    guint8 reply[2] = {1, ok ? 0 : 1};

    g_byte_array_append(out, reply, sizeof(reply));
}

/* The target of a complete SOCKS5 request, from ATYP @p on. */
static char *socks5_host(const guint8 *p)
{
    g_autoptr(GInetAddress) ia = NULL;

    if (p[0] == 3) {
        return g_strndup((const char *)p + 2, p[1]);
    }
    ia = g_inet_address_new_from_bytes(p + 1, p[0] == 1 ? G_SOCKET_FAMILY_IPV4
                                                        : G_SOCKET_FAMILY_IPV6);
    return g_inet_address_to_string(ia);
}

gssize qioc_socks5_request_parse(const guint8 *buf, gsize len,
                                 QiocProxyRequest *req, guint8 *rep,
                                 GError **errp)
{
    gsize need;

    *rep = 1;
    if (len < 5) {
        return 5;
    }
    if (buf[0] != 5) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "not a SOCKS5 request (version byte 0x%02x)", buf[0]);
    }
    if (buf[1] != 1) {
        *rep = 7;
        return fail(errp, G_IO_ERROR_NOT_SUPPORTED,
                    "SOCKS5 command %u is not supported (only CONNECT)",
                    buf[1]);
    }
    need = socks5_address_len(buf + 3, len - 3);
    if (need == 0) {
        *rep = 8;
        return fail(errp, G_IO_ERROR_NOT_SUPPORTED,
                    "SOCKS5 address type %u is not supported", buf[3]);
    }
    if (len < 3 + need) {
        return (gssize)(3 + need);
    }
    if (buf[3] == 3 && (buf[4] == 0 || memchr(buf + 5, 0, buf[4]))) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "SOCKS5: an empty host name, or one with a NUL byte");
    }
    g_free(req->host);
    req->host = socks5_host(buf + 3);
    req->port = get_u16(buf + 3 + need - 2);
    req->version = 5;
    return (gssize)(3 + need);
}

void qioc_socks5_reply(GByteArray *out, guint8 rep, GSocketAddress *bound)
{
    static const guint8 zero[4] = {0, 0, 0, 0};
    guint8 head[3] = {5, rep, 0};
    GInetAddress *ia = NULL;
    guint16 port = 0;

    g_byte_array_append(out, head, sizeof(head));
    if (bound && G_IS_INET_SOCKET_ADDRESS(bound)) {
        ia = g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(bound));
        port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    }
    if (ia) {
        gboolean v4 = g_inet_address_get_family(ia) == G_SOCKET_FAMILY_IPV4;

        put_byte(out, v4 ? 1 : 4);
        g_byte_array_append(out, g_inet_address_to_bytes(ia),
                            g_inet_address_get_native_size(ia));
    } else {
        put_byte(out, 1);
        g_byte_array_append(out, zero, 4);
    }
    put_u16(out, port);
}

/* "host:port" or "[v6]:port" of a CONNECT line into @req. */
static gboolean http_target(const char *text, QiocProxyRequest *req)
{
    const char *colon = strrchr(text, ':');
    g_autofree char *host = NULL;
    guint64 port;

    if (!colon ||
        !g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL)) {
        return FALSE;
    }
    host = g_strndup(text, colon - text);
    if (host[0] == '[') {
        gsize n = strlen(host);

        if (n < 3 || host[n - 1] != ']') {
            return FALSE;
        }
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    if (!*host || strpbrk(host, "[]/ ")) {
        return FALSE;
    }
    g_free(req->host);
    req->host = g_steal_pointer(&host);
    req->port = (guint16)port;
    return TRUE;
}

/* Proxy-Authorization: Basic BASE64 into @req's user and pass. */
static void http_basic(const char *value, QiocProxyRequest *req)
{
    g_autofree guchar *raw = NULL;
    g_autofree char *text = NULL;
    gsize n = 0;
    const char *colon;

    while (*value == ' ' || *value == '\t') {
        value++;
    }
    if (g_ascii_strncasecmp(value, "Basic ", 6) != 0) {
        return;
    }
    raw = g_base64_decode(value + 6, &n);
    text = g_strndup((const char *)raw, n);
    colon = strchr(text, ':');
    if (!colon || strlen(text) != n) {
        return;
    }
    g_free(req->user);
    req->user = g_strndup(text, colon - text);
    g_free(req->pass);
    req->pass = g_strdup(colon + 1);
}

gssize qioc_http_connect_request_parse(const guint8 *buf, gsize len,
                                       QiocProxyRequest *req, guint *status,
                                       GError **errp)
{
    g_autofree char *head = NULL;
    g_auto(GStrv) lines = NULL;
    g_auto(GStrv) words = NULL;

    *status = 400;
    if (!head_complete(buf, len)) {
        if (len >= QIOC_HTTP_HEADER_MAX) {
            *status = 431;
            return fail(errp, G_IO_ERROR_INVALID_DATA,
                        "HTTP request head over %d bytes",
                        QIOC_HTTP_HEADER_MAX);
        }
        return (gssize)len + 1;
    }
    if (memchr(buf, 0, len)) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "a NUL byte in the HTTP request");
    }
    head = g_strndup((const char *)buf, len);
    lines = g_strsplit(head, "\n", -1);
    g_strchomp(lines[0]);
    words = g_strsplit(lines[0], " ", -1);
    if (g_strv_length(words) != 3 || !g_str_has_prefix(words[2], "HTTP/1.")) {
        g_autofree char *line = first_line(buf, len);

        return fail(errp, G_IO_ERROR_INVALID_DATA, "not an HTTP request: %s",
                    line);
    }
    if (strcmp(words[0], "CONNECT") != 0) {
        g_autofree char *line = first_line(buf, len);

        *status = 405;
        return fail(errp, G_IO_ERROR_NOT_SUPPORTED,
                    "HTTP method %s is not supported (only CONNECT): %s",
                    words[0], line);
    }
    if (!http_target(words[1], req)) {
        return fail(errp, G_IO_ERROR_INVALID_DATA,
                    "bad CONNECT target \"%s\": expected HOST:PORT", words[1]);
    }
    for (char **l = lines + 1; *l; l++) {
        g_strchomp(*l);
        if (g_ascii_strncasecmp(*l, "Proxy-Authorization:", 20) == 0) {
            http_basic(*l + 20, req);
        }
    }
    req->version = 1;
    return (gssize)len;
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

char *qioc_http_connect_reply(guint status)
{
    const char *reason = "Error";
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < G_N_ELEMENTS(http_reasons); i++) {
        if (http_reasons[i].status == status) {
            reason = http_reasons[i].reason;
        }
    }
    g_string_append_printf(out, "HTTP/1.1 %u %s\r\n", status, reason);
    if (status == 407) {
        g_string_append(out, "Proxy-Authenticate: Basic realm=\"qioc\"\r\n");
    }
    if (status != 200) {
        g_string_append(out, "Content-Length: 0\r\nConnection: close\r\n");
    }
    g_string_append(out, "\r\n");
    return g_string_free(out, FALSE);
}

/* ---------------------------------------------------------------- errors */

static const struct {
    GIOErrorEnum code;
    guint8 rep;
    guint status;
} error_answers[] = {
    {G_IO_ERROR_CONNECTION_REFUSED, 5, 502},
    {G_IO_ERROR_HOST_UNREACHABLE, 4, 502},
    {G_IO_ERROR_NETWORK_UNREACHABLE, 3, 502},
    {G_IO_ERROR_PERMISSION_DENIED, 2, 403},
    {G_IO_ERROR_TIMED_OUT, 4, 504},
    {G_IO_ERROR_NOT_FOUND, 4, 502},
};

guint8 qioc_socks5_rep_of_error(const GError *err)
{
    if (err && err->domain == G_RESOLVER_ERROR) {
        return 4; /* the name does not resolve: no such host */
    }
    for (guint i = 0; err && i < G_N_ELEMENTS(error_answers); i++) {
        if (g_error_matches(err, G_IO_ERROR, error_answers[i].code)) {
            return error_answers[i].rep;
        }
    }
    return 1;
}

guint qioc_http_status_of_error(const GError *err)
{
    for (guint i = 0; err && i < G_N_ELEMENTS(error_answers); i++) {
        if (g_error_matches(err, G_IO_ERROR, error_answers[i].code)) {
            return error_answers[i].status;
        }
    }
    return 502;
}
