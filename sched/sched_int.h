/*
** sched/sched_int.h -- private to the scheduler: sched.c (goroutines, run
** loop, failure), stack.c (stack arena, overflow signal), timer.c (sleep
** heap) and switch_x86_64.S (the context switch).
**
** ---- Goroutine states (sched__gor_t.state) ----------------------------
**
**              sched_spawn
**                   |
**                   v        dispatch                 return / sched_exit /
**   +-------> RUNNABLE -------------------> RUNNING ---sched_fail / overflow--> DEAD
**   |           ^   ^                      | | |                               |
**   | timer due |   |  sched_yield/preempt | | |                        reaped by the next
**   |           |   +----------------------+ | |                        context that runs
**   |      SLEEPING <---- sched_sleep_ns ----+ |                               |
**   |                                          |                               v
**   +--- sched_ready --- PARKED <- sched_park -+                             FREE
**                                                                     (slot on free list)
**
**   A goroutine is on exactly one list: RUNNABLE on the local or the
**   global run queue (FIFO each; the order is Go's, sched.h "Run queues")
**   or in s->runnext (at most one, run before the local queue's head),
**   SLEEPING in the timer heap, FREE on one of the slot lists (warm, cold,
**   release_pending; see the arena below); RUNNING, PARKED and DEAD are on
**   none. (Any of them may also be on the aside-pending array, see "Parked
**   stacks set aside" below.) `started` says whether it has ever run: one
**   that never ran has no frames and no cleanups, so unwinding just frees
**   it.
**
** ---- Contexts ----------------------------------------------------------
**
**   Exactly one context runs: the scheduler's own (s->current == NULL, on
**   the stack of the thread that called sched_run) or one goroutine
**   (s->current). Goroutines hand off to each other directly (one switch per
**   yield); control goes back to the scheduler's context only when nothing
**   is runnable (idle, deadlock, done) or the task is failing. A goroutine
**   that dies cannot free the stack it is standing on: it leaves itself in
**   s->zombie and whichever context runs next reaps it first thing.
**
**   A switch saves, on the stack being left, exactly what the SysV ABI says
**   a callee preserves, and stores the stack pointer in ctx.sp:
**
**       ctx.sp -> +0   r15
**                 +8   r14
**                 +16  r13
**                 +24  r12
**                 +32  rbx
**                 +40  rbp
**                 +48  return address
**
**   Not the x87 control word nor MXCSR: as in Go, a goroutine that changes
**   them changes them for whoever runs next. One spawned with
**   SCHED_SPAWN_FPCTL has them kept in g->fpenv instead: saved when it
**   switches out (and the scheduler's first_fpenv loaded for the next,
**   unless that one keeps its own too), loaded when it switches in.
**
**   A new goroutine gets this frame forged at the top of its stack with the
**   return address pointing at sched__trampoline and s in rbx; the
**   trampoline calls sched__gor_entry(s) with an ABI-aligned stack. The
**   frame is forged when the goroutine is first switched to (ctx.sp is
**   NULL until then), so a spawned goroutine that has not run yet has
**   touched no stack page.
**
** ---- Stack arena -------------------------------------------------------
**
**   One reservation of max_goroutines slots of slot_bytes each, made
**   PROT_NONE/MAP_NORESERVE and never touched until needed:
**
**     arena                                                         arena_end
**     | slot 0 | slot 1 | ... | slot nslots-1 | not carved yet (PROT_NONE) |
**      \______ carved: read/write, guards installed ______/
**
**   Slots are carved SCHED__CARVE_SLOTS at a time (one mprotect that merges
**   with the carved prefix, plus the guard installs: one process_madvise
**   for the batch where the kernel has it, else one madvise per slot), so
**   spawning from the free lists makes no system call. One slot:
**
**     lo            lo+guard_bytes                          top = lo+slot_bytes
**     | guard region | usable stack, grows down <--- ... <--- | first frame |
**
**   The guard is MADV_GUARD_INSTALL (a page-table marker, no VMA) when the
**   kernel has it, else an mprotect(PROT_NONE) (two VMAs per slot, so
**   vm.max_map_count caps that mode near 32k goroutines). Pages are
**   committed by first touch. The goroutine's descriptor is NOT on its
**   stack: gors[i] describes slot i, in a separate lazily committed array,
**   so a smashed stack cannot corrupt the scheduler's lists.
**
**   Committed depth is estimated: at every switch point the goroutine's
**   stack pointer is sampled and stack_bytes keeps the deepest page seen
**   (a recursion that returns before any switch point is not seen). When a
**   goroutine that went deeper than keep_bytes dies, its slot below the top
**   keep_bytes is MADV_DONTNEED'ed, so the memory comes back. These are the
**   real bytes (stats.stack_committed_bytes, plus stack_aside_bytes); the
**   figure heapsim reports as the goroutine's stack is Go's, below.
**
** ---- Go's stack model ---------------------------------------------------
**
**   C frames cannot move, so the slot above is how a goroutine's stack is
**   backed; what a Go 1.19 runtime would have allocated for it is modelled
**   beside it, in g->go_bytes, with the goroutine's real depth standing for
**   its Go frames byte for byte (depth = top - SCHED__FIRST_FRAME_GAP - sp,
**   sampled at the same switch points):
**
**     spawn      go_bytes = s->go_start_bytes: 2 KiB (_FixedStack), or with
**                the adaptive start (Go 1.19's default) the average depth
**                scanned at the last GC plus _StackGuard, rounded up to a
**                power of two (gcComputeStartingStackSize).
**     grow       depth > go_bytes - _StackGuard (928): morestack doubles
**                go_bytes until the depth fits, one copystack per doubling,
**                copying what was in use then (go_bytes - _StackGuard, at
**                most the depth). g->go_trip caches the threshold.
**     GC         sched_stacks_gc(): every goroutine's depth is summed into
**                stats.stack_scan_bytes (Go's lastStackScan, what its GC
**                goal counts); each one not running, with
**                depth + _StackLimit (800) < go_bytes / 4 and go_bytes / 2
**                >= 2 KiB, is halved, copying its depth (shrinkstack).
**     exit       go_bytes leaves StackInuse with the goroutine.
**
**   Each copy costs SCHED__COPY_FIXED_NS + SCHED__COPY_PS_PER_BYTE per
**   byte copied, fitted against go1.19.8 on the development machine: a
**   growth is charged to the goroutine as that much busy time when it is
**   seen; a shrink only to the stats (Go shrinks during concurrent mark).
**
**   Free slots are on one of three lists:
**
**     free_slots (warm, LIFO, at most SCHED__WARM_SLOTS): may hold
**       committed pages; reused first, so a spawn/exit churn touches no
**       new page.
**     release_pending (SCHED__RELEASE_BATCH): died while the warm list was
**       full; not allocatable until one MADV_DONTNEED per run of adjacent
**       slots has released their pages, then moved to
**     cold_slots (LIFO): nothing committed (released, or never touched:
**       freshly carved slots start here).
**
**   So a million goroutines that end one after another hold no more than
**   the warm and pending slots' pages, and the pages they give back are
**   the ones the next faults reuse.
**
** ---- Page hand-over ----------------------------------------------------
**
**   A stack page given back and a stack page needed again come in pairs
**   (a parked stack set aside while new goroutines wait for their first
**   frame; a dead goroutine's slot released while set-aside stacks wait
**   to be restored). On a virtual machine freeing one page and faulting
**   another in costs several times what moving the page costs, so where
**   the kernel has userfaultfd's UFFDIO_MOVE (Linux >= 6.8; the arena
**   registered in write-protect mode, which changes no fault: nothing is
**   ever write-protected) release_slots first hands each released slot's
**   top page over to a goroutine queued to run (s->runnext, then the run
**   queue, a bounded look) whose top page is empty and needed:
**
**     first_cold, never run   its first frame goes there (first_cold
**                             cleared: the page is committed)
**     set aside, one page     its bytes go back there (aside_populated
**                             set: no populate call for it)
**
**   and the MADV_DONTNEED that follows releases whatever was not handed
**   over. A moved page keeps its old bytes: the new owner writes before
**   it reads (a first frame is forged, a restore copies its bytes in), as
**   on any stack. A move that fails (EEXIST: the target's page is there;
**   ENOENT: the page was never touched; EBUSY: shared with a forked child)
**   is skipped; any other error turns the hand-over off for good. uffd is
**   bound to the mm that made it, so in a forked child (the canary page
**   reads 0 there) it is off. HEAPSIM_NO_PAGE_HANDOVER in the environment
**   turns it off at sched_new (to measure what it saves).
**
** ---- Parked stacks set aside -------------------------------------------
**
**   A goroutine parked with SCHED_PARK_STACK_ASIDE usually uses a few
**   hundred bytes of stack but holds at least one committed page (plus its
**   share of page tables). Such parks are collected in s->aside_pending
**   (SCHED__ASIDE_BATCH entries, g->aside_pending set, no duplicates).
**   When the array is full the next such park first flushes it: every
**   entry still PARKED with park_aside gets its live bytes [ctx.sp, top -
**   SCHED__FIRST_FRAME_GAP) copied into a malloc'd buffer (g->aside; the
**   gap above the first frame is never written), then the whole slots of those
**   goroutines are released with one MADV_DONTNEED per run of adjacent
**   slots (guards survive it). The entries readied meanwhile are skipped:
**   they never paid anything; so are ended ones (the flag belongs to the
**   descriptor, so a new goroutine in a listed slot is never listed
**   twice). Before any context switches to a goroutine with g->aside set,
**   the switching context copies the bytes back to the same addresses
**   and frees the buffer. The pages come back committed in one
**   process_madvise(MADV_POPULATE_WRITE) for that goroutine and the
**   set-aside ones queued behind it (g->aside_populated; a close that
**   wakes a million restores them in turn), not one fault each; where the
**   kernel lacks it they are faulted in on touch.
**
**     parked, in place --flush--> parked, aside --ready, then switched to--> running
**                                 (g->aside != NULL, stack_bytes == 0)
**
**   Copies use `rep movsb`, which sanitizers do not see: the live stack
**   holds poisoned redzones, and their shadow is left as it was, which is
**   right again once the bytes are back.
**
** ---- Stack overflow ----------------------------------------------------
**
**   Touching a guard raises SIGSEGV on the alternate signal stack that
**   sched_run installed. If the address lies in the running goroutine's
**   guard and its stack pointer is down there too, the handler rewrites the
**   interrupted context to resume at sched__gor_overflow(s) with the stack
**   pointer reset to the top of the goroutine's own slot (its frames are
**   dead, its descriptor lives elsewhere), and returns: sigreturn restores
**   the signal mask and frees the alternate stack for the next overflow.
**   sched__gor_overflow fails the task and ends the goroutine normally
**   (gend hook, cleanups) on its own stack. Any other fault restores the
**   previous disposition (the default one, unless e.g. ASan had one) and
**   faults again: a real crash stays a crash.
**
** ---- Invariants --------------------------------------------------------
**
**   live == number of descriptors whose state is not FREE.
**   s->current != NULL  <=>  a goroutine's stack is the one running.
**   s->zombie is NULL whenever code other than the switch path runs.
**   failing => no goroutine is dispatched except by the unwinder, and
**   unwinding => no goroutine switches away except to die. A main
**   goroutine that returns ends the task the same way, with fail_rc 0
**   (a program's exit is not a failure).
**   stats.stack_committed_bytes == sum of stack_bytes over non-FREE goroutines.
**   stats.stack_inuse_bytes == sum of go_bytes over non-FREE goroutines, and
**   every go_bytes of a non-FREE goroutine is a power of two >= 2 KiB.
**   g->aside != NULL  =>  g is PARKED or RUNNABLE (never RUNNING), and its
**   stack_bytes is 0; stats.stacks_aside counts them.
**   s->runnext != NULL  =>  it is RUNNABLE and on neither run queue.
**   runq_len == the length of the local queue <= SCHED__RUNQ_MAX.
**   Only the thread in sched_run writes stats; everything else in sched_t is
**   touched by that thread only.
*/
#ifndef HEAPSIM_SCHED_SCHED_INT_H
#define HEAPSIM_SCHED_SCHED_INT_H

#include "sched/sched.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__) || defined(HEAPSIM_ASAN)
#define SCHED_ASAN 1
#else
#define SCHED_ASAN 0
#endif

#define SCHED__HIDDEN __attribute__((visibility("hidden")))

/* Defaults and limits of the configuration. */
#define SCHED__DEFAULT_STACK_BYTES ((size_t)256 << 10)
#define SCHED__DEFAULT_MAX_GOROUTINES ((uint32_t)1 << 20)
#define SCHED__MIN_STACK_BYTES ((size_t)32 << 10)
#define SCHED__MAX_STACK_BYTES ((size_t)1 << 30)
#define SCHED__MAX_ARENA_BYTES ((size_t)1 << 46)   /* 64 TiB of address space */
#define SCHED__CARVE_SLOTS 64u                      /* slots made usable at once */
#define SCHED__KEEP_PAGES 4u                        /* left committed on reuse */
#define SCHED__FIRST_FRAME_GAP 64u                  /* bytes left above the first frame */
#define SCHED__FAILURE_BYTES 4096u
#define SCHED__TIMER_POLL_EVERY 64u                 /* switches between clock reads */
#define SCHED__ASIDE_BATCH 64u                      /* stacks set aside at once */
#define SCHED__WARM_SLOTS 4096u                     /* free slots that keep their pages */
#define SCHED__RELEASE_BATCH 256u                   /* dead slots released at once */

/* Go 1.19's scheduler constants (runtime/proc.go, runtime2.go). */
#define SCHED__RUNQ_MAX 256u                        /* len(p.runq) */
#define SCHED__GLOBAL_EVERY 61u                     /* schedtick%61: the global queue first */
#define SCHED__SYSMON_MIN_NS 20000u                 /* sysmon's first sleep: 20 us */
#define SCHED__SYSMON_MAX_NS 10000000u              /* ... grown to at most 10 ms */
#define SCHED__SYSMON_IDLE_ROUNDS 50u               /* rounds at 20 us before it doubles */

/* Go 1.19's stack constants on linux/amd64 (runtime/stack.go). */
#define SCHED__GO_STACK_MIN 2048u                   /* _FixedStack */
#define SCHED__GO_STACK_GUARD 928u                  /* _StackGuard */
#define SCHED__GO_STACK_LIMIT 800u                  /* _StackLimit */
#define SCHED__GO_STACK_MAX ((uint32_t)1 << 30)     /* maxstacksize */
/* What one copystack costs (see the picture): go1.19.8, GOMAXPROCS=1,
** goroutines recursing 10, 30, 100 and 250 frames of 128 B, first descent
** (1 to 5 doublings) minus the second: about 0.8 us per copy plus 0.5 ns
** per byte copied (the per-frame unwinding is folded into the bytes). */
#define SCHED__COPY_FIXED_NS 800u
#define SCHED__COPY_PS_PER_BYTE 500u

typedef enum sched__state {
    SCHED__FREE = 0,
    SCHED__RUNNABLE,
    SCHED__RUNNING,
    SCHED__SLEEPING,
    SCHED__PARKED,
    SCHED__DEAD
} sched__state_t;

typedef enum sched__guard {
    SCHED__GUARD_MADVISE = 1,   /* MADV_GUARD_INSTALL: no VMA per slot */
    SCHED__GUARD_MPROTECT       /* fallback: 2 VMAs per slot */
} sched__guard_t;

/* The saved stack pointer of a context that is not running; everything
** else it needs is on that stack (see the picture). */
typedef struct sched__ctx {
    void *sp;
} sched__ctx_t;

typedef struct sched__defer {
    void (*fn)(void *arg);
    void *arg;
} sched__defer_t;

/* One goroutine; gors[i] owns stack slot i for the descriptor's lifetime.
** Fields up to `local` are reset by every spawn; `defers` keeps its
** capacity across reuse and is freed by sched_destroy. */
typedef struct sched__gor {
    sched__ctx_t ctx;              /* valid while not RUNNING */
    struct sched__gor *next;       /* run queue link, or free list link */
    int64_t id;                    /* > 0; 0 while FREE */
    gor_fn_t fn;
    void *arg;
    void *local;                   /* sched_local() */
    const char *park_reason;       /* while PARKED */
    uint64_t park_gc;              /* s->gc_count when it parked */
    uint32_t stack_bytes;          /* estimated committed depth, whole pages */
    uint32_t go_bytes;             /* Go's stack size for it (see the picture) */
    uint32_t go_trip;              /* depth from top beyond which Go's would grow */
    uint32_t depth_hwm;            /* deepest depth seen, bytes below the first frame */
    uint8_t state;                 /* sched__state_t */
    bool started;                  /* has run at least once */
    bool ending;                   /* in gor_finish: gend/cleanups running */
    bool gend_done;
    bool in_safepoint;             /* the safepoint hook is on this stack */
    bool park_aside;               /* PARKED with SCHED_PARK_STACK_ASIDE */
    bool is_main;                  /* SCHED_SPAWN_MAIN */
    bool fpctl;                    /* SCHED_SPAWN_FPCTL: fpenv is its own */
    uint64_t fpenv;                /* x87 CW | MXCSR << 32 while switched out */
    bool aside_pending;            /* on s->aside_pending */
    bool aside_populated;          /* set aside, its pages committed again ahead of the restore */
    bool first_cold;               /* on a cold slot, its top page not committed (see hand-over) */
    uint32_t aside_bytes;          /* length of `aside`: ctx.sp up to the first frame gap */
    void *aside;                   /* the live stack bytes while set aside */
    uint32_t ndefers, defer_cap;
    sched__defer_t *defers;        /* LIFO: defers[ndefers - 1] runs first */
#if SCHED_ASAN
    void *asan_fake_stack;         /* ASan's fake stack while switched out */
#endif
} sched__gor_t;

/* A sleeping goroutine in the min-heap: earliest `when_ns` first, equal
** deadlines in the order they were set (`seq`). */
typedef struct sched__timer {
    uint64_t when_ns;              /* CLOCK_MONOTONIC */
    uint64_t seq;
    sched__gor_t *g;
} sched__timer_t;

struct sched {
    /* Geometry, fixed by sched_new. */
    uint32_t max_goroutines;
    size_t page_bytes;
    size_t slot_bytes;             /* stack_reserve_bytes, rounded to pages */
    size_t guard_bytes;            /* at the low end of every slot */
    size_t keep_bytes;             /* committed pages a dead goroutine keeps */
    uint64_t first_fpenv;          /* x87 CW | MXCSR << 32 at sched_new: what
                                   ** SCHED_SPAWN_FPCTL goroutines start with */
    bool go_adaptive_start;        /* Go 1.19's adaptive starting stack size */
    uint64_t timer_resolution_ns;  /* sched_set_timer_resolution(); 0 = exact */
    uint64_t idle_until_ns;        /* sched_idle_until_ns(): the idle sleep's end */
    uint32_t go_start_bytes;       /* Go's stack size for a new goroutine */

    /* Stack arena (stack.c). */
    char *arena;
    size_t arena_bytes;
    uint32_t nslots;               /* carved so far */
    sched__guard_t guard;
    bool batch_madvise;            /* process_madvise(PIDFD_SELF_THREAD) works */
    bool batch_populate;           /* ... with MADV_POPULATE_WRITE too */
    sched__gor_t *gors;            /* max_goroutines descriptors, lazily committed */
    size_t gors_bytes;
    sched__gor_t *free_slots;      /* warm, LIFO: the hottest stack is reused first */
    uint32_t nwarm;                /* slots on free_slots */
    sched__gor_t *cold_slots;      /* LIFO, nothing committed */
    uint32_t nrelease;
    sched__gor_t *release_pending[SCHED__RELEASE_BATCH];

    /* Page hand-over (stack.c): uffd < 0 when off. */
    int uffd;                      /* userfaultfd with UFFDIO_MOVE, the arena registered */
    volatile uint64_t *uffd_canary; /* a MADV_WIPEONFORK page: 1 here, 0 in a forked child */

    /* Go's run queues on one P (sched.h, "Run queues"): the local queue
    ** (FIFO, at most SCHED__RUNQ_MAX), the global one (FIFO), and the
    ** goroutine to run before either. */
    sched__gor_t *runq_head, *runq_tail;
    uint32_t runq_len;
    sched__gor_t *globq_head, *globq_tail;
    sched__gor_t *runnext;
    uint32_t runnext_streak;       /* runnext turns since the queue's head last ran */

    /* Preemption (preempt.c). schedtick is Go's pp.schedtick: goroutines
    ** started on a slice of their own; written by the sched_run thread
    ** with relaxed atomics, read by sysmon. preempt_req is 0 or the
    ** schedtick + 1 of the slice sysmon asks to end; written by sysmon (or
    ** sched_preempt_request), taken by sched_preempt_point. */
    uint64_t schedtick;
    uint64_t preempt_req;
    uint64_t preempt_ns;           /* the slice; 0: off */
    struct sched__sysmon *sysmon;  /* its thread while sched_run runs, else NULL */

    /* Parks that allow their stack to be set aside, not yet flushed. */
    uint32_t naside_pending;
    sched__gor_t *aside_pending[SCHED__ASIDE_BATCH];

    /* Timer heap (timer.c): max_goroutines entries, lazily committed, so a
    ** sleep can never fail for want of room. */
    sched__timer_t *timers;
    size_t timers_bytes;
    size_t ntimers;
    uint64_t timer_seq;
    uint32_t timer_tick;

    /* Running state. */
    sched__gor_t *current;         /* NULL: the scheduler's own context runs */
    sched__gor_t *zombie;          /* died, stack not yet recycled */
    sched__ctx_t sched_ctx;        /* the scheduler's context while a goroutine runs */
    int *errno_p;                  /* errno of the thread in sched_run */
    uint64_t live;
    int64_t last_id;
    bool running;                  /* inside sched_run */
    bool on_systemstack;           /* inside sched_systemstack */
    bool failing;                  /* the task failed or deadlocked */
    bool unwinding;                /* sched_run is ending the survivors */
    int fail_rc;                   /* 0, SCHED_EFAILED, SCHED_EDEADLOCK or
                                   ** SCHED_EINTERRUPTED */
    bool main_returned;            /* the main goroutine's fn returned */
    uint64_t gc_count;             /* sched_stacks_gc() calls: GC cycles seen */
    char failure[SCHED__FAILURE_BYTES];
    char exit_report[SCHED__FAILURE_BYTES];
    sched_hooks_t hooks;           /* safepoint_word: see sched_interrupt() */
    const uint32_t *safepoint_word_set;   /* the hooks' own safepoint_word */
    uint32_t interrupt_pending;    /* sched_interrupt(), not yet delivered */

    /* Signals (stack.c): the alternate stack sched_run installs. */
    char *altstack_map;
    size_t altstack_map_bytes;
    stack_t old_altstack;

#if SCHED_ASAN
    const void *asan_sched_bottom; /* the scheduler's stack, learned on the */
    size_t asan_sched_size;        /* first switch out of it */
    void *asan_sched_fake_stack;
    bool asan_from_sched;          /* the switch in flight left the scheduler */
#endif

    /* Written by the sched_run thread only, read with relaxed atomics. */
    sched_stats_t stats;
};

/* ---- switch_x86_64.S ------------------------------------------------- */

/* Save the callee-saved state on the current stack, store the stack pointer
** in from->sp, and resume the context saved in to. Returns when something
** switches back to `from`. */
SCHED__HIDDEN void sched__switch(sched__ctx_t *from, const sched__ctx_t *to);
/* First return address of a new goroutine: calls sched__gor_entry(rbx). */
SCHED__HIDDEN void sched__trampoline(void);

/* ---- sched.c --------------------------------------------------------- */

/* Body of every goroutine: hooks, fn, cleanups, death. */
SCHED__HIDDEN _Noreturn void sched__gor_entry(sched_t *s);
/* Where the overflow handler resumes a goroutine that hit its guard: fails
** the task with "goroutine N: stack overflow" and ends the goroutine. */
SCHED__HIDDEN _Noreturn void sched__gor_overflow(sched_t *s);

/* Relaxed-atomic stats updates (single writer). */
static inline void sched__stat_set(uint64_t *field, uint64_t value)
{
    __atomic_store_n(field, value, __ATOMIC_RELAXED);
}
static inline void sched__stat_add(uint64_t *field, uint64_t delta)
{
    __atomic_store_n(field, __atomic_load_n(field, __ATOMIC_RELAXED) + delta,
                     __ATOMIC_RELAXED);
}
static inline void sched__stat_sub(uint64_t *field, uint64_t delta)
{
    __atomic_store_n(field, __atomic_load_n(field, __ATOMIC_RELAXED) - delta,
                     __ATOMIC_RELAXED);
}

/* ---- stack.c --------------------------------------------------------- */

/* Reserve the arena, the descriptor array and the alternate signal stack
** for s (whose geometry fields are set). Returns 0 or -errno; on failure
** nothing stays mapped. */
SCHED__HIDDEN int sched__arena_init(sched_t *s);
/* Unmap everything sched__arena_init mapped; frees every defer array. */
SCHED__HIDDEN void sched__arena_fini(sched_t *s);
/* A FREE descriptor whose slot is ready to run on. Pops the free list (no
** system call); carves a new batch of slots when it is empty. Returns 0 or
** -ENOMEM (address space, or vm.max_map_count in mprotect mode). */
SCHED__HIDDEN int sched__slot_alloc(sched_t *s, sched__gor_t **g_out);
/* Give a DEAD (or never started) goroutine's slot back: release deep
** pages, fix the stack stats, mark it FREE and put it on the warm list,
** or on release_pending when the warm list is full (see the picture). */
SCHED__HIDDEN void sched__slot_free(sched_t *s, sched__gor_t *g);

/* The run queues in the order they are taken (the 61st tick's turn of the
** global queue aside): the local queue, then the global one. first: its
** head; after: the one after x (x RUNNABLE on one of them, or runnext). */
static inline sched__gor_t *sched__queued_first(const sched_t *s)
{
    return s->runq_head != NULL ? s->runq_head : s->globq_head;
}
static inline sched__gor_t *sched__queued_after(const sched_t *s, const sched__gor_t *x)
{
    if (x == s->runnext)
        return sched__queued_first(s);
    if (x->next != NULL)
        return x->next;
    return x == s->runq_tail ? s->globq_head : NULL;
}

static inline char *sched__slot_lo(const sched_t *s, const sched__gor_t *g)
{
    return s->arena + (size_t)(g - s->gors) * s->slot_bytes;
}
static inline char *sched__stack_lo(const sched_t *s, const sched__gor_t *g)
{
    return sched__slot_lo(s, g) + s->guard_bytes;
}
static inline char *sched__stack_top(const sched_t *s, const sched__gor_t *g)
{
    return sched__slot_lo(s, g) + s->slot_bytes;
}

/* The process-wide SIGSEGV/SIGBUS handler, installed while any scheduler
** exists (reference counted). Returns 0 or -errno. */
SCHED__HIDDEN int sched__signals_acquire(void);
SCHED__HIDDEN void sched__signals_release(void);
/* Bracket sched_run on the calling thread: install s's alternate stack and
** make s the scheduler the handler looks at. Returns 0 or -errno. */
SCHED__HIDDEN int sched__signals_enter(sched_t *s);
SCHED__HIDDEN void sched__signals_leave(sched_t *s);

/* Set aside the stacks of the goroutines on s->aside_pending that are
** still parked with park_aside (see the picture) and empty the array. A
** goroutine whose bytes cannot be saved (no memory) keeps its pages. */
SCHED__HIDDEN void sched__aside_flush(sched_t *s);
/* Copy g's stack bytes back in place and free them; g->aside != NULL and
** g is not the running context. */
SCHED__HIDDEN void sched__aside_restore(sched_t *s, sched__gor_t *g);

/* ---- preempt.c ------------------------------------------------------- */

/* Start sysmon for this run when s->preempt_ns > 0 (s->sysmon stays NULL
** otherwise, or when the thread cannot be made: no preemption then).
** Stop and join it. Called by sched_run on its thread. */
SCHED__HIDDEN void sched__sysmon_start(sched_t *s);
SCHED__HIDDEN void sched__sysmon_stop(sched_t *s);

/* ---- timer.c --------------------------------------------------------- */

SCHED__HIDDEN uint64_t sched__now_ns(void);
/* Map the heap's room (max_goroutines entries). Returns 0 or -errno. */
SCHED__HIDDEN int sched__timers_init(sched_t *s);
SCHED__HIDDEN void sched__timers_fini(sched_t *s);
/* Add g, waking at when_ns. Cannot fail: there is room for every goroutine. */
SCHED__HIDDEN void sched__timer_push(sched_t *s, uint64_t when_ns, sched__gor_t *g);
/* Remove and return the earliest goroutine if due at now_ns, else NULL. */
SCHED__HIDDEN sched__gor_t *sched__timer_pop_due(sched_t *s, uint64_t now_ns);
/* Deadline of the earliest timer; only when s->ntimers > 0. */
static inline uint64_t sched__timer_next_ns(const sched_t *s)
{
    return s->timers[0].when_ns;
}
static inline void sched__timer_clear(sched_t *s)
{
    s->ntimers = 0;
}

#endif
