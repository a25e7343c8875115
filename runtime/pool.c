/*
** runtime/pool.c -- sync.Pool on shm_heap's pool areas (see pool.h).
**
** A pool_t is process-local: the area (heap_pool_t, in the segment) and
** its links on rt->pools, so rt_destroy() can free the pools a failed task
** left. The area starts with POOL_FIRST_CAPACITY slots per half and is
** doubled (heap_pool_resize) as soon as a put fills the primary half, i.e.
** while the object just put is already rooted by the area: a put never
** holds an unrooted object across the allocation.
*/
#include "runtime/pool.h"

#include "runtime/rt_int.h"

#include <stdlib.h>

#define POOL_FIRST_CAPACITY 64u

struct pool {
    heap_pool_t *area;
    struct pool *prev, *next;   /* on rt->pools */
};

pool_t *pool_new(rt_t *rt)
{
    rt_safepoint(rt);
    pool_t *p = calloc(1, sizeof *p);
    if (!p)
        rt_fail(rt, "out of memory: a pool");
    p->area = heap_pool_new(rt->heap, POOL_FIRST_CAPACITY);
    if (!p->area) {
        free(p);
        rt_fail(rt, "out of memory: a pool area (%s)",
                heap_strerror(heap_last_error(rt->heap)));
    }
    p->next = rt->pools;
    if (rt->pools)
        rt->pools->prev = p;
    rt->pools = p;
    return p;
}

void pool_destroy(rt_t *rt, pool_t **pool_p)
{
    pool_t *p = pool_p ? *pool_p : NULL;
    if (!p)
        return;
    *pool_p = NULL;
    if (p->prev)
        p->prev->next = p->next;
    else
        rt->pools = p->next;
    if (p->next)
        p->next->prev = p->prev;
    heap_pool_destroy(rt->heap, &p->area);
    free(p);
}

void pool__destroy_all(rt_t *rt)
{
    while (rt->pools) {
        pool_t *p = rt->pools;
        pool_destroy(rt, &p);
    }
}

heap_ref_t pool_get(rt_t *rt, pool_t *p)
{
    rt_safepoint(rt);
    return heap_pool_get(p->area);
}

void pool_put(rt_t *rt, pool_t *p, heap_ref_t obj)
{
    if (obj && heap_pool_put(p->area, obj)) {
        uint32_t primary, cap = heap_pool_capacity(p->area);
        heap_pool_counts(p->area, &primary, NULL);
        if (primary == cap && cap <= HEAP_POOL_MAX_CAPACITY / 2)
            (void)heap_pool_resize(rt->heap, &p->area, 2 * cap);   /* full: obj stays */
    }
    rt_safepoint(rt);
}
