/*
** plan/plan.c -- tasks, their ids and heap keys (see plan.h).
**
** tasks[i] mirrors scn->tasks[i]; tasks[i].heap indexes keys[], which holds
** nheaps keys "<token>-<n>", n = 0..nheaps-1, each the heap of at least one
** task, numbered in order of first use. Set ids ascend in task order.
*/
#include "plan/plan.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct plan {
    const scenario_t *scn;
    char *token;
    plan_task_t *tasks;          /* scn->ntasks */
    char (*keys)[PLAN_KEY_MAX];  /* nheaps */
    size_t nheaps;
};

/* Do tasks a and b of scenario scn run on one heap? The one place that
** decides: never by default (a fresh heap per task); with `heap: shared`,
** when their runtime settings are equal. */
static bool same_heap(const scenario_t *scn, const scn_task_t *a, const scn_task_t *b)
{
    return scn->shared_heap && a->runtime.gogc == b->runtime.gogc &&
           a->runtime.memory_limit_bytes == b->runtime.memory_limit_bytes &&
           a->runtime.heap_max_bytes == b->runtime.heap_max_bytes &&
           a->runtime.stack_reserve_bytes == b->runtime.stack_reserve_bytes &&
           a->runtime.collector == b->runtime.collector;
}

int plan_new(const scenario_t *scn, const char *token, plan_t **plan_p)
{
    plan_t *p;
    size_t n = scn->ntasks;
    char probe[PLAN_KEY_MAX];

    *plan_p = NULL;
    /* The longest key has the largest heap number, at most n - 1. */
    if (!token || !*token || strchr(token, '/') ||
        snprintf(probe, sizeof probe, "%s-%zu", token, n ? n - 1 : 0) >=
            (int)sizeof probe)
        return -EINVAL;
    p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->scn = scn;
    p->token = strdup(token);
    p->tasks = calloc(n ? n : 1, sizeof *p->tasks);
    p->keys = calloc(n ? n : 1, sizeof *p->keys);
    if (!p->token || !p->tasks || !p->keys)
        goto out_free;
    for (size_t i = 0; i < n; i++) {
        plan_task_t *t = &p->tasks[i];
        t->scn = &scn->tasks[i];
        t->heap = p->nheaps;
        for (size_t j = 0; j < i; j++)
            if (same_heap(scn, t->scn, p->tasks[j].scn)) {
                t->heap = p->tasks[j].heap;
                break;
            }
        if (t->heap == p->nheaps) {
            snprintf(p->keys[p->nheaps], PLAN_KEY_MAX, "%s-%zu", token, p->nheaps);
            p->nheaps++;
        }
    }
    *plan_p = p;
    return 0;

out_free:
    plan_destroy(&p);
    return -ENOMEM;
}

void plan_destroy(plan_t **plan_p)
{
    plan_t *p = plan_p ? *plan_p : NULL;
    if (!p)
        return;
    free(p->token);
    free(p->tasks);
    free(p->keys);
    free(p);
    *plan_p = NULL;
}

const char *plan_strerror(int rc)
{
    switch (rc) {
    case 0: return "no error";
    case -EINVAL: return "invalid run token or task id";
    case -ENOMEM: return "out of memory";
    }
    return "unknown plan error";
}

const scenario_t *plan_scenario(const plan_t *plan)
{
    return plan->scn;
}

const char *plan_token(const plan_t *plan)
{
    return plan->token;
}

size_t plan_ntasks(const plan_t *plan)
{
    return plan->scn->ntasks;
}

const plan_task_t *plan_task(const plan_t *plan, size_t i)
{
    assert(i < plan->scn->ntasks);
    return &plan->tasks[i];
}

int plan_set_task_id(plan_t *plan, size_t i, int64_t id)
{
    assert(i < plan->scn->ntasks);
    if (id <= 0)
        return -EINVAL;
    for (size_t j = i; j-- > 0;)
        if (plan->tasks[j].id) {
            if (plan->tasks[j].id >= id)
                return -EINVAL;
            break;
        }
    for (size_t j = i + 1; j < plan->scn->ntasks; j++)
        if (plan->tasks[j].id) {
            if (plan->tasks[j].id <= id)
                return -EINVAL;
            break;
        }
    plan->tasks[i].id = id;
    return 0;
}

int plan_ids_complete(const plan_t *plan)
{
    for (size_t i = 0; i < plan->scn->ntasks; i++)
        if (!plan->tasks[i].id)
            return 0;
    return 1;
}

long plan_find_task(const plan_t *plan, int64_t id)
{
    /* Ids ascend where set; unset ones (0) are skipped by a linear step. */
    size_t lo = 0, hi = plan->scn->ntasks;
    if (id <= 0)
        return -1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, m = mid;
        while (m < hi && !plan->tasks[m].id)
            m++;
        if (m == hi) {
            hi = mid;
            continue;
        }
        if (plan->tasks[m].id == id)
            return (long)m;
        if (plan->tasks[m].id < id)
            lo = m + 1;
        else
            hi = mid;
    }
    return -1;
}

size_t plan_nheaps(const plan_t *plan)
{
    return plan->nheaps;
}

const char *plan_heap_key(const plan_t *plan, size_t heap)
{
    assert(heap < plan->nheaps);
    return plan->keys[heap];
}

const char *plan_task_heap_key(const plan_t *plan, size_t i)
{
    return plan_heap_key(plan, plan_task(plan, i)->heap);
}
