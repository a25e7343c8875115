/*
** worker/retention.h -- private to the worker: "why is it still alive"
** for the running task. A heap snapshot (shm_heap/heap_snapshot.h) with
** the task's roots named by the runtime (rt_roots_describe), analysed by
** profile/retain.h, kept as a 'retention' message (proto.h) to send with
** the task's result: the latest one taken while the task ran, and the one
** taken when its main goroutine returned.
*/
#ifndef HEAPSIM_WORKER_RETENTION_H
#define HEAPSIM_WORKER_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/proto.h"
#include "runtime/rt.h"

/* Snapshots while the task runs: after each collection the task forces
** (runtime.GC(): what the kernels do before they measure, what a Go user
** does before a heap profile), and when its main goroutine returns.
** Periodic ones (rt_set_snapshot_hook: every N cycles, the interval
** doubling) are off: a walk stops the world about 0.2-1 us per reachable
** object, so a snapshot every few cycles of binary-trees
** 18 (300k+ objects live) would cost far more than the 5 % profiling may. */
#define RETENTION_EVERY_CYCLES 0
/* Goroutines blocked at least this many GC cycles count as leaked. */
#define RETENTION_GLEAK_MIN_CYCLES 2

typedef struct retention {
    const char *worker;          /* borrowed */
    int64_t task_id;
    proto_msg_t running;         /* PROTO_RETENTION once taken, else PROTO_SAMPLE */
    proto_msg_t final;
    uint64_t taken;              /* snapshots taken */
    uint64_t pause_max_ns;       /* the longest stop of the world among them */
} retention_t;

/* Start for a task (nothing to free yet). */
void retention_init(retention_t *r, const char *worker, int64_t task_id);
/* Take a snapshot now, from a goroutine of rt's task inside the heap,
** everything it holds rooted, and keep its analysis (final: the task's
** main goroutine has returned). The walk stops the world; a final one's
** analysis runs with this process outside the heap (heap_leave), so that
** no other process's stop waits for it. A failure (no memory) keeps the
** earlier one. */
void retention_take(retention_t *r, rt_t *rt, bool final);
/* rt_set_snapshot_hook's callback: retention_take(arg, rt, false). */
void retention_hook(void *arg, rt_t *rt);
void retention_free(retention_t *r);

#endif
