/*
** runtime/rt_int.h -- private to the task runtime: rt.c (goroutines joined
** to the heap), chan.c (channels) and pool.c (sync.Pool).
**
** ---- What a task's runtime holds -----------------------------------------
**
**   rt_t (process-local, one per task)
**     |-- live: rt_g_t per goroutine (made at rt_go, or at the start of a
**     |         goroutine spawned otherwise): its g record on the heap and
**     |         its root stacks (on its first rt_push), in the segment
**     |-- free: rt_g_t of ended goroutines, with their g records (gFree)
**     |-- allgs: root slots, one per g record ever made (allgs)
**     |-- sudogs: the per-P sudog cache and the central list's head, roots
**     |-- chan: chan__state_t, made by the first chan_make()
**     |         (wait queues, wait records, pinned root slots; chan.c)
**     '-- pools: every pool_t made by pool_new() and not yet destroyed
**
**   Go's runtime objects on the heap, at Go 1.19's sizes (amd64):
**
**     g record   RT__G_BYTES (sizeof(runtime.g) = 392: class 416), slot 0
**                the goroutine's closure, slot 1 its sudogs in use
**                (g.waiting, chained through each sudog's slot 0). Made
**                by rt_go when no ended goroutine's record is free, never
**                returned to the heap: a slot of `allgs` holds it for the
**                task's life, as Go's allgs does; an ended goroutine's
**                rt_g_t keeps it on rt->free for the next (gfget/gfput).
**     closure    RT__CLOSURE_BYTES (funcval + one captured word = 16): what
**                `go f(x)` allocates when rt_go is given an arg; slot 0 of
**                the g record while the goroutine lives.
**     sudog      RT__SUDOG_BYTES (sizeof(runtime.sudog) = 88: class 96),
**                one per blocked channel operation (per case of a blocked
**                select), from the per-P cache (at most RT__SUDOG_CACHE,
**                refilled from the central list to half, else allocated;
**                released into it, half spilled to the central list when
**                full). The central list is dropped at every GC (Go's
**                clearpools): here at the first sudog operation after a
**                cycle rt has seen (rt->gc_seen), so its sudogs die a
**                cycle later than in Go.
**
**   Nothing process-local is ever stored in the shared segment: channel
**   objects hold only their own state (buffer, counts, flags); the wait
**   queues hang off a process-local table keyed by the channel's ref.
**
** ---- Rooting rule ----------------------------------------------------------
**
**   A collection can start at any safepoint of any process on the host;
**   in this process that is heap_alloc/rt_alloc, heap_safepoint/
**   rt_safepoint, a scheduler switch point (yield, park, sleep), the idle
**   sleep, and heap_roots_new/heap_pool_new when the heap is full. Between
**   two safepoints of this process nothing moves or dies. Every reference
**   the runtime itself holds across a safepoint is in a root slot in the
**   segment (a goroutine's root stack, chan.c's scratch or pinned slots,
**   a pool area).
**
** ---- Preemption points -------------------------------------------------------
**
**   The scheduler's sysmon asks the running goroutine to yield from its
**   own thread (sched.h, "Run queues and preemption") through the preempt
**   hook, which sets preempt_due. The goroutine yields (sched_preempt_
**   point) where a Go function's prologue would see the request and where
**   nothing of the runtime's is in flux: at the top of the entry points a
**   task's code calls -- rt_alloc/rt_alloc_at, rt_safepoint (so pool_get,
**   pool_put, pool_new), rt_go, chan_recv, chan_close -- before they do
**   anything, everything the caller holds being rooted there as at any
**   safepoint. Never inside the runtime: its own allocations (g records,
**   sudogs, closures, channels) go through rt__alloc_at, which does not
**   yield (chan_send roots its value in the channel state's scratch slots
**   first, which another goroutine's send would reuse, so it does not
**   yield either: Go's chansend holds the channel's lock). Fast path: one
**   load of preempt_due per call.
*/
#ifndef HEAPSIM_RUNTIME_RT_INT_H
#define HEAPSIM_RUNTIME_RT_INT_H

#include "runtime/rt.h"
#include "shm_heap/heap_snapshot.h"

#include <stdbool.h>
#include <stdint.h>

#include "base/splitmix64.h"

typedef struct chan__state chan__state_t;
typedef struct pool pool_t;

/* A goroutine's root frames live in a chain of root stacks of growing
** size (RT__ROOT_LEVELS levels: 64, 512, 4096, 32768 slots), made as the
** goroutine first needs each: a push that does not fit in the current
** level goes to the next, so slots never move while pushed and a frame
** never straddles two stacks. Empty stacks of ended goroutines are kept
** on rt->spare_roots[level] for the next goroutine: a task that spawns
** handler after handler makes its root stacks once, not once a handler. */
#define RT__ROOT_LEVELS 4
#define RT__SPARE_ROOTS_MAX 1024      /* per level; beyond, destroyed */

/* The runtime's own pointer-holding globals (its data and bss sections,
** mheap_, sched, allp, ...): what every go1.19 linux/amd64 program's
** collector scans each cycle and counts in its goal, before the program
** adds any of its own (GODEBUG=gcpacertrace=1 on a program importing only
** the runtime: "+200336 B work" of globals; with fmt 223376). Registered
** as each process's globals by rt_new. */
#define RT__RUNTIME_GLOBALS_BYTES 200336u

#define RT__G_BYTES 392u            /* sizeof(runtime.g), go1.19 amd64 */
#define RT__G_NPTRS 2u              /* closure, sudogs in use */
#define RT__SUDOG_BYTES 88u         /* sizeof(runtime.sudog) */
#define RT__CLOSURE_BYTES 16u       /* funcval + one captured word */
#define RT__SUDOG_CACHE 128u        /* cap(p.sudogcache) */
#define RT__ALLGS_CHUNK 4096u       /* allgs root slots per root stack */
/* Go's allgs is also a slice on the heap, []*g, grown by append as
** goroutines are made: its arrays are heap objects a Go program allocates
** (about 350 KiB for 10,000 goroutines). When main starts it holds the
** runtime's own: main, forcegchelper, bgsweep, bgscavenge and the
** finalizer goroutine (os sets finalizers), in an array of 8. */
#define RT__ALLGS_AT_START 5u
#define RT__ALLGS_CAP_AT_START 8u

typedef struct rt_g {
    heap_roots_t *roots[RT__ROOT_LEVELS];
    int level;                  /* where the next push goes first */
    heap_ref_t *rec;            /* its allgs slot: the g record */
    heap_ref_t grec;            /* *rec, kept here (records never move) */
    const char *label;          /* rt_go_at's label, NULL when none */
    struct rt_g *prev, *next;   /* on rt->live, or next on rt->free */
} rt_g_t;

struct rt {
    sched_t *sched;
    heap_t *heap;
    uint64_t seed;
    uint64_t rng;               /* rt__rand(): select's choices */
    rt_g_t live;                /* list head */
    rt_g_t *free;
    heap_roots_t **spare_roots[RT__ROOT_LEVELS];  /* empty, ready to reuse */
    size_t nspare_roots[RT__ROOT_LEVELS];
    struct rt_start *free_starts;   /* rt_go's records, recycled */
    void **start_slabs;         /* every slab of them, for rt_destroy */
    size_t nstart_slabs, start_slabs_cap;
    uint64_t stack_published;   /* last heap_set_stack_bytes(): scan bytes */
    uint64_t cycles_seen;       /* heap_num_gc() when the per-cycle work last ran */
    uint64_t stacks_scanned_cycle; /* the cycle whose mark scanned the stacks (hook_stack_scan) */
    uint64_t stack_inuse_published;   /* ... and stack space in use */
    sched_stats_t sched0;       /* the scheduler's stats at rt_new */
    heap_roots_t **allgs;       /* root stacks of g record slots, all pushed */
    size_t nallgs, allgs_cap;
    heap_ref_t *allgs_bump;     /* unused slots of the newest */
    uint64_t allgs_len, allgs_slice_cap;   /* the modelled allgs slice */
    heap_roots_t *allgs_slice;  /* a root stack of one slot: */
    heap_ref_t *allgs_array;    /* its current array */
    uint32_t allgs_left;
    uint64_t grecs;             /* g records made */
    heap_roots_t *sudog_roots;  /* RT__SUDOG_CACHE + 1 slots, or NULL */
    heap_ref_t *sudog_cache;    /* the per-P cache, nsudog_cache used; the
                                ** slots above may still name sudogs taken
                                ** from them, which are in use (rooted by
                                ** their goroutine anyway): a push overwrites
                                ** them, and a spill happens only when the
                                ** cache is full, so nothing on the central
                                ** list is ever named twice */
    heap_ref_t *sudog_central;  /* head of the central list (slot 0 links) */
    uint32_t nsudog_cache;
    uint64_t sudogs;            /* sudogs allocated */
    uint64_t gc_seen, gc_dropped;   /* cycles seen; dropped the list as of */
    heap_gc_hook_fn gc_hook;    /* rt_set_gc_hook's */
    void *gc_hook_arg;
    chan__state_t *chan;        /* NULL until the first chan_make */
    pool_t *pools;              /* pool_new'd, not yet destroyed */
    char *out;
    size_t out_len, out_cap;
    rt_metric_t *metrics;
    size_t nmetrics;
    char main_label[64];        /* rt_set_main_label's, "" none */
    rt_snapshot_fn snap_fn;     /* rt_set_snapshot_hook's, NULL none */
    void *snap_arg;
    uint64_t snap_every;        /* cycles between snapshots, at least */
    uint64_t snap_next;         /* gc_seen at which the next one is due */
    bool snap_due;              /* set by the GC hooks, taken by rt_alloc */
    uint32_t preempt_due;       /* set by the preempt hook (sysmon's thread), taken
                                ** at a preemption point; atomics */
    bool snap_busy;             /* inside snap_fn */
};

/* Root stacks chan.c holds, described for rt_roots_describe (chan.c). */
void chan__roots_describe(rt_t *rt, rt_root_fn fn, void *arg);

/* A pseudo-random 64-bit number from the task's stream (seeded by the
** task's seed: a run is reproducible). */
static inline uint64_t rt__rand(rt_t *rt)
{
    return splitmix64_next(&rt->rng);
}

/* Uniform in [0, n), n > 0. */
static inline uint32_t rt__rand_below(rt_t *rt, uint32_t n)
{
    return (uint32_t)(((rt__rand(rt) >> 32) * (uint64_t)n) >> 32);
}

/* A preemption point (see the picture): yields when sysmon has asked. */
void rt__preempt(rt_t *rt);
static inline void rt__preempt_point(rt_t *rt)
{
    if (__builtin_expect(__atomic_load_n(&rt->preempt_due, __ATOMIC_RELAXED) != 0, 0))
        rt__preempt(rt);
}

/* rt_alloc_at without the preemption point, for the runtime's own objects. */
heap_ref_t rt__alloc_at(rt_t *rt, uint32_t nptrs, size_t scalar_bytes, const char *site);

/* Report to the heap, if either changed since the last report, the two
** stack figures of Go 1.19's pacer: lastStackScan, the depths its last
** cycle scanned (sched.h), which the GC goal counts, and maxStackScan, the
** stack space the goroutines hold (the scheduler's StackInuse), which
** gctrace prints. Before anything that may collect. */
static inline void rt__publish_stacks(rt_t *rt)
{
    uint64_t scan = sched_stack_scan_bytes(rt->sched);
    uint64_t inuse = sched_stack_inuse_bytes(rt->sched);

    if (scan != rt->stack_published || inuse != rt->stack_inuse_published) {
        rt->stack_published = scan;
        rt->stack_inuse_published = inuse;
        heap_set_stack_bytes(rt->heap, scan, inuse);
    }
}

/* The running goroutine's rt_g_t (made at its start), NULL outside one. */
static inline rt_g_t *rt__self(rt_t *rt)
{
    return (rt_g_t *)sched_local(rt->sched);
}

/* The slow paths of the two below (rt.c). */
heap_ref_t rt__sudog_acquire_slow(rt_t *rt, rt_g_t **g_out);
void rt__sudog_release_slow(rt_t *rt, rt_g_t *g, heap_ref_t sg);

/* A sudog for the running goroutine (*g_out: its rt_g_t), rooted on its g
** record's waiting chain until rt__sudog_release(). May allocate (and
** collect): the caller holds nothing unrooted. Fails the task when the
** heap is full. A sudog on no chain and in no list has slot 0 nil. */
static inline heap_ref_t rt__sudog_acquire(rt_t *rt, rt_g_t **g_out)
{
    rt_g_t *g = rt__self(rt);

    if (__builtin_expect(g == NULL || rt->nsudog_cache == 0 ||
                         rt->gc_dropped != rt->gc_seen, 0))
        return rt__sudog_acquire_slow(rt, g_out);
    heap_t *h = rt->heap;
    heap_ref_t sg = rt->sudog_cache[--rt->nsudog_cache];
    heap_ref_t waiting = heap_read_ref(h, g->grec, 1);
    if (waiting)                  /* a select's other cases */
        heap_write_ref(h, sg, 0, waiting);
    heap_write_ref(h, g->grec, 1, sg);
    *g_out = g;
    return sg;
}

/* Back into the per-P cache, off g's chain (g: the running goroutine,
** as rt__sudog_acquire gave it). */
static inline void rt__sudog_release(rt_t *rt, rt_g_t *g, heap_ref_t sg)
{
    heap_t *h = rt->heap;

    if (__builtin_expect(heap_read_ref(h, g->grec, 1) == sg && heap_read_ref(h, sg, 0) == 0 &&
                         rt->nsudog_cache < RT__SUDOG_CACHE &&
                         rt->gc_dropped == rt->gc_seen, 1)) {
        heap_write_ref(h, g->grec, 1, 0);
        rt->sudog_cache[rt->nsudog_cache++] = sg;
        return;
    }
    rt__sudog_release_slow(rt, g, sg);
}

/* Release what chan.c / pool.c hold for rt (rt_destroy). */
void chan__state_destroy(rt_t *rt);
void pool__destroy_all(rt_t *rt);

#endif
