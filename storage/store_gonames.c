/*
** storage/store_gonames.c -- a task's figures under Go's runtime/metrics
** names: read from its row, its GC cycles and its last sample
** (store_task_go_t; docs/metrics.md says which column is which name), and
** as JSON for the end-of-run summary (`heapsim run --json`; `heapsim show
** --json` renders the same struct in render/).
*/
#include "storage/store_int.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/text.h"

static int64_t col_int(sqlite3_stmt *stmt, int col)
{
    if (sqlite3_column_type(stmt, col) != SQLITE_INTEGER)
        return STORE_NONE;
    return sqlite3_column_int64(stmt, col);
}

/* Step a one-row query bound to task_id; SQLITE_ROW or SQLITE_DONE, else
** the error recorded. */
static int one_row(store_t *st, const char *sql, int64_t task_id, sqlite3_stmt **stmt)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK)
        return store__db_fail(st, "reading a task's figures");
    sqlite3_bind_int64(*stmt, 1, task_id);
    int rc = sqlite3_step(*stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = store__db_fail(st, "reading a task's figures");
        sqlite3_finalize(*stmt);
        *stmt = NULL;
        return rc;
    }
    return rc;
}

int store__task_go_read(store_t *st, int64_t task_id, store_task_go_t *out)
{
    static const char task_sql[] =
        "SELECT alloc_bytes, alloc_objects, gc_cycles FROM tasks WHERE id = ?1";
    static const char gc_sql[] =
        "SELECT stw_ns, forced, heap_goal_bytes FROM gc_cycles WHERE task_id = ?1"
        " ORDER BY cycle";
    static const char sample_sql[] =
        "SELECT heap_alloc_bytes, heap_goal_bytes, goroutines, stack_inuse_bytes"
        " FROM samples WHERE task_id = ?1 ORDER BY t_ns DESC LIMIT 1";
    sqlite3_stmt *stmt = NULL;
    int rc;

    for (size_t i = 0; i < sizeof *out / sizeof(int64_t); i++)
        ((int64_t *)(void *)out)[i] = STORE_NONE;
    if ((rc = one_row(st, task_sql, task_id, &stmt)) < 0 && rc != SQLITE_DONE)
        return rc;
    if (rc == SQLITE_ROW) {
        out->alloc_bytes = col_int(stmt, 0);
        out->alloc_objects = col_int(stmt, 1);
        out->gc_cycles = col_int(stmt, 2);
    }
    sqlite3_finalize(stmt);

    if ((rc = one_row(st, gc_sql, task_id, &stmt)) < 0 && rc != SQLITE_DONE)
        return rc;
    out->gc_forced = out->pause_count = out->pause_total_ns = 0;
    for (int b = 0; b < STORE_PAUSE_BUCKETS; b++)
        out->pause_le[b] = 0;
    for (; rc == SQLITE_ROW; rc = sqlite3_step(stmt)) {
        int64_t stw = col_int(stmt, 0), forced = col_int(stmt, 1), goal = col_int(stmt, 2);
        if (forced == 1)
            out->gc_forced++;
        if (goal != STORE_NONE)
            out->goal_bytes = goal;           /* the last cycle's, in cycle order */
        if (stw == STORE_NONE)
            continue;
        out->pause_count++;
        out->pause_total_ns += stw;
        for (int b = 0; b < STORE_PAUSE_BUCKETS; b++)
            if (stw <= store_pause_bounds_ns[b])
                out->pause_le[b]++;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return store__db_fail(st, "reading a task's GC cycles");

    if ((rc = one_row(st, sample_sql, task_id, &stmt)) < 0 && rc != SQLITE_DONE)
        return rc;
    if (rc == SQLITE_ROW) {
        out->heap_objects_bytes = col_int(stmt, 0);
        if (out->goal_bytes == STORE_NONE)
            out->goal_bytes = col_int(stmt, 1);
        out->goroutines = col_int(stmt, 2);
        out->stack_bytes = col_int(stmt, 3);
    }
    sqlite3_finalize(stmt);
    return 0;
}

static struct json_object *json_int(int64_t v)
{
    return v == STORE_NONE ? NULL : json_object_new_int64(v);
}

struct json_object *store__task_go_json(const store_task_go_t *go)
{
    struct json_object *o = json_object_new_object(), *p, *b;
    char key[TEXT_DOUBLE_MAX];

    if (!o)
        return NULL;
#define STORE_GO_ADD(name, member) json_object_object_add(o, name, json_int(go->member));
    STORE_GO_METRICS(STORE_GO_ADD)
#undef STORE_GO_ADD
    json_object_object_add(o, "/gc/cycles/automatic:gc-cycles",
                           go->gc_cycles == STORE_NONE || go->gc_forced == STORE_NONE
                               ? NULL : json_object_new_int64(go->gc_cycles - go->gc_forced));
    if (go->pause_count == STORE_NONE) {
        json_object_object_add(o, "/gc/pauses:seconds", NULL);
        return o;
    }
    p = json_object_new_object();
    b = json_object_new_object();
    if (!p || !b) {
        json_object_put(p);
        json_object_put(b);
        json_object_put(o);
        return NULL;
    }
    json_object_object_add(p, "count", json_object_new_int64(go->pause_count));
    text_format_double(key, sizeof key, (double)go->pause_total_ns / 1e9);
    json_object_object_add(p, "sum", json_object_new_double_s((double)go->pause_total_ns / 1e9, key));
    for (int i = 0; i < STORE_PAUSE_BUCKETS; i++) {
        snprintf(key, sizeof key, "%g", (double)store_pause_bounds_ns[i] / 1e9);
        json_object_object_add(b, key, json_object_new_int64(go->pause_le[i]));
    }
    json_object_object_add(b, "+Inf", json_object_new_int64(go->pause_count));
    json_object_object_add(p, "buckets", b);
    json_object_object_add(o, "/gc/pauses:seconds", p);
    return o;
}
