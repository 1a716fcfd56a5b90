/*
 * qioc - holding a client while descriptors are short
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Descriptors ran out after a `fork` listener accepted a client, so its
 * other side could not be opened: the client is held rather than turned
 * away. The listener pauses (another client would find the table as
 * full; src/serve.c tells src/acceptor.c) and the other side is tried
 * again after the listener's own pause, once per pause, until it opens,
 * the client goes away, or connect-timeout= ends the wait.
 */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include "context.h"
#include "hold.h"
#include "log.h"

/*
 * One descriptor in reserve (libuv keeps one for accept): given up when
 * every connection is a held client, taken again whenever a connection
 * ends, before the listener accepts anew.
 */
void qioc_holds_init(QiocHolds *holds)
{
    holds->held = 0;
    holds->reserve = -1;
}

gboolean qioc_holds_any(QiocHolds *holds)
{
    return g_atomic_int_get(&holds->held) > 0;
}

/*
 * Lock-free, as workers take and spend it concurrently: a worker that
 * loses the race to fill the slot closes its descriptor again.
 */
void qioc_holds_take_reserve(QiocHolds *holds)
{
    int fd;

    if (g_atomic_int_get(&holds->reserve) >= 0) {
        return;
    }
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0 &&
        !g_atomic_int_compare_and_exchange(&holds->reserve, -1, fd)) {
        close(fd);
    }
}

void qioc_holds_spend_reserve(QiocHolds *holds, guint conns)
{
    int fd;

    if ((guint)g_atomic_int_get(&holds->held) != conns) {
        return;
    }
    fd = __atomic_exchange_n(&holds->reserve, -1, __ATOMIC_SEQ_CST);
    if (fd >= 0) {
        qioc_info(2, "every client waits for a descriptor: giving up the "
                     "one in reserve");
        close(fd);
    }
}

void qioc_holds_clear(QiocHolds *holds)
{
    int fd = __atomic_exchange_n(&holds->reserve, -1, __ATOMIC_SEQ_CST);

    if (fd >= 0) {
        close(fd);
    }
}

gboolean qioc_hold_helps(const GError *err)
{
    return g_error_matches(err, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES) ||
           g_error_matches(err, G_SPAWN_ERROR, G_SPAWN_ERROR_MFILE) ||
           g_error_matches(err, G_SPAWN_ERROR, G_SPAWN_ERROR_NFILE);
}

typedef struct {
    QiocHold *hold;
    QiocHoldFunc *func;
    gpointer data;
    GDestroyNotify unref;
} QiocHoldCall;

static QiocHoldCall *hold_call(QiocHold *hold, QiocHoldFunc *func,
                               gpointer data, gpointer (*ref)(gpointer),
                               GDestroyNotify unref)
{
    QiocHoldCall *call = g_new(QiocHoldCall, 1);

    *call = (QiocHoldCall){hold, func, ref(data), unref};
    return call;
}

static void hold_call_free(gpointer p)
{
    QiocHoldCall *call = p;

    call->unref(call->data);
    g_free(call);
}

static gboolean hold_retry(gpointer p)
{
    QiocHoldCall *call = p;

    call->hold->timer = 0;
    call->func(call->data, FALSE);
    return G_SOURCE_REMOVE;
}

/*
 * A held client that hangs up or resets is let go. A TCP client's FIN
 * is no hang-up: it may be a half-close, still waiting for an answer.
 */
static gboolean hold_client_gone(QIOChannel *ioc, GIOCondition cond, gpointer p)
{
    QiocHoldCall *call = p;

    call->hold->watch = 0;
    call->func(call->data, TRUE);
    return G_SOURCE_REMOVE;
}

static void hold_begin(QiocHold *hold, QiocHolds *holds, const QiocEndpoint *ep,
                       QIOChannel *client, const GError *err,
                       QiocHoldCall *call)
{
    const QiocAddress *addr = ep->addr;

    hold->holds = holds;
    hold->since = g_get_monotonic_time();
    hold->watch = qio_channel_add_watch_full(client, G_IO_HUP | G_IO_ERR,
                                             hold_client_gone, call,
                                             hold_call_free, qioc_context());
    /* One line while descriptors are short, as for accept errors. */
    if (g_atomic_int_add(&holds->held, 1) == 0) {
        qioc_log_address(QIOC_LOG_ERROR, addr->index, addr->text,
                         "%s; holding the client and retrying", err->message);
    } else {
        qioc_log_address(1, addr->index, addr->text,
                         "%s; holding the client and retrying", err->message);
    }
}

/* connect-timeout= bounds the wait for a descriptor too. */
static gboolean hold_expired(const QiocHold *hold, const QiocEndpoint *ep,
                             const GError *err, GError **errp)
{
    double secs = ep->addr->o.connect_timeout;
    gint64 held = g_get_monotonic_time() - hold->since;

    if (secs <= 0 || held < secs * G_USEC_PER_SEC) {
        return FALSE;
    }
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                "%s; no descriptor within %g s (connect-timeout)", err->message,
                secs);
    return TRUE;
}

gboolean qioc_hold(QiocHold *hold, QiocHolds *holds, const QiocEndpoint *ep,
                   QIOChannel *client, const GError *err, QiocHoldFunc *func,
                   gpointer data, gpointer (*ref)(gpointer),
                   GDestroyNotify unref, GError **errp)
{
    if (!qioc_hold_active(hold)) {
        hold_begin(hold, holds, ep, client, err,
                   hold_call(hold, func, data, ref, unref));
    } else if (hold_expired(hold, ep, err, errp)) {
        return FALSE;
    } else {
        qioc_log_address(2, ep->addr->index, ep->addr->text,
                         "%s; still holding the client", err->message);
    }
    hold->timer = qioc_timeout_add_full(
        G_PRIORITY_DEFAULT, QIO_NET_LISTENER_ERROR_PAUSE_MS, hold_retry,
        hold_call(hold, func, data, ref, unref), hold_call_free);
    return TRUE;
}

gboolean qioc_hold_active(const QiocHold *hold)
{
    return hold->since != 0;
}

void qioc_hold_release(QiocHold *hold)
{
    if (!qioc_hold_active(hold)) {
        return;
    }
    hold->since = 0;
    g_atomic_int_dec_and_test(&hold->holds->held);
    if (hold->timer) {
        qioc_source_remove(hold->timer);
        hold->timer = 0;
    }
    if (hold->watch) {
        qioc_source_remove(hold->watch);
        hold->watch = 0;
    }
}
