/*
 * qioc - dual addresses: ADDRESS!!ADDRESS
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * socat's dual address reads from its first half and writes to its
 * second. Each half is an endpoint of its own, opened for its one
 * direction (the first for reading, the second for writing) in that
 * order, each in whatever way its type opens: at once, by connecting, or
 * by listening for one client. The two channels become one
 * QIOChannelDual, which the pump sees as any other channel.
 */
#include "config.h"

#include "acceptor.h"
#include "addr.h"
#include "log.h"

/* The directions each half is opened for, and the words for them. */
static const QiocAccess half_access[2] = {QIOC_ACCESS_READ, QIOC_ACCESS_WRITE};
static const char *const half_word[2] = {"read", "written"};

typedef struct {
    QiocEndpoint *half[2];
} QiocDualState;

static void dual_state_free(gpointer data)
{
    QiocDualState *st = data;

    qioc_endpoint_free(st->half[0]);
    qioc_endpoint_free(st->half[1]);
    g_free(st);
}

/* Both halves' endpoints, with their own prepare steps, at start-up. */
static gboolean dual_prepare(QiocEndpoint *ep, GError **errp)
{
    QiocDualState *st = g_new0(QiocDualState, 1);

    ep->state = st;
    for (int i = 0; i < 2; i++) {
        st->half[i] = qioc_endpoint_new(ep->addr->half[i], ep->opts, errp);
        if (!st->half[i]) {
            return FALSE;
        }
        st->half[i]->need = half_access[i];
    }
    return TRUE;
}

/* ---------------------------------------------------------------- opening */

typedef struct {
    QiocEndpoint *ep;
    int i;                  /* the half being opened */
    QIOChannel *ioc[2];     /* the halves opened so far */
    QiocAcceptor *acceptor; /* a listening half's, until its client */
    QiocOpenDone *done;
    gpointer data;
} QiocDualOpen;

static void dual_open_half(QiocDualOpen *op);

static void dual_open_end(QiocDualOpen *op, QIOChannel *ioc, GError *err)
{
    QiocOpenDone *done = op->done;
    gpointer data = op->data;

    /* A one-client acceptor touches nothing after its callback. */
    g_clear_pointer(&op->acceptor, qioc_acceptor_free);
    for (int i = 0; i < 2; i++) {
        if (op->ioc[i]) {
            if (!ioc) {
                qio_channel_close(op->ioc[i], NULL);
            }
            g_object_unref(op->ioc[i]);
        }
    }
    g_free(op);
    done(ioc, err, data);
}

static void dual_half_done(QIOChannel *ioc, GError *err, gpointer data)
{
    QiocDualOpen *op = data;
    QiocEndpoint *half = ((QiocDualState *)op->ep->state)->half[op->i];
    QIOChannel *dual;

    if (!ioc) {
        dual_open_end(op, NULL, err);
        return;
    }
    qio_channel_set_name(ioc, half->addr->text);
    qioc_endpoint_log_channel(half, ioc);
    op->ioc[op->i++] = ioc;
    if (op->i < 2) {
        dual_open_half(op);
        return;
    }
    dual = QIO_CHANNEL(qio_channel_dual_new(op->ioc[0], op->ioc[1]));
    dual_open_end(op, dual, NULL);
}

static void dual_on_client(QIOChannel *client, guint number, gpointer data)
{
    QiocDualOpen *op = data;
    QiocEndpoint *half = ((QiocDualState *)op->ep->state)->half[op->i];

    qioc_endpoint_wrap_async(half, g_object_ref(client), dual_half_done, op);
}

static void dual_accept_timeout(const GError *err, gpointer data)
{
    dual_half_done(NULL, g_error_copy(err), data);
}

/* A half that opens at once: it must serve its one direction. */
static void dual_open_now(QiocDualOpen *op, QiocEndpoint *half)
{
    QiocAccess access = half->need;
    GError *err = NULL;
    QIOChannel *ioc = qioc_endpoint_open(half, &access, NULL, &err);

    if (ioc && !(access & half->need)) {
        g_set_error(&err, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                    "%s cannot be %s", half->addr->text, half_word[op->i]);
        qio_channel_close(ioc, NULL);
        g_clear_object(&ioc);
    }
    if (ioc && qioc_endpoint_has_layers(half)) {
        qioc_endpoint_wrap_async(half, ioc, dual_half_done, op);
        return;
    }
    dual_half_done(ioc, err, op);
}

static void dual_open_half(QiocDualOpen *op)
{
    QiocEndpoint *half = ((QiocDualState *)op->ep->state)->half[op->i];
    GError *err = NULL;

    if (qioc_endpoint_is_listener(half)) {
        op->acceptor = qioc_acceptor_new(half, NULL, dual_on_client,
                                         dual_accept_timeout, op, &err);
        if (!op->acceptor) {
            dual_half_done(NULL, err, op);
        }
    } else if (qioc_endpoint_ops(half)->connect) {
        qioc_endpoint_connect_async(half, NULL, dual_half_done, op);
    } else {
        dual_open_now(op, half);
    }
}

static void dual_connect(QiocEndpoint *ep, QIOChannel *peer, QiocOpenDone *done,
                         gpointer data)
{
    QiocDualOpen *op = g_new0(QiocDualOpen, 1);

    op->ep = ep;
    op->done = done;
    op->data = data;
    dual_open_half(op);
}

/* ---------------------------------------------------------------- the end */

/* Each half's own end: a child reaped, a FIFO removed. */
static gboolean dual_finish(QiocEndpoint *ep, QIOChannel *ioc)
{
    QiocDualState *st = ep->state;
    QIOChannelDual *dual = QIO_CHANNEL_DUAL(ioc);
    gboolean ok =
        qioc_endpoint_finish(st->half[0], qio_channel_dual_get_reader(dual));

    return qioc_endpoint_finish(st->half[1],
                                qio_channel_dual_get_writer(dual)) &&
           ok;
}

QiocEndpoint *qioc_endpoint_dual_half(const QiocEndpoint *ep, int i)
{
    QiocDualState *st = ep->state;

    return ep->desc->kind == QIOC_ADDR_DUAL ? st->half[i] : NULL;
}

gboolean qioc_endpoint_inherited(const QiocEndpoint *ep)
{
    QiocDualState *st = ep->state;

    if (ep->desc->kind == QIOC_ADDR_DUAL) {
        return qioc_endpoint_inherited(st->half[0]) ||
               qioc_endpoint_inherited(st->half[1]);
    }
    return (ep->desc->flags & QIOC_ADDR_INHERITED) != 0;
}

/* No grammar rows: a dual address is written with "!!", not a name. */
const QiocAddrDesc qioc_addr_dual = {.kind = QIOC_ADDR_DUAL,
                                     .prepare = dual_prepare,
                                     .free_state = dual_state_free,
                                     .connect = dual_connect,
                                     .finish = dual_finish};
