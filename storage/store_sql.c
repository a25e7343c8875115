/*
** storage/store_sql.c -- `heapsim sql`: one read-only statement, its rows
** handed out one at a time (render/ prints them as a table, CSV or JSON).
**
** Two gates keep the query from changing anything, even on a read-write
** handle. An authorizer, active while the statement is compiled, refuses
** what sqlite3_stmt_readonly() lets through although it has effects:
** ATTACH (creates files), DETACH, BEGIN/COMMIT/SAVEPOINT (would leave the
** store's own transaction state changed) and PRAGMAs other than a list of
** reading ones. Then sqlite3_stmt_readonly() must say the statement writes
** no database file. Only then is it stepped.
**
** A query also bounds what it may cost: a progress handler interrupts it
** after the timeout (a recursive CTE that never ends), and
** SQLITE_LIMIT_LENGTH caps every string or blob it makes (randomblob(1e9)
** fails at once instead of taking a gigabyte). The authorizer and both
** bounds are set from store_query_open to store_query_close, and put back
** then.
*/
#include "storage/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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

struct store_query {
    store_t *st;
    sqlite3_stmt *stmt;
    authorizer_t auth;           /* installed until close (a re-prepare runs it) */
    int old_length;              /* SQLITE_LIMIT_LENGTH to put back; -1: none */
    size_t ncols;
    store_value_t *values;       /* ncols, of the current row */
};

void store_query_close(store_query_t **q_p)
{
    store_query_t *q = q_p ? *q_p : NULL;
    store_t *st;

    if (!q)
        return;
    st = q->st;
    sqlite3_finalize(q->stmt);
    sqlite3_set_authorizer(st->db, NULL, NULL);
    sqlite3_progress_handler(st->db, 0, NULL, NULL);
    if (q->old_length >= 0)
        sqlite3_limit(st->db, SQLITE_LIMIT_LENGTH, q->old_length);
    st->query_timeout_ms = 0;
    st->query_max_value = 0;
    free(q->values);
    free(q);
    *q_p = NULL;
}

int store_query_open(store_t *st, const char *sql, const store_query_opts_t *opts,
                     store_query_t **q_p)
{
    static const store_query_opts_t unbounded = { 0 };
    sqlite3_stmt *next = NULL;
    store_query_t *q;
    const char *tail;
    int rc;

    if (!st || !q_p)
        return STORE_EUSAGE;
    *q_p = NULL;
    if (!opts)
        opts = &unbounded;
    if (!sql)
        return store__fail(st, STORE_EUSAGE, "no query");
    q = calloc(1, sizeof *q);
    if (!q)
        return store__fail(st, STORE_EDB, "query: out of memory");
    q->st = st;
    q->old_length = -1;
    if (opts->max_value_bytes > 0)
        q->old_length = sqlite3_limit(st->db, SQLITE_LIMIT_LENGTH,
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
    sqlite3_set_authorizer(st->db, authorize, &q->auth);
    if (sqlite3_prepare_v2(st->db, sql, -1, &q->stmt, &tail) != SQLITE_OK) {
        rc = prepare_fail(st, &q->auth);
        goto out_close;
    }
    if (!q->stmt) {
        rc = store__fail(st, STORE_EUSAGE, "no statement in the query");
        goto out_close;
    }
    if (!sqlite3_stmt_readonly(q->stmt)) {
        rc = store__fail(st, STORE_EUSAGE, "only read-only statements");
        goto out_close;
    }
    /* The rest must be empty (blanks or comments): one result, one array. */
    if (tail && *tail &&
        (sqlite3_prepare_v2(st->db, tail, -1, &next, NULL) != SQLITE_OK || next)) {
        sqlite3_finalize(next);
        rc = store__fail(st, STORE_EUSAGE, "only one statement at a time");
        goto out_close;
    }
    q->ncols = (size_t)sqlite3_column_count(q->stmt);
    q->values = calloc(q->ncols ? q->ncols : 1, sizeof *q->values);
    if (!q->values) {
        rc = store__fail(st, STORE_EDB, "query: out of memory");
        goto out_close;
    }
    *q_p = q;
    return 0;

out_close:
    store_query_close(&q);
    return rc;
}

size_t store_query_columns(const store_query_t *q)
{
    return q ? q->ncols : 0;
}

const char *store_query_column_name(const store_query_t *q, size_t col)
{
    const char *name;

    if (!q || col >= q->ncols)
        return "?";
    name = sqlite3_column_name(q->stmt, (int)col);
    return name ? name : "?";
}

int store_query_step(store_query_t *q, const store_value_t **values_p)
{
    int step;

    if (!q || !values_p)
        return STORE_EUSAGE;
    *values_p = NULL;
    step = sqlite3_step(q->stmt);
    if (step == SQLITE_DONE)
        return 0;
    if (step != SQLITE_ROW)
        return step_fail(q->st);
    for (size_t col = 0; col < q->ncols; col++) {
        store_value_t *v = &q->values[col];
        int c = (int)col;

        memset(v, 0, sizeof *v);
        switch (sqlite3_column_type(q->stmt, c)) {
        case SQLITE_INTEGER:
            v->type = STORE_VALUE_INT;
            v->i = sqlite3_column_int64(q->stmt, c);
            break;
        case SQLITE_FLOAT:
            v->type = STORE_VALUE_REAL;
            v->r = sqlite3_column_double(q->stmt, c);
            break;
        case SQLITE_TEXT:
            /* The pointer first, then its length (SQLite's order). */
            v->type = STORE_VALUE_TEXT;
            v->bytes = sqlite3_column_text(q->stmt, c);
            v->len = (size_t)sqlite3_column_bytes(q->stmt, c);
            if (!v->bytes)
                return store__fail(q->st, STORE_EDB, "query: out of memory");
            break;
        case SQLITE_BLOB:
            v->type = STORE_VALUE_BLOB;
            v->bytes = sqlite3_column_blob(q->stmt, c);
            v->len = (size_t)sqlite3_column_bytes(q->stmt, c);
            break;
        default:
            v->type = STORE_VALUE_NULL;
            break;
        }
    }
    *values_p = q->values;
    return 1;
}
