/*
** runtime/pool_test.c -- sync.Pool on the shared heap: get/put (newest
** first), growth past the first area, the victim cache (an object put and
** not taken survives one collection, is gone after two), collections by
** another process rotating our pool, and safepoints in a get/put loop.
*/
#include "runtime/pool.h"
#include "runtime/rt_testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1u << 20)

static void t_get_put(rt_t *rt, void *arg)
{
    heap_ref_t *frame = rt_push(rt, 1);
    pool_t *p = pool_new(rt);
    (void)arg;

    CHECK(pool_get(rt, p) == 0);
    pool_put(rt, p, 0);                   /* ignored */
    CHECK(pool_get(rt, p) == 0);
    for (uint64_t i = 0; i < 3; i++)
        pool_put(rt, p, rtt_tagged(rt, i, true));   /* unrooted: put roots it */
    for (uint64_t i = 3; i-- > 0;) {
        frame[0] = pool_get(rt, p);
        CHECK(rtt_tag_ok(rt, frame[0], i, true));
    }
    CHECK(pool_get(rt, p) == 0);

    /* Past the first area: it grows and keeps everything. */
    for (uint64_t i = 0; i < 1000; i++)
        pool_put(rt, p, rtt_tagged(rt, 100 + i, false));
    uint64_t seen = 0;
    for (uint64_t i = 1000; i-- > 0;) {
        heap_ref_t r = pool_get(rt, p);
        CHECK(rtt_tag_ok(rt, r, 100 + i, false));
        seen++;
    }
    CHECK_INT(seen, 1000);
    CHECK(pool_get(rt, p) == 0);
    pool_destroy(rt, &p);
    CHECK(p == NULL);
    pool_destroy(rt, &p);   /* NULL is fine */
    rt_pop(rt, 1);
}

static void test_get_put_and_growth(void)
{
    rtt_world_t w;
    rtt_open(&w, 64 * MiB, 0);
    CHECK_INT(rtt_run(&w, t_get_put, NULL).rc, 0);
    rtt_close(&w);
}

static void t_victim(rt_t *rt, void *arg)
{
    heap_t *h = rt_heap(rt);
    pool_t *p = pool_new(rt);
    heap_stats_t st;
    (void)arg;

    /* Put, collect once: still there (in the victim half), intact even
    ** after the freed memory around it is reused. */
    for (uint64_t i = 0; i < 10; i++)
        pool_put(rt, p, rtt_tagged(rt, 50 + i, true));
    CHECK_INT(heap_collect(h), 0);
    rtt_churn(rt, 20000);
    heap_ref_t r = pool_get(rt, p);
    CHECK(rtt_tag_ok(rt, r, 59, true));
    pool_put(rt, p, r);                   /* back into the primary */

    /* Two more collections without a get: all of it is gone. */
    CHECK_INT(heap_collect(h), 0);
    CHECK_INT(heap_collect(h), 0);
    CHECK(pool_get(rt, p) == 0);

    /* And it was garbage: nothing the pool held is live. */
    for (uint64_t i = 0; i < 10; i++)
        pool_put(rt, p, rtt_tagged(rt, i, true));
    CHECK_INT(heap_collect(h), 0);
    heap_gc_cycle_t c1, c2;
    heap_stats_read(h, &st);
    CHECK_INT(heap_gc_history(h, (uint32_t)st.num_gc - 1, &c1, 1), 1);
    CHECK_INT(heap_collect(h), 0);
    heap_stats_read(h, &st);
    CHECK_INT(heap_gc_history(h, (uint32_t)st.num_gc - 1, &c2, 1), 1);
    /* 10 tagged objects and their children went between the two. */
    CHECK(c1.fields.objects_live >= c2.fields.objects_live + 20);
    pool_destroy(rt, &p);
}

static void test_victim_cache_across_collections(void)
{
    rtt_world_t w;
    rtt_open(&w, 64 * MiB, 0);
    CHECK_INT(rtt_run(&w, t_victim, NULL).rc, 0);
    rtt_close(&w);
}

/* A collection by another process rotates our pools too, and get/put
** loops poll for it. */
static uint32_t *child_done;

static void t_other_process(rt_t *rt, void *arg)
{
    const char *name = arg;
    pool_t *p = pool_new(rt);
    heap_ref_t *frame = rt_push(rt, 1);

    pool_put(rt, p, rtt_tagged(rt, 1, false));
    pid_t pid = fork();
    if (pid == 0) {
        heap_t *h = NULL;
        if (heap_open(name, NULL, false, &h) != 0)
            _exit(2);
        heap_enter(h);
        for (int i = 0; i < 2; i++)
            if (heap_collect(h) != 0)
                _exit(3);
        heap_close(&h, false);
        __atomic_store_n(child_done, 1, __ATOMIC_SEQ_CST);
        _exit(0);
    }
    CHECK(pid > 0);
    /* Get/put of one object of ours (rooted by our frame): only the pool's
    ** polls let the child stop us; its two collections drop tag 1. */
    frame[0] = rtt_tagged(rt, 2, false);
    while (!__atomic_load_n(child_done, __ATOMIC_SEQ_CST)) {
        pool_put(rt, p, frame[0]);
        /* Ours back, or nothing when both collections ran inside the put's
        ** safepoint (each rotation moves it one half further). */
        heap_ref_t got = pool_get(rt, p);
        CHECK(got == 0 || got == frame[0]);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Tag 1 was put before the child's two collections and never taken. */
    heap_ref_t r;
    while ((r = pool_get(rt, p)) != 0)
        CHECK(!rtt_tag_ok(rt, r, 1, false));
    CHECK(rtt_tag_ok(rt, frame[0], 2, false));
    rt_pop(rt, 1);
    pool_destroy(rt, &p);
}

static void test_collections_by_another_process(void)
{
    char name[96];
    rtt_world_t w;
    heap_config_t cfg;

    child_done = mmap(NULL, sizeof *child_done, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(child_done != MAP_FAILED);
    rtt_open(&w, 64 * MiB, 0);
    heap_close(&w.heap, true);   /* the child attaches by name: keep one */
    rtt_name(name, sizeof name, "pool");
    heap_config_default(&cfg);
    cfg.heap_max_bytes = 64 * MiB;
    CHECK_INT(heap_open(name, &cfg, true, &w.heap), 0);
    CHECK_INT(rtt_run(&w, t_other_process, name).rc, 0);
    heap_unlink(name);
    rtt_close(&w);
    munmap(child_done, sizeof *child_done);
}

int main(int argc, char **argv)
{
    static const rtt_case_t cases[] = {
        {"get_put_and_growth", test_get_put_and_growth},
        {"victim_cache_across_collections", test_victim_cache_across_collections},
        {"collections_by_another_process", test_collections_by_another_process},
    };
    return rtt_main(argc, argv, cases, sizeof cases / sizeof cases[0], 60);
}
