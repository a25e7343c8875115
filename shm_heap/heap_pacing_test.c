/*
** shm_heap/heap_pacing_test.c -- what the collector tells Go 1.19's pacer
** during and at the end of a concurrent mark (heap_pacer_test checks the
** pacer alone, on synthetic cycles).
**
** 1. Scan work is published as it is done. Go's gcDrain flushes its scan
**    work into gcController every gcCreditSlack bytes, and revise() sets
**    the assist ratio from (expected - done) / (goal - heapLive). A
**    collector that keeps its work to itself until the mark ends leaves
**    revise() at "nothing done": assists overpay and the mark ends early.
** 2. The cycle's end gives the pacer heapLive as it was when marking ended
**    (Go's endCycle runs before resetLive), so cons/mark learns how much
**    was allocated during the mark. Given the marked heap instead, which
**    is below the trigger, the pacer learns nothing and cons/mark stays at
**    0: no runway, and every trigger at 0.95 of the way to the goal.
** 3. The background mark worker runs at scheduling points only
**    (heap_schedpoint), not at every safepoint poll.
** 4. Globals count once, as the goal's globals, not as stack scan too.
** 5. A process's root scan as it joins the mark pays its first assists,
**    and the pacer counts that work done at once.
** 6. The heap scan work the next cycle expects (Go's lastHeapScan, from
**    heapScanWork) is the heap objects' slots only: the roots' (stacks,
**    globals) are the expected work's other terms. Counted in both, the
**    globals would be expected twice, the assist ratio would be too high
**    and the mark would end early.
** 7. An assist does at least 64 KiB of scan work (gcOverAssistWork).
*/
#include "shm_heap/heap_int.h"
#include "shm_heap/heap_testutil.h"

#include <math.h>
#include <stdio.h>

#define LIVE_OBJECTS 20000   /* the live set: 20,000 objects of 256 B */
#define LIVE_BYTES 256
#define GLOBAL_SLOTS 4096u

int main(void)
{
    tu_init("heap_pacing_test", 120);
    char name[128];
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.heap_max_bytes = 256u << 20;
    cfg.gogc = 100;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, "pacing"), &cfg, true, &h), 0,
               heap_strerror);
    heap_enter(h);
    heap__hdr_t *hdr = h->hdr;

    /* A live set held by one array of references, as the churn kernel's. */
    /* Globals, as the runtime registers its own (all nil). */
    REQUIRE(heap_globals(h, GLOBAL_SLOTS) != NULL);
    heap_roots_t *rs = heap_roots_new(h, 1);
    REQUIRE(rs != NULL);
    heap_ref_t *root = heap_roots_push(rs, 1);
    REQUIRE(root != NULL);
    *root = heap_alloc(h, LIVE_OBJECTS, 0);
    REQUIRE(*root != 0);
    for (uint32_t i = 0; i < LIVE_OBJECTS; i++) {
        heap_ref_t o = heap_alloc(h, 1, LIVE_BYTES - 8);
        REQUIRE(o != 0);
        heap_write_ref(h, *root, i, o);
    }
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    /* 4. Globals are the goal's globals term, not part of its stacks. */
    CHECK_MSG(heap__atomic_load(&hdr->pacer.globals_scan_bytes) == GLOBAL_SLOTS * 8,
              "globals %llu B", (unsigned long long)heap__atomic_load(&hdr->pacer.globals_scan_bytes));
    CHECK_MSG(heap__atomic_load(&hdr->pacer.last_stack_scan_bytes) < GLOBAL_SLOTS * 8,
              "stack scan %llu B counts the globals",
              (unsigned long long)heap__atomic_load(&hdr->pacer.last_stack_scan_bytes));
    uint64_t marked = heap__atomic_load(&hdr->pacer.heap_marked_bytes);
    REQUIRE_MSG(marked >= (uint64_t)LIVE_OBJECTS * LIVE_BYTES, "marked %llu B",
                (unsigned long long)marked);

    /* The forced cycle above may have taught the pacer already: start
    ** the next one from an untaught cons/mark (no runway: the trigger at
    ** 0.95 of the way to the goal). */
    hdr->pacer.cons_mark = 0.0;
    hdr->pacer.pi_err_integral = 0.0;

    /* Garbage up to just below the trigger, so that the mark starts
    ** about where a paced one would and what it allocates black stays a
    ** small part of the marked heap. */
    uint64_t next_trigger = heap__pacer_trigger(&hdr->pacer, HEAP__PACER_NONE, NULL);
    REQUIRE(next_trigger > marked + (256u << 10));
    while (heap__atomic_load(&hdr->heap_live_bytes) + (64u << 10) < next_trigger)
        REQUIRE(heap_alloc(h, 0, 1024) != 0);
    REQUIRE(!heap__mark_running(h));

    /* 1. Scan work done by this process is the pacer's at once. */
    REQUIRE_RC(heap__mark_begin(h), 0, heap_strerror);
    REQUIRE(heap__mark_running(h));
    /* 5. The roots this process scanned as it joined (its globals among
    ** them) are mark work it is paid for, as Go's root jobs pay the
    ** assist that does them: credit against its first assists. */
    CHECK_MSG(h->assist_debt <= -(int64_t)(GLOBAL_SLOTS * 8),
              "assist debt %lld after scanning %u global slots", (long long)h->assist_debt,
              GLOBAL_SLOTS);
    /* ... and done work the pacer sees at once (Go's markroot adds it to
    ** globalsScanWork and stackScanWork as it goes): revise() sets the
    ** assist ratio from the work left, and so with these counted done. */
    CHECK_MSG(heap__atomic_load(&hdr->mark_scan_work) >= GLOBAL_SLOTS * 8,
              "the pacer sees %llu B of scan work after a root scan of %u global slots",
              (unsigned long long)heap__atomic_load(&hdr->mark_scan_work), GLOBAL_SLOTS);
    uint64_t done = heap__mark_step(h, 64 << 10);
    CHECK_MSG(done > 0, "a mark step did no work");
    uint64_t seen = heap__atomic_load(&hdr->mark_scan_work);
    CHECK_MSG(seen >= done, "the pacer sees %llu B of scan work while %llu B are done",
              (unsigned long long)seen, (unsigned long long)done);

    /* 7. An assist does at least Go's gcOverAssistWork (64 KiB) of scan
    ** work when the mark has it, however little it owes: the rest is
    ** credit for the allocations after it (Go's gcAssistAlloc). Paying
    ** exactly the debt, heapsim assisted at nearly every span and a
    ** one-goroutine program's mark lasted longer in allocation. */
    __atomic_store_n(&hdr->pacer.bg_scan_credit, 0, __ATOMIC_RELAXED);
    h->assist_debt = 0;
    heap__mark_assist_charge(h, 64);
    CHECK_MSG(h->assist_debt <= -(int64_t)HEAP__PACER_OVER_ASSIST_WORK / 2,
              "after an assist owing the work of 64 B: debt %lld (want credit of about %lld)",
              (long long)h->assist_debt, (long long)HEAP__PACER_OVER_ASSIST_WORK);

    /* 2. Allocate past the trigger while the mark runs (a test process
    ** never reaches a safepoint here, so the mark does not end by itself),
    ** then end it: cons/mark must have learned from that allocation. */
    uint64_t triggered = heap__atomic_load(&hdr->pacer.triggered_bytes);
    REQUIRE(triggered != HEAP__PACER_NONE);
    int n = 0;
    while (heap__atomic_load(&hdr->heap_live_bytes) < triggered + (64u << 10) && n < 1000000) {
        REQUIRE(heap_alloc(h, 0, 1024) != 0);
        n++;
    }
    REQUIRE(heap__mark_running(h));
    uint64_t live_end = heap__atomic_load(&hdr->heap_live_bytes);
    REQUIRE_MSG(live_end > triggered, "heapLive %llu not past the trigger %llu",
                (unsigned long long)live_end, (unsigned long long)triggered);
    heap__mark_end(h);
    REQUIRE(!heap__mark_running(h));
    /* The test's premise: the marked heap stays below the trigger. */
    REQUIRE_MSG(heap__atomic_load(&hdr->pacer.heap_marked_bytes) < triggered,
                "marked %llu B, trigger %llu B",
                (unsigned long long)heap__atomic_load(&hdr->pacer.heap_marked_bytes),
                (unsigned long long)triggered);
    /* 6. The heap's scan work: the array's slots and one slot in each
    ** of its objects (what was allocated during the mark is black and
    ** scanned by nobody); not the globals nor the root stack. */
    uint64_t heap_scan = heap__atomic_load(&hdr->pacer.last_heap_scan_bytes);
    uint64_t want_scan = (uint64_t)LIVE_OBJECTS * 8 * 2;
    fprintf(stderr, "heap_pacing_test: heap scan work %llu B (globals %u B apart)\n",
            (unsigned long long)heap_scan, GLOBAL_SLOTS * 8);
    CHECK_MSG(heap_scan == want_scan, "the pacer's last heap scan is %llu B, the heap's slots %llu B",
              (unsigned long long)heap_scan, (unsigned long long)want_scan);
    CHECK(heap__atomic_load(&hdr->heap_scan_bytes) == want_scan);
    double cm = hdr->pacer.cons_mark;
    /* Its sign depends on the split of the CPU (assists past 75 % of the
    ** mark's time make it negative, as Go's formula does); untaught, it is
    ** exactly its initial 0. */
    CHECK_MSG(isfinite(cm) && cm != 0.0,
              "cons/mark %g after a mark that allocated %llu B past its trigger", cm,
              (unsigned long long)(live_end - triggered));
    /* ... and so the next trigger has a runway (0 untaught). */
    uint64_t runway = heap__atomic_load(&hdr->pacer.runway_bytes);
    fprintf(stderr, "heap_pacing_test: cons/mark %.3f, runway %llu B\n", cm,
            (unsigned long long)runway);
    CHECK_MSG(runway > 0, "no runway after a cycle with cons/mark %g", cm);

    /* 3. The background worker takes its share only at a scheduling
    ** point (Go's fractional worker runs when schedule() picks it): a
    ** kernel's own safepoints, however many, leave the grey work to the
    ** assists; the next goroutine switch runs it. A mark of its own, last:
    ** a turn of the worker drains 100,000 B before it asks whether to
    ** stop (Go's drainCheckThreshold) and may end this small mark. */
    while (heap__sweep_some(h, 1u << 30))
        ;
    REQUIRE_RC(heap__mark_begin(h), 0, heap_strerror);
    REQUIRE(heap__mark_running(h) && h->mark_len > 0);
    for (int k = 0; k < 64; k++)
        heap_safepoint(h);
    CHECK_MSG(heap__atomic_load(&hdr->mark_bg_ns) == 0,
              "the background worker ran %llu ns at plain safepoints",
              (unsigned long long)heap__atomic_load(&hdr->mark_bg_ns));
    heap_schedpoint(h);
    CHECK_MSG(heap__atomic_load(&hdr->mark_bg_ns) > 0 || !heap__mark_running(h),
              "no background work at a scheduling point with grey work");
    if (heap__mark_running(h))
        heap__mark_end(h);

    while (heap__sweep_some(h, 1u << 30))
        ;
    REQUIRE_HEAP_VERIFY(h);
    heap_roots_destroy(h, &rs);
    heap_leave(h);
    heap_close(&h, true);
    tu_finish();
    return 0;
}
