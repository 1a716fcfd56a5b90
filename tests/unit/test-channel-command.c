/*
 * Unit tests for QIOChannelCommand: a child's stdin and stdout as a
 * channel, its end, and the reaping of it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * After every case the harness checks that no child of the test process
 * is left (waitpid(-1, WNOHANG) reports ECHILD; the process is a child
 * subreaper, so orphaned grandchildren count too) and that no descriptor
 * leaked.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "qio/channel-command.h"
#include "test-util.h"

/* Bounds for the close-time tests: grace periods are short on purpose. */
#define SHORT_GRACE_MS 500
#define CLOSE_LIMIT_US (5 * G_USEC_PER_SEC)

/* ---------------------------------------------------------------- helpers */

static QIOChannelCommand *spawn_opts(const char *const *argv, int flags,
                                     const QIOChannelCommandOptions *opts)
{
    g_autoptr(GError) err = NULL;
    QIOChannelCommand *cioc =
        qio_channel_command_new_spawn_full(argv, flags, opts, &err);

    g_assert_no_error(err);
    g_assert_nonnull(cioc);
    g_assert_cmpint(qio_channel_command_get_pid(cioc), >, 0);
    return cioc;
}

static QIOChannelCommand *spawn(const char *const *argv, int flags)
{
    return spawn_opts(argv, flags, NULL);
}

/* Everything the channel yields until end-of-file. */
static GString *read_to_eof(QIOChannel *ioc)
{
    GString *s = g_string_new(NULL);
    char buf[4096];

    for (;;) {
        g_autoptr(GError) err = NULL;
        ssize_t n = qio_channel_read(ioc, buf, sizeof(buf), &err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_wait(ioc, G_IO_IN);
            continue;
        }
        g_assert_no_error(err);
        g_assert_cmpint(n, >=, 0);
        if (n == 0) {
            return s;
        }
        g_string_append_len(s, buf, n);
    }
}

static void shut(QIOChannel *ioc, QIOChannelShutdown how)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(qio_channel_shutdown(ioc, how, &err), ==, 0);
    g_assert_no_error(err);
}

/* Close the channel; returns the child's wait status. */
static int close_status(QIOChannelCommand *cioc)
{
    g_autoptr(GError) err = NULL;
    int status = -1;

    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(qio_channel_command_get_exit_status(cioc, &status));
    return status;
}

static void assert_exited(int status, int code)
{
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, code);
}

static void assert_killed(int status, int sig)
{
    g_assert_true(WIFSIGNALED(status));
    g_assert_cmpint(WTERMSIG(status), ==, sig);
}

/* ---------------------------------------------------------------- echo */

static const char *const cat_argv[] = {"cat", NULL};

/* Several MiB of random data through cat and back, then a clean end. */
static void echo_through_cat(QIOChannelCommand *cioc, bool nonblocking)
{
    QIOTestTransfer t = {.nonblocking = nonblocking};
    QIOChannel *ioc = QIO_CHANNEL(cioc);
    g_autoptr(GString) rest = NULL;
    g_autoptr(GError) err = NULL;
    char c = 'x';

    qio_test_transfer(ioc, ioc, &t);
    shut(ioc, QIO_CHANNEL_SHUTDOWN_WRITE);
    rest = read_to_eof(ioc);
    g_assert_cmpuint(rest->len, ==, 0);
    /* Writing after the half-close is a broken pipe, not a signal */
    g_assert_cmpint(qio_channel_write(ioc, &c, 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    assert_exited(close_status(cioc), 0);
    g_assert_false(qio_channel_command_was_stopped(cioc));
}

static void test_echo_cat(void)
{
    g_autoptr(QIOChannelCommand) cioc = spawn(cat_argv, O_RDWR);

    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(cioc),
                                          QIO_CHANNEL_FEATURE_SHUTDOWN));
    echo_through_cat(cioc, false);
}

static void test_echo_cat_nonblocking(void)
{
    g_autoptr(QIOChannelCommand) cioc = spawn(cat_argv, O_RDWR);

    echo_through_cat(cioc, true);
}

static void test_echo_socketpair(void)
{
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autoptr(QIOChannelCommand) cioc = NULL;

    o.link = QIO_CHANNEL_COMMAND_SOCKETPAIR;
    cioc = spawn_opts(cat_argv, O_RDWR, &o);
    echo_through_cat(cioc, true);
}

/* ---------------------------------------------------------------- sort */

static int cmp_lines(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Random lines, and what LC_ALL=C sort makes of them. */
static void make_lines(GString *in, GString *sorted, unsigned n)
{
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);

    for (unsigned i = 0; i < n; i++) {
        char *l =
            g_strdup_printf("%08x%08x", g_test_rand_int(), g_test_rand_int());

        g_ptr_array_add(lines, l);
        g_string_append_printf(in, "%s\n", l);
    }
    g_ptr_array_sort(lines, cmp_lines);
    for (unsigned i = 0; i < n; i++) {
        g_string_append_printf(sorted, "%s\n",
                               (char *)g_ptr_array_index(lines, i));
    }
}

/* sort writes nothing before its input ends: the half-close releases it. */
static void test_half_close_sort(void)
{
    static const char *const argv[] = {"sort", NULL};
    static const char *const env[] = {"LC_ALL=C", NULL};
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autoptr(QIOChannelCommand) cioc = NULL;
    g_autoptr(GString) in = g_string_new(NULL);
    g_autoptr(GString) want = g_string_new(NULL);
    g_autoptr(GString) got = NULL;
    QIOChannel *ioc;
    char c;

    o.env = env;
    cioc = spawn_opts(argv, O_RDWR, &o);
    ioc = QIO_CHANNEL(cioc);
    make_lines(in, want, 100000); /* 1.7 MB: far beyond a pipe buffer */
    qio_test_write_all(ioc, in->str, in->len);

    qio_test_set_blocking(ioc, false);
    g_assert_cmpint(qio_channel_read(ioc, &c, 1, NULL), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    shut(ioc, QIO_CHANNEL_SHUTDOWN_WRITE);
    got = read_to_eof(ioc);
    g_assert_cmpuint(got->len, ==, want->len);
    g_assert_true(memcmp(got->str, want->str, want->len) == 0);
    assert_exited(close_status(cioc), 0);
}

/* ---------------------------------------------------------------- close */

/* A child that exits at end-of-file is not kept waiting for the grace. */
static void test_close_prompt(void)
{
    g_autoptr(QIOChannelCommand) cioc = spawn(cat_argv, O_RDWR);
    gint64 start = g_get_monotonic_time();

    assert_exited(close_status(cioc), 0);
    g_assert_cmpint(g_get_monotonic_time() - start, <,
                    QIO_CHANNEL_COMMAND_GRACE_MS_DEFAULT * 1000 / 2);
    g_assert_false(qio_channel_command_was_stopped(cioc));
}

/* Close a child that printed "ready\n"; returns how long close took. */
static gint64 timed_close(QIOChannelCommand *cioc, int *status)
{
    gint64 start;

    qio_test_read_str(QIO_CHANNEL(cioc), "ready\n");
    start = g_get_monotonic_time();
    *status = close_status(cioc);
    return g_get_monotonic_time() - start;
}

/* Ignores end-of-file but not SIGTERM: ended after one grace period. */
static void test_close_term(void)
{
    static const char *const argv[] = {"sh", "-c", "echo ready; exec sleep 100",
                                       NULL};
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autoptr(QIOChannelCommand) cioc = NULL;
    gint64 took;
    int status;

    o.grace_ms = SHORT_GRACE_MS;
    cioc = spawn_opts(argv, O_RDWR, &o);
    took = timed_close(cioc, &status);
    assert_killed(status, SIGTERM);
    g_assert_true(qio_channel_command_was_stopped(cioc));
    g_assert_cmpint(took, >=, SHORT_GRACE_MS * 1000);
    g_assert_cmpint(took, <, CLOSE_LIMIT_US);
}

/* Ignores end-of-file and SIGTERM: SIGKILL after two grace periods. */
static void test_close_kill(void)
{
    static const char *const argv[] = {
        "sh", "-c", "trap '' TERM; echo ready; exec sleep 100", NULL};
    g_autoptr(QIOChannelCommand) cioc = spawn(argv, O_RDWR);
    gint64 took;
    int status;

    qio_channel_command_set_grace(cioc, SHORT_GRACE_MS);
    took = timed_close(cioc, &status);
    assert_killed(status, SIGKILL);
    g_assert_true(qio_channel_command_was_stopped(cioc));
    g_assert_cmpint(took, >=, 2 * SHORT_GRACE_MS * 1000);
    g_assert_cmpint(took, <, CLOSE_LIMIT_US);
}

/* Whether @pid has ended: gone, or a zombie (of whoever reaps it). */
static bool pid_ended(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *stat = NULL;
    const char *state;

    if (!g_file_get_contents(path, &stat, NULL, NULL)) {
        return true;
    }
    state = strrchr(stat, ')');
    return state && (state[2] == 'Z' || state[2] == 'X');
}

/* A new session: close signals the whole group, grandchildren included. */
static void test_close_group(void)
{
    static const char *const argv[] = {"sh", "-c", "sleep 100 & echo $!; wait",
                                       NULL};
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autoptr(QIOChannelCommand) cioc = NULL;
    gint64 end = g_get_monotonic_time() + CLOSE_LIMIT_US;
    char line[32] = "";
    pid_t pid;
    pid_t sleeper;
    int status;

    o.setsid = true;
    o.grace_ms = 100;
    cioc = spawn_opts(argv, O_RDONLY, &o);
    pid = qio_channel_command_get_pid(cioc);
    g_assert_cmpint(getsid(pid), ==, pid);
    for (size_t i = 0; i < sizeof(line) - 1 && !strchr(line, '\n'); i++) {
        g_assert_cmpint(
            qio_channel_read_all(QIO_CHANNEL(cioc), line + i, 1, NULL), ==, 0);
    }
    sleeper = (pid_t)atoi(line);
    g_assert_cmpint(sleeper, >, 0);
    assert_killed(close_status(cioc), SIGTERM);
    /* The background sleep, in the child's group, got SIGTERM too */
    while (!pid_ended(sleeper)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    /* Orphaned, it became ours (main() made us a subreaper): reap it */
    g_assert_cmpint(waitpid(sleeper, &status, 0), ==, sleeper);
    assert_killed(status, SIGTERM);
}

/* Dropping the last reference closes and reaps like close does. */
static void test_finalize_reaps(void)
{
    QIOChannelCommand *cioc = spawn(cat_argv, O_RDWR);

    g_object_unref(cioc);
}

static void test_close_twice(void)
{
    g_autoptr(QIOChannelCommand) cioc = spawn(cat_argv, O_RDWR);
    QIOChannel *ioc = QIO_CHANNEL(cioc);
    g_autoptr(GError) err = NULL;
    char c = 'x';

    assert_exited(close_status(cioc), 0);
    g_assert_cmpint(qio_channel_close(ioc, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(qio_channel_read(ioc, &c, 1, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_write(ioc, &c, 1, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
    g_clear_error(&err);
    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_BOTH, &err),
                    ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_CLOSED);
}

/* ---------------------------------------------------------------- status */

static void test_missing_program(void)
{
    static const char *const argv[] = {"qio-no-such-program", "x", NULL};
    static const char *const abs_argv[] = {"/nonexistent/qio-prog", NULL};
    g_autoptr(GError) err = NULL;

    g_assert_null(qio_channel_command_new_spawn(argv, O_RDWR, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_cmpstr(err->message, ==,
                    "failed to run qio-no-such-program: "
                    "No such file or directory");
    g_clear_error(&err);
    g_assert_null(qio_channel_command_new_spawn(abs_argv, O_RDONLY, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(err->message, "/nonexistent/qio-prog"));
}

static void test_not_executable(void)
{
    g_autofree char *dir = g_dir_make_tmp("qio-cmd-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "script", NULL);
    const char *argv[] = {path, NULL};
    g_autoptr(GError) err = NULL;

    g_assert_true(g_file_set_contents(path, "#!/bin/sh\n", -1, NULL));
    g_assert_null(qio_channel_command_new_spawn(argv, O_RDWR, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    g_assert_true(g_str_has_prefix(err->message, "failed to run "));
    g_assert_nonnull(strstr(err->message, path));
    g_unlink(path);
    g_rmdir(dir);
}

static void test_exit_status(void)
{
    static const char *const argv[] = {"sh", "-c", "echo bye; exit 3", NULL};
    g_autoptr(QIOChannelCommand) cioc = spawn(argv, O_RDONLY);
    g_autoptr(GString) out = read_to_eof(QIO_CHANNEL(cioc));

    g_assert_cmpstr(out->str, ==, "bye\n");
    assert_exited(close_status(cioc), 3);
    g_assert_false(qio_channel_command_was_stopped(cioc));
}

static void test_killed_by_signal(void)
{
    static const char *const argv[] = {"sh", "-c", "kill -USR1 $$", NULL};
    g_autoptr(QIOChannelCommand) cioc = spawn(argv, O_RDONLY);
    g_autoptr(GString) out = read_to_eof(QIO_CHANNEL(cioc));

    assert_killed(close_status(cioc), SIGUSR1);
    g_assert_false(qio_channel_command_was_stopped(cioc));
}

/* The status can be polled before close; close then signals nobody. */
static void test_status_before_close(void)
{
    static const char *const argv[] = {"sh", "-c", "exit 7", NULL};
    g_autoptr(QIOChannelCommand) cioc = spawn(argv, O_RDONLY);
    g_autoptr(GString) out = read_to_eof(QIO_CHANNEL(cioc));
    gint64 end = g_get_monotonic_time() + CLOSE_LIMIT_US;
    int status = -1;

    while (!qio_channel_command_get_exit_status(cioc, &status)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    assert_exited(status, 7);
    assert_exited(close_status(cioc), 7);
    g_assert_false(qio_channel_command_was_stopped(cioc));
}

/* ---------------------------------------------------------------- privileges
 */

/* @uid and @chroot_dir change the child only, and it cannot undo them. */
static void test_uid(void)
{
    static const char *const argv[] = {"sh", "-c", "id -u; id -g; id -G", NULL};
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autoptr(QIOChannelCommand) cioc = NULL;
    g_autoptr(GString) out = NULL;

    if (geteuid() != 0) {
        g_test_skip("changing a child's user needs root");
        return;
    }
    o.uid = 65534;
    cioc = spawn_opts(argv, O_RDONLY, &o);
    out = read_to_eof(QIO_CHANNEL(cioc));
    g_assert_cmpstr(out->str, ==, "65534\n65534\n65534\n");
    g_assert_cmpuint(geteuid(), ==, 0);
    assert_exited(close_status(cioc), 0);
}

/* A change that fails: the program does not run, status 127, one line. */
static void test_chroot_fails(void)
{
    static const char *const argv[] = {"sh", "-c", "echo ran", NULL};
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autoptr(QIOChannelCommand) cioc = NULL;
    g_autoptr(GString) out = NULL;

    o.chroot_dir = "/nonexistent/qio-test";
    o.merge_stderr = true;
    cioc = spawn_opts(argv, O_RDONLY, &o);
    out = read_to_eof(QIO_CHANNEL(cioc));
    g_assert_cmpstr(out->str, ==,
                    "qio: the child could not change its root to "
                    "/nonexistent/qio-test; not running it\n");
    assert_exited(close_status(cioc), 127);
}

/* An unknown uid is the spawn's error; nothing starts. */
static void test_uid_unknown(void)
{
    static const char *const argv[] = {"true", NULL};
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autoptr(GError) err = NULL;

    o.uid = 2147483000;
    g_assert_null(qio_channel_command_new_spawn_full(argv, O_RDONLY, &o, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "no such user"));
}

/* ---------------------------------------------------------------- modes */

static void test_stderr_merge(void)
{
    static const char *const argv[] = {"sh", "-c", "echo out; echo err >&2",
                                       NULL};
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autoptr(QIOChannelCommand) cioc = NULL;
    g_autoptr(GString) out = NULL;

    o.merge_stderr = true;
    cioc = spawn_opts(argv, O_RDONLY, &o);
    out = read_to_eof(QIO_CHANNEL(cioc));
    g_assert_cmpstr(out->str, ==, "out\nerr\n");
    assert_exited(close_status(cioc), 0);
}

/* Read-only: the child's stdin is /dev/null and writing is refused. */
static void test_read_only(void)
{
    static const char *const argv[] = {"sh", "-c",
                                       "readlink /proc/$$/fd/0; cat", NULL};
    g_autoptr(QIOChannelCommand) cioc = spawn(argv, O_RDONLY);
    g_autoptr(GError) err = NULL;
    g_autoptr(GString) out = NULL;
    char c = 'x';

    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(cioc), &c, 1, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    out = read_to_eof(QIO_CHANNEL(cioc));
    g_assert_cmpstr(out->str, ==, "/dev/null\n");
    assert_exited(close_status(cioc), 0);
}

/* Write-only: what is written reaches the child, whose stdout is null. */
static void test_write_only(void)
{
    g_autofree char *dir = g_dir_make_tmp("qio-cmd-XXXXXX", NULL);
    g_autofree char *data = g_build_filename(dir, "data", NULL);
    g_autofree char *where = g_build_filename(dir, "stdout", NULL);
    const char *argv[] = {"sh",
                          "-c",
                          "o=$(readlink /proc/$$/fd/1); cat >\"$1\"; "
                          "echo \"$o\" >\"$2\"",
                          "sh",
                          data,
                          where,
                          NULL};
    g_autoptr(QIOChannelCommand) cioc = spawn(argv, O_WRONLY);
    size_t len = 3 * 1024 * 1024 + 17;
    g_autofree char *src = g_malloc(len);
    g_autofree char *got = NULL;
    g_autofree char *link = NULL;
    g_autoptr(GError) err = NULL;
    gsize got_len = 0;
    char c;

    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(cioc), &c, 1, &err), ==, -1);
    g_assert_error(err, QIO_CHANNEL_ERROR, QIO_CHANNEL_ERROR_NOT_SUPPORTED);
    qio_test_fill_random(src, len);
    qio_test_write_all(QIO_CHANNEL(cioc), src, len);
    assert_exited(close_status(cioc), 0);

    g_assert_true(g_file_get_contents(data, &got, &got_len, NULL));
    g_assert_cmpuint(got_len, ==, len);
    g_assert_true(memcmp(got, src, len) == 0);
    g_assert_true(g_file_get_contents(where, &link, NULL, NULL));
    g_assert_cmpstr(link, ==, "/dev/null\n");
    g_unlink(data);
    g_unlink(where);
    g_rmdir(dir);
}

static void test_env_cwd(void)
{
    static const char *const argv[] = {
        "sh", "-c", "echo \"$QIO_TEST_A\"; echo \"${QIO_TEST_B-unset}\"; pwd",
        NULL};
    static const char *const env[] = {"QIO_TEST_A=a=b", "QIO_TEST_B",
                                      NULL}; /* B is set in main() */
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autofree char *dir = g_dir_make_tmp("qio-cmd-XXXXXX", NULL);
    g_autofree char *real = realpath(dir, NULL);
    g_autofree char *want = g_strdup_printf("a=b\nunset\n%s\n", real);
    g_autoptr(QIOChannelCommand) cioc = NULL;
    g_autoptr(GString) out = NULL;

    g_assert_cmpstr(g_getenv("QIO_TEST_B"), ==, "inherited");
    o.env = env;
    o.cwd = dir;
    cioc = spawn_opts(argv, O_RDONLY, &o);
    out = read_to_eof(QIO_CHANNEL(cioc));
    g_assert_cmpstr(out->str, ==, want);
    assert_exited(close_status(cioc), 0);
    g_rmdir(dir);
}

/* The channel on other descriptor numbers; 0 stays /dev/null. */
static void test_fdin_fdout(void)
{
    static const char *const argv[] = {
        "sh", "-c", "readlink /proc/$$/fd/0 >&6; exec cat <&5 >&6", NULL};
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autoptr(QIOChannelCommand) cioc = NULL;
    g_autoptr(GString) out = NULL;

    o.child_fdin = 5;
    o.child_fdout = 6;
    cioc = spawn_opts(argv, O_RDWR, &o);
    qio_test_write_all(QIO_CHANNEL(cioc), "hello\n", 6);
    shut(QIO_CHANNEL(cioc), QIO_CHANNEL_SHUTDOWN_WRITE);
    out = read_to_eof(QIO_CHANNEL(cioc));
    g_assert_cmpstr(out->str, ==, "/dev/null\nhello\n");
    assert_exited(close_status(cioc), 0);
}

static void assert_bad_options(const QIOChannelCommandOptions *o, int flags)
{
    g_autoptr(GError) err = NULL;

    g_assert_null(qio_channel_command_new_spawn_full(cat_argv, flags, o, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void test_bad_options(void)
{
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    static const char *const bad_env[] = {"=x", NULL};

    /* Two pipes cannot share one descriptor number */
    o.child_fdin = o.child_fdout = 4;
    assert_bad_options(&o, O_RDWR);
    o.child_fdin = 2;
    o.child_fdout = 1;
    o.merge_stderr = true;
    assert_bad_options(&o, O_RDWR);
    o = (QIOChannelCommandOptions)QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    o.ctty = true;
    assert_bad_options(&o, O_RDWR);
    o = (QIOChannelCommandOptions)QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    o.child_fdout = -1;
    assert_bad_options(&o, O_RDWR);
    o = (QIOChannelCommandOptions)QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    o.env = bad_env;
    assert_bad_options(&o, O_RDWR);
}

/* child_setup: runs in the child, before the program (here: a lower
 * descriptor limit than ours, as qioc gives back its original one). */
static void lower_nofile(void *data)
{
    setrlimit(RLIMIT_NOFILE, data);
}

static void test_child_setup(void)
{
    const char *argv[] = {"sh", "-c", "ulimit -Sn", NULL};
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autoptr(QIOChannelCommand) cioc = NULL;
    g_autoptr(GString) out = NULL;
    g_autofree char *want = NULL;
    struct rlimit ours, low;

    /*
     * Under valgrind (make check-valgrind) the child's setrlimit() of the
     * descriptor limit only changes valgrind's idea of it: the program it
     * then runs, untraced, finds the real one.
     */
    if (strstr(g_getenv("LD_PRELOAD") ? g_getenv("LD_PRELOAD") : "",
               "vgpreload")) {
        g_test_skip("valgrind emulates RLIMIT_NOFILE for its client only");
        return;
    }
    g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &ours), ==, 0);
    low = ours;
    low.rlim_cur = MIN(ours.rlim_cur, 200) - 1;
    o.child_setup = lower_nofile;
    o.child_setup_data = &low;
    cioc = spawn_opts(argv, O_RDONLY, &o);
    out = read_to_eof(QIO_CHANNEL(cioc));
    want = g_strdup_printf("%lu\n", (unsigned long)low.rlim_cur);
    g_assert_cmpstr(out->str, ==, want);
    assert_exited(close_status(cioc), 0);
    /* The caller's own limit is untouched */
    g_assert_cmpint(getrlimit(RLIMIT_NOFILE, &low), ==, 0);
    g_assert_cmpuint(low.rlim_cur, ==, ours.rlim_cur);
}

/* ---------------------------------------------------------------- pty */

static QIOChannelCommand *spawn_pty(const char *script, bool setsid, bool ctty)
{
    const char *argv[] = {"sh", "-c", script, NULL};
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;

    o.link = QIO_CHANNEL_COMMAND_PTY;
    o.setsid = setsid;
    o.ctty = ctty;
    return spawn_opts(argv, O_RDWR, &o);
}

static void test_pty(void)
{
    g_autoptr(QIOChannelCommand) cioc =
        spawn_pty("test -t 0 && test -t 1 && echo tty", false, false);
    g_autoptr(GString) out = read_to_eof(QIO_CHANNEL(cioc));

    g_assert_cmpstr(out->str, ==, "tty\r\n");
    assert_exited(close_status(cioc), 0);
}

static void test_pty_ctty(void)
{
    static const char *script =
        "if (exec 3</dev/tty) 2>/dev/null; then echo ctty; else echo none; fi";
    g_autoptr(QIOChannelCommand) plain = spawn_pty(script, true, false);
    g_autoptr(QIOChannelCommand) ctty = spawn_pty(script, false, true);
    g_autoptr(GString) plain_out = read_to_eof(QIO_CHANNEL(plain));
    g_autoptr(GString) ctty_out = read_to_eof(QIO_CHANNEL(ctty));

    g_assert_cmpstr(plain_out->str, ==, "none\r\n");
    g_assert_cmpstr(ctty_out->str, ==, "ctty\r\n");
    assert_exited(close_status(plain), 0);
    assert_exited(close_status(ctty), 0);
}

/* pty_setup: the child finds the modes set before it started. */
static bool pty_no_echo(int master, void *data, GError **errp)
{
    struct termios t;

    *(int *)data = master;
    if (tcgetattr(master, &t) < 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED, "tcgetattr");
        return false;
    }
    t.c_lflag &= ~ECHO;
    t.c_oflag &= ~OPOST;
    return tcsetattr(master, TCSANOW, &t) == 0;
}

static bool pty_refuse(int master, void *data, GError **errp)
{
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "refused");
    return false;
}

static void test_pty_setup(void)
{
    const char *argv[] = {"sh", "-c", "stty -a", NULL};
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autoptr(QIOChannelCommand) cioc = NULL;
    g_autoptr(GString) out = NULL;
    g_autoptr(GError) err = NULL;
    int seen = -1;

    o.link = QIO_CHANNEL_COMMAND_PTY;
    o.pty_setup = pty_no_echo;
    o.pty_setup_data = &seen;
    cioc = spawn_opts(argv, O_RDWR, &o);
    g_assert_cmpint(seen, >=, 0);
    out = read_to_eof(QIO_CHANNEL(cioc));
    /* Every mode before the child ran: no echo, and no CR before NL. */
    g_assert_nonnull(strstr(out->str, " -echo "));
    g_assert_nonnull(strstr(out->str, "-opost"));
    g_assert_null(strchr(out->str, '\r'));
    assert_exited(close_status(cioc), 0);

    o.pty_setup = pty_refuse;
    g_assert_null(qio_channel_command_new_spawn_full(argv, O_RDWR, &o, &err));
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
}

/* A terminal has no half-close: shutdown sends its end-of-file char. */
static void test_pty_half_close(void)
{
    g_autoptr(QIOChannelCommand) cioc = spawn_pty("exec sort", false, false);
    g_autoptr(GString) out = NULL;

    qio_test_write_all(QIO_CHANNEL(cioc), "b\na", 3);
    shut(QIO_CHANNEL(cioc), QIO_CHANNEL_SHUTDOWN_WRITE);
    out = read_to_eof(QIO_CHANNEL(cioc));
    g_assert_true(g_str_has_suffix(out->str, "a\r\nb\r\n"));
    assert_exited(close_status(cioc), 0);
}

/*
 * A child that still holds its terminal when the channel closes gets
 * SIGTERM at once: it never sees an end-of-file to end by itself.
 */
static void test_pty_close_held(void)
{
    g_autoptr(QIOChannelCommand) cioc =
        spawn_pty("exec sleep 30", false, false);
    gint64 start = g_get_monotonic_time();
    int status = close_status(cioc);

    g_assert_true(WIFSIGNALED(status));
    g_assert_cmpint(WTERMSIG(status), ==, SIGTERM);
    /* not after the grace period that a child on pipes gets first */
    g_assert_cmpint(g_get_monotonic_time() - start, <,
                    QIO_CHANNEL_COMMAND_GRACE_MS_DEFAULT * 1000);
}

/* ---------------------------------------------------------------- watch */

static gboolean watch_timeout(gpointer data)
{
    g_error("the watch did not fire in time");
    return G_SOURCE_REMOVE;
}

static void test_watch_in(void)
{
    static const char *const argv[] = {"sh", "-c", "read x; echo \"got $x\"",
                                       NULL};
    g_autoptr(QIOChannelCommand) cioc = spawn(argv, O_RDWR);
    QIOChannel *ioc = QIO_CHANNEL(cioc);
    GIOCondition got = 0;
    guint timer;

    qio_test_set_blocking(ioc, false);
    qio_channel_add_watch(ioc, G_IO_IN, qio_test_watch_cond, &got, NULL);
    /* The child writes only after it has read: nothing is ready yet */
    for (int i = 0; i < 20; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    g_assert_cmpint(got, ==, 0);

    qio_test_write_all(ioc, "hi\n", 3);
    timer = g_timeout_add_seconds(10, watch_timeout, NULL);
    while (!got) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(timer);
    g_assert_true(got & G_IO_IN);
    qio_test_read_str(ioc, "got hi\n");

    /* A watch for writing fires at once: the pipe has room */
    got = 0;
    qio_channel_add_watch(ioc, G_IO_OUT, qio_test_watch_cond, &got, NULL);
    while (!got) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_true(got & G_IO_OUT);
    assert_exited(close_status(cioc), 0);
}

/* ---------------------------------------------------------------- signals */

/*
 * The child starts with SIGPIPE at its default action even when the
 * caller ignores it; shutting the read side makes `yes` die of it, which
 * the channel counts as its own doing.
 */
static void test_shutdown_read_sigpipe(void)
{
    static const char *const argv[] = {"yes", NULL};
    g_autoptr(QIOChannelCommand) cioc = NULL;
    g_autoptr(GError) err = NULL;
    char buf[4];

    signal(SIGPIPE, SIG_IGN);
    cioc = spawn(argv, O_RDONLY);
    signal(SIGPIPE, SIG_DFL);
    qio_test_read_str(QIO_CHANNEL(cioc), "y\ny\n");
    shut(QIO_CHANNEL(cioc), QIO_CHANNEL_SHUTDOWN_READ);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(cioc), buf, 4, &err), ==, 0);
    g_assert_no_error(err);
    assert_killed(close_status(cioc), SIGPIPE);
    g_assert_true(qio_channel_command_was_stopped(cioc));
}

/* Writing to a child that is gone fails; the caller gets no SIGPIPE. */
static void test_write_no_sigpipe(void)
{
    static const char *const argv[] = {"true", NULL};
    g_autoptr(QIOChannelCommand) cioc = spawn(argv, O_WRONLY);
    gint64 end = g_get_monotonic_time() + CLOSE_LIMIT_US;
    g_autoptr(GError) err = NULL;
    sigset_t pending;
    int status;

    while (!qio_channel_command_get_exit_status(cioc, &status)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    /* SIGPIPE has its default action here: a raised one would kill us */
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(cioc), "x", 1, &err), ==, -1);
    g_assert_error(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    g_assert_cmpint(sigpending(&pending), ==, 0);
    g_assert_false(sigismember(&pending, SIGPIPE));
    assert_exited(close_status(cioc), 0);
}

/* ---------------------------------------------------------------- new_pid */

static void test_new_pid(void)
{
    const char *argv[] = {"cat", NULL};
    g_autoptr(QIOChannelCommand) cioc = NULL;
    g_autoptr(GError) err = NULL;
    int in = -1;
    int out = -1;
    GPid pid;

    g_assert_true(g_spawn_async_with_pipes(
        NULL, (char **)argv, NULL,
        G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, &in,
        &out, NULL, &err));
    g_assert_no_error(err);
    cioc = qio_channel_command_new_pid(in, out, pid);
    g_assert_cmpint(qio_channel_command_get_pid(cioc), ==, pid);
    qio_test_write_all(QIO_CHANNEL(cioc), "abc", 3);
    qio_test_read_str(QIO_CHANNEL(cioc), "abc");
    assert_exited(close_status(cioc), 0);
}

/* ---------------------------------------------------------------- end-close */

/*
 * Without signals on close, a child that keeps running is left alone
 * after the grace period; GLib's child watch reaps it when it ends.
 */
static void test_no_signal_on_close(void)
{
    static const char *const argv[] = {"sh", "-c", "echo ready; exec sleep 100",
                                       NULL};
    QIOChannelCommandOptions o = QIO_CHANNEL_COMMAND_OPTIONS_INIT;
    g_autoptr(QIOChannelCommand) cioc = NULL;
    guint timer;
    gint64 took;
    GPid pid;

    o.grace_ms = 200;
    cioc = spawn_opts(argv, O_RDWR, &o);
    qio_channel_command_set_signal_on_close(cioc, false);
    pid = qio_channel_command_get_pid(cioc);
    qio_test_read_str(QIO_CHANNEL(cioc), "ready\n");
    took = g_get_monotonic_time();
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), NULL), ==, 0);
    took = g_get_monotonic_time() - took;
    g_assert_cmpint(took, >=, 200 * 1000);
    g_assert_cmpint(took, <, CLOSE_LIMIT_US);
    g_assert_false(qio_channel_command_get_exit_status(cioc, NULL));
    g_assert_false(qio_channel_command_was_stopped(cioc));
    g_assert_cmpint(kill(pid, 0), ==, 0);

    /* Our turn to end it; the child watch must reap it */
    g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
    timer = g_timeout_add_seconds(10, watch_timeout, NULL);
    while (kill(pid, 0) == 0) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(timer);
}

/* ---------------------------------------------------------------- main */

static const QIOTestCase tests[] = {
    {"/command/echo/cat", test_echo_cat},
    {"/command/echo/cat-nonblocking", test_echo_cat_nonblocking},
    {"/command/echo/socketpair", test_echo_socketpair},
    {"/command/half-close/sort", test_half_close_sort},
    {"/command/close/prompt", test_close_prompt},
    {"/command/close/term-after-grace", test_close_term},
    {"/command/close/kill-after-term", test_close_kill},
    {"/command/close/process-group", test_close_group},
    {"/command/close/finalize", test_finalize_reaps},
    {"/command/close/twice", test_close_twice},
    {"/command/spawn/missing-program", test_missing_program},
    {"/command/spawn/not-executable", test_not_executable},
    {"/command/spawn/bad-options", test_bad_options},
    {"/command/status/exit-code", test_exit_status},
    {"/command/status/signal", test_killed_by_signal},
    {"/command/status/before-close", test_status_before_close},
    {"/command/mode/stderr-merge", test_stderr_merge},
    {"/command/mode/read-only", test_read_only},
    {"/command/mode/write-only", test_write_only},
    {"/command/mode/env-cwd", test_env_cwd},
    {"/command/mode/fdin-fdout", test_fdin_fdout},
    {"/command/mode/child-setup", test_child_setup},
    {"/command/pty/tty", test_pty},
    {"/command/pty/ctty", test_pty_ctty},
    {"/command/pty/setup", test_pty_setup},
    {"/command/pty/half-close", test_pty_half_close},
    {"/command/pty/close-held", test_pty_close_held},
    {"/command/watch/in", test_watch_in},
    {"/command/signal/shutdown-read-sigpipe", test_shutdown_read_sigpipe},
    {"/command/signal/write-no-sigpipe", test_write_no_sigpipe},
    {"/command/new-pid", test_new_pid},
    {"/command/privileges/uid", test_uid},
    {"/command/privileges/chroot-fails", test_chroot_fails},
    {"/command/privileges/uid-unknown", test_uid_unknown},
    {"/command/close/no-signal", test_no_signal_on_close,
     .watches_child = true},
};

/* No child of ours may survive a test, running or as a zombie. */
static void assert_no_children(void)
{
    pid_t pid = waitpid(-1, NULL, WNOHANG);

    if (pid != -1 || errno != ECHILD) {
        g_error("a child process is left: waitpid(-1) = %d (%s)", (int)pid,
                pid < 0 ? g_strerror(errno) : "running or unreaped");
    }
}

static void run_checked(gconstpointer data)
{
    qio_test_run_checked(data);
    assert_no_children();
}

int main(int argc, char **argv)
{
    /* For /command/mode/env-cwd to remove; set before any thread runs */
    g_setenv("QIO_TEST_B", "inherited", TRUE);
    g_test_init(&argc, &argv, NULL);
    /* GLib opens the default context's wakeup fd once; do it up front */
    g_main_context_default();
    /* Orphaned grandchildren come to us, so "no child left" covers them */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* SIGPIPE keeps its default action: writes must never raise it */

    qio_test_add_cases(tests, G_N_ELEMENTS(tests), run_checked);
    return g_test_run();
}
