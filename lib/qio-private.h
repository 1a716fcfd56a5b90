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
#include <gio/gio.h>

#include "qio/channel.h"

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

typedef struct {
    QIOAioEpoll *ep;            /* registered there, or NULL */
    int fd;
    uint32_t events;            /* EPOLLIN, EPOLLOUT as registered */
    IOHandler *io_read;
    IOHandler *io_write;
    void *opaque;
    uint32_t revents;           /* what epoll reported, for the handlers */
} QIOAioFd;

/*
 * Make @ctx's epoll set now rather than for the first handler: a server
 * holds the same descriptors after its first client as before it.
 */
void qio__aio_epoll_prepare(GMainContext *ctx);

void qio__aio_fd_init(QIOAioFd *r);

/*
 * Watch @fd in @ctx with these handlers (both NULL: stop watching).
 * FALSE when epoll cannot take @fd (a regular file, or a descriptor
 * already in the set): then nothing is registered.
 */
bool qio__aio_fd_set(QIOAioFd *r, GMainContext *ctx, int fd,
                     IOHandler *io_read, IOHandler *io_write, void *opaque);

/* Stop watching; before the descriptor is closed. */
void qio__aio_fd_clear(QIOAioFd *r);

/*
 * For channel implementations: the one descriptor that is polled for
 * both directions, or -1 when there is none (or more than one). Called
 * whenever it changes, and with -1 before it is closed.
 */
void qio__channel_set_poll_fd(QIOChannel *ioc, int fd);

G_END_DECLS

#endif /* QIO_PRIVATE_H */
