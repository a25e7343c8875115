/*
** shm_heap/heap_prop_test.c -- a randomized property test: several forked
** processes build and mutate object graphs in one heap, each against its
** own model (heap_model.h), with collections, verifies and leave/enter
** mixed in. Properties: every object the models can reach is intact after
** every collection; heap_verify passes; after a final forced collection
** the heap's live objects and bytes are exactly the models' sum.
** HEAP_TEST_SEED replays a run; HEAP_PROP_STEPS changes its length.
*/
#include "shm_heap/heap.h"
#include "shm_heap/heap_int.h"
#include "shm_heap/heap_model.h"
#include "shm_heap/heap_testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define NPROCS 4

typedef struct shared {
    tu_barrier_t barrier;
    uint64_t seed;
    uint64_t steps;
    uint64_t live_bytes[NPROCS];
    uint64_t live_objects[NPROCS];
} shared_t;

typedef struct child_arg {
    shared_t *sh;
    int index;
} child_arg_t;

static void child(void *arg)
{
    child_arg_t *ca = arg;
    shared_t *sh = ca->sh;
    char name[128], why[256];
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, "prop"), NULL, false, &h), 0, heap_strerror);
    if (ca->index == 0)
        heap__set_mark_stack_limit(h, 64);   /* its cycles overflow and rescan */
    heap_enter(h);
    model_config_t cfg;
    model_config_default(&cfg);
    model_t *m = model_new(h, &cfg, sh->seed * 1000003u + (uint64_t)ca->index);
    for (uint64_t i = 0; i < sh->steps; i++)
        model_step(m);

    /* Report what is reachable, then stay out of the heap while the
    ** parent collects. */
    REQUIRE(model_check(m, &sh->live_bytes[ca->index], &sh->live_objects[ca->index], why,
                      sizeof why) == 0);
    heap_leave(h);
    tu_barrier_wait(&sh->barrier);   /* parent collects */
    tu_barrier_wait(&sh->barrier);
    heap_enter(h);
    REQUIRE_MSG(model_check(m, NULL, NULL, why, sizeof why) == 0, "after the final collection: %s", why);
    model_destroy(&m);
    heap_close(&h, false);
}

int main(void)
{
    tu_init("heap_prop_test", 280);
    shared_t *sh = tu_shared(sizeof *sh);
    sh->seed = tu_seed();
    const char *env = getenv("HEAP_PROP_STEPS");
    sh->steps = env ? strtoull(env, NULL, 0) : 1500000;
    sh->barrier.n = NPROCS + 1;
    uint64_t rng = sh->seed;
    static const int gogcs[] = { 25, 50, 100, 200 };
    int gogc = gogcs[tu_below(&rng, 4)];
    printf("%d processes, %llu steps each, gogc %d\n", NPROCS, (unsigned long long)sh->steps, gogc);

    char name[128];
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.heap_max_bytes = (uint64_t)512 << 20;
    cfg.gogc = gogc;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, "prop"), &cfg, true, &h), 0, heap_strerror);

    child_arg_t args[NPROCS];
    pid_t pids[NPROCS];
    for (int i = 0; i < NPROCS; i++) {
        args[i] = (child_arg_t){ sh, i };
        pids[i] = tu_fork(child, &args[i]);
    }
    tu_barrier_wait(&sh->barrier);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE_HEAP_VERIFY(h);
    heap_stats_t st;
    heap_stats_read(h, &st);
    heap_gc_cycle_t c;
    REQUIRE(heap_gc_history(h, (uint32_t)st.num_gc - 1, &c, 1) == 1 && c.fields.forced);
    uint64_t want_bytes = 0, want_objects = 0;
    for (int i = 0; i < NPROCS; i++) {
        want_bytes += sh->live_bytes[i];
        want_objects += sh->live_objects[i];
    }
    printf("%llu collections; live after the final one: %llu objects %llu bytes (models: %llu, %llu)\n",
           (unsigned long long)st.num_gc, (unsigned long long)c.fields.objects_live,
           (unsigned long long)c.fields.heap_live_bytes, (unsigned long long)want_objects,
           (unsigned long long)want_bytes);
    REQUIRE((uint64_t)c.fields.objects_live == want_objects &&
          (uint64_t)c.fields.heap_live_bytes == want_bytes);
    REQUIRE(st.heap_live_bytes == want_bytes && st.heap_alloc_bytes == want_bytes);
    REQUIRE(st.nprocs == NPROCS + 1);
    tu_barrier_wait(&sh->barrier);
    for (int i = 0; i < NPROCS; i++)
        tu_wait_ok(pids[i]);

    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_stats_read(h, &st);
    REQUIRE(heap_gc_history(h, (uint32_t)st.num_gc - 1, &c, 1) == 1);
    REQUIRE(c.fields.objects_live == 0 && c.fields.heap_live_bytes == 0 && st.nprocs == 1);
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
    munmap(sh, sizeof *sh);
    tu_finish();
    return 0;
}
