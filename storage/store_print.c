/*
** storage/store_print.c -- `heapsim runs` and `heapsim show`: the reports.
**
** Every value comes from the file, so nothing here assumes the schema's
** promises hold: a NULL prints as "-" (or JSON null), JSON columns that do
** not parse print as their text, and numbers are read by storage class.
** `show` reads inside one savepoint, so a run being written while it is
** shown is seen at one instant (WAL gives the reader a snapshot). Its
** sweep points are aggregated by SQLite (GROUP BY over a run's tasks), so
** only figures that are numbers in tasks that are done count.
*/
#include "storage/store_int.h"
#include "base/table.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/text.h"

/* ---- numbers as text ------------------------------------------------- */

/* A duration: ns, µs, ms, s, then minutes and hours. */
static void fmt_duration(char *buf, size_t size, int64_t ns)
{
    double v = (double)ns;
    const char *sign = "";

    if (v < 0) {
        sign = "-";
        v = -v;
    }
    if (v < 1e3)
        snprintf(buf, size, "%s%.0f ns", sign, v);
    else if (v < 1e6)
        snprintf(buf, size, "%s%.1f µs", sign, v / 1e3);
    else if (v < 1e9)
        snprintf(buf, size, "%s%.1f ms", sign, v / 1e6);
    else if (v < 60e9)
        snprintf(buf, size, "%s%.2f s", sign, v / 1e9);
    else if (v < 3600e9)
        snprintf(buf, size, "%s%.0fm%02.0fs", sign, floor(v / 60e9),
                 floor(fmod(v / 1e9, 60)));
    else
        snprintf(buf, size, "%s%.0fh%02.0fm", sign, floor(v / 3600e9),
                 floor(fmod(v / 60e9, 60)));
}

/* A count: 950, 12.3k, 1.2M, 4.5G. */
static void fmt_count(char *buf, size_t size, int64_t n)
{
    double v = (double)n;

    if (n < 0 || v < 1e3)
        snprintf(buf, size, "%lld", (long long)n);
    else if (v < 1e6)
        snprintf(buf, size, "%.1fk", v / 1e3);
    else if (v < 1e9)
        snprintf(buf, size, "%.1fM", v / 1e6);
    else if (v < 1e12)
        snprintf(buf, size, "%.1fG", v / 1e9);
    else
        snprintf(buf, size, "%.1fT", v / 1e12);
}

/* Bytes as MiB with one decimal. */
static void fmt_mib(char *buf, size_t size, int64_t bytes)
{
    snprintf(buf, size, "%.1f", (double)bytes / (1024.0 * 1024.0));
}

/* Local time "2024-05-01 14:03:22" of a Unix time in ns. */
static void fmt_time(char *buf, size_t size, int64_t unix_ns)
{
    time_t secs = (time_t)(unix_ns / 1000000000);
    struct tm tm;

    if (unix_ns % 1000000000 < 0)
        secs--;
    if (!localtime_r(&secs, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, size, "%lld ns", (long long)unix_ns);
}

/* ---- columns --------------------------------------------------------- */

static bool col_null(sqlite3_stmt *stmt, int col)
{
    return sqlite3_column_type(stmt, col) == SQLITE_NULL;
}

static const char *col_text(sqlite3_stmt *stmt, int col)
{
    return col_null(stmt, col) ? NULL : (const char *)sqlite3_column_text(stmt, col);
}

typedef void fmt_fn(char *buf, size_t size, int64_t value);

/* Set a table cell to fmt(column), or "-" when the column is NULL. */
static int cell_fmt(text_table_t *table, size_t tcol, sqlite3_stmt *stmt, int col,
                    fmt_fn *fmt)
{
    char buf[64];

    if (col_null(stmt, col))
        return text_table_cell(table, tcol, "-", 1, -1);
    fmt(buf, sizeof buf, sqlite3_column_int64(stmt, col));
    return text_table_cell(table, tcol, buf, strlen(buf), -1);
}

/* Set a table cell to a text column ("" when NULL). */
static int cell_text(text_table_t *table, size_t tcol, sqlite3_stmt *stmt, int col)
{
    const char *text = col_text(stmt, col);

    return text_table_cell(table, tcol, text,
                             text ? (size_t)sqlite3_column_bytes(stmt, col) : 0, -1);
}

static void fmt_int(char *buf, size_t size, int64_t value)
{
    snprintf(buf, size, "%lld", (long long)value);
}

/* ---- JSON ------------------------------------------------------------ */

struct json_object *store__json_text(const char *text, size_t len)
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

static struct json_object *json_double(double value)
{
    char buf[TEXT_DOUBLE_MAX];

    if (!isfinite(value))
        return NULL;
    text_format_double(buf, sizeof buf, value);
    return json_object_new_double_s(value, buf);
}

struct json_object *store__json_column(sqlite3_stmt *stmt, int col)
{
    static const char hex[] = "0123456789abcdef";
    struct json_object *value;
    const unsigned char *blob;
    char *text;
    int len;

    switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
        return json_object_new_int64(sqlite3_column_int64(stmt, col));
    case SQLITE_FLOAT:
        return json_double(sqlite3_column_double(stmt, col));
    case SQLITE_TEXT:
        text = (char *)sqlite3_column_text(stmt, col);
        return text ? store__json_text(text, (size_t)sqlite3_column_bytes(stmt, col))
                    : NULL;
    case SQLITE_BLOB:
        blob = sqlite3_column_blob(stmt, col);
        len = sqlite3_column_bytes(stmt, col);
        text = malloc((size_t)len * 2 + 1);
        if (!text)
            return NULL;
        for (int i = 0; i < len; i++) {
            text[2 * i] = hex[blob[i] >> 4];
            text[2 * i + 1] = hex[blob[i] & 15];
        }
        value = json_object_new_string_len(text, len * 2);
        free(text);
        return value;
    default:
        return NULL;
    }
}

/* Text that should hold JSON, parsed (strictly, UTF-8 checked); the text
** itself as a JSON string when it does not parse; null when NULL. */
static struct json_object *json_parsed(const char *text)
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
    return value ? value : store__json_text(text, len);
}

/* Add key: column col (by storage class) to obj. */
static void json_add_column(struct json_object *obj, const char *key,
                            sqlite3_stmt *stmt, int col)
{
    json_object_object_add(obj, key, store__json_column(stmt, col));
}

/* Print a JSON value and a newline. */
static int print_json(store_t *st, FILE *out, struct json_object *value)
{
    const char *text = json_object_to_json_string_ext(
        value, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);

    if (!text)
        return store__fail(st, STORE_EDB, "out of memory");
    fputs(text, out);
    fputc('\n', out);
    return store__check_out(st, out);
}

/* ---- runs ------------------------------------------------------------ */

enum {
    RUNS_ID, RUNS_TOKEN, RUNS_NAME, RUNS_STATUS, RUNS_STARTED, RUNS_ENDED,
    RUNS_TOTAL, RUNS_DONE, RUNS_FAILED,
};

static const char runs_sql[] =
    "SELECT r.id, r.token, r.name, r.status, r.started_unix_ns, r.ended_unix_ns,"
    " (SELECT count(*) FROM tasks t WHERE t.run_id = r.id),"
    " (SELECT count(*) FROM tasks t WHERE t.run_id = r.id AND t.status = 'done'),"
    " (SELECT count(*) FROM tasks t WHERE t.run_id = r.id AND t.status = 'failed')"
    " FROM runs r ORDER BY r.started_unix_ns DESC, r.id DESC LIMIT ?1";

/* Wall time of a run (ended - started), false when either is unknown. */
static bool run_wall(sqlite3_stmt *stmt, int started_col, int ended_col, int64_t *wall_ns)
{
    if (col_null(stmt, started_col) || col_null(stmt, ended_col))
        return false;
    *wall_ns = (int64_t)((uint64_t)sqlite3_column_int64(stmt, ended_col) -
                         (uint64_t)sqlite3_column_int64(stmt, started_col));
    return true;
}

static int runs_json_row(sqlite3_stmt *stmt, struct json_object *runs)
{
    struct json_object *run = json_object_new_object();
    int64_t wall_ns;

    if (!run)
        return -1;
    json_add_column(run, "run_id", stmt, RUNS_ID);
    json_add_column(run, "token", stmt, RUNS_TOKEN);
    json_add_column(run, "name", stmt, RUNS_NAME);
    json_add_column(run, "status", stmt, RUNS_STATUS);
    json_add_column(run, "started_unix_ns", stmt, RUNS_STARTED);
    json_add_column(run, "ended_unix_ns", stmt, RUNS_ENDED);
    json_object_object_add(run, "wall_ns",
                           run_wall(stmt, RUNS_STARTED, RUNS_ENDED, &wall_ns)
                               ? json_object_new_int64(wall_ns) : NULL);
    json_add_column(run, "tasks_total", stmt, RUNS_TOTAL);
    json_add_column(run, "tasks_done", stmt, RUNS_DONE);
    json_add_column(run, "tasks_failed", stmt, RUNS_FAILED);
    if (json_object_array_add(runs, run) != 0) {
        json_object_put(run);
        return -1;
    }
    return 0;
}

static int runs_table_row(sqlite3_stmt *stmt, text_table_t *table)
{
    char buf[64];
    int64_t wall_ns;
    int rc = text_table_row(table);

    rc = rc ? rc : cell_fmt(table, 0, stmt, RUNS_ID, fmt_int);
    rc = rc ? rc : cell_fmt(table, 1, stmt, RUNS_STARTED, fmt_time);
    rc = rc ? rc : cell_text(table, 2, stmt, RUNS_NAME);
    rc = rc ? rc : cell_text(table, 3, stmt, RUNS_STATUS);
    rc = rc ? rc : text_table_cellf(table, 4, "%lld/%lld",
                                      (long long)sqlite3_column_int64(stmt, RUNS_DONE),
                                      (long long)sqlite3_column_int64(stmt, RUNS_TOTAL));
    rc = rc ? rc : cell_fmt(table, 5, stmt, RUNS_FAILED, fmt_int);
    if (run_wall(stmt, RUNS_STARTED, RUNS_ENDED, &wall_ns))
        fmt_duration(buf, sizeof buf, wall_ns);
    else
        snprintf(buf, sizeof buf, "-");
    rc = rc ? rc : text_table_cell(table, 6, buf, strlen(buf), -1);
    return rc;
}

int store_print_runs(store_t *st, FILE *out, int limit, bool json)
{
    static const struct { const char *title; bool right; } columns[] = {
        { "ID", true }, { "STARTED", false }, { "NAME", false },
        { "STATUS", false }, { "TASKS", true }, { "FAILED", true },
        { "WALL", true },
    };
    enum { NCOLUMNS = sizeof columns / sizeof columns[0] };
    struct json_object *runs = NULL;
    text_table_t *table = NULL;
    sqlite3_stmt *stmt;
    int rc, step;

    if (!st || !out)
        return STORE_EUSAGE;
    if (sqlite3_prepare_v2(st->db, runs_sql, -1, &stmt, NULL) != SQLITE_OK)
        return store__db_fail(st, "listing runs");
    sqlite3_bind_int64(stmt, 1, limit > 0 ? limit : -1);   /* -1: no limit */
    if (json)
        runs = json_object_new_array();
    else if ((table = text_table_new(NCOLUMNS)))
        for (size_t col = 0; col < NCOLUMNS; col++)
            if (text_table_header(table, col, columns[col].title, columns[col].right))
                text_table_destroy(&table);
    if (!runs && !table) {
        rc = store__fail(st, STORE_EDB, "listing runs: out of memory");
        goto out_finalize;
    }
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (json ? runs_json_row(stmt, runs) : runs_table_row(stmt, table)) {
            rc = store__fail(st, STORE_EDB, "listing runs: out of memory");
            goto out_free_output;
        }
    }
    if (step != SQLITE_DONE) {
        rc = store__db_fail(st, "listing runs");
        goto out_free_output;
    }
    if (json) {
        rc = print_json(st, out, runs);
    } else {
        text_table_print(table, out, 0);
        rc = store__check_out(st, out);
    }
out_free_output:
    json_object_put(runs);
    text_table_destroy(&table);
out_finalize:
    sqlite3_finalize(stmt);
    return rc;
}

/* ---- show ------------------------------------------------------------ */

enum {
    RUN_ID, RUN_TOKEN, RUN_NAME, RUN_STATUS, RUN_STARTED, RUN_ENDED, RUN_ERROR,
    RUN_SCENARIO_PATH, RUN_WORKERS, RUN_HOST, RUN_JOINED,
};

static const char run_sql[] =
    "SELECT id, token, name, status, started_unix_ns, ended_unix_ns, error,"
    " scenario_path, workers, host,"
    " (SELECT count(*) FROM workers w WHERE w.run_id = r.id)"
    " FROM runs r WHERE id = ?1";

enum {
    TASK_ID, TASK_SEQ, TASK_KERNEL, TASK_PARAMS, TASK_RUNTIME, TASK_LABEL,
    TASK_SWEEP_POINT, TASK_REPEAT, TASK_STATUS, TASK_ERROR, TASK_WORKER,
    TASK_WALL, TASK_ALLOC_OBJECTS, TASK_ALLOC_BYTES, TASK_GC_CYCLES,
    TASK_PAUSE_MAX, TASK_PAUSE_TOTAL, TASK_PEAK_HEAP, TASK_PEAK_RSS,
    TASK_STACK_HWM, TASK_GOROUTINES_MAX, TASK_OUTPUT, TASK_SAMPLES,
};

static const char tasks_sql[] =
    "SELECT id, seq, kernel, params_json, runtime_json, label, sweep_point,"
    " repeat_index, status, error, worker, wall_ns, alloc_objects, alloc_bytes,"
    " gc_cycles, pause_max_ns, pause_total_ns, peak_heap_bytes, peak_rss_bytes,"
    " stack_hwm_bytes, goroutines_max, output,"
    " (SELECT count(*) FROM samples s WHERE s.task_id = t.id)"
    " FROM tasks t WHERE run_id = ?1 ORDER BY seq, id";

static const char metrics_sql[] =
    "SELECT name, value, unit FROM metrics WHERE task_id = ?1 ORDER BY name";

/* ---- show: the sweep points -------------------------------------------
**
** A point is the tasks of a run with the same kernel, sweep point, label,
** parameters and runtime: the repeats of one sweep point (tasks that are
** identical in all of these are repeats of each other wherever they came
** from). Its figures are aggregated over the point's tasks that are done
** and hold a number there: a failed task counts in "2/3 done" and nowhere
** else. Points are listed in the order of their first task. */

/* mean, min and max of a task column over the point's finished tasks. */
#define POINT_DONE(col) \
    "CASE WHEN status = 'done' AND typeof(" col ") IN ('integer', 'real') THEN " col " END"
#define POINT_AGG(col) \
    " avg(" POINT_DONE(col) "), min(" POINT_DONE(col) "), max(" POINT_DONE(col) ")"

enum {
    PT_KERNEL, PT_LABEL, PT_SWEEP_POINT, PT_PARAMS, PT_RUNTIME, PT_FIRST_SEQ,
    PT_TASKS, PT_DONE, PT_FAILED,
    PT_WALL,                     /* each figure: mean, min, max */
    PT_GC_CYCLES = PT_WALL + 3,
    PT_PAUSE_MAX = PT_GC_CYCLES + 3,
    PT_PEAK_HEAP = PT_PAUSE_MAX + 3,
    PT_ALLOC_OBJECTS = PT_PEAK_HEAP + 3,
};

static const char points_sql[] =
    "SELECT kernel, label, sweep_point, params_json, runtime_json, min(seq), count(*),"
    " count(CASE WHEN status = 'done' THEN 1 END),"
    " count(CASE WHEN status = 'failed' THEN 1 END),"
    POINT_AGG("wall_ns") "," POINT_AGG("gc_cycles") "," POINT_AGG("pause_max_ns") ","
    POINT_AGG("peak_heap_bytes") "," POINT_AGG("alloc_objects")
    " FROM tasks WHERE run_id = ?1"
    " GROUP BY kernel, sweep_point, label, params_json, runtime_json"
    " ORDER BY min(seq), min(id)";

/* The kernel's metrics over one point's finished tasks: ?2..?6 are the
** point's kernel, sweep_point, label, params_json, runtime_json. */
enum { PM_NAME, PM_MEAN, PM_MIN, PM_MAX, PM_UNIT };

static const char point_metrics_sql[] =
    "SELECT m.name, avg(m.value), min(m.value), max(m.value), max(m.unit)"
    " FROM tasks t JOIN metrics m ON m.task_id = t.id"
    " WHERE t.run_id = ?1 AND t.status = 'done' AND t.kernel IS ?2"
    " AND t.sweep_point IS ?3 AND t.label IS ?4 AND t.params_json IS ?5"
    " AND t.runtime_json IS ?6"
    " AND m.name IS NOT NULL AND typeof(m.value) IN ('integer', 'real')"
    " GROUP BY m.name ORDER BY m.name";

/* The statements of one `show` and where it prints. */
typedef struct show {
    store_t *st;
    FILE *out;
    sqlite3_stmt *run, *tasks, *metrics;
    sqlite3_stmt *points, *point_metrics;
} show_t;

/* Bind the point of the current row of sh->points to sh->point_metrics. */
static void point_bind(show_t *sh)
{
    static const int cols[] = {
        PT_KERNEL, PT_SWEEP_POINT, PT_LABEL, PT_PARAMS, PT_RUNTIME,
    };

    for (int i = 0; i < (int)(sizeof cols / sizeof cols[0]); i++)
        sqlite3_bind_value(sh->point_metrics, i + 2,
                           sqlite3_column_value(sh->points, cols[i]));
}

/* label when it is not empty, or else params as "depth=10 width=2"
** (strings without quotes), or else the raw params text. Caller frees. */
static char *point_title(const char *label, const char *params)
{
    struct json_object *parsed;
    char *title = NULL;
    size_t size = 0;
    FILE *mem;

    if (label && *label)
        return strdup(label);
    if (!params)
        return strdup("");
    parsed = json_parsed(params);
    if (!json_object_is_type(parsed, json_type_object)) {
        json_object_put(parsed);
        return strdup(params);
    }
    mem = open_memstream(&title, &size);
    if (mem) {
        bool first = true;

        json_object_object_foreach(parsed, key, value) {
            fprintf(mem, "%s%s=%s", first ? "" : " ", key,
                    json_object_is_type(value, json_type_string)
                        ? json_object_get_string(value)
                        : json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN));
            first = false;
        }
        if (fclose(mem) != 0) {
            free(title);
            title = NULL;
        }
    }
    json_object_put(parsed);
    return title;
}

/* The task's label, or else its parameters (point_title). */
static char *task_title(sqlite3_stmt *stmt)
{
    return point_title(col_text(stmt, TASK_LABEL), col_text(stmt, TASK_PARAMS));
}

/* Print text indented, each line of it (escapes other control characters
** the way table cells do, so nothing from the file reaches the terminal
** raw). */
static void print_block(FILE *out, const char *text, int indent)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\n')
            fprintf(out, "\n%*s", indent, "");
        else if (*p == '\t' || (*p >= 0x20 && *p != 0x7f))
            fputc(*p, out);
        else
            fprintf(out, "\\x%02x", *p);
    }
    fputc('\n', out);
}

/* Print text on one line: control characters escaped as in table cells. */
static void print_escaped(FILE *out, const char *text)
{
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

/* "  label     value\n", value escaped, "-" when NULL. */
static void print_field(FILE *out, const char *label, const char *value)
{
    fprintf(out, "  %-9s %s", label, value ? "" : "-");
    if (value)
        print_escaped(out, value);
    fputc('\n', out);
}

static void show_header_text(show_t *sh)
{
    sqlite3_stmt *run = sh->run;
    const char *name = col_text(run, RUN_NAME), *status = col_text(run, RUN_STATUS);
    const char *error = col_text(run, RUN_ERROR);
    char buf[64];
    int64_t wall_ns;

    fprintf(sh->out, "run %lld: ", (long long)sqlite3_column_int64(run, RUN_ID));
    print_escaped(sh->out, name ? name : "(no name)");
    fputs(" (", sh->out);
    print_escaped(sh->out, status ? status : "no status");
    fputs(")\n", sh->out);
    print_field(sh->out, "token", col_text(run, RUN_TOKEN));
    if (col_null(run, RUN_STARTED))
        snprintf(buf, sizeof buf, "-");
    else
        fmt_time(buf, sizeof buf, sqlite3_column_int64(run, RUN_STARTED));
    print_field(sh->out, "started", buf);
    if (run_wall(run, RUN_STARTED, RUN_ENDED, &wall_ns))
        fmt_duration(buf, sizeof buf, wall_ns);
    else
        snprintf(buf, sizeof buf, "-");
    print_field(sh->out, "duration", buf);
    snprintf(buf, sizeof buf, "%lld joined, %lld local planned",
             (long long)sqlite3_column_int64(run, RUN_JOINED),
             (long long)sqlite3_column_int64(run, RUN_WORKERS));
    print_field(sh->out, "workers", buf);
    print_field(sh->out, "host", col_text(run, RUN_HOST));
    print_field(sh->out, "scenario", col_text(run, RUN_SCENARIO_PATH));
    if (error) {
        fputs("  error     ", sh->out);
        print_block(sh->out, error, 12);
    }
}

/* A figure with up to 6 significant digits, without an exponent below
** 1e15: "41.2667", "1234567", "0.000123". */
static void fmt_figure(char *buf, size_t size, double value)
{
    if (isfinite(value) && fabs(value) >= 1e5 && fabs(value) < 1e15)
        snprintf(buf, size, "%.0f", value);
    else
        snprintf(buf, size, "%.6g", value);
}

/* A cell of a real column (a mean) shown with fmt after rounding to an
** integer; "-" when NULL. */
static int cell_mean(text_table_t *table, size_t tcol, sqlite3_stmt *stmt, int col,
                     fmt_fn *fmt)
{
    char buf[64];
    double mean;

    if (col_null(stmt, col))
        return text_table_cell(table, tcol, "-", 1, -1);
    mean = sqlite3_column_double(stmt, col);
    fmt(buf, sizeof buf, isfinite(mean) && fabs(mean) < 9e18 ? (int64_t)llround(mean) : 0);
    return text_table_cell(table, tcol, buf, strlen(buf), -1);
}

/* "min..max" of columns col and col + 1, each shown with fmt; "-" when
** either is NULL. */
static int cell_range(text_table_t *table, size_t tcol, sqlite3_stmt *stmt, int col,
                      fmt_fn *fmt)
{
    char lo[64], hi[64];

    if (col_null(stmt, col) || col_null(stmt, col + 1))
        return text_table_cell(table, tcol, "-", 1, -1);
    fmt(lo, sizeof lo, sqlite3_column_int64(stmt, col));
    fmt(hi, sizeof hi, sqlite3_column_int64(stmt, col + 1));
    return text_table_cellf(table, tcol, "%s..%s", lo, hi);
}

/* A real column as fmt_figure text; "-" when NULL. */
static int cell_figure(text_table_t *table, size_t tcol, sqlite3_stmt *stmt, int col)
{
    char buf[64];

    if (col_null(stmt, col))
        return text_table_cell(table, tcol, "-", 1, -1);
    fmt_figure(buf, sizeof buf, sqlite3_column_double(stmt, col));
    return text_table_cell(table, tcol, buf, strlen(buf), -1);
}

/* One row of the sweep table, and the point's rows of the metrics table. */
static int points_text_row(show_t *sh, text_table_t *table, text_table_t *metrics)
{
    sqlite3_stmt *p = sh->points, *pm = sh->point_metrics;
    char *title = point_title(col_text(p, PT_LABEL), col_text(p, PT_PARAMS));
    int rc = title ? 0 : -1, step;

    rc = rc ? rc : text_table_row(table);
    rc = rc ? rc : text_table_cell(table, 0, title, title ? strlen(title) : 0, -1);
    rc = rc ? rc : cell_text(table, 1, p, PT_KERNEL);
    rc = rc ? rc : text_table_cellf(table, 2, "%lld/%lld",
                                      (long long)sqlite3_column_int64(p, PT_DONE),
                                      (long long)sqlite3_column_int64(p, PT_TASKS));
    rc = rc ? rc : cell_mean(table, 3, p, PT_WALL, fmt_duration);
    rc = rc ? rc : cell_range(table, 4, p, PT_WALL + 1, fmt_duration);
    rc = rc ? rc : col_null(p, PT_GC_CYCLES)
                       ? text_table_cell(table, 5, "-", 1, -1)
                       : text_table_cellf(table, 5, "%.1f",
                                            sqlite3_column_double(p, PT_GC_CYCLES));
    rc = rc ? rc : cell_range(table, 6, p, PT_GC_CYCLES + 1, fmt_int);
    rc = rc ? rc : cell_mean(table, 7, p, PT_PAUSE_MAX, fmt_duration);
    rc = rc ? rc : cell_fmt(table, 8, p, PT_PAUSE_MAX + 2, fmt_duration);
    rc = rc ? rc : cell_mean(table, 9, p, PT_PEAK_HEAP, fmt_mib);
    rc = rc ? rc : cell_fmt(table, 10, p, PT_PEAK_HEAP + 2, fmt_mib);
    rc = rc ? rc : cell_mean(table, 11, p, PT_ALLOC_OBJECTS, fmt_count);
    if (rc) {
        free(title);
        return store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
    }
    point_bind(sh);
    while ((step = sqlite3_step(pm)) == SQLITE_ROW) {
        rc = text_table_row(metrics);
        rc = rc ? rc : text_table_cell(metrics, 0, title, strlen(title), -1);
        rc = rc ? rc : cell_text(metrics, 1, p, PT_KERNEL);
        rc = rc ? rc : cell_text(metrics, 2, pm, PM_NAME);
        rc = rc ? rc : cell_figure(metrics, 3, pm, PM_MEAN);
        rc = rc ? rc : cell_figure(metrics, 4, pm, PM_MIN);
        rc = rc ? rc : cell_figure(metrics, 5, pm, PM_MAX);
        rc = rc ? rc : cell_text(metrics, 6, pm, PM_UNIT);
        if (rc) {
            rc = store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
            break;
        }
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = store__db_fail(sh->st, "reading metrics");
    sqlite3_reset(pm);
    free(title);
    return rc;
}

/* The "sweep:" table (and "sweep metrics:"), printed when the run has
** repeats or more than one sweep point. */
static int show_points_text(show_t *sh)
{
    static const struct { const char *title; bool right; } columns[] = {
        { "POINT", false }, { "KERNEL", false }, { "DONE", true },
        { "WALL", true }, { "MIN..MAX", true }, { "GC", true },
        { "MIN..MAX", true }, { "MAX PAUSE", true }, { "WORST", true },
        { "PEAK HEAP MiB", true }, { "MAX MiB", true }, { "ALLOCS", true },
    };
    static const struct { const char *title; bool right; } metric_columns[] = {
        { "POINT", false }, { "KERNEL", false }, { "METRIC", false },
        { "MEAN", true }, { "MIN", true }, { "MAX", true }, { "UNIT", false },
    };
    enum {
        NCOLUMNS = sizeof columns / sizeof columns[0],
        NMETRIC_COLUMNS = sizeof metric_columns / sizeof metric_columns[0],
    };
    text_table_t *table = text_table_new(NCOLUMNS);
    text_table_t *metrics = text_table_new(NMETRIC_COLUMNS);
    bool swept = false, first = true;
    int64_t first_sweep_point = 0;
    int rc = table && metrics ? 0 : -1, step;

    for (size_t col = 0; col < NCOLUMNS; col++)
        rc = rc ? rc : text_table_header(table, col, columns[col].title,
                                           columns[col].right);
    for (size_t col = 0; col < NMETRIC_COLUMNS; col++)
        rc = rc ? rc : text_table_header(metrics, col, metric_columns[col].title,
                                           metric_columns[col].right);
    if (rc) {
        rc = store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
        goto out_free;
    }
    while ((step = sqlite3_step(sh->points)) == SQLITE_ROW) {
        int64_t sweep_point = sqlite3_column_int64(sh->points, PT_SWEEP_POINT);

        if (sqlite3_column_int64(sh->points, PT_TASKS) > 1 ||
            (!first && sweep_point != first_sweep_point))
            swept = true;
        if (first)
            first_sweep_point = sweep_point;
        first = false;
        if ((rc = points_text_row(sh, table, metrics)))
            goto out_free;
    }
    if (step != SQLITE_DONE) {
        rc = store__db_fail(sh->st, "reading sweep points");
        goto out_free;
    }
    if (swept) {
        fputs("\nsweep (over the tasks done at each point: mean, min..max):\n", sh->out);
        text_table_print(table, sh->out, 2);
        if (text_table_rows(metrics) > 0) {
            fputs("\nsweep metrics (over the tasks done at each point):\n", sh->out);
            text_table_print(metrics, sh->out, 2);
        }
    }
out_free:
    sqlite3_reset(sh->points);
    text_table_destroy(&metrics);
    text_table_destroy(&table);
    return rc;
}

static int show_text(show_t *sh)
{
    static const struct { const char *title; bool right; } columns[] = {
        { "SEQ", true }, { "KERNEL", false }, { "TASK", false },
        { "STATUS", false }, { "WALL", true }, { "ALLOCS", true },
        { "ALLOC MiB", true }, { "GC", true }, { "MAX PAUSE", true },
        { "PEAK HEAP MiB", true },
    };
    enum { NCOLUMNS = sizeof columns / sizeof columns[0] };
    text_table_t *table = NULL, *metrics = NULL;
    char *errors = NULL;
    size_t errors_size = 0;
    FILE *errors_out = NULL;
    int rc = 0, step;

    show_header_text(sh);
    table = text_table_new(NCOLUMNS);
    metrics = text_table_new(4);
    errors_out = open_memstream(&errors, &errors_size);
    if (!table || !metrics || !errors_out) {
        rc = store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
        goto out_free;
    }
    for (size_t col = 0; col < NCOLUMNS; col++)
        rc = rc ? rc : text_table_header(table, col, columns[col].title,
                                           columns[col].right);
    rc = rc ? rc : text_table_header(metrics, 0, "SEQ", true);
    rc = rc ? rc : text_table_header(metrics, 1, "METRIC", false);
    rc = rc ? rc : text_table_header(metrics, 2, "VALUE", true);
    rc = rc ? rc : text_table_header(metrics, 3, "UNIT", false);
    if (rc) {
        rc = store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
        goto out_free;
    }
    while ((step = sqlite3_step(sh->tasks)) == SQLITE_ROW) {
        sqlite3_stmt *t = sh->tasks;
        const char *error = col_text(t, TASK_ERROR);
        char *title = task_title(t);
        int mstep;

        rc = title ? 0 : -1;
        rc = rc ? rc : text_table_row(table);
        rc = rc ? rc : cell_fmt(table, 0, t, TASK_SEQ, fmt_int);
        rc = rc ? rc : cell_text(table, 1, t, TASK_KERNEL);
        rc = rc ? rc : text_table_cell(table, 2, title, title ? strlen(title) : 0, -1);
        rc = rc ? rc : cell_text(table, 3, t, TASK_STATUS);
        rc = rc ? rc : cell_fmt(table, 4, t, TASK_WALL, fmt_duration);
        rc = rc ? rc : cell_fmt(table, 5, t, TASK_ALLOC_OBJECTS, fmt_count);
        rc = rc ? rc : cell_fmt(table, 6, t, TASK_ALLOC_BYTES, fmt_mib);
        rc = rc ? rc : cell_fmt(table, 7, t, TASK_GC_CYCLES, fmt_int);
        rc = rc ? rc : cell_fmt(table, 8, t, TASK_PAUSE_MAX, fmt_duration);
        rc = rc ? rc : cell_fmt(table, 9, t, TASK_PEAK_HEAP, fmt_mib);
        if (rc) {
            free(title);
            rc = store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
            goto out_free;
        }
        if (error) {
            const char *kernel = col_text(t, TASK_KERNEL);

            fprintf(errors_out, "  seq %lld (", (long long)sqlite3_column_int64(t, TASK_SEQ));
            print_escaped(errors_out, kernel ? kernel : "?");
            fputc(' ', errors_out);
            print_escaped(errors_out, title);
            fputs("): ", errors_out);
            print_block(errors_out, error, 4);
        }
        free(title);

        sqlite3_bind_int64(sh->metrics, 1, sqlite3_column_int64(t, TASK_ID));
        while ((mstep = sqlite3_step(sh->metrics)) == SQLITE_ROW) {
            char value[TEXT_DOUBLE_MAX];

            if (col_null(sh->metrics, 1))
                snprintf(value, sizeof value, "NULL");
            else
                text_format_double(value, sizeof value,
                                   sqlite3_column_double(sh->metrics, 1));
            rc = text_table_row(metrics);
            rc = rc ? rc : cell_fmt(metrics, 0, t, TASK_SEQ, fmt_int);
            rc = rc ? rc : cell_text(metrics, 1, sh->metrics, 0);
            rc = rc ? rc : text_table_cell(metrics, 2, value, strlen(value), -1);
            rc = rc ? rc : cell_text(metrics, 3, sh->metrics, 2);
            if (rc) {
                sqlite3_reset(sh->metrics);
                rc = store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
                goto out_free;
            }
        }
        if (mstep != SQLITE_DONE) {
            rc = store__db_fail(sh->st, "reading metrics");
            sqlite3_reset(sh->metrics);
            goto out_free;
        }
        sqlite3_reset(sh->metrics);
    }
    if (step != SQLITE_DONE) {
        rc = store__db_fail(sh->st, "reading tasks");
        goto out_free;
    }
    if (fclose(errors_out) != 0) {
        errors_out = NULL;
        rc = store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
        goto out_free;
    }
    errors_out = NULL;

    fputc('\n', sh->out);
    text_table_print(table, sh->out, 2);
    if (errors_size > 0)
        fprintf(sh->out, "\nerrors:\n%s", errors);
    if (text_table_rows(metrics) > 0) {
        fputs("\nmetrics:\n", sh->out);
        text_table_print(metrics, sh->out, 2);
    }
    rc = show_points_text(sh);
    rc = rc ? rc : store__check_out(sh->st, sh->out);
out_free:
    if (errors_out)
        fclose(errors_out);
    free(errors);
    text_table_destroy(&metrics);
    text_table_destroy(&table);
    return rc;
}

/* The "result" object of a task: its output and its metrics. */
static struct json_object *show_json_result(show_t *sh, int *rc)
{
    sqlite3_stmt *t = sh->tasks;
    struct json_object *result = json_object_new_object();
    int step;

    if (!result) {
        *rc = store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
        return NULL;
    }
    json_add_column(result, "output", t, TASK_OUTPUT);
    sqlite3_bind_int64(sh->metrics, 1, sqlite3_column_int64(t, TASK_ID));
    while ((step = sqlite3_step(sh->metrics)) == SQLITE_ROW) {
        const char *name = col_text(sh->metrics, 0);

        /* A metric named "output" cannot be stored; never let one from the
        ** file replace the output either. */
        if (name && strcmp(name, "output") != 0)
            json_add_column(result, name, sh->metrics, 1);
    }
    if (step != SQLITE_DONE) {
        *rc = store__db_fail(sh->st, "reading metrics");
        json_object_put(result);
        result = NULL;
    }
    sqlite3_reset(sh->metrics);
    return result;
}

/* {"mean", "min", "max"} of columns col..col + 2 of stmt. NULL when out of
** memory. */
static struct json_object *json_aggregate(sqlite3_stmt *stmt, int col)
{
    struct json_object *agg = json_object_new_object();

    if (!agg)
        return NULL;
    json_add_column(agg, "mean", stmt, col);
    json_add_column(agg, "min", stmt, col + 1);
    json_add_column(agg, "max", stmt, col + 2);
    return agg;
}

/* The point of the current row of sh->points as a JSON object. NULL with
** *rc set on failure. */
static struct json_object *show_json_point(show_t *sh, int *rc)
{
    static const struct { const char *key; int col; } figures[] = {
        { "wall_ns", PT_WALL }, { "gc_cycles", PT_GC_CYCLES },
        { "pause_max_ns", PT_PAUSE_MAX }, { "peak_heap_bytes", PT_PEAK_HEAP },
        { "alloc_objects", PT_ALLOC_OBJECTS },
    };
    sqlite3_stmt *p = sh->points, *pm = sh->point_metrics;
    struct json_object *point = json_object_new_object(), *metrics;
    int step;

    if (!point)
        goto out_nomem;
    json_add_column(point, "kernel", p, PT_KERNEL);
    json_add_column(point, "label", p, PT_LABEL);
    json_add_column(point, "sweep_point", p, PT_SWEEP_POINT);
    json_object_object_add(point, "params", json_parsed(col_text(p, PT_PARAMS)));
    json_add_column(point, "first_seq", p, PT_FIRST_SEQ);
    json_add_column(point, "repeats", p, PT_TASKS);
    json_add_column(point, "done", p, PT_DONE);
    json_add_column(point, "failed", p, PT_FAILED);
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        struct json_object *agg = json_aggregate(p, figures[i].col);

        if (!agg)
            goto out_nomem;
        json_object_object_add(point, figures[i].key, agg);
    }
    if (!(metrics = json_object_new_object()))
        goto out_nomem;
    json_object_object_add(point, "metrics", metrics);
    point_bind(sh);
    while ((step = sqlite3_step(pm)) == SQLITE_ROW) {
        struct json_object *agg = json_aggregate(pm, PM_MEAN);

        if (!agg) {
            sqlite3_reset(pm);
            goto out_nomem;
        }
        json_add_column(agg, "unit", pm, PM_UNIT);
        if (col_text(pm, PM_NAME))
            json_object_object_add(metrics, col_text(pm, PM_NAME), agg);
        else
            json_object_put(agg);
    }
    if (step != SQLITE_DONE) {
        *rc = store__db_fail(sh->st, "reading metrics");
        sqlite3_reset(pm);
        json_object_put(point);
        return NULL;
    }
    sqlite3_reset(pm);
    return point;

out_nomem:
    json_object_put(point);
    *rc = store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
    return NULL;
}

/* Add "points" (every sweep point, aggregated) to doc. 0 or a STORE_E*. */
static int show_json_points(show_t *sh, struct json_object *doc)
{
    struct json_object *points = json_object_new_array();
    int rc = 0, step;

    if (!points)
        return store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
    json_object_object_add(doc, "points", points);
    while ((step = sqlite3_step(sh->points)) == SQLITE_ROW) {
        struct json_object *point = show_json_point(sh, &rc);

        if (!point)
            goto out_reset;
        if (json_object_array_add(points, point) != 0) {
            json_object_put(point);
            rc = store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
            goto out_reset;
        }
    }
    if (step != SQLITE_DONE)
        rc = store__db_fail(sh->st, "reading sweep points");
out_reset:
    sqlite3_reset(sh->points);
    return rc;
}

static int show_json(show_t *sh)
{
    static const struct { const char *key; int col; } task_columns[] = {
        { "task_id", TASK_ID }, { "seq", TASK_SEQ }, { "kernel", TASK_KERNEL },
        { "params", -1 }, { "runtime", -2 }, { "label", TASK_LABEL },
        { "sweep_point", TASK_SWEEP_POINT }, { "repeat_index", TASK_REPEAT },
        { "status", TASK_STATUS }, { "error", TASK_ERROR },
        { "worker", TASK_WORKER }, { "wall_ns", TASK_WALL },
        { "alloc_objects", TASK_ALLOC_OBJECTS }, { "alloc_bytes", TASK_ALLOC_BYTES },
        { "gc_cycles", TASK_GC_CYCLES }, { "pause_max_ns", TASK_PAUSE_MAX },
        { "pause_total_ns", TASK_PAUSE_TOTAL }, { "peak_heap_bytes", TASK_PEAK_HEAP },
        { "peak_rss_bytes", TASK_PEAK_RSS }, { "stack_hwm_bytes", TASK_STACK_HWM },
        { "goroutines_max", TASK_GOROUTINES_MAX }, { "samples", TASK_SAMPLES },
    };
    sqlite3_stmt *run = sh->run;
    struct json_object *doc = json_object_new_object();
    struct json_object *tasks = json_object_new_array();
    int rc = 0, step;

    if (!doc || !tasks) {
        json_object_put(tasks);
        rc = store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
        goto out_put_doc;
    }
    json_add_column(doc, "run_id", run, RUN_ID);
    json_add_column(doc, "token", run, RUN_TOKEN);
    json_add_column(doc, "name", run, RUN_NAME);
    json_add_column(doc, "status", run, RUN_STATUS);
    json_add_column(doc, "started_unix_ns", run, RUN_STARTED);
    json_add_column(doc, "ended_unix_ns", run, RUN_ENDED);
    json_add_column(doc, "error", run, RUN_ERROR);
    json_object_object_add(doc, "tasks", tasks);

    while ((step = sqlite3_step(sh->tasks)) == SQLITE_ROW) {
        struct json_object *task = json_object_new_object(), *result;

        if (!task || json_object_array_add(tasks, task) != 0) {
            json_object_put(task);
            rc = store__fail(sh->st, STORE_EDB, "showing a run: out of memory");
            goto out_put_doc;
        }
        for (size_t i = 0; i < sizeof task_columns / sizeof task_columns[0]; i++) {
            int col = task_columns[i].col;

            if (col == -1)
                json_object_object_add(task, "params",
                                       json_parsed(col_text(sh->tasks, TASK_PARAMS)));
            else if (col == -2)
                json_object_object_add(task, "runtime",
                                       json_parsed(col_text(sh->tasks, TASK_RUNTIME)));
            else
                json_add_column(task, task_columns[i].key, sh->tasks, col);
        }
        result = show_json_result(sh, &rc);
        if (!result)
            goto out_put_doc;
        json_object_object_add(task, "result", result);
        /* Its figures under Go's runtime/metrics names (docs/metrics.md). */
        store_task_go_t go;
        if ((rc = store__task_go_read(sh->st, sqlite3_column_int64(sh->tasks, TASK_ID), &go)))
            goto out_put_doc;
        json_object_object_add(task, "runtime_metrics", store__task_go_json(&go));
    }
    if (step != SQLITE_DONE) {
        rc = store__db_fail(sh->st, "reading tasks");
        goto out_put_doc;
    }
    if ((rc = show_json_points(sh, doc)))
        goto out_put_doc;
    rc = print_json(sh->st, sh->out, doc);
out_put_doc:
    json_object_put(doc);
    return rc;
}

int store_print_show(store_t *st, FILE *out, int64_t run_id, bool json)
{
    show_t sh = { .st = st, .out = out };
    int rc, step;

    if (!st || !out)
        return STORE_EUSAGE;
    /* One snapshot for the whole report; a savepoint nests in a caller's
    ** transaction too. */
    if (sqlite3_exec(st->db, "SAVEPOINT store_show", NULL, NULL, NULL) != SQLITE_OK)
        return store__db_fail(st, "showing a run");
    if (sqlite3_prepare_v2(st->db, run_sql, -1, &sh.run, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, tasks_sql, -1, &sh.tasks, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, metrics_sql, -1, &sh.metrics, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, points_sql, -1, &sh.points, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, point_metrics_sql, -1, &sh.point_metrics, NULL)
            != SQLITE_OK) {
        rc = store__db_fail(st, "showing a run");
        goto out_finalize;
    }
    sqlite3_bind_int64(sh.run, 1, run_id);
    sqlite3_bind_int64(sh.tasks, 1, run_id);
    sqlite3_bind_int64(sh.points, 1, run_id);
    sqlite3_bind_int64(sh.point_metrics, 1, run_id);
    step = sqlite3_step(sh.run);
    if (step == SQLITE_DONE) {
        rc = store__fail(st, STORE_ENOTFOUND, "no run %lld", (long long)run_id);
        goto out_finalize;
    }
    if (step != SQLITE_ROW) {
        rc = store__db_fail(st, "reading the run");
        goto out_finalize;
    }
    if (json) {
        rc = show_json(&sh);                /* prints once, at the end */
    } else {
        /* The text is printed as it is read: keep it until all is read. */
        char *text = NULL;
        size_t size = 0;

        sh.out = open_memstream(&text, &size);
        if (!sh.out) {
            rc = store__fail(st, STORE_EDB, "showing a run: out of memory");
            goto out_finalize;
        }
        rc = show_text(&sh);
        if (fclose(sh.out) != 0 && rc == 0)
            rc = store__fail(st, STORE_EDB, "showing a run: out of memory");
        if (rc == 0) {
            fwrite(text, 1, size, out);
            rc = store__check_out(st, out);
        }
        free(text);
    }
out_finalize:
    sqlite3_finalize(sh.point_metrics);
    sqlite3_finalize(sh.points);
    sqlite3_finalize(sh.metrics);
    sqlite3_finalize(sh.tasks);
    sqlite3_finalize(sh.run);
    sqlite3_exec(st->db, "RELEASE store_show", NULL, NULL, NULL);
    return rc;
}
