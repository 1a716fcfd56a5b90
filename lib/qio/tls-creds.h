/*
 * libqio - TLS credentials (X.509, GnuTLS)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_TLS_CREDS_H
#define QIO_TLS_CREDS_H

#include <glib-object.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>

G_BEGIN_DECLS

/**
 * QIOTLSCreds:
 *
 * A QIOTLSCreds holds what one endpoint of a TLS session needs: its own
 * certificate chain and key, the trust anchors used to verify the peer,
 * whether to verify at all, and a GnuTLS priority string. One object can
 * serve any number of sessions (qio/channel-tls.h); it is immutable once
 * created, so sessions in several threads may share it.
 */
#define QIO_TYPE_TLS_CREDS (qio_tls_creds_get_type())
G_DECLARE_FINAL_TYPE(QIOTLSCreds, qio_tls_creds, QIO, TLS_CREDS, GObject)

/**
 * QIOTLSCredsEndpoint:
 * @QIO_TLS_CREDS_ENDPOINT_CLIENT: the side that connects; it verifies the
 *   server's chain and host name
 * @QIO_TLS_CREDS_ENDPOINT_SERVER: the side that accepts; it needs a
 *   certificate (unless anonymous), and verifies clients only when it has
 *   a CA file
 *
 * Which side of a TLS session credentials are for (qio_tls_creds_new()).
 */
typedef enum {
    QIO_TLS_CREDS_ENDPOINT_CLIENT,
    QIO_TLS_CREDS_ENDPOINT_SERVER,
} QIOTLSCredsEndpoint;

/**
 * QIOTLSCredsOptions:
 * @cert_file: (nullable): PEM file with this endpoint's certificate chain
 *   (leaf first); it may hold the private key too. Required for a server;
 *   for a client, the certificate it presents when asked
 * @key_file: (nullable): PEM file with the private key; %NULL to take it
 *   from @cert_file
 * @ca_file: (nullable): PEM file with the trust anchors for verifying the
 *   peer. A client without one uses the system trust store; a server with
 *   one requests client certificates (and, with @verify, requires them)
 * @ca_dir: (nullable): a directory of PEM files of trust anchors, loaded
 *   as @ca_file is (gnutls_certificate_set_x509_trust_dir(): every file
 *   in it, no hashed names needed); with @ca_file both are trusted
 * @verify: verify the peer (default); %false accepts any peer
 * @priority: (nullable): a GnuTLS priority string; %NULL for "NORMAL"
 * @post_handshake_auth: TLS 1.3 post-handshake authentication (default
 *   off). A server may then ask for the client's certificate after the
 *   handshake (gnutls_reauth() on qio_channel_tls_get_session()); a client
 *   answers such requests, and TLS 1.2 renegotiations, inside its reads
 *   (GnuTLS's %GNUTLS_AUTO_REAUTH), so a read may have to write. GnuTLS
 *   then forbids reading and writing a session from two threads at once
 *   (one thread with coroutines is fine)
 * @alpn: (nullable) (array zero-terminated=1): application protocols
 *   (ALPN, RFC 7301), most preferred first, each 1 to 255 bytes. A client
 *   offers them; a server picks the first of its own that the client
 *   offers, and refuses a client that offers ALPN but none of these (alert
 *   no_application_protocol); a client that offers none is served.
 *   qio_channel_tls_get_alpn_protocol() gives the outcome
 * @anonymous: also allow anonymous key exchange (GnuTLS's ANON-ECDH and
 *   ANON-DH, which exist in TLS 1.2 and before only, and which the
 *   priority string must enable): neither side shows a certificate, so
 *   nothing protects against a man in the middle. A server then needs no
 *   certificate; a client that verifies, or a server with trust anchors,
 *   is an error, as neither can be had without certificates
 *
 * Settings for qio_tls_creds_new(). Start from
 * %QIO_TLS_CREDS_OPTIONS_INIT so that new fields get their defaults.
 */
typedef struct QIOTLSCredsOptions {
    const char *cert_file;
    const char *key_file;
    const char *ca_file;
    const char *ca_dir;
    bool verify;
    const char *priority;
    bool post_handshake_auth;
    const char *const *alpn;
    bool anonymous;
} QIOTLSCredsOptions;

/**
 * QIO_TLS_CREDS_OPTIONS_INIT:
 *
 * Initialiser for a #QIOTLSCredsOptions with the defaults: no files,
 * verification on, priority "NORMAL".
 */
#define QIO_TLS_CREDS_OPTIONS_INIT                                             \
    {                                                                          \
        .verify = true                                                         \
    }

/**
 * qio_tls_creds_new:
 * @endpoint: which side of the session these credentials are for
 * @opts: (nullable): the files and settings; %NULL for the defaults
 * @errp: return location for an error
 *
 * Loads the files now, so that mistakes show before any connection: a
 * file that cannot be read fails with the system's reason ("cert.pem: No
 * such file or directory"), one that GnuTLS rejects with its reason and
 * the file's name, a bad priority string with the offending part. A
 * server without @opts->cert_file is an error. A CA directory that cannot
 * be opened fails with the system's reason, one without any certificate
 * with "no PEM certificate in the directory"; #QIOTLSCredsOptions.anonymous
 * with verification that needs certificates is an error (see there); an
 * ALPN name that is empty
 * or longer than 255 bytes is an error. A client that verifies and
 * has no CA file or directory loads the system trust store
 * (gnutls_certificate_set_x509_system_trust()); a store that cannot be
 * loaded is an error, an empty one is not (verification then fails with
 * "issuer is unknown").
 *
 * Returns: (transfer full) (nullable): the credentials, or %NULL with
 * @errp set.
 */
QIOTLSCreds *qio_tls_creds_new(QIOTLSCredsEndpoint endpoint,
                               const QIOTLSCredsOptions *opts, GError **errp);

/**
 * qio_tls_creds_get_endpoint:
 * @creds: the credentials
 *
 * Tells which side of a session the credentials are for.
 *
 * Returns: the side given to qio_tls_creds_new().
 */
QIOTLSCredsEndpoint qio_tls_creds_get_endpoint(QIOTLSCreds *creds);

/**
 * qio_tls_creds_get_verify:
 * @creds: the credentials
 *
 * Tells whether the credentials verify the peer.
 *
 * Returns: whether sessions verify the peer.
 */
bool qio_tls_creds_get_verify(QIOTLSCreds *creds);

/**
 * qio_tls_creds_has_ca:
 * @creds: the credentials
 *
 * Tells whether the credentials hold trust anchors.
 *
 * Returns: whether a CA file or directory was loaded (for a server:
 * whether it asks clients for certificates).
 */
bool qio_tls_creds_has_ca(QIOTLSCreds *creds);

/**
 * qio_tls_creds_has_cert:
 * @creds: the credentials
 *
 * Tells whether the credentials hold a certificate and key.
 *
 * Returns: whether the endpoint has a certificate of its own.
 */
bool qio_tls_creds_has_cert(QIOTLSCreds *creds);

/**
 * qio_tls_creds_get_anonymous:
 * @creds: the credentials
 *
 * Tells whether sessions may use anonymous key exchange
 * (#QIOTLSCredsOptions.anonymous).
 *
 * Returns: whether anonymous credentials are set up.
 */
bool qio_tls_creds_get_anonymous(QIOTLSCreds *creds);

/**
 * qio_tls_creds_get_post_handshake_auth:
 * @creds: the credentials
 *
 * Tells whether TLS 1.3 post-handshake authentication is on
 * (#QIOTLSCredsOptions.post_handshake_auth).
 *
 * Returns: whether sessions allow post-handshake authentication.
 */
bool qio_tls_creds_get_post_handshake_auth(QIOTLSCreds *creds);

/**
 * qio_tls_creds_get_alpn:
 * @creds: the credentials
 *
 * Gets the ALPN protocols the credentials offer or accept.
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the
 * application protocols given to qio_tls_creds_new(), or %NULL for none.
 */
const char *const *qio_tls_creds_get_alpn(QIOTLSCreds *creds);

/**
 * qio_tls_creds_get_priority:
 * @creds: the credentials
 *
 * Gets the GnuTLS priority string sessions use.
 *
 * Returns: (transfer none): the priority string in use.
 */
const char *qio_tls_creds_get_priority(QIOTLSCreds *creds);

/**
 * qio_tls_creds_get_gnutls_credentials: (skip)
 * @creds: the credentials
 *
 * For callers that need GnuTLS settings this API does not cover. The
 * object stays owned by @creds; change it only before the first session
 * is created.
 *
 * Returns: (transfer none): the GnuTLS certificate credentials.
 */
gnutls_certificate_credentials_t
qio_tls_creds_get_gnutls_credentials(QIOTLSCreds *creds);

/**
 * qio_tls_creds_get_gnutls_priority: (skip)
 * @creds: the credentials
 *
 * For GnuTLS calls this API does not wrap. The cache stays owned by
 * @creds.
 *
 * Returns: (transfer none): the compiled priority cache, for
 * gnutls_priority_set().
 */
gnutls_priority_t qio_tls_creds_get_gnutls_priority(QIOTLSCreds *creds);

G_END_DECLS

#endif /* QIO_TLS_CREDS_H */
