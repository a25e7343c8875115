/*
** coordinator/coord_live.c -- a worker's live figures from its telemetry.
*/
#include "coordinator/coord_live.h"

#include <stdio.h>
#include <string.h>

void coord_live_join(metrics_worker_t *w, const char *name, const char *host)
{
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    snprintf(w->host, sizeof w->host, "%s", host);
    w->task_seq = -1;
}

/* A new task: its heap is new, so are its figures. */
static void begin_task(metrics_worker_t *w, int64_t task_seq)
{
    if (w->task_seq == task_seq)
        return;
    char name[sizeof w->name], host[sizeof w->host];
    memcpy(name, w->name, sizeof name);
    memcpy(host, w->host, sizeof host);
    coord_live_join(w, name, host);
    w->task_seq = task_seq;
}

void coord_live_sample(metrics_worker_t *w, int64_t task_seq, const proto_sample_t *s)
{
    begin_task(w, task_seq);
    w->has_sample = true;
    w->t_ns = s->t_ns;
    w->heap_alloc_bytes = s->heap_alloc_bytes;
    w->heap_inuse_bytes = s->heap_inuse_bytes;
    w->heap_sys_bytes = s->heap_sys_bytes;
    w->heap_live_bytes = s->heap_live_bytes;
    w->heap_goal_bytes = s->heap_goal_bytes;
    w->alloc_objects = s->alloc_objects;
    w->alloc_bytes = s->alloc_bytes;
    w->goroutines = s->goroutines;
    w->stack_inuse_bytes = s->stack_inuse_bytes;
    w->rss_bytes = s->rss_bytes;
    w->cpu_user_ns = s->cpu_user_ns;
    w->cpu_sys_ns = s->cpu_sys_ns;
}

void coord_live_gc(metrics_worker_t *w, int64_t task_seq, const gc_fields_t *f)
{
    begin_task(w, task_seq);
    int64_t pause = f->stw_ns > 0 ? f->stw_ns : 0;
    w->gc_cycles++;
    if (f->forced)
        w->gc_forced++;
    w->pause_total_ns += pause;
    if (pause > w->pause_max_ns)
        w->pause_max_ns = pause;
    for (int b = 0; b < METRICS_PAUSE_BUCKETS; b++)
        if ((double)pause <= metrics_pause_bounds_s[b] * 1e9)
            w->pause_le[b]++;
}
