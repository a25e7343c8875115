/*
** kernels/leak.c -- a request loop that leaks, and the same loop releasing
** what it holds through defer-style cleanup.
**
** Requests are handled by goroutines, LEAK_CONCURRENCY at a time (the main
** goroutine spawns a batch and waits for it). A handler allocates its
** request: a request object (one reference slot, the request id) pointing
** at a payload of request_bytes. retain_percent of the requests (spread
** evenly) are also stored in a global table: one heap object of slots,
** rooted in the main goroutine's root frame, doubled when full. Without
** `release` the entries stay, so the live heap grows with every request;
** with `release` each retaining handler registers a sched_defer cleanup
** that removes its entry when the handler ends (however it ends), so the
** table's slots are reused and the live heap stays flat.
**
** mode "table" is the only one so far; "goroutines" (handlers blocked
** forever on a channel) comes with channels.
**
** Lifetime: the kernel's state is shared by the main goroutine and the
** handlers and freed by whichever of them ends last (a reference count),
** since a failed task ends its goroutines in no particular order; the
** table is reached only while the main goroutine's root frame exists
** (table_root is NULL after).
*/
#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

#define LEAK_CONCURRENCY 64       /* handlers at once */
#define LEAK_TABLE_MIN_SLOTS 64

typedef struct leak_state leak_state_t;

typedef struct leak_job {
    leak_state_t *st;
    int64_t id;                   /* request number, from 0 */
    bool retain;                  /* store it in the table */
    int64_t slot;                 /* its table slot, -1 when none */
} leak_job_t;

struct leak_state {
    heap_t *heap;
    int refs;                     /* main goroutine + running handlers */
    heap_ref_t *table_root;       /* main's root slot holding the table */
    uint32_t capacity;            /* table slots */
    uint32_t used;                /* slots ever handed out (a prefix) */
    uint32_t *free_slots;         /* released slots, capacity entries */
    uint32_t nfree;
    int64_t held;                 /* entries in the table now */
    int64_t retained_total;       /* entries ever stored */
    size_t request_bytes;
    bool release;
    int64_t pending;              /* handlers of the batch not done */
    sched_waiter_t *waiter;       /* the main goroutine, parked */
    leak_job_t jobs[LEAK_CONCURRENCY];
};

static void state_unref(void *arg)
{
    leak_state_t *st = arg;

    if (--st->refs == 0) {
        free(st->free_slots);
        free(st);
    }
}

/* The main goroutine's cleanup: its root frame is gone. */
static void main_end(void *arg)
{
    leak_state_t *st = arg;

    st->table_root = NULL;
    state_unref(st);
}

/* Double the table (a safepoint: the old table stays rooted meanwhile). */
static void table_grow(rt_t *rt, leak_state_t *st)
{
    heap_t *h = st->heap;
    uint64_t capacity = st->capacity ? (uint64_t)st->capacity * 2 : LEAK_TABLE_MIN_SLOTS;
    uint32_t *free_slots;
    heap_ref_t table;

    if (capacity > UINT32_MAX)
        rt_fail(rt, "leak: the table is full (%u slots)", st->capacity);
    free_slots = realloc(st->free_slots, (size_t)capacity * sizeof *free_slots);
    if (!free_slots)
        rt_fail(rt, "out of memory: leak table free list");
    st->free_slots = free_slots;
    table = rt_alloc(rt, (uint32_t)capacity, 0);
    if (st->capacity)
        memcpy(heap_slots(h, table), heap_slots(h, *st->table_root),
               (size_t)st->capacity * sizeof(heap_ref_t));
    *st->table_root = table;
    st->capacity = (uint32_t)capacity;
}

/* Store the request *req (rooted by the caller) in a table slot; returns
** the slot. */
static int64_t table_put(rt_t *rt, leak_state_t *st, const heap_ref_t *req)
{
    uint32_t slot;

    if (st->nfree > 0) {
        slot = st->free_slots[--st->nfree];
    } else {
        if (st->used == st->capacity)
            table_grow(rt, st);
        slot = st->used++;
    }
    heap_slots(st->heap, *st->table_root)[slot] = *req;
    st->held++;
    st->retained_total++;
    return slot;
}

/* A handler's deferred cleanup with `release`: take its entry out of the
** table. Runs when the handler ends, also while a failed task unwinds;
** allocates nothing and never switches. */
static void entry_release(void *arg)
{
    leak_job_t *job = arg;
    leak_state_t *st = job->st;

    if (job->slot < 0)
        return;
    if (st->table_root) {
        heap_slots(st->heap, *st->table_root)[job->slot] = 0;
        st->free_slots[st->nfree++] = (uint32_t)job->slot;
        st->held--;
    }
    job->slot = -1;
}

static void handler(rt_t *rt, void *arg)
{
    leak_job_t *job = arg;
    leak_state_t *st = job->st;
    sched_t *s = rt_sched(rt);
    heap_t *h = st->heap;
    heap_ref_t *frame, payload;

    st->refs++;
    if (sched_defer(s, state_unref, st) != 0) {
        state_unref(st);
        rt_fail(rt, "out of memory: leak handler cleanup");
    }
    frame = rt_push(rt, 1);
    frame[0] = rt_alloc(rt, 1, sizeof(int64_t));          /* the request */
    *(int64_t *)heap_data(h, frame[0], 1) = job->id;
    payload = rt_alloc(rt, 0, st->request_bytes);
    heap_slots(h, frame[0])[0] = payload;
    memcpy(heap_data(h, payload, 0), &job->id,
           st->request_bytes < sizeof job->id ? st->request_bytes : sizeof job->id);
    if (job->retain) {
        job->slot = table_put(rt, st, &frame[0]);
        if (st->release && sched_defer(s, entry_release, job) != 0) {
            entry_release(job);
            rt_fail(rt, "out of memory: leak entry cleanup");
        }
    }
    sched_yield(s);               /* handling: the batch's requests overlap */
    rt_pop(rt, 1);
    if (--st->pending == 0 && st->waiter) {
        sched_waiter_t *w = st->waiter;

        st->waiter = NULL;
        sched_ready(s, w);
    }
}

void kernel_leak(rt_t *rt)
{
    const kparams_t *p = rt_params(rt);
    sched_t *s = rt_sched(rt);
    heap_t *h = rt_heap(rt);
    int64_t requests = kparams_int(p, "requests");
    double retain_percent = kparams_float(p, "retain_percent");
    const char *mode = kparams_string(p, "mode");
    leak_state_t *st;
    heap_ref_t *frame;
    heap_stats_t hs;
    double share = 0;
    uint64_t t0, elapsed_ns;
    int rc;

    if (strcmp(mode, "table") != 0)
        rt_fail(rt, "leak: mode %s is not implemented", mode);
    st = calloc(1, sizeof *st);
    if (!st)
        rt_fail(rt, "out of memory: leak state");
    st->heap = h;
    st->refs = 1;
    st->request_bytes = (size_t)kparams_int(p, "request_bytes");
    st->release = kparams_bool(p, "release");
    if (sched_defer(s, main_end, st) != 0) {
        free(st);
        rt_fail(rt, "out of memory: leak cleanup");
    }
    frame = rt_push(rt, 1);
    st->table_root = &frame[0];

    t0 = rt_now_ns();
    for (int64_t next = 0; next < requests;) {
        int64_t batch = requests - next < LEAK_CONCURRENCY ? requests - next : LEAK_CONCURRENCY;

        st->pending = batch;
        for (int64_t j = 0; j < batch; j++) {
            leak_job_t *job = &st->jobs[j];

            /* retain_percent of the requests, evenly spread. */
            share += retain_percent;
            *job = (leak_job_t){ .st = st, .id = next + j, .retain = share >= 100, .slot = -1 };
            if (job->retain)
                share -= 100;
            rt_go(rt, handler, job);
        }
        next += batch;
        while (st->pending > 0)
            sched_park(s, &st->waiter, "leak: waiting for the batch's handlers");
    }
    elapsed_ns = rt_now_ns() - t0;

    /* What is still reachable, with the table still rooted. */
    if ((rc = heap_collect(h)) != 0)
        rt_fail(rt, "leak: collecting at the end: %s", heap_strerror(rc));
    heap_stats_read(h, &hs);
    double held_bytes = (double)st->held *
                        (double)(sizeof(heap_ref_t) + sizeof(int64_t) + st->request_bytes);

    rt_printf(rt, "leak (%s, release=%s): %lld requests of %zu B, %g%% retained: "
              "%lld stored, %lld still held (%.1f MiB), table of %u slots; "
              "live heap after a collection %.1f MiB\n",
              mode, st->release ? "true" : "false", (long long)requests, st->request_bytes,
              retain_percent, (long long)st->retained_total, (long long)st->held,
              held_bytes / 1048576.0, st->capacity, (double)hs.heap_live_bytes / 1048576.0);
    rt_metric(rt, "live_bytes_end", (double)hs.heap_live_bytes, "B");
    rt_metric(rt, "retained_objects", (double)st->held, "");
    rt_metric(rt, "retained_bytes", held_bytes, "B");
    rt_metric(rt, "table_slots", (double)st->capacity, "");
    rt_metric(rt, "requests_per_sec",
              elapsed_ns ? (double)requests * 1e9 / (double)elapsed_ns : 0, "ops/s");
    st->table_root = NULL;
    rt_pop(rt, 1);
}
