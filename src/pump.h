/*
 * qioc - moving data between two channels
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_PUMP_H
#define QIOC_PUMP_H

#include "addr.h"

/* One end of a connection: the address and the channel opened for it. */
typedef struct QiocSide {
    const QiocAddress *addr;
    QIOChannel *ioc;
    QiocAccess access;
} QiocSide;

typedef struct QiocPump QiocPump;

/* Called once, when both directions have ended. */
typedef void QiocPumpDone(QiocPump *pump, void *opaque);

/*
 * Start copying between @a and @b in the thread-default main context: one
 * coroutine per direction, each reading and then writing everything it
 * read. The pump takes ownership of the channels.
 */
QiocPump *qioc_pump_start(const QiocSide *a, const QiocSide *b,
                          const QiocOptions *opts, QiocPumpDone *done,
                          void *opaque);

/*
 * Stop reading. With @hard FALSE, data already read is still written
 * out; with @hard TRUE pending writes are abandoned too.
 */
void qioc_pump_stop(QiocPump *pump, gboolean hard);

/* QIOC_EXIT_OK, or QIOC_EXIT_FAILURE when a direction failed. */
int qioc_pump_status(const QiocPump *pump);

/* Close the channels and free the pump (after it is done). */
void qioc_pump_free(QiocPump *pump);

#endif /* QIOC_PUMP_H */
