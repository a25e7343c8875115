/*
** base/text.h -- writing one-line messages into caller buffers.
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

#endif
