/*
 * qioc - socat's connect loop: a connecting address with `fork`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * socat's answer to "a listener on the far side, a client here" (a
 * reverse tunnel, a pool of connections to a server that serves one per
 * connection): with `fork` on TCP:, UNIX-CONNECT: or OPENSSL:, socat
 * connects, hands the connection to a child and connects again interval=
 * seconds later, until a connect fails for good. Here the connections are
 * the loop's like a listener's clients; this file only decides when the
 * next one starts.
 */
#include "config.h"

#include "connector.h"
#include "context.h"

struct QiocConnector {
    QiocEndpoint *ep;
    QiocConnectStartFunc *start;
    gpointer data;
    guint numbered;   /* connections started */
    guint running;    /* started and not yet done */
    guint limit;      /* max-children=; 0: no limit */
    guint timer;      /* the wait before the next one */
    gboolean opening; /* the last one started has not opened yet */
    gboolean stopped;
};

static void connector_next(QiocConnector *c);

static gboolean connector_timer(gpointer data)
{
    QiocConnector *c = data;

    c->timer = 0;
    connector_next(c);
    return G_SOURCE_REMOVE;
}

/* One connection at a time opens; the limit holds the next one back. */
static void connector_next(QiocConnector *c)
{
    if (c->stopped || c->opening || c->timer ||
        (c->limit && c->running >= c->limit)) {
        return;
    }
    c->opening = TRUE;
    c->running++;
    c->start(++c->numbered, c->data);
}

QiocConnector *qioc_connector_new(QiocEndpoint *ep, QiocConnectStartFunc *start,
                                  gpointer data)
{
    QiocConnector *c = g_new0(QiocConnector, 1);

    c->ep = ep;
    c->start = start;
    c->data = data;
    c->limit = (guint)MAX(ep->addr->o.max_children, 0);
    /* From the loop: the caller finishes setting up (privileges) first. */
    c->timer = qioc_timeout_add(0, connector_timer, c);
    return c;
}

void qioc_connector_opened(QiocConnector *c, gboolean ok)
{
    double interval = c->ep->addr->o.interval;

    c->opening = FALSE;
    if (!ok) {
        qioc_connector_stop(c);
        return;
    }
    if (!c->stopped) {
        c->timer =
            qioc_timeout_add((guint)(interval * 1000), connector_timer, c);
    }
}

void qioc_connector_client_done(QiocConnector *c)
{
    c->running--;
    connector_next(c);
}

void qioc_connector_stop(QiocConnector *c)
{
    c->stopped = TRUE;
    if (c->timer) {
        qioc_source_remove(c->timer);
        c->timer = 0;
    }
}

void qioc_connector_free(QiocConnector *c)
{
    qioc_connector_stop(c);
    g_free(c);
}
