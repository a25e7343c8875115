/*
** cli/top.c -- `heapsim top`: a running simulation's workers, as top shows
** processes, from the coordinator's metrics endpoint (--metrics-addr).
**
** The endpoint is what it reads, and nothing else: the figures are the
** ones a Prometheus server would scrape, parsed strictly (metrics.h), so
** what top shows and what is scraped cannot disagree. Per worker: its
** task, heap in use (objects), goal, GC cycles and their rate, pauses
** (mean and longest), goroutines and stacks. The rate is over the last
** refresh when the worker is still on the same task, else over the task
** so far.
*/
#include "cli/live.h"

#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/table.h"
#include "metrics/metrics.h"

#define SCRAPE_TIMEOUT_MS 3000

typedef struct row {
    char *worker, *host, *task;
    double heap, goal, cycles, task_s, pause_sum, pause_count, pause_max, goroutines, stacks;
    double gc_rate;
} row_t;

typedef struct frame {
    char run[32];
    double tasks[METRICS_TASK_STATES];
    double workers, uptime_s;
    row_t *rows;
    size_t nrows;
    uint64_t at_ns;
} frame_t;

static const char *const states[METRICS_TASK_STATES] = {"queued", "leased", "running",
                                                         "done", "failed"};

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void frame_free(frame_t *f)
{
    for (size_t i = 0; i < f->nrows; i++) {
        free(f->rows[i].worker);
        free(f->rows[i].host);
        free(f->rows[i].task);
    }
    free(f->rows);
    memset(f, 0, sizeof *f);
}

static row_t *row_of(frame_t *f, const metrics_sample_t *s)
{
    const char *w = metrics_label(s, "worker");
    if (!w)
        return NULL;
    for (size_t i = 0; i < f->nrows; i++)
        if (strcmp(f->rows[i].worker, w) == 0)
            return &f->rows[i];
    row_t *rows = realloc(f->rows, (f->nrows + 1) * sizeof *rows);
    if (!rows)
        return NULL;
    f->rows = rows;
    row_t *r = &rows[f->nrows++];
    const char *h = metrics_label(s, "host"), *t = metrics_label(s, "task");
    *r = (row_t){.worker = strdup(w), .host = strdup(h ? h : ""), .task = strdup(t ? t : ""),
                 .heap = NAN, .goal = NAN, .cycles = NAN, .task_s = NAN, .pause_sum = NAN,
                 .pause_count = NAN, .pause_max = NAN, .goroutines = NAN, .stacks = NAN,
                 .gc_rate = NAN};
    return r;
}

/* The frame from a parsed scrape. */
static void build(frame_t *f, const metrics_parsed_t *p)
{
    static const struct {
        const char *name;
        size_t off;
    } figs[] = {
        {"go_memory_classes_heap_objects_bytes", offsetof(row_t, heap)},
        {"go_gc_heap_goal_bytes", offsetof(row_t, goal)},
        {"go_gc_cycles_total_gc_cycles_total", offsetof(row_t, cycles)},
        {"heapsim_task_seconds", offsetof(row_t, task_s)},
        {"go_gc_pauses_seconds_sum", offsetof(row_t, pause_sum)},
        {"go_gc_pauses_seconds_count", offsetof(row_t, pause_count)},
        {"heapsim_gc_pause_max_seconds", offsetof(row_t, pause_max)},
        {"go_sched_goroutines_goroutines", offsetof(row_t, goroutines)},
        {"go_memory_classes_heap_stacks_bytes", offsetof(row_t, stacks)},
    };
    for (int i = 0; i < METRICS_TASK_STATES; i++)
        f->tasks[i] = NAN;
    f->workers = f->uptime_s = NAN;
    for (size_t i = 0; i < p->nsamples; i++) {
        const metrics_sample_t *s = &p->samples[i];
        const char *run = metrics_label(s, "run");
        if (run && !f->run[0])
            snprintf(f->run, sizeof f->run, "%s", run);
        if (strcmp(s->name, "heapsim_tasks") == 0) {
            const char *st = metrics_label(s, "state");
            for (int k = 0; st && k < METRICS_TASK_STATES; k++)
                if (strcmp(st, states[k]) == 0)
                    f->tasks[k] = s->value;
            continue;
        }
        if (strcmp(s->name, "heapsim_workers") == 0) {
            f->workers = s->value;
            continue;
        }
        if (strcmp(s->name, "heapsim_coordinator_uptime_seconds") == 0) {
            f->uptime_s = s->value;
            continue;
        }
        for (size_t k = 0; k < sizeof figs / sizeof figs[0]; k++) {
            if (strcmp(s->name, figs[k].name) != 0)
                continue;
            row_t *r = row_of(f, s);
            if (r)
                *(double *)(void *)((char *)r + figs[k].off) = s->value;
        }
    }
}

static void rates(frame_t *f, const frame_t *prev)
{
    for (size_t i = 0; i < f->nrows; i++) {
        row_t *r = &f->rows[i];
        const row_t *was = NULL;
        for (size_t k = 0; prev && k < prev->nrows; k++)
            if (strcmp(prev->rows[k].worker, r->worker) == 0 &&
                strcmp(prev->rows[k].task, r->task) == 0)
                was = &prev->rows[k];
        if (was && f->at_ns > prev->at_ns && isfinite(was->cycles) && isfinite(r->cycles))
            r->gc_rate = (r->cycles - was->cycles) / ((double)(f->at_ns - prev->at_ns) / 1e9);
        else if (isfinite(r->cycles) && r->task_s > 0)
            r->gc_rate = r->cycles / r->task_s;
    }
}

static int by_worker(const void *a, const void *b)
{
    return strcmp(((const row_t *)a)->worker, ((const row_t *)b)->worker);
}

static void fmt_bytes(char *buf, size_t size, double v)
{
    if (!isfinite(v))
        snprintf(buf, size, "-");
    else if (v < 1024)
        snprintf(buf, size, "%.0f B", v);
    else if (v < 1024 * 1024)
        snprintf(buf, size, "%.1f KiB", v / 1024);
    else if (v < 1024.0 * 1024 * 1024)
        snprintf(buf, size, "%.1f MiB", v / (1024 * 1024));
    else
        snprintf(buf, size, "%.2f GiB", v / (1024.0 * 1024 * 1024));
}

static void fmt_secs(char *buf, size_t size, double s)
{
    if (!isfinite(s))
        snprintf(buf, size, "-");
    else if (s < 1e-3)
        snprintf(buf, size, "%.0f µs", s * 1e6);
    else if (s < 1)
        snprintf(buf, size, "%.1f ms", s * 1e3);
    else
        snprintf(buf, size, "%.2f s", s);
}

static void fmt_num(char *buf, size_t size, double v, const char *fmt)
{
    if (!isfinite(v))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, fmt, v);
}

static int print_text(FILE *out, const char *addr, const frame_t *f)
{
    char a[64], b[64];
    fmt_num(a, sizeof a, f->uptime_s, "%.0f s");
    fprintf(out, "heapsim top %s  run %s  up %s  workers %s\n", addr, f->run[0] ? f->run : "-",
            a, (fmt_num(b, sizeof b, f->workers, "%.0f"), b));
    fputs("tasks:", out);
    for (int i = 0; i < METRICS_TASK_STATES; i++) {
        fmt_num(a, sizeof a, f->tasks[i], "%.0f");
        fprintf(out, " %s %s%s", a, states[i], i + 1 < METRICS_TASK_STATES ? "," : "\n");
    }
    fputc('\n', out);
    static const char *const heads[] = {"WORKER", "HOST", "TASK", "HEAP", "GOAL", "GC",
                                        "GC/S", "PAUSE AVG", "PAUSE MAX", "GOROUTINES",
                                        "STACKS"};
    enum { NCOLS = sizeof heads / sizeof heads[0] };
    text_table_t *t = text_table_new(NCOLS);
    if (!t)
        return -1;
    for (size_t c = 0; c < NCOLS; c++)
        text_table_header(t, c, heads[c], c >= 3);
    for (size_t i = 0; i < f->nrows; i++) {
        const row_t *r = &f->rows[i];
        char v[NCOLS][64];
        snprintf(v[0], sizeof v[0], "%s", r->worker);
        snprintf(v[1], sizeof v[1], "%s", r->host);
        snprintf(v[2], sizeof v[2], "%s", *r->task ? r->task : "-");
        fmt_bytes(v[3], sizeof v[3], r->heap);
        fmt_bytes(v[4], sizeof v[4], r->goal);
        fmt_num(v[5], sizeof v[5], r->cycles, "%.0f");
        fmt_num(v[6], sizeof v[6], r->gc_rate, "%.1f");
        fmt_secs(v[7], sizeof v[7], r->pause_count > 0 ? r->pause_sum / r->pause_count : NAN);
        fmt_secs(v[8], sizeof v[8], r->pause_count > 0 ? r->pause_max : NAN);
        fmt_num(v[9], sizeof v[9], r->goroutines, "%.0f");
        fmt_bytes(v[10], sizeof v[10], r->stacks);
        if (text_table_row(t) != 0)
            break;
        for (size_t c = 0; c < NCOLS; c++)
            text_table_cell(t, c, v[c], strlen(v[c]), -1);
    }
    if (f->nrows)
        text_table_print(t, out, 0);
    else
        fputs("(no worker connected)\n", out);
    text_table_destroy(&t);
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

static json_object *num_or_null(double v)
{
    if (!isfinite(v))
        return NULL;
    if (v == floor(v) && fabs(v) < 9e15)
        return json_object_new_int64((int64_t)v);
    return json_object_new_double(v);
}

static int print_json(FILE *out, const char *addr, const frame_t *f)
{
    json_object *doc = json_object_new_object(), *tasks = json_object_new_object();
    json_object *ws = json_object_new_array();
    json_object_object_add(doc, "address", json_object_new_string(addr));
    json_object_object_add(doc, "run_id", f->run[0] ? json_object_new_int64(atoll(f->run)) : NULL);
    json_object_object_add(doc, "uptime_s", num_or_null(f->uptime_s));
    json_object_object_add(doc, "workers_connected", num_or_null(f->workers));
    for (int i = 0; i < METRICS_TASK_STATES; i++)
        json_object_object_add(tasks, states[i], num_or_null(f->tasks[i]));
    json_object_object_add(doc, "tasks", tasks);
    for (size_t i = 0; i < f->nrows; i++) {
        const row_t *r = &f->rows[i];
        json_object *w = json_object_new_object();
        json_object_object_add(w, "worker", json_object_new_string(r->worker));
        json_object_object_add(w, "host", json_object_new_string(r->host));
        json_object_object_add(w, "task", *r->task ? json_object_new_int64(atoll(r->task)) : NULL);
        json_object_object_add(w, "heap_bytes", num_or_null(r->heap));
        json_object_object_add(w, "goal_bytes", num_or_null(r->goal));
        json_object_object_add(w, "gc_cycles", num_or_null(r->cycles));
        json_object_object_add(w, "gc_per_s", num_or_null(r->gc_rate));
        json_object_object_add(w, "pause_mean_s",
                               num_or_null(r->pause_count > 0 ? r->pause_sum / r->pause_count
                                                              : NAN));
        json_object_object_add(w, "pause_max_s", num_or_null(r->pause_max));
        json_object_object_add(w, "goroutines", num_or_null(r->goroutines));
        json_object_object_add(w, "stack_bytes", num_or_null(r->stacks));
        json_object_object_add(w, "task_s", num_or_null(r->task_s));
        json_object_array_add(ws, w);
    }
    json_object_object_add(doc, "workers", ws);
    fprintf(out, "%s\n", json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(doc);
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

/* One scrape into f: 0, or a metrics code with the reason in err. */
static int take_frame(const char *addr, frame_t *f, char *err, size_t errsize)
{
    char *body;
    size_t len;
    metrics_parsed_t p;
    char why[256];
    int rc = metrics_scrape(addr, SCRAPE_TIMEOUT_MS, &body, &len, err, errsize);
    if (rc != 0)
        return rc;
    rc = metrics_parse(body, len, &p, why, sizeof why);
    free(body);
    if (rc != 0) {
        snprintf(err, errsize, "%s: not Prometheus's text format: %s", addr, why);
        return rc;
    }
    memset(f, 0, sizeof *f);
    f->at_ns = clock_mono_ns();
    build(f, &p);
    metrics_parsed_free(&p);
    qsort(f->rows, f->nrows, sizeof *f->rows, by_worker);
    return 0;
}

int live_top(const live_opts_t *o, const char *arg)
{
    char addr[300], err[512];
    const char *a = arg;
    if (strncmp(a, "http://", 7) == 0)
        a += 7;
    snprintf(addr, sizeof addr, "%s", a);
    size_t n = strlen(addr);
    if (n >= 8 && strcmp(addr + n - 8, "/metrics") == 0)
        addr[n - 8] = '\0';
    else if (n && addr[n - 1] == '/')
        addr[n - 1] = '\0';

    frame_t prev = {0}, cur = {0};
    int rc = take_frame(addr, &cur, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "%s top: %s\n", o->progname, err);
        return rc == METRICS_EPROTO || rc == METRICS_ENOMEM ? 1 : 2;
    }
    rates(&cur, NULL);
    if (o->json || o->once || !isatty(STDOUT_FILENO)) {
        rc = o->json ? print_json(stdout, addr, &cur) : print_text(stdout, addr, &cur);
        frame_free(&cur);
        return rc == 0 ? 0 : 1;
    }

    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    int interval = o->interval_ms > 0 ? o->interval_ms : 1000;
    int status = 0;
    for (;;) {
        fputs("\033[H\033[2J", stdout);      /* home, clear: redraw in place */
        print_text(stdout, addr, &cur);
        fputs("\n(q: Ctrl-C)\n", stdout);
        fflush(stdout);
        struct timespec ts = {interval / 1000, (long)(interval % 1000) * 1000000L};
        while (!stop && nanosleep(&ts, &ts) != 0)
            ;
        if (stop)
            break;
        frame_free(&prev);
        prev = cur;
        if (take_frame(addr, &cur, err, sizeof err) != 0) {
            memset(&cur, 0, sizeof cur);
            printf("\n%s top: %s (the run is over, or its coordinator gone)\n", o->progname, err);
            break;
        }
        rates(&cur, &prev);
    }
    frame_free(&prev);
    frame_free(&cur);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return status;
}
