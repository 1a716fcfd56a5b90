/*
 * libqio - sockets: unix (path and abstract), TCP and UDP
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_CHANNEL_SOCKET_H
#define QIO_CHANNEL_SOCKET_H

#include <gio/gio.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "qio/channel.h"
#include "qio/task.h"

G_BEGIN_DECLS

/**
 * QIOChannelSocket:
 *
 * A QIOChannelSocket wraps one socket: a connected stream socket (created
 * by qio_channel_socket_connect_sync(), qio_channel_socket_accept() or
 * qio_channel_socket_new_fd()), a listening one (created by
 * qio_channel_socket_listen_sync()) or a datagram socket, UDP or unix
 * (created by qio_channel_socket_dgram_sync() or
 * qio_channel_socket_new_fd()). Addresses are GIO's: a #GNetworkAddress
 * (host and port, resolved when connecting), a #GInetSocketAddress or a
 * #GUnixSocketAddress (a path, or an abstract name on Linux).
 *
 * Datagram sockets keep message boundaries: one qio_channel_readv()
 * returns one datagram, one qio_channel_writev() sends one, whole or not
 * at all. A datagram longer than the buffer it is read into is consumed
 * and reported (%G_IO_ERROR_MESSAGE_TOO_LARGE), never cut silently; a
 * read with %QIO_CHANNEL_READ_FLAG_MSG_PEEK may look at its head only,
 * and leaves it queued. A datagram socket has no end-of-file: a read that
 * returns 0 has received an empty datagram, so qio_channel_read_all() and
 * friends, which take 0 for the end, are not for datagrams (a read
 * after qio_channel_shutdown() of the reading side returns 0 too, which
 * is how a blocked reader is woken, connected or not). Datagram
 * sockets have %QIO_CHANNEL_FEATURE_SHUTDOWN and
 * %QIO_CHANNEL_FEATURE_READ_MSG_PEEK, unix ones
 * %QIO_CHANNEL_FEATURE_FD_PASS too; never %QIO_CHANNEL_FEATURE_LISTEN
 * nor zero copy.
 *
 * Zero copy (Linux): a connected TCP socket, however it was made, gets
 * %QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY when the kernel lets SO_ZEROCOPY be
 * set on it; unix sockets and listeners never do. A write with
 * %QIO_CHANNEL_WRITE_FLAG_ZERO_COPY is then sent with MSG_ZEROCOPY: the
 * kernel pins the caller's pages and sends from them, so the buffers must
 * stay unchanged until qio_channel_flush() returns. Descriptors cannot go
 * with such a write (%QIO_CHANNEL_ERROR_NOT_SUPPORTED).
 *
 * qio_channel_flush() reads the completions from the socket's error queue
 * and blocks the calling thread (inside a coroutine too, on a non-blocking
 * channel too) until every zero-copy write since the last flush has
 * completed, i.e. been acknowledged by the peer. It returns 1 when the
 * kernel copied every one of them after all, which is always the case
 * over loopback (the receiving socket could keep the pages indefinitely,
 * so the kernel copies them when it delivers), 0 when at least one went
 * out without a copy, 0 at once when there was no zero-copy write since
 * the last flush, and -1 when the error queue cannot be read or the
 * connection fails meanwhile (e.g. %G_IO_ERROR_CONNECTION_CLOSED for a
 * reset; that error is then consumed, and a later read does not see it).
 *
 * Pinned pages count against RLIMIT_MEMLOCK (unless the thread has
 * CAP_IPC_LOCK) and completions not yet read against net.core.optmem_max;
 * over either limit sendmsg fails with ENOBUFS. QEMU reports that as an
 * error; libqio reads the completions already queued (which frees option
 * memory) and tries once more, and if the kernel still refuses, sends that
 * write by copying, as a plain write: it succeeds, and it counts as a
 * copied send in what the next flush returns.
 *
 * Closing the channel forgets unflushed zero-copy writes: the kernel
 * discards their completions with the socket, still sends the data and
 * unpins the pages when done. A descriptor given to
 * qio_channel_socket_new_fd() must not have zero-copy sends of its own in
 * flight, or their completions would be counted as the channel's.
 */
#define QIO_TYPE_CHANNEL_SOCKET (qio_channel_socket_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelSocket, qio_channel_socket, QIO, CHANNEL_SOCKET,
                     QIOChannel)

/**
 * QIO_CHANNEL_SOCKET_MAX_FDS:
 *
 * The most descriptors one message can carry (the kernel's SCM_MAX_FD).
 */
#define QIO_CHANNEL_SOCKET_MAX_FDS 253

/**
 * QIOChannelSocketSetupFunc:
 * @fd: a socket just made by socket(2): not bound, connected or
 *   listening yet
 * @family: its address family: %AF_INET, %AF_INET6 or %AF_UNIX
 * @data: #QIOChannelSocketOptions.setup_data
 * @errp: return location for an error
 *
 * Applies settings that must precede bind(2), connect(2) or listen(2)
 * (socket options such as SO_RCVBUF, TCP_MAXSEG, SO_REUSEPORT,
 * SO_BINDTODEVICE), once for every socket a connect or listen makes:
 * once per address tried. It runs after the settings of
 * #QIOChannelSocketOptions itself (SO_REUSEADDR, IPV6_V6ONLY), so it may
 * override them, and before @bind, the connect or the bind and listen.
 * It must not close @fd. Clients accepted on a listening socket get no
 * call; on Linux a TCP client inherits most socket options from its
 * listener (a unix one does not).
 *
 * It runs in the thread that makes the socket: the caller's for the
 * synchronous calls and for qio_channel_socket_connect_async() (from its
 * context), a worker thread for qio_channel_socket_listen_async().
 *
 * Returns: %TRUE to go on; %FALSE with @errp set fails this address as
 * a failed connect or bind would: the socket is closed and the error is
 * reported prefixed with the operation and the address, e.g. "listen on
 * 127.0.0.1:80: MESSAGE".
 */
typedef gboolean (*QIOChannelSocketSetupFunc)(int fd, int family, gpointer data,
                                              GError **errp);

/**
 * QIOChannelSocketOptions:
 * @family: %AF_UNSPEC (any), %AF_INET or %AF_INET6: which resolved
 *   addresses to use; ignored for unix addresses
 * @bind: (nullable): connect and datagram: the local address to bind
 *   before connecting (port 0: any port); addresses of another family are
 *   skipped
 * @backlog: listen only: the length of the queue of pending connections
 * @reuseaddr: listen, TCP: set SO_REUSEADDR; datagram, UDP: set it when
 *   binding a given port (so that other sockets that set it may bind that
 *   port too; clear it for a port of one's own), never for port 0
 * @v6only: listen and datagram, IPv6: -1 for the default (a wildcard
 *   address accepts IPv4 clients too, unless @family is %AF_INET6), 0 or 1
 *   to set IPV6_V6ONLY explicitly
 * @unlink_early: listen and datagram, unix path: remove an existing socket
 *   file at the path before binding (a file that is not a socket is left
 *   alone)
 * @connect_timeout_ms: connect only: give up on one address after this
 *   many milliseconds (0: wait as long as the system does)
 * @setup: (nullable): called for every socket made, see
 *   #QIOChannelSocketSetupFunc
 * @setup_data: passed to @setup; must stay valid as long as an operation
 *   given these options may run
 *
 * Settings for qio_channel_socket_connect_sync(),
 * qio_channel_socket_listen_sync() and qio_channel_socket_dgram_sync().
 * Start from
 * %QIO_CHANNEL_SOCKET_OPTIONS_INIT so that new fields get their defaults.
 */
typedef struct QIOChannelSocketOptions {
    int family;
    GSocketAddress *bind;
    int backlog;
    bool reuseaddr;
    int v6only;
    bool unlink_early;
    int connect_timeout_ms;
    QIOChannelSocketSetupFunc setup;
    gpointer setup_data;
} QIOChannelSocketOptions;

/**
 * QIO_CHANNEL_SOCKET_OPTIONS_INIT:
 *
 * Initialiser for a #QIOChannelSocketOptions holding the defaults: any
 * family, no bind address, backlog 128, SO_REUSEADDR, default IPV6_V6ONLY,
 * no early unlink, no connect timeout, no setup function.
 */
#define QIO_CHANNEL_SOCKET_OPTIONS_INIT                                        \
    {                                                                          \
        .family = AF_UNSPEC, .backlog = 128, .reuseaddr = true, .v6only = -1   \
    }

/**
 * qio_channel_socket_new:
 *
 * Creates a channel with no socket yet; follow with
 * qio_channel_socket_connect_sync() or qio_channel_socket_listen_sync().
 * qio_channel_set_blocking() may be called before: the mode is applied to
 * the socket once there is one.
 *
 * Returns: (transfer full): the new channel.
 */
QIOChannelSocket *qio_channel_socket_new(void);

/**
 * qio_channel_socket_new_fd:
 * @fd: an open socket: a stream socket, connected or listening, or a
 *   datagram socket (SO_TYPE tells)
 * @errp: return location for an error
 *
 * Wraps an existing socket. A listening socket gets
 * %QIO_CHANNEL_FEATURE_LISTEN; a connected one
 * %QIO_CHANNEL_FEATURE_SHUTDOWN, %QIO_CHANNEL_FEATURE_READ_MSG_PEEK and,
 * for unix sockets, %QIO_CHANNEL_FEATURE_FD_PASS; a TCP one also
 * %QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY if the kernel accepts SO_ZEROCOPY,
 * which this sets on @fd (see the zero copy notes above). A datagram
 * socket, bound or not, connected or not, gets the features of a
 * connected socket of its family but zero copy. A listening or datagram
 * unix socket wrapped this way never removes its path on close.
 *
 * Returns: (transfer full) (nullable): the channel, which owns @fd from
 * then on; %NULL with @errp set if @fd is not a socket, in which case @fd
 * stays open and the caller's.
 */
QIOChannelSocket *qio_channel_socket_new_fd(int fd, GError **errp);

/**
 * qio_channel_socket_connect_sync:
 * @ioc: a channel from qio_channel_socket_new()
 * @addr: where to connect: a #GNetworkAddress, #GInetSocketAddress or
 *   #GUnixSocketAddress
 * @opts: (nullable): settings; %NULL for the defaults
 * @errp: return location for an error
 *
 * Resolves @addr (blocking the calling thread) and tries each of its
 * addresses in turn until one connects. The socket is close-on-exec.
 * Connecting is blocking unless @opts sets a timeout.
 *
 * Returns: 0 on success; -1 with @errp set on failure, describing the last
 * address tried, e.g. "connect to 127.0.0.1:9: Connection refused".
 */
int qio_channel_socket_connect_sync(QIOChannelSocket *ioc,
                                    GSocketConnectable *addr,
                                    const QIOChannelSocketOptions *opts,
                                    GError **errp);

/**
 * qio_channel_socket_listen_sync:
 * @ioc: a channel from qio_channel_socket_new()
 * @addr: where to listen: a #GNetworkAddress, #GInetSocketAddress or
 *   #GUnixSocketAddress; port 0 picks a free port (see
 *   qio_channel_socket_get_local_address())
 * @opts: (nullable): settings; %NULL for the defaults
 * @errp: return location for an error
 *
 * Binds and listens. A #GNetworkAddress whose host is "", "::" or
 * "0.0.0.0" is the wildcard: with family %AF_UNSPEC one IPv6 socket that
 * accepts IPv4 clients too (or 0.0.0.0 where IPv6 is unavailable). Other
 * hosts are resolved and the first address that can be bound is used.
 * The channel gets %QIO_CHANNEL_FEATURE_LISTEN. A unix socket bound to a
 * path removes that path when the channel is closed, if the file there is
 * still the one it created.
 *
 * Returns: 0 on success; -1 with @errp set on failure, e.g.
 * "listen on 0.0.0.0:80: Permission denied".
 */
int qio_channel_socket_listen_sync(QIOChannelSocket *ioc,
                                   GSocketConnectable *addr,
                                   const QIOChannelSocketOptions *opts,
                                   GError **errp);

/**
 * qio_channel_socket_connect_async:
 * @ioc: a channel from qio_channel_socket_new()
 * @addr: where to connect, as for qio_channel_socket_connect_sync(); a
 *   #GNetworkAddress is copied, other connectables are enumerated in a
 *   worker thread and must allow that
 * @opts: (nullable): settings, copied (the bind address is referenced);
 *   %NULL for the defaults
 * @callback: (scope notified) (closure opaque) (destroy destroy): called
 *   in @context when the operation is over; the task's
 *   source object is @ioc, and qio_task_propagate_error() tells whether
 *   it failed
 * @opaque: passed to @callback
 * @destroy: (nullable): frees @opaque after @callback has run
 * @context: (nullable): where @callback runs and the connect attempts
 *   are watched (%NULL: the thread-default context of the caller)
 *
 * Connects as qio_channel_socket_connect_sync() does, without blocking
 * the calling thread: a host name is resolved in a worker thread (socket
 * addresses need no resolution), then each address is tried in order
 * with a non-blocking connect(2) whose outcome is waited for by a watch
 * in @context; @opts->connect_timeout_ms bounds each attempt. A unix
 * listener whose queue is full is asked again at growing intervals (up
 * to 200 ms; nothing can be polled for room) until it has room or the
 * timeout expires. Errors are those of the synchronous call, e.g. "connect to
 * 127.0.0.1:9: Connection refused" for the last address tried. On
 * success the socket gets the blocking mode of @ioc (blocking unless
 * qio_channel_set_blocking() said otherwise).
 *
 * @callback never runs before this function returns, and always from
 * @context, which must be iterated. The operation holds a reference to
 * @ioc. Closing @ioc meanwhile (from the thread that runs @context)
 * abandons the operation: it completes with %QIO_CHANNEL_ERROR_CLOSED.
 * Only one operation may be in flight on a channel.
 */
void qio_channel_socket_connect_async(QIOChannelSocket *ioc,
                                      GSocketConnectable *addr,
                                      const QIOChannelSocketOptions *opts,
                                      QIOTaskFunc callback, gpointer opaque,
                                      GDestroyNotify destroy,
                                      GMainContext *context);

/**
 * qio_channel_socket_listen_async:
 * @ioc: a channel from qio_channel_socket_new()
 * @addr: where to listen, as for qio_channel_socket_listen_sync()
 * @opts: (nullable): settings, copied; %NULL for the defaults
 * @callback: (scope notified) (closure opaque) (destroy destroy): called
 *   in @context when the operation is over; the task's
 *   source object is @ioc
 * @opaque: passed to @callback
 * @destroy: (nullable): frees @opaque after @callback has run
 * @context: (nullable): where @callback runs (%NULL: the thread-default
 *   context of the caller)
 *
 * Does what qio_channel_socket_listen_sync() does, in a worker thread
 * (resolving a host name may block), and hands the listening socket to
 * @ioc in @context just before @callback runs. Errors are those of the
 * synchronous call. As with qio_channel_socket_connect_async(), @callback
 * always runs later, from @context; closing @ioc meanwhile makes the
 * operation fail with %QIO_CHANNEL_ERROR_CLOSED and drops the socket.
 */
void qio_channel_socket_listen_async(QIOChannelSocket *ioc,
                                     GSocketConnectable *addr,
                                     const QIOChannelSocketOptions *opts,
                                     QIOTaskFunc callback, gpointer opaque,
                                     GDestroyNotify destroy,
                                     GMainContext *context);

/**
 * qio_channel_socket_dgram_sync:
 * @ioc: a channel from qio_channel_socket_new()
 * @local: (nullable): the address to bind: a #GNetworkAddress,
 *   #GInetSocketAddress or #GUnixSocketAddress; port 0 picks a free port
 *   (see qio_channel_socket_get_local_address())
 * @remote: (nullable): the only peer, for a connected socket; at least
 *   one of @local and @remote is given
 * @opts: (nullable): settings; %NULL for the defaults
 * @errp: return location for an error
 *
 * Makes a datagram socket (SOCK_DGRAM), resolving host names (blocking
 * the calling thread). With @remote, each address it resolves to (of
 * @opts->family, if set) is tried in turn until one works: a socket of
 * that address's family is made, bound to the first address of @local of
 * the same family (or to @opts->bind when @local is %NULL; none: the
 * system picks a port) and connected with connect(2), so that it only
 * exchanges datagrams with that address. With @local only, the socket is
 * bound and not connected: it receives from anyone, and sends where
 * qio_channel_socket_sendto() or the settings below say.
 *
 * A #GNetworkAddress @local whose host is "", "::" or "0.0.0.0" is the
 * wildcard, as in qio_channel_socket_listen_sync(): with family
 * %AF_UNSPEC and no @remote, one IPv6 socket that receives IPv4 too
 * (@opts->v6only honoured), or 0.0.0.0 where IPv6 is unavailable; with
 * @remote, the wildcard of the remote's family.
 *
 * @opts->setup runs on every socket made, before it is bound, in the
 * calling thread. @opts->reuseaddr and @opts->unlink_early apply as
 * documented in #QIOChannelSocketOptions. A unix path this call binds is
 * removed when the channel is closed, if the file there is still the one
 * it created (see qio_channel_socket_set_unlink_on_close()). The socket is
 * close-on-exec, and blocking unless qio_channel_set_blocking() said
 * otherwise.
 *
 * Returns: 0 on success; -1 with @errp set on failure, describing the last
 * address tried, e.g. "bind to 127.0.0.1:53: Permission denied" or
 * "connect to /run/x.sock: No such file or directory".
 */
int qio_channel_socket_dgram_sync(QIOChannelSocket *ioc,
                                  GSocketConnectable *local,
                                  GSocketConnectable *remote,
                                  const QIOChannelSocketOptions *opts,
                                  GError **errp);

/**
 * qio_channel_socket_dgram_async:
 * @ioc: a channel from qio_channel_socket_new()
 * @local: (nullable): what to bind, as for qio_channel_socket_dgram_sync();
 *   copied like the address of qio_channel_socket_connect_async()
 * @remote: (nullable): the peer, likewise
 * @opts: (nullable): settings, copied (the bind address is referenced);
 *   %NULL for the defaults
 * @callback: (scope notified) (closure opaque) (destroy destroy): called
 *   in @context when the operation is over; the task's
 *   source object is @ioc
 * @opaque: passed to @callback
 * @destroy: (nullable): frees @opaque after @callback has run
 * @context: (nullable): where @callback runs (%NULL: the thread-default
 *   context of the caller)
 *
 * Does what qio_channel_socket_dgram_sync() does in a worker thread
 * (resolving host names may block; @opts->setup runs there too), and
 * hands the socket to @ioc in @context just before @callback runs.
 * Errors are those of the synchronous call. As with
 * qio_channel_socket_connect_async(), @callback never runs before this
 * function returns, and always from @context; closing @ioc meanwhile
 * makes the operation fail with %QIO_CHANNEL_ERROR_CLOSED and drops the
 * socket (and its file). Only one operation may be in flight on a channel.
 */
void qio_channel_socket_dgram_async(QIOChannelSocket *ioc,
                                    GSocketConnectable *local,
                                    GSocketConnectable *remote,
                                    const QIOChannelSocketOptions *opts,
                                    QIOTaskFunc callback, gpointer opaque,
                                    GDestroyNotify destroy,
                                    GMainContext *context);

/**
 * qio_channel_socket_is_datagram:
 * @ioc: the channel
 *
 * Tells a datagram socket from a stream socket.
 *
 * Returns: %TRUE if @ioc holds a datagram socket (SOCK_DGRAM), made by
 * qio_channel_socket_dgram_sync() or given to
 * qio_channel_socket_new_fd(); %FALSE for a stream socket or while there
 * is no socket.
 */
gboolean qio_channel_socket_is_datagram(QIOChannelSocket *ioc);

/**
 * qio_channel_socket_recvfrom:
 * @ioc: a datagram socket
 * @iov: where to put the datagram
 * @niov: the number of elements of @iov
 * @from: (out) (optional) (nullable) (transfer full): its sender; an
 *   anonymous #GUnixSocketAddress for an unbound unix sender
 * @errp: return location for an error
 *
 * Receives one datagram, as qio_channel_readv() does on a datagram
 * socket: the sender filter (qio_channel_socket_set_sender_filter())
 * applies, and the sender becomes qio_channel_socket_get_last_sender().
 *
 * Returns: its length (0 for an empty datagram); %QIO_CHANNEL_ERR_BLOCK
 * when none is waiting on a non-blocking socket; -1 with @errp set on
 * error. A datagram longer than @iov is consumed and fails with
 * %G_IO_ERROR_MESSAGE_TOO_LARGE, "datagram of 70000 bytes does not fit in
 * 8192". On a stream socket: -1 with %QIO_CHANNEL_ERROR_NOT_SUPPORTED.
 */
ssize_t qio_channel_socket_recvfrom(QIOChannelSocket *ioc,
                                    const struct iovec *iov, size_t niov,
                                    GSocketAddress **from, GError **errp);

/**
 * qio_channel_socket_sendto:
 * @ioc: a datagram socket
 * @iov: the datagram
 * @niov: the number of elements of @iov
 * @to: (nullable): where to send it; %NULL: as qio_channel_writev() would
 *   (the connected peer, unless the settings below say otherwise)
 * @errp: return location for an error
 *
 * Sends one datagram, whole or not at all.
 *
 * Returns: its length; %QIO_CHANNEL_ERR_BLOCK when the socket is
 * non-blocking and has no room; -1 with @errp set on error, e.g. "send to
 * 127.0.0.1:9: Message too long" (%G_IO_ERROR_MESSAGE_TOO_LARGE). On a
 * stream socket: -1 with %QIO_CHANNEL_ERROR_NOT_SUPPORTED.
 */
ssize_t qio_channel_socket_sendto(QIOChannelSocket *ioc,
                                  const struct iovec *iov, size_t niov,
                                  GSocketAddress *to, GError **errp);

/**
 * qio_channel_socket_set_send_address:
 * @ioc: the channel (a datagram socket, or one that will hold one)
 * @to: (nullable): where qio_channel_writev() sends datagrams; %NULL to
 *   unset (writes go to the connected peer again)
 *
 * Makes an unconnected datagram socket usable as an ordinary channel for
 * writing (socat's UDP-SENDTO). @to is referenced. Settings survive
 * closing the channel and apply to the next datagram socket it holds;
 * stream sockets ignore them.
 */
void qio_channel_socket_set_send_address(QIOChannelSocket *ioc,
                                         GSocketAddress *to);

/**
 * qio_channel_socket_set_reply_to_sender:
 * @ioc: the channel (a datagram socket, or one that will hold one)
 * @enabled: whether writes answer the last sender
 *
 * With @enabled, qio_channel_writev() sends each datagram to the sender
 * of the last datagram read (socat's UDP-RECVFROM); before any was read,
 * to the send address if there is one, else it fails with
 * %G_IO_ERROR_NOT_CONNECTED, "no datagram received yet: nobody to
 * answer". qio_channel_socket_sendto() with an address is not affected.
 */
void qio_channel_socket_set_reply_to_sender(QIOChannelSocket *ioc,
                                            gboolean enabled);

/**
 * QIOChannelSocketSenderFilter:
 * @from: the sender of a datagram just received (an anonymous
 *   #GUnixSocketAddress for an unbound unix sender)
 * @data: the data given with the filter
 *
 * Decides, for every datagram a read receives, whether to keep it or
 * drop it (see qio_channel_socket_set_sender_filter()).
 *
 * Returns: %TRUE to accept the datagram, %FALSE to drop it.
 */
typedef gboolean (*QIOChannelSocketSenderFilter)(GSocketAddress *from,
                                                 gpointer data);

/**
 * qio_channel_socket_set_sender_filter:
 * @ioc: the channel (a datagram socket, or one that will hold one)
 * @func: (nullable) (scope notified) (closure data) (destroy destroy): the
 *   filter; %NULL accepts every datagram
 * @data: passed to @func
 * @destroy: (nullable): frees @data when the filter is replaced or the
 *   channel finalized
 *
 * Reads (qio_channel_readv(), qio_channel_socket_recvfrom()) drop each
 * datagram whose sender @func rejects, with any descriptors it carried,
 * and read the next one: a non-blocking socket returns
 * %QIO_CHANNEL_ERR_BLOCK when none is left, a blocking one waits for it.
 * @func runs in the thread that reads, once per datagram; with a filter
 * set, every datagram received costs a #GSocketAddress.
 */
void qio_channel_socket_set_sender_filter(QIOChannelSocket *ioc,
                                          QIOChannelSocketSenderFilter func,
                                          gpointer data,
                                          GDestroyNotify destroy);

/**
 * qio_channel_socket_get_last_sender:
 * @ioc: the channel
 *
 * Gets the address the last datagram read came from.
 *
 * Returns: (transfer none) (nullable): the sender of the last datagram a
 * read returned on the current socket (valid until the next read or
 * close), or %NULL if there is none.
 */
GSocketAddress *qio_channel_socket_get_last_sender(QIOChannelSocket *ioc);

/**
 * qio_channel_socket_set_keep_control:
 * @ioc: the channel (an IP datagram socket, or one that will hold one)
 * @enabled: whether reads keep the control messages of each datagram
 *
 * With @enabled, each datagram read (qio_channel_readv() and the others,
 * qio_channel_socket_recvfrom(), a peek too) keeps the control messages,
 * the ancillary data of cmsg(3), that came with it: what options set on
 * the socket ask the kernel to add, such as SO_TIMESTAMP, IP_PKTINFO,
 * IP_RECVTTL or IPV6_RECVHOPLIMIT. qio_channel_socket_get_last_control()
 * returns them, and a #QIODatagramServer on the socket gives each session
 * those of its first datagram. Unix sockets keep none: their control
 * messages carry descriptors, which reads hand out as they always do.
 * The setting survives closing the channel, as the other datagram
 * settings do.
 */
void qio_channel_socket_set_keep_control(QIOChannelSocket *ioc,
                                         gboolean enabled);

/**
 * qio_channel_socket_get_last_control:
 * @ioc: the channel
 *
 * Gets the control messages of the last datagram read, as the kernel
 * wrote them: walk them with CMSG_FIRSTHDR() and CMSG_NXTHDR() over a
 * struct msghdr whose msg_control and msg_controllen are the bytes' data
 * and size.
 *
 * Returns: (transfer none) (nullable): the control messages (valid until
 * the next read or close), or %NULL if the datagram came with none or
 * qio_channel_socket_set_keep_control() is off.
 */
GBytes *qio_channel_socket_get_last_control(QIOChannelSocket *ioc);

/**
 * qio_channel_socket_accept:
 * @ioc: a listening channel
 * @errp: return location for an error
 *
 * Takes the next pending connection, waiting for one if @ioc is blocking.
 * The new channel is blocking and close-on-exec, and has the features of
 * a connected socket of its family (as qio_channel_socket_new_fd() lists
 * them).
 *
 * Returns: (transfer full) (nullable): the connected channel, or %NULL
 * with @errp set; on a non-blocking listener with no client waiting the
 * error is %G_IO_ERROR_WOULD_BLOCK.
 */
QIOChannelSocket *qio_channel_socket_accept(QIOChannelSocket *ioc,
                                            GError **errp);

/**
 * qio_channel_socket_get_fd:
 * @ioc: the channel
 *
 * Gets the socket the channel holds.
 *
 * Returns: the socket descriptor, still owned by @ioc, or -1 if there is
 * none (not connected yet, or closed).
 */
int qio_channel_socket_get_fd(QIOChannelSocket *ioc);

/**
 * qio_channel_socket_get_local_address:
 * @ioc: the channel
 * @errp: return location for an error
 *
 * Gets the address the socket is bound to (getsockname(2)).
 *
 * Returns: (transfer full) (nullable): the address the socket is bound
 * to, or %NULL with @errp set.
 */
GSocketAddress *qio_channel_socket_get_local_address(QIOChannelSocket *ioc,
                                                     GError **errp);

/**
 * qio_channel_socket_get_remote_address:
 * @ioc: a connected channel
 * @errp: return location for an error
 *
 * Gets the address of the connected peer (getpeername(2)).
 *
 * Returns: (transfer full) (nullable): the peer's address, or %NULL with
 * @errp set (also for a datagram socket that is not connected).
 */
GSocketAddress *qio_channel_socket_get_remote_address(QIOChannelSocket *ioc,
                                                      GError **errp);

/**
 * qio_socket_address_to_string:
 * @addr: a socket address
 *
 * Formats @addr for messages: "127.0.0.1:80", "[::1]:80" (with
 * "%<interface>" after a scoped IPv6 address), "/path/sock" for a unix
 * path, "@name" for an abstract unix name (NUL bytes inside it shown as
 * '@'), "(unnamed)" for an unbound unix socket, "(unknown)" for other
 * families.
 *
 * Returns: (transfer full): a newly allocated string; g_free() it.
 */
char *qio_socket_address_to_string(GSocketAddress *addr);

/**
 * qio_channel_socket_is_unix:
 * @ioc: the channel
 *
 * Tells a unix domain socket from a TCP or UDP one.
 *
 * Returns: %TRUE if @ioc is a unix domain socket (path, abstract or
 * unnamed), %FALSE for TCP or while there is no socket.
 */
gboolean qio_channel_socket_is_unix(QIOChannelSocket *ioc);

/**
 * qio_channel_socket_set_unlink_on_close:
 * @ioc: a unix socket bound to a path
 * @enabled: %FALSE to leave the socket file in place on close, %TRUE to
 *   remove it
 *
 * A listening unix socket, a datagram one that
 * qio_channel_socket_dgram_sync() bound to a path, and a client that
 * qio_channel_socket_connect_sync() or _async() bound to one
 * (#QIOChannelSocketOptions.bind) remove their file when closed; %FALSE
 * keeps it (socat's unlink-close=0). %TRUE does the same for a socket
 * bound elsewhere, e.g. one made by qio_channel_socket_new_fd(): the file
 * it is bound to now is removed on close if it is still that socket's.
 */
void qio_channel_socket_set_unlink_on_close(QIOChannelSocket *ioc,
                                            gboolean enabled);

G_END_DECLS

#endif /* QIO_CHANNEL_SOCKET_H */
