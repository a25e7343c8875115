/*
** kernels/churn.c -- steady allocation with a bounded live set.
**
** Each goroutine allocates its share of `objects` objects with sizes drawn
** uniformly from [min_bytes, max_bytes] (seeded, so a seed gives the same
** sequence) and keeps the last live_objects/goroutines of them in a window
** (a pointer array in the heap): the live heap stays flat while the pacer
** runs cycle after cycle. Every tenth object carries one reference slot to
** its predecessor, so the collector has edges to follow.
*/
#include "kernels/kernels.h"

#include <stdlib.h>

#include "base/splitmix64.h"

typedef struct churn_job {
    int64_t objects;
    int64_t window;
    size_t min_bytes, max_bytes;
    uint64_t seed;
    int *pending;
    sched_waiter_t **waiter;
    int64_t checksum;
} churn_job_t;

static void churn_run(rt_t *rt, void *arg)
{
    churn_job_t *job = arg;
    heap_t *h = rt_heap(rt);
    uint64_t rng = job->seed;
    heap_ref_t *frame = rt_push(rt, 2);    /* 0: window, 1: previous object */
    int64_t window = job->window > 0 ? job->window : 1;

    frame[0] = rt_alloc_at(rt, (uint32_t)window, 0, "churn.window");
    for (int64_t i = 0; i < job->objects; i++) {
        size_t span = job->max_bytes - job->min_bytes + 1;
        size_t bytes = job->min_bytes + (size_t)(splitmix64_next(&rng) % span);
        uint32_t nptrs = (i % 10 == 0 && bytes >= sizeof(heap_ref_t)) ? 1 : 0;
        size_t scalars = bytes - nptrs * sizeof(heap_ref_t);
        heap_ref_t obj = rt_alloc_at(rt, nptrs, scalars, "churn.object");
        if (nptrs)
            heap_write_ref(h, obj, 0, frame[1]);
        if (scalars >= sizeof(int64_t))
            *(int64_t *)heap_data(h, obj, nptrs) = i;
        frame[1] = obj;
        if (job->window > 0)
            heap_write_ref(h, frame[0], (uint32_t)(i % window), obj);
        job->checksum += (int64_t)bytes;
        if ((i & 1023) == 1023)
            sched_yield(rt_sched(rt));
    }
    rt_pop(rt, 2);
    if (--*job->pending == 0 && *job->waiter)
        sched_ready(rt_sched(rt), *job->waiter);
}

void kernel_churn(rt_t *rt, const kparams_t *p)
{
    int64_t objects = kparams_int(p, "objects");
    int64_t live = kparams_int(p, "live_objects");
    int64_t min_bytes = kparams_int(p, "min_bytes");
    int64_t max_bytes = kparams_int(p, "max_bytes");
    int ngor = (int)kparams_int(p, "goroutines");

    if (max_bytes < min_bytes)
        rt_fail(rt, "churn: max_bytes (%lld) is below min_bytes (%lld)",
                (long long)max_bytes, (long long)min_bytes);
    churn_job_t *jobs = calloc((size_t)ngor, sizeof *jobs);
    if (!jobs)
        rt_fail(rt, "out of memory: churn jobs");
    sched_defer(rt_sched(rt), free, jobs);   /* freed however the task ends */
    int pending = ngor;
    sched_waiter_t *waiter = NULL;
    uint64_t t0 = rt_now_ns();
    for (int g = 0; g < ngor; g++) {
        jobs[g].objects = objects / ngor + (g < objects % ngor);
        jobs[g].window = live / ngor + (g < live % ngor);
        jobs[g].min_bytes = (size_t)min_bytes;
        jobs[g].max_bytes = (size_t)max_bytes;
        jobs[g].seed = rt_seed(rt) ^ ((uint64_t)g * 0x9e3779b97f4a7c15ull);
        jobs[g].pending = &pending;
        jobs[g].waiter = &waiter;
        rt_go(rt, churn_run, &jobs[g]);
    }
    while (pending > 0)
        sched_park(rt_sched(rt), &waiter, "churn: waiting for goroutines");
    uint64_t elapsed = rt_now_ns() - t0;
    int64_t bytes = 0;
    for (int g = 0; g < ngor; g++)
        bytes += jobs[g].checksum;
    rt_printf(rt, "churn: %lld objects, %lld bytes requested, %lld live at once, %d goroutines\n",
              (long long)objects, (long long)bytes, (long long)live, ngor);
    rt_metric(rt, "ns_per_alloc", objects ? (double)elapsed / (double)objects : 0, "ns");
    rt_metric(rt, "bytes_requested", (double)bytes, "B");
}
