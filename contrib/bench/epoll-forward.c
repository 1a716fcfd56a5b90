/*
 * epoll-forward - a minimal single-threaded TCP forwarder: the "http"
 * benchmark's reference for what one thread can do
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   epoll-forward LPORT HOST PORT
 *
 * Accepts every client on 127.0.0.1:LPORT, connects to HOST:PORT (an IPv4
 * literal) without blocking, and relays both ways with one 16 KiB buffer
 * per direction, all from one edge-triggered epoll loop: a direction
 * reads only when its buffer is empty, writes until the kernel says
 * EAGAIN (then the destination's EPOLLOUT resumes it), and half-closes
 * its destination after end-of-file. An error on either socket ends the
 * connection. No options, no logging, no timeouts; it runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 16384

typedef struct Conn Conn;
typedef struct {
    int fd;
    Conn *conn;
} End;
typedef struct {
    char buf[BUF];
    size_t off, len;                  /* pending bytes: buf[off, len) */
    int eof, shut;                    /* source ended; destination shut */
} Dir;
struct Conn {
    End end[2];                       /* 0: the client, 1: the upstream */
    Dir dir[2];                       /* dir[i]: from end[i] to end[!i] */
    int dead;                         /* closed; freed after this round */
    Conn *next;                       /* in the round's list of dead ones */
};

static End listener;                  /* the epoll data of the listener */

static void die(const char *what)
{
    fprintf(stderr, "epoll-forward: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Move what can be moved from end[i] to end[!i]: 0, or -1 on an error. */
static int pump(Conn *c, int i)
{
    Dir *d = &c->dir[i];
    ssize_t n;

    for (;;) {
        if (d->off < d->len) {
            n = write(c->end[!i].fd, d->buf + d->off, d->len - d->off);
            if (n < 0) {
                return errno == EAGAIN ? 0 : -1;
            }
            d->off += n;
            continue;
        }
        if (d->eof) {
            if (!d->shut && shutdown(c->end[!i].fd, SHUT_WR) < 0) {
                return -1;
            }
            d->shut = 1;
            return 0;
        }
        n = read(c->end[i].fd, d->buf, BUF);
        if (n < 0) {
            return errno == EAGAIN ? 0 : -1;
        }
        d->off = 0;
        d->len = n;
        d->eof = n == 0;
    }
}

static void accept_all(int ep, int lfd, const struct sockaddr_in *up)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET };
    int cfd, ufd;
    Conn *c;

    while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (ufd < 0 || (connect(ufd, (const struct sockaddr *)up,
                                sizeof(*up)) < 0 && errno != EINPROGRESS)) {
            perror("epoll-forward: connect");
            close(cfd);
            if (ufd >= 0) {
                close(ufd);
            }
            continue;
        }
        if (!(c = malloc(sizeof(*c)))) {      /* buffers left unzeroed */
            die("malloc");
        }
        c->dead = 0;
        for (int i = 0; i < 2; i++) {
            c->dir[i].off = c->dir[i].len = 0;
            c->dir[i].eof = c->dir[i].shut = 0;
            c->end[i] = (End){ i ? ufd : cfd, c };
            ev.data.ptr = &c->end[i];
            if (epoll_ctl(ep, EPOLL_CTL_ADD, c->end[i].fd, &ev) < 0) {
                die("epoll_ctl");
            }
        }
    }
    if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        perror("epoll-forward: accept");
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in la = { .sin_family = AF_INET }, up = la;
    struct epoll_event ev = { EPOLLIN, { .ptr = &listener } }, evs[256];
    int lfd, ep, one = 1;

    if (argc != 4 || inet_pton(AF_INET, argv[2], &up.sin_addr) != 1) {
        fprintf(stderr, "usage: epoll-forward LPORT IPV4-HOST PORT\n");
        return 2;
    }
    la.sin_port = htons(atoi(argv[1]));
    la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    up.sin_port = htons(atoi(argv[3]));
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one,
                              sizeof(one)) < 0 ||
        bind(lfd, (struct sockaddr *)&la, sizeof(la)) < 0 ||
        listen(lfd, 128) < 0) {           /* qioc's default backlog */
        die("listen");
    }
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        die("epoll");
    }
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        Conn *graveyard = NULL, *c;

        if (n < 0 && errno != EINTR) {
            die("epoll_wait");
        }
        for (int k = 0; k < n; k++) {
            End *e = evs[k].data.ptr;

            if (e == &listener) {
                accept_all(ep, lfd, &up);
                continue;
            }
            /* Either end's event may let both directions move. */
            c = e->conn;
            if (c->dead) {
                continue;
            }
            if (pump(c, 0) < 0 || pump(c, 1) < 0 ||
                (c->dir[0].shut && c->dir[1].shut)) {
                close(c->end[0].fd);          /* also leaves the epoll set */
                close(c->end[1].fd);
                c->dead = 1;                  /* the other end's event may */
                c->next = graveyard;          /* still come in this round */
                graveyard = c;
            }
        }
        while ((c = graveyard)) {
            graveyard = c->next;
            free(c);
        }
    }
}
