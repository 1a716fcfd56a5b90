/*
 * qioc - sources in the calling thread's own main context
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "context.h"

GMainContext *qioc_context(void)
{
    GMainContext *ctx = g_main_context_get_thread_default();

    return ctx ? ctx : g_main_context_default();
}

/* Attach @source to the thread's context with its callback; its id. */
static guint context_attach(GSource *source, gint priority, GSourceFunc func,
                            gpointer data, GDestroyNotify notify)
{
    guint id;

    g_source_set_priority(source, priority);
    g_source_set_callback(source, func, data, notify);
    id = g_source_attach(source, qioc_context());
    g_source_unref(source);
    return id;
}

guint qioc_timeout_add_full(gint priority, guint ms, GSourceFunc func,
                            gpointer data, GDestroyNotify notify)
{
    return context_attach(g_timeout_source_new(ms), priority, func, data,
                          notify);
}

guint qioc_timeout_add(guint ms, GSourceFunc func, gpointer data)
{
    return qioc_timeout_add_full(G_PRIORITY_DEFAULT, ms, func, data, NULL);
}

guint qioc_idle_add_full(gint priority, GSourceFunc func, gpointer data,
                         GDestroyNotify notify)
{
    return context_attach(g_idle_source_new(), priority, func, data, notify);
}

guint qioc_child_watch_add_full(gint priority, GPid pid, GChildWatchFunc func,
                                gpointer data, GDestroyNotify notify)
{
    return context_attach(g_child_watch_source_new(pid), priority,
                          (GSourceFunc)(void (*)(void))func, data, notify);
}

gboolean qioc_source_remove(guint id)
{
    GSource *source = g_main_context_find_source_by_id(qioc_context(), id);

    if (!source) {
        return FALSE;
    }
    g_source_destroy(source);
    return TRUE;
}

void qioc_context_post(GMainContext *ctx, GSourceFunc func, gpointer data,
                       GDestroyNotify notify)
{
    GSource *source = g_idle_source_new();

    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, func, data, notify);
    g_source_attach(source, ctx);
    g_source_unref(source);
}
