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

/* ---------------------------------------------------------------- traffic */

#define HEX_PER_LINE 16

static void traffic_header(GString *out, int from, size_t len, guint64 off)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *stamp = g_date_time_format(now, "%Y/%m/%d %H:%M:%S");

    g_string_append_printf(out,
                           "%c %s.%06d  length=%zu from=%" G_GUINT64_FORMAT
                           " to=%" G_GUINT64_FORMAT "\n",
                           from == 1 ? '>' : '<', stamp,
                           g_date_time_get_microsecond(now), len, off,
                           off + len - 1);
}

/* Printable text as is; other bytes as \xNN, so the log stays readable. */
static void traffic_text(GString *out, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        guchar c = (guchar)buf[i];

        if (g_ascii_isprint(c) || c == '\n' || c == '\t') {
            g_string_append_c(out, (char)c);
        } else {
            g_string_append_printf(out, "\\x%02x", c);
        }
    }
    if (len == 0 || buf[len - 1] != '\n') {
        g_string_append_c(out, '\n');
    }
}

static void traffic_hex(GString *out, const char *buf, size_t len)
{
    for (size_t line = 0; line < len; line += HEX_PER_LINE) {
        size_t n = MIN(HEX_PER_LINE, len - line);

        for (size_t i = 0; i < HEX_PER_LINE; i++) {
            if (i < n) {
                g_string_append_printf(out, " %02x",
                                       (guchar)buf[line + i]);
            } else {
                g_string_append(out, "   ");
            }
        }
        g_string_append(out, "  ");
        for (size_t i = 0; i < n; i++) {
            guchar c = (guchar)buf[line + i];

            g_string_append_c(out, g_ascii_isprint(c) ? (char)c : '.');
        }
        g_string_append_c(out, '\n');
    }
}

void qioc_log_traffic(QiocTrafficMode mode, int from, const char *buf,
                      size_t len, guint64 offset)
{
    g_autoptr(GString) out = NULL;

    if (mode == QIOC_TRAFFIC_OFF) {
        return;
    }
    out = g_string_sized_new(len * (mode == QIOC_TRAFFIC_HEX ? 4 : 1) + 96);
    traffic_header(out, from, len, offset);
    if (mode == QIOC_TRAFFIC_HEX) {
        traffic_hex(out, buf, len);
    } else {
        traffic_text(out, buf, len);
    }
    g_string_append(out, "--\n");
    fwrite(out->str, 1, out->len, stderr);
    fflush(stderr);
}
