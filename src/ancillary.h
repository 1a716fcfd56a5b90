/*
 * qioc - the ancillary data received datagrams come with
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_ANCILLARY_H
#define QIOC_ANCILLARY_H

#include "addr.h"

/*
 * Whether @o asks for ancillary data (so-timestamp, ip-pktinfo,
 * ip-recvttl, ...): then the socket keeps the control messages of each
 * datagram (qio_channel_socket_set_keep_control()).
 */
gboolean qioc_ancillary_wanted(const QiocAddrOpts *o);

/* The same for a socket of @ep, once it is made. */
void qioc_ancillary_keep(const QiocEndpoint *ep, QIOChannelSocket *sioc);

/*
 * Logs each item of the control messages @control holds, as socat does
 * at -ddd, at level 2 (-dd): "ancillary message: IP_TTL: ttl=53". @control
 * may be NULL (nothing).
 */
void qioc_ancillary_log(GBytes *control);

/*
 * The control messages of the datagram @ioc read last (a datagram
 * socket, or a dual address reading from one), or that began its session
 * (a datagram server's peer); NULL if none were kept.
 */
GBytes *qioc_ancillary_of(QIOChannel *ioc);

/*
 * Adds, for each item of @control, PREFIX NAME=VALUE to @env under each
 * of @prefixes (NULL-terminated): socat's SOCAT_TIMESTAMP, SOCAT_IP_TTL,
 * SOCAT_IPV6_DSTADDR, ... (doc/grammar.md, "Environment of EXEC and
 * SYSTEM children").
 */
void qioc_ancillary_env(GBytes *control, const char *const *prefixes,
                        GPtrArray *env);

#endif /* QIOC_ANCILLARY_H */
