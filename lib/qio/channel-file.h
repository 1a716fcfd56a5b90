/*
 * libqio - channels over plain descriptors: files, pipes, ttys
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_CHANNEL_FILE_H
#define QIO_CHANNEL_FILE_H

#include <sys/types.h>

#include "qio/channel.h"

G_BEGIN_DECLS

/**
 * QIOChannelFile:
 *
 * A #QIOChannelFile reads from one descriptor and writes to one descriptor,
 * which may be the same (a regular file, a tty) or two different ones (a
 * pipe pair, standard input and output). Either may be absent, making a
 * one-way channel; asking it for the missing direction is an error
 * (%QIO_CHANNEL_ERROR_NOT_SUPPORTED).
 *
 * The channel supports %QIO_CHANNEL_FEATURE_SHUTDOWN. Shutting a direction
 * releases the descriptor's file at once (a pipe's reader sees end-of-file,
 * its writer gets %EPIPE) while the descriptor number stays occupied by
 * /dev/null until the channel is closed: an I/O call racing with the
 * shutdown in another thread can never reach a file opened meanwhile. When
 * both directions share one descriptor, it is released only once both are
 * shut. After shutdown a read returns 0 (end-of-file) and a write fails
 * with %G_IO_ERROR_BROKEN_PIPE. A read or write already blocked in the
 * kernel is not woken by shutdown (nothing can wake a blocked pipe read
 * but data or end-of-file); use non-blocking mode to stay responsive.
 *
 * Closing the channel (qio_channel_close(), or dropping the last
 * reference) closes its descriptors for real, standard ones (0, 1, 2)
 * included. A caller that wants to keep a standard descriptor occupied
 * after the channel is gone wraps a duplicate with
 * qio_channel_file_new_dupfd().
 *
 * Regular files always poll as ready; their reads and writes never return
 * %QIO_CHANNEL_ERR_BLOCK.
 *
 * On a pseudo-terminal's master side, the %EIO a read gets once the last
 * process that had the slave side open has closed it is end-of-file.
 */
#define QIO_TYPE_CHANNEL_FILE (qio_channel_file_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelFile, qio_channel_file, QIO, CHANNEL_FILE,
                     QIOChannel)

/**
 * qio_channel_file_new_fd:
 * @fd: an open descriptor, used for both reading and writing
 *
 * Wraps @fd. The channel takes ownership of @fd and closes it when it is
 * closed or finalized. Whether @fd can be read or written depends on how
 * it was opened; the operation the descriptor refuses fails with the
 * kernel's error (%EBADF).
 *
 * Returns: (transfer full): a new channel.
 */
QIOChannelFile *qio_channel_file_new_fd(int fd);

/**
 * qio_channel_file_new_dupfd:
 * @fd: an open descriptor; the caller keeps it
 * @errp: return location for an error
 *
 * Wraps a duplicate of @fd (F_DUPFD_CLOEXEC), so closing the channel
 * leaves @fd open. The duplicate shares @fd's file offset and status
 * flags, including %O_NONBLOCK set by qio_channel_set_blocking().
 *
 * Returns: (transfer full) (nullable): a new channel, or %NULL if the
 * descriptor could not be duplicated.
 */
QIOChannelFile *qio_channel_file_new_dupfd(int fd, GError **errp);

/**
 * qio_channel_file_new_path:
 * @path: the file to open
 * @flags: open(2) flags (%O_RDONLY, %O_WRONLY or %O_RDWR, plus %O_CREAT,
 *   %O_EXCL, %O_TRUNC, %O_APPEND, ...); %O_CLOEXEC is always added
 * @mode: (type guint): permissions for a file created by %O_CREAT
 * @errp: return location for an error
 *
 * Opens @path and wraps the descriptor. On failure the error message
 * names the operation and the path, as "open PATH: No such file or
 * directory".
 *
 * Returns: (transfer full) (nullable): a new channel, or %NULL on error.
 */
QIOChannelFile *qio_channel_file_new_path(const char *path, int flags,
                                          mode_t mode, GError **errp);

/**
 * qio_channel_file_new_fd_pair:
 * @readfd: the descriptor to read from, or -1 for a write-only channel
 * @writefd: the descriptor to write to, or -1 for a read-only channel
 *
 * Wraps two descriptors as one channel; standard input and output are
 * (0, 1). @readfd and @writefd may be equal, which is the same as
 * qio_channel_file_new_fd(). They must not both be -1. The channel takes
 * ownership of both.
 *
 * Returns: (transfer full): a new channel.
 */
QIOChannelFile *qio_channel_file_new_fd_pair(int readfd, int writefd);

/**
 * qio_channel_file_get_fd:
 * @ioc: the channel
 *
 * The descriptor stays owned by the channel: do not close it.
 *
 * Returns: the read descriptor, or the write descriptor if there is no
 * read descriptor, or -1 once neither is usable (shut down or closed).
 */
int qio_channel_file_get_fd(QIOChannelFile *ioc);

/**
 * qio_channel_file_get_read_fd:
 * @ioc: the channel
 *
 * Gets the descriptor of the read direction.
 *
 * Returns: the descriptor reads use, or -1 if the channel has none, its
 * read side was shut down, or it was closed. Owned by the channel.
 */
int qio_channel_file_get_read_fd(QIOChannelFile *ioc);

/**
 * qio_channel_file_get_write_fd:
 * @ioc: the channel
 *
 * Gets the descriptor of the write direction.
 *
 * Returns: the descriptor writes use, or -1 if the channel has none, its
 * write side was shut down, or it was closed. Owned by the channel.
 */
int qio_channel_file_get_write_fd(QIOChannelFile *ioc);

/**
 * qio_channel_file_is_seekable:
 * @ioc: the channel
 *
 * Whether qio_channel_io_seek() is meaningful: the descriptor of
 * qio_channel_file_get_fd() is a regular file or a block device and
 * lseek(2) accepts it. Pipes, sockets and ttys are not seekable.
 *
 * Returns: %TRUE if the channel can seek.
 */
gboolean qio_channel_file_is_seekable(QIOChannelFile *ioc);

G_END_DECLS

#endif /* QIO_CHANNEL_FILE_H */
