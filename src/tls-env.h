/*
 * qioc - what an EXEC or SYSTEM child is told about a TLS peer's
 * certificate, in socat's variables
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_TLS_ENV_H
#define QIOC_TLS_ENV_H

#include <qio/qio.h>

/*
 * Add to @env ("NAME=value" strings) socat's variables for the
 * certificate the peer of @tioc presented, as socat's OPENSSL addresses
 * set them: SOCAT_OPENSSL_PROTO_VERSION ("TLSv1.3"),
 * SOCAT_OPENSSL_CIPHER (the suite), SOCAT_OPENSSL_X509_SUBJECT and
 * SOCAT_OPENSSL_X509_ISSUER (OpenSSL's one-line form, "C = XY, CN = host, O =
 * org"), one SOCAT_OPENSSL_X509_<FIELD> per subject field (COMMONNAME,
 * ORGANIZATIONNAME, ...; repeated fields joined with " // "), and
 * SOCAT_OPENSSL_X509V3_SUBJECTALTNAME_DNS and _IPADD. Nothing when the
 * peer sent no X.509 certificate. Like socat's, they describe what the
 * peer presented: with verify=0 nobody checked it.
 */
void qioc_tls_peer_env(QIOChannelTLS *tioc, GPtrArray *env);

#endif /* QIOC_TLS_ENV_H */
