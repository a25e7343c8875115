/* base/units.c -- sizes, integers and durations as people write them. */
#include "base/units.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KIB ((int64_t)1 << 10)
#define MIB ((int64_t)1 << 20)
#define GIB ((int64_t)1 << 30)
#define TIB ((int64_t)1 << 40)
#define MS_NS ((uint64_t)1000000)
#define S_NS ((uint64_t)1000000000)

/* Copy the digits of a run like "1_000_000" into digits[], skipping single
** '_' between digits. Advances *pp past the run. Returns the number of
** digits, or -1 when the run is malformed or longer than `size` - 1. */
static int take_digits(const char **pp, char *digits, size_t size)
{
    const char *p = *pp;
    size_t n = 0;

    if (!isdigit((unsigned char)*p))
        return -1;
    for (;;) {
        if (isdigit((unsigned char)*p)) {
            if (n + 1 >= size)
                return -1;
            digits[n++] = *p++;
        } else if (*p == '_' && isdigit((unsigned char)p[1])) {
            p++;
        } else {
            break;
        }
    }
    digits[n] = '\0';
    *pp = p;
    return (int)n;
}

int units_parse_int(const char *text, int64_t *v)
{
    char digits[32];
    const char *p = text;
    long long parsed;
    char *end;
    int neg = 0;

    if (text == NULL)
        return -EINVAL;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    digits[0] = neg ? '-' : '+';
    if (take_digits(&p, digits + 1, sizeof(digits) - 1) < 0 || *p != '\0')
        return -EINVAL;
    errno = 0;
    parsed = strtoll(digits, &end, 10);
    if (errno != 0 || *end != '\0')
        return -EINVAL;
    *v = (int64_t)parsed;
    return 0;
}

int units_parse_size(const char *text, int64_t *bytes)
{
    static const struct { const char *name; int64_t mult; } units[] = {
        { "", 1 }, { "b", 1 },
        { "kib", KIB }, { "mib", MIB }, { "gib", GIB }, { "tib", TIB },
        { "kb", 1000 }, { "mb", 1000000 }, { "gb", 1000000000 },
        { "tb", 1000000000000 },
    };
    static const int max_frac_digits = 6;
    char digits[32], frac[8];
    const char *p = text;
    int64_t mult = -1, whole, frac_bytes = 0, pow10 = 1;
    int nfrac = 0, i;
    size_t u;

    if (text == NULL)
        return -EINVAL;
    /* A leading digit is required: no sign, no blank, no bare ".5". */
    if (take_digits(&p, digits, sizeof(digits)) < 0)
        return -EINVAL;
    if (units_parse_int(digits, &whole) != 0)
        return -EINVAL;
    if (*p == '.') {
        p++;
        nfrac = take_digits(&p, frac, sizeof(frac));
        if (nfrac < 0 || nfrac > max_frac_digits)
            return -EINVAL;
    }
    if (*p == ' ' || *p == '\t') {
        /* Blanks may separate the number from a unit, nothing else. */
        p += strspn(p, " \t");
        if (*p == '\0')
            return -EINVAL;
    }
    for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        if (strcasecmp(p, units[u].name) == 0) {
            mult = units[u].mult;
            break;
        }
    }
    if (mult < 0 || (nfrac > 0 && mult == 1))
        return -EINVAL;
    if (nfrac > 0) {
        int64_t f = 0;

        for (i = 0; i < nfrac; i++) {
            f = f * 10 + (frac[i] - '0');
            pow10 *= 10;
        }
        /* f < 10^6 and mult <= 2^40: the product fits in int64. */
        frac_bytes = f * mult / pow10;
    }
    if (whole > (INT64_MAX - frac_bytes) / mult)
        return -EINVAL;
    *bytes = whole * mult + frac_bytes;
    return 0;
}

char *units_format_size(int64_t bytes, char *buf, size_t size)
{
    static const struct { int64_t unit; const char *name; } units[] = {
        { TIB, "TiB" }, { GIB, "GiB" }, { MIB, "MiB" }, { KIB, "KiB" },
    };
    size_t i;

    if (buf == NULL || size == 0)
        return buf;
    if (bytes > 0) {
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (bytes % units[i].unit == 0) {
                snprintf(buf, size, "%lld %s",
                         (long long)(bytes / units[i].unit), units[i].name);
                return buf;
            }
        }
    }
    snprintf(buf, size, "%lld B", (long long)bytes);
    return buf;
}

int units_parse_duration_ns(const char *text, uint64_t *ns)
{
    char number[40], whole_text[40];
    size_t len = strspn(text, "0123456789_."), i;
    const char *unit = text + len, *dot;
    uint64_t mult, frac_ns = 0, pow10 = 1, frac = 0;
    int64_t whole;

    if (len == 0 || len >= sizeof(number) || text[0] < '0' || text[0] > '9')
        return -EINVAL;
    memcpy(number, text, len);
    number[len] = '\0';
    unit += strspn(unit, " \t");
    if (*unit == '\0' || strcmp(unit, "ms") == 0)
        mult = MS_NS;
    else if (strcmp(unit, "s") == 0)
        mult = S_NS;
    else
        return -EINVAL;
    if (unit != text + len && *unit == '\0')
        return -EINVAL; /* trailing blanks */
    dot = strchr(number, '.');
    if (dot != NULL) {
        size_t nfrac = strlen(dot + 1);

        if (nfrac == 0 || nfrac > 6 || strspn(dot + 1, "0123456789") != nfrac)
            return -EINVAL;
        for (i = 0; i < nfrac; i++) {
            frac = frac * 10 + (uint64_t)(dot[1 + i] - '0');
            pow10 *= 10;
        }
        frac_ns = frac * mult / pow10;
        memcpy(whole_text, number, (size_t)(dot - number));
        whole_text[dot - number] = '\0';
    } else {
        memcpy(whole_text, number, len + 1);
    }
    if (units_parse_int(whole_text, &whole) != 0 || whole < 0)
        return -EINVAL;
    if ((uint64_t)whole > (UINT64_MAX - frac_ns) / mult)
        return -EINVAL;
    *ns = (uint64_t)whole * mult + frac_ns;
    return 0;
}
