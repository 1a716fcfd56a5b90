/*
 * qioc - EXEC and SYSTEM: a child process as an address
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * EXEC splits its command into words as a POSIX shell would (quotes and
 * backslashes, no expansions) and runs the program without a shell;
 * SYSTEM hands the text to /bin/sh -c. Either way the child's stdin and
 * stdout become a QIOChannelCommand, connected as the options say. When
 * the connection ends, qioc_exec_reap() closes the channel (which sees the
 * child out in bounded time) and judges how the child ended.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "addr.h"
#include "log.h"

/* ---------------------------------------------------------------- options */

/*
 * nofork hands the other address's descriptor to the child, which an
 * opener cannot see: refuse it rather than relay silently.
 */
static gboolean exec_check_supported(const QiocAddress *addr, GError **errp)
{
    if (qioc_address_get_flag(addr, "nofork")) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                            "option nofork is not supported yet");
        return FALSE;
    }
    return TRUE;
}

/* pipes (the default), socketpair or pty: at most one may be chosen. */
static gboolean exec_link(const QiocAddress *addr,
                          QIOChannelCommandLink *link, GError **errp)
{
    gboolean pty = qioc_address_get_flag(addr, "pty");
    gboolean pair = qioc_address_get_flag(addr, "socketpair") ||
                    (!pty && !qioc_address_get_flag(addr, "pipes"));
    gboolean pipes = qioc_address_has_opt(addr, "pipes") &&
                     qioc_address_get_flag(addr, "pipes");

    if (pty + pair + pipes > 1) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "options pipes, socketpair and pty exclude "
                            "each other");
        return FALSE;
    }
    *link = pty    ? QIO_CHANNEL_COMMAND_PTY
            : pair ? QIO_CHANNEL_COMMAND_SOCKETPAIR
                   : QIO_CHANNEL_COMMAND_PIPES;
    return TRUE;
}

static gboolean exec_options(const QiocAddress *addr,
                             QIOChannelCommandOptions *o, GError **errp)
{
    if (!exec_link(addr, &o->link, errp)) {
        return FALSE;
    }
    o->merge_stderr = qioc_address_get_flag(addr, "stderr");
    o->setsid = qioc_address_get_flag(addr, "setsid");
    o->ctty = qioc_address_get_flag(addr, "ctty");
    o->child_fdin = (int)qioc_address_get_int(addr, "fdin", 0);
    o->child_fdout = (int)qioc_address_get_int(addr, "fdout", 1);
    o->signal_on_close = !qioc_address_get_flag(addr, "end-close");
    /* Like socat: a stream qioc does not use stays the child's own. */
    o->inherit_unused = TRUE;
    return TRUE;
}

static int exec_open_flags(QiocAccess access)
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

/* ---------------------------------------------------------------- open */

static char **exec_argv(const QiocAddress *addr, GError **errp)
{
    const char *text = addr->params[0];
    g_autoptr(GError) err = NULL;
    char **argv = NULL;

    if (addr->type->kind == QIOC_ADDR_SYSTEM) {
        const char *sh[] = { "/bin/sh", "-c", text, NULL };

        return g_strdupv((char **)sh);
    }
    if (!g_shell_parse_argv(text, NULL, &argv, &err)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "cannot split command \"%s\" into words: %s", text,
                    err->message);
        return NULL;
    }
    return argv;
}

static QIOChannel *exec_open(const QiocAddress *addr, QiocAccess *access,
                             GError **errp)
{
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_auto(GStrv) argv = NULL;
    QIOChannelCommand *cioc;

    if (!exec_check_supported(addr, errp) || !exec_options(addr, &o, errp)) {
        return NULL;
    }
    argv = exec_argv(addr, errp);
    if (!argv) {
        return NULL;
    }
    cioc = qio_channel_command_new_spawn_full((const char *const *)argv,
                                              exec_open_flags(*access), &o,
                                              errp);
    if (!cioc) {
        return NULL;
    }
    qioc_info(1, "address %d (%s): started child %d (%s)", addr->index,
              addr->text, (int)qio_channel_command_get_pid(cioc),
              addr->params[0]);
    return QIO_CHANNEL(cioc);
}

QIOChannel *qioc_open_exec(const QiocAddress *addr, QiocAccess *access,
                           const QiocOptions *opts, GError **errp)
{
    return exec_open(addr, access, errp);
}

QIOChannel *qioc_open_system(const QiocAddress *addr, QiocAccess *access,
                             const QiocOptions *opts, GError **errp)
{
    return exec_open(addr, access, errp);
}

/* ---------------------------------------------------------------- reap */

/* "exited with status 0", "killed by signal 15 (Terminated)". */
static char *exec_describe_status(int status)
{
    if (WIFEXITED(status)) {
        return g_strdup_printf("exited with status %d", WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return g_strdup_printf("killed by signal %d (%s)", WTERMSIG(status),
                               strsignal(WTERMSIG(status)));
    }
    return g_strdup_printf("ended with wait status 0x%x", status);
}

gboolean qioc_exec_reap(QIOChannel *ioc, const QiocAddress *addr)
{
    QIOChannelCommand *cioc;
    g_autofree char *how = NULL;
    gboolean stopped;
    int status = 0;
    int pid;

    if (!ioc || !QIO_IS_CHANNEL_COMMAND(ioc)) {
        return TRUE;
    }
    cioc = QIO_CHANNEL_COMMAND(ioc);
    pid = (int)qio_channel_command_get_pid(cioc);
    qio_channel_close(ioc, NULL);
    if (!qio_channel_command_get_exit_status(cioc, &status)) {
        qioc_info(1, "address %d (%s): child %d (%s) left running",
                  addr->index, addr->text, pid, addr->params[0]);
        return TRUE;
    }
    how = exec_describe_status(status);
    stopped = qio_channel_command_was_stopped(cioc);
    if (stopped || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        qioc_info(1, "address %d (%s): child %d (%s) %s%s", addr->index,
                  addr->text, pid, addr->params[0], how,
                  stopped ? ", ended by qioc" : "");
        return TRUE;
    }
    qioc_error("address %d (%s): child %d (%s) %s", addr->index, addr->text,
               pid, addr->params[0], how);
    return FALSE;
}
