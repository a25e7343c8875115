/*
** kernels/gcbench.c -- GCBench by John Ellis and Pete Kovac, as modified by
** Hans Boehm: a stretch tree, a long-lived tree and array, and for each
** depth many short-lived trees built top-down (populate an empty node) and
** bottom-up (make children first). A node has two reference slots and two
** integers. The self-check of the original: the long-lived tree and array
** survive intact to the end.
*/
#include "kernels/kernels.h"

#include <stdio.h>

#define MIN_TREE_DEPTH 4

typedef struct node_data {
    int64_t i, j;
} node_data_t;

static int64_t tree_size(int depth)
{
    return ((int64_t)1 << (depth + 1)) - 1;
}

static heap_ref_t new_node(rt_t *rt)
{
    return rt_alloc_at(rt, 2, sizeof(node_data_t), "gcbench.new_node");
}

/* Give `node` (rooted by the caller) children down to depth. */
static void populate(rt_t *rt, heap_t *h, int depth, heap_ref_t node)
{
    if (depth <= 0)
        return;
    depth--;
    heap_ref_t *frame = rt_push(rt, 1);
    frame[0] = node;
    heap_ref_t left = new_node(rt);
    heap_write_ref(h, frame[0], 0, left);
    heap_ref_t right = new_node(rt);
    heap_write_ref(h, frame[0], 1, right);
    populate(rt, h, depth, heap_read_ref(h, frame[0], 0));
    populate(rt, h, depth, heap_read_ref(h, frame[0], 1));
    rt_pop(rt, 1);
}

static heap_ref_t make_tree(rt_t *rt, heap_t *h, int depth)
{
    if (depth <= 0)
        return new_node(rt);
    heap_ref_t *frame = rt_push(rt, 2);
    frame[0] = make_tree(rt, h, depth - 1);
    frame[1] = make_tree(rt, h, depth - 1);
    heap_ref_t node = new_node(rt);
    heap_write_ref(h, node, 0, frame[0]);
    heap_write_ref(h, node, 1, frame[1]);
    rt_pop(rt, 2);
    return node;
}

static int64_t count_nodes(heap_t *h, heap_ref_t node)
{
    if (!node)
        return 0;
    return 1 + count_nodes(h, heap_read_ref(h, node, 0)) +
           count_nodes(h, heap_read_ref(h, node, 1));
}

void kernel_gcbench(rt_t *rt, const kparams_t *p)
{
    heap_t *h = rt_heap(rt);
    int max_depth = (int)kparams_int(p, "max_depth");
    int long_lived_depth = (int)kparams_int(p, "long_lived_depth");
    int64_t array_size = kparams_int(p, "array_size");
    int stretch_depth = max_depth + 2;
    /* frame: 0 temp tree, 1 long-lived tree, 2 long-lived array */
    heap_ref_t *frame = rt_push(rt, 3);

    rt_printf(rt, "Garbage Collector Test\n");
    rt_printf(rt, " Stretching memory with a binary tree of depth %d\n", stretch_depth);
    uint64_t t0 = rt_now_ns();
    frame[0] = make_tree(rt, h, stretch_depth);
    frame[0] = 0;

    rt_printf(rt, " Creating a long-lived binary tree of depth %d\n", long_lived_depth);
    frame[1] = new_node(rt);
    populate(rt, h, long_lived_depth, frame[1]);

    rt_printf(rt, " Creating a long-lived array of %lld doubles\n", (long long)array_size);
    frame[2] = rt_alloc_at(rt, 0, (size_t)array_size * sizeof(double), "gcbench.array");
    double *array = heap_data(h, frame[2], 0);
    for (int64_t i = 1; i < array_size / 2; i++)
        array[i] = 1.0 / (double)i;

    for (int d = MIN_TREE_DEPTH; d <= max_depth; d += 2) {
        int64_t iters = 2 * tree_size(stretch_depth) / tree_size(d);
        rt_printf(rt, "Creating %lld trees of depth %d\n", (long long)iters, d);
        uint64_t t = rt_now_ns();
        for (int64_t i = 0; i < iters; i++) {
            frame[0] = new_node(rt);
            populate(rt, h, d, frame[0]);
            frame[0] = 0;
        }
        char name[64];
        snprintf(name, sizeof name, "top_down_ns_depth_%d", d);
        rt_metric(rt, name, (double)(rt_now_ns() - t), "ns");
        rt_printf(rt, "\tTop down construction done\n");
        t = rt_now_ns();
        for (int64_t i = 0; i < iters; i++) {
            frame[0] = make_tree(rt, h, d);
            frame[0] = 0;
        }
        snprintf(name, sizeof name, "bottom_up_ns_depth_%d", d);
        rt_metric(rt, name, (double)(rt_now_ns() - t), "ns");
        rt_printf(rt, "\tBottom up construction done\n");
    }

    /* The self-check: the long-lived data survived every collection. */
    int64_t nodes = count_nodes(h, frame[1]);
    if (nodes != tree_size(long_lived_depth))
        rt_fail(rt, "gcbench self-check failed: long-lived tree has %lld nodes, expected %lld",
                (long long)nodes, (long long)tree_size(long_lived_depth));
    if (array_size > 1000 && array[1000] != 1.0 / 1000)
        rt_fail(rt, "gcbench self-check failed: long-lived array[1000] = %g", array[1000]);
    rt_printf(rt, "Self-check passed: long-lived tree of %lld nodes and array intact\n",
              (long long)nodes);
    rt_metric(rt, "total_ns", (double)(rt_now_ns() - t0), "ns");
    rt_pop(rt, 3);
}
