/*
 * qioc - socat's locking options: flock-*, setlk*, lockfile=, waitlock=
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every lock is tried without blocking. The "-nb" and setlk forms fail at
 * once when another holds the lock; the waiting forms (flock-ex, flock-sh,
 * setlkw, setlkw-rd, waitlock=) report QIOC_LOCK_ERROR_WAIT and the
 * address is opened again from a timer. socat blocks in the call instead,
 * which is harmless in its forked child and would stop every connection of
 * qioc's one loop; worse, a second connection waiting for a lock that the
 * first one holds would never let the first one finish.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lock.h"
#include "log.h"
#include "splice.h"

G_DEFINE_QUARK(qioc - lock - error - quark, qioc_lock_error)

typedef enum {
    LOCK_FLOCK,
    LOCK_FCNTL,
} LockKind;

/* The descriptor locks, one row per option. */
static const struct {
    const char *name;
    gsize offset; /* of its flag in QiocAddrOpts */
    LockKind kind;
    int how; /* flock: LOCK_EX/LOCK_SH; fcntl: F_WRLCK/F_RDLCK */
    gboolean wait;
} fd_locks[] = {
    {"flock-ex", G_STRUCT_OFFSET(QiocAddrOpts, flock_ex), LOCK_FLOCK, LOCK_EX,
     TRUE},
    {"flock-ex-nb", G_STRUCT_OFFSET(QiocAddrOpts, flock_ex_nb), LOCK_FLOCK,
     LOCK_EX, FALSE},
    {"flock-sh", G_STRUCT_OFFSET(QiocAddrOpts, flock_sh), LOCK_FLOCK, LOCK_SH,
     TRUE},
    {"flock-sh-nb", G_STRUCT_OFFSET(QiocAddrOpts, flock_sh_nb), LOCK_FLOCK,
     LOCK_SH, FALSE},
    {"setlk", G_STRUCT_OFFSET(QiocAddrOpts, setlk), LOCK_FCNTL, F_WRLCK, FALSE},
    {"setlkw", G_STRUCT_OFFSET(QiocAddrOpts, setlkw), LOCK_FCNTL, F_WRLCK,
     TRUE},
    {"setlk-rd", G_STRUCT_OFFSET(QiocAddrOpts, setlk_rd), LOCK_FCNTL, F_RDLCK,
     FALSE},
    {"setlkw-rd", G_STRUCT_OFFSET(QiocAddrOpts, setlkw_rd), LOCK_FCNTL, F_RDLCK,
     TRUE},
};

static gboolean lock_flag(const QiocAddress *addr, guint i)
{
    return G_STRUCT_MEMBER(gboolean, &addr->o, fd_locks[i].offset);
}

gboolean qioc_lock_wanted(const QiocAddress *addr)
{
    for (guint i = 0; i < G_N_ELEMENTS(fd_locks); i++) {
        if (lock_flag(addr, i)) {
            return TRUE;
        }
    }
    return addr->o.lockfile || addr->o.waitlock;
}

/* ---------------------------------------------------------------- files */

struct QiocLockToken {
    char *path;
};

void qioc_lock_token_free(QiocLockToken *token)
{
    if (!token) {
        return;
    }
    unlink(token->path);
    g_free(token->path);
    g_free(token);
}

void qioc_lock_token_attach(QiocLockToken *token, QIOChannel *ioc)
{
    if (token) {
        g_object_set_data_full(G_OBJECT(ioc), "qioc-lock-file", token,
                               (GDestroyNotify)qioc_lock_token_free);
    }
}

QiocLockToken *qioc_lock_file_take(const QiocAddress *addr, GError **errp)
{
    const char *path = addr->o.lockfile ? addr->o.lockfile : addr->o.waitlock;
    QiocLockToken *token;
    int fd;

    if (!path) {
        return NULL;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST && !addr->o.lockfile) {
        g_set_error(errp, QIOC_LOCK_ERROR, QIOC_LOCK_ERROR_WAIT,
                    "waitlock=%s: the lock file exists; waiting", path);
        return NULL;
    }
    if (fd < 0) {
        qioc_error_errno(errp, errno, "%s=%s",
                         addr->o.lockfile ? "lockfile" : "waitlock", path);
        return NULL;
    }
    /* socat writes its pid: who holds the lock, for whoever looks. */
    {
        g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());

        if (write(fd, pid, strlen(pid)) < 0) {
            /* the file is the lock; its content is a courtesy */
        }
    }
    close(fd);
    token = g_new0(QiocLockToken, 1);
    token->path = g_strdup(path);
    return token;
}

/* ---------------------------------------------------------------- fds */

/* One lock on @fd: 0, or the errno of the failure. */
static int lock_one(guint i, int fd)
{
    if (fd_locks[i].kind == LOCK_FLOCK) {
        return flock(fd, fd_locks[i].how | LOCK_NB) < 0 ? errno : 0;
    }
    struct flock fl = {.l_type = (short)fd_locks[i].how, .l_whence = SEEK_SET};

    return fcntl(fd, F_SETLK, &fl) < 0 ? errno : 0;
}

static gboolean lock_fd(const QiocAddress *addr, guint i, int fd, GError **errp)
{
    int err = lock_one(i, fd);

    if (err == 0) {
        qioc_log_address(1, addr->index, addr->text, "%s on descriptor %d",
                         fd_locks[i].name, fd);
        return TRUE;
    }
    if ((err == EWOULDBLOCK || err == EAGAIN || err == EACCES) &&
        fd_locks[i].wait) {
        g_set_error(errp, QIOC_LOCK_ERROR, QIOC_LOCK_ERROR_WAIT,
                    "%s: another process holds the lock; waiting",
                    fd_locks[i].name);
        return FALSE;
    }
    if (err == EWOULDBLOCK || err == EAGAIN || err == EACCES) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_BUSY,
                    "%s: another process holds the lock", fd_locks[i].name);
        return FALSE;
    }
    qioc_error_errno(errp, err, "%s on descriptor %d", fd_locks[i].name, fd);
    return FALSE;
}

gboolean qioc_lock_descriptors(const QiocAddress *addr, QIOChannel *ioc,
                               QiocAccess access, GError **errp)
{
    int rfd = access & QIOC_ACCESS_READ ? qioc_channel_fd(ioc, TRUE) : -1;
    int wfd = access & QIOC_ACCESS_WRITE ? qioc_channel_fd(ioc, FALSE) : -1;

    for (guint i = 0; i < G_N_ELEMENTS(fd_locks); i++) {
        if (!lock_flag(addr, i)) {
            continue;
        }
        if (rfd < 0 && wfd < 0) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                        "%s: no descriptor of its own to lock",
                        fd_locks[i].name);
            return FALSE;
        }
        if ((rfd >= 0 && !lock_fd(addr, i, rfd, errp)) ||
            (wfd >= 0 && wfd != rfd && !lock_fd(addr, i, wfd, errp))) {
            return FALSE;
        }
    }
    return TRUE;
}
