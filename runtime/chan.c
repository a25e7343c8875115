/*
** runtime/chan.c -- channels and select (see chan.h).
**
** ---- In the shared heap ------------------------------------------------
**
**   channel object: [ slot 0: buffer ref ][ chan_hdr_t ]
**   buffer object:  [ cap * nptrs slots: cell 0 refs, cell 1 refs, ... ]
**                   [ cap * scalar_bytes: cell 0 scalars, ... ]
**
**   The buffer is a ring: the live cells are head, head+1, ... (mod cap),
**   len of them. Slots of cells outside the ring are nil, so the collector
**   keeps exactly the values waiting in the buffer. There is no buffer
**   object when cap == 0 or elements are empty (0 refs, 0 bytes).
**   chan_hdr_t holds only plain numbers: sizes, ring indices, the closed
**   flag and `waiting`, how many wait records are queued on the channel
**   (by the one process whose task uses it), so that the common buffered
**   operations never look at the wait queues.
**   A value copied into a buffer cell (or a cell cleared) is a store into
**   the buffer object, so it goes through the write barrier
**   (heap_write_ref); values copied out go to root slots or the caller's
**   memory, which need none.
**
** ---- Process-local (chan__state_t, one per task) -------------------------
**
**   Wait queues live in a side table keyed by the channel's ref (open
**   addressing, linear probing) -> waitq_t: a FIFO of receivers and one of
**   senders. Why a table and not an index stored in the channel object:
**   the segment must never hold process-local meaning (another process
**   may scan or, one day, use the object), and a lookup costs a multiply
**   and a probe. A waitq_t that empties stays in the table (ping-pong
**   makes and drains a queue every round) and is pruned when the table
**   would grow. While a queue is non-empty its channel is pinned in a
**   root slot: a parked goroutine may be all that refers to the channel,
**   and a channel freed and reallocated at the same ref would otherwise
**   inherit its waiters.
**
**   A blocked operation is a waiter_t (off every goroutine's stack, so the
**   stack may be set aside while it waits): the goroutine, the case, and
**   the value in flight -- refs in `nptrs` pinned root slots, scalars in
**   the record. Each also holds a sudog, the heap object Go's blocked
**   operation costs (rt__sudog_acquire: from the per-P cache, rooted by
**   the goroutine's g record while it waits; see rt_int.h). A select has one waiter_t per case, tied by a sel_t; the
**   operation that completes one case unlinks the others at once, so a
**   queue only ever holds live waiters.
**
** ---- Rooting, window by window ----------------------------------------------
**
**   Sends: the caller's refs go to `scratch` (root slots made with the
**   state) before the first safepoint; from there into a buffer cell, a
**   parked receiver's pinned slots, or the sender's own pinned slots
**   before it parks; scratch is cleared before the goroutine can switch.
**   Scratch is used only between two switch points, never across one.
**   A parked sender's value stays in its pinned slots until a receiver
**   copies it out (or into the buffer) and readies it. A value handed to a
**   parked receiver sits in the receiver's pinned slots until the receiver
**   runs and copies it to its out-pointers; only then are the slots
**   cleared, and the receive returns without another safepoint. Pins and
**   table entries are allocated only while everything is rooted (they may
**   collect when the heap is full).
**
** ---- Invariants ---------------------------------------------------------------
**
**   hdr->waiting == waiters on the channel's two queues.
**   A queue holds waiters in state WAITING only; their goroutines are
**   parked (or being ended by an unwinding task).
**   Non-empty receive queue => the buffer is empty; non-empty send queue
**   => the buffer is full; never both non-empty (a select waiting to send
**   and to receive on one channel excepted, as in Go).
**   Every pinned or scratch slot not in use is nil.
*/
#include "runtime/chan.h"

#include "runtime/rt_int.h"
#include "sched/sched.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define CHAN__MAGIC 0x4e414843u         /* "CHAN" */
#define SCRATCH_SLOTS CHAN_SELECT_MAX_SEND_NPTRS
#define PIN_CHUNK_SLOTS 4096u
#define PIN_CLASSES 11u                 /* blocks of 1, 2, 4, ..., 1024 slots */
#define WAITER_INLINE_BYTES 32u
#define SLAB_ITEMS 64u
#define TABLE_MIN 64u

_Static_assert(SCRATCH_SLOTS >= CHAN_MAX_ELEM_NPTRS, "a send's refs fit in scratch");
_Static_assert((1u << (PIN_CLASSES - 1)) >= CHAN_MAX_ELEM_NPTRS, "pin classes cover elements");
_Static_assert(PIN_CHUNK_SLOTS >= (1u << (PIN_CLASSES - 1)), "a chunk holds the biggest block");

typedef struct chan_hdr {
    uint32_t magic;
    uint32_t elem_nptrs;
    uint32_t elem_bytes;            /* scalar bytes per element */
    uint32_t closed;
    uint64_t cap;
    uint64_t len;
    uint64_t head;                  /* cell of the oldest value */
    uint64_t waiting;               /* wait records queued (see the picture) */
} chan_hdr_t;

enum { W_WAITING = 0, W_DONE, W_CLOSED };

typedef struct waitq waitq_t;
typedef struct sel sel_t;

typedef struct waiter {
    struct waiter *prev, *next;     /* in q's list; next: free list */
    waitq_t *q;                     /* NULL when on no queue */
    sel_t *sel;                     /* the select it is a case of, or NULL */
    sched_waiter_t *g;              /* the parked goroutine (not for a select) */
    heap_ref_t sudog;               /* Go's sudog for it, on the heap */
    rt_g_t *owner;                  /* the goroutine whose chain roots it */
    heap_ref_t *refs;               /* pinned, elem_nptrs slots; NULL if none */
    unsigned char *scalars;         /* elem_bytes; inline_scalars or malloc'd */
    uint32_t nrefs;
    uint32_t scalar_cap;
    uint32_t case_index;
    uint8_t dir;                    /* CHAN_SEND / CHAN_RECV */
    uint8_t state;                  /* W_* */
    unsigned char inline_scalars[WAITER_INLINE_BYTES];
} waiter_t;

struct sel {
    sched_waiter_t *g;
    struct sel *prev, *next;        /* on the state's list of blocked selects */
    uint32_t n;
    int fired;                      /* case index, -1 while waiting */
    waiter_t *cases[];              /* n, NULL for nil-channel cases */
};

struct waitq {
    heap_ref_t ch;
    waiter_t *recv_head, *recv_tail;
    waiter_t *send_head, *send_tail;
    heap_ref_t *pin;                /* one root slot: ch while a queue is non-empty */
    waitq_t *free_next;
};

typedef struct pin_list {
    heap_ref_t **blocks;
    size_t n, cap;
} pin_list_t;

struct chan__state {
    heap_roots_t *scratch_roots;
    heap_ref_t *scratch;            /* SCRATCH_SLOTS, nil when unused */

    heap_roots_t **chunks;          /* pinned-slot chunks, all slots pushed */
    size_t nchunks, chunks_cap;
    heap_ref_t *bump;               /* unused tail of the newest chunk */
    uint32_t bump_left;
    pin_list_t pin_free[PIN_CLASSES];

    waitq_t **table;                /* table_cap entries (power of 2), NULL = empty */
    size_t table_cap, table_used;
    unsigned table_shift;           /* 64 - log2(table_cap) */
    waitq_t *free_qs;
    waiter_t *free_waiters;

    uint32_t *sel_order;            /* select's poll order and scratch offsets */
    size_t sel_order_cap;           /* (2 * cases), reused: selects never nest */
    sel_t *sels;                    /* blocked selects (freed by destroy if a
                                    ** failed task leaves them) */

    void **slabs;                   /* every waiter and waitq slab, for destroy */
    size_t nslabs, slabs_cap;
    waiter_t **waiter_slabs;        /* the waiter ones, to free their scalars */
    size_t nwaiter_slabs, waiter_slabs_cap;
};

/* ---- Small helpers --------------------------------------------------------- */

static _Noreturn void oom(rt_t *rt, const char *what)
{
    rt_fail(rt, "out of memory: %s", what);
}

static inline chan_hdr_t *hdr_of(heap_t *h, heap_ref_t ch)
{
    return (chan_hdr_t *)heap_data(h, ch, 1);   /* after the buffer slot */
}

/* The header of ch, checked to be a channel's. */
static inline chan_hdr_t *chan_checked(rt_t *rt, heap_ref_t ch)
{
    chan_hdr_t *c = hdr_of(rt->heap, ch);

    if (__builtin_expect(c->magic != CHAN__MAGIC, 0))
        rt_fail(rt, "chan: %#llx is not a channel", (unsigned long long)ch);
    return c;
}

static inline chan__state_t *state_of(rt_t *rt, heap_ref_t ch)
{
    if (__builtin_expect(rt->chan == NULL, 0))
        rt_fail(rt, "chan: channel %#llx was not made by this task", (unsigned long long)ch);
    return rt->chan;
}

/* dst[0..n) = src[0..n), or nil when src is NULL; nothing when dst is. */
static inline void refs_put(heap_ref_t *dst, const heap_ref_t *src, uint32_t n)
{
    if (n == 0 || dst == NULL)
        return;
    if (n == 1)
        dst[0] = src != NULL ? src[0] : 0;
    else if (src != NULL)
        memcpy(dst, src, (size_t)n * sizeof *dst);
    else
        memset(dst, 0, (size_t)n * sizeof *dst);
}

/* The same for scalar bytes (one word inline: the common element). */
static inline void bytes_put(void *dst, const void *src, uint32_t n)
{
    if (n == 0 || dst == NULL)
        return;
    if (n == sizeof(uint64_t)) {
        uint64_t v = 0;
        if (src != NULL)
            memcpy(&v, src, sizeof v);
        memcpy(dst, &v, sizeof v);
    } else if (src != NULL) {
        memcpy(dst, src, n);
    } else {
        memset(dst, 0, n);
    }
}

/* A safepoint (rt_safepoint, inline). */
static inline void poll(rt_t *rt)
{
    heap_safepoint(rt->heap);
}

/* Cell i's refs into dst (root slots or C memory, never a heap object's:
** those are written through the barrier); nothing when dst is NULL. */
static inline void cell_get(heap_t *h, heap_ref_t ch, const chan_hdr_t *c, uint64_t i,
                            heap_ref_t *dst)
{
    uint32_t n = c->elem_nptrs;

    if (n == 0 || dst == NULL)
        return;
    heap_ref_t buf = heap_read_ref(h, ch, 0);
    uint32_t first = (uint32_t)(i * n);   /* cap * nptrs fits (chan_make) */
    for (uint32_t k = 0; k < n; k++)
        dst[k] = heap_read_ref(h, buf, first + k);
}

/* Cell i's refs := src[0..nptrs), or nil when src is NULL: stores into
** the buffer object, so each goes through the write barrier. */
static inline void cell_set(heap_t *h, heap_ref_t ch, const chan_hdr_t *c, uint64_t i,
                            const heap_ref_t *src)
{
    uint32_t n = c->elem_nptrs;

    if (n == 0)
        return;
    heap_ref_t buf = heap_read_ref(h, ch, 0);
    uint32_t first = (uint32_t)(i * n);
    for (uint32_t k = 0; k < n; k++)
        heap_write_ref(h, buf, first + k, src != NULL ? src[k] : 0);
}

static inline unsigned char *cell_scalars(heap_t *h, heap_ref_t ch, const chan_hdr_t *c,
                                          uint64_t i)
{
    heap_ref_t buf = heap_read_ref(h, ch, 0);
    return (unsigned char *)heap_data(h, buf, (uint32_t)(c->cap * c->elem_nptrs)) +
           i * c->elem_bytes;
}

static inline bool has_cells(const chan_hdr_t *c)
{
    return c->elem_nptrs != 0 || c->elem_bytes != 0;
}

/* Are slots[0..n) all nil? (For asserts: "every pinned or scratch slot
** not in use is nil".) */
static inline bool all_nil(const heap_ref_t *slots, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (slots[i] != 0)
            return false;
    return true;
}

/* ---- Pinned root slots ----------------------------------------------------------- */

static inline uint32_t pin_class(uint32_t n)
{
    return n <= 1 ? 0 : 32u - (uint32_t)__builtin_clz(n - 1);
}

static bool slab_note(chan__state_t *st, void *slab)
{
    if (st->nslabs == st->slabs_cap) {
        size_t cap = st->slabs_cap ? 2 * st->slabs_cap : 16;
        void **v = realloc(st->slabs, cap * sizeof *v);
        if (!v)
            return false;
        st->slabs = v;
        st->slabs_cap = cap;
    }
    st->slabs[st->nslabs++] = slab;
    return true;
}

/* n (1..CHAN_MAX_ELEM_NPTRS) nil root slots. May allocate a chunk, which
** may collect: the caller holds nothing unrooted. */
static heap_ref_t *pin(rt_t *rt, chan__state_t *st, uint32_t n)
{
    uint32_t k = pin_class(n), size = 1u << k;
    pin_list_t *fl = &st->pin_free[k];

    if (fl->n > 0) {
        heap_ref_t *slots = fl->blocks[--fl->n];
        assert(all_nil(slots, size));
        return slots;
    }
    if (st->bump_left < size) {
        if (st->nchunks == st->chunks_cap) {
            size_t cap = st->chunks_cap ? 2 * st->chunks_cap : 8;
            heap_roots_t **v = realloc(st->chunks, cap * sizeof *v);
            if (!v)
                oom(rt, "channel wait records");
            st->chunks = v;
            st->chunks_cap = cap;
        }
        heap_roots_t *r = heap_roots_new(rt->heap, PIN_CHUNK_SLOTS);
        if (!r)
            oom(rt, "root slots for channel values");
        st->chunks[st->nchunks++] = r;
        st->bump = heap_roots_push(r, PIN_CHUNK_SLOTS);
        st->bump_left = PIN_CHUNK_SLOTS;
    }
    heap_ref_t *slots = st->bump;
    st->bump += size;
    st->bump_left -= size;
    assert(all_nil(slots, size));
    return slots;
}

/* Give back n pinned slots (cleared here). Never allocates on the heap. */
void chan__roots_describe(rt_t *rt, rt_root_fn fn, void *arg)
{
    chan__state_t *st = rt->chan;

    if (!st)
        return;
    fn(arg, heap_roots_ref(st->scratch_roots), "runtime channel scratch",
       "runtime channel scratch");
    for (size_t i = 0; i < st->nchunks; i++)
        fn(arg, heap_roots_ref(st->chunks[i]), "runtime channel values in flight",
           "runtime channel values in flight");
}

static void unpin(chan__state_t *st, heap_ref_t *slots, uint32_t n)
{
    pin_list_t *fl = &st->pin_free[pin_class(n)];

    memset(slots, 0, (size_t)n * sizeof *slots);
    if (fl->n == fl->cap) {
        size_t cap = fl->cap ? 2 * fl->cap : 64;
        heap_ref_t **v = realloc(fl->blocks, cap * sizeof *v);
        if (!v)
            return;   /* the block stays nil and unused */
        fl->blocks = v;
        fl->cap = cap;
    }
    fl->blocks[fl->n++] = slots;
}

/* ---- Wait records -------------------------------------------------------------- */

/* Refill the free list with a slab of waiters. Fails the task on ENOMEM. */
static __attribute__((noinline)) void waiter_slab(rt_t *rt, chan__state_t *st)
{
    waiter_t *slab = calloc(SLAB_ITEMS, sizeof *slab);
    if (!slab || !slab_note(st, slab)) {
        free(slab);
        oom(rt, "channel wait records");
    }
    if (st->nwaiter_slabs == st->waiter_slabs_cap) {
        size_t cap = st->waiter_slabs_cap ? 2 * st->waiter_slabs_cap : 16;
        waiter_t **v = realloc(st->waiter_slabs, cap * sizeof *v);
        if (!v) {
            st->nslabs--;
            free(slab);
            oom(rt, "channel wait records");
        }
        st->waiter_slabs = v;
        st->waiter_slabs_cap = cap;
    }
    st->waiter_slabs[st->nwaiter_slabs++] = slab;
    for (uint32_t i = 0; i < SLAB_ITEMS; i++) {
        slab[i].scalars = slab[i].inline_scalars;
        slab[i].scalar_cap = WAITER_INLINE_BYTES;
        slab[i].next = i + 1 < SLAB_ITEMS ? &slab[i + 1] : NULL;
    }
    st->free_waiters = slab;
}

/* Give w room for nbytes of scalars. Fails the task on ENOMEM. */
static __attribute__((noinline)) void waiter_grow(rt_t *rt, waiter_t *w, uint32_t nbytes)
{
    unsigned char *b = malloc(nbytes);
    if (!b)
        oom(rt, "a channel value in flight");
    if (w->scalars != w->inline_scalars)
        free(w->scalars);
    w->scalars = b;
    w->scalar_cap = nbytes;
}

/* A waiter for an element of (nrefs, nbytes), with its slots pinned. May
** collect (see pin). Inlined where a park is the common case and its
** frame is not what a parked goroutine keeps (a blocked send: ping-pong's
** senders park every round); waiter_get below elsewhere, so that a
** receiver parked for long keeps a smaller frame (its stack is set aside
** at its size). */
static inline __attribute__((always_inline)) waiter_t *waiter_get_inline(
    rt_t *rt, chan__state_t *st, uint32_t nrefs, uint32_t nbytes, uint8_t dir)
{
    if (__builtin_expect(st->free_waiters == NULL, 0))
        waiter_slab(rt, st);
    waiter_t *w = st->free_waiters;
    st->free_waiters = w->next;
    if (__builtin_expect(w->scalar_cap < nbytes, 0))
        waiter_grow(rt, w, nbytes);
    w->q = NULL;
    w->sel = NULL;
    w->nrefs = nrefs;
    w->dir = dir;
    w->state = W_WAITING;
    w->refs = NULL;
    /* Off the free list first: a collection in these is harmless. */
    w->sudog = rt__sudog_acquire(rt, &w->owner);
    w->refs = nrefs > 0 ? pin(rt, st, nrefs) : NULL;
    return w;
}

static __attribute__((noinline)) waiter_t *waiter_get(rt_t *rt, chan__state_t *st,
                                                     uint32_t nrefs, uint32_t nbytes, uint8_t dir)
{
    return waiter_get_inline(rt, st, nrefs, nbytes, dir);
}

static inline void waiter_put(rt_t *rt, chan__state_t *st, waiter_t *w)
{
    rt__sudog_release(rt, w->owner, w->sudog);
    w->sudog = 0;
    if (w->refs != NULL)
        unpin(st, w->refs, w->nrefs);
    w->next = st->free_waiters;
    st->free_waiters = w;
}

/* ---- The side table ----------------------------------------------------------------- */

static inline size_t table_slot(const chan__state_t *st, heap_ref_t ch)
{
    return (size_t)((ch * 0x9e3779b97f4a7c15ull) >> st->table_shift);
}

static inline bool q_empty(const waitq_t *q)
{
    return q->recv_head == NULL && q->send_head == NULL;
}

static inline waitq_t *q_find(const chan__state_t *st, heap_ref_t ch)
{
    if (st->table_cap == 0)
        return NULL;
    size_t mask = st->table_cap - 1;
    for (size_t i = table_slot(st, ch);; i = (i + 1) & mask) {
        waitq_t *q = st->table[i];
        if (q == NULL || q->ch == ch)
            return q;
    }
}

static void table_insert(chan__state_t *st, waitq_t *q)
{
    size_t mask = st->table_cap - 1;
    size_t i = table_slot(st, q->ch);

    while (st->table[i] != NULL)
        i = (i + 1) & mask;
    st->table[i] = q;
    st->table_used++;
}

/* Make room for one more entry: drop the empty queues, and size the
** table for four times what is left. Returns false on -ENOMEM (the table
** is then unchanged). */
static bool table_rebuild(chan__state_t *st)
{
    size_t keep = 0;
    for (size_t i = 0; i < st->table_cap; i++)
        if (st->table[i] != NULL && !q_empty(st->table[i]))
            keep++;
    size_t cap = TABLE_MIN;
    while (cap < 4 * (keep + 1))
        cap *= 2;
    waitq_t **table = calloc(cap, sizeof *table);
    if (!table)
        return false;
    waitq_t **old = st->table;
    size_t old_cap = st->table_cap;
    st->table = table;
    st->table_cap = cap;
    st->table_shift = 64u - (unsigned)__builtin_ctzll(cap);
    st->table_used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        waitq_t *q = old[i];
        if (q == NULL)
            continue;
        if (q_empty(q)) {
            q->free_next = st->free_qs;
            st->free_qs = q;
        } else {
            table_insert(st, q);
        }
    }
    free(old);
    return true;
}

/* A new, empty queue for ch (not in the table). May collect (a pin). */
static __attribute__((noinline)) waitq_t *q_make(rt_t *rt, chan__state_t *st, heap_ref_t ch)
{
    waitq_t *q;

    if (2 * (st->table_used + 1) > st->table_cap && !table_rebuild(st))
        oom(rt, "channel wait queues");
    q = st->free_qs;
    if (q == NULL) {
        waitq_t *slab = calloc(SLAB_ITEMS, sizeof *slab);
        if (!slab || !slab_note(st, slab)) {
            free(slab);
            oom(rt, "channel wait queues");
        }
        for (uint32_t i = 0; i < SLAB_ITEMS; i++)
            slab[i].free_next = i + 1 < SLAB_ITEMS ? &slab[i + 1] : NULL;
        q = slab;
    }
    if (q->pin == NULL) {
        st->free_qs = q->free_next;   /* off the list before pin() */
        q->pin = pin(rt, st, 1);
    } else {
        st->free_qs = q->free_next;
    }
    assert(*q->pin == 0);   /* a queue that emptied let go of its channel */
    q->ch = ch;
    q->recv_head = q->recv_tail = NULL;
    q->send_head = q->send_tail = NULL;
    table_insert(st, q);
    return q;
}

/* The queue of ch, made if needed. May collect (a pin for a new entry).
** An empty queue returned here may be freed by the next q_get: link a
** waiter into it first. */
static inline waitq_t *q_get(rt_t *rt, chan__state_t *st, heap_ref_t ch)
{
    waitq_t *q = q_find(st, ch);

    return q != NULL ? q : q_make(rt, st, ch);
}

static inline void q_link(heap_t *h, waitq_t *q, waiter_t *w)
{
    waiter_t **head = w->dir == CHAN_RECV ? &q->recv_head : &q->send_head;
    waiter_t **tail = w->dir == CHAN_RECV ? &q->recv_tail : &q->send_tail;
    chan_hdr_t *c = hdr_of(h, q->ch);

    /* Queues hold WAITING waiters only; a receiver waits on an empty
    ** buffer, a sender on a full one (the picture's invariants). */
    assert(w->state == W_WAITING && w->q == NULL);
    assert(w->dir == CHAN_RECV ? c->len == 0 : c->len == c->cap);
    w->q = q;
    w->next = NULL;
    w->prev = *tail;
    if (*tail != NULL)
        (*tail)->next = w;
    else
        *head = w;
    *tail = w;
    *q->pin = q->ch;
    c->waiting++;
}

static inline void q_unlink(heap_t *h, waiter_t *w)
{
    waitq_t *q = w->q;
    waiter_t **head = w->dir == CHAN_RECV ? &q->recv_head : &q->send_head;
    waiter_t **tail = w->dir == CHAN_RECV ? &q->recv_tail : &q->send_tail;

    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        *head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        *tail = w->prev;
    w->prev = w->next = NULL;
    w->q = NULL;
    chan_hdr_t *c = hdr_of(h, q->ch);
    assert(c->waiting > 0);
    c->waiting--;
    if (q_empty(q)) {
        assert(c->waiting == 0);   /* waiting == the waiters on both queues */
        *q->pin = 0;
    }
}

/* The oldest waiter of direction dir on ch, unlinked; NULL if none. */
static inline waiter_t *q_pop(rt_t *rt, heap_ref_t ch, chan_hdr_t *c, uint8_t dir)
{
    if (c->waiting == 0)
        return NULL;
    waitq_t *q = q_find(rt->chan, ch);
    assert(q != NULL);   /* waiting counts waiters on this channel's queues */
    if (q == NULL)
        return NULL;
    waiter_t **head = dir == CHAN_RECV ? &q->recv_head : &q->send_head;
    waiter_t *w = *head;
    if (w == NULL)
        return NULL;
    assert(w->state == W_WAITING && w->q == q);
    /* q_unlink for the head. */
    *head = w->next;
    if (w->next != NULL)
        w->next->prev = NULL;
    else
        *(dir == CHAN_RECV ? &q->recv_tail : &q->send_tail) = NULL;
    w->next = NULL;
    w->q = NULL;
    c->waiting--;
    if (q_empty(q)) {
        assert(c->waiting == 0);
        *q->pin = 0;
    }
    return w;
}

/* w was taken off its queue and its state set: if it is a select's case,
** take the select's other cases off their queues; then ready the
** goroutine (to run next when `next`). */
static inline void wake(rt_t *rt, waiter_t *w, bool next)
{
    sched_waiter_t *g = w->g;
    sel_t *sel = w->sel;

    assert(w->q == NULL && w->state != W_WAITING);
    if (sel != NULL) {
        sel->fired = (int)w->case_index;
        for (uint32_t i = 0; i < sel->n; i++) {
            waiter_t *x = sel->cases[i];
            if (x != NULL && x->q != NULL)
                q_unlink(rt->heap, x);
        }
        g = sel->g;
    }
    if (next)
        sched_ready_next(rt->sched, g);
    else
        sched_ready(rt->sched, g);
}

/* ---- The operations' cores (no safepoint inside) ------------------------------------ */

/* A ready receive on ch, if there is one: from a parked sender, the
** buffer, or the close. Returns false when the receive would block. */
static inline __attribute__((always_inline)) bool try_recv(rt_t *rt, heap_ref_t ch, chan_hdr_t *c, heap_ref_t *refs_out,
                     void *scalars_out, bool *ok)
{
    heap_t *h = rt->heap;
    waiter_t *w = q_pop(rt, ch, c, CHAN_SEND);

    if (w != NULL) {
        assert(c->len == c->cap);   /* a sender waits only on a full buffer */
        if (c->cap == 0) {
            refs_put(refs_out, w->refs, c->elem_nptrs);
            bytes_put(scalars_out, w->scalars, c->elem_bytes);
        } else {
            /* The buffer is full: take its head, and the sender's value
            ** becomes the new tail in the same cell. */
            if (has_cells(c)) {
                unsigned char *cs = cell_scalars(h, ch, c, c->head);
                cell_get(h, ch, c, c->head, refs_out);
                bytes_put(scalars_out, cs, c->elem_bytes);
                cell_set(h, ch, c, c->head, w->refs);
                bytes_put(cs, w->scalars, c->elem_bytes);
            }
            c->head = c->head + 1 == c->cap ? 0 : c->head + 1;
        }
        w->state = W_DONE;
        wake(rt, w, true);
        *ok = true;
        return true;
    }
    if (c->len > 0) {
        if (has_cells(c)) {
            cell_get(h, ch, c, c->head, refs_out);
            bytes_put(scalars_out, cell_scalars(h, ch, c, c->head), c->elem_bytes);
            cell_set(h, ch, c, c->head, NULL);   /* the buffer keeps it no more */
        }
        c->head = c->head + 1 == c->cap ? 0 : c->head + 1;
        c->len--;
        *ok = true;
        return true;
    }
    if (c->closed) {
        refs_put(refs_out, NULL, c->elem_nptrs);
        bytes_put(scalars_out, NULL, c->elem_bytes);
        *ok = false;
        return true;
    }
    return false;
}

/* A ready send of (refs, scalars) on ch, if there is one: to a parked
** receiver or into the buffer. The caller has checked that ch is open.
** Returns false when the send would block. */
static inline __attribute__((always_inline)) bool try_send(rt_t *rt, heap_ref_t ch, chan_hdr_t *c, const heap_ref_t *refs,
                     const void *scalars)
{
    heap_t *h = rt->heap;
    waiter_t *w = q_pop(rt, ch, c, CHAN_RECV);
    if (w != NULL) {
        assert(c->len == 0);   /* a receiver waits only on an empty buffer */
        refs_put(w->refs, refs, c->elem_nptrs);
        bytes_put(w->scalars, scalars, c->elem_bytes);
        w->state = W_DONE;
        wake(rt, w, true);
        return true;
    }
    if (c->len < c->cap) {
        if (has_cells(c)) {
            uint64_t tail = c->head + c->len;
            if (tail >= c->cap)
                tail -= c->cap;
            cell_set(h, ch, c, tail, refs);
            bytes_put(cell_scalars(h, ch, c, tail), scalars, c->elem_bytes);
        }
        c->len++;
        return true;
    }
    return false;
}

/* Block forever (an operation on the nil channel, an empty select). */
static void block_forever(rt_t *rt, const char *reason)
{
    sched_waiter_t *nobody;

    while (!sched_unwinding(rt->sched))
        sched_park_flags(rt->sched, &nobody, reason, SCHED_PARK_STACK_ASIDE);
}

/* ---- Public ------------------------------------------------------------------------- */

static chan__state_t *state_new(rt_t *rt)
{
    chan__state_t *st = calloc(1, sizeof *st);
    if (!st)
        oom(rt, "channel state");
    st->scratch_roots = heap_roots_new(rt->heap, SCRATCH_SLOTS);
    if (!st->scratch_roots) {
        free(st);
        oom(rt, "channel state");
    }
    st->scratch = heap_roots_push(st->scratch_roots, SCRATCH_SLOTS);
    return st;
}

void chan__state_destroy(rt_t *rt)
{
    chan__state_t *st = rt->chan;

    if (st == NULL)
        return;
    rt->chan = NULL;
    for (size_t i = 0; i < st->nwaiter_slabs; i++) {
        waiter_t *slab = st->waiter_slabs[i];
        for (uint32_t j = 0; j < SLAB_ITEMS; j++)
            if (slab[j].scalars != slab[j].inline_scalars)
                free(slab[j].scalars);
    }
    for (size_t i = 0; i < st->nslabs; i++)
        free(st->slabs[i]);
    free(st->slabs);
    free(st->waiter_slabs);
    for (uint32_t k = 0; k < PIN_CLASSES; k++)
        free(st->pin_free[k].blocks);
    for (size_t i = 0; i < st->nchunks; i++)
        heap_roots_destroy(rt->heap, &st->chunks[i]);
    free(st->chunks);
    heap_roots_destroy(rt->heap, &st->scratch_roots);
    while (st->sels != NULL) {
        sel_t *sel = st->sels;
        st->sels = sel->next;
        free(sel);
    }
    free(st->sel_order);
    free(st->table);
    free(st);
}

heap_ref_t chan_make(rt_t *rt, uint32_t nptrs, size_t scalar_bytes, size_t cap)
{
    heap_t *h = rt->heap;

    if (nptrs > CHAN_MAX_ELEM_NPTRS || scalar_bytes > CHAN_MAX_ELEM_SCALAR_BYTES)
        rt_fail(rt, "makechan: element too large (%u refs, %zu bytes)", nptrs, scalar_bytes);
    if (cap > ((size_t)1 << 40) || (uint64_t)cap * nptrs > UINT32_MAX)
        rt_fail(rt, "makechan: size out of range");
    if (rt->chan == NULL)
        rt->chan = state_new(rt);
    heap_ref_t *scratch = rt->chan->scratch;
    heap_ref_t buf = 0;
    if (cap > 0 && (nptrs > 0 || scalar_bytes > 0)) {
        buf = rt__alloc_at(rt, (uint32_t)(cap * nptrs), cap * scalar_bytes, "runtime.makechan.buf");
        scratch[0] = buf;   /* rooted while the channel object is made */
    }
    heap_ref_t ch = rt__alloc_at(rt, 1, sizeof(chan_hdr_t), "runtime.makechan");
    scratch[0] = 0;
    heap_write_ref(h, ch, 0, buf);
    chan_hdr_t *c = hdr_of(h, ch);
    c->magic = CHAN__MAGIC;
    c->elem_nptrs = nptrs;
    c->elem_bytes = (uint32_t)scalar_bytes;
    c->closed = 0;
    c->cap = cap;
    c->len = 0;
    c->head = 0;
    c->waiting = 0;
    return ch;
}

/* chan_send's slow path: no receiver, no room. Queue a wait record holding
** the value and park until a receiver takes it or the channel closes.
** refs (if any) are in scratch, which is cleared here. */
static __attribute__((noinline)) void send_park(rt_t *rt, chan__state_t *st, heap_ref_t ch,
                                                chan_hdr_t *c, const heap_ref_t *refs,
                                                const void *scalars)
{
    uint32_t n = c->elem_nptrs;
    waiter_t *w = waiter_get_inline(rt, st, n, c->elem_bytes, CHAN_SEND);

    refs_put(w->refs, refs, n);
    bytes_put(w->scalars, scalars, c->elem_bytes);
    refs_put(st->scratch, NULL, n);
    q_link(rt->heap, q_get(rt, st, ch), w);
    sched_park_flags(rt->sched, &w->g, "chan send", SCHED_PARK_STACK_ASIDE);
    int state = w->state;
    if (state == W_WAITING)   /* the task is unwinding: parking returned at once */
        q_unlink(rt->heap, w);   /* and the value is dropped */
    waiter_put(rt, st, w);
    if (state == W_CLOSED)
        rt_fail(rt, "send on closed channel");
}

void chan_send(rt_t *rt, heap_ref_t ch, const heap_ref_t *refs, const void *scalars)
{
    if (ch == 0) {
        poll(rt);
        block_forever(rt, "chan send (nil chan)");
        return;
    }
    chan_hdr_t *c = chan_checked(rt, ch);
    chan__state_t *st = state_of(rt, ch);
    uint32_t n = c->elem_nptrs;

    /* Rooted before the first safepoint (see the picture). */
    if (n > 0) {
        assert(all_nil(st->scratch, n));
        refs_put(st->scratch, refs, n);
        refs = st->scratch;
    }
    poll(rt);
    if (__builtin_expect(c->closed, 0)) {
        refs_put(st->scratch, NULL, n);
        rt_fail(rt, "send on closed channel");
    }
    if (try_send(rt, ch, c, refs, scalars))
        refs_put(st->scratch, NULL, n);
    else
        send_park(rt, st, ch, c, refs, scalars);
}

/* chan_recv's slow path: nothing to take. Queue a wait record and park
** until a sender hands a value over or the channel closes. */
static __attribute__((noinline)) bool recv_park(rt_t *rt, chan__state_t *st, heap_ref_t ch,
                                                chan_hdr_t *c, heap_ref_t *refs_out,
                                                void *scalars_out)
{
    waiter_t *w = waiter_get(rt, st, c->elem_nptrs, c->elem_bytes, CHAN_RECV);

    q_link(rt->heap, q_get(rt, st, ch), w);
    sched_park_flags(rt->sched, &w->g, "chan receive", SCHED_PARK_STACK_ASIDE);
    if (w->state == W_WAITING)   /* the task is unwinding: parking returned at once */
        q_unlink(rt->heap, w);
    /* Copied out with no safepoint until we return (see chan.h). */
    bool ok = w->state == W_DONE;
    refs_put(refs_out, ok ? w->refs : NULL, c->elem_nptrs);
    bytes_put(scalars_out, ok ? w->scalars : NULL, c->elem_bytes);
    waiter_put(rt, st, w);
    return ok;
}

bool chan_recv(rt_t *rt, heap_ref_t ch, heap_ref_t *refs_out, void *scalars_out)
{
    bool ok;

    rt__preempt_point(rt);
    poll(rt);
    if (ch == 0) {
        block_forever(rt, "chan receive (nil chan)");
        return false;
    }
    chan_hdr_t *c = chan_checked(rt, ch);
    chan__state_t *st = state_of(rt, ch);
    if (try_recv(rt, ch, c, refs_out, scalars_out, &ok))
        return ok;
    return recv_park(rt, st, ch, c, refs_out, scalars_out);
}

void chan_close(rt_t *rt, heap_ref_t ch)
{
    rt__preempt_point(rt);
    poll(rt);
    if (ch == 0)
        rt_fail(rt, "close of nil channel");
    chan_hdr_t *c = chan_checked(rt, ch);
    if (c->closed)
        rt_fail(rt, "close of closed channel");
    c->closed = 1;
    /* Every receiver gets the zero value; every sender fails. */
    waiter_t *w;
    while ((w = q_pop(rt, ch, c, CHAN_RECV)) != NULL) {
        w->state = W_CLOSED;
        wake(rt, w, false);
    }
    while ((w = q_pop(rt, ch, c, CHAN_SEND)) != NULL) {
        w->state = W_CLOSED;
        wake(rt, w, false);
    }
}

size_t chan_len(rt_t *rt, heap_ref_t ch)
{
    poll(rt);
    return ch == 0 ? 0 : (size_t)chan_checked(rt, ch)->len;
}

size_t chan_cap(rt_t *rt, heap_ref_t ch)
{
    poll(rt);
    return ch == 0 ? 0 : (size_t)chan_checked(rt, ch)->cap;
}

/* ---- select -------------------------------------------------------------------------- */

/* Take sel off the state's list and free it. */
static void sel_free(chan__state_t *st, sel_t *sel)
{
    if (sel->prev != NULL)
        sel->prev->next = sel->next;
    else
        st->sels = sel->next;
    if (sel->next != NULL)
        sel->next->prev = sel->prev;
    free(sel);
}

int chan_select(rt_t *rt, chan_case_t *cases, size_t n, bool has_default)
{
    chan__state_t *st = NULL;
    uint32_t used = 0;
    int chosen = CHAN_SELECT_DEFAULT;

    if (n > UINT32_MAX / 2)
        rt_fail(rt, "select: too many cases");
    for (size_t i = 0; i < n; i++) {
        if (cases[i].dir != CHAN_SEND && cases[i].dir != CHAN_RECV)
            rt_fail(rt, "select: case %zu has no direction", i);
        if (cases[i].ch != 0) {
            chan_checked(rt, cases[i].ch);
            st = state_of(rt, cases[i].ch);
        }
    }
    if (st == NULL) {   /* no channel at all: only the default can run */
        poll(rt);
        if (!has_default)
            block_forever(rt, n == 0 ? "select (no cases)" : "select");
        return CHAN_SELECT_DEFAULT;
    }
    if (st->sel_order_cap < 2 * n) {
        uint32_t *v = realloc(st->sel_order, 2 * n * sizeof *v);
        if (!v)
            oom(rt, "select");
        st->sel_order = v;
        st->sel_order_cap = 2 * n;
    }
    uint32_t *order = st->sel_order, *off = st->sel_order + n;

    assert(all_nil(st->scratch, SCRATCH_SLOTS));

    /* Root the values to send before the first safepoint (see the picture). */
    for (size_t i = 0; i < n; i++) {
        chan_case_t *k = &cases[i];
        off[i] = used;
        if (k->ch == 0 || k->dir != CHAN_SEND)
            continue;
        uint32_t nrefs = hdr_of(rt->heap, k->ch)->elem_nptrs;
        if (nrefs > 0) {
            if (used + nrefs > SCRATCH_SLOTS) {
                refs_put(st->scratch, NULL, used);
                rt_fail(rt, "select: more than %u references to send", SCRATCH_SLOTS);
            }
            refs_put(st->scratch + used, k->refs, nrefs);
            used += nrefs;
        }
    }
    poll(rt);

    /* Poll in a random order: the first ready case in it is a uniform
    ** choice among the ready ones. */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = rt__rand_below(rt, i + 1);
        order[i] = order[j];
        order[j] = i;
    }
    for (size_t p = 0; p < n && chosen == CHAN_SELECT_DEFAULT; p++) {
        uint32_t i = order[p];
        chan_case_t *k = &cases[i];
        if (k->ch == 0)
            continue;
        chan_hdr_t *c = hdr_of(rt->heap, k->ch);
        if (k->dir == CHAN_RECV) {
            if (try_recv(rt, k->ch, c, k->refs_out, k->scalars_out, &k->ok))
                chosen = (int)i;
            continue;
        }
        if (c->closed) {
            refs_put(st->scratch, NULL, used);
            rt_fail(rt, "send on closed channel");
        }
        if (try_send(rt, k->ch, c, c->elem_nptrs > 0 ? st->scratch + off[i] : NULL,
                     k->scalars))
            chosen = (int)i;
    }
    if (chosen != CHAN_SELECT_DEFAULT || has_default) {
        refs_put(st->scratch, NULL, used);
        return chosen;
    }

    /* Nothing ready: wait on every case. */
    sel_t *sel = calloc(1, sizeof *sel + n * sizeof sel->cases[0]);
    if (!sel) {
        refs_put(st->scratch, NULL, used);
        oom(rt, "select");
    }
    sel->n = (uint32_t)n;
    sel->fired = -1;
    sel->next = st->sels;
    if (st->sels != NULL)
        st->sels->prev = sel;
    st->sels = sel;
    for (uint32_t i = 0; i < n; i++) {
        chan_case_t *k = &cases[i];
        if (k->ch == 0)
            continue;
        chan_hdr_t *c = hdr_of(rt->heap, k->ch);
        waiter_t *w = waiter_get(rt, st, c->elem_nptrs, c->elem_bytes, (uint8_t)k->dir);
        w->sel = sel;
        w->case_index = i;
        sel->cases[i] = w;
        if (k->dir == CHAN_SEND) {
            refs_put(w->refs, st->scratch + off[i], c->elem_nptrs);
            bytes_put(w->scalars, k->scalars, c->elem_bytes);
        }
        q_link(rt->heap, q_get(rt, st, k->ch), w);
    }
    refs_put(st->scratch, NULL, used);
    sched_park_flags(rt->sched, &sel->g, "select", SCHED_PARK_STACK_ASIDE);

    chosen = sel->fired;
    if (chosen < 0) {
        /* The task is unwinding: parking returned at once. */
        for (uint32_t i = 0; i < n; i++) {
            if (sel->cases[i] != NULL) {
                if (sel->cases[i]->q != NULL)
                    q_unlink(rt->heap, sel->cases[i]);
                waiter_put(rt, st, sel->cases[i]);
            }
        }
        sel_free(st, sel);
        return CHAN_SELECT_DEFAULT;
    }
    waiter_t *w = sel->cases[chosen];
    chan_case_t *k = &cases[chosen];
    int state = w->state;
    if (k->dir == CHAN_RECV) {
        chan_hdr_t *c = hdr_of(rt->heap, k->ch);
        k->ok = state == W_DONE;
        refs_put(k->refs_out, k->ok ? w->refs : NULL, c->elem_nptrs);
        bytes_put(k->scalars_out, k->ok ? w->scalars : NULL, c->elem_bytes);
    }
    for (uint32_t i = 0; i < n; i++)
        if (sel->cases[i] != NULL)
            waiter_put(rt, st, sel->cases[i]);
    sel_free(st, sel);
    if (k->dir == CHAN_SEND && state == W_CLOSED)
        rt_fail(rt, "send on closed channel");
    return chosen;
}
