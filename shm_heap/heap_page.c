/*
** shm_heap/heap_page.c -- size classes, the page heap, and the span walk
** that sweeps, coalesces and rebuilds every list (see heap_int.h).
**
** Page heap choice: free spans sit in 128 singly linked lists by length
** (exact for 1..127 pages, first fit among the >= 128-page spans), with a
** 128-bit "non-empty" mask so a request finds the smallest fitting list
** with two ctz. Pages are only ever freed by a sweep, and the sweep already
** walks every span in address order, so it coalesces neighbours and
** rebuilds the lists from scratch (ascending addresses: allocation prefers
** low pages). Between sweeps the page heap only splits. That keeps the
** structure crash-safe by construction: the lists are derived data, the
** walk is the truth, and a repair is the same walk.
*/
#include "shm_heap/heap_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Go 1.19's size classes (runtime/sizeclasses.go): slot bytes and pages
** per span. nelems and the division magic follow from them. */
#define C(bytes, pages) \
    { (bytes), (pages), (uint32_t)(((pages) * 8192u) / (bytes)), \
      (uint32_t)(0xffffffffu / (bytes) + 1u) }
const heap__class_t heap__classes[HEAP__NCLASSES] = {
    {0, 0, 0, 0},
    C(8, 1),     C(16, 1),    C(24, 1),    C(32, 1),    C(48, 1),
    C(64, 1),    C(80, 1),    C(96, 1),    C(112, 1),   C(128, 1),
    C(144, 1),   C(160, 1),   C(176, 1),   C(192, 1),   C(208, 1),
    C(224, 1),   C(240, 1),   C(256, 1),   C(288, 1),   C(320, 1),
    C(352, 1),   C(384, 1),   C(416, 1),   C(448, 1),   C(480, 1),
    C(512, 1),   C(576, 1),   C(640, 1),   C(704, 1),   C(768, 1),
    C(896, 1),   C(1024, 1),  C(1152, 1),  C(1280, 1),  C(1408, 2),
    C(1536, 1),  C(1792, 2),  C(2048, 1),  C(2304, 2),  C(2688, 1),
    C(3072, 3),  C(3200, 2),  C(3456, 3),  C(4096, 1),  C(4864, 3),
    C(5376, 2),  C(6144, 3),  C(6528, 4),  C(6784, 5),  C(6912, 6),
    C(8192, 1),  C(9472, 7),  C(9728, 6),  C(10240, 5), C(10880, 4),
    C(12288, 3), C(13568, 5), C(14336, 7), C(16384, 2), C(18432, 9),
    C(19072, 7), C(20480, 5), C(21760, 8), C(24576, 3), C(27264, 10),
    C(28672, 7), C(32768, 4),
};
#undef C

/* ---- Span bookkeeping ----------------------------------------------- */

static inline uint32_t bitmap_words(uint32_t nelems)
{
    return (nelems + 63) >> 6;
}

/* Bits of word w that name real slots (< nelems). */
static inline uint64_t valid_mask(uint32_t nelems, uint32_t w)
{
    uint32_t left = nelems - w * 64;
    return left >= 64 ? ~0ull : (1ull << left) - 1;
}

uint32_t heap__span_count_allocated(const heap__span_t *sp)
{
    if (sp->state == HEAP__SPAN_LARGE)
        return 1;
    uint32_t fi = sp->freeindex < sp->nelems ? sp->freeindex : sp->nelems;
    const uint64_t *alloc = sp->bits[sp->sweep_word & 1];
    uint32_t count = fi;
    for (uint32_t w = fi >> 6; w < bitmap_words(sp->nelems); w++) {
        uint64_t word = alloc[w] & valid_mask(sp->nelems, w);
        if (w == fi >> 6)
            word &= ~0ull << (fi & 63);
        count += (uint32_t)__builtin_popcountll(word);
    }
    return count;
}

bool heap__span_slot_allocated(const heap__span_t *sp, uint32_t idx)
{
    if (idx < sp->freeindex)
        return true;
    const uint64_t *alloc = sp->bits[sp->sweep_word & 1];
    return (alloc[idx >> 6] >> (idx & 63)) & 1;
}

bool heap__attach_live(heap_t *h, uint32_t attach_id)
{
    if (attach_id == 0)
        return false;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &h->hdr->procs[i];
        uint32_t st = __atomic_load_n(&p->state, __ATOMIC_SEQ_CST);
        if (st != HEAP__PROC_FREE && st != HEAP__PROC_DEAD && p->attach_id == attach_id)
            return true;
    }
    return false;
}

static void page_map_set(heap_t *h, uint32_t page, uint32_t npages, uint32_t value)
{
    for (uint32_t p = page; p < page + npages; p++)
        h->page_map[p] = value;
}

void heap__span_init_small(heap_t *h, uint32_t page, uint32_t spc,
                           uint32_t owner, bool needzero)
{
    const heap__class_t *c = &heap__classes[spc >> 1];
    heap__span_t *sp = heap__span(h, page);
    sp->spanclass = spc;
    sp->elem_bytes = c->elem_bytes;
    sp->nelems = c->nelems;
    sp->div_magic = c->div_magic;
    sp->freeindex = 0;
    sp->alloc_count = 0;
    sp->owner = owner;
    sp->next = 0;
    sp->needzero = needzero;
    sp->large_nptrs = 0;
    sp->large_bytes = 0;
    memset(sp->bits, 0, sizeof sp->bits);
    sp->sweep_word = (uint64_t)h->hdr->sweepgen << 1;
    page_map_set(h, page, sp->npages, page);
    __atomic_store_n(&sp->state, HEAP__SPAN_SMALL, __ATOMIC_RELEASE);
}

void heap__span_init_large(heap_t *h, uint32_t page, uint32_t npages,
                           uint64_t bytes, uint32_t nptrs, bool needzero)
{
    heap__span_t *sp = heap__span(h, page);
    sp->spanclass = 0;
    sp->elem_bytes = 0;
    sp->nelems = 1;
    sp->div_magic = 0;
    sp->freeindex = 0;
    sp->alloc_count = 1;
    sp->owner = 0;
    sp->next = 0;
    sp->needzero = needzero;
    sp->large_nptrs = nptrs;
    sp->large_bytes = bytes;
    memset(sp->bits, 0, sizeof sp->bits);
    sp->sweep_word = (uint64_t)h->hdr->sweepgen << 1;
    sp->bits[0][0] = 1;
    page_map_set(h, page, npages, page);
    __atomic_store_n(&sp->state, HEAP__SPAN_LARGE, __ATOMIC_RELEASE);
}

/* ---- Free lists ----------------------------------------------------- */

static inline uint32_t bucket_of(uint32_t npages)
{
    return npages < HEAP__FREE_BUCKETS ? npages - 1 : HEAP__FREE_BUCKETS - 1;
}

static void free_push(heap_t *h, uint32_t page)
{
    heap__hdr_t *hdr = h->hdr;
    heap__span_t *sp = heap__span(h, page);
    uint32_t b = bucket_of(sp->npages);
    sp->next = hdr->free_head[b];
    hdr->free_head[b] = page;
    hdr->free_nonempty[b >> 6] |= 1ull << (b & 63);
}

/* Unlink `page` (whose predecessor is `prev`, 0 = head) from bucket b. */
static void free_unlink(heap_t *h, uint32_t b, uint32_t prev, uint32_t page)
{
    heap__hdr_t *hdr = h->hdr;
    uint32_t next = heap__span(h, page)->next;
    if (prev)
        heap__span(h, prev)->next = next;
    else
        hdr->free_head[b] = next;
    if (hdr->free_head[b] == 0)
        hdr->free_nonempty[b >> 6] &= ~(1ull << (b & 63));
    heap__span(h, page)->next = 0;
    hdr->free_epoch++;   /* SCAVENGER: candidates may be stale */
}

/* First non-empty bucket >= b, or HEAP__FREE_BUCKETS. */
static uint32_t first_bucket_from(const heap__hdr_t *hdr, uint32_t b)
{
    for (uint32_t w = b >> 6; w < HEAP__FREE_BUCKETS / 64; w++) {
        uint64_t m = hdr->free_nonempty[w];
        if (w == b >> 6)
            m &= ~0ull << (b & 63);
        if (m)
            return w * 64 + (uint32_t)__builtin_ctzll(m);
    }
    return HEAP__FREE_BUCKETS;
}

/* Make pages [commit_page, upto) real tmpfs pages (with their map, span
** and pointer-map entries) so a full tmpfs is an error here, not SIGBUS later. */
static int commit_pages(heap_t *h, uint32_t upto)
{
    heap__hdr_t *hdr = h->hdr;
    if (upto <= hdr->commit_page)
        return 0;
    uint64_t chunk = HEAP__COMMIT_CHUNK_PAGES;
    uint64_t to = ((uint64_t)upto + chunk - 1) / chunk * chunk;
    if (to > hdr->npages)
        to = hdr->npages;
    uint64_t from = hdr->commit_page;
    struct { uint64_t off, len; } parts[4] = {
        { from << HEAP__PAGE_SHIFT, (to - from) << HEAP__PAGE_SHIFT },
        { hdr->page_map_off + from * sizeof(uint32_t), (to - from) * sizeof(uint32_t) },
        { hdr->spans_off + from * sizeof(heap__span_t), (to - from) * sizeof(heap__span_t) },
        { hdr->ptr_map_off + from * HEAP__PTR_MAP_PAGE_BYTES, (to - from) * HEAP__PTR_MAP_PAGE_BYTES },
    };
    for (int i = 0; i < 4; i++) {
        if (fallocate(h->fd, 0, (off_t)parts[i].off, (off_t)parts[i].len) != 0 &&
            errno != EOPNOTSUPP && errno != ENOSYS)
            return HEAP_EOOM;
    }
    hdr->commit_page = (uint32_t)to;
    return 0;
}

/* Back pages [page, page + npages) with tmpfs pages again (SCAVENGER). */
static int pages_commit(heap_t *h, uint32_t page, uint32_t npages)
{
    if (fallocate(h->fd, 0, (off_t)((uint64_t)page << HEAP__PAGE_SHIFT),
                  (off_t)((uint64_t)npages << HEAP__PAGE_SHIFT)) != 0 &&
        errno != EOPNOTSUPP && errno != ENOSYS)
        return HEAP_EOOM;
    return 0;
}

/* Give pages [page, page + npages) back: a hole in the file frees them
** for every process mapping it. */
static bool pages_release(heap_t *h, uint32_t page, uint32_t npages)
{
    return fallocate(h->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                     (off_t)((uint64_t)page << HEAP__PAGE_SHIFT),
                     (off_t)((uint64_t)npages << HEAP__PAGE_SHIFT)) == 0;
}

static void released_add(heap__hdr_t *hdr, int64_t npages)
{
    __atomic_store_n(&hdr->released_pages,
                     (uint64_t)((int64_t)hdr->released_pages + npages), __ATOMIC_RELAXED);
}

uint64_t heap__retained_bytes(const heap__hdr_t *hdr)
{
    uint64_t hwm = __atomic_load_n(&hdr->hwm_page, __ATOMIC_RELAXED);
    uint64_t pages = hwm - hdr->first_page;
    uint64_t released = __atomic_load_n(&hdr->released_pages, __ATOMIC_RELAXED);
    return (pages > released ? pages - released : 0) << HEAP__PAGE_SHIFT;
}

uint64_t heap__mapped_bytes(const heap__hdr_t *hdr)
{
    uint64_t committed = __atomic_load_n(&hdr->commit_page, __ATOMIC_RELAXED);
    uint64_t pages = committed > hdr->first_page ? committed - hdr->first_page : 0;
    uint64_t released = __atomic_load_n(&hdr->released_pages, __ATOMIC_RELAXED);
    pages = pages > released ? pages - released : 0;
    return heap__metadata_bytes(hdr) + (pages << HEAP__PAGE_SHIFT) +
           __atomic_load_n(&hdr->pacer_max_stack_bytes, __ATOMIC_RELAXED);
}

/* Find `page` in its bucket and unlink it. */
static void free_remove(heap_t *h, uint32_t page)
{
    uint32_t b = bucket_of(heap__span(h, page)->npages);
    uint32_t prev = 0;
    for (uint32_t p = h->hdr->free_head[b]; p; prev = p, p = heap__span(h, p)->next) {
        if (p == page) {
            free_unlink(h, b, prev, page);
            return;
        }
    }
}

/* ---- SCAVENGER (heap_int.h) ------------------------------------------- */

#define SCAV_QUANTUM_BYTES (64u << 10)          /* Go's scavengeQuantum */
#define SCAV_PERCENT 1                          /* Go's scavengePercent */
#define SCAV_MIN_WORK_NS 1000000ull             /* Go's minScavWorkTime */
#define SCAV_LEASE_NS 100000000ull              /* a held lease's holder is looked at after */
#define SCAV_LIMIT_PERCENT 95                   /* 100 - Go's reduceExtraPercent */

/* Find the HEAP__SCAV_CANDIDATES highest free unreleased spans again
** (h->scav_cand, ascending). Heap lock held. */
static void scav_candidates(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    uint32_t n = 0;
    for (uint32_t b = 0; b < HEAP__FREE_BUCKETS; b++) {
        uint64_t guard = hdr->npages;
        for (uint32_t p = hdr->free_head[b]; p && guard--; p = heap__span(h, p)->next) {
            if (heap__span(h, p)->released)
                continue;
            if (n == HEAP__SCAV_CANDIDATES && p < h->scav_cand[0])
                continue;
            /* Insert in order; when full, the lowest one drops out. */
            uint32_t i;
            if (n == HEAP__SCAV_CANDIDATES) {
                for (i = 0; i + 1 < n && h->scav_cand[i + 1] < p; i++)
                    h->scav_cand[i] = h->scav_cand[i + 1];
            } else {
                for (i = n++; i > 0 && h->scav_cand[i - 1] > p; i--)
                    h->scav_cand[i] = h->scav_cand[i - 1];
            }
            h->scav_cand[i] = p;
        }
    }
    h->scav_ncand = n;
    h->scav_epoch = hdr->free_epoch;
}

/* Release up to `bytes` (rounded up to pages) from the highest candidates.
** Heap lock held. `fault` is the fault point between the punch and the
** flag. Returns bytes released; less than asked only when no free
** unreleased span is left (or fallocate refuses). */
static uint64_t scav_release_locked(heap_t *h, uint64_t bytes, int fault)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t done = 0;
    while (done < bytes) {
        if (h->scav_ncand == 0 || h->scav_epoch != hdr->free_epoch) {
            scav_candidates(h);
            if (h->scav_ncand == 0)
                break;
        }
        uint32_t page = h->scav_cand[h->scav_ncand - 1];
        heap__span_t *sp = heap__span(h, page);
        assert(sp->state == HEAP__SPAN_FREE && !sp->released);
        uint32_t have = sp->npages;
        uint64_t want_pages = (bytes - done + HEAP__PAGE_BYTES - 1) >> HEAP__PAGE_SHIFT;
        uint32_t take = want_pages < have ? (uint32_t)want_pages : have;
        uint32_t target = page;
        if (take < have) {
            /* Release the top of the span: the part is written before
            ** the span shrinks, as in heap__pages_alloc. The rest stays
            ** the highest candidate. */
            free_remove(h, page);
            target = page + have - take;
            heap__span_t *tp = heap__span(h, target);
            tp->state = HEAP__SPAN_FREE;
            tp->npages = take;
            tp->next = 0;
            tp->released = 0;
            __atomic_store_n(&sp->npages, have - take, __ATOMIC_RELEASE);
            free_push(h, page);
            free_push(h, target);
        } else {
            h->scav_ncand--;
        }
        heap__fault(h, HEAP__FP_SCAVENGE);
        if (!pages_release(h, target, take))
            break;
        if (fault)
            heap__fault(h, fault);
        heap__span(h, target)->released = 1;
        released_add(hdr, take);
        done += (uint64_t)take << HEAP__PAGE_SHIFT;
        /* Other processes' candidates may name this span; ours are right. */
        h->scav_epoch = ++hdr->free_epoch;
    }
    return done;
}

uint64_t heap__scavenge_locked(heap_t *h, uint64_t bytes)
{
    if (bytes == 0)
        return 0;
    uint64_t done = scav_release_locked(h, bytes, 0);
    __atomic_add_fetch(&h->hdr->scav_sync_bytes, done, __ATOMIC_RELAXED);
    return done;
}

/* Bytes the background scavenger still has to release for its goals
** (Go's shouldStop, as an amount): 0 when both are met. */
static uint64_t scav_todo(const heap__hdr_t *hdr)
{
    uint64_t todo = 0;
    uint64_t goal = __atomic_load_n(&hdr->scavenge_goal_bytes, __ATOMIC_RELAXED);
    uint64_t retained = heap__retained_bytes(hdr);
    if (goal != UINT64_MAX && retained > goal)
        todo = retained - goal;
    uint64_t limit_goal = __atomic_load_n(&hdr->scav_limit_goal_bytes, __ATOMIC_RELAXED);
    uint64_t mapped = limit_goal ? heap__mapped_bytes(hdr) : 0;
    if (limit_goal && mapped > limit_goal && mapped - limit_goal > todo)
        todo = mapped - limit_goal;
    return todo;
}

void heap__scavenge_wake(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    if (scav_todo(hdr) == 0)
        return;
    __atomic_add_fetch(&hdr->scav_wake_seq, 1, __ATOMIC_SEQ_CST);
    __atomic_or_fetch(&hdr->poll, HEAP__POLL_SCAVENGE, __ATOMIC_SEQ_CST);
}

/* Processes attached: the scavenger's share is 1 % of their time. */
static uint64_t scav_procs(const heap__hdr_t *hdr)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        uint32_t st = __atomic_load_n(&hdr->procs[i].state, __ATOMIC_RELAXED);
        if (st != HEAP__PROC_FREE && st != HEAP__PROC_DEAD)
            n++;
    }
    return n ? n : 1;
}

/* Is the holder of the scavenger's lease (attach_id) gone: its entry
** freed or reused, marked DEAD, or its pid dead? */
static bool scav_holder_dead(heap_t *h, uint32_t attach_id)
{
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &h->hdr->procs[i];
        uint32_t st = __atomic_load_n(&p->state, __ATOMIC_SEQ_CST);
        if (st == HEAP__PROC_FREE || p->attach_id != attach_id)
            continue;
        return st == HEAP__PROC_DEAD || heap__pid_dead(p->pid, p->start_ticks, true);
    }
    return true;
}

/* Take the scavenger's lease (SCAVENGER) if a batch is due: true with
** *token the lease's value now ours. */
static bool scav_lease_take(heap_t *h, uint64_t *token)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t now = heap__now_ns(CLOCK_MONOTONIC);
    uint64_t next = __atomic_load_n(&hdr->scav_next_ns, __ATOMIC_ACQUIRE);
    if (now < next)
        return false;   /* not due, or a batch runs and was looked at lately */
    uint64_t lease = __atomic_load_n(&hdr->scav_lease, __ATOMIC_SEQ_CST);
    uint32_t holder = (uint32_t)lease;
    if (holder != 0 && !scav_holder_dead(h, holder)) {
        /* Its batch runs on, however long it is held up: look again later. */
        __atomic_compare_exchange_n(&hdr->scav_next_ns, &next, now + SCAV_LEASE_NS, false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
        return false;
    }
    uint64_t mine = ((lease >> 32) + 1) << 32 | h->attach_id;
    if (!__atomic_compare_exchange_n(&hdr->scav_lease, &lease, mine, false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_RELAXED))
        return false;   /* another process's turn */
    /* A batch that ended between the two loads above set the pace. */
    if (now < __atomic_load_n(&hdr->scav_next_ns, __ATOMIC_ACQUIRE)) {
        uint64_t expect = mine;
        __atomic_compare_exchange_n(&hdr->scav_lease, &expect, mine & ~0xffffffffull, false,
                                    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
        return false;
    }
    __atomic_store_n(&hdr->scav_next_ns, now + SCAV_LEASE_NS, __ATOMIC_RELEASE);
    *token = mine;
    return true;
}

void heap__scavenge_poll(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    if (!(__atomic_load_n(&hdr->poll, __ATOMIC_RELAXED) & HEAP__POLL_SCAVENGE))
        return;
    uint64_t token;
    if (!scav_lease_take(h, &token))
        return;
    uint32_t seq = __atomic_load_n(&hdr->scav_wake_seq, __ATOMIC_SEQ_CST);

    /* Go's scavengerState.run: quanta until 1 ms of work, the goals met,
    ** or nothing left; the heap lock per quantum only. */
    uint64_t worked = 0, released = 0;
    bool park = false, fresh = true;
    while (worked < SCAV_MIN_WORK_NS) {
        /* Preemptible between quanta, as Go's scavenger: a stop of the
        ** world or an interrupt waits for one quantum at most. */
        if (worked && ((__atomic_load_n(&hdr->poll, __ATOMIC_RELAXED) & HEAP__POLL_STW) ||
                       __atomic_load_n(&h->interrupt_pending, __ATOMIC_RELAXED)))
            break;
        uint64_t todo = scav_todo(hdr);
        if (todo == 0) {
            park = true;
            break;
        }
        heap__fault(h, HEAP__FP_SCAVENGE_BG);   /* the lease held, no lock */
        uint64_t want = todo < SCAV_QUANTUM_BYTES ? todo : SCAV_QUANTUM_BYTES;
        uint64_t t0 = heap__now_ns(CLOCK_MONOTONIC);
        heap__lock(h);
        if (fresh)
            scav_candidates(h);   /* the highest as of now */
        fresh = false;
        uint64_t r = scav_release_locked(h, want, HEAP__FP_SCAVENGE_BG);
        heap__unlock(h);
        uint64_t t1 = heap__now_ns(CLOCK_MONOTONIC);
        worked += t1 - t0;
        released += r;
        if (r < want) {   /* nothing free is left unreleased */
            park = true;
            break;
        }
    }
    uint64_t end = heap__now_ns(CLOCK_MONOTONIC);
    if (released) {
        __atomic_add_fetch(&hdr->scav_batches, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&hdr->scav_bg_bytes, released, __ATOMIC_RELAXED);
        __atomic_add_fetch(&hdr->scav_work_ns, worked, __ATOMIC_RELAXED);
    }
    /* Go's scavengerState.sleep: 1 % of the processes' time. */
    uint64_t sleep = 0;
    if (released && !h->scav_no_sleep) {
        uint64_t w = worked < SCAV_MIN_WORK_NS ? SCAV_MIN_WORK_NS : worked;
        uint64_t procs = scav_procs(hdr);
        uint64_t span = w * 100 / (SCAV_PERCENT * procs);
        sleep = span > w ? span - w : 0;
    }
    if (park) {
        /* Park, unless a wake came since the batch began (then run on). */
        __atomic_and_fetch(&hdr->poll, ~HEAP__POLL_SCAVENGE, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&hdr->scav_wake_seq, __ATOMIC_SEQ_CST) != seq && scav_todo(hdr))
            __atomic_or_fetch(&hdr->poll, HEAP__POLL_SCAVENGE, __ATOMIC_SEQ_CST);
    }
    /* The pace first, then the lease back: whoever takes it next sees the
    ** pace (scav_lease_take's second look). */
    __atomic_store_n(&hdr->scav_next_ns, end + sleep, __ATOMIC_RELEASE);
    __atomic_compare_exchange_n(&hdr->scav_lease, &token, token & ~0xffffffffull, false,
                                __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

void heap__set_scavenge_sleep(heap_t *h, bool on)
{
    h->scav_no_sleep = !on;
}

/* Bytes to release before paging in `paged_in` bytes, `growth` of them
** past the old high-water mark (SCAVENGER; Go's allocSpan). */
static uint64_t scavenge_needed(heap__hdr_t *hdr, uint64_t paged_in, uint64_t growth)
{
    uint64_t todo = 0;
    uint64_t limit = __atomic_load_n(&hdr->memory_limit_bytes, __ATOMIC_RELAXED);
    if (limit && paged_in) {
        uint64_t mapped = heap__mapped_bytes(hdr);
        if (mapped + paged_in > limit)
            todo = mapped + paged_in - limit;
    }
    uint64_t goal = __atomic_load_n(&hdr->scavenge_goal_bytes, __ATOMIC_RELAXED);
    if (goal != UINT64_MAX && growth) {
        uint64_t retained = heap__retained_bytes(hdr);
        if (retained + growth > goal) {
            uint64_t over = retained + growth - goal;
            uint64_t g = growth < over ? growth : over;
            if (g > todo)
                todo = g;
        }
    }
    return todo;
}

static int pages_alloc_at(heap_t *h, uint32_t page, uint32_t npages, uint32_t *page_out,
                          bool *needzero_out);

int heap__pages_alloc(heap_t *h, uint32_t npages, uint32_t *page_out,
                      bool *needzero_out)
{
    heap__hdr_t *hdr = h->hdr;
    uint32_t page = 0;

    uint32_t b = first_bucket_from(hdr, bucket_of(npages));
    if (b < HEAP__FREE_BUCKETS - 1) {
        page = hdr->free_head[b];
        free_unlink(h, b, 0, page);
    } else if (b == HEAP__FREE_BUCKETS - 1) {
        uint32_t prev = 0;
        for (uint32_t p = hdr->free_head[b]; p; prev = p, p = heap__span(h, p)->next) {
            if (heap__span(h, p)->npages >= npages) {
                free_unlink(h, b, prev, p);
                page = p;
                break;
            }
        }
    }
    return pages_alloc_at(h, page, npages, page_out, needzero_out);
}

/* npages from free span `page`, just unlinked (at least that long), or
** from new pages when page is 0. */
static int pages_alloc_at(heap_t *h, uint32_t page, uint32_t npages, uint32_t *page_out,
                          bool *needzero_out)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t bytes = (uint64_t)npages << HEAP__PAGE_SHIFT;
    if (page) {
        heap__span_t *sp = heap__span(h, page);
        uint32_t have = sp->npages;
        bool released = sp->released != 0;
        if (released) {
            heap__scavenge_locked(h, scavenge_needed(hdr, bytes, 0));
            if (pages_commit(h, page, npages) != 0) {
                free_push(h, page);
                return HEAP_EOOM;
            }
        }
        heap__fault(h, HEAP__FP_PAGE_SPLIT);
        if (have > npages) {
            /* The remainder is written before the span shrinks, so a walk
            ** sees either the whole free span or both halves. */
            uint32_t rest = page + npages;
            heap__span_t *rp = heap__span(h, rest);
            rp->state = HEAP__SPAN_FREE;
            rp->npages = have - npages;
            rp->next = 0;
            rp->released = released;
            __atomic_store_n(&sp->npages, npages, __ATOMIC_RELEASE);
            free_push(h, rest);
        }
        if (released) {
            sp->released = 0;
            released_add(hdr, -(int64_t)npages);
        }
        *needzero_out = !released;   /* a hole reads as zero */
    } else {
        if (hdr->coalesce_needed && !__atomic_load_n(&hdr->sweep_active, __ATOMIC_ACQUIRE)) {
            /* Neighbours the lazy sweep freed apart may make the run. */
            heap__coalesce_locked(h);
            return heap__pages_alloc(h, npages, page_out, needzero_out);
        }
        uint32_t hwm = hdr->hwm_page;
        if ((uint64_t)hwm + npages > hdr->npages)
            return HEAP_EOOM;
        heap__scavenge_locked(h, scavenge_needed(hdr, bytes, bytes));
        if (commit_pages(h, hwm + npages) != 0)
            return HEAP_EOOM;
        heap__span_t *sp = heap__span(h, hwm);
        sp->state = HEAP__SPAN_FREE;
        sp->npages = npages;
        sp->next = 0;
        sp->released = 0;
        __atomic_store_n(&hdr->hwm_page, hwm + npages, __ATOMIC_RELEASE);
        page = hwm;
        *needzero_out = false;
    }
    __atomic_add_fetch(&hdr->inuse_pages, npages, __ATOMIC_RELAXED);
    *page_out = page;
    return 0;
}

/* ---- PAGE CACHE (heap_int.h) ------------------------------------------ */

/* Make spans[page] a CACHED span of npages owned by owner; the state is
** stored last (release): a walker that sees it CACHED sees the rest. */
static void cached_init(heap__span_t * sp, uint32_t npages, uint32_t owner, bool needzero)
{
    sp->npages = npages;
    sp->owner = owner;
    sp->next = 0;
    sp->released = 0;
    sp->needzero = needzero;
    __atomic_store_n(&sp->state, HEAP__SPAN_CACHED, __ATOMIC_RELEASE);
}

/* A CACHED span's fields as a FREE span's (the caller lists it). */
static void cached_to_free(heap__span_t * sp)
{
    sp->owner = 0;
    sp->released = 0;
    sp->needzero = 1;
    __atomic_store_n(&sp->state, HEAP__SPAN_FREE, __ATOMIC_RELEASE);
}

/* Cut npages off the front of this process's cached run, no lock. False
** when the run is missing or shorter. */
static bool pcache_cut(heap_t *h, uint32_t npages, uint32_t *page_out, bool *needzero_out)
{
    heap__proc_t *p = h->proc;
    uint32_t page = __atomic_load_n(&p->pcache, __ATOMIC_RELAXED);   /* ours alone */
    if (!page)
        return false;
    heap__span_t *sp = heap__span(h, page);
    uint32_t have = sp->npages;
    if (have < npages)
        return false;
    bool needzero = sp->needzero != 0;
    __atomic_add_fetch(&h->hdr->inuse_pages, npages, __ATOMIC_RELAXED);
    uint32_t rest = 0;
    if (have > npages) {
        rest = page + npages;
        cached_init(heap__span(h, rest), have - npages, h->attach_id, needzero);
    }
    __atomic_store_n(&p->pcache, rest, __ATOMIC_RELEASE);
    heap__fault(h, HEAP__FP_PCACHE_CUT);
    __atomic_store_n(&sp->npages, npages, __ATOMIC_RELEASE);
    *page_out = page;
    *needzero_out = needzero;
    return true;
}

/* A CACHED span back to the free lists (heap lock held). Its page map is
** cleared: an owner killed in a span init may have set it. */
static void pcache_free_locked(heap_t *h, uint32_t page)
{
    heap__span_t *sp = heap__span(h, page);
    page_map_set(h, page, sp->npages, 0);
    cached_to_free(sp);
    free_push(h, page);
    h->hdr->coalesce_needed = 1;
}

/* Make [page, page + npages), just taken by heap__pages_alloc, CACHED
** and ours (heap lock held): no walker frees it once the lock goes. */
static void pcache_own_locked(heap_t *h, uint32_t page, uint32_t npages, bool needzero)
{
    cached_init(heap__span(h, page), npages, h->attach_id, needzero);
}

/* Unlink the first unreleased span of bucket b, looking at a few only. */
static uint32_t bucket_take_backed(heap_t *h, uint32_t b, uint32_t npages)
{
    uint32_t prev = 0;
    unsigned look = 8;
    for (uint32_t p = h->hdr->free_head[b]; p && look--; prev = p, p = heap__span(h, p)->next) {
        heap__span_t *sp = heap__span(h, p);
        if (!sp->released && sp->npages >= npages) {
            free_unlink(h, b, prev, p);
            return p;
        }
    }
    return 0;
}

/* The free span a new run comes from, unlinked, and the pages to take:
** backed pages before released ones, as Go, which allocates from the
** lowest addresses and scavenges from the highest, reuses what it kept.
** An unreleased span of HEAP__PCACHE_PAGES or more, else the longest
** unreleased one that fits npages; 0 when there is none. */
static uint32_t pcache_pick_locked(heap_t *h, uint32_t npages, uint32_t *take)
{
    heap__hdr_t *hdr = h->hdr;
    for (uint32_t b = first_bucket_from(hdr, bucket_of(HEAP__PCACHE_PAGES)); b < HEAP__FREE_BUCKETS;
         b = first_bucket_from(hdr, b + 1)) {
        uint32_t p = bucket_take_backed(h, b, HEAP__PCACHE_PAGES);
        if (p) {
            *take = HEAP__PCACHE_PAGES;
            return p;
        }
    }
    for (uint32_t b = bucket_of(HEAP__PCACHE_PAGES); b-- > bucket_of(npages);) {
        if (!(hdr->free_nonempty[b >> 6] >> (b & 63) & 1))
            continue;
        uint32_t p = bucket_take_backed(h, b, npages);
        if (p) {
            /* The span's own length (b + 1 in an exact-size bucket):
            ** never more pages than the span has. */
            uint32_t have = heap__span(h, p)->npages;
            *take = have < HEAP__PCACHE_PAGES ? have : HEAP__PCACHE_PAGES;
            return p;
        }
    }
    return 0;
}

/* A new cached run for a span of npages (heap lock held): the old one
** back, then pcache_pick_locked's, or else HEAP__PCACHE_PAGES released or
** new pages. */
static int pcache_fill_locked(heap_t *h, uint32_t npages)
{
    uint32_t old = h->proc->pcache;
    if (old) {
        __atomic_store_n(&h->proc->pcache, 0, __ATOMIC_RELEASE);
        pcache_free_locked(h, old);
    }
    uint32_t take = HEAP__PCACHE_PAGES;
    uint32_t page = pcache_pick_locked(h, npages, &take);
    bool needzero;
    int rc = page ? pages_alloc_at(h, page, take, &page, &needzero)
                  : heap__pages_alloc(h, take, &page, &needzero);
    if (rc != 0)
        return rc;
    /* Counted in use by heap__pages_alloc; a run is not (its spans are,
    ** as they are cut). */
    __atomic_sub_fetch(&h->hdr->inuse_pages, take, __ATOMIC_RELAXED);
    pcache_own_locked(h, page, take, needzero);
    __atomic_store_n(&h->proc->pcache, page, __ATOMIC_RELEASE);
    return 0;
}

int heap__pcache_alloc(heap_t *h, uint32_t npages, uint32_t *page_out, bool *needzero_out)
{
    bool cacheable = h->pcache_on && npages < HEAP__PCACHE_MAX_SPAN;
    if (cacheable && pcache_cut(h, npages, page_out, needzero_out))
        return 0;
    heap__lock(h);
    if (cacheable && pcache_fill_locked(h, npages) == 0 &&
        pcache_cut(h, npages, page_out, needzero_out)) {
        heap__unlock(h);
        return 0;
    }
    /* A long span, or no run to be had: the page heap, as before; counted
    ** in use there, as a cut span is. */
    int rc = heap__pages_alloc(h, npages, page_out, needzero_out);
    if (rc == 0)
        pcache_own_locked(h, *page_out, npages, *needzero_out);
    heap__unlock(h);
    return rc;
}

void heap__pcache_drop_all_locked(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    if (!__atomic_exchange_n(&hdr->pcache_drop, 0, __ATOMIC_ACQ_REL))
        return;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        uint32_t run = __atomic_exchange_n(&p->pcache, 0, __ATOMIC_ACQ_REL);
        /* Only while it is still that process's run: a dead process's
        ** entry may name a run a repair walk gave back, whose first page
        ** may now begin another process's span. */
        if (run && heap__span(h, run)->state == HEAP__SPAN_CACHED &&
            heap__span(h, run)->owner == p->attach_id)
            pcache_free_locked(h, run);
    }
}

void heap__inuse_recount_locked(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    if (!__atomic_exchange_n(&hdr->inuse_recount, 0, __ATOMIC_ACQ_REL))
        return;
    uint64_t inuse = 0;
    uint32_t hwm = hdr->hwm_page;
    for (uint32_t s = hdr->first_page; s < hwm;) {
        heap__span_t *sp = heap__span(h, s);
        uint32_t state = __atomic_load_n(&sp->state, __ATOMIC_ACQUIRE);
        uint32_t n = __atomic_load_n(&sp->npages, __ATOMIC_ACQUIRE);
        if (n == 0 || n > hwm - s) {
            /* damage: the next repair walk rebuilds everything; ask again */
            __atomic_store_n(&hdr->inuse_recount, 1, __ATOMIC_RELEASE);
            return;
        }
        if (state == HEAP__SPAN_SMALL || state == HEAP__SPAN_LARGE)
            inuse += n;
        s += n;
    }
    __atomic_store_n(&hdr->inuse_pages, inuse, __ATOMIC_RELAXED);
}

void heap__pcache_reclaim_locked(heap_t *h, uint32_t attach_id, bool world_stopped)
{
    heap__hdr_t *hdr = h->hdr;
    if (attach_id == 0)
        return;
    uint32_t run = 0;   /* the owner's run: not counted in use */
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        if (hdr->procs[i].attach_id == attach_id) {
            run = __atomic_exchange_n(&hdr->procs[i].pcache, 0, __ATOMIC_ACQ_REL);
            break;
        }
    }
    uint64_t inuse = 0;
    uint32_t hwm = __atomic_load_n(&hdr->hwm_page, __ATOMIC_ACQUIRE);
    for (uint32_t s = hdr->first_page; s < hwm;) {
        heap__span_t *sp = heap__span(h, s);
        uint32_t state = __atomic_load_n(&sp->state, __ATOMIC_ACQUIRE);
        uint32_t n = __atomic_load_n(&sp->npages, __ATOMIC_ACQUIRE);
        if (n == 0 || n > hwm - s)
            return;   /* damage: the next repair walk rebuilds everything */
        if (state == HEAP__SPAN_CACHED && sp->owner == attach_id) {
            if (!world_stopped) {
                /* A span cut but never published was counted in use at
                ** the cut; the owner may have died half way through one
                ** (the run moved to `run`, this span's npages still
                ** spanning it). A death elsewhere in a cut can leave the
                ** count a span off: the stopped-world case recounts. */
                uint64_t counted = n;
                if (s == run)
                    counted = 0;
                else if (run > s && run < s + n)
                    counted = run - s;
                /* Never below 0: a repair walk may have left the span out
                ** already (the recount asked below puts it right). */
                uint64_t cur = __atomic_load_n(&hdr->inuse_pages, __ATOMIC_RELAXED);
                while (!__atomic_compare_exchange_n(&hdr->inuse_pages, &cur,
                                                    cur > counted ? cur - counted : 0, true,
                                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                    ;
            }
            pcache_free_locked(h, s);
        } else if (state == HEAP__SPAN_SMALL || state == HEAP__SPAN_LARGE) {
            inuse += n;
        }
        s += n;
    }
    /* Every live process at a safepoint, none half way through a cut:
    ** the spans say exactly what is in use. Else the next stop counts. */
    if (world_stopped)
        __atomic_store_n(&hdr->inuse_pages, inuse, __ATOMIC_RELAXED);
    else
        __atomic_store_n(&hdr->inuse_recount, 1, __ATOMIC_RELEASE);
}

/* ---- The walk ------------------------------------------------------- */

typedef struct walk_lists {
    uint32_t free_tail[HEAP__FREE_BUCKETS];
    uint32_t part_tail[HEAP__NSPANCLASSES];
} walk_lists_t;

static void free_append(heap_t *h, walk_lists_t *wl, uint32_t page)
{
    heap__hdr_t *hdr = h->hdr;
    heap__span_t *sp = heap__span(h, page);
    uint32_t b = bucket_of(sp->npages);
    sp->next = 0;
    if (wl->free_tail[b])
        heap__span(h, wl->free_tail[b])->next = page;
    else
        hdr->free_head[b] = page;
    wl->free_tail[b] = page;
    hdr->free_nonempty[b >> 6] |= 1ull << (b & 63);
}

static void partial_append(heap_t *h, walk_lists_t *wl, uint32_t page)
{
    heap__hdr_t *hdr = h->hdr;
    heap__span_t *sp = heap__span(h, page);
    uint32_t spc = sp->spanclass;
    sp->next = 0;
    if (wl->part_tail[spc])
        heap__span(h, wl->part_tail[spc])->next = page;
    else
        hdr->central[spc].partial_head = page;
    wl->part_tail[spc] = page;
}

static void span_free(heap_t *h, heap__span_t *sp, uint32_t page)
{
    sp->released = 0;
    __atomic_store_n(&sp->state, HEAP__SPAN_FREE, __ATOMIC_RELEASE);
    page_map_set(h, page, sp->npages, 0);
}

static void sweep_small(heap_t *h, heap__span_t *sp, uint32_t page, uint32_t gen,
                        heap__sweep_stats_t *st)
{
    uint32_t sel = (uint32_t)(sp->sweep_word & 1);
    uint64_t *alloc = sp->bits[sel];
    uint64_t *mark = sp->bits[sel ^ 1];
    uint32_t words = bitmap_words(sp->nelems);
    uint32_t before = heap__span_count_allocated(sp);
    uint32_t marked = 0;
    for (uint32_t w = 0; w < words; w++)
        marked += (uint32_t)__builtin_popcountll(mark[w]);
    if (st && before > marked)
        st->objects_freed += before - marked;
    if (marked == 0) {
        span_free(h, sp, page);
        if (st)
            st->spans_freed++;
        return;
    }
    bool dirty = sp->needzero || before != marked ||
                 (sp->owner != 0 && !heap__attach_live(h, sp->owner));
    /* Commit: the mark bitmap becomes the alloc bitmap in one store. */
    __atomic_store_n(&sp->sweep_word, ((uint64_t)gen << 1) | (sel ^ 1), __ATOMIC_RELEASE);
    memset(alloc, 0, words * sizeof(uint64_t));
    sp->freeindex = 0;
    sp->alloc_count = marked;
    sp->owner = 0;
    sp->needzero = dirty;
}

static void sweep_large(heap_t *h, heap__span_t *sp, uint32_t page, uint32_t gen,
                        heap__sweep_stats_t *st)
{
    uint32_t sel = (uint32_t)(sp->sweep_word & 1);
    if (!(sp->bits[sel ^ 1][0] & 1)) {
        span_free(h, sp, page);
        if (st) {
            st->objects_freed++;
            st->spans_freed++;
        }
        return;
    }
    __atomic_store_n(&sp->sweep_word, ((uint64_t)gen << 1) | (sel ^ 1), __ATOMIC_RELEASE);
    sp->bits[sel][0] = 0;
    sp->owner = 0;
}

static void clear_marks(heap__span_t *sp)
{
    uint64_t *mark = sp->bits[(sp->sweep_word & 1) ^ 1];
    memset(mark, 0, bitmap_words(sp->nelems) * sizeof(uint64_t));
}

/* A repair outside a mark clears the mark bitmap of swept spans: a
** sweeper that died after a span's commit may have left the old alloc
** bits there (LAZY SWEEP). Unswept spans keep theirs: they are the last
** mark's verdict. */
static bool repair_swept_marks(heap_t *h, const heap__span_t *sp, int flags)
{
    return (flags & HEAP__WALK_REPAIR) &&
           __atomic_load_n(&h->hdr->gc_phase, __ATOMIC_RELAXED) == HEAP__GC_IDLE &&
           (uint32_t)(sp->sweep_word >> 1) == h->hdr->sweepgen;
}

void heap__walk(heap_t *h, int flags, heap__sweep_stats_t *st)
{
    heap__hdr_t *hdr = h->hdr;
    walk_lists_t wl;
    memset(&wl, 0, sizeof wl);
    hdr->free_epoch++;   /* SCAVENGER: the lists are rebuilt */
    memset(hdr->free_head, 0, sizeof hdr->free_head);
    memset(hdr->free_nonempty, 0, sizeof hdr->free_nonempty);
    for (uint32_t spc = 0; spc < HEAP__NSPANCLASSES; spc++) {
        hdr->central[spc].partial_head = 0;
        hdr->central[spc].busy_page = 0;
    }

    uint32_t hwm = hdr->hwm_page;
    uint32_t gen = hdr->sweepgen;
    uint64_t inuse = 0, released = 0;
    uint32_t run = 0;   /* start of the free run being merged, 0 = none */
    uint32_t s;

    for (s = hdr->first_page; s < hwm;) {
        heap__span_t *sp = heap__span(h, s);
        /* The state first, then npages: a repair walk runs beside
        ** processes cutting spans off their runs without the lock (PAGE
        ** CACHE). A span seen CACHED is passed over whole, whatever it
        ** becomes meanwhile; one seen SMALL or LARGE was published after
        ** its npages was final. */
        uint32_t state = __atomic_load_n(&sp->state, __ATOMIC_ACQUIRE);
        uint32_t n = __atomic_load_n(&sp->npages, __ATOMIC_ACQUIRE);
        bool valid_state = state == HEAP__SPAN_FREE || state == HEAP__SPAN_SMALL ||
                           state == HEAP__SPAN_LARGE || state == HEAP__SPAN_CACHED;
        if (!valid_state || n == 0 || n > hwm - s ||
            (state == HEAP__SPAN_SMALL &&
             ((sp->spanclass >> 1) == 0 || (sp->spanclass >> 1) >= HEAP__NCLASSES))) {
            /* Only a writer that died mid-way through something we do
            ** not model could leave this. Give up the rest as free pages
            ** rather than wedge every process. */
            sp->state = state = HEAP__SPAN_FREE;
            sp->npages = n = hwm - s;
            sp->released = 0;
            page_map_set(h, s, n, 0);
        }

        if (state == HEAP__SPAN_CACHED) {
            if (!(flags & HEAP__WALK_REPAIR) || heap__attach_live(h, sp->owner)) {
                /* PAGE CACHE: a live owner's, neither free nor in use. Its
                ** page map is 0, or being set by the owner's span init,
                ** which publishes the span after it: left alone. */
                if (run) {
                    if (heap__span(h, run)->released)
                        released += heap__span(h, run)->npages;
                    free_append(h, &wl, run);
                    run = 0;
                }
                s += n;
                continue;
            }
            /* A dead process's run, or a span it cut: free. Its entry
            ** stops naming the run (heap__pcache_drop_all_locked). */
            for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
                heap__proc_t *p = &hdr->procs[i];
                if (p->attach_id == sp->owner && __atomic_load_n(&p->pcache, __ATOMIC_RELAXED) == s)
                    __atomic_store_n(&p->pcache, 0, __ATOMIC_RELEASE);
            }
            cached_to_free(sp);
            state = HEAP__SPAN_FREE;
        }

        if (sp->state == HEAP__SPAN_SMALL) {
            if (flags & HEAP__WALK_SWEEP) {
                sweep_small(h, sp, s, gen, st);
                heap__fault(h, HEAP__FP_SWEEP);
            } else {
                if ((flags & HEAP__WALK_CLEAR_MARKS) || repair_swept_marks(h, sp, flags))
                    clear_marks(sp);
                if ((flags & HEAP__WALK_REPAIR) && sp->owner == 0)
                    sp->alloc_count = heap__span_count_allocated(sp);
            }
        } else if (sp->state == HEAP__SPAN_LARGE) {
            if (flags & HEAP__WALK_SWEEP)
                sweep_large(h, sp, s, gen, st);
            else if ((flags & HEAP__WALK_CLEAR_MARKS) || repair_swept_marks(h, sp, flags))
                clear_marks(sp);
        }

        if (sp->state == HEAP__SPAN_FREE) {
            if (flags & HEAP__WALK_REPAIR)
                page_map_set(h, s, n, 0);
            if (sp->released > 1)
                sp->released = 1;
            heap__span_t *rs = run ? heap__span(h, run) : NULL;
            if (rs && rs->released != sp->released) {
                /* Released pages and backed ones stay apart: merging
                ** would either back the released ones again or release
                ** pages the scavenger chose to keep. */
                released += rs->released ? rs->npages : 0;
                free_append(h, &wl, run);
                rs = NULL;
            }
            if (rs)
                __atomic_store_n(&rs->npages, rs->npages + n, __ATOMIC_RELEASE);
            else
                run = s;
        } else {
            if (run) {
                if (heap__span(h, run)->released)
                    released += heap__span(h, run)->npages;
                free_append(h, &wl, run);
                run = 0;
            }
            if (flags & HEAP__WALK_REPAIR)
                page_map_set(h, s, n, s);
            if (sp->state == HEAP__SPAN_SMALL && sp->owner == 0 &&
                sp->alloc_count < sp->nelems &&
                (uint32_t)(sp->sweep_word >> 1) == gen)   /* LAZY SWEEP: swept only */
                partial_append(h, &wl, s);
            inuse += n;
        }
        s += n;
    }
    /* Span by span from first_page reaches exactly hwm_page. */
    assert(s == hwm);
    if (run) {
        if (heap__span(h, run)->released)
            released += heap__span(h, run)->npages;
        free_append(h, &wl, run);
    }
    __atomic_store_n(&hdr->inuse_pages, inuse, __ATOMIC_RELAXED);
    __atomic_store_n(&hdr->released_pages, released, __ATOMIC_RELAXED);
    /* PAGE CACHE: a repair walk runs beside processes cutting spans, some
    ** counted in use and not yet published: the next stop counts again. */
    if (flags & HEAP__WALK_REPAIR)
        __atomic_store_n(&hdr->inuse_recount, 1, __ATOMIC_RELEASE);
    hdr->coalesce_needed = 0;
    /* LAZY SWEEP: boundaries may have moved under the cursor. */
    hdr->sweep_cursor = hdr->first_page;
    hdr->sweep_end = hwm;
}

/* ---- LAZY SWEEP (heap_int.h) ------------------------------------------ */

void heap__sweep_begin_locked(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    for (uint32_t spc = 0; spc < HEAP__NSPANCLASSES; spc++)
        hdr->central[spc].partial_head = 0;
    __atomic_store_n(&hdr->sweepgen, hdr->sweepgen + 1, __ATOMIC_RELEASE);
    hdr->sweep_cursor = hdr->first_page;
    hdr->sweep_end = hdr->hwm_page;
    hdr->sweep_ppb_fixed = 0;
    __atomic_store_n(&hdr->sweep_pages_swept, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&hdr->sweep_active, 1, __ATOMIC_RELEASE);
    __atomic_or_fetch(&hdr->poll, HEAP__POLL_SWEEP, __ATOMIC_SEQ_CST);
}

void heap__sweep_pace_locked(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    /* Go's gcPaceSweeper: every in-use page swept by the time the heap
    ** reaches the next trigger, at least 1 MiB away. */
    uint64_t live = heap__atomic_load(&hdr->heap_live_bytes);
    uint64_t trigger = heap__pacer_trigger(&hdr->pacer, HEAP__PACER_NONE, NULL);
    uint64_t distance = trigger != HEAP__PACER_NONE && trigger > live ? trigger - live : 0;
    if (distance < (1u << 20))
        distance = 1u << 20;
    uint64_t pages = heap__atomic_load(&hdr->inuse_pages);
    hdr->sweep_live_basis = live;
    hdr->sweep_ppb_fixed = (uint64_t)(((unsigned __int128)pages << 32) / distance);
}

/* Push a swept span with room onto its class's list (heap lock held; the
** central lock is taken here unless held). */
static void sweep_list(heap_t *h, uint32_t page, bool centrals_held)
{
    heap__span_t *sp = heap__span(h, page);
    uint32_t spc = sp->spanclass;
    heap__central_t *ct = &h->hdr->central[spc];
    if (!centrals_held)
        heap__central_lock(h, spc);
    __atomic_store_n(&ct->busy_page, page, __ATOMIC_RELEASE);
    __atomic_store_n(&sp->next, ct->partial_head, __ATOMIC_RELEASE);
    __atomic_store_n(&ct->partial_head, page, __ATOMIC_RELEASE);
    __atomic_store_n(&ct->busy_page, 0, __ATOMIC_RELEASE);
    if (!centrals_held)
        heap__central_unlock(h, spc);
}

/* A run of spans this sweep freed, merged as they come. */
typedef struct sweep_run {
    uint32_t start, npages;
} sweep_run_t;

static void run_flush(heap_t *h, sweep_run_t *run)
{
    if (!run->start)
        return;
    heap__span_t *sp = heap__span(h, run->start);
    sp->released = 0;
    __atomic_store_n(&sp->npages, run->npages, __ATOMIC_RELEASE);
    free_push(h, run->start);
    h->hdr->coalesce_needed = 1;
    run->start = run->npages = 0;
}

/* Sweep up to max_spans unswept spans from the cursor. Heap lock held. */
static uint32_t sweep_batch_locked(heap_t *h, uint32_t max_spans, bool centrals_held,
                                   const uint32_t *stop_when_set)
{
    heap__hdr_t *hdr = h->hdr;
    if (!__atomic_load_n(&hdr->sweep_active, __ATOMIC_ACQUIRE))
        return 0;
    uint32_t gen = hdr->sweepgen;
    uint32_t s = hdr->sweep_cursor, end = hdr->sweep_end;
    uint32_t swept = 0;
    sweep_run_t run = {0, 0};
    while (s < end && swept < max_spans) {
        heap__span_t *sp = heap__span(h, s);
        /* PAGE CACHE: the state before npages, as every walker beside
        ** cutting processes loads them. */
        uint32_t state = __atomic_load_n(&sp->state, __ATOMIC_ACQUIRE);
        uint32_t n = __atomic_load_n(&sp->npages, __ATOMIC_ACQUIRE);
        if (n == 0 || n > end - s) {
            /* Not a span start any more: only a repair walk moves
            ** boundaries, and it restarts the cursor. Stop here. */
            s = end;
            break;
        }
        /* PAGE CACHE: a span published meanwhile, without the heap lock,
        ** was swept at its init (its sweep_word before its state). */
        bool unswept = (state == HEAP__SPAN_SMALL || state == HEAP__SPAN_LARGE) &&
                       (uint32_t)(sp->sweep_word >> 1) != gen;
        if (unswept) {
            uint64_t inuse = n;
            if (state == HEAP__SPAN_SMALL)
                sweep_small(h, sp, s, gen, NULL);
            else
                sweep_large(h, sp, s, gen, NULL);
            heap__fault(h, HEAP__FP_SWEEP);
            swept++;
            __atomic_add_fetch(&hdr->sweep_pages_swept, n, __ATOMIC_RELAXED);
            if (sp->state == HEAP__SPAN_FREE) {
                __atomic_sub_fetch(&hdr->inuse_pages, inuse, __ATOMIC_RELAXED);
                if (run.start && run.start + run.npages == s) {
                    run.npages += n;
                } else {
                    run_flush(h, &run);
                    run.start = s;
                    run.npages = n;
                }
                s += n;
                continue;
            }
            if (sp->state == HEAP__SPAN_SMALL && sp->alloc_count < sp->nelems)
                sweep_list(h, s, centrals_held);
            if (stop_when_set && __atomic_load_n(stop_when_set, __ATOMIC_RELAXED)) {
                run_flush(h, &run);
                s += n;
                break;
            }
        }
        run_flush(h, &run);
        s += n;
    }
    run_flush(h, &run);
    hdr->sweep_cursor = s;
    if (s >= end) {
        __atomic_and_fetch(&hdr->poll, ~HEAP__POLL_SWEEP, __ATOMIC_SEQ_CST);
        __atomic_store_n(&hdr->sweep_active, 0, __ATOMIC_RELEASE);
        heap__coalesce_locked(h);
        /* The sweep freed what it frees: Go's sweeper wakes the
        ** background scavenger here (SCAVENGER). */
        heap__scavenge_wake(h);
    }
    return swept;
}

uint32_t heap__sweep_some(heap_t *h, uint32_t max_spans)
{
    if (!__atomic_load_n(&h->hdr->sweep_active, __ATOMIC_ACQUIRE))
        return 0;
    heap__lock(h);
    uint32_t n = sweep_batch_locked(h, max_spans, false, NULL);
    heap__unlock(h);
    return n;
}

uint32_t heap__sweep_for_class(heap_t *h, uint32_t spc, uint32_t max_spans)
{
    if (!__atomic_load_n(&h->hdr->sweep_active, __ATOMIC_ACQUIRE))
        return 0;
    heap__lock(h);
    uint32_t n = sweep_batch_locked(h, max_spans, false, &h->hdr->central[spc].partial_head);
    heap__unlock(h);
    return n;
}

#define SWEEP_CREDIT_SPANS 64u
void heap__sweep_credit(heap_t *h, uint64_t bytes)
{
    heap__hdr_t *hdr = h->hdr;
    if (!__atomic_load_n(&hdr->sweep_active, __ATOMIC_ACQUIRE))
        return;
    uint64_t live = heap__atomic_load(&hdr->heap_live_bytes) + bytes;
    uint64_t basis = heap__atomic_load(&hdr->sweep_live_basis);
    uint64_t allocated = live > basis ? live - basis : 0;
    uint64_t target =
        (uint64_t)(((unsigned __int128)allocated * heap__atomic_load(&hdr->sweep_ppb_fixed)) >> 32);
    while (__atomic_load_n(&hdr->sweep_pages_swept, __ATOMIC_RELAXED) < target &&
           heap__sweep_some(h, SWEEP_CREDIT_SPANS) > 0)
        ;
}

void heap__sweep_finish_locked(heap_t *h, bool centrals_held)
{
    while (__atomic_load_n(&h->hdr->sweep_active, __ATOMIC_ACQUIRE))
        sweep_batch_locked(h, UINT32_MAX, centrals_held, NULL);
}

void heap__coalesce_locked(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    if (!hdr->coalesce_needed)
        return;
    walk_lists_t wl;
    memset(wl.free_tail, 0, sizeof wl.free_tail);
    hdr->free_epoch++;   /* SCAVENGER: the lists are rebuilt */
    memset(hdr->free_head, 0, sizeof hdr->free_head);
    memset(hdr->free_nonempty, 0, sizeof hdr->free_nonempty);
    uint32_t hwm = hdr->hwm_page, run = 0;
    for (uint32_t s = hdr->first_page; s < hwm;) {
        heap__span_t *sp = heap__span(h, s);
        uint32_t state = __atomic_load_n(&sp->state, __ATOMIC_ACQUIRE);   /* PAGE CACHE: first */
        uint32_t n = __atomic_load_n(&sp->npages, __ATOMIC_ACQUIRE);
        if (n == 0 || n > hwm - s)
            break;   /* damage: the next repair walk rebuilds everything */
        if (state == HEAP__SPAN_FREE) {
            heap__span_t *rs = run ? heap__span(h, run) : NULL;
            if (rs && rs->released == sp->released) {
                __atomic_store_n(&rs->npages, rs->npages + n, __ATOMIC_RELEASE);
            } else {
                if (run)
                    free_append(h, &wl, run);
                run = s;
            }
        } else if (run) {
            free_append(h, &wl, run);
            run = 0;
        }
        s += n;
    }
    if (run)
        free_append(h, &wl, run);
    hdr->coalesce_needed = 0;
}

/* ---- Central list repair -------------------------------------------- */

void heap__central_repair_locked(heap_t *h, uint32_t spc)
{
    heap__hdr_t *hdr = h->hdr;
    heap__central_t *ct = &hdr->central[spc];
    uint32_t first = hdr->first_page;
    uint32_t hwm = __atomic_load_n(&hdr->hwm_page, __ATOMIC_ACQUIRE);
    uint32_t busy = ct->busy_page;
    bool busy_listed = false;

    /* Keep the spans that belong; a link out of range ends the list (only
    ** damage we do not model; the next walk finds the rest). */
    uint32_t *link = &ct->partial_head;
    uint64_t guard = hwm > first ? hwm - first : 0;
    while (*link) {
        uint32_t p = *link;
        heap__span_t *sp = heap__span(h, p);
        if (p < first || p >= hwm || guard-- == 0 || sp->state != HEAP__SPAN_SMALL ||
            sp->spanclass != spc) {
            *link = 0;
            break;
        }
        if (p == busy) {
            busy_listed = true;
            sp->owner = 0;          /* a push cut short after the link */
        }
        if (sp->owner == 0)
            sp->alloc_count = heap__span_count_allocated(sp);
        if (sp->owner != 0 || sp->alloc_count >= sp->nelems) {
            *link = sp->next;
            sp->next = 0;
            continue;
        }
        link = &sp->next;
    }
    if (busy && !busy_listed && busy >= first && busy < hwm) {
        /* A pop cut short (or a fresh direct span not yet linked): nobody
        ** allocated from it, so it goes back. Owned: an orphan for the sweep. */
        heap__span_t *sp = heap__span(h, busy);
        if (sp->state == HEAP__SPAN_SMALL && sp->spanclass == spc && sp->owner == 0) {
            sp->alloc_count = heap__span_count_allocated(sp);
            if (sp->alloc_count < sp->nelems) {
                sp->next = ct->partial_head;
                ct->partial_head = busy;
            }
        }
    }
    ct->busy_page = 0;
}
