/*
 * libqio - the datagrams of one peer over a shared datagram socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_CHANNEL_DATAGRAM_PEER_H
#define QIO_CHANNEL_DATAGRAM_PEER_H

#include <gio/gio.h>

#include "qio/channel.h"

G_BEGIN_DECLS

/**
 * QIOChannelDatagramPeer:
 *
 * A #QIOChannelDatagramPeer is one session of a #QIODatagramServer: the
 * datagrams one sender address sent to the server's socket, and a way to
 * answer that address through the same socket. The server makes them;
 * there is no public constructor.
 *
 * Datagram boundaries are kept: every read returns one whole datagram,
 * every write sends one. A datagram longer than the read buffer is
 * dropped and the read fails with %G_IO_ERROR_MESSAGE_TOO_LARGE (give
 * reads 65535 bytes and that cannot happen with UDP). Zero-length
 * datagrams never reach a peer (a read of 0 is end-of-file): the server
 * drops them.
 *
 * Datagrams wait in a queue of the peer until read: at most
 * %QIO_CHANNEL_DATAGRAM_PEER_MAX_QUEUE datagrams and
 * %QIO_CHANNEL_DATAGRAM_PEER_MAX_QUEUE_BYTES bytes by default (see
 * qio_channel_datagram_peer_set_queue_limit()). Beyond that they are
 * dropped and counted, as a full socket buffer would drop them.
 *
 * The channel is always non-blocking: reads return
 * %QIO_CHANNEL_ERR_BLOCK while the queue is empty, writes when the
 * socket buffer is full. Its datagrams arrive only while the server's
 * #GMainContext runs, so wait with watches or qio_channel_yield() in that
 * context, not with qio_channel_wait() (nor the *_all functions outside
 * a coroutine), which would wait in a private context for ever. A peer
 * and its server belong to the thread that runs that context.
 *
 * A %G_IO_IN watch is ready while datagrams are queued and once the
 * session has ended (reads then return 0); a %G_IO_OUT watch polls the
 * shared socket. The channel has %QIO_CHANNEL_FEATURE_SHUTDOWN: shutting
 * %QIO_CHANNEL_SHUTDOWN_READ drops the queue and stops queueing (reads
 * return 0), shutting %QIO_CHANNEL_SHUTDOWN_WRITE makes writes fail. It
 * passes no descriptors and cannot seek.
 *
 * A session ends when qio_channel_datagram_peer_end() or
 * qio_channel_close() is called, when its last reference goes (the
 * server holds none), or when the server stops or goes away. The server
 * then forgets the address: its next datagram starts a new session. Writing to
 * an ended (but not closed) peer still works while the socket is open; the
 * channel holds a reference on it.
 */
#define QIO_TYPE_CHANNEL_DATAGRAM_PEER (qio_channel_datagram_peer_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelDatagramPeer, qio_channel_datagram_peer, QIO,
                     CHANNEL_DATAGRAM_PEER, QIOChannel)

/**
 * QIO_CHANNEL_DATAGRAM_PEER_MAX_QUEUE:
 *
 * How many datagrams a peer queues by default before it drops what arrives.
 */
#define QIO_CHANNEL_DATAGRAM_PEER_MAX_QUEUE 512

/**
 * QIO_CHANNEL_DATAGRAM_PEER_MAX_QUEUE_BYTES:
 *
 * How many bytes of datagrams a peer queues by default (one datagram is
 * always taken).
 */
#define QIO_CHANNEL_DATAGRAM_PEER_MAX_QUEUE_BYTES (1024 * 1024)

/**
 * qio_channel_datagram_peer_get_address:
 * @peer: the peer
 *
 * Gets the sender address that makes this session.
 *
 * Returns: (transfer none): the address the peer sends from and is
 * answered at.
 */
GSocketAddress *
qio_channel_datagram_peer_get_address(QIOChannelDatagramPeer *peer);

/**
 * qio_channel_datagram_peer_get_control:
 * @peer: the peer
 *
 * Gets the control messages (ancillary data, cmsg(3)) that came with the
 * datagram that began the session, when the server's socket keeps them
 * (qio_channel_socket_set_keep_control()): its arrival time with
 * SO_TIMESTAMP, the address it was sent to with IP_PKTINFO, and so on.
 * Walk them with CMSG_FIRSTHDR() and CMSG_NXTHDR().
 *
 * Returns: (transfer none) (nullable): the control messages, or %NULL if
 * there were none or none were kept.
 */
GBytes *qio_channel_datagram_peer_get_control(QIOChannelDatagramPeer *peer);

/**
 * qio_channel_datagram_peer_end:
 * @peer: the peer
 *
 * Ends the session (an idle timeout, say): the server forgets the
 * address, so that its next datagram starts a new session, and reads
 * return 0 once the datagrams already queued are read. Writes still
 * work. Ending an ended peer does nothing.
 */
void qio_channel_datagram_peer_end(QIOChannelDatagramPeer *peer);

/**
 * qio_channel_datagram_peer_is_ended:
 * @peer: the peer
 *
 * Tells whether the session has ended.
 *
 * Returns: %TRUE once the session has ended (by
 * qio_channel_datagram_peer_end(), closing, or the server stopping).
 */
gboolean qio_channel_datagram_peer_is_ended(QIOChannelDatagramPeer *peer);

/**
 * qio_channel_datagram_peer_get_dropped:
 * @peer: the peer
 *
 * Counts the datagrams the queue had no room for.
 *
 * Returns: how many datagrams of this peer were dropped because its
 * queue was full.
 */
guint64 qio_channel_datagram_peer_get_dropped(QIOChannelDatagramPeer *peer);

/**
 * qio_channel_datagram_peer_get_queued:
 * @peer: the peer
 *
 * Counts the datagrams queued for reading.
 *
 * Returns: how many datagrams are waiting to be read.
 */
guint qio_channel_datagram_peer_get_queued(QIOChannelDatagramPeer *peer);

/**
 * qio_channel_datagram_peer_set_queue_limit:
 * @peer: the peer
 * @max_datagrams: how many datagrams may wait, at least 1
 * @max_bytes: how many bytes they may hold together; a datagram that
 *   arrives at an empty queue is always taken
 *
 * Changes the limits of the queue, from a #QIODatagramServerPeerFunc
 * for example. Datagrams already queued stay.
 */
void qio_channel_datagram_peer_set_queue_limit(QIOChannelDatagramPeer *peer,
                                               guint max_datagrams,
                                               gsize max_bytes);

G_END_DECLS

#endif /* QIO_CHANNEL_DATAGRAM_PEER_H */
