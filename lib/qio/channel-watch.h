/*
 * libqio - the GSource types behind channel watches
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_CHANNEL_WATCH_H
#define QIO_CHANNEL_WATCH_H

#include "qio/channel.h"

G_BEGIN_DECLS

/**
 * qio_channel_create_fd_watch:
 * @ioc: the channel the watch reports on (referenced by the source)
 * @fd: the descriptor to poll
 * @condition: the conditions to wait for
 *
 * A source that polls one descriptor. Its callback is a #QIOChannelFunc
 * called with @ioc and the conditions that are ready; %G_IO_HUP,
 * %G_IO_ERR and %G_IO_NVAL are always reported when they occur.
 *
 * Returns: (transfer full): a new, unattached source.
 */
GSource *qio_channel_create_fd_watch(QIOChannel *ioc, int fd,
                                     GIOCondition condition);

/**
 * qio_channel_create_socket_watch:
 * @ioc: the channel the watch reports on
 * @fd: the socket to poll
 * @condition: the conditions to wait for
 *
 * As qio_channel_create_fd_watch(); sockets need nothing else on POSIX.
 *
 * Returns: (transfer full): a new, unattached source.
 */
GSource *qio_channel_create_socket_watch(QIOChannel *ioc, int fd,
                                         GIOCondition condition);

/**
 * qio_channel_create_fd_pair_watch:
 * @ioc: the channel the watch reports on
 * @fdread: polled for %G_IO_IN (and %G_IO_PRI)
 * @fdwrite: polled for %G_IO_OUT
 * @condition: the conditions to wait for
 *
 * A source for channels that read from one descriptor and write to
 * another (a child's stdout and stdin). Conditions on either descriptor
 * are merged into one report. Either descriptor may be -1.
 *
 * Returns: (transfer full): a new, unattached source.
 */
GSource *qio_channel_create_fd_pair_watch(QIOChannel *ioc, int fdread,
                                          int fdwrite, GIOCondition condition);

G_END_DECLS

#endif /* QIO_CHANNEL_WATCH_H */
