/*
 * libqio - channels over plain descriptors: files, pipes, ttys
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qio/channel-file.h"

struct _QIOChannelFile {
    QIOChannel parent_instance;

    /* Guards @fds; see lib/fd-pair.c. */
    GMutex lock;
    QIOFdPair fds;
};

G_DEFINE_FINAL_TYPE(QIOChannelFile, qio_channel_file, QIO_TYPE_CHANNEL)

/* A standard descriptor stays inheritable, as a later child expects. */
static const QIOFdPairKind file_kind = {
    .name = "file",
    .no_read = "channel has no read descriptor",
    .no_write = "channel has no write descriptor",
    .keep_std = true,
};

/* ---------------------------------------------------------------- fds */

/* The descriptor of one direction if it is still usable, else -1. */
static int file_live_fd(QIOChannelFile *fioc, bool reading)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fioc->lock);

    if (fioc->fds.closed ||
        (reading ? fioc->fds.read_shut : fioc->fds.write_shut)) {
        return -1;
    }
    return reading ? fioc->fds.readfd : fioc->fds.writefd;
}

/* ---------------------------------------------------------------- I/O */

static ssize_t file_readv(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                          int **fds, size_t *nfds, int flags, GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    bool eof = false;
    ssize_t ret;
    int fd;

    if (nfds != NULL) {
        *nfds = 0;
    }
    fd = qio__fd_pair_read_fd(&fioc->fds, fds != NULL, flags, &eof, errp);
    if (fd < 0) {
        return eof ? 0 : -1;
    }
    ret = qio__fd_readv(fd, iov, niov);
    /* A pty master reads EIO once the last user of the slave closed it */
    if (ret < 0 && errno == EIO && qio__fd_eio_is_eof(fd)) {
        return 0;
    }
    return qio__fd_io_result(ret, "read", errp);
}

static ssize_t file_writev(QIOChannel *ioc, const struct iovec *iov,
                           size_t niov, int *fds, size_t nfds, int flags,
                           GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    int fd = qio__fd_pair_write_fd(&fioc->fds, nfds != 0, flags, errp);

    if (fd < 0) {
        return -1;
    }
    return qio__fd_io_result(qio__fd_writev(fd, iov, niov), "write", errp);
}

static off_t file_seek(QIOChannel *ioc, off_t offset, int whence, GError **errp)
{
    int fd = qio_channel_file_get_fd(QIO_CHANNEL_FILE(ioc));
    off_t pos;

    if (fd < 0) {
        qio__error(errp, QIO_CHANNEL_ERROR_CLOSED,
                   "seek: channel is closed or shut down");
        return (off_t)-1;
    }
    pos = lseek(fd, offset, whence);
    if (pos == (off_t)-1) {
        qio__error_errno(errp, errno, "seek");
    }
    return pos;
}

/* ---------------------------------------------------------------- state */

static int file_set_blocking(QIOChannel *ioc, bool enabled, GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);

    return qio__fd_pair_set_blocking(&fioc->fds, enabled, errp);
}

static int file_shutdown(QIOChannel *ioc, QIOChannelShutdown how, GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fioc->lock);
    bool rd;
    bool wr;

    if (!qio__fd_pair_check_open_locked(&fioc->fds, "shutdown", errp)) {
        return -1;
    }
    qio__fd_pair_shut_locked(&fioc->fds, how, &rd, &wr);
    qio__fd_pair_release_locked(&fioc->fds, rd, wr);
    return 0;
}

static int file_close(QIOChannel *ioc, GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    int fds[2];

    g_mutex_lock(&fioc->lock);
    qio__fd_pair_take_locked(&fioc->fds, fds);
    g_mutex_unlock(&fioc->lock);

    return qio__fd_pair_close(fds, errp);
}

/* ---------------------------------------------------------------- watch */

static GSource *file_create_watch(QIOChannel *ioc, GIOCondition condition)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);

    return qio__fd_pair_create_watch(ioc, &fioc->fds, condition);
}

/* ---------------------------------------------------------------- type */

static void qio_channel_file_finalize(GObject *obj)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(obj);

    if (!fioc->fds.closed) {
        file_close(QIO_CHANNEL(fioc), NULL);
    }
    g_mutex_clear(&fioc->lock);
    G_OBJECT_CLASS(qio_channel_file_parent_class)->finalize(obj);
}

static void qio_channel_file_class_init(QIOChannelFileClass *klass)
{
    GObjectClass *oclass = G_OBJECT_CLASS(klass);
    QIOChannelClass *cclass = QIO_CHANNEL_CLASS(klass);

    oclass->finalize = qio_channel_file_finalize;
    cclass->io_writev = file_writev;
    cclass->io_readv = file_readv;
    cclass->io_close = file_close;
    cclass->io_create_watch = file_create_watch;
    cclass->io_set_blocking = file_set_blocking;
    cclass->io_shutdown = file_shutdown;
    cclass->io_seek = file_seek;
}

static void qio_channel_file_init(QIOChannelFile *fioc)
{
    g_mutex_init(&fioc->lock);
    qio__fd_pair_init(&fioc->fds, &fioc->lock, &file_kind);
}

/* ---------------------------------------------------------------- public */

QIOChannelFile *qio_channel_file_new_fd_pair(int readfd, int writefd)
{
    QIOChannelFile *fioc = NULL;

    g_return_val_if_fail(readfd >= -1 && writefd >= -1, NULL);
    g_return_val_if_fail(readfd >= 0 || writefd >= 0, NULL);

    fioc = g_object_new(QIO_TYPE_CHANNEL_FILE, NULL);
    fioc->fds.readfd = readfd;
    fioc->fds.writefd = writefd;
    qio_channel_set_feature(QIO_CHANNEL(fioc), QIO_CHANNEL_FEATURE_SHUTDOWN);
    return fioc;
}

QIOChannelFile *qio_channel_file_new_fd(int fd)
{
    g_return_val_if_fail(fd >= 0, NULL);

    return qio_channel_file_new_fd_pair(fd, fd);
}

QIOChannelFile *qio_channel_file_new_dupfd(int fd, GError **errp)
{
    int newfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

    if (newfd < 0) {
        qio__error_errno(errp, errno, "dup fd %d", fd);
        return NULL;
    }
    return qio_channel_file_new_fd(newfd);
}

QIOChannelFile *qio_channel_file_new_path(const char *path, int flags,
                                          mode_t mode, GError **errp)
{
    int fd;

    g_return_val_if_fail(path != NULL, NULL);

    do {
        fd = open(path, flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        qio__error_errno(errp, errno, "open %s", path);
        return NULL;
    }
    return qio_channel_file_new_fd(fd);
}

int qio_channel_file_get_read_fd(QIOChannelFile *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_FILE(ioc), -1);

    return file_live_fd(ioc, true);
}

int qio_channel_file_get_write_fd(QIOChannelFile *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_FILE(ioc), -1);

    return file_live_fd(ioc, false);
}

int qio_channel_file_get_fd(QIOChannelFile *ioc)
{
    int fd;

    g_return_val_if_fail(QIO_IS_CHANNEL_FILE(ioc), -1);

    fd = file_live_fd(ioc, true);
    return fd >= 0 ? fd : file_live_fd(ioc, false);
}

gboolean qio_channel_file_is_seekable(QIOChannelFile *ioc)
{
    int fd = qio_channel_file_get_fd(ioc);
    struct stat st;

    if (fd < 0 || lseek(fd, 0, SEEK_CUR) == (off_t)-1) {
        return FALSE;
    }
    if (fstat(fd, &st) < 0) {
        return FALSE;
    }
    return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
}
