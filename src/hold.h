/*
 * qioc - holding a client while descriptors are short
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_HOLD_H
#define QIOC_HOLD_H

#include "addr.h"

/**
 * QiocHolds:
 * @held: clients held now, on every worker (atomic)
 * @reserve: a descriptor kept to give up, or -1 (atomic)
 *
 * What a `fork` listener's clients share, on all its workers (workers=):
 * descriptors are the process's, so how many clients are held, and one
 * descriptor in reserve. Thread-safe.
 */
typedef struct QiocHolds {
    gint held;
    gint reserve;
} QiocHolds;

/* Set up @holds, none held and no reserve; qioc_holds_clear() ends it. */
void qioc_holds_init(QiocHolds *holds);

/* Are clients held now, on any worker? */
gboolean qioc_holds_any(QiocHolds *holds);

/* Keep a descriptor in reserve again, if it was given up. */
void qioc_holds_take_reserve(QiocHolds *holds);

/*
 * When every one of @conns connections (of all workers) is a held
 * client, none of them will ever free a descriptor: give up the one in
 * reserve.
 */
void qioc_holds_spend_reserve(QiocHolds *holds, guint conns);

/* Close the reserve (the end). */
void qioc_holds_clear(QiocHolds *holds);

/* Could holding help: did descriptors run out? */
gboolean qioc_hold_helps(const GError *err);

/*
 * Called when the held client's other side should be tried again, or
 * when the client went away (@gone).
 */
typedef void QiocHoldFunc(gpointer data, gboolean gone);

/**
 * QiocHold:
 *
 * One held client, inside its connection. All zero: not held.
 */
typedef struct QiocHold {
    QiocHolds *holds;
    gint64 since;
    guint timer;
    guint watch;
} QiocHold;

/*
 * Opening @ep (the other side of @client's connection) failed with @err,
 * which qioc_hold_helps(): hold @client and call @func after the
 * listener's own pause to try again, or when @client hangs up. @func's
 * @data is referenced with @ref and released with @unref for each call.
 * FALSE, with @errp, once connect-timeout= of @ep has run out.
 */
gboolean qioc_hold(QiocHold *hold, QiocHolds *holds, const QiocEndpoint *ep,
                   QIOChannel *client, const GError *err, QiocHoldFunc *func,
                   gpointer data, gpointer (*ref)(gpointer),
                   GDestroyNotify unref, GError **errp);

/* Is the client held? */
gboolean qioc_hold_active(const QiocHold *hold);

/* Let the client go: its other side opened, or the connection ends. */
void qioc_hold_release(QiocHold *hold);

#endif /* QIOC_HOLD_H */
