/*
 * qioc - moving data between two channels
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The pump knows channels and a plain configuration, nothing of
 * addresses: src/serve.c fills the configuration from the endpoints.
 */
#ifndef QIOC_PUMP_H
#define QIOC_PUMP_H

#include <qio/qio.h>

#include "address.h"
#include "log.h"
#include "qioc.h"

/*
 * The end of a connection for one side, before it is reported: close
 * what must be seen closed (a child is reaped). FALSE fails the transfer.
 */
typedef gboolean QiocSideFinish(QIOChannel *ioc, void *opaque);

/*
 * Set (object data, any non-NULL value) on a side's channel before its
 * finish when qioc stopped reading it before its end-of-file: -t ran out,
 * or the other direction's end ended this one. A child cut off so did not
 * end on its own, and how it ends after losing its descriptors is no
 * failure of its own (a cat on a pty whose master closed reads EIO).
 */
#define QIOC_PUMP_CUT_OFF "qioc-pump-cut-off"

/**
 * QiocPumpSide:
 * @ioc: (transfer full): the channel
 * @index: 1 or 2, the address's place on the command line (messages)
 * @name: the address as typed (messages); must outlive the pump
 * @inherited: the descriptors were given, not opened: left blocking again
 *   at the end, as other processes sharing them expect
 * @finish: (nullable): called at the end with @ioc
 * @finish_data: for @finish
 *
 * One end of a connection.
 */
typedef struct QiocPumpSide {
    QIOChannel *ioc;
    int index;
    const char *name;
    gboolean inherited;
    QiocSideFinish *finish;
    void *finish_data;
} QiocPumpSide;

/**
 * QiocLineEnd:
 * @QIOC_EOL_NL: bytes pass as they are
 * @QIOC_EOL_CRLF: crlf=: NL is written as CR NL; CR NL read is NL
 * @QIOC_EOL_CR: cr=: NL is written as CR; CR read is NL
 *
 * The line ends an address uses, converted to and from NL.
 */
typedef enum {
    QIOC_EOL_NL,
    QIOC_EOL_CRLF,
    QIOC_EOL_CR,
} QiocLineEnd;

/**
 * QiocFlowConfig:
 * @enabled: the direction moves data (-u/-U, and what the channels allow)
 * @readbytes: end after reading this many bytes; <= 0: no limit
 * @ignoreeof: at end-of-file of the source, wait and read again
 * @null_eof: an empty datagram from the source is its end-of-file
 * @shut: what the end of the data does to the destination
 * @send_fds: (nullable) (element-type int): descriptors sent with the
 *   first data written to the destination; each pump copies the list
 * @record: (nullable): -r / -R: a file every byte read is appended to,
 *   raw, opened (created, mode 0664 less the umask) when the pump starts;
 *   the direction then copies through a buffer and never splices
 * @read_eol: the line ends of the source, made NL as they are read
 * @write_eol: the line ends of the destination, NL written as them
 * @has_escape: @escape is set
 * @escape: a byte that, read from the source, ends its data there as
 *   end-of-file would (escape=)
 *
 * One direction: flow[i] reads side i and writes side !i.
 */
typedef struct QiocFlowConfig {
    gboolean enabled;
    gint64 readbytes;
    gboolean ignoreeof;
    gboolean null_eof;
    QiocShut shut;
    GArray *send_fds;
    const char *record;
    QiocLineEnd read_eol;
    QiocLineEnd write_eol;
    gboolean has_escape;
    guchar escape;
} QiocFlowConfig;

/**
 * QiocPumpConfig:
 * @buffer_size: the largest read (-b)
 * @close_timeout: once one direction has ended, end the other after this
 *   many seconds; < 0: wait for it (-t)
 * @idle_timeout: end after this many seconds without data; 0: never (-T)
 * @traffic: -v / -x
 * @fds: --fds
 * @stats: --stats
 * @conn: the connection's number for the lines it logs (with `fork`,
 *   see qioc_log_conn_enter()); 0: none
 * @flow: the two directions
 */
typedef struct QiocPumpConfig {
    gsize buffer_size;
    double close_timeout;
    double idle_timeout;
    QiocTrafficMode traffic;
    QiocFdsMode fds;
    gboolean stats;
    guint conn;
    QiocFlowConfig flow[2];
} QiocPumpConfig;

typedef struct QiocPump QiocPump;

/* Called once, when both directions have ended. */
typedef void QiocPumpDone(QiocPump *pump, void *opaque);

/*
 * Start copying between @side[0] and @side[1] in the thread-default main
 * context: one coroutine per direction, each reading and then writing
 * everything it read. The pump takes ownership of the channels; @cfg is
 * copied. A record file (-r/-R) that cannot be opened is reported and
 * fails the pump at once: nothing moves, and it is done.
 */
QiocPump *qioc_pump_start(const QiocPumpSide side[2], const QiocPumpConfig *cfg,
                          QiocPumpDone *done, void *opaque);

/*
 * Stop reading. With @hard FALSE, data already read is still written
 * out; with @hard TRUE pending writes are abandoned too.
 */
void qioc_pump_stop(QiocPump *pump, gboolean hard);

/* QIOC_EXIT_OK, or QIOC_EXIT_FAILURE when a direction failed. */
int qioc_pump_status(const QiocPump *pump);

/* Bytes moved so far from side @from to the other. */
guint64 qioc_pump_bytes(const QiocPump *pump, int from);

/* A worker thread ends: free the buffers it kept for reuse. */
void qioc_pump_thread_done(void);

/* Close the channels and free the pump (after it is done). */
void qioc_pump_free(QiocPump *pump);

#endif /* QIOC_PUMP_H */
