/*
** shm_heap/heap_gc.c -- the collector: stopping the world across
** processes, marking, the cycle's bookkeeping and pacing, the history.
** The protocol and the tri-colour invariant are in heap_int.h.
*/
#include "shm_heap/heap_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define STOP_SPIN_ROUNDS 4
#define SWEEP_POLL_SPANS 16                /* spans a safepoint sweeps */
#define MARK_POLL_EVERY 16                 /* safepoint polls per time check */
#define STOP_TIMEOUT_MIN_NS 1000000ull        /* collector waiting for the stop */
#define STOP_TIMEOUT_MAX_NS 16000000ull
#define PARK_TIMEOUT_MIN_NS 5000000ull        /* parked, waiting for the restart */
#define PARK_TIMEOUT_MAX_NS 100000000ull
#define MARK_STACK_FIRST 4096
#define MARK_WORK_CHUNK 4096               /* scan bytes between clock reads / offers */
#define MARK_STACK_LIMIT_DEFAULT ((size_t)1 << 24)

uint64_t heap__now_ns(int clock_id)
{
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- Futexes and pids ----------------------------------------------- */

int heap__futex_wait(uint32_t *word, uint32_t expect, uint64_t timeout_ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(timeout_ns / 1000000000ull),
        .tv_nsec = (long)(timeout_ns % 1000000000ull),
    };
    long rc = syscall(SYS_futex, word, FUTEX_WAIT, expect, &ts, NULL, 0);
    return rc == 0 ? 0 : -errno;
}

void heap__futex_wake(uint32_t *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* State letter and start time of pid from /proc/<pid>/stat. */
static int read_proc_stat(pid_t pid, char *state, uint64_t *start_ticks)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int err = errno;
    close(fd);
    if (n < 0)
        return err == ESRCH ? -ENOENT : -err;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || p[2] == '\0')
        return -EIO;
    p += 2;
    *state = *p;
    for (int field = 3; field < 22; field++) {   /* starttime is field 22 */
        p = strchr(p, ' ');
        if (!p)
            return -EIO;
        p++;
    }
    *start_ticks = strtoull(p, NULL, 10);
    return 0;
}

uint64_t heap__pid_start_ticks(pid_t pid)
{
    char state;
    uint64_t ticks = 0;
    return read_proc_stat(pid, &state, &ticks) == 0 ? ticks : 0;
}

bool heap__pid_dead(pid_t pid, uint64_t start_ticks, bool deep)
{
    if (pid <= 0)
        return true;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return true;
    if (!deep)
        return false;
    char state;
    uint64_t ticks;
    int rc = read_proc_stat(pid, &state, &ticks);
    if (rc == -ENOENT)
        return true;
    if (rc != 0)
        return false;
    if (state == 'Z' || state == 'X' || state == 'x')
        return true;
    return start_ticks != 0 && ticks != start_ticks;
}

/* Is the process that owns the world (by pid) gone? */
static bool owner_dead(heap_t *h, uint32_t pid)
{
    uint64_t ticks = 0;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &h->hdr->procs[i];
        if ((uint32_t)p->pid == pid &&
            __atomic_load_n(&p->state, __ATOMIC_SEQ_CST) != HEAP__PROC_FREE) {
            ticks = p->start_ticks;
            break;
        }
    }
    return heap__pid_dead((pid_t)pid, ticks, true);
}

/* ---- Stopping the world --------------------------------------------- */

static void notify_stop(heap_t *h)
{
    __atomic_add_fetch(&h->hdr->stop_seq, 1, __ATOMIC_SEQ_CST);
    heap__futex_wake(&h->hdr->stop_seq);
}

/* The world became ours: make every safepoint look (heap__hdr.poll). */
static void world_owned(heap_t *h)
{
    __atomic_or_fetch(&h->hdr->poll, HEAP__POLL_STW, __ATOMIC_SEQ_CST);
}

static bool world_try_own(heap_t *h)
{
    uint32_t expect = 0;
    if (!__atomic_compare_exchange_n(&h->hdr->stw, &expect, (uint32_t)h->pid, false,
                                     __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        return false;
    world_owned(h);
    return true;
}

/* With stw ours: wait until every other attached process is not RUNNING.
** A RUNNING process found dead (checked when a wait times out) is marked
** DEAD and no longer waited for. */
static void wait_stopped(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t timeout = STOP_TIMEOUT_MIN_NS;
    bool check_dead = false;
    for (unsigned round = 0;; round++) {
        uint32_t seq = __atomic_load_n(&hdr->stop_seq, __ATOMIC_SEQ_CST);
        bool waiting = false;
        for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
            if (i == h->proc_index)
                continue;
            heap__proc_t *p = &hdr->procs[i];
            if (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) != HEAP__PROC_RUNNING)
                continue;
            if (check_dead && heap__pid_dead(p->pid, p->start_ticks, true)) {
                uint32_t expect = HEAP__PROC_RUNNING;
                if (__atomic_compare_exchange_n(&p->state, &expect, HEAP__PROC_DEAD, false,
                                                __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
                    __atomic_add_fetch(&hdr->proc_deaths, 1, __ATOMIC_SEQ_CST);
                continue;
            }
            waiting = true;
        }
        if (!waiting)
            return;
        check_dead = false;
        heap__fault(h, HEAP__FP_STOP_WAIT);
        if (round < STOP_SPIN_ROUNDS) {
            sched_yield();
            continue;
        }
        if (heap__futex_wait(&hdr->stop_seq, seq, timeout) == -ETIMEDOUT) {
            check_dead = true;
            if (timeout < STOP_TIMEOUT_MAX_NS)
                timeout *= 2;
        }
    }
}

static void run_cycle(heap_t *h, int why, uint64_t t_request, uint64_t stop_ns);
static void help_stopped_maybe(heap_t *h, uint32_t owner);

/* We took the world from a dead owner: finish its business with a full
** cycle (run_cycle repairs a half-done one) and restart the world. */
static void recover_world(heap_t *h)
{
    uint64_t t0 = heap__now_ns(CLOCK_MONOTONIC);
    wait_stopped(h);
    run_cycle(h, HEAP__GC_BY_RECOVERY, t0, heap__now_ns(CLOCK_MONOTONIC) - t0);
}

/* Wake the parked processes: a change they must see (stw released, a
** helped mark opened) was stored before this call (STOP THE WORLD). */
static void wake_parked(heap_t *h)
{
    __atomic_add_fetch(&h->hdr->park_seq, 1, __ATOMIC_SEQ_CST);
    heap__futex_wake(&h->hdr->park_seq);
}

void heap__wait_world(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t timeout = PARK_TIMEOUT_MIN_NS;
    for (;;) {
        /* Read before the looks below: a change after them moves it. */
        uint32_t seq = __atomic_load_n(&hdr->park_seq, __ATOMIC_SEQ_CST);
        uint32_t owner = __atomic_load_n(&hdr->stw, __ATOMIC_SEQ_CST);
        if (owner == 0)
            return;
        help_stopped_maybe(h, owner);   /* HELPING */
        heap__fault(h, HEAP__FP_PARKED);
        uint32_t woken = __atomic_load_n(&hdr->help_woken, __ATOMIC_SEQ_CST);
        if (heap__futex_wait(&hdr->park_seq, seq, timeout) != -ETIMEDOUT)
            continue;
        /* Tests: a helped mark whose wake was sent before this sleep began,
        ** not helped: the sleep missed it. */
        if (woken != 0 && woken != h->help_done_gen && owner != (uint32_t)h->pid &&
            __atomic_load_n(&hdr->help_gen, __ATOMIC_SEQ_CST) == woken)
            h->help_wakes_missed++;
        if (timeout < PARK_TIMEOUT_MAX_NS)
            timeout *= 2;
        if (owner != (uint32_t)h->pid && owner_dead(h, owner)) {
            uint32_t expect = owner;
            if (__atomic_compare_exchange_n(&hdr->stw, &expect, (uint32_t)h->pid, false,
                                            __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
                __atomic_add_fetch(&hdr->proc_deaths, 1, __ATOMIC_SEQ_CST);
                world_owned(h);
                recover_world(h);
            }
        }
    }
}

void heap__become_running(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    for (;;) {
        __atomic_store_n(&h->proc->state, HEAP__PROC_RUNNING, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&hdr->stw, __ATOMIC_SEQ_CST) == 0)
            break;
        __atomic_store_n(&h->proc->state, HEAP__PROC_PARKED, __ATOMIC_SEQ_CST);
        notify_stop(h);
        heap__wait_world(h);
    }
    heap__mcache_revalidate(h);
    heap__mark_join(h);
}

static void mark_poll(heap_t *h);
static void mark_flush(heap_t *h);

/* A safepoint with something to do: stop for another process's stop of
** the world, or (every MARK_POLL_EVERY polls, counted by heap__park) the
** background mark worker or sweeper. */
static void park_here(heap_t *h)
{
    uint32_t owner = __atomic_load_n(&h->hdr->stw, __ATOMIC_SEQ_CST);
    if (owner == 0 || owner == (uint32_t)h->pid || !h->entered) {
        if (h->entered && owner == 0) {
            if (h->view.barrier_on)
                mark_poll(h);
            else
                heap__sweep_some(h, SWEEP_POLL_SPANS);   /* the background sweeper */
            heap__scavenge_poll(h);                      /* and scavenger */
        }
        return;
    }
    /* CONCURRENT MARK: nothing grey stays behind in a stopped process. */
    if (h->view.barrier_on)
        mark_flush(h);
    heap__mcache_writeback(h);
    __atomic_store_n(&h->proc->state, HEAP__PROC_PARKED, __ATOMIC_SEQ_CST);
    notify_stop(h);
    heap__wait_world(h);
    heap__become_running(h);
}

static void enter_here(heap_t *h)
{
    if (h->entered)
        return;
    h->entered = true;
    heap__become_running(h);
}

static void leave_here(heap_t *h)
{
    if (!h->entered)
        return;
    if (h->view.barrier_on)
        mark_flush(h);
    heap__mcache_writeback(h);
    h->entered = false;
    __atomic_store_n(&h->proc->state, HEAP__PROC_OUTSIDE, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&h->hdr->stw, __ATOMIC_SEQ_CST) != 0)
        notify_stop(h);
}

/* Another process owns the world: stop this one until it is released. */
static void yield_world(heap_t *h)
{
    if (h->entered)
        park_here(h);
    else
        heap__wait_world(h);
}

static void stop_owned(heap_t *h, uint64_t *t_request_out, uint64_t *stop_ns_out)
{
    uint64_t t0 = heap__now_ns(CLOCK_MONOTONIC);
    if (h->entered)
        heap__mcache_writeback(h);
    wait_stopped(h);
    *t_request_out = t0;
    *stop_ns_out = heap__now_ns(CLOCK_MONOTONIC) - t0;
}

void heap__world_stop(heap_t *h, uint64_t *t_request_out, uint64_t *stop_ns_out)
{
    while (!world_try_own(h))
        yield_world(h);
    stop_owned(h, t_request_out, stop_ns_out);
}

void heap__world_start(heap_t *h)
{
    assert(__atomic_load_n(&h->hdr->stw, __ATOMIC_SEQ_CST) == (uint32_t)h->pid);
    /* Clear the poll bit while the world is still ours: the next owner
    ** sets it after its CAS, so a set never gets lost. */
    __atomic_and_fetch(&h->hdr->poll, ~HEAP__POLL_STW, __ATOMIC_SEQ_CST);
    __atomic_store_n(&h->hdr->stw, 0, __ATOMIC_SEQ_CST);
    wake_parked(h);
    if (h->entered)
        heap__mcache_revalidate(h);
}

/* ---- Pacing --------------------------------------------------------- */

/* a * b / 100, saturating. */
static uint64_t percent_of(uint64_t a, uint64_t b)
{
    unsigned __int128 v = (unsigned __int128)a * b / 100;
    return v > UINT64_MAX - 1 ? UINT64_MAX - 1 : (uint64_t)v;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - 1 - b ? UINT64_MAX - 1 : a + b;
}

static void scavenge_pace_limit(heap_t *h);

void heap__pacer_update_locked(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t stacks = 0, globals = 0;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        if (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) == HEAP__PROC_FREE)
            continue;
        stacks += heap__atomic_load(&p->stack_bytes);
        if (p->globals && heap__check_ref(h, p->globals, true, NULL, 0) == 0) {
            const struct heap_roots *g = heap_ptr(h, p->globals);
            if (g->kind == HEAP__GLOBALS_MAGIC)
                globals += (uint64_t)g->capacity * sizeof(heap_ref_t);
        }
    }
    heap__atomic_store(&hdr->pacer_stack_bytes, stacks);
    heap__atomic_store(&hdr->pacer_globals_bytes, globals);

    int gogc = hdr->gogc;
    uint64_t marked = hdr->marked_bytes;
    uint64_t goal = UINT64_MAX;
    if (gogc >= 0) {
        uint64_t scan = sat_add(sat_add(marked, stacks), globals);
        goal = sat_add(marked, percent_of(scan, (uint64_t)gogc));
        uint64_t minimum = percent_of(HEAP_MIN_GOAL_BYTES, (uint64_t)gogc);
        if (goal < minimum)
            goal = minimum;
    }
    __atomic_store_n(&hdr->goal_bytes, goal, __ATOMIC_RELAXED);

    /* Go 1.19's pacer (the concurrent collector's trigger) follows. */
    heap__pacer_set_gogc(&hdr->pacer, gogc < 0 ? -1 : gogc);
    uint64_t limit = heap__atomic_load(&hdr->memory_limit_bytes);
    heap__pacer_set_memory_limit(&hdr->pacer, limit ? limit : HEAP__PACER_NONE);
    heap__pacer_set_globals(&hdr->pacer, globals);
    heap__pacer_commit(&hdr->pacer, heap__atomic_load(&hdr->heap_live_bytes), true);
    /* As Go's gcControllerCommit: a new limit may give the scavenger work
    ** (its other goal moves only at a cycle's end, see scavenge_pace). */
    scavenge_pace_limit(h);
    if (heap__atomic_load(&hdr->scav_limit_goal_bytes))
        heap__scavenge_wake(h);
}

uint64_t heap__metadata_bytes(const heap__hdr_t *hdr)
{
    /* The header, and the entries of committed heap pages (the entries of
    ** the metadata pages themselves are never touched, so cost nothing). */
    uint64_t committed = __atomic_load_n(&hdr->commit_page, __ATOMIC_RELAXED);
    uint64_t pages = committed > hdr->first_page ? committed - hdr->first_page : 0;
    uint64_t hdr_bytes = (sizeof(heap__hdr_t) + HEAP__PAGE_BYTES - 1) & ~(HEAP__PAGE_BYTES - 1);
    return hdr_bytes +
           pages * (sizeof(uint32_t) + sizeof(heap__span_t) + HEAP__PTR_MAP_PAGE_BYTES);
}

#define LIMIT_HEADROOM_BYTES ((uint64_t)1 << 20)   /* memoryLimitHeapGoalHeadroom */

uint64_t heap__limit_goal_bytes(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t limit = heap__atomic_load(&hdr->memory_limit_bytes);
    if (!limit)
        return UINT64_MAX;
    uint64_t committed = __atomic_load_n(&hdr->commit_page, __ATOMIC_RELAXED);
    uint64_t heap_pages = committed > hdr->first_page ? committed - hdr->first_page : 0;
    uint64_t inuse_pages = heap__atomic_load(&hdr->inuse_pages);
    uint64_t released_pages = heap__atomic_load(&hdr->released_pages);
    if (released_pages > heap_pages)
        released_pages = heap_pages;
    uint64_t ready_pages = heap_pages - released_pages;
    uint64_t free_pages = ready_pages > inuse_pages ? ready_pages - inuse_pages : 0;
    /* Go's mappedReady holds the stack spans: the stack memory allocated
    ** (StackInuse, maxStackScan's figure), not the part the last cycle
    ** scanned (lastStackScan, the GOGC goal's stack term). */
    uint64_t mapped = heap__metadata_bytes(hdr) + (ready_pages << HEAP__PAGE_SHIFT) +
                      heap__atomic_load(&hdr->pacer_max_stack_bytes);
    uint64_t heap_free = free_pages << HEAP__PAGE_SHIFT;
    uint64_t heap_alloc = heap__atomic_load(&hdr->heap_live_bytes);
    uint64_t non_heap = mapped > heap_free + heap_alloc ? mapped - heap_free - heap_alloc : 0;
    uint64_t overage = mapped > limit ? mapped - limit : 0;
    uint64_t marked = heap__atomic_load(&hdr->marked_bytes);
    if (non_heap + overage >= limit)
        return marked;
    uint64_t goal = limit - (non_heap + overage);
    if (goal < 2 * LIMIT_HEADROOM_BYTES)
        goal = LIMIT_HEADROOM_BYTES;
    else
        goal -= LIMIT_HEADROOM_BYTES;
    return goal < marked ? marked : goal;
}

uint64_t heap__goal_bytes(heap_t *h)
{
    uint64_t goal = __atomic_load_n(&h->hdr->goal_bytes, __ATOMIC_RELAXED);
    uint64_t limit_goal = heap__limit_goal_bytes(h);
    return limit_goal < goal ? limit_goal : goal;
}

/* The concurrent collector's trigger for `goal`: a cycle starts when the
** heap is this far from the last marked heap to the goal. */
static uint64_t limit_goal_or_none(heap_t *h)
{
    uint64_t g = heap__limit_goal_bytes(h);
    return g == UINT64_MAX ? HEAP__PACER_NONE : g;
}

static uint64_t concurrent_trigger(heap_t *h)
{
    return heap__pacer_trigger(&h->hdr->pacer, limit_goal_or_none(h), NULL);
}

bool heap__over_trigger(heap_t *h, uint64_t more_bytes)
{
    heap__hdr_t *hdr = h->hdr;
    if (__atomic_load_n(&hdr->collector, __ATOMIC_RELAXED) == HEAP__COLLECTOR_CONCURRENT) {
        /* A concurrent mark runs: the heap may pass the goal meanwhile;
        ** assists slow the allocation down instead. */
        if (__atomic_load_n(&hdr->gc_phase, __ATOMIC_RELAXED) == HEAP__GC_CONC_MARK)
            return false;
        uint64_t goal = heap__goal_bytes(h);
        if (goal == UINT64_MAX)
            return false;
        uint64_t live = __atomic_load_n(&hdr->heap_live_bytes, __ATOMIC_RELAXED);
        return live + more_bytes > concurrent_trigger(h);
    }
    uint64_t goal = __atomic_load_n(&hdr->goal_bytes, __ATOMIC_RELAXED);
    uint64_t live = __atomic_load_n(&hdr->heap_live_bytes, __ATOMIC_RELAXED);
    if (goal != UINT64_MAX && live + more_bytes > goal)
        return true;
    if (!heap__atomic_load(&hdr->memory_limit_bytes) ||
        live + more_bytes <= heap__limit_goal_bytes(h))
        return false;
    /* The limit asks; the CPU limiter may say not yet (PACING). */
    return h->limiter_off ||
           heap__now_ns(CLOCK_MONOTONIC) >= heap__atomic_load(&hdr->limit_gc_after_ns);
}

void heap__set_limiter(heap_t *h, bool on)
{
    h->limiter_off = !on;
}

/* ---- Marking -------------------------------------------------------- */

typedef struct mark_ctx {
    heap_t *h;
    char *base;
    const uint32_t *page_map;
    heap__span_t *spans;
    const uint64_t *ptr_map;
    uint64_t first_page, hwm;
    uint64_t live_bytes, live_objects, root_slots;
    uint64_t scan_work;      /* bytes of reference slots scanned */
    uint64_t root_work;      /* of scan_work, root slots (stacks, globals, pools) */
    uint64_t helped_objects; /* of live_objects, greyed by helpers (HELPING) */
    unsigned pops;
    bool conc;               /* the world runs: mark bits by atomic or */
} mark_ctx_t;

static void ctx_init(heap_t *h, mark_ctx_t *m, bool conc)
{
    memset(m, 0, sizeof *m);
    m->h = h;
    m->base = h->view.base;
    m->page_map = h->page_map;
    m->spans = h->spans;
    m->ptr_map = h->ptr_map;
    m->first_page = h->hdr->first_page;
    /* Spans made after this are reached only through new (black)
    ** objects, which grey() need not see. */
    m->hwm = __atomic_load_n(&h->hdr->hwm_page, __ATOMIC_ACQUIRE);
    m->conc = conc;
}

static bool mark_stack_grow(heap_t *h)
{
    size_t cap = h->mark_cap ? h->mark_cap * 2 : MARK_STACK_FIRST;
    if (cap > h->mark_limit)
        cap = h->mark_limit;
    if (cap <= h->mark_cap)
        return false;
    struct heap__mark_entry *p = realloc(h->mark_stack, cap * sizeof *p);
    if (!p)
        return false;
    h->mark_stack = p;
    h->mark_cap = cap;
    return true;
}

static inline void mark_push(heap_t *h, heap_ref_t ref, uint64_t nptrs, bool conc)
{
    if (conc && h->mark_len == 0)
        __atomic_store_n(&h->proc->mark_busy, 1, __ATOMIC_SEQ_CST);
    if (__builtin_expect(h->mark_len == h->mark_cap, 0) && !mark_stack_grow(h)) {
        /* Leave it grey (marked, unscanned): the rescan finds it. */
        h->mark_overflow = true;
        return;
    }
    h->mark_stack[h->mark_len].ref = ref;
    h->mark_stack[h->mark_len].nptrs = nptrs;
    h->mark_len++;
}

/* The in-use span holding the object `ref` and its slot index; NULL if
** ref names no object (a bad ref is ignored here; heap_verify reports it). */
static inline heap__span_t *object_span(const mark_ctx_t *m, heap_ref_t ref, uint32_t *idx_out)
{
    uint64_t at = ref;
    uint64_t page = at >> HEAP__PAGE_SHIFT;
    if (page - m->first_page >= m->hwm - m->first_page)
        return NULL;
    uint32_t s = m->page_map[page];
    if (!s)
        return NULL;
    heap__span_t *sp = &m->spans[s];
    uint64_t off = at - ((uint64_t)s << HEAP__PAGE_SHIFT);
    if (sp->state == HEAP__SPAN_SMALL) {
        uint32_t idx = (uint32_t)((off * sp->div_magic) >> 32);
        if ((uint64_t)idx * sp->elem_bytes != off || idx >= sp->nelems)
            return NULL;
        *idx_out = idx;
        return sp;
    }
    if (sp->state == HEAP__SPAN_LARGE && off == 0) {
        *idx_out = 0;
        return sp;
    }
    return NULL;
}

/* Set the mark bit; false if it was set already. While the world runs,
** other processes set bits of the same words (marking, allocating black). */
static inline bool mark_bit(const mark_ctx_t *m, heap__span_t *sp, uint32_t idx)
{
    uint64_t *w = &sp->bits[(sp->sweep_word & 1) ^ 1][idx >> 6];
    uint64_t bit = 1ull << (idx & 63);
    if (m->conc) {
        if (__atomic_load_n(w, __ATOMIC_RELAXED) & bit)
            return false;
        return !(__atomic_fetch_or(w, bit, __ATOMIC_RELAXED) & bit);
    }
    if (*w & bit)
        return false;
    *w |= bit;
    return true;
}

/* White -> grey: set the mark bit and push the object with its slots (a
** large object) or the most it can have (HEAP__MARK_FROM_MAP). The object
** and its pointer-map word are not read here, only prefetched. */
static inline void grey(mark_ctx_t *m, heap_ref_t ref)
{
    uint32_t idx;
    heap__span_t *sp = object_span(m, ref, &idx);
    if (!sp || !mark_bit(m, sp, idx))
        return;
    m->live_objects++;
    uint64_t nptrs;
    if (sp->state == HEAP__SPAN_SMALL) {
        m->live_bytes += sp->elem_bytes;
        if (sp->spanclass & 1)
            return;   /* noscan: black at once */
        nptrs = (sp->elem_bytes / sizeof(heap_ref_t)) | HEAP__MARK_FROM_MAP;
        __builtin_prefetch(&m->ptr_map[ref >> 9]);
    } else {
        uint64_t span_bytes = (uint64_t)sp->npages << HEAP__PAGE_SHIFT;
        m->live_bytes += span_bytes;
        nptrs = sp->large_nptrs;
        if (nptrs > span_bytes / sizeof(heap_ref_t))
            nptrs = span_bytes / sizeof(heap_ref_t);
        if (nptrs == 0)
            return;
    }
    /* Likely scanned soon by this process: start the miss now. */
    __builtin_prefetch(m->base + ref);
    mark_push(m->h, ref, nptrs, m->conc);
}

/* The reference slots of a grey object, from its mark-stack entry. */
static inline uint64_t entry_nptrs(const mark_ctx_t *m, struct heap__mark_entry e)
{
    if (e.nptrs & HEAP__MARK_FROM_MAP)
        return heap__ptr_map_count(m->ptr_map, e.ref >> 3, e.nptrs & ~HEAP__MARK_FROM_MAP);
    return e.nptrs;
}

/* OBLETS (Go's maxObletBytes, mgcmark.go): a large object is scanned at
** most OBLET_BYTES at a time. Scanning its first entry -- the whole
** object, nptrs > OBLET_SLOTS -- queues the rest as entries of their own
** (ref = object + k * OBLET_BYTES, nptrs = the slots of that piece, at
** most OBLET_SLOTS, so they are never split again) and scans the first
** piece. So a bounded drain (an assist, Go's gcDrainN) that pops a big
** array does at most OBLET_BYTES of it past what it owes, not all of it,
** and the pieces can go to other processes' steal queues. Go queues an
** oblet for every OBLET_BYTES of the object, those in its scalar tail too
** (they scan nothing); only the pieces with slots are queued here: the
** same work, fewer empty entries. */
#define OBLET_BYTES ((uint64_t)128 << 10)
#define OBLET_SLOTS (OBLET_BYTES / sizeof(heap_ref_t))

/* The entry of oblet `ref` (OBLETS: ref is past the start of a LARGE
** object, at a multiple of OBLET_BYTES): false if it is not one or holds
** no slots. */
static bool oblet_entry(const mark_ctx_t *m, heap_ref_t ref, struct heap__mark_entry *e)
{
    uint64_t page = ref >> HEAP__PAGE_SHIFT;
    if (page - m->first_page >= m->hwm - m->first_page)
        return false;
    uint32_t s = m->page_map[page];
    if (!s)
        return false;
    const heap__span_t *sp = &m->spans[s];
    uint64_t off = ref - ((uint64_t)s << HEAP__PAGE_SHIFT);
    uint64_t span_bytes = (uint64_t)sp->npages << HEAP__PAGE_SHIFT;
    if (sp->state != HEAP__SPAN_LARGE || off == 0 || off % OBLET_BYTES || off >= span_bytes)
        return false;
    uint64_t nptrs = sp->large_nptrs < span_bytes / sizeof(heap_ref_t)
                         ? sp->large_nptrs
                         : span_bytes / sizeof(heap_ref_t);
    uint64_t first = off / sizeof(heap_ref_t);
    if (nptrs <= first)
        return false;
    e->ref = ref;
    e->nptrs = nptrs - first < OBLET_SLOTS ? nptrs - first : OBLET_SLOTS;
    return true;
}

/* Grey -> black: grey the children of one object, or of one oblet. The
** scan work counted is the bytes of slots read, as Go's scanobject
** counts it (up to the last pointer word of the object or oblet). */
static inline void scan(mark_ctx_t *m, struct heap__mark_entry e)
{
    uint64_t nptrs = entry_nptrs(m, e);
    if (nptrs > OBLET_SLOTS) {
        /* A large object's first entry (OBLETS): queue the other pieces
        ** (from the last, so the second is popped first), scan the first. */
        for (uint64_t k = (nptrs - 1) / OBLET_SLOTS; k >= 1; k--) {
            uint64_t first = k * OBLET_SLOTS;
            uint64_t n = nptrs - first < OBLET_SLOTS ? nptrs - first : OBLET_SLOTS;
            mark_push(m->h, e.ref + first * sizeof(heap_ref_t), n, m->conc);
        }
        nptrs = OBLET_SLOTS;
    }
    const heap_ref_t *slots = (const heap_ref_t *)(m->base + e.ref);
    m->scan_work += nptrs * sizeof(heap_ref_t);
    if (m->conc) {
        /* A mutator may store into the object meanwhile: whichever value
        ** is read, the barrier shaded the other. */
        for (uint64_t i = 0; i < nptrs; i++) {
            heap_ref_t r = __atomic_load_n(&slots[i], __ATOMIC_RELAXED);
            if (r)
                grey(m, r);
        }
        return;
    }
    for (uint64_t i = 0; i < nptrs; i++) {
        if (slots[i])
            grey(m, slots[i]);
    }
}

/* Until nothing is grey on the stack. Objects popped go through a small
** FIFO after a prefetch of their first line, so the cache miss on the object
** overlaps the scanning of the ones before it. */
#define PREFETCH_DEPTH 16
/* Drain until about max_work bytes of scanning are done (UINT64_MAX: all):
** as Go's gcDrainN, the budget is checked before each object (or oblet)
** is scanned, so the last one may take it past max_work, by at most an
** oblet. Entries the FIFO popped ahead and did not scan go back on the
** stack, in their order. True when nothing grey is left here. */
static bool drain_some(mark_ctx_t *m, uint64_t max_work)
{
    heap_t *h = m->h;
    struct heap__mark_entry fifo[PREFETCH_DEPTH];
    unsigned head = 0, count = 0;
    uint64_t stop_at = max_work > UINT64_MAX - m->scan_work ? UINT64_MAX : m->scan_work + max_work;
    while (m->scan_work < stop_at) {
        while (count < PREFETCH_DEPTH && h->mark_len) {
            struct heap__mark_entry e = h->mark_stack[--h->mark_len];
            __builtin_prefetch(m->base + e.ref);
            fifo[(head + count++) % PREFETCH_DEPTH] = e;
        }
        if (!count)
            break;
        struct heap__mark_entry e = fifo[head];
        head = (head + 1) % PREFETCH_DEPTH;
        count--;
        scan(m, e);
        if ((++m->pops & 63) == 0)
            heap__fault(h, HEAP__FP_MARK);
    }
    /* The budget is met: the ones popped ahead go back, the first popped
    ** on top. */
    while (count) {
        count--;
        struct heap__mark_entry e = fifo[(head + count) % PREFETCH_DEPTH];
        mark_push(h, e.ref, e.nptrs, m->conc);
    }
    return h->mark_len == 0;
}

static void drain(mark_ctx_t *m)
{
    drain_some(m, UINT64_MAX);
}

/* ---- Steal queues (heap_int.h, STEAL QUEUE) --------------------------- */

#define STEAL_MIN_LOCAL 8        /* offer work only with more than this grey here */
#define STEAL_RETRIES 64         /* CAS attempts on one queue before moving on */

/* The mark-stack entry of a grey object (or of an oblet: OBLETS) taken
** from a steal queue: its slots found again from its span, as grey() and
** scan() found them. False if ref names no object or oblet with slots
** (never so for what an owner offered). */
static bool steal_entry(const mark_ctx_t *m, heap_ref_t ref, struct heap__mark_entry *e)
{
    uint32_t idx;
    heap__span_t *sp = object_span(m, ref, &idx);
    if (!sp)
        return oblet_entry(m, ref, e);
    if (sp->state == HEAP__SPAN_SMALL) {
        if (sp->spanclass & 1)
            return false;
        e->nptrs = (sp->elem_bytes / sizeof(heap_ref_t)) | HEAP__MARK_FROM_MAP;
    } else {
        uint64_t most = ((uint64_t)sp->npages << HEAP__PAGE_SHIFT) / sizeof(heap_ref_t);
        e->nptrs = sp->large_nptrs < most ? sp->large_nptrs : most;
    }
    e->ref = ref;
    return e->nptrs != 0;
}

/* Go's gcWork.balance(): when everything this process offered before has
** been taken (its queue is empty) and it has more than STEAL_MIN_LOCAL
** grey objects, move the top half of its grey stack (at most a queue's
** worth) into its steal queue. Only in a cycle it shares in (mark_share:
** more than one process attached), or in a helped mark (`counted`: the
** entries are added to help_count before anyone can see them). */
static void steal_offer(heap_t *h, bool counted)
{
    if ((!h->mark_share && !counted) || h->mark_len <= STEAL_MIN_LOCAL)
        return;
    heap__steal_q_t *q = &h->hdr->steal[h->proc_index];
    uint64_t tail = __atomic_load_n(&q->tail, __ATOMIC_RELAXED);
    if (__atomic_load_n(&q->head, __ATOMIC_ACQUIRE) != tail)
        return;
    /* head == tail: nobody can take anything until tail moves, so every
    ** slot is ours to write. */
    size_t n = h->mark_len / 2;
    if (n > HEAP__STEAL_SLOTS)
        n = HEAP__STEAL_SLOTS;
    const struct heap__mark_entry *top = &h->mark_stack[h->mark_len - n];
    if (counted)   /* HELPING: counted before anyone can take them */
        __atomic_add_fetch(&h->hdr->help_count, n, __ATOMIC_SEQ_CST);
    for (size_t k = 0; k < n; k++)
        __atomic_store_n(&q->slot[(tail + k) & (HEAP__STEAL_SLOTS - 1)], top[k].ref,
                         __ATOMIC_RELAXED);
    heap__fault(h, HEAP__FP_STEAL_PUBLISH);
    h->mark_len -= n;
    __atomic_store_n(&q->tail, tail + n, __ATOMIC_RELEASE);
}

/* Take entries from steal queue i into this process's grey stack: all of
** them, or with `half` half of them (rounded up). Returns how many. */
static uint32_t steal_take(mark_ctx_t *m, uint32_t i, bool half)
{
    heap_t *h = m->h;
    heap__steal_q_t *q = &h->hdr->steal[i];
    heap_ref_t got[HEAP__STEAL_SLOTS];
    uint64_t head, n = 0;
    for (unsigned tries = 0;; tries++) {
        if (tries == STEAL_RETRIES)
            return 0;   /* contended: the caller looks elsewhere */
        head = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
        uint64_t tail = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
        if (tail == head)
            return 0;
        if (tail - head > HEAP__STEAL_SLOTS)
            continue;   /* head moved between the two loads */
        n = half ? (tail - head + 1) / 2 : tail - head;
        for (uint64_t k = 0; k < n; k++)
            got[k] = __atomic_load_n(&q->slot[(head + k) & (HEAP__STEAL_SLOTS - 1)],
                                     __ATOMIC_RELAXED);
        if (__atomic_compare_exchange_n(&q->head, &head, head + n, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            break;
    }
    heap__fault(h, HEAP__FP_STEAL_TAKEN);
    for (uint64_t k = 0; k < n; k++) {
        struct heap__mark_entry e;
        if (steal_entry(m, got[k], &e))
            mark_push(h, e.ref, e.nptrs, m->conc);
    }
    return (uint32_t)n;
}

/* This process's grey stack is empty: refill it from the steal queues,
** all of its own, else half of the first other non-empty one, looking
** from the entry after its own. True if it got something. */
static bool steal_work(mark_ctx_t *m)
{
    heap_t *h = m->h;
    heap__hdr_t *hdr = h->hdr;
    if (steal_take(m, h->proc_index, false))
        return true;
    uint32_t nslots = __atomic_load_n(&hdr->mark_nslots, __ATOMIC_RELAXED);
    if (nslots > HEAP_MAX_PROCS)
        nslots = HEAP_MAX_PROCS;
    for (uint32_t k = 1; k <= nslots; k++) {
        uint32_t i = (h->proc_index + k) % nslots;
        if (i == h->proc_index)
            continue;
        uint32_t n = steal_take(m, i, true);
        if (n) {
            h->mark_stolen_total += n;
            __atomic_add_fetch(&hdr->mark_steals, n, __ATOMIC_RELAXED);
            return true;
        }
    }
    return false;
}

/* Does any steal queue hold something? */
static bool steal_pending(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    uint32_t nslots = __atomic_load_n(&hdr->mark_nslots, __ATOMIC_RELAXED);
    if (nslots > HEAP_MAX_PROCS)
        nslots = HEAP_MAX_PROCS;
    for (uint32_t i = 0; i < nslots; i++) {
        heap__steal_q_t *q = &hdr->steal[i];
        if (__atomic_load_n(&q->head, __ATOMIC_ACQUIRE) !=
            __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE))
            return true;
    }
    return false;
}

/* World stopped: forget what the steal queues hold (a mark starts, or
** marks again from the roots). */
static void steal_reset_all(heap_t *h)
{
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__steal_q_t *q = &h->hdr->steal[i];
        __atomic_store_n(&q->head, __atomic_load_n(&q->tail, __ATOMIC_RELAXED),
                         __ATOMIC_RELEASE);
    }
}

/* ---- HELPING (heap_int.h): the stopped processes help a world-stopped mark ---- */

#define HELP_BUSY (1ull << 32)       /* help_count: one busy marker */
#define HELP_CHECK_SPINS 256         /* idle spins between liveness checks */

/* A helper's figures into the header's, before it stops being busy. */
static void help_flush(heap_t *h, mark_ctx_t *m)
{
    heap__hdr_t *hdr = h->hdr;
    __atomic_add_fetch(&hdr->help_live_bytes, m->live_bytes, __ATOMIC_RELAXED);
    __atomic_add_fetch(&hdr->help_live_objects, m->live_objects, __ATOMIC_RELAXED);
    __atomic_add_fetch(&hdr->help_scan_work, m->scan_work, __ATOMIC_RELAXED);
    h->mark_greyed_total += m->live_objects;
    m->live_bytes = m->live_objects = m->scan_work = 0;
    if (h->mark_overflow) {
        __atomic_store_n(&hdr->help_overflow, 1, __ATOMIC_RELAXED);
        h->mark_overflow = false;
    }
}

/* Take from any steal queue (HELPING's count follows). */
static bool help_take(mark_ctx_t *m)
{
    heap_t *h = m->h;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        uint32_t n = steal_take(m, i, i != h->proc_index);
        if (n) {
            if (i != h->proc_index)
                h->mark_stolen_total += n;
            __atomic_sub_fetch(&h->hdr->help_count, n, __ATOMIC_SEQ_CST);
            return true;
        }
    }
    return false;
}

/* Did a helper die (its work, or entries it counted, may be lost)? */
static bool help_lost(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        if (i != h->proc_index && __atomic_load_n(&p->helping, __ATOMIC_SEQ_CST) &&
            heap__pid_dead(p->pid, p->start_ticks, true))
            return true;
    }
    return false;
}

/* Drain with the others until nothing is grey anywhere (help_count 0:
** no busy marker, nothing in a steal queue). The collector (`collector`,
** counted busy by help_open) returns false if a helper died meanwhile; a
** helper also returns when helped mark `gen` is over or its owner
** (owner) is no longer the world's. Returns with nothing grey here. */
static bool help_drain(heap_t *h, mark_ctx_t *m, uint32_t gen, uint32_t owner, bool collector)
{
    heap__hdr_t *hdr = h->hdr;
    bool busy = collector, test_wait = collector && h->help_test_helpers;
    unsigned spins = 0;
    for (;;) {
        if (h->mark_len) {
            steal_offer(h, true);
            if (test_wait && __atomic_load_n(&hdr->steal[h->proc_index].tail,
                                             __ATOMIC_RELAXED) !=
                                 __atomic_load_n(&hdr->steal[h->proc_index].head,
                                                 __ATOMIC_ACQUIRE)) {
                /* Tests: until a helper took what was offered. */
                while (__atomic_load_n(&hdr->steal[h->proc_index].tail, __ATOMIC_RELAXED) !=
                       __atomic_load_n(&hdr->steal[h->proc_index].head, __ATOMIC_ACQUIRE))
                    sched_yield();
                test_wait = false;
            }
            drain_some(m, MARK_WORK_CHUNK);
            continue;
        }
        if (!busy) {
            if (!collector && (__atomic_load_n(&hdr->help_gen, __ATOMIC_SEQ_CST) != gen ||
                               __atomic_load_n(&hdr->stw, __ATOMIC_SEQ_CST) != owner))
                return true;
            __atomic_add_fetch(&hdr->help_count, HELP_BUSY, __ATOMIC_SEQ_CST);
            busy = true;
        }
        if (help_take(m)) {
            spins = 0;
            continue;
        }
        if (!collector)
            help_flush(h, m);
        __atomic_sub_fetch(&hdr->help_count, HELP_BUSY, __ATOMIC_SEQ_CST);
        busy = false;
        if (__atomic_load_n(&hdr->help_count, __ATOMIC_SEQ_CST) == 0)
            return true;
        if (++spins % HELP_CHECK_SPINS == 0) {
            if (collector && help_lost(h))
                return false;
            if (!collector && owner_dead(h, owner))
                return true;
        }
        sched_yield();
    }
}

/* Wait until no other process is inside a helped mark (HELPING), after
** help_gen was closed; a dead one is not waited for. */
static void help_quiesce(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    __atomic_store_n(&hdr->help_gen, 0, __ATOMIC_SEQ_CST);
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        for (unsigned spins = 1; i != h->proc_index &&
                                 __atomic_load_n(&p->helping, __ATOMIC_SEQ_CST) != 0;
             spins++) {
            if (spins % HELP_CHECK_SPINS == 0 && heap__pid_dead(p->pid, p->start_ticks, true))
                break;
            sched_yield();
        }
    }
}

/* Are other processes stopped in heap__wait_world, who could help? */
static bool help_available(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        if (i != h->proc_index &&
            __atomic_load_n(&hdr->procs[i].state, __ATOMIC_RELAXED) == HEAP__PROC_PARKED)
            return true;
    }
    return false;
}

/* The collector (world ours, every lock, steal queues empty): open a
** helped mark and wake the stopped processes to join it. */
static uint32_t help_open(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    uint32_t gen = hdr->help_last + 1;
    if (gen == 0)
        gen = 1;
    hdr->help_last = gen;
    __atomic_store_n(&hdr->help_count, HELP_BUSY, __ATOMIC_SEQ_CST);
    __atomic_store_n(&hdr->help_overflow, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&hdr->help_joined, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&hdr->help_live_bytes, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&hdr->help_live_objects, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&hdr->help_scan_work, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&hdr->help_gen, gen, __ATOMIC_SEQ_CST);
    wake_parked(h);
    __atomic_store_n(&hdr->help_woken, gen, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&hdr->help_joined, __ATOMIC_SEQ_CST) < h->help_test_helpers)
        sched_yield();   /* tests only */
    return gen;
}

/* The collector: drain with the helpers, close, wait for them to leave,
** take their figures into m. False if a helper died (the caller marks
** again from the roots). */
static bool help_close(heap_t *h, mark_ctx_t *m, uint32_t gen)
{
    heap__hdr_t *hdr = h->hdr;
    bool ok = help_drain(h, m, gen, (uint32_t)h->pid, true);
    h->help_test_helpers = 0;   /* tests: it was for this helped mark */
    help_quiesce(h);
    if (!ok)
        return false;
    m->live_bytes += __atomic_load_n(&hdr->help_live_bytes, __ATOMIC_RELAXED);
    uint64_t helped = __atomic_load_n(&hdr->help_live_objects, __ATOMIC_RELAXED);
    m->live_objects += helped;
    m->helped_objects += helped;
    m->scan_work += __atomic_load_n(&hdr->help_scan_work, __ATOMIC_RELAXED);
    if (__atomic_load_n(&hdr->help_overflow, __ATOMIC_RELAXED))
        h->mark_overflow = true;
    return true;
}

/* A stopped process (heap__wait_world) joins helped mark gen of owner. */
static void help_stopped(heap_t *h, uint32_t gen, uint32_t owner)
{
    heap__hdr_t *hdr = h->hdr;
    __atomic_store_n(&h->proc->helping, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&hdr->help_gen, __ATOMIC_SEQ_CST) == gen) {
        __atomic_add_fetch(&hdr->help_joined, 1, __ATOMIC_SEQ_CST);
        mark_ctx_t m;
        ctx_init(h, &m, true);
        h->mark_len = 0;   /* it stopped with nothing grey of its own */
        h->mark_overflow = false;
        heap__fault(h, HEAP__FP_HELP);
        help_drain(h, &m, gen, owner, false);
        help_flush(h, &m);
    }
    h->help_done_gen = gen;
    __atomic_store_n(&h->proc->helping, 0, __ATOMIC_SEQ_CST);
}

static void help_stopped_maybe(heap_t *h, uint32_t owner)
{
    uint32_t gen = __atomic_load_n(&h->hdr->help_gen, __ATOMIC_SEQ_CST);
    if (gen != 0 && gen != h->help_done_gen && owner != (uint32_t)h->pid)
        help_stopped(h, gen, owner);
}

/* Mark a root stack object itself (it is not counted as live data) and
** grey the slots in use. Returns the next stack in the list, or 0 when the
** list ends or is broken (a stack already marked means a loop). */
static heap_ref_t mark_root_stack(mark_ctx_t *m, heap_ref_t ref, uint32_t kind)
{
    uint32_t idx;
    heap__span_t *sp = object_span(m, ref, &idx);
    if (!sp || !mark_bit(m, sp, idx))
        return 0;
    const struct heap_roots *r = (const struct heap_roots *)(m->base + ref);
    if (r->kind != kind || r->self != ref)
        return 0;
    uint64_t room = sp->state == HEAP__SPAN_SMALL
                        ? sp->elem_bytes
                        : (uint64_t)sp->npages << HEAP__PAGE_SHIFT;
    uint64_t max_slots = (room - sizeof(struct heap_roots)) / sizeof(heap_ref_t);
    uint64_t n = kind == HEAP__GLOBALS_MAGIC ? r->capacity : r->depth;
    if (n > r->capacity)
        n = r->capacity;
    if (n > max_slots)
        n = max_slots;
    for (uint64_t i = 0; i < n; i++) {
        if (r->slots[i])
            grey(m, r->slots[i]);
    }
    if (kind != HEAP__GLOBALS_MAGIC)
        m->root_slots += n;   /* stack scan work (globals are the pacer's apart) */
    m->scan_work += n * sizeof(heap_ref_t);
    m->root_work += n * sizeof(heap_ref_t);
    if (!m->conc)
        drain(m);
    return r->next;
}

/* Mark a HEAP PROFILE object (not counted as live data, not scanned: its
** samples are weak). */
static void mark_keep(mark_ctx_t *m, heap_ref_t ref)
{
    uint32_t idx;
    heap__span_t *sp = ref ? object_span(m, ref, &idx) : NULL;
    if (sp)
        mark_bit(m, sp, idx);
}

/* The same for a pool area (heap_int.h, struct heap_pool): grey both
** halves up to their counts. */
static heap_ref_t mark_pool(mark_ctx_t *m, heap_ref_t ref)
{
    uint32_t idx;
    heap__span_t *sp = object_span(m, ref, &idx);
    if (!sp || !mark_bit(m, sp, idx))
        return 0;
    const struct heap_pool *p = (const struct heap_pool *)(m->base + ref);
    if (p->kind != HEAP__POOL_MAGIC || p->self != ref)
        return 0;
    uint64_t room = sp->state == HEAP__SPAN_SMALL
                        ? sp->elem_bytes
                        : (uint64_t)sp->npages << HEAP__PAGE_SHIFT;
    uint64_t max_half = (room - sizeof(struct heap_pool)) / (2 * sizeof(heap_ref_t));
    uint64_t half = p->half < max_half ? p->half : max_half;
    uint64_t c = p->counts;
    uint64_t first[2] = { heap__pool_primary_half(c) * half,
                          (heap__pool_primary_half(c) ^ 1) * half };
    uint64_t count[2] = { heap__pool_primary_count(c), heap__pool_victim_count(c) };
    for (int k = 0; k < 2; k++) {
        uint64_t n = count[k] < half ? count[k] : half;
        for (uint64_t i = 0; i < n; i++) {
            if (p->slots[first[k] + i])
                grey(m, p->slots[first[k] + i]);
        }
        /* Scan work of the heap, not of a root: Go's sync.Pool keeps
        ** its objects in heap objects (poolLocal, poolChain). */
        m->scan_work += n * sizeof(heap_ref_t);
    }
    if (!m->conc)
        drain(m);
    return p->next;
}

void heap__pools_rotate_locked(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *proc = &hdr->procs[i];
        if (__atomic_load_n(&proc->state, __ATOMIC_SEQ_CST) == HEAP__PROC_FREE)
            continue;
        uint64_t guard = (uint64_t)hdr->npages * HEAP__MAX_NELEMS;
        for (heap_ref_t r = proc->pools_head; r && guard--;) {
            if (!heap__pool_valid(h, r, i))
                break;   /* a broken list: marking stops here too */
            struct heap_pool *p = heap_ptr(h, r);
            uint64_t c = p->counts;
            uint32_t primary = heap__pool_primary_half(c);
            uint32_t n = heap__pool_primary_count(c), v = heap__pool_victim_count(c);
            if (n > p->half)
                n = p->half;
            if (v > p->half)
                v = p->half;
            memset(&p->slots[(uint64_t)(primary ^ 1) * p->half], 0, (size_t)v * sizeof(heap_ref_t));
            __atomic_store_n(&p->counts, heap__pool_counts(primary ^ 1, 0, n), __ATOMIC_RELAXED);
            r = p->next;
        }
    }
}

/* After a mark-stack overflow some marked objects were never scanned:
** scan every marked object again (greying is idempotent). */
static void rescan_marked(mark_ctx_t *m)
{
    heap_t *h = m->h;
    for (uint64_t s = m->first_page; s < m->hwm;) {
        heap__span_t *sp = &m->spans[s];
        uint64_t n = sp->npages ? sp->npages : 1;
        bool scan = (sp->state == HEAP__SPAN_SMALL && !(sp->spanclass & 1)) ||
                    sp->state == HEAP__SPAN_LARGE;
        if (scan) {
            const uint64_t *mark = sp->bits[(sp->sweep_word & 1) ^ 1];
            for (uint32_t i = 0; i < sp->nelems; i++) {
                if (!((mark[i >> 6] >> (i & 63)) & 1))
                    continue;
                uint64_t slot_off = (s << HEAP__PAGE_SHIFT) + (uint64_t)i * sp->elem_bytes;
                struct heap__mark_entry e = { slot_off, 0 };
                if (sp->state == HEAP__SPAN_SMALL) {
                    e.nptrs = (sp->elem_bytes / sizeof(heap_ref_t)) | HEAP__MARK_FROM_MAP;
                } else {
                    uint64_t most = (n << HEAP__PAGE_SHIFT) / sizeof(heap_ref_t);
                    e.nptrs = sp->large_nptrs < most ? sp->large_nptrs : most;
                }
                uint64_t nptrs = entry_nptrs(m, e);
                const heap_ref_t *slots = (const heap_ref_t *)(m->base + slot_off);
                for (uint64_t k = 0; k < nptrs; k++) {
                    if (slots[k])
                        grey(m, slots[k]);
                }
                drain(m);
            }
        }
        s += n;
    }
    (void)h;
}

#ifndef NDEBUG
/* The tri-colour invariant once marking is done: every ref in a marked
** object that names an object names a marked one. O(marked objects). */
static bool no_black_to_white(const mark_ctx_t *m)
{
    for (uint64_t s = m->first_page; s < m->hwm;) {
        const heap__span_t *sp = &m->spans[s];
        uint64_t n = sp->npages ? sp->npages : 1;
        bool scan = (sp->state == HEAP__SPAN_SMALL && !(sp->spanclass & 1)) ||
                    sp->state == HEAP__SPAN_LARGE;
        for (uint32_t i = 0; scan && i < sp->nelems; i++) {
            const uint64_t *mark = sp->bits[(sp->sweep_word & 1) ^ 1];
            if (!((mark[i >> 6] >> (i & 63)) & 1))
                continue;
            uint64_t slot_off = (s << HEAP__PAGE_SHIFT) + (uint64_t)i * sp->elem_bytes;
            uint64_t nptrs;
            if (sp->state == HEAP__SPAN_SMALL) {
                nptrs = heap__ptr_map_count(m->ptr_map, slot_off >> 3,
                                            sp->elem_bytes / sizeof(heap_ref_t));
            } else {
                uint64_t max_ptrs = (n << HEAP__PAGE_SHIFT) / sizeof(heap_ref_t);
                nptrs = sp->large_nptrs < max_ptrs ? sp->large_nptrs : max_ptrs;
            }
            const heap_ref_t *slots = (const heap_ref_t *)(m->base + slot_off);
            for (uint64_t k = 0; k < nptrs; k++) {
                uint32_t idx;
                const heap__span_t *child = slots[k] ? object_span(m, slots[k], &idx) : NULL;
                if (child != NULL &&
                    !((child->bits[(child->sweep_word & 1) ^ 1][idx >> 6] >> (idx & 63)) & 1))
                    return false;
            }
        }
        s += n;
    }
    return true;
}

/* Outside a cycle every mark bit is clear. O(spans). */
static bool marks_clear(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    for (uint32_t s = hdr->first_page; s < hdr->hwm_page;) {
        const heap__span_t *sp = heap__span(h, s);
        if (sp->state == HEAP__SPAN_SMALL || sp->state == HEAP__SPAN_LARGE) {
            const uint64_t *mark = sp->bits[(sp->sweep_word & 1) ^ 1];
            for (uint32_t w = 0; w < (sp->nelems + 63) / 64; w++)
                if (mark[w] != 0)
                    return false;
        }
        s += sp->npages ? sp->npages : 1;
    }
    return true;
}

#endif

/* Grey the roots of process entry p (its root stacks, globals, pools) and
** keep its profile objects. */
static void mark_proc_roots(mark_ctx_t *m, heap__proc_t *p)
{
    for (heap_ref_t r = p->roots_head; r;)
        r = mark_root_stack(m, r, HEAP__ROOTS_MAGIC);
    if (p->globals)
        mark_root_stack(m, p->globals, HEAP__GLOBALS_MAGIC);
    for (heap_ref_t r = p->pools_head; r;)
        r = mark_pool(m, r);
    mark_keep(m, p->prof_sites);
    mark_keep(m, p->prof_samples);
}

/* Mark from every process's roots, world stopped, every lock held; with
** the stopped processes' help (HELPING) when there are any and may_help
** (not when redoing a helped mark a helper died in: that one is alone). */
static void mark(heap_t *h, mark_ctx_t *m, bool may_help)
{
    heap__hdr_t *hdr = h->hdr;
    steal_reset_all(h);
    bool help = may_help && help_available(h);
    for (;;) {
        /* Helped, mark bits are set by atomic or (conc). */
        ctx_init(h, m, help);
        h->mark_len = 0;
        h->mark_overflow = false;
        uint32_t gen = help ? help_open(h) : 0;
        for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
            heap__proc_t *p = &hdr->procs[i];
            if (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) == HEAP__PROC_FREE)
                continue;
            mark_proc_roots(m, p);
            if (help) {
                steal_offer(h, true);   /* the helpers start on these meanwhile */
                drain_some(m, MARK_WORK_CHUNK);
            }
        }
        if (!help || help_close(h, m, gen))
            break;
        /* A helper died with grey objects: again, alone. */
        heap__walk(h, HEAP__WALK_CLEAR_MARKS, NULL);
        steal_reset_all(h);
        help = false;
    }
    while (h->mark_overflow) {
        h->mark_overflow = false;
        rescan_marked(m);
    }
    /* Nothing grey is left, and no black object points to a white one. */
    assert(h->mark_len == 0 && !h->mark_overflow);
    assert(no_black_to_white(m));
}

/* ---- The cycle ------------------------------------------------------ */

static void total_alloc(heap_t *h, uint64_t *bytes, uint64_t *objects)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t b = heap__atomic_load(&hdr->retired_alloc_bytes);
    uint64_t o = heap__atomic_load(&hdr->retired_alloc_objects);
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        b += heap__atomic_load(&p->alloc_bytes);
        o += heap__atomic_load(&p->alloc_objects);
    }
    *bytes = b;
    *objects = o;
}

void heap__proc_retire_locked(heap_t *h, uint32_t i)
{
    heap__hdr_t *hdr = h->hdr;
    heap__proc_t *p = &hdr->procs[i];
    p->roots_head = 0;
    p->globals = 0;
    p->pools_head = 0;
    p->prof_sites = 0;
    p->prof_samples = 0;
    __atomic_add_fetch(&hdr->retired_alloc_bytes, heap__atomic_load(&p->alloc_bytes),
                       __ATOMIC_RELAXED);
    __atomic_add_fetch(&hdr->retired_alloc_objects, heap__atomic_load(&p->alloc_objects),
                       __ATOMIC_RELAXED);
    heap__atomic_store(&p->alloc_bytes, 0);
    heap__atomic_store(&p->alloc_objects, 0);
    heap__atomic_store(&p->stack_bytes, 0);
    heap__proc_set_max_stack(hdr, p, 0);
    p->pid = 0;
    p->attach_id = 0;
    p->start_ticks = 0;
    /* Its run went back first (heap__pcache_reclaim_locked): a stale one
    ** would be cut by the entry's next owner, without the lock. */
    assert(p->pcache == 0);
    __atomic_store_n(&p->pcache, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&p->helping, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&p->state, HEAP__PROC_FREE, __ATOMIC_SEQ_CST);
}

bool heap__proc_gone(const heap__proc_t *p, uint32_t state)
{
    return state != HEAP__PROC_FREE &&
           (state == HEAP__PROC_DEAD || heap__pid_dead(p->pid, p->start_ticks, false));
}

/* Drop the entries of processes that died (lock held, world stopped). */
static void reclaim_dead(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        if (i == h->proc_index)
            continue;
        heap__proc_t *p = &hdr->procs[i];
        uint32_t st = __atomic_load_n(&p->state, __ATOMIC_SEQ_CST);
        if (heap__proc_gone(p, st)) {
            if (st != HEAP__PROC_DEAD)
                __atomic_add_fetch(&hdr->proc_deaths, 1, __ATOMIC_SEQ_CST);
            heap__pcache_reclaim_locked(h, p->attach_id, true);
            heap__proc_retire_locked(h, i);
        }
    }
    heap__inuse_recount_locked(h);   /* PAGE CACHE: if a walk or a reuse asked */
}

static void history_append(heap_t *h, const heap_gc_cycle_t *c)
{
    heap__hdr_t *hdr = h->hdr;
    uint32_t seq = hdr->hist_seq;
    assert((seq & 1) == 0);   /* odd only while written, under the lock */
    __atomic_store_n(&hdr->hist_seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    uint64_t *dst = (uint64_t *)&hdr->hist[(uint64_t)(c->fields.cycle - 1) % HEAP_GC_HISTORY];
    const uint64_t *src = (const uint64_t *)c;
    for (size_t i = 0; i < sizeof *c / sizeof(uint64_t); i++)
        __atomic_store_n(&dst[i], src[i], __ATOMIC_RELAXED);
    __atomic_store_n(&hdr->hist_count, (uint32_t)c->fields.cycle, __ATOMIC_RELAXED);
    __atomic_store_n(&hdr->hist_seq, seq + 2, __ATOMIC_RELEASE);
}

_Static_assert(sizeof(heap_gc_cycle_t) % sizeof(uint64_t) == 0,
               "the history is copied by words");

uint64_t heap_num_gc(const heap_t *h)
{
    return heap__atomic_load(&h->hdr->num_gc);
}

int heap_gc_history(heap_t *h, uint32_t after_cycle, heap_gc_cycle_t *out, int max)
{
    heap__hdr_t *hdr = h->hdr;
    if (max <= 0)
        return 0;
    for (;;) {
        uint32_t seq = __atomic_load_n(&hdr->hist_seq, __ATOMIC_ACQUIRE);
        if (seq & 1) {
            sched_yield();
            continue;
        }
        uint32_t count = __atomic_load_n(&hdr->hist_count, __ATOMIC_RELAXED);
        uint32_t first = count > HEAP_GC_HISTORY ? count - HEAP_GC_HISTORY + 1 : 1;
        if (after_cycle + 1 > first)
            first = after_cycle + 1;
        int n = 0;
        for (uint32_t c = first; c <= count && n < max; c++, n++) {
            const uint64_t *src = (const uint64_t *)&hdr->hist[(c - 1) % HEAP_GC_HISTORY];
            uint64_t *dst = (uint64_t *)&out[n];
            for (size_t i = 0; i < sizeof *out / sizeof(uint64_t); i++)
                dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&hdr->hist_seq, __ATOMIC_RELAXED) == seq)
            return n;
    }
}

/* SCAVENGER: the background scavenger's memory-limit goal, 95 % of the
** limit, or none while mapped memory is below it (Go's gcPaceScavenger;
** Go 1.19's code there computes 95 times the limit, which Go 1.20
** corrected to the 95 % meant). Lock held. */
#define REDUCE_EXTRA_PERCENT 5
static void scavenge_pace_limit(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t limit = heap__atomic_load(&hdr->memory_limit_bytes);
    uint64_t limit_goal = limit ? limit / 100 * (100 - REDUCE_EXTRA_PERCENT) : 0;
    if (limit_goal && heap__mapped_bytes(hdr) <= limit_goal)
        limit_goal = 0;
    heap__atomic_store(&hdr->scav_limit_goal_bytes, limit_goal);
}

/* SCAVENGER: its goals until the next cycle: the retained bytes to keep,
** from the in-use bytes at mark termination and the goal this cycle ran
** against (gcPercentGoal), and the memory limit's. Lock held. */
#define RETAIN_EXTRA_PERCENT 10
static void scavenge_pace(heap_t *h, uint64_t inuse_at_start, uint64_t last_goal)
{
    heap__hdr_t *hdr = h->hdr;
    scavenge_pace_limit(h);
    uint64_t goal = UINT64_MAX;
    if (heap__atomic_load(&hdr->num_gc) > 0) {   /* not before the 2nd cycle */
        uint64_t new_goal = heap__goal_bytes(h);
        double ratio = 1.0;
        if (new_goal != UINT64_MAX && last_goal != UINT64_MAX && last_goal)
            ratio = (double)new_goal / (double)last_goal;
        double g = (double)inuse_at_start * ratio;
        g += g * RETAIN_EXTRA_PERCENT / 100.0;
        goal = g >= 1.8e19 ? UINT64_MAX - HEAP__PAGE_BYTES : (uint64_t)g;
        goal = (goal + HEAP__PAGE_BYTES - 1) & ~(HEAP__PAGE_BYTES - 1);
        uint64_t retained = heap__retained_bytes(hdr);
        if (retained <= goal || retained - goal < HEAP__PAGE_BYTES)
            goal = UINT64_MAX;
    }
    heap__atomic_store(&hdr->scavenge_goal_bytes, goal);
}

/* The goal as reported: 0 when there is none (GOGC off, no limit). */
static uint64_t reported_goal(heap_t *h)
{
    uint64_t goal = heap__goal_bytes(h);
    return goal == UINT64_MAX ? 0 : goal;
}

/* Fold this process's greying figures into the cycle's (heap__hdr). */
static void mark_counters_flush(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    if (h->mark_cycle != __atomic_load_n(&hdr->mark_cycle, __ATOMIC_RELAXED)) {
        h->mark_live_bytes = h->mark_live_objects = h->mark_scan_work = 0;
        return;
    }
    if (h->mark_live_bytes)
        __atomic_add_fetch(&hdr->mark_live_bytes, h->mark_live_bytes, __ATOMIC_RELAXED);
    if (h->mark_live_objects)
        __atomic_add_fetch(&hdr->mark_live_objects, h->mark_live_objects, __ATOMIC_RELAXED);
    if (h->mark_scan_work)
        __atomic_add_fetch(&hdr->mark_scan_work, h->mark_scan_work, __ATOMIC_RELAXED);
    h->mark_live_bytes = h->mark_live_objects = h->mark_scan_work = 0;
}

/* One collection with the world ours and no lock held: a whole
** stop-the-world cycle, or the end of a concurrent one (mark termination)
** when a concurrent mark runs. Restarts the world before returning. */
static void run_cycle(heap_t *h, int why, uint64_t t_request, uint64_t stop_ns)
{
    heap__hdr_t *hdr = h->hdr;
    heap_gc_cycle_t cyc;
    memset(&cyc, 0, sizeof cyc);
    gc_fields_t *c = &cyc.fields;
    c->forced = why == HEAP__GC_BY_USER;
    cyc.collector_pid = h->pid;

    heap__lock_world(h);
    /* HELPING: helpers of a collector that died leave before anything
    ** is repaired or marked. */
    help_quiesce(h);
    bool conc = hdr->gc_phase == HEAP__GC_CONC_MARK;
    if (!conc && hdr->gc_phase != HEAP__GC_IDLE) {
        /* The last collector died mid-cycle. Until a concurrent cycle's
        ** lazy sweep has begun, its alloc bitmaps are each a superset of
        ** what is live: clear its marks and start over. Once it has begun
        ** (sweep_active: the mark was complete, sweepgen has moved on), the
        ** marks of the spans not yet swept are the only record of what is
        ** live: they are kept, and the sweep below finishes with them. */
        bool verdict = __atomic_load_n(&hdr->sweep_active, __ATOMIC_ACQUIRE) != 0;
        heap__walk(h, HEAP__WALK_REPAIR | (verdict ? 0 : HEAP__WALK_CLEAR_MARKS), NULL);
        hdr->gc_phase = HEAP__GC_IDLE;
    }
    /* The world is ours (another process may show RUNNING for a moment
    ** while it backs off in heap__become_running, so that is not asserted). */
    assert(__atomic_load_n(&hdr->stw, __ATOMIC_SEQ_CST) == (uint32_t)h->pid);
    if (!conc)
        heap__sweep_finish_locked(h, true);   /* LAZY SWEEP: the last cycle's */
    assert(conc || marks_clear(h));
    /* The dead first: their page caches back and the count of pages in
    ** use right (PAGE CACHE) before it is read below. */
    reclaim_dead(h);
    uint64_t first_pause_ns = 0;
    if (conc) {
        c->start_unix_ns = (int64_t)hdr->mark_start_unix_ns;
        c->since_start_ns = (int64_t)(hdr->mark_start_ns - hdr->create_mono_ns);
        first_pause_ns = hdr->mark_pause_ns;
        c->stop_ns = (int64_t)(hdr->mark_stop_ns + stop_ns);
        c->heap_start_bytes = (int64_t)hdr->mark_heap_start_bytes;
    } else {
        c->start_unix_ns = heap__now_ns(CLOCK_REALTIME) -
                          (heap__now_ns(CLOCK_MONOTONIC) - t_request);
        c->since_start_ns = t_request - hdr->create_mono_ns;
        c->stop_ns = (int64_t)stop_ns;
        c->heap_start_bytes = heap__atomic_load(&hdr->inuse_pages) << HEAP__PAGE_SHIFT;
    }
    heap__pcache_drop_all_locked(h);   /* PAGE CACHE: if memory ran out */
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        if (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) != HEAP__PROC_FREE) {
            c->nprocs++;
            c->stack_bytes += heap__atomic_load(&p->stack_bytes);
            c->max_stack_bytes += heap__atomic_load(&p->max_stack_bytes);
        }
    }

    uint64_t t0 = heap__now_ns(CLOCK_MONOTONIC), cpu0 = heap__now_ns(CLOCK_THREAD_CPUTIME_ID);
    mark_ctx_t m;
    uint64_t conc_cpu_ns = 0;
    if (conc) {
        /* Mark termination. Every other process is stopped, and stopped
        ** with nothing grey of its own (heap__park, heap_leave). */
        mark_counters_flush(h);
        uint64_t cycle = hdr->mark_cycle;
        bool redo = __atomic_load_n(&hdr->proc_deaths, __ATOMIC_SEQ_CST) != hdr->mark_deaths ||
                    __atomic_load_n(&hdr->mark_overflow, __ATOMIC_RELAXED) != 0;
        bool helper_died = false;
        hdr->gc_phase = HEAP__GC_MARK;
        if (!redo) {
            bool help = help_available(h);
            ctx_init(h, &m, help);
            for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
                heap__proc_t *p = &hdr->procs[i];
                if (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) == HEAP__PROC_FREE)
                    continue;
                if (p->scanned_cycle != (uint32_t)cycle) {
                    mark_proc_roots(&m, p);
                    p->scanned_cycle = (uint32_t)cycle;
                }
                __atomic_store_n(&p->mark_busy, 0, __ATOMIC_RELAXED);
            }
            /* What the steal queues still hold: their owners stopped,
            ** left or died after offering it. Taken here first, so that
            ** a helped drain (HELPING) starts with empty queues. */
            for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
                while (steal_take(&m, i, false))
                    if (!help)
                        drain(&m);
            }
            /* A helper that died may have taken grey objects with it. */
            if (help && !help_close(h, &m, help_open(h)))
                redo = helper_died = true;
        }
        if (redo) {
            /* A process died mid-mark (what it had grey is lost) or a grey
            ** queue overflowed: mark again from the roots, world stopped;
            ** alone if a helper just died in it (as mark() does). */
            heap__walk(h, HEAP__WALK_CLEAR_MARKS, NULL);
            /* The work the next cycle expects is this mark's: what the
            ** abandoned one counted is scanned again here. */
            hdr->mark_scan_work = 0;
            hdr->mark_root_work = 0;
            mark(h, &m, !helper_died);
            c->heap_live_bytes = (int64_t)m.live_bytes;
            c->objects_live = (int64_t)m.live_objects;
        } else {
            drain(&m);
            while (h->mark_overflow) {
                h->mark_overflow = false;
                rescan_marked(&m);
            }
            assert(h->mark_len == 0);
            assert(no_black_to_white(&m));
            uint64_t ab, ao;
            total_alloc(h, &ab, &ao);
            c->heap_live_bytes = (int64_t)(hdr->mark_live_bytes + m.live_bytes +
                                           (ab - hdr->mark_alloc_bytes0));
            c->objects_live = (int64_t)(hdr->mark_live_objects + m.live_objects +
                                        (ao - hdr->mark_alloc_objects0));
        }
        conc_cpu_ns = hdr->mark_assist_ns + hdr->mark_bg_ns + hdr->mark_idle_ns;
        h->view.barrier_on = 0;
        __atomic_and_fetch(&hdr->poll, ~HEAP__POLL_MARK, __ATOMIC_SEQ_CST);
    } else {
        heap__pools_rotate_locked(h);
        hdr->gc_phase = HEAP__GC_MARK;
        mark(h, &m, true);
        c->heap_live_bytes = (int64_t)m.live_bytes;
        c->objects_live = (int64_t)m.live_objects;
    }
    h->mark_greyed_total += m.live_objects - m.helped_objects;
    uint64_t t1 = heap__now_ns(CLOCK_MONOTONIC), cpu1 = heap__now_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t mark_began = hdr->mark_start_ns + first_pause_ns;
    c->mark_ns = (int64_t)(conc ? (t_request > mark_began ? t_request - mark_began : 0) : t1 - t0);
    c->mark_cpu_ns = (int64_t)(cpu1 - cpu0 + conc_cpu_ns);

    /* HIGH-WATER MARKS: the heap in use peaks just before a sweep. */
    uint64_t pre_bytes, pre_objects;
    heap__alloc_now(h, &pre_bytes, &pre_objects);
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        if (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) == HEAP__PROC_FREE)
            continue;
        if (pre_bytes > heap__atomic_load(&p->hwm_alloc_bytes))
            heap__atomic_store(&p->hwm_alloc_bytes, pre_bytes);
        if (pre_objects > heap__atomic_load(&p->hwm_objects))
            heap__atomic_store(&p->hwm_objects, pre_objects);
    }

    heap__prof_sweep_locked(h, heap__atomic_load(&hdr->num_gc) + 1);
    hdr->gc_phase = HEAP__GC_SWEEP;
    heap__sweep_stats_t ss = {0, 0};
    if (conc) {
        /* LAZY SWEEP: spans are swept after the world restarts. What it
        ** will free is known now: every object allocated and not marked. */
        heap__fault(h, HEAP__FP_MARK_TERM);
        heap__sweep_begin_locked(h);
        heap__fault(h, HEAP__FP_SWEEP_BEGUN);
        ss.objects_freed = pre_objects > (uint64_t)c->objects_live
                               ? pre_objects - (uint64_t)c->objects_live : 0;
    } else {
        __atomic_store_n(&hdr->sweepgen, hdr->sweepgen + 1, __ATOMIC_RELEASE);
        heap__walk(h, HEAP__WALK_SWEEP, &ss);
    }
    __atomic_add_fetch(&hdr->cache_epoch, 1, __ATOMIC_RELEASE);
    uint64_t t2 = heap__now_ns(CLOCK_MONOTONIC), cpu2 = heap__now_ns(CLOCK_THREAD_CPUTIME_ID);
    c->sweep_ns = t2 - t1;
    c->sweep_cpu_ns = cpu2 - cpu1;
    c->objects_freed = ss.objects_freed;
    c->heap_end_bytes = heap__atomic_load(&hdr->inuse_pages) << HEAP__PAGE_SHIFT;

    uint64_t live = (uint64_t)c->heap_live_bytes;
    c->heap_live_end_bytes = (int64_t)heap__atomic_load(&hdr->heap_live_bytes);
    c->concurrent = conc;
    if (conc) {
        c->heap_live_start_bytes = (int64_t)hdr->mark_live_at_start;
        c->heap_trigger_bytes = (int64_t)hdr->mark_trigger_bytes;
        c->mark_assist_cpu_ns = (int64_t)hdr->mark_assist_ns;
        c->mark_bg_cpu_ns = (int64_t)hdr->mark_bg_ns;
        c->mark_idle_cpu_ns = (int64_t)hdr->mark_idle_ns;
    } else {
        c->heap_live_start_bytes = c->heap_live_end_bytes;
        c->heap_trigger_bytes = (int64_t)reported_goal(h);
    }
    heap__atomic_store(&hdr->marked_bytes, live);
    heap__atomic_store(&hdr->marked_objects, (uint64_t)c->objects_live);
    heap__atomic_store(&hdr->inuse_after_gc_bytes, (uint64_t)c->heap_end_bytes);
    heap__atomic_store(&hdr->heap_live_bytes, live);
    uint64_t ab, ao;
    total_alloc(h, &ab, &ao);
    heap__atomic_store(&hdr->alloc_bytes_at_gc, ab);
    heap__atomic_store(&hdr->alloc_objects_at_gc, ao);
    uint64_t last_goal = heap__goal_bytes(h);
    uint64_t work = hdr->mark_scan_work + m.scan_work;
    uint64_t root_work = hdr->mark_root_work + m.root_work;
    /* Go's heapScanWork: the heap objects' share of the work. The roots
    ** (stacks, globals, pools) are the goal's and the expected work's
    ** other terms; counted here too they would be expected twice, the
    ** assist ratio would be too high and the mark would end early. */
    uint64_t heap_scan = work > root_work ? work - root_work : 0;
    if (conc) {
        uint64_t procs = c->nprocs > 0 ? (uint64_t)c->nprocs : 1;
        /* heapLive at the end of the mark (hdr->heap_live_bytes was reset
        ** to the marked heap above): what cons/mark learns from, against
        ** all the work (Go's heap + stack + globals scan work). */
        heap__pacer_end_cycle(&hdr->pacer, (int64_t)t1, (int32_t)procs,
                              (uint64_t)c->heap_live_end_bytes,
                              (int64_t)hdr->mark_assist_ns, (int64_t)hdr->mark_idle_ns,
                              (int64_t)work, limit_goal_or_none(h));
        heap__pacer_reset_live(&hdr->pacer, live, heap_scan, hdr->mark_stack_scan_bytes,
                               heap__atomic_load(&hdr->pacer_globals_bytes));
    } else {
        heap__pacer_reset_live(&hdr->pacer, live, live, (uint64_t)c->stack_bytes,
                               heap__atomic_load(&hdr->pacer_globals_bytes));
    }
    heap__atomic_store(&hdr->heap_scan_bytes, heap_scan);
    heap__pacer_update_locked(h);
    if (conc)
        heap__sweep_pace_locked(h);
    c->globals_bytes = heap__atomic_load(&hdr->pacer_globals_bytes);
    /* Go's lastHeapInUse: spans in use at mark termination, before the
    ** sweep (a stop-the-world cycle's start is that moment too). */
    scavenge_pace(h, (uint64_t)(conc ? c->heap_end_bytes : c->heap_start_bytes), last_goal);
    c->heap_goal_bytes = reported_goal(h);
    hdr->gc_phase = HEAP__GC_IDLE;

    uint64_t t_end = heap__now_ns(CLOCK_MONOTONIC);
    uint64_t stw_ns = first_pause_ns + (t_end - t_request);
    uint64_t cycle = heap__atomic_load(&hdr->num_gc) + 1;
    c->stw_ns = (int64_t)stw_ns;
    c->sweep_term_ns = (int64_t)first_pause_ns;
    c->mark_term_ns = (int64_t)(t_end - t_request);
    c->cycle = (int64_t)cycle;
    heap__atomic_store(&hdr->limit_gc_after_ns, t_end + stw_ns);
    uint64_t gc_wall = heap__atomic_load(&hdr->gc_wall_total_ns) + stw_ns;
    heap__atomic_store(&hdr->gc_wall_total_ns, gc_wall);
    heap__atomic_store(&hdr->pause_total_ns, heap__atomic_load(&hdr->pause_total_ns) + stw_ns);
    if (stw_ns > heap__atomic_load(&hdr->pause_max_ns))
        heap__atomic_store(&hdr->pause_max_ns, stw_ns);
    /* GC CPU as Go's GCCPUFraction counts it: pauses take every process,
    ** assists and mark workers their own time; over the CPU time the
    ** processes had since the heap was made. */
    uint64_t nprocs = c->nprocs > 0 ? (uint64_t)c->nprocs : 1;
    uint64_t gc_cpu = heap__atomic_load(&hdr->gc_cpu_total_ns) + stw_ns * nprocs + conc_cpu_ns;
    heap__atomic_store(&hdr->gc_cpu_total_ns, gc_cpu);
    uint64_t since = t_end - hdr->create_mono_ns;
    c->gc_cpu_fraction = since ? (double)gc_cpu / ((double)since * (double)nprocs) : 0.0;
    if (c->gc_cpu_fraction > 1.0)
        c->gc_cpu_fraction = 1.0;
    history_append(h, &cyc);
    heap__atomic_store(&hdr->num_gc, cycle);
    heap__unlock_world(h);

    if (h->gc_hook)
        h->gc_hook(h->gc_hook_arg, &cyc);
    heap__world_start(h);

    /* The sweep is over (a stop-the-world cycle's is eager): wake the
    ** background scavenger, as Go's sweeper does. After a lazy sweep,
    ** whoever ends the sweep wakes it. */
    if (!conc)
        heap__scavenge_wake(h);
}

/* ---- The concurrent mark (heap_int.h, CONCURRENT MARK) ---------------- */

#define DRAIN_CHECK_WORK 100000ull         /* Go's drainCheckThreshold (scan bytes) */
#define FRACTIONAL_SLACK 1.2               /* Go's pollFractionalWorkerExit slack */
#define TERM_CHECK_GAP_NS 50000ull         /* between failed termination checks */

/* Go's revise(): the pacer's assist ratio from the heap and the scan work
** done so far (any process, while marking). */
static void assist_revise(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    heap__pacer_revise(&hdr->pacer, heap__atomic_load(&hdr->heap_live_bytes),
                       heap__atomic_load(&hdr->heap_scan_bytes),
                       heap__atomic_load(&hdr->pacer_max_stack_bytes),
                       (int64_t)heap__atomic_load(&hdr->mark_scan_work), limit_goal_or_none(h));
}

/* mark_work's flags. */
enum {
    MW_STEAL = 1,   /* grey stack empty: take from the steal queues */
    MW_SHARE = 2,   /* offer work in this process's steal queue (steal_offer) */
    MW_YIELD = 4,   /* stop early when a stop of the world or an interrupt is asked */
};

/* Mark work from this process's grey stack (and with MW_STEAL the steal
** queues) for at most max_work scan bytes or until deadline_ns
** (CLOCK_MONOTONIC; 0 = none). Returns the scan bytes done. */
static uint64_t mark_work(heap_t *h, uint64_t max_work, uint64_t deadline_ns, int flags)
{
    mark_ctx_t m;
    ctx_init(h, &m, true);
    uint64_t done = 0;
    while (done < max_work) {
        if (!h->mark_len) {
            if (!(flags & MW_STEAL))
                break;
            /* Busy before taking, so a termination check that finds the
            ** queue empty finds this process busy. */
            __atomic_store_n(&h->proc->mark_busy, 1, __ATOMIC_SEQ_CST);
            if (!steal_work(&m))
                break;
        }
        if (flags & MW_SHARE)
            steal_offer(h, false);
        uint64_t chunk = max_work - done < MARK_WORK_CHUNK ? max_work - done : MARK_WORK_CHUNK;
        uint64_t before = m.scan_work;
        drain_some(&m, chunk);
        done += m.scan_work - before;
        if (deadline_ns && heap__now_ns(CLOCK_MONOTONIC) >= deadline_ns)
            break;
        if ((flags & MW_YIELD) &&
            (__atomic_load_n(&h->hdr->stw, __ATOMIC_RELAXED) != 0 ||
             __atomic_load_n(&h->interrupt_pending, __ATOMIC_RELAXED) != 0))
            break;
    }
    if (flags & MW_SHARE)
        steal_offer(h, false);   /* what is left here, others may do meanwhile */
    h->mark_live_bytes += m.live_bytes;
    h->mark_live_objects += m.live_objects;
    h->mark_greyed_total += m.live_objects;
    h->mark_scan_work += m.scan_work;
    /* Published at once, as Go flushes gcWork's scan work every
    ** gcCreditSlack bytes: revise() must see the work done so far, or the
    ** assist ratio stays at its start-of-cycle value while the heap left
    ** shrinks, assists overpay, and the mark ends early. */
    mark_counters_flush(h);
    if (h->mark_overflow) {
        __atomic_store_n(&h->hdr->mark_overflow, 1, __ATOMIC_RELAXED);
        h->mark_overflow = false;
    }
    if (h->mark_len == 0)
        __atomic_store_n(&h->proc->mark_busy, 0, __ATOMIC_SEQ_CST);
    return done;
}

/* Before this process stops or leaves the heap during a concurrent mark:
** scan what it has grey, and publish its figures. */
static void mark_flush(heap_t *h)
{
    if (h->mark_cycle != __atomic_load_n(&h->hdr->mark_cycle, __ATOMIC_RELAXED) ||
        __atomic_load_n(&h->hdr->gc_phase, __ATOMIC_RELAXED) != HEAP__GC_CONC_MARK) {
        h->mark_len = 0;
        return;
    }
    if (h->mark_len) {
        uint64_t t0 = heap__now_ns(CLOCK_MONOTONIC);
        mark_work(h, UINT64_MAX, 0, 0);
        __atomic_add_fetch(&h->hdr->mark_idle_ns, heap__now_ns(CLOCK_MONOTONIC) - t0,
                           __ATOMIC_RELAXED);
    }
    mark_counters_flush(h);
}

void heap__mark_join(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    bool on = __atomic_load_n(&hdr->gc_phase, __ATOMIC_ACQUIRE) == HEAP__GC_CONC_MARK;
    h->view.barrier_on = on;
    if (!on)
        return;
    uint32_t cycle = __atomic_load_n(&hdr->mark_cycle, __ATOMIC_ACQUIRE);
    if (h->mark_cycle != cycle) {
        h->mark_cycle = cycle;
        h->mark_live_bytes = h->mark_live_objects = h->mark_scan_work = 0;
        h->mark_join_ns = heap__now_ns(CLOCK_MONOTONIC);
        h->mark_bg_ns = 0;
        h->assist_debt = 0;
        h->mark_polls = 0;
        h->term_check_ns = 0;
        h->mark_len = 0;
        h->mark_share = __atomic_load_n(&hdr->mark_procs, __ATOMIC_RELAXED) > 1 &&
                        h->proc_index < __atomic_load_n(&hdr->mark_nslots, __ATOMIC_RELAXED);
    }
    if (__atomic_load_n(&h->proc->scanned_cycle, __ATOMIC_ACQUIRE) != cycle) {
        /* This process's roots, once per cycle, before it mutates: a
        ** snapshot of them (its goroutines are all at safepoints). */
        mark_ctx_t m;
        ctx_init(h, &m, true);
        heap__fault(h, HEAP__FP_ROOT_SCAN);
        mark_proc_roots(&m, h->proc);
        h->mark_live_bytes += m.live_bytes;
        h->mark_live_objects += m.live_objects;
        h->mark_greyed_total += m.live_objects;
        uint64_t stack_work = m.root_slots * sizeof(heap_ref_t);
        if (h->stack_scan) {
            /* Go's scanstack counts each goroutine's used stack (hi - sp)
            ** as work, every word of its frames; the root stacks' slots
            ** are only the frames' pointer words (heap.h,
            ** heap_set_stack_scan). */
            uint64_t depth = h->stack_scan(h->stack_scan_arg, cycle);
            m.scan_work = m.scan_work - stack_work + depth;
            m.root_work = m.root_work - stack_work + depth;
            stack_work = depth;
        }
        h->mark_scan_work += m.scan_work;
        /* Go's root jobs (stacks, data and bss) are mark work like any
        ** other: the assist that does them is paid by them, and what is
        ** left over is its credit. Here the process does its own at once. */
        h->assist_debt -= (int64_t)m.scan_work;
        __atomic_add_fetch(&hdr->mark_stack_scan_bytes, stack_work, __ATOMIC_RELAXED);
        __atomic_add_fetch(&hdr->mark_root_work, m.root_work, __ATOMIC_RELAXED);
        /* Published at once, as Go's markroot adds its work to the
        ** controller's stack and globals scan work: revise() must count
        ** it done, or the assist ratio is set as if it were still to do. */
        mark_counters_flush(h);
        __atomic_store_n(&h->proc->scanned_cycle, cycle, __ATOMIC_RELEASE);
    }
}

/* Can the mark end? Nothing grey here, every running process has scanned
** its roots and has nothing grey (stopped ones scanned what they had),
** and every steal queue is empty; processes outside are scanned by the
** terminator. A wrong yes only costs pause time: the stop makes every
** process scan what it has, and the terminator takes what is left in the
** steal queues. */
static bool mark_done(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    uint32_t cycle = __atomic_load_n(&hdr->mark_cycle, __ATOMIC_RELAXED);
    if (steal_pending(h))
        return false;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        if (i == h->proc_index)
            continue;
        heap__proc_t *p = &hdr->procs[i];
        if (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) != HEAP__PROC_RUNNING)
            continue;
        if (__atomic_load_n(&p->mark_busy, __ATOMIC_SEQ_CST) == 0 &&
            __atomic_load_n(&p->scanned_cycle, __ATOMIC_SEQ_CST) == cycle)
            continue;
        if (heap__pid_dead(p->pid, p->start_ticks, false))
            continue;   /* the stop will find it dead */
        return false;
    }
    return true;
}

static void mark_terminate(heap_t *h);

/* This process's grey queue is empty: end the mark if nothing is left
** anywhere (checked at most every TERM_CHECK_GAP_NS after a failure). */
static void mark_maybe_terminate(heap_t *h, uint64_t now)
{
    if (h->mark_len || now - h->term_check_ns < TERM_CHECK_GAP_NS)
        return;
    mark_counters_flush(h);
    if (!mark_done(h)) {
        h->term_check_ns = now;
        return;
    }
    mark_terminate(h);
}

/* A safepoint during a concurrent mark: the check for the end of the
** mark, and at a scheduling point (heap_schedpoint) the fractional
** background worker (25 % of this process's time since it joined, Go's
** gcBackgroundUtilization with one P per process). Go's fractional worker
** runs only when schedule() picks it (findRunnableGCWorker), never in the
** middle of a running goroutine: a kernel's own safepoints (Go's
** preemption checks) do not run it. It is picked when its time so far is
** at most its share; then it drains (gcDrain, gcDrainFractional) and asks
** whether to stop (pollFractionalWorkerExit: its time over 1.2 times its
** share) only every drainCheckThreshold bytes of scan work, or when the
** work runs out. So each turn does at least that much work if there is
** that much, and may take it past its share. */
static void mark_poll(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    if (__atomic_load_n(&hdr->gc_phase, __ATOMIC_RELAXED) != HEAP__GC_CONC_MARK ||
        h->mark_cycle != __atomic_load_n(&hdr->mark_cycle, __ATOMIC_RELAXED))
        return;
    uint64_t now = heap__now_ns(CLOCK_MONOTONIC);
    uint64_t elapsed = now - h->mark_join_ns;
    double frac = heap__pacer_fractional_goal(&hdr->pacer);
    if (frac <= 0)
        frac = HEAP__PACER_BG_UTILIZATION;
    uint64_t share = (uint64_t)((double)elapsed * frac);
    if (h->at_schedpoint && h->mark_bg_ns <= share && (h->mark_len || steal_pending(h))) {
        uint64_t t0 = now;
        for (;;) {
            uint64_t work = mark_work(h, DRAIN_CHECK_WORK, 0, MW_STEAL | MW_SHARE | MW_YIELD);
            heap__pacer_credit_add(&hdr->pacer, (int64_t)work);
            now = heap__now_ns(CLOCK_MONOTONIC);
            /* Less than asked: out of work, or a stop or an interrupt is
            ** asked (MW_YIELD). A step can also end past its budget with
            ** one of those asked (an oblet scanned whole): checked here
            ** too, as Go's gcDrain checks preemption every iteration. */
            if (work < DRAIN_CHECK_WORK ||
                __atomic_load_n(&hdr->stw, __ATOMIC_RELAXED) != 0 ||
                __atomic_load_n(&h->interrupt_pending, __ATOMIC_RELAXED) != 0)
                break;
            double self_ns = (double)(h->mark_bg_ns + (now - t0));
            if (self_ns > FRACTIONAL_SLACK * frac * (double)(now - h->mark_join_ns))
                break;
        }
        h->mark_bg_ns += now - t0;
        __atomic_add_fetch(&hdr->mark_bg_ns, now - t0, __ATOMIC_RELAXED);
    }
    mark_maybe_terminate(h, now);
}

void heap__mark_assist_charge(heap_t *h, uint64_t bytes)
{
    heap__hdr_t *hdr = h->hdr;
    if (__atomic_load_n(&hdr->gc_phase, __ATOMIC_RELAXED) != HEAP__GC_CONC_MARK ||
        h->mark_cycle != __atomic_load_n(&hdr->mark_cycle, __ATOMIC_RELAXED))
        return;
    assist_revise(h);
    h->assist_debt += (int64_t)((double)bytes * heap__pacer_assist_work_per_byte(&hdr->pacer));
    if (h->assist_debt <= 0)
        return;
    /* Go's gcAssistAlloc: an assist does at least gcOverAssistWork, the
    ** rest building credit for the allocations that follow. */
    int64_t want = h->assist_debt < HEAP__PACER_OVER_ASSIST_WORK ? HEAP__PACER_OVER_ASSIST_WORK
                                                                 : h->assist_debt;
    /* Steal background credit first (Go's bgScanCredit). */
    int64_t stolen = heap__pacer_credit_take(&hdr->pacer, want);
    h->assist_debt -= stolen;
    want -= stolen;
    if (want <= 0 || (h->mark_len == 0 && !steal_pending(h)))
        return;
    uint64_t t0 = heap__now_ns(CLOCK_MONOTONIC);
    heap__fault(h, HEAP__FP_ASSIST);
    uint64_t work = mark_work(h, (uint64_t)want, 0, MW_STEAL | MW_SHARE);
    h->assist_debt -= (int64_t)work;
    if (h->mark_len == 0 && h->assist_debt > 0)
        h->assist_debt = 0;   /* nothing grey here or to steal: forgiven */
    __atomic_add_fetch(&hdr->mark_assist_ns, heap__now_ns(CLOCK_MONOTONIC) - t0,
                       __ATOMIC_RELAXED);
}

/* Go's idle mark worker (heap.h, heap_mark_idle). */
static uint64_t mark_idle_here(heap_t *h, uint64_t until_ns)
{
    heap__hdr_t *hdr = h->hdr;
    if (!h->entered || !h->view.barrier_on ||
        __atomic_load_n(&hdr->gc_phase, __ATOMIC_RELAXED) != HEAP__GC_CONC_MARK ||
        h->mark_cycle != __atomic_load_n(&hdr->mark_cycle, __ATOMIC_RELAXED) ||
        __atomic_load_n(&hdr->stw, __ATOMIC_RELAXED) != 0)
        return 0;
    uint64_t t0 = heap__now_ns(CLOCK_MONOTONIC);
    if (t0 >= until_ns)
        return 0;
    heap__fault(h, HEAP__FP_MARK_IDLE);
    uint64_t work = mark_work(h, UINT64_MAX, until_ns, MW_STEAL | MW_SHARE | MW_YIELD);
    uint64_t t1 = heap__now_ns(CLOCK_MONOTONIC);
    __atomic_add_fetch(&hdr->mark_idle_ns, t1 - t0, __ATOMIC_RELAXED);
    heap__pacer_credit_add(&hdr->pacer, (int64_t)work);
    /* Out of work before the deadline: maybe the mark is done (Go's idle
    ** worker calls gcMarkDone too). */
    if (h->mark_len == 0 && t1 < until_ns)
        mark_maybe_terminate(h, t1);
    return work;
}

/* Shade: white -> grey (a no-op for nil, black and grey objects). */
static inline void shade(mark_ctx_t *m, heap_ref_t ref)
{
    if (ref)
        grey(m, ref);
}

void heap__write_barrier(heap_t *h, heap_ref_t old_ref, heap_ref_t new_ref)
{
#ifdef HEAPSIM_TEST_NO_BARRIER
    return;   /* heap_conc_test checks it fails without the barrier */
#endif
    if (h->mark_cycle != __atomic_load_n(&h->hdr->mark_cycle, __ATOMIC_RELAXED))
        return;
    mark_ctx_t m;
    ctx_init(h, &m, true);
    shade(&m, old_ref);
    heap__fault(h, HEAP__FP_BARRIER);
    shade(&m, new_ref);
    h->mark_live_bytes += m.live_bytes;
    h->mark_live_objects += m.live_objects;
    h->mark_greyed_total += m.live_objects;
}

/* Sweep termination and the start of a concurrent mark, world ours, no
** lock held. Restarts the world; this process then joins the mark. */
static void mark_start(heap_t *h, uint64_t t_request, uint64_t stop_ns)
{
    heap__hdr_t *hdr = h->hdr;
    heap__lock_world(h);
    if (hdr->gc_phase != HEAP__GC_IDLE) {
        heap__unlock_world(h);
        if (hdr->gc_phase == HEAP__GC_CONC_MARK) {
            heap__world_start(h);   /* another process started it already */
            if (h->entered)
                heap__mark_join(h);
            return;
        }
        run_cycle(h, HEAP__GC_BY_RECOVERY, t_request, stop_ns);
        return;
    }
    heap__sweep_finish_locked(h, true);   /* Go's finishsweep_m */
    assert(marks_clear(h));
    reclaim_dead(h);
    heap__pcache_drop_all_locked(h);   /* PAGE CACHE: if memory ran out */
    heap__pools_rotate_locked(h);
    uint32_t cycle = (uint32_t)heap__atomic_load(&hdr->num_gc) + 1;
    hdr->mark_deaths = __atomic_load_n(&hdr->proc_deaths, __ATOMIC_SEQ_CST);
    hdr->mark_overflow = 0;
    hdr->mark_start_ns = t_request;
    hdr->mark_start_unix_ns = heap__now_ns(CLOCK_REALTIME) -
                              (heap__now_ns(CLOCK_MONOTONIC) - t_request);
    hdr->mark_stop_ns = stop_ns;
    hdr->mark_heap_start_bytes = heap__atomic_load(&hdr->inuse_pages) << HEAP__PAGE_SHIFT;
    hdr->mark_live_at_start = heap__atomic_load(&hdr->heap_live_bytes);
    hdr->mark_trigger_bytes = concurrent_trigger(h);
    total_alloc(h, &hdr->mark_alloc_bytes0, &hdr->mark_alloc_objects0);
    hdr->mark_live_bytes = hdr->mark_live_objects = hdr->mark_scan_work = 0;
    hdr->mark_assist_ns = hdr->mark_bg_ns = hdr->mark_idle_ns = 0;
    hdr->mark_stack_scan_bytes = 0;
    hdr->mark_root_work = 0;
    uint32_t procs = 0, nslots = 0;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        __atomic_store_n(&hdr->procs[i].mark_busy, 0, __ATOMIC_RELAXED);
        if (__atomic_load_n(&hdr->procs[i].state, __ATOMIC_RELAXED) != HEAP__PROC_FREE) {
            procs++;
            nslots = i + 1;
        }
    }
    /* Empty already unless a collector died in a mark termination. */
    steal_reset_all(h);
    __atomic_store_n(&hdr->mark_procs, procs, __ATOMIC_RELAXED);
    __atomic_store_n(&hdr->mark_nslots, nslots, __ATOMIC_RELAXED);
    __atomic_store_n(&hdr->mark_steals, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&hdr->mark_cycle, cycle, __ATOMIC_RELEASE);
    if (procs == 0)
        procs = 1;
    /* start_cycle zeroes the background credit and revises, with the
    ** worst-case stack scan as the stopped processes reported it. */
    heap__pacer_start_cycle(&hdr->pacer, (int64_t)t_request, (int32_t)procs,
                            limit_goal_or_none(h), heap__atomic_load(&hdr->heap_live_bytes),
                            heap__atomic_load(&hdr->heap_scan_bytes),
                            heap__atomic_load(&hdr->pacer_max_stack_bytes), false);
    __atomic_store_n(&hdr->gc_phase, HEAP__GC_CONC_MARK, __ATOMIC_RELEASE);
    __atomic_or_fetch(&hdr->poll, HEAP__POLL_MARK, __ATOMIC_SEQ_CST);
    heap__fault(h, HEAP__FP_MARK_START);
    uint64_t pause = heap__now_ns(CLOCK_MONOTONIC) - t_request;
    hdr->mark_pause_ns = pause;
    heap__atomic_store(&hdr->gc_cpu_total_ns,
                       heap__atomic_load(&hdr->gc_cpu_total_ns) + pause * procs);
    heap__unlock_world(h);
    heap__world_start(h);
    if (h->entered)
        heap__mark_join(h);
}

/* End the concurrent mark: stop the world (every process scans what it
** has grey as it stops), finish, sweep, restart. If another process owns
** the world meanwhile, this one just stops for it. */
static void mark_terminate(heap_t *h)
{
    if (!world_try_own(h)) {
        yield_world(h);
        return;
    }
    uint64_t t_request, stop_ns;
    stop_owned(h, &t_request, &stop_ns);
    if (__atomic_load_n(&h->hdr->gc_phase, __ATOMIC_ACQUIRE) != HEAP__GC_CONC_MARK) {
        heap__world_start(h);   /* it ended already */
        if (h->entered)
            heap__mark_join(h);
        return;
    }
    run_cycle(h, HEAP__GC_BY_PACER, t_request, stop_ns);
    if (h->entered)
        heap__mark_join(h);
}

int heap__collect(heap_t *h, int why)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t t_request, stop_ns;
    bool concurrent = __atomic_load_n(&hdr->collector, __ATOMIC_RELAXED) ==
                      HEAP__COLLECTOR_CONCURRENT;
    if (why == HEAP__GC_BY_PACER) {
        if (!world_try_own(h)) {
            yield_world(h);
            return 0;
        }
        stop_owned(h, &t_request, &stop_ns);
        if (concurrent)
            mark_start(h, t_request, stop_ns);
        else
            run_cycle(h, why, t_request, stop_ns);
        return 0;
    }
    /* PAGE CACHE: whichever stop comes next takes every run back. */
    if (why == HEAP__GC_BY_OOM)
        __atomic_store_n(&hdr->pcache_drop, 1, __ATOMIC_RELEASE);
    /* Out of memory, or runtime.GC(): finish a concurrent mark in
    ** progress (its termination), then a whole cycle -- for the
    ** concurrent collector a concurrent one this process drives to its
    ** end, as runtime.GC() blocks its caller until the mark is done. */
    heap__world_stop(h, &t_request, &stop_ns);
    if (__atomic_load_n(&hdr->gc_phase, __ATOMIC_ACQUIRE) == HEAP__GC_CONC_MARK) {
        run_cycle(h, HEAP__GC_BY_PACER, t_request, stop_ns);
        heap__world_stop(h, &t_request, &stop_ns);
    }
    if (!concurrent || !h->entered) {
        run_cycle(h, why, t_request, stop_ns);
        return 0;
    }
    mark_start(h, t_request, stop_ns);
    uint64_t t0 = heap__now_ns(CLOCK_MONOTONIC);
    mark_work(h, UINT64_MAX, 0, MW_STEAL);
    __atomic_add_fetch(&hdr->mark_assist_ns, heap__now_ns(CLOCK_MONOTONIC) - t0,
                       __ATOMIC_RELAXED);
    mark_counters_flush(h);
    /* End it: stopping the others makes each scan what it has grey. */
    heap__world_stop(h, &t_request, &stop_ns);
    if (__atomic_load_n(&hdr->gc_phase, __ATOMIC_ACQUIRE) == HEAP__GC_CONC_MARK)
        run_cycle(h, why, t_request, stop_ns);
    else
        heap__world_start(h);   /* another process ended it */
    heap__mark_join(h);
    /* runtime.GC() also sweeps everything before it returns. */
    heap__lock(h);
    heap__sweep_finish_locked(h, false);
    heap__unlock(h);
    return 0;
}

static int collect_here(heap_t *h)
{
    return heap__collect(h, HEAP__GC_BY_USER);
}

void heap__set_mark_stack_limit(heap_t *h, size_t entries)
{
    h->mark_limit = entries ? entries : MARK_STACK_LIMIT_DEFAULT;
    if (h->mark_cap > h->mark_limit) {
        free(h->mark_stack);
        h->mark_stack = NULL;
        h->mark_cap = 0;
    }
}

/* ---- The write barrier (heap.h) -------------------------------------- */

void heap_copy_refs(heap_t *h, heap_ref_t dst, uint32_t dst_i, heap_ref_t src, uint32_t src_i,
                    uint32_t n)
{
    heap_ref_t *d = (heap_ref_t *)heap_ptr(h, dst) + dst_i;
    const heap_ref_t *s = (const heap_ref_t *)heap_ptr(h, src) + src_i;
    if (h->view.barrier_on) {
        for (uint32_t k = 0; k < n; k++)
            heap__write_barrier(h, d[k], s[k]);
    }
    memmove(d, s, (size_t)n * sizeof *d);
}

/* ---- Test hooks (heap_int.h) ----------------------------------------- */

int heap__mark_begin(heap_t *h)
{
    if (!h->entered || __atomic_load_n(&h->hdr->collector, __ATOMIC_RELAXED) !=
                           HEAP__COLLECTOR_CONCURRENT)
        return -EINVAL;
    uint64_t t_request, stop_ns;
    heap__world_stop(h, &t_request, &stop_ns);
    mark_start(h, t_request, stop_ns);
    return __atomic_load_n(&h->hdr->gc_phase, __ATOMIC_ACQUIRE) == HEAP__GC_CONC_MARK ? 0
                                                                                      : -EAGAIN;
}

uint64_t heap__mark_step(heap_t *h, uint64_t work)
{
    if (!h->view.barrier_on)
        return 0;
    return mark_work(h, work, 0, MW_STEAL | MW_SHARE);
}

void heap__set_help_test(heap_t *h, uint32_t helpers)
{
    h->help_test_helpers = helpers;
}

uint64_t heap__help_wakes_missed(heap_t *h)
{
    return h->help_wakes_missed;
}

void heap__mark_counts(heap_t *h, uint64_t *greyed, uint64_t *stolen)
{
    *greyed = h->mark_greyed_total;
    *stolen = h->mark_stolen_total;
}

bool heap__mark_running(heap_t *h)
{
    return __atomic_load_n(&h->hdr->gc_phase, __ATOMIC_ACQUIRE) == HEAP__GC_CONC_MARK;
}

void heap__mark_end(heap_t *h)
{
    if (!heap__mark_running(h))
        return;
    mark_counters_flush(h);
    mark_terminate(h);
}

/* ---- The slow paths on the system stack (heap_set_stack_runner) ------- */

void heap_set_stack_runner(heap_t *h, heap_stack_runner_fn run, void *ctx)
{
    h->stack_run = run;
    h->stack_ctx = ctx;
}

static void park_thunk(void *h) { park_here(h); }

typedef struct idle_call {
    heap_t *h;
    uint64_t until_ns;
    uint64_t work;
} idle_call_t;

static void idle_thunk(void *p)
{
    idle_call_t *c = p;
    c->work = mark_idle_here(c->h, c->until_ns);
}

uint64_t heap_mark_idle(heap_t *h, uint64_t until_ns)
{
    /* The common case, no mark running, costs two loads here. */
    if (!h->view.barrier_on)
        return 0;
    idle_call_t c = {h, until_ns, 0};
    heap__systemstack(h, idle_thunk, &c);
    return c.work;
}
static void enter_thunk(void *h) { enter_here(h); }
static void leave_thunk(void *h) { leave_here(h); }

typedef struct collect_call {
    heap_t *h;
    int rc;
} collect_call_t;

static void collect_thunk(void *p)
{
    collect_call_t *c = p;
    c->rc = collect_here(c->h);
}

void heap_schedpoint(heap_t *h)
{
    h->at_schedpoint = true;
    heap_safepoint(h);
    h->at_schedpoint = false;
}

void heap__park(heap_t *h)
{
    /* Most polls while a mark or a sweep runs have nothing to do: count
    ** them here, on the caller's stack, before switching stacks. */
    uint32_t owner = __atomic_load_n(&h->hdr->stw, __ATOMIC_SEQ_CST);
    if (owner == 0 || owner == (uint32_t)h->pid || !h->entered) {
        if (!h->entered || owner != 0)
            return;
        /* A scheduling point with grey work here: the background worker
        ** may be owed its share (mark_poll); every one is checked, since
        ** a goroutine that runs alone may switch only when preempted.
        ** With nothing grey here, work in other processes' steal queues
        ** is looked for only every MARK_POLL_EVERY polls (reading every
        ** process's queue at each switch would cost the switch). */
        bool bg_due = h->at_schedpoint && h->mark_len && h->view.barrier_on;
        if (!bg_due && ++h->mark_polls % MARK_POLL_EVERY != 0)
            return;
    }
    if (heap__off_system_stack(h))
        heap__systemstack(h, park_thunk, h);
    else
        park_here(h);
}

void heap_enter(heap_t *h)
{
    if (heap__off_system_stack(h))
        heap__systemstack(h, enter_thunk, h);
    else
        enter_here(h);
}

void heap_leave(heap_t *h)
{
    if (heap__off_system_stack(h))
        heap__systemstack(h, leave_thunk, h);
    else
        leave_here(h);
}

int heap_collect(heap_t *h)
{
    collect_call_t c = {h, 0};
    heap__systemstack(h, collect_thunk, &c);
    return c.rc;
}
