/*
 * libqio unit tests - QIONetListener
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The listener runs in this thread's GMainLoop. Clients are plain sockets
 * connected without blocking (the kernel finishes the handshake into the
 * backlog by itself), or a helper thread where the API under test blocks.
 * Windows of "nothing must happen" are timeout sources on the same loop;
 * nothing waits by sleeping.
 */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qio/net-listener.h"
#include "test-util.h"

/* Upper bound on any wait for something that must happen. */
#define GUARD_MS 10000

/* How long "nothing happens" is watched for. */
#define QUIET_MS 300

/* ---------------------------------------------------------------- loop */

/* Clients handed to a client function, and the loop that waits for them. */
typedef struct {
    GMainLoop *loop;
    GPtrArray *clients; /* QIOChannelSocket, accepted, referenced */
    guint want;         /* quit the loop once this many arrived */
    guint notified;     /* calls of the data's destroy notify */
    gboolean timed_out;
} Accepted;

static void accepted_init(Accepted *acc, GMainContext *ctx)
{
    *acc = (Accepted){
        .loop = g_main_loop_new(ctx, FALSE),
        .clients = g_ptr_array_new_with_free_func(g_object_unref),
        .want = G_MAXUINT,
    };
}

static void accepted_clear(Accepted *acc)
{
    g_ptr_array_unref(acc->clients);
    g_main_loop_unref(acc->loop);
}

static void on_client(QIONetListener *l, QIOChannelSocket *sioc, gpointer data)
{
    Accepted *acc = data;

    g_assert_true(QIO_IS_NET_LISTENER(l));
    g_assert_true(QIO_IS_CHANNEL_SOCKET(sioc));
    g_ptr_array_add(acc->clients, g_object_ref(sioc));
    if (acc->clients->len >= acc->want) {
        g_main_loop_quit(acc->loop);
    }
}

static void on_notify(gpointer data)
{
    ((Accepted *)data)->notified++;
}

static gboolean guard_expired(gpointer data)
{
    Accepted *acc = data;

    acc->timed_out = TRUE;
    g_main_loop_quit(acc->loop);
    return G_SOURCE_REMOVE;
}

/* Run the loop for @ms (quit by a timeout source) and return. */
static void acc_run_source(Accepted *acc, guint ms)
{
    GSource *timer = g_timeout_source_new(ms);

    acc->timed_out = FALSE;
    g_source_set_callback(timer, guard_expired, acc, NULL);
    g_source_attach(timer, g_main_loop_get_context(acc->loop));
    g_main_loop_run(acc->loop);
    g_source_destroy(timer);
    g_source_unref(timer);
}

/* Run the loop until @want clients arrived in total; fail after GUARD_MS. */
static void acc_wait(Accepted *acc, guint want)
{
    if (acc->clients->len < want) {
        acc->want = want;
        acc_run_source(acc, GUARD_MS);
        acc->want = G_MAXUINT;
        g_assert_false(acc->timed_out);
    }
    g_assert_cmpuint(acc->clients->len, ==, want);
}

/* Run the loop for @ms, in which nothing is expected to quit it. */
static void acc_idle(Accepted *acc, guint ms)
{
    acc_run_source(acc, ms);
    g_assert_true(acc->timed_out);
}

/* Drop the last reference to @l and check that it really went away. */
static void listener_free(QIONetListener *l)
{
    g_object_add_weak_pointer(G_OBJECT(l), (gpointer *)&l);
    g_object_unref(l);
    g_assert_null(l);
}

/* ---------------------------------------------------------------- clients */

/* The address of the @i-th listening socket of @l. */
static GSocketAddress *listener_address(QIONetListener *l, guint i)
{
    g_autoptr(GError) err = NULL;
    GSocketAddress *sa = qio_channel_socket_get_local_address(
        qio_net_listener_get_socket(l, i), &err);

    g_assert_no_error(err);
    g_assert_nonnull(sa);
    return sa;
}

static guint16 inet_port(GSocketAddress *sa)
{
    g_assert_true(G_IS_INET_SOCKET_ADDRESS(sa));
    return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(sa));
}

static guint16 listener_port(QIONetListener *l, guint i)
{
    g_autoptr(GSocketAddress) sa = listener_address(l, i);

    return inet_port(sa);
}

/* @host (a numeric address) and @port as a socket address. */
static GSocketAddress *inet_address(const char *host, guint16 port)
{
    GSocketAddress *sa = g_inet_socket_address_new_from_string(host, port);

    g_assert_nonnull(sa);
    return sa;
}

/* Start connecting to @sa without blocking; returns the client socket. */
static int client_start(GSocketAddress *sa)
{
    struct sockaddr_storage ss;
    gssize len = g_socket_address_get_native_size(sa);
    int fd;

    g_assert_true(g_socket_address_to_native(sa, &ss, sizeof(ss), NULL));
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    g_assert_cmpint(fd, >=, 0);
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        g_assert_cmpint(errno, ==, EINPROGRESS);
    }
    return fd;
}

/*
 * Wait until the connection of @fd is established: the kernel completes
 * it into the listener's backlog whether or not anyone accepts.
 */
static void client_wait_connected(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int soerr = -1;
    socklen_t len = sizeof(soerr);

    g_assert_cmpint(poll(&pfd, 1, GUARD_MS), ==, 1);
    g_assert_cmpint(getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len), ==, 0);
    g_assert_cmpint(soerr, ==, 0);
}

/* A connected client socket as a blocking channel. */
static QIOChannelSocket *client_channel(int fd)
{
    g_autoptr(GError) err = NULL;
    QIOChannelSocket *sioc;

    client_wait_connected(fd);
    sioc = qio_channel_socket_new_fd(fd, &err);
    g_assert_no_error(err);
    g_assert_nonnull(sioc);
    qio_test_set_blocking(QIO_CHANNEL(sioc), true);
    return sioc;
}

static int sockaddr_port(int fd, gboolean peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int ret = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
                   : getsockname(fd, (struct sockaddr *)&ss, &len);

    g_assert_cmpint(ret, ==, 0);
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    g_assert_cmpint(ss.ss_family, ==, AF_INET6);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/*
 * Assert that @server is the accepted end of client @fd (the same port
 * pair), then move data both ways between them.
 */
static void check_pair(int fd, QIOChannelSocket *server, gboolean inet)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    int sfd = qio_channel_socket_get_fd(server);
    QIOTestTransfer opts = {.len = 256 * 1024 + 17};

    if (inet) {
        g_assert_cmpint(sockaddr_port(fd, FALSE), ==, sockaddr_port(sfd, TRUE));
    }
    client = client_channel(fd);
    qio_test_transfer(QIO_CHANNEL(client), QIO_CHANNEL(server), NULL);
    qio_test_transfer(QIO_CHANNEL(server), QIO_CHANNEL(client), &opts);
}

/* Connect one client to @host:@port and check that @acc receives it. */
static void connect_and_check(Accepted *acc, const char *host, guint16 port)
{
    g_autoptr(GSocketAddress) sa = inet_address(host, port);
    guint before = acc->clients->len;
    int fd = client_start(sa);

    acc_wait(acc, before + 1);
    check_pair(fd, g_ptr_array_index(acc->clients, before), TRUE);
}

static QIONetListener *listener_open(const char *host,
                                     const QIOChannelSocketOptions *opts)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) addr = g_network_address_new(host, 0);
    QIONetListener *l = qio_net_listener_new();

    g_assert_cmpint(qio_net_listener_open_sync(l, addr, opts, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(qio_net_listener_is_connected(l));
    return l;
}

/* ---------------------------------------------------------------- cases */

static void test_open_ipv4(void)
{
    Accepted acc;
    QIONetListener *l = qio_net_listener_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GSocketConnectable) addr = g_network_address_new("127.0.0.1", 0);
    QIOChannelSocket *sioc;

    accepted_init(&acc, NULL);
    g_assert_false(qio_net_listener_is_connected(l));
    g_assert_cmpuint(qio_net_listener_get_nsockets(l), ==, 0);
    qio_net_listener_set_name(l, "test-listener");
    g_assert_cmpint(qio_net_listener_open_sync(l, addr, NULL, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(qio_net_listener_is_connected(l));
    g_assert_cmpuint(qio_net_listener_get_nsockets(l), ==, 1);
    sioc = qio_net_listener_get_socket(l, 0);
    g_assert_true(
        qio_channel_has_feature(QIO_CHANNEL(sioc), QIO_CHANNEL_FEATURE_LISTEN));
    g_assert_cmpstr(qio_channel_get_name(QIO_CHANNEL(sioc)), ==,
                    "test-listener");
    g_assert_cmpuint(listener_port(l, 0), !=, 0);

    qio_net_listener_set_client_func(l, on_client, &acc, NULL);
    connect_and_check(&acc, "127.0.0.1", listener_port(l, 0));
    acc_idle(&acc, 50);
    g_assert_cmpuint(acc.clients->len, ==, 1);

    listener_free(l);
    accepted_clear(&acc);
}

static void test_wildcard(void)
{
    Accepted acc;
    QIONetListener *l = listener_open("", NULL);
    guint16 port = listener_port(l, 0);

    accepted_init(&acc, NULL);
    g_assert_cmpuint(qio_net_listener_get_nsockets(l), ==, 1);
    qio_net_listener_set_client_func(l, on_client, &acc, NULL);
    connect_and_check(&acc, "127.0.0.1", port);
    if (qio_test_have_ipv6()) {
        connect_and_check(&acc, "::1", port);
    } else {
        g_test_message("IPv6 loopback unavailable: IPv4 half only");
    }
    g_assert_cmpuint(qio_net_listener_get_nsockets(l), ==, 1);

    listener_free(l);
    accepted_clear(&acc);
}

static void test_localhost(void)
{
    Accepted acc;
    QIONetListener *l = listener_open("localhost", NULL);
    gboolean v6 = qio_test_have_ipv6();
    guint n = qio_net_listener_get_nsockets(l);
    guint16 port = listener_port(l, 0);

    accepted_init(&acc, NULL);
    g_assert_cmpuint(n, ==, v6 ? 2 : 1);
    for (guint i = 0; i < n; i++) {
        g_assert_cmpuint(listener_port(l, i), ==, port);
    }
    qio_net_listener_set_client_func(l, on_client, &acc, NULL);
    connect_and_check(&acc, "127.0.0.1", port);
    if (v6) {
        connect_and_check(&acc, "::1", port);
    } else {
        g_test_message("IPv6 loopback unavailable: IPv4 half only");
    }

    listener_free(l);
    accepted_clear(&acc);
}

static void test_unix(void)
{
    Accepted acc;
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("qio-nl-XXXXXX", &err);
    g_autofree char *path = NULL;
    g_autoptr(GSocketAddress) sa = NULL;
    QIONetListener *l = qio_net_listener_new();
    int fd;

    g_assert_no_error(err);
    path = g_build_filename(dir, "sock", NULL);
    sa = g_unix_socket_address_new(path);
    accepted_init(&acc, NULL);
    g_assert_cmpint(
        qio_net_listener_open_sync(l, G_SOCKET_CONNECTABLE(sa), NULL, &err), ==,
        0);
    g_assert_no_error(err);
    g_assert_cmpuint(qio_net_listener_get_nsockets(l), ==, 1);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));

    qio_net_listener_set_client_func(l, on_client, &acc, NULL);
    fd = client_start(sa);
    acc_wait(&acc, 1);
    check_pair(fd, g_ptr_array_index(acc.clients, 0), FALSE);

    qio_net_listener_disconnect(l);
    g_assert_false(qio_net_listener_is_connected(l));
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(g_rmdir(dir), ==, 0);

    listener_free(l);
    accepted_clear(&acc);
}

/* A socket bound and listening by other means (as systemd passes one). */
static int listen_fd_loopback(void)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
    g_assert_cmpint(listen(fd, 16), ==, 0);
    return fd;
}

static void test_add(void)
{
    Accepted acc;
    g_autoptr(GError) err = NULL;
    QIONetListener *l = qio_net_listener_new();
    int fd = listen_fd_loopback();
    QIOChannelSocket *sioc = qio_channel_socket_new_fd(fd, &err);

    g_assert_no_error(err);
    g_assert_nonnull(sioc);
    accepted_init(&acc, NULL);
    qio_net_listener_set_client_func(l, on_client, &acc, NULL);
    qio_net_listener_add(l, sioc);
    g_assert_true(qio_net_listener_is_connected(l));
    g_assert_cmpuint(qio_net_listener_get_nsockets(l), ==, 1);
    g_assert_true(qio_net_listener_get_socket(l, 0) == sioc);

    connect_and_check(&acc, "127.0.0.1", listener_port(l, 0));

    /* The listener took its own reference: ours can go first. */
    g_object_add_weak_pointer(G_OBJECT(sioc), (gpointer *)&sioc);
    g_object_unref(sioc);
    g_assert_nonnull(sioc);
    listener_free(l);
    g_assert_null(sioc);
    g_assert_false(qio_test_fd_is_open(fd));
    accepted_clear(&acc);
}

#define MANY_CLIENTS 100

static int cmp_int(gconstpointer a, gconstpointer b)
{
    return *(const int *)a - *(const int *)b;
}

static void test_many_clients(void)
{
    Accepted acc;
    QIONetListener *l = listener_open("127.0.0.1", NULL);
    g_autoptr(GSocketAddress) sa = listener_address(l, 0);
    int fds[MANY_CLIENTS];
    int want[MANY_CLIENTS];
    int got[MANY_CLIENTS];

    accepted_init(&acc, NULL);
    for (guint i = 0; i < MANY_CLIENTS; i++) {
        fds[i] = client_start(sa);
    }
    for (guint i = 0; i < MANY_CLIENTS; i++) {
        client_wait_connected(fds[i]);
        want[i] = sockaddr_port(fds[i], FALSE);
    }
    /* All of them are in the backlog before accepting starts. */
    qio_net_listener_set_client_func(l, on_client, &acc, NULL);
    acc_wait(&acc, MANY_CLIENTS);
    acc_idle(&acc, 50);
    g_assert_cmpuint(acc.clients->len, ==, MANY_CLIENTS);

    /* Exactly once each: the peers' ports are the clients' ports. */
    for (guint i = 0; i < MANY_CLIENTS; i++) {
        QIOChannelSocket *s = g_ptr_array_index(acc.clients, i);

        got[i] = sockaddr_port(qio_channel_socket_get_fd(s), TRUE);
    }
    qsort(want, MANY_CLIENTS, sizeof(int), cmp_int);
    qsort(got, MANY_CLIENTS, sizeof(int), cmp_int);
    g_assert_cmpmem(want, sizeof(want), got, sizeof(got));

    for (guint i = 0; i < MANY_CLIENTS; i++) {
        close(fds[i]);
    }
    listener_free(l);
    accepted_clear(&acc);
}

static void test_pause(void)
{
    Accepted acc;
    QIONetListener *l = listener_open("127.0.0.1", NULL);
    g_autoptr(GSocketAddress) sa = listener_address(l, 0);
    int fds[3];

    accepted_init(&acc, NULL);
    qio_net_listener_set_client_func(l, on_client, &acc, NULL);
    qio_net_listener_pause(l);
    for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
        fds[i] = client_start(sa);
        client_wait_connected(fds[i]);
    }
    acc_idle(&acc, QUIET_MS);
    g_assert_cmpuint(acc.clients->len, ==, 0);

    qio_net_listener_resume(l);
    acc_wait(&acc, G_N_ELEMENTS(fds));
    for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
        close(fds[i]);
    }
    listener_free(l);
    accepted_clear(&acc);
}

static void on_client_pause(QIONetListener *l, QIOChannelSocket *sioc,
                            gpointer data)
{
    on_client(l, sioc, data);
    qio_net_listener_pause(l);
}

/* Pausing from the client function stops the burst at once. */
static void test_pause_in_callback(void)
{
    Accepted acc;
    QIONetListener *l = listener_open("127.0.0.1", NULL);
    g_autoptr(GSocketAddress) sa = listener_address(l, 0);
    int fds[4];

    accepted_init(&acc, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
        fds[i] = client_start(sa);
        client_wait_connected(fds[i]);
    }
    qio_net_listener_set_client_func(l, on_client_pause, &acc, NULL);
    for (guint i = 1; i <= G_N_ELEMENTS(fds); i++) {
        acc_wait(&acc, i);
        acc_idle(&acc, 50);
        g_assert_cmpuint(acc.clients->len, ==, i);
        qio_net_listener_resume(l);
    }
    for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
        close(fds[i]);
    }
    listener_free(l);
    accepted_clear(&acc);
}

static void test_client_func_null(void)
{
    Accepted a;
    Accepted b;
    QIONetListener *l = listener_open("127.0.0.1", NULL);
    g_autoptr(GSocketAddress) sa = listener_address(l, 0);
    int fd1;
    int fd2;

    accepted_init(&a, NULL);
    accepted_init(&b, NULL);
    qio_net_listener_set_client_func(l, on_client, &a, on_notify);
    fd1 = client_start(sa);
    acc_wait(&a, 1);

    qio_net_listener_set_client_func(l, NULL, NULL, NULL);
    g_assert_cmpuint(a.notified, ==, 1);
    fd2 = client_start(sa);
    client_wait_connected(fd2);
    acc_idle(&a, QUIET_MS);
    g_assert_cmpuint(a.clients->len, ==, 1);

    /* The client that waited goes to the new function. */
    qio_net_listener_set_client_func(l, on_client, &b, on_notify);
    acc_wait(&b, 1);
    g_assert_cmpint(
        sockaddr_port(fd2, FALSE), ==,
        sockaddr_port(
            qio_channel_socket_get_fd(g_ptr_array_index(b.clients, 0)), TRUE));
    g_assert_cmpuint(a.clients->len, ==, 1);
    g_assert_cmpuint(a.notified, ==, 1);
    g_assert_cmpuint(b.notified, ==, 0);

    /* Finalizing frees the current data. */
    listener_free(l);
    g_assert_cmpuint(a.notified, ==, 1);
    g_assert_cmpuint(b.notified, ==, 1);
    close(fd1);
    close(fd2);
    accepted_clear(&a);
    accepted_clear(&b);
}

/* A private context: clients are served there, not in the default one. */
static void test_context(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    Accepted acc;
    Accepted dflt;
    QIONetListener *l = listener_open("127.0.0.1", NULL);
    g_autoptr(GSocketAddress) sa = listener_address(l, 0);
    int fd;

    accepted_init(&acc, ctx);
    accepted_init(&dflt, NULL);
    qio_net_listener_set_client_func_full(l, on_client, &acc, NULL, ctx);
    fd = client_start(sa);
    client_wait_connected(fd);
    acc_idle(&dflt, 50);
    g_assert_cmpuint(acc.clients->len, ==, 0);
    acc_wait(&acc, 1);
    close(fd);

    listener_free(l);
    accepted_clear(&acc);
    accepted_clear(&dflt);
}

typedef struct {
    GSocketAddress *addr;
    GError *error;
} WaitPeer;

/* The client of test_wait_client: connect (blocking), ping, expect pong. */
static gpointer wait_peer_thread(gpointer data)
{
    WaitPeer *peer = data;
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    char buf[4];

    if (qio_channel_socket_connect_sync(sioc, G_SOCKET_CONNECTABLE(peer->addr),
                                        NULL, &peer->error) < 0 ||
        qio_channel_write_all(QIO_CHANNEL(sioc), "ping", 4, &peer->error) < 0 ||
        qio_channel_read_all(QIO_CHANNEL(sioc), buf, 4, &peer->error) < 0) {
        return NULL;
    }
    if (memcmp(buf, "pong", 4) != 0) {
        g_set_error_literal(&peer->error, G_IO_ERROR, G_IO_ERROR_FAILED,
                            "peer did not get pong");
    }
    return NULL;
}

static void test_wait_client(void)
{
    Accepted acc;
    QIONetListener *l = qio_net_listener_new();
    g_autoptr(QIOChannelSocket) sioc = NULL;
    g_autoptr(GSocketAddress) sa = NULL;
    WaitPeer peer = {0};
    GThread *thread;
    char buf[4];
    int fd;

    accepted_init(&acc, NULL);
    g_assert_null(qio_net_listener_wait_client(l));
    listener_free(l);

    l = listener_open("127.0.0.1", NULL);
    sa = listener_address(l, 0);
    qio_net_listener_set_client_func(l, on_client, &acc, NULL);
    peer.addr = sa;
    thread = g_thread_new("wait-peer", wait_peer_thread, &peer);
    sioc = qio_net_listener_wait_client(l);
    g_assert_nonnull(sioc);
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(sioc), buf, 4, NULL), ==,
                    0);
    g_assert_cmpmem(buf, 4, "ping", 4);
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(sioc), "pong", 4, NULL),
                    ==, 0);
    g_thread_join(thread);
    g_assert_no_error(peer.error);
    g_assert_cmpuint(acc.clients->len, ==, 0);

    /* Afterwards the client function is served again. */
    fd = client_start(sa);
    acc_wait(&acc, 1);
    close(fd);
    listener_free(l);
    accepted_clear(&acc);
}

/* ---------------------------------------------------------------- EMFILE */

typedef struct {
    guint calls;
    GError *first;
} Errors;

static void on_error(QIONetListener *l, const GError *err, gpointer data)
{
    Errors *errs = data;

    g_assert_nonnull(err);
    if (!errs->first) {
        errs->first = g_error_copy(err);
    }
    errs->calls++;
}

static void assert_emfile(const GError *err)
{
    g_assert_nonnull(err);
#if GLIB_CHECK_VERSION(2, 74, 0)
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
#else
    g_assert_true(err->domain == G_IO_ERROR);
#endif
    g_assert_nonnull(strstr(err->message, g_strerror(EMFILE)));
}

/* The lowest free descriptor number (so a limit there means EMFILE). */
static int lowest_free_fd(void)
{
    int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);

    g_assert_cmpint(fd, >=, 0);
    close(fd);
    return fd;
}

#define EMFILE_CLIENTS 5

static void emfile_child(void)
{
    Accepted acc;
    Errors errs = {0};
    QIONetListener *l = listener_open("127.0.0.1", NULL);
    g_autoptr(GSocketAddress) sa = listener_address(l, 0);
    struct rlimit saved;
    struct rlimit low;
    int fds[EMFILE_CLIENTS];

    accepted_init(&acc, NULL);
    qio_net_listener_set_client_func(l, on_client, &acc, NULL);
    qio_net_listener_set_error_func(l, on_error, &errs);
    for (guint i = 0; i < EMFILE_CLIENTS; i++) {
        fds[i] = client_start(sa);
        client_wait_connected(fds[i]);
    }

    g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &saved), ==, 0);
    low = saved;
    low.rlim_cur = lowest_free_fd();
    g_assert_cmpint(setrlimit(RLIMIT_NOFILE, &low), ==, 0);

    /* About one try per pause, not a spinning loop. */
    acc_idle(&acc, 5 * QIO_NET_LISTENER_ERROR_PAUSE_MS);
    g_assert_cmpuint(setrlimit(RLIMIT_NOFILE, &saved), ==, 0);
    g_test_message("%u accept errors in %d ms", errs.calls,
                   5 * QIO_NET_LISTENER_ERROR_PAUSE_MS);
    g_assert_cmpuint(acc.clients->len, ==, 0);
    g_assert_cmpuint(errs.calls, >=, 1);
    g_assert_cmpuint(errs.calls, <=, 10);
    assert_emfile(errs.first);

    /* With descriptors again, the waiting clients get in by themselves. */
    acc_wait(&acc, EMFILE_CLIENTS);
    for (guint i = 0; i < EMFILE_CLIENTS; i++) {
        close(fds[i]);
    }
    listener_free(l);
    g_clear_error(&errs.first);
    accepted_clear(&acc);
}

static void test_accept_emfile(void)
{
    if (g_test_subprocess()) {
        emfile_child();
        return;
    }
    g_test_trap_subprocess(NULL, 60 * G_USEC_PER_SEC,
                           G_TEST_SUBPROCESS_INHERIT_STDOUT |
                               G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
}

/* ------------------------------------------------------------ disconnect */

/* Nobody listens at @sa any more. */
static void assert_refused(GSocketAddress *sa)
{
    struct sockaddr_storage ss;
    int fd;

    g_assert_true(g_socket_address_to_native(sa, &ss, sizeof(ss), NULL));
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&ss,
                            g_socket_address_get_native_size(sa)),
                    ==, -1);
    g_assert_cmpint(errno, ==, ECONNREFUSED);
    close(fd);
}

static void test_disconnect(void)
{
    Accepted acc;
    QIONetListener *l = listener_open("127.0.0.1", NULL);
    g_autoptr(GSocketAddress) sa = listener_address(l, 0);
    QIOChannelSocket *sioc = g_object_ref(qio_net_listener_get_socket(l, 0));
    int lfd = qio_channel_socket_get_fd(sioc);
    int fd;

    accepted_init(&acc, NULL);
    qio_net_listener_set_client_func(l, on_client, &acc, on_notify);
    fd = client_start(sa);
    acc_wait(&acc, 1);
    close(fd);

    qio_net_listener_disconnect(l);
    g_assert_false(qio_net_listener_is_connected(l));
    g_assert_cmpuint(qio_net_listener_get_nsockets(l), ==, 0);
    g_assert_cmpint(qio_channel_socket_get_fd(sioc), ==, -1);
    g_assert_false(qio_test_fd_is_open(lfd));

    assert_refused(sa);
    acc_idle(&acc, 50);
    g_assert_cmpuint(acc.clients->len, ==, 1);
    g_assert_cmpuint(acc.notified, ==, 0);

    /*
     * Each watch holds a reference on its socket: the socket going away
     * with the listener shows no watch was left behind.
     */
    listener_free(l);
    g_assert_cmpuint(acc.notified, ==, 1);
    g_object_add_weak_pointer(G_OBJECT(sioc), (gpointer *)&sioc);
    g_object_unref(sioc);
    g_assert_null(sioc);
    g_assert_false(g_main_context_pending(NULL));
    accepted_clear(&acc);
}

static void on_client_disconnect(QIONetListener *l, QIOChannelSocket *sioc,
                                 gpointer data)
{
    on_client(l, sioc, data);
    qio_net_listener_disconnect(l);
}

/* Disconnecting from the client function ends the burst quietly. */
static void test_disconnect_in_callback(void)
{
    Accepted acc;
    Errors errs = {0};
    QIONetListener *l = listener_open("127.0.0.1", NULL);
    g_autoptr(GSocketAddress) sa = listener_address(l, 0);
    int fds[3];

    accepted_init(&acc, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
        fds[i] = client_start(sa);
        client_wait_connected(fds[i]);
    }
    qio_net_listener_set_error_func(l, on_error, &errs);
    qio_net_listener_set_client_func(l, on_client_disconnect, &acc, NULL);
    acc_wait(&acc, 1);
    acc_idle(&acc, 2 * QIO_NET_LISTENER_ERROR_PAUSE_MS);
    g_assert_cmpuint(acc.clients->len, ==, 1);
    g_assert_false(qio_net_listener_is_connected(l));
    g_assert_cmpuint(errs.calls, ==, 0);
    g_assert_false(g_main_context_pending(NULL));

    for (guint i = 0; i < G_N_ELEMENTS(fds); i++) {
        close(fds[i]);
    }
    listener_free(l);
    accepted_clear(&acc);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/net-listener/open/ipv4", test_open_ipv4);
    g_test_add_func("/net-listener/open/wildcard", test_wildcard);
    g_test_add_func("/net-listener/open/localhost", test_localhost);
    g_test_add_func("/net-listener/open/unix", test_unix);
    g_test_add_func("/net-listener/add", test_add);
    g_test_add_func("/net-listener/many-clients", test_many_clients);
    g_test_add_func("/net-listener/pause", test_pause);
    g_test_add_func("/net-listener/pause-in-callback", test_pause_in_callback);
    g_test_add_func("/net-listener/client-func-null", test_client_func_null);
    g_test_add_func("/net-listener/context", test_context);
    g_test_add_func("/net-listener/wait-client", test_wait_client);
    g_test_add_func("/net-listener/accept-emfile", test_accept_emfile);
    g_test_add_func("/net-listener/disconnect", test_disconnect);
    g_test_add_func("/net-listener/disconnect-in-callback",
                    test_disconnect_in_callback);
    return g_test_run();
}
