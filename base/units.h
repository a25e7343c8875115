/*
** base/units.h -- sizes, integers and durations as people write them in
** scenario files and on command lines, and sizes as heapsim prints them.
*/
#ifndef HEAPSIM_BASE_UNITS_H
#define HEAPSIM_BASE_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Parse a decimal integer ("42", "-7", "1_000_000": '_' only between
** digits) into *v. Returns 0, or -EINVAL (not an integer, overflows int64)
** leaving *v unchanged. */
int units_parse_int(const char *text, int64_t *v);

/* Parse "64KiB", "4MiB", "1GiB", "4096", "1.5GiB", "10 MB" into bytes.
** Returns 0, or -EINVAL leaving *bytes unchanged. */
int units_parse_size(const char *text, int64_t *bytes);

/* bytes as text: "32 MiB" when a whole number of KiB/MiB/GiB/TiB, else
** "1000 B". units_parse_size() reads it back. Returns buf. */
char *units_format_size(int64_t bytes, char *buf, size_t size);

/* A duration: an integer of milliseconds, or a number with a unit, "ms" or
** "s" ("250ms", "1.5s"; at most 6 fraction digits). Returns 0, or -EINVAL
** leaving *ns unchanged. */
int units_parse_duration_ns(const char *text, uint64_t *ns);

#endif
