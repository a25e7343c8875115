/*
** storage/store_profile.c -- heap profile snapshots (heap_profiles).
*/
#include "storage/store_int.h"

#include <stdlib.h>
#include <string.h>

int store_profile_insert(store_t *st, const store_profile_t *p)
{
    static const char what[] = "inserting a heap profile";
    static const char sql[] =
        "INSERT INTO heap_profiles (task_id, cycle, final, site, rate, alloc_objects,"
        " alloc_bytes, inuse_objects, inuse_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        " ON CONFLICT (task_id, cycle, site) DO UPDATE SET final = max(final, excluded.final),"
        " rate = excluded.rate, alloc_objects = excluded.alloc_objects,"
        " alloc_bytes = excluded.alloc_bytes, inuse_objects = excluded.inuse_objects,"
        " inuse_bytes = excluded.inuse_bytes";
    sqlite3_stmt *stmt = NULL;
    bool own_txn;
    int rc = 0;

    if (!st)
        return STORE_EUSAGE;
    if (st->readonly)
        return store__fail(st, STORE_EUSAGE, "%s: %s is open read-only", what, st->path);
    if (!p || p->task_id <= 0 || (p->nsites && !p->sites))
        return store__fail(st, STORE_EUSAGE, "%s: no task or no sites", what);
    own_txn = sqlite3_get_autocommit(st->db) != 0;
    if (own_txn && sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return store__db_fail(st, what);
    if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        rc = store__db_fail(st, what);
        goto out_end;
    }
    for (size_t i = 0; i < p->nsites && rc == 0; i++) {
        const store_profile_site_t *s = &p->sites[i];
        int brc = sqlite3_bind_int64(stmt, 1, p->task_id);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 2, p->cycle);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 3, p->final ? 1 : 0);
        brc = brc ? brc : sqlite3_bind_text(stmt, 4, s->site ? s->site : "(unknown)", -1,
                                            SQLITE_STATIC);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 5, p->rate);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 6, s->alloc_objects);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 7, s->alloc_bytes);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 8, s->inuse_objects);
        brc = brc ? brc : sqlite3_bind_int64(stmt, 9, s->inuse_bytes);
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

void store_profile_free(store_profile_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nsites; i++)
        free(p->sites[i].site);
    free(p->sites);
    memset(p, 0, sizeof *p);
}

/* The task (id, seq) of the run to profile: `seq`, or with seq < 0 the
** only task of the run with a profile. */
static int find_task(store_t *st, int64_t run_id, int64_t seq, int64_t *task_id,
                     int64_t *seq_out)
{
    static const char run_sql[] = "SELECT 1 FROM runs WHERE id = ?1";
    static const char task_sql[] = "SELECT id, seq FROM tasks WHERE run_id = ?1 AND seq = ?2";
    static const char only_sql[] =
        "SELECT t.id, t.seq FROM tasks t WHERE t.run_id = ?1 AND EXISTS"
        " (SELECT 1 FROM heap_profiles p WHERE p.task_id = t.id) ORDER BY t.seq";
    sqlite3_stmt *stmt;
    int rc = 0, n = 0;

    if (sqlite3_prepare_v2(st->db, run_sql, -1, &stmt, NULL) != SQLITE_OK)
        return store__db_fail(st, "finding the run");
    sqlite3_bind_int64(stmt, 1, run_id);
    rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE
                   ? store__fail(st, STORE_ENOTFOUND, "no run %lld", (long long)run_id)
                   : store__db_fail(st, "finding the run");

    if (sqlite3_prepare_v2(st->db, seq >= 0 ? task_sql : only_sql, -1, &stmt, NULL) !=
        SQLITE_OK)
        return store__db_fail(st, "finding the task");
    sqlite3_bind_int64(stmt, 1, run_id);
    if (seq >= 0)
        sqlite3_bind_int64(stmt, 2, seq);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n++ == 0) {
            *task_id = sqlite3_column_int64(stmt, 0);
            *seq_out = sqlite3_column_int64(stmt, 1);
        }
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE)
        return store__db_fail(st, "finding the task");
    if (n == 0 && seq >= 0)
        return store__fail(st, STORE_ENOTFOUND, "run %lld has no task %lld",
                           (long long)run_id, (long long)seq);
    if (n == 0)
        return store__fail(st, STORE_ENOTFOUND, "run %lld has no heap profile",
                           (long long)run_id);
    if (n > 1)
        return store__fail(st, STORE_EUSAGE,
                           "run %lld has %d tasks with a heap profile: choose one by its "
                           "SEQ (heapsim show %lld)",
                           (long long)run_id, n, (long long)run_id);
    return 0;
}

int store_profile_load(store_t *st, int64_t run_id, int64_t seq, int64_t at_cycle,
                       store_profile_t *out)
{
    static const char cycle_sql[] =
        "SELECT max(cycle) FROM heap_profiles WHERE task_id = ?1 AND cycle <= ?2";
    static const char rows_sql[] =
        "SELECT site, rate, final, alloc_objects, alloc_bytes, inuse_objects, inuse_bytes"
        " FROM heap_profiles WHERE task_id = ?1 AND cycle = ?2 ORDER BY site";
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (!st || !out)
        return STORE_EUSAGE;
    memset(out, 0, sizeof *out);
    if ((rc = find_task(st, run_id, seq, &out->task_id, &out->seq)) != 0)
        goto out_fail;

    if (sqlite3_prepare_v2(st->db, cycle_sql, -1, &stmt, NULL) != SQLITE_OK) {
        rc = store__db_fail(st, "finding the profile");
        goto out_fail;
    }
    sqlite3_bind_int64(stmt, 1, out->task_id);
    sqlite3_bind_int64(stmt, 2, at_cycle < 0 ? INT64_MAX : at_cycle);
    rc = sqlite3_step(stmt);
    bool found = rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL;
    if (found)
        out->cycle = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    if (!found) {
        rc = at_cycle < 0
                 ? store__fail(st, STORE_ENOTFOUND, "task %lld of run %lld has no heap profile",
                               (long long)out->seq, (long long)run_id)
                 : store__fail(st, STORE_ENOTFOUND,
                               "task %lld of run %lld has no heap profile taken at or "
                               "before GC cycle %lld",
                               (long long)out->seq, (long long)run_id, (long long)at_cycle);
        goto out_fail;
    }

    if (sqlite3_prepare_v2(st->db, rows_sql, -1, &stmt, NULL) != SQLITE_OK) {
        rc = store__db_fail(st, "reading the profile");
        goto out_fail;
    }
    sqlite3_bind_int64(stmt, 1, out->task_id);
    sqlite3_bind_int64(stmt, 2, out->cycle);
    size_t cap = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (out->nsites == cap) {
            cap = cap ? cap * 2 : 16;
            store_profile_site_t *s = realloc(out->sites, cap * sizeof *s);
            if (!s) {
                rc = store__fail(st, STORE_EDB, "out of memory");
                goto out_finalize;
            }
            out->sites = s;
        }
        const char *site = (const char *)sqlite3_column_text(stmt, 0);
        store_profile_site_t *s = &out->sites[out->nsites];
        s->site = strdup(site ? site : "");
        if (!s->site) {
            rc = store__fail(st, STORE_EDB, "out of memory");
            goto out_finalize;
        }
        out->nsites++;
        out->rate = sqlite3_column_int64(stmt, 1);
        out->final = sqlite3_column_int64(stmt, 2);
        s->alloc_objects = sqlite3_column_int64(stmt, 3);
        s->alloc_bytes = sqlite3_column_int64(stmt, 4);
        s->inuse_objects = sqlite3_column_int64(stmt, 5);
        s->inuse_bytes = sqlite3_column_int64(stmt, 6);
    }
    if (rc != SQLITE_DONE) {
        rc = store__db_fail(st, "reading the profile");
        goto out_finalize;
    }
    sqlite3_finalize(stmt);
    return 0;
out_finalize:
    sqlite3_finalize(stmt);
out_fail:
    store_profile_free(out);
    return rc;
}

int store_profile_cycles(store_t *st, int64_t run_id, int64_t seq, int64_t **cycles_p,
                         size_t *n_p, int64_t *seq_out)
{
    static const char sql[] =
        "SELECT DISTINCT cycle FROM heap_profiles WHERE task_id = ?1 ORDER BY cycle";
    sqlite3_stmt *stmt;
    int64_t task_id, *cycles = NULL;
    size_t n = 0, cap = 0;
    int rc;

    if (!st || !cycles_p || !n_p || !seq_out)
        return STORE_EUSAGE;
    *cycles_p = NULL;
    *n_p = 0;
    if ((rc = find_task(st, run_id, seq, &task_id, seq_out)) != 0)
        return rc;
    if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return store__db_fail(st, "reading the profile's cycles");
    sqlite3_bind_int64(stmt, 1, task_id);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            int64_t *c = realloc(cycles, cap * sizeof *c);
            if (!c) {
                sqlite3_finalize(stmt);
                free(cycles);
                return store__fail(st, STORE_EDB, "out of memory");
            }
            cycles = c;
        }
        cycles[n++] = sqlite3_column_int64(stmt, 0);
    }
    if (rc != SQLITE_DONE) {
        rc = store__db_fail(st, "reading the profile's cycles");
        sqlite3_finalize(stmt);
        free(cycles);
        return rc;
    }
    sqlite3_finalize(stmt);
    if (n == 0) {
        free(cycles);
        return store__fail(st, STORE_ENOTFOUND, "task %lld of run %lld has no heap profile",
                           (long long)*seq_out, (long long)run_id);
    }
    *cycles_p = cycles;
    *n_p = n;
    return 0;
}
