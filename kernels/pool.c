/*
** kernels/pool.c -- per-request buffers allocated fresh, or reused through
** a sync.Pool (runtime/pool.h).
**
** `concurrency` goroutines serve `requests` requests between them. A
** request allocates its record (one reference slot, its number) and gets a
** buffer of payload_bytes: a new object, or with `pool` one from the pool
** (a new one only when the pool is empty). It writes the buffer through
** (a response being encoded), yields -- the goroutine waits on something,
** so `concurrency` requests are in flight and hold a buffer each -- then
** checks that the buffer still holds its response (a buffer handed to two
** requests at once would fail the task) and, with `pool`, puts it back.
**
** Go's victim rule applies (see pool.h): each collection moves the
** pooled buffers to the victim half and the next drops them, so a pool
** saves allocations only while collections are rarer than reuse. The
** small records are allocated either way, and they alone keep the
** collector running, slowly, with the pool.
**
** State: malloc'd, freed when the main goroutine ends (it waits for the
** others). The pool is made and destroyed by the main goroutine.
*/
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/pool.h"
#include "runtime/sync.h"

#define POOL_SAMPLE_STRIDE 512

typedef struct pool_state {
    heap_t *heap;
    pool_t *pool;                 /* NULL without `pool` */
    int64_t requests;
    int64_t concurrency;
    size_t payload_bytes;
    sync_wg_t done;
    int64_t hits, misses;
    int64_t served;
    int64_t bad_request;          /* first broken one, -1 none */
} pool_state_t;

typedef struct pool_worker {
    pool_state_t *st;
    int64_t first;                /* serves first, first + concurrency, ... */
} pool_worker_t;

static inline unsigned char response_byte(int64_t id)
{
    return (unsigned char)(id * 37 + 11);
}

static void server(rt_t *rt, void *arg)
{
    pool_worker_t *me = arg;
    pool_state_t *st = me->st;
    heap_t *h = st->heap;
    sched_t *s = rt_sched(rt);
    heap_ref_t *frame = rt_push(rt, 1);   /* the request record */
    size_t body = st->payload_bytes - sizeof(uint64_t);

    for (int64_t id = me->first; id < st->requests; id += st->concurrency) {
        frame[0] = rt_alloc_at(rt, 1, sizeof(int64_t), "pool.request");
        *(int64_t *)heap_data(h, frame[0], 1) = id;

        heap_ref_t buf = st->pool ? pool_get(rt, st->pool) : 0;
        if (buf) {
            heap_write_ref(h, frame[0], 0, buf);   /* rooted before a safepoint */
            st->hits++;
        } else {
            buf = rt_alloc_at(rt, 0, st->payload_bytes, "pool.buffer");
            heap_write_ref(h, frame[0], 0, buf);
            st->misses++;
        }
        uint64_t *data = heap_data(h, buf, 0);
        data[0] = (uint64_t)id;
        memset(&data[1], response_byte(id), body);

        sched_yield(s);                         /* in flight beside the others */

        buf = heap_read_ref(h, frame[0], 0);
        data = heap_data(h, buf, 0);
        const unsigned char *bytes = (const unsigned char *)&data[1];
        bool intact = data[0] == (uint64_t)id;
        for (size_t i = 0; i < body && intact; i += POOL_SAMPLE_STRIDE)
            intact = bytes[i] == response_byte(id);
        if (intact && body > 0)
            intact = bytes[body - 1] == response_byte(id);
        if (!intact && st->bad_request < 0)
            st->bad_request = id;
        st->served++;

        if (st->pool)
            pool_put(rt, st->pool, buf);
        frame[0] = 0;
    }
    rt_pop(rt, 1);
    sync_wg_done(s, &st->done);
}

static void state_free(void *arg)
{
    free(arg);
}

void kernel_pool(rt_t *rt, const kparams_t *p)
{
    sched_t *s = rt_sched(rt);
    heap_t *h = rt_heap(rt);
    int64_t concurrency = kparams_int(p, "concurrency");
    int64_t requests = kparams_int(p, "requests");
    bool use_pool = kparams_bool(p, "pool");
    heap_stats_t hs0, hs1;

    if (concurrency > requests)
        concurrency = requests;
    pool_state_t *st = calloc(1, sizeof *st + (size_t)concurrency * sizeof(pool_worker_t));
    if (!st)
        rt_fail(rt, "out of memory: pool kernel state");
    if (sched_defer(s, state_free, st) != 0) {
        free(st);
        rt_fail(rt, "out of memory: pool kernel cleanup");
    }
    pool_worker_t *workers = (pool_worker_t *)(st + 1);
    st->heap = h;
    st->requests = requests;
    st->concurrency = concurrency;
    st->payload_bytes = (size_t)kparams_int(p, "payload_bytes");
    st->bad_request = -1;
    sync_wg_init(&st->done);
    if (use_pool)
        st->pool = pool_new(rt);

    heap_stats_read(h, &hs0);
    uint64_t t0 = rt_now_ns();
    sync_wg_add(s, &st->done, concurrency);
    for (int64_t i = 0; i < concurrency; i++) {
        workers[i] = (pool_worker_t){ .st = st, .first = i };
        rt_go(rt, server, &workers[i]);
    }
    sync_wg_wait(s, &st->done);
    uint64_t elapsed = rt_now_ns() - t0;
    heap_stats_read(h, &hs1);
    pool_destroy(rt, &st->pool);

    if (st->bad_request >= 0)
        rt_fail(rt, "pool: request %lld found its buffer overwritten (shared with another)",
                (long long)st->bad_request);
    if (st->served != requests)
        rt_fail(rt, "pool: %lld of %lld requests served", (long long)st->served,
                (long long)requests);

    uint64_t allocs = hs1.proc_alloc_objects - hs0.proc_alloc_objects;
    uint64_t bytes = hs1.proc_alloc_bytes - hs0.proc_alloc_bytes;
    uint64_t cycles = hs1.num_gc - hs0.num_gc;
    rt_printf(rt, "pool: %lld requests, %zu B buffers, %lld at a time, pool=%s: "
              "%lld new buffers, %lld reused; %llu allocations, %.1f MiB, %llu GC cycles, "
              "%.0f ns per request\n",
              (long long)requests, st->payload_bytes, (long long)concurrency,
              use_pool ? "true" : "false", (long long)st->misses, (long long)st->hits,
              (unsigned long long)allocs, (double)bytes / 1048576.0,
              (unsigned long long)cycles, (double)elapsed / (double)requests);
    rt_metric(rt, "ns_per_request", (double)elapsed / (double)requests, "ns");
    rt_metric(rt, "allocs", (double)allocs, "");
    rt_metric(rt, "alloc_bytes", (double)bytes, "B");
    rt_metric(rt, "gc_cycles", (double)cycles, "");
    rt_metric(rt, "buffers_new", (double)st->misses, "");
    rt_metric(rt, "buffers_reused", (double)st->hits, "");
}
