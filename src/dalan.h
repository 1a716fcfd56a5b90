/*
 * qioc - socat's data notation for setsockopt-bin= and friends
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef QIOC_DALAN_H
#define QIOC_DALAN_H

#include <glib.h>

/*
 * The bytes a value in socat's data notation ("dalan") stands for, as
 * lower-case hex after an x ("x0100000002"), which is qioc's own way of
 * writing them. Items follow each other, blanks between them ignored:
 *
 *   xHH...     bytes in hex, two digits each
 *   "text"     the characters, with \n \r \t \f \b \a \e \0 escapes
 *   'c'        one character, with the same escapes
 *   iN IN      an int (signed, unsigned) of the machine, in its byte order
 *   sN SN      a short;  lN LN  a long;  bN BN  one byte
 *
 * A number without a letter takes the type of the item before it, or
 * int at the start (so "1" is the int 1, as in socat). NULL with *@why
 * set when @text is not in the notation or stands for no bytes.
 */
char *qioc_dalan_to_hex(const char *text, char **why);

/* The same bytes themselves; NULL with *@why set as above. */
GBytes *qioc_dalan_to_bytes(const char *text, char **why);

#endif
