/*
** shm_heap/heap_kill_test.c -- a process dies at a bad moment and the
** others must not notice beyond losing its roots.
**
** Each run forks NWORKERS processes mutating their own object graphs in
** one heap (heap_model.h) with frequent collections and verifies. One of
** them is SIGKILLed: in a third of the runs by the parent at a random
** moment, otherwise by itself at a fault point (heap__set_fault_hook):
** holding a central lock in a refill, half way through popping a span off
** a central list or pushing one on, holding the heap lock in a page-heap
** split or while making a fresh span, while linking a root stack, as the
** collector while waiting for the stop, marking or sweeping, or while
** parked; and in the concurrent collector's phases: beginning a mark
** (world stopped), greying its own roots, paying an assist, inside the
** write barrier, ending a mark (world stopped), or in a lazy sweep batch
** (the sweep fault point); or as the background scavenger, holding a
** batch's lease or with pages punched and their span not yet flagged;
** and in parallel marking: offering grey objects
** in its steal queue (slots written, not yet published), holding entries
** just taken from a steal queue (its own or another's), or as the idle
** mark worker (each worker runs it now and then, as a scheduler with
** nothing runnable does), or stopped and helping another process's mark
** with the world stopped (a run in four uses the stop-the-world
** collector, whose whole mark is helped); or half way through cutting a
** span from its page cache, without the heap lock; or as the collector
** ending a concurrent mark, its lazy sweep begun and the cycle not yet
** closed. The survivors must finish with intact graphs and a
** passing heap_verify, nothing may wedge (alarm() watchdog), and after
** everyone is gone a collection must find nothing live.
**
** HEAP_KILL_RUNS sets the number of runs (default 30, ~20 s; the long
** variant is HEAP_KILL_RUNS=100). HEAP_TEST_SEED replays. HEAP_KILL_POINT
** (a fault point's name, or "parent") makes every run's victim die there:
** for hunting a fault that one point shows now and then.
*/
#include "shm_heap/heap.h"
#include "shm_heap/heap_int.h"
#include "shm_heap/heap_model.h"
#include "shm_heap/heap_testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define NWORKERS 3
#define WORKER_STEPS 300000

typedef struct run_plan {
    uint64_t seed;
    int run;
    int victim;
    int fault_point;          /* 0 = killed by the parent */
    uint32_t countdown;       /* fault point hits before dying */
    uint32_t killed_at;       /* written by the victim just before dying */
} run_plan_t;

typedef struct worker_arg {
    run_plan_t *plan;
    int index;
} worker_arg_t;

static const int fault_points[] = {
    HEAP__FP_REFILL_LOCKED, HEAP__FP_PAGE_SPLIT, HEAP__FP_STOP_WAIT, HEAP__FP_MARK,
    HEAP__FP_SWEEP,         HEAP__FP_ROOTS_LINK, HEAP__FP_PARKED,
    HEAP__FP_CENTRAL_POP,   HEAP__FP_CENTRAL_PUSH, HEAP__FP_FRESH_SPAN,
    HEAP__FP_SCAVENGE,
    HEAP__FP_MARK_START,    HEAP__FP_ROOT_SCAN,  HEAP__FP_ASSIST,
    HEAP__FP_BARRIER,       HEAP__FP_MARK_TERM,  HEAP__FP_SCAVENGE_BG,
    HEAP__FP_STEAL_PUBLISH, HEAP__FP_STEAL_TAKEN, HEAP__FP_MARK_IDLE,
    HEAP__FP_HELP,          HEAP__FP_PCACHE_CUT, HEAP__FP_SWEEP_BEGUN,
};
static const char *const fault_names[] = {
    "", "refill-locked", "page-split", "stop-wait", "mark", "sweep", "roots-link", "parked",
    "central-pop", "central-push", "fresh-span", "scavenge",
    "mark-start", "root-scan", "assist", "barrier", "mark-term", "scavenge-bg",
    "steal-publish", "steal-taken", "mark-idle", "help", "pcache-cut", "sweep-begun",
};
#define NFAULT_NAMES ((int)(sizeof fault_names / sizeof *fault_names))

static void die_at_fault(void *arg, int point)
{
    run_plan_t *plan = arg;
    if (point == plan->fault_point && --plan->countdown == 0) {
        plan->killed_at = (uint32_t)point;
        kill(getpid(), SIGKILL);
    }
}

static void worker(void *arg)
{
    worker_arg_t *wa = arg;
    run_plan_t *plan = wa->plan;
    alarm(40);
    char name[128], token[32], why[256];
    snprintf(token, sizeof token, "kill%d", plan->run);
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, token), NULL, false, &h), 0, heap_strerror);
    if (wa->index == plan->victim && plan->fault_point)
        heap__set_fault_hook(h, die_at_fault, plan);
    heap_enter(h);
    model_config_t cfg;
    model_config_default(&cfg);
    cfg.collect_ppm = 2000;
    cfg.verify_ppm = 200;
    cfg.leave_ppm = 1000;
    cfg.check_every = 4000;
    cfg.root_capacity = 64;   /* small root stacks: roots_new more often */
    model_t *m = model_new(h, &cfg, plan->seed * 7919u + (uint64_t)wa->index);
    for (uint32_t i = 0; i < WORKER_STEPS; i++) {
        model_step(m);
        if (i % 500 == 0) {
            /* A fresh root stack now and then: roots_new/destroy under fire. */
            heap_roots_t *extra = heap_roots_new(h, 8);
            REQUIRE(extra);
            heap_roots_push(extra, 1)[0] = heap_alloc(h, 0, 64);
            heap_roots_destroy(h, &extra);
            /* Idle for a moment: Go's idle mark worker. */
            heap_mark_idle(h, tu_now_ns() + 200000);
        }
    }
    REQUIRE(model_check(m, NULL, NULL, why, sizeof why) == 0);
    REQUIRE_HEAP_VERIFY(h);
    model_destroy(&m);
    heap_close(&h, false);
}

int main(void)
{
    tu_init("heap_kill_test", 0);
    const char *env = getenv("HEAP_KILL_RUNS");
    int runs = env ? atoi(env) : 30;
    uint64_t rng = tu_seed();
    run_plan_t *plan = tu_shared(sizeof *plan);
    const char *only = getenv("HEAP_KILL_POINT");
    int only_point = -1;   /* -1: the usual mix; 0: killed by the parent */
    for (int p = 0; only && p < NFAULT_NAMES && only_point < 0; p++) {
        if (strcmp(only, p ? fault_names[p] : "parent") == 0)
            only_point = p;
    }
    REQUIRE_MSG(!only || only_point >= 0, "HEAP_KILL_POINT=%s: no such fault point", only);
    int killed_by_parent = 0, killed_at[NFAULT_NAMES] = { 0 }, not_killed = 0;

    for (int run = 0; run < runs; run++) {
        alarm(45);
        memset(plan, 0, sizeof *plan);
        plan->seed = tu_rand(&rng);
        plan->run = run;
        plan->victim = (int)tu_below(&rng, NWORKERS);
        if (run % 3 != 0) {
            plan->fault_point = fault_points[tu_below(&rng, sizeof fault_points / sizeof *fault_points)];
            plan->countdown = 1 + (uint32_t)tu_below(&rng, 40);
        }
        if (only_point == 0)
            plan->fault_point = 0;
        else if (only_point > 0 && !plan->fault_point)
            plan->countdown = 1 + (uint32_t)tu_below(&rng, 40);
        if (only_point > 0)
            plan->fault_point = only_point;

        char name[128], token[32];
        snprintf(token, sizeof token, "kill%d", run);
        heap_config_t cfg;
        heap_config_default(&cfg);
        cfg.heap_max_bytes = (uint64_t)128 << 20;
        cfg.gogc = 25;
        if (run % 4 == 3)
            cfg.collector = HEAP_COLLECTOR_STW;
        heap_t *h = NULL;
        REQUIRE_RC(heap_open(tu_segment(name, sizeof name, token), &cfg, true, &h), 0, heap_strerror);

        worker_arg_t args[NWORKERS];
        pid_t pids[NWORKERS];
        for (int i = 0; i < NWORKERS; i++) {
            args[i] = (worker_arg_t){ plan, i };
            pids[i] = tu_fork(worker, &args[i]);
        }
        if (!plan->fault_point) {
            tu_sleep_ns(tu_below(&rng, 400000000));
            kill(pids[plan->victim], SIGKILL);
        }
        for (int i = 0; i < NWORKERS; i++) {
            if (i != plan->victim) {
                tu_wait_ok(pids[i]);
                continue;
            }
            int status = tu_wait(pids[i]);
            bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
            REQUIRE_MSG(killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
                   "run %d: victim ended with status %#x", run, status);
            if (!killed)
                not_killed++;
            else if (!plan->fault_point)
                killed_by_parent++;
            else
                killed_at[plan->killed_at]++;
        }

        /* Everyone is gone: the dead victim's entry and roots go too. */
        REQUIRE_RC(heap_collect(h), 0, heap_strerror);
        REQUIRE_HEAP_VERIFY(h);
        heap_stats_t st;
        heap_stats_read(h, &st);
        heap_gc_cycle_t c;
        REQUIRE(heap_gc_history(h, (uint32_t)st.num_gc - 1, &c, 1) == 1);
        REQUIRE_MSG(st.nprocs == 1 && c.fields.objects_live == 0,
               "run %d: %u processes, %llu objects live after all left", run, st.nprocs,
               (unsigned long long)c.fields.objects_live);
        /* And the heap still works. */
        heap_enter(h);
        heap_ref_t *g = heap_globals(h, 1);
        for (int i = 0; i < 10000; i++) {
            heap_ref_t r = heap_alloc(h, 1, 32);
            REQUIRE(r);
            heap_write_ref(h, r, 0, g[0]);
            g[0] = r;
        }
        REQUIRE_RC(heap_collect(h), 0, heap_strerror);
        REQUIRE_HEAP_VERIFY(h);
        heap_close(&h, true);
        printf("run %2d (%s): victim %d %s%s, %llu collections\n", run,
               run % 4 == 3 ? "stw" : "concurrent", plan->victim,
               plan->fault_point ? "at " : "killed by the parent",
               plan->fault_point ? fault_names[plan->fault_point] : "",
               (unsigned long long)st.num_gc);
    }
    printf("%d runs: %d killed by the parent, %d not killed (finished first);", runs,
           killed_by_parent, not_killed);
    for (int p = 1; p < NFAULT_NAMES; p++)
        printf(" %s %d", fault_names[p], killed_at[p]);
    printf("\n");
    munmap(plan, sizeof *plan);
    tu_finish();
    return 0;
}
