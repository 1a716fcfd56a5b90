/*
 * c10k-load - hold ten thousand TCP connections in one process, and the
 * echo backend behind the relay (benchmark helper for c10k.sh)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   c10k-load echo STATUS
 *   c10k-load clients PORT N ACTIVE SECONDS [SIZE [WINDOW]]
 *
 * Both raise their soft descriptor limit to the hard one first.
 *
 * echo listens on 127.0.0.1, an ephemeral port, prints the port, and
 * sends back whatever each client sends, for any number of clients, all
 * in one epoll loop. Whenever the number of connections it holds has
 * changed, it writes that number on one line to the file STATUS
 * (rewritten in place), so that a script can wait for all of them.
 *
 * clients opens N connections to 127.0.0.1:PORT, at most WINDOW
 * (default 256) connecting at once, and prints "connected N SECONDS".
 * Nothing is sent on them yet: they are idle. On a line "active" on
 * standard input, the first ACTIVE connections each send SIZE bytes
 * (default 64), wait until the same bytes have come back, and do it again,
 * for SECONDS; then it prints "active ROUNDTRIPS SECONDS BAD" (BAD: echoes
 * that differed, connections that ended or failed). On a line "close" it
 * checks that every connection is still open with nothing to read (an
 * idle one the relay dropped would read end-of-file), closes them all
 * and prints "closed LOST" (LOST: connections found ended). At
 * end-of-file on standard input it closes everything and exits.
 * Exit status 0, or 1 with a line on stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE (64 * 1024)
#define EVENTS 256

static void die(const char *what)
{
    fprintf(stderr, "c10k-load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Ten thousand sockets need more than the usual 1024. */
static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static long number(const char *text, const char *what, long min, long max)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(text, &end, 10);
    if (errno || *end || n < min || n > max) {
        fprintf(stderr, "c10k-load: bad %s: %s\n", what, text);
        exit(1);
    }
    return n;
}

static void epoll_add(int ep, int fd, uint32_t events, uint32_t data)
{
    struct epoll_event ev = {.events = events, .data.u32 = data};

    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        die("epoll_ctl");
    }
}

/* ------------------------------------------------------------ echo */

#define LISTENER UINT32_MAX

static int listen_tcp(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &len) < 0 ||
        listen(lfd, 4096) < 0) {
        die("listen");
    }
    printf("%u\n", ntohs(sin.sin_port));
    fflush(stdout);
    return lfd;
}

/* Write all of @buf to a non-blocking socket, waiting if it is full. */
static bool write_all(int fd, const char *buf, size_t len)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};

    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EAGAIN) {
            poll(&p, 1, 1000);
            continue;
        }
        if (n < 0) {
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

static int accept_all(int ep, int lfd)
{
    int n = 0;
    int fd;

    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        epoll_add(ep, fd, EPOLLIN, (uint32_t)fd);
        n++;
    }
    if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR) {
        die("accept");
    }
    return n;
}

/* Echo what @fd has; -1 when it has ended (and is closed). */
static int echo_once(int fd)
{
    static char buf[MAX_SIZE];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n < 0 && errno == EAGAIN) {
        return 0;
    }
    if (n <= 0 || !write_all(fd, buf, (size_t)n)) {
        close(fd);
        return -1;
    }
    return 0;
}

static void write_status(int sfd, long count)
{
    char line[32];
    int len = snprintf(line, sizeof(line), "%10ld\n", count);

    if (pwrite(sfd, line, (size_t)len, 0) != len) {
        die("write the status file");
    }
}

static void __attribute__((noreturn)) run_echo(const char *status)
{
    struct epoll_event ev[EVENTS];
    int sfd = open(status, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int lfd = listen_tcp();
    long count = 0;

    if (sfd < 0 || ep < 0) {
        die(sfd < 0 ? status : "epoll_create1");
    }
    write_status(sfd, 0);
    epoll_add(ep, lfd, EPOLLIN, LISTENER);
    for (;;) {
        int n = epoll_wait(ep, ev, EVENTS, -1);
        long before = count;

        if (n < 0 && errno != EINTR) {
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            count += ev[i].data.u32 == LISTENER
                         ? accept_all(ep, lfd)
                         : echo_once((int)ev[i].data.u32);
        }
        if (count != before) {
            write_status(sfd, count);
        }
    }
}

/* ------------------------------------------------------------ clients */

typedef struct {
    int fd;
    size_t got;      /* bytes of the echo read so far */
    unsigned rounds; /* round trips done */
} Conn;

static Conn *conns;
static long nconns;
static char expect[MAX_SIZE];

static int connect_start(int ep, int port, long i)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0) {
        die("socket");
    }
    conns[i].fd = fd;
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
        return 0;
    }
    if (errno != EINPROGRESS) {
        die("connect");
    }
    epoll_add(ep, fd, EPOLLOUT, (uint32_t)i);
    return 1;
}

static void connect_done(int ep, long i)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(conns[i].fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
        errno = err;
        fprintf(stderr, "c10k-load: connection %ld of %ld: ", i + 1, nconns);
        die("connect");
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, conns[i].fd, NULL);
}

static void connect_all(int ep, int port, long window)
{
    struct epoll_event ev[EVENTS];
    long next = 0, inflight = 0, done = 0;

    while (done < nconns) {
        while (inflight < window && next < nconns) {
            int pending = connect_start(ep, port, next++);

            inflight += pending;
            done += !pending;
        }
        if (inflight == 0) {
            continue;
        }
        int n = epoll_wait(ep, ev, EVENTS, 10000);

        if (n <= 0) {
            die(n == 0 ? "no connection completed in 10 s" : "epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            connect_done(ep, ev[i].data.u32);
        }
        inflight -= n;
        done += n;
    }
}

/* The message of connection @i's round @r: one letter, repeated. */
static void message(char *buf, size_t size, long i, unsigned r)
{
    memset(buf, 'a' + (int)((i + r) % 26), size);
}

static bool send_round(long i, size_t size)
{
    char buf[MAX_SIZE];
    ssize_t n;

    message(buf, size, i, conns[i].rounds);
    n = write(conns[i].fd, buf, size);
    conns[i].got = 0;
    return n == (ssize_t)size;
}

/* Read the echo of connection @i: 1 when a round is complete, -1 bad. */
static int read_echo(long i, size_t size)
{
    char buf[MAX_SIZE];
    Conn *c = &conns[i];
    ssize_t n = read(c->fd, buf, size - c->got);

    if (n < 0 && errno == EAGAIN) {
        return 0;
    }
    if (n <= 0) {
        return -1;
    }
    message(expect, (size_t)n, i, c->rounds);
    if (memcmp(buf, expect, (size_t)n) != 0) {
        return -1;
    }
    c->got += (size_t)n;
    return c->got == size;
}

/* A connection that went wrong is closed and left out from then on. */
static void drop(int ep, long i, long *bad)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, conns[i].fd, NULL);
    close(conns[i].fd);
    conns[i].fd = -1;
    (*bad)++;
}

static void echo_event(int ep, long i, size_t size, bool more, long *rounds,
                       long *bad, long *waiting)
{
    int r = read_echo(i, size);

    if (r < 0) {
        drop(ep, i, bad);
        (*waiting)--;
    } else if (r > 0) {
        conns[i].rounds++;
        (*rounds)++;
        if (!more) {
            (*waiting)--;
        } else if (!send_round(i, size)) {
            drop(ep, i, bad);
            (*waiting)--;
        }
    }
}

static void run_active(int ep, long active, double seconds, size_t size)
{
    struct epoll_event ev[EVENTS];
    long rounds = 0, bad = 0, waiting = 0;
    double start = now(), end = start + seconds, stop;

    for (long i = 0; i < active; i++) {
        epoll_add(ep, conns[i].fd, EPOLLIN, (uint32_t)i);
        waiting++;
        if (!send_round(i, size)) {
            drop(ep, i, &bad);
            waiting--;
        }
    }
    /* After the time is up, the answers still under way are awaited. */
    while (waiting > 0 && now() < end + 10) {
        int n = epoll_wait(ep, ev, EVENTS, 1000);
        bool more = now() < end;

        for (int k = 0; k < n; k++) {
            echo_event(ep, ev[k].data.u32, size, more, &rounds, &bad, &waiting);
        }
    }
    stop = now();
    for (long i = 0; i < active; i++) {
        if (conns[i].fd >= 0) {
            epoll_ctl(ep, EPOLL_CTL_DEL, conns[i].fd, NULL);
        }
    }
    printf("active %ld %.3f %ld\n", rounds, stop - start, bad + waiting);
    fflush(stdout);
}

/* Close every connection; the number that had ended before. */
static long close_all(void)
{
    long lost = 0;

    for (long i = 0; i < nconns; i++) {
        char c;

        if (conns[i].fd < 0) {
            continue;
        }
        if (recv(conns[i].fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 ||
            errno != EAGAIN) {
            lost++;
        }
        close(conns[i].fd);
        conns[i].fd = -1;
    }
    return lost;
}

static int run_clients(int argc, char **argv)
{
    int port = (int)number(argv[2], "PORT", 1, 65535);
    long active, window = 256;
    double seconds, start;
    size_t size = 64;
    char line[64];
    int ep = epoll_create1(EPOLL_CLOEXEC);

    nconns = number(argv[3], "N", 1, 1000000);
    active = number(argv[4], "ACTIVE", 0, nconns);
    seconds = (double)number(argv[5], "SECONDS", 0, 3600);
    if (argc > 6) {
        size = (size_t)number(argv[6], "SIZE", 1, MAX_SIZE);
    }
    if (argc > 7) {
        window = number(argv[7], "WINDOW", 1, 100000);
    }
    conns = calloc((size_t)nconns, sizeof(*conns));
    if (!conns || ep < 0) {
        die("set-up");
    }
    start = now();
    connect_all(ep, port, window);
    printf("connected %ld %.3f\n", nconns, now() - start);
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        if (strcmp(line, "active\n") == 0) {
            run_active(ep, active, seconds, size);
        } else if (strcmp(line, "close\n") == 0) {
            printf("closed %ld\n", close_all());
            fflush(stdout);
        }
    }
    close_all();
    return 0;
}

int main(int argc, char **argv)
{
    raise_nofile();
    if (argc == 3 && strcmp(argv[1], "echo") == 0) {
        run_echo(argv[2]);
    }
    if (argc >= 6 && argc <= 8 && strcmp(argv[1], "clients") == 0) {
        return run_clients(argc, argv);
    }
    fprintf(stderr, "usage: c10k-load echo STATUS\n"
                    "       c10k-load clients PORT N ACTIVE SECONDS "
                    "[SIZE [WINDOW]]\n");
    return 1;
}
