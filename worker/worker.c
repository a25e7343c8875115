/*
** worker/worker.c -- the worker process.
**
** Two threads, two DEALER sockets to the coordinator:
**   main     hello -> welcome, ready -> task -> result -> ack, ...; runs
**            the tasks.
**   sampler  every heartbeat interval a heartbeat; every sample interval
**            while a task runs one sample message, plus the GC cycles the
**            main thread queued (the collector's hook runs in the main
**            thread with the world stopped, so it only queues). It reads
**            the coordinator's heartbeats, so the main thread knows, even
**            while it runs a kernel, when the coordinator was last heard.
** `mu` guards the `cur` record, the GC queue, the session and coord_seen
** shared by the two. ZeroMQ sockets are never shared between threads.
**
** A session is one connection to the coordinator: both sockets get
** routing identities made of one random id ("c" + id for control, "t" + id
** for telemetry: the coordinator tells a worker by them, never by name).
** A coordinator not heard from for misses_max heartbeats is lost: the
** worker drops what it holds, closes both sockets and starts a new session
** after a backoff of 1 s, doubling up to 32 s. Every socket has a send
** timeout, so a dead coordinator cannot block a send for ever.
*/
#include "worker/worker.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "base/clock.h"
#include "base/proc.h"
#include "gctrace/gctrace.h"
#include "kernels/kernels.h"
#include "keys/keys.h"
#include "proto/proto.h"
#include "shm_heap/heap.h"
#include "runtime/rt.h"
#include "sched/sched.h"
#include "worker/retention.h"

#define MAX_HEAPS 64
#define GC_QUEUE_MAX 4096
#define SEND_TIMEOUT_MS 1000
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 32000
#define MISSES_MAX 3
#define IDENT_LEN 17              /* 'c' or 't' and 16 hex digits */
#define STOP_GRACE_NS 5000000000ull  /* for a kernel that reaches no safepoint */
#define FLUSH_WAIT_NS 3000000000ull  /* the sampler's end-of-attempt sends */

typedef struct open_heap {
    char key[PROTO_NAME_MAX];     /* the task's heap key */
    char shm[PROTO_NAME_MAX + 64];
    heap_t *heap;
    uint64_t last_used;           /* worker_t.heap_uses when a task last took it */
} open_heap_t;

typedef struct current {
    bool active;
    int64_t task_id;
    int64_t attempt;
    int64_t tseq;                 /* telemetry numbered in this attempt */
    int64_t tseq_sent;            /* the last of it handed to the socket: the
                                  ** result's tseq_last */
    bool flush;                   /* the attempt ended: the sampler sends its
                                  ** queued GC cycles (flush_send) or drops
                                  ** them, then sets flushed */
    bool flush_send, flushed;
    heap_t *heap;
    char heap_key[PROTO_NAME_MAX];
    uint64_t start_ns;            /* monotonic */
    uint64_t interval_ns;
    heap_stats_t st0;             /* at task start */
    int64_t goroutines_max;
    bool gctrace;                 /* print a gctrace line per cycle */
    int64_t prof_rate;            /* heap profile: bytes per sample, 0 = off */
    uint64_t prof_cycle;          /* num_gc of the last snapshot sent */
    rt_t *rt;                     /* the task's runtime: rt_interrupt() */
    char interrupt_why[128];      /* why it was interrupted; "" if it was not */
} current_t;

typedef struct worker {
    const worker_opts_t *opts;
    char name[PROTO_NAME_MAX];
    char host[PROTO_NAME_MAX];
    void *zctx;
    void *sock;                   /* control, the main thread's */
    char ident[IDENT_LEN + 1];    /* this session's control identity */
    uint64_t heartbeat_ns;        /* the welcome's */
    sched_t *sched;
    size_t sched_stack_reserve;
    open_heap_t heaps[MAX_HEAPS];
    uint64_t heap_uses;           /* tasks run so far: the heaps' clock */
    int nheaps;

    pthread_t sampler;
    bool sampler_started;
    pthread_mutex_t mu;
    int wake_fd;                  /* an eventfd the sampler polls beside its
                                  ** socket: a task started or ended, a stop */
    pthread_cond_t flushed;       /* cur.flushed set */
    bool stopping;                /* under mu */
    current_t cur;                /* under mu */
    proto_gc_t *gcq;              /* under mu */
    int gcq_len;
    int64_t gc_dropped;
    unsigned session;             /* under mu: bumped by each new session */
    int misses;                   /* the welcome's: heartbeats missed = lost */
    pid_t parent;
    char asked_name[PROTO_NAME_MAX];  /* --name, or host:pid */
    uint64_t coord_seen_ns;       /* under mu: last heard from the coordinator */
} worker_t;

static volatile sig_atomic_t stop_requested;   /* the signal, 0: none */

/* Wake the sampler from its poll now, not at its next timeout (up to 50
** ms): an attempt's end waited that long for its telemetry flush. */
static void wake_sampler(worker_t *w)
{
    uint64_t one = 1;
    if (write(w->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        fprintf(stderr, "heapsim worker %s: waking the sampler: %s\n", w->name, strerror(errno));
}

static void on_stop_signal(int sig)
{
    stop_requested = sig;
}



static int send_msg(void *sock, const proto_msg_t *m)
{
    char *buf;
    size_t len;
    int rc = proto_encode(m, &buf, &len);
    if (rc != 0)
        return rc;
    rc = zmq_send(sock, buf, len, 0);
    free(buf);
    return rc < 0 ? -errno : 0;
}

/* ---- Process figures --------------------------------------------------- */

typedef struct proc_figures {
    int64_t rss_bytes, hwm_bytes;
    int64_t cpu_user_ns, cpu_sys_ns;
    int64_t minor_faults, major_faults, ctx_switches;
} proc_figures_t;

static void read_proc_figures(proc_figures_t *f)
{
    struct rusage ru;
    char line[256];
    memset(f, 0, sizeof *f);
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        f->cpu_user_ns = (int64_t)ru.ru_utime.tv_sec * 1000000000 + ru.ru_utime.tv_usec * 1000;
        f->cpu_sys_ns = (int64_t)ru.ru_stime.tv_sec * 1000000000 + ru.ru_stime.tv_usec * 1000;
        f->minor_faults = ru.ru_minflt;
        f->major_faults = ru.ru_majflt;
        f->ctx_switches = ru.ru_nvcsw + ru.ru_nivcsw;
    }
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp)
        return;
    while (fgets(line, sizeof line, fp)) {
        long long kb;
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
            f->rss_bytes = kb * 1024;
        else if (sscanf(line, "VmHWM: %lld kB", &kb) == 1)
            f->hwm_bytes = kb * 1024;
    }
    fclose(fp);
}

/* Reset the kernel's peak-RSS mark so VmHWM is per task. */
static void reset_peak_rss(void)
{
    FILE *fp = fopen("/proc/self/clear_refs", "w");
    if (fp) {
        fputs("5", fp);
        fclose(fp);
    }
}

/* ---- Sampler thread ---------------------------------------------------- */

static void fill_sample(worker_t *w, proto_sample_t *s)
{
    heap_stats_t hs;
    sched_stats_t ss;
    proc_figures_t pf;
    current_t *c = &w->cur;

    heap_stats_read(c->heap, &hs);
    sched_stats_read(w->sched, &ss);
    read_proc_figures(&pf);
    memset(s, 0, sizeof *s);
    snprintf(s->worker, sizeof s->worker, "%s", w->name);
    s->task_id = c->task_id;
    s->t_ns = (int64_t)(clock_mono_ns() - c->start_ns);
    s->unix_ns = clock_unix_ns();
    s->heap_alloc_bytes = (int64_t)hs.heap_alloc_bytes;
    s->heap_inuse_bytes = (int64_t)hs.heap_inuse_bytes;
    s->heap_sys_bytes = (int64_t)hs.heap_sys_bytes;
    s->heap_live_bytes = (int64_t)hs.heap_live_bytes;
    s->heap_goal_bytes = (int64_t)hs.heap_goal_bytes;
    s->num_gc = (int64_t)(hs.num_gc - c->st0.num_gc);
    s->pause_total_ns = (int64_t)(hs.pause_total_ns - c->st0.pause_total_ns);
    s->alloc_objects = (int64_t)(hs.proc_alloc_objects - c->st0.proc_alloc_objects);
    s->alloc_bytes = (int64_t)(hs.proc_alloc_bytes - c->st0.proc_alloc_bytes);
    s->goroutines = (int64_t)ss.goroutines;
    /* Go's StackInuse: the stacks Go 1.19 would have allocated (sched.h);
    ** the real bytes are sched_stack_real_bytes(). */
    s->stack_inuse_bytes = (int64_t)ss.stack_inuse_bytes;
    s->rss_bytes = pf.rss_bytes;
    s->cpu_user_ns = pf.cpu_user_ns;
    s->cpu_sys_ns = pf.cpu_sys_ns;
    s->minor_faults = pf.minor_faults;
    s->major_faults = pf.major_faults;
    s->ctx_switches = pf.ctx_switches;
    if (s->goroutines > c->goroutines_max)
        c->goroutines_max = s->goroutines;
}

/* A heap profile snapshot of this process's sites, as of the heap's last
** collection (as Go's), into m (sites malloc'd: proto_msg_free); that
** collection's number in *cycle_out. Returns 0 or -ENOMEM. */
static int make_profile(worker_t *w, heap_t *heap, int64_t task_id, bool final,
                        int64_t rate, proto_msg_t *m, uint64_t *cycle_out)
{
    heap_prof_site_t sites[HEAP_PROF_SITES];
    uint64_t cycle;
    int n = heap_prof_read(heap, true, sites, HEAP_PROF_SITES, &cycle);
    *cycle_out = cycle;
    if (n > HEAP_PROF_SITES)
        n = HEAP_PROF_SITES;
    memset(m, 0, sizeof *m);
    m->type = PROTO_PROFILE;
    proto_profile_t *p = &m->u.profile;
    snprintf(p->worker, sizeof p->worker, "%s", w->name);
    p->task_id = task_id;
    p->cycle = (int64_t)cycle;
    p->final = final;
    p->rate = rate;
    p->sites = calloc(n > 0 ? (size_t)n : 1, sizeof *p->sites);
    if (!p->sites)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        proto_profile_site_t *d = &p->sites[p->nsites];
        const heap_prof_site_t *s = &sites[i];
        if (s->alloc_objects == 0)
            continue;           /* a site of an earlier task on this heap */
        /* Read while the process allocates: keep them consistent. */
        uint64_t free_objects = s->free_objects < s->alloc_objects ? s->free_objects
                                                                   : s->alloc_objects;
        uint64_t free_bytes = s->free_bytes < s->alloc_bytes ? s->free_bytes : s->alloc_bytes;
        snprintf(d->site, sizeof d->site, "%.*s", HEAP_PROF_SITE_NAME - 1,
                 s->name[0] ? s->name : "(unknown)");
        d->alloc_objects = (int64_t)s->alloc_objects;
        d->alloc_bytes = (int64_t)s->alloc_bytes;
        d->inuse_objects = (int64_t)(s->alloc_objects - free_objects);
        d->inuse_bytes = (int64_t)(s->alloc_bytes - free_bytes);
        p->nsites++;
    }
    return 0;
}

/* Take the queued GC cycles (caller holds mu); returns how many. */
static int take_gc_queue(worker_t *w, proto_gc_t **out)
{
    int n = w->gcq_len;
    *out = NULL;
    if (n == 0)
        return 0;
    *out = malloc((size_t)n * sizeof **out);
    if (!*out)
        return 0;               /* keep them queued; try again next time */
    memcpy(*out, w->gcq, (size_t)n * sizeof **out);
    w->gcq_len = 0;
    return n;
}

/* Number the batch's cycles of the current attempt in its telemetry
** sequence (caller holds mu). A cycle of no task (task_id 0: the heap's,
** between tasks) takes no number: it belongs to no attempt's sequence. */
static void number_gc_batch(worker_t *w, proto_gc_t *batch, int n)
{
    for (int i = 0; i < n; i++)
        if (batch[i].task_id != 0) {
            batch[i].attempt = w->cur.attempt;
            batch[i].tseq = ++w->cur.tseq;
        }
}

/* Send the batch and free it. The first send that fails (the queue to a
** gone coordinator full for SEND_TIMEOUT_MS) drops the rest: a batch of
** thousands must not cost thousands of timeouts. Returns how many were
** dropped; *tseq_sent is raised to the last number handed to the socket. */
static int send_gc_batch(void *sock, proto_gc_t *batch, int n, int64_t *tseq_sent)
{
    int i;
    for (i = 0; i < n; i++) {
        proto_msg_t m = {.type = PROTO_GC};
        m.u.gc = batch[i];
        if (send_msg(sock, &m) != 0)
            break;
        if (batch[i].tseq > *tseq_sent)
            *tseq_sent = batch[i].tseq;
    }
    free(batch);
    return n - i;
}

/* The sampler, asked (cur.flush) at the end of an attempt: its GC cycles
** still queued go out on the telemetry socket after its samples, so that
** the attempt's telemetry is one ordered stream, and the main thread
** learns the last number sent (cur.tseq_sent) for the result. Called and
** returns with mu held. */
static void flush_attempt(worker_t *w, void *sock, unsigned session)
{
    proto_gc_t *batch;
    int n = take_gc_queue(w, &batch);
    number_gc_batch(w, batch, n);
    int64_t task_id = w->cur.task_id, attempt = w->cur.attempt, sent = w->cur.tseq_sent;
    bool send = w->cur.flush_send && sock && session == w->session;
    pthread_mutex_unlock(&w->mu);
    int dropped = n;
    if (send)
        dropped = send_gc_batch(sock, batch, n, &sent);
    else
        free(batch);
    pthread_mutex_lock(&w->mu);
    w->gc_dropped += dropped;
    if (w->cur.task_id == task_id && w->cur.attempt == attempt && sent > w->cur.tseq_sent)
        w->cur.tseq_sent = sent;
    w->cur.flushed = true;
    pthread_cond_broadcast(&w->flushed);
}

static void setopt_int(void *sock, int opt, int value)
{
    zmq_setsockopt(sock, opt, &value, sizeof value);
}

/* A DEALER to the coordinator with identity `ident`: bounded queues, a
** send timeout and a size limit on what it takes in. NULL on failure. */
static void *open_socket(worker_t *w, const char *ident)
{
    void *sock = zmq_socket(w->zctx, ZMQ_DEALER);
    if (!sock)
        return NULL;
    setopt_int(sock, ZMQ_LINGER, 1000);
    setopt_int(sock, ZMQ_SNDTIMEO, SEND_TIMEOUT_MS);
    setopt_int(sock, ZMQ_SNDHWM, 1000);
    setopt_int(sock, ZMQ_RCVHWM, 1000);
    int64_t maxmsg = 16 << 20;     /* a task frame is small */
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(sock, ZMQ_ROUTING_ID, ident, strlen(ident));
    char err[512];
    if (w->opts->keys_dir && keys_client_apply(w->opts->keys_dir, sock, err, sizeof err) != 0) {
        fprintf(stderr, "heapsim worker: %s\n", err);
        zmq_close(sock);
        errno = EINVAL;
        return NULL;
    }
    if (zmq_connect(sock, w->opts->endpoint) != 0) {
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

static bool stop_now(worker_t *w);
static bool coordinator_lost(worker_t *w);

static void *sampler_main(void *arg)
{
    worker_t *w = arg;
    void *sock = NULL;
    unsigned session = 0;
    uint64_t last_beat = 0, last_sample = 0, stop_seen = 0;

    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        if (session != w->session) {
            /* A new session: a new telemetry socket beside the control one. */
            char ident[IDENT_LEN + 1];
            session = w->session;
            snprintf(ident, sizeof ident, "t%s", w->ident + 1);
            pthread_mutex_unlock(&w->mu);
            if (sock)
                zmq_close(sock);
            sock = open_socket(w, ident);
            if (!sock)
                fprintf(stderr, "heapsim worker %s: telemetry socket: %s\n", w->name,
                        zmq_strerror(errno));
            pthread_mutex_lock(&w->mu);
            last_beat = 0;
        }
        bool active = w->cur.active;
        uint64_t interval = active ? w->cur.interval_ns : 100000000u;
        uint64_t beat = w->heartbeat_ns ? w->heartbeat_ns : 1000000000u;
        pthread_mutex_unlock(&w->mu);

        /* Wait for the coordinator's heartbeats, at most 50 ms at a time so
        ** that a new session or a stop is seen soon, and no longer than
        ** until the next sample is due (sample intervals go down to 10 ms);
        ** idle, 10 ms, so that a task's first sample comes soon after it
        ** starts. */
        long wait_ms = 10;
        if (active) {
            uint64_t now0 = clock_mono_ns(), due = last_sample + interval;
            uint64_t left_ns = due > now0 ? due - now0 : 0;
            wait_ms = left_ns >= 50000000u ? 50 : (long)((left_ns + 999999u) / 1000000u);
        }
        zmq_pollitem_t items[2] = {
            {.socket = sock, .events = ZMQ_POLLIN},
            {.socket = NULL, .fd = w->wake_fd, .events = ZMQ_POLLIN},
        };
        zmq_pollitem_t *it = sock ? items : items + 1;
        if (zmq_poll(it, sock ? 2 : 1, wait_ms) > 0) {
            if (sock && (items[0].revents & ZMQ_POLLIN)) {
                zmq_msg_t frame;
                zmq_msg_init(&frame);
                while (zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) >= 0) {
                    pthread_mutex_lock(&w->mu);
                    w->coord_seen_ns = clock_mono_ns();
                    pthread_mutex_unlock(&w->mu);
                }
                zmq_msg_close(&frame);
            }
            if (items[1].revents & ZMQ_POLLIN) {
                uint64_t n;
                if (read(w->wake_fd, &n, sizeof n) < 0 && errno != EAGAIN)
                    fprintf(stderr, "heapsim worker %s: the sampler's wake: %s\n", w->name,
                            strerror(errno));
            }
        }
        uint64_t now = clock_mono_ns();
        /* Told to stop (SIGTERM, or `heapsim run` died), or the coordinator
        ** lost, while a kernel runs: the task is interrupted at its next
        ** safepoint (rt_interrupt: asked again every turn until the task
        ** ends). A stopped worker's kernel that reaches no safepoint within
        ** the grace is cut short with the process. */
        bool stop = stop_now(w);
        bool lost = !stop && coordinator_lost(w);
        pthread_mutex_lock(&w->mu);
        bool busy = w->cur.active;
        if (busy && (stop || lost)) {
            if (!w->cur.interrupt_why[0]) {
                int sig = stop_requested;
                if (lost)
                    snprintf(w->cur.interrupt_why, sizeof w->cur.interrupt_why,
                             "the worker lost its coordinator");
                else if (sig)
                    snprintf(w->cur.interrupt_why, sizeof w->cur.interrupt_why,
                             "the worker was stopped by %s",
                             sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal");
                else
                    snprintf(w->cur.interrupt_why, sizeof w->cur.interrupt_why,
                             "the worker's parent exited");
            }
            rt_interrupt(w->cur.rt);
        }
        pthread_mutex_unlock(&w->mu);
        if (busy && stop) {
            if (!stop_seen)
                stop_seen = now;
            else if (now - stop_seen > STOP_GRACE_NS) {
                fprintf(stderr, "heapsim worker %s: stopped in the middle of a task\n",
                        w->name);
                _exit(143);
            }
        }
        if (sock && now - last_beat >= beat) {
            proto_msg_t hb = {.type = PROTO_HEARTBEAT};
            pthread_mutex_lock(&w->mu);
            hb.u.ref.task_id = w->cur.active ? w->cur.task_id : 0;
            hb.u.ref.attempt = w->cur.active ? w->cur.attempt : 0;
            pthread_mutex_unlock(&w->mu);
            if (w->heartbeat_ns)          /* only once welcomed */
                send_msg(sock, &hb);
            last_beat = now;
        }
        pthread_mutex_lock(&w->mu);
        if (w->cur.flush && !w->cur.flushed)
            flush_attempt(w, sock, session);
        if (w->stopping || !w->cur.active || !sock || session != w->session ||
            now - last_sample < interval)
            continue;
        last_sample = now;
        proto_msg_t m = {.type = PROTO_SAMPLE}, prof = {.type = PROTO_SAMPLE};
        proto_gc_t *batch;
        fill_sample(w, &m.u.sample);
        m.u.sample.attempt = w->cur.attempt;
        m.u.sample.tseq = ++w->cur.tseq;
        /* A heap profile snapshot when a collection has published one since
        ** the last sent. */
        uint64_t cycle = 0;
        bool send_prof = w->cur.prof_rate > 0 &&
                         make_profile(w, w->cur.heap, w->cur.task_id, false, w->cur.prof_rate,
                                      &prof, &cycle) == 0;
        if (send_prof && (cycle == 0 || cycle == w->cur.prof_cycle)) {
            proto_msg_free(&prof);
            prof.type = PROTO_SAMPLE;
            send_prof = false;
        }
        if (send_prof)
            w->cur.prof_cycle = cycle;
        int n = take_gc_queue(w, &batch);
        number_gc_batch(w, batch, n);
        int64_t task_id = w->cur.task_id, attempt = w->cur.attempt, sent = 0;
        pthread_mutex_unlock(&w->mu);
        int dropped = n + 1;
        if (send_msg(sock, &m) == 0) {
            sent = m.u.sample.tseq;
            dropped = send_gc_batch(sock, batch, n, &sent);
        } else {
            free(batch);
        }
        if (send_prof && dropped <= n)
            send_msg(sock, &prof);
        proto_msg_free(&prof);
        pthread_mutex_lock(&w->mu);
        w->gc_dropped += dropped;
        if (w->cur.task_id == task_id && w->cur.attempt == attempt && sent > w->cur.tseq_sent)
            w->cur.tseq_sent = sent;
    }
    pthread_mutex_unlock(&w->mu);
    if (sock)
        zmq_close(sock);
    return NULL;
}

/* ---- GC hook (main thread, world stopped) ------------------------------- */

static void on_gc_cycle(void *arg, const heap_gc_cycle_t *c)
{
    worker_t *w = arg;
    pthread_mutex_lock(&w->mu);
    if (w->cur.active && w->cur.gctrace) {
        /* One write per line, so workers sharing stderr never interleave. */
        char line[GCTRACE_LINE_MAX + 1];
        int n = gctrace_format(&c->fields, line, sizeof line - 1);
        if (n > 0 && n < (int)sizeof line - 1) {
            line[n++] = '\n';
            ssize_t wr = write(STDERR_FILENO, line, (size_t)n);
            (void)wr;
        }
    }
    if (w->gcq_len == GC_QUEUE_MAX) {
        w->gc_dropped++;
    } else {
        proto_gc_t *g = &w->gcq[w->gcq_len++];
        memset(g, 0, sizeof *g);
        snprintf(g->worker, sizeof g->worker, "%s", w->name);
        snprintf(g->heap, sizeof g->heap, "%s", w->cur.heap_key);
        g->task_id = w->cur.active ? w->cur.task_id : 0;
        g->attempt = w->cur.active ? w->cur.attempt : 0;
        g->fields = c->fields;
    }
    pthread_mutex_unlock(&w->mu);
}

/* ---- Heaps ------------------------------------------------------------- */

/* The heap for a task's key: already open, created, or attached. */
/* Close the worker's attachment w->heaps[i]; with `remove`, the segment is
** unlinked too unless another process is still attached. */
static void close_heap_at(worker_t *w, int i, bool remove)
{
    heap_close(&w->heaps[i].heap, remove);
    w->heaps[i] = w->heaps[--w->nheaps];
}

/* The heap of task t, attached (created if no process on this host has it
** yet). When MAX_HEAPS are open, the one least recently used is closed,
** its segment kept for any task of a shared heap still to come. */
static int heap_for(worker_t *w, const proto_task_t *t, heap_t **heap_p)
{
    w->heap_uses++;
    for (int i = 0; i < w->nheaps; i++)
        if (strcmp(w->heaps[i].key, t->heap) == 0) {
            w->heaps[i].last_used = w->heap_uses;
            *heap_p = w->heaps[i].heap;
            return 0;
        }
    if (w->nheaps == MAX_HEAPS) {
        int oldest = 0;
        for (int i = 1; i < w->nheaps; i++)
            if (w->heaps[i].last_used < w->heaps[oldest].last_used)
                oldest = i;
        close_heap_at(w, oldest, false);
    }

    open_heap_t *oh = &w->heaps[w->nheaps];
    heap_config_t cfg;
    int rc = -ENOENT;

    heap_config_default(&cfg);
    cfg.gogc = (int)t->gogc;
    cfg.memory_limit_bytes = (uint64_t)t->memory_limit_bytes;
    cfg.collector = t->collector == 1 ? HEAP_COLLECTOR_STW : HEAP_COLLECTOR_CONCURRENT;
    if (t->heap_max_bytes > 0)
        cfg.heap_max_bytes = (uint64_t)t->heap_max_bytes;
    snprintf(oh->key, sizeof oh->key, "%s", t->heap);
    heap_segment_name(t->heap, oh->shm, sizeof oh->shm);
    /* Another worker on this host may create it at the same moment, or the
    ** last one may be unlinking it: try both ways a few times. */
    for (int attempt = 0; attempt < 8; attempt++) {
        rc = heap_open(oh->shm, &cfg, true, &oh->heap);
        if (rc == -EEXIST)
            rc = heap_open(oh->shm, &cfg, false, &oh->heap);
        if (rc != -ENOENT)
            break;
    }
    if (rc != 0)
        return rc;
    heap_set_gc_hook(oh->heap, on_gc_cycle, w);
    heap_leave(oh->heap);       /* until a task runs on it */
    oh->last_used = w->heap_uses;
    w->nheaps++;
    *heap_p = oh->heap;
    return 0;
}

static void close_heaps(worker_t *w)
{
    for (int i = 0; i < w->nheaps; i++)
        heap_close(&w->heaps[i].heap, true);
    w->nheaps = 0;
}

/* ---- Running a task ---------------------------------------------------- */

typedef struct task_entry {
    kernel_fn_t fn;
    rt_t *rt;
    const kparams_t *params;
    retention_t *retention;       /* heap snapshots, when profiling; else NULL */
} task_entry_t;

static void task_main(sched_t *s, void *arg)
{
    task_entry_t *e = arg;
    (void)s;
    e->fn(e->rt, e->params);
    /* The program's main returns: what is alive now, goroutines it left
    ** included, before they are ended. */
    if (e->retention)
        retention_take(e->retention, e->rt, true);
}

static int ensure_sched(worker_t *w, int64_t stack_reserve)
{
    sched_config_t cfg;
    sched_config_default(&cfg);
    if (stack_reserve > 0)
        cfg.stack_reserve_bytes = (size_t)stack_reserve;
    if (w->sched && w->sched_stack_reserve == cfg.stack_reserve_bytes)
        return 0;
    sched_destroy(&w->sched);
    w->sched_stack_reserve = cfg.stack_reserve_bytes;
    return sched_new(&cfg, &w->sched);
}

static void fail_result(proto_result_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail_result(proto_result_t *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->ok = 0;
    free(r->error);
    r->error = strdup(msg);
}

/* Run task t into result r and, when the heap profile is on, its final
** snapshot into *prof (type PROTO_PROFILE; else left PROTO_SAMPLE with
** nothing to free) and its heap snapshots' analyses into *ret (retention.h;
** the caller has retention_init'ed it and frees it). Returns true when the
** task was interrupted (the sampler's rt_interrupt): r then says why, and
** the heap is left as after any task. */
static bool run_task(worker_t *w, const proto_task_t *t, proto_result_t *r,
                     proto_msg_t *prof, retention_t *ret)
{
    heap_t *heap = NULL;
    rt_t *rt = NULL;
    heap_stats_t st0, st1;
    sched_stats_t ss;
    proc_figures_t pf;
    int rc;

    snprintf(r->worker, sizeof r->worker, "%s", w->name);
    r->task_id = t->task_id;
    r->attempt = t->attempt;
    r->ok = 1;

    kernel_fn_t fn = kernels_find(t->params.kernel->name);
    if (!fn) {
        fail_result(r, "this worker has no kernel '%s'", t->params.kernel->name);
        return false;
    }
    if ((rc = ensure_sched(w, t->stack_reserve_bytes)) != 0) {
        fail_result(r, "cannot make a scheduler: %s", sched_strerror(rc));
        return false;
    }
    sched_set_timer_resolution(w->sched, (uint64_t)t->timer_resolution_ns);
    /* Go's sysmon preemption: 0 from a coordinator that predates it. */
    sched_set_preempt(w->sched, t->preempt_ns < 0 ? 0
                                : t->preempt_ns == 0 ? 10000000u : (uint64_t)t->preempt_ns);
    if ((rc = heap_for(w, t, &heap)) != 0) {
        fail_result(r, "cannot open the shared heap '%s': %s", t->heap,
                    heap_strerror(rc));
        return false;
    }
    rt = rt_new(w->sched, heap, (uint64_t)t->seed);
    if (!rt) {
        fail_result(r, "out of memory");
        return false;
    }
    rt_set_gc_hook(rt, on_gc_cycle, w);   /* rt's own comes first */
    task_entry_t entry = {.fn = fn, .rt = rt, .params = &t->params};
    if (t->mem_profile_rate > 0) {
        /* Why is it alive: snapshots every few cycles and at the end. */
        rt_set_main_label(rt, t->params.kernel->name);
        rt_set_snapshot_hook(rt, retention_hook, ret, RETENTION_EVERY_CYCLES);
        entry.retention = ret;
    }

    reset_peak_rss();
    heap_enter(heap);
    heap_hwm_reset(heap);
    /* A profile per task: this process's samples start over. */
    heap_prof_set_rate(heap, (uint64_t)(t->mem_profile_rate > 0 ? t->mem_profile_rate : 0),
                       (uint64_t)t->seed);
    heap_prof_reset(heap);
    heap_stats_read(heap, &st0);
    pthread_mutex_lock(&w->mu);
    w->cur = (current_t){
        .active = true,
        .task_id = t->task_id,
        .attempt = t->attempt,
        .heap = heap,
        .start_ns = clock_mono_ns(),
        .interval_ns = (uint64_t)t->sample_interval_ns,
        .st0 = st0,
        .gctrace = t->gctrace != 0,
        .prof_rate = t->mem_profile_rate > 0 ? t->mem_profile_rate : 0,
        .prof_cycle = 0,
        .rt = rt,
    };
    snprintf(w->cur.heap_key, sizeof w->cur.heap_key, "%s", t->heap);
    pthread_mutex_unlock(&w->mu);
    wake_sampler(w);

    uint64_t t0 = clock_mono_ns();
    /* The kernel is the task's main goroutine: when it returns the task
    ** ends, like a Go program, whatever goroutines it left. */
    int64_t id = sched_spawn_flags(w->sched, task_main, &entry, SCHED_SPAWN_MAIN);
    rc = id < 0 ? (int)id : sched_run(w->sched);
    if (rc == 0)
        rt_note_end(rt);
    r->wall_ns = (int64_t)(clock_mono_ns() - t0);

    sched_stats_read(w->sched, &ss);
    heap_stats_read(heap, &st1);
    uint64_t prof_cycle;
    if (t->mem_profile_rate > 0 &&
        make_profile(w, heap, t->task_id, true, t->mem_profile_rate, prof, &prof_cycle) != 0)
        proto_msg_free(prof);
    heap_hwm_t hwm;
    heap_hwm_read(heap, &hwm);
    heap_leave(heap);

    char why[sizeof w->cur.interrupt_why];
    pthread_mutex_lock(&w->mu);
    w->cur.active = false;
    w->cur.rt = NULL;
    r->goroutines_max = w->cur.goroutines_max;
    snprintf(why, sizeof why, "%s", w->cur.interrupt_why);
    pthread_mutex_unlock(&w->mu);
    heap_set_stack_bytes(heap, 0, 0);   /* the task's stacks are gone */
    /* The exact peak of the heap in use (Go's HeapAlloc), not a sample. */
    r->peak_heap_bytes = (int64_t)hwm.heap_alloc_bytes;

    bool interrupted = id >= 0 && rc == SCHED_EINTERRUPTED;
    if (id < 0)
        fail_result(r, "cannot start the kernel: %s", sched_strerror((int)id));
    else if (interrupted)
        fail_result(r, "interrupted after %.2f s: %s (%s)", (double)r->wall_ns / 1e9,
                    why[0] ? why : "the worker was stopped", sched_failure(w->sched));
    else if (rc != 0)
        fail_result(r, "%s", rc == SCHED_EFAILED || rc == SCHED_EDEADLOCK
                                 ? sched_failure(w->sched)
                                 : sched_strerror(rc));
    r->output = strdup(rt_output(rt));

    size_t nm;
    const rt_metric_t *m = rt_metrics(rt, &nm);
    for (size_t i = 0; i < nm; i++)
        proto_result_add_metric(r, m[i].name, m[i].value, m[i].unit);

    r->alloc_objects = (int64_t)(st1.proc_alloc_objects - st0.proc_alloc_objects);
    r->alloc_bytes = (int64_t)(st1.proc_alloc_bytes - st0.proc_alloc_bytes);
    r->gc_cycles = (int64_t)(st1.num_gc - st0.num_gc);
    r->pause_total_ns = (int64_t)(st1.pause_total_ns - st0.pause_total_ns);
    heap_gc_cycle_t *hist = malloc(HEAP_GC_HISTORY * sizeof *hist);
    if (hist) {
        int n = heap_gc_history(heap, (uint32_t)st0.num_gc, hist, HEAP_GC_HISTORY);
        for (int i = 0; i < n; i++)
            if (hist[i].fields.stw_ns > r->pause_max_ns)
                r->pause_max_ns = hist[i].fields.stw_ns;
        free(hist);
    }
    read_proc_figures(&pf);
    r->peak_rss_bytes = pf.hwm_bytes;
    r->stack_hwm_bytes = (int64_t)ss.stack_hwm_bytes;
    rt_destroy(&rt);
    return interrupted;
}

/* ---- The request loop -------------------------------------------------- */

enum {
    GOT_MSG = 0,
    STOPPED = 1,                  /* a signal, or the parent died */
    LOST = 2,                     /* the coordinator was not heard in time */
    MALFORMED = 3,                /* a frame we cannot decode: err says why */
    TIMEOUT = 4,
    DONE = 5,                     /* the coordinator said done */
};

static bool stop_now(worker_t *w)
{
    return stop_requested || (w->opts->exit_with_parent && getppid() != w->parent);
}

/* The coordinator has not been heard for MISSES_MAX heartbeats. */
static bool coordinator_lost(worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t seen = w->coord_seen_ns, beat = w->heartbeat_ns;
    pthread_mutex_unlock(&w->mu);
    if (!beat)
        return false;
    uint64_t now = clock_mono_ns();
    return now > seen && now - seen > (uint64_t)(w->misses > 0 ? w->misses : MISSES_MAX) * beat;
}

/* Wait up to timeout_ns (0: no limit) for one message on the control
** socket. GOT_MSG with *msg filled; STOPPED, LOST, TIMEOUT; MALFORMED with
** the reason in err; <0 on a socket error. */
static int recv_msg(worker_t *w, proto_msg_t *msg, uint64_t timeout_ns, char *err,
                    size_t errsize)
{
    uint64_t until = timeout_ns ? clock_mono_ns() + timeout_ns : 0;
    for (;;) {
        zmq_pollitem_t item = {.socket = w->sock, .events = ZMQ_POLLIN};
        int n = zmq_poll(&item, 1, 100);
        if (stop_now(w))
            return STOPPED;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0) {
            if (coordinator_lost(w))
                return LOST;
            if (until && clock_mono_ns() >= until)
                return TIMEOUT;
            continue;
        }
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, w->sock, 0) < 0) {
            zmq_msg_close(&frame);
            if (errno == EINTR)
                continue;
            return -errno;
        }
        pthread_mutex_lock(&w->mu);
        w->coord_seen_ns = clock_mono_ns();
        pthread_mutex_unlock(&w->mu);
        int rc = proto_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), msg, err, errsize);
        zmq_msg_close(&frame);
        return rc == 0 ? GOT_MSG : MALFORMED;
    }
}

static void session_end(worker_t *w)
{
    if (w->sock)
        zmq_close(w->sock);
    w->sock = NULL;
    pthread_mutex_lock(&w->mu);
    w->heartbeat_ns = 0;
    pthread_mutex_unlock(&w->mu);
}

/* A new connection: fresh identities, hello, and the coordinator's
** welcome within MISSES_MAX default heartbeats. GOT_MSG, STOPPED, LOST, or
** <0. */
static int session_start(worker_t *w)
{
    unsigned char raw[8];
    char ident[IDENT_LEN + 1];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        uint64_t x = clock_mono_ns() ^ ((uint64_t)getpid() << 32);
        memcpy(raw, &x, sizeof raw);
    }
    snprintf(ident, sizeof ident, "c%02x%02x%02x%02x%02x%02x%02x%02x", raw[0], raw[1],
             raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]);
    w->sock = open_socket(w, ident);
    if (!w->sock)
        return -errno;
    pthread_mutex_lock(&w->mu);
    snprintf(w->ident, sizeof w->ident, "%s", ident);
    w->session++;
    w->heartbeat_ns = 0;
    pthread_mutex_unlock(&w->mu);

    proto_msg_t hello = {.type = PROTO_HELLO}, msg;
    snprintf(hello.u.hello.worker, sizeof hello.u.hello.worker, "%s", w->asked_name);
    snprintf(hello.u.hello.host, sizeof hello.u.hello.host, "%s", w->host);
    hello.u.hello.pid = getpid();
    hello.u.hello.ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (send_msg(w->sock, &hello) != 0)
        return LOST;
    uint64_t until = clock_mono_ns() + MISSES_MAX * 1000000000ull;
    for (;;) {
        char err[256];
        uint64_t now = clock_mono_ns();
        if (now >= until)
            return LOST;
        int rc = recv_msg(w, &msg, until - now, err, sizeof err);
        if (rc == TIMEOUT)
            return LOST;
        if (rc != GOT_MSG && rc != MALFORMED)
            return rc;
        if (rc == GOT_MSG && msg.type == PROTO_WELCOME) {
            pthread_mutex_lock(&w->mu);
            snprintf(w->name, sizeof w->name, "%s", msg.u.welcome.worker);
            w->heartbeat_ns = (uint64_t)msg.u.welcome.heartbeat_ms * 1000000u;
            w->misses = (int)msg.u.welcome.misses;
            w->coord_seen_ns = clock_mono_ns();
            pthread_mutex_unlock(&w->mu);
            return GOT_MSG;
        }
        if (rc == GOT_MSG)
            proto_msg_free(&msg);
    }
}

/* The attempt just run has ended (cur.active is false): have the sampler
** send (`send`) or drop its GC cycles still queued, and return the last
** telemetry number it handed to its socket. Waits for the sampler at most
** FLUSH_WAIT_NS (its sends time out after SEND_TIMEOUT_MS); without a
** sampler, the cycles are dropped. */
static int64_t flush_telemetry(worker_t *w, bool send)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += FLUSH_WAIT_NS / 1000000000ull;
    pthread_mutex_lock(&w->mu);
    assert(!w->cur.active);
    w->cur.flush = true;
    w->cur.flush_send = send;
    w->cur.flushed = false;
    wake_sampler(w);
    if (!w->sampler_started) {
        proto_gc_t *batch;
        int n = take_gc_queue(w, &batch);
        free(batch);
        w->gc_dropped += n;
        w->cur.flushed = true;
    }
    while (!w->cur.flushed)
        if (pthread_cond_timedwait(&w->flushed, &w->mu, &until) == ETIMEDOUT)
            break;
    w->cur.flush = false;
    int64_t last = w->cur.tseq_sent;
    pthread_mutex_unlock(&w->mu);
    return last;
}

/* Send the result until the coordinator acknowledges it. GOT_MSG when it
** did, STOPPED, LOST or <0. */
static int deliver_result(worker_t *w, const proto_msg_t *res)
{
    for (;;) {
        proto_msg_t msg;
        char err[256];
        if (stop_now(w))
            return STOPPED;
        if (send_msg(w->sock, res) != 0 && coordinator_lost(w))
            return LOST;
        int rc = recv_msg(w, &msg, w->heartbeat_ns, err, sizeof err);
        if (rc == TIMEOUT || rc == MALFORMED)
            continue;
        if (rc != GOT_MSG)
            return rc;
        bool acked = msg.type == PROTO_ACK && msg.u.ref.task_id == res->u.result.task_id &&
                     msg.u.ref.attempt == res->u.result.attempt;
        bool done = msg.type == PROTO_DONE;
        proto_msg_free(&msg);
        if (acked || done)
            return GOT_MSG;
    }
}

/* One session's requests: DONE, STOPPED, LOST or <0. */
static int serve_session(worker_t *w)
{
    for (;;) {
        proto_msg_t ready = {.type = PROTO_READY}, msg;
        char err[256];
        snprintf(ready.worker, sizeof ready.worker, "%s", w->name);
        if (send_msg(w->sock, &ready) != 0)
            return coordinator_lost(w) ? LOST : -errno;
        int rc = recv_msg(w, &msg, 0, err, sizeof err);
        if (rc == MALFORMED) {
            /* Most likely a task we cannot take: say so, never stay silent
            ** (the coordinator would wait for ever). */
            proto_msg_t rej = {.type = PROTO_REJECT};
            snprintf(rej.u.ref.reason, sizeof rej.u.ref.reason, "%s", err);
            fprintf(stderr, "heapsim worker %s: rejecting a message from the coordinator: %s\n",
                    w->name, err);
            send_msg(w->sock, &rej);
            continue;
        }
        if (rc != GOT_MSG)
            return rc;
        if (msg.type == PROTO_DONE) {
            proto_msg_free(&msg);
            return DONE;
        }
        if (msg.type != PROTO_TASK) {
            proto_msg_free(&msg);
            continue;
        }
        proto_msg_t res = {.type = PROTO_RESULT}, prof = {.type = PROTO_SAMPLE};
        retention_t ret;
        retention_init(&ret, w->name, msg.u.task.task_id);
        bool interrupted = run_task(w, &msg.u.task, &res.u.result, &prof, &ret);
        /* The attempt's GC cycles still queued go out before its result,
        ** after its samples, on the telemetry socket; the result says the
        ** last telemetry number sent, so that the coordinator waits for
        ** what is still on its way. An interrupted attempt's are dropped. */
        bool keep = !interrupted && !stop_now(w) && !coordinator_lost(w);
        int64_t tseq_last = flush_telemetry(w, keep);
        /* A heap of this task alone: a fresh one per task, as a Go program
        ** starts with an empty heap; nothing needs it any more. */
        if (msg.u.task.heap_private)
            for (int i = 0; i < w->nheaps; i++)
                if (strcmp(w->heaps[i].key, msg.u.task.heap) == 0) {
                    close_heap_at(w, i, true);
                    break;
                }
        if (interrupted) {
            /* Cut short at a safepoint: handed back (a lost attempt, queued
            ** again) when the coordinator can still hear it -- not when it
            ** is gone, nor when it was our parent (`heapsim run`) and died. */
            /* The parent-death signal comes when the thread that forked
            ** us exits; while the rest of a SIGKILLed `heapsim run` is
            ** still exiting, getppid() names it yet, but its main thread
            ** is already a zombie. */
            bool orphan = w->opts->exit_with_parent &&
                          (getppid() != w->parent || proc_started_ticks(w->parent) < 0);
            bool lost = orphan || coordinator_lost(w);
            if (!lost) {
                proto_msg_t rej = {.type = PROTO_REJECT};
                rej.u.ref.task_id = msg.u.task.task_id;
                rej.u.ref.attempt = msg.u.task.attempt;
                rej.u.ref.interrupted = 1;
                rej.u.ref.tseq_said = 1;
                rej.u.ref.tseq_last = tseq_last;
                snprintf(rej.u.ref.reason, sizeof rej.u.ref.reason, "%s",
                         res.u.result.error ? res.u.result.error : "interrupted");
                send_msg(w->sock, &rej);
            }
            fprintf(stderr, "heapsim worker %s: task %lld attempt %lld %s; %s\n", w->name,
                    (long long)msg.u.task.task_id, (long long)msg.u.task.attempt,
                    res.u.result.error ? res.u.result.error : "interrupted",
                    orphan ? "the run's process is gone"
                    : lost ? "the coordinator runs it again" : "handed back");
            rc = stop_now(w) ? STOPPED : lost ? LOST : GOT_MSG;
        } else if (!keep) {
            rc = stop_now(w) ? STOPPED : LOST;
        } else {
            res.u.result.tseq_said = 1;
            res.u.result.tseq_last = tseq_last;
            if (prof.type == PROTO_PROFILE)
                send_msg(w->sock, &prof);
            if (ret.running.type == PROTO_RETENTION)
                send_msg(w->sock, &ret.running);
            if (ret.final.type == PROTO_RETENTION)
                send_msg(w->sock, &ret.final);
            rc = deliver_result(w, &res);
        }
        retention_free(&ret);
        proto_msg_free(&prof);
        proto_msg_free(&res);
        proto_msg_free(&msg);
        if (rc != GOT_MSG)
            return rc;
    }
}

/* Sleep ms, waking early to stop. */
static bool backoff_sleep(worker_t *w, int ms)
{
    for (int waited = 0; waited < ms; waited += 100) {
        if (stop_now(w))
            return false;
        usleep(100000);
    }
    return !stop_now(w);
}

static int serve(worker_t *w)
{
    int backoff_ms = BACKOFF_FIRST_MS;
    for (;;) {
        int rc = session_start(w);
        if (rc == GOT_MSG) {
            backoff_ms = BACKOFF_FIRST_MS;
            rc = serve_session(w);
        }
        session_end(w);
        if (rc == DONE || rc == STOPPED)
            return 0;
        if (rc < 0)
            return rc;
        if (!w->opts->quiet)
            fprintf(stderr, "heapsim worker %s: no coordinator at %s; trying again in %d s\n",
                    w->name, w->opts->endpoint, backoff_ms / 1000);
        if (!backoff_sleep(w, backoff_ms))
            return 0;
        backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
    }
}

static volatile sig_atomic_t forward_sig;

static void on_forward_signal(int sig)
{
    forward_sig = sig;
}

/* --procs N: N worker processes under this one. Returns the exit status:
** 0 when every one exited 0, else the first other status. */
static int run_procs(const worker_opts_t *opts)
{
    pid_t *pids = calloc((size_t)opts->procs, sizeof *pids);
    int status = 0, left = 0;
    if (!pids) {
        fprintf(stderr, "heapsim worker: out of memory\n");
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_forward_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    for (int i = 0; i < opts->procs; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "heapsim worker: fork: %s\n", strerror(errno));
            status = 1;
            break;
        }
        if (pid == 0) {
            char name[PROTO_NAME_MAX], host[100] = "localhost";
            worker_opts_t child = *opts;
            child.procs = 0;
            child.exit_with_parent = true;
            gethostname(host, sizeof host - 1);
            if (opts->name)
                snprintf(name, sizeof name, "%.99s-%d", opts->name, i + 1);
            else
                snprintf(name, sizeof name, "%.99s:%d", host, (int)getpid());
            child.name = name;
            _exit(worker_main(&child));
        }
        pids[i] = pid;
        left++;
    }
    while (left > 0) {
        int ws;
        pid_t pid = waitpid(-1, &ws, 0);
        if (pid < 0) {
            if (errno != EINTR)
                break;
            if (forward_sig)
                for (int i = 0; i < opts->procs; i++)
                    if (pids[i] > 0)
                        kill(pids[i], forward_sig);
            forward_sig = 0;
            continue;
        }
        for (int i = 0; i < opts->procs; i++)
            if (pids[i] == pid)
                pids[i] = 0;
        left--;
        int rc = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
        if (rc != 0 && status == 0)
            status = rc;
    }
    free(pids);
    return status;
}

int worker_main(const worker_opts_t *opts)
{
    worker_t w = {.opts = opts};
    int status = 1;

    if (opts->procs > 1)
        return run_procs(opts);

    w.parent = getppid();
    if (opts->exit_with_parent)
        prctl(PR_SET_PDEATHSIG, SIGTERM);
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* The parent may have died before PDEATHSIG was set. */
    if (opts->exit_with_parent && getppid() != w.parent)
        return 0;

    if (gethostname(w.host, sizeof w.host - 1) != 0)
        snprintf(w.host, sizeof w.host, "localhost");
    if (opts->name)
        snprintf(w.asked_name, sizeof w.asked_name, "%s", opts->name);
    else
        snprintf(w.asked_name, sizeof w.asked_name, "%.100s:%d", w.host, (int)getpid());
    snprintf(w.name, sizeof w.name, "%s", w.asked_name);

    w.gcq = calloc(GC_QUEUE_MAX, sizeof *w.gcq);
    if (!w.gcq) {
        fprintf(stderr, "heapsim worker: out of memory\n");
        return 1;
    }
    pthread_mutex_init(&w.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.flushed, &ca);
    pthread_condattr_destroy(&ca);
    w.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w.wake_fd < 0) {
        fprintf(stderr, "heapsim worker: eventfd: %s\n", strerror(errno));
        goto out_sync;
    }

    w.zctx = zmq_ctx_new();
    if (!w.zctx) {
        fprintf(stderr, "heapsim worker: zmq_ctx_new: %s\n", zmq_strerror(errno));
        goto out_wake_fd;
    }
    /* A bad endpoint is a usage error, found before anything starts. */
    void *probe = zmq_socket(w.zctx, ZMQ_DEALER);
    if (!probe || zmq_connect(probe, opts->endpoint) != 0) {
        fprintf(stderr, "heapsim worker: cannot connect to '%s': %s\n", opts->endpoint,
                zmq_strerror(errno));
        if (probe)
            zmq_close(probe);
        status = WORKER_EXIT_USAGE;
        goto out_ctx;
    }
    setopt_int(probe, ZMQ_LINGER, 0);
    zmq_close(probe);
    /* Keys that cannot be read are a usage error too. */
    if (opts->keys_dir) {
        char err[512];
        void *s = zmq_socket(w.zctx, ZMQ_DEALER);
        int krc = s ? keys_client_apply(opts->keys_dir, s, err, sizeof err) : -1;
        if (s)
            zmq_close(s);
        if (krc != 0) {
            fprintf(stderr, "heapsim worker: %s\n", s ? err : "cannot make a socket");
            status = WORKER_EXIT_USAGE;
            goto out_ctx;
        }
    }
    if (pthread_create(&w.sampler, NULL, sampler_main, &w) == 0)
        w.sampler_started = true;

    int rc = serve(&w);
    if (rc < 0)
        fprintf(stderr, "heapsim worker %s: %s\n", w.name, zmq_strerror(-rc));
    else
        status = 0;

    if (w.sampler_started) {
        pthread_mutex_lock(&w.mu);
        w.stopping = true;
        pthread_mutex_unlock(&w.mu);
        wake_sampler(&w);
        pthread_join(w.sampler, NULL);
    }
    close_heaps(&w);
    sched_destroy(&w.sched);
out_ctx:
    zmq_ctx_term(w.zctx);
out_wake_fd:
    close(w.wake_fd);
out_sync:
    pthread_cond_destroy(&w.flushed);
    pthread_mutex_destroy(&w.mu);
    free(w.gcq);
    return status;
}
