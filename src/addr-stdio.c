/*
 * qioc - STDIO, STDIN, STDOUT, STDERR
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <unistd.h>

#include "addr.h"

typedef struct {
    QiocAddrKind kind;
    int readfd;
    int writefd;
} QiocStdStream;

static const QiocStdStream std_streams[] = {
    { QIOC_ADDR_STDIO, STDIN_FILENO, STDOUT_FILENO },
    { QIOC_ADDR_STDIN, STDIN_FILENO, -1 },
    { QIOC_ADDR_STDOUT, -1, STDOUT_FILENO },
    { QIOC_ADDR_STDERR, -1, STDERR_FILENO },
};

QIOChannel *qioc_open_stdio(const QiocAddress *addr, QiocAccess *access,
                            QIOChannel *peer, const QiocOptions *opts, GError **errp)
{
    for (gsize i = 0; i < G_N_ELEMENTS(std_streams); i++) {
        const QiocStdStream *s = &std_streams[i];
        int rfd = (*access & QIOC_ACCESS_READ) ? s->readfd : -1;
        int wfd = (*access & QIOC_ACCESS_WRITE) ? s->writefd : -1;

        if (s->kind != addr->type->kind) {
            continue;
        }
        if (rfd < 0 && wfd < 0) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                        "%s cannot be %s", addr->type->name,
                        s->readfd >= 0 ? "written" : "read");
            return NULL;
        }
        /* The standard streams stay where they are; the channel owns them. */
        *access = (rfd >= 0 ? QIOC_ACCESS_READ : 0) |
                  (wfd >= 0 ? QIOC_ACCESS_WRITE : 0);
        return QIO_CHANNEL(qio_channel_file_new_fd_pair(rfd, wfd));
    }
    g_return_val_if_reached(NULL);
}
