/*
 * qioc - FILE, GOPEN, CREATE and PIPE
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * FILE, GOPEN, CREATE and the unnamed PIPE open at once; a named FIFO
 * opens through qioc_connect_fifo(), which may have to wait for a reader.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"

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

/* Create the FIFO unless it exists; mode=, user=, group= if qioc made it. */
static gboolean make_fifo(const QiocAddress *addr, GError **errp)
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
        return FALSE;
    }
    return rc < 0 || qioc_addr_set_file_attrs(addr, path, errp);
}

static int open_fifo_fd(const char *path, int flags, GError **errp)
{
    int fd = open(path, flags | O_NOCTTY | O_CLOEXEC);

    if (fd < 0) {
        qioc_addr_error_errno(errp, errno, "open %s", path);
    }
    return fd;
}

/*
 * Both ways: two descriptors, so that half-closing the writing one (end of
 * the data qioc sends) leaves our reader an end-of-file once it has read
 * back what was written, which one O_RDWR descriptor never would. Ours is
 * the reader the O_WRONLY open needs, so neither open waits.
 */
static QIOChannel *open_fifo_both(const char *path, GError **errp)
{
    int rfd = open_fifo_fd(path, O_RDONLY | O_NONBLOCK, errp);
    int wfd;

    if (rfd < 0) {
        return NULL;
    }
    wfd = open_fifo_fd(path, O_WRONLY | O_NONBLOCK, errp);
    if (wfd < 0) {
        close(rfd);
        return NULL;
    }
    return QIO_CHANNEL(qio_channel_file_new_fd_pair(rfd, wfd));
}

/* Writing only: the open that waits for a reader, in a worker thread. */
typedef struct {
    char *path;
    int fd;
    QiocOpenDone *done;
    gpointer data;
} QiocFifoOpen;

static void fifo_open_free(gpointer opaque)
{
    QiocFifoOpen *f = opaque;

    if (f->fd >= 0) {
        close(f->fd);
    }
    g_free(f->path);
    g_free(f);
}

static void fifo_open_worker(QIOTask *task, gpointer opaque)
{
    QiocFifoOpen *f = opaque;
    GError *err = NULL;

    do {
        f->fd = open(f->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    } while (f->fd < 0 && errno == EINTR);
    if (f->fd < 0) {
        qioc_addr_error_errno(&err, errno, "open %s", f->path);
        qio_task_set_error(task, err);
    }
}

static void fifo_opened(QIOTask *task, gpointer opaque)
{
    QiocFifoOpen *f = opaque;
    GError *err = NULL;
    QIOChannel *ioc = NULL;

    if (!qio_task_propagate_error(task, &err)) {
        ioc = QIO_CHANNEL(qio_channel_file_new_fd(f->fd));
        f->fd = -1;
    }
    f->done(ioc, err, f->data);
}

/*
 * O_WRONLY waits for a reader, as socat does: what is written then has
 * somewhere to go. (An O_RDWR descriptor would be its own reader, and
 * the data would vanish with it if qioc finished before anyone read.)
 * The wait must not hold up the loop (other clients, signals). If qioc
 * ends first, the thread ends with the process.
 */
static void open_fifo_write(const char *path, QiocOpenDone *done,
                            gpointer data)
{
    QiocFifoOpen *f = g_new0(QiocFifoOpen, 1);
    QIOTask *task;

    *f = (QiocFifoOpen){ g_strdup(path), -1, done, data };
    task = qio_task_new(NULL, fifo_opened, f, fifo_open_free);
    qio_task_run_in_thread(task, fifo_open_worker, f, NULL, NULL);
}

void qioc_connect_fifo(const QiocAddress *addr, const QiocOptions *opts,
                       QiocOpenDone *done, gpointer data)
{
    const char *path = addr->params[0];
    GError *err = NULL;
    QIOChannel *ioc = NULL;
    int fd;

    if (!make_fifo(addr, &err)) {
        done(NULL, err, data);
        return;
    }
    switch (qioc_addr_access(opts, addr->index - 1)) {
    case QIOC_ACCESS_WRITE:
        qioc_info(2, "address %d (%s): waiting for a reader of %s",
                  addr->index, addr->text, path);
        open_fifo_write(path, done, data);
        return;
    case QIOC_ACCESS_READ:
        /*
         * O_RDONLY, so the last writer's close is our end-of-file;
         * O_NONBLOCK, so opening does not wait for a writer (the pump
         * waits for data instead).
         */
        fd = open_fifo_fd(path, O_RDONLY | O_NONBLOCK, &err);
        ioc = fd < 0 ? NULL : QIO_CHANNEL(qio_channel_file_new_fd(fd));
        break;
    default:
        ioc = open_fifo_both(path, &err);
        break;
    }
    done(ioc, err, data);
}

QIOChannel *qioc_open_pipe(const QiocAddress *addr, QiocAccess *access,
                           QIOChannel *peer, const QiocOptions *opts, GError **errp)
{
    int fds[2];

    /* A named FIFO is qioc_connect_fifo()'s. */
    g_return_val_if_fail(addr->nparams == 0, NULL);
    if (pipe2(fds, O_CLOEXEC) < 0) {
        qioc_addr_error_errno(errp, errno, "pipe");
        return NULL;
    }
    /* An echo: what qioc writes into the pipe comes back out of it. */
    return QIO_CHANNEL(qio_channel_file_new_fd_pair(fds[0], fds[1]));
}
