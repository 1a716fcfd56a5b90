/*
 * sink - receive, count and discard bytes (benchmark helper)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   sink tcp [N]      listen on 127.0.0.1, an ephemeral port; print it
 *   sink unix PATH    listen on PATH; print "ready"
 *   sink stdin        read standard input (a pipe)
 *
 * The first line on stdout says the listener is ready (the port number for
 * tcp). One connection is accepted; at end-of-file the sink closes it and
 * prints "BYTES SECONDS", the time running from the first byte received to
 * end-of-file. The bytes go through a pipe to /dev/null with splice(2), so
 * the sink copies nothing; read(2) is the fallback.
 *
 * With N (tcp), N connections are accepted, each drained by a thread of
 * its own, and one line "BYTES SECONDS" is printed when all have ended:
 * the bytes of all of them, and the time from the first byte on any of
 * them to the last end-of-file (aggregate throughput of parallel clients).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
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

static int accept_next(int lfd)
{
    int fd;

    do {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        die("accept");
    }
    return fd;
}

static int accept_one(int lfd)
{
    int fd;

    if (listen(lfd, 16) < 0) {
        die("listen");
    }
    fflush(stdout);
    fd = accept_next(lfd);
    close(lfd);
    return fd;
}

/* A listening TCP socket on 127.0.0.1; its port printed. */
static int bind_tcp(void)
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
    return lfd;
}

static int listen_tcp(void)
{
    return accept_one(bind_tcp());
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
    char *buf = malloc(CHUNK);
    unsigned long long total = 0;

    if (!buf) {
        die("malloc");
    }
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            die("read");
        }
        if (n == 0) {
            free(buf);
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

/* Wait until @fd has a byte (or end-of-file) for us. */
static void wait_first(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    while (poll(&pfd, 1, -1) < 0) {
        if (errno != EINTR) {
            die("poll");
        }
    }
}

/* The connections of "sink tcp N": their sums, and the clock's ends. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long all_bytes;
static double first_byte = -1, last_eof;

static void *drain_one(void *arg)
{
    int fd = (int)(long)arg;
    unsigned long long n;
    double start, end;

    wait_first(fd);
    start = now();
    n = drain(fd);
    end = now();
    close(fd);
    pthread_mutex_lock(&lock);
    all_bytes += n;
    if (first_byte < 0 || start < first_byte) {
        first_byte = start;
    }
    if (end > last_eof) {
        last_eof = end;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* sink tcp N: N connections at once, one thread each; one line at the end. */
static int sink_many(long count)
{
    pthread_t *threads = calloc(count, sizeof(*threads));
    int lfd = bind_tcp();
    long i;

    if (!threads) {
        die("calloc");
    }
    if (listen(lfd, count < 128 ? 128 : (int)count) < 0) {
        die("listen");
    }
    fflush(stdout);
    for (i = 0; i < count; i++) {
        long fd = accept_next(lfd);

        errno = pthread_create(&threads[i], NULL, drain_one, (void *)fd);
        if (errno != 0) {
            die("pthread_create");
        }
    }
    close(lfd);
    for (i = 0; i < count; i++) {
        pthread_join(threads[i], NULL);
    }
    printf("%llu %.6f\n", all_bytes, last_eof - first_byte);
    free(threads);
    return 0;
}

int main(int argc, char **argv)
{
    int fd;
    unsigned long long total;
    double start;

    if (argc == 3 && !strcmp(argv[1], "tcp")) {
        char *end;
        long count = strtol(argv[2], &end, 10);

        if (*end || count < 1 || count > 65536) {
            fprintf(stderr, "sink: bad connection count: %s\n", argv[2]);
            return 2;
        }
        return sink_many(count);
    }
    if (argc == 2 && !strcmp(argv[1], "tcp")) {
        fd = listen_tcp();
    } else if (argc == 3 && !strcmp(argv[1], "unix")) {
        fd = listen_unix(argv[2]);
    } else if (argc == 2 && !strcmp(argv[1], "stdin")) {
        fd = STDIN_FILENO;
    } else {
        fprintf(stderr, "usage: sink tcp [N] | unix PATH | stdin\n");
        return 2;
    }
    /* The clock starts when the first byte (or end-of-file) is there. */
    wait_first(fd);
    start = now();
    total = drain(fd);
    printf("%llu %.6f\n", total, now() - start);
    close(fd);
    return 0;
}
