/*
 * libqio unit tests - QIOTask
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <string.h>
#include <unistd.h>

#include "qio/task.h"
#include "test-util.h"

/* ---------------------------------------------------------------- fixture */

/* What one task saw; the counters tell "exactly once" from "at least once". */
typedef struct {
    GThread *main_thread;
    GMainContext *expect_context;
    GMainLoop *loop;
    GThread *worker_thread;
    GThread *callback_thread;
    GThread *worker_free_thread;
    gint worker_runs;
    gint callbacks;
    gint opaque_frees;
    gint worker_frees;
    /* worker_done and opaque_frees are signalled through these */
    GMutex lock;
    GCond cond;
    bool worker_done;
    GError *seen_error;
    bool failed;
    gpointer seen_result;
    GObject *seen_source;
} Probe;

static void probe_init(Probe *p, GMainContext *ctx)
{
    memset(p, 0, sizeof(*p));
    p->main_thread = g_thread_self();
    p->expect_context = ctx;
    p->loop = g_main_loop_new(ctx, FALSE);
    g_mutex_init(&p->lock);
    g_cond_init(&p->cond);
}

static void probe_clear(Probe *p)
{
    g_clear_pointer(&p->loop, g_main_loop_unref);
    g_mutex_clear(&p->lock);
    g_cond_clear(&p->cond);
    g_clear_error(&p->seen_error);
}

/* Dispatch whatever is ready in @ctx without waiting. */
static void drain(GMainContext *ctx)
{
    while (g_main_context_iteration(ctx, FALSE)) {
    }
}

static void probe_worker(QIOTask *task, gpointer data)
{
    Probe *p = data;

    g_assert_true(g_thread_self() != p->main_thread);
    p->worker_thread = g_thread_self();
    g_atomic_int_inc(&p->worker_runs);
    g_mutex_lock(&p->lock);
    p->worker_done = true;
    g_cond_broadcast(&p->cond);
    g_mutex_unlock(&p->lock);
}

static void probe_worker_free(gpointer data)
{
    Probe *p = data;

    p->worker_free_thread = g_thread_self();
    g_atomic_int_inc(&p->worker_frees);
}

static void probe_callback(QIOTask *task, gpointer data)
{
    Probe *p = data;

    p->callback_thread = g_thread_self();
    /* NULL: completed directly, not from a context. */
    if (p->expect_context) {
        g_assert_true(g_main_context_is_owner(p->expect_context));
    }
    g_atomic_int_inc(&p->callbacks);
    /* The worker's data lives until after the callback. */
    g_assert_cmpint(g_atomic_int_get(&p->worker_frees), ==, 0);
    p->failed = qio_task_propagate_error(task, &p->seen_error);
    p->seen_result = qio_task_get_result_pointer(task);
    p->seen_source = qio_task_get_source(task);
    g_main_loop_quit(p->loop);
}

static void probe_opaque_free(gpointer data)
{
    Probe *p = data;

    g_mutex_lock(&p->lock);
    g_atomic_int_inc(&p->opaque_frees);
    g_cond_broadcast(&p->cond);
    g_mutex_unlock(&p->lock);
}

static void probe_wait_worker_done(Probe *p)
{
    g_mutex_lock(&p->lock);
    while (!p->worker_done) {
        g_cond_wait(&p->cond, &p->lock);
    }
    g_mutex_unlock(&p->lock);
}

static QIOTask *probe_task(Probe *p, GObject *source)
{
    return qio_task_new(source, probe_callback, p, probe_opaque_free);
}

static void probe_assert_once(Probe *p)
{
    g_assert_cmpint(p->worker_runs, ==, 1);
    g_assert_cmpint(p->callbacks, ==, 1);
    g_assert_cmpint(p->opaque_frees, ==, 1);
    g_assert_cmpint(p->worker_frees, ==, 1);
    g_assert_true(p->callback_thread == g_thread_self());
    g_assert_true(p->worker_free_thread == g_thread_self());
    g_assert_true(p->worker_thread != g_thread_self());
}

/* ---------------------------------------------------------------- threads */

/*
 * The worker runs in a thread of its own; the callback waits for the
 * context to be iterated, even though nobody owned it when the worker
 * finished (g_main_context_invoke() would have run it in the worker).
 */
static void test_thread_default_context(void)
{
    Probe p;
    QIOTask *task;

    probe_init(&p, g_main_context_default());
    task = probe_task(&p, NULL);
    qio_task_run_in_thread(task, probe_worker, &p, probe_worker_free, NULL);
    probe_wait_worker_done(&p);
    g_assert_cmpint(g_atomic_int_get(&p.callbacks), ==, 0);
    qio_test_run_loop(p.loop);
    drain(NULL);

    probe_assert_once(&p);
    g_assert_false(p.failed);
    g_assert_null(p.seen_result);
    g_assert_null(p.seen_source);
    probe_clear(&p);
}

/* NULL means the thread-default context at the time of the call. */
static void test_thread_pushed_context(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    Probe p;
    QIOTask *task;

    probe_init(&p, ctx);
    g_main_context_push_thread_default(ctx);
    task = probe_task(&p, NULL);
    qio_task_run_in_thread(task, probe_worker, &p, probe_worker_free, NULL);
    g_main_context_pop_thread_default(ctx);

    /* The global default context never sees the completion. */
    probe_wait_worker_done(&p);
    drain(NULL);
    g_assert_cmpint(g_atomic_int_get(&p.callbacks), ==, 0);

    g_main_context_push_thread_default(ctx);
    qio_test_run_loop(p.loop);
    drain(ctx);
    g_main_context_pop_thread_default(ctx);
    probe_assert_once(&p);
    probe_clear(&p);
}

typedef struct {
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    GMutex lock;
    GCond cond;
    bool running;
} LoopThread;

static gboolean loop_thread_started(gpointer data)
{
    LoopThread *lt = data;

    g_mutex_lock(&lt->lock);
    lt->running = true;
    g_cond_broadcast(&lt->cond);
    g_mutex_unlock(&lt->lock);
    return G_SOURCE_REMOVE;
}

static gpointer loop_thread_main(gpointer data)
{
    LoopThread *lt = data;
    GSource *idle = g_idle_source_new();

    g_main_context_push_thread_default(lt->ctx);
    g_source_set_callback(idle, loop_thread_started, lt, NULL);
    g_source_attach(idle, lt->ctx);
    g_source_unref(idle);
    g_main_loop_run(lt->loop);
    drain(lt->ctx);
    g_main_context_pop_thread_default(lt->ctx);
    return NULL;
}

/* A thread that runs its own context, up and iterating on return. */
static void loop_thread_start(LoopThread *lt, GMainLoop *loop)
{
    memset(lt, 0, sizeof(*lt));
    lt->loop = g_main_loop_ref(loop);
    lt->ctx = g_main_loop_get_context(loop);
    g_mutex_init(&lt->lock);
    g_cond_init(&lt->cond);
    lt->thread = g_thread_new("test-loop", loop_thread_main, lt);
    g_mutex_lock(&lt->lock);
    while (!lt->running) {
        g_cond_wait(&lt->cond, &lt->lock);
    }
    g_mutex_unlock(&lt->lock);
}

static void loop_thread_join(LoopThread *lt)
{
    g_thread_join(lt->thread);
    g_main_loop_unref(lt->loop);
    g_mutex_clear(&lt->lock);
    g_cond_clear(&lt->cond);
}

/* An explicit context: the callback runs in the thread that iterates it. */
static void test_thread_given_context(void)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    LoopThread lt;
    Probe p;
    QIOTask *task;

    probe_init(&p, ctx);
    loop_thread_start(&lt, p.loop);
    task = probe_task(&p, NULL);
    qio_task_run_in_thread(task, probe_worker, &p, probe_worker_free, ctx);
    /* The callback quits the loop; the thread then ends. */
    loop_thread_join(&lt);

    g_assert_cmpint(p.callbacks, ==, 1);
    g_assert_true(p.callback_thread == lt.thread);
    g_assert_true(p.worker_free_thread == lt.thread);
    g_assert_true(p.worker_thread != lt.thread);
    g_assert_true(p.worker_thread != g_thread_self());
    g_assert_cmpint(p.opaque_frees, ==, 1);
    g_assert_cmpint(p.worker_frees, ==, 1);
    probe_clear(&p);
}

/* ---------------------------------------------------------------- outcome */

static void error_worker(QIOTask *task, gpointer data)
{
    qio_task_set_error(
        task, g_error_new_literal(G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "first"));
    qio_task_set_error(
        task, g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "second"));
    qio_task_set_error(task, NULL);
    probe_worker(task, data);
}

static void error_callback(QIOTask *task, gpointer data)
{
    g_autoptr(GError) again = NULL;

    probe_callback(task, data);
    /* The task keeps its error: it can be asked twice, or not at all. */
    g_assert_true(qio_task_propagate_error(task, &again));
    g_assert_error(again, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_true(qio_task_propagate_error(task, NULL));
}

static void test_error_first_wins(void)
{
    Probe p;
    QIOTask *task;

    probe_init(&p, g_main_context_default());
    task = qio_task_new(NULL, error_callback, &p, probe_opaque_free);
    qio_task_run_in_thread(task, error_worker, &p, probe_worker_free, NULL);
    qio_test_run_loop(p.loop);

    probe_assert_once(&p);
    g_assert_true(p.failed);
    g_assert_error(p.seen_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_cmpstr(p.seen_error->message, ==, "first");
    probe_clear(&p);
}

static void test_no_error(void)
{
    GError *err = NULL;
    Probe p;
    QIOTask *task;

    probe_init(&p, NULL);
    task = probe_task(&p, NULL);
    g_assert_false(qio_task_propagate_error(task, &err));
    g_assert_null(err);
    qio_task_complete(task);
    g_assert_false(p.failed);
    g_assert_null(p.seen_error);
    g_assert_cmpint(p.callbacks, ==, 1);
    probe_clear(&p);
}

/* A result whose frees are counted. */
typedef struct {
    gint *frees;
    int value;
} Result;

static Result *result_new(gint *frees, int value)
{
    Result *r = g_new0(Result, 1);

    r->frees = frees;
    r->value = value;
    return r;
}

static void result_free(gpointer data)
{
    Result *r = data;

    g_atomic_int_inc(r->frees);
    g_free(r);
}

static gint result_frees;

static void result_worker(QIOTask *task, gpointer data)
{
    /* Replacing a result frees the first one. */
    qio_task_set_result_pointer(task, result_new(&result_frees, 1),
                                result_free);
    qio_task_set_result_pointer(task, result_new(&result_frees, 2),
                                result_free);
    g_assert_cmpint(g_atomic_int_get(&result_frees), ==, 1);
    probe_worker(task, data);
}

static void result_callback(QIOTask *task, gpointer data)
{
    Result *r = qio_task_get_result_pointer(task);

    probe_callback(task, data);
    g_assert_nonnull(r);
    g_assert_cmpint(r->value, ==, 2);
    /* Still owned by the task while the callback runs. */
    g_assert_cmpint(result_frees, ==, 1);
}

static void test_result_pointer(void)
{
    Probe p;
    QIOTask *task;

    result_frees = 0;
    probe_init(&p, g_main_context_default());
    task = qio_task_new(NULL, result_callback, &p, probe_opaque_free);
    qio_task_run_in_thread(task, result_worker, &p, probe_worker_free, NULL);
    qio_test_run_loop(p.loop);
    drain(NULL);

    probe_assert_once(&p);
    g_assert_false(p.failed);
    g_assert_cmpint(result_frees, ==, 2);
    probe_clear(&p);
}

static void steal_callback(QIOTask *task, gpointer data)
{
    Result **out = data;

    *out = qio_task_steal_result_pointer(task);
    g_assert_null(qio_task_get_result_pointer(task));
}

/* A stolen result belongs to the caller: the task does not free it. */
static void test_result_steal(void)
{
    gint frees = 0;
    Result *stolen = NULL;
    QIOTask *task = qio_task_new(NULL, steal_callback, &stolen, NULL);

    qio_task_set_result_pointer(task, result_new(&frees, 7), result_free);
    qio_task_complete(task);
    g_assert_nonnull(stolen);
    g_assert_cmpint(stolen->value, ==, 7);
    g_assert_cmpint(frees, ==, 0);
    result_free(stolen);
    g_assert_cmpint(frees, ==, 1);
}

/* A result nobody asked for is freed with the task, once. */
static void test_result_freed_unread(void)
{
    gint frees = 0;
    Probe p;
    QIOTask *task;

    probe_init(&p, NULL);
    task = probe_task(&p, NULL);
    qio_task_set_result_pointer(task, result_new(&frees, 3), result_free);
    qio_task_complete(task);
    g_assert_cmpint(frees, ==, 1);
    g_assert_cmpint(p.opaque_frees, ==, 1);
    probe_clear(&p);
}

/* ---------------------------------------------------------------- wait */

/*
 * Simulated slow work: the wait then usually starts while the worker
 * runs (the test holds either way; the other order is test_wait_finished).
 */
static void slow_worker(QIOTask *task, gpointer data)
{
    g_usleep(100 * 1000);
    result_worker(task, data);
}

/* The worker is still running when the caller starts waiting. */
static void test_wait_running(void)
{
    Probe p;
    QIOTask *task;

    result_frees = 0;
    probe_init(&p, NULL);
    task = probe_task(&p, NULL);
    qio_task_run_in_thread(task, slow_worker, &p, probe_worker_free, NULL);
    qio_task_wait_thread(task);

    /* Completed right away, in this thread, without iterating. */
    probe_assert_once(&p);
    g_assert_cmpint(result_frees, ==, 2);
    /* The completion source is gone: iterating does not run it again. */
    drain(NULL);
    g_assert_cmpint(p.callbacks, ==, 1);
    probe_clear(&p);
}

/* The worker is done and its completion pending in the context. */
static void test_wait_finished(void)
{
    Probe p;
    QIOTask *task;

    probe_init(&p, NULL);
    task = probe_task(&p, NULL);
    qio_task_run_in_thread(task, probe_worker, &p, probe_worker_free, NULL);
    probe_wait_worker_done(&p);
    qio_task_wait_thread(task);

    probe_assert_once(&p);
    drain(NULL);
    g_assert_cmpint(p.callbacks, ==, 1);
    g_assert_cmpint(p.opaque_frees, ==, 1);
    probe_clear(&p);
}

/* ---------------------------------------------------------------- source */

static void source_worker(QIOTask *task, gpointer data)
{
    Probe *p = data;

    /* The caller dropped its reference; the task still holds one. */
    g_assert_true(G_IS_OBJECT(qio_task_get_source(task)));
    probe_worker(task, p);
}

static void test_source_kept_alive(void)
{
    GObject *obj = g_object_new(G_TYPE_OBJECT, NULL);
    gpointer weak = obj;
    Probe p;
    QIOTask *task;

    probe_init(&p, g_main_context_default());
    g_object_add_weak_pointer(obj, &weak);
    task = probe_task(&p, obj);
    g_object_unref(obj);
    g_assert_nonnull(weak);

    qio_task_run_in_thread(task, source_worker, &p, probe_worker_free, NULL);
    qio_test_run_loop(p.loop);
    /* Seen by the callback, released as soon as the task was. */
    g_assert_true(p.seen_source == obj);
    g_assert_null(weak);
    probe_assert_once(&p);
    probe_clear(&p);
}

/* ---------------------------------------------------------------- many */

#define MANY_TASKS 200

typedef struct {
    GMainLoop *loop;
    gint callbacks[MANY_TASKS];
    gint workers[MANY_TASKS];
    gint frees[MANY_TASKS];
    gint done;
    GThread *main_thread;
} Many;

typedef struct {
    Many *m;
    int index;
} ManyItem;

static void many_worker(QIOTask *task, gpointer data)
{
    ManyItem *it = data;

    g_assert_true(g_thread_self() != it->m->main_thread);
    g_atomic_int_inc(&it->m->workers[it->index]);
    qio_task_set_result_pointer(task, GINT_TO_POINTER(it->index + 1), NULL);
}

static void many_callback(QIOTask *task, gpointer data)
{
    ManyItem *it = data;
    Many *m = it->m;

    g_assert_true(g_thread_self() == m->main_thread);
    g_assert_cmpint(GPOINTER_TO_INT(qio_task_get_result_pointer(task)), ==,
                    it->index + 1);
    m->callbacks[it->index]++;
    if (++m->done == MANY_TASKS) {
        g_main_loop_quit(m->loop);
    }
}

static void many_free(gpointer data)
{
    ManyItem *it = data;

    it->m->frees[it->index]++;
    g_free(it);
}

static void test_many(void)
{
    Many *m = g_new0(Many, 1);

    m->loop = g_main_loop_new(NULL, FALSE);
    m->main_thread = g_thread_self();
    for (int i = 0; i < MANY_TASKS; i++) {
        ManyItem *it = g_new0(ManyItem, 1);
        QIOTask *task;

        it->m = m;
        it->index = i;
        task = qio_task_new(NULL, many_callback, it, many_free);
        qio_task_run_in_thread(task, many_worker, it, NULL, NULL);
    }
    qio_test_run_loop(m->loop);
    drain(NULL);
    for (int i = 0; i < MANY_TASKS; i++) {
        g_assert_cmpint(m->workers[i], ==, 1);
        g_assert_cmpint(m->callbacks[i], ==, 1);
        g_assert_cmpint(m->frees[i], ==, 1);
    }
    g_main_loop_unref(m->loop);
    g_free(m);
}

/* ---------------------------------------------------------------- complete */

typedef struct {
    QIOTask *task;
    int fds[2];
    gint callbacks;
    gint frees;
    bool in_watch;
    GMainLoop *loop;
} WatchOp;

static void watch_op_callback(QIOTask *task, gpointer data)
{
    WatchOp *op = data;
    GObject *src = qio_task_get_source(task);

    /* Completion is synchronous: still inside the watch callback. */
    g_assert_true(op->in_watch);
    g_assert_true(G_IS_OBJECT(src));
    g_assert_cmpint(op->frees, ==, 0);
    op->callbacks++;
}

static void watch_op_free(gpointer data)
{
    WatchOp *op = data;

    g_assert_cmpint(op->callbacks, ==, 1);
    op->frees++;
}

static gboolean watch_op_readable(int fd, GIOCondition cond, gpointer data)
{
    WatchOp *op = data;
    char c;

    g_assert_cmpint(read(fd, &c, 1), ==, 1);
    qio_task_set_result_pointer(op->task, GINT_TO_POINTER((int)c), NULL);
    op->in_watch = true;
    qio_task_complete(g_steal_pointer(&op->task));
    op->in_watch = false;
    g_main_loop_quit(op->loop);
    return G_SOURCE_REMOVE;
}

static void test_complete_from_watch(void)
{
    GObject *obj = g_object_new(G_TYPE_OBJECT, NULL);
    gpointer weak = obj;
    WatchOp op = {0};

    g_object_add_weak_pointer(obj, &weak);
    g_assert_true(g_unix_open_pipe(op.fds, FD_CLOEXEC, NULL));
    op.loop = g_main_loop_new(NULL, FALSE);
    op.task = qio_task_new(obj, watch_op_callback, &op, watch_op_free);
    g_object_unref(obj);
    g_unix_fd_add(op.fds[0], G_IO_IN, watch_op_readable, &op);
    g_assert_cmpint(write(op.fds[1], "x", 1), ==, 1);
    qio_test_run_loop(op.loop);

    g_assert_cmpint(op.callbacks, ==, 1);
    g_assert_cmpint(op.frees, ==, 1);
    g_assert_null(weak);
    close(op.fds[0]);
    close(op.fds[1]);
    g_main_loop_unref(op.loop);
}

/* ---------------------------------------------------------------- context */

/*
 * A context destroyed before it ran the completion frees the task
 * without calling back (the notifies still run): nothing leaks.
 */
static void test_context_destroyed(void)
{
    GMainContext *ctx = g_main_context_new();
    Probe p;
    QIOTask *task;

    probe_init(&p, ctx);
    task = probe_task(&p, NULL);
    qio_task_run_in_thread(task, probe_worker, &p, probe_worker_free, ctx);
    probe_wait_worker_done(&p);
    g_main_loop_unref(g_steal_pointer(&p.loop));
    g_main_context_unref(ctx);
    p.expect_context = NULL;

    /* The last reference may be the worker's: wait for it to let go. */
    g_mutex_lock(&p.lock);
    while (g_atomic_int_get(&p.opaque_frees) == 0) {
        g_cond_wait(&p.cond, &p.lock);
    }
    g_mutex_unlock(&p.lock);
    g_assert_cmpint(p.callbacks, ==, 0);
    g_assert_cmpint(p.opaque_frees, ==, 1);
    g_assert_cmpint(g_atomic_int_get(&p.worker_frees), ==, 1);
    probe_clear(&p);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/task/thread/default-context",
                    test_thread_default_context);
    g_test_add_func("/task/thread/pushed-context", test_thread_pushed_context);
    g_test_add_func("/task/thread/given-context", test_thread_given_context);
    g_test_add_func("/task/error/first-wins", test_error_first_wins);
    g_test_add_func("/task/error/none", test_no_error);
    g_test_add_func("/task/result/pointer", test_result_pointer);
    g_test_add_func("/task/result/steal", test_result_steal);
    g_test_add_func("/task/result/freed-unread", test_result_freed_unread);
    g_test_add_func("/task/wait/running", test_wait_running);
    g_test_add_func("/task/wait/finished", test_wait_finished);
    g_test_add_func("/task/source/kept-alive", test_source_kept_alive);
    g_test_add_func("/task/many", test_many);
    g_test_add_func("/task/complete/from-watch", test_complete_from_watch);
    g_test_add_func("/task/context/destroyed", test_context_destroyed);

    return g_test_run();
}
