/*
** kernels/kernels3_test.c -- the kernels of the tutorial's tips on the real
** scheduler over a real shared heap, each checked for its own correctness
** (not only for the direction its lesson shows):
**
** producer_consumer: every item arrives exactly once and intact (else the
** task fails) with any number of producers and consumers; an unbuffered
** channel never holds an item, a buffered one at most its size; the
** measured work is at least the nominal one; with spinning work nothing
** overlaps, so each side is blocked while the other works.
** copy_vs_pointer: by value allocates and copies a payload per stage, by
** pointer only the source's; the sink's checks pass either way.
** pool: every request gets a buffer nobody else holds (else the task
** fails); without the pool each allocates one, with it only the first
** round does while no collection intervenes.
** request_server: every request completes once; percentiles are ordered;
** the achieved rate follows the offered one (open loop); a pool cuts new
** buffers.
** leak, mode goroutines: without release the watchers stay blocked,
** holding their requests and stacks, and are released at the end (the
** task ends cleanly, no deadlock); with release none is left; a leak that
** outgrows the heap fails its task with "out of memory" and unwinds the
** blocked watchers.
*/
#include "kernels/ktest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


/* ---- producer_consumer --------------------------------------------------- */

/* Many producers and consumers, no work: only the channel; every item
** exactly once, or the task fails. */
static void test_pc_exactly_once(void)
{
    const char *buffers[] = {"buffer=0", "buffer=1", "buffer=7", "buffer=1000"};

    for (size_t i = 0; i < 4; i++) {
        ktest_outcome_t o = RUN("producer_consumer", 64u << 20, "producers=5", "consumers=3",
                          "items=20000", "produce_ns=0", "consume_ns=0", "item_bytes=200",
                          buffers[i]);
        ktest_print(buffers[i], &o);
        CHECK(o.rc == 0);
        CHECK(ktest_metric(&o, "items_per_sec") > 0);
        double queued = ktest_metric(&o, "max_queued");
        int64_t cap = atoll(buffers[i] + strlen("buffer="));
        CHECK(queued >= 0 && queued <= (double)cap);
        CHECK(ktest_metric(&o, "queued_bytes_max") == queued * 200);
        CHECK(ktest_metric(&o, "heap_peak_bytes") > 0);
        CHECK(o.output && strstr(o.output, "20000 items of 200 B, 5 producers"));
        free(o.output);
    }
}

/* Fixed sleeps: each item costs at least its nominal work; the slower
** consumer bounds the rate; a buffer of 8 lets items queue. */
static void test_pc_sleep_work(void)
{
    ktest_outcome_t o = RUN("producer_consumer", 64u << 20, "items=100", "consumers=1",
                      "produce_ns=200000", "consume_ns=1000000", "variation=fixed",
                      "buffer=8");
    ktest_print("pc fixed sleep", &o);
    CHECK(o.rc == 0);
    CHECK(ktest_metric(&o, "produce_work_ns") >= 200000);
    CHECK(ktest_metric(&o, "consume_work_ns") >= 1000000);
    CHECK(ktest_metric(&o, "items_per_sec") <= 1e9 / 1000000 * 1.01);
    CHECK(ktest_metric(&o, "max_queued") == 8);                 /* the producer ran ahead */
    CHECK(ktest_metric(&o, "producer_blocked_percent") > 40);   /* then waited */
    CHECK(ktest_metric(&o, "consumer_blocked_percent") < 20);
    CHECK(ktest_metric(&o, "consumer_busy_percent") > 80);
    free(o.output);
}

/* Spinning work on the one scheduler thread: nothing overlaps, so while
** one side works the other is blocked -- per item about C/(P+C) of the
** time for the producer -- and a buffer does not change the rate much. */
static void test_pc_spin_does_not_overlap(void)
{
    ktest_outcome_t o = RUN("producer_consumer", 64u << 20, "items=400", "consumers=1",
                      "produce_ns=100000", "consume_ns=200000", "variation=fixed",
                      "work=spin", "buffer=0");
    ktest_print("pc fixed spin", &o);
    CHECK(o.rc == 0);
    double rate = ktest_metric(&o, "items_per_sec");
    CHECK(rate <= 1e9 / 300000 * 1.02);                   /* the two added up */
    CHECK(ktest_metric(&o, "producer_blocked_percent") > 45);   /* ~67 % */
    CHECK(ktest_metric(&o, "consumer_blocked_percent") > 20);   /* ~33 % */
    CHECK(ktest_metric(&o, "consumer_blocked_percent") < ktest_metric(&o, "producer_blocked_percent"));
    free(o.output);
}

/* ---- copy_vs_pointer ----------------------------------------------------- */

/* allocs counts every heap object, Go's runtime ones too, as Go's Mallocs
** does: a g record and a `go f(x)` closure per goroutine started, and the
** sudogs the per-P cache had to allocate (at most one per goroutine
** blocked at once, the cache's first). */
/* The arrays Go's allgs slice grows through as `goroutines` are made
** (runtime/rt_int.h: 5 at the start in an array of 8; doubling below
** 256): an upper bound. */
static double allgs_growths(double goroutines)
{
    double n = 0;
    for (double cap = 8; cap < 6 + goroutines; cap = cap < 256 ? 2 * cap : cap + (cap + 768) / 4)
        n++;
    return n;
}

static bool allocs_about(double allocs, double kernel, double goroutines)
{
    return allocs >= kernel + 2 * goroutines &&
           allocs <= kernel + 3 * goroutines + 2 + allgs_growths(goroutines);
}

static void test_copy_vs_pointer(void)
{
    ktest_outcome_t v = RUN("copy_vs_pointer", 64u << 20, "items=2000", "payload_bytes=40000",
                      "stages=3", "by=value");
    ktest_outcome_t p = RUN("copy_vs_pointer", 64u << 20, "items=2000", "payload_bytes=40000",
                      "stages=3", "by=pointer");
    ktest_print("by value", &v);
    ktest_print("by pointer", &p);
    CHECK(v.rc == 0 && p.rc == 0);
    /* A payload per stage and the source's; nothing else in the pipeline. */
    CHECK(allocs_about(ktest_metric(&v, "allocs"), 2000 * 4, 5));
    CHECK(allocs_about(ktest_metric(&p, "allocs"), 2000, 5));
    CHECK(ktest_metric(&v, "bytes_copied") == 2000.0 * 3 * 40000);
    CHECK(ktest_metric(&p, "bytes_copied") == 0);
    CHECK(ktest_metric(&v, "alloc_bytes") >= 2000.0 * 4 * 40000);
    CHECK(ktest_metric(&p, "alloc_bytes") >= 2000.0 * 40000);
    CHECK(ktest_metric(&p, "alloc_bytes") * 3.5 < ktest_metric(&v, "alloc_bytes"));
    CHECK(ktest_metric(&v, "gc_cycles") > ktest_metric(&p, "gc_cycles"));
    CHECK(ktest_metric(&v, "ns_per_item") > 0 && ktest_metric(&p, "ns_per_item") > 0);
    CHECK(v.output && strstr(v.output, "2000 items of 40000 B through 3 stages by value"));
    free(v.output);
    free(p.output);
}

/* The smallest payload (the header only) and a single stage. */
static void test_copy_vs_pointer_edges(void)
{
    ktest_outcome_t o = RUN("copy_vs_pointer", 64u << 20, "items=100", "payload_bytes=16",
                      "stages=1", "by=value");
    CHECK(o.rc == 0);
    CHECK(allocs_about(ktest_metric(&o, "allocs"), 200, 3));
    free(o.output);
    o = RUN("copy_vs_pointer", 64u << 20, "items=1", "stages=64", "by=pointer");
    CHECK(o.rc == 0);
    CHECK(allocs_about(ktest_metric(&o, "allocs"), 1, 66));
    free(o.output);
}

/* ---- pool ---------------------------------------------------------------- */

static void test_pool(void)
{
    ktest_outcome_t fresh = RUN("pool", 64u << 20, "requests=20000", "payload_bytes=4KiB",
                          "concurrency=50", "pool=false");
    ktest_outcome_t pooled = RUN("pool", 64u << 20, "requests=20000", "payload_bytes=4KiB",
                           "concurrency=50", "pool=true");
    ktest_print("pool=false", &fresh);
    ktest_print("pool=true", &pooled);
    CHECK(fresh.rc == 0 && pooled.rc == 0);
    /* Without the pool: a record and a buffer per request. */
    CHECK(ktest_metric(&fresh, "buffers_new") == 20000);
    CHECK(ktest_metric(&fresh, "buffers_reused") == 0);
    CHECK(allocs_about(ktest_metric(&fresh, "allocs"), 40000, 50));
    /* With it: the first round's 50 buffers, then reuse -- unless a
    ** collection emptied the pool (twice, by the victim rule). */
    double fresh_new = ktest_metric(&pooled, "buffers_new");
    CHECK(fresh_new + ktest_metric(&pooled, "buffers_reused") == 20000);
    CHECK(fresh_new >= 50);
    CHECK(fresh_new <= 50 * (1 + ktest_metric(&pooled, "gc_cycles")));
    CHECK(allocs_about(ktest_metric(&pooled, "allocs"), 20000 + fresh_new, 50));
    CHECK(ktest_metric(&pooled, "alloc_bytes") * 10 < ktest_metric(&fresh, "alloc_bytes"));
    CHECK(ktest_metric(&pooled, "gc_cycles") < ktest_metric(&fresh, "gc_cycles"));
    free(fresh.output);
    free(pooled.output);
}

/* Large buffers (1 MiB, their own spans) are reused the same way; more
** goroutines than requests: each request gets a new buffer. */
static void test_pool_large_buffers(void)
{
    ktest_outcome_t o = RUN("pool", 64u << 20, "requests=3000", "payload_bytes=1MiB",
                      "concurrency=8", "pool=true");
    ktest_print("pool, 1 MiB buffers", &o);
    CHECK(o.rc == 0);
    CHECK(ktest_metric(&o, "buffers_new") + ktest_metric(&o, "buffers_reused") == 3000);
    CHECK(ktest_metric(&o, "buffers_new") >= 8);
    CHECK(ktest_metric(&o, "buffers_new") <= 8 * (1 + ktest_metric(&o, "gc_cycles")));
    free(o.output);
    o = RUN("pool", 64u << 20, "requests=10", "concurrency=100", "pool=true");
    CHECK(o.rc == 0);
    CHECK(ktest_metric(&o, "buffers_new") == 10);
    free(o.output);
}

/* ---- request_server ------------------------------------------------------ */

static void test_request_server(void)
{
    ktest_outcome_t o = RUN("request_server", 256u << 20, "rate=4000", "requests=800",
                      "arrivals=uniform", "objects_per_request=32", "cache_requests=200");
    ktest_print("request_server", &o);
    CHECK(o.rc == 0);
    double p50 = ktest_metric(&o, "latency_p50_ns"), p90 = ktest_metric(&o, "latency_p90_ns");
    double p99 = ktest_metric(&o, "latency_p99_ns"), p999 = ktest_metric(&o, "latency_p999_ns");
    double max = ktest_metric(&o, "latency_max_ns");
    CHECK(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max);
    CHECK(ktest_metric(&o, "latency_mean_ns") <= max);
    /* Open loop, uniform: 800 requests at 4000/s can never arrive faster
    ** than scheduled, so they take at least 0.2 s. How much longer they
    ** take on a loaded machine is not checked: no timed assertions. */
    double achieved = ktest_metric(&o, "achieved_rate");
    CHECK(achieved > 0 && achieved <= 4000 * 1.01);
    double duration = ktest_metric(&o, "duration_ns");
    CHECK(duration >= 799 / 4000.0 * 1e9);
    CHECK(ktest_metric(&o, "buffers_new") == 800);
    CHECK(o.output && strstr(o.output, "800 requests at 4000/s (uniform)"));
    free(o.output);
}

static void test_request_server_pool_and_poisson(void)
{
    ktest_outcome_t o = RUN("request_server", 256u << 20, "rate=5000", "requests=1000",
                      "pool=true", "buffer_bytes=64KiB", "cache_requests=0");
    ktest_print("request_server, pool", &o);
    CHECK(o.rc == 0);
    /* Poisson arrivals from a seeded stream: never much faster than the rate
    ** (how much slower on a loaded machine is not checked). */
    double achieved = ktest_metric(&o, "achieved_rate");
    CHECK(achieved > 0 && achieved < 5000 * 1.2);
    CHECK(ktest_metric(&o, "buffers_new") + ktest_metric(&o, "buffers_reused") == 1000);
    CHECK(ktest_metric(&o, "buffers_new") < 200);
    free(o.output);
    /* No buffer at all. */
    o = RUN("request_server", 64u << 20, "rate=10000", "requests=100", "buffer_bytes=0");
    CHECK(o.rc == 0);
    CHECK(ktest_metric(&o, "buffers_new") == 0);
    free(o.output);
}

/* ---- leak, mode goroutines ----------------------------------------------- */

static void test_leak_goroutines(void)
{
    ktest_outcome_t leak = RUN("leak", 256u << 20, "mode=goroutines", "requests=20000",
                         "request_bytes=1KiB", "retain_percent=10", "release=false");
    ktest_outcome_t rel = RUN("leak", 256u << 20, "mode=goroutines", "requests=20000",
                        "request_bytes=1KiB", "retain_percent=10", "release=true");
    ktest_print("leak goroutines", &leak);
    ktest_print("leak goroutines, release", &rel);
    CHECK(leak.rc == 0);          /* main returned: the task ended, watchers and all */
    CHECK(rel.rc == 0);
    CHECK(ktest_metric(&leak, "leaked_goroutines") == 2000);
    CHECK(ktest_metric(&rel, "leaked_goroutines") == 0);
    CHECK(ktest_metric(&leak, "retained_objects") == 2000);
    CHECK(ktest_metric(&rel, "retained_objects") == 0);
    /* Each holds its request and some stack. */
    CHECK(ktest_metric(&leak, "live_bytes_end") >= 2000.0 * 1024);
    CHECK(ktest_metric(&leak, "leaked_stack_bytes") >= 2000.0 * 64);
    CHECK(ktest_metric(&rel, "leaked_stack_bytes") < 64 * 1024);
    CHECK(ktest_metric(&rel, "live_bytes_end") * 5 < ktest_metric(&leak, "live_bytes_end"));
    /* Go's sizes: 2 KiB each at least; the real pages are fewer. */
    CHECK(ktest_metric(&leak, "leaked_stack_bytes") >= 2000.0 * 2048);
    CHECK(ktest_metric(&leak, "leaked_stack_real_bytes") > 0);
    /* Left blocked when main returned: counted, not waited for. */
    CHECK(ktest_metric(&leak, "goroutines_alive_at_exit") == 2000);
    CHECK(isnan(ktest_metric(&rel, "goroutines_alive_at_exit")));
    CHECK(leak.output && strstr(leak.output, "goroutines alive at exit: 2000, blocked on: "
                                             "chan receive 2000"));
    CHECK(isnan(ktest_metric(&leak, "table_slots")));
    CHECK(leak.output && strstr(leak.output, "2000 started, 2000 still blocked"));
    CHECK(rel.output && strstr(rel.output, "2000 started, 0 still blocked"));
    free(leak.output);
    free(rel.output);
}

/* Watchers holding 64 KiB each outgrow a 64 MiB heap: the task fails with
** "out of memory" and its blocked watchers are unwound; releasing, it fits. */
static void test_leak_goroutines_out_of_memory(void)
{
    ktest_outcome_t leak = RUN("leak", 64u << 20, "mode=goroutines", "requests=2000",
                         "request_bytes=64KiB", "retain_percent=100");
    ktest_outcome_t rel = RUN("leak", 64u << 20, "mode=goroutines", "requests=2000",
                        "request_bytes=64KiB", "retain_percent=100", "release=true");
    CHECK(leak.rc == SCHED_EFAILED);
    CHECK(strstr(leak.failure, "out of memory") != NULL);
    if (!strstr(leak.failure, "out of memory"))
        fprintf(stderr, "failure was: %s\n", leak.failure);
    ktest_print("leak goroutines, 100% released", &rel);
    CHECK(rel.rc == 0);
    CHECK(ktest_metric(&rel, "leaked_goroutines") == 0);
    free(leak.output);
    free(rel.output);
}

/* sessions: the leak keeps every session it opens (5 % of the requests,
** each holding its parsed fields); with evict, max_sessions of them. */
static void test_sessions(void)
{
    ktest_outcome_t leak = RUN("sessions", 128u << 20, "requests=20000",
                               "new_session_percent=5");
    ktest_outcome_t ring = RUN("sessions", 128u << 20, "requests=20000",
                               "new_session_percent=5", "evict=true", "max_sessions=100");
    ktest_print("sessions", &leak);
    ktest_print("sessions evict", &ring);
    CHECK(leak.rc == 0 && ring.rc == 0);
    CHECK(ktest_metric(&leak, "sessions_opened") == 1000);
    CHECK(ktest_metric(&leak, "sessions_held") == 1000);
    CHECK(ktest_metric(&ring, "sessions_opened") == 1000);
    CHECK(ktest_metric(&ring, "sessions_held") == 100);
    /* 1,000 sessions of 520 B (512 and a slot: the 576 B class) and 4
    ** fields of 56 B each (the 64 B class): at least 832 KB held; the ring
    ** holds a tenth. */
    CHECK(ktest_metric(&leak, "live_bytes_end") >= 1000.0 * (576 + 4 * 64));
    CHECK(ktest_metric(&ring, "live_bytes_end") * 5 < ktest_metric(&leak, "live_bytes_end"));
    free(leak.output);
    free(ring.output);
}

int main(void)
{
    test_pc_exactly_once();
    test_pc_sleep_work();
    test_pc_spin_does_not_overlap();
    test_copy_vs_pointer();
    test_copy_vs_pointer_edges();
    test_pool();
    test_pool_large_buffers();
    test_request_server();
    test_request_server_pool_and_poisson();
    test_leak_goroutines();
    test_leak_goroutines_out_of_memory();
    test_sessions();
    return ktest_finish("kernels3_test");
}
