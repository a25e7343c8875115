/*
** kernels/kernels2_test.c -- the stacks and leak kernels on the real
** scheduler over a real shared heap.
**
** stacks: a goroutine's stack holds at least its recursion, and so does
** each thread's; a recursion deeper than the goroutine stack reserve fails
** the task with a stack overflow (and runs no thread); one deeper than a
** thread's default stack gets threads with stacks large enough.
** leak: without release the live heap after the final collection holds the
** retained requests, with release it stays flat (the lesson's direction);
** a leak that outgrows the heap fails its task with "out of memory" while
** the releasing loop fits in the same heap.
*/
#include "kernels/ktest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


/* ---- stacks -------------------------------------------------------------- */

static void test_stacks(void)
{
    const char *sets[] = {"goroutines=300", "depth=40", "frame_bytes=512", "threads=true"};
    ktest_outcome_t o = ktest_run("stacks", sets, 4, 64u << 20, 0);
    double recursion = ktest_metric(&o, "recursion_bytes");
    double per_gor = ktest_metric(&o, "stack_bytes_per_goroutine");
    double per_thread = ktest_metric(&o, "thread_stack_bytes_per_thread");

    ktest_print("stacks", &o);
    CHECK(o.rc == 0);
    CHECK(o.output && strstr(o.output, "stacks: 300 goroutines x 40 frames of 512 B"));
    CHECK(o.output && strstr(o.output, "stacks: 300 threads doing the same"));
    /* Every frame's array is on the stack, and committed. */
    CHECK(recursion >= 40 * 512);
    /* Go's size: a power of two from 2 KiB, the recursion below it with
    ** _StackGuard (928 B) to spare; the real pages hold the recursion. */
    double go_size = 2048;
    while (go_size < recursion + 928)
        go_size *= 2;
    CHECK(per_gor >= go_size);
    CHECK(per_gor < go_size + 64);   /* + the main goroutine's own growth, shared */
    CHECK(ktest_metric(&o, "stack_real_bytes_per_goroutine") >= recursion);
    CHECK(ktest_metric(&o, "stack_growths_per_goroutine") >= 3);   /* 2 -> 32 KiB */
    /* The task's figures: at least those copies, and what they moved. */
    CHECK(ktest_metric(&o, "go_stack_growths") >= 300 * 3);
    CHECK(ktest_metric(&o, "go_stack_copied_bytes") >= 300 * (1120 + 3168 + 7264));
    CHECK(ktest_metric(&o, "go_stack_copy_ns") >= 300 * 3 * 800);
    CHECK(per_thread >= recursion);
    CHECK(ktest_metric(&o, "threads") == 300);
    CHECK(ktest_metric(&o, "thread_stack_reserve_bytes") >= recursion);
    CHECK(ktest_metric(&o, "goroutine_ns") > 0);
    CHECK(ktest_metric(&o, "thread_ns") > 0);
    CHECK(!isnan(ktest_metric(&o, "thread_rss_bytes_per_thread")));
    free(o.output);
}

static void test_stacks_without_threads(void)
{
    const char *sets[] = {"goroutines=1000", "depth=0", "threads=false"};
    ktest_outcome_t o = ktest_run("stacks", sets, 3, 64u << 20, 0);

    ktest_print("stacks, no threads", &o);
    CHECK(o.rc == 0);
    CHECK(ktest_metric(&o, "stack_bytes_per_goroutine") > 0);
    CHECK(isnan(ktest_metric(&o, "thread_ns")));
    CHECK(o.output && !strstr(o.output, "threads"));
    free(o.output);
}

/* 2000 frames of 4 KiB do not fit in a 256 KiB goroutine stack. */
static void test_stacks_overflow_fails_the_task(void)
{
    const char *sets[] = {"goroutines=10", "depth=2000", "frame_bytes=4KiB"};
    ktest_outcome_t o = ktest_run("stacks", sets, 3, 64u << 20, 256u << 10);

    CHECK(o.rc == SCHED_EFAILED);
    CHECK(strstr(o.failure, "stack overflow") != NULL);
    if (!strstr(o.failure, "stack overflow"))
        fprintf(stderr, "failure was: %s\n", o.failure);
    CHECK(isnan(ktest_metric(&o, "thread_ns")));
    free(o.output);
}

/* 12 MiB of recursion: goroutines with a 32 MiB reserve hold it, and the
** threads get stacks larger than any usual default. */
static void test_stacks_deeper_than_a_thread_stack(void)
{
    const char *sets[] = {"goroutines=4", "depth=3000", "frame_bytes=4KiB"};
    ktest_outcome_t o = ktest_run("stacks", sets, 3, 64u << 20, 32u << 20);
    double recursion = ktest_metric(&o, "recursion_bytes");

    ktest_print("stacks, deep", &o);
    CHECK(o.rc == 0);
    CHECK(recursion >= 3000.0 * 4096);
    CHECK(ktest_metric(&o, "threads") == 4);
    CHECK(ktest_metric(&o, "thread_stack_reserve_bytes") > recursion);
    CHECK(ktest_metric(&o, "thread_stack_bytes_per_thread") >= recursion);
    free(o.output);
}

/* ---- leak ---------------------------------------------------------------- */

static void test_leak_grows_release_stays_flat(void)
{
    const char *leaking[] = {"requests=20000", "request_bytes=1KiB", "retain_percent=10",
                             "release=false"};
    const char *releasing[] = {"requests=20000", "request_bytes=1KiB", "retain_percent=10",
                               "release=true"};
    ktest_outcome_t leak = ktest_run("leak", leaking, 4, 256u << 20, 0);
    ktest_outcome_t rel = ktest_run("leak", releasing, 4, 256u << 20, 0);
    double leak_live = ktest_metric(&leak, "live_bytes_end");
    double rel_live = ktest_metric(&rel, "live_bytes_end");

    ktest_print("leak", &leak);
    ktest_print("leak, release", &rel);
    CHECK(leak.rc == 0);
    CHECK(rel.rc == 0);
    CHECK(ktest_metric(&leak, "retained_objects") == 2000);    /* 10% of 20000 */
    CHECK(ktest_metric(&rel, "retained_objects") == 0);
    /* The retained payloads are live; with release nothing is. */
    CHECK(leak_live >= 2000.0 * 1024);
    CHECK(rel_live * 5 < leak_live);
    /* Released slots are reused: at most one batch's entries at once. */
    CHECK(ktest_metric(&rel, "table_slots") <= 64);
    CHECK(ktest_metric(&leak, "table_slots") >= 2000);
    CHECK(ktest_metric(&leak, "requests_per_sec") > 0);
    CHECK(leak.output && strstr(leak.output, "2000 stored, 2000 still held"));
    CHECK(rel.output && strstr(rel.output, "2000 stored, 0 still held"));
    free(leak.output);
    free(rel.output);
}

/* Every request retained, 64 KiB each: 128 MiB do not fit in a 64 MiB heap
** when they stay, and a batch's worth (4 MiB) does when they are released. */
static void test_leak_out_of_memory(void)
{
    const char *leaking[] = {"requests=2000", "request_bytes=64KiB", "retain_percent=100"};
    const char *releasing[] = {"requests=2000", "request_bytes=64KiB", "retain_percent=100",
                               "release=true"};
    ktest_outcome_t leak = ktest_run("leak", leaking, 3, 64u << 20, 0);
    ktest_outcome_t rel = ktest_run("leak", releasing, 4, 64u << 20, 0);

    CHECK(leak.rc == SCHED_EFAILED);
    CHECK(strstr(leak.failure, "out of memory") != NULL);
    if (!strstr(leak.failure, "out of memory"))
        fprintf(stderr, "failure was: %s\n", leak.failure);
    ktest_print("leak, 100% released", &rel);
    CHECK(rel.rc == 0);
    CHECK(ktest_metric(&rel, "table_slots") == 64);   /* a full batch held at once */
    CHECK(ktest_metric(&rel, "retained_objects") == 0);
    free(leak.output);
    free(rel.output);
}

static void test_leak_retains_nothing(void)
{
    const char *sets[] = {"requests=1000", "retain_percent=0"};
    ktest_outcome_t o = ktest_run("leak", sets, 2, 64u << 20, 0);

    CHECK(o.rc == 0);
    CHECK(ktest_metric(&o, "retained_objects") == 0);
    CHECK(ktest_metric(&o, "table_slots") == 0);
    free(o.output);
}

int main(void)
{
    test_stacks();
    test_stacks_without_threads();
    test_stacks_overflow_fails_the_task();
    test_stacks_deeper_than_a_thread_stack();
    test_leak_grows_release_stays_flat();
    test_leak_out_of_memory();
    test_leak_retains_nothing();
    return ktest_finish("kernels2_test");
}
