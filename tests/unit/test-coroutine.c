/*
 * libqio - tests for stackful coroutines
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "qio/coroutine.h"

#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif

/* The documented usable stack size (qio_coroutine_create()). */
#define STACK_SIZE (256 * 1024)

/* ------------------------------------------------ create, enter, return */

typedef struct {
    int started;
    int finished; /* bumped in the epilogue: the entry did return */
} Counts;

static void coroutine_fn count_entry(void *opaque)
{
    Counts *c = opaque;

    c->started++;
    c->finished++;
}

static void test_create_enter_return(void)
{
    Counts c = {0};
    QIOCoroutine *co = qio_coroutine_create(count_entry, &c);

    g_assert_nonnull(co);
    g_assert_cmpint(c.started, ==, 0); /* creation does not run it */
    g_assert_false(qio_coroutine_entered(co));
    qio_coroutine_enter(co);
    g_assert_cmpint(c.started, ==, 1);
    g_assert_cmpint(c.finished, ==, 1);

    /* Well past the pool's capacity: both reuse and fresh stacks. */
    for (int i = 0; i < 500; i++) {
        qio_coroutine_enter(qio_coroutine_create(count_entry, &c));
    }
    g_assert_cmpint(c.started, ==, 501);
    g_assert_cmpint(c.finished, ==, 501);
}

/* ------------------------------------------------------- yield, re-enter */

typedef struct {
    guint64 in;
    guint64 out;
    guint64 rounds;
    bool done;
} Exchange;

static void coroutine_fn double_entry(void *opaque)
{
    Exchange *x = opaque;

    for (guint64 i = 0; i < x->rounds; i++) {
        x->out = x->in * 2 + i;
        qio_coroutine_yield();
    }
    x->done = true;
}

static void test_yield_many(void)
{
    /* A million by default: "strace -c" on it shows no syscall per switch. */
    Exchange x = {.rounds = g_test_thorough() ? 10000000 : 1000000};
    QIOCoroutine *co = qio_coroutine_create(double_entry, &x);

    for (guint64 i = 0; i < x.rounds; i++) {
        x.in = i * 3;
        qio_coroutine_enter(co);
        if (x.out != i * 7) {
            g_assert_cmpuint(x.out, ==, i * 7);
        }
        g_assert_false(x.done);
    }
    qio_coroutine_enter(co); /* returns from the loop: finishes */
    g_assert_true(x.done);
}

/* --------------------------------------------------------- self, in */

typedef struct {
    QIOCoroutine *co;
    QIOCoroutine *seen_self;
    gboolean seen_in;
    gboolean seen_entered;
    bool done;
} SelfData;

static void coroutine_fn self_entry(void *opaque)
{
    SelfData *d = opaque;

    d->seen_self = qio_coroutine_self();
    d->seen_in = qio_in_coroutine();
    d->seen_entered = qio_coroutine_entered(d->co);
    qio_coroutine_yield();
    g_assert_true(qio_coroutine_self() == d->co);
    d->done = true;
}

static void test_self(void)
{
    SelfData d = {0};

    g_assert_null(qio_coroutine_self());
    g_assert_false(qio_in_coroutine());

    d.co = qio_coroutine_create(self_entry, &d);
    qio_coroutine_enter(d.co);
    g_assert_true(d.seen_self == d.co);
    g_assert_true(d.seen_in);
    g_assert_true(d.seen_entered);
    g_assert_false(qio_coroutine_entered(d.co)); /* suspended in yield */

    g_assert_null(qio_coroutine_self());
    g_assert_false(qio_in_coroutine());
    qio_coroutine_enter(d.co);
    g_assert_true(d.done);
    g_assert_null(qio_coroutine_self());
}

/* ---------------------------------------------------------------- nest */

typedef struct {
    QIOCoroutine *a;
    QIOCoroutine *b;
    GString *trace;
} NestData;

static void coroutine_fn nest_b(void *opaque)
{
    NestData *d = opaque;

    g_assert_true(qio_coroutine_self() == d->b);
    g_assert_true(qio_coroutine_entered(d->a)); /* waiting for us */
    g_string_append(d->trace, "B1 ");
    qio_coroutine_yield(); /* back to A, not to the thread */
    g_assert_true(qio_coroutine_self() == d->b);
    g_string_append(d->trace, "B2 ");
}

static void coroutine_fn nest_a(void *opaque)
{
    NestData *d = opaque;

    g_string_append(d->trace, "A1 ");
    /* Created inside a coroutine: its first stack switch starts here. */
    d->b = qio_coroutine_create(nest_b, d);
    qio_coroutine_enter(d->b);
    g_assert_true(qio_coroutine_self() == d->a);
    g_assert_false(qio_coroutine_entered(d->b));
    g_string_append(d->trace, "A2 ");
    qio_coroutine_yield(); /* back to the thread, B still suspended */
    g_string_append(d->trace, "A3 ");
    qio_coroutine_enter(d->b); /* B finishes */
    g_string_append(d->trace, "A4");
}

static void test_nesting(void)
{
    NestData d = {.trace = g_string_new(NULL)};

    d.a = qio_coroutine_create(nest_a, &d);
    qio_coroutine_enter(d.a);
    g_assert_cmpstr(d.trace->str, ==, "A1 B1 A2 ");
    g_assert_null(qio_coroutine_self());
    qio_coroutine_enter(d.a);
    g_assert_cmpstr(d.trace->str, ==, "A1 B1 A2 A3 B2 A4");
    g_string_free(d.trace, TRUE);
}

/* --------------------------------------------------------------- many */

#define MANY 10000

typedef struct {
    guint index;
    guint woken;
    guint *finished;
} ManyData;

static void coroutine_fn many_entry(void *opaque)
{
    ManyData *m = opaque;
    volatile char scratch[512]; /* touch a little stack, as real code */

    memset((char *)scratch, (int)m->index, sizeof(scratch));
    qio_coroutine_yield();
    g_assert_cmpint(scratch[m->index % sizeof(scratch)], ==, (char)m->index);
    m->woken++;
    (*m->finished)++;
}

/* Resident set in KiB, from /proc (0 where there is none). */
static gsize rss_kib(void)
{
    g_autofree char *statm = NULL;
    unsigned long size = 0;
    unsigned long resident = 0;

    if (!g_file_get_contents("/proc/self/statm", &statm, NULL, NULL) ||
        sscanf(statm, "%lu %lu", &size, &resident) != 2) {
        return 0;
    }
    return resident * ((gsize)sysconf(_SC_PAGESIZE) / 1024);
}

static void test_many(void)
{
    g_autofree ManyData *data = g_new0(ManyData, MANY);
    g_autofree QIOCoroutine **cos = g_new0(QIOCoroutine *, MANY);
    guint finished = 0;
    gsize before = rss_kib();
    gsize grown;

    for (guint i = 0; i < MANY; i++) {
        data[i] = (ManyData){.index = i, .finished = &finished};
        cos[i] = qio_coroutine_create(many_entry, &data[i]);
        qio_coroutine_enter(cos[i]);
    }
    grown = rss_kib() - before;
    g_test_message("%d suspended coroutines: RSS grew %zu KiB (%zu B each)",
                   MANY, grown, grown * 1024 / MANY);
#ifndef TEST_ASAN
    /* Untouched stack pages must cost nothing: far below 256 KiB each. */
    g_assert_cmpuint(grown, <, MANY * 32);
#endif
    g_assert_cmpuint(finished, ==, 0);

    /* Resume in reverse, so stacks are released out of creation order. */
    for (guint i = MANY; i-- > 0;) {
        qio_coroutine_enter(cos[i]);
    }
    g_assert_cmpuint(finished, ==, MANY);
    for (guint i = 0; i < MANY; i++) {
        g_assert_cmpuint(data[i].woken, ==, 1);
    }
}

/* ------------------------------------------------------ deep recursion */

/* Each level holds 1 KiB; returns how deep the stack went, in bytes. */
static G_GNUC_NO_INLINE gsize recurse(guint depth, const char *top, guint *sum)
{
    volatile unsigned char buf[1024];
    gsize used;

    for (gsize i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char)(depth + i);
    }
    if (depth == 0) {
        used = (gsize)(top - (const char *)__builtin_frame_address(0));
    } else {
        used = recurse(depth - 1, top, sum);
    }
    /* Read back after the deeper levels ran: nothing was overwritten. */
    for (gsize i = 0; i < sizeof(buf); i++) {
        *sum += buf[i] == (unsigned char)(depth + i);
    }
    return used;
}

typedef struct {
    gsize used;
    guint ok_bytes;
} DeepData;

static void coroutine_fn deep_entry(void *opaque)
{
    DeepData *d = opaque;

    d->used = recurse(110, __builtin_frame_address(0), &d->ok_bytes);
}

static void test_deep_recursion(void)
{
    DeepData d = {0};

    qio_coroutine_enter(qio_coroutine_create(deep_entry, &d));
    g_test_message("recursion used %zu bytes of coroutine stack", d.used);
    g_assert_cmpuint(d.used, >=, 100 * 1024);
    g_assert_cmpuint(d.ok_bytes, ==, 111 * 1024);
}

/* ---------------------------------------------------------- guard page */

static const char *volatile guard_top; /* near the top of the stack */
static volatile guint overflow_limit = G_MAXUINT;

static void guard_report(const char *msg)
{
    ssize_t ignored = write(STDERR_FILENO, msg, strlen(msg));

    (void)ignored;
}

/*
 * Runs on the alternate stack: the coroutine's is exhausted. Says where
 * the fault was, then returns with the default action restored, so the
 * faulting instruction runs again and kills the process with SIGSEGV.
 */
static void guard_segv(int sig, siginfo_t *si, void *uc)
{
    gsize below = (gsize)(guard_top - (const char *)si->si_addr);

    /* The guard page starts STACK_SIZE below the stack's top. */
    if (below >= STACK_SIZE - 16 * 1024 && below < STACK_SIZE + 8 * 1024) {
        guard_report("SIGSEGV in the guard page\n");
    } else {
        guard_report("SIGSEGV outside the guard page\n");
    }
    signal(SIGSEGV, SIG_DFL);
}

static G_GNUC_NO_INLINE guint overflow(guint depth)
{
    volatile char buf[256];

    buf[0] = (char)depth;
    if (depth == overflow_limit) {
        return 0;
    }
    return overflow(depth + 1) + (guint)buf[0];
}

static void coroutine_fn overflow_entry(void *opaque)
{
    char here = 0;

    guard_top = &here;
    overflow(0);
}

/* The child: no core file, a signal stack, then overflow. */
static void guard_child(void)
{
    struct rlimit no_core = {0, 0};
    stack_t ss = {.ss_sp = g_malloc(64 * 1024), .ss_size = 64 * 1024};
    struct sigaction sa = {.sa_sigaction = guard_segv,
                           .sa_flags = SA_SIGINFO | SA_ONSTACK};

    setrlimit(RLIMIT_CORE, &no_core);
#ifdef __linux__
    prctl(PR_SET_DUMPABLE, 0);
#endif
    g_assert_cmpint(sigaltstack(&ss, NULL), ==, 0);
    sigemptyset(&sa.sa_mask);
    g_assert_cmpint(sigaction(SIGSEGV, &sa, NULL), ==, 0);
    qio_coroutine_enter(qio_coroutine_create(overflow_entry, NULL));
    guard_report("overflow went unnoticed\n");
}

static void test_guard_page(void)
{
#ifdef TEST_ASAN
    g_test_skip("AddressSanitizer intercepts SIGSEGV");
    return;
#endif
    if (g_test_subprocess()) {
        guard_child();
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*SIGSEGV in the guard page*");
    g_test_trap_assert_stderr_unmatched("*unnoticed*");
}

/* ------------------------------------------------------- main loop */

typedef struct {
    GMainLoop *loop;
    guint steps;
    guint running;
    GString *trace;
} LoopData;

static gboolean wake_cb(gpointer co)
{
    qio_coroutine_enter(co);
    return G_SOURCE_REMOVE;
}

/* What channel yields do: arrange a wake-up in the loop, then yield. */
static void coroutine_fn sleep_ms(guint ms)
{
    if (ms == 0) {
        g_idle_add(wake_cb, qio_coroutine_self());
    } else {
        g_timeout_add(ms, wake_cb, qio_coroutine_self());
    }
    qio_coroutine_yield();
}

static void coroutine_fn loop_entry(void *opaque)
{
    LoopData *d = opaque;

    for (guint i = 0; i < 10; i++) {
        sleep_ms(i % 2);
        d->steps++;
    }
    if (--d->running == 0) {
        g_main_loop_quit(d->loop);
    }
}

static void test_main_loop(void)
{
    LoopData d = {.loop = g_main_loop_new(NULL, FALSE), .running = 2};

    qio_coroutine_enter(qio_coroutine_create(loop_entry, &d));
    qio_coroutine_enter(qio_coroutine_create(loop_entry, &d));
    g_assert_cmpuint(d.steps, ==, 0); /* both wait for the loop */
    g_main_loop_run(d.loop);
    g_assert_cmpuint(d.steps, ==, 20);
    g_assert_cmpuint(d.running, ==, 0);
    g_main_loop_unref(d.loop);
}

/* -------------------------------------------- wake from another thread */

typedef struct {
    GMainContext *ctx;
    GMainLoop *loop;
    QIOCoroutine *co;
    GThread *owner;
    GThread *woken_in;
    guint64 result;
} WakeData;

static gpointer wake_worker(gpointer opaque)
{
    WakeData *d = opaque;
    guint64 sum = 0;

    for (guint64 i = 1; i <= 1000; i++) {
        sum += i;
    }
    d->result = sum;
    /*
     * The main thread's running loop owns ctx, so this queues the enter
     * there; were the loop stopped, it would run wake_cb right here, in
     * the wrong thread.
     */
    g_main_context_invoke(d->ctx, wake_cb, d->co);
    return NULL;
}

static void coroutine_fn wake_entry(void *opaque)
{
    WakeData *d = opaque;
    GThread *worker = g_thread_new("wake-worker", wake_worker, d);

    qio_coroutine_yield();
    d->woken_in = g_thread_self();
    g_thread_join(worker);
    g_main_loop_quit(d->loop);
}

static gboolean wake_start(gpointer opaque)
{
    WakeData *d = opaque;

    d->co = qio_coroutine_create(wake_entry, d);
    qio_coroutine_enter(d->co);
    return G_SOURCE_REMOVE;
}

static void test_cross_thread_wake(void)
{
    WakeData d = {.ctx = g_main_context_default(),
                  .loop = g_main_loop_new(NULL, FALSE),
                  .owner = g_thread_self()};

    /* Started from inside the running loop, which owns the context. */
    g_idle_add(wake_start, &d);
    g_main_loop_run(d.loop);
    g_assert_true(d.woken_in == d.owner);
    g_assert_cmpuint(d.result, ==, 500500);
    g_main_loop_unref(d.loop);
}

/* ------------------------------------------------------- two threads */

#define THREAD_COROUTINES 8
#define THREAD_ROUNDS 20000

typedef struct {
    guint rounds;
    guint64 acc;
} RoundData;

static void coroutine_fn round_entry(void *opaque)
{
    RoundData *r = opaque;

    while (r->rounds < THREAD_ROUNDS) {
        r->acc += r->rounds++;
        qio_coroutine_yield();
    }
}

typedef struct {
    gint *ready;
    QIOCoroutine *seen_self; /* qio_coroutine_self() outside, at the end */
    guint64 total;
    guint churned;
} ThreadData;

/* Round-robin over a few coroutines, and churn short-lived ones. */
static gpointer thread_main(gpointer opaque)
{
    ThreadData *t = opaque;
    RoundData r[THREAD_COROUTINES] = {0};
    QIOCoroutine *cos[THREAD_COROUTINES];
    Counts c = {0};

    g_atomic_int_inc(t->ready);
    while (g_atomic_int_get(t->ready) < 2) {
        g_thread_yield(); /* start together, to overlap */
    }
    for (guint i = 0; i < THREAD_COROUTINES; i++) {
        cos[i] = qio_coroutine_create(round_entry, &r[i]);
    }
    for (guint round = 0; round <= THREAD_ROUNDS; round++) {
        for (guint i = 0; i < THREAD_COROUTINES; i++) {
            qio_coroutine_enter(cos[i]);
        }
        if (round % 100 == 0) {
            qio_coroutine_enter(qio_coroutine_create(count_entry, &c));
        }
    }
    for (guint i = 0; i < THREAD_COROUTINES; i++) {
        t->total += r[i].acc;
    }
    t->churned = (guint)c.finished;
    t->seen_self = qio_coroutine_self();
    return NULL;
}

static void test_threads(void)
{
    gint ready = 0;
    ThreadData t[2] = {{.ready = &ready}, {.ready = &ready}};
    GThread *th[2];
    guint64 expect =
        (guint64)THREAD_ROUNDS * (THREAD_ROUNDS - 1) / 2 * THREAD_COROUTINES;

    for (guint i = 0; i < 2; i++) {
        th[i] = g_thread_new("coroutines", thread_main, &t[i]);
    }
    for (guint i = 0; i < 2; i++) {
        g_thread_join(th[i]);
        g_assert_cmpuint(t[i].total, ==, expect);
        g_assert_cmpuint(t[i].churned, ==, THREAD_ROUNDS / 100 + 1);
        g_assert_null(t[i].seen_self);
    }
}

/* ------------------------------------------------- programming errors */

static void coroutine_fn reenter_self_entry(void *opaque)
{
    qio_coroutine_enter(qio_coroutine_self());
}

static gpointer enter_elsewhere(gpointer co)
{
    qio_coroutine_enter(co);
    return NULL;
}

static void coroutine_fn yield_once_entry(void *opaque)
{
    qio_coroutine_yield();
}

static void test_error_enter_running(void)
{
    if (g_test_subprocess()) {
        qio_coroutine_enter(qio_coroutine_create(reenter_self_entry, NULL));
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*qio_coroutine_enter*already running*");
}

static void test_error_enter_finished(void)
{
    if (g_test_subprocess()) {
        Counts c = {0};
        QIOCoroutine *co = qio_coroutine_create(count_entry, &c);

        qio_coroutine_enter(co);
        /* Still mapped: an empty pool keeps it. Never do this. */
        qio_coroutine_enter(co);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*qio_coroutine_enter*already finished*");
}

static void test_error_enter_other_thread(void)
{
    if (g_test_subprocess()) {
        QIOCoroutine *co = qio_coroutine_create(yield_once_entry, NULL);

        g_thread_join(g_thread_new("intruder", enter_elsewhere, co));
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*qio_coroutine_enter*another thread*");
}

static void test_error_yield_outside(void)
{
    if (g_test_subprocess()) {
        qio_coroutine_yield();
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*qio_coroutine_yield*outside a coroutine*");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/coroutine/create-enter-return", test_create_enter_return);
    g_test_add_func("/coroutine/yield-many", test_yield_many);
    g_test_add_func("/coroutine/self", test_self);
    g_test_add_func("/coroutine/nesting", test_nesting);
    g_test_add_func("/coroutine/many-alive", test_many);
    g_test_add_func("/coroutine/deep-recursion", test_deep_recursion);
    g_test_add_func("/coroutine/guard-page", test_guard_page);
    g_test_add_func("/coroutine/main-loop", test_main_loop);
    g_test_add_func("/coroutine/cross-thread-wake", test_cross_thread_wake);
    g_test_add_func("/coroutine/threads", test_threads);
    g_test_add_func("/coroutine/error/enter-running", test_error_enter_running);
    g_test_add_func("/coroutine/error/enter-finished",
                    test_error_enter_finished);
    g_test_add_func("/coroutine/error/enter-other-thread",
                    test_error_enter_other_thread);
    g_test_add_func("/coroutine/error/yield-outside", test_error_yield_outside);
    return g_test_run();
}
