/*
 * qioc - TCP, shared with the TLS addresses that run over it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_ADDR_TCP_H
#define QIOC_ADDR_TCP_H

#include "addr.h"

/* What a connect to an address needs, worked out once at start-up. */
typedef struct QiocTcpTarget QiocTcpTarget;

/* The target of @ep's HOST:PORT, bind= and sourceport=, or NULL. */
QiocTcpTarget *qioc_tcp_target_new(const QiocEndpoint *ep, GError **errp);
void qioc_tcp_target_free(QiocTcpTarget *t);

/* One connect to @t; nodelay= and keepalive= applied once connected. */
void qioc_tcp_connect(QiocEndpoint *ep, const QiocTcpTarget *t,
                      QiocOpenDone *done, gpointer data);

/* Listen on @ep's PORT (bind=, backlog=, reuseaddr=, ipv6only=). */
QiocListenFunc qioc_tcp_listen;

/* nodelay= and keepalive= on an accepted or connected socket. */
QiocAcceptedFunc qioc_tcp_set_opts;

#endif /* QIOC_ADDR_TCP_H */
