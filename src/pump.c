/*
 * qioc - moving data between two channels
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each direction is a coroutine: read, then write all of it, then read
 * again. A coroutine suspended in qio_channel_yield() is stopped by
 * setting its flags and re-entering it; it then unwinds by itself.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ancillary.h"
#include "context.h"
#include "log.h"
#include "pump.h"
#include "splice.h"

#define PUMP_STOPPED (-10) /* flow_read: asked to stop */
#define PUMP_HELD_CR (-11) /* flow_read: pass on the CR held back */
/* The buffer a flow starts with (at most -b's size). */
#define FIRST_BUFFER (16 * 1024)
#define IGNOREEOF_POLL_MS 250 /* how often ignoreeof looks again */
/*
 * A splice-capable flow copies until a read brings this much, then
 * splices (see flow_copy_then_splice).
 */
#define SPLICE_BULK_READ (16 * 1024)

typedef struct QiocFlow {
    QiocPump *pump;
    int from; /* side index read from */
    int to;   /* side index written to */
    QIOCoroutine *co;
    gboolean active;      /* started, not yet finished */
    GIOCondition waiting; /* suspended in a read (G_IO_IN) or a
                           * write (G_IO_OUT) wait, else 0 */
    guint sleep_timer;    /* ignoreeof's pause */
    gboolean stop;        /* read no more */
    gboolean abort;       /* abandon pending writes too */
    gboolean failed;
    char *buf;             /* allocated when data first flows */
    size_t buf_size;       /* FIRST_BUFFER, grown to -b's size
                            * once a read fills it */
    gint64 readbytes_left; /* readbytes=, -1 for no limit */
    guint64 bytes;
    guint64 fds_passed;
    guint64 fds_closed;
    gint64 started;
    gint64 ended;
    GArray *send_fds;      /* send-fds= of the destination */
    gboolean eof;          /* the source reached end-of-file */
    gboolean plain_source; /* a kernel descriptor, read as is
                            * (no TLS records held in memory) */
    gboolean dgram_source; /* reads datagrams: no end-of-file, one
                            * datagram per read, a short read says
                            * nothing about what is queued */
    gboolean dgram_dest;   /* writes datagrams: never spliced */
    gboolean anc_logged;   /* a session's ancillary data was logged */
    guint64 dgram_dropped; /* datagrams too big for -b */
    ssize_t last_read;     /* bytes the last read returned */
    gboolean drained;      /* that read was short: the source
                            * is empty until it polls readable */
    int record;            /* -r/-R: appended to, or -1 */
    gboolean escaped;      /* escape= was read: the data ended */
    gboolean held_cr;      /* crlf: a CR ended the last read; it
                            * is NL if the next byte is NL */
    GByteArray *conv;      /* line ends converted, to be written */
    guint log_prev;        /* the connection number logged under
                            * before the coroutine was entered */
} QiocFlow;

/* Draining a socket whose input nobody read, before it is closed. */
typedef struct {
    QiocPump *pump;
    guint watch;
} QiocLinger;

struct QiocPump {
    QiocPumpConfig cfg;
    QiocPumpSide side[2];
    QiocFlow flow[2];
    QiocPumpDone *done;
    void *opaque;
    gint64 last_activity;
    guint close_timer;
    guint idle_timer;
    gboolean finished;
    int status;
    QiocLinger linger[2];
    guint linger_timer;
    struct QiocSettle *settle; /* children being seen out, in a thread */
};

/* ---------------------------------------------------------------- helpers */

static const QiocPumpSide *flow_src(QiocFlow *f)
{
    return &f->pump->side[f->from];
}

static const QiocPumpSide *flow_dst(QiocFlow *f)
{
    return &f->pump->side[f->to];
}

/* The configuration of the direction @f moves. */
static const QiocFlowConfig *flow_cfg(QiocFlow *f)
{
    return &f->pump->cfg.flow[f->from];
}

static void flow_fail(QiocFlow *f, int side, GError *err)
{
    const QiocPumpSide *s = &f->pump->side[side];

    if (!f->stop || !f->abort) {
        qioc_log_address(QIOC_LOG_ERROR, s->index, s->name, "%s", err->message);
    }
    f->failed = TRUE;
    f->pump->status = QIOC_EXIT_FAILURE;
}

/*
 * Page-aligned: the kernel copies into an unaligned buffer several times
 * slower (measured: a 128 KiB g_malloc block starts 16 bytes into a page,
 * and the unix copy loop cost three times the CPU). Freed with free().
 */
static char *buffer_new(size_t size)
{
    void *buf = NULL;

    if (posix_memalign(&buf, 4096, size) != 0) {
        g_error("out of memory allocating a %zu-byte buffer", size);
    }
    return buf;
}

/*
 * Small buffers of finished flows, for the next: malloc(3) hands out and
 * takes back 16 KiB blocks slowly (consolidating free chunks), and a
 * server of short connections would ask for two per connection.
 */
#define SPARE_BUFFERS 64
/* Per thread: each worker reuses its own (src/serve.c). */
static __thread char *spare_buffers[SPARE_BUFFERS];
static __thread unsigned n_spare_buffers;

static char *buffer_take(size_t size)
{
    if (size == FIRST_BUFFER && n_spare_buffers > 0) {
        return spare_buffers[--n_spare_buffers];
    }
    return buffer_new(size);
}

static void flow_buffer_drop(QiocFlow *f)
{
    char *buf = g_steal_pointer(&f->buf);

    if (buf && f->buf_size == FIRST_BUFFER && n_spare_buffers < SPARE_BUFFERS) {
        spare_buffers[n_spare_buffers++] = buf;
        return;
    }
    free(buf);
}

void qioc_pump_thread_done(void)
{
    while (n_spare_buffers > 0) {
        free(spare_buffers[--n_spare_buffers]);
    }
}

static void close_fds(int *fds, size_t nfds)
{
    for (size_t i = 0; fds && i < nfds; i++) {
        close(fds[i]);
    }
    g_free(fds);
}

/*
 * While a flow's coroutine runs, its lines carry the connection's number
 * (with `fork`): set on each entry, put back on each yield.
 */
static void flow_log_enter(QiocFlow *f)
{
    f->log_prev = qioc_log_conn_enter(f->pump->cfg.conn);
}

static void flow_log_leave(QiocFlow *f)
{
    qioc_log_conn_leave(f->log_prev);
}

static void coroutine_fn flow_yield(QiocFlow *f, QIOChannel *ioc,
                                    GIOCondition cond)
{
    f->waiting = cond;
    flow_log_leave(f);
    qio_channel_yield(ioc, cond);
    flow_log_enter(f);
    f->waiting = 0;
}

static gboolean flow_sleep_done(gpointer data)
{
    QiocFlow *f = data;

    f->sleep_timer = 0;
    qio_coroutine_enter(f->co);
    return G_SOURCE_REMOVE;
}

/* Suspend for @ms, or until stopped; counts as waiting to read. */
static void coroutine_fn flow_sleep(QiocFlow *f, guint ms)
{
    f->sleep_timer = qioc_timeout_add(ms, flow_sleep_done, f);
    f->waiting = G_IO_IN;
    flow_log_leave(f);
    qio_coroutine_yield();
    flow_log_enter(f);
    f->waiting = 0;
    if (f->sleep_timer) {
        qioc_source_remove(f->sleep_timer);
        f->sleep_timer = 0;
    }
}

static void flow_wake(QiocFlow *f)
{
    if (f->active && f->waiting && f->co != qio_coroutine_self()) {
        qio_coroutine_enter(f->co);
    }
}

/* Only -T reads the time of the last data: a clock read per chunk else. */
static void pump_touch(QiocPump *pump)
{
    if (pump->cfg.idle_timeout > 0) {
        pump->last_activity = g_get_monotonic_time();
    }
}

/* ---------------------------------------------------------------- reading */

static gboolean flow_wants_fds(QiocFlow *f)
{
    return f->pump->cfg.fds != QIOC_FDS_OFF &&
           qio_channel_has_feature(f->pump->side[f->from].ioc,
                                   QIO_CHANNEL_FEATURE_FD_PASS);
}

static size_t flow_read_size(QiocFlow *f)
{
    size_t size = f->buf_size;

    if (f->readbytes_left >= 0 && (guint64)f->readbytes_left < size) {
        size = (size_t)f->readbytes_left;
    }
    return size;
}

/* End-of-file: with ignoreeof, wait and look again (like tail -f). */
static gboolean coroutine_fn flow_eof_retry(QiocFlow *f)
{
    if (!flow_cfg(f)->ignoreeof) {
        return FALSE;
    }
    flow_sleep(f, IGNOREEOF_POLL_MS);
    return !f->stop;
}

/*
 * Short flows (a request, an answer) get a small buffer, from the heap
 * rather than a mapping of its own; a read that fills it earns the full
 * size. Called before a read, when the last one has been written out.
 */
static void flow_buffer(QiocFlow *f)
{
    size_t full = f->pump->cfg.buffer_size;

    if (f->buf && f->buf_size < full && (size_t)f->last_read == f->buf_size) {
        flow_buffer_drop(f);
        f->buf_size = full;
    }
    if (!f->buf) {
        /* A datagram cut to fit would be lost: the whole of -b at once. */
        if (f->dgram_source) {
            f->buf_size = full;
        }
        f->buf_size = f->buf_size ? f->buf_size : MIN(FIRST_BUFFER, full);
        f->buf = buffer_take(f->buf_size);
    }
}

/*
 * A datagram longer than the buffer (-b) was read and dropped: say so
 * and go on reading, as a datagram socket does with what does not fit
 * (socat cuts it silently).
 */
static gboolean flow_dgram_too_big(QiocFlow *f, const GError *err)
{
    if (!f->dgram_source ||
        !g_error_matches(err, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE)) {
        return FALSE;
    }
    f->dgram_dropped++;
    qioc_log_address(QIOC_LOG_WARNING, flow_src(f)->index, flow_src(f)->name,
                     "%s; dropped (raise -b to pass it on)", err->message);
    return TRUE;
}

/*
 * escape=: the data ends before the escape byte, as at end-of-file; what
 * follows it in the same read is dropped with it.
 */
static ssize_t flow_escape(QiocFlow *f, ssize_t n)
{
    const QiocFlowConfig *cfg = flow_cfg(f);
    const char *at;

    if (!cfg->has_escape || n <= 0 ||
        !(at = memchr(f->buf, cfg->escape, (size_t)n))) {
        return n;
    }
    qioc_log_address(1, flow_src(f)->index, flow_src(f)->name,
                     "escape character 0x%02x read: end of input", cfg->escape);
    f->escaped = TRUE;
    f->eof = TRUE;
    return at - f->buf;
}

/*
 * -dd: what the datagram just read came with (so-timestamp, ...). A fork
 * server's session has that of its first datagram only: logged once.
 */
static void flow_log_ancillary(QiocFlow *f, QIOChannel *src)
{
    if (!f->dgram_source || qioc_log_get_level() < 2) {
        return;
    }
    if (QIO_IS_CHANNEL_DUAL(src)) {
        src = qio_channel_dual_get_reader(QIO_CHANNEL_DUAL(src));
    }
    if (QIO_IS_CHANNEL_SOCKET(src)) {
        qioc_ancillary_log(
            qio_channel_socket_get_last_control(QIO_CHANNEL_SOCKET(src)));
    } else if (!f->anc_logged) {
        f->anc_logged = TRUE;
        qioc_ancillary_log(qioc_ancillary_of(src));
    }
}

/*
 * Read one chunk into f->buf. Returns the length, 0 at end-of-file, -1
 * on error or PUMP_STOPPED; PUMP_HELD_CR when a CR held back by crlf is
 * to be passed on alone. Descriptors that came with it go to *@fds.
 */
static ssize_t coroutine_fn flow_read(QiocFlow *f, int **fds, size_t *nfds)
{
    QIOChannel *src = f->pump->side[f->from].ioc;
    gboolean want_fds = flow_wants_fds(f);

    for (;;) {
        g_autoptr(GError) err = NULL;
        struct iovec iov;
        ssize_t n;

        if (f->stop) {
            return PUMP_STOPPED;
        }
        if (f->readbytes_left == 0 || f->escaped) {
            return 0;
        }
        if (f->held_cr && f->drained) {
            /* Nothing more to read now: the CR was a CR alone. */
            return PUMP_HELD_CR;
        }
        if (!f->buf || f->drained) {
            /* Idle connections hold no buffer: wait for data first. */
            flow_yield(f, src, G_IO_IN);
            f->drained = FALSE;
            if (f->stop) {
                return PUMP_STOPPED;
            }
        }
        flow_buffer(f);
        iov.iov_base = f->buf;
        iov.iov_len = flow_read_size(f);
        n = qio_channel_readv_full(src, &iov, 1, want_fds ? fds : NULL,
                                   want_fds ? nfds : NULL, 0, &err);
        if (n == QIO_CHANNEL_ERR_BLOCK && f->held_cr) {
            return PUMP_HELD_CR;
        }
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            flow_yield(f, src, G_IO_IN);
            continue;
        }
        if (n < 0 && flow_dgram_too_big(f, err)) {
            continue;
        }
        if (n < 0) {
            flow_fail(f, f->from, err);
            return -1;
        }
        flow_log_ancillary(f, src);
        if (n == 0 && f->dgram_source && !flow_cfg(f)->null_eof) {
            /* An empty datagram: nothing to pass on, and not the end. */
            continue;
        }
        if (n == 0 && (!want_fds || *nfds == 0)) {
            if (flow_eof_retry(f)) {
                continue;
            }
            f->eof = TRUE;
        }
        if (f->readbytes_left > 0) {
            f->readbytes_left -= n;
        }
        f->last_read = n;
        f->drained = n > 0 && (size_t)n < iov.iov_len && f->plain_source &&
                     !f->dgram_source;
        pump_touch(f->pump);
        return flow_escape(f, n);
    }
}

/* What a received descriptor is, for -d: a path, socket:[...], pipe:[...]. */
static void log_received_fds(QiocFlow *f, const int *fds, size_t nfds)
{
    if (qioc_log_get_level() < 1) {
        return;
    }
    for (size_t i = 0; i < nfds; i++) {
        g_autofree char *link = g_strdup_printf("/proc/self/fd/%d", fds[i]);
        g_autofree char *what = g_file_read_link(link, NULL);

        qioc_log_address(1, flow_src(f)->index, flow_src(f)->name,
                         "received descriptor %d: %s", fds[i],
                         what ? what : "?");
    }
}

/* ---------------------------------------------------------------- writing */

/* Descriptors the destination cannot carry are closed and counted. */
static void flow_drop_fds(QiocFlow *f, int **fds, size_t *nfds)
{
    f->fds_closed += *nfds;
    close_fds(*fds, *nfds);
    *fds = NULL;
    *nfds = 0;
}

/*
 * send-fds=: the inherited descriptors go with the first data written to
 * the address, ahead of any forwarded ones. Returns a new array for the
 * write, or NULL when there is nothing to add.
 */
static int *flow_with_send_fds(QiocFlow *f, int *fds, size_t *nfds)
{
    int *all;

    if (!f->send_fds || f->send_fds->len == 0 ||
        !qio_channel_has_feature(f->pump->side[f->to].ioc,
                                 QIO_CHANNEL_FEATURE_FD_PASS)) {
        return NULL;
    }
    all = g_new(int, f->send_fds->len + *nfds);
    memcpy(all, f->send_fds->data, f->send_fds->len * sizeof(int));
    if (*nfds) {
        memcpy(all + f->send_fds->len, fds, *nfds * sizeof(int));
    }
    *nfds += f->send_fds->len;
    return all;
}

static gboolean coroutine_fn flow_write(QiocFlow *f, const char *data,
                                        size_t len, int *fds, size_t nfds)
{
    QIOChannel *dst = f->pump->side[f->to].ioc;
    g_autofree int *all = flow_with_send_fds(f, fds, &nfds);
    size_t off = 0;

    if (all) {
        fds = all;
        /* Sent or not, they are offered once. */
        g_array_set_size(f->send_fds, 0);
    }

    while (off < len || nfds > 0) {
        g_autoptr(GError) err = NULL;
        struct iovec iov = {(char *)data + off, len - off};
        ssize_t n = qio_channel_writev_full(dst, &iov, 1, fds, nfds, 0, &err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            flow_yield(f, dst, G_IO_OUT);
            if (f->abort) {
                return FALSE;
            }
            continue;
        }
        if (n < 0) {
            flow_fail(f, f->to, err);
            return FALSE;
        }
        /* The descriptors left with the first byte. */
        f->fds_passed += nfds;
        fds = NULL;
        nfds = 0;
        off += n;
        f->bytes += n;
        pump_touch(f->pump);
    }
    return TRUE;
}

/*
 * -r/-R: append what was read, raw. A failing record file is reported
 * once and no longer written; the transfer goes on.
 */
static void flow_record(QiocFlow *f, size_t len)
{
    size_t off = 0;

    while (f->record >= 0 && off < len) {
        ssize_t n = write(f->record, f->buf + off, len - off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            qioc_error("%s %s: %s", f->from == 0 ? "-r" : "-R",
                       flow_cfg(f)->record, g_strerror(errno));
            close(f->record);
            f->record = -1;
            return;
        }
        off += n;
    }
}

/* ---------------------------------------------------------------- line ends */

static gboolean flow_converts(QiocFlow *f)
{
    return flow_cfg(f)->read_eol != QIOC_EOL_NL ||
           flow_cfg(f)->write_eol != QIOC_EOL_NL;
}

/* One byte as the source meant it (NL for its line end), for the sink. */
static void conv_put(QiocFlow *f, char c)
{
    static const char *const ends[] = {
        [QIOC_EOL_NL] = "\n",
        [QIOC_EOL_CRLF] = "\r\n",
        [QIOC_EOL_CR] = "\r",
    };
    QiocLineEnd eol = flow_cfg(f)->write_eol;

    if (c == '\n') {
        g_byte_array_append(f->conv, (const guint8 *)ends[eol],
                            strlen(ends[eol]));
        return;
    }
    g_byte_array_append(f->conv, (const guint8 *)&c, 1);
}

/*
 * CR NL read from a crlf source is NL. A CR that ends a read is held
 * back until the next byte shows what it is (@more: more may follow;
 * not for datagrams, nor at the end).
 */
static size_t conv_crlf(QiocFlow *f, const char *in, size_t n, gboolean more)
{
    size_t i = 0;

    if (f->held_cr) {
        f->held_cr = FALSE;
        if (n > 0 && in[0] == '\n') {
            i = 1;
        }
        conv_put(f, i ? '\n' : '\r');
    }
    for (; i < n; i++) {
        if (in[i] != '\r') {
            conv_put(f, in[i]);
        } else if (i + 1 < n && in[i + 1] == '\n') {
            conv_put(f, '\n');
            i++;
        } else if (i + 1 == n && more) {
            f->held_cr = TRUE;
        } else {
            conv_put(f, '\r');
        }
    }
    return f->conv->len;
}

/* What is to be written of @n bytes read, line ends converted: f->conv. */
static size_t flow_convert(QiocFlow *f, const char *in, size_t n, gboolean more)
{
    if (!f->conv) {
        f->conv = g_byte_array_new();
    }
    g_byte_array_set_size(f->conv, 0);
    if (flow_cfg(f)->read_eol == QIOC_EOL_CRLF) {
        return conv_crlf(f, in, n, more && !f->dgram_source);
    }
    for (size_t i = 0; i < n; i++) {
        gboolean cr_nl = flow_cfg(f)->read_eol == QIOC_EOL_CR && in[i] == '\r';

        conv_put(f, cr_nl ? '\n' : in[i]);
    }
    return f->conv->len;
}

/* The end of the data: a CR still held back is a CR. */
static gboolean coroutine_fn flow_flush_cr(QiocFlow *f)
{
    size_t len;

    if (!f->held_cr) {
        return TRUE;
    }
    len = flow_convert(f, NULL, 0, FALSE);
    qioc_log_traffic(f->pump->cfg.traffic, f->from + 1,
                     (const char *)f->conv->data, len, f->bytes);
    return flow_write(f, (const char *)f->conv->data, len, NULL, 0);
}

/* Move one chunk. FALSE when the direction has ended. */
static gboolean coroutine_fn flow_step(QiocFlow *f)
{
    int *fds = NULL;
    size_t nfds = 0;
    ssize_t n = flow_read(f, &fds, &nfds);
    const char *data = f->buf;
    size_t len = n > 0 ? (size_t)n : 0;
    gboolean ok;

    if (n == PUMP_HELD_CR) {
        return flow_flush_cr(f);
    }
    if (n == 0 && nfds == 0) {
        flow_flush_cr(f);
        return FALSE;
    }
    if (n < 0) {
        return FALSE;
    }
    flow_record(f, n);
    if (flow_converts(f)) {
        len = flow_convert(f, f->buf, len, TRUE);
        data = (const char *)f->conv->data;
    }
    qioc_log_traffic(f->pump->cfg.traffic, f->from + 1, data, len, f->bytes);
    log_received_fds(f, fds, nfds);
    if (nfds > 0 && !qio_channel_has_feature(f->pump->side[f->to].ioc,
                                             QIO_CHANNEL_FEATURE_FD_PASS)) {
        flow_drop_fds(f, &fds, &nfds);
        if (n == 0) {
            return TRUE;
        }
    }
    ok = flow_write(f, data, len, fds, nfds);
    close_fds(fds, nfds);
    return ok;
}

/* ---------------------------------------------------------------- ending */

/* shut='s words, for -dd (the parser has the same ones, in this order). */
static const char *const shut_names[] = {
    [QIOC_SHUT_WRITE] = "write", [QIOC_SHUT_BOTH] = "both",
    [QIOC_SHUT_CLOSE] = "close", [QIOC_SHUT_NONE] = "none",
    [QIOC_SHUT_NULL] = "null",
};

static void shutdown_quietly(QIOChannel *ioc, QIOChannelShutdown how)
{
    g_autoptr(GError) err = NULL;

    if (qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN) &&
        qio_channel_shutdown(ioc, how, &err) < 0) {
        qioc_info(2, "shutdown: %s", err->message);
    }
}

/* shut=null: an empty datagram says the data ended (socat's shut-null);
 * on a stream it is nothing. */
static void send_empty_datagram(QIOChannel *dst)
{
    g_autoptr(GError) err = NULL;
    struct iovec none = {NULL, 0};

    if (qioc_channel_is_datagram(dst, FALSE) &&
        qio_channel_writev_full(dst, &none, 1, NULL, 0, 0, &err) < 0) {
        qioc_info(2, "shut=null: %s", err->message);
    }
}

/*
 * A TLS close_notify that had to wait for room goes out before the
 * direction ends: the connection closes once both have, and a close
 * first would lose it, so that the peer saw the stream end without it
 * ("the peer closed the connection without a TLS close_notify").
 */
static void coroutine_fn flow_wait_bye(QiocFlow *f, QIOChannel *dst)
{
    while (QIO_IS_CHANNEL_TLS(dst) && !f->stop &&
           qio_channel_tls_bye_pending(QIO_CHANNEL_TLS(dst))) {
        flow_yield(f, dst, G_IO_OUT);
        /* Another try now, rather than after the channel's own watch. */
        shutdown_quietly(dst, QIO_CHANNEL_SHUTDOWN_WRITE);
    }
}

/* Tell the destination no more data comes (shut= of the destination). */
static void coroutine_fn flow_shut_destination(QiocFlow *f)
{
    QiocPump *pump = f->pump;
    QIOChannel *dst = pump->side[f->to].ioc;
    QiocFlow *other = &pump->flow[f->to];

    switch (flow_cfg(f)->shut) {
    case QIOC_SHUT_WRITE:
        shutdown_quietly(dst, QIO_CHANNEL_SHUTDOWN_WRITE);
        flow_wait_bye(f, dst);
        break;
    case QIOC_SHUT_BOTH:
        /*
         * Reading is over too: the direction from dst ends now, before
         * the kernel turns the peer's next bytes into a reset it reports.
         */
        other->stop = TRUE;
        flow_wake(other);
        shutdown_quietly(dst, QIO_CHANNEL_SHUTDOWN_BOTH);
        break;
    case QIOC_SHUT_CLOSE:
        /* The direction reading from dst ends with it. */
        other->stop = other->abort = TRUE;
        flow_wake(other);
        qio_channel_close(dst, NULL);
        break;
    case QIOC_SHUT_NONE:
        break;
    case QIOC_SHUT_NULL:
        send_empty_datagram(dst);
        break;
    }
}

static const char *flow_end_reason(const QiocFlow *f)
{
    if (f->failed) {
        return "failed";
    }
    if (f->eof) {
        return "end-of-file";
    }
    return f->readbytes_left == 0 ? "readbytes= reached" : "stopped";
}

/* -dd: how a direction ended, and what its destination got. */
static void log_flow_end(QiocFlow *f)
{
    const QiocPumpSide *dst = flow_dst(f);
    const char *why = flow_end_reason(f);

    if (f->failed || f->abort) {
        qioc_info(2,
                  "%d -> %d: %s after %" G_GUINT64_FORMAT " bytes; "
                  "address %d is not shut",
                  f->from + 1, f->to + 1, why, f->bytes, dst->index);
        return;
    }
    qioc_info(2,
              "%d -> %d: %s after %" G_GUINT64_FORMAT " bytes; "
              "shut=%s to address %d (%s)",
              f->from + 1, f->to + 1, why, f->bytes,
              shut_names[flow_cfg(f)->shut], dst->index, dst->name);
}

static void pump_finish(QiocPump *pump);
static void pump_end_sessions(QiocPump *pump);

static gboolean close_timeout_expired(gpointer data)
{
    QiocPump *pump = data;
    guint prev = qioc_log_conn_enter(pump->cfg.conn);

    pump->close_timer = 0;
    qioc_info(1, "close timeout: ending the other direction");
    qioc_pump_stop(pump, TRUE);
    qioc_log_conn_leave(prev);
    return G_SOURCE_REMOVE;
}

/*
 * Side @i is a pty master (PTY): a terminal has no half-close, so the
 * programs on the slave side never learn that the data going in ended,
 * and what goes in once they have closed it stays there.
 */
static gboolean pump_side_is_pty(QiocPump *pump, int i)
{
    int fd = qioc_channel_tty_fd(pump->side[i].ioc, TRUE);
    unsigned int n;

    if (fd < 0) {
        fd = qioc_channel_tty_fd(pump->side[i].ioc, FALSE);
    }
    return fd >= 0 && ioctl(fd, TIOCGPTN, &n) == 0;
}

/*
 * Flow @f reads what someone types on a terminal (STDIO, a tty device):
 * nothing tells them that the other direction has ended. A child's pty
 * is not one: the child's exit ends it.
 */
static gboolean flow_reads_terminal(QiocFlow *f)
{
    QIOChannel *ioc = f->pump->side[f->from].ioc;
    int fd = qioc_channel_tty_fd(ioc, TRUE);

    return fd >= 0 && !QIO_IS_CHANNEL_COMMAND(ioc) && isatty(fd);
}

/*
 * How long the direction left may go on once one has ended (-t). A
 * datagram source has no end of its own, a pty tells nobody of the end
 * of the other direction, and whoever types on a terminal cannot know
 * that the peer has gone: unless -t says otherwise they get socat's half
 * second for the answers to come. A direction that ended because the
 * terminal's input did (^D) still waits for the answer.
 */
static double pump_close_timeout(QiocPump *pump)
{
    if (pump->cfg.close_timeout >= 0) {
        return pump->cfg.close_timeout;
    }
    for (int i = 0; i < 2; i++) {
        QiocFlow *f = &pump->flow[i];

        if ((f->active && (f->dgram_source || flow_reads_terminal(f))) ||
            pump_side_is_pty(pump, i)) {
            return QIOC_DGRAM_CLOSE_TIMEOUT;
        }
    }
    return pump->cfg.close_timeout;
}

/*
 * One direction has ended: a direction that waits out ignoreeof's pause
 * looks again at once, so that what the ended one wrote just before (into
 * the very file the other reads, `FILE,ignoreeof!!FILE`) is read before a
 * short -t ends it.
 */
static void pump_look_again(QiocPump *pump)
{
    for (int i = 0; i < 2; i++) {
        QiocFlow *f = &pump->flow[i];

        /* From the loop, not nested in the coroutine that ended. */
        if (f->active && f->sleep_timer) {
            qioc_source_remove(f->sleep_timer);
            f->sleep_timer = qioc_timeout_add(0, flow_sleep_done, f);
        }
    }
}

static void pump_flow_ended(QiocPump *pump)
{
    gboolean all_done = !pump->flow[0].active && !pump->flow[1].active;

    if (all_done) {
        pump_finish(pump);
        return;
    }
    if (pump->status != QIOC_EXIT_OK) {
        /* A failed direction fails the transfer: end the other one. */
        qioc_pump_stop(pump, TRUE);
        return;
    }
    if (pump_close_timeout(pump) >= 0 && !pump->close_timer) {
        pump->close_timer =
            qioc_timeout_add((guint)(pump_close_timeout(pump) * 1000),
                             close_timeout_expired, pump);
    }
    pump_look_again(pump);
}

/* ---------------------------------------------------------------- splice */

/*
 * A terminal is copied, never spliced: the kernel would copy it anyway,
 * and only the channel's read knows that a pty master's EIO is its end.
 */
static gboolean flow_from_tty(QiocFlow *f)
{
    int fd = qioc_channel_tty_fd(f->pump->side[f->from].ioc, TRUE);

    return fd >= 0 && isatty(fd);
}

static gboolean flow_can_splice(QiocFlow *f)
{
    QiocPump *pump = f->pump;

    return pump->cfg.traffic == QIOC_TRAFFIC_OFF && f->record < 0 &&
           !flow_converts(f) && !flow_cfg(f)->has_escape && !f->dgram_source &&
           !f->dgram_dest && !flow_wants_fds(f) && f->readbytes_left < 0 &&
           (!f->send_fds || !f->send_fds->len) && !flow_cfg(f)->ignoreeof &&
           !flow_from_tty(f) &&
           qioc_channel_fd(pump->side[f->from].ioc, TRUE) >= 0 &&
           qioc_channel_fd(pump->side[f->to].ioc, FALSE) >= 0;
}

static gboolean splice_stopped(void *flow, gboolean writing)
{
    QiocFlow *f = flow;

    return writing ? f->abort : f->stop;
}

static void coroutine_fn splice_wait(void *flow, QIOChannel *ioc,
                                     GIOCondition cond)
{
    flow_yield(flow, ioc, cond);
}

static void splice_moved(void *flow, size_t n)
{
    QiocFlow *f = flow;

    f->bytes += n;
    pump_touch(f->pump);
}

static void splice_failed(void *flow, gboolean dst, int err, const char *op)
{
    QiocFlow *f = flow;
    g_autoptr(GError) error = g_error_new(
        G_IO_ERROR, g_io_error_from_errno(err), "%s: %s", op, g_strerror(err));

    flow_fail(f, dst ? f->to : f->from, error);
}

/* The destination refused splice mid-stream: copy what the pipe holds. */
static gboolean coroutine_fn splice_copy_out(void *flow, int pipe_rd,
                                             size_t len)
{
    QiocFlow *f = flow;
    ssize_t n;

    if (f->buf_size < len) {
        flow_buffer_drop(f);
    }
    if (!f->buf) {
        f->buf_size = MAX(f->pump->cfg.buffer_size, len);
        f->buf = buffer_new(f->buf_size);
    }
    n = read(pipe_rd, f->buf, len);
    return n == (ssize_t)len && flow_write(f, f->buf, len, NULL, 0);
}

static const QiocSpliceOps flow_splice_ops = {
    .stopped = splice_stopped,
    .wait = splice_wait,
    .moved = splice_moved,
    .failed = splice_failed,
    .copy_out = splice_copy_out,
};

static QiocSpliceEnd coroutine_fn flow_splice(QiocFlow *f)
{
    QiocSpliceEnd end;
    int pipe[2];

    if (!qioc_splice_pipe_open(pipe)) {
        return QIOC_SPLICE_FALLBACK;
    }
    qioc_info(2, "%d -> %d: splice(2), no copy", f->from + 1, f->to + 1);
    flow_buffer_drop(f);
    end = qioc_splice(f->pump->side[f->from].ioc, f->pump->side[f->to].ioc,
                      pipe, f->pump->cfg.buffer_size, &flow_splice_ops, f);
    close(pipe[0]);
    close(pipe[1]);
    if (end == QIOC_SPLICE_EOF) {
        f->eof = TRUE;
    }
    return end;
}

/*
 * A splice-capable flow copies until a read brings SPLICE_BULK_READ bytes
 * or more, then splices: a pipe costs four system calls to make and undo,
 * more than copying a short message (an HTTP request, an answer) takes.
 */
static QiocSpliceEnd coroutine_fn flow_copy_then_splice(QiocFlow *f)
{
    size_t bulk = MIN(SPLICE_BULK_READ, f->pump->cfg.buffer_size);

    qioc_info(2,
              "%d -> %d: copying, %" G_GSIZE_FORMAT "-byte buffer, "
              "until a read of %zu bytes or more",
              f->from + 1, f->to + 1, f->pump->cfg.buffer_size, bulk);
    while (flow_step(f)) {
        if ((size_t)f->last_read >= bulk) {
            return flow_splice(f);
        }
    }
    return QIOC_SPLICE_EOF;
}

static void coroutine_fn flow_run(void *opaque)
{
    QiocFlow *f = opaque;
    QiocSpliceEnd end = QIOC_SPLICE_FALLBACK;

    flow_log_enter(f);
    if (flow_can_splice(f)) {
        end = flow_copy_then_splice(f);
    } else {
        qioc_info(2, "%d -> %d: copying, %" G_GSIZE_FORMAT "-byte buffer",
                  f->from + 1, f->to + 1, f->pump->cfg.buffer_size);
    }
    while (end == QIOC_SPLICE_FALLBACK && flow_step(f)) {
        ;
    }
    log_flow_end(f);
    if (!f->failed && !f->abort) {
        flow_shut_destination(f);
    }
    flow_buffer_drop(f);
    g_clear_pointer(&f->conv, g_byte_array_unref);
    f->ended = g_get_monotonic_time();
    f->active = FALSE;
    pump_flow_ended(f->pump);
    flow_log_leave(f);
}

/* ---------------------------------------------------------------- timers */

static gboolean idle_timeout_check(gpointer data)
{
    QiocPump *pump = data;
    gint64 limit = (gint64)(pump->cfg.idle_timeout * G_USEC_PER_SEC);
    gint64 idle = g_get_monotonic_time() - pump->last_activity;

    if (idle >= limit) {
        guint prev = qioc_log_conn_enter(pump->cfg.conn);

        pump->idle_timer = 0;
        qioc_info(1, "idle timeout: no data for %g s", pump->cfg.idle_timeout);
        pump_end_sessions(pump);
        qioc_pump_stop(pump, TRUE);
        qioc_log_conn_leave(prev);
        return G_SOURCE_REMOVE;
    }
    pump->idle_timer = qioc_timeout_add((guint)((limit - idle) / 1000) + 1,
                                        idle_timeout_check, pump);
    return G_SOURCE_REMOVE;
}

static void pump_clear_timers(QiocPump *pump)
{
    if (pump->close_timer) {
        qioc_source_remove(pump->close_timer);
        pump->close_timer = 0;
    }
    if (pump->idle_timer) {
        qioc_source_remove(pump->idle_timer);
        pump->idle_timer = 0;
    }
}

/* ---------------------------------------------------------------- pump */

static void warn_dropped_fds(QiocPump *pump)
{
    for (int i = 0; i < 2; i++) {
        QiocFlow *f = &pump->flow[i];

        if (f->send_fds && f->send_fds->len > 0) {
            gboolean can = qio_channel_has_feature(pump->side[f->to].ioc,
                                                   QIO_CHANNEL_FEATURE_FD_PASS);
            g_autofree char *list = qioc_fd_list_text(f->send_fds);

            qioc_log_address(QIOC_LOG_WARNING, flow_dst(f)->index,
                             flow_dst(f)->name, "send-fds=%s were not sent: %s",
                             list,
                             can ? "no data was written to it"
                                 : "it cannot carry descriptors");
        }
        if (f->fds_closed > 0) {
            qioc_warning("closed %" G_GUINT64_FORMAT " descriptors that "
                         "address %d (%s) cannot carry",
                         f->fds_closed, flow_dst(f)->index, flow_dst(f)->name);
        }
    }
}

static void print_stats(QiocPump *pump)
{
    for (int i = 0; i < 2; i++) {
        QiocFlow *f = &pump->flow[i];
        double secs = f->started ? (f->ended - f->started) / 1e6 : 0;

        qioc_notice("stats: %d -> %d: %" G_GUINT64_FORMAT " bytes, "
                    "%" G_GUINT64_FORMAT " descriptors, %.3f s",
                    f->from + 1, f->to + 1, f->bytes, f->fds_passed, secs);
    }
}

/* -d: the end of a connection, with what it moved. */
static void log_closed(QiocPump *pump)
{
    qioc_info(1,
              "connection closed: %" G_GUINT64_FORMAT " bytes 1 -> 2, "
              "%" G_GUINT64_FORMAT " bytes 2 -> 1",
              pump->flow[0].bytes, pump->flow[1].bytes);
}

/* ---------------------------------------------------------------- settle */

/*
 * A child (EXEC, SYSTEM) that has not exited when its connection ends is
 * seen out by its channel's close: a grace period, then SIGTERM and
 * SIGKILL, each with a bounded wait (lib/channel-command.c). That close
 * runs in a thread of its own, so that the loop's other connections go on
 * meanwhile; the pump reports once it is over. A pump freed first (qioc
 * stopping) is let go of: the thread's close ends the child all the same.
 */
typedef struct QiocSettle {
    QiocPump *pump; /* NULL once the pump is freed */
    QIOChannel *ioc[2];
} QiocSettle;

/* A child of a command channel that has not exited (a zombie has). */
static gboolean side_child_running(QIOChannel *ioc)
{
    siginfo_t info = {0};
    GPid pid;

    if (!QIO_IS_CHANNEL_COMMAND(ioc)) {
        return FALSE;
    }
    pid = qio_channel_command_get_pid(QIO_CHANNEL_COMMAND(ioc));
    return pid > 0 &&
           waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == 0;
}

static void settle_worker(QIOTask *task, gpointer opaque)
{
    QiocSettle *s = opaque;

    for (int i = 0; i < 2; i++) {
        if (s->ioc[i]) {
            qio_channel_close(s->ioc[i], NULL);
        }
    }
}

static void pump_report(QiocPump *pump);

static void settle_done(QIOTask *task, gpointer opaque)
{
    QiocSettle *s = opaque;
    QiocPump *pump = s->pump;

    if (pump) {
        guint prev = qioc_log_conn_enter(pump->cfg.conn);

        pump->settle = NULL;
        pump_report(pump);
        qioc_log_conn_leave(prev);
    }
}

static void settle_free(gpointer opaque)
{
    QiocSettle *s = opaque;

    for (int i = 0; i < 2; i++) {
        g_clear_object(&s->ioc[i]);
    }
    g_free(s);
}

/* TRUE when a child is being seen out; pump_report() follows. */
static gboolean pump_settle(QiocPump *pump)
{
    QiocSettle *s = NULL;
    QIOTask *task;

    for (int i = 0; i < 2; i++) {
        if (side_child_running(pump->side[i].ioc)) {
            s = s ? s : g_new0(QiocSettle, 1);
            s->ioc[i] = g_object_ref(pump->side[i].ioc);
        }
    }
    if (!s) {
        return FALSE;
    }
    s->pump = pump;
    pump->settle = s;
    task = qio_task_new(NULL, settle_done, s, settle_free);
    qio_task_run_in_thread(task, settle_worker, s, NULL, qioc_context());
    return TRUE;
}

/* ---------------------------------------------------------------- report */

/*
 * Both directions and any lingering are over: note which sides were cut
 * off, see children out, then report and hand back.
 */
static void pump_complete(QiocPump *pump)
{
    for (int i = 0; i < 2; i++) {
        QiocPumpSide *side = &pump->side[i];
        const QiocFlow *from_side = &pump->flow[i];

        /* a child cut off is one still running when its output was */
        if (side->ioc && pump->cfg.flow[i].enabled && !from_side->eof &&
            !from_side->failed &&
            (!QIO_IS_CHANNEL_COMMAND(side->ioc) ||
             side_child_running(side->ioc))) {
            g_object_set_data(G_OBJECT(side->ioc), QIOC_PUMP_CUT_OFF,
                              GINT_TO_POINTER(1));
        }
    }
    if (!pump_settle(pump)) {
        pump_report(pump);
    }
}

static void pump_report(QiocPump *pump)
{
    /* A side's end (a child reaped, say) counts in the status read
     * before qioc_pump_free. */
    for (int i = 0; i < 2; i++) {
        QiocPumpSide *side = &pump->side[i];

        if (side->finish && !side->finish(side->ioc, side->finish_data)) {
            pump->status = QIOC_EXIT_FAILURE;
        }
    }
    log_closed(pump);
    warn_dropped_fds(pump);
    if (pump->cfg.stats) {
        print_stats(pump);
    }
    pump->done(pump, pump->opaque);
}

/* ---------------------------------------------------------------- linger */

/*
 * Closing a socket that still holds unread input makes the kernel send a
 * reset, and a reset makes the peer drop what it has not read yet: the end
 * of our data. So a socket whose input no direction read (the unused one
 * of -u/-U) is drained, up to the peer's end-of-file or a short time,
 * before it is closed.
 */
#define LINGER_SECONDS 1.0

static void linger_end(QiocPump *pump)
{
    for (int i = 0; i < 2; i++) {
        if (pump->linger[i].watch) {
            qioc_source_remove(pump->linger[i].watch);
            pump->linger[i].watch = 0;
        }
    }
    if (pump->linger_timer) {
        qioc_source_remove(pump->linger_timer);
        pump->linger_timer = 0;
    }
}

static void linger_check(QiocPump *pump)
{
    if (!pump->linger[0].watch && !pump->linger[1].watch) {
        guint prev = qioc_log_conn_enter(pump->cfg.conn);

        linger_end(pump);
        pump_complete(pump);
        qioc_log_conn_leave(prev);
    }
}

static gboolean linger_readable(QIOChannel *ioc, GIOCondition cond,
                                gpointer data)
{
    QiocLinger *l = data;
    char scratch[16384];
    ssize_t n;

    do {
        n = qio_channel_read(ioc, scratch, sizeof(scratch), NULL);
    } while (n > 0);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        return G_SOURCE_CONTINUE;
    }
    l->watch = 0;
    linger_check(l->pump);
    return G_SOURCE_REMOVE;
}

static gboolean linger_expired(gpointer data)
{
    QiocPump *pump = data;
    guint prev = qioc_log_conn_enter(pump->cfg.conn);

    pump->linger_timer = 0;
    linger_end(pump);
    pump_complete(pump);
    qioc_log_conn_leave(prev);
    return G_SOURCE_REMOVE;
}

static gboolean linger_wanted(QiocPump *pump, int i)
{
    QIOChannel *ioc = pump->side[i].ioc;
    const QiocFlow *f = &pump->flow[i];

    /* Only sockets reset; only input that no direction read is at risk. */
    return pump->status == QIOC_EXIT_OK && !f->started && !f->stop &&
           (QIO_IS_CHANNEL_SOCKET(ioc) || QIO_IS_CHANNEL_TLS(ioc));
}

/* Start draining where needed; FALSE when there is nothing to wait for. */
static gboolean linger_start(QiocPump *pump)
{
    double secs =
        pump->cfg.close_timeout >= 0 ? pump->cfg.close_timeout : LINGER_SECONDS;

    for (int i = 0; i < 2; i++) {
        if (!linger_wanted(pump, i)) {
            continue;
        }
        pump->linger[i].pump = pump;
        pump->linger[i].watch = qio_channel_add_watch_full(
            pump->side[i].ioc, G_IO_IN, linger_readable, &pump->linger[i], NULL,
            qioc_context());
    }
    if (!pump->linger[0].watch && !pump->linger[1].watch) {
        return FALSE;
    }
    pump->linger_timer =
        qioc_timeout_add((guint)(secs * 1000), linger_expired, pump);
    return TRUE;
}

/*
 * A datagram session (UDP-LISTEN,fork) that is ending lets go of its
 * sender at once: a datagram that arrives before the teardown is over
 * starts a new session instead of going to this one, which would drop it.
 */
static void pump_end_sessions(QiocPump *pump)
{
    for (int i = 0; i < 2; i++) {
        QIOChannel *ioc = pump->side[i].ioc;

        if (QIO_IS_CHANNEL_DATAGRAM_PEER(ioc)) {
            qio_channel_datagram_peer_end(QIO_CHANNEL_DATAGRAM_PEER(ioc));
        }
    }
}

static void pump_finish(QiocPump *pump)
{
    if (pump->finished) {
        return;
    }
    pump->finished = TRUE;
    pump_end_sessions(pump);
    pump_clear_timers(pump);
    if (!linger_start(pump)) {
        pump_complete(pump);
    }
}

static void flow_start(QiocPump *pump, int from)
{
    QiocFlow *f = &pump->flow[from];
    const QiocFlowConfig *cfg = &pump->cfg.flow[from];

    f->pump = pump;
    f->from = from;
    f->to = !from;
    /* readbytes=0 is no limit, as in socat (it tests the value for 0). */
    f->readbytes_left = cfg->readbytes > 0 ? cfg->readbytes : -1;
    /* A copy: the list is offered once per connection, then emptied. */
    f->send_fds = cfg->send_fds ? g_array_copy(cfg->send_fds) : NULL;
    if (!cfg->enabled) {
        return;
    }
    f->plain_source = qioc_channel_fd(pump->side[from].ioc, TRUE) >= 0;
    f->dgram_source = qioc_channel_is_datagram(pump->side[from].ioc, TRUE);
    f->dgram_dest = qioc_channel_is_datagram(pump->side[!from].ioc, FALSE);
    f->active = TRUE;
    f->started = g_get_monotonic_time();
    f->co = qio_coroutine_create(flow_run, f);
}

/* -r/-R, appended to as socat does; FALSE (reported) if one cannot open. */
static gboolean pump_open_records(QiocPump *pump)
{
    for (int i = 0; i < 2; i++) {
        pump->flow[i].from = i;
        pump->flow[i].to = !i;
        pump->flow[i].record = -1;
    }
    for (int i = 0; i < 2; i++) {
        const char *path = pump->cfg.flow[i].record;
        QiocFlow *f = &pump->flow[i];

        if (!path || !pump->cfg.flow[i].enabled) {
            continue;
        }
        f->record = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0664);
        if (f->record < 0) {
            qioc_error("%s %s: %s", i == 0 ? "-r" : "-R", path,
                       g_strerror(errno));
            return FALSE;
        }
    }
    return TRUE;
}

QiocPump *qioc_pump_start(const QiocPumpSide side[2], const QiocPumpConfig *cfg,
                          QiocPumpDone *done, void *opaque)
{
    QiocPump *pump = g_new0(QiocPump, 1);

    pump->cfg = *cfg;
    pump->side[0] = side[0];
    pump->side[1] = side[1];
    pump->done = done;
    pump->opaque = opaque;
    pump_touch(pump);
    if (!pump_open_records(pump)) {
        pump->status = QIOC_EXIT_FAILURE;
        for (int i = 0; i < 2; i++) {
            pump->cfg.flow[i].send_fds = NULL;
        }
        pump_finish(pump);
        return pump;
    }
    for (int i = 0; i < 2; i++) {
        qio_channel_set_blocking(pump->side[i].ioc, false, NULL);
        flow_start(pump, i);
        /* The flow holds its own copy: the caller's list is not kept. */
        pump->cfg.flow[i].send_fds = NULL;
    }
    if (cfg->idle_timeout > 0) {
        pump->idle_timer = qioc_timeout_add((guint)(cfg->idle_timeout * 1000),
                                            idle_timeout_check, pump);
    }
    for (int i = 0; i < 2; i++) {
        if (pump->flow[i].co) {
            qio_coroutine_enter(pump->flow[i].co);
        }
    }
    if (!pump->flow[0].active && !pump->flow[1].active) {
        pump_finish(pump);
    }
    return pump;
}

void qioc_pump_stop(QiocPump *pump, gboolean hard)
{
    if (pump->linger_timer) {
        /* Only draining was left: a signal ends it now. */
        linger_end(pump);
        pump_complete(pump);
        return;
    }
    for (int i = 0; i < 2; i++) {
        QiocFlow *f = &pump->flow[i];

        f->stop = TRUE;
        f->abort |= hard;
    }
    for (int i = 0; i < 2; i++) {
        QiocFlow *f = &pump->flow[i];

        /* A soft stop lets a pending write finish: wake readers only. */
        if (hard || f->waiting == G_IO_IN) {
            flow_wake(f);
        }
    }
}

int qioc_pump_status(const QiocPump *pump)
{
    return pump->status;
}

void qioc_pump_free(QiocPump *pump)
{
    if (!pump) {
        return;
    }
    pump_clear_timers(pump);
    linger_end(pump);
    if (pump->settle) {
        pump->settle->pump = NULL;
    }
    for (int i = 0; i < 2; i++) {
        QIOChannel *ioc = pump->side[i].ioc;

        g_clear_pointer(&pump->flow[i].send_fds, g_array_unref);
        if (pump->flow[i].record >= 0) {
            close(pump->flow[i].record);
        }
        /* Leave shared descriptors (a terminal, say) as we found them. */
        if (pump->side[i].inherited) {
            qio_channel_set_blocking(ioc, true, NULL);
        }
        qio_channel_close(ioc, NULL);
        g_object_unref(ioc);
    }
    g_free(pump);
}

guint64 qioc_pump_bytes(const QiocPump *pump, int from)
{
    return pump->flow[from].bytes;
}
