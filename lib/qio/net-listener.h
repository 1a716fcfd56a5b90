/*
 * libqio - several listening sockets serving one callback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_NET_LISTENER_H
#define QIO_NET_LISTENER_H

#include "qio/channel-socket.h"

G_BEGIN_DECLS

/**
 * QIONetListener:
 *
 * A QIONetListener owns one listening socket per resolved address (a
 * wildcard address is one dual-stack socket, serving IPv4 and IPv6) and
 * calls one function for every client accepted on any of them, in the
 * listener's GMainContext.
 *
 * Threads: a listener and the clients it accepts belong to the thread that
 * runs its context (as channels do, see #QIOChannel); call its functions
 * from there. Several threads may each accept on a listener of their own:
 * on sockets of their own bound with SO_REUSEPORT, or on duplicates of one
 * listening descriptor (qio_net_listener_add() of a socket made with
 * qio_channel_socket_new_fd() on a dup(2) of it), where each accept that
 * finds nothing left returns would-block and the listener simply waits
 * again.
 */
#define QIO_TYPE_NET_LISTENER (qio_net_listener_get_type())
G_DECLARE_FINAL_TYPE(QIONetListener, qio_net_listener, QIO, NET_LISTENER,
                     GObject)

/**
 * QIONetListenerClientFunc:
 * @listener: the listener
 * @sioc: (transfer none): the new client, in blocking mode; take a
 *   reference to keep it
 * @data: the user data
 *
 * Called in the listener's #GMainContext for every client accepted (see
 * qio_net_listener_set_client_func_full()).
 */
typedef void (*QIONetListenerClientFunc)(QIONetListener *listener,
                                         QIOChannelSocket *sioc, gpointer data);

/**
 * QIONetListenerErrorFunc:
 * @listener: the listener
 * @err: why accept(2) failed (EMFILE, ENFILE, ENOBUFS, ...)
 * @data: the user data
 *
 * Told about accept failures that are not the client's doing. The
 * listener stops accepting for a short pause (so a full descriptor table
 * is not a busy loop) and then resumes by itself.
 */
typedef void (*QIONetListenerErrorFunc)(QIONetListener *listener,
                                        const GError *err, gpointer data);

/**
 * QIO_NET_LISTENER_ERROR_PAUSE_MS:
 *
 * How long accepting pauses after an accept error.
 */
#define QIO_NET_LISTENER_ERROR_PAUSE_MS 100

/**
 * qio_net_listener_new:
 *
 * Creates a listener; give it sockets with qio_net_listener_open_sync()
 * or qio_net_listener_add(), then start accepting with
 * qio_net_listener_set_client_func().
 *
 * Returns: (transfer full): a listener with no sockets.
 */
QIONetListener *qio_net_listener_new(void);

/**
 * qio_net_listener_set_name:
 * @listener: the listener
 * @name: a name for diagnostics; given to its sockets and watches
 *
 * Names the listener and, with qio_channel_set_name(), each of its
 * sockets, for diagnostics.
 */
void qio_net_listener_set_name(QIONetListener *listener, const char *name);

/**
 * qio_net_listener_open_sync:
 * @listener: the listener
 * @addr: where to listen: a #GNetworkAddress (a host name may resolve to
 *   several addresses: one socket each; an empty host, "::" or "0.0.0.0"
 *   is the wildcard), an inet or a unix socket address
 * @opts: (nullable): socket settings (family filter, backlog, reuseaddr,
 *   v6only, unlink_early)
 * @errp: return location for an error
 *
 * Resolves @addr (this may block) and listens on every address. Port 0
 * picks a free port, the same one for every socket when possible.
 *
 * Returns: 0 on success, -1 if no socket could be opened.
 */
int qio_net_listener_open_sync(QIONetListener *listener,
                               GSocketConnectable *addr,
                               const QIOChannelSocketOptions *opts,
                               GError **errp);

/**
 * qio_net_listener_add:
 * @listener: the listener
 * @sioc: a listening socket (for example one inherited from systemd);
 *   the listener takes a reference
 *
 * Serves clients of @sioc too.
 */
void qio_net_listener_add(QIONetListener *listener, QIOChannelSocket *sioc);

/**
 * qio_net_listener_set_client_func_full:
 * @listener: the listener
 * @func: (nullable) (scope notified) (closure data) (destroy notify): called
 *   for every client; %NULL stops accepting
 * @data: passed to @func
 * @notify: (nullable): frees @data when replaced or on finalize
 * @context: (nullable): where to accept (%NULL: the global default)
 *
 * Starts (or stops) accepting clients.
 */
void qio_net_listener_set_client_func_full(QIONetListener *listener,
                                           QIONetListenerClientFunc func,
                                           gpointer data, GDestroyNotify notify,
                                           GMainContext *context);

/**
 * qio_net_listener_set_client_func:
 * @listener: the listener
 * @func: (nullable) (scope notified) (closure data) (destroy notify): called
 *   for every client
 * @data: passed to @func
 * @notify: (nullable): frees @data
 *
 * As qio_net_listener_set_client_func_full() in the default context.
 */
void qio_net_listener_set_client_func(QIONetListener *listener,
                                      QIONetListenerClientFunc func,
                                      gpointer data, GDestroyNotify notify);

/**
 * qio_net_listener_set_error_func:
 * @listener: the listener
 * @func: (nullable) (scope forever) (closure data): told about accept
 *   failures
 * @data: passed to @func
 *
 * Sets the function told about accept failures (see
 * #QIONetListenerErrorFunc); %NULL unsets it. @data is not freed by
 * the listener.
 */
void qio_net_listener_set_error_func(QIONetListener *listener,
                                     QIONetListenerErrorFunc func,
                                     gpointer data);

/**
 * qio_net_listener_pause:
 * @listener: the listener
 *
 * Stops accepting; clients wait in the kernel's backlog.
 */
void qio_net_listener_pause(QIONetListener *listener);

/**
 * qio_net_listener_resume:
 * @listener: the listener
 *
 * Accepts again after qio_net_listener_pause().
 */
void qio_net_listener_resume(QIONetListener *listener);

/**
 * qio_net_listener_wait_client:
 * @listener: the listener
 *
 * Blocks until a client arrives on any socket (a nested loop on a private
 * context) and returns it. Accepting through the client function is
 * suspended meanwhile.
 *
 * Returns: (transfer full) (nullable): the client, or %NULL if the
 * listener has no sockets.
 */
QIOChannelSocket *qio_net_listener_wait_client(QIONetListener *listener);

/**
 * qio_net_listener_disconnect:
 * @listener: the listener
 *
 * Stops accepting and closes every socket (a unix socket's file is
 * removed).
 */
void qio_net_listener_disconnect(QIONetListener *listener);

/**
 * qio_net_listener_is_connected:
 * @listener: the listener
 *
 * Tells whether the listener has sockets (until
 * qio_net_listener_disconnect()).
 *
 * Returns: %TRUE while the listener has open sockets.
 */
gboolean qio_net_listener_is_connected(QIONetListener *listener);

/**
 * qio_net_listener_get_nsockets:
 * @listener: the listener
 *
 * Counts the listening sockets.
 *
 * Returns: how many sockets the listener has.
 */
guint qio_net_listener_get_nsockets(QIONetListener *listener);

/**
 * qio_net_listener_get_socket:
 * @listener: the listener
 * @i: an index below qio_net_listener_get_nsockets()
 *
 * Gets one of the listening sockets.
 *
 * Returns: (transfer none): the @i-th listening socket.
 */
QIOChannelSocket *qio_net_listener_get_socket(QIONetListener *listener,
                                              guint i);

G_END_DECLS

#endif /* QIO_NET_LISTENER_H */
