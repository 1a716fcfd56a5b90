/*
 * qioc - FILE, GOPEN, CREATE and PIPE
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * FILE, GOPEN, CREATE and the unnamed PIPE open at once; a named FIFO
 * opens through fifo_connect(), which may have to wait for a reader.
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
    gsize option;
    int flag;
} open_flags[] = {
    {offsetof(QiocAddrOpts, append), O_APPEND},
    {offsetof(QiocAddrOpts, creat), O_CREAT},
    {offsetof(QiocAddrOpts, trunc), O_TRUNC},
    {offsetof(QiocAddrOpts, excl), O_EXCL},
    {offsetof(QiocAddrOpts, nonblock), O_NONBLOCK},
};

/* open(2) flags from the access qioc needs and the address's options. */
static int file_flags(const QiocAddress *addr, QiocAccess access, int base)
{
    int flags = base ? base : qioc_access_flags(access);

    if (addr->o.rdonly) {
        flags = (flags & ~O_ACCMODE) | O_RDONLY;
    } else if (addr->o.wronly) {
        flags = (flags & ~O_ACCMODE) | O_WRONLY;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(open_flags); i++) {
        if (*(const gboolean *)((const char *)&addr->o +
                                open_flags[i].option)) {
            flags |= open_flags[i].flag;
        }
    }
    return flags | O_NOCTTY;
}

static mode_t create_mode(const QiocAddress *addr)
{
    return addr->o.mode >= 0 ? (mode_t)addr->o.mode : 0666;
}

/* open(2) under umask= if given. */
static int open_masked(const QiocAddress *addr, const char *path, int flags)
{
    mode_t old = qioc_umask_push(addr);
    int fd = open(path, flags | O_CLOEXEC, create_mode(addr));
    int err = errno;

    qioc_umask_pop(addr, old);
    errno = err;
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

/* ftruncate=, then seek= and seek-end=, once the file is open. */
static gboolean seek_opened(const QiocAddress *addr, int fd, GError **errp)
{
    gint64 size = addr->o.ftruncate;

    if (size != QIOC_OFFSET_UNSET && ftruncate(fd, (off_t)size) < 0) {
        qioc_error_errno(errp, errno, "ftruncate=%" G_GINT64_FORMAT " on %s",
                         size, addr->params[0]);
        return FALSE;
    }
    static const struct {
        gsize option;
        int whence;
        const char *name;
    } seeks[] = {
        {offsetof(QiocAddrOpts, seek), SEEK_SET, "seek"},
        {offsetof(QiocAddrOpts, seek_end), SEEK_END, "seek-end"},
    };

    for (gsize i = 0; i < G_N_ELEMENTS(seeks); i++) {
        gint64 offset =
            *(const gint64 *)((const char *)&addr->o + seeks[i].option);

        if (offset != QIOC_OFFSET_UNSET &&
            lseek(fd, (off_t)offset, seeks[i].whence) < 0) {
            qioc_error_errno(errp, errno, "%s=%" G_GINT64_FORMAT " on %s",
                             seeks[i].name, offset, addr->params[0]);
            return FALSE;
        }
    }
    return TRUE;
}

/*
 * unlink-close on FILE, GOPEN, CREATE (off unless given, as in socat):
 * the channel carries the path that the end of the connection removes.
 */
#define UNLINK_AT_CLOSE "qioc-unlink-at-close"

static void unlink_at_close(QIOChannel *ioc, const char *path)
{
    g_object_set_data_full(G_OBJECT(ioc), UNLINK_AT_CLOSE, g_strdup(path),
                           g_free);
}

static gboolean file_finish(QiocEndpoint *ep, QIOChannel *ioc)
{
    const char *path = g_object_get_data(G_OBJECT(ioc), UNLINK_AT_CLOSE);

    if (path && unlink(path) < 0 && errno != ENOENT) {
        qioc_log_address(1, ep->addr->index, ep->addr->text,
                         "cannot remove %s: %s", path, g_strerror(errno));
    }
    return TRUE;
}

static QIOChannel *open_path(const QiocAddress *addr, QiocAccess *access,
                             int flags, GError **errp)
{
    QIOChannel *ioc;

    const char *path = addr->params[0];
    gboolean existed = g_file_test(path, G_FILE_TEST_EXISTS);
    int fd = open_best(addr, path, &flags);

    if (fd < 0) {
        qioc_error_errno(errp, errno, "open %s", path);
        return NULL;
    }
    if (!qioc_set_file_attrs(addr, path, !existed, errp) ||
        !seek_opened(addr, fd, errp)) {
        close(fd);
        return NULL;
    }
    *access &= qioc_access_of_flags(flags);
    ioc = QIO_CHANNEL(qio_channel_file_new_fd(fd));
    if (addr->o.unlink_close == 1) {
        unlink_at_close(ioc, path);
    }
    return ioc;
}

static QIOChannel *file_open(QiocEndpoint *ep, QiocAccess *access,
                             QIOChannel *peer, GError **errp)
{
    return open_path(ep->addr, access, file_flags(ep->addr, *access, 0), errp);
}

/*
 * GOPEN, and so a bare path, as socat opens it: a missing file is
 * created, and an existing one that is written is appended to, never
 * overwritten from its first byte.
 */
static QIOChannel *gopen_open(QiocEndpoint *ep, QiocAccess *access,
                              QIOChannel *peer, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    int flags = file_flags(addr, *access, 0);

    if (!g_file_test(addr->params[0], G_FILE_TEST_EXISTS)) {
        flags |= O_CREAT;
    } else if ((flags & O_ACCMODE) != O_RDONLY) {
        flags |= O_APPEND;
    }
    return open_path(addr, access, flags, errp);
}

static QIOChannel *create_open(QiocEndpoint *ep, QiocAccess *access,
                               QIOChannel *peer, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    int flags =
        file_flags(addr, QIOC_ACCESS_WRITE, O_WRONLY | O_CREAT | O_TRUNC);

    if (addr->o.append) {
        flags &= ~O_TRUNC;
    }
    return open_path(addr, access, flags, errp);
}

/*
 * Create the FIFO unless it exists; then the file-system options.
 * *@created says whether qioc made it.
 */
static gboolean make_fifo(const QiocAddress *addr, gboolean *created,
                          GError **errp)
{
    const char *path = addr->params[0];
    mode_t old = qioc_umask_push(addr);
    int rc = mkfifo(path, create_mode(addr));
    int err = errno;

    qioc_umask_pop(addr, old);
    if (rc < 0 && err != EEXIST) {
        qioc_error_errno(errp, err, "mkfifo %s", path);
        return FALSE;
    }
    *created = rc == 0;
    return qioc_set_file_attrs(addr, path, *created, errp);
}

static int open_fifo_fd(const char *path, int flags, GError **errp)
{
    int fd = open(path, flags | O_NOCTTY | O_CLOEXEC);

    if (fd < 0) {
        qioc_error_errno(errp, errno, "open %s", path);
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
/*
 * A FIFO qioc created is removed at the end of the connection, as socat
 * does (file_finish), or at once if the open failed; unlink-close=0
 * keeps it. One that existed stays, unlink-close or not, as in socat.
 */
static void fifo_done(const QiocAddress *addr, gboolean created,
                      QIOChannel *ioc, GError *err, QiocOpenDone *done,
                      gpointer data)
{
    const char *path = addr->params[0];

    if (created && addr->o.unlink_close != 0) {
        if (ioc) {
            unlink_at_close(ioc, path);
        } else {
            unlink(path);
        }
    }
    done(ioc, err, data);
}

typedef struct {
    const QiocAddress *addr;
    char *path;
    gboolean created;
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
        qioc_error_errno(&err, errno, "open %s", f->path);
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
    fifo_done(f->addr, f->created, ioc, err, f->done, f->data);
}

/*
 * O_WRONLY waits for a reader, as socat does: what is written then has
 * somewhere to go. (An O_RDWR descriptor would be its own reader, and
 * the data would vanish with it if qioc finished before anyone read.)
 * The wait must not hold up the loop (other clients, signals). If qioc
 * ends first, the thread ends with the process.
 */
static void open_fifo_write(const QiocAddress *addr, gboolean created,
                            QiocOpenDone *done, gpointer data)
{
    QiocFifoOpen *f = g_new0(QiocFifoOpen, 1);
    QIOTask *task;

    *f = (QiocFifoOpen){addr, g_strdup(addr->params[0]), created, -1, done,
                        data};
    task = qio_task_new(NULL, fifo_opened, f, fifo_open_free);
    qio_task_run_in_thread(task, fifo_open_worker, f, NULL, NULL);
}

static void fifo_connect(QiocEndpoint *ep, QIOChannel *peer, QiocOpenDone *done,
                         gpointer data)
{
    const QiocAddress *addr = ep->addr;
    const char *path = addr->params[0];
    GError *err = NULL;
    QIOChannel *ioc = NULL;
    gboolean created = FALSE;
    int fd;

    if (!make_fifo(addr, &created, &err)) {
        fifo_done(addr, created, NULL, err, done, data);
        return;
    }
    switch (ep->need) {
    case QIOC_ACCESS_WRITE:
        qioc_log_address(2, addr->index, addr->text,
                         "waiting for a reader of %s", path);
        open_fifo_write(addr, created, done, data);
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
    fifo_done(addr, created, ioc, err, done, data);
}

static QIOChannel *pipe_open(QiocEndpoint *ep, QiocAccess *access,
                             QIOChannel *peer, GError **errp)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) < 0) {
        qioc_error_errno(errp, errno, "pipe");
        return NULL;
    }
    /* An echo: what qioc writes into the pipe comes back out of it. */
    return QIO_CHANNEL(qio_channel_file_new_fd_pair(fds[0], fds[1]));
}

/* ---------------------------------------------------------------- types */

static gboolean is_socket_path(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* GOPEN of a unix socket connects, without blocking, like UNIX-CONNECT. */
static const QiocAddrDesc *gopen_choose(const QiocEndpoint *ep)
{
    return is_socket_path(ep->addr->params[0]) ? &qioc_addr_unix_connect
                                               : ep->desc;
}

/*
 * A named FIFO opens like a connecting type: written only, it waits for a
 * reader as socat's does, and that wait is an open(2) that blocks, so it
 * happens off the loop.
 */
static const QiocAddrDesc fifo_desc = {.kind = QIOC_ADDR_PIPE,
                                       .connect = fifo_connect};

static const QiocAddrDesc *pipe_choose(const QiocEndpoint *ep)
{
    return ep->addr->nparams > 0 ? &fifo_desc : ep->desc;
}

static const QiocAddrType pipe_types[] = {
    {"PIPE", QIOC_NAMES("ECHO", "FIFO"), QIOC_ADDR_PIPE, AF_UNSPEC, 0, 1,
     QIOC_OPTGRP_ALL | QIOC_OPTGRP_FSPERM, "[PATH]",
     "an unnamed pipe that echoes, or the named FIFO PATH"},
};

static const QiocAddrType file_types[] = {
    {"FILE", QIOC_NAMES("OPEN"), QIOC_ADDR_FILE, AF_UNSPEC, 1, 1,
     QIOC_T_FILE | QIOC_OPTGRP_READEOF | QIOC_T_TTY, "PATH",
     "an existing file or device"},
};

static const QiocAddrType gopen_types[] = {
    {"GOPEN", NULL, QIOC_ADDR_GOPEN, AF_UNSPEC, 1, 1,
     QIOC_T_FILE | QIOC_OPTGRP_READEOF | QIOC_OPTGRP_FDPASS |
         QIOC_OPTGRP_CONNECT | QIOC_T_TTY,
     "PATH",
     "a unix socket at PATH is connected, a file appended to or created"},
};

static const QiocAddrType create_types[] = {
    {"CREATE", QIOC_NAMES("CREAT"), QIOC_ADDR_CREATE, AF_UNSPEC, 1, 1,
     QIOC_T_FILE, "PATH", "create or truncate PATH for writing"},
};

const QiocAddrDesc qioc_addr_pipe = {.kind = QIOC_ADDR_PIPE,
                                     QIOC_ADDR_TYPES(pipe_types),
                                     .choose = pipe_choose,
                                     .open = pipe_open,
                                     .finish = file_finish};

const QiocAddrDesc qioc_addr_file = {.kind = QIOC_ADDR_FILE,
                                     QIOC_ADDR_TYPES(file_types),
                                     .open = file_open,
                                     .finish = file_finish};

const QiocAddrDesc qioc_addr_gopen = {.kind = QIOC_ADDR_GOPEN,
                                      QIOC_ADDR_TYPES(gopen_types),
                                      .choose = gopen_choose,
                                      .open = gopen_open,
                                      .finish = file_finish};

const QiocAddrDesc qioc_addr_create = {.kind = QIOC_ADDR_CREATE,
                                       QIOC_ADDR_TYPES(create_types),
                                       .open = create_open,
                                       .finish = file_finish};
