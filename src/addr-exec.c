/*
 * qioc - EXEC and SYSTEM: a child process as an address
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * EXEC splits its command into words as a POSIX shell would (quotes and
 * backslashes, no expansions) and runs the program without a shell;
 * SYSTEM hands the text to /bin/sh -c. Either way the child's stdin and
 * stdout become a QIOChannelCommand, connected as the options say. When
 * the connection ends, exec_finish() closes the channel (which sees the
 * child out in bounded time) and judges how the child ended. With nofork
 * the child gets the other address's descriptors and qioc relays nothing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <gio/gunixsocketaddress.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "ancillary.h"
#include "log.h"
#include "pump.h"
#include "nofile.h"
#include "term.h"
#include "tls-env.h"

/* ---------------------------------------------------------------- options */

/* pipes (the default), socketpair or pty: at most one may be chosen. */
static gboolean exec_link(const QiocAddress *addr, QIOChannelCommandLink *link,
                          GError **errp)
{
    gboolean pty = addr->o.pty;
    gboolean pair = addr->o.socketpair || (!pty && addr->o.pipes == 0);
    gboolean pipes = addr->o.pipes == 1;

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

static bool exec_pty_modes(int master, void *data, GError **errp)
{
    return qioc_term_set_modes(data, master, errp);
}

/*
 * fdin= names where the child reads what qioc writes to it, fdout= where
 * it writes what qioc reads: given for a direction that does not run
 * (-u, -U, one half of A!!B), they are an error, as in socat.
 */
static gboolean exec_fds_useful(const QiocEndpoint *ep, GError **errp)
{
    const char *which = NULL;

    if (ep->addr->o.fdin >= 0 && !(ep->need & QIOC_ACCESS_WRITE)) {
        which = "fdin is useless here: qioc only reads from this child";
    } else if (ep->addr->o.fdout >= 0 && !(ep->need & QIOC_ACCESS_READ)) {
        which = "fdout is useless here: qioc only writes to this child";
    }
    if (which) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "option %s",
                    which);
        return FALSE;
    }
    return TRUE;
}

static gboolean exec_options(const QiocEndpoint *ep,
                             QIOChannelCommandOptions *o, GError **errp)
{
    const QiocAddress *addr = ep->addr;

    if (!exec_fds_useful(ep, errp) || !exec_link(addr, &o->link, errp)) {
        return FALSE;
    }
    o->merge_stderr = addr->o.merge_stderr;
    o->setsid = addr->o.setsid;
    /* socat: 0 or 1 makes a new group. */
    o->pgid = addr->o.setpgid == 1 ? 0 : (int)addr->o.setpgid;
    o->ctty = addr->o.ctty;
    o->child_fdin = addr->o.fdin >= 0 ? (int)addr->o.fdin : 0;
    o->child_fdout = addr->o.fdout >= 0 ? (int)addr->o.fdout : 1;
    o->signal_on_close = !addr->o.end_close;
    /* su= and chroot= are the child's (qioc's own stay as they are). */
    o->chroot_dir = addr->o.chroot;
    o->uid = (int)addr->o.su;
    /* Like socat: a stream qioc does not use stays the child's own. */
    o->inherit_unused = TRUE;
    /* raw, echo=0, ...: set before the child can see the terminal. */
    o->pty_setup = exec_pty_modes;
    o->pty_setup_data = (void *)addr;
    /* qioc's raised descriptor limit is not the child's. */
    o->child_setup = qioc_nofile_restore;
    return TRUE;
}

/* ---------------------------------------------------------------- env */

/*
 * The connection variables go out under qioc's names and under socat's,
 * which scripts written for socat read.
 */
static const char *const env_prefixes[] = {"QIOC_", "SOCAT_", NULL};

/* PREFIX{END}ADDR=address and PREFIX{END}PORT=port for one end. */
static void env_address(GPtrArray *env, GSocketAddress *sa, const char *end)
{
    g_autofree char *addr = NULL;
    g_autofree char *socat_addr = NULL;
    guint port = 0;

    if (G_IS_INET_SOCKET_ADDRESS(sa)) {
        GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS(sa);
        GInetAddress *ia = g_inet_socket_address_get_address(isa);

        addr = g_inet_address_to_string(ia);
        port = g_inet_socket_address_get_port(isa);
        /* A v4-mapped client of a dual-stack socket reads as A.B.C.D. */
        if (g_inet_address_get_family(ia) == G_SOCKET_FAMILY_IPV6 &&
            !strchr(addr, '.')) {
            socat_addr = qioc_socat_ipv6(ia);
        }
    } else if (G_IS_UNIX_SOCKET_ADDRESS(sa) &&
               g_unix_socket_address_get_path_len(G_UNIX_SOCKET_ADDRESS(sa))) {
        /* An unnamed client (the usual case) has no address to give. */
        addr = qio_socket_address_to_string(sa);
    }
    for (guint i = 0; addr && env_prefixes[i]; i++) {
        gboolean socat = g_str_equal(env_prefixes[i], "SOCAT_");
        const char *shown = socat && socat_addr ? socat_addr : addr;

        g_ptr_array_add(
            env, g_strdup_printf("%s%sADDR=%s", env_prefixes[i], end, shown));
        if (port) {
            g_ptr_array_add(env, g_strdup_printf("%s%sPORT=%u", env_prefixes[i],
                                                 end, port));
        }
    }
}

static void env_peercred(GPtrArray *env, QIOChannelSocket *sioc)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(qio_channel_socket_get_fd(sioc), SOL_SOCKET, SO_PEERCRED,
                   &cred, &len) < 0) {
        return;
    }
    g_ptr_array_add(env, g_strdup_printf("QIOC_PEERPID=%d", (int)cred.pid));
    g_ptr_array_add(env, g_strdup_printf("QIOC_PEERUID=%u", cred.uid));
    g_ptr_array_add(env, g_strdup_printf("QIOC_PEERGID=%u", cred.gid));
}

/*
 * A datagram socket's peer: the one it is connected to, else the sender
 * of the datagram it read (or peeked) last (UDP-RECVFROM).
 */
static GSocketAddress *socket_peer(QIOChannelSocket *sioc)
{
    GSocketAddress *sa = qio_channel_socket_get_remote_address(sioc, NULL);

    if (!sa && qio_channel_socket_get_last_sender(sioc)) {
        sa = g_object_ref(qio_channel_socket_get_last_sender(sioc));
    }
    return sa;
}

/*
 * What the child of a socket address is told about its connection
 * (doc/grammar.md, "Environment of EXEC and SYSTEM children"):
 * QIOC_PEERADDR/PORT, QIOC_SOCKADDR/PORT (and socat's SOCAT_ names), on
 * datagrams what the first came with if asked (so-timestamp, ...), on
 * unix sockets the peer's credentials, and on TLS the verified peer's
 * subject (and socat's SOCAT_OPENSSL_X509_* for its certificate,
 * src/tls-env.c). Every child gets socat's SOCAT_PID and SOCAT_PPID: qioc's
 * process, which serves every connection (there is no master process).
 * @peer may be NULL (not open yet).
 */
static char **peer_env(QIOChannel *peer)
{
    GPtrArray *env = g_ptr_array_new();
    g_autoptr(GSocketAddress) remote = NULL;
    g_autoptr(GSocketAddress) local = NULL;
    QIOChannelSocket *sioc;

    g_ptr_array_add(env, g_strdup_printf("SOCAT_PID=%d", (int)getpid()));
    g_ptr_array_add(env, g_strdup_printf("SOCAT_PPID=%d", (int)getpid()));
    /* A dual address (A!!B): what its reading half received from. */
    if (peer && QIO_IS_CHANNEL_DUAL(peer)) {
        peer = qio_channel_dual_get_reader(QIO_CHANNEL_DUAL(peer));
    }
    if (peer && QIO_IS_CHANNEL_TLS(peer)) {
        const char *dn = qio_channel_tls_get_peer_dn(QIO_CHANNEL_TLS(peer));

        if (dn) {
            g_ptr_array_add(env, g_strdup_printf("QIOC_TLS_PEER_DN=%s", dn));
        }
        qioc_tls_peer_env(QIO_CHANNEL_TLS(peer), env);
        peer = qio_channel_tls_get_master(QIO_CHANNEL_TLS(peer));
    }
    if (peer && QIO_IS_CHANNEL_DATAGRAM_PEER(peer)) {
        env_address(env,
                    qio_channel_datagram_peer_get_address(
                        QIO_CHANNEL_DATAGRAM_PEER(peer)),
                    "PEER");
    }
    if (peer) {
        qioc_ancillary_env(qioc_ancillary_of(peer), env_prefixes, env);
    }
    if (peer && QIO_IS_CHANNEL_SOCKET(peer)) {
        sioc = QIO_CHANNEL_SOCKET(peer);
        remote = socket_peer(sioc);
        local = qio_channel_socket_get_local_address(sioc, NULL);
        env_address(env, remote, "PEER");
        env_address(env, local, "SOCK");
        if (qio_channel_socket_is_unix(sioc)) {
            env_peercred(env, sioc);
        }
    }
    g_ptr_array_add(env, NULL);
    return (char **)g_ptr_array_free(env, FALSE);
}

/* ---------------------------------------------------------------- open */

static char **exec_argv(const QiocAddress *addr, GError **errp)
{
    const char *text = addr->params[0];
    g_autoptr(GError) err = NULL;
    char **argv = NULL;

    if (addr->type->kind == QIOC_ADDR_SYSTEM) {
        const char *sh[] = {"/bin/sh", "-c", text, NULL};

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

static QIOChannel *exec_open(QiocEndpoint *ep, QiocAccess *access,
                             QIOChannel *peer, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_auto(GStrv) env = peer_env(peer);
    g_auto(GStrv) argv = NULL;
    QIOChannelCommand *cioc;

    if (!exec_options(ep, &o, errp)) {
        return NULL;
    }
    argv = exec_argv(addr, errp);
    if (!argv) {
        return NULL;
    }
    o.env = (const char *const *)env;
    cioc = qio_channel_command_new_spawn_full(
        (const char *const *)argv, qioc_access_flags(*access), &o, errp);
    if (!cioc) {
        return NULL;
    }
    qioc_log_address(1, addr->index, addr->text, "started child %d (%s)",
                     (int)qio_channel_command_get_pid(cioc), addr->params[0]);
    return QIO_CHANNEL(cioc);
}

/* ---------------------------------------------------------------- nofork */

/* The descriptors of a channel that is a plain descriptor underneath. */
static gboolean peer_fds(QIOChannel *peer, int *rfd, int *wfd)
{
    if (QIO_IS_CHANNEL_SOCKET(peer)) {
        *rfd = *wfd = qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(peer));
    } else if (QIO_IS_CHANNEL_FILE(peer)) {
        *rfd = qio_channel_file_get_read_fd(QIO_CHANNEL_FILE(peer));
        *wfd = qio_channel_file_get_write_fd(QIO_CHANNEL_FILE(peer));
    } else {
        return FALSE;
    }
    return *rfd >= 0 || *wfd >= 0;
}

/*
 * qioc ignores SIGPIPE and raised its descriptor limit; the child must
 * inherit neither.
 */
static void nofork_child_setup(gpointer data)
{
    signal(SIGPIPE, SIG_DFL);
    qioc_nofile_restore(NULL);
}

static gboolean spawn_on(const QiocAddress *addr, char **argv, char **envp,
                         int rfd, int wfd, GPid *pid, GError **errp);

static gboolean nofork_spawn(QiocEndpoint *ep, QIOChannel *peer, GPid *pid,
                             GError **errp)
{
    const QiocAddress *addr = ep->addr;
    g_auto(GStrv) argv = NULL;
    g_auto(GStrv) envp = g_get_environ();
    g_auto(GStrv) extra = peer_env(peer);
    int rfd, wfd;

    if (!peer_fds(peer, &rfd, &wfd)) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                            "nofork needs the other address to be a plain "
                            "descriptor (a socket, pipe, file or tty)");
        return FALSE;
    }
    /*
     * Under -u or -U only one direction runs: the child's other standard
     * stream stays qioc's own, as socat leaves it (`qioc -u /dev/null
     * EXEC:date,nofork` prints the date), not the peer's descriptor
     * opened for the other direction only.
     */
    if (!(ep->need & QIOC_ACCESS_READ)) {
        wfd = -1;
    }
    if (!(ep->need & QIOC_ACCESS_WRITE)) {
        rfd = -1;
    }
    argv = exec_argv(addr, errp);
    if (!argv) {
        return FALSE;
    }
    for (char **e = extra; *e; e++) {
        g_auto(GStrv) kv = g_strsplit(*e, "=", 2);

        envp = g_environ_setenv(envp, kv[0], kv[1], TRUE);
    }
    return spawn_on(addr, argv, envp, rfd, wfd, pid, errp);
}

/*
 * GLib reports a full descriptor table met while it makes its own pipes
 * as a bare G_UNIX_ERROR ("Too many open files"): see whether that is
 * what happened, and say it so that the client is held (src/hold.c)
 * rather than failed.
 */
static void spawn_error_fds(GError **errp)
{
    int fd;

    if (!errp || !*errp || (*errp)->domain != G_UNIX_ERROR) {
        return;
    }
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return;
    }
    if (errno == EMFILE || errno == ENFILE) {
        int err = errno;

        g_clear_error(errp);
        qioc_error_errno(errp, err, "start the child");
    }
}

/*
 * Spawn with @rfd and @wfd as the child's stdin and stdout. Duplicates are
 * handed over: the originals may be close-on-exec (a channel's own), and
 * GLib does not touch a descriptor that is already in its place.
 */
static gboolean spawn_on(const QiocAddress *addr, char **argv, char **envp,
                         int rfd, int wfd, GPid *pid, GError **errp)
{
    int in = rfd >= 0 ? dup(rfd) : -1;
    int out = wfd >= 0 ? dup(wfd) : -1;
    gboolean ok = FALSE;

    /* A failed dup would leave the child on qioc's own stdin or stdout. */
    if ((rfd >= 0 && in < 0) || (wfd >= 0 && out < 0)) {
        qioc_error_errno(errp, errno, "duplicate the peer's descriptor");
    } else {
        ok = g_spawn_async_with_pipes_and_fds(
            NULL, (const char *const *)argv, (const char *const *)envp,
            /* a stream not given is qioc's own, stdin too */
            G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                (in < 0 ? G_SPAWN_CHILD_INHERITS_STDIN : 0),
            nofork_child_setup, NULL, in, out, addr->o.merge_stderr ? out : -1,
            NULL, NULL, 0, pid, NULL, NULL, NULL, errp);
        if (!ok) {
            spawn_error_fds(errp);
        }
    }
    if (in >= 0) {
        close(in);
    }
    if (out >= 0) {
        close(out);
    }
    if (!ok) {
        return FALSE;
    }
    qioc_log_address(1, addr->index, addr->text,
                     "started child %d (%s) on the peer's "
                     "descriptors",
                     (int)*pid, addr->params[0]);
    return TRUE;
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

/* How a nofork child ended; FALSE if abnormally (an error line). */
static gboolean nofork_exited(QiocEndpoint *ep, GPid pid, int status)
{
    const QiocAddress *addr = ep->addr;
    g_autofree char *how = exec_describe_status(status);

    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        qioc_log_address(1, addr->index, addr->text, "child %d (%s) %s",
                         (int)pid, addr->params[0], how);
        return TRUE;
    }
    qioc_log_address(QIOC_LOG_ERROR, addr->index, addr->text,
                     "child %d (%s) %s", (int)pid, addr->params[0], how);
    return FALSE;
}

/*
 * Close the command channel now, which reaps its child in bounded time,
 * and log how the child ended (-d; an abnormal end is an error line).
 * FALSE when the child ended abnormally: a non-zero exit status, or a
 * signal qioc did not send; unless qioc cut the child off, still running,
 * before its output ended (QIOC_PUMP_CUT_OFF): then it ends because its
 * descriptors closed (EIO on a pty, SIGPIPE), as socat's children do.
 */
static gboolean exec_finish(QiocEndpoint *ep, QIOChannel *ioc)
{
    const QiocAddress *addr = ep->addr;
    QIOChannelCommand *cioc;
    g_autofree char *how = NULL;
    gboolean stopped;
    gboolean cut_off;
    int status = 0;
    int pid;

    if (!QIO_IS_CHANNEL_COMMAND(ioc)) {
        return TRUE;
    }
    cioc = QIO_CHANNEL_COMMAND(ioc);
    pid = (int)qio_channel_command_get_pid(cioc);
    /* set by the pump only for a child still running when it was cut off */
    cut_off = g_object_get_data(G_OBJECT(ioc), QIOC_PUMP_CUT_OFF) != NULL;
    qio_channel_close(ioc, NULL);
    if (!qio_channel_command_get_exit_status(cioc, &status)) {
        qioc_log_address(1, addr->index, addr->text,
                         "child %d (%s) left running", pid, addr->params[0]);
        return TRUE;
    }
    how = exec_describe_status(status);
    stopped = qio_channel_command_was_stopped(cioc);
    if (stopped || cut_off || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        qioc_log_address(1, addr->index, addr->text, "child %d (%s) %s%s", pid,
                         addr->params[0], how,
                         stopped   ? ", ended by qioc"
                         : cut_off ? ", cut off by qioc"
                                   : "");
        return TRUE;
    }
    qioc_log_address(QIOC_LOG_ERROR, addr->index, addr->text,
                     "child %d (%s) %s", pid, addr->params[0], how);
    return FALSE;
}

/* ---------------------------------------------------------------- types */

static const QiocAddrDesc nofork_desc = {
    .kind = QIOC_ADDR_EXEC, .spawn = nofork_spawn, .exited = nofork_exited};

static const QiocAddrDesc *exec_choose(const QiocEndpoint *ep)
{
    return ep->addr->o.nofork ? &nofork_desc : ep->desc;
}

static const QiocAddrType exec_types[] = {
    {"EXEC", NULL, QIOC_ADDR_EXEC, AF_UNSPEC, 1, 1, QIOC_T_EXEC, "COMMAND",
     "run COMMAND, split into words like a shell does, without a shell"},
};

static const QiocAddrType system_types[] = {
    {"SYSTEM", NULL, QIOC_ADDR_SYSTEM, AF_UNSPEC, 1, 1, QIOC_T_EXEC,
     "SHELL-COMMAND", "run /bin/sh -c SHELL-COMMAND"},
};

const QiocAddrDesc qioc_addr_exec = {.kind = QIOC_ADDR_EXEC,
                                     QIOC_ADDR_TYPES(exec_types),
                                     .raw_command = TRUE,
                                     .choose = exec_choose,
                                     .open = exec_open,
                                     .finish = exec_finish};

const QiocAddrDesc qioc_addr_system = {.kind = QIOC_ADDR_SYSTEM,
                                       QIOC_ADDR_TYPES(system_types),
                                       .raw_command = TRUE,
                                       .choose = exec_choose,
                                       .open = exec_open,
                                       .finish = exec_finish};
