/*
 * libqio - asynchronous operations with a completion callback
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_TASK_H
#define QIO_TASK_H

#include <glib-object.h>
#include <stdbool.h>

G_BEGIN_DECLS

/**
 * QIOTask:
 *
 * A QIOTask carries one asynchronous operation (a connect, a handshake)
 * from its start to a completion callback, which always runs in the
 * GMainContext the operation was started from. Blocking work that cannot
 * be made non-blocking (name resolution) runs in a worker thread.
 */
typedef struct QIOTask QIOTask;

/**
 * QIOTaskFunc:
 * @task: the finished task; use qio_task_propagate_error() and
 *   qio_task_get_result_pointer() to learn the outcome
 * @opaque: (closure): the data given to qio_task_new()
 *
 * The completion callback. The task is freed when it returns.
 */
typedef void (*QIOTaskFunc)(QIOTask *task, gpointer opaque);

/**
 * QIOTaskWorker:
 * @task: the running task; report with qio_task_set_error() or
 *   qio_task_set_result_pointer()
 * @opaque: the data given to qio_task_run_in_thread()
 *
 * Work run in a thread of its own; it must not touch the main context.
 */
typedef void (*QIOTaskWorker)(QIOTask *task, gpointer opaque);

/**
 * qio_task_new: (skip)
 * @source: (nullable): the object the operation is about (referenced
 *   until the task is freed)
 * @func: the completion callback
 * @opaque: passed to @func
 * @destroy: (nullable): frees @opaque after @func has run
 *
 * Creates a task for an operation on @source. C only: bindings get
 * tasks from the asynchronous functions that take a #QIOTaskFunc.
 *
 * Returns: (transfer full): a new task; it is freed after completion.
 */
QIOTask *qio_task_new(GObject *source, QIOTaskFunc func, gpointer opaque,
                      GDestroyNotify destroy);

/**
 * qio_task_run_in_thread:
 * @task: the task
 * @worker: the blocking work
 * @opaque: passed to @worker
 * @destroy: (nullable): frees @opaque when the worker is done
 * @context: (nullable): where the completion callback runs (%NULL: the
 *   thread-default context of the caller)
 *
 * Runs @worker in a thread of its own, then completes @task in @context:
 * the callback is dispatched from an idle source attached to @context,
 * never inline, even if nobody is running @context at the time. Something
 * must iterate @context for the task to complete and be freed; if
 * @context is destroyed first, the task is freed without its callback
 * (the destroy notifies still run). @opaque is freed once the task has
 * completed, in the same thread as the callback.
 */
void qio_task_run_in_thread(QIOTask *task, QIOTaskWorker worker,
                            gpointer opaque, GDestroyNotify destroy,
                            GMainContext *context);

/**
 * qio_task_wait_thread:
 * @task: a task started with qio_task_run_in_thread()
 *
 * Blocks until the worker has finished, then completes @task right away
 * in the calling thread (which must be the one that owns its context,
 * and must call this before that context has run the completion).
 */
void qio_task_wait_thread(QIOTask *task);

/**
 * qio_task_complete:
 * @task: the task
 *
 * Runs the completion callback now and frees @task. For operations that
 * are driven by watches rather than a worker thread (not for a task given
 * to qio_task_run_in_thread()).
 */
void qio_task_complete(QIOTask *task);

/**
 * qio_task_set_error:
 * @task: the task
 * @err: (transfer full) (nullable): the error; the first one set wins
 *
 * Records a failure.
 */
void qio_task_set_error(QIOTask *task, GError *err);

/**
 * qio_task_propagate_error:
 * @task: the task
 * @errp: return location for a copy of the error
 *
 * Tells whether the task failed, typically in its completion callback.
 *
 * Returns: %TRUE if the task failed (and @errp was set).
 */
bool qio_task_propagate_error(QIOTask *task, GError **errp);

/**
 * qio_task_set_result_pointer:
 * @task: the task
 * @result: the result
 * @notify: (nullable): frees @result with the task, unless taken with
 *   qio_task_steal_result_pointer()
 *
 * Records the outcome. Setting a result again frees the previous one
 * with its notify.
 */
void qio_task_set_result_pointer(QIOTask *task, gpointer result,
                                 GDestroyNotify notify);

/**
 * qio_task_steal_result_pointer:
 * @task: the task
 *
 * Takes the result out of @task, typically in the completion callback:
 * the task forgets it and will not call its notify.
 *
 * Returns: (transfer full) (nullable): the result set by the operation;
 * the caller now owns it.
 */
gpointer qio_task_steal_result_pointer(QIOTask *task);

/**
 * qio_task_get_result_pointer:
 * @task: the task
 *
 * Gets the result without taking it; it stays owned by @task.
 *
 * Returns: (transfer none): the result set by the operation.
 */
gpointer qio_task_get_result_pointer(QIOTask *task);

/**
 * qio_task_get_source:
 * @task: the task
 *
 * Gets the object the operation is about.
 *
 * Returns: (transfer none) (nullable): the object given to qio_task_new().
 */
GObject *qio_task_get_source(QIOTask *task);

G_END_DECLS

#endif /* QIO_TASK_H */
