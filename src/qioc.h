/*
 * qioc - global options, shared by every part of the program
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_H
#define QIOC_H

#include <glib.h>
#include <sys/socket.h>

typedef enum {
    QIOC_FDS_AUTO,    /* forward where both sides can, else close + warn */
    QIOC_FDS_OFF,     /* never read descriptors */
    QIOC_FDS_REQUIRE, /* fail when a side cannot carry them */
} QiocFdsMode;

/* Exit statuses (doc/grammar.md, "Diagnostics and exit status"). */
enum {
    QIOC_EXIT_OK = 0,
    QIOC_EXIT_FAILURE = 1,
    QIOC_EXIT_USAGE = 2,
    QIOC_EXIT_SIGNAL_BASE = 128,
};

typedef struct QiocOptions {
    gboolean left_to_right; /* -u */
    gboolean right_to_left; /* -U */
    gsize buffer_size;      /* -b */
    double close_timeout;   /* -t; < 0: wait for the other direction */
    double idle_timeout;    /* -T; 0: none */
    int debug;              /* -d, repeatable */
    gboolean verbose;       /* -v */
    gboolean hexdump;       /* -x */
    int family;             /* -4 / -6: AF_INET, AF_INET6, AF_UNSPEC */
    QiocFdsMode fds;        /* --fds */
    gboolean stats;         /* --stats */
    char *record[2];        /* -r, -R: raw copies of 1 -> 2, 2 -> 1 */
    gboolean dry_run;       /* --dry-run */
    guint workers; /* --workers: threads of a `fork` listener; 0: default */
} QiocOptions;

/* A datagram source never ends: -t's default once the other side has. */
#define QIOC_DGRAM_CLOSE_TIMEOUT 0.5
/* -T's default for the sessions of a datagram server (UDP-LISTEN,fork). */
#define QIOC_DGRAM_SESSION_IDLE 60.0

#define QIOC_OPTIONS_INIT                                                      \
    {                                                                          \
        .buffer_size = 128 * 1024, .close_timeout = -1, .idle_timeout = 0,     \
        .family = AF_UNSPEC, .fds = QIOC_FDS_AUTO, .workers = 0,               \
    }

#endif /* QIOC_H */
