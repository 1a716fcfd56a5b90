/*
 * libqio - helpers shared between the library's own files (not installed)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_PRIVATE_H
#define QIO_PRIVATE_H

#include "config.h"

#include <errno.h>
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

G_END_DECLS

#endif /* QIO_PRIVATE_H */
