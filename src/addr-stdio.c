/*
 * qioc - STDIO, STDIN, STDOUT and STDERR
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <unistd.h>

#include "addr.h"

/* Which standard streams each kind reads and writes. */
static const struct {
    int readfd;
    int writefd;
} std_streams[] = {
    [QIOC_ADDR_STDIO] = {STDIN_FILENO, STDOUT_FILENO},
    [QIOC_ADDR_STDIN] = {STDIN_FILENO, -1},
    [QIOC_ADDR_STDOUT] = {-1, STDOUT_FILENO},
    [QIOC_ADDR_STDERR] = {-1, STDERR_FILENO},
};

static QIOChannel *stdio_open(QiocEndpoint *ep, QiocAccess *access,
                              QIOChannel *peer, GError **errp)
{
    QiocAddrKind kind = ep->desc->kind;
    int readfd = std_streams[kind].readfd;
    int rfd = (*access & QIOC_ACCESS_READ) ? readfd : -1;
    int wfd = (*access & QIOC_ACCESS_WRITE) ? std_streams[kind].writefd : -1;

    if (rfd < 0 && wfd < 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                    "%s cannot be %s", ep->addr->type->name,
                    readfd >= 0 ? "written" : "read");
        return NULL;
    }
    /* The standard streams stay where they are; the channel owns them. */
    *access =
        (rfd >= 0 ? QIOC_ACCESS_READ : 0) | (wfd >= 0 ? QIOC_ACCESS_WRITE : 0);
    return QIO_CHANNEL(qio_channel_file_new_fd_pair(rfd, wfd));
}

static const QiocAddrType stdio_types[] = {
    {"STDIO", QIOC_NAMES("-"), QIOC_ADDR_STDIO, AF_UNSPEC, 0, 0,
     QIOC_T_READ | QIOC_T_TTY, "",
     "standard input for reading, standard output for writing"},
};

static const QiocAddrType stdin_types[] = {
    {"STDIN", NULL, QIOC_ADDR_STDIN, AF_UNSPEC, 0, 0, QIOC_T_READ | QIOC_T_TTY,
     "", "standard input, read only"},
};

static const QiocAddrType stdout_types[] = {
    {"STDOUT", NULL, QIOC_ADDR_STDOUT, AF_UNSPEC, 0, 0,
     QIOC_T_FDPASS | QIOC_T_TTY, "", "standard output, write only"},
};

static const QiocAddrType stderr_types[] = {
    {"STDERR", NULL, QIOC_ADDR_STDERR, AF_UNSPEC, 0, 0,
     QIOC_T_FDPASS | QIOC_T_TTY, "", "standard error, write only"},
};

const QiocAddrDesc qioc_addr_stdio = {.kind = QIOC_ADDR_STDIO,
                                      QIOC_ADDR_TYPES(stdio_types),
                                      .flags = QIOC_ADDR_INHERITED,
                                      .open = stdio_open};

const QiocAddrDesc qioc_addr_stdin = {.kind = QIOC_ADDR_STDIN,
                                      QIOC_ADDR_TYPES(stdin_types),
                                      .flags = QIOC_ADDR_INHERITED,
                                      .open = stdio_open};

const QiocAddrDesc qioc_addr_stdout = {.kind = QIOC_ADDR_STDOUT,
                                       QIOC_ADDR_TYPES(stdout_types),
                                       .flags = QIOC_ADDR_INHERITED,
                                       .open = stdio_open};

const QiocAddrDesc qioc_addr_stderr = {.kind = QIOC_ADDR_STDERR,
                                       QIOC_ADDR_TYPES(stderr_types),
                                       .flags = QIOC_ADDR_INHERITED,
                                       .open = stdio_open};
