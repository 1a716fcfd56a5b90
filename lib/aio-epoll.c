/*
 * libqio - qio_channel_set_aio_fd_handler() on one epoll set per context
 *
 * A GSource per wait would do, but GLib signals its wake-up eventfd every
 * time a descriptor joins or leaves a context, and polls every descriptor
 * of every source on each iteration. A server that yields on thousands of
 * sockets pays for both on every read. Here each GMainContext gets one
 * source that polls one epoll descriptor; handlers come and go with
 * epoll_ctl(2), which wakes nobody, and an iteration looks only at the
 * descriptors that are ready.
 *
 * Handlers are installed and removed from the thread that runs the
 * context (or while no thread runs it), as with the watches this stands
 * in for.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include <sys/epoll.h>
#include <unistd.h>

/* Events taken per dispatch; more wait for the next iteration. */
#define QIO_AIO_BATCH 64

typedef struct QIOAioBatch QIOAioBatch;

/* The events one dispatch is working through (dispatches may nest). */
struct QIOAioBatch {
    struct epoll_event ev[QIO_AIO_BATCH];
    int n;
    QIOAioBatch *outer;
};

struct QIOAioEpoll {
    GSource parent;
    GMainContext *ctx; /* attached to (not referenced) */
    int epfd;
    QIOAioBatch *batch;
};

static gboolean aio_epoll_dispatch(GSource *source, GSourceFunc callback,
                                   gpointer data);
static void aio_epoll_finalize(GSource *source);

static GSourceFuncs aio_epoll_funcs = {
    .dispatch = aio_epoll_dispatch,
    .finalize = aio_epoll_finalize,
};

#define QIO_AIO_READ_EVENTS (EPOLLIN | EPOLLHUP | EPOLLERR)
#define QIO_AIO_WRITE_EVENTS (EPOLLOUT | EPOLLHUP | EPOLLERR)

/* Run the handlers of one ready descriptor; @slot is its batch entry. */
static void aio_fd_ready(struct epoll_event *slot)
{
    QIOAioFd *r = slot->data.ptr;
    uint32_t events = slot->events;

    r->revents = events;
    /* Hang-ups and errors wake both directions, as poll(2) reports them. */
    if ((events & QIO_AIO_READ_EVENTS) && r->io_read) {
        r->io_read(r->opaque);
    }
    /* The read handler may have removed this descriptor: look again. */
    r = slot->data.ptr;
    if (r && (events & QIO_AIO_WRITE_EVENTS) && r->io_write) {
        r->io_write(r->opaque);
    }
}

static gboolean aio_epoll_dispatch(GSource *source, GSourceFunc callback,
                                   gpointer data)
{
    QIOAioEpoll *ep = (QIOAioEpoll *)source;
    QIOAioBatch batch;

    do {
        batch.n = epoll_wait(ep->epfd, batch.ev, QIO_AIO_BATCH, 0);
    } while (batch.n < 0 && errno == EINTR);
    batch.outer = ep->batch;
    ep->batch = &batch;
    for (int i = 0; i < batch.n; i++) {
        if (batch.ev[i].data.ptr) {
            aio_fd_ready(&batch.ev[i]);
        }
    }
    ep->batch = batch.outer;
    return G_SOURCE_CONTINUE;
}

static void aio_epoll_finalize(GSource *source)
{
    QIOAioEpoll *ep = (QIOAioEpoll *)source;

    if (ep->epfd >= 0) {
        close(ep->epfd);
    }
}

/* @ctx's epoll source, made and attached on first use; NULL if none. */
static QIOAioEpoll *aio_epoll_get(GMainContext *ctx)
{
    GSource *source = g_main_context_find_source_by_funcs_user_data(
        ctx, &aio_epoll_funcs, NULL);
    QIOAioEpoll *ep;
    int epfd;

    if (source) {
        return (QIOAioEpoll *)source;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        return NULL;
    }
    source = g_source_new(&aio_epoll_funcs, sizeof(QIOAioEpoll));
    ep = (QIOAioEpoll *)source;
    ep->ctx = ctx;
    ep->epfd = epfd;
    g_source_set_static_name(source, "qio-aio-epoll");
    /* Handlers may iterate the context themselves. */
    g_source_set_can_recurse(source, TRUE);
    g_source_add_unix_fd(source, epfd, G_IO_IN);
    g_source_set_callback(source, NULL, NULL, NULL);
    /* The context holds the only reference: it lives as long as ctx. */
    g_source_attach(source, ctx);
    g_source_unref(source);
    return ep;
}

/* Dispatches under way must not touch @r once it is gone. */
static void aio_fd_forget(QIOAioEpoll *ep, QIOAioFd *r)
{
    for (QIOAioBatch *b = ep->batch; b; b = b->outer) {
        for (int i = 0; i < b->n; i++) {
            if (b->ev[i].data.ptr == r) {
                b->ev[i].data.ptr = NULL;
            }
        }
    }
}

void qio__aio_epoll_prepare(GMainContext *ctx)
{
    aio_epoll_get(ctx);
}

void qio__aio_fd_init(QIOAioFd *r)
{
    *r = (QIOAioFd){.fd = -1};
}

void qio__aio_fd_clear(QIOAioFd *r)
{
    if (r->ep) {
        epoll_ctl(r->ep->epfd, EPOLL_CTL_DEL, r->fd, NULL);
        aio_fd_forget(r->ep, r);
    }
    qio__aio_fd_init(r);
}

static uint32_t aio_events(IOHandler *io_read, IOHandler *io_write)
{
    return (io_read ? EPOLLIN : 0) | (io_write ? EPOLLOUT : 0);
}

bool qio__aio_fd_set(QIOAioFd *r, GMainContext *ctx, int fd, IOHandler *io_read,
                     IOHandler *io_write, void *opaque)
{
    uint32_t events = aio_events(io_read, io_write);
    QIOAioEpoll *ep;
    struct epoll_event ev;

    if (!events) {
        qio__aio_fd_clear(r);
        return true;
    }
    if (r->ep && (r->ep->ctx != ctx || r->fd != fd)) {
        qio__aio_fd_clear(r);
    }
    ep = r->ep ? r->ep : aio_epoll_get(ctx);
    if (!ep) {
        return false;
    }
    ev = (struct epoll_event){.events = events, .data.ptr = r};
    if (!r->ep) {
        /* EPERM (a regular file), EEXIST (the descriptor is taken): */
        if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            return false;
        }
        r->ep = ep;
        r->fd = fd;
    } else if (r->events != events &&
               epoll_ctl(ep->epfd, EPOLL_CTL_MOD, fd, &ev) < 0) {
        qio__aio_fd_clear(r);
        return false;
    }
    r->events = events;
    r->io_read = io_read;
    r->io_write = io_write;
    r->opaque = opaque;
    return true;
}
