/*
 * socks-load - new connections per second through a SOCKS5 server, and
 * the target behind it (benchmark helper)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   socks-load target
 *   socks-load load HOST PORT [--socks5 PHOST:PPORT] [--clients N]
 *                             [--seconds S] [--request BYTES]
 *                             [--response BYTES] [--timeout S] [--drain S]
 *
 * target listens on 127.0.0.1, an ephemeral port, and prints the port.
 * Each connection brings one request, a line whose first word is the
 * number of bytes wanted back; the target sends that many bytes and
 * closes the connection, as a web server does with "Connection: close".
 * One thread, one edge-triggered epoll loop. On SIGTERM or SIGINT it
 * prints "served COUNT" and exits.
 *
 * load keeps N clients (default 50) busy for S seconds (default 5). A
 * client makes a new TCP connection to the SOCKS5 server PHOST:PPORT,
 * greets it without authentication (05 01 00; the server must answer
 * 05 00), asks it to CONNECT to HOST:PORT (05 01 00 01 ADDR PORT; the
 * reply must say 00, succeeded), sends a request of --request bytes
 * (default 64) for --response bytes (default 1024), reads the answer to
 * end-of-file, checks its length, closes, and starts over. Without
 * --socks5 the clients connect to HOST:PORT straight and send the request
 * at once: the ceiling of the setup. Addresses are IPv4 literals. Each
 * step waits for the previous answer: nothing is pipelined, since a
 * server may read the greeting with one read and drop what follows.
 *
 * Before the clock starts one connection goes through alone (its connect
 * retried while refused, for 10 s): a server that cannot do the exchange
 * fails there, with the reason, rather than as a count of errors. After S
 * seconds no connection is started; those under way get --drain seconds
 * (default 2) to finish. A connection still unfinished after --timeout
 * seconds (default 5) is given up. A client waits 10 ms after an error
 * before its next connection. The one line printed at the end is
 *
 *   rate=R completed=N late=N errors=N connect=N socks=N short=N io=N
 *   timeout=N aborted=N seconds=S
 *
 * (on one line). rate: connections completed per second of the run;
 * completed: those that ended within the S seconds; late: those that
 * ended in the drain; errors: the sum of connect (the connection to the
 * server refused or failed), socks (a handshake refused, malformed or cut
 * short), short (an answer of the wrong length), io (a reset or another
 * socket error) and timeout; aborted: those still unfinished after the
 * drain. The first error's reason goes to stderr. The exit status is 0
 * when the check passed and connections completed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE 4096   /* the longest request */
#define CHUNK 65536 /* read and write size of both ends */
#define REPLY 262   /* the longest CONNECT reply: a 255-byte name */

static void die(const char *what)
{
    fprintf(stderr, "socks-load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int listen_loopback(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0 ||
        listen(fd, 4096) < 0) {
        die("listen");
    }
    printf("%u\n", ntohs(sin.sin_port));
    fflush(stdout);
    return fd;
}

/* ------------------------------------------------------------ target */

typedef struct {
    int fd;
    char line[32];           /* the start of the request */
    size_t len;              /* bytes of it in line */
    int answering;           /* the request's newline has come */
    unsigned long long left; /* bytes still to send */
} Conn;

static volatile sig_atomic_t stop_target;
static unsigned long long served; /* requests answered in full */
static char zeros[CHUNK];         /* what the target sends */

static void on_signal(int sig)
{
    (void)sig;
    stop_target = 1;
}

/* Move a connection on as far as its socket lets it (edge-triggered);
 * close and free it when it is done. */
static void serve(Conn *c)
{
    char buf[LINE];
    ssize_t n;

    while (!c->answering) {
        char *nl;
        size_t keep;

        n = read(c->fd, buf, sizeof(buf));
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        if (n <= 0) {
            goto done; /* end-of-file or an error before a whole request */
        }
        nl = memchr(buf, '\n', n);
        keep = sizeof(c->line) - 1 - c->len;
        keep = (size_t)n < keep ? (size_t)n : keep;
        memcpy(c->line + c->len, buf, keep);
        c->len += keep;
        c->line[c->len] = '\0';
        if (nl) {
            c->left = strtoull(c->line, NULL, 10);
            c->answering = 1;
        }
    }
    while (c->left > 0) {
        n = write(c->fd, zeros, c->left < CHUNK ? c->left : CHUNK);
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        if (n < 0) {
            goto done;
        }
        c->left -= n;
    }
    served++;
done:
    close(c->fd); /* also leaves the epoll set */
    free(c);
}

static int target(void)
{
    static Conn listener; /* the epoll data of the listening socket */
    struct epoll_event ev = {EPOLLIN, {.ptr = &listener}}, evs[256];
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */
    int lfd = listen_loopback(), ep = epoll_create1(EPOLL_CLOEXEC);

    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        die("epoll");
    }
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    while (!stop_target) {
        int n = epoll_wait(ep, evs, 256, 100);

        if (n < 0 && errno != EINTR) {
            die("epoll_wait");
        }
        for (int k = 0; k < n; k++) {
            Conn *c = evs[k].data.ptr;
            int fd;

            if (c != &listener) {
                serve(c);
                continue;
            }
            while ((fd = accept4(lfd, NULL, NULL,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                struct epoll_event cev = {.events =
                                              EPOLLIN | EPOLLOUT | EPOLLET};

                if (!(c = calloc(1, sizeof(*c)))) {
                    die("calloc");
                }
                c->fd = fd;
                cev.data.ptr = c;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0) {
                    die("epoll_ctl");
                }
            }
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED &&
                errno != EMFILE && errno != ENFILE) {
                die("accept");
            }
        }
    }
    printf("served %llu\n", served);
    return 0;
}

/* ------------------------------------------------------------ load */

/* What a client waits for. */
enum {
    IDLE,       /* the time of its next connection */
    CONNECTING, /* its TCP connection */
    GREETING,   /* the answer to its greeting */
    CONNECT,    /* the reply to its CONNECT */
    ANSWER,     /* the target's answer, to end-of-file */
};
enum { OK, E_CONNECT, E_SOCKS, E_SHORT, E_IO, E_TIMEOUT, E_ABORTED, KINDS };

typedef struct {
    int fd; /* -1 when idle */
    int state;
    double deadline; /* given up then */
    double start_at; /* idle: the next connection then */
    const char *out; /* pending output: out[off, len) */
    size_t off, len;
    unsigned char in[REPLY]; /* the handshake's answers */
    size_t in_len;
    unsigned long long got; /* bytes of the target's answer */
} Client;

static struct sockaddr_in server; /* the SOCKS5 server, or the target */
static int socks;                 /* through a SOCKS5 server */
static unsigned char hello[] = {5, 1, 0};
static unsigned char connect_req[10] = {5, 1, 0, 1};
static char request[LINE];
static size_t request_len = 64;
static unsigned long long response_len = 1024;
static double timeout = 5;
static int ep;
static int stopping; /* the S seconds are over */
static int checking; /* the check connection */
static unsigned long long counts[KINDS], late;
static char why[256]; /* the first error's reason */

static void fail_why(Client *c, int kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void finish(Client *c, int kind);

static void fail_why(Client *c, int kind, const char *fmt, ...)
{
    va_list ap;

    if (!why[0]) {
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
    }
    finish(c, kind);
}

static void start(Client *c)
{
    struct epoll_event ev = {EPOLLIN | EPOLLOUT | EPOLLET, {.ptr = c}};

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        die("socket");
    }
    c->state = CONNECTING;
    c->deadline = now() + timeout;
    c->off = c->len = c->in_len = 0;
    c->got = 0;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        die("epoll_ctl");
    }
    if (connect(c->fd, (struct sockaddr *)&server, sizeof(server)) < 0 &&
        errno != EINPROGRESS) {
        fail_why(c, E_CONNECT, "connect: %s", strerror(errno));
    }
}

/* A connection is over: count it, and start the next one unless the run
 * is over (at once after a success, 10 ms after an error). */
static void finish(Client *c, int kind)
{
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->state = IDLE;
    if (kind == OK && stopping) {
        late++;
    } else {
        counts[kind]++;
    }
    c->start_at = now() + (kind == OK ? 0 : 0.01);
    if (kind == OK && !stopping && !checking) {
        start(c);
    }
}

static void send_next(Client *c, int state, const void *buf, size_t len)
{
    c->state = state;
    c->out = buf;
    c->off = 0;
    c->len = len;
    c->in_len = 0;
}

/* The length of the CONNECT reply in c->in, 0 while unknown, -1 when it
 * is malformed. */
static ssize_t reply_len(const Client *c)
{
    if (c->in_len < 5) {
        return 0;
    }
    switch (c->in[3]) {
    case 1:
        return 4 + 4 + 2;
    case 3:
        return 4 + 1 + c->in[4] + 2;
    case 4:
        return 4 + 16 + 2;
    }
    return -1;
}

/* Move a connection on as far as its socket lets it (edge-triggered: each
 * read and write goes on until EAGAIN or the end of a step). */
static void step(Client *c, uint32_t events)
{
    static char buf[CHUNK];
    ssize_t n, need;

    if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);

        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            return;
        }
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || !(events & EPOLLOUT)) {
            fail_why(c, E_CONNECT, "connect: %s",
                     strerror(err ? err : ECONNREFUSED));
            return;
        }
        if (socks) {
            send_next(c, GREETING, hello, sizeof(hello));
        } else {
            send_next(c, ANSWER, request, request_len);
        }
    }
    for (;;) {
        while (c->off < c->len) {
            n = send(c->fd, c->out + c->off, c->len - c->off, MSG_NOSIGNAL);
            if (n < 0 && errno == EAGAIN) {
                return;
            }
            if (n < 0) {
                fail_why(c, E_IO, "send: %s", strerror(errno));
                return;
            }
            c->off += n;
        }
        if (c->state == ANSWER) {
            n = read(c->fd, buf, sizeof(buf));
        } else {
            n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
        }
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        if (n < 0) {
            fail_why(c, E_IO, "read: %s", strerror(errno));
            return;
        }
        if (c->state == ANSWER) {
            if (n > 0) {
                c->got += n;
                continue;
            }
            if (c->got != response_len) {
                fail_why(c, E_SHORT, "an answer of %llu bytes, not %llu",
                         c->got, response_len);
                return;
            }
            finish(c, OK);
            return;
        }
        if (n == 0) {
            fail_why(
                c, E_SOCKS, "end-of-file after %zu bytes of the %s", c->in_len,
                c->state == GREETING ? "greeting's answer" : "CONNECT reply");
            return;
        }
        c->in_len += n;
        if (c->state == GREETING) {
            if (c->in_len < 2) {
                continue;
            }
            if (c->in_len > 2 || c->in[0] != 5 || c->in[1] != 0) {
                fail_why(c, E_SOCKS,
                         "the greeting's answer is %02x %02x (%zu bytes), "
                         "not 05 00",
                         c->in[0], c->in[1], c->in_len);
                return;
            }
            send_next(c, CONNECT, connect_req, sizeof(connect_req));
            continue;
        }
        /* CONNECT: the CONNECT request is sent; its reply comes. */
        if (c->in_len >= 2 && (c->in[0] != 5 || c->in[1] != 0)) {
            fail_why(c, E_SOCKS, "the CONNECT reply is %02x %02x, not 05 00",
                     c->in[0], c->in[1]);
            return;
        }
        need = reply_len(c);
        if (need < 0) {
            fail_why(c, E_SOCKS, "the CONNECT reply has address type %u",
                     c->in[3]);
            return;
        }
        if (need == 0 || c->in_len < (size_t)need) {
            continue;
        }
        /* Bytes past the reply would be the answer, come early. */
        c->got = c->in_len - need;
        send_next(c, ANSWER, request, request_len);
    }
}

static double arg_num(const char *opt, const char *val, double min, double max)
{
    char *end;
    double v;

    if (!val) {
        fprintf(stderr, "socks-load: %s needs a value\n", opt);
        exit(2);
    }
    v = strtod(val, &end);
    if (*end || v < min || v > max) {
        fprintf(stderr, "socks-load: bad %s: %s\n", opt, val);
        exit(2);
    }
    return v;
}

/* HOST:PORT, an IPv4 literal and a port, into @sin. */
static int parse_addr(const char *host, const char *port,
                      struct sockaddr_in *sin)
{
    char *end;
    unsigned long p = strtoul(port, &end, 10);

    sin->sin_family = AF_INET;
    sin->sin_port = htons(p);
    return inet_pton(AF_INET, host, &sin->sin_addr) == 1 && !*end && p > 0 &&
           p < 65536;
}

/* Run the clients until none is busy or @until; 0 when none is left. */
static int run(Client *cs, unsigned n_clients, double until)
{
    struct epoll_event evs[256];
    double last_tick = 0;

    for (;;) {
        double t = now();
        int busy = 0, n, idle = 0;

        if (t - last_tick >= 0.01 || t >= until) {
            last_tick = t;
            for (unsigned i = 0; i < n_clients; i++) {
                Client *c = &cs[i];

                if (c->state != IDLE && t > c->deadline) {
                    fail_why(c, E_TIMEOUT, "no end after %.1f s", timeout);
                }
                if (c->state == IDLE && !stopping && !checking &&
                    t >= c->start_at) {
                    start(c);
                }
            }
        }
        for (unsigned i = 0; i < n_clients; i++) {
            busy += cs[i].state != IDLE;
            idle += cs[i].state == IDLE;
        }
        if (!busy && (stopping || checking)) {
            return 0;
        }
        if (t >= until) {
            return busy;
        }
        n = epoll_wait(ep, evs, 256, idle ? 10 : 100);
        if (n < 0 && errno != EINTR) {
            die("epoll_wait");
        }
        for (int k = 0; k < n; k++) {
            step(evs[k].data.ptr, evs[k].events);
        }
    }
}

/* One connection alone, retried while refused for 10 s: does the server
 * do the exchange? Exits with the reason when it does not. */
static void check(void)
{
    double deadline = now() + 10;
    Client c = {.fd = -1};

    checking = 1;
    for (;;) {
        why[0] = '\0';
        memset(counts, 0, sizeof(counts));
        start(&c);
        run(&c, 1, now() + timeout + 1);
        if (c.state != IDLE) {
            fail_why(&c, E_TIMEOUT, "no end after %.1f s", timeout);
        }
        if (counts[OK] == 1) {
            break;
        }
        if (!counts[E_CONNECT] || now() > deadline) {
            fprintf(stderr, "socks-load: the check connection failed: %s\n",
                    why);
            exit(1);
        }
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    checking = 0;
    why[0] = '\0';
    memset(counts, 0, sizeof(counts));
}

static int load(int argc, char **argv)
{
    struct sockaddr_in target_addr;
    unsigned n_clients = 50;
    double seconds = 5, drain = 2, start_time, stop_time;
    unsigned long long errors;
    Client *cs;
    int left;

    if (argc < 4 || !parse_addr(argv[2], argv[3], &target_addr)) {
        fprintf(stderr, "usage: socks-load load IPV4-HOST PORT [OPTION]...\n");
        return 2;
    }
    server = target_addr;
    for (int i = 4; i < argc; i++) {
        const char *o = argv[i], *v = argv[i + 1];

        if (!strcmp(o, "--socks5")) {
            char host[64];
            const char *colon = v ? strrchr(v, ':') : NULL;

            if (!colon || (size_t)(colon - v) >= sizeof(host)) {
                fprintf(stderr, "socks-load: --socks5 HOST:PORT\n");
                return 2;
            }
            memcpy(host, v, colon - v);
            host[colon - v] = '\0';
            if (!parse_addr(host, colon + 1, &server)) {
                fprintf(stderr, "socks-load: bad --socks5: %s\n", v);
                return 2;
            }
            socks = 1;
        } else if (!strcmp(o, "--clients")) {
            n_clients = arg_num(o, v, 1, 10000);
        } else if (!strcmp(o, "--seconds")) {
            seconds = arg_num(o, v, 0.01, 1e6);
        } else if (!strcmp(o, "--request")) {
            request_len = arg_num(o, v, 24, LINE);
        } else if (!strcmp(o, "--response")) {
            response_len = arg_num(o, v, 0, 1e15);
        } else if (!strcmp(o, "--timeout")) {
            timeout = arg_num(o, v, 0.001, 1e6);
        } else if (!strcmp(o, "--drain")) {
            drain = arg_num(o, v, 0, 1e6);
        } else {
            fprintf(stderr, "socks-load: unknown option %s\n", o);
            return 2;
        }
        i++;
    }
    /* "BYTES qqq...q\n": the target reads up to the newline. */
    memset(request, 'q', request_len - 1);
    request[snprintf(request, request_len, "%llu ", response_len)] = 'q';
    request[request_len - 1] = '\n';
    memcpy(connect_req + 4, &target_addr.sin_addr, 4);
    memcpy(connect_req + 8, &target_addr.sin_port, 2);
    signal(SIGPIPE, SIG_IGN);
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        die("epoll_create1");
    }
    check();

    if (!(cs = calloc(n_clients, sizeof(*cs)))) {
        die("calloc");
    }
    start_time = now();
    for (unsigned i = 0; i < n_clients; i++) {
        start(&cs[i]);
    }
    run(cs, n_clients, start_time + seconds);
    stop_time = now();
    stopping = 1;
    left = run(cs, n_clients, stop_time + drain);
    for (unsigned i = 0; left && i < n_clients; i++) {
        if (cs[i].state != IDLE) {
            finish(&cs[i], E_ABORTED);
        }
    }
    errors = counts[E_CONNECT] + counts[E_SOCKS] + counts[E_SHORT] +
             counts[E_IO] + counts[E_TIMEOUT];
    if (why[0]) {
        fprintf(stderr, "socks-load: first error: %s\n", why);
    }
    printf("rate=%.0f completed=%llu late=%llu errors=%llu connect=%llu "
           "socks=%llu short=%llu io=%llu timeout=%llu aborted=%llu "
           "seconds=%.3f\n",
           counts[OK] / (stop_time - start_time), counts[OK], late, errors,
           counts[E_CONNECT], counts[E_SOCKS], counts[E_SHORT], counts[E_IO],
           counts[E_TIMEOUT], counts[E_ABORTED], stop_time - start_time);
    return counts[OK] > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "target")) {
        return target();
    }
    if (argc >= 2 && !strcmp(argv[1], "load")) {
        return load(argc, argv);
    }
    fprintf(stderr, "usage: socks-load target\n"
                    "       socks-load load IPV4-HOST PORT "
                    "[--socks5 IPV4-HOST:PORT] [--clients N]\n"
                    "                       [--seconds S] [--request BYTES] "
                    "[--response BYTES]\n"
                    "                       [--timeout S] [--drain S]\n");
    return 2;
}
