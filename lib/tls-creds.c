/*
 * libqio - TLS credentials (X.509, GnuTLS)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qio/tls-creds.h"

struct _QIOTLSCreds {
    GObject parent;

    QIOTLSCredsEndpoint endpoint;
    bool verify;
    bool has_ca;
    bool has_cert;
    bool post_handshake_auth;
    bool anonymous;
    char *priority;
    char **alpn;
    gnutls_certificate_credentials_t x509;
    gnutls_anon_server_credentials_t anon_server; /* anonymous, a server */
    gnutls_anon_client_credentials_t anon_client; /* anonymous, a client */
    gnutls_priority_t prio;
};

G_DEFINE_FINAL_TYPE(QIOTLSCreds, qio_tls_creds, G_TYPE_OBJECT)

#define DEFAULT_PRIORITY "NORMAL"
#define MAX_PEM_SIZE (16 * 1024 * 1024)

/* ---------------------------------------------------------------- object */

static void qio_tls_creds_finalize(GObject *obj)
{
    QIOTLSCreds *creds = QIO_TLS_CREDS(obj);

    if (creds->prio) {
        gnutls_priority_deinit(creds->prio);
    }
    if (creds->x509) {
        gnutls_certificate_free_credentials(creds->x509);
    }
    if (creds->anon_server) {
        gnutls_anon_free_server_credentials(creds->anon_server);
    }
    if (creds->anon_client) {
        gnutls_anon_free_client_credentials(creds->anon_client);
    }
    g_free(creds->priority);
    g_strfreev(creds->alpn);
    G_OBJECT_CLASS(qio_tls_creds_parent_class)->finalize(obj);
}

static void qio_tls_creds_class_init(QIOTLSCredsClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = qio_tls_creds_finalize;
}

static void qio_tls_creds_init(QIOTLSCreds *creds)
{
}

/* ---------------------------------------------------------------- files */

/*
 * Read a whole PEM file. Not g_file_get_contents(): its messages are
 * translated and quoted, ours are "PATH: strerror" like every other one.
 */
static bool read_pem(const char *path, gnutls_datum_t *out, GError **errp)
{
    g_autoptr(GByteArray) buf = NULL;
    unsigned char chunk[4096];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool ok = false;

    if (fd < 0 || fstat(fd, &st) < 0) {
        qio__error_errno(errp, errno, "%s", path);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        qio__error_errno(errp, EISDIR, "%s", path);
        goto out;
    }
    buf = g_byte_array_new();
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            qio__error_errno(errp, errno, "%s", path);
            goto out;
        }
        if (n == 0) {
            break;
        }
        if (buf->len + (size_t)n > MAX_PEM_SIZE) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                        "%s: too large for a PEM file", path);
            goto out;
        }
        g_byte_array_append(buf, chunk, (guint)n);
    }
    out->size = buf->len;
    g_byte_array_append(buf, (const guint8 *)"", 1);
    out->data = g_byte_array_steal(buf, NULL);
    ok = true;

out:
    memset(chunk, 0, sizeof(chunk));
    if (!ok && buf) {
        memset(buf->data, 0, buf->len);
    }
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static void datum_clear(gnutls_datum_t *d)
{
    if (d->data) {
        /* It may hold a private key. */
        memset(d->data, 0, d->size);
        g_free(d->data);
    }
    d->data = NULL;
    d->size = 0;
}

static bool datum_contains(const gnutls_datum_t *d, const char *needle)
{
    return g_strstr_len((const char *)d->data, d->size, needle) != NULL;
}

static void gnutls_error(GError **errp, int ret, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* "WHAT: GnuTLS's reason", in G_IO_ERROR_INVALID_DATA. */
static void gnutls_error(GError **errp, int ret, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *what = NULL;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", what,
                gnutls_strerror(ret));
}

/* ---------------------------------------------------------------- loading */

static bool load_key_pair(QIOTLSCreds *creds, const char *cert_file,
                          const char *key_file, GError **errp)
{
    gnutls_datum_t cert = {0};
    gnutls_datum_t key = {0};
    bool ok = false;
    int ret;

    if (!key_file) {
        key_file = cert_file;
    }
    if (!read_pem(cert_file, &cert, errp) || !read_pem(key_file, &key, errp)) {
        goto out;
    }
    if (!datum_contains(&cert, "-----BEGIN CERTIFICATE-----")) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "%s: no PEM certificate in the file", cert_file);
        goto out;
    }
    if (!datum_contains(&key, "PRIVATE KEY-----")) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "%s: no PEM private key in the file%s", key_file,
                    key_file == cert_file ? " (give it with key=)" : "");
        goto out;
    }
    ret = gnutls_certificate_set_x509_key_mem2(creds->x509, &cert, &key,
                                               GNUTLS_X509_FMT_PEM, NULL, 0);
    if (ret == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "%s: the private key does not belong to the "
                    "certificate in %s",
                    key_file, cert_file);
        goto out;
    }
    if (ret < 0) {
        if (key_file == cert_file) {
            gnutls_error(errp, ret, "%s", cert_file);
        } else {
            gnutls_error(errp, ret, "%s, %s", cert_file, key_file);
        }
        goto out;
    }
    creds->has_cert = true;
    ok = true;

out:
    datum_clear(&cert);
    datum_clear(&key);
    return ok;
}

static bool load_ca(QIOTLSCreds *creds, const char *ca_file, GError **errp)
{
    gnutls_datum_t ca = {0};
    int ret;

    if (!read_pem(ca_file, &ca, errp)) {
        return false;
    }
    ret = gnutls_certificate_set_x509_trust_mem(creds->x509, &ca,
                                                GNUTLS_X509_FMT_PEM);
    datum_clear(&ca);
    if (ret < 0) {
        gnutls_error(errp, ret, "%s", ca_file);
        return false;
    }
    if (ret == 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "%s: no PEM certificate in the file", ca_file);
        return false;
    }
    creds->has_ca = true;
    return true;
}

static bool load_ca_dir(QIOTLSCreds *creds, const char *ca_dir, GError **errp)
{
    struct stat st;
    int ret;

    if (stat(ca_dir, &st) < 0) {
        qio__error_errno(errp, errno, "%s", ca_dir);
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        qio__error_errno(errp, ENOTDIR, "%s", ca_dir);
        return false;
    }
    ret = gnutls_certificate_set_x509_trust_dir(creds->x509, ca_dir,
                                                GNUTLS_X509_FMT_PEM);
    if (ret < 0) {
        gnutls_error(errp, ret, "%s", ca_dir);
        return false;
    }
    if (ret == 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                    "%s: no PEM certificate in the directory", ca_dir);
        return false;
    }
    creds->has_ca = true;
    return true;
}

static bool load_system_trust(QIOTLSCreds *creds, GError **errp)
{
    int ret = gnutls_certificate_set_x509_system_trust(creds->x509);

    /* An empty store is not an error here: verification will say why. */
    if (ret < 0) {
        gnutls_error(errp, ret, "cannot load the system's trusted CAs");
        return false;
    }
    return true;
}

static bool load_priority(QIOTLSCreds *creds, const char *priority,
                          GError **errp)
{
    const char *errpos = NULL;
    int ret;

    creds->priority = g_strdup(priority ? priority : DEFAULT_PRIORITY);
    ret = gnutls_priority_init(&creds->prio, creds->priority, &errpos);
    if (ret == GNUTLS_E_INVALID_REQUEST && errpos) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "priority string \"%s\": invalid at \"%s\"",
                    creds->priority, errpos);
        creds->prio = NULL;
        return false;
    }
    if (ret < 0) {
        gnutls_error(errp, ret, "priority string \"%s\"", creds->priority);
        creds->prio = NULL;
        return false;
    }
    return true;
}

/* RFC 7301: a protocol name is 1 to 255 bytes. */
static bool copy_alpn(QIOTLSCreds *creds, const char *const *alpn,
                      GError **errp)
{
    for (size_t i = 0; alpn && alpn[i]; i++) {
        size_t len = strlen(alpn[i]);

        if (len == 0 || len > 255) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        "ALPN protocol \"%s\": expected 1 to 255 bytes",
                        alpn[i]);
            return false;
        }
    }
    if (alpn && alpn[0]) {
        creds->alpn = g_strdupv((char **)alpn);
    }
    return true;
}

static bool load_trust(QIOTLSCreds *creds, const QIOTLSCredsOptions *opts,
                       GError **errp)
{
    if (opts->ca_file && !load_ca(creds, opts->ca_file, errp)) {
        return false;
    }
    if (opts->ca_dir && !load_ca_dir(creds, opts->ca_dir, errp)) {
        return false;
    }
    if (!creds->has_ca && creds->endpoint == QIO_TLS_CREDS_ENDPOINT_CLIENT &&
        creds->verify) {
        return load_system_trust(creds, errp);
    }
    return true;
}

/*
 * Anonymous key exchange: credentials of its own kind, and no way to
 * verify anyone. ANON-DH needs the server's group: a well-known one.
 */
static bool load_anonymous(QIOTLSCreds *creds, const QIOTLSCredsOptions *opts,
                           GError **errp)
{
    bool server = creds->endpoint == QIO_TLS_CREDS_ENDPOINT_SERVER;
    int ret;

    if (!server && opts->verify) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "anonymous TLS cannot verify the server: it "
                            "shows no certificate (turn verification off)");
        return false;
    }
    if (server && (opts->ca_file || opts->ca_dir)) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "anonymous TLS cannot ask clients for "
                            "certificates: give no CA file or directory");
        return false;
    }
    if (server) {
        ret = gnutls_anon_allocate_server_credentials(&creds->anon_server);
        if (ret >= 0) {
            ret = gnutls_anon_set_server_known_dh_params(
                creds->anon_server, GNUTLS_SEC_PARAM_MEDIUM);
        }
    } else {
        ret = gnutls_anon_allocate_client_credentials(&creds->anon_client);
    }
    if (ret < 0) {
        gnutls_error(errp, ret, "anonymous TLS credentials");
        return false;
    }
    creds->anonymous = true;
    return true;
}

static bool creds_load(QIOTLSCreds *creds, const QIOTLSCredsOptions *opts,
                       GError **errp)
{
    int ret = gnutls_certificate_allocate_credentials(&creds->x509);

    if (ret < 0) {
        creds->x509 = NULL;
        gnutls_error(errp, ret, "TLS credentials");
        return false;
    }
    if (!load_priority(creds, opts->priority, errp) ||
        !copy_alpn(creds, opts->alpn, errp) ||
        (opts->anonymous && !load_anonymous(creds, opts, errp))) {
        return false;
    }
    if (opts->cert_file) {
        if (!load_key_pair(creds, opts->cert_file, opts->key_file, errp)) {
            return false;
        }
    } else if (opts->key_file) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "%s: a private key without a certificate", opts->key_file);
        return false;
    } else if (creds->endpoint == QIO_TLS_CREDS_ENDPOINT_SERVER &&
               !creds->anonymous) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "a TLS server needs a certificate");
        return false;
    }
    return load_trust(creds, opts, errp);
}

/* ---------------------------------------------------------------- API */

QIOTLSCreds *qio_tls_creds_new(QIOTLSCredsEndpoint endpoint,
                               const QIOTLSCredsOptions *opts, GError **errp)
{
    static const QIOTLSCredsOptions defaults = QIO_TLS_CREDS_OPTIONS_INIT;
    g_autoptr(QIOTLSCreds) creds = NULL;

    g_return_val_if_fail(endpoint == QIO_TLS_CREDS_ENDPOINT_CLIENT ||
                             endpoint == QIO_TLS_CREDS_ENDPOINT_SERVER,
                         NULL);
    opts = opts ? opts : &defaults;
    creds = g_object_new(QIO_TYPE_TLS_CREDS, NULL);
    creds->endpoint = endpoint;
    creds->verify = opts->verify;
    creds->post_handshake_auth = opts->post_handshake_auth;
    if (!creds_load(creds, opts, errp)) {
        return NULL;
    }
    return g_steal_pointer(&creds);
}

QIOTLSCredsEndpoint qio_tls_creds_get_endpoint(QIOTLSCreds *creds)
{
    g_return_val_if_fail(QIO_IS_TLS_CREDS(creds),
                         QIO_TLS_CREDS_ENDPOINT_CLIENT);
    return creds->endpoint;
}

bool qio_tls_creds_get_verify(QIOTLSCreds *creds)
{
    g_return_val_if_fail(QIO_IS_TLS_CREDS(creds), true);
    return creds->verify;
}

bool qio_tls_creds_has_ca(QIOTLSCreds *creds)
{
    g_return_val_if_fail(QIO_IS_TLS_CREDS(creds), false);
    return creds->has_ca;
}

bool qio_tls_creds_has_cert(QIOTLSCreds *creds)
{
    g_return_val_if_fail(QIO_IS_TLS_CREDS(creds), false);
    return creds->has_cert;
}

bool qio_tls_creds_get_anonymous(QIOTLSCreds *creds)
{
    g_return_val_if_fail(QIO_IS_TLS_CREDS(creds), false);
    return creds->anonymous;
}

/* For lib/channel-tls.c: the anonymous credentials of the endpoint's kind. */
void *qio__tls_creds_get_anon(QIOTLSCreds *creds)
{
    return creds->anon_server ? (void *)creds->anon_server
                              : (void *)creds->anon_client;
}

bool qio_tls_creds_get_post_handshake_auth(QIOTLSCreds *creds)
{
    g_return_val_if_fail(QIO_IS_TLS_CREDS(creds), false);
    return creds->post_handshake_auth;
}

const char *const *qio_tls_creds_get_alpn(QIOTLSCreds *creds)
{
    g_return_val_if_fail(QIO_IS_TLS_CREDS(creds), NULL);
    return (const char *const *)creds->alpn;
}

const char *qio_tls_creds_get_priority(QIOTLSCreds *creds)
{
    g_return_val_if_fail(QIO_IS_TLS_CREDS(creds), NULL);
    return creds->priority;
}

gnutls_certificate_credentials_t
qio_tls_creds_get_gnutls_credentials(QIOTLSCreds *creds)
{
    g_return_val_if_fail(QIO_IS_TLS_CREDS(creds), NULL);
    return creds->x509;
}

gnutls_priority_t qio_tls_creds_get_gnutls_priority(QIOTLSCreds *creds)
{
    g_return_val_if_fail(QIO_IS_TLS_CREDS(creds), NULL);
    return creds->prio;
}
