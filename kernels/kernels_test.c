/*
** kernels/kernels_test.c -- every kernel runs on the real scheduler over a
** real shared heap: binary_trees matches the reference output, gcbench
** passes its self-check, churn, spawn and pingpong finish (with their
** metrics), an allocation beyond the heap fails the task with "out of
** memory", and every catalog kernel has an implementation.
*/
#include "kernels/kernels.h"

#include <stdbool.h>
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

typedef struct outcome {
    int rc;
    char *output;
    char failure[512];
    uint64_t num_gc;
    char metrics[512];        /* "name name ..." of the kernel's metrics */
} outcome_t;

static bool has_metric(const outcome_t *o, const char *name)
{
    char key[80];
    snprintf(key, sizeof key, " %s ", name);
    return strstr(o->metrics, key) != NULL;
}

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

/* Run kernel `name` with "k=v" settings on a fresh heap of heap_max bytes. */
static outcome_t run_kernel(const char *name, const char *const *sets, size_t nsets,
                            uint64_t heap_max)
{
    outcome_t out = {0};
    const kernel_spec_t *k = catalog_find(name);
    kparams_t params;
    heap_config_t cfg;
    heap_t *heap = NULL;
    sched_t *sched = NULL;
    sched_config_t scfg;
    char err[256];

    if (!k || kparams_init(&params, k) != 0) {
        out.rc = -1;
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
        kparams_free(&params);
        return out;
    }
    heap_unlink(shm_name);          /* nothing left behind, whatever happens */
    sched_config_default(&scfg);
    CHECK(sched_new(&scfg, &sched) == 0);

    rt_t *rt = rt_new(sched, heap, &params, 42);
    entry_t e = {.fn = kernels_find(name), .rt = rt};
    heap_enter(heap);
    CHECK(sched_spawn(sched, entry_main, &e) > 0);
    out.rc = sched_run(sched);
    if (out.rc != 0)
        snprintf(out.failure, sizeof out.failure, "%s", sched_failure(sched));
    out.output = strdup(rt_output(rt));
    size_t nm;
    const rt_metric_t *m = rt_metrics(rt, &nm);
    size_t len = 0;
    out.metrics[0] = ' ';
    out.metrics[1] = '\0';
    len = 1;
    for (size_t i = 0; i < nm && len < sizeof out.metrics; i++)
        len += (size_t)snprintf(out.metrics + len, sizeof out.metrics - len, "%s ", m[i].name);
    heap_stats_t st;
    heap_stats_read(heap, &st);
    out.num_gc = st.num_gc;
    char why[256];
    CHECK(heap_verify(heap, why, sizeof why) == 0);
    heap_leave(heap);
    rt_destroy(&rt);
    sched_destroy(&sched);
    heap_close(&heap, true);
    kparams_free(&params);
    return out;
}

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
        if (!kernels_find(ks[i].name)) {
            fprintf(stderr, "kernel %s has no implementation\n", ks[i].name);
            failures++;
        }
    }
}

static void test_binary_trees_reference(void)
{
    const char *sets[] = {"depth=10"};
    outcome_t o = run_kernel("binary_trees", sets, 1, 256u << 20);
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
    outcome_t o = run_kernel("binary_trees", sets, 1, 512u << 20);
    CHECK(o.rc == 0);
    CHECK(o.num_gc > 0);
    CHECK(o.output && strstr(o.output, "long lived tree of depth 16\t check: 131071\n"));
    free(o.output);
}

static void test_gcbench(void)
{
    const char *sets[] = {"max_depth=10", "long_lived_depth=12", "array_size=100000"};
    outcome_t o = run_kernel("gcbench", sets, 3, 256u << 20);
    CHECK(o.rc == 0);
    CHECK(o.output && strstr(o.output, "Self-check passed"));
    free(o.output);
}

static void test_churn_and_spawn(void)
{
    const char *c[] = {"objects=200000", "live_objects=5000", "goroutines=3"};
    outcome_t o = run_kernel("churn", c, 3, 256u << 20);
    CHECK(o.rc == 0);
    CHECK(o.num_gc > 0);
    free(o.output);
    const char *s[] = {"goroutines=20000"};
    o = run_kernel("spawn", s, 1, 256u << 20);
    CHECK(o.rc == 0);
    CHECK(o.output && strstr(o.output, "spawn: 20000 goroutines parked and released"));
    CHECK(has_metric(&o, "ns_per_spawn") && has_metric(&o, "ns_per_goroutine") &&
          has_metric(&o, "bytes_per_goroutine"));
    free(o.output);
}

static void test_pingpong(void)
{
    const char *p[] = {"rounds=20000"};
    outcome_t o = run_kernel("pingpong", p, 1, 64u << 20);
    CHECK(o.rc == 0);
    if (o.rc != 0)
        fprintf(stderr, "pingpong failed: %s\n", o.failure);
    CHECK(o.output && strcmp(o.output, "pingpong: 20000 rounds\n") == 0);
    CHECK(has_metric(&o, "ns_per_roundtrip"));
    free(o.output);
}

static void test_out_of_memory_fails_the_task(void)
{
    /* 200 live objects of 1 MiB do not fit in 64 MiB. */
    const char *c[] = {"objects=400", "live_objects=200", "min_bytes=1MiB",
                       "max_bytes=1MiB"};
    outcome_t o = run_kernel("churn", c, 4, 64u << 20);
    CHECK(o.rc == SCHED_EFAILED);
    CHECK(strstr(o.failure, "out of memory") != NULL);
    if (!strstr(o.failure, "out of memory"))
        fprintf(stderr, "failure was: %s\n", o.failure);
    free(o.output);
}

int main(void)
{
    /* pid and time: concurrent runs in other sandboxes share /dev/shm and
    ** may have the same pid. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(shm_name, sizeof shm_name, "/heapsim-ktest-%d-%lld%09ld", (int)getpid(),
             (long long)ts.tv_sec, ts.tv_nsec);
    test_catalog_has_implementations();
    test_binary_trees_reference();
    test_binary_trees_collects();
    test_gcbench();
    test_churn_and_spawn();
    test_pingpong();
    test_out_of_memory_fails_the_task();
    if (failures) {
        fprintf(stderr, "kernels_test: %d checks failed\n", failures);
        return 1;
    }
    printf("kernels_test: all checks passed\n");
    return 0;
}
