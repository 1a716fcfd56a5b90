/*
 * libqio unit tests - helpers shared by the test programs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything here is static inline so that each test program takes what
 * it uses and nothing needs linking. Include config.h before this header.
 *
 *   qio_test_fill_random()   reproducible random bytes (follows --seed)
 *   qio_test_count_fds()     open descriptors, from /proc/self/fd
 *   qio_test_max_fd()        the highest open descriptor
 *   qio_test_fd_is_open()    whether a descriptor is open
 *   qio_test_make_pipe()     a close-on-exec pipe
 *   qio_test_make_tmpdir()   a fresh directory under the temporary one
 *   qio_test_have_ipv6()     whether the IPv6 loopback can be bound
 *   qio_test_write_all()     write, asserting that all of it went
 *   qio_test_write_str()
 *   qio_test_read_str()      read exactly the bytes expected, and compare
 *   qio_test_read_eof()      read end-of-file
 *   qio_test_watch_cond()    a watch callback that records its condition
 *   qio_test_run_loop()      g_main_loop_run() that fails instead of hanging
 *   qio_test_add_cases()     register cases that must not leak descriptors
 *   qio_test_transfer()      move a large random buffer from one channel to
 *                            another, writer and reader in their own
 *                            threads, and compare
 */
#ifndef QIO_TEST_UTIL_H
#define QIO_TEST_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <glib.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qio/channel.h"

/* A main loop that has not finished after this long is a hang. */
#define QIO_TEST_LOOP_TIMEOUT_S 300

/* ---------------------------------------------------------------- data */

/*
 * Fill @buf with pseudo-random bytes. The generator (xorshift64*) is
 * seeded from g_test_rand_int(), so a failing run is repeated with the
 * --seed GTest prints.
 */
static inline void qio_test_fill_random(void *buf, size_t len)
{
    uint64_t x = ((uint64_t)g_test_rand_int() << 32) | g_test_rand_int();
    unsigned char *p = buf;

    x |= 1; /* xorshift must not start at 0 */
    while (len > 0) {
        uint64_t r;
        size_t n = MIN(len, sizeof(r));

        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r = x * UINT64_C(2685821657736338717);
        memcpy(p, &r, n);
        p += n;
        len -= n;
    }
}

/* ---------------------------------------------------------------- fds */

/*
 * Call @fn with each descriptor open in this process, except the one
 * used to list them.
 */
static inline void qio_test_foreach_fd(void (*fn)(int fd, void *data),
                                       void *data)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *ent;

    g_assert_nonnull(dir);
    while ((ent = readdir(dir))) {
        if (ent->d_name[0] != '.' && atoi(ent->d_name) != dirfd(dir)) {
            fn(atoi(ent->d_name), data);
        }
    }
    closedir(dir);
}

static inline void qio_test_count_one(int fd, void *data)
{
    (*(unsigned *)data)++;
}

static inline void qio_test_max_one(int fd, void *data)
{
    *(int *)data = MAX(*(int *)data, fd);
}

/* The number of open descriptors of this process. */
static inline unsigned qio_test_count_fds(void)
{
    unsigned n = 0;

    qio_test_foreach_fd(qio_test_count_one, &n);
    return n;
}

/* The highest open descriptor. */
static inline int qio_test_max_fd(void)
{
    int max = -1;

    qio_test_foreach_fd(qio_test_max_one, &max);
    return max;
}

static inline bool qio_test_fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static inline void qio_test_make_pipe(int fds[2])
{
    g_assert_no_errno(pipe2(fds, O_CLOEXEC));
}

/* A new directory for the test's files; the caller removes it. */
static inline char *qio_test_make_tmpdir(void)
{
    g_autoptr(GError) err = NULL;
    char *dir = g_dir_make_tmp("qio-test-XXXXXX", &err);

    g_assert_no_error(err);
    return dir;
}

/* Whether this system can bind the IPv6 loopback address. */
static inline bool qio_test_have_ipv6(void)
{
    struct sockaddr_in6 sin6 = {
        .sin6_family = AF_INET6,
        .sin6_addr = IN6ADDR_LOOPBACK_INIT,
    };
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
    close(fd);
    return ok;
}

/* ---------------------------------------------------------------- I/O */

static inline void qio_test_write_all(QIOChannel *ioc, const void *buf,
                                      size_t len)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(qio_channel_write_all(ioc, buf, len, &err), ==, 0);
    g_assert_no_error(err);
}

static inline void qio_test_write_str(QIOChannel *ioc, const char *s)
{
    qio_test_write_all(ioc, s, strlen(s));
}

/* Read strlen(@want) bytes from @ioc and assert that they are @want. */
static inline void qio_test_read_str(QIOChannel *ioc, const char *want)
{
    g_autoptr(GError) err = NULL;
    size_t len = strlen(want);
    g_autofree char *buf = g_malloc0(len + 1);

    g_assert_cmpint(qio_channel_read_all(ioc, buf, len, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpstr(buf, ==, want);
}

/* Assert that the next read of @ioc returns end-of-file. */
static inline void qio_test_read_eof(QIOChannel *ioc)
{
    g_autoptr(GError) err = NULL;
    char c;

    g_assert_cmpint(qio_channel_read(ioc, &c, 1, &err), ==, 0);
    g_assert_no_error(err);
}

/* A QIOChannelFunc that stores its condition in *@data and is removed. */
static inline gboolean qio_test_watch_cond(QIOChannel *ioc, GIOCondition cond,
                                           gpointer data)
{
    *(GIOCondition *)data = cond;
    return G_SOURCE_REMOVE;
}

/* ---------------------------------------------------------------- loops */

static inline gboolean qio_test_loop_timed_out(gpointer data)
{
    g_error("%s: the main loop did not finish in %d s", (const char *)data,
            QIO_TEST_LOOP_TIMEOUT_S);
    return G_SOURCE_REMOVE;
}

/* g_main_loop_run(), failing the test rather than hanging for ever. */
static inline void qio_test_run_loop(GMainLoop *loop)
{
    GSource *guard = g_timeout_source_new_seconds(QIO_TEST_LOOP_TIMEOUT_S);

    g_source_set_callback(guard, qio_test_loop_timed_out,
                          (gpointer)g_test_get_path(), NULL);
    g_source_attach(guard, g_main_loop_get_context(loop));
    g_main_loop_run(loop);
    g_source_destroy(guard);
    g_source_unref(guard);
}

/* ---------------------------------------------------------------- cases */

/**
 * QIOTestCase:
 * @path: the GTest path
 * @func: the test
 * @watches_child: GLib watches a child process for the test
 *   (g_child_watch_add(), g_test_trap_subprocess()) and may keep
 *   descriptors for that (a SIGCHLD wake-up pipe where pidfd_open is
 *   missing, as under valgrind): descriptors are counted only in a
 *   g_test_trap_subprocess() child, which checks its own
 */
typedef struct {
    const char *path;
    void (*func)(void);
    bool watches_child;
} QIOTestCase;

/* Run a QIOTestCase; it must leave the descriptor table as it found it. */
static inline void qio_test_run_checked(gconstpointer data)
{
    const QIOTestCase *tc = data;
    bool check = !tc->watches_child || g_test_subprocess();
    unsigned before = qio_test_count_fds();

    tc->func();
    if (check) {
        g_assert_cmpuint(qio_test_count_fds(), ==, before);
    }
}

/*
 * Register @n cases, each run by @run (NULL: qio_test_run_checked(),
 * which a @run of the caller's may call in turn).
 */
static inline void qio_test_add_cases(const QIOTestCase *cases, size_t n,
                                      GTestDataFunc run)
{
    for (size_t i = 0; i < n; i++) {
        g_test_add_data_func(cases[i].path, &cases[i],
                             run ? run : qio_test_run_checked);
    }
}

/* ---------------------------------------------------------------- transfer */

/**
 * QIOTestTransfer:
 * @len: bytes to move (0: a little over 4 MiB)
 * @niov: iovecs on each side, of uneven sizes that differ between writer
 *   and reader (0: 64)
 * @nonblocking: switch both channels to non-blocking mode for the
 *   transfer (and back to blocking after): would-block results are met
 *   with qio_channel_wait()
 * @use_all: move the data with qio_channel_writev_all() and
 *   qio_channel_readv_all() instead of loops over single calls
 * @write_blocks: (out): how often the writer got %QIO_CHANNEL_ERR_BLOCK
 * @read_blocks: (out): how often the reader got %QIO_CHANNEL_ERR_BLOCK
 */
typedef struct {
    size_t len;
    size_t niov;
    bool nonblocking;
    bool use_all;
    unsigned write_blocks;
    unsigned read_blocks;
} QIOTestTransfer;

typedef struct {
    QIOChannel *ioc;
    struct iovec *iov;
    size_t niov;
    bool nonblocking;
    bool use_all;
    unsigned blocks;
    GError *error;
    char *failure;
} QIOTestSide;

/* Cut @len bytes at @buf into @niov uneven pieces (none empty). */
static inline struct iovec *qio_test_make_iov(char *buf, size_t len,
                                              size_t niov)
{
    struct iovec *iov = g_new0(struct iovec, niov);
    size_t avg = len / niov;

    g_assert_cmpuint(avg, >=, 1);
    for (size_t i = 0; i < niov; i++) {
        size_t later = niov - 1 - i;
        size_t n = len;

        if (later > 0) {
            n = 1 + g_test_rand_int_range(0, (gint32)MIN(2 * avg, G_MAXINT32));
            n = MIN(n, len - later);
        }
        iov[i].iov_base = buf;
        iov[i].iov_len = n;
        buf += n;
        len -= n;
    }
    return iov;
}

/* Drop @skip bytes from the front of *@iov, *@niov. */
static inline void qio_test_iov_skip(struct iovec **iov, size_t *niov,
                                     size_t skip)
{
    while (*niov > 0 && skip >= (*iov)[0].iov_len) {
        skip -= (*iov)[0].iov_len;
        (*iov)++;
        (*niov)--;
    }
    if (*niov > 0 && skip > 0) {
        (*iov)[0].iov_base = (char *)(*iov)[0].iov_base + skip;
        (*iov)[0].iov_len -= skip;
    }
}

/*
 * A failed side would leave the other waiting forever: shut the channel
 * (where it can be) so that the other side fails too instead of hanging.
 */
static inline void qio_test_side_abort(QIOTestSide *side)
{
    qio_channel_shutdown(side->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
}

/* One side's loop of single writev/readv calls. */
static inline void qio_test_side_loop(QIOTestSide *side, bool writing)
{
    struct iovec *iov = side->iov;
    size_t niov = side->niov;

    while (niov > 0) {
        ssize_t n = writing
                        ? qio_channel_writev(side->ioc, iov, niov, &side->error)
                        : qio_channel_readv(side->ioc, iov, niov, &side->error);

        if (n == QIO_CHANNEL_ERR_BLOCK && side->nonblocking) {
            side->blocks++;
            qio_channel_wait(side->ioc, writing ? G_IO_OUT : G_IO_IN);
            continue;
        }
        if (n <= 0) {
            side->failure = g_strdup_printf("%s returned %zd",
                                            writing ? "writev" : "readv", n);
            qio_test_side_abort(side);
            return;
        }
        qio_test_iov_skip(&iov, &niov, n);
    }
}

static inline gpointer qio_test_side_run(QIOTestSide *side, bool writing)
{
    int ret;

    if (!side->use_all) {
        qio_test_side_loop(side, writing);
        return NULL;
    }
    if (writing) {
        ret = qio_channel_writev_all(side->ioc, side->iov, side->niov,
                                     &side->error);
    } else {
        ret = qio_channel_readv_all(side->ioc, side->iov, side->niov,
                                    &side->error);
    }
    if (ret != 0) {
        side->failure = g_strdup_printf("%s_all returned %d",
                                        writing ? "writev" : "readv", ret);
        qio_test_side_abort(side);
    }
    return NULL;
}

static inline gpointer qio_test_writer_thread(gpointer data)
{
    return qio_test_side_run(data, true);
}

static inline gpointer qio_test_reader_thread(gpointer data)
{
    return qio_test_side_run(data, false);
}

static inline void qio_test_side_check(QIOTestSide *side)
{
    g_assert_no_error(side->error);
    if (side->failure) {
        g_error("transfer: %s", side->failure);
    }
    g_free(side->iov);
}

static inline void qio_test_set_blocking(QIOChannel *ioc, bool blocking)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(qio_channel_set_blocking(ioc, blocking, &err), ==, 0);
    g_assert_no_error(err);
}

/**
 * qio_test_transfer:
 * @writer: the channel to write into
 * @reader: the channel that receives what @writer sends
 * @opts: (nullable): parameters; results are stored back
 *
 * Sends random data from @writer to @reader, each in its own thread, and
 * asserts that exactly those bytes arrived. Neither channel is closed.
 */
static inline void qio_test_transfer(QIOChannel *writer, QIOChannel *reader,
                                     QIOTestTransfer *opts)
{
    QIOTestTransfer defaults = {0};
    size_t len;
    size_t niov;
    g_autofree char *src = NULL;
    g_autofree char *dst = NULL;
    QIOTestSide wside = {0};
    QIOTestSide rside = {0};
    GThread *wthread;
    GThread *rthread;

    opts = opts ? opts : &defaults;
    len = opts->len ? opts->len : 4 * 1024 * 1024 + 4099;
    niov = opts->niov ? opts->niov : 64;
    src = g_malloc(len);
    dst = g_malloc0(len);
    qio_test_fill_random(src, len);

    wside = (QIOTestSide){.ioc = writer,
                          .niov = niov,
                          .iov = qio_test_make_iov(src, len, niov),
                          .nonblocking = opts->nonblocking,
                          .use_all = opts->use_all};
    rside = wside;
    rside.ioc = reader;
    rside.iov = qio_test_make_iov(dst, len, niov);
    if (opts->nonblocking) {
        qio_test_set_blocking(writer, false);
        qio_test_set_blocking(reader, false);
    }

    rthread = g_thread_new("test-reader", qio_test_reader_thread, &rside);
    wthread = g_thread_new("test-writer", qio_test_writer_thread, &wside);
    g_thread_join(wthread);
    g_thread_join(rthread);

    if (opts->nonblocking) {
        qio_test_set_blocking(writer, true);
        qio_test_set_blocking(reader, true);
    }
    opts->write_blocks = wside.blocks;
    opts->read_blocks = rside.blocks;
    qio_test_side_check(&wside);
    qio_test_side_check(&rside);
    g_assert_true(memcmp(src, dst, len) == 0);
}

/*
 * The int that a control message of @level and @type in @control (as
 * qio_channel_socket_get_last_control() gives them) carries, or -1.
 */
static inline int qio_test_control_int(GBytes *control, int level, int type)
{
    struct msghdr msg = {0};
    gsize len = 0;

    if (!control) {
        return -1;
    }
    msg.msg_control = (void *)g_bytes_get_data(control, &len);
    msg.msg_controllen = len;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == level && c->cmsg_type == type) {
            int v;

            memcpy(&v, CMSG_DATA(c), sizeof(v));
            return v;
        }
    }
    return -1;
}

#endif /* QIO_TEST_UTIL_H */
