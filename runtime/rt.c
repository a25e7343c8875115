/*
** runtime/rt.c -- the scheduler joined to the shared heap for one task.
**
** Goroutine locals: sched_local() holds the goroutine's rt_g_t (its root
** stack), made by its first rt_push(): a goroutine that never roots
** anything (one parked on a channel, say) costs no record and no root
** stack. rt_g_t records are process-local and recycled through a free
** list; every live one is on rt->live so that rt_destroy() can release
** root stacks of goroutines that never reached their end hook (a failed
** task unwinds them). The picture of what a task holds is in rt_int.h.
*/
#include "runtime/rt_int.h"

#include "base/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const uint32_t root_level_slots[RT__ROOT_LEVELS] = {64, 512, 4096, 32768};

/* What a goroutine made by rt_go starts with. Taken from slabs owned by
** the rt_t, so that a goroutine a failed task ends before it ever ran
** leaks nothing. */
typedef struct rt_start {
    rt_t *rt;
    rt_fn_t fn;
    void *arg;
    struct rt_start *next;      /* on rt->free_starts */
} rt_start_t;

#define RT_START_SLAB 256

uint64_t rt_now_ns(void)
{
    return clock_mono_ns();
}

static rt_g_t *g_get(rt_t *rt)
{
    rt_g_t *g = rt->free;
    if (g)
        rt->free = g->next;
    else if (!(g = malloc(sizeof *g)))
        return NULL;
    memset(g->roots, 0, sizeof g->roots);
    g->level = 0;
    g->next = rt->live.next;
    g->prev = &rt->live;
    rt->live.next->prev = g;
    rt->live.next = g;
    return g;
}

/* A root stack of `level`'s size: a spare one, or a new one (NULL when the
** heap has no room). */
static heap_roots_t *roots_get(rt_t *rt, int level)
{
    if (rt->nspare_roots[level] > 0)
        return rt->spare_roots[level][--rt->nspare_roots[level]];
    return heap_roots_new(rt->heap, root_level_slots[level]);
}

/* Empty `r` and keep it for another goroutine, up to a bound. */
static void roots_put(rt_t *rt, int level, heap_roots_t *r)
{
    uint32_t depth = heap_roots_depth(r);
    if (depth)
        heap_roots_pop(r, depth);   /* a goroutine that ended mid-frame */
    if (rt->nspare_roots[level] < RT__SPARE_ROOTS_MAX) {
        if (!rt->spare_roots[level])
            rt->spare_roots[level] = malloc(RT__SPARE_ROOTS_MAX * sizeof(heap_roots_t *));
        if (rt->spare_roots[level]) {
            rt->spare_roots[level][rt->nspare_roots[level]++] = r;
            return;
        }
    }
    heap_roots_destroy(rt->heap, &r);
}

static void g_put(rt_t *rt, rt_g_t *g)
{
    for (int l = 0; l < RT__ROOT_LEVELS; l++)
        if (g->roots[l])
            roots_put(rt, l, g->roots[l]);
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

rt_t *rt_new(sched_t *s, heap_t *h, uint64_t seed)
{
    rt_t *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->sched = s;
    rt->heap = h;
    rt->seed = seed;
    rt->rng = seed;
    rt->live.next = rt->live.prev = &rt->live;
    sched_hooks_t hooks = {
        .safepoint = hook_safepoint,
        .gend = hook_gend,
        .idle_begin = hook_idle_begin,
        .idle_end = hook_idle_end,
        .arg = rt,
        .safepoint_word = heap_safepoint_word(h),
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
    pool__destroy_all(rt);
    chan__state_destroy(rt);
    while (rt->live.next != &rt->live)
        g_put(rt, rt->live.next);
    for (int l = 0; l < RT__ROOT_LEVELS; l++) {
        while (rt->nspare_roots[l] > 0)
            heap_roots_destroy(rt->heap, &rt->spare_roots[l][--rt->nspare_roots[l]]);
        free(rt->spare_roots[l]);
    }
    while (rt->free) {
        rt_g_t *g = rt->free;
        rt->free = g->next;
        free(g);
    }
    for (size_t i = 0; i < rt->nstart_slabs; i++)
        free(rt->start_slabs[i]);
    free(rt->start_slabs);
    free(rt->out);
    free(rt->metrics);
    free(rt);
    *rt_p = NULL;
}

sched_t *rt_sched(rt_t *rt) { return rt->sched; }
heap_t *rt_heap(rt_t *rt) { return rt->heap; }
uint64_t rt_seed(rt_t *rt) { return rt->seed; }

static void start_put(rt_t *rt, rt_start_t *st)
{
    st->next = rt->free_starts;
    rt->free_starts = st;
}

static rt_start_t *start_get(rt_t *rt)
{
    if (!rt->free_starts) {
        if (rt->nstart_slabs == rt->start_slabs_cap) {
            size_t cap = rt->start_slabs_cap ? 2 * rt->start_slabs_cap : 16;
            void **v = realloc(rt->start_slabs, cap * sizeof *v);
            if (!v)
                return NULL;
            rt->start_slabs = v;
            rt->start_slabs_cap = cap;
        }
        rt_start_t *slab = malloc(RT_START_SLAB * sizeof *slab);
        if (!slab)
            return NULL;
        rt->start_slabs[rt->nstart_slabs++] = slab;
        for (int i = 0; i < RT_START_SLAB; i++)
            start_put(rt, &slab[i]);
    }
    rt_start_t *st = rt->free_starts;
    rt->free_starts = st->next;
    return st;
}

static void go_entry(sched_t *s, void *arg)
{
    rt_start_t st = *(rt_start_t *)arg;
    (void)s;
    start_put(st.rt, arg);
    st.fn(st.rt, st.arg);
}

int64_t rt_go(rt_t *rt, rt_fn_t fn, void *arg)
{
    /* A spawn loop that neither allocates nor blocks must not starve a
    ** collector in another process. */
    heap_safepoint(rt->heap);
    rt_start_t *st = start_get(rt);
    if (!st)
        rt_fail(rt, "out of memory: spawning a goroutine");
    st->rt = rt;
    st->fn = fn;
    st->arg = arg;
    int64_t id = sched_spawn(rt->sched, go_entry, st);
    if (id < 0) {
        start_put(rt, st);
        rt_fail(rt, "cannot spawn a goroutine: %s", sched_strerror((int)id));
    }
    return id;
}

heap_ref_t rt_alloc(rt_t *rt, uint32_t nptrs, size_t scalar_bytes)
{
    return rt_alloc_at(rt, nptrs, scalar_bytes, NULL);
}

heap_ref_t rt_alloc_at(rt_t *rt, uint32_t nptrs, size_t scalar_bytes, const char *site)
{
    heap_ref_t r = heap_alloc_at(rt->heap, nptrs, scalar_bytes, site);
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

void rt_safepoint(rt_t *rt)
{
    heap_safepoint(rt->heap);
}

heap_ref_t *rt_push(rt_t *rt, uint32_t n)
{
    rt_g_t *g = sched_local(rt->sched);
    if (!g) {
        if (sched_self_id(rt->sched) == 0)
            rt_fail(rt, "rt_push outside a goroutine");
        if (!(g = g_get(rt)))
            rt_fail(rt, "out of memory: goroutine bookkeeping");
        sched_set_local(rt->sched, g);
    }
    for (int l = g->level; l < RT__ROOT_LEVELS; l++) {
        if (n > root_level_slots[l])
            continue;
        if (!g->roots[l] && !(g->roots[l] = roots_get(rt, l)))
            rt_fail(rt, "out of memory: a root stack for goroutine %lld",
                    (long long)sched_self_id(rt->sched));
        heap_ref_t *slots = heap_roots_push(g->roots[l], n);
        if (slots) {
            g->level = l;
            return slots;
        }
    }
    rt_fail(rt, "goroutine %lld: root stack overflow (more than %u slots)",
            (long long)sched_self_id(rt->sched),
            root_level_slots[0] + root_level_slots[1] + root_level_slots[2] +
                root_level_slots[3]);
}

void rt_pop(rt_t *rt, uint32_t n)
{
    rt_g_t *g = sched_local(rt->sched);
    if (!g || !g->roots[g->level])
        return;
    heap_roots_pop(g->roots[g->level], n);
    /* Frames are popped in the reverse order of their pushes: once this
    ** level is empty, the next pop belongs to a lower one. */
    while (g->level > 0 && heap_roots_depth(g->roots[g->level]) == 0)
        g->level--;
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
