/*
 * libqio unit tests - QIOChannelSocket with datagram sockets
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "qio/channel-socket.h"
#include "test-util.h"

#define CH(sioc) QIO_CHANNEL(sioc)

/* ---------------------------------------------------------------- places */

typedef enum {
    KIND_UDP4,
    KIND_UDP6,
    KIND_UNIX,
    KIND_ABSTRACT,
} DgramKind;

static const char *const kind_names[] = {
    [KIND_UDP4] = "udp4",
    [KIND_UDP6] = "udp6",
    [KIND_UNIX] = "unix",
    [KIND_ABSTRACT] = "abstract",
};

/* Where the sockets of one test are bound: fresh addresses of one kind. */
typedef struct {
    DgramKind kind;
    char *dir;
    unsigned count;
} Place;

/* Returns FALSE (test skipped) if the kind is not available here. */
static gboolean place_open(Place *pl, DgramKind kind)
{
    memset(pl, 0, sizeof(*pl));
    pl->kind = kind;
    if (kind == KIND_UDP6 && !qio_test_have_ipv6()) {
        g_test_skip("IPv6 loopback is not available");
        return FALSE;
    }
    if (kind == KIND_UNIX) {
        pl->dir = qio_test_make_tmpdir();
    }
    return TRUE;
}

/* The sockets must have removed their files: the directory is empty. */
static void place_close(Place *pl)
{
    if (pl->dir) {
        g_assert_cmpint(g_rmdir(pl->dir), ==, 0);
    }
    g_free(pl->dir);
}

static char *random_abstract_name(void)
{
    return g_strdup_printf("qio-dgram-%08x%08x", g_test_rand_int(),
                           g_test_rand_int());
}

/* A new local address of the place's kind (port 0 for UDP). */
static GSocketConnectable *place_address(Place *pl)
{
    g_autofree char *name = NULL;

    switch (pl->kind) {
    case KIND_UDP4:
        return g_network_address_new("127.0.0.1", 0);
    case KIND_UDP6:
        return g_network_address_new("::1", 0);
    case KIND_UNIX:
        name = g_strdup_printf("%s/s%u", pl->dir, pl->count++);
        return G_SOCKET_CONNECTABLE(g_unix_socket_address_new(name));
    case KIND_ABSTRACT:
        name = random_abstract_name();
        return G_SOCKET_CONNECTABLE(g_unix_socket_address_new_with_type(
            name, -1, G_UNIX_SOCKET_ADDRESS_ABSTRACT));
    }
    g_assert_not_reached();
}

/* ---------------------------------------------------------------- sockets */

static QIOChannelSocket *dgram_open(GSocketConnectable *local,
                                    GSocketConnectable *remote,
                                    const QIOChannelSocketOptions *opts)
{
    g_autoptr(GError) err = NULL;
    QIOChannelSocket *sioc = qio_channel_socket_new();

    g_assert_cmpint(
        qio_channel_socket_dgram_sync(sioc, local, remote, opts, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(qio_channel_socket_is_datagram(sioc));
    return sioc;
}

static GSocketAddress *local_address(QIOChannelSocket *sioc)
{
    g_autoptr(GError) err = NULL;
    GSocketAddress *sa = qio_channel_socket_get_local_address(sioc, &err);

    g_assert_no_error(err);
    g_assert_nonnull(sa);
    return sa;
}

static char *local_text(QIOChannelSocket *sioc)
{
    g_autoptr(GSocketAddress) sa = local_address(sioc);

    return qio_socket_address_to_string(sa);
}

static guint16 local_port(QIOChannelSocket *sioc)
{
    g_autoptr(GSocketAddress) sa = local_address(sioc);

    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(sa));
}

/* Bound to a fresh address of @pl, not connected. */
static QIOChannelSocket *bound_at(Place *pl)
{
    g_autoptr(GSocketConnectable) addr = place_address(pl);

    return dgram_open(addr, NULL, NULL);
}

/* Bound to a fresh address of @pl and connected to @peer. */
static QIOChannelSocket *connected_opts(Place *pl, QIOChannelSocket *peer,
                                        const QIOChannelSocketOptions *opts)
{
    g_autoptr(GSocketConnectable) addr = place_address(pl);
    g_autoptr(GSocketAddress) remote = local_address(peer);

    return dgram_open(addr, G_SOCKET_CONNECTABLE(remote), opts);
}

static QIOChannelSocket *connected_to(Place *pl, QIOChannelSocket *peer)
{
    return connected_opts(pl, peer, NULL);
}

/* ---------------------------------------------------------------- I/O */

static void send_buf(QIOChannelSocket *sioc, const void *buf, size_t len)
{
    g_autoptr(GError) err = NULL;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

    g_assert_cmpint(qio_channel_writev(CH(sioc), &iov, 1, &err), ==, len);
    g_assert_no_error(err);
}

static void send_str(QIOChannelSocket *sioc, const char *s)
{
    send_buf(sioc, s, strlen(s));
}

static void sendto_str(QIOChannelSocket *sioc, QIOChannelSocket *to,
                       const char *s)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) sa = local_address(to);
    struct iovec iov = {.iov_base = (void *)s, .iov_len = strlen(s)};

    g_assert_cmpint(qio_channel_socket_sendto(sioc, &iov, 1, sa, &err), ==,
                    iov.iov_len);
    g_assert_no_error(err);
}

/* Read one datagram with qio_channel_readv() and expect @s. */
static void recv_str(QIOChannelSocket *sioc, const char *s)
{
    g_autoptr(GError) err = NULL;
    char buf[256] = "";

    g_assert_cmpint(qio_channel_read(CH(sioc), buf, sizeof(buf) - 1, &err), ==,
                    strlen(s));
    g_assert_no_error(err);
    g_assert_cmpstr(buf, ==, s);
}

/* Nothing is waiting: a non-blocking read says so. */
static void recv_nothing(QIOChannelSocket *sioc)
{
    g_autoptr(GError) err = NULL;
    char buf[16];

    qio_test_set_blocking(CH(sioc), false);
    g_assert_cmpint(qio_channel_read(CH(sioc), buf, sizeof(buf), &err), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    g_assert_no_error(err);
    qio_test_set_blocking(CH(sioc), true);
}

static void assert_same_address(GSocketAddress *got, QIOChannelSocket *owner)
{
    g_autofree char *want = local_text(owner);
    g_autofree char *text = NULL;

    g_assert_nonnull(got);
    text = qio_socket_address_to_string(got);
    g_assert_cmpstr(text, ==, want);
}

/* ---------------------------------------------------------------- cases */

typedef struct {
    void (*func)(DgramKind kind);
    DgramKind kind;
} KindCase;

/* Run a case of one kind; it must not leak descriptors. */
static void run_kind_case(gconstpointer data)
{
    const KindCase *kc = data;
    unsigned before = qio_test_count_fds();

    kc->func(kc->kind);
    g_assert_cmpuint(qio_test_count_fds(), ==, before);
}

static void add_kind_test(const char *path, DgramKind kind,
                          void (*func)(DgramKind kind))
{
    g_autofree char *name = g_strdup_printf("%s/%s", path, kind_names[kind]);
    KindCase *kc = g_new0(KindCase, 1);

    kc->func = func;
    kc->kind = kind;
    g_test_add_data_func_full(name, kc, run_kind_case, g_free);
}

static void add_all_kinds(const char *path, void (*func)(DgramKind kind))
{
    for (int k = KIND_UDP4; k <= KIND_ABSTRACT; k++) {
        add_kind_test(path, k, func);
    }
}

/* --------------------------------------------------------------- boundaries */

/*
 * The largest payload of one datagram, per kind: UDP's limits, less the
 * headers; unix ones are bounded by the sender's SO_SNDBUF (by default
 * about 208 KiB), raised for that by the setup function below.
 */
static const size_t big_sizes[] = {
    [KIND_UDP4] = 65507,
    [KIND_UDP6] = 65487,
    [KIND_UNIX] = 300000,
    [KIND_ABSTRACT] = 300000,
};

#define RECV_ROOM (320 * 1024)

/* What a setup function saw. */
typedef struct {
    int calls;
    int family;
    bool unbound;
} SetupSeen;

/*
 * Runs before bind: raise SO_SNDBUF. The kernel caps the value at
 * net.core.wmem_max (208 KiB by default) and doubles it: at least 416 KiB.
 */
static gboolean raise_sndbuf(int fd, int family, gpointer data, GError **errp)
{
    SetupSeen *seen = data;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int size = 256 * 1024;

    seen->calls++;
    seen->family = family;
    g_assert_no_errno(getsockname(fd, (struct sockaddr *)&ss, &len));
    seen->unbound = family == AF_UNIX
                        ? len == sizeof(sa_family_t)
                        : ((struct sockaddr_in *)&ss)->sin_port == 0;
    g_assert_no_errno(
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)));
    return TRUE;
}

/* Read one datagram into three pieces and compare it with @want. */
static void recv_exact(QIOChannelSocket *sioc, const char *want, size_t len)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *buf = g_malloc0(RECV_ROOM);
    struct iovec iov[3] = {
        {.iov_base = buf, .iov_len = 7},
        {.iov_base = buf + 7, .iov_len = 1000},
        {.iov_base = buf + 1007, .iov_len = RECV_ROOM - 1007},
    };

    g_assert_cmpint(qio_channel_readv(CH(sioc), iov, 3, &err), ==, len);
    g_assert_no_error(err);
    g_assert_true(memcmp(buf, want, len) == 0);
}

/*
 * A batch of datagrams of different sizes, all queued before the first
 * is read (unix queues hold ten by default), then the largest ones one
 * by one: each read returns exactly one datagram, whole, in order.
 */
static void test_boundaries(DgramKind kind)
{
    const size_t batch[] = {1, 2, 0, 100, 1400, 3, 8192, 1};
    const size_t big[] = {20000, 65000, big_sizes[kind]};
    g_autofree char *data = g_malloc(RECV_ROOM);
    g_autoptr(QIOChannelSocket) rx = NULL;
    g_autoptr(QIOChannelSocket) tx = NULL;
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    SetupSeen seen = {0};
    Place pl;

    if (!place_open(&pl, kind)) {
        return;
    }
    qio_test_fill_random(data, RECV_ROOM);
    rx = bound_at(&pl);
    opts.setup = raise_sndbuf;
    opts.setup_data = &seen;
    tx = connected_opts(&pl, rx, &opts);
    g_assert_cmpint(seen.calls, ==, 1);
    g_assert_true(seen.unbound);
    g_assert_cmpint(seen.family, ==,
                    kind == KIND_UDP4   ? AF_INET
                    : kind == KIND_UDP6 ? AF_INET6
                                        : AF_UNIX);
    for (size_t i = 0; i < G_N_ELEMENTS(batch); i++) {
        send_buf(tx, data + i, batch[i]);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(batch); i++) {
        recv_exact(rx, data + i, batch[i]);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(big); i++) {
        send_buf(tx, data + i, big[i]);
        recv_exact(rx, data + i, big[i]);
    }
    recv_nothing(rx);
    g_clear_object(&tx);
    g_clear_object(&rx);
    place_close(&pl);
}

/* --------------------------------------------------------------- truncation */

static void assert_too_large(QIOChannelSocket *sioc, bool use_recvfrom)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) from = NULL;
    char buf[100];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    ssize_t ret;

    if (use_recvfrom) {
        ret = qio_channel_socket_recvfrom(sioc, &iov, 1, &from, &err);
        g_assert_null(from);
    } else {
        ret = qio_channel_readv(CH(sioc), &iov, 1, &err);
    }
    g_assert_cmpint(ret, ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
    g_assert_cmpstr(err->message, ==,
                    "datagram of 1000 bytes does not fit in 100");
}

/*
 * A datagram too long for the buffer is reported and consumed; a peek
 * sees its head and leaves it. The next one is read whole.
 */
static void test_truncation(DgramKind kind)
{
    char big[1000];
    char head[10] = "";
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) rx = NULL;
    g_autoptr(QIOChannelSocket) tx = NULL;
    Place pl;

    if (!place_open(&pl, kind)) {
        return;
    }
    memset(big, 'x', sizeof(big));
    rx = bound_at(&pl);
    tx = connected_to(&pl, rx);

    send_buf(tx, big, sizeof(big));
    send_str(tx, "next");
    assert_too_large(rx, false);
    recv_str(rx, "next");

    send_buf(tx, big, sizeof(big));
    send_str(tx, "after");
    g_assert_cmpint(qio_channel_readv_full(
                        CH(rx), &(struct iovec){head, sizeof(head)}, 1, NULL,
                        NULL, QIO_CHANNEL_READ_FLAG_MSG_PEEK, &err),
                    ==, sizeof(head));
    g_assert_no_error(err);
    g_assert_true(memcmp(head, big, sizeof(head)) == 0);
    assert_too_large(rx, true);
    recv_str(rx, "after");

    g_clear_object(&tx);
    g_clear_object(&rx);
    place_close(&pl);
}

/* ---------------------------------------------------------------- senders */

/* recvfrom names the sender as the sender names itself. */
static void test_recvfrom_sender(DgramKind kind)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) from = NULL;
    g_autoptr(QIOChannelSocket) rx = NULL;
    g_autoptr(QIOChannelSocket) tx1 = NULL;
    g_autoptr(QIOChannelSocket) tx2 = NULL;
    char buf[16] = "";
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
    Place pl;

    if (!place_open(&pl, kind)) {
        return;
    }
    rx = bound_at(&pl);
    tx1 = connected_to(&pl, rx);
    tx2 = bound_at(&pl);
    g_assert_null(qio_channel_socket_get_last_sender(rx));

    send_str(tx1, "one");
    g_assert_cmpint(qio_channel_socket_recvfrom(rx, &iov, 1, &from, &err), ==,
                    3);
    g_assert_no_error(err);
    g_assert_cmpstr(buf, ==, "one");
    assert_same_address(from, tx1);
    assert_same_address(qio_channel_socket_get_last_sender(rx), tx1);

    /* readv records the sender too. */
    sendto_str(tx2, rx, "two");
    recv_str(rx, "two");
    assert_same_address(qio_channel_socket_get_last_sender(rx), tx2);

    g_clear_object(&tx1);
    g_clear_object(&tx2);
    g_clear_object(&rx);
    place_close(&pl);
}

/* A connected socket hears its peer only; unconnected, anyone. */
static void test_connected_ignores_others(DgramKind kind)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    g_autoptr(QIOChannelSocket) c = NULL;
    g_autoptr(GSocketAddress) to_b = NULL;
    struct iovec iov = {.iov_base = "intruder", .iov_len = 8};
    Place pl;

    if (!place_open(&pl, kind)) {
        return;
    }
    a = bound_at(&pl);
    b = connected_to(&pl, a);
    c = bound_at(&pl);
    to_b = local_address(b);

    /* UDP drops the intruder's datagram; unix refuses to send it. */
    if (qio_channel_socket_sendto(c, &iov, 1, to_b, &err) < 0) {
        g_assert_true(kind == KIND_UNIX || kind == KIND_ABSTRACT);
        g_assert_error(err, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    }
    sendto_str(a, b, "peer");
    recv_str(b, "peer");
    recv_nothing(b);

    g_clear_object(&a);
    g_clear_object(&b);
    g_clear_object(&c);
    place_close(&pl);
}

/* ---------------------------------------------------------------- control */

/*
 * With keep-control, each datagram read (a peek too) leaves its control
 * messages: here the TTL (hop limit) the sender set, which IP_RECVTTL
 * (IPV6_RECVHOPLIMIT) asks for. Without it, none are kept.
 */
static void test_keep_control(DgramKind kind)
{
    bool v6 = kind == KIND_UDP6;
    int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
    int ask = v6 ? IPV6_RECVHOPLIMIT : IP_RECVTTL;
    int type = v6 ? IPV6_HOPLIMIT : IP_TTL;
    int set = v6 ? IPV6_UNICAST_HOPS : IP_TTL;
    g_autoptr(QIOChannelSocket) rx = NULL;
    g_autoptr(QIOChannelSocket) tx = NULL;
    g_autoptr(GError) err = NULL;
    int on = 1, hops = 37;
    char buf[8];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    Place pl;

    if (!place_open(&pl, kind)) {
        return;
    }
    rx = bound_at(&pl);
    tx = connected_to(&pl, rx);
    g_assert_cmpint(
        setsockopt(qio_channel_socket_get_fd(rx), level, ask, &on, sizeof(on)),
        ==, 0);
    g_assert_cmpint(setsockopt(qio_channel_socket_get_fd(tx), level, set, &hops,
                               sizeof(hops)),
                    ==, 0);

    send_str(tx, "off");
    recv_str(rx, "off");
    g_assert_null(qio_channel_socket_get_last_control(rx));

    qio_channel_socket_set_keep_control(rx, TRUE);
    send_str(tx, "peek");
    g_assert_cmpint(qio_channel_readv_full(CH(rx), &iov, 1, NULL, NULL,
                                           QIO_CHANNEL_READ_FLAG_MSG_PEEK,
                                           &err),
                    ==, 4);
    g_assert_no_error(err);
    g_assert_cmpint(qio_test_control_int(
                        qio_channel_socket_get_last_control(rx), level, type),
                    ==, 37);
    hops = 12;
    g_assert_cmpint(setsockopt(qio_channel_socket_get_fd(tx), level, set, &hops,
                               sizeof(hops)),
                    ==, 0);
    recv_str(rx, "peek");
    send_str(tx, "next");
    recv_str(rx, "next");
    g_assert_cmpint(qio_test_control_int(
                        qio_channel_socket_get_last_control(rx), level, type),
                    ==, 12);

    qio_channel_close(CH(rx), NULL);
    g_assert_null(qio_channel_socket_get_last_control(rx));
    place_close(&pl);
}

/* ---------------------------------------------------------------- relaying */

/* UDP-SENDTO: writes on an unconnected socket go to the send address. */
static void test_send_address(DgramKind kind)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) tx = NULL;
    g_autoptr(QIOChannelSocket) rx = NULL;
    g_autoptr(GSocketAddress) to = NULL;
    struct iovec iov = {.iov_base = "x", .iov_len = 1};
    Place pl;

    if (!place_open(&pl, kind)) {
        return;
    }
    tx = bound_at(&pl);
    rx = bound_at(&pl);
    to = local_address(rx);

    g_assert_cmpint(qio_channel_writev(CH(tx), &iov, 1, &err), ==, -1);
    g_assert_nonnull(err);
    g_assert_true(g_str_has_prefix(err->message, "send datagram: "));
    g_clear_error(&err);

    qio_channel_socket_set_send_address(tx, to);
    qio_test_write_str(CH(tx), "to rx");
    recv_str(rx, "to rx");
    assert_same_address(qio_channel_socket_get_last_sender(rx), tx);

    qio_channel_socket_set_send_address(tx, NULL);
    g_assert_cmpint(qio_channel_writev(CH(tx), &iov, 1, &err), ==, -1);
    g_assert_nonnull(err);

    g_clear_object(&tx);
    g_clear_object(&rx);
    place_close(&pl);
}

/* UDP-RECVFROM: writes answer whoever sent the last datagram read. */
static void test_reply_to_sender(DgramKind kind)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) srv = NULL;
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    struct iovec iov = {.iov_base = "early", .iov_len = 5};
    Place pl;

    if (!place_open(&pl, kind)) {
        return;
    }
    srv = bound_at(&pl);
    a = connected_to(&pl, srv);
    b = connected_to(&pl, srv);
    qio_channel_socket_set_reply_to_sender(srv, TRUE);

    g_assert_cmpint(qio_channel_writev(CH(srv), &iov, 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
    g_assert_cmpstr(err->message, ==,
                    "no datagram received yet: nobody to answer");

    send_str(a, "from a");
    send_str(b, "from b");
    recv_str(srv, "from a");
    recv_str(srv, "from b");
    qio_test_write_str(CH(srv), "to b");
    recv_str(b, "to b");
    recv_nothing(a);

    send_str(a, "again");
    recv_str(srv, "again");
    qio_test_write_str(CH(srv), "to a");
    recv_str(a, "to a");
    recv_nothing(b);

    g_clear_object(&a);
    g_clear_object(&b);
    g_clear_object(&srv);
    place_close(&pl);
}

/* Before anything was read, a reply goes to the send address if set. */
static void test_reply_before_receiving(void)
{
    g_autoptr(GSocketConnectable) lo = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) srv = dgram_open(lo, NULL, NULL);
    g_autoptr(QIOChannelSocket) dflt = dgram_open(lo, NULL, NULL);
    g_autoptr(QIOChannelSocket) a = dgram_open(lo, NULL, NULL);
    g_autoptr(GSocketAddress) to = local_address(dflt);

    qio_channel_socket_set_reply_to_sender(srv, TRUE);
    qio_channel_socket_set_send_address(srv, to);
    qio_test_write_str(CH(srv), "first");
    recv_str(dflt, "first");
    sendto_str(a, srv, "hello");
    recv_str(srv, "hello");
    qio_test_write_str(CH(srv), "answer");
    recv_str(a, "answer");
    recv_nothing(dflt);
}

/* ---------------------------------------------------------------- filter */

typedef struct {
    char *allowed;
    int calls;
    int destroyed;
} FilterData;

static gboolean only_allowed(GSocketAddress *from, gpointer data)
{
    FilterData *fd = data;
    g_autofree char *text = qio_socket_address_to_string(from);

    fd->calls++;
    return g_str_equal(text, fd->allowed);
}

static void filter_destroyed(gpointer data)
{
    FilterData *fd = data;

    fd->destroyed++;
}

/* A rejected sender's datagrams are dropped; the next accepted one is read. */
static void test_sender_filter(DgramKind kind)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) from = NULL;
    g_autoptr(QIOChannelSocket) srv = NULL;
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    char buf[16] = "";
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
    FilterData fd = {0};
    Place pl;

    if (!place_open(&pl, kind)) {
        return;
    }
    srv = bound_at(&pl);
    a = connected_to(&pl, srv);
    b = connected_to(&pl, srv);
    fd.allowed = local_text(b);
    qio_channel_socket_set_sender_filter(srv, only_allowed, &fd,
                                         filter_destroyed);

    send_str(a, "a1");
    send_str(b, "b1");
    recv_str(srv, "b1");
    assert_same_address(qio_channel_socket_get_last_sender(srv), b);

    send_str(a, "a2");
    send_str(b, "b2");
    g_assert_cmpint(qio_channel_socket_recvfrom(srv, &iov, 1, &from, &err), ==,
                    2);
    g_assert_no_error(err);
    g_assert_cmpstr(buf, ==, "b2");
    assert_same_address(from, b);

    /* A peek drops the rejected datagram too, and leaves the accepted one. */
    send_str(a, "a3");
    send_str(b, "b3");
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(qio_channel_readv_full(CH(srv), &iov, 1, NULL, NULL,
                                           QIO_CHANNEL_READ_FLAG_MSG_PEEK,
                                           &err),
                    ==, 2);
    g_assert_cmpstr(buf, ==, "b3");
    recv_str(srv, "b3");

    /* Only rejected ones waiting: a non-blocking read would block. */
    send_str(a, "a4");
    recv_nothing(srv);
    g_assert_cmpint(fd.calls, >=, 7);

    qio_channel_socket_set_sender_filter(srv, NULL, NULL, NULL);
    g_assert_cmpint(fd.destroyed, ==, 1);
    send_str(a, "a5");
    recv_str(srv, "a5");

    g_free(fd.allowed);
    g_clear_object(&a);
    g_clear_object(&b);
    g_clear_object(&srv);
    place_close(&pl);
}

static void test_filter_destroyed_on_finalize(void)
{
    FilterData fd = {0};
    QIOChannelSocket *sioc = qio_channel_socket_new();

    qio_channel_socket_set_sender_filter(sioc, only_allowed, &fd,
                                         filter_destroyed);
    g_object_unref(sioc);
    g_assert_cmpint(fd.destroyed, ==, 1);
}

/* ---------------------------------------------------------------- features */

static void test_features(DgramKind kind)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) remote = NULL;
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    bool is_unix = kind == KIND_UNIX || kind == KIND_ABSTRACT;
    Place pl;

    if (!place_open(&pl, kind)) {
        return;
    }
    a = bound_at(&pl);
    b = connected_to(&pl, a);
    g_assert_false(qio_channel_has_feature(CH(a), QIO_CHANNEL_FEATURE_LISTEN));
    g_assert_true(qio_channel_has_feature(CH(a), QIO_CHANNEL_FEATURE_SHUTDOWN));
    g_assert_true(
        qio_channel_has_feature(CH(a), QIO_CHANNEL_FEATURE_READ_MSG_PEEK));
    g_assert_false(
        qio_channel_has_feature(CH(a), QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY));
    g_assert_cmpint(qio_channel_has_feature(CH(a), QIO_CHANNEL_FEATURE_FD_PASS),
                    ==, is_unix);
    g_assert_cmpint(qio_channel_socket_is_unix(a), ==, is_unix);

    /* Unconnected: no peer, cleanly. Connected: the peer. */
    g_assert_null(qio_channel_socket_get_remote_address(a, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
    remote = qio_channel_socket_get_remote_address(b, NULL);
    assert_same_address(remote, a);

    g_assert_cmpint(fcntl(qio_channel_socket_get_fd(a), F_GETFD), ==,
                    FD_CLOEXEC);
    g_clear_object(&a);
    g_clear_object(&b);
    place_close(&pl);
}

static gpointer read_one(gpointer data)
{
    char buf[16];

    return GSIZE_TO_POINTER(qio_channel_read(CH(data), buf, sizeof(buf), NULL) +
                            1);
}

/* Shutting down wakes a blocked reader, even on an unconnected socket. */
static void test_shutdown(DgramKind kind)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) a = NULL;
    GThread *reader;
    Place pl;

    if (!place_open(&pl, kind)) {
        return;
    }
    a = bound_at(&pl);
    reader = g_thread_new("dgram-reader", read_one, a);
    g_assert_cmpint(
        qio_channel_shutdown(CH(a), QIO_CHANNEL_SHUTDOWN_BOTH, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(GPOINTER_TO_SIZE(g_thread_join(reader)), ==, 1);
    g_clear_object(&a);
    place_close(&pl);
}

/* Stream sockets are not datagram sockets and refuse their calls. */
static void test_stream_refused(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) lo = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) lsn = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) none = qio_channel_socket_new();
    char buf[4];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};

    g_assert_cmpint(qio_channel_socket_listen_sync(lsn, lo, NULL, NULL), ==, 0);
    g_assert_false(qio_channel_socket_is_datagram(lsn));
    g_assert_cmpint(qio_channel_socket_recvfrom(lsn, &iov, 1, NULL, &err), ==,
                    -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_socket_sendto(lsn, &iov, 1, NULL, &err), ==,
                    -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    g_clear_error(&err);

    g_assert_false(qio_channel_socket_is_datagram(none));
    g_assert_cmpint(qio_channel_socket_recvfrom(none, &iov, 1, NULL, &err), ==,
                    -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
}

/* ---------------------------------------------------------------- errors */

static void test_bind_in_use(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) lo = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) first = dgram_open(lo, NULL, NULL);
    guint16 port = local_port(first);
    g_autoptr(GSocketConnectable) same =
        g_network_address_new("127.0.0.1", port);
    g_autoptr(QIOChannelSocket) second = qio_channel_socket_new();
    g_autofree char *expect =
        g_strdup_printf("bind to 127.0.0.1:%u: Address already in use", port);
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;

    opts.reuseaddr = false;
    g_assert_cmpint(
        qio_channel_socket_dgram_sync(second, same, NULL, &opts, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_cmpstr(err->message, ==, expect);
    g_clear_error(&err);

    /* The first socket (port 0) did not set SO_REUSEADDR: no sharing. */
    g_assert_cmpint(
        qio_channel_socket_dgram_sync(second, same, NULL, NULL, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_cmpint(qio_channel_socket_get_fd(second), ==, -1);
}

static void test_connect_unix_missing(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "none", NULL);
    g_autofree char *expect =
        g_strdup_printf("connect to %s: No such file or directory", path);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();

    g_assert_cmpint(qio_channel_socket_dgram_sync(sioc, NULL, addr, NULL, &err),
                    ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_cmpstr(err->message, ==, expect);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* Too long for UDP: an error that names the destination. */
static void test_sendto_too_long(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) lo = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) rx = dgram_open(lo, NULL, NULL);
    g_autoptr(QIOChannelSocket) tx = dgram_open(lo, NULL, NULL);
    g_autoptr(GSocketAddress) to = local_address(rx);
    g_autofree char *text = qio_socket_address_to_string(to);
    g_autofree char *expect =
        g_strdup_printf("send to %s: Message too long", text);
    g_autofree char *big = g_malloc0(70000);
    struct iovec iov = {.iov_base = big, .iov_len = 70000};

    g_assert_cmpint(qio_channel_socket_sendto(tx, &iov, 1, to, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
    g_assert_cmpstr(err->message, ==, expect);
    g_clear_error(&err);

    /* Connected: the peer is named too. */
    g_clear_object(&tx);
    tx = dgram_open(NULL, G_SOCKET_CONNECTABLE(to), NULL);
    g_assert_cmpint(qio_channel_writev(CH(tx), &iov, 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
    g_assert_cmpstr(err->message, ==, expect);
}

/* ---------------------------------------------------------------- modes */

/* A non-blocking preset applies; reads would block, then wait for data. */
static void test_nonblocking(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) lo = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) rx = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) tx = NULL;
    g_autoptr(GSocketAddress) to = NULL;
    char buf[8] = "";

    qio_test_set_blocking(CH(rx), false);
    g_assert_cmpint(qio_channel_socket_dgram_sync(rx, lo, NULL, NULL, &err), ==,
                    0);
    g_assert_no_error(err);
    g_assert_true(fcntl(qio_channel_socket_get_fd(rx), F_GETFL) & O_NONBLOCK);
    g_assert_cmpint(qio_channel_read(CH(rx), buf, sizeof(buf), &err), ==,
                    QIO_CHANNEL_ERR_BLOCK);

    to = local_address(rx);
    tx = dgram_open(NULL, G_SOCKET_CONNECTABLE(to), NULL);
    send_str(tx, "ping");
    qio_channel_wait(CH(rx), G_IO_IN);
    g_assert_cmpint(qio_channel_read(CH(rx), buf, sizeof(buf) - 1, &err), ==,
                    4);
    g_assert_no_error(err);
    g_assert_cmpstr(buf, ==, "ping");
}

/* "" is every address: IPv4 senders reach it even on a dual-stack socket. */
static void test_wildcard(void)
{
    g_autoptr(GSocketConnectable) any = g_network_address_new("", 0);
    g_autoptr(QIOChannelSocket) rx = dgram_open(any, NULL, NULL);
    guint16 port = local_port(rx);
    g_autoptr(GSocketConnectable) v4 = g_network_address_new("127.0.0.1", port);
    g_autoptr(QIOChannelSocket) tx = dgram_open(NULL, v4, NULL);

    send_str(tx, "v4");
    recv_str(rx, "v4");
    if (qio_test_have_ipv6()) {
        g_autoptr(GSocketConnectable) v6 = g_network_address_new("::1", port);
        g_autoptr(QIOChannelSocket) tx6 = dgram_open(NULL, v6, NULL);

        send_str(tx6, "v6");
        recv_str(rx, "v6");
    }
}

/* A host name is resolved; a local wildcard binds the remote's family. */
static void test_connect_by_name(void)
{
    g_autoptr(GSocketConnectable) lo = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) rx = dgram_open(lo, NULL, NULL);
    g_autoptr(GSocketConnectable) byname =
        g_network_address_new("localhost", local_port(rx));
    g_autoptr(GSocketConnectable) any = g_network_address_new("0.0.0.0", 0);
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;
    g_autoptr(QIOChannelSocket) tx = NULL;

    opts.family = AF_INET;
    tx = dgram_open(any, byname, &opts);
    send_str(tx, "named");
    recv_str(rx, "named");
}

/* ---------------------------------------------------------------- fds */

/* A pipe's write end travels over a unix datagram socket. */
static void test_fd_pass(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree int *fds = NULL;
    size_t nfds = 0;
    int pipefd[2];
    char c = 0;
    char buf[8] = "";
    struct iovec iov = {.iov_base = "F", .iov_len = 1};
    struct iovec riov = {.iov_base = buf, .iov_len = sizeof(buf)};
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    Place pl;

    place_open(&pl, KIND_UNIX);
    a = bound_at(&pl);
    b = connected_to(&pl, a);
    g_assert_true(qio_channel_has_feature(CH(b), QIO_CHANNEL_FEATURE_FD_PASS));
    qio_test_make_pipe(pipefd);

    g_assert_cmpint(
        qio_channel_writev_full(CH(b), &iov, 1, &pipefd[1], 1, 0, &err), ==, 1);
    g_assert_no_error(err);
    close(pipefd[1]);
    g_assert_cmpint(
        qio_channel_readv_full(CH(a), &riov, 1, &fds, &nfds, 0, &err), ==, 1);
    g_assert_no_error(err);
    g_assert_cmpstr(buf, ==, "F");
    g_assert_cmpuint(nfds, ==, 1);
    g_assert_cmpint(fcntl(fds[0], F_GETFD), ==, FD_CLOEXEC);
    g_assert_cmpint(write(fds[0], "z", 1), ==, 1);
    close(fds[0]);
    g_assert_cmpint(read(pipefd[0], &c, 1), ==, 1);
    g_assert_cmpint(c, ==, 'z');
    close(pipefd[0]);

    g_clear_object(&a);
    g_clear_object(&b);
    place_close(&pl);
}

/* A socketpair given to new_fd: datagrams, fds, an anonymous sender. */
static void test_new_fd_socketpair(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketAddress) from = NULL;
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    g_autofree char *text = NULL;
    char buf[8] = "";
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
    int sv[2];

    g_assert_no_errno(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
    a = qio_channel_socket_new_fd(sv[0], &err);
    g_assert_no_error(err);
    b = qio_channel_socket_new_fd(sv[1], &err);
    g_assert_no_error(err);
    g_assert_true(qio_channel_socket_is_datagram(a));
    g_assert_false(qio_channel_has_feature(CH(a), QIO_CHANNEL_FEATURE_LISTEN));
    g_assert_true(qio_channel_has_feature(CH(a), QIO_CHANNEL_FEATURE_FD_PASS));

    send_str(b, "abc");
    send_str(b, "de");
    g_assert_cmpint(qio_channel_socket_recvfrom(a, &iov, 1, &from, &err), ==,
                    3);
    g_assert_no_error(err);
    text = qio_socket_address_to_string(from);
    g_assert_cmpstr(text, ==, "(unnamed)");
    recv_str(a, "de");
}

/* A UDP socket made elsewhere is recognised by its type. */
static void test_new_fd_udp(void)
{
    g_autoptr(GError) err = NULL;
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    g_autoptr(QIOChannelSocket) rx = NULL;
    g_autoptr(QIOChannelSocket) tx = NULL;
    g_autoptr(GSocketAddress) to = NULL;

    g_assert_cmpint(fd, >=, 0);
    g_assert_no_errno(bind(fd, (struct sockaddr *)&sin, sizeof(sin)));
    rx = qio_channel_socket_new_fd(fd, &err);
    g_assert_no_error(err);
    g_assert_true(qio_channel_socket_is_datagram(rx));
    g_assert_false(
        qio_channel_has_feature(CH(rx), QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY));
    to = local_address(rx);
    tx = dgram_open(NULL, G_SOCKET_CONNECTABLE(to), NULL);
    send_str(tx, "udp");
    recv_str(rx, "udp");
    assert_same_address(qio_channel_socket_get_last_sender(rx), tx);
}

/* --------------------------------------------------------------- unix files */

static void test_unix_unlink_on_close(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    g_autoptr(QIOChannelSocket) sioc = dgram_open(addr, NULL, NULL);

    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(qio_channel_close(CH(sioc), NULL), ==, 0);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_false(qio_channel_socket_is_datagram(sioc));
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* A socket file nobody serves any more, as a crashed program leaves. */
static void make_stale_socket(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    g_assert_no_errno(bind(fd, (struct sockaddr *)&sun, sizeof(sun)));
    close(fd);
}

static void test_unix_unlink_early(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autofree char *expect =
        g_strdup_printf("bind to %s: Address already in use", path);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    QIOChannelSocketOptions opts = QIO_CHANNEL_SOCKET_OPTIONS_INIT;

    make_stale_socket(path);
    g_assert_cmpint(qio_channel_socket_dgram_sync(sioc, addr, NULL, NULL, &err),
                    ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_cmpstr(err->message, ==, expect);
    /* The failed call must not remove a file it did not create. */
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));

    opts.unlink_early = true;
    g_clear_object(&sioc);
    sioc = dgram_open(addr, NULL, &opts);
    g_clear_object(&sioc);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* ---------------------------------------------------------------- async */

typedef struct {
    GMainLoop *loop;
    GObject *source;
    GError *error;
    int done;
    int frees;
} AsyncResult;

static void async_done(QIOTask *task, gpointer data)
{
    AsyncResult *r = data;

    r->source = qio_task_get_source(task);
    qio_task_propagate_error(task, &r->error);
    r->done++;
    g_main_loop_quit(r->loop);
}

static void async_free(gpointer data)
{
    AsyncResult *r = data;

    g_assert_cmpint(r->done, ==, 1);
    r->frees++;
}

/* Start dgram_async; it must not complete before returning. */
static void dgram_async_start(QIOChannelSocket *sioc, GSocketConnectable *local,
                              GSocketConnectable *remote, AsyncResult *r)
{
    memset(r, 0, sizeof(*r));
    r->loop = g_main_loop_new(NULL, FALSE);
    qio_channel_socket_dgram_async(sioc, local, remote, NULL, async_done, r,
                                   async_free, NULL);
    g_assert_cmpint(r->done, ==, 0);
}

static void dgram_async_finish(AsyncResult *r, QIOChannelSocket *sioc)
{
    qio_test_run_loop(r->loop);
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    g_assert_cmpint(r->done, ==, 1);
    g_assert_cmpint(r->frees, ==, 1);
    g_assert_true(r->source == G_OBJECT(sioc));
    g_main_loop_unref(r->loop);
}

static void test_async_connect(void)
{
    g_autoptr(GSocketConnectable) lo = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) rx = dgram_open(lo, NULL, NULL);
    g_autoptr(GSocketConnectable) byname =
        g_network_address_new("127.0.0.1", local_port(rx));
    g_autoptr(QIOChannelSocket) tx = qio_channel_socket_new();
    AsyncResult r;

    qio_test_set_blocking(CH(tx), false);
    dgram_async_start(tx, lo, byname, &r);
    dgram_async_finish(&r, tx);
    g_assert_no_error(r.error);
    g_assert_true(qio_channel_socket_is_datagram(tx));
    g_assert_true(fcntl(qio_channel_socket_get_fd(tx), F_GETFL) & O_NONBLOCK);
    send_str(tx, "async");
    recv_str(rx, "async");
    assert_same_address(qio_channel_socket_get_last_sender(rx), tx);
}

static void test_async_bind_in_use(void)
{
    g_autoptr(GSocketConnectable) lo = g_network_address_new("127.0.0.1", 0);
    g_autoptr(QIOChannelSocket) first = dgram_open(lo, NULL, NULL);
    guint16 port = local_port(first);
    g_autoptr(GSocketConnectable) same =
        g_network_address_new("127.0.0.1", port);
    g_autoptr(QIOChannelSocket) second = qio_channel_socket_new();
    g_autofree char *expect =
        g_strdup_printf("bind to 127.0.0.1:%u: Address already in use", port);
    AsyncResult r;

    dgram_async_start(second, same, NULL, &r);
    dgram_async_finish(&r, second);
    g_assert_error(r.error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
    g_assert_cmpstr(r.error->message, ==, expect);
    g_assert_cmpint(qio_channel_socket_get_fd(second), ==, -1);
    g_clear_error(&r.error);
}

/* Closed before the worker is done: its socket and file are dropped. */
static void test_async_close(void)
{
    g_autofree char *dir = qio_test_make_tmpdir();
    g_autofree char *path = g_build_filename(dir, "sock", NULL);
    g_autoptr(GSocketConnectable) addr =
        G_SOCKET_CONNECTABLE(g_unix_socket_address_new(path));
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    unsigned fds = qio_test_count_fds();
    AsyncResult r;

    dgram_async_start(sioc, addr, NULL, &r);
    g_assert_cmpint(qio_channel_close(CH(sioc), NULL), ==, 0);
    dgram_async_finish(&r, sioc);
    g_assert_error(r.error, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
    g_assert_cmpint(qio_channel_socket_get_fd(sioc), ==, -1);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(qio_test_count_fds(), ==, fds);
    g_clear_error(&r.error);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* ---------------------------------------------------------------- main */

static const QIOTestCase cases[] = {
    {"/dgram/reply/before-receiving", test_reply_before_receiving},
    {"/dgram/filter/destroyed-on-finalize", test_filter_destroyed_on_finalize},
    {"/dgram/stream-refused", test_stream_refused},
    {"/dgram/bind-in-use", test_bind_in_use},
    {"/dgram/connect/unix-missing", test_connect_unix_missing},
    {"/dgram/connect/by-name", test_connect_by_name},
    {"/dgram/sendto-too-long", test_sendto_too_long},
    {"/dgram/nonblocking", test_nonblocking},
    {"/dgram/wildcard", test_wildcard},
    {"/dgram/fd-pass", test_fd_pass},
    {"/dgram/new-fd/socketpair", test_new_fd_socketpair},
    {"/dgram/new-fd/udp", test_new_fd_udp},
    {"/dgram/unix/unlink-on-close", test_unix_unlink_on_close},
    {"/dgram/unix/unlink-early", test_unix_unlink_early},
};

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* GLib opens the default context's wakeup fd once; do it up front. */
    g_main_context_default();

    add_all_kinds("/dgram/boundaries", test_boundaries);
    add_all_kinds("/dgram/truncation", test_truncation);
    add_all_kinds("/dgram/recvfrom", test_recvfrom_sender);
    add_all_kinds("/dgram/connected-ignores-others",
                  test_connected_ignores_others);
    add_all_kinds("/dgram/send-address", test_send_address);
    add_all_kinds("/dgram/reply", test_reply_to_sender);
    add_all_kinds("/dgram/filter", test_sender_filter);
    add_all_kinds("/dgram/features", test_features);
    add_all_kinds("/dgram/shutdown", test_shutdown);
    /* Unix sockets keep none: their control messages carry descriptors. */
    add_kind_test("/dgram/keep-control", KIND_UDP4, test_keep_control);
    add_kind_test("/dgram/keep-control", KIND_UDP6, test_keep_control);
    qio_test_add_cases(cases, G_N_ELEMENTS(cases), NULL);

    g_test_add_func("/dgram/async/connect", test_async_connect);
    g_test_add_func("/dgram/async/bind-in-use", test_async_bind_in_use);
    g_test_add_func("/dgram/async/close", test_async_close);
    return g_test_run();
}
