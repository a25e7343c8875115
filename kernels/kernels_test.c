/*
** kernels/kernels_test.c -- every kernel runs on the real scheduler over a
** real shared heap: binary_trees matches the reference output, gcbench
** passes its self-check, churn, spawn and pingpong finish (with their
** metrics), an allocation beyond the heap fails the task with "out of
** memory", and every catalog kernel has an implementation.
*/
#include "kernels/ktest.h"

#include <math.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_catalog_has_implementations(void)
{
    size_t n;
    const kernel_spec_t *ks = catalog_kernels(&n);
    for (size_t i = 0; i < n; i++) {
        CHECK_MSG(kernels_find(ks[i].name) != NULL, "kernel %s has no implementation",
                  ks[i].name);
    }
}

static void test_binary_trees_reference(void)
{
    const char *sets[] = {"depth=10"};
    ktest_outcome_t o = ktest_run("binary_trees", sets, 1, 256u << 20, 0);
    char *ref = read_file("kernels/testdata/binary_trees_10.out");
    CHECK(ref != NULL);
    CHECK(o.rc == 0);
    CHECK(o.output && ref && strcmp(o.output, ref) == 0);
    if (o.output && ref && strcmp(o.output, ref) != 0)
        fprintf(stderr, "got:\n%s\nwant:\n%s\n", o.output, ref);
    free(ref);
    free(o.output);
}

static void test_binary_trees_collects(void)
{
    /* Depth 16 allocates far more than the 4 MiB minimum goal. */
    const char *sets[] = {"depth=16"};
    ktest_outcome_t o = ktest_run("binary_trees", sets, 1, 512u << 20, 0);
    CHECK(o.rc == 0);
    CHECK(o.num_gc > 0);
    CHECK(o.output && strstr(o.output, "long lived tree of depth 16\t check: 131071\n"));
    free(o.output);
}

static void test_gcbench(void)
{
    const char *sets[] = {"max_depth=10", "long_lived_depth=12", "array_size=100000"};
    ktest_outcome_t o = ktest_run("gcbench", sets, 3, 256u << 20, 0);
    CHECK(o.rc == 0);
    CHECK(o.output && strstr(o.output, "Self-check passed"));
    free(o.output);
}

static void test_churn_and_spawn(void)
{
    const char *c[] = {"objects=200000", "live_objects=5000", "goroutines=3"};
    ktest_outcome_t o = ktest_run("churn", c, 3, 256u << 20, 0);
    CHECK(o.rc == 0);
    CHECK(o.num_gc > 0);
    free(o.output);
    const char *s[] = {"goroutines=20000"};
    o = ktest_run("spawn", s, 1, 256u << 20, 0);
    CHECK(o.rc == 0);
    CHECK(o.output && strstr(o.output, "spawn: 20000 goroutines parked and released"));
    CHECK(!isnan(ktest_metric(&o, "ns_per_spawn")) && !isnan(ktest_metric(&o, "ns_per_goroutine")) &&
          !isnan(ktest_metric(&o, "bytes_per_goroutine")));
    free(o.output);
}

static void test_pingpong(void)
{
    const char *p[] = {"rounds=20000"};
    ktest_outcome_t o = ktest_run("pingpong", p, 1, 64u << 20, 0);
    CHECK(o.rc == 0);
    if (o.rc != 0)
        fprintf(stderr, "pingpong failed: %s\n", o.failure);
    CHECK(o.output && strcmp(o.output, "pingpong: 20000 rounds\n") == 0);
    CHECK(!isnan(ktest_metric(&o, "ns_per_roundtrip")));
    free(o.output);
}

static void test_out_of_memory_fails_the_task(void)
{
    /* 200 live objects of 1 MiB do not fit in 64 MiB. */
    const char *c[] = {"objects=400", "live_objects=200", "min_bytes=1MiB",
                       "max_bytes=1MiB"};
    ktest_outcome_t o = ktest_run("churn", c, 4, 64u << 20, 0);
    CHECK(o.rc == SCHED_EFAILED);
    CHECK(strstr(o.failure, "out of memory") != NULL);
    if (!strstr(o.failure, "out of memory"))
        fprintf(stderr, "failure was: %s\n", o.failure);
    free(o.output);
}

int main(void)
{
    test_catalog_has_implementations();
    test_binary_trees_reference();
    test_binary_trees_collects();
    test_gcbench();
    test_churn_and_spawn();
    test_pingpong();
    test_out_of_memory_fails_the_task();
    return ktest_finish("kernels_test");
}
