/*
 * qioc - socat's connect loop: a connecting address with `fork`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_CONNECTOR_H
#define QIOC_CONNECTOR_H

#include "addr.h"

typedef struct QiocConnector QiocConnector;

/*
 * Start connection @number (from 1): open the connecting side and tell
 * qioc_connector_opened() how that went.
 */
typedef void QiocConnectStartFunc(guint number, gpointer data);

/*
 * Connect again and again through @ep, an address that connects and has
 * `fork`, as socat does: the first connection at once (from the loop),
 * each next one interval= seconds after the previous one opened, and none
 * while max-children= connections run. The connections themselves are
 * the caller's: @start begins each, qioc_connector_opened() and
 * qioc_connector_client_done() report on them.
 */
QiocConnector *qioc_connector_new(QiocEndpoint *ep, QiocConnectStartFunc *start,
                                  gpointer data);

/*
 * The connecting side of the last connection started has opened (@ok), or
 * failed after the tries retry= allowed: the loop ends there, as socat's
 * does, and the connections already open run on.
 */
void qioc_connector_opened(QiocConnector *c, gboolean ok);

/* A connection ended: below max-children=, connecting resumes. */
void qioc_connector_client_done(QiocConnector *c);

/* Start no more connections (a signal, a failure). */
void qioc_connector_stop(QiocConnector *c);

void qioc_connector_free(QiocConnector *c);

#endif /* QIOC_CONNECTOR_H */
