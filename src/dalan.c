/*
 * qioc - socat's data notation for setsockopt-bin= and friends
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * socat 1.7.4 reads the VALUE of its setsockopt-bin= (and of
 * setsockopt-listen=, setsockopt=) in its "dalan" notation; see
 * src/dalan.h for what is understood. Read once, when the address is
 * parsed: the options then carry plain bytes.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dalan.h"

/* A backslash escape of a string or character item; @c follows the \. */
static char dalan_escape(char c)
{
    static const char from[] = "nrtfbae0";
    static const char to[] = "\n\r\t\f\b\a\033";
    const char *p = strchr(from, c);

    return p && c ? to[p - from] : c;
}

/* "text": the characters up to the closing quote. */
static gboolean dalan_string(const char **s, GByteArray *out)
{
    const char *p = *s;

    while (*p && *p != '"') {
        guint8 c = (guint8)*p++;

        if (c == '\\') {
            if (!*p) {
                return FALSE;
            }
            c = (guint8)dalan_escape(*p++);
        }
        g_byte_array_append(out, &c, 1);
    }
    if (*p != '"') {
        return FALSE;
    }
    *s = p + 1;
    return TRUE;
}

/* 'c': one character and the closing quote. */
static gboolean dalan_char(const char **s, GByteArray *out)
{
    const char *p = *s;
    guint8 c = (guint8)*p++;

    if (!c || c == '\'') {
        return FALSE;
    }
    if (c == '\\') {
        if (!*p) {
            return FALSE;
        }
        c = (guint8)dalan_escape(*p++);
    }
    if (*p != '\'') {
        return FALSE;
    }
    g_byte_array_append(out, &c, 1);
    *s = p + 1;
    return TRUE;
}

/* Hex digits, two a byte, as many as there are (at least one byte). */
static gboolean dalan_hex(const char **s, GByteArray *out)
{
    const char *p = *s;

    while (g_ascii_isxdigit(p[0])) {
        guint8 b;

        if (!g_ascii_isxdigit(p[1])) {
            return FALSE;
        }
        b = (guint8)(g_ascii_xdigit_value(p[0]) * 16 +
                     g_ascii_xdigit_value(p[1]));
        g_byte_array_append(out, &b, 1);
        p += 2;
    }
    if (p == *s) {
        return FALSE;
    }
    *s = p;
    return TRUE;
}

/* A decimal number stored as @size bytes of the machine's order. */
static gboolean dalan_number(const char **s, gsize size, GByteArray *out)
{
    char *end;
    long v;
    union {
        gint8 b;
        short sh;
        int i;
        long l;
    } u;

    errno = 0;
    v = strtol(*s, &end, 10);
    if (end == *s || errno) {
        return FALSE;
    }
    switch (size) {
    case sizeof(gint8):
        u.b = (gint8)v;
        break;
    case sizeof(short):
        u.sh = (short)v;
        break;
    case sizeof(int):
        u.i = (int)v;
        break;
    default:
        u.l = v;
        break;
    }
    g_byte_array_append(out, (const guint8 *)&u, (guint)size);
    *s = end;
    return TRUE;
}

/* The size of a number item's type letter, 0 for another letter. */
static gsize dalan_number_size(char type)
{
    switch (type) {
    case 'b':
    case 'B':
        return 1;
    case 's':
    case 'S':
        return sizeof(short);
    case 'i':
    case 'I':
        return sizeof(int);
    case 'l':
    case 'L':
        return sizeof(long);
    }
    return 0;
}

/* One item of type @type, its letter (if any) already read. */
static gboolean dalan_item(char type, const char **s, GByteArray *out)
{
    switch (type) {
    case '"':
        return dalan_string(s, out);
    case '\'':
        return dalan_char(s, out);
    case 'x':
        return dalan_hex(s, out);
    }
    return dalan_number(s, dalan_number_size(type), out);
}

static gboolean is_dalan_type(char c)
{
    return c && (strchr("\"'x", c) || dalan_number_size(c));
}

char *qioc_dalan_to_hex(const char *text, char **why)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    const char *s = text;
    char type = 'i';
    GString *hex;

    while (*s) {
        if (g_ascii_isspace(*s)) {
            s++;
            continue;
        }
        if (is_dalan_type(*s)) {
            type = *s++;
        }
        if (!dalan_item(type, &s, out)) {
            *why = type == 'x'
                       ? g_strdup_printf("bad VALUE \"%s\": expected x "
                                         "followed by two hex digits a byte "
                                         "(x0102...)",
                                         text)
                       : g_strdup_printf(
                             "bad VALUE \"%s\" at \"%s\": expected socat's "
                             "data notation, such as x0102 (hex bytes), "
                             "\"text\", 'c', i1 (int), s1 (short), l1 (long), "
                             "b1 (byte)",
                             text, s);
            return NULL;
        }
    }
    if (out->len == 0) {
        *why = g_strdup_printf("bad VALUE \"%s\": no bytes", text);
        return NULL;
    }
    hex = g_string_new("x");
    for (guint i = 0; i < out->len; i++) {
        g_string_append_printf(hex, "%02x", out->data[i]);
    }
    return g_string_free(hex, FALSE);
}

GBytes *qioc_dalan_to_bytes(const char *text, char **why)
{
    g_autofree char *hex = qioc_dalan_to_hex(text, why);
    GByteArray *out;

    if (!hex) {
        return NULL;
    }
    out = g_byte_array_new();
    for (const char *p = hex + 1; p[0] && p[1]; p += 2) {
        guint8 b = (guint8)(g_ascii_xdigit_value(p[0]) << 4 |
                            g_ascii_xdigit_value(p[1]));

        g_byte_array_append(out, &b, 1);
    }
    return g_byte_array_free_to_bytes(out);
}
