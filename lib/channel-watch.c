/*
 * libqio - the GSource types behind channel watches
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include "qio/channel-watch.h"

/*
 * Hang-ups and errors are reported whatever the caller asked for: poll(2)
 * returns them unconditionally, and a source that ignored them would make
 * the main loop spin on a descriptor that never becomes "ready".
 */
#define QIO_WATCH_ALWAYS (G_IO_HUP | G_IO_ERR | G_IO_NVAL)

typedef struct {
    GSource parent;
    QIOChannel *ioc;
    GIOCondition condition;
    GPollFD pfd[2];
    guint npfd;
} QIOChannelFDSource;

static GIOCondition fd_source_revents(QIOChannelFDSource *src)
{
    GIOCondition revents = 0;

    for (guint i = 0; i < src->npfd; i++) {
        revents |= src->pfd[i].revents;
    }
    return revents & (src->condition | QIO_WATCH_ALWAYS);
}

static gboolean fd_source_prepare(GSource *source, gint *timeout)
{
    *timeout = -1;
    return FALSE;
}

static gboolean fd_source_check(GSource *source)
{
    return fd_source_revents((QIOChannelFDSource *)source) != 0;
}

static gboolean fd_source_dispatch(GSource *source, GSourceFunc callback,
                                   gpointer user_data)
{
    QIOChannelFDSource *src = (QIOChannelFDSource *)source;
    QIOChannelFunc func = (QIOChannelFunc)(void (*)(void))callback;

    if (!func) {
        return G_SOURCE_REMOVE;
    }
    return func(src->ioc, fd_source_revents(src), user_data);
}

static void fd_source_finalize(GSource *source)
{
    QIOChannelFDSource *src = (QIOChannelFDSource *)source;

    g_clear_object(&src->ioc);
}

static GSourceFuncs fd_source_funcs = {
    .prepare = fd_source_prepare,
    .check = fd_source_check,
    .dispatch = fd_source_dispatch,
    .finalize = fd_source_finalize,
};

static QIOChannelFDSource *fd_source_new(QIOChannel *ioc,
                                         GIOCondition condition)
{
    GSource *source =
        g_source_new(&fd_source_funcs, sizeof(QIOChannelFDSource));
    QIOChannelFDSource *src = (QIOChannelFDSource *)source;
    const char *name = qio_channel_get_name(ioc);

    src->ioc = g_object_ref(ioc);
    src->condition = condition;
    if (name) {
        g_source_set_name(source, name);
    }
    return src;
}

static void fd_source_add_fd(QIOChannelFDSource *src, int fd,
                             GIOCondition events)
{
    GPollFD *pfd = &src->pfd[src->npfd++];

    pfd->fd = fd;
    pfd->events = events;
    pfd->revents = 0;
    g_source_add_poll(&src->parent, pfd);
}

GSource *qio_channel_create_fd_watch(QIOChannel *ioc, int fd,
                                     GIOCondition condition)
{
    QIOChannelFDSource *src = fd_source_new(ioc, condition);

    if (fd >= 0) {
        fd_source_add_fd(src, fd, condition);
    }
    return &src->parent;
}

GSource *qio_channel_create_socket_watch(QIOChannel *ioc, int fd,
                                         GIOCondition condition)
{
    return qio_channel_create_fd_watch(ioc, fd, condition);
}

GSource *qio_channel_create_fd_pair_watch(QIOChannel *ioc, int fdread,
                                          int fdwrite, GIOCondition condition)
{
    QIOChannelFDSource *src = fd_source_new(ioc, condition);
    GIOCondition rcond = condition & (G_IO_IN | G_IO_PRI);
    GIOCondition wcond = condition & G_IO_OUT;

    /*
     * Poll each descriptor only for its own direction, so that a hang-up
     * of the read side does not wake a writer (and vice versa). A watch
     * for neither direction (only HUP/ERR, say) polls both.
     */
    if (!rcond && !wcond) {
        rcond = wcond = condition;
    }
    if (fdread >= 0 && rcond) {
        fd_source_add_fd(src, fdread, rcond);
    }
    if (fdwrite >= 0 && wcond) {
        fd_source_add_fd(src, fdwrite, wcond);
    }
    return &src->parent;
}
