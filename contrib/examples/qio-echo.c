/*
 * qio-echo: a program that uses libqio as an installed library.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Two socket channels over a socketpair: one sends a line, the other
 * echoes it back, the first checks what returns and the program prints
 * "ok". Build it against an installed libqio:
 *
 *     cc qio-echo.c $(pkg-config --cflags --libs qio-1.0) -o qio-echo
 *
 * tests/cli/library.bats builds and runs it against a staged install.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <qio/qio.h>

static int fail(const char *what, GError *err)
{
    fprintf(stderr, "qio-echo: %s: %s\n", what, err ? err->message : "?");
    g_clear_error(&err);
    return 1;
}

/* Read a message of @len bytes from @from and send it back. */
static int echo(QIOChannel *from, size_t len, GError **errp)
{
    g_autofree char *buf = g_malloc(len);

    if (qio_channel_read_all(from, buf, len, errp) < 0) {
        return -1;
    }
    return qio_channel_write_all(from, buf, len, errp);
}

int main(void)
{
    static const char msg[] = "hello through libqio\n";
    char back[sizeof(msg)] = "";
    GError *err = NULL;
    int fds[2];

    /* The library loaded at run time is at least as new as these headers. */
    const char *why = qio_check_version(QIO_MAJOR_VERSION, QIO_MINOR_VERSION,
                                        QIO_MICRO_VERSION);
    if (why) {
        fprintf(stderr, "qio-echo: %s\n", why);
        return 1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        perror("qio-echo: socketpair");
        return 1;
    }
    g_autoptr(QIOChannelSocket) a = qio_channel_socket_new_fd(fds[0], &err);
    if (!a) {
        return fail("channel a", err);
    }
    g_autoptr(QIOChannelSocket) b = qio_channel_socket_new_fd(fds[1], &err);
    if (!b) {
        return fail("channel b", err);
    }
    if (qio_channel_write_all(QIO_CHANNEL(a), msg, sizeof(msg), &err) < 0 ||
        echo(QIO_CHANNEL(b), sizeof(msg), &err) < 0 ||
        qio_channel_read_all(QIO_CHANNEL(a), back, sizeof(back), &err) < 0) {
        return fail("echo", err);
    }
    if (memcmp(msg, back, sizeof(msg)) != 0) {
        fprintf(stderr, "qio-echo: the echo differs\n");
        return 1;
    }
    puts("ok");
    return 0;
}
