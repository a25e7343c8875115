/*
** storage/store_resume.c -- what a resumed run needs of its stored self
** (store_resume_load in store.h): read-only, one run.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/store_int.h"

#include "base/clock.h"

static char *dup_col(sqlite3_stmt *s, int col)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    return strdup(t ? (const char *)t : "");
}

/* An integer column, STORE_NONE when NULL. */
static int64_t int_col(sqlite3_stmt *s, int col)
{
    return sqlite3_column_type(s, col) == SQLITE_INTEGER ? sqlite3_column_int64(s, col)
                                                          : STORE_NONE;
}

void store_resume_free(store_resume_t *r)
{
    if (!r)
        return;
    free(r->token);
    free(r->scenario_path);
    free(r->scenario_text);
    free(r->settings_json);
    free(r->status);
    free(r->owner);
    free(r->task_ids);
    free(r->task_done);
    for (size_t i = 0; i < r->nworkers; i++)
        free(r->workers[i]);
    free(r->workers);
    memset(r, 0, sizeof *r);
}

int store_resume_load(store_t *st, int64_t run_id, store_resume_t *r)
{
    static const char run_sql[] =
        "SELECT token, scenario_path, scenario_text, settings_json, status,"
        " owner_host, owner_boot, owner_pid, owner_started, heartbeat_unix_ns"
        " FROM runs WHERE id = ?1";
    static const char tasks_sql[] =
        "SELECT id, status = 'done' FROM tasks WHERE run_id = ?1 ORDER BY seq";
    static const char workers_sql[] = "SELECT name FROM workers WHERE run_id = ?1";
    sqlite3_stmt *s = NULL;
    int rc = 0;

    memset(r, 0, sizeof *r);
    if (!st)
        return STORE_EUSAGE;
    if (sqlite3_prepare_v2(st->db, run_sql, -1, &s, NULL) != SQLITE_OK)
        goto out_db;
    sqlite3_bind_int64(s, 1, run_id);
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_finalize(s);
        return store__fail(st, STORE_ENOTFOUND, "no run %lld", (long long)run_id);
    }
    r->token = dup_col(s, 0);
    r->scenario_path = dup_col(s, 1);
    r->scenario_text = dup_col(s, 2);
    r->settings_json = dup_col(s, 3);
    r->status = dup_col(s, 4);
    store__mark_t mark = {
        .status = r->status,
        .owner_host = (const char *)sqlite3_column_text(s, 5),
        .owner_boot = (const char *)sqlite3_column_text(s, 6),
        .owner_pid = int_col(s, 7), .owner_started = int_col(s, 8),
        .heartbeat_unix_ns = int_col(s, 9),
    };
    char why[PROC_HOST_MAX + 128];
    bool gone = store__owner_gone(&mark, clock_unix_ns(), why, sizeof why);
    if (mark.owner_pid != STORE_NONE) {
        char owner[PROC_HOST_MAX + 64];
        snprintf(owner, sizeof owner, "pid %lld on %s", (long long)mark.owner_pid,
                 mark.owner_host ? mark.owner_host : "an unknown host");
        r->owner = strdup(owner);
    }
    if (gone) {
        free(r->status);
        r->status = strdup("interrupted");
    }
    sqlite3_finalize(s);
    if (!r->token || !r->scenario_path || !r->scenario_text || !r->settings_json ||
        !r->status || (mark.owner_pid != STORE_NONE && !r->owner))
        goto out_nomem;

    if (sqlite3_prepare_v2(st->db, tasks_sql, -1, &s, NULL) != SQLITE_OK)
        goto out_db;
    sqlite3_bind_int64(s, 1, run_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t *ids = realloc(r->task_ids, (r->ntasks + 1) * sizeof *ids);
        if (ids)
            r->task_ids = ids;
        bool *done = realloc(r->task_done, (r->ntasks + 1) * sizeof *done);
        if (done)
            r->task_done = done;
        if (!ids || !done)
            goto out_nomem_stmt;
        r->task_ids[r->ntasks] = sqlite3_column_int64(s, 0);
        r->task_done[r->ntasks] = sqlite3_column_int(s, 1) != 0;
        r->ntasks++;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        goto out_db;

    if (sqlite3_prepare_v2(st->db, workers_sql, -1, &s, NULL) != SQLITE_OK)
        goto out_db;
    sqlite3_bind_int64(s, 1, run_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char **w = realloc(r->workers, (r->nworkers + 1) * sizeof *w);
        if (!w)
            goto out_nomem_stmt;
        r->workers = w;
        if (!(r->workers[r->nworkers] = dup_col(s, 0)))
            goto out_nomem_stmt;
        r->nworkers++;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        goto out_db;
    return 0;

out_nomem_stmt:
    sqlite3_finalize(s);
out_nomem:
    store_resume_free(r);
    return store__fail(st, STORE_EDB, "loading run %lld: out of memory", (long long)run_id);
out_db:
    rc = store__fail(st, STORE_EDB, "loading run %lld: %s", (long long)run_id,
                     sqlite3_errmsg(st->db));
    store_resume_free(r);
    return rc;
}
