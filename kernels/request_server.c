/*
** kernels/request_server.c -- an open-loop service: requests arrive on a
** schedule, each is handled by its own goroutine, and the latency of every
** one (arrival to completion) goes into an HDR histogram, so that the
** collector's pauses show in the tail.
**
** Open loop: the main goroutine is the load generator. Request i is due at
** a time fixed in advance -- every 1/rate s (`arrivals: uniform`) or with
** exponential gaps of mean 1/rate s (`poisson`, the default) -- whatever
** happened to the requests before it. At its due time the generator
** spawns its handler; a generator held up (a collection stops the world,
** handlers hog the thread) spawns the overdue ones at once, and their
** latency still counts from the due time (no "coordinated omission": a
** stall delays every request that should have arrived during it). The
** generator sleeps until shortly before a due time, then yields in a loop
** until it (sleeps alone overshoot by 50-100 us; see kernels_int.h).
**
** A handler allocates its request's object graph: objects_per_request
** objects of object_bytes, each referring to the one before and the one
** before that, yielding once half-way (waiting on a backend). It then
** gets a response buffer of buffer_bytes (new, or with `pool` from a
** sync.Pool), writes it, stores its graph in a cache of the last
** cache_requests requests (the graphs there stay live: the collector has a
** live heap to mark, and a pause to show), checks its graph and buffer,
** returns the buffer to the pool, and records its latency.
**
** State: malloc'd, freed when the main goroutine ends (it waits for every
** handler). The cache is one heap array rooted by the main goroutine's
** frame.
*/
#include "kernels/kernels.h"
#include "kernels/kernels_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/hdr.h"
#include "runtime/pool.h"
#include "runtime/sync.h"

#define RS_SPIN_NS 200000u          /* the generator stops sleeping this early */
#define RS_OBJ_SLOTS 2u

typedef struct rs_state rs_state_t;

typedef struct rs_request {
    rs_state_t *st;
    int64_t id;
    uint64_t due_ns;
} rs_request_t;

struct rs_state {
    heap_t *heap;
    heap_ref_t *cache_root;       /* main's root slot: the cache, or 0 */
    pool_t *pool;                 /* NULL without `pool` */
    int64_t requests;
    int64_t objects;              /* per request */
    int64_t cache_requests;
    size_t object_scalar_bytes;   /* per object, after its two slots */
    size_t buffer_bytes;
    sync_wg_t done;
    hdr_t *latency;
    int64_t completed;
    uint64_t last_done_ns;
    uint64_t max_lag_ns;          /* generator behind its schedule, worst */
    int64_t buffers_new, buffers_reused;
    int64_t bad_request;          /* first broken one, -1 none */
    rs_request_t reqs[];          /* `requests` of them */
};

static inline unsigned char buffer_byte(int64_t id)
{
    return (unsigned char)(id * 29 + 3);
}

static void handler(rt_t *rt, void *arg)
{
    rs_request_t *req = arg;
    rs_state_t *st = req->st;
    heap_t *h = st->heap;
    int64_t id = req->id;
    heap_ref_t *frame = rt_push(rt, 2);   /* 0: newest graph object, 1: buffer */

    for (int64_t i = 0; i < st->objects; i++) {
        heap_ref_t obj = rt_alloc_at(rt, RS_OBJ_SLOTS, st->object_scalar_bytes,
                                     "request_server.graph");
        heap_write_ref(h, obj, 0, frame[0]);
        heap_write_ref(h, obj, 1, frame[0] ? heap_read_ref(h, frame[0], 0) : 0);
        if (st->object_scalar_bytes >= sizeof(int64_t))
            *(int64_t *)heap_data(h, obj, RS_OBJ_SLOTS) = id;
        frame[0] = obj;
        if (i == st->objects / 2)
            sched_yield(rt_sched(rt));    /* waiting on a backend */
    }

    heap_ref_t buf = 0;
    if (st->buffer_bytes > 0) {
        buf = st->pool ? pool_get(rt, st->pool) : 0;
        if (buf) {
            frame[1] = buf;
            st->buffers_reused++;
        } else {
            frame[1] = buf = rt_alloc_at(rt, 0, st->buffer_bytes, "request_server.buffer");
            st->buffers_new++;
        }
        memset(heap_data(h, buf, 0), buffer_byte(id), st->buffer_bytes);
    }
    if (st->cache_requests > 0)
        heap_write_ref(h, *st->cache_root, (uint32_t)(id % st->cache_requests), frame[0]);

    /* The graph is whole and ours; the buffer still holds our response. */
    int64_t n = 0;
    bool intact = true;
    for (heap_ref_t o = frame[0]; o && intact; o = heap_read_ref(h, o, 0), n++) {
        heap_ref_t back2 = heap_read_ref(h, o, 1);
        heap_ref_t prev = heap_read_ref(h, o, 0);
        if (st->object_scalar_bytes >= sizeof(int64_t))
            intact = *(int64_t *)heap_data(h, o, RS_OBJ_SLOTS) == id;
        if (intact && prev)
            intact = back2 == heap_read_ref(h, prev, 0);
    }
    if (n != st->objects)
        intact = false;
    if (buf) {
        const unsigned char *bytes = heap_data(h, buf, 0);
        intact = intact && bytes[0] == buffer_byte(id) &&
                 bytes[st->buffer_bytes - 1] == buffer_byte(id);
    }
    if (!intact && st->bad_request < 0)
        st->bad_request = id;

    if (buf && st->pool)
        pool_put(rt, st->pool, buf);
    frame[0] = frame[1] = 0;
    rt_pop(rt, 2);

    uint64_t now = rt_now_ns();
    hdr_record(st->latency, now > req->due_ns ? now - req->due_ns : 0);
    st->completed++;
    if (now > st->last_done_ns)
        st->last_done_ns = now;
    sync_wg_done(rt_sched(rt), &st->done);
}

/* The generator's wait for `due`: sleep to RS_SPIN_NS before it, then
** yield (handlers run) until it has come. */
static void wait_until(rt_t *rt, uint64_t due)
{
    for (;;) {
        uint64_t now = rt_now_ns();
        if (now >= due)
            return;
        if (due - now > RS_SPIN_NS)
            sched_sleep_ns(rt_sched(rt), due - now - RS_SPIN_NS);
        else
            sched_yield(rt_sched(rt));
    }
}

static void state_free(void *arg)
{
    rs_state_t *st = arg;
    hdr_destroy(&st->latency);
    free(st);
}

void kernel_request_server(rt_t *rt, const kparams_t *p)
{
    sched_t *s = rt_sched(rt);
    heap_t *h = rt_heap(rt);
    int64_t requests = kparams_int(p, "requests");
    double rate = kparams_float(p, "rate");
    size_t object_bytes = (size_t)kparams_int(p, "object_bytes");
    bool poisson = strcmp(kparams_string(p, "arrivals"), "poisson") == 0;
    uint64_t rng = rt_seed(rt) ^ 0x5e5e5e5e5e5e5e5eull;
    heap_stats_t hs0, hs1;

    rs_state_t *st = calloc(1, sizeof *st + (size_t)requests * sizeof(rs_request_t));
    if (!st)
        rt_fail(rt, "out of memory: request_server state");
    if (sched_defer(s, state_free, st) != 0) {
        free(st);
        rt_fail(rt, "out of memory: request_server cleanup");
    }
    st->latency = hdr_new();
    if (!st->latency)
        rt_fail(rt, "out of memory: request_server histogram");
    st->heap = h;
    st->requests = requests;
    st->objects = kparams_int(p, "objects_per_request");
    st->cache_requests = kparams_int(p, "cache_requests");
    st->object_scalar_bytes = object_bytes - RS_OBJ_SLOTS * sizeof(heap_ref_t);
    st->buffer_bytes = (size_t)kparams_int(p, "buffer_bytes");
    st->bad_request = -1;
    sync_wg_init(&st->done);
    if (kparams_bool(p, "pool"))
        st->pool = pool_new(rt);

    heap_ref_t *frame = rt_push(rt, 1);
    if (st->cache_requests > 0)
        frame[0] = rt_alloc_at(rt, (uint32_t)st->cache_requests, 0, "request_server.cache");
    st->cache_root = &frame[0];

    heap_stats_read(h, &hs0);
    double gap_ns = 1e9 / rate;
    uint64_t start = rt_now_ns();
    double due_after = 0;             /* ns after start */
    sync_wg_add(s, &st->done, requests);
    for (int64_t i = 0; i < requests; i++) {
        rs_request_t *req = &st->reqs[i];
        *req = (rs_request_t){ .st = st, .id = i, .due_ns = start + (uint64_t)due_after };
        wait_until(rt, req->due_ns);
        uint64_t lag = rt_now_ns() - req->due_ns;
        if (lag > st->max_lag_ns)
            st->max_lag_ns = lag;
        rt_go(rt, handler, req);
        due_after += poisson ? -gap_ns * log(1.0 - kern__rand_unit(&rng)) : gap_ns;
    }
    sync_wg_wait(s, &st->done);
    heap_stats_read(h, &hs1);
    pool_destroy(rt, &st->pool);
    st->cache_root = NULL;
    rt_pop(rt, 1);

    if (st->bad_request >= 0)
        rt_fail(rt, "request_server: request %lld found its graph or buffer damaged",
                (long long)st->bad_request);
    if (st->completed != requests || hdr_count(st->latency) != (uint64_t)requests)
        rt_fail(rt, "request_server: %lld of %lld requests completed",
                (long long)st->completed, (long long)requests);

    uint64_t duration = st->last_done_ns - start;
    double achieved = (double)requests * 1e9 / (double)duration;
    uint64_t p50 = hdr_value_at_percentile(st->latency, 50);
    uint64_t p90 = hdr_value_at_percentile(st->latency, 90);
    uint64_t p99 = hdr_value_at_percentile(st->latency, 99);
    uint64_t p999 = hdr_value_at_percentile(st->latency, 99.9);
    uint64_t max = hdr_max(st->latency);
    uint64_t cycles = hs1.num_gc - hs0.num_gc;
    uint64_t bytes = hs1.proc_alloc_bytes - hs0.proc_alloc_bytes;

    rt_printf(rt, "request_server: %lld requests at %.0f/s (%s), %lld objects of %zu B each, "
              "%zu B buffer%s, cache of %lld: achieved %.0f/s over %.2f s; "
              "latency p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us; "
              "%llu GC cycles, %.1f MiB allocated\n",
              (long long)requests, rate, poisson ? "poisson" : "uniform",
              (long long)st->objects, object_bytes, st->buffer_bytes,
              st->pool ? " from a pool" : "", (long long)st->cache_requests, achieved,
              (double)duration / 1e9, (double)p50 / 1e3, (double)p90 / 1e3, (double)p99 / 1e3,
              (double)p999 / 1e3, (double)max / 1e3, (unsigned long long)cycles,
              (double)bytes / 1048576.0);
    rt_metric(rt, "latency_p50_ns", (double)p50, "ns");
    rt_metric(rt, "latency_p90_ns", (double)p90, "ns");
    rt_metric(rt, "latency_p99_ns", (double)p99, "ns");
    rt_metric(rt, "latency_p999_ns", (double)p999, "ns");
    rt_metric(rt, "latency_max_ns", (double)max, "ns");
    rt_metric(rt, "latency_mean_ns", hdr_mean(st->latency), "ns");
    rt_metric(rt, "achieved_rate", achieved, "req/s");
    rt_metric(rt, "duration_ns", (double)duration, "ns");
    rt_metric(rt, "generator_lag_max_ns", (double)st->max_lag_ns, "ns");
    rt_metric(rt, "gc_cycles", (double)cycles, "");
    rt_metric(rt, "alloc_bytes", (double)bytes, "B");
    rt_metric(rt, "buffers_new", (double)st->buffers_new, "");
    rt_metric(rt, "buffers_reused", (double)st->buffers_reused, "");
}
