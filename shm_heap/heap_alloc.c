/*
** shm_heap/heap_alloc.c -- the allocator: the per-process span cache
** (mcache) and its lock-free fast path, refills from the central lists,
** large objects, and the direct path used for root stacks.
*/
#include "shm_heap/heap_int.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

static inline void set_error(heap_t *h, int rc)
{
    __atomic_store_n(&h->proc->last_error, rc, __ATOMIC_RELAXED);
}

/* Per-process counters: only this process writes them, others read. */
/* Also HEAP PROFILE's interval, as Go's mallocgc counts it: a sample is
** due when the slot's bytes reach the bytes left to the next sample. */
static inline void count_alloc(heap_t *h, uint64_t bytes)
{
    heap__proc_t *p = h->proc;
    heap__atomic_store(&p->alloc_objects, heap__atomic_load(&p->alloc_objects) + 1);
    heap__atomic_store(&p->alloc_bytes, heap__atomic_load(&p->alloc_bytes) + bytes);
    if (__builtin_expect(bytes >= h->prof_left, 0))
        h->prof_due = bytes;
    else
        h->prof_left -= bytes;
}

void heap__ptr_map_set_slow(uint64_t *map, uint64_t word, uint64_t nptrs,
                            uint64_t slot_words)
{
    uint64_t end = word + nptrs;
    for (uint64_t at = word; at < end;) {
        uint64_t bit = at & 63;
        uint64_t n = end - at < 64 - bit ? end - at : 64 - bit;
        uint64_t ones = n == 64 ? ~0ull : ((1ull << n) - 1) << bit;
        map[at >> 6] |= ones;
        at += n;
    }
    if (nptrs < slot_words)
        map[end >> 6] &= ~(1ull << (end & 63));
}

/* Zero an object's bytes and return its ref. Kept out of line (and
** reached by a tail call) so the fast path needs no saved registers. */
__attribute__((noinline)) static heap_ref_t zero_object(char *slot, uint64_t bytes,
                                                       heap_ref_t ref)
{
    memset(slot, 0, bytes);
    return ref;
}

#ifndef NDEBUG
/* Is the slot free by the span's alloc bitmap, and zero unless the cache
** says it may hold old bytes? (heap_int.h, OBJECTS) */
static bool slot_fresh(heap_t *h, const heap__mcache_t *mc, uint32_t idx, const char *slot,
                       uint64_t bytes)
{
    const heap__span_t *sp = heap__span(h, mc->span);
    if ((sp->bits[sp->sweep_word & 1][idx >> 6] >> (idx & 63)) & 1)
        return false;
    if (mc->needzero)
        return true;
    for (uint64_t i = 0; i < bytes; i++)
        if (slot[i] != 0)
            return false;
    return true;
}
#endif

/* Hand out the lowest free slot of the cached word. */
static inline heap_ref_t mcache_take(heap_t *h, heap__mcache_t *mc, uint64_t free_bits,
                                     uint32_t nptrs, uint64_t bytes)
{
    uint32_t idx = mc->bits_base + (uint32_t)__builtin_ctzll(free_bits);
    mc->free_bits = free_bits & (free_bits - 1);
    uint64_t off = mc->span_off + (uint64_t)idx * mc->elem_bytes;
    assert(idx < mc->nelems && slot_fresh(h, mc, idx, h->view.base + off, bytes));
    if (__builtin_expect(h->view.barrier_on != 0, 0))
        heap__mark_new(heap__span(h, mc->span), idx);   /* allocate black */
    if (nptrs)
        heap__ptr_map_set(h->ptr_map, off >> 3, nptrs, mc->elem_bytes >> 3);
    count_alloc(h, mc->elem_bytes);
    if (mc->needzero)
        return zero_object(h->view.base + off, bytes, off);
    return off;
}

/* Free bits of word (base >> 6) of the span, for slots >= from. */
static uint64_t span_free_word(const heap__span_t *sp, uint32_t base, uint32_t from)
{
    const uint64_t *alloc = sp->bits[sp->sweep_word & 1];
    uint64_t fb = ~alloc[base >> 6];
    if (from > base)
        fb &= ~0ull << (from - base);
    uint32_t left = sp->nelems - base;
    if (left < 64)
        fb &= (1ull << left) - 1;
    return fb;
}

/* Move the cache to the next bitmap word with a free slot. */
static bool mcache_next_word(heap_t *h, heap__mcache_t *mc)
{
    if (!mc->span)
        return false;
    const heap__span_t *sp = heap__span(h, mc->span);
    while (mc->bits_base + 64 < mc->nelems) {
        mc->bits_base += 64;
        uint64_t fb = span_free_word(sp, mc->bits_base, mc->bits_base);
        if (fb) {
            mc->free_bits = fb;
            return true;
        }
    }
    mc->free_bits = 0;
    return false;
}

static inline uint32_t mcache_freeindex(const heap__mcache_t *mc)
{
    uint32_t fi = mc->free_bits ? mc->bits_base + (uint32_t)__builtin_ctzll(mc->free_bits)
                                : mc->bits_base + 64;
    return fi < mc->nelems ? fi : mc->nelems;
}

void heap__mcache_writeback(heap_t *h)
{
    for (uint32_t spc = 0; spc < HEAP__NSPANCLASSES; spc++) {
        heap__mcache_t *mc = &h->mcache[spc];
        if (mc->span)
            heap__span(h, mc->span)->freeindex = mcache_freeindex(mc);
    }
}

void heap__mcache_revalidate(heap_t *h)
{
    uint32_t epoch = __atomic_load_n(&h->hdr->cache_epoch, __ATOMIC_ACQUIRE);
    if (epoch != h->cache_epoch) {
        memset(h->mcache, 0, sizeof h->mcache);
        h->cache_epoch = epoch;
    }
}

static void heap_live_sub(heap_t *h, uint64_t bytes)
{
    uint64_t old = __atomic_load_n(&h->hdr->heap_live_bytes, __ATOMIC_RELAXED);
    uint64_t want;
    do {
        want = old > bytes ? old - bytes : 0;
    } while (!__atomic_compare_exchange_n(&h->hdr->heap_live_bytes, &old, want, true,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

/* A store the compiler keeps in program order (release): a SIGKILL can
** land between any two, and the central repair reads what was written. */
static inline void store_u32(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Give one cached span back (central lock of its class held). A span with
** room is pushed: busy_page, counts, link, head (commit), owner 0, busy 0. */
static void mcache_release_locked(heap_t *h, heap__mcache_t *mc)
{
    heap__span_t *sp = heap__span(h, mc->span);
    heap__central_t *ct = &h->hdr->central[sp->spanclass];
    /* A cached span is ours and on no central list. */
    assert(sp->state == HEAP__SPAN_SMALL && sp->owner == h->attach_id);
    store_u32(&ct->busy_page, mc->span);
    store_u32(&sp->freeindex, mcache_freeindex(mc));
    store_u32(&sp->alloc_count, heap__span_count_allocated(sp));
    if (sp->alloc_count < sp->nelems) {
        heap_live_sub(h, (uint64_t)(sp->nelems - sp->alloc_count) * sp->elem_bytes);
        store_u32(&sp->next, ct->partial_head);
        store_u32(&ct->partial_head, mc->span);
        heap__fault(h, HEAP__FP_CENTRAL_PUSH);
    }
    store_u32(&sp->owner, 0);
    store_u32(&ct->busy_page, 0);
    memset(mc, 0, sizeof *mc);
}

void heap__mcache_flush(heap_t *h)
{
    if (__atomic_load_n(&h->hdr->cache_epoch, __ATOMIC_ACQUIRE) != h->cache_epoch) {
        heap__mcache_revalidate(h);
        return;
    }
    for (uint32_t spc = 0; spc < HEAP__NSPANCLASSES; spc++) {
        if (h->mcache[spc].span) {
            heap__central_lock(h, spc);
            mcache_release_locked(h, &h->mcache[spc]);
            heap__central_unlock(h, spc);
        }
    }
}

/* Take the head of spc's central list for this process (central lock
** held, list not empty). */
static uint32_t central_pop_locked(heap_t *h, uint32_t spc)
{
    heap__central_t *ct = &h->hdr->central[spc];
    uint32_t page = ct->partial_head;
    heap__span_t *sp = heap__span(h, page);
    /* The list holds spans of its class with owner 0 and room. */
    assert(sp->state == HEAP__SPAN_SMALL && sp->spanclass == spc && sp->owner == 0 &&
           sp->alloc_count < sp->nelems);
    store_u32(&ct->busy_page, page);
    store_u32(&ct->partial_head, sp->next);
    heap__fault(h, HEAP__FP_CENTRAL_POP);
    store_u32(&sp->next, 0);
    store_u32(&sp->owner, h->attach_id);
    store_u32(&ct->busy_page, 0);
    return page;
}

/* ---- Refill --------------------------------------------------------- */

/* Map a span's pages before this process writes there: another process
** may have used them last (heap__prefault). */
static void prefault(heap_t *h, uint64_t off, uint64_t bytes)
{
    heap__prefault(h, off, bytes, 64u << 10);
}

enum { REFILL_OK = 0, REFILL_RETRY = 1 };
#define REFILL_SWEEP_SPANS 64     /* spans per batch (one heap lock) a refill sweeps for its class */
#define REFILL_SWEEP_BATCHES 2

/* Get a span with free slots of span class spc into the cache: from the
** central list under central[spc] alone, else fresh pages from this
** process's cached run (heap_int.h, THE LOCKS, PAGE CACHE). May run (or wait for) a collection,
** after which the caller starts over. */
static int refill(heap_t *h, uint32_t spc, bool *collected)
{
    heap__hdr_t *hdr = h->hdr;
    heap__mcache_t *mc = &h->mcache[spc];
    const heap__class_t *c = &heap__classes[spc >> 1];

    heap__central_lock(h, spc);
    if (mc->span)
        mcache_release_locked(h, mc);
    heap__fault(h, HEAP__FP_REFILL_LOCKED);

    uint32_t page = hdr->central[spc].partial_head;
    uint64_t more = page ? (uint64_t)(c->nelems - heap__span(h, page)->alloc_count) * c->elem_bytes
                         : (uint64_t)c->nelems * c->elem_bytes;
    if (!*collected && heap__over_trigger(h, more)) {
        heap__central_unlock(h, spc);
        *collected = true;
        heap__collect(h, HEAP__GC_BY_PACER);
        return REFILL_RETRY;
    }

    bool fresh = false, needzero = false;
    uint32_t nfree;
    if (page) {
        central_pop_locked(h, spc);
        heap__span_t *sp = heap__span(h, page);
        nfree = sp->nelems - sp->alloc_count;
        heap__central_unlock(h, spc);
    } else {
        heap__central_unlock(h, spc);
        /* PAGE CACHE: most often without the heap lock. */
        int rc = heap__pcache_alloc(h, c->npages, &page, &needzero);
        if (rc != 0) {
            if (*collected)
                return HEAP_EOOM;
            *collected = true;
            heap__collect(h, HEAP__GC_BY_OOM);
            return REFILL_RETRY;
        }
        heap__span_init_small(h, page, spc, h->attach_id, needzero);
        heap__fault(h, HEAP__FP_FRESH_SPAN);
        nfree = c->nelems;
        fresh = true;
    }
    heap__span_t *sp = heap__span(h, page);
    prefault(h, (uint64_t)page << HEAP__PAGE_SHIFT, (uint64_t)sp->npages << HEAP__PAGE_SHIFT);

    __atomic_add_fetch(&hdr->heap_live_bytes, (uint64_t)nfree * sp->elem_bytes,
                       __ATOMIC_RELAXED);
    if (!(spc & 1))   /* Go's heapScan: the scannable bytes handed out */
        __atomic_add_fetch(&hdr->heap_scan_bytes, (uint64_t)nfree * sp->elem_bytes,
                           __ATOMIC_RELAXED);
    if (fresh && needzero) {
        /* One memset for the whole span beats one per object. */
        memset(h->view.base + ((uint64_t)page << HEAP__PAGE_SHIFT), 0,
               (uint64_t)sp->npages << HEAP__PAGE_SHIFT);
        sp->needzero = 0;
    }
    mc->span = page;
    mc->span_off = (uint64_t)page << HEAP__PAGE_SHIFT;
    mc->elem_bytes = sp->elem_bytes;
    mc->nelems = (uint16_t)sp->nelems;
    mc->needzero = (uint16_t)(sp->needzero != 0);
    mc->bits_base = sp->freeindex & ~63u;
    mc->free_bits = mc->bits_base < sp->nelems
                        ? span_free_word(sp, mc->bits_base, sp->freeindex) : 0;
    if (!mc->free_bits)
        mcache_next_word(h, mc);
    return REFILL_OK;
}

/* ---- Large objects -------------------------------------------------- */

static heap_ref_t alloc_large(heap_t *h, uint32_t nptrs, uint64_t bytes, bool *collected,
                              int *rc_out)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t npages64 = (bytes + HEAP__PAGE_BYTES - 1) >> HEAP__PAGE_SHIFT;
    if (npages64 > hdr->npages - hdr->first_page) {
        *rc_out = HEAP_EOOM;
        return 0;
    }
    uint32_t npages = (uint32_t)npages64;
    uint64_t span_bytes = npages64 << HEAP__PAGE_SHIFT;

    heap__lock(h);
    if (!*collected && heap__over_trigger(h, span_bytes)) {
        heap__unlock(h);
        *collected = true;
        heap__collect(h, HEAP__GC_BY_PACER);
        *rc_out = REFILL_RETRY;
        return 0;
    }
    uint32_t page;
    bool needzero;
    if (heap__pages_alloc(h, npages, &page, &needzero) != 0) {
        heap__unlock(h);
        if (*collected) {
            *rc_out = HEAP_EOOM;
            return 0;
        }
        *collected = true;
        heap__collect(h, HEAP__GC_BY_OOM);
        *rc_out = REFILL_RETRY;
        return 0;
    }
    heap__span_init_large(h, page, npages, bytes, nptrs, needzero);
    if (hdr->gc_phase == HEAP__GC_CONC_MARK)
        heap__mark_new(heap__span(h, page), 0);   /* allocate black */
    heap__unlock(h);
    if (h->view.barrier_on)
        heap__mark_assist_charge(h, span_bytes);

    /* The span is ours until the ref is returned: no collection can run
    ** while this process is RUNNING and has not reached a safepoint. */
    __atomic_add_fetch(&hdr->heap_live_bytes, span_bytes, __ATOMIC_RELAXED);
    if (nptrs)
        __atomic_add_fetch(&hdr->heap_scan_bytes, (uint64_t)nptrs * sizeof(heap_ref_t),
                           __ATOMIC_RELAXED);
    uint64_t off = (uint64_t)page << HEAP__PAGE_SHIFT;
    prefault(h, off, bytes);
    if (needzero)
        memset(h->view.base + off, 0, bytes);
    count_alloc(h, span_bytes);
    *rc_out = 0;
    return off;
}

/* ---- heap_alloc ----------------------------------------------------- */

static heap_ref_t alloc_slow_here(heap_t *h, uint32_t nptrs, size_t scalar_bytes);

typedef struct alloc_slow_call {
    heap_t *h;
    uint32_t nptrs;
    size_t scalar_bytes;
    heap_ref_t ref;
} alloc_slow_call_t;

static void alloc_slow_thunk(void *p)
{
    alloc_slow_call_t *c = p;
    c->ref = alloc_slow_here(c->h, c->nptrs, c->scalar_bytes);
}

/* The slow path, on the system stack (heap_set_stack_runner). */
static __attribute__((noinline)) heap_ref_t alloc_slow(heap_t *h, uint32_t nptrs,
                                                     size_t scalar_bytes)
{
    if (!heap__off_system_stack(h))
        return alloc_slow_here(h, nptrs, scalar_bytes);
    /* An interrupt (heap_interrupt) is delivered here, on the goroutine's
    ** own stack: its hook may end the goroutine. */
    if (__atomic_load_n(&h->interrupt_pending, __ATOMIC_SEQ_CST))
        heap_safepoint(h);
    alloc_slow_call_t c = {h, nptrs, scalar_bytes, 0};
    heap__systemstack(h, alloc_slow_thunk, &c);
    return c.ref;
}

static heap_ref_t alloc_slow_here(heap_t *h, uint32_t nptrs, size_t scalar_bytes)
{
    if (!h->entered) {
        set_error(h, -EINVAL);
        return 0;
    }
    uint64_t slot_bytes = (uint64_t)nptrs * sizeof(heap_ref_t);
    if (scalar_bytes > UINT64_MAX - slot_bytes - HEAP__PAGE_BYTES) {
        set_error(h, HEAP_EOOM);
        return 0;
    }
    uint64_t bytes = slot_bytes + scalar_bytes;
    bool collected = false;
    for (;;) {
        heap_safepoint(h);
        if (bytes > HEAP_MAX_SMALL_BYTES) {
            heap__sweep_credit(h, bytes);
            int rc;
            heap_ref_t r = alloc_large(h, nptrs, bytes, &collected, &rc);
            if (rc == REFILL_RETRY)
                continue;
            if (rc != 0)
                set_error(h, rc);
            return r;
        }
        uint32_t spc = heap__size_class(h, bytes) << 1 | (nptrs == 0);
        heap__mcache_t *mc = &h->mcache[spc];
        if (mc->free_bits || mcache_next_word(h, mc))
            return mcache_take(h, mc, mc->free_bits, nptrs, bytes);
        /* A span's worth of allocation: the assist it costs while marking,
        ** and the sweeping it owes while a lazy sweep runs (Go's
        ** proportional sweep), which may also put spans of its class on
        ** the list. */
        const heap__class_t *cl = &heap__classes[spc >> 1];
        uint64_t span_bytes = (uint64_t)cl->nelems * cl->elem_bytes;
        if (h->view.barrier_on)
            heap__mark_assist_charge(h, span_bytes);
        heap__sweep_credit(h, span_bytes);
        /* Like Go's mcentral.cacheSpan: while the class has nothing swept,
        ** sweep on a while before the heap grows. */
        for (int k = 0; k < REFILL_SWEEP_BATCHES &&
                        __atomic_load_n(&h->hdr->central[spc].partial_head,
                                        __ATOMIC_RELAXED) == 0; k++) {
            if (!heap__sweep_for_class(h, spc, REFILL_SWEEP_SPANS))
                break;
        }
        int rc = refill(h, spc, &collected);
        if (rc < 0) {
            set_error(h, rc);
            return 0;
        }
    }
}

static inline heap_ref_t alloc(heap_t *h, uint32_t nptrs, size_t scalar_bytes)
{
    uint64_t bytes = (uint64_t)nptrs * sizeof(heap_ref_t) + scalar_bytes;
    const uint32_t *stw_word = __atomic_load_n(&h->view.stw_word, __ATOMIC_RELAXED);
    if (__builtin_expect((__atomic_load_n(stw_word, __ATOMIC_RELAXED) & HEAP__POLL_STW) != 0 ||
                         !h->entered || scalar_bytes >= HEAP_MAX_SMALL_BYTES ||
                         bytes > HEAP_MAX_SMALL_BYTES, 0))
        return alloc_slow(h, nptrs, scalar_bytes);
    uint32_t spc = heap__size_class(h, bytes) << 1 | (nptrs == 0);
    heap__mcache_t *mc = &h->mcache[spc];
    uint64_t free_bits = mc->free_bits;
    if (__builtin_expect(free_bits == 0, 0))
        return alloc_slow(h, nptrs, scalar_bytes);
    return mcache_take(h, mc, free_bits, nptrs, bytes);
}

heap_ref_t heap_alloc_at(heap_t *h, uint32_t nptrs, size_t scalar_bytes, const char *site)
{
    heap_ref_t r = alloc(h, nptrs, scalar_bytes);
    if (__builtin_expect(h->prof_due != 0, 0) && r != 0)
        heap__prof_record(h, r, h->prof_due, site);
    return r;
}

heap_ref_t heap_alloc(heap_t *h, uint32_t nptrs, size_t scalar_bytes)
{
    return heap_alloc_at(h, nptrs, scalar_bytes, NULL);
}

/* ---- Direct allocation (heap lock held, then central[spc]) ---------- */

heap_ref_t heap__alloc_direct_locked(heap_t *h, uint64_t bytes)
{
    heap__hdr_t *hdr = h->hdr;
    uint32_t cls = heap__size_class(h, bytes);
    if (cls == 0) {
        uint64_t npages64 = (bytes + HEAP__PAGE_BYTES - 1) >> HEAP__PAGE_SHIFT;
        if (npages64 > hdr->npages)
            return 0;
        uint32_t page;
        bool needzero;
        if (heap__pages_alloc(h, (uint32_t)npages64, &page, &needzero) != 0)
            return 0;
        heap__span_init_large(h, page, (uint32_t)npages64, bytes, 0, needzero);
        if (hdr->gc_phase == HEAP__GC_CONC_MARK)
            heap__mark_new(heap__span(h, page), 0);
        uint64_t off = (uint64_t)page << HEAP__PAGE_SHIFT;
        if (needzero)
            memset(h->view.base + off, 0, bytes);
        return off;
    }

    uint32_t spc = cls << 1 | 1;
    heap__central_t *ct = &hdr->central[spc];
    heap__central_lock(h, spc);
    uint32_t page = ct->partial_head;
    if (page == 0) {
        const heap__class_t *c = &heap__classes[cls];
        bool needzero;
        if (heap__pages_alloc(h, c->npages, &page, &needzero) != 0) {
            heap__central_unlock(h, spc);
            return 0;
        }
        store_u32(&ct->busy_page, page);
        heap__span(h, page)->npages = c->npages;
        heap__span_init_small(h, page, spc, 0, needzero);
        store_u32(&heap__span(h, page)->next, 0);
        store_u32(&ct->partial_head, page);
        store_u32(&ct->busy_page, 0);
    }
    heap__span_t *sp = heap__span(h, page);
    uint64_t *alloc = sp->bits[sp->sweep_word & 1];
    uint32_t idx = sp->nelems;
    for (uint32_t base = sp->freeindex & ~63u; base < sp->nelems; base += 64) {
        uint64_t fb = span_free_word(sp, base, sp->freeindex);
        if (fb) {
            idx = base + (uint32_t)__builtin_ctzll(fb);
            break;
        }
    }
    assert(sp->state == HEAP__SPAN_SMALL && sp->spanclass == spc && sp->owner == 0);
    assert(idx < sp->nelems);   /* a span on the list has room */
    if (idx >= sp->nelems) {
        /* alloc_count said there was room: our own invariant is broken.
        ** Take the span off the list and report no memory. */
        store_u32(&ct->partial_head, sp->next);
        store_u32(&sp->next, 0);
        heap__central_unlock(h, spc);
        return 0;
    }
    alloc[idx >> 6] |= 1ull << (idx & 63);
    if (hdr->gc_phase == HEAP__GC_CONC_MARK)
        heap__mark_new(sp, idx);
    sp->alloc_count++;
    if (sp->alloc_count >= sp->nelems) {
        store_u32(&ct->partial_head, sp->next);
        store_u32(&sp->next, 0);
    }
    uint64_t off = ((uint64_t)page << HEAP__PAGE_SHIFT) + (uint64_t)idx * sp->elem_bytes;
    if (sp->needzero)
        memset(h->view.base + off, 0, bytes);
    heap__central_unlock(h, spc);
    return off;
}

uint64_t heap__footprint_bytes(heap_t *h, uint32_t nptrs, size_t scalar_bytes)
{
    uint64_t bytes = (uint64_t)nptrs * sizeof(heap_ref_t) + scalar_bytes;
    if (bytes <= HEAP_MAX_SMALL_BYTES)
        return heap__classes[heap__size_class(h, bytes)].elem_bytes;
    return (bytes + HEAP__PAGE_BYTES - 1) & ~(HEAP__PAGE_BYTES - 1);
}

/* ---- Object accessors ----------------------------------------------- */

/* The in-use span holding r (r is an object: the caller's contract). */
static const heap__span_t *obj_span(heap_t *h, heap_ref_t r)
{
    return heap__span(h, h->page_map[r >> HEAP__PAGE_SHIFT]);
}

uint32_t heap_obj_nptrs(heap_t *h, heap_ref_t r)
{
    const heap__span_t *sp = obj_span(h, r);
    if (sp->state == HEAP__SPAN_LARGE)
        return sp->large_nptrs;
    if (sp->spanclass & 1)
        return 0;
    return (uint32_t)heap__ptr_map_count(h->ptr_map, r >> 3, sp->elem_bytes >> 3);
}

size_t heap_obj_size(heap_t *h, heap_ref_t r)
{
    const heap__span_t *sp = obj_span(h, r);
    if (sp->state == HEAP__SPAN_LARGE)
        return (size_t)sp->npages << HEAP__PAGE_SHIFT;
    return sp->elem_bytes;
}
