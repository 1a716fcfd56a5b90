/*
 * qioc - splice(2): moving bytes between descriptors without copying
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_SPLICE_H
#define QIOC_SPLICE_H

#include <qio/qio.h>

/* The descriptor under @ioc for one direction, or -1 (TLS, commands). */
int qioc_channel_fd(QIOChannel *ioc, gboolean for_reading);

/*
 * The descriptor under @ioc for one direction that may be a terminal (a
 * file channel's, a dual channel's half's), or -1: a socket never is.
 */
int qioc_channel_tty_fd(QIOChannel *ioc, gboolean for_reading);

/*
 * Whether @ioc reads (@for_reading) or writes datagrams: a datagram
 * socket, or a dual channel whose half is one.
 */
gboolean qioc_channel_is_datagram(QIOChannel *ioc, gboolean for_reading);

typedef enum {
    QIOC_SPLICE_EOF,      /* the source ended; everything was written */
    QIOC_SPLICE_FAILED,   /* an error was reported */
    QIOC_SPLICE_STOPPED,  /* stop or abort */
    QIOC_SPLICE_FALLBACK, /* not possible here: use the copy loop */
} QiocSpliceEnd;

/*
 * What the splice engine needs from the direction it moves: all called
 * from the direction's coroutine with its @flow.
 */
typedef struct QiocSpliceOps {
    /* Asked to stop reading (@writing FALSE) or to abandon writes. */
    gboolean (*stopped)(void *flow, gboolean writing);
    /* Wait until @ioc is ready for @cond. */
    void (*wait)(void *flow, QIOChannel *ioc, GIOCondition cond);
    /* @n bytes reached the destination. */
    void (*moved)(void *flow, size_t n);
    /* An error of the source (@dst FALSE) or the destination. */
    void (*failed)(void *flow, gboolean dst, int err, const char *op);
    /* The destination refused splice: write @len bytes from @pipe_rd. */
    gboolean (*copy_out)(void *flow, int pipe_rd, size_t len);
} QiocSpliceOps;

/*
 * The pipe bytes pass through: FALSE when splicing would not pay (past
 * the user's pipe quota the kernel makes tiny pipes). Close both ends.
 */
gboolean qioc_splice_pipe_open(int pipe[2]);

/*
 * Move everything from @src to @dst through @pipe, @chunk bytes at a
 * time at most. QIOC_SPLICE_FALLBACK when the descriptors refuse splice
 * (before any data is in flight, or after copying out what the pipe
 * held): the caller goes on with its copy loop.
 */
QiocSpliceEnd qioc_splice(QIOChannel *src, QIOChannel *dst, int pipe[2],
                          size_t chunk, const QiocSpliceOps *ops, void *flow);

#endif /* QIOC_SPLICE_H */
