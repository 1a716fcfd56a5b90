/*
 * qioc - SD-LISTEN: sockets passed by systemd socket activation
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The protocol (sd_listen_fds(3)): LISTEN_PID names the process the
 * sockets are for, LISTEN_FDS how many there are, starting at descriptor
 * 3, and LISTEN_FDNAMES their colon-separated names.
 */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "addr.h"

#define SD_LISTEN_FDS_START 3

/* How many sockets systemd passed to this process. */
static gboolean sd_count(guint *n, GError **errp)
{
    const char *pid = g_getenv("LISTEN_PID");
    const char *fds = g_getenv("LISTEN_FDS");
    guint64 count;

    if (!fds) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "no sockets passed (LISTEN_FDS is not set)");
        return FALSE;
    }
    if (pid && g_ascii_strtoll(pid, NULL, 10) != getpid()) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "the sockets are for process %s, not this one", pid);
        return FALSE;
    }
    if (!g_ascii_string_to_unsigned(fds, 10, 1, 1024, &count, NULL)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "bad LISTEN_FDS \"%s\"", fds);
        return FALSE;
    }
    *n = (guint)count;
    return TRUE;
}

static QIONetListener *sd_listen(QiocEndpoint *ep, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    const char *want = addr->nparams > 0 ? addr->params[0] : NULL;
    g_auto(GStrv) names = NULL;
    g_autoptr(QIONetListener) listener = qio_net_listener_new();
    guint n;

    if (!sd_count(&n, errp)) {
        return NULL;
    }
    names = g_strsplit(g_getenv("LISTEN_FDNAMES") ?: "", ":", -1);
    for (guint i = 0; i < n; i++) {
        const char *name = i < g_strv_length(names) ? names[i] : "unknown";

        if (want && !g_str_equal(want, name)) {
            continue;
        }
        if (!qioc_listener_add_fd(listener, SD_LISTEN_FDS_START + (int)i,
                                  " (use Accept=no in the .socket unit)",
                                  errp)) {
            return NULL;
        }
    }
    if (!qio_net_listener_is_connected(listener)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "no socket named \"%s\" in LISTEN_FDNAMES", want);
        return NULL;
    }
    /* Children must not think the sockets are theirs. */
    g_unsetenv("LISTEN_PID");
    g_unsetenv("LISTEN_FDS");
    g_unsetenv("LISTEN_FDNAMES");
    return g_steal_pointer(&listener);
}

static const QiocAddrType sd_listen_types[] = {
    {"SD-LISTEN", NULL, QIOC_ADDR_SD_LISTEN, AF_UNSPEC, 0, 1, QIOC_T_ACCEPT,
     "[NAME]", "accept clients on a socket from systemd socket activation"},
};

const QiocAddrDesc qioc_addr_sd_listen = {.kind = QIOC_ADDR_SD_LISTEN,
                                          QIOC_ADDR_TYPES(sd_listen_types),
                                          .listen = sd_listen};
