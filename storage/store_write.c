/*
** storage/store_write.c -- the statement cache, transactions and every
** insert and update.
**
** Each write binds its arguments to a cached statement (never into the SQL
** text), steps it once and resets it. Strings are bound SQLITE_STATIC: the
** caller's strings outlive the call and the statement is reset before it
** returns. A caller that writes telemetry in bursts wraps them in
** store_begin()/store_commit(); otherwise each write is its own transaction.
*/
#include "storage/store_int.h"

#include <json-c/json.h>
#include <math.h>
#include <string.h>

/* The gc_cycles columns of a cycle's figures, in the order of the list;
** parameters 1..5 are the context columns. */
#define GC_INSERT_COLUMN(name, kind, doc) ", " #name
#define GC_INSERT_VALUE(name, kind, doc) ", ?"
enum { GC_INSERT_FIRST_FIELD = 6 };

static const char *const stmt_sql[STMT__COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_RUN_INSERT] =
        "INSERT INTO runs (token, name, scenario_path, scenario_text,"
        " settings_json, command_line, host, workers, status, started_unix_ns,"
        " owner_host, owner_boot, owner_pid, owner_started, heartbeat_unix_ns)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'running', ?9,"
        " ?10, ?11, ?12, ?13, CASE WHEN ?12 IS NOT NULL THEN ?9 END)",
    [STMT_RUN_FINISH] =
        "UPDATE runs SET status = ?2, ended_unix_ns = ?3, error = ?4 WHERE id = ?1",
    [STMT_RUN_CLAIM] =
        "UPDATE runs SET status = 'running', ended_unix_ns = NULL, error = NULL,"
        " owner_host = ?2, owner_boot = ?3, owner_pid = ?4, owner_started = ?5,"
        " heartbeat_unix_ns = ?6 WHERE id = ?1",
    [STMT_RUN_BEAT] =
        "UPDATE runs SET heartbeat_unix_ns = ?2 WHERE id = ?1",
    [STMT_WORKER_INSERT] =
        "INSERT INTO workers (run_id, name, host, pid, ncpu, joined_unix_ns)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [STMT_TASK_INSERT] =
        "INSERT INTO tasks (run_id, seq, kernel, params_json, runtime_json, label,"
        " sweep_point, repeat_index, seed, status)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending')",
    [STMT_TASK_START] =
        "UPDATE tasks SET status = 'running', worker = ?2, host = ?3,"
        " started_unix_ns = ?4 WHERE id = ?1",
    [STMT_TASK_FINISH] =
        "UPDATE tasks SET status = ?2, error = ?3, output = ?4, ended_unix_ns = ?5,"
        " wall_ns = ?6, alloc_objects = ?7, alloc_bytes = ?8, gc_cycles = ?9,"
        " pause_max_ns = ?10, pause_total_ns = ?11, peak_heap_bytes = ?12,"
        " peak_rss_bytes = ?13, stack_hwm_bytes = ?14, goroutines_max = ?15"
        " WHERE id = ?1",
    [STMT_METRIC_INSERT] =
        "INSERT INTO metrics (task_id, name, value, unit) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (task_id, name)"
        " DO UPDATE SET value = excluded.value, unit = excluded.unit",
    [STMT_SAMPLE_INSERT] =
        "INSERT INTO samples (run_id, task_id, worker, t_ns, unix_ns,"
        " heap_alloc_bytes, heap_inuse_bytes, heap_sys_bytes, heap_live_bytes,"
        " heap_goal_bytes, num_gc, pause_total_ns, alloc_objects, alloc_bytes,"
        " goroutines, stack_inuse_bytes, rss_bytes, cpu_user_ns, cpu_sys_ns,"
        " minor_faults, major_faults, ctx_switches)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
        " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)",
    [STMT_GC_INSERT] =
        "INSERT INTO gc_cycles (run_id, task_id, host, heap, worker"
        GC_FIELDS(GC_INSERT_COLUMN)
        ") VALUES (?, ?, ?, ?, ?" GC_FIELDS(GC_INSERT_VALUE) ")",
};

sqlite3_stmt *store__stmt(store_t *st, store__stmt_id_t id)
{
    if (!st->stmts[id] &&
        sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                           &st->stmts[id], NULL) != SQLITE_OK) {
        store__db_fail(st, "preparing a statement");
        st->stmts[id] = NULL;
    }
    return st->stmts[id];
}

void store__stmts_finalize(store_t *st)
{
    for (int id = 0; id < STMT__COUNT; id++) {
        sqlite3_finalize(st->stmts[id]);        /* accepts NULL */
        st->stmts[id] = NULL;
    }
}

/* ---- binding and stepping ------------------------------------------- */

/* Bind text, or NULL for a NULL pointer. */
static int bind_text(sqlite3_stmt *stmt, int idx, const char *text)
{
    if (!text)
        return sqlite3_bind_null(stmt, idx);
    return sqlite3_bind_text(stmt, idx, text, -1, SQLITE_STATIC);
}

/* Bind an id, or NULL when it is 0 or negative ("none"). */
static int bind_id(sqlite3_stmt *stmt, int idx, int64_t id)
{
    if (id <= 0)
        return sqlite3_bind_null(stmt, idx);
    return sqlite3_bind_int64(stmt, idx, id);
}

/* Bind n integers to ?first, ?first+1, ... */
static int bind_ints(sqlite3_stmt *stmt, int first, const int64_t *values, int n)
{
    int rc = SQLITE_OK;

    for (int i = 0; i < n && rc == SQLITE_OK; i++)
        rc = sqlite3_bind_int64(stmt, first + i, values[i]);
    return rc;
}

/* Step a bound statement once (bind_rc is the first failure of binding,
** SQLITE_OK if none), then reset it and clear its bindings. 0, or the
** store code with "what: <SQLite's message>" recorded. */
static int step_once(store_t *st, sqlite3_stmt *stmt, int bind_rc, const char *what)
{
    int rc = 0;

    if (bind_rc != SQLITE_OK || sqlite3_step(stmt) != SQLITE_DONE)
        rc = store__db_fail(st, what);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc;
}

/* Step an UPDATE of one row; STORE_ENOTFOUND when no row has that id. */
static int step_update(store_t *st, sqlite3_stmt *stmt, int bind_rc,
                       const char *what, const char *noun, int64_t id)
{
    int rc = step_once(st, stmt, bind_rc, what);

    if (rc == 0 && sqlite3_changes(st->db) == 0)
        rc = store__fail(st, STORE_ENOTFOUND, "%s: no %s %lld", what, noun,
                         (long long)id);
    return rc;
}

/* ---- checking arguments ---------------------------------------------- */

static int check_writable(store_t *st, const char *what)
{
    if (st->readonly)
        return store__fail(st, STORE_EUSAGE, "%s: %s is open read-only", what,
                           st->path);
    return 0;
}

static bool is_one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0)
            return true;
    return false;
}

/* 0 when text is NULL or one complete JSON value (an object when
** want_object); STORE_EUSAGE naming field otherwise. */
static int check_json(store_t *st, const char *what, const char *field,
                      const char *text, bool want_object)
{
    struct json_tokener *tok;
    struct json_object *value;
    size_t len, end;
    int rc = 0;

    if (!text)
        return 0;
    tok = json_tokener_new();
    if (!tok)
        return store__fail(st, STORE_EDB, "%s: out of memory", what);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    len = strlen(text);
    value = len <= (size_t)INT32_MAX ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
    end = value ? json_tokener_get_parse_end(tok) : 0;
    while (value && end < len && strchr(" \t\r\n", text[end]))
        end++;
    if (!value || end != len)
        rc = store__fail(st, STORE_EUSAGE, "%s: %s is not JSON", what, field);
    else if (want_object && !json_object_is_type(value, json_type_object))
        rc = store__fail(st, STORE_EUSAGE, "%s: %s is not a JSON object", what, field);
    json_object_put(value);
    json_tokener_free(tok);
    return rc;
}

/* ---- transactions ----------------------------------------------------- */

int store_begin(store_t *st)
{
    sqlite3_stmt *stmt;
    int rc;

    if (!st)
        return STORE_EUSAGE;
    if ((rc = check_writable(st, "begin")))
        return rc;
    if (!sqlite3_get_autocommit(st->db))
        return store__fail(st, STORE_EUSAGE, "begin: a transaction is already open");
    if (!(stmt = store__stmt(st, STMT_BEGIN)))
        return STORE_EDB;
    return step_once(st, stmt, SQLITE_OK, "begin");
}

int store_commit(store_t *st)
{
    sqlite3_stmt *stmt;

    if (!st)
        return STORE_EUSAGE;
    if (sqlite3_get_autocommit(st->db))
        return store__fail(st, STORE_EUSAGE, "commit: no transaction is open");
    if (!(stmt = store__stmt(st, STMT_COMMIT)))
        return STORE_EDB;
    return step_once(st, stmt, SQLITE_OK, "commit");
}

int store_rollback(store_t *st)
{
    sqlite3_stmt *stmt;

    if (!st)
        return STORE_EUSAGE;
    if (sqlite3_get_autocommit(st->db))
        return 0;
    if (!(stmt = store__stmt(st, STMT_ROLLBACK)))
        return STORE_EDB;
    return step_once(st, stmt, SQLITE_OK, "rollback");
}

int store_savepoint(store_t *st)
{
    if (!st)
        return STORE_EUSAGE;
    if (sqlite3_get_autocommit(st->db))
        return store__fail(st, STORE_EUSAGE, "savepoint: no transaction is open");
    if (sqlite3_exec(st->db, "SAVEPOINT store_rows", NULL, NULL, NULL) != SQLITE_OK)
        return store__db_fail(st, "savepoint");
    return 0;
}

int store_savepoint_end(store_t *st, bool keep)
{
    if (!st)
        return STORE_EUSAGE;
    if (!keep && sqlite3_exec(st->db, "ROLLBACK TO store_rows", NULL, NULL, NULL) != SQLITE_OK)
        return store__db_fail(st, "rolling back to the savepoint");
    if (sqlite3_exec(st->db, "RELEASE store_rows", NULL, NULL, NULL) != SQLITE_OK)
        return store__db_fail(st, "releasing the savepoint");
    return 0;
}

/* ---- runs and workers ------------------------------------------------- */

int store_run_insert(store_t *st, const store_run_t *run, int64_t *run_id)
{
    static const char what[] = "inserting a run";
    sqlite3_stmt *stmt;
    int brc, rc;

    if (!st)
        return STORE_EUSAGE;
    if ((rc = check_writable(st, what)))
        return rc;
    if (!run || !run->token || !*run->token)
        return store__fail(st, STORE_EUSAGE, "%s: no token", what);
    if ((rc = check_json(st, what, "settings_json", run->settings_json, false)))
        return rc;
    if (!(stmt = store__stmt(st, STMT_RUN_INSERT)))
        return STORE_EDB;
    brc = bind_text(stmt, 1, run->token);
    brc = brc ? brc : bind_text(stmt, 2, run->name);
    brc = brc ? brc : bind_text(stmt, 3, run->scenario_path);
    brc = brc ? brc : bind_text(stmt, 4, run->scenario_text);
    brc = brc ? brc : bind_text(stmt, 5, run->settings_json);
    brc = brc ? brc : bind_text(stmt, 6, run->command_line);
    brc = brc ? brc : bind_text(stmt, 7, run->host);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 8, run->workers);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 9, run->started_unix_ns);
    if (run->owner) {
        brc = brc ? brc : bind_text(stmt, 10, run->owner->host);
        brc = brc ? brc : bind_text(stmt, 11, run->owner->boot[0] ? run->owner->boot : NULL);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 12, run->owner->pid);
        if (run->owner->started_ticks >= 0)
            brc = brc ? brc : sqlite3_bind_int64(stmt, 13, run->owner->started_ticks);
    }
    rc = step_once(st, stmt, brc, what);
    if (rc == 0 && run_id)
        *run_id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int store_run_finish(store_t *st, int64_t run_id, const char *status,
                     int64_t ended_unix_ns, const char *error)
{
    static const char what[] = "finishing a run";
    static const char *const statuses[] = {
        "running", "done", "failed", "interrupted", NULL,
    };
    sqlite3_stmt *stmt;
    int brc, rc;

    if (!st)
        return STORE_EUSAGE;
    if ((rc = check_writable(st, what)))
        return rc;
    if (!status || !is_one_of(status, statuses))
        return store__fail(st, STORE_EUSAGE, "%s: bad status \"%s\"", what,
                           status ? status : "(null)");
    if (!(stmt = store__stmt(st, STMT_RUN_FINISH)))
        return STORE_EDB;
    brc = sqlite3_bind_int64(stmt, 1, run_id);
    brc = brc ? brc : bind_text(stmt, 2, status);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 3, ended_unix_ns);
    brc = brc ? brc : bind_text(stmt, 4, error);
    return step_update(st, stmt, brc, what, "run", run_id);
}

int store_run_claim(store_t *st, int64_t run_id, const proc_id_t *owner,
                    int64_t now_unix_ns)
{
    static const char what[] = "claiming a run";
    sqlite3_stmt *stmt;
    int brc, rc;

    if (!st)
        return STORE_EUSAGE;
    if ((rc = check_writable(st, what)))
        return rc;
    if (!owner)
        return store__fail(st, STORE_EUSAGE, "%s: no owner", what);
    if (!(stmt = store__stmt(st, STMT_RUN_CLAIM)))
        return STORE_EDB;
    brc = sqlite3_bind_int64(stmt, 1, run_id);
    brc = brc ? brc : bind_text(stmt, 2, owner->host);
    brc = brc ? brc : bind_text(stmt, 3, owner->boot[0] ? owner->boot : NULL);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 4, owner->pid);
    if (owner->started_ticks >= 0)
        brc = brc ? brc : sqlite3_bind_int64(stmt, 5, owner->started_ticks);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 6, now_unix_ns);
    return step_update(st, stmt, brc, what, "run", run_id);
}

int store_run_beat(store_t *st, int64_t run_id, int64_t now_unix_ns)
{
    static const char what[] = "a run's heartbeat";
    sqlite3_stmt *stmt;
    int brc, rc;

    if (!st)
        return STORE_EUSAGE;
    if ((rc = check_writable(st, what)))
        return rc;
    if (!(stmt = store__stmt(st, STMT_RUN_BEAT)))
        return STORE_EDB;
    brc = sqlite3_bind_int64(stmt, 1, run_id);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 2, now_unix_ns);
    return step_update(st, stmt, brc, what, "run", run_id);
}

int store_worker_insert(store_t *st, const store_worker_t *w)
{
    static const char what[] = "inserting a worker";
    sqlite3_stmt *stmt;
    int brc, rc;

    if (!st)
        return STORE_EUSAGE;
    if ((rc = check_writable(st, what)))
        return rc;
    if (!w || !w->name || !*w->name)
        return store__fail(st, STORE_EUSAGE, "%s: no name", what);
    if (!(stmt = store__stmt(st, STMT_WORKER_INSERT)))
        return STORE_EDB;
    brc = sqlite3_bind_int64(stmt, 1, w->run_id);
    brc = brc ? brc : bind_text(stmt, 2, w->name);
    brc = brc ? brc : bind_text(stmt, 3, w->host);
    brc = brc ? brc : bind_ints(stmt, 4, (int64_t[]){ w->pid, w->ncpu, w->joined_unix_ns }, 3);
    return step_once(st, stmt, brc, what);
}

/* ---- tasks and metrics ------------------------------------------------ */

int store_task_insert(store_t *st, const store_task_t *task, int64_t *task_id)
{
    static const char what[] = "inserting a task";
    sqlite3_stmt *stmt;
    int brc, rc;

    if (!st)
        return STORE_EUSAGE;
    if ((rc = check_writable(st, what)))
        return rc;
    if (!task || !task->kernel || !*task->kernel)
        return store__fail(st, STORE_EUSAGE, "%s: no kernel", what);
    if ((rc = check_json(st, what, "params_json", task->params_json, true)) ||
        (rc = check_json(st, what, "runtime_json", task->runtime_json, false)))
        return rc;
    if (!(stmt = store__stmt(st, STMT_TASK_INSERT)))
        return STORE_EDB;
    brc = sqlite3_bind_int64(stmt, 1, task->run_id);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 2, task->seq);
    brc = brc ? brc : bind_text(stmt, 3, task->kernel);
    brc = brc ? brc : bind_text(stmt, 4, task->params_json);
    brc = brc ? brc : bind_text(stmt, 5, task->runtime_json);
    brc = brc ? brc : bind_text(stmt, 6, task->label);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 7, task->sweep_point);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 8, task->repeat_index);
    /* SQLite integers are signed: the seed's bits, read back as int64. */
    brc = brc ? brc : sqlite3_bind_int64(stmt, 9, (int64_t)task->seed);
    rc = step_once(st, stmt, brc, what);
    if (rc == 0 && task_id)
        *task_id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int store_task_start(store_t *st, int64_t task_id, const char *worker,
                     const char *host, int64_t started_unix_ns)
{
    static const char what[] = "starting a task";
    sqlite3_stmt *stmt;
    int brc, rc;

    if (!st)
        return STORE_EUSAGE;
    if ((rc = check_writable(st, what)))
        return rc;
    if (!(stmt = store__stmt(st, STMT_TASK_START)))
        return STORE_EDB;
    brc = sqlite3_bind_int64(stmt, 1, task_id);
    brc = brc ? brc : bind_text(stmt, 2, worker);
    brc = brc ? brc : bind_text(stmt, 3, host);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 4, started_unix_ns);
    return step_update(st, stmt, brc, what, "task", task_id);
}

int store_task_finish(store_t *st, int64_t task_id, const store_task_result_t *r)
{
    static const char what[] = "finishing a task";
    static const char *const statuses[] = { "done", "failed", NULL };
    sqlite3_stmt *stmt;
    int brc, rc;

    if (!st)
        return STORE_EUSAGE;
    if ((rc = check_writable(st, what)))
        return rc;
    if (!r || !r->status || !is_one_of(r->status, statuses))
        return store__fail(st, STORE_EUSAGE, "%s: bad status \"%s\"", what,
                           r && r->status ? r->status : "(null)");
    if (!(stmt = store__stmt(st, STMT_TASK_FINISH)))
        return STORE_EDB;
    brc = sqlite3_bind_int64(stmt, 1, task_id);
    brc = brc ? brc : bind_text(stmt, 2, r->status);
    brc = brc ? brc : bind_text(stmt, 3, r->error);
    brc = brc ? brc : bind_text(stmt, 4, r->output);
    brc = brc ? brc : bind_ints(stmt, 5, (int64_t[]){
        r->ended_unix_ns, r->wall_ns, r->alloc_objects, r->alloc_bytes,
        r->gc_cycles, r->pause_max_ns, r->pause_total_ns, r->peak_heap_bytes,
        r->peak_rss_bytes, r->stack_hwm_bytes, r->goroutines_max,
    }, 11);
    return step_update(st, stmt, brc, what, "task", task_id);
}

int store_metric_insert(store_t *st, int64_t task_id, const char *name,
                        double value, const char *unit)
{
    static const char what[] = "inserting a metric";
    sqlite3_stmt *stmt;
    int brc, rc;

    if (!st)
        return STORE_EUSAGE;
    if ((rc = check_writable(st, what)))
        return rc;
    if (!name || !*name)
        return store__fail(st, STORE_EUSAGE, "%s: no name", what);
    /* "output" is the key of the output text next to the metrics in
    ** `heapsim show --json`. */
    if (strcmp(name, "output") == 0)
        return store__fail(st, STORE_EUSAGE, "%s: \"output\" is reserved", what);
    if (!isfinite(value))
        return store__fail(st, STORE_EUSAGE, "%s: %s is not a finite number",
                           what, name);
    if (!(stmt = store__stmt(st, STMT_METRIC_INSERT)))
        return STORE_EDB;
    brc = sqlite3_bind_int64(stmt, 1, task_id);
    brc = brc ? brc : bind_text(stmt, 2, name);
    brc = brc ? brc : sqlite3_bind_double(stmt, 3, value);
    brc = brc ? brc : bind_text(stmt, 4, unit);
    return step_once(st, stmt, brc, what);
}

/* ---- telemetry: the hot paths ----------------------------------------- */

int store_sample_insert(store_t *st, const store_sample_t *s)
{
    static const char what[] = "inserting a sample";
    sqlite3_stmt *stmt;
    int brc, rc;

    if (!st)
        return STORE_EUSAGE;
    if ((rc = check_writable(st, what)))
        return rc;
    if (!s)
        return store__fail(st, STORE_EUSAGE, "%s: no sample", what);
    if (!(stmt = store__stmt(st, STMT_SAMPLE_INSERT)))
        return STORE_EDB;
    brc = sqlite3_bind_int64(stmt, 1, s->run_id);
    brc = brc ? brc : bind_id(stmt, 2, s->task_id);
    brc = brc ? brc : bind_text(stmt, 3, s->worker);
    brc = brc ? brc : bind_ints(stmt, 4, (int64_t[]){
        s->t_ns, s->unix_ns, s->heap_alloc_bytes, s->heap_inuse_bytes,
        s->heap_sys_bytes, s->heap_live_bytes, s->heap_goal_bytes, s->num_gc,
        s->pause_total_ns, s->alloc_objects, s->alloc_bytes, s->goroutines,
        s->stack_inuse_bytes, s->rss_bytes, s->cpu_user_ns, s->cpu_sys_ns,
        s->minor_faults, s->major_faults, s->ctx_switches,
    }, 19);
    return step_once(st, stmt, brc, what);
}

int store_gc_insert(store_t *st, const store_gc_t *gc)
{
    static const char what[] = "inserting a gc cycle";
    sqlite3_stmt *stmt;
    int brc, rc;

    if (!st)
        return STORE_EUSAGE;
    if ((rc = check_writable(st, what)))
        return rc;
    if (!gc)
        return store__fail(st, STORE_EUSAGE, "%s: no gc cycle", what);
    if (!(stmt = store__stmt(st, STMT_GC_INSERT)))
        return STORE_EDB;
    brc = sqlite3_bind_int64(stmt, 1, gc->run_id);
    brc = brc ? brc : bind_id(stmt, 2, gc->task_id);
    brc = brc ? brc : bind_text(stmt, 3, gc->host);
    brc = brc ? brc : bind_text(stmt, 4, gc->heap);
    brc = brc ? brc : bind_text(stmt, 5, gc->worker);
    for (int i = 0; i < GC_FIELDS_COUNT && brc == SQLITE_OK; i++) {
        const gc_fields_desc_t *f = &gc_fields_desc[i];
        int idx = GC_INSERT_FIRST_FIELD + i;
        if (f->kind == GC_FIELDS_KIND_INT) {
            brc = sqlite3_bind_int64(stmt, idx, gc_fields_get_int(&gc->fields, f));
        } else {
            /* NaN would be stored as NULL; so would anything not finite. */
            double v = gc_fields_get_real(&gc->fields, f);
            brc = isfinite(v) ? sqlite3_bind_double(stmt, idx, v)
                              : sqlite3_bind_null(stmt, idx);
        }
    }
    return step_once(st, stmt, brc, what);
}
