/*
** shm_heap/heap_oblet_test.c -- a bounded mark step does about the work it
** is asked for, as Go's gcDrainN does: large objects are scanned in
** oblets of at most 128 KiB (Go's maxObletBytes), and the budget is
** checked before each object or oblet, not after a batch of them.
**
** One process holds, from one root slot, an array of ARRAY_SLOTS
** references (3 oblets: 128 KiB, 128 KiB and the rest). Its first oblet
** holds NSMALL objects of SMALL_SLOTS reference slots each (all nil), and
** each oblet holds one noscan object. A concurrent mark is begun and
** driven by hand (heap__mark_step, an assist's bounded drain):
**
**   1. A step asked for 1 byte scans the array's first oblet only:
**      exactly 128 KiB, not the whole array (without oblets: all of it).
**   2. The next step asked for 1 byte scans one small object, not the
**      batch the prefetch FIFO popped ahead (without the check between
**      objects: 16 of them).
**   3. The rest of the mark adds up, with steps 1 and 2, to exactly the
**      array's slots plus the small objects' slots: every piece scanned
**      once, and the work counted as Go counts it.
**   4. After the mark, every object of every oblet is alive (the heap
**      verifies, and each one is still allocated).
**   5. A second process, attached when the mark begins, takes oblets
**      from the first one's steal queue and scans them: an oblet is a
**      reference into the middle of an object, found again from its span.
**   6. The fractional background worker, once it runs (at a scheduling
**      point, its time under its share), drains at least Go's
**      drainCheckThreshold (100,000 B of scan work) before it asks
**      whether to stop (pollFractionalWorkerExit), however little time
**      it was owed: right after the mark begins, a few microseconds'.
*/
#include "shm_heap/heap_int.h"
#include "shm_heap/heap_testutil.h"

#include <sched.h>
#include <stdio.h>
#include <time.h>

#define OBLET_BYTES (128u << 10)
#define ARRAY_SLOTS 40000u                 /* 312.5 KiB: 3 oblets */
#define NSMALL 64u
#define SMALL_SLOTS 64u                    /* 512 B of slots each */
#define BIG_OBLETS 12u                     /* part 5: an array of 12 oblets */
#define BIG_SLOTS (BIG_OBLETS * (OBLET_BYTES / 8))

typedef struct shared {
    char name[128];
    uint32_t attached;        /* part 5: B is attached */
    uint32_t offered;         /* A began the mark and offered oblets */
    uint32_t b_done;          /* B took, scanned and left */
    uint64_t b_work;          /* what B's step did */
    uint64_t b_stolen;        /* entries B took from A's queue */
} shared_t;

/* A new heap of the default size with GOGC off (no cycle but the ones a
** test begins), its segment named from token into name, entered, with one
** root stack (*rs) whose one slot (*root) holds a new array of `slots`
** refs. Destroy *rs (in the heap) when done. */
static heap_t *open_with_array(char *name, size_t size, const char *token, uint32_t slots,
                               heap_roots_t **rs, heap_ref_t **root)
{
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.gogc = HEAP_GOGC_OFF;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, size, token), &cfg, true, &h), 0, heap_strerror);
    heap_enter(h);
    *rs = heap_roots_new(h, 1);
    REQUIRE(*rs != NULL);
    *root = heap_roots_push(*rs, 1);
    REQUIRE(*root != NULL);
    **root = heap_alloc(h, slots, 0);
    REQUIRE(**root != 0);
    return h;
}

static void part_one(void)
{
    char name[128];
    heap_roots_t *rs;
    heap_ref_t *root;
    heap_t *h = open_with_array(name, sizeof name, "oblet", ARRAY_SLOTS, &rs, &root);
    heap_ref_t small[NSMALL];
    for (uint32_t i = 0; i < NSMALL; i++) {
        small[i] = heap_alloc(h, SMALL_SLOTS, 0);
        REQUIRE(small[i] != 0);
        heap_write_ref(h, *root, i, small[i]);
    }
    /* One noscan object in each oblet, the last slot of the array too. */
    uint32_t at[3] = { NSMALL, OBLET_BYTES / 8 + 5, ARRAY_SLOTS - 1 };
    heap_ref_t leaf[3];
    for (int k = 0; k < 3; k++) {
        leaf[k] = heap_alloc(h, 0, 100);
        REQUIRE(leaf[k] != 0);
        heap_write_ref(h, *root, at[k], leaf[k]);
    }

    REQUIRE_RC(heap__mark_begin(h), 0, heap_strerror);
    REQUIRE(heap__mark_running(h));
    /* The root stack scanned as this process joined: the array is grey. */
    REQUIRE(h->mark_len == 1);

    /* 1. One oblet, not the array. */
    uint64_t w1 = heap__mark_step(h, 1);
    printf("step of 1 B over a %u-slot array: %llu B scanned\n", ARRAY_SLOTS,
           (unsigned long long)w1);
    CHECK_MSG(w1 == OBLET_BYTES, "a step owing 1 B scanned %llu B of a %u B array",
              (unsigned long long)w1, ARRAY_SLOTS * 8);

    /* 2. One small object, not a FIFO's worth. */
    uint64_t w2 = heap__mark_step(h, 1);
    printf("step of 1 B over %u grey objects of %u B of slots: %llu B scanned\n", NSMALL,
           SMALL_SLOTS * 8, (unsigned long long)w2);
    CHECK_MSG(w2 == SMALL_SLOTS * 8, "a step owing 1 B scanned %llu B (objects of %u B)",
              (unsigned long long)w2, SMALL_SLOTS * 8);

    /* 3. The rest, and the sum. */
    uint64_t rest = 0, w;
    while ((w = heap__mark_step(h, UINT64_MAX)) > 0)
        rest += w;
    uint64_t total = w1 + w2 + rest;
    uint64_t want = (uint64_t)ARRAY_SLOTS * 8 + (uint64_t)NSMALL * SMALL_SLOTS * 8;
    CHECK_MSG(total == want, "the mark scanned %llu B, the array and its objects hold %llu B",
              (unsigned long long)total, (unsigned long long)want);
    REQUIRE(h->mark_len == 0);

    /* 4. Nothing lost. */
    heap__mark_end(h);
    REQUIRE(!heap__mark_running(h));
    while (heap__sweep_some(h, 1u << 30))
        ;
    char why[160];
    for (int k = 0; k < 3; k++)
        CHECK_MSG(heap__check_ref(h, leaf[k], false, why, sizeof why) == 0,
                  "the object in oblet %d: %s", k, why);
    for (uint32_t i = 0; i < NSMALL; i++)
        CHECK(heap__check_ref(h, small[i], false, why, sizeof why) == 0);
    REQUIRE_HEAP_VERIFY(h);
    heap_roots_destroy(h, &rs);
    heap_leave(h);
    heap_close(&h, true);
}

/* Part 5, process B: attached before A begins the mark; then takes
** from A's steal queue in one small step and leaves. */
static void b_main(void *arg)
{
    shared_t *sh = arg;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(sh->name, NULL, false, &h), 0, heap_strerror);
    __atomic_store_n(&sh->attached, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&sh->offered, __ATOMIC_SEQ_CST))
        sched_yield();
    heap_enter(h);
    uint64_t greyed0, stolen0, greyed1, stolen1;
    heap__mark_counts(h, &greyed0, &stolen0);
    sh->b_work = heap__mark_step(h, 1);
    heap__mark_counts(h, &greyed1, &stolen1);
    sh->b_stolen = stolen1 - stolen0;
    heap_leave(h);   /* scans what else it took */
    __atomic_store_n(&sh->b_done, 1, __ATOMIC_SEQ_CST);
    heap_close(&h, false);
}

static void part_five(void)
{
    shared_t *sh = tu_shared(sizeof *sh);
    heap_roots_t *rs;
    heap_ref_t *root;
    heap_t *h = open_with_array(sh->name, sizeof sh->name, "obsteal", BIG_SLOTS, &rs, &root);
    heap_ref_t leaf[BIG_OBLETS];
    for (uint32_t k = 0; k < BIG_OBLETS; k++) {
        leaf[k] = heap_alloc(h, 0, 100);
        REQUIRE(leaf[k] != 0);
        heap_write_ref(h, *root, k * (OBLET_BYTES / 8) + 7, leaf[k]);
    }
    heap_leave(h);
    pid_t pid = tu_fork(b_main, sh);
    while (!__atomic_load_n(&sh->attached, __ATOMIC_SEQ_CST))
        sched_yield();

    heap_enter(h);
    REQUIRE_RC(heap__mark_begin(h), 0, heap_strerror);
    /* The first oblet; the other BIG_OBLETS - 1 are queued here, and as
    ** there are more than a few, the top half goes to the steal queue. */
    CHECK(heap__mark_step(h, 1) == OBLET_BYTES);
    heap__steal_q_t *q = &h->hdr->steal[h->proc_index];
    uint64_t offered = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE) -
                       __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
    REQUIRE_MSG(offered > 0, "no oblets offered (%zu grey here)", h->mark_len);
    heap_leave(h);   /* scans what it kept; the queue stays offered */
    __atomic_store_n(&sh->offered, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&sh->b_done, __ATOMIC_SEQ_CST))
        sched_yield();
    tu_wait_ok(pid);
    printf("B took %llu of %llu oblets offered, its step scanned %llu B\n",
           (unsigned long long)sh->b_stolen, (unsigned long long)offered,
           (unsigned long long)sh->b_work);
    CHECK(sh->b_stolen > 0);
    CHECK_MSG(sh->b_work == OBLET_BYTES, "B's step over stolen oblets scanned %llu B",
              (unsigned long long)sh->b_work);

    heap_enter(h);
    heap__mark_end(h);
    REQUIRE(!heap__mark_running(h));
    heap_stats_t st;
    heap_stats_read(h, &st);
    heap_gc_cycle_t c;
    REQUIRE(heap_gc_history(h, (uint32_t)st.num_gc - 1, &c, 1) == 1);
    /* The array, its objects, the root stack: nothing lost. */
    CHECK_MSG(c.fields.objects_live == 1 + BIG_OBLETS, "%lld objects live, want %u",
              (long long)c.fields.objects_live, 1 + BIG_OBLETS);
    while (heap__sweep_some(h, 1u << 30))
        ;
    char why[160];
    for (uint32_t k = 0; k < BIG_OBLETS; k++)
        CHECK_MSG(heap__check_ref(h, leaf[k], false, why, sizeof why) == 0,
                  "the object in oblet %u: %s", k, why);
    REQUIRE_HEAP_VERIFY(h);
    heap_roots_destroy(h, &rs);
    heap_leave(h);
    heap_close(&h, true);
}

#define DRAIN_CHECK_WORK 100000u
#define FRAC_OBJECTS 1024u                  /* 512 KiB of slots to scan */

static void part_six(void)
{
    char name[128];
    heap_roots_t *rs;
    heap_ref_t *root;
    heap_t *h = open_with_array(name, sizeof name, "obfrac", FRAC_OBJECTS, &rs, &root);
    for (uint32_t i = 0; i < FRAC_OBJECTS; i++) {
        heap_ref_t o = heap_alloc(h, SMALL_SLOTS, 0);
        REQUIRE(o != 0);
        heap_write_ref(h, *root, i, o);
    }
    REQUIRE_RC(heap__mark_begin(h), 0, heap_strerror);
    /* Work done by the background worker is its credit (no assist runs
    ** here: nothing is allocated). */
    int64_t credit0 = __atomic_load_n(&h->hdr->pacer.bg_scan_credit, __ATOMIC_RELAXED);
    heap_schedpoint(h);
    int64_t bg_work = __atomic_load_n(&h->hdr->pacer.bg_scan_credit, __ATOMIC_RELAXED) - credit0;
    printf("background worker's first turn: %lld B of scan work\n", (long long)bg_work);
    CHECK_MSG(bg_work >= (int64_t)DRAIN_CHECK_WORK,
              "the fractional worker did %lld B before asking whether to stop", (long long)bg_work);
    heap__mark_end(h);
    REQUIRE(!heap__mark_running(h));
    REQUIRE_HEAP_VERIFY(h);
    heap_roots_destroy(h, &rs);
    heap_leave(h);
    heap_close(&h, true);
}

/* 7. A turn of the background worker whose steps each end past their
** 100,000 B (an oblet is scanned whole) still stops at the first step's
** end once an interrupt is asked (as Go's gcDrain checks preemption each
** iteration): here asked from the mark's own fault point, the first time
** it is hit. */
#define YIELD_OBLETS 200u
static heap_t *yield_heap;
static int yield_asked;

static void no_op_interrupt(void *arg)
{
    (void)arg;
}

static void ask_interrupt(void *arg, int point)
{
    (void)arg;
    if (point == HEAP__FP_MARK && !yield_asked) {
        yield_asked = 1;
        heap_interrupt(yield_heap);
    }
}

static void part_seven(void)
{
    char name[128];
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.gogc = HEAP_GOGC_OFF;
    cfg.heap_max_bytes = 256u << 20;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, "obyield"), &cfg, true, &h), 0,
               heap_strerror);
    heap_enter(h);
    heap_set_interrupt_hook(h, no_op_interrupt, NULL);
    heap_roots_t *rs = heap_roots_new(h, 1);
    REQUIRE(rs != NULL);
    heap_ref_t *root = heap_roots_push(rs, 1);
    REQUIRE(root != NULL);
    uint32_t slots = YIELD_OBLETS * (OBLET_BYTES / 8);
    *root = heap_alloc(h, slots, 0);
    REQUIRE(*root != 0);
    /* One small object per oblet: the mark hits its fault point (every
    ** 64 objects popped) within the first few oblets. */
    for (uint32_t i = 0; i < slots; i += 64) {
        heap_ref_t o = heap_alloc(h, 1, 0);
        REQUIRE(o != 0);
        heap_write_ref(h, *root, i, o);
    }
    REQUIRE_RC(heap__mark_begin(h), 0, heap_strerror);
    /* A share of the time owed: the worker may run about 25 ms (it did
    ** all 200 oblets, 16 ms here, before the change). */
    struct timespec nap = {0, 100 * 1000000L};
    nanosleep(&nap, NULL);
    uint64_t work0 = heap__atomic_load(&h->hdr->mark_scan_work);
    yield_heap = h;
    heap__set_fault_hook(h, ask_interrupt, NULL);
    heap_schedpoint(h);
    heap__set_fault_hook(h, NULL, NULL);
    uint64_t work = heap__atomic_load(&h->hdr->mark_scan_work) - work0;
    printf("background turn with an interrupt asked in its first step: %llu B (%u oblets)\n",
           (unsigned long long)work, (unsigned)(work / OBLET_BYTES));
    REQUIRE(yield_asked);
    CHECK_MSG(work <= 3ull * OBLET_BYTES,
              "the turn went on for %llu B after an interrupt was asked", (unsigned long long)work);
    heap_safepoint(h);   /* delivers the interrupt */
    heap__mark_end(h);
    REQUIRE_HEAP_VERIFY(h);
    heap_roots_destroy(h, &rs);
    heap_leave(h);
    heap_close(&h, true);
}

int main(void)
{
    tu_init("heap_oblet_test", 120);
    part_one();
    part_five();
    part_six();
    part_seven();
    tu_finish();
    return 0;
}
