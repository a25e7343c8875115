/*
** cli/leaks_live.c -- `heapsim leaks --live`: the leak report of a run
** while it runs, refreshed.
**
** The coordinator stores each heap profile snapshot as it arrives (in a
** transaction committed within 200 ms), and SQLite's WAL lets a reader see
** every commit without holding the writer up. So the live report reads
** what `heapsim leaks RUN` reads, as it grows: per task running now (or the
** one asked for), its snapshots so far, through the same test
** (profile_find_leaks). It ends when the run does, with the report as of
** its end. Reading the database rather than the metrics endpoint keeps
** the whole history of snapshots (a site's growth from the first cycle),
** which a scraper attaching late would not have.
*/
#include "cli/live.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profile/leaks.h"
#include "storage/store.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* The report of task `seq`: its snapshots so far and the growing sites.
** 0 printed (or no snapshot yet), -1 with the reason in err. */
static int task_report(FILE *out, store_t *st, int64_t run_id, int64_t seq, bool running,
                       char *err, size_t errsize)
{
    int64_t *cycles = NULL, got_seq = seq, rate = 0;
    size_t ncycles = 0, nloaded = 0;
    store_profile_t *loaded = NULL;
    profile_site_t **sites = NULL;
    profile_snapshot_t *snaps = NULL;
    int rc = store_profile_cycles(st, run_id, seq, &cycles, &ncycles, &got_seq);
    if (rc == STORE_ENOTFOUND) {
        fprintf(out, "task %lld%s: no heap profile snapshot yet\n", (long long)seq,
                running ? " (running)" : "");
        return 0;
    }
    if (rc == 0 && !(loaded = calloc(ncycles, sizeof *loaded)))
        rc = -ENOMEM;
    if (rc == 0 && !(sites = calloc(ncycles, sizeof *sites)))
        rc = -ENOMEM;
    if (rc == 0 && !(snaps = calloc(ncycles, sizeof *snaps)))
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < ncycles; i++) {
        if ((rc = store_profile_load(st, run_id, got_seq, cycles[i], &loaded[i])) != 0)
            break;
        nloaded++;
        rate = loaded[i].rate;
        if (!(sites[i] = calloc(loaded[i].nsites ? loaded[i].nsites : 1, sizeof **sites))) {
            rc = -ENOMEM;
            break;
        }
        for (size_t k = 0; k < loaded[i].nsites; k++) {
            const store_profile_site_t *s = &loaded[i].sites[k];
            sites[i][k] = (profile_site_t){s->site, s->alloc_objects, s->alloc_bytes,
                                           s->inuse_objects, s->inuse_bytes};
        }
        snaps[i] = (profile_snapshot_t){cycles[i], sites[i], loaded[i].nsites};
    }
    if (rc != 0) {
        snprintf(err, errsize, "%s", rc == -ENOMEM ? "out of memory" : store_errmsg(st));
        rc = -1;
        goto out_free;
    }
    fprintf(out, "task %lld%s: %zu heap profile snapshot%s, GC cycles %lld..%lld, "
            "1 sample per %lld B\n", (long long)got_seq, running ? " (running)" : "", ncycles,
            ncycles == 1 ? "" : "s", (long long)cycles[0], (long long)cycles[ncycles - 1],
            (long long)rate);
    if (ncycles < PROFILE_LEAKS_MIN_SNAPSHOTS) {
        fprintf(out, "  too few snapshots to see a trend yet (at least %d)\n",
                PROFILE_LEAKS_MIN_SNAPSHOTS);
        goto out_free;
    }
    profile_leak_t *leaks = NULL;
    size_t nleaks = 0;
    if (profile_find_leaks(snaps, ncycles, rate, &leaks, &nleaks) != 0) {
        snprintf(err, errsize, "out of memory");
        rc = -1;
        goto out_free;
    }
    if (nleaks == 0)
        fprintf(out, "  no site's objects in use grow across the snapshots\n");
    else
        fprintf(out, "  %-32s %22s %14s %8s\n", "SITE (objects in use growing)",
                "IN USE FIRST -> LAST", "PER GC CYCLE", "UP/DOWN");
    for (size_t i = 0; i < nleaks; i++) {
        char span[64];
        snprintf(span, sizeof span, "%.2fMB -> %.2fMB",
                 (double)leaks[i].first_bytes / (1 << 20), (double)leaks[i].last_bytes / (1 << 20));
        fprintf(out, "  %-32s %22s %11.1fKB %5d/%d\n", leaks[i].site, span,
                leaks[i].bytes_per_cycle / 1024.0, leaks[i].rises, leaks[i].falls);
    }
    free(leaks);
out_free:
    for (size_t i = 0; i < nloaded; i++) {
        free(sites[i]);
        store_profile_free(&loaded[i]);
    }
    free(snaps);
    free(sites);
    free(loaded);
    free(cycles);
    return rc;
}

/* One frame: the run's state and a report per task shown. *over is set
** when the run is no longer running. 0, or -1 with the reason in err. */
static int frame(FILE *out, store_t *st, int64_t run_id, int64_t task_seq, bool *over,
                 char *err, size_t errsize)
{
    store_run_view_t *v;
    int rc = store_run_read(st, run_id, &v);
    if (rc != 0) {
        snprintf(err, errsize, "%s", store_errmsg(st));
        return -1;
    }
    const char *status = v->info.status ? v->info.status : "?";
    *over = strcmp(status, "running") != 0;
    size_t nrunning = 0;
    for (size_t i = 0; i < v->ntasks; i++)
        nrunning += v->tasks[i].status && strcmp(v->tasks[i].status, "running") == 0;
    fprintf(out, "heapsim leaks --live: run %lld (%s), %s; %lld of %lld tasks done, %zu running\n",
            (long long)run_id, v->info.name ? v->info.name : "?", status,
            (long long)v->info.tasks_done, (long long)v->info.tasks_total, nrunning);
    bool any = false;
    for (size_t i = 0; rc == 0 && i < v->ntasks; i++) {
        const store_task_view_t *t = &v->tasks[i];
        bool running = t->status && strcmp(t->status, "running") == 0;
        /* The task asked for; else those running; once the run is over (or
        ** nothing runs), every task. */
        if (task_seq >= 0 ? t->seq != task_seq : (nrunning && !running))
            continue;
        if (task_seq < 0 && !nrunning && t->status && strcmp(t->status, "pending") == 0)
            continue;
        any = true;
        rc = task_report(out, st, run_id, t->seq, running, err, errsize);
    }
    if (rc == 0 && !any)
        fprintf(out, task_seq >= 0 ? "no task %lld in run %lld\n" : "no task started yet\n",
                (long long)task_seq, (long long)run_id);
    store_run_view_free(&v);
    if (fflush(out) != 0 || ferror(out)) {
        snprintf(err, errsize, "writing the report failed");
        return -1;
    }
    return rc;
}

int live_leaks(const live_opts_t *o, const char *db, int64_t run_id, int64_t task_seq)
{
    char err[1024];
    store_t *st;
    if (store_open(db, STORE_READONLY, &st, err, sizeof err) != 0) {
        fprintf(stderr, "%s leaks: %s\n", o->progname, err);
        return 2;
    }
    if (run_id == 0) {
        store_runs_filter_t f = {.status = "running", .since_unix_ns = INT64_MIN, .limit = 1};
        store_run_info_t *runs;
        size_t n;
        if (store_runs_read(st, &f, &runs, &n) != 0) {
            fprintf(stderr, "%s leaks: %s\n", o->progname, store_errmsg(st));
            store_close(&st);
            return 1;
        }
        if (n == 0) {
            fprintf(stderr, "%s leaks: no run is running in %s (give RUN for one that ran)\n",
                    o->progname, db);
            store_close(&st);
            return 2;
        }
        run_id = runs[0].run_id;
        store_runs_free(&runs, n);
    }

    bool over = false;
    bool redraw = !o->once && isatty(STDOUT_FILENO);
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    if (redraw) {
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
    }
    int interval = o->interval_ms > 0 ? o->interval_ms : 1000, status = 0;
    for (;;) {
        char *text = NULL;
        size_t len = 0;
        FILE *buf = open_memstream(&text, &len);
        int rc = buf ? frame(buf, st, run_id, task_seq, &over, err, sizeof err) : -1;
        if (buf)
            fclose(buf);
        if (rc != 0) {
            if (!buf)
                snprintf(err, sizeof err, "out of memory");
            fprintf(stderr, "%s leaks: run %lld: %s\n", o->progname, (long long)run_id, err);
            free(text);
            status = strstr(err, "no run") ? 2 : 1;
            break;
        }
        if (redraw)
            fputs("\033[H\033[2J", stdout);
        fwrite(text, 1, len, stdout);
        free(text);
        fflush(stdout);
        if (!redraw || over)
            break;
        struct timespec ts = {interval / 1000, (long)(interval % 1000) * 1000000L};
        while (!stop && nanosleep(&ts, &ts) != 0)
            ;
        if (stop)
            break;
    }
    if (redraw) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    store_close(&st);
    return status;
}
