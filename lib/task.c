/*
 * libqio - asynchronous operations with a completion callback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include "qio/task.h"

/*
 * The part of a task that only exists once it runs in a thread. The
 * worker hands the finished task to the caller's context with an idle
 * source; qio_task_wait_thread() may take it back from there, so the
 * hand-over happens under @lock.
 */
typedef struct {
    QIOTaskWorker worker;
    gpointer opaque;
    GDestroyNotify destroy;
    /* Held until the worker hands over: then the source keeps the task. */
    GMainContext *context;
    /* Set once the worker is done; the task holds a reference. */
    GSource *completion;
    GMutex lock;
    GCond cond;
} QIOTaskThread;

/*
 * Tasks are reference counted only because of threads: the worker thread
 * still touches the task (its lock) after the completion source, which
 * may run at once in another thread, has been attached. Everything the
 * caller can observe (callbacks, notifies, the source object) is released
 * in the thread that completes the task; the last unref frees memory.
 */
struct QIOTask {
    gint refs;
    GObject *source;
    QIOTaskFunc func;
    gpointer opaque;
    GDestroyNotify destroy;
    GError *err;
    gpointer result;
    GDestroyNotify result_notify;
    QIOTaskThread *thread;
    bool released;
};

/* ---------------------------------------------------------------- life */

QIOTask *qio_task_new(GObject *source, QIOTaskFunc func, gpointer opaque,
                      GDestroyNotify destroy)
{
    QIOTask *task;

    g_return_val_if_fail(source == NULL || G_IS_OBJECT(source), NULL);
    g_return_val_if_fail(func != NULL, NULL);

    task = g_new0(QIOTask, 1);
    task->refs = 1;
    task->source = source ? g_object_ref(source) : NULL;
    task->func = func;
    task->opaque = opaque;
    task->destroy = destroy;
    return task;
}

static void task_clear_result(QIOTask *task)
{
    GDestroyNotify notify = task->result_notify;
    gpointer result = task->result;

    task->result = NULL;
    task->result_notify = NULL;
    if (notify && result) {
        notify(result);
    }
}

/* Drop what the caller handed over: the data, the result, the source. */
static void task_release(QIOTask *task)
{
    QIOTaskThread *thread = task->thread;

    if (task->released) {
        return;
    }
    task->released = true;
    if (thread && thread->destroy) {
        thread->destroy(thread->opaque);
    }
    if (task->destroy) {
        task->destroy(task->opaque);
    }
    task_clear_result(task);
    g_clear_object(&task->source);
    g_clear_error(&task->err);
}

static void task_thread_free(QIOTaskThread *thread)
{
    if (thread->completion) {
        g_source_unref(thread->completion);
    }
    if (thread->context) {
        g_main_context_unref(thread->context);
    }
    g_mutex_clear(&thread->lock);
    g_cond_clear(&thread->cond);
    g_free(thread);
}

static void task_unref(QIOTask *task)
{
    if (!g_atomic_int_dec_and_test(&task->refs)) {
        return;
    }
    /* Not completed: its context went away without running it. */
    task_release(task);
    if (task->thread) {
        task_thread_free(task->thread);
    }
    g_free(task);
}

static void task_unref_notify(gpointer data)
{
    task_unref(data);
}

/* The callback, then everything it may have needed. */
static void task_finish(QIOTask *task)
{
    task->func(task, task->opaque);
    task_release(task);
}

void qio_task_complete(QIOTask *task)
{
    g_return_if_fail(task != NULL);
    g_return_if_fail(task->thread == NULL);

    task_finish(task);
    task_unref(task);
}

/* ---------------------------------------------------------------- threads */

static gboolean task_thread_complete(gpointer data)
{
    task_finish(data);
    return G_SOURCE_REMOVE;
}

/*
 * Give the finished task to its context. The idle source takes over the
 * task's own reference: running it, or the context being destroyed
 * before it ran, drops it. g_main_context_invoke() is no use here: it
 * runs the callback inline when nobody owns the context.
 */
static void task_hand_over(QIOTask *task)
{
    QIOTaskThread *thread = task->thread;
    GSource *idle = g_idle_source_new();
    GMainContext *context;

    /* Default priority: busy watches must not starve completions. */
    g_source_set_priority(idle, G_PRIORITY_DEFAULT);
    g_source_set_static_name(idle, "qio-task-completion");
    g_source_set_callback(idle, task_thread_complete, task, task_unref_notify);

    g_mutex_lock(&thread->lock);
    context = g_steal_pointer(&thread->context);
    thread->completion = idle;
    g_source_attach(idle, context);
    g_cond_broadcast(&thread->cond);
    g_mutex_unlock(&thread->lock);

    g_main_context_unref(context);
    /* The worker's reference: the task may be gone after this. */
    task_unref(task);
}

static gpointer task_thread_main(gpointer data)
{
    QIOTask *task = data;

    task->thread->worker(task, task->thread->opaque);
    task_hand_over(task);
    return NULL;
}

void qio_task_run_in_thread(QIOTask *task, QIOTaskWorker worker,
                            gpointer opaque, GDestroyNotify destroy,
                            GMainContext *context)
{
    QIOTaskThread *thread;
    GThread *th;
    GError *err = NULL;

    g_return_if_fail(task != NULL);
    g_return_if_fail(worker != NULL);
    g_return_if_fail(task->thread == NULL);

    thread = g_new0(QIOTaskThread, 1);
    thread->worker = worker;
    thread->opaque = opaque;
    thread->destroy = destroy;
    thread->context = context ? g_main_context_ref(context)
                              : g_main_context_ref_thread_default();
    g_mutex_init(&thread->lock);
    g_cond_init(&thread->cond);
    task->thread = thread;

    /* The worker's reference, dropped once it has handed over. */
    g_atomic_int_inc(&task->refs);
    th = g_thread_try_new("qio-task", task_thread_main, task, &err);
    if (!th) {
        /* Still complete in @context, never inline. */
        qio_task_set_error(task, err);
        task_hand_over(task);
        return;
    }
    g_thread_unref(th);
}

void qio_task_wait_thread(QIOTask *task)
{
    QIOTaskThread *thread;
    GSource *completion;

    g_return_if_fail(task != NULL);
    g_return_if_fail(task->thread != NULL);
    thread = task->thread;

    g_atomic_int_inc(&task->refs);
    g_mutex_lock(&thread->lock);
    while (!thread->completion) {
        g_cond_wait(&thread->cond, &thread->lock);
    }
    completion = thread->completion;
    g_mutex_unlock(&thread->lock);

    /* Drops the reference the source held; ours keeps the task. */
    g_source_destroy(completion);
    task_finish(task);
    task_unref(task);
}

/* ---------------------------------------------------------------- outcome */

void qio_task_set_error(QIOTask *task, GError *err)
{
    g_return_if_fail(task != NULL);

    if (!err) {
        return;
    }
    if (task->err) {
        g_error_free(err);
        return;
    }
    task->err = err;
}

bool qio_task_propagate_error(QIOTask *task, GError **errp)
{
    g_return_val_if_fail(task != NULL, false);

    if (!task->err) {
        return false;
    }
    g_propagate_error(errp, g_error_copy(task->err));
    return true;
}

void qio_task_set_result_pointer(QIOTask *task, gpointer result,
                                 GDestroyNotify notify)
{
    g_return_if_fail(task != NULL);

    task_clear_result(task);
    task->result = result;
    task->result_notify = notify;
}

gpointer qio_task_get_result_pointer(QIOTask *task)
{
    g_return_val_if_fail(task != NULL, NULL);
    return task->result;
}

gpointer qio_task_steal_result_pointer(QIOTask *task)
{
    g_return_val_if_fail(task != NULL, NULL);

    task->result_notify = NULL;
    return g_steal_pointer(&task->result);
}

GObject *qio_task_get_source(QIOTask *task)
{
    g_return_val_if_fail(task != NULL, NULL);
    return task->source;
}
