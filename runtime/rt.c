/*
** runtime/rt.c -- the scheduler joined to the shared heap for one task.
**
** Goroutine locals: sched_local() holds the goroutine's rt_g_t: its g
** record on the heap and its root stacks. rt_go() gives every goroutine
** it spawns one (from the free list of ended goroutines' when it can, as
** Go's gfget); a goroutine spawned otherwise gets one when it first needs
** it (rt_push, a blocking channel operation). Root stacks come at the
** first rt_push(): a goroutine that never roots anything (one parked on a
** channel, say) costs no root stack. Every live rt_g_t is on rt->live so
** that rt_destroy() can release what goroutines that never reached their
** end hook held (a failed task unwinds them). The picture of what a task
** holds, and the sizes of Go's objects, are in rt_int.h.
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
    rt_g_t *g;                  /* its rt_g_t, with its g record */
    struct rt_start *next;      /* on rt->free_starts */
} rt_start_t;

#define RT_START_SLAB 256

uint64_t rt_now_ns(void)
{
    return clock_mono_ns();
}

/* A root slot of allgs for a new g record. May collect (a new chunk). */
static heap_ref_t *allgs_slot(rt_t *rt)
{
    if (rt->allgs_left == 0) {
        if (rt->nallgs == rt->allgs_cap) {
            size_t cap = rt->allgs_cap ? 2 * rt->allgs_cap : 16;
            heap_roots_t **v = realloc(rt->allgs, cap * sizeof *v);
            if (!v)
                rt_fail(rt, "out of memory: goroutine records");
            rt->allgs = v;
            rt->allgs_cap = cap;
        }
        heap_roots_t *r = heap_roots_new(rt->heap, RT__ALLGS_CHUNK);
        if (!r)
            rt_fail(rt, "out of memory: goroutine records");
        rt->allgs[rt->nallgs++] = r;
        rt->allgs_bump = heap_roots_push(r, RT__ALLGS_CHUNK);
        rt->allgs_left = RT__ALLGS_CHUNK;
    }
    rt->allgs_left--;
    return rt->allgs_bump++;
}

/* Go 1.19's growslice: the capacity append gives a slice of `old_cap`
** that needs `need` (before rounding up to the size class). */
static uint64_t growslice_cap(uint64_t old_cap, uint64_t need)
{
    uint64_t newcap = old_cap, doublecap = old_cap + old_cap;
    if (need > doublecap)
        return need;
    if (old_cap < 256)
        return doublecap;
    while (newcap < need)
        newcap += (newcap + 3 * 256) / 4;
    return newcap;
}

/* allgadd: `allgs = append(allgs, gp)` for a new g record. When the array
** is full, a new one (a heap object of pointer slots, size-class rounded
** as growslice rounds it) replaces it; the old one is garbage. */
static void allgs_append(rt_t *rt)
{
    if (++rt->allgs_len <= rt->allgs_slice_cap)
        return;
    if (!rt->allgs_slice) {
        rt->allgs_slice = heap_roots_new(rt->heap, 1);
        if (!rt->allgs_slice || !(rt->allgs_array = heap_roots_push(rt->allgs_slice, 1)))
            rt_fail(rt, "out of memory: allgs");
    }
    uint64_t cap = growslice_cap(rt->allgs_slice_cap, rt->allgs_len);
    if (cap > UINT32_MAX)
        rt_fail(rt, "out of memory: allgs");
    heap_ref_t arr = rt__alloc_at(rt, (uint32_t)cap, 0, "runtime.allgadd");
    *rt->allgs_array = arr;
    rt->allgs_slice_cap = heap_obj_size(rt->heap, arr) / sizeof(heap_ref_t);
}

/* gfget: an rt_g_t with a g record, on rt->live: an ended goroutine's,
** or a new one whose record is allocated here (which may collect). Fails
** the task when there is no memory. */
static rt_g_t *g_get(rt_t *rt)
{
    rt_g_t *g = rt->free;
    if (g) {
        rt->free = g->next;
    } else if (!(g = calloc(1, sizeof *g))) {
        rt_fail(rt, "out of memory: goroutine bookkeeping");
    }
    memset(g->roots, 0, sizeof g->roots);
    g->level = 0;
    g->label = NULL;
    g->next = rt->live.next;
    g->prev = &rt->live;
    rt->live.next->prev = g;
    rt->live.next = g;
    if (!g->rec)
        g->rec = allgs_slot(rt);
    if (!*g->rec) {
        heap_ref_t r = rt__alloc_at(rt, RT__G_NPTRS, RT__G_BYTES - RT__G_NPTRS * sizeof(heap_ref_t),
                                   "runtime.malg");
        *g->rec = r;              /* rooted from here on, for the task's life */
        g->grec = r;
        rt->grecs++;
        allgs_append(rt);
    }
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

/* gfput: the goroutine has ended; its record drops its closure and any
** sudogs it still held, and waits on rt->free for the next goroutine. */
static void g_put(rt_t *rt, rt_g_t *g)
{
    for (int l = 0; l < RT__ROOT_LEVELS; l++)
        if (g->roots[l])
            roots_put(rt, l, g->roots[l]);
    if (g->rec && *g->rec) {
        heap_write_ref(rt->heap, *g->rec, 0, 0);
        heap_write_ref(rt->heap, *g->rec, 1, 0);
    }
    g->prev->next = g->next;
    g->next->prev = g->prev;
    g->next = rt->free;
    rt->free = g;
}

/* ---- sudogs (picture in rt_int.h) ---------------------------------------- */

/* The cache's root slots. May collect. */
static void sudog_init(rt_t *rt)
{
    heap_roots_t *r = heap_roots_new(rt->heap, RT__SUDOG_CACHE + 1);
    if (!r)
        rt_fail(rt, "out of memory: the sudog cache");
    rt->sudog_roots = r;
    rt->sudog_cache = heap_roots_push(r, RT__SUDOG_CACHE + 1);
    rt->sudog_central = &rt->sudog_cache[RT__SUDOG_CACHE];
    rt->nsudog_cache = 0;
}

/* clearpools: a GC ran since the central list was last dropped. */
static inline void sudog_central_check(rt_t *rt)
{
    if (rt->gc_dropped != rt->gc_seen) {
        *rt->sudog_central = 0;
        rt->gc_dropped = rt->gc_seen;
    }
}

heap_ref_t rt__sudog_acquire_slow(rt_t *rt, rt_g_t **g_out)
{
    heap_t *h = rt->heap;
    rt_g_t *g = rt__self(rt);

    if (!g) {
        g = g_get(rt);
        sched_set_local(rt->sched, g);
    }
    if (!rt->sudog_roots)
        sudog_init(rt);
    sudog_central_check(rt);
    if (rt->nsudog_cache == 0) {
        while (rt->nsudog_cache < RT__SUDOG_CACHE / 2 && *rt->sudog_central) {
            heap_ref_t sg = *rt->sudog_central;
            *rt->sudog_central = heap_read_ref(h, sg, 0);
            heap_write_ref(h, sg, 0, 0);
            rt->sudog_cache[rt->nsudog_cache++] = sg;
        }
        if (rt->nsudog_cache == 0) {
            heap_ref_t sg = rt__alloc_at(rt, 1, RT__SUDOG_BYTES - sizeof(heap_ref_t),
                                        "runtime.acquireSudog");
            rt->sudog_cache[rt->nsudog_cache++] = sg;
            rt->sudogs++;
        }
    }
    heap_ref_t sg = rt->sudog_cache[--rt->nsudog_cache];
    heap_write_ref(h, sg, 0, heap_read_ref(h, g->grec, 1));   /* g.waiting: rooted by the g record */
    heap_write_ref(h, g->grec, 1, sg);
    *g_out = g;
    return sg;
}

void rt__sudog_release_slow(rt_t *rt, rt_g_t *g, heap_ref_t sg)
{
    heap_t *h = rt->heap;

    if (g && *g->rec) {
        /* The slot that holds sg: slot 1 of the g record, or slot 0 of
        ** the sudog before it on the chain. */
        heap_ref_t holder = *g->rec;
        uint32_t at = 1;
        heap_ref_t link = heap_read_ref(h, holder, at);
        while (link && link != sg) {
            holder = link;
            at = 0;
            link = heap_read_ref(h, holder, at);
        }
        if (link)
            heap_write_ref(h, holder, at, heap_read_ref(h, sg, 0));
    }
    heap_write_ref(h, sg, 0, 0);
    sudog_central_check(rt);
    if (rt->nsudog_cache == RT__SUDOG_CACHE) {
        while (rt->nsudog_cache > RT__SUDOG_CACHE / 2) {
            heap_ref_t x = rt->sudog_cache[--rt->nsudog_cache];
            rt->sudog_cache[rt->nsudog_cache] = 0;
            heap_write_ref(h, x, 0, *rt->sudog_central);
            *rt->sudog_central = x;
        }
    }
    rt->sudog_cache[rt->nsudog_cache++] = sg;
}

/* Called at a goroutine switch while the heap's safepoint word is set: a
** stop of the world by another process (waited out here), or a mark, a
** lazy sweep or the scavenger under way (whose work the heap may do here).
** The once-per-cycle work -- stack depths and shrinking, the cycle count
** that paces snapshots -- runs only when a cycle has ended since it last
** ran, not at every switch of a long sweep or scavenge. */
static void hook_safepoint(void *arg, sched_t *s)
{
    rt_t *rt = arg;
    rt__publish_stacks(rt);
    heap_schedpoint(rt->heap);   /* the scheduler is switching goroutines */
    uint64_t n = heap_num_gc(rt->heap);
    if (n == rt->cycles_seen)
        return;
    rt->cycles_seen = n;
    if (rt->stacks_scanned_cycle != n)   /* not scanned by the mark already */
        sched_stacks_gc(s);
    rt->gc_seen++;
    if (rt->snap_fn && rt->snap_every && rt->gc_seen >= rt->snap_next)
        rt->snap_due = true;
}

/* The heap's GC hook, in the collecting process with the world stopped:
** touches the scheduler only, then the caller's hook. */
/* The heap's slow paths run on the scheduler's stack (Go's systemstack). */
static void heap_stack_runner(void *ctx, void (*fn)(void *arg), void *arg)
{
    rt_t *rt = ctx;
    sched_systemstack(rt->sched, fn, arg);
}

static void hook_gc(void *arg, const heap_gc_cycle_t *cycle)
{
    rt_t *rt = arg;
    rt->cycles_seen = (uint64_t)cycle->fields.cycle;   /* this process ran it */
    if (rt->stacks_scanned_cycle != rt->cycles_seen)
        sched_stacks_gc(rt->sched);
    rt->gc_seen++;
    if (rt->snap_fn && ((rt->snap_every && rt->gc_seen >= rt->snap_next) || cycle->fields.forced))
        rt->snap_due = true;
    if (rt->gc_hook)
        rt->gc_hook(rt->gc_hook_arg, cycle);
}

/* The mark's scan of this process's stacks (heap_set_stack_scan), as Go's
** scanstack does it during the mark: each goroutine's depth summed (the
** scheduler's stack_scan_bytes), the stacks shrunk, and both figures
** reported at once, so that the cycle's row and the pacer's stack term are
** the depths this cycle saw. The per-cycle work after the cycle then
** leaves the stacks alone (stacks_scanned_cycle). */
static uint64_t hook_stack_scan(void *arg, uint64_t cycle)
{
    rt_t *rt = arg;
    sched_stacks_gc(rt->sched);
    rt->stacks_scanned_cycle = cycle;
    rt__publish_stacks(rt);
    return sched_stack_scan_bytes(rt->sched);
}

void rt_set_gc_hook(rt_t *rt, heap_gc_hook_fn fn, void *arg)
{
    rt->gc_hook = fn;
    rt->gc_hook_arg = arg;
}

/* The heap's interrupt hook: a poll found rt_interrupt()'s request. In a
** goroutine of the task that is not already ending, the task ends here;
** anywhere else (outside the task) it is dropped. */
static void hook_interrupt(void *arg)
{
    rt_t *rt = arg;
    int64_t id = sched_self_id(rt->sched);
    if (id != 0 && !sched_unwinding(rt->sched))
        sched_interrupted(rt->sched, "interrupted at a heap safepoint of goroutine %lld",
                          (long long)id);
}

void rt_interrupt(rt_t *rt)
{
    heap_interrupt(rt->heap);
    sched_interrupt(rt->sched);
}

/* The scheduler's preempt hook, on sysmon's thread: the next preemption
** point of this task's code yields (see rt_int.h). */
static void hook_preempt(void *arg)
{
    rt_t *rt = arg;
    __atomic_store_n(&rt->preempt_due, 1, __ATOMIC_RELAXED);
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
    /* Go's idle mark worker: nothing runs before the next timer. */
    heap_mark_idle(rt->heap, sched_idle_until_ns(s));
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
    rt->cycles_seen = heap_num_gc(h);
    rt->allgs_len = RT__ALLGS_AT_START;
    rt->allgs_slice_cap = RT__ALLGS_CAP_AT_START;
    /* The runtime's globals, as roots the collector scans (all nil: the
    ** runtime's own heap objects are not modelled). */
    if (!heap_globals(h, RT__RUNTIME_GLOBALS_BYTES / sizeof(heap_ref_t))) {
        free(rt);
        return NULL;
    }
    rt->seed = seed;
    rt->rng = seed;
    rt->live.next = rt->live.prev = &rt->live;
    sched_hooks_t hooks = {
        .safepoint = hook_safepoint,
        .gend = hook_gend,
        .idle_begin = hook_idle_begin,
        .idle_end = hook_idle_end,
        .preempt = hook_preempt,
        .arg = rt,
        .safepoint_word = heap_safepoint_word(h),
    };
    sched_set_hooks(s, &hooks);
    heap_set_gc_hook(h, hook_gc, rt);
    heap_set_stack_runner(h, heap_stack_runner, rt);
    heap_set_stack_scan(h, hook_stack_scan, rt);
    heap_set_interrupt_hook(h, hook_interrupt, rt);
    sched_stats_read(s, &rt->sched0);
    rt->stack_published = UINT64_MAX;   /* the first check reports */
    rt->stack_inuse_published = UINT64_MAX;
    return rt;
}

void rt_destroy(rt_t **rt_p)
{
    rt_t *rt = rt_p ? *rt_p : NULL;
    if (!rt)
        return;
    sched_hooks_t none = {0};
    sched_set_hooks(rt->sched, &none);
    heap_set_gc_hook(rt->heap, rt->gc_hook, rt->gc_hook_arg);
    heap_set_stack_runner(rt->heap, NULL, NULL);
    heap_set_stack_scan(rt->heap, NULL, NULL);
    heap_set_interrupt_hook(rt->heap, NULL, NULL);
    pool__destroy_all(rt);
    chan__state_destroy(rt);
    while (rt->live.next != &rt->live) {
        rt_g_t *g = rt->live.next;
        g->rec = NULL;            /* allgs goes below: records are not touched */
        g_put(rt, g);
    }
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
    for (size_t i = 0; i < rt->nallgs; i++)
        heap_roots_destroy(rt->heap, &rt->allgs[i]);
    free(rt->allgs);
    if (rt->allgs_slice)
        heap_roots_destroy(rt->heap, &rt->allgs_slice);
    heap_roots_destroy(rt->heap, &rt->sudog_roots);
    for (size_t i = 0; i < rt->nstart_slabs; i++)
        free(rt->start_slabs[i]);
    free(rt->start_slabs);
    free(rt->out);
    free(rt->metrics);
    free(rt);
    *rt_p = NULL;
}

void rt_note_end(rt_t *rt)
{
    sched_stats_t st;
    const sched_stats_t *st0 = &rt->sched0;

    sched_stats_read(rt->sched, &st);
    if (st.stack_growths > st0->stack_growths)
        rt_metric(rt, "go_stack_growths", (double)(st.stack_growths - st0->stack_growths), "");
    if (st.stack_shrinks > st0->stack_shrinks)
        rt_metric(rt, "go_stack_shrinks", (double)(st.stack_shrinks - st0->stack_shrinks), "");
    if (st.stack_copied_bytes > st0->stack_copied_bytes) {
        rt_metric(rt, "go_stack_copied_bytes",
                  (double)(st.stack_copied_bytes - st0->stack_copied_bytes), "B");
        rt_metric(rt, "go_stack_copy_ns", (double)(st.stack_copy_ns - st0->stack_copy_ns), "ns");
    }
    if (st.preemptions > st0->preemptions)
        rt_metric(rt, "goroutine_preemptions", (double)(st.preemptions - st0->preemptions), "");
    if (st.alive_at_exit == 0)
        return;
    rt_metric(rt, "goroutines_alive_at_exit", (double)st.alive_at_exit, "");
    rt_printf(rt, "%s\n", sched_exit_report(rt->sched));
}

void rt_set_main_label(rt_t *rt, const char *label)
{
    snprintf(rt->main_label, sizeof rt->main_label, "%s", label ? label : "");
}

void rt_set_snapshot_hook(rt_t *rt, rt_snapshot_fn fn, void *arg, uint64_t every_cycles)
{
    rt->snap_fn = fn;
    rt->snap_arg = arg;
    rt->snap_every = every_cycles;
    rt->snap_next = rt->gc_seen + rt->snap_every;
    rt->snap_due = false;
}

/* A goroutine's label: rt_go_at's, the main goroutine's, or none. */
static const char *g_label(const rt_t *rt, const rt_g_t *g, bool is_main, char *buf, size_t size)
{
    if (g && g->label)
        return g->label;
    if (is_main && rt->main_label[0]) {
        snprintf(buf, size, "%s.main", rt->main_label);
        return buf;
    }
    return is_main ? "main" : NULL;
}

typedef struct describe {
    rt_t *rt;
    rt_root_fn fn;
    void *arg;
} describe_t;

static int describe_g(void *arg, const sched_ginfo_t *gi)
{
    describe_t *d = arg;
    const rt_g_t *g = gi->local;
    char lb[96], group[192], inst[224], cycles[48] = "";

    if (!g)
        return 0;
    const char *label = g_label(d->rt, g, gi->is_main, lb, sizeof lb);
    if (gi->parked && gi->blocked_cycles > 0)
        snprintf(cycles, sizeof cycles, ", %llu GC cycle%s", (unsigned long long)gi->blocked_cycles,
                 gi->blocked_cycles == 1 ? "" : "s");
    snprintf(group, sizeof group, "goroutine%s%s [%s]", label ? " " : "", label ? label : "",
             gi->wait_reason);
    snprintf(inst, sizeof inst, "goroutine %lld%s%s [%s%s]", (long long)gi->id, label ? " " : "",
             label ? label : "", gi->wait_reason, cycles);
    for (int l = 0; l < RT__ROOT_LEVELS; l++)
        if (g->roots[l])
            d->fn(d->arg, heap_roots_ref(g->roots[l]), group, inst);
    return 0;
}

void rt_roots_describe(rt_t *rt, rt_root_fn fn, void *arg)
{
    describe_t d = { rt, fn, arg };

    sched_foreach(rt->sched, describe_g, &d);
    for (size_t i = 0; i < rt->nallgs; i++)
        fn(arg, heap_roots_ref(rt->allgs[i]), "runtime allgs (goroutine records)",
           "runtime allgs (goroutine records)");
    if (rt->sudog_roots)
        fn(arg, heap_roots_ref(rt->sudog_roots), "runtime sudog cache", "runtime sudog cache");
    chan__roots_describe(rt, fn, arg);
}

typedef struct gleaks {
    rt_t *rt;
    uint64_t min_cycles;
    rt_gleak_t *v;
    size_t n, cap;
    bool oom;
} gleaks_t;

static int gleak_add(void *arg, const sched_ginfo_t *gi)
{
    gleaks_t *q = arg;
    char lb[96];

    if (!gi->parked || gi->blocked_cycles < q->min_cycles)
        return 0;
    const char *where = g_label(q->rt, gi->local, gi->is_main, lb, sizeof lb);
    size_t k;
    if (!where)
        where = "(no label)";
    for (k = 0; k < q->n; k++)
        if (strcmp(q->v[k].where, where) == 0 && strcmp(q->v[k].reason, gi->wait_reason) == 0)
            break;
    if (k == q->n) {
        if (q->n == q->cap) {
            size_t cap = q->cap ? 2 * q->cap : 8;
            rt_gleak_t *v = realloc(q->v, cap * sizeof *v);
            if (!v) {
                q->oom = true;
                return 1;
            }
            q->v = v;
            q->cap = cap;
        }
        rt_gleak_t *e = &q->v[q->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->where, sizeof e->where, "%s", where);
        snprintf(e->reason, sizeof e->reason, "%s", gi->wait_reason);
        e->min_cycles = UINT64_MAX;
    }
    rt_gleak_t *e = &q->v[k];
    e->count++;
    if (gi->blocked_cycles < e->min_cycles)
        e->min_cycles = gi->blocked_cycles;
    if (gi->blocked_cycles > e->max_cycles)
        e->max_cycles = gi->blocked_cycles;
    return 0;
}

static int gleak_by_count(const void *a, const void *b)
{
    const rt_gleak_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    int c = strcmp(x->where, y->where);
    return c ? c : strcmp(x->reason, y->reason);
}

int rt_goroutine_leaks(rt_t *rt, uint64_t min_cycles, rt_gleak_t **out, size_t *nout)
{
    gleaks_t q = { .rt = rt, .min_cycles = min_cycles ? min_cycles : 1 };

    sched_foreach(rt->sched, gleak_add, &q);
    if (q.oom) {
        free(q.v);
        *out = NULL;
        *nout = 0;
        return -ENOMEM;
    }
    if (q.n > 1)
        qsort(q.v, q.n, sizeof *q.v, gleak_by_count);
    *out = q.v;
    *nout = q.n;
    return 0;
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
    start_put(st.rt, arg);
    sched_set_local(s, st.g);
    st.fn(st.rt, st.arg);
}

int64_t rt_go(rt_t *rt, rt_fn_t fn, void *arg)
{
    return rt_go_at(rt, fn, arg, NULL);
}

int64_t rt_go_at(rt_t *rt, rt_fn_t fn, void *arg, const char *label)
{
    /* A spawn loop that neither allocates nor blocks must not starve a
    ** collector in another process, nor keep its slice forever. */
    rt__preempt_point(rt);
    heap_safepoint(rt->heap);
    rt__publish_stacks(rt);
    /* Go's newproc: a g (reused or new), and `go f(x)`'s closure. */
    rt_g_t *g = g_get(rt);
    g->label = label;
    if (arg) {
        heap_ref_t c = rt__alloc_at(rt, 0, RT__CLOSURE_BYTES, "runtime.newproc1");
        uint64_t *words = heap_data(rt->heap, c, 0);
        heap_write_ref(rt->heap, *g->rec, 0, c);
        words[0] = (uint64_t)(uintptr_t)fn;
        words[1] = (uint64_t)(uintptr_t)arg;
    }
    rt_start_t *st = start_get(rt);
    if (!st) {
        g_put(rt, g);
        rt_fail(rt, "out of memory: spawning a goroutine");
    }
    st->rt = rt;
    st->fn = fn;
    st->arg = arg;
    st->g = g;
    int64_t id = sched_spawn(rt->sched, go_entry, st);
    if (id < 0) {
        start_put(rt, st);
        g_put(rt, g);
        rt_fail(rt, "cannot spawn a goroutine: %s", sched_strerror((int)id));
    }
    return id;
}

heap_ref_t rt_alloc(rt_t *rt, uint32_t nptrs, size_t scalar_bytes)
{
    return rt_alloc_at(rt, nptrs, scalar_bytes, NULL);
}

/* A snapshot the GC hooks found due (rt_set_snapshot_hook). */
static void snapshot_due(rt_t *rt)
{
    uint64_t interval = rt->gc_seen > rt->snap_every ? rt->gc_seen : rt->snap_every;

    rt->snap_due = false;
    rt->snap_next = rt->gc_seen + interval;
    if (rt->snap_busy || !rt->snap_fn)
        return;
    rt->snap_busy = true;
    rt->snap_fn(rt->snap_arg, rt);
    rt->snap_busy = false;
}

void rt__preempt(rt_t *rt)
{
    /* Cleared before the point, so that a request sysmon makes meanwhile
    ** sets it again rather than being lost with it. */
    __atomic_exchange_n(&rt->preempt_due, 0, __ATOMIC_RELAXED);
    sched_preempt_point(rt->sched);
}

heap_ref_t rt_alloc_at(rt_t *rt, uint32_t nptrs, size_t scalar_bytes, const char *site)
{
    rt__preempt_point(rt);
    return rt__alloc_at(rt, nptrs, scalar_bytes, site);
}

heap_ref_t rt__alloc_at(rt_t *rt, uint32_t nptrs, size_t scalar_bytes, const char *site)
{
    if (__builtin_expect(rt->snap_due, 0))
        snapshot_due(rt);
    rt__publish_stacks(rt);
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
    rt__preempt_point(rt);
    if (__builtin_expect(rt->snap_due, 0))
        snapshot_due(rt);
    rt__publish_stacks(rt);
    heap_safepoint(rt->heap);
}

heap_ref_t *rt_push(rt_t *rt, uint32_t n)
{
    if (__builtin_expect(rt->snap_due, 0))
        snapshot_due(rt);
    rt_g_t *g = sched_local(rt->sched);
    if (!g) {
        if (sched_self_id(rt->sched) == 0)
            rt_fail(rt, "rt_push outside a goroutine");
        g = g_get(rt);
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
    if (__builtin_expect(rt->snap_due, 0))
        snapshot_due(rt);
    rt_g_t *g = sched_local(rt->sched);
    if (!g || !g->roots[g->level])
        return;
    heap_roots_pop(g->roots[g->level], n);
    /* Frames are popped in the reverse order of their pushes: once this
    ** level is empty, the next pop belongs to a lower one. A frame too big
    ** for the levels below skipped them: those were never taken. */
    while (g->level > 0 &&
           (!g->roots[g->level] || heap_roots_depth(g->roots[g->level]) == 0))
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
