/*
 * Unit tests of the SOCKS4/4A/5 and HTTP CONNECT messages
 * (src/proxy-proto.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Builders are compared with the bytes of RFC 1928, RFC 1929, the SOCKS4
 * and SOCKS4A documents and RFC 9110. Parsers are driven as src/proxy.c
 * drives them (drive()): from no bytes at all, each call gets the size it
 * asked for, in a buffer of exactly that size so that valgrind or ASan
 * sees any read past it; and once more a byte at a time. Both ways must
 * end the same, and every answer must keep the contract of
 * src/proxy-proto.h.
 */
#include "config.h"

#include <string.h>

#include <gio/gunixsocketaddress.h>

#include "test-util.h"
#include "../../src/proxy-proto.h"

/* ---------------------------------------------------------------- helpers */

/* Every parser's out parameters, and the one input a parser takes. */
typedef struct {
    gboolean password; /* in: qioc_socks5_method_parse() offered 2 */
    guint8 method;
    gboolean none;
    gboolean offers_password;
    QiocProxyRequest req;
    guint8 rep;
    guint status;
} Outs;

typedef gssize (*Parser)(const guint8 *buf, gsize len, Outs *o, GError **errp);

/* Out parameters set to values no parser gives, so a change shows. */
static void outs_reset(Outs *o)
{
    qioc_proxy_request_clear(&o->req);
    o->method = 0xaa;
    o->none = 42;
    o->offers_password = 42;
    o->rep = 0xaa;
    o->status = 999;
}

static gssize p_socks4_reply(const guint8 *buf, gsize len, Outs *o,
                             GError **errp)
{
    return qioc_socks4_reply_parse(buf, len, errp);
}

static gssize p_socks5_method(const guint8 *buf, gsize len, Outs *o,
                              GError **errp)
{
    return qioc_socks5_method_parse(buf, len, o->password, &o->method, errp);
}

static gssize p_socks5_auth(const guint8 *buf, gsize len, Outs *o,
                            GError **errp)
{
    return qioc_socks5_auth_parse(buf, len, errp);
}

static gssize p_socks5_reply(const guint8 *buf, gsize len, Outs *o,
                             GError **errp)
{
    return qioc_socks5_reply_parse(buf, len, errp);
}

static gssize p_http_response(const guint8 *buf, gsize len, Outs *o,
                              GError **errp)
{
    return qioc_http_connect_response_parse(buf, len, errp);
}

static gssize p_socks4_request(const guint8 *buf, gsize len, Outs *o,
                               GError **errp)
{
    return qioc_socks4_request_parse(buf, len, &o->req, errp);
}

static gssize p_socks5_greeting(const guint8 *buf, gsize len, Outs *o,
                                GError **errp)
{
    return qioc_socks5_greeting_parse(buf, len, &o->none, &o->offers_password,
                                      errp);
}

static gssize p_socks5_auth_request(const guint8 *buf, gsize len, Outs *o,
                                    GError **errp)
{
    return qioc_socks5_auth_request_parse(buf, len, &o->req, errp);
}

static gssize p_socks5_request(const guint8 *buf, gsize len, Outs *o,
                               GError **errp)
{
    return qioc_socks5_request_parse(buf, len, &o->req, &o->rep, errp);
}

static gssize p_http_request(const guint8 *buf, gsize len, Outs *o,
                             GError **errp)
{
    return qioc_http_connect_request_parse(buf, len, &o->req, &o->status, errp);
}

/* How the bytes are handed over: as asked for, or one more each call. */
typedef enum {
    FEED_ASKED,
    FEED_TRICKLE,
} Feed;

/*
 * Call @parse on growing prefixes of @msg (@n bytes), each copied into a
 * buffer of its exact size, checking the contract at every call: never
 * 0, -1 only with an error of one line, otherwise the length or more,
 * and never less than it asked for before. Returns the last answer: -1,
 * the length of the bytes it was given (complete), or a size beyond @n.
 * With FEED_ASKED, *@asks (if not NULL) gets every size asked for.
 */
static gssize drive(Parser parse, const void *msg, gsize n, Feed feed, Outs *o,
                    GArray *asks, GError **errp)
{
    gsize len = 0;
    gsize asked = 0;

    for (;;) {
        g_autofree guint8 *buf = g_memdup2(msg, len);
        gssize ret = parse(buf, len, o, errp);

        g_assert_cmpint(ret, !=, 0);
        if (ret < 0) {
            g_assert_cmpint(ret, ==, -1);
            g_assert_nonnull(*errp);
            g_assert_true((*errp)->domain == G_IO_ERROR);
            g_assert_null(strchr((*errp)->message, '\n'));
            g_assert_null(strchr((*errp)->message, '\r'));
            return ret;
        }
        g_assert_null(*errp);
        if ((gsize)ret == len) {
            return ret;
        }
        g_assert_cmpuint((gsize)ret, >, len);
        g_assert_cmpuint((gsize)ret, >=, asked);
        asked = (gsize)ret;
        if (asks && feed == FEED_ASKED) {
            g_array_append_val(asks, asked);
        }
        if (asked > n) {
            return ret;
        }
        len = feed == FEED_ASKED ? asked : len + 1;
    }
}

/* @msg is one whole message that @parse takes, fed either way. */
static void parse_ok(Parser parse, const void *msg, gsize n, Outs *o)
{
    for (Feed feed = FEED_ASKED; feed <= FEED_TRICKLE; feed++) {
        g_autoptr(GError) err = NULL;

        outs_reset(o);
        g_assert_cmpint(drive(parse, msg, n, feed, o, NULL, &err), ==,
                        (gssize)n);
        g_assert_no_error(err);
    }
}

/*
 * @parse refuses @msg with @code and @message (NULL: any), at @at bytes
 * (0: any), and leaves the request alone.
 */
static void parse_fails(Parser parse, const void *msg, gsize n, Outs *o,
                        gsize at, int code, const char *message)
{
    for (Feed feed = FEED_ASKED; feed <= FEED_TRICKLE; feed++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GArray) asks = g_array_new(FALSE, FALSE, sizeof(gsize));

        outs_reset(o);
        g_assert_cmpint(drive(parse, msg, n, feed, o, asks, &err), ==, -1);
        g_assert_error(err, G_IO_ERROR, code);
        if (message) {
            g_assert_cmpstr(err->message, ==, message);
        }
        if (at && feed == FEED_ASKED) {
            g_assert_cmpuint(g_array_index(asks, gsize, asks->len - 1), ==, at);
        }
        g_assert_null(o->req.host);
        g_assert_null(o->req.user);
        g_assert_null(o->req.pass);
    }
}

/* The sizes @parse asks for, fed as it asks, are @want (0-terminated). */
static void parse_asks(Parser parse, const void *msg, gsize n,
                       const gsize *want)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) asks = g_array_new(FALSE, FALSE, sizeof(gsize));
    Outs o = {0};
    gsize i;

    drive(parse, msg, n, FEED_ASKED, &o, asks, &err);
    for (i = 0; want[i]; i++) {
        g_assert_cmpuint(i, <, asks->len);
        g_assert_cmpuint(g_array_index(asks, gsize, i), ==, want[i]);
    }
    g_assert_cmpuint(asks->len, ==, i);
    qioc_proxy_request_clear(&o.req);
}

#define PARSE_OK(parse, bytes, o) parse_ok(parse, bytes, sizeof(bytes), o)
#define PARSE_ASKS(parse, bytes, ...)                                          \
    parse_asks(parse, bytes, sizeof(bytes), (const gsize[]){__VA_ARGS__, 0})

static void assert_bytes(GByteArray *out, const guint8 *want, gsize n)
{
    g_assert_cmpmem(out->data, out->len, want, n);
}

#define ASSERT_BYTES(out, want) assert_bytes(out, want, sizeof(want))

/* A string of @n times @c. */
static char *repeat(char c, gsize n)
{
    char *s = g_malloc(n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---------------------------------------------------------------- SOCKS4 */

static void test_socks4_request(void)
{
    static const guint8 ipv4[] = {4, 1, 0, 80, 1, 2, 3, 4, 'b', 'o', 'b', 0};
    static const guint8 name[] = {4,   1,   0x01, 0xbb, 0,   0,   0,
                                  1,   0,   'e',  'x',  'a', 'm', 'p',
                                  'l', 'e', '.',  'c',  'o', 'm', 0};
    static const guint8 literal[] = {4, 1, 0x1f, 0x90, 10, 0, 0, 1, 0};
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(GError) err = NULL;

    g_assert_true(qioc_socks4_request(out, "1.2.3.4", 80, "bob", FALSE, &err));
    g_assert_no_error(err);
    ASSERT_BYTES(out, ipv4);

    g_byte_array_set_size(out, 0);
    g_assert_true(qioc_socks4_request(out, "example.com", 443, "", TRUE, &err));
    g_assert_no_error(err);
    ASSERT_BYTES(out, name);

    /* SOCKS4A sends an address as plain SOCKS4 does; no user id is "". */
    g_byte_array_set_size(out, 0);
    g_assert_true(qioc_socks4_request(out, "10.0.0.1", 8080, NULL, TRUE, &err));
    g_assert_no_error(err);
    ASSERT_BYTES(out, literal);
}

static void test_socks4_request_errors(void)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autofree char *long_name = repeat('a', 256);
    g_autofree char *max_user = repeat('u', 255);
    static const struct {
        const char *host;
        gboolean socks4a;
        gboolean long_user;
        int code;
    } cases[] = {
        {"::1", FALSE, FALSE, G_IO_ERROR_NOT_SUPPORTED},
        {"2001:db8::1", TRUE, FALSE, G_IO_ERROR_NOT_SUPPORTED},
        {"example.com", FALSE, FALSE, G_IO_ERROR_NOT_SUPPORTED},
        {"1.2.3.4", FALSE, TRUE, G_IO_ERROR_INVALID_ARGUMENT},
        {"0.0.0.7", FALSE, FALSE, G_IO_ERROR_INVALID_ARGUMENT},
        {"0.0.0.7", TRUE, FALSE, G_IO_ERROR_INVALID_ARGUMENT},
        {NULL, TRUE, FALSE, G_IO_ERROR_INVALID_ARGUMENT},
        {"", TRUE, FALSE, G_IO_ERROR_INVALID_ARGUMENT},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autofree char *long_user = repeat('u', 256);

        g_assert_false(qioc_socks4_request(
            out, cases[i].host ? cases[i].host : long_name, 1,
            cases[i].long_user ? long_user : "", cases[i].socks4a, &err));
        g_assert_error(err, G_IO_ERROR, cases[i].code);
        g_assert_null(strchr(err->message, '\n'));
        /* Nothing half-written. */
        g_assert_cmpuint(out->len, ==, 0);
    }
    /* 255 bytes fit. */
    g_assert_true(
        qioc_socks4_request(out, "1.2.3.4", 1, max_user, FALSE, NULL));
    g_assert_cmpuint(out->len, ==, 8 + 255 + 1);
}

static void test_socks4_reply(void)
{
    static const guint8 granted[] = {0, 90, 0, 0, 0, 0, 0, 0};
    static const guint8 granted4[] = {4, 90, 1, 2, 3, 4, 5, 6};
    Outs o = {0};

    PARSE_OK(p_socks4_reply, granted, &o);
    PARSE_OK(p_socks4_reply, granted4, &o);
    PARSE_ASKS(p_socks4_reply, granted, 8);
}

static const struct {
    guint8 code;
    int error;
    const char *message;
} socks4_codes[] = {
    {91, G_IO_ERROR_CONNECTION_REFUSED,
     "SOCKS4 proxy: request rejected or failed (code 91)"},
    {92, G_IO_ERROR_PROXY_FAILED,
     "SOCKS4 proxy: rejected: it cannot reach the client's identd (code 92)"},
    {93, G_IO_ERROR_PERMISSION_DENIED,
     "SOCKS4 proxy: rejected: the client's identd reports a different user id "
     "(code 93)"},
    {17, G_IO_ERROR_PROXY_FAILED, "SOCKS4 proxy: unknown reply (code 17)"},
};

static void test_socks4_reply_codes(void)
{
    Outs o = {0};

    for (gsize i = 0; i < G_N_ELEMENTS(socks4_codes); i++) {
        guint8 reply[] = {0, socks4_codes[i].code, 0, 0, 0, 0, 0, 0};

        parse_fails(p_socks4_reply, reply, sizeof(reply), &o, 8,
                    socks4_codes[i].error, socks4_codes[i].message);
    }
}

static void test_socks4_reply_bad(void)
{
    static const char http[] = "HTTP/1.1 400 Bad Request\r\n";
    static const guint8 long_reply[] = {0, 90, 0, 0, 0, 0, 0, 0, 0};
    g_autoptr(GError) err = NULL;
    Outs o = {0};

    parse_fails(p_socks4_reply, http, strlen(http), &o, 8,
                G_IO_ERROR_INVALID_DATA,
                "SOCKS4 proxy: not a SOCKS4 reply (version byte 0x48)");
    /* More bytes than the message: the driver's fault, never < len. */
    g_assert_cmpint(
        qioc_socks4_reply_parse(long_reply, sizeof(long_reply), &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void test_socks4_request_parse(void)
{
    static const guint8 plain[] = {4, 1, 0, 80, 1, 2, 3, 4, 'b', 'o', 'b', 0};
    static const guint8 anon[] = {4, 1, 0x1f, 0x90, 192, 168, 0, 1, 0};
    static const guint8 socks4a[] = {4,   1,   1,   0xbb, 0,   0,   0,   42,
                                     'u', 0,   'e', 'x',  'a', 'm', 'p', 'l',
                                     'e', '.', 'o', 'r',  'g', 0};
    Outs o = {0};

    PARSE_OK(p_socks4_request, plain, &o);
    g_assert_cmpint(o.req.version, ==, 4);
    g_assert_cmpstr(o.req.host, ==, "1.2.3.4");
    g_assert_cmpuint(o.req.port, ==, 80);
    g_assert_cmpstr(o.req.user, ==, "bob");
    g_assert_null(o.req.pass);
    /* The head, then one more byte at a time: only the NUL ends the id. */
    PARSE_ASKS(p_socks4_request, plain, 8, 9, 10, 11, 12);

    PARSE_OK(p_socks4_request, anon, &o);
    g_assert_cmpstr(o.req.host, ==, "192.168.0.1");
    g_assert_cmpuint(o.req.port, ==, 8080);
    g_assert_null(o.req.user);

    PARSE_OK(p_socks4_request, socks4a, &o);
    g_assert_cmpstr(o.req.host, ==, "example.org");
    g_assert_cmpuint(o.req.port, ==, 443);
    g_assert_cmpstr(o.req.user, ==, "u");
    PARSE_ASKS(p_socks4_request, socks4a, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
               18, 19, 20, 21, 22);
    qioc_proxy_request_clear(&o.req);
}

static void test_socks4_request_parse_errors(void)
{
    static const guint8 bind[] = {4, 2, 0, 80, 1, 2, 3, 4, 0};
    static const guint8 udp[] = {4, 3, 0, 80, 1, 2, 3, 4, 0};
    static const guint8 socks5[] = {5, 1, 0, 0, 0, 0, 0, 0};
    static const guint8 empty_name[] = {4, 1, 0, 80, 0, 0, 0, 1, 0, 0};
    g_autoptr(GByteArray) msg = g_byte_array_new();
    g_autofree char *id255 = repeat('i', 255);
    g_autofree char *id256 = repeat('i', 256);
    Outs o = {0};

    parse_fails(p_socks4_request, bind, sizeof(bind), &o, 8,
                G_IO_ERROR_NOT_SUPPORTED,
                "SOCKS4 client: BIND is not supported (command 2)");
    parse_fails(p_socks4_request, udp, sizeof(udp), &o, 8,
                G_IO_ERROR_INVALID_DATA, "SOCKS4 client: unknown command 3");
    parse_fails(p_socks4_request, socks5, sizeof(socks5), &o, 8,
                G_IO_ERROR_INVALID_DATA,
                "SOCKS4 client: not a SOCKS4 request (version byte 0x05)");
    parse_fails(p_socks4_request, empty_name, sizeof(empty_name), &o, 10,
                G_IO_ERROR_INVALID_DATA,
                "SOCKS4 client: SOCKS4A request with an empty host name");

    /* A user id of 255 bytes is taken, not one of 256. */
    qioc_socks4_request(msg, "1.2.3.4", 1, id255, FALSE, NULL);
    parse_ok(p_socks4_request, msg->data, msg->len, &o);
    g_assert_cmpstr(o.req.user, ==, id255);
    qioc_proxy_request_clear(&o.req);

    g_byte_array_set_size(msg, 0);
    g_byte_array_append(msg, (const guint8 *)"\4\1\0\1\1\2\3\4", 8);
    g_byte_array_append(msg, (const guint8 *)id256, 257);
    parse_fails(p_socks4_request, msg->data, msg->len, &o, 8 + 256,
                G_IO_ERROR_MESSAGE_TOO_LARGE,
                "SOCKS4 client: user id over 255 bytes");

    /* The same for SOCKS4A's name. */
    g_byte_array_set_size(msg, 0);
    g_byte_array_append(msg, (const guint8 *)"\4\1\0\1\0\0\0\1", 8);
    g_byte_array_append(msg, (const guint8 *)"", 1);
    g_byte_array_append(msg, (const guint8 *)id256, 257);
    parse_fails(p_socks4_request, msg->data, msg->len, &o, 9 + 256,
                G_IO_ERROR_MESSAGE_TOO_LARGE,
                "SOCKS4 client: host name over 255 bytes");
}

static void test_socks4_reply_build(void)
{
    static const guint8 granted[] = {0, 90, 0, 0, 0, 0, 0, 0};
    static const guint8 rejected[] = {0, 91, 0, 0, 0, 0, 0, 0};
    g_autoptr(GByteArray) out = g_byte_array_new();

    qioc_socks4_reply(out, TRUE);
    ASSERT_BYTES(out, granted);
    g_byte_array_set_size(out, 0);
    qioc_socks4_reply(out, FALSE);
    ASSERT_BYTES(out, rejected);
}

/* ---------------------------------------------------------------- SOCKS5 */

static void test_socks5_greeting(void)
{
    static const guint8 none[] = {5, 1, 0};
    static const guint8 both[] = {5, 2, 0, 2};
    g_autoptr(GByteArray) out = g_byte_array_new();

    qioc_socks5_greeting(out, FALSE);
    ASSERT_BYTES(out, none);
    g_byte_array_set_size(out, 0);
    qioc_socks5_greeting(out, TRUE);
    ASSERT_BYTES(out, both);
}

static void test_socks5_method(void)
{
    static const guint8 none[] = {5, 0};
    static const guint8 password[] = {5, 2};
    Outs o = {0};

    PARSE_OK(p_socks5_method, none, &o);
    g_assert_cmpuint(o.method, ==, 0);
    o.password = TRUE;
    PARSE_OK(p_socks5_method, none, &o);
    g_assert_cmpuint(o.method, ==, 0);
    PARSE_OK(p_socks5_method, password, &o);
    g_assert_cmpuint(o.method, ==, 2);
    PARSE_ASKS(p_socks5_method, password, 2);
}

static void test_socks5_method_errors(void)
{
    static const guint8 refused[] = {5, 0xff};
    static const guint8 password[] = {5, 2};
    static const guint8 gssapi[] = {5, 1};
    static const guint8 socks4[] = {0, 90};
    Outs o = {0};

    parse_fails(p_socks5_method, refused, sizeof(refused), &o, 2,
                G_IO_ERROR_PERMISSION_DENIED,
                "SOCKS5 proxy: accepts none of the methods offered "
                "(no authentication)");
    parse_fails(p_socks5_method, password, sizeof(password), &o, 2,
                G_IO_ERROR_PROXY_FAILED,
                "SOCKS5 proxy: chose method 2, not one of those offered "
                "(no authentication)");
    o.password = TRUE;
    parse_fails(p_socks5_method, refused, sizeof(refused), &o, 2,
                G_IO_ERROR_PERMISSION_DENIED,
                "SOCKS5 proxy: accepts none of the methods offered "
                "(no authentication, username/password)");
    parse_fails(p_socks5_method, gssapi, sizeof(gssapi), &o, 2,
                G_IO_ERROR_PROXY_FAILED, NULL);
    parse_fails(p_socks5_method, socks4, sizeof(socks4), &o, 2,
                G_IO_ERROR_INVALID_DATA,
                "SOCKS5 proxy: not a SOCKS5 reply (version byte 0x00)");
    g_assert_cmpuint(o.method, ==, 0xaa);
}

static void test_socks5_auth_request(void)
{
    static const guint8 want[] = {1,   3,   'b', 'o', 'b', 6,
                                  's', 'e', 'c', 'r', 'e', 't'};
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autofree char *max = repeat('m', 255);
    g_autofree char *over = repeat('o', 256);
    const char *bad[][2] = {{"", "x"}, {"x", ""}, {over, "x"}, {"x", over}};

    g_assert_true(qioc_socks5_auth_request(out, "bob", "secret", NULL));
    ASSERT_BYTES(out, want);

    g_byte_array_set_size(out, 0);
    g_assert_true(qioc_socks5_auth_request(out, max, max, NULL));
    g_assert_cmpuint(out->len, ==, 3 + 2 * 255);

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;

        g_byte_array_set_size(out, 0);
        g_assert_false(
            qioc_socks5_auth_request(out, bad[i][0], bad[i][1], &err));
        g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
        g_assert_cmpuint(out->len, ==, 0);
    }
}

static void test_socks5_auth(void)
{
    static const guint8 ok[] = {1, 0};
    static const guint8 ok5[] = {5, 0};
    static const guint8 wrong[] = {1, 1};
    static const guint8 bad[] = {2, 0};
    Outs o = {0};

    PARSE_OK(p_socks5_auth, ok, &o);
    PARSE_OK(p_socks5_auth, ok5, &o);
    PARSE_ASKS(p_socks5_auth, ok, 2);
    parse_fails(p_socks5_auth, wrong, sizeof(wrong), &o, 2,
                G_IO_ERROR_PERMISSION_DENIED,
                "SOCKS5 proxy: wrong username or password");
    parse_fails(p_socks5_auth, bad, sizeof(bad), &o, 2, G_IO_ERROR_INVALID_DATA,
                "SOCKS5 proxy: not a username/password reply "
                "(version byte 0x02)");
}

static void test_socks5_connect_request(void)
{
    static const guint8 ipv4[] = {5, 1, 0, 1, 192, 168, 1, 2, 0x04, 0x38};
    /* [2001:db8::1]:443 */
    static const guint8 ipv6[] = {5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8,
                                  0, 0, 0, 0, 0,    0,    0,    0,
                                  0, 0, 0, 1, 1,    0xbb};
    static const guint8 name[] = {5,   1,   0,   3,   11,  'e', 'x', 'a', 'm',
                                  'p', 'l', 'e', '.', 'o', 'r', 'g', 0,   80};
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autofree char *max = repeat('n', 255);
    g_autofree char *over = repeat('n', 256);
    const char *bad[] = {"", over};

    g_assert_true(qioc_socks5_connect_request(out, "192.168.1.2", 1080, NULL));
    ASSERT_BYTES(out, ipv4);
    g_byte_array_set_size(out, 0);
    g_assert_true(qioc_socks5_connect_request(out, "2001:db8::1", 443, NULL));
    ASSERT_BYTES(out, ipv6);
    g_byte_array_set_size(out, 0);
    g_assert_true(qioc_socks5_connect_request(out, "example.org", 80, NULL));
    ASSERT_BYTES(out, name);
    g_byte_array_set_size(out, 0);
    g_assert_true(qioc_socks5_connect_request(out, max, 80, NULL));
    g_assert_cmpuint(out->len, ==, 5 + 255 + 2);

    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;

        g_byte_array_set_size(out, 0);
        g_assert_false(qioc_socks5_connect_request(out, bad[i], 80, &err));
        g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
        g_assert_cmpuint(out->len, ==, 0);
    }
}

static void test_socks5_reply(void)
{
    static const guint8 ipv4[] = {5, 0, 0, 1, 10, 0, 0, 1, 0x9c, 0x40};
    static const guint8 ipv6[] = {5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0,
                                  0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1};
    static const guint8 name[] = {5,   0,   0,   3,   9,   'p', 'r', 'o',
                                  'x', 'y', '.', 'l', 'a', 'n', 0,   1};
    static const guint8 rsv[] = {5, 0, 0x77, 1, 0, 0, 0, 0, 0, 0};
    Outs o = {0};

    PARSE_OK(p_socks5_reply, ipv4, &o);
    PARSE_OK(p_socks5_reply, ipv6, &o);
    PARSE_OK(p_socks5_reply, name, &o);
    PARSE_OK(p_socks5_reply, rsv, &o);
    /* The head, then exactly the address and the port: nothing more. */
    PARSE_ASKS(p_socks5_reply, ipv4, 4, 10);
    PARSE_ASKS(p_socks5_reply, ipv6, 4, 22);
    PARSE_ASKS(p_socks5_reply, name, 4, 5, 16);
}

static const struct {
    guint8 rep;
    int error;
    const char *message;
} socks5_codes[] = {
    {1, G_IO_ERROR_PROXY_FAILED, "SOCKS5 proxy: general failure (reply 1)"},
    {2, G_IO_ERROR_PERMISSION_DENIED,
     "SOCKS5 proxy: connection not allowed by ruleset (reply 2)"},
    {3, G_IO_ERROR_NETWORK_UNREACHABLE,
     "SOCKS5 proxy: network unreachable (reply 3)"},
    {4, G_IO_ERROR_HOST_UNREACHABLE,
     "SOCKS5 proxy: host unreachable (reply 4)"},
    {5, G_IO_ERROR_CONNECTION_REFUSED,
     "SOCKS5 proxy: connection refused (reply 5)"},
    {6, G_IO_ERROR_PROXY_FAILED, "SOCKS5 proxy: TTL expired (reply 6)"},
    {7, G_IO_ERROR_PROXY_FAILED,
     "SOCKS5 proxy: command not supported (reply 7)"},
    {8, G_IO_ERROR_PROXY_FAILED,
     "SOCKS5 proxy: address type not supported (reply 8)"},
    {9, G_IO_ERROR_PROXY_FAILED, "SOCKS5 proxy: unknown reply 9"},
    {0xff, G_IO_ERROR_PROXY_FAILED, "SOCKS5 proxy: unknown reply 255"},
};

static void test_socks5_reply_codes(void)
{
    Outs o = {0};

    for (gsize i = 0; i < G_N_ELEMENTS(socks5_codes); i++) {
        guint8 reply[] = {5, socks5_codes[i].rep, 0, 1, 0, 0, 0, 0, 0, 0};

        /* Said as soon as the head is in. */
        parse_fails(p_socks5_reply, reply, sizeof(reply), &o, 4,
                    socks5_codes[i].error, socks5_codes[i].message);
    }
}

static void test_socks5_reply_bad(void)
{
    static const char http[] = "HTTP/1.1 400 Bad Request\r\n";
    static const guint8 atyp[] = {5, 0, 0, 2, 0, 0, 0, 0, 0, 0};
    Outs o = {0};

    parse_fails(p_socks5_reply, http, strlen(http), &o, 4,
                G_IO_ERROR_INVALID_DATA,
                "SOCKS5 proxy: not a SOCKS5 reply (version byte 0x48)");
    parse_fails(p_socks5_reply, atyp, sizeof(atyp), &o, 4,
                G_IO_ERROR_INVALID_DATA,
                "SOCKS5 proxy: unknown address type 2 in its reply");
}

static void test_socks5_greeting_parse(void)
{
    static const struct {
        guint8 msg[5];
        gsize len;
        gboolean none;
        gboolean password;
    } cases[] = {
        {{5, 1, 0}, 3, TRUE, FALSE}, {{5, 2, 0, 2}, 4, TRUE, TRUE},
        {{5, 1, 2}, 3, FALSE, TRUE}, {{5, 3, 1, 0x80, 0xff}, 5, FALSE, FALSE},
        {{5, 0}, 2, FALSE, FALSE},
    };
    static const guint8 socks4[] = {4, 1, 0, 80};
    Outs o = {0};

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        parse_ok(p_socks5_greeting, cases[i].msg, cases[i].len, &o);
        g_assert_cmpint(o.none, ==, cases[i].none);
        g_assert_cmpint(o.offers_password, ==, cases[i].password);
    }
    PARSE_ASKS(p_socks5_greeting, cases[1].msg, 2, 4);
    parse_fails(p_socks5_greeting, socks4, sizeof(socks4), &o, 2,
                G_IO_ERROR_INVALID_DATA,
                "SOCKS5 client: not a SOCKS5 greeting (version byte 0x04)");
}

static void test_socks5_method_reply(void)
{
    static const guint8 password[] = {5, 2};
    static const guint8 refused[] = {5, 0xff};
    g_autoptr(GByteArray) out = g_byte_array_new();

    qioc_socks5_method_reply(out, 2);
    ASSERT_BYTES(out, password);
    g_byte_array_set_size(out, 0);
    qioc_socks5_method_reply(out, 0xff);
    ASSERT_BYTES(out, refused);
}

static void test_socks5_auth_request_parse(void)
{
    static const guint8 msg[] = {1,   3,   'b', 'o', 'b', 6,
                                 's', 'e', 'c', 'r', 'e', 't'};
    static const guint8 empty[] = {1, 0, 0};
    static const guint8 socks5[] = {5, 1, 0};
    static const guint8 nul[] = {1, 2, 'a', 0, 1, 'p'};
    static const guint8 request[] = {5, 1, 0, 1, 127, 0, 0, 1, 0, 22};
    g_autoptr(GError) err = NULL;
    Outs o = {0};

    PARSE_OK(p_socks5_auth_request, msg, &o);
    g_assert_cmpint(o.req.version, ==, 5);
    g_assert_cmpstr(o.req.user, ==, "bob");
    g_assert_cmpstr(o.req.pass, ==, "secret");
    PARSE_ASKS(p_socks5_auth_request, msg, 2, 6, 12);

    /* The request that follows keeps the credentials. */
    g_assert_cmpint(qioc_socks5_request_parse(request, sizeof(request), &o.req,
                                              &o.rep, &err),
                    ==, sizeof(request));
    g_assert_no_error(err);
    g_assert_cmpstr(o.req.host, ==, "127.0.0.1");
    g_assert_cmpuint(o.req.port, ==, 22);
    g_assert_cmpstr(o.req.user, ==, "bob");
    g_assert_cmpstr(o.req.pass, ==, "secret");

    PARSE_OK(p_socks5_auth_request, empty, &o);
    g_assert_cmpstr(o.req.user, ==, "");
    g_assert_cmpstr(o.req.pass, ==, "");

    parse_fails(p_socks5_auth_request, socks5, sizeof(socks5), &o, 2,
                G_IO_ERROR_INVALID_DATA,
                "SOCKS5 client: not a username/password request "
                "(version byte 0x05)");
    parse_fails(p_socks5_auth_request, nul, sizeof(nul), &o, 6,
                G_IO_ERROR_INVALID_DATA,
                "SOCKS5 client: a NUL byte in the user name or password");
    qioc_proxy_request_clear(&o.req);
}

static void test_socks5_auth_reply(void)
{
    static const guint8 ok[] = {1, 0};
    static const guint8 no[] = {1, 1};
    g_autoptr(GByteArray) out = g_byte_array_new();

    qioc_socks5_auth_reply(out, TRUE);
    ASSERT_BYTES(out, ok);
    g_byte_array_set_size(out, 0);
    qioc_socks5_auth_reply(out, FALSE);
    ASSERT_BYTES(out, no);
}

static void test_socks5_request_parse(void)
{
    static const guint8 ipv4[] = {5, 1, 0, 1, 127, 0, 0, 1, 0, 80};
    /* [2001:db8::1]:443 */
    static const guint8 ipv6[] = {5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8,
                                  0, 0, 0, 0, 0,    0,    0,    0,
                                  0, 0, 0, 1, 1,    0xbb};
    static const guint8 name[] = {5,   1,   0,   3,   11,   'e',
                                  'x', 'a', 'm', 'p', 'l',  'e',
                                  '.', 'o', 'r', 'g', 0xff, 0xff};
    Outs o = {0};

    PARSE_OK(p_socks5_request, ipv4, &o);
    g_assert_cmpint(o.req.version, ==, 5);
    g_assert_cmpstr(o.req.host, ==, "127.0.0.1");
    g_assert_cmpuint(o.req.port, ==, 80);
    g_assert_cmpuint(o.rep, ==, 0);
    g_assert_null(o.req.user);
    PARSE_ASKS(p_socks5_request, ipv4, 4, 10);

    PARSE_OK(p_socks5_request, ipv6, &o);
    g_assert_cmpstr(o.req.host, ==, "2001:db8::1");
    g_assert_cmpuint(o.req.port, ==, 443);
    PARSE_ASKS(p_socks5_request, ipv6, 4, 22);

    PARSE_OK(p_socks5_request, name, &o);
    g_assert_cmpstr(o.req.host, ==, "example.org");
    g_assert_cmpuint(o.req.port, ==, 65535);
    PARSE_ASKS(p_socks5_request, name, 4, 5, 18);
    qioc_proxy_request_clear(&o.req);
}

static const struct {
    guint8 msg[10];
    gsize len;
    gsize at;
    guint8 rep;
    int error;
    const char *message;
} socks5_request_errors[] = {
    {{5, 2, 0, 1, 0, 0, 0, 0, 0, 0},
     10,
     4,
     7,
     G_IO_ERROR_NOT_SUPPORTED,
     "SOCKS5 client: BIND is not supported (command 2)"},
    {{5, 3, 0, 1, 0, 0, 0, 0, 0, 0},
     10,
     4,
     7,
     G_IO_ERROR_NOT_SUPPORTED,
     "SOCKS5 client: UDP ASSOCIATE is not supported (command 3)"},
    {{5, 9, 0, 1, 0, 0, 0, 0, 0, 0},
     10,
     4,
     7,
     G_IO_ERROR_INVALID_DATA,
     "SOCKS5 client: unknown command 9"},
    {{5, 1, 0, 9, 0, 0, 0, 0, 0, 0},
     10,
     4,
     8,
     G_IO_ERROR_NOT_SUPPORTED,
     "SOCKS5 client: unknown address type 9"},
    {{4, 1, 0, 80, 1, 2, 3, 4, 0},
     9,
     4,
     1,
     G_IO_ERROR_INVALID_DATA,
     "SOCKS5 client: not a SOCKS5 request (version byte 0x04)"},
    {{5, 1, 0, 3, 0, 0, 80},
     7,
     7,
     1,
     G_IO_ERROR_INVALID_DATA,
     "SOCKS5 client: an empty host name"},
    {{5, 1, 0, 3, 3, 'a', 0, 'b', 0, 80},
     10,
     10,
     1,
     G_IO_ERROR_INVALID_DATA,
     "SOCKS5 client: a NUL byte in the host name"},
};

static void test_socks5_request_parse_errors(void)
{
    Outs o = {0};

    for (gsize i = 0; i < G_N_ELEMENTS(socks5_request_errors); i++) {
        parse_fails(p_socks5_request, socks5_request_errors[i].msg,
                    socks5_request_errors[i].len, &o,
                    socks5_request_errors[i].at, socks5_request_errors[i].error,
                    socks5_request_errors[i].message);
        g_assert_cmpuint(o.rep, ==, socks5_request_errors[i].rep);
    }
}

static void test_socks5_reply_build(void)
{
    static const guint8 ipv4[] = {5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38};
    static const guint8 ipv6[] = {5, 0, 0, 4, 0, 0, 0, 0, 0, 0,    0,
                                  0, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0xbb};
    static const guint8 none[] = {5, 5, 0, 1, 0, 0, 0, 0, 0, 0};
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(GSocketAddress) sa4 =
        g_inet_socket_address_new_from_string("127.0.0.1", 1080);
    g_autoptr(GSocketAddress) sa6 =
        g_inet_socket_address_new_from_string("::1", 443);
    g_autoptr(GSocketAddress) unix_sa = g_unix_socket_address_new("/tmp/s");

    qioc_socks5_reply(out, 0, sa4);
    ASSERT_BYTES(out, ipv4);
    g_byte_array_set_size(out, 0);
    qioc_socks5_reply(out, 0, sa6);
    ASSERT_BYTES(out, ipv6);
    g_byte_array_set_size(out, 0);
    qioc_socks5_reply(out, 5, NULL);
    ASSERT_BYTES(out, none);
    g_byte_array_set_size(out, 0);
    qioc_socks5_reply(out, 5, unix_sa);
    ASSERT_BYTES(out, none);
}

/* ---------------------------------------------------------------- HTTP */

static void test_http_request(void)
{
    g_autofree char *plain =
        qioc_http_connect_request("example.com", 443, NULL);
    g_autofree char *v6 = qioc_http_connect_request("::1", 8443, "user:pass");

    g_assert_cmpstr(plain, ==,
                    "CONNECT example.com:443 HTTP/1.1\r\n"
                    "Host: example.com:443\r\n"
                    "\r\n");
    g_assert_cmpstr(v6, ==,
                    "CONNECT [::1]:8443 HTTP/1.1\r\n"
                    "Host: [::1]:8443\r\n"
                    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
                    "\r\n");
}

static void test_http_response(void)
{
    static const char *const ok[] = {
        "HTTP/1.1 200 Connection established\r\n\r\n",
        "HTTP/1.0 200 OK\r\nVia: 1.1 squid\r\nProxy-Agent: x\r\n\r\n",
        "HTTP/1.1 200\r\n\r\n",
        "HTTP/1.1 201 Created\n\n",
        "HTTP/1.0 299 Whatever\r\nX: y\n\r\n",
        /* More than one space after the version, as socat accepts. */
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.0   200\r\n\r\n",
    };
    static const char one[] = "HTTP/1.1 200 OK\r\n\r\n";
    g_autoptr(GString) max = g_string_new("HTTP/1.1 200 OK\r\nX-Pad: ");
    Outs o = {0};

    for (gsize i = 0; i < G_N_ELEMENTS(ok); i++) {
        parse_ok(p_http_response, ok[i], strlen(ok[i]), &o);
    }
    /* One more byte at a time. */
    parse_asks(p_http_response, one, strlen(one),
               (const gsize[]){1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                               11, 12, 13, 14, 15, 16, 17, 18, 19, 0});

    /* A head of exactly QIOC_HTTP_HEADER_MAX bytes is still taken. */
    while (max->len < QIOC_HTTP_HEADER_MAX - 4) {
        g_string_append_c(max, 'a');
    }
    g_string_append(max, "\r\n\r\n");
    parse_ok(p_http_response, max->str, max->len, &o);
}

static const struct {
    const char *msg;
    int error;
    const char *message;
} http_response_errors[] = {
    {"HTTP/1.1 407 Proxy Authentication Required\r\n"
     "Proxy-Authenticate: Basic realm=\"x\"\r\n\r\n",
     G_IO_ERROR_PERMISSION_DENIED,
     "HTTP proxy: HTTP/1.1 407 Proxy Authentication Required"},
    {"HTTP/1.0 403 Forbidden\r\n\r\n", G_IO_ERROR_PERMISSION_DENIED,
     "HTTP proxy: HTTP/1.0 403 Forbidden"},
    {"HTTP/1.1 502 Bad Gateway\r\n\r\n", G_IO_ERROR_PROXY_FAILED,
     "HTTP proxy: HTTP/1.1 502 Bad Gateway"},
    {"HTTP/1.1 100 Continue\r\n\r\n", G_IO_ERROR_PROXY_FAILED,
     "HTTP proxy: HTTP/1.1 100 Continue"},
    /* Control bytes are escaped: the message stays one line. */
    {"HTTP/1.1 403 No\x1b[2J\tentry\x80\r\n\r\n", G_IO_ERROR_PERMISSION_DENIED,
     "HTTP proxy: HTTP/1.1 403 No\\x1b[2J\\x09entry\\x80"},
    {"SSH-2.0-OpenSSH_9.2\r\n", G_IO_ERROR_INVALID_DATA,
     "HTTP proxy: not an HTTP response: \"S\""},
    {"\x05\x00", G_IO_ERROR_INVALID_DATA,
     "HTTP proxy: not an HTTP response: \"\\x05\""},
    {"HTTP/2 200\r\n\r\n", G_IO_ERROR_INVALID_DATA,
     "HTTP proxy: not an HTTP response: \"HTTP/2\""},
    {"HTTP/1.1 2000 OK\r\n\r\n", G_IO_ERROR_INVALID_DATA,
     "HTTP proxy: not an HTTP response: \"HTTP/1.1 2000 OK\""},
    {"HTTP/1.1 abc OK\r\n\r\n", G_IO_ERROR_INVALID_DATA, NULL},
    {"HTTP/1.1 20\r\n\r\n", G_IO_ERROR_INVALID_DATA, NULL},
    {"HTTP/1.1 2001\r\n\r\n", G_IO_ERROR_INVALID_DATA, NULL},
    {"HTTP/1.1    \r\n\r\n", G_IO_ERROR_INVALID_DATA, NULL},
};

static void test_http_response_errors(void)
{
    Outs o = {0};

    for (gsize i = 0; i < G_N_ELEMENTS(http_response_errors); i++) {
        parse_fails(p_http_response, http_response_errors[i].msg,
                    strlen(http_response_errors[i].msg), &o, 0,
                    http_response_errors[i].error,
                    http_response_errors[i].message);
    }
}

static void test_http_response_limits(void)
{
    g_autoptr(GString) big = g_string_new("HTTP/1.1 200 OK\r\nX-Pad: ");
    g_autoptr(GString) reason = g_string_new("HTTP/1.1 403 ");
    g_autofree char *want = NULL;
    Outs o = {0};

    /* The whole head is limited: an error once it reaches the limit. */
    while (big->len < 2 * QIOC_HTTP_HEADER_MAX) {
        g_string_append_c(big, 'a');
    }
    parse_fails(p_http_response, big->str, big->len, &o, QIOC_HTTP_HEADER_MAX,
                G_IO_ERROR_MESSAGE_TOO_LARGE,
                "HTTP proxy: header block over 16384 bytes");

    /* A long status line is cut in the message. */
    while (reason->len < 300) {
        g_string_append_c(reason, 'r');
    }
    want = g_strdup_printf("HTTP proxy: %.200s...", reason->str);
    g_string_append(reason, "\r\n\r\n");
    parse_fails(p_http_response, reason->str, reason->len, &o, 0,
                G_IO_ERROR_PERMISSION_DENIED, want);
}

static const struct {
    const char *msg;
    const char *host;
    guint16 port;
    const char *user;
    const char *pass;
} http_requests[] = {
    {"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
     "example.com", 443, NULL, NULL},
    {"CONNECT 10.1.2.3:1 HTTP/1.0\n\n", "10.1.2.3", 1, NULL, NULL},
    {"CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n", "2001:db8::1", 8443, NULL,
     NULL},
    {"CONNECT [::1]:65535 HTTP/1.1\r\n"
     "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n",
     "::1", 65535, "user", "pass"},
    /* Header name and scheme in any case; the password keeps its colons. */
    {"CONNECT h:80 HTTP/1.1\r\nHost: h:80\r\n"
     "proxy-AUTHORIZATION:   bAsIc   dTpwOjpx  \r\nUser-Agent: t\r\n\r\n",
     "h", 80, "u", "p::q"},
    {"CONNECT h:80 HTTP/1.1\r\nProxy-Authorization: Basic Og==\r\n\r\n", "h",
     80, "", ""},
    /* Another scheme: no credentials (the driver may answer 407). */
    {"CONNECT h:80 HTTP/1.1\r\nProxy-Authorization: Bearer abc\r\n\r\n", "h",
     80, NULL, NULL},
};

static void test_http_request_parse(void)
{
    static const char one[] = "CONNECT h:1 HTTP/1.1\r\n\r\n";
    gsize want[sizeof(one)];
    Outs o = {0};

    for (gsize i = 0; i < G_N_ELEMENTS(http_requests); i++) {
        parse_ok(p_http_request, http_requests[i].msg,
                 strlen(http_requests[i].msg), &o);
        g_assert_cmpint(o.req.version, ==, 1);
        g_assert_cmpstr(o.req.host, ==, http_requests[i].host);
        g_assert_cmpuint(o.req.port, ==, http_requests[i].port);
        g_assert_cmpstr(o.req.user, ==, http_requests[i].user);
        g_assert_cmpstr(o.req.pass, ==, http_requests[i].pass);
        g_assert_cmpuint(o.status, ==, 200);
    }
    qioc_proxy_request_clear(&o.req);

    for (gsize i = 0; i < strlen(one); i++) {
        want[i] = i + 1;
    }
    want[strlen(one)] = 0;
    parse_asks(p_http_request, one, strlen(one), want);
}

static const struct {
    const char *msg;
    guint status;
    gsize at; /* 0: any */
    int error;
    const char *message;
} http_request_errors[] = {
    {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 405, 16, G_IO_ERROR_NOT_SUPPORTED,
     "HTTP client: only CONNECT is allowed: \"GET / HTTP/1.1\""},
    {"connect h:80 HTTP/1.1\r\n\r\n", 405, 0, G_IO_ERROR_NOT_SUPPORTED, NULL},
    {"GET http://h/ HTTP/1.0\n\n", 405, 0, G_IO_ERROR_NOT_SUPPORTED, NULL},
    /* Anything that cannot be a method is refused at once. */
    {"\x05\x01\x00", 400, 1, G_IO_ERROR_INVALID_DATA,
     "HTTP client: not an HTTP request: \"\\x05\""},
    {"\x16\x03\x01\x02\x00\x01", 400, 1, G_IO_ERROR_INVALID_DATA, NULL},
    {" CONNECT h:80 HTTP/1.1\r\n\r\n", 400, 1, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT example.com HTTP/1.1\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA,
     "HTTP client: bad CONNECT target: \"CONNECT example.com HTTP/1.1\""},
    {"CONNECT h:0 HTTP/1.1\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT h:65536 HTTP/1.1\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT h:+80 HTTP/1.1\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT h: HTTP/1.1\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT :80 HTTP/1.1\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT ::1:80 HTTP/1.1\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT [::1] HTTP/1.1\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT [1.2.3.4]:80 HTTP/1.1\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA,
     NULL},
    {"CONNECT [::1:80 HTTP/1.1\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT http://h:80 HTTP/1.1\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA,
     NULL},
    {"CONNECT h:80 HTTP/2.0\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA,
     "HTTP client: malformed request line: \"CONNECT h:80 HTTP/2.0\""},
    {"CONNECT h:80\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT  h:80 HTTP/1.1\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT h:80 HTTP/1.1 x\r\n\r\n", 400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    /* The request line is judged before the rest of the head arrives. */
    {"CONNECT h:80 HTTP/2.0\r\nHost: h\r\n", 400, 23, G_IO_ERROR_INVALID_DATA,
     NULL},
    {"CONNECT h:80 HTTP/1.1\r\nNo colon\r\n\r\n", 400, 0,
     G_IO_ERROR_INVALID_DATA, "HTTP client: malformed header: \"No colon\""},
    {"CONNECT h:80 HTTP/1.1\r\nHost : h\r\n\r\n", 400, 0,
     G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT h:80 HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400, 0,
     G_IO_ERROR_INVALID_DATA, NULL},
    /* Credentials are never quoted. */
    {"CONNECT h:80 HTTP/1.1\r\nProxy-Authorization: Basic !!!!\r\n\r\n", 400, 0,
     G_IO_ERROR_INVALID_DATA, "HTTP client: malformed Proxy-Authorization"},
    {"CONNECT h:80 HTTP/1.1\r\nProxy-Authorization: Basic dXNlcg==\r\n\r\n",
     400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT h:80 HTTP/1.1\r\nProxy-Authorization: Basic dXNlcjp\r\n\r\n", 400,
     0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT h:80 HTTP/1.1\r\nProxy-Authorization: Basic\r\n\r\n", 400, 0,
     G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT h:80 HTTP/1.1\r\nProxy-Authorization: Basic AHU6cA==\r\n\r\n",
     400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    /* Credentials already decoded are dropped (valgrind sees a leak). */
    {"CONNECT h:80 HTTP/1.1\r\nProxy-Authorization: Basic dTpw\r\n"
     "\r x\n\n",
     400, 0, G_IO_ERROR_INVALID_DATA, NULL},
    {"CONNECT h:80 HTTP/1.1\r\nProxy-Authorization: Basic dTpw\r\n"
     "Proxy-Authorization: Basic dTpw\r\n\r\n",
     400, 0, G_IO_ERROR_INVALID_DATA, "HTTP client: Proxy-Authorization twice"},
};

static void test_http_request_parse_errors(void)
{
    Outs o = {0};

    for (gsize i = 0; i < G_N_ELEMENTS(http_request_errors); i++) {
        g_autofree char *text = g_strescape(http_request_errors[i].msg, NULL);

        g_test_message("%s", text);
        parse_fails(p_http_request, http_request_errors[i].msg,
                    strlen(http_request_errors[i].msg), &o,
                    http_request_errors[i].at, http_request_errors[i].error,
                    http_request_errors[i].message);
        g_assert_cmpuint(o.status, ==, http_request_errors[i].status);
    }
}

static void test_http_request_too_long(void)
{
    g_autoptr(GString) big = g_string_new("CONNECT h:80 HTTP/1.1\r\nX-Pad: ");
    g_autoptr(GString) max = NULL;
    Outs o = {0};

    while (big->len < 2 * QIOC_HTTP_HEADER_MAX) {
        g_string_append_c(big, 'a');
    }
    parse_fails(p_http_request, big->str, big->len, &o, QIOC_HTTP_HEADER_MAX,
                G_IO_ERROR_MESSAGE_TOO_LARGE,
                "HTTP client: header block over 16384 bytes");
    g_assert_cmpuint(o.status, ==, 431);

    /* Exactly the limit is taken. */
    max = g_string_new_len(big->str, QIOC_HTTP_HEADER_MAX - 4);
    g_string_append(max, "\r\n\r\n");
    parse_ok(p_http_request, max->str, max->len, &o);
    g_assert_cmpstr(o.req.host, ==, "h");
    qioc_proxy_request_clear(&o.req);
}

static void test_http_reply(void)
{
    static const struct {
        guint status;
        const char *text;
    } cases[] = {
        {200, "HTTP/1.1 200 Connection established\r\n\r\n"},
        {400, "HTTP/1.1 400 Bad Request\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n"},
        {403, "HTTP/1.1 403 Forbidden\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n"},
        {405, "HTTP/1.1 405 Method Not Allowed\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n"},
        {407, "HTTP/1.1 407 Proxy Authentication Required\r\n"
              "Proxy-Authenticate: Basic realm=\"qioc\"\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n"},
        {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n"},
        {502, "HTTP/1.1 502 Bad Gateway\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n"},
        {504, "HTTP/1.1 504 Gateway Timeout\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n"},
        {599, "HTTP/1.1 599 Error\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n"},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = qioc_http_connect_reply(cases[i].status);

        g_assert_cmpstr(text, ==, cases[i].text);
    }
}

/* ---------------------------------------------------------------- both */

/* What each side builds, the other side parses back. */
static void test_roundtrip(void)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autofree char *req = qioc_http_connect_request("::1", 22, "a:b:c");
    g_autofree char *reply = qioc_http_connect_reply(200);
    g_autofree char *refused = qioc_http_connect_reply(407);
    Outs o = {0};

    qioc_socks4_request(out, "example.net", 1, "id", TRUE, NULL);
    parse_ok(p_socks4_request, out->data, out->len, &o);
    g_assert_cmpstr(o.req.host, ==, "example.net");
    g_assert_cmpstr(o.req.user, ==, "id");

    g_byte_array_set_size(out, 0);
    qioc_socks5_connect_request(out, "fe80::1", 7, NULL);
    parse_ok(p_socks5_request, out->data, out->len, &o);
    g_assert_cmpstr(o.req.host, ==, "fe80::1");
    g_assert_cmpuint(o.req.port, ==, 7);

    g_byte_array_set_size(out, 0);
    qioc_socks5_auth_request(out, "me", "pw", NULL);
    parse_ok(p_socks5_auth_request, out->data, out->len, &o);
    g_assert_cmpstr(o.req.user, ==, "me");
    g_assert_cmpstr(o.req.pass, ==, "pw");

    g_byte_array_set_size(out, 0);
    qioc_socks4_reply(out, TRUE);
    parse_ok(p_socks4_reply, out->data, out->len, &o);

    g_byte_array_set_size(out, 0);
    qioc_socks5_reply(out, 0, NULL);
    parse_ok(p_socks5_reply, out->data, out->len, &o);

    parse_ok(p_http_request, req, strlen(req), &o);
    g_assert_cmpstr(o.req.host, ==, "::1");
    g_assert_cmpstr(o.req.user, ==, "a");
    g_assert_cmpstr(o.req.pass, ==, "b:c");
    parse_ok(p_http_response, reply, strlen(reply), &o);
    parse_fails(p_http_response, refused, strlen(refused), &o, 0,
                G_IO_ERROR_PERMISSION_DENIED,
                "HTTP proxy: HTTP/1.1 407 Proxy Authentication Required");
}

/* Random bytes through every parser: the contract holds whatever comes. */
static void test_random(void)
{
    static const Parser parsers[] = {
        p_socks4_reply,    p_socks5_method,       p_socks5_auth,
        p_socks5_reply,    p_http_response,       p_socks4_request,
        p_socks5_greeting, p_socks5_auth_request, p_socks5_request,
        p_http_request,
    };
    guint8 buf[600];
    Outs o = {0};

    for (int round = 0; round < 2000; round++) {
        gsize n = (gsize)g_test_rand_int_range(0, sizeof(buf));

        qio_test_fill_random(buf, n);
        /* Some valid heads, so that the parsers get past them. */
        if (n > 0 && round % 2) {
            buf[0] = (guint8)g_test_rand_int_range(0, 6);
        }
        for (gsize i = 0; i < G_N_ELEMENTS(parsers); i++) {
            g_autoptr(GError) err = NULL;

            o.password = round % 3 == 0;
            drive(parsers[i], buf, n, round % 4 ? FEED_ASKED : FEED_TRICKLE, &o,
                  NULL, &err);
            qioc_proxy_request_clear(&o.req);
        }
    }
}

/* ---------------------------------------------------------------- errors */

static void test_error_mapping(void)
{
    static const struct {
        GQuark domain;
        int code;
        guint8 rep;
        guint status;
    } cases[] = {
        {0, G_IO_ERROR_CONNECTION_REFUSED, 5, 502},
        {0, G_IO_ERROR_HOST_UNREACHABLE, 4, 502},
        {0, G_IO_ERROR_NOT_FOUND, 4, 502},
        {0, G_IO_ERROR_TIMED_OUT, 4, 504},
        {0, G_IO_ERROR_NETWORK_UNREACHABLE, 3, 502},
        {0, G_IO_ERROR_PERMISSION_DENIED, 2, 403},
        {0, G_IO_ERROR_FAILED, 1, 502},
        {0, G_IO_ERROR_CONNECTION_CLOSED, 1, 502},
        {1, G_RESOLVER_ERROR_NOT_FOUND, 4, 502},
        {1, G_RESOLVER_ERROR_TEMPORARY_FAILURE, 4, 502},
        /* Another domain's code 39 is not G_IO_ERROR_CONNECTION_REFUSED. */
        {2, G_IO_ERROR_CONNECTION_REFUSED, 1, 502},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        GQuark domains[] = {G_IO_ERROR, G_RESOLVER_ERROR, G_FILE_ERROR};
        g_autoptr(GError) err =
            g_error_new_literal(domains[cases[i].domain], cases[i].code, "x");

        g_assert_cmpuint(qioc_socks5_rep_of_error(err), ==, cases[i].rep);
        g_assert_cmpuint(qioc_http_status_of_error(err), ==, cases[i].status);
    }
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/proxy-proto/socks4/request", test_socks4_request);
    g_test_add_func("/proxy-proto/socks4/request-errors",
                    test_socks4_request_errors);
    g_test_add_func("/proxy-proto/socks4/reply", test_socks4_reply);
    g_test_add_func("/proxy-proto/socks4/reply-codes", test_socks4_reply_codes);
    g_test_add_func("/proxy-proto/socks4/reply-bad", test_socks4_reply_bad);
    g_test_add_func("/proxy-proto/socks4/server/request",
                    test_socks4_request_parse);
    g_test_add_func("/proxy-proto/socks4/server/request-errors",
                    test_socks4_request_parse_errors);
    g_test_add_func("/proxy-proto/socks4/server/reply",
                    test_socks4_reply_build);
    g_test_add_func("/proxy-proto/socks5/greeting", test_socks5_greeting);
    g_test_add_func("/proxy-proto/socks5/method", test_socks5_method);
    g_test_add_func("/proxy-proto/socks5/method-errors",
                    test_socks5_method_errors);
    g_test_add_func("/proxy-proto/socks5/auth-request",
                    test_socks5_auth_request);
    g_test_add_func("/proxy-proto/socks5/auth", test_socks5_auth);
    g_test_add_func("/proxy-proto/socks5/connect-request",
                    test_socks5_connect_request);
    g_test_add_func("/proxy-proto/socks5/reply", test_socks5_reply);
    g_test_add_func("/proxy-proto/socks5/reply-codes", test_socks5_reply_codes);
    g_test_add_func("/proxy-proto/socks5/reply-bad", test_socks5_reply_bad);
    g_test_add_func("/proxy-proto/socks5/server/greeting",
                    test_socks5_greeting_parse);
    g_test_add_func("/proxy-proto/socks5/server/method-reply",
                    test_socks5_method_reply);
    g_test_add_func("/proxy-proto/socks5/server/auth-request",
                    test_socks5_auth_request_parse);
    g_test_add_func("/proxy-proto/socks5/server/auth-reply",
                    test_socks5_auth_reply);
    g_test_add_func("/proxy-proto/socks5/server/request",
                    test_socks5_request_parse);
    g_test_add_func("/proxy-proto/socks5/server/request-errors",
                    test_socks5_request_parse_errors);
    g_test_add_func("/proxy-proto/socks5/server/reply",
                    test_socks5_reply_build);
    g_test_add_func("/proxy-proto/http/request", test_http_request);
    g_test_add_func("/proxy-proto/http/response", test_http_response);
    g_test_add_func("/proxy-proto/http/response-errors",
                    test_http_response_errors);
    g_test_add_func("/proxy-proto/http/response-limits",
                    test_http_response_limits);
    g_test_add_func("/proxy-proto/http/server/request",
                    test_http_request_parse);
    g_test_add_func("/proxy-proto/http/server/request-errors",
                    test_http_request_parse_errors);
    g_test_add_func("/proxy-proto/http/server/request-too-long",
                    test_http_request_too_long);
    g_test_add_func("/proxy-proto/http/server/reply", test_http_reply);
    g_test_add_func("/proxy-proto/roundtrip", test_roundtrip);
    g_test_add_func("/proxy-proto/random", test_random);
    g_test_add_func("/proxy-proto/error-mapping", test_error_mapping);
    return g_test_run();
}
