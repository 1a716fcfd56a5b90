/*
 * cputime - run a command, then write its wall, user and system time
 * (benchmark helper)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   cputime FILE COMMAND [ARG]...
 *
 * Like "/usr/bin/time -f '%e %U %S %M' -o FILE", with microseconds rather
 * than hundredths: a relay that splices 4 GiB may use a tenth of a second.
 * The figures are the command's own rusage from wait4(2) (with any
 * children it waited for), so this process's cost is not in them. It
 * holds no copy of the command's standard input or output, passes SIGINT
 * and SIGTERM on, and exits with the command's status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;

static void pass_on(int sig)
{
    kill(child, sig);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double secs(struct timeval tv)
{
    return tv.tv_sec + tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    struct sigaction sa = { .sa_handler = pass_on };
    struct rusage ru;
    double start;
    FILE *out;
    int status;

    if (argc < 3) {
        fprintf(stderr, "usage: cputime FILE COMMAND [ARG]...\n");
        return 2;
    }
    out = fopen(argv[1], "w");
    if (!out) {
        fprintf(stderr, "cputime: %s: %s\n", argv[1], strerror(errno));
        return 125;
    }
    start = now();
    child = fork();
    if (child < 0) {
        perror("cputime: fork");
        return 125;
    }
    if (child == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "cputime: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    /* The command alone holds its stdin and stdout: EOF is not delayed. */
    close(STDIN_FILENO);
    close(STDOUT_FILENO);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (wait4(child, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("cputime: wait4");
            return 125;
        }
    }
    fprintf(out, "%.6f %.6f %.6f %ld\n", now() - start, secs(ru.ru_utime),
            secs(ru.ru_stime), ru.ru_maxrss);
    fclose(out);
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return WEXITSTATUS(status);
}
