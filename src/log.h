/*
 * qioc - diagnostics on stderr
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_LOG_H
#define QIOC_LOG_H

#include <glib.h>

/* Where diagnostics go (--log-file, --syslog, --log-name, ...). */
typedef struct QiocLogConfig {
    const char *file;   /* append here instead of stderr */
    const char *syslog; /* facility name ("" = daemon), or NULL */
    const char *name;   /* program name in lines, default "qioc" */
    gboolean micro;     /* timestamps with microseconds */
    gboolean host;      /* the host name in lines */
    gboolean mixed;     /* stderr until the transfer starts, then syslog */
} QiocLogConfig;

/* Set the destination; FALSE (and @errp) if the file cannot be opened or
 * the facility is unknown. */
gboolean qioc_log_setup(const QiocLogConfig *cfg, GError **errp);

/*
 * With QiocLogConfig.mixed (socat's -lm), diagnostics go to stderr (or
 * the log file) until this is called, to syslog from then on: when the
 * relay starts moving data, or a `fork` listener starts accepting.
 */
void qioc_log_transfer_started(void);

/* How much to say: 0 errors and warnings, 1 (-d) notices, 2 (-dd) debug. */
void qioc_log_set_level(int level);
int qioc_log_get_level(void);

/*
 * With `fork`, the connection a line is about: every line logged while a
 * connection number is set reads "qioc: [N] MESSAGE" (after the time and
 * host when asked for), N counting the clients of the listener from 1 in
 * accept order. 0, the default, adds nothing: without `fork` there is one
 * connection and lines stay as they are. Whatever enters a connection's
 * code from the loop (a callback, a coroutine) sets its number and puts
 * the previous one back when it leaves. The number is the calling
 * thread's: each worker (workers=) sets its own, and numbers stay unique
 * across workers. Every line is one write, so the lines of concurrent
 * workers never mix.
 */
guint qioc_log_conn_enter(guint conn);
void qioc_log_conn_leave(guint prev);
/* The number set now, or 0. */
guint qioc_log_conn(void);

/* "qioc: MESSAGE" */
void qioc_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* "qioc: warning: MESSAGE" */
void qioc_warning(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* A line shown whatever the level, that is no error (--stats): LOG_NOTICE. */
void qioc_notice(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* "qioc: MESSAGE", shown from level @level on. */
void qioc_info(int level, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Levels of qioc_log_address() besides qioc_info()'s 0, 1 and 2. */
enum {
    QIOC_LOG_ERROR = -2,   /* as qioc_error() */
    QIOC_LOG_WARNING = -1, /* as qioc_warning() */
};

/*
 * "qioc: address INDEX (TEXT): MESSAGE", the one form of every line about
 * an address: at @level QIOC_LOG_ERROR, QIOC_LOG_WARNING, or a level of
 * qioc_info().
 */
void qioc_log_address(int level, int index, const char *text, const char *fmt,
                      ...) G_GNUC_PRINTF(4, 5);

typedef enum {
    QIOC_TRAFFIC_OFF,
    QIOC_TRAFFIC_TEXT, /* -v */
    QIOC_TRAFFIC_HEX,  /* -x */
} QiocTrafficMode;

/*
 * Log @len bytes moved from address @from (1 or 2) to the other, which
 * had moved @offset bytes before, as one block on stderr: a header with
 * the direction ('>' from 1 to 2, '<' from 2 to 1), the connection
 * number as "[N]" when one is set (qioc_log_conn_enter()), a timestamp,
 * the length and the offsets, then the data as text or a hex dump.
 */
void qioc_log_traffic(QiocTrafficMode mode, int from, const char *buf,
                      size_t len, guint64 offset);

#endif /* QIOC_LOG_H */
