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
#include "kernels/kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures;
static char shm_name[128];

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                 \
            failures++;                                                     \
        }                                                                   \
    } while (0)

#define MAX_METRICS 32

typedef struct outcome {
    int rc;
    char *output;
    char failure[512];
    rt_metric_t metrics[MAX_METRICS];
    size_t nmetrics;
} outcome_t;

typedef struct entry {
    kernel_fn_t fn;
    rt_t *rt;
} entry_t;

static void entry_main(sched_t *s, void *arg)
{
    entry_t *e = arg;
    (void)s;
    e->fn(e->rt);
}

/* Run kernel `name` with "k=v" settings on a fresh heap of heap_max bytes
** and a scheduler with stack_reserve bytes per goroutine (0: default). */
static outcome_t run_kernel(const char *name, const char *const *sets, size_t nsets,
                            uint64_t heap_max, size_t stack_reserve)
{
    outcome_t out = {0};
    const kernel_spec_t *k = catalog_find(name);
    kparams_t params;
    heap_config_t cfg;
    heap_t *heap = NULL;
    sched_t *sched = NULL;
    sched_config_t scfg;
    char err[256];

    if (!k || !kernels_find(name) || kparams_init(&params, k) != 0) {
        fprintf(stderr, "no kernel %s\n", name);
        out.rc = -1;
        failures++;
        return out;
    }
    for (size_t i = 0; i < nsets; i++) {
        char key[64];
        const char *eq = strchr(sets[i], '=');
        size_t idx;
        snprintf(key, sizeof key, "%.*s", (int)(eq - sets[i]), sets[i]);
        if (!catalog_param(k, key, &idx) ||
            kparams_set_text(&params, idx, eq + 1, err, sizeof err) != 0) {
            fprintf(stderr, "bad test setting %s\n", sets[i]);
            out.rc = -1;
            failures++;
            kparams_free(&params);
            return out;
        }
    }
    heap_config_default(&cfg);
    cfg.heap_max_bytes = heap_max;
    int rc = heap_open(shm_name, &cfg, true, &heap);
    if (rc != 0) {
        fprintf(stderr, "heap_open: %s\n", heap_strerror(rc));
        out.rc = rc;
        failures++;
        kparams_free(&params);
        return out;
    }
    heap_unlink(shm_name);          /* nothing left behind, whatever happens */
    sched_config_default(&scfg);
    if (stack_reserve)
        scfg.stack_reserve_bytes = stack_reserve;
    CHECK(sched_new(&scfg, &sched) == 0);

    rt_t *rt = rt_new(sched, heap, &params, 42);
    entry_t e = {.fn = kernels_find(name), .rt = rt};
    heap_enter(heap);
    CHECK(sched_spawn(sched, entry_main, &e) > 0);
    out.rc = sched_run(sched);
    if (out.rc != 0)
        snprintf(out.failure, sizeof out.failure, "%s", sched_failure(sched));
    out.output = strdup(rt_output(rt));
    const rt_metric_t *m = rt_metrics(rt, &out.nmetrics);
    if (out.nmetrics > MAX_METRICS)
        out.nmetrics = MAX_METRICS;
    if (out.nmetrics > 0)
        memcpy(out.metrics, m, out.nmetrics * sizeof *m);
    char why[256];
    CHECK(heap_verify(heap, why, sizeof why) == 0);
    heap_leave(heap);
    rt_destroy(&rt);
    sched_destroy(&sched);
    heap_close(&heap, true);
    kparams_free(&params);
    return out;
}

/* The value of metric `name`, NAN when the kernel did not report it. */
static double metric(const outcome_t *o, const char *name)
{
    for (size_t i = 0; i < o->nmetrics; i++)
        if (strcmp(o->metrics[i].name, name) == 0)
            return o->metrics[i].value;
    return NAN;
}

static void print_outcome(const char *what, const outcome_t *o)
{
    printf("%s: rc %d%s%s\n%s", what, o->rc, o->rc ? ": " : "", o->failure,
           o->output ? o->output : "");
    for (size_t i = 0; i < o->nmetrics; i++)
        printf("  %s = %.1f %s\n", o->metrics[i].name, o->metrics[i].value,
               o->metrics[i].unit);
}

/* ---- stacks -------------------------------------------------------------- */

static void test_stacks(void)
{
    const char *sets[] = {"goroutines=300", "depth=40", "frame_bytes=512", "threads=true"};
    outcome_t o = run_kernel("stacks", sets, 4, 64u << 20, 0);
    double recursion = metric(&o, "recursion_bytes");
    double per_gor = metric(&o, "stack_bytes_per_goroutine");
    double per_thread = metric(&o, "thread_stack_bytes_per_thread");

    print_outcome("stacks", &o);
    CHECK(o.rc == 0);
    CHECK(o.output && strstr(o.output, "stacks: 300 goroutines x 40 frames of 512 B"));
    CHECK(o.output && strstr(o.output, "stacks: 300 threads doing the same"));
    /* Every frame's array is on the stack, and committed. */
    CHECK(recursion >= 40 * 512);
    CHECK(per_gor >= recursion);
    CHECK(per_gor <= recursion + (64 << 10));
    CHECK(per_thread >= recursion);
    CHECK(metric(&o, "threads") == 300);
    CHECK(metric(&o, "thread_stack_reserve_bytes") >= recursion);
    CHECK(metric(&o, "goroutine_ns") > 0);
    CHECK(metric(&o, "thread_ns") > 0);
    CHECK(!isnan(metric(&o, "thread_rss_bytes_per_thread")));
    free(o.output);
}

static void test_stacks_without_threads(void)
{
    const char *sets[] = {"goroutines=1000", "depth=0", "threads=false"};
    outcome_t o = run_kernel("stacks", sets, 3, 64u << 20, 0);

    print_outcome("stacks, no threads", &o);
    CHECK(o.rc == 0);
    CHECK(metric(&o, "stack_bytes_per_goroutine") > 0);
    CHECK(isnan(metric(&o, "thread_ns")));
    CHECK(o.output && !strstr(o.output, "threads"));
    free(o.output);
}

/* 2000 frames of 4 KiB do not fit in a 256 KiB goroutine stack. */
static void test_stacks_overflow_fails_the_task(void)
{
    const char *sets[] = {"goroutines=10", "depth=2000", "frame_bytes=4KiB"};
    outcome_t o = run_kernel("stacks", sets, 3, 64u << 20, 256u << 10);

    CHECK(o.rc == SCHED_EFAILED);
    CHECK(strstr(o.failure, "stack overflow") != NULL);
    if (!strstr(o.failure, "stack overflow"))
        fprintf(stderr, "failure was: %s\n", o.failure);
    CHECK(isnan(metric(&o, "thread_ns")));
    free(o.output);
}

/* 12 MiB of recursion: goroutines with a 32 MiB reserve hold it, and the
** threads get stacks larger than any usual default. */
static void test_stacks_deeper_than_a_thread_stack(void)
{
    const char *sets[] = {"goroutines=4", "depth=3000", "frame_bytes=4KiB"};
    outcome_t o = run_kernel("stacks", sets, 3, 64u << 20, 32u << 20);
    double recursion = metric(&o, "recursion_bytes");

    print_outcome("stacks, deep", &o);
    CHECK(o.rc == 0);
    CHECK(recursion >= 3000.0 * 4096);
    CHECK(metric(&o, "threads") == 4);
    CHECK(metric(&o, "thread_stack_reserve_bytes") > recursion);
    CHECK(metric(&o, "thread_stack_bytes_per_thread") >= recursion);
    free(o.output);
}

/* ---- leak ---------------------------------------------------------------- */

static void test_leak_grows_release_stays_flat(void)
{
    const char *leaking[] = {"requests=20000", "request_bytes=1KiB", "retain_percent=10",
                             "release=false"};
    const char *releasing[] = {"requests=20000", "request_bytes=1KiB", "retain_percent=10",
                               "release=true"};
    outcome_t leak = run_kernel("leak", leaking, 4, 256u << 20, 0);
    outcome_t rel = run_kernel("leak", releasing, 4, 256u << 20, 0);
    double leak_live = metric(&leak, "live_bytes_end");
    double rel_live = metric(&rel, "live_bytes_end");

    print_outcome("leak", &leak);
    print_outcome("leak, release", &rel);
    CHECK(leak.rc == 0);
    CHECK(rel.rc == 0);
    CHECK(metric(&leak, "retained_objects") == 2000);    /* 10% of 20000 */
    CHECK(metric(&rel, "retained_objects") == 0);
    /* The retained payloads are live; with release nothing is. */
    CHECK(leak_live >= 2000.0 * 1024);
    CHECK(rel_live * 5 < leak_live);
    /* Released slots are reused: at most one batch's entries at once. */
    CHECK(metric(&rel, "table_slots") <= 64);
    CHECK(metric(&leak, "table_slots") >= 2000);
    CHECK(metric(&leak, "requests_per_sec") > 0);
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
    outcome_t leak = run_kernel("leak", leaking, 3, 64u << 20, 0);
    outcome_t rel = run_kernel("leak", releasing, 4, 64u << 20, 0);

    CHECK(leak.rc == SCHED_EFAILED);
    CHECK(strstr(leak.failure, "out of memory") != NULL);
    if (!strstr(leak.failure, "out of memory"))
        fprintf(stderr, "failure was: %s\n", leak.failure);
    print_outcome("leak, 100% released", &rel);
    CHECK(rel.rc == 0);
    CHECK(metric(&rel, "table_slots") == 64);   /* a full batch held at once */
    CHECK(metric(&rel, "retained_objects") == 0);
    free(leak.output);
    free(rel.output);
}

static void test_leak_retains_nothing(void)
{
    const char *sets[] = {"requests=1000", "retain_percent=0"};
    outcome_t o = run_kernel("leak", sets, 2, 64u << 20, 0);

    CHECK(o.rc == 0);
    CHECK(metric(&o, "retained_objects") == 0);
    CHECK(metric(&o, "table_slots") == 0);
    free(o.output);
}

int main(void)
{
    /* The pid alone is not unique: sandboxed runs may share a pid and /dev/shm. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(shm_name, sizeof shm_name, "/heapsim-k2test-%d-%lld%09ld", (int)getpid(),
             (long long)ts.tv_sec, ts.tv_nsec);
    test_stacks();
    test_stacks_without_threads();
    test_stacks_overflow_fails_the_task();
    test_stacks_deeper_than_a_thread_stack();
    test_leak_grows_release_stays_flat();
    test_leak_out_of_memory();
    test_leak_retains_nothing();
    if (failures) {
        fprintf(stderr, "kernels2_test: %d checks failed\n", failures);
        return 1;
    }
    printf("kernels2_test: all checks passed\n");
    return 0;
}
