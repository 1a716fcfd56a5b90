/*
 * qioc - TCP, shared with the TLS addresses that run over it and with
 * the UDP ones
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_ADDR_TCP_H
#define QIOC_ADDR_TCP_H

#include "addr.h"

/* A port number or a service name from /etc/services. */
gboolean qioc_ip_parse_port(const char *text, guint16 *port, GError **errp);

/* A literal, or the first address of @family a name resolves to. */
GInetAddress *qioc_ip_resolve_one(const char *host, int family, GError **errp);

/* bind= and sourceport= as a local address, or *@out NULL when neither. */
gboolean qioc_ip_local_address(const QiocAddress *addr, int family,
                               GSocketAddress **out, GError **errp);

/* The host part of bind= for a listener, or NULL for every address. */
char *qioc_ip_listen_host(const QiocAddress *addr);

/* Permission denied binding a low port: add what grants it. */
void qioc_ip_privileged_port_hint(guint16 port, GError **errp);

/* What a connect to an address needs, worked out once at start-up. */
typedef struct QiocTcpTarget QiocTcpTarget;

/* The target of @ep's HOST:PORT, bind= and sourceport=, or NULL. */
QiocTcpTarget *qioc_tcp_target_new(const QiocEndpoint *ep, GError **errp);
void qioc_tcp_target_free(QiocTcpTarget *t);

/*
 * The same to @host and @port_text (a port or a service) with @ep's
 * options (bind=, sourceport=, connect-timeout=, ...). Without a host,
 * only the options: for qioc_tcp_connect_to().
 */
QiocTcpTarget *qioc_tcp_target_new_at(const QiocEndpoint *ep, const char *host,
                                      const char *port_text, GError **errp);

/* One connect to @target with @t's options, however @t was made. */
void qioc_tcp_connect_to(QiocEndpoint *ep, const QiocTcpTarget *t,
                         GSocketConnectable *target, QiocOpenDone *done,
                         gpointer data);

/* One connect to @t; nodelay= and keepalive= applied once connected. */
void qioc_tcp_connect(QiocEndpoint *ep, const QiocTcpTarget *t,
                      QiocOpenDone *done, gpointer data);

/* Listen on @ep's PORT (bind=, backlog=, reuseaddr=, ipv6only=). */
QiocListenFunc qioc_tcp_listen;

/* nodelay= and keepalive= on an accepted or connected socket. */
QiocAcceptedFunc qioc_tcp_set_opts;

#endif /* QIOC_ADDR_TCP_H */
