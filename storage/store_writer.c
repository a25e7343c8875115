/*
** storage/store_writer.c -- the writer thread (store_writer.h).
**
** The picture:
**
**   owner thread                      writer thread (its own store_t)
**   store_writer_sample() --+
**   store_writer_gc() ------+--> queue: head ... tail --take--> pending
**   ...                     |    (under mu)                     (the thread's)
**                           |                                    |  apply, in
**   store_writer_full() <---+-- bytes (atomic): queued +         |  BEGIN..COMMIT
**                               pending, not yet settled         v
**   store_writer_drain() <----- nsettled (under mu) <----- commit, skip, drop
**   store_writer_error() <----- reports (under mu) <------ what failed
**
** A record is one allocation: the rec_t, then the arrays and strings it
** points into (an arena), so that freeing it is one free().
**
** Invariants:
**   - Records leave the queue in the order they entered it, and pending
**     is applied in its order; a transaction holds a prefix of pending,
**     and is committed before any later record is applied outside it.
**   - nsettled counts records committed (or skipped within a committed
**     transaction) or dropped; nsettled <= nqueued, and every record
**     queued is settled exactly once.
**   - `bytes` is the sum of rec->bytes over the queue and pending.
**   - mu is never held across an SQLite call.
*/
#include "storage/store_writer.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/text.h"

#define QUEUE_MAX_BYTES (64u << 20)
#define COMMIT_EVERY_NS 200000000ull
#define GIVE_UP_NS 60000000000ull
#define BACKOFF_MIN_NS 100000000ull
#define BACKOFF_MAX_NS 1000000000ull
#define REPORTS_KEPT 32
#define REPORT_MAX 600
#define BUSY_TIMEOUT_MS 5000             /* as the store's own */
#define BUSY_STEP_NS 10000000ull         /* an abandon is seen within */
#define NEVER UINT64_MAX

typedef enum rec_kind {
    REC_SAMPLE,
    REC_GC,
    REC_EVENT,
    REC_WORKER,
    REC_TASK_START,
    REC_TASK_FINISH,
    REC_RUN_BEAT,
    REC_RUN_FINISH,
    REC_PROFILE,
    REC_RETENTION,
} rec_kind_t;

typedef struct rec {
    struct rec *next;
    rec_kind_t kind;
    bool skip;                    /* refused for its own sake: not applied again */
    size_t bytes;                 /* the allocation */
    union {
        store_sample_t sample;
        store_gc_t gc;
        store_event_t event;
        store_worker_t worker;
        struct {
            int64_t task_id, unix_ns;
            const char *worker, *host;
        } start;
        struct {
            int64_t task_id;
            store_task_result_t r;
            store_writer_metric_t *metrics;
            size_t n;
        } finish;
        struct {
            int64_t run_id, unix_ns;
            const char *status, *error;
        } run;
        store_profile_t profile;
        store_retention_t retention;
    } u;
} rec_t;

struct store_writer {
    store_t *st;                  /* the thread's alone */
    store_writer_opts_t o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;          /* to the thread: records, a drain, stop */
    pthread_cond_t settled;       /* to drainers: nsettled moved */
    _Atomic size_t bytes;

    /* Under mu. */
    rec_t *head, *tail;           /* queued, not yet taken */
    uint64_t nqueued, nsettled;
    uint64_t drain_upto;          /* a drainer waits for nsettled to reach it */
    bool stop;
    char reports[REPORTS_KEPT][REPORT_MAX];
    unsigned report_first, nreports;
    store_writer_stats_t stats;
    /* Read under mu by should_run, written by the thread under mu. */
    rec_t *pend_head;
    bool failing, in_txn;
    uint64_t retry_at, txn_started;

    /* The thread's alone. */
    rec_t *pend_tail;
    rec_t *next_apply;            /* first pending record not applied in the open
                                  ** transaction; NULL: all are */
    size_t pend_n;
    bool urgent;                  /* pending holds a result or a run's end */
    uint64_t failing_since, backoff_ns;
    bool no_events;               /* the database has no events table */
    uint64_t busy_since;          /* writer_busy: when this wait for a lock began */

    /* Set once by store_writer_abandon (read by the thread and by
    ** writer_busy without mu). */
    atomic_bool abandon;
};

/* ---- Reports ------------------------------------------------------------ */

/* A report for the owner (under mu). */
static void report_locked(store_writer_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void report_locked(store_writer_t *w, const char *fmt, ...)
{
    w->stats.errors++;
    if (w->nreports == REPORTS_KEPT)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->reports[(w->report_first + w->nreports) % REPORTS_KEPT], REPORT_MAX, fmt,
              ap);
    va_end(ap);
    w->nreports++;
}

int store_writer_error(store_writer_t *w, char *msg, size_t size)
{
    pthread_mutex_lock(&w->mu);
    int got = w->nreports > 0;
    if (got) {
        snprintf(msg, size, "%s", w->reports[w->report_first]);
        w->report_first = (w->report_first + 1) % REPORTS_KEPT;
        w->nreports--;
    }
    pthread_mutex_unlock(&w->mu);
    return got;
}

void store_writer_stats(store_writer_t *w, store_writer_stats_t *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    out->queued = w->nqueued;
    pthread_mutex_unlock(&w->mu);
}

/* ---- Records ------------------------------------------------------------ */

/* Where a record's arrays and strings go: base NULL only counts. */
typedef struct arena {
    char *base;
    size_t used;
} arena_t;

static void *arena_take(arena_t *a, size_t n, size_t align)
{
    a->used = (a->used + align - 1) & ~(align - 1);
    void *p = a->base ? a->base + a->used : NULL;
    a->used += n;
    return p;
}

static char *arena_str(arena_t *a, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = arena_take(a, n, 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* Each kind's copy: into r (a scratch rec_t when a->base is NULL, to
** count). Arrays are indexed only when they were given room. */
static void copy_rec(arena_t *a, rec_t *r, rec_kind_t kind, const void *src)
{
    switch (kind) {
    case REC_SAMPLE:
        r->u.sample = *(const store_sample_t *)src;
        r->u.sample.worker = arena_str(a, r->u.sample.worker);
        break;
    case REC_GC:
        r->u.gc = *(const store_gc_t *)src;
        r->u.gc.host = arena_str(a, r->u.gc.host);
        r->u.gc.heap = arena_str(a, r->u.gc.heap);
        r->u.gc.worker = arena_str(a, r->u.gc.worker);
        break;
    case REC_EVENT:
        r->u.event = *(const store_event_t *)src;
        r->u.event.kind = arena_str(a, r->u.event.kind);
        r->u.event.worker = arena_str(a, r->u.event.worker);
        r->u.event.detail = arena_str(a, r->u.event.detail);
        break;
    case REC_WORKER:
        r->u.worker = *(const store_worker_t *)src;
        r->u.worker.name = arena_str(a, r->u.worker.name);
        r->u.worker.host = arena_str(a, r->u.worker.host);
        break;
    case REC_TASK_START:
        r->u.start = ((const rec_t *)src)->u.start;
        r->u.start.worker = arena_str(a, r->u.start.worker);
        r->u.start.host = arena_str(a, r->u.start.host);
        break;
    case REC_TASK_FINISH: {
        const rec_t *s = src;
        store_writer_metric_t *m = arena_take(a, s->u.finish.n * sizeof *m, 8);
        r->u.finish = s->u.finish;
        r->u.finish.metrics = m;
        for (size_t i = 0; i < s->u.finish.n; i++) {
            const store_writer_metric_t *x = &s->u.finish.metrics[i];
            const char *name = arena_str(a, x->name), *unit = arena_str(a, x->unit);
            if (m)
                m[i] = (store_writer_metric_t){.name = name, .value = x->value, .unit = unit};
        }
        r->u.finish.r.status = arena_str(a, s->u.finish.r.status);
        r->u.finish.r.error = arena_str(a, s->u.finish.r.error);
        r->u.finish.r.output = arena_str(a, s->u.finish.r.output);
        break;
    }
    case REC_RUN_BEAT:
        r->u.run = ((const rec_t *)src)->u.run;
        break;
    case REC_RUN_FINISH:
        r->u.run = ((const rec_t *)src)->u.run;
        r->u.run.status = arena_str(a, r->u.run.status);
        r->u.run.error = arena_str(a, r->u.run.error);
        break;
    case REC_PROFILE: {
        const store_profile_t *p = src;
        store_profile_site_t *sites = arena_take(a, p->nsites * sizeof *sites, 8);
        r->u.profile = *p;
        r->u.profile.sites = sites;
        for (size_t i = 0; i < p->nsites; i++) {
            char *site = arena_str(a, p->sites[i].site);
            if (sites) {
                sites[i] = p->sites[i];
                sites[i].site = site;
            }
        }
        break;
    }
    case REC_RETENTION: {
        const store_retention_t *x = src;
        store_retention_site_t *sites = arena_take(a, x->nsites * sizeof *sites, 8);
        store_goroutine_leak_t *leaks = arena_take(a, x->nleaks * sizeof *leaks, 8);
        r->u.retention = *x;
        r->u.retention.sites = sites;
        r->u.retention.leaks = leaks;
        for (size_t i = 0; i < x->nsites; i++) {
            const store_retention_site_t *y = &x->sites[i];
            store_retention_site_t c = *y;
            c.site = arena_str(a, y->site);
            c.root_group = arena_str(a, y->root_group);
            c.root = arena_str(a, y->root);
            c.holder = arena_str(a, y->holder);
            c.path = arena_str(a, y->path);
            if (sites)
                sites[i] = c;
        }
        for (size_t i = 0; i < x->nleaks; i++) {
            store_goroutine_leak_t c = x->leaks[i];
            c.label = arena_str(a, x->leaks[i].label);
            c.reason = arena_str(a, x->leaks[i].reason);
            if (leaks)
                leaks[i] = c;
        }
        r->u.retention.worker = arena_str(a, x->worker);
        unsigned char *pprof = arena_take(a, x->pprof_len, 1);
        if (pprof && x->pprof_len)
            memcpy(pprof, x->pprof, x->pprof_len);
        r->u.retention.pprof = x->pprof ? pprof : NULL;
        break;
    }
    }
}

/* Copy src into a new record and queue it: 0 or -ENOMEM. */
static int push(store_writer_t *w, rec_kind_t kind, const void *src)
{
    rec_t scratch;
    size_t head = (sizeof(rec_t) + 15) & ~(size_t)15;
    arena_t count = {.base = NULL, .used = 0};
    copy_rec(&count, &scratch, kind, src);
    size_t bytes = head + count.used;
    rec_t *r = malloc(bytes);
    if (!r)
        return -ENOMEM;
    arena_t a = {.base = (char *)r + head, .used = 0};
    copy_rec(&a, r, kind, src);
    assert(a.used == count.used);
    r->next = NULL;
    r->kind = kind;
    r->skip = false;
    r->bytes = bytes;
    atomic_fetch_add(&w->bytes, bytes);
    pthread_mutex_lock(&w->mu);
    if (w->tail)
        w->tail->next = r;
    else
        w->head = r;
    w->tail = r;
    w->nqueued++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int store_writer_sample(store_writer_t *w, const store_sample_t *s)
{
    return push(w, REC_SAMPLE, s);
}

int store_writer_gc(store_writer_t *w, const store_gc_t *g)
{
    return push(w, REC_GC, g);
}

int store_writer_event(store_writer_t *w, const store_event_t *e)
{
    return push(w, REC_EVENT, e);
}

int store_writer_worker(store_writer_t *w, const store_worker_t *wk)
{
    return push(w, REC_WORKER, wk);
}

int store_writer_task_start(store_writer_t *w, int64_t task_id, const char *worker,
                            const char *host, int64_t started_unix_ns)
{
    rec_t r = {.u.start = {.task_id = task_id, .unix_ns = started_unix_ns, .worker = worker,
                           .host = host}};
    return push(w, REC_TASK_START, &r);
}

int store_writer_task_finish(store_writer_t *w, int64_t task_id,
                             const store_task_result_t *res,
                             const store_writer_metric_t *metrics, size_t n)
{
    rec_t r = {.u.finish = {.task_id = task_id, .r = *res,
                            .metrics = (store_writer_metric_t *)metrics, .n = n}};
    return push(w, REC_TASK_FINISH, &r);
}

int store_writer_run_beat(store_writer_t *w, int64_t run_id, int64_t now_unix_ns)
{
    rec_t r = {.u.run = {.run_id = run_id, .unix_ns = now_unix_ns}};
    return push(w, REC_RUN_BEAT, &r);
}

int store_writer_run_finish(store_writer_t *w, int64_t run_id, const char *status,
                            int64_t ended_unix_ns, const char *error)
{
    rec_t r = {.u.run = {.run_id = run_id, .unix_ns = ended_unix_ns, .status = status,
                         .error = error}};
    return push(w, REC_RUN_FINISH, &r);
}

int store_writer_profile(store_writer_t *w, const store_profile_t *p)
{
    return push(w, REC_PROFILE, p);
}

int store_writer_retention(store_writer_t *w, const store_retention_t *r)
{
    return push(w, REC_RETENTION, r);
}

bool store_writer_full(const store_writer_t *w)
{
    return atomic_load(&((store_writer_t *)w)->bytes) > w->o.queue_max_bytes;
}

/* ---- Applying ----------------------------------------------------------- */

/* Apply one record on the writer's connection: a store_* code, and what it
** was in words into what. */
static int apply(store_writer_t *w, const rec_t *r, char *what, size_t size)
{
    store_t *st = w->st;
    switch (r->kind) {
    case REC_SAMPLE:
        snprintf(what, size, "storing telemetry");
        return store_sample_insert(st, &r->u.sample);
    case REC_GC:
        snprintf(what, size, "storing a GC cycle");
        return store_gc_insert(st, &r->u.gc);
    case REC_EVENT:
        snprintf(what, size, "storing an event");
        return w->no_events ? STORE_ENOTABLE : store_event_insert(st, &r->u.event);
    case REC_WORKER:
        snprintf(what, size, "storing worker %s", r->u.worker.name ? r->u.worker.name : "?");
        return store_worker_insert(st, &r->u.worker);
    case REC_TASK_START:
        snprintf(what, size, "starting task %lld", (long long)r->u.start.task_id);
        return store_task_start(st, r->u.start.task_id, r->u.start.worker, r->u.start.host,
                                r->u.start.unix_ns);
    case REC_TASK_FINISH: {
        snprintf(what, size, "storing task %lld", (long long)r->u.finish.task_id);
        int rc = store_task_finish(st, r->u.finish.task_id, &r->u.finish.r);
        for (size_t i = 0; rc == 0 && i < r->u.finish.n; i++) {
            const store_writer_metric_t *m = &r->u.finish.metrics[i];
            snprintf(what, size, "storing task %lld's metric %s",
                     (long long)r->u.finish.task_id, m->name ? m->name : "?");
            rc = store_metric_insert(st, r->u.finish.task_id, m->name, m->value, m->unit);
        }
        return rc;
    }
    case REC_RUN_BEAT:
        snprintf(what, size, "run %lld's heartbeat", (long long)r->u.run.run_id);
        return store_run_beat(st, r->u.run.run_id, r->u.run.unix_ns);
    case REC_RUN_FINISH:
        snprintf(what, size, "finishing run %lld", (long long)r->u.run.run_id);
        return store_run_finish(st, r->u.run.run_id, r->u.run.status, r->u.run.unix_ns,
                                r->u.run.error);
    case REC_PROFILE:
        snprintf(what, size, "storing task %lld's heap profile",
                 (long long)r->u.profile.task_id);
        return store_profile_insert(st, &r->u.profile);
    case REC_RETENTION:
        snprintf(what, size, "storing task %lld's heap snapshot",
                 (long long)r->u.retention.task_id);
        return store_retention_insert(st, &r->u.retention);
    }
    return STORE_EUSAGE;
}

/* A failure that is the record's own (it would fail again), not the
** database's or the disk's. */
static bool own_fault(int rc)
{
    return rc == STORE_EUSAGE || rc == STORE_ENOTFOUND || rc == STORE_ENOTABLE;
}

/* Apply the pending records not yet applied, opening a transaction first
** when none is: 0, or -1 with the failure in msg (the transaction then
** still to be rolled back). */
static int apply_pending(store_writer_t *w, char *msg, size_t size)
{
    char what[200];
    if (!w->in_txn) {
        int rc = store_begin(w->st);
        if (rc != 0) {
            text_set_err(msg, size, "storing telemetry: %s", store_errmsg(w->st));
            return -1;
        }
        pthread_mutex_lock(&w->mu);
        w->in_txn = true;
        w->txn_started = clock_mono_ns();
        pthread_mutex_unlock(&w->mu);
        w->next_apply = w->pend_head;
    }
    for (rec_t *r = w->next_apply; r; r = r->next) {
        if (r->skip)
            continue;
        /* A record of several rows is undone alone when one is refused. */
        bool rows = r->kind == REC_TASK_FINISH || r->kind == REC_PROFILE ||
                    r->kind == REC_RETENTION;
        char why[512] = "";
        int rc = rows ? store_savepoint(w->st) : 0;
        bool opened = rc == 0;
        if (rc == 0) {
            rc = apply(w, r, what, sizeof what);
        } else {
            /* No savepoint: the transaction itself is gone (SQLite rolls
            ** back on a full disk or an I/O error). The database's fault,
            ** never the record's, whatever code the store gave. */
            rc = STORE_EDB;
            snprintf(what, sizeof what, "storing a record");
        }
        if (rc != 0)
            snprintf(why, sizeof why, "%s", store_errmsg(w->st));
        if (opened && rows && (rc == 0 || own_fault(rc)) &&
            store_savepoint_end(w->st, rc == 0) != 0) {
            rc = STORE_EDB;
            snprintf(why, sizeof why, "%s", store_errmsg(w->st));
        }
        if (rc == 0) {
            if (r->kind == REC_TASK_FINISH || r->kind == REC_RUN_FINISH)
                w->urgent = true;
            continue;
        }
        if (own_fault(rc)) {
            r->skip = true;
            bool quiet = r->kind == REC_EVENT && rc == STORE_ENOTABLE;
            if (quiet)
                w->no_events = true;
            pthread_mutex_lock(&w->mu);
            w->stats.skipped++;
            if (!quiet)
                report_locked(w, "%s: %s (not stored)", what, why);
            pthread_mutex_unlock(&w->mu);
            continue;
        }
        w->next_apply = r;
        text_set_err(msg, size, "%s: %s", what, why);
        return -1;
    }
    w->next_apply = NULL;
    return 0;
}

/* Free the records of list; how many bytes they took. */
static size_t free_recs(rec_t *list)
{
    size_t bytes = 0;
    while (list) {
        rec_t *next = list->next;
        bytes += list->bytes;
        free(list);
        list = next;
    }
    return bytes;
}

/* The pending records are settled (committed, or dropped): free them and
** tell the drainers. */
static void settle_pending(store_writer_t *w, bool committed)
{
    uint64_t stored = 0;
    for (rec_t *r = w->pend_head; r; r = r->next)
        stored += !r->skip;
    size_t n = w->pend_n;
    /* Room first, then settled: a drainer woken sees the room too. */
    atomic_fetch_sub(&w->bytes, free_recs(w->pend_head));
    pthread_mutex_lock(&w->mu);
    w->pend_head = NULL;
    w->in_txn = false;
    w->nsettled += n;
    if (committed) {
        w->stats.stored += stored;
        w->stats.commits++;
    }
    pthread_cond_broadcast(&w->settled);
    pthread_mutex_unlock(&w->mu);
    w->pend_tail = w->next_apply = NULL;
    w->pend_n = 0;
    w->urgent = false;
}

/* A batch failed (msg says how): roll back, report, back off; after
** give_up_ns of failures in a row, drop everything queued. */
static void batch_failed(store_writer_t *w, const char *msg)
{
    uint64_t now = clock_mono_ns();
    store_rollback(w->st);
    w->next_apply = w->pend_head;
    if (!w->failing) {
        w->failing_since = now;
        w->backoff_ns = BACKOFF_MIN_NS;
    } else {
        w->backoff_ns = w->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : w->backoff_ns * 2;
    }
    if (now - w->failing_since >= w->o.give_up_ns) {
        pthread_mutex_lock(&w->mu);
        rec_t *queued = w->head;
        uint64_t nq = w->nqueued - w->nsettled - w->pend_n;
        w->head = w->tail = NULL;
        uint64_t ndropped = nq + w->pend_n;
        for (rec_t *r = w->pend_head; r; r = r->next)
            ndropped -= r->skip;       /* counted as skipped already */
        w->stats.dropped += ndropped;
        atomic_fetch_sub(&w->bytes, free_recs(queued));
        w->nsettled += nq;
        w->failing = false;
        report_locked(w, "%s; failing for %.0f s, gave up: %llu records not stored", msg,
                      (double)(now - w->failing_since) / 1e9, (unsigned long long)ndropped);
        pthread_mutex_unlock(&w->mu);
        settle_pending(w, false);
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->in_txn = false;
    w->failing = true;
    w->retry_at = now + w->backoff_ns;
    if (!atomic_load(&w->abandon))
        report_locked(w, "%s; retrying, %llu records wait", msg,
                      (unsigned long long)(w->nqueued - w->nsettled));
    pthread_mutex_unlock(&w->mu);
}

/* Abandoned (store_writer_abandon): roll back and let pending go, counted
** as dropped. */
static void abandon_pending(store_writer_t *w)
{
    store_rollback(w->st);
    uint64_t ndropped = 0;
    for (rec_t *r = w->pend_head; r; r = r->next)
        ndropped += !r->skip;          /* the skipped are counted already */
    pthread_mutex_lock(&w->mu);
    w->stats.dropped += ndropped;
    w->failing = false;
    pthread_mutex_unlock(&w->mu);
    settle_pending(w, false);
}

/* The busy handler of the writer's connection: the busy timeout, in steps
** that see an abandon. */
static int writer_busy(void *arg, int count)
{
    store_writer_t *w = arg;
    if (atomic_load(&w->abandon))
        return 0;
    uint64_t now = clock_mono_ns();
    if (count == 0)
        w->busy_since = now;
    int ms = w->o.busy_timeout_ms > 0 ? w->o.busy_timeout_ms : BUSY_TIMEOUT_MS;
    if (now - w->busy_since >= (uint64_t)ms * 1000000u)
        return 0;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = count < 10 ? 1000000 : (long)BUSY_STEP_NS};
    nanosleep(&ts, NULL);
    return !atomic_load(&w->abandon);
}

/* Take what was queued (under mu) onto pending. */
static void take_locked(store_writer_t *w)
{
    rec_t *r = w->head;
    if (!r)
        return;
    w->head = w->tail = NULL;
    if (w->pend_tail)
        w->pend_tail->next = r;
    else
        w->pend_head = r;
    if (!w->next_apply)
        w->next_apply = r;
    for (; r; r = r->next) {
        w->pend_n++;
        w->pend_tail = r;
    }
}

/* Under mu: whether the thread has something to do now; if not, *due is
** when it will (NEVER: when woken). */
static bool should_run(const store_writer_t *w, uint64_t now, uint64_t *due)
{
    *due = NEVER;
    if (w->head || (w->pend_head && atomic_load(&w->abandon)))
        return true;
    if (!w->pend_head)
        return w->stop;
    if (w->failing) {
        *due = w->retry_at;
        return now >= w->retry_at;
    }
    if (w->stop || w->drain_upto > w->nsettled || !w->in_txn || store_writer_full(w))
        return true;
    *due = w->txn_started + w->o.commit_every_ns;
    return now >= *due;
}

static void *writer_main(void *arg)
{
    store_writer_t *w = arg;
    char msg[REPORT_MAX - 100];

    pthread_mutex_lock(&w->mu);
    for (;;) {
        uint64_t now = clock_mono_ns(), due;
        while (!should_run(w, now, &due)) {
            if (due == NEVER) {
                pthread_cond_wait(&w->wake, &w->mu);
            } else {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t ns = (uint64_t)ts.tv_nsec + (due - now);
                ts.tv_sec += (time_t)(ns / 1000000000u);
                ts.tv_nsec = (long)(ns % 1000000000u);
                pthread_cond_timedwait(&w->wake, &w->mu, &ts);
            }
            now = clock_mono_ns();
        }
        if (w->stop && !w->head && !w->pend_head)
            break;
        take_locked(w);
        if (atomic_load(&w->abandon)) {
            pthread_mutex_unlock(&w->mu);
            if (w->pend_head)
                abandon_pending(w);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        /* A drainer waits, or the owner does (full): commit now. */
        bool hurry = w->stop || w->drain_upto > w->nsettled || store_writer_full(w);
        bool retry_due = !w->failing || now >= w->retry_at;
        pthread_mutex_unlock(&w->mu);

        if (retry_due && w->pend_head) {
            bool retrying = w->failing;
            if (apply_pending(w, msg, sizeof msg) != 0) {
                batch_failed(w, msg);
            } else if (retrying || hurry || w->urgent ||
                       clock_mono_ns() - w->txn_started >= w->o.commit_every_ns) {
                if (store_commit(w->st) != 0) {
                    text_set_err(msg, sizeof msg, "storing telemetry: committing: %s",
                            store_errmsg(w->st));
                    batch_failed(w, msg);
                } else {
                    pthread_mutex_lock(&w->mu);
                    w->failing = false;
                    pthread_mutex_unlock(&w->mu);
                    settle_pending(w, true);
                }
            }
        }
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- Life --------------------------------------------------------------- */

int store_writer_new(const char *path, const store_writer_opts_t *opts,
                     store_writer_t **w_p, char *err, size_t errsize)
{
    store_writer_t *w = calloc(1, sizeof *w);
    pthread_condattr_t ca;
    int rc;

    *w_p = NULL;
    if (!w) {
        snprintf(err, errsize, "out of memory");
        return -ENOMEM;
    }
    if (opts)
        w->o = *opts;
    if (!w->o.queue_max_bytes)
        w->o.queue_max_bytes = QUEUE_MAX_BYTES;
    if (!w->o.commit_every_ns)
        w->o.commit_every_ns = COMMIT_EVERY_NS;
    if (!w->o.give_up_ns)
        w->o.give_up_ns = GIVE_UP_NS;
    atomic_init(&w->bytes, 0);
    atomic_init(&w->abandon, false);
    if ((rc = store_open(path, 0, &w->st, err, errsize)) != 0)
        goto out_free;
    if (store_set_busy_handler(w->st, writer_busy, w) != 0) {
        snprintf(err, errsize, "%s: cannot set the busy handler", path);
        rc = STORE_EUSAGE;
        goto out_close;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &ca);
    pthread_cond_init(&w->settled, &ca);
    pthread_condattr_destroy(&ca);
    if ((rc = pthread_create(&w->thread, NULL, writer_main, w)) != 0) {
        snprintf(err, errsize, "cannot start the storage writer: %s", strerror(rc));
        rc = -rc;
        goto out_sync;
    }
    *w_p = w;
    return 0;

out_sync:
    pthread_cond_destroy(&w->settled);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
out_close:
    store_close(&w->st);
out_free:
    free(w);
    return rc;
}

void store_writer_drain(store_writer_t *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t target = w->nqueued;
    if (target > w->drain_upto)
        w->drain_upto = target;
    pthread_cond_signal(&w->wake);
    while (w->nsettled < target)
        pthread_cond_wait(&w->settled, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

int store_writer_drain_for(store_writer_t *w, uint64_t wait_ns)
{
    /* The deadline, now + wait_ns, without wrapping: whole seconds and
    ** the rest apart (tv_nsec + rest < 2e9), the seconds saturated at the
    ** largest time_t (a wait as good as forever). */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t secs = wait_ns / 1000000000u;
    uint64_t nsec = (uint64_t)ts.tv_nsec + wait_ns % 1000000000u;
    secs += nsec / 1000000000u;
    ts.tv_nsec = (long)(nsec % 1000000000u);
    const time_t max_sec = (time_t)(((uint64_t)1 << (sizeof(time_t) * 8 - 1)) - 1);
    if (secs > (uint64_t)(max_sec - ts.tv_sec))
        ts.tv_sec = max_sec;
    else
        ts.tv_sec += (time_t)secs;
    pthread_mutex_lock(&w->mu);
    uint64_t target = w->nqueued;
    if (target > w->drain_upto)
        w->drain_upto = target;
    pthread_cond_signal(&w->wake);
    while (w->nsettled < target &&
           pthread_cond_timedwait(&w->settled, &w->mu, &ts) != ETIMEDOUT)
        ;
    int rc = w->nsettled < target;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

uint64_t store_writer_abandon(store_writer_t *w)
{
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->abandon, true);
    uint64_t target = w->nqueued, dropped0 = w->stats.dropped;
    pthread_cond_signal(&w->wake);
    while (w->nsettled < target)
        pthread_cond_wait(&w->settled, &w->mu);
    uint64_t n = w->stats.dropped - dropped0;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void store_writer_destroy(store_writer_t **w_p)
{
    store_writer_t *w = w_p ? *w_p : NULL;
    if (!w)
        return;
    store_writer_drain(w);
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    assert(!w->head && !w->pend_head);
    store_close(&w->st);
    pthread_cond_destroy(&w->settled);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w);
    *w_p = NULL;
}
