/*
 * libqio - stackful coroutines on ucontext and sigsetjmp
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * makecontext() is the only portable way to start a function on a stack
 * of our choosing, but the ucontext switches save and restore the signal
 * mask, which costs a system call per switch. So a new stack is entered
 * once with setcontext(), where the coroutine immediately records a
 * sigsetjmp() point and jumps back; from then on every switch is a
 * sigsetjmp(env, 0)/siglongjmp() pair, which touches registers only.
 * Finished coroutines stay parked in their trampoline, so reusing one
 * from the pool needs no ucontext call either.
 */
/*
 * _FORTIFY_SOURCE (on in Debian's and most distributions' build flags)
 * makes siglongjmp() __longjmp_chk(), which aborts with "longjmp causes
 * uninitialized stack frame" whenever the target frame is on another
 * stack: every switch here.  It must be off before the first system
 * header; QEMU's coroutine-ucontext.c does the same.
 */
#undef _FORTIFY_SOURCE
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "qio/coroutine.h"

#if defined(__SANITIZE_ADDRESS__)
#define QIO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QIO_ASAN 1
#endif
#endif

#ifdef QIO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if defined(__SANITIZE_THREAD__)
#define QIO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QIO_TSAN 1
#endif
#endif

#ifdef QIO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define QIO_VALGRIND 1
#endif
#endif

/* G_ALWAYS_INLINE needs GLib 2.74; we support 2.70. */
#define QIO_ALWAYS_INLINE __attribute__((__always_inline__))

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif
#ifndef MAP_STACK
#define MAP_STACK 0
#endif

/*
 * Usable stack per coroutine. A relay coroutine needs a few KiB; the rest
 * is headroom for deep library calls (GnuTLS, getaddrinfo). Pages that
 * are never touched cost address space only.
 */
#define QIO_COROUTINE_STACK_SIZE (256 * 1024)

/*
 * Finished coroutines kept per thread: this many, plus as many as are
 * still running. Under a steady churn of connections (a server with a
 * hundred clients at a time) every new coroutine then comes from the
 * pool, not from mmap(2), mprotect(2) and makecontext(3); once the load
 * is gone the pool shrinks back to this. Each holds at most a few touched
 * pages.
 */
#define QIO_COROUTINE_POOL_MIN 128

typedef enum {
    QIO_COROUTINE_SUSPENDED, /* new, or in qio_coroutine_yield() */
    QIO_COROUTINE_ENTERED,   /* running, or waiting for one it entered */
    QIO_COROUTINE_DEAD,      /* entry returned; parked in the pool */
} QIOCoroutineState;

/* What a switch tells the side it lands on; sigsetjmp() reserves 0. */
typedef enum {
    QIO_SWITCH_ENTER = 1,
    QIO_SWITCH_YIELD,
    QIO_SWITCH_TERMINATE,
} QIOSwitchAction;

typedef struct QIOCoroutineThread QIOCoroutineThread;

struct QIOCoroutine {
    QIOCoroutineEntry *entry;
    void *opaque;
    QIOCoroutine *caller;       /* who entered us; NULL unless entered */
    QIOCoroutineThread *thread; /* the owner: only it may enter us */
    QIOCoroutineState state;
    bool recycle;            /* on termination: goes to the pool */
    QIOCoroutine *pool_next; /* next in the owner's pool */

    /* The mapping (guard page + stack), and its usable part. */
    void *map;
    size_t map_size;
    void *stack;
    size_t stack_size;
    unsigned valgrind_id;
    void *tsan_fiber; /* ThreadSanitizer's state of this stack */

    /* Where to resume this coroutine. */
    sigjmp_buf env;
};

struct QIOCoroutineThread {
    /*
     * The thread's own stack, as a switch endpoint: a yield back to the
     * outside world jumps to leader.env. Under ASan its stack bounds are
     * learnt on the first switch.
     */
    QIOCoroutine leader;
    QIOCoroutine *pool;
    unsigned pool_len;
    unsigned live; /* created and not yet finished */
};

static void thread_free(gpointer data);

/* Only for its destroy notify: frees the pool when a thread exits. */
static GPrivate thread_key = G_PRIVATE_INIT(thread_free);

/* Plain TLS for the hot path: no lookup on every switch. */
static __thread QIOCoroutineThread *qio_thread;
static __thread QIOCoroutine *qio_current; /* NULL on the thread's stack */

/* ---------------------------------------------------------- sanitizers */

/*
 * ASan keeps one notion of "the current stack" per thread; every switch
 * must announce the stack we are about to run on, then confirm arrival,
 * or it reports stack-buffer errors for frames it thinks are elsewhere.
 * Inlined so no instrumented frame sits between announcement and jump.
 */
static inline QIO_ALWAYS_INLINE void
asan_start_switch(void **fake_stack_save, const void *bottom, size_t size)
{
#ifdef QIO_ASAN
    __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
    (void)fake_stack_save;
    (void)bottom;
    (void)size;
#endif
}

static inline QIO_ALWAYS_INLINE void asan_finish_switch(void *fake_stack)
{
#ifdef QIO_ASAN
    QIOCoroutine *leader = &qio_thread->leader;
    const void *bottom_old = NULL;
    size_t size_old = 0;

    __sanitizer_finish_switch_fiber(fake_stack, &bottom_old, &size_old);
    /* A thread's first switch always starts on its own stack. */
    if (!leader->stack) {
        leader->stack = (void *)bottom_old;
        leader->stack_size = size_old;
    }
#else
    (void)fake_stack;
#endif
}

/*
 * ThreadSanitizer keeps a shadow call stack and the jump buffers of
 * sigsetjmp() per thread; a coroutine is a fiber of its thread to it, and
 * every switch must first name the fiber it lands on (flags 0: the two
 * are ordered, as they run one after the other on one thread), or it
 * reports races between a coroutine and itself and loses the buffers.
 */
static inline QIO_ALWAYS_INLINE void tsan_switch(const QIOCoroutine *to)
{
#ifdef QIO_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#else
    (void)to;
#endif
}

static void tsan_fiber_new(QIOCoroutine *co)
{
#ifdef QIO_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
#else
    (void)co;
#endif
}

static void tsan_fiber_free(QIOCoroutine *co)
{
#ifdef QIO_TSAN
    __tsan_destroy_fiber(co->tsan_fiber);
#else
    (void)co;
#endif
}

/* The thread's own stack: the fiber running when it first used us. */
static void tsan_fiber_leader(QIOCoroutine *leader)
{
#ifdef QIO_TSAN
    leader->tsan_fiber = __tsan_get_current_fiber();
#else
    (void)leader;
#endif
}

/* -------------------------------------------------------------- stacks */

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/*
 * MAP_NORESERVE: 10,000 idle connections must not commit 2.5 GiB of swap
 * for stacks they never touch. The guard page below the stack (stacks
 * grow down on every target we support) turns an overflow into SIGSEGV
 * instead of silent corruption of the neighbouring mapping.
 */
static void stack_map(QIOCoroutine *co)
{
    size_t page = page_size();
    size_t usable = (QIO_COROUTINE_STACK_SIZE + page - 1) & ~(page - 1);
    size_t size = usable + page;
    void *map =
        mmap(NULL, size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);

    if (map == MAP_FAILED) {
        g_error("qio_coroutine_create: cannot map a %zu-byte stack: %s", size,
                g_strerror(errno));
    }
    if (mprotect(map, page, PROT_NONE) != 0) {
        g_error("qio_coroutine_create: cannot protect the stack guard: %s",
                g_strerror(errno));
    }
    co->map = map;
    co->map_size = size;
    co->stack = (char *)map + page;
    co->stack_size = usable;
#ifdef QIO_VALGRIND
    co->valgrind_id =
        VALGRIND_STACK_REGISTER(co->stack, (char *)co->stack + co->stack_size);
#endif
}

#ifdef QIO_ASAN
/*
 * Frames that never returned (the trampoline's) leave poisoned redzones
 * in the shadow, and ASan does not clear the shadow on munmap(): a later
 * mapping at the same address would inherit them. Clearing 32 KiB of
 * shadow per stack with memset would make it all resident, so whole
 * shadow pages are dropped instead (they read back as zero: unpoisoned),
 * and only the partial pages at both ends are cleared by hand.
 */
static void asan_forget(void *addr, size_t size)
{
    size_t scale;
    size_t offset;
    uintptr_t page = page_size();
    uintptr_t beg = (uintptr_t)addr;
    uintptr_t end = beg + size;
    uintptr_t shadow_beg;
    uintptr_t shadow_end;

    __asan_get_shadow_mapping(&scale, &offset);
    shadow_beg = ((beg >> scale) + offset + page - 1) & ~(page - 1);
    shadow_end = ((end >> scale) + offset) & ~(page - 1);
    if (shadow_end <= shadow_beg ||
        madvise((void *)shadow_beg, shadow_end - shadow_beg, MADV_DONTNEED)) {
        ASAN_UNPOISON_MEMORY_REGION(addr, size);
        return;
    }
    ASAN_UNPOISON_MEMORY_REGION(addr, ((shadow_beg - offset) << scale) - beg);
    beg = (shadow_end - offset) << scale;
    ASAN_UNPOISON_MEMORY_REGION((void *)beg, end - beg);
}
#endif

static void stack_unmap(QIOCoroutine *co)
{
#ifdef QIO_VALGRIND
    VALGRIND_STACK_DEREGISTER(co->valgrind_id);
#endif
#ifdef QIO_ASAN
    asan_forget(co->map, co->map_size);
#endif
    munmap(co->map, co->map_size);
}

/* ----------------------------------------------------- thread state */

static QIOCoroutineThread *thread_get(void)
{
    QIOCoroutineThread *t = qio_thread;

    if (G_UNLIKELY(!t)) {
        t = g_new0(QIOCoroutineThread, 1);
        t->leader.thread = t;
        t->leader.state = QIO_COROUTINE_ENTERED;
        tsan_fiber_leader(&t->leader);
        qio_thread = t;
        g_private_set(&thread_key, t);
    }
    return t;
}

static QIOCoroutine *pool_take(QIOCoroutineThread *t)
{
    QIOCoroutine *co = t->pool;

    if (co) {
        t->pool = co->pool_next;
        co->pool_next = NULL;
        t->pool_len--;
    }
    return co;
}

static void pool_put(QIOCoroutineThread *t, QIOCoroutine *co)
{
    co->entry = NULL;
    co->opaque = NULL;
    co->pool_next = t->pool;
    t->pool = co;
    t->pool_len++;
}

static void coroutine_free(QIOCoroutine *co)
{
    tsan_fiber_free(co);
    stack_unmap(co);
    g_free(co);
}

/*
 * Runs at thread exit. Pooled coroutines are parked in their trampoline,
 * never running, so their stacks can go. (Under ASan with
 * detect_stack_use_after_return, the fake stack each one saved is not
 * returned to the sanitizer; that is its memory, not ours.)
 */
static void thread_free(gpointer data)
{
    QIOCoroutineThread *t = data;
    QIOCoroutine *co;

    while ((co = pool_take(t)) != NULL) {
        coroutine_free(co);
    }
    if (qio_thread == t) {
        qio_thread = NULL;
    }
    g_free(t);
}

/* The coroutine running now, the thread's leader when outside one. */
static QIOCoroutine *current_or_leader(void)
{
    return qio_current ? qio_current : &thread_get()->leader;
}

/* ----------------------------------------------------------- switching */

/*
 * Leaves @from (saving where it stands) for @to, and returns in @from
 * when someone switches back, with the action they passed. Not inlined:
 * the frame holding sigsetjmp's context must be a real, stable one.
 */
static G_GNUC_NO_INLINE int
coroutine_switch(QIOCoroutine *from, QIOCoroutine *to, QIOSwitchAction action)
{
    /* A coroutine that is about to be unmapped must drop its fake stack. */
    bool keep_fake = action != QIO_SWITCH_TERMINATE || from->recycle;
    void *fake_stack = NULL;
    int ret;

    qio_current = to == &to->thread->leader ? NULL : to;
    ret = sigsetjmp(from->env, 0);
    if (ret == 0) {
        asan_start_switch(keep_fake ? &fake_stack : NULL, to->stack,
                          to->stack_size);
        tsan_switch(to);
        siglongjmp(to->env, action);
    }
    asan_finish_switch(fake_stack);
    return ret;
}

/* Hands a finished coroutine back to its caller, never to return. */
static void coroutine_terminate(QIOCoroutine *co)
{
    QIOCoroutine *caller = co->caller;
    QIOCoroutineThread *t = co->thread;

    co->caller = NULL;
    co->state = QIO_COROUTINE_DEAD;
    t->live--;
    co->recycle = t->pool_len < QIO_COROUTINE_POOL_MIN + t->live;
    /*
     * The caller frees or pools us once it is back on its own stack: we
     * cannot unmap the stack we are running on. If pooled, the next
     * qio_coroutine_create() lands here again.
     */
    coroutine_switch(co, caller, QIO_SWITCH_TERMINATE);
}

/* makecontext() passes int arguments only; a pointer may need two. */
typedef union {
    void *p;
    int i[2];
} QIOPtrInts;

static void coroutine_trampoline(int i0, int i1)
{
    QIOPtrInts arg = {.i = {i0, i1}};
    QIOCoroutine *co = arg.p;
    void *fake_stack = NULL;

    asan_finish_switch(NULL);
    /* Park: the creator resumes, the first enter lands below. */
    if (!sigsetjmp(co->env, 0)) {
        QIOCoroutine *creator = current_or_leader();

        asan_start_switch(&fake_stack, creator->stack, creator->stack_size);
        tsan_switch(creator);
        siglongjmp(creator->env, 1);
    }
    asan_finish_switch(fake_stack);

    for (;;) {
        co->entry(co->opaque);
        coroutine_terminate(co);
    }
}

/* Runs the new stack's trampoline up to its park point, then returns. */
static void coroutine_prime(QIOCoroutine *co)
{
    QIOCoroutine *self = current_or_leader();
    QIOPtrInts arg = {.i = {0, 0}};
    ucontext_t uc;
    void *fake_stack = NULL;

    if (getcontext(&uc) != 0) {
        g_error("qio_coroutine_create: getcontext: %s", g_strerror(errno));
    }
    uc.uc_link = NULL;
    uc.uc_stack.ss_sp = co->stack;
    uc.uc_stack.ss_size = co->stack_size;
    uc.uc_stack.ss_flags = 0;
    arg.p = co;
    makecontext(&uc, (void (*)(void))coroutine_trampoline, 2, arg.i[0],
                arg.i[1]);

    /*
     * In with setcontext(), back out with the trampoline's siglongjmp().
     * Not swapcontext(): nothing would ever return to the context it
     * saves, and ASan's swapcontext() interceptor warns on first use.
     */
    if (!sigsetjmp(self->env, 0)) {
        asan_start_switch(&fake_stack, co->stack, co->stack_size);
        tsan_switch(co);
        setcontext(&uc);
        g_error("qio_coroutine_create: setcontext: %s", g_strerror(errno));
    }
    asan_finish_switch(fake_stack);
}

static QIOCoroutine *coroutine_new(QIOCoroutineThread *t)
{
    QIOCoroutine *co = g_new0(QIOCoroutine, 1);

    co->thread = t;
    stack_map(co);
    tsan_fiber_new(co);
    coroutine_prime(co);
    return co;
}

/* ------------------------------------------------------------- public */

QIOCoroutine *qio_coroutine_create(QIOCoroutineEntry *entry, void *opaque)
{
    QIOCoroutineThread *t;
    QIOCoroutine *co;

    g_return_val_if_fail(entry != NULL, NULL);

    t = thread_get();
    co = pool_take(t);
    if (!co) {
        co = coroutine_new(t);
    }
    co->entry = entry;
    co->opaque = opaque;
    co->state = QIO_COROUTINE_SUSPENDED;
    co->recycle = false;
    t->live++;
    return co;
}

/* Programming errors: each would corrupt a stack if we carried on. */
static void enter_check(QIOCoroutine *co, QIOCoroutineThread *t)
{
    if (co->thread != t) {
        g_error("qio_coroutine_enter: coroutine %p belongs to another "
                "thread; schedule the enter in its GMainContext instead",
                (void *)co);
    }
    if (co->state == QIO_COROUTINE_ENTERED) {
        g_error("qio_coroutine_enter: coroutine %p is already running "
                "(entered twice)",
                (void *)co);
    }
    if (co->state == QIO_COROUTINE_DEAD) {
        g_error("qio_coroutine_enter: coroutine %p has already finished",
                (void *)co);
    }
}

void qio_coroutine_enter(QIOCoroutine *co)
{
    QIOCoroutineThread *t;
    QIOCoroutine *self;

    g_return_if_fail(co != NULL);

    t = thread_get();
    enter_check(co, t);
    self = qio_current ? qio_current : &t->leader;
    co->caller = self;
    co->state = QIO_COROUTINE_ENTERED;
    /* Only @co switches back to us: it is the one coroutine we entered. */
    if (coroutine_switch(self, co, QIO_SWITCH_ENTER) == QIO_SWITCH_TERMINATE) {
        if (co->recycle) {
            pool_put(t, co);
        } else {
            coroutine_free(co);
        }
    }
}

void coroutine_fn qio_coroutine_yield(void)
{
    QIOCoroutine *self = qio_current;
    QIOCoroutine *to;

    if (G_UNLIKELY(!self)) {
        g_error("qio_coroutine_yield: called outside a coroutine");
    }
    to = self->caller;
    self->caller = NULL;
    self->state = QIO_COROUTINE_SUSPENDED;
    coroutine_switch(self, to, QIO_SWITCH_YIELD);
}

QIOCoroutine *qio_coroutine_self(void)
{
    return qio_current;
}

gboolean qio_in_coroutine(void)
{
    return qio_current != NULL;
}

gboolean qio_coroutine_entered(QIOCoroutine *co)
{
    g_return_val_if_fail(co != NULL, FALSE);

    return co->state == QIO_COROUTINE_ENTERED;
}
