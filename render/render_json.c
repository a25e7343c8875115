/*
** render/render_json.c -- JSON and CSV helpers, and the module's errors.
*/
#include "render/render_int.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "base/text.h"

const char *render_strerror(int rc)
{
    switch (rc) {
    case 0: return "success";
    case RENDER_EIO: return "writing the output failed";
    case RENDER_ENOMEM: return "out of memory";
    case RENDER_EUSAGE: return "bad arguments";
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

struct json_object *render__json_str(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

struct json_object *render__json_parsed(const char *text)
{
    struct json_object *v;

    if (!text)
        return NULL;
    v = json_tokener_parse(text);
    return v ? v : json_object_new_string(text);
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
