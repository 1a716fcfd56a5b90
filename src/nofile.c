/*
 * qioc - the descriptor limit: raised for qioc, the original for children
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * qioc never uses select(2) (the main loop polls, the pump reads and
 * writes), so descriptors above FD_SETSIZE are safe in it; its EXEC and
 * SYSTEM children may not be, and get the original limit back.
 */
#include "config.h"

#include <errno.h>
#include <sys/resource.h>

#include "log.h"
#include "nofile.h"

static struct rlimit original;
static gboolean raised;

/* The most the kernel allows a process, for an unlimited hard limit. */
static rlim_t nofile_ceiling(rlim_t hard)
{
    g_autofree char *text = NULL;
    guint64 nr_open;

    if (hard != RLIM_INFINITY) {
        return hard;
    }
    if (!g_file_get_contents("/proc/sys/fs/nr_open", &text, NULL, NULL) ||
        !g_ascii_string_to_unsigned(g_strstrip(text), 10, 1, G_MAXINT, &nr_open,
                                    NULL)) {
        return 1024 * 1024;
    }
    return nr_open;
}

void qioc_nofile_raise(void)
{
    struct rlimit want;

    if (getrlimit(RLIMIT_NOFILE, &original) < 0) {
        return;
    }
    want = original;
    want.rlim_cur = nofile_ceiling(original.rlim_max);
    if (want.rlim_cur <= original.rlim_cur) {
        return;
    }
    if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
        qioc_info(1, "cannot raise the descriptor limit from %llu to %llu: %s",
                  (unsigned long long)original.rlim_cur,
                  (unsigned long long)want.rlim_cur, g_strerror(errno));
        return;
    }
    raised = TRUE;
    qioc_info(1,
              "descriptor limit raised from %llu to %llu (the hard limit); "
              "children get %llu",
              (unsigned long long)original.rlim_cur,
              (unsigned long long)want.rlim_cur,
              (unsigned long long)original.rlim_cur);
}

void qioc_nofile_restore(void *unused)
{
    if (raised) {
        setrlimit(RLIMIT_NOFILE, &original);
    }
}
