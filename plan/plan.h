/*
** plan/plan.h -- a run's plan: the scenario's tasks, the ids storage gave
** them, and the heap each one runs on.
**
** The one step between a loaded scenario and a run. The launcher makes the
** plan, stores its tasks and sets their ids, and after the run removes its
** heaps on this host; the coordinator hands out the tasks with their heap
** keys. Nothing else works out task ids or heap keys.
**
**     scenario tasks   0      1      2      3        (token "ab12")
**     runtime          gogc50 gogc50 gogc99 gogc50
**     heap (default)   0      1      2      3        a fresh heap per task
**     heap (shared)    0      0      1      0        `heap: shared`
**     heap keys        "ab12-0", "ab12-1", ...   (dense, in order of first use)
**
** A heap key names one heap per host: each host turns it into a
** shared-memory segment name with heap_segment_name(), which depends on that
** host's HEAPSIM_SHM_PREFIX, so the plan holds keys, not segment names.
**
** The plan is a function of (scenario, token): rebuilding it from the same
** two gives the same keys. Which tasks share a heap is decided in one place,
** same_heap() in plan.c: none by default, as each Go program starts with
** an empty heap; with the scenario's `heap: shared`, those with equal
** runtime settings. Task ids are
** storage's, 0 until set; they ascend in task order.
*/
#ifndef HEAPSIM_PLAN_PLAN_H
#define HEAPSIM_PLAN_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "scenario/scenario.h"

#define PLAN_KEY_MAX 128         /* a heap key and its NUL fit in this */

typedef struct plan plan_t;

typedef struct plan_task {
    const scn_task_t *scn;       /* borrowed from the plan's scenario */
    int64_t id;                  /* storage's task id; 0 until set */
    size_t heap;                 /* index into the plan's heap keys */
} plan_task_t;

/* Plan the tasks of `scn` for the run with `token` (1 or more characters,
** no '/', short enough that every key fits in PLAN_KEY_MAX). The plan
** borrows scn, which must outlive it, and copies token. Returns 0 with
** *plan_p set, -EINVAL for a bad token or -ENOMEM; on failure *plan_p is
** NULL. */
int plan_new(const scenario_t *scn, const char *token, plan_t **plan_p);
/* Accepts NULL and *plan_p == NULL; sets *plan_p to NULL. */
void plan_destroy(plan_t **plan_p);

/* What a plan_* error code means, for a message. */
const char *plan_strerror(int rc);

const scenario_t *plan_scenario(const plan_t *plan);
const char *plan_token(const plan_t *plan);

/* The tasks, in scenario order: index i is scn->tasks[i]. */
size_t plan_ntasks(const plan_t *plan);
const plan_task_t *plan_task(const plan_t *plan, size_t i);   /* i < ntasks */

/* Record the id storage gave task i. Ids are positive and ascend in task
** order: an id not above the task before's (nor below the one after's,
** where those are set) is refused with -EINVAL, the plan unchanged. */
int plan_set_task_id(plan_t *plan, size_t i, int64_t id);
/* 1 when every task has an id, else 0. */
int plan_ids_complete(const plan_t *plan);
/* The index of the task with `id`, or -1 when no task has it. */
long plan_find_task(const plan_t *plan, int64_t id);

/* The distinct heap keys, dense: every one is some task's heap. */
size_t plan_nheaps(const plan_t *plan);
const char *plan_heap_key(const plan_t *plan, size_t heap);   /* heap < nheaps */
/* The key of task i's heap. */
const char *plan_task_heap_key(const plan_t *plan, size_t i);

#endif
