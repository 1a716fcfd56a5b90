/*
 * libqio - one channel made of two: read from one, write to another
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_CHANNEL_DUAL_H
#define QIO_CHANNEL_DUAL_H

#include "qio/channel.h"

G_BEGIN_DECLS

/**
 * QIOChannelDual:
 *
 * A #QIOChannelDual reads from its reader channel and writes to its
 * writer channel, so that code written for one bidirectional channel can
 * take input and output from unrelated places: standard input and
 * standard output, a file read and a socket written, a child's output and
 * a log file. It is what socat's dual addresses (`ADDRESS!!ADDRESS`) are
 * made of.
 *
 * Reads, %G_IO_IN watches and read handlers (qio_channel_yield() for
 * %G_IO_IN) go to the reader; writes, %G_IO_OUT watches, write handlers,
 * corking, Nagle and flushes to the writer. A watch for both conditions
 * reports whatever either half reports, merged. Blocking mode is set on
 * both.
 *
 * Shutting down %QIO_CHANNEL_SHUTDOWN_READ shuts the reader's reading
 * side, and %QIO_CHANNEL_SHUTDOWN_WRITE shuts the writer in both
 * directions (it is never read through the dual channel; a descriptor it
 * both reads and writes is released only that way, and its reader sees
 * the end). A half without %QIO_CHANNEL_FEATURE_SHUTDOWN is closed
 * instead. Closing the dual channel closes both halves.
 *
 * The channel has %QIO_CHANNEL_FEATURE_FD_PASS only when both halves have
 * it: descriptors are received from the reader and sent on the writer;
 * %QIO_CHANNEL_FEATURE_READ_MSG_PEEK when the reader has it, and
 * %QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY when the writer has it. It always
 * has %QIO_CHANNEL_FEATURE_SHUTDOWN. It cannot seek.
 */
#define QIO_TYPE_CHANNEL_DUAL (qio_channel_dual_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelDual, qio_channel_dual, QIO, CHANNEL_DUAL,
                     QIOChannel)

/**
 * qio_channel_dual_new:
 * @reader: the channel to read from (referenced)
 * @writer: the channel to write to (referenced); not @reader
 *
 * Joins two channels into one.
 *
 * Returns: (transfer full): a new channel.
 */
QIOChannelDual *qio_channel_dual_new(QIOChannel *reader, QIOChannel *writer);

/**
 * qio_channel_dual_get_reader:
 * @dioc: the channel
 *
 * Gets the half that reads.
 *
 * Returns: (transfer none): the channel reads go to.
 */
QIOChannel *qio_channel_dual_get_reader(QIOChannelDual *dioc);

/**
 * qio_channel_dual_get_writer:
 * @dioc: the channel
 *
 * Gets the half that writes.
 *
 * Returns: (transfer none): the channel writes go to.
 */
QIOChannel *qio_channel_dual_get_writer(QIOChannelDual *dioc);

G_END_DECLS

#endif /* QIO_CHANNEL_DUAL_H */
