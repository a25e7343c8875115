/*
** coordinator/coord_test.c -- the coordinator over real ZeroMQ sockets and
** a real SQLite file, with hand-driven fake workers: messages without
** hello and malformed frames are refused and counted, a name in use is
** made unique, the worker cap refuses, a silent worker is lost and its task
** runs again as attempt 2, late and repeated results are acknowledged and
** dropped, a task the worker rejects fails for good after 3 attempts, and
** a database locked by another process stops neither the heartbeats nor a
** sample from being stored (storage is the writer thread's).
** Waits are for events (with a generous limit), never timed assertions.
*/
#include "coordinator/coord.h"
#include "base/testrun.h"

#include <pthread.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "base/clock.h"
#include "proto/proto.h"

static char dir[512];
static char endpoint[128];     /* ipc paths are short: not under TEST_TMPDIR */

typedef struct fixture {
    scenario_t *scn;
    plan_t *plan;
    store_t *st;
    int64_t run_id;
    coord_t *coord;
    pthread_t thread;
    int status;
    void *zctx;
    char db[600];
} fixture_t;

static void *coord_thread(void *arg)
{
    fixture_t *f = arg;
    f->status = coord_run(f->coord);
    return NULL;
}

/* Start a coordinator with `co`'s settings (bind, store, plan and run
** filled in here). */
static void start_with(fixture_t *f, const char *name, const char *yaml, coord_opts_t co)
{
    char path[600], err[512];
    const char *tmp = getenv("TEST_TMPDIR");
    snprintf(dir, sizeof dir, "%s/coord_test_%s_%d", tmp && *tmp ? tmp : "/tmp", name,
             (int)getpid());
    REQUIRE(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/s.yaml", dir);
    FILE *fp = fopen(path, "w");
    REQUIRE(fp && fputs(yaml, fp) >= 0 && fclose(fp) == 0);
    REQUIRE_MSG(scenario_load(path, NULL, 0, &f->scn, err, sizeof err) == 0, "%s", err);
    REQUIRE(plan_new(f->scn, "tok", &f->plan) == 0);
    snprintf(f->db, sizeof f->db, "%s/h.db", dir);
    REQUIRE(store_open(f->db, 0, &f->st, err, sizeof err) == 0);
    store_run_t run = {.token = "tok", .name = f->scn->name, .host = "h",
                       .started_unix_ns = 1};
    REQUIRE(store_run_insert(f->st, &run, &f->run_id) == 0);
    for (size_t i = 0; i < plan_ntasks(f->plan); i++) {
        const scn_task_t *t = plan_task(f->plan, i)->scn;
        store_task_t stt = {.run_id = f->run_id, .seq = t->seq,
                            .kernel = t->params.kernel->name, .seed = t->seed};
        int64_t id;
        REQUIRE(store_task_insert(f->st, &stt, &id) == 0);
        REQUIRE(plan_set_task_id(f->plan, i, id) == 0);
    }
    snprintf(endpoint, sizeof endpoint, "ipc:///tmp/heapsim-coord-test-%d-%s.sock",
             (int)getpid(), name);
    co.bind = endpoint;
    co.store = f->st;
    co.plan = f->plan;
    co.run_id = f->run_id;
    REQUIRE_MSG(coord_new(&co, &f->coord, err, sizeof err) == 0, "%s", err);
    f->zctx = zmq_ctx_new();
    REQUIRE(pthread_create(&f->thread, NULL, coord_thread, f) == 0);
}

static void start(fixture_t *f, const char *name, const char *yaml, int workers_max)
{
    start_with(f, name, yaml, (coord_opts_t){.heartbeat_ms = 50, .workers_max = workers_max});
}

static int finish(fixture_t *f)
{
    pthread_join(f->thread, NULL);
    return f->status;
}

static void cleanup(fixture_t *f)
{
    coord_destroy(&f->coord);
    unlink(endpoint + strlen("ipc://"));
    zmq_ctx_term(f->zctx);
    plan_destroy(&f->plan);
    store_close(&f->st);
    scenario_free(&f->scn);
}

/* ---- A fake worker ----------------------------------------------------- */

static void *peer(fixture_t *f, const char *ident)
{
    void *s = zmq_socket(f->zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (ident)
        zmq_setsockopt(s, ZMQ_ROUTING_ID, ident, strlen(ident));
    REQUIRE(zmq_connect(s, endpoint) == 0);
    return s;
}

static void say(void *s, const proto_msg_t *m)
{
    char *buf;
    size_t len;
    REQUIRE(proto_encode(m, &buf, &len) == 0);
    REQUIRE(zmq_send(s, buf, len, 0) == (int)len);
    free(buf);
}

/* The next message, within 10 s; 0 or -1 when none came. */
static int hear(void *s, proto_msg_t *m)
{
    zmq_pollitem_t item = {.socket = s, .events = ZMQ_POLLIN};
    char buf[1 << 16], err[256];
    if (zmq_poll(&item, 1, 10000) != 1)
        return -1;
    int n = zmq_recv(s, buf, sizeof buf, 0);
    if (n < 0 || n > (int)sizeof buf)
        return -1;
    return proto_decode(buf, (size_t)n, m, err, sizeof err) == 0 ? 0 : -1;
}

static long long q_int(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long long v = -1;
    REQUIRE(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static void hello(void *s, const char *name)
{
    proto_msg_t m = {.type = PROTO_HELLO};
    snprintf(m.u.hello.worker, sizeof m.u.hello.worker, "%s", name);
    snprintf(m.u.hello.host, sizeof m.u.hello.host, "h");
    m.u.hello.pid = 1;
    m.u.hello.ncpu = 1;
    say(s, &m);
}

static void ready(void *s)
{
    proto_msg_t m = {.type = PROTO_READY};
    snprintf(m.worker, sizeof m.worker, "x");
    say(s, &m);
}

static void beat(void *s)
{
    proto_msg_t m = {.type = PROTO_HEARTBEAT};
    say(s, &m);
}

static void result(void *s, int64_t task_id, int64_t attempt)
{
    proto_msg_t m = {.type = PROTO_RESULT};
    snprintf(m.u.result.worker, sizeof m.u.result.worker, "x");
    m.u.result.task_id = task_id;
    m.u.result.attempt = attempt;
    m.u.result.ok = 1;
    say(s, &m);
}

static const char *one_task =
    "name: one\ntask: {kernel: binary_trees, depth: 4}\n";

static const char *two_tasks =
    "name: two\ntasks:\n  - {kernel: binary_trees, depth: 4}\n"
    "  - {kernel: binary_trees, depth: 5}\n";

static void test_faults_and_loss(void)
{
    fixture_t f = {0};
    proto_msg_t m;
    start(&f, "faults", one_task, 2);

    /* No hello: refused. Garbage: refused. */
    void *a = peer(&f, "caaaaaaaaaaaaaaaa");
    ready(a);
    REQUIRE(zmq_send(a, "\xc1\xc1", 2, 0) == 2);
    hello(a, "alpha");
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_WELCOME);
    CHECK_STR(m.u.welcome.worker, "alpha");
    CHECK_INT(m.u.welcome.heartbeat_ms, 50);

    /* The same name from another connection: another worker. */
    void *b = peer(&f, "cbbbbbbbbbbbbbbbb");
    void *bt = peer(&f, "tbbbbbbbbbbbbbbbb");
    hello(b, "alpha");
    REQUIRE(hear(b, &m) == 0);
    CHECK_INT(m.type, PROTO_WELCOME);
    CHECK_STR(m.u.welcome.worker, "alpha#2");

    /* Over the cap of 2: no welcome (refused). */
    void *c = peer(&f, "ccccccccccccccccc");
    hello(c, "gamma");

    /* alpha takes the task and falls silent. */
    ready(a);
    REQUIRE(hear(a, &m) == 0);
    REQUIRE_INT(m.type, PROTO_TASK);
    int64_t task_id = m.u.task.task_id;
    CHECK_INT(m.u.task.attempt, 1);
    proto_msg_free(&m);

    /* beta keeps beating and asks; it gets the task as attempt 2 once
    ** alpha is lost. */
    ready(b);
    uint64_t until = clock_mono_ns() + 30000000000ull;
    int got = -1;
    while (clock_mono_ns() < until) {
        beat(bt);
        zmq_pollitem_t item = {.socket = b, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, 20) == 1) {
            got = hear(b, &m);
            break;
        }
    }
    REQUIRE(got == 0);
    REQUIRE_INT(m.type, PROTO_TASK);
    CHECK_INT(m.u.task.task_id, task_id);
    CHECK_INT(m.u.task.attempt, 2);
    proto_msg_free(&m);

    /* alpha's late result: alpha is lost, so refused as without hello. */
    result(a, task_id, 1);
    /* beta's result, twice: both acknowledged, the second a duplicate. */
    for (int i = 0; i < 2; i++) {
        result(b, task_id, 2);
        REQUIRE(hear(b, &m) == 0);
        CHECK_INT(m.type, PROTO_ACK);
        CHECK_INT(m.u.ref.attempt, 2);
    }
    ready(b);
    REQUIRE(hear(b, &m) == 0);
    CHECK_INT(m.type, PROTO_DONE);
    CHECK_INT(finish(&f), 0);

    coord_counters_t n;
    coord_counters(f.coord, &n);
    CHECK_UINT(n.no_hello, 2);          /* alpha's ready before hello, its late result */
    CHECK_UINT(n.bad_frames, 1);
    CHECK_UINT(n.refused_full, 1);
    CHECK_UINT(n.duplicates, 1);
    CHECK_UINT(n.lost, 1);
    CHECK_UINT(n.requeued, 1);
    /* The lost worker and the re-queued attempt are events of the run. */
    CHECK_INT(q_int(f.db, "select count(*) from events where kind = 'worker_lost'"
                          " and worker = 'alpha' and detail = 'no heartbeat'"), 1);
    CHECK_INT(q_int(f.db, "select count(*) from events where kind = 'task_requeued'"
                          " and task_id is not null and detail like 'attempt 1: %'"), 1);
    zmq_close(a);
    zmq_close(b);
    zmq_close(bt);
    zmq_close(c);
    cleanup(&f);
}

static void test_rejected_three_times(void)
{
    fixture_t f = {0};
    proto_msg_t m;
    start(&f, "reject", one_task, 0);
    void *a = peer(&f, "caaaaaaaaaaaaaaaa");
    hello(a, "alpha");
    REQUIRE(hear(a, &m) == 0);
    for (int i = 1; i <= 3; i++) {
        ready(a);
        REQUIRE(hear(a, &m) == 0);
        REQUIRE_INT(m.type, PROTO_TASK);
        CHECK_INT(m.u.task.attempt, i);
        proto_msg_free(&m);
        proto_msg_t r = {.type = PROTO_REJECT};
        snprintf(r.u.ref.reason, sizeof r.u.ref.reason, "unknown kernel 'x'");
        say(a, &r);
    }
    ready(a);
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_DONE);
    CHECK_INT(finish(&f), 1);
    zmq_close(a);
    cleanup(&f);
}

static void sample(void *s, int64_t task_id, int64_t attempt, int64_t tseq)
{
    proto_msg_t m = {.type = PROTO_SAMPLE};
    snprintf(m.u.sample.worker, sizeof m.u.sample.worker, "x");
    m.u.sample.task_id = task_id;
    m.u.sample.attempt = attempt;
    m.u.sample.tseq = tseq;
    m.u.sample.t_ns = tseq * 1000;
    say(s, &m);
}

static void reject_interrupted(void *s, int64_t task_id, int64_t attempt)
{
    proto_msg_t m = {.type = PROTO_REJECT};
    m.u.ref.task_id = task_id;
    m.u.ref.attempt = attempt;
    m.u.ref.interrupted = 1;
    snprintf(m.u.ref.reason, sizeof m.u.ref.reason,
             "interrupted after 0.10 s: the worker was stopped by SIGTERM");
    say(s, &m);
}

/* A worker stopped mid-task hands it back (reject, interrupted): a lost
** attempt, queued again, not a failure; one for an attempt already ended
** is stale. Telemetry of an attempt that arrives after its result (another
** pipe) is stored, not dropped as stale. */
static void test_interrupted_and_late_telemetry(void)
{
    fixture_t f = {0};
    proto_msg_t m;
    start(&f, "late", one_task, 0);
    void *a = peer(&f, "caaaaaaaaaaaaaaaa");
    void *at = peer(&f, "taaaaaaaaaaaaaaaa");
    hello(a, "alpha");
    REQUIRE(hear(a, &m) == 0);
    ready(a);
    REQUIRE(hear(a, &m) == 0);
    REQUIRE_INT(m.type, PROTO_TASK);
    int64_t task_id = m.u.task.task_id;
    CHECK_INT(m.u.task.attempt, 1);
    proto_msg_free(&m);
    sample(at, task_id, 1, 1);
    reject_interrupted(a, task_id, 1);
    ready(a);
    REQUIRE(hear(a, &m) == 0);
    REQUIRE_INT(m.type, PROTO_TASK);
    CHECK_INT(m.u.task.attempt, 2);
    proto_msg_free(&m);
    reject_interrupted(a, task_id, 1);      /* attempt 1 ended: stale */
    sample(at, task_id, 2, 1);
    result(a, task_id, 2);
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_ACK);
    sample(at, task_id, 2, 2);              /* after its result */
    sample(at, task_id, 2, 3);
    ready(a);
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_DONE);
    CHECK_INT(finish(&f), 0);

    coord_counters_t n;
    coord_counters(f.coord, &n);
    CHECK_UINT(n.requeued, 1);
    CHECK_UINT(n.stale, 1);                 /* the second reject only */
    CHECK_UINT(n.tseq_gaps, 0);
    CHECK_INT(q_int(f.db, "select count(*) from samples"), 4);
    CHECK_INT(q_int(f.db, "select status = 'done' from tasks"), 1);
    CHECK_INT(q_int(f.db, "select count(*) from events where kind = 'task_requeued'"
                          " and detail like 'attempt 1: interrupted after % SIGTERM'"), 1);
    zmq_close(a);
    zmq_close(at);
    cleanup(&f);
}

/* A result that says the attempt's last telemetry number. */
static void result_last(void *s, int64_t task_id, int64_t attempt, int64_t tseq_last)
{
    proto_msg_t m = {.type = PROTO_RESULT};
    snprintf(m.u.result.worker, sizeof m.u.result.worker, "x");
    m.u.result.task_id = task_id;
    m.u.result.attempt = attempt;
    m.u.result.ok = 1;
    m.u.result.tseq_said = 1;
    m.u.result.tseq_last = tseq_last;
    say(s, &m);
}

/* The next message on s, heartbeating on tel meanwhile as a worker does
** (within 20 s); 0 or -1 when none came. */
static int hear_beating(void *s, void *tel, proto_msg_t *m)
{
    for (int k = 0; k < 400; k++) {
        zmq_pollitem_t item = {.socket = s, .events = ZMQ_POLLIN};
        beat(tel);
        if (zmq_poll(&item, 1, 50) == 1)
            return hear(s, m);
    }
    return -1;
}

/* Hello, ready, the task: its id (attempt 1). */
static int64_t take_task(void *a)
{
    proto_msg_t m;
    hello(a, "alpha");
    REQUIRE(hear(a, &m) == 0);
    ready(a);
    REQUIRE(hear(a, &m) == 0);
    REQUIRE_INT(m.type, PROTO_TASK);
    int64_t task_id = m.u.task.task_id;
    REQUIRE_INT(m.u.task.attempt, 1);
    proto_msg_free(&m);
    return task_id;
}

/* The result comes before the last samples of its attempt (they travel on
** another socket, and may be delivered late), and the last of them only
** well after the worker asked for more work with nothing left: the result
** says how many there are (tseq_last), and the coordinator waits for every
** one before it says `done` and ends the run. Without tseq_last it said
** `done` at once, stopped after 100 ms without a message, and the late
** samples were lost. */
static void test_result_before_telemetry(void)
{
    fixture_t f = {0};
    proto_msg_t m;
    start_with(&f, "order", one_task, (coord_opts_t){.heartbeat_ms = 1000});
    void *a = peer(&f, "caaaaaaaaaaaaaaaa");
    void *at = peer(&f, "taaaaaaaaaaaaaaaa");
    int64_t task_id = take_task(a);
    for (int64_t k = 1; k <= 3; k++)
        sample(at, task_id, 1, k);
    result_last(a, task_id, 1, 10);
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_ACK);
    ready(a);
    /* Long past the 100 ms of quiet after which the run used to end (and
    ** well within the 3 heartbeats of 1 s it takes to be lost). */
    usleep(500000);
    for (int64_t k = 4; k <= 10; k++)
        sample(at, task_id, 1, k);
    /* `done` once they are in: the worker may close its sockets then. */
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_DONE);
    CHECK_INT(finish(&f), 0);

    coord_counters_t n;
    coord_counters(f.coord, &n);
    CHECK_UINT(n.tseq_gaps, 0);
    CHECK_UINT(n.tel_missing, 0);
    CHECK_UINT(n.tel_bad, 0);
    CHECK_UINT(n.stale, 0);
    CHECK_INT(q_int(f.db, "select count(*) from samples"), 10);
    CHECK_INT(q_int(f.db, "select max(t_ns) from samples"), 10000);
    CHECK_INT(q_int(f.db, "select count(*) from events where kind like 'telemetry%'"), 0);
    CHECK_INT(q_int(f.db, "select status = 'done' from runs"), 1);
    zmq_close(a);
    zmq_close(at);
    cleanup(&f);
}

/* Telemetry owed that never comes is waited for only while some comes
** (drain_stall_ms), then said: how many frames of which task and attempt,
** in the events and in the counters; the run still ends done. */
static void test_telemetry_never_comes(void)
{
    fixture_t f = {0};
    proto_msg_t m;
    start_with(&f, "owed", one_task, (coord_opts_t){.heartbeat_ms = 50, .drain_stall_ms = 200});
    void *a = peer(&f, "caaaaaaaaaaaaaaaa");
    void *at = peer(&f, "taaaaaaaaaaaaaaaa");
    int64_t task_id = take_task(a);
    sample(at, task_id, 1, 1);
    sample(at, task_id, 1, 2);
    result_last(a, task_id, 1, 6);
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_ACK);
    ready(a);
    /* `done` when the coordinator gives up waiting. */
    REQUIRE(hear_beating(a, at, &m) == 0);
    CHECK_INT(m.type, PROTO_DONE);
    CHECK_INT(finish(&f), 0);

    coord_counters_t n;
    coord_counters(f.coord, &n);
    CHECK_UINT(n.tel_missing, 4);
    CHECK_INT(q_int(f.db, "select count(*) from samples"), 2);
    CHECK_INT(q_int(f.db, "select count from events where kind = 'telemetry_missing'"
                          " and detail like 'attempt 1: 4 of its 6 telemetry frames%'"), 4);
    CHECK_INT(q_int(f.db, "select count(*) from events e join tasks t on t.id = e.task_id"
                          " where e.kind = 'telemetry_missing'"), 1);
    CHECK_INT(q_int(f.db, "select status = 'done' from runs"), 1);
    zmq_close(a);
    zmq_close(at);
    cleanup(&f);
}

/* Numbers from a worker are untrusted: one going backwards (or repeated)
** is dropped and said once per attempt; an end whose last number is below
** what was received, or negative, is said and not waited for. No hang, no
** crash; what never came is said at the end. */
static void test_bad_telemetry_numbers(void)
{
    fixture_t f = {0};
    proto_msg_t m;
    start_with(&f, "badseq", two_tasks, (coord_opts_t){.heartbeat_ms = 50});
    void *a = peer(&f, "caaaaaaaaaaaaaaaa");
    void *at = peer(&f, "taaaaaaaaaaaaaaaa");
    int64_t first = take_task(a);
    /* On the control socket, so that they come before the result. */
    sample(a, first, 1, 1);
    sample(a, first, 1, 5);               /* 2..4 lost: a gap */
    sample(a, first, 1, 3);               /* backwards: dropped */
    sample(a, first, 1, 5);               /* repeated: dropped */
    sample(a, first, 1, 6);
    result_last(a, first, 1, 4);          /* below the 6 received */
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_ACK);
    ready(a);
    REQUIRE(hear(a, &m) == 0);
    REQUIRE_INT(m.type, PROTO_TASK);
    int64_t second = m.u.task.task_id;
    proto_msg_free(&m);
    sample(a, second, 1, 1);
    result_last(a, second, 1, -7);        /* negative */
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_ACK);
    sample(at, second, 1, 2);             /* after a result that said nothing */
    result_last(a, second, 1, 1);         /* a resent result: stale, ignored */
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_ACK);
    ready(a);
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_DONE);
    CHECK_INT(finish(&f), 0);

    coord_counters_t n;
    coord_counters(f.coord, &n);
    CHECK_UINT(n.tseq_gaps, 3);
    CHECK_UINT(n.tel_bad, 4);             /* two frames, two ends */
    CHECK_UINT(n.duplicates, 1);
    CHECK_UINT(n.tel_missing, 3);         /* 2..4 of the first task, said at the end */
    CHECK_INT(q_int(f.db, "select count(*) from samples"), 5);
    CHECK_INT(q_int(f.db, "select count from events where kind = 'telemetry_missing'"), 3);
    /* One line per attempt, the first trouble named. */
    CHECK_INT(q_int(f.db, "select count(*) from events where kind = 'telemetry_bad'"), 2);
    CHECK_INT(q_int(f.db, "select count(*) from events where kind = 'telemetry_bad'"
                          " and detail like 'attempt 1: telemetry number 3 after 5%'"), 1);
    CHECK_INT(q_int(f.db, "select count(*) from events where kind = 'telemetry_bad'"
                          " and detail like '%last telemetry number is -7%'"), 1);
    CHECK_INT(q_int(f.db, "select count(*) from tasks where status = 'done'"), 2);
    zmq_close(a);
    zmq_close(at);
    cleanup(&f);
}

/* The run's database locked by another connection (BEGIN EXCLUSIVE) for
** longer than SQLite's busy timeout (5 s), many heartbeat timeouts, while a
** worker streams telemetry: the coordinator's heartbeats keep coming within
** the liveness rule (a worker takes it for lost after `misses` heartbeats
** missed), it loses no worker, says the database is locked, and once the
** lock goes every sample is stored. With writes back on the loop, the loop
** would sit in SQLite's busy wait and its heartbeats stop. A small
** store_queue_bytes makes the writer full, so that the loop also stops
** reading its socket meanwhile (back-pressure): still nothing lost. */
static void storage_locked(const char *name, size_t queue_bytes)
{
    /* The rule (MISSES x HEARTBEAT_MS = 2 s) is well under what a loop
    ** that waited on the disk would go silent for (SQLite's 5 s busy
    ** timeout per write, for as long as the lock is held: HOLD_BEATS x
    ** HEARTBEAT_MS = 8 s), and well over a loaded machine's scheduling
    ** hiccups: the test tells the two apart, not how punctual a thread is. */
    enum { HEARTBEAT_MS = 100, MISSES = 20, HOLD_BEATS = 80 };
    fixture_t f = {0};
    proto_msg_t m;
    start_with(&f, name, one_task,
               (coord_opts_t){.heartbeat_ms = HEARTBEAT_MS, .misses_max = MISSES,
                              .store_queue_bytes = queue_bytes});
    void *a = peer(&f, "caaaaaaaaaaaaaaaa");
    void *at = peer(&f, "taaaaaaaaaaaaaaaa");
    hello(a, "alpha");
    REQUIRE(hear(a, &m) == 0);
    REQUIRE_INT(m.type, PROTO_WELCOME);
    ready(a);
    REQUIRE(hear(a, &m) == 0);
    REQUIRE_INT(m.type, PROTO_TASK);
    int64_t task_id = m.u.task.task_id;
    proto_msg_free(&m);

    /* Another process's lock (it waits for the writer's open batch). */
    sqlite3 *lock;
    REQUIRE(sqlite3_open_v2(f.db, &lock, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    sqlite3_busy_timeout(lock, 10000);
    REQUIRE(sqlite3_exec(lock, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);

    /* Stream, heartbeat as a worker does, and judge the coordinator as a
    ** worker does, until HOLD_BEATS of its heartbeats came (or it broke
    ** the rule). */
    const uint64_t rule_ns = (uint64_t)MISSES * HEARTBEAT_MS * 1000000u;
    uint64_t last_rx = clock_mono_ns(), last_tx = 0, worst = 0;
    int64_t tseq = 0;
    int beats = 0;
    bool broke = false;
    while (beats < HOLD_BEATS && !broke) {
        sample(at, task_id, 1, ++tseq);
        zmq_pollitem_t item = {.socket = at, .events = ZMQ_POLLIN};
        zmq_poll(&item, 1, 1);
        uint64_t now = clock_mono_ns();
        char buf[256], err[256];
        int n;
        while ((n = zmq_recv(at, buf, sizeof buf, ZMQ_DONTWAIT)) >= 0) {
            proto_msg_t hb;
            if (n <= (int)sizeof buf && proto_decode(buf, (size_t)n, &hb, err, sizeof err) == 0) {
                if (hb.type == PROTO_HEARTBEAT) {
                    beats++;
                    last_rx = now;
                }
                proto_msg_free(&hb);
            }
        }
        if (now - last_rx > worst)
            worst = now - last_rx;
        broke = now - last_rx > rule_ns;
        if (now - last_tx >= (uint64_t)HEARTBEAT_MS * 1000000u) {
            beat(at);
            last_tx = now;
        }
    }
    CHECK_MSG(!broke, "%s: no heartbeat from the coordinator for %.0f ms (the rule: %d x %d ms)"
              " after %d", name, (double)worst / 1e6, MISSES, HEARTBEAT_MS, beats);
    REQUIRE(sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(lock);

    result(a, task_id, 1);
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_ACK);
    ready(a);
    REQUIRE(hear(a, &m) == 0);
    CHECK_INT(m.type, PROTO_DONE);
    CHECK_INT(finish(&f), 0);

    coord_counters_t n;
    coord_counters(f.coord, &n);
    CHECK_UINT(n.lost, 0);
    CHECK_UINT(n.tseq_gaps, 0);
    CHECK_UINT(n.stale, 0);
    CHECK_UINT(n.store_lost, 0);
    CHECK_MSG(n.store_errors >= 1, "%s: the lock was never reported", name);
    if (queue_bytes)
        CHECK_MSG(n.deaf_ns > 0, "%s: the writer never filled its queue", name);
    CHECK_INT(q_int(f.db, "select count(*) from samples"), tseq);
    CHECK_INT(q_int(f.db, "select count(distinct t_ns) from samples"), tseq);
    CHECK_INT(q_int(f.db, "select status = 'done' from tasks"), 1);
    CHECK_INT(q_int(f.db, "select status = 'done' from runs"), 1);
    printf("coord_test: %s: %lld samples, longest heartbeat gap %.0f ms, reading paused"
           " %.1f s, %llu storage failures reported\n", name, (long long)tseq,
           (double)worst / 1e6, (double)n.deaf_ns / 1e9, (unsigned long long)n.store_errors);
    zmq_close(a);
    zmq_close(at);
    cleanup(&f);
}

static void test_storage_locked(void)
{
    storage_locked("locked", 0);
}

static void test_storage_locked_backpressure(void)
{
    storage_locked("backpressure", 16 << 10);
}

int main(void)
{
    test_faults_and_loss();
    test_rejected_three_times();
    test_interrupted_and_late_telemetry();
    test_result_before_telemetry();
    test_telemetry_never_comes();
    test_bad_telemetry_numbers();
    test_storage_locked();
    test_storage_locked_backpressure();
    if (testrun_exit_status("coord_test") != 0)
        return 1;
    printf("coord_test: all checks passed\n");
    return 0;
}
