/*
 * qioc - diagnostics on stderr
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static int log_level;

void qioc_log_set_level(int level)
{
    log_level = level;
}

int qioc_log_get_level(void)
{
    return log_level;
}

/* One whole line per write, so lines from concurrent writers never mix. */
static void log_line(const char *prefix, const char *fmt, va_list ap)
{
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    g_autofree char *line = g_strdup_printf("qioc: %s%s\n", prefix, msg);

    fputs(line, stderr);
    fflush(stderr);
}

void qioc_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_line("", fmt, ap);
    va_end(ap);
}

void qioc_warning(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_line("warning: ", fmt, ap);
    va_end(ap);
}

void qioc_info(int level, const char *fmt, ...)
{
    va_list ap;

    if (level > log_level) {
        return;
    }
    va_start(ap, fmt);
    log_line("", fmt, ap);
    va_end(ap);
}
