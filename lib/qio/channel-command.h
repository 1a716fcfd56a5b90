/*
 * libqio - a child process's standard input and output as a channel
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_CHANNEL_COMMAND_H
#define QIO_CHANNEL_COMMAND_H

#include <fcntl.h>
#include <stdbool.h>
#include <sys/types.h>

#include "qio/channel.h"

G_BEGIN_DECLS

/**
 * QIOChannelCommand:
 *
 * A #QIOChannelCommand runs a program and connects to it: what is written
 * to the channel is what the child reads on its standard input, and what
 * the child writes on its standard output is what the channel reads. The
 * connection is a pair of pipes (the default), a socket pair, or a new
 * pseudo-terminal. A channel may also be one-way: opened %O_RDONLY it only
 * reads the child's output, opened %O_WRONLY it only feeds its input;
 * asking it for the other direction is an error
 * (%QIO_CHANNEL_ERROR_NOT_SUPPORTED).
 *
 * The channel supports %QIO_CHANNEL_FEATURE_SHUTDOWN. Shutting the write
 * direction makes the child read end-of-file (on a pseudo-terminal, the
 * terminal's end-of-file character is sent, which a child in canonical
 * mode reads as end-of-file); shutting the read direction stops reading
 * its output, so that a child writing more gets %EPIPE or %SIGPIPE (on a
 * pseudo-terminal nothing tells the child: its output is simply no longer
 * read, and a watch for %G_IO_IN still waits for the child's output or
 * its end). As with #QIOChannelFile, the descriptor numbers stay valid until
 * the channel is closed. After shutdown a read returns 0 (end-of-file) and
 * a write fails with %G_IO_ERROR_BROKEN_PIPE.
 *
 * Writing never raises %SIGPIPE in the calling process, whatever its
 * signal disposition: a write to a child that no longer reads fails with
 * %G_IO_ERROR_BROKEN_PIPE. The child itself starts with %SIGPIPE at its
 * default action and no blocked signals, even if the caller ignores or
 * blocks them.
 *
 * Closing the channel never hangs on the child. qio_channel_close() closes
 * the channel's descriptors (the child sees end-of-file on its input and
 * %EPIPE on its output), waits up to the grace period (default
 * %QIO_CHANNEL_COMMAND_GRACE_MS_DEFAULT) for the child to exit, then sends
 * %SIGTERM, waits the grace period again, then sends %SIGKILL, and reaps
 * the child. A child on a pseudo-terminal (%QIO_CHANNEL_COMMAND_PTY) that
 * still holds its terminal when the channel closes gets %SIGTERM at once,
 * as socat gives it: a terminal has no end-of-file to tell it that the
 * input ended, so the first wait would only delay it. A child
 * running in a session of its own (@setsid) is signalled together with its
 * process group. Afterwards qio_channel_command_get_exit_status() tells how it
 * ended. Dropping the last reference of an open channel closes it the same way.
 *
 * The channel reaps its own child with waitpid() on that one process ID:
 * it installs no %SIGCHLD handler and never reaps other children, so it
 * coexists with g_child_watch_add() on other processes. Do not add a child
 * watch for the channel's own child, and never signal the process ID once
 * the child has been reaped.
 */
#define QIO_TYPE_CHANNEL_COMMAND (qio_channel_command_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelCommand, qio_channel_command, QIO,
                     CHANNEL_COMMAND, QIOChannel)

/**
 * QIO_CHANNEL_COMMAND_GRACE_MS_DEFAULT:
 *
 * How long, in milliseconds, closing a channel waits for the child to exit
 * before signalling it, and again after %SIGTERM before %SIGKILL.
 */
#define QIO_CHANNEL_COMMAND_GRACE_MS_DEFAULT 2000

/**
 * QIOChannelCommandLink:
 * @QIO_CHANNEL_COMMAND_PIPES: one pipe per direction
 * @QIO_CHANNEL_COMMAND_SOCKETPAIR: one %AF_UNIX stream socket pair for both
 *   directions (the child can use shutdown(2) and pass descriptors to
 *   nobody; the channel does not pass descriptors either)
 * @QIO_CHANNEL_COMMAND_PTY: a new pseudo-terminal; the child gets the
 *   terminal side, the channel the master side. The terminal keeps the
 *   system's default settings (canonical mode, echo, CR-LF output)
 *
 * How the channel is connected to the child.
 */
typedef enum {
    QIO_CHANNEL_COMMAND_PIPES,
    QIO_CHANNEL_COMMAND_SOCKETPAIR,
    QIO_CHANNEL_COMMAND_PTY,
} QIOChannelCommandLink;

/**
 * QIOChannelCommandOptions:
 * @link: pipes, socket pair or pseudo-terminal
 * @merge_stderr: the child's standard error goes into the channel too (on
 *   the same pipe, socket or terminal as its output); ignored when the
 *   channel does not read
 * @search_path: look for argv[0] in the caller's PATH when it has no '/'
 * @setsid: run the child in a new session (setsid(2)); closing then
 *   signals its whole process group
 * @ctty: make the pseudo-terminal the child's controlling terminal;
 *   implies @setsid and needs %QIO_CHANNEL_COMMAND_PTY
 * @inherit_unused: in a one-way channel, the standard input or output the
 *   channel does not use (and descriptors 0 and 1 when @child_fdin or
 *   @child_fdout move the channel elsewhere) are inherited from the
 *   caller; by default they are /dev/null. Standard error is always
 *   inherited unless @merge_stderr
 * @child_fdin: the descriptor number on which the child reads what the
 *   channel writes (default 0)
 * @child_fdout: the descriptor number on which the child writes what the
 *   channel reads (default 1); with pipes it must differ from @child_fdin
 *   in a two-way channel
 * @cwd: (nullable): the child's working directory (default: the caller's)
 * @env: (nullable) (array zero-terminated=1): changes to the caller's
 *   environment for the child: "NAME=VALUE" sets NAME, a bare "NAME"
 *   removes it
 * @grace_ms: see qio_channel_command_set_grace()
 * @signal_on_close: whether closing may signal the child; see
 *   qio_channel_command_set_signal_on_close()
 * @pgid: put the child in process group @pgid (setpgid(2)); 0 makes it
 *   the leader of a new one; -1 (the default) leaves it in the caller's
 * @chroot_dir: (nullable): the child's root directory (chroot(2), then
 *   chdir("/")), before it changes its user; needs the privilege
 * @uid: run the child as this user (setuid(2)), with its primary group
 *   and supplementary groups as the user database gives them; -1 keeps
 *   the caller's. Looked up before the child starts: an unknown uid is an
 *   error of the spawn. A child that cannot make either change writes one
 *   line to its standard error and exits with status 127 without running
 *   the program: it never runs with the privileges it was to drop
 * @pty_setup: (nullable): with %QIO_CHANNEL_COMMAND_PTY, called with the
 *   master side of the new pseudo-terminal before the child starts, to set
 *   its modes (tcsetattr() on the master sets the terminal's); returning
 *   %false with @errp set fails the spawn
 * @pty_setup_data: passed to @pty_setup
 * @child_setup: (nullable) (scope call): called in the child after fork(),
 *   last of its settings (after @chroot_dir and @uid took effect), just
 *   before it executes the program; like a #GSpawnChildSetupFunc it may
 *   only make async-signal-safe calls (setrlimit(2), for one: a caller
 *   that raised its own descriptor limit gives the child back the one
 *   it started with)
 * @child_setup_data: passed to @child_setup
 *
 * Settings for qio_channel_command_new_spawn_full(). Start from
 * %QIO_CHANNEL_COMMAND_OPTIONS_INIT so that new fields get their defaults.
 */
typedef struct QIOChannelCommandOptions {
    QIOChannelCommandLink link;
    bool merge_stderr;
    bool search_path;
    bool setsid;
    bool ctty;
    bool inherit_unused;
    int child_fdin;
    int child_fdout;
    const char *cwd;
    const char *const *env;
    unsigned grace_ms;
    bool signal_on_close;
    int pgid;
    const char *chroot_dir;
    int uid;
    bool (*pty_setup)(int master, void *data, GError **errp);
    void *pty_setup_data;
    void (*child_setup)(void *data);
    void *child_setup_data;
} QIOChannelCommandOptions;

/**
 * QIO_CHANNEL_COMMAND_OPTIONS_INIT:
 *
 * Initialiser for a #QIOChannelCommandOptions holding the defaults: pipes,
 * PATH search, descriptors 0 and 1, unused standard streams on /dev/null,
 * the default grace period, signals on close, no change of root or user.
 */
#define QIO_CHANNEL_COMMAND_OPTIONS_INIT                                       \
    {                                                                          \
        .link = QIO_CHANNEL_COMMAND_PIPES, .search_path = true,                \
        .child_fdin = 0, .child_fdout = 1,                                     \
        .grace_ms = QIO_CHANNEL_COMMAND_GRACE_MS_DEFAULT,                      \
        .signal_on_close = true, .pgid = -1, .uid = -1,                        \
    }

/**
 * qio_channel_command_new_spawn:
 * @argv: (array zero-terminated=1): the program and its arguments; argv[0]
 *   is looked up in PATH when it contains no '/'
 * @flags: %O_RDONLY (read the child's output; its input is /dev/null),
 *   %O_WRONLY (write its input; its output is /dev/null) or %O_RDWR; other
 *   bits are ignored
 * @errp: return location for an error
 *
 * Starts the program connected through pipes, with the defaults of
 * %QIO_CHANNEL_COMMAND_OPTIONS_INIT. A program that cannot be started is
 * an error naming it, as "failed to run nosuchprog: No such file or
 * directory", in %G_IO_ERROR with the code of the system's reason
 * (%G_IO_ERROR_NOT_FOUND there); no child is left behind.
 *
 * Returns: (transfer full) (nullable): a new channel, or %NULL on error.
 */
QIOChannelCommand *qio_channel_command_new_spawn(const char *const argv[],
                                                 int flags, GError **errp);

/**
 * qio_channel_command_new_spawn_full:
 * @argv: (array zero-terminated=1): the program and its arguments
 * @flags: %O_RDONLY, %O_WRONLY or %O_RDWR
 * @opts: (nullable): settings; %NULL for the defaults
 * @errp: return location for an error
 *
 * As qio_channel_command_new_spawn(), with the settings of @opts.
 * Contradictory settings (@ctty without a pseudo-terminal, two streams
 * asked onto one descriptor number) are an error
 * (%G_IO_ERROR_INVALID_ARGUMENT) and start nothing.
 *
 * Returns: (transfer full) (nullable): a new channel, or %NULL on error.
 */
QIOChannelCommand *
qio_channel_command_new_spawn_full(const char *const argv[], int flags,
                                   const QIOChannelCommandOptions *opts,
                                   GError **errp);

/**
 * qio_channel_command_new_pid:
 * @writefd: the descriptor feeding the child's input, or -1
 * @readfd: the descriptor carrying the child's output, or -1; may equal
 *   @writefd (a socket or a terminal)
 * @pid: the child, started by the caller and not reaped
 *
 * Wraps a child the caller started itself. The channel takes ownership of
 * both descriptors and of reaping @pid, with the default settings.
 *
 * Returns: (transfer full): a new channel.
 */
QIOChannelCommand *qio_channel_command_new_pid(int writefd, int readfd,
                                               GPid pid);

/**
 * qio_channel_command_get_pid:
 * @ioc: the channel
 *
 * Once qio_channel_command_get_exit_status() has returned %TRUE, the
 * process ID may belong to another process: do not signal it.
 *
 * Returns: the child's process ID.
 */
GPid qio_channel_command_get_pid(QIOChannelCommand *ioc);

/**
 * qio_channel_command_set_grace:
 * @ioc: the channel
 * @grace_ms: milliseconds; 0 signals at once
 *
 * How long qio_channel_close() waits for the child to exit by itself
 * before %SIGTERM, and again before %SIGKILL.
 */
void qio_channel_command_set_grace(QIOChannelCommand *ioc, unsigned grace_ms);

/**
 * qio_channel_command_set_signal_on_close:
 * @ioc: the channel
 * @enabled: %FALSE to never signal the child
 *
 * With @enabled %FALSE, qio_channel_close() closes the descriptors and
 * waits up to the grace period for the child to exit, but never signals
 * it: a child still running then is left running, and reaped later by a
 * g_child_watch_add() source in the global default main context (a
 * program that runs no main loop keeps it as a zombie until it exits).
 */
void qio_channel_command_set_signal_on_close(QIOChannelCommand *ioc,
                                             bool enabled);

/**
 * qio_channel_command_get_exit_status:
 * @ioc: the channel
 * @wait_status: (out) (optional): the child's status as waitpid(2)
 *   reports it: test it with WIFEXITED(), WEXITSTATUS(), WIFSIGNALED(),
 *   WTERMSIG()
 *
 * Before the channel is closed, checks without waiting whether the child
 * has exited (and reaps it if so).
 *
 * Returns: %TRUE once the child has been reaped and its status is known;
 * %FALSE while it runs, when close left it running (see
 * qio_channel_command_set_signal_on_close()), or when someone else reaped
 * it.
 */
gboolean qio_channel_command_get_exit_status(QIOChannelCommand *ioc,
                                             int *wait_status);

/**
 * qio_channel_command_was_stopped:
 * @ioc: the channel
 *
 * Whether the channel itself ended the child: close had to signal it
 * after the grace period, or it died of %SIGPIPE writing output that the
 * channel had stopped reading (shut down or closed). Callers judging the
 * child's exit status usually excuse such an end.
 *
 * Returns: %TRUE if the child's end was caused by the channel.
 */
gboolean qio_channel_command_was_stopped(QIOChannelCommand *ioc);

G_END_DECLS

#endif /* QIO_CHANNEL_COMMAND_H */
