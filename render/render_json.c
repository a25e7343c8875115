/*
** render/render_json.c -- JSON and CSV helpers, and the module's errors.
*/
#include "render/render_int.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"

const char *render_strerror(int rc)
{
    switch (rc) {
    case 0: return "success";
    case RENDER_EIO: return "writing the output failed";
    case RENDER_ENOMEM: return "out of memory";
    case RENDER_EUSAGE: return "bad arguments";
    case RENDER_ETOOBIG: return "the result is larger than 64 MiB, too large to align as a "
                                "table: use --csv or --json (streamed)";
    default: return "unknown render error";
    }
}

struct json_object *render__json_double(double v)
{
    if (!isfinite(v))
        return NULL;
    if (v == floor(v) && fabs(v) < 9e15)
        return json_object_new_int64((int64_t)v);
    return json_object_new_double(v);
}

struct json_object *render__json_int(int64_t v)
{
    return v == STORE_NONE ? NULL : json_object_new_int64(v);
}

struct json_object *render__json_text(const char *text, size_t len)
{
    static const char replacement[] = "\xef\xbf\xbd";   /* U+FFFD */
    const unsigned char *s = (const unsigned char *)text;
    struct json_object *value;
    char *clean, *p;
    size_t i = 0;

    if (len > (size_t)INT32_MAX / 3)
        len = (size_t)INT32_MAX / 3;
    clean = malloc(len * 3 + 1);
    if (!clean)
        return NULL;
    p = clean;
    while (i < len) {
        size_t n = 0;
        uint32_t cp = 0, min = 0;

        if (s[i] < 0x80) {
            *p++ = (char)s[i++];
            continue;
        }
        if ((s[i] & 0xe0) == 0xc0)
            n = 2, cp = s[i] & 0x1f, min = 0x80;
        else if ((s[i] & 0xf0) == 0xe0)
            n = 3, cp = s[i] & 0x0f, min = 0x800;
        else if ((s[i] & 0xf8) == 0xf0)
            n = 4, cp = s[i] & 0x07, min = 0x10000;
        for (size_t k = 1; n && k < n; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80) {
                n = 0;
                break;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (n == 0 || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            memcpy(p, replacement, 3);
            p += 3;
            i++;
            continue;
        }
        memcpy(p, s + i, n);
        p += n;
        i += n;
    }
    value = json_object_new_string_len(clean, (int)(p - clean));
    free(clean);
    return value;
}

struct json_object *render__json_str(const char *s)
{
    return s ? render__json_text(s, strlen(s)) : NULL;
}

struct json_object *render__json_parsed(const char *text)
{
    struct json_tokener *tok;
    struct json_object *value = NULL;
    size_t len, end;

    if (!text)
        return NULL;
    len = strlen(text);
    tok = json_tokener_new();
    if (tok && len <= (size_t)INT32_MAX) {
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        value = json_tokener_parse_ex(tok, text, (int)len);
        end = value ? json_tokener_get_parse_end(tok) : 0;
        while (value && end < len && strchr(" \t\r\n", text[end]))
            end++;
        if (value && end != len) {
            json_object_put(value);
            value = NULL;
        }
    }
    json_tokener_free(tok);
    return value ? value : render__json_text(text, len);
}

struct json_object *render__json_real(double v)
{
    char buf[TEXT_DOUBLE_MAX];

    if (!isfinite(v))
        return NULL;
    text_format_double(buf, sizeof buf, v);
    return json_object_new_double_s(v, buf);
}

struct json_object *render__json_stat(const render__stat_t *st, bool real)
{
    struct json_object *(*num)(double) = real ? render__json_real : render__json_double;
    struct json_object *o = json_object_new_object();

    if (!o)
        return NULL;
    json_object_object_add(o, "mean", num(st->mean));
    json_object_object_add(o, "min", num(st->min));
    json_object_object_add(o, "max", num(st->max));
    json_object_object_add(o, "n", json_object_new_int64((int64_t)st->n));
    return o;
}

int render__check_out(FILE *out)
{
    if (fflush(out) != 0 || ferror(out))
        return RENDER_EIO;
    return 0;
}

int render__json_print(FILE *out, struct json_object *value)
{
    const char *text;

    if (!value)
        return RENDER_ENOMEM;
    text = json_object_to_json_string_ext(value, JSON_C_TO_STRING_PRETTY |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!text) {
        json_object_put(value);
        return RENDER_ENOMEM;
    }
    fputs(text, out);
    fputc('\n', out);
    json_object_put(value);
    return render__check_out(out);
}

void render__csv_field(FILE *out, const char *text)
{
    if (!text)
        return;
    if (!strpbrk(text, ",\"\r\n")) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *c = text; *c; c++) {
        if (*c == '"')
            fputc('"', out);
        fputc(*c, out);
    }
    fputc('"', out);
}
