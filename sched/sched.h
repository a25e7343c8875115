/*
** sched/sched.h -- green threads (goroutines) for one worker process.
**
** One scheduler per process, run by one OS thread. Goroutines are switched
** by hand-written assembly (switch_x86_64.S), never swapcontext. Each has a
** stack reserved virtually, committed by the page on first touch, with a
** guard region below it; an overflow fails the goroutine's task with
** "goroutine N: stack overflow" (caught on an alternate signal stack).
**
** This module knows nothing of the heap; runtime/rt.h joins the two.
*/
#ifndef HEAPSIM_SCHED_SCHED_H
#define HEAPSIM_SCHED_SCHED_H

#include <sched.h>   /* added: POSIX sched_yield(void), before the macro below */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sched sched_t;
typedef void (*gor_fn_t)(sched_t *s, void *arg);

/* Error codes (negative); sched_strerror() names them. */
#define SCHED_EFAILED   (-2001)  /* the task failed: sched_failure() says why */
#define SCHED_EDEADLOCK (-2002)  /* all goroutines are asleep */
#define SCHED_ETOOMANY  (-2003)  /* max_goroutines reached */
#define SCHED_EINTERRUPTED (-2004)  /* sched_interrupt(): the task was cut short */
const char *sched_strerror(int rc);

typedef struct sched_config {
    size_t stack_reserve_bytes;   /* per goroutine, virtual; default 256 KiB */
    uint32_t max_goroutines;      /* default 1 << 20 */
    /* Go's stack model (see "Stacks as Go sizes them" below): true starts
    ** every goroutine's modelled stack at 2 KiB, as Go 1.19 does with
    ** GODEBUG=adaptivestackstart=0; false (the default, Go 1.19's) starts
    ** it at the average stack depth seen at the last sched_stacks_gc(). */
    bool go_fixed_stack_start;
} sched_config_t;

void sched_config_default(sched_config_t *cfg);

int sched_new(const sched_config_t *cfg, sched_t **sched_p);
/* Frees every goroutine (running none of their code) and the stacks. */
void sched_destroy(sched_t **sched_p);

/* Make a runnable goroutine running fn(s, arg). Returns its id (> 0) or a
** negative code. Callable from inside or outside a goroutine: from inside
** it runs next (Go's newproc puts it in runnext, see "Run queues" below),
** from outside it joins the back of the local queue. */
int64_t sched_spawn(sched_t *s, gor_fn_t fn, void *arg);

/* Added: sched_spawn with flags.
** SCHED_SPAWN_MAIN: the task's main goroutine. When its fn returns (and
** its cleanups have run) the task ends, as a Go program exits when main
** returns: the goroutines still alive are counted and summarized by what
** they wait on (sched_exit_report(), stats.alive_at_exit), then ended
** without running any more of their code -- only their cleanups run, as
** when a task fails -- and sched_run() returns 0. (A main goroutine that
** ends by sched_exit() is runtime.Goexit(): the others carry on.) Without
** a main goroutine sched_run() runs until every goroutine has ended. */
#define SCHED_SPAWN_MAIN 1u
/* SCHED_SPAWN_FPCTL: keep this goroutine's x87 control word and MXCSR
** (rounding, flush-to-zero, exception masks) across its switches, starting
** from those the thread had at sched_new(). Without it they are not
** goroutine state, as in Go: a goroutine that changes them changes them
** for whatever runs next (and the switch costs less). Leaving an FPCTL
** goroutine puts sched_new()'s back for the others. */
#define SCHED_SPAWN_FPCTL 2u
int64_t sched_spawn_flags(sched_t *s, gor_fn_t fn, void *arg, unsigned flags);

/* Added: how finely the scheduler sleeps when every goroutine waits on a
** timer. 0 (the default): it wakes when the earliest is due. Otherwise as
** Go 1.19 on Linux does with 1 ms (netpoll's epoll_wait timeout is whole
** milliseconds): it sleeps the time left truncated to a multiple of
** resolution_ns, or one resolution_ns when less is left, and looks again
** -- a 1.25 ms time.Sleep takes about 2 ms there, a 100 us one about 1 ms.
** (While some goroutine runs, timers fire at switch points as before.) */
void sched_set_timer_resolution(sched_t *s, uint64_t resolution_ns);

/* ---- Run queues and preemption, as Go 1.19 has them on one P ----------
**
** Three places hold runnable goroutines (proc.go): runnext (one, run
** first, inheriting the time slice of the goroutine that made it
** runnable), the local queue (FIFO of up to 256; a put to a full one moves
** its older half and the newcomer to the global queue, runqputslow) and
** the global queue (FIFO). The next to run is the global queue's head
** every 61st schedtick (a tick counts each goroutine started on a slice of
** its own, i.e. not from runnext), else runnext, else the local head, else
** the global head, the global queue's next 127 moving to the local one
** (globrunqget). Where goroutines go:
**
**   sched_spawn (inside a goroutine), sched_ready_next   runnext (its old
**                                                        one to the local back)
**   sched_spawn (outside), sched_ready, timers due       the local back
**   sched_yield (Go's Gosched), a preemption            the global back
**
** (Go readies woken and timer-due goroutines into runnext too; here only
** sched_ready_next's callers, the channel hand-offs, do.)
**
** Preemption: with a slice (sched_set_preempt, Go's forcePreemptNS is
** 10 ms) sched_run runs a thread beside the goroutines, Go's sysmon: it
** sleeps 20 us at first, then after 50 rounds twice as long each round up
** to the slice, and each time it wakes reads the scheduler's schedtick;
** when the tick is the one it saw a slice ago (a goroutine has run on one
** slice that long), it asks that goroutine to yield (sched_preempt_request)
** -- after 10 to 20 ms with Go's 10. The goroutine yields at its next
** preemption point, sched_preempt_point(), and goes to the global queue
** (gopreempt_m). C code has no preemption points of its own: the runtime
** places them where a goroutine enters it (runtime/rt.h). 0 (the default):
** no thread, no preemption. Takes effect at the next sched_run. */
void sched_set_preempt(sched_t *s, uint64_t slice_ns);

/* Ask the goroutine on the current slice to yield at its next preemption
** point, as sysmon does when the slice is used up; calls the preempt hook
** (sched_hooks_t). From any thread, also without a preemption slice; a
** request outlives no slice: one made for a goroutine that has since
** switched out is dropped. Async-signal-safe when the hook is. */
void sched_preempt_request(sched_t *s);

/* A preemption point: when a request is pending for the calling
** goroutine's slice, it yields to the global queue (a switch point, like
** sched_yield) and returns true when it runs again; else false at once.
** Also false outside a goroutine, on the system stack, in the safepoint
** hook, in an ending goroutine's cleanups and while the task unwinds. */
bool sched_preempt_point(sched_t *s);

/* Run goroutines until none is left (0), the task failed (SCHED_EFAILED),
** or every goroutine is blocked with no timer pending (SCHED_EDEADLOCK; the
** blocked goroutines are freed and sched_failure() summarizes them). After
** a failure the remaining goroutines are unwound: their cleanups run, their
** stacks are recycled. The scheduler is reusable for the next task. */
int sched_run(sched_t *s);

/* Why the last sched_run() failed -- the sched_fail() message,
** "goroutine N: stack overflow", or the deadlock report ("all goroutines
** are asleep - deadlock!" then one line per blocked goroutine, or per park
** reason with counts when many). "" after a run that returned 0. Owned by
** s; valid until the next sched_run() or sched_destroy(). */
const char *sched_failure(const sched_t *s);

/* Added: after a run whose main goroutine returned with others alive,
** "goroutines alive at exit: N, blocked on: chan receive 1990, select 10"
** (reasons as in deadlock reports, most frequent first; "runnable" and
** "sleep" for those not parked); "" otherwise. Owned by s; valid until the
** next sched_run() or sched_destroy(). */
const char *sched_exit_report(const sched_t *s);

/* Added: every goroutine alive (not ended, not ending), in no particular
** order: its id, its sched_local() pointer, what it waits on (as in
** deadlock reports: the park reason, "sleep", "runnable", or "running"
** for the caller), and, when parked, how many GC cycles
** (sched_stacks_gc() calls) have passed since it parked. fn returning
** non-zero stops the walk and is returned. fn must not spawn, end or
** switch goroutines. */
typedef struct sched_ginfo {
    int64_t id;
    void *local;
    const char *wait_reason;
    bool is_main;                 /* SCHED_SPAWN_MAIN */
    bool parked;
    uint64_t blocked_cycles;      /* parked: GC cycles since; else 0 */
} sched_ginfo_t;
int sched_foreach(const sched_t *s, int (*fn)(void *arg, const sched_ginfo_t *g), void *arg);

/* ---- From inside a goroutine ---------------------------------------- */

/* The goroutine yield is linked as sched_gosched() and spelled
** `sched_yield(s)` through this macro: POSIX owns the symbol sched_yield
** (int sched_yield(void) in <sched.h>, which <pthread.h> pulls in), so a
** function of that name would not compile next to <pthread.h> and would
** replace libc's for every shared library in the process (libasan and
** libubsan call it to back off). POSIX's stays reachable as
** `(sched_yield)()`. */
#define sched_yield(s) sched_gosched(s)
void sched_gosched(sched_t *s);
void sched_yield(sched_t *s);                   /* runtime.Gosched() */
void sched_sleep_ns(sched_t *s, uint64_t ns);   /* time.Sleep() */
_Noreturn void sched_exit(sched_t *s);           /* runtime.Goexit() */
/* Fail the current task with a message; the calling goroutine does not
** return, the others are unwound by sched_run(). */
_Noreturn void sched_fail(sched_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int64_t sched_self_id(const sched_t *s);         /* 0 outside a goroutine */
/* End the task as interrupted, from inside a goroutine: like sched_fail(),
** but sched_run() returns SCHED_EINTERRUPTED (sched_failure() is fmt's
** text). For a poll that finds an interrupt pending (the heap's). */
_Noreturn void sched_interrupted(sched_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Interrupt the task from outside it: the goroutine that runs ends the task
** as by sched_interrupted() at its next switch point (yield, sleep, park),
** and sched_run() returns SCHED_EINTERRUPTED after unwinding the others.
** Async-signal-safe, from any thread. It costs the switch points nothing
** until then: it points their safepoint poll at a non-zero word, and the
** poll's slow path points it back. An interrupt made while no sched_run()
** runs ends the next one at its first switch point; one not delivered
** when sched_run() returns is dropped, and so is one pending when
** sched_set_hooks() is called (the runtime does at each task's start). */
void sched_interrupt(sched_t *s);

/* Defer-style cleanup: fn(arg) runs when the goroutine ends, however it
** ends (return, sched_exit, task failure), last registered first. */
int sched_defer(sched_t *s, void (*fn)(void *arg), void *arg);

/* A pointer of the caller's per goroutine (runtime/rt.h keeps the
** goroutine's heap roots there). */
void *sched_local(const sched_t *s);
void sched_set_local(sched_t *s, void *p);

/* Hooks: `safepoint` runs at every yield/switch point in the running
** goroutine (the heap's STW poll); `gstart`/`gend` run in a new goroutine
** before fn and after it ends (before its cleanups); `idle_begin` and
** `idle_end` bracket the scheduler sleeping because every goroutine waits
** on a timer (the heap counts the process as stopped meanwhile). Any may be
** NULL. */
typedef struct sched_hooks {
    void (*safepoint)(void *arg, sched_t *s);
    void (*gstart)(void *arg, sched_t *s);
    void (*gend)(void *arg, sched_t *s);
    void (*idle_begin)(void *arg, sched_t *s);
    void (*idle_end)(void *arg, sched_t *s);
    /* Called when a preemption is requested (sysmon, from its own thread,
    ** or sched_preempt_request), so that the caller's own fast paths can
    ** notice it and call sched_preempt_point(). Must be thread-safe; it
    ** must not call the scheduler. */
    void (*preempt)(void *arg);
    void *arg;
    /* Optional (NULL: none): a word that is non-zero whenever `safepoint` has
    ** something to do (the heap's stop-the-world request). When set, the
    ** switch points read it and call `safepoint` only then, instead of
    ** calling it every time. */
    const uint32_t *safepoint_word;
} sched_hooks_t;
void sched_set_hooks(sched_t *s, const sched_hooks_t *hooks);
/* Inside `idle_begin`: when the scheduler's sleep will end (CLOCK_MONOTONIC
** ns), i.e. when the next goroutine becomes runnable (Go's idle mark
** worker works until then). */
uint64_t sched_idle_until_ns(const sched_t *s);

/* Run fn(arg) on the scheduler's own stack (Go's systemstack): the thread's
** stack below the scheduler's suspended frame, megabytes deep, instead of
** the running goroutine's small one. For code that must not overflow a
** goroutine stack half way, e.g. the heap's slow paths while they hold a
** lock shared with other processes. Called from the scheduler's own
** context (no goroutine running), or already on that stack, fn runs right
** there. fn must not park, yield, spawn or otherwise switch goroutines;
** an overflow of the scheduler's stack is a crash, not a task failure. */
void sched_systemstack(sched_t *s, void (*fn)(void *arg), void *arg);

/* ---- Parking (for channels, mutexes, WaitGroups built on top) ------- */

typedef struct sched_waiter sched_waiter_t;   /* opaque handle of a parked goroutine */
/* Park the current goroutine until sched_ready(w) is called with the handle
** that was stored through *w_out before parking. `reason` is shown in
** deadlock reports ("chan receive"). */
void sched_park(sched_t *s, sched_waiter_t **w_out, const char *reason);
void sched_ready(sched_t *s, sched_waiter_t *w);

/* sched_park with flags.
** SCHED_PARK_STACK_ASIDE: the caller promises that nothing on its stack is
** read or written by anyone else while it is parked (its wait record lives
** elsewhere). The scheduler may then copy the live part of the stack aside
** and release the stack's pages; it copies the bytes back to the same
** addresses before the goroutine runs again, so pointers into the stack
** stay valid. Stacks are set aside in batches, not at every park: a
** goroutine readied soon after it parks costs nothing extra. */
#define SCHED_PARK_STACK_ASIDE 1u
void sched_park_flags(sched_t *s, sched_waiter_t **w_out, const char *reason,
                      unsigned flags);
/* Like sched_ready, but w runs next, ahead of the run queue (Go's
** runnext: a receiver handed a value runs as soon as the sender blocks or
** yields). A goroutine already there moves to the back of the queue. So
** that a pair handing off to each other cannot starve the queue forever,
** after SCHED_RUNNEXT_MAX such turns in a row the queue's head runs. */
#define SCHED_RUNNEXT_MAX 64u
void sched_ready_next(sched_t *s, sched_waiter_t *w);

/* True while sched_run() ends the goroutines of a failed or
** deadlocked task. Cleanups then run one at a time and never switch:
** sched_yield, sched_sleep_ns and sched_park return at once, and
** sched_ready ignores a goroutine that has already ended. Code that queues
** waiters (channels, runtime/sync.h) should wake nobody then: every waiter
** is being ended, and a wait node on its stack may be gone. */
bool sched_unwinding(const sched_t *s);

/* ---- Stacks as Go sizes them ---------------------------------------
**
** Every goroutine has, beside the C stack that really backs it, the stack
** Go 1.19 would have given it: 2 KiB at first (or the adaptive starting
** size), doubled (copied) whenever the goroutine's depth -- its C frames,
** byte for byte, as seen at its switch points -- comes within Go's
** _StackGuard (928 B) of the end, halved at a GC when it uses less than a
** quarter (depth + 800 B), never below 2 KiB. StackInuse
** (stats.stack_inuse_bytes) is the sum of these; the real bytes are
** stack_committed_bytes + stack_aside_bytes. What Go 1.19's GC goal
** counts is neither: it is lastStackScan, the bytes of stack its last
** cycle scanned -- each goroutine's depth, not its size (mgcpacer.go:
** goal = marked + (marked + lastStackScan + globals) * GOGC/100) -- here
** stats.stack_scan_bytes, summed by sched_stacks_gc(). The picture, with
** the cost charged per copy, is in sched_int.h. */

/* A GC cycle has run (call it once per cycle, from any context of the
** scheduler's thread): sum the depths of all goroutines (stack_scan_bytes),
** shrink the modelled stacks of those not running, as Go's scanstack does,
** and recompute the adaptive starting size from the depths seen. */
void sched_stacks_gc(sched_t *s);

typedef struct sched_gstack {
    uint64_t go_bytes;            /* Go's stack size for it now */
    uint64_t depth_bytes;         /* its depth now (the caller's frame) */
    uint64_t depth_hwm_bytes;     /* the deepest seen at its switch points */
} sched_gstack_t;
/* The calling goroutine's stack figures (zeros outside a goroutine). Also
** a sample: a depth beyond Go's size grows it here as at a switch point. */
void sched_self_stack(sched_t *s, sched_gstack_t *out);

/* ---- Stats (safe from other threads: plain atomic counters) -------- */

typedef struct sched_stats {
    uint64_t goroutines;          /* alive now */
    uint64_t spawned;             /* total */
    uint64_t switches;            /* context switches */
    uint64_t stack_inuse_bytes;   /* Go's StackInuse: modelled stacks of live goroutines */
    uint64_t stack_committed_bytes; /* real: committed stack pages of live goroutines */
    uint64_t stack_reserved_bytes;
    uint64_t stack_hwm_bytes;     /* real: deepest any goroutine went (pages) */
    uint64_t stacks_aside;        /* added: parked goroutines whose stack is set aside */
    uint64_t stack_aside_bytes;   /* added: the real bytes kept for them */
    uint64_t stack_start_bytes;   /* Go's starting stack size now */
    uint64_t stack_growths;       /* Go's copystack for a growth, total */
    uint64_t stack_shrinks;       /* ... for a shrink at a GC, total */
    uint64_t stack_copied_bytes;  /* bytes those copies moved, total */
    uint64_t stack_copy_ns;       /* what they cost, modelled (see sched_int.h) */
    uint64_t alive_at_exit;       /* goroutines the last run's main left alive */
    uint64_t stack_scan_bytes;    /* Go's lastStackScan: depths at the last GC */
    uint64_t preemptions;         /* goroutines preempted (sched_preempt_point), total */
} sched_stats_t;
void sched_stats_read(const sched_t *s, sched_stats_t *st);
/* stats.stack_scan_bytes alone (cheap: for every allocation's check). */
uint64_t sched_stack_scan_bytes(const sched_t *s);
/* stats.stack_inuse_bytes alone, as cheap: what Go 1.19's pacer calls
** maxStackScan (the stack space its goroutines hold; gctrace's MB stacks). */
uint64_t sched_stack_inuse_bytes(const sched_t *s);
/* The real stack bytes: committed in place plus set aside. */
static inline uint64_t sched_stack_real_bytes(const sched_stats_t *st)
{
    return st->stack_committed_bytes + st->stack_aside_bytes;
}

#endif
