/*
** shm_heap/heap_help_test.c -- the stopped processes that help a mark
** with the world stopped (heap_int.h, HELPING) are woken without loss,
** and a mark redone because a helper died is done alone.
**
** 1. Lost wakes. On a heap with the stop-the-world collector, A collects
**    NSTOPS times while B and C stop at safepoints and help. Each helper
**    holds at its fault point HEAP__FP_PARKED -- after it looked for a
**    helped mark and before it sleeps -- until A has opened the helped
**    mark and sent its wake: the window in which a wake used to be lost
**    (a parked process then slept until its timeout). A helper counts
**    every sleep that timed out although the wake of a mark it had not
**    helped was sent before it began (heap__help_wakes_missed): 0 for
**    both, every collection joined by both (A waits for them:
**    heap__set_help_test), the tree marked exactly once per stop.
** 2. A helper dies. On a concurrent heap, A ends a mark (mark
**    termination, helped by the parked B); B is SIGKILLed by its own
**    fault point holding entries it just took from A's steal queue. A
**    must mark again from the roots, and alone: exactly one helped mark
**    opened in that cycle (help_last), the tree intact and counted live.
**
** Every step is ordered by the processes themselves; no timing.
*/
#include "shm_heap/heap_int.h"
#include "shm_heap/heap_testutil.h"

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FANOUT 256
#define LEAVES 8
#define TREE_OBJECTS (1 + FANOUT + FANOUT * LEAVES)
#define NSTOPS 40

enum { A = 0, B = 1, C = 2, NCHILD = 3 };

typedef struct shared {
    tu_barrier_t barrier;            /* part 1: the three children + the parent */
    uint32_t ready[NCHILD];
    uint32_t done;
    uint64_t missed[NCHILD];
    uint64_t greyed[NCHILD];
    uint32_t b_parked;               /* part 2: B is in the heap */
    char stw_name[128];
    char conc_name[128];
} shared_t;

typedef struct child_arg {
    shared_t *sh;
    int who;
} child_arg_t;

static int64_t last_live_objects(heap_t *h)
{
    heap_stats_t st;
    heap_stats_read(h, &st);
    heap_gc_cycle_t c;
    REQUIRE(heap_gc_history(h, (uint32_t)st.num_gc - 1, &c, 1) == 1);
    return c.fields.objects_live;
}

/* ---- 1: lost wakes ------------------------------------------------------- */

/* A helper at HEAP__FP_PARKED: hold until the world's owner has opened a
** helped mark this process has not helped and sent its wake, or has
** restarted the world. */
static void hold_until_woken(void *arg, int point)
{
    heap_t *h = arg;
    if (point != HEAP__FP_PARKED)
        return;
    heap__hdr_t *hdr = h->hdr;
    uint32_t owner = __atomic_load_n(&hdr->stw, __ATOMIC_SEQ_CST);
    while (owner != 0 && __atomic_load_n(&hdr->stw, __ATOMIC_SEQ_CST) == owner) {
        uint32_t woken = __atomic_load_n(&hdr->help_woken, __ATOMIC_SEQ_CST);
        if (woken != 0 && woken != h->help_done_gen &&
            __atomic_load_n(&hdr->help_gen, __ATOMIC_SEQ_CST) == woken)
            return;
        sched_yield();
    }
}

static void child_lost_wakes(void *arg)
{
    child_arg_t *ca = arg;
    shared_t *sh = ca->sh;
    int who = ca->who;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(sh->stw_name, NULL, false, &h), 0, heap_strerror);
    heap_enter(h);
    if (who == A)
        tu_build_tree(h, FANOUT, LEAVES);
    heap_leave(h);
    tu_barrier_wait(&sh->barrier);   /* tree built */
    uint64_t g0, s0, g1, s1;
    heap__mark_counts(h, &g0, &s0);
    heap_enter(h);
    if (who == A) {
        while (!__atomic_load_n(&sh->ready[B], __ATOMIC_SEQ_CST) ||
               !__atomic_load_n(&sh->ready[C], __ATOMIC_SEQ_CST))
            sched_yield();
        for (int i = 0; i < NSTOPS; i++) {
            heap__set_help_test(h, 2);   /* both join, and take work */
            REQUIRE_RC(heap_collect(h), 0, heap_strerror);
            REQUIRE_MSG(last_live_objects(h) == TREE_OBJECTS, "stop %d: %lld live", i,
                        (long long)last_live_objects(h));
        }
        __atomic_store_n(&sh->done, 1, __ATOMIC_SEQ_CST);
    } else {
        heap__set_fault_hook(h, hold_until_woken, h);
        __atomic_store_n(&sh->ready[who], 1, __ATOMIC_SEQ_CST);
        while (!__atomic_load_n(&sh->done, __ATOMIC_SEQ_CST))
            heap_safepoint(h);
        heap__set_fault_hook(h, NULL, NULL);
    }
    heap_leave(h);
    heap__mark_counts(h, &g1, &s1);
    sh->greyed[who] = g1 - g0;
    sh->missed[who] = heap__help_wakes_missed(h);
    heap_close(&h, false);
}

static void test_lost_wakes(shared_t *sh)
{
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.gogc = HEAP_GOGC_OFF;
    cfg.collector = HEAP_COLLECTOR_STW;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(sh->stw_name, sizeof sh->stw_name, "stw"), &cfg, true, &h),
               0, heap_strerror);
    sh->barrier.n = NCHILD + 1;
    child_arg_t args[NCHILD];
    pid_t pids[NCHILD];
    for (int i = 0; i < NCHILD; i++) {
        args[i] = (child_arg_t){ sh, i };
        pids[i] = tu_fork(child_lost_wakes, &args[i]);
    }
    tu_barrier_wait(&sh->barrier);
    for (int i = 0; i < NCHILD; i++)
        tu_wait_ok(pids[i]);
    heap_stats_t st;
    heap_stats_read(h, &st);
    printf("lost wakes: %d helped stops; sleeps that missed a wake: B %llu C %llu; "
           "greyed A %llu B %llu C %llu\n", NSTOPS, (unsigned long long)sh->missed[B],
           (unsigned long long)sh->missed[C], (unsigned long long)sh->greyed[A],
           (unsigned long long)sh->greyed[B], (unsigned long long)sh->greyed[C]);
    CHECK(st.num_gc == NSTOPS);
    CHECK_MSG(sh->missed[B] == 0 && sh->missed[C] == 0,
              "helpers slept through %llu and %llu wakes of helped marks",
              (unsigned long long)sh->missed[B], (unsigned long long)sh->missed[C]);
    CHECK(sh->greyed[B] + sh->greyed[C] > 0);
    CHECK(sh->greyed[A] + sh->greyed[B] + sh->greyed[C] == (uint64_t)NSTOPS * TREE_OBJECTS);
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
}

/* ---- 2: a helper dies; the redo is alone --------------------------------- */

/* B, helping: die holding entries just taken from a steal queue, once it
** has taken everything A offered (A waits for that: heap__set_help_test). */
static void die_helping(void *arg, int point)
{
    heap_t *h = arg;
    if (point != HEAP__FP_STEAL_TAKEN || !__atomic_load_n(&h->proc->helping, __ATOMIC_SEQ_CST))
        return;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__steal_q_t *q = &h->hdr->steal[i];
        if (__atomic_load_n(&q->head, __ATOMIC_SEQ_CST) !=
            __atomic_load_n(&q->tail, __ATOMIC_SEQ_CST))
            return;
    }
    kill(getpid(), SIGKILL);
}

static void child_helper_dies(void *arg)
{
    shared_t *sh = arg;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(sh->conc_name, NULL, false, &h), 0, heap_strerror);
    heap__set_fault_hook(h, die_helping, h);
    heap_enter(h);
    __atomic_store_n(&sh->b_parked, 1, __ATOMIC_SEQ_CST);
    /* A safepoint only when the world is asked for: no background marking
    ** here, so the grey work is A's when it ends the mark. */
    for (;;) {
        while (__atomic_load_n(&h->hdr->stw, __ATOMIC_SEQ_CST) == 0)
            sched_yield();
        heap_safepoint(h);
    }
}

static void test_redo_alone(shared_t *sh)
{
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.gogc = HEAP_GOGC_OFF;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(sh->conc_name, sizeof sh->conc_name, "conc"), &cfg, true,
                         &h), 0, heap_strerror);
    heap_enter(h);
    tu_build_tree(h, FANOUT, LEAVES);
    heap_leave(h);
    pid_t pid = tu_fork(child_helper_dies, sh);
    while (!__atomic_load_n(&sh->b_parked, __ATOMIC_SEQ_CST))
        sched_yield();

    heap_enter(h);
    REQUIRE_RC(heap__mark_begin(h), 0, heap_strerror);
    /* The root's slots: FANOUT children grey, half of them offered. */
    heap__mark_step(h, FANOUT * sizeof(heap_ref_t));
    uint32_t opened0 = h->hdr->help_last;
    heap__set_help_test(h, 1);   /* B joins and takes work: it dies there */
    heap__mark_end(h);
    REQUIRE(!heap__mark_running(h));
    uint32_t opened = h->hdr->help_last - opened0;
    int64_t live = last_live_objects(h);
    /* The redo's scan work is the next cycle's expected heap scan, once:
    ** not with the abandoned mark's added (the tree's slots; the
    ** globals are root work). */
    uint64_t heap_scan = heap__atomic_load(&h->hdr->pacer.last_heap_scan_bytes);
    uint64_t want_scan = (uint64_t)(FANOUT + FANOUT * LEAVES) * sizeof(heap_ref_t);
    heap_leave(h);
    int status = tu_wait(pid);
    printf("a helper died: helped marks opened in the cycle %u; live objects %lld of %d\n",
           opened, (long long)live, TREE_OBJECTS);
    REQUIRE_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                "the helper ended with status %#x, not at its fault point", status);
    CHECK_MSG(opened == 1, "%u helped marks opened in the cycle: the redo was not alone",
              opened);
    CHECK(live == TREE_OBJECTS);
    CHECK_MSG(heap_scan == want_scan, "after the redo the next cycle expects %llu B of heap scan, "
              "the heap has %llu B", (unsigned long long)heap_scan, (unsigned long long)want_scan);
    heap_enter(h);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);   /* B's entry is reclaimed */
    CHECK(last_live_objects(h) == TREE_OBJECTS);
    heap_leave(h);
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
}

int main(void)
{
    tu_init("heap_help_test", 0);
    shared_t *sh = tu_shared(sizeof *sh);
    test_lost_wakes(sh);
    test_redo_alone(sh);
    tu_finish();
    return 0;
}
