/*
 * libFuzzer harness: the SOCKS4/4A/5 and HTTP CONNECT parsers of
 * src/proxy-proto.c, both sides, on hostile bytes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Layout: byte 0 picks the parser (bits 0-3, modulo their number), says
 * whether qioc offered username/password (bit 4, for the method parser)
 * and how the bytes are handed over (bit 5: one more at a time instead of
 * as many as asked for); the rest is what the peer sent.
 * tests/fuzz/gen-seeds.py writes the seeds.
 *
 * The harness calls a parser as src/proxy.c does: from no bytes, then
 * with as many as it asked for, each prefix in a buffer of exactly its
 * size (ASan sees a read past it), until the parser is done or asks for
 * more than there is. Invariants, each a crash when broken, are those of
 * src/proxy-proto.h:
 * - a parser never returns 0, nor anything below the length it was given
 *   but -1;
 * - it never takes back a size it asked for;
 * - -1 comes with a G_IO_ERROR of one line, and the request untouched;
 * - a finished message gives sane out parameters (a host, a port, a
 *   method that was offered), and what a server parsed, built again by
 *   the client side, parses back to the same.
 * Out parameters are freed with qioc_proxy_request_clear(), so LeakSanitizer
 * sees anything a parser leaks.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not g_error(): it traps, and libFuzzer keeps the input only on abort. */
#define FAIL(...)                                                              \
    do {                                                                       \
        g_printerr("%s: ", G_STRLOC);                                          \
        g_printerr(__VA_ARGS__);                                               \
        g_printerr("\n");                                                      \
        abort();                                                               \
    } while (0)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            FAIL("%s", #cond);                                                 \
        }                                                                      \
    } while (0)

enum {
    OPT_PASSWORD = 1 << 4, /* the client offered username/password */
    OPT_TRICKLE = 1 << 5,  /* one byte more at a time */
};

/* Every parser's out parameters, and the one input a parser takes. */
typedef struct {
    gboolean password;
    guint8 method;
    gboolean none;
    gboolean offers_password;
    QiocProxyRequest req;
    guint8 rep;
    guint status;
} Outs;

typedef gssize (*ParseFn)(const guint8 *buf, gsize len, Outs *o, GError **errp);

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

typedef struct {
    ParseFn parse;
    /* Checks a finished message's out parameters. */
    void (*done)(const guint8 *msg, gsize len, Outs *o);
} Parser;

/*
 * Hand @data over as the driver does. Returns the length of the
 * finished message, or -1 (error, or more asked for than there is).
 */
static gssize drive(ParseFn parse, const guint8 *data, gsize size,
                    gboolean trickle, Outs *o)
{
    gsize len = 0;
    gsize asked = 0;

    for (;;) {
        g_autoptr(GError) err = NULL;
        g_autofree guint8 *buf = g_memdup2(data, len);
        gssize ret = parse(buf, len, o, &err);

        CHECK(ret != 0);
        if (ret < 0) {
            CHECK(ret == -1);
            CHECK(err != NULL);
            CHECK(err->domain == G_IO_ERROR);
            CHECK(!strchr(err->message, '\n') && !strchr(err->message, '\r'));
            CHECK(o->req.host == NULL);
            return -1;
        }
        CHECK(err == NULL);
        if ((gsize)ret == len) {
            return ret;
        }
        CHECK((gsize)ret > len);
        CHECK((gsize)ret >= asked);
        asked = (gsize)ret;
        if (asked > size) {
            return -1;
        }
        len = trickle ? len + 1 : asked;
    }
}

/* ---------------------------------------------------------------- checks */

static void done_nothing(const guint8 *msg, gsize len, Outs *o)
{
}

static void done_method(const guint8 *msg, gsize len, Outs *o)
{
    CHECK(o->method == 0 || (o->method == 2 && o->password));
}

static void done_greeting(const guint8 *msg, gsize len, Outs *o)
{
    CHECK(o->none == TRUE || o->none == FALSE);
    CHECK(o->offers_password == TRUE || o->offers_password == FALSE);
}

/* The same host: the same address when both are IP literals. */
static gboolean same_host(const char *a, const char *b)
{
    g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(a);
    g_autoptr(GInetAddress) ib = g_inet_address_new_from_string(b);

    if (ia && ib) {
        return g_inet_address_equal(ia, ib);
    }
    return strcmp(a, b) == 0;
}

/* The request parsed from what @out holds is @want (user and pass too). */
static void parses_back(ParseFn parse, const GByteArray *out,
                        const QiocProxyRequest *want)
{
    Outs back = {0};

    CHECK(drive(parse, out->data, out->len, FALSE, &back) == (gssize)out->len);
    CHECK(
        (!back.req.host && !want->host) ||
        (back.req.host && want->host && same_host(back.req.host, want->host)));
    CHECK(back.req.port == want->port);
    CHECK(g_strcmp0(back.req.user, want->user) == 0);
    CHECK(g_strcmp0(back.req.pass, want->pass) == 0);
    qioc_proxy_request_clear(&back.req);
}

static void done_socks4_request(const guint8 *msg, gsize len, Outs *o)
{
    g_autoptr(GByteArray) out = g_byte_array_new();

    CHECK(o->req.version == 4 && o->req.host && *o->req.host);
    CHECK(!o->req.user || *o->req.user);
    CHECK(o->req.pass == NULL);
    if (qioc_socks4_request(out, o->req.host, o->req.port, o->req.user, TRUE,
                            NULL)) {
        parses_back(p_socks4_request, out, &o->req);
    }
}

static void done_socks5_auth(const guint8 *msg, gsize len, Outs *o)
{
    g_autoptr(GByteArray) out = g_byte_array_new();

    CHECK(o->req.version == 5 && o->req.user && o->req.pass);
    CHECK(o->req.host == NULL);
    if (qioc_socks5_auth_request(out, o->req.user, o->req.pass, NULL)) {
        parses_back(p_socks5_auth_request, out, &o->req);
    }
}

static void done_socks5_request(const guint8 *msg, gsize len, Outs *o)
{
    g_autoptr(GByteArray) out = g_byte_array_new();

    CHECK(o->req.version == 5 && o->req.host && *o->req.host);
    CHECK(o->rep == 0);
    /* Every target a client can send, qioc can send on. */
    CHECK(qioc_socks5_connect_request(out, o->req.host, o->req.port, NULL));
    parses_back(p_socks5_request, out, &o->req);
}

static void done_http_request(const guint8 *msg, gsize len, Outs *o)
{
    g_autofree char *auth = NULL;
    g_autofree char *text = NULL;
    g_autoptr(GByteArray) out = g_byte_array_new();

    CHECK(o->req.version == 1 && o->req.host && *o->req.host);
    CHECK(o->req.port != 0 && o->status == 200);
    CHECK(!o->req.user == !o->req.pass);
    CHECK(!o->req.user || !strchr(o->req.user, ':'));
    if (o->req.user) {
        auth = g_strconcat(o->req.user, ":", o->req.pass, NULL);
    }
    text = qioc_http_connect_request(o->req.host, o->req.port, auth);
    g_byte_array_append(out, (const guint8 *)text, strlen(text));
    parses_back(p_http_request, out, &o->req);
}

static const Parser parsers[] = {
    {p_socks4_reply, done_nothing},
    {p_socks5_method, done_method},
    {p_socks5_auth, done_nothing},
    {p_socks5_reply, done_nothing},
    {p_http_response, done_nothing},
    {p_socks4_request, done_socks4_request},
    {p_socks5_greeting, done_greeting},
    {p_socks5_auth_request, done_socks5_auth},
    {p_socks5_request, done_socks5_request},
    {p_http_request, done_http_request},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const Parser *p;
    Outs o = {0};
    guint8 mode;
    gssize ret;

    if (size == 0) {
        return 0;
    }
    mode = data[0];
    p = &parsers[(mode & 0x0f) % G_N_ELEMENTS(parsers)];
    o.password = (mode & OPT_PASSWORD) != 0;
    ret = drive(p->parse, data + 1, size - 1, (mode & OPT_TRICKLE) != 0, &o);
    if (ret >= 0) {
        p->done(data + 1, (gsize)ret, &o);
    }
    qioc_proxy_request_clear(&o.req);
    return 0;
}
