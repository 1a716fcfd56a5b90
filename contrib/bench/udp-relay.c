/*
 * udp-relay - a minimal single-threaded UDP forwarder with a session per
 * sender: the "udp" benchmark's limit
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   udp-relay LPORT HOST PORT
 *
 * Receives datagrams on 127.0.0.1:LPORT (the front socket) and forwards
 * each to HOST:PORT (an IPv4 literal) through a UDP socket of its
 * sender's session, connected to HOST:PORT, made when the sender is first
 * seen; what comes back on a session's socket goes to its sender through
 * the front socket. One epoll loop (level-triggered) does it all:
 *
 *   - the front socket is read with recvmmsg(2), 64 datagrams at a time;
 *     the batch is grouped by session (a hash map from the sender's
 *     address and port to its session) and each session's datagrams,
 *     in order, leave with one sendmmsg(2) on its socket;
 *   - a readable session socket is read with recvmmsg(2), and the replies
 *     of all the sessions ready in one epoll round leave through the front
 *     socket with sendmmsg(2), 64 at a time.
 *
 * The sockets are non-blocking; a datagram the kernel refuses (a full
 * buffer, an ICMP error) is dropped, as UDP allows. No options, no
 * timeouts (sessions last until the relay is killed), no logging: what
 * the forwarding of datagrams costs with nothing else to do.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define MAXDGRAM 65536

typedef struct Session Session;
struct Session {
    struct sockaddr_in peer; /* the sender, on the front socket */
    int fd;                  /* connected to the backend */
    Session *next;           /* in its hash bucket */
    int first;               /* this batch's datagrams: a list */
};

static int front; /* epoll data NULL: the front socket */
static struct sockaddr_in backend;
static Session **buckets;
static size_t nbuckets = 1024, nsessions;
static int ep;

/* Datagrams from the front socket, and where they go. */
static char in_buf[BATCH][MAXDGRAM];
static struct sockaddr_in in_from[BATCH];
static struct mmsghdr in_msgs[BATCH];
static struct iovec in_iov[BATCH];
static int in_next[BATCH]; /* the next one of the same session */

/* Replies waiting for the front socket. */
static char out_buf[BATCH][MAXDGRAM];
static struct mmsghdr out_msgs[BATCH];
static struct iovec out_iov[BATCH];
static int out_len;

static void die(const char *what)
{
    fprintf(stderr, "udp-relay: %s: %s\n", what, strerror(errno));
    exit(1);
}

static size_t hash(const struct sockaddr_in *a)
{
    uint64_t h = ((uint64_t)a->sin_addr.s_addr << 16) ^ a->sin_port;

    h *= 0x9e3779b97f4a7c15ull;
    return (h >> 32) & (nbuckets - 1);
}

static void grow(void)
{
    size_t old = nbuckets;
    Session **ob = buckets, *s, *n;

    nbuckets *= 2;
    if (!(buckets = calloc(nbuckets, sizeof(*buckets)))) {
        die("calloc");
    }
    for (size_t i = 0; i < old; i++) {
        for (s = ob[i]; s; s = n) {
            n = s->next;
            s->next = buckets[hash(&s->peer)];
            buckets[hash(&s->peer)] = s;
        }
    }
    free(ob);
}

static Session *session(const struct sockaddr_in *peer)
{
    struct epoll_event ev = {.events = EPOLLIN};
    size_t h = hash(peer);
    Session *s;

    for (s = buckets[h]; s; s = s->next) {
        if (s->peer.sin_port == peer->sin_port &&
            s->peer.sin_addr.s_addr == peer->sin_addr.s_addr) {
            return s;
        }
    }
    if (!(s = calloc(1, sizeof(*s)))) {
        die("calloc");
    }
    s->peer = *peer;
    s->first = -1;
    s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0 ||
        connect(s->fd, (struct sockaddr *)&backend, sizeof(backend)) < 0) {
        die("backend socket");
    }
    ev.data.ptr = s;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
        die("epoll_ctl");
    }
    s->next = buckets[h];
    buckets[h] = s;
    if (++nsessions > nbuckets) {
        grow();
    }
    return s;
}

static void flush_replies(void)
{
    int off = 0, k;

    while (off < out_len) {
        k = sendmmsg(front, out_msgs + off, out_len - off, MSG_DONTWAIT);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        off += k > 0 ? k : 1; /* refused: that one is dropped */
    }
    out_len = 0;
}

/* One batch from the front socket, forwarded session by session. */
static void from_front(void)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    Session *touched[BATCH];
    int n, ntouched = 0;

    for (int i = 0; i < BATCH; i++) {
        in_iov[i] = (struct iovec){in_buf[i], MAXDGRAM};
        in_msgs[i].msg_hdr = (struct msghdr){.msg_name = &in_from[i],
                                             .msg_namelen = sizeof(in_from[i]),
                                             .msg_iov = &in_iov[i],
                                             .msg_iovlen = 1};
    }
    n = recvmmsg(front, in_msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) {
        return;
    }
    /* Each session's datagrams, in order, as a list through in_next. */
    for (int i = n - 1; i >= 0; i--) {
        Session *s = session(&in_from[i]);

        if (s->first < 0) {
            touched[ntouched++] = s;
        }
        in_next[i] = s->first;
        s->first = i;
    }
    for (int t = 0; t < ntouched; t++) {
        Session *s = touched[t];
        int m = 0, off = 0, k;

        for (int i = s->first; i >= 0; i = in_next[i]) {
            iov[m] = (struct iovec){in_buf[i], in_msgs[i].msg_len};
            msgs[m].msg_hdr =
                (struct msghdr){.msg_iov = &iov[m], .msg_iovlen = 1};
            m++;
        }
        while (off < m) {
            k = sendmmsg(s->fd, msgs + off, m - off, MSG_DONTWAIT);
            if (k < 0 && errno == EINTR) {
                continue;
            }
            off += k > 0 ? k : 1;
        }
        s->first = -1;
    }
}

/* One batch from a session's socket, queued for the front socket. */
static void from_backend(Session *s)
{
    int n, room = BATCH - out_len;

    if (room == 0) {
        flush_replies();
        room = BATCH;
    }
    for (int i = out_len; i < BATCH; i++) {
        out_iov[i] = (struct iovec){out_buf[i], MAXDGRAM};
        out_msgs[i].msg_hdr =
            (struct msghdr){.msg_iov = &out_iov[i], .msg_iovlen = 1};
    }
    n = recvmmsg(s->fd, out_msgs + out_len, room, MSG_DONTWAIT, NULL);
    if (n <= 0) {
        return; /* ECONNREFUSED: the backend is not */
    }           /* there yet; nothing to do */
    for (int i = out_len; i < out_len + n; i++) {
        out_iov[i].iov_len = out_msgs[i].msg_len;
        out_msgs[i].msg_hdr.msg_name = &s->peer;
        out_msgs[i].msg_hdr.msg_namelen = sizeof(s->peer);
    }
    out_len += n;
}

int main(int argc, char **argv)
{
    struct sockaddr_in la = {.sin_family = AF_INET};
    struct epoll_event ev = {EPOLLIN, {.ptr = NULL}}, evs[256];

    backend.sin_family = AF_INET;
    if (argc != 4 || inet_pton(AF_INET, argv[2], &backend.sin_addr) != 1) {
        fprintf(stderr, "usage: udp-relay LPORT IPV4-HOST PORT\n");
        return 2;
    }
    la.sin_port = htons(atoi(argv[1]));
    la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    backend.sin_port = htons(atoi(argv[3]));
    if (!(buckets = calloc(nbuckets, sizeof(*buckets)))) {
        die("calloc");
    }
    front = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (front < 0 || bind(front, (struct sockaddr *)&la, sizeof(la)) < 0) {
        die("bind");
    }
    if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, front, &ev) < 0) {
        die("epoll");
    }
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);

        if (n < 0 && errno != EINTR) {
            die("epoll_wait");
        }
        for (int k = 0; k < n; k++) {
            if (evs[k].data.ptr == NULL) {
                from_front();
            } else {
                from_backend(evs[k].data.ptr);
            }
        }
        flush_replies();
    }
}
