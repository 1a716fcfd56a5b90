/*
 * Unit tests for QIOChannelFile: files, pipes, ttys, plain descriptors.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "qio/channel-file.h"
#include "test-util.h"

/* Large enough to cross any pipe buffer many times; odd on purpose. */
#define BIG_LEN ((size_t)4 * 1024 * 1024 + 12345)

/* ---------------------------------------------------------------- helpers */

/* Report the first differing byte rather than a bare memcmp failure. */
static void assert_same_data(const char *want, const char *got, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (want[i] != got[i]) {
            g_error("data differ at offset %zu of %zu", i, len);
        }
    }
}

/*
 * qio_test_transfer() from @wr to @rd, then close @wr: @rd must see a
 * clean end-of-file after the data.
 */
static void transfer_then_eof(QIOChannel *wr, QIOChannel *rd,
                              QIOTestTransfer *opts)
{
    g_autoptr(GError) err = NULL;
    char c;

    qio_test_transfer(wr, rd, opts);
    g_test_message("reader blocked %u times, writer %u", opts->read_blocks,
                   opts->write_blocks);
    g_assert_cmpint(qio_channel_close(wr, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_read_all_eof(rd, &c, 1, &err), ==, 0);
    g_assert_no_error(err);
}

/* An anonymous temporary file, opened read-write. */
static int open_tmpfile(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *name = NULL;
    int fd = g_file_open_tmp("qio-file-XXXXXX", &name, &err);

    g_assert_no_error(err);
    g_assert_no_errno(g_unlink(name));
    return fd;
}

/* Expect @ret to be NULL and @err to match, naming the operation. */
static void assert_open_error(QIOChannelFile *ioc, GError *err, int code,
                              const char *path)
{
    g_autofree char *prefix = g_strdup_printf("open %s: ", path);

    g_assert_null(ioc);
    g_assert_error(err, G_IO_ERROR, code);
    g_assert_true(g_str_has_prefix(err->message, prefix));
}

/* ---------------------------------------------------------------- files */

static void test_file_iov_roundtrip(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "data", NULL);
    g_autofree char *want = g_malloc(BIG_LEN);
    g_autofree char *got = g_malloc0(BIG_LEN);
    g_autofree struct iovec *wiov = qio_test_make_iov(want, BIG_LEN, 64);
    g_autofree struct iovec *riov = qio_test_make_iov(got, BIG_LEN, 61);
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelFile) fioc = NULL;
    QIOChannel *ioc;
    char c;

    fioc =
        qio_channel_file_new_path(path, O_RDWR | O_CREAT | O_TRUNC, 0600, &err);
    g_assert_no_error(err);
    qio_test_fill_random(want, BIG_LEN);
    ioc = QIO_CHANNEL(fioc);
    g_assert_true(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN));
    g_assert_false(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS));
    g_assert_cmpint(fcntl(qio_channel_file_get_fd(fioc), F_GETFD), ==,
                    FD_CLOEXEC);

    g_assert_cmpint(qio_channel_writev_all(ioc, wiov, 64, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_io_seek(ioc, 0, SEEK_CUR, &err), ==,
                    (off_t)BIG_LEN);
    g_assert_cmpint(qio_channel_io_seek(ioc, 0, SEEK_SET, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_readv_all(ioc, riov, 61, &err), ==, 0);
    g_assert_no_error(err);
    assert_same_data(want, got, BIG_LEN);
    g_assert_cmpint(qio_channel_read_all_eof(ioc, &c, 1, &err), ==, 0);
    g_assert_no_error(err);

    g_assert_cmpint(qio_channel_close(ioc, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_no_errno(g_unlink(path));
    g_assert_no_errno(g_rmdir(dir));
}

typedef struct {
    QIOChannel *ioc;
    char *buf;
    bool writing;
    int ret;
    GError *err;
} FileJob;

static gpointer file_job(gpointer data)
{
    FileJob *j = data;
    g_autofree struct iovec *iov =
        qio_test_make_iov(j->buf, BIG_LEN, j->writing ? 64 : 61);

    j->ret = j->writing ? qio_channel_writev_all(j->ioc, iov, 64, &j->err)
                        : qio_channel_readv_all(j->ioc, iov, 61, &j->err);
    return NULL;
}

/*
 * Non-blocking mode on a regular file, written by one thread through one
 * channel and read back by another thread through a second channel.
 */
static void test_file_threads_nonblocking(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "data", NULL);
    g_autofree char *want = g_malloc(BIG_LEN);
    g_autofree char *got = g_malloc0(BIG_LEN);
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;
    g_autoptr(QIOChannelFile) rd = NULL;
    FileJob w = {0};
    FileJob r = {0};
    char c;

    qio_test_fill_random(want, BIG_LEN);
    wr = qio_channel_file_new_path(path, O_WRONLY | O_CREAT | O_TRUNC, 0600,
                                   &err);
    g_assert_no_error(err);
    rd = qio_channel_file_new_path(path, O_RDONLY, 0, &err);
    g_assert_no_error(err);
    qio_test_set_blocking(QIO_CHANNEL(wr), false);
    qio_test_set_blocking(QIO_CHANNEL(rd), false);

    w = (FileJob){QIO_CHANNEL(wr), want, true};
    g_thread_join(g_thread_new("writer", file_job, &w));
    g_assert_no_error(w.err);
    g_assert_cmpint(w.ret, ==, 0);
    r = (FileJob){QIO_CHANNEL(rd), got, false};
    g_thread_join(g_thread_new("reader", file_job, &r));
    g_assert_no_error(r.err);
    g_assert_cmpint(r.ret, ==, 0);
    assert_same_data(want, got, BIG_LEN);
    g_assert_cmpint(qio_channel_read_all_eof(QIO_CHANNEL(rd), &c, 1, &err), ==,
                    0);
    g_assert_no_error(err);

    g_assert_no_errno(g_unlink(path));
    g_assert_no_errno(g_rmdir(dir));
}

static void test_file_open_enoent(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "no", "such", NULL);
    g_autofree char *msg = NULL;
    g_autoptr(GError) err = NULL;
    QIOChannelFile *fioc = qio_channel_file_new_path(path, O_RDONLY, 0, &err);

    assert_open_error(fioc, err, G_IO_ERROR_NOT_FOUND, path);
    msg = g_strdup_printf("open %s: %s", path, g_strerror(ENOENT));
    g_assert_cmpstr(err->message, ==, msg);
    g_assert_no_errno(g_rmdir(dir));
}

static void test_file_open_excl(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "exists", NULL);
    g_autoptr(GError) err = NULL;
    QIOChannelFile *fioc = NULL;

    g_assert_true(g_file_set_contents(path, "x", 1, NULL));
    fioc = qio_channel_file_new_path(path, O_WRONLY | O_CREAT | O_EXCL, 0600,
                                     &err);
    assert_open_error(fioc, err, G_IO_ERROR_EXISTS, path);
    g_assert_no_errno(g_unlink(path));
    g_assert_no_errno(g_rmdir(dir));
}

static void test_file_open_eacces(void)
{
    g_autofree char *dir = NULL;
    g_autofree char *path = NULL;
    g_autoptr(GError) err = NULL;
    QIOChannelFile *fioc = NULL;

    if (geteuid() == 0) {
        g_test_skip("root ignores directory permissions");
        return;
    }
    dir = qio_test_make_tmpdir();
    path = g_build_filename(dir, "file", NULL);
    g_assert_no_errno(g_chmod(dir, 0500));
    fioc = qio_channel_file_new_path(path, O_WRONLY | O_CREAT, 0600, &err);
    assert_open_error(fioc, err, G_IO_ERROR_PERMISSION_DENIED, path);
    g_assert_no_errno(g_chmod(dir, 0700));
    g_assert_no_errno(g_rmdir(dir));
}

static void test_file_open_eisdir(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autoptr(GError) err = NULL;
    QIOChannelFile *fioc = qio_channel_file_new_path(dir, O_WRONLY, 0, &err);

    assert_open_error(fioc, err, G_IO_ERROR_IS_DIRECTORY, dir);
    g_assert_no_errno(g_rmdir(dir));
}

static void test_file_seekable(void)
{
    g_autoptr(QIOChannelFile) file = NULL;
    g_autoptr(QIOChannelFile) rpipe = NULL;
    g_autoptr(QIOChannelFile) wpipe = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *msg = NULL;
    int fds[2];

    file = qio_channel_file_new_path("/dev/null", O_RDONLY, 0, &err);
    g_assert_no_error(err);
    /* A character device: lseek succeeds, but it is not a file */
    g_assert_false(qio_channel_file_is_seekable(file));
    g_clear_object(&file);

    file = qio_channel_file_new_fd(open_tmpfile());
    g_assert_true(qio_channel_file_is_seekable(file));

    qio_test_make_pipe(fds);
    rpipe = qio_channel_file_new_fd(fds[0]);
    wpipe = qio_channel_file_new_fd(fds[1]);
    g_assert_false(qio_channel_file_is_seekable(rpipe));
    g_assert_false(qio_channel_file_is_seekable(wpipe));
    g_assert_cmpint(qio_channel_io_seek(QIO_CHANNEL(rpipe), 0, SEEK_SET, &err),
                    ==, (off_t)-1);
    msg = g_strdup_printf("seek: %s", g_strerror(ESPIPE));
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, msg);
}

/* ---------------------------------------------------------------- pipes */

static void pipe_transfer(bool nonblocking, bool use_all)
{
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;
    QIOTestTransfer opts = {
        .nonblocking = nonblocking,
        .use_all = use_all,
    };
    int fds[2];

    qio_test_make_pipe(fds);
    rd = qio_channel_file_new_fd_pair(fds[0], -1);
    wr = qio_channel_file_new_fd_pair(-1, fds[1]);
    transfer_then_eof(QIO_CHANNEL(wr), QIO_CHANNEL(rd), &opts);
}

static void test_pipe_blocking(void)
{
    pipe_transfer(false, true);
}

static void test_pipe_blocking_single(void)
{
    pipe_transfer(false, false);
}

static void test_pipe_nonblocking_all(void)
{
    pipe_transfer(true, true);
}

/* Single calls: ERR_BLOCK met with qio_channel_wait() by the caller */
static void test_pipe_nonblocking_single(void)
{
    pipe_transfer(true, false);
}

/* Non-blocking: an empty pipe reads ERR_BLOCK, a full one writes it. */
static void test_pipe_err_block(void)
{
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;
    g_autofree char *buf = g_malloc0(65536);
    g_autoptr(GError) err = NULL;
    size_t total = 0;
    ssize_t n;
    int fds[2];

    qio_test_make_pipe(fds);
    rd = qio_channel_file_new_fd_pair(fds[0], -1);
    wr = qio_channel_file_new_fd_pair(-1, fds[1]);
    g_assert_cmpint(qio_channel_set_blocking(QIO_CHANNEL(rd), false, &err), ==,
                    0);
    g_assert_cmpint(qio_channel_set_blocking(QIO_CHANNEL(wr), false, &err), ==,
                    0);
    g_assert_cmpint(fcntl(fds[0], F_GETFL) & O_NONBLOCK, ==, O_NONBLOCK);
    g_assert_cmpint(fcntl(fds[1], F_GETFL) & O_NONBLOCK, ==, O_NONBLOCK);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(rd), buf, 1, &err), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    g_assert_no_error(err);
    while ((n = qio_channel_write(QIO_CHANNEL(wr), buf, 65536, &err)) > 0) {
        total += (size_t)n;
    }
    g_assert_no_error(err);
    g_assert_cmpint(n, ==, QIO_CHANNEL_ERR_BLOCK);
    g_assert_cmpuint(total, >, 0);
    /* Back to blocking: the data is there, so this does not wait */
    g_assert_cmpint(qio_channel_set_blocking(QIO_CHANNEL(rd), true, &err), ==,
                    0);
    while (total > 0) {
        size_t chunk = MIN(total, 65536);

        g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(rd), buf, chunk, &err),
                        ==, 0);
        g_assert_no_error(err);
        total -= chunk;
    }
    g_assert_cmpint(qio_channel_set_blocking(QIO_CHANNEL(rd), false, &err), ==,
                    0);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(rd), buf, 1, &err), ==,
                    QIO_CHANNEL_ERR_BLOCK);
}

static void test_pipe_read_all_eof(void)
{
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;
    g_autoptr(GError) err = NULL;
    char buf[10];
    int fds[2];

    qio_test_make_pipe(fds);
    rd = qio_channel_file_new_fd(fds[0]);
    wr = qio_channel_file_new_fd(fds[1]);
    g_assert_cmpint(
        qio_channel_write_all(QIO_CHANNEL(wr), "0123456789abcde", 15, &err), ==,
        0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(wr), &err), ==, 0);

    g_assert_cmpint(qio_channel_read_all_eof(QIO_CHANNEL(rd), buf, 10, &err),
                    ==, 1);
    g_assert_cmpmem(buf, 10, "0123456789", 10);
    /* Five bytes then end-of-file: mid-message */
    g_assert_cmpint(qio_channel_read_all_eof(QIO_CHANNEL(rd), buf, 10, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_EOF);
    g_clear_error(&err);
    /* Now a clean end-of-file */
    g_assert_cmpint(qio_channel_read_all_eof(QIO_CHANNEL(rd), buf, 10, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(rd), buf, 10, &err), ==,
                    -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_EOF);
}

static void test_pipe_no_fds(void)
{
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;
    g_autoptr(GError) err = NULL;
    char buf[4] = "abc";
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    int *rfds = NULL;
    size_t nrfds = 0;
    int sfd = STDIN_FILENO;
    int fds[2];

    qio_test_make_pipe(fds);
    rd = qio_channel_file_new_fd(fds[0]);
    wr = qio_channel_file_new_fd(fds[1]);
    g_assert_cmpint(
        qio_channel_writev_full(QIO_CHANNEL(wr), &iov, 1, &sfd, 1, 0, &err), ==,
        -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(wr), buf, 4, &err), ==,
                    0);
    g_assert_cmpint(qio_channel_readv_full(QIO_CHANNEL(rd), &iov, 1, &rfds,
                                           &nrfds, 0, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_assert_null(rfds);
    g_assert_cmpuint(nrfds, ==, 0);
}

static void test_one_way(void)
{
    g_autoptr(QIOChannelFile) rd = NULL;
    g_autoptr(QIOChannelFile) wr = NULL;
    g_autoptr(GError) err = NULL;
    char c = 'x';
    int fds[2];

    qio_test_make_pipe(fds);
    rd = qio_channel_file_new_fd_pair(fds[0], -1);
    wr = qio_channel_file_new_fd_pair(-1, fds[1]);
    g_assert_cmpint(qio_channel_file_get_fd(rd), ==, fds[0]);
    g_assert_cmpint(qio_channel_file_get_write_fd(rd), ==, -1);
    g_assert_cmpint(qio_channel_file_get_fd(wr), ==, fds[1]);
    g_assert_cmpint(qio_channel_file_get_read_fd(wr), ==, -1);

    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(rd), &c, 1, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(wr), &c, 1, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
}

/* ---------------------------------------------------------------- shutdown */

typedef struct {
    int a[2]; /* into the channel */
    int b[2]; /* out of the channel */
    QIOChannelFile *ioc;
} PipePair;

static void pipe_pair_open(PipePair *pp)
{
    qio_test_make_pipe(pp->a);
    qio_test_make_pipe(pp->b);
    pp->ioc = qio_channel_file_new_fd_pair(pp->a[0], pp->b[1]);
}

static void pipe_pair_close(PipePair *pp)
{
    g_clear_object(&pp->ioc);
    if (pp->a[1] >= 0) {
        g_assert_no_errno(close(pp->a[1]));
    }
    g_assert_no_errno(close(pp->b[0]));
}

static void test_pair_shutdown_write(void)
{
    g_autoptr(GError) err = NULL;
    QIOChannel *ioc;
    PipePair pp;
    char buf[8];

    pipe_pair_open(&pp);
    ioc = QIO_CHANNEL(pp.ioc);
    g_assert_cmpint(qio_channel_write_all(ioc, "ping", 4, &err), ==, 0);
    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_WRITE, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_file_get_write_fd(pp.ioc), ==, -1);
    g_assert_cmpint(qio_channel_file_get_read_fd(pp.ioc), ==, pp.a[0]);

    /* The peer gets the data, then end-of-file */
    g_assert_cmpint(read(pp.b[0], buf, sizeof(buf)), ==, 4);
    g_assert_cmpint(read(pp.b[0], buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(qio_channel_write(ioc, "x", 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    g_clear_error(&err);

    /* Reading still works, until the peer closes */
    g_assert_cmpint(write(pp.a[1], "pong", 4), ==, 4);
    g_assert_cmpint(qio_channel_read_all(ioc, buf, 4, &err), ==, 0);
    g_assert_cmpmem(buf, 4, "pong", 4);
    g_assert_no_errno(close(pp.a[1]));
    pp.a[1] = -1;
    g_assert_cmpint(qio_channel_read(ioc, buf, 4, &err), ==, 0);
    g_assert_no_error(err);
    pipe_pair_close(&pp);
}

static void test_pair_shutdown_read(void)
{
    g_autoptr(GError) err = NULL;
    QIOChannel *ioc;
    PipePair pp;
    char buf[8];

    pipe_pair_open(&pp);
    ioc = QIO_CHANNEL(pp.ioc);
    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_READ, &err),
                    ==, 0);
    g_assert_cmpint(qio_channel_file_get_read_fd(pp.ioc), ==, -1);
    /* Reads see end-of-file, and the pipe's reader is gone (EPIPE) */
    g_assert_cmpint(qio_channel_read(ioc, buf, 4, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(write(pp.a[1], "x", 1), ==, -1);
    g_assert_cmpint(errno, ==, EPIPE);
    /* Writing still works */
    g_assert_cmpint(qio_channel_write_all(ioc, "ping", 4, &err), ==, 0);
    g_assert_cmpint(read(pp.b[0], buf, sizeof(buf)), ==, 4);

    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_BOTH, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_file_get_fd(pp.ioc), ==, -1);
    g_assert_cmpint(read(pp.b[0], buf, sizeof(buf)), ==, 0);
    /* Shutting twice is harmless */
    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_BOTH, &err),
                    ==, 0);
    g_assert_cmpint(qio_channel_close(ioc, &err), ==, 0);
    g_assert_no_error(err);
    pipe_pair_close(&pp);
}

/*
 * Shutting a direction wakes its watches, existing ones included: the
 * number they poll now holds /dev/null, which is always ready.
 */
static gboolean count_cb(QIOChannel *ioc, GIOCondition cond, gpointer data)
{
    (*(int *)data)++;
    return G_SOURCE_REMOVE;
}

static void test_pair_shutdown_wakes_watch(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    PipePair pp;
    int calls = 0;

    pipe_pair_open(&pp);
    qio_channel_add_watch_full(QIO_CHANNEL(pp.ioc), G_IO_IN, count_cb, &calls,
                               NULL, ctx);
    g_assert_false(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpint(calls, ==, 0);
    g_assert_cmpint(qio_channel_shutdown(QIO_CHANNEL(pp.ioc),
                                         QIO_CHANNEL_SHUTDOWN_READ, &err),
                    ==, 0);
    while (calls < 1) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_assert_cmpint(calls, ==, 1);
    pipe_pair_close(&pp);
    while (g_main_context_iteration(ctx, FALSE)) {
    }
}

/* Same descriptor both ways: it is released only when both are shut. */
static void test_shared_fd_shutdown(void)
{
    g_autoptr(QIOChannelFile) fioc = NULL;
    g_autoptr(GError) err = NULL;
    QIOChannel *ioc;
    struct stat before, st, null;
    char buf[8];
    int fd = open_tmpfile();

    g_assert_no_errno(fstat(fd, &before));
    g_assert_no_errno(stat("/dev/null", &null));
    fioc = qio_channel_file_new_fd_pair(fd, fd);
    ioc = QIO_CHANNEL(fioc);

    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_READ, &err),
                    ==, 0);
    g_assert_cmpint(qio_channel_read(ioc, buf, 4, &err), ==, 0);
    g_assert_cmpint(qio_channel_file_get_read_fd(fioc), ==, -1);
    g_assert_cmpint(qio_channel_file_get_fd(fioc), ==, fd);
    g_assert_cmpint(qio_channel_write_all(ioc, "data", 4, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_no_errno(fstat(fd, &st));
    g_assert_cmpuint(st.st_ino, ==, before.st_ino);
    g_assert_cmpint(st.st_size, ==, 4);

    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_WRITE, &err),
                    ==, 0);
    g_assert_cmpint(qio_channel_file_get_fd(fioc), ==, -1);
    /* The number now holds /dev/null until the channel is closed */
    g_assert_no_errno(fstat(fd, &st));
    g_assert_true(S_ISCHR(st.st_mode));
    g_assert_cmpuint(st.st_rdev, ==, null.st_rdev);
    g_assert_cmpint(fcntl(fd, F_GETFD), ==, FD_CLOEXEC);
    g_assert_cmpint(qio_channel_close(ioc, &err), ==, 0);
    g_assert_cmpint(fcntl(fd, F_GETFD), ==, -1);
}

typedef struct {
    QIOChannel *ioc;
    gint tid;
    ssize_t first;
    ssize_t second;
} BlockedReader;

static gpointer blocked_reader_thread(gpointer opaque)
{
    BlockedReader *br = opaque;
    char c;

    g_atomic_int_set(&br->tid, (gint)gettid());
    br->first = qio_channel_read(br->ioc, &c, 1, NULL);
    br->second = br->first > 0 ? qio_channel_read(br->ioc, &c, 1, NULL) : 0;
    return NULL;
}

/* Wait for thread @tid to sleep (in read(2), as far as it can tell). */
static void wait_until_sleeping(int tid)
{
    g_autofree char *path = g_strdup_printf("/proc/self/task/%d/stat", tid);

    for (;;) {
        g_autofree char *stat = NULL;
        const char *state;

        if (!g_file_get_contents(path, &stat, NULL, NULL)) {
            return; /* no /proc: the test still holds, less sharply */
        }
        state = strrchr(stat, ')');
        if (state && state[1] == ' ' && state[2] == 'S') {
            return;
        }
        g_thread_yield();
    }
}

/*
 * Shutdown from another thread while a read may be blocked: it must not
 * wait for the reader, and the reader ends with end-of-file. A read
 * already in the kernel keeps the pipe open, so one byte unblocks it.
 */
static void test_shutdown_during_read(void)
{
    g_autoptr(GError) err = NULL;
    BlockedReader br = {0};
    GThread *thread;
    PipePair pp;

    pipe_pair_open(&pp);
    br.ioc = QIO_CHANNEL(pp.ioc);
    thread = g_thread_new("reader", blocked_reader_thread, &br);
    while (!g_atomic_int_get(&br.tid)) {
        g_thread_yield();
    }
    wait_until_sleeping(g_atomic_int_get(&br.tid));
    g_assert_cmpint(
        qio_channel_shutdown(br.ioc, QIO_CHANNEL_SHUTDOWN_READ, &err), ==, 0);
    g_assert_no_error(err);
    if (write(pp.a[1], "x", 1) < 0) {
        g_assert_cmpint(errno, ==, EPIPE); /* reader was not in the kernel */
    }
    g_thread_join(thread);
    g_assert_cmpint(br.second, ==, 0);
    g_test_message("first read returned %zd", br.first);
    pipe_pair_close(&pp);
}

/*
 * Standard slots: shutdown points the slot at /dev/null instead of
 * freeing it. Runs in a subprocess, as it takes over fd 1.
 */
static void std_slot_child(void)
{
    g_autoptr(QIOChannelFile) fioc = NULL;
    g_autoptr(GError) err = NULL;
    char buf[16];
    int saved = dup(STDOUT_FILENO);
    int fds[2];

    g_assert_cmpint(saved, >, STDERR_FILENO);
    qio_test_make_pipe(fds);
    fflush(stdout);
    g_assert_no_errno(dup2(fds[1], STDOUT_FILENO));
    g_assert_no_errno(close(fds[1]));
    fioc = qio_channel_file_new_fd_pair(-1, STDOUT_FILENO);

    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(fioc), "bye", 3, &err),
                    ==, 0);
    g_assert_cmpint(qio_channel_shutdown(QIO_CHANNEL(fioc),
                                         QIO_CHANNEL_SHUTDOWN_WRITE, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(fcntl(STDOUT_FILENO, F_GETFD), ==, 0); /* inheritable */
    g_assert_cmpint(read(fds[0], buf, sizeof(buf)), ==, 3);
    g_assert_cmpint(read(fds[0], buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(write(STDOUT_FILENO, "lost", 4), ==, 4); /* /dev/null */

    /* close() does close a standard descriptor for real */
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(fioc), &err), ==, 0);
    g_assert_cmpint(fcntl(STDOUT_FILENO, F_GETFD), ==, -1);

    g_assert_no_errno(dup2(saved, STDOUT_FILENO));
    g_assert_no_errno(close(saved));
    g_assert_no_errno(close(fds[0]));
}

static void test_std_slot_shutdown(void)
{
    if (g_test_subprocess()) {
        std_slot_child();
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_passed();
}

/* ---------------------------------------------------------------- watches */

typedef struct {
    int calls;
    GIOCondition last;
    size_t got;
    bool remove_on_in;
} WatchState;

static gboolean watch_cb(QIOChannel *ioc, GIOCondition cond, gpointer data)
{
    WatchState *ws = data;
    char buf[64];

    ws->calls++;
    ws->last = cond;
    if (ws->remove_on_in) {
        return G_SOURCE_REMOVE;
    }
    if (cond & G_IO_IN) {
        ssize_t n = qio_channel_read(ioc, buf, sizeof(buf), NULL);

        g_assert_cmpint(n, >=, 0);
        ws->got += (size_t)n;
        return n > 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
    }
    return (cond & G_IO_HUP) ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

static void iterate_until_call(GMainContext *ctx, WatchState *ws, int calls)
{
    while (ws->calls < calls) {
        g_main_context_iteration(ctx, TRUE);
    }
}

static void test_pipe_watch(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(QIOChannelFile) rd = NULL;
    WatchState ws = {0};
    int fds[2];
    guint id;

    qio_test_make_pipe(fds);
    rd = qio_channel_file_new_fd_pair(fds[0], -1);
    id = qio_channel_add_watch_full(QIO_CHANNEL(rd), G_IO_IN, watch_cb, &ws,
                                    NULL, ctx);
    g_assert_false(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpint(ws.calls, ==, 0);

    g_assert_cmpint(write(fds[1], "hello", 5), ==, 5);
    iterate_until_call(ctx, &ws, 1);
    g_assert_true(ws.last & G_IO_IN);
    g_assert_cmpuint(ws.got, ==, 5);
    g_assert_false(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpint(ws.calls, ==, 1);

    /* The writer goes away: a hang-up, then no more calls */
    g_assert_no_errno(close(fds[1]));
    iterate_until_call(ctx, &ws, 2);
    g_assert_true(ws.last & G_IO_HUP);
    g_assert_null(g_main_context_find_source_by_id(ctx, id));
    for (int i = 0; i < 3; i++) {
        g_main_context_iteration(ctx, FALSE);
    }
    g_assert_cmpint(ws.calls, ==, 2);
}

/* G_SOURCE_REMOVE stops the watch even though data is still waiting. */
static void test_pipe_watch_remove(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(QIOChannelFile) rd = NULL;
    WatchState ws = {.remove_on_in = true};
    int fds[2];

    qio_test_make_pipe(fds);
    rd = qio_channel_file_new_fd_pair(fds[0], -1);
    qio_channel_add_watch_full(QIO_CHANNEL(rd), G_IO_IN, watch_cb, &ws, NULL,
                               ctx);
    g_assert_cmpint(write(fds[1], "hello", 5), ==, 5);
    iterate_until_call(ctx, &ws, 1);
    g_assert_true(ws.last & G_IO_IN);
    for (int i = 0; i < 3; i++) {
        g_main_context_iteration(ctx, FALSE);
    }
    g_assert_cmpint(ws.calls, ==, 1);
    g_assert_no_errno(close(fds[1]));
}

/* Watches on a two-descriptor channel: readable and writable sides. */
static void test_pair_watch(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    WatchState rws = {.remove_on_in = true};
    WatchState wws = {.remove_on_in = true};
    PipePair pp;
    char buf[8];

    pipe_pair_open(&pp);
    qio_channel_add_watch_full(QIO_CHANNEL(pp.ioc), G_IO_OUT, watch_cb, &wws,
                               NULL, ctx);
    iterate_until_call(ctx, &wws, 1);
    g_assert_true(wws.last & G_IO_OUT);

    qio_channel_add_watch_full(QIO_CHANNEL(pp.ioc), G_IO_IN, watch_cb, &rws,
                               NULL, ctx);
    g_assert_false(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpint(write(pp.a[1], "in", 2), ==, 2);
    iterate_until_call(ctx, &rws, 1);
    g_assert_true(rws.last & G_IO_IN);
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(pp.ioc), buf, 2, &err), ==,
                    0);
    g_assert_no_error(err);
    pipe_pair_close(&pp);
}

/* ---------------------------------------------------------------- misc */

static void test_dev_full(void)
{
    g_autoptr(QIOChannelFile) fioc = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *buf = g_malloc0(4096);
    g_autofree char *msg = NULL;

    fioc = qio_channel_file_new_path("/dev/full", O_WRONLY, 0, &err);
    if (!fioc) {
        g_test_skip(err->message);
        return;
    }
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(fioc), buf, 4096, &err),
                    ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
    msg = g_strdup_printf("write: %s", g_strerror(ENOSPC));
    g_assert_cmpstr(err->message, ==, msg);
}

static void open_pty(int *master, int *slave)
{
    struct termios tio;

    *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (*master < 0) {
        return;
    }
    g_assert_no_errno(grantpt(*master));
    g_assert_no_errno(unlockpt(*master));
    *slave = open(ptsname(*master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    g_assert_cmpint(*slave, >=, 0);
    /* Raw: no echo, no line editing, no CR/LF translation */
    g_assert_no_errno(tcgetattr(*slave, &tio));
    cfmakeraw(&tio);
    g_assert_no_errno(tcsetattr(*slave, TCSANOW, &tio));
}

static void test_pty(void)
{
    g_autoptr(QIOChannelFile) master = NULL;
    g_autoptr(QIOChannelFile) slave = NULL;
    int mfd = -1;
    int sfd = -1;

    if (access("/dev/ptmx", R_OK | W_OK) < 0) {
        g_test_skip("no /dev/ptmx");
        return;
    }
    open_pty(&mfd, &sfd);
    if (mfd < 0) {
        g_test_skip("posix_openpt failed");
        return;
    }
    master = qio_channel_file_new_fd(mfd);
    slave = qio_channel_file_new_fd(sfd);
    g_assert_false(qio_channel_file_is_seekable(slave));
    g_assert_true(isatty(qio_channel_file_get_fd(slave)));

    qio_test_transfer(QIO_CHANNEL(master), QIO_CHANNEL(slave), NULL);
    qio_test_transfer(QIO_CHANNEL(slave), QIO_CHANNEL(master), NULL);
}

/* The slave's last close ends the data the master reads: 0, not EIO. */
static void test_pty_slave_closed(void)
{
    g_autoptr(QIOChannelFile) master = NULL;
    g_autoptr(GError) err = NULL;
    char buf[8];
    int mfd = -1;
    int sfd = -1;

    if (access("/dev/ptmx", R_OK | W_OK) < 0) {
        g_test_skip("no /dev/ptmx");
        return;
    }
    open_pty(&mfd, &sfd);
    if (mfd < 0) {
        g_test_skip("posix_openpt failed");
        return;
    }
    master = qio_channel_file_new_fd(mfd);
    g_assert_cmpint(write(sfd, "ab", 2), ==, 2);
    g_assert_no_errno(close(sfd));
    /* What the slave wrote before it closed is still read first */
    g_assert_cmpint(
        qio_channel_read(QIO_CHANNEL(master), buf, sizeof(buf), &err), ==, 2);
    g_assert_no_error(err);
    g_assert_cmpmem(buf, 2, "ab", 2);
    g_assert_cmpint(
        qio_channel_read(QIO_CHANNEL(master), buf, sizeof(buf), &err), ==, 0);
    g_assert_no_error(err);
}

static void test_dupfd(void)
{
    g_autoptr(GError) err = NULL;
    QIOChannelFile *fioc = NULL;
    char buf[4];
    int closed;
    int fds[2];
    int dupfd;

    qio_test_make_pipe(fds);
    fioc = qio_channel_file_new_dupfd(fds[0], &err);
    g_assert_no_error(err);
    dupfd = qio_channel_file_get_fd(fioc);
    g_assert_cmpint(dupfd, !=, fds[0]);
    g_assert_cmpint(fcntl(dupfd, F_GETFD), ==, FD_CLOEXEC);
    g_assert_cmpint(write(fds[1], "ab", 2), ==, 2);
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(fioc), buf, 1, &err), ==,
                    0);
    g_object_unref(fioc);
    /* The original stays open and still reads the same pipe */
    g_assert_cmpint(read(fds[0], buf, sizeof(buf)), ==, 1);
    g_assert_cmpint(buf[0], ==, 'b');

    closed = fds[1];
    g_assert_no_errno(close(fds[0]));
    g_assert_no_errno(close(fds[1]));
    fioc = qio_channel_file_new_dupfd(closed, &err);
    g_assert_null(fioc);
    g_assert_error(err, G_IO_ERROR, (gint)g_io_error_from_errno(EBADF));
    g_assert_true(g_str_has_prefix(err->message, "dup"));
}

static void test_close(void)
{
    g_autoptr(QIOChannelFile) fioc = NULL;
    g_autoptr(GError) err = NULL;
    char c = 'x';
    int fds[2];

    qio_test_make_pipe(fds);
    g_assert_no_errno(close(fds[0]));
    fioc = qio_channel_file_new_fd(fds[1]);
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(fioc), &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(fcntl(fds[1], F_GETFD), ==, -1);
    g_assert_cmpint(qio_channel_file_get_fd(fioc), ==, -1);
    g_assert_false(qio_channel_file_is_seekable(fioc));

    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(fioc), &c, 1, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_shutdown(QIO_CHANNEL(fioc),
                                         QIO_CHANNEL_SHUTDOWN_BOTH, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(fioc), &err), ==, 0);
    g_assert_no_error(err);
}

/* ---------------------------------------------------------------- main */

/* Every case must leave the descriptor table as it found it. */
static const QIOTestCase tests[] = {
    {"/file/path/iov-roundtrip", test_file_iov_roundtrip},
    {"/file/path/threads-nonblocking", test_file_threads_nonblocking},
    {"/file/path/error-enoent", test_file_open_enoent},
    {"/file/path/error-excl", test_file_open_excl},
    {"/file/path/error-eacces", test_file_open_eacces},
    {"/file/path/error-eisdir", test_file_open_eisdir},
    {"/file/seekable", test_file_seekable},
    {"/file/pipe/blocking", test_pipe_blocking},
    {"/file/pipe/nonblocking-all", test_pipe_nonblocking_all},
    {"/file/pipe/blocking-single", test_pipe_blocking_single},
    {"/file/pipe/nonblocking-single", test_pipe_nonblocking_single},
    {"/file/pipe/err-block", test_pipe_err_block},
    {"/file/pipe/read-all-eof", test_pipe_read_all_eof},
    {"/file/pipe/no-fds", test_pipe_no_fds},
    {"/file/pipe/one-way", test_one_way},
    {"/file/pipe/watch", test_pipe_watch},
    {"/file/pipe/watch-remove", test_pipe_watch_remove},
    {"/file/pair/watch", test_pair_watch},
    {"/file/pair/shutdown-write", test_pair_shutdown_write},
    {"/file/pair/shutdown-read", test_pair_shutdown_read},
    {"/file/pair/shutdown-wakes-watch", test_pair_shutdown_wakes_watch},
    {"/file/pair/shutdown-during-read", test_shutdown_during_read},
    {"/file/shared/shutdown", test_shared_fd_shutdown},
    {"/file/std-slot/shutdown", test_std_slot_shutdown, .watches_child = true},
    {"/file/dev-full", test_dev_full},
    {"/file/pty", test_pty},
    {"/file/pty-slave-closed", test_pty_slave_closed},
    {"/file/dupfd", test_dupfd},
    {"/file/close", test_close},
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* Writes to a pipe without a reader must fail with EPIPE, not kill us */
    signal(SIGPIPE, SIG_IGN);
    /* GLib opens the default context's wakeup fd once; do it up front */
    g_main_context_default();

    qio_test_add_cases(tests, G_N_ELEMENTS(tests), NULL);
    return g_test_run();
}
