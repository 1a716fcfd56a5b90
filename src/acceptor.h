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
 * per-client options: a #QIOChannelSocket, or the
 * #QIOChannelDatagramPeer of a new sender of a datagram server. @client
 * is borrowed: take a reference to keep it.
 * @number counts a `fork` listener's clients from 1 in accept order (a
 * client range= refused takes its number too); 0 without `fork`. The
 * lines about accepting it carry it already (qioc_log_conn_enter()).
 */
typedef void QiocAcceptFunc(QIOChannel *client, guint number, gpointer data);

/*
 * The acceptor gave up: accept-timeout= ran out before the first client,
 * or the listen failed its last try (retry=); @err says which.
 */
typedef void QiocAcceptFailFunc(const GError *err, gpointer data);

/*
 * Listen on @ep and hand each client to @on_client. A listener without
 * `fork` takes one client and then closes; with `fork` it takes up to
 * max-children= at a time (no limit when unset), pausing at the limit
 * until qioc_acceptor_client_done(). accept-timeout= bounds the wait for
 * the first client, counted from here. Accept errors (out of descriptors,
 * say) pause the listener and retry, with one line on stderr until a
 * client gets through again. NULL and @errp when the address cannot
 * listen and retry= (or forever) allows no other try; with tries left
 * the acceptor is returned, the listen is tried again from a timer
 * interval= seconds later (each failure logged at -d), and @on_fail is
 * called if the last try fails too.
 */
QiocAcceptor *qioc_acceptor_new(QiocEndpoint *ep, QiocAcceptFunc *on_client,
                                QiocAcceptFailFunc *on_fail, gpointer data,
                                GError **errp);

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
