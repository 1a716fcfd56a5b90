/*
 * libqio - helpers that pick a channel type
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include <sys/stat.h>

#include "qio/channel-file.h"
#include "qio/channel-socket.h"
#include "qio/channel-util.h"

QIOChannel *qio_channel_new_fd(int fd, GError **errp)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        qio__error_errno(errp, errno, "descriptor %d", fd);
        return NULL;
    }
    if (S_ISSOCK(st.st_mode)) {
        return QIO_CHANNEL(qio_channel_socket_new_fd(fd, errp));
    }
    return QIO_CHANNEL(qio_channel_file_new_fd(fd));
}
