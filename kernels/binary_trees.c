/*
** kernels/binary_trees.c -- the Benchmarks Game binary-trees program.
**
** Rules (as in the reference programs): a stretch tree of depth max+1 is
** built and checked; a long-lived tree of depth max stays live throughout;
** for each depth d = 4, 6, ..., max, 2^(max-d+4) trees of depth d are built
** bottom-up, checked (node count) and dropped; one goroutine per depth,
** like the Go program. The output must equal the reference output byte for
** byte. A node is an object of two reference slots and no scalars.
*/
#include "kernels/kernels.h"

#include <stdlib.h>

#define MIN_DEPTH 4

/* Build a tree of `depth` bottom-up; the result is unrooted: the caller
** roots it before its next allocation. */
static heap_ref_t bottom_up(rt_t *rt, heap_t *h, int depth)
{
    if (depth <= 0)
        return rt_alloc_at(rt, 2, 0, "binary_trees.bottom_up.leaf");
    heap_ref_t *frame = rt_push(rt, 2);
    frame[0] = bottom_up(rt, h, depth - 1);
    frame[1] = bottom_up(rt, h, depth - 1);
    heap_ref_t node = rt_alloc_at(rt, 2, 0, "binary_trees.bottom_up.node");
    heap_write_ref(h, node, 0, frame[0]);
    heap_write_ref(h, node, 1, frame[1]);
    rt_pop(rt, 2);
    return node;
}

static int64_t check(heap_t *h, heap_ref_t node)
{
    heap_ref_t left = heap_read_ref(h, node, 0);
    if (!left)
        return 1;
    return 1 + check(h, left) + check(h, heap_read_ref(h, node, 1));
}

typedef struct depth_job {
    int depth;
    int64_t iterations;
    int64_t check;
    int *pending;             /* jobs not finished */
    sched_waiter_t **waiter;  /* the main goroutine, parked */
} depth_job_t;

static void run_depth(rt_t *rt, void *arg)
{
    depth_job_t *job = arg;
    heap_t *h = rt_heap(rt);
    heap_ref_t *frame = rt_push(rt, 1);
    int64_t sum = 0;

    for (int64_t i = 0; i < job->iterations; i++) {
        frame[0] = bottom_up(rt, h, job->depth);
        sum += check(h, frame[0]);
        frame[0] = 0;
    }
    rt_pop(rt, 1);
    job->check = sum;
    if (--*job->pending == 0 && *job->waiter)
        sched_ready(rt_sched(rt), *job->waiter);
}

void kernel_binary_trees(rt_t *rt, const kparams_t *p)
{
    heap_t *h = rt_heap(rt);
    int n = (int)kparams_int(p, "depth");
    int max_depth = n > MIN_DEPTH + 2 ? n : MIN_DEPTH + 2;
    int stretch = max_depth + 1;
    heap_ref_t *frame = rt_push(rt, 1);
    uint64_t t0 = rt_now_ns();

    frame[0] = bottom_up(rt, h, stretch);
    rt_printf(rt, "stretch tree of depth %d\t check: %lld\n", stretch,
              (long long)check(h, frame[0]));

    frame[0] = bottom_up(rt, h, max_depth);      /* the long-lived tree */

    int njobs = (max_depth - MIN_DEPTH) / 2 + 1;
    depth_job_t *jobs = calloc((size_t)njobs, sizeof *jobs);
    if (!jobs)
        rt_fail(rt, "out of memory: binary_trees jobs");
    sched_defer(rt_sched(rt), free, jobs);   /* freed however the task ends */
    int pending = njobs;
    sched_waiter_t *waiter = NULL;
    for (int j = 0; j < njobs; j++) {
        jobs[j].depth = MIN_DEPTH + 2 * j;
        jobs[j].iterations = (int64_t)1 << (max_depth - jobs[j].depth + MIN_DEPTH);
        jobs[j].pending = &pending;
        jobs[j].waiter = &waiter;
        rt_go(rt, run_depth, &jobs[j]);
    }
    while (pending > 0)
        sched_park(rt_sched(rt), &waiter, "binary_trees: waiting for depths");
    for (int j = 0; j < njobs; j++)
        rt_printf(rt, "%lld\t trees of depth %d\t check: %lld\n",
                  (long long)jobs[j].iterations, jobs[j].depth,
                  (long long)jobs[j].check);

    rt_printf(rt, "long lived tree of depth %d\t check: %lld\n", max_depth,
              (long long)check(h, frame[0]));
    rt_pop(rt, 1);
    rt_metric(rt, "trees_ns", (double)(rt_now_ns() - t0), "ns");
}
