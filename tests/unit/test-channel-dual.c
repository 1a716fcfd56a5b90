/*
 * Unit tests for QIOChannelDual: reading from one channel, writing to
 * another, through one channel.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <gio/gio.h>

#include "qio/qio.h"
#include "test-util.h"

/*
 * Two pipes and a dual channel over them: the dual reads pipe "in" and
 * writes pipe "out"; @feed writes "in", @drain reads "out".
 */
typedef struct {
    QIOChannel *dual;
    QIOChannel *feed;
    QIOChannel *drain;
} Pipes;

static void pipes_open(Pipes *p)
{
    int in[2], out[2];
    g_autoptr(QIOChannel) reader = NULL;
    g_autoptr(QIOChannel) writer = NULL;

    qio_test_make_pipe(in);
    qio_test_make_pipe(out);
    reader = QIO_CHANNEL(qio_channel_file_new_fd(in[0]));
    writer = QIO_CHANNEL(qio_channel_file_new_fd(out[1]));
    p->dual = QIO_CHANNEL(qio_channel_dual_new(reader, writer));
    p->feed = QIO_CHANNEL(qio_channel_file_new_fd(in[1]));
    p->drain = QIO_CHANNEL(qio_channel_file_new_fd(out[0]));
}

static void pipes_close(Pipes *p)
{
    g_clear_object(&p->dual);
    g_clear_object(&p->feed);
    g_clear_object(&p->drain);
}

/* Reads come from the reader, writes go to the writer, many MiB each. */
static void test_transfer(void)
{
    Pipes p;
    QIOTestTransfer in = {.nonblocking = true};
    QIOTestTransfer out = {0};

    char c;

    pipes_open(&p);
    /* Non-blocking, an empty reader says so (the transfer below may or
     * may not meet that case, depending on how the threads run). */
    qio_test_set_blocking(p.dual, false);
    g_assert_cmpint(qio_channel_read(p.dual, &c, 1, NULL), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    qio_test_transfer(p.feed, p.dual, &in);
    qio_test_transfer(p.dual, p.drain, &out);
    pipes_close(&p);
}

/* Each direction ends on its own half, as the pump ends them. */
static void test_shutdown(void)
{
    Pipes p;
    g_autoptr(GError) err = NULL;
    char c;

    pipes_open(&p);
    qio_test_write_str(p.feed, "still readable");
    g_assert_cmpint(
        qio_channel_shutdown(p.dual, QIO_CHANNEL_SHUTDOWN_WRITE, &err), ==, 0);
    g_assert_no_error(err);
    qio_test_read_eof(p.drain);
    g_assert_cmpint(qio_channel_write(p.dual, "x", 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    g_clear_error(&err);
    /* Reading is untouched by the end of writing. */
    qio_test_read_str(p.dual, "still readable");
    g_assert_cmpint(
        qio_channel_shutdown(p.dual, QIO_CHANNEL_SHUTDOWN_READ, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_read(p.dual, &c, 1, &err), ==, 0);
    g_assert_no_error(err);
    pipes_close(&p);
}

/* Closing the dual channel closes both halves' descriptors. */
static void test_close(void)
{
    Pipes p;
    g_autoptr(GError) err = NULL;
    QIOChannelDual *dual;
    int rfd, wfd;

    pipes_open(&p);
    dual = QIO_CHANNEL_DUAL(p.dual);
    rfd = qio_channel_file_get_read_fd(
        QIO_CHANNEL_FILE(qio_channel_dual_get_reader(dual)));
    wfd = qio_channel_file_get_write_fd(
        QIO_CHANNEL_FILE(qio_channel_dual_get_writer(dual)));
    g_assert_true(qio_test_fd_is_open(rfd) && qio_test_fd_is_open(wfd));
    g_assert_cmpint(qio_channel_close(p.dual, &err), ==, 0);
    g_assert_no_error(err);
    qio_test_read_eof(p.drain);
    /* The feed's reader is gone: writing it fails with EPIPE. */
    g_assert_cmpint(qio_channel_write(p.feed, "x", 1, &err), ==, -1);
    g_assert_nonnull(err);
    pipes_close(&p);
}

static gboolean watch_or(QIOChannel *ioc, GIOCondition cond, gpointer data)
{
    *(GIOCondition *)data |= cond;
    return G_SOURCE_CONTINUE;
}

/* Run the default context until *@cond has every bit of @want. */
static void wait_for(GIOCondition *cond, GIOCondition want)
{
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while ((*cond & want) != want) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_main_context_iteration(NULL, TRUE);
    }
}

/*
 * A watch on one direction reports that half; on both, what either half
 * reports, merged, with the dual channel as the callback's channel.
 */
static void test_watch(void)
{
    Pipes p;
    GIOCondition cond = 0;
    GSource *both;
    guint id;

    pipes_open(&p);
    /* The writer's pipe is empty, hence writable; the reader's is empty. */
    both = qio_channel_create_watch(p.dual, G_IO_IN | G_IO_OUT);
    g_source_set_callback(both, (GSourceFunc)(void (*)(void))watch_or, &cond,
                          NULL);
    g_source_attach(both, NULL);
    wait_for(&cond, G_IO_OUT);
    g_assert_false(cond & G_IO_IN);
    qio_test_write_str(p.feed, "x");
    cond = 0;
    wait_for(&cond, G_IO_IN);
    g_source_destroy(both);
    g_source_unref(both);

    cond = 0;
    id = qio_channel_add_watch(p.dual, G_IO_IN, watch_or, &cond, NULL);
    wait_for(&cond, G_IO_IN);
    g_source_remove(id);
    pipes_close(&p);
}

typedef struct {
    QIOChannel *ioc;
    char buf[64];
    size_t len;
    unsigned yields;
    bool done;
} CoRead;

/* The pump's pattern: read, and yield on the dual channel when empty. */
static void coroutine_fn co_read(void *opaque)
{
    CoRead *r = opaque;

    while (r->len < 5) {
        g_autoptr(GError) err = NULL;
        ssize_t n = qio_channel_read(r->ioc, r->buf + r->len,
                                     sizeof(r->buf) - r->len, &err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            r->yields++;
            qio_channel_yield(r->ioc, G_IO_IN);
            continue;
        }
        g_assert_no_error(err);
        g_assert_cmpint(n, >, 0);
        r->len += (size_t)n;
    }
    r->done = true;
}

static gboolean feed_later(gpointer data)
{
    qio_test_write_str(data, "hello");
    return G_SOURCE_REMOVE;
}

/* qio_channel_yield(G_IO_IN) waits on the reader and wakes on its data. */
static void test_yield(void)
{
    Pipes p;
    CoRead r = {0};
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    pipes_open(&p);
    qio_test_set_blocking(p.dual, false);
    r.ioc = p.dual;
    qio_coroutine_enter(qio_coroutine_create(co_read, &r));
    g_assert_false(r.done);
    g_idle_add(feed_later, p.feed);
    while (!r.done) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_cmpuint(r.yields, >, 0);
    g_assert_cmpmem(r.buf, r.len, "hello", 5);
    pipes_close(&p);
}

static void socket_pair(QIOChannel **a, QIOChannel **b)
{
    g_autoptr(GError) err = NULL;
    int sv[2];

    g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    *a = QIO_CHANNEL(qio_channel_socket_new_fd(sv[0], &err));
    g_assert_no_error(err);
    *b = QIO_CHANNEL(qio_channel_socket_new_fd(sv[1], &err));
    g_assert_no_error(err);
}

/* Receive one byte and the descriptors with it; return the first. */
static int recv_one_fd(QIOChannel *ioc)
{
    g_autoptr(GError) err = NULL;
    g_autofree int *fds = NULL;
    size_t nfds = 0;
    char c;
    struct iovec iov = {&c, 1};

    g_assert_cmpint(qio_channel_readv_full(ioc, &iov, 1, &fds, &nfds, 0, &err),
                    ==, 1);
    g_assert_no_error(err);
    g_assert_cmpuint(nfds, ==, 1);
    return fds[0];
}

/* A descriptor that works: one end of a pipe with @text in it. */
static int pipe_with(const char *text)
{
    int fds[2];

    qio_test_make_pipe(fds);
    g_assert_cmpint(write(fds[1], text, strlen(text)), ==, strlen(text));
    close(fds[1]);
    return fds[0];
}

static void assert_fd_reads(int fd, const char *text)
{
    char buf[32] = {0};

    g_assert_cmpint(read(fd, buf, sizeof(buf)), ==, strlen(text));
    g_assert_cmpstr(buf, ==, text);
    close(fd);
}

/*
 * Two unix sockets: descriptors are received from the reader and sent on
 * the writer, and they arrive working.
 */
static void test_fd_pass(void)
{
    g_autoptr(QIOChannel) r = NULL, rpeer = NULL, w = NULL, wpeer = NULL;
    g_autoptr(QIOChannelDual) dual = NULL;
    g_autoptr(GError) err = NULL;
    int fd = pipe_with("sent");
    struct iovec iov = {"x", 1};

    socket_pair(&r, &rpeer);
    socket_pair(&w, &wpeer);
    dual = qio_channel_dual_new(r, w);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(dual),
                                          QIO_CHANNEL_FEATURE_FD_PASS));
    g_assert_cmpint(
        qio_channel_writev_full(QIO_CHANNEL(dual), &iov, 1, &fd, 1, 0, &err),
        ==, 1);
    g_assert_no_error(err);
    close(fd);
    assert_fd_reads(recv_one_fd(wpeer), "sent");

    fd = pipe_with("received");
    g_assert_cmpint(qio_channel_writev_full(rpeer, &iov, 1, &fd, 1, 0, &err),
                    ==, 1);
    g_assert_no_error(err);
    close(fd);
    assert_fd_reads(recv_one_fd(QIO_CHANNEL(dual)), "received");
}

/* Descriptors pass only when both halves can carry them. */
static void test_fd_pass_one_half(void)
{
    g_autoptr(QIOChannel) s = NULL, peer = NULL, file = NULL;
    g_autoptr(QIOChannelDual) a = NULL, b = NULL;
    int fds[2];

    socket_pair(&s, &peer);
    qio_test_make_pipe(fds);
    close(fds[0]);
    file = QIO_CHANNEL(qio_channel_file_new_fd(fds[1]));
    a = qio_channel_dual_new(s, file);
    b = qio_channel_dual_new(file, s);
    g_assert_false(
        qio_channel_has_feature(QIO_CHANNEL(a), QIO_CHANNEL_FEATURE_FD_PASS));
    g_assert_false(
        qio_channel_has_feature(QIO_CHANNEL(b), QIO_CHANNEL_FEATURE_FD_PASS));
    g_assert_true(
        qio_channel_has_feature(QIO_CHANNEL(a), QIO_CHANNEL_FEATURE_SHUTDOWN));
}

static const QIOTestCase cases[] = {
    {"/dual/transfer", test_transfer},
    {"/dual/shutdown", test_shutdown},
    {"/dual/close", test_close},
    {"/dual/watch", test_watch},
    {"/dual/yield", test_yield},
    {"/dual/fd-pass", test_fd_pass},
    {"/dual/fd-pass/one-half", test_fd_pass_one_half},
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* A write to a pipe without reader must fail, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    /* GLib opens the default context's wakeup fd once; do it up front. */
    g_main_context_default();
    qio_test_add_cases(cases, G_N_ELEMENTS(cases), NULL);
    return g_test_run();
}
