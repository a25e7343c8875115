/*
** shm_heap/heap_verify.c -- heap_verify(): stop the world and check every
** invariant written down in heap_int.h.
*/
#include "shm_heap/heap_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 3, 4)))
static int fail(char *why, size_t whysize, const char *fmt, ...)
{
    if (why && whysize) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whysize, fmt, ap);
        va_end(ap);
    }
    return HEAP_ECORRUPT;
}

/* Span owned by no live attachment: its freeindex may be stale. */
static bool span_orphan(heap_t *h, const heap__span_t *sp)
{
    return sp->owner != 0 && !heap__attach_live(h, sp->owner);
}

int heap__check_ref(heap_t *h, heap_ref_t ref, bool allow_orphan_slot, char *why,
                    size_t whysize)
{
    heap__hdr_t *hdr = h->hdr;
    if (ref & 7)
        return fail(why, whysize, "ref %#llx misaligned", (unsigned long long)ref);
    uint64_t at = ref;
    uint64_t page = at >> HEAP__PAGE_SHIFT;
    uint32_t hwm = __atomic_load_n(&hdr->hwm_page, __ATOMIC_ACQUIRE);
    if (page < hdr->first_page || page >= hwm)
        return fail(why, whysize, "ref %#llx outside the heap pages",
                    (unsigned long long)ref);
    uint32_t s = h->page_map[page];
    if (s < hdr->first_page || s > page)
        return fail(why, whysize, "ref %#llx on page %llu with no span",
                    (unsigned long long)ref, (unsigned long long)page);
    heap__span_t *sp = heap__span(h, s);
    uint64_t off = at - ((uint64_t)s << HEAP__PAGE_SHIFT);
    if (sp->state == HEAP__SPAN_LARGE) {
        if (off != 0)
            return fail(why, whysize, "ref %#llx inside a large object",
                        (unsigned long long)ref);
        return 0;
    }
    if (sp->state != HEAP__SPAN_SMALL)
        return fail(why, whysize, "ref %#llx into a free span", (unsigned long long)ref);
    if (off % sp->elem_bytes != 0 || off / sp->elem_bytes >= sp->nelems)
        return fail(why, whysize, "ref %#llx not at a slot", (unsigned long long)ref);
    uint32_t idx = (uint32_t)(off / sp->elem_bytes);
    if (!heap__span_slot_allocated(sp, idx) && !(allow_orphan_slot && span_orphan(h, sp)))
        return fail(why, whysize, "ref %#llx names a free slot", (unsigned long long)ref);
    return 0;
}

typedef struct vctx {
    heap_t *h;
    char *why;
    size_t whysize;
    uint8_t *start;        /* per page: 1 = span start, 2 = listed */
    uint64_t free_spans, central_spans;
} vctx_t;

static int check_slots(vctx_t *v, const heap_ref_t *slots, uint64_t n, const char *what,
                       uint64_t at)
{
    char sub[160];
    for (uint64_t i = 0; i < n; i++) {
        if (slots[i] && heap__check_ref(v->h, slots[i], true, sub, sizeof sub) != 0)
            return fail(v->why, v->whysize, "%s %#llx slot %llu: %s", what,
                        (unsigned long long)at, (unsigned long long)i, sub);
    }
    return 0;
}

static int check_small(vctx_t *v, uint32_t s, heap__span_t *sp)
{
    heap_t *h = v->h;
    uint32_t cls = sp->spanclass >> 1;
    const heap__class_t *c = &heap__classes[cls];
    if (cls == 0 || cls >= HEAP__NCLASSES || sp->elem_bytes != c->elem_bytes ||
        sp->nelems != c->nelems || sp->npages != c->npages || sp->div_magic != c->div_magic)
        return fail(v->why, v->whysize, "span %u: class %u geometry wrong", s, cls);
    if (sp->freeindex > sp->nelems)
        return fail(v->why, v->whysize, "span %u: freeindex %u > nelems %u", s,
                    sp->freeindex, sp->nelems);
    uint32_t sel = (uint32_t)(sp->sweep_word & 1);
    for (uint32_t w = 0; w < HEAP__BITMAP_WORDS; w++) {
        if (sp->bits[sel ^ 1][w] && v->h->hdr->gc_phase != HEAP__GC_CONC_MARK)
            return fail(v->why, v->whysize, "span %u: mark bits set outside a cycle", s);
        uint32_t left = w * 64 < sp->nelems ? sp->nelems - w * 64 : 0;
        uint64_t valid = left >= 64 ? ~0ull : (1ull << left) - 1;
        if (sp->bits[sel][w] & ~valid)
            return fail(v->why, v->whysize, "span %u: alloc bits past nelems", s);
    }
    bool orphan = span_orphan(h, sp);
    if (sp->owner == 0) {
        uint32_t count = heap__span_count_allocated(sp);
        if (sp->alloc_count != count)
            return fail(v->why, v->whysize, "span %u: alloc_count %u, bitmap says %u", s,
                        sp->alloc_count, count);
        if (count < sp->nelems)
            v->central_spans++;
    }
    if (orphan)
        return 0;   /* slots past a stale freeindex may be half-written */
    for (uint32_t i = 0; i < sp->nelems; i++) {
        if (!heap__span_slot_allocated(sp, i))
            continue;
        uint64_t slot_off = ((uint64_t)s << HEAP__PAGE_SHIFT) + (uint64_t)i * sp->elem_bytes;
        if (sp->spanclass & 1)
            continue;   /* noscan: no slots to check */
        uint64_t nptrs = heap__ptr_map_count(h->ptr_map, slot_off >> 3, sp->elem_bytes >> 3);
        if (nptrs == 0)
            return fail(v->why, v->whysize, "object %#llx: no slots in a scan span",
                        (unsigned long long)slot_off);
        int rc = check_slots(v, (const heap_ref_t *)(h->view.base + slot_off), nptrs,
                             "object", slot_off);
        if (rc)
            return rc;
    }
    return 0;
}

static int check_large(vctx_t *v, uint32_t s, heap__span_t *sp)
{
    heap_t *h = v->h;
    uint32_t sel = (uint32_t)(sp->sweep_word & 1);
    if (sp->bits[sel ^ 1][0] && h->hdr->gc_phase != HEAP__GC_CONC_MARK)
        return fail(v->why, v->whysize, "large span %u: mark bit set outside a cycle", s);
    if (sp->bits[sel][0] != 1)
        return fail(v->why, v->whysize, "large span %u: alloc bit clear", s);
    uint64_t span_bytes = (uint64_t)sp->npages << HEAP__PAGE_SHIFT;
    if (sp->large_bytes > span_bytes || sp->large_bytes + HEAP__PAGE_BYTES <= span_bytes)
        return fail(v->why, v->whysize, "large span %u: %llu bytes in %u pages", s,
                    (unsigned long long)sp->large_bytes, sp->npages);
    uint64_t off = (uint64_t)s << HEAP__PAGE_SHIFT;
    if ((uint64_t)sp->large_nptrs * sizeof(heap_ref_t) > sp->large_bytes)
        return fail(v->why, v->whysize, "large object %#llx: %u slots in %llu bytes",
                    (unsigned long long)off, sp->large_nptrs,
                    (unsigned long long)sp->large_bytes);
    return check_slots(v, (const heap_ref_t *)(h->view.base + off), sp->large_nptrs,
                       "large object", off);
}

static int check_spans(vctx_t *v)
{
    heap_t *h = v->h;
    heap__hdr_t *hdr = h->hdr;
    uint64_t inuse = 0, released = 0;
    bool prev_free = false, prev_released = false;
    uint32_t s;
    for (s = hdr->first_page; s < hdr->hwm_page;) {
        heap__span_t *sp = heap__span(h, s);
        uint32_t n = sp->npages;
        if (n == 0 || n > hdr->hwm_page - s)
            return fail(v->why, v->whysize, "span %u: %u pages runs past hwm %u", s, n,
                        hdr->hwm_page);
        v->start[s] = 1;
        if (sp->state == HEAP__SPAN_FREE) {
            /* Neighbours merge in the walk, except released with not. */
            if (prev_free && !prev_released && !sp->released)
                return fail(v->why, v->whysize, "span %u: free span after a free span", s);
            if (sp->released > 1)
                return fail(v->why, v->whysize, "span %u: released %u", s, sp->released);
            if (sp->released)
                released += n;
            prev_released = sp->released != 0;
            for (uint32_t p = s; p < s + n; p++) {
                if (h->page_map[p] != 0)
                    return fail(v->why, v->whysize, "free page %u mapped to %u", p,
                                h->page_map[p]);
            }
            v->free_spans++;
            prev_free = true;
        } else if (sp->state == HEAP__SPAN_SMALL || sp->state == HEAP__SPAN_LARGE) {
            for (uint32_t p = s; p < s + n; p++) {
                if (h->page_map[p] != s)
                    return fail(v->why, v->whysize, "page %u of span %u mapped to %u", p, s,
                                h->page_map[p]);
            }
            int rc = sp->state == HEAP__SPAN_SMALL ? check_small(v, s, sp)
                                                   : check_large(v, s, sp);
            if (rc)
                return rc;
            inuse += n;
            prev_free = false;
        } else if (sp->state == HEAP__SPAN_CACHED) {
            /* PAGE CACHE: an attachment's run (it may have died, not yet
            ** retired), unmapped, not in use. */
            bool known = false;
            for (uint32_t i = 0; i < HEAP_MAX_PROCS && !known; i++) {
                const heap__proc_t *p = &hdr->procs[i];
                known = sp->owner != 0 && p->attach_id == sp->owner &&
                        __atomic_load_n(&p->state, __ATOMIC_SEQ_CST) != HEAP__PROC_FREE;
            }
            if (!known)
                return fail(v->why, v->whysize, "span %u: cached for attachment %u, not attached",
                            s, sp->owner);
            for (uint32_t p = s; p < s + n; p++) {
                if (h->page_map[p] != 0)
                    return fail(v->why, v->whysize, "cached page %u mapped to %u", p,
                                h->page_map[p]);
            }
            prev_free = false;
        } else {
            return fail(v->why, v->whysize, "span %u: bad state %u", s, sp->state);
        }
        s += n;
    }
    if (inuse != heap__atomic_load(&hdr->inuse_pages))
        return fail(v->why, v->whysize, "in-use pages %llu, counter says %llu",
                    (unsigned long long)inuse,
                    (unsigned long long)heap__atomic_load(&hdr->inuse_pages));
    if (released != heap__atomic_load(&hdr->released_pages))
        return fail(v->why, v->whysize, "released pages %llu, counter says %llu",
                    (unsigned long long)released,
                    (unsigned long long)heap__atomic_load(&hdr->released_pages));
    return 0;
}

static int check_lists(vctx_t *v)
{
    heap_t *h = v->h;
    heap__hdr_t *hdr = h->hdr;
    uint64_t listed = 0;
    for (uint32_t b = 0; b < HEAP__FREE_BUCKETS; b++) {
        bool nonempty = (hdr->free_nonempty[b >> 6] >> (b & 63)) & 1;
        if (nonempty != (hdr->free_head[b] != 0))
            return fail(v->why, v->whysize, "free bucket %u: mask says %d", b, nonempty);
        for (uint32_t p = hdr->free_head[b]; p; p = heap__span(h, p)->next) {
            if (p >= hdr->hwm_page || v->start[p] != 1)
                return fail(v->why, v->whysize, "free bucket %u: page %u not an unlisted span start",
                            b, p);
            heap__span_t *sp = heap__span(h, p);
            uint32_t want = sp->npages < HEAP__FREE_BUCKETS ? sp->npages - 1 : HEAP__FREE_BUCKETS - 1;
            if (sp->state != HEAP__SPAN_FREE || want != b)
                return fail(v->why, v->whysize, "free bucket %u: span %u state %u, %u pages", b,
                            p, sp->state, sp->npages);
            v->start[p] = 2;
            listed++;
        }
    }
    if (listed != v->free_spans)
        return fail(v->why, v->whysize, "%llu free spans, %llu on free lists",
                    (unsigned long long)v->free_spans, (unsigned long long)listed);

    listed = 0;
    for (uint32_t spc = 0; spc < HEAP__NSPANCLASSES; spc++) {
        if (hdr->central[spc].busy_page != 0)
            return fail(v->why, v->whysize, "central list %u: span %u left busy", spc,
                        hdr->central[spc].busy_page);
        for (uint32_t p = hdr->central[spc].partial_head; p; p = heap__span(h, p)->next) {
            if (p >= hdr->hwm_page || v->start[p] != 1)
                return fail(v->why, v->whysize, "central list %u: page %u not an unlisted span start",
                            spc, p);
            heap__span_t *sp = heap__span(h, p);
            if (sp->state != HEAP__SPAN_SMALL || sp->spanclass != spc || sp->owner != 0 ||
                sp->alloc_count >= sp->nelems)
                return fail(v->why, v->whysize, "central list %u: span %u does not belong", spc, p);
            v->start[p] = 2;
            listed++;
        }
    }
    if (listed != v->central_spans)
        return fail(v->why, v->whysize, "%llu spans with room, %llu on central lists",
                    (unsigned long long)v->central_spans, (unsigned long long)listed);
    return 0;
}

static int check_root_object(vctx_t *v, heap_ref_t ref, uint32_t i, uint32_t kind)
{
    heap_t *h = v->h;
    char sub[160];
    if (heap__check_ref(h, ref, true, sub, sizeof sub) != 0)
        return fail(v->why, v->whysize, "process %u: root object: %s", i, sub);
    const struct heap_roots *r = heap_ptr(h, ref);
    const heap__proc_t *p = &h->hdr->procs[i];
    if (r->kind != kind || r->self != ref || r->proc_index != i ||
        r->attach_id != p->attach_id || r->depth > r->capacity)
        return fail(v->why, v->whysize, "process %u: root object %#llx header broken", i,
                    (unsigned long long)ref);
    uint64_t room = heap_obj_size(h, ref);
    if (sizeof(struct heap_roots) + (uint64_t)r->capacity * sizeof(heap_ref_t) > room)
        return fail(v->why, v->whysize, "process %u: root object %#llx capacity %u > object",
                    i, (unsigned long long)ref, r->capacity);
    return check_slots(v, r->slots, kind == HEAP__GLOBALS_MAGIC ? r->capacity : r->depth,
                       "root stack", ref);
}

/* A pool area: header sane, counts within the halves, every slot nil or
** an object, nil past each half's count. */
static int check_pool(vctx_t *v, heap_ref_t ref, uint32_t i)
{
    heap_t *h = v->h;
    if (!heap__pool_valid(h, ref, i))
        return fail(v->why, v->whysize, "process %u: pool area %#llx header broken", i,
                    (unsigned long long)ref);
    const struct heap_pool *p = heap_ptr(h, ref);
    if (p->attach_id != h->hdr->procs[i].attach_id)
        return fail(v->why, v->whysize, "process %u: pool area %#llx of another attachment",
                    i, (unsigned long long)ref);
    uint64_t c = p->counts;
    uint32_t count[2];
    count[heap__pool_primary_half(c)] = heap__pool_primary_count(c);
    count[heap__pool_primary_half(c) ^ 1] = heap__pool_victim_count(c);
    for (uint32_t k = 0; k < 2; k++) {
        const heap_ref_t *slots = &p->slots[(uint64_t)k * p->half];
        if (count[k] > p->half)
            return fail(v->why, v->whysize, "pool area %#llx: half %u holds %u > %u",
                        (unsigned long long)ref, k, count[k], p->half);
        int rc = check_slots(v, slots, count[k], "pool area", ref);
        if (rc)
            return rc;
        for (uint32_t j = count[k]; j < p->half; j++) {
            if (slots[j])
                return fail(v->why, v->whysize, "pool area %#llx: half %u slot %u past the count",
                            (unsigned long long)ref, k, j);
        }
    }
    return 0;
}

static int check_procs(vctx_t *v)
{
    heap_t *h = v->h;
    heap__hdr_t *hdr = h->hdr;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        uint32_t st = __atomic_load_n(&p->state, __ATOMIC_SEQ_CST);
        if (st > HEAP__PROC_DEAD)
            return fail(v->why, v->whysize, "process %u: bad state %u", i, st);
        if (st == HEAP__PROC_FREE)
            continue;
        if (p->pid <= 0 || p->attach_id == 0)
            return fail(v->why, v->whysize, "process %u: pid %d attach %u", i, p->pid,
                        p->attach_id);
        for (uint32_t j = i + 1; j < HEAP_MAX_PROCS; j++) {
            if (hdr->procs[j].state != HEAP__PROC_FREE && hdr->procs[j].attach_id == p->attach_id)
                return fail(v->why, v->whysize, "processes %u and %u share attach id", i, j);
        }
        heap_ref_t prev = 0;
        uint64_t guard = (uint64_t)hdr->npages * HEAP__MAX_NELEMS;
        for (heap_ref_t r = p->roots_head; r; r = ((struct heap_roots *)heap_ptr(h, r))->next) {
            int rc = check_root_object(v, r, i, HEAP__ROOTS_MAGIC);
            if (rc)
                return rc;
            if (((struct heap_roots *)heap_ptr(h, r))->prev != prev)
                return fail(v->why, v->whysize, "process %u: root list back link broken", i);
            prev = r;
            if (guard-- == 0)
                return fail(v->why, v->whysize, "process %u: root list loops", i);
        }
        if (p->globals) {
            int rc = check_root_object(v, p->globals, i, HEAP__GLOBALS_MAGIC);
            if (rc)
                return rc;
        }
        prev = 0;
        guard = (uint64_t)hdr->npages * HEAP__MAX_NELEMS;
        for (heap_ref_t r = p->pools_head; r; r = ((struct heap_pool *)heap_ptr(h, r))->next) {
            int rc = check_pool(v, r, i);
            if (rc)
                return rc;
            if (((struct heap_pool *)heap_ptr(h, r))->prev != prev)
                return fail(v->why, v->whysize, "process %u: pool list back link broken", i);
            prev = r;
            if (guard-- == 0)
                return fail(v->why, v->whysize, "process %u: pool list loops", i);
        }
    }
    return 0;
}

static int verify_locked(heap_t *h, char *why, size_t whysize)
{
    heap__hdr_t *hdr = h->hdr;
    if (hdr->magic != HEAP__MAGIC || hdr->version != HEAP__LAYOUT_VERSION)
        return fail(why, whysize, "bad magic or version");
    if (hdr->gc_phase != HEAP__GC_IDLE && hdr->gc_phase != HEAP__GC_CONC_MARK)
        return fail(why, whysize, "collection phase %u outside a cycle", hdr->gc_phase);
    if (hdr->hist_seq & 1)
        return fail(why, whysize, "history sequence odd");
    if (hdr->hwm_page < hdr->first_page || hdr->hwm_page > hdr->commit_page ||
        hdr->commit_page > hdr->npages)
        return fail(why, whysize, "page marks first %u hwm %u commit %u npages %u",
                    hdr->first_page, hdr->hwm_page, hdr->commit_page, hdr->npages);
    vctx_t v = { .h = h, .why = why, .whysize = whysize };
    v.start = calloc(hdr->hwm_page + 1, 1);
    if (!v.start)
        return fail(why, whysize, "out of memory for the check");
    int rc = check_spans(&v);
    if (!rc)
        rc = check_lists(&v);
    if (!rc)
        rc = check_procs(&v);
    free(v.start);
    return rc;
}

int heap_verify(heap_t *h, char *why, size_t whysize)
{
    uint64_t t_request, stop_ns;
    if (why && whysize)
        why[0] = '\0';
    heap__world_stop(h, &t_request, &stop_ns);
    heap__lock_world(h);
    heap__sweep_finish_locked(h, true);   /* LAZY SWEEP: nothing half-swept */
    /* PAGE CACHE: as the next collection would, the page caches of the
    ** processes that died back (one may have died half way through a cut
    ** or a span's init), and the count of pages in use made again if a
    ** walk beside a cut asked. */
    heap__hdr_t *hdr = h->hdr;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        if (i != h->proc_index && heap__proc_gone(p, __atomic_load_n(&p->state, __ATOMIC_SEQ_CST)))
            heap__pcache_reclaim_locked(h, p->attach_id, true);
    }
    heap__inuse_recount_locked(h);
    heap__coalesce_locked(h);   /* PAGE CACHE: runs given back since, merged */
    int rc = verify_locked(h, why, whysize);
    heap__unlock_world(h);
    heap__world_start(h);
    return rc;
}
