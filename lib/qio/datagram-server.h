/*
 * libqio - sessions per sender over one datagram socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_DATAGRAM_SERVER_H
#define QIO_DATAGRAM_SERVER_H

#include "qio/channel-datagram-peer.h"
#include "qio/channel-socket.h"

G_BEGIN_DECLS

/**
 * QIODatagramServer:
 *
 * A #QIODatagramServer reads a bound, unconnected datagram socket (UDP
 * over IPv4 or IPv6, or a unix datagram socket) and sorts what arrives
 * by sender address: every address is a session, a
 * #QIOChannelDatagramPeer that reads that sender's datagrams and writes
 * replies to it through the same socket. This is what a relay needs to
 * serve many datagram peers at once in one process, each with its own
 * channel, the way a stream server has a channel per connection.
 *
 * The first datagram of an address the server does not know (or no
 * longer knows: a session that ended or was closed) makes a new peer
 * and asks the #QIODatagramServerPeerFunc whether to take it.
 *
 * Reading is batched: up to %QIO_DATAGRAM_SERVER_MAX_BATCH datagrams per
 * wake-up, with recvmmsg(2), into buffers of
 * %QIO_DATAGRAM_SERVER_BUFFER_SIZE bytes each (2 MiB for a full batch),
 * allocated by the first start and kept until the server is finalized.
 * Each datagram is then copied into its peer's queue. The server drops,
 * and counts in its #QIODatagramServerStats:
 *
 * - datagrams longer than a buffer (impossible for UDP, whose datagrams
 *   are at most 65535 bytes; a unix datagram socket can carry more);
 * - datagrams from an unbound unix socket: they have no address to
 *   answer or to tell sessions apart by (bind senders to a path or an
 *   abstract name);
 * - zero-length datagrams: a read of 0 bytes means end-of-file to a
 *   channel's reader;
 * - the first datagram of a sender the peer function refuses (or of any
 *   sender while there is no peer function);
 * - datagrams that find their peer's queue full.
 *
 * The server runs in one #GMainContext (qio_datagram_server_start()); it
 * and its peers belong to the thread that runs it.
 */
#define QIO_TYPE_DATAGRAM_SERVER (qio_datagram_server_get_type())
G_DECLARE_FINAL_TYPE(QIODatagramServer, qio_datagram_server, QIO,
                     DATAGRAM_SERVER, GObject)

/**
 * QIO_DATAGRAM_SERVER_MAX_BATCH:
 *
 * The most datagrams read per wake-up, and the default batch size.
 */
#define QIO_DATAGRAM_SERVER_MAX_BATCH 32

/**
 * QIO_DATAGRAM_SERVER_BUFFER_SIZE:
 *
 * The receive buffer per datagram of a batch; longer datagrams are dropped.
 */
#define QIO_DATAGRAM_SERVER_BUFFER_SIZE 65536

/**
 * QIODatagramServerPeerFunc:
 * @server: the server
 * @peer: (transfer none): the new session, its first datagram already
 *   queued; take a reference to keep it (the server keeps none: a
 *   session nobody holds is forgotten, as if closed)
 * @data: the user data
 *
 * Called for the first datagram of a sender the server has no session
 * for. The function may refuse the sender (an address outside the
 * allowed range, too many sessions): the datagram is dropped and @peer
 * discarded; the sender's next datagram asks again.
 *
 * Returns: %TRUE to take the session, %FALSE to refuse it.
 */
typedef gboolean (*QIODatagramServerPeerFunc)(QIODatagramServer *server,
                                              QIOChannelDatagramPeer *peer,
                                              gpointer data);

/**
 * QIODatagramServerStats:
 * @received: datagrams read from the socket
 * @wakeups: reads of the socket that returned datagrams
 * @truncated: dropped: longer than %QIO_DATAGRAM_SERVER_BUFFER_SIZE
 * @unanswerable: dropped: from an unbound unix socket
 * @empty: dropped: zero-length
 * @refused: dropped: the first datagram of a refused sender
 * @queue_full: dropped: the peer's queue was full
 * @errors: reads of the socket that failed (other than would-block)
 *
 * Counters since the server was made. @received / @wakeups is the
 * average batch.
 */
typedef struct {
    guint64 received;
    guint64 wakeups;
    guint64 truncated;
    guint64 unanswerable;
    guint64 empty;
    guint64 refused;
    guint64 queue_full;
    guint64 errors;
} QIODatagramServerStats;

/**
 * qio_datagram_server_new:
 * @sock: a bound, unconnected %SOCK_DGRAM socket (AF_INET, AF_INET6 or
 *   AF_UNIX); the server takes a reference. Its blocking mode does not
 *   matter: the server and its peers never wait in a system call
 *
 * Creates a server that sorts the datagrams of @sock by sender.
 *
 * Returns: (transfer full): a server, not yet reading (see
 * qio_datagram_server_start()).
 */
QIODatagramServer *qio_datagram_server_new(QIOChannelSocket *sock);

/**
 * qio_datagram_server_get_socket:
 * @server: the server
 *
 * Gets the socket the server reads and its peers write.
 *
 * Returns: (transfer none): the shared socket.
 */
QIOChannelSocket *qio_datagram_server_get_socket(QIODatagramServer *server);

/**
 * qio_datagram_server_set_peer_func:
 * @server: the server
 * @func: (nullable) (scope notified) (closure data) (destroy notify): called
 *   for every new sender; %NULL refuses all
 * @data: passed to @func
 * @notify: (nullable): frees @data when replaced or on finalize
 *
 * Sets the function that takes or refuses new sessions.
 */
void qio_datagram_server_set_peer_func(QIODatagramServer *server,
                                       QIODatagramServerPeerFunc func,
                                       gpointer data, GDestroyNotify notify);

/**
 * qio_datagram_server_set_batch_size:
 * @server: the server
 * @n: datagrams read per wake-up, 1 to %QIO_DATAGRAM_SERVER_MAX_BATCH
 *
 * Each datagram of a batch has a buffer of
 * %QIO_DATAGRAM_SERVER_BUFFER_SIZE bytes: a server with few, slow
 * senders may save the memory. Only while the server is not started.
 */
void qio_datagram_server_set_batch_size(QIODatagramServer *server, guint n);

/**
 * qio_datagram_server_start:
 * @server: the server
 * @context: (nullable): where to read the socket and call the peer
 *   function (%NULL: the thread-default context)
 *
 * Starts reading. Starting a running server does nothing.
 */
void qio_datagram_server_start(QIODatagramServer *server,
                               GMainContext *context);

/**
 * qio_datagram_server_stop:
 * @server: the server
 *
 * Stops reading and ends every session: each peer reads what it has
 * queued, then end-of-file. The server may be started again; it knows no
 * sender then.
 */
void qio_datagram_server_stop(QIODatagramServer *server);

/**
 * qio_datagram_server_pause:
 * @server: the server
 *
 * Stops reading the socket for now; datagrams wait in (or overflow) the
 * kernel's socket buffer. Sessions go on.
 */
void qio_datagram_server_pause(QIODatagramServer *server);

/**
 * qio_datagram_server_resume:
 * @server: the server
 *
 * Reads again after qio_datagram_server_pause().
 */
void qio_datagram_server_resume(QIODatagramServer *server);

/**
 * qio_datagram_server_n_peers:
 * @server: the server
 *
 * Counts the live sessions.
 *
 * Returns: how many sessions the server has (senders it knows).
 */
guint qio_datagram_server_n_peers(QIODatagramServer *server);

/**
 * qio_datagram_server_get_stats:
 * @server: the server
 * @stats: (out caller-allocates): where to store the counters
 *
 * Copies the server's counters into @stats.
 */
void qio_datagram_server_get_stats(QIODatagramServer *server,
                                   QIODatagramServerStats *stats);

G_END_DECLS

#endif /* QIO_DATAGRAM_SERVER_H */
