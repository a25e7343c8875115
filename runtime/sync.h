/*
** runtime/sync.h -- sync.WaitGroup, sync.Mutex and sync.Once for the
** goroutines of one scheduler, built on sched_park()/sched_ready().
**
** Plain structs, not opaque, so they can be embedded in what they guard;
** their fields belong to sync.c. All-zero (or SYNC_*_INIT, or sync_*_init)
** is the ready state, like Go's zero values. No call allocates or fails:
** a waiter is queued through a node on its own stack while it is parked.
**
** Misuse fails the task with Go's message through sched_fail():
** "sync: unlock of unlocked mutex", "sync: negative WaitGroup counter".
** Blocking shows in deadlock reports as [sync.Mutex.Lock],
** [sync.WaitGroup.Wait] or [sync.Once.Do].
**
** Unwinding: while sched_unwinding(), cleanups run one at a time, so lock
** succeeds at once, and unlock/done/Do wake nobody (every waiter is being
** ended). An object used by a task that failed is left as the task left
** it: initialize it again before another task uses it.
*/
#ifndef HEAPSIM_RUNTIME_SYNC_H
#define HEAPSIM_RUNTIME_SYNC_H

#include "sched/sched.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sync__waiter sync__waiter_t;   /* a parked goroutine's queue node */

typedef struct sync_mutex {
    bool locked;
    sync__waiter_t *head, *tail;   /* FIFO: unlock hands the mutex to head */
} sync_mutex_t;

typedef struct sync_wg {
    int64_t count;
    sync__waiter_t *waiters;
} sync_wg_t;

typedef struct sync_once {
    int state;                     /* 0 not run, 1 running, 2 done */
    sync__waiter_t *waiters;
} sync_once_t;

#define SYNC_MUTEX_INIT { false, NULL, NULL }
#define SYNC_WG_INIT { 0, NULL }
#define SYNC_ONCE_INIT { 0, NULL }

void sync_mutex_init(sync_mutex_t *m);
/* Take m, parking until it is handed over (first come, first served). */
void sync_mutex_lock(sched_t *s, sync_mutex_t *m);
/* Take m if free; never parks. */
bool sync_mutex_trylock(sync_mutex_t *m);
/* Release m, or hand it straight to the longest waiter. Any goroutine may
** unlock; unlocking a free mutex fails the task. */
void sync_mutex_unlock(sched_t *s, sync_mutex_t *m);

void sync_wg_init(sync_wg_t *wg);
/* count += delta; at zero every waiter is readied; below zero the task
** fails. */
void sync_wg_add(sched_t *s, sync_wg_t *wg, int64_t delta);
void sync_wg_done(sched_t *s, sync_wg_t *wg);
/* Park until the count is zero (return at once if it is). */
void sync_wg_wait(sched_t *s, sync_wg_t *wg);

void sync_once_init(sync_once_t *o);
/* Run fn(arg) if no call on o has; a caller that finds it running parks
** until it is done. If fn ends its goroutine (sched_exit, failure), o
** stays "running": later callers wait forever (and a deadlock report says
** [sync.Once.Do]). */
void sync_once_do(sched_t *s, sync_once_t *o, void (*fn)(void *arg), void *arg);

#endif
