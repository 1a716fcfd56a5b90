/*
 * coroutine: a coroutine reads a non-blocking socket with
 * qio_channel_yield() while the main loop writes the other end a word at
 * a time.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *     cc coroutine.c $(pkg-config --cflags --libs qio-1.0) -o coroutine
 *     ./coroutine
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <qio/qio.h>

typedef struct {
    QIOChannel *reader;
    GString *got;
    GMainLoop *loop;
    int status;
} Reader;

static const char *const words[] = {"one ", "word ", "at ", "a ", "time\n"};

/* The coroutine: read until end-of-file, yielding while nothing is there. */
static void coroutine_fn read_all(void *opaque)
{
    Reader *r = opaque;
    g_autoptr(GError) err = NULL;
    char buf[64];
    ssize_t n;

    for (;;) {
        n = qio_channel_read(r->reader, buf, sizeof(buf), &err);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            /* Back to the main loop; re-entered when the socket is readable. */
            qio_channel_yield(r->reader, G_IO_IN);
            continue;
        }
        if (n <= 0) {
            break;
        }
        g_string_append_len(r->got, buf, n);
    }
    if (n < 0) {
        fprintf(stderr, "coroutine: %s\n", err->message);
        r->status = 1;
    }
    g_main_loop_quit(r->loop);
    /* Returning finishes the coroutine, which is then freed. */
}

/* A timeout in the main loop: one word per call, then end-of-file. */
static gboolean write_word(gpointer data)
{
    QIOChannel *writer = data;
    static size_t next;

    if (next < G_N_ELEMENTS(words)) {
        const char *w = words[next++];

        qio_channel_write_all(writer, w, strlen(w), NULL);
        return G_SOURCE_CONTINUE;
    }
    qio_channel_shutdown(writer, QIO_CHANNEL_SHUTDOWN_WRITE, NULL);
    return G_SOURCE_REMOVE;
}

int main(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    Reader r = {0};
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("coroutine");
        return 1;
    }
    a = qio_channel_socket_new_fd(sv[0], &err);
    b = a ? qio_channel_socket_new_fd(sv[1], &err) : NULL;
    if (!b) {
        fprintf(stderr, "coroutine: %s\n", err->message);
        return 1;
    }
    /* A coroutine yields instead of blocking: the channel must not block. */
    if (qio_channel_set_blocking(QIO_CHANNEL(a), false, &err) < 0) {
        fprintf(stderr, "coroutine: %s\n", err->message);
        return 1;
    }

    r.reader = QIO_CHANNEL(a);
    r.got = g_string_new(NULL);
    r.loop = g_main_loop_new(NULL, FALSE);
    g_timeout_add(10, write_word, b);

    /* Runs read_all() until its first yield, then comes back here. */
    qio_coroutine_enter(qio_coroutine_create(read_all, &r));
    /* The main loop re-enters the coroutine whenever @a is readable. */
    g_main_loop_run(r.loop);

    fputs(r.got->str, stdout);
    g_string_free(r.got, TRUE);
    g_main_loop_unref(r.loop);
    return r.status;
}
