/*
 * Unit tests for the version macros and qio_check_version().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib.h>

#include "qio/qio.h"

/* The macros are configure's version of the package, split. */
static void test_macros(void)
{
    g_autofree char *version = g_strdup_printf(
        "%d.%d.%d", QIO_MAJOR_VERSION, QIO_MINOR_VERSION, QIO_MICRO_VERSION);

    g_assert_cmpstr(version, ==, PACKAGE_VERSION);
}

static void test_check_version_macro(void)
{
#if !QIO_CHECK_VERSION(QIO_MAJOR_VERSION, QIO_MINOR_VERSION, QIO_MICRO_VERSION)
    g_assert_not_reached();
#endif
    g_assert_true(QIO_CHECK_VERSION(QIO_MAJOR_VERSION, QIO_MINOR_VERSION,
                                    QIO_MICRO_VERSION));
    g_assert_true(QIO_CHECK_VERSION(QIO_MAJOR_VERSION, 0, 0));
    g_assert_true(QIO_CHECK_VERSION(0, 0, 0));
    g_assert_false(QIO_CHECK_VERSION(QIO_MAJOR_VERSION, QIO_MINOR_VERSION,
                                     QIO_MICRO_VERSION + 1));
    g_assert_false(
        QIO_CHECK_VERSION(QIO_MAJOR_VERSION, QIO_MINOR_VERSION + 1, 0));
    g_assert_false(QIO_CHECK_VERSION(QIO_MAJOR_VERSION + 1, 0, 0));
}

/* The running library is the one built with these headers. */
static void test_check_version_same(void)
{
    g_assert_null(qio_check_version(QIO_MAJOR_VERSION, QIO_MINOR_VERSION,
                                    QIO_MICRO_VERSION));
    g_assert_null(qio_check_version(QIO_MAJOR_VERSION, 0, 0));
    if (QIO_MINOR_VERSION > 0) {
        g_assert_null(
            qio_check_version(QIO_MAJOR_VERSION, QIO_MINOR_VERSION - 1, 99));
    }
}

static void test_check_version_too_old(void)
{
    g_assert_cmpstr(qio_check_version(QIO_MAJOR_VERSION + 1, 0, 0), ==,
                    "libqio version too old (major mismatch)");
    g_assert_cmpstr(
        qio_check_version(QIO_MAJOR_VERSION, QIO_MINOR_VERSION + 1, 0), ==,
        "libqio version too old (minor mismatch)");
    g_assert_cmpstr(qio_check_version(QIO_MAJOR_VERSION, QIO_MINOR_VERSION,
                                      QIO_MICRO_VERSION + 1),
                    ==, "libqio version too old (micro mismatch)");
}

/* A program written for an older major version: a different library. */
static void test_check_version_too_new(void)
{
    if (QIO_MAJOR_VERSION == 0) {
        g_test_skip("no major version before 0");
        return;
    }
    g_assert_cmpstr(qio_check_version(QIO_MAJOR_VERSION - 1, 0, 0), ==,
                    "libqio version too new (major mismatch)");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/version/macros", test_macros);
    g_test_add_func("/version/check-version-macro", test_check_version_macro);
    g_test_add_func("/version/check-version/same", test_check_version_same);
    g_test_add_func("/version/check-version/too-old",
                    test_check_version_too_old);
    g_test_add_func("/version/check-version/too-new",
                    test_check_version_too_new);
    return g_test_run();
}
