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
 * Polling the epoll descriptor and then taking its events would be two
 * system calls per iteration. So a context whose poll function is still
 * GLib's own gets aio_epoll_poll(): GLib's few descriptors (its wake-up
 * eventfd, listeners, watches) are kept in the same epoll set, each
 * iteration makes one epoll_wait(2), GLib gets its revents from it and
 * the handlers' events wait in the source for its dispatch. Whatever
 * epoll cannot take (a regular file, a descriptor already in the set)
 * makes that iteration a g_poll() as before.
 *
 * Handlers are installed and removed from the thread that runs the
 * context (or while no thread runs it), as with the watches this stands
 * in for.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

/* Events taken per dispatch; more wait for the next iteration. */
#define QIO_AIO_BATCH 64

/* Rounds in a row with stale events before the set is made anew. */
#define QIO_AIO_STALE_ROUNDS 4

typedef struct QIOAioBatch QIOAioBatch;

/* The events one dispatch is working through (dispatches may nest). */
struct QIOAioBatch {
    struct epoll_event ev[QIO_AIO_BATCH];
    int n;
    QIOAioBatch *outer;
};

/* One of GLib's descriptors in the epoll set. */
typedef struct {
    int fd;
    uint32_t events; /* EPOLLIN, EPOLLOUT, EPOLLPRI as registered */
    uint32_t gen;    /* in the event's data: tells stale events apart */
    bool seen;       /* listed by GLib in this round */
    bool anon;       /* an eventfd or the like: maybe GLib's wake-up */
    bool refused;    /* not in the set: epoll said EPERM (a file) */
} QIOAioGlibFd;

struct QIOAioEpoll {
    GSource parent;
    GMainContext *ctx; /* attached to (not referenced) */
    int epfd;
    QIOAioBatch *batch;
    QIOAioFd *fds; /* the handlers' registrations */
    /* The handlers' events of the last aio_epoll_poll(), for dispatch. */
    QIOAioBatch pending;
    bool have_pending;
    bool polled; /* aio_epoll_poll() ran since the last dispatch */
    /* GLib's descriptors in the set; few, so an array. */
    QIOAioGlibFd *glib;
    guint nglib;
    guint glib_size;
    uint32_t gen;
    bool revalidate; /* descriptors may have been closed and reused */
    guint stale_rounds;
};

static gboolean aio_epoll_prepare(GSource *source, gint *timeout);
static gboolean aio_epoll_dispatch(GSource *source, GSourceFunc callback,
                                   gpointer data);
static void aio_epoll_finalize(GSource *source);

static GSourceFuncs aio_epoll_funcs = {
    .prepare = aio_epoll_prepare,
    .dispatch = aio_epoll_dispatch,
    .finalize = aio_epoll_finalize,
};

#define QIO_AIO_READ_EVENTS (EPOLLIN | EPOLLHUP | EPOLLERR)
#define QIO_AIO_WRITE_EVENTS (EPOLLOUT | EPOLLHUP | EPOLLERR)

/*
 * GLib's registrations carry 1 | fd << 1 | gen << 33 where the handlers'
 * carry a QIOAioFd pointer, which is aligned: bit 0 tells them apart.
 */
static bool aio_ev_is_glib(const struct epoll_event *ev)
{
    return ev->data.u64 & 1;
}

static uint64_t aio_glib_tag(int fd, uint32_t gen)
{
    return 1 | (uint64_t)(uint32_t)fd << 1 | (uint64_t)gen << 33;
}

/* poll(2)'s bits are epoll's on Linux, and GIOCondition's are poll's. */
G_STATIC_ASSERT((int)EPOLLIN == G_IO_IN && (int)EPOLLOUT == G_IO_OUT &&
                (int)EPOLLPRI == G_IO_PRI && (int)EPOLLERR == G_IO_ERR &&
                (int)EPOLLHUP == G_IO_HUP);

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

/* ---------------------------------------------------------------- GLib's */

static QIOAioGlibFd *aio_glib_find(QIOAioEpoll *ep, int fd)
{
    for (guint i = 0; i < ep->nglib; i++) {
        if (ep->glib[i].fd == fd) {
            return &ep->glib[i];
        }
    }
    return NULL;
}

/* Forget entry @g without epoll_ctl(2): its registration is gone. */
static void aio_glib_drop(QIOAioEpoll *ep, QIOAioGlibFd *g)
{
    *g = ep->glib[--ep->nglib];
}

/*
 * GLib signals its wake-up eventfd whenever a descriptor leaves the
 * context, so a closed descriptor whose number came back shows as that
 * eventfd firing. Which descriptor is the eventfd GLib does not say:
 * whatever is not a socket, pipe or device counts (anonymous inodes
 * have no file type on some kernels and a regular one on others; a real
 * regular file never gets here, epoll refuses it).
 */
static bool aio_fd_is_anon(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && !S_ISSOCK(st.st_mode) &&
           !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode) &&
           !S_ISBLK(st.st_mode);
}

static QIOAioGlibFd *aio_glib_new(QIOAioEpoll *ep, int fd, uint32_t events)
{
    QIOAioGlibFd *g;

    if (ep->nglib == ep->glib_size) {
        ep->glib_size = MAX(8, ep->glib_size * 2);
        ep->glib = g_renew(QIOAioGlibFd, ep->glib, ep->glib_size);
    }
    g = &ep->glib[ep->nglib++];
    *g = (QIOAioGlibFd){
        .fd = fd, .events = events, .gen = ep->gen, .seen = true};
    return g;
}

/*
 * FALSE when epoll refuses @fd: EEXIST, a handler has it (tried again
 * next round), or EPERM, a regular file (remembered, not tried again
 * until GLib's descriptors may have changed).
 */
static bool aio_glib_add(QIOAioEpoll *ep, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events};

    ev.data.u64 = aio_glib_tag(fd, ++ep->gen);
    if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        if (errno == EPERM) {
            aio_glib_new(ep, fd, events)->refused = true;
        }
        return false;
    }
    aio_glib_new(ep, fd, events)->anon = aio_fd_is_anon(fd);
    return true;
}

/* Bring entry @g to @events; ENOENT: its descriptor was closed and reused. */
static bool aio_glib_mod(QIOAioEpoll *ep, QIOAioGlibFd *g, uint32_t events)
{
    struct epoll_event ev = {.events = events};
    int fd = g->fd;
    bool refused = g->refused;

    ev.data.u64 = aio_glib_tag(fd, g->gen);
    if (!refused && epoll_ctl(ep->epfd, EPOLL_CTL_MOD, fd, &ev) == 0) {
        g->events = events;
        g->seen = true;
        return true;
    }
    aio_glib_drop(ep, g);
    return (refused || errno == ENOENT) && aio_glib_add(ep, fd, events);
}

/* Registrations GLib no longer lists go, if their descriptor is still ours. */
static void aio_glib_sweep(QIOAioEpoll *ep)
{
    for (guint i = 0; i < ep->nglib;) {
        QIOAioGlibFd *g = &ep->glib[i];

        if (g->seen) {
            i++;
            continue;
        }
        /* Closed: gone already. Reused by a handler: see aio_glib_forget. */
        if (!g->refused) {
            epoll_ctl(ep->epfd, EPOLL_CTL_DEL, g->fd, NULL);
        }
        aio_glib_drop(ep, g);
    }
}

/*
 * Put GLib's descriptors of this round (@fds but @own, the epoll
 * descriptor itself) in the set. FALSE when one cannot be: then this
 * round is a g_poll().
 */
static bool aio_glib_sync(QIOAioEpoll *ep, GPollFD *fds, guint nfds,
                          GPollFD *own, gint timeout)
{
    bool ok = true;

    for (guint i = 0; i < ep->nglib; i++) {
        ep->glib[i].seen = false;
    }
    /* GLib merges a descriptor's records: each fd is listed once. */
    for (GPollFD *p = fds; p < fds + nfds; p++) {
        uint32_t events = p->events & (G_IO_IN | G_IO_OUT | G_IO_PRI);
        QIOAioGlibFd *g;

        if (p == own || p->fd < 0) {
            continue;
        }
        g = aio_glib_find(ep, p->fd);
        if (g && g->events == events && !ep->revalidate) {
            g->seen = true;
            ok = ok && !g->refused;
        } else if (!(g ? aio_glib_mod(ep, g, events)
                       : aio_glib_add(ep, p->fd, events))) {
            ok = false;
        }
    }
    ep->revalidate = false;
    /*
     * A round that does not block may list only the sources that rank
     * first; the others come back next round: keep them meanwhile.
     */
    if (timeout != 0) {
        aio_glib_sweep(ep);
    }
    return ok;
}

/* A handler registered @fd: an entry of GLib's by that number is stale. */
static void aio_glib_forget(QIOAioEpoll *ep, int fd)
{
    QIOAioGlibFd *g = aio_glib_find(ep, fd);

    if (g) {
        aio_glib_drop(ep, g);
    }
}

/* Stop waiting for GLib's descriptors here: nobody asks for them. */
static void aio_glib_clear(QIOAioEpoll *ep)
{
    for (guint i = 0; i < ep->nglib; i++) {
        epoll_ctl(ep->epfd, EPOLL_CTL_DEL, ep->glib[i].fd, NULL);
    }
    ep->nglib = 0;
}

/*
 * A closed descriptor whose file lives on (a dup, a child's copy) stays
 * in the set, with no number left to remove it by; if it keeps firing,
 * only a new set is rid of it. The number of the set stays the same.
 */
static void aio_epoll_rebuild(QIOAioEpoll *ep)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);

    if (fd < 0) {
        return;
    }
    for (QIOAioFd *r = ep->fds; r; r = r->next) {
        struct epoll_event ev = {.events = r->events, .data.ptr = r};

        epoll_ctl(fd, EPOLL_CTL_ADD, r->fd, &ev);
    }
    if (dup3(fd, ep->epfd, O_CLOEXEC) >= 0) {
        ep->nglib = 0; /* the next round adds them anew */
    }
    close(fd);
    ep->stale_rounds = 0;
}

/* ---------------------------------------------------------------- poll */

/* The source whose context polls next in this thread (its prepare ran). */
static _Thread_local QIOAioEpoll *aio_polling;

/* GLib's entry for @ep's own descriptor (@fds is sorted by fd). */
static GPollFD *aio_poll_own(QIOAioEpoll *ep, GPollFD *fds, guint nfds)
{
    for (GPollFD *p = fds; p < fds + nfds && p->fd <= ep->epfd; p++) {
        if (p->fd == ep->epfd) {
            return p;
        }
    }
    return NULL;
}

static GPollFD *aio_poll_find(GPollFD *fds, guint nfds, int fd)
{
    guint lo = 0;
    guint hi = nfds;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;

        if (fds[mid].fd == fd) {
            return &fds[mid];
        }
        if (fds[mid].fd < fd) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* GLib's @ev into @fds; FALSE when it is stale. */
static bool aio_poll_glib_event(QIOAioEpoll *ep, GPollFD *fds, guint nfds,
                                const struct epoll_event *ev)
{
    int fd = (int)(uint32_t)(ev->data.u64 >> 1);
    uint32_t gen = (uint32_t)(ev->data.u64 >> 33);
    QIOAioGlibFd *g = aio_glib_find(ep, fd);
    GPollFD *p;

    if (!g || g->gen != gen) {
        return false;
    }
    /* Not listed in a round that does not block: next round's. */
    p = aio_poll_find(fds, nfds, fd);
    if (p) {
        p->revents = ev->events & (p->events | G_IO_ERR | G_IO_HUP);
    }
    if (g->anon) {
        ep->revalidate = true;
    }
    return true;
}

/* The one wait of a round: GLib's revents filled, the handlers' kept. */
static gint aio_poll_wait(QIOAioEpoll *ep, GPollFD *fds, guint nfds,
                          GPollFD *own, gint timeout)
{
    struct epoll_event ev[QIO_AIO_BATCH];
    int n = epoll_wait(ep->epfd, ev, QIO_AIO_BATCH, timeout);
    bool stale = false;
    gint ready = 0;

    for (int i = 0; i < n; i++) {
        if (!aio_ev_is_glib(&ev[i])) {
            ep->pending.ev[ep->pending.n++] = ev[i];
        } else if (aio_poll_glib_event(ep, fds, nfds, &ev[i])) {
            ready++;
        } else {
            stale = true;
        }
    }
    ep->stale_rounds = stale ? ep->stale_rounds + 1 : 0;
    if (ep->stale_rounds >= QIO_AIO_STALE_ROUNDS) {
        aio_epoll_rebuild(ep);
    }
    if (ep->pending.n > 0) {
        own->revents = G_IO_IN;
        ready++;
    }
    return n < 0 ? n : ready;
}

/* A round of g_poll(), where GLib takes its wake-up: look for it. */
static gint aio_poll_fallback(QIOAioEpoll *ep, GPollFD *fds, guint nfds,
                              gint timeout)
{
    gint n = g_poll(fds, nfds, timeout);

    for (guint i = 0; n > 0 && i < ep->nglib; i++) {
        GPollFD *p = aio_poll_find(fds, nfds, ep->glib[i].fd);

        if (ep->glib[i].anon && p && p->revents) {
            ep->revalidate = true;
        }
    }
    return n;
}

/*
 * The poll function of contexts with an epoll set (see the top of the
 * file). GLib calls it without the context's lock, from the thread that
 * runs the context, right after the sources' prepare.
 */
static gint aio_epoll_poll(GPollFD *fds, guint nfds, gint timeout)
{
    QIOAioEpoll *ep = aio_polling;
    GPollFD *own;

    aio_polling = NULL;
    if (!ep) {
        return g_poll(fds, nfds, timeout);
    }
    ep->polled = true;
    ep->have_pending = false;
    ep->pending.n = 0;
    /* Not listed when a source that ranks above it is ready. */
    own = aio_poll_own(ep, fds, nfds);
    if (own && aio_glib_sync(ep, fds, nfds, own, timeout)) {
        ep->have_pending = true;
        return aio_poll_wait(ep, fds, nfds, own, timeout);
    }
    return aio_poll_fallback(ep, fds, nfds, timeout);
}

/* Tell aio_epoll_poll() which context it polls: GLib does not. */
static gboolean aio_epoll_prepare(GSource *source, gint *timeout)
{
    aio_polling = (QIOAioEpoll *)source;
    *timeout = -1;
    return FALSE;
}

/* ---------------------------------------------------------------- dispatch */

/* The events of this round: taken by aio_epoll_poll(), or now. */
static void aio_epoll_take(QIOAioEpoll *ep, QIOAioBatch *batch)
{
    bool glib = false;

    if (ep->have_pending) {
        batch->n = ep->pending.n;
        memcpy(batch->ev, ep->pending.ev, sizeof(batch->ev[0]) * batch->n);
        ep->have_pending = false;
        ep->pending.n = 0;
        return;
    }
    do {
        batch->n = epoll_wait(ep->epfd, batch->ev, QIO_AIO_BATCH, 0);
    } while (batch->n < 0 && errno == EINTR);
    for (int i = 0; i < batch->n; i++) {
        if (aio_ev_is_glib(&batch->ev[i])) {
            batch->ev[i].data.ptr = NULL;
            glib = true;
        }
    }
    /* Someone replaced aio_epoll_poll(): GLib's descriptors only wake us. */
    if (glib && !ep->polled) {
        aio_glib_clear(ep);
    }
}

static gboolean aio_epoll_dispatch(GSource *source, GSourceFunc callback,
                                   gpointer data)
{
    QIOAioEpoll *ep = (QIOAioEpoll *)source;
    QIOAioBatch batch;

    aio_epoll_take(ep, &batch);
    ep->polled = false;
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

    if (aio_polling == ep) {
        aio_polling = NULL;
    }
    if (ep->epfd >= 0) {
        close(ep->epfd);
    }
    g_free(ep->glib);
}

/* @ctx polls through @ep's set, unless its poll function is someone's. */
static void aio_epoll_take_poll(GMainContext *ctx)
{
    if (g_main_context_get_poll_func(ctx) == g_poll) {
        g_main_context_set_poll_func(ctx, aio_epoll_poll);
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
    aio_epoll_take_poll(ctx);
    return ep;
}

/* Dispatches under way must not touch @r once it is gone. */
static void aio_fd_forget(QIOAioEpoll *ep, QIOAioFd *r)
{
    for (int i = 0; i < ep->pending.n; i++) {
        if (ep->pending.ev[i].data.ptr == r) {
            ep->pending.ev[i].data.ptr = NULL;
        }
    }
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

static void aio_fd_link(QIOAioEpoll *ep, QIOAioFd *r)
{
    r->ep = ep;
    r->prev = NULL;
    r->next = ep->fds;
    if (ep->fds) {
        ep->fds->prev = r;
    }
    ep->fds = r;
}

static void aio_fd_unlink(QIOAioFd *r)
{
    if (r->prev) {
        r->prev->next = r->next;
    } else {
        r->ep->fds = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    }
}

void qio__aio_fd_clear(QIOAioFd *r)
{
    if (r->ep) {
        epoll_ctl(r->ep->epfd, EPOLL_CTL_DEL, r->fd, NULL);
        aio_fd_forget(r->ep, r);
        aio_fd_unlink(r);
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
        /* Had GLib's entry of that number been live, ADD would fail. */
        aio_glib_forget(ep, fd);
        aio_fd_link(ep, r);
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
