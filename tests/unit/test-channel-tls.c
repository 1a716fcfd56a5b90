/*
 * libqio unit tests - QIOTLSCreds and QIOChannelTLS
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The certificates are made at start-up with GnuTLS's X.509 API, in a
 * temporary directory: a CA, a server certificate for localhost and
 * 127.0.0.1, a client certificate, an expired server certificate, one
 * for another name, and a second CA that signs an untrusted client.
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qio/qio.h"
#include "test-util.h"

#define TEST_TIMEOUT_US (30 * G_USEC_PER_SEC)
#define BIG (8 * 1024 * 1024 + 1234)

static char *certdir;

/* ---------------------------------------------------------------- certs */

typedef enum {
    CERT_CA,
    CERT_SERVER,
    CERT_CLIENT,
} CertKind;

typedef struct {
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_t key;
} TestCert;

static gnutls_x509_privkey_t gen_key(void)
{
    gnutls_x509_privkey_t key;

    g_assert_cmpint(gnutls_x509_privkey_init(&key), ==, 0);
    g_assert_cmpint(gnutls_x509_privkey_generate(
                        key, GNUTLS_PK_ECDSA,
                        GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                    ==, 0);
    return key;
}

static void cert_set_ids(gnutls_x509_crt_t crt, const TestCert *issuer)
{
    unsigned char id[64];
    size_t len = sizeof(id);

    g_assert_cmpint(
        gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, id, &len), ==,
        0);
    g_assert_cmpint(gnutls_x509_crt_set_subject_key_id(crt, id, len), ==, 0);
    if (issuer) {
        len = sizeof(id);
        g_assert_cmpint(
            gnutls_x509_crt_get_subject_key_id(issuer->crt, id, &len, NULL), ==,
            0);
        g_assert_cmpint(gnutls_x509_crt_set_authority_key_id(crt, id, len), ==,
                        0);
    }
}

static void cert_set_usage(gnutls_x509_crt_t crt, CertKind kind,
                           const char *dns)
{
    static const unsigned char loopback[4] = {127, 0, 0, 1};

    if (kind == CERT_CA) {
        g_assert_cmpint(gnutls_x509_crt_set_basic_constraints(crt, 1, -1), ==,
                        0);
        unsigned int usage = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN;

        g_assert_cmpint(gnutls_x509_crt_set_key_usage(crt, usage), ==, 0);
        return;
    }
    g_assert_cmpint(gnutls_x509_crt_set_basic_constraints(crt, 0, -1), ==, 0);
    g_assert_cmpint(
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE), ==,
        0);
    g_assert_cmpint(gnutls_x509_crt_set_key_purpose_oid(
                        crt,
                        kind == CERT_SERVER ? GNUTLS_KP_TLS_WWW_SERVER
                                            : GNUTLS_KP_TLS_WWW_CLIENT,
                        0),
                    ==, 0);
    if (dns) {
        g_assert_cmpint(
            gnutls_x509_crt_set_subject_alt_name(
                crt, GNUTLS_SAN_DNSNAME, dns, strlen(dns), GNUTLS_FSAN_APPEND),
            ==, 0);
    }
    if (kind == CERT_SERVER) {
        g_assert_cmpint(gnutls_x509_crt_set_subject_alt_name(
                            crt, GNUTLS_SAN_IPADDRESS, loopback,
                            sizeof(loopback), GNUTLS_FSAN_APPEND),
                        ==, 0);
    }
}

/*
 * A certificate for @cn (and @dns) valid from @from_days to @to_days
 * around now, signed by @issuer (self-signed when NULL).
 */
static TestCert gen_cert(CertKind kind, const char *cn, const char *dns,
                         const TestCert *issuer, int from_days, int to_days)
{
    static unsigned char serial = 1;
    g_autofree char *dn = g_strdup_printf("CN=%s,O=libqio tests", cn);
    time_t now = time(NULL);
    TestCert c = {.key = gen_key()};
    unsigned char sn[2] = {0x01, serial++};

    g_assert_cmpint(gnutls_x509_crt_init(&c.crt), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_version(c.crt, 3), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_serial(c.crt, sn, sizeof(sn)), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_activation_time(
                        c.crt, now + (time_t)from_days * 86400),
                    ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_expiration_time(
                        c.crt, now + (time_t)to_days * 86400),
                    ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_dn(c.crt, dn, NULL), ==, 0);
    g_assert_cmpint(gnutls_x509_crt_set_key(c.crt, c.key), ==, 0);
    cert_set_usage(c.crt, kind, dns);
    cert_set_ids(c.crt, issuer);
    g_assert_cmpint(gnutls_x509_crt_sign2(c.crt, issuer ? issuer->crt : c.crt,
                                          issuer ? issuer->key : c.key,
                                          GNUTLS_DIG_SHA256, 0),
                    ==, 0);
    return c;
}

static void write_file(const char *name, const gnutls_datum_t *a,
                       const gnutls_datum_t *b)
{
    g_autofree char *path = g_build_filename(certdir, name, NULL);
    g_autoptr(GString) text = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    g_string_append_len(text, (const char *)a->data, a->size);
    if (b) {
        g_string_append_len(text, (const char *)b->data, b->size);
    }
    g_assert_true(g_file_set_contents(path, text->str, text->len, &err));
    g_assert_no_error(err);
}

/* Write NAME.pem, NAME-key.pem and NAME-both.pem (certificate and key). */
static void write_cert(const char *name, const TestCert *c)
{
    g_autofree char *certname = g_strdup_printf("%s.pem", name);
    g_autofree char *keyname = g_strdup_printf("%s-key.pem", name);
    g_autofree char *bothname = g_strdup_printf("%s-both.pem", name);
    gnutls_datum_t crt = {0};
    gnutls_datum_t key = {0};

    g_assert_cmpint(gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_PEM, &crt),
                    ==, 0);
    g_assert_cmpint(
        gnutls_x509_privkey_export2(c->key, GNUTLS_X509_FMT_PEM, &key), ==, 0);
    write_file(certname, &crt, NULL);
    write_file(keyname, &key, NULL);
    write_file(bothname, &crt, &key);
    gnutls_free(crt.data);
    gnutls_free(key.data);
}

static void cert_free(TestCert *c)
{
    gnutls_x509_crt_deinit(c->crt);
    gnutls_x509_privkey_deinit(c->key);
}

static void make_certs(void)
{
    g_autoptr(GError) err = NULL;
    TestCert ca;
    TestCert other_ca;
    TestCert certs[5];

    certdir = g_dir_make_tmp("qio-tls-XXXXXX", &err);
    g_assert_no_error(err);
    ca = gen_cert(CERT_CA, "libqio test CA", NULL, NULL, -30, 30);
    other_ca = gen_cert(CERT_CA, "some other CA", NULL, NULL, -30, 30);
    certs[0] = gen_cert(CERT_SERVER, "localhost", "localhost", &ca, -1, 30);
    certs[1] = gen_cert(CERT_CLIENT, "test client", NULL, &ca, -1, 30);
    certs[2] = gen_cert(CERT_SERVER, "localhost", "localhost", &ca, -10, -1);
    certs[3] =
        gen_cert(CERT_SERVER, "elsewhere", "elsewhere.example", &ca, -1, 30);
    certs[4] = gen_cert(CERT_CLIENT, "rogue client", NULL, &other_ca, -1, 30);
    write_cert("ca", &ca);
    write_cert("other-ca", &other_ca);
    write_cert("server", &certs[0]);
    write_cert("client", &certs[1]);
    write_cert("expired", &certs[2]);
    write_cert("elsewhere", &certs[3]);
    write_cert("rogue", &certs[4]);
    cert_free(&ca);
    cert_free(&other_ca);
    for (size_t i = 0; i < G_N_ELEMENTS(certs); i++) {
        cert_free(&certs[i]);
    }
}

static void remove_certs(void)
{
    g_autoptr(GDir) dir = g_dir_open(certdir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(certdir, name, NULL);

        g_unlink(path);
    }
    g_rmdir(certdir);
    g_clear_pointer(&certdir, g_free);
}

/* ---------------------------------------------------------------- creds */

typedef struct {
    const char *cert; /* file names in certdir, or NULL */
    const char *key;
    const char *ca;
    bool noverify;
    const char *priority;
    const char *ca_dir; /* a directory in certdir */
    const char *const *alpn;
    bool anonymous;
} CredsSpec;

static QIOTLSCreds *try_creds(QIOTLSCredsEndpoint ep, const CredsSpec *spec,
                              GError **errp)
{
    g_autofree char *cert = NULL;
    g_autofree char *key = NULL;
    g_autofree char *ca = NULL;
    g_autofree char *ca_dir = NULL;
    QIOTLSCredsOptions opts = QIO_TLS_CREDS_OPTIONS_INIT;

    if (spec->cert) {
        opts.cert_file = cert = g_build_filename(certdir, spec->cert, NULL);
    }
    if (spec->key) {
        opts.key_file = key = g_build_filename(certdir, spec->key, NULL);
    }
    if (spec->ca) {
        opts.ca_file = ca = g_build_filename(certdir, spec->ca, NULL);
    }
    if (spec->ca_dir) {
        opts.ca_dir = ca_dir = g_build_filename(certdir, spec->ca_dir, NULL);
    }
    opts.verify = !spec->noverify;
    opts.priority = spec->priority;
    opts.alpn = spec->alpn;
    opts.anonymous = spec->anonymous;
    return qio_tls_creds_new(ep, &opts, errp);
}

static QIOTLSCreds *make_creds(QIOTLSCredsEndpoint ep, const CredsSpec *spec)
{
    g_autoptr(GError) err = NULL;
    QIOTLSCreds *creds = try_creds(ep, spec, &err);

    g_assert_no_error(err);
    g_assert_nonnull(creds);
    return creds;
}

static const CredsSpec server_spec = {"server.pem", "server-key.pem", NULL};
static const CredsSpec client_spec = {NULL, NULL, "ca.pem"};

/* ---------------------------------------------------------------- loop */

static gboolean tick(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

/* Iterate the default context until *@a and *@b (NULL: true) hold. */
static void run_until(const bool *a, const bool *b)
{
    gint64 deadline = g_get_monotonic_time() + TEST_TIMEOUT_US;
    guint ticker = g_timeout_add(50, tick, NULL);

    while (!(a ? *a : true) || !(b ? *b : true)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(ticker);
}

/* Let whatever is ready run, for about @ms. */
static void run_for(guint ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
}

/* ---------------------------------------------------------------- pairs */

typedef struct {
    bool done;
    GError *err;
} HsResult;

typedef struct {
    QIOChannel *cmaster;
    QIOChannel *smaster;
    QIOChannelTLS *client;
    QIOChannelTLS *server;
    HsResult cres;
    HsResult sres;
} Pair;

static void socket_pair(QIOChannel **a, QIOChannel **b)
{
    g_autoptr(GError) err = NULL;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==,
                    0);
    *a = QIO_CHANNEL(qio_channel_socket_new_fd(sv[0], &err));
    g_assert_no_error(err);
    *b = QIO_CHANNEL(qio_channel_socket_new_fd(sv[1], &err));
    g_assert_no_error(err);
}

/* TLS channels over @cm and @sm (references taken over). */
static void pair_init_over(Pair *p, QIOChannel *cm, QIOChannel *sm,
                           const CredsSpec *cspec, const CredsSpec *sspec,
                           const char *host)
{
    g_autoptr(QIOTLSCreds) cc =
        make_creds(QIO_TLS_CREDS_ENDPOINT_CLIENT, cspec);
    g_autoptr(QIOTLSCreds) sc =
        make_creds(QIO_TLS_CREDS_ENDPOINT_SERVER, sspec);
    g_autoptr(GError) err = NULL;

    memset(p, 0, sizeof(*p));
    p->cmaster = cm;
    p->smaster = sm;
    p->client = qio_channel_tls_new_client(cm, cc, host, &err);
    g_assert_no_error(err);
    p->server = qio_channel_tls_new_server(sm, sc, &err);
    g_assert_no_error(err);
}

static void pair_init(Pair *p, const CredsSpec *cspec, const CredsSpec *sspec,
                      const char *host)
{
    QIOChannel *cm;
    QIOChannel *sm;

    socket_pair(&cm, &sm);
    pair_init_over(p, cm, sm, cspec, sspec, host);
}

static void hs_done(QIOTask *task, gpointer opaque)
{
    HsResult *r = opaque;

    g_assert_false(r->done);
    r->done = true;
    qio_task_propagate_error(task, &r->err);
}

/* Both handshakes, non-blocking, in the default context. */
static void pair_handshake(Pair *p)
{
    qio_test_set_blocking(QIO_CHANNEL(p->client), false);
    qio_test_set_blocking(QIO_CHANNEL(p->server), false);
    qio_channel_tls_handshake(p->server, hs_done, &p->sres, NULL, NULL);
    qio_channel_tls_handshake(p->client, hs_done, &p->cres, NULL, NULL);
    g_assert_false(p->cres.done);
    run_until(&p->cres.done, &p->sres.done);
}

static void pair_handshake_ok(Pair *p)
{
    pair_handshake(p);
    g_assert_no_error(p->cres.err);
    g_assert_no_error(p->sres.err);
}

static void pair_free(Pair *p)
{
    if (p->client) {
        qio_channel_close(QIO_CHANNEL(p->client), NULL);
    }
    if (p->server) {
        qio_channel_close(QIO_CHANNEL(p->server), NULL);
    }
    g_clear_object(&p->client);
    g_clear_object(&p->server);
    g_clear_object(&p->cmaster);
    g_clear_object(&p->smaster);
    g_clear_error(&p->cres.err);
    g_clear_error(&p->sres.err);
}

/* ------------------------------------------------------------- coroutines */

typedef struct {
    QIOChannel *ioc;
    char *buf;
    size_t len;
    size_t moved;
    bool done;
    unsigned yields;
    unsigned attempts;
    GError *err;
} CoJob;

/* The pump's pattern: readv_full, and qio_channel_yield() on would-block. */
static void coroutine_fn co_reader(void *opaque)
{
    CoJob *j = opaque;

    while (j->moved < j->len) {
        size_t want = MIN(j->len - j->moved, 1 + (j->attempts * 7919) % 65536);
        struct iovec iov = {j->buf + j->moved, want};
        ssize_t n;

        j->attempts++;
        n = qio_channel_readv_full(j->ioc, &iov, 1, NULL, NULL, 0, &j->err);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            j->yields++;
            qio_channel_yield(j->ioc, G_IO_IN);
            continue;
        }
        if (n <= 0) {
            break;
        }
        j->moved += (size_t)n;
    }
    j->done = true;
}

static void coroutine_fn co_writer(void *opaque)
{
    CoJob *j = opaque;

    if (qio_channel_write_all(j->ioc, j->buf, j->len, &j->err) == 0) {
        j->moved = j->len;
    }
    j->done = true;
}

static void co_start(QIOCoroutineEntry *entry, CoJob *j)
{
    qio_coroutine_enter(qio_coroutine_create(entry, j));
}

static void co_job_check(CoJob *j)
{
    g_assert_no_error(j->err);
    g_assert_true(j->done);
    g_assert_cmpuint(j->moved, ==, j->len);
}

/* ------------------------------------------------------------ creds tests */

static void assert_creds_error(QIOTLSCredsEndpoint ep, const CredsSpec *spec,
                               const char *part1, const char *part2)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOTLSCreds) creds = try_creds(ep, spec, &err);

    g_assert_null(creds);
    g_assert_nonnull(err);
    if (g_test_verbose()) {
        g_test_message("error: %s", err->message);
    }
    g_assert_nonnull(strstr(err->message, part1));
    if (part2) {
        g_assert_nonnull(strstr(err->message, part2));
    }
}

static void test_creds_errors(void)
{
    const QIOTLSCredsEndpoint S = QIO_TLS_CREDS_ENDPOINT_SERVER;
    const QIOTLSCredsEndpoint C = QIO_TLS_CREDS_ENDPOINT_CLIENT;

    assert_creds_error(S, &(CredsSpec){"missing.pem", NULL, NULL},
                       "missing.pem", g_strerror(ENOENT));
    assert_creds_error(S, &(CredsSpec){"server.pem", "missing-key.pem"},
                       "missing-key.pem", g_strerror(ENOENT));
    assert_creds_error(S, &(CredsSpec){"server.pem", NULL, NULL}, "server.pem",
                       "no PEM private key");
    assert_creds_error(S, &(CredsSpec){"server-key.pem", "server-key.pem"},
                       "server-key.pem", "no PEM certificate");
    assert_creds_error(S, &(CredsSpec){"server.pem", "client-key.pem"},
                       "client-key.pem", "does not belong");
    assert_creds_error(S, &(CredsSpec){NULL, NULL, NULL}, "needs a certificate",
                       NULL);
    assert_creds_error(C, &(CredsSpec){NULL, NULL, "missing-ca.pem"},
                       "missing-ca.pem", g_strerror(ENOENT));
    assert_creds_error(C, &(CredsSpec){NULL, NULL, "server-key.pem"},
                       "server-key.pem", "no PEM certificate");
    assert_creds_error(C, &(CredsSpec){NULL, NULL, ".", false, NULL},
                       g_strerror(EISDIR), NULL);
    assert_creds_error(
        C, &(CredsSpec){NULL, NULL, "ca.pem", false, "NORMAL:+BOGUS-THING"},
        "priority string", "BOGUS-THING");
}

static void test_creds_getters(void)
{
    g_autoptr(QIOTLSCreds) s = make_creds(
        QIO_TLS_CREDS_ENDPOINT_SERVER,
        &(CredsSpec){"server-both.pem", NULL, "ca.pem", true, "SECURE256"});
    g_autoptr(QIOTLSCreds) c =
        make_creds(QIO_TLS_CREDS_ENDPOINT_CLIENT, &client_spec);

    g_assert_cmpint(qio_tls_creds_get_endpoint(s), ==,
                    QIO_TLS_CREDS_ENDPOINT_SERVER);
    g_assert_false(qio_tls_creds_get_verify(s));
    g_assert_true(qio_tls_creds_has_ca(s));
    g_assert_true(qio_tls_creds_has_cert(s));
    g_assert_cmpstr(qio_tls_creds_get_priority(s), ==, "SECURE256");
    g_assert_nonnull(qio_tls_creds_get_gnutls_credentials(s));
    g_assert_nonnull(qio_tls_creds_get_gnutls_priority(s));
    g_assert_cmpint(qio_tls_creds_get_endpoint(c), ==,
                    QIO_TLS_CREDS_ENDPOINT_CLIENT);
    g_assert_true(qio_tls_creds_get_verify(c));
    g_assert_false(qio_tls_creds_has_cert(c));
    g_assert_cmpstr(qio_tls_creds_get_priority(c), ==, "NORMAL");
}

/* A client without cafile= trusts the system store: our CA is not in it. */
static void test_creds_system_trust(void)
{
    Pair p;

    pair_init(&p, &(CredsSpec){NULL}, &server_spec, "localhost");
    pair_handshake(&p);
    g_assert_error(p.cres.err, QIO_CHANNEL_TLS_ERROR,
                   QIO_CHANNEL_TLS_ERROR_VERIFY);
    g_assert_nonnull(strstr(p.cres.err->message, "issuer is unknown"));
    pair_free(&p);
}

static void test_wrong_endpoint(void)
{
    g_autoptr(QIOTLSCreds) s =
        make_creds(QIO_TLS_CREDS_ENDPOINT_SERVER, &server_spec);
    g_autoptr(QIOTLSCreds) c =
        make_creds(QIO_TLS_CREDS_ENDPOINT_CLIENT, &client_spec);
    g_autoptr(GError) err = NULL;
    QIOChannel *a;
    QIOChannel *b;

    socket_pair(&a, &b);
    g_assert_null(qio_channel_tls_new_client(a, s, "localhost", &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_clear_error(&err);
    g_assert_null(qio_channel_tls_new_server(b, c, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_object_unref(a);
    g_object_unref(b);
}

/* ------------------------------------------------------------- options */

/* Makes certdir/NAME holding copies of @files (NULL-terminated). */
static void make_dir_of(const char *name, const char *const *files)
{
    g_autofree char *dir = g_build_filename(certdir, name, NULL);

    g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
    for (size_t i = 0; files[i]; i++) {
        g_autofree char *from = g_build_filename(certdir, files[i], NULL);
        g_autofree char *to = g_build_filename(dir, files[i], NULL);
        g_autofree char *text = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(from, &text, &len, NULL));
        g_assert_true(g_file_set_contents(to, text, len, NULL));
    }
}

static void remove_dir_of(const char *name, const char *const *files)
{
    g_autofree char *dir = g_build_filename(certdir, name, NULL);

    for (size_t i = 0; files[i]; i++) {
        g_autofree char *path = g_build_filename(dir, files[i], NULL);

        g_unlink(path);
    }
    g_rmdir(dir);
}

/* ca_dir: every file of the directory is trusted, like a CA file. */
static void test_creds_ca_dir(void)
{
    static const char *const cas[] = {"other-ca.pem", "ca.pem", NULL};
    static const char *const none[] = {NULL};
    const QIOTLSCredsEndpoint C = QIO_TLS_CREDS_ENDPOINT_CLIENT;
    g_autoptr(QIOTLSCreds) server = NULL;
    Pair p;

    make_dir_of("cadir", cas);
    make_dir_of("emptydir", none);
    pair_init(&p, &(CredsSpec){.ca_dir = "cadir"}, &server_spec, "localhost");
    pair_handshake_ok(&p);
    g_assert_cmpstr(qio_channel_tls_get_peer_dn(p.client), ==,
                    "CN=localhost,O=libqio tests");
    pair_free(&p);
    server = make_creds(QIO_TLS_CREDS_ENDPOINT_SERVER,
                        &(CredsSpec){"server-both.pem", .ca_dir = "cadir"});
    g_assert_true(qio_tls_creds_has_ca(server));
    assert_creds_error(C, &(CredsSpec){.ca_dir = "missing-dir"}, "missing-dir",
                       g_strerror(ENOENT));
    assert_creds_error(C, &(CredsSpec){.ca_dir = "ca.pem"}, "ca.pem",
                       g_strerror(ENOTDIR));
    assert_creds_error(C, &(CredsSpec){.ca_dir = "emptydir"}, "emptydir",
                       "no PEM certificate in the directory");
    remove_dir_of("cadir", cas);
    remove_dir_of("emptydir", none);
}

static const char *const alpn_h2_h1[] = {"h2", "http/1.1", NULL};
static const char *const alpn_h1_h2[] = {"http/1.1", "h2", NULL};
static const char *const alpn_h1[] = {"http/1.1", NULL};
static const char *const alpn_h3[] = {"h3", NULL};

/* Both offer ALPN: the server's preference wins among the common ones. */
static void test_alpn_agreed(void)
{
    Pair p;

    pair_init(&p, &(CredsSpec){NULL, NULL, "ca.pem", .alpn = alpn_h2_h1},
              &(CredsSpec){"server-both.pem", .alpn = alpn_h1_h2}, "localhost");
    pair_handshake_ok(&p);
    g_assert_cmpstr(qio_channel_tls_get_alpn_protocol(p.client), ==,
                    "http/1.1");
    g_assert_cmpstr(qio_channel_tls_get_alpn_protocol(p.server), ==,
                    "http/1.1");
    pair_free(&p);
}

/* One side without ALPN: the session goes on without a protocol. */
static void test_alpn_one_sided(void)
{
    Pair p;

    pair_init(&p, &client_spec,
              &(CredsSpec){"server-both.pem", .alpn = alpn_h1}, "localhost");
    pair_handshake_ok(&p);
    g_assert_null(qio_channel_tls_get_alpn_protocol(p.client));
    g_assert_null(qio_channel_tls_get_alpn_protocol(p.server));
    pair_free(&p);
    pair_init(&p, &(CredsSpec){NULL, NULL, "ca.pem", .alpn = alpn_h1},
              &server_spec, "localhost");
    pair_handshake_ok(&p);
    g_assert_null(qio_channel_tls_get_alpn_protocol(p.client));
    pair_free(&p);
}

/* Nothing in common: the server refuses, and the client is told so. */
static void test_alpn_none_in_common(void)
{
    Pair p;

    pair_init(&p, &(CredsSpec){NULL, NULL, "ca.pem", .alpn = alpn_h3},
              &(CredsSpec){"server-both.pem", .alpn = alpn_h1}, "localhost");
    pair_handshake(&p);
    if (g_test_verbose()) {
        g_test_message("client: %s", p.cres.err->message);
        g_test_message("server: %s", p.sres.err->message);
    }
    g_assert_error(p.cres.err, QIO_CHANNEL_TLS_ERROR,
                   QIO_CHANNEL_TLS_ERROR_ALERT);
    g_assert_cmpstr(p.cres.err->message, ==,
                    "the server refused the TLS handshake: alert "
                    "no_application_protocol");
    g_assert_error(p.sres.err, QIO_CHANNEL_TLS_ERROR,
                   QIO_CHANNEL_TLS_ERROR_FAILED);
    g_assert_nonnull(strstr(p.sres.err->message, "no ALPN protocol"));
    pair_free(&p);
}

static void test_alpn_bad_name(void)
{
    static const char *const empty[] = {"h2", "", NULL};

    assert_creds_error(QIO_TLS_CREDS_ENDPOINT_CLIENT,
                       &(CredsSpec){.alpn = empty}, "ALPN protocol \"\"",
                       "1 to 255 bytes");
}

/* The server name the server received, or NULL. */
static char *received_sni(QIOChannelTLS *server)
{
    char name[256];
    size_t len = sizeof(name);
    unsigned int type;

    if (gnutls_server_name_get(qio_channel_tls_get_session(server), name, &len,
                               &type, 0) < 0) {
        return NULL;
    }
    return g_strdup(name);
}

/* SNI: the hostname by default, another name, or none; verified alike. */
static void test_server_name(void)
{
    static const struct {
        const char *set; /* "-": leave the default */
        const char *sent;
    } cases[] = {
        {"-", "localhost"},
        {"sni.example", "sni.example"},
        {NULL, NULL},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *sent = NULL;
        Pair p;

        pair_init(&p, &client_spec, &server_spec, "localhost");
        if (g_strcmp0(cases[i].set, "-") != 0) {
            qio_channel_tls_set_server_name(p.client, cases[i].set);
        }
        pair_handshake_ok(&p);
        sent = received_sni(p.server);
        g_assert_cmpstr(sent, ==, cases[i].sent);
        g_assert_cmpstr(qio_channel_tls_get_peer_dn(p.client), ==,
                        "CN=localhost,O=libqio tests");
        pair_free(&p);
    }
}

/* No version in common: each side says who refused, and why. */
static void test_version_refused(void)
{
    Pair p;

    pair_init(&p,
              &(CredsSpec){NULL, NULL, "ca.pem", false, "NORMAL:-VERS-TLS1.3"},
              &(CredsSpec){"server-both.pem", NULL, NULL, false,
                           "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-TLS1.2"},
              "localhost");
    pair_handshake(&p);
    if (g_test_verbose()) {
        g_test_message("client: %s", p.cres.err->message);
        g_test_message("server: %s", p.sres.err->message);
    }
    g_assert_error(p.cres.err, QIO_CHANNEL_TLS_ERROR,
                   QIO_CHANNEL_TLS_ERROR_ALERT);
    g_assert_cmpstr(p.cres.err->message, ==,
                    "the server refused the TLS handshake: alert "
                    "protocol_version");
    g_assert_error(p.sres.err, QIO_CHANNEL_TLS_ERROR,
                   QIO_CHANNEL_TLS_ERROR_FAILED);
    g_assert_nonnull(strstr(p.sres.err->message, "TLS version"));
    pair_free(&p);
}

/* ------------------------------------------------------------- handshakes */

/* Both ends non-blocking in one loop, then 8 MiB each way by coroutines. */
static void test_nonblocking_loop(void)
{
    g_autofree char *c2s = g_malloc(BIG);
    g_autofree char *s2c = g_malloc(BIG);
    g_autofree char *c2s_got = g_malloc0(BIG);
    g_autofree char *s2c_got = g_malloc0(BIG);
    CoJob jobs[4];
    Pair p;

    pair_init(&p, &client_spec, &server_spec, "localhost");
    pair_handshake_ok(&p);
    g_assert_cmpstr(qio_channel_tls_get_peer_dn(p.client), ==,
                    "CN=localhost,O=libqio tests");
    g_assert_null(qio_channel_tls_get_peer_dn(p.server));
    g_assert_true(qio_channel_tls_get_master(p.client) == p.cmaster);

    qio_test_fill_random(c2s, BIG);
    qio_test_fill_random(s2c, BIG);
    jobs[0] = (CoJob){.ioc = QIO_CHANNEL(p.server), .buf = c2s_got, .len = BIG};
    jobs[1] = (CoJob){.ioc = QIO_CHANNEL(p.client), .buf = s2c_got, .len = BIG};
    jobs[2] = (CoJob){.ioc = QIO_CHANNEL(p.client), .buf = c2s, .len = BIG};
    jobs[3] = (CoJob){.ioc = QIO_CHANNEL(p.server), .buf = s2c, .len = BIG};
    co_start(co_reader, &jobs[0]);
    co_start(co_reader, &jobs[1]);
    co_start(co_writer, &jobs[2]);
    co_start(co_writer, &jobs[3]);
    for (int i = 0; i < 4; i++) {
        run_until(&jobs[i].done, NULL);
        co_job_check(&jobs[i]);
    }
    g_assert_cmpuint(jobs[0].yields, >, 0);
    g_assert_true(memcmp(c2s, c2s_got, BIG) == 0);
    g_assert_true(memcmp(s2c, s2c_got, BIG) == 0);
    pair_free(&p);
}

typedef struct {
    QIOChannel *ioc;
    char *buf;
    size_t len;
    bool writing;
    GError *err;
    int ret;
} ThreadJob;

static gpointer thread_io(gpointer data)
{
    ThreadJob *j = data;

    j->ret = j->writing ? qio_channel_write_all(j->ioc, j->buf, j->len, &j->err)
                        : qio_channel_read_all(j->ioc, j->buf, j->len, &j->err);
    return NULL;
}

static gpointer thread_handshake(gpointer data)
{
    Pair *p = data;

    qio_channel_tls_handshake_sync(p->server, &p->sres.err);
    p->sres.done = true;
    return NULL;
}

/* Blocking ends: the server in a thread; the client's task completes at once */
static void test_blocking_threads(void)
{
    g_autofree char *c2s = g_malloc(BIG);
    g_autofree char *s2c = g_malloc(BIG);
    g_autofree char *c2s_got = g_malloc0(BIG);
    g_autofree char *s2c_got = g_malloc0(BIG);
    ThreadJob jobs[4];
    GThread *threads[4];
    GThread *server;
    Pair p;

    pair_init(&p, &client_spec, &server_spec, "localhost");
    server = g_thread_new("tls-server", thread_handshake, &p);
    qio_channel_tls_handshake(p.client, hs_done, &p.cres, NULL, NULL);
    g_assert_true(p.cres.done);
    g_thread_join(server);
    g_assert_no_error(p.cres.err);
    g_assert_no_error(p.sres.err);

    qio_test_fill_random(c2s, BIG);
    qio_test_fill_random(s2c, BIG);
    jobs[0] = (ThreadJob){QIO_CHANNEL(p.client), c2s, BIG, true};
    jobs[1] = (ThreadJob){QIO_CHANNEL(p.server), c2s_got, BIG, false};
    jobs[2] = (ThreadJob){QIO_CHANNEL(p.server), s2c, BIG, true};
    jobs[3] = (ThreadJob){QIO_CHANNEL(p.client), s2c_got, BIG, false};
    for (int i = 0; i < 4; i++) {
        threads[i] = g_thread_new("tls-io", thread_io, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        g_thread_join(threads[i]);
        g_assert_no_error(jobs[i].err);
        g_assert_cmpint(jobs[i].ret, ==, 0);
    }
    g_assert_true(memcmp(c2s, c2s_got, BIG) == 0);
    g_assert_true(memcmp(s2c, s2c_got, BIG) == 0);
    pair_free(&p);
}

/* qio_channel_wait() on TLS channels (the test helper's non-blocking mode). */
static void test_wait_transfer(void)
{
    QIOTestTransfer opts = {.nonblocking = true};
    Pair p;

    pair_init(&p, &client_spec, &(CredsSpec){"server-both.pem", NULL, NULL},
              "127.0.0.1");
    pair_handshake_ok(&p);
    /*
     * Whether either side had to wait depends on scheduling (under
     * valgrind the reader may never catch up); the data compare is what
     * must hold.
     */
    qio_test_transfer(QIO_CHANNEL(p.client), QIO_CHANNEL(p.server), &opts);
    qio_test_transfer(QIO_CHANNEL(p.server), QIO_CHANNEL(p.client), &opts);
    pair_free(&p);
}

/* The synchronous handshake over non-blocking masters. */
static void test_handshake_sync_nonblocking(void)
{
    Pair p;
    GThread *server;
    g_autoptr(GError) err = NULL;

    pair_init(&p, &client_spec, &server_spec, "localhost");
    qio_test_set_blocking(QIO_CHANNEL(p.client), false);
    qio_test_set_blocking(QIO_CHANNEL(p.server), false);
    server = g_thread_new("tls-server", thread_handshake, &p);
    g_assert_cmpint(qio_channel_tls_handshake_sync(p.client, &err), ==, 0);
    g_assert_no_error(err);
    g_thread_join(server);
    g_assert_no_error(p.sres.err);
    g_assert_cmpint(
        qio_channel_write_all(QIO_CHANNEL(p.client), "ping", 4, &err), ==, 0);
    pair_free(&p);
}

static void test_io_before_handshake(void)
{
    g_autoptr(GError) err = NULL;
    char buf[4];
    Pair p;

    pair_init(&p, &client_spec, &server_spec, "localhost");
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(p.client), buf, 4, &err), ==,
                    -1);
    g_assert_error(err, QIO_CHANNEL_TLS_ERROR, QIO_CHANNEL_TLS_ERROR_NOT_READY);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(p.client), "x", 1, &err), ==,
                    -1);
    g_assert_error(err, QIO_CHANNEL_TLS_ERROR, QIO_CHANNEL_TLS_ERROR_NOT_READY);
    pair_free(&p);
}

static void test_close_during_handshake(void)
{
    Pair p;

    pair_init(&p, &client_spec, &server_spec, "localhost");
    qio_test_set_blocking(QIO_CHANNEL(p.client), false);
    qio_channel_tls_handshake(p.client, hs_done, &p.cres, NULL, NULL);
    g_assert_false(p.cres.done);
    qio_channel_close(QIO_CHANNEL(p.client), NULL);
    g_assert_true(p.cres.done);
    g_assert_error(p.cres.err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
    pair_free(&p);
}

/* A handshake that fails on the peer's side of the transport. */
static void test_peer_not_tls(void)
{
    QIOChannel *cm;
    QIOChannel *sm;
    g_autoptr(QIOTLSCreds) cc =
        make_creds(QIO_TLS_CREDS_ENDPOINT_CLIENT, &client_spec);
    g_autoptr(QIOChannelTLS) tioc = NULL;
    g_autoptr(GError) err = NULL;
    const char junk[] = "HTTP/1.0 400 Bad Request\r\n\r\n";

    socket_pair(&cm, &sm);
    tioc = qio_channel_tls_new_client(cm, cc, "localhost", &err);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_write_all(sm, junk, sizeof(junk) - 1, &err), ==,
                    0);
    qio_channel_shutdown(sm, QIO_CHANNEL_SHUTDOWN_WRITE, NULL);
    g_assert_cmpint(qio_channel_tls_handshake_sync(tioc, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_TLS_ERROR, QIO_CHANNEL_TLS_ERROR_FAILED);
    g_assert_nonnull(strstr(err->message, "TLS handshake failed"));
    g_object_unref(cm);
    g_object_unref(sm);
}

/* ----------------------------------------------------------- verification */

/* The client rejects the server: its reason here, an alert at the server. */
static void check_client_rejects(const CredsSpec *cspec, const CredsSpec *sspec,
                                 const char *host, unsigned int bit,
                                 const char *reason)
{
    Pair p;

    pair_init(&p, cspec, sspec, host);
    pair_handshake(&p);
    g_assert_error(p.cres.err, QIO_CHANNEL_TLS_ERROR,
                   QIO_CHANNEL_TLS_ERROR_VERIFY);
    if (g_test_verbose()) {
        g_test_message("client: %s", p.cres.err->message);
        g_test_message("server: %s", p.sres.err->message);
    }
    g_assert_true(g_str_has_prefix(p.cres.err->message,
                                   "certificate verification failed: "));
    g_assert_nonnull(strstr(p.cres.err->message, reason));
    g_assert_true(qio_channel_tls_get_verify_status(p.client) & bit);
    g_assert_error(p.sres.err, QIO_CHANNEL_TLS_ERROR,
                   QIO_CHANNEL_TLS_ERROR_ALERT);
    g_assert_null(qio_channel_tls_get_peer_dn(p.client));
    pair_free(&p);
}

static void test_verify_unknown_issuer(void)
{
    check_client_rejects(&(CredsSpec){NULL, NULL, "other-ca.pem"}, &server_spec,
                         "localhost", GNUTLS_CERT_SIGNER_NOT_FOUND,
                         "the certificate issuer is unknown");
}

static void test_verify_name_mismatch(void)
{
    check_client_rejects(&client_spec, &server_spec, "wrong.example",
                         GNUTLS_CERT_UNEXPECTED_OWNER,
                         "the certificate is not for \"wrong.example\"");
    check_client_rejects(&client_spec, &server_spec, "127.0.0.2",
                         GNUTLS_CERT_UNEXPECTED_OWNER, "\"127.0.0.2\"");
    check_client_rejects(
        &client_spec, &(CredsSpec){"elsewhere.pem", "elsewhere-key.pem"},
        "localhost", GNUTLS_CERT_UNEXPECTED_OWNER, "not for \"localhost\"");
}

static void test_verify_expired(void)
{
    check_client_rejects(
        &client_spec, &(CredsSpec){"expired.pem", "expired-key.pem"},
        "localhost", GNUTLS_CERT_EXPIRED, "the certificate has expired");
}

/* Verification off: any server will do, and no identity is claimed. */
#define ANON_PRIORITY "NORMAL:-KX-ALL:+ANON-ECDH:+ANON-DH:-VERS-TLS1.3"

/* Anonymous credentials: a server without a certificate, ANON-ECDH. */
static void test_anonymous(void)
{
    const CredsSpec anon_client = {
        .noverify = true, .priority = ANON_PRIORITY, .anonymous = true};
    const CredsSpec anon_server = {.priority = ANON_PRIORITY,
                                   .anonymous = true};
    g_autoptr(QIOTLSCreds) creds =
        make_creds(QIO_TLS_CREDS_ENDPOINT_SERVER, &anon_server);
    gnutls_session_t cs;
    Pair p;

    g_assert_true(qio_tls_creds_get_anonymous(creds));
    g_assert_false(qio_tls_creds_has_cert(creds));

    pair_init(&p, &anon_client, &anon_server, NULL);
    pair_handshake_ok(&p);
    cs = qio_channel_tls_get_session(p.client);
    g_assert_cmpint(gnutls_kx_get(cs), ==, GNUTLS_KX_ANON_ECDH);
    g_assert_cmpint(gnutls_auth_get_type(cs), ==, GNUTLS_CRD_ANON);
    g_assert_cmpint(gnutls_kx_get(qio_channel_tls_get_session(p.server)), ==,
                    GNUTLS_KX_ANON_ECDH);
    g_assert_null(qio_channel_tls_get_peer_dn(p.client));
    pair_free(&p);
}

/* Anonymous TLS cannot verify, nor ask for client certificates. */
static void test_anonymous_errors(void)
{
    assert_creds_error(QIO_TLS_CREDS_ENDPOINT_CLIENT,
                       &(CredsSpec){.anonymous = true},
                       "anonymous TLS cannot verify the server", NULL);
    assert_creds_error(QIO_TLS_CREDS_ENDPOINT_SERVER,
                       &(CredsSpec){NULL, NULL, "ca.pem", .anonymous = true},
                       "anonymous TLS cannot ask clients for certificates",
                       NULL);
    /* without anonymous, a server still needs its certificate */
    assert_creds_error(QIO_TLS_CREDS_ENDPOINT_SERVER, &(CredsSpec){NULL},
                       "a TLS server needs a certificate", NULL);
}

static void test_verify_off(void)
{
    Pair p;

    pair_init(&p, &(CredsSpec){NULL, NULL, "other-ca.pem", true},
              &(CredsSpec){"expired-both.pem"}, "wrong.example");
    pair_handshake_ok(&p);
    g_assert_null(qio_channel_tls_get_peer_dn(p.client));
    g_assert_cmpuint(qio_channel_tls_get_verify_status(p.client), ==, 0);
    pair_free(&p);
}

/* A server with a CA file requires a client certificate. */
static void test_verify_client_cert_required(void)
{
    g_autoptr(GError) err = NULL;
    char buf[16];
    ssize_t n;
    Pair p;

    pair_init(&p, &client_spec,
              &(CredsSpec){"server.pem", "server-key.pem", "ca.pem"},
              "localhost");
    pair_handshake(&p);
    g_assert_error(p.sres.err, QIO_CHANNEL_TLS_ERROR,
                   QIO_CHANNEL_TLS_ERROR_NO_CERTIFICATE);
    g_assert_nonnull(strstr(p.sres.err->message, "sent no certificate"));
    /* TLS 1.3: the client learns it when it next reads; 1.2: at once. */
    if (!p.cres.err) {
        qio_test_set_blocking(QIO_CHANNEL(p.client), true);
        n = qio_channel_read(QIO_CHANNEL(p.client), buf, sizeof(buf), &err);
        g_assert_cmpint(n, ==, -1);
        p.cres.err = g_steal_pointer(&err);
    }
    if (g_test_verbose()) {
        g_test_message("client: %s", p.cres.err->message);
        g_test_message("server: %s", p.sres.err->message);
    }
    g_assert_true(g_error_matches(p.cres.err, QIO_CHANNEL_TLS_ERROR,
                                  QIO_CHANNEL_TLS_ERROR_NO_CERTIFICATE) ||
                  g_error_matches(p.cres.err, QIO_CHANNEL_TLS_ERROR,
                                  QIO_CHANNEL_TLS_ERROR_ALERT));
    pair_free(&p);
}

static void test_verify_client_untrusted(void)
{
    Pair p;

    pair_init(&p, &(CredsSpec){"rogue-both.pem", NULL, "ca.pem"},
              &(CredsSpec){"server.pem", "server-key.pem", "ca.pem"},
              "localhost");
    pair_handshake(&p);
    g_assert_error(p.sres.err, QIO_CHANNEL_TLS_ERROR,
                   QIO_CHANNEL_TLS_ERROR_VERIFY);
    g_assert_nonnull(strstr(p.sres.err->message, "issuer is unknown"));
    g_assert_true(qio_channel_tls_get_verify_status(p.server) &
                  GNUTLS_CERT_SIGNER_NOT_FOUND);
    pair_free(&p);
}

static void test_verify_mutual(void)
{
    Pair p;

    pair_init(&p, &(CredsSpec){"client.pem", "client-key.pem", "ca.pem"},
              &(CredsSpec){"server-both.pem", NULL, "ca.pem"}, "localhost");
    pair_handshake_ok(&p);
    g_assert_cmpstr(qio_channel_tls_get_peer_dn(p.server), ==,
                    "CN=test client,O=libqio tests");
    g_assert_cmpstr(qio_channel_tls_get_peer_dn(p.client), ==,
                    "CN=localhost,O=libqio tests");
    pair_free(&p);
}

/* A server that asks (verify off) takes a client without a certificate. */
static void test_verify_client_optional(void)
{
    Pair p;

    pair_init(&p, &client_spec,
              &(CredsSpec){"server-both.pem", NULL, "ca.pem", true},
              "localhost");
    pair_handshake_ok(&p);
    g_assert_null(qio_channel_tls_get_peer_dn(p.server));
    pair_free(&p);
}

/* ---------------------------------------------------------------- closing */

/*
 * shutdown(WRITE): close_notify, then the master's write side; the peer
 * reads end-of-file while the other direction still works.
 */
static void test_shutdown_write(void)
{
    g_autoptr(GError) err = NULL;
    QIOChannel *c;
    QIOChannel *s;
    Pair p;

    pair_init(&p, &client_spec, &server_spec, "localhost");
    pair_handshake_ok(&p);
    c = QIO_CHANNEL(p.client);
    s = QIO_CHANNEL(p.server);
    qio_test_set_blocking(c, true);
    qio_test_set_blocking(s, true);
    g_assert_true(qio_channel_has_feature(c, QIO_CHANNEL_FEATURE_SHUTDOWN));

    qio_test_write_str(c, "request");
    g_assert_cmpint(qio_channel_shutdown(c, QIO_CHANNEL_SHUTDOWN_WRITE, &err),
                    ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_write(c, "x", 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    g_clear_error(&err);

    qio_test_read_str(s, "request");
    qio_test_read_eof(s);
    qio_test_read_eof(s);
    /* The master's write side was shut after the alert. */
    qio_test_read_eof(p.smaster);

    qio_test_write_str(s, "reply, still flowing");
    qio_test_read_str(c, "reply, still flowing");
    g_assert_cmpint(qio_channel_shutdown(s, QIO_CHANNEL_SHUTDOWN_WRITE, &err),
                    ==, 0);
    qio_test_read_eof(c);
    pair_free(&p);
}

/* ---------------------------------------------------------------- gate */

/*
 * A channel in front of a socket whose writes can be held back ("gate
 * closed": writes would block, G_IO_OUT is never ready) to make GnuTLS
 * wait for the master at chosen moments.
 */
#define TEST_TYPE_GATE (test_gate_get_type())
G_DECLARE_FINAL_TYPE(TestGate, test_gate, TEST, GATE, QIOChannel)

struct _TestGate {
    QIOChannel parent;
    QIOChannel *inner;
    bool shut;
    bool blocking;
};

G_DEFINE_FINAL_TYPE(TestGate, test_gate, QIO_TYPE_CHANNEL)

static ssize_t gate_writev(QIOChannel *ioc, const struct iovec *iov,
                           size_t niov, int *fds, size_t nfds, int flags,
                           GError **errp)
{
    TestGate *g = TEST_GATE(ioc);

    if (g->shut) {
        g_assert_false(g->blocking);
        return QIO_CHANNEL_ERR_BLOCK;
    }
    return qio_channel_writev(g->inner, iov, niov, errp);
}

static ssize_t gate_readv(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                          int **fds, size_t *nfds, int flags, GError **errp)
{
    return qio_channel_readv(TEST_GATE(ioc)->inner, iov, niov, errp);
}

static int gate_close(QIOChannel *ioc, GError **errp)
{
    return qio_channel_close(TEST_GATE(ioc)->inner, errp);
}

static int gate_set_blocking(QIOChannel *ioc, bool enabled, GError **errp)
{
    TEST_GATE(ioc)->blocking = enabled;
    return qio_channel_set_blocking(TEST_GATE(ioc)->inner, enabled, errp);
}

static int gate_shutdown(QIOChannel *ioc, QIOChannelShutdown how, GError **errp)
{
    return qio_channel_shutdown(TEST_GATE(ioc)->inner, how, errp);
}

typedef struct {
    GSource parent;
    TestGate *gate;
    GIOCondition condition;
    GIOCondition child_revents;
} GateSource;

static gboolean gate_child_ready(QIOChannel *ioc, GIOCondition cond,
                                 gpointer data)
{
    ((GateSource *)data)->child_revents |= cond;
    return G_SOURCE_CONTINUE;
}

static bool gate_out_ready(GateSource *src)
{
    return (src->condition & G_IO_OUT) && !src->gate->shut;
}

static gboolean gate_prepare(GSource *source, gint *timeout)
{
    *timeout = -1;
    return gate_out_ready((GateSource *)source);
}

static gboolean gate_check(GSource *source)
{
    return gate_out_ready((GateSource *)source);
}

static gboolean gate_dispatch(GSource *source, GSourceFunc callback,
                              gpointer user_data)
{
    GateSource *src = (GateSource *)source;
    GIOCondition revents = src->child_revents;
    QIOChannelFunc func = (QIOChannelFunc)(void (*)(void))callback;

    src->child_revents = 0;
    if (gate_out_ready(src)) {
        revents |= G_IO_OUT;
    }
    if (!revents) {
        return G_SOURCE_CONTINUE;
    }
    return func(QIO_CHANNEL(src->gate), revents, user_data);
}

static void gate_finalize(GSource *source)
{
    g_object_unref(((GateSource *)source)->gate);
}

static GSourceFuncs gate_source_funcs = {
    .prepare = gate_prepare,
    .check = gate_check,
    .dispatch = gate_dispatch,
    .finalize = gate_finalize,
};

static GSource *gate_create_watch(QIOChannel *ioc, GIOCondition condition)
{
    TestGate *g = TEST_GATE(ioc);
    GSource *source = g_source_new(&gate_source_funcs, sizeof(GateSource));
    GateSource *src = (GateSource *)source;

    src->gate = g_object_ref(g);
    src->condition = condition;
    if (condition & G_IO_IN) {
        GSource *child = qio_channel_create_watch(g->inner, G_IO_IN);

        g_source_set_callback(
            child, (GSourceFunc)(void (*)(void))gate_child_ready, src, NULL);
        g_source_add_child_source(source, child);
        g_source_unref(child);
    }
    return source;
}

static void test_gate_finalize(GObject *obj)
{
    g_clear_object(&TEST_GATE(obj)->inner);
    G_OBJECT_CLASS(test_gate_parent_class)->finalize(obj);
}

static void test_gate_class_init(TestGateClass *klass)
{
    QIOChannelClass *ioc_class = QIO_CHANNEL_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = test_gate_finalize;
    ioc_class->io_writev = gate_writev;
    ioc_class->io_readv = gate_readv;
    ioc_class->io_close = gate_close;
    ioc_class->io_create_watch = gate_create_watch;
    ioc_class->io_set_blocking = gate_set_blocking;
    ioc_class->io_shutdown = gate_shutdown;
}

static void test_gate_init(TestGate *g)
{
    g->blocking = true;
    qio_channel_set_feature(QIO_CHANNEL(g), QIO_CHANNEL_FEATURE_SHUTDOWN);
}

/* A pair whose client writes through a gate. */
static TestGate *pair_init_gated(Pair *p, const char *priority)
{
    QIOChannel *cm;
    QIOChannel *sm;
    TestGate *gate = g_object_new(TEST_TYPE_GATE, NULL);
    CredsSpec cspec = client_spec;

    cspec.priority = priority;
    socket_pair(&cm, &sm);
    gate->inner = cm;
    pair_init_over(p, QIO_CHANNEL(gate), sm, &cspec, &server_spec, "localhost");
    return gate;
}

/*
 * close_notify that cannot leave at once is sent from a watch; the
 * master's write side is shut after it.
 */
static void test_shutdown_deferred(void)
{
    g_autoptr(GError) err = NULL;
    TestGate *gate;
    char c;
    Pair p;

    gate = pair_init_gated(&p, NULL);
    pair_handshake_ok(&p);
    qio_test_write_str(QIO_CHANNEL(p.client), "last words");
    gate->shut = true;
    g_assert_cmpint(qio_channel_shutdown(QIO_CHANNEL(p.client),
                                         QIO_CHANNEL_SHUTDOWN_WRITE, &err),
                    ==, 0);
    g_assert_no_error(err);
    qio_test_read_str(QIO_CHANNEL(p.server), "last words");
    /* Nothing more yet: the alert is held back by the gate. */
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(p.server), &c, 1, &err), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    g_assert_true(qio_channel_tls_bye_pending(p.client));
    run_for(20);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(p.server), &c, 1, &err), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    g_assert_true(qio_channel_tls_bye_pending(p.client));
    gate->shut = false;
    run_for(20);
    g_assert_false(qio_channel_tls_bye_pending(p.client));
    qio_test_set_blocking(QIO_CHANNEL(p.server), true);
    qio_test_read_eof(QIO_CHANNEL(p.server));
    qio_test_read_eof(p.smaster);
    pair_free(&p);
}

/* Iterate until @counter moves past @from, at most 5 s. */
static void run_until_changed(const unsigned *counter, unsigned from)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (*counter == from) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(500);
    }
}

/*
 * TLS 1.3 post-handshake authentication: the server asks for the client's
 * certificate again, and the client answers inside its read. With the
 * master's writes held back that read waits for G_IO_OUT on the master;
 * a coroutine that yielded for G_IO_IN on the TLS channel must be resumed
 * once the master can write, although nothing arrives to read.
 */
static QIOTLSCreds *reauth_creds(QIOTLSCredsEndpoint ep, const char *both)
{
    g_autofree char *cert = g_build_filename(certdir, both, NULL);
    g_autofree char *ca = g_build_filename(certdir, "ca.pem", NULL);
    QIOTLSCredsOptions opts = QIO_TLS_CREDS_OPTIONS_INIT;
    g_autoptr(GError) err = NULL;
    QIOTLSCreds *creds;

    opts.cert_file = cert;
    opts.ca_file = ca;
    opts.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
    opts.post_handshake_auth = true;
    creds = qio_tls_creds_new(ep, &opts, &err);
    g_assert_no_error(err);
    g_assert_true(qio_tls_creds_get_post_handshake_auth(creds));
    return creds;
}

/*
 * A handshaken pair whose credentials allow reauthentication and whose
 * client writes through the gate returned.
 */
static TestGate *pair_init_reauth(Pair *p)
{
    g_autoptr(QIOTLSCreds) cc =
        reauth_creds(QIO_TLS_CREDS_ENDPOINT_CLIENT, "client-both.pem");
    g_autoptr(QIOTLSCreds) sc =
        reauth_creds(QIO_TLS_CREDS_ENDPOINT_SERVER, "server-both.pem");
    TestGate *gate = g_object_new(TEST_TYPE_GATE, NULL);
    g_autoptr(GError) err = NULL;

    memset(p, 0, sizeof(*p));
    socket_pair(&gate->inner, &p->smaster);
    p->cmaster = QIO_CHANNEL(gate);
    p->client = qio_channel_tls_new_client(p->cmaster, cc, "localhost", &err);
    g_assert_no_error(err);
    p->server = qio_channel_tls_new_server(p->smaster, sc, &err);
    g_assert_no_error(err);
    pair_handshake_ok(p);
    return gate;
}

/* Let the server's reauthentication of @ss finish (at most 5 s). */
static void reauth_finish(gnutls_session_t ss)
{
    int ret;

    for (gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
         (ret = gnutls_reauth(ss, 0)) == GNUTLS_E_AGAIN;) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(500);
    }
    g_assert_cmpint(ret, ==, 0);
}

static void test_reauth_read_writes(void)
{
    Pair p;
    TestGate *gate = pair_init_reauth(&p);
    gnutls_session_t cs;
    gnutls_session_t ss;
    char buf[64] = {0};
    CoJob job = {.buf = buf, .len = 5};
    unsigned attempts;
    int ret;

    cs = qio_channel_tls_get_session(p.client);
    ss = qio_channel_tls_get_session(p.server);
    g_assert_cmpint(gnutls_protocol_get_version(cs), ==, GNUTLS_TLS1_3);

    job.ioc = QIO_CHANNEL(p.client);
    co_start(co_reader, &job);
    g_assert_cmpuint(job.yields, ==, 1);

    gate->shut = true;
    ret = gnutls_reauth(ss, 0);
    g_assert_cmpint(ret, ==, GNUTLS_E_AGAIN);
    run_until_changed(&job.yields, 1);
    /* The read took the request and now waits to write the answer. */
    g_assert_cmpint(gnutls_record_get_direction(cs), ==, 1);
    attempts = job.attempts;
    run_for(30);
    g_assert_cmpuint(job.attempts, ==, attempts);

    gate->shut = false;
    run_until_changed(&job.attempts, attempts);
    g_assert_false(job.done);

    /* The server gets the answer; then both directions work. */
    reauth_finish(ss);
    qio_test_write_str(QIO_CHANNEL(p.server), "hello");
    run_until(&job.done, NULL);
    co_job_check(&job);
    g_assert_cmpstr(buf, ==, "hello");
    qio_test_write_str(QIO_CHANNEL(p.client), "ping");
    qio_test_set_blocking(QIO_CHANNEL(p.server), true);
    qio_test_read_str(QIO_CHANNEL(p.server), "ping");
    pair_free(&p);
}

typedef struct {
    unsigned fired;
    ssize_t last;
    char buf[64];
} WatchReader;

static gboolean watch_read(QIOChannel *ioc, GIOCondition cond, gpointer data)
{
    WatchReader *w = data;

    w->fired++;
    w->last = qio_channel_read(ioc, w->buf, sizeof(w->buf) - 1, NULL);
    return G_SOURCE_CONTINUE;
}

/*
 * A long-lived G_IO_IN watch follows GnuTLS: when a read comes to wait
 * for the master to be writable, the watch waits for that instead.
 */
static void test_watch_follows_direction(void)
{
    Pair p;
    TestGate *gate = pair_init_reauth(&p);
    WatchReader w = {0};
    gnutls_session_t ss;
    unsigned fired;
    guint id;

    ss = qio_channel_tls_get_session(p.server);
    id = qio_channel_add_watch(QIO_CHANNEL(p.client), G_IO_IN, watch_read, &w,
                               NULL);
    run_for(20);
    g_assert_cmpuint(w.fired, ==, 0);

    gate->shut = true;
    g_assert_cmpint(gnutls_reauth(ss, 0), ==, GNUTLS_E_AGAIN);
    run_until_changed(&w.fired, 0);
    g_assert_cmpint(w.last, ==, QIO_CHANNEL_ERR_BLOCK);
    g_assert_cmpint(
        gnutls_record_get_direction(qio_channel_tls_get_session(p.client)), ==,
        1);
    fired = w.fired;
    run_for(30);
    g_assert_cmpuint(w.fired, ==, fired);

    gate->shut = false;
    run_until_changed(&w.fired, fired);
    reauth_finish(ss);
    qio_test_write_str(QIO_CHANNEL(p.server), "hello");
    for (gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
         w.last != 5;) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_main_context_iteration(NULL, FALSE);
        g_usleep(500);
    }
    g_assert_cmpstr(w.buf, ==, "hello");
    g_source_remove(id);
    pair_free(&p);
}

/* A TLS 1.3 key update asked by the peer, then data both ways. */
static void test_key_update(void)
{
    char buf[64] = {0};
    CoJob job = {.buf = buf, .len = 5};
    Pair p;

    pair_init(&p,
              &(CredsSpec){NULL, NULL, "ca.pem", false,
                           "NORMAL:-VERS-ALL:+VERS-TLS1.3"},
              &server_spec, "localhost");
    pair_handshake_ok(&p);
    job.ioc = QIO_CHANNEL(p.client);
    co_start(co_reader, &job);
    g_assert_cmpint(gnutls_session_key_update(
                        qio_channel_tls_get_session(p.server), GNUTLS_KU_PEER),
                    ==, 0);
    qio_test_write_str(QIO_CHANNEL(p.server), "hello");
    run_until(&job.done, NULL);
    co_job_check(&job);
    g_assert_cmpstr(buf, ==, "hello");
    qio_test_write_str(QIO_CHANNEL(p.client), "ping");
    qio_test_set_blocking(QIO_CHANNEL(p.server), true);
    qio_test_read_str(QIO_CHANNEL(p.server), "ping");
    qio_test_write_str(QIO_CHANNEL(p.server), "pong");
    qio_test_set_blocking(QIO_CHANNEL(p.client), true);
    qio_test_read_str(QIO_CHANNEL(p.client), "pong");
    pair_free(&p);
}

/*
 * A record without data before the data (a TLS 1.3 key update here; a
 * NewSessionTicket from an OpenSSL server is the same): GnuTLS says AGAIN
 * for it even on a blocking master, but one blocking qio_channel_read()
 * returns the data, never QIO_CHANNEL_ERR_BLOCK.
 */
static void test_blocking_read_after_handshake_record(void)
{
    g_autoptr(GError) err = NULL;
    char buf[16] = {0};
    Pair p;

    pair_init(&p,
              &(CredsSpec){NULL, NULL, "ca.pem", false,
                           "NORMAL:-VERS-ALL:+VERS-TLS1.3"},
              &server_spec, "localhost");
    pair_handshake_ok(&p);
    qio_test_set_blocking(QIO_CHANNEL(p.client), true);
    qio_test_set_blocking(QIO_CHANNEL(p.server), true);
    g_assert_cmpint(
        gnutls_session_key_update(qio_channel_tls_get_session(p.server), 0), ==,
        0);
    qio_test_write_str(QIO_CHANNEL(p.server), "hello");
    g_assert_cmpint(
        qio_channel_read(QIO_CHANNEL(p.client), buf, sizeof(buf), &err), ==, 5);
    g_assert_no_error(err);
    g_assert_cmpstr(buf, ==, "hello");
    pair_free(&p);
}

/*
 * A server write that would block (GnuTLS keeps its record), then the
 * client asks for a TLS 1.3 key update, then the server repeats the
 * write: each byte reaches the client once, in order. GnuTLS 3.7.9 sent
 * the held record along with its key update and then encrypted the
 * "same bytes" again, so the client read a chunk twice.
 */
static void test_key_update_held_write(void)
{
    enum { TOTAL = 256 * 1024, CHUNK = 4096 };
    g_autoptr(GError) err = NULL;
    g_autofree guint8 *sent = g_malloc(TOTAL);
    g_autofree guint8 *heard = g_malloc0(TOTAL + CHUNK);
    gint64 deadline = g_get_monotonic_time() + TEST_TIMEOUT_US;
    size_t wrote = 0;
    size_t got = 0;
    ssize_t n;
    char c;
    Pair p;

    for (size_t i = 0; i < TOTAL; i++) {
        sent[i] = (guint8)g_test_rand_int_range(0, 256);
    }
    pair_init(&p, &client_spec,
              &(CredsSpec){"server.pem", "server-key.pem", NULL, false,
                           "NORMAL:-VERS-ALL:+VERS-TLS1.3"},
              "localhost");
    g_assert_cmpint(
        setsockopt(qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(p.smaster)),
                   SOL_SOCKET, SO_SNDBUF, &(int){4096}, sizeof(int)),
        ==, 0);
    pair_handshake_ok(&p);
    g_assert_cmpint(
        gnutls_protocol_get_version(qio_channel_tls_get_session(p.server)), ==,
        GNUTLS_TLS1_3);

    /* The client does not read: the server writes until it would block. */
    for (;;) {
        n = qio_channel_write(QIO_CHANNEL(p.server), (char *)sent + wrote,
                              MIN((size_t)CHUNK, TOTAL - wrote), &err);
        g_assert_no_error(err);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            break;
        }
        g_assert_cmpint(n, >, 0);
        wrote += (size_t)n;
        g_assert_cmpuint(wrote, <, TOTAL);
    }

    /* The client asks for a key update; the server reads the request. */
    g_assert_cmpint(gnutls_session_key_update(
                        qio_channel_tls_get_session(p.client), GNUTLS_KU_PEER),
                    ==, 0);
    for (int i = 0; i < 100; i++) {
        n = qio_channel_read(QIO_CHANNEL(p.server), &c, 1, &err);
        g_assert_no_error(err);
        g_assert_cmpint(n, ==, QIO_CHANNEL_ERR_BLOCK);
        g_usleep(1000);
    }

    /* The client drains; the server repeats the blocked write and goes on. */
    while (wrote < TOTAL || got < TOTAL) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        n = qio_channel_read(QIO_CHANNEL(p.client), (char *)heard + got,
                             TOTAL + CHUNK - got, &err);
        g_assert_no_error(err);
        g_assert_cmpint(n, !=, 0);
        if (n > 0) {
            got += (size_t)n;
            g_assert_cmpuint(got, <=, TOTAL);
        }
        if (wrote < TOTAL) {
            n = qio_channel_write(QIO_CHANNEL(p.server), (char *)sent + wrote,
                                  MIN((size_t)CHUNK, TOTAL - wrote), &err);
            g_assert_no_error(err);
            if (n != QIO_CHANNEL_ERR_BLOCK) {
                g_assert_cmpint(n, >, 0);
                wrote += (size_t)n;
            }
        }
    }
    g_assert_cmpuint(wrote, ==, TOTAL);
    g_assert_cmpuint(got, ==, TOTAL);
    g_assert_cmpint(memcmp(heard, sent, TOTAL), ==, 0);

    /* Nothing more arrives, and the session still works both ways. */
    run_for(20);
    n = qio_channel_read(QIO_CHANNEL(p.client), (char *)heard, CHUNK, &err);
    g_assert_no_error(err);
    g_assert_cmpint(n, ==, QIO_CHANNEL_ERR_BLOCK);
    qio_test_set_blocking(QIO_CHANNEL(p.server), true);
    qio_test_set_blocking(QIO_CHANNEL(p.client), true);
    qio_test_write_str(QIO_CHANNEL(p.client), "ping");
    qio_test_read_str(QIO_CHANNEL(p.server), "ping");
    qio_test_write_str(QIO_CHANNEL(p.server), "pong");
    qio_test_read_str(QIO_CHANNEL(p.client), "pong");
    pair_free(&p);
}

/* ---------------------------------------------------------------- eof */

static void test_premature_eof(void)
{
    g_autoptr(GError) err = NULL;
    char buf[16];
    Pair p;

    pair_init(&p, &client_spec, &server_spec, "localhost");
    pair_handshake_ok(&p);
    qio_test_set_blocking(QIO_CHANNEL(p.server), true);
    qio_test_write_str(QIO_CHANNEL(p.client), "cut");
    /* The raw socket goes away without close_notify. */
    qio_channel_close(p.cmaster, NULL);
    qio_test_read_str(QIO_CHANNEL(p.server), "cut");
    g_assert_cmpint(
        qio_channel_read(QIO_CHANNEL(p.server), buf, sizeof(buf), &err), ==,
        -1);
    g_assert_error(err, QIO_CHANNEL_TLS_ERROR,
                   QIO_CHANNEL_TLS_ERROR_PREMATURE_EOF);
    g_assert_nonnull(strstr(err->message, "close_notify"));
    pair_free(&p);
}

/* ...unless reading was shut down: then it is just end-of-file. */
static void test_premature_eof_read_shut(void)
{
    g_autoptr(GError) err = NULL;
    char buf[16];
    Pair p;

    pair_init(&p, &client_spec, &server_spec, "localhost");
    pair_handshake_ok(&p);
    qio_test_set_blocking(QIO_CHANNEL(p.server), true);
    qio_channel_close(p.cmaster, NULL);
    g_assert_cmpint(qio_channel_shutdown(QIO_CHANNEL(p.server),
                                         QIO_CHANNEL_SHUTDOWN_READ, &err),
                    ==, 0);
    g_assert_cmpint(
        qio_channel_read(QIO_CHANNEL(p.server), buf, sizeof(buf), &err), ==, 0);
    g_assert_no_error(err);
    pair_free(&p);
}

/* Data read before the error is returned first, the error after. */
static void test_premature_eof_after_data(void)
{
    g_autoptr(GError) err = NULL;
    char buf[64] = {0};
    struct iovec iov[2] = {{buf, 5}, {buf + 5, 50}};
    Pair p;

    pair_init(&p, &client_spec, &server_spec, "localhost");
    pair_handshake_ok(&p);
    qio_test_set_blocking(QIO_CHANNEL(p.server), true);
    qio_test_write_str(QIO_CHANNEL(p.client), "abcde");
    qio_channel_close(p.cmaster, NULL);
    g_assert_cmpint(qio_channel_readv(QIO_CHANNEL(p.server), iov, 2, &err), ==,
                    5);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(p.server), buf, 10, &err), ==,
                    -1);
    g_assert_error(err, QIO_CHANNEL_TLS_ERROR,
                   QIO_CHANNEL_TLS_ERROR_PREMATURE_EOF);
    pair_free(&p);
}

/* ---------------------------------------------------------------- pending */

static int socket_unread(QIOChannel *sock)
{
    int n = -1;

    g_assert_cmpint(ioctl(qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(sock)),
                          FIONREAD, &n),
                    ==, 0);
    return n;
}

static gboolean timed_out(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

/* Wait up to 2 s for a G_IO_IN watch on @ioc; returns what it reported. */
static GIOCondition wait_in_watch(QIOChannel *ioc)
{
    GIOCondition got = 0;
    bool expired = false;
    guint timer = g_timeout_add(2000, timed_out, &expired);
    guint id =
        qio_channel_add_watch(ioc, G_IO_IN, qio_test_watch_cond, &got, NULL);

    while (!got && !expired) {
        g_main_context_iteration(NULL, TRUE);
    }
    if (!got) {
        g_source_remove(id);
    }
    if (!expired) {
        g_source_remove(timer);
    }
    return got;
}

/*
 * Decrypted data waiting in GnuTLS, none in the socket: a G_IO_IN watch
 * fires (twice: it is level-triggered), and a read gets the data.
 */
static void test_pending_data(void)
{
    g_autoptr(GError) err = NULL;
    char record1[100];
    char record2[100];
    char got[200];
    size_t have = 0;
    CoJob job = {.buf = got + 110, .len = 90};
    QIOChannel *s;
    Pair p;

    memset(record1, 'a', sizeof(record1));
    memset(record2, 'b', sizeof(record2));
    pair_init(&p, &client_spec, &server_spec, "localhost");
    pair_handshake_ok(&p);
    s = QIO_CHANNEL(p.server);
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(p.client), record1,
                                      sizeof(record1), &err),
                    ==, sizeof(record1));
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(p.client), record2,
                                      sizeof(record2), &err),
                    ==, sizeof(record2));
    /* Small reads until the socket is empty and GnuTLS still holds data. */
    while (have < 200 && !(socket_unread(p.smaster) == 0 &&
                           gnutls_record_check_pending(
                               qio_channel_tls_get_session(p.server)) > 0)) {
        ssize_t n = qio_channel_read(s, got + have, 10, &err);

        g_assert_no_error(err);
        g_assert_cmpint(n, ==, 10);
        have += (size_t)n;
    }
    g_assert_cmpuint(have, ==, 110);
    g_assert_cmpint(socket_unread(p.smaster), ==, 0);

    g_assert_cmpint(wait_in_watch(s) & G_IO_IN, ==, G_IO_IN);
    /* Still pending (nothing was read): a second watch fires too. */
    g_assert_cmpint(wait_in_watch(s) & G_IO_IN, ==, G_IO_IN);

    /* The pump's way gets the rest. */
    job.ioc = s;
    co_start(co_reader, &job);
    run_until(&job.done, NULL);
    co_job_check(&job);
    g_assert_true(memcmp(got, record1, 100) == 0);
    g_assert_true(memcmp(got + 100, record2, 100) == 0);
    pair_free(&p);
}

/*
 * A coroutine that yields for G_IO_IN while decrypted data is pending and
 * the socket is empty is resumed (qio_channel_set_aio_fd_handler()).
 */
static void coroutine_fn co_yield_then_read(void *opaque)
{
    CoJob *j = opaque;

    qio_channel_yield(j->ioc, G_IO_IN);
    j->yields++;
    co_reader(j);
}

static void test_pending_data_yield(void)
{
    g_autoptr(GError) err = NULL;
    char got[64] = {0};
    CoJob job = {.buf = got + 1, .len = 9};
    Pair p;

    pair_init(&p, &client_spec, &server_spec, "localhost");
    pair_handshake_ok(&p);
    qio_test_write_str(QIO_CHANNEL(p.client), "0123456789");
    qio_test_set_blocking(QIO_CHANNEL(p.server), true);
    qio_test_read_str(QIO_CHANNEL(p.server), "0");
    qio_test_set_blocking(QIO_CHANNEL(p.server), false);
    g_assert_cmpint(socket_unread(p.smaster), ==, 0);
    job.ioc = QIO_CHANNEL(p.server);
    co_start(co_yield_then_read, &job);
    run_until(&job.done, NULL);
    co_job_check(&job);
    g_assert_cmpstr(got + 1, ==, "123456789");
    pair_free(&p);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    make_certs();

    g_test_add_func("/tls/creds/errors", test_creds_errors);
    g_test_add_func("/tls/read/blocking-after-handshake-record",
                    test_blocking_read_after_handshake_record);
    g_test_add_func("/tls/creds/getters", test_creds_getters);
    g_test_add_func("/tls/creds/system-trust", test_creds_system_trust);
    g_test_add_func("/tls/creds/wrong-endpoint", test_wrong_endpoint);
    g_test_add_func("/tls/creds/ca-dir", test_creds_ca_dir);
    g_test_add_func("/tls/alpn/agreed", test_alpn_agreed);
    g_test_add_func("/tls/alpn/one-sided", test_alpn_one_sided);
    g_test_add_func("/tls/alpn/none-in-common", test_alpn_none_in_common);
    g_test_add_func("/tls/alpn/bad-name", test_alpn_bad_name);
    g_test_add_func("/tls/sni/server-name", test_server_name);
    g_test_add_func("/tls/handshake/version-refused", test_version_refused);
    g_test_add_func("/tls/handshake/nonblocking-loop", test_nonblocking_loop);
    g_test_add_func("/tls/handshake/blocking-threads", test_blocking_threads);
    g_test_add_func("/tls/handshake/wait-transfer", test_wait_transfer);
    g_test_add_func("/tls/handshake/sync-nonblocking",
                    test_handshake_sync_nonblocking);
    g_test_add_func("/tls/handshake/io-before", test_io_before_handshake);
    g_test_add_func("/tls/handshake/close-during", test_close_during_handshake);
    g_test_add_func("/tls/handshake/peer-not-tls", test_peer_not_tls);
    g_test_add_func("/tls/verify/unknown-issuer", test_verify_unknown_issuer);
    g_test_add_func("/tls/verify/name-mismatch", test_verify_name_mismatch);
    g_test_add_func("/tls/verify/expired", test_verify_expired);
    g_test_add_func("/tls/verify/off", test_verify_off);
    g_test_add_func("/tls/anonymous/handshake", test_anonymous);
    g_test_add_func("/tls/anonymous/errors", test_anonymous_errors);
    g_test_add_func("/tls/verify/client-cert-required",
                    test_verify_client_cert_required);
    g_test_add_func("/tls/verify/client-untrusted",
                    test_verify_client_untrusted);
    g_test_add_func("/tls/verify/client-optional", test_verify_client_optional);
    g_test_add_func("/tls/verify/mutual", test_verify_mutual);
    g_test_add_func("/tls/shutdown/write", test_shutdown_write);
    g_test_add_func("/tls/shutdown/deferred-close-notify",
                    test_shutdown_deferred);
    g_test_add_func("/tls/eof/premature", test_premature_eof);
    g_test_add_func("/tls/eof/premature-read-shut",
                    test_premature_eof_read_shut);
    g_test_add_func("/tls/eof/premature-after-data",
                    test_premature_eof_after_data);
    g_test_add_func("/tls/pending/watch", test_pending_data);
    g_test_add_func("/tls/pending/yield", test_pending_data_yield);
    g_test_add_func("/tls/coroutine/reauth-read-writes",
                    test_reauth_read_writes);
    g_test_add_func("/tls/coroutine/key-update", test_key_update);
    g_test_add_func("/tls/write/key-update-held", test_key_update_held_write);
    g_test_add_func("/tls/watch/follows-direction",
                    test_watch_follows_direction);

    ret = g_test_run();
    remove_certs();
    return ret;
}
