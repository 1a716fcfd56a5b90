/*
 * qioc - splice(2): moving bytes between descriptors without copying
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The fast path of src/pump.c: when both ends are plain kernel
 * descriptors and nothing has to look at the bytes, splice(2) moves them
 * through a pipe without copying them to user space.
 *
 * Measured (contrib/bench): a 1 MiB pipe moves TCP at the speed of a
 * minimal splice relay; the default 64 KiB pipe costs a quarter of that.
 * Pages move by reference, so a large pipe costs no copies, and 1 MiB is
 * what an unprivileged process may ask for (/proc/sys/fs/pipe-max-size).
 * A flow starts with the default pipe and grows it once a splice fills
 * it: resizing costs as much as creating the pipe, which short flows (a
 * connection per HTTP request) would pay for nothing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "splice.h"

#define SPLICE_PIPE_SIZE (1 << 20)
#define SPLICE_MIN_PIPE (64 * 1024)

int qioc_channel_fd(QIOChannel *ioc, gboolean for_reading)
{
    if (QIO_IS_CHANNEL_DUAL(ioc)) {
        QIOChannelDual *dual = QIO_CHANNEL_DUAL(ioc);

        return qioc_channel_fd(for_reading ? qio_channel_dual_get_reader(dual)
                                           : qio_channel_dual_get_writer(dual),
                               for_reading);
    }
    if (QIO_IS_CHANNEL_SOCKET(ioc)) {
        return qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(ioc));
    }
    if (QIO_IS_CHANNEL_FILE(ioc)) {
        QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);

        return for_reading ? qio_channel_file_get_read_fd(fioc)
                           : qio_channel_file_get_write_fd(fioc);
    }
    return -1;
}

int qioc_channel_tty_fd(QIOChannel *ioc, gboolean for_reading)
{
    if (QIO_IS_CHANNEL_DUAL(ioc)) {
        QIOChannelDual *dual = QIO_CHANNEL_DUAL(ioc);

        return qioc_channel_tty_fd(for_reading
                                       ? qio_channel_dual_get_reader(dual)
                                       : qio_channel_dual_get_writer(dual),
                                   for_reading);
    }
    /* a socket never is: no ioctl to ask, once per connection */
    return QIO_IS_CHANNEL_FILE(ioc) ? qioc_channel_fd(ioc, for_reading) : -1;
}

gboolean qioc_channel_is_datagram(QIOChannel *ioc, gboolean for_reading)
{
    int fd;
    int type = 0;
    socklen_t len = sizeof(type);

    if (QIO_IS_CHANNEL_DATAGRAM_PEER(ioc)) {
        return TRUE;
    }
    if (QIO_IS_CHANNEL_SOCKET(ioc)) {
        return qio_channel_socket_is_datagram(QIO_CHANNEL_SOCKET(ioc));
    }
    fd = qioc_channel_fd(ioc, for_reading);
    return fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
           type == SOCK_DGRAM;
}

gboolean qioc_splice_pipe_open(int pipe[2])
{
    if (pipe2(pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        return FALSE;
    }
    /*
     * Past the user's pipe quota (pipe-user-pages-soft) the kernel makes
     * new pipes one or two pages, which would make splicing slower than
     * copying: then copy.
     */
    if (fcntl(pipe[1], F_GETPIPE_SZ) < SPLICE_MIN_PIPE) {
        close(pipe[0]);
        close(pipe[1]);
        return FALSE;
    }
    return TRUE;
}

/* Move @len bytes from the pipe to the destination. */
static QiocSpliceEnd coroutine_fn splice_out(QIOChannel *dst, int pipe_rd,
                                             size_t len,
                                             const QiocSpliceOps *ops,
                                             void *flow)
{
    int out = qioc_channel_fd(dst, FALSE);

    while (len > 0) {
        ssize_t n = splice(pipe_rd, NULL, out, NULL, len,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            ops->wait(flow, dst, G_IO_OUT);
            if (ops->stopped(flow, TRUE)) {
                return QIOC_SPLICE_STOPPED;
            }
            continue;
        }
        if (n < 0 && errno == EINVAL) {
            return ops->copy_out(flow, pipe_rd, len) ? QIOC_SPLICE_FALLBACK
                                                     : QIOC_SPLICE_FAILED;
        }
        if (n <= 0) {
            ops->failed(flow, TRUE, n < 0 ? errno : EPIPE, "write");
            return QIOC_SPLICE_FAILED;
        }
        len -= n;
        ops->moved(flow, n);
    }
    return QIOC_SPLICE_EOF;
}

QiocSpliceEnd coroutine_fn qioc_splice(QIOChannel *src, QIOChannel *dst,
                                       int pipe[2], size_t chunk,
                                       const QiocSpliceOps *ops, void *flow)
{
    int in = qioc_channel_fd(src, TRUE);
    gboolean grown = FALSE;

    chunk = MAX(chunk, SPLICE_PIPE_SIZE);
    for (;;) {
        QiocSpliceEnd end;
        ssize_t n;

        if (ops->stopped(flow, FALSE)) {
            return QIOC_SPLICE_STOPPED;
        }
        n = splice(in, NULL, pipe[1], NULL, chunk,
                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            ops->wait(flow, src, G_IO_IN);
            continue;
        }
        if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
            return QIOC_SPLICE_FALLBACK;
        }
        if (n < 0) {
            ops->failed(flow, FALSE, errno, "read");
            return QIOC_SPLICE_FAILED;
        }
        if (n == 0) {
            return QIOC_SPLICE_EOF;
        }
        if (!grown && n >= SPLICE_MIN_PIPE) {
            /* A bulk flow; refused past the quota, the pipe stays as is. */
            fcntl(pipe[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE);
            grown = TRUE;
        }
        end = splice_out(dst, pipe[0], n, ops, flow);
        if (end != QIOC_SPLICE_EOF) {
            return end;
        }
    }
}
