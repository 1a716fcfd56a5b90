/*
 * libqio unit tests - the QIOChannel base class
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What every channel gets from lib/channel.c: the feature checks of the
 * public wrappers, qio_channel_new_fd(), names, watches, qio_channel_wait(),
 * the *_all loops (waiting outside coroutines, yielding inside them), the
 * handler machinery under qio_channel_yield() (wake_read, attach/detach,
 * qio_channel_set_aio_fd_handler()) and close. Real descriptors throughout:
 * pipes and AF_UNIX socketpairs; a minimal channel class defined here
 * checks what the wrappers do when optional methods are missing.
 *
 * Leaks of sources show up as channels that never die: watches and
 * handler sources hold a reference on their channel, so most cases end
 * with unref_and_check_freed().
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include "qio/channel-file.h"
#include "qio/channel-tls.h"
#include "qio/channel-socket.h"
#include "qio/channel-util.h"
#include "qio/channel-watch.h"
#include "test-util.h"

#define MiB (1024 * 1024)

/* ---------------------------------------------------------------- helpers */

/* One-way channels over a pipe, so that shutting the writer means EOF. */
static void pipe_channels(QIOChannel **rd, QIOChannel **wr)
{
    int fds[2];

    g_assert_no_errno(pipe(fds));
    *rd = QIO_CHANNEL(qio_channel_file_new_fd_pair(fds[0], -1));
    *wr = QIO_CHANNEL(qio_channel_file_new_fd_pair(-1, fds[1]));
}

static void socket_channels(QIOChannel **a, QIOChannel **b)
{
    g_autoptr(GError) err = NULL;
    int fds[2];

    g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
    *a = QIO_CHANNEL(qio_channel_socket_new_fd(fds[0], &err));
    g_assert_no_error(err);
    *b = QIO_CHANNEL(qio_channel_socket_new_fd(fds[1], &err));
    g_assert_no_error(err);
}

/* Drop what must be the last reference to @ioc and check it is gone. */
static void unref_and_check_freed(QIOChannel *ioc)
{
    gpointer weak = ioc;

    g_object_add_weak_pointer(G_OBJECT(ioc), &weak);
    g_object_unref(ioc);
    if (weak) {
        g_error("channel %p outlived its last reference: a source or a "
                "handler still holds it",
                weak);
    }
}

/* Dispatch everything ready in @ctx, without blocking. */
static void drain_context(GMainContext *ctx)
{
    while (g_main_context_iteration(ctx, FALSE)) {
    }
}

/* Poll @ctx a few times without blocking: for "nothing happens" checks. */
static void poll_context(GMainContext *ctx)
{
    for (int i = 0; i < 5; i++) {
        g_main_context_iteration(ctx, FALSE);
    }
}

/* Wait on @cond until *@flag is set, at most QIO_TEST_LOOP_TIMEOUT_S. */
static void wait_flag(GMutex *lock, GCond *cond, const bool *flag)
{
    gint64 deadline =
        g_get_monotonic_time() + QIO_TEST_LOOP_TIMEOUT_S * G_TIME_SPAN_SECOND;

    g_mutex_lock(lock);
    while (!*flag) {
        if (!g_cond_wait_until(cond, lock, deadline)) {
            g_error("%s: timed out waiting for another thread",
                    g_test_get_path());
        }
    }
    g_mutex_unlock(lock);
}

static void set_flag(GMutex *lock, GCond *cond, bool *flag)
{
    g_mutex_lock(lock);
    *flag = true;
    g_cond_broadcast(cond);
    g_mutex_unlock(lock);
}

/* Write into a non-blocking channel until it would block. */
static size_t fill_channel(QIOChannel *ioc)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *chunk = g_malloc0(65536);
    size_t total = 0;
    ssize_t n;

    while ((n = qio_channel_write(ioc, chunk, 65536, &err)) > 0) {
        total += n;
    }
    g_assert_no_error(err);
    g_assert_cmpint(n, ==, QIO_CHANNEL_ERR_BLOCK);
    return total;
}

/* Read a non-blocking raw descriptor until it would block. */
static size_t drain_fd(int fd)
{
    char buf[4096];
    size_t total = 0;
    ssize_t n;

    g_assert_no_errno(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        total += n;
    }
    g_assert_cmpint(n, ==, -1);
    g_assert_cmpint(errno, ==, EAGAIN);
    return total;
}

/* A descriptor received over a socket works: write through it, read back. */
static void check_pipe_write_end(int received, int readfd, const char *msg)
{
    char buf[32] = {0};

    g_assert_cmpint(write(received, msg, strlen(msg)), ==, strlen(msg));
    g_assert_cmpint(read(readfd, buf, sizeof(buf) - 1), ==, strlen(msg));
    g_assert_cmpstr(buf, ==, msg);
}

/* ------------------------------------------------- a minimal channel class */

/*
 * A channel over one descriptor with the mandatory methods only
 * (TEST_CHAN_MIN), or with every optional one too (TEST_CHAN_OPT), which
 * count their calls. It shows what the wrappers do before (and instead
 * of) calling into a subclass. TEST_CHAN_FWD forwards its handlers to an
 * inner channel over the same socket, as layered channels (TLS) do.
 */
typedef enum {
    TEST_CHAN_MIN,
    TEST_CHAN_OPT,
    TEST_CHAN_FWD,
} TestChanKind;

typedef struct {
    QIOChannel parent;
    int fd;
    QIOChannel *inner; /* TEST_CHAN_FWD: where the handlers go */
    unsigned readv_calls;
    unsigned writev_calls;
    int last_flags;
    unsigned shutdown_calls;
    unsigned seek_calls;
    unsigned flush_calls;
    unsigned cork_calls;
    unsigned delay_calls;
    bool cork;
    bool delay;
} TestChan;

#define TEST_CHAN(obj) ((TestChan *)(obj))

static GObjectClass *test_chan_parent_class;

static ssize_t test_chan_result(ssize_t n, GError **errp)
{
    if (n < 0 && errno == EAGAIN) {
        return QIO_CHANNEL_ERR_BLOCK;
    }
    if (n < 0) {
        g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(errno), "%s",
                    g_strerror(errno));
    }
    return n;
}

static ssize_t test_chan_readv(QIOChannel *ioc, const struct iovec *iov,
                               size_t niov, int **fds, size_t *nfds, int flags,
                               GError **errp)
{
    TestChan *t = TEST_CHAN(ioc);

    t->readv_calls++;
    t->last_flags = flags;
    return test_chan_result(readv(t->fd, iov, (int)niov), errp);
}

static ssize_t test_chan_writev(QIOChannel *ioc, const struct iovec *iov,
                                size_t niov, int *fds, size_t nfds, int flags,
                                GError **errp)
{
    TestChan *t = TEST_CHAN(ioc);

    t->writev_calls++;
    t->last_flags = flags;
    return test_chan_result(writev(t->fd, iov, (int)niov), errp);
}

static int test_chan_close(QIOChannel *ioc, GError **errp)
{
    TestChan *t = TEST_CHAN(ioc);

    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    return 0;
}

static GSource *test_chan_create_watch(QIOChannel *ioc, GIOCondition cond)
{
    return qio_channel_create_fd_watch(ioc, TEST_CHAN(ioc)->fd, cond);
}

static int test_chan_set_blocking(QIOChannel *ioc, bool enabled, GError **errp)
{
    int fd = TEST_CHAN(ioc)->fd;
    int flags = fcntl(fd, F_GETFL);

    flags = enabled ? flags & ~O_NONBLOCK : flags | O_NONBLOCK;
    return test_chan_result(fcntl(fd, F_SETFL, flags), errp);
}

static int test_chan_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                              GError **errp)
{
    TEST_CHAN(ioc)->shutdown_calls++;
    return 0;
}

static off_t test_chan_seek(QIOChannel *ioc, off_t offset, int whence,
                            GError **errp)
{
    TEST_CHAN(ioc)->seek_calls++;
    return offset + 1;
}

static int test_chan_flush(QIOChannel *ioc, GError **errp)
{
    TEST_CHAN(ioc)->flush_calls++;
    return 1;
}

static void test_chan_set_cork(QIOChannel *ioc, bool enabled)
{
    TEST_CHAN(ioc)->cork_calls++;
    TEST_CHAN(ioc)->cork = enabled;
}

static void test_chan_set_delay(QIOChannel *ioc, bool enabled)
{
    TEST_CHAN(ioc)->delay_calls++;
    TEST_CHAN(ioc)->delay = enabled;
}

static void test_chan_forward_handlers(QIOChannel *ioc, GMainContext *ctx,
                                       IOHandler *io_read, IOHandler *io_write,
                                       void *opaque)
{
    qio_channel_set_aio_fd_handler(TEST_CHAN(ioc)->inner, ctx, io_read,
                                   io_write, opaque);
}

static void test_chan_finalize(GObject *obj)
{
    test_chan_close(QIO_CHANNEL(obj), NULL);
    g_clear_object(&TEST_CHAN(obj)->inner);
    test_chan_parent_class->finalize(obj);
}

static void test_chan_init(GTypeInstance *instance, gpointer klass)
{
    TEST_CHAN(instance)->fd = -1;
}

static void test_chan_class_init_min(gpointer klass, gpointer data)
{
    GObjectClass *oclass = G_OBJECT_CLASS(klass);
    QIOChannelClass *cclass = QIO_CHANNEL_CLASS(klass);

    test_chan_parent_class = g_type_class_peek_parent(klass);
    oclass->finalize = test_chan_finalize;
    cclass->io_readv = test_chan_readv;
    cclass->io_writev = test_chan_writev;
    cclass->io_close = test_chan_close;
    cclass->io_create_watch = test_chan_create_watch;
    cclass->io_set_blocking = test_chan_set_blocking;
}

static void test_chan_class_init_opt(gpointer klass, gpointer data)
{
    QIOChannelClass *cclass = QIO_CHANNEL_CLASS(klass);

    test_chan_class_init_min(klass, data);
    cclass->io_shutdown = test_chan_shutdown;
    cclass->io_seek = test_chan_seek;
    cclass->io_flush = test_chan_flush;
    cclass->io_set_cork = test_chan_set_cork;
    cclass->io_set_delay = test_chan_set_delay;
}

static void test_chan_class_init_fwd(gpointer klass, gpointer data)
{
    test_chan_class_init_min(klass, data);
    QIO_CHANNEL_CLASS(klass)->io_set_aio_fd_handler =
        test_chan_forward_handlers;
}

static GType test_chan_get_type(TestChanKind kind)
{
    static const char *const names[] = {"TestChanMin", "TestChanOpt",
                                        "TestChanFwd"};
    static const GClassInitFunc inits[] = {test_chan_class_init_min,
                                           test_chan_class_init_opt,
                                           test_chan_class_init_fwd};
    static gsize types[3];

    if (g_once_init_enter(&types[kind])) {
        GType t = g_type_register_static_simple(
            QIO_TYPE_CHANNEL, names[kind], sizeof(QIOChannelClass), inits[kind],
            sizeof(TestChan), test_chan_init, 0);

        g_once_init_leave(&types[kind], t);
    }
    return types[kind];
}

static TestChan *test_chan_new(TestChanKind kind, int fd)
{
    TestChan *t = g_object_new(test_chan_get_type(kind), NULL);

    t->fd = fd;
    return t;
}

/* ---------------------------------------------------------------- 1: checks */

/* Without optional methods the wrappers refuse or do nothing, safely. */
static void test_base_missing_methods(void)
{
    g_autoptr(GError) err = NULL;
    int p[2];
    TestChan *t;
    QIOChannel *ioc;
    char c = 'x';

    g_assert_no_errno(pipe(p));
    t = test_chan_new(TEST_CHAN_MIN, p[1]);
    ioc = QIO_CHANNEL(t);

    for (int f = QIO_CHANNEL_FEATURE_FD_PASS;
         f <= QIO_CHANNEL_FEATURE_READ_MSG_PEEK; f++) {
        g_assert_false(qio_channel_has_feature(ioc, f));
    }

    /* A feature bit is not enough: there is no io_shutdown to call. */
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN);
    g_assert_true(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN));
    g_assert_false(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_LISTEN));
    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_BOTH, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);

    g_assert_cmpint(qio_channel_io_seek(ioc, 0, SEEK_SET, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);

    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY);
    g_assert_cmpint(qio_channel_flush(ioc, &err), ==, 0);
    g_assert_no_error(err);

    qio_channel_set_cork(ioc, true);
    qio_channel_set_delay(ioc, false);

    /* The channel still works after all that. */
    g_assert_cmpint(qio_channel_write(ioc, &c, 1, &err), ==, 1);
    g_assert_no_error(err);
    g_assert_cmpint(read(p[0], &c, 1), ==, 1);
    g_assert_cmpint(c, ==, 'x');

    g_assert_cmpint(qio_channel_close(ioc, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(t->fd, ==, -1);
    unref_and_check_freed(ioc);
    close(p[0]);
}

/* Unsupported descriptors and flags never reach io_readv / io_writev. */
static void test_base_flag_checks(void)
{
    g_autoptr(GError) err = NULL;
    int p[2];
    TestChan *rt;
    TestChan *wt;
    QIOChannel *rd;
    QIOChannel *wr;
    int dummy;
    int *fds = &dummy;
    size_t nfds = 42;
    int sendfd = 0;
    char c = 'y';
    struct iovec iov = {.iov_base = &c, .iov_len = 1};

    g_assert_no_errno(pipe(p));
    rt = test_chan_new(TEST_CHAN_MIN, p[0]);
    wt = test_chan_new(TEST_CHAN_MIN, p[1]);
    rd = QIO_CHANNEL(rt);
    wr = QIO_CHANNEL(wt);

    g_assert_cmpint(qio_channel_writev_full(wr, &iov, 1, &sendfd, 1, 0, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_writev_full(wr, &iov, 1, NULL, 0,
                                            QIO_CHANNEL_WRITE_FLAG_ZERO_COPY,
                                            &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpuint(wt->writev_calls, ==, 0);

    /* With the feature, the flag goes through to the subclass. */
    qio_channel_set_feature(wr, QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY);
    g_assert_cmpint(qio_channel_writev_full(wr, &iov, 1, NULL, 0,
                                            QIO_CHANNEL_WRITE_FLAG_ZERO_COPY,
                                            &err),
                    ==, 1);
    g_assert_no_error(err);
    g_assert_cmpuint(wt->writev_calls, ==, 1);
    g_assert_cmpint(wt->last_flags, ==, QIO_CHANNEL_WRITE_FLAG_ZERO_COPY);

    g_assert_cmpint(qio_channel_readv_full(rd, &iov, 1, &fds, &nfds, 0, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_null(fds);
    g_assert_cmpuint(nfds, ==, 0);
    g_assert_cmpint(qio_channel_readv_full(rd, &iov, 1, NULL, NULL,
                                           QIO_CHANNEL_READ_FLAG_MSG_PEEK,
                                           &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpuint(rt->readv_calls, ==, 0);

    qio_channel_set_feature(rd, QIO_CHANNEL_FEATURE_READ_MSG_PEEK);
    c = 0;
    g_assert_cmpint(qio_channel_readv_full(rd, &iov, 1, NULL, NULL,
                                           QIO_CHANNEL_READ_FLAG_MSG_PEEK,
                                           &err),
                    ==, 1);
    g_assert_no_error(err);
    g_assert_cmpint(c, ==, 'y');
    g_assert_cmpuint(rt->readv_calls, ==, 1);
    g_assert_cmpint(rt->last_flags, ==, QIO_CHANNEL_READ_FLAG_MSG_PEEK);

    unref_and_check_freed(rd);
    unref_and_check_freed(wr);
}

/* With optional methods, the wrappers call them when the feature says so. */
static void test_base_optional_methods(void)
{
    g_autoptr(GError) err = NULL;
    int p[2];
    TestChan *t;
    QIOChannel *ioc;

    g_assert_no_errno(pipe(p));
    close(p[0]);
    t = test_chan_new(TEST_CHAN_OPT, p[1]);
    ioc = QIO_CHANNEL(t);

    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_READ, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpuint(t->shutdown_calls, ==, 0);
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN);
    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_READ, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(t->shutdown_calls, ==, 1);

    g_assert_cmpint(qio_channel_io_seek(ioc, 41, SEEK_SET, &err), ==, 42);
    g_assert_no_error(err);
    g_assert_cmpuint(t->seek_calls, ==, 1);

    /* No zero-copy feature: flush has nothing to wait for. */
    g_assert_cmpint(qio_channel_flush(ioc, &err), ==, 0);
    g_assert_cmpuint(t->flush_calls, ==, 0);
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY);
    g_assert_cmpint(qio_channel_flush(ioc, &err), ==, 1);
    g_assert_no_error(err);
    g_assert_cmpuint(t->flush_calls, ==, 1);

    qio_channel_set_cork(ioc, true);
    g_assert_cmpuint(t->cork_calls, ==, 1);
    g_assert_true(t->cork);
    qio_channel_set_delay(ioc, false);
    g_assert_cmpuint(t->delay_calls, ==, 1);
    g_assert_false(t->delay);

    unref_and_check_freed(ioc);
}

/* A pipe: no descriptors, no peeking, no zero-copy; hints are no-ops. */
static void test_features_pipe(void)
{
    g_autoptr(GError) err = NULL;
    QIOChannel *rd;
    QIOChannel *wr;
    int dummy;
    int *fds = &dummy;
    size_t nfds = 42;
    int sendfd = STDIN_FILENO;
    char buf[8] = {0};
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct iovec out = {.iov_base = (char *)"data", .iov_len = 4};

    pipe_channels(&rd, &wr);
    g_assert_true(qio_channel_has_feature(rd, QIO_CHANNEL_FEATURE_SHUTDOWN));
    g_assert_false(qio_channel_has_feature(rd, QIO_CHANNEL_FEATURE_FD_PASS));
    g_assert_false(
        qio_channel_has_feature(rd, QIO_CHANNEL_FEATURE_READ_MSG_PEEK));
    g_assert_false(
        qio_channel_has_feature(wr, QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY));
    qio_test_set_blocking(rd, false);

    /* Refused writes leave nothing in the pipe. */
    g_assert_cmpint(qio_channel_writev_full(wr, &out, 1, &sendfd, 1, 0, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_writev_full(wr, &out, 1, NULL, 0,
                                            QIO_CHANNEL_WRITE_FLAG_ZERO_COPY,
                                            &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpint(
        qio_channel_writev_full_all(wr, &out, 1, NULL, 0,
                                    QIO_CHANNEL_WRITE_FLAG_ZERO_COPY, &err),
        ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_read(rd, buf, sizeof(buf), &err), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    g_assert_no_error(err);

    /* Refused reads consume nothing. */
    g_assert_cmpint(qio_channel_writev(wr, &out, 1, &err), ==, 4);
    g_assert_cmpint(qio_channel_readv_full(rd, &iov, 1, &fds, &nfds, 0, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_null(fds);
    g_assert_cmpuint(nfds, ==, 0);
    g_assert_cmpint(qio_channel_readv_full(rd, &iov, 1, NULL, NULL,
                                           QIO_CHANNEL_READ_FLAG_MSG_PEEK,
                                           &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);

    /* Hints are accepted and change nothing. */
    qio_channel_set_cork(wr, true);
    qio_channel_set_delay(wr, false);
    g_assert_cmpint(qio_channel_flush(wr, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_readv(rd, &iov, 1, &err), ==, 4);
    g_assert_no_error(err);
    g_assert_cmpmem(buf, 4, "data", 4);
    qio_channel_set_cork(wr, false);
    qio_channel_set_delay(wr, true);

    /* A file channel can seek, but not on a pipe: the kernel says no. */
    g_assert_cmpint(qio_channel_io_seek(rd, 0, SEEK_SET, &err), ==, -1);
    g_assert_nonnull(err);
    g_clear_error(&err);

    unref_and_check_freed(rd);
    unref_and_check_freed(wr);
}

/* A unix socket: fds and peeking, no zero-copy, no seek, hints harmless. */
static void test_features_socket(void)
{
    g_autoptr(GError) err = NULL;
    QIOChannel *a;
    QIOChannel *b;
    int *fds = NULL;
    size_t nfds = 42;
    char buf[6] = {0};
    struct iovec iov = {.iov_base = buf, .iov_len = 5};

    socket_channels(&a, &b);
    g_assert_true(qio_channel_has_feature(a, QIO_CHANNEL_FEATURE_FD_PASS));
    g_assert_true(qio_channel_has_feature(a, QIO_CHANNEL_FEATURE_SHUTDOWN));
    g_assert_true(
        qio_channel_has_feature(a, QIO_CHANNEL_FEATURE_READ_MSG_PEEK));
    g_assert_false(qio_channel_has_feature(a, QIO_CHANNEL_FEATURE_LISTEN));
    g_assert_false(
        qio_channel_has_feature(a, QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY));

    g_assert_cmpint(qio_channel_io_seek(a, 0, SEEK_SET, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_writev_full(a, &iov, 1, NULL, 0,
                                            QIO_CHANNEL_WRITE_FLAG_ZERO_COPY,
                                            &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_flush(a, &err), ==, 0);
    g_assert_no_error(err);
    qio_channel_set_cork(a, true);
    qio_channel_set_delay(a, false);

    /* Peek leaves the data for the next read. */
    qio_test_write_str(b, "hello");
    g_assert_cmpint(qio_channel_readv_full(a, &iov, 1, NULL, NULL,
                                           QIO_CHANNEL_READ_FLAG_MSG_PEEK,
                                           &err),
                    ==, 5);
    g_assert_no_error(err);
    g_assert_cmpstr(buf, ==, "hello");
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(qio_channel_readv_full(a, &iov, 1, &fds, &nfds, 0, &err),
                    ==, 5);
    g_assert_no_error(err);
    g_assert_cmpstr(buf, ==, "hello");
    g_assert_null(fds);
    g_assert_cmpuint(nfds, ==, 0);

    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

/* A listening socket has no shutdown feature: the wrapper refuses. */
static void test_features_listener(void)
{
    g_autoptr(GError) err = NULL;
    sa_family_t family = AF_UNIX;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    QIOChannel *ioc;

    g_assert_no_errno(fd);
    /* An address of just the family: the kernel picks an abstract name. */
    g_assert_no_errno(bind(fd, (struct sockaddr *)&family, sizeof(family)));
    g_assert_no_errno(listen(fd, 1));
    ioc = qio_channel_new_fd(fd, &err);
    g_assert_no_error(err);
    g_assert_true(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_LISTEN));
    g_assert_false(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN));
    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_BOTH, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    unref_and_check_freed(ioc);
}

/* ---------------------------------------------------------------- 2: new_fd */

static void test_new_fd(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    int sv[2];
    int p[2];
    int tmp;
    int bad;
    QIOChannel *ioc;

    g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    ioc = qio_channel_new_fd(sv[0], &err);
    g_assert_no_error(err);
    g_assert_true(QIO_IS_CHANNEL_SOCKET(ioc));
    g_assert_false(QIO_IS_CHANNEL_FILE(ioc));
    g_assert_cmpint(qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(ioc)), ==,
                    sv[0]);
    g_assert_true(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS));
    unref_and_check_freed(ioc);
    g_assert_false(qio_test_fd_is_open(sv[0]));
    close(sv[1]);

    g_assert_no_errno(pipe(p));
    ioc = qio_channel_new_fd(p[0], &err);
    g_assert_no_error(err);
    g_assert_true(QIO_IS_CHANNEL_FILE(ioc));
    g_assert_false(QIO_IS_CHANNEL_SOCKET(ioc));
    g_assert_cmpint(qio_channel_file_get_fd(QIO_CHANNEL_FILE(ioc)), ==, p[0]);
    unref_and_check_freed(ioc);
    g_assert_false(qio_test_fd_is_open(p[0]));
    close(p[1]);

    tmp = g_file_open_tmp("test-channel-XXXXXX", &path, &err);
    g_assert_no_error(err);
    ioc = qio_channel_new_fd(tmp, &err);
    g_assert_no_error(err);
    g_assert_true(QIO_IS_CHANNEL_FILE(ioc));
    unref_and_check_freed(ioc);
    g_unlink(path);

    /* A number that is not open: an error, and no channel. */
    bad = qio_test_max_fd() + 10;
    ioc = qio_channel_new_fd(bad, &err);
    g_assert_null(ioc);
    g_assert_error(err, G_IO_ERROR, (gint)g_io_error_from_errno(EBADF));
}

/* ---------------------------------------------------------------- 3: names */

static void test_names(void)
{
    QIOChannel *a;
    QIOChannel *b;
    GSource *src;
    char name[] = "chan-a";

    socket_channels(&a, &b);
    g_assert_null(qio_channel_get_name(a));
    src = qio_channel_create_watch(a, G_IO_IN);
    g_assert_null(g_source_get_name(src));
    g_source_unref(src);

    qio_channel_set_name(a, name);
    name[0] = 'X'; /* the channel keeps a copy */
    g_assert_cmpstr(qio_channel_get_name(a), ==, "chan-a");

    src = qio_channel_create_watch(a, G_IO_IN);
    g_assert_cmpstr(g_source_get_name(src), ==, "chan-a");
    g_assert_null(g_source_get_context(src)); /* not attached */
    g_source_unref(src);

    src = qio_channel_add_watch_source(a, G_IO_OUT, NULL, NULL, NULL, NULL);
    g_assert_cmpstr(g_source_get_name(src), ==, "chan-a");
    g_source_destroy(src);
    g_source_unref(src);

    qio_channel_set_name(a, "renamed");
    g_assert_cmpstr(qio_channel_get_name(a), ==, "renamed");
    src = qio_channel_create_watch(a, G_IO_OUT);
    g_assert_cmpstr(g_source_get_name(src), ==, "renamed");
    g_source_unref(src);

    qio_channel_set_name(a, NULL);
    g_assert_null(qio_channel_get_name(a));

    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

/* ------------------------------------------------------------- 4: watches */

typedef struct {
    QIOChannel *ioc;
    unsigned calls;
    unsigned notified;
    GIOCondition cond;
    gboolean ret;
} WatchState;

static gboolean watch_cb(QIOChannel *ioc, GIOCondition cond, gpointer data)
{
    WatchState *w = data;

    g_assert_true(ioc == w->ioc);
    w->calls++;
    w->cond = cond;
    return w->ret;
}

static void watch_notify(gpointer data)
{
    ((WatchState *)data)->notified++;
}

/* Iterate @ctx until the watch of @w has been called @calls times. */
static void iterate_until_called(GMainContext *ctx, WatchState *w,
                                 unsigned calls)
{
    gint64 deadline =
        g_get_monotonic_time() + QIO_TEST_LOOP_TIMEOUT_S * G_TIME_SPAN_SECOND;

    while (w->calls < calls) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(ctx, TRUE);
    }
}

/* G_IO_IN fires on data, and a callback returning REMOVE stops it. */
static void test_watch_in(void)
{
    QIOChannel *rd;
    QIOChannel *wr;
    WatchState w = {.ret = G_SOURCE_REMOVE};
    guint id;

    pipe_channels(&rd, &wr);
    w.ioc = rd;
    id = qio_channel_add_watch(rd, G_IO_IN, watch_cb, &w, watch_notify);
    g_assert_cmpuint(id, >, 0);
    poll_context(NULL);
    g_assert_cmpuint(w.calls, ==, 0);

    qio_test_write_str(wr, "x");
    iterate_until_called(NULL, &w, 1);
    g_assert_true(w.cond & G_IO_IN);
    g_assert_cmpuint(w.notified, ==, 1);
    g_assert_null(g_main_context_find_source_by_id(NULL, id));

    /* The byte is still there: a live watch would fire again. */
    poll_context(NULL);
    g_assert_cmpuint(w.calls, ==, 1);
    qio_test_read_str(rd, "x");

    unref_and_check_freed(rd);
    unref_and_check_freed(wr);
}

/* add_watch uses the thread-default context, as documented. */
static void test_watch_thread_default(void)
{
    GMainContext *ctx = g_main_context_new();
    QIOChannel *a;
    QIOChannel *b;
    WatchState w = {.ret = G_SOURCE_REMOVE};
    guint id;

    socket_channels(&a, &b);
    w.ioc = a;
    qio_test_write_str(b, "x");
    g_main_context_push_thread_default(ctx);
    id = qio_channel_add_watch(a, G_IO_IN, watch_cb, &w, watch_notify);
    g_main_context_pop_thread_default(ctx);
    g_assert_nonnull(g_main_context_find_source_by_id(ctx, id));

    poll_context(NULL);
    g_assert_cmpuint(w.calls, ==, 0);
    iterate_until_called(ctx, &w, 1);
    g_assert_cmpuint(w.notified, ==, 1);

    g_main_context_unref(ctx);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

/* add_watch_full: a private context, level-triggered, removed by id. */
static void test_watch_full_context(void)
{
    GMainContext *ctx = g_main_context_new();
    QIOChannel *a;
    QIOChannel *b;
    WatchState w = {.ret = G_SOURCE_CONTINUE};
    guint id;

    socket_channels(&a, &b);
    w.ioc = a;
    id =
        qio_channel_add_watch_full(a, G_IO_IN, watch_cb, &w, watch_notify, ctx);
    qio_test_write_str(b, "x");
    poll_context(NULL);
    g_assert_cmpuint(w.calls, ==, 0);

    /* Unread data keeps it firing, once per iteration. */
    for (unsigned i = 1; i <= 3; i++) {
        g_assert_true(g_main_context_iteration(ctx, FALSE));
        g_assert_cmpuint(w.calls, ==, i);
        g_assert_true(w.cond & G_IO_IN);
    }
    g_source_destroy(g_main_context_find_source_by_id(ctx, id));
    g_assert_cmpuint(w.notified, ==, 1);
    poll_context(ctx);
    g_assert_cmpuint(w.calls, ==, 3);

    g_main_context_unref(ctx);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

/* add_watch_source: an attached source the caller holds; it holds @ioc. */
static void test_watch_source(void)
{
    GMainContext *ctx = g_main_context_new();
    QIOChannel *a;
    QIOChannel *b;
    WatchState w = {.ret = G_SOURCE_CONTINUE};
    GSource *src;
    gpointer weak;

    socket_channels(&a, &b);
    w.ioc = a;
    src = qio_channel_add_watch_source(a, G_IO_OUT, watch_cb, &w, watch_notify,
                                       ctx);
    g_assert_nonnull(src);
    g_assert_true(g_source_get_context(src) == ctx);
    g_assert_false(g_source_is_destroyed(src));
    iterate_until_called(ctx, &w, 1);
    g_assert_true(w.cond & G_IO_OUT);

    /* The source keeps the channel alive after the caller's unref. */
    weak = a;
    g_object_add_weak_pointer(G_OBJECT(a), &weak);
    g_object_unref(a);
    g_assert_nonnull(weak);

    g_source_destroy(src);
    g_assert_cmpuint(w.notified, ==, 1);
    g_assert_true(g_source_is_destroyed(src)); /* our reference: still valid */
    g_assert_nonnull(weak);
    g_source_unref(src);
    g_assert_null(weak);

    g_main_context_unref(ctx);
    unref_and_check_freed(b);
}

/* A closed writer reports G_IO_HUP, though only G_IO_IN was asked for. */
static void test_watch_hup(void)
{
    QIOChannel *rd;
    QIOChannel *wr;
    WatchState w = {.ret = G_SOURCE_REMOVE};

    pipe_channels(&rd, &wr);
    w.ioc = rd;
    qio_channel_add_watch(rd, G_IO_IN, watch_cb, &w, watch_notify);
    poll_context(NULL);
    g_assert_cmpuint(w.calls, ==, 0);

    unref_and_check_freed(wr);
    iterate_until_called(NULL, &w, 1);
    g_assert_true(w.cond & G_IO_HUP);
    g_assert_cmpuint(w.notified, ==, 1);
    unref_and_check_freed(rd);
}

/*
 * A channel over two pipes: G_IO_OUT is about the write pipe only, so a
 * hang-up on the read pipe does not wake a G_IO_OUT watch, while a
 * G_IO_IN watch sees it.
 */
static void test_watch_fd_pair(void)
{
    int in[2];  /* the channel reads in[0]; we write in[1] */
    int out[2]; /* the channel writes out[1]; we read out[0] */
    QIOChannel *ioc;
    WatchState wout = {.ret = G_SOURCE_REMOVE};
    WatchState win = {.ret = G_SOURCE_REMOVE};
    size_t filled;

    g_assert_no_errno(pipe(in));
    g_assert_no_errno(pipe(out));
    ioc = QIO_CHANNEL(qio_channel_file_new_fd_pair(in[0], out[1]));
    wout.ioc = win.ioc = ioc;

    qio_channel_add_watch(ioc, G_IO_OUT, watch_cb, &wout, NULL);
    iterate_until_called(NULL, &wout, 1);
    g_assert_true(wout.cond & G_IO_OUT);

    /* Full write pipe: the G_IO_OUT watch must sleep... */
    qio_test_set_blocking(ioc, false);
    filled = fill_channel(ioc);
    g_assert_cmpuint(filled, >, 0);
    qio_channel_add_watch(ioc, G_IO_OUT, watch_cb, &wout, NULL);
    poll_context(NULL);
    g_assert_cmpuint(wout.calls, ==, 1);

    /* ...even when the read pipe hangs up. */
    close(in[1]);
    poll_context(NULL);
    g_assert_cmpuint(wout.calls, ==, 1);

    qio_channel_add_watch(ioc, G_IO_IN, watch_cb, &win, NULL);
    iterate_until_called(NULL, &win, 1);
    g_assert_true(win.cond & G_IO_HUP);
    g_assert_cmpuint(wout.calls, ==, 1);

    /* Room in the write pipe wakes it, without the read side's HUP. */
    g_assert_cmpuint(drain_fd(out[0]), ==, filled);
    iterate_until_called(NULL, &wout, 2);
    g_assert_true(wout.cond & G_IO_OUT);
    g_assert_false(wout.cond & G_IO_HUP);

    unref_and_check_freed(ioc);
    close(out[0]);
}

/* ---------------------------------------------------------------- 5: wait */

typedef struct {
    QIOChannel *wr;
    GMutex lock;
    GCond cond;
    bool waiting; /* the main thread is about to wait */
    bool written; /* set just before the data goes out */
} WaitCtl;

static gpointer wait_writer(gpointer data)
{
    WaitCtl *c = data;
    gint64 until;

    wait_flag(&c->lock, &c->cond, &c->waiting);
    /* Give the waiter time to block; nothing depends on it being enough. */
    g_mutex_lock(&c->lock);
    until = g_get_monotonic_time() + 50 * G_TIME_SPAN_MILLISECOND;
    while (g_cond_wait_until(&c->cond, &c->lock, until)) {
    }
    c->written = true;
    g_mutex_unlock(&c->lock);
    qio_test_write_str(c->wr, "late data");
    return NULL;
}

static gboolean count_idle(gpointer data)
{
    (*(unsigned *)data)++;
    return G_SOURCE_CONTINUE;
}

static GSource *add_counting_idle(GMainContext *ctx, unsigned *counter)
{
    GSource *src = g_idle_source_new();

    g_source_set_callback(src, count_idle, counter, NULL);
    g_source_attach(src, ctx);
    return src;
}

/*
 * qio_channel_wait blocks until the data arrives, and dispatches nothing
 * of the thread-default or global default context meanwhile.
 */
static void test_wait_blocks(void)
{
    GMainContext *tdctx = g_main_context_new();
    WaitCtl c = {0};
    QIOChannel *rd;
    WatchState w = {.ret = G_SOURCE_CONTINUE};
    unsigned td_idles = 0;
    unsigned default_idles = 0;
    GSource *td_idle;
    GSource *default_idle;
    GSource *td_watch;
    GThread *thread;
    char buf[16] = {0};

    pipe_channels(&rd, &c.wr);
    w.ioc = rd;
    g_mutex_init(&c.lock);
    g_cond_init(&c.cond);
    qio_test_set_blocking(rd, false);
    g_assert_cmpint(qio_channel_read(rd, buf, sizeof(buf), NULL), ==,
                    QIO_CHANNEL_ERR_BLOCK);

    g_main_context_push_thread_default(tdctx);
    td_idle = add_counting_idle(tdctx, &td_idles);
    default_idle = add_counting_idle(NULL, &default_idles);
    td_watch =
        qio_channel_add_watch_source(rd, G_IO_IN, watch_cb, &w, NULL, tdctx);

    thread = g_thread_new("wait-writer", wait_writer, &c);
    set_flag(&c.lock, &c.cond, &c.waiting);
    qio_channel_wait(rd, G_IO_IN);
    g_mutex_lock(&c.lock);
    g_assert_true(c.written);
    g_mutex_unlock(&c.lock);
    g_thread_join(thread);

    g_assert_cmpuint(td_idles, ==, 0);
    g_assert_cmpuint(default_idles, ==, 0);
    g_assert_cmpuint(w.calls, ==, 0);
    g_assert_cmpint(qio_channel_read(rd, buf, sizeof(buf), NULL), ==, 9);
    g_assert_cmpstr(buf, ==, "late data");

    /* Ready at once: no waiting at all. */
    qio_channel_wait(c.wr, G_IO_OUT);

    g_source_destroy(td_idle);
    g_source_unref(td_idle);
    g_source_destroy(default_idle);
    g_source_unref(default_idle);
    g_source_destroy(td_watch);
    g_source_unref(td_watch);
    g_main_context_pop_thread_default(tdctx);
    g_main_context_unref(tdctx);
    g_mutex_clear(&c.lock);
    g_cond_clear(&c.cond);
    unref_and_check_freed(rd);
    unref_and_check_freed(c.wr);
}

/* A hang-up ends the wait too: it is always reported. */
static void test_wait_hup(void)
{
    QIOChannel *rd;
    QIOChannel *wr;

    pipe_channels(&rd, &wr);
    unref_and_check_freed(wr);
    qio_channel_wait(rd, G_IO_IN);
    unref_and_check_freed(rd);
}

/* ---------------------------------------------------------------- 6: *_all */

typedef struct {
    QIOChannel *ioc;
    char *buf;
    size_t len;
    int ret;
    GError *err;
} ThreadIO;

static gpointer read_all_thread(gpointer data)
{
    ThreadIO *t = data;

    t->ret = qio_channel_read_all(t->ioc, t->buf, t->len, &t->err);
    return NULL;
}

static gpointer write_all_thread(gpointer data)
{
    ThreadIO *t = data;

    t->ret = qio_channel_write_all(t->ioc, t->buf, t->len, &t->err);
    if (t->ret == 0) {
        t->ret =
            qio_channel_shutdown(t->ioc, QIO_CHANNEL_SHUTDOWN_WRITE, &t->err);
    }
    return NULL;
}

/* 8 MiB in 100 iovecs through a non-blocking socket: it waits itself. */
static void test_writev_all_nonblocking(void)
{
    g_autoptr(GError) err = NULL;
    const size_t len = 8 * MiB;
    const size_t niov = 100;
    g_autofree char *src = g_malloc(len);
    g_autofree char *dst = g_malloc0(len);
    g_autofree struct iovec *iov = NULL;
    g_autofree struct iovec *saved = NULL;
    QIOChannel *a;
    QIOChannel *b;
    ThreadIO reader = {0};
    GThread *thread;

    qio_test_fill_random(src, len);
    iov = qio_test_make_iov(src, len, niov);
    saved = g_memdup2(iov, niov * sizeof(*iov));
    socket_channels(&a, &b);
    qio_test_set_blocking(a, false);

    reader = (ThreadIO){.ioc = b, .buf = dst, .len = len};
    thread = g_thread_new("reader", read_all_thread, &reader);
    g_assert_cmpint(qio_channel_writev_all(a, iov, niov, &err), ==, 0);
    g_assert_no_error(err);
    g_thread_join(thread);
    g_assert_no_error(reader.err);
    g_assert_cmpint(reader.ret, ==, 0);
    g_assert_true(memcmp(src, dst, len) == 0);
    /* The caller's iovecs are not consumed. */
    g_assert_true(memcmp(iov, saved, niov * sizeof(*iov)) == 0);

    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

/* readv_all_eof: 1 for a full buffer, then 0 at a clean end-of-file. */
static void test_readv_all_eof(void)
{
    g_autoptr(GError) err = NULL;
    const size_t len = 4 * MiB + 123;
    g_autofree char *src = g_malloc(len);
    g_autofree char *dst = g_malloc0(len);
    g_autofree struct iovec *iov = NULL;
    QIOChannel *a;
    QIOChannel *b;
    ThreadIO writer = {0};
    GThread *thread;
    char c;

    qio_test_fill_random(src, len);
    iov = qio_test_make_iov(dst, len, 37);
    socket_channels(&a, &b);
    qio_test_set_blocking(a, false);

    writer = (ThreadIO){.ioc = b, .buf = src, .len = len};
    thread = g_thread_new("writer", write_all_thread, &writer);
    g_assert_cmpint(qio_channel_readv_all_eof(a, iov, 37, &err), ==, 1);
    g_assert_no_error(err);
    g_assert_true(memcmp(src, dst, len) == 0);
    g_assert_cmpint(qio_channel_read_all_eof(a, &c, 1, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_readv_all_eof(a, iov, 37, &err), ==, 0);
    g_assert_no_error(err);
    /* Without _eof, a clean end-of-file is an error too. */
    g_assert_cmpint(qio_channel_read_all(a, &c, 1, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_EOF);
    g_thread_join(thread);
    g_assert_no_error(writer.err);
    g_assert_cmpint(writer.ret, ==, 0);

    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

/* End-of-file in the middle of the buffer: -1, QIO_CHANNEL_ERROR_EOF. */
static void test_read_all_eof_midway(void)
{
    g_autoptr(GError) err = NULL;
    const size_t len = 3 * MiB;
    g_autofree char *src = g_malloc(len);
    g_autofree char *dst = g_malloc0(len + 1000);
    QIOChannel *rd;
    QIOChannel *wr;
    ThreadIO writer = {0};
    GThread *thread;

    qio_test_fill_random(src, len);
    pipe_channels(&rd, &wr);
    qio_test_set_blocking(rd, false);
    writer = (ThreadIO){.ioc = wr, .buf = src, .len = len};
    thread = g_thread_new("writer", write_all_thread, &writer);
    g_assert_cmpint(qio_channel_read_all_eof(rd, dst, len + 1000, &err), ==,
                    -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_EOF);
    g_clear_error(&err);
    g_assert_true(memcmp(src, dst, len) == 0);
    g_thread_join(thread);
    g_assert_no_error(writer.err);

    /* Same for readv_all on what is left: nothing, so EOF. */
    g_assert_cmpint(qio_channel_read_all(rd, dst, 1, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_EOF);

    unref_and_check_freed(rd);
    unref_and_check_freed(wr);
}

typedef struct {
    QIOChannel *ioc;
    int fds[3];
} FdSender;

/* Two messages: one byte with one descriptor, one byte with two. */
static gpointer send_fds_thread(gpointer data)
{
    FdSender *s = data;
    struct iovec iov = {.iov_base = (char *)"ab", .iov_len = 1};

    g_assert_cmpint(
        qio_channel_writev_full_all(s->ioc, &iov, 1, s->fds, 1, 0, NULL), ==,
        0);
    iov.iov_base = (char *)"b";
    g_assert_cmpint(
        qio_channel_writev_full_all(s->ioc, &iov, 1, s->fds + 1, 2, 0, NULL),
        ==, 0);
    return NULL;
}

/* readv_full_all gathers the descriptors of every read it needed. */
static void test_readv_full_all_fds(void)
{
    g_autoptr(GError) err = NULL;
    QIOChannel *a;
    QIOChannel *b;
    int pipes[3][2];
    FdSender sender;
    GThread *thread;
    int *fds = NULL;
    size_t nfds = 0;
    char buf[3] = {0};
    struct iovec iov = {.iov_base = buf, .iov_len = 2};

    socket_channels(&a, &b);
    qio_test_set_blocking(a, false);
    sender.ioc = b;
    for (int i = 0; i < 3; i++) {
        g_assert_no_errno(pipe(pipes[i]));
        sender.fds[i] = pipes[i][1];
    }
    thread = g_thread_new("send-fds", send_fds_thread, &sender);
    g_assert_cmpint(qio_channel_readv_full_all(a, &iov, 1, &fds, &nfds, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_thread_join(thread);
    g_assert_cmpstr(buf, ==, "ab");
    g_assert_cmpuint(nfds, ==, 3);
    for (int i = 0; i < 3; i++) {
        g_autofree char *msg = g_strdup_printf("fd %d works", i);

        g_assert_cmpint(fds[i], !=, pipes[i][1]); /* our own copy */
        check_pipe_write_end(fds[i], pipes[i][0], msg);
        close(fds[i]);
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    g_free(fds);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

/* On error, descriptors received so far are closed and *fds is NULL. */
static void test_readv_full_all_fds_eof(void)
{
    g_autoptr(GError) err = NULL;
    QIOChannel *a;
    QIOChannel *b;
    int p[2];
    int dummy;
    int *fds = &dummy;
    size_t nfds = 42;
    unsigned nopen;
    char buf[2];
    struct iovec iov = {.iov_base = (char *)"a", .iov_len = 1};

    socket_channels(&a, &b);
    g_assert_no_errno(pipe(p));
    g_assert_cmpint(qio_channel_writev_full_all(b, &iov, 1, &p[1], 1, 0, &err),
                    ==, 0);
    g_assert_no_error(err);
    unref_and_check_freed(b);

    nopen = qio_test_count_fds();
    iov = (struct iovec){.iov_base = buf, .iov_len = 2};
    g_assert_cmpint(qio_channel_readv_full_all(a, &iov, 1, &fds, &nfds, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_EOF);
    g_assert_null(fds);
    g_assert_cmpuint(nfds, ==, 0);
    g_assert_cmpuint(qio_test_count_fds(), ==, nopen);

    /* At a clean end-of-file, the _eof variant reports no descriptors. */
    fds = &dummy;
    nfds = 42;
    g_clear_error(&err);
    g_assert_cmpint(
        qio_channel_readv_full_all_eof(a, &iov, 1, &fds, &nfds, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_null(fds);
    g_assert_cmpuint(nfds, ==, 0);

    close(p[0]);
    close(p[1]);
    unref_and_check_freed(a);
}

typedef struct {
    QIOChannel *ioc;
    char *buf;
    size_t len;
    int *first_fds;
    size_t first_nfds;
    size_t later_nfds;
} FdReceiver;

/* One byte first (the descriptors must come with it), then the rest. */
static gpointer recv_fds_thread(gpointer data)
{
    FdReceiver *r = data;
    struct iovec iov = {.iov_base = r->buf, .iov_len = 1};
    int *later = NULL;

    g_assert_cmpint(qio_channel_readv_full(r->ioc, &iov, 1, &r->first_fds,
                                           &r->first_nfds, 0, NULL),
                    ==, 1);
    iov = (struct iovec){.iov_base = r->buf + 1, .iov_len = r->len - 1};
    g_assert_cmpint(qio_channel_readv_full_all(r->ioc, &iov, 1, &later,
                                               &r->later_nfds, NULL),
                    ==, 0);
    g_assert_null(later);
    return NULL;
}

/* writev_full_all sends the descriptors once, with the first byte. */
static void test_writev_full_all_fds(void)
{
    g_autoptr(GError) err = NULL;
    const size_t len = 2 * MiB;
    g_autofree char *src = g_malloc(len);
    g_autofree char *dst = g_malloc0(len);
    g_autofree struct iovec *iov = NULL;
    QIOChannel *a;
    QIOChannel *b;
    int pipes[3][2];
    int sendfds[3];
    FdReceiver recv = {0};
    GThread *thread;

    qio_test_fill_random(src, len);
    iov = qio_test_make_iov(src, len, 16);
    socket_channels(&a, &b);
    qio_test_set_blocking(a, false);
    for (int i = 0; i < 3; i++) {
        g_assert_no_errno(pipe(pipes[i]));
        sendfds[i] = pipes[i][1];
    }
    recv = (FdReceiver){.ioc = b, .buf = dst, .len = len};
    thread = g_thread_new("recv-fds", recv_fds_thread, &recv);
    g_assert_cmpint(
        qio_channel_writev_full_all(a, iov, 16, sendfds, 3, 0, &err), ==, 0);
    g_assert_no_error(err);
    g_thread_join(thread);

    g_assert_true(memcmp(src, dst, len) == 0);
    g_assert_cmpuint(recv.first_nfds, ==, 3);
    g_assert_cmpuint(recv.later_nfds, ==, 0);
    for (int i = 0; i < 3; i++) {
        check_pipe_write_end(recv.first_fds[i], pipes[i][0], "works");
        close(recv.first_fds[i]);
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    g_free(recv.first_fds);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

/* ---------------------------------------------------------------- 7: yield */

typedef struct {
    QIOChannel *ioc;
    GMainLoop *loop;
    QIOCoroutine *co;
    bool waiting;
    unsigned resumed;
    bool done;
} YieldIn;

static void coroutine_fn co_yield_in(void *opaque)
{
    YieldIn *s = opaque;
    char buf[8] = {0};

    g_assert_cmpint(qio_channel_read(s->ioc, buf, sizeof(buf), NULL), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    s->waiting = true;
    qio_channel_yield(s->ioc, G_IO_IN);
    s->waiting = false;
    s->resumed++;
    g_assert_true(qio_coroutine_self() == s->co);
    g_assert_cmpint(qio_channel_read(s->ioc, buf, sizeof(buf), NULL), ==, 5);
    g_assert_cmpstr(buf, ==, "hello");
    s->done = true;
    g_main_loop_quit(s->loop);
}

/* qio_channel_yield(G_IO_IN) returns when data arrives, not before. */
static void test_co_yield_in(void)
{
    QIOChannel *a;
    QIOChannel *b;
    YieldIn s = {0};

    socket_channels(&a, &b);
    qio_test_set_blocking(a, false);
    s.ioc = a;
    s.loop = g_main_loop_new(NULL, FALSE);
    s.co = qio_coroutine_create(co_yield_in, &s);
    qio_coroutine_enter(s.co);
    g_assert_true(s.waiting);

    poll_context(NULL);
    g_assert_cmpuint(s.resumed, ==, 0);
    qio_test_write_str(b, "hello");
    qio_test_run_loop(s.loop);
    g_assert_true(s.done);
    g_assert_cmpuint(s.resumed, ==, 1);

    drain_context(NULL);
    g_assert_false(g_main_context_pending(NULL));
    g_main_loop_unref(s.loop);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

typedef struct {
    QIOChannel *ioc;
    char *buf;
    size_t len;
    bool writing;
    int ret;
    GError *err;
    unsigned *running;
    GMainLoop *loop;
} CoFlow;

static void coroutine_fn co_flow(void *opaque)
{
    CoFlow *f = opaque;

    if (f->writing) {
        f->ret = qio_channel_write_all(f->ioc, f->buf, f->len, &f->err);
    } else {
        f->ret = qio_channel_read_all(f->ioc, f->buf, f->len, &f->err);
    }
    if (--*f->running == 0) {
        g_main_loop_quit(f->loop);
    }
}

/*
 * 16 MiB each way at once over one socketpair: on each end a reader and a
 * writer coroutine wait on the same channel, so both of its handlers are
 * armed together. The *_all calls must yield (a blocking wait inside a
 * coroutine would deadlock this single thread).
 */
static void test_co_bidirectional(void)
{
    const size_t len = 16 * MiB;
    g_autofree char *ab_src = g_malloc(len);
    g_autofree char *ab_dst = g_malloc0(len);
    g_autofree char *ba_src = g_malloc(len);
    g_autofree char *ba_dst = g_malloc0(len);
    GMainLoop *loop = g_main_loop_new(NULL, FALSE);
    QIOChannel *a;
    QIOChannel *b;
    unsigned running = 4;
    CoFlow flows[4];

    qio_test_fill_random(ab_src, len);
    qio_test_fill_random(ba_src, len);
    socket_channels(&a, &b);
    qio_test_set_blocking(a, false);
    qio_test_set_blocking(b, false);
    flows[0] = (CoFlow){a, ab_src, len, true};
    flows[1] = (CoFlow){a, ba_dst, len, false};
    flows[2] = (CoFlow){b, ba_src, len, true};
    flows[3] = (CoFlow){b, ab_dst, len, false};
    for (int i = 0; i < 4; i++) {
        flows[i].running = &running;
        flows[i].loop = loop;
        qio_coroutine_enter(qio_coroutine_create(co_flow, &flows[i]));
    }
    /* Far more than the socket buffers: everyone is waiting now. */
    g_assert_cmpuint(running, ==, 4);
    qio_test_run_loop(loop);

    for (int i = 0; i < 4; i++) {
        g_assert_no_error(flows[i].err);
        g_assert_cmpint(flows[i].ret, ==, 0);
    }
    g_assert_true(memcmp(ab_src, ab_dst, len) == 0);
    g_assert_true(memcmp(ba_src, ba_dst, len) == 0);

    drain_context(NULL);
    g_assert_false(g_main_context_pending(NULL));
    g_main_loop_unref(loop);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

typedef struct {
    QIOChannel *reader;
    QIOChannel *writer;
    const char *src;
    char *dst;
    size_t len;
    size_t fed;
    unsigned feeds;
    int ret;
    GError *err;
    bool reading;
    GMainLoop *loop;
} FeedState;

enum { FEED_CHUNK = 4096 };

static void coroutine_fn co_read_all(void *opaque)
{
    FeedState *s = opaque;

    s->reading = true;
    s->ret = qio_channel_read_all(s->reader, s->dst, s->len, &s->err);
    s->reading = false;
    g_main_loop_quit(s->loop);
}

/* A timer in the same loop as the reader: it runs only if read_all yields. */
static gboolean feed_chunk(gpointer data)
{
    FeedState *s = data;
    size_t n = MIN(FEED_CHUNK, s->len - s->fed);

    g_assert_true(s->reading);
    g_assert_cmpint(qio_channel_write_all(s->writer, s->src + s->fed, n, NULL),
                    ==, 0);
    s->fed += n;
    s->feeds++;
    return s->fed < s->len ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/*
 * read_all inside a coroutine gives the thread back to its main loop while
 * it waits: the only source of data is a timer in that same loop, 64
 * chunks of it, and every one runs while read_all is still pending.
 */
static void test_co_read_all_runs_loop(void)
{
    const size_t len = 64 * FEED_CHUNK;
    g_autofree char *src = g_malloc(len);
    g_autofree char *dst = g_malloc0(len);
    FeedState s = {0};
    QIOChannel *a;
    QIOChannel *b;

    qio_test_fill_random(src, len);
    socket_channels(&a, &b);
    qio_test_set_blocking(a, false);
    s = (FeedState){a, b, src, dst, len};
    s.loop = g_main_loop_new(NULL, FALSE);
    g_timeout_add(1, feed_chunk, &s);
    qio_coroutine_enter(qio_coroutine_create(co_read_all, &s));
    g_assert_true(s.reading);
    qio_test_run_loop(s.loop);

    g_assert_no_error(s.err);
    g_assert_cmpint(s.ret, ==, 0);
    g_assert_cmpuint(s.feeds, ==, 64);
    g_assert_true(memcmp(src, dst, len) == 0);
    drain_context(NULL);
    g_main_loop_unref(s.loop);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

static void coroutine_fn co_yield_read(void *opaque)
{
    qio_channel_yield(opaque, G_IO_IN);
}

/* Two coroutines waiting to read one channel is a programming error. */
static void test_co_one_reader(void)
{
    if (g_test_subprocess()) {
        QIOChannel *a;
        QIOChannel *b;

        socket_channels(&a, &b);
        qio_test_set_blocking(a, false);
        qio_coroutine_enter(qio_coroutine_create(co_yield_read, a));
        qio_coroutine_enter(qio_coroutine_create(co_yield_read, a));
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*CRITICAL*read_coroutine*NULL*");
}

typedef struct {
    QIOChannel *ioc;
    GMainLoop *loop;
    gint stop;
    unsigned yields;
    GThread *resumed_in;
    bool done;
} WakeState;

static void coroutine_fn co_wait_until_stopped(void *opaque)
{
    WakeState *s = opaque;
    char c;

    while (!g_atomic_int_get(&s->stop)) {
        g_assert_cmpint(qio_channel_read(s->ioc, &c, 1, NULL), ==,
                        QIO_CHANNEL_ERR_BLOCK);
        s->yields++;
        qio_channel_yield(s->ioc, G_IO_IN);
        s->resumed_in = g_thread_self();
    }
    s->done = true;
    g_main_loop_quit(s->loop);
}

static gpointer wake_thread(gpointer data)
{
    WakeState *s = data;

    g_atomic_int_set(&s->stop, 1);
    qio_channel_wake_read(s->ioc);
    return NULL;
}

/* wake_read from another thread: the coroutine returns, in its thread. */
static void test_co_wake_read_thread(void)
{
    QIOChannel *a;
    QIOChannel *b;
    WakeState s = {0};
    GThread *thread;

    socket_channels(&a, &b);
    qio_test_set_blocking(a, false);
    s.ioc = a;
    s.loop = g_main_loop_new(NULL, FALSE);

    /* Nobody waiting: a no-op that schedules nothing. */
    drain_context(NULL);
    qio_channel_wake_read(a);
    g_assert_false(g_main_context_pending(NULL));

    qio_coroutine_enter(qio_coroutine_create(co_wait_until_stopped, &s));
    g_assert_cmpuint(s.yields, ==, 1);
    poll_context(NULL);
    g_assert_false(s.done);

    thread = g_thread_new("waker", wake_thread, &s);
    qio_test_run_loop(s.loop);
    g_thread_join(thread);
    g_assert_true(s.done);
    g_assert_cmpuint(s.yields, ==, 1);
    g_assert_true(s.resumed_in == g_thread_self());

    drain_context(NULL);
    g_assert_false(g_main_context_pending(NULL));
    g_main_loop_unref(s.loop);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

typedef struct {
    QIOChannel *ioc;
    QIOCoroutine *co;
    int phase;
    bool enter_allowed; /* set by the test before each deliberate enter */
    unsigned entries;   /* every return from a suspension */
    unsigned stray;     /* returns nobody asked for */
    unsigned yields;
    bool done;
} Reenter;

/* Count one return from a suspension, checking that it was wanted. */
static void reenter_arrived(Reenter *s)
{
    s->entries++;
    if (!s->enter_allowed) {
        s->stray++;
    }
    s->enter_allowed = false;
}

static void coroutine_fn co_reenter(void *opaque)
{
    Reenter *s = opaque;
    char buf[16] = {0};
    ssize_t n;

    /* 1: waiting for data, re-entered by hand before any comes. */
    s->phase = 1;
    qio_channel_yield(s->ioc, G_IO_IN);
    reenter_arrived(s);

    /* 2: suspended outside the channel while data arrives. */
    s->phase = 2;
    qio_coroutine_yield();
    reenter_arrived(s);
    qio_test_read_str(s->ioc, "first");

    /* 3: a new wait on the channel works. */
    s->phase = 3;
    while ((n = qio_channel_read(s->ioc, buf, sizeof(buf) - 1, NULL)) ==
           QIO_CHANNEL_ERR_BLOCK) {
        s->yields++;
        qio_channel_yield(s->ioc, G_IO_IN);
        reenter_arrived(s);
    }
    g_assert_cmpint(n, ==, 6);
    g_assert_cmpstr(buf, ==, "second");
    s->done = true;
}

/*
 * A coroutine re-entered while waiting in qio_channel_yield() returns
 * early; the channel must then forget it (no stale handler entering it
 * later), and a later qio_channel_yield() must work again.
 */
static void test_co_reenter(void)
{
    QIOChannel *a;
    QIOChannel *b;
    Reenter s = {0};

    socket_channels(&a, &b);
    qio_test_set_blocking(a, false);
    s.ioc = a;
    s.co = qio_coroutine_create(co_reenter, &s);
    qio_coroutine_enter(s.co);
    g_assert_cmpint(s.phase, ==, 1);

    s.enter_allowed = true;
    qio_coroutine_enter(s.co);
    g_assert_cmpint(s.phase, ==, 2);

    /* Data now: a handler left over from phase 1 would enter it. */
    qio_test_write_str(b, "first");
    poll_context(NULL);
    g_assert_cmpuint(s.stray, ==, 0);
    g_assert_cmpint(s.phase, ==, 2);

    s.enter_allowed = true;
    qio_coroutine_enter(s.co);
    g_assert_cmpint(s.phase, ==, 3);
    g_assert_cmpuint(s.yields, ==, 1);
    poll_context(NULL);
    g_assert_false(s.done);

    s.enter_allowed = true;
    qio_test_write_str(b, "second");
    while (!s.done) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_cmpuint(s.stray, ==, 0);
    g_assert_cmpuint(s.entries, ==, 3);
    g_assert_cmpuint(s.yields, ==, 1);

    drain_context(NULL);
    g_assert_false(g_main_context_pending(NULL));
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

typedef struct {
    QIOChannel *ioc;
    GMainContext *ctx;
    GMainLoop *loop;
    bool push_default; /* make ctx the worker's thread-default */
    GThread *worker;
    GThread *resumed_in;
    GMutex lock;
    GCond cond;
    bool waiting;
    bool done;
} CtxState;

static void coroutine_fn co_read_in_ctx(void *opaque)
{
    CtxState *s = opaque;
    char buf[8] = {0};

    g_assert_true(g_thread_self() == s->worker);
    g_assert_cmpint(qio_channel_read(s->ioc, buf, sizeof(buf), NULL), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    set_flag(&s->lock, &s->cond, &s->waiting);
    qio_channel_yield(s->ioc, G_IO_IN);
    s->resumed_in = g_thread_self();
    g_assert_cmpint(qio_channel_read(s->ioc, buf, sizeof(buf), NULL), ==, 4);
    g_assert_cmpstr(buf, ==, "ping");
    set_flag(&s->lock, &s->cond, &s->done);
}

/* Runs in the worker: the coroutine must belong to this thread. */
static gboolean start_co_in_worker(gpointer data)
{
    qio_coroutine_enter(qio_coroutine_create(co_read_in_ctx, data));
    return G_SOURCE_REMOVE;
}

static gpointer ctx_worker(gpointer data)
{
    CtxState *s = data;

    if (s->push_default) {
        g_main_context_push_thread_default(s->ctx);
    }
    g_main_loop_run(s->loop);
    if (s->push_default) {
        g_main_context_pop_thread_default(s->ctx);
    }
    return NULL;
}

/*
 * A coroutine in a second thread running a private context: its yield
 * handlers live in that context, so it is resumed there. With @attach the
 * context comes from qio_channel_attach_aio_context() (it is not the
 * worker's thread-default, so nothing else would find it); without, from
 * the worker's thread-default context.
 */
static void run_co_in_worker(bool attach)
{
    QIOChannel *a;
    QIOChannel *b;
    CtxState s = {0};
    GSource *start;

    socket_channels(&a, &b);
    qio_test_set_blocking(a, false);
    s.ioc = a;
    s.ctx = g_main_context_new();
    s.loop = g_main_loop_new(s.ctx, FALSE);
    s.push_default = !attach;
    g_mutex_init(&s.lock);
    g_cond_init(&s.cond);
    if (attach) {
        qio_channel_attach_aio_context(a, s.ctx);
    }
    s.worker = g_thread_new("ctx-worker", ctx_worker, &s);

    /* Not g_main_context_invoke(): the worker may not own ctx yet. */
    start = g_idle_source_new();
    g_source_set_callback(start, start_co_in_worker, &s, NULL);
    g_source_attach(start, s.ctx);
    g_source_unref(start);

    wait_flag(&s.lock, &s.cond, &s.waiting);
    poll_context(NULL); /* the main thread's context has nothing to do */
    qio_test_write_str(b, "ping");
    wait_flag(&s.lock, &s.cond, &s.done);
    g_main_loop_quit(s.loop);
    g_thread_join(s.worker);
    g_assert_true(s.resumed_in == s.worker);

    if (attach) {
        qio_channel_detach_aio_context(a);
    }
    g_main_loop_unref(s.loop);
    g_main_context_unref(s.ctx);
    g_mutex_clear(&s.lock);
    g_cond_clear(&s.cond);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

static void test_co_attach_thread(void)
{
    run_co_in_worker(true);
}

static void test_co_thread_default(void)
{
    run_co_in_worker(false);
}

typedef struct {
    QIOChannel *ioc;
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *worker;
    GThread *resumed_in;
    gint stop;
    GMutex lock;
    GCond cond;
    bool waiting;
    bool done;
} LayeredWake;

static void coroutine_fn co_layered_wait(void *opaque)
{
    LayeredWake *s = opaque;
    char c;

    g_assert_cmpint(qio_channel_read(s->ioc, &c, 1, NULL), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    qio_channel_yield(s->ioc, G_IO_IN);
    s->resumed_in = g_thread_self();
    g_assert_true(g_atomic_int_get(&s->stop));
    set_flag(&s->lock, &s->cond, &s->done);
}

static gboolean start_layered_co(gpointer data)
{
    LayeredWake *s = data;

    qio_coroutine_enter(qio_coroutine_create(co_layered_wait, s));
    /* Back here: it is suspended in qio_channel_yield(), wake_read works. */
    set_flag(&s->lock, &s->cond, &s->waiting);
    return G_SOURCE_REMOVE;
}

static gpointer layered_worker(gpointer data)
{
    LayeredWake *s = data;

    g_main_context_push_thread_default(s->ctx);
    g_main_loop_run(s->loop);
    g_main_context_pop_thread_default(s->ctx);
    return NULL;
}

/*
 * A channel that forwards its handlers to the channel below (as TLS does)
 * never has handlers of its own: wake_read must still find the context
 * its coroutine waits in (here a worker's thread-default context), not
 * fall back to the global default one, which that thread does not run.
 */
static void test_co_wake_read_layered(void)
{
    g_autoptr(GError) err = NULL;
    int sv[2];
    TestChan *t;
    LayeredWake s = {0};
    GSource *start;

    g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    t = test_chan_new(TEST_CHAN_FWD, sv[0]);
    t->inner = QIO_CHANNEL(
        qio_channel_socket_new_fd(fcntl(sv[0], F_DUPFD_CLOEXEC, 0), &err));
    g_assert_no_error(err);
    s.ioc = QIO_CHANNEL(t);
    qio_test_set_blocking(s.ioc, false);
    s.ctx = g_main_context_new();
    s.loop = g_main_loop_new(s.ctx, FALSE);
    g_mutex_init(&s.lock);
    g_cond_init(&s.cond);
    s.worker = g_thread_new("layered-worker", layered_worker, &s);

    start = g_idle_source_new();
    g_source_set_callback(start, start_layered_co, &s, NULL);
    g_source_attach(start, s.ctx);
    g_source_unref(start);
    wait_flag(&s.lock, &s.cond, &s.waiting);

    g_atomic_int_set(&s.stop, 1);
    qio_channel_wake_read(s.ioc);
    wait_flag(&s.lock, &s.cond, &s.done);
    g_main_loop_quit(s.loop);
    g_thread_join(s.worker);
    g_assert_true(s.resumed_in == s.worker);

    g_main_loop_unref(s.loop);
    g_main_context_unref(s.ctx);
    g_mutex_clear(&s.lock);
    g_cond_clear(&s.cond);
    unref_and_check_freed(s.ioc);
    close(sv[1]);
}

typedef struct {
    QIOChannel *ioc;
    QIOCoroutine *co;
    GThread *main_thread;
    bool enter_allowed;
    unsigned entries;
    unsigned stray;
    unsigned reenters;
    bool done;
} Detach;

static void coroutine_fn co_detach(void *opaque)
{
    Detach *s = opaque;
    char buf[8] = {0};
    ssize_t n;

    g_assert_cmpint(qio_channel_read(s->ioc, buf, sizeof(buf), NULL), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    qio_channel_yield(s->ioc, G_IO_IN);
    s->entries++;
    s->stray += !s->enter_allowed;
    s->enter_allowed = false;
    qio_test_read_str(s->ioc, "one");

    /* Waiting again: now in the attached context. */
    while ((n = qio_channel_read(s->ioc, buf, sizeof(buf) - 1, NULL)) ==
           QIO_CHANNEL_ERR_BLOCK) {
        qio_channel_yield(s->ioc, G_IO_IN);
        s->entries++;
    }
    g_assert_cmpint(n, ==, 3);
    g_assert_cmpstr(buf, ==, "two");
    s->done = true;
}

static gboolean reenter_idle(gpointer data)
{
    Detach *s = data;

    s->reenters++;
    s->enter_allowed = true;
    qio_coroutine_enter(s->co);
    return G_SOURCE_REMOVE;
}

/*
 * detach removes the waiting coroutine's handlers: no wake while detached.
 * Following the documented protocol (attach, then re-enter from the new
 * context), the coroutine is entered once, by the re-enter; its next wait
 * uses the new context.
 */
static void test_co_detach(void)
{
    GMainContext *ctx = g_main_context_new();
    QIOChannel *a;
    QIOChannel *b;
    Detach s = {0};
    GSource *idle;

    socket_channels(&a, &b);
    qio_test_set_blocking(a, false);
    s.ioc = a;
    s.co = qio_coroutine_create(co_detach, &s);
    qio_coroutine_enter(s.co);

    qio_channel_detach_aio_context(a);
    qio_test_write_str(b, "one");
    poll_context(NULL);
    g_assert_cmpuint(s.entries, ==, 0);

    qio_channel_attach_aio_context(a, ctx);
    idle = g_idle_source_new();
    g_source_set_callback(idle, reenter_idle, &s, NULL);
    g_source_attach(idle, ctx);
    g_source_unref(idle);
    while (s.reenters == 0) {
        g_main_context_iteration(ctx, TRUE);
    }
    poll_context(ctx);
    g_assert_cmpuint(s.stray, ==, 0);
    g_assert_cmpuint(s.entries, ==, 1);
    g_assert_false(s.done);

    /* The second wait's handler is in ctx, not in the default context. */
    qio_test_write_str(b, "two");
    poll_context(NULL);
    g_assert_false(s.done);
    while (!s.done) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_assert_cmpuint(s.entries, ==, 2);

    qio_channel_detach_aio_context(a);
    drain_context(ctx);
    g_assert_false(g_main_context_pending(ctx));
    g_main_context_unref(ctx);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

typedef struct {
    unsigned reads;
    unsigned writes;
} AioCount;

static void on_aio_read(void *opaque)
{
    ((AioCount *)opaque)->reads++;
}

static void on_aio_write(void *opaque)
{
    ((AioCount *)opaque)->writes++;
}

/* Level-triggered handlers: installed, replaced, moved and removed. */
static void test_set_aio_fd_handler(void)
{
    GMainContext *ctx = g_main_context_new();
    QIOChannel *a;
    QIOChannel *b;
    AioCount n = {0};
    unsigned before;

    socket_channels(&a, &b);
    qio_channel_set_aio_fd_handler(a, NULL, on_aio_read, on_aio_write, &n);
    g_main_context_iteration(NULL, FALSE);
    g_assert_cmpuint(n.writes, ==, 1);
    g_assert_cmpuint(n.reads, ==, 0);
    g_main_context_iteration(NULL, FALSE);
    g_assert_cmpuint(n.writes, ==, 2);

    /* Drop the write handler only. */
    qio_channel_set_aio_fd_handler(a, NULL, on_aio_read, NULL, &n);
    poll_context(NULL);
    g_assert_cmpuint(n.writes, ==, 2);
    g_assert_cmpuint(n.reads, ==, 0);
    qio_test_write_str(b, "x");
    g_main_context_iteration(NULL, FALSE);
    g_main_context_iteration(NULL, FALSE);
    g_assert_cmpuint(n.reads, ==, 2); /* unread data: again and again */

    /* Into a private context: the default one no longer sees it. */
    qio_channel_set_aio_fd_handler(a, ctx, on_aio_read, on_aio_write, &n);
    before = n.reads;
    poll_context(NULL);
    g_assert_cmpuint(n.reads, ==, before);
    g_main_context_iteration(ctx, FALSE);
    g_assert_cmpuint(n.reads, ==, before + 1);
    g_assert_cmpuint(n.writes, ==, 3);

    /* NULL removes both. */
    qio_channel_set_aio_fd_handler(a, ctx, NULL, NULL, NULL);
    poll_context(ctx);
    poll_context(NULL);
    g_assert_cmpuint(n.reads, ==, before + 1);
    g_assert_cmpuint(n.writes, ==, 3);
    g_assert_false(g_main_context_pending(ctx));

    g_main_context_unref(ctx);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

/* Two readable sockets whose handlers each close the other one. */
typedef struct {
    QIOChannel *ioc[2];
    unsigned calls[2];
} AioRivals;

static void rival_close_other(AioRivals *r, int me)
{
    r->calls[me]++;
    if (r->ioc[!me]) {
        qio_channel_close(r->ioc[!me], NULL);
        g_clear_object(&r->ioc[!me]);
    }
}

static void on_rival0(void *opaque)
{
    rival_close_other(opaque, 0);
}

static void on_rival1(void *opaque)
{
    rival_close_other(opaque, 1);
}

/*
 * Both sockets are ready in the same epoll batch; the first handler frees
 * the other channel, whose entry in that batch must then be skipped (under
 * ASan or valgrind a use after free otherwise; here its handler would run).
 */
static void test_aio_batch_close(void)
{
    AioRivals r = {{NULL, NULL}, {0, 0}};
    QIOChannel *peer[2];

    for (int i = 0; i < 2; i++) {
        socket_channels(&r.ioc[i], &peer[i]);
        qio_test_write_str(peer[i], "x");
    }
    qio_channel_set_aio_fd_handler(r.ioc[0], NULL, on_rival0, NULL, &r);
    qio_channel_set_aio_fd_handler(r.ioc[1], NULL, on_rival1, NULL, &r);
    g_main_context_iteration(NULL, FALSE);
    g_assert_cmpuint(r.calls[0] + r.calls[1], ==, 1);
    poll_context(NULL);
    /* The survivor, unread, is called again; the closed one never. */
    g_assert_cmpuint(MIN(r.calls[0], r.calls[1]), ==, 0);
    g_assert_cmpuint(MAX(r.calls[0], r.calls[1]), >, 1);
    for (int i = 0; i < 2; i++) {
        if (r.ioc[i]) {
            qio_channel_set_aio_fd_handler(r.ioc[i], NULL, NULL, NULL, NULL);
            unref_and_check_freed(r.ioc[i]);
        }
        unref_and_check_freed(peer[i]);
    }
}

/*
 * Two channels on one descriptor number: epoll takes a descriptor once,
 * so the second falls back to a watch. Both must still be called.
 */
static void test_aio_same_fd(void)
{
    g_autoptr(GError) err = NULL;
    QIOChannel *a;
    QIOChannel *b;
    QIOChannel *twin;
    AioCount na = {0};
    AioCount nt = {0};

    socket_channels(&a, &b);
    twin = QIO_CHANNEL(qio_channel_socket_new_fd(
        qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(a)), &err));
    g_assert_no_error(err);
    qio_test_write_str(b, "x");
    qio_channel_set_aio_fd_handler(a, NULL, on_aio_read, NULL, &na);
    qio_channel_set_aio_fd_handler(twin, NULL, on_aio_read, NULL, &nt);
    g_main_context_iteration(NULL, FALSE);
    g_main_context_iteration(NULL, FALSE);
    g_assert_cmpuint(na.reads, >=, 1);
    g_assert_cmpuint(nt.reads, >=, 1);
    qio_channel_set_aio_fd_handler(a, NULL, NULL, NULL, NULL);
    qio_channel_set_aio_fd_handler(twin, NULL, NULL, NULL, NULL);
    unref_and_check_freed(a);
    /* The descriptor went with @a: the twin's close fails, harmlessly. */
    qio_channel_close(twin, NULL);
    g_object_unref(twin);
    unref_and_check_freed(b);
}

/* ---------------------------------------------------------------- poll */

/*
 * A context with an epoll set polls through libqio's poll function: GLib's
 * descriptors wait in the same set, one epoll_wait(2) per iteration.
 */

static gboolean count_fd_ready(gint fd, GIOCondition cond, gpointer data)
{
    (*(unsigned *)data)++;
    return G_SOURCE_CONTINUE;
}

/* A GLib source on @fd in @ctx counting its dispatches in *@n. */
static GSource *add_fd_counter(GMainContext *ctx, int fd, unsigned *n)
{
    GSource *source = g_unix_fd_source_new(fd, G_IO_IN);

    g_source_set_callback(source, G_SOURCE_FUNC(count_fd_ready), n, NULL);
    g_source_attach(source, ctx);
    return source;
}

static void remove_source(GSource *source)
{
    g_source_destroy(source);
    g_source_unref(source);
}

/* Iterate @ctx until *@n moves past @before; FALSE after @rounds. */
static bool iterate_until(GMainContext *ctx, unsigned *n, unsigned before,
                          int rounds)
{
    for (int i = 0; i < rounds && *n == before; i++) {
        g_main_context_iteration(ctx, FALSE);
    }
    return *n != before;
}

static gboolean raise_flag(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

/* Blocking iterations of @ctx for 10 ms. */
static void iterate_blocking(GMainContext *ctx)
{
    GSource *source = g_timeout_source_new(10);
    bool done = false;

    g_source_set_callback(source, raise_flag, &done, NULL);
    g_source_attach(source, ctx);
    while (!done) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(source);
    g_source_unref(source);
}

/* Many descriptors: GLib's sources and aio handlers fire in one context. */
static void test_aio_poll_mixed(void)
{
    GMainContext *ctx = g_main_context_new();
    QIOChannel *a[8];
    QIOChannel *b[8];
    AioCount n[8] = {{0}};
    int pipes[8][2];
    GSource *sources[8];
    unsigned fired[8] = {0};

    for (int i = 0; i < 8; i++) {
        socket_channels(&a[i], &b[i]);
        qio_channel_set_aio_fd_handler(a[i], ctx, on_aio_read, NULL, &n[i]);
        qio_test_make_pipe(pipes[i]);
        sources[i] = add_fd_counter(ctx, pipes[i][0], &fired[i]);
    }
    g_assert_true(g_main_context_get_poll_func(ctx) != g_poll);
    poll_context(ctx);
    for (int i = 0; i < 8; i++) {
        g_assert_cmpuint(n[i].reads + fired[i], ==, 0);
    }
    /* The odd ones of each kind become ready. */
    for (int i = 1; i < 8; i += 2) {
        qio_test_write_str(b[i], "x");
        g_assert_cmpint(write(pipes[i][1], "x", 1), ==, 1);
    }
    g_main_context_iteration(ctx, FALSE);
    for (int i = 0; i < 8; i++) {
        g_assert_cmpuint(n[i].reads, ==, i % 2);
        g_assert_cmpuint(fired[i], ==, i % 2);
    }
    /* A blocking iteration wakes for either kind. */
    g_assert_cmpint(write(pipes[0][1], "x", 1), ==, 1);
    g_main_context_iteration(ctx, TRUE);
    g_assert_cmpuint(fired[0], ==, 1);
    for (int i = 0; i < 8; i++) {
        qio_channel_set_aio_fd_handler(a[i], ctx, NULL, NULL, NULL);
        remove_source(sources[i]);
        close(pipes[i][0]);
        close(pipes[i][1]);
        unref_and_check_freed(a[i]);
        unref_and_check_freed(b[i]);
    }
    g_main_context_unref(ctx);
}

/*
 * A descriptor GLib watched is closed and its number comes back, for
 * GLib's own source and then for an aio handler: neither may be lost to
 * the registration of the old one.
 */
static void test_aio_poll_fd_reused(void)
{
    GMainContext *ctx = g_main_context_new();
    QIOChannel *a;
    QIOChannel *b;
    AioCount n = {0};
    unsigned fired = 0;
    int p[2];
    int q[2];
    int fd;
    GSource *source;

    socket_channels(&a, &b);
    qio_channel_set_aio_fd_handler(a, ctx, on_aio_read, NULL, &n);
    qio_test_make_pipe(p);
    source = add_fd_counter(ctx, p[0], &fired);
    poll_context(ctx);

    /* Same number, same events, new pipe: GLib's source must fire. */
    fd = p[0];
    remove_source(source);
    close(p[0]);
    close(p[1]);
    qio_test_make_pipe(q);
    g_assert_cmpint(q[0], ==, fd);
    source = add_fd_counter(ctx, q[0], &fired);
    g_assert_cmpint(write(q[1], "x", 1), ==, 1);
    g_assert_true(iterate_until(ctx, &fired, 0, 5));
    remove_source(source);
    poll_context(ctx);

    /* The number again, now a socket with an aio handler. */
    close(q[0]);
    close(q[1]);
    {
        QIOChannel *c;
        QIOChannel *d;
        AioCount m = {0};

        socket_channels(&c, &d);
        g_assert_cmpint(qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(c)), ==,
                        fd);
        qio_channel_set_aio_fd_handler(c, ctx, on_aio_read, NULL, &m);
        /* A round that blocks drops what GLib no longer lists. */
        iterate_blocking(ctx);
        qio_test_write_str(d, "x");
        g_assert_true(iterate_until(ctx, &m.reads, 0, 5));
        qio_channel_set_aio_fd_handler(c, ctx, NULL, NULL, NULL);
        unref_and_check_freed(c);
        unref_and_check_freed(d);
    }
    /* The first handler was never disturbed. */
    qio_test_write_str(b, "x");
    g_assert_true(iterate_until(ctx, &n.reads, 0, 5));
    qio_channel_set_aio_fd_handler(a, ctx, NULL, NULL, NULL);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
    g_main_context_unref(ctx);
}

/* epoll refuses regular files: GLib's watch on one still works. */
static void test_aio_poll_regular_file(void)
{
    GMainContext *ctx = g_main_context_new();
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "f", NULL);
    QIOChannel *a;
    QIOChannel *b;
    AioCount n = {0};
    unsigned fired = 0;
    GSource *source;
    int fd;

    socket_channels(&a, &b);
    qio_channel_set_aio_fd_handler(a, ctx, on_aio_read, NULL, &n);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    g_assert_cmpint(fd, >=, 0);
    source = add_fd_counter(ctx, fd, &fired);
    /* poll(2) says a regular file is always readable. */
    g_main_context_iteration(ctx, FALSE);
    g_assert_cmpuint(fired, ==, 1);
    g_assert_cmpuint(n.reads, ==, 0);
    qio_test_write_str(b, "x");
    g_main_context_iteration(ctx, FALSE);
    g_assert_cmpuint(fired, ==, 2);
    g_assert_cmpuint(n.reads, ==, 1);
    /* Without the file, the epoll set does it alone again. */
    remove_source(source);
    g_main_context_iteration(ctx, FALSE);
    g_assert_cmpuint(n.reads, ==, 2);
    g_assert_cmpuint(fired, ==, 2);
    close(fd);
    unlink(path);
    rmdir(dir);
    qio_channel_set_aio_fd_handler(a, ctx, NULL, NULL, NULL);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
    g_main_context_unref(ctx);
}

/*
 * A watched descriptor is closed while a duplicate keeps its pipe open:
 * the kernel keeps the registration, with no number left to remove it
 * by. Once it keeps firing the set is made anew; the loop must block
 * again, and the aio handler still work.
 */
static void test_aio_poll_stale(void)
{
    GMainContext *ctx = g_main_context_new();
    QIOChannel *a;
    QIOChannel *b;
    AioCount n = {0};
    unsigned fired = 0;
    unsigned rounds = 0;
    bool timeout = false;
    GSource *source;
    int p[2];
    int dup_fd;

    socket_channels(&a, &b);
    qio_channel_set_aio_fd_handler(a, ctx, on_aio_read, NULL, &n);
    qio_test_make_pipe(p);
    source = add_fd_counter(ctx, p[0], &fired);
    poll_context(ctx);
    dup_fd = fcntl(p[0], F_DUPFD_CLOEXEC, 0);
    g_assert_cmpint(dup_fd, >=, 0);
    remove_source(source);
    close(p[0]);
    g_assert_cmpint(write(p[1], "x", 1), ==, 1);
    /* Without a new set this spins: every wait returns at once. */
    source = g_timeout_source_new(100);
    g_source_set_callback(source, raise_flag, &timeout, NULL);
    g_source_attach(source, ctx);
    while (!timeout) {
        g_main_context_iteration(ctx, TRUE);
        rounds++;
    }
    remove_source(source);
    g_assert_cmpuint(rounds, <, 50);
    g_assert_cmpuint(fired, ==, 0);
    qio_test_write_str(b, "x");
    g_assert_true(iterate_until(ctx, &n.reads, 0, 5));
    close(dup_fd);
    close(p[1]);
    qio_channel_set_aio_fd_handler(a, ctx, NULL, NULL, NULL);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
    g_main_context_unref(ctx);
}

typedef struct {
    GMainContext *ctx;
    unsigned *fired;
    unsigned depth;
    unsigned calls;
} AioNested;

/* A handler that runs its own context, in which GLib's source fires. */
static void on_aio_nested(void *opaque)
{
    AioNested *t = opaque;
    unsigned before = *t->fired;

    t->calls++;
    if (t->depth++ == 0) {
        g_assert_true(iterate_until(t->ctx, t->fired, before, 5));
    }
    t->depth--;
}

static void test_aio_poll_nested(void)
{
    GMainContext *ctx = g_main_context_new();
    QIOChannel *a;
    QIOChannel *b;
    unsigned fired = 0;
    AioNested t = {ctx, &fired, 0, 0};
    GSource *source;
    int p[2];

    socket_channels(&a, &b);
    qio_channel_set_aio_fd_handler(a, ctx, on_aio_nested, NULL, &t);
    qio_test_make_pipe(p);
    source = add_fd_counter(ctx, p[0], &fired);
    g_assert_cmpint(write(p[1], "x", 1), ==, 1);
    qio_test_write_str(b, "x");
    g_main_context_iteration(ctx, FALSE);
    g_assert_cmpuint(t.calls, >=, 1);
    g_assert_cmpuint(fired, >=, 1);
    remove_source(source);
    close(p[0]);
    close(p[1]);
    qio_channel_set_aio_fd_handler(a, ctx, NULL, NULL, NULL);
    unref_and_check_freed(a);
    unref_and_check_freed(b);
    g_main_context_unref(ctx);
}

typedef struct {
    QIOChannel *ioc;
    unsigned rounds;
    unsigned done;
    char *buf;
} PingPong;

static void coroutine_fn co_ping(void *opaque)
{
    PingPong *p = opaque;

    for (unsigned i = 0; i < p->rounds; i++) {
        g_assert_cmpint(qio_channel_write_all(p->ioc, p->buf, 4096, NULL), ==,
                        0);
        g_assert_cmpint(qio_channel_read_all(p->ioc, p->buf, 4096, NULL), ==,
                        0);
    }
    p->done++;
}

static void coroutine_fn co_pong(void *opaque)
{
    PingPong *p = opaque;

    for (unsigned i = 0; i < p->rounds; i++) {
        g_assert_cmpint(qio_channel_read_all(p->ioc, p->buf, 4096, NULL), ==,
                        0);
        g_assert_cmpint(qio_channel_write_all(p->ioc, p->buf, 4096, NULL), ==,
                        0);
    }
    p->done++;
}

/*
 * Many waits and wake-ups, with names on the channels so their sources
 * can be recognised: afterwards nothing of theirs is left in the context
 * and both channels die with their last reference.
 */
static void test_co_no_leaked_sources(void)
{
    g_autofree char *pingbuf = g_malloc0(4096);
    g_autofree char *pongbuf = g_malloc0(4096);
    QIOChannel *a;
    QIOChannel *b;
    PingPong ping;
    PingPong pong;

    socket_channels(&a, &b);
    qio_channel_set_name(a, "leak-a");
    qio_channel_set_name(b, "leak-b");
    qio_test_set_blocking(a, false);
    qio_test_set_blocking(b, false);
    ping = (PingPong){a, 500, 0, pingbuf};
    pong = (PingPong){b, 500, 0, pongbuf};
    qio_coroutine_enter(qio_coroutine_create(co_pong, &pong));
    qio_coroutine_enter(qio_coroutine_create(co_ping, &ping));
    while (ping.done + pong.done < 2) {
        g_main_context_iteration(NULL, TRUE);
    }
    drain_context(NULL);
    g_assert_false(g_main_context_pending(NULL));
    unref_and_check_freed(a);
    unref_and_check_freed(b);
}

/* ---------------------------------------------------------------- 8: close */

/*
 * close drops the handler sources: no more calls, and the channel dies.
 * @peer (nullable) is unreferenced at the end.
 */
static void run_close_drops_handlers(QIOChannel *ioc, QIOChannel *peer)
{
    g_autoptr(GError) err = NULL;
    AioCount n = {0};
    char c;

    qio_channel_set_aio_fd_handler(ioc, NULL, on_aio_read, on_aio_write, &n);
    g_main_context_iteration(NULL, FALSE);
    g_assert_cmpuint(n.writes, ==, 1);

    g_assert_cmpint(qio_channel_close(ioc, &err), ==, 0);
    g_assert_no_error(err);
    poll_context(NULL);
    g_assert_cmpuint(n.writes, ==, 1);
    g_assert_cmpuint(n.reads, ==, 0);
    g_assert_false(g_main_context_pending(NULL));

    /* Closed: I/O fails with an error rather than touching a stale fd. */
    g_assert_cmpint(qio_channel_read(ioc, &c, 1, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
    unref_and_check_freed(ioc);
    if (peer) {
        unref_and_check_freed(peer);
    }
}

static void test_close_socket(void)
{
    QIOChannel *a;
    QIOChannel *b;

    socket_channels(&a, &b);
    run_close_drops_handlers(a, b);
}

static void test_close_pipe(void)
{
    int p[2];

    /* One channel over both ends of a pipe: writable, not yet readable. */
    g_assert_no_errno(pipe(p));
    run_close_drops_handlers(
        QIO_CHANNEL(qio_channel_file_new_fd_pair(p[0], p[1])), NULL);
}

/* ---------------------------------------------------------------- main */

/* The error domains keep their names (GError users print and match them). */
static void test_error_domains(void)
{
    g_assert_cmpstr(g_quark_to_string(QIO_CHANNEL_ERROR), ==,
                    "qio-channel-error-quark");
    g_assert_cmpstr(g_quark_to_string(QIO_CHANNEL_TLS_ERROR), ==,
                    "qio-channel-tls-error-quark");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* Writes to a closed pipe must fail with EPIPE, not kill the test. */
    signal(SIGPIPE, SIG_IGN);

    g_test_add_func("/channel/base/error-domains", test_error_domains);
    g_test_add_func("/channel/base/missing-methods", test_base_missing_methods);
    g_test_add_func("/channel/base/flag-checks", test_base_flag_checks);
    g_test_add_func("/channel/base/optional-methods",
                    test_base_optional_methods);
    g_test_add_func("/channel/features/pipe", test_features_pipe);
    g_test_add_func("/channel/features/socket", test_features_socket);
    g_test_add_func("/channel/features/listener", test_features_listener);
    g_test_add_func("/channel/new-fd", test_new_fd);
    g_test_add_func("/channel/names", test_names);
    g_test_add_func("/channel/watch/in", test_watch_in);
    g_test_add_func("/channel/watch/thread-default", test_watch_thread_default);
    g_test_add_func("/channel/watch/full-context", test_watch_full_context);
    g_test_add_func("/channel/watch/source", test_watch_source);
    g_test_add_func("/channel/watch/hup", test_watch_hup);
    g_test_add_func("/channel/watch/fd-pair", test_watch_fd_pair);
    g_test_add_func("/channel/wait/blocks", test_wait_blocks);
    g_test_add_func("/channel/wait/hup", test_wait_hup);
    g_test_add_func("/channel/all/writev-nonblocking",
                    test_writev_all_nonblocking);
    g_test_add_func("/channel/all/readv-eof", test_readv_all_eof);
    g_test_add_func("/channel/all/read-eof-midway", test_read_all_eof_midway);
    g_test_add_func("/channel/all/readv-full-fds", test_readv_full_all_fds);
    g_test_add_func("/channel/all/readv-full-fds-eof",
                    test_readv_full_all_fds_eof);
    g_test_add_func("/channel/all/writev-full-fds", test_writev_full_all_fds);
    g_test_add_func("/channel/coroutine/yield-in", test_co_yield_in);
    g_test_add_func("/channel/coroutine/bidirectional", test_co_bidirectional);
    g_test_add_func("/channel/coroutine/wake-read-thread",
                    test_co_wake_read_thread);
    g_test_add_func("/channel/coroutine/read-all-runs-loop",
                    test_co_read_all_runs_loop);
    g_test_add_func("/channel/coroutine/one-reader", test_co_one_reader);
    g_test_add_func("/channel/coroutine/reenter", test_co_reenter);
    g_test_add_func("/channel/coroutine/attach-thread", test_co_attach_thread);
    g_test_add_func("/channel/coroutine/thread-default",
                    test_co_thread_default);
    g_test_add_func("/channel/coroutine/wake-read-layered",
                    test_co_wake_read_layered);
    g_test_add_func("/channel/coroutine/detach", test_co_detach);
    g_test_add_func("/channel/coroutine/set-aio-fd-handler",
                    test_set_aio_fd_handler);
    g_test_add_func("/channel/aio/batch-close", test_aio_batch_close);
    g_test_add_func("/channel/aio/same-fd", test_aio_same_fd);
    g_test_add_func("/channel/aio/poll/mixed", test_aio_poll_mixed);
    g_test_add_func("/channel/aio/poll/fd-reused", test_aio_poll_fd_reused);
    g_test_add_func("/channel/aio/poll/regular-file",
                    test_aio_poll_regular_file);
    g_test_add_func("/channel/aio/poll/stale", test_aio_poll_stale);
    g_test_add_func("/channel/aio/poll/nested", test_aio_poll_nested);
    g_test_add_func("/channel/coroutine/no-leaked-sources",
                    test_co_no_leaked_sources);
    g_test_add_func("/channel/close/socket", test_close_socket);
    g_test_add_func("/channel/close/pipe", test_close_pipe);

    return g_test_run();
}
