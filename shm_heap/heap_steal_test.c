/*
** shm_heap/heap_steal_test.c -- parallel marking across processes: one
** process makes all the grey work, the others take part of it from its
** steal queue (heap_int.h, STEAL QUEUE), and the mark ends with nothing
** lost and nothing greyed twice.
**
** Process A owns a tree: a root object with FANOUT children, each with
** LEAVES leaf objects (noscan). A begins a concurrent mark and scans the
** root: FANOUT grey children, half of them offered in its steal queue.
** Then, in three cycles, with every step ordered by the test (no timing):
**
**   1. B, then C, each take a part from the queues in a small mark step
**      and leave the heap (which makes each scan what it took); A ends
**      the mark, taking what the queues still hold.
**   2. B takes a part and stays in the heap holding it while A ends the
**      mark: B must scan what it holds as it stops for A's mark
**      termination (termination across processes with work in flight).
**   3. C runs the idle mark worker (heap_mark_idle, no deadline): it
**      takes everything offered, and, finding no work left anywhere,
**      ends the mark itself.
**   4. On a second heap with the stop-the-world collector, B and C stop
**      at safepoints for A's collection and help it mark (HELPING): the
**      collector waits for both to join and for its first offer to be
**      taken (heap__set_help_test), so the helpers have work to do.
**
** Each process counts the objects it greyed and the queue entries it took
** from others (heap__mark_counts). Every cycle: the helpers took and
** greyed something, a helper greys LEAVES objects per child it scanned
** (so a multiple of LEAVES, at most LEAVES per entry it took), the counts
** of all processes add up to exactly the tree (each object greyed once,
** none missed), the cycle's live objects are the tree, and the heap
** verifies with the whole tree intact.
*/
#include "shm_heap/heap_int.h"
#include "shm_heap/heap_testutil.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define FANOUT 256
#define LEAVES 8
#define TREE_OBJECTS (1 + FANOUT + FANOUT * LEAVES)
#define NCHILD 3
#define NCYCLES 3

enum { A = 0, B = 1, C = 2 };

typedef struct shared {
    tu_barrier_t barrier;            /* NCHILD children + the parent */
    uint32_t turn;                   /* attach order: children in turn */
    uint32_t holding;                /* cycle 2: B holds stolen work */
    uint32_t idle_done;              /* cycle 3: C's idle worker returned */
    uint64_t greyed[NCYCLES][NCHILD];
    uint64_t stolen[NCYCLES][NCHILD];
    uint64_t held_greyed;            /* cycle 2: B's count before it stopped */
    uint64_t steals[NCYCLES];        /* the header's count, at each mark end */
    uint32_t stw_ready[NCHILD];      /* part 4: B and C inside the stw heap */
    uint32_t stw_done;               /* part 4: A's collection returned */
    uint64_t stw_greyed[NCHILD], stw_stolen[NCHILD];
    char name[128];
    char stw_name[128];
} shared_t;

typedef struct child_arg {
    shared_t *sh;
    int who;
} child_arg_t;

static void counts(heap_t *h, uint64_t *greyed, uint64_t *stolen)
{
    heap__mark_counts(h, greyed, stolen);
}

static void check_tree(heap_t *h)
{
    heap_ref_t root = heap_globals(h, 1)[0];
    const heap_ref_t *kids = heap_ptr(h, root);
    for (uint32_t i = 0; i < FANOUT; i++) {
        REQUIRE(kids[i] != 0 && heap_obj_nptrs(h, kids[i]) == LEAVES);
        const heap_ref_t *leaves = heap_ptr(h, kids[i]);
        for (uint32_t k = 0; k < LEAVES; k++)
            REQUIRE(leaves[k] != 0 && heap_obj_nptrs(h, leaves[k]) == 0);
    }
}

/* A, entered: begin a mark and grey the children, offering half of them. */
static void a_begin(heap_t *h)
{
    REQUIRE_RC(heap__mark_begin(h), 0, heap_strerror);
    /* The root's slots: FANOUT children grey, then steal_offer. */
    REQUIRE(heap__mark_step(h, FANOUT * sizeof(heap_ref_t)) == FANOUT * sizeof(heap_ref_t));
}

static void child(void *arg)
{
    child_arg_t *ca = arg;
    shared_t *sh = ca->sh;
    int who = ca->who;
    while (__atomic_load_n(&sh->turn, __ATOMIC_SEQ_CST) != (uint32_t)who)
        sched_yield();
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(sh->name, NULL, false, &h), 0, heap_strerror);
    __atomic_store_n(&sh->turn, (uint32_t)who + 1, __ATOMIC_SEQ_CST);
    if (who == A) {
        heap_enter(h);
        tu_build_tree(h, FANOUT, LEAVES);
        heap_leave(h);
    }
    tu_barrier_wait(&sh->barrier);   /* 0: attached, tree built */

    for (int cyc = 0; cyc < NCYCLES; cyc++) {
        uint64_t g0, s0, g1, s1;
        counts(h, &g0, &s0);
        if (who == A) {
            heap_enter(h);
            a_begin(h);
            heap_leave(h);   /* scans what it kept; the queue stays offered */
        }
        tu_barrier_wait(&sh->barrier);   /* 1: work offered */
        if (cyc == 0 && who != A) {
            /* B first, then C: each takes a part and scans it. */
            for (int turn = B; turn <= C; turn++) {
                if (who == turn) {
                    heap_enter(h);
                    heap__mark_step(h, LEAVES * sizeof(heap_ref_t));
                    heap_leave(h);
                }
                tu_barrier_wait(&sh->barrier);
            }
        } else if (cyc == 0) {
            tu_barrier_wait(&sh->barrier);
            tu_barrier_wait(&sh->barrier);
        }
        if (cyc == 1 && who == B) {
            heap_enter(h);
            heap__mark_step(h, LEAVES * sizeof(heap_ref_t));
            counts(h, &sh->held_greyed, &s1);
            sh->held_greyed -= g0;
            REQUIRE(h->mark_len > 0);   /* still holding stolen work */
            __atomic_store_n(&sh->holding, 1, __ATOMIC_SEQ_CST);
            /* No safepoint until A asks for the stop. */
            while (__atomic_load_n(&h->hdr->stw, __ATOMIC_SEQ_CST) == 0)
                sched_yield();
            heap_safepoint(h);
            heap_leave(h);
        }
        if (cyc == 1 && who == A) {
            while (!__atomic_load_n(&sh->holding, __ATOMIC_SEQ_CST))
                sched_yield();
        }
        if (cyc == 2 && who == C) {
            heap_enter(h);
            REQUIRE(heap_mark_idle(h, UINT64_MAX) > 0);
            REQUIRE_MSG(!heap__mark_running(h), "the idle worker found no work and ended the mark");
            heap_leave(h);
            __atomic_store_n(&sh->idle_done, 1, __ATOMIC_SEQ_CST);
        }
        if (cyc == 2 && who == A) {
            while (!__atomic_load_n(&sh->idle_done, __ATOMIC_SEQ_CST))
                sched_yield();
        }
        if (who == A) {
            heap_enter(h);
            sh->steals[cyc] = __atomic_load_n(&h->hdr->mark_steals, __ATOMIC_RELAXED);
            heap__mark_end(h);
            REQUIRE(!heap__mark_running(h));
            check_tree(h);
            heap_leave(h);
        }
        tu_barrier_wait(&sh->barrier);   /* 2: mark over */
        counts(h, &g1, &s1);
        sh->greyed[cyc][who] = g1 - g0;
        sh->stolen[cyc][who] = s1 - s0;
        tu_barrier_wait(&sh->barrier);   /* 3: counted */
    }
    heap_close(&h, false);

    /* 4: the stop-the-world heap, B and C helping A's collection. */
    h = NULL;
    REQUIRE_RC(heap_open(sh->stw_name, NULL, false, &h), 0, heap_strerror);
    uint64_t g0, s0, g1, s1;
    counts(h, &g0, &s0);
    heap_enter(h);
    if (who == A)
        tu_build_tree(h, FANOUT, LEAVES);
    heap_leave(h);
    tu_barrier_wait(&sh->barrier);   /* tree built */
    heap_enter(h);
    if (who == A) {
        while (!__atomic_load_n(&sh->stw_ready[B], __ATOMIC_SEQ_CST) ||
               !__atomic_load_n(&sh->stw_ready[C], __ATOMIC_SEQ_CST))
            sched_yield();
        heap__set_help_test(h, 2);
        REQUIRE_RC(heap_collect(h), 0, heap_strerror);
        check_tree(h);
        __atomic_store_n(&sh->stw_done, 1, __ATOMIC_SEQ_CST);
    } else {
        __atomic_store_n(&sh->stw_ready[who], 1, __ATOMIC_SEQ_CST);
        while (!__atomic_load_n(&sh->stw_done, __ATOMIC_SEQ_CST))
            heap_safepoint(h);
    }
    heap_leave(h);
    counts(h, &g1, &s1);
    sh->stw_greyed[who] = g1 - g0;
    sh->stw_stolen[who] = s1 - s0;
    tu_barrier_wait(&sh->barrier);   /* counted */
    heap_close(&h, false);
}

int main(void)
{
    tu_init("heap_steal_test", 0);
    shared_t *sh = tu_shared(sizeof *sh);
    sh->barrier.n = NCHILD + 1;
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.gogc = HEAP_GOGC_OFF;   /* only the marks the test begins */
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(sh->name, sizeof sh->name, "steal"), &cfg, true, &h), 0,
               heap_strerror);
    heap_config_t stw_cfg = cfg;
    stw_cfg.collector = HEAP_COLLECTOR_STW;
    heap_t *hs = NULL;
    REQUIRE_RC(heap_open(tu_segment(sh->stw_name, sizeof sh->stw_name, "stw"), &stw_cfg, true, &hs),
               0, heap_strerror);
    child_arg_t args[NCHILD];
    pid_t pids[NCHILD];
    for (int i = 0; i < NCHILD; i++) {
        args[i] = (child_arg_t){ sh, i };
        pids[i] = tu_fork(child, &args[i]);
    }
    tu_barrier_wait(&sh->barrier);   /* 0 */
    for (int cyc = 0; cyc < NCYCLES; cyc++) {
        tu_barrier_wait(&sh->barrier);   /* 1 */
        if (cyc == 0) {
            tu_barrier_wait(&sh->barrier);
            tu_barrier_wait(&sh->barrier);
        }
        tu_barrier_wait(&sh->barrier);   /* 2 */
        tu_barrier_wait(&sh->barrier);   /* 3 */

        heap_stats_t st;
        heap_stats_read(h, &st);
        heap_gc_cycle_t c;
        REQUIRE(heap_gc_history(h, (uint32_t)st.num_gc - 1, &c, 1) == 1);
        uint64_t sum = 0;
        for (int p = 0; p < NCHILD; p++)
            sum += sh->greyed[cyc][p];
        printf("cycle %d: greyed A %llu B %llu C %llu (sum %llu of %d); took from others "
               "A %llu B %llu C %llu; live objects %lld\n",
               cyc + 1, (unsigned long long)sh->greyed[cyc][A],
               (unsigned long long)sh->greyed[cyc][B], (unsigned long long)sh->greyed[cyc][C],
               (unsigned long long)sum, TREE_OBJECTS, (unsigned long long)sh->stolen[cyc][A],
               (unsigned long long)sh->stolen[cyc][B], (unsigned long long)sh->stolen[cyc][C],
               (long long)c.fields.objects_live);
        CHECK_MSG(sum == TREE_OBJECTS, "cycle %d: %llu objects greyed, the tree has %d", cyc + 1,
                  (unsigned long long)sum, TREE_OBJECTS);
        CHECK(c.fields.objects_live == TREE_OBJECTS);
        CHECK(c.fields.concurrent);
        /* A takes nothing from the others: it made all the work. */
        CHECK(sh->stolen[cyc][A] == 0);
        int helpers[2] = { B, C };
        int nhelp = cyc == 0 ? 2 : 1;
        if (cyc == 2)
            helpers[0] = C;
        uint64_t taken = 0;
        for (int k = 0; k < nhelp; k++) {
            int p = helpers[k];
            CHECK_MSG(sh->stolen[cyc][p] > 0 && sh->greyed[cyc][p] > 0,
                      "cycle %d: process %d took %llu entries, greyed %llu", cyc + 1, p,
                      (unsigned long long)sh->stolen[cyc][p],
                      (unsigned long long)sh->greyed[cyc][p]);
            /* Children only: LEAVES leaves greyed per child scanned. */
            CHECK(sh->greyed[cyc][p] % LEAVES == 0);
            CHECK(sh->greyed[cyc][p] <= LEAVES * sh->stolen[cyc][p]);
            taken += sh->stolen[cyc][p];
        }
        /* Entries B took while helping A's mark termination (cycle 2) are
        ** not steals of the concurrent mark. */
        CHECK(cyc == 1 ? sh->steals[cyc] <= taken : sh->steals[cyc] == taken);
        for (int p = 0; p < NCHILD; p++) {
            bool helper = p == helpers[0] || (nhelp == 2 && p == helpers[1]);
            if (!helper && p != A)
                CHECK(sh->greyed[cyc][p] == 0 && sh->stolen[cyc][p] == 0);
        }
        if (cyc == 1) {
            /* B scanned what it still held when it stopped for A. */
            CHECK_MSG(sh->greyed[cyc][B] > sh->held_greyed,
                      "B greyed %llu before the stop, %llu in all",
                      (unsigned long long)sh->held_greyed,
                      (unsigned long long)sh->greyed[cyc][B]);
        }
        if (cyc == 2) {
            /* The idle worker did everything A offered: FANOUT/2 children. */
            CHECK(sh->greyed[cyc][C] == (FANOUT / 2) * LEAVES);
        }
    }
    tu_barrier_wait(&sh->barrier);   /* 4: tree built */
    tu_barrier_wait(&sh->barrier);   /* counted */
    {
        heap_stats_t st;
        heap_stats_read(hs, &st);
        heap_gc_cycle_t c;
        REQUIRE(heap_gc_history(hs, (uint32_t)st.num_gc - 1, &c, 1) == 1);
        uint64_t sum = sh->stw_greyed[A] + sh->stw_greyed[B] + sh->stw_greyed[C];
        printf("stop-the-world, helped: greyed A %llu B %llu C %llu (sum %llu of %d); took from "
               "others B %llu C %llu; live objects %lld\n",
               (unsigned long long)sh->stw_greyed[A], (unsigned long long)sh->stw_greyed[B],
               (unsigned long long)sh->stw_greyed[C], (unsigned long long)sum, TREE_OBJECTS,
               (unsigned long long)sh->stw_stolen[B], (unsigned long long)sh->stw_stolen[C],
               (long long)c.fields.objects_live);
        CHECK(!c.fields.concurrent);
        CHECK(c.fields.objects_live == TREE_OBJECTS);
        CHECK_MSG(sum == TREE_OBJECTS, "%llu objects greyed, the tree has %d",
                  (unsigned long long)sum, TREE_OBJECTS);
        CHECK(sh->stw_stolen[B] + sh->stw_stolen[C] > 0);
        CHECK(sh->stw_greyed[B] + sh->stw_greyed[C] > 0);
        for (int p = B; p <= C; p++) {
            CHECK(sh->stw_greyed[p] % LEAVES == 0);
            CHECK(sh->stw_greyed[p] <= LEAVES * sh->stw_stolen[p]);
        }
        REQUIRE_HEAP_VERIFY(hs);
    }
    for (int i = 0; i < NCHILD; i++)
        tu_wait_ok(pids[i]);
    heap_close(&hs, true);
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
    tu_finish();
    return 0;
}
