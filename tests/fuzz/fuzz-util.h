/*
 * Helpers the libFuzzer harnesses share: reading the input a byte at a
 * time, and counting the process's descriptors (for leak checks).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIO_FUZZ_UTIL_H
#define QIO_FUZZ_UTIL_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t pos;
} Input;

/* The next input byte; 0 once the input is used up. */
static inline uint8_t next_byte(Input *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

/* How many descriptors the process holds (the directory's own aside). */
static inline unsigned count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *ent;
    unsigned n = 0;

    if (!dir) {
        abort();
    }
    while ((ent = readdir(dir))) {
        if (ent->d_name[0] != '.' && atoi(ent->d_name) != dirfd(dir)) {
            n++;
        }
    }
    closedir(dir);
    return n;
}

#endif /* QIO_FUZZ_UTIL_H */
