/*
 * libqio - a channel's read and write descriptors, for the channels made
 * of plain descriptors: QIOChannelFile and QIOChannelCommand
 *
 * Each of those guards its QIOFdPair with its own lock, which is never
 * held across a system call that can block, so that a shutdown from
 * another thread stays quick. A descriptor released on shutdown keeps its
 * number, pointing at /dev/null, until close: a descriptor read under the
 * lock stays valid for the I/O that follows.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "qio/channel-watch.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

/* ---------------------------------------------------------------- state */

void qio__fd_pair_init(QIOFdPair *p, GMutex *lock, const QIOFdPairKind *kind)
{
    *p = (QIOFdPair){.lock = lock, .kind = kind, .readfd = -1, .writefd = -1};
}

bool qio__fd_pair_check_open_locked(const QIOFdPair *p, const char *op,
                                    GError **errp)
{
    if (!p->closed) {
        return true;
    }
    qio__error(errp, QIO_CHANNEL_ERROR_CLOSED, "%s: channel is closed", op);
    return false;
}

/*
 * The descriptor for one direction, or -1: with @errp set when the pair
 * is closed or has no descriptor that way; with *@shut set (and no error)
 * when that direction was shut down.
 */
static int fd_pair_io_fd(QIOFdPair *p, bool reading, bool *shut, GError **errp)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(p->lock);
    const char *dir = reading ? "read" : "write";

    *shut = false;
    if (!qio__fd_pair_check_open_locked(p, dir, errp)) {
        return -1;
    }
    if (reading ? p->read_shut : p->write_shut) {
        *shut = true;
        return -1;
    }
    if ((reading ? p->readfd : p->writefd) < 0) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED, "%s: %s", dir,
                   reading ? p->kind->no_read : p->kind->no_write);
        return -1;
    }
    return reading ? p->readfd : p->writefd;
}

int qio__fd_pair_read_fd(QIOFdPair *p, bool want_fds, int flags, bool *eof,
                         GError **errp)
{
    /* The base class refuses these already; stay safe if called directly */
    if (want_fds || flags != 0) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "read: %s channels cannot receive descriptors or "
                   "take read flags",
                   p->kind->name);
        *eof = false;
        return -1;
    }
    return fd_pair_io_fd(p, true, eof, errp);
}

int qio__fd_pair_write_fd(QIOFdPair *p, bool with_fds, int flags, GError **errp)
{
    bool shut = false;
    int fd;

    if (with_fds || flags != 0) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "write: %s channels cannot send descriptors or "
                   "take write flags",
                   p->kind->name);
        return -1;
    }
    fd = fd_pair_io_fd(p, false, &shut, errp);
    if (shut) {
        qio__error_errno(errp, EPIPE, "write");
    }
    return fd;
}

/* ---------------------------------------------------------------- shutdown */

/*
 * Pointing the slot at /dev/null drops the file's last reference (a
 * pipe's peer sees end-of-file or EPIPE), while a read or write racing on
 * another thread reaches /dev/null rather than whatever open() would put
 * in a freed slot, and a standard descriptor stays occupied. If
 * /dev/null is unavailable, close @fd. Returns what the slot now holds.
 */
static int fd_release(int fd, bool keep_std)
{
    int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
    int flags = keep_std && fd <= STDERR_FILENO ? 0 : O_CLOEXEC;
    int ret;

    if (nullfd < 0) {
        close(fd);
        return -1;
    }
    do {
        ret = dup3(nullfd, fd, flags);
    } while (ret < 0 && errno == EINTR);
    close(nullfd);
    if (ret < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

void qio__fd_pair_shut_locked(QIOFdPair *p, QIOChannelShutdown how, bool *rd,
                              bool *wr)
{
    *rd = (how & QIO_CHANNEL_SHUTDOWN_READ) && p->readfd >= 0 && !p->read_shut;
    *wr =
        (how & QIO_CHANNEL_SHUTDOWN_WRITE) && p->writefd >= 0 && !p->write_shut;
    p->read_shut |= *rd;
    p->write_shut |= *wr;
}

void qio__fd_pair_release_locked(QIOFdPair *p, bool rd, bool wr)
{
    bool keep_std = p->kind->keep_std;

    if (p->readfd == p->writefd) {
        /* One descriptor serves both ways: keep it until both are shut */
        if ((rd || wr) && p->read_shut && p->write_shut) {
            p->readfd = p->writefd = fd_release(p->readfd, keep_std);
        }
        return;
    }
    if (rd) {
        p->readfd = fd_release(p->readfd, keep_std);
    }
    if (wr) {
        p->writefd = fd_release(p->writefd, keep_std);
    }
}

/* ---------------------------------------------------------------- close */

void qio__fd_pair_take_locked(QIOFdPair *p, int fds[2])
{
    fds[0] = p->readfd;
    fds[1] = p->writefd == p->readfd ? -1 : p->writefd;
    p->readfd = p->writefd = -1;
    p->closed = true;
}

int qio__fd_pair_close(const int fds[2], GError **errp)
{
    int err = 0;

    for (size_t i = 0; i < 2; i++) {
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

/* ---------------------------------------------------------------- I/O */

ssize_t qio__fd_readv(int fd, const struct iovec *iov, size_t niov)
{
    ssize_t ret;

    do {
        ret = readv(fd, iov, (int)MIN(niov, IOV_MAX));
    } while (ret < 0 && errno == EINTR);
    return ret;
}

ssize_t qio__fd_writev(int fd, const struct iovec *iov, size_t niov)
{
    ssize_t ret;

    do {
        ret = writev(fd, iov, (int)MIN(niov, IOV_MAX));
    } while (ret < 0 && errno == EINTR);
    return ret;
}

bool qio__fd_eio_is_eof(int fd)
{
    unsigned int n;

    /* Only a master answers TIOCGPTN; a slave's EIO is a real error. */
    return ioctl(fd, TIOCGPTN, &n) == 0;
}

ssize_t qio__fd_io_result(ssize_t ret, const char *op, GError **errp)
{
    if (ret >= 0) {
        return ret;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return QIO_CHANNEL_ERR_BLOCK;
    }
    qio__error_errno(errp, errno, "%s", op);
    return -1;
}

/* ---------------------------------------------------------------- mode */

static int fd_set_blocking(int fd, bool enabled, GError **errp)
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
 * caller chose to wrap such a descriptor. Regular files ignore the flag,
 * and so does I/O in a direction that is shut: its descriptor is left
 * alone.
 */
int qio__fd_pair_set_blocking(QIOFdPair *p, bool enabled, GError **errp)
{
    bool open;
    int rfd;
    int wfd;

    g_mutex_lock(p->lock);
    open = qio__fd_pair_check_open_locked(p, "set blocking", errp);
    rfd = p->read_shut ? -1 : p->readfd;
    wfd = p->write_shut ? -1 : p->writefd;
    g_mutex_unlock(p->lock);

    if (!open) {
        return -1;
    }
    if (rfd >= 0 && fd_set_blocking(rfd, enabled, errp) < 0) {
        return -1;
    }
    if (wfd >= 0 && wfd != rfd && fd_set_blocking(wfd, enabled, errp) < 0) {
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- watch */

/* A released slot holds /dev/null: always ready, so waiters wake and fail. */
GSource *qio__fd_pair_create_watch(QIOChannel *ioc, QIOFdPair *p,
                                   GIOCondition condition)
{
    int rfd;
    int wfd;

    g_mutex_lock(p->lock);
    rfd = p->readfd;
    wfd = p->writefd;
    g_mutex_unlock(p->lock);

    if (rfd < 0 || wfd < 0 || rfd == wfd) {
        return qio_channel_create_fd_watch(ioc, rfd >= 0 ? rfd : wfd,
                                           condition);
    }
    return qio_channel_create_fd_pair_watch(ioc, rfd, wfd, condition);
}
