/*
 * qioc - diagnostics on stderr
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "log.h"

static int log_level;
static QiocLogConfig log_cfg = {.name = "qioc"};
static FILE *log_file;
static char *log_hostname;
/* The connection lines are about, or 0: per thread, as each worker runs
 * its own connections (src/serve.c). */
static __thread guint log_conn;
static gint log_to_syslog; /* atomic: workers switch it (-lm) */
static gint log_switching; /* atomic: the one that says so */

static const struct {
    const char *name;
    int facility;
} facilities[] = {
    {"daemon", LOG_DAEMON},     {"user", LOG_USER},     {"auth", LOG_AUTH},
    {"authpriv", LOG_AUTHPRIV}, {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
    {"local2", LOG_LOCAL2},     {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5},     {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

static gboolean open_syslog(const char *facility, GError **errp)
{
    const char *want = *facility ? facility : "daemon";

    for (gsize i = 0; i < G_N_ELEMENTS(facilities); i++) {
        if (g_ascii_strcasecmp(want, facilities[i].name) == 0) {
            openlog(log_cfg.name, LOG_PID, facilities[i].facility);
            return TRUE;
        }
    }
    g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "unknown syslog facility \"%s\"", facility);
    return FALSE;
}

gboolean qioc_log_setup(const QiocLogConfig *cfg, GError **errp)
{
    log_cfg = *cfg;
    if (!log_cfg.name) {
        log_cfg.name = "qioc";
    }
    if (cfg->host) {
        log_hostname = g_strdup(g_get_host_name());
    }
    if (cfg->syslog && !open_syslog(cfg->syslog, errp)) {
        log_cfg.syslog = NULL;
        return FALSE;
    }
    log_to_syslog = cfg->syslog && !cfg->mixed;
    if (cfg->file) {
        log_file = fopen(cfg->file, "ae");
        if (!log_file) {
            g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                        "log file %s: %s", cfg->file, g_strerror(errno));
            return FALSE;
        }
    }
    return TRUE;
}

void qioc_log_transfer_started(void)
{
    if (log_cfg.syslog && !g_atomic_int_get(&log_to_syslog) &&
        g_atomic_int_compare_and_exchange(&log_switching, 0, 1)) {
        qioc_info(1, "diagnostics go to syslog from now on");
        g_atomic_int_set(&log_to_syslog, TRUE);
    }
}

/* "2026/11/25 09:51:44.123456 host " when asked for. */
static char *line_prefix(void)
{
    g_autoptr(GString) out = g_string_new(NULL);

    if (log_cfg.micro) {
        g_autoptr(GDateTime) now = g_date_time_new_now_local();
        g_autofree char *stamp = g_date_time_format(now, "%Y/%m/%d %H:%M:%S");

        g_string_append_printf(out, "%s.%06d ", stamp,
                               g_date_time_get_microsecond(now));
    }
    if (log_hostname) {
        g_string_append_printf(out, "%s ", log_hostname);
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

void qioc_log_set_level(int level)
{
    log_level = level;
}

int qioc_log_get_level(void)
{
    return log_level;
}

guint qioc_log_conn_enter(guint conn)
{
    guint prev = log_conn;

    log_conn = conn;
    return prev;
}

void qioc_log_conn_leave(guint prev)
{
    log_conn = prev;
}

guint qioc_log_conn(void)
{
    return log_conn;
}

/* "[3] " while connection 3's code runs, else "". */
static char *conn_tag(void)
{
    return log_conn ? g_strdup_printf("[%u] ", log_conn) : g_strdup("");
}

/* One whole line per write, so lines from concurrent writers never mix. */
static void log_line(int priority, const char *prefix, const char *fmt,
                     va_list ap)
{
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    g_autofree char *head = NULL;
    g_autofree char *line = NULL;
    g_autofree char *tag = conn_tag();
    FILE *out = log_file ? log_file : stderr;

    if (g_atomic_int_get(&log_to_syslog)) {
        syslog(priority, "%s%s%s", tag, prefix, msg);
        return;
    }
    head = line_prefix();
    line =
        g_strdup_printf("%s%s: %s%s%s\n", head, log_cfg.name, tag, prefix, msg);
    fputs(line, out);
    fflush(out);
}

void qioc_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_line(LOG_ERR, "", fmt, ap);
    va_end(ap);
}

void qioc_warning(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_line(LOG_WARNING, "warning: ", fmt, ap);
    va_end(ap);
}

void qioc_notice(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_line(LOG_NOTICE, "", fmt, ap);
    va_end(ap);
}

void qioc_info(int level, const char *fmt, ...)
{
    va_list ap;

    if (level > log_level) {
        return;
    }
    va_start(ap, fmt);
    log_line(level > 1 ? LOG_DEBUG : LOG_INFO, "", fmt, ap);
    va_end(ap);
}

void qioc_log_address(int level, int index, const char *text, const char *fmt,
                      ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    if (level > log_level) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    switch (level) {
    case QIOC_LOG_ERROR:
        qioc_error("address %d (%s): %s", index, text, msg);
        break;
    case QIOC_LOG_WARNING:
        qioc_warning("address %d (%s): %s", index, text, msg);
        break;
    default:
        qioc_info(level, "address %d (%s): %s", index, text, msg);
        break;
    }
}

/* ---------------------------------------------------------------- traffic */

#define HEX_PER_LINE 16

static void traffic_header(GString *out, int from, size_t len, guint64 off)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *stamp = g_date_time_format(now, "%Y/%m/%d %H:%M:%S");
    g_autofree char *tag = conn_tag();

    g_string_append_printf(out,
                           "%c %s%s.%06d  length=%zu from=%" G_GUINT64_FORMAT
                           " to=%" G_GUINT64_FORMAT "\n",
                           from == 1 ? '>' : '<', tag, stamp,
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
                g_string_append_printf(out, " %02x", (guchar)buf[line + i]);
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
