/*
 * qioc - TLS and TLS-LISTEN: a TLS session on top of a TCP connection
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The TCP part is addr-tcp.c's (connect, listen, the IP options); what
 * is here wraps the connected or accepted socket: credentials from cert=,
 * key=, cafile=, verify= and priority=, then a handshake that runs in the
 * main loop like every other step of opening an address.
 */
#include "config.h"

#include "addr.h"
#include "log.h"

typedef struct {
    const QiocAddress *addr;
    QIOChannelTLS *tioc;
    QiocOpenDone *done;
    gpointer data;
} QiocTlsCall;

static QIOTLSCreds *tls_creds(const QiocAddress *addr,
                              QIOTLSCredsEndpoint endpoint, GError **errp)
{
    QIOTLSCredsOptions copts = QIO_TLS_CREDS_OPTIONS_INIT;

    copts.cert_file = qioc_address_get_string(addr, "cert");
    copts.key_file = qioc_address_get_string(addr, "key");
    copts.ca_file = qioc_address_get_string(addr, "cafile");
    copts.verify = qioc_address_get_flag(addr, "verify");
    copts.priority = qioc_address_get_string(addr, "priority");
    return qio_tls_creds_new(endpoint, &copts, errp);
}

/*
 * Credentials are loaded once per address, at start-up (a bad cert= is an
 * error before any client arrives), and shared by every connection.
 */
static QIOTLSCreds *creds_cache[3];

static QIOTLSCredsEndpoint endpoint_of(const QiocAddress *addr)
{
    return addr->type->kind == QIOC_ADDR_TLS_LISTEN
               ? QIO_TLS_CREDS_ENDPOINT_SERVER
               : QIO_TLS_CREDS_ENDPOINT_CLIENT;
}

static QIOTLSCreds *tls_creds_for(const QiocAddress *addr, GError **errp)
{
    g_return_val_if_fail(addr->index >= 1 && addr->index <= 2, NULL);
    if (!creds_cache[addr->index]) {
        creds_cache[addr->index] = tls_creds(addr, endpoint_of(addr), errp);
    }
    return creds_cache[addr->index] ? g_object_ref(creds_cache[addr->index])
                                    : NULL;
}

gboolean qioc_prepare_tls(const QiocAddress *addr, const QiocOptions *opts,
                          GError **errp)
{
    g_autoptr(QIOTLSCreds) creds = NULL;

    if (addr->type->kind == QIOC_ADDR_TLS_CONNECT &&
        !qioc_prepare_tcp(addr, opts, errp)) {
        return FALSE;
    }
    creds = tls_creds_for(addr, errp);
    return creds != NULL;
}

static const char *or_unknown(const char *name)
{
    return name ? name : "unknown";
}

/* -dd: what the handshake agreed on, one name per parameter. */
static void tls_log_params(const QiocAddress *addr, gnutls_session_t s)
{
    gnutls_protocol_t version = gnutls_protocol_get_version(s);

    qioc_info(2, "address %d (%s): TLS handshake done: %s, cipher %s, "
              "MAC %s, key exchange %s, group %s, %s session",
              addr->index, addr->text,
              or_unknown(gnutls_protocol_get_name(version)),
              or_unknown(gnutls_cipher_get_name(gnutls_cipher_get(s))),
              or_unknown(gnutls_mac_get_name(gnutls_mac_get(s))),
              or_unknown(gnutls_kx_get_name(gnutls_kx_get(s))),
              or_unknown(gnutls_group_get_name(gnutls_group_get(s))),
              gnutls_session_is_resumed(s) ? "resumed" : "new");
}

static void tls_log_session(const QiocAddress *addr, QIOChannelTLS *tioc)
{
    gnutls_session_t session = qio_channel_tls_get_session(tioc);
    const char *dn = qio_channel_tls_get_peer_dn(tioc);
    char *desc;

    if (qioc_log_get_level() < 1) {
        return;
    }
    desc = gnutls_session_get_desc(session);
    qioc_info(1, "address %d (%s): TLS session %s, peer %s", addr->index,
              addr->text, desc ? desc : "?", dn ? dn : "not verified");
    gnutls_free(desc);
    tls_log_params(addr, session);
}

static void tls_handshake_done(QIOTask *task, gpointer opaque)
{
    QiocTlsCall *call = opaque;
    QIOChannel *ioc = QIO_CHANNEL(g_steal_pointer(&call->tioc));
    GError *err = NULL;

    if (qio_task_propagate_error(task, &err)) {
        qio_channel_close(ioc, NULL);
        g_object_unref(ioc);
        call->done(NULL, err, call->data);
        return;
    }
    tls_log_session(call->addr, QIO_CHANNEL_TLS(ioc));
    call->done(ioc, NULL, call->data);
}

static void tls_call_free(gpointer data)
{
    QiocTlsCall *call = data;

    g_clear_object(&call->tioc);
    g_free(call);
}

/*
 * Wrap @ioc (transfer full) in a TLS channel and start the handshake;
 * on failure @ioc is closed and @done gets the error.
 */
static void tls_wrap(const QiocAddress *addr, QIOChannel *ioc,
                     QIOTLSCredsEndpoint endpoint, QiocOpenDone *done,
                     gpointer data)
{
    g_autoptr(QIOChannel) master = ioc;
    g_autoptr(QIOTLSCreds) creds = NULL;
    QIOChannelTLS *tioc = NULL;
    QiocTlsCall *call;
    GError *err = NULL;

    creds = tls_creds_for(addr, &err);
    if (creds && endpoint == QIO_TLS_CREDS_ENDPOINT_CLIENT) {
        const char *sni = qioc_address_get_string(addr, "snihost");

        tioc = qio_channel_tls_new_client(master, creds,
                                          sni ? sni : addr->params[0], &err);
    } else if (creds) {
        tioc = qio_channel_tls_new_server(master, creds, &err);
    }
    if (!tioc) {
        qio_channel_close(master, NULL);
        done(NULL, err, data);
        return;
    }
    qio_channel_set_name(QIO_CHANNEL(tioc), addr->text);
    /* The handshake must not stall the loop that serves everything else. */
    qio_channel_set_blocking(QIO_CHANNEL(tioc), false, NULL);
    call = g_new0(QiocTlsCall, 1);
    *call = (QiocTlsCall){ addr, g_object_ref(tioc), done, data };
    qio_channel_tls_handshake(tioc, tls_handshake_done, call, tls_call_free,
                              NULL);
    g_object_unref(tioc);
}

void qioc_wrap_tls_client(const QiocAddress *addr, const QiocOptions *opts,
                          QIOChannel *ioc, QiocOpenDone *done, gpointer data)
{
    tls_wrap(addr, ioc, QIO_TLS_CREDS_ENDPOINT_CLIENT, done, data);
}

void qioc_wrap_tls_server(const QiocAddress *addr, const QiocOptions *opts,
                          QIOChannel *ioc, QiocOpenDone *done, gpointer data)
{
    tls_wrap(addr, ioc, QIO_TLS_CREDS_ENDPOINT_SERVER, done, data);
}
