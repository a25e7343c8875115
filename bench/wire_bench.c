/*
** bench/wire_bench.c -- the coordinator under load, beside its floors
** (run by bench/wire.sh, by hand).
**
**   wire_bench ingest HEAPSIM WORKERS SAMPLES_PER_WORKER DIR
**     Telemetry ingest. Three figures, measured in the same run:
**       zmq+msgpack  WORKERS client threads send SAMPLES_PER_WORKER sample
**                    frames each (proto_encode, blocking sends: the
**                    high-water mark pushes back, nothing is dropped) to a
**                    ROUTER that receives and decodes every one: the wire's
**                    own ceiling;
**       sqlite       the same number of samples into a fresh database with
**                    store_sample_insert, 10,000 per transaction: the
**                    disk's;
**       heapsim      a real `heapsim coordinator` (a child process) and
**                    WORKERS light clients speaking its protocol (hello,
**                    ready, task, samples, result, ready): from the first
**                    sample sent to the last one committed in its database.
**     Then heapsim's figure over the lower floor, and the samples lost
**     (sent minus stored; the coordinator's gap and drop counters too, and
**     what it said it was owed and never received: each result says its
**     last sample number),
**     and the longest gap between two coordinator heartbeats that one more,
**     idle, client heard while the samples streamed (on time: 1 s). With
**     LOCK_MS, another connection holds the database's write lock that
**     long once a quarter of the samples are stored (a `sqlite3` shell, a
**     backup): the coordinator must go on heartbeating and lose nothing.
**
**   wire_bench workers HEAPSIM CLIENTS TASKS TASK_MS DIR
**     CLIENTS simulated workers (one thread, two DEALER sockets each, as a
**     real worker) join one coordinator, which hands out TASKS tasks; a
**     client "runs" each for TASK_MS and answers with a result, sending
**     heartbeats every second all the while. Says how many workers the
**     coordinator lost (it must be none), the longest gap between two
**     coordinator heartbeats any client saw (1 s is on time), and the
**     tasks done per second.
**
** The clients are the bench's own: no heapsim worker runs. Loopback TCP.
*/
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "base/clock.h"
#include "proto/proto.h"
#include "storage/store.h"

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wire_bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* ---- A light client --------------------------------------------------- */

typedef struct client {
    void *ctl, *tel;
    char name[64];
    int64_t task_id, attempt, tseq;
    uint64_t task_due_ns;          /* workers mode: when its task "ends" */
    uint64_t last_beat_tx, last_beat_rx, max_gap_rx;
    int state;                     /* see the loops */
    bool welcomed;                 /* heartbeats only then, as a worker */
    int tasks_done;
} client_t;

static void send_frame(void *sock, const proto_msg_t *m, int flags)
{
    char *buf;
    size_t len;
    if (proto_encode(m, &buf, &len) != 0)
        die("encode: out of memory");
    while (zmq_send(sock, buf, len, flags) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN && (flags & ZMQ_DONTWAIT))
            break;                 /* a heartbeat: the next one will do */
        die("send: %s", zmq_strerror(errno));
    }
    free(buf);
}

/* One frame from sock into *m: 1, 0 when none (DONTWAIT), dies on junk. */
static int recv_frame(void *sock, proto_msg_t *m, int flags)
{
    zmq_msg_t f;
    char err[256];
    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, sock, flags) < 0) {
        zmq_msg_close(&f);
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        die("recv: %s", zmq_strerror(errno));
    }
    if (proto_decode(zmq_msg_data(&f), zmq_msg_size(&f), m, err, sizeof err) != 0)
        die("the coordinator sent a frame we cannot decode: %s", err);
    zmq_msg_close(&f);
    return 1;
}

static void client_open(client_t *c, void *ctx, const char *endpoint, int i)
{
    char ident[32];
    int linger = 5000, hwm = 1000;   /* what is queued is delivered at close */
    snprintf(c->name, sizeof c->name, "bench-%d", i);
    c->ctl = zmq_socket(ctx, ZMQ_DEALER);
    c->tel = zmq_socket(ctx, ZMQ_DEALER);
    if (!c->ctl || !c->tel)
        die("zmq_socket: %s", zmq_strerror(errno));
    snprintf(ident, sizeof ident, "c%08x%08x", (unsigned)getpid(), (unsigned)i);
    zmq_setsockopt(c->ctl, ZMQ_ROUTING_ID, ident, strlen(ident));
    ident[0] = 't';
    zmq_setsockopt(c->tel, ZMQ_ROUTING_ID, ident, strlen(ident));
    for (int k = 0; k < 2; k++) {
        void *s = k ? c->tel : c->ctl;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
        if (zmq_connect(s, endpoint) != 0)
            die("connect %s: %s", endpoint, zmq_strerror(errno));
    }
}

static void client_close(client_t *c)
{
    zmq_close(c->ctl);
    zmq_close(c->tel);
}

static void client_hello(client_t *c, int i)
{
    proto_msg_t m = {.type = PROTO_HELLO};
    snprintf(m.u.hello.worker, sizeof m.u.hello.worker, "%s", c->name);
    snprintf(m.u.hello.host, sizeof m.u.hello.host, "bench");
    m.u.hello.pid = 100000 + i;
    m.u.hello.ncpu = 1;
    send_frame(c->ctl, &m, 0);
}

static void client_ready(client_t *c)
{
    proto_msg_t m = {.type = PROTO_READY};
    snprintf(m.worker, sizeof m.worker, "%s", c->name);
    send_frame(c->ctl, &m, 0);
}

static void client_beat(client_t *c, uint64_t now)
{
    proto_msg_t m = {.type = PROTO_HEARTBEAT};
    m.u.ref.task_id = c->task_id;
    m.u.ref.attempt = c->attempt;
    send_frame(c->tel, &m, ZMQ_DONTWAIT);
    c->last_beat_tx = now;
}

/* Drain what the coordinator sent to the telemetry socket (heartbeats),
** noting the gaps between them. */
static void client_drain_tel(client_t *c, uint64_t now)
{
    proto_msg_t m;
    while (recv_frame(c->tel, &m, ZMQ_DONTWAIT)) {
        if (m.type == PROTO_HEARTBEAT) {
            if (c->last_beat_rx && now - c->last_beat_rx > c->max_gap_rx)
                c->max_gap_rx = now - c->last_beat_rx;
            c->last_beat_rx = now;
        }
        proto_msg_free(&m);
    }
}

/* Wait for a message of `type` on the control socket, heartbeating as a
** worker's sampler does; others are dropped. Into *m (owned). */
static void client_wait(client_t *c, proto_type_t type, proto_msg_t *m)
{
    for (;;) {
        zmq_pollitem_t items[2] = {{.socket = c->ctl, .events = ZMQ_POLLIN},
                                   {.socket = c->tel, .events = ZMQ_POLLIN}};
        zmq_poll(items, 2, 100);
        uint64_t now = clock_mono_ns();
        client_drain_tel(c, now);
        if (now - c->last_beat_tx >= 500000000u)
            client_beat(c, now);
        while (recv_frame(c->ctl, m, ZMQ_DONTWAIT)) {
            if (m->type == type)
                return;
            proto_msg_free(m);
        }
    }
}

static void client_result(client_t *c, int64_t wall_ns)
{
    proto_msg_t m = {.type = PROTO_RESULT};
    proto_result_t *r = &m.u.result;
    snprintf(r->worker, sizeof r->worker, "%s", c->name);
    r->task_id = c->task_id;
    r->attempt = c->attempt;
    r->ok = 1;
    r->wall_ns = wall_ns;
    r->tseq_said = 1;              /* every frame numbered went out (blocking sends) */
    r->tseq_last = c->tseq;
    send_frame(c->ctl, &m, 0);
}

static void fill_sample(client_t *c, proto_msg_t *m, int64_t i)
{
    memset(m, 0, sizeof *m);
    m->type = PROTO_SAMPLE;
    proto_sample_t *s = &m->u.sample;
    snprintf(s->worker, sizeof s->worker, "%s", c->name);
    s->task_id = c->task_id;
    s->attempt = c->attempt;
    s->tseq = ++c->tseq;
    s->t_ns = i * 1000000;
    s->unix_ns = clock_unix_ns();
    s->heap_alloc_bytes = 4 << 20;
    s->heap_inuse_bytes = 5 << 20;
    s->heap_sys_bytes = 64 << 20;
    s->heap_live_bytes = 3 << 20;
    s->heap_goal_bytes = 8 << 20;
    s->num_gc = i / 10;
    s->goroutines = 4;
    s->rss_bytes = 40 << 20;
    s->cpu_user_ns = i * 900000;
}

/* ---- The coordinator, a child process ------------------------------------ */

static pid_t start_coordinator(const char *heapsim, const char *endpoint, const char *scenario,
                               const char *db, int expect, const char *log)
{
    char expect_s[32];
    snprintf(expect_s, sizeof expect_s, "%d", expect);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        /* As most machines start it: a soft limit of 1,024 descriptors
        ** (the bench lifted its own for its clients). */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 1024) {
            rl.rlim_cur = 1024;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        if (!freopen(log, "w", stderr))
            _exit(127);
        execl(heapsim, heapsim, "coordinator", "--bind", endpoint, scenario, "--db", db,
              "--quiet", "--expect-workers", expect_s, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_coordinator(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) != pid)
        die("waitpid: %s", strerror(errno));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int64_t db_int(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(h, 5000);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

/* A scenario of about ntasks tasks (a repeat is at most 1,000: several
** entries of one); returns how many it has. */
static int write_scenario(const char *path, int ntasks)
{
    int entries = (ntasks + 999) / 1000, repeat = ntasks / entries;
    FILE *f = fopen(path, "w");
    if (!f)
        die("%s: %s", path, strerror(errno));
    fprintf(f, "name: wire-bench\nrepeat: %d\ntasks:\n", repeat);
    for (int i = 0; i < entries; i++)
        fprintf(f, "  - kernel: binary_trees\n    depth: %d\n", 4 + i % 20);
    fclose(f);
    return entries * repeat;
}

static void pick_endpoint(char *ep, size_t size)
{
    srand((unsigned)(getpid() ^ clock_mono_ns()));
    snprintf(ep, size, "tcp://127.0.0.1:%d", 20000 + rand() % 30000);
}

/* ---- ingest ------------------------------------------------------------ */

typedef struct ingest_arg {
    void *ctx;
    const char *endpoint;
    int index;
    int64_t samples;
    bool raw;                      /* the floor: no protocol, samples only */
    int *ready, nclients;          /* every client's frames made: go */
    uint64_t t_first, t_done;
} ingest_arg_t;

static void *ingest_client(void *p)
{
    ingest_arg_t *a = p;
    client_t c = {0};
    proto_msg_t m;

    client_open(&c, a->ctx, a->endpoint, a->index);
    if (!a->raw) {
        client_hello(&c, a->index);
        client_wait(&c, PROTO_WELCOME, &m);
        proto_msg_free(&m);
        client_ready(&c);
        client_wait(&c, PROTO_TASK, &m);
        c.task_id = m.u.task.task_id;
        c.attempt = m.u.task.attempt;
        proto_msg_free(&m);
    } else {
        c.task_id = 1;
        c.attempt = 1;
    }
    /* The frames are made before the clock starts, so that on a small
    ** machine the clients take as little CPU from the receiver as they
    ** can: what is measured is the receiving end. */
    char **bufs = malloc((size_t)a->samples * sizeof *bufs);
    size_t *lens = malloc((size_t)a->samples * sizeof *lens);
    if (!bufs || !lens)
        die("out of memory");
    for (int64_t i = 0; i < a->samples; i++) {
        proto_msg_t s;
        fill_sample(&c, &s, i);
        if (proto_encode(&s, &bufs[i], &lens[i]) != 0)
            die("encode: out of memory");
        if (!a->raw && (i & 4095) == 0) {
            uint64_t now = clock_mono_ns();
            client_drain_tel(&c, now);
            if (now - c.last_beat_tx >= 500000000u)
                client_beat(&c, now);
        }
    }
    /* Wait for the others, heartbeating as a worker does. */
    __atomic_add_fetch(a->ready, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(a->ready, __ATOMIC_SEQ_CST) < a->nclients) {
        uint64_t now = clock_mono_ns();
        if (!a->raw) {
            client_drain_tel(&c, now);
            if (now - c.last_beat_tx >= 500000000u)
                client_beat(&c, now);
        }
        usleep(1000);
    }
    a->t_first = clock_mono_ns();
    client_beat(&c, a->t_first);
    for (int64_t i = 0; i < a->samples; i++) {
        while (zmq_send(c.tel, bufs[i], lens[i], 0) < 0)
            if (errno != EINTR)
                die("send: %s", zmq_strerror(errno));
        if (!a->raw && (i & 1023) == 0) {
            uint64_t now = clock_mono_ns();
            client_drain_tel(&c, now);
            if (now - c.last_beat_tx >= 500000000u)
                client_beat(&c, now);
        }
    }
    for (int64_t i = 0; i < a->samples; i++)
        free(bufs[i]);
    free(bufs);
    free(lens);
    if (!a->raw) {
        client_result(&c, 1000000);
        client_wait(&c, PROTO_ACK, &m);
        proto_msg_free(&m);
        client_ready(&c);
        client_wait(&c, PROTO_DONE, &m);
        proto_msg_free(&m);
    }
    a->t_done = clock_mono_ns();
    client_close(&c);
    return NULL;
}

typedef struct sink_arg {
    void *sock;
    int64_t expect;
    uint64_t t_last;
} sink_arg_t;

static void *raw_sink(void *p)
{
    sink_arg_t *a = p;
    int64_t got = 0;
    while (got < a->expect) {
        zmq_msg_t id, body;
        proto_msg_t m;
        char err[256];
        zmq_msg_init(&id);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&id, a->sock, 0) < 0 || zmq_msg_recv(&body, a->sock, 0) < 0)
            die("sink recv: %s", zmq_strerror(errno));
        if (proto_decode(zmq_msg_data(&body), zmq_msg_size(&body), &m, err, sizeof err) != 0)
            die("sink decode: %s", err);
        if (m.type == PROTO_SAMPLE)
            got++;
        proto_msg_free(&m);
        zmq_msg_close(&id);
        zmq_msg_close(&body);
    }
    a->t_last = clock_mono_ns();
    return NULL;
}

/* The heartbeat observer of the ingest run: one more light client that says
** hello, takes no task, and listens for the coordinator's heartbeats (10 ms
** polls) while the others stream, noting the longest gap between two: how
** late the coordinator's heartbeats are under ingest load. */
typedef struct observer_arg {
    void *ctx;
    const char *endpoint;
    int index;
    int stop;                      /* atomic: the ingest is over */
    uint64_t max_gap_ns;
    int64_t beats;
} observer_arg_t;

static void *observer(void *p)
{
    observer_arg_t *a = p;
    client_t c = {0};
    proto_msg_t m;

    client_open(&c, a->ctx, a->endpoint, a->index);
    client_hello(&c, a->index);
    client_wait(&c, PROTO_WELCOME, &m);
    proto_msg_free(&m);
    c.last_beat_rx = c.max_gap_rx = 0;
    while (!__atomic_load_n(&a->stop, __ATOMIC_SEQ_CST)) {
        zmq_pollitem_t item = {.socket = c.tel, .events = ZMQ_POLLIN};
        zmq_poll(&item, 1, 10);
        uint64_t now = clock_mono_ns();
        uint64_t before = c.last_beat_rx;
        client_drain_tel(&c, now);
        if (c.last_beat_rx != before)
            a->beats++;
        if (now - c.last_beat_tx >= 500000000u)
            client_beat(&c, now);
    }
    a->max_gap_ns = c.max_gap_rx;
    /* Ask, so that the coordinator can tell it done; wait a little for it. */
    client_ready(&c);
    uint64_t until = clock_mono_ns() + 5000000000u;
    while (clock_mono_ns() < until) {
        zmq_pollitem_t item = {.socket = c.ctl, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, 100) == 1 && recv_frame(c.ctl, &m, ZMQ_DONTWAIT)) {
            bool done = m.type == PROTO_DONE;
            proto_msg_free(&m);
            if (done)
                break;
        }
    }
    client_close(&c);
    return NULL;
}

/* Another process's lock on the run's database: once a quarter of the
** samples are stored, hold the write lock (BEGIN EXCLUSIVE) for hold_ms. */
typedef struct locker_arg {
    const char *db;
    int64_t after_samples;
    int hold_ms;
    uint64_t t_asked, t_locked, t_unlocked;
    int64_t stored_locked;         /* samples stored when it had the lock */
} locker_arg_t;

/* Ask again every 0.2 ms, for 30 s: a writer that commits and begins again
** at once leaves the lock free only for moments, which SQLite's own busy
** wait (sleeps of up to 100 ms) would nearly always miss. */
static int locker_busy(void *arg, int tries)
{
    (void)arg;
    if (tries > 150000)
        return 0;
    usleep(200);
    return 1;
}

static void *locker(void *p)
{
    locker_arg_t *a = p;
    sqlite3 *h;
    while (db_int(a->db, "SELECT count(*) FROM samples") < a->after_samples)
        usleep(10000);
    if (sqlite3_open_v2(a->db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        die("%s: cannot open", a->db);
    sqlite3_busy_handler(h, locker_busy, NULL);
    a->t_asked = clock_mono_ns();
    if (sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK)
        die("%s: BEGIN EXCLUSIVE: %s", a->db, sqlite3_errmsg(h));
    a->t_locked = clock_mono_ns();
    a->stored_locked = db_int(a->db, "SELECT count(*) FROM samples");
    usleep((useconds_t)a->hold_ms * 1000);
    sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    a->t_unlocked = clock_mono_ns();
    sqlite3_close(h);
    return NULL;
}

static void run_clients(ingest_arg_t *args, int n)
{
    pthread_t *t = calloc((size_t)n, sizeof *t);
    int ready = 0;
    for (int i = 0; i < n; i++) {
        args[i].ready = &ready;
        args[i].nclients = n;
    }
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, ingest_client, &args[i]) != 0)
            die("pthread_create");
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    free(t);
}

static double floor_wire(void *ctx, int nworkers, int64_t per)
{
    char ep[64];
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    int hwm = 1000;
    zmq_setsockopt(router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    for (int tries = 0;; tries++) {
        pick_endpoint(ep, sizeof ep);
        if (zmq_bind(router, ep) == 0)
            break;
        if (tries > 20)
            die("bind: %s", zmq_strerror(errno));
    }
    sink_arg_t sink = {.sock = router, .expect = nworkers * per};
    pthread_t st;
    pthread_create(&st, NULL, raw_sink, &sink);
    ingest_arg_t *args = calloc((size_t)nworkers, sizeof *args);
    for (int i = 0; i < nworkers; i++)
        args[i] = (ingest_arg_t){.ctx = ctx, .endpoint = ep, .index = i, .samples = per,
                                 .raw = true};
    run_clients(args, nworkers);
    pthread_join(st, NULL);
    uint64_t t0 = UINT64_MAX;
    for (int i = 0; i < nworkers; i++)
        if (args[i].t_first < t0)
            t0 = args[i].t_first;
    free(args);
    zmq_close(router);
    return (double)(nworkers * per) / secs(sink.t_last - t0);
}

static double floor_sqlite(const char *dir, int64_t total)
{
    char path[512], err[512];
    store_t *st;
    int64_t run_id, task_id;
    snprintf(path, sizeof path, "%s/floor.db", dir);
    unlink(path);
    if (store_open(path, 0, &st, err, sizeof err) != 0)
        die("%s", err);
    store_run_t run = {.token = "floor", .name = "floor", .started_unix_ns = 1};
    store_task_t task = {.kernel = "binary_trees"};
    if (store_run_insert(st, &run, &run_id) != 0)
        die("%s", store_errmsg(st));
    task.run_id = run_id;
    if (store_task_insert(st, &task, &task_id) != 0)
        die("%s", store_errmsg(st));
    client_t c = {.task_id = task_id, .attempt = 1};
    snprintf(c.name, sizeof c.name, "bench-0");
    uint64_t t0 = clock_mono_ns();
    for (int64_t i = 0; i < total; i++) {
        proto_msg_t m;
        if (i % 10000 == 0 && store_begin(st) != 0)
            die("%s", store_errmsg(st));
        fill_sample(&c, &m, i);
        const proto_sample_t *s = &m.u.sample;
        store_sample_t ss = {
            .run_id = run_id, .task_id = task_id, .worker = s->worker, .t_ns = s->t_ns,
            .unix_ns = s->unix_ns, .heap_alloc_bytes = s->heap_alloc_bytes,
            .heap_inuse_bytes = s->heap_inuse_bytes, .heap_sys_bytes = s->heap_sys_bytes,
            .heap_live_bytes = s->heap_live_bytes, .heap_goal_bytes = s->heap_goal_bytes,
            .num_gc = s->num_gc, .goroutines = s->goroutines, .rss_bytes = s->rss_bytes,
            .cpu_user_ns = s->cpu_user_ns,
        };
        if (store_sample_insert(st, &ss) != 0)
            die("%s", store_errmsg(st));
        if (i % 10000 == 9999 || i == total - 1)
            if (store_commit(st) != 0)
                die("%s", store_errmsg(st));
    }
    double rate = (double)total / secs(clock_mono_ns() - t0);
    store_close(&st);
    return rate;
}

static int cmd_ingest(const char *heapsim, int nworkers, int64_t per, const char *dir,
                      int lock_ms)
{
    void *ctx = zmq_ctx_new();
    char ep[64], db[512], scn[512], log[512], sql[128];
    int64_t total = nworkers * per;

    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("telemetry ingest: %d workers x %" PRId64 " samples = %" PRId64 " samples\n",
           nworkers, per, total);
    double wire = floor_wire(ctx, nworkers, per);
    printf("  floor, ZeroMQ + msgpack (send, receive, decode): %10.0f samples/s\n", wire);
    fflush(stdout);
    double disk = floor_sqlite(dir, total);
    printf("  floor, SQLite batched insert (10,000 a commit):  %10.0f samples/s\n", disk);
    fflush(stdout);

    snprintf(db, sizeof db, "%s/ingest.db", dir);
    snprintf(scn, sizeof scn, "%s/ingest.yaml", dir);
    snprintf(log, sizeof log, "%s/ingest-coordinator.log", dir);
    unlink(db);
    write_scenario(scn, nworkers);
    pick_endpoint(ep, sizeof ep);
    pid_t coord = start_coordinator(heapsim, ep, scn, db, nworkers + 1, log);
    observer_arg_t obs = {.ctx = ctx, .endpoint = ep, .index = nworkers};
    pthread_t obs_thread;
    if (pthread_create(&obs_thread, NULL, observer, &obs) != 0)
        die("pthread_create");
    locker_arg_t lk = {.db = db, .after_samples = total / 4, .hold_ms = lock_ms};
    pthread_t lk_thread;
    if (lock_ms > 0 && pthread_create(&lk_thread, NULL, locker, &lk) != 0)
        die("pthread_create");
    ingest_arg_t *args = calloc((size_t)nworkers, sizeof *args);
    for (int i = 0; i < nworkers; i++)
        args[i] = (ingest_arg_t){.ctx = ctx, .endpoint = ep, .index = i, .samples = per};
    run_clients(args, nworkers);
    uint64_t t0 = UINT64_MAX;
    for (int i = 0; i < nworkers; i++)
        if (args[i].t_first < t0)
            t0 = args[i].t_first;
    /* Until the last sample is committed (or nothing more comes for 10 s). */
    int64_t stored = 0, last = -1;
    uint64_t t_end = clock_mono_ns(), still_since = t_end;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM samples");
    for (;;) {
        stored = db_int(db, sql);
        uint64_t now = clock_mono_ns();
        if (stored != last) {
            last = stored;
            still_since = now;
            t_end = now;
        }
        if (stored >= total || now - still_since > 10000000000u)
            break;
        usleep(5000);
    }
    if (lock_ms > 0)
        pthread_join(lk_thread, NULL);
    __atomic_store_n(&obs.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(obs_thread, NULL);
    int rc = wait_coordinator(coord);
    stored = db_int(db, sql);
    int64_t said_missing = db_int(db, "SELECT coalesce(sum(count), 0) FROM events"
                                      " WHERE kind = 'telemetry_missing'");
    double rate = (double)stored / secs(t_end - t0);
    double lower = wire < disk ? wire : disk;
    printf("  heapsim coordinator -> SQLite:                   %10.0f samples/s"
           "  (%.0f %% of the lower floor; target >= 50 %%)\n", rate, 100.0 * rate / lower);
    printf("  samples sent %" PRId64 ", stored %" PRId64 ", lost %" PRId64
           " (the coordinator said %" PRId64 " never received); coordinator exit %d;"
           " telemetry gaps/drops in its log: %s\n",
           total, stored, total - stored, said_missing, rc, log);
    if (lock_ms > 0)
        printf("  another connection held the database's write lock for %.0f ms, from when"
               " %" PRId64 " samples were stored (it waited %.0f ms for the lock)\n",
               secs(lk.t_unlocked - lk.t_locked) * 1e3, lk.stored_locked,
               secs(lk.t_locked - lk.t_asked) * 1e3);
    printf("  heartbeats: an idle worker heard %" PRId64 " from the coordinator while the"
           " samples streamed; longest gap between two %.0f ms (on time: ~1000)\n",
           obs.beats, (double)obs.max_gap_ns / 1e6);
    free(args);
    zmq_ctx_term(ctx);
    return stored == total && rc == 0 ? 0 : 1;
}

/* ---- many workers -------------------------------------------------------- */

static int cmd_workers(const char *heapsim, int nclients, int ntasks, int task_ms,
                       const char *dir)
{
    char ep[64], db[512], scn[512], log[512];
    void *ctx = zmq_ctx_new();
    client_t *cs = calloc((size_t)nclients, sizeof *cs);
    zmq_pollitem_t *items = calloc(2 * (size_t)nclients, sizeof *items);
    struct rlimit rl;

    /* Two sockets a client, each an fd and more: lift the fd limit, and
    ** ZeroMQ's own socket limit (1023). */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 4 * nclients + 64);
    snprintf(db, sizeof db, "%s/workers.db", dir);
    snprintf(scn, sizeof scn, "%s/workers.yaml", dir);
    snprintf(log, sizeof log, "%s/workers-coordinator.log", dir);
    unlink(db);
    ntasks = write_scenario(scn, ntasks);
    pick_endpoint(ep, sizeof ep);
    pid_t coord = start_coordinator(heapsim, ep, scn, db, nclients, log);
    usleep(300000);

    uint64_t t_start = clock_mono_ns(), t_first_task = 0, t_last_done = 0;
    uint64_t max_loop_ns = 0, last_loop = t_start;
    for (int i = 0; i < nclients; i++) {
        client_open(&cs[i], ctx, ep, i);
        client_hello(&cs[i], i);
        cs[i].last_beat_tx = t_start - (uint64_t)i * 1000000000u / (uint64_t)nclients;
        items[2 * i] = (zmq_pollitem_t){.socket = cs[i].ctl, .events = ZMQ_POLLIN};
        items[2 * i + 1] = (zmq_pollitem_t){.socket = cs[i].tel, .events = ZMQ_POLLIN};
    }
    int ndone = 0, tasks_done = 0;
    while (ndone < nclients) {
        zmq_poll(items, 2 * nclients, 5);
        uint64_t now = clock_mono_ns();
        if (t_first_task && now - last_loop > max_loop_ns)
            max_loop_ns = now - last_loop;     /* once every worker joined */
        last_loop = now;
        for (int i = 0; i < nclients; i++) {
            client_t *c = &cs[i];
            proto_msg_t m;
            if (c->state == 3)
                continue;
            if (items[2 * i + 1].revents & ZMQ_POLLIN)
                client_drain_tel(c, now);
            if (c->welcomed && now - c->last_beat_tx >= 1000000000u)
                client_beat(c, now);
            if (c->state == 1 && now >= c->task_due_ns) {
                client_result(c, (int64_t)task_ms * 1000000);
                c->state = 2;
            }
            if (!(items[2 * i].revents & ZMQ_POLLIN))
                continue;
            while (c->state != 3 && recv_frame(c->ctl, &m, ZMQ_DONTWAIT)) {
                switch (m.type) {
                case PROTO_WELCOME:
                    c->welcomed = true;
                    c->last_beat_rx = 0;
                    client_ready(c);
                    break;
                case PROTO_TASK:
                    if (!t_first_task)
                        t_first_task = now;
                    c->task_id = m.u.task.task_id;
                    c->attempt = m.u.task.attempt;
                    c->task_due_ns = now + (uint64_t)task_ms * 1000000u;
                    c->state = 1;
                    break;
                case PROTO_ACK:
                    if (c->state == 2) {
                        c->tasks_done++;
                        tasks_done++;
                        c->task_id = c->attempt = 0;
                        c->state = 0;
                        client_ready(c);
                    }
                    break;
                case PROTO_DONE:
                    c->state = 3;
                    ndone++;
                    t_last_done = now;
                    break;
                default:
                    break;
                }
                proto_msg_free(&m);
            }
        }
        if (now - t_start > 600000000000ull)
            die("no end after 10 minutes (%d of %d clients done)", ndone, nclients);
        if (waitpid(coord, NULL, WNOHANG) == coord)
            die("the coordinator exited before the clients were done: see %s", log);
    }
    int rc = wait_coordinator(coord);
    uint64_t max_gap = 0;
    int least = ntasks, most = 0;
    for (int i = 0; i < nclients; i++) {
        if (cs[i].max_gap_rx > max_gap)
            max_gap = cs[i].max_gap_rx;
        if (cs[i].tasks_done < least)
            least = cs[i].tasks_done;
        if (cs[i].tasks_done > most)
            most = cs[i].tasks_done;
        client_close(&cs[i]);
    }
    int64_t lost = db_int(db, "SELECT count(*) FROM events WHERE kind = 'worker_lost'");
    int64_t requeued = db_int(db, "SELECT count(*) FROM events WHERE kind = 'task_requeued'");
    int64_t done = db_int(db, "SELECT count(*) FROM tasks WHERE status = 'done'");
    int64_t joined = db_int(db, "SELECT count(*) FROM workers");
    double span = secs(t_last_done - t_first_task);
    printf("many workers: %d simulated workers, %d tasks of %d ms, heartbeat 1000 ms\n",
           nclients, ntasks, task_ms);
    printf("  joined %" PRId64 ", tasks done %" PRId64 " (per worker %d..%d), %.0f tasks/s"
           " (ideal %.0f)\n", joined, done, least, most, (double)tasks_done / span,
           (double)nclients * 1000.0 / task_ms);
    printf("  workers lost %" PRId64 ", tasks re-queued %" PRId64
           "; longest gap between coordinator heartbeats a worker saw: %.0f ms"
           " (on time: ~1000; it includes the bench's own slowest loop turn once all"
           " joined: %.0f ms)\n",
           lost, requeued, (double)max_gap / 1e6, (double)max_loop_ns / 1e6);
    printf("  coordinator exit %d (log %s)\n", rc, log);
    free(items);
    free(cs);
    zmq_ctx_term(ctx);
    return rc == 0 && lost == 0 && done == ntasks ? 0 : 1;
}

static long arg_long(const char *s, long lo, long hi, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < lo || v > hi) {
        fprintf(stderr, "wire_bench: %s must be a number from %ld to %ld, got '%s'\n", what,
                lo, hi, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "ingest") == 0)
        return cmd_ingest(argv[2], (int)arg_long(argv[3], 1, 64, "WORKERS"),
                          arg_long(argv[4], 1, 100000000, "SAMPLES_PER_WORKER"), argv[5],
                          argc == 7 ? (int)arg_long(argv[6], 0, 600000, "LOCK_MS") : 0);
    if (argc == 7 && strcmp(argv[1], "workers") == 0)
        return cmd_workers(argv[2], (int)arg_long(argv[3], 1, 1024, "CLIENTS"),
                           (int)arg_long(argv[4], 1, 1000000, "TASKS"),
                           (int)arg_long(argv[5], 0, 60000, "TASK_MS"), argv[6]);
    fprintf(stderr, "usage: wire_bench ingest HEAPSIM WORKERS SAMPLES_PER_WORKER DIR"
                    " [LOCK_MS]\n"
                    "       wire_bench workers HEAPSIM CLIENTS TASKS TASK_MS DIR\n");
    return 2;
}
