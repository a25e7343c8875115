/*
** shm_heap/heap_pacer.h -- private to shm_heap: the GC pacer and the GC CPU
** limiter, as Go 1.19 has them (runtime/mgcpacer.go, mgclimit.go), as a
** pure unit: no clock, no globals, no pointers. Every figure it needs comes
** in as an argument; everything it keeps is in one plain struct that the
** heap embeds in its segment header, shared by all attached processes.
**
** THE CYCLE, and what the caller does at each point (Go's mgc.go):
**
**   init(gogc, limit) ........ once, when the segment is made
**   mutator allocates; heap_live grows. Each refill asks
**     trigger(limit_goal) .... heap_live >= trigger starts a cycle
**   sweep termination (world stopped):
**     start_cycle(now, procs, ...)   workers wanted, first assist ratio
**     limiter_start_transition / limiter_finish_transition
**   concurrent mark: workers and assists do scan work;
**     revise(heap_live, ..., scan_work) whenever heap_live or the work
**     done moves (any process; see CONCURRENCY); assists read
**     assist_work_per_byte / assist_bytes_per_work
**   mark termination (world stopped):
**     end_cycle(now, procs, heap_live, assist_ns, idle_ns, scan_work)
**     reset_live(marked, heap_scan_work, stack_scan_work, globals_bytes)
**     commit(heap_live = marked, sweep_done = false)
**   setting changes (lock held): set_gogc / set_memory_limit /
**     set_globals, then commit (and revise, if marking).
**
** THE FIGURES (all bytes; work is Go 1.19's scan work = bytes scanned):
**   heap_live   marked at the last cycle + bytes handed out since (Go's
**               heapLive, counted at span refill).
**   heap_scan   the scannable part of heap_live: for each object with
**               references, its prefix up to its last reference slot.
**   heap_marked bytes marked by the last cycle (allocated-black included).
**   stack scan  bytes of stack scanned last cycle; max_stack_scan is the
**               stack bytes allocated now (an upper bound on the next).
**   globals     bytes of scannable globals.
**
** THE GOAL. gogc_goal = marked + (marked + stack scan + globals) * GOGC/100,
** at least heap_minimum = 4 MiB * GOGC / 100; UINT64_MAX when GOGC is off.
** The memory limit gives limit_goal (heap__pacer_limit_goal, from the
** caller's mapped figures). goal = min(gogc_goal, limit_goal); under the
** GOGC goal it is also pushed to keep 1 MiB for the sweeper after commit
** with sweep_done false, and 64 KiB past the cycle's trigger.
** With GOGC off and no limit the goal and the trigger are UINT64_MAX: no
** cycle starts by itself.
**
** THE TRIGGER. runway = cons_mark * (1 - 0.25) / 0.25 * (last heap scan +
** last stack scan + globals): the bytes the mutator will allocate while
** the GC, at 25 % of the CPU, does the expected scan work. trigger =
** goal - runway, kept within [marked + 45/64 (goal - marked),
** marked + 61/64 (goal - marked)] (0.7 .. 0.95), the top raised to
** goal - 4 MiB when that is higher, and the bottom raised to the sweep
** distance trigger; always <= goal.
**
** CONS/MARK. At the end of each cycle, with u = 0.25 + assist utilisation
** and i the idle-mark utilisation over the mark phase,
**   cons/mark now = (heap_live - trigger) * (u + i) / (scan_work * (1 - u))
** the bytes allocated per CPU-ns over the bytes scanned per CPU-ns; the
** estimate carried to the next cycle is that sample through Go 1.19's PI
** controller (kp 0.9, ti 4, tt 1000, output within [-1000, 1000]). (Go
** 1.20 replaced the controller by the largest of the last 4 samples and
** took the trigger as heap_live at the start; this is 1.19's.)
**
** CONCURRENCY. The struct lives in shared memory. Functions that change
** it (init, set_*, commit, start_cycle, end_cycle, reset_live, the
** limiter's update/transition/reset_capacity) require that the caller
** holds the heap's lock or has the world stopped. revise may run in any
** process while marking, concurrently with itself (as in Go: the ratios
** are best effort): it reads only fields fixed during the cycle and
** writes only the two assist ratios. trigger, goal and the inline
** readers below take no lock: every field they read is written with a
** relaxed atomic store and read with a relaxed atomic load (doubles as
** their uint64 bit pattern). The worker, idle and credit helpers are
** atomic read-modify-writes, safe from any process.
*/
#ifndef HEAPSIM_SHM_HEAP_HEAP_PACER_H
#define HEAPSIM_SHM_HEAP_HEAP_PACER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Go's constants (mgcpacer.go, mgc.go, mgclimit.go). */
#define HEAP__PACER_BG_UTILIZATION 0.25              /* gcBackgroundUtilization */
#define HEAP__PACER_HEAP_MINIMUM (4ull << 20)        /* defaultHeapMinimum */
#define HEAP__PACER_LIMIT_HEADROOM (1ull << 20)      /* memoryLimitHeapGoalHeadroom */
#define HEAP__PACER_MIN_RUNWAY (64ull << 10)         /* heapGoalInternal's minRunway */
#define HEAP__PACER_SWEEP_MIN_DISTANCE (1ull << 20)  /* sweepMinHeapDistance */
#define HEAP__PACER_TRIGGER_DEN 64                   /* triggerRatioDen */
#define HEAP__PACER_MIN_TRIGGER_NUM 45               /* ~0.7 */
#define HEAP__PACER_MAX_TRIGGER_NUM 61               /* ~0.95 */
#define HEAP__PACER_OVER_ASSIST_WORK (64ll << 10)    /* gcOverAssistWork */
#define HEAP__PACER_GOGC_OFF_REVISE 100000           /* revise's GOGC when off */
#define HEAP__PACER_NONE UINT64_MAX                  /* no goal / no limit / not triggered */
#define HEAP__LIMITER_CAPACITY_PER_PROC_NS 1000000000ull  /* capacityPerProc */
#define HEAP__LIMITER_UPDATE_PERIOD_NS 10000000ll         /* gcCPULimiterUpdatePeriod */

/* The GC CPU limiter (Go's gcCPULimiterState): a leaky bucket that fills
** with GC CPU time and drains with mutator CPU time, so that the GC, once
** it has spent its capacity (1 CPU-second per proc) beyond what the
** mutator got in the same window, is held to 50 %. `enabled` is what
** assists read: while it is on, allocation does not assist. Invariant:
** fill <= capacity. */
typedef struct heap__limiter {
    uint32_t enabled;            /* 0/1, relaxed atomics */
    uint32_t gc_enabled;         /* marking: background time counts as GC */
    uint32_t transitioning;      /* between start/finish_transition */
    int32_t nprocs;
    uint64_t fill_ns;
    uint64_t capacity_ns;
    uint64_t overflow_ns;        /* GC time beyond capacity, cumulative */
    int64_t assist_pool_ns;      /* atomics: added by any process */
    int64_t idle_pool_ns;
    int64_t last_update_ns;      /* relaxed atomics */
} heap__limiter_t;

/* The pacer (Go's gcControllerState, less what the heap keeps itself:
** heap_live, heap_scan, the scan-work and CPU-time counters). Fields
** marked (a) are read lock-free: relaxed atomics. */
typedef struct heap__pacer {
    /* settings */
    int32_t gogc;                    /* (a) -1 = off */
    uint32_t reserved0;
    uint64_t memory_limit_bytes;     /* (a) HEAP__PACER_NONE = no limit */
    uint64_t heap_minimum_bytes;     /* 4 MiB * GOGC / 100 */

    /* from commit and reset_live */
    uint64_t gogc_goal_bytes;        /* (a) NONE when GOGC is off */
    uint64_t sweep_dist_min_trigger; /* (a) */
    uint64_t runway_bytes;           /* (a) */
    uint64_t heap_marked_bytes;      /* (a) */
    uint64_t last_heap_scan_bytes;   /* (a) heap scan work of the last cycle */
    uint64_t last_stack_scan_bytes;  /* (a) stack scan work of the last cycle */
    uint64_t globals_scan_bytes;     /* (a) */
    uint64_t last_heap_goal_bytes;   /* the goal when the last cycle ended */

    /* cons/mark and its PI controller */
    double cons_mark;
    double pi_err_integral;
    uint32_t pi_resets;              /* times the controller overflowed */
    uint32_t reserved1;

    /* this cycle, from start_cycle */
    uint64_t triggered_bytes;        /* (a) NONE outside a cycle */
    int64_t mark_start_ns;           /* (a) */
    int64_t dedicated_needed;        /* atomics: dedicated workers left to start */
    uint64_t idle_workers;           /* atomics: (max << 32) | running */
    int64_t bg_scan_credit;          /* atomics: background work not yet stolen */
    uint64_t fractional_goal_bits;   /* (a) double: fractionalUtilizationGoal */
    uint64_t assist_work_per_byte_bits;  /* (a) double */
    uint64_t assist_bytes_per_work_bits; /* (a) double */
    double last_utilization;         /* end_cycle: 0.25 + assist share */

    heap__limiter_t limiter;
} heap__pacer_t;

/* ---- relaxed atomics on the shared fields ---------------------------- */

static inline uint64_t heap__pacer_ld(const uint64_t *f)
{
    return __atomic_load_n(f, __ATOMIC_RELAXED);
}

static inline void heap__pacer_st(uint64_t *f, uint64_t v)
{
    __atomic_store_n(f, v, __ATOMIC_RELAXED);
}

static inline double heap__pacer_ld_double(const uint64_t *f)
{
    uint64_t bits = heap__pacer_ld(f);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static inline void heap__pacer_st_double(uint64_t *f, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    heap__pacer_st(f, bits);
}

/* ---- hot readers: no lock ------------------------------------------- */

/* Scan work an assist owes per byte allocated (revise's latest). */
static inline double heap__pacer_assist_work_per_byte(const heap__pacer_t *p)
{
    return heap__pacer_ld_double(&p->assist_work_per_byte_bits);
}

/* Bytes of allocation one unit of scan work pays for (1 / the above, kept
** separately as Go does; the two may be skewed by a racing revise). */
static inline double heap__pacer_assist_bytes_per_work(const heap__pacer_t *p)
{
    return heap__pacer_ld_double(&p->assist_bytes_per_work_bits);
}

/* The share of wall time each process without a dedicated worker should
** spend in its fractional worker this cycle; 0 = no fractional workers. */
static inline double heap__pacer_fractional_goal(const heap__pacer_t *p)
{
    return heap__pacer_ld_double(&p->fractional_goal_bits);
}

/* Whether the GC CPU limiter is on (assists then stop). */
static inline bool heap__limiter_limiting(const heap__limiter_t *l)
{
    return __atomic_load_n(&l->enabled, __ATOMIC_RELAXED) != 0;
}

/* ---- settings (writer) --------------------------------------------- */

/* Initialise *p for GOGC `gogc` (< 0: off) and a memory limit of
** `memory_limit_bytes` (HEAP__PACER_NONE: none), with nothing marked yet
** and the sweep done, as Go's gcControllerState.init; the limiter for
** `nprocs` processes at time `now_ns`. Everything else is zero: cons/mark
** 0 (so the first trigger is at 0.95 of the way), no cycle running. */
void heap__pacer_init(heap__pacer_t *p, int32_t gogc, uint64_t memory_limit_bytes,
                      int64_t now_ns, int32_t nprocs);

/* Set GOGC (< 0 means off, stored as -1) and with it heap_minimum.
** Returns the old value. commit must follow. */
int32_t heap__pacer_set_gogc(heap__pacer_t *p, int32_t gogc);

/* Set the memory limit (HEAP__PACER_NONE: none). Returns the old one.
** commit must follow. */
uint64_t heap__pacer_set_memory_limit(heap__pacer_t *p, uint64_t memory_limit_bytes);

/* Set the scannable globals (Go's addGlobals, as a total). commit must
** follow. */
void heap__pacer_set_globals(heap__pacer_t *p, uint64_t globals_scan_bytes);

/* Recompute the GOGC goal and the runway from GOGC, the last cycle's
** marked and scan figures, globals and cons/mark (Go's commit). With
** sweep_done false, the next trigger and goal stay at least `heap_live` +
** 1 MiB (the sweeper's distance). While marking, call revise after. */
void heap__pacer_commit(heap__pacer_t *p, uint64_t heap_live, bool sweep_done);

/* ---- goal and trigger (readers: no lock) ----------------------------- */

/* The memory limit's heap goal (Go's memoryLimitHeapGoal) from the
** caller's figures: mapped_ready = memory mapped and not released (heap
** spans, metadata, stacks, everything the limit counts), heap_free = free
** heap pages not released, heap_alloc = bytes of heap objects in use.
**   goal = limit - (non-heap + overage) - 1 MiB,
**   non-heap = mapped_ready - heap_free - heap_alloc,
**   overage = max(mapped_ready - limit, 0),
** 1 MiB at least before the floor, never below heap_marked, heap_marked
** when non-heap + overage reach the limit. HEAP__PACER_NONE when there is
** no limit. Figures that contradict (heap_free + heap_alloc >
** mapped_ready) are read as non-heap = 0. */
uint64_t heap__pacer_limit_goal(const heap__pacer_t *p, uint64_t mapped_ready,
                                uint64_t heap_free, uint64_t heap_alloc);

/* The GOGC goal as of the last commit (NONE when GOGC is off). */
uint64_t heap__pacer_gogc_goal(const heap__pacer_t *p);

/* The heap goal now: min(GOGC goal, limit_goal), pushed out as THE GOAL
** says when the GOGC goal is the smaller. HEAP__PACER_NONE when both are. */
uint64_t heap__pacer_goal(const heap__pacer_t *p, uint64_t limit_goal);

/* The heap_live at which the next cycle starts (THE TRIGGER); stores the
** goal in *goal_out when goal_out is not NULL. Always <= the goal;
** HEAP__PACER_NONE when the goal is. */
uint64_t heap__pacer_trigger(const heap__pacer_t *p, uint64_t limit_goal, uint64_t *goal_out);

/* ---- the cycle (writer unless said) ---------------------------------- */

/* Begin a mark phase at `now_ns` on `procs` processes (Go's startCycle):
** records the trigger as the cycle's trigger point (the computed trigger,
** as Go 1.19 does, not heap_live), zeroes the credit, picks dedicated
** workers = round(procs * 0.25), adding fractional workers when rounding
** is more than 30 % off, allows procs - dedicated idle workers (0, or 1
** with no dedicated worker, for a `periodic` cycle), then revises.
** procs >= 1. */
void heap__pacer_start_cycle(heap__pacer_t *p, int64_t now_ns, int32_t procs,
                             uint64_t limit_goal, uint64_t heap_live, uint64_t heap_scan,
                             uint64_t max_stack_scan, bool periodic);

/* Dedicated mark workers start_cycle asked for (still to start). */
int64_t heap__pacer_dedicated_needed(const heap__pacer_t *p);

/* Recompute the assist ratio (Go's revise): the scan work expected
** (last heap scan + last stack scan + globals) less `scan_work` done so
** far this cycle, over the heap left until the goal. When more work than
** expected is done already, the goal is extended in proportion to the
** worst case (heap_scan + max_stack_scan + globals), at most
** (1 + GOGC/100) times the goal; past the goal, the goal is taken as 1.1x
** and the work as the worst case. Remaining work is at least 1000, heap
** left at least 1. Any process, while marking (CONCURRENCY). */
void heap__pacer_revise(heap__pacer_t *p, uint64_t heap_live, uint64_t heap_scan,
                        uint64_t max_stack_scan, int64_t scan_work, uint64_t limit_goal);

/* End the mark phase at `now_ns` (Go's endCycle): assist_ns and idle_ns
** are the CPU time spent in assists and idle marking since start_cycle,
** scan_work the heap + stack + globals work done, heap_live the heap now.
** Records the goal, the utilisation (0.25 + assist_ns / (wall * procs))
** and feeds cons/mark now through the PI controller. Returns the new
** cons/mark estimate. A cycle with heap_live <= its trigger (too short
** to say anything) leaves cons/mark as it was. */
double heap__pacer_end_cycle(heap__pacer_t *p, int64_t now_ns, int32_t procs,
                             uint64_t heap_live, int64_t assist_ns, int64_t idle_ns,
                             int64_t scan_work, uint64_t limit_goal);

/* After end_cycle, before commit (Go's resetLive): `marked` bytes
** survived (the new heap_live; the caller resets its own heap_live to it
** and its heap_scan to heap_scan_work), heap_scan_work and
** stack_scan_work are the cycle's heap and stack scan work, globals the
** scannable globals now. Clears the cycle's trigger. */
void heap__pacer_reset_live(heap__pacer_t *p, uint64_t marked, uint64_t heap_scan_work,
                            uint64_t stack_scan_work, uint64_t globals_scan_bytes);

/* ---- mark workers (atomics; any process) ---------------------------- */

/* Claim one of the dedicated workers start_cycle asked for: true when
** this process should run its mark worker dedicated until the mark ends
** (it then calls heap__pacer_release_dedicated when that worker stops). */
bool heap__pacer_claim_dedicated(heap__pacer_t *p);
void heap__pacer_release_dedicated(heap__pacer_t *p);

/* Should a process whose fractional worker has run `self_ns` this cycle
** start it now (Go's findRunnableGCWorker): when fractional workers are
** wanted and it is not ahead of the fractional goal. */
bool heap__pacer_fractional_start(const heap__pacer_t *p, int64_t now_ns, int64_t self_ns);

/* Should a running fractional worker, at `self_ns` this cycle including
** the current run, stop (Go's pollFractionalWorkerExit: past 1.2x the
** goal, or no time has passed since the mark began). */
bool heap__pacer_fractional_stop(const heap__pacer_t *p, int64_t now_ns, int64_t self_ns);

/* Idle mark workers (Go's idleMarkWorkers): add returns true when the
** caller may become one (it calls remove when it stops); need is a hint. */
bool heap__pacer_idle_add(heap__pacer_t *p);
bool heap__pacer_idle_need(const heap__pacer_t *p);
void heap__pacer_idle_remove(heap__pacer_t *p);
void heap__pacer_idle_set_max(heap__pacer_t *p, int32_t max);

/* Background scan credit: workers add what they scanned; an assist takes
** up to `want` of it and is told how much it got (0 .. want). */
void heap__pacer_credit_add(heap__pacer_t *p, int64_t work);
int64_t heap__pacer_credit_take(heap__pacer_t *p, int64_t want);

/* ---- the GC CPU limiter --------------------------------------------- */

/* Assist time and idle time (a process idle, or in an idle mark worker)
** since the last update, in ns, added by any process (atomic). */
void heap__limiter_add_assist(heap__limiter_t *l, int64_t ns);
void heap__limiter_add_idle(heap__limiter_t *l, int64_t ns);

/* Whether more than 10 ms have passed since the last update. Lock-free. */
bool heap__limiter_need_update(const heap__limiter_t *l, int64_t now_ns);

/* Account the window since the last update (Go's updateLocked): total =
** window * nprocs - idle, GC = assist + (while marking) window * nprocs
** * 0.25; the bucket fills by GC - (total - GC) and never goes below 0;
** a full bucket turns limiting on, any drain turns it off. Drains the
** pools. A `now_ns` before the last update changes nothing. Returns
** whether it is limiting. Not during a transition. */
bool heap__limiter_update(heap__limiter_t *l, int64_t now_ns);

/* A stop-the-world turning marking on (enable_gc) or off begins at
** `now_ns`: the window so far is accounted, then the mark state flips.
** finish_transition at the end of the pause counts the whole pause,
** on every proc, as GC time. */
void heap__limiter_start_transition(heap__limiter_t *l, bool enable_gc, int64_t now_ns);
void heap__limiter_finish_transition(heap__limiter_t *l, int64_t now_ns);

/* Change the number of procs (capacity = nprocs CPU-seconds), accounting
** the window so far first. Not while marking. */
void heap__limiter_reset_capacity(heap__limiter_t *l, int64_t now_ns, int32_t nprocs);

#endif
