/*
 * qioc - what an EXEC or SYSTEM child is told about a TLS peer's
 * certificate, in socat's variables
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * socat's scripts read SOCAT_OPENSSL_X509_*, which socat fills from
 * OpenSSL's view of the certificate: the names printed as
 * X509_NAME_print_ex(XN_FLAG_ONELINE) prints them, the fields under
 * OpenSSL's long names. GnuTLS gives the names' parts; the spelling is
 * made here.
 */
#include "config.h"

#include <gnutls/x509.h>
#include <string.h>

#include "tls-env.h"

/* OpenSSL's short and long names of the attributes a name holds. */
static const struct {
    const char *oid;
    const char *sn;
    const char *ln;
} dn_attrs[] = {
    {"2.5.4.3", "CN", "commonName"},
    {"2.5.4.6", "C", "countryName"},
    {"2.5.4.7", "L", "localityName"},
    {"2.5.4.8", "ST", "stateOrProvinceName"},
    {"2.5.4.9", "street", "streetAddress"},
    {"2.5.4.10", "O", "organizationName"},
    {"2.5.4.11", "OU", "organizationalUnitName"},
    {"2.5.4.5", "serialNumber", "serialNumber"},
    {"2.5.4.12", "title", "title"},
    {"2.5.4.4", "SN", "surname"},
    {"2.5.4.42", "GN", "givenName"},
    {"2.5.4.17", "postalCode", "postalCode"},
    {"1.2.840.113549.1.9.1", "emailAddress", "emailAddress"},
    {"0.9.2342.19200300.100.1.25", "DC", "domainComponent"},
    {"0.9.2342.19200300.100.1.1", "UID", "userId"},
};

/* An AVA's OID as text (GnuTLS may count its terminating NUL). */
static gsize oid_len(const gnutls_datum_t *oid)
{
    return strnlen((const char *)oid->data, oid->size);
}

static int dn_attr_find(const gnutls_datum_t *oid)
{
    gsize len = oid_len(oid);

    for (guint i = 0; i < G_N_ELEMENTS(dn_attrs); i++) {
        if (strlen(dn_attrs[i].oid) == len &&
            memcmp(dn_attrs[i].oid, oid->data, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* RFC 2253's specials: OpenSSL's one-line form quotes such a value. */
static gboolean needs_quotes(const char *v, gsize len)
{
    return len > 0 && (v[0] == ' ' || v[0] == '#' || v[len - 1] == ' ' ||
                       strpbrk(v, ",+\"\\<>;") != NULL);
}

static void append_value(GString *out, const gnutls_datum_t *value)
{
    g_autofree char *v = g_strndup((const char *)value->data, value->size);

    if (!needs_quotes(v, strlen(v))) {
        g_string_append(out, v);
        return;
    }
    g_string_append_c(out, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            g_string_append_c(out, '\\');
        }
        g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
}

/* The long name's variable, its values joined with " // " as socat does. */
static void add_field(GHashTable *fields, GPtrArray *order, const char *ln,
                      const gnutls_datum_t *value)
{
    g_autofree char *name = g_ascii_strup(ln, -1);
    g_autofree char *v = g_strndup((const char *)value->data, value->size);
    GString *acc = g_hash_table_lookup(fields, name);

    if (acc) {
        g_string_append_printf(acc, " // %s", v);
        return;
    }
    g_ptr_array_add(order, g_strdup(name));
    g_hash_table_insert(fields, g_steal_pointer(&name), g_string_new(v));
}

/*
 * @dn in OpenSSL's one-line form, "C = XY, CN = host" (attributes of one
 * RDN joined with " + "); its fields into @fields when not NULL.
 */
static char *dn_oneline(gnutls_x509_dn_t dn, GHashTable *fields,
                        GPtrArray *order)
{
    GString *out = g_string_new(NULL);
    gnutls_x509_ava_st ava;

    for (int r = 0;; r++) {
        int a = 0;

        for (; gnutls_x509_dn_get_rdn_ava(dn, r, a, &ava) == 0; a++) {
            int k = dn_attr_find(&ava.oid);

            g_string_append(out, a ? " + " : out->len ? ", " : "");
            if (k >= 0) {
                g_string_append(out, dn_attrs[k].sn);
            } else {
                g_string_append_len(out, (const char *)ava.oid.data,
                                    (gssize)oid_len(&ava.oid));
            }
            g_string_append(out, " = ");
            append_value(out, &ava.value);
            if (fields && k >= 0) {
                add_field(fields, order, dn_attrs[k].ln, &ava.value);
            }
        }
        if (a == 0) {
            break;
        }
    }
    return g_string_free(out, FALSE);
}

static void add_var(GPtrArray *env, const char *name, const char *value)
{
    g_ptr_array_add(env, g_strdup_printf("SOCAT_OPENSSL_%s=%s", name, value));
}

static void string_free(gpointer s)
{
    g_string_free(s, TRUE);
}

static void env_names(gnutls_x509_crt_t crt, GPtrArray *env)
{
    g_autoptr(GHashTable) fields =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, string_free);
    g_autoptr(GPtrArray) order = g_ptr_array_new_with_free_func(g_free);
    gnutls_x509_dn_t dn;

    if (gnutls_x509_crt_get_subject(crt, &dn) == 0) {
        g_autofree char *s = dn_oneline(dn, fields, order);

        add_var(env, "X509_SUBJECT", s);
    }
    if (gnutls_x509_crt_get_issuer(crt, &dn) == 0) {
        g_autofree char *s = dn_oneline(dn, NULL, NULL);

        add_var(env, "X509_ISSUER", s);
    }
    for (guint i = 0; i < order->len; i++) {
        g_autofree char *var =
            g_strdup_printf("X509_%s", (char *)order->pdata[i]);
        GString *v = g_hash_table_lookup(fields, order->pdata[i]);

        add_var(env, var, v->str);
    }
}

/* One subjectAltName entry as text: a DNS name, or an IP address. */
static char *san_text(int type, const char *data, size_t size)
{
    if (type == GNUTLS_SAN_DNSNAME) {
        return g_strndup(data, size);
    }
    if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16)) {
        g_autoptr(GInetAddress) ia = g_inet_address_new_from_bytes(
            (const guint8 *)data,
            size == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);

        return g_inet_address_to_string(ia);
    }
    return NULL;
}

static void env_alt_names(gnutls_x509_crt_t crt, GPtrArray *env)
{
    g_autoptr(GString) dns = g_string_new(NULL);
    g_autoptr(GString) ips = g_string_new(NULL);

    for (unsigned i = 0;; i++) {
        char buf[256];
        size_t size = sizeof(buf);
        int type =
            gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, NULL);
        g_autofree char *text = NULL;
        GString *to;

        if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            break;
        }
        text = type < 0 ? NULL : san_text(type, buf, size);
        to = type == GNUTLS_SAN_DNSNAME ? dns : ips;
        if (text) {
            g_string_append_printf(to, "%s%s", to->len ? " // " : "", text);
        }
    }
    if (dns->len) {
        add_var(env, "X509V3_SUBJECTALTNAME_DNS", dns->str);
    }
    if (ips->len) {
        add_var(env, "X509V3_SUBJECTALTNAME_IPADD", ips->str);
    }
}

/*
 * The protocol as OpenSSL names it ("TLSv1.3") and the cipher suite
 * (TLS 1.3's names are the same in both; TLS 1.2's are GnuTLS's).
 */
static void env_session(gnutls_session_t session, GPtrArray *env)
{
    const char *proto =
        gnutls_protocol_get_name(gnutls_protocol_get_version(session));
    const char *suite = gnutls_ciphersuite_get(session);

    if (proto && g_str_has_prefix(proto, "TLS1.")) {
        g_autofree char *v = g_strdup_printf(
            "TLSv%s", strcmp(proto, "TLS1.0") == 0 ? "1" : proto + 3);

        add_var(env, "PROTO_VERSION", v);
    }
    if (suite) {
        add_var(env, "CIPHER", suite);
    }
}

void qioc_tls_peer_env(QIOChannelTLS *tioc, GPtrArray *env)
{
    gnutls_session_t session = qio_channel_tls_get_session(tioc);
    const gnutls_datum_t *certs;
    unsigned int n = 0;
    gnutls_x509_crt_t crt;

    if (!session) {
        return;
    }
    env_session(session, env);
    if (gnutls_certificate_type_get(session) != GNUTLS_CRT_X509) {
        return;
    }
    certs = gnutls_certificate_get_peers(session, &n);
    if (!certs || n == 0 || gnutls_x509_crt_init(&crt) < 0) {
        return;
    }
    if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0) {
        env_names(crt, env);
        env_alt_names(crt, env);
    }
    gnutls_x509_crt_deinit(crt);
}
