/*
 * qioc - sources in the calling thread's own main context
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_CONTEXT_H
#define QIOC_CONTEXT_H

#include <glib.h>

/*
 * With workers= each worker thread runs its own GMainContext, pushed as
 * its thread-default; GLib's g_timeout_add(), g_idle_add(),
 * g_child_watch_add() and g_source_remove() always use the global default
 * context, the main thread's. Everything a connection adds or removes
 * goes through these instead, so it stays on the thread that serves it.
 * On the main thread (no worker) they are GLib's.
 */

/* The thread-default context, else the global default one (not a ref). */
GMainContext *qioc_context(void);

guint qioc_timeout_add(guint ms, GSourceFunc func, gpointer data);
guint qioc_timeout_add_full(gint priority, guint ms, GSourceFunc func,
                            gpointer data, GDestroyNotify notify);
guint qioc_idle_add_full(gint priority, GSourceFunc func, gpointer data,
                         GDestroyNotify notify);
guint qioc_child_watch_add_full(gint priority, GPid pid, GChildWatchFunc func,
                                gpointer data, GDestroyNotify notify);

/* Remove the source @id of qioc_context(); FALSE if it is not there. */
gboolean qioc_source_remove(guint id);

/*
 * Run @func(@data) in @ctx's loop, always later, never inline: unlike
 * g_main_context_invoke(), which runs it at once in the caller's thread
 * when @ctx is free.
 */
void qioc_context_post(GMainContext *ctx, GSourceFunc func, gpointer data,
                       GDestroyNotify notify);

#endif /* QIOC_CONTEXT_H */
