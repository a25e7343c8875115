/*
** shm_heap/heap_model.h -- a random object-graph mutator with a private
** model of what is reachable, for the property and kill tests.
**
** Each model owns one root stack and the process's globals. Every step
** makes one random mutation (allocate and link, relink a slot, change a
** root, push or pop root slots), sometimes collects, verifies or leaves
** and re-enters the heap. model_check() walks the model from its roots and
** checks every reachable object in the heap: size, slots (the refs of the
** model's children) and scalars (the node id, a checksum, a fill pattern).
*/
#ifndef HEAPSIM_SHM_HEAP_HEAP_MODEL_H
#define HEAPSIM_SHM_HEAP_HEAP_MODEL_H

#include "shm_heap/heap.h"

#include <stddef.h>
#include <stdint.h>

typedef struct model model_t;

typedef struct model_config {
    uint32_t root_capacity;   /* root stack slots */
    uint32_t nglobals;
    uint32_t collect_ppm;     /* per million steps: heap_collect() */
    uint32_t verify_ppm;      /* heap_verify() */
    uint32_t leave_ppm;       /* heap_leave(), a short sleep, heap_enter() */
    uint32_t large_ppm;       /* allocations that are large objects */
    uint32_t check_every;     /* model_check() every N steps, 0 = never */
} model_config_t;

void model_config_default(model_config_t *cfg);

/* The process must be attached and entered. */
model_t *model_new(heap_t *h, const model_config_t *cfg, uint64_t seed);
void model_destroy(model_t **model_p);

/* One random step; fails the test (CHECK) on a broken invariant. */
void model_step(model_t *m);

/* Check every reachable object; 0, or -1 with a reason in why. Also
** computes what is reachable: *bytes as the heap accounts it (slot or page
** footprint), *objects (either may be NULL). */
int model_check(model_t *m, uint64_t *bytes, uint64_t *objects, char *why, size_t whysize);

#endif
