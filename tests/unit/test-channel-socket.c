/*
 * libqio unit tests - QIOChannelSocket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <stdarg.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <linux/capability.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "qio/channel-socket.h"
#include "test-util.h"

/* ---------------------------------------------------------------- fixtures */

typedef enum {
    KIND_TCP4,
    KIND_TCP6,
    KIND_UNIX,
    KIND_ABSTRACT,
} SockKind;

static const char *const kind_names[] = {
    [KIND_TCP4] = "tcp4",
    [KIND_TCP6] = "tcp6",
    [KIND_UNIX] = "unix",
    [KIND_ABSTRACT] = "abstract",
};

/* A listener and a connected client/server pair. */
typedef struct {
    char *dir;
    char *path;
    QIOChannelSocket *listener;
    QIOChannelSocket *client;
    QIOChannelSocket *server;
} SockPair;

/* Skip the current test without IPv6; returns TRUE if skipped. */
static gboolean skip_without_ipv6(void)
{
    if (qio_test_have_ipv6()) {
        return FALSE;
    }
    g_test_skip("IPv6 loopback is not available");
    return TRUE;
}

static char *random_abstract_name(void)
{
    return g_strdup_printf("qio-test-%08x%08x", g_test_rand_int(),
                           g_test_rand_int());
}

static GSocketConnectable *kind_listen_address(SockKind kind, SockPair *p)
{
    g_autofree char *name = NULL;

    switch (kind) {
    case KIND_TCP4:
        return g_network_address_new("127.0.0.1", 0);
    case KIND_TCP6:
        return g_network_address_new("::1", 0);
    case KIND_UNIX:
        p->dir = qio_test_make_tmpdir();
        p->path = g_build_filename(p->dir, "sock", NULL);
        return G_SOCKET_CONNECTABLE(g_unix_socket_address_new(p->path));
    case KIND_ABSTRACT:
        name = random_abstract_name();
        return G_SOCKET_CONNECTABLE(g_unix_socket_address_new_with_type(
            name, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT));
    }
    g_assert_not_reached();
}

static QIOChannelSocket *listen_on(GSocketConnectable *addr,
                                   const QIOChannelSocketOptions *opts)
{
    g_autoptr(GError) err = NULL;
    QIOChannelSocket *lsn = qio_channel_socket_new();

    g_assert_cmpint(qio_channel_socket_listen_sync(lsn, addr, opts, &err), ==,
                    0);
    g_assert_no_error(err);
    g_assert_true(
        qio_channel_has_feature(QIO_CHANNEL(lsn), QIO_CHANNEL_FEATURE_LISTEN));
    return lsn;
}

static QIOChannelSocket *connect_to(GSocketConnectable *addr,
                                    const QIOChannelSocketOptions *opts)
{
    g_autoptr(GError) err = NULL;
    QIOChannelSocket *cl = qio_channel_socket_new();

    g_assert_cmpint(qio_channel_socket_connect_sync(cl, addr, opts, &err), ==,
                    0);
    g_assert_no_error(err);
    return cl;
}

static QIOChannelSocket *accept_one(QIOChannelSocket *lsn)
{
    g_autoptr(GError) err = NULL;
    QIOChannelSocket *sv = qio_channel_socket_accept(lsn, &err);

    g_assert_no_error(err);
    g_assert_nonnull(sv);
    return sv;
}

/* The listener's own address, to connect to. */
static GSocketConnectable *listener_address(QIOChannelSocket *lsn)
{
    g_autoptr(GError) err = NULL;
    GSocketAddress *sa = qio_channel_socket_get_local_address(lsn, &err);

    g_assert_no_error(err);
    g_assert_nonnull(sa);
    return G_SOCKET_CONNECTABLE(sa);
}

static guint16 listener_port(QIOChannelSocket *lsn)
{
    g_autoptr(GSocketConnectable) sa = listener_address(lsn);

    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(sa));
}

/* Returns FALSE (test skipped) if the kind is not available here. */
static gboolean pair_open(SockPair *p, SockKind kind)
{
    g_autoptr(GSocketConnectable) laddr = NULL;
    g_autoptr(GSocketConnectable) caddr = NULL;

    memset(p, 0, sizeof(*p));
    if (kind == KIND_TCP6 && skip_without_ipv6()) {
        return FALSE;
    }
    laddr = kind_listen_address(kind, p);
    p->listener = listen_on(laddr, NULL);
    caddr = listener_address(p->listener);
    p->client = connect_to(caddr, NULL);
    p->server = accept_one(p->listener);
    return TRUE;
}

static void pair_close(SockPair *p)
{
    g_clear_object(&p->client);
    g_clear_object(&p->server);
    g_clear_object(&p->listener);
    if (p->dir) {
        g_assert_cmpint(g_rmdir(p->dir), ==, 0);
    }
    g_free(p->dir);
    g_free(p->path);
}

#define CH(sioc) QIO_CHANNEL(sioc)

static char *address_text(GSocketAddress *sa)
{
    g_assert_nonnull(sa);
    return qio_socket_address_to_string(sa);
}

static char *local_text(QIOChannelSocket *sioc)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) sa =
        qio_channel_socket_get_local_address(sioc, &err);

    g_assert_no_error(err);
    return address_text(sa);
}

static char *remote_text(QIOChannelSocket *sioc)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) sa =
        qio_channel_socket_get_remote_address(sioc, &err);

    g_assert_no_error(err);
    return address_text(sa);
}

/* ---------------------------------------------------------------- transfer */

typedef struct {
    SockKind kind;
    bool nonblocking;
    bool use_all;
} TransferCase;

static void test_transfer(gconstpointer data)
{
    const TransferCase *tc = data;
    SockPair p;
    QIOTestTransfer opts = {
        .nonblocking = tc->nonblocking,
        .use_all = tc->use_all,
    };

    if (!pair_open(&p, tc->kind)) {
        return;
    }
    qio_test_transfer(CH(p.client), CH(p.server), &opts);
    g_test_message("client->server: %u/%u would-block writes/reads",
                   opts.write_blocks, opts.read_blocks);
    qio_test_transfer(CH(p.server), CH(p.client), &opts);
    g_test_message("server->client: %u/%u would-block writes/reads",
                   opts.write_blocks, opts.read_blocks);
    pair_close(&p);
}

static void add_transfer_tests(void)
{
    static TransferCase cases[4][3];
    static const char *const modes[] = {"blocking", "nonblocking",
                                        "nonblocking-all"};

    for (int k = 0; k < 4; k++) {
        for (int m = 0; m < 3; m++) {
            g_autofree char *name = g_strdup_printf("/socket/transfer/%s/%s",
                                                    kind_names[k], modes[m]);

            cases[k][m] = (TransferCase){
                .kind = k, .nonblocking = m > 0, .use_all = m == 2};
            g_test_add_data_func(name, &cases[k][m], test_transfer);
        }
    }
}

/* ---------------------------------------------------------------- fds */

static void send_fds(QIOChannelSocket *sioc, int *fds, size_t nfds)
{
    g_autoptr(GError) err = NULL;
    struct iovec iov = {.iov_base = "F", .iov_len = 1};

    g_assert_cmpint(
        qio_channel_writev_full(CH(sioc), &iov, 1, fds, nfds, 0, &err), ==, 1);
    g_assert_no_error(err);
}

/* Receive the one-byte message of send_fds() and its descriptors. */
static int *recv_fds(QIOChannelSocket *sioc, size_t expect)
{
    g_autoptr(GError) err = NULL;
    char c = 0;
    struct iovec iov = {.iov_base = &c, .iov_len = 1};
    int *fds = NULL;
    size_t nfds = 0;

    g_assert_cmpint(
        qio_channel_readv_full(CH(sioc), &iov, 1, &fds, &nfds, 0, &err), ==, 1);
    g_assert_no_error(err);
    g_assert_cmpint(c, ==, 'F');
    g_assert_cmpuint(nfds, ==, expect);
    for (size_t i = 0; i < nfds; i++) {
        g_assert_true(qio_test_fd_is_open(fds[i]));
        /* MSG_CMSG_CLOEXEC: received descriptors do not leak into exec. */
        g_assert_cmpint(fcntl(fds[i], F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
    }
    return fds;
}

static void assert_same_pipe(int wfd, int rfd, char c)
{
    char got = 0;

    g_assert_cmpint(write(wfd, &c, 1), ==, 1);
    g_assert_cmpint(read(rfd, &got, 1), ==, 1);
    g_assert_cmpint(got, ==, c);
}

static void assert_distinct(const int *fds, size_t nfds, int other)
{
    for (size_t i = 0; i < nfds; i++) {
        g_assert_cmpint(fds[i], !=, other);
        for (size_t j = i + 1; j < nfds; j++) {
            g_assert_cmpint(fds[i], !=, fds[j]);
        }
    }
}

static void close_fds(int *fds, size_t nfds)
{
    for (size_t i = 0; i < nfds; i++) {
        close(fds[i]);
    }
    g_free(fds);
}

static void test_fd_pass_same_thrice(void)
{
    SockPair p;
    int pfd[2];
    int send[3];
    int *fds;
    unsigned before;

    pair_open(&p, KIND_UNIX);
    g_assert_true(
        qio_channel_has_feature(CH(p.client), QIO_CHANNEL_FEATURE_FD_PASS));
    qio_test_make_pipe(pfd);
    before = qio_test_count_fds();
    send[0] = send[1] = send[2] = pfd[1];
    send_fds(p.client, send, 3);
    fds = recv_fds(p.server, 3);
    assert_distinct(fds, 3, pfd[1]);
    for (int i = 0; i < 3; i++) {
        assert_same_pipe(fds[i], pfd[0], "abc"[i]);
    }
    close_fds(fds, 3);
    g_assert_cmpuint(qio_test_count_fds(), ==, before);
    close(pfd[0]);
    close(pfd[1]);
    pair_close(&p);
}

static void test_fd_pass_twenty(void)
{
    SockPair p;
    int pipes[20];
    int *fds;

    pair_open(&p, KIND_UNIX);
    for (int i = 0; i < 10; i++) {
        qio_test_make_pipe(&pipes[2 * i]);
    }
    send_fds(p.client, pipes, 20);
    fds = recv_fds(p.server, 20);
    assert_distinct(fds, 20, -1);
    for (int i = 0; i < 10; i++) {
        /* Received write end -> original read end, and the reverse. */
        assert_same_pipe(fds[2 * i + 1], pipes[2 * i], 'a' + i);
        assert_same_pipe(pipes[2 * i + 1], fds[2 * i], 'A' + i);
    }
    close_fds(fds, 20);
    for (int i = 0; i < 20; i++) {
        close(pipes[i]);
    }
    pair_close(&p);
}

static void test_fd_pass_max(void)
{
    SockPair p;
    int pfd[2];
    int send[QIO_CHANNEL_SOCKET_MAX_FDS];
    int *fds;
    unsigned before;

    pair_open(&p, KIND_UNIX);
    qio_test_make_pipe(pfd);
    before = qio_test_count_fds();
    for (int i = 0; i < QIO_CHANNEL_SOCKET_MAX_FDS; i++) {
        send[i] = pfd[1];
    }
    send_fds(p.client, send, QIO_CHANNEL_SOCKET_MAX_FDS);
    fds = recv_fds(p.server, QIO_CHANNEL_SOCKET_MAX_FDS);
    assert_distinct(fds, QIO_CHANNEL_SOCKET_MAX_FDS, pfd[1]);
    assert_same_pipe(fds[0], pfd[0], 'x');
    assert_same_pipe(fds[QIO_CHANNEL_SOCKET_MAX_FDS - 1], pfd[0], 'y');
    close_fds(fds, QIO_CHANNEL_SOCKET_MAX_FDS);
    g_assert_cmpuint(qio_test_count_fds(), ==, before);
    close(pfd[0]);
    close(pfd[1]);
    pair_close(&p);
}

static void test_fd_pass_too_many(void)
{
    g_autoptr(GError) err = NULL;
    SockPair p;
    int pfd[2];
    int send[QIO_CHANNEL_SOCKET_MAX_FDS + 1];
    struct iovec iov = {.iov_base = "F", .iov_len = 1};
    char c;

    pair_open(&p, KIND_UNIX);
    qio_test_make_pipe(pfd);
    for (int i = 0; i < QIO_CHANNEL_SOCKET_MAX_FDS + 1; i++) {
        send[i] = pfd[1];
    }
    g_assert_cmpint(qio_channel_writev_full(CH(p.client), &iov, 1, send,
                                            G_N_ELEMENTS(send), 0, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    /* Nothing was sent. */
    qio_test_set_blocking(CH(p.server), false);
    g_assert_cmpint(qio_channel_read(CH(p.server), &c, 1, NULL), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    close(pfd[0]);
    close(pfd[1]);
    pair_close(&p);
}

/* Read expecting FD_TRUNCATED; no descriptor may stay open. */
static void assert_truncated_read(QIOChannelSocket *sioc, unsigned before)
{
    g_autoptr(GError) err = NULL;
    char c;
    struct iovec iov = {.iov_base = &c, .iov_len = 1};
    int *fds = NULL;
    size_t nfds = 0;

    g_assert_cmpint(
        qio_channel_readv_full(CH(sioc), &iov, 1, &fds, &nfds, 0, &err), ==,
        -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_FD_TRUNCATED);
    g_assert_null(fds);
    g_assert_cmpuint(nfds, ==, 0);
    g_assert_cmpuint(qio_test_count_fds(), ==, before);
}

static void send_max_fds(QIOChannelSocket *sioc, int fd)
{
    int send[QIO_CHANNEL_SOCKET_MAX_FDS];

    for (int i = 0; i < QIO_CHANNEL_SOCKET_MAX_FDS; i++) {
        send[i] = fd;
    }
    send_fds(sioc, send, QIO_CHANNEL_SOCKET_MAX_FDS);
}

/*
 * The kernel truncates (MSG_CTRUNC) when it cannot install every
 * descriptor: here because the descriptor limit leaves room for a few.
 * In a subprocess, as the lowered limit stays.
 */
static void test_fd_pass_truncated_rlimit(void)
{
    SockPair p;
    int pfd[2];
    struct rlimit rl;
    unsigned before;

    if (!g_test_subprocess()) {
        g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
        g_test_trap_assert_passed();
        return;
    }
    pair_open(&p, KIND_UNIX);
    qio_test_make_pipe(pfd);
    send_max_fds(p.client, pfd[1]);
    before = qio_test_count_fds();
    g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &rl), ==, 0);
    rl.rlim_cur = qio_test_max_fd() + 10;
    g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &rl), ==, 0);
    assert_truncated_read(p.server, before);
    close(pfd[0]);
    close(pfd[1]);
    pair_close(&p);
}

/*
 * Credentials (SO_PASSCRED) take control-buffer room ahead of the
 * descriptors, so 253 descriptors no longer fit: truncation without
 * touching any limit.
 */
static void test_fd_pass_truncated_creds(void)
{
    SockPair p;
    int pfd[2];
    int on = 1;
    unsigned before;

    pair_open(&p, KIND_UNIX);
    qio_test_make_pipe(pfd);
    g_assert_cmpint(setsockopt(qio_channel_socket_get_fd(p.server), SOL_SOCKET,
                               SO_PASSCRED, &on, sizeof(on)),
                    ==, 0);
    send_max_fds(p.client, pfd[1]);
    before = qio_test_count_fds();
    assert_truncated_read(p.server, before);
    /* The channel still works after the error. */
    qio_test_write_all(CH(p.client), "ok", 2);
    qio_test_read_str(CH(p.server), "ok");
    close(pfd[0]);
    close(pfd[1]);
    pair_close(&p);
}

/* A reader that does not ask for descriptors must not collect them. */
static void test_fd_pass_unwanted_closed(void)
{
    SockPair p;
    int pfd[2];
    int send[5];
    unsigned before;
    char c = 0;

    pair_open(&p, KIND_UNIX);
    qio_test_make_pipe(pfd);
    before = qio_test_count_fds();
    for (int i = 0; i < 5; i++) {
        send[i] = pfd[1];
    }
    send_fds(p.client, send, 5);
    g_assert_cmpint(qio_channel_read(CH(p.server), &c, 1, NULL), ==, 1);
    g_assert_cmpint(c, ==, 'F');
    g_assert_cmpuint(qio_test_count_fds(), ==, before);
    close(pfd[0]);
    close(pfd[1]);
    pair_close(&p);
}

static void test_fd_pass_tcp_unsupported(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) err2 = NULL;
    SockPair p;
    char c;
    struct iovec iov = {.iov_base = &c, .iov_len = 1};
    int *fds = NULL;
    size_t nfds = 0;
    int fd = 0;

    pair_open(&p, KIND_TCP4);
    g_assert_false(
        qio_channel_has_feature(CH(p.server), QIO_CHANNEL_FEATURE_FD_PASS));
    g_assert_cmpint(
        qio_channel_readv_full(CH(p.server), &iov, 1, &fds, &nfds, 0, &err), ==,
        -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_assert_cmpint(
        qio_channel_writev_full(CH(p.client), &iov, 1, &fd, 1, 0, &err2), ==,
        -1);
    g_assert_error(err2, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    pair_close(&p);
}

/* ---------------------------------------------------------------- peek */

static void test_peek(gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    SockPair p;
    char buf[6] = {0};
    struct iovec iov = {.iov_base = buf, .iov_len = 5};

    if (!pair_open(&p, GPOINTER_TO_INT(data))) {
        return;
    }
    g_assert_true(qio_channel_has_feature(CH(p.server),
                                          QIO_CHANNEL_FEATURE_READ_MSG_PEEK));
    qio_test_write_all(CH(p.client), "hello world", 11);
    g_assert_cmpint(qio_channel_readv_full(CH(p.server), &iov, 1, NULL, NULL,
                                           QIO_CHANNEL_READ_FLAG_MSG_PEEK,
                                           &err),
                    ==, 5);
    g_assert_no_error(err);
    g_assert_cmpstr(buf, ==, "hello");
    qio_test_read_str(CH(p.server), "hello world");
    pair_close(&p);
}

/* ---------------------------------------------------------------- shutdown */

static void do_shutdown(QIOChannelSocket *sioc, QIOChannelShutdown how)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(qio_channel_shutdown(CH(sioc), how, &err), ==, 0);
    g_assert_no_error(err);
}

static void test_shutdown_write(gconstpointer data)
{
    SockPair p;

    if (!pair_open(&p, GPOINTER_TO_INT(data))) {
        return;
    }
    qio_test_write_all(CH(p.client), "ping", 4);
    do_shutdown(p.client, QIO_CHANNEL_SHUTDOWN_WRITE);
    qio_test_read_str(CH(p.server), "ping");
    qio_test_read_eof(CH(p.server));
    /* The other direction still works. */
    qio_test_write_all(CH(p.server), "pong", 4);
    qio_test_read_str(CH(p.client), "pong");
    pair_close(&p);
}

static void test_shutdown_read(gconstpointer data)
{
    SockPair p;

    if (!pair_open(&p, GPOINTER_TO_INT(data))) {
        return;
    }
    do_shutdown(p.client, QIO_CHANNEL_SHUTDOWN_READ);
    qio_test_read_eof(CH(p.client));
    qio_test_write_all(CH(p.client), "ping", 4);
    qio_test_read_str(CH(p.server), "ping");
    pair_close(&p);
}

static void test_shutdown_both(gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    SockPair p;

    if (!pair_open(&p, GPOINTER_TO_INT(data))) {
        return;
    }
    do_shutdown(p.client, QIO_CHANNEL_SHUTDOWN_BOTH);
    qio_test_read_eof(CH(p.server));
    qio_test_read_eof(CH(p.client));
    /* EPIPE, reported as an error: SIGPIPE must not kill the process. */
    g_assert_cmpint(qio_channel_write(CH(p.client), "x", 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    pair_close(&p);
}

static void test_read_all_eof(void)
{
    g_autoptr(GError) err = NULL;
    SockPair p;
    char buf[10];

    /* Whole message, then a clean end-of-file. */
    pair_open(&p, KIND_UNIX);
    qio_test_write_all(CH(p.client), "0123456789", 10);
    do_shutdown(p.client, QIO_CHANNEL_SHUTDOWN_WRITE);
    g_assert_cmpint(qio_channel_read_all_eof(CH(p.server), buf, 10, &err), ==,
                    1);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_read_all_eof(CH(p.server), buf, 10, &err), ==,
                    0);
    g_assert_no_error(err);
    pair_close(&p);

    /* End-of-file in the middle of a message. */
    pair_open(&p, KIND_UNIX);
    qio_test_write_all(CH(p.client), "01234", 5);
    do_shutdown(p.client, QIO_CHANNEL_SHUTDOWN_WRITE);
    g_assert_cmpint(qio_channel_read_all_eof(CH(p.server), buf, 10, &err), ==,
                    -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_EOF);
    pair_close(&p);
}

/* ---------------------------------------------------------------- connect */

/* A port nobody listens on (one that was just free). */
static guint16 free_port(void)
{
    g_autoptr(GSocketConnectable) addr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(addr, NULL);

    return listener_port(lsn);
}

static void test_connect_refused(void)
{
    g_autoptr(GError) err = NULL;
    guint16 port = free_port();
    g_autoptr(GSocketConnectable) addr =
        g_network_address_new("127.0.0.1", port);
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    g_autofree char *expect =
        g_strdup_printf("connect to 127.0.0.1:%u: Connection refused", port);

    g_assert_cmpint(qio_channel_socket_connect_sync(cl, addr, NULL, &err), ==,
                    -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
    g_assert_cmpstr(err->message, ==, expect);
    g_assert_cmpint(qio_channel_socket_get_fd(cl), ==, -1);
}

static void test_connect_unix_missing(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "none", NULL);
    g_autofree char *expect =
        g_strdup_printf("connect to %s: No such file or directory", path);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();

    g_assert_cmpint(qio_channel_socket_connect_sync(cl, addr, NULL, &err), ==,
                    -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_cmpstr(err->message, ==, expect);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* "localhost" may resolve to ::1 first: every address must be tried. */
static void test_connect_every_address(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    guint16 port = listener_port(lsn);
    g_autoptr(GSocketConnectable) caddr =
        g_network_address_new("localhost", port);
    g_autoptr(QIOChannelSocket) cl = connect_to(caddr, NULL);
    g_autoptr(QIOChannelSocket) sv = accept_one(lsn);
    g_autofree char *remote = remote_text(cl);
    g_autofree char *expect = g_strdup_printf("127.0.0.1:%u", port);

    g_assert_cmpstr(remote, ==, expect);
}

static void test_connect_family_filter(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    guint16 port = listener_port(lsn);
    g_autoptr(GSocketConnectable) v4 = g_network_address_new("127.0.0.1", port);
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    g_autoptr(QIOChannelSocket) cl4 = NULL;
    g_autoptr(QIOChannelSocket) sv = NULL;

    opts.family = AF_INET6;
    g_assert_cmpint(qio_channel_socket_connect_sync(cl, v4, &opts, &err), ==,
                    -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(err->message, "no address"));

    opts.family = AF_INET;
    cl4 = connect_to(v4, &opts);
    sv = accept_one(lsn);
}

static void test_connect_bind(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    g_autoptr(GSocketConnectable) caddr = listener_address(lsn);
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    g_autoptr(GSocketAddress) local =
        g_inet_socket_address_new_from_string("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) cl = NULL;
    g_autoptr(QIOChannelSocket) sv = NULL;
    g_autofree char *cl_local = NULL;
    g_autofree char *sv_remote = NULL;

    opts.bind = local;
    cl = connect_to(caddr, &opts);
    sv = accept_one(lsn);
    cl_local = local_text(cl);
    sv_remote = remote_text(sv);
    g_assert_true(g_str_has_prefix(cl_local, "127.0.0.1:"));
    g_assert_cmpstr(cl_local, ==, sv_remote);
}

static void test_connect_timeout(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    QIOChannelSocketOptions lopts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    QIOChannelSocketOptions copts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    g_autoptr(QIOChannelSocket) lsn = NULL;
    g_autoptr(GSocketConnectable) caddr = NULL;
    g_autoptr(QIOChannelSocket) first = NULL;
    g_autoptr(QIOChannelSocket) late = qio_channel_socket_new();
    g_autoptr(GError) err = NULL;
    gint64 start;

    /* Connecting with a timeout works, and leaves a blocking socket. */
    lopts.backlog = 0;
    lsn = listen_on(laddr, &lopts);
    caddr = listener_address(lsn);
    copts.connect_timeout_ms = 5000;
    first = connect_to(caddr, &copts);
    g_assert_cmpint(
        fcntl(qio_channel_socket_get_fd(first), F_GETFL) & O_NONBLOCK, ==, 0);

    /*
     * The accept queue (backlog 0: one connection) is now full, so Linux
     * drops further SYNs and the next connect cannot complete.
     */
    copts.connect_timeout_ms = 200;
    start = g_get_monotonic_time();
    g_assert_cmpint(qio_channel_socket_connect_sync(late, caddr, &copts, &err),
                    ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 150 * 1000);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 5000 * 1000);
}

/* qio_channel_set_blocking() before there is a socket applies later. */
static void test_connect_nonblocking_preset(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    g_autoptr(GSocketConnectable) caddr = listener_address(lsn);
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) sv = NULL;
    g_autoptr(GError) err = NULL;
    char c;

    qio_test_set_blocking(CH(cl), false);
    g_assert_cmpint(qio_channel_socket_connect_sync(cl, caddr, NULL, &err), ==,
                    0);
    g_assert_no_error(err);
    sv = accept_one(lsn);
    g_assert_cmpint(qio_channel_read(CH(cl), &c, 1, &err), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    g_assert_no_error(err);
}

/* ---------------------------------------------------------------- listen */

/* A client connecting to @addr is accepted by @lsn and can talk. */
static void check_accepts_at(QIOChannelSocket *lsn, GSocketConnectable *addr)
{
    g_autoptr(QIOChannelSocket) cl = connect_to(addr, NULL);
    g_autoptr(QIOChannelSocket) sv = accept_one(lsn);

    qio_test_write_all(CH(cl), "hi", 2);
    qio_test_read_str(CH(sv), "hi");
}

static void check_accepts(QIOChannelSocket *lsn, const char *host, guint16 port)
{
    g_autoptr(GSocketConnectable) addr = g_network_address_new(host, port);

    check_accepts_at(lsn, addr);
}

static void check_refused(const char *host, guint16 port)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) addr = g_network_address_new(host, port);
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();

    g_assert_cmpint(qio_channel_socket_connect_sync(cl, addr, NULL, &err), ==,
                    -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

static void test_listen_dual_stack(void)
{
    g_autoptr(GSocketConnectable) any = g_network_address_new("", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(any, NULL);
    guint16 port = listener_port(lsn);
    g_autofree char *text = local_text(lsn);
    g_autofree char *expect = g_strdup_printf("[::]:%u", port);

    check_accepts(lsn, "127.0.0.1", port);
    if (skip_without_ipv6()) {
        return;
    }
    g_assert_cmpstr(text, ==, expect);
    check_accepts(lsn, "::1", port);
}

static void test_listen_wildcard_v4(void)
{
    g_autoptr(GSocketConnectable) any = g_network_address_new("0.0.0.0", 0);
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    g_autoptr(QIOChannelSocket) lsn = NULL;
    g_autofree char *text = NULL;
    g_autofree char *expect = NULL;
    guint16 port;

    opts.family = AF_INET;
    lsn = listen_on(any, &opts);
    port = listener_port(lsn);
    text = local_text(lsn);
    expect = g_strdup_printf("0.0.0.0:%u", port);
    g_assert_cmpstr(text, ==, expect);
    check_accepts(lsn, "127.0.0.1", port);
}

static void test_listen_wildcard_v6only(void)
{
    g_autoptr(GSocketConnectable) any = g_network_address_new("::", 0);
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    g_autoptr(QIOChannelSocket) lsn = NULL;
    guint16 port;

    if (skip_without_ipv6()) {
        return;
    }
    opts.family = AF_INET6;
    lsn = listen_on(any, &opts);
    port = listener_port(lsn);
    check_accepts(lsn, "::1", port);
    check_refused("127.0.0.1", port);
}

static void test_listen_in_use(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) addr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(addr, NULL);
    guint16 port = listener_port(lsn);
    g_autoptr(GSocketConnectable) same =
        g_network_address_new("127.0.0.1", port);
    g_autoptr(QIOChannelSocket) second = qio_channel_socket_new();
    g_autofree char *expect =
        g_strdup_printf("listen on 127.0.0.1:%u: Address already in use", port);

    g_assert_cmpint(qio_channel_socket_listen_sync(second, same, NULL, &err),
                    ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_cmpstr(err->message, ==, expect);
}

static void test_accept_would_block(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) addr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(addr, NULL);
    g_autoptr(GSocketConnectable) caddr = listener_address(lsn);
    g_autoptr(QIOChannelSocket) cl = NULL;
    g_autoptr(QIOChannelSocket) sv = NULL;

    qio_test_set_blocking(CH(lsn), false);
    g_assert_null(qio_channel_socket_accept(lsn, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);

    /* With a client waiting it works, and the new channel blocks. */
    cl = connect_to(caddr, NULL);
    qio_channel_wait(CH(lsn), G_IO_IN);
    sv = accept_one(lsn);
    g_assert_cmpint(fcntl(qio_channel_socket_get_fd(sv), F_GETFL) & O_NONBLOCK,
                    ==, 0);
}

/* ---------------------------------------------------------------- unix */

static void test_unix_unlink_on_close(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    g_autoptr(QIOChannelSocket) lsn = listen_on(addr, NULL);
    QIOChannelSocket *cl = connect_to(addr, NULL);
    g_autoptr(GError) err = NULL;

    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    /* A client closing leaves the listener's file alone. */
    g_assert_cmpint(qio_channel_close(CH(cl), &err), ==, 0);
    g_assert_no_error(err);
    g_object_unref(cl);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));

    g_assert_cmpint(qio_channel_close(CH(lsn), &err), ==, 0);
    g_assert_no_error(err);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(qio_channel_socket_get_fd(lsn), ==, -1);
    /* Closing again is harmless. */
    g_assert_cmpint(qio_channel_close(CH(lsn), &err), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_unix_keep_on_close(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    g_autoptr(QIOChannelSocket) lsn = listen_on(addr, NULL);

    qio_channel_socket_set_unlink_on_close(lsn, FALSE);
    g_assert_cmpint(qio_channel_close(CH(lsn), NULL), ==, 0);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_unix_unlink_on_finalize(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    QIOChannelSocket *lsn = listen_on(addr, NULL);

    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    g_object_unref(lsn);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* A file that replaced ours at the path is not ours to remove. */
static void test_unix_unlink_only_own(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    QIOChannelSocket *first = listen_on(addr, NULL);
    QIOChannelSocket *second = NULL;

    g_assert_cmpint(g_unlink(path), ==, 0);
    second = listen_on(addr, NULL);
    g_object_unref(first);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    g_object_unref(second);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* A socket file left behind by a listener that did not clean up. */
static void make_stale_socket(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
    close(fd);
}

static void test_unix_unlink_early(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autofree char *expect =
        g_strdup_printf("listen on %s: Address already in use", path);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    g_autoptr(QIOChannelSocket) plain = qio_channel_socket_new();
    g_autoptr(GError) err = NULL;
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    QIOChannelSocket *lsn;

    make_stale_socket(path);
    g_assert_cmpint(qio_channel_socket_listen_sync(plain, addr, NULL, &err), ==,
                    -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_cmpstr(err->message, ==, expect);

    opts.unlink_early = true;
    lsn = listen_on(addr, &opts);
    check_accepts_at(lsn, addr);
    g_object_unref(lsn);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* unlink_early removes sockets only, never a regular file. */
static void test_unix_unlink_early_not_socket(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    g_autoptr(QIOChannelSocket) lsn = qio_channel_socket_new();
    g_autoptr(GError) err = NULL;
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;

    g_assert_true(g_file_set_contents(path, "data", -1, NULL));
    opts.unlink_early = true;
    g_assert_cmpint(qio_channel_socket_listen_sync(lsn, addr, &opts, &err), ==,
                    -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* ---------------------------------------------------------------- watch */

static gboolean watch_read_cb(QIOChannel *ioc, GIOCondition cond, gpointer data)
{
    char c;

    g_assert_true(cond & G_IO_IN);
    g_assert_cmpint(qio_channel_read(ioc, &c, 1, NULL), ==, 1);
    (*(int *)data)++;
    return G_SOURCE_REMOVE;
}

static void test_watch(gconstpointer data)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    SockPair p;
    int calls = 0;

    if (!pair_open(&p, GPOINTER_TO_INT(data))) {
        return;
    }
    qio_channel_add_watch_full(CH(p.server), G_IO_IN, watch_read_cb, &calls,
                               NULL, ctx);
    g_assert_false(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpint(calls, ==, 0);

    qio_test_write_all(CH(p.client), "a", 1);
    while (calls == 0) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_assert_cmpint(calls, ==, 1);

    /* Removed by its callback: more data does not call it again. */
    qio_test_write_all(CH(p.client), "b", 1);
    g_assert_false(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpint(calls, ==, 1);
    qio_test_read_str(CH(p.server), "b");
    pair_close(&p);
}

/* ---------------------------------------------------------------- addresses */

static void test_address_text(gconstpointer data)
{
    SockKind kind = GPOINTER_TO_INT(data);
    SockPair p;
    g_autofree char *lsn_local = NULL;
    g_autofree char *cl_remote = NULL;
    g_autofree char *cl_local = NULL;
    g_autofree char *sv_local = NULL;
    g_autofree char *sv_remote = NULL;
    g_autofree char *expect = NULL;

    if (!pair_open(&p, kind)) {
        return;
    }
    lsn_local = local_text(p.listener);
    cl_remote = remote_text(p.client);
    cl_local = local_text(p.client);
    sv_local = local_text(p.server);
    sv_remote = remote_text(p.server);
    g_test_message("listener %s, client %s -> %s, server %s <- %s", lsn_local,
                   cl_local, cl_remote, sv_local, sv_remote);

    if (kind == KIND_TCP4 || kind == KIND_TCP6) {
        const char *host = kind == KIND_TCP4 ? "127.0.0.1" : "[::1]";

        expect = g_strdup_printf("%s:%u", host, listener_port(p.listener));
        g_assert_cmpstr(lsn_local, ==, expect);
        g_assert_cmpstr(cl_local, ==, sv_remote);
        g_assert_true(g_str_has_prefix(
            cl_local, kind == KIND_TCP4 ? "127.0.0.1:" : "[::1]:"));
    } else if (kind == KIND_UNIX) {
        g_assert_cmpstr(lsn_local, ==, p.path);
        g_assert_cmpstr(cl_local, ==, "(unnamed)");
        g_assert_cmpstr(sv_remote, ==, "(unnamed)");
    } else {
        g_assert_true(g_str_has_prefix(lsn_local, "@qio-test-"));
        g_assert_cmpstr(cl_local, ==, "(unnamed)");
    }
    g_assert_cmpstr(cl_remote, ==, lsn_local);
    g_assert_cmpstr(sv_local, ==, lsn_local);
    pair_close(&p);
}

static void assert_text(GSocketAddress *sa, const char *expect)
{
    g_autofree char *text = qio_socket_address_to_string(sa);

    g_assert_cmpstr(text, ==, expect);
    g_object_unref(sa);
}

static void test_address_to_string(void)
{
    g_autoptr(GInetAddress) ll = g_inet_address_new_from_string("fe80::1");
    g_autoptr(GSocketAddress) scoped = NULL;
    g_autofree char *text = NULL;

    assert_text(g_inet_socket_address_new_from_string("127.0.0.1", 80),
                "127.0.0.1:80");
    assert_text(g_inet_socket_address_new_from_string("::1", 80), "[::1]:80");
    assert_text(g_unix_socket_address_new("/path/sock"), "/path/sock");
    assert_text(g_unix_socket_address_new_with_type(
                    "name", -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT),
                "@name");
    assert_text(g_unix_socket_address_new_with_type(
                    "a\0b", 3, G_UNIX_SOCKET_ADDRESS_ABSTRACT),
                "@a@b");
    assert_text(g_unix_socket_address_new_with_type(
                    "pad", -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT_PADDED),
                "@pad");
    assert_text(g_unix_socket_address_new_with_type(
                    "", 0, G_UNIX_SOCKET_ADDRESS_ANONYMOUS),
                "(unnamed)");

    scoped = g_object_new(G_TYPE_INET_SOCKET_ADDRESS, "address", ll, "port", 80,
                          "scope-id", 1, NULL);
    text = qio_socket_address_to_string(scoped);
    g_assert_true(g_str_has_prefix(text, "[fe80::1%"));
    g_assert_true(g_str_has_suffix(text, "]:80"));
}

/* ---------------------------------------------------------------- misc */

static void test_new_fd_not_socket(void)
{
    g_autoptr(GError) err = NULL;
    int pfd[2];

    qio_test_make_pipe(pfd);
    g_assert_null(qio_channel_socket_new_fd(pfd[0], &err));
    g_assert_nonnull(err);
    /* The descriptor is still the caller's and still open. */
    g_assert_true(qio_test_fd_is_open(pfd[0]));
    close(pfd[0]);
    close(pfd[1]);
}

static void test_new_fd_socketpair(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    int sv[2];
    char c;

    g_assert_cmpint(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv),
        ==, 0);
    a = qio_channel_socket_new_fd(sv[0], &err);
    g_assert_no_error(err);
    b = qio_channel_socket_new_fd(sv[1], &err);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_socket_get_fd(a), ==, sv[0]);
    g_assert_true(qio_channel_socket_is_unix(a));
    g_assert_true(qio_channel_has_feature(CH(a), QIO_CHANNEL_FEATURE_FD_PASS));
    g_assert_true(qio_channel_has_feature(CH(a), QIO_CHANNEL_FEATURE_SHUTDOWN));
    g_assert_false(qio_channel_has_feature(CH(a), QIO_CHANNEL_FEATURE_LISTEN));
    /* The descriptor's non-blocking mode is kept. */
    g_assert_cmpint(qio_channel_read(CH(b), &c, 1, &err), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    g_assert_no_error(err);
    qio_test_write_all(CH(a), "z", 1);
    qio_test_read_str(CH(b), "z");
}

static void test_new_fd_listener(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) addr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) orig = listen_on(addr, NULL);
    g_autoptr(QIOChannelSocket) lsn = NULL;
    int fd = dup(qio_channel_socket_get_fd(orig));

    lsn = qio_channel_socket_new_fd(fd, &err);
    g_assert_no_error(err);
    g_assert_true(qio_channel_has_feature(CH(lsn), QIO_CHANNEL_FEATURE_LISTEN));
    g_assert_false(qio_channel_socket_is_unix(lsn));
    check_accepts(lsn, "127.0.0.1", listener_port(orig));
}

static void test_is_unix(void)
{
    g_autoptr(QIOChannelSocket) none = qio_channel_socket_new();
    SockPair p;

    g_assert_false(qio_channel_socket_is_unix(none));
    g_assert_cmpint(qio_channel_socket_get_fd(none), ==, -1);
    pair_open(&p, KIND_TCP4);
    g_assert_false(qio_channel_socket_is_unix(p.client));
    g_assert_false(qio_channel_socket_is_unix(p.listener));
    pair_close(&p);
    pair_open(&p, KIND_ABSTRACT);
    g_assert_true(qio_channel_socket_is_unix(p.client));
    g_assert_true(qio_channel_socket_is_unix(p.server));
    pair_close(&p);
}

/* ---------------------------------------------------------------- zero copy */

/*
 * A flush that waits for a completion that never comes hangs: let the
 * alarm end such a test as a failure instead.
 */
#define ZC_WATCHDOG_S 120

#define ZC_LEN (8 * 1024 * 1024 + 4099)

static bool has_zero_copy(QIOChannelSocket *sioc)
{
    return qio_channel_has_feature(CH(sioc),
                                   QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY);
}

static int zc_flush(QIOChannelSocket *sioc)
{
    g_autoptr(GError) err = NULL;
    int ret = qio_channel_flush(CH(sioc), &err);

    g_assert_no_error(err);
    return ret;
}

/* One write of @len bytes at @buf, as two iovecs, zero copy or not. */
static void zc_write_all(QIOChannelSocket *sioc, const char *buf, size_t len,
                         int flags)
{
    g_autoptr(GError) err = NULL;
    size_t cut = g_test_rand_int_range(0, (gint32)len + 1);
    struct iovec iov[2] = {
        {.iov_base = (char *)buf, .iov_len = cut},
        {.iov_base = (char *)buf + cut, .iov_len = len - cut},
    };

    g_assert_cmpint(
        qio_channel_writev_full_all(CH(sioc), iov, 2, NULL, 0, flags, &err), ==,
        0);
    g_assert_no_error(err);
}

/* A reader thread: qio_channel_read_all() of a whole buffer. */
typedef struct {
    QIOChannelSocket *sioc;
    char *buf;
    size_t len;
    GError *err;
    int ret;
    GThread *thread;
} ZCReader;

static gpointer zc_reader_run(gpointer data)
{
    ZCReader *r = data;

    r->ret = qio_channel_read_all(CH(r->sioc), r->buf, r->len, &r->err);
    return NULL;
}

static void zc_reader_start(ZCReader *r, QIOChannelSocket *sioc, size_t len)
{
    *r = (ZCReader){.sioc = sioc, .buf = g_malloc0(len), .len = len};
    r->thread = g_thread_new("zc-reader", zc_reader_run, r);
}

/* Joins the reader and checks that it got exactly @expect. */
static void zc_reader_finish(ZCReader *r, const char *expect)
{
    g_thread_join(r->thread);
    g_assert_no_error(r->err);
    g_assert_cmpint(r->ret, ==, 0);
    g_assert_true(memcmp(r->buf, expect, r->len) == 0);
    g_free(r->buf);
}

static void test_zero_copy_features(gconstpointer data)
{
    SockKind kind = GPOINTER_TO_INT(data);
    bool inet = kind == KIND_TCP4 || kind == KIND_TCP6;
    g_autoptr(QIOChannelSocket) none = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) wrapped = NULL;
    g_autoptr(GError) err = NULL;
    SockPair p;

    if (!pair_open(&p, kind)) {
        return;
    }
    /* Connected TCP sockets, whichever way they came, and nothing else. */
    g_assert_cmpint(has_zero_copy(p.client), ==, inet);
    g_assert_cmpint(has_zero_copy(p.server), ==, inet);
    g_assert_false(has_zero_copy(p.listener));
    g_assert_false(has_zero_copy(none));
    wrapped = qio_channel_socket_new_fd(
        dup(qio_channel_socket_get_fd(p.client)), &err);
    g_assert_no_error(err);
    g_assert_cmpint(has_zero_copy(wrapped), ==, inet);
    /* Flush with nothing written, with or without the feature: 0. */
    g_assert_cmpint(zc_flush(p.client), ==, 0);
    g_assert_cmpint(zc_flush(p.listener), ==, 0);
    g_assert_cmpint(zc_flush(none), ==, 0);
    pair_close(&p);
}

/* Refused writes send nothing: the next byte the peer reads is 'k'. */
static void assert_zc_refused(SockPair *p, int *fds, size_t nfds)
{
    g_autoptr(GError) err = NULL;
    struct iovec iov = {.iov_base = (char *)"x", .iov_len = 1};

    g_assert_cmpint(qio_channel_writev_full(CH(p->client), &iov, 1, fds, nfds,
                                            QIO_CHANNEL_WRITE_FLAG_ZERO_COPY,
                                            &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpint(
        qio_channel_writev_full_all(CH(p->client), &iov, 1, fds, nfds,
                                    QIO_CHANNEL_WRITE_FLAG_ZERO_COPY, &err),
        ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    qio_test_write_all(CH(p->client), "k", 1);
    qio_test_read_str(CH(p->server), "k");
}

static void test_zero_copy_refused_unix(void)
{
    SockPair p;

    pair_open(&p, KIND_UNIX);
    g_assert_false(has_zero_copy(p.client));
    assert_zc_refused(&p, NULL, 0);
    g_assert_cmpint(zc_flush(p.client), ==, 0);
    pair_close(&p);
}

/* Descriptors never travel with a zero-copy write, on TCP or unix. */
static void test_zero_copy_refused_fds(void)
{
    int fd = STDIN_FILENO;
    SockPair p;

    pair_open(&p, KIND_TCP4);
    g_assert_true(has_zero_copy(p.client));
    assert_zc_refused(&p, &fd, 1);
    g_assert_cmpint(zc_flush(p.client), ==, 0);
    pair_close(&p);
    pair_open(&p, KIND_ABSTRACT);
    assert_zc_refused(&p, &fd, 1);
    pair_close(&p);
}

/*
 * A channel keeps its feature bits after close; connected again to a unix
 * socket, which has no SO_ZEROCOPY, it must still refuse the flag.
 */
static void test_zero_copy_reconnected_unix(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) addr = NULL;
    SockPair tcp;
    SockPair p;

    pair_open(&tcp, KIND_TCP4);
    pair_open(&p, KIND_ABSTRACT);
    g_assert_cmpint(qio_channel_close(CH(tcp.client), &err), ==, 0);
    g_assert_no_error(err);
    g_clear_object(&p.client);
    g_clear_object(&p.server);
    p.client = g_steal_pointer(&tcp.client);
    addr = listener_address(p.listener);
    g_assert_cmpint(qio_channel_socket_connect_sync(p.client, addr, NULL, &err),
                    ==, 0);
    g_assert_no_error(err);
    p.server = accept_one(p.listener);
    assert_zc_refused(&p, NULL, 0);
    g_assert_cmpint(zc_flush(p.client), ==, 0);
    pair_close(&p);
    pair_close(&tcp);
}

typedef struct {
    SockKind kind;
    bool nonblocking;
} ZCCase;

/*
 * @len bytes in writes of up to 256 KiB, nearly all zero copy (every
 * seventh one plain, to mix them), flushing every 2 MiB. Loopback
 * delivers to a local socket, where the kernel always copies: every
 * flush says so with 1.
 */
static void zc_send_stream(QIOChannelSocket *sioc, const char *src, size_t len)
{
    size_t unflushed = 0;
    unsigned n = 0;

    for (size_t off = 0; off < len; n++) {
        /* Drawn first: MIN() evaluates its arguments twice. */
        size_t draw = g_test_rand_int_range(1, 256 * 1024 + 1);
        size_t chunk = MIN(len - off, draw);
        int flags = n % 7 == 6 ? 0 : QIO_CHANNEL_WRITE_FLAG_ZERO_COPY;

        zc_write_all(sioc, src + off, chunk, flags);
        off += chunk;
        unflushed += chunk;
        if (unflushed >= 2 * 1024 * 1024) {
            g_assert_cmpint(zc_flush(sioc), ==, 1);
            unflushed = 0;
        }
    }
    g_assert_cmpint(zc_flush(sioc), ==, unflushed > 0 ? 1 : 0);
    /* Nothing written since: at once, and 0. */
    g_assert_cmpint(zc_flush(sioc), ==, 0);
}

static void zc_transfer(QIOChannelSocket *writer, QIOChannelSocket *reader,
                        bool nonblocking)
{
    g_autofree char *src = g_malloc(ZC_LEN);
    ZCReader r;

    qio_test_fill_random(src, ZC_LEN);
    if (nonblocking) {
        qio_test_set_blocking(CH(writer), false);
        qio_test_set_blocking(CH(reader), false);
    }
    zc_reader_start(&r, reader, ZC_LEN);
    zc_send_stream(writer, src, ZC_LEN);
    zc_reader_finish(&r, src);
    if (nonblocking) {
        qio_test_set_blocking(CH(writer), true);
        qio_test_set_blocking(CH(reader), true);
    }
}

/* Both ways: from the connecting side, and from the accepted one. */
static void test_zero_copy_transfer(gconstpointer data)
{
    const ZCCase *zc = data;
    SockPair p;

    if (!pair_open(&p, zc->kind)) {
        return;
    }
    alarm(ZC_WATCHDOG_S);
    zc_transfer(p.client, p.server, zc->nonblocking);
    zc_transfer(p.server, p.client, zc->nonblocking);
    alarm(0);
    pair_close(&p);
}

static void add_zero_copy_transfer_tests(void)
{
    static ZCCase cases[2][2];
    static const char *const modes[] = {"blocking", "nonblocking"};

    for (int k = 0; k < 2; k++) {
        for (int m = 0; m < 2; m++) {
            g_autofree char *name = g_strdup_printf(
                "/socket/zero-copy/transfer/%s/%s", kind_names[k], modes[m]);

            cases[k][m] = (ZCCase){.kind = k, .nonblocking = m == 1};
            g_test_add_data_func(name, &cases[k][m], test_zero_copy_transfer);
        }
    }
}

/* Bytes in the send queue the peer has not acknowledged yet. */
static int unacked_bytes(QIOChannelSocket *sioc)
{
    int n = -1;

    g_assert_cmpint(ioctl(qio_channel_socket_get_fd(sioc), SIOCOUTQ, &n), ==,
                    0);
    return n;
}

/*
 * Zero-copy writes on a non-blocking channel whose peer does not read,
 * until the socket takes no more. Returns how much went; the small send
 * buffer makes sure that happens well before @len.
 */
static size_t zc_fill(QIOChannelSocket *sioc, const char *src, size_t len)
{
    int sndbuf = 256 * 1024;
    size_t off = 0;

    g_assert_cmpint(setsockopt(qio_channel_socket_get_fd(sioc), SOL_SOCKET,
                               SO_SNDBUF, &sndbuf, sizeof(sndbuf)),
                    ==, 0);
    qio_test_set_blocking(CH(sioc), false);
    for (;;) {
        g_autoptr(GError) err = NULL;
        struct iovec iov = {.iov_base = (char *)src + off,
                            .iov_len = MIN(len - off, 64 * 1024)};
        ssize_t n;

        g_assert_cmpuint(off, <, len);
        n = qio_channel_writev_full(CH(sioc), &iov, 1, NULL, 0,
                                    QIO_CHANNEL_WRITE_FLAG_ZERO_COPY, &err);
        g_assert_no_error(err);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            break;
        }
        g_assert_cmpint(n, >, 0);
        off += n;
    }
    qio_test_set_blocking(CH(sioc), true);
    /* Unacknowledged data: some of those sends are not complete. */
    g_assert_cmpint(unacked_bytes(sioc), >, 0);
    return off;
}

/*
 * Flush has to wait for the reader: the data it flushes is still in the
 * send queue when it is called. With @hangup the socket is shut down both
 * ways first, so it polls POLLHUP while the data is still in flight.
 */
static void test_zero_copy_flush_waits(gconstpointer data)
{
    bool hangup = GPOINTER_TO_INT(data);
    int fin = hangup ? 1 : 0;
    g_autofree char *src = g_malloc(ZC_LEN);
    size_t sent;
    ZCReader r;
    SockPair p;

    pair_open(&p, KIND_TCP4);
    alarm(ZC_WATCHDOG_S);
    qio_test_fill_random(src, ZC_LEN);
    sent = zc_fill(p.client, src, ZC_LEN);
    if (hangup) {
        do_shutdown(p.client, QIO_CHANNEL_SHUTDOWN_BOTH);
    }
    zc_reader_start(&r, p.server, sent);
    g_assert_cmpint(zc_flush(p.client), ==, 1);
    /*
     * A send completes when the peer acknowledges it (the kernel moves
     * snd_una before it frees the data); only our FIN may be left.
     */
    g_assert_cmpint(unacked_bytes(p.client), <=, fin);
    zc_reader_finish(&r, src);
    if (hangup) {
        qio_test_read_eof(CH(p.server));
    }
    alarm(0);
    pair_close(&p);
}

/*
 * Closing with sends in flight: nothing leaks (valgrind and the sanitizer
 * builds watch memory, the count here descriptors), the data still
 * arrives, and the closed channel has nothing left to flush.
 */
static void test_zero_copy_close_pending(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *src = g_malloc(ZC_LEN);
    unsigned fds_before = qio_test_count_fds();
    size_t sent;
    ZCReader r;
    SockPair p;

    pair_open(&p, KIND_TCP4);
    alarm(ZC_WATCHDOG_S);
    qio_test_fill_random(src, ZC_LEN);
    sent = zc_fill(p.client, src, ZC_LEN);
    g_assert_cmpint(qio_channel_close(CH(p.client), &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(zc_flush(p.client), ==, 0);
    zc_reader_start(&r, p.server, sent);
    zc_reader_finish(&r, src);
    qio_test_read_eof(CH(p.server));
    alarm(0);
    pair_close(&p);
    g_assert_cmpuint(qio_test_count_fds(), ==, fds_before);
}

/*
 * The peer resets the connection with sends in flight: the kernel drops
 * them, which completes them. Flush must not hang; whether it meets the
 * reset first (an error) or the completions (1) is a race.
 */
static void test_zero_copy_flush_reset(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *src = g_malloc(ZC_LEN);
    char c;
    int ret;
    SockPair p;

    pair_open(&p, KIND_TCP4);
    alarm(ZC_WATCHDOG_S);
    qio_test_fill_random(src, ZC_LEN);
    zc_fill(p.client, src, ZC_LEN);
    /* Unread data at close: the server answers with a reset. */
    g_clear_object(&p.server);
    ret = qio_channel_flush(CH(p.client), &err);
    if (ret < 0) {
        g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    } else {
        g_assert_no_error(err);
        g_assert_cmpint(ret, ==, 1);
    }
    g_test_message("flush after the reset returned %d", ret);
    g_clear_error(&err);
    /* Nothing is left to wait for: the next flush is prompt. */
    g_assert_cmpint(zc_flush(p.client), ==, ret < 0 ? 1 : 0);
    /* Reading past the reset reports it, or end-of-file once reported. */
    ret = qio_channel_read(CH(p.client), &c, 1, &err);
    g_assert_cmpint(ret, <=, 0);
    alarm(0);
    pair_close(&p);
}

/* The calling thread's CAP_IPC_LOCK, which lifts RLIMIT_MEMLOCK. */
static void set_ipc_lock(bool enabled)
{
    struct __user_cap_header_struct hdr = {
        .version = _LINUX_CAPABILITY_VERSION_3,
    };
    struct __user_cap_data_struct caps[2];

    g_assert_cmpint(syscall(SYS_capget, &hdr, caps), ==, 0);
    if (enabled) {
        caps[CAP_TO_INDEX(CAP_IPC_LOCK)].effective |= CAP_TO_MASK(CAP_IPC_LOCK);
    } else {
        caps[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &=
            ~CAP_TO_MASK(CAP_IPC_LOCK);
    }
    g_assert_cmpint(syscall(SYS_capset, &hdr, caps), ==, 0);
}

/* What pin_nothing() took away. */
typedef struct {
    struct rlimit memlock;
    bool ipc_lock;
} PinLimits;

/* No page may be pinned: every MSG_ZEROCOPY send fails with ENOBUFS. */
static PinLimits pin_nothing(void)
{
    struct __user_cap_header_struct hdr = {
        .version = _LINUX_CAPABILITY_VERSION_3,
    };
    struct __user_cap_data_struct caps[2];
    PinLimits saved;
    struct rlimit none;

    g_assert_cmpint(syscall(SYS_capget, &hdr, caps), ==, 0);
    saved.ipc_lock =
        caps[CAP_TO_INDEX(CAP_IPC_LOCK)].effective & CAP_TO_MASK(CAP_IPC_LOCK);
    g_assert_cmpint(getrlimit(RLIMIT_MEMLOCK, &saved.memlock), ==, 0);
    none = saved.memlock;
    none.rlim_cur = 0;
    g_assert_cmpint(setrlimit(RLIMIT_MEMLOCK, &none), ==, 0);
    set_ipc_lock(false);
    return saved;
}

static void pin_restore(const PinLimits *saved)
{
    g_assert_cmpint(setrlimit(RLIMIT_MEMLOCK, &saved->memlock), ==, 0);
    if (saved->ipc_lock) {
        set_ipc_lock(true);
    }
}

/* Whether the kernel really refuses: sent on a pair of its own. */
static bool zc_probe_enobufs(void)
{
    static char page[4096];
    SockPair p;
    int one = 1;
    int fd;
    ssize_t ret;

    pair_open(&p, KIND_TCP4);
    fd = qio_channel_socket_get_fd(p.client);
    g_assert_cmpint(setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)),
                    ==, 0);
    ret = send(fd, page, sizeof(page), MSG_ZEROCOPY | MSG_DONTWAIT);
    pair_close(&p);
    return ret < 0 && errno == ENOBUFS;
}

/*
 * Over the locked-memory limit the kernel refuses MSG_ZEROCOPY with
 * ENOBUFS; libqio then copies: the writes succeed, the data arrives, and
 * flush reports that every send was copied.
 */
static void test_zero_copy_enobufs_fallback(void)
{
    g_autofree char *src = g_malloc(ZC_LEN);
    PinLimits saved;
    ZCReader r;
    SockPair p;

    pair_open(&p, KIND_TCP4);
    alarm(ZC_WATCHDOG_S);
    qio_test_fill_random(src, ZC_LEN);
    zc_reader_start(&r, p.server, ZC_LEN);
    saved = pin_nothing();
    if (!zc_probe_enobufs()) {
        pin_restore(&saved);
        g_test_skip("MSG_ZEROCOPY is not limited by RLIMIT_MEMLOCK here");
        qio_test_write_all(CH(p.client), src, ZC_LEN);
        zc_reader_finish(&r, src);
        alarm(0);
        pair_close(&p);
        return;
    }
    for (size_t off = 0; off < ZC_LEN; off += 1024 * 1024) {
        zc_write_all(p.client, src + off, MIN(ZC_LEN - off, 1024 * 1024),
                     QIO_CHANNEL_WRITE_FLAG_ZERO_COPY);
    }
    g_assert_cmpint(zc_flush(p.client), ==, 1);
    pin_restore(&saved);
    zc_reader_finish(&r, src);
    g_assert_cmpint(zc_flush(p.client), ==, 0);
    alarm(0);
    pair_close(&p);
}

static int tcp_option(QIOChannelSocket *sioc, int option)
{
    int value = -1;
    socklen_t len = sizeof(value);

    g_assert_cmpint(getsockopt(qio_channel_socket_get_fd(sioc), IPPROTO_TCP,
                               option, &value, &len),
                    ==, 0);
    return value;
}

static void test_cork_delay(void)
{
    SockPair p;

    pair_open(&p, KIND_TCP4);
    qio_channel_set_delay(CH(p.client), false);
    g_assert_cmpint(tcp_option(p.client, TCP_NODELAY), !=, 0);
    qio_channel_set_delay(CH(p.client), true);
    g_assert_cmpint(tcp_option(p.client, TCP_NODELAY), ==, 0);
    qio_channel_set_cork(CH(p.client), true);
    g_assert_cmpint(tcp_option(p.client, TCP_CORK), !=, 0);
    qio_channel_set_cork(CH(p.client), false);
    g_assert_cmpint(tcp_option(p.client, TCP_CORK), ==, 0);
    pair_close(&p);

    /* Hints only: on a unix socket they do nothing, and do no harm. */
    pair_open(&p, KIND_UNIX);
    qio_channel_set_delay(CH(p.client), false);
    qio_channel_set_cork(CH(p.client), true);
    qio_test_write_all(CH(p.client), "u", 1);
    qio_test_read_str(CH(p.server), "u");
    pair_close(&p);
}

static void test_closed_channel(void)
{
    g_autoptr(GError) err = NULL;
    SockPair p;
    char c;

    pair_open(&p, KIND_UNIX);
    g_assert_cmpint(qio_channel_close(CH(p.client), &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_socket_get_fd(p.client), ==, -1);
    g_assert_cmpint(qio_channel_read(CH(p.client), &c, 1, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
    /* The peer sees end-of-file. */
    qio_test_read_eof(CH(p.server));
    pair_close(&p);
}

/* ---------------------------------------------------------------- async */

/* A connectable that stands for a fixed list of addresses, in order. */
#define TEST_TYPE_ADDR_LIST (test_addr_list_get_type())
G_DECLARE_FINAL_TYPE(TestAddrList, test_addr_list, TEST, ADDR_LIST, GObject)

struct _TestAddrList {
    GObject parent;
    GList *addrs;
    /* A slow resolver: the first address comes after this long. */
    guint delay_ms;
    /* The thread that enumerated last. */
    GThread *enumerated_in;
};

#define TEST_TYPE_ADDR_ENUM (test_addr_enum_get_type())
G_DECLARE_FINAL_TYPE(TestAddrEnum, test_addr_enum, TEST, ADDR_ENUM,
                     GSocketAddressEnumerator)

struct _TestAddrEnum {
    GSocketAddressEnumerator parent;
    TestAddrList *list;
    GList *addrs;
    GList *next;
};

G_DEFINE_FINAL_TYPE(TestAddrEnum, test_addr_enum,
                    G_TYPE_SOCKET_ADDRESS_ENUMERATOR)

static GSocketAddress *test_addr_enum_next(GSocketAddressEnumerator *en,
                                           GCancellable *cancellable,
                                           GError **errp)
{
    TestAddrEnum *self = TEST_ADDR_ENUM(en);
    GSocketAddress *sa;

    if (self->next == self->addrs && self->list->delay_ms) {
        g_usleep(self->list->delay_ms * 1000);
    }
    self->list->enumerated_in = g_thread_self();
    if (!self->next) {
        return NULL;
    }
    sa = g_object_ref(self->next->data);
    self->next = self->next->next;
    return sa;
}

static void test_addr_enum_finalize(GObject *obj)
{
    g_list_free_full(TEST_ADDR_ENUM(obj)->addrs, g_object_unref);
    g_object_unref(TEST_ADDR_ENUM(obj)->list);
    G_OBJECT_CLASS(test_addr_enum_parent_class)->finalize(obj);
}

static void test_addr_enum_class_init(TestAddrEnumClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = test_addr_enum_finalize;
    G_SOCKET_ADDRESS_ENUMERATOR_CLASS(klass)->next = test_addr_enum_next;
}

static void test_addr_enum_init(TestAddrEnum *self)
{
}

static void test_addr_list_iface_init(GSocketConnectableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(TestAddrList, test_addr_list, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(G_TYPE_SOCKET_CONNECTABLE,
                                                    test_addr_list_iface_init))

static gpointer copy_object(gconstpointer obj, gpointer unused)
{
    return g_object_ref((gpointer)obj);
}

static GSocketAddressEnumerator *
test_addr_list_enumerate(GSocketConnectable *conn)
{
    TestAddrEnum *en = g_object_new(TEST_TYPE_ADDR_ENUM, NULL);

    en->addrs =
        g_list_copy_deep(TEST_ADDR_LIST(conn)->addrs, copy_object, NULL);
    en->next = en->addrs;
    en->list = g_object_ref(TEST_ADDR_LIST(conn));
    return G_SOCKET_ADDRESS_ENUMERATOR(en);
}

static char *test_addr_list_to_string(GSocketConnectable *conn)
{
    return g_strdup("(address list)");
}

static void test_addr_list_iface_init(GSocketConnectableIface *iface)
{
    iface->enumerate = test_addr_list_enumerate;
    iface->to_string = test_addr_list_to_string;
}

static void test_addr_list_finalize(GObject *obj)
{
    g_list_free_full(TEST_ADDR_LIST(obj)->addrs, g_object_unref);
    G_OBJECT_CLASS(test_addr_list_parent_class)->finalize(obj);
}

static void test_addr_list_class_init(TestAddrListClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = test_addr_list_finalize;
}

static void test_addr_list_init(TestAddrList *self)
{
}

/* 127.0.0.1 at each port of the 0-terminated list. */
static GSocketConnectable *loopback_ports(guint16 first, ...)
{
    TestAddrList *list = g_object_new(TEST_TYPE_ADDR_LIST, NULL);
    va_list ap;

    va_start(ap, first);
    for (guint port = first; port != 0; port = va_arg(ap, guint)) {
        list->addrs = g_list_append(
            list->addrs,
            g_inet_socket_address_new_from_string("127.0.0.1", port));
    }
    va_end(ap);
    return G_SOCKET_CONNECTABLE(list);
}

/* The outcome of one async operation, seen from its callback. */
typedef struct {
    GMainLoop *loop;
    GThread *thread;
    GObject *source;
    GError *error;
    int done;
    int frees;
    gint64 started;
    gint64 elapsed;
} AsyncResult;

static void async_result_init(AsyncResult *r, GMainContext *ctx)
{
    memset(r, 0, sizeof(*r));
    r->loop = g_main_loop_new(ctx, FALSE);
    r->started = g_get_monotonic_time();
}

static void async_result_clear(AsyncResult *r)
{
    g_main_loop_unref(r->loop);
    g_clear_error(&r->error);
}

static void async_done(QIOTask *task, gpointer data)
{
    AsyncResult *r = data;

    g_assert_true(g_main_context_is_owner(g_main_loop_get_context(r->loop)));
    r->thread = g_thread_self();
    r->source = qio_task_get_source(task);
    r->elapsed = g_get_monotonic_time() - r->started;
    g_assert_true(QIO_IS_CHANNEL_SOCKET(r->source));
    qio_task_propagate_error(task, &r->error);
    r->done++;
    g_main_loop_quit(r->loop);
}

static void async_free(gpointer data)
{
    AsyncResult *r = data;

    g_assert_cmpint(r->done, ==, 1);
    r->frees++;
}

static gboolean async_too_long(gpointer data)
{
    g_error("an async socket operation did not complete");
    return G_SOURCE_REMOVE;
}

/* Iterate until the operation has completed; it must not have already. */
static void async_wait(AsyncResult *r)
{
    GSource *guard = g_timeout_source_new_seconds(30);

    g_assert_cmpint(r->done, ==, 0);
    g_source_set_callback(guard, async_too_long, NULL, NULL);
    g_source_attach(guard, g_main_loop_get_context(r->loop));
    g_main_loop_run(r->loop);
    g_source_destroy(guard);
    g_source_unref(guard);
    while (g_main_context_iteration(g_main_loop_get_context(r->loop), FALSE)) {
    }
    g_assert_cmpint(r->done, ==, 1);
    g_assert_cmpint(r->frees, ==, 1);
    g_assert_true(r->thread == g_thread_self());
}

static void connect_async_wait(QIOChannelSocket *cl, GSocketConnectable *addr,
                               const QIOChannelSocketOptions *opts,
                               AsyncResult *r)
{
    qio_channel_socket_connect_async(cl, addr, opts, async_done, r, async_free,
                                     NULL);
    async_wait(r);
    g_assert_true(r->source == G_OBJECT(cl));
}

static void listen_async_wait(QIOChannelSocket *lsn, GSocketConnectable *addr,
                              const QIOChannelSocketOptions *opts,
                              AsyncResult *r)
{
    qio_channel_socket_listen_async(lsn, addr, opts, async_done, r, async_free,
                                    NULL);
    async_wait(r);
    g_assert_true(r->source == G_OBJECT(lsn));
}

static bool fd_is_nonblocking(QIOChannelSocket *sioc)
{
    return fcntl(qio_channel_socket_get_fd(sioc), F_GETFL) & O_NONBLOCK;
}

/* Connect asynchronously to @addr, served by @lsn, and talk both ways. */
static void check_async_connect(QIOChannelSocket *lsn, GSocketConnectable *addr,
                                bool nonblocking)
{
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) sv = NULL;
    AsyncResult r;

    async_result_init(&r, NULL);
    if (nonblocking) {
        qio_test_set_blocking(CH(cl), false);
    }
    connect_async_wait(cl, addr, NULL, &r);
    g_assert_no_error(r.error);
    g_assert_cmpint(qio_channel_socket_get_fd(cl), >=, 0);
    /* The mode the channel asked for, as after a synchronous connect. */
    g_assert_cmpint(fd_is_nonblocking(cl), ==, nonblocking);
    sv = accept_one(lsn);
    if (nonblocking) {
        qio_test_set_blocking(CH(cl), true);
    }
    qio_test_transfer(CH(cl), CH(sv), NULL);
    qio_test_transfer(CH(sv), CH(cl), NULL);
    async_result_clear(&r);
}

static void test_connect_async_tcp(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    guint16 port = listener_port(lsn);
    /* A host name goes through the resolver thread, an address does not. */
    g_autoptr(GSocketConnectable) byname =
        g_network_address_new("127.0.0.1", port);
    g_autoptr(GSocketConnectable) byaddr = listener_address(lsn);

    check_async_connect(lsn, byname, false);
    check_async_connect(lsn, byaddr, false);
    check_async_connect(lsn, byname, true);
}

static void test_connect_async_unix(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    QIOChannelSocket *lsn = listen_on(addr, NULL);

    check_async_connect(lsn, addr, false);
    check_async_connect(lsn, addr, true);
    g_object_unref(lsn);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/*
 * A unix listener with a full queue (backlog 0, one client waiting) makes
 * a non-blocking connect fail with EAGAIN: it is asked again until it
 * accepts, or until the timeout.
 */
static void test_connect_async_unix_full(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autofree char *expect =
        g_strdup_printf("connect to %s: Connection timed out", path);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    QIOChannelSocketOptions lopts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    QIOChannelSocketOptions copts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    QIOChannelSocket *lsn = NULL;
    g_autoptr(QIOChannelSocket) first = NULL;
    g_autoptr(QIOChannelSocket) timed = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) patient = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) sv1 = NULL;
    g_autoptr(QIOChannelSocket) sv2 = NULL;
    AsyncResult r;

    lopts.backlog = 0;
    lsn = listen_on(addr, &lopts);
    first = connect_to(addr, NULL);

    copts.connect_timeout_ms = 200;
    async_result_init(&r, NULL);
    connect_async_wait(timed, addr, &copts, &r);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_cmpstr(r.error->message, ==, expect);
    g_assert_cmpint(r.elapsed, >=, 150 * 1000);
    async_result_clear(&r);

    /* The first iteration makes the attempt, which finds the queue full. */
    async_result_init(&r, NULL);
    qio_channel_socket_connect_async(patient, addr, NULL, async_done, &r,
                                     async_free, NULL);
    g_main_context_iteration(NULL, FALSE);
    g_assert_cmpint(r.done, ==, 0);
    sv1 = accept_one(lsn);
    async_wait(&r);
    g_assert_no_error(r.error);
    sv2 = accept_one(lsn);
    qio_test_write_all(CH(patient), "late", 4);
    qio_test_read_str(CH(sv2), "late");
    async_result_clear(&r);

    g_object_unref(lsn);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_connect_async_unix_missing(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "none", NULL);
    g_autofree char *expect =
        g_strdup_printf("connect to %s: No such file or directory", path);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    AsyncResult r;

    async_result_init(&r, NULL);
    connect_async_wait(cl, addr, NULL, &r);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_cmpstr(r.error->message, ==, expect);
    g_assert_cmpint(qio_channel_socket_get_fd(cl), ==, -1);
    async_result_clear(&r);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_connect_async_refused(void)
{
    guint16 port = free_port();
    g_autoptr(GSocketConnectable) addr =
        g_network_address_new("127.0.0.1", port);
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    g_autofree char *expect =
        g_strdup_printf("connect to 127.0.0.1:%u: Connection refused", port);
    unsigned fds = qio_test_count_fds();
    AsyncResult r;

    async_result_init(&r, NULL);
    connect_async_wait(cl, addr, NULL, &r);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
    g_assert_cmpstr(r.error->message, ==, expect);
    g_assert_cmpint(qio_channel_socket_get_fd(cl), ==, -1);
    g_assert_cmpuint(qio_test_count_fds(), ==, fds);
    async_result_clear(&r);
}

/* "localhost" may resolve to ::1 first: every address must be tried. */
static void test_connect_async_localhost(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    guint16 port = listener_port(lsn);
    g_autoptr(GSocketConnectable) caddr =
        g_network_address_new("localhost", port);
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) sv = NULL;
    g_autofree char *remote = NULL;
    g_autofree char *expect = g_strdup_printf("127.0.0.1:%u", port);
    AsyncResult r;

    async_result_init(&r, NULL);
    connect_async_wait(cl, caddr, NULL, &r);
    g_assert_no_error(r.error);
    sv = accept_one(lsn);
    remote = remote_text(cl);
    g_assert_cmpstr(remote, ==, expect);
    qio_test_write_all(CH(cl), "hello", 5);
    qio_test_read_str(CH(sv), "hello");
    async_result_clear(&r);
}

/* Refused addresses are skipped; the last failure is the one reported. */
static void test_connect_async_fallback(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    guint16 good = listener_port(lsn);
    guint16 bad1 = free_port();
    guint16 bad2 = free_port();
    g_autoptr(GSocketConnectable) mixed = loopback_ports(bad1, bad2, good, 0);
    g_autoptr(GSocketConnectable) none = loopback_ports(bad1, bad2, 0);
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) cl2 = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) sv = NULL;
    g_autofree char *remote = NULL;
    g_autofree char *expect_remote = g_strdup_printf("127.0.0.1:%u", good);
    g_autofree char *expect =
        g_strdup_printf("connect to 127.0.0.1:%u: Connection refused", bad2);
    unsigned fds;
    AsyncResult r;

    g_assert_cmpuint(bad1, !=, bad2);
    async_result_init(&r, NULL);
    connect_async_wait(cl, mixed, NULL, &r);
    g_assert_no_error(r.error);
    sv = accept_one(lsn);
    remote = remote_text(cl);
    g_assert_cmpstr(remote, ==, expect_remote);
    async_result_clear(&r);

    fds = qio_test_count_fds();
    async_result_init(&r, NULL);
    connect_async_wait(cl2, none, NULL, &r);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
    g_assert_cmpstr(r.error->message, ==, expect);
    g_assert_cmpuint(qio_test_count_fds(), ==, fds);
    async_result_clear(&r);
}

static void test_connect_async_no_address(void)
{
    g_autoptr(GSocketConnectable) v4 = g_network_address_new("127.0.0.1", 9);
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    AsyncResult r;

    opts.family = AF_INET6;
    async_result_init(&r, NULL);
    connect_async_wait(cl, v4, &opts, &r);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(r.error->message, "no address"));
    async_result_clear(&r);
}

/*
 * The peer accepts, sends and resets before the connect's completion is
 * looked at: the connection was made, so the connect succeeds, the data
 * is read, and only then does the reset show, as a read error. (Taking
 * the pending ECONNRESET as a failed connect lost the data.)
 */
static void test_connect_async_reset_before_check(void)
{
    g_autoptr(GSocketConnectable) any = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(any, NULL);
    g_autoptr(GSocketConnectable) addr = listener_address(lsn);
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) peer = NULL;
    g_autoptr(GError) err = NULL;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    char want[1000];
    char got[sizeof(want)];
    AsyncResult r;

    qio_test_fill_random(want, sizeof(want));
    g_assert_true(G_IS_SOCKET_ADDRESS(addr));
    async_result_init(&r, NULL);
    qio_channel_socket_connect_async(cl, addr, NULL, async_done, &r, async_free,
                                     NULL);
    /* One iteration runs connect(2); its completion is not seen yet. */
    g_main_context_iteration(NULL, FALSE);
    g_assert_cmpint(r.done, ==, 0);
    peer = qio_channel_socket_accept(lsn, &err);
    g_assert_no_error(err);
    g_assert_cmpint(
        qio_channel_write_all(QIO_CHANNEL(peer), want, sizeof(want), &err), ==,
        0);
    g_assert_no_errno(setsockopt(qio_channel_socket_get_fd(peer), SOL_SOCKET,
                                 SO_LINGER, &lg, sizeof(lg)));
    g_clear_object(&peer);

    async_wait(&r);
    g_assert_no_error(r.error);
    g_assert_cmpint(
        qio_channel_read_all(QIO_CHANNEL(cl), got, sizeof(got), &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(memcmp(want, got, sizeof(want)) == 0);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(cl), got, 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
    async_result_clear(&r);
}

/*
 * A name that does not resolve (.invalid never does, RFC 6761): the error
 * arrives in the caller's context and reads "resolve HOST: REASON", and an
 * IPv6 literal refused by the family filter is named in brackets.
 */
static void test_connect_async_unresolvable(void)
{
    g_autoptr(GSocketConnectable) bad =
        g_network_address_new("no-such-host.invalid", 80);
    g_autoptr(GSocketConnectable) v6 = g_network_address_new("::1", 9);
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) cl4 = qio_channel_socket_new();
    g_autoptr(GError) err = NULL;
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    AsyncResult r;

    async_result_init(&r, NULL);
    connect_async_wait(cl, bad, NULL, &r);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_true(
        g_str_has_prefix(r.error->message, "resolve no-such-host.invalid: "));
    g_assert_cmpint(qio_channel_socket_get_fd(cl), <, 0);
    async_result_clear(&r);

    g_assert_cmpint(qio_channel_socket_connect_sync(cl, bad, NULL, &err), ==,
                    -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_true(
        g_str_has_prefix(err->message, "resolve no-such-host.invalid: "));

    opts.family = AF_INET;
    async_result_init(&r, NULL);
    connect_async_wait(cl4, v6, &opts, &r);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_cmpstr(r.error->message, ==,
                    "connect to [::1]:9: no address of the requested family");
    async_result_clear(&r);
}

/*
 * A listener whose accept queue is full (backlog 0, one client waiting):
 * Linux drops further SYNs, so a connect to it stays in progress.
 */
typedef struct {
    QIOChannelSocket *lsn;
    QIOChannelSocket *first;
    GSocketConnectable *addr;
} Unresponsive;

static void unresponsive_open(Unresponsive *u)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    QIOChannelSocketOptions lopts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;

    lopts.backlog = 0;
    u->lsn = listen_on(laddr, &lopts);
    u->addr = listener_address(u->lsn);
    u->first = connect_to(u->addr, NULL);
}

static void unresponsive_close(Unresponsive *u)
{
    g_clear_object(&u->first);
    g_clear_object(&u->lsn);
    g_clear_object(&u->addr);
}

static void test_connect_async_timeout(void)
{
    Unresponsive u;
    QIOChannelSocketOptions copts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    g_autoptr(QIOChannelSocket) late = qio_channel_socket_new();
    g_autofree char *text = NULL;
    g_autofree char *expect = NULL;
    AsyncResult r;

    unresponsive_open(&u);
    text = qio_socket_address_to_string(G_SOCKET_ADDRESS(u.addr));
    expect = g_strdup_printf("connect to %s: Connection timed out", text);
    copts.connect_timeout_ms = 200;
    async_result_init(&r, NULL);
    connect_async_wait(late, u.addr, &copts, &r);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_cmpstr(r.error->message, ==, expect);
    g_assert_cmpint(r.elapsed, >=, 150 * 1000);
    g_assert_cmpint(r.elapsed, <, 5000 * 1000);
    g_assert_cmpint(qio_channel_socket_get_fd(late), ==, -1);
    async_result_clear(&r);
    unresponsive_close(&u);
}

typedef struct {
    AsyncResult *r;
    unsigned ticks;
    gint64 last;
    gint64 max_gap;
} Ticker;

static gboolean ticker_tick(gpointer data)
{
    Ticker *t = data;
    gint64 now = g_get_monotonic_time();

    if (t->r->done) {
        return G_SOURCE_CONTINUE;
    }
    t->ticks++;
    t->max_gap = MAX(t->max_gap, now - t->last);
    t->last = now;
    return G_SOURCE_CONTINUE;
}

/*
 * The main loop runs on while a connect is in flight: a 50 ms timer in the
 * same context keeps firing during a connect that takes a second to fail.
 */
static void test_connect_async_loop_not_blocked(void)
{
    Unresponsive u;
    QIOChannelSocketOptions copts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    g_autoptr(QIOChannelSocket) late = qio_channel_socket_new();
    g_autoptr(GSocketConnectable) byname = NULL;
    AsyncResult r;
    Ticker t = {0};
    GSource *timer;

    unresponsive_open(&u);
    /* By name: the resolver thread is part of the path under test. */
    byname = g_network_address_new(
        "127.0.0.1",
        g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(u.addr)));
    copts.connect_timeout_ms = 1000;
    async_result_init(&r, NULL);
    t.r = &r;
    t.last = g_get_monotonic_time();
    timer = g_timeout_source_new(50);
    g_source_set_callback(timer, ticker_tick, &t, NULL);
    g_source_attach(timer, NULL);

    connect_async_wait(late, byname, &copts, &r);
    g_source_destroy(timer);
    g_source_unref(timer);

    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
    g_assert_cmpint(r.elapsed, >=, 900 * 1000);
    g_test_message("%u ticks during the connect, longest gap %" G_GINT64_FORMAT
                   " us",
                   t.ticks, t.max_gap);
    g_assert_cmpuint(t.ticks, >=, 8);
    g_assert_cmpint(t.max_gap, <, 500 * 1000);
    async_result_clear(&r);
    unresponsive_close(&u);
}

/*
 * Name resolution runs in a worker thread: a resolver that takes 400 ms
 * does not hold up the main loop either.
 */
static void test_connect_async_slow_resolver(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    g_autoptr(GSocketConnectable) slow = loopback_ports(listener_port(lsn), 0);
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) sv = NULL;
    AsyncResult r;
    Ticker t = {0};
    GSource *timer;

    TEST_ADDR_LIST(slow)->delay_ms = 400;
    async_result_init(&r, NULL);
    t.r = &r;
    t.last = g_get_monotonic_time();
    timer = g_timeout_source_new(50);
    g_source_set_callback(timer, ticker_tick, &t, NULL);
    g_source_attach(timer, NULL);
    connect_async_wait(cl, slow, NULL, &r);
    g_source_destroy(timer);
    g_source_unref(timer);

    g_assert_no_error(r.error);
    g_assert_nonnull(TEST_ADDR_LIST(slow)->enumerated_in);
    g_assert_true(TEST_ADDR_LIST(slow)->enumerated_in != g_thread_self());
    g_assert_cmpint(r.elapsed, >=, 350 * 1000);
    g_assert_cmpuint(t.ticks, >=, 3);
    g_assert_cmpint(t.max_gap, <, 350 * 1000);
    sv = accept_one(lsn);
    qio_test_write_all(CH(sv), "ok", 2);
    qio_test_read_str(CH(cl), "ok");
    async_result_clear(&r);
}

/* An explicit context is where both the watches and the callback live. */
static void test_connect_async_given_context(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    g_autoptr(GSocketConnectable) byaddr = listener_address(lsn);
    g_autoptr(GSocketConnectable) byname =
        g_network_address_new("127.0.0.1", listener_port(lsn));
    g_autoptr(GMainContext) ctx = g_main_context_new();
    GSocketConnectable *addrs[] = {byaddr, byname};

    for (size_t i = 0; i < G_N_ELEMENTS(addrs); i++) {
        g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
        g_autoptr(QIOChannelSocket) sv = NULL;
        AsyncResult r;

        async_result_init(&r, ctx);
        qio_channel_socket_connect_async(cl, addrs[i], NULL, async_done, &r,
                                         async_free, ctx);
        /* Nothing happens in the default context. */
        while (g_main_context_iteration(NULL, FALSE)) {
        }
        async_wait(&r);
        g_assert_no_error(r.error);
        sv = accept_one(lsn);
        qio_test_write_all(CH(sv), "ok", 2);
        qio_test_read_str(CH(cl), "ok");
        async_result_clear(&r);
    }
}

typedef struct {
    GMainLoop *loop;
    int done;
    int failed;
} ManyConnects;

static void many_connect_done(QIOTask *task, gpointer data)
{
    ManyConnects *m = data;

    m->failed += qio_task_propagate_error(task, NULL);
    if (++m->done == 20) {
        g_main_loop_quit(m->loop);
    }
}

/* Connects in flight together, sharing one address object, all succeed. */
static void test_connect_async_many(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    g_autoptr(GSocketConnectable) caddr =
        g_network_address_new("localhost", listener_port(lsn));
    QIOChannelSocket *cl[20];
    ManyConnects m = {.loop = g_main_loop_new(NULL, FALSE)};
    guint guard = g_timeout_add_seconds(30, async_too_long, NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(cl); i++) {
        cl[i] = qio_channel_socket_new();
        qio_channel_socket_connect_async(cl[i], caddr, NULL, many_connect_done,
                                         &m, NULL, NULL);
    }
    g_main_loop_run(m.loop);
    g_source_remove(guard);
    g_assert_cmpint(m.done, ==, 20);
    g_assert_cmpint(m.failed, ==, 0);
    for (size_t i = 0; i < G_N_ELEMENTS(cl); i++) {
        g_autoptr(QIOChannelSocket) sv = accept_one(lsn);

        qio_test_write_all(CH(cl[i]), "x", 1);
        g_object_unref(cl[i]);
    }
    g_main_loop_unref(m.loop);
}

/* Dropping the caller's reference mid-connect: the operation holds one. */
static void test_connect_async_unref(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    g_autoptr(GSocketConnectable) caddr =
        g_network_address_new("127.0.0.1", listener_port(lsn));
    QIOChannelSocket *cl = qio_channel_socket_new();
    gpointer weak = cl;
    g_autoptr(QIOChannelSocket) sv = NULL;
    AsyncResult r;

    g_object_add_weak_pointer(G_OBJECT(cl), &weak);
    async_result_init(&r, NULL);
    qio_channel_socket_connect_async(cl, caddr, NULL, async_done, &r,
                                     async_free, NULL);
    g_object_unref(cl);
    g_assert_nonnull(weak);
    async_wait(&r);
    g_assert_no_error(r.error);
    /* Released with the task, after the callback: the peer sees EOF. */
    g_assert_null(weak);
    sv = accept_one(lsn);
    qio_test_read_eof(CH(sv));
    async_result_clear(&r);
}

static gboolean close_channel(gpointer data)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(qio_channel_close(CH(data), &err), ==, 0);
    g_assert_no_error(err);
    return G_SOURCE_REMOVE;
}

/*
 * Closing the channel abandons the connect at once, whether it is still
 * resolving or waiting for a peer that never answers (no timeout set).
 */
static void test_connect_async_close(gconstpointer data)
{
    bool in_flight = GPOINTER_TO_INT(data);
    Unresponsive u;
    g_autoptr(GSocketConnectable) byname = NULL;
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    unsigned fds;
    AsyncResult r;

    unresponsive_open(&u);
    byname = g_network_address_new(
        "127.0.0.1",
        g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(u.addr)));
    fds = qio_test_count_fds();
    async_result_init(&r, NULL);
    if (in_flight) {
        /* The attempt starts on the first iteration; close a bit later. */
        qio_channel_socket_connect_async(cl, u.addr, NULL, async_done, &r,
                                         async_free, NULL);
        g_timeout_add(100, close_channel, cl);
    } else {
        qio_channel_socket_connect_async(cl, byname, NULL, async_done, &r,
                                         async_free, NULL);
        close_channel(cl);
    }
    async_wait(&r);
    g_assert_error(r.error, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
    g_assert_cmpint(r.elapsed, <, 5000 * 1000);
    g_assert_cmpint(qio_channel_socket_get_fd(cl), ==, -1);
    g_assert_cmpuint(qio_test_count_fds(), ==, fds);
    async_result_clear(&r);
    unresponsive_close(&u);
}

static void test_listen_async_tcp(void)
{
    g_autoptr(GSocketConnectable) addr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = qio_channel_socket_new();
    AsyncResult r;

    async_result_init(&r, NULL);
    listen_async_wait(lsn, addr, NULL, &r);
    g_assert_no_error(r.error);
    g_assert_true(qio_channel_has_feature(CH(lsn), QIO_CHANNEL_FEATURE_LISTEN));
    g_assert_false(fd_is_nonblocking(lsn));
    check_accepts(lsn, "127.0.0.1", listener_port(lsn));
    async_result_clear(&r);
}

/* The listener's socket file moves to the caller's channel with it. */
static void test_listen_async_unix(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    QIOChannelSocket *lsn = qio_channel_socket_new();
    AsyncResult r;

    /* A non-blocking preset applies to the socket that arrives. */
    qio_test_set_blocking(CH(lsn), false);
    async_result_init(&r, NULL);
    listen_async_wait(lsn, addr, NULL, &r);
    g_assert_no_error(r.error);
    g_assert_true(fd_is_nonblocking(lsn));
    g_assert_true(qio_channel_socket_is_unix(lsn));
    qio_test_set_blocking(CH(lsn), true);
    check_accepts_at(lsn, addr);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    g_object_unref(lsn);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    async_result_clear(&r);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_listen_async_in_use(void)
{
    g_autoptr(GSocketConnectable) addr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) first = listen_on(addr, NULL);
    guint16 port = listener_port(first);
    g_autoptr(GSocketConnectable) same =
        g_network_address_new("127.0.0.1", port);
    g_autoptr(QIOChannelSocket) second = qio_channel_socket_new();
    g_autofree char *expect =
        g_strdup_printf("listen on 127.0.0.1:%u: Address already in use", port);
    AsyncResult r;

    async_result_init(&r, NULL);
    listen_async_wait(second, same, NULL, &r);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_cmpstr(r.error->message, ==, expect);
    g_assert_cmpint(qio_channel_socket_get_fd(second), ==, -1);
    async_result_clear(&r);
}

/* Closed before the worker is done: its socket and file are dropped. */
static void test_listen_async_close(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    g_autoptr(QIOChannelSocket) lsn = qio_channel_socket_new();
    unsigned fds = qio_test_count_fds();
    AsyncResult r;

    async_result_init(&r, NULL);
    qio_channel_socket_listen_async(lsn, addr, NULL, async_done, &r, async_free,
                                    NULL);
    close_channel(lsn);
    async_wait(&r);
    g_assert_error(r.error, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
    g_assert_cmpint(qio_channel_socket_get_fd(lsn), ==, -1);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(qio_test_count_fds(), ==, fds);
    async_result_clear(&r);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* ---------------------------------------------------------------- setup */

/* What a setup function saw, and what it does. */
typedef struct {
    int calls;
    int family;
    bool bound;     /* the socket had a local port already */
    bool connected; /* ... or a peer */
    int rcvbuf;     /* SO_RCVBUF to set; 0: none */
    int maxseg;     /* TCP_MAXSEG to set; 0: none */
    bool fail;
} SetupProbe;

static gboolean probe_setup(int fd, int family, gpointer data, GError **errp)
{
    SetupProbe *p = data;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    p->calls++;
    p->family = family;
    p->connected = getpeername(fd, (struct sockaddr *)&ss, &len) == 0;
    len = sizeof(ss);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&ss, &len), ==, 0);
    p->bound = family != AF_UNIX && ((struct sockaddr_in *)&ss)->sin_port != 0;
    if (p->fail) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                    "refused by the test");
        return FALSE;
    }
    if (p->rcvbuf) {
        g_assert_cmpint(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &p->rcvbuf,
                                   sizeof(p->rcvbuf)),
                        ==, 0);
    }
    if (p->maxseg) {
        g_assert_cmpint(setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &p->maxseg,
                                   sizeof(p->maxseg)),
                        ==, 0);
    }
    return TRUE;
}

static QIOChannelSocketOptions probe_options(SetupProbe *p)
{
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;

    opts.setup = probe_setup;
    opts.setup_data = p;
    return opts;
}

static int sockopt_int(QIOChannelSocket *sioc, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);

    g_assert_cmpint(
        getsockopt(qio_channel_socket_get_fd(sioc), level, name, &v, &len), ==,
        0);
    return v;
}

/*
 * A listener's setup runs once, before bind; what it sets is on the
 * listening socket, and a TCP client accepted there inherits it.
 */
static void test_setup_listen_tcp(void)
{
    g_autoptr(GSocketConnectable) addr = g_network_address_new("127.0.0.1", 0);
    SetupProbe probe = {.rcvbuf = 32768, .maxseg = 1000};
    QIOChannelSocketOptions opts = probe_options(&probe);
    g_autoptr(QIOChannelSocket) lsn = listen_on(addr, &opts);
    g_autoptr(GSocketConnectable) caddr = listener_address(lsn);
    g_autoptr(QIOChannelSocket) cl = connect_to(caddr, NULL);
    g_autoptr(QIOChannelSocket) sv = accept_one(lsn);

    g_assert_cmpint(probe.calls, ==, 1);
    g_assert_cmpint(probe.family, ==, AF_INET);
    g_assert_false(probe.bound);
    /* Linux doubles SO_RCVBUF for its bookkeeping. */
    g_assert_cmpint(sockopt_int(lsn, SOL_SOCKET, SO_RCVBUF), ==, 65536);
    g_assert_cmpint(sockopt_int(sv, SOL_SOCKET, SO_RCVBUF), ==, 65536);
    /* The MSS offered in the SYN-ACK, less TCP options, is the peer's. */
    g_assert_cmpint(sockopt_int(sv, IPPROTO_TCP, TCP_MAXSEG), <=, 1000);
    g_assert_cmpint(sockopt_int(cl, IPPROTO_TCP, TCP_MAXSEG), <=, 1000);
    qio_test_transfer(CH(cl), CH(sv), NULL);
}

/* A connecting socket's setup runs before bind and connect. */
static void test_setup_connect_sync(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    g_autoptr(GSocketConnectable) caddr = listener_address(lsn);
    g_autoptr(GSocketAddress) local =
        g_inet_socket_address_new_from_string("127.0.0.1", 0);
    SetupProbe probe = {.rcvbuf = 16384};
    QIOChannelSocketOptions opts = probe_options(&probe);
    g_autoptr(QIOChannelSocket) cl = NULL;
    g_autoptr(QIOChannelSocket) sv = NULL;

    opts.bind = local;
    cl = connect_to(caddr, &opts);
    sv = accept_one(lsn);
    g_assert_cmpint(probe.calls, ==, 1);
    g_assert_cmpint(probe.family, ==, AF_INET);
    g_assert_false(probe.bound);
    g_assert_false(probe.connected);
    g_assert_cmpint(sockopt_int(cl, SOL_SOCKET, SO_RCVBUF), ==, 32768);
    qio_test_transfer(CH(sv), CH(cl), NULL);
}

static void test_setup_connect_async(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    g_autoptr(GSocketConnectable) caddr = listener_address(lsn);
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) sv = NULL;
    SetupProbe probe = {.rcvbuf = 16384};
    QIOChannelSocketOptions opts = probe_options(&probe);
    AsyncResult r;

    async_result_init(&r, NULL);
    connect_async_wait(cl, caddr, &opts, &r);
    g_assert_no_error(r.error);
    sv = accept_one(lsn);
    g_assert_cmpint(probe.calls, ==, 1);
    g_assert_false(probe.connected);
    g_assert_cmpint(sockopt_int(cl, SOL_SOCKET, SO_RCVBUF), ==, 32768);
    qio_test_transfer(CH(cl), CH(sv), NULL);
    async_result_clear(&r);
}

/* Unix sockets get the call too, with their family. */
static void test_setup_unix(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    SetupProbe lprobe = {.rcvbuf = 32768};
    SetupProbe cprobe = {.rcvbuf = 16384};
    QIOChannelSocketOptions lopts = probe_options(&lprobe);
    QIOChannelSocketOptions copts = probe_options(&cprobe);
    QIOChannelSocket *lsn = listen_on(addr, &lopts);
    g_autoptr(QIOChannelSocket) cl = connect_to(addr, &copts);
    g_autoptr(QIOChannelSocket) sv = accept_one(lsn);

    g_assert_cmpint(lprobe.calls, ==, 1);
    g_assert_cmpint(lprobe.family, ==, AF_UNIX);
    g_assert_cmpint(cprobe.calls, ==, 1);
    g_assert_cmpint(cprobe.family, ==, AF_UNIX);
    g_assert_cmpint(sockopt_int(lsn, SOL_SOCKET, SO_RCVBUF), ==, 65536);
    g_assert_cmpint(sockopt_int(cl, SOL_SOCKET, SO_RCVBUF), ==, 32768);
    qio_test_transfer(CH(cl), CH(sv), NULL);
    g_object_unref(lsn);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* A setup that fails fails the operation with its own error, prefixed. */
static void test_setup_fails(void)
{
    g_autoptr(GSocketConnectable) laddr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = listen_on(laddr, NULL);
    g_autoptr(GSocketConnectable) caddr = listener_address(lsn);
    g_autofree char *text =
        qio_socket_address_to_string(G_SOCKET_ADDRESS(caddr));
    g_autofree char *want =
        g_strdup_printf("connect to %s: refused by the test", text);
    g_autoptr(QIOChannelSocket) bad = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) cl = qio_channel_socket_new();
    g_autoptr(GError) err = NULL;
    SetupProbe probe = {.fail = true};
    QIOChannelSocketOptions opts = probe_options(&probe);
    unsigned fds = qio_test_count_fds();
    AsyncResult r;

    g_assert_cmpint(qio_channel_socket_listen_sync(bad, laddr, &opts, &err), ==,
                    -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    g_assert_cmpstr(err->message, ==,
                    "listen on 127.0.0.1:0: refused by the test");
    g_assert_cmpint(qio_channel_socket_get_fd(bad), ==, -1);
    g_clear_error(&err);

    g_assert_cmpint(qio_channel_socket_connect_sync(cl, caddr, &opts, &err), ==,
                    -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    g_assert_cmpstr(err->message, ==, want);

    async_result_init(&r, NULL);
    connect_async_wait(cl, caddr, &opts, &r);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    g_assert_cmpstr(r.error->message, ==, want);
    async_result_clear(&r);
    g_assert_cmpint(probe.calls, ==, 3);
    /* No socket was left behind, and nobody connected. */
    g_assert_cmpuint(qio_test_count_fds(), ==, fds);
    g_assert_cmpint(qio_channel_socket_get_fd(cl), ==, -1);
}

/* listen_async runs it in its worker, with the same effect. */
static void test_setup_listen_async(void)
{
    g_autoptr(GSocketConnectable) addr = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = qio_channel_socket_new();
    SetupProbe probe = {.rcvbuf = 32768};
    QIOChannelSocketOptions opts = probe_options(&probe);
    AsyncResult r;

    async_result_init(&r, NULL);
    listen_async_wait(lsn, addr, &opts, &r);
    g_assert_no_error(r.error);
    g_assert_cmpint(probe.calls, ==, 1);
    g_assert_cmpint(sockopt_int(lsn, SOL_SOCKET, SO_RCVBUF), ==, 65536);
    async_result_clear(&r);
}

/* ---------------------------------------------------------------- main */

static void add_kind_test(const char *prefix, SockKind kind, GTestDataFunc fn)
{
    g_autofree char *name = g_strdup_printf("%s/%s", prefix, kind_names[kind]);

    g_test_add_data_func(name, GINT_TO_POINTER(kind), fn);
}

static void add_all_kinds(const char *prefix, GTestDataFunc fn)
{
    for (int k = KIND_TCP4; k <= KIND_ABSTRACT; k++) {
        add_kind_test(prefix, k, fn);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    add_transfer_tests();

    g_test_add_func("/socket/fd-pass/same-fd-thrice", test_fd_pass_same_thrice);
    g_test_add_func("/socket/fd-pass/twenty", test_fd_pass_twenty);
    g_test_add_func("/socket/fd-pass/max", test_fd_pass_max);
    g_test_add_func("/socket/fd-pass/too-many", test_fd_pass_too_many);
    g_test_add_func("/socket/fd-pass/truncated-rlimit",
                    test_fd_pass_truncated_rlimit);
    g_test_add_func("/socket/fd-pass/truncated-creds",
                    test_fd_pass_truncated_creds);
    g_test_add_func("/socket/fd-pass/unwanted-closed",
                    test_fd_pass_unwanted_closed);
    g_test_add_func("/socket/fd-pass/tcp-unsupported",
                    test_fd_pass_tcp_unsupported);

    add_all_kinds("/socket/peek", test_peek);
    add_kind_test("/socket/shutdown/write", KIND_TCP4, test_shutdown_write);
    add_kind_test("/socket/shutdown/write", KIND_UNIX, test_shutdown_write);
    add_kind_test("/socket/shutdown/read", KIND_TCP4, test_shutdown_read);
    add_kind_test("/socket/shutdown/read", KIND_UNIX, test_shutdown_read);
    add_kind_test("/socket/shutdown/both", KIND_TCP4, test_shutdown_both);
    add_kind_test("/socket/shutdown/both", KIND_UNIX, test_shutdown_both);
    g_test_add_func("/socket/read-all-eof", test_read_all_eof);

    g_test_add_func("/socket/connect/refused", test_connect_refused);
    g_test_add_func("/socket/connect/unix-missing", test_connect_unix_missing);
    g_test_add_func("/socket/connect/every-address",
                    test_connect_every_address);
    g_test_add_func("/socket/connect/family-filter",
                    test_connect_family_filter);
    g_test_add_func("/socket/connect/bind", test_connect_bind);
    g_test_add_func("/socket/connect/timeout", test_connect_timeout);
    g_test_add_func("/socket/connect/nonblocking-preset",
                    test_connect_nonblocking_preset);

    g_test_add_func("/socket/listen/dual-stack", test_listen_dual_stack);
    g_test_add_func("/socket/listen/wildcard-v4", test_listen_wildcard_v4);
    g_test_add_func("/socket/listen/wildcard-v6only",
                    test_listen_wildcard_v6only);
    g_test_add_func("/socket/listen/in-use", test_listen_in_use);
    g_test_add_func("/socket/accept/would-block", test_accept_would_block);

    g_test_add_func("/socket/unix/unlink-on-close", test_unix_unlink_on_close);
    g_test_add_func("/socket/unix/keep-on-close", test_unix_keep_on_close);
    g_test_add_func("/socket/unix/unlink-on-finalize",
                    test_unix_unlink_on_finalize);
    g_test_add_func("/socket/unix/unlink-only-own", test_unix_unlink_only_own);
    g_test_add_func("/socket/unix/unlink-early", test_unix_unlink_early);
    g_test_add_func("/socket/unix/unlink-early-not-socket",
                    test_unix_unlink_early_not_socket);

    add_kind_test("/socket/watch", KIND_TCP4, test_watch);
    add_kind_test("/socket/watch", KIND_UNIX, test_watch);
    add_all_kinds("/socket/address/text", test_address_text);
    g_test_add_func("/socket/address/to-string", test_address_to_string);

    g_test_add_func("/socket/new-fd/not-socket", test_new_fd_not_socket);
    g_test_add_func("/socket/new-fd/socketpair", test_new_fd_socketpair);
    g_test_add_func("/socket/new-fd/listener", test_new_fd_listener);
    g_test_add_func("/socket/is-unix", test_is_unix);
    add_all_kinds("/socket/zero-copy/features", test_zero_copy_features);
    g_test_add_func("/socket/zero-copy/refused-unix",
                    test_zero_copy_refused_unix);
    g_test_add_func("/socket/zero-copy/refused-fds",
                    test_zero_copy_refused_fds);
    g_test_add_func("/socket/zero-copy/reconnected-unix",
                    test_zero_copy_reconnected_unix);
    add_zero_copy_transfer_tests();
    g_test_add_data_func("/socket/zero-copy/flush-waits",
                         GINT_TO_POINTER(false), test_zero_copy_flush_waits);
    g_test_add_data_func("/socket/zero-copy/flush-waits-hangup",
                         GINT_TO_POINTER(true), test_zero_copy_flush_waits);
    g_test_add_func("/socket/zero-copy/flush-reset",
                    test_zero_copy_flush_reset);
    g_test_add_func("/socket/zero-copy/close-pending",
                    test_zero_copy_close_pending);
    g_test_add_func("/socket/zero-copy/enobufs-fallback",
                    test_zero_copy_enobufs_fallback);
    g_test_add_func("/socket/cork-delay", test_cork_delay);
    g_test_add_func("/socket/closed", test_closed_channel);

    g_test_add_func("/socket/connect-async/tcp", test_connect_async_tcp);
    g_test_add_func("/socket/connect-async/unix", test_connect_async_unix);
    g_test_add_func("/socket/connect-async/unix-full",
                    test_connect_async_unix_full);
    g_test_add_func("/socket/connect-async/unix-missing",
                    test_connect_async_unix_missing);
    g_test_add_func("/socket/connect-async/refused",
                    test_connect_async_refused);
    g_test_add_func("/socket/connect-async/localhost",
                    test_connect_async_localhost);
    g_test_add_func("/socket/connect-async/fallback",
                    test_connect_async_fallback);
    g_test_add_func("/socket/connect-async/reset-before-check",
                    test_connect_async_reset_before_check);
    g_test_add_func("/socket/connect-async/unresolvable",
                    test_connect_async_unresolvable);
    g_test_add_func("/socket/connect-async/no-address",
                    test_connect_async_no_address);
    g_test_add_func("/socket/connect-async/timeout",
                    test_connect_async_timeout);
    g_test_add_func("/socket/connect-async/loop-not-blocked",
                    test_connect_async_loop_not_blocked);
    g_test_add_func("/socket/connect-async/slow-resolver",
                    test_connect_async_slow_resolver);
    g_test_add_func("/socket/connect-async/given-context",
                    test_connect_async_given_context);
    g_test_add_func("/socket/connect-async/many", test_connect_async_many);
    g_test_add_func("/socket/connect-async/unref", test_connect_async_unref);
    g_test_add_data_func("/socket/connect-async/close-resolving",
                         GINT_TO_POINTER(false), test_connect_async_close);
    g_test_add_data_func("/socket/connect-async/close-in-flight",
                         GINT_TO_POINTER(true), test_connect_async_close);
    g_test_add_func("/socket/listen-async/tcp", test_listen_async_tcp);
    g_test_add_func("/socket/listen-async/unix", test_listen_async_unix);
    g_test_add_func("/socket/listen-async/in-use", test_listen_async_in_use);
    g_test_add_func("/socket/listen-async/close", test_listen_async_close);
    g_test_add_func("/socket/setup/listen-tcp", test_setup_listen_tcp);
    g_test_add_func("/socket/setup/listen-async", test_setup_listen_async);
    g_test_add_func("/socket/setup/connect-sync", test_setup_connect_sync);
    g_test_add_func("/socket/setup/connect-async", test_setup_connect_async);
    g_test_add_func("/socket/setup/unix", test_setup_unix);
    g_test_add_func("/socket/setup/fails", test_setup_fails);

    return g_test_run();
}
