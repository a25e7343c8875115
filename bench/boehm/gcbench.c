/*
** bench/boehm/gcbench.c -- GCBench (Ellis, Kovac, Boehm) on the
** Boehm-Demers-Weiser collector (libgc), an anchor of bench/gcbench.sh.
** Same parameters, phases and output as kernels/gcbench.c:
**
**     gcbench [MAX_DEPTH [LONG_LIVED_DEPTH [ARRAY_SIZE]]]   (16 16 500000)
**
** A node is two pointers and two integers (GC_MALLOC, scanned
** conservatively); the array holds no pointers (GC_MALLOC_ATOMIC), as in
** Boehm's own version. Single-threaded, like one heapsim worker. Prints its
** collections and their pauses to stderr (pauses.h).
*/
#include <gc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pauses.h"

#define MIN_TREE_DEPTH 4

typedef struct node {
    struct node *left, *right;
    int64_t i, j;
} node_t;

static int64_t tree_size(int depth)
{
    return ((int64_t)1 << (depth + 1)) - 1;
}

static node_t *new_node(void)
{
    node_t *n = GC_MALLOC(sizeof *n);
    if (!n) {
        fprintf(stderr, "gcbench: out of memory\n");
        exit(1);
    }
    return n;
}

/* Give `node` children down to depth (top-down construction). */
static void populate(int depth, node_t *node)
{
    if (depth <= 0)
        return;
    depth--;
    node->left = new_node();
    node->right = new_node();
    populate(depth, node->left);
    populate(depth, node->right);
}

/* A tree of depth built bottom-up. */
static node_t *make_tree(int depth)
{
    if (depth <= 0)
        return new_node();
    node_t *left = make_tree(depth - 1);
    node_t *right = make_tree(depth - 1);
    node_t *n = new_node();
    n->left = left;
    n->right = right;
    return n;
}

static int64_t count_nodes(const node_t *n)
{
    return n ? 1 + count_nodes(n->left) + count_nodes(n->right) : 0;
}

/* The current short-lived tree, a root as the kernel's frame slot is, so
** the compiler cannot drop the construction. */
static node_t *volatile temp_tree;

int main(int argc, char **argv)
{
    long args[3] = {16, 16, 500000};
    for (int k = 1; k < argc && k <= 3; k++) {
        char *end;
        args[k - 1] = strtol(argv[k], &end, 10);
        if (*argv[k] == '\0' || *end != '\0' || args[k - 1] < 0) {
            fprintf(stderr, "gcbench: usage: gcbench [MAX_DEPTH [LONG_LIVED_DEPTH [ARRAY_SIZE]]]\n");
            return 2;
        }
    }
    int max_depth = (int)args[0], long_lived_depth = (int)args[1];
    long array_size = args[2];
    int stretch_depth = max_depth + 2;

    GC_INIT();
    pauses_install();
    printf("Garbage Collector Test\n");
    printf(" Stretching memory with a binary tree of depth %d\n", stretch_depth);
    temp_tree = make_tree(stretch_depth);
    temp_tree = NULL;

    printf(" Creating a long-lived binary tree of depth %d\n", long_lived_depth);
    node_t *long_lived = new_node();
    populate(long_lived_depth, long_lived);

    printf(" Creating a long-lived array of %ld doubles\n", array_size);
    double *array = GC_MALLOC_ATOMIC((size_t)array_size * sizeof(double));
    if (!array && array_size > 0) {
        fprintf(stderr, "gcbench: out of memory\n");
        return 1;
    }
    for (long i = 0; i < array_size; i++)   /* atomic memory is not cleared */
        array[i] = 0;
    for (long i = 1; i < array_size / 2; i++)
        array[i] = 1.0 / (double)i;

    for (int d = MIN_TREE_DEPTH; d <= max_depth; d += 2) {
        int64_t iters = 2 * tree_size(stretch_depth) / tree_size(d);
        printf("Creating %lld trees of depth %d\n", (long long)iters, d);
        for (int64_t i = 0; i < iters; i++) {
            temp_tree = new_node();
            populate(d, temp_tree);
            temp_tree = NULL;
        }
        printf("\tTop down construction done\n");
        for (int64_t i = 0; i < iters; i++) {
            temp_tree = make_tree(d);
            temp_tree = NULL;
        }
        printf("\tBottom up construction done\n");
    }

    /* The self-check: the long-lived data survived every collection. */
    int64_t nodes = count_nodes(long_lived);
    if (nodes != tree_size(long_lived_depth)) {
        fprintf(stderr, "gcbench self-check failed: long-lived tree has %lld nodes, expected %lld\n",
                (long long)nodes, (long long)tree_size(long_lived_depth));
        return 1;
    }
    if (array_size > 1000 && array[1000] != 1.0 / 1000) {
        fprintf(stderr, "gcbench self-check failed: long-lived array[1000] = %g\n", array[1000]);
        return 1;
    }
    printf("Self-check passed: long-lived tree of %lld nodes and array intact\n",
           (long long)nodes);
    pauses_report();
    return 0;
}
