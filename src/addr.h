/*
 * qioc - opening parsed addresses as channels
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each address family lives in its own src/addr-*.c and contributes open
 * functions; addr.c maps address kinds to them with a table.
 */
#ifndef QIOC_ADDR_H
#define QIOC_ADDR_H

#include <qio/qio.h>

#include "address.h"
#include "qioc.h"

/* Which directions an address is used for, or can serve. */
typedef enum {
    QIOC_ACCESS_READ = 1,
    QIOC_ACCESS_WRITE = 2,
    QIOC_ACCESS_RDWR = 3,
} QiocAccess;

/*
 * Open @addr. *@access says on entry which directions qioc needs (from
 * -u/-U) and on return which ones the channel serves (CREATE only
 * writes, STDIN only reads, ...). Errors name the operation and the
 * object ("connect to 127.0.0.1:9: Connection refused"); the caller adds
 * which address it was.
 */
typedef QIOChannel *QiocOpenFunc(const QiocAddress *addr, QiocAccess *access,
                                 const QiocOptions *opts, GError **errp);

QIOChannel *qioc_addr_open(const QiocAddress *addr, QiocAccess *access,
                           const QiocOptions *opts, GError **errp);

/* The openers, one group per src/addr-*.c. */
QiocOpenFunc qioc_open_stdio;
QiocOpenFunc qioc_open_fd;
QiocOpenFunc qioc_open_file;
QiocOpenFunc qioc_open_gopen;
QiocOpenFunc qioc_open_create;
QiocOpenFunc qioc_open_pipe;
QiocOpenFunc qioc_open_unix_connect;
QiocOpenFunc qioc_open_unix_listen;
QiocOpenFunc qioc_open_tcp_connect;
QiocOpenFunc qioc_open_tcp_listen;
QiocOpenFunc qioc_open_exec;
QiocOpenFunc qioc_open_system;
QiocOpenFunc qioc_open_tls_connect;
QiocOpenFunc qioc_open_tls_listen;

/* ---- helpers shared by the openers (addr.c) */

/* The address family: TCP4/TCP6 types, then pf=, then -4/-6. */
int qioc_addr_family(const QiocAddress *addr, const QiocOptions *opts);

/* A connect attempt for qioc_addr_connect_retry(). */
typedef QIOChannel *QiocConnectFunc(const QiocAddress *addr,
                                    const QiocOptions *opts, GError **errp);

/* Call @connect, retrying retry= times, interval= seconds apart. */
QIOChannel *qioc_addr_connect_retry(const QiocAddress *addr,
                                    const QiocOptions *opts,
                                    QiocConnectFunc *connect, GError **errp);

/*
 * Wait for one client on @listener (accept-timeout= applies), check it
 * against range=, and close the listener: without fork a listener serves
 * one client.
 */
QIOChannel *qioc_addr_accept_one(const QiocAddress *addr,
                                 QIOChannelSocket *listener, GError **errp);

/* Apply mode=/perm=, user= and group= to a file qioc created. */
gboolean qioc_addr_set_file_attrs(const QiocAddress *addr, const char *path,
                                  GError **errp);

/* Apply nodelay and keepalive to a connected TCP socket. */
void qioc_addr_set_tcp_opts(const QiocAddress *addr, QIOChannelSocket *sioc);

/* Set errp from errno: "WHAT: strerror". */
void qioc_addr_error_errno(GError **errp, int err, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

#endif /* QIOC_ADDR_H */
