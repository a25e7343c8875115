/*
** shm_heap/heap.h -- a garbage-collected heap in POSIX shared memory.
**
** Every worker process on a host that runs tasks of the same run attaches the
** same segment. References are offsets from the start of the segment
** (heap_ref_t, 0 is nil), never pointers, so each process may map the
** segment at its own address.
**
** An object is `nptrs` reference slots followed by `scalar_bytes` of plain
** data; the collector scans exactly the slots (precise marking). Roots are
** the root stacks (one per goroutine, in shared memory, so any process can
** scan any other's) and each process's globals.
**
** Collection is Go's concurrent mark-and-sweep across every attached
** process (heap_config.collector; or stop-the-world for the whole cycle):
** two short stops of the world, reached at safepoints: heap_alloc(),
** heap_safepoint(); processes that are outside the heap (heap_leave) count
** as stopped. Between them the mark runs beside the mutators, kept correct
** by the write barrier (heap_write_ref) and paid for by mark assists and a
** background worker (heap_int.h, CONCURRENT MARK). Pacing is Go
** 1.19's: goal = marked + (marked + stacks + globals) * GOGC/100, at least
** 4 MiB * GOGC/100, and under a memory limit at most the limit less
** non-heap memory (stacks, heap metadata) and 1 MiB of headroom. Free
** pages beyond the scavenger's goal go back to the OS (heap_int.h).
**
** Threading: a heap_t is one process's attachment and is used by one thread
** (the scheduler's). Other threads of that process may call
** heap_stats_read() only.
**
** This module knows nothing of ZeroMQ, SQLite or the scheduler.
*/
#ifndef HEAPSIM_SHM_HEAP_HEAP_H
#define HEAPSIM_SHM_HEAP_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/gc_fields.h"

/* The Go release whose runtime this heap models: size classes, span
** sizes, pacing, scavenging and the statistics' definitions follow
** go1.19's runtime (mgcpacer.go, sizeclasses.go, mgcscavenge.go,
** mstats.go); a figure that differs from Go's is a bug. */
#define HEAP_GO_VERSION "go1.19"

typedef uint64_t heap_ref_t;              /* offset into the segment; 0 = nil */
typedef struct heap heap_t;               /* one process's attachment */
typedef struct heap_roots heap_roots_t;   /* a root stack, lives in the segment */

/* Error codes (negative). heap_strerror() names them. */
#define HEAP_EOOM      (-1001)  /* no room even after a collection */
#define HEAP_ECORRUPT  (-1002)  /* heap_verify found a broken invariant */
#define HEAP_EVERSION  (-1003)  /* segment made by another layout version */
#define HEAP_EFULL     (-1004)  /* too many processes attached */
#define HEAP_EROOTS    (-1005)  /* root stack overflow */
#define HEAP_EENV      (-1006)  /* HEAPSIM_PAGE_CACHE is neither 0 nor 1 */
/* Other failures return -errno (-ENOENT, -EEXIST, -ENOMEM, -EINVAL, ...). */

const char *heap_strerror(int rc);

/* The environment heap_open() reads: HEAPSIM_PAGE_CACHE, unset, empty or
** 1 (page caches on: heap_int.h, PAGE CACHE) or 0 (off). 0, or HEAP_EENV with a one-line
** message naming the variable and its value in why. A program checks it
** once at its start; heap_open() answers HEAP_EENV too. */
int heap_env_check(char *why, size_t whysize);

typedef struct heap_config {
    uint64_t heap_max_bytes;      /* reserved range; 0 = default (1/4 of RAM, >= 64 MiB) */
    int gogc;                     /* percent; 100 is Go's default; < 0 = off */
    uint64_t memory_limit_bytes;  /* soft limit like GOMEMLIMIT; 0 = none */
    int collector;                /* HEAP_COLLECTOR_*; the default is concurrent */
} heap_config_t;

/* The collector. CONCURRENT is Go's: short stops at the start and the end
** of a mark that runs beside the mutators (write barrier, mark assists,
** a background worker at 25 % of each process). STW stops every process
** for the whole mark and sweep: for teaching and comparison. */
#define HEAP_COLLECTOR_CONCURRENT 0
#define HEAP_COLLECTOR_STW 1

#define HEAP_GOGC_OFF (-1)
#define HEAP_MIN_GOAL_BYTES (4u << 20)
#define HEAP_MAX_SMALL_BYTES (32u << 10)  /* larger objects get their own span */
#define HEAP_MAX_PROCS 256

void heap_config_default(heap_config_t *cfg);

/* Segment name for a run: "/heapsim-<token>" into buf (>= 64 bytes).
** The prefix can be changed with the environment variable HEAPSIM_SHM_PREFIX
** (tests use it to keep their segments apart). */
char *heap_segment_name(const char *run_token, char *buf, size_t size);

/* Create the segment `name` (mode 0600; fails with -EEXIST if it exists) or
** attach to an existing one (cfg is then ignored; the creator's settings
** hold). On success *heap_p is this process's attachment. On failure nothing
** is left behind: a segment this call created is unlinked. */
int heap_open(const char *name, const heap_config_t *cfg, bool create,
              heap_t **heap_p);

/* Leave the heap: this process's roots are dropped, its cached spans
** returned. If `unlink_if_last` and no other live process is attached, the
** segment name is unlinked too. Accepts NULL / *heap_p == NULL. */
void heap_close(heap_t **heap_p, bool unlink_if_last);

/* Unlink a segment by name (0, or -errno). */
int heap_unlink(const char *name);

/* Remove segments with our prefix in /dev/shm whose attached processes are
** all dead. Calls `report` for each removed one. Returns how many. */
int heap_clean_stale(void (*report)(void *arg, const char *name), void *arg);

/* ---- Mutator side -------------------------------------------------- */

/* Declare this process a running mutator (before touching objects) or
** outside the heap (blocking on I/O, between tasks). A process outside the
** heap counts as stopped for a collection; heap_enter() waits while one is
** in progress. Nested calls are not allowed. */
void heap_enter(heap_t *h);
void heap_leave(heap_t *h);

/* Allocate an object with `nptrs` reference slots (zeroed = nil) followed
** by `scalar_bytes` zeroed bytes. Is a safepoint: may collect or wait for a
** collection. Returns 0 when the heap is full even after a collection
** (heap_last_error() then says HEAP_EOOM). */
heap_ref_t heap_alloc(heap_t *h, uint32_t nptrs, size_t scalar_bytes);
int heap_last_error(const heap_t *h);

/* heap_alloc() for the allocation site `site`: a label for the profile
** (heap_prof_*), like "binary_trees.bottom_up". The pointer is the site's
** identity in this process: pass a string literal (or another string
** that outlives the attachment); NULL is "(unknown)". heap_alloc() is
** heap_alloc_at() with NULL. */
heap_ref_t heap_alloc_at(heap_t *h, uint32_t nptrs, size_t scalar_bytes, const char *site);

/* Fast accessors. Every heap_t begins with this view: its mapping base,
** the segment's stop-the-world request word, and whether this process's
** write barrier is on (it changes only while the world is stopped). */
struct heap__view { char *base; uint32_t *stw_word; uint32_t barrier_on; };
static inline void *heap_ptr(heap_t *h, heap_ref_t r)
{
    return ((struct heap__view *)h)->base + r;
}

/* ---- The write barrier ------------------------------------------------
** Every store of a reference into a heap object goes through
** heap_write_ref() or heap_copy_refs(): kernels, channels, pools' heap
** objects, goroutine records alike. While a concurrent mark runs, the
** barrier is Go's hybrid one (mbarrier.go): it shades the reference being
** overwritten and the one being stored. Root stacks (heap_roots_push) and
** globals (heap_globals) are roots, written without it, as Go's stacks are.
** Reads need no barrier. */
void heap__write_barrier(heap_t *h, heap_ref_t old_ref, heap_ref_t new_ref);
/* Slot i of object obj := ref. */
static inline void heap_write_ref(heap_t *h, heap_ref_t obj, uint32_t i, heap_ref_t ref)
{
    heap_ref_t *slot = (heap_ref_t *)heap_ptr(h, obj) + i;
    if (__builtin_expect(((struct heap__view *)h)->barrier_on != 0, 0))
        heap__write_barrier(h, *slot, ref);
    *slot = ref;
}
/* Slot i of object obj. */
static inline heap_ref_t heap_read_ref(heap_t *h, heap_ref_t obj, uint32_t i)
{
    return ((const heap_ref_t *)heap_ptr(h, obj))[i];
}
/* Slots [dst_i, dst_i + n) of dst := slots [src_i, src_i + n) of src
** (memmove: the ranges may overlap), through the barrier like n
** heap_write_ref() calls (Go's bulkBarrierPreWrite + memmove). */
void heap_copy_refs(heap_t *h, heap_ref_t dst, uint32_t dst_i, heap_ref_t src, uint32_t src_i,
                    uint32_t n);
/* The scalar bytes of object r (they follow its nptrs slots). */
static inline void *heap_data(heap_t *h, heap_ref_t r, uint32_t nptrs)
{
    return (char *)heap_ptr(h, r) + (size_t)nptrs * sizeof(heap_ref_t);
}
/* The object's nptrs as allocated, and the bytes it occupies: its size
** class, or its whole pages when large (>= nptrs * 8 + scalar_bytes; like
** Go's heap, this one keeps no requested size). */
uint32_t heap_obj_nptrs(heap_t *h, heap_ref_t r);
size_t heap_obj_size(heap_t *h, heap_ref_t r);

/* A safepoint poll: cheap when no collection is requested. Call it in loops
** that neither allocate nor yield. */
void heap__park(heap_t *h);
void heap__safepoint_slow(heap_t *h);
static inline void heap_safepoint(heap_t *h)
{
    const uint32_t *word =
        __atomic_load_n(&((struct heap__view *)h)->stw_word, __ATOMIC_RELAXED);
    if (__atomic_load_n(word, __ATOMIC_RELAXED))
        heap__safepoint_slow(h);
}

/* A safepoint that is also a scheduling point: the caller's scheduler is
** switching goroutines (Go's schedule()). Only here does the background
** mark worker take its share of the CPU, as Go's fractional worker runs
** only when schedule() picks it: a goroutine that runs without switching
** pays for the mark by its assists alone. */
void heap_schedpoint(heap_t *h);

/* ---- Interrupting this process at its next safepoint ------------------
** heap_interrupt() makes this attachment's next safepoint poll (the
** heap_safepoint() above, heap_alloc's) call the interrupt hook, in the
** thread that polls. It costs the polls nothing until then: it points this
** attachment's poll at a non-zero word of its own (the poll's slow path
** points it back before calling the hook). The hook may not return: it may
** end the calling goroutine, since a poll holds nothing of the heap's (no
** lock, no half-made object). Other processes on the heap see nothing.
**
** heap_interrupt() is async-signal-safe and may be called from any thread;
** without a hook it does nothing. heap_set_interrupt_hook (fn NULL: none)
** is called by the heap's own thread, and drops an interrupt not yet
** delivered. */
typedef void (*heap_interrupt_fn)(void *arg);
void heap_set_interrupt_hook(heap_t *h, heap_interrupt_fn fn, void *arg);
void heap_interrupt(heap_t *h);

/* The word heap_safepoint() reads: non-zero while a stop of the world is
** requested (then heap_safepoint() has work to do). Valid as long as the
** attachment; for callers that poll it inline (the scheduler's switch
** points). */
const uint32_t *heap_safepoint_word(heap_t *h);

/* Run the heap's slow paths -- refills, collections and their stops,
** mark assists, root stacks, pools, entering and leaving -- through
** run(ctx, fn, arg), which must call fn(arg) on a stack with room of its
** own (the scheduler's, sched_systemstack), as Go runs them on its
** systemstack: a goroutine whose stack runs out inside one of them must
** not leave a lock, shared with every process on the heap, held by a
** process that goes on living. NULL (the default): on the caller's stack.
** The fast paths (an allocation from the span cache, a safepoint with
** nothing to do, the barrier while marking is off) stay on the caller's. */
typedef void (*heap_stack_runner_fn)(void *ctx, void (*fn)(void *arg), void *arg);
void heap_set_stack_runner(heap_t *h, heap_stack_runner_fn run, void *ctx);

/* Collect now (like runtime.GC()). Returns 0, or a negative code. */
int heap_collect(heap_t *h);

/* Go's idle mark worker: the caller (entered) has nothing else to run
** until until_ns (CLOCK_MONOTONIC), e.g. the scheduler's next timer. If a
** concurrent mark runs, mark -- this process's grey objects, then what
** other processes offer in their steal queues -- until until_ns, until
** no mark work is left anywhere (then it may end the mark, a stop of the
** world), or until a stop of the world or an interrupt is asked for.
** Counted as idle mark time (gctrace's idle). Returns the scan bytes
** done; 0 at once when no mark runs. */
uint64_t heap_mark_idle(heap_t *h, uint64_t until_ns);

/* ---- Roots ---------------------------------------------------------- */

/* A root stack: `capacity` slots in the segment, scanned by whichever
** process collects. One per goroutine. Returns NULL on -ENOMEM/OOM. */
heap_roots_t *heap_roots_new(heap_t *h, uint32_t capacity);
void heap_roots_destroy(heap_t *h, heap_roots_t **roots_p);

/* Push n nil slots and return them (valid until the matching pop); NULL if
** the stack would overflow (heap_last_error() = HEAP_EROOTS). */
heap_ref_t *heap_roots_push(heap_roots_t *r, uint32_t n);
void heap_roots_pop(heap_roots_t *r, uint32_t n);
uint32_t heap_roots_depth(const heap_roots_t *r);

/* This process's globals: `n` root slots that live as long as the
** attachment. Returns the slots (always the same array), NULL on failure. */
heap_ref_t *heap_globals(heap_t *h, uint32_t n);

/* ---- Pools (the shared-memory half of a sync.Pool cache) ------------ */

/* A pool area: two halves of `capacity` slots, the primary and the victim,
** both roots. heap_pool_put() fills the primary; heap_pool_get() takes the
** newest object of the primary, then the newest of the victim.
**
** At every collection, with the world stopped and before marking, the
** collector rotates the pools of every attached process (not only its
** own): the old victim is emptied, the primary becomes the victim and an
** empty half the primary -- Go's victim cache. An object put and never
** taken back survives one collection and is garbage after the second
** (unless reachable otherwise).
**
** Used by the process that made it, from one thread; never across a
** safepoint in the middle of a call (none of these calls is a safepoint
** except heap_pool_new). */
typedef struct heap_pool heap_pool_t;
#define HEAP_POOL_MAX_CAPACITY (1u << 30)

/* A pool area with `capacity` slots per half (1..HEAP_POOL_MAX_CAPACITY).
** Like heap_roots_new: may collect when the heap is full. Returns NULL on
** failure (heap_last_error(): -EINVAL, HEAP_EOOM). */
heap_pool_t *heap_pool_new(heap_t *h, uint32_t capacity);
/* Unlink it; what it holds is no longer a root. Accepts NULL. */
void heap_pool_destroy(heap_t *h, heap_pool_t **pool_p);
/* Add ref (non-nil) to the primary half. false, and nothing stored, when
** the primary half is full. */
bool heap_pool_put(heap_pool_t *p, heap_ref_t ref);
/* Take an object out: the primary's newest, else the victim's newest;
** 0 when both are empty. The object is no longer a root of the pool. */
heap_ref_t heap_pool_get(heap_pool_t *p);
/* Move *pool_p's objects into a new area of `capacity` slots per half,
** each object staying in its half, and destroy the old area. May collect
** first, like heap_pool_new (which rotates the old area as usual). Returns
** 0, or -EINVAL (a half holds more than `capacity`) / HEAP_EOOM with
** *pool_p unchanged. */
int heap_pool_resize(heap_t *h, heap_pool_t **pool_p, uint32_t capacity);
uint32_t heap_pool_capacity(const heap_pool_t *p);
/* Objects now in each half. */
void heap_pool_counts(const heap_pool_t *p, uint32_t *primary, uint32_t *victim);

/* ---- Telemetry ------------------------------------------------------ */

/* What Go's gctrace line reports, per cycle: the figures of
** base/gc_fields.h, as the worker sends them and storage keeps them. The
** heap measures them so: cycle counts from 1 per heap; forced means
** heap_collect(), not the pacer; stw_ns is the whole pause (wall, from the
** request to the restart) and stop_ns its part until every process
** parked; mark and sweep in wall and thread-CPU time; heap_start/end_bytes
** are in-use spans before the cycle and after the sweep, heap_live_bytes
** what was marked, heap_goal_bytes the goal for the next cycle; stack_bytes
** is the sum of the processes' reported stack scan bytes (Go's
** lastStackScan; a runtime with a stack scan hook reports them at its
** root scan in the cycle's mark, heap_set_stack_scan) and max_stack_bytes
** of their reported stack space in use (Go's maxStackScan, what gctrace
** prints as MB stacks), both at mark termination, globals_bytes the pointer-holding globals registered with
** the heap, in bytes (all three as Go's pacer counts them);
** gc_cpu_fraction is the share of wall time spent collecting since the
** heap was created. */
typedef struct heap_gc_cycle {
    gc_fields_t fields;
    int64_t collector_pid;        /* the process that collected (not sent) */
} heap_gc_cycle_t;

/* Called in the collecting process after each cycle, before the world
** restarts. Must not touch the heap. */
typedef void (*heap_gc_hook_fn)(void *arg, const heap_gc_cycle_t *cycle);
void heap_set_gc_hook(heap_t *h, heap_gc_hook_fn fn, void *arg);

typedef struct heap_stats {
    uint64_t heap_alloc_bytes;    /* bytes in allocated objects (incl. unswept garbage) */
    uint64_t heap_inuse_bytes;    /* bytes in in-use spans */
    uint64_t heap_sys_bytes;      /* pages ever touched, and metadata */
    uint64_t heap_released_bytes; /* of those, free pages given back to the OS */
    uint64_t heap_max_bytes;
    uint64_t heap_live_bytes;     /* marked at the last cycle */
    uint64_t heap_goal_bytes;
    uint64_t total_alloc_bytes;   /* cumulative, all processes */
    uint64_t total_alloc_objects;
    uint64_t num_gc;
    uint64_t pause_total_ns;
    uint64_t pause_max_ns;
    uint64_t stack_bytes;         /* stack scan bytes, sum over processes */
    uint64_t max_stack_bytes;     /* stack space in use, sum over processes */
    uint32_t nprocs;
    int gogc;
    /* this process only */
    uint64_t proc_alloc_bytes;
    uint64_t proc_alloc_objects;
} heap_stats_t;

/* Safe from any thread of an attached process. */
void heap_stats_read(heap_t *h, heap_stats_t *st);

/* The segment keeps the last HEAP_GC_HISTORY cycles. Copy those with
** cycle > after_cycle (oldest first, at most max) into out; returns how
** many. Safe from any thread of an attached process. */
#define HEAP_GC_HISTORY 1024
int heap_gc_history(heap_t *h, uint32_t after_cycle, heap_gc_cycle_t *out, int max);

/* How many cycles this heap has completed (by any process): cheap, a load. */
uint64_t heap_num_gc(const heap_t *h);

/* Report this process's two stack figures, as Go 1.19's pacer keeps them:
** scan_bytes, the stack its last cycle scanned (lastStackScan: the goal's
** stack term), and inuse_bytes, the stack space its goroutines hold now
** (maxStackScan: the worst-case stack scan of revise() and what gctrace
** prints as MB stacks; at least scan_bytes when the runtime's figures are
** Go's). The heap sums each over the processes. Only the heap's own
** thread reports (asserted): a second reporter, such as a sampling
** thread, would overwrite the runtime's figures with others. */
void heap_set_stack_bytes(heap_t *h, uint64_t scan_bytes, uint64_t inuse_bytes);

/* Go's scanstack, as the runtime counts it: called once per concurrent
** mark at this process's root scan (as it joins the mark), on the heap's
** thread, with its goroutines at safepoints; `cycle` is the cycle being
** marked (heap_num_gc once it ends). Returns the bytes of stack its
** goroutines use now, each goroutine's depth (Go's stack.hi - sp, the
** stack scan work Go counts, pointer words or not), summed. The mark
** counts that as the cycle's stack scan work -- work done, the goal's
** stack term for the next cycle (lastStackScan) -- in place of the root
** stacks' slots, 8 B each, which stand for the frames' pointer words only.
** The hook may shrink stacks as scanstack does and report its figures
** (heap_set_stack_bytes), and must not touch the heap otherwise. NULL
** (the default): the root stacks' slots are the stack scan work. */
typedef uint64_t (*heap_stack_scan_fn)(void *arg, uint64_t cycle);
void heap_set_stack_scan(heap_t *h, heap_stack_scan_fn fn, void *arg);

/* Exact high-water marks since this process's last heap_hwm_reset() (or
** its attach). The heap figures are of the whole shared heap; the heap in
** use is counted as Go's HeapAlloc (heap_stats.heap_alloc_bytes: bytes of
** allocated objects by size class, including garbage not yet swept). */
typedef struct heap_hwm {
    uint64_t heap_alloc_bytes;    /* peak heap in use (HeapAlloc) */
    uint64_t heap_objects;        /* peak objects allocated, not swept */
    uint64_t stack_bytes;         /* peak of this process's reported stack scan bytes */
} heap_hwm_t;
/* Start new marks at the current values. Call while inside the heap
** (between heap_enter and heap_leave), so no collection runs meanwhile. */
void heap_hwm_reset(heap_t *h);
/* Safe from any thread of the process. */
void heap_hwm_read(heap_t *h, heap_hwm_t *out);

/* ---- Heap profile (Go's runtime.MemProfile) ------------------------ */

/* Allocations are sampled as Go samples them (runtime.MemProfileRate,
** malloc.go's nextSample): one sampled allocation on average per `rate`
** bytes allocated by this process, the distance to the next one drawn from
** an exponential distribution; rate 1 samples every allocation, 0 none.
** Each sampled object is remembered beside the heap (its offset and site;
** the object itself carries nothing), and the sweep that frees it counts
** it freed, whichever process collects. Per site, like Go's memRecord, the
** figures are of samples, not scaled: scaling to estimated totals is the
** profile writer's (profile/). Each collection also publishes the figures
** as of its end, as Go's heap profile shows them: allocations made since
** are not counted yet, and what is in use is what that collection found
** live. */
#define HEAP_MEM_PROFILE_RATE_DEFAULT (512u * 1024u)   /* Go's default */
#define HEAP_PROF_SITES 64           /* sites per process; more go to "(other)" */
#define HEAP_PROF_SITE_NAME 64       /* longer labels are cut */

typedef struct heap_prof_site {
    char name[HEAP_PROF_SITE_NAME];
    uint64_t alloc_objects, alloc_bytes;  /* sampled allocations, their slot bytes */
    uint64_t free_objects, free_bytes;    /* of those, swept since */
} heap_prof_site_t;

/* Sample this process's allocations at `rate` bytes (0 = off, the state
** after heap_open), the intervals drawn from a stream seeded with `seed`.
** Starts a new interval. */
void heap_prof_set_rate(heap_t *h, uint64_t rate, uint64_t seed);
uint64_t heap_prof_rate(const heap_t *h);

/* Forget this process's samples and zero its sites (a new profile, e.g.
** per task). Call inside the heap (between heap_enter and heap_leave). */
void heap_prof_reset(heap_t *h);

/* Copy this process's sites (at most max, in order of first use) into out;
** returns how many there are (may be > max). With at_last_gc, the figures
** the last collection published and, in *cycle_out (may be NULL), its
** number (0: none since heap_prof_reset); else the figures now (*cycle_out
** = 0). Safe from any thread of the process; figures read while the
** process allocates, or a collection publishes, may be a moment apart from
** each other. */
int heap_prof_read(heap_t *h, bool at_last_gc, heap_prof_site_t *out, int max,
                   uint64_t *cycle_out);

/* Change pacing at run time (like debug.SetGCPercent / SetMemoryLimit). */
void heap_set_gogc(heap_t *h, int gogc);
void heap_set_memory_limit(heap_t *h, uint64_t bytes);

/* Walk the whole heap checking every invariant (offsets in range, free
** lists consistent, mark bits clear outside a cycle, roots point at
** objects). Must be called with the world stopped or by a sole process.
** Returns 0 or HEAP_ECORRUPT with a reason in `why`. */
int heap_verify(heap_t *h, char *why, size_t whysize);

#endif
