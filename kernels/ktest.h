/*
** kernels/ktest.h -- what the kernel tests share (test-only): run one
** kernel as a task on a real shared heap (a fresh segment, unlinked at
** once) and a real scheduler, and read what it produced. The checks are
** base/testrun.h's.
*/
#ifndef HEAPSIM_KERNELS_KTEST_H
#define HEAPSIM_KERNELS_KTEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/testrun.h"
#include "kernels/kernels.h"

#define KTEST_MAX_METRICS 64

typedef struct ktest_outcome {
    int rc;                     /* sched_run's */
    char *output;               /* the kernel's text, malloc'd */
    char failure[512];          /* sched_failure() when rc != 0 */
    uint64_t num_gc;            /* collections on the task's heap */
    rt_metric_t metrics[KTEST_MAX_METRICS];
    size_t nmetrics;
} ktest_outcome_t;

/* Run kernel `name` with "k=v" settings on a fresh heap of heap_max bytes
** and a scheduler with stack_reserve bytes per goroutine (0: default);
** heap_verify must pass afterwards. A bad name or setting counts a failure. */
ktest_outcome_t ktest_run(const char *name, const char *const *sets, size_t nsets,
                          uint64_t heap_max, size_t stack_reserve);

/* The value of metric `name`, NAN when the kernel did not report it. */
double ktest_metric(const ktest_outcome_t *o, const char *name);

void ktest_print(const char *what, const ktest_outcome_t *o);

/* RUN("kernel", heap_max, "k=v", ...) */
#define RUN(name, heap_max, ...)                                            \
    ktest_run((name), (const char *const[]){__VA_ARGS__},                   \
              sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *),  \
              (heap_max), 0)

/* The test's exit status: 0, or 1 with the count of failed checks. */
int ktest_finish(const char *test);

#endif
