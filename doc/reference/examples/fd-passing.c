/*
 * fd-passing: send a pipe's read end over a unix socketpair, then read
 * the pipe through the descriptor that arrived.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *     cc fd-passing.c $(pkg-config --cflags --libs qio-1.0) -o fd-passing
 *     ./fd-passing
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qio/qio.h>

static int fail(GError *err)
{
    fprintf(stderr, "fd-passing: %s\n", err ? err->message : "?");
    return 1;
}

int main(void)
{
    static const char text[] = "through the passed pipe\n";
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) sender = NULL;
    g_autoptr(QIOChannelSocket) receiver = NULL;
    g_autoptr(QIOChannelFile) pipe_in = NULL;
    g_autofree int *fds = NULL;
    size_t nfds = 0;
    int sv[2], pipefd[2];
    char tag = 'P', got;
    char buf[sizeof(text) - 1];
    struct iovec iov;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
        pipe(pipefd) < 0) {
        perror("fd-passing");
        return 1;
    }
    /* Each channel owns its socket from here on. */
    sender = qio_channel_socket_new_fd(sv[0], &err);
    receiver = sender ? qio_channel_socket_new_fd(sv[1], &err) : NULL;
    if (!receiver) {
        return fail(err);
    }
    if (!qio_channel_has_feature(QIO_CHANNEL(sender),
                                 QIO_CHANNEL_FEATURE_FD_PASS)) {
        fprintf(stderr, "fd-passing: no descriptor passing here\n");
        return 1;
    }

    /* One byte of data carries the descriptor (SCM_RIGHTS). */
    iov.iov_base = &tag;
    iov.iov_len = 1;
    if (qio_channel_writev_full(QIO_CHANNEL(sender), &iov, 1, &pipefd[0], 1, 0,
                                &err) != 1) {
        return fail(err);
    }
    /* The caller keeps what it sent: our copy of the read end can go. */
    close(pipefd[0]);

    iov.iov_base = &got;
    if (qio_channel_readv_full(QIO_CHANNEL(receiver), &iov, 1, &fds, &nfds, 0,
                               &err) != 1 ||
        nfds != 1) {
        return fail(err);
    }
    /* What arrived is ours: a file channel takes it over and closes it. */
    pipe_in = qio_channel_file_new_fd(fds[0]);

    if (write(pipefd[1], text, strlen(text)) != (ssize_t)strlen(text)) {
        perror("fd-passing: write");
        return 1;
    }
    close(pipefd[1]);
    if (qio_channel_read_all(QIO_CHANNEL(pipe_in), buf, sizeof(buf), &err) <
        0) {
        return fail(err);
    }
    printf("%c: %.*s", got, (int)sizeof(buf), buf);
    return 0;
}
