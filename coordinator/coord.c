/*
** coordinator/coord.c -- the coordinator's loop.
**
** Task states and attempts, and which worker holds what, are the lease
** table's (lease.h); a worker's slot there indexes `workers`. Per worker:
** its unique name, host, pid, the ROUTER identity of its control socket
** (by_ident maps it, and so its telemetry socket's, to the slot in O(1)),
** whether a `ready` waits for an answer, and how many of its ended
** attempts still owe telemetry. A `ready` that finds no queued task is
** parked and answered when a task is queued (again) or the run ends (done,
** once the worker owes no telemetry). tasks[i] is the plan's task i; its
** id and heap key are the plan's; per attempt, the telemetry taken
** (tel_account_t).
**
** Storage: the loop never writes to SQLite itself. Every row it means to
** store is queued to the storage writer (storage/store_writer.h: a thread
** with its own connection, committing in batches), in the order the loop
** decides it, so the database holds a prefix of the run as the loop saw it
** (a task's result before the run's end; the run's end only once the queue
** has drained). What the writer reports (a locked database, a full disk)
** the loop says on stderr, the first few, and counts.
**
** Back-pressure: when the writer has more than store_queue_bytes queued
** and not committed, the loop stops reading its socket (ZeroMQ's and the
** kernel's buffers hold what comes, and the workers' own high-water marks
** push back) but goes on with everything else: heartbeats out, the
** supervisor, dispatch, progress. Nothing read is ever dropped. The
** workers' liveness is judged on a clock that stops while the loop is not
** listening (live_now): a peer's silence that the loop could not have
** heard says nothing about it. Blocking the loop on a full queue instead
** would stop the heartbeats out, and the workers would take the
** coordinator for lost.
*/
#include "coordinator/coord.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zmq.h>

#include "base/clock.h"
#include "coordinator/coord_live.h"
#include "coordinator/lease.h"
#include "keys/keys.h"
#include "proto/proto.h"
#include "storage/store_writer.h"

#define IDENTITY_MAX 256
#define DRAIN_GRACE_NS 3000000000ull
#define DRAIN_QUIET_NS 100000000ull   /* nothing for this long: nothing queued */
#define DRAIN_STALL_NS 10000000000ull /* telemetry still owed, and none for this
                                      ** long (listening): given up, and said */
#define DRAIN_MAX_NS 600000000000ull  /* a bound all the same: 10 minutes */
#define MISSING_SAID_MAX 20           /* attempts named on stderr, then a total */
#define STORE_WAIT_STEP_NS 50000000ull    /* the run's end: the writer looked at */
#define STORE_WAIT_SAID_NS 1000000000ull  /* ... and the wait said after */
#define PROGRESS_EVERY_NS 200000000ull
#define METRICS_EVERY_NS 100000000ull
#define SAY_MAX 5                      /* per kind of trouble, then only counted */
#define MAXMSGSIZE (PROTO_OUTPUT_MAX_BYTES + (16 << 20))

_Static_assert(PLAN_KEY_MAX <= PROTO_NAME_MAX, "a heap key fits in a task message");

/* The telemetry of one attempt of a task as taken from the socket. A
** worker sends an attempt's telemetry on one socket, numbered from 1, so
** it arrives in order: a number above high + 1 means the ones between are
** lost (a gap), one not above high is a bad frame (dropped). The attempt's
** end (result, or reject with interrupted) says its last number (`last`);
** until high reaches it the attempt's telemetry is still on its way (it
** may come after the end: another pipe), and the account is pending. */
typedef struct tel_account {
    int attempt;
    int slot;                     /* the worker that ran it, while serial is */
    uint64_t serial;              /* workers[slot].serial then */
    char worker[PROTO_NAME_MAX];
    int64_t received;             /* frames taken */
    int64_t high;                 /* the highest number taken, 0 none */
    int64_t last;                 /* the end's tseq_last; -1 not said */
    bool pending;                 /* last >= 0 and high < last */
    bool bad_said;                /* an error event for it already */
} tel_account_t;

typedef struct ctask {
    int64_t id;
    proto_task_t msg;             /* what we send (params borrowed) */
    tel_account_t *acct;          /* one per attempt that sent or ended */
    size_t nacct, capacct;
} ctask_t;

/* A worker connection: lease peer `slot` is workers[slot]. Its control
** socket's ROUTER identity is ident; its telemetry socket's is the same
** with a 't' in place of the leading 'c' (see worker.c). */
typedef struct cworker {
    bool used;                    /* a live lease peer */
    char name[PROTO_NAME_MAX];    /* unique in the run */
    char host[PROTO_NAME_MAX];
    int64_t pid;
    unsigned char ident[IDENTITY_MAX];
    size_t ident_len;
    bool waiting;                 /* a ready not yet answered */
    bool told_done;
    bool exited;                  /* its process exited holding no task, while
                                  ** telemetry it sent was still owed: it
                                  ** leaves when that is in (tel_pending 0) */
    char exit_why[200];
    uint64_t serial;              /* unique in the run (tel_account_t) */
    int tel_pending;              /* its pending accounts */
    metrics_worker_t live;        /* for the metrics endpoint (coord_live.h) */
} cworker_t;

/* An open-addressing map from byte strings to ints: identities to slots,
** names to slots (names stay taken after their worker is lost). */
typedef struct smap_entry {
    char *key;                    /* NULL empty, SMAP_GONE tombstone */
    size_t len;
    int value;
} smap_entry_t;
typedef struct smap {
    smap_entry_t *e;
    size_t cap, used;             /* used counts tombstones */
} smap_t;

typedef struct counters {
    uint64_t bad_frames;          /* malformed, truncated, unknown, wrong version */
    uint64_t no_hello;            /* from a peer that did not say hello */
    uint64_t refused_full;        /* hello over the worker cap */
    uint64_t duplicates;          /* results for an attempt already ended */
    uint64_t stale;               /* telemetry of an attempt not current */
    uint64_t tseq_gaps;           /* telemetry messages missing */
    uint64_t tel_bad;             /* telemetry numbers going backwards, bad ends */
    uint64_t tel_bad_said;        /* of those, said on stderr */
    uint64_t tel_missing;         /* telemetry owed at the end and never taken */
    uint64_t lost;                /* workers lost */
    uint64_t requeued;            /* attempts re-queued */
    uint64_t refused_keys;        /* CURVE handshakes the ZAP handler refused */
    uint64_t renamed;             /* workers given another name than asked */
    uint64_t store_said;          /* storage reports said on stderr */
    uint64_t store_unqueued;      /* rows not queued (out of memory) */
    uint64_t lost_said;           /* losses said on stderr (the first 50) */
} counters_t;

struct coord {
    coord_opts_t o;
    void *zctx, *sock;
    bool own_ctx;                 /* not CZMQ's (keys) */
    keys_auth_t *auth;
    void *monitor;                /* PAIR: the ROUTER's failed authentications */
    char endpoint[512];
    ctask_t *tasks;
    size_t ntasks;
    lease_t *lease;
    cworker_t *workers;           /* indexed by lease slot */
    int capworkers;
    smap_t by_ident, by_name;
    int njoined;                  /* ever said hello */
    int tel_pending;              /* pending accounts, all tasks */
    uint64_t tel_taken;           /* telemetry frames taken, in all */
    store_writer_t *writer;       /* every write of the run goes through it */
    uint64_t deaf_since;          /* not reading the socket since (writer full); 0 */
    uint64_t deaf_ns;             /* not reading it, in all, before deaf_since */
    int64_t last_heap_inuse;
    int64_t gc_cycles_seen;
    counters_t n;
    uint64_t last_beat_ns;
    uint64_t last_run_beat_ns;    /* the run's own heartbeat in storage */
    int supervised;               /* workers the supervisor has, -1 none */
    metrics_worker_t *live;       /* the snapshot published (used workers) */
    size_t caplive;
    uint64_t published_ns;        /* when the last snapshot was */
};

static volatile sig_atomic_t interrupted;

static void publish_metrics(coord_t *c, uint64_t started, uint64_t now, bool wait);

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Say the first few of a kind, then only count: a flood must not flood
** stderr. */
static void say(uint64_t *count, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(uint64_t *count, const char *fmt, ...)
{
    if ((*count)++ >= SAY_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("heapsim coordinator: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- The map ----------------------------------------------------------- */

static char smap_gone;
#define SMAP_GONE (&smap_gone)

static uint64_t smap_hash(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static smap_entry_t *smap_slot(const smap_t *m, const void *key, size_t len, bool for_insert)
{
    if (!m->cap)
        return NULL;
    smap_entry_t *tomb = NULL;
    for (size_t i = smap_hash(key, len) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        smap_entry_t *e = &m->e[i];
        if (!e->key)
            return for_insert && tomb ? tomb : (for_insert ? e : NULL);
        if (e->key == SMAP_GONE) {
            if (!tomb)
                tomb = e;
        } else if (e->len == len && memcmp(e->key, key, len) == 0) {
            return e;
        }
    }
}

static int smap_get(const smap_t *m, const void *key, size_t len)
{
    smap_entry_t *e = smap_slot(m, key, len, false);
    return e ? e->value : -1;
}

static int smap_put(smap_t *m, const void *key, size_t len, int value)
{
    if ((m->used + 1) * 2 > m->cap) {
        smap_t bigger = {.cap = m->cap ? m->cap * 2 : 64};
        bigger.e = calloc(bigger.cap, sizeof *bigger.e);
        if (!bigger.e)
            return -ENOMEM;
        for (size_t i = 0; i < m->cap; i++)
            if (m->e[i].key && m->e[i].key != SMAP_GONE) {
                *smap_slot(&bigger, m->e[i].key, m->e[i].len, true) = m->e[i];
                bigger.used++;
            }
        free(m->e);
        *m = bigger;
    }
    smap_entry_t *e = smap_slot(m, key, len, true);
    if (e->key && e->key != SMAP_GONE) {
        e->value = value;
        return 0;
    }
    char *k = malloc(len ? len : 1);
    if (!k)
        return -ENOMEM;
    memcpy(k, key, len);
    if (!e->key)
        m->used++;
    *e = (smap_entry_t){.key = k, .len = len, .value = value};
    return 0;
}

static void smap_del(smap_t *m, const void *key, size_t len)
{
    smap_entry_t *e = smap_slot(m, key, len, false);
    if (e) {
        free(e->key);
        e->key = SMAP_GONE;
    }
}

static void smap_free(smap_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->e[i].key != SMAP_GONE)
            free(m->e[i].key);
    free(m->e);
    m->e = NULL;
    m->cap = m->used = 0;
}

/* ---- Storage ------------------------------------------------------------ */

/* A row handed to the writer (rc its store_writer_* return): one that could
** not be queued (out of memory) is said and counted. */
static void queued(coord_t *c, int rc, const char *what)
{
    if (rc == 0)
        return;
    c->n.store_unqueued++;
    say(&c->n.store_said, "%s: out of memory: not stored", what);
}

/* Say what the writer reported since the last turn. */
static void store_reports(coord_t *c)
{
    char msg[700];
    while (store_writer_error(c->writer, msg, sizeof msg))
        say(&c->n.store_said, "%s", msg);
}

/* Whether the writer is full, so that the loop must not read its socket;
** keeps the account of the time the loop did not listen. */
static bool writer_full(coord_t *c)
{
    bool full = store_writer_full(c->writer);
    if (full && !c->deaf_since) {
        c->deaf_since = clock_mono_ns();
    } else if (!full && c->deaf_since) {
        c->deaf_ns += clock_mono_ns() - c->deaf_since;
        c->deaf_since = 0;
    }
    return full;
}

/* The clock the workers' liveness is judged on: the monotonic clock less
** the time the loop did not read its socket. */
static uint64_t live_now(const coord_t *c)
{
    uint64_t now = clock_mono_ns(), deaf = c->deaf_ns;
    if (c->deaf_since && now > c->deaf_since)
        deaf += now - c->deaf_since;
    return now - deaf;
}

/* ---- Setup ------------------------------------------------------------- */

static void setopt_int(void *sock, int opt, int value)
{
    zmq_setsockopt(sock, opt, &value, sizeof value);
}

/* Every worker is two connections, each a descriptor: 1,024 workers need
** more than the soft limit most machines start a process with (1,024).
** Lift it to the hard limit, as Go's runtime does at start (found by
** bench/wire.sh: at the default, 1,000 workers were lost). */
static void lift_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int coord_new(const coord_opts_t *opts, coord_t **coord_p, char *err, size_t errsize)
{
    coord_t *c = calloc(1, sizeof *c);
    const plan_t *plan = opts->plan;
    const scenario_t *s = plan_scenario(plan);
    lease_config_t lc;
    size_t len;
    int rc;

    *coord_p = NULL;
    if (!c)
        goto out_nomem;
    lift_fd_limit();
    c->o = *opts;
    c->ntasks = s->ntasks;
    c->tasks = calloc(s->ntasks ? s->ntasks : 1, sizeof *c->tasks);
    if (!c->tasks)
        goto out_free;
    c->supervised = -1;
    assert(plan_ids_complete(plan));

    lease_config_default(&lc);
    if (opts->heartbeat_ms > 0)
        lc.heartbeat_ns = (uint64_t)opts->heartbeat_ms * 1000000u;
    if (opts->misses_max > 0)
        lc.misses_max = opts->misses_max;
    if (opts->attempts_max > 0)
        lc.attempts_max = opts->attempts_max;
    if (opts->workers_max > 0)
        lc.peers_max = opts->workers_max;
    if ((rc = lease_new(&lc, s->ntasks, &c->lease)) != 0) {
        snprintf(err, errsize, "%s", lease_strerror(rc));
        goto out_free_quiet;
    }

    for (size_t i = 0; i < s->ntasks; i++) {
        const scn_task_t *st = plan_task(plan, i)->scn;
        ctask_t *t = &c->tasks[i];
        t->id = plan_task(plan, i)->id;
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
        t->msg.collector = st->runtime.collector;
        t->msg.preempt_ns = st->runtime.preempt_ns;   /* the same encoding */
        t->msg.mem_profile_rate = st->runtime.mem_profile_rate;
        t->msg.heap_private = !s->shared_heap;
        t->msg.params = st->params;        /* borrowed from the scenario */
        if (opts->settled && opts->settled[i])
            lease_settle(c->lease, i, true);
    }
    for (size_t i = 0; i < opts->ntaken; i++)
        if (smap_put(&c->by_name, opts->taken_names[i], strlen(opts->taken_names[i]), 2) != 0)
            goto out_free;

    /* The writer's own connection, to the file of the store we are lent. */
    const char *db = store_path(opts->store);
    if (!db || strcmp(db, ":memory:") == 0) {
        snprintf(err, errsize, "the coordinator needs a database file, not %s",
                 db ? db : "none");
        goto out_free_quiet;
    }
    store_writer_opts_t wo = {.queue_max_bytes = opts->store_queue_bytes};
    if (store_writer_new(db, &wo, &c->writer, err, errsize) != 0)
        goto out_free_quiet;

    if (opts->keys_dir) {
        if (keys_auth_start(opts->keys_dir, &c->auth, &c->zctx, err, errsize) != 0)
            goto out_free_quiet;
    } else {
        c->zctx = zmq_ctx_new();
        c->own_ctx = true;
    }
    if (!c->zctx)
        goto out_free;
    c->sock = zmq_socket(c->zctx, ZMQ_ROUTER);
    if (!c->sock)
        goto out_ctx;
    if (c->auth) {
        char mon[64];
        if (keys_server_apply(c->auth, c->sock, err, errsize) != 0) {
            zmq_close(c->sock);
            goto out_ctx_quiet;
        }
        snprintf(mon, sizeof mon, "inproc://heapsim-coord-%p", (void *)c);
        if (zmq_socket_monitor(c->sock, mon, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0 &&
            (c->monitor = zmq_socket(c->zctx, ZMQ_PAIR)) != NULL)
            zmq_connect(c->monitor, mon);
    }
    setopt_int(c->sock, ZMQ_LINGER, 1000);
    /* A reply to a worker that is gone must fail loudly, not vanish. */
    setopt_int(c->sock, ZMQ_ROUTER_MANDATORY, 1);
    /* Nothing we send may block the loop: a slow or dead peer's queue
    ** fills to the high-water mark, then sends to it fail at once. */
    setopt_int(c->sock, ZMQ_SNDTIMEO, 0);
    setopt_int(c->sock, ZMQ_SNDHWM, 10000);
    setopt_int(c->sock, ZMQ_RCVHWM, 100000);
    int64_t maxmsg = MAXMSGSIZE;
    zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_bind(c->sock, opts->bind) != 0) {
        snprintf(err, errsize, "cannot bind %s: %s", opts->bind, zmq_strerror(errno));
        if (c->monitor)
            zmq_close(c->monitor);
        zmq_close(c->sock);
        goto out_ctx_quiet;
    }
    len = sizeof c->endpoint;
    if (zmq_getsockopt(c->sock, ZMQ_LAST_ENDPOINT, c->endpoint, &len) != 0)
        snprintf(c->endpoint, sizeof c->endpoint, "%s", opts->bind);
    /* The endpoint shows this run from now on, not an empty one. */
    publish_metrics(c, clock_mono_ns(), clock_mono_ns(), true);
    *coord_p = c;
    return 0;

out_ctx:
    snprintf(err, errsize, "out of memory");
out_ctx_quiet:
    if (c->own_ctx)
        zmq_ctx_term(c->zctx);
    keys_auth_stop(&c->auth);
    goto out_free_quiet;
out_free:
    snprintf(err, errsize, "out of memory");
out_free_quiet:
    store_writer_destroy(&c->writer);
    smap_free(&c->by_name);
    lease_destroy(&c->lease);
    free(c->tasks);
    free(c);
    return -ENOMEM;
out_nomem:
    snprintf(err, errsize, "out of memory");
    return -ENOMEM;
}

int coord_check_endpoint(const char *bind, char *err, size_t errsize)
{
    void *ctx = zmq_ctx_new(), *sock = ctx ? zmq_socket(ctx, ZMQ_ROUTER) : NULL;
    int rc = 0;
    if (!sock) {
        snprintf(err, errsize, "cannot make a socket: %s", zmq_strerror(errno));
        rc = -1;
    } else {
        setopt_int(sock, ZMQ_LINGER, 0);
        if (zmq_bind(sock, bind) != 0) {
            snprintf(err, errsize, "cannot bind %s: %s", bind, zmq_strerror(errno));
            rc = -1;
        }
        zmq_close(sock);
    }
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}

void coord_destroy(coord_t **coord_p)
{
    coord_t *c = coord_p ? *coord_p : NULL;
    if (!c)
        return;
    store_writer_destroy(&c->writer);
    if (c->monitor) {
        zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->monitor);
    }
    zmq_close(c->sock);
    if (c->own_ctx)
        zmq_ctx_term(c->zctx);
    keys_auth_stop(&c->auth);
    lease_destroy(&c->lease);
    smap_free(&c->by_ident);
    smap_free(&c->by_name);
    for (size_t i = 0; i < c->ntasks; i++)
        free(c->tasks[i].acct);
    free(c->tasks);
    free(c->workers);
    free(c->live);
    free(c);
    *coord_p = NULL;
}

const char *coord_endpoint(const coord_t *c)
{
    return c->endpoint;
}

/* ---- Sending ----------------------------------------------------------- */

static int send_ident(coord_t *c, const void *ident, size_t ilen, const proto_msg_t *m)
{
    char *buf;
    size_t len;
    int rc = proto_encode(m, &buf, &len);
    if (rc != 0)
        return rc;
    if (zmq_send(c->sock, ident, ilen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(c->sock, buf, len, ZMQ_DONTWAIT) < 0)
        rc = -errno;
    free(buf);
    return rc;
}

static int send_to(coord_t *c, cworker_t *w, const proto_msg_t *m)
{
    return send_ident(c, w->ident, w->ident_len, m);
}

/* To the worker's telemetry socket (its sampler thread reads it). */
static int send_tel(coord_t *c, cworker_t *w, const proto_msg_t *m)
{
    unsigned char ident[IDENTITY_MAX];
    memcpy(ident, w->ident, w->ident_len);
    ident[0] = 't';
    return send_ident(c, ident, w->ident_len, m);
}

/* ---- Events ------------------------------------------------------------ */

/* An event row (worker lost, task re-queued, ...), when the database has
** the table (the writer skips it quietly otherwise); ti < 0: no task. */
static void event(coord_t *c, const char *kind, long ti, const char *worker, int64_t count,
                  const char *detail)
{
    store_event_t e = {
        .run_id = c->o.run_id,
        .task_id = ti >= 0 ? c->tasks[ti].id : 0,
        .unix_ns = clock_unix_ns(),
        .kind = kind,
        .worker = worker,
        .count = count,
        .detail = detail,
    };
    queued(c, store_writer_event(c->writer, &e), "an event");
}

/* ---- Tasks ------------------------------------------------------------- */

static void store_finish(coord_t *c, size_t ti, const store_task_result_t *r,
                         const proto_result_t *pr)
{
    ctask_t *t = &c->tasks[ti];
    size_t n = pr ? pr->nmetrics : 0;
    store_writer_metric_t *m = calloc(n ? n : 1, sizeof *m);
    if (!m) {
        queued(c, -ENOMEM, "a task's result");
        return;
    }
    for (size_t i = 0; i < n; i++)
        m[i] = (store_writer_metric_t){.name = pr->metrics[i].name,
                                       .value = pr->metrics[i].value,
                                       .unit = pr->metrics[i].unit};
    queued(c, store_writer_task_finish(c->writer, t->id, r, m, n), "a task's result");
    free(m);
}

static void store_failed(coord_t *c, size_t ti, const char *why)
{
    store_task_result_t r = {
        .status = "failed",
        .error = why,
        .ended_unix_ns = clock_unix_ns(),
    };
    store_finish(c, ti, &r, NULL);
}

/* After an attempt of task ti ended other than done: say so, and store
** the task when it failed for good. */
static void after_unsuccessful(coord_t *c, size_t ti, int state, const char *who,
                               const char *why)
{
    char detail[400];
    snprintf(detail, sizeof detail, "attempt %d: %s", lease_task_attempt(c->lease, ti), why);
    event(c, state == LEASE_QUEUED ? "task_requeued" : "task_failed", (long)ti, who, 0, detail);
    if (state == LEASE_QUEUED) {
        c->n.requeued++;
        fprintf(stderr, "heapsim coordinator: task %lld attempt %d on worker %s ended (%s);"
                " queued again\n", (long long)c->tasks[ti].id,
                lease_task_attempt(c->lease, ti), who, why);
    } else if (state == LEASE_FAILED) {
        store_failed(c, ti, lease_task_reason(c->lease, ti));
    }
}

static void forget_owed(coord_t *c, int slot);

/* Lose worker `slot` (no heartbeat, exited, unreachable): its identity is
** forgotten, its task re-queued or failed. */
static void lose_worker(coord_t *c, int slot, const char *why)
{
    cworker_t *w = &c->workers[slot];
    char name[PROTO_NAME_MAX];
    snprintf(name, sizeof name, "%s", w->name);
    long ti = lease_peer_lose(c->lease, slot, why);
    c->n.lost++;
    if (c->n.lost_said++ < 50)
        fprintf(stderr, "heapsim coordinator: worker %s lost: %s\n", name, why);
    event(c, "worker_lost", -1, name, 0, why);
    forget_owed(c, slot);
    smap_del(&c->by_ident, w->ident, w->ident_len);
    w->used = false;
    w->waiting = false;
    if (ti >= 0)
        after_unsuccessful(c, (size_t)ti, (int)lease_task_state(c->lease, (size_t)ti), name,
                           why);
}

/* Every task not finished fails for good with `why`. */
static void fail_rest(coord_t *c, const char *why)
{
    bool *open_ = calloc(c->ntasks ? c->ntasks : 1, sizeof *open_);
    for (size_t i = 0; open_ && i < c->ntasks; i++) {
        lease_state_t st = lease_task_state(c->lease, i);
        open_[i] = st != LEASE_DONE && st != LEASE_FAILED;
    }
    lease_fail_rest(c->lease, why);
    for (size_t i = 0; open_ && i < c->ntasks; i++)
        if (open_[i])
            store_failed(c, i, why);
    free(open_);
}

static void dispatch(coord_t *c)
{
    /* Wait for the machines the run expects, so that the first ones do not
    ** take every task. */
    if (c->njoined < c->o.expect_workers)
        return;
    for (int i = 0; i < c->capworkers; i++) {
        cworker_t *w = &c->workers[i];
        size_t ti;
        int attempt;
        if (!w->used || !w->waiting)
            continue;
        if (lease_grant(c->lease, i, &ti, &attempt) != 0)
            continue;
        ctask_t *t = &c->tasks[ti];
        proto_msg_t m = {.type = PROTO_TASK};
        m.u.task = t->msg;
        m.u.task.attempt = attempt;
        if (send_to(c, w, &m) != 0) {
            int e = errno;
            lease_ungrant(c->lease, ti, attempt);
            char why[128];
            snprintf(why, sizeof why, "unreachable: %s", zmq_strerror(e));
            lose_worker(c, i, why);
            continue;
        }
        w->waiting = false;
        queued(c, store_writer_task_start(c->writer, t->id, w->name, w->host, clock_unix_ns()),
               "a task's start");
    }
}

static long task_index(coord_t *c, int64_t id)
{
    return plan_find_task(c->o.plan, id);
}

/* ---- Messages ---------------------------------------------------------- */

static int add_slot(coord_t *c, int slot)
{
    if (slot < c->capworkers)
        return 0;
    int cap = c->capworkers ? c->capworkers : 16;
    while (cap <= slot)
        cap *= 2;
    cworker_t *w = realloc(c->workers, (size_t)cap * sizeof *w);
    if (!w)
        return -ENOMEM;
    memset(w + c->capworkers, 0, (size_t)(cap - c->capworkers) * sizeof *w);
    c->workers = w;
    c->capworkers = cap;
    return 0;
}

/* The name a new worker gets: the one it asked for, or with "#2", "#3"...
** when a worker of this run had it. by_name holds, per name, the next
** suffix to try, so that a thousand workers asking for one name cost a
** thousand lookups, not half a million. */
static void unique_name(coord_t *c, const char *want, char *out, size_t size)
{
    int k = smap_get(&c->by_name, want, strlen(want));
    snprintf(out, size, "%s", want);
    if (k < 0)
        return;
    for (k = k < 2 ? 2 : k;; k++) {
        snprintf(out, size, "%.100s#%d", want, k);
        if (smap_get(&c->by_name, out, strlen(out)) < 0)
            break;
    }
    smap_put(&c->by_name, want, strlen(want), k + 1);
}
static void on_hello(coord_t *c, int slot, const proto_msg_t *m, const void *ident,
                     size_t ilen)
{
    proto_msg_t welcome = {.type = PROTO_WELCOME};
    uint64_t now = live_now(c);
    cworker_t *w;

    if (slot >= 0) {
        /* Said hello twice on one connection: the same worker. */
        w = &c->workers[slot];
    } else {
        if (ilen < 2 || ((const unsigned char *)ident)[0] != 'c') {
            say(&c->n.bad_frames, "a hello from a connection without a worker identity");
            return;
        }
        slot = lease_peer_join(c->lease, now);
        if (slot == LEASE_EFULL) {
            say(&c->n.refused_full, "refusing worker %s: %zu workers already",
                m->u.hello.worker, lease_peers_live(c->lease));
            return;
        }
        if (slot < 0 || add_slot(c, slot) != 0 || smap_put(&c->by_ident, ident, ilen, slot) != 0) {
            if (slot >= 0)
                lease_peer_lose(c->lease, slot, "out of memory");
            return;
        }
        w = &c->workers[slot];
        memset(w, 0, sizeof *w);
        w->used = true;
        unique_name(c, m->u.hello.worker, w->name, sizeof w->name);
        smap_put(&c->by_name, w->name, strlen(w->name), 2);
        snprintf(w->host, sizeof w->host, "%s", m->u.hello.host);
        w->pid = m->u.hello.pid;
        coord_live_join(&w->live, w->name, w->host);
        memcpy(w->ident, ident, ilen);
        w->ident_len = ilen;
        c->njoined++;
        w->serial = (uint64_t)c->njoined;
        store_worker_t sw = {
            .run_id = c->o.run_id,
            .name = w->name,
            .host = w->host,
            .pid = w->pid,
            .ncpu = m->u.hello.ncpu,
            .joined_unix_ns = clock_unix_ns(),
        };
        queued(c, store_writer_worker(c->writer, &sw), "a worker");
        if (strcmp(w->name, m->u.hello.worker) != 0)
            say(&c->n.renamed, "a worker named %s joined; it is %s in this run",
                m->u.hello.worker, w->name);
    }
    snprintf(welcome.u.welcome.worker, sizeof welcome.u.welcome.worker, "%s", w->name);
    welcome.u.welcome.heartbeat_ms =
        (int64_t)(c->o.heartbeat_ms > 0 ? c->o.heartbeat_ms : 1000);
    welcome.u.welcome.misses = c->o.misses_max > 0 ? c->o.misses_max : 3;
    send_to(c, w, &welcome);
}

static void telemetry_end(coord_t *c, size_t ti, int attempt, int slot, int64_t said,
                          int64_t last);

static void on_result(coord_t *c, int slot, proto_msg_t *m)
{
    const proto_result_t *r = &m->u.result;
    cworker_t *w = &c->workers[slot];
    long ti = task_index(c, r->task_id);
    proto_msg_t ack = {.type = PROTO_ACK};
    ack.u.ref.task_id = r->task_id;
    ack.u.ref.attempt = r->attempt;

    if (ti < 0) {
        say(&c->n.bad_frames, "worker %s: a result for task %lld of another run", w->name,
            (long long)r->task_id);
        send_to(c, w, &ack);      /* it must stop resending all the same */
        return;
    }
    /* Checked before it is believed: a result out of range fails the
    ** attempt (it may run again elsewhere). */
    const char *bad = NULL;
    if (r->wall_ns < 0 || r->alloc_objects < 0 || r->alloc_bytes < 0 || r->gc_cycles < 0 ||
        r->pause_max_ns < 0 || r->pause_total_ns < 0 || r->peak_heap_bytes < 0 ||
        r->peak_rss_bytes < 0 || r->stack_hwm_bytes < 0 || r->goroutines_max < 0)
        bad = "the result was rejected: a figure is negative";
    for (size_t i = 0; !bad && i < r->nmetrics; i++)
        if (!isfinite(r->metrics[i].value) || strcmp(r->metrics[i].name, "output") == 0)
            bad = "the result was rejected: a metric is not finite or is named 'output'";

    int state;
    if (bad)
        state = lease_end(c->lease, (size_t)ti, (int)r->attempt, slot, LEASE_OUT_FAILED,
                          false, bad);
    else
        state = lease_end(c->lease, (size_t)ti, (int)r->attempt, slot,
                          r->ok ? LEASE_OUT_DONE : LEASE_OUT_FAILED, true,
                          r->error ? r->error : "failed");
    send_to(c, w, &ack);
    if (state == LEASE_ESTALE) {
        c->n.duplicates++;
        return;
    }
    if (state < 0)
        return;
    telemetry_end(c, (size_t)ti, (int)r->attempt, slot, r->tseq_said, r->tseq_last);
    if (bad) {
        say(&c->n.bad_frames, "worker %s: task %lld: %s", w->name, (long long)r->task_id, bad);
        after_unsuccessful(c, (size_t)ti, state, w->name, bad);
        return;
    }
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
    store_finish(c, (size_t)ti, &sr, r);
}

static void on_reject(coord_t *c, int slot, const proto_msg_t *m)
{
    cworker_t *w = &c->workers[slot];
    long ti = lease_peer_task(c->lease, slot);
    char why[400];
    if (ti < 0) {
        say(&c->n.bad_frames, "worker %s rejected a task it does not hold", w->name);
        return;
    }
    /* A worker that was stopped mid-task hands it back: a lost attempt,
    ** retried like a worker that went away. */
    bool interrupted = m->u.ref.interrupted != 0;
    int attempt = lease_task_attempt(c->lease, (size_t)ti);
    if (interrupted && (m->u.ref.task_id != c->tasks[ti].id || m->u.ref.attempt != attempt)) {
        c->n.stale++;             /* an attempt that already ended */
        return;
    }
    if (interrupted)
        snprintf(why, sizeof why, "%s", m->u.ref.reason);
    else
        snprintf(why, sizeof why, "the worker could not take the task: %s", m->u.ref.reason);
    int state = lease_end(c->lease, (size_t)ti, attempt, slot,
                          interrupted ? LEASE_OUT_LOST : LEASE_OUT_FAILED, false, why);
    if (state >= 0 && interrupted)
        telemetry_end(c, (size_t)ti, attempt, slot, m->u.ref.tseq_said, m->u.ref.tseq_last);
    if (state >= 0)
        after_unsuccessful(c, (size_t)ti, state, w->name, why);
}

/* Telemetry belongs to the worker's current attempt, and its sequence
** numbers follow on: 0 to store it, -1 to drop it (counted). */
/* Whether `attempt` of task ti was this worker's and has ended: its
** telemetry can arrive after its result (another pipe of the ROUTER,
** queued behind), and is kept. Found by bench/wire.sh: at full rate most
** of a task's last samples came after the result and were dropped. */
static bool ended_here(coord_t *c, size_t ti, int attempt, int slot)
{
    size_t n;
    const lease_attempt_t *a = lease_task_attempts(c->lease, ti, &n);
    for (size_t i = 0; i < n; i++)
        if (a[i].attempt == attempt && a[i].peer == slot)
            return true;
    return false;
}

/* The account of `attempt` of task ti, made for worker `slot` when there
** is none (NULL: out of memory). */
static tel_account_t *account(coord_t *c, size_t ti, int attempt, int slot)
{
    ctask_t *t = &c->tasks[ti];
    for (size_t i = 0; i < t->nacct; i++)
        if (t->acct[i].attempt == attempt)
            return &t->acct[i];
    if (t->nacct == t->capacct) {
        size_t cap = t->capacct ? t->capacct * 2 : 2;
        tel_account_t *a = realloc(t->acct, cap * sizeof *a);
        if (!a)
            return NULL;
        t->acct = a;
        t->capacct = cap;
    }
    tel_account_t *a = &t->acct[t->nacct++];
    *a = (tel_account_t){.attempt = attempt, .slot = slot, .serial = c->workers[slot].serial,
                         .last = -1};
    snprintf(a->worker, sizeof a->worker, "%s", c->workers[slot].name);
    return a;
}

/* The worker an account's telemetry comes from, while it is still the
** one in that slot; NULL when it has gone (its slot is another's). */
static cworker_t *account_worker(coord_t *c, const tel_account_t *a)
{
    cworker_t *w = a->slot < c->capworkers ? &c->workers[a->slot] : NULL;
    return w && w->used && w->serial == a->serial ? w : NULL;
}

static void leave_exited(coord_t *c, int slot);

/* Worker `slot` is going: nothing more is taken from its identity, so the
** telemetry its ended attempts still owe will not come. Their accounts are
** no longer waited for (what is missing is said at the end). */
static void forget_owed(coord_t *c, int slot)
{
    cworker_t *w = &c->workers[slot];
    for (size_t ti = 0; w->tel_pending && ti < c->ntasks; ti++)
        for (size_t k = 0; k < c->tasks[ti].nacct; k++) {
            tel_account_t *a = &c->tasks[ti].acct[k];
            if (a->pending && account_worker(c, a) == w) {
                a->pending = false;
                c->tel_pending--;
                w->tel_pending--;
            }
        }
}

/* Whether the account is owed telemetry, kept in the counts. */
static void account_settle(coord_t *c, tel_account_t *a)
{
    bool pending = a->last >= 0 && a->high < a->last;
    if (pending == a->pending)
        return;
    a->pending = pending;
    c->tel_pending += pending ? 1 : -1;
    cworker_t *w = account_worker(c, a);
    if (!w)
        return;
    w->tel_pending += pending ? 1 : -1;
    if (!w->tel_pending && w->exited)
        leave_exited(c, a->slot);
}

/* A bad telemetry number or end from a worker: counted, and said once per
** attempt, in the run's events and on stderr. */
static void account_bad(coord_t *c, size_t ti, tel_account_t *a, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void account_bad(coord_t *c, size_t ti, tel_account_t *a, const char *fmt, ...)
{
    char detail[300];
    int n = snprintf(detail, sizeof detail, "attempt %d: ", a->attempt);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail + n, sizeof detail - (size_t)n, fmt, ap);
    va_end(ap);
    if (a->bad_said)
        return;
    a->bad_said = true;
    say(&c->n.tel_bad_said, "worker %s: task %lld %s", a->worker, (long long)c->tasks[ti].id,
        detail);
    event(c, "telemetry_bad", (long)ti, a->worker, 1, detail);
}

/* Telemetry belongs to the worker's current attempt, or to one of its own
** that has ended, and its sequence numbers follow on: 0 to store it, -1 to
** drop it (counted). */
static int telemetry_check(coord_t *c, int slot, int64_t task_id, int64_t attempt,
                           int64_t tseq)
{
    cworker_t *w = &c->workers[slot];
    long ti = task_index(c, task_id);
    if (ti < 0)  {
        c->n.stale++;
        return -1;
    }
    if (lease_start(c->lease, (size_t)ti, (int)attempt, slot) != 0 &&
        !ended_here(c, (size_t)ti, (int)attempt, slot)) {
        c->n.stale++;
        return -1;
    }
    tel_account_t *a = account(c, (size_t)ti, (int)attempt, slot);
    if (!a) {
        queued(c, -ENOMEM, "a telemetry frame");
        return -1;
    }
    if (tseq <= a->high) {
        c->n.tel_bad++;
        account_bad(c, (size_t)ti, a, "telemetry number %lld after %lld: not in sequence;"
                    " dropped", (long long)tseq, (long long)a->high);
        return -1;
    }
    if (tseq > a->high + 1) {
        int64_t missing = tseq - a->high - 1;
        c->n.tseq_gaps += (uint64_t)missing;
        event(c, "telemetry_dropped", ti, w->name, missing,
              "telemetry sequence numbers never received");
    }
    if (a->last >= 0 && tseq > a->last) {
        /* More than its end said: kept (it is telemetry of the attempt),
        ** and said; the end's number was wrong. */
        c->n.tel_bad++;
        account_bad(c, (size_t)ti, a, "telemetry number %lld after its end said %lld was"
                    " the last", (long long)tseq, (long long)a->last);
        a->last = tseq;
    }
    a->high = tseq;
    a->received++;
    c->tel_taken++;
    if (a->pending)
        account_settle(c, a);
    return 0;
}

/* The end of `attempt` of task ti (a result, or a reject with interrupted)
** from worker `slot`, which said (said != 0) its last telemetry number:
** the account waits for that much. A negative number, or one below what
** was taken already, is said and not waited for. */
static void telemetry_end(coord_t *c, size_t ti, int attempt, int slot, int64_t said,
                          int64_t last)
{
    if (!said)
        return;                   /* a peer that predates tseq_last */
    tel_account_t *a = account(c, ti, attempt, slot);
    if (!a) {
        queued(c, -ENOMEM, "a telemetry account");
        return;
    }
    if (a->last >= 0)
        return;                   /* said already */
    if (last < 0) {
        c->n.tel_bad++;
        account_bad(c, ti, a, "its end says its last telemetry number is %lld;"
                    " not waited for", (long long)last);
        return;
    }
    if (last < a->high) {
        c->n.tel_bad++;
        account_bad(c, ti, a, "its end says its last telemetry number is %lld, but %lld"
                    " was taken", (long long)last, (long long)a->high);
        a->last = a->high;
        return;
    }
    a->last = last;
    account_settle(c, a);
}

static void on_sample(coord_t *c, int slot, const proto_msg_t *m)
{
    const proto_sample_t *s = &m->u.sample;
    if (telemetry_check(c, slot, s->task_id, s->attempt, s->tseq) != 0)
        return;
    store_sample_t ss = {
        .run_id = c->o.run_id, .task_id = s->task_id, .worker = c->workers[slot].name,
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
    coord_live_sample(&c->workers[slot].live, c->tasks[task_index(c, s->task_id)].msg.seq, s);
    queued(c, store_writer_sample(c->writer, &ss), "a sample");
}

static void on_gc(coord_t *c, int slot, const proto_msg_t *m)
{
    const proto_gc_t *g = &m->u.gc;
    /* A cycle outside any task (task_id 0) is the heap's, kept as it is. */
    if (g->task_id != 0 && telemetry_check(c, slot, g->task_id, g->attempt, g->tseq) != 0)
        return;
    store_gc_t sg = {
        .run_id = c->o.run_id, .task_id = g->task_id,
        .host = c->workers[slot].host, .heap = g->heap, .worker = c->workers[slot].name,
        .fields = g->fields,
    };
    c->gc_cycles_seen++;
    if (g->task_id != 0)
        coord_live_gc(&c->workers[slot].live, c->tasks[task_index(c, g->task_id)].msg.seq,
                      &g->fields);
    queued(c, store_writer_gc(c->writer, &sg), "a GC cycle");
}

/* A heap profile snapshot, kept only from the worker that holds the task. */
static void on_profile(coord_t *c, int slot, const proto_msg_t *m)
{
    const proto_profile_t *p = &m->u.profile;
    long ti = task_index(c, p->task_id);
    if (ti < 0 || lease_task_peer(c->lease, (size_t)ti) != slot) {
        c->n.stale++;
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
    queued(c, store_writer_profile(c->writer, &sp), "a heap profile");
    free(sites);
}

/* A heap snapshot's analysis (why the task's objects are alive). */
static void on_retention(coord_t *c, int slot, const proto_msg_t *m)
{
    const proto_retention_t *r = &m->u.retention;
    long ti = task_index(c, r->task_id);
    if (ti < 0 || lease_task_peer(c->lease, (size_t)ti) != slot) {
        c->n.stale++;
        return;
    }
    store_retention_site_t *sites = calloc(r->nsites ? r->nsites : 1, sizeof *sites);
    store_goroutine_leak_t *leaks = calloc(r->ngroups ? r->ngroups : 1, sizeof *leaks);
    if (!sites || !leaks) {
        free(sites);
        free(leaks);
        return;
    }
    for (size_t i = 0; i < r->nsites; i++) {
        const proto_retention_site_t *x = &r->sites[i];
        sites[i] = (store_retention_site_t){
            .site = (char *)x->site, .root_group = x->root_group, .root = x->root,
            .holder = x->holder, .path = x->path, .roots = x->roots, .objects = x->objects,
            .site_objects = x->site_objects, .retained_bytes = x->retained_bytes,
            .holder_retained_bytes = x->holder_retained_bytes,
        };
    }
    for (size_t i = 0; i < r->ngroups; i++) {
        const proto_goroutine_group_t *x = &r->groups[i];
        leaks[i] = (store_goroutine_leak_t){
            .label = (char *)x->where, .reason = (char *)x->reason, .count = x->count,
            .min_cycles = x->min_cycles, .max_cycles = x->max_cycles,
        };
    }
    store_retention_t sr = {
        .task_id = r->task_id, .cycle = r->cycle, .final = r->final,
        .worker = (char *)r->worker, .objects = r->objects, .bytes = r->bytes,
        .pause_ns = r->pause_ns, .min_cycles = r->min_cycles,
        .pprof = r->pprof, .pprof_len = r->pprof_len,
        .sites = sites, .nsites = r->nsites, .leaks = leaks, .nleaks = r->ngroups,
    };
    queued(c, store_writer_retention(c->writer, &sr), "a heap snapshot");
    free(sites);
    free(leaks);
}

/* The slot of the worker a frame came from: its control identity, or its
** telemetry identity ('t' for the leading 'c'); -1 when none. */
static int slot_of(coord_t *c, const unsigned char *ident, size_t ilen)
{
    if (ilen >= 2 && ident[0] == 't') {
        unsigned char ctl[IDENTITY_MAX];
        memcpy(ctl, ident, ilen);
        ctl[0] = 'c';
        return smap_get(&c->by_ident, ctl, ilen);
    }
    return smap_get(&c->by_ident, ident, ilen);
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
        say(&c->n.bad_frames, "a message with no body");
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
        say(&c->n.bad_frames, "a message of more than one frame");
        return 1;
    }
    int slot = slot_of(c, ident, (size_t)ilen);
    int rc = proto_decode(zmq_msg_data(&body), zmq_msg_size(&body), &m, err, sizeof err);
    zmq_msg_close(&body);
    if (rc != 0) {
        say(&c->n.bad_frames, "ignoring a malformed message: %s", err);
        return 1;
    }
    if (slot < 0 && m.type != PROTO_HELLO) {
        say(&c->n.no_hello, "refusing a '%s' from a peer that did not say hello",
            proto_type_name(m.type));
        proto_msg_free(&m);
        return 1;
    }
    if (slot >= 0)
        lease_peer_seen(c->lease, slot, live_now(c));
    switch (m.type) {
    case PROTO_HELLO: on_hello(c, slot, &m, ident, (size_t)ilen); break;
    case PROTO_READY:
        c->workers[slot].waiting = true;
        break;
    case PROTO_RESULT: on_result(c, slot, &m); break;
    case PROTO_REJECT: on_reject(c, slot, &m); break;
    case PROTO_SAMPLE: on_sample(c, slot, &m); break;
    case PROTO_GC: on_gc(c, slot, &m); break;
    case PROTO_PROFILE: on_profile(c, slot, &m); break;
    case PROTO_RETENTION: on_retention(c, slot, &m); break;
    case PROTO_HEARTBEAT: break;
    default:
        say(&c->n.bad_frames, "a '%s' message only the coordinator sends",
            proto_type_name(m.type));
        break;
    }
    proto_msg_free(&m);
    return 1;
}

/* A CURVE handshake the ZAP handler refused (a key not on the allow-list):
** said for the first few, counted. */
static void read_monitor(coord_t *c)
{
    for (;;) {
        unsigned char ev[6];
        char addr[256];
        int more = 0;
        size_t moresz = sizeof more;
        if (zmq_recv(c->monitor, ev, sizeof ev, ZMQ_DONTWAIT) < 0)
            return;
        zmq_getsockopt(c->monitor, ZMQ_RCVMORE, &more, &moresz);
        int n = more ? zmq_recv(c->monitor, addr, sizeof addr - 1, 0) : 0;
        addr[n > 0 ? (n < (int)sizeof addr ? n : (int)sizeof addr - 1) : 0] = '\0';
        uint16_t event;
        memcpy(&event, ev, sizeof event);
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            say(&c->n.refused_keys, "refused a worker at %s: its key is not allowed", addr);
    }
}

/* ---- Liveness ---------------------------------------------------------- */

static void heartbeats(coord_t *c, uint64_t now)
{
    uint64_t every = (uint64_t)(c->o.heartbeat_ms > 0 ? c->o.heartbeat_ms : 1000) * 1000000u;
    if (now - c->last_beat_ns < every)
        return;
    c->last_beat_ns = now;
    proto_msg_t beat = {.type = PROTO_HEARTBEAT};
    for (int i = 0; i < c->capworkers; i++)
        if (c->workers[i].used)
            send_tel(c, &c->workers[i], &beat);

    int lost[64];
    long held[64];
    size_t n = lease_expire(c->lease, live_now(c), lost, held, 64);
    /* lease_expire ended their attempts; forget their identities. */
    for (size_t k = 0; k < n && k < 64; k++) {
        cworker_t *w = &c->workers[lost[k]];
        if (w->exited) {
            /* Its process had exited holding nothing, and the telemetry it
            ** owed did not come: no loss of a worker (the end of the run
            ** says what was not received). */
            forget_owed(c, lost[k]);
            smap_del(&c->by_ident, w->ident, w->ident_len);
            w->used = false;
            w->exited = false;
            continue;
        }
        c->n.lost++;
        if (c->n.lost_said++ < 50)
            fprintf(stderr, "heapsim coordinator: worker %s lost: no heartbeat\n", w->name);
        event(c, "worker_lost", -1, w->name, 0, "no heartbeat");
        forget_owed(c, lost[k]);
        smap_del(&c->by_ident, w->ident, w->ident_len);
        w->used = false;
        w->waiting = false;
        if (held[k] >= 0)
            after_unsuccessful(c, (size_t)held[k],
                               (int)lease_task_state(c->lease, (size_t)held[k]), w->name,
                               "no heartbeat");
    }
    if (n > 64) {
        /* More lost at once than we keep track of: sweep the slots. */
        for (int i = 0; i < c->capworkers; i++)
            if (c->workers[i].used && !lease_peer_live(c->lease, i)) {
                forget_owed(c, i);
                smap_del(&c->by_ident, c->workers[i].ident, c->workers[i].ident_len);
                c->workers[i].used = false;
                c->workers[i].exited = false;
            }
    }
}

/* ---- Supervised workers ------------------------------------------------ */

/* A worker that held nothing leaves (told done, or stopped): no loss. */
static void leave_exited(coord_t *c, int slot)
{
    cworker_t *w = &c->workers[slot];
    lease_peer_lose(c->lease, slot, w->exit_why[0] ? w->exit_why : "exited");
    smap_del(&c->by_ident, w->ident, w->ident_len);
    w->used = false;
    w->waiting = false;
    w->exited = false;
}

void coord_worker_exited(coord_t *c, int64_t pid, const char *why)
{
    for (int i = 0; i < c->capworkers; i++) {
        cworker_t *w = &c->workers[i];
        if (!w->used || w->pid != pid || w->exited)
            continue;
        if (lease_peer_task(c->lease, i) < 0) {
            /* Held nothing: it leaves, but what it sent may still be
            ** queued here (its telemetry after its result): it is known
            ** by its identity until that is taken. */
            snprintf(w->exit_why, sizeof w->exit_why, "%s", why);
            w->waiting = false;
            w->exited = true;
            if (!w->tel_pending)
                leave_exited(c, i);
            continue;
        }
        char msg[300];
        snprintf(msg, sizeof msg, "the worker %s", why);
        lose_worker(c, i, msg);
    }
}

static void supervise(coord_t *c)
{
    if (!c->o.hooks.supervise)
        return;
    c->supervised = c->o.hooks.supervise(c, c->o.hooks.arg);
    /* No supervised worker left and no way to get one: fail what remains. */
    if (c->supervised == 0 && !lease_finished(c->lease))
        fail_rest(c, "no worker left to run the task");
}

/* ---- Progress ---------------------------------------------------------- */

static void progress(coord_t *c, uint64_t started, bool final)
{
    if (!c->o.hooks.progress)
        return;
    size_t ndone = lease_count(c->lease, LEASE_DONE);
    size_t nfailed = lease_count(c->lease, LEASE_FAILED);
    coord_progress_t p = {
        .run_id = c->o.run_id,
        .ntasks = c->ntasks,
        .nfinished = ndone + nfailed,
        .nrunning = lease_count(c->lease, LEASE_LEASED) + lease_count(c->lease, LEASE_RUNNING),
        .nfailed = nfailed,
        .nworkers = (int)lease_peers_live(c->lease),
        .heap_inuse_bytes = c->last_heap_inuse,
        .gc_cycles = c->gc_cycles_seen,
        .elapsed_ns = clock_mono_ns() - started,
    };
    c->o.hooks.progress(&p, final, c->o.hooks.arg);
}

static void report_counters(const coord_t *c)
{
    const counters_t *n = &c->n;
    store_writer_stats_t w;
    store_writer_stats(c->writer, &w);
    if (w.errors || w.skipped || w.dropped || n->store_unqueued)
        fprintf(stderr, "heapsim coordinator: storage: %llu failures reported, %llu rows"
                " refused by the database, %llu rows given up on, %llu not queued (out of"
                " memory)\n", (unsigned long long)w.errors, (unsigned long long)w.skipped,
                (unsigned long long)w.dropped, (unsigned long long)n->store_unqueued);
    if (c->deaf_ns)
        fprintf(stderr, "heapsim coordinator: reading paused %.1f s in all while storage"
                " caught up\n", (double)c->deaf_ns / 1e9);
    if (n->refused_keys)
        fprintf(stderr, "heapsim coordinator: %llu workers refused for their keys\n",
                (unsigned long long)n->refused_keys);
    if (n->tel_bad)
        fprintf(stderr, "heapsim coordinator: %llu telemetry frames out of sequence (dropped)"
                " or ends with a bad last number\n", (unsigned long long)n->tel_bad);
    if (!(n->bad_frames || n->no_hello || n->refused_full || n->duplicates || n->stale ||
          n->tseq_gaps || n->lost))
        return;
    fprintf(stderr,
            "heapsim coordinator: %llu malformed messages, %llu from peers without hello,"
            " %llu workers refused (cap), %llu duplicate results, %llu stale telemetry,"
            " %llu telemetry messages missing, %llu workers lost, %llu attempts re-queued\n",
            (unsigned long long)n->bad_frames, (unsigned long long)n->no_hello,
            (unsigned long long)n->refused_full, (unsigned long long)n->duplicates,
            (unsigned long long)n->stale, (unsigned long long)n->tseq_gaps,
            (unsigned long long)n->lost, (unsigned long long)n->requeued);
}

void coord_counters(const coord_t *c, coord_counters_t *out)
{
    out->bad_frames = c->n.bad_frames;
    out->no_hello = c->n.no_hello;
    out->refused_full = c->n.refused_full;
    out->duplicates = c->n.duplicates;
    out->stale = c->n.stale;
    out->tseq_gaps = c->n.tseq_gaps;
    out->tel_bad = c->n.tel_bad;
    out->tel_missing = c->n.tel_missing;
    out->lost = c->n.lost;
    out->requeued = c->n.requeued;
    out->refused_keys = c->n.refused_keys;
    store_writer_stats_t w;
    store_writer_stats(c->writer, &w);
    out->store_errors = w.errors;
    out->store_lost = w.skipped + w.dropped + c->n.store_unqueued;
    out->deaf_ns = c->deaf_ns + (c->deaf_since ? clock_mono_ns() - c->deaf_since : 0);
}

/* ---- Metrics ----------------------------------------------------------- */

/* The run's live figures to the metrics endpoint; in the loop (!wait), a
** snapshot the server is busy copying is tried again on the next turn. */
static void publish_metrics(coord_t *c, uint64_t started, uint64_t now, bool wait)
{
    if (!c->o.metrics || (!wait && now - c->published_ns < METRICS_EVERY_NS))
        return;
    size_t n = 0;
    if ((size_t)c->capworkers > c->caplive) {
        metrics_worker_t *l = realloc(c->live, (size_t)c->capworkers * sizeof *l);
        if (!l)
            return;
        c->live = l;
        c->caplive = (size_t)c->capworkers;
    }
    for (int i = 0; i < c->capworkers; i++)
        if (c->workers[i].used)
            c->live[n++] = c->workers[i].live;
    metrics_snapshot_t s = {
        .run_id = c->o.run_id,
        .tasks = {
            [METRICS_TASK_QUEUED] = (int64_t)lease_count(c->lease, LEASE_QUEUED),
            [METRICS_TASK_LEASED] = (int64_t)lease_count(c->lease, LEASE_LEASED),
            [METRICS_TASK_RUNNING] = (int64_t)lease_count(c->lease, LEASE_RUNNING),
            [METRICS_TASK_DONE] = (int64_t)lease_count(c->lease, LEASE_DONE),
            [METRICS_TASK_FAILED] = (int64_t)lease_count(c->lease, LEASE_FAILED),
        },
        .workers_live = (int64_t)lease_peers_live(c->lease),
        .workers_joined = c->njoined,
        .workers_lost = (int64_t)c->n.lost,
        .dropped_malformed = c->n.bad_frames,
        .dropped_no_hello = c->n.no_hello,
        .dropped_stale = c->n.stale,
        .dropped_missing = c->n.tseq_gaps,
        .uptime_s = (double)(now - started) / 1e9,
        .workers = c->live,
        .nworkers = n,
    };
    if (metrics_server_publish(c->o.metrics, &s, wait))
        c->published_ns = now;
}

/* ---- The end of the run: telemetry still on its way ------------------- */

/* The run has finished: answer `done` to every worker waiting for a task,
** once the telemetry it owes is in (tel_pending 0), or to all with
** `force`. A worker leaves on `done`, closing its sockets: what it still
** had queued to us would be lost with them. Returns whether every worker
** has been told. */
static bool tell_done(coord_t *c, bool force)
{
    bool all_told = true;
    for (int i = 0; i < c->capworkers; i++) {
        cworker_t *w = &c->workers[i];
        if (!w->used || w->told_done || w->exited)
            continue;
        if (w->waiting && (force || w->tel_pending == 0)) {
            proto_msg_t m = {.type = PROTO_DONE};
            send_to(c, w, &m);
            w->waiting = false;
            w->told_done = true;
        } else {
            all_told = false;
        }
    }
    return all_told;
}

static void drain(coord_t *c)
{
    uint64_t until = clock_mono_ns() + DRAIN_MAX_NS;
    uint64_t now = live_now(c), quiet_since = now, taken_since = now;
    uint64_t taken = c->tel_taken;
    uint64_t stall_ns = c->o.drain_stall_ms > 0 ? (uint64_t)c->o.drain_stall_ms * 1000000u
                                                : DRAIN_STALL_NS;
    while (!interrupted && clock_mono_ns() < until) {
        bool full = writer_full(c);
        zmq_pollitem_t item = {.socket = c->sock, .events = full ? 0 : ZMQ_POLLIN};
        zmq_poll(&item, 1, 10);
        int got = 0;
        while (got < 10000 && !writer_full(c) && handle_one(c))
            got++;
        store_reports(c);
        now = live_now(c);
        if (got)
            quiet_since = now;
        if (c->tel_taken != taken) {
            taken = c->tel_taken;
            taken_since = now;
        }
        /* Workers wait for `done` until their telemetry is in: keep them
        ** sure of us meanwhile. */
        tell_done(c, false);
        heartbeats(c, clock_mono_ns());
        if (c->tel_pending == 0 && now - quiet_since >= DRAIN_QUIET_NS)
            break;
        if (c->tel_pending > 0 && now - taken_since >= stall_ns)
            break;
    }
}

/* Say, per ended attempt, the telemetry it said it sent and that never
** came: an event row each (kind "telemetry_missing", count the frames),
** and on stderr. When the run was interrupted, only counted. */
static void report_missing(coord_t *c, bool quietly)
{
    uint64_t attempts = 0, frames = 0;
    for (size_t ti = 0; ti < c->ntasks; ti++) {
        ctask_t *t = &c->tasks[ti];
        for (size_t k = 0; k < t->nacct; k++) {
            tel_account_t *a = &t->acct[k];
            if (a->last < 0 || a->received >= a->last)
                continue;
            int64_t missing = a->last - a->received;
            attempts++;
            frames += (uint64_t)missing;
            if (quietly)
                continue;
            char detail[300];
            snprintf(detail, sizeof detail, "attempt %d: %lld of its %lld telemetry frames"
                     " (samples and GC cycles) never received%s", a->attempt,
                     (long long)missing, (long long)a->last,
                     a->high < a->last ? "; the last ones had not come when the run ended"
                                       : "");
            event(c, "telemetry_missing", (long)ti, a->worker, missing, detail);
            if (attempts <= MISSING_SAID_MAX)
                fprintf(stderr, "heapsim coordinator: task %lld worker %s %s\n",
                        (long long)t->id, a->worker, detail);
        }
    }
    c->n.tel_missing = frames;
    if (attempts && !quietly)
        fprintf(stderr, "heapsim coordinator: %llu telemetry frames of %llu attempts never"
                " received\n", (unsigned long long)frames, (unsigned long long)attempts);
}

/* The run's end waits for the writer to store what is queued, which a
** database locked by another process can make long (the writer retries
** for up to give_up_ns): said after a second, and cut short by SIGINT or
** SIGTERM arriving meanwhile: what is committed stays, what is not is
** dropped and counted in one line, and *status becomes 130. A signal of
** the run itself (before the wait) does not cut it. */
static void wait_for_writer(coord_t *c, int *status)
{
    uint64_t began = clock_mono_ns();
    bool said = false;
    interrupted = 0;
    while (store_writer_drain_for(c->writer, STORE_WAIT_STEP_NS) != 0) {
        store_reports(c);
        if (interrupted) {
            uint64_t n = store_writer_abandon(c->writer);
            fprintf(stderr, "heapsim coordinator: stopped waiting for the database: %llu"
                    " records not written (what was written stays)\n", (unsigned long long)n);
            *status = 130;
            return;
        }
        if (!said && clock_mono_ns() - began >= STORE_WAIT_SAID_NS) {
            fprintf(stderr, "heapsim coordinator: waiting for the database to store the"
                    " run's last records (Ctrl-C to stop waiting)\n");
            said = true;
        }
    }
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
    c->last_beat_ns = started;
    c->last_run_beat_ns = started;

    for (;;) {
        /* The writer full: not reading the socket, waiting for room (polled
        ** every 10 ms) while the rest of the loop goes on. */
        bool full = writer_full(c);
        zmq_pollitem_t items[2] = {
            {.socket = c->sock, .events = full ? 0 : ZMQ_POLLIN},
            {.socket = c->monitor, .events = ZMQ_POLLIN},
        };
        zmq_poll(items, c->monitor ? 2 : 1, full ? 10 : 50);
        if (c->monitor)
            read_monitor(c);
        /* Bounded, so that a flood cannot starve the rest of the loop. */
        for (int k = 0; k < 10000 && !writer_full(c) && handle_one(c); k++)
            ;
        store_reports(c);
        uint64_t now = clock_mono_ns();
        supervise(c);
        heartbeats(c, now);
        dispatch(c);
        if (now - c->last_run_beat_ns >= (uint64_t)STORE_BEAT_NS) {
            /* The run's liveness mark: one row, in the batch being written. */
            queued(c, store_writer_run_beat(c->writer, c->o.run_id, clock_unix_ns()),
                   "the run's heartbeat");
            c->last_run_beat_ns = now;
        }
        publish_metrics(c, started, now, false);
        if (now - last_progress >= PROGRESS_EVERY_NS) {
            progress(c, started, false);
            last_progress = now;
        }
        if (interrupted)
            break;
        if (lease_finished(c->lease)) {
            /* Finished: tell every waiting worker whose telemetry is in;
            ** give the others a short grace to ask (they may still be
            ** sending telemetry). */
            bool all_told = tell_done(c, false);
            if (!drain_until)
                drain_until = now + DRAIN_GRACE_NS;
            bool supervised_done = c->supervised <= 0;
            if ((all_told && supervised_done) || now >= drain_until)
                break;
        }
    }
    /* Telemetry overtaken by its result may still be queued (in ZeroMQ's
    ** and the kernel's buffers: at full rate, seconds of it). Every ended
    ** attempt said how much it sent (tseq_last): take it all, then go on
    ** until the socket has been quiet for a moment (what attempts without
    ** an end sent: lost workers'). Not waiting for ever: telemetry still
    ** owed with none coming for DRAIN_STALL_NS is given up and said. Time
    ** spent not reading the socket (the writer full) counts for neither. */
    if (!interrupted) {
        drain(c);
        tell_done(c, true);
    }
    report_missing(c, interrupted != 0);
    progress(c, started, true);

    const char *run_status;
    if (interrupted) {
        fail_rest(c, "interrupted");
        run_status = "interrupted";
        status = 130;
    } else if (lease_count(c->lease, LEASE_FAILED)) {
        run_status = "failed";
        status = 1;
    } else {
        run_status = "done";
        status = 0;
    }
    char err[128];
    size_t nfailed = lease_count(c->lease, LEASE_FAILED);
    snprintf(err, sizeof err, "%zu of %zu tasks failed", nfailed, c->ntasks);
    /* Queued last: the run ends in the database after everything it did,
    ** and not before it is all there (or said not to be). */
    queued(c, store_writer_run_finish(c->writer, c->o.run_id, run_status, clock_unix_ns(),
                                      nfailed ? err : NULL), "the run's end");
    wait_for_writer(c, &status);
    store_reports(c);
    report_counters(c);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return status;
}
