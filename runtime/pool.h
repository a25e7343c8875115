/*
** runtime/pool.h -- sync.Pool for a task's goroutines: a cache of objects
** to reuse, emptied by the collector.
**
** The cache is per worker process (a task runs in one), held in a pool
** area of the shared heap (shm_heap's heap_pool_t), so any process that
** collects sees it. Go's victim rule: at every collection, by any
** process, what was put since the previous one moves to the victim half
** and what was in the victim is dropped. An object put and never taken
** back survives one collection and is garbage after the second. Unlike
** Go, there is no New function: pool_get() returns 0 when empty and the
** caller allocates.
**
** Every call is a safepoint. The object given to pool_put() need not be
** rooted (it is stored before the safepoint); the one pool_get() returns
** is not rooted: root it before the next safepoint, as rt_alloc's result.
*/
#ifndef HEAPSIM_RUNTIME_POOL_H
#define HEAPSIM_RUNTIME_POOL_H

#include "shm_heap/heap.h"
#include "runtime/rt.h"

typedef struct pool pool_t;

/* A new, empty pool for this task. Fails the task when the heap or memory
** is exhausted. Owned by the caller; rt_destroy() frees any left. */
pool_t *pool_new(rt_t *rt);
/* Drop the pool and what it holds. Accepts NULL / *pool_p == NULL. */
void pool_destroy(rt_t *rt, pool_t **pool_p);

/* An object from the pool (the most recently put first), or 0. */
heap_ref_t pool_get(rt_t *rt, pool_t *p);
/* Offer obj for reuse (0 is ignored). The pool grows as needed; if it
** cannot, the object is simply dropped (it is only a cache). */
void pool_put(rt_t *rt, pool_t *p, heap_ref_t obj);

#endif
