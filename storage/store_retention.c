/*
** storage/store_retention.c -- why a task's objects are alive: heap
** snapshots' analyses (retention, retention_sites, goroutine_leaks).
*/
#include "storage/store_int.h"

#include <stdlib.h>
#include <string.h>

static int bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
    return sqlite3_bind_text(stmt, i, s ? s : "", -1, SQLITE_STATIC);
}

int store_retention_insert(store_t *st, const store_retention_t *r)
{
    static const char what[] = "inserting a heap snapshot's analysis";
    static const char del_sql[] =
        "DELETE FROM retention WHERE task_id = ?1 AND cycle = ?2 AND final = ?3";
    static const char snap_sql[] =
        "INSERT INTO retention (task_id, cycle, final, worker, objects, bytes, pause_ns,"
        " min_cycles, pprof) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
    static const char site_sql[] =
        "INSERT INTO retention_sites (task_id, cycle, final, site, root_group, root, roots,"
        " objects, site_objects, retained_bytes, holder, holder_retained_bytes, path)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
    static const char leak_sql[] =
        "INSERT INTO goroutine_leaks (task_id, cycle, final, label, reason, count, min_cycles,"
        " max_cycles) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
    sqlite3_stmt *stmt = NULL;
    bool own_txn;
    int rc = 0, brc;

    if (!st)
        return STORE_EUSAGE;
    if (st->readonly)
        return store__fail(st, STORE_EUSAGE, "%s: %s is open read-only", what, st->path);
    if (!r || r->task_id <= 0 || (r->nsites && !r->sites) || (r->nleaks && !r->leaks))
        return store__fail(st, STORE_EUSAGE, "%s: no task", what);
    own_txn = sqlite3_get_autocommit(st->db) != 0;
    if (own_txn && sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return store__db_fail(st, what);

    /* The snapshot (its rows go with it: ON DELETE CASCADE). */
    if (sqlite3_prepare_v2(st->db, del_sql, -1, &stmt, NULL) != SQLITE_OK) {
        rc = store__db_fail(st, what);
        goto out_end;
    }
    sqlite3_bind_int64(stmt, 1, r->task_id);
    sqlite3_bind_int64(stmt, 2, r->cycle);
    sqlite3_bind_int64(stmt, 3, r->final);
    if (sqlite3_step(stmt) != SQLITE_DONE)
        rc = store__db_fail(st, what);
    sqlite3_finalize(stmt);
    if (rc)
        goto out_end;
    if (sqlite3_prepare_v2(st->db, snap_sql, -1, &stmt, NULL) != SQLITE_OK) {
        rc = store__db_fail(st, what);
        goto out_end;
    }
    brc = sqlite3_bind_int64(stmt, 1, r->task_id);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 2, r->cycle);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 3, r->final);
    brc = brc ? brc : (r->worker ? bind_text(stmt, 4, r->worker) : sqlite3_bind_null(stmt, 4));
    brc = brc ? brc : sqlite3_bind_int64(stmt, 5, r->objects);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 6, r->bytes);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 7, r->pause_ns);
    brc = brc ? brc : sqlite3_bind_int64(stmt, 8, r->min_cycles);
    brc = brc ? brc : sqlite3_bind_blob64(stmt, 9, r->pprof ? (const void *)r->pprof : "",
                                          r->pprof_len, SQLITE_STATIC);
    if (brc != SQLITE_OK || sqlite3_step(stmt) != SQLITE_DONE)
        rc = store__db_fail(st, what);
    sqlite3_finalize(stmt);
    if (rc)
        goto out_end;

    if (sqlite3_prepare_v2(st->db, site_sql, -1, &stmt, NULL) != SQLITE_OK) {
        rc = store__db_fail(st, what);
        goto out_end;
    }
    for (size_t i = 0; i < r->nsites && rc == 0; i++) {
        const store_retention_site_t *s = &r->sites[i];
        brc = sqlite3_bind_int64(stmt, 1, r->task_id);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 2, r->cycle);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 3, r->final);
        brc = brc ? brc : bind_text(stmt, 4, s->site);
        brc = brc ? brc : bind_text(stmt, 5, s->root_group);
        brc = brc ? brc : bind_text(stmt, 6, s->root);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 7, s->roots);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 8, s->objects);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 9, s->site_objects);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 10, s->retained_bytes);
        brc = brc ? brc : bind_text(stmt, 11, s->holder);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 12, s->holder_retained_bytes);
        brc = brc ? brc : bind_text(stmt, 13, s->path);
        if (brc != SQLITE_OK || sqlite3_step(stmt) != SQLITE_DONE)
            rc = store__db_fail(st, what);
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    if (rc)
        goto out_end;

    if (sqlite3_prepare_v2(st->db, leak_sql, -1, &stmt, NULL) != SQLITE_OK) {
        rc = store__db_fail(st, what);
        goto out_end;
    }
    for (size_t i = 0; i < r->nleaks && rc == 0; i++) {
        const store_goroutine_leak_t *l = &r->leaks[i];
        brc = sqlite3_bind_int64(stmt, 1, r->task_id);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 2, r->cycle);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 3, r->final);
        brc = brc ? brc : bind_text(stmt, 4, l->label);
        brc = brc ? brc : bind_text(stmt, 5, l->reason);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 6, l->count);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 7, l->min_cycles);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 8, l->max_cycles);
        if (brc != SQLITE_OK || sqlite3_step(stmt) != SQLITE_DONE)
            rc = store__db_fail(st, what);
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
out_end:
    if (own_txn)
        sqlite3_exec(st->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    return rc;
}

static char *column_dup(sqlite3_stmt *stmt, int i, bool *oom)
{
    const char *t = (const char *)sqlite3_column_text(stmt, i);
    char *s = strdup(t ? t : "");
    if (!s)
        *oom = true;
    return s;
}

void store_retention_free(store_retention_t *r, size_t n)
{
    for (size_t k = 0; r && k < n; k++) {
        for (size_t i = 0; i < r[k].nsites; i++) {
            store_retention_site_t *s = &r[k].sites[i];
            free(s->site);
            free(s->root_group);
            free(s->root);
            free(s->holder);
            free(s->path);
        }
        for (size_t i = 0; i < r[k].nleaks; i++) {
            free(r[k].leaks[i].label);
            free(r[k].leaks[i].reason);
        }
        free(r[k].sites);
        free(r[k].leaks);
        free(r[k].worker);
        free(r[k].pprof);
    }
    free(r);
}

/* The rows of snapshot r (task, cycle, final set). */
static int load_rows(store_t *st, store_retention_t *r)
{
    static const char site_sql[] =
        "SELECT site, root_group, root, roots, objects, site_objects, retained_bytes, holder,"
        " holder_retained_bytes, path FROM retention_sites"
        " WHERE task_id = ?1 AND cycle = ?2 AND final = ?3 ORDER BY retained_bytes DESC, site";
    static const char leak_sql[] =
        "SELECT label, reason, count, min_cycles, max_cycles FROM goroutine_leaks"
        " WHERE task_id = ?1 AND cycle = ?2 AND final = ?3 ORDER BY count DESC, label, reason";
    sqlite3_stmt *stmt;
    bool oom = false;
    int rc;
    size_t cap = 0;

    if (sqlite3_prepare_v2(st->db, site_sql, -1, &stmt, NULL) != SQLITE_OK)
        return store__db_fail(st, "reading a heap snapshot's sites");
    sqlite3_bind_int64(stmt, 1, r->task_id);
    sqlite3_bind_int64(stmt, 2, r->cycle);
    sqlite3_bind_int64(stmt, 3, r->final);
    while (!oom && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (r->nsites == cap) {
            cap = cap ? 2 * cap : 16;
            store_retention_site_t *v = realloc(r->sites, cap * sizeof *v);
            if (!v) {
                oom = true;
                break;
            }
            r->sites = v;
        }
        store_retention_site_t *s = &r->sites[r->nsites++];
        memset(s, 0, sizeof *s);
        s->site = column_dup(stmt, 0, &oom);
        s->root_group = column_dup(stmt, 1, &oom);
        s->root = column_dup(stmt, 2, &oom);
        s->roots = sqlite3_column_int64(stmt, 3);
        s->objects = sqlite3_column_int64(stmt, 4);
        s->site_objects = sqlite3_column_int64(stmt, 5);
        s->retained_bytes = sqlite3_column_int64(stmt, 6);
        s->holder = column_dup(stmt, 7, &oom);
        s->holder_retained_bytes = sqlite3_column_int64(stmt, 8);
        s->path = column_dup(stmt, 9, &oom);
    }
    sqlite3_finalize(stmt);
    if (oom)
        return store__fail(st, STORE_EDB, "out of memory");
    if (rc != SQLITE_DONE)
        return store__db_fail(st, "reading a heap snapshot's sites");

    if (sqlite3_prepare_v2(st->db, leak_sql, -1, &stmt, NULL) != SQLITE_OK)
        return store__db_fail(st, "reading a heap snapshot's goroutines");
    sqlite3_bind_int64(stmt, 1, r->task_id);
    sqlite3_bind_int64(stmt, 2, r->cycle);
    sqlite3_bind_int64(stmt, 3, r->final);
    cap = 0;
    while (!oom && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (r->nleaks == cap) {
            cap = cap ? 2 * cap : 8;
            store_goroutine_leak_t *v = realloc(r->leaks, cap * sizeof *v);
            if (!v) {
                oom = true;
                break;
            }
            r->leaks = v;
        }
        store_goroutine_leak_t *l = &r->leaks[r->nleaks++];
        l->label = column_dup(stmt, 0, &oom);
        l->reason = column_dup(stmt, 1, &oom);
        l->count = sqlite3_column_int64(stmt, 2);
        l->min_cycles = sqlite3_column_int64(stmt, 3);
        l->max_cycles = sqlite3_column_int64(stmt, 4);
    }
    sqlite3_finalize(stmt);
    if (oom)
        return store__fail(st, STORE_EDB, "out of memory");
    if (rc != SQLITE_DONE)
        return store__db_fail(st, "reading a heap snapshot's goroutines");
    return 0;
}

int store_retention_load(store_t *st, int64_t run_id, int64_t seq, store_retention_t **out,
                         size_t *n)
{
    static const char task_sql[] =
        "SELECT t.id FROM tasks t WHERE t.run_id = ?1 AND t.seq = ?2";
    static const char snap_sql[] =
        "SELECT cycle, final, worker, objects, bytes, pause_ns, min_cycles, pprof"
        " FROM retention WHERE task_id = ?1 ORDER BY cycle, final";
    sqlite3_stmt *stmt;
    store_retention_t *v = NULL;
    size_t count = 0, cap = 0;
    int64_t task_id = 0;
    bool oom = false;
    int rc;

    if (!st || !out || !n || seq < 0)
        return STORE_EUSAGE;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(st->db, task_sql, -1, &stmt, NULL) != SQLITE_OK)
        return store__db_fail(st, "finding the task");
    sqlite3_bind_int64(stmt, 1, run_id);
    sqlite3_bind_int64(stmt, 2, seq);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        task_id = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? store__fail(st, STORE_ENOTFOUND, "run %lld has no task %lld",
                                               (long long)run_id, (long long)seq)
                                 : store__db_fail(st, "finding the task");

    if (sqlite3_prepare_v2(st->db, snap_sql, -1, &stmt, NULL) != SQLITE_OK)
        return store__db_fail(st, "reading the heap snapshots");
    sqlite3_bind_int64(stmt, 1, task_id);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 4;
            store_retention_t *w = realloc(v, cap * sizeof *w);
            if (!w) {
                oom = true;
                break;
            }
            v = w;
        }
        store_retention_t *r = &v[count++];
        memset(r, 0, sizeof *r);
        r->task_id = task_id;
        r->cycle = sqlite3_column_int64(stmt, 0);
        r->final = sqlite3_column_int64(stmt, 1);
        if (sqlite3_column_type(stmt, 2) != SQLITE_NULL)
            r->worker = column_dup(stmt, 2, &oom);
        r->objects = sqlite3_column_int64(stmt, 3);
        r->bytes = sqlite3_column_int64(stmt, 4);
        r->pause_ns = sqlite3_column_int64(stmt, 5);
        r->min_cycles = sqlite3_column_int64(stmt, 6);
        int len = sqlite3_column_bytes(stmt, 7);
        const void *blob = sqlite3_column_blob(stmt, 7);
        r->pprof = malloc(len > 0 ? (size_t)len : 1);
        if (!r->pprof) {
            oom = true;
            break;
        }
        if (len > 0)
            memcpy(r->pprof, blob, (size_t)len);
        r->pprof_len = (size_t)(len > 0 ? len : 0);
    }
    sqlite3_finalize(stmt);
    if (oom)
        rc = store__fail(st, STORE_EDB, "out of memory");
    else if (rc != SQLITE_DONE)
        rc = store__db_fail(st, "reading the heap snapshots");
    else
        rc = 0;
    for (size_t k = 0; rc == 0 && k < count; k++)
        rc = load_rows(st, &v[k]);
    if (rc) {
        store_retention_free(v, count);
        return rc;
    }
    *out = v;
    *n = count;
    return 0;
}
