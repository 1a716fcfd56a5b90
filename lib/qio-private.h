/*
 * libqio - helpers shared between the library's own files (not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_PRIVATE_H
#define QIO_PRIVATE_H

#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <gio/gio.h>

#include "qio/channel.h"
#include "qio/channel-socket.h"
#include "qio/task.h"
#include "qio/datagram-server.h"

G_BEGIN_DECLS

/*
 * Set @errp from errno value @err: G_IO_ERROR with the code
 * g_io_error_from_errno() picks, message "<formatted>: <strerror>".
 */
void qio__error_errno(GError **errp, int err, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* Set @errp in QIO_CHANNEL_ERROR. */
void qio__error(GError **errp, QIOChannelError code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/*
 * g_socket_address_enumerator_next() for @addr, with resolver failures
 * reworded as "resolve HOST: REASON" (GLib's own text is a sentence with
 * typographic quotes, unlike every other qio error).
 */
GSocketAddress *qio__address_next(GSocketAddressEnumerator *en,
                                  GSocketConnectable *addr, GError **errp);

/* Close every descriptor of @fds, then free the array. */
void qio__close_fds(int *fds, size_t nfds);

/*
 * The anonymous credentials (a gnutls_anon_server_credentials_t or
 * gnutls_anon_client_credentials_t, by endpoint) of credentials made with
 * #QIOTLSCredsOptions.anonymous, for gnutls_credentials_set().
 */
typedef struct _QIOTLSCreds QIOTLSCreds;
void *qio__tls_creds_get_anon(QIOTLSCreds *creds);

/* Total length of an iovec array. */
size_t qio__iov_size(const struct iovec *iov, size_t niov);

/*
 * Drop the first @skip bytes of a copy of @iov: updates @iov in place
 * (the caller passes a writable copy) and returns the new count.
 */
size_t qio__iov_discard_front(struct iovec **iov, size_t *niov, size_t skip);

/*
 * A descriptor's handlers in its context's epoll set (lib/aio-epoll.c):
 * the default qio_channel_set_aio_fd_handler() for channels that told
 * qio__channel_set_poll_fd() which descriptor to watch.
 */
typedef struct QIOAioEpoll QIOAioEpoll;

typedef struct QIOAioFd QIOAioFd;

struct QIOAioFd {
    QIOAioEpoll *ep; /* registered there, or NULL */
    QIOAioFd *prev;  /* ep's registrations, to rebuild its set */
    QIOAioFd *next;
    int fd;
    uint32_t events; /* EPOLLIN, EPOLLOUT as registered */
    IOHandler *io_read;
    IOHandler *io_write;
    void *opaque;
    uint32_t revents; /* what epoll reported, for the handlers */
};

/*
 * Make @ctx's epoll set now rather than for the first handler: a server
 * holds the same descriptors after its first client as before it. A
 * context whose poll function is GLib's own gets libqio's, which waits
 * in that set for GLib's descriptors too: one system call per iteration.
 */
void qio__aio_epoll_prepare(GMainContext *ctx);

void qio__aio_fd_init(QIOAioFd *r);

/*
 * Watch @fd in @ctx with these handlers (both NULL: stop watching).
 * FALSE when epoll cannot take @fd (a regular file, or a descriptor
 * already in the set): then nothing is registered.
 */
bool qio__aio_fd_set(QIOAioFd *r, GMainContext *ctx, int fd, IOHandler *io_read,
                     IOHandler *io_write, void *opaque);

/* Stop watching; before the descriptor is closed. */
void qio__aio_fd_clear(QIOAioFd *r);

/*
 * For channel implementations: the one descriptor that is polled for
 * both directions, or -1 when there is none (or more than one). Called
 * whenever it changes, and with -1 before it is closed.
 */
void qio__channel_set_poll_fd(QIOChannel *ioc, int fd);

/* ---------------------------------------------------------------- fd pairs */

/*
 * The read and write descriptors of QIOChannelFile and QIOChannelCommand
 * (lib/fd-pair.c). The owner guards its pair with its own lock: functions
 * named _locked are called with it held, the others take it themselves.
 */

/* What kind of channel owns a pair: its words in errors, and one rule. */
typedef struct {
    const char *name;     /* "file": "read: file channels cannot ..." */
    const char *no_read;  /* "read: <no_read>": there is no read descriptor */
    const char *no_write; /* "write: <no_write>" */
    bool keep_std;        /* a released 0, 1 or 2 stays inheritable */
} QIOFdPairKind;

typedef struct {
    GMutex *lock; /* the owner's; guards the fields below */
    const QIOFdPairKind *kind;
    int readfd;  /* -1: none, or closed */
    int writefd; /* may equal readfd */
    bool read_shut;
    bool write_shut;
    bool closed;
} QIOFdPair;

/* No descriptors yet. */
void qio__fd_pair_init(QIOFdPair *p, GMutex *lock, const QIOFdPairKind *kind);

/* FALSE with "@op: channel is closed" (QIO_CHANNEL_ERROR_CLOSED) if so. */
bool qio__fd_pair_check_open_locked(const QIOFdPair *p, const char *op,
                                    GError **errp);

/*
 * The descriptor to read from, or -1: with @errp set when the caller
 * wants descriptors (@want_fds) or gives @flags, which plain descriptors
 * do not take, or when the pair is closed or has no read descriptor; with
 * *@eof set (and no error) when reading was shut down.
 */
int qio__fd_pair_read_fd(QIOFdPair *p, bool want_fds, int flags, bool *eof,
                         GError **errp);

/*
 * The descriptor to write to, or -1 with @errp set: for the reasons
 * qio__fd_pair_read_fd() gives, and EPIPE when writing was shut down.
 */
int qio__fd_pair_write_fd(QIOFdPair *p, bool with_fds, int flags,
                          GError **errp);

/*
 * Mark the directions of @how shut. *@rd, *@wr: whether the read, the
 * write direction was shut just now (it has a descriptor and was open).
 */
void qio__fd_pair_shut_locked(QIOFdPair *p, QIOChannelShutdown how, bool *rd,
                              bool *wr);

/*
 * Let go of the files behind the directions qio__fd_pair_shut_locked()
 * just shut (@rd, @wr), but not of their numbers: each slot now holds
 * /dev/null, close-on-exec (but see QIOFdPairKind.keep_std), until
 * close. A descriptor that serves both ways is released once both are
 * shut.
 */
void qio__fd_pair_release_locked(QIOFdPair *p, bool rd, bool wr);

/*
 * Mark @p closed and move its descriptors to @fds (one that serves both
 * ways once, -1 for none), to be closed with the lock released.
 */
void qio__fd_pair_take_locked(QIOFdPair *p, int fds[2]);

/* Close what qio__fd_pair_take_locked() took; the first failure is set. */
int qio__fd_pair_close(const int fds[2], GError **errp);

/* readv(2), writev(2) of at most IOV_MAX pieces, EINTR retried. */
ssize_t qio__fd_readv(int fd, const struct iovec *iov, size_t niov);
ssize_t qio__fd_writev(int fd, const struct iovec *iov, size_t niov);

/*
 * What io_readv and io_writev return for a read or write that returned
 * @ret (errno set if negative): @ret, QIO_CHANNEL_ERR_BLOCK when it would
 * block, or -1 with "@op: <strerror>" set.
 */
ssize_t qio__fd_io_result(ssize_t ret, const char *op, GError **errp);

/*
 * A read of @fd that failed with EIO is the end of the data: @fd is a
 * pseudo-terminal's master, whose slave was closed by its last user.
 */
bool qio__fd_eio_is_eof(int fd);

/*
 * Clear (@enabled) or set O_NONBLOCK on the descriptors of the directions
 * that are not shut; fails if the pair is closed.
 */
int qio__fd_pair_set_blocking(QIOFdPair *p, bool enabled, GError **errp);

/* A watch on the read descriptor for reading, the write one for writing. */
GSource *qio__fd_pair_create_watch(QIOChannel *ioc, QIOFdPair *p,
                                   GIOCondition condition);

/* ---------------------------------------------------------------- sockets */

/*
 * QIOChannelSocket is written in four files: lib/channel-socket.c (the
 * channel: I/O, descriptors, zero copy, shutdown, close),
 * lib/socket-connect.c (name lookup, connecting, and the record of an
 * asynchronous operation), lib/socket-listen.c (listening, accepting) and
 * lib/socket-dgram.c (datagram sockets: making them, their I/O).
 */
typedef struct QIOSocketAsync QIOSocketAsync;
typedef struct QIOSocketDgram QIOSocketDgram;

/* Room for the most descriptors the kernel passes in one message. */
typedef union {
    char buf[CMSG_SPACE(sizeof(int) * QIO_CHANNEL_SOCKET_MAX_FDS)];
    struct cmsghdr align;
} QIOSocketControl;

struct _QIOChannelSocket {
    QIOChannel parent;
    int fd;
    int family;
    /* The mode asked for; applied when a socket arrives after the call. */
    bool blocking;
    /*
     * O_NONBLOCK as this channel last left its own socket: 1 or 0; -1 for
     * a descriptor from outside (qio_channel_socket_new_fd), whose file
     * description others may change, so it is set every time.
     */
    int fd_nonblock;
    /* A listener's socket file, removed on close if still the same inode. */
    char *unlink_path;
    dev_t unlink_dev;
    ino_t unlink_ino;
    /* A connect_async or listen_async in flight, abandoned by close. */
    QIOSocketAsync *async;
    /* An inet socket on a kernel that takes SO_ZEROCOPY. */
    bool zc_possible;
    /* SO_ZEROCOPY is on: writes may use MSG_ZEROCOPY. */
    bool zc_enabled;
    /* Zero-copy sends the kernel numbered, and how many it reported done. */
    guint32 zc_queued;
    guint32 zc_done;
    /* Since the last flush: a zero-copy write, one that avoided a copy. */
    bool zc_unflushed;
    bool zc_avoided_copy;
    /* A SOCK_DGRAM socket: reads and writes go through socket-dgram.c. */
    bool datagram;
    /*
     * Datagram settings (send address, reply, filter) and the last
     * sender; made by the setters or with a datagram socket, or NULL.
     */
    QIOSocketDgram *dgram;
};

/*
 * One connect_async or listen_async in flight. The caller's task holds
 * the channel, so @sioc is not a reference of its own; the channel points
 * back here so that closing it abandons the operation.
 */
struct QIOSocketAsync {
    QIOChannelSocket *sioc;
    QIOTask *task;
    GMainContext *context;
    GSocketConnectable *addr;
    /* dgram: the local address to bind when @addr is the remote one */
    GSocketConnectable *local;
    QIOChannelSocketOptions opts;
    bool abandoned;
    /* connect: the resolved addresses, the next one to try, the last error */
    GList *addrs;
    GList *next;
    GError *last;
    /* connect: the attempt in flight, what it waits for, its deadline */
    GSocketAddress *current;
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd;
    bool bound; /* @fd is bound to opts.bind, a unix path it created */
    GSource *watch;
    QIOAioFd aio; /* or the wait for the socket's connect */
    GSource *timer;
    guint retry_ms;
    /* an idle that moves the operation on from inside @context */
    GSource *idle;
};

/* The options a NULL QIOChannelSocketOptions stands for. */
extern const QIOChannelSocketOptions qio__socket_defaults;

/* FIONBIO on @fd: 0, or -1 with errno set. */
int qio__socket_set_nonblocking(int fd, bool nonblocking);

/* AF_INET or AF_INET6. */
bool qio__socket_is_inet(int family);

/*
 * Give @sioc its socket and the features that come with it; @fd_nonblock
 * is the socket's O_NONBLOCK if this library made it, else -1.
 */
void qio__socket_adopt(QIOChannelSocket *sioc, int fd, int family,
                       bool listening, int fd_nonblock);

/*
 * The same for a datagram socket: no listening, no zero copy; descriptor
 * passing for unix ones.
 */
void qio__socket_adopt_dgram(QIOChannelSocket *sioc, int fd, int family,
                             int fd_nonblock);

/*
 * Move the socket of @from (a listener or a datagram socket a worker
 * made), with its socket file, to @to, in @to's blocking mode.
 */
int qio__socket_take(QIOChannelSocket *to, QIOChannelSocket *from,
                     GError **errp);

/*
 * Sockets are made blocking; a channel switched to non-blocking before it
 * had one gets that mode now.
 */
int qio__socket_apply_blocking(QIOChannelSocket *sioc, GError **errp);

/* FALSE, with QIO_CHANNEL_ERROR_CLOSED, when @sioc has no socket. */
bool qio__socket_check_open(QIOChannelSocket *sioc, GError **errp);

/* Remove the socket file if it is still the one this listener created. */
void qio__socket_unlink_file(QIOChannelSocket *sioc);

/* The file a unix address names, or NULL (abstract, anonymous, inet). */
const char *qio__socket_unix_path(GSocketAddress *sa);

/* unlink_early: remove @path if it is a socket (nothing else). */
void qio__socket_unlink_stale(const char *path);

/* Remember the socket file bind created at @path, to remove it on close. */
void qio__socket_remember_file(QIOChannelSocket *sioc, const char *path);

/* A GNetworkAddress whose host is "", "::" or "0.0.0.0". */
bool qio__socket_is_wildcard(GSocketConnectable *addr);

/*
 * Make @sioc's socket for @sa (listening, or a bound datagram socket).
 * Returns 0, an errno value with @errp set (so that the wildcard case can
 * tell "no IPv6 here" from the rest), or -1 with @errp set.
 */
typedef int QIOSocketBindFunc(QIOChannelSocket *sioc, GSocketAddress *sa,
                              const QIOChannelSocketOptions *opts, int v6only,
                              GError **errp);

/*
 * @addr is the wildcard: one IPv6 socket that takes IPv4 too, unless the
 * family says otherwise or the system has no IPv6 (then 0.0.0.0).
 * Returns what @bind_one returned last.
 */
int qio__socket_bind_wildcard(QIOChannelSocket *sioc, GSocketConnectable *addr,
                              const QIOChannelSocketOptions *opts,
                              QIOSocketBindFunc *bind_one, GError **errp);

/*
 * The first address @addr resolves to (in opts->family) that @bind_one
 * can use; the error of the last one tried, "@op ADDRESS: REASON", or -1.
 */
int qio__socket_bind_first(QIOChannelSocket *sioc, GSocketConnectable *addr,
                           const QIOChannelSocketOptions *opts, int v6only,
                           QIOSocketBindFunc *bind_one, const char *op,
                           GError **errp);

/* A copy of @addr a worker thread may enumerate (see socket-connect.c). */
GSocketConnectable *qio__socket_connectable_copy(GSocketConnectable *addr);

/* "HOST:PORT" for a GNetworkAddress, else the connectable's own text. */
char *qio__socket_connectable_text(GSocketConnectable *addr);

/*
 * Collect the SCM_RIGHTS descriptors of a received @msg into *@fds,
 * *@nfds; with @fds NULL they are closed. -1 with @errp set (and every
 * descriptor closed) when the kernel cut them (MSG_CTRUNC).
 */
int qio__socket_take_fds(struct msghdr *msg, int **fds, size_t *nfds,
                         GError **errp);

/* Attach @nfds descriptors to @msg as SCM_RIGHTS, in @control. */
void qio__socket_put_fds(struct msghdr *msg, QIOSocketControl *control,
                         const int *fds, size_t nfds);

/* sendmsg(2) with MSG_NOSIGNAL, EINTR retried. */
ssize_t qio__socket_sendmsg(int fd, const struct msghdr *msg, int flags);

/* --------------------------------------------------------- datagrams */

/*
 * io_readv of a datagram socket, and recvfrom: one datagram, filtered,
 * its sender remembered; *@from (nullable) gets it, transfer full.
 */
ssize_t qio__dgram_readv(QIOChannelSocket *sioc, const struct iovec *iov,
                         size_t niov, int **fds, size_t *nfds, int flags,
                         GSocketAddress **from, GError **errp);

/*
 * io_writev of a datagram socket, and sendto: one datagram to @to, or
 * (NULL) where the settings say, or the connected peer.
 */
ssize_t qio__dgram_writev(QIOChannelSocket *sioc, const struct iovec *iov,
                          size_t niov, const int *fds, size_t nfds,
                          GSocketAddress *to, GError **errp);

/* @sioc's datagram settings, made the first time they are needed. */
QIOSocketDgram *qio__dgram_settings(QIOChannelSocket *sioc);

/* The socket is going away: forget who sent the last datagram. */
void qio__dgram_forget_sender(QIOSocketDgram *dg);

/* Whether reads of @sioc keep control messages (an IP datagram socket). */
gboolean qio__dgram_keeps_control(QIOChannelSocket *sioc);

/* Free the settings (calling the filter's destroy notify). */
void qio__dgram_free(QIOSocketDgram *dg);

/* @sa as a struct sockaddr: FALSE with @errp set if it does not fit. */
bool qio__socket_address_to_native(GSocketAddress *sa,
                                   struct sockaddr_storage *ss, socklen_t *len,
                                   GError **errp);

/* Whether a resolved address passes the family filters of @opts. */
bool qio__socket_address_wanted(GSocketAddress *sa,
                                const QIOChannelSocketOptions *opts);

/*
 * Run @opts->setup, if any, on the new socket @fd of family @family; its
 * error is prefixed with "@op ADDRESS: " (the address is @sa).
 */
bool qio__socket_setup(int fd, int family, const QIOChannelSocketOptions *opts,
                       const char *op, GSocketAddress *sa, GError **errp);

/* "@op ADDRESS: no address of the requested family" */
void qio__socket_no_address_error(GSocketConnectable *addr, const char *op,
                                  GError **errp);

/*
 * Start the record of an operation; @sioc points to it until it finishes.
 * The checks of connect_async and listen_async: NULL (and a critical) for
 * a bad argument, a channel that has a socket or an operation already.
 */
QIOSocketAsync *qio__socket_async_new(QIOChannelSocket *sioc,
                                      GSocketConnectable *addr,
                                      const QIOChannelSocketOptions *opts,
                                      QIOTaskFunc callback, gpointer opaque,
                                      GDestroyNotify destroy,
                                      GMainContext *context);

/*
 * Report @err (transfer full, NULL for success) through the caller's
 * task, and free @op. The channel is free for another operation by the
 * time the callback runs.
 */
void qio__socket_async_finish(QIOSocketAsync *op, GError *err);

/* "@what ADDRESS: the channel was closed", for an abandoned operation. */
GError *qio__socket_async_closed_error(QIOSocketAsync *op, const char *what);

/*
 * The channel is being closed: give up. A connect attempt in flight is
 * stopped now and the operation completes from the context; a worker
 * still resolving or listening cannot be stopped, so its result is
 * dropped when it arrives.
 */
void qio__socket_async_abandon(QIOSocketAsync *op);

/* ---------------------------------------------------------------- datagrams */

/*
 * QIODatagramServer (lib/datagram-server.c) and its sessions,
 * QIOChannelDatagramPeer (lib/channel-datagram-peer.c). Neither holds
 * a reference on the other: the server's table points at each peer,
 * keyed by the peer's own QIODatagramAddr, and a peer points back at its
 * server until one of them forgets the other (the peer ends, closes or
 * is disposed; the server stops or is disposed).
 */

/* A sender's address as recvmsg(2) gave it, made comparable. */
typedef struct {
    socklen_t len;
    struct sockaddr_storage ss;
} QIODatagramAddr;

/* Room for the control messages an IP datagram may come with. */
typedef union {
    char buf[512];
    struct cmsghdr align;
} QIODatagramControl;

/*
 * Clear what may differ between two datagrams of one sender (the IPv6
 * flow label). FALSE for an address nobody can be answered at (an
 * unbound unix socket).
 */
bool qio__datagram_addr_canonicalize(QIODatagramAddr *addr);

/* GHashFunc, GEqualFunc */
guint qio__datagram_addr_hash(gconstpointer addr);
gboolean qio__datagram_addr_equal(gconstpointer a, gconstpointer b);

/* A session of @server with the sender @addr, answered through @sock. */
QIOChannelDatagramPeer *qio__datagram_peer_new(QIODatagramServer *server,
                                               QIOChannelSocket *sock,
                                               const QIODatagramAddr *addr);

/* The peer's address: the key of the server's table. */
const QIODatagramAddr *qio__datagram_peer_addr(QIOChannelDatagramPeer *peer);

/*
 * Queue a copy of a datagram; FALSE when it was dropped (the queue is
 * full, counted, or reading was shut down).
 */
bool qio__datagram_peer_push(QIOChannelDatagramPeer *peer, const void *data,
                             size_t len);

/* The server let go of @peer: the session ends, the back-pointer goes. */
void qio__datagram_peer_detach(QIOChannelDatagramPeer *peer);

/* The control messages of the datagram that began @peer's session. */
void qio__datagram_peer_set_control(QIOChannelDatagramPeer *peer,
                                    const void *control, size_t len);

/* @peer ends, closes or is disposed: forget it (and detach it). */
void qio__datagram_server_forget(QIODatagramServer *server,
                                 QIOChannelDatagramPeer *peer);

G_END_DECLS

#endif /* QIO_PRIVATE_H */
