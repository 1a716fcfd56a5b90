/*
 * libqio - TLS over any channel (GnuTLS)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GnuTLS drives the master channel through push/pull functions. Whenever
 * a GnuTLS call cannot go on, gnutls_record_get_direction() says whether
 * it waits to read or to write the master; that direction, not the one
 * the caller had in mind, is what watches and handlers wait for. The last
 * direction of each kind of operation is kept in read_wait and write_wait.
 */
#include "qio-private.h"

#include <gnutls/x509.h>
#include <stddef.h>
#include <string.h>

#include "qio/channel-tls.h"

/* A handshake in progress. */
typedef struct {
    QIOChannelTLS *tioc; /* referenced by the task */
    QIOTask *task;
    GMainContext *ctx; /* where its watches run */
} QIOChannelTLSStep;

/* qio_channel_set_aio_fd_handler() state, forwarded to the master. */
typedef struct {
    GMainContext *ctx;
    IOHandler *read;
    IOHandler *write;
    void *opaque;
    GSource *ready; /* idle: input ready without the master */
} QIOChannelTLSAio;

struct _QIOChannelTLS {
    QIOChannel parent;

    QIOChannel *master;
    QIOTLSCreds *creds;
    gnutls_session_t session;
    char *hostname;    /* checked in the server's certificate */
    char *server_name; /* sent as SNI, when not NULL */
    bool is_server;
    gnutls_typed_vdata_st vdata[2]; /* must live as long as the session */

    bool hello_sent; /* the handshake has begun */
    bool handshake_done;
    bool closed;
    bool blocking;  /* as last set through the channel */
    bool read_eof;  /* the peer's close_notify arrived */
    bool bye_done;  /* close_notify sent, or given up */
    int shutdown;   /* QIOChannelShutdown bits; atomic */
    int read_wait;  /* master condition a read waits for */
    int write_wait; /* ... and a write; both atomic */
    unsigned int verify_status;
    char *peer_dn;
    char *alpn;       /* the protocol agreed on */
    GError *read_err; /* a read error behind bytes returned */

    GMutex transport_lock; /* the five below */
    GError *pull_err;      /* why the master failed, for */
    GError *push_err;      /* GNUTLS_E_PULL/PUSH_ERROR */
    guint64 pushed;        /* bytes the master took from GnuTLS */
    guint64 offered;       /* ... and was offered: the rest waits */
    size_t last_record;    /* size of the last record offered */

    size_t held; /* our bytes in a record GnuTLS holds */

    QIOChannelTLSStep *handshake;
    GSource *handshake_source;
    GSource *bye_source;
    QIOChannelTLSAio aio;
};

G_DEFINE_FINAL_TYPE(QIOChannelTLS, qio_channel_tls, QIO_TYPE_CHANNEL)

/* The domain's name is the macro argument as written. */
/* clang-format off */
G_DEFINE_QUARK(qio-channel-tls-error-quark, qio_channel_tls_error)
/* clang-format on */

G_STATIC_ASSERT(sizeof(giovec_t) == sizeof(struct iovec));
G_STATIC_ASSERT(offsetof(giovec_t, iov_base) ==
                offsetof(struct iovec, iov_base));
G_STATIC_ASSERT(offsetof(giovec_t, iov_len) == offsetof(struct iovec, iov_len));

static void tls_aio_update(QIOChannelTLS *tioc);

/* ---------------------------------------------------------------- helpers */

static GIOCondition tls_direction(QIOChannelTLS *tioc)
{
    return gnutls_record_get_direction(tioc->session) ? G_IO_OUT : G_IO_IN;
}

static GIOCondition tls_read_wait(QIOChannelTLS *tioc)
{
    return (GIOCondition)g_atomic_int_get(&tioc->read_wait);
}

static GIOCondition tls_write_wait(QIOChannelTLS *tioc)
{
    return (GIOCondition)g_atomic_int_get(&tioc->write_wait);
}

/*
 * Can a read make progress without the master: decrypted data waiting in
 * GnuTLS, or end-of-file already seen?
 */
static bool tls_input_ready(QIOChannelTLS *tioc)
{
    if (!tioc->handshake_done || tioc->closed) {
        return false;
    }
    return tioc->read_eof || tioc->read_err ||
           gnutls_record_check_pending(tioc->session) > 0;
}

static bool tls_verifies_peer(QIOChannelTLS *tioc)
{
    return qio_tls_creds_get_verify(tioc->creds) &&
           (!tioc->is_server || qio_tls_creds_has_ca(tioc->creds));
}

/* ---------------------------------------------------------------- transport */

static void tls_transport_error(QIOChannelTLS *tioc, GError **slot, GError *err)
{
    g_mutex_lock(&tioc->transport_lock);
    g_clear_error(slot);
    *slot = err;
    g_mutex_unlock(&tioc->transport_lock);
}

static GError *tls_take_transport_error(QIOChannelTLS *tioc, GError **slot)
{
    GError *err;

    g_mutex_lock(&tioc->transport_lock);
    err = g_steal_pointer(slot);
    g_mutex_unlock(&tioc->transport_lock);
    return err;
}

/*
 * GnuTLS offers all it holds, one record per element, each time: what the
 * master did not take is what it still holds (see tls_flush_held()).
 */
static void tls_note_push(QIOChannelTLS *tioc, const giovec_t *iov, int iovcnt,
                          ssize_t taken)
{
    size_t total = 0;

    for (int i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
    }
    g_mutex_lock(&tioc->transport_lock);
    tioc->offered = tioc->pushed + total;
    tioc->last_record = iovcnt > 0 ? iov[iovcnt - 1].iov_len : 0;
    tioc->pushed += taken > 0 ? (guint64)taken : 0;
    g_mutex_unlock(&tioc->transport_lock);
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const giovec_t *iov,
                        int iovcnt)
{
    QIOChannelTLS *tioc = ptr;
    GError *err = NULL;
    ssize_t n = qio_channel_writev(tioc->master, (const struct iovec *)iov,
                                   (size_t)iovcnt, &err);

    tls_note_push(tioc, iov, iovcnt, n);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        gnutls_transport_set_errno(tioc->session, EAGAIN);
        return -1;
    }
    if (n < 0) {
        tls_transport_error(tioc, &tioc->push_err, err);
        gnutls_transport_set_errno(tioc->session, EIO);
        return -1;
    }
    return n;
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    QIOChannelTLS *tioc = ptr;
    GError *err = NULL;
    ssize_t n = qio_channel_read(tioc->master, buf, len, &err);

    if (n == QIO_CHANNEL_ERR_BLOCK) {
        gnutls_transport_set_errno(tioc->session, EAGAIN);
        return -1;
    }
    if (n < 0) {
        tls_transport_error(tioc, &tioc->pull_err, err);
        gnutls_transport_set_errno(tioc->session, EIO);
        return -1;
    }
    return n;
}

static gboolean tls_flag_ready(QIOChannel *ioc, GIOCondition cond,
                               gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

static gboolean tls_flag_timeout(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

/*
 * GnuTLS asks whether the master becomes readable within @ms (its default
 * would select() on the transport pointer as if it were a descriptor).
 * The master's own watch answers, in a private context.
 */
static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
    QIOChannelTLS *tioc = ptr;
    GMainContext *ctx = g_main_context_new();
    GSource *watch = qio_channel_create_watch(tioc->master, G_IO_IN);
    GSource *timer = NULL;
    bool ready = false;
    bool expired = false;

    g_source_set_callback(watch, (GSourceFunc)(void (*)(void))tls_flag_ready,
                          &ready, NULL);
    g_source_attach(watch, ctx);
    if (ms == 0) {
        g_main_context_iteration(ctx, FALSE);
    } else {
        if (ms != GNUTLS_INDEFINITE_TIMEOUT) {
            timer = g_timeout_source_new(ms);
            g_source_set_callback(timer, tls_flag_timeout, &expired, NULL);
            g_source_attach(timer, ctx);
        }
        while (!ready && !expired) {
            g_main_context_iteration(ctx, TRUE);
        }
    }
    g_source_destroy(watch);
    g_source_unref(watch);
    if (timer) {
        g_source_destroy(timer);
        g_source_unref(timer);
    }
    g_main_context_unref(ctx);
    return ready ? 1 : 0;
}

/* ---------------------------------------------------------------- errors */

static const struct {
    unsigned int bit;
    const char *reason;
} verify_reasons[] = {
    {GNUTLS_CERT_SIGNER_NOT_FOUND, "the certificate issuer is unknown"},
    {GNUTLS_CERT_UNEXPECTED_OWNER, NULL}, /* names the host: see below */
    {GNUTLS_CERT_EXPIRED, "the certificate has expired"},
    {GNUTLS_CERT_NOT_ACTIVATED, "the certificate is not valid yet"},
    {GNUTLS_CERT_REVOKED, "the certificate has been revoked"},
    {GNUTLS_CERT_SIGNER_NOT_CA, "the certificate issuer is not a CA"},
    {GNUTLS_CERT_PURPOSE_MISMATCH,
     "the certificate is not meant for this use (key purpose)"},
    {GNUTLS_CERT_INSECURE_ALGORITHM,
     "the certificate is signed with an insecure algorithm"},
    {GNUTLS_CERT_SIGNATURE_FAILURE,
     "the certificate's signature does not verify"},
    {GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE,
     "the certificate issuer's constraints forbid it"},
    {GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED,
     "the revocation data is out of date"},
    {GNUTLS_CERT_MISMATCH, "the certificate is not the expected one"},
};

/* One line that says why verification failed, most telling cause first. */
static char *tls_verify_reason(QIOChannelTLS *tioc, unsigned int status)
{
    GString *out = g_string_new(NULL);
    gnutls_datum_t text = {0};

    for (size_t i = 0; i < G_N_ELEMENTS(verify_reasons); i++) {
        if (!(status & verify_reasons[i].bit)) {
            continue;
        }
        if (out->len) {
            g_string_append(out, "; ");
        }
        if (verify_reasons[i].reason) {
            g_string_append(out, verify_reasons[i].reason);
        } else if (tioc->hostname) {
            g_string_append_printf(out, "the certificate is not for \"%s\"",
                                   tioc->hostname);
        } else {
            g_string_append(out, "the certificate is not for this peer");
        }
    }
    if (out->len == 0 && gnutls_certificate_verification_status_print(
                             status, GNUTLS_CRT_X509, &text, 0) == 0) {
        g_string_append_len(out, (const char *)text.data, text.size);
        g_strstrip(out->str);
        out->len = strlen(out->str);
        gnutls_free(text.data);
    }
    if (out->len == 0) {
        g_string_append(out, "the certificate is not trusted");
    }
    return g_string_free(out, FALSE);
}

static bool tls_alert_is_about_cert(gnutls_alert_description_t alert)
{
    switch (alert) {
    case GNUTLS_A_BAD_CERTIFICATE:
    case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
    case GNUTLS_A_CERTIFICATE_REVOKED:
    case GNUTLS_A_CERTIFICATE_EXPIRED:
    case GNUTLS_A_CERTIFICATE_UNKNOWN:
    case GNUTLS_A_UNKNOWN_CA:
        return true;
    default:
        return false;
    }
}

static void tls_error_no_cert(QIOChannelTLS *tioc, GError **errp);

static const char *tls_peer_side(QIOChannelTLS *tioc)
{
    return tioc->is_server ? "client" : "server";
}

/* An alert's name as RFC 8446 writes it: "protocol_version". */
static char *tls_alert_rfc_name(gnutls_alert_description_t alert)
{
    const char *name = gnutls_alert_get_strname(alert);

    if (name == NULL) {
        return g_strdup_printf("%d", (int)alert);
    }
    if (g_str_has_prefix(name, "GNUTLS_A_")) {
        name += strlen("GNUTLS_A_");
    }
    return g_ascii_strdown(name, -1);
}

/* The peer's alert ended the handshake. */
static void tls_error_refused(QIOChannelTLS *tioc,
                              gnutls_alert_description_t alert, GError **errp)
{
    g_autofree char *name = tls_alert_rfc_name(alert);

    g_set_error(errp, QIO_CHANNEL_TLS_ERROR, QIO_CHANNEL_TLS_ERROR_ALERT,
                "the %s refused the TLS handshake: alert %s",
                tls_peer_side(tioc), name);
}

/* Handshakes we end because the peer's offer has nothing we accept. */
static const struct {
    int ret;
    const char *reason;
} tls_refusals[] = {
    {GNUTLS_E_UNSUPPORTED_VERSION_PACKET, "no TLS version in common"},
    {GNUTLS_E_NO_CIPHER_SUITES, "no cipher suite in common"},
    {GNUTLS_E_NO_COMMON_KEY_SHARE, "no key exchange group in common"},
    {GNUTLS_E_NO_APPLICATION_PROTOCOL, "no ALPN protocol in common"},
};

static const char *tls_refusal_reason(int ret)
{
    for (size_t i = 0; i < G_N_ELEMENTS(tls_refusals); i++) {
        if (tls_refusals[i].ret == ret) {
            return tls_refusals[i].reason;
        }
    }
    return NULL;
}

static void tls_error_alert(QIOChannelTLS *tioc, const char *what,
                            GError **errp)
{
    gnutls_alert_description_t alert = gnutls_alert_get(tioc->session);
    const char *name = gnutls_alert_get_name(alert);

    name = name ? name : "unknown";
    if (alert == GNUTLS_A_CERTIFICATE_REQUIRED) {
        tls_error_no_cert(tioc, errp);
    } else if (tls_alert_is_about_cert(alert)) {
        g_set_error(errp, QIO_CHANNEL_TLS_ERROR, QIO_CHANNEL_TLS_ERROR_ALERT,
                    "%s: the peer rejected our certificate (alert \"%s\")",
                    what, name);
    } else if (!tioc->handshake_done) {
        tls_error_refused(tioc, alert, errp);
    } else {
        g_set_error(errp, QIO_CHANNEL_TLS_ERROR, QIO_CHANNEL_TLS_ERROR_ALERT,
                    "%s: the peer sent the fatal alert \"%s\"", what, name);
    }
}

static void tls_error_no_cert(QIOChannelTLS *tioc, GError **errp)
{
    if (tioc->is_server) {
        g_set_error_literal(errp, QIO_CHANNEL_TLS_ERROR,
                            QIO_CHANNEL_TLS_ERROR_NO_CERTIFICATE,
                            "certificate verification failed: the client "
                            "sent no certificate");
    } else {
        g_set_error_literal(errp, QIO_CHANNEL_TLS_ERROR,
                            QIO_CHANNEL_TLS_ERROR_NO_CERTIFICATE,
                            "the server requires a client certificate");
    }
}

/* The master's own error behind GNUTLS_E_PUSH_ERROR / PULL_ERROR. */
static void tls_error_transport(QIOChannelTLS *tioc, GError **slot,
                                const char *what, int ret, GError **errp)
{
    GError *err = tls_take_transport_error(tioc, slot);

    if (err) {
        g_propagate_error(errp, err);
        return;
    }
    g_set_error(errp, QIO_CHANNEL_TLS_ERROR, QIO_CHANNEL_TLS_ERROR_FAILED,
                "%s: %s", what, gnutls_strerror(ret));
}

/* Turn GnuTLS's @ret into @errp; @what names the operation. */
static void tls_error(QIOChannelTLS *tioc, int ret, const char *what,
                      GError **errp)
{
    g_autofree char *reason = NULL;

    switch (ret) {
    case GNUTLS_E_PUSH_ERROR:
        tls_error_transport(tioc, &tioc->push_err, what, ret, errp);
        return;
    case GNUTLS_E_PULL_ERROR:
        tls_error_transport(tioc, &tioc->pull_err, what, ret, errp);
        return;
    case GNUTLS_E_PREMATURE_TERMINATION:
        g_set_error(errp, QIO_CHANNEL_TLS_ERROR,
                    QIO_CHANNEL_TLS_ERROR_PREMATURE_EOF,
                    tioc->handshake_done
                        ? "%s: the peer closed the connection without a TLS "
                          "close_notify"
                        : "%s: the peer closed the connection",
                    what);
        return;
    case GNUTLS_E_FATAL_ALERT_RECEIVED:
        tls_error_alert(tioc, what, errp);
        return;
    case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
        tioc->verify_status =
            gnutls_session_get_verify_cert_status(tioc->session);
        reason = tls_verify_reason(tioc, tioc->verify_status);
        g_set_error(errp, QIO_CHANNEL_TLS_ERROR, QIO_CHANNEL_TLS_ERROR_VERIFY,
                    "certificate verification failed: %s", reason);
        return;
    case GNUTLS_E_NO_CERTIFICATE_FOUND:
    case GNUTLS_E_CERTIFICATE_REQUIRED:
        tls_error_no_cert(tioc, errp);
        return;
    default:
        if (!tioc->handshake_done && tls_refusal_reason(ret)) {
            g_set_error(errp, QIO_CHANNEL_TLS_ERROR,
                        QIO_CHANNEL_TLS_ERROR_FAILED,
                        "%s: we refused the %s: %s", what, tls_peer_side(tioc),
                        tls_refusal_reason(ret));
            return;
        }
        g_set_error(errp, QIO_CHANNEL_TLS_ERROR, QIO_CHANNEL_TLS_ERROR_FAILED,
                    "%s: %s", what, gnutls_strerror(ret));
        return;
    }
}

static bool tls_check_ready(QIOChannelTLS *tioc, GError **errp)
{
    if (tioc->closed) {
        qio__error(errp, QIO_CHANNEL_ERROR_CLOSED, "channel is closed");
        return false;
    }
    if (!tioc->handshake_done) {
        g_set_error_literal(errp, QIO_CHANNEL_TLS_ERROR,
                            QIO_CHANNEL_TLS_ERROR_NOT_READY,
                            "the TLS handshake has not completed");
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- session */

/*
 * The server picks from its own list, in its order; with ALPN flagged
 * mandatory, GnuTLS refuses a client that offers protocols but none of
 * ours (a client that offers none is served, as RFC 7301 has it).
 */
static bool tls_setup_alpn(QIOChannelTLS *tioc, GError **errp)
{
    const char *const *alpn = qio_tls_creds_get_alpn(tioc->creds);
    unsigned int flags =
        tioc->is_server ? GNUTLS_ALPN_SERVER_PRECEDENCE | GNUTLS_ALPN_MANDATORY
                        : 0;
    g_autofree gnutls_datum_t *protos = NULL;
    unsigned int n = alpn ? g_strv_length((char **)alpn) : 0;
    int ret;

    if (n == 0) {
        return true;
    }
    protos = g_new(gnutls_datum_t, n);
    for (unsigned int i = 0; i < n; i++) {
        protos[i].data = (unsigned char *)alpn[i];
        protos[i].size = (unsigned int)strlen(alpn[i]);
    }
    ret = gnutls_alpn_set_protocols(tioc->session, protos, n, flags);
    if (ret < 0) {
        g_set_error(errp, QIO_CHANNEL_TLS_ERROR, QIO_CHANNEL_TLS_ERROR_FAILED,
                    "TLS session: ALPN: %s", gnutls_strerror(ret));
        return false;
    }
    return true;
}

static bool tls_session_setup(QIOChannelTLS *tioc, GError **errp)
{
    unsigned int flags = tioc->is_server ? GNUTLS_SERVER : GNUTLS_CLIENT;
    gnutls_session_t s;
    int ret;

    if (qio_tls_creds_get_post_handshake_auth(tioc->creds)) {
        flags |= GNUTLS_POST_HANDSHAKE_AUTH;
        flags |= tioc->is_server ? 0 : GNUTLS_AUTO_REAUTH;
    }
    ret = gnutls_init(&s, flags);

    if (ret < 0) {
        g_set_error(errp, QIO_CHANNEL_TLS_ERROR, QIO_CHANNEL_TLS_ERROR_FAILED,
                    "TLS session: %s", gnutls_strerror(ret));
        return false;
    }
    tioc->session = s;
    ret =
        gnutls_priority_set(s, qio_tls_creds_get_gnutls_priority(tioc->creds));
    if (ret >= 0) {
        ret = gnutls_credentials_set(
            s, GNUTLS_CRD_CERTIFICATE,
            qio_tls_creds_get_gnutls_credentials(tioc->creds));
    }
    if (ret >= 0 && qio_tls_creds_get_anonymous(tioc->creds)) {
        ret = gnutls_credentials_set(s, GNUTLS_CRD_ANON,
                                     qio__tls_creds_get_anon(tioc->creds));
    }
    if (ret < 0) {
        g_set_error(errp, QIO_CHANNEL_TLS_ERROR, QIO_CHANNEL_TLS_ERROR_FAILED,
                    "TLS session: %s", gnutls_strerror(ret));
        return false;
    }
    if (!tls_setup_alpn(tioc, errp)) {
        return false;
    }
    gnutls_transport_set_ptr(s, tioc);
    gnutls_transport_set_vec_push_function(s, tls_push);
    gnutls_transport_set_pull_function(s, tls_pull);
    gnutls_transport_set_pull_timeout_function(s, tls_pull_timeout);
    /* Timeouts are the application's business (a non-blocking one). */
    gnutls_handshake_set_timeout(s, 0);
    return true;
}

/*
 * Whether @name may go out as SNI, which carries DNS names only: not an
 * IP address, nor a name a certificate spells some other way ("[::1]"),
 * which servers reject with an illegal_parameter alert.
 */
static bool tls_is_dns_name(const char *name)
{
    return *name && !g_hostname_is_ip_address(name) &&
           name[strspn(name, "abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")] ==
               '\0';
}

static void tls_setup_verify(QIOChannelTLS *tioc)
{
    gnutls_typed_vdata_st *data = tioc->vdata;
    unsigned int n = 0;

    if (tioc->hostname) {
        data[n].type = GNUTLS_DT_DNS_HOSTNAME;
        data[n].data = (unsigned char *)tioc->hostname;
        n++;
    }
    data[n].type = GNUTLS_DT_KEY_PURPOSE_OID;
    data[n].data =
        (unsigned char *)(tioc->is_server ? GNUTLS_KP_TLS_WWW_CLIENT
                                          : GNUTLS_KP_TLS_WWW_SERVER);
    n++;
    /* GnuTLS verifies during the handshake, and alerts the peer. */
    gnutls_session_set_verify_cert2(tioc->session, data, n, 0);
}

static QIOChannelTLS *tls_new(QIOChannel *master, QIOTLSCreds *creds,
                              bool is_server, const char *hostname,
                              GError **errp)
{
    g_autoptr(QIOChannelTLS) tioc = g_object_new(QIO_TYPE_CHANNEL_TLS, NULL);

    tioc->master = g_object_ref(master);
    tioc->creds = g_object_ref(creds);
    tioc->is_server = is_server;
    tioc->hostname = g_strdup(hostname);
    if (qio_channel_has_feature(master, QIO_CHANNEL_FEATURE_SHUTDOWN)) {
        qio_channel_set_feature(QIO_CHANNEL(tioc),
                                QIO_CHANNEL_FEATURE_SHUTDOWN);
    }
    if (!tls_session_setup(tioc, errp)) {
        return NULL;
    }
    if (is_server && qio_tls_creds_has_ca(creds)) {
        /*
         * Not naming our CAs makes a client send the certificate it has,
         * so that a wrong one fails as "issuer unknown", not "none sent".
         */
        gnutls_certificate_send_x509_rdn_sequence(tioc->session, 1);
        gnutls_certificate_server_set_request(tioc->session,
                                              qio_tls_creds_get_verify(creds)
                                                  ? GNUTLS_CERT_REQUIRE
                                                  : GNUTLS_CERT_REQUEST);
    }
    if (!is_server && hostname && tls_is_dns_name(hostname)) {
        tioc->server_name = g_strdup(hostname);
    }
    if (tls_verifies_peer(tioc)) {
        tls_setup_verify(tioc);
    }
    return g_steal_pointer(&tioc);
}

QIOChannelTLS *qio_channel_tls_new_client(QIOChannel *master,
                                          QIOTLSCreds *creds,
                                          const char *hostname, GError **errp)
{
    g_return_val_if_fail(QIO_IS_CHANNEL(master), NULL);
    g_return_val_if_fail(QIO_IS_TLS_CREDS(creds), NULL);

    if (qio_tls_creds_get_endpoint(creds) != QIO_TLS_CREDS_ENDPOINT_CLIENT) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "a TLS client needs client credentials");
        return NULL;
    }
    return tls_new(master, creds, false, hostname, errp);
}

void qio_channel_tls_set_server_name(QIOChannelTLS *tioc, const char *name)
{
    g_return_if_fail(QIO_IS_CHANNEL_TLS(tioc));
    g_return_if_fail(!tioc->is_server);
    g_return_if_fail(!tioc->hello_sent);

    g_free(tioc->server_name);
    tioc->server_name = g_strdup(name);
}

QIOChannelTLS *qio_channel_tls_new_server(QIOChannel *master,
                                          QIOTLSCreds *creds, GError **errp)
{
    g_return_val_if_fail(QIO_IS_CHANNEL(master), NULL);
    g_return_val_if_fail(QIO_IS_TLS_CREDS(creds), NULL);

    if (qio_tls_creds_get_endpoint(creds) != QIO_TLS_CREDS_ENDPOINT_SERVER) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                            "a TLS server needs server credentials");
        return NULL;
    }
    return tls_new(master, creds, true, NULL, errp);
}

/* ---------------------------------------------------------------- handshake */

/* The peer's subject, kept once verification vouched for it. */
static void tls_note_peer(QIOChannelTLS *tioc)
{
    unsigned int n = 0;
    const gnutls_datum_t *certs =
        gnutls_certificate_get_peers(tioc->session, &n);
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t dn = {0};

    if (!certs || n == 0 || !tls_verifies_peer(tioc) ||
        gnutls_x509_crt_init(&crt) < 0) {
        return;
    }
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) >= 0 &&
        gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0) {
        tioc->peer_dn = g_strndup((const char *)dn.data, dn.size);
        gnutls_free(dn.data);
    }
    gnutls_x509_crt_deinit(crt);
}

static void tls_note_alpn(QIOChannelTLS *tioc)
{
    gnutls_datum_t proto = {0};

    if (gnutls_alpn_get_selected_protocol(tioc->session, &proto) == 0) {
        tioc->alpn = g_strndup((const char *)proto.data, proto.size);
    }
}

/* The alert that tells the peer why its certificate was refused. */
static gnutls_alert_description_t tls_verify_alert(unsigned int status)
{
    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        return GNUTLS_A_UNKNOWN_CA;
    }
    if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED)) {
        return GNUTLS_A_CERTIFICATE_EXPIRED;
    }
    if (status & GNUTLS_CERT_REVOKED) {
        return GNUTLS_A_CERTIFICATE_REVOKED;
    }
    return GNUTLS_A_BAD_CERTIFICATE;
}

/*
 * Let our alert reach the peer. Closing a socket with unread input makes
 * the kernel reset the connection, and the peer's kernel then throws the
 * alert away unread; so end our writing side after it and read away what
 * has arrived (never waiting for more): the close that follows is a FIN.
 */
static void tls_linger(QIOChannelTLS *tioc)
{
    char buf[4096];

    if (qio_channel_has_feature(tioc->master, QIO_CHANNEL_FEATURE_SHUTDOWN)) {
        qio_channel_shutdown(tioc->master, QIO_CHANNEL_SHUTDOWN_WRITE, NULL);
    }
    qio_channel_set_blocking(tioc->master, false, NULL);
    for (int i = 0; i < 64; i++) {
        if (qio_channel_read(tioc->master, buf, sizeof(buf), NULL) <= 0) {
            break;
        }
    }
    if (tioc->blocking) {
        qio_channel_set_blocking(tioc->master, true, NULL);
    }
}

/*
 * GnuTLS leaves telling the peer why to us: one try, so that it fails
 * with a reason instead of waiting or seeing the connection drop.
 */
static void tls_alert_peer(QIOChannelTLS *tioc, int ret)
{
    switch (ret) {
    case GNUTLS_E_PUSH_ERROR:
    case GNUTLS_E_PULL_ERROR:
    case GNUTLS_E_PREMATURE_TERMINATION:
    case GNUTLS_E_FATAL_ALERT_RECEIVED:
        return;
    case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
        gnutls_alert_send(tioc->session, GNUTLS_AL_FATAL,
                          tls_verify_alert(tioc->verify_status));
        break;
    default:
        gnutls_alert_send_appropriate(tioc->session, ret);
        break;
    }
    tls_linger(tioc);
}

/* One go at the handshake: 1 done, 0 waits on the master, -1 failed. */
static int tls_handshake_once(QIOChannelTLS *tioc, GError **errp)
{
    int ret;

    if (tioc->handshake_done) {
        return 1;
    }
    if (tioc->closed) {
        qio__error(errp, QIO_CHANNEL_ERROR_CLOSED, "channel is closed");
        return -1;
    }
    if (!tioc->hello_sent && tioc->server_name) {
        gnutls_server_name_set(tioc->session, GNUTLS_NAME_DNS,
                               tioc->server_name, strlen(tioc->server_name));
    }
    tioc->hello_sent = true;
    do {
        ret = gnutls_handshake(tioc->session);
    } while (ret < 0 && ret != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(ret));
    if (ret == GNUTLS_E_AGAIN) {
        return 0;
    }
    if (ret < 0) {
        tls_error(tioc, ret, "TLS handshake failed", errp);
        if (ret == GNUTLS_E_PUSH_ERROR || ret == GNUTLS_E_PULL_ERROR) {
            g_prefix_error(errp, "TLS handshake failed: ");
        }
        tls_alert_peer(tioc, ret);
        return -1;
    }
    tioc->handshake_done = true;
    g_atomic_int_set(&tioc->read_wait, G_IO_IN);
    g_atomic_int_set(&tioc->write_wait, G_IO_OUT);
    tls_note_peer(tioc);
    tls_note_alpn(tioc);
    return 1;
}

static void tls_step_free(QIOChannelTLSStep *step)
{
    g_main_context_unref(step->ctx);
    g_free(step);
}

static void tls_handshake_finish(QIOChannelTLSStep *step, GError *err)
{
    QIOChannelTLS *tioc = step->tioc;
    QIOTask *task = step->task;

    tioc->handshake = NULL;
    tls_step_free(step);
    if (err) {
        qio_task_set_error(task, err);
    }
    qio_task_complete(task);
}

static gboolean tls_handshake_io(QIOChannel *master, GIOCondition cond,
                                 gpointer data);

static void tls_handshake_step(QIOChannelTLSStep *step)
{
    QIOChannelTLS *tioc = step->tioc;
    GError *err = NULL;
    int r = tls_handshake_once(tioc, &err);
    GSource *source;

    if (r != 0) {
        tls_handshake_finish(step, err);
        return;
    }
    source = qio_channel_create_watch(tioc->master, tls_direction(tioc));
    g_source_set_callback(source, (GSourceFunc)(void (*)(void))tls_handshake_io,
                          step, NULL);
    g_source_attach(source, step->ctx);
    tioc->handshake_source = source;
}

static gboolean tls_handshake_io(QIOChannel *master, GIOCondition cond,
                                 gpointer data)
{
    QIOChannelTLSStep *step = data;

    g_clear_pointer(&step->tioc->handshake_source, g_source_unref);
    tls_handshake_step(step);
    return G_SOURCE_REMOVE;
}

void qio_channel_tls_handshake(QIOChannelTLS *tioc, QIOTaskFunc func,
                               gpointer opaque, GDestroyNotify destroy,
                               GMainContext *context)
{
    QIOChannelTLSStep *step;

    g_return_if_fail(QIO_IS_CHANNEL_TLS(tioc));
    g_return_if_fail(tioc->handshake == NULL);

    step = g_new0(QIOChannelTLSStep, 1);
    step->tioc = tioc;
    step->task = qio_task_new(G_OBJECT(tioc), func, opaque, destroy);
    step->ctx = context ? g_main_context_ref(context)
                        : g_main_context_ref_thread_default();
    tioc->handshake = step;
    tls_handshake_step(step);
}

int qio_channel_tls_handshake_sync(QIOChannelTLS *tioc, GError **errp)
{
    int r;

    g_return_val_if_fail(QIO_IS_CHANNEL_TLS(tioc), -1);
    g_return_val_if_fail(tioc->handshake == NULL, -1);

    while ((r = tls_handshake_once(tioc, errp)) == 0) {
        qio_channel_wait(tioc->master, tls_direction(tioc));
    }
    return r > 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- reading */

/*
 * One gnutls_record_recv(): > 0 bytes, 0 end-of-file, or a GnuTLS error
 * (GNUTLS_E_AGAIN included). Requests that need no answer are skipped.
 */
static ssize_t tls_recv(QIOChannelTLS *tioc, void *buf, size_t len)
{
    ssize_t ret;

    do {
        ret = gnutls_record_recv(tioc->session, buf, len);
        /*
         * A TLS 1.2 renegotiation request is declined by ignoring it;
         * warnings (other than close_notify, which is 0) carry on.
         */
    } while (ret == GNUTLS_E_INTERRUPTED || ret == GNUTLS_E_REHANDSHAKE ||
             ret == GNUTLS_E_WARNING_ALERT_RECEIVED);
    return ret;
}

/* A failed read: end-of-file if reading was shut, else an error. */
static ssize_t tls_read_failed(QIOChannelTLS *tioc, ssize_t ret, GError **errp)
{
    if (g_atomic_int_get(&tioc->shutdown) & QIO_CHANNEL_SHUTDOWN_READ) {
        tioc->read_eof = true;
        return 0;
    }
    tls_error(tioc, (int)ret, "TLS read", errp);
    return -1;
}

/* Block until the master is ready for what GnuTLS waits for; TRUE. */
static bool tls_wait_more(QIOChannelTLS *tioc)
{
    if (gnutls_record_check_pending(tioc->session) == 0) {
        qio_channel_wait(tioc->master, tls_direction(tioc));
    }
    return true;
}

static ssize_t tls_readv_loop(QIOChannelTLS *tioc, const struct iovec *iov,
                              size_t niov, GError **errp)
{
    ssize_t got = 0;

    for (size_t i = 0; i < niov; i++) {
        ssize_t ret;

        if (iov[i].iov_len == 0) {
            continue;
        }
        /* Never block for more once something was read. */
        if (got > 0 && gnutls_record_check_pending(tioc->session) == 0) {
            break;
        }
        /*
         * GnuTLS says AGAIN after a record that carried no data (a TLS 1.3
         * NewSessionTicket, as OpenSSL servers send) even on a blocking
         * master: a blocking read goes on waiting.
         */
        do {
            ret = tls_recv(tioc, iov[i].iov_base, iov[i].iov_len);
        } while (ret == GNUTLS_E_AGAIN && got == 0 && tioc->blocking &&
                 tls_wait_more(tioc));
        if (ret == GNUTLS_E_AGAIN) {
            if (got > 0) {
                break;
            }
            g_atomic_int_set(&tioc->read_wait, tls_direction(tioc));
            return QIO_CHANNEL_ERR_BLOCK;
        }
        if (ret == 0) {
            tioc->read_eof = true;
            break;
        }
        if (ret < 0) {
            GError *err = NULL;

            if (got == 0) {
                return tls_read_failed(tioc, ret, errp);
            }
            /* Hand over what was read; the error comes next time. */
            if (tls_read_failed(tioc, ret, &err) < 0) {
                tioc->read_err = err;
            }
            break;
        }
        got += ret;
        if ((size_t)ret < iov[i].iov_len) {
            break;
        }
    }
    g_atomic_int_set(&tioc->read_wait, G_IO_IN);
    return got;
}

static ssize_t qio_channel_tls_readv(QIOChannel *ioc, const struct iovec *iov,
                                     size_t niov, int **fds, size_t *nfds,
                                     int flags, GError **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);
    ssize_t ret;

    if (!tls_check_ready(tioc, errp)) {
        return -1;
    }
    if (tioc->read_err) {
        g_propagate_error(errp, g_steal_pointer(&tioc->read_err));
        return -1;
    }
    if (tioc->read_eof) {
        return 0;
    }
    ret = tls_readv_loop(tioc, iov, niov, errp);
    if (tioc->aio.read || tioc->aio.write) {
        tls_aio_update(tioc);
    }
    return ret;
}

/* ---------------------------------------------------------------- writing */

static ssize_t tls_send(QIOChannelTLS *tioc, const void *buf, size_t len)
{
    ssize_t ret;

    do {
        ret = gnutls_record_send(tioc->session, buf, len);
    } while (ret == GNUTLS_E_INTERRUPTED);
    return ret;
}

/* Whether GnuTLS holds records the master has not taken. */
static bool tls_holds_records(QIOChannelTLS *tioc)
{
    bool holds;

    g_mutex_lock(&tioc->transport_lock);
    holds = tioc->offered > tioc->pushed;
    g_mutex_unlock(&tioc->transport_lock);
    return holds;
}

/*
 * A send of @len bytes would block: its record stays with GnuTLS. It
 * holds all @len bytes unless cut to the peer's record size limit (64
 * bytes at least), which only the record's size tells: under TLS 1.3
 * (AEAD, no padding) exactly. A smaller record is not ours (a key update
 * went first), and then ours is not made yet.
 */
static void tls_note_held(QIOChannelTLS *tioc, size_t len)
{
    size_t overhead = gnutls_record_overhead_size(tioc->session);
    size_t payload;

    g_mutex_lock(&tioc->transport_lock);
    payload = tioc->last_record > overhead ? tioc->last_record - overhead : 0;
    g_mutex_unlock(&tioc->transport_lock);
    tioc->held = len;
    if (gnutls_protocol_get_version(tioc->session) == GNUTLS_TLS1_3 &&
        payload >= 63 && payload < len) {
        tioc->held = payload;
    }
}

/*
 * Finish a send that would block, before any new data. GnuTLS says:
 * send the same bytes again, or NULL to flush. But if the peer asked for
 * a TLS 1.3 key update meanwhile (GnuTLS 3.7.9), the next send sends the
 * key update first, which takes the held record along, then encrypts the
 * "same bytes" again: the peer gets them twice. Flushing with NULL leaves
 * that path nothing to encrypt; it ends in GNUTLS_E_INVALID_REQUEST with
 * all sent, and the count is ours. A flush also goes first when GnuTLS
 * holds records of its own: a send would only flush them and return
 * their size as ours.
 * Returns the caller's bytes sent (its first ones), 0 if none were held,
 * QIO_CHANNEL_ERR_BLOCK or -1.
 */
static ssize_t tls_flush_held(QIOChannelTLS *tioc, GError **errp)
{
    ssize_t held = (ssize_t)tioc->held;
    ssize_t ret;

    if (held == 0 && !tls_holds_records(tioc)) {
        return 0;
    }
    do {
        ret = gnutls_record_send(tioc->session, NULL, 0);
    } while (ret == GNUTLS_E_INTERRUPTED);
    if (ret == GNUTLS_E_AGAIN) {
        return QIO_CHANNEL_ERR_BLOCK;
    }
    tioc->held = 0;
    if (ret == GNUTLS_E_INVALID_REQUEST && !tls_holds_records(tioc)) {
        return held;
    }
    if (ret < 0) {
        tls_error(tioc, (int)ret, "TLS write", errp);
        return -1;
    }
    return held > 0 ? ret : 0;
}

static ssize_t tls_writev_loop(QIOChannelTLS *tioc, const struct iovec *iov,
                               size_t niov, GError **errp)
{
    ssize_t done = tls_flush_held(tioc, errp);

    if (done == QIO_CHANNEL_ERR_BLOCK) {
        g_atomic_int_set(&tioc->write_wait, tls_direction(tioc));
        return QIO_CHANNEL_ERR_BLOCK;
    }
    if (done < 0) {
        return -1;
    }
    if (done > 0) {
        /* A short write: the caller goes on with the rest. */
        g_atomic_int_set(&tioc->write_wait, G_IO_OUT);
        return (ssize_t)MIN((size_t)done, qio__iov_size(iov, niov));
    }
    for (size_t i = 0; i < niov; i++) {
        const char *base = iov[i].iov_base;
        size_t off = 0;

        while (off < iov[i].iov_len) {
            ssize_t ret = tls_send(tioc, base + off, iov[i].iov_len - off);

            if (ret == GNUTLS_E_AGAIN) {
                tls_note_held(tioc, iov[i].iov_len - off);
                if (done > 0) {
                    return done;
                }
                g_atomic_int_set(&tioc->write_wait, tls_direction(tioc));
                return QIO_CHANNEL_ERR_BLOCK;
            }
            if (ret < 0) {
                /* GnuTLS repeats a fatal error; report it next time. */
                if (done > 0) {
                    return done;
                }
                tls_error(tioc, (int)ret, "TLS write", errp);
                return -1;
            }
            off += (size_t)ret;
            done += ret;
        }
    }
    g_atomic_int_set(&tioc->write_wait, G_IO_OUT);
    return done;
}

static ssize_t qio_channel_tls_writev(QIOChannel *ioc, const struct iovec *iov,
                                      size_t niov, int *fds, size_t nfds,
                                      int flags, GError **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);
    ssize_t ret;

    if (!tls_check_ready(tioc, errp)) {
        return -1;
    }
    if ((g_atomic_int_get(&tioc->shutdown) & QIO_CHANNEL_SHUTDOWN_WRITE) ||
        tioc->bye_done) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                            "TLS write: the channel was shut down for "
                            "writing");
        return -1;
    }
    ret = tls_writev_loop(tioc, iov, niov, errp);
    if (tioc->aio.read || tioc->aio.write) {
        tls_aio_update(tioc);
    }
    return ret;
}

/* ---------------------------------------------------------------- closing */

/* Send close_notify: 1 sent (or nothing to do), 0 waits, -1 failed. */
static int tls_bye(QIOChannelTLS *tioc, GError **errp)
{
    int ret;

    if (!tioc->handshake_done || tioc->bye_done) {
        return 1;
    }
    do {
        ret = gnutls_bye(tioc->session, GNUTLS_SHUT_WR);
    } while (ret == GNUTLS_E_INTERRUPTED);
    if (ret == GNUTLS_E_AGAIN) {
        return 0;
    }
    tioc->bye_done = true;
    if (ret < 0) {
        tls_error(tioc, ret, "TLS close_notify", errp);
        return -1;
    }
    return 1;
}

static void tls_bye_cancel(QIOChannelTLS *tioc)
{
    if (tioc->bye_source) {
        g_source_destroy(tioc->bye_source);
        g_clear_pointer(&tioc->bye_source, g_source_unref);
    }
}

static gboolean tls_bye_io(QIOChannel *master, GIOCondition cond,
                           gpointer data);

/*
 * close_notify could not leave at once (non-blocking master, full
 * buffer): finish it from a watch, then shut the master's writing side.
 */
static void tls_bye_later(QIOChannelTLS *tioc, GMainContext *ctx)
{
    GSource *source =
        qio_channel_create_watch(tioc->master, tls_direction(tioc));

    tls_bye_cancel(tioc);
    g_source_set_callback(source, (GSourceFunc)(void (*)(void))tls_bye_io,
                          g_object_ref(tioc), g_object_unref);
    g_source_attach(source, ctx);
    tioc->bye_source = source;
}

static gboolean tls_bye_io(QIOChannel *master, GIOCondition cond, gpointer data)
{
    QIOChannelTLS *tioc = data;
    GSource *self = g_steal_pointer(&tioc->bye_source);
    int r = tls_bye(tioc, NULL);

    if (r == 0) {
        tls_bye_later(tioc, g_source_get_context(self));
    } else {
        qio_channel_shutdown(tioc->master, QIO_CHANNEL_SHUTDOWN_WRITE, NULL);
    }
    g_source_unref(self);
    return G_SOURCE_REMOVE;
}

static GMainContext *tls_default_context(QIOChannelTLS *tioc)
{
    GMainContext *ctx = tioc->aio.ctx;

    if (!ctx) {
        ctx = g_main_context_get_thread_default();
    }
    return ctx ? ctx : g_main_context_default();
}

static int qio_channel_tls_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                                    GError **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);
    QIOChannelShutdown now = how;
    GError *err = NULL;

    g_atomic_int_or(&tioc->shutdown, how);
    if ((how & QIO_CHANNEL_SHUTDOWN_WRITE) && !tioc->closed) {
        int r = tls_bye(tioc, &err);

        if (r == 0) {
            /* The master's write side is shut once the alert is out. */
            tls_bye_later(tioc, tls_default_context(tioc));
            now &= ~QIO_CHANNEL_SHUTDOWN_WRITE;
        }
    }
    if (now && qio_channel_shutdown(tioc->master, now, err ? NULL : &err) < 0) {
        g_propagate_error(errp, err);
        return -1;
    }
    if (err) {
        g_propagate_error(errp, err);
        return -1;
    }
    return 0;
}

/*
 * Closing must not hang on a peer that does not read: close_notify gets
 * one non-blocking try, unless it was sent already.
 */
static void tls_close_notify(QIOChannelTLS *tioc)
{
    if (!tioc->handshake_done || tioc->bye_done) {
        return;
    }
    qio_channel_set_blocking(tioc->master, false, NULL);
    tls_bye(tioc, NULL);
    if (tioc->blocking) {
        qio_channel_set_blocking(tioc->master, true, NULL);
    }
}

static void tls_handshake_cancel(QIOChannelTLS *tioc)
{
    QIOChannelTLSStep *step = tioc->handshake;
    GError *err = NULL;

    if (!step) {
        return;
    }
    if (tioc->handshake_source) {
        g_source_destroy(tioc->handshake_source);
        g_clear_pointer(&tioc->handshake_source, g_source_unref);
    }
    qio__error(&err, QIO_CHANNEL_ERROR_CLOSED,
               "the channel was closed during the TLS handshake");
    tls_handshake_finish(step, err);
}

static int qio_channel_tls_close(QIOChannel *ioc, GError **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);
    g_autoptr(QIOChannelTLS) hold = g_object_ref(tioc);

    if (tioc->closed) {
        return 0;
    }
    tls_bye_cancel(tioc);
    tls_close_notify(tioc);
    tioc->closed = true;
    tls_handshake_cancel(tioc);
    return qio_channel_close(tioc->master, errp);
}

/* ---------------------------------------------------------------- control */

static int qio_channel_tls_set_blocking(QIOChannel *ioc, bool enabled,
                                        GError **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);

    tioc->blocking = enabled;
    return qio_channel_set_blocking(tioc->master, enabled, errp);
}

static void qio_channel_tls_set_delay(QIOChannel *ioc, bool enabled)
{
    qio_channel_set_delay(QIO_CHANNEL_TLS(ioc)->master, enabled);
}

static void qio_channel_tls_set_cork(QIOChannel *ioc, bool enabled)
{
    qio_channel_set_cork(QIO_CHANNEL_TLS(ioc)->master, enabled);
}

/* ---------------------------------------------------------------- watches */

/*
 * The watch: ready while input is ready without the master (decrypted
 * data pending, end-of-file seen); otherwise its child, a watch on the
 * master for the directions GnuTLS waits for, wakes it. Those directions
 * change as reads and writes go on, so prepare() re-aims the child.
 */
typedef struct {
    GSource parent;
    QIOChannelTLS *tioc;
    GIOCondition condition;     /* as asked */
    GSource *child;             /* the master's watch */
    GIOCondition child_cond;    /* what it waits for */
    GIOCondition in_as;         /* master condition standing for IN */
    GIOCondition out_as;        /* ... and for OUT */
    GIOCondition child_revents; /* reported by the child, not yet passed */
} QIOChannelTLSSource;

#define TLS_WATCH_ALWAYS (G_IO_HUP | G_IO_ERR | G_IO_NVAL)

static gboolean tls_child_ready(QIOChannel *master, GIOCondition cond,
                                gpointer data)
{
    QIOChannelTLSSource *src = data;

    src->child_revents |= cond;
    return G_SOURCE_CONTINUE;
}

static void tls_source_aim(QIOChannelTLSSource *src)
{
    QIOChannelTLS *tioc = src->tioc;
    GIOCondition in_as = (src->condition & G_IO_IN) ? tls_read_wait(tioc) : 0;
    GIOCondition out_as =
        (src->condition & G_IO_OUT) ? tls_write_wait(tioc) : 0;
    GIOCondition want =
        in_as | out_as | (src->condition & ~(G_IO_IN | G_IO_OUT));

    src->in_as = in_as;
    src->out_as = out_as;
    if (src->child && want == src->child_cond) {
        return;
    }
    if (src->child) {
        g_source_remove_child_source(&src->parent, src->child);
        g_clear_pointer(&src->child, g_source_unref);
    }
    src->child = qio_channel_create_watch(tioc->master, want);
    src->child_cond = want;
    src->child_revents = 0;
    g_source_set_callback(
        src->child, (GSourceFunc)(void (*)(void))tls_child_ready, src, NULL);
    g_source_add_child_source(&src->parent, src->child);
}

static bool tls_source_input_ready(QIOChannelTLSSource *src)
{
    return (src->condition & G_IO_IN) && tls_input_ready(src->tioc);
}

static gboolean tls_source_prepare(GSource *source, gint *timeout)
{
    QIOChannelTLSSource *src = (QIOChannelTLSSource *)source;

    *timeout = -1;
    tls_source_aim(src);
    return tls_source_input_ready(src);
}

static gboolean tls_source_check(GSource *source)
{
    return tls_source_input_ready((QIOChannelTLSSource *)source);
}

static gboolean tls_source_dispatch(GSource *source, GSourceFunc callback,
                                    gpointer user_data)
{
    QIOChannelTLSSource *src = (QIOChannelTLSSource *)source;
    QIOChannelFunc func = (QIOChannelFunc)(void (*)(void))callback;
    GIOCondition got = src->child_revents;
    GIOCondition revents = got & (TLS_WATCH_ALWAYS | G_IO_PRI);

    src->child_revents = 0;
    if (!func) {
        return G_SOURCE_REMOVE;
    }
    if (tls_source_input_ready(src) || (got & src->in_as)) {
        revents |= G_IO_IN;
    }
    if (got & src->out_as) {
        revents |= G_IO_OUT;
    }
    revents &= src->condition | TLS_WATCH_ALWAYS;
    if (!revents) {
        /* Woken without a recorded cause: let the caller try. */
        revents = src->condition & (G_IO_IN | G_IO_OUT);
    }
    return func(QIO_CHANNEL(src->tioc), revents, user_data);
}

static void tls_source_finalize(GSource *source)
{
    QIOChannelTLSSource *src = (QIOChannelTLSSource *)source;

    g_clear_pointer(&src->child, g_source_unref);
    g_clear_object(&src->tioc);
}

static GSourceFuncs tls_source_funcs = {
    .prepare = tls_source_prepare,
    .check = tls_source_check,
    .dispatch = tls_source_dispatch,
    .finalize = tls_source_finalize,
};

static GSource *qio_channel_tls_create_watch(QIOChannel *ioc,
                                             GIOCondition condition)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);
    GSource *source =
        g_source_new(&tls_source_funcs, sizeof(QIOChannelTLSSource));
    QIOChannelTLSSource *src = (QIOChannelTLSSource *)source;

    src->tioc = g_object_ref(tioc);
    src->condition = condition;
    tls_source_aim(src);
    return source;
}

/* ---------------------------------------------------------------- aio */

/*
 * Handlers are forwarded to the master, each in the direction its
 * operation waits for: a read that must write first is woken by the
 * master's write handler. Input that is ready without the master (see
 * tls_input_ready()) is announced from an idle source instead.
 */
static void tls_aio_master_ready(QIOChannelTLS *tioc, GIOCondition cond)
{
    IOHandler *rd = tioc->aio.read;
    IOHandler *wr = tioc->aio.write;
    void *opaque = tioc->aio.opaque;
    bool called = false;

    g_object_ref(tioc);
    if (rd && tls_read_wait(tioc) == cond) {
        rd(opaque);
        called = true;
    }
    /* The read handler may have changed things: look again. */
    if (wr && tioc->aio.write == wr && tioc->aio.opaque == opaque &&
        tls_write_wait(tioc) == cond) {
        wr(opaque);
        called = true;
    }
    if (!called) {
        tls_aio_update(tioc);
    }
    g_object_unref(tioc);
}

static void tls_aio_master_in(void *opaque)
{
    tls_aio_master_ready(opaque, G_IO_IN);
}

static void tls_aio_master_out(void *opaque)
{
    tls_aio_master_ready(opaque, G_IO_OUT);
}

static gboolean tls_aio_ready_cb(gpointer data)
{
    QIOChannelTLS *tioc = data;

    if (tioc->aio.read && tls_input_ready(tioc)) {
        tioc->aio.read(tioc->aio.opaque);
    }
    /* The handler has usually changed things: tls_aio_update() decides. */
    if (tioc->aio.ready && !g_source_is_destroyed(tioc->aio.ready)) {
        tls_aio_update(tioc);
    }
    return G_SOURCE_CONTINUE;
}

static void tls_aio_ready_clear(QIOChannelTLS *tioc)
{
    if (tioc->aio.ready) {
        g_source_destroy(tioc->aio.ready);
        g_clear_pointer(&tioc->aio.ready, g_source_unref);
    }
}

static void tls_aio_update(QIOChannelTLS *tioc)
{
    QIOChannelTLSAio *aio = &tioc->aio;
    bool ready = aio->read && tls_input_ready(tioc);
    GIOCondition cond = 0;

    if (aio->read && !ready) {
        cond |= tls_read_wait(tioc);
    }
    if (aio->write) {
        cond |= tls_write_wait(tioc);
    }
    qio_channel_set_aio_fd_handler(
        tioc->master, aio->ctx, (cond & G_IO_IN) ? tls_aio_master_in : NULL,
        (cond & G_IO_OUT) ? tls_aio_master_out : NULL, tioc);
    if (!ready) {
        tls_aio_ready_clear(tioc);
    } else if (!aio->ready) {
        aio->ready = g_idle_source_new();
        /* At the priority of the descriptors: a busy loop never idles. */
        g_source_set_priority(aio->ready, G_PRIORITY_DEFAULT);
        g_source_set_callback(aio->ready, tls_aio_ready_cb, g_object_ref(tioc),
                              g_object_unref);
        g_source_attach(aio->ready, aio->ctx);
    }
}

static void qio_channel_tls_set_aio_fd_handler(QIOChannel *ioc,
                                               GMainContext *ctx,
                                               IOHandler *io_read,
                                               IOHandler *io_write,
                                               void *opaque)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);
    QIOChannelTLSAio *aio = &tioc->aio;

    if (ctx != aio->ctx) {
        tls_aio_ready_clear(tioc);
        if (aio->ctx) {
            qio_channel_set_aio_fd_handler(tioc->master, aio->ctx, NULL, NULL,
                                           NULL);
        }
        g_clear_pointer(&aio->ctx, g_main_context_unref);
        aio->ctx = ctx ? g_main_context_ref(ctx) : NULL;
    }
    aio->read = io_read;
    aio->write = io_write;
    aio->opaque = opaque;
    if (!io_read && !io_write) {
        tls_aio_ready_clear(tioc);
        if (aio->ctx) {
            qio_channel_set_aio_fd_handler(tioc->master, aio->ctx, NULL, NULL,
                                           NULL);
        }
        g_clear_pointer(&aio->ctx, g_main_context_unref);
        return;
    }
    tls_aio_update(tioc);
}

/* ---------------------------------------------------------------- getters */

QIOChannel *qio_channel_tls_get_master(QIOChannelTLS *tioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_TLS(tioc), NULL);
    return tioc->master;
}

gnutls_session_t qio_channel_tls_get_session(QIOChannelTLS *tioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_TLS(tioc), NULL);
    return tioc->session;
}

const char *qio_channel_tls_get_peer_dn(QIOChannelTLS *tioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_TLS(tioc), NULL);
    return tioc->peer_dn;
}

const char *qio_channel_tls_get_alpn_protocol(QIOChannelTLS *tioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_TLS(tioc), NULL);
    return tioc->alpn;
}

unsigned int qio_channel_tls_get_verify_status(QIOChannelTLS *tioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_TLS(tioc), 0);
    return tioc->verify_status;
}

gboolean qio_channel_tls_bye_pending(QIOChannelTLS *tioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_TLS(tioc), FALSE);
    return tioc->bye_source != NULL && !tioc->bye_done && !tioc->closed;
}

/* ---------------------------------------------------------------- object */

static void qio_channel_tls_finalize(GObject *obj)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(obj);

    /* The master's handlers point at us. */
    if (tioc->aio.ctx) {
        qio_channel_set_aio_fd_handler(tioc->master, tioc->aio.ctx, NULL, NULL,
                                       NULL);
        g_main_context_unref(tioc->aio.ctx);
    }
    if (tioc->session) {
        gnutls_deinit(tioc->session);
    }
    g_clear_object(&tioc->master);
    g_clear_object(&tioc->creds);
    g_free(tioc->hostname);
    g_free(tioc->server_name);
    g_free(tioc->peer_dn);
    g_free(tioc->alpn);
    g_clear_error(&tioc->read_err);
    g_clear_error(&tioc->pull_err);
    g_clear_error(&tioc->push_err);
    g_mutex_clear(&tioc->transport_lock);
    G_OBJECT_CLASS(qio_channel_tls_parent_class)->finalize(obj);
}

static void qio_channel_tls_class_init(QIOChannelTLSClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    QIOChannelClass *ioc_class = QIO_CHANNEL_CLASS(klass);

    object_class->finalize = qio_channel_tls_finalize;
    ioc_class->io_writev = qio_channel_tls_writev;
    ioc_class->io_readv = qio_channel_tls_readv;
    ioc_class->io_close = qio_channel_tls_close;
    ioc_class->io_create_watch = qio_channel_tls_create_watch;
    ioc_class->io_set_blocking = qio_channel_tls_set_blocking;
    ioc_class->io_shutdown = qio_channel_tls_shutdown;
    ioc_class->io_set_cork = qio_channel_tls_set_cork;
    ioc_class->io_set_delay = qio_channel_tls_set_delay;
    ioc_class->io_set_aio_fd_handler = qio_channel_tls_set_aio_fd_handler;
}

static void qio_channel_tls_init(QIOChannelTLS *tioc)
{
    g_mutex_init(&tioc->transport_lock);
    tioc->blocking = true;
    tioc->read_wait = G_IO_IN;
    tioc->write_wait = G_IO_OUT;
}
