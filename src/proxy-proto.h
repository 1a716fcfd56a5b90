/*
 * qioc - the messages of SOCKS4, SOCKS4A, SOCKS5 (RFC 1928, RFC 1929) and
 * HTTP CONNECT, for both sides: building them, and parsing them as they
 * arrive. No I/O here: src/proxy.c drives these over a channel, and the
 * fuzz harness tests/fuzz/fuzz-proxy.c feeds the parsers hostile bytes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every parser takes all the bytes of one message received so far
 * (@buf, @len) and returns:
 *   - -1 with @errp set: the bytes are not such a message, or say no;
 *   - a number greater than @len: the message needs at least that many
 *     bytes in all; read the difference (never more: what follows the
 *     message belongs to the next layer) and call again;
 *   - @len: the message is complete, and the out parameters are set.
 * A parser never reads past @len and never returns 0. Given fewer bytes
 * than a message's fixed head it asks for the head. Out parameters are
 * set only when the message is complete (the request's fields are
 * replaced, the old ones freed), except the status or reply code to
 * answer with, which an error sets too. Given more bytes than it asked
 * for (a driver's bug), a SOCKS parser fails; the HTTP parsers look for
 * the blank line only at the end of @buf.
 *
 * Errors are G_IO_ERROR, one line, and say what the other side said in
 * words: "SOCKS5 proxy: connection refused (reply 5)", "HTTP proxy:
 * HTTP/1.1 403 Forbidden".
 */
#ifndef QIOC_PROXY_PROTO_H
#define QIOC_PROXY_PROTO_H

#include <gio/gio.h>

/* The largest message qioc takes: an HTTP header block, in bytes. */
#define QIOC_HTTP_HEADER_MAX 16384

/* ---------------------------------------------------------------- client */

/*
 * SOCKS4 CONNECT: @host must be an IPv4 literal (the caller resolves a
 * name first); SOCKS4A (@socks4a): an IPv4 literal is sent as is, a name
 * as 0.0.0.1 plus the name for the proxy to resolve. @user is the user
 * id (socksuser=), "" for none. FALSE for an IPv6 address, a name with
 * plain SOCKS4, or a name or user id over 255 bytes.
 */
gboolean qioc_socks4_request(GByteArray *out, const char *host, guint16 port,
                             const char *user, gboolean socks4a, GError **errp);

/*
 * The proxy's 8-byte answer: granted (90), or the reason in words. The
 * version byte is 0, as the protocol says, or 4, as some servers send.
 */
gssize qioc_socks4_reply_parse(const guint8 *buf, gsize len, GError **errp);

/* The methods offered: none (0), and username/password (2) if @password. */
void qioc_socks5_greeting(GByteArray *out, gboolean password);

/*
 * The method the proxy chose (*@method: 0 or 2). 0xFF, or a method that
 * was not offered (@password says whether 2 was), is an error that says
 * which methods qioc offered.
 */
gssize qioc_socks5_method_parse(const guint8 *buf, gsize len, gboolean password,
                                guint8 *method, GError **errp);

/* RFC 1929: @user and @pass, 1 to 255 bytes each. */
gboolean qioc_socks5_auth_request(GByteArray *out, const char *user,
                                  const char *pass, GError **errp);

/* RFC 1929's answer: status 0, else "wrong username or password". */
gssize qioc_socks5_auth_parse(const guint8 *buf, gsize len, GError **errp);

/* CONNECT to an IPv4 or IPv6 literal, or a name (at most 255 bytes). */
gboolean qioc_socks5_connect_request(GByteArray *out, const char *host,
                                     guint16 port, GError **errp);

/*
 * The proxy's answer to CONNECT: its head, then the bound address whose
 * length depends on its type. A reply code other than 0 is an error
 * with the code in words, returned as soon as the head is in.
 */
gssize qioc_socks5_reply_parse(const guint8 *buf, gsize len, GError **errp);

/*
 * "CONNECT HOST:PORT HTTP/1.1" with Host:, and Proxy-Authorization:
 * Basic when @auth ("USER:PASS") is given. An IPv6 literal is bracketed.
 * Free with g_free().
 */
char *qioc_http_connect_request(const char *host, guint16 port,
                                const char *auth);

/*
 * The proxy's answer, up to and including the blank line: a 2xx status
 * is success; anything else an error quoting the status line. Until the
 * blank line is in, asks for one byte more at a time; a block larger
 * than QIOC_HTTP_HEADER_MAX, or that is not HTTP, is an error. Bytes
 * that cannot begin "HTTP/1." fail at once, and so does a status other
 * than 2xx as soon as its line is in.
 */
gssize qioc_http_connect_response_parse(const guint8 *buf, gsize len,
                                        GError **errp);

/* ---------------------------------------------------------------- server */

/**
 * QiocProxyRequest:
 * @version: 4 (SOCKS4 and 4A), 5 (SOCKS5) or 1 (HTTP CONNECT)
 * @host: the target: an IP address literal (without brackets) or a name
 * @port: the target port
 * @user: (nullable): the SOCKS4 user id, the SOCKS5 or Basic user name
 * @pass: (nullable): the SOCKS5 or Basic password
 *
 * What a client asked the proxy for. Clear with qioc_proxy_request_clear().
 */
typedef struct QiocProxyRequest {
    int version;
    char *host;
    guint16 port;
    char *user;
    char *pass;
} QiocProxyRequest;

void qioc_proxy_request_clear(QiocProxyRequest *req);

/*
 * SOCKS4 or SOCKS4A CONNECT (the version byte is 4): fills @req (host,
 * port, user id: NULL when empty; pass NULL). BIND (command 2) and
 * anything else are errors. A user id or name over 255 bytes is an
 * error. Until a NUL ends the user id (and the name), asks for one byte
 * more at a time.
 */
gssize qioc_socks4_request_parse(const guint8 *buf, gsize len,
                                 QiocProxyRequest *req, GError **errp);

/* The 8-byte answer: granted (90) or rejected (91). */
void qioc_socks4_reply(GByteArray *out, gboolean granted);

/*
 * SOCKS5 greeting (version 5, the methods): whether the client offers
 * no authentication (*@none) and username/password (*@password). No
 * methods at all is no error: both are FALSE, and the answer is 0xFF.
 */
gssize qioc_socks5_greeting_parse(const guint8 *buf, gsize len, gboolean *none,
                                  gboolean *password, GError **errp);

/* The method chosen: 0, 2, or 0xFF for none acceptable. */
void qioc_socks5_method_reply(GByteArray *out, guint8 method);

/*
 * RFC 1929 request (version 1): the user name and password into @req
 * (its version becomes 5; host and port are left alone). Empty ones are
 * taken, for the caller to refuse; a NUL byte in either is an error.
 */
gssize qioc_socks5_auth_request_parse(const guint8 *buf, gsize len,
                                      QiocProxyRequest *req, GError **errp);

/* RFC 1929 answer: status 0 (@ok) or 1. */
void qioc_socks5_auth_reply(GByteArray *out, gboolean ok);

/*
 * SOCKS5 request: CONNECT (command 1) to an IPv4, IPv6 or name target
 * into @req's host and port (user and pass are left alone). *@rep is 0
 * when complete; on an error, it is the reply code to answer with (7:
 * command not supported, 8: address type not supported, 1: anything
 * else, an empty name or one with a NUL byte among them). The command
 * and address type are judged as soon as the 4-byte head is in.
 */
gssize qioc_socks5_request_parse(const guint8 *buf, gsize len,
                                 QiocProxyRequest *req, guint8 *rep,
                                 GError **errp);

/*
 * SOCKS5 answer @rep (0: succeeded) with the bound address @bound (an
 * IPv4 or IPv6 GInetSocketAddress; NULL or anything else is sent as
 * 0.0.0.0:0).
 */
void qioc_socks5_reply(GByteArray *out, guint8 rep, GSocketAddress *bound);

/*
 * HTTP request head up to and including its blank line: "CONNECT
 * HOST:PORT HTTP/1.x" ([V6]:PORT for IPv6), and a Proxy-Authorization:
 * Basic header decoded into @req's user and pass (both NULL without
 * one, or with another scheme). Until the blank line is in, asks for one
 * byte more at a time. *@status is 200 when complete; on an error, it is
 * the status to answer with: 405 for another method, 400 for a malformed
 * request, 431 for a head over QIOC_HTTP_HEADER_MAX. The request line is
 * judged as soon as it is in, and bytes that cannot begin a method fail
 * at once.
 */
gssize qioc_http_connect_request_parse(const guint8 *buf, gsize len,
                                       QiocProxyRequest *req, guint *status,
                                       GError **errp);

/*
 * "HTTP/1.1 STATUS REASON" and a blank line; 407 adds
 * Proxy-Authenticate: Basic realm="qioc"; a status other than 200 adds
 * Content-Length: 0 and Connection: close. Free with g_free().
 */
char *qioc_http_connect_reply(guint status);

/*
 * What to tell the client when the target cannot be reached: the SOCKS5
 * reply code (connection refused 5, host unreachable 4 (also a name that
 * does not resolve, and a timeout), network unreachable 3, not allowed
 * (G_IO_ERROR_PERMISSION_DENIED) 2, anything else 1) and the HTTP status
 * (403 not allowed, 504 timed out, 502 anything else).
 */
guint8 qioc_socks5_rep_of_error(const GError *err);
guint qioc_http_status_of_error(const GError *err);

#endif /* QIOC_PROXY_PROTO_H */
