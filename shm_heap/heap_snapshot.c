/*
** shm_heap/heap_snapshot.c -- heap_snapshot(): the object graph with the
** world stopped, read only (heap_snapshot.h). Reads the segment as
** heap_verify() does; never touches a mark bit or any other shared word.
*/
#include "shm_heap/heap_snapshot.h"
#include "shm_heap/heap_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A sampled object's site: ref -> name, open addressing. */
typedef struct site_entry {
    heap_ref_t ref;                  /* 0 = empty */
    const char *name;
} site_entry_t;

typedef struct walk {
    heap_t *h;
    const heap_snap_ops_t *ops;
    heap_snap_stats_t *st;
    uint64_t *seen;                  /* 1 bit per word below hwm */
    uint64_t seen_words;             /* words of the segment it covers */
    heap_ref_t *stack;               /* objects seen, not yet reported */
    size_t len, cap;
    heap_ref_t *refs;                /* scratch: one object's valid targets */
    size_t refs_cap;
    site_entry_t *sites;
    size_t sites_mask;               /* capacity - 1, capacity a power of 2 */
} walk_t;

static uint64_t hash_ref(heap_ref_t r)
{
    r ^= r >> 31;
    r *= 0x9e3779b97f4a7c15ull;
    return r ^ (r >> 29);
}

static const char *site_of(const walk_t *w, heap_ref_t ref)
{
    if (!w->sites)
        return NULL;
    for (size_t i = hash_ref(ref) & w->sites_mask;; i = (i + 1) & w->sites_mask) {
        if (w->sites[i].ref == ref)
            return w->sites[i].name;
        if (w->sites[i].ref == 0)
            return NULL;
    }
}

/* Every attached process's sampled objects, with their sites' names. */
static int load_sites(walk_t *w)
{
    heap_t *h = w->h;
    heap__hdr_t *hdr = h->hdr;
    uint64_t total = 0;

    for (uint32_t pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
            heap__proc_t *p = &hdr->procs[i];
            uint32_t state = __atomic_load_n(&p->state, __ATOMIC_SEQ_CST);
            if (state == HEAP__PROC_FREE || state == HEAP__PROC_DEAD || !p->prof_samples ||
                !p->prof_sites)
                continue;
            if (heap__check_ref(h, p->prof_samples, true, NULL, 0) != 0 ||
                heap__check_ref(h, p->prof_sites, true, NULL, 0) != 0)
                continue;
            const struct heap__prof_samples *ss = heap_ptr(h, p->prof_samples);
            const struct heap__prof_sites *names = heap_ptr(h, p->prof_sites);
            if (ss->kind != HEAP__PROF_SAMPLES_MAGIC || names->kind != HEAP__PROF_SITES_MAGIC)
                continue;
            uint64_t count = ss->count < ss->capacity ? ss->count : ss->capacity;
            if (pass == 0) {
                total += count;
                continue;
            }
            for (uint64_t k = 0; k < count; k++) {
                const struct heap__prof_sample *s = &ss->samples[k];
                if (!s->ref || s->site >= names->nsites || s->site >= HEAP_PROF_SITES)
                    continue;
                size_t j = hash_ref(s->ref) & w->sites_mask;
                while (w->sites[j].ref != 0 && w->sites[j].ref != s->ref)
                    j = (j + 1) & w->sites_mask;
                w->sites[j].ref = s->ref;
                w->sites[j].name = names->sites[s->site].name;
            }
        }
        if (pass == 0) {
            if (total == 0)
                return 0;
            size_t cap = 16;
            while (cap < 2 * total)
                cap *= 2;
            w->sites = calloc(cap, sizeof *w->sites);
            if (!w->sites)
                return -ENOMEM;
            w->sites_mask = cap - 1;
        }
    }
    return 0;
}

/* Is ref an allocated object? Then mark it seen; true if it was not yet. */
static bool first_visit(walk_t *w, heap_ref_t ref)
{
    uint64_t word = ref >> 3;
    if (word >= w->seen_words)
        return false;
    uint64_t bit = 1ull << (word & 63);
    if (w->seen[word >> 6] & bit)
        return false;
    w->seen[word >> 6] |= bit;
    return true;
}

static int push(walk_t *w, heap_ref_t ref)
{
    if (w->len == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 1024;
        heap_ref_t *s = realloc(w->stack, cap * sizeof *s);
        if (!s)
            return -ENOMEM;
        w->stack = s;
        w->cap = cap;
    }
    w->stack[w->len++] = ref;
    return 0;
}

/* The valid non-nil targets of n slots into w->refs; pushes the ones not
** seen yet. Returns how many targets, or -ENOMEM. */
static int64_t collect_refs(walk_t *w, const heap_ref_t *slots, uint64_t n)
{
    if (n > w->refs_cap) {
        heap_ref_t *r = realloc(w->refs, n * sizeof *r);
        if (!r)
            return -ENOMEM;
        w->refs = r;
        w->refs_cap = n;
    }
    uint64_t k = 0;
    for (uint64_t i = 0; i < n; i++) {
        heap_ref_t ref = slots[i];
        if (!ref || heap__check_ref(w->h, ref, true, NULL, 0) != 0)
            continue;
        w->refs[k++] = ref;
        if (first_visit(w, ref) && push(w, ref) != 0)
            return -ENOMEM;
    }
    w->st->edges += k;
    return (int64_t)k;
}

static int report_root(walk_t *w, uint32_t kind, uint32_t i, heap_ref_t container,
                       const heap_ref_t *slots, uint64_t n)
{
    int64_t k = collect_refs(w, slots, n);
    if (k < 0)
        return (int)k;
    heap_snap_root_t r = {
        .kind = kind,
        .proc_index = i,
        .pid = w->h->hdr->procs[i].pid,
        .container = container,
        .refs = w->refs,
        .nrefs = (uint32_t)k,
    };
    w->st->roots++;
    return w->ops->root ? w->ops->root(w->ops->arg, &r) : 0;
}

static int walk_roots(walk_t *w)
{
    heap_t *h = w->h;
    heap__hdr_t *hdr = h->hdr;
    int rc;

    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        uint32_t state = __atomic_load_n(&p->state, __ATOMIC_SEQ_CST);
        if (state == HEAP__PROC_FREE || state == HEAP__PROC_DEAD)
            continue;
        uint64_t guard = (uint64_t)hdr->npages * HEAP__MAX_NELEMS;
        for (heap_ref_t r = p->roots_head; r && guard--;) {
            if (heap__check_ref(h, r, true, NULL, 0) != 0)
                break;
            const struct heap_roots *rs = heap_ptr(h, r);
            if (rs->kind != HEAP__ROOTS_MAGIC || rs->self != r)
                break;
            uint32_t depth = rs->depth < rs->capacity ? rs->depth : rs->capacity;
            if ((rc = report_root(w, HEAP_SNAP_ROOT_STACK, i, r, rs->slots, depth)) != 0)
                return rc;
            r = rs->next;
        }
        if (p->globals && heap__check_ref(h, p->globals, true, NULL, 0) == 0) {
            const struct heap_roots *g = heap_ptr(h, p->globals);
            if (g->kind == HEAP__GLOBALS_MAGIC &&
                (rc = report_root(w, HEAP_SNAP_ROOT_GLOBALS, i, p->globals, g->slots,
                                  g->capacity)) != 0)
                return rc;
        }
        guard = (uint64_t)hdr->npages * HEAP__MAX_NELEMS;
        for (heap_ref_t r = p->pools_head; r && guard--;) {
            if (!heap__pool_valid(h, r, i))
                break;
            const struct heap_pool *pa = heap_ptr(h, r);
            uint64_t c = pa->counts;
            uint32_t primary = heap__pool_primary_half(c);
            uint32_t n[2];
            n[primary] = heap__pool_primary_count(c);
            n[primary ^ 1] = heap__pool_victim_count(c);
            /* Both halves as one root: the primary's slots, then the victim's. */
            uint64_t total = 0;
            heap_ref_t *both = malloc(((uint64_t)pa->half * 2 + 1) * sizeof *both);
            if (!both)
                return -ENOMEM;
            for (uint32_t half = 0; half < 2; half++) {
                uint32_t take = n[half] < pa->half ? n[half] : pa->half;
                memcpy(&both[total], &pa->slots[(uint64_t)half * pa->half],
                       (size_t)take * sizeof *both);
                total += take;
            }
            rc = report_root(w, HEAP_SNAP_ROOT_POOL, i, r, both, total);
            free(both);
            if (rc)
                return rc;
            r = pa->next;
        }
    }
    return 0;
}

/* The object at ref (allocated: checked when pushed) and its targets. */
static int report_object(walk_t *w, heap_ref_t ref)
{
    heap_t *h = w->h;
    uint32_t s = h->page_map[ref >> HEAP__PAGE_SHIFT];
    const heap__span_t *sp = heap__span(h, s);
    heap_snap_object_t o = { .ref = ref, .site = site_of(w, ref) };
    uint64_t nptrs;

    if (sp->state == HEAP__SPAN_LARGE) {
        uint64_t most = ((uint64_t)sp->npages << HEAP__PAGE_SHIFT) / sizeof(heap_ref_t);
        o.bytes = (uint64_t)sp->npages << HEAP__PAGE_SHIFT;
        o.size_class = 0;
        nptrs = sp->large_nptrs < most ? sp->large_nptrs : most;
    } else {
        o.bytes = sp->elem_bytes;
        o.size_class = sp->spanclass >> 1;
        nptrs = (sp->spanclass & 1) ? 0
                                     : heap__ptr_map_count(h->ptr_map, ref >> 3,
                                                           sp->elem_bytes / sizeof(heap_ref_t));
    }
    o.nptrs = (uint32_t)nptrs;
    int64_t k = collect_refs(w, (const heap_ref_t *)heap_ptr(h, ref), nptrs);
    if (k < 0)
        return (int)k;
    o.refs = w->refs;
    o.nrefs = (uint32_t)k;
    w->st->objects++;
    w->st->bytes += o.bytes;
    return w->ops->object ? w->ops->object(w->ops->arg, &o) : 0;
}

static int walk_locked(walk_t *w)
{
    heap__hdr_t *hdr = w->h->hdr;
    int rc;

    w->seen_words = ((uint64_t)hdr->hwm_page << HEAP__PAGE_SHIFT) / sizeof(uint64_t);
    w->seen = calloc((w->seen_words + 63) / 64 + 1, sizeof *w->seen);
    if (!w->seen)
        return -ENOMEM;
    if ((rc = load_sites(w)) != 0)
        return rc;
    if ((rc = walk_roots(w)) != 0)
        return rc;
    while (w->len > 0) {
        heap_ref_t ref = w->stack[--w->len];
        if ((rc = report_object(w, ref)) != 0)
            return rc;
    }
    return 0;
}

int heap_snapshot(heap_t *h, const heap_snap_ops_t *ops, heap_snap_stats_t *st)
{
    heap_snap_stats_t local;
    walk_t w = { .h = h, .ops = ops, .st = st ? st : &local };
    uint64_t t_request, stop_ns;

    memset(w.st, 0, sizeof *w.st);
    heap__world_stop(h, &t_request, &stop_ns);
    heap__lock_world(h);
    int rc = walk_locked(&w);
    heap__unlock_world(h);
    heap__world_start(h);
    w.st->pause_ns = heap__now_ns(CLOCK_MONOTONIC) - t_request;
    free(w.seen);
    free(w.stack);
    free(w.refs);
    free(w.sites);
    return rc;
}

heap_ref_t heap_roots_ref(const heap_roots_t *r)
{
    return r ? r->self : 0;
}

heap_ref_t heap_pool_ref(const heap_pool_t *p)
{
    return p ? p->self : 0;
}
