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
** mode "goroutines": the same share of the requests leaks goroutines
** instead. Such a handler makes a channel `done` and starts a watcher
** goroutine that holds the request (in its root frame) and waits for
** `done` -- Go's
**
**     done := make(chan struct{})
**     go func() { <-done; ... req ... }()
**
** Nobody ever sends on `done`: without `release` the watcher stays blocked
** after its handler has ended, holding its stack and the request; with
** `release` the handler registers `defer close(done)` (a sched_defer
** cleanup), so its watcher ends when it does. After the measurement the
** main goroutine returns and the task ends, as a Go program does, with
** the leaked watchers still blocked: the scheduler counts them ("goroutines
** alive at exit: N, blocked on: chan receive N") and ends them.
**
** Lifetime: the kernel's state is shared by the main goroutine, the
** handlers and the watchers and freed by whichever of them ends last (a
** reference count), since a failed or ended task ends its goroutines in no
** particular order; the table is reached only while the main goroutine's
** root frame exists (table_root is NULL after). A batch's jobs are reused by the next
** batch: a watcher reads its job only until it has rooted the request and
** `done` (its handler waits for that), and a handler's close(done) cleanup
** runs as the handler ends, before the main goroutine (readied by the
** batch's last handler) runs again.
*/
#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/chan.h"

#define LEAK_CONCURRENCY 64       /* handlers at once */
#define LEAK_TABLE_MIN_SLOTS 64

typedef struct leak_state leak_state_t;

typedef struct leak_job {
    leak_state_t *st;
    rt_t *rt;
    int64_t id;                   /* request number, from 0 */
    bool retain;                  /* store it in the table / start a watcher */
    int64_t slot;                 /* its table slot, -1 when none */
    heap_ref_t req, done;         /* goroutines: handed to the watcher */
    bool taken;                   /* the watcher has rooted req and done */
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
    bool goroutines;              /* mode "goroutines" */
    int64_t watchers;             /* watcher goroutines not ended yet */
    int64_t closing;              /* of them, released by their handler */
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
    table = rt_alloc_at(rt, (uint32_t)capacity, 0, "leak.table");
    if (st->capacity)
        heap_copy_refs(h, table, 0, *st->table_root, 0, st->capacity);
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
    heap_write_ref(st->heap, *st->table_root, slot, *req);
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
        heap_write_ref(st->heap, *st->table_root, (uint32_t)job->slot, 0);
        st->free_slots[st->nfree++] = (uint32_t)job->slot;
        st->held--;
    }
    job->slot = -1;
}

/* A watcher: holds its request and waits for `done`. */
static void watcher(rt_t *rt, void *arg)
{
    leak_job_t *job = arg;
    leak_state_t *st = job->st;
    sched_t *s = rt_sched(rt);

    st->refs++;
    if (sched_defer(s, state_unref, st) != 0) {
        state_unref(st);
        rt_fail(rt, "out of memory: leak watcher cleanup");
    }
    heap_ref_t *frame = rt_push(rt, 2);
    frame[0] = job->req;
    frame[1] = job->done;
    job->taken = true;            /* job is the next batch's from here on */
    st->watchers++;
    chan_recv(rt, frame[1], NULL, NULL);   /* <-done: only a close comes */
    st->closing--;
    st->watchers--;
    rt_pop(rt, 2);
}

/* A handler's deferred close(done) with `release`: its watcher ends.
** `done` is still rooted by the watcher, which is blocked on it. Skipped
** while a failed task unwinds (every goroutine is being ended anyway). */
static void done_close(void *arg)
{
    leak_job_t *job = arg;

    if (!sched_unwinding(rt_sched(job->rt))) {
        job->st->closing++;
        chan_close(job->rt, job->done);
    }
}

/* mode goroutines: start the request's watcher (frame[0] holds the
** request) and wait until it has rooted what it holds. */
static void watcher_start(rt_t *rt, leak_job_t *job, heap_ref_t *frame)
{
    sched_t *s = rt_sched(rt);

    frame[1] = chan_make(rt, 0, 0, 0);              /* done: chan struct{} */
    job->req = frame[0];
    job->done = frame[1];
    job->taken = false;
    job->st->retained_total++;
    rt_go_at(rt, watcher, job, "leak.watcher");
    while (!job->taken)
        sched_yield(s);
    if (job->st->release && sched_defer(s, done_close, job) != 0)
        rt_fail(rt, "out of memory: leak close cleanup");
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
    frame = rt_push(rt, 2);       /* 0: the request, 1: goroutines' done */
    frame[0] = rt_alloc_at(rt, 1, sizeof(int64_t), "leak.request");   /* the request */
    *(int64_t *)heap_data(h, frame[0], 1) = job->id;
    payload = rt_alloc_at(rt, 0, st->request_bytes, "leak.payload");
    heap_write_ref(h, frame[0], 0, payload);
    memcpy(heap_data(h, payload, 0), &job->id,
           st->request_bytes < sizeof job->id ? st->request_bytes : sizeof job->id);
    if (job->retain && st->goroutines) {
        watcher_start(rt, job, frame);
    } else if (job->retain) {
        job->slot = table_put(rt, st, &frame[0]);
        if (st->release && sched_defer(s, entry_release, job) != 0) {
            entry_release(job);
            rt_fail(rt, "out of memory: leak entry cleanup");
        }
    }
    sched_yield(s);               /* handling: the batch's requests overlap */
    rt_pop(rt, 2);
    if (--st->pending == 0 && st->waiter) {
        sched_waiter_t *w = st->waiter;

        st->waiter = NULL;
        sched_ready(s, w);
    }
}

void kernel_leak(rt_t *rt, const kparams_t *p)
{
    sched_t *s = rt_sched(rt);
    heap_t *h = rt_heap(rt);
    int64_t requests = kparams_int(p, "requests");
    double retain_percent = kparams_float(p, "retain_percent");
    const char *mode = kparams_string(p, "mode");
    leak_state_t *st;
    heap_ref_t *frame;
    heap_stats_t hs;
    sched_stats_t ss0, ss1;
    double share = 0;
    uint64_t t0, elapsed_ns;
    int rc;

    st = calloc(1, sizeof *st);
    if (!st)
        rt_fail(rt, "out of memory: leak state");
    st->heap = h;
    st->refs = 1;
    st->request_bytes = (size_t)kparams_int(p, "request_bytes");
    st->release = kparams_bool(p, "release");
    st->goroutines = strcmp(mode, "goroutines") == 0;
    if (sched_defer(s, main_end, st) != 0) {
        free(st);
        rt_fail(rt, "out of memory: leak cleanup");
    }
    frame = rt_push(rt, 1);       /* 0: the table */
    st->table_root = &frame[0];
    sched_stats_read(s, &ss0);

    t0 = rt_now_ns();
    for (int64_t next = 0; next < requests;) {
        int64_t batch = requests - next < LEAK_CONCURRENCY ? requests - next : LEAK_CONCURRENCY;

        st->pending = batch;
        for (int64_t j = 0; j < batch; j++) {
            leak_job_t *job = &st->jobs[j];

            /* retain_percent of the requests, evenly spread. */
            share += retain_percent;
            *job = (leak_job_t){ .st = st, .rt = rt, .id = next + j, .retain = share >= 100,
                                 .slot = -1 };
            if (job->retain)
                share -= 100;
            rt_go_at(rt, handler, job, "leak.handler");
        }
        next += batch;
        while (st->pending > 0)
            sched_park(s, &st->waiter, "leak: waiting for the batch's handlers");
    }
    /* Watchers whose handler closed `done` are ready to end: let them. */
    while (st->closing > 0)
        sched_yield(s);
    elapsed_ns = rt_now_ns() - t0;

    /* What is still reachable, with the table and any leaked goroutines
    ** still there. */
    rt_safepoint(rt);             /* the stack bytes reported for the goal */
    if ((rc = heap_collect(h)) != 0)
        rt_fail(rt, "leak: collecting at the end: %s", heap_strerror(rc));
    heap_stats_read(h, &hs);
    if (st->goroutines)
        st->held = st->watchers;
    double held_bytes = (double)st->held *
                        (double)(sizeof(heap_ref_t) + sizeof(int64_t) + st->request_bytes);

    if (!st->goroutines) {
        rt_printf(rt, "leak (%s, release=%s): %lld requests of %zu B, %g%% retained: "
                  "%lld stored, %lld still held (%.1f MiB), table of %u slots; "
                  "live heap after a collection %.1f MiB\n",
                  mode, st->release ? "true" : "false", (long long)requests, st->request_bytes,
                  retain_percent, (long long)st->retained_total, (long long)st->held,
                  held_bytes / 1048576.0, st->capacity, (double)hs.heap_live_bytes / 1048576.0);
        rt_metric(rt, "table_slots", (double)st->capacity, "");
    } else {
        /* Beyond the main goroutine's: Go's StackInuse (sched.h), and the
        ** real bytes (stacks in place plus those set aside). */
        sched_stats_read(s, &ss1);
        double stack_bytes = (double)ss1.stack_inuse_bytes - (double)ss0.stack_inuse_bytes;
        double stack_real_bytes = (double)sched_stack_real_bytes(&ss1) -
                                  (double)sched_stack_real_bytes(&ss0);
        int64_t leaked = st->watchers;

        /* Returning ends the program; the leaked watchers stay blocked to
        ** the end, as in Go. */
        rt_printf(rt, "leak (%s, release=%s): %lld requests of %zu B, %g%% started a watcher: "
                  "%lld started, %lld still blocked (holding %.1f MiB of requests, %.1f KiB "
                  "of stacks as Go sizes them, %.1f KiB of real pages); live heap after a "
                  "collection %.1f MiB\n",
                  mode, st->release ? "true" : "false", (long long)requests, st->request_bytes,
                  retain_percent, (long long)st->retained_total, (long long)leaked,
                  held_bytes / 1048576.0, (stack_bytes > 0 ? stack_bytes : 0) / 1024.0,
                  (stack_real_bytes > 0 ? stack_real_bytes : 0) / 1024.0,
                  (double)hs.heap_live_bytes / 1048576.0);
        rt_metric(rt, "leaked_goroutines", (double)leaked, "");
        rt_metric(rt, "leaked_stack_bytes", stack_bytes > 0 ? stack_bytes : 0, "B");
        rt_metric(rt, "leaked_stack_real_bytes", stack_real_bytes > 0 ? stack_real_bytes : 0, "B");
    }
    rt_metric(rt, "live_bytes_end", (double)hs.heap_live_bytes, "B");
    rt_metric(rt, "retained_objects", (double)st->held, "");
    rt_metric(rt, "retained_bytes", held_bytes, "B");
    rt_metric(rt, "requests_per_sec",
              elapsed_ns ? (double)requests * 1e9 / (double)elapsed_ns : 0, "ops/s");
    st->table_root = NULL;
    rt_pop(rt, 1);
}
