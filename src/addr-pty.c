/*
 * qioc - PTY: a pseudo-terminal, its master side as the channel
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each connection makes a pty of its own: the master is a QIOChannelFile
 * (whose read takes the EIO of the slave's last close for end-of-file),
 * the slave is for another program to open, by its name (/dev/pts/N) or
 * through link=. mode=, user= and group= apply to the slave, as socat
 * does. With wait-slave the open waits, without blocking the loop, until
 * a process has opened the slave.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "context.h"
#include "log.h"
#include "term.h"

/* The channel carries its slave's name, for finish to remove link=. */
#define PTY_SLAVE "qioc-pty-slave"

/*
 * What an endpoint with link= keeps: the slaves its link was made to and
 * not yet removed from (a connection open, or waiting for the slave), so
 * that qioc's end (a signal, say) removes the link too.
 */
typedef struct {
    char *link;
    GHashTable *slaves;
    gboolean keep; /* unlink-close=0 */
} QiocPtyLinks;

static void pty_links_free(gpointer data)
{
    QiocPtyLinks *links = data;
    GHashTableIter it;
    gpointer slave;

    g_hash_table_iter_init(&it, links->slaves);
    while (g_hash_table_iter_next(&it, &slave, NULL)) {
        g_autofree char *target = g_file_read_link(links->link, NULL);

        if (!links->keep && g_strcmp0(target, slave) == 0) {
            unlink(links->link);
        }
    }
    g_hash_table_unref(links->slaves);
    g_free(links->link);
    g_free(links);
}

/* ---------------------------------------------------------------- link= */

/* Only a symbolic link (a stale one of ours, say) may be replaced. */
static gboolean pty_link_free_to_use(const char *link, GError **errp)
{
    struct stat st;

    if (lstat(link, &st) < 0 || S_ISLNK(st.st_mode)) {
        return TRUE;
    }
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_EXISTS,
                "link=%s: exists and is not a symbolic link", link);
    return FALSE;
}

static gboolean pty_make_link(QiocEndpoint *ep, const char *slave,
                              GError **errp)
{
    QiocPtyLinks *links = ep->state;
    const char *link = links->link;

    if (!pty_link_free_to_use(link, errp)) {
        return FALSE;
    }
    if ((unlink(link) < 0 && errno != ENOENT) || symlink(slave, link) < 0) {
        qioc_error_errno(errp, errno, "link=%s", link);
        return FALSE;
    }
    g_hash_table_add(links->slaves, g_strdup(slave));
    qioc_log_address(1, ep->addr->index, ep->addr->text, "link %s -> %s", link,
                     slave);
    return TRUE;
}

/*
 * Remove link= unless it was made to another pty since (with fork, each
 * client's pty takes the link over).
 */
static void pty_remove_link(QiocEndpoint *ep, const char *slave)
{
    QiocPtyLinks *links = ep->state;
    g_autofree char *target = NULL;

    if (!links || !g_hash_table_remove(links->slaves, slave)) {
        return;
    }
    target = g_file_read_link(links->link, NULL);
    if (!links->keep && g_strcmp0(target, slave) == 0 &&
        unlink(links->link) < 0 && errno != ENOENT) {
        qioc_log_address(1, ep->addr->index, ep->addr->text,
                         "cannot remove %s: %s", links->link,
                         g_strerror(errno));
    }
}

/* link= is checked at start-up: a regular file there is a bad setting. */
static gboolean pty_prepare(QiocEndpoint *ep, GError **errp)
{
    QiocPtyLinks *links;

    if (!ep->addr->o.link) {
        return TRUE;
    }
    if (!pty_link_free_to_use(ep->addr->o.link, errp)) {
        return FALSE;
    }
    links = g_new0(QiocPtyLinks, 1);
    links->link = g_strdup(ep->addr->o.link);
    links->keep = ep->addr->o.unlink_close == 0;
    links->slaves =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ep->state = links;
    return TRUE;
}

/* ---------------------------------------------------------------- open */

static int pty_master(char *slave, gsize size, GError **errp)
{
    int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    int err;

    if (fd < 0) {
        qioc_error_errno(errp, errno, "posix_openpt");
        return -1;
    }
    /* ptsname_r returns its error rather than setting errno. */
    err = grantpt(fd) < 0 || unlockpt(fd) < 0 ? errno
                                              : ptsname_r(fd, slave, size);
    if (err != 0) {
        qioc_error_errno(errp, err, "unlock the pseudo-terminal's slave");
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Open and close the slave once: from then on the master polls POLLHUP
 * until some process opens the slave (a slave never opened shows
 * nothing).
 */
static gboolean pty_arm_wait(const char *slave, GError **errp)
{
    int fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);

    if (fd < 0) {
        qioc_error_errno(errp, errno, "open %s", slave);
        return FALSE;
    }
    close(fd);
    return TRUE;
}

/*
 * The terminal modes, the wait's set-up, the slave's attributes, link=:
 * the master's fd.
 */
static int pty_create(QiocEndpoint *ep, char *slave, gsize size, GError **errp)
{
    const QiocAddress *addr = ep->addr;
    int fd = pty_master(slave, size, errp);

    if (fd < 0) {
        return -1;
    }
    qioc_log_address(1, addr->index, addr->text, "pseudo-terminal %s", slave);
    /* raw, echo=0, ...: set on the master, they are the slave's modes. */
    if (!qioc_term_set_modes(addr, fd, errp) ||
        (addr->o.wait_slave && !pty_arm_wait(slave, errp)) ||
        !qioc_set_file_attrs(addr, slave, TRUE, errp) ||
        (addr->o.link && !pty_make_link(ep, slave, errp))) {
        close(fd);
        return -1;
    }
    return fd;
}

static QIOChannel *pty_channel(int fd, const char *slave)
{
    QIOChannelFile *fioc = qio_channel_file_new_fd(fd);

    g_object_set_data_full(G_OBJECT(fioc), PTY_SLAVE, g_strdup(slave), g_free);
    return QIO_CHANNEL(fioc);
}

static QIOChannel *pty_open(QiocEndpoint *ep, QiocAccess *access,
                            QIOChannel *peer, GError **errp)
{
    char slave[64];
    int fd = pty_create(ep, slave, sizeof(slave), errp);

    return fd < 0 ? NULL : pty_channel(fd, slave);
}

static gboolean pty_finish(QiocEndpoint *ep, QIOChannel *ioc)
{
    const char *slave = g_object_get_data(G_OBJECT(ioc), PTY_SLAVE);

    if (slave) {
        pty_remove_link(ep, slave);
    }
    return TRUE;
}

/* ---------------------------------------------------------------- wait */

typedef struct {
    QIOChannel *ioc;
    int fd;
    QiocOpenDone *done;
    gpointer data;
} QiocPtyWait;

/* The slave is open (the master no longer polls POLLHUP). */
static gboolean pty_slave_opened(int master)
{
    struct pollfd pfd = {.fd = master, .events = POLLIN};

    return poll(&pfd, 1, 0) >= 0 && !(pfd.revents & POLLHUP);
}

static gboolean pty_wait_tick(gpointer data)
{
    QiocPtyWait *w = data;

    if (!pty_slave_opened(w->fd)) {
        return G_SOURCE_CONTINUE;
    }
    w->done(w->ioc, NULL, w->data);
    g_free(w);
    return G_SOURCE_REMOVE;
}

/* wait-slave: the open completes once a process has opened the slave. */
static void pty_connect(QiocEndpoint *ep, QIOChannel *peer, QiocOpenDone *done,
                        gpointer data)
{
    const QiocAddress *addr = ep->addr;
    GError *err = NULL;
    char slave[64];
    int fd = pty_create(ep, slave, sizeof(slave), &err);
    QiocPtyWait *w;

    if (fd < 0) {
        done(NULL, err, data);
        return;
    }
    w = g_new0(QiocPtyWait, 1);
    *w = (QiocPtyWait){pty_channel(fd, slave), fd, done, data};
    qioc_log_address(2, addr->index, addr->text,
                     "waiting for a process to open %s", slave);
    qioc_timeout_add(MAX((guint)(addr->o.pty_interval * 1000), 1),
                     pty_wait_tick, w);
}

/* ---------------------------------------------------------------- types */

static const QiocAddrDesc pty_wait_desc = {.kind = QIOC_ADDR_PTY,
                                           .connect = pty_connect};

static const QiocAddrDesc *pty_choose(const QiocEndpoint *ep)
{
    return ep->addr->o.wait_slave ? &pty_wait_desc : ep->desc;
}

static const QiocAddrType pty_types[] = {
    {"PTY", NULL, QIOC_ADDR_PTY, AF_UNSPEC, 0, 0, QIOC_T_PTY, "",
     "a new pseudo-terminal: qioc has the master, programs open the slave"},
};

const QiocAddrDesc qioc_addr_pty = {.kind = QIOC_ADDR_PTY,
                                    QIOC_ADDR_TYPES(pty_types),
                                    .prepare = pty_prepare,
                                    .free_state = pty_links_free,
                                    .choose = pty_choose,
                                    .open = pty_open,
                                    .finish = pty_finish};
