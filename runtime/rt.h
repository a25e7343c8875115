/*
** runtime/rt.h -- what a task's code sees: the goroutine scheduler joined to
** the shared heap.
**
** Each goroutine gets a root stack in the heap on its first rt_push(), so a
** collection started by any process on the host finds the references it
** holds. The scheduler's safepoints poll the heap's stop-the-world request;
** while the scheduler sleeps on timers the process counts as outside the
** heap. A failed allocation fails the task ("out of memory ...").
**
** One rt_t per task; the scheduler and the heap outlive it. Channels and
** select (runtime/chan.h) and sync.Pool (runtime/pool.h) are part of this
** runtime; their state hangs off the rt_t (picture in runtime/rt_int.h).
*/
#ifndef HEAPSIM_RUNTIME_RT_H
#define HEAPSIM_RUNTIME_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "shm_heap/heap.h"
#include "sched/sched.h"

typedef struct rt rt_t;

typedef struct rt_metric {
    char name[64];
    char unit[16];
    double value;
} rt_metric_t;

/* Join sched and heap for one task whose random choices start from `seed`.
** Installs the scheduler hooks and the heap's GC hook (the caller's own GC
** hook goes through rt_set_gc_hook while the rt_t lives). NULL on -ENOMEM.
**
** Stacks: this process reports to the heap (heap_set_stack_bytes) the two
** stack figures of Go 1.19's pacer: what its GC goal counts, the stack its
** last cycle scanned (lastStackScan; sched.h: stack_scan_bytes), and the
** stack space in use (maxStackScan, gctrace's MB stacks: StackInuse, the
** Go-sized stacks, the scheduler's stack_inuse_bytes), both updated before
** this process can collect and at every stop of the world. The stacks are
** scanned once per cycle by the scheduler's sched_stacks_gc() (depths
** summed, stacks shrunk): under the concurrent collector at this process's
** root scan in the mark (heap_set_stack_scan), so that the goal's stack
** term is the depths that cycle saw, as Go's scanstack reports them;
** otherwise after the cycle, in the collecting process (from the GC hook)
** and in the others (at their stop). */
rt_t *rt_new(sched_t *s, heap_t *h, uint64_t seed);
/* Destroys any root stacks still held, removes the hooks (the heap's GC
** hook goes back to the one given to rt_set_gc_hook, or none). */
void rt_destroy(rt_t **rt_p);
/* The heap's GC hook the caller wants called too, after rt's own work. */
void rt_set_gc_hook(rt_t *rt, heap_gc_hook_fn fn, void *arg);

sched_t *rt_sched(rt_t *rt);
heap_t *rt_heap(rt_t *rt);
uint64_t rt_seed(rt_t *rt);

/* After sched_run() returned 0: record the runtime's own figures of the
** task as metrics, each only when not zero -- Go's stack copies since
** rt_new (go_stack_growths, go_stack_shrinks, go_stack_copied_bytes,
** go_stack_copy_ns: sched.h), and the goroutines the main goroutine
** (SCHED_SPAWN_MAIN) left alive (goroutines_alive_at_exit, with
** sched_exit_report()'s line in the output), and how many times sysmon
** preempted a goroutine (goroutine_preemptions). */
void rt_note_end(rt_t *rt);

/* Spawn a goroutine running fn(rt, arg); fails the task when it cannot.
** A safepoint (so a spawn loop cannot hold off a stop-the-world). */
typedef void (*rt_fn_t)(rt_t *rt, void *arg);
int64_t rt_go(rt_t *rt, rt_fn_t fn, void *arg);
/* rt_go for a goroutine whose function is labelled `label` (a string
** literal, like "leak.watcher"): retention reports and goroutine-leak
** groups name its root frames by it. rt_go() is rt_go_at() with NULL. */
int64_t rt_go_at(rt_t *rt, rt_fn_t fn, void *arg, const char *label);
/* The task's main goroutine is labelled "<label>.main" (label: the
** kernel's name), copied. */
void rt_set_main_label(rt_t *rt, const char *label);

/* ---- Why is it still alive (#14) -------------------------------------
** For a heap snapshot (shm_heap/heap_snapshot.h) taken by this process:
** what each root container of this task is. `group` says what it is, the
** same for goroutines alike ("goroutine leak.watcher [chan receive]"),
** `instance` which one ("goroutine 4711 leak.watcher [chan receive, 12 GC
** cycles]"). Goroutines are named by their label (rt_go_at; the main
** goroutine's: rt_set_main_label; else no label) and what they wait
** on (sched_foreach's reason). The strings are valid during the call. */
typedef void (*rt_root_fn)(void *arg, heap_ref_t container, const char *group,
                           const char *instance);
void rt_roots_describe(rt_t *rt, rt_root_fn fn, void *arg);

/* Goroutine leaks, as Go 1.26's goroutine-leak profile groups them: the
** goroutines parked for at least min_cycles GC cycles, grouped by where
** they block (label and wait reason), largest group first, into a
** malloc'd array (*out, *nout; the caller frees). 0 or -ENOMEM. */
typedef struct rt_gleak {
    char where[96];              /* the goroutine's label, "(no label)" when none */
    char reason[64];             /* its wait reason */
    uint64_t count;
    uint64_t min_cycles, max_cycles;   /* GC cycles blocked, over the group */
} rt_gleak_t;
int rt_goroutine_leaks(rt_t *rt, uint64_t min_cycles, rt_gleak_t **out, size_t *nout);

/* Call fn at the first rt_alloc/rt_alloc_at/rt_push/rt_pop/rt_safepoint
** after a GC cycle this task sees when `every_cycles` have passed since
** the last call, the interval doubling with the cycles seen (calls after
** cycles 4, 8, 16, 32, ... for 4: a task of n cycles takes about log2(n),
** costing about twice the last), and after every collection this process
** forces (heap_collect(), Go's runtime.GC(), as before a heap profile);
** every_cycles 0: only after forced collections.
** fn runs on the calling goroutine before the call does anything, with
** everything rooted (a frame about to be popped still is): it may take a
** heap snapshot; it must not call rt. NULL fn: off. */
typedef void (*rt_snapshot_fn)(void *arg, rt_t *rt);
void rt_set_snapshot_hook(rt_t *rt, rt_snapshot_fn fn, void *arg, uint64_t every_cycles);

/* Allocate; on failure the task fails with "out of memory: ..." and this
** does not return. A safepoint, and a preemption point: when the
** scheduler's sysmon has asked (sched_set_preempt), the goroutine yields
** here first, as rt_safepoint, rt_go, chan_recv and chan_close do
** (runtime/rt_int.h). */
heap_ref_t rt_alloc(rt_t *rt, uint32_t nptrs, size_t scalar_bytes);
/* The same, for the allocation site `site` of the heap profile: a string
** literal naming the call, like "leak.payload" (heap_alloc_at). */
heap_ref_t rt_alloc_at(rt_t *rt, uint32_t nptrs, size_t scalar_bytes, const char *site);

/* Poll for a stop-the-world request: a collection started by any process
** attached to the heap may run here. A safepoint; for loops that neither
** allocate, block nor yield. */
void rt_safepoint(rt_t *rt);

/* Interrupt the task rt runs, from outside it (another thread, a signal
** handler: async-signal-safe): at the running goroutine's next safepoint
** -- a switch point (yield, sleep, park: channels, sync), an allocation
** that polls, rt_safepoint(), rt_go() -- the task ends and sched_run()
** returns SCHED_EINTERRUPTED once the goroutines are unwound: their
** cleanups run, their stacks and root stacks go back, the heap stays as
** consistent as after any task (nothing of it is held at a safepoint).
** The polls cost nothing more until then (sched_interrupt(),
** heap_interrupt()). An interrupt made while no task runs ends the next
** task of this rt at its first safepoint; rt_destroy drops one not
** delivered. */
void rt_interrupt(rt_t *rt);

/* The current goroutine's root frame: push n nil slots, pop them. Slots
** stay at the same address until popped. Overflow fails the task. */
heap_ref_t *rt_push(rt_t *rt, uint32_t n);
void rt_pop(rt_t *rt, uint32_t n);

/* The kernel's output text (compared against reference outputs). */
void rt_printf(rt_t *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *rt_output(const rt_t *rt);

/* A kernel's own figure: name (e.g. "ns_per_alloc"), value, unit. */
void rt_metric(rt_t *rt, const char *name, double value, const char *unit);
const rt_metric_t *rt_metrics(const rt_t *rt, size_t *count);

_Noreturn void rt_fail(rt_t *rt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Monotonic clock in ns. */
uint64_t rt_now_ns(void);

#endif
