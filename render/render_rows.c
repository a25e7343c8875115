/*
** render/render_rows.c -- `heapsim sql`: the rows of a query as an aligned
** table, CSV or JSON, one row at a time (storage steps the statement,
** store_query_step; this file prints what it hands out).
**
** JSON and CSV stream: each row is printed when it is added. A table is
** kept whole to measure its columns, so it is capped
** (RENDER_TABLE_MAX_BYTES): a query of endless rows cannot grow it without
** bound. Values print by storage class: NULL as NULL (table), empty (CSV)
** or null (JSON); numbers as numbers (reals in their shortest exact text);
** text as it is (JSON: invalid UTF-8 replaced by U+FFFD); blobs in hex.
*/
#include "render/render_int.h"
#include "base/table.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"

struct render_rows {
    FILE *out;
    render_format_t format;
    size_t ncols;
    char **keys;                 /* JSON: the column names, made unique */
    text_table_t *table;         /* RENDER_TEXT */
    size_t held;                 /* bytes the table holds, roughly */
    size_t nrows;
    bool begun;                  /* JSON: "[" printed */
    bool ended;
};

/* Column names as JSON keys, unique: the second column named "a" is
** "a:2". -1 when out of memory. */
static int json_keys(render_rows_t *r, const char *const *names)
{
    r->keys = calloc(r->ncols ? r->ncols : 1, sizeof *r->keys);
    if (!r->keys)
        return -1;
    for (size_t col = 0; col < r->ncols; col++) {
        const char *name = names[col] ? names[col] : "?";
        int repeat = 1;

        for (size_t prev = 0; prev < col; prev++)
            repeat += strcmp(names[prev] ? names[prev] : "?", name) == 0;
        if (repeat == 1 ? !(r->keys[col] = strdup(name))
                        : asprintf(&r->keys[col], "%s:%d", name, repeat) < 0) {
            r->keys[col] = NULL;
            return -1;
        }
    }
    return 0;
}

/* len bytes as lower-case hex into a new string; NULL when out of memory. */
static char *hex_of(const unsigned char *bytes, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char *text = malloc(len * 2 + 1);

    if (!text)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        text[2 * i] = hex[bytes[i] >> 4];
        text[2 * i + 1] = hex[bytes[i] & 15];
    }
    text[2 * len] = '\0';
    return text;
}

/* A value as JSON by its storage class (null for NULL, a real that is not
** finite, and out of memory). */
static struct json_object *json_value(const store_value_t *v)
{
    struct json_object *value;
    char *hex;

    switch (v->type) {
    case STORE_VALUE_INT:
        return json_object_new_int64(v->i);
    case STORE_VALUE_REAL:
        return render__json_real(v->r);
    case STORE_VALUE_TEXT:
        return render__json_text((const char *)v->bytes, v->len);
    case STORE_VALUE_BLOB:
        if (v->len > (size_t)INT32_MAX / 2 || !(hex = hex_of(v->bytes, v->len)))
            return NULL;
        value = json_object_new_string_len(hex, (int)(v->len * 2));
        free(hex);
        return value;
    default:
        return NULL;
    }
}

int render_rows_new(FILE *out, render_format_t format, const char *const *names,
                    size_t ncols, render_rows_t **rows_p)
{
    render_rows_t *r;

    if (!out || !rows_p || (ncols && !names))
        return RENDER_EUSAGE;
    *rows_p = NULL;
    r = calloc(1, sizeof *r);
    if (!r)
        return RENDER_ENOMEM;
    r->out = out;
    r->format = format;
    r->ncols = ncols;
    switch (format) {
    case RENDER_JSON:
        if (json_keys(r, names)) {
            render_rows_destroy(&r);
            return RENDER_ENOMEM;
        }
        fputc('[', out);
        r->begun = true;
        break;
    case RENDER_CSV:
        for (size_t col = 0; col < ncols; col++) {
            if (col)
                fputc(',', out);
            render__csv_field(out, names[col] ? names[col] : "?");
        }
        fputs("\r\n", out);
        break;
    default:
        r->table = text_table_new(ncols);
        for (size_t col = 0; r->table && col < ncols; col++)
            if (text_table_header(r->table, col, names[col] ? names[col] : "?", false))
                text_table_destroy(&r->table);
        if (!r->table) {
            render_rows_destroy(&r);
            return RENDER_ENOMEM;
        }
        break;
    }
    *rows_p = r;
    return render__check_out(out);
}

static int add_json(render_rows_t *r, const store_value_t *values)
{
    struct json_object *row = json_object_new_object();
    const char *text;

    if (!row)
        return RENDER_ENOMEM;
    for (size_t col = 0; col < r->ncols; col++)
        json_object_object_add(row, r->keys[col], json_value(&values[col]));
    text = json_object_to_json_string_ext(row, JSON_C_TO_STRING_PLAIN |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!text) {
        json_object_put(row);
        return RENDER_ENOMEM;
    }
    fprintf(r->out, "%s\n  %s", r->nrows ? "," : "", text);
    json_object_put(row);
    return ferror(r->out) ? RENDER_EIO : 0;
}

/* A CSV field of len bytes (RFC 4180): quoted when it holds a comma, a
** quote or a line break, quotes doubled. */
static void csv_bytes(FILE *out, const char *text, size_t len)
{
    bool quote = false;

    for (size_t i = 0; i < len && !quote; i++)
        quote = text[i] == ',' || text[i] == '"' || text[i] == '\n' || text[i] == '\r';
    if (!quote) {
        fwrite(text, 1, len, out);
        return;
    }
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '"')
            fputc('"', out);
        fputc(text[i], out);
    }
    fputc('"', out);
}

static int add_csv(render_rows_t *r, const store_value_t *values)
{
    for (size_t col = 0; col < r->ncols; col++) {
        const store_value_t *v = &values[col];
        char buf[TEXT_DOUBLE_MAX];

        if (col)
            fputc(',', r->out);
        switch (v->type) {
        case STORE_VALUE_INT:
            fprintf(r->out, "%lld", (long long)v->i);
            break;
        case STORE_VALUE_REAL:
            text_format_double(buf, sizeof buf, v->r);
            fputs(buf, r->out);
            break;
        case STORE_VALUE_TEXT:
            csv_bytes(r->out, (const char *)v->bytes, v->len);
            break;
        case STORE_VALUE_BLOB:
            for (size_t i = 0; i < v->len; i++)
                fprintf(r->out, "%02x", v->bytes[i]);
            break;
        default:
            break;
        }
    }
    fputs("\r\n", r->out);
    return ferror(r->out) ? RENDER_EIO : 0;
}

static int add_table(render_rows_t *r, const store_value_t *values)
{
    int rc = 0;

    for (size_t col = 0; col < r->ncols; col++) {
        const store_value_t *v = &values[col];
        r->held += 32 + (v->type == STORE_VALUE_TEXT || v->type == STORE_VALUE_BLOB
                             ? 2 * v->len : 0);
    }
    if (r->held > RENDER_TABLE_MAX_BYTES)
        return RENDER_ETOOBIG;
    if (text_table_row(r->table))
        return RENDER_ENOMEM;
    for (size_t col = 0; col < r->ncols && rc == 0; col++) {
        const store_value_t *v = &values[col];
        char buf[TEXT_DOUBLE_MAX], *hex;

        switch (v->type) {
        case STORE_VALUE_NULL:
            rc = text_table_cell(r->table, col, "NULL", 4, -1);
            break;
        case STORE_VALUE_INT:
            snprintf(buf, sizeof buf, "%lld", (long long)v->i);
            rc = text_table_cell(r->table, col, buf, strlen(buf), 1);
            break;
        case STORE_VALUE_REAL:
            text_format_double(buf, sizeof buf, v->r);
            rc = text_table_cell(r->table, col, buf, strlen(buf), 1);
            break;
        case STORE_VALUE_BLOB:
            if (!(hex = hex_of(v->bytes, v->len))) {
                rc = -1;
                break;
            }
            rc = text_table_cell(r->table, col, hex, v->len * 2, 0);
            free(hex);
            break;
        default:
            rc = text_table_cell(r->table, col, (const char *)v->bytes, v->len, 0);
            break;
        }
    }
    return rc ? RENDER_ENOMEM : 0;
}

int render_rows_add(render_rows_t *rows, const store_value_t *values)
{
    int rc;

    if (!rows || rows->ended || (rows->ncols && !values))
        return RENDER_EUSAGE;
    rc = rows->format == RENDER_JSON  ? add_json(rows, values)
         : rows->format == RENDER_CSV ? add_csv(rows, values)
                                      : add_table(rows, values);
    if (rc == 0)
        rows->nrows++;
    return rc;
}

int render_rows_end(render_rows_t *rows)
{
    if (!rows || rows->ended)
        return RENDER_EUSAGE;
    rows->ended = true;
    if (rows->format == RENDER_JSON)
        fputs(rows->nrows ? "\n]\n" : "]\n", rows->out);
    else if (rows->format == RENDER_TEXT)
        text_table_print(rows->table, rows->out, 0);
    return render__check_out(rows->out);
}

void render_rows_destroy(render_rows_t **rows_p)
{
    render_rows_t *r = rows_p ? *rows_p : NULL;

    if (!r)
        return;
    /* Cut short: the JSON array stays open (no reader takes it for a whole
    ** result), on a line of its own end. */
    if (!r->ended && r->begun) {
        fputc('\n', r->out);
        fflush(r->out);
    }
    for (size_t col = 0; r->keys && col < r->ncols; col++)
        free(r->keys[col]);
    free(r->keys);
    text_table_destroy(&r->table);
    free(r);
    *rows_p = NULL;
}
