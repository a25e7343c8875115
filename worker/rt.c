/*
** worker/rt.c -- the scheduler joined to the shared heap for one task.
**
** Goroutine locals: sched_local() holds the goroutine's rt_g_t (its root
** stack, created lazily). rt_g_t records are process-local and recycled
** through a free list; every live one is on rt->live so that rt_destroy()
** can release root stacks of goroutines that never reached their end hook
** (a failed task unwinds them).
*/
#include "worker/rt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RT_ROOTS_CAPACITY 4096

typedef struct rt_g {
    heap_roots_t *roots;
    struct rt_g *prev, *next;   /* on rt->live, or next on rt->free */
} rt_g_t;

struct rt {
    sched_t *sched;
    heap_t *heap;
    const kparams_t *params;
    uint64_t seed;
    rt_g_t live;                /* list head */
    rt_g_t *free;
    char *out;
    size_t out_len, out_cap;
    rt_metric_t *metrics;
    size_t nmetrics;
};

typedef struct rt_start {
    rt_t *rt;
    rt_fn_t fn;
    void *arg;
} rt_start_t;

uint64_t rt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static rt_g_t *g_get(rt_t *rt)
{
    rt_g_t *g = rt->free;
    if (g)
        rt->free = g->next;
    else if (!(g = malloc(sizeof *g)))
        return NULL;
    g->roots = NULL;
    g->next = rt->live.next;
    g->prev = &rt->live;
    rt->live.next->prev = g;
    rt->live.next = g;
    return g;
}

static void g_put(rt_t *rt, rt_g_t *g)
{
    if (g->roots)
        heap_roots_destroy(rt->heap, &g->roots);
    g->prev->next = g->next;
    g->next->prev = g->prev;
    g->next = rt->free;
    rt->free = g;
}

static void hook_safepoint(void *arg, sched_t *s)
{
    rt_t *rt = arg;
    (void)s;
    heap_safepoint(rt->heap);
}

static void hook_gstart(void *arg, sched_t *s)
{
    rt_t *rt = arg;
    rt_g_t *g = g_get(rt);
    if (!g)
        sched_fail(s, "out of memory: goroutine bookkeeping");
    sched_set_local(s, g);
}

static void hook_gend(void *arg, sched_t *s)
{
    rt_t *rt = arg;
    rt_g_t *g = sched_local(s);
    if (g) {
        sched_set_local(s, NULL);
        g_put(rt, g);
    }
}

static void hook_idle_begin(void *arg, sched_t *s)
{
    rt_t *rt = arg;
    (void)s;
    heap_leave(rt->heap);
}

static void hook_idle_end(void *arg, sched_t *s)
{
    rt_t *rt = arg;
    (void)s;
    heap_enter(rt->heap);
}

rt_t *rt_new(sched_t *s, heap_t *h, const kparams_t *params, uint64_t seed)
{
    rt_t *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->sched = s;
    rt->heap = h;
    rt->params = params;
    rt->seed = seed;
    rt->live.next = rt->live.prev = &rt->live;
    sched_hooks_t hooks = {
        .safepoint = hook_safepoint,
        .gstart = hook_gstart,
        .gend = hook_gend,
        .idle_begin = hook_idle_begin,
        .idle_end = hook_idle_end,
        .arg = rt,
    };
    sched_set_hooks(s, &hooks);
    return rt;
}

void rt_destroy(rt_t **rt_p)
{
    rt_t *rt = rt_p ? *rt_p : NULL;
    if (!rt)
        return;
    sched_hooks_t none = {0};
    sched_set_hooks(rt->sched, &none);
    while (rt->live.next != &rt->live)
        g_put(rt, rt->live.next);
    while (rt->free) {
        rt_g_t *g = rt->free;
        rt->free = g->next;
        free(g);
    }
    free(rt->out);
    free(rt->metrics);
    free(rt);
    *rt_p = NULL;
}

sched_t *rt_sched(rt_t *rt) { return rt->sched; }
heap_t *rt_heap(rt_t *rt) { return rt->heap; }
const kparams_t *rt_params(rt_t *rt) { return rt->params; }
uint64_t rt_seed(rt_t *rt) { return rt->seed; }

static void go_entry(sched_t *s, void *arg)
{
    rt_start_t st = *(rt_start_t *)arg;
    (void)s;
    free(arg);
    st.fn(st.rt, st.arg);
}

int64_t rt_go(rt_t *rt, rt_fn_t fn, void *arg)
{
    rt_start_t *st = malloc(sizeof *st);
    if (!st)
        rt_fail(rt, "out of memory: spawning a goroutine");
    st->rt = rt;
    st->fn = fn;
    st->arg = arg;
    int64_t id = sched_spawn(rt->sched, go_entry, st);
    if (id < 0) {
        free(st);
        rt_fail(rt, "cannot spawn a goroutine: %s", sched_strerror((int)id));
    }
    return id;
}

heap_ref_t rt_alloc(rt_t *rt, uint32_t nptrs, size_t scalar_bytes)
{
    heap_ref_t r = heap_alloc(rt->heap, nptrs, scalar_bytes);
    if (r == 0) {
        heap_stats_t st;
        heap_stats_read(rt->heap, &st);
        rt_fail(rt, "out of memory: allocating %zu bytes (heap in use %llu of %llu bytes): %s",
                (size_t)nptrs * sizeof(heap_ref_t) + scalar_bytes,
                (unsigned long long)st.heap_inuse_bytes,
                (unsigned long long)st.heap_max_bytes,
                heap_strerror(heap_last_error(rt->heap)));
    }
    return r;
}

heap_ref_t *rt_push(rt_t *rt, uint32_t n)
{
    rt_g_t *g = sched_local(rt->sched);
    if (!g)
        rt_fail(rt, "rt_push outside a goroutine");
    if (!g->roots) {
        g->roots = heap_roots_new(rt->heap, RT_ROOTS_CAPACITY);
        if (!g->roots)
            rt_fail(rt, "out of memory: a root stack for goroutine %lld",
                    (long long)sched_self_id(rt->sched));
    }
    heap_ref_t *slots = heap_roots_push(g->roots, n);
    if (!slots)
        rt_fail(rt, "goroutine %lld: root stack overflow (%u slots)",
                (long long)sched_self_id(rt->sched), RT_ROOTS_CAPACITY);
    return slots;
}

void rt_pop(rt_t *rt, uint32_t n)
{
    rt_g_t *g = sched_local(rt->sched);
    heap_roots_pop(g->roots, n);
}

void rt_printf(rt_t *rt, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = rt->out_cap - rt->out_len;
        va_start(ap, fmt);
        int n = vsnprintf(rt->out ? rt->out + rt->out_len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            rt->out_len += (size_t)n;
            return;
        }
        size_t cap = rt->out_cap ? rt->out_cap * 2 : 1024;
        while (cap < rt->out_len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(rt->out, cap);
        if (!p)
            rt_fail(rt, "out of memory: kernel output");
        rt->out = p;
        rt->out_cap = cap;
    }
}

const char *rt_output(const rt_t *rt)
{
    return rt->out ? rt->out : "";
}

void rt_metric(rt_t *rt, const char *name, double value, const char *unit)
{
    rt_metric_t *m = realloc(rt->metrics, (rt->nmetrics + 1) * sizeof *m);
    if (!m)
        rt_fail(rt, "out of memory: kernel metrics");
    rt->metrics = m;
    m += rt->nmetrics++;
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->unit, sizeof m->unit, "%s", unit ? unit : "");
    m->value = value;
}

const rt_metric_t *rt_metrics(const rt_t *rt, size_t *count)
{
    *count = rt->nmetrics;
    return rt->metrics;
}

void rt_fail(rt_t *rt, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sched_fail(rt->sched, "%s", msg);
}
