/*
 * qioc - terminal modes of an address that is a terminal
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * raw, rawer, echo=, icanon=, ispeed=, ... change a terminal's settings
 * for as long as its channel lives; the settings found are put back when
 * the channel is freed, when qioc exits, and when a signal that qioc does
 * not handle itself (SIGHUP, SIGQUIT, a crash) ends it.
 */
#ifndef QIOC_TERM_H
#define QIOC_TERM_H

#include <qio/qio.h>

#include "address.h"

/* Whether @rate bits per second is a speed the terminal driver knows. */
gboolean qioc_term_speed_valid(gint64 rate);

/* Whether @addr sets any terminal mode. */
gboolean qioc_term_wanted(const QiocAddress *addr);

/*
 * Apply @addr's terminal modes to the terminal @ioc reads (else the one
 * it writes), once opened. The settings found are restored when @ioc is
 * freed. Nothing is done when no mode is given; a channel on no terminal
 * is left alone (said at -d). FALSE and @errp when the terminal refuses.
 */
gboolean qioc_term_setup(const QiocAddress *addr, QIOChannel *ioc,
                         GError **errp);

/*
 * Set @addr's terminal modes on @fd, a terminal qioc made and that goes
 * away with its channel (EXEC's pty): nothing to put back.
 */
gboolean qioc_term_set_modes(const QiocAddress *addr, int fd, GError **errp);

/* Put every terminal still changed back as it was (at exit). */
void qioc_term_restore_all(void);

#endif /* QIOC_TERM_H */
