/*
** base/text.h -- writing one-line messages and numbers into caller buffers.
*/
#ifndef HEAPSIM_BASE_TEXT_H
#define HEAPSIM_BASE_TEXT_H

#include <stddef.h>

/* printf into err (errsize bytes) when there is room for anything; err may
** be NULL. */
void text_set_err(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append to the NUL-terminated buf of `size` bytes, truncating silently. */
void text_append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The shortest text of v that reads back (strtod) as exactly v, written
** as a floating-point number, not an integer: "10.0", "0.25", "1500000.0"
** (plain notation for whole numbers below 1e15), "1e-07", "1e+20",
** "1.2345678901234567e+300"; "nan", "inf" or "-inf" for those. buf
** should hold TEXT_DOUBLE_MAX bytes; a smaller one gets a truncated text. */
#define TEXT_DOUBLE_MAX 32
void text_format_double(char *buf, size_t size, double v);

#endif
