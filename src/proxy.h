/*
 * qioc - proxy handshakes over a channel: SOCKS4, SOCKS4A, SOCKS5 and HTTP
 * CONNECT, as the client of a proxy and as the proxy
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each handshake runs in a coroutine of its own over the channel given
 * (any QIOChannel: a TCP or unix socket, a TLS session, a child's pipes),
 * reading exactly the messages of src/proxy-proto.h and nothing past
 * them, so that what the other side sent after its last message is left
 * in the channel for the layer above. A timeout bounds the whole of it.
 */
#ifndef QIOC_PROXY_H
#define QIOC_PROXY_H

#include "addr.h"
#include "proxy-proto.h"

typedef enum {
    QIOC_PROXY_SOCKS4,
    QIOC_PROXY_SOCKS4A,
    QIOC_PROXY_SOCKS5,
    QIOC_PROXY_HTTP,
} QiocProxyProto;

/**
 * QiocProxyClientConfig:
 * @proto: which protocol
 * @host: the target, a name or an address literal
 * @port: the target port
 * @user: (nullable): SOCKS4 user id, SOCKS5 user name, or HTTP
 *   "USER:PASS" for Basic
 * @pass: (nullable): SOCKS5 password
 * @family: SOCKS4 and PROXY,resolve: the family to resolve @host in
 * @resolve: HTTP: resolve @host here and ask for the address
 * @timeout: seconds for the whole handshake, 0 for none
 * @addr: the address it belongs to, for -d lines
 *
 * What to ask a proxy for. The strings must live until the handshake is
 * over (they are the endpoint's).
 */
typedef struct QiocProxyClientConfig {
    QiocProxyProto proto;
    const char *host;
    guint16 port;
    const char *user;
    const char *pass;
    int family;
    gboolean resolve;
    double timeout;
    const QiocAddress *addr;
} QiocProxyClientConfig;

/*
 * Ask the proxy at the other end of @ioc (transfer full) to connect to
 * the target; @done gets @ioc once it has, else the proxy's reason.
 */
void qioc_proxy_client_async(QIOChannel *ioc, const QiocProxyClientConfig *cfg,
                             QiocOpenDone *done, gpointer data);

/* One range of allow-port=. */
typedef struct {
    guint16 first;
    guint16 last;
} QiocPortRange;

/**
 * QiocProxyServerConfig:
 * @http: PROXY-SERVER (HTTP CONNECT); else SOCKS-SERVER (SOCKS4, SOCKS4A
 *   and SOCKS5, told apart by the client's first byte)
 * @user: (nullable): the user name a client must give (with @pass)
 * @pass: (nullable): its password
 * @allow: (element-type GInetAddressMask): the networks clients may reach
 * @allow_text: allow= as written, for messages
 * @ports: (nullable) (element-type QiocPortRange): the ports clients may
 *   reach; NULL: any
 * @family: the family to resolve names in (-4, -6, pf=), or AF_UNSPEC
 * @timeout: seconds for the client's part, 0 for none
 * @addr: the address it belongs to, for -d lines
 */
typedef struct QiocProxyServerConfig {
    gboolean http;
    const char *user;
    const char *pass;
    GPtrArray *allow;
    const char *allow_text;
    GArray *ports;
    int family;
    double timeout;
    const QiocAddress *addr;
} QiocProxyServerConfig;

/*
 * Be the proxy for the client at the other end of @ioc (transfer full):
 * read what it asks for, check its credentials, resolve and check the
 * target against the allow-list. @done gets @ioc carrying the request
 * (qioc_proxy_pending()), to be answered with qioc_proxy_answer_async()
 * once the target is reached or not; or an error, the client having
 * been answered already.
 */
void qioc_proxy_server_async(QIOChannel *ioc, const QiocProxyServerConfig *cfg,
                             QiocOpenDone *done, gpointer data);

/**
 * QiocProxyPending:
 * @version: 4, 5 or 1 (HTTP), as #QiocProxyRequest
 * @target: "HOST:PORT" as the client asked, for messages
 * @addrs: (element-type GInetSocketAddress): where it may go, allowed,
 *   in the resolver's order
 *
 * A client's request, granted by the allow-list and not answered yet.
 */
typedef struct QiocProxyPending {
    int version;
    char *target;
    GPtrArray *addrs;
} QiocProxyPending;

/* The request @ioc carries from qioc_proxy_server_async(), or NULL. */
QiocProxyPending *qioc_proxy_pending(QIOChannel *ioc);

/* The answer has been sent (@err NULL), or could not be. */
typedef void QiocProxyAnswered(GError *err, gpointer data);

/*
 * Tell the client of @ioc that its target was reached from @bound (@err
 * NULL), or why not; then forget the request. @done runs once the answer
 * is written.
 */
void qioc_proxy_answer_async(QIOChannel *ioc, const GError *err,
                             GSocketAddress *bound, QiocProxyAnswered *done,
                             gpointer data);

#endif /* QIOC_PROXY_H */
