/*
 * splice-relay - the least a relay can do: the benchmarks' "limit"
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   splice-relay tcp LPORT HOST PORT    accept one TCP client, connect on
 *   splice-relay unix LPATH CPATH       accept one unix client, connect on
 *   splice-relay pipe                   standard input to standard output
 *
 * One blocking thread per direction moves the bytes with splice(2)
 * through a 1 MiB pipe (straight from pipe to pipe for "pipe"), then
 * half-closes the destination at end-of-file. No event loop, no option,
 * no fallback: what qioc's fast path would cost if it had nothing else to
 * do. It serves one client and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CHUNK (1 << 20)

typedef struct {
    int in, out;
} Flow;

static void die(const char *what)
{
    fprintf(stderr, "splice-relay: %s: %s\n", what, strerror(errno));
    exit(1);
}

static ssize_t splice_retry(int in, int out, size_t len)
{
    ssize_t n;

    do {
        n = splice(in, NULL, out, NULL, len, SPLICE_F_MOVE | SPLICE_F_MORE);
    } while (n < 0 && errno == EINTR);
    return n;
}

static void *flow_run(void *opaque)
{
    Flow *f = opaque;
    int p[2];

    if (pipe2(p, O_CLOEXEC) < 0) {
        die("pipe");
    }
    fcntl(p[1], F_SETPIPE_SZ, CHUNK);
    for (;;) {
        ssize_t n = splice_retry(f->in, p[1], CHUNK);

        if (n < 0 && errno == ECONNRESET) {
            break;
        }
        if (n < 0) {
            die("splice in");
        }
        if (n == 0) {
            break;
        }
        while (n > 0) {
            ssize_t m = splice_retry(p[0], f->out, n);

            if (m <= 0) {
                die("splice out");
            }
            n -= m;
        }
    }
    shutdown(f->out, SHUT_WR);
    close(p[0]);
    close(p[1]);
    return NULL;
}

static int listen_accept(int family, const struct sockaddr *sa, socklen_t len)
{
    int one = 1;
    int lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int fd;

    if (lfd < 0) {
        die("socket");
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, sa, len) < 0 || listen(lfd, 16) < 0) {
        die("listen");
    }
    do {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        die("accept");
    }
    close(lfd);
    return fd;
}

static int connect_to(int family, const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || connect(fd, sa, len) < 0) {
        die("connect");
    }
    return fd;
}

static void tcp_pair(char **argv, int *client, int *server)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    struct addrinfo hints = { .ai_family = AF_INET,
                              .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai;
    int rc;

    sin.sin_port = htons(atoi(argv[2]));
    *client = listen_accept(AF_INET, (struct sockaddr *)&sin, sizeof(sin));
    rc = getaddrinfo(argv[3], argv[4], &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "splice-relay: %s\n", gai_strerror(rc));
        exit(1);
    }
    *server = connect_to(AF_INET, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
}

static void unix_pair(char **argv, int *client, int *server)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[2]);
    unlink(argv[2]);
    *client = listen_accept(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun));
    unlink(argv[2]);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[3]);
    *server = connect_to(AF_UNIX, (struct sockaddr *)&sun, sizeof(sun));
}

static int relay_pipe(void)
{
    fcntl(STDIN_FILENO, F_SETPIPE_SZ, CHUNK);
    fcntl(STDOUT_FILENO, F_SETPIPE_SZ, CHUNK);
    for (;;) {
        ssize_t n = splice_retry(STDIN_FILENO, STDOUT_FILENO, CHUNK);

        if (n < 0) {
            die("splice");
        }
        if (n == 0) {
            return 0;
        }
    }
}

int main(int argc, char **argv)
{
    pthread_t thread;
    Flow up, down;
    int client, server;

    if (argc == 2 && !strcmp(argv[1], "pipe")) {
        return relay_pipe();
    } else if (argc == 5 && !strcmp(argv[1], "tcp")) {
        tcp_pair(argv, &client, &server);
    } else if (argc == 4 && !strcmp(argv[1], "unix")) {
        unix_pair(argv, &client, &server);
    } else {
        fprintf(stderr, "usage: splice-relay tcp LPORT HOST PORT | "
                        "unix LPATH CPATH | pipe\n");
        return 2;
    }
    up = (Flow){ client, server };
    down = (Flow){ server, client };
    if (pthread_create(&thread, NULL, flow_run, &down) != 0) {
        die("pthread_create");
    }
    flow_run(&up);
    pthread_join(thread, NULL);
    close(client);
    close(server);
    return 0;
}
