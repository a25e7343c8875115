/*
** shm_heap/heap_stackscan_test.c -- the stack figures the collector gives
** Go 1.19's pacer, as Go's runtime counts them:
**
** 1. A stack's scan work is its used part (Go's scanstack: stack.hi - sp,
**    every word of the frames), as the runtime reports it at the
**    process's root scan (heap_set_stack_scan), not the root stacks'
**    slots (8 B a pointer word): it is work done when scanned, and the
**    next goal's stack term (lastStackScan).
** 2. Pool slots are heap scan work (Go's sync.Pool keeps its objects in
**    heap objects), not stack scan work.
** 3. The memory limit's goal counts the stack memory allocated (Go's
**    mappedReady holds the stack spans: maxStackScan's figure), not the
**    part the last cycle scanned.
** 4. revise() sees the stack space in use now (Go's maxStackScan moves
**    with every stack that grows: addScannableStack), not as of the
**    cycle's start.
*/
#include "shm_heap/heap_int.h"
#include "shm_heap/heap_testutil.h"

#include <stdio.h>

#define MiB (1024u * 1024u)
#define ROOT_SLOTS 3u
#define POOL_OBJECTS 50u
#define STACK_DEPTH_BYTES 5000u   /* what the test's runtime reports */

typedef struct scan_probe {
    uint64_t calls;
    uint64_t cycle;
} scan_probe_t;

static uint64_t probe_scan(void *arg, uint64_t cycle)
{
    scan_probe_t *p = arg;
    p->calls++;
    p->cycle = cycle;
    return STACK_DEPTH_BYTES;
}

static heap_t *open_heap(const char *tag, uint64_t limit)
{
    char name[128];
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.heap_max_bytes = 256u * MiB;
    cfg.gogc = 100;
    cfg.memory_limit_bytes = limit;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, tag), &cfg, true, &h), 0, heap_strerror);
    return h;
}

/* 1 and 2: one concurrent cycle with a root stack of ROOT_SLOTS slots, a
** pool of POOL_OBJECTS and, with `hook`, a runtime that reports its
** stacks STACK_DEPTH_BYTES deep. */
static void test_stack_scan_work(bool hook)
{
    heap_t *h = open_heap(hook ? "scan-hook" : "scan-slots", 0);
    heap__hdr_t *hdr = h->hdr;
    scan_probe_t probe = {0};
    if (hook)
        heap_set_stack_scan(h, probe_scan, &probe);
    heap_enter(h);
    heap_roots_t *rs = heap_roots_new(h, 8);
    REQUIRE(rs != NULL);
    heap_ref_t *frame = heap_roots_push(rs, ROOT_SLOTS);
    REQUIRE(frame != NULL);
    for (uint32_t i = 0; i < ROOT_SLOTS; i++)
        REQUIRE((frame[i] = heap_alloc(h, 0, 64)) != 0);
    heap_pool_t *pool = heap_pool_new(h, 64);
    REQUIRE(pool != NULL);
    for (uint32_t i = 0; i < POOL_OBJECTS; i++)
        REQUIRE(heap_pool_put(pool, heap_alloc(h, 0, 64)));

    uint64_t cycle = heap_num_gc(h) + 1;
    REQUIRE_RC(heap__mark_begin(h), 0, heap_strerror);
    REQUIRE(heap__mark_running(h));
    uint64_t stack = heap__atomic_load(&hdr->mark_stack_scan_bytes);
    uint64_t want = hook ? STACK_DEPTH_BYTES : ROOT_SLOTS * sizeof(heap_ref_t);
    fprintf(stderr, "heap_stackscan_test: %s: stack scan work %llu B (root slots %u, pool %u)\n",
            hook ? "runtime's depths" : "no runtime", (unsigned long long)stack, ROOT_SLOTS,
            POOL_OBJECTS);
    CHECK_MSG(stack == want, "stack scan work %llu B at the root scan, want %llu B",
              (unsigned long long)stack, (unsigned long long)want);
    if (hook) {
        CHECK_MSG(probe.calls == 1 && probe.cycle == cycle,
                  "the stack scan ran %llu times, last for cycle %llu (want once, cycle %llu)",
                  (unsigned long long)probe.calls, (unsigned long long)probe.cycle,
                  (unsigned long long)cycle);
        /* Work done, paid to this process at once (its first assists). */
        CHECK_MSG(h->assist_debt <= -(int64_t)STACK_DEPTH_BYTES, "assist debt %lld",
                  (long long)h->assist_debt);
        CHECK(heap__atomic_load(&hdr->mark_scan_work) >= STACK_DEPTH_BYTES);
    }
    while (heap__mark_step(h, 1u << 20) > 0)
        ;
    heap__mark_end(h);
    REQUIRE(!heap__mark_running(h));
    CHECK_MSG(heap__atomic_load(&hdr->pacer.last_stack_scan_bytes) == want,
              "the next goal's stack term is %llu B, want %llu B",
              (unsigned long long)heap__atomic_load(&hdr->pacer.last_stack_scan_bytes),
              (unsigned long long)want);
    /* 2. The pool's slots are in the heap's scan work. */
    CHECK_MSG(heap__atomic_load(&hdr->pacer.last_heap_scan_bytes) >=
                  POOL_OBJECTS * sizeof(heap_ref_t),
              "heap scan work %llu B without the pool's %u slots",
              (unsigned long long)heap__atomic_load(&hdr->pacer.last_heap_scan_bytes),
              POOL_OBJECTS);
    if (hook)
        CHECK(probe.calls == 1);

    while (heap__sweep_some(h, 1u << 30))
        ;
    REQUIRE_HEAP_VERIFY(h);
    heap_pool_destroy(h, &pool);
    heap_roots_destroy(h, &rs);
    heap_leave(h);
    heap_close(&h, true);
}

/* 3. The memory limit's goal moves with the stack space in use, at once,
** and not with the stack scanned. */
static void test_limit_counts_stack_memory(void)
{
    heap_t *h = open_heap("limit", 64u * MiB);
    heap_enter(h);
    REQUIRE(heap_alloc(h, 0, 4096) != 0);
    heap_set_stack_bytes(h, 0, 0);
    uint64_t g0 = heap__limit_goal_bytes(h);
    heap_set_stack_bytes(h, 0, 8u * MiB);
    uint64_t g1 = heap__limit_goal_bytes(h);
    heap_set_stack_bytes(h, 8u * MiB, 0);
    uint64_t g2 = heap__limit_goal_bytes(h);
    fprintf(stderr, "heap_stackscan_test: limit goal %llu B, %llu B with 8 MiB of stacks, "
            "%llu B with 8 MiB of stack scanned\n", (unsigned long long)g0,
            (unsigned long long)g1, (unsigned long long)g2);
    REQUIRE(g0 > 16u * MiB && g0 < 64u * MiB);
    CHECK_MSG(g0 - g1 == 8u * MiB, "8 MiB of stacks moved the limit goal by %lld B",
              (long long)(g0 - g1));
    CHECK_MSG(g2 == g0, "stack scanned, not allocated, moved the limit goal by %lld B",
              (long long)(g0 - g2));
    heap_leave(h);
    heap_close(&h, true);
}

/* 4. A stack that grows during the mark is in revise()'s worst case at
** once. */
static void test_revise_sees_stacks_now(void)
{
    heap_t *h = open_heap("revise", 0);
    heap__hdr_t *hdr = h->hdr;
    heap_enter(h);
    heap_set_stack_bytes(h, 0, 2048);
    heap_roots_t *rs = heap_roots_new(h, 1);
    REQUIRE(rs != NULL);
    heap_ref_t *root = heap_roots_push(rs, 1);
    REQUIRE(root != NULL);
    REQUIRE((*root = heap_alloc(h, 2000, 0)) != 0);
    for (uint32_t i = 0; i < 2000; i++)
        heap_write_ref(h, *root, i, heap_alloc(h, 1, 120));
    REQUIRE_RC(heap__mark_begin(h), 0, heap_strerror);
    REQUIRE(heap__mark_running(h));
    REQUIRE(heap__mark_step(h, 4096) > 0);
    /* The cycle's work beyond what was expected (a heap that grew), so
    ** that revise() reaches for its worst case, which holds the stacks. */
    heap__pacer_st(&hdr->pacer.last_heap_scan_bytes, 1);
    heap__pacer_st(&hdr->pacer.last_stack_scan_bytes, 0);

    const uint64_t grown = 64u * MiB;
    heap_set_stack_bytes(h, 0, grown);   /* a goroutine went deep */
    CHECK_MSG(heap__atomic_load(&hdr->pacer_max_stack_bytes) == grown,
              "the pacer's stack space in use is %llu B after a report of %llu B",
              (unsigned long long)heap__atomic_load(&hdr->pacer_max_stack_bytes),
              (unsigned long long)grown);
    heap__mark_assist_charge(h, 0);      /* an allocation's revise() */
    double got = heap__pacer_assist_work_per_byte(&hdr->pacer);

    /* The pure pacer with the same inputs, with the stacks as they are
    ** now and as they were when the mark began. */
    heap__pacer_t now = hdr->pacer, then = hdr->pacer;
    uint64_t live = heap__atomic_load(&hdr->heap_live_bytes);
    uint64_t scan = heap__atomic_load(&hdr->heap_scan_bytes);
    int64_t work = (int64_t)heap__atomic_load(&hdr->mark_scan_work);
    heap__pacer_revise(&now, live, scan, grown, work, HEAP__PACER_NONE);
    heap__pacer_revise(&then, live, scan, 2048, work, HEAP__PACER_NONE);
    double want = heap__pacer_assist_work_per_byte(&now);
    double stale = heap__pacer_assist_work_per_byte(&then);
    fprintf(stderr, "heap_stackscan_test: assist ratio %.4f (stacks now %.4f, at the start %.4f)\n",
            got, want, stale);
    REQUIRE_MSG(want != stale, "the test's premise: the stacks move the ratio");
    CHECK_MSG(got == want, "assist ratio %.6f, with the stacks now %.6f, at the start %.6f", got,
              want, stale);

    while (heap__mark_step(h, 1u << 20) > 0)
        ;
    heap__mark_end(h);
    while (heap__sweep_some(h, 1u << 30))
        ;
    REQUIRE_HEAP_VERIFY(h);
    heap_roots_destroy(h, &rs);
    heap_leave(h);
    heap_close(&h, true);
}

int main(void)
{
    tu_init("heap_stackscan_test", 120);
    test_stack_scan_work(false);
    test_stack_scan_work(true);
    test_limit_counts_stack_memory();
    test_revise_sees_stacks_now();
    tu_finish();
    return 0;
}
