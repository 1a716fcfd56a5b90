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
                                 QIOChannel *peer, const QiocOptions *opts, GError **errp);

/*
 * Listener types: open the listening socket(s). Clients are accepted by
 * the caller (src/serve.c), which checks them with qioc_addr_client_ok().
 */
typedef QIONetListener *QiocListenFunc(const QiocAddress *addr,
                                       const QiocOptions *opts,
                                       GError **errp);

/* Completion of an asynchronous open: @ioc (transfer full) or @err. */
typedef void QiocOpenDone(QIOChannel *ioc, GError *err, gpointer data);

/*
 * Connecting types: start connecting without blocking the main loop; one
 * attempt (retry= is the caller's business: qioc_addr_connect_async).
 */
typedef void QiocConnectFunc(const QiocAddress *addr, const QiocOptions *opts,
                             QiocOpenDone *done, gpointer data);

/*
 * Layers put on top of the transport once it is connected or accepted
 * (TLS): take @ioc (transfer full), finish with @done.
 */
typedef void QiocWrapFunc(const QiocAddress *addr, const QiocOptions *opts,
                          QIOChannel *ioc, QiocOpenDone *done,
                          gpointer data);

/*
 * Work done once, before anything is opened (loading TLS credentials), so
 * that a bad setting is reported at start-up rather than per connection.
 */
typedef gboolean QiocPrepareFunc(const QiocAddress *addr,
                                 const QiocOptions *opts, GError **errp);

/* What an address type can do; one table entry per kind in addr.c. */
typedef struct QiocAddrOps {
    QiocAddrKind kind;
    QiocPrepareFunc *prepare;     /* once at start-up, or NULL */
    QiocOpenFunc *open;           /* everything that opens at once */
    QiocListenFunc *listen;       /* listeners */
    QiocConnectFunc *connect;     /* connecting sockets */
    QiocWrapFunc *wrap;           /* on top of listen or connect, or NULL */
} QiocAddrOps;

const QiocAddrOps *qioc_addr_ops(const QiocAddress *addr);

/* Which directions -u/-U need from address @i (0 or 1). */
QiocAccess qioc_addr_access(const QiocOptions *opts, int i);

/* Run the type's prepare step, if it has one. */
gboolean qioc_addr_prepare(const QiocAddress *addr, const QiocOptions *opts,
                           GError **errp);

/* Is @addr a listener (serves clients rather than opening once)? */
gboolean qioc_addr_is_listener(const QiocAddress *addr);

/*
 * Open a type that has an `open` function. @peer is the other address's
 * channel when that one is already open (EXEC tells its child about it),
 * else NULL.
 */
QIOChannel *qioc_addr_open(const QiocAddress *addr, QiocAccess *access,
                           QIOChannel *peer, const QiocOptions *opts,
                           GError **errp);

/*
 * Open a type that has a `connect` function, retrying retry= times
 * interval= seconds apart, then apply its wrap. Never blocks.
 */
void qioc_addr_connect_async(const QiocAddress *addr,
                             const QiocOptions *opts, QiocOpenDone *done,
                             gpointer data);

/* Apply the address's wrap (if any) to an accepted client. */
void qioc_addr_wrap_async(const QiocAddress *addr, const QiocOptions *opts,
                          QIOChannel *ioc, QiocOpenDone *done, gpointer data);

/* Does range= allow @client? Refusals are logged. */
gboolean qioc_addr_client_ok(const QiocAddress *addr,
                             QIOChannelSocket *client);

/*
 * -dd: what @ioc, just opened for @addr, is: a socket's local and peer
 * addresses (a TLS channel's socket), a file channel's descriptors.
 * Commands say so themselves (-d). Nothing below level 2.
 */
void qioc_addr_log_channel(const QiocAddress *addr, QIOChannel *ioc);

/* -dd: the addresses @listener, opened for @addr, listens on. */
void qioc_addr_log_listener(const QiocAddress *addr,
                            QIONetListener *listener);

/* The openers, one group per src/addr-*.c. */
QiocOpenFunc qioc_open_stdio;
QiocOpenFunc qioc_open_fd;
QiocOpenFunc qioc_open_file;
QiocOpenFunc qioc_open_create;
QiocOpenFunc qioc_open_pipe;
QiocOpenFunc qioc_open_exec;
QiocOpenFunc qioc_open_system;
QiocListenFunc qioc_listen_unix;
QiocListenFunc qioc_listen_tcp;
QiocListenFunc qioc_listen_fd;
QiocListenFunc qioc_listen_systemd;
QiocConnectFunc qioc_connect_fifo;
QiocConnectFunc qioc_connect_unix;
QiocConnectFunc qioc_connect_tcp;
QiocPrepareFunc qioc_prepare_tls;
QiocPrepareFunc qioc_prepare_tcp;
QiocWrapFunc qioc_wrap_tls_client;
QiocWrapFunc qioc_wrap_tls_server;

/*
 * EXEC/SYSTEM (addr-exec.c): if @ioc is a command channel, close it now,
 * which reaps its child in bounded time, and log how the child ended (-d;
 * an abnormal end is an error line). Returns FALSE when the child ended
 * abnormally: a non-zero exit status, or a signal qioc did not send.
 * TRUE otherwise, and for any other kind of channel (left untouched).
 */
gboolean qioc_exec_reap(QIOChannel *ioc, const QiocAddress *addr);

/* EXEC/SYSTEM with nofork: the child runs on @peer's own descriptors and
 * qioc relays nothing; the caller watches @pid. */
gboolean qioc_exec_is_nofork(const QiocAddress *addr);
gboolean qioc_exec_spawn_nofork(const QiocAddress *addr, QIOChannel *peer,
                                GPid *pid, GError **errp);

/* Log how a nofork child ended; FALSE if abnormally (an error line). */
gboolean qioc_exec_report_exit(const QiocAddress *addr, GPid pid,
                               int status);

/* ---- helpers shared by the openers (addr.c) */

/* The address family: TCP4/TCP6 types, then pf=, then -4/-6. */
int qioc_addr_family(const QiocAddress *addr, const QiocOptions *opts);

/* Apply mode=/perm=, user= and group= to a file qioc created. */
gboolean qioc_addr_set_file_attrs(const QiocAddress *addr, const char *path,
                                  GError **errp);

/* Connect a socket asynchronously; the channel goes to @done. */
void qioc_addr_socket_connect(GSocketConnectable *sa,
                              const QIOChannelSocketOptions *sopts,
                              QiocOpenDone *done, gpointer data);

/* Apply nodelay and keepalive to a connected TCP socket. */
void qioc_addr_set_tcp_opts(const QiocAddress *addr, QIOChannelSocket *sioc);

/* Set errp from errno: "WHAT: strerror". */
void qioc_addr_error_errno(GError **errp, int err, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

#endif /* QIOC_ADDR_H */
