/*
 * qioc unit tests - the pump, over socketpairs, pipes and files
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each test gives the pump two channels whose far ends it holds itself
 * ("peers"), moves data through, and looks at what the peers see: the
 * bytes (by checksum), end-of-file where shut= says, descriptors that
 * arrive and work, and the pump's status.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "../../src/pump.h"
#include "test-util.h"

/* ---------------------------------------------------------------- setup */

typedef struct {
    int peer[2]; /* the far end of each side */
    QiocPumpSide side[2];
    QiocPumpConfig cfg;
    QiocPump *pump;
    gboolean done;
    int finished[2]; /* calls of each side's finish */
} Fixture;

static gboolean side_finished(QIOChannel *ioc, void *data)
{
    int *count = data;

    (*count)++;
    return TRUE;
}

static QIOChannel *socket_channel(int fd)
{
    g_autoptr(GError) err = NULL;
    QIOChannelSocket *sioc = qio_channel_socket_new_fd(fd, &err);

    g_assert_no_error(err);
    return QIO_CHANNEL(sioc);
}

/* Side @i is a unix stream socketpair: the pump gets one end. */
static void fixture_socketpair(Fixture *fx, int i)
{
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    fx->peer[i] = sv[1];
    fx->side[i].ioc = socket_channel(sv[0]);
}

static void fixture_init(Fixture *fx)
{
    memset(fx, 0, sizeof(*fx));
    fx->peer[0] = fx->peer[1] = -1;
    for (int i = 0; i < 2; i++) {
        fx->side[i].index = i + 1;
        fx->side[i].name = i ? "SIDE2" : "SIDE1";
        fx->side[i].finish = side_finished;
        fx->side[i].finish_data = &fx->finished[i];
        fx->cfg.flow[i].enabled = TRUE;
        fx->cfg.flow[i].shut = QIOC_SHUT_WRITE;
    }
    fx->cfg.buffer_size = 64 * 1024;
    fx->cfg.close_timeout = -1;
    fx->cfg.fds = QIOC_FDS_AUTO;
}

static void on_done(QiocPump *pump, void *opaque)
{
    Fixture *fx = opaque;

    fx->done = TRUE;
}

static void fixture_start(Fixture *fx)
{
    fx->pump = qioc_pump_start(fx->side, &fx->cfg, on_done, fx);
}

/* Run the loop until the pump is done (the test's timeout bounds it). */
static void fixture_run(Fixture *fx)
{
    while (!fx->done) {
        g_main_context_iteration(NULL, TRUE);
    }
}

/* Dispatch whatever is ready now, without waiting for more. */
static void fixture_settle(void)
{
    while (g_main_context_iteration(NULL, FALSE)) {
        ;
    }
}

static void fixture_finish(Fixture *fx)
{
    qioc_pump_free(fx->pump);
    for (int i = 0; i < 2; i++) {
        if (fx->peer[i] >= 0) {
            close(fx->peer[i]);
        }
    }
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        g_assert_cmpint(n, >, 0);
        p += n;
        len -= n;
    }
}

/* Everything @fd gives until end-of-file. */
static GByteArray *read_to_eof(int fd)
{
    GByteArray *data = g_byte_array_new();
    char buf[65536];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        g_byte_array_append(data, (guint8 *)buf, n);
    }
    g_assert_cmpint(n, ==, 0);
    return data;
}

/*
 * Everything @fd gives until end-of-file, running the pump's loop while
 * it waits: the pump may not have written it all yet.
 */
static GByteArray *pump_read_to_eof(Fixture *fx, int fd)
{
    GByteArray *data = g_byte_array_new();
    char buf[65536];

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), fx->done ? 0 : MSG_DONTWAIT);

        if (n > 0) {
            g_byte_array_append(data, (guint8 *)buf, n);
        } else if (n == 0) {
            return data;
        } else {
            g_assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            g_main_context_iteration(NULL, TRUE);
        }
    }
}

/* The diagnostics the pump wrote (to a file, see main). */
static char *log_path;

static char *log_text(void)
{
    char *text = NULL;

    g_assert_true(g_file_get_contents(log_path, &text, NULL, NULL));
    return text;
}

/* ---------------------------------------------------------------- threads */

typedef struct {
    int fd;
    size_t len;
    char *buf; /* what to write */
    char *sha; /* of what was written or read */
    GByteArray *got;
} PeerJob;

static gpointer writer_thread(gpointer data)
{
    PeerJob *job = data;

    write_all(job->fd, job->buf, job->len);
    shutdown(job->fd, SHUT_WR);
    return NULL;
}

static gpointer reader_thread(gpointer data)
{
    PeerJob *job = data;

    job->got = read_to_eof(job->fd);
    job->sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, job->got->data,
                                           job->got->len);
    return NULL;
}

/* ---------------------------------------------------------------- tests */

/*
 * Both directions at once, several MiB each, with peers that write and
 * read concurrently: every byte arrives, in order, and each side's
 * finish runs once.
 */
static void test_both_ways(void)
{
    Fixture fx;
    PeerJob w[2], r[2];
    GThread *t[4];

    fixture_init(&fx);
    fixture_socketpair(&fx, 0);
    fixture_socketpair(&fx, 1);
    fixture_start(&fx);
    for (int i = 0; i < 2; i++) {
        w[i] = (PeerJob){.fd = fx.peer[i], .len = (3 + i) << 20};
        w[i].buf = g_malloc(w[i].len);
        qio_test_fill_random(w[i].buf, w[i].len);
        w[i].sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
                                               (guchar *)w[i].buf, w[i].len);
        r[i] = (PeerJob){.fd = fx.peer[!i]};
    }
    t[0] = g_thread_new("w0", writer_thread, &w[0]);
    t[1] = g_thread_new("r0", reader_thread, &r[0]);
    t[2] = g_thread_new("w1", writer_thread, &w[1]);
    t[3] = g_thread_new("r1", reader_thread, &r[1]);
    fixture_run(&fx);
    for (int i = 0; i < 4; i++) {
        g_thread_join(t[i]);
    }
    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint(r[i].got->len, ==, w[i].len);
        g_assert_cmpstr(r[i].sha, ==, w[i].sha);
        g_assert_cmpuint(qioc_pump_bytes(fx.pump, i), ==, w[i].len);
        g_assert_cmpint(fx.finished[i], ==, 1);
        g_free(w[i].buf);
        g_free(w[i].sha);
        g_free(r[i].sha);
        g_byte_array_unref(r[i].got);
    }
    g_assert_cmpint(qioc_pump_status(fx.pump), ==, QIOC_EXIT_OK);
    fixture_finish(&fx);
}

/*
 * Half-close, from side @from: its peer's end-of-file reaches the other
 * peer as end-of-file (shut=write), while the other direction still
 * carries an answer; the pump ends when that one ends too.
 */
static void half_close(int from)
{
    Fixture fx;
    g_autoptr(GByteArray) got = NULL;
    g_autoptr(GByteArray) answer = NULL;

    fixture_init(&fx);
    fixture_socketpair(&fx, 0);
    fixture_socketpair(&fx, 1);
    fixture_start(&fx);
    write_all(fx.peer[from], "request", 7);
    shutdown(fx.peer[from], SHUT_WR);
    /* The other peer reads the request to its end, then answers. */
    got = pump_read_to_eof(&fx, fx.peer[!from]);
    g_assert_cmpuint(got->len, ==, 7);
    g_assert_cmpint(memcmp(got->data, "request", 7), ==, 0);
    g_assert_false(fx.done);
    write_all(fx.peer[!from], "answer", 6);
    shutdown(fx.peer[!from], SHUT_WR);
    fixture_run(&fx);
    answer = read_to_eof(fx.peer[from]);
    g_assert_cmpuint(answer->len, ==, 6);
    g_assert_cmpint(memcmp(answer->data, "answer", 6), ==, 0);
    g_assert_cmpint(qioc_pump_status(fx.pump), ==, QIOC_EXIT_OK);
    fixture_finish(&fx);
}

static void test_half_close_1to2(void)
{
    half_close(0);
}

static void test_half_close_2to1(void)
{
    half_close(1);
}

/* readbytes= ends the direction after that many bytes, shutting the
 * destination, though the source has more. */
static void test_readbytes(void)
{
    Fixture fx;
    g_autoptr(GByteArray) got = NULL;

    fixture_init(&fx);
    fixture_socketpair(&fx, 0);
    fixture_socketpair(&fx, 1);
    fx.cfg.flow[0].readbytes = 10;
    fixture_start(&fx);
    write_all(fx.peer[0], "0123456789abcdef", 16);
    got = pump_read_to_eof(&fx, fx.peer[1]);
    g_assert_cmpuint(got->len, ==, 10);
    g_assert_cmpint(memcmp(got->data, "0123456789", 10), ==, 0);
    shutdown(fx.peer[1], SHUT_WR);
    fixture_run(&fx);
    g_assert_cmpuint(qioc_pump_bytes(fx.pump, 0), ==, 10);
    fixture_finish(&fx);
}

/*
 * ignoreeof: at the end of a file the direction waits and reads again,
 * so what is appended later still goes through (like tail -f).
 */
static void test_ignoreeof(void)
{
    Fixture fx;
    g_autofree char *dir = g_dir_make_tmp("qioc-pump-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "log", NULL);
    int wfd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    char buf[16] = "";
    size_t have = 0;

    g_assert_cmpint(wfd, >=, 0);
    g_assert_cmpint(rfd, >=, 0);
    fixture_init(&fx);
    fx.side[0].ioc = QIO_CHANNEL(qio_channel_file_new_fd(rfd));
    fixture_socketpair(&fx, 1);
    fx.cfg.flow[0].ignoreeof = TRUE;
    fx.cfg.flow[1].enabled = FALSE;
    write_all(wfd, "first ", 6);
    fixture_start(&fx);
    /* The first part arrives, end-of-file is met, then more is written. */
    while (have < 6) {
        ssize_t n =
            recv(fx.peer[1], buf + have, sizeof(buf) - have, MSG_DONTWAIT);

        if (n > 0) {
            have += n;
        }
        g_main_context_iteration(NULL, n <= 0);
    }
    write_all(wfd, "second", 6);
    while (have < 12) {
        ssize_t n =
            recv(fx.peer[1], buf + have, sizeof(buf) - have, MSG_DONTWAIT);

        if (n > 0) {
            have += n;
        }
        g_main_context_iteration(NULL, n <= 0);
    }
    g_assert_cmpint(memcmp(buf, "first second", 12), ==, 0);
    g_assert_false(fx.done);
    qioc_pump_stop(fx.pump, FALSE);
    fixture_run(&fx);
    close(wfd);
    unlink(path);
    rmdir(dir);
    fixture_finish(&fx);
}

/* What a peer sees of its socket now: 1 data, 0 end-of-file, -1 nothing. */
static int peek_state(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);

    if (n < 0) {
        g_assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        return -1;
    }
    return n > 0 ? 1 : 0;
}

/*
 * shut=none: the end of the data going into side 2 leaves it open: its
 * peer sees no end-of-file and can still talk back through the pump.
 */
static void test_shut_none(void)
{
    Fixture fx;
    g_autoptr(GByteArray) back = NULL;
    char buf[8];

    fixture_init(&fx);
    fixture_socketpair(&fx, 0);
    fixture_socketpair(&fx, 1);
    fx.cfg.flow[0].shut = QIOC_SHUT_NONE;
    fixture_start(&fx);
    write_all(fx.peer[0], "data", 4);
    shutdown(fx.peer[0], SHUT_WR);
    fixture_settle();
    g_assert_cmpint(recv(fx.peer[1], buf, 4, MSG_DONTWAIT), ==, 4);
    fixture_settle();
    g_assert_cmpint(peek_state(fx.peer[1]), ==, -1);
    write_all(fx.peer[1], "back", 4);
    shutdown(fx.peer[1], SHUT_WR);
    fixture_run(&fx);
    back = read_to_eof(fx.peer[0]);
    g_assert_cmpuint(back->len, ==, 4);
    g_assert_cmpint(qioc_pump_status(fx.pump), ==, QIOC_EXIT_OK);
    fixture_finish(&fx);
}

/*
 * shut=close and shut=both: the end of the data going into side 2 ends
 * it both ways (closed, or shut both ways), and the direction reading
 * from it ends with it: the pump is done though side 2's peer never
 * ended its data, and that peer sees all the data, then end-of-file.
 */
static void shut_ends_both(QiocShut how)
{
    Fixture fx;
    g_autoptr(GByteArray) got = NULL;

    fixture_init(&fx);
    fixture_socketpair(&fx, 0);
    fixture_socketpair(&fx, 1);
    fx.cfg.flow[0].shut = how;
    fixture_start(&fx);
    write_all(fx.peer[0], "bye", 3);
    shutdown(fx.peer[0], SHUT_WR);
    fixture_run(&fx);
    got = read_to_eof(fx.peer[1]);
    g_assert_cmpuint(got->len, ==, 3);
    g_assert_cmpint(qioc_pump_status(fx.pump), ==, QIOC_EXIT_OK);
    fixture_finish(&fx);
}

static void test_shut_close(void)
{
    shut_ends_both(QIOC_SHUT_CLOSE);
}

static void test_shut_both(void)
{
    shut_ends_both(QIOC_SHUT_BOTH);
}

/*
 * A write error on one side (its peer is gone) fails the transfer: the
 * status says so and both directions end.
 */
static void test_write_error(void)
{
    Fixture fx;
    g_autofree char *chunk = g_malloc0(1 << 20);

    fixture_init(&fx);
    fixture_socketpair(&fx, 0);
    fixture_socketpair(&fx, 1);
    fixture_start(&fx);
    close(fx.peer[1]);
    fx.peer[1] = -1;
    /* Until the pump stops reading, or fails: a MiB at a time. */
    while (!fx.done) {
        ssize_t n =
            send(fx.peer[0], chunk, 1 << 20, MSG_DONTWAIT | MSG_NOSIGNAL);

        g_assert_true(n > 0 || errno == EAGAIN || errno == EPIPE ||
                      errno == ECONNRESET);
        g_main_context_iteration(NULL, n <= 0);
    }
    g_assert_cmpint(qioc_pump_status(fx.pump), ==, QIOC_EXIT_FAILURE);
    g_assert_cmpint(fx.finished[0] + fx.finished[1], ==, 2);
    fixture_finish(&fx);
}

/* A descriptor sent by one peer arrives at the other one and works. */
static int recv_fd(int sock, char *byte)
{
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {byte, 1};
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = ctl,
        .msg_controllen = sizeof(ctl),
    };
    struct cmsghdr *c;
    int fd = -1;

    g_assert_cmpint(recvmsg(sock, &msg, MSG_CMSG_CLOEXEC), ==, 1);
    c = CMSG_FIRSTHDR(&msg);
    if (c && c->cmsg_type == SCM_RIGHTS) {
        memcpy(&fd, CMSG_DATA(c), sizeof(fd));
    }
    return fd;
}

static void send_fd(int sock, int fd)
{
    char ctl[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {"F", 1};
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = ctl,
        .msg_controllen = sizeof(ctl),
    };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(fd));
    g_assert_cmpint(sendmsg(sock, &msg, 0), ==, 1);
}

/* Writes through @fd reach @pipe_rd: the descriptor works. */
static void assert_fd_works(int fd, int pipe_rd)
{
    char buf[5] = "";

    write_all(fd, "works", 5);
    g_assert_cmpint(read(pipe_rd, buf, 5), ==, 5);
    g_assert_cmpint(memcmp(buf, "works", 5), ==, 0);
}

static void test_fds_forwarded(void)
{
    Fixture fx;
    int p[2];
    char byte = 0;
    int got;

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    fixture_init(&fx);
    fixture_socketpair(&fx, 0);
    fixture_socketpair(&fx, 1);
    fixture_start(&fx);
    send_fd(fx.peer[0], p[1]);
    close(p[1]);
    while (peek_state(fx.peer[1]) < 0) {
        g_main_context_iteration(NULL, TRUE);
    }
    got = recv_fd(fx.peer[1], &byte);
    g_assert_cmpint(byte, ==, 'F');
    g_assert_cmpint(got, >=, 0);
    assert_fd_works(got, p[0]);
    close(got);
    shutdown(fx.peer[0], SHUT_WR);
    shutdown(fx.peer[1], SHUT_WR);
    fixture_run(&fx);
    close(p[0]);
    fixture_finish(&fx);
}

/* send-fds=: the listed descriptors go with the first data written. */
static void test_send_fds(void)
{
    Fixture fx;
    g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
    int p[2];
    char byte = 0;
    int got;

    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    g_array_append_val(fds, p[1]);
    fixture_init(&fx);
    fixture_socketpair(&fx, 0);
    fixture_socketpair(&fx, 1);
    fx.cfg.flow[0].send_fds = fds;
    fixture_start(&fx);
    /* The pump keeps its own copy of the list. */
    g_array_set_size(fds, 0);
    write_all(fx.peer[0], "x", 1);
    while (peek_state(fx.peer[1]) < 0) {
        g_main_context_iteration(NULL, TRUE);
    }
    got = recv_fd(fx.peer[1], &byte);
    g_assert_cmpint(byte, ==, 'x');
    g_assert_cmpint(got, >=, 0);
    assert_fd_works(got, p[0]);
    close(got);
    close(p[1]);
    shutdown(fx.peer[0], SHUT_WR);
    shutdown(fx.peer[1], SHUT_WR);
    fixture_run(&fx);
    close(p[0]);
    fixture_finish(&fx);
}

/*
 * A pipe cannot carry descriptors: one that arrives for it is closed
 * (counted, warned), and the data still goes through.
 */
static void test_fds_dropped_for_pipe(void)
{
    Fixture fx;
    int out[2], p[2];
    g_autoptr(GByteArray) got = NULL;
    g_autofree char *text = NULL;

    g_assert_cmpint(pipe2(out, O_CLOEXEC), ==, 0);
    g_assert_cmpint(pipe2(p, O_CLOEXEC), ==, 0);
    fixture_init(&fx);
    fixture_socketpair(&fx, 0);
    fx.side[1].ioc = QIO_CHANNEL(qio_channel_file_new_fd(out[1]));
    fx.cfg.flow[1].enabled = FALSE;
    fixture_start(&fx);
    send_fd(fx.peer[0], p[1]);
    close(p[1]);
    shutdown(fx.peer[0], SHUT_WR);
    fixture_run(&fx);
    qioc_pump_free(fx.pump);
    fx.pump = NULL;
    text = log_text();
    g_assert_nonnull(strstr(text, "warning: closed 1 descriptors that "
                                  "address 2 (SIDE2) cannot carry"));
    got = read_to_eof(out[0]);
    g_assert_cmpuint(got->len, ==, 1);
    /* The only write end left was the dropped copy: it is closed. */
    g_assert_cmpint(read(p[0], &(char){0}, 1), ==, 0);
    close(out[0]);
    close(p[0]);
    fixture_finish(&fx);
}

int main(int argc, char **argv)
{
    g_autofree char *dir = NULL;
    QiocLogConfig log = {.name = "qioc"};
    int status;

    g_test_init(&argc, &argv, NULL);
    signal(SIGPIPE, SIG_IGN);
    dir = g_dir_make_tmp("qioc-pump-log-XXXXXX", NULL);
    g_assert_nonnull(dir);
    log_path = g_build_filename(dir, "log", NULL);
    log.file = log_path;
    g_assert_true(qioc_log_setup(&log, NULL));
    qioc_log_set_level(2);
    g_test_add_func("/pump/both-ways", test_both_ways);
    g_test_add_func("/pump/half-close/1-to-2", test_half_close_1to2);
    g_test_add_func("/pump/half-close/2-to-1", test_half_close_2to1);
    g_test_add_func("/pump/readbytes", test_readbytes);
    g_test_add_func("/pump/ignoreeof", test_ignoreeof);
    g_test_add_func("/pump/shut/none", test_shut_none);
    g_test_add_func("/pump/shut/close", test_shut_close);
    g_test_add_func("/pump/shut/both", test_shut_both);
    g_test_add_func("/pump/write-error", test_write_error);
    g_test_add_func("/pump/fds/forwarded", test_fds_forwarded);
    g_test_add_func("/pump/fds/send-fds", test_send_fds);
    g_test_add_func("/pump/fds/dropped-for-pipe", test_fds_dropped_for_pipe);
    status = g_test_run();
    unlink(log_path);
    rmdir(dir);
    g_free(log_path);
    return status;
}
