/*
** storage/store_read.c -- the read model: runs, one run with its tasks and
** sweep points, a task's time series, as structs (store_model.h).
**
** Nothing read from the file is trusted (store_int.h): a NULL is
** STORE_NONE or NAN, text is copied as it is. A run is read inside one
** savepoint, so a run being written is seen at one instant. Every query
** here goes through an index (docs/schema.md lists which): `show` and
** `report` must answer in well under a second on a file of ten million
** samples, so a task's samples are never read whole when there are more
** than the chart can show -- one index seek per point of the chart.
*/
#include "storage/store_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"

/* ---- columns --------------------------------------------------------- */

static char *col_strdup(sqlite3_stmt *stmt, int col)
{
    const unsigned char *text;

    if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
        return NULL;
    text = sqlite3_column_text(stmt, col);
    return text ? strdup((const char *)text) : NULL;
}

/* An integer column (a REAL is truncated, text that is not a number and
** NULL are STORE_NONE). */
static int64_t col_int(sqlite3_stmt *stmt, int col)
{
    switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
        return sqlite3_column_int64(stmt, col);
    case SQLITE_FLOAT: {
        double v = sqlite3_column_double(stmt, col);
        return isfinite(v) && fabs(v) < 9e18 ? (int64_t)v : STORE_NONE;
    }
    default:
        return STORE_NONE;
    }
}

static double col_double(sqlite3_stmt *stmt, int col)
{
    int type = sqlite3_column_type(stmt, col);

    if (type == SQLITE_INTEGER || type == SQLITE_FLOAT)
        return sqlite3_column_double(stmt, col);
    return NAN;
}

static double int_figure(int64_t v)
{
    return v == STORE_NONE ? NAN : (double)v;
}

static int prepare(store_t *st, const char *sql, sqlite3_stmt **stmt)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK)
        return store__db_fail(st, "reading the history");
    return 0;
}

static int step_fail(store_t *st, sqlite3_stmt *stmt)
{
    int rc = store__db_fail(st, "reading the history");

    sqlite3_finalize(stmt);
    return rc;
}

/* ---- runs ------------------------------------------------------------ */

#define RUN_COLUMNS                                                              \
    "r.id, r.token, r.name, r.status, r.host, r.scenario_path, r.command_line,"  \
    " r.settings_json, r.error, r.started_unix_ns, r.ended_unix_ns, r.workers,"  \
    " (SELECT count(*) FROM workers w WHERE w.run_id = r.id),"                   \
    " (SELECT count(*) FROM tasks t WHERE t.run_id = r.id),"                     \
    " (SELECT count(*) FROM tasks t WHERE t.run_id = r.id AND t.status = 'done')," \
    " (SELECT count(*) FROM tasks t WHERE t.run_id = r.id AND t.status = 'failed'),"  \
    " r.owner_host, r.owner_boot, r.owner_pid, r.owner_started, r.heartbeat_unix_ns"

/* ---- liveness -------------------------------------------------------- */

bool store__owner_gone(const store__mark_t *m, int64_t now_unix_ns, char *why,
                       size_t size)
{
    proc_id_t owner = {.pid = m->owner_pid, .started_ticks = -1}, self;

    if (!m->status || strcmp(m->status, "running") != 0)
        return false;
    if (m->owner_pid == STORE_NONE) {
        snprintf(why, size, "no liveness mark (written before schema version 6)");
        return true;
    }
    snprintf(owner.host, sizeof owner.host, "%s", m->owner_host ? m->owner_host : "");
    snprintf(owner.boot, sizeof owner.boot, "%s", m->owner_boot ? m->owner_boot : "");
    if (m->owner_started != STORE_NONE)
        owner.started_ticks = m->owner_started;
    proc_self(&self);
    if (owner.boot[0] && self.boot[0] && strcmp(owner.host, self.host) == 0) {
        if (strcmp(owner.boot, self.boot) != 0) {
            snprintf(why, size, "its owner, pid %lld on %s, went with an earlier boot",
                     (long long)m->owner_pid, owner.host);
            return true;
        }
        if (proc_alive(&owner))
            return false;
        snprintf(why, size, "its owner, pid %lld on %s, is gone", (long long)m->owner_pid,
                 owner.host);
        return true;
    }
    if (m->heartbeat_unix_ns != STORE_NONE &&
        now_unix_ns - m->heartbeat_unix_ns <= STORE_STALE_NS)
        return false;
    if (m->heartbeat_unix_ns == STORE_NONE)
        snprintf(why, size, "no heartbeat from its owner, pid %lld on %s",
                 (long long)m->owner_pid, owner.host);
    else
        snprintf(why, size, "no heartbeat from its owner, pid %lld on %s, for %lld s",
                 (long long)m->owner_pid, owner.host,
                 (long long)((now_unix_ns - m->heartbeat_unix_ns) / 1000000000));
    return true;
}

/* The current row (RUN_COLUMNS) into run; -1 when out of memory. A
** 'running' run whose owner is gone is "interrupted" (store.h). */
static int run_row(sqlite3_stmt *stmt, store_run_info_t *run)
{
    memset(run, 0, sizeof *run);
    run->run_id = sqlite3_column_int64(stmt, 0);
    run->token = col_strdup(stmt, 1);
    run->name = col_strdup(stmt, 2);
    run->status = col_strdup(stmt, 3);
    run->host = col_strdup(stmt, 4);
    run->scenario_path = col_strdup(stmt, 5);
    run->command_line = col_strdup(stmt, 6);
    run->settings_json = col_strdup(stmt, 7);
    run->error = col_strdup(stmt, 8);
    run->started_unix_ns = col_int(stmt, 9);
    run->ended_unix_ns = col_int(stmt, 10);
    run->workers_planned = col_int(stmt, 11);
    run->workers_joined = col_int(stmt, 12);
    run->tasks_total = col_int(stmt, 13);
    run->tasks_done = col_int(stmt, 14);
    run->tasks_failed = col_int(stmt, 15);
    run->owner_host = col_strdup(stmt, 16);
    run->owner_pid = col_int(stmt, 18);
    run->heartbeat_unix_ns = col_int(stmt, 20);

    store__mark_t mark = {
        .status = run->status, .owner_host = run->owner_host,
        .owner_boot = (const char *)sqlite3_column_text(stmt, 17),
        .owner_pid = run->owner_pid, .owner_started = col_int(stmt, 19),
        .heartbeat_unix_ns = run->heartbeat_unix_ns,
    };
    char why[PROC_HOST_MAX + 128];
    if (store__owner_gone(&mark, clock_unix_ns(), why, sizeof why)) {
        char *status = strdup("interrupted");
        if (!status)
            return -1;
        free(run->status);
        run->status = status;
        run->owner_gone = true;
        if (!run->error && !(run->error = strdup(why)))
            return -1;
    }
    return 0;
}

int store_runs_read(store_t *st, const store_runs_filter_t *filter,
                    store_run_info_t **runs_p, size_t *n_p)
{
    static const char sql[] =
        "SELECT " RUN_COLUMNS " FROM runs r"
        " WHERE (?1 IS NULL OR r.name = ?1)"
        "   AND (?2 IS NULL OR r.status = ?2 OR r.status = 'running')"
        "   AND (?3 IS NULL OR r.started_unix_ns >= ?3)"
        " ORDER BY r.started_unix_ns DESC, r.id DESC LIMIT ?4";
    store_run_info_t *runs = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *stmt;
    int rc;

    if (!st || !runs_p || !n_p)
        return STORE_EUSAGE;
    *runs_p = NULL;
    *n_p = 0;
    if ((rc = prepare(st, sql, &stmt)))
        return rc;
    if (filter && filter->scenario)
        sqlite3_bind_text(stmt, 1, filter->scenario, -1, SQLITE_STATIC);
    if (filter && filter->status)
        sqlite3_bind_text(stmt, 2, filter->status, -1, SQLITE_STATIC);
    if (filter && filter->since_unix_ns != STORE_NONE)
        sqlite3_bind_int64(stmt, 3, filter->since_unix_ns);
    /* A status filter is the status shown (a 'running' run may show as
    ** 'interrupted'): judged per row here, so the limit is counted here. */
    const char *want = filter ? filter->status : NULL;
    int limit = filter && filter->limit > 0 ? filter->limit : -1;
    sqlite3_bind_int64(stmt, 4, want ? -1 : limit);
    while ((limit < 0 || n < (size_t)limit) && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            store_run_info_t *grown = realloc(runs, ncap * sizeof *runs);
            if (!grown) {
                sqlite3_finalize(stmt);
                store_runs_free(&runs, n);
                return store__fail(st, STORE_EDB, "out of memory");
            }
            runs = grown;
            cap = ncap;
        }
        if (run_row(stmt, &runs[n]) != 0) {
            store_run_info_clear(&runs[n]);
            sqlite3_finalize(stmt);
            store_runs_free(&runs, n);
            return store__fail(st, STORE_EDB, "out of memory");
        }
        if (want && (!runs[n].status || strcmp(runs[n].status, want) != 0)) {
            store_run_info_clear(&runs[n]);
            continue;
        }
        n++;
    }
    if (limit >= 0 && n == (size_t)limit)
        rc = SQLITE_DONE;
    if (rc != SQLITE_DONE) {
        store_runs_free(&runs, n);
        return step_fail(st, stmt);
    }
    sqlite3_finalize(stmt);
    *runs_p = runs;
    *n_p = n;
    return 0;
}

/* ---- one run --------------------------------------------------------- */

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* The nearest-rank percentile p (0..100) of n sorted values. */
static double percentile(const int64_t *sorted, size_t n, double p)
{
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);

    if (rank < 1)
        rank = 1;
    return (double)sorted[rank - 1];
}

/* The task's pause percentiles and GC CPU share, from its cycles. */
static int task_gc(store_t *st, sqlite3_stmt *stmt, store_task_view_t *t)
{
    int64_t *pauses = NULL;
    size_t n = 0, cap = 0;
    double gc_cpu_ns = 0;
    int rc;

    sqlite3_bind_int64(stmt, 1, t->task_id);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int64_t stw = col_int(stmt, 0);
        double cpu = col_double(stmt, 1);

        if (!isnan(cpu))
            gc_cpu_ns += cpu;
        if (stw == STORE_NONE)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            int64_t *grown = realloc(pauses, ncap * sizeof *pauses);
            if (!grown) {
                free(pauses);
                sqlite3_reset(stmt);
                return store__fail(st, STORE_EDB, "out of memory");
            }
            pauses = grown;
            cap = ncap;
        }
        pauses[n++] = stw;
    }
    if (rc != SQLITE_DONE) {
        rc = store__db_fail(st, "reading GC cycles");
        free(pauses);
        sqlite3_reset(stmt);
        return rc;
    }
    sqlite3_reset(stmt);
    if (n > 0) {
        qsort(pauses, n, sizeof *pauses, cmp_int64);
        t->fig[STORE_FIG_pause_p50_ns] = percentile(pauses, n, 50);
        t->fig[STORE_FIG_pause_p99_ns] = percentile(pauses, n, 99);
    } else if (t->fig[STORE_FIG_gc_cycles] == 0) {
        /* No cycle at all: no pause. (A task whose heap collected while
        ** another task's worker ran the cycle has cycles and no rows of
        ** its own: its percentiles are unknown, not 0.) */
        t->fig[STORE_FIG_pause_p50_ns] = 0;
        t->fig[STORE_FIG_pause_p99_ns] = 0;
    }
    if (t->fig[STORE_FIG_wall_ns] > 0 && (n > 0 || t->fig[STORE_FIG_gc_cycles] == 0))
        t->fig[STORE_FIG_gc_cpu_share] = gc_cpu_ns / t->fig[STORE_FIG_wall_ns];
    free(pauses);
    return 0;
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Group the tasks into sweep points. */
static int group_points(store_t *st, store_run_view_t *view)
{
    view->points = calloc(view->ntasks ? view->ntasks : 1, sizeof *view->points);
    if (!view->points)
        return store__fail(st, STORE_EDB, "out of memory");
    for (size_t i = 0; i < view->ntasks; i++) {
        const store_task_view_t *t = &view->tasks[i];
        store_point_view_t *p = NULL;

        for (size_t j = 0; j < view->npoints && !p; j++) {
            store_point_view_t *q = &view->points[j];
            if (same_text(q->kernel, t->kernel) && same_text(q->label, t->label) &&
                same_text(q->params_json, t->params_json) &&
                same_text(q->runtime_json, t->runtime_json) &&
                q->sweep_point == t->sweep_point)
                p = q;
        }
        if (!p) {
            p = &view->points[view->npoints++];
            p->kernel = t->kernel ? strdup(t->kernel) : NULL;
            p->label = t->label ? strdup(t->label) : NULL;
            p->params_json = t->params_json ? strdup(t->params_json) : NULL;
            p->runtime_json = t->runtime_json ? strdup(t->runtime_json) : NULL;
            p->sweep_point = t->sweep_point;
            p->tasks = calloc(view->ntasks, sizeof *p->tasks);
            if (!p->tasks)
                return store__fail(st, STORE_EDB, "out of memory");
        }
        p->tasks[p->ntasks++] = i;
    }
    return 0;
}

static int read_tasks(store_t *st, store_run_view_t *view)
{
    static const char tasks_sql[] =
        "SELECT id, seq, sweep_point, repeat_index, kernel, label, status, worker,"
        " error, params_json, runtime_json, wall_ns, alloc_objects, alloc_bytes,"
        " gc_cycles, pause_max_ns, pause_total_ns, peak_heap_bytes, peak_rss_bytes,"
        " goroutines_max, stack_hwm_bytes, output FROM tasks WHERE run_id = ?1"
        " ORDER BY seq";
    static const char gc_sql[] =
        "SELECT stw_ns, mark_cpu_ns + sweep_cpu_ns FROM gc_cycles WHERE task_id = ?1";
    static const char metrics_sql[] =
        "SELECT name, value, unit FROM metrics WHERE task_id = ?1 ORDER BY name";
    sqlite3_stmt *tasks = NULL, *gc = NULL, *metrics = NULL;
    size_t cap = 0;
    int rc;

    if ((rc = prepare(st, tasks_sql, &tasks)) || (rc = prepare(st, gc_sql, &gc)) ||
        (rc = prepare(st, metrics_sql, &metrics)))
        goto out_finalize;
    sqlite3_bind_int64(tasks, 1, view->info.run_id);
    while ((rc = sqlite3_step(tasks)) == SQLITE_ROW) {
        store_task_view_t *t;

        if (view->ntasks == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            store_task_view_t *grown = realloc(view->tasks, ncap * sizeof *grown);
            if (!grown) {
                rc = store__fail(st, STORE_EDB, "out of memory");
                goto out_finalize;
            }
            view->tasks = grown;
            cap = ncap;
        }
        t = &view->tasks[view->ntasks++];
        memset(t, 0, sizeof *t);
        for (int f = 0; f < STORE_FIG_COUNT; f++)
            t->fig[f] = NAN;
        t->task_id = sqlite3_column_int64(tasks, 0);
        t->seq = col_int(tasks, 1);
        t->sweep_point = col_int(tasks, 2);
        t->repeat_index = col_int(tasks, 3);
        t->kernel = col_strdup(tasks, 4);
        t->label = col_strdup(tasks, 5);
        t->status = col_strdup(tasks, 6);
        if (view->info.owner_gone && t->status && strcmp(t->status, "running") == 0) {
            /* Its run's owner is gone: so is whoever ran it for that owner. */
            free(t->status);
            t->status = strdup("interrupted");
        }
        t->worker = col_strdup(tasks, 7);
        t->error = col_strdup(tasks, 8);
        t->params_json = col_strdup(tasks, 9);
        t->runtime_json = col_strdup(tasks, 10);
        t->fig[STORE_FIG_wall_ns] = int_figure(col_int(tasks, 11));
        t->fig[STORE_FIG_alloc_objects] = int_figure(col_int(tasks, 12));
        t->fig[STORE_FIG_alloc_bytes] = int_figure(col_int(tasks, 13));
        t->fig[STORE_FIG_gc_cycles] = int_figure(col_int(tasks, 14));
        t->fig[STORE_FIG_pause_max_ns] = int_figure(col_int(tasks, 15));
        t->fig[STORE_FIG_pause_total_ns] = int_figure(col_int(tasks, 16));
        t->fig[STORE_FIG_peak_heap_bytes] = int_figure(col_int(tasks, 17));
        t->fig[STORE_FIG_peak_rss_bytes] = int_figure(col_int(tasks, 18));
        t->fig[STORE_FIG_goroutines_max] = int_figure(col_int(tasks, 19));
        t->fig[STORE_FIG_stack_hwm_bytes] = int_figure(col_int(tasks, 20));
        t->output = col_strdup(tasks, 21);
        if ((rc = task_gc(st, gc, t)) || (rc = store__task_go_read(st, t->task_id, &t->go)))
            goto out_finalize;
        sqlite3_bind_int64(metrics, 1, t->task_id);
        size_t mcap = 0;
        while ((rc = sqlite3_step(metrics)) == SQLITE_ROW) {
            if (t->nmetrics == mcap) {
                size_t ncap = mcap ? mcap * 2 : 8;
                store_metric_t *grown = realloc(t->metrics, ncap * sizeof *grown);
                if (!grown) {
                    sqlite3_reset(metrics);
                    rc = store__fail(st, STORE_EDB, "out of memory");
                    goto out_finalize;
                }
                t->metrics = grown;
                mcap = ncap;
            }
            store_metric_t *m = &t->metrics[t->nmetrics++];
            m->name = col_strdup(metrics, 0);
            m->value = col_double(metrics, 1);
            m->unit = col_strdup(metrics, 2);
            if (!m->name)
                m->name = strdup("?");
        }
        if (rc != SQLITE_DONE) {
            rc = store__db_fail(st, "reading metrics");
            sqlite3_reset(metrics);
            goto out_finalize;
        }
        sqlite3_reset(metrics);
    }
    if (rc != SQLITE_DONE) {
        rc = store__db_fail(st, "reading tasks");
        goto out_finalize;
    }
    rc = group_points(st, view);
out_finalize:
    sqlite3_finalize(metrics);
    sqlite3_finalize(gc);
    sqlite3_finalize(tasks);
    return rc;
}

/* The run's events, in time order. */
static int read_events(store_t *st, store_run_view_t *view)
{
    static const char sql[] =
        "SELECT unix_ns, task_id, count, kind, worker, detail FROM events"
        " WHERE run_id = ?1 ORDER BY unix_ns, id";
    sqlite3_stmt *stmt;
    size_t cap = 0;
    int rc;

    if ((rc = prepare(st, sql, &stmt)))
        return rc;
    sqlite3_bind_int64(stmt, 1, view->info.run_id);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        store_event_view_t *e;
        if (view->nevents == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            store_event_view_t *grown = realloc(view->events, ncap * sizeof *grown);
            if (!grown) {
                sqlite3_finalize(stmt);
                return store__fail(st, STORE_EDB, "out of memory");
            }
            view->events = grown;
            cap = ncap;
        }
        e = &view->events[view->nevents++];
        e->unix_ns = col_int(stmt, 0);
        e->task_id = col_int(stmt, 1);
        e->count = col_int(stmt, 2);
        e->kind = col_strdup(stmt, 3);
        e->worker = col_strdup(stmt, 4);
        e->detail = col_strdup(stmt, 5);
    }
    if (rc != SQLITE_DONE)
        return step_fail(st, stmt);
    sqlite3_finalize(stmt);
    return 0;
}

int store_run_read(store_t *st, int64_t run_id, store_run_view_t **view_p)
{
    static const char sql[] = "SELECT " RUN_COLUMNS " FROM runs r WHERE r.id = ?1";
    store_run_view_t *view;
    sqlite3_stmt *stmt;
    int rc;

    if (!st || !view_p)
        return STORE_EUSAGE;
    *view_p = NULL;
    view = calloc(1, sizeof *view);
    if (!view)
        return store__fail(st, STORE_EDB, "out of memory");
    if (sqlite3_exec(st->db, "SAVEPOINT store_run_read", NULL, NULL, NULL) != SQLITE_OK) {
        rc = store__db_fail(st, "reading the history");
        goto out_free_view;
    }
    if ((rc = prepare(st, sql, &stmt)))
        goto out_release;
    sqlite3_bind_int64(stmt, 1, run_id);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(stmt);
        rc = store__fail(st, STORE_ENOTFOUND, "no run %lld", (long long)run_id);
        goto out_release;
    }
    if (rc != SQLITE_ROW) {
        rc = step_fail(st, stmt);
        goto out_release;
    }
    rc = run_row(stmt, &view->info);
    sqlite3_finalize(stmt);
    if (rc != 0) {
        rc = store__fail(st, STORE_EDB, "out of memory");
        goto out_release;
    }
    rc = read_tasks(st, view);
    if (rc == 0)
        rc = read_events(st, view);
out_release:
    sqlite3_exec(st->db, "RELEASE store_run_read", NULL, NULL, NULL);
    if (rc == 0) {
        *view_p = view;
        return 0;
    }
out_free_view:
    store_run_view_free(&view);
    return rc;
}

/* ---- a task's time series -------------------------------------------- */

/* Rows of `sql` (?1 task, ?2 the time from which, ?3 how many) evenly
** over [t_min, t_max]: all of them when there are at most max, else one
** index seek per step, each row taken once. row() stores the current row
** at index i of the caller's array. */
typedef void row_fn(sqlite3_stmt *stmt, void *rows, size_t i, int64_t t0);

static int read_spread(store_t *st, const char *sql, int64_t task_id, int64_t t0,
                       int64_t t_min, int64_t t_max, size_t max, void *rows,
                       row_fn *row, size_t *n_p)
{
    sqlite3_stmt *stmt;
    int64_t last_id = STORE_NONE;
    size_t n = 0;
    int rc;

    *n_p = 0;
    if ((rc = prepare(st, sql, &stmt)))
        return rc;
    /* First: are there at most max rows? Then they are the series. */
    sqlite3_bind_int64(stmt, 1, task_id);
    sqlite3_bind_int64(stmt, 2, t_min);
    sqlite3_bind_int64(stmt, 3, (int64_t)max + 1);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && n <= max) {
        if (n < max)
            row(stmt, rows, n, t0);
        n++;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return step_fail(st, stmt);
    sqlite3_reset(stmt);
    if (n > max) {
        /* One seek per step of the time range. */
        n = 0;
        for (size_t i = 0; i < max; i++) {
            int64_t t = t_min + (int64_t)((double)(t_max - t_min) * (double)i /
                                          (double)(max > 1 ? max - 1 : 1));
            sqlite3_bind_int64(stmt, 1, task_id);
            sqlite3_bind_int64(stmt, 2, t);
            sqlite3_bind_int64(stmt, 3, 1);
            rc = sqlite3_step(stmt);
            if (rc == SQLITE_ROW && sqlite3_column_int64(stmt, 0) != last_id) {
                last_id = sqlite3_column_int64(stmt, 0);
                row(stmt, rows, n++, t0);
            } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                return step_fail(st, stmt);
            }
            sqlite3_reset(stmt);
        }
    }
    sqlite3_finalize(stmt);
    *n_p = n;
    return 0;
}

/* Columns 0 and 1 are id and t_ns, then STORE_SAMPLE_COLUMNS. */
static void sample_row(sqlite3_stmt *stmt, void *rows, size_t i, int64_t t0)
{
    store_sample_row_t *r = &((store_sample_row_t *)rows)[i];
    int col = 2;

    (void)t0;
    r->t_ns = col_int(stmt, 1);
#define SAMPLE_READ(name, unit) r->name = col_int(stmt, col++);
    STORE_SAMPLE_COLUMNS(SAMPLE_READ)
#undef SAMPLE_READ
}

/* Columns 0 and 1 are id and start_unix_ns, then every gc_fields figure
** in list order. */
static void gc_row(sqlite3_stmt *stmt, void *rows, size_t i, int64_t t0)
{
    store_gc_row_t *r = &((store_gc_row_t *)rows)[i];
    int64_t start = col_int(stmt, 1);

    r->t_ns = start == STORE_NONE || t0 == STORE_NONE ? STORE_NONE : start - t0;
    for (int f = 0; f < GC_FIELDS_COUNT; f++) {
        const gc_fields_desc_t *d = &gc_fields_desc[f];
        if (d->kind == GC_FIELDS_KIND_INT)
            *gc_fields_int(&r->f, d) = col_int(stmt, 2 + f);
        else
            *gc_fields_real(&r->f, d) = col_double(stmt, 2 + f);
    }
}

/* Two integers the query returns for the task: min and max of a column
** over the task's rows (an index range's ends), or a count. */
static int time_range(store_t *st, const char *sql, int64_t task_id,
                      int64_t *t_min, int64_t *t_max)
{
    sqlite3_stmt *stmt;
    int rc;

    if ((rc = prepare(st, sql, &stmt)))
        return rc;
    sqlite3_bind_int64(stmt, 1, task_id);
    if (sqlite3_step(stmt) != SQLITE_ROW)
        return step_fail(st, stmt);
    *t_min = col_int(stmt, 0);
    *t_max = col_int(stmt, 1);
    sqlite3_finalize(stmt);
    return 0;
}

int store_task_series_read(store_t *st, int64_t task_id, size_t max_rows,
                           store_task_series_t *out)
{
#define SAMPLE_COLUMN(name, unit) ", " #name
#define GC_COLUMN(name, kind, doc) ", " #name
    static const char samples_sql[] =
        "SELECT id, t_ns" STORE_SAMPLE_COLUMNS(SAMPLE_COLUMN) " FROM samples"
        " WHERE task_id = ?1 AND t_ns >= ?2 ORDER BY t_ns LIMIT ?3";
    static const char gc_sql[] =
        "SELECT id, start_unix_ns" GC_FIELDS(GC_COLUMN)
        " FROM gc_cycles WHERE task_id = ?1 AND start_unix_ns >= ?2"
        " ORDER BY start_unix_ns LIMIT ?3";
#undef GC_COLUMN
#undef SAMPLE_COLUMN
    int64_t t_min, t_max, started, count;
    size_t max_samples = max_rows, max_gcs = max_rows;
    sqlite3_stmt *stmt;
    int rc;

    if (!st || !out)
        return STORE_EUSAGE;
    memset(out, 0, sizeof *out);
    out->task_id = task_id;
    if (sqlite3_exec(st->db, "SAVEPOINT store_series_read", NULL, NULL, NULL) != SQLITE_OK)
        return store__db_fail(st, "reading the history");
    if ((rc = prepare(st, "SELECT started_unix_ns FROM tasks WHERE id = ?1", &stmt)))
        goto out_release;
    sqlite3_bind_int64(stmt, 1, task_id);
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        rc = store__fail(st, STORE_ENOTFOUND, "no task %lld", (long long)task_id);
        goto out_release;
    }
    started = col_int(stmt, 0);
    sqlite3_finalize(stmt);

    if (max_rows == 0) {
        if ((rc = time_range(st, "SELECT count(*), 0 FROM samples WHERE task_id = ?1",
                             task_id, &count, &t_max)))
            goto out_release;
        max_samples = count > 0 ? (size_t)count : 1;
        if ((rc = time_range(st, "SELECT count(*), 0 FROM gc_cycles WHERE task_id = ?1",
                             task_id, &count, &t_max)))
            goto out_release;
        max_gcs = count > 0 ? (size_t)count : 1;
    }
    out->samples = calloc(max_samples, sizeof *out->samples);
    out->gcs = calloc(max_gcs, sizeof *out->gcs);
    if (!out->samples || !out->gcs) {
        rc = store__fail(st, STORE_EDB, "out of memory");
        goto out_release;
    }
    if ((rc = time_range(st, "SELECT min(t_ns), max(t_ns) FROM samples WHERE task_id = ?1",
                         task_id, &t_min, &t_max)))
        goto out_release;
    if (t_min != STORE_NONE &&
        (rc = read_spread(st, samples_sql, task_id, started, t_min, t_max, max_samples,
                          out->samples, sample_row, &out->nsamples)))
        goto out_release;
    if ((rc = time_range(st, "SELECT min(start_unix_ns), max(start_unix_ns)"
                         " FROM gc_cycles WHERE task_id = ?1", task_id, &t_min, &t_max)))
        goto out_release;
    if (t_min != STORE_NONE &&
        (rc = read_spread(st, gc_sql, task_id, started, t_min, t_max, max_gcs,
                          out->gcs, gc_row, &out->ngcs)))
        goto out_release;
out_release:
    sqlite3_exec(st->db, "RELEASE store_series_read", NULL, NULL, NULL);
    if (rc)
        store_task_series_clear(out);
    return rc;
}
