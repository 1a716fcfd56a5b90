/*
 * qioc - accepting the clients of a listening address
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_ACCEPTOR_H
#define QIOC_ACCEPTOR_H

#include "addr.h"

typedef struct QiocAcceptor QiocAcceptor;

/**
 * QiocAcceptShared:
 * @numbered: clients numbered so far
 * @clients: clients accepted and not yet done, against max-children=
 * @had_client: a client was accepted (accept-timeout= is over)
 * @timer_taken: one acceptor runs the accept-timeout= timer
 * @share_fds: the first acceptor's listening descriptors serve the others
 *   (a unix socket, or a port the kernel chose): no SO_REUSEPORT
 * @fds: (element-type int): those descriptors, once the first has listened
 * @slot_freed: called, on the thread that freed it, when a client is done
 *   at max-children=: acceptors of other workers may take a client again
 * @slot_data: its data
 *
 * What the acceptors of one `fork` listener's workers (workers=) share.
 * The counters are atomic; @fds is written once, before any worker runs.
 * Zero-filled (and @fds NULL) for a listener of one worker.
 */
typedef struct QiocAcceptShared {
    gint numbered;
    gint clients;
    gint had_client;
    gint timer_taken;
    gboolean share_fds;
    GArray *fds;
    void (*slot_freed)(gpointer data);
    gpointer slot_data;
} QiocAcceptShared;

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
 * called if the last try fails too. @shared, when not NULL, is what the
 * acceptors of the other workers of the listener share with this one
 * (it must outlive them all); max-children= then counts the clients of
 * all of them, and a client accepted while the others are at the limit
 * waits, accepted but not handed on, until a slot frees.
 */
QiocAcceptor *qioc_acceptor_new(QiocEndpoint *ep, QiocAcceptShared *shared,
                                QiocAcceptFunc *on_client,
                                QiocAcceptFailFunc *on_fail, gpointer data,
                                GError **errp);

/* A client's connection ended: below the limit, accepting resumes. */
void qioc_acceptor_client_done(QiocAcceptor *acc);

/*
 * While @held, accepting pauses: a client waits for a descriptor, and
 * another would find the table as full.
 */
void qioc_acceptor_set_held(QiocAcceptor *acc, gboolean held);

/* Shared state changed elsewhere (a slot freed): resume if allowed. */
void qioc_acceptor_recheck(QiocAcceptor *acc);

/* Accept no more clients (a signal, or the end). */
void qioc_acceptor_stop(QiocAcceptor *acc);

void qioc_acceptor_free(QiocAcceptor *acc);

#endif /* QIOC_ACCEPTOR_H */
