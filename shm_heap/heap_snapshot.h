/*
** shm_heap/heap_snapshot.h -- a read-only walk of the heap's object graph
** with the world stopped: every root of every attached process and every
** object reachable from them, with its references, handed to callbacks.
** The graph behind "why is this still alive" (profile/retain.h computes
** dominators and paths from it; this module knows nothing of that).
**
** The walk owns the world as heap_verify() does (heap_int.h, STOP THE
** WORLD), takes every lock, and neither writes the segment nor reads or
** writes a mark bit: the collector owns those. Visited objects are kept
** in a private bitmap of the walker (1 bit per 8-byte word up to the heap's
** high-water page).
*/
#ifndef HEAPSIM_SHM_HEAP_HEAP_SNAPSHOT_H
#define HEAPSIM_SHM_HEAP_HEAP_SNAPSHOT_H

#include <stdint.h>
#include <sys/types.h>

#include "shm_heap/heap.h"

/* What holds a root's slots. */
enum {
    HEAP_SNAP_ROOT_STACK = 1,   /* a root stack (heap_roots_new): goroutine frames */
    HEAP_SNAP_ROOT_GLOBALS = 2, /* a process's globals (heap_globals) */
    HEAP_SNAP_ROOT_POOL = 3,    /* a pool area (heap_pool_new), both halves */
};

/* One root container and the objects its slots name (nil slots and slots
** that name no allocated object left out). `container` is the root
** stack's / globals' / pool area's own ref: the same process can match it
** with heap_roots_ref() / heap_pool_ref() to say whose it is. */
typedef struct heap_snap_root {
    uint32_t kind;               /* HEAP_SNAP_ROOT_* */
    uint32_t proc_index;         /* the attachment's entry */
    pid_t pid;                   /* its process */
    heap_ref_t container;
    const heap_ref_t *refs;      /* valid during the callback only; may be NULL */
    uint32_t nrefs;              /* when nrefs is 0 */
} heap_snap_root_t;

/* One reachable object, reported once. */
typedef struct heap_snap_object {
    heap_ref_t ref;
    uint64_t bytes;              /* its slot (size class) or its pages */
    uint32_t size_class;         /* Go's size class, 0 for a large object */
    uint32_t nptrs;              /* its reference slots */
    const char *site;            /* a sampled object's allocation site, else NULL;
                                 ** valid during the callback only */
    const heap_ref_t *refs;      /* the objects its slots name, as for roots */
    uint32_t nrefs;
} heap_snap_object_t;

/* Callbacks run in the walking process with the world stopped and every
** lock held: they must not touch the heap (no allocation, no safepoint).
** A non-zero return stops the walk and is returned by heap_snapshot().
** Every root is reported before any object. */
typedef struct heap_snap_ops {
    int (*root)(void *arg, const heap_snap_root_t *root);
    int (*object)(void *arg, const heap_snap_object_t *obj);
    void *arg;
} heap_snap_ops_t;

typedef struct heap_snap_stats {
    uint64_t roots;              /* root containers reported */
    uint64_t objects;            /* reachable objects reported */
    uint64_t bytes;              /* their bytes */
    uint64_t edges;              /* references reported (roots' included) */
    uint64_t pause_ns;           /* how long the world was stopped */
} heap_snap_stats_t;

/* Walk: stop the world, report the roots of every live attachment, then
** every object reachable from them (depth first), restart the world.
** Callable by any attached process, inside the heap or outside it.
** Returns 0, -ENOMEM (the world is restarted; callbacks may have run), or
** a callback's non-zero code. *st (may be NULL) is filled either way. */
int heap_snapshot(heap_t *h, const heap_snap_ops_t *ops, heap_snap_stats_t *st);

/* The ref of a root stack / a pool area of this process, as reported in
** heap_snap_root_t.container. */
heap_ref_t heap_roots_ref(const heap_roots_t *r);
heap_ref_t heap_pool_ref(const heap_pool_t *p);

#endif
