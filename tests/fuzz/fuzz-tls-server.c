/*
 * libFuzzer harness: a TLS server channel fed what a client might send.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The server is a QIOChannelTLS over a non-blocking QIOChannelSocket, one
 * end of a unix socketpair; the harness holds the other end and never
 * waits: the server advances from a private GMainContext that is iterated
 * without blocking, and once the input is used up the client's side is
 * shut down, so that the server sees end-of-file. The certificate and key
 * are made at start-up (the files exist only while the credentials load).
 *
 * Byte 0 picks the mode; bytes past the end read as 0. The seeds are
 * tests/fuzz/gen-seeds.py's and first flights of real clients.
 *
 * Raw (bit 0 clear): the rest is what the client sends: a ClientHello,
 * garbage, an HTTP request. Bits 1-3 pick how it trickles in (0: all
 * before the handshake starts, n: 2^(n-1) bytes per main-loop round).
 * The handshake must end (it cannot succeed: the client's Finished would
 * have to match the server's random) without a leak, and reads then fail.
 *
 * Scripted (bit 0 set): a real GnuTLS client completes the handshake
 * (bit 1: TLS 1.2, else 1.3; bit 7: it limits records to 512 bytes).
 * The server reads from a G_IO_IN watch on the TLS channel or, bit 3,
 * from a coroutine (qio_channel_yield()); once per wake-up or, bit 2,
 * until it would block; bits 4-6 + 1 bytes at a time. Its send buffer is
 * small, so that its writes back up. The rest is a list of operations:
 * the client sends data, alerts, close_notify, a key update, a
 * renegotiation, raw bytes into the stream, or stops reading; the server
 * writes, shuts down, changes its read size. Invariants: each side reads
 * a prefix of what the other sent; while nothing disturbed the stream,
 * the server has read all of it whenever things are quiet, even bytes
 * waiting decrypted inside GnuTLS (the watch must fire for them); then
 * end-of-file after close_notify, a premature-EOF error without one.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fuzz-util.h"
#include "qio/channel-socket.h"
#include "qio/channel-tls.h"
#include "qio/coroutine.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Not g_error(): it traps, and libFuzzer keeps the input only on abort. */
#define FAIL(...)                                                              \
    do {                                                                       \
        g_printerr("%s: ", G_STRLOC);                                          \
        g_printerr(__VA_ARGS__);                                               \
        g_printerr("\n");                                                      \
        abort();                                                               \
    } while (0)

/* Main-loop rounds without progress before the harness calls it a hang. */
#define MAX_IDLE_ROUNDS 64
#define MAX_ROUNDS 100000

static QIOTLSCreds *server_creds;
static gnutls_certificate_credentials_t client_creds;
static gnutls_priority_t client_prio[2]; /* TLS 1.3, TLS 1.2 */

#define CHECK_GNUTLS(call)                                                     \
    do {                                                                       \
        int check_ret_ = (call);                                               \
        if (check_ret_ < 0) {                                                  \
            FAIL("%s: %s", #call, gnutls_strerror(check_ret_));                \
        }                                                                      \
    } while (0)

/* ---------------------------------------------------------------- set-up */

/* A self-signed ECDSA certificate for "localhost", as two PEM blobs. */
static void make_cert(gnutls_datum_t *cert_pem, gnutls_datum_t *key_pem)
{
    static const unsigned char serial[] = {0x01};
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    time_t now = time(NULL);

    CHECK_GNUTLS(gnutls_x509_privkey_init(&key));
    CHECK_GNUTLS(gnutls_x509_privkey_generate(
        key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
        0));
    CHECK_GNUTLS(gnutls_x509_crt_init(&crt));
    CHECK_GNUTLS(gnutls_x509_crt_set_version(crt, 3));
    CHECK_GNUTLS(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)));
    CHECK_GNUTLS(gnutls_x509_crt_set_activation_time(crt, now - 86400));
    CHECK_GNUTLS(gnutls_x509_crt_set_expiration_time(crt, now + 86400));
    CHECK_GNUTLS(gnutls_x509_crt_set_dn(crt, "CN=localhost", NULL));
    CHECK_GNUTLS(gnutls_x509_crt_set_key(crt, key));
    CHECK_GNUTLS(
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE));
    CHECK_GNUTLS(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0));
    CHECK_GNUTLS(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, cert_pem));
    CHECK_GNUTLS(
        gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, key_pem));
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
}

static char *write_pem(const char *dir, const char *name, gnutls_datum_t *pem)
{
    char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) err = NULL;

    if (!g_file_set_contents_full(path, (const char *)pem->data, pem->size,
                                  G_FILE_SET_CONTENTS_NONE, 0600, &err)) {
        FAIL("%s", err->message);
    }
    memset(pem->data, 0, pem->size);
    gnutls_free(pem->data);
    return path;
}

/* The credentials API loads files: they live only while it does. */
static void make_server_creds(void)
{
    QIOTLSCredsOptions opts = QIO_TLS_CREDS_OPTIONS_INIT;
    g_autoptr(GError) err = NULL;
    gnutls_datum_t cert = {0};
    gnutls_datum_t key = {0};
    g_autofree char *dir = g_dir_make_tmp("fuzz-tls-XXXXXX", &err);
    g_autofree char *cert_path = NULL;
    g_autofree char *key_path = NULL;

    if (!dir) {
        FAIL("%s", err->message);
    }
    make_cert(&cert, &key);
    cert_path = write_pem(dir, "cert.pem", &cert);
    key_path = write_pem(dir, "key.pem", &key);
    opts.cert_file = cert_path;
    opts.key_file = key_path;
    server_creds =
        qio_tls_creds_new(QIO_TLS_CREDS_ENDPOINT_SERVER, &opts, &err);
    unlink(key_path);
    unlink(cert_path);
    rmdir(dir);
    if (!server_creds) {
        FAIL("server credentials: %s", err->message);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Made once, on first use (with its eventfd): not a leak, so now. */
    g_main_context_default();
    make_server_creds();
    /* The client trusts anything: no verification function is set. */
    CHECK_GNUTLS(gnutls_certificate_allocate_credentials(&client_creds));
    CHECK_GNUTLS(gnutls_priority_init(&client_prio[0],
                                      "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL));
    CHECK_GNUTLS(gnutls_priority_init(&client_prio[1],
                                      "NORMAL:-VERS-ALL:+VERS-TLS1.2", NULL));
    return 0;
}

/* ---------------------------------------------------------------- session */

/* One iteration: the server channel, its context, the client's socket. */
typedef struct {
    GMainContext *ctx;
    QIOChannelTLS *tioc;
    int cfd;
    bool handshake_done;
    bool handshake_ok;
} Session;

/*
 * @small: a small send buffer for the server, so that its writes back up
 * (and a read that must write waits) after a few records.
 */
static void session_open(Session *s, bool small)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) sioc = NULL;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) <
        0) {
        FAIL("socketpair: %s", g_strerror(errno));
    }
    s->cfd = sv[0];
    if (small && setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &(int){4096},
                            sizeof(int)) < 0) {
        FAIL("SO_SNDBUF: %s", g_strerror(errno));
    }
    sioc = qio_channel_socket_new_fd(sv[1], &err);
    g_assert_no_error(err);
    s->tioc = qio_channel_tls_new_server(QIO_CHANNEL(sioc), server_creds, &err);
    g_assert_no_error(err);
    qio_channel_set_blocking(QIO_CHANNEL(s->tioc), false, &err);
    g_assert_no_error(err);
    s->ctx = g_main_context_new();
    g_main_context_push_thread_default(s->ctx);
}

static void session_close(Session *s)
{
    qio_channel_close(QIO_CHANNEL(s->tioc), NULL);
    g_clear_object(&s->tioc);
    /* Sources still attached (a close_notify retry) go with the context. */
    while (g_main_context_iteration(s->ctx, FALSE)) {
    }
    g_main_context_pop_thread_default(s->ctx);
    g_main_context_unref(s->ctx);
    if (s->cfd >= 0) {
        close(s->cfd);
    }
}

/* Run what is ready. Returns whether anything was. */
static bool session_iterate(Session *s)
{
    bool any = false;

    for (int i = 0; i < 1000 && g_main_context_iteration(s->ctx, FALSE); i++) {
        any = true;
    }
    return any;
}

static void handshake_done(QIOTask *task, gpointer opaque)
{
    Session *s = opaque;
    g_autoptr(GError) err = NULL;

    s->handshake_done = true;
    s->handshake_ok = !qio_task_propagate_error(task, &err);
    if (!s->handshake_ok && (!err || !err->message || !*err->message)) {
        FAIL("handshake failed without a reason");
    }
}

/* Throw away what the server sent; returns whether there was any. */
static bool drain_raw(int fd)
{
    char buf[4096];
    bool any = false;

    while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
        any = true;
    }
    return any;
}

/* ---------------------------------------------------------------- raw */

static void fuzz_raw(uint8_t mode, Input *in)
{
    unsigned shift = (mode >> 1) & 7;
    size_t chunk = shift ? (size_t)1 << (shift - 1) : 0;
    bool shut = false;
    unsigned idle = 0;
    Session s = {0};
    g_autoptr(GError) err = NULL;
    char c;

    session_open(&s, false);
    if (shift == 0) {
        /* 4 KiB at most: the socket buffer takes it whole. */
        if (write(s.cfd, in->data + in->pos, in->size - in->pos) !=
            (ssize_t)(in->size - in->pos)) {
            FAIL("short write into the socketpair");
        }
        in->pos = in->size;
    }
    qio_channel_tls_handshake(s.tioc, handshake_done, &s, NULL, s.ctx);
    for (int round = 0; !s.handshake_done; round++) {
        bool progress = false;

        if (in->pos < in->size) {
            size_t n = MIN(chunk, in->size - in->pos);
            ssize_t w = write(s.cfd, in->data + in->pos, n);

            if (w > 0) {
                in->pos += (size_t)w;
                progress = true;
            }
        } else if (!shut) {
            shutdown(s.cfd, SHUT_WR);
            shut = progress = true;
        }
        progress |= drain_raw(s.cfd);
        progress |= session_iterate(&s);
        idle = progress ? 0 : idle + 1;
        if (idle > MAX_IDLE_ROUNDS || round > MAX_ROUNDS) {
            FAIL("the handshake makes no progress");
        }
    }
    /* Without a handshake, the channel refuses to read. */
    if (!s.handshake_ok &&
        qio_channel_read(QIO_CHANNEL(s.tioc), &c, 1, &err) >= 0) {
        FAIL("read after a failed handshake succeeded");
    }
    session_close(&s);
}

/* ---------------------------------------------------------------- scripted */

/*
 * An operation is a byte (modulo OP_COUNT) and its arguments: a length
 * and the bytes for OP_DATA and OP_RAW, two bytes for the other client
 * operations (alert level and description; key update: bit 0 asks the
 * server to update too), one for the server's and OP_CLIENT_PAUSE.
 */
enum {
    OP_DATA,            /* client sends N bytes */
    OP_ALERT,           /* client sends an alert */
    OP_BYE,             /* client sends close_notify */
    OP_KEY_UPDATE,      /* client updates its keys (TLS 1.3) */
    OP_REHANDSHAKE,     /* client starts a new handshake */
    OP_RAW,             /* raw bytes into the stream */
    OP_READ_SIZE,       /* the server's read buffers */
    OP_SERVER_WRITE,    /* server sends N bytes */
    OP_SERVER_SHUTDOWN, /* server shuts a direction down */
    OP_CLIENT_PAUSE,    /* client stops (or resumes) reading */
    OP_COUNT
};

typedef struct {
    Session s;
    gnutls_session_t client;
    bool client_dead; /* failed: only drained raw from now on */
    bool paused;      /* not reading: the server's writes back up */
    bool bye_sent;
    unsigned key_updates;
    bool dirty;     /* the stream may no longer arrive intact */
    bool read_all;  /* read until blocked on each wake-up */
    bool coroutine; /* the reader is a coroutine, not a watch */
    size_t read_size;
    size_t read_niov;
    GByteArray *sent;      /* what the client sent before close_notify */
    GByteArray *got;       /* what the server read */
    GByteArray *wrote;     /* what the server wrote */
    GByteArray *heard;     /* what the client read */
    uint8_t pending[1024]; /* a write that would block, to repeat */
    size_t npending;
    bool server_done; /* its read watch saw end-of-file or an error */
    bool server_eof;
    GError *server_err;
} Script;

/* One server read: false once it would block (or the stream ended). */
static bool server_read(Script *sc, QIOChannel *ioc)
{
    uint8_t buf[3][256];
    struct iovec iov[3];
    ssize_t n;

    for (size_t i = 0; i < sc->read_niov; i++) {
        iov[i].iov_base = buf[i];
        iov[i].iov_len = sc->read_size;
    }
    n = qio_channel_readv(ioc, iov, sc->read_niov, &sc->server_err);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        return false;
    }
    if (n <= 0) {
        sc->server_done = true;
        sc->server_eof = n == 0;
        return false;
    }
    for (size_t i = 0; n > 0; i++) {
        size_t part = MIN((size_t)n, sc->read_size);

        g_byte_array_append(sc->got, buf[i], part);
        n -= (ssize_t)part;
    }
    return true;
}

/* The server's reader as qioc has it: a G_IO_IN watch ... */
static gboolean server_readable(QIOChannel *ioc, GIOCondition cond,
                                gpointer opaque)
{
    Script *sc = opaque;

    while (server_read(sc, ioc) && sc->read_all) {
    }
    return sc->server_done ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

/*
 * ... or a coroutine. Yielding after each read even when more may be
 * there: the channel must wake it for bytes GnuTLS holds.
 */
static void coroutine_fn server_reader(void *opaque)
{
    Script *sc = opaque;
    QIOChannel *ioc = QIO_CHANNEL(sc->s.tioc);

    while (!sc->server_done) {
        bool more = server_read(sc, ioc);

        if (!sc->server_done && (!more || !sc->read_all)) {
            qio_channel_yield(ioc, G_IO_IN);
        }
    }
}

static void server_reader_start(Script *sc)
{
    GSource *watch;

    if (sc->coroutine) {
        qio_coroutine_enter(qio_coroutine_create(server_reader, sc));
        return;
    }
    watch = qio_channel_create_watch(QIO_CHANNEL(sc->s.tioc), G_IO_IN);
    g_source_set_callback(watch, (GSourceFunc)(void (*)(void))server_readable,
                          sc, NULL);
    /* The context holds the only reference; it goes with the context. */
    g_source_attach(watch, sc->s.ctx);
    g_source_unref(watch);
}

/* Take in what the server sent; a client that failed just discards it. */
static bool client_drain(Script *sc)
{
    char buf[4096];
    bool any = false;

    if (sc->paused) {
        return false;
    }
    while (!sc->client_dead) {
        ssize_t n = gnutls_record_recv(sc->client, buf, sizeof(buf));

        if (n == GNUTLS_E_AGAIN) {
            return any;
        }
        if (n == 0) {
            /* close_notify: the client may still send (half-close). */
            break;
        }
        if (n < 0 && gnutls_error_is_fatal((int)n)) {
            sc->client_dead = true;
            break;
        }
        if (n > 0) {
            g_byte_array_append(sc->heard, (const guint8 *)buf, (guint)n);
        }
        any = true;
    }
    return drain_raw(sc->s.cfd) || any;
}

/* Run client and server until neither has anything left to do. */
static void pump(Script *sc)
{
    unsigned quiet = 0;

    for (int round = 0; quiet < 2; round++) {
        bool any = client_drain(sc);

        any |= session_iterate(&sc->s);
        quiet = any ? 0 : quiet + 1;
        if (round > MAX_ROUNDS) {
            FAIL("client and server keep each other busy");
        }
    }
}

/* @small_records: ask the server for records of 512 bytes at most. */
static void client_open(Script *sc, bool tls12, bool small_records)
{
    unsigned idle = 0;
    int ret = GNUTLS_E_AGAIN;

    CHECK_GNUTLS(gnutls_init(&sc->client, GNUTLS_CLIENT | GNUTLS_NONBLOCK));
    CHECK_GNUTLS(gnutls_priority_set(sc->client, client_prio[tls12]));
    CHECK_GNUTLS(gnutls_credentials_set(sc->client, GNUTLS_CRD_CERTIFICATE,
                                        client_creds));
    if (small_records) {
        CHECK_GNUTLS(gnutls_record_set_max_size(sc->client, 512));
    }
    gnutls_transport_set_int(sc->client, sc->s.cfd);
    qio_channel_tls_handshake(sc->s.tioc, handshake_done, &sc->s, NULL,
                              sc->s.ctx);
    while (ret < 0 || !sc->s.handshake_done) {
        bool any = session_iterate(&sc->s);

        if (ret < 0) {
            ret = gnutls_handshake(sc->client);
            if (ret < 0 && gnutls_error_is_fatal(ret)) {
                FAIL("client handshake: %s", gnutls_strerror(ret));
            }
            any |= ret == 0;
        }
        idle = any ? 0 : idle + 1;
        if (idle > MAX_IDLE_ROUNDS * 1000) {
            FAIL("the handshake between two honest peers hangs");
        }
    }
    if (!sc->s.handshake_ok) {
        FAIL("the server refused an honest client");
    }
}

/* Run a client call that may have to wait for the socket, as GnuTLS asks. */
#define CLIENT_RETRY(sc, ret, call)                                            \
    do {                                                                       \
        for (int try_ = 0; try_ < 100; try_++) {                               \
            (ret) = (call);                                                    \
            if ((ret) != GNUTLS_E_AGAIN && (ret) != GNUTLS_E_INTERRUPTED) {    \
                break;                                                         \
            }                                                                  \
            pump(sc);                                                          \
        }                                                                      \
    } while (0)

static void op_data(Script *sc, Input *in)
{
    uint8_t buf[256];
    size_t len = next_byte(in);
    ssize_t ret;

    for (size_t i = 0; i < len; i++) {
        buf[i] = next_byte(in);
    }
    if (sc->client_dead || sc->bye_sent || len == 0) {
        return;
    }
    CLIENT_RETRY(sc, ret, gnutls_record_send(sc->client, buf, len));
    if (ret > 0) {
        g_byte_array_append(sc->sent, buf, (guint)ret);
    }
    if (ret != (ssize_t)len) {
        sc->dirty = true;
    }
}

static void op_client(Script *sc, unsigned op, Input *in)
{
    uint8_t a = next_byte(in);
    uint8_t b = next_byte(in);
    int ret = 0;

    if (sc->client_dead) {
        return;
    }
    switch (op) {
    case OP_ALERT:
        CLIENT_RETRY(
            sc, ret,
            gnutls_alert_send(sc->client,
                              (a & 1) ? GNUTLS_AL_FATAL : GNUTLS_AL_WARNING,
                              (gnutls_alert_description_t)b));
        sc->dirty = true;
        break;
    case OP_BYE:
        CLIENT_RETRY(sc, ret, gnutls_bye(sc->client, GNUTLS_SHUT_WR));
        sc->bye_sent = true;
        sc->dirty |= ret < 0;
        break;
    case OP_KEY_UPDATE:
        CLIENT_RETRY(sc, ret,
                     gnutls_session_key_update(sc->client,
                                               (a & 1) ? GNUTLS_KU_PEER : 0));
        /* GnuTLS refuses more than 8 a second (a flood, it says). */
        sc->dirty |= ++sc->key_updates >= 8;
        break;
    case OP_REHANDSHAKE:
        /* One step: the server ignores it, so it never completes. */
        ret = gnutls_handshake(sc->client);
        sc->dirty = true;
        break;
    default:
        g_assert_not_reached();
    }
    /* INVALID_REQUEST: not in this version (a key update in TLS 1.2). */
    if (ret < 0 && ret != GNUTLS_E_INVALID_REQUEST &&
        gnutls_error_is_fatal(ret)) {
        sc->client_dead = true;
        sc->dirty = true;
    }
}

static void op_raw(Script *sc, Input *in)
{
    uint8_t buf[256];
    size_t len = next_byte(in);

    for (size_t i = 0; i < len; i++) {
        buf[i] = next_byte(in);
    }
    if (len > 0 && write(sc->s.cfd, buf, len) > 0) {
        /* Bytes between records: the session is corrupt from now on. */
        sc->dirty = true;
    }
}

/*
 * A write that would block must be repeated with the same bytes (GnuTLS
 * has encrypted them): a new one waits until the last is out.
 */
static void server_write(Script *sc, uint8_t a)
{
    g_autoptr(GError) err = NULL;
    ssize_t n;

    if (sc->npending == 0) {
        /* Past 512 bytes: a record size limit cuts it in two. */
        sc->npending = 4 * (1 + (size_t)a);
        for (size_t i = 0; i < sc->npending; i++) {
            sc->pending[i] = (uint8_t)(a + i);
        }
    }
    n = qio_channel_write(QIO_CHANNEL(sc->s.tioc), (char *)sc->pending,
                          sc->npending, &err);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        return;
    }
    if (n < 0) {
        /* Held bytes may have left before (with close_notify, say). */
        g_byte_array_append(sc->wrote, sc->pending, (guint)sc->npending);
        sc->npending = 0;
        return;
    }
    g_byte_array_append(sc->wrote, sc->pending, (guint)n);
    sc->npending -= (size_t)n;
    memmove(sc->pending, sc->pending + n, sc->npending);
}

static void op_server(Script *sc, unsigned op, Input *in)
{
    g_autoptr(GError) err = NULL;
    uint8_t a = next_byte(in);

    switch (op) {
    case OP_READ_SIZE:
        sc->read_size = 1 + a % 64;
        sc->read_niov = 1 + (a >> 6) % 3;
        break;
    case OP_SERVER_WRITE:
        server_write(sc, a);
        break;
    case OP_SERVER_SHUTDOWN:
        qio_channel_shutdown(QIO_CHANNEL(sc->s.tioc),
                             (QIOChannelShutdown)(1 + a % 3), &err);
        /* Reading shut down turns a premature end into end-of-file. */
        sc->dirty |= (1 + a % 3) & QIO_CHANNEL_SHUTDOWN_READ;
        break;
    case OP_CLIENT_PAUSE:
        sc->paused = !sc->paused;
        break;
    default:
        g_assert_not_reached();
    }
}

static void run_op(Script *sc, Input *in)
{
    unsigned op = next_byte(in) % OP_COUNT;

    switch (op) {
    case OP_DATA:
        op_data(sc, in);
        break;
    case OP_RAW:
        op_raw(sc, in);
        break;
    case OP_READ_SIZE:
    case OP_SERVER_WRITE:
    case OP_SERVER_SHUTDOWN:
    case OP_CLIENT_PAUSE:
        op_server(sc, op, in);
        break;
    default:
        op_client(sc, op, in);
        break;
    }
    pump(sc);
}

static bool is_prefix(const GByteArray *a, const GByteArray *b)
{
    return a->len <= b->len &&
           (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* With everything delivered and nothing disturbed, all must be read. */
static void check_quiet(Script *sc)
{
    if (!is_prefix(sc->got, sc->sent)) {
        FAIL("the server read %u bytes that the client did not send",
             sc->got->len);
    }
    /* A write that would block may still leave (GnuTLS holds it). */
    g_byte_array_append(sc->wrote, sc->pending, (guint)sc->npending);
    if (!is_prefix(sc->heard, sc->wrote)) {
        FAIL("the client read %u bytes that the server did not write",
             sc->heard->len);
    }
    g_byte_array_set_size(sc->wrote, sc->wrote->len - (guint)sc->npending);
    /* A paused client may hold up a server that must write to read. */
    if (!sc->dirty && !sc->paused && !sc->server_done &&
        sc->got->len != sc->sent->len) {
        FAIL("%u of %u bytes stuck: the read watch did not fire",
             sc->sent->len - sc->got->len, sc->sent->len);
    }
}

static void check_end(Script *sc)
{
    check_quiet(sc);
    if (sc->dirty) {
        return;
    }
    if (sc->got->len != sc->sent->len) {
        FAIL("read %u of %u bytes before the end", sc->got->len, sc->sent->len);
    }
    if (sc->bye_sent && !sc->server_eof) {
        FAIL("close_notify sent, but the server saw: %s",
             sc->server_err ? sc->server_err->message : "?");
    }
    if (!sc->bye_sent &&
        !g_error_matches(sc->server_err, QIO_CHANNEL_TLS_ERROR,
                         QIO_CHANNEL_TLS_ERROR_PREMATURE_EOF)) {
        FAIL("no close_notify, but the server saw %s",
             sc->server_err ? sc->server_err->message : "end-of-file");
    }
}

static void fuzz_script(uint8_t mode, Input *in)
{
    Script sc = {
        .read_all = (mode & 4) != 0,
        .coroutine = (mode & 8) != 0,
        .read_size = 1 + ((mode >> 4) & 7),
        .read_niov = 1,
        .sent = g_byte_array_new(),
        .got = g_byte_array_new(),
        .wrote = g_byte_array_new(),
        .heard = g_byte_array_new(),
    };

    session_open(&sc.s, true);
    client_open(&sc, (mode & 2) != 0, (mode & 0x80) != 0);
    server_reader_start(&sc);
    pump(&sc);
    while (in->pos < in->size && !sc.server_done) {
        run_op(&sc, in);
        check_quiet(&sc);
    }
    sc.paused = false;
    shutdown(sc.s.cfd, SHUT_WR);
    for (unsigned idle = 0; !sc.server_done; idle++) {
        pump(&sc);
        if (idle > MAX_IDLE_ROUNDS) {
            FAIL("the server does not see the end of the stream");
        }
    }
    check_end(&sc);
    gnutls_deinit(sc.client);
    session_close(&sc.s);
    g_clear_error(&sc.server_err);
    g_byte_array_unref(sc.sent);
    g_byte_array_unref(sc.got);
    g_byte_array_unref(sc.wrote);
    g_byte_array_unref(sc.heard);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in = {.data = data, .size = size};
    unsigned before = count_fds();
    uint8_t mode = next_byte(&in);
    unsigned after;

    if (mode & 1) {
        fuzz_script(mode, &in);
    } else {
        fuzz_raw(mode, &in);
    }
    after = count_fds();
    if (after != before) {
        FAIL("descriptor leak: %u open before, %u after", before, after);
    }
    return 0;
}
