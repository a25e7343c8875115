/*
** shm_heap/heap_prof.c -- the heap profile: allocation sites sampled as
** Go's MemProfileRate samples them, the samples kept beside the heap and
** counted freed by the sweep (heap_int.h, HEAP PROFILE).
*/
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/splitmix64.h"
#include "shm_heap/heap_int.h"

#define SAMPLES_FIRST_CAPACITY 256u

static const char *const unknown_site = "(unknown)";
static const char *const other_site = "(other)";

/* Go's nextSample: an exponential interval of mean rate bytes (at least
** 1); 0 with rate 1 (every allocation), UINT64_MAX when off. */
static uint64_t next_interval(heap_t *h)
{
    if (h->prof_rate == 0)
        return UINT64_MAX;
    if (h->prof_rate == 1)
        return 0;
    double u = (double)(splitmix64_next(&h->prof_rng) >> 11) * 0x1.0p-53;   /* [0, 1) */
    double x = -log1p(-u) * (double)h->prof_rate;
    if (x > 0x1.0p62)
        x = 0x1.0p62;
    return (uint64_t)x + 1;
}

void heap_prof_set_rate(heap_t *h, uint64_t rate, uint64_t seed)
{
    h->prof_rate = rate;
    h->prof_rng = seed;
    h->prof_due = 0;
    h->prof_left = next_interval(h);
}

uint64_t heap_prof_rate(const heap_t *h)
{
    return h->prof_rate;
}

static struct heap__prof_sites *sites_of(heap_t *h)
{
    heap_ref_t r = h->proc->prof_sites;
    return r ? heap_ptr(h, r) : NULL;
}

static struct heap__prof_samples *samples_of(heap_t *h)
{
    heap_ref_t r = h->proc->prof_samples;
    return r ? heap_ptr(h, r) : NULL;
}

/* An object for the profile of `bytes`, under the heap lock; 0 when the
** heap is full (the sample is then not taken: no collection here). */
static heap_ref_t prof_alloc(heap_t *h, uint64_t bytes)
{
    heap__lock(h);
    heap_ref_t ref = heap__alloc_direct_locked(h, bytes);
    heap__unlock(h);
    return ref;
}

/* The index of site in this process's sites, adding it when new; the
** "(other)" site when the table is full. -1 when no sites object can be
** made. */
static int site_index(heap_t *h, const char *site)
{
    if (!site)
        site = unknown_site;
    if (site == h->prof_last_site)
        return (int)h->prof_last_index;
    struct heap__prof_sites *ss = sites_of(h);
    if (!ss) {
        heap_ref_t ref = prof_alloc(h, sizeof *ss);
        if (!ref)
            return -1;
        ss = heap_ptr(h, ref);
        memset(ss, 0, sizeof *ss);
        ss->self = ref;
        ss->kind = HEAP__PROF_SITES_MAGIC;
        h->proc->prof_sites = ref;
    }
    uint32_t n = ss->nsites, i;
    for (i = 0; i < n; i++)
        if (h->prof_site_ptrs[i] == site)
            break;
    if (i == n) {
        if (n >= HEAP__PROF_OTHER) {
            site = other_site;
            for (i = 0; i < n && h->prof_site_ptrs[i] != site; i++)
                ;
        }
        if (i == n) {
            heap_prof_site_t *s = &ss->sites[n];
            memset(s, 0, sizeof *s);
            snprintf(s->name, sizeof s->name, "%s", site);
            h->prof_site_ptrs[n] = site;
            __atomic_store_n(&ss->nsites, n + 1, __ATOMIC_RELEASE);
        }
    }
    h->prof_last_site = site;
    h->prof_last_index = i;
    return (int)i;
}

/* Room for one more sample entry: the table, grown if full; NULL when
** no room can be made. */
static struct heap__prof_samples *samples_room(heap_t *h)
{
    struct heap__prof_samples *old = samples_of(h);
    if (old && old->count < old->capacity)
        return old;
    uint32_t cap = old ? old->capacity * 2 : SAMPLES_FIRST_CAPACITY;
    if (old && old->capacity >= (1u << 30))
        return NULL;
    heap_ref_t ref = prof_alloc(h, sizeof *old + (uint64_t)cap * sizeof old->samples[0]);
    if (!ref)
        return NULL;
    struct heap__prof_samples *t = heap_ptr(h, ref);
    t->self = ref;
    t->kind = HEAP__PROF_SAMPLES_MAGIC;
    t->capacity = cap;
    t->count = 0;
    if (old) {
        memcpy(t->samples, old->samples, old->count * sizeof old->samples[0]);
        t->count = old->count;
        old->kind = 0;      /* unlinked below: the next sweep frees it */
    }
    h->proc->prof_samples = ref;
    return t;
}

static void add_u64(uint64_t *p, uint64_t v)
{
    heap__atomic_store(p, heap__atomic_load(p) + v);
}

void heap__prof_record(heap_t *h, heap_ref_t ref, uint64_t bytes, const char *site)
{
    h->prof_due = 0;
    h->prof_left = next_interval(h);
    if (h->prof_rate == 0)
        return;
    int i = site_index(h, site);
    struct heap__prof_samples *t = i < 0 ? NULL : samples_room(h);
    if (!t)
        return;             /* no room for the profile: the sample is not taken */
    struct heap__prof_sites *ss = sites_of(h);
    add_u64(&ss->sites[i].alloc_objects, 1);
    add_u64(&ss->sites[i].alloc_bytes, bytes);
    struct heap__prof_sample *e = &t->samples[t->count];
    e->ref = ref;
    e->bytes = bytes;
    e->site = (uint32_t)i;
    e->reserved = 0;
    t->count++;
}

void heap_prof_reset(heap_t *h)
{
    struct heap__prof_samples *t = samples_of(h);
    struct heap__prof_sites *ss = sites_of(h);
    if (t)
        t->count = 0;
    if (ss) {
        uint32_t n = ss->nsites;
        for (uint32_t i = 0; i < n; i++) {
            heap_prof_site_t *s = &ss->sites[i];
            heap__atomic_store(&s->alloc_objects, 0);
            heap__atomic_store(&s->alloc_bytes, 0);
            heap__atomic_store(&s->free_objects, 0);
            heap__atomic_store(&s->free_bytes, 0);
            for (int k = 0; k < 4; k++)
                heap__atomic_store(&ss->gc[i][k], 0);
        }
        heap__atomic_store(&ss->gc_cycle, 0);
    }
}

int heap_prof_read(heap_t *h, bool at_last_gc, heap_prof_site_t *out, int max,
                   uint64_t *cycle_out)
{
    if (cycle_out)
        *cycle_out = 0;
    heap_ref_t r = __atomic_load_n(&h->proc->prof_sites, __ATOMIC_ACQUIRE);
    if (!r)
        return 0;
    struct heap__prof_sites *ss = heap_ptr(h, r);
    int n = (int)__atomic_load_n(&ss->nsites, __ATOMIC_ACQUIRE);
    if (at_last_gc && cycle_out)
        *cycle_out = heap__atomic_load(&ss->gc_cycle);
    for (int i = 0; i < n && i < max; i++) {
        heap_prof_site_t *s = &ss->sites[i];
        memcpy(out[i].name, s->name, sizeof out[i].name);
        out[i].name[sizeof out[i].name - 1] = '\0';
        if (at_last_gc) {
            out[i].alloc_objects = heap__atomic_load(&ss->gc[i][0]);
            out[i].alloc_bytes = heap__atomic_load(&ss->gc[i][1]);
            out[i].free_objects = heap__atomic_load(&ss->gc[i][2]);
            out[i].free_bytes = heap__atomic_load(&ss->gc[i][3]);
        } else {
            out[i].alloc_objects = heap__atomic_load(&s->alloc_objects);
            out[i].alloc_bytes = heap__atomic_load(&s->alloc_bytes);
            out[i].free_objects = heap__atomic_load(&s->free_objects);
            out[i].free_bytes = heap__atomic_load(&s->free_bytes);
        }
    }
    return n;
}

/* Is the object at ref marked in this cycle? (An entry always names an
** allocated object; anything else reads as marked, so it is kept.) */
static bool marked(heap_t *h, heap_ref_t ref)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t page = ref >> HEAP__PAGE_SHIFT;
    if (page < hdr->first_page || page >= hdr->hwm_page)
        return true;
    uint32_t s = h->page_map[page];
    if (!s)
        return true;
    const heap__span_t *sp = heap__span(h, s);
    uint64_t off = ref - ((uint64_t)s << HEAP__PAGE_SHIFT);
    uint32_t idx;
    if (sp->state == HEAP__SPAN_SMALL) {
        idx = (uint32_t)((off * sp->div_magic) >> 32);
        if ((uint64_t)idx * sp->elem_bytes != off || idx >= sp->nelems)
            return true;
    } else if (sp->state == HEAP__SPAN_LARGE && off == 0) {
        idx = 0;
    } else {
        return true;
    }
    const uint64_t *mark = sp->bits[(sp->sweep_word & 1) ^ 1];
    return (mark[idx >> 6] >> (idx & 63)) & 1;
}

/* A profile object of process i, or NULL if ref is not one of `kind`. */
static void *prof_object(heap_t *h, heap_ref_t ref, uint32_t kind)
{
    if (!ref || heap__check_ref(h, ref, true, NULL, 0) != 0)
        return NULL;
    struct heap__prof_sites *o = heap_ptr(h, ref);   /* self, kind lead both */
    return o->self == ref && o->kind == kind ? (void *)o : NULL;
}

/* Publish the sites' figures as of collection `cycle` (world stopped). */
static void publish(struct heap__prof_sites *ss, uint64_t cycle)
{
    uint32_t n = ss->nsites < HEAP_PROF_SITES ? ss->nsites : HEAP_PROF_SITES;
    for (uint32_t i = 0; i < n; i++) {
        heap__atomic_store(&ss->gc[i][0], heap__atomic_load(&ss->sites[i].alloc_objects));
        heap__atomic_store(&ss->gc[i][1], heap__atomic_load(&ss->sites[i].alloc_bytes));
        heap__atomic_store(&ss->gc[i][2], heap__atomic_load(&ss->sites[i].free_objects));
        heap__atomic_store(&ss->gc[i][3], heap__atomic_load(&ss->sites[i].free_bytes));
    }
    heap__atomic_store(&ss->gc_cycle, cycle);
}

void heap__prof_sweep_locked(heap_t *h, uint64_t cycle)
{
    heap__hdr_t *hdr = h->hdr;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        if (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) == HEAP__PROC_FREE)
            continue;
        struct heap__prof_sites *ss = prof_object(h, p->prof_sites, HEAP__PROF_SITES_MAGIC);
        struct heap__prof_samples *t =
            prof_object(h, p->prof_samples, HEAP__PROF_SAMPLES_MAGIC);
        if (!ss)
            continue;
        if (!t) {
            publish(ss, cycle);
            continue;
        }
        uint64_t n = t->count < t->capacity ? t->count : t->capacity;
        for (uint64_t k = 0; k < n;) {
            struct heap__prof_sample *e = &t->samples[k];
            if (marked(h, e->ref)) {
                k++;
                continue;
            }
            if (e->site < HEAP_PROF_SITES) {
                add_u64(&ss->sites[e->site].free_objects, 1);
                add_u64(&ss->sites[e->site].free_bytes, e->bytes);
            }
            *e = t->samples[--n];
        }
        t->count = n;
        publish(ss, cycle);
    }
}
