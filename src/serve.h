/*
 * qioc - connections, listeners and signals: running a relay
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_SERVE_H
#define QIOC_SERVE_H

#include "address.h"
#include "qioc.h"

/*
 * Open the two addresses and relay between them until done: one
 * connection, or with a `fork` listener one connection per client, all in
 * one main loop. Returns qioc's exit status.
 */
int qioc_serve(QiocAddress *addr[2], const QiocOptions *opts);

#endif /* QIOC_SERVE_H */
