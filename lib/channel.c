/*
 * libqio - the abstract QIOChannel
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include <string.h>
#include <unistd.h>

#include "qio/channel.h"

typedef struct {
    IOHandler *handler;
    GSource *source;
} QIOChannelAioHandler;

typedef struct {
    unsigned int features;
    char *name;
    GMainContext *ctx;            /* set by attach_aio_context */
    QIOCoroutine *read_coroutine; /* atomic: wake_read may run anywhere */
    QIOCoroutine *write_coroutine;
    GMainContext *read_ctx; /* atomic: where read_coroutine waits */
    GMainContext *aio_ctx;  /* where the handlers below live */
    QIOChannelAioHandler aio_read;
    QIOChannelAioHandler aio_write;
    void *aio_opaque;
    int poll_fd;           /* qio__channel_set_poll_fd(), or -1 */
    bool poll_fd_no_epoll; /* epoll refused it: use watches */
    QIOAioFd aio_fd;       /* the handlers, when in epoll */
} QIOChannelPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(QIOChannel, qio_channel, G_TYPE_OBJECT)

/* The domain's name is the macro argument as written. */
/* clang-format off */
G_DEFINE_QUARK(qio-channel-error-quark, qio_channel_error)
/* clang-format on */

#define PRIV(ioc) ((QIOChannelPrivate *)qio_channel_get_instance_private(ioc))

/* ---------------------------------------------------------------- helpers */

void qio__error_errno(GError **errp, int err, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *what = NULL;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, G_IO_ERROR, g_io_error_from_errno(err), "%s: %s", what,
                g_strerror(err));
}

void qio__error(GError **errp, QIOChannelError code, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(errp, QIO_CHANNEL_ERROR, code, msg);
}

void qio__close_fds(int *fds, size_t nfds)
{
    for (size_t i = 0; fds && i < nfds; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    g_free(fds);
}

size_t qio__iov_size(const struct iovec *iov, size_t niov)
{
    size_t len = 0;

    for (size_t i = 0; i < niov; i++) {
        len += iov[i].iov_len;
    }
    return len;
}

size_t qio__iov_discard_front(struct iovec **iov, size_t *niov, size_t skip)
{
    while (*niov > 0 && skip >= (*iov)[0].iov_len) {
        skip -= (*iov)[0].iov_len;
        (*iov)++;
        (*niov)--;
    }
    if (*niov > 0 && skip > 0) {
        (*iov)[0].iov_base = (char *)(*iov)[0].iov_base + skip;
        (*iov)[0].iov_len -= skip;
    }
    return *niov;
}

/* Append the @n descriptors of @more to the growing array *@fds. */
static void fds_append(int **fds, size_t *nfds, int *more, size_t n)
{
    if (n == 0) {
        g_free(more);
        return;
    }
    *fds = g_renew(int, *fds, *nfds + n);
    memcpy(*fds + *nfds, more, n * sizeof(int));
    *nfds += n;
    g_free(more);
}

/* ---------------------------------------------------------------- object */

static void qio_channel_finalize(GObject *obj)
{
    QIOChannelPrivate *priv = PRIV(QIO_CHANNEL(obj));

    qio__aio_fd_clear(&priv->aio_fd);
    g_clear_pointer(&priv->aio_ctx, g_main_context_unref);
    g_free(priv->name);
    g_clear_pointer(&priv->ctx, g_main_context_unref);
    G_OBJECT_CLASS(qio_channel_parent_class)->finalize(obj);
}

static void qio_channel_base_set_aio_fd_handler(QIOChannel *ioc,
                                                GMainContext *ctx,
                                                IOHandler *io_read,
                                                IOHandler *io_write,
                                                void *opaque);

static void qio_channel_class_init(QIOChannelClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);

    object_class->finalize = qio_channel_finalize;
    klass->io_set_aio_fd_handler = qio_channel_base_set_aio_fd_handler;
}

static void qio_channel_init(QIOChannel *ioc)
{
    QIOChannelPrivate *priv = PRIV(ioc);

    priv->poll_fd = -1;
    qio__aio_fd_init(&priv->aio_fd);
}

/* ---------------------------------------------------------------- basics */

bool qio_channel_has_feature(QIOChannel *ioc, QIOChannelFeature feature)
{
    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), false);
    return PRIV(ioc)->features & (1u << feature);
}

void qio_channel_set_feature(QIOChannel *ioc, QIOChannelFeature feature)
{
    g_return_if_fail(QIO_IS_CHANNEL(ioc));
    PRIV(ioc)->features |= 1u << feature;
}

void qio_channel_set_name(QIOChannel *ioc, const char *name)
{
    QIOChannelPrivate *priv;

    g_return_if_fail(QIO_IS_CHANNEL(ioc));
    priv = PRIV(ioc);
    g_free(priv->name);
    priv->name = g_strdup(name);
}

const char *qio_channel_get_name(QIOChannel *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), NULL);
    return PRIV(ioc)->name;
}

/* ---------------------------------------------------------------- I/O */

static bool check_read_args(QIOChannel *ioc, int **fds, size_t *nfds, int flags,
                            GError **errp)
{
    if ((fds || nfds) &&
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS)) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "channel does not support descriptor passing");
        return false;
    }
    if ((flags & QIO_CHANNEL_READ_FLAG_MSG_PEEK) &&
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_READ_MSG_PEEK)) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "channel does not support peeking (MSG_PEEK)");
        return false;
    }
    return true;
}

ssize_t qio_channel_readv_full(QIOChannel *ioc, const struct iovec *iov,
                               size_t niov, int **fds, size_t *nfds, int flags,
                               GError **errp)
{
    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), -1);
    g_return_val_if_fail(iov || niov == 0, -1);

    if (fds) {
        *fds = NULL;
    }
    if (nfds) {
        *nfds = 0;
    }
    if (!check_read_args(ioc, fds, nfds, flags, errp)) {
        return -1;
    }
    return QIO_CHANNEL_GET_CLASS(ioc)->io_readv(ioc, iov, niov, fds, nfds,
                                                flags, errp);
}

ssize_t qio_channel_writev_full(QIOChannel *ioc, const struct iovec *iov,
                                size_t niov, int *fds, size_t nfds, int flags,
                                GError **errp)
{
    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), -1);
    g_return_val_if_fail(iov || niov == 0, -1);

    if (fds && nfds &&
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS)) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "channel does not support descriptor passing");
        return -1;
    }
    if ((flags & QIO_CHANNEL_WRITE_FLAG_ZERO_COPY) &&
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY)) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "channel does not support zero-copy writes");
        return -1;
    }
    return QIO_CHANNEL_GET_CLASS(ioc)->io_writev(ioc, iov, niov, fds, nfds,
                                                 flags, errp);
}

ssize_t qio_channel_readv(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                          GError **errp)
{
    return qio_channel_readv_full(ioc, iov, niov, NULL, NULL, 0, errp);
}

ssize_t qio_channel_writev(QIOChannel *ioc, const struct iovec *iov,
                           size_t niov, GError **errp)
{
    return qio_channel_writev_full(ioc, iov, niov, NULL, 0, 0, errp);
}

ssize_t qio_channel_read(QIOChannel *ioc, char *buf, size_t buflen,
                         GError **errp)
{
    struct iovec iov = {.iov_base = buf, .iov_len = buflen};

    return qio_channel_readv_full(ioc, &iov, 1, NULL, NULL, 0, errp);
}

GBytes *qio_channel_read_bytes(QIOChannel *ioc, gsize count, GError **errp)
{
    g_autofree char *buf = g_malloc(MAX(count, 1));
    ssize_t n = qio_channel_read(ioc, buf, count, errp);

    if (n == QIO_CHANNEL_ERR_BLOCK) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                            "nothing to read yet");
        return NULL;
    }
    if (n < 0) {
        return NULL;
    }
    return g_bytes_new_take(g_realloc(g_steal_pointer(&buf), MAX(n, 1)), n);
}

ssize_t qio_channel_write(QIOChannel *ioc, const char *buf, size_t buflen,
                          GError **errp)
{
    struct iovec iov = {.iov_base = (char *)buf, .iov_len = buflen};

    return qio_channel_writev_full(ioc, &iov, 1, NULL, 0, 0, errp);
}

/* Wait for @condition: yield inside a coroutine, nested loop outside. */
static void coroutine_mixed_fn wait_ready(QIOChannel *ioc,
                                          GIOCondition condition)
{
    if (qio_in_coroutine()) {
        qio_channel_yield(ioc, condition);
    } else {
        qio_channel_wait(ioc, condition);
    }
}

/*
 * One step of a full read: read into @iov, collecting any descriptors
 * into *@fds. Returns what the read returned.
 */
static ssize_t read_step(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                         int **fds, size_t *nfds, GError **errp)
{
    int *got = NULL;
    size_t ngot = 0;
    ssize_t len;

    len = qio_channel_readv_full(ioc, iov, niov, fds ? &got : NULL,
                                 fds ? &ngot : NULL, 0, errp);
    if (fds) {
        fds_append(fds, nfds, got, ngot);
    }
    return len;
}

int qio_channel_readv_full_all_eof(QIOChannel *ioc, const struct iovec *iov,
                                   size_t niov, int **fds, size_t *nfds,
                                   GError **errp)
{
    g_autofree struct iovec *copy = g_memdup2(iov, niov * sizeof(*iov));
    struct iovec *local = copy;
    size_t nlocal = niov;
    int *allfds = NULL;
    size_t nallfds = 0;
    bool partial = false;

    g_return_val_if_fail(fds == NULL || nfds != NULL, -1);
    /* Defined on every return: NULL unless all the data arrived. */
    if (fds) {
        *fds = NULL;
        *nfds = 0;
    }
    qio__iov_discard_front(&local, &nlocal, 0);
    while (nlocal > 0) {
        ssize_t len =
            read_step(ioc, local, nlocal, fds ? &allfds : NULL, &nallfds, errp);

        if (len == QIO_CHANNEL_ERR_BLOCK) {
            wait_ready(ioc, G_IO_IN);
            continue;
        }
        if (len == 0 && (partial || nallfds > 0)) {
            qio__error(errp, QIO_CHANNEL_ERROR_EOF,
                       "unexpected end-of-file before all data was read");
            len = -1;
        }
        if (len < 0) {
            qio__close_fds(allfds, nallfds);
            return -1;
        }
        if (len == 0) {
            return 0;
        }
        partial = true;
        qio__iov_discard_front(&local, &nlocal, len);
    }
    if (fds) {
        *fds = allfds;
        *nfds = nallfds;
    }
    return 1;
}

int qio_channel_readv_full_all(QIOChannel *ioc, const struct iovec *iov,
                               size_t niov, int **fds, size_t *nfds,
                               GError **errp)
{
    int ret = qio_channel_readv_full_all_eof(ioc, iov, niov, fds, nfds, errp);

    if (ret == 0) {
        qio__error(errp, QIO_CHANNEL_ERROR_EOF,
                   "unexpected end-of-file before all data was read");
        return -1;
    }
    return ret == 1 ? 0 : -1;
}

int qio_channel_readv_all_eof(QIOChannel *ioc, const struct iovec *iov,
                              size_t niov, GError **errp)
{
    return qio_channel_readv_full_all_eof(ioc, iov, niov, NULL, NULL, errp);
}

int qio_channel_readv_all(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                          GError **errp)
{
    return qio_channel_readv_full_all(ioc, iov, niov, NULL, NULL, errp);
}

int qio_channel_read_all_eof(QIOChannel *ioc, char *buf, size_t buflen,
                             GError **errp)
{
    struct iovec iov = {.iov_base = buf, .iov_len = buflen};

    return qio_channel_readv_all_eof(ioc, &iov, 1, errp);
}

int qio_channel_read_all(QIOChannel *ioc, char *buf, size_t buflen,
                         GError **errp)
{
    struct iovec iov = {.iov_base = buf, .iov_len = buflen};

    return qio_channel_readv_all(ioc, &iov, 1, errp);
}

int qio_channel_writev_full_all(QIOChannel *ioc, const struct iovec *iov,
                                size_t niov, int *fds, size_t nfds, int flags,
                                GError **errp)
{
    g_autofree struct iovec *copy = g_memdup2(iov, niov * sizeof(*iov));
    struct iovec *local = copy;
    size_t nlocal = niov;

    qio__iov_discard_front(&local, &nlocal, 0);
    while (nlocal > 0) {
        ssize_t len =
            qio_channel_writev_full(ioc, local, nlocal, fds, nfds, flags, errp);

        if (len == QIO_CHANNEL_ERR_BLOCK) {
            wait_ready(ioc, G_IO_OUT);
            continue;
        }
        if (len < 0) {
            return -1;
        }
        /* The descriptors left with the first byte. */
        fds = NULL;
        nfds = 0;
        qio__iov_discard_front(&local, &nlocal, len);
    }
    return 0;
}

int qio_channel_writev_all(QIOChannel *ioc, const struct iovec *iov,
                           size_t niov, GError **errp)
{
    return qio_channel_writev_full_all(ioc, iov, niov, NULL, 0, 0, errp);
}

int qio_channel_write_all(QIOChannel *ioc, const char *buf, size_t buflen,
                          GError **errp)
{
    struct iovec iov = {.iov_base = (char *)buf, .iov_len = buflen};

    return qio_channel_writev_all(ioc, &iov, 1, errp);
}

/* ---------------------------------------------------------------- control */

int qio_channel_set_blocking(QIOChannel *ioc, bool enabled, GError **errp)
{
    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), -1);
    return QIO_CHANNEL_GET_CLASS(ioc)->io_set_blocking(ioc, enabled, errp);
}

int qio_channel_close(QIOChannel *ioc, GError **errp)
{
    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), -1);

    /* The handlers' sources hold references: drop them with the fd. */
    QIO_CHANNEL_GET_CLASS(ioc)->io_set_aio_fd_handler(ioc, NULL, NULL, NULL,
                                                      NULL);
    return QIO_CHANNEL_GET_CLASS(ioc)->io_close(ioc, errp);
}

int qio_channel_shutdown(QIOChannel *ioc, QIOChannelShutdown how, GError **errp)
{
    QIOChannelClass *klass;

    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), -1);
    klass = QIO_CHANNEL_GET_CLASS(ioc);
    if (!klass->io_shutdown ||
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN)) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "channel does not support shutdown");
        return -1;
    }
    return klass->io_shutdown(ioc, how, errp);
}

void qio_channel_set_delay(QIOChannel *ioc, bool enabled)
{
    QIOChannelClass *klass;

    g_return_if_fail(QIO_IS_CHANNEL(ioc));
    klass = QIO_CHANNEL_GET_CLASS(ioc);
    if (klass->io_set_delay) {
        klass->io_set_delay(ioc, enabled);
    }
}

void qio_channel_set_cork(QIOChannel *ioc, bool enabled)
{
    QIOChannelClass *klass;

    g_return_if_fail(QIO_IS_CHANNEL(ioc));
    klass = QIO_CHANNEL_GET_CLASS(ioc);
    if (klass->io_set_cork) {
        klass->io_set_cork(ioc, enabled);
    }
}

off_t qio_channel_io_seek(QIOChannel *ioc, off_t offset, int whence,
                          GError **errp)
{
    QIOChannelClass *klass;

    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), (off_t)-1);
    klass = QIO_CHANNEL_GET_CLASS(ioc);
    if (!klass->io_seek) {
        qio__error(errp, QIO_CHANNEL_ERROR_NOT_SUPPORTED,
                   "channel does not support seeking");
        return (off_t)-1;
    }
    return klass->io_seek(ioc, offset, whence, errp);
}

int qio_channel_flush(QIOChannel *ioc, GError **errp)
{
    QIOChannelClass *klass;

    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), -1);
    klass = QIO_CHANNEL_GET_CLASS(ioc);
    if (!klass->io_flush ||
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY)) {
        return 0;
    }
    return klass->io_flush(ioc, errp);
}

/* ---------------------------------------------------------------- watches */

GSource *qio_channel_create_watch(QIOChannel *ioc, GIOCondition condition)
{
    GSource *source;
    const char *name;

    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), NULL);
    source = QIO_CHANNEL_GET_CLASS(ioc)->io_create_watch(ioc, condition);
    name = PRIV(ioc)->name;
    if (source && name && !g_source_get_name(source)) {
        g_source_set_name(source, name);
    }
    return source;
}

GSource *qio_channel_add_watch_source(QIOChannel *ioc, GIOCondition condition,
                                      QIOChannelFunc func, gpointer user_data,
                                      GDestroyNotify notify,
                                      GMainContext *context)
{
    GSource *source = qio_channel_create_watch(ioc, condition);

    g_return_val_if_fail(source != NULL, NULL);
    g_source_set_callback(source, (GSourceFunc)(void (*)(void))func, user_data,
                          notify);
    g_source_attach(source, context);
    return source;
}

guint qio_channel_add_watch_full(QIOChannel *ioc, GIOCondition condition,
                                 QIOChannelFunc func, gpointer user_data,
                                 GDestroyNotify notify, GMainContext *context)
{
    GSource *source = qio_channel_add_watch_source(ioc, condition, func,
                                                   user_data, notify, context);
    guint id;

    g_return_val_if_fail(source != NULL, 0);
    id = g_source_get_id(source);
    g_source_unref(source);
    return id;
}

guint qio_channel_add_watch(QIOChannel *ioc, GIOCondition condition,
                            QIOChannelFunc func, gpointer user_data,
                            GDestroyNotify notify)
{
    /* NULL from g_main_context_get_thread_default() is the global one. */
    return qio_channel_add_watch_full(ioc, condition, func, user_data, notify,
                                      g_main_context_get_thread_default());
}

static gboolean wait_done(QIOChannel *ioc, GIOCondition condition,
                          gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

void qio_channel_wait(QIOChannel *ioc, GIOCondition condition)
{
    GMainContext *ctx;
    GSource *source;
    bool done = false;

    g_return_if_fail(QIO_IS_CHANNEL(ioc));
    /* A private context: the caller's other sources must not run here. */
    ctx = g_main_context_new();
    source = qio_channel_add_watch_source(ioc, condition, wait_done, &done,
                                          NULL, ctx);
    while (!done) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(source);
    g_source_unref(source);
    g_main_context_unref(ctx);
}

/* ---------------------------------------------------------------- aio */

static gboolean aio_handler_ready(QIOChannel *ioc, GIOCondition condition,
                                  gpointer data)
{
    QIOChannelAioHandler *h = data;
    QIOChannelPrivate *priv = PRIV(ioc);

    h->handler(priv->aio_opaque);
    return G_SOURCE_CONTINUE;
}

static void aio_handler_clear(QIOChannelAioHandler *h)
{
    if (h->source) {
        g_source_destroy(h->source);
        g_clear_pointer(&h->source, g_source_unref);
    }
    h->handler = NULL;
}

static void aio_handler_set(QIOChannel *ioc, QIOChannelAioHandler *h,
                            GMainContext *ctx, GIOCondition condition,
                            IOHandler *handler)
{
    if (!handler) {
        aio_handler_clear(h);
        return;
    }
    /* Keep a live source: yield re-arms the same handler on every wait. */
    if (h->source && !g_source_is_destroyed(h->source)) {
        h->handler = handler;
        return;
    }
    aio_handler_clear(h);
    h->handler = handler;
    h->source = qio_channel_add_watch_source(ioc, condition, aio_handler_ready,
                                             h, NULL, ctx);
}

/*
 * Handlers of a channel with one pollable descriptor go to @ctx's epoll
 * set (lib/aio-epoll.c); FALSE when there is no such descriptor or epoll
 * refuses it, and watches must do.
 */
static bool aio_epoll_set(QIOChannel *ioc, GMainContext *ctx,
                          IOHandler *io_read, IOHandler *io_write)
{
    QIOChannelPrivate *priv = PRIV(ioc);

    if (priv->poll_fd < 0 || priv->poll_fd_no_epoll) {
        return false;
    }
    if (!qio__aio_fd_set(&priv->aio_fd, ctx, priv->poll_fd, io_read, io_write,
                         priv->aio_opaque)) {
        priv->poll_fd_no_epoll = true;
        return false;
    }
    /* Watches left from before the descriptor was known go. */
    aio_handler_clear(&priv->aio_read);
    aio_handler_clear(&priv->aio_write);
    priv->aio_read.handler = io_read;
    priv->aio_write.handler = io_write;
    return true;
}

/*
 * The default io_set_aio_fd_handler: level-triggered, in @ctx's epoll
 * set, else as watches. Channels layered on another channel override it
 * to forward the handlers below.
 */
static void qio_channel_base_set_aio_fd_handler(QIOChannel *ioc,
                                                GMainContext *ctx,
                                                IOHandler *io_read,
                                                IOHandler *io_write,
                                                void *opaque)
{
    QIOChannelPrivate *priv = PRIV(ioc);

    if (ctx != priv->aio_ctx) {
        aio_handler_clear(&priv->aio_read);
        aio_handler_clear(&priv->aio_write);
        qio__aio_fd_clear(&priv->aio_fd);
        g_clear_pointer(&priv->aio_ctx, g_main_context_unref);
        priv->aio_ctx = ctx ? g_main_context_ref(ctx) : NULL;
    }
    priv->aio_opaque = opaque;
    if (!ctx || !aio_epoll_set(ioc, ctx, io_read, io_write)) {
        qio__aio_fd_clear(&priv->aio_fd);
        aio_handler_set(ioc, &priv->aio_read, ctx, G_IO_IN, io_read);
        aio_handler_set(ioc, &priv->aio_write, ctx, G_IO_OUT, io_write);
    }
    if (!io_read && !io_write) {
        g_clear_pointer(&priv->aio_ctx, g_main_context_unref);
    }
}

void qio__channel_set_poll_fd(QIOChannel *ioc, int fd)
{
    QIOChannelPrivate *priv = PRIV(ioc);
    bool in_epoll = priv->aio_fd.ep != NULL;

    if (fd == priv->poll_fd) {
        return;
    }
    /* Out of the set while the old descriptor is still open. */
    qio__aio_fd_clear(&priv->aio_fd);
    priv->poll_fd = fd;
    priv->poll_fd_no_epoll = false;
    /* Handlers that were waiting on the old descriptor wait on this one. */
    if (in_epoll && fd >= 0 && priv->aio_ctx) {
        IOHandler *io_read = priv->aio_read.handler;
        IOHandler *io_write = priv->aio_write.handler;

        priv->aio_read.handler = priv->aio_write.handler = NULL;
        qio_channel_base_set_aio_fd_handler(ioc, priv->aio_ctx, io_read,
                                            io_write, priv->aio_opaque);
    }
}

void qio_channel_set_aio_fd_handler(QIOChannel *ioc, GMainContext *ctx,
                                    IOHandler *io_read, IOHandler *io_write,
                                    void *opaque)
{
    g_return_if_fail(QIO_IS_CHANNEL(ioc));
    if (!ctx) {
        ctx = g_main_context_get_thread_default();
        if (!ctx) {
            ctx = g_main_context_default();
        }
    }
    QIO_CHANNEL_GET_CLASS(ioc)->io_set_aio_fd_handler(ioc, ctx, io_read,
                                                      io_write, opaque);
}

/* ---------------------------------------------------------------- yield */

static void restart_read(void *opaque);
static void restart_write(void *opaque);

/* Where yield's handlers go: the attached context, else the caller's. */
static GMainContext *yield_context(QIOChannelPrivate *priv)
{
    GMainContext *ctx = priv->ctx;

    if (!ctx) {
        ctx = g_main_context_get_thread_default();
    }
    return ctx ? ctx : g_main_context_default();
}

/* Install handlers for exactly the directions a coroutine waits on. */
static void update_handlers(QIOChannel *ioc)
{
    QIOChannelPrivate *priv = PRIV(ioc);
    bool rd = g_atomic_pointer_get(&priv->read_coroutine) != NULL;
    bool wr = priv->write_coroutine != NULL;

    qio_channel_set_aio_fd_handler(ioc, priv->ctx, rd ? restart_read : NULL,
                                   wr ? restart_write : NULL, ioc);
}

static void restart_read(void *opaque)
{
    QIOChannel *ioc = opaque;
    QIOChannelPrivate *priv = PRIV(ioc);
    QIOCoroutine *co = g_atomic_pointer_exchange(&priv->read_coroutine, NULL);

    /*
     * Enter first, update afterwards: a coroutine that waits again keeps
     * the same source instead of tearing it down and building it anew.
     * The coroutine may drop the last reference to the channel on its way
     * out (a handshake that fails and hands the channel back): hold one.
     */
    g_object_ref(ioc);
    if (co) {
        qio_coroutine_enter(co);
    }
    update_handlers(ioc);
    g_object_unref(ioc);
}

static void restart_write(void *opaque)
{
    QIOChannel *ioc = opaque;
    QIOChannelPrivate *priv = PRIV(ioc);
    QIOCoroutine *co = g_steal_pointer(&priv->write_coroutine);

    g_object_ref(ioc); /* as restart_read() */
    if (co) {
        qio_coroutine_enter(co);
    }
    update_handlers(ioc);
    g_object_unref(ioc);
}

void qio_channel_yield(QIOChannel *ioc, GIOCondition condition)
{
    QIOChannelPrivate *priv;
    QIOCoroutine *self = qio_coroutine_self();
    bool disarmed;

    g_return_if_fail(QIO_IS_CHANNEL(ioc));
    g_return_if_fail(self != NULL);
    g_return_if_fail(condition == G_IO_IN || condition == G_IO_OUT);
    priv = PRIV(ioc);

    if (condition == G_IO_IN) {
        g_return_if_fail(g_atomic_pointer_get(&priv->read_coroutine) == NULL);
        /* Before the coroutine: whoever takes it may look the context up. */
        g_atomic_pointer_set(&priv->read_ctx, yield_context(priv));
        g_atomic_pointer_set(&priv->read_coroutine, self);
    } else {
        g_return_if_fail(priv->write_coroutine == NULL);
        priv->write_coroutine = self;
    }
    g_object_ref(ioc);
    update_handlers(ioc);
    qio_coroutine_yield();

    /* Re-entered from elsewhere before the channel was ready: disarm. */
    if (condition == G_IO_IN) {
        disarmed = g_atomic_pointer_compare_and_exchange(&priv->read_coroutine,
                                                         self, NULL);
    } else {
        disarmed = priv->write_coroutine == self;
        if (disarmed) {
            priv->write_coroutine = NULL;
        }
    }
    if (disarmed) {
        update_handlers(ioc);
    }
    g_object_unref(ioc);
}

typedef struct {
    QIOChannel *ioc;
    QIOCoroutine *co;
} WakeRead;

static gboolean wake_read_cb(gpointer data)
{
    WakeRead *w = data;

    qio_coroutine_enter(w->co);
    update_handlers(w->ioc);
    return G_SOURCE_REMOVE;
}

static void wake_read_free(gpointer data)
{
    WakeRead *w = data;

    g_object_unref(w->ioc);
    g_free(w);
}

void qio_channel_wake_read(QIOChannel *ioc)
{
    QIOChannelPrivate *priv;
    QIOCoroutine *co;
    WakeRead *w;
    GMainContext *ctx;
    GSource *source;

    g_return_if_fail(QIO_IS_CHANNEL(ioc));
    priv = PRIV(ioc);
    co = g_atomic_pointer_exchange(&priv->read_coroutine, NULL);
    if (!co) {
        return;
    }
    /* The coroutine must run in its own context's thread: schedule it. */
    w = g_new0(WakeRead, 1);
    w->ioc = g_object_ref(ioc);
    w->co = co;
    /*
     * Not priv->aio_ctx: another thread may be changing it, and a channel
     * that forwards its handlers (TLS) never sets it. The context is not
     * referenced: it outlives the coroutines waiting in it.
     */
    ctx = g_atomic_pointer_get(&priv->read_ctx);
    /*
     * Not g_main_context_invoke(): when no thread owns @ctx at this
     * moment it would enter the coroutine right here, in the wrong thread.
     */
    source = g_idle_source_new();
    /* At the priority of the descriptors: a busy loop never idles. */
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, wake_read_cb, w, wake_read_free);
    g_source_attach(source, ctx);
    g_source_unref(source);
}

void qio_channel_attach_aio_context(QIOChannel *ioc, GMainContext *ctx)
{
    QIOChannelPrivate *priv;

    g_return_if_fail(QIO_IS_CHANNEL(ioc));
    priv = PRIV(ioc);
    g_clear_pointer(&priv->ctx, g_main_context_unref);
    priv->ctx = ctx ? g_main_context_ref(ctx) : NULL;
    update_handlers(ioc);
}

void qio_channel_detach_aio_context(QIOChannel *ioc)
{
    QIOChannelPrivate *priv;

    g_return_if_fail(QIO_IS_CHANNEL(ioc));
    priv = PRIV(ioc);
    /*
     * Forget the waiters too: their owner re-enters them after the next
     * attach, and a handler that attach armed for them would enter them a
     * second time (or after they finished).
     */
    g_atomic_pointer_set(&priv->read_coroutine, NULL);
    priv->write_coroutine = NULL;
    qio_channel_set_aio_fd_handler(ioc, priv->ctx, NULL, NULL, NULL);
    g_clear_pointer(&priv->ctx, g_main_context_unref);
}
