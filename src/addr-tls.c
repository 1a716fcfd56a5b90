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

#include "addr-tcp.h"
#include "log.h"

typedef struct {
    const QiocEndpoint *ep;
    QIOChannelTLS *tioc;
    QiocOpenDone *done;
    gpointer data;
} QiocTlsCall;

/* What a TLS address works out once: credentials, and a TCP target. */
typedef struct {
    QIOTLSCreds *creds;
    QiocTcpTarget *target; /* TLS-CONNECT */
} QiocTlsState;

static void tls_state_free(gpointer data)
{
    QiocTlsState *st = data;

    g_clear_object(&st->creds);
    g_clear_pointer(&st->target, qioc_tcp_target_free);
    g_free(st);
}

static QIOTLSCredsEndpoint endpoint_of(const QiocEndpoint *ep)
{
    return ep->desc->kind == QIOC_ADDR_TLS_LISTEN
               ? QIO_TLS_CREDS_ENDPOINT_SERVER
               : QIO_TLS_CREDS_ENDPOINT_CLIENT;
}

static QIOTLSCreds *tls_creds_new(const QiocEndpoint *ep, GError **errp)
{
    const QiocAddrOpts *o = &ep->addr->o;
    QIOTLSCredsOptions copts = QIO_TLS_CREDS_OPTIONS_INIT;

    copts.cert_file = o->cert;
    copts.key_file = o->key;
    copts.ca_file = o->cafile;
    copts.verify = o->verify;
    copts.priority = o->priority;
    return qio_tls_creds_new(endpoint_of(ep), &copts, errp);
}

/* Credentials are loaded once, so a bad file fails at start-up. */
static gboolean tls_prepare(QiocEndpoint *ep, GError **errp)
{
    QiocTlsState *st = g_new0(QiocTlsState, 1);

    ep->state = st;
    if (ep->desc->kind == QIOC_ADDR_TLS_CONNECT &&
        !(st->target = qioc_tcp_target_new(ep, errp))) {
        return FALSE;
    }
    st->creds = tls_creds_new(ep, errp);
    return st->creds != NULL;
}

static const char *or_unknown(const char *name)
{
    return name ? name : "unknown";
}

/* -dd: what the handshake agreed on, one name per parameter. */
static void tls_log_params(const QiocAddress *addr, gnutls_session_t s)
{
    gnutls_protocol_t version = gnutls_protocol_get_version(s);

    qioc_log_address(2, addr->index, addr->text,
                     "TLS handshake done: %s, cipher %s, "
                     "MAC %s, key exchange %s, group %s, %s session",
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
    qioc_log_address(1, addr->index, addr->text, "TLS session %s, peer %s",
                     desc ? desc : "?", dn ? dn : "not verified");
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
    tls_log_session(call->ep->addr, QIO_CHANNEL_TLS(ioc));
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
static void tls_wrap(QiocEndpoint *ep, QIOChannel *ioc, QiocOpenDone *done,
                     gpointer data)
{
    const QiocAddress *addr = ep->addr;
    QIOTLSCreds *creds = ((QiocTlsState *)ep->state)->creds;
    g_autoptr(QIOChannel) master = ioc;
    QIOChannelTLS *tioc = NULL;
    QiocTlsCall *call;
    GError *err = NULL;

    if (endpoint_of(ep) == QIO_TLS_CREDS_ENDPOINT_CLIENT) {
        const char *sni = addr->o.snihost;

        tioc = qio_channel_tls_new_client(master, creds,
                                          sni ? sni : addr->params[0], &err);
    } else {
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
    *call = (QiocTlsCall){ep, g_object_ref(tioc), done, data};
    qio_channel_tls_handshake(tioc, tls_handshake_done, call, tls_call_free,
                              NULL);
    g_object_unref(tioc);
}

static void tls_connect(QiocEndpoint *ep, QiocOpenDone *done, gpointer data)
{
    qioc_tcp_connect(ep, ((QiocTlsState *)ep->state)->target, done, data);
}

static gboolean check_tls_listen(const QiocAddress *addr, GError **errp)
{
    if (!qioc_address_check_listen_port(addr, errp)) {
        return FALSE;
    }
    if (!addr->o.cert) {
        qioc_address_fail(addr, errp, "%s needs cert=FILE", addr->type->name);
        return FALSE;
    }
    return TRUE;
}

static const QiocAddrType tls_connect_types[] = {
    {"TLS", QIOC_NAMES("TLS-CONNECT", "OPENSSL", "SSL", "OPENSSL-CONNECT"),
     QIOC_ADDR_TLS_CONNECT, AF_UNSPEC, 2, 2,
     QIOC_T_TCONN | QIOC_OPTGRP_TLS | QIOC_OPTGRP_TLSCONNECT, "HOST:PORT",
     "TLS client over TCP"},
};

static const QiocAddrType tls_listen_types[] = {
    {"TLS-LISTEN", QIOC_NAMES("TLS-L", "OPENSSL-LISTEN", "SSL-L"),
     QIOC_ADDR_TLS_LISTEN, AF_UNSPEC, 1, 1, QIOC_T_TLISTEN | QIOC_OPTGRP_TLS,
     "PORT", "TLS server over TCP (needs cert=)"},
};

const QiocAddrDesc qioc_addr_tls_connect = {.kind = QIOC_ADDR_TLS_CONNECT,
                                            QIOC_ADDR_TYPES(tls_connect_types),
                                            .check =
                                                qioc_address_check_connect_port,
                                            .prepare = tls_prepare,
                                            .free_state = tls_state_free,
                                            .connect = tls_connect,
                                            .wrap = tls_wrap};

const QiocAddrDesc qioc_addr_tls_listen = {.kind = QIOC_ADDR_TLS_LISTEN,
                                           QIOC_ADDR_TYPES(tls_listen_types),
                                           .check = check_tls_listen,
                                           .prepare = tls_prepare,
                                           .free_state = tls_state_free,
                                           .listen = qioc_tcp_listen,
                                           .accepted = qioc_tcp_set_opts,
                                           .wrap = tls_wrap};
