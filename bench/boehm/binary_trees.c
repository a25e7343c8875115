/*
** bench/boehm/binary_trees.c -- binary-trees on the Boehm-Demers-Weiser
** conservative collector (libgc), the second anchor of bench/binary_trees.sh.
** Same rules and output as kernels/binary_trees.c; single-threaded, like
** one heapsim worker. Prints its collections and their pauses to stderr
** (pauses.h).
*/
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>

#include "pauses.h"

typedef struct node {
    struct node *left, *right;
} node_t;

static node_t *bottom_up(int depth)
{
    node_t *n = GC_MALLOC(sizeof *n);
    if (!n) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    if (depth > 0) {
        n->left = bottom_up(depth - 1);
        n->right = bottom_up(depth - 1);
    }
    return n;
}

static long check(const node_t *n)
{
    return n->left ? 1 + check(n->left) + check(n->right) : 1;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10;
    int min_depth = 4;
    int max_depth = n > min_depth + 2 ? n : min_depth + 2;

    GC_INIT();
    pauses_install();
    printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1,
           check(bottom_up(max_depth + 1)));
    node_t *long_lived = bottom_up(max_depth);
    for (int d = min_depth; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + min_depth), sum = 0;
        for (long i = 0; i < iterations; i++)
            sum += check(bottom_up(d));
        printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, sum);
    }
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, check(long_lived));
    pauses_report();
    return 0;
}
