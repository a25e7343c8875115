/*
** storage/store_gonames.c -- a task's figures under Go's runtime/metrics
** names: read from its row, its GC cycles and its last sample
** (store_task_go_t; docs/metrics.md says which column is which name) into
** the read model; render/ prints them ("runtime_metrics").
*/
#include "storage/store_int.h"

#include <string.h>

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
