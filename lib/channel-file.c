/*
 * libqio - channels over plain descriptors: files, pipes, ttys
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "qio/channel-file.h"
#include "qio/channel-watch.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

struct _QIOChannelFile {
    QIOChannel parent_instance;

    /*
     * Guards the fields below. It is never held across a system call that
     * can block, so qio_channel_shutdown() from another thread stays quick.
     * Once a direction is shut its number holds /dev/null until close
     * (see file_release_fd()), so a descriptor read under the lock stays
     * valid for the I/O that follows.
     */
    GMutex lock;
    int readfd;  /* -1: none, or closed */
    int writefd; /* may equal readfd */
    bool read_shut;
    bool write_shut;
    bool closed;
};

G_DEFINE_FINAL_TYPE(QIOChannelFile, qio_channel_file, QIO_TYPE_CHANNEL)

/* ---------------------------------------------------------------- fds */

/*
 * The descriptor for one direction, or -1: with @errp set when the channel
 * is closed or has no descriptor for @reading; with *@shut set (and no
 * error) when that direction was shut down.
 */
static int file_io_fd(QIOChannelFile *fioc, bool reading, bool *shut,
                      GError **errp)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fioc->lock);
    const char *dir = reading ? "read" : "write";

    *shut = false;
    if (fioc->closed) {
        qio__error(errp, QIO_CHANNEL_ERROR_CLOSED, "%s: channel is closed",
                   dir);
        return -1;
    }
    if (reading ? fioc->read_shut : fioc->write_shut) {
        *shut = true;
        return -1;
    }
    if ((reading ? fioc->readfd : fioc->writefd) < 0) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "%s: channel has no %s descriptor", dir, dir);
        return -1;
    }
    return reading ? fioc->readfd : fioc->writefd;
}

/* The descriptor of one direction if it is still usable, else -1. */
static int file_live_fd(QIOChannelFile *fioc, bool reading)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fioc->lock);

    if (fioc->closed || (reading ? fioc->read_shut : fioc->write_shut)) {
        return -1;
    }
    return reading ? fioc->readfd : fioc->writefd;
}

/*
 * Let go of the file behind @fd but not of the number: point the slot at
 * /dev/null. The file's last reference goes (a pipe's peer sees
 * end-of-file or EPIPE), a read or write racing on another thread reaches
 * /dev/null rather than whatever open() would put in a freed slot, and a
 * standard descriptor stays occupied. Standard slots stay inheritable, as
 * a later child expects them; others get close-on-exec. If /dev/null is
 * unavailable, close @fd. Returns what the slot now holds.
 */
static int file_release_fd(int fd)
{
    int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
    int ret;

    if (nullfd < 0) {
        close(fd);
        return -1;
    }
    do {
        ret = dup2(nullfd, fd);
    } while (ret < 0 && errno == EINTR);
    close(nullfd);
    if (ret < 0) {
        close(fd);
        return -1;
    }
    if (fd > STDERR_FILENO) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    return fd;
}

/* ---------------------------------------------------------------- I/O */

static ssize_t file_readv(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                          int **fds, size_t *nfds, int flags, GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    bool shut = false;
    ssize_t ret;
    int fd;

    /* The base class refuses these already; stay safe if called directly */
    if (fds != NULL || flags != 0) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "read: file channels cannot receive descriptors or "
                   "take read flags");
        return -1;
    }
    if (nfds != NULL) {
        *nfds = 0;
    }
    fd = file_io_fd(fioc, true, &shut, errp);
    if (shut) {
        return 0;
    }
    if (fd < 0) {
        return -1;
    }
    do {
        ret = readv(fd, iov, (int)MIN(niov, IOV_MAX));
    } while (ret < 0 && errno == EINTR);
    if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return QIO_CHANNEL_ERR_BLOCK;
    }
    if (ret < 0) {
        qio__error_errno(errp, errno, "read");
        return -1;
    }
    return ret;
}

static ssize_t file_writev(QIOChannel *ioc, const struct iovec *iov,
                           size_t niov, int *fds, size_t nfds, int flags,
                           GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    bool shut = false;
    ssize_t ret;
    int fd;

    if (nfds != 0 || flags != 0) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "write: file channels cannot send descriptors or "
                   "take write flags");
        return -1;
    }
    fd = file_io_fd(fioc, false, &shut, errp);
    if (shut) {
        qio__error_errno(errp, EPIPE, "write");
        return -1;
    }
    if (fd < 0) {
        return -1;
    }
    do {
        ret = writev(fd, iov, (int)MIN(niov, IOV_MAX));
    } while (ret < 0 && errno == EINTR);
    if (ret < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return QIO_CHANNEL_ERR_BLOCK;
    }
    if (ret < 0) {
        qio__error_errno(errp, errno, "write");
        return -1;
    }
    return ret;
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

static int file_fd_set_blocking(int fd, bool enabled, GError **errp)
{
    int flags = fcntl(fd, F_GETFL);
    int want;

    if (flags < 0) {
        qio__error_errno(errp, errno, "fcntl F_GETFL on fd %d", fd);
        return -1;
    }
    want = enabled ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
    if (want != flags && fcntl(fd, F_SETFL, want) < 0) {
        qio__error_errno(errp, errno, "fcntl F_SETFL on fd %d", fd);
        return -1;
    }
    return 0;
}

/*
 * O_NONBLOCK lives in the open file description, so a tty or pipe shared
 * with another process (an inherited stdin) changes mode for it too; the
 * caller chose to wrap such a descriptor. Regular files ignore the flag.
 */
static int file_set_blocking(QIOChannel *ioc, bool enabled, GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    bool closed;
    int rfd;
    int wfd;

    g_mutex_lock(&fioc->lock);
    closed = fioc->closed;
    rfd = fioc->read_shut ? -1 : fioc->readfd;
    wfd = fioc->write_shut ? -1 : fioc->writefd;
    g_mutex_unlock(&fioc->lock);

    if (closed) {
        qio__error(errp, QIO_CHANNEL_ERROR_CLOSED,
                   "set blocking: channel is closed");
        return -1;
    }
    if (rfd >= 0 && file_fd_set_blocking(rfd, enabled, errp) < 0) {
        return -1;
    }
    if (wfd >= 0 && wfd != rfd &&
        file_fd_set_blocking(wfd, enabled, errp) < 0) {
        return -1;
    }
    return 0;
}

/* Which descriptors one shutdown request releases; called locked. */
static void file_shut_locked(QIOChannelFile *fioc, QIOChannelShutdown how)
{
    bool shut_read = (how & QIO_CHANNEL_SHUTDOWN_READ) && fioc->readfd >= 0 &&
                     !fioc->read_shut;
    bool shut_write = (how & QIO_CHANNEL_SHUTDOWN_WRITE) &&
                      fioc->writefd >= 0 && !fioc->write_shut;

    fioc->read_shut |= shut_read;
    fioc->write_shut |= shut_write;
    if (fioc->readfd == fioc->writefd) {
        /* One descriptor serves both ways: keep it until both are shut */
        if ((shut_read || shut_write) && fioc->read_shut && fioc->write_shut) {
            fioc->readfd = fioc->writefd = file_release_fd(fioc->readfd);
        }
        return;
    }
    if (shut_read) {
        fioc->readfd = file_release_fd(fioc->readfd);
    }
    if (shut_write) {
        fioc->writefd = file_release_fd(fioc->writefd);
    }
}

static int file_shutdown(QIOChannel *ioc, QIOChannelShutdown how, GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fioc->lock);

    if (fioc->closed) {
        qio__error(errp, QIO_CHANNEL_ERROR_CLOSED,
                   "shutdown: channel is closed");
        return -1;
    }
    file_shut_locked(fioc, how);
    return 0;
}

static int file_close(QIOChannel *ioc, GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    int fds[2];
    int err = 0;

    g_mutex_lock(&fioc->lock);
    fds[0] = fioc->readfd;
    fds[1] = fioc->writefd == fioc->readfd ? -1 : fioc->writefd;
    fioc->readfd = fioc->writefd = -1;
    fioc->closed = true;
    g_mutex_unlock(&fioc->lock);

    for (size_t i = 0; i < G_N_ELEMENTS(fds); i++) {
        /* Linux frees the descriptor even when close() reports EINTR */
        if (fds[i] >= 0 && close(fds[i]) < 0 && errno != EINTR && !err) {
            err = errno;
        }
    }
    if (err) {
        qio__error_errno(errp, err, "close");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- watch */

static GSource *file_create_watch(QIOChannel *ioc, GIOCondition condition)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    int rfd;
    int wfd;

    /* Shut slots hold /dev/null: always ready, so waiters wake and fail */
    g_mutex_lock(&fioc->lock);
    rfd = fioc->readfd;
    wfd = fioc->writefd;
    g_mutex_unlock(&fioc->lock);

    if (rfd >= 0 && (wfd < 0 || wfd == rfd)) {
        return qio_channel_create_fd_watch(ioc, rfd, condition);
    }
    if (rfd < 0 && wfd >= 0) {
        return qio_channel_create_fd_watch(ioc, wfd, condition);
    }
    return qio_channel_create_fd_pair_watch(ioc, rfd, wfd, condition);
}

/* ---------------------------------------------------------------- type */

static void qio_channel_file_finalize(GObject *obj)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(obj);

    if (!fioc->closed) {
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
    fioc->readfd = -1;
    fioc->writefd = -1;
}

/* ---------------------------------------------------------------- public */

QIOChannelFile *qio_channel_file_new_fd_pair(int readfd, int writefd)
{
    QIOChannelFile *fioc = NULL;

    g_return_val_if_fail(readfd >= -1 && writefd >= -1, NULL);
    g_return_val_if_fail(readfd >= 0 || writefd >= 0, NULL);

    fioc = g_object_new(QIO_TYPE_CHANNEL_FILE, NULL);
    fioc->readfd = readfd;
    fioc->writefd = writefd;
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
