/*
 * qioc - TLS and TLS-LISTEN: a TLS session on top of a TCP connection,
 * and the TLS and TLS-SERVER layers: the same over anything in a chain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The TCP part is addr-tcp.c's (connect, listen, the IP options); what
 * is here wraps the connected or accepted socket: credentials from cert=,
 * key=, cafile=, capath=, verify=, alpn= and a priority string made of
 * priority=, cipher=, min-version= and max-version=, then a handshake
 * that runs in the main loop like every other step of opening an address.
 */
#include "config.h"

#include <string.h>

#include "addr-tcp.h"
#include "context.h"
#include "log.h"

typedef struct {
    const QiocEndpoint *ep;
    QIOChannelTLS *tioc;
    QiocOpenDone *done;
    gpointer data;
    guint conn;    /* the connection its lines are about (with `fork`) */
    guint timer;   /* handshake-timeout= */
    gboolean late; /* the timer cut the handshake */
} QiocTlsCall;

/* What a TLS address works out once: credentials, and a TCP target. */
typedef struct {
    QIOTLSCreds *creds;
    QiocTcpTarget *target; /* TLS-CONNECT */
    char *name;            /* a client's: the name to verify, or NULL */
} QiocTlsState;

static void tls_state_free(gpointer data)
{
    QiocTlsState *st = data;

    g_clear_object(&st->creds);
    g_clear_pointer(&st->target, qioc_tcp_target_free);
    g_free(st->name);
    g_free(st);
}

static QIOTLSCredsEndpoint endpoint_of(const QiocEndpoint *ep)
{
    return ep->desc->kind == QIOC_ADDR_TLS_LISTEN
               ? QIO_TLS_CREDS_ENDPOINT_SERVER
               : QIO_TLS_CREDS_ENDPOINT_CLIENT;
}

/* ---------------------------------------------------------------- cipher= */

/*
 * cipher= takes OpenSSL's cipher list; GnuTLS has one priority string
 * for every version, so each word becomes GnuTLS priority items. A
 * suite name is a key exchange prefix and a bulk part; the other words
 * are OpenSSL's keywords. Items are by class, so that a list naming
 * only ciphers leaves the key exchanges and MACs of priority= alone.
 */
typedef enum { CLASS_CIPHER, CLASS_MAC, CLASS_KX, CLASS__COUNT } CipherClass;

typedef struct {
    const char *name;
    const char *items[CLASS__COUNT]; /* "A:B", "" for none, NULL: any */
} CipherWord;

/* What -CLASS-ALL clears, when a list narrows that class. */
static const char *const class_all[CLASS__COUNT] = {"CIPHER-ALL", "MAC-ALL",
                                                    "KX-ALL"};

#define AES_ALL                                                                \
    "AES-128-GCM:AES-256-GCM:AES-128-CCM:AES-256-CCM:AES-128-CBC:AES-256-CBC"
#define CAMELLIA_ALL                                                           \
    "CAMELLIA-128-GCM:CAMELLIA-256-GCM:CAMELLIA-128-CBC:CAMELLIA-256-CBC"

/* The bulk part of a suite name: "AES128-GCM-SHA256" of "ECDHE-RSA-..." */
static const CipherWord cipher_bulks[] = {
    {"AES128-GCM-SHA256", {"AES-128-GCM", "AEAD"}},
    {"AES256-GCM-SHA384", {"AES-256-GCM", "AEAD"}},
    {"CHACHA20-POLY1305", {"CHACHA20-POLY1305", "AEAD"}},
    {"AES128-CCM", {"AES-128-CCM", "AEAD"}},
    {"AES256-CCM", {"AES-256-CCM", "AEAD"}},
    {"AES128-SHA", {"AES-128-CBC", "SHA1"}},
    {"AES256-SHA", {"AES-256-CBC", "SHA1"}},
    {"AES128-SHA256", {"AES-128-CBC", "SHA256"}},
    {"AES256-SHA384", {"AES-256-CBC", "SHA384"}},
};

/* The key exchange prefix of a suite name; "" is RSA key transport. */
static const struct {
    const char *prefix;
    const char *kx;
} cipher_kx_prefixes[] = {
    {"ECDHE-ECDSA-", "ECDHE-ECDSA"},
    {"ECDHE-RSA-", "ECDHE-RSA"},
    {"DHE-RSA-", "DHE-RSA"},
    {"", "RSA"},
};

/* Keywords, and TLS 1.3 suite names. NULL items in every class: all. */
static const CipherWord cipher_keywords[] = {
    {"HIGH", {NULL}},
    {"ALL", {NULL}},
    {"DEFAULT", {NULL}},
    {"TLS_AES_128_GCM_SHA256", {"AES-128-GCM", "AEAD", NULL}},
    {"TLS_AES_256_GCM_SHA384", {"AES-256-GCM", "AEAD", NULL}},
    {"TLS_CHACHA20_POLY1305_SHA256", {"CHACHA20-POLY1305", "AEAD", NULL}},
    {"TLS_AES_128_CCM_SHA256", {"AES-128-CCM", "AEAD", NULL}},
    {"AES", {AES_ALL, NULL, NULL}},
    {"AESGCM", {"AES-128-GCM:AES-256-GCM", "AEAD", NULL}},
    {"AESCCM", {"AES-128-CCM:AES-256-CCM", "AEAD", NULL}},
    {"AES128", {"AES-128-GCM:AES-128-CCM:AES-128-CBC", NULL, NULL}},
    {"AES256", {"AES-256-GCM:AES-256-CCM:AES-256-CBC", NULL, NULL}},
    {"CHACHA20", {"CHACHA20-POLY1305", "AEAD", NULL}},
    {"CAMELLIA", {CAMELLIA_ALL, NULL, NULL}},
    {"3DES", {"3DES-CBC", NULL, NULL}},
    {"RC4", {"ARCFOUR-128", NULL, NULL}},
    {"eNULL", {"NULL", NULL, NULL}},
    {"NULL", {"NULL", NULL, NULL}},
    {"SHA1", {NULL, "SHA1", NULL}},
    {"SHA", {NULL, "SHA1", NULL}},
    {"SHA256", {NULL, "SHA256", NULL}},
    {"SHA384", {NULL, "SHA384", NULL}},
    {"MD5", {NULL, "MD5", NULL}},
    {"ECDHE", {NULL, NULL, "ECDHE-RSA:ECDHE-ECDSA"}},
    {"EECDH", {NULL, NULL, "ECDHE-RSA:ECDHE-ECDSA"}},
    {"kECDHE", {NULL, NULL, "ECDHE-RSA:ECDHE-ECDSA"}},
    {"DHE", {NULL, NULL, "DHE-RSA:DHE-DSS"}},
    {"EDH", {NULL, NULL, "DHE-RSA:DHE-DSS"}},
    {"kDHE", {NULL, NULL, "DHE-RSA:DHE-DSS"}},
    {"kRSA", {NULL, NULL, "RSA"}},
    {"aRSA", {NULL, NULL, "ECDHE-RSA:DHE-RSA:RSA"}},
    {"aECDSA", {NULL, NULL, "ECDHE-ECDSA"}},
    {"ECDSA", {NULL, NULL, "ECDHE-ECDSA"}},
    {"aNULL", {NULL, NULL, "ANON-ECDH:ANON-DH"}},
    {"ADH", {NULL, NULL, "ANON-DH"}},
    {"AECDH", {NULL, NULL, "ANON-ECDH"}},
    {"PSK", {NULL, NULL, "PSK:DHE-PSK:ECDHE-PSK:RSA-PSK"}},
    {"SRP", {NULL, NULL, "SRP:SRP-RSA:SRP-DSS"}},
    /* none of these is in GnuTLS: nothing to remove, nothing to add */
    {"EXPORT", {""}},
    {"EXP", {""}},
    {"LOW", {""}},
    {"MEDIUM", {""}},
    {"DES", {""}},
    {"RC2", {""}},
    {"IDEA", {""}},
    {"SEED", {""}},
    {"DSS", {""}},
    {"aDSS", {""}},
    {"kDH", {""}},
    {"kECDH", {""}},
};

static gboolean cipher_word_names_nothing(const CipherWord *w)
{
    return w->items[CLASS_CIPHER] && !*w->items[CLASS_CIPHER] &&
           !w->items[CLASS_MAC] && !w->items[CLASS_KX];
}

static gboolean cipher_word_is_all(const CipherWord *w)
{
    return !w->items[CLASS_CIPHER] && !w->items[CLASS_MAC] &&
           !w->items[CLASS_KX];
}

/* A suite name, split into its table rows; @out is filled. */
static gboolean cipher_suite_lookup(const char *name, CipherWord *out)
{
    for (guint k = 0; k < G_N_ELEMENTS(cipher_kx_prefixes); k++) {
        const char *prefix = cipher_kx_prefixes[k].prefix;

        if (!g_str_has_prefix(name, prefix)) {
            continue;
        }
        for (guint b = 0; b < G_N_ELEMENTS(cipher_bulks); b++) {
            if (strcmp(name + strlen(prefix), cipher_bulks[b].name) == 0) {
                *out = cipher_bulks[b];
                out->items[CLASS_KX] = cipher_kx_prefixes[k].kx;
                return TRUE;
            }
        }
    }
    return FALSE;
}

static gboolean cipher_word_lookup(const char *name, CipherWord *out)
{
    for (guint i = 0; i < G_N_ELEMENTS(cipher_keywords); i++) {
        if (strcmp(name, cipher_keywords[i].name) == 0) {
            *out = cipher_keywords[i];
            return TRUE;
        }
    }
    return cipher_suite_lookup(name, out);
}

/* What a cipher list adds up to, class by class. */
typedef struct {
    GString *items[CLASS__COUNT]; /* "+A:+B" of the words that add */
    gboolean narrows[CLASS__COUNT];
    gboolean all;      /* HIGH, ALL or DEFAULT: keep everything */
    gboolean aead;     /* an added cipher that TLS 1.3 can use */
    GString *removals; /* "-A:-B" */
} CipherPlan;

static void cipher_plan_clear(CipherPlan *plan)
{
    for (int c = 0; c < CLASS__COUNT; c++) {
        g_string_free(plan->items[c], TRUE);
    }
    g_string_free(plan->removals, TRUE);
}

/* Appends each of "A:B" to @out as SIGN A, SIGN B. */
static void append_items(GString *out, char sign, const char *items)
{
    g_auto(GStrv) names = g_strsplit(items, ":", -1);

    for (char **n = names; *n; n++) {
        g_string_append_printf(out, ":%c%s", sign, *n);
    }
}

/* A cipher TLS 1.3 can use among "A:B". */
static gboolean has_aead_cipher(const char *items)
{
    return strstr(items, "GCM") || strstr(items, "CCM") ||
           strstr(items, "POLY1305");
}

static void cipher_plan_add(CipherPlan *plan, const CipherWord *w)
{
    if (cipher_word_is_all(w)) {
        plan->all = TRUE;
        return;
    }
    for (int c = 0; c < CLASS__COUNT; c++) {
        if (w->items[c]) {
            append_items(plan->items[c], '+', w->items[c]);
        }
    }
    plan->aead = plan->aead || (w->items[CLASS_CIPHER] &&
                                has_aead_cipher(w->items[CLASS_CIPHER]));
}

static void cipher_plan_remove(CipherPlan *plan, const CipherWord *w)
{
    for (int c = 0; c < CLASS__COUNT; c++) {
        if (w->items[c] && *w->items[c]) {
            append_items(plan->removals, '-', w->items[c]);
        }
    }
}

/*
 * One word of the list: NAME, !NAME or -NAME. FALSE: it cannot be mapped.
 * OpenSSL's @SECLEVEL=N and @STRENGTH only tune OpenSSL (socat's users
 * add @SECLEVEL=0 for aNULL): GnuTLS has nothing of the kind to set.
 */
static gboolean cipher_plan_word(CipherPlan *plan, const char *word)
{
    gboolean remove = *word == '!' || *word == '-';
    const char *name = remove ? word + 1 : word;
    CipherWord w;

    if (g_str_has_prefix(word, "@SECLEVEL=") ||
        g_str_equal(word, "@STRENGTH")) {
        return TRUE;
    }
    if (!cipher_word_lookup(name, &w) || (remove && cipher_word_is_all(&w)) ||
        (!remove && cipher_word_names_nothing(&w))) {
        return FALSE;
    }
    if (remove) {
        cipher_plan_remove(plan, &w);
    } else {
        cipher_plan_add(plan, &w);
    }
    return TRUE;
}

/*
 * A class is narrowed to the words' items when a word that adds names
 * some of that class, unless HIGH or the like keeps them all.
 */
static void cipher_plan_narrowing(CipherPlan *plan)
{
    for (int c = 0; c < CLASS__COUNT; c++) {
        plan->narrows[c] = !plan->all && plan->items[c]->len > 0;
    }
}

/* Whether the key exchanges ":+A:+B" are all anonymous ones. */
static gboolean anon_kx_only(const GString *items)
{
    g_auto(GStrv) kx = g_strsplit(items->str, ":+", -1);

    for (char **k = kx; *k; k++) {
        if (**k && !g_str_has_prefix(*k, "ANON-")) {
            return FALSE;
        }
    }
    return TRUE;
}

/*
 * The GnuTLS items of OpenSSL's cipher list @list (words separated by
 * ':', ' ' or ','), appended to @out; FALSE with the first word that
 * cannot be mapped in @bad.
 */
static gboolean cipher_items(const char *list, GString *out, char **bad)
{
    g_auto(GStrv) words = g_strsplit_set(list, ": ,", -1);
    CipherPlan plan = {.removals = g_string_new(NULL)};
    gboolean ok = TRUE;

    for (int c = 0; c < CLASS__COUNT; c++) {
        plan.items[c] = g_string_new(NULL);
    }
    for (char **w = words; *w && ok; w++) {
        if (**w != '\0' && !cipher_plan_word(&plan, *w)) {
            *bad = g_strdup(*w);
            ok = FALSE;
        }
    }
    if (ok) {
        cipher_plan_narrowing(&plan);
        for (int c = 0; c < CLASS__COUNT; c++) {
            if (plan.narrows[c]) {
                g_string_append_printf(out, ":-%s%s", class_all[c],
                                       plan.items[c]->str);
            }
        }
        g_string_append(out, plan.removals->str);
        /*
         * TLS 1.3 has AEAD suites only, and certificates: CBC alone, or
         * anonymous key exchange alone (aNULL), means TLS 1.2
         */
        if ((plan.narrows[CLASS_CIPHER] && !plan.aead) ||
            (plan.narrows[CLASS_KX] && anon_kx_only(plan.items[CLASS_KX]))) {
            g_string_append(out, ":-VERS-TLS1.3");
        }
    }
    cipher_plan_clear(&plan);
    return ok;
}

/* ---------------------------------------------------------------- versions */

/* QiocTlsVersion: the word of min-version=, and GnuTLS's item. */
static const struct {
    const char *name;
    const char *item;
} tls_versions[] = {
    [QIOC_TLS_1_0] = {"TLS1.0", "VERS-TLS1.0"},
    [QIOC_TLS_1_1] = {"TLS1.1", "VERS-TLS1.1"},
    [QIOC_TLS_1_2] = {"TLS1.2", "VERS-TLS1.2"},
    [QIOC_TLS_1_3] = {"TLS1.3", "VERS-TLS1.3"},
};

G_STATIC_ASSERT(G_N_ELEMENTS(tls_versions) == QIOC_TLS_1_3 + 1);

/* min-version= and max-version= remove the versions outside them. */
static void version_items_of(const QiocAddrOpts *o, GString *out)
{
    for (int v = 0; v < (int)G_N_ELEMENTS(tls_versions); v++) {
        if ((o->min_version >= 0 && v < o->min_version) ||
            (o->max_version >= 0 && v > o->max_version)) {
            g_string_append_printf(out, ":-%s", tls_versions[v].item);
        }
    }
}

/*
 * The priority string: priority= (NORMAL), then the items of cipher=,
 * then those of min-version= and max-version=. NULL when cipher= has a
 * word that cannot be mapped, named in @bad.
 */
static char *tls_priority(const QiocAddrOpts *o, char **bad)
{
    g_autoptr(GString) out = g_string_new(o->priority);

    if (o->cipher && !cipher_items(o->cipher, out, bad)) {
        return NULL;
    }
    version_items_of(o, out);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/*
 * Anonymous key exchange is asked for (cipher=aNULL, ADH, AECDH, or a
 * priority= that adds it): the credentials then allow it.
 */
static gboolean tls_anonymous(const char *priority)
{
    return strstr(priority, "+ANON-") != NULL;
}

/* An address whose TLS may be anonymous (a server then needs no cert=). */
static gboolean tls_addr_anonymous(const QiocAddress *addr)
{
    g_autofree char *bad = NULL;
    g_autofree char *priority = tls_priority(&addr->o, &bad);

    return priority && tls_anonymous(priority);
}

/* ---------------------------------------------------------------- checks */

static gboolean check_tls_versions(const QiocAddress *addr, GError **errp)
{
    const QiocAddrOpts *o = &addr->o;

    if (o->min_version >= 0 && o->max_version >= 0 &&
        o->min_version > o->max_version) {
        qioc_address_fail(addr, errp,
                          "min-version=%s is newer than max-version=%s",
                          tls_versions[o->min_version].name,
                          tls_versions[o->max_version].name);
        return FALSE;
    }
    return TRUE;
}

static gboolean check_tls_cipher(const QiocAddress *addr, GError **errp)
{
    g_autofree char *bad = NULL;
    g_autofree char *priority = tls_priority(&addr->o, &bad);

    if (priority == NULL) {
        qioc_address_fail(addr, errp,
                          "cipher= \"%s\" has no GnuTLS equivalent qioc "
                          "knows; use priority= instead",
                          bad);
        return FALSE;
    }
    return TRUE;
}

/* PROTO[:PROTO]..., each 1 to 255 bytes (RFC 7301). */
static gboolean alpn_list_ok(const char *text)
{
    g_auto(GStrv) protos = g_strsplit(text, ":", -1);

    if (protos[0] == NULL) {
        return FALSE;
    }
    for (char **p = protos; *p; p++) {
        if (**p == '\0' || strlen(*p) > 255) {
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean check_tls_alpn(const QiocAddress *addr, GError **errp)
{
    if (addr->o.alpn && !alpn_list_ok(addr->o.alpn)) {
        qioc_address_fail(addr, errp,
                          "bad value \"%s\" for alpn: expected protocol "
                          "names PROTO[:PROTO]... of 1 to 255 bytes",
                          addr->o.alpn);
        return FALSE;
    }
    return TRUE;
}

static gboolean check_tls_opts(const QiocAddress *addr, GError **errp)
{
    return check_tls_versions(addr, errp) && check_tls_cipher(addr, errp) &&
           check_tls_alpn(addr, errp);
}

/* ---------------------------------------------------------------- creds */

static QIOTLSCreds *tls_creds_new(const QiocEndpoint *ep, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    const QiocAddrOpts *o = &addr->o;
    QIOTLSCredsOptions copts = QIO_TLS_CREDS_OPTIONS_INIT;
    g_autofree char *bad = NULL;
    g_autofree char *priority = tls_priority(o, &bad);
    g_auto(GStrv) alpn = o->alpn ? g_strsplit(o->alpn, ":", -1) : NULL;

    g_return_val_if_fail(priority != NULL, NULL); /* checked when parsed */
    qioc_log_address(2, addr->index, addr->text, "TLS priority string %s",
                     priority);
    copts.cert_file = o->cert;
    copts.key_file = o->key;
    copts.ca_file = o->cafile;
    copts.ca_dir = o->capath;
    copts.verify = o->verify;
    copts.priority = priority;
    copts.alpn = (const char *const *)alpn;
    copts.anonymous = tls_anonymous(priority);
    return qio_tls_creds_new(endpoint_of(ep), &copts, errp);
}

/*
 * The name a client checks the certificate against: commonname=, else
 * HOST (a layer's NAME), else, for a layer, the host the layers and the
 * transport below it reach (TLS|SOCKS5:HOST:PORT|..., TLS|TCP:HOST:PORT).
 */
static gboolean tls_client_name(QiocEndpoint *ep, QiocTlsState *st,
                                GError **errp)
{
    const QiocAddress *addr = ep->addr;
    const char *name = addr->o.commonname;

    if (!name && addr->nparams > 0) {
        name = addr->params[0];
    }
    if (!name && ep->below) {
        name = qioc_endpoint_host(ep->below);
    }
    if (!name && addr->o.verify) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "TLS over %s: no host name to verify the certificate "
                    "against; write TLS:NAME, or commonname=NAME",
                    ep->below ? ep->below->addr->type->name : "this address");
        return FALSE;
    }
    st->name = g_strdup(name);
    return TRUE;
}

/* Credentials are loaded once, so a bad file fails at start-up. */
static gboolean tls_prepare(QiocEndpoint *ep, GError **errp)
{
    QiocTlsState *st = g_new0(QiocTlsState, 1);
    gboolean client = endpoint_of(ep) == QIO_TLS_CREDS_ENDPOINT_CLIENT;

    ep->state = st;
    if (client && !ep->addr->type->layer &&
        !(st->target = qioc_tcp_target_new(ep, errp))) {
        return FALSE;
    }
    if (client && !tls_client_name(ep, st, errp)) {
        return FALSE;
    }
    if (client && !ep->addr->o.verify) {
        /* once, at start-up, whatever -d says: it is a hole, not a detail */
        qioc_log_address(QIOC_LOG_WARNING, ep->addr->index, ep->addr->text,
                         tls_addr_anonymous(ep->addr)
                             ? "anonymous TLS: the server shows no "
                               "certificate, so anyone on the path can pose "
                               "as it; the data is only safe from those who "
                               "merely listen"
                             : "verify=0: the server's certificate is not "
                               "checked, so anyone on the path can pose as "
                               "it (cafile= trusts a private CA instead)");
    }
    st->creds = tls_creds_new(ep, errp);
    return st->creds != NULL;
}

/* What a TLS client reaches, for a TLS layer over it. */
static const char *tls_host(const QiocEndpoint *ep)
{
    return ((QiocTlsState *)ep->state)->name;
}

static const char *or_unknown(const char *name)
{
    return name ? name : "unknown";
}

static const char *or_none(const char *name)
{
    return name ? name : "none agreed";
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
    const char *alpn = qio_channel_tls_get_alpn_protocol(tioc);
    char *desc;

    if (qioc_log_get_level() < 1) {
        return;
    }
    desc = gnutls_session_get_desc(session);
    qioc_log_address(1, addr->index, addr->text, "TLS session %s, peer %s%s%s",
                     desc ? desc : "?", dn ? dn : "not verified",
                     addr->o.alpn ? ", ALPN " : "",
                     addr->o.alpn ? or_none(alpn) : "");
    gnutls_free(desc);
    tls_log_params(addr, session);
}

static void tls_handshake_end(QIOTask *task, QiocTlsCall *call)
{
    QIOChannel *ioc = QIO_CHANNEL(g_steal_pointer(&call->tioc));
    GError *err = NULL;

    g_clear_handle_id(&call->timer, qioc_source_remove);
    if (qio_task_propagate_error(task, &err) && call->late) {
        g_clear_error(&err);
        err = g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                          "TLS handshake: not done within %g s "
                          "(handshake-timeout)",
                          call->ep->addr->o.handshake_timeout);
    }
    if (err) {
        qio_channel_close(ioc, NULL);
        g_object_unref(ioc);
        call->done(NULL, err, call->data);
        return;
    }
    tls_log_session(call->ep->addr, QIO_CHANNEL_TLS(ioc));
    call->done(ioc, NULL, call->data);
}

static void tls_handshake_done(QIOTask *task, gpointer opaque)
{
    QiocTlsCall *call = opaque;
    guint prev = qioc_log_conn_enter(call->conn);

    tls_handshake_end(task, call);
    qioc_log_conn_leave(prev);
}

/*
 * handshake-timeout=: a peer that does not finish its part in time is cut
 * off (its socket shut down), so that the handshake fails at once and
 * frees what it holds: a silent client must not keep a descriptor of a
 * `fork` listener for ever.
 */
static gboolean tls_handshake_late(gpointer data)
{
    QiocTlsCall *call = data;

    call->timer = 0;
    call->late = TRUE;
    qio_channel_shutdown(qio_channel_tls_get_master(call->tioc),
                         QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    return G_SOURCE_REMOVE;
}

static void tls_call_free(gpointer data)
{
    QiocTlsCall *call = data;

    g_clear_handle_id(&call->timer, qioc_source_remove);
    g_clear_object(&call->tioc);
    g_free(call);
}

/*
 * The certificate is checked against commonname=, else HOST; SNI sends
 * snihost=, else that name (not an IP address), or nothing with no-sni.
 */
static QIOChannelTLS *tls_new_client(const QiocAddress *addr,
                                     QIOChannel *master, QIOTLSCreds *creds,
                                     const char *name, GError **errp)
{
    const QiocAddrOpts *o = &addr->o;
    const char *sni = o->snihost;
    QIOChannelTLS *tioc = qio_channel_tls_new_client(master, creds, name, errp);

    if (tioc && (o->no_sni || (sni && g_hostname_is_ip_address(sni)))) {
        qio_channel_tls_set_server_name(tioc, NULL);
    } else if (tioc && sni) {
        qio_channel_tls_set_server_name(tioc, sni);
    }
    return tioc;
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
        tioc = tls_new_client(addr, master, creds,
                              ((QiocTlsState *)ep->state)->name, &err);
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
    *call = (QiocTlsCall){ep, g_object_ref(tioc), done, data, qioc_log_conn()};
    if (addr->o.handshake_timeout > 0) {
        call->timer =
            qioc_timeout_add((guint)(addr->o.handshake_timeout * 1000),
                             tls_handshake_late, call);
    }
    qio_channel_tls_handshake(tioc, tls_handshake_done, call, tls_call_free,
                              NULL);
    g_object_unref(tioc);
}

static void tls_connect(QiocEndpoint *ep, QIOChannel *peer, QiocOpenDone *done,
                        gpointer data)
{
    qioc_tcp_connect(ep, ((QiocTlsState *)ep->state)->target, done, data);
}

static gboolean check_tls_connect(const QiocAddress *addr, GError **errp)
{
    if (!(addr->type->layer || qioc_address_check_connect_port(addr, errp)) ||
        !check_tls_opts(addr, errp)) {
        return FALSE;
    }
    if (tls_addr_anonymous(addr) && addr->o.verify) {
        qioc_address_fail(addr, errp,
                          "anonymous TLS (cipher=%s) cannot verify the "
                          "server, which shows no certificate: add verify=0",
                          addr->o.cipher ? addr->o.cipher : "aNULL");
        return FALSE;
    }
    return TRUE;
}

static gboolean check_tls_listen(const QiocAddress *addr, GError **errp)
{
    if (!addr->type->layer && !qioc_address_check_listen_port(addr, errp)) {
        return FALSE;
    }
    if (!check_tls_opts(addr, errp)) {
        return FALSE;
    }
    if (tls_addr_anonymous(addr) && (addr->o.cafile || addr->o.capath)) {
        qioc_address_fail(addr, errp,
                          "anonymous TLS cannot ask clients for "
                          "certificates: drop cafile= and capath=");
        return FALSE;
    }
    if (!addr->o.cert && !tls_addr_anonymous(addr)) {
        qioc_address_fail(addr, errp,
                          "%s needs cert=FILE (or cipher=aNULL for "
                          "anonymous TLS)",
                          addr->type->name);
        return FALSE;
    }
    return TRUE;
}

static const QiocAddrType tls_connect_types[] = {
    {"TLS", QIOC_NAMES("TLS-CONNECT", "OPENSSL", "SSL", "OPENSSL-CONNECT"),
     QIOC_ADDR_TLS_CONNECT, AF_UNSPEC, 2, 2,
     QIOC_T_TCONN | QIOC_OPTGRP_TLS | QIOC_OPTGRP_TLSCONNECT, "HOST:PORT",
     "TLS client over TCP"},
    {"TLS", QIOC_NAMES("TLS-CLIENT", "TLS-CONNECT", "OPENSSL", "SSL"),
     QIOC_ADDR_TLS_CONNECT, AF_UNSPEC, 0, 1,
     QIOC_OPTGRP_TLS | QIOC_OPTGRP_TLSCONNECT, "[NAME]",
     "TLS client over the address to its right; NAME is verified (default: "
     "the host that address reaches)",
     TRUE},
};

static const QiocAddrType tls_listen_types[] = {
    {"TLS-LISTEN", QIOC_NAMES("TLS-L", "OPENSSL-LISTEN", "SSL-L"),
     QIOC_ADDR_TLS_LISTEN, AF_UNSPEC, 1, 1, QIOC_T_TLISTEN | QIOC_OPTGRP_TLS,
     "PORT", "TLS server over TCP (needs cert=)"},
    {"TLS-SERVER", QIOC_NAMES("TLS-LISTEN", "OPENSSL-SERVER", "OPENSSL-LISTEN"),
     QIOC_ADDR_TLS_LISTEN, AF_UNSPEC, 0, 0, QIOC_OPTGRP_TLS, "",
     "TLS server over the address to its right (needs cert=)", TRUE},
};

const QiocAddrDesc qioc_addr_tls_connect = {.kind = QIOC_ADDR_TLS_CONNECT,
                                            QIOC_ADDR_TYPES(tls_connect_types),
                                            .check = check_tls_connect,
                                            .prepare = tls_prepare,
                                            .free_state = tls_state_free,
                                            .connect = tls_connect,
                                            .wrap = tls_wrap,
                                            .host = tls_host};

const QiocAddrDesc qioc_addr_tls_listen = {.kind = QIOC_ADDR_TLS_LISTEN,
                                           QIOC_ADDR_TYPES(tls_listen_types),
                                           .check = check_tls_listen,
                                           .prepare = tls_prepare,
                                           .free_state = tls_state_free,
                                           .listen = qioc_tcp_listen,
                                           .accepted = qioc_tcp_set_opts,
                                           .wrap = tls_wrap};
