/*
 * libqio - TLS over any channel (GnuTLS)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_CHANNEL_TLS_H
#define QIO_CHANNEL_TLS_H

#include <gnutls/gnutls.h>

#include "qio/channel.h"
#include "qio/task.h"
#include "qio/tls-creds.h"

G_BEGIN_DECLS

/**
 * QIOChannelTLS:
 *
 * A QIOChannelTLS runs a TLS session over another channel, its "master"
 * (usually a QIOChannelSocket): what is written to it is encrypted and
 * written to the master, what is read from it was read from the master and
 * decrypted. Create it with qio_channel_tls_new_client() or
 * qio_channel_tls_new_server(), run qio_channel_tls_handshake(), then use
 * it as any channel, blocking, non-blocking or from a coroutine.
 *
 * Things that differ from a plain socket:
 *
 * - A read may have to wait for the master to become writable (when it
 *   answers a post-handshake request of the peer, see
 *   #QIOTLSCredsOptions.post_handshake_auth), and a write may have to wait
 *   for it to become readable. Watches, qio_channel_wait() and
 *   qio_channel_yield() on the TLS channel take care of this: they wait
 *   for what GnuTLS needs (gnutls_record_get_direction()), not for the
 *   condition asked.
 * - GnuTLS may hold decrypted data that was not read yet while the master
 *   has nothing more; a %G_IO_IN watch (and a coroutine waiting to read)
 *   is ready in that case too.
 * - After a write returned %QIO_CHANNEL_ERR_BLOCK, the next write must
 *   start with the same bytes (GnuTLS has already encrypted them); every
 *   loop that retries the rest of its buffer does so.
 * - The peer's close_notify is end-of-file. A master that ends without
 *   one is an error (%QIO_CHANNEL_TLS_ERROR_PREMATURE_EOF: the data may
 *   have been cut short), unless reading was shut down.
 * - qio_channel_shutdown() of %QIO_CHANNEL_SHUTDOWN_WRITE sends
 *   close_notify before shutting the master's writing side.
 *
 * GnuTLS lets one thread read while another writes, not two threads do
 * the same; the channel inherits that rule.
 */
#define QIO_TYPE_CHANNEL_TLS (qio_channel_tls_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelTLS, qio_channel_tls, QIO, CHANNEL_TLS,
                     QIOChannel)

/**
 * QIO_CHANNEL_TLS_ERROR:
 *
 * Error domain of TLS failures. Failures of the master channel keep
 * their own domain and message ("Connection reset by peer").
 */
#define QIO_CHANNEL_TLS_ERROR (qio_channel_tls_error_quark())

/**
 * qio_channel_tls_error_quark:
 *
 * The function behind %QIO_CHANNEL_TLS_ERROR.
 *
 * Returns: the #GQuark of the %QIO_CHANNEL_TLS_ERROR domain.
 */
GQuark qio_channel_tls_error_quark(void);

/**
 * QIOChannelTLSError:
 * @QIO_CHANNEL_TLS_ERROR_FAILED: the TLS protocol failed (GnuTLS's reason
 *   is in the message: a malformed record, ...); a handshake we end
 *   because the peer offers nothing we accept says so: "TLS handshake
 *   failed: we refused the client: no TLS version in common" (or no
 *   cipher suite, key exchange group or ALPN protocol)
 * @QIO_CHANNEL_TLS_ERROR_VERIFY: the peer's certificate was rejected; the
 *   message gives the reason (issuer unknown, wrong name, expired, ...)
 *   and qio_channel_tls_get_verify_status() the GnuTLS status bits
 * @QIO_CHANNEL_TLS_ERROR_NO_CERTIFICATE: a certificate was required and
 *   the peer sent none (a server with a CA file), or the peer required one
 *   from us (a client without one)
 * @QIO_CHANNEL_TLS_ERROR_ALERT: the peer ended the session with a fatal
 *   alert, named in the message (it rejected our certificate, say); one
 *   that ends the handshake for another reason reads "the server refused
 *   the TLS handshake: alert protocol_version", with the alert's name of
 *   RFC 8446
 * @QIO_CHANNEL_TLS_ERROR_PREMATURE_EOF: the master reached end-of-file
 *   without the peer's close_notify
 * @QIO_CHANNEL_TLS_ERROR_NOT_READY: read or write before the handshake
 *   completed
 *
 * The codes of the %QIO_CHANNEL_TLS_ERROR domain.
 */
typedef enum {
    QIO_CHANNEL_TLS_ERROR_FAILED,
    QIO_CHANNEL_TLS_ERROR_VERIFY,
    QIO_CHANNEL_TLS_ERROR_NO_CERTIFICATE,
    QIO_CHANNEL_TLS_ERROR_ALERT,
    QIO_CHANNEL_TLS_ERROR_PREMATURE_EOF,
    QIO_CHANNEL_TLS_ERROR_NOT_READY,
} QIOChannelTLSError;

/**
 * qio_channel_tls_new_client:
 * @master: the channel to run TLS over (referenced)
 * @creds: client credentials (referenced)
 * @hostname: (nullable): the server's name: sent as SNI (unless it is an
 *   IP address or otherwise no DNS name, such as "[::1]") and, when
 *   @creds verify, checked against the certificate; %NULL checks the
 *   chain only
 * @errp: return location for an error
 *
 * Creates the client end of a session; nothing is sent before
 * qio_channel_tls_handshake().
 *
 * Returns: (transfer full) (nullable): the channel, or %NULL with @errp
 * set (@creds are server credentials, GnuTLS failed).
 */
QIOChannelTLS *qio_channel_tls_new_client(QIOChannel *master,
                                          QIOTLSCreds *creds,
                                          const char *hostname, GError **errp);

/**
 * qio_channel_tls_set_server_name:
 * @tioc: a client channel, before qio_channel_tls_handshake()
 * @name: (nullable): the name to send as SNI; %NULL sends none
 *
 * Replaces the server name indication, which is by default the hostname
 * given to qio_channel_tls_new_client() (none when that is an IP address
 * or %NULL). The name the certificate is checked against stays that
 * hostname.
 */
void qio_channel_tls_set_server_name(QIOChannelTLS *tioc, const char *name);

/**
 * qio_channel_tls_new_server:
 * @master: the channel to run TLS over (referenced)
 * @creds: server credentials (referenced); with a CA file, clients are
 *   asked for a certificate, and must send a valid one if @creds verify
 * @errp: return location for an error
 *
 * Creates the server end of a session.
 *
 * Returns: (transfer full) (nullable): the channel, or %NULL with @errp
 * set.
 */
QIOChannelTLS *qio_channel_tls_new_server(QIOChannel *master,
                                          QIOTLSCreds *creds, GError **errp);

/**
 * qio_channel_tls_handshake:
 * @tioc: the channel
 * @func: (scope notified) (closure opaque) (destroy destroy): called once
 *   the handshake is over; qio_task_propagate_error()
 *   says whether it failed. The task's source object is @tioc
 * @opaque: passed to @func
 * @destroy: (nullable): frees @opaque after @func has run
 * @context: (nullable): where the watches of a non-blocking handshake run
 *   (%NULL: the thread-default context)
 *
 * Runs the handshake, then verifies the peer as the credentials say
 * (chain and host name for a client; the client's chain for a server with
 * a CA file). On a non-blocking master it advances whenever the master is
 * ready in the direction GnuTLS waits for, and @func runs from @context;
 * on a blocking master the handshake runs to its end at once and @func
 * runs before this function returns. Closing the channel during the
 * handshake completes the task with %QIO_CHANNEL_ERROR_CLOSED.
 *
 * Verification failures are %QIO_CHANNEL_TLS_ERROR_VERIFY with a message
 * such as "certificate verification failed: the certificate issuer is
 * unknown"; GnuTLS also tells the peer with an alert.
 */
void qio_channel_tls_handshake(QIOChannelTLS *tioc, QIOTaskFunc func,
                               gpointer opaque, GDestroyNotify destroy,
                               GMainContext *context);

/**
 * qio_channel_tls_handshake_sync:
 * @tioc: the channel
 * @errp: return location for an error
 *
 * Runs the handshake to its end in the calling thread: on a non-blocking
 * master it waits with qio_channel_wait() on the master.
 *
 * Returns: 0 on success, -1 with @errp set (as for
 * qio_channel_tls_handshake()).
 */
int qio_channel_tls_handshake_sync(QIOChannelTLS *tioc, GError **errp);

/**
 * qio_channel_tls_get_master:
 * @tioc: the channel
 *
 * Gets the channel below the TLS session.
 *
 * Returns: (transfer none): the channel the session runs over.
 */
QIOChannel *qio_channel_tls_get_master(QIOChannelTLS *tioc);

/**
 * qio_channel_tls_get_session: (skip)
 * @tioc: the channel
 *
 * For GnuTLS calls this API does not wrap (the negotiated version, a key
 * update). Reading and writing must go through the channel.
 *
 * Returns: (transfer none): the GnuTLS session.
 */
gnutls_session_t qio_channel_tls_get_session(QIOChannelTLS *tioc);

/**
 * qio_channel_tls_get_peer_dn:
 * @tioc: the channel
 *
 * The subject of the peer's certificate (RFC 4514, "CN=localhost,O=Test"),
 * once the handshake has verified it.
 *
 * Returns: (transfer none) (nullable): the distinguished name; %NULL
 * before the handshake, when the peer sent no certificate, or when it was
 * not verified (verification off, or a server without a CA file).
 */
const char *qio_channel_tls_get_peer_dn(QIOChannelTLS *tioc);

/**
 * qio_channel_tls_get_alpn_protocol:
 * @tioc: the channel
 *
 * The application protocol the handshake agreed on (ALPN, see
 * #QIOTLSCredsOptions.alpn).
 *
 * Returns: (transfer none) (nullable): the protocol name; %NULL before
 * the handshake, or when none was agreed on (either side offered none).
 */
const char *qio_channel_tls_get_alpn_protocol(QIOChannelTLS *tioc);

/**
 * qio_channel_tls_get_verify_status:
 * @tioc: the channel
 *
 * Gets the details of the last verification of the peer's certificate,
 * for a caller that wants more than the message of
 * %QIO_CHANNEL_TLS_ERROR_VERIFY.
 *
 * Returns: the gnutls_certificate_status_t bits of the last
 * verification of the peer (0 when it passed or did not run).
 */
unsigned int qio_channel_tls_get_verify_status(QIOChannelTLS *tioc);

/**
 * qio_channel_tls_bye_pending:
 * @tioc: the channel
 *
 * Whether the close_notify alert that qio_channel_shutdown() with
 * %QIO_CHANNEL_SHUTDOWN_WRITE started is still waiting for room in the
 * channel below (a non-blocking master whose buffer was full). It leaves
 * from a watch in the channel's AIO context (else the thread-default
 * context) as soon as the master is writable, and the master's writing
 * side is shut after it. Closing the channel before then gives the alert
 * one more try only, so that a close never hangs on a peer that does not
 * read: a caller that wants the peer to see a clean end waits, for
 * instance in a coroutine with qio_channel_yield() for %G_IO_OUT on
 * @tioc, until this is %FALSE.
 *
 * Returns: %TRUE while the alert waits to be sent.
 */
gboolean qio_channel_tls_bye_pending(QIOChannelTLS *tioc);

G_END_DECLS

#endif /* QIO_CHANNEL_TLS_H */
