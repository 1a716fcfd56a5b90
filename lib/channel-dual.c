/*
 * libqio - one channel made of two: read from one, write to another
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every operation goes to the half of its direction. The one thing of
 * its own is the watch for both directions at once: a source whose two
 * children are the halves' watches, each child marking what it saw and
 * waking the parent, which reports the merged conditions once.
 */
#include "qio-private.h"

#include "qio/channel-dual.h"

struct _QIOChannelDual {
    QIOChannel parent;

    QIOChannel *half[2]; /* reader, writer */
    int shut;            /* QIOChannelShutdown bits done */
    bool closed[2];      /* a half closed by a shutdown */
};

enum { READER, WRITER };

G_DEFINE_FINAL_TYPE(QIOChannelDual, qio_channel_dual, QIO_TYPE_CHANNEL)

/* ---------------------------------------------------------------- I/O */

static ssize_t qio_channel_dual_readv(QIOChannel *ioc, const struct iovec *iov,
                                      size_t niov, int **fds, size_t *nfds,
                                      int flags, GError **errp)
{
    QIOChannelDual *dioc = QIO_CHANNEL_DUAL(ioc);

    if (dioc->shut & QIO_CHANNEL_SHUTDOWN_READ) {
        return 0;
    }
    return qio_channel_readv_full(dioc->half[READER], iov, niov, fds, nfds,
                                  flags, errp);
}

static ssize_t qio_channel_dual_writev(QIOChannel *ioc, const struct iovec *iov,
                                       size_t niov, int *fds, size_t nfds,
                                       int flags, GError **errp)
{
    QIOChannelDual *dioc = QIO_CHANNEL_DUAL(ioc);

    if (dioc->shut & QIO_CHANNEL_SHUTDOWN_WRITE) {
        g_set_error_literal(errp, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                            "writing was shut down");
        return -1;
    }
    return qio_channel_writev_full(dioc->half[WRITER], iov, niov, fds, nfds,
                                   flags, errp);
}

static int qio_channel_dual_set_blocking(QIOChannel *ioc, bool enabled,
                                         GError **errp)
{
    QIOChannelDual *dioc = QIO_CHANNEL_DUAL(ioc);

    for (int i = READER; i <= WRITER; i++) {
        if (!dioc->closed[i] &&
            qio_channel_set_blocking(dioc->half[i], enabled, errp) < 0) {
            return -1;
        }
    }
    return 0;
}

static void qio_channel_dual_set_cork(QIOChannel *ioc, bool enabled)
{
    qio_channel_set_cork(QIO_CHANNEL_DUAL(ioc)->half[WRITER], enabled);
}

static void qio_channel_dual_set_delay(QIOChannel *ioc, bool enabled)
{
    qio_channel_set_delay(QIO_CHANNEL_DUAL(ioc)->half[WRITER], enabled);
}

static int qio_channel_dual_flush(QIOChannel *ioc, GError **errp)
{
    return qio_channel_flush(QIO_CHANNEL_DUAL(ioc)->half[WRITER], errp);
}

/* ---------------------------------------------------------------- ending */

/* The dual channel's direction each half serves. */
static const QIOChannelShutdown half_shutdown[2] = {
    [READER] = QIO_CHANNEL_SHUTDOWN_READ,
    [WRITER] = QIO_CHANNEL_SHUTDOWN_WRITE,
};

/*
 * ... and what ending it does to the half. The writer is never read
 * through the dual channel: it is shut whole, so that a descriptor it
 * reads and writes through (a file opened O_RDWR) is released and its
 * reader sees the end. The reader's other direction may still matter to
 * its peer (a socket's FIN): only reading ends.
 */
static const QIOChannelShutdown half_shut_how[2] = {
    [READER] = QIO_CHANNEL_SHUTDOWN_READ,
    [WRITER] = QIO_CHANNEL_SHUTDOWN_BOTH,
};

/* Shut one half's direction; a half that cannot shut down is closed. */
static int dual_shut_half(QIOChannelDual *dioc, int i, GError **errp)
{
    QIOChannel *half = dioc->half[i];

    if (dioc->shut & half_shutdown[i]) {
        return 0;
    }
    dioc->shut |= half_shutdown[i];
    if (qio_channel_has_feature(half, QIO_CHANNEL_FEATURE_SHUTDOWN)) {
        return qio_channel_shutdown(half, half_shut_how[i], errp);
    }
    dioc->closed[i] = true;
    return qio_channel_close(half, errp);
}

static int qio_channel_dual_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                                     GError **errp)
{
    QIOChannelDual *dioc = QIO_CHANNEL_DUAL(ioc);
    int ret = 0;

    for (int i = READER; i <= WRITER; i++) {
        if ((how & half_shutdown[i]) && dual_shut_half(dioc, i, errp) < 0) {
            /* Both directions are tried; the first error is kept. */
            ret = -1;
            errp = NULL;
        }
    }
    return ret;
}

static int qio_channel_dual_close(QIOChannel *ioc, GError **errp)
{
    QIOChannelDual *dioc = QIO_CHANNEL_DUAL(ioc);
    int ret = 0;

    for (int i = READER; i <= WRITER; i++) {
        if (dioc->closed[i]) {
            continue;
        }
        dioc->closed[i] = true;
        if (qio_channel_close(dioc->half[i], errp) < 0) {
            ret = -1;
            errp = NULL;
        }
    }
    return ret;
}

/* ---------------------------------------------------------------- waiting */

static void qio_channel_dual_set_aio_fd_handler(QIOChannel *ioc,
                                                GMainContext *ctx,
                                                IOHandler *io_read,
                                                IOHandler *io_write,
                                                void *opaque)
{
    QIOChannelDual *dioc = QIO_CHANNEL_DUAL(ioc);

    /*
     * Both halves call back with the dual channel's @opaque. Through the
     * class, not qio_channel_set_aio_fd_handler(): a NULL @ctx (closing)
     * must stay NULL rather than become the default context.
     */
    if (!dioc->closed[READER]) {
        QIO_CHANNEL_GET_CLASS(dioc->half[READER])
            ->io_set_aio_fd_handler(dioc->half[READER], ctx, io_read, NULL,
                                    opaque);
    }
    if (!dioc->closed[WRITER]) {
        QIO_CHANNEL_GET_CLASS(dioc->half[WRITER])
            ->io_set_aio_fd_handler(dioc->half[WRITER], ctx, NULL, io_write,
                                    opaque);
    }
}

typedef struct {
    GSource source;
    QIOChannel *ioc;
    GIOCondition ready; /* seen by the children, not yet reported */
} QIODualSource;

static gboolean dual_child_ready(QIOChannel *half, GIOCondition cond,
                                 gpointer data)
{
    QIODualSource *src = data;

    src->ready |= cond;
    g_source_set_ready_time(&src->source, 0);
    return G_SOURCE_CONTINUE;
}

static gboolean dual_source_dispatch(GSource *source, GSourceFunc callback,
                                     gpointer data)
{
    QIODualSource *src = (QIODualSource *)source;
    GIOCondition cond = src->ready;

    src->ready = 0;
    g_source_set_ready_time(source, -1);
    if (!callback) {
        return G_SOURCE_REMOVE;
    }
    return ((QIOChannelFunc)(void (*)(void))callback)(src->ioc, cond, data);
}

static void dual_source_finalize(GSource *source)
{
    g_object_unref(((QIODualSource *)source)->ioc);
}

static GSourceFuncs dual_source_funcs = {
    .dispatch = dual_source_dispatch,
    .finalize = dual_source_finalize,
};

static void dual_source_add_child(QIODualSource *src, QIOChannel *half,
                                  GIOCondition cond)
{
    GSource *child = qio_channel_create_watch(half, cond);

    g_source_set_callback(child, (GSourceFunc)(void (*)(void))dual_child_ready,
                          src, NULL);
    g_source_add_child_source(&src->source, child);
    g_source_unref(child);
}

static GSource *qio_channel_dual_create_watch(QIOChannel *ioc,
                                              GIOCondition condition)
{
    QIOChannelDual *dioc = QIO_CHANNEL_DUAL(ioc);
    GIOCondition out = condition & G_IO_OUT;
    GIOCondition in = condition & ~G_IO_OUT;
    QIODualSource *src;

    /* One direction: the half's own watch, reporting the dual channel. */
    if (!out || !in) {
        return qio_channel_create_watch(dioc->half[out ? WRITER : READER],
                                        condition);
    }
    src = (QIODualSource *)g_source_new(&dual_source_funcs,
                                        sizeof(QIODualSource));
    src->ioc = g_object_ref(ioc);
    dual_source_add_child(src, dioc->half[READER], in);
    dual_source_add_child(src, dioc->half[WRITER], out);
    return &src->source;
}

/* ---------------------------------------------------------------- type */

static void qio_channel_dual_finalize(GObject *obj)
{
    QIOChannelDual *dioc = QIO_CHANNEL_DUAL(obj);

    g_clear_object(&dioc->half[READER]);
    g_clear_object(&dioc->half[WRITER]);
    G_OBJECT_CLASS(qio_channel_dual_parent_class)->finalize(obj);
}

static void qio_channel_dual_class_init(QIOChannelDualClass *klass)
{
    GObjectClass *oclass = G_OBJECT_CLASS(klass);
    QIOChannelClass *ioc_class = QIO_CHANNEL_CLASS(klass);

    oclass->finalize = qio_channel_dual_finalize;
    ioc_class->io_readv = qio_channel_dual_readv;
    ioc_class->io_writev = qio_channel_dual_writev;
    ioc_class->io_close = qio_channel_dual_close;
    ioc_class->io_create_watch = qio_channel_dual_create_watch;
    ioc_class->io_set_blocking = qio_channel_dual_set_blocking;
    ioc_class->io_shutdown = qio_channel_dual_shutdown;
    ioc_class->io_set_cork = qio_channel_dual_set_cork;
    ioc_class->io_set_delay = qio_channel_dual_set_delay;
    ioc_class->io_set_aio_fd_handler = qio_channel_dual_set_aio_fd_handler;
    ioc_class->io_flush = qio_channel_dual_flush;
}

static void qio_channel_dual_init(QIOChannelDual *dioc)
{
    qio_channel_set_feature(QIO_CHANNEL(dioc), QIO_CHANNEL_FEATURE_SHUTDOWN);
}

/* @feature, when @a (and @b, if given) have it. */
static void dual_inherit(QIOChannelDual *dioc, QIOChannelFeature feature,
                         QIOChannel *a, QIOChannel *b)
{
    if (qio_channel_has_feature(a, feature) &&
        (!b || qio_channel_has_feature(b, feature))) {
        qio_channel_set_feature(QIO_CHANNEL(dioc), feature);
    }
}

QIOChannelDual *qio_channel_dual_new(QIOChannel *reader, QIOChannel *writer)
{
    QIOChannelDual *dioc;

    g_return_val_if_fail(QIO_IS_CHANNEL(reader), NULL);
    g_return_val_if_fail(QIO_IS_CHANNEL(writer), NULL);
    g_return_val_if_fail(reader != writer, NULL);

    dioc = g_object_new(QIO_TYPE_CHANNEL_DUAL, NULL);
    dioc->half[READER] = g_object_ref(reader);
    dioc->half[WRITER] = g_object_ref(writer);
    dual_inherit(dioc, QIO_CHANNEL_FEATURE_FD_PASS, reader, writer);
    dual_inherit(dioc, QIO_CHANNEL_FEATURE_READ_MSG_PEEK, reader, NULL);
    dual_inherit(dioc, QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY, writer, NULL);
    return dioc;
}

QIOChannel *qio_channel_dual_get_reader(QIOChannelDual *dioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_DUAL(dioc), NULL);
    return dioc->half[READER];
}

QIOChannel *qio_channel_dual_get_writer(QIOChannelDual *dioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_DUAL(dioc), NULL);
    return dioc->half[WRITER];
}
