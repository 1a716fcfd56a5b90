/*
 * qioc - terminal modes of an address that is a terminal
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "splice.h"
#include "term.h"

/* Which word of struct termios a flag lives in. */
#define IFLAG offsetof(struct termios, c_iflag)
#define OFLAG offsetof(struct termios, c_oflag)
#define CFLAG offsetof(struct termios, c_cflag)
#define LFLAG offsetof(struct termios, c_lflag)

static const struct {
    size_t word;
    tcflag_t bits;
} term_flags[QIOC_TERM__COUNT] = {
    [QIOC_TERM_ECHO] = {LFLAG, ECHO},
    [QIOC_TERM_ECHOCTL] = {LFLAG, ECHOCTL},
    [QIOC_TERM_ICANON] = {LFLAG, ICANON},
    [QIOC_TERM_ISIG] = {LFLAG, ISIG},
    [QIOC_TERM_IEXTEN] = {LFLAG, IEXTEN},
    [QIOC_TERM_ICRNL] = {IFLAG, ICRNL},
    [QIOC_TERM_INLCR] = {IFLAG, INLCR},
    [QIOC_TERM_IGNCR] = {IFLAG, IGNCR},
    [QIOC_TERM_IXON] = {IFLAG, IXON},
    [QIOC_TERM_IXOFF] = {IFLAG, IXOFF},
    [QIOC_TERM_BRKINT] = {IFLAG, BRKINT},
    [QIOC_TERM_ISTRIP] = {IFLAG, ISTRIP},
    [QIOC_TERM_OPOST] = {OFLAG, OPOST},
    [QIOC_TERM_ONLCR] = {OFLAG, ONLCR},
    [QIOC_TERM_OCRNL] = {OFLAG, OCRNL},
    [QIOC_TERM_CRTSCTS] = {CFLAG, CRTSCTS},
    [QIOC_TERM_CLOCAL] = {CFLAG, CLOCAL},
    [QIOC_TERM_HUPCL] = {CFLAG, HUPCL},
    [QIOC_TERM_PARENB] = {CFLAG, PARENB},
    [QIOC_TERM_CSTOPB] = {CFLAG, CSTOPB},
};

static const struct {
    gint64 rate;
    speed_t speed;
} term_speeds[] = {
    {50, B50},           {75, B75},           {110, B110},
    {134, B134},         {150, B150},         {200, B200},
    {300, B300},         {600, B600},         {1200, B1200},
    {1800, B1800},       {2400, B2400},       {4800, B4800},
    {9600, B9600},       {19200, B19200},     {38400, B38400},
    {57600, B57600},     {115200, B115200},   {230400, B230400},
    {460800, B460800},   {500000, B500000},   {576000, B576000},
    {921600, B921600},   {1000000, B1000000}, {1152000, B1152000},
    {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000},
    {3000000, B3000000}, {3500000, B3500000}, {4000000, B4000000},
};

static gboolean speed_of(gint64 rate, speed_t *out)
{
    for (guint i = 0; i < G_N_ELEMENTS(term_speeds); i++) {
        if (term_speeds[i].rate == rate) {
            *out = term_speeds[i].speed;
            return TRUE;
        }
    }
    return FALSE;
}

gboolean qioc_term_speed_valid(gint64 rate)
{
    speed_t s;

    return speed_of(rate, &s);
}

gboolean qioc_term_wanted(const QiocAddress *addr)
{
    const QiocAddrOpts *o = &addr->o;

    for (int i = 0; i < QIOC_TERM__COUNT; i++) {
        if (o->term[i] >= 0) {
            return TRUE;
        }
    }
    return o->raw || o->rawer || o->speed >= 0 || o->ispeed >= 0 ||
           o->ospeed >= 0 || o->vmin >= 0 || o->vtime >= 0;
}

/* ---------------------------------------------------------------- saved */

/*
 * The terminals changed, each with a descriptor of its own (so that it
 * can be put back after the channel closed its descriptors) and the
 * settings found. Read by the signal handler: an entry is complete
 * before it is marked used.
 */
#define TERM_SAVED_MAX 16

typedef struct {
    volatile sig_atomic_t used;
    int fd;
    struct termios saved;
} QiocTermSaved;

static QiocTermSaved term_saved[TERM_SAVED_MAX];

static void saved_restore(QiocTermSaved *t, int when)
{
    if (t->used) {
        tcsetattr(t->fd, when, &t->saved);
    }
}

/* The channel that changed it is gone. */
static void saved_release(gpointer data)
{
    QiocTermSaved *t = data;

    saved_restore(t, TCSADRAIN);
    t->used = 0;
    close(t->fd);
    t->fd = -1;
}

void qioc_term_restore_all(void)
{
    for (guint i = 0; i < TERM_SAVED_MAX; i++) {
        saved_restore(&term_saved[i], TCSADRAIN);
    }
}

/*
 * A signal qioc leaves to its default action: put the terminals back
 * first (tcsetattr is async-signal-safe), then die of it as before.
 */
static void restore_and_die(int signum)
{
    for (guint i = 0; i < TERM_SAVED_MAX; i++) {
        saved_restore(&term_saved[i], TCSANOW);
    }
    signal(signum, SIG_DFL);
    raise(signum);
}

static const int fatal_signals[] = {SIGHUP,  SIGQUIT, SIGABRT, SIGSEGV,
                                    SIGBUS,  SIGFPE,  SIGILL,  SIGTRAP,
                                    SIGXCPU, SIGXFSZ, SIGSYS,  SIGALRM};

/* Once: SIGINT and SIGTERM end qioc's loop; the others come here. */
static void install_handlers(void)
{
    static gboolean done;
    struct sigaction sa = {.sa_handler = restore_and_die};

    if (done) {
        return;
    }
    done = TRUE;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    for (guint i = 0; i < G_N_ELEMENTS(fatal_signals); i++) {
        struct sigaction old;

        /* One that is ignored stays ignored. */
        if (sigaction(fatal_signals[i], NULL, &old) == 0 &&
            old.sa_handler == SIG_DFL) {
            sigaction(fatal_signals[i], &sa, NULL);
        }
    }
    atexit(qioc_term_restore_all);
}

static QiocTermSaved *saved_new(int fd, const struct termios *found,
                                GError **errp)
{
    for (guint i = 0; i < TERM_SAVED_MAX; i++) {
        QiocTermSaved *t = &term_saved[i];

        if (t->used) {
            continue;
        }
        t->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (t->fd < 0) {
            qioc_error_errno(errp, errno, "terminal: dup");
            return NULL;
        }
        t->saved = *found;
        t->used = 1;
        install_handlers();
        return t;
    }
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES,
                "terminal: more than %d terminals changed at once",
                TERM_SAVED_MAX);
    return NULL;
}

/* ---------------------------------------------------------------- modes */

/* socat's raw, as `stty raw`: echo is left as it is. */
static void make_raw(struct termios *t)
{
    t->c_iflag &= ~(IGNBRK | BRKINT | IGNPAR | PARMRK | INPCK | ISTRIP | INLCR |
                    IGNCR | ICRNL | IXON | IXOFF | IXANY | IMAXBEL);
    t->c_oflag &= ~OPOST;
    t->c_lflag &= ~(ISIG | ICANON);
    t->c_cc[VMIN] = 1;
    t->c_cc[VTIME] = 0;
}

static void set_flag(struct termios *t, QiocTermFlag flag, gboolean on)
{
    tcflag_t *word = (tcflag_t *)((char *)t + term_flags[flag].word);

    *word =
        on ? (*word | term_flags[flag].bits) : (*word & ~term_flags[flag].bits);
}

static gboolean set_speeds(const QiocAddrOpts *o, struct termios *t,
                           GError **errp)
{
    speed_t s;

    if (o->speed >= 0 && speed_of(o->speed, &s) && cfsetspeed(t, s) < 0) {
        qioc_error_errno(errp, errno, "terminal: speed %" G_GINT64_FORMAT,
                         o->speed);
        return FALSE;
    }
    if (o->ispeed >= 0 && speed_of(o->ispeed, &s) && cfsetispeed(t, s) < 0) {
        qioc_error_errno(errp, errno, "terminal: ispeed %" G_GINT64_FORMAT,
                         o->ispeed);
        return FALSE;
    }
    if (o->ospeed >= 0 && speed_of(o->ospeed, &s) && cfsetospeed(t, s) < 0) {
        qioc_error_errno(errp, errno, "terminal: ospeed %" G_GINT64_FORMAT,
                         o->ospeed);
        return FALSE;
    }
    return TRUE;
}

/* The settings @o asks for, from those found: raw first, then each flag. */
static gboolean term_modes(const QiocAddrOpts *o, struct termios *t,
                           GError **errp)
{
    if (o->raw) {
        make_raw(t);
    }
    if (o->rawer) {
        cfmakeraw(t);
    }
    for (int i = 0; i < QIOC_TERM__COUNT; i++) {
        if (o->term[i] >= 0) {
            set_flag(t, i, o->term[i]);
        }
    }
    if (o->vmin >= 0) {
        t->c_cc[VMIN] = (cc_t)o->vmin;
    }
    if (o->vtime >= 0) {
        t->c_cc[VTIME] = (cc_t)o->vtime;
    }
    return set_speeds(o, t, errp);
}

/* The terminal among @ioc's descriptors: the one it reads, else writes. */
static int channel_tty(QIOChannel *ioc)
{
    for (int reading = 1; reading >= 0; reading--) {
        int fd = qioc_channel_tty_fd(ioc, reading);

        if (fd >= 0 && isatty(fd)) {
            return fd;
        }
    }
    return -1;
}

gboolean qioc_term_set_modes(const QiocAddress *addr, int fd, GError **errp)
{
    struct termios t;

    if (!qioc_term_wanted(addr)) {
        return TRUE;
    }
    if (tcgetattr(fd, &t) < 0) {
        qioc_error_errno(errp, errno, "terminal: tcgetattr");
        return FALSE;
    }
    if (!term_modes(&addr->o, &t, errp)) {
        return FALSE;
    }
    if (tcsetattr(fd, TCSANOW, &t) < 0) {
        qioc_error_errno(errp, errno, "terminal: tcsetattr");
        return FALSE;
    }
    return TRUE;
}

gboolean qioc_term_setup(const QiocAddress *addr, QIOChannel *ioc,
                         GError **errp)
{
    struct termios found, want;
    QiocTermSaved *saved;
    int fd;

    if (!qioc_term_wanted(addr)) {
        return TRUE;
    }
    /* PTY's and EXEC's ptys got their modes when they were made. */
    if (addr->type->kind == QIOC_ADDR_PTY) {
        return TRUE;
    }
    fd = QIO_IS_CHANNEL_COMMAND(ioc) ? (addr->o.pty ? -2 : -1)
                                     : channel_tty(ioc);
    if (fd == -2) {
        return TRUE;
    }
    if (fd < 0) {
        qioc_log_address(1, addr->index, addr->text,
                         "not a terminal: terminal modes left alone");
        return TRUE;
    }
    if (tcgetattr(fd, &found) < 0) {
        qioc_error_errno(errp, errno, "terminal: tcgetattr");
        return FALSE;
    }
    want = found;
    if (!term_modes(&addr->o, &want, errp)) {
        return FALSE;
    }
    saved = saved_new(fd, &found, errp);
    if (!saved) {
        return FALSE;
    }
    g_object_set_data_full(G_OBJECT(ioc), "qioc-term-saved", saved,
                           saved_release);
    if (tcsetattr(fd, TCSADRAIN, &want) < 0) {
        qioc_error_errno(errp, errno, "terminal: tcsetattr");
        return FALSE;
    }
    qioc_log_address(2, addr->index, addr->text,
                     "terminal modes set on descriptor %d", fd);
    return TRUE;
}
