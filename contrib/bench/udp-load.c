/*
 * udp-load - UDP round trips through a relay, and the echo backend behind
 * it (benchmark helper)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   udp-load echo
 *   udp-load port
 *   udp-load load HOST PORT [--peers N] [--size BYTES] [--window N]
 *                           [--seconds S] [--drain S] [--timeout S]
 *
 * echo binds a UDP socket on 127.0.0.1, an ephemeral port, prints the
 * port, and sends every datagram back to its sender, reading batches with
 * recvmmsg(2) and answering each batch with one sendmmsg(2). On SIGTERM or
 * SIGINT it prints "echoed COUNT" and exits.
 *
 * port prints a UDP port of 127.0.0.1 that is free now (bound to port 0,
 * then closed): a port for the relay to listen on, found without the
 * second or so a python3 takes to start on a busy machine.
 *
 * load opens N peers (UDP sockets connected to HOST:PORT, an IPv4
 * literal). First each peer in turn sends one datagram and waits for its
 * answer (retrying every 100 ms, for 10 s), so that every relay has made
 * its session for it before the clock starts. Then all peers send
 * datagrams of BYTES bytes (default 64; at least 16) for S seconds
 * (default 3), each keeping at most WINDOW (default 32) unanswered: a
 * peer sends one more datagram for each answer. A peer that has had no
 * answer for the --timeout (default 0.1 s) while some are outstanding
 * gives those up and opens its window again, so a relay that drops
 * datagrams loses time rather than stalling the run. After S seconds no
 * more is sent and answers are awaited for up to --drain seconds
 * (default 0.5).
 *
 * Each datagram carries a magic number, its peer's number and a sequence
 * number. The one line printed on stdout at the end is
 *
 *   rate=R sent=N received=N lost=N misrouted=N dup=N bad=N stalls=N seconds=S
 *
 * rate: answers received per second while sending (round trips per
 * second); lost: sent - received once drained; misrouted: answers that
 * reached a peer other than their sender; dup: answers received twice;
 * bad: datagrams of the wrong size or magic; stalls: datagrams given up
 * on by the timeout (some may have come back later). The exit status is
 * 0 when received > 0 and misrouted, dup and bad are 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAXDGRAM 65536
#define MAGIC 0x71696f63u /* "qioc" */
#define WARM 0x7761726du  /* "warm": the datagrams before the clock */
#define RCVBUF (4 << 20)

typedef struct {
    uint32_t magic, peer;
    uint64_t seq;
} Head;

typedef struct {
    int fd;
    uint32_t id;
    uint64_t sent, received; /* timed datagrams */
    uint64_t in_window;      /* answers before the clock stopped */
    unsigned outstanding;    /* sent, not answered, not given up */
    double last;             /* when an answer last came, or the window
                              * was last (re)opened */
    uint8_t *seen;           /* a bit per sequence number */
    size_t seen_len;         /* bytes in seen */
} Peer;

static unsigned long long misrouted, dups, bad, stalls;

static void die(const char *what)
{
    fprintf(stderr, "udp-load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void big_rcvbuf(int fd)
{
    int n = RCVBUF;

    /* As root past rmem_max; else as much as rmem_max allows. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &n, sizeof(n)) < 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof(n));
    }
}

/* ------------------------------------------------------------ echo */

static volatile sig_atomic_t stop_echo;

static void on_signal(int sig)
{
    (void)sig;
    stop_echo = 1;
}

static int echo(void)
{
    static char bufs[BATCH][MAXDGRAM];
    struct sockaddr_in sin = {.sin_family = AF_INET}, from[BATCH];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */
    socklen_t len = sizeof(sin);
    unsigned long long echoed = 0;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        die("bind");
    }
    big_rcvbuf(fd);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("%u\n", ntohs(sin.sin_port));
    fflush(stdout);
    while (!stop_echo) {
        int n, k, off;

        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], MAXDGRAM};
            msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
                                              .msg_namelen = sizeof(from[i]),
                                              .msg_iov = &iov[i],
                                              .msg_iovlen = 1};
        }
        n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("recvmmsg");
        }
        for (int i = 0; i < n; i++) {
            iov[i].iov_len = msgs[i].msg_len;
        }
        for (off = 0; off < n; off += k) {
            k = sendmmsg(fd, msgs + off, n - off, 0);
            if (k < 0 && errno == EINTR) {
                k = 0;
                continue;
            }
            if (k <= 0) {
                /* A sender gone (ICMP unreachable): skip its datagram. */
                k = 1;
                continue;
            }
            echoed += k;
        }
    }
    printf("echoed %llu\n", echoed);
    return 0;
}

static int free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
        die("bind");
    }
    printf("%u\n", ntohs(sin.sin_port));
    close(fd);
    return 0;
}

/* ------------------------------------------------------------ load */

/* The header of a datagram; the rest of the buffer stays zero. */
static void fill(char *buf, uint32_t magic, uint32_t peer, uint64_t seq)
{
    Head h = {magic, peer, seq};

    memcpy(buf, &h, sizeof(h));
}

/* Send as many as the window allows; what the kernel refuses waits. */
static void send_more(Peer *p, unsigned window, size_t size, int timed)
{
    static char bufs[BATCH][MAXDGRAM];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];

    while (timed && p->outstanding < window) {
        unsigned n = window - p->outstanding;
        int k;

        if (n > BATCH) {
            n = BATCH;
        }
        for (unsigned i = 0; i < n; i++) {
            fill(bufs[i], MAGIC, p->id, p->sent + i);
            iov[i] = (struct iovec){bufs[i], size};
            msgs[i].msg_hdr =
                (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
        }
        k = sendmmsg(p->fd, msgs, n, MSG_DONTWAIT);
        if (k <= 0) {
            if (k < 0 && errno != EAGAIN && errno != ECONNREFUSED &&
                errno != EINTR) {
                die("sendmmsg");
            }
            return;
        }
        p->sent += k;
        p->outstanding += k;
        if ((unsigned)k < n) {
            return;
        }
    }
}

/* Note an answer to peer p with sequence number seq. */
static void answer(Peer *p, uint64_t seq, int counting)
{
    size_t byte = seq / 8;

    if (seq >= p->sent) {
        bad++;
        return;
    }
    if (byte >= p->seen_len) {
        size_t len = p->seen_len ? p->seen_len : 4096;

        while (len <= byte) {
            len *= 2;
        }
        p->seen = realloc(p->seen, len);
        if (!p->seen) {
            die("realloc");
        }
        memset(p->seen + p->seen_len, 0, len - p->seen_len);
        p->seen_len = len;
    }
    if (p->seen[byte] & (1u << (seq % 8))) {
        dups++;
        return;
    }
    p->seen[byte] |= 1u << (seq % 8);
    p->received++;
    if (counting) {
        p->in_window++;
    }
    if (p->outstanding > 0) {
        p->outstanding--;
    }
}

/* Read what has come for peer p; the count of timed answers. */
static unsigned receive(Peer *p, size_t size, int counting)
{
    static char bufs[BATCH][MAXDGRAM];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    unsigned got = 0;

    for (;;) {
        int n;

        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], MAXDGRAM};
            msgs[i].msg_hdr =
                (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
        }
        n = recvmmsg(p->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED) {
                return got;
            }
            die("recvmmsg");
        }
        for (int i = 0; i < n; i++) {
            Head h;

            if (msgs[i].msg_len != size) {
                bad++;
                continue;
            }
            memcpy(&h, bufs[i], sizeof(h));
            if (h.magic == WARM) {
                misrouted += h.peer != p->id;
                continue; /* a late answer to a warm-up retry */
            }
            if (h.magic != MAGIC) {
                bad++;
                continue;
            }
            if (h.peer != p->id) {
                misrouted++;
                continue;
            }
            answer(p, h.seq, counting);
            got++;
        }
        if (n < BATCH) {
            return got;
        }
    }
}

/* One datagram from peer p, answered, so the relay knows the peer. */
static void warm_up(Peer *p, size_t size)
{
    static char buf[MAXDGRAM], in[MAXDGRAM];
    double deadline = now() + 10;
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};

    fill(buf, WARM, p->id, 0);
    for (;;) {
        double until;

        if (send(p->fd, buf, size, 0) < 0 && errno != ECONNREFUSED) {
            die("send");
        }
        until = now() + 0.1;
        while (now() < until) {
            ssize_t n;
            Head h;

            if (poll(&pfd, 1, 10) <= 0) {
                continue;
            }
            n = recv(p->fd, in, sizeof(in), MSG_DONTWAIT);
            if (n < (ssize_t)sizeof(h)) {
                continue;
            }
            memcpy(&h, in, sizeof(h));
            if (h.magic == WARM && h.peer == p->id) {
                return;
            }
            misrouted += h.magic == WARM;
        }
        if (now() > deadline) {
            fprintf(stderr,
                    "udp-load: peer %u: no answer through the relay "
                    "in 10 s\n",
                    p->id);
            exit(1);
        }
    }
}

static double arg_num(const char *opt, const char *val, double min)
{
    char *end;
    double v;

    if (!val) {
        fprintf(stderr, "udp-load: %s needs a value\n", opt);
        exit(2);
    }
    v = strtod(val, &end);
    if (*end || v < min) {
        fprintf(stderr, "udp-load: bad %s: %s\n", opt, val);
        exit(2);
    }
    return v;
}

static int load(int argc, char **argv)
{
    struct sockaddr_in to = {.sin_family = AF_INET};
    struct epoll_event ev = {.events = EPOLLIN}, evs[256];
    unsigned peers = 1, window = 32;
    double seconds = 3, drain = 0.5, timeout = 0.1;
    double start, end, stop, last_tick;
    uint64_t sent = 0, received = 0, in_window = 0;
    size_t size = 64;
    Peer *ps;
    int ep;

    if (argc < 4 || inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) {
        fprintf(stderr, "usage: udp-load load IPV4-HOST PORT [OPTION]...\n");
        return 2;
    }
    to.sin_port = htons(atoi(argv[3]));
    for (int i = 4; i < argc; i++) {
        const char *o = argv[i], *v = argv[i + 1];

        if (!strcmp(o, "--peers")) {
            peers = arg_num(o, v, 1);
        } else if (!strcmp(o, "--size")) {
            size = arg_num(o, v, sizeof(Head));
        } else if (!strcmp(o, "--window")) {
            window = arg_num(o, v, 1);
        } else if (!strcmp(o, "--seconds")) {
            seconds = arg_num(o, v, 0.01);
        } else if (!strcmp(o, "--drain")) {
            drain = arg_num(o, v, 0);
        } else if (!strcmp(o, "--timeout")) {
            timeout = arg_num(o, v, 0.001);
        } else {
            fprintf(stderr, "udp-load: unknown option %s\n", o);
            return 2;
        }
        i++;
    }
    if (size > MAXDGRAM - 28) {
        fprintf(stderr, "udp-load: --size at most %d\n", MAXDGRAM - 28);
        return 2;
    }
    if (!(ps = calloc(peers, sizeof(*ps))) ||
        (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        die("setup");
    }
    for (unsigned i = 0; i < peers; i++) {
        Peer *p = &ps[i];

        p->id = i;
        p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (p->fd < 0 ||
            connect(p->fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
            die("connect");
        }
        big_rcvbuf(p->fd);
        ev.data.ptr = p;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, p->fd, &ev) < 0) {
            die("epoll_ctl");
        }
    }
    for (unsigned i = 0; i < peers; i++) {
        warm_up(&ps[i], size);
    }

    /* The clock runs from the first timed datagram. */
    start = last_tick = now();
    end = start + seconds;
    for (unsigned i = 0; i < peers; i++) {
        ps[i].last = start;
        send_more(&ps[i], window, size, 1);
    }
    stop = end + drain;
    for (;;) {
        double t = now();
        int sending = t < end, n;

        if (!sending) {
            uint64_t s = 0, r = 0;

            for (unsigned i = 0; i < peers; i++) {
                s += ps[i].sent;
                r += ps[i].received;
            }
            if (r >= s || t >= stop) {
                break;
            }
        }
        n = epoll_wait(ep, evs, 256, 10);
        if (n < 0 && errno != EINTR) {
            die("epoll_wait");
        }
        t = now();
        for (int k = 0; k < n; k++) {
            Peer *p = evs[k].data.ptr;

            if (receive(p, size, t <= end) > 0) {
                p->last = t;
            }
            send_more(p, window, size, sending && t < end);
        }
        if (t - last_tick < 0.01 || !(t < end)) {
            continue;
        }
        /* Peers whose answers stopped coming: give up, send again. */
        last_tick = t;
        for (unsigned i = 0; i < peers; i++) {
            Peer *p = &ps[i];

            if (p->outstanding > 0 && t - p->last > timeout) {
                stalls += p->outstanding;
                p->outstanding = 0;
                p->last = t;
            }
            send_more(p, window, size, 1);
        }
    }
    for (unsigned i = 0; i < peers; i++) {
        sent += ps[i].sent;
        received += ps[i].received;
        in_window += ps[i].in_window;
    }
    printf("rate=%.0f sent=%llu received=%llu lost=%llu misrouted=%llu "
           "dup=%llu bad=%llu stalls=%llu seconds=%.3f\n",
           in_window / seconds, (unsigned long long)sent,
           (unsigned long long)received, (unsigned long long)(sent - received),
           misrouted, dups, bad, stalls, seconds);
    return received > 0 && !misrouted && !dups && !bad ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "echo")) {
        return echo();
    }
    if (argc == 2 && !strcmp(argv[1], "port")) {
        return free_port();
    }
    if (argc >= 2 && !strcmp(argv[1], "load")) {
        return load(argc, argv);
    }
    fprintf(stderr, "usage: udp-load echo\n"
                    "       udp-load port\n"
                    "       udp-load load IPV4-HOST PORT [--peers N] "
                    "[--size BYTES] [--window N]\n"
                    "                     [--seconds S] [--drain S] "
                    "[--timeout S]\n");
    return 2;
}
