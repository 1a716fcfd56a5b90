/*
 * libqio - the version of the library at run time
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "qio-private.h"

#include "qio/qio-version.h"

/*
 * The macros here are the library's own version, compiled into it, so
 * they describe the library that runs, whatever headers the caller saw.
 * Copied into variables so that comparing with a version 0 is not taken
 * for a mistake (-Wtype-limits).
 */
const char *qio_check_version(guint required_major, guint required_minor,
                              guint required_micro)
{
    const guint major = QIO_MAJOR_VERSION;
    const guint minor = QIO_MINOR_VERSION;
    const guint micro = QIO_MICRO_VERSION;

    if (required_major > major) {
        return "libqio version too old (major mismatch)";
    }
    if (required_major < major) {
        return "libqio version too new (major mismatch)";
    }
    if (required_minor > minor) {
        return "libqio version too old (minor mismatch)";
    }
    if (required_minor == minor && required_micro > micro) {
        return "libqio version too old (micro mismatch)";
    }
    return NULL;
}
