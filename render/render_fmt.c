/*
** render/render_fmt.c -- figures in human units, three significant digits.
*/
#include "render/render_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* snprintf, truncating silently: every text here is short and a cut one
** is still readable. */
static void say(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* v (>= 0) with three significant digits and no exponent. */
static void sig3(char *buf, size_t size, double v)
{
    if (v >= 100 || v == 0)
        say(buf, size, "%.0f", v);
    else if (v >= 10)
        say(buf, size, "%.1f", v);
    else
        say(buf, size, "%.2f", v);
}

/* v scaled down by base while it is that large, with the name of the
** scale; a space before the name unless it is a count's suffix (k, M). */
static void scaled(char *buf, size_t size, const char *sign, double v, double base,
                   const char *const *names, size_t nnames)
{
    char num[48];
    size_t i = 0;

    while (i + 1 < nnames && v >= base * 0.9995) {
        v /= base;
        i++;
    }
    sig3(num, sizeof num, v);
    say(buf, size, "%s%s%s%s", sign, num, base == 1000 && names[0][0] == '\0' ? "" : " ",
        names[i]);
}

static void duration(char *buf, size_t size, const char *sign, double ns)
{
    static const char *const names[] = {"ns", "µs", "ms", "s"};
    char num[48];

    if (ns >= 60e9 * 0.9995) {
        double s = ns / 1e9;
        if (s < 3600)
            say(buf, size, "%s%.0fm%02.0fs", sign, floor(s / 60), floor(fmod(s, 60)));
        else
            say(buf, size, "%s%.0fh%02.0fm", sign, floor(s / 3600),
                     floor(fmod(s / 60, 60)));
        return;
    }
    if (ns < 1 && ns > 0) {
        sig3(num, sizeof num, ns);
        say(buf, size, "%s%s ns", sign, num);
        return;
    }
    scaled(buf, size, sign, ns, 1000, names, 4);
}

const char *render__human(char *buf, size_t size, double value, store_unit_t unit,
                          const char *unit_name)
{
    static const char *const bytes[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    static const char *const counts[] = {"", "k", "M", "G", "T"};
    const char *sign = value < 0 ? "-" : "";
    double v = fabs(value);
    char num[48];

    if (!isfinite(value)) {
        say(buf, size, "-");
        return buf;
    }
    switch (unit) {
    case STORE_UNIT_NS:
        duration(buf, size, sign, v);
        break;
    case STORE_UNIT_BYTES:
        if (v < 1024)
            say(buf, size, "%s%.0f B", sign, v);
        else
            scaled(buf, size, sign, v, 1024, bytes, 5);
        break;
    case STORE_UNIT_FRACTION:
        sig3(num, sizeof num, v * 100);
        say(buf, size, "%s%s %%", sign, num);
        break;
    case STORE_UNIT_OTHER:
        if (unit_name && strcmp(unit_name, "%") == 0) {
            sig3(num, sizeof num, v);
            say(buf, size, "%s%s %%", sign, num);
            break;
        }
        if (v < 1000 && v == floor(v))
            say(num, sizeof num, "%.0f", v);
        else if (v < 1000)
            sig3(num, sizeof num, v);
        else
            scaled(num, sizeof num, "", v, 1000, counts, 5);
        say(buf, size, "%s%s%s%s", sign, num, unit_name ? " " : "",
                 unit_name ? unit_name : "");
        break;
    case STORE_UNIT_COUNT:
    default:
        if (v < 1000 && v == floor(v))
            say(buf, size, "%s%.0f", sign, v);
        else
            scaled(buf, size, sign, v, 1000, counts, 5);
        break;
    }
    return buf;
}

const char *render__time(char *buf, size_t size, int64_t unix_ns)
{
    time_t secs;
    struct tm tm;

    if (unix_ns == STORE_NONE) {
        say(buf, size, "-");
        return buf;
    }
    secs = (time_t)(unix_ns / 1000000000);
    if (!localtime_r(&secs, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
        say(buf, size, "%lld", (long long)unix_ns);
    return buf;
}

const char *render__str(const char *s)
{
    return s ? s : "-";
}

void render__print_escaped(FILE *out, const char *text)
{
    if (!text) {
        fputc('-', out);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
}

void render__print_block(FILE *out, const char *text, int indent)
{
    for (const unsigned char *p = (const unsigned char *)(text ? text : "-"); *p; p++) {
        if (*p == '\n')
            fprintf(out, "\n%*s", indent, "");
        else if (*p == '\t' || (*p >= 0x20 && *p != 0x7f))
            fputc(*p, out);
        else
            fprintf(out, "\\x%02x", *p);
    }
    fputc('\n', out);
}
