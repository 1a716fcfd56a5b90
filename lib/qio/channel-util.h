/*
 * libqio - helpers that pick a channel type
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_CHANNEL_UTIL_H
#define QIO_CHANNEL_UTIL_H

#include "qio/channel.h"

G_BEGIN_DECLS

/**
 * qio_channel_new_fd:
 * @fd: an open descriptor; the channel takes ownership of it
 * @errp: return location for an error
 *
 * Wraps @fd in a #QIOChannelSocket if it is a socket, otherwise in a
 * #QIOChannelFile. On error @fd is left open and still the caller's.
 *
 * Returns: (transfer full) (nullable): the new channel, or %NULL on error.
 */
QIOChannel *qio_channel_new_fd(int fd, GError **errp);

G_END_DECLS

#endif /* QIO_CHANNEL_UTIL_H */
