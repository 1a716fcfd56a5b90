/*
 * sink - receive, count and discard bytes (benchmark helper)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   sink tcp          listen on 127.0.0.1, an ephemeral port; print it
 *   sink unix PATH    listen on PATH; print "ready"
 *   sink stdin        read standard input (a pipe)
 *
 * The first line on stdout says the listener is ready (the port number for
 * tcp). One connection is accepted; at end-of-file the sink closes it and
 * prints "BYTES SECONDS", the time running from the first byte received to
 * end-of-file. The bytes go through a pipe to /dev/null with splice(2), so
 * the sink copies nothing; read(2) is the fallback.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static void die(const char *what)
{
    fprintf(stderr, "sink: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int accept_one(int lfd)
{
    int fd;

    if (listen(lfd, 16) < 0) {
        die("listen");
    }
    fflush(stdout);
    do {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        die("accept");
    }
    close(lfd);
    return fd;
}

static int listen_tcp(void)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t len = sizeof(sin);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &len) < 0) {
        die("bind");
    }
    printf("%u\n", ntohs(sin.sin_port));
    return accept_one(lfd);
}

static int listen_unix(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        die(path);
    }
    strcpy(sun.sun_path, path);
    unlink(path);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        die("bind");
    }
    printf("ready\n");
    fd = accept_one(lfd);
    unlink(path);
    return fd;
}

/* Discard everything with read(2); the fallback. */
static unsigned long long drain_read(int fd)
{
    static char buf[CHUNK];
    unsigned long long total = 0;

    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            die("read");
        }
        if (n == 0) {
            return total;
        }
        total += n;
    }
}

/* Move @len bytes from @in to @null, splicing; -1 when refused. */
static int splice_all(int in, int null, size_t len)
{
    while (len > 0) {
        ssize_t n = splice(in, NULL, null, NULL, len, SPLICE_F_MOVE);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        len -= n;
    }
    return 0;
}

/*
 * Discard everything with splice(2): straight to /dev/null from a pipe,
 * through a pipe of our own from a socket.
 */
static unsigned long long drain(int fd)
{
    unsigned long long total = 0;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    struct stat st;
    int p[2] = { -1, -1 };
    int is_pipe = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);

    if (null < 0) {
        die("/dev/null");
    }
    if (is_pipe) {
        fcntl(fd, F_SETPIPE_SZ, CHUNK);
    } else if (pipe2(p, O_CLOEXEC) == 0) {
        fcntl(p[1], F_SETPIPE_SZ, CHUNK);
    } else {
        return drain_read(fd);
    }
    for (;;) {
        ssize_t n = is_pipe ? splice(fd, NULL, null, NULL, CHUNK,
                                     SPLICE_F_MOVE)
                            : splice(fd, NULL, p[1], NULL, CHUNK,
                                     SPLICE_F_MOVE);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EINVAL && total == 0) {
            return drain_read(fd);
        }
        if (n < 0) {
            die("splice");
        }
        if (n == 0) {
            return total;
        }
        if (!is_pipe && splice_all(p[0], null, n) < 0) {
            die("splice to /dev/null");
        }
        total += n;
    }
}

int main(int argc, char **argv)
{
    struct pollfd pfd = { .events = POLLIN };
    unsigned long long total;
    double start;

    if (argc == 2 && !strcmp(argv[1], "tcp")) {
        pfd.fd = listen_tcp();
    } else if (argc == 3 && !strcmp(argv[1], "unix")) {
        pfd.fd = listen_unix(argv[2]);
    } else if (argc == 2 && !strcmp(argv[1], "stdin")) {
        pfd.fd = STDIN_FILENO;
    } else {
        fprintf(stderr, "usage: sink tcp | unix PATH | stdin\n");
        return 2;
    }
    /* The clock starts when the first byte (or end-of-file) is there. */
    while (poll(&pfd, 1, -1) < 0) {
        if (errno != EINTR) {
            die("poll");
        }
    }
    start = now();
    total = drain(pfd.fd);
    printf("%llu %.6f\n", total, now() - start);
    close(pfd.fd);
    return 0;
}
