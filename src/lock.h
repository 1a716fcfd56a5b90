/*
 * qioc - socat's locking options: flock-*, setlk*, lockfile=, waitlock=
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_LOCK_H
#define QIOC_LOCK_H

#include "addr.h"

#define QIOC_LOCK_ERROR qioc_lock_error_quark()
GQuark qioc_lock_error_quark(void);

/*
 * QIOC_LOCK_ERROR_WAIT: a lock that the address waits for (flock-ex,
 * flock-sh, setlkw, setlkw-rd, waitlock=) is held elsewhere; the caller
 * opens the address again later (src/serve.c, every 100 ms). Waiting
 * from the loop, not in a blocking call, keeps every other connection
 * moving, and one of qioc's own connections can release the lock.
 */
typedef enum {
    QIOC_LOCK_ERROR_WAIT,
} QiocLockError;

/* Whether the address has a lock option at all. */
gboolean qioc_lock_wanted(const QiocAddress *addr);

/*
 * Before the address opens: create lockfile= or waitlock= with O_EXCL.
 * The returned token removes the file when freed (NULL with no error when
 * neither option is given); attach it to the channel with
 * qioc_lock_token_attach() so that it goes with it.
 */
typedef struct QiocLockToken QiocLockToken;
QiocLockToken *qioc_lock_file_take(const QiocAddress *addr, GError **errp);
void qioc_lock_token_free(QiocLockToken *token);
void qioc_lock_token_attach(QiocLockToken *token, QIOChannel *ioc);

/*
 * Once the address is open: the flock(2) and fcntl(2) locks on the
 * descriptors of the directions in @access (the read descriptor for
 * QIOC_ACCESS_READ, the write one for QIOC_ACCESS_WRITE, once when they
 * are the same), never blocking. They are released when the descriptors
 * close.
 */
gboolean qioc_lock_descriptors(const QiocAddress *addr, QIOChannel *ioc,
                               QiocAccess access, GError **errp);

#endif /* QIOC_LOCK_H */
