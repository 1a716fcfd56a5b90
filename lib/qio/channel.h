/*
 * libqio - I/O channels on GLib
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_CHANNEL_H
#define QIO_CHANNEL_H

#include <glib-object.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "qio/coroutine.h"

G_BEGIN_DECLS

/**
 * QIOChannel:
 *
 * The abstract base class of every channel: a bidirectional byte stream
 * with scatter/gather I/O, optional descriptor passing, watches as
 * GSources, and blocking, non-blocking or coroutine-yielding use. The API
 * follows QEMU's include/io/channel.h, carried to GObject.
 *
 * Threads: a channel belongs to one thread, the one that runs the
 * #GMainContext it is attached to (qio_channel_attach_aio_context(), else
 * the thread-default context of the thread that uses it), where its
 * watches, qio_channel_yield()'s handlers and its asynchronous callbacks
 * run. Only that thread may call the channel's functions. Another thread
 * may take and drop references (g_object_ref(), g_object_unref()) and call
 * the functions documented as safe from any thread
 * (qio_channel_shutdown(), qio_channel_wake_read()); nothing else. Drop
 * the last reference on the owning thread, or once that thread no longer
 * uses the channel: finalizing closes the descriptor and destroys the
 * channel's sources. A channel with nothing pending (no watch, no
 * suspended coroutine, no asynchronous operation) may be handed to
 * another thread, which owns it from then on. Coroutines are per thread
 * as well (see qio/coroutine.h): each thread has its own pool, and a
 * coroutine waiting on a channel is resumed in its owner's context.
 * Threads that each keep their own channels and contexts need no locking
 * between them: libqio has no global mutable state but each thread's
 * coroutine pool, which is thread-local. Blocking I/O on one channel from
 * two threads at once is not supported either, except one reader and
 * one writer where a channel type says so (#QIOChannelTLS).
 */
#define QIO_TYPE_CHANNEL (qio_channel_get_type())
G_DECLARE_DERIVABLE_TYPE(QIOChannel, qio_channel, QIO, CHANNEL, GObject)

/**
 * QIO_CHANNEL_ERR_BLOCK:
 *
 * Returned by read and write functions on a non-blocking channel when no
 * data could be moved. It is a return value, never a #GError.
 */
#define QIO_CHANNEL_ERR_BLOCK -2

/**
 * QIO_CHANNEL_WRITE_FLAG_ZERO_COPY:
 *
 * Send without copying (needs the %QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY
 * feature); see qio_channel_flush().
 */
#define QIO_CHANNEL_WRITE_FLAG_ZERO_COPY 0x1

/**
 * QIO_CHANNEL_READ_FLAG_MSG_PEEK:
 *
 * Read without consuming (needs the %QIO_CHANNEL_FEATURE_READ_MSG_PEEK
 * feature).
 */
#define QIO_CHANNEL_READ_FLAG_MSG_PEEK 0x1

/**
 * QIOChannelFeature:
 * @QIO_CHANNEL_FEATURE_FD_PASS: descriptors can travel with data
 * @QIO_CHANNEL_FEATURE_SHUTDOWN: qio_channel_shutdown() is supported
 * @QIO_CHANNEL_FEATURE_LISTEN: the channel is a listening socket
 * @QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY: %QIO_CHANNEL_WRITE_FLAG_ZERO_COPY
 * @QIO_CHANNEL_FEATURE_READ_MSG_PEEK: %QIO_CHANNEL_READ_FLAG_MSG_PEEK
 *
 * What a channel can do beyond reading and writing; ask with
 * qio_channel_has_feature().
 */
typedef enum {
    QIO_CHANNEL_FEATURE_FD_PASS,
    QIO_CHANNEL_FEATURE_SHUTDOWN,
    QIO_CHANNEL_FEATURE_LISTEN,
    QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY,
    QIO_CHANNEL_FEATURE_READ_MSG_PEEK,
} QIOChannelFeature;

/**
 * QIOChannelShutdown:
 * @QIO_CHANNEL_SHUTDOWN_READ: stop receiving
 * @QIO_CHANNEL_SHUTDOWN_WRITE: stop sending (the peer sees end-of-file)
 * @QIO_CHANNEL_SHUTDOWN_BOTH: both
 *
 * The direction(s) qio_channel_shutdown() shuts.
 */
typedef enum {
    QIO_CHANNEL_SHUTDOWN_READ = 1,
    QIO_CHANNEL_SHUTDOWN_WRITE = 2,
    QIO_CHANNEL_SHUTDOWN_BOTH = 3,
} QIOChannelShutdown;

/**
 * QIO_CHANNEL_ERROR:
 *
 * Error domain for conditions that are not an operating system error
 * (those are reported in %G_IO_ERROR, from g_io_error_from_errno()).
 */
#define QIO_CHANNEL_ERROR (qio_channel_error_quark())

/**
 * qio_channel_error_quark:
 *
 * The function behind %QIO_CHANNEL_ERROR.
 *
 * Returns: the #GQuark of the %QIO_CHANNEL_ERROR domain.
 */
GQuark qio_channel_error_quark(void);

/**
 * QIOChannelError:
 * @QIO_CHANNEL_ERROR_NOT_SUPPORTED: the channel lacks the feature or
 *   operation asked for
 * @QIO_CHANNEL_ERROR_EOF: end-of-file before all requested data
 * @QIO_CHANNEL_ERROR_FD_TRUNCATED: descriptors were lost because the
 *   control buffer was too small (MSG_CTRUNC)
 * @QIO_CHANNEL_ERROR_PROTOCOL: malformed data from the peer
 * @QIO_CHANNEL_ERROR_CLOSED: the channel was closed
 *
 * The codes of the %QIO_CHANNEL_ERROR domain.
 */
typedef enum {
    QIO_CHANNEL_ERROR_NOT_SUPPORTED,
    QIO_CHANNEL_ERROR_EOF,
    QIO_CHANNEL_ERROR_FD_TRUNCATED,
    QIO_CHANNEL_ERROR_PROTOCOL,
    QIO_CHANNEL_ERROR_CLOSED,
} QIOChannelError;

/**
 * QIOChannelFunc:
 * @ioc: the channel being watched
 * @condition: the conditions that are ready (a subset of those watched,
 *   plus %G_IO_HUP / %G_IO_ERR / %G_IO_NVAL when they occur)
 * @data: the user data of the watch
 *
 * The callback of a channel watch (qio_channel_add_watch(),
 * qio_channel_create_watch()), called in the watch's #GMainContext when
 * @ioc is ready.
 *
 * Returns: %G_SOURCE_CONTINUE to keep watching, %G_SOURCE_REMOVE to stop.
 */
typedef gboolean (*QIOChannelFunc)(QIOChannel *ioc, GIOCondition condition,
                                   gpointer data);

/*
 * IOHandler: a handler installed by qio_channel_set_aio_fd_handler().
 * QEMU's name; GObject introspection, which wants the namespace prefix,
 * sees it as QIOAioHandler (not callable from bindings), and documents it
 * under that name.
 */
#ifdef __GI_SCANNER__
/**
 * QIOAioHandler:
 * @opaque: the pointer given to qio_channel_set_aio_fd_handler()
 *
 * A read or write handler installed by qio_channel_set_aio_fd_handler(),
 * called in the handler's #GMainContext while the channel is ready; C
 * code calls this type IOHandler, QEMU's name. Not callable from
 * bindings.
 */
#define IOHandler QIOAioHandler
#endif
typedef void IOHandler(void *opaque);

/**
 * QIOChannelClass:
 * @io_writev: mandatory; write from @iov, optionally passing @fds
 * @io_readv: mandatory; read into @iov, optionally receiving descriptors
 *   into a newly allocated *@fds
 * @io_close: mandatory; release the underlying resource
 * @io_create_watch: mandatory; a #GSource for @condition
 * @io_set_blocking: mandatory; switch blocking mode
 * @io_shutdown: optional; must be thread-safe and must not block
 * @io_set_cork: optional hint
 * @io_set_delay: optional hint
 * @io_seek: optional
 * @io_set_aio_fd_handler: optional; install read/write handlers in a
 *   #GMainContext (the default uses the channel's watches)
 * @io_flush: optional; wait for zero-copy sends
 *
 * The contract subclasses implement. Public wrappers check features and
 * missing optional methods and report a #GError, so subclasses need not.
 */
struct _QIOChannelClass {
    GObjectClass parent_class;

    ssize_t (*io_writev)(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                         int *fds, size_t nfds, int flags, GError **errp);
    ssize_t (*io_readv)(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                        int **fds, size_t *nfds, int flags, GError **errp);
    int (*io_close)(QIOChannel *ioc, GError **errp);
    GSource *(*io_create_watch)(QIOChannel *ioc, GIOCondition condition);
    int (*io_set_blocking)(QIOChannel *ioc, bool enabled, GError **errp);

    int (*io_shutdown)(QIOChannel *ioc, QIOChannelShutdown how, GError **errp);
    void (*io_set_cork)(QIOChannel *ioc, bool enabled);
    void (*io_set_delay)(QIOChannel *ioc, bool enabled);
    off_t (*io_seek)(QIOChannel *ioc, off_t offset, int whence, GError **errp);
    void (*io_set_aio_fd_handler)(QIOChannel *ioc, GMainContext *ctx,
                                  IOHandler *io_read, IOHandler *io_write,
                                  void *opaque);
    int (*io_flush)(QIOChannel *ioc, GError **errp);

    gpointer padding[8];
};

/**
 * qio_channel_has_feature:
 * @ioc: the channel
 * @feature: the feature to test
 *
 * Tells whether @ioc can do what @feature names.
 *
 * Returns: %TRUE if @ioc supports @feature.
 */
bool qio_channel_has_feature(QIOChannel *ioc, QIOChannelFeature feature);

/**
 * qio_channel_set_feature:
 * @ioc: the channel
 * @feature: the feature to mark as supported
 *
 * For subclasses: declare that @ioc supports @feature.
 */
void qio_channel_set_feature(QIOChannel *ioc, QIOChannelFeature feature);

/**
 * qio_channel_set_name:
 * @ioc: the channel
 * @name: a name for diagnostics, copied
 *
 * Names the channel; the name is given to the channel's watch sources
 * (g_source_set_name()).
 */
void qio_channel_set_name(QIOChannel *ioc, const char *name);

/**
 * qio_channel_get_name:
 * @ioc: the channel
 *
 * Gets the name given for diagnostics.
 *
 * Returns: (transfer none) (nullable): the name set by
 * qio_channel_set_name().
 */
const char *qio_channel_get_name(QIOChannel *ioc);

/**
 * qio_channel_readv_full:
 * @ioc: the channel
 * @iov: the regions to fill, each filled before the next is used
 * @niov: number of elements in @iov
 * @fds: (out) (optional): where to store a newly allocated array of the
 *   descriptors received, or %NULL
 * @nfds: (out) (optional): the number of elements in *@fds
 * @flags: %QIO_CHANNEL_READ_FLAG_MSG_PEEK or 0
 * @errp: return location for an error
 *
 * Reads what is available, at least one byte in blocking mode. Received
 * descriptors belong to the caller, who must close each one and g_free()
 * the array. Passing @fds, or @flags the channel does not support, is an
 * error (%QIO_CHANNEL_ERROR_NOT_SUPPORTED).
 *
 * Returns: the number of bytes read (0 at end-of-file), -1 on error, or
 * %QIO_CHANNEL_ERR_BLOCK when a non-blocking channel has nothing yet.
 */
ssize_t qio_channel_readv_full(QIOChannel *ioc, const struct iovec *iov,
                               size_t niov, int **fds, size_t *nfds, int flags,
                               GError **errp);

/**
 * qio_channel_writev_full:
 * @ioc: the channel
 * @iov: the regions to send, in order
 * @niov: number of elements in @iov
 * @fds: (nullable): descriptors to send with the data
 * @nfds: number of elements in @fds
 * @flags: %QIO_CHANNEL_WRITE_FLAG_ZERO_COPY or 0
 * @errp: return location for an error
 *
 * Writes as much as the channel takes, at least one byte in blocking mode.
 * All descriptors are sent if at least one byte was. The caller keeps
 * ownership of @fds.
 *
 * Returns: the number of bytes written, -1 on error, or
 * %QIO_CHANNEL_ERR_BLOCK when a non-blocking channel takes nothing now.
 */
ssize_t qio_channel_writev_full(QIOChannel *ioc, const struct iovec *iov,
                                size_t niov, int *fds, size_t nfds, int flags,
                                GError **errp);

/**
 * qio_channel_readv_all_eof:
 * @ioc: the channel
 * @iov: the regions to fill completely
 * @niov: number of elements in @iov
 * @errp: return location for an error
 *
 * Reads until every region is full, yielding inside a coroutine or
 * waiting with qio_channel_wait() outside one when the channel would
 * block.
 *
 * Returns: 1 when all was read, 0 at end-of-file before any byte, -1 on
 * error (including end-of-file after some bytes).
 */
int coroutine_mixed_fn qio_channel_readv_all_eof(QIOChannel *ioc,
                                                 const struct iovec *iov,
                                                 size_t niov, GError **errp);

/**
 * qio_channel_readv_all:
 * @ioc: the channel
 * @iov: the regions to fill completely
 * @niov: number of elements in @iov
 * @errp: return location for an error
 *
 * As qio_channel_readv_all_eof(), but end-of-file is always an error.
 *
 * Returns: 0 when all was read, -1 on error.
 */
int coroutine_mixed_fn qio_channel_readv_all(QIOChannel *ioc,
                                             const struct iovec *iov,
                                             size_t niov, GError **errp);

/**
 * qio_channel_writev_all:
 * @ioc: the channel
 * @iov: the regions to send completely
 * @niov: number of elements in @iov
 * @errp: return location for an error
 *
 * Writes everything, yielding or waiting when the channel would block.
 *
 * Returns: 0 when all was written, -1 on error.
 */
int coroutine_mixed_fn qio_channel_writev_all(QIOChannel *ioc,
                                              const struct iovec *iov,
                                              size_t niov, GError **errp);

/**
 * qio_channel_readv:
 * @ioc: the channel
 * @iov: the regions to fill
 * @niov: number of elements in @iov
 * @errp: return location for an error
 *
 * qio_channel_readv_full() without descriptors or flags.
 *
 * Returns: as qio_channel_readv_full().
 */
ssize_t qio_channel_readv(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                          GError **errp);

/**
 * qio_channel_writev:
 * @ioc: the channel
 * @iov: the regions to send
 * @niov: number of elements in @iov
 * @errp: return location for an error
 *
 * qio_channel_writev_full() without descriptors or flags.
 *
 * Returns: as qio_channel_writev_full().
 */
ssize_t qio_channel_writev(QIOChannel *ioc, const struct iovec *iov,
                           size_t niov, GError **errp);

/**
 * qio_channel_read:
 * @ioc: the channel
 * @buf: (out caller-allocates) (array length=buflen) (element-type guint8):
 *   the buffer to fill
 * @buflen: its size
 * @errp: return location for an error
 *
 * qio_channel_readv() into one buffer.
 *
 * Returns: as qio_channel_readv_full().
 */
ssize_t qio_channel_read(QIOChannel *ioc, char *buf, size_t buflen,
                         GError **errp);

/**
 * qio_channel_read_bytes:
 * @ioc: the channel
 * @count: the most bytes to read
 * @errp: return location for an error
 *
 * qio_channel_read() into a new #GBytes: the form for language bindings,
 * as g_input_stream_read_bytes() is GIO's.
 *
 * Returns: (transfer full) (nullable): the bytes read (empty at end of
 *   file), or %NULL with @errp set: on error, or, with
 *   %G_IO_ERROR_WOULD_BLOCK, when a non-blocking channel has nothing to
 *   read yet.
 */
GBytes *qio_channel_read_bytes(QIOChannel *ioc, gsize count, GError **errp);

/**
 * qio_channel_write:
 * @ioc: the channel
 * @buf: (array length=buflen) (element-type guint8): the bytes to send
 * @buflen: how many
 * @errp: return location for an error
 *
 * qio_channel_writev() from one buffer.
 *
 * Returns: as qio_channel_writev_full().
 */
ssize_t qio_channel_write(QIOChannel *ioc, const char *buf, size_t buflen,
                          GError **errp);

/**
 * qio_channel_read_all_eof:
 * @ioc: the channel
 * @buf: the buffer to fill completely
 * @buflen: its size
 * @errp: return location for an error
 *
 * qio_channel_readv_all_eof() into one buffer.
 *
 * Returns: 1 when all was read, 0 at end-of-file before any byte, -1 on
 * error.
 */
int coroutine_mixed_fn qio_channel_read_all_eof(QIOChannel *ioc, char *buf,
                                                size_t buflen, GError **errp);

/**
 * qio_channel_read_all:
 * @ioc: the channel
 * @buf: the buffer to fill completely
 * @buflen: its size
 * @errp: return location for an error
 *
 * qio_channel_readv_all() into one buffer.
 *
 * Returns: 0 when all was read, -1 on error.
 */
int coroutine_mixed_fn qio_channel_read_all(QIOChannel *ioc, char *buf,
                                            size_t buflen, GError **errp);

/**
 * qio_channel_write_all:
 * @ioc: the channel
 * @buf: the bytes to send completely
 * @buflen: how many
 * @errp: return location for an error
 *
 * qio_channel_writev_all() from one buffer.
 *
 * Returns: 0 when all was written, -1 on error.
 */
int coroutine_mixed_fn qio_channel_write_all(QIOChannel *ioc, const char *buf,
                                             size_t buflen, GError **errp);

/**
 * qio_channel_readv_full_all_eof:
 * @ioc: the channel
 * @iov: the regions to fill completely
 * @niov: number of elements in @iov
 * @fds: (out) (optional): descriptors received along the way, newly
 *   allocated; the caller closes them and frees the array
 * @nfds: (out) (optional): number of elements in *@fds
 * @errp: return location for an error
 *
 * As qio_channel_readv_all_eof(), also collecting descriptors. On error
 * every descriptor received so far is closed and *@fds is %NULL.
 *
 * Returns: 1 when all was read, 0 at end-of-file before any byte or
 * descriptor, -1 on error.
 */
int coroutine_mixed_fn qio_channel_readv_full_all_eof(QIOChannel *ioc,
                                                      const struct iovec *iov,
                                                      size_t niov, int **fds,
                                                      size_t *nfds,
                                                      GError **errp);

/**
 * qio_channel_readv_full_all:
 * @ioc: the channel
 * @iov: the regions to fill completely
 * @niov: number of elements in @iov
 * @fds: (out) (optional): as qio_channel_readv_full_all_eof()
 * @nfds: (out) (optional): number of elements in *@fds
 * @errp: return location for an error
 *
 * As qio_channel_readv_full_all_eof(), but end-of-file is an error.
 *
 * Returns: 0 when all was read, -1 on error.
 */
int coroutine_mixed_fn qio_channel_readv_full_all(QIOChannel *ioc,
                                                  const struct iovec *iov,
                                                  size_t niov, int **fds,
                                                  size_t *nfds, GError **errp);

/**
 * qio_channel_writev_full_all:
 * @ioc: the channel
 * @iov: the regions to send completely
 * @niov: number of elements in @iov
 * @fds: (nullable): descriptors to send with the first byte
 * @nfds: number of elements in @fds
 * @flags: %QIO_CHANNEL_WRITE_FLAG_ZERO_COPY or 0
 * @errp: return location for an error
 *
 * Writes everything, yielding or waiting when the channel would block.
 * With %QIO_CHANNEL_WRITE_FLAG_ZERO_COPY it returns once all is queued:
 * call qio_channel_flush() before reusing the buffers.
 *
 * Returns: 0 when all was written, -1 on error.
 */
int coroutine_mixed_fn qio_channel_writev_full_all(QIOChannel *ioc,
                                                   const struct iovec *iov,
                                                   size_t niov, int *fds,
                                                   size_t nfds, int flags,
                                                   GError **errp);

/**
 * qio_channel_set_blocking:
 * @ioc: the channel
 * @enabled: %TRUE for blocking mode
 * @errp: return location for an error
 *
 * In non-blocking mode reads and writes return %QIO_CHANNEL_ERR_BLOCK
 * instead of waiting.
 *
 * Returns: 0 on success, -1 on error.
 */
int qio_channel_set_blocking(QIOChannel *ioc, bool enabled, GError **errp);

/**
 * qio_channel_close:
 * @ioc: the channel
 * @errp: return location for an error
 *
 * Closes the channel and releases what it holds. Further I/O fails.
 *
 * Returns: 0 on success, -1 on error.
 */
int qio_channel_close(QIOChannel *ioc, GError **errp);

/**
 * qio_channel_shutdown:
 * @ioc: the channel
 * @how: which direction(s) to shut
 * @errp: return location for an error
 *
 * Shuts a direction without closing the channel; shutting
 * %QIO_CHANNEL_SHUTDOWN_WRITE makes the peer read end-of-file. Needs
 * %QIO_CHANNEL_FEATURE_SHUTDOWN. Thread-safe, never blocks.
 *
 * Returns: 0 on success, -1 on error.
 */
int qio_channel_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                         GError **errp);

/**
 * qio_channel_set_delay:
 * @ioc: the channel
 * @enabled: %FALSE to send small writes at once (TCP_NODELAY)
 *
 * A hint: whether the transport may delay writes to merge them.
 */
void qio_channel_set_delay(QIOChannel *ioc, bool enabled);

/**
 * qio_channel_set_cork:
 * @ioc: the channel
 * @enabled: %TRUE to hold written data back until uncorked (TCP_CORK)
 *
 * A hint for explicit write merging.
 */
void qio_channel_set_cork(QIOChannel *ioc, bool enabled);

/**
 * qio_channel_io_seek:
 * @ioc: the channel
 * @offset: the position, relative to @whence
 * @whence: SEEK_SET, SEEK_CUR or SEEK_END
 * @errp: return location for an error
 *
 * Moves the I/O position of a seekable channel.
 *
 * Returns: the new position, or (off_t)-1 on error.
 */
off_t qio_channel_io_seek(QIOChannel *ioc, off_t offset, int whence,
                          GError **errp);

/**
 * qio_channel_create_watch:
 * @ioc: the channel
 * @condition: the conditions to wait for
 *
 * Creates a source that is ready when @ioc is ready for @condition; set
 * its callback with g_source_set_callback() and attach it with
 * g_source_attach().
 *
 * Returns: (transfer full): a new, unattached #GSource whose callback is a
 * #QIOChannelFunc. It holds a reference on @ioc.
 */
GSource *qio_channel_create_watch(QIOChannel *ioc, GIOCondition condition);

/**
 * qio_channel_add_watch:
 * @ioc: the channel
 * @condition: the conditions to wait for
 * @func: called when one of them is ready
 * @user_data: passed to @func
 * @notify: (nullable): frees @user_data when the watch goes away
 *
 * Watches @ioc in the thread-default main context.
 *
 * Returns: the source id, for g_source_remove().
 */
guint qio_channel_add_watch(QIOChannel *ioc, GIOCondition condition,
                            QIOChannelFunc func, gpointer user_data,
                            GDestroyNotify notify);

/**
 * qio_channel_add_watch_full:
 * @ioc: the channel
 * @condition: the conditions to wait for
 * @func: called when one of them is ready
 * @user_data: passed to @func
 * @notify: (nullable): frees @user_data when the watch goes away
 * @context: (nullable): where to run the watch (%NULL: the global default)
 *
 * As qio_channel_add_watch(), in @context.
 *
 * Returns: the source id within @context.
 */
guint qio_channel_add_watch_full(QIOChannel *ioc, GIOCondition condition,
                                 QIOChannelFunc func, gpointer user_data,
                                 GDestroyNotify notify, GMainContext *context);

/**
 * qio_channel_add_watch_source:
 * @ioc: the channel
 * @condition: the conditions to wait for
 * @func: called when one of them is ready
 * @user_data: passed to @func
 * @notify: (nullable): frees @user_data when the watch goes away
 * @context: (nullable): where to run the watch
 *
 * As qio_channel_add_watch_full(), returning the source itself rather
 * than its id, which is only unique within one context.
 *
 * Returns: (transfer full): the attached source; g_source_unref() it.
 */
GSource *qio_channel_add_watch_source(QIOChannel *ioc, GIOCondition condition,
                                      QIOChannelFunc func, gpointer user_data,
                                      GDestroyNotify notify,
                                      GMainContext *context);

/**
 * qio_channel_attach_aio_context:
 * @ioc: the channel
 * @ctx: (nullable): the context qio_channel_yield() installs its handlers
 *   in; %NULL means the thread-default context at the time of the yield
 *
 * To move a channel between contexts while a coroutine waits on it: detach,
 * attach the new context, then re-enter the coroutine from that context's
 * thread (for example with g_main_context_invoke()). The channel itself
 * does not synchronise these calls with qio_channel_yield().
 */
void qio_channel_attach_aio_context(QIOChannel *ioc, GMainContext *ctx);

/**
 * qio_channel_detach_aio_context:
 * @ioc: the channel
 *
 * Removes the handlers qio_channel_yield() installed and forgets the
 * context; a coroutine waiting in qio_channel_yield() stays suspended
 * until re-entered.
 */
void qio_channel_detach_aio_context(QIOChannel *ioc);

/**
 * qio_channel_yield:
 * @ioc: the channel
 * @condition: %G_IO_IN or %G_IO_OUT, not both
 *
 * Suspends the calling coroutine until @ioc is ready for @condition (or
 * the coroutine is re-entered from elsewhere, in which case it returns
 * early). One coroutine at most may wait per direction. Coroutine
 * context only.
 */
void coroutine_fn qio_channel_yield(QIOChannel *ioc, GIOCondition condition);

/**
 * qio_channel_wake_read:
 * @ioc: the channel
 *
 * Makes a coroutine waiting in qio_channel_yield() for %G_IO_IN return
 * at once. Safe from any thread.
 */
void qio_channel_wake_read(QIOChannel *ioc);

/**
 * qio_channel_wait:
 * @ioc: the channel
 * @condition: the conditions to wait for
 *
 * Blocks the calling thread until @ioc is ready for @condition, running a
 * nested main loop on a private #GMainContext (so no other source of the
 * caller's contexts is dispatched meanwhile).
 */
void qio_channel_wait(QIOChannel *ioc, GIOCondition condition);

/**
 * qio_channel_set_aio_fd_handler: (skip)
 * @ioc: the channel
 * @ctx: (nullable): the context to install the handlers in (%NULL: the
 *   thread-default one)
 * @io_read: (nullable): called when @ioc is readable; %NULL removes it
 * @io_write: (nullable): called when @ioc is writable; %NULL removes it
 * @opaque: passed to the handlers
 *
 * Installs (or replaces, or removes) level-triggered read and write
 * handlers. qio_channel_yield() is built on it; layered channels forward
 * it to the channel below.
 *
 * Sockets are watched in one epoll(7) set per context, which one source
 * of @ctx polls: installing and removing handlers costs an epoll_ctl(2)
 * and wakes no thread, and an iteration looks only at the sockets that
 * are ready. Other channels get a watch source per direction. Install
 * and remove handlers from the thread that runs @ctx (or while none
 * does). Closing the channel removes them; a socket channel that gets a
 * new socket keeps them, on the new one.
 *
 * A context whose poll function is still GLib's (g_poll()) gets libqio's
 * with its epoll set (g_main_context_set_poll_func()): the context's
 * other descriptors wait in the same set, and an iteration makes one
 * epoll_wait(2) where it made a poll(2) and an epoll_wait(2). A context
 * with a poll function of its own keeps it. Descriptors epoll refuses
 * (regular files) make an iteration a g_poll(), as before. A watched
 * descriptor that another descriptor replaces with dup2(2), without its
 * source being removed and added again, is not seen anew.
 */
void qio_channel_set_aio_fd_handler(QIOChannel *ioc, GMainContext *ctx,
                                    IOHandler *io_read, IOHandler *io_write,
                                    void *opaque);

/**
 * qio_channel_flush:
 * @ioc: the channel
 * @errp: return location for an error
 *
 * Waits until every zero-copy write has left. A no-op returning 0 on
 * channels without zero-copy.
 *
 * Returns: -1 on error, 1 if every send fell back to copying, 0 otherwise.
 */
int qio_channel_flush(QIOChannel *ioc, GError **errp);

G_END_DECLS

#endif /* QIO_CHANNEL_H */
