/*
 * Unit tests for QIODatagramServer and QIOChannelDatagramPeer: sessions
 * per sender over one datagram socket.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Clients are plain sockets bound to the loopback address (or to paths in
 * a temporary directory); the server runs in the default main context,
 * which the tests iterate until what they wait for has happened, with a
 * deadline instead of sleeps. Replies are read by the clients with
 * recv(2) once the server side has sent them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "qio/qio.h"
#include "test-util.h"

/* What a test waits for must happen within this. */
#define WAIT_S 30

#define MAX_DGRAM 65536

/* ---------------------------------------------------------------- waiting */

static gboolean deadline_hit(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

/* Iterate the default context until @done(@data) holds, or fail. */
static void wait_for(bool (*done)(gconstpointer data), gconstpointer data)
{
    bool late = false;
    GSource *timer = g_timeout_source_new_seconds(WAIT_S);

    g_source_set_callback(timer, deadline_hit, &late, NULL);
    g_source_attach(timer, NULL);
    while (!done(data) && !late) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_destroy(timer);
    g_source_unref(timer);
    if (!done(data)) {
        g_error("%s: not done after %d s", g_test_get_path(), WAIT_S);
    }
}

/* Dispatch everything ready, without blocking. */
static void drain_context(void)
{
    while (g_main_context_iteration(NULL, FALSE)) {
    }
}

/* ---------------------------------------------------------------- sockets */

/* A datagram socket of @family bound to the loopback address, port 0. */
static int udp_bound(int family, struct sockaddr_storage *ss, socklen_t *len)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    memset(ss, 0, sizeof(*ss));
    ss->ss_family = family;
    if (family == AF_INET) {
        ((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof(struct sockaddr_in);
    } else {
        ((struct sockaddr_in6 *)ss)->sin6_addr = in6addr_loopback;
        *len = sizeof(struct sockaddr_in6);
    }
    g_assert_no_errno(bind(fd, (struct sockaddr *)ss, *len));
    g_assert_no_errno(getsockname(fd, (struct sockaddr *)ss, len));
    return fd;
}

/* A unix datagram socket, bound to @path unless it is NULL. */
static int unix_bound(const char *path, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un *sun = (struct sockaddr_un *)ss;

    g_assert_cmpint(fd, >=, 0);
    memset(ss, 0, sizeof(*ss));
    sun->sun_family = AF_UNIX;
    *len = sizeof(sa_family_t);
    if (path) {
        g_assert_cmpuint(strlen(path), <, sizeof(sun->sun_path));
        strcpy(sun->sun_path, path);
        *len = offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
        g_assert_no_errno(bind(fd, (struct sockaddr *)ss, *len));
    }
    return fd;
}

/* ---------------------------------------------------------------- fixture */

typedef enum {
    LEAVE, /* take the session, but keep no reference */
    TAKE,  /* keep the peer in f->peers */
    ECHO,  /* and echo what it reads, from a watch */
    RELAY, /* and echo from a coroutine, as the relay's pump would */
} Mode;

typedef struct {
    QIODatagramServer *server;
    struct sockaddr_storage addr; /* the server's */
    socklen_t addrlen;
    Mode mode;
    GPtrArray *peers; /* taken, referenced */
    guint calls;      /* of the peer function */
    guint refuse;     /* refuse this many senders first */
    guint queue_limit;
    gsize queue_bytes;
    guint echoed;
    guint relays_running;
    bool keep_control; /* the socket keeps control messages */
} Fixture;

typedef struct {
    int fd;
    struct sockaddr_storage ss;
    socklen_t len;
} Client;

static gboolean echo_ready(QIOChannel *ioc, GIOCondition cond, gpointer data)
{
    Fixture *f = data;
    g_autofree char *buf = g_malloc(MAX_DGRAM);
    g_autoptr(GError) err = NULL;
    ssize_t n = qio_channel_read(ioc, buf, MAX_DGRAM, &err);

    g_assert_no_error(err);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        return G_SOURCE_CONTINUE;
    }
    if (n == 0) {
        return G_SOURCE_REMOVE;
    }
    g_assert_cmpint(qio_channel_write(ioc, buf, n, &err), ==, n);
    g_assert_no_error(err);
    f->echoed++;
    return G_SOURCE_CONTINUE;
}

typedef struct {
    Fixture *f;
    QIOChannel *ioc;
} Relay;

/* The pump's shape: read, yield while there is nothing, write back. */
static void coroutine_fn co_relay(void *opaque)
{
    Relay *r = opaque;
    g_autofree char *buf = g_malloc(MAX_DGRAM);
    g_autoptr(GError) err = NULL;
    ssize_t n;

    for (;;) {
        n = qio_channel_read(r->ioc, buf, MAX_DGRAM, &err);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_yield(r->ioc, G_IO_IN);
            continue;
        }
        if (n <= 0) {
            break;
        }
        g_assert_cmpint(qio_channel_write_all(r->ioc, buf, n, &err), ==, 0);
        r->f->echoed++;
    }
    g_assert_no_error(err);
    g_assert_cmpint(n, ==, 0);
    r->f->relays_running--;
    g_object_unref(r->ioc);
    g_free(r);
}

static gboolean take_peer(QIODatagramServer *server,
                          QIOChannelDatagramPeer *peer, gpointer data)
{
    Fixture *f = data;
    Relay *r;

    f->calls++;
    g_assert_cmpuint(qio_channel_datagram_peer_get_queued(peer), ==, 1);
    if (f->refuse > 0) {
        f->refuse--;
        return FALSE;
    }
    if (f->queue_limit) {
        qio_channel_datagram_peer_set_queue_limit(peer, f->queue_limit,
                                                  f->queue_bytes);
    }
    if (f->mode == LEAVE) {
        return TRUE;
    }
    g_ptr_array_add(f->peers, g_object_ref(peer));
    if (f->mode == ECHO) {
        qio_channel_add_watch(QIO_CHANNEL(peer), G_IO_IN, echo_ready, f, NULL);
    } else if (f->mode == RELAY) {
        r = g_new0(Relay, 1);
        r->f = f;
        r->ioc = QIO_CHANNEL(g_object_ref(peer));
        f->relays_running++;
        qio_coroutine_enter(qio_coroutine_create(co_relay, r));
    }
    return TRUE;
}

static void fixture_start(Fixture *f, int fd, Mode mode)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) sock = qio_channel_socket_new_fd(fd, &err);

    g_assert_no_error(err);
    qio_channel_socket_set_keep_control(sock, f->keep_control);
    f->mode = mode;
    f->peers = g_ptr_array_new_with_free_func(g_object_unref);
    f->server = qio_datagram_server_new(sock);
    qio_datagram_server_set_peer_func(f->server, take_peer, f, NULL);
    qio_datagram_server_start(f->server, NULL);
}

static void fixture_open(Fixture *f, int family, Mode mode)
{
    fixture_start(f, udp_bound(family, &f->addr, &f->addrlen), mode);
}

/* Everything goes, and must really go: peers, server, socket, sources. */
static void fixture_close(Fixture *f)
{
    gpointer weak = f->server;

    qio_datagram_server_stop(f->server);
    drain_context();
    g_assert_cmpuint(f->relays_running, ==, 0);
    g_ptr_array_unref(f->peers);
    g_object_add_weak_pointer(G_OBJECT(f->server), &weak);
    g_object_unref(f->server);
    g_assert_null(weak);
    drain_context();
}

static QIODatagramServerStats fixture_stats(Fixture *f)
{
    QIODatagramServerStats stats;

    qio_datagram_server_get_stats(f->server, &stats);
    return stats;
}

typedef struct {
    Fixture *f;
    guint64 n;
} Want;

static bool received_reached(gconstpointer data)
{
    const Want *w = data;

    return fixture_stats(w->f).received >= w->n;
}

/* Wait until the server has read @n datagrams in all. */
static void wait_received(Fixture *f, guint64 n)
{
    Want w = {f, n};

    wait_for(received_reached, &w);
}

static bool echoed_reached(gconstpointer data)
{
    const Want *w = data;

    return w->f->echoed >= w->n;
}

static void wait_echoed(Fixture *f, guint n)
{
    Want w = {f, n};

    wait_for(echoed_reached, &w);
}

/* ---------------------------------------------------------------- clients */

static void client_set_timeout(Client *c)
{
    struct timeval tv = {.tv_sec = WAIT_S};

    g_assert_no_errno(
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
}

static void client_open(Client *c, int family)
{
    c->fd = udp_bound(family, &c->ss, &c->len);
    client_set_timeout(c);
}

static void client_open_unix(Client *c, const char *path)
{
    c->fd = unix_bound(path, &c->ss, &c->len);
    client_set_timeout(c);
}

static void client_close(Client *c)
{
    if (c->ss.ss_family == AF_UNIX && c->len > sizeof(sa_family_t)) {
        unlink(((struct sockaddr_un *)&c->ss)->sun_path);
    }
    close(c->fd);
}

static void client_send(Client *c, Fixture *f, const void *buf, size_t len)
{
    g_assert_cmpint(
        sendto(c->fd, buf, len, 0, (struct sockaddr *)&f->addr, f->addrlen), ==,
        len);
}

/* The next datagram @c receives is @want, byte for byte. */
static void client_expect(Client *c, const void *want, size_t len)
{
    g_autofree char *buf = g_malloc(MAX_DGRAM);
    ssize_t n = recv(c->fd, buf, MAX_DGRAM, 0);

    g_assert_cmpint(n, ==, len);
    g_assert_true(memcmp(buf, want, len) == 0);
}

/* Nothing more is waiting for @c. */
static void client_expect_nothing(Client *c)
{
    char c1;

    g_assert_cmpint(recv(c->fd, &c1, 1, MSG_DONTWAIT), ==, -1);
    g_assert_cmpint(errno, ==, EAGAIN);
}

/* Whether @peer is the session of @c. */
static bool peer_is(QIOChannelDatagramPeer *peer, Client *c)
{
    GSocketAddress *sa = qio_channel_datagram_peer_get_address(peer);
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    g_assert_true(g_socket_address_to_native(sa, &ss, sizeof(ss), NULL));
    if (c->ss.ss_family == AF_UNIX) {
        return strcmp(((struct sockaddr_un *)&ss)->sun_path,
                      ((struct sockaddr_un *)&c->ss)->sun_path) == 0;
    }
    if (c->ss.ss_family == AF_INET) {
        return ((struct sockaddr_in *)&ss)->sin_port ==
               ((struct sockaddr_in *)&c->ss)->sin_port;
    }
    return ((struct sockaddr_in6 *)&ss)->sin6_port ==
           ((struct sockaddr_in6 *)&c->ss)->sin6_port;
}

static QIOChannel *fixture_peer_of(Fixture *f, Client *c)
{
    for (guint i = 0; i < f->peers->len; i++) {
        if (peer_is(g_ptr_array_index(f->peers, i), c)) {
            return g_ptr_array_index(f->peers, i);
        }
    }
    g_error("no session for the client");
    return NULL;
}

/* The next read of @ioc is the datagram @want. */
static void peer_expect(QIOChannel *ioc, const void *want, size_t len)
{
    g_autofree char *buf = g_malloc(MAX_DGRAM);
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(qio_channel_read(ioc, buf, MAX_DGRAM, &err), ==, len);
    g_assert_no_error(err);
    g_assert_true(memcmp(buf, want, len) == 0);
}

static void peer_expect_block(QIOChannel *ioc)
{
    char c;

    g_assert_cmpint(qio_channel_read(ioc, &c, 1, NULL), ==,
                    QIO_CHANNEL_ERR_BLOCK);
}

static void peer_expect_eof(QIOChannel *ioc)
{
    char c;

    g_assert_cmpint(qio_channel_read(ioc, &c, 1, NULL), ==, 0);
}

/* ---------------------------------------------------------------- data */

/* Client @i's datagram @j: its own size and bytes. */
static const size_t sizes[] = {1, 65507, 1400, 2, 512, 9000};
#define NSIZES G_N_ELEMENTS(sizes)

static char *make_dgram(guint i, guint j, size_t *len)
{
    char *buf;

    *len = sizes[(i + j) % NSIZES];
    buf = g_malloc(*len);
    qio_test_fill_random(buf, *len);
    buf[0] = (char)('A' + i);
    return buf;
}

/* ---------------------------------------------------------------- cases */

#define NCLIENTS 3
#define NDGRAMS 6

/*
 * Three clients take turns; each peer reads exactly its client's
 * datagrams, whole and in order, and the peer function is asked once
 * per client.
 */
static void test_sessions(void)
{
    Fixture f = {0};
    Client c[NCLIENTS];
    char *sent[NCLIENTS][NDGRAMS];
    size_t len[NCLIENTS][NDGRAMS];
    guint64 total = 0;

    fixture_open(&f, AF_INET, TAKE);
    for (guint i = 0; i < NCLIENTS; i++) {
        client_open(&c[i], AF_INET);
    }
    /* One at a time: 65507-byte datagrams would overflow the buffer. */
    for (guint j = 0; j < NDGRAMS; j++) {
        for (guint i = 0; i < NCLIENTS; i++) {
            sent[i][j] = make_dgram(i, j, &len[i][j]);
            client_send(&c[i], &f, sent[i][j], len[i][j]);
            wait_received(&f, ++total);
        }
    }
    g_assert_cmpuint(f.calls, ==, NCLIENTS);
    g_assert_cmpuint(qio_datagram_server_n_peers(f.server), ==, NCLIENTS);
    for (guint i = 0; i < NCLIENTS; i++) {
        QIOChannel *peer = fixture_peer_of(&f, &c[i]);

        for (guint j = 0; j < NDGRAMS; j++) {
            peer_expect(peer, sent[i][j], len[i][j]);
            g_free(sent[i][j]);
        }
        peer_expect_block(peer);
        client_close(&c[i]);
    }
    fixture_close(&f);
}

/* Replies written to a peer reach its client, and no other. */
static void test_echo(void)
{
    Fixture f = {0};
    Client c[NCLIENTS];
    char *sent[NCLIENTS][NDGRAMS];
    size_t len[NCLIENTS][NDGRAMS];

    fixture_open(&f, AF_INET, ECHO);
    for (guint i = 0; i < NCLIENTS; i++) {
        client_open(&c[i], AF_INET);
    }
    for (guint j = 0; j < NDGRAMS; j++) {
        for (guint i = 0; i < NCLIENTS; i++) {
            sent[i][j] = make_dgram(i, j, &len[i][j]);
            client_send(&c[i], &f, sent[i][j], len[i][j]);
            wait_echoed(&f, j * NCLIENTS + i + 1);
        }
    }
    for (guint i = 0; i < NCLIENTS; i++) {
        for (guint j = 0; j < NDGRAMS; j++) {
            client_expect(&c[i], sent[i][j], len[i][j]);
            g_free(sent[i][j]);
        }
        client_expect_nothing(&c[i]);
        client_close(&c[i]);
    }
    fixture_close(&f);
}

#define NMANY 50
#define NROUNDS 4

/*
 * Fifty clients at once, each session relayed by its own coroutine that
 * yields on the peer channel: every client gets exactly its own replies.
 * Stopping the server ends every relay (its read returns 0).
 */
static void test_many_clients(void)
{
    Fixture f = {0};
    Client c[NMANY];
    char msg[64];

    fixture_open(&f, AF_INET, RELAY);
    for (guint i = 0; i < NMANY; i++) {
        client_open(&c[i], AF_INET);
    }
    for (guint r = 0; r < NROUNDS; r++) {
        for (guint i = 0; i < NMANY; i++) {
            int n = g_snprintf(msg, sizeof(msg), "client %u round %u", i, r);

            client_send(&c[i], &f, msg, n);
        }
        wait_echoed(&f, (r + 1) * NMANY);
    }
    g_assert_cmpuint(f.calls, ==, NMANY);
    g_assert_cmpuint(f.relays_running, ==, NMANY);
    g_test_message("%u datagrams in %" G_GUINT64_FORMAT " reads",
                   NMANY * NROUNDS, fixture_stats(&f).wakeups);
    for (guint i = 0; i < NMANY; i++) {
        for (guint r = 0; r < NROUNDS; r++) {
            int n = g_snprintf(msg, sizeof(msg), "client %u round %u", i, r);

            client_expect(&c[i], msg, n);
        }
        client_expect_nothing(&c[i]);
        client_close(&c[i]);
    }
    qio_datagram_server_stop(f.server);
    drain_context();
    g_assert_cmpuint(f.relays_running, ==, 0);
    fixture_close(&f);
}

/* A refused sender's datagram is dropped; its next one asks again. */
static void test_refuse(void)
{
    Fixture f = {.refuse = 1};
    Client c;

    fixture_open(&f, AF_INET, TAKE);
    client_open(&c, AF_INET);
    client_send(&c, &f, "first", 5);
    wait_received(&f, 1);
    g_assert_cmpuint(f.calls, ==, 1);
    g_assert_cmpuint(f.peers->len, ==, 0);
    g_assert_cmpuint(qio_datagram_server_n_peers(f.server), ==, 0);
    g_assert_cmpuint(fixture_stats(&f).refused, ==, 1);

    client_send(&c, &f, "second", 6);
    client_send(&c, &f, "third", 5);
    wait_received(&f, 3);
    g_assert_cmpuint(f.calls, ==, 2);
    g_assert_cmpuint(qio_datagram_server_n_peers(f.server), ==, 1);
    peer_expect(g_ptr_array_index(f.peers, 0), "second", 6);
    peer_expect(g_ptr_array_index(f.peers, 0), "third", 5);
    peer_expect_block(g_ptr_array_index(f.peers, 0));
    client_close(&c);
    fixture_close(&f);
}

/*
 * Ending a session: the queue is read out, then end-of-file, and the
 * sender's next datagram is a new session. Closing one: end-of-file at
 * once, and again a new session.
 */
static void test_end_and_close(void)
{
    Fixture f = {0};
    Client c;
    QIOChannelDatagramPeer *first;
    QIOChannel *second;
    g_autoptr(GError) err = NULL;

    fixture_open(&f, AF_INET, TAKE);
    client_open(&c, AF_INET);
    client_send(&c, &f, "one", 3);
    client_send(&c, &f, "two", 3);
    wait_received(&f, 2);
    first = g_ptr_array_index(f.peers, 0);
    qio_channel_datagram_peer_end(first);
    g_assert_true(qio_channel_datagram_peer_is_ended(first));
    g_assert_cmpuint(qio_datagram_server_n_peers(f.server), ==, 0);
    peer_expect(QIO_CHANNEL(first), "one", 3);
    peer_expect(QIO_CHANNEL(first), "two", 3);
    peer_expect_eof(QIO_CHANNEL(first));
    /* Replies still go out. */
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(first), "late", 4, &err), ==,
                    4);
    g_assert_no_error(err);
    client_expect(&c, "late", 4);

    client_send(&c, &f, "three", 5);
    wait_received(&f, 3);
    g_assert_cmpuint(f.calls, ==, 2);
    second = g_ptr_array_index(f.peers, 1);
    g_assert_true(second != QIO_CHANNEL(first));
    g_assert_cmpuint(qio_datagram_server_n_peers(f.server), ==, 1);
    g_assert_cmpint(qio_channel_close(second, &err), ==, 0);
    g_assert_no_error(err);
    peer_expect_eof(second);
    g_assert_cmpint(qio_channel_write(second, "x", 1, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
    g_clear_error(&err);
    g_assert_cmpuint(qio_datagram_server_n_peers(f.server), ==, 0);

    client_send(&c, &f, "four", 4);
    wait_received(&f, 4);
    g_assert_cmpuint(f.calls, ==, 3);
    peer_expect(g_ptr_array_index(f.peers, 2), "four", 4);
    client_close(&c);
    fixture_close(&f);
}

/*
 * The server keeps no session alive: a peer taken without a reference,
 * or whose last reference goes, is forgotten as if closed.
 */
static void test_unreferenced(void)
{
    Fixture f = {0};
    Client c;
    gpointer weak;

    fixture_open(&f, AF_INET, LEAVE);
    client_open(&c, AF_INET);
    client_send(&c, &f, "one", 3);
    wait_received(&f, 1);
    g_assert_cmpuint(qio_datagram_server_n_peers(f.server), ==, 0);
    client_send(&c, &f, "two", 3);
    wait_received(&f, 2);
    g_assert_cmpuint(f.calls, ==, 2);

    f.mode = TAKE;
    client_send(&c, &f, "three", 5);
    wait_received(&f, 3);
    g_assert_cmpuint(qio_datagram_server_n_peers(f.server), ==, 1);
    weak = g_ptr_array_index(f.peers, 0);
    g_object_add_weak_pointer(weak, &weak);
    g_ptr_array_set_size(f.peers, 0);
    g_assert_null(weak);
    g_assert_cmpuint(qio_datagram_server_n_peers(f.server), ==, 0);
    client_send(&c, &f, "four", 4);
    wait_received(&f, 4);
    g_assert_cmpuint(f.calls, ==, 4);
    peer_expect(g_ptr_array_index(f.peers, 0), "four", 4);
    client_close(&c);
    fixture_close(&f);
}

/* Send @n datagrams "0", "1", ... and wait until the server read them. */
static void send_numbered(Fixture *f, Client *c, guint from, guint n,
                          size_t len)
{
    g_autofree char *buf = g_malloc0(len);
    guint64 before = fixture_stats(f).received;

    for (guint i = 0; i < n; i++) {
        g_snprintf(buf, len, "%u", from + i);
        client_send(c, f, buf, len);
        /* In steps that the socket buffer holds. */
        if ((i + 1) % 50 == 0 || i + 1 == n) {
            wait_received(f, before + i + 1);
        }
    }
}

static void expect_numbered(QIOChannel *ioc, guint from, guint n, size_t len)
{
    g_autofree char *want = g_malloc0(len);

    for (guint i = 0; i < n; i++) {
        g_snprintf(want, len, "%u", from + i);
        peer_expect(ioc, want, len);
    }
    peer_expect_block(ioc);
}

/* A full queue drops what arrives, and counts it. */
static void test_queue_limit(void)
{
    Fixture f = {.queue_limit = 4, .queue_bytes = 1000};
    Client c;
    QIOChannelDatagramPeer *peer;

    fixture_open(&f, AF_INET, TAKE);
    client_open(&c, AF_INET);
    send_numbered(&f, &c, 0, 10, 8);
    peer = g_ptr_array_index(f.peers, 0);
    g_assert_cmpuint(qio_channel_datagram_peer_get_queued(peer), ==, 4);
    g_assert_cmpuint(qio_channel_datagram_peer_get_dropped(peer), ==, 6);
    g_assert_cmpuint(fixture_stats(&f).queue_full, ==, 6);
    expect_numbered(QIO_CHANNEL(peer), 0, 4, 8);

    /* The byte limit: two of 400 fit in 1000, the third does not. */
    send_numbered(&f, &c, 0, 3, 400);
    g_assert_cmpuint(qio_channel_datagram_peer_get_dropped(peer), ==, 7);
    expect_numbered(QIO_CHANNEL(peer), 0, 2, 400);
    client_close(&c);
    fixture_close(&f);
}

/* The default limit is QIO_CHANNEL_DATAGRAM_PEER_MAX_QUEUE datagrams. */
static void test_queue_default(void)
{
    Fixture f = {0};
    Client c;
    QIOChannelDatagramPeer *peer;
    const guint n = QIO_CHANNEL_DATAGRAM_PEER_MAX_QUEUE + 30;

    fixture_open(&f, AF_INET, TAKE);
    client_open(&c, AF_INET);
    send_numbered(&f, &c, 0, n, 16);
    peer = g_ptr_array_index(f.peers, 0);
    g_assert_cmpuint(qio_channel_datagram_peer_get_queued(peer), ==,
                     QIO_CHANNEL_DATAGRAM_PEER_MAX_QUEUE);
    g_assert_cmpuint(qio_channel_datagram_peer_get_dropped(peer), ==, 30);
    expect_numbered(QIO_CHANNEL(peer), 0, QIO_CHANNEL_DATAGRAM_PEER_MAX_QUEUE,
                    16);
    client_close(&c);
    fixture_close(&f);
}

typedef struct {
    QIOChannel *ioc;
    bool waiting;
    bool woke;
    bool done;
} YieldState;

static void coroutine_fn co_wait_datagram(void *opaque)
{
    YieldState *s = opaque;
    g_autoptr(GError) err = NULL;
    char buf[16] = {0};

    peer_expect_block(s->ioc);
    s->waiting = true;
    qio_channel_yield(s->ioc, G_IO_IN);
    s->waiting = false;
    s->woke = true;
    g_assert_cmpint(qio_channel_read(s->ioc, buf, sizeof(buf), &err), ==, 5);
    g_assert_cmpstr(buf, ==, "hello");
    qio_channel_yield(s->ioc, G_IO_OUT);
    g_assert_cmpint(qio_channel_write(s->ioc, "world", 5, &err), ==, 5);
    g_assert_no_error(err);
    s->done = true;
}

static bool yield_done(gconstpointer data)
{
    return ((const YieldState *)data)->done;
}

/* qio_channel_yield() on a peer returns when a datagram arrives. */
static void test_yield(void)
{
    Fixture f = {0};
    Client c;
    YieldState s = {0};

    fixture_open(&f, AF_INET, TAKE);
    client_open(&c, AF_INET);
    client_send(&c, &f, "first", 5);
    wait_received(&f, 1);
    s.ioc = g_ptr_array_index(f.peers, 0);
    peer_expect(s.ioc, "first", 5);

    qio_coroutine_enter(qio_coroutine_create(co_wait_datagram, &s));
    g_assert_true(s.waiting);
    for (int i = 0; i < 5; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    g_assert_false(s.woke);
    client_send(&c, &f, "hello", 5);
    wait_for(yield_done, &s);
    client_expect(&c, "world", 5);
    client_close(&c);
    fixture_close(&f);
}

static bool cond_set(gconstpointer data)
{
    return *(const GIOCondition *)data != 0;
}

/*
 * Stopping ends every session: what was queued is read, then 0, and a
 * waiting watch fires. Started again, the server knows no one.
 */
static void test_stop(void)
{
    Fixture f = {0};
    Client c[2];
    QIOChannel *peer[2];
    GIOCondition cond = 0;

    fixture_open(&f, AF_INET, TAKE);
    for (guint i = 0; i < 2; i++) {
        client_open(&c[i], AF_INET);
        client_send(&c[i], &f, "before", 6);
        wait_received(&f, i + 1);
        peer[i] = fixture_peer_of(&f, &c[i]);
    }
    peer_expect(peer[1], "before", 6);
    qio_channel_add_watch(peer[1], G_IO_IN, qio_test_watch_cond, &cond, NULL);
    drain_context();
    g_assert_cmpint(cond, ==, 0);

    qio_datagram_server_stop(f.server);
    g_assert_cmpuint(qio_datagram_server_n_peers(f.server), ==, 0);
    wait_for(cond_set, &cond);
    g_assert_cmpint(cond, ==, G_IO_IN);
    peer_expect(peer[0], "before", 6);
    for (guint i = 0; i < 2; i++) {
        g_assert_true(qio_channel_datagram_peer_is_ended(
            QIO_CHANNEL_DATAGRAM_PEER(peer[i])));
        peer_expect_eof(peer[i]);
    }

    qio_datagram_server_start(f.server, NULL);
    client_send(&c[0], &f, "after", 5);
    wait_received(&f, 3);
    g_assert_cmpuint(f.calls, ==, 3);
    for (guint i = 0; i < 2; i++) {
        client_close(&c[i]);
    }
    fixture_close(&f);
}

/*
 * Unix datagram senders bound to a path get their replies; an unbound
 * one cannot be answered: dropped and counted. So is a datagram too long
 * for the server's buffers, which only unix sockets can carry.
 */
static void test_unix(void)
{
    Fixture f = {0};
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *spath = g_build_filename(dir, "server", NULL);
    g_autofree char *apath = g_build_filename(dir, "a", NULL);
    g_autofree char *bpath = g_build_filename(dir, "b", NULL);
    g_autofree char *big = g_malloc0(QIO_DATAGRAM_SERVER_BUFFER_SIZE + 1000);
    Client a, b, anon;
    int sndbuf = 1024 * 1024;

    fixture_start(&f, unix_bound(spath, &f.addr, &f.addrlen), ECHO);
    client_open_unix(&a, apath);
    client_open_unix(&b, bpath);
    client_open_unix(&anon, NULL);

    client_send(&a, &f, "from a", 6);
    client_send(&b, &f, "from b", 6);
    client_send(&anon, &f, "from nobody", 11);
    wait_received(&f, 3);
    wait_echoed(&f, 2);
    g_assert_cmpuint(f.calls, ==, 2);
    g_assert_cmpuint(fixture_stats(&f).unanswerable, ==, 1);
    client_expect(&a, "from a", 6);
    client_expect(&b, "from b", 6);
    client_expect_nothing(&a);
    client_expect_nothing(&b);
    g_assert_true(peer_is(g_ptr_array_index(f.peers, 0), &a));

    setsockopt(a.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    client_send(&a, &f, big, QIO_DATAGRAM_SERVER_BUFFER_SIZE + 1000);
    client_send(&a, &f, "small", 5);
    wait_echoed(&f, 3);
    g_assert_cmpuint(fixture_stats(&f).truncated, ==, 1);
    client_expect(&a, "small", 5);

    client_close(&a);
    client_close(&b);
    client_close(&anon);
    fixture_close(&f);
    g_assert_no_errno(g_unlink(spath));
    g_assert_no_errno(g_rmdir(dir));
}

/*
 * What the peer channel refuses: a datagram longer than the read (it is
 * dropped), blocking mode, writes after a shutdown, and a send the
 * kernel refuses, reported with the peer's address.
 */
static void test_errors(void)
{
    Fixture f = {0};
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *spath = g_build_filename(dir, "server", NULL);
    g_autofree char *apath = g_build_filename(dir, "a", NULL);
    g_autofree char *msg = NULL;
    g_autoptr(GError) err = NULL;
    Client a;
    QIOChannel *peer;
    char buf[10];

    fixture_start(&f, unix_bound(spath, &f.addr, &f.addrlen), TAKE);
    client_open_unix(&a, apath);
    client_send(&a, &f, "a datagram of 31 bytes, or so..", 31);
    client_send(&a, &f, "next", 4);
    wait_received(&f, 2);
    peer = g_ptr_array_index(f.peers, 0);
    g_assert_cmpint(qio_channel_read(peer, buf, sizeof(buf), &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
    g_assert_cmpstr(err->message, ==,
                    "datagram of 31 bytes does not fit in 10");
    g_clear_error(&err);
    peer_expect(peer, "next", 4);

    g_assert_cmpint(qio_channel_set_blocking(peer, true, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_set_blocking(peer, false, &err), ==, 0);

    /* The client is gone: its socket file with it. */
    client_close(&a);
    g_assert_cmpint(qio_channel_write(peer, "x", 1, &err), ==, -1);
    g_assert_nonnull(err);
    msg = g_strdup_printf("send to %s: *", apath);
    g_assert_true(g_pattern_match_simple(msg, err->message));
    g_clear_error(&err);

    g_assert_cmpint(
        qio_channel_shutdown(peer, QIO_CHANNEL_SHUTDOWN_WRITE, &err), ==, 0);
    g_assert_cmpint(qio_channel_write(peer, "x", 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_shutdown(peer, QIO_CHANNEL_SHUTDOWN_READ, &err),
                    ==, 0);
    peer_expect_eof(peer);

    fixture_close(&f);
    g_assert_no_errno(g_unlink(spath));
    g_assert_no_errno(g_rmdir(dir));
}

/* The same over IPv6, where the kernel can. */
static void test_ipv6(void)
{
    Fixture f = {0};
    Client c;
    g_autofree char *text = NULL;

    if (!qio_test_have_ipv6()) {
        g_test_skip("no IPv6 loopback");
        return;
    }
    fixture_open(&f, AF_INET6, ECHO);
    client_open(&c, AF_INET6);
    client_send(&c, &f, "six", 3);
    wait_echoed(&f, 1);
    client_expect(&c, "six", 3);
    text = qio_socket_address_to_string(
        qio_channel_datagram_peer_get_address(g_ptr_array_index(f.peers, 0)));
    g_assert_true(g_str_has_prefix(text, "[::1]:"));
    client_close(&c);
    fixture_close(&f);
}

/* ---------------------------------------------------------------- timing */

#define BENCH_CLIENTS 8
#define BENCH_ROUND 16 /* datagrams per client and round: buffers hold it */
#define BENCH_ROUNDS 100

/* Read every queued datagram of every peer. */
static void drain_peers(Fixture *f)
{
    char buf[256];

    for (guint i = 0; i < f->peers->len; i++) {
        while (qio_channel_read(g_ptr_array_index(f->peers, i), buf,
                                sizeof(buf), NULL) > 0) {
        }
    }
}

/* Seconds the server spent on @rounds rounds of datagrams. */
static double bench_run(guint batch, guint64 *wakeups)
{
    Fixture f = {0};
    Client c[BENCH_CLIENTS];
    char msg[100] = "a datagram of a hundred bytes";
    guint64 total = 0;
    double busy = 0;

    fixture_open(&f, AF_INET, TAKE);
    qio_datagram_server_stop(f.server);
    qio_datagram_server_set_batch_size(f.server, batch);
    qio_datagram_server_start(f.server, NULL);
    for (guint i = 0; i < BENCH_CLIENTS; i++) {
        client_open(&c[i], AF_INET);
    }
    for (guint r = 0; r < BENCH_ROUNDS; r++) {
        gint64 t0;

        for (guint k = 0; k < BENCH_ROUND; k++) {
            for (guint i = 0; i < BENCH_CLIENTS; i++) {
                client_send(&c[i], &f, msg, sizeof(msg));
            }
        }
        total += BENCH_ROUND * BENCH_CLIENTS;
        /* Only the server's side is timed: the sends are the same. */
        t0 = g_get_monotonic_time();
        wait_received(&f, total);
        drain_peers(&f);
        busy += (g_get_monotonic_time() - t0) / 1e6;
    }
    g_assert_cmpuint(fixture_stats(&f).received, ==, total);
    g_assert_cmpuint(fixture_stats(&f).queue_full, ==, 0);
    *wakeups = fixture_stats(&f).wakeups;
    for (guint i = 0; i < BENCH_CLIENTS; i++) {
        client_close(&c[i]);
    }
    fixture_close(&f);
    return busy;
}

/*
 * Not a pass/fail test: the log shows what batching buys (read it with
 * --verbose, or in the .log of `make check`).
 */
static void test_batch_timing(void)
{
    const guint64 n = (guint64)BENCH_ROUNDS * BENCH_ROUND * BENCH_CLIENTS;
    guint batches[] = {1, 8, QIO_DATAGRAM_SERVER_MAX_BATCH};

    for (guint i = 0; i < G_N_ELEMENTS(batches); i++) {
        guint64 wakeups;
        double s = bench_run(batches[i], &wakeups);

        g_test_message("batch %2u: %" G_GUINT64_FORMAT
                       " datagrams in %" G_GUINT64_FORMAT
                       " reads, %.1f ms, %.0f datagrams/s",
                       batches[i], n, wakeups, s * 1e3, n / s);
    }
}

static void client_set_ttl(Client *c, int ttl)
{
    g_assert_no_errno(setsockopt(c->fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)));
}

/*
 * On a socket that keeps control messages, each session holds those of
 * the datagram that began it (IP_RECVTTL: the TTL its sender set); the
 * later datagrams do not change them. Without keeping, there are none.
 */
static void test_control(void)
{
    Fixture f = {.keep_control = true};
    Client a, b;
    int on = 1;
    int fd = udp_bound(AF_INET, &f.addr, &f.addrlen);

    g_assert_no_errno(setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on)));
    fixture_start(&f, fd, TAKE);
    client_open(&a, AF_INET);
    client_open(&b, AF_INET);
    client_set_ttl(&a, 21);
    client_set_ttl(&b, 22);
    client_send(&a, &f, "a1", 2);
    wait_received(&f, 1);
    client_send(&b, &f, "b1", 2);
    wait_received(&f, 2);
    client_set_ttl(&a, 23);
    client_send(&a, &f, "a2", 2);
    wait_received(&f, 3);
    g_assert_cmpint(qio_test_control_int(
                        qio_channel_datagram_peer_get_control(
                            QIO_CHANNEL_DATAGRAM_PEER(fixture_peer_of(&f, &a))),
                        IPPROTO_IP, IP_TTL),
                    ==, 21);
    g_assert_cmpint(qio_test_control_int(
                        qio_channel_datagram_peer_get_control(
                            QIO_CHANNEL_DATAGRAM_PEER(fixture_peer_of(&f, &b))),
                        IPPROTO_IP, IP_TTL),
                    ==, 22);
    client_close(&a);
    client_close(&b);
    fixture_close(&f);

    f = (Fixture){0};
    fixture_open(&f, AF_INET, TAKE);
    client_open(&a, AF_INET);
    client_send(&a, &f, "a1", 2);
    wait_received(&f, 1);
    g_assert_null(qio_channel_datagram_peer_get_control(
        QIO_CHANNEL_DATAGRAM_PEER(fixture_peer_of(&f, &a))));
    client_close(&a);
    fixture_close(&f);
}

static const QIOTestCase cases[] = {
    {"/datagram-server/sessions", test_sessions},
    {"/datagram-server/control", test_control},
    {"/datagram-server/echo", test_echo},
    {"/datagram-server/many-clients", test_many_clients},
    {"/datagram-server/refuse", test_refuse},
    {"/datagram-server/end-and-close", test_end_and_close},
    {"/datagram-server/unreferenced", test_unreferenced},
    {"/datagram-server/queue/limit", test_queue_limit},
    {"/datagram-server/queue/default", test_queue_default},
    {"/datagram-server/yield", test_yield},
    {"/datagram-server/stop", test_stop},
    {"/datagram-server/unix", test_unix},
    {"/datagram-server/errors", test_errors},
    {"/datagram-server/ipv6", test_ipv6},
    {"/datagram-server/batch-timing", test_batch_timing},
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* GLib opens the default context's wakeup fd once; do it up front. */
    g_main_context_default();
    qio_test_add_cases(cases, G_N_ELEMENTS(cases), NULL);
    return g_test_run();
}
