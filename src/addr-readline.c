/*
 * qioc - READLINE: the terminal, with line editing and history
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * socat's READLINE on libedit's readline emulation (BSD licence). The
 * pump gets one end of a socket pair, an ordinary channel; this file
 * keeps the other end in the same main loop. libedit's callback
 * interface reads a key whenever standard input is readable; each line
 * entered goes into the pair with its "\n", Ctrl-D on an empty line shuts
 * the pair's write half (end-of-file), and what comes out of the pair
 * (the peer's data) is written to standard output, the line being edited
 * taken off the screen first and drawn again below it.
 *
 * The prompt: the peer's incomplete last line (what follows its last CR
 * or LF, up to TAIL_MAX bytes) is held back while a line is edited and
 * shown as the prompt (the default, as socat), or replaced by prompt=TEXT
 * (socat's prompt overwrites it); with noprompt it is printed as it comes
 * and the line being edited starts below it. A line entered answers it
 * (it is not printed again); the peer's line end prints it.
 *
 * libedit's readline state is global, so one READLINE connection at a
 * time. The terminal's settings are saved when editing starts and put
 * back at the end of the connection, which qioc reaches on every way out
 * it controls (end-of-file, an error, SIGINT, SIGTERM); after Ctrl-Z and
 * fg, libedit's editing mode is put back (SIGCONT).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <editline/readline.h>

#include "addr.h"
#include "log.h"

/* The longest incomplete line held back as a prompt (socat's limit). */
#define TAIL_MAX 512
/* The newest history entries written back. */
#define HISTORY_MAX 1000
/* The first line of libedit's own history format, skipped on reading. */
#define LIBEDIT_COOKIE "_HiStOrY_V2_"

typedef struct {
    const QiocAddress *addr;
    QIOChannel *ioc;     /* the pump's end: which connection finishes */
    int fd;              /* our end of the pair */
    gboolean editing;    /* libedit's line handler is installed */
    gboolean col0;       /* the peer's output on screen ends a line */
    GString *tail;       /* the peer's incomplete line, held back */
    GByteArray *lines;   /* lines entered, not yet in the pair */
    gboolean input_over; /* the pair's write half is shut once lines are out */
    GPtrArray *history;  /* char *: entries to write back; NULL: none */
    struct termios tty;  /* the terminal as it was */
    struct termios edit_tty; /* as libedit set it for editing */
    gboolean tty_saved;
    guint stdin_watch;
    guint pair_watch;  /* our end readable: the peer's data */
    guint flush_watch; /* our end writable: lines waiting */
    guint winch;
    int cont_pipe[2]; /* SIGCONT's handler writes a byte */
    guint cont_watch;
    struct sigaction cont_old;
} Readline;

/* The connection using the terminal (libedit's callbacks have no data). */
static Readline *current;

/* ---------------------------------------------------------------- screen */

static void term_write(const char *buf, gsize len)
{
    fflush(stdout); /* libedit's own output goes through stdio */
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return; /* the terminal is gone: nowhere to show it */
        }
        buf += n;
        len -= n;
    }
}

static const char *shown_prompt(const Readline *rl)
{
    if (rl->addr->o.noprompt) {
        return "";
    }
    return rl->addr->o.prompt ? rl->addr->o.prompt : rl->tail->str;
}

/* The rows the edited line takes above the cursor (an estimate). */
static int rows_above_cursor(const Readline *rl)
{
    const char *prompt = shown_prompt(rl);
    glong width = g_utf8_validate(prompt, -1, NULL) ? g_utf8_strlen(prompt, -1)
                                                    : (glong)strlen(prompt);
    int cols = 0;

    rl_get_screen_size(NULL, &cols);
    return cols > 0 ? (int)((width + rl_point) / cols) : 0;
}

/* Take the edited line off the screen, the cursor left where it began. */
static void edit_hide(const Readline *rl)
{
    int up = rows_above_cursor(rl);
    g_autofree char *seq =
        up > 0 ? g_strdup_printf("\r\033[%dA\033[J", up) : g_strdup("\r\033[J");

    if (rl->editing) {
        term_write(seq, strlen(seq));
    }
}

/* Draw it again, on a line of its own, with the prompt now in force. */
static void edit_show(Readline *rl)
{
    if (!rl->editing) {
        return;
    }
    if (!rl->col0) {
        term_write("\n", 1);
        rl->col0 = TRUE;
    }
    rl_set_prompt(shown_prompt(rl));
    rl_forced_update_display();
}

/* Print the held incomplete line: nothing edited stands in for it. */
static void tail_release(Readline *rl)
{
    if (rl->tail->len > 0) {
        term_write(rl->tail->str, rl->tail->len);
        rl->col0 = FALSE;
        g_string_truncate(rl->tail, 0);
    }
}

static const char *last_line_end(const char *buf, gsize len)
{
    for (gsize i = len; i-- > 0;) {
        if (buf[i] == '\n' || buf[i] == '\r') {
            return buf + i;
        }
    }
    return NULL;
}

/* The peer's data: complete lines printed, the incomplete one held. */
static void show_output(Readline *rl, const char *buf, gsize len)
{
    const char *eol = last_line_end(buf, len);

    edit_hide(rl);
    if (eol) {
        term_write(rl->tail->str, rl->tail->len);
        term_write(buf, eol + 1 - buf);
        g_string_truncate(rl->tail, 0);
        rl->col0 = TRUE;
        len -= eol + 1 - buf;
        buf = eol + 1;
    }
    g_string_append_len(rl->tail, buf, len);
    if (!rl->editing || rl->addr->o.noprompt || rl->tail->len > TAIL_MAX) {
        tail_release(rl);
    }
    edit_show(rl);
}

/* ---------------------------------------------------------------- history */

static void history_add(Readline *rl, const char *line)
{
    if (*line) {
        add_history(line);
    }
    if (*line && rl->history) {
        g_ptr_array_add(rl->history, g_strdup(line));
    }
}

/*
 * One entry a line, as GNU readline (socat) writes it. A file that cannot
 * be read (other than a missing one) is not written back either.
 */
static void history_load(Readline *rl)
{
    const char *path = rl->addr->o.history;
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) lines = NULL;

    if (!path) {
        return;
    }
    if (!g_file_get_contents(path, &text, NULL, &err) &&
        !g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
        qioc_log_address(QIOC_LOG_WARNING, rl->addr->index, rl->addr->text,
                         "history: %s", err->message);
        return;
    }
    rl->history = g_ptr_array_new_with_free_func(g_free);
    lines = g_strsplit(text ? text : "", "\n", -1);
    for (char **l = lines; *l; l++) {
        if (l != lines || strcmp(*l, LIBEDIT_COOKIE) != 0) {
            history_add(rl, *l);
        }
    }
}

static void history_save(Readline *rl)
{
    GPtrArray *h = rl->history;
    g_autoptr(GString) text = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    if (!h) {
        return;
    }
    for (guint i = h->len > HISTORY_MAX ? h->len - HISTORY_MAX : 0; i < h->len;
         i++) {
        g_string_append(text, h->pdata[i]);
        g_string_append_c(text, '\n');
    }
    if (!g_file_set_contents_full(rl->addr->o.history, text->str, text->len,
                                  G_FILE_SET_CONTENTS_NONE, 0600, &err)) {
        qioc_log_address(QIOC_LOG_WARNING, rl->addr->index, rl->addr->text,
                         "history: %s", err->message);
    }
}

/* ---------------------------------------------------------------- input */

static gboolean on_writable(int fd, GIOCondition cond, gpointer data);

/* Lines entered into the pair; after end-of-file, its write half shut. */
static void flush_lines(Readline *rl)
{
    while (rl->lines->len > 0) {
        ssize_t n = send(rl->fd, rl->lines->data, rl->lines->len,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            if (!rl->flush_watch) {
                rl->flush_watch =
                    g_unix_fd_add(rl->fd, G_IO_OUT, on_writable, rl);
            }
            return;
        }
        if (n < 0) {
            /* The pump's end is closed: nobody reads them any more. */
            g_byte_array_set_size(rl->lines, 0);
            break;
        }
        g_byte_array_remove_range(rl->lines, 0, n);
    }
    if (rl->input_over) {
        shutdown(rl->fd, SHUT_WR);
    }
}

static gboolean on_writable(int fd, GIOCondition cond, gpointer data)
{
    Readline *rl = data;

    rl->flush_watch = 0;
    flush_lines(rl);
    return G_SOURCE_REMOVE;
}

static void resume_stop(Readline *rl);

/* Editing is over: the terminal as libedit found it, the tail printed. */
static void edit_stop(Readline *rl)
{
    if (!rl->editing) {
        return;
    }
    edit_hide(rl);
    rl_callback_handler_remove();
    rl->editing = FALSE;
    tail_release(rl);
    g_clear_handle_id(&rl->stdin_watch, g_source_remove);
    g_clear_handle_id(&rl->winch, g_source_remove);
    resume_stop(rl);
}

/* Ctrl-D on an empty line, or the terminal hung up: end-of-file. */
static void input_ended(Readline *rl)
{
    edit_stop(rl);
    rl->input_over = TRUE;
    flush_lines(rl);
}

static void on_line(char *line);

/* Edit a line; the terminal's editing mode is kept for a resume. */
static void edit_install(Readline *rl)
{
    rl_callback_handler_install(shown_prompt(rl), on_line);
    tcgetattr(STDIN_FILENO, &rl->edit_tty);
}

static void on_line(char *line)
{
    Readline *rl = current;

    if (!line) {
        input_ended(rl);
        return;
    }
    history_add(rl, line);
    g_byte_array_append(rl->lines, (const guint8 *)line, strlen(line));
    g_byte_array_append(rl->lines, (const guint8 *)"\n", 1);
    free(line);
    /* The held line was the question; the line entered, its answer. */
    g_string_truncate(rl->tail, 0);
    rl->col0 = TRUE;
    edit_install(rl);
    flush_lines(rl);
}

/*
 * The terminal is readable with nothing to read: an end-of-file character
 * that came while it was still in canonical mode (before libedit's first
 * read set its own), which read(2) gives as 0 bytes. libedit takes that 0
 * for nothing and reads again, blocking the loop for good; it is our
 * end-of-file instead.
 */
static gboolean eof_pending(int fd)
{
    int n = 0;

    return ioctl(fd, FIONREAD, &n) == 0 && n == 0;
}

static gboolean on_stdin(int fd, GIOCondition cond, gpointer data)
{
    Readline *rl = data;

    if ((cond & (G_IO_HUP | G_IO_ERR)) || eof_pending(fd)) {
        input_ended(rl);
        return G_SOURCE_REMOVE;
    }
    rl_callback_read_char();
    return G_SOURCE_CONTINUE;
}

static gboolean on_winch(gpointer data)
{
    rl_resize_terminal();
    return G_SOURCE_CONTINUE;
}

/* ---------------------------------------------------------------- resume */

/*
 * Ctrl-Z stops qioc and the shell puts its own terminal settings back;
 * fg sends SIGCONT, after which the line is edited in libedit's mode
 * again and drawn anew. GLib has no source for SIGCONT: its handler
 * writes to a pipe the loop watches.
 */
static volatile sig_atomic_t cont_fd = -1;

static void on_sigcont(int signum)
{
    int saved = errno;

    if (cont_fd >= 0 && write(cont_fd, "", 1) < 0) {
        /* full: a wake-up is pending already */
    }
    errno = saved;
}

static gboolean on_continued(int fd, GIOCondition cond, gpointer data)
{
    Readline *rl = data;
    char buf[64];

    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    tcsetattr(STDIN_FILENO, TCSADRAIN, &rl->edit_tty);
    edit_hide(rl);
    rl_forced_update_display();
    return G_SOURCE_CONTINUE;
}

static void resume_start(Readline *rl)
{
    struct sigaction sa = {.sa_handler = on_sigcont, .sa_flags = SA_RESTART};

    if (pipe2(rl->cont_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        rl->cont_pipe[0] = rl->cont_pipe[1] = -1;
        return; /* no redraw after fg: the line still works */
    }
    cont_fd = rl->cont_pipe[1];
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCONT, &sa, &rl->cont_old);
    rl->cont_watch = g_unix_fd_add(rl->cont_pipe[0], G_IO_IN, on_continued, rl);
}

static void resume_stop(Readline *rl)
{
    if (rl->cont_pipe[0] < 0) {
        return;
    }
    sigaction(SIGCONT, &rl->cont_old, NULL);
    cont_fd = -1;
    g_clear_handle_id(&rl->cont_watch, g_source_remove);
    close(rl->cont_pipe[0]);
    close(rl->cont_pipe[1]);
    rl->cont_pipe[0] = rl->cont_pipe[1] = -1;
}

/* ---------------------------------------------------------------- start */

/*
 * An end-of-file character already waits on the terminal, typed (or sent
 * by whoever holds the other side of a pty: `qioc - EXEC:...,pty` with
 * nothing on its stdin) while it was still in canonical mode: read(2)
 * gives it as 0 bytes now, but once libedit has switched the terminal to
 * its own mode it becomes a NUL byte, and libedit waits for more after it
 * in a read that blocks the loop. Consumed here, it ends the input.
 */
static gboolean canonical_eof_pending(const struct termios *tio)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    int n = -1;
    char c;

    return (tio->c_lflag & ICANON) && poll(&p, 1, 0) == 1 &&
           (p.revents & POLLIN) && ioctl(STDIN_FILENO, FIONREAD, &n) == 0 &&
           n == 0 && read(STDIN_FILENO, &c, 1) == 0;
}

static gboolean edit_start(Readline *rl, GError **errp)
{
    gboolean eof;

    if (tcgetattr(STDIN_FILENO, &rl->tty) < 0) {
        qioc_error_errno(errp, errno, "read the terminal's settings");
        return FALSE;
    }
    eof = canonical_eof_pending(&rl->tty);
    rl->tty_saved = TRUE;
    /* qioc's own SIGINT and SIGTERM handling ends the connection, which
     * restores the terminal; libedit's would signal the process group. */
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_readline_name = "qioc";
    if (rl_initialize() != 0) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_FAILED,
                            "cannot start line editing (libedit)");
        return FALSE;
    }
    history_load(rl);
    rl->editing = TRUE;
    edit_install(rl);
    resume_start(rl);
    rl->stdin_watch = g_unix_fd_add(STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                    on_stdin, rl);
    rl->winch = g_unix_signal_add(SIGWINCH, on_winch, rl);
    if (eof) {
        input_ended(rl);
    }
    return TRUE;
}

/* ---------------------------------------------------------------- output */

/* What the peer sent, shown: > 0; its end: 0; nothing yet: < 0. */
static gssize read_output(Readline *rl)
{
    char buf[16384];
    gssize n;

    do {
        n = recv(rl->fd, buf, sizeof(buf), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        show_output(rl, buf, n);
        return n;
    }
    if (n < 0 && errno == EAGAIN) {
        return -1;
    }
    /*
     * The end (or an error): nothing is held back any longer, and what
     * is typed now would go unanswered, so input ends too (socat ends
     * half a second after either side's end).
     */
    if (rl->editing) {
        input_ended(rl);
    }
    tail_release(rl);
    g_clear_handle_id(&rl->pair_watch, g_source_remove);
    return 0;
}

static gboolean on_output(int fd, GIOCondition cond, gpointer data)
{
    Readline *rl = data;

    read_output(rl);
    return G_SOURCE_CONTINUE; /* read_output removes it at the end */
}

/* The pump may have written its last data just before ending: show it. */
static void drain_output(Readline *rl)
{
    while (rl->pair_watch && read_output(rl) > 0) {
    }
}

/* ---------------------------------------------------------------- life */

static void readline_free(Readline *rl)
{
    g_clear_handle_id(&rl->pair_watch, g_source_remove);
    g_clear_handle_id(&rl->flush_watch, g_source_remove);
    if (rl->fd >= 0) {
        close(rl->fd);
    }
    g_clear_pointer(&rl->history, g_ptr_array_unref);
    g_byte_array_unref(rl->lines);
    g_string_free(rl->tail, TRUE);
    g_free(rl);
}

static void readline_end(Readline *rl)
{
    drain_output(rl);
    edit_stop(rl);
    if (rl->tty_saved) {
        tcsetattr(STDIN_FILENO, TCSADRAIN, &rl->tty);
    }
    history_save(rl);
    current = NULL;
    readline_free(rl);
}

/* A way out that skips the connection's end (exit(3) on a bug path). */
static void readline_atexit(void)
{
    if (current && current->tty_saved) {
        tcsetattr(STDIN_FILENO, TCSADRAIN, &current->tty);
    }
}

static Readline *readline_new(const QiocAddress *addr, int fd)
{
    Readline *rl = g_new0(Readline, 1);

    rl->addr = addr;
    rl->fd = fd;
    rl->col0 = TRUE;
    rl->tail = g_string_new(NULL);
    rl->lines = g_byte_array_new();
    rl->cont_pipe[0] = rl->cont_pipe[1] = -1;
    return rl;
}

static gboolean readline_start(Readline *rl, QiocAccess access, GError **errp)
{
    static gboolean atexit_set;

    if (!atexit_set) {
        atexit(readline_atexit);
        atexit_set = TRUE;
    }
    if (access & QIOC_ACCESS_WRITE) {
        rl->pair_watch = g_unix_fd_add(rl->fd, G_IO_IN, on_output, rl);
    }
    if (!(access & QIOC_ACCESS_READ)) {
        shutdown(rl->fd, SHUT_WR);
        return TRUE;
    }
    return edit_start(rl, errp);
}

static QIOChannel *readline_open(QiocEndpoint *ep, QiocAccess *access,
                                 QIOChannel *peer, GError **errp)
{
    int fds[2];
    Readline *rl;
    QIOChannelSocket *sioc;

    if (current) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_BUSY,
                            "the terminal is in use by another connection");
        return NULL;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        qioc_error_errno(errp, errno, "make a socket pair");
        return NULL;
    }
    sioc = qio_channel_socket_new_fd(fds[0], errp);
    rl = readline_new(ep->addr, fds[1]);
    if (!sioc) {
        close(fds[0]);
        readline_free(rl);
        return NULL;
    }
    current = rl;
    rl->ioc = QIO_CHANNEL(sioc);
    if (!readline_start(rl, *access, errp)) {
        readline_end(rl);
        g_object_unref(sioc);
        return NULL;
    }
    return QIO_CHANNEL(sioc);
}

static gboolean readline_finish(QiocEndpoint *ep, QIOChannel *ioc)
{
    if (current && current->ioc == ioc) {
        readline_end(current);
    }
    return TRUE;
}

/* ---------------------------------------------------------------- no tty */

/* socat reads a non-terminal too: plain STDIO, with a warning. */
static QIOChannel *plain_open(QiocEndpoint *ep, QiocAccess *access,
                              QIOChannel *peer, GError **errp)
{
    int rfd = (*access & QIOC_ACCESS_READ) ? STDIN_FILENO : -1;
    int wfd = (*access & QIOC_ACCESS_WRITE) ? STDOUT_FILENO : -1;

    if (rfd >= 0) {
        qioc_log_address(QIOC_LOG_WARNING, ep->addr->index, ep->addr->text,
                         "standard input is not a terminal; reading it "
                         "without line editing");
    }
    return QIO_CHANNEL(qio_channel_file_new_fd_pair(rfd, wfd));
}

static const QiocAddrDesc plain_desc = {.kind = QIOC_ADDR_READLINE,
                                        .open = plain_open};

static const QiocAddrDesc *readline_choose(const QiocEndpoint *ep)
{
    return isatty(STDIN_FILENO) ? ep->desc : &plain_desc;
}

/* ---------------------------------------------------------------- type */

static gboolean readline_check(const QiocAddress *addr, GError **errp)
{
    if (addr->o.prompt && addr->o.noprompt) {
        qioc_address_fail(
            addr, errp,
            "options \"prompt\" and \"noprompt\" exclude each other");
        return FALSE;
    }
    return TRUE;
}

static const QiocAddrType readline_types[] = {
    {"READLINE", NULL, QIOC_ADDR_READLINE, AF_UNSPEC, 0, 0, QIOC_T_READLINE, "",
     "the terminal: lines edited (libedit) and sent, the peer's data shown"},
};

const QiocAddrDesc qioc_addr_readline = {.kind = QIOC_ADDR_READLINE,
                                         QIOC_ADDR_TYPES(readline_types),
                                         .check = readline_check,
                                         .flags = QIOC_ADDR_INHERITED,
                                         .choose = readline_choose,
                                         .open = readline_open,
                                         .finish = readline_finish};
