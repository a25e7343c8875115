/* kernels/ktest.c -- the kernel tests' harness (see ktest.h). */
#include "kernels/ktest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct entry {
    kernel_fn_t fn;
    rt_t *rt;
    const kparams_t *params;
} entry_t;

static void entry_main(sched_t *s, void *arg)
{
    entry_t *e = arg;
    (void)s;
    e->fn(e->rt, e->params);
}

/* Run kernel `name` with "k=v" settings on a fresh heap of heap_max bytes
** and a scheduler with stack_reserve bytes per goroutine (0: default). */
ktest_outcome_t ktest_run(const char *name, const char *const *sets, size_t nsets,
                            uint64_t heap_max, size_t stack_reserve)
{
    ktest_outcome_t out = {0};
    const kernel_spec_t *k = catalog_find(name);
    kparams_t params;
    heap_config_t cfg;
    heap_t *heap = NULL;
    sched_t *sched = NULL;
    sched_config_t scfg;
    char err[256];

    if (!k || !kernels_find(name) || kparams_init(&params, k) != 0) {
        CHECK_MSG(false, "no kernel %s", name);
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
            CHECK_MSG(false, "bad test setting %s", sets[i]);
            out.rc = -1;
            kparams_free(&params);
            return out;
        }
    }
    heap_config_default(&cfg);
    cfg.heap_max_bytes = heap_max;
    /* A fresh name per heap: under a sandbox's PID namespace, concurrent
    ** runs of this test (--runs_per_test) share /dev/shm and the pid. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char shm_name[128];
    const char *prefix = getenv("HEAPSIM_SHM_PREFIX");
    if (prefix == NULL || *prefix == '\0' || strchr(prefix, '/') != NULL)
        prefix = "heapsim-";
    snprintf(shm_name, sizeof shm_name, "/%sktest-%d-%lld%09ld", prefix, (int)getpid(),
             (long long)now.tv_sec, now.tv_nsec);
    int rc = heap_open(shm_name, &cfg, true, &heap);
    if (rc != 0) {
        CHECK_MSG(false, "heap_open(%s): %s", shm_name, heap_strerror(rc));
        out.rc = rc;
        kparams_free(&params);
        return out;
    }
    heap_unlink(shm_name);          /* nothing left behind, whatever happens */
    sched_config_default(&scfg);
    if (stack_reserve)
        scfg.stack_reserve_bytes = stack_reserve;
    CHECK(sched_new(&scfg, &sched) == 0);

    rt_t *rt = rt_new(sched, heap, 42);
    entry_t e = {.fn = kernels_find(name), .rt = rt, .params = &params};
    heap_enter(heap);
    CHECK(sched_spawn_flags(sched, entry_main, &e, SCHED_SPAWN_MAIN) > 0);
    out.rc = sched_run(sched);
    if (out.rc != 0)
        snprintf(out.failure, sizeof out.failure, "%s", sched_failure(sched));
    else
        rt_note_end(rt);
    out.output = strdup(rt_output(rt));
    const rt_metric_t *m = rt_metrics(rt, &out.nmetrics);
    if (out.nmetrics > KTEST_MAX_METRICS)
        out.nmetrics = KTEST_MAX_METRICS;
    if (out.nmetrics > 0)
        memcpy(out.metrics, m, out.nmetrics * sizeof *m);
    heap_stats_t st;
    heap_stats_read(heap, &st);
    out.num_gc = st.num_gc;
    char why[256];
    CHECK_MSG(heap_verify(heap, why, sizeof why) == 0, "heap_verify after %s: %s", name, why);
    heap_leave(heap);
    rt_destroy(&rt);
    sched_destroy(&sched);
    heap_close(&heap, true);
    kparams_free(&params);
    return out;
}

/* The value of metric `name`, NAN when the kernel did not report it. */
double ktest_metric(const ktest_outcome_t *o, const char *name)
{
    for (size_t i = 0; i < o->nmetrics; i++)
        if (strcmp(o->metrics[i].name, name) == 0)
            return o->metrics[i].value;
    return NAN;
}

void ktest_print(const char *what, const ktest_outcome_t *o)
{
    printf("%s: rc %d%s%s\n%s", what, o->rc, o->rc ? ": " : "", o->failure,
           o->output ? o->output : "");
    for (size_t i = 0; i < o->nmetrics; i++)
        printf("  %s = %.1f %s\n", o->metrics[i].name, o->metrics[i].value,
               o->metrics[i].unit);
}

int ktest_finish(const char *test)
{
    if (testrun_exit_status(test) != 0)
        return 1;
    printf("%s: all checks passed\n", test);
    return 0;
}
