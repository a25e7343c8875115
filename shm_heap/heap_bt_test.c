/*
** shm_heap/heap_bt_test.c -- binary trees (the Benchmarks Game program,
** single thread) on the shared heap: the allocation fast path and the
** collector under a classic short-lived-garbage load. Checks node counts,
** heap_verify, and prints the time (no timed assertion). HEAP_BT_DEPTH
** changes the depth (default 16; the benchmark uses 18 or 21).
*/
#include "shm_heap/heap.h"
#include "shm_heap/heap_testutil.h"

#include <stdio.h>
#include <stdlib.h>

/* A node is two slots: left and right. Every ref held across an
** allocation sits in a root slot. */
static heap_ref_t bottom_up(heap_t *h, heap_roots_t *roots, int depth)
{
    heap_ref_t *slot = heap_roots_push(roots, 1);
    REQUIRE(slot);
    slot[0] = heap_alloc(h, 2, 0);
    REQUIRE(slot[0]);
    if (depth > 0) {
        heap_ref_t left = bottom_up(h, roots, depth - 1);
        heap_write_ref(h, slot[0], 0, left);
        heap_ref_t right = bottom_up(h, roots, depth - 1);
        heap_write_ref(h, slot[0], 1, right);
    }
    heap_ref_t node = slot[0];
    heap_roots_pop(roots, 1);
    return node;
}

static uint64_t check(heap_t *h, heap_ref_t node)
{
    heap_ref_t left = heap_read_ref(h, node, 0);
    if (!left)
        return 1;
    return 1 + check(h, left) + check(h, heap_read_ref(h, node, 1));
}

int main(void)
{
    tu_init("heap_bt_test", 240);
    const char *env = getenv("HEAP_BT_DEPTH");
    int max_depth = env ? atoi(env) : 16;
    int min_depth = 4;
    if (max_depth < min_depth + 2)
        max_depth = min_depth + 2;

    char name[128];
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.heap_max_bytes = (uint64_t)1 << 30;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, "bt"), &cfg, true, &h), 0, heap_strerror);
    heap_enter(h);
    heap_roots_t *roots = heap_roots_new(h, 256);
    REQUIRE(roots);
    uint64_t t0 = tu_now_ns();

    heap_ref_t stretch = bottom_up(h, roots, max_depth + 1);
    uint64_t n = check(h, stretch);
    printf("stretch tree of depth %d\t check: %llu\n", max_depth + 1, (unsigned long long)n);
    REQUIRE(n == (2ull << (max_depth + 1)) - 1);

    heap_ref_t *long_lived = heap_roots_push(roots, 1);
    long_lived[0] = bottom_up(h, roots, max_depth);

    for (int d = min_depth; d <= max_depth; d += 2) {
        uint64_t iterations = 1ull << (max_depth - d + min_depth);
        uint64_t sum = 0;
        for (uint64_t i = 0; i < iterations; i++)
            sum += check(h, bottom_up(h, roots, d));
        printf("%llu\t trees of depth %d\t check: %llu\n", (unsigned long long)iterations, d,
               (unsigned long long)sum);
        REQUIRE(sum == iterations * ((2ull << d) - 1));
    }
    n = check(h, long_lived[0]);
    printf("long lived tree of depth %d\t check: %llu\n", max_depth, (unsigned long long)n);
    REQUIRE(n == (2ull << max_depth) - 1);
    uint64_t t1 = tu_now_ns();

    heap_stats_t st;
    heap_stats_read(h, &st);
    printf("depth %d: %.3f s, %llu objects, %llu collections, pause total %.1f ms max %.2f ms\n",
           max_depth, (double)(t1 - t0) / 1e9, (unsigned long long)st.total_alloc_objects,
           (unsigned long long)st.num_gc, (double)st.pause_total_ns / 1e6,
           (double)st.pause_max_ns / 1e6);
    REQUIRE(st.num_gc > 0);
    REQUIRE_HEAP_VERIFY(h);
    heap_roots_pop(roots, 1);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    /* runtime.GC() first ends a cycle in progress: its own is the newest. */
    heap_stats_read(h, &st);
    heap_gc_cycle_t c;
    REQUIRE(heap_gc_history(h, (uint32_t)st.num_gc - 1, &c, 1) == 1 && c.fields.objects_live == 0);
    heap_roots_destroy(h, &roots);
    heap_close(&h, true);
    tu_finish();
    return 0;
}
