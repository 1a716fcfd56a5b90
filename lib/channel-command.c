/*
 * libqio - a child process's standard input and output as a channel
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include <fcntl.h>
#include <glib-unix.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "qio/channel-command.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

/* After SIGKILL only a child stuck in the kernel lasts; don't wait long. */
#define KILL_WAIT_MS 2000
/* Without pidfd_open(2), how often (at most) to look for the exit. */
#define REAP_POLL_MAX_MS 50

struct _QIOChannelCommand {
    QIOChannel parent_instance;

    /*
     * Guards every field below. Never held across a call that can block:
     * close() waits for the child with the lock released, so shutdown and
     * the getters stay quick from other threads.
     */
    GMutex lock;
    QIOChannelCommandLink link;
    /* Reads the child's output, writes its input: one descriptor but pipes */
    QIOFdPair fds;
    bool at_line_start; /* pty: the last byte written was '\n' */

    GPid pid;
    bool group;  /* the child leads a process group */
    bool reaped; /* waited for, detached, or found gone */
    bool status_known;
    int wait_status;
    bool output_dropped; /* our read side was shut or closed */
    bool hung_up;        /* we closed a pty the child still held */
    gint tty_closed;     /* the pty's master read the slave's last close */
    bool stopped;        /* see qio_channel_command_was_stopped() */
    unsigned grace_ms;
    bool signal_on_close;
};

G_DEFINE_FINAL_TYPE(QIOChannelCommand, qio_channel_command, QIO_TYPE_CHANNEL)

static const QIOFdPairKind command_kind = {
    .name = "command",
    .no_read = "the command channel was opened write-only",
    .no_write = "the command channel was opened read-only",
};

/* ---------------------------------------------------------------- reaping */

/*
 * One waitpid(WNOHANG) on our child only, so that children of other parts
 * of the program (g_child_watch_add() included) are never reaped here.
 * Called locked. Returns whether the child is gone.
 */
static bool cmd_reap_locked(QIOChannelCommand *cioc)
{
    int status = 0;
    pid_t ret;

    if (cioc->reaped) {
        return true;
    }
    do {
        ret = waitpid(cioc->pid, &status, WNOHANG);
    } while (ret < 0 && errno == EINTR);
    if (ret == 0) {
        return false;
    }
    /* ret < 0 (ECHILD): reaped elsewhere, e.g. SIGCHLD set to SIG_IGN */
    cioc->reaped = true;
    if (ret == cioc->pid) {
        cioc->status_known = true;
        cioc->wait_status = status;
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE &&
            cioc->output_dropped) {
            cioc->stopped = true;
        }
        /*
         * Its terminal taken away, a child ends as it will: EIO on its
         * next read ("cat: -: Input/output error", status 1), SIGHUP, or
         * the SIGTERM that follows. Whichever comes first, qioc ended it.
         */
        if (cioc->hung_up) {
            cioc->stopped = true;
        }
    }
    return true;
}

static bool cmd_reap(QIOChannelCommand *cioc)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cioc->lock);

    return cmd_reap_locked(cioc);
}

/* A descriptor that polls readable once the child exits, or -1. */
static int cmd_pidfd_open(GPid pid)
{
#ifdef SYS_pidfd_open
    /* Always close-on-exec. ENOSYS on old kernels and under valgrind. */
    return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
#else
    return -1;
#endif
}

/* Wait up to @ms for the child to exit. Returns whether it is reaped. */
static bool cmd_wait_exit(QIOChannelCommand *cioc, int pidfd, unsigned ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
    gint64 step_us = 1000;

    for (;;) {
        gint64 left;

        if (cmd_reap(cioc)) {
            return true;
        }
        left = deadline - g_get_monotonic_time();
        if (left <= 0) {
            return false;
        }
        if (pidfd >= 0) {
            struct pollfd pfd = {.fd = pidfd, .events = POLLIN};

            poll(&pfd, 1, (int)((left + 999) / 1000));
            continue;
        }
        /* No pidfd: look again at growing intervals, no SIGCHLD needed */
        g_usleep((gulong)MIN(step_us, left));
        step_us = MIN(step_us * 2, REAP_POLL_MAX_MS * 1000);
    }
}

/* Signal the child (and its group when it leads one) unless reaped. */
static void cmd_signal(QIOChannelCommand *cioc, int sig)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cioc->lock);

    /* Still unreaped, so the pid cannot have been reused. */
    if (cioc->reaped) {
        return;
    }
    if (!cioc->group || kill(-cioc->pid, sig) < 0) {
        kill(cioc->pid, sig);
    }
    cioc->stopped = true;
}

static void cmd_detached_exit(GPid pid, gint status, gpointer data)
{
    g_spawn_close_pid(pid);
}

/* Leave the child running; GLib reaps it when it exits. */
static void cmd_detach(QIOChannelCommand *cioc)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cioc->lock);

    if (!cioc->reaped) {
        cioc->reaped = true;
        g_child_watch_add(cioc->pid, cmd_detached_exit, NULL);
    }
}

/* SIGTERM, then SIGKILL, each followed by a bounded wait. */
static void cmd_terminate(QIOChannelCommand *cioc, int pidfd, unsigned grace)
{
    cmd_signal(cioc, SIGTERM);
    if (cmd_wait_exit(cioc, pidfd, grace)) {
        return;
    }
    cmd_signal(cioc, SIGKILL);
    if (!cmd_wait_exit(cioc, pidfd, KILL_WAIT_MS)) {
        cmd_detach(cioc);
    }
}

/* A pty child that has not closed its terminal (the master saw no EIO). */
static bool cmd_pty_held(QIOChannelCommand *cioc)
{
    return cioc->link == QIO_CHANNEL_COMMAND_PTY &&
           !g_atomic_int_get(&cioc->tty_closed);
}

/* After our descriptors are closed: see the child out, in bounded time. */
static void cmd_end_child(QIOChannelCommand *cioc)
{
    unsigned grace;
    bool may_signal;
    int pidfd;

    g_mutex_lock(&cioc->lock);
    grace = cioc->grace_ms;
    may_signal = cioc->signal_on_close;
    g_mutex_unlock(&cioc->lock);

    if (cmd_reap(cioc)) {
        return;
    }
    pidfd = cmd_pidfd_open(cioc->pid);
    /*
     * A pty has no end-of-file to give: a child that still holds its
     * terminal has nothing to wait for but a signal; one that closed it
     * is on its way out.
     */
    if (!cmd_wait_exit(cioc, pidfd,
                       cmd_pty_held(cioc) && may_signal ? 0 : grace)) {
        if (may_signal) {
            cmd_terminate(cioc, pidfd, grace);
        } else {
            cmd_detach(cioc);
        }
    }
    if (pidfd >= 0) {
        close(pidfd);
    }
}

/* ---------------------------------------------------------------- I/O */

static ssize_t command_readv(QIOChannel *ioc, const struct iovec *iov,
                             size_t niov, int **fds, size_t *nfds, int flags,
                             GError **errp)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);
    bool eof = false;
    ssize_t ret;
    int fd;

    fd = qio__fd_pair_read_fd(&cioc->fds, fds != NULL, flags, &eof, errp);
    if (fd < 0) {
        return eof ? 0 : -1;
    }
    ret = qio__fd_readv(fd, iov, niov);
    /* A pty master reads EIO once the child's side is closed: that is EOF */
    if (ret < 0 && errno == EIO && cioc->link == QIO_CHANNEL_COMMAND_PTY) {
        g_atomic_int_set(&cioc->tty_closed, 1);
        return 0;
    }
    return qio__fd_io_result(ret, "read", errp);
}

/*
 * writev() that cannot raise SIGPIPE: block it in this thread for the
 * call, and consume the one the call raised. A SIGPIPE that was already
 * pending is someone else's and stays.
 */
static ssize_t cmd_writev_nosigpipe(int fd, const struct iovec *iov, int niov)
{
    sigset_t pipeset;
    sigset_t oldset;
    sigset_t pending;
    bool was_pending;
    ssize_t ret;
    int saved;

    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, &oldset);
    was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    do {
        ret = writev(fd, iov, niov);
    } while (ret < 0 && errno == EINTR);
    saved = errno;
    if (ret < 0 && saved == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};

        while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR) {
            ;
        }
    }
    pthread_sigmask(SIG_SETMASK, &oldset, NULL);
    errno = saved;
    return ret;
}

static ssize_t cmd_write_fd(QIOChannelCommandLink link, int fd,
                            const struct iovec *iov, size_t niov)
{
    int n = (int)MIN(niov, IOV_MAX);
    ssize_t ret;

    if (link == QIO_CHANNEL_COMMAND_SOCKETPAIR) {
        struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = n};

        do {
            ret = sendmsg(fd, &msg, MSG_NOSIGNAL);
        } while (ret < 0 && errno == EINTR);
        return ret;
    }
    ret = cmd_writev_nosigpipe(fd, iov, n);
    /* A pty master whose other side is gone reports EIO */
    if (ret < 0 && errno == EIO && link == QIO_CHANNEL_COMMAND_PTY) {
        errno = EPIPE;
    }
    return ret;
}

/* The byte at offset @off of the data in @iov. */
static char cmd_iov_byte(const struct iovec *iov, size_t niov, size_t off)
{
    for (size_t i = 0; i < niov; i++) {
        if (off < iov[i].iov_len) {
            return ((const char *)iov[i].iov_base)[off];
        }
        off -= iov[i].iov_len;
    }
    return '\0';
}

static ssize_t command_writev(QIOChannel *ioc, const struct iovec *iov,
                              size_t niov, int *fds, size_t nfds, int flags,
                              GError **errp)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);
    int fd = qio__fd_pair_write_fd(&cioc->fds, nfds != 0, flags, errp);
    ssize_t ret;

    if (fd < 0) {
        return -1;
    }
    ret = qio__fd_io_result(cmd_write_fd(cioc->link, fd, iov, niov), "write",
                            errp);
    if (ret > 0 && cioc->link == QIO_CHANNEL_COMMAND_PTY) {
        g_mutex_lock(&cioc->lock);
        cioc->at_line_start = cmd_iov_byte(iov, niov, ret - 1) == '\n';
        g_mutex_unlock(&cioc->lock);
    }
    return ret;
}

/* ---------------------------------------------------------------- state */

static int command_set_blocking(QIOChannel *ioc, bool enabled, GError **errp)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);

    return qio__fd_pair_set_blocking(&cioc->fds, enabled, errp);
}

/*
 * A terminal has no half-close: send its end-of-file character, which a
 * reader in canonical mode gets as end-of-file at the start of a line (a
 * second one ends a partial line first). Never blocks: with no room in
 * the terminal's buffer the child is not reading anyway. Called locked.
 */
static void cmd_pty_send_eof_locked(QIOChannelCommand *cioc)
{
    struct pollfd pfd = {.fd = cioc->fds.writefd, .events = POLLOUT};
    struct termios tio;
    char eof[2];

    if (tcgetattr(cioc->fds.writefd, &tio) < 0 || !(tio.c_lflag & ICANON)) {
        return;
    }
    if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT)) {
        return;
    }
    eof[0] = eof[1] = (char)tio.c_cc[VEOF];
    if (write(cioc->fds.writefd, eof, cioc->at_line_start ? 1 : 2) < 0) {
        return; /* the child is gone: it needs no end-of-file */
    }
}

/* Apply one shutdown request; called locked. */
static void cmd_shut_locked(QIOChannelCommand *cioc, QIOChannelShutdown how)
{
    bool rd;
    bool wr;

    qio__fd_pair_shut_locked(&cioc->fds, how, &rd, &wr);
    cioc->output_dropped |= rd;
    switch (cioc->link) {
    case QIO_CHANNEL_COMMAND_PIPES:
        /* The child sees end-of-file or EPIPE at once */
        qio__fd_pair_release_locked(&cioc->fds, rd, wr);
        break;
    case QIO_CHANNEL_COMMAND_SOCKETPAIR:
        if (rd) {
            shutdown(cioc->fds.readfd, SHUT_RD);
        }
        if (wr) {
            shutdown(cioc->fds.writefd, SHUT_WR);
        }
        break;
    case QIO_CHANNEL_COMMAND_PTY:
        if (wr) {
            cmd_pty_send_eof_locked(cioc);
        }
        break;
    }
}

static int command_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                            GError **errp)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&cioc->lock);

    if (!qio__fd_pair_check_open_locked(&cioc->fds, "shutdown", errp)) {
        return -1;
    }
    cmd_shut_locked(cioc, how);
    return 0;
}

static int command_close(QIOChannel *ioc, GError **errp)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);
    int fds[2];
    int ret;

    g_mutex_lock(&cioc->lock);
    if (cioc->fds.closed) {
        g_mutex_unlock(&cioc->lock);
        return 0;
    }
    cioc->output_dropped |= cioc->fds.readfd >= 0;
    /* reaped here, a child that ended before was not hung up on */
    cioc->hung_up = cioc->link == QIO_CHANNEL_COMMAND_PTY &&
                    !cmd_reap_locked(cioc) &&
                    !g_atomic_int_get(&cioc->tty_closed);
    qio__fd_pair_take_locked(&cioc->fds, fds);
    g_mutex_unlock(&cioc->lock);

    ret = qio__fd_pair_close(fds, errp);
    cmd_end_child(cioc);
    return ret;
}

/* ---------------------------------------------------------------- watch */

static GSource *command_create_watch(QIOChannel *ioc, GIOCondition condition)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);

    return qio__fd_pair_create_watch(ioc, &cioc->fds, condition);
}

/* ---------------------------------------------------------------- type */

static void qio_channel_command_finalize(GObject *obj)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(obj);

    command_close(QIO_CHANNEL(cioc), NULL);
    g_mutex_clear(&cioc->lock);
    G_OBJECT_CLASS(qio_channel_command_parent_class)->finalize(obj);
}

static void qio_channel_command_class_init(QIOChannelCommandClass *klass)
{
    GObjectClass *oclass = G_OBJECT_CLASS(klass);
    QIOChannelClass *cclass = QIO_CHANNEL_CLASS(klass);

    oclass->finalize = qio_channel_command_finalize;
    cclass->io_writev = command_writev;
    cclass->io_readv = command_readv;
    cclass->io_close = command_close;
    cclass->io_create_watch = command_create_watch;
    cclass->io_set_blocking = command_set_blocking;
    cclass->io_shutdown = command_shutdown;
}

static void qio_channel_command_init(QIOChannelCommand *cioc)
{
    g_mutex_init(&cioc->lock);
    qio__fd_pair_init(&cioc->fds, &cioc->lock, &command_kind);
    cioc->at_line_start = true;
    cioc->grace_ms = QIO_CHANNEL_COMMAND_GRACE_MS_DEFAULT;
    cioc->signal_on_close = true;
}

static QIOChannelCommand *cmd_new(QIOChannelCommandLink link, int readfd,
                                  int writefd, GPid pid)
{
    QIOChannelCommand *cioc = g_object_new(QIO_TYPE_CHANNEL_COMMAND, NULL);

    cioc->link = link;
    cioc->fds.readfd = readfd;
    cioc->fds.writefd = writefd;
    cioc->pid = pid;
    qio_channel_set_feature(QIO_CHANNEL(cioc), QIO_CHANNEL_FEATURE_SHUTDOWN);
    return cioc;
}

/* ---------------------------------------------------------------- spawn */

/* Both ends of the connection to the child; -1 where unused. */
typedef struct {
    QIOChannelCommandLink link;
    int ours_read;  /* we read the child's output here */
    int ours_write; /* we write its input here */
    int child_in;   /* it reads its input here */
    int child_out;  /* it writes its output here */
} CmdLink;

#define CMD_LINK_INIT                                                          \
    {                                                                          \
        .ours_read = -1, .ours_write = -1, .child_in = -1, .child_out = -1     \
    }

static void cmd_close_pair(int *a, int *b)
{
    if (*a >= 0) {
        close(*a);
    }
    if (*b >= 0 && *b != *a) {
        close(*b);
    }
    *a = *b = -1;
}

static bool cmd_make_pipes(CmdLink *l, bool rd, bool wr, GError **errp)
{
    int p[2];

    if (rd) {
        if (pipe2(p, O_CLOEXEC) < 0) {
            qio__error_errno(errp, errno, "pipe");
            return false;
        }
        l->ours_read = p[0];
        l->child_out = p[1];
    }
    if (wr) {
        if (pipe2(p, O_CLOEXEC) < 0) {
            qio__error_errno(errp, errno, "pipe");
            return false;
        }
        l->child_in = p[0];
        l->ours_write = p[1];
    }
    return true;
}

/* One descriptor on each side serves both directions. */
static void cmd_link_shared(CmdLink *l, int ours, int theirs, bool rd, bool wr)
{
    l->ours_read = rd ? ours : -1;
    l->ours_write = wr ? ours : -1;
    l->child_out = rd ? theirs : -1;
    l->child_in = wr ? theirs : -1;
}

static bool cmd_make_socketpair(CmdLink *l, bool rd, bool wr, GError **errp)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        qio__error_errno(errp, errno, "socketpair");
        return false;
    }
    cmd_link_shared(l, sv[0], sv[1], rd, wr);
    return true;
}

static bool cmd_make_pty(CmdLink *l, bool rd, bool wr,
                         const QIOChannelCommandOptions *opts, GError **errp)
{
    char name[128];
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    int slave;

    if (master < 0) {
        qio__error_errno(errp, errno, "open pseudo-terminal");
        return false;
    }
    if (grantpt(master) < 0 || unlockpt(master) < 0 ||
        ptsname_r(master, name, sizeof(name)) != 0) {
        qio__error_errno(errp, errno, "set up pseudo-terminal");
        close(master);
        return false;
    }
    slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        qio__error_errno(errp, errno, "open %s", name);
        close(master);
        return false;
    }
    if (opts->pty_setup &&
        !opts->pty_setup(master, opts->pty_setup_data, errp)) {
        close(slave);
        close(master);
        return false;
    }
    cmd_link_shared(l, master, slave, rd, wr);
    return true;
}

static bool cmd_make_link(CmdLink *l, const QIOChannelCommandOptions *opts,
                          bool rd, bool wr, GError **errp)
{
    bool ok = false;

    l->link = opts->link;
    switch (opts->link) {
    case QIO_CHANNEL_COMMAND_PIPES:
        ok = cmd_make_pipes(l, rd, wr, errp);
        break;
    case QIO_CHANNEL_COMMAND_SOCKETPAIR:
        ok = cmd_make_socketpair(l, rd, wr, errp);
        break;
    case QIO_CHANNEL_COMMAND_PTY:
        ok = cmd_make_pty(l, rd, wr, opts, errp);
        break;
    }
    if (!ok) {
        cmd_close_pair(&l->ours_read, &l->ours_write);
        cmd_close_pair(&l->child_in, &l->child_out);
    }
    return ok;
}

/* Which of the child's descriptors get which of its ends. */
typedef struct {
    int std[3];    /* sources for 0, 1, 2; -1: default */
    int source[3]; /* others, by number */
    int target[3];
    size_t n;
} CmdFdPlan;

static bool cmd_plan_add(CmdFdPlan *plan, int src, int target, GError **errp)
{
    int *slot = NULL;

    if (target <= STDERR_FILENO) {
        slot = &plan->std[target];
    }
    for (size_t i = 0; !slot && i < plan->n; i++) {
        slot = plan->target[i] == target ? &plan->source[i] : NULL;
    }
    if (slot && *slot >= 0 && *slot != src) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "descriptor %d of the child cannot carry both its "
                    "input and its output",
                    target);
        return false;
    }
    if (!slot) {
        g_assert(plan->n < G_N_ELEMENTS(plan->target));
        plan->target[plan->n] = target;
        slot = &plan->source[plan->n++];
    }
    *slot = src;
    return true;
}

static bool cmd_plan_fds(CmdFdPlan *plan, const CmdLink *l,
                         const QIOChannelCommandOptions *opts, GError **errp)
{
    *plan = (CmdFdPlan){.std = {-1, -1, -1}};
    if (l->child_in >= 0 &&
        !cmd_plan_add(plan, l->child_in, opts->child_fdin, errp)) {
        return false;
    }
    if (l->child_out >= 0 &&
        !cmd_plan_add(plan, l->child_out, opts->child_fdout, errp)) {
        return false;
    }
    if (l->child_out >= 0 && opts->merge_stderr &&
        !cmd_plan_add(plan, l->child_out, STDERR_FILENO, errp)) {
        return false;
    }
    return true;
}

/* What the child does between fork and exec (async-signal-safe only). */
typedef struct {
    bool setsid;
    int pgid;    /* -1: unchanged */
    int ctty_fd; /* -1: none */
    const char *chroot_dir;
    int uid; /* -1: unchanged; then gid and groups too */
    gid_t gid;
    gid_t *groups;
    int ngroups;
    char *fail; /* the line the child writes when a change fails */
    void (*hook)(void *data); /* the caller's, last */
    void *hook_data;
} CmdChildSetup;

/* A privilege change failed: the program must not run. */
static void G_GNUC_NORETURN cmd_child_fail(const CmdChildSetup *cs)
{
    ssize_t unused = write(STDERR_FILENO, cs->fail, strlen(cs->fail));

    (void)unused;
    _exit(127);
}

static void cmd_child_privileges(const CmdChildSetup *cs)
{
    if (cs->chroot_dir && (chroot(cs->chroot_dir) < 0 || chdir("/") < 0)) {
        cmd_child_fail(cs);
    }
    if (cs->uid >= 0 && (setgroups((size_t)cs->ngroups, cs->groups) < 0 ||
                         setgid(cs->gid) < 0 || setuid((uid_t)cs->uid) < 0)) {
        cmd_child_fail(cs);
    }
}

static void cmd_child_setup(gpointer data)
{
    const CmdChildSetup *cs = data;
    struct sigaction sa = {.sa_handler = SIG_DFL};
    sigset_t none;

    /* A relay ignores SIGPIPE; `yes | head` in the child must not. */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (cs->setsid) {
        setsid();
    } else if (cs->pgid >= 0) {
        setpgid(0, (pid_t)cs->pgid);
    }
    if (cs->ctty_fd >= 0) {
        ioctl(cs->ctty_fd, TIOCSCTTY, 0);
    }
    cmd_child_privileges(cs);
    if (cs->hook) {
        cs->hook(cs->hook_data);
    }
}

/*
 * The user's group and groups, looked up in the parent: the child may
 * only make async-signal-safe calls.
 */
static bool cmd_setup_privileges(CmdChildSetup *cs,
                                 const QIOChannelCommandOptions *opts,
                                 GError **errp)
{
    struct passwd *pw;

    cs->chroot_dir = opts->chroot_dir;
    cs->uid = opts->uid;
    cs->fail = g_strdup_printf(
        "qio: the child could not change %s%s%s%s; not running it\n",
        opts->chroot_dir ? "its root to " : "",
        opts->chroot_dir ? opts->chroot_dir : "",
        opts->chroot_dir && opts->uid >= 0 ? " and " : "",
        opts->uid >= 0 ? "its user" : "");
    if (opts->uid < 0) {
        return true;
    }
    pw = getpwuid((uid_t)opts->uid);
    if (!pw) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "uid %d: no such user", opts->uid);
        return false;
    }
    cs->gid = pw->pw_gid;
    cs->ngroups = 16;
    cs->groups = g_new(gid_t, cs->ngroups);
    if (getgrouplist(pw->pw_name, pw->pw_gid, cs->groups, &cs->ngroups) < 0) {
        cs->groups = g_renew(gid_t, cs->groups, cs->ngroups);
        getgrouplist(pw->pw_name, pw->pw_gid, cs->groups, &cs->ngroups);
    }
    return true;
}

/* The caller's environment with @changes applied, or NULL for as is. */
static char **cmd_environ(const char *const *changes)
{
    char **env;

    if (!changes || !changes[0]) {
        return NULL;
    }
    env = g_get_environ();
    for (const char *const *c = changes; *c; c++) {
        const char *eq = strchr(*c, '=');

        if (eq) {
            g_autofree char *name = g_strndup(*c, eq - *c);

            env = g_environ_setenv(env, name, eq + 1, TRUE);
        } else {
            env = g_environ_unsetenv(env, *c);
        }
    }
    return env;
}

static int cmd_spawn_errno(int code)
{
    static const struct {
        GSpawnError code;
        int err;
    } map[] = {
        {G_SPAWN_ERROR_NOENT, ENOENT},
        {G_SPAWN_ERROR_ACCES, EACCES},
        {G_SPAWN_ERROR_PERM, EPERM},
        {G_SPAWN_ERROR_NOEXEC, ENOEXEC},
        {G_SPAWN_ERROR_ISDIR, EISDIR},
        {G_SPAWN_ERROR_NOTDIR, ENOTDIR},
        {G_SPAWN_ERROR_LOOP, ELOOP},
        {G_SPAWN_ERROR_TXTBUSY, ETXTBSY},
        {G_SPAWN_ERROR_NOMEM, ENOMEM},
        {G_SPAWN_ERROR_TOO_BIG, E2BIG},
        {G_SPAWN_ERROR_MFILE, EMFILE},
        {G_SPAWN_ERROR_NFILE, ENFILE},
        {G_SPAWN_ERROR_IO, EIO},
        {G_SPAWN_ERROR_INVAL, EINVAL},
        {G_SPAWN_ERROR_LIBBAD, ELIBBAD},
        {G_SPAWN_ERROR_NAMETOOLONG, ENAMETOOLONG},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
        if ((int)map[i].code == code) {
            return map[i].err;
        }
    }
    return 0;
}

/*
 * GLib reports a full descriptor table met while making its own pipes as
 * a bare G_UNIX_ERROR; a probe tells whether that is what happened, so
 * that callers see G_IO_ERROR_TOO_MANY_OPEN_FILES as for every other
 * descriptor that could not be had.
 */
static int cmd_unix_errno(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == EMFILE || errno == ENFILE ? errno : 0;
}

/* "failed to run PROG: <reason>", in G_IO_ERROR where the reason is. */
static void cmd_spawn_error(GError **errp, const char *prog, GError *err)
{
    int e = err->domain == G_SPAWN_ERROR  ? cmd_spawn_errno(err->code)
            : err->domain == G_UNIX_ERROR ? cmd_unix_errno()
                                          : 0;

    if (e) {
        qio__error_errno(errp, e, "failed to run %s", prog);
    } else {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED, "failed to run %s: %s",
                    prog, err->message);
    }
    g_error_free(err);
}

static GSpawnFlags cmd_spawn_flags(const CmdFdPlan *plan,
                                   const QIOChannelCommandOptions *opts)
{
    GSpawnFlags flags = G_SPAWN_DO_NOT_REAP_CHILD;

    if (opts->search_path) {
        flags |= G_SPAWN_SEARCH_PATH;
    }
    if (plan->std[STDIN_FILENO] < 0 && opts->inherit_unused) {
        flags |= G_SPAWN_CHILD_INHERITS_STDIN;
    }
    if (plan->std[STDOUT_FILENO] < 0 && !opts->inherit_unused) {
        flags |= G_SPAWN_STDOUT_TO_DEV_NULL;
    }
    return flags;
}

static bool cmd_spawn(const char *const argv[], const CmdLink *l,
                      const QIOChannelCommandOptions *opts, GPid *pid,
                      GError **errp)
{
    g_auto(GStrv) env = cmd_environ(opts->env);
    CmdChildSetup setup = {.setsid = opts->setsid || opts->ctty,
                           .pgid = opts->pgid,
                           .ctty_fd = -1,
                           .hook = opts->child_setup,
                           .hook_data = opts->child_setup_data};
    g_autofree gid_t *groups = NULL;
    g_autofree char *fail = NULL;
    GError *err = NULL;
    CmdFdPlan plan;
    bool ok;

    ok = cmd_setup_privileges(&setup, opts, errp);
    groups = setup.groups;
    fail = setup.fail;
    if (!ok || !cmd_plan_fds(&plan, l, opts, errp)) {
        return false;
    }
    if (opts->ctty) {
        setup.ctty_fd = l->child_in >= 0 ? opts->child_fdin : opts->child_fdout;
    }
    if (!g_spawn_async_with_pipes_and_fds(
            opts->cwd, (const gchar *const *)argv, (const gchar *const *)env,
            cmd_spawn_flags(&plan, opts), cmd_child_setup, &setup, plan.std[0],
            plan.std[1], plan.std[2], plan.source, plan.target, plan.n, pid,
            NULL, NULL, NULL, &err)) {
        cmd_spawn_error(errp, argv[0], err);
        return false;
    }
    return true;
}

static bool cmd_check_options(const QIOChannelCommandOptions *opts,
                              GError **errp)
{
    const char *why = NULL;

    if (opts->child_fdin < 0 || opts->child_fdout < 0) {
        why = "child descriptor numbers must not be negative";
    } else if (opts->ctty && opts->link != QIO_CHANNEL_COMMAND_PTY) {
        why = "a controlling terminal needs a pseudo-terminal";
    }
    for (const char *const *e = opts->env; !why && e && *e; e++) {
        why =
            (*e)[0] == '\0' || (*e)[0] == '=' ? "empty environment name" : NULL;
    }
    if (why) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, why);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- public */

QIOChannelCommand *
qio_channel_command_new_spawn_full(const char *const argv[], int flags,
                                   const QIOChannelCommandOptions *opts,
                                   GError **errp)
{
    QIOChannelCommandOptions defaults = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    CmdLink link = CMD_LINK_INIT;
    int mode = flags & O_ACCMODE;
    bool rd = mode != O_WRONLY;
    bool wr = mode != O_RDONLY;
    QIOChannelCommand *cioc;
    GPid pid = 0;
    bool ok;

    g_return_val_if_fail(argv != NULL && argv[0] != NULL, NULL);

    opts = opts ? opts : &defaults;
    if (!cmd_check_options(opts, errp) ||
        !cmd_make_link(&link, opts, rd, wr, errp)) {
        return NULL;
    }
    ok = cmd_spawn(argv, &link, opts, &pid, errp);
    cmd_close_pair(&link.child_in, &link.child_out);
    if (!ok) {
        cmd_close_pair(&link.ours_read, &link.ours_write);
        return NULL;
    }
    cioc = cmd_new(opts->link, link.ours_read, link.ours_write, pid);
    cioc->group = opts->setsid || opts->ctty;
    cioc->grace_ms = opts->grace_ms;
    cioc->signal_on_close = opts->signal_on_close;
    return cioc;
}

QIOChannelCommand *qio_channel_command_new_spawn(const char *const argv[],
                                                 int flags, GError **errp)
{
    return qio_channel_command_new_spawn_full(argv, flags, NULL, errp);
}

QIOChannelCommand *qio_channel_command_new_pid(int writefd, int readfd,
                                               GPid pid)
{
    QIOChannelCommandLink link = QIO_CHANNEL_COMMAND_PIPES;

    g_return_val_if_fail(pid > 0, NULL);
    g_return_val_if_fail(writefd >= -1 && readfd >= -1, NULL);
    g_return_val_if_fail(writefd >= 0 || readfd >= 0, NULL);

    if (writefd == readfd) {
        link = isatty(readfd) ? QIO_CHANNEL_COMMAND_PTY
                              : QIO_CHANNEL_COMMAND_SOCKETPAIR;
    }
    return cmd_new(link, readfd, writefd, pid);
}

GPid qio_channel_command_get_pid(QIOChannelCommand *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_COMMAND(ioc), 0);

    return ioc->pid;
}

void qio_channel_command_set_grace(QIOChannelCommand *ioc, unsigned grace_ms)
{
    g_return_if_fail(QIO_IS_CHANNEL_COMMAND(ioc));

    g_mutex_lock(&ioc->lock);
    ioc->grace_ms = grace_ms;
    g_mutex_unlock(&ioc->lock);
}

void qio_channel_command_set_signal_on_close(QIOChannelCommand *ioc,
                                             bool enabled)
{
    g_return_if_fail(QIO_IS_CHANNEL_COMMAND(ioc));

    g_mutex_lock(&ioc->lock);
    ioc->signal_on_close = enabled;
    g_mutex_unlock(&ioc->lock);
}

gboolean qio_channel_command_get_exit_status(QIOChannelCommand *ioc,
                                             int *wait_status)
{
    g_autoptr(GMutexLocker) locker = NULL;

    g_return_val_if_fail(QIO_IS_CHANNEL_COMMAND(ioc), FALSE);

    locker = g_mutex_locker_new(&ioc->lock);
    cmd_reap_locked(ioc);
    if (ioc->status_known && wait_status) {
        *wait_status = ioc->wait_status;
    }
    return ioc->status_known;
}

gboolean qio_channel_command_was_stopped(QIOChannelCommand *ioc)
{
    g_autoptr(GMutexLocker) locker = NULL;

    g_return_val_if_fail(QIO_IS_CHANNEL_COMMAND(ioc), FALSE);

    locker = g_mutex_locker_new(&ioc->lock);
    return ioc->stopped;
}
