/*
 * qioc - FILE, GOPEN, CREATE and PIPE
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"

/* Options that are open(2) flags. */
static const struct {
    const char *option;
    int flag;
} open_flags[] = {
    { "append", O_APPEND }, { "creat", O_CREAT }, { "trunc", O_TRUNC },
    { "excl", O_EXCL },
};

static int access_flags(QiocAccess access)
{
    switch (access) {
    case QIOC_ACCESS_READ:
        return O_RDONLY;
    case QIOC_ACCESS_WRITE:
        return O_WRONLY;
    default:
        return O_RDWR;
    }
}

static QiocAccess flags_access(int flags)
{
    switch (flags & O_ACCMODE) {
    case O_RDONLY:
        return QIOC_ACCESS_READ;
    case O_WRONLY:
        return QIOC_ACCESS_WRITE;
    default:
        return QIOC_ACCESS_RDWR;
    }
}

/* open(2) flags from the access qioc needs and the address's options. */
static int file_flags(const QiocAddress *addr, QiocAccess access, int base)
{
    int flags = base ? base : access_flags(access);

    if (qioc_address_get_flag(addr, "rdonly")) {
        flags = (flags & ~O_ACCMODE) | O_RDONLY;
    } else if (qioc_address_get_flag(addr, "wronly")) {
        flags = (flags & ~O_ACCMODE) | O_WRONLY;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(open_flags); i++) {
        if (qioc_address_get_flag(addr, open_flags[i].option)) {
            flags |= open_flags[i].flag;
        }
    }
    return flags | O_NOCTTY;
}

static mode_t create_mode(const QiocAddress *addr)
{
    return (mode_t)qioc_address_get_int(addr, "mode", 0666);
}

/* open(2) under umask= if given. */
static int open_masked(const QiocAddress *addr, const char *path, int flags)
{
    mode_t old = 0;
    gboolean masked = qioc_address_has_opt(addr, "umask");
    int fd;

    if (masked) {
        old = umask((mode_t)qioc_address_get_int(addr, "umask", 022));
    }
    fd = open(path, flags | O_CLOEXEC, create_mode(addr));
    if (masked) {
        umask(old);
    }
    return fd;
}

/*
 * Open with @flags; when both directions were asked for without rdonly/
 * wronly and the file only allows one (a read-only file, say), settle for
 * that one, as a user reading /etc/hosts to stdout expects.
 */
static int open_best(const QiocAddress *addr, const char *path, int *flags)
{
    int fd = open_masked(addr, path, *flags);

    if (fd < 0 && (errno == EACCES || errno == EROFS || errno == ETXTBSY) &&
        (*flags & O_ACCMODE) == O_RDWR) {
        int err = errno;

        *flags = (*flags & ~O_ACCMODE) | O_RDONLY;
        fd = open_masked(addr, path, *flags);
        if (fd < 0) {
            errno = err;
        }
    }
    return fd;
}

static QIOChannel *open_path(const QiocAddress *addr, QiocAccess *access,
                             int flags, GError **errp)
{
    const char *path = addr->params[0];
    gboolean existed = g_file_test(path, G_FILE_TEST_EXISTS);
    int fd = open_best(addr, path, &flags);

    if (fd < 0) {
        qioc_addr_error_errno(errp, errno, "open %s", path);
        return NULL;
    }
    if (!existed && !qioc_addr_set_file_attrs(addr, path, errp)) {
        close(fd);
        return NULL;
    }
    *access &= flags_access(flags);
    return QIO_CHANNEL(qio_channel_file_new_fd(fd));
}

QIOChannel *qioc_open_file(const QiocAddress *addr, QiocAccess *access,
                           QIOChannel *peer, const QiocOptions *opts, GError **errp)
{
    return open_path(addr, access, file_flags(addr, *access, 0), errp);
}

QIOChannel *qioc_open_create(const QiocAddress *addr, QiocAccess *access,
                             QIOChannel *peer, const QiocOptions *opts, GError **errp)
{
    int flags = file_flags(addr, QIOC_ACCESS_WRITE,
                           O_WRONLY | O_CREAT | O_TRUNC);

    if (qioc_address_get_flag(addr, "append")) {
        flags &= ~O_TRUNC;
    }
    return open_path(addr, access, flags, errp);
}

static QIOChannel *open_fifo(const QiocAddress *addr, QiocAccess *access,
                             GError **errp)
{
    const char *path = addr->params[0];
    gboolean masked = qioc_address_has_opt(addr, "umask");
    mode_t old = 0;
    int rc, err;

    if (masked) {
        old = umask((mode_t)qioc_address_get_int(addr, "umask", 022));
    }
    rc = mkfifo(path, create_mode(addr));
    err = errno;
    if (masked) {
        umask(old);
    }
    if (rc < 0 && err != EEXIST) {
        qioc_addr_error_errno(errp, err, "mkfifo %s", path);
        return NULL;
    }
    /*
     * Only reading (-u): O_RDONLY, so the last writer's close is our
     * end-of-file; O_NONBLOCK, so opening does not stall waiting for a
     * writer (the pump waits for data instead). Otherwise O_RDWR: opening
     * never blocks, and what is written can be read back.
     */
    if (*access == QIOC_ACCESS_READ) {
        return open_path(addr, access, O_RDONLY | O_NONBLOCK | O_NOCTTY,
                         errp);
    }
    return open_path(addr, access, O_RDWR | O_NOCTTY, errp);
}

QIOChannel *qioc_open_pipe(const QiocAddress *addr, QiocAccess *access,
                           QIOChannel *peer, const QiocOptions *opts, GError **errp)
{
    int fds[2];

    if (addr->nparams > 0) {
        return open_fifo(addr, access, errp);
    }
    if (pipe2(fds, O_CLOEXEC) < 0) {
        qioc_addr_error_errno(errp, errno, "pipe");
        return NULL;
    }
    /* An echo: what qioc writes into the pipe comes back out of it. */
    return QIO_CHANNEL(qio_channel_file_new_fd_pair(fds[0], fds[1]));
}
