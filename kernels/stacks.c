/*
** kernels/stacks.c -- what a blocked goroutine's stack costs, beside an OS
** thread doing the same work.
**
** `goroutines` goroutines each recurse `depth` frames, every frame holding
** a local array of frame_bytes that it writes (so its pages are committed),
** and wait at the bottom by yielding until all of them are down there and
** the main goroutine has read the scheduler's figures; then they return.
** The scheduler estimates a goroutine's stack at its switch points, which
** is why they wait by yielding at the bottom: stack_bytes_per_goroutine is
** the growth of Go's StackInuse (the stacks Go 1.19 would have allocated,
** doubling from 2 KiB; sched.h) from before the spawn to that moment, per
** goroutine, and stack_real_bytes_per_goroutine the same for the pages
** heapsim really committed. stack_growths_per_goroutine counts Go's stack
** copies on the way down.
**
** With `threads`, the same recursion then runs on min(goroutines, 2000)
** pthreads (the default stack size, or larger when the recursion needs
** more), which block at the bottom on a condition variable while the main
** goroutine counts each thread stack's resident pages (mincore) and reads
** the process's VmRSS; then they are released and joined. The scheduler's
** thread blocks meanwhile, so the process leaves the heap for that time
** (a collection elsewhere does not wait for it) and touches no object.
** Every thread created is joined before this returns, on every path.
*/
#include "kernels/kernels.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define STACKS_MAX_THREADS 2000
/* Room a thread needs beyond the recursion: its first frames, libc, the
** sanitizers' frames, a signal. */
#define STACKS_THREAD_MARGIN_BYTES ((size_t)256 << 10)
/* A guess at a frame's own bytes (return address, saved registers) for the
** memory check before anything runs. */
#define STACKS_FRAME_OVERHEAD_BYTES 64

/* The recursion, shared by goroutines and threads. */
typedef struct descent {
    int64_t depth;
    size_t frame_bytes;
    void (*bottom)(void *arg, size_t span_bytes);  /* called at the bottom */
    void *arg;
    const char *top;              /* frame address where the descent began */
} descent_t;

/* Recurse n more frames, each with a written array of d->frame_bytes, then
** call d->bottom with the bytes of stack below d->top. Returns a checksum
** of the arrays, read after the call returns so no frame is dropped. */
static __attribute__((noinline)) uint64_t descend(const descent_t *d, int64_t n)
{
    if (n == 0) {
        const char *here = __builtin_frame_address(0);

        d->bottom(d->arg, (size_t)(d->top - here));
        return 0;
    }
    char frame[d->frame_bytes];
    uint64_t sum;

    memset(frame, (int)(n & 0x7f), d->frame_bytes);
    __asm__ volatile("" : : "r"(frame) : "memory");
    sum = descend(d, n - 1);
    __asm__ volatile("" : : "r"(frame) : "memory");
    return sum + (unsigned char)frame[(size_t)n % d->frame_bytes];
}

/* ---- goroutines -------------------------------------------------------- */

typedef struct gor_phase {
    sched_t *sched;
    int64_t goroutines, depth;
    size_t frame_bytes;
    int64_t arrived;              /* at the bottom */
    int64_t pending;              /* not returned yet */
    bool release;                 /* the main goroutine has measured */
    sched_waiter_t *waiter;       /* the main goroutine, parked */
    size_t span_bytes;            /* deepest descent seen */
    uint64_t checksum;
} gor_phase_t;

static void wake_main(gor_phase_t *ph)
{
    sched_waiter_t *w = ph->waiter;

    ph->waiter = NULL;
    if (w)
        sched_ready(ph->sched, w);
}

static void gor_bottom(void *arg, size_t span_bytes)
{
    gor_phase_t *ph = arg;

    if (span_bytes > ph->span_bytes)
        ph->span_bytes = span_bytes;
    if (++ph->arrived == ph->goroutines)
        wake_main(ph);
    /* At least one yield here, so the scheduler sees this depth. */
    do
        sched_yield(ph->sched);
    while (!ph->release);
}

static void gor_body(rt_t *rt, void *arg)
{
    gor_phase_t *ph = arg;
    descent_t d = {
        .depth = ph->depth, .frame_bytes = ph->frame_bytes,
        .bottom = gor_bottom, .arg = ph, .top = __builtin_frame_address(0),
    };

    ph->checksum += descend(&d, d.depth);
    if (--ph->pending == 0)
        wake_main(ph);
}

/* ---- threads ----------------------------------------------------------- */

typedef struct thread_phase {
    pthread_mutex_t lock;
    pthread_cond_t arrived_cond;  /* a thread reached the bottom */
    pthread_cond_t release_cond;  /* the main goroutine has measured */
    int64_t arrived;              /* under lock, as the rest */
    bool release;
    int64_t depth;
    size_t frame_bytes;
    uint64_t checksum;
} thread_phase_t;

typedef struct thread_figures {
    int64_t created;              /* threads started (all of them unless rc) */
    size_t stack_size_bytes;      /* each thread's stack as reserved */
    uint64_t committed_bytes;     /* resident stack pages, all threads */
    int64_t rss_growth_bytes;     /* VmRSS at the bottom minus before */
    uint64_t elapsed_ns;          /* create, descend, join, all threads */
} thread_figures_t;

static void thread_bottom(void *arg, size_t span_bytes)
{
    thread_phase_t *tp = arg;

    (void)span_bytes;
    pthread_mutex_lock(&tp->lock);
    tp->arrived++;
    pthread_cond_signal(&tp->arrived_cond);
    while (!tp->release)
        pthread_cond_wait(&tp->release_cond, &tp->lock);
    pthread_mutex_unlock(&tp->lock);
}

static void *thread_body(void *arg)
{
    thread_phase_t *tp = arg;
    descent_t d = {
        .depth = tp->depth, .frame_bytes = tp->frame_bytes,
        .bottom = thread_bottom, .arg = tp, .top = __builtin_frame_address(0),
    };
    uint64_t sum = descend(&d, d.depth);

    pthread_mutex_lock(&tp->lock);
    tp->checksum += sum;
    pthread_mutex_unlock(&tp->lock);
    return NULL;
}

/* VmRSS of this process in bytes, -1 if unknown. */
static int64_t read_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kib = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld kB", &kib) == 1)
            break;
    fclose(f);
    return kib < 0 ? -1 : (int64_t)kib * 1024;
}

/* Resident bytes of thread t's stack (it must be alive); 0 if unknown.
** vec holds vec_size bytes, one per page. */
static uint64_t stack_resident_bytes(pthread_t t, unsigned char *vec, size_t vec_size,
                                     size_t page)
{
    pthread_attr_t attr;
    void *addr;
    size_t size, pages, resident = 0;
    uintptr_t lo, hi;

    if (pthread_getattr_np(t, &attr) != 0)
        return 0;
    if (pthread_attr_getstack(&attr, &addr, &size) != 0) {
        pthread_attr_destroy(&attr);
        return 0;
    }
    pthread_attr_destroy(&attr);
    lo = (uintptr_t)addr & ~(uintptr_t)(page - 1);
    hi = ((uintptr_t)addr + size + page - 1) & ~(uintptr_t)(page - 1);
    pages = (hi - lo) / page;
    if (pages > vec_size || mincore((void *)lo, hi - lo, vec) != 0)
        return 0;
    for (size_t i = 0; i < pages; i++)
        resident += vec[i] & 1;
    return (uint64_t)resident * page;
}

/* Start n threads running the descent with stacks of stack_size bytes,
** wait until all are at the bottom, measure, release and join them. Every
** thread started is joined, whatever fails. Returns 0, or a positive errno
** (pthread_create's, or ENOMEM) with fig->created saying how far it got.
** Touches no heap object. */
static int run_threads(thread_phase_t *tp, pthread_t *tids, int64_t n, size_t stack_size,
                       thread_figures_t *fig)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t vec_size = stack_size / page + 2;
    unsigned char *vec = malloc(vec_size);
    pthread_attr_t attr;
    int64_t rss_before, rss_bottom;
    uint64_t t0;
    int rc;

    fig->created = 0;
    if (!vec)
        return ENOMEM;
    if ((rc = pthread_attr_init(&attr)) != 0)
        goto out_free_vec;
    if ((rc = pthread_attr_setstacksize(&attr, stack_size)) != 0)
        goto out_destroy_attr;
    rss_before = read_rss_bytes();
    t0 = rt_now_ns();
    for (; fig->created < n; fig->created++)
        if ((rc = pthread_create(&tids[fig->created], &attr, thread_body, tp)) != 0)
            break;

    pthread_mutex_lock(&tp->lock);
    while (tp->arrived < fig->created)
        pthread_cond_wait(&tp->arrived_cond, &tp->lock);
    if (rc == 0) {
        rss_bottom = read_rss_bytes();
        fig->rss_growth_bytes = rss_before >= 0 && rss_bottom >= 0 ? rss_bottom - rss_before : 0;
        for (int64_t i = 0; i < fig->created; i++)
            fig->committed_bytes += stack_resident_bytes(tids[i], vec, vec_size, page);
    }
    tp->release = true;
    pthread_cond_broadcast(&tp->release_cond);
    pthread_mutex_unlock(&tp->lock);
    for (int64_t i = 0; i < fig->created; i++)
        pthread_join(tids[i], NULL);
    fig->elapsed_ns = rt_now_ns() - t0;
out_destroy_attr:
    pthread_attr_destroy(&attr);
out_free_vec:
    free(vec);
    return rc;
}

/* The default stack size of a new pthread. */
static size_t default_thread_stack_bytes(void)
{
    pthread_attr_t attr;
    size_t size = (size_t)8 << 20;

    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_getstacksize(&attr, &size);
        pthread_attr_destroy(&attr);
    }
    return size;
}

/* ---- the kernel ---------------------------------------------------------- */

void kernel_stacks(rt_t *rt, const kparams_t *p)
{
    sched_t *s = rt_sched(rt);
    gor_phase_t ph = {
        .sched = s,
        .goroutines = kparams_int(p, "goroutines"),
        .depth = kparams_int(p, "depth"),
        .frame_bytes = (size_t)kparams_int(p, "frame_bytes"),
    };
    bool threads = kparams_bool(p, "threads");
    double per_goroutine = (double)ph.depth * (double)(ph.frame_bytes + STACKS_FRAME_OVERHEAD_BYTES);
    double budget = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / 2;
    sched_stats_t before, bottom;
    uint64_t t0, gor_ns;

    if ((double)ph.goroutines * per_goroutine > budget)
        rt_fail(rt, "stacks: %lld goroutines x %lld frames of %zu bytes need about %.0f MiB "
                "of stack, more than half of this machine's memory (%.0f MiB)",
                (long long)ph.goroutines, (long long)ph.depth, ph.frame_bytes,
                (double)ph.goroutines * per_goroutine / 1048576.0, budget / 1048576.0);

    sched_stats_read(s, &before);
    ph.pending = ph.goroutines;
    t0 = rt_now_ns();
    for (int64_t i = 0; i < ph.goroutines; i++)
        rt_go(rt, gor_body, &ph);
    while (ph.arrived < ph.goroutines)
        sched_park(s, &ph.waiter, "stacks: waiting for goroutines to reach the bottom");
    sched_stats_read(s, &bottom);
    ph.release = true;
    while (ph.pending > 0)
        sched_park(s, &ph.waiter, "stacks: waiting for goroutines to return");
    gor_ns = rt_now_ns() - t0;

    double n = (double)ph.goroutines;
    double stack_per_gor = bottom.stack_inuse_bytes > before.stack_inuse_bytes
        ? (double)(bottom.stack_inuse_bytes - before.stack_inuse_bytes) / n : 0;
    double real0 = (double)sched_stack_real_bytes(&before);
    double real1 = (double)sched_stack_real_bytes(&bottom);
    double real_per_gor = real1 > real0 ? (real1 - real0) / n : 0;
    double growths = (double)(bottom.stack_growths - before.stack_growths) / n;
    rt_printf(rt, "stacks: %lld goroutines x %lld frames of %zu B (%zu B of recursion): "
              "%.1f KiB of stack each as Go sizes it (%.1f copies on the way down; "
              "%.1f KiB of real pages), %.0f ns each\n",
              (long long)ph.goroutines, (long long)ph.depth, ph.frame_bytes, ph.span_bytes,
              stack_per_gor / 1024, growths, real_per_gor / 1024,
              (double)gor_ns / (double)ph.goroutines);
    rt_metric(rt, "stack_bytes_per_goroutine", stack_per_gor, "B");
    rt_metric(rt, "stack_real_bytes_per_goroutine", real_per_gor, "B");
    rt_metric(rt, "stack_growths_per_goroutine", growths, "");
    rt_metric(rt, "goroutine_ns", (double)gor_ns / (double)ph.goroutines, "ns");
    rt_metric(rt, "recursion_bytes", (double)ph.span_bytes, "B");
    if (!threads)
        return;

    int64_t nthreads = ph.goroutines < STACKS_MAX_THREADS ? ph.goroutines : STACKS_MAX_THREADS;
    size_t stack_size = default_thread_stack_bytes();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t needed = ph.span_bytes + STACKS_THREAD_MARGIN_BYTES;
    bool enlarged = needed > stack_size;
    thread_phase_t tp = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .arrived_cond = PTHREAD_COND_INITIALIZER,
        .release_cond = PTHREAD_COND_INITIALIZER,
        .depth = ph.depth, .frame_bytes = ph.frame_bytes,
    };
    thread_figures_t fig = {0};
    pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
    int rc;

    if (!tids)
        rt_fail(rt, "out of memory: stacks thread ids");
    if (sched_defer(s, free, tids) != 0) {     /* freed however the task ends */
        free(tids);
        rt_fail(rt, "out of memory: stacks cleanup");
    }
    if (enlarged)
        stack_size = (needed + needed / 4 + page - 1) & ~(page - 1);
    heap_leave(rt_heap(rt));              /* blocking: count as stopped */
    rc = run_threads(&tp, tids, nthreads, stack_size, &fig);
    heap_enter(rt_heap(rt));
    pthread_cond_destroy(&tp.release_cond);
    pthread_cond_destroy(&tp.arrived_cond);
    pthread_mutex_destroy(&tp.lock);
    if (rc != 0)
        rt_fail(rt, "stacks: starting thread %lld of %lld (stack %zu bytes): %s",
                (long long)fig.created + 1, (long long)nthreads, stack_size, strerror(rc));

    double thread_stack = (double)fig.committed_bytes / (double)nthreads;
    double thread_rss = fig.rss_growth_bytes > 0
        ? (double)fig.rss_growth_bytes / (double)nthreads : 0;
    rt_printf(rt, "stacks: %lld threads doing the same: %.1f KiB of stack committed each "
              "(%.1f KiB of RSS), %zu KiB reserved%s, %.0f ns each to create and join\n",
              (long long)nthreads, thread_stack / 1024, thread_rss / 1024, stack_size >> 10,
              enlarged ? " (more than the default, which the recursion outgrows)" : "",
              (double)fig.elapsed_ns / (double)nthreads);
    rt_metric(rt, "thread_stack_bytes_per_thread", thread_stack, "B");
    rt_metric(rt, "thread_rss_bytes_per_thread", thread_rss, "B");
    rt_metric(rt, "thread_stack_reserve_bytes", (double)stack_size, "B");
    rt_metric(rt, "thread_ns", (double)fig.elapsed_ns / (double)nthreads, "ns");
    rt_metric(rt, "threads", (double)nthreads, "");
}
