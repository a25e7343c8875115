/*
** shm_heap/heap_prof_test.c -- the heap profile: sampling at rate 1 counts
** every allocation and the sweep every free, per site, whichever process
** collects; the sample table grows; Go's exponential intervals give about
** one sample per `rate` bytes; off samples nothing; reset starts over.
*/
#include "shm_heap/heap.h"
#include "shm_heap/heap_int.h"
#include "shm_heap/heap_testutil.h"

#include <string.h>
#include <unistd.h>

#define MiB ((uint64_t)1 << 20)

static const char *const site_kept = "test.kept";
static const char *const site_dropped = "test.dropped";

static heap_t *open_heap(const char *token)
{
    char name[128];
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.heap_max_bytes = 256 * MiB;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, token), &cfg, true, &h), 0, heap_strerror);
    return h;
}

static const heap_prof_site_t *find(const heap_prof_site_t *s, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0)
            return &s[i];
    return NULL;
}

/* Rate 1: n kept (a list from a global) and m dropped; a collection frees
** exactly the dropped ones. More live samples than the first table holds. */
static void test_every_allocation(void)
{
    heap_t *h = open_heap("prof-all");
    heap_enter(h);
    heap_prof_set_rate(h, 1, 7);
    heap_ref_t *g = heap_globals(h, 1);
    const int kept = 5000, dropped = 7000;
    for (int i = 0; i < kept; i++) {
        heap_ref_t r = heap_alloc_at(h, 1, 8, site_kept);    /* 16 B: class 16 */
        heap_write_ref(h, r, 0, g[0]);
        g[0] = r;
        heap_alloc_at(h, 0, 100, site_dropped);            /* 112 B class */
    }
    for (int i = kept; i < dropped; i++)
        heap_alloc_at(h, 0, 100, site_dropped);
    heap_alloc(h, 0, 8);                                    /* (unknown) */
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE_HEAP_VERIFY(h);

    heap_prof_site_t s[HEAP_PROF_SITES];
    int n = heap_prof_read(h, false, s, HEAP_PROF_SITES, NULL);
    CHECK_INT(n, 3);
    const heap_prof_site_t *k = find(s, n, site_kept), *d = find(s, n, site_dropped);
    const heap_prof_site_t *u = find(s, n, "(unknown)");
    REQUIRE(k && d && u);
    CHECK_UINT(k->alloc_objects, kept);
    CHECK_UINT(k->alloc_bytes, kept * 16);
    CHECK_UINT(k->free_objects, 0);
    CHECK_UINT(d->alloc_objects, dropped);
    CHECK_UINT(d->alloc_bytes, dropped * 112);
    CHECK_UINT(d->free_objects, dropped);
    CHECK_UINT(d->free_bytes, dropped * 112);
    CHECK_UINT(u->alloc_objects, 1);
    CHECK_UINT(u->free_objects, 1);

    /* Half the list let go: half the kept samples freed. */
    heap_ref_t r = g[0];
    for (int i = 0; i < kept / 2 - 1; i++)
        r = heap_read_ref(h, r, 0);
    heap_write_ref(h, r, 0, 0);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    n = heap_prof_read(h, false, s, HEAP_PROF_SITES, NULL);
    k = find(s, n, site_kept);
    REQUIRE(k);
    CHECK_UINT(k->free_objects, kept - kept / 2);
    CHECK_UINT(k->free_bytes, (kept - kept / 2) * 16);
    REQUIRE_HEAP_VERIFY(h);

    /* Reset: a new profile with the same sites, nothing counted. */
    heap_prof_reset(h);
    g[0] = 0;
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    n = heap_prof_read(h, false, s, HEAP_PROF_SITES, NULL);
    for (int i = 0; i < n; i++)
        CHECK(s[i].alloc_objects == 0 && s[i].free_objects == 0);
    heap_close(&h, true);
}

/* Off: nothing recorded; a large object is sampled with its pages. */
static void test_off_and_large(void)
{
    heap_t *h = open_heap("prof-off");
    heap_enter(h);
    for (int i = 0; i < 10000; i++)
        heap_alloc_at(h, 0, 64, site_kept);
    heap_prof_site_t s[HEAP_PROF_SITES];
    CHECK_INT(heap_prof_read(h, false, s, HEAP_PROF_SITES, NULL), 0);
    CHECK_UINT(heap_prof_rate(h), 0);

    heap_prof_set_rate(h, 1, 1);
    heap_ref_t *g = heap_globals(h, 1);
    g[0] = heap_alloc_at(h, 0, 100000, site_kept);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    int n = heap_prof_read(h, false, s, HEAP_PROF_SITES, NULL);
    REQUIRE(n == 1);
    CHECK_UINT(s[0].alloc_bytes, heap_obj_size(h, g[0]));
    CHECK_UINT(s[0].free_objects, 0);
    g[0] = 0;
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_prof_read(h, false, s, HEAP_PROF_SITES, NULL);
    CHECK_UINT(s[0].free_objects, 1);
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
}

/* Go's default rate: 64 MiB of 64-byte objects give about 128 samples
** (Poisson: mean 128, sd 11; 80..180 is more than 4 sd either way). The
** stream is seeded, so the count is the same every run. */
static void test_default_rate(void)
{
    heap_t *h = open_heap("prof-rate");
    heap_enter(h);
    heap_prof_set_rate(h, HEAP_MEM_PROFILE_RATE_DEFAULT, 12345);
    for (uint64_t i = 0; i < 64 * MiB / 64; i++)
        heap_alloc_at(h, 0, 64, site_dropped);
    heap_prof_site_t s[HEAP_PROF_SITES];
    REQUIRE(heap_prof_read(h, false, s, HEAP_PROF_SITES, NULL) == 1);
    CHECK_MSG(s[0].alloc_objects >= 80 && s[0].alloc_objects <= 180,
              "%llu samples for 64 MiB at 512 KiB", (unsigned long long)s[0].alloc_objects);
    CHECK_UINT(s[0].alloc_bytes, s[0].alloc_objects * 64);
    heap_close(&h, true);
}

/* More sites than the table: the rest go to "(other)". */
static void test_many_sites(void)
{
    static char names[HEAP_PROF_SITES + 10][16];
    heap_t *h = open_heap("prof-sites");
    heap_enter(h);
    heap_prof_set_rate(h, 1, 1);
    for (int i = 0; i < HEAP_PROF_SITES + 10; i++) {
        snprintf(names[i], sizeof names[i], "site%d", i);
        heap_alloc_at(h, 0, 8, names[i]);
    }
    heap_prof_site_t s[HEAP_PROF_SITES];
    int n = heap_prof_read(h, false, s, HEAP_PROF_SITES, NULL);
    CHECK_INT(n, HEAP_PROF_SITES);
    const heap_prof_site_t *o = find(s, n, "(other)");
    REQUIRE(o);
    CHECK_UINT(o->alloc_objects, 11);
    heap_close(&h, true);
}

/* Samples of one process are found freed by another's collection. */
static void child_collect(void *arg)
{
    char name[128];
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, (const char *)arg), NULL, false, &h),
               0, heap_strerror);
    heap_enter(h);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_close(&h, false);
}

static void test_freed_by_another_process(void)
{
    heap_t *h = open_heap("prof-two");
    heap_enter(h);
    heap_prof_set_rate(h, 1, 3);
    for (int i = 0; i < 1000; i++)
        heap_alloc_at(h, 0, 48, site_dropped);
    heap_leave(h);
    tu_wait_ok(tu_fork(child_collect, "prof-two"));
    heap_enter(h);
    heap_prof_site_t s[HEAP_PROF_SITES];
    REQUIRE(heap_prof_read(h, false, s, HEAP_PROF_SITES, NULL) == 1);
    CHECK_UINT(s[0].alloc_objects, 1000);
    CHECK_UINT(s[0].free_objects, 1000);
    CHECK_UINT(s[0].free_bytes, 1000 * 48);
    heap_close(&h, true);
}

/* As of the last collection (Go's heap profile): allocations since are
** not counted, and in use is what that collection found live. */
static void test_as_of_the_last_collection(void)
{
    heap_t *h = open_heap("prof-gc");
    heap_enter(h);
    heap_prof_set_rate(h, 1, 5);
    heap_ref_t *g = heap_globals(h, 1);
    for (int i = 0; i < 300; i++) {
        heap_ref_t r = heap_alloc_at(h, 1, 8, site_kept);
        heap_write_ref(h, r, 0, g[0]);
        g[0] = r;
        heap_alloc_at(h, 0, 200, site_dropped);
    }
    heap_prof_site_t s[HEAP_PROF_SITES];
    uint64_t cycle = 99;
    CHECK_INT(heap_prof_read(h, true, s, HEAP_PROF_SITES, &cycle), 2);
    CHECK_UINT(cycle, 0);
    CHECK(s[0].alloc_objects == 0 && s[1].alloc_objects == 0);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    for (int i = 0; i < 100; i++)
        heap_alloc_at(h, 0, 200, site_dropped);          /* after it: not yet */
    REQUIRE(heap_prof_read(h, true, s, HEAP_PROF_SITES, &cycle) == 2);
    heap_stats_t st;
    heap_stats_read(h, &st);
    CHECK_UINT(cycle, st.num_gc);
    const heap_prof_site_t *k = find(s, 2, site_kept), *d = find(s, 2, site_dropped);
    REQUIRE(k && d);
    CHECK_UINT(k->alloc_objects, 300);
    CHECK_UINT(k->free_objects, 0);
    CHECK_UINT(d->alloc_objects, 300);
    CHECK_UINT(d->free_objects, 300);
    /* Now: the 100 since are counted, not freed yet. */
    REQUIRE(heap_prof_read(h, false, s, HEAP_PROF_SITES, &cycle) == 2);
    CHECK_UINT(cycle, 0);
    d = find(s, 2, site_dropped);
    CHECK(d && d->alloc_objects == 400 && d->free_objects == 300);
    heap_prof_reset(h);
    REQUIRE(heap_prof_read(h, true, s, HEAP_PROF_SITES, &cycle) == 2);
    CHECK(cycle == 0 && s[0].alloc_objects == 0);
    heap_close(&h, true);
}

int main(void)
{
    tu_init("heap_prof_test", 120);
    test_as_of_the_last_collection();
    test_every_allocation();
    test_off_and_large();
    test_default_rate();
    test_many_sites();
    test_freed_by_another_process();
    tu_finish();
    return 0;
}
