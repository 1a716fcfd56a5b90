/*
 * libqio - stackful coroutines
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A coroutine is a function that runs on a stack of its own and can stop
 * half-way (qio_coroutine_yield()) to be resumed later
 * (qio_coroutine_enter()). Channels use them to turn "would block" into
 * "wait here until the descriptor is ready" without a thread per
 * connection. The API follows QEMU's include/qemu/coroutine-core.h.
 *
 * Control flow: qio_coroutine_enter() runs a coroutine until it yields or
 * returns, then returns itself. A yield always goes back to whoever
 * entered the coroutine, which may be the thread's ordinary stack or
 * another coroutine (coroutines nest). When the entry function returns,
 * the coroutine is finished and freed automatically; the #QIOCoroutine
 * pointer must not be used after that.
 *
 * Threads: a coroutine belongs to the thread that created it and may only
 * be entered from that thread; entering it from another is a programming
 * error. To resume a coroutine from another thread, schedule the
 * qio_coroutine_enter() call in the owning thread's #GMainContext: attach
 * an idle source there (g_idle_source_new(), g_source_attach()), or call
 * g_main_context_invoke() while the owning thread is running that
 * context's loop (when nobody owns the context, g_main_context_invoke()
 * runs the function at once in the calling thread, which is the wrong
 * one). Each thread keeps a small pool of finished coroutines' stacks for
 * reuse; it is freed when the thread exits. A coroutine still suspended
 * when its thread exits is leaked: finish coroutines before ending their
 * thread.
 *
 * Stopping a coroutine: a suspended coroutine cannot be freed from the
 * outside. Mark it cancelled in its own data, then enter it so that it
 * unwinds and returns by itself.
 */
#ifndef QIO_COROUTINE_H
#define QIO_COROUTINE_H

#include <glib.h>

G_BEGIN_DECLS

/**
 * coroutine_fn:
 *
 * Marks a function that must only be called from inside a coroutine,
 * because it may yield. It expands to nothing: it is documentation for
 * readers and a hook for static checkers.
 */
#define coroutine_fn

/**
 * coroutine_mixed_fn:
 *
 * Marks a function that may be called inside or outside a coroutine; it
 * yields in the first case and blocks (or polls) in the second. It
 * expands to nothing.
 */
#define coroutine_mixed_fn

/**
 * QIOCoroutine:
 *
 * An opaque coroutine: an entry function, its argument and a stack.
 */
typedef struct QIOCoroutine QIOCoroutine;

/**
 * QIOCoroutineEntry:
 * @opaque: the pointer given to qio_coroutine_create()
 *
 * The function a coroutine runs. When it returns, the coroutine is
 * finished and freed.
 */
typedef void coroutine_fn QIOCoroutineEntry(void *opaque);

/**
 * qio_coroutine_create: (skip)
 * @entry: the function the coroutine will run
 * @opaque: the argument passed to @entry
 *
 * Creates a coroutine owned by the calling thread. It does not run until
 * the first qio_coroutine_enter(). Its stack holds 256 KiB (backed by
 * memory only as far as it is used) above a guard page, so an overflow
 * crashes with SIGSEGV instead of corrupting memory.
 *
 * A created coroutine must be entered, and re-entered after each yield,
 * until its entry function returns: that is the only way it is freed.
 *
 * Returns: (transfer none): the new coroutine, freed automatically when
 *     @entry returns. Aborts if no stack can be mapped.
 */
QIOCoroutine *qio_coroutine_create(QIOCoroutineEntry *entry, void *opaque);

/**
 * qio_coroutine_enter:
 * @co: a coroutine that is new or suspended in qio_coroutine_yield()
 *
 * Starts or resumes @co and returns when @co yields or finishes. It may be
 * called from the thread's ordinary stack or from another coroutine, which
 * then waits until @co yields back to it.
 *
 * It is a programming error, reported with g_error(), to enter a
 * coroutine that is running or waiting for a coroutine it entered, to
 * enter a finished one (best-effort detection: the pointer is dangling),
 * or to enter it from a thread other than the one that created it.
 */
void qio_coroutine_enter(QIOCoroutine *co);

/**
 * qio_coroutine_yield:
 *
 * Suspends the calling coroutine and returns control to whoever entered
 * it; returns when the coroutine is entered again. Before yielding, make
 * sure something will enter it again (a watch, a timeout, another
 * coroutine), or it stays suspended forever.
 *
 * Calling it outside a coroutine is a programming error (g_error()).
 */
void coroutine_fn qio_coroutine_yield(void);

/**
 * qio_coroutine_self:
 *
 * Gets the coroutine the caller runs in.
 *
 * Returns: (transfer none) (nullable): the coroutine running in the calling
 *     thread, or %NULL on the thread's ordinary stack.
 */
QIOCoroutine *qio_coroutine_self(void);

/**
 * qio_in_coroutine:
 *
 * Tells whether the caller runs inside a coroutine, so that
 * coroutine_mixed_fn code can choose between yielding and blocking.
 *
 * Returns: %TRUE if the caller runs inside a coroutine.
 */
gboolean qio_in_coroutine(void);

/**
 * qio_coroutine_entered:
 * @co: a coroutine
 *
 * Tells whether @co is entered: running, or waiting for a coroutine it
 * entered to yield back. A coroutine that is new or suspended in
 * qio_coroutine_yield() is not entered. The yield machinery uses it to
 * avoid waking a coroutine that is already on its way.
 *
 * Returns: %TRUE if @co is entered.
 */
gboolean qio_coroutine_entered(QIOCoroutine *co);

G_END_DECLS

#endif /* QIO_COROUTINE_H */
