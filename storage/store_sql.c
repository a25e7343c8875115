/*
** storage/store_sql.c -- `heapsim sql`: one read-only statement, printed.
**
** Two gates keep the query from changing anything, even on a read-write
** handle. An authorizer, active while the statement is compiled, refuses
** what sqlite3_stmt_readonly() lets through although it has effects:
** ATTACH (creates files), DETACH, BEGIN/COMMIT/SAVEPOINT (would leave the
** store's own transaction state changed) and PRAGMAs other than a list of
** reading ones. Then sqlite3_stmt_readonly() must say the statement writes
** no database file. Only then is it stepped.
**
** store_query_print() also bounds what a query may cost: a progress
** handler interrupts it after the timeout (a recursive CTE that never
** ends), and SQLITE_LIMIT_LENGTH caps every string or blob it makes
** (randomblob(1e9) fails at once instead of taking a gigabyte). Both are
** set for the one statement and put back after it.
*/
#include "storage/store_int.h"
#include "base/table.h"

#include <json-c/json.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/text.h"

typedef struct authorizer {
    const char *refused;        /* what was refused first, NULL if nothing */
} authorizer_t;

/* PRAGMAs that only read, with or without an argument. */
static const char *const reading_pragmas[] = {
    "table_info", "table_xinfo", "table_list", "index_info", "index_xinfo",
    "index_list", "foreign_key_list", "foreign_key_check", "integrity_check",
    "quick_check", "database_list", "collation_list", "function_list",
    "module_list", "pragma_list", "compile_options", "page_count",
    "freelist_count", "data_version", NULL,
};

/* PRAGMAs that read a setting when given no value (and write it with one). */
static const char *const setting_pragmas[] = {
    "user_version", "application_id", "schema_version", "journal_mode",
    "page_size", "encoding", "foreign_keys", "auto_vacuum", "cache_size",
    "synchronous", "busy_timeout", NULL,
};

static bool in_list(const char *name, const char *const *list)
{
    for (; name && *list; list++)
        if (strcasecmp(name, *list) == 0)
            return true;
    return false;
}

static int authorize(void *arg, int action, const char *arg1, const char *arg2,
                     const char *db_name, const char *trigger)
{
    authorizer_t *auth = arg;
    const char *refused = NULL;

    switch (action) {
    case SQLITE_ATTACH:
        refused = "ATTACH";
        break;
    case SQLITE_DETACH:
        refused = "DETACH";
        break;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        refused = "transaction control";
        break;
    case SQLITE_PRAGMA:
        if (!in_list(arg1, reading_pragmas) &&
            !(arg2 == NULL && in_list(arg1, setting_pragmas)))
            refused = "this PRAGMA";
        break;
    default:
        break;
    }
    if (!refused)
        return SQLITE_OK;
    if (!auth->refused)
        auth->refused = refused;
    return SQLITE_DENY;
}

/* Why compiling failed: a refusal, or SQLite's message. */
static int prepare_fail(store_t *st, const authorizer_t *auth)
{
    int code = sqlite3_errcode(st->db) & 0xff;

    if (auth->refused)
        return store__fail(st, STORE_EUSAGE,
                           "only read-only statements (%s is not allowed)",
                           auth->refused);
    if (code == SQLITE_ERROR || code == SQLITE_AUTH || code == SQLITE_RANGE)
        return store__fail(st, STORE_EUSAGE, "%s", sqlite3_errmsg(st->db));
    return store__db_fail(st, "query");
}

/* Column names as JSON keys, unique: the second column named "a" is "a:2". */
static char **json_keys(sqlite3_stmt *stmt, int ncols)
{
    char **keys = calloc(ncols ? (size_t)ncols : 1, sizeof *keys);

    if (!keys)
        return NULL;
    for (int col = 0; col < ncols; col++) {
        const char *name = sqlite3_column_name(stmt, col);
        int repeat = 1;

        name = name ? name : "?";
        for (int prev = 0; prev < col; prev++) {
            const char *prev_name = sqlite3_column_name(stmt, prev);

            repeat += strcmp(prev_name ? prev_name : "?", name) == 0;
        }
        if (repeat == 1 ? !(keys[col] = strdup(name))
                        : asprintf(&keys[col], "%s:%d", name, repeat) < 0) {
            for (int i = 0; i < col; i++)
                free(keys[i]);
            free(keys);
            return NULL;
        }
    }
    return keys;
}

static void free_keys(char **keys, int ncols)
{
    for (int col = 0; keys && col < ncols; col++)
        free(keys[col]);
    free(keys);
}

/* The progress handler: nonzero (interrupt) once the deadline passed. */
static int progress(void *arg)
{
    store_t *st = arg;
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > st->query_deadline.tv_sec ||
        (now.tv_sec == st->query_deadline.tv_sec &&
         now.tv_nsec >= st->query_deadline.tv_nsec))
        st->query_expired = true;
    return st->query_expired;
}

/* Step error: bad SQL at run time (STORE_EUSAGE) or the database. */
static int step_fail(store_t *st)
{
    int code = sqlite3_errcode(st->db) & 0xff;

    if (code == SQLITE_INTERRUPT && st->query_expired)
        return store__fail(st, STORE_EUSAGE, "the query ran longer than %lld ms "
                           "and was stopped (--timeout)",
                           (long long)st->query_timeout_ms);
    if (code == SQLITE_TOOBIG && st->query_max_value > 0)
        return store__fail(st, STORE_EUSAGE, "a value of the query is larger than "
                           "%lld bytes (string or blob too big)",
                           (long long)st->query_max_value);

    if (code == SQLITE_ERROR || code == SQLITE_MISMATCH || code == SQLITE_TOOBIG ||
        code == SQLITE_RANGE)
        return store__fail(st, STORE_EUSAGE, "%s", sqlite3_errmsg(st->db));
    return store__db_fail(st, "query");
}

/* Stream the rows as a JSON array, one object per line. */
static int print_rows_json(store_t *st, FILE *out, sqlite3_stmt *stmt)
{
    int ncols = sqlite3_column_count(stmt), rc = 0, step;
    char **keys = json_keys(stmt, ncols);
    bool first = true;

    if (!keys)
        return store__fail(st, STORE_EDB, "query: out of memory");
    /* Most errors show on the first step: print nothing for them. One in
    ** the middle leaves the array unterminated, which no reader takes for
    ** a whole result. */
    step = sqlite3_step(stmt);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = step_fail(st);
        goto out_free_keys;
    }
    fputs("[", out);
    for (; step == SQLITE_ROW; step = sqlite3_step(stmt)) {
        struct json_object *row = json_object_new_object();
        const char *text;

        if (!row) {
            rc = store__fail(st, STORE_EDB, "query: out of memory");
            goto out_free_keys;
        }
        for (int col = 0; col < ncols; col++)
            json_object_object_add(row, keys[col], store__json_column(stmt, col));
        text = json_object_to_json_string_ext(
            row, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        fprintf(out, "%s\n  %s", first ? "" : ",", text ? text : "null");
        json_object_put(row);
        first = false;
        if (ferror(out))
            break;
    }
    if (step != SQLITE_DONE && step != SQLITE_ROW) {
        fputc('\n', out);
        rc = step_fail(st);
        goto out_free_keys;
    }
    fputs(first ? "]\n" : "\n]\n", out);
    rc = store__check_out(st, out);
out_free_keys:
    free_keys(keys, ncols);
    return rc;
}

/* The most text an aligned table may hold before it is printed: it is
** kept whole to measure its columns, so a query of endless rows must not
** grow it without bound (JSON and CSV stream; they need no such cap). */
#define TABLE_MAX_BYTES (64u << 20)

/* Collect the rows in a table (NULL shown as NULL, numbers right-aligned,
** blobs in hex), then print it. STORE_EUSAGE past TABLE_MAX_BYTES. */
static int print_rows_table(store_t *st, FILE *out, sqlite3_stmt *stmt)
{
    int ncols = sqlite3_column_count(stmt), rc = 0, step;
    size_t held = 0;
    text_table_t *table = text_table_new((size_t)ncols);

    if (!table)
        return store__fail(st, STORE_EDB, "query: out of memory");
    for (int col = 0; col < ncols; col++) {
        const char *name = sqlite3_column_name(stmt, col);

        if (text_table_header(table, (size_t)col, name ? name : "?", false)) {
            rc = store__fail(st, STORE_EDB, "query: out of memory");
            goto out_destroy_table;
        }
    }
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        /* Before any conversion: sqlite3_column_bytes() of a number
        ** would turn it into text. */
        for (int col = 0; col < ncols; col++) {
            int type = sqlite3_column_type(stmt, col);
            held += 32 + (type == SQLITE_TEXT || type == SQLITE_BLOB
                              ? 2 * (size_t)sqlite3_column_bytes(stmt, col) : 0);
        }
        if (held > TABLE_MAX_BYTES) {
            rc = store__fail(st, STORE_EUSAGE, "the result is larger than %u MiB, too "
                             "large to align as a table: use --csv or --json (streamed)",
                             TABLE_MAX_BYTES >> 20);
            goto out_destroy_table;
        }
        if (text_table_row(table)) {
            rc = store__fail(st, STORE_EDB, "query: out of memory");
            goto out_destroy_table;
        }
        for (int col = 0; col < ncols && rc == 0; col++) {
            char buf[32];
            const char *text;
            char *hex;
            const unsigned char *blob;
            int len;

            switch (sqlite3_column_type(stmt, col)) {
            case SQLITE_NULL:
                rc = text_table_cell(table, (size_t)col, "NULL", 4, -1);
                break;
            case SQLITE_INTEGER:
                snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_column_int64(stmt, col));
                rc = text_table_cell(table, (size_t)col, buf, strlen(buf), 1);
                break;
            case SQLITE_FLOAT:
                text_format_double(buf, sizeof buf, sqlite3_column_double(stmt, col));
                rc = text_table_cell(table, (size_t)col, buf, strlen(buf), 1);
                break;
            case SQLITE_BLOB:
                blob = sqlite3_column_blob(stmt, col);
                len = sqlite3_column_bytes(stmt, col);
                hex = malloc((size_t)len * 2 + 1);
                if (!hex) {
                    rc = -1;
                    break;
                }
                for (int i = 0; i < len; i++)
                    sprintf(hex + 2 * i, "%02x", blob[i]);
                hex[2 * len] = '\0';
                rc = text_table_cell(table, (size_t)col, hex, (size_t)len * 2, 0);
                free(hex);
                break;
            default:
                text = (const char *)sqlite3_column_text(stmt, col);
                rc = text_table_cell(table, (size_t)col, text,
                                       text ? (size_t)sqlite3_column_bytes(stmt, col) : 0, 0);
                break;
            }
        }
        if (rc) {
            rc = store__fail(st, STORE_EDB, "query: out of memory");
            goto out_destroy_table;
        }
    }
    if (step != SQLITE_DONE) {
        rc = step_fail(st);
        goto out_destroy_table;
    }
    text_table_print(table, out, 0);
    rc = store__check_out(st, out);
out_destroy_table:
    text_table_destroy(&table);
    return rc;
}

/* A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line
** break, quotes doubled. */
static void csv_field(FILE *out, const char *text, size_t len)
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

/* Stream the rows as CSV: a header line, then a line per row; NULL is an
** empty field, blobs are hex. */
static int print_rows_csv(store_t *st, FILE *out, sqlite3_stmt *stmt)
{
    int ncols = sqlite3_column_count(stmt), step;

    step = sqlite3_step(stmt);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return step_fail(st);
    for (int col = 0; col < ncols; col++) {
        const char *name = sqlite3_column_name(stmt, col);
        if (col)
            fputc(',', out);
        csv_field(out, name ? name : "?", name ? strlen(name) : 1);
    }
    fputs("\r\n", out);
    for (; step == SQLITE_ROW; step = sqlite3_step(stmt)) {
        for (int col = 0; col < ncols; col++) {
            char buf[32];
            const unsigned char *blob;
            const char *text;
            int len;

            if (col)
                fputc(',', out);
            switch (sqlite3_column_type(stmt, col)) {
            case SQLITE_NULL:
                break;
            case SQLITE_INTEGER:
                fprintf(out, "%lld", (long long)sqlite3_column_int64(stmt, col));
                break;
            case SQLITE_FLOAT:
                text_format_double(buf, sizeof buf, sqlite3_column_double(stmt, col));
                fputs(buf, out);
                break;
            case SQLITE_BLOB:
                blob = sqlite3_column_blob(stmt, col);
                len = sqlite3_column_bytes(stmt, col);
                for (int i = 0; i < len; i++)
                    fprintf(out, "%02x", blob[i]);
                break;
            default:
                text = (const char *)sqlite3_column_text(stmt, col);
                csv_field(out, text ? text : "",
                          text ? (size_t)sqlite3_column_bytes(stmt, col) : 0);
                break;
            }
        }
        fputs("\r\n", out);
        if (ferror(out))
            break;
    }
    if (step != SQLITE_DONE && step != SQLITE_ROW)
        return step_fail(st);
    return store__check_out(st, out);
}

int store_print_sql(store_t *st, FILE *out, const char *sql, bool json)
{
    store_query_opts_t opts = {
        .format = json ? STORE_QUERY_JSON : STORE_QUERY_TABLE,
    };

    return store_query_print(st, out, sql, &opts);
}

int store_query_print(store_t *st, FILE *out, const char *sql,
                      const store_query_opts_t *opts)
{
    authorizer_t auth = { NULL };
    int old_length = -1;
    sqlite3_stmt *stmt = NULL, *next = NULL;
    const char *tail;
    int rc;

    if (!st || !out || !opts)
        return STORE_EUSAGE;
    if (!sql)
        return store__fail(st, STORE_EUSAGE, "no query");
    if (opts->max_value_bytes > 0)
        old_length = sqlite3_limit(st->db, SQLITE_LIMIT_LENGTH,
                                   opts->max_value_bytes > INT32_MAX
                                       ? INT32_MAX : (int)opts->max_value_bytes);
    st->query_timeout_ms = opts->timeout_ms;
    st->query_max_value = opts->max_value_bytes;
    st->query_expired = false;
    if (opts->timeout_ms > 0) {
        struct timespec *at = &st->query_deadline;

        clock_gettime(CLOCK_MONOTONIC, at);
        at->tv_sec += opts->timeout_ms / 1000;
        at->tv_nsec += (opts->timeout_ms % 1000) * 1000000;
        if (at->tv_nsec >= 1000000000) {
            at->tv_sec++;
            at->tv_nsec -= 1000000000;
        }
        /* Every 1000 virtual-machine steps: microseconds apart. */
        sqlite3_progress_handler(st->db, 1000, progress, st);
    }
    sqlite3_set_authorizer(st->db, authorize, &auth);
    if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, &tail) != SQLITE_OK) {
        rc = prepare_fail(st, &auth);
        goto out_finalize;
    }
    if (!stmt) {
        rc = store__fail(st, STORE_EUSAGE, "no statement in the query");
        goto out_finalize;
    }
    if (!sqlite3_stmt_readonly(stmt)) {
        rc = store__fail(st, STORE_EUSAGE, "only read-only statements");
        goto out_finalize;
    }
    /* The rest must be empty (blanks or comments): one result, one array. */
    if (tail && *tail &&
        (sqlite3_prepare_v2(st->db, tail, -1, &next, NULL) != SQLITE_OK || next)) {
        rc = store__fail(st, STORE_EUSAGE, "only one statement at a time");
        goto out_finalize;
    }
    switch (opts->format) {
    case STORE_QUERY_JSON: rc = print_rows_json(st, out, stmt); break;
    case STORE_QUERY_CSV: rc = print_rows_csv(st, out, stmt); break;
    default: rc = print_rows_table(st, out, stmt); break;
    }
out_finalize:
    sqlite3_finalize(next);
    sqlite3_finalize(stmt);
    sqlite3_set_authorizer(st->db, NULL, NULL);
    sqlite3_progress_handler(st->db, 0, NULL, NULL);
    if (old_length >= 0)
        sqlite3_limit(st->db, SQLITE_LIMIT_LENGTH, old_length);
    st->query_timeout_ms = 0;
    st->query_max_value = 0;
    return rc;
}
