/*
** coordinator/coord.c -- the coordinator's loop.
**
** State per task: PENDING (in the queue) -> RUNNING (sent to a worker) ->
** DONE or FAILED (its result stored). Per worker: its name (from hello),
** host, the ROUTER identity of its request socket, and the task it holds.
** A `ready` that finds no pending task is parked in `waiting` and answered
** when the run ends (done) -- or, later, when a task is re-queued.
** tasks[i] is the plan's task i; its id and heap key are the plan's.
*/
#include "coordinator/coord.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "base/clock.h"
#include "proto/proto.h"

#define IDENTITY_MAX 256
#define COMMIT_EVERY_NS 200000000ull
#define DRAIN_GRACE_NS 3000000000ull
#define PROGRESS_EVERY_NS 200000000ull

_Static_assert(PLAN_KEY_MAX <= PROTO_NAME_MAX, "a heap key fits in a task message");

typedef enum task_state { T_PENDING, T_RUNNING, T_DONE, T_FAILED } task_state_t;

typedef struct ctask {
    int64_t id;
    task_state_t state;
    int worker;                   /* index into workers, -1 */
    proto_task_t msg;             /* what we send (params borrowed) */
} ctask_t;

typedef struct cworker {
    char name[PROTO_NAME_MAX];
    char host[PROTO_NAME_MAX];
    int64_t pid;
    unsigned char ident[IDENTITY_MAX];
    size_t ident_len;
    bool waiting;                 /* a ready not yet answered */
    int task;                     /* index into tasks, -1 */
    bool gone;
} cworker_t;

struct coord {
    coord_opts_t o;
    void *zctx, *sock;
    char endpoint[512];
    ctask_t *tasks;
    size_t ntasks;
    size_t *queue;                /* pending task indices, FIFO */
    size_t qhead, qtail;
    cworker_t *workers;
    int nworkers, capworkers;
    size_t ndone, nfailed, nrunning;
    bool in_txn;
    uint64_t txn_started;
    int64_t last_heap_inuse;
    int64_t gc_cycles_seen;
    uint64_t bad_frames;
    int supervised;               /* workers the supervisor has, -1 none */
};

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}



/* ---- Storage transactions ---------------------------------------------- */

static void txn_touch(coord_t *c)
{
    if (!c->in_txn && store_begin(c->o.store) == 0) {
        c->in_txn = true;
        c->txn_started = clock_mono_ns();
    }
}

static void txn_flush(coord_t *c, bool force)
{
    if (c->in_txn && (force || clock_mono_ns() - c->txn_started >= COMMIT_EVERY_NS)) {
        if (store_commit(c->o.store) != 0)
            fprintf(stderr, "heapsim coordinator: storing telemetry: %s\n",
                    store_errmsg(c->o.store));
        c->in_txn = false;
    }
}

/* ---- Setup ------------------------------------------------------------- */

int coord_new(const coord_opts_t *opts, coord_t **coord_p, char *err, size_t errsize)
{
    coord_t *c = calloc(1, sizeof *c);
    const plan_t *plan = opts->plan;
    const scenario_t *s = plan_scenario(plan);
    int linger = 1000, mandatory = 1;
    size_t len;

    *coord_p = NULL;
    if (!c)
        goto out_nomem;
    c->o = *opts;
    c->ntasks = s->ntasks;
    c->tasks = calloc(s->ntasks ? s->ntasks : 1, sizeof *c->tasks);
    c->queue = calloc(s->ntasks ? s->ntasks : 1, sizeof *c->queue);
    if (!c->tasks || !c->queue)
        goto out_free;
    c->supervised = -1;
    assert(plan_ids_complete(plan));

    for (size_t i = 0; i < s->ntasks; i++) {
        const scn_task_t *st = plan_task(plan, i)->scn;
        ctask_t *t = &c->tasks[i];
        t->id = plan_task(plan, i)->id;
        t->state = T_PENDING;
        t->worker = -1;
        t->msg.run_id = opts->run_id;
        snprintf(t->msg.token, sizeof t->msg.token, "%s", plan_token(plan));
        snprintf(t->msg.heap, sizeof t->msg.heap, "%s", plan_task_heap_key(plan, i));
        t->msg.task_id = t->id;
        t->msg.seq = st->seq;
        t->msg.seed = (int64_t)st->seed;
        t->msg.sample_interval_ns = (int64_t)s->sample_interval_ns;
        t->msg.gogc = st->runtime.gogc;
        t->msg.memory_limit_bytes = st->runtime.memory_limit_bytes;
        t->msg.heap_max_bytes = st->runtime.heap_max_bytes;
        t->msg.stack_reserve_bytes = st->runtime.stack_reserve_bytes;
        t->msg.timer_resolution_ns = st->runtime.timer_resolution_ns;
        t->msg.gctrace = st->runtime.gctrace;
        t->msg.mem_profile_rate = st->runtime.mem_profile_rate;
        t->msg.heap_private = !s->shared_heap;
        t->msg.params = st->params;        /* borrowed from the scenario */
        c->queue[c->qtail++] = i;
    }

    c->zctx = zmq_ctx_new();
    if (!c->zctx)
        goto out_free;
    c->sock = zmq_socket(c->zctx, ZMQ_ROUTER);
    if (!c->sock)
        goto out_ctx;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    /* A reply to a worker that is gone must fail loudly, not vanish. */
    zmq_setsockopt(c->sock, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    if (zmq_bind(c->sock, opts->bind) != 0) {
        snprintf(err, errsize, "cannot bind %s: %s", opts->bind, zmq_strerror(errno));
        zmq_close(c->sock);
        zmq_ctx_term(c->zctx);
        goto out_free_quiet;
    }
    len = sizeof c->endpoint;
    if (zmq_getsockopt(c->sock, ZMQ_LAST_ENDPOINT, c->endpoint, &len) != 0)
        snprintf(c->endpoint, sizeof c->endpoint, "%s", opts->bind);
    *coord_p = c;
    return 0;

out_ctx:
    zmq_ctx_term(c->zctx);
out_free:
    snprintf(err, errsize, "out of memory");
out_free_quiet:
    free(c->tasks);
    free(c->queue);
    free(c);
    return -ENOMEM;
out_nomem:
    snprintf(err, errsize, "out of memory");
    return -ENOMEM;
}

void coord_destroy(coord_t **coord_p)
{
    coord_t *c = coord_p ? *coord_p : NULL;
    if (!c)
        return;
    txn_flush(c, true);
    zmq_close(c->sock);
    zmq_ctx_term(c->zctx);
    free(c->tasks);
    free(c->queue);
    free(c->workers);
    free(c);
    *coord_p = NULL;
}

const char *coord_endpoint(const coord_t *c)
{
    return c->endpoint;
}

/* ---- Workers ----------------------------------------------------------- */

static int find_worker(coord_t *c, const char *name)
{
    for (int i = 0; i < c->nworkers; i++)
        if (strcmp(c->workers[i].name, name) == 0)
            return i;
    return -1;
}

static int add_worker(coord_t *c, const char *name)
{
    if (c->nworkers == c->capworkers) {
        int cap = c->capworkers ? c->capworkers * 2 : 16;
        cworker_t *w = realloc(c->workers, (size_t)cap * sizeof *w);
        if (!w)
            return -1;
        c->workers = w;
        c->capworkers = cap;
    }
    cworker_t *w = &c->workers[c->nworkers];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->task = -1;
    return c->nworkers++;
}

static int send_to(coord_t *c, cworker_t *w, const proto_msg_t *m)
{
    char *buf;
    size_t len;
    int rc = proto_encode(m, &buf, &len);
    if (rc != 0)
        return rc;
    if (zmq_send(c->sock, w->ident, w->ident_len, ZMQ_SNDMORE) < 0 ||
        zmq_send(c->sock, buf, len, 0) < 0)
        rc = -errno;
    free(buf);
    return rc;
}

/* ---- Tasks ------------------------------------------------------------- */

static void finish_task(coord_t *c, ctask_t *t, bool ok, const store_task_result_t *r,
                        const proto_result_t *pr)
{
    if (t->state == T_RUNNING)
        c->nrunning--;
    t->state = ok ? T_DONE : T_FAILED;
    if (ok)
        c->ndone++;
    else
        c->nfailed++;
    txn_touch(c);
    if (store_task_finish(c->o.store, t->id, r) != 0)
        fprintf(stderr, "heapsim coordinator: storing task %lld: %s\n",
                (long long)t->id, store_errmsg(c->o.store));
    for (size_t i = 0; pr && i < pr->nmetrics; i++)
        store_metric_insert(c->o.store, t->id, pr->metrics[i].name, pr->metrics[i].value,
                            pr->metrics[i].unit);
    txn_flush(c, true);
}

static void fail_task(coord_t *c, ctask_t *t, const char *why)
{
    store_task_result_t r = {
        .status = "failed",
        .error = why,
        .ended_unix_ns = clock_unix_ns(),
    };
    finish_task(c, t, false, &r, NULL);
}

static void dispatch(coord_t *c)
{
    for (int i = 0; i < c->nworkers && c->qhead < c->qtail; i++) {
        cworker_t *w = &c->workers[i];
        if (!w->waiting || w->gone)
            continue;
        size_t ti = c->queue[c->qhead];
        ctask_t *t = &c->tasks[ti];
        proto_msg_t m = {.type = PROTO_TASK};
        m.u.task = t->msg;
        if (send_to(c, w, &m) != 0) {
            fprintf(stderr, "heapsim coordinator: worker %s is unreachable: %s\n",
                    w->name, zmq_strerror(errno));
            w->gone = true;
            w->waiting = false;
            continue;
        }
        c->qhead++;
        w->waiting = false;
        w->task = (int)ti;
        t->state = T_RUNNING;
        t->worker = i;
        c->nrunning++;
        txn_touch(c);
        store_task_start(c->o.store, t->id, w->name, w->host, clock_unix_ns());
    }
}

static ctask_t *task_by_id(coord_t *c, int64_t id)
{
    long i = plan_find_task(c->o.plan, id);
    return i < 0 ? NULL : &c->tasks[i];
}

/* ---- Messages ---------------------------------------------------------- */

static void bad_frame(coord_t *c, const char *why)
{
    /* Say the first few, then only count: a flood must not flood stderr. */
    if (c->bad_frames++ < 5)
        fprintf(stderr, "heapsim coordinator: ignoring a malformed message: %s\n", why);
}

static void on_hello(coord_t *c, const proto_msg_t *m, const void *ident, size_t ilen)
{
    int i = find_worker(c, m->u.hello.worker);
    if (i < 0 && (i = add_worker(c, m->u.hello.worker)) < 0)
        return;
    cworker_t *w = &c->workers[i];
    snprintf(w->host, sizeof w->host, "%s", m->u.hello.host);
    w->pid = m->u.hello.pid;
    memcpy(w->ident, ident, ilen);
    w->ident_len = ilen;
    store_worker_t sw = {
        .run_id = c->o.run_id,
        .name = w->name,
        .host = w->host,
        .pid = w->pid,
        .ncpu = m->u.hello.ncpu,
        .joined_unix_ns = clock_unix_ns(),
    };
    txn_touch(c);
    store_worker_insert(c->o.store, &sw);
}

static void on_ready(coord_t *c, const proto_msg_t *m, const void *ident, size_t ilen)
{
    int i = find_worker(c, m->worker);
    if (i < 0) {
        bad_frame(c, "'ready' from a worker that did not say hello");
        return;
    }
    cworker_t *w = &c->workers[i];
    memcpy(w->ident, ident, ilen);
    w->ident_len = ilen;
    w->waiting = true;
    w->gone = false;
}

static void on_result(coord_t *c, proto_msg_t *m)
{
    const proto_result_t *r = &m->u.result;
    ctask_t *t = task_by_id(c, r->task_id);
    int wi = find_worker(c, r->worker);
    if (!t || t->state != T_RUNNING || wi < 0 || t->worker != wi) {
        bad_frame(c, "a result for a task this worker does not hold");
        return;
    }
    c->workers[wi].task = -1;
    store_task_result_t sr = {
        .status = r->ok ? "done" : "failed",
        .error = r->error,
        .output = r->output,
        .ended_unix_ns = clock_unix_ns(),
        .wall_ns = r->wall_ns,
        .alloc_objects = r->alloc_objects,
        .alloc_bytes = r->alloc_bytes,
        .gc_cycles = r->gc_cycles,
        .pause_max_ns = r->pause_max_ns,
        .pause_total_ns = r->pause_total_ns,
        .peak_heap_bytes = r->peak_heap_bytes,
        .peak_rss_bytes = r->peak_rss_bytes,
        .stack_hwm_bytes = r->stack_hwm_bytes,
        .goroutines_max = r->goroutines_max,
    };
    finish_task(c, t, r->ok != 0, &sr, r);
}

static void on_sample(coord_t *c, const proto_msg_t *m)
{
    const proto_sample_t *s = &m->u.sample;
    if (!task_by_id(c, s->task_id)) {
        bad_frame(c, "a sample for a task of another run");
        return;
    }
    store_sample_t ss = {
        .run_id = c->o.run_id, .task_id = s->task_id, .worker = s->worker,
        .t_ns = s->t_ns, .unix_ns = s->unix_ns,
        .heap_alloc_bytes = s->heap_alloc_bytes, .heap_inuse_bytes = s->heap_inuse_bytes,
        .heap_sys_bytes = s->heap_sys_bytes, .heap_live_bytes = s->heap_live_bytes,
        .heap_goal_bytes = s->heap_goal_bytes, .num_gc = s->num_gc,
        .pause_total_ns = s->pause_total_ns, .alloc_objects = s->alloc_objects,
        .alloc_bytes = s->alloc_bytes, .goroutines = s->goroutines,
        .stack_inuse_bytes = s->stack_inuse_bytes, .rss_bytes = s->rss_bytes,
        .cpu_user_ns = s->cpu_user_ns, .cpu_sys_ns = s->cpu_sys_ns,
        .minor_faults = s->minor_faults, .major_faults = s->major_faults,
        .ctx_switches = s->ctx_switches,
    };
    c->last_heap_inuse = s->heap_inuse_bytes;
    txn_touch(c);
    store_sample_insert(c->o.store, &ss);
}

static void on_gc(coord_t *c, const proto_msg_t *m)
{
    const proto_gc_t *g = &m->u.gc;
    int wi = find_worker(c, g->worker);
    if (g->task_id != 0 && !task_by_id(c, g->task_id)) {
        bad_frame(c, "a GC cycle for a task of another run");
        return;
    }
    store_gc_t sg = {
        .run_id = c->o.run_id, .task_id = g->task_id,
        .host = wi >= 0 ? c->workers[wi].host : "", .heap = g->heap, .worker = g->worker,
        .fields = g->fields,
    };
    c->gc_cycles_seen++;
    txn_touch(c);
    store_gc_insert(c->o.store, &sg);
}

static void on_profile(coord_t *c, const proto_msg_t *m)
{
    const proto_profile_t *p = &m->u.profile;
    if (!task_by_id(c, p->task_id)) {
        bad_frame(c, "a heap profile for a task of another run");
        return;
    }
    store_profile_site_t *sites = calloc(p->nsites ? p->nsites : 1, sizeof *sites);
    if (!sites)
        return;
    for (size_t i = 0; i < p->nsites; i++) {
        sites[i].site = (char *)p->sites[i].site;
        sites[i].alloc_objects = p->sites[i].alloc_objects;
        sites[i].alloc_bytes = p->sites[i].alloc_bytes;
        sites[i].inuse_objects = p->sites[i].inuse_objects;
        sites[i].inuse_bytes = p->sites[i].inuse_bytes;
    }
    store_profile_t sp = {
        .task_id = p->task_id, .cycle = p->cycle, .final = p->final, .rate = p->rate,
        .sites = sites, .nsites = p->nsites,
    };
    txn_touch(c);
    store_profile_insert(c->o.store, &sp);
    free(sites);
}

/* Receive and handle one message; 0 when there was none. */
static int handle_one(coord_t *c)
{
    unsigned char ident[IDENTITY_MAX];
    zmq_msg_t body;
    char err[256];
    proto_msg_t m;
    int more;
    size_t moresz = sizeof more;

    int ilen = zmq_recv(c->sock, ident, sizeof ident, ZMQ_DONTWAIT);
    if (ilen < 0)
        return 0;
    zmq_getsockopt(c->sock, ZMQ_RCVMORE, &more, &moresz);
    if (!more) {
        bad_frame(c, "a message with no body");
        return 1;
    }
    zmq_msg_init(&body);
    if (zmq_msg_recv(&body, c->sock, 0) < 0) {
        zmq_msg_close(&body);
        return 1;
    }
    /* Swallow any further frames: our messages are one frame. */
    zmq_getsockopt(c->sock, ZMQ_RCVMORE, &more, &moresz);
    bool extra = more;
    while (more) {
        zmq_msg_t junk;
        zmq_msg_init(&junk);
        zmq_msg_recv(&junk, c->sock, 0);
        zmq_msg_close(&junk);
        zmq_getsockopt(c->sock, ZMQ_RCVMORE, &more, &moresz);
    }
    if (extra || ilen > IDENTITY_MAX) {
        zmq_msg_close(&body);
        bad_frame(c, "a message of more than one frame");
        return 1;
    }
    int rc = proto_decode(zmq_msg_data(&body), zmq_msg_size(&body), &m, err, sizeof err);
    zmq_msg_close(&body);
    if (rc != 0) {
        bad_frame(c, err);
        return 1;
    }
    switch (m.type) {
    case PROTO_HELLO: on_hello(c, &m, ident, (size_t)ilen); break;
    case PROTO_READY: on_ready(c, &m, ident, (size_t)ilen); break;
    case PROTO_RESULT: on_result(c, &m); break;
    case PROTO_SAMPLE: on_sample(c, &m); break;
    case PROTO_GC: on_gc(c, &m); break;
    case PROTO_PROFILE: on_profile(c, &m); break;
    default: bad_frame(c, "a message only the coordinator sends"); break;
    }
    proto_msg_free(&m);
    return 1;
}

/* ---- Supervised workers ------------------------------------------------ */

void coord_worker_exited(coord_t *c, int64_t pid, const char *why)
{
    for (int w = 0; w < c->nworkers; w++) {
        cworker_t *cw = &c->workers[w];
        if (cw->pid != pid)
            continue;
        cw->gone = true;
        cw->waiting = false;
        if (cw->task >= 0 && c->tasks[cw->task].state == T_RUNNING) {
            char msg[512];
            snprintf(msg, sizeof msg, "worker %s %s while running the task", cw->name, why);
            fail_task(c, &c->tasks[cw->task], msg);
            cw->task = -1;
        }
    }
}

static void supervise(coord_t *c)
{
    if (!c->o.hooks.supervise)
        return;
    c->supervised = c->o.hooks.supervise(c, c->o.hooks.arg);
    /* No supervised worker left and no way to get one: fail what remains. */
    if (c->supervised == 0) {
        for (size_t i = 0; i < c->ntasks; i++)
            if (c->tasks[i].state == T_PENDING || c->tasks[i].state == T_RUNNING)
                fail_task(c, &c->tasks[i], "no worker left to run the task");
        c->qhead = c->qtail;
    }
}

/* ---- Progress ---------------------------------------------------------- */

static void progress(coord_t *c, uint64_t started, bool final)
{
    if (!c->o.hooks.progress)
        return;
    coord_progress_t p = {
        .run_id = c->o.run_id,
        .ntasks = c->ntasks,
        .nfinished = c->ndone + c->nfailed,
        .nrunning = c->nrunning,
        .nfailed = c->nfailed,
        .nworkers = c->nworkers,
        .heap_inuse_bytes = c->last_heap_inuse,
        .gc_cycles = c->gc_cycles_seen,
        .elapsed_ns = clock_mono_ns() - started,
    };
    c->o.hooks.progress(&p, final, c->o.hooks.arg);
}

/* ---- The loop ---------------------------------------------------------- */

int coord_run(coord_t *c)
{
    struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term;
    uint64_t started = clock_mono_ns(), last_progress = 0, drain_until = 0;
    int status;

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    interrupted = 0;

    for (;;) {
        zmq_pollitem_t item = {.socket = c->sock, .events = ZMQ_POLLIN};
        zmq_poll(&item, 1, 50);
        while (handle_one(c))
            ;
        supervise(c);
        dispatch(c);
        txn_flush(c, false);
        uint64_t now = clock_mono_ns();
        if (now - last_progress >= PROGRESS_EVERY_NS) {
            progress(c, started, false);
            last_progress = now;
        }
        if (interrupted)
            break;
        if (c->ndone + c->nfailed == c->ntasks) {
            /* Finished: tell every waiting worker; give the others a short
            ** grace to ask (they may still be sending telemetry). */
            for (int i = 0; i < c->nworkers; i++) {
                cworker_t *w = &c->workers[i];
                if (w->waiting && !w->gone) {
                    proto_msg_t m = {.type = PROTO_DONE};
                    send_to(c, w, &m);
                    w->waiting = false;
                    w->gone = true;
                }
            }
            if (!drain_until)
                drain_until = now + DRAIN_GRACE_NS;
            bool all_told = true;
            for (int i = 0; i < c->nworkers; i++)
                all_told &= c->workers[i].gone;
            bool supervised_done = c->supervised <= 0;
            if ((all_told && supervised_done) || now >= drain_until)
                break;
        }
    }
    progress(c, started, true);

    const char *run_status;
    if (interrupted) {
        for (size_t i = 0; i < c->ntasks; i++)
            if (c->tasks[i].state == T_PENDING || c->tasks[i].state == T_RUNNING)
                fail_task(c, &c->tasks[i], "interrupted");
        run_status = "interrupted";
        status = 130;
    } else if (c->nfailed) {
        run_status = "failed";
        status = 1;
    } else {
        run_status = "done";
        status = 0;
    }
    txn_flush(c, true);
    char err[128];
    snprintf(err, sizeof err, "%zu of %zu tasks failed", c->nfailed, c->ntasks);
    if (store_run_finish(c->o.store, c->o.run_id, run_status, clock_unix_ns(),
                         c->nfailed ? err : NULL) != 0)
        fprintf(stderr, "heapsim coordinator: finishing run %lld: %s\n",
                (long long)c->o.run_id, store_errmsg(c->o.store));
    if (c->bad_frames > 5)
        fprintf(stderr, "heapsim coordinator: %llu malformed messages ignored in all\n",
                (unsigned long long)c->bad_frames);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return status;
}
