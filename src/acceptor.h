/*
 * qioc - accepting the clients of a listening address
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_ACCEPTOR_H
#define QIOC_ACCEPTOR_H

#include "addr.h"

typedef struct QiocAcceptor QiocAcceptor;

/*
 * A client was accepted, allowed by range= and given the type's
 * per-client options. @client is borrowed: take a reference to keep it.
 */
typedef void QiocAcceptFunc(QIOChannelSocket *client, gpointer data);

/* accept-timeout= ran out before the first client; @err says so. */
typedef void QiocAcceptTimeoutFunc(const GError *err, gpointer data);

/*
 * Listen on @ep and hand each client to @on_client. A listener without
 * `fork` takes one client and then closes; with `fork` it takes up to
 * max-children= at a time (no limit when unset), pausing at the limit
 * until qioc_acceptor_client_done(). accept-timeout= bounds the wait for
 * the first client. Accept errors (out of descriptors, say) pause the
 * listener and retry, with one line on stderr until a client gets
 * through again. NULL and @errp when the address cannot listen.
 */
QiocAcceptor *qioc_acceptor_new(QiocEndpoint *ep, QiocAcceptFunc *on_client,
                                QiocAcceptTimeoutFunc *on_timeout,
                                gpointer data, GError **errp);

/* A client's connection ended: below the limit, accepting resumes. */
void qioc_acceptor_client_done(QiocAcceptor *acc);

/*
 * While @held, accepting pauses: a client waits for a descriptor, and
 * another would find the table as full.
 */
void qioc_acceptor_set_held(QiocAcceptor *acc, gboolean held);

/* Accept no more clients (a signal, or the end). */
void qioc_acceptor_stop(QiocAcceptor *acc);

void qioc_acceptor_free(QiocAcceptor *acc);

#endif /* QIOC_ACCEPTOR_H */
