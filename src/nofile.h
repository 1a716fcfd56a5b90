/*
 * qioc - the descriptor limit: raised for qioc, the original for children
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_NOFILE_H
#define QIOC_NOFILE_H

#include <glib.h>

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit (to fs.nr_open when the
 * hard limit is unlimited), as nginx and systemd services do: a `fork`
 * listener holds two descriptors per client. Said at -d, old and new.
 * The limit qioc started with is kept for qioc_nofile_restore().
 */
void qioc_nofile_raise(void);

/*
 * In a child between fork and exec (async-signal-safe): put back the soft
 * limit qioc started with, for the programs that break with a large one
 * (select(2) users above FD_SETSIZE, loops closing every descriptor up to
 * the limit). Does nothing unless qioc_nofile_raise() changed it. The
 * argument is ignored: the signature is a child setup function's.
 */
void qioc_nofile_restore(void *unused);

#endif /* QIOC_NOFILE_H */
