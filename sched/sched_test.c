/*
** sched/sched_test.c -- the scheduler's semantics against sched.h: FIFO
** order, spawning, sleeping, cleanups, failure and unwinding, deadlock
** reports, park/ready, ready_next (runnext) and its fairness bound, hooks,
** locals, limits, stats from another thread; Go's run queues (runnext on
** `go`, the local queue's overflow, the global queue) and preemption
** (requests per slice, sysmon preempting a goroutine that never blocks).
**
** Each case runs in its own forked process with a time limit; pass a case
** name as argv[1] to run just that one in-process (for a debugger). No
** assertion depends on timing.
*/
#include "sched/sched.h"
#include "base/testrun.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static sched_t *new_sched(void)
{
    sched_t *s = NULL;

    REQUIRE_INT(sched_new(NULL, &s), 0);
    REQUIRE(s != NULL);
    return s;
}

/* A log of what happened, in order. */
static char journal[4096];
static size_t journal_len;

static void note(const char *what)
{
    size_t n = strlen(what);

    REQUIRE(journal_len + n < sizeof journal);
    memcpy(journal + journal_len, what, n + 1);
    journal_len += n;
}

static void note_cleanup(void *arg)
{
    note((const char *)arg);
}

/* ---- FIFO order ---------------------------------------------------------- */

static void yield_three_times(sched_t *s, void *arg)
{
    for (int i = 0; i < 3; i++) {
        note((const char *)arg);
        sched_yield(s);
    }
}

static void test_fifo_yield_order(void)
{
    sched_t *s = new_sched();
    sched_stats_t st;

    REQUIRE(sched_spawn(s, yield_three_times, "A") > 0);
    REQUIRE(sched_spawn(s, yield_three_times, "B") > 0);
    REQUIRE(sched_spawn(s, yield_three_times, "C") > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(journal, "ABCABCABC");
    REQUIRE_STR(sched_failure(s), "");
    sched_stats_read(s, &st);
    REQUIRE_INT(st.goroutines, 0);
    REQUIRE_INT(st.spawned, 3);
    REQUIRE(st.switches >= 9);
    REQUIRE_INT(st.stack_inuse_bytes, 0);
    sched_destroy(&s);
    REQUIRE(s == NULL);
    sched_destroy(&s);   /* NULL is fine */
    sched_destroy(NULL);
}

/* ---- Spawning from inside -------------------------------------------------- */

static int64_t child_ids[3], child_self[3];

static void child(sched_t *s, void *arg)
{
    int i = (int)(intptr_t)arg;

    child_self[i] = sched_self_id(s);
    note((const char[]){ (char)('a' + i), 0 });
}

static void parent(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_self_id(s), 1);
    note("P");
    for (int i = 0; i < 3; i++)
        child_ids[i] = sched_spawn(s, child, (void *)(intptr_t)i);
    note("p");
    sched_yield(s);
    note("Q");
}

static void test_spawn_from_goroutine(void)
{
    sched_t *s = new_sched();
    sched_stats_t st;

    REQUIRE_INT(sched_self_id(s), 0);
    REQUIRE_INT(sched_spawn(s, parent, NULL), 1);
    REQUIRE_INT(sched_spawn(s, NULL, NULL), -EINVAL);
    REQUIRE_INT(sched_run(s), 0);
    /* Go's order: each `go` puts its goroutine in runnext, the one there
    ** to the local queue; the parent's Gosched goes to the global queue. */
    REQUIRE_STR(journal, "PpcabQ");
    for (int i = 0; i < 3; i++) {
        REQUIRE_INT(child_ids[i], 2 + i);
        REQUIRE_INT(child_self[i], child_ids[i]);
    }
    sched_stats_read(s, &st);
    REQUIRE_INT(st.spawned, 4);
    REQUIRE_INT(st.goroutines, 0);
    sched_destroy(&s);
}

/* ---- Sleeping --------------------------------------------------------------- */

#define MS 1000000ull

static void sleeper(sched_t *s, void *arg)
{
    const char *name = arg;
    uint64_t ms = name[0] == 'A' ? 150 : name[0] == 'B' ? 50 : 100;

    sched_sleep_ns(s, ms * MS);
    note(name);
}

static void test_sleep_order_by_deadline(void)
{
    sched_t *s = new_sched();

    /* Deadlines 50 ms apart: spawned A, B, C, they wake B, C, A. */
    REQUIRE(sched_spawn(s, sleeper, "A") > 0);
    REQUIRE(sched_spawn(s, sleeper, "B") > 0);
    REQUIRE(sched_spawn(s, sleeper, "C") > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(journal, "BCA");
    sched_destroy(&s);
}

static int slack_inside;

static void read_slack(sched_t *s, void *arg)
{
    slack_inside = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    sched_sleep_ns(s, 1 * MS);
}

/* Sleeps wake when due: the run sets the thread's timer slack to 1 ns (the
** 50 us default made sleeps ~70 us late) and puts the caller's back. */
static void test_timer_slack(void)
{
    sched_t *s = new_sched();

    REQUIRE(prctl(PR_SET_TIMERSLACK, 40000, 0, 0, 0) == 0);
    REQUIRE(sched_spawn(s, read_slack, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(slack_inside, 1);
    REQUIRE_INT(prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0), 40000);
    sched_destroy(&s);
}

static volatile int sleeper_woke;
static uint64_t busy_yields;

static void short_sleeper(sched_t *s, void *arg)
{
    sched_sleep_ns(s, 0);   /* returns at once */
    sched_sleep_ns(s, 5 * MS);
    sleeper_woke = 1;
}

static void busy_yielder(sched_t *s, void *arg)
{
    while (!sleeper_woke) {
        busy_yields++;
        sched_yield(s);
    }
}

/* A goroutine that never stops yielding must not starve a sleeper (hangs
** and hits the time limit if timers are only looked at when idle). */
static void test_sleeper_not_starved_by_yielder(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, short_sleeper, NULL) > 0);
    REQUIRE(sched_spawn(s, busy_yielder, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE(sleeper_woke);
    REQUIRE(busy_yields > 0);
    sched_destroy(&s);
}

/* ---- Cleanups ------------------------------------------------------------------ */

static void defer_and_return(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, note_cleanup, "1"), 0);
    REQUIRE_INT(sched_defer(s, note_cleanup, "2"), 0);
    sched_yield(s);
    REQUIRE_INT(sched_defer(s, note_cleanup, "3"), 0);
    note("r");
}

static void nested_exit(sched_t *s)
{
    sched_exit(s);
}

static void defer_and_exit(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, note_cleanup, "4"), 0);
    REQUIRE_INT(sched_defer(s, note_cleanup, "5"), 0);
    note("x");
    nested_exit(s);
    note("NOT REACHED");
}

static void many_defers(sched_t *s, void *arg)
{
    static char digits[100][16];

    for (int i = 0; i < 100; i++) {
        snprintf(digits[i], sizeof digits[i], "%d,", i);
        REQUIRE_INT(sched_defer(s, note_cleanup, digits[i]), 0);
    }
}

static void test_defer_lifo_on_return_and_exit(void)
{
    sched_t *s = new_sched();
    char want[512] = "";

    REQUIRE_INT(sched_defer(s, note_cleanup, "x"), -EINVAL);   /* outside */
    REQUIRE(sched_spawn(s, defer_and_return, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(journal, "r321");
    journal_len = 0;
    journal[0] = 0;
    REQUIRE(sched_spawn(s, defer_and_exit, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(journal, "x54");
    journal_len = 0;
    journal[0] = 0;
    REQUIRE(sched_spawn(s, many_defers, NULL) > 0);   /* grows the array */
    REQUIRE_INT(sched_run(s), 0);
    for (int i = 99; i >= 0; i--)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%d,", i);
    REQUIRE_STR(journal, want);
    sched_destroy(&s);
}

static void fail_in_cleanup(void *arg)
{
    sched_t *s = arg;

    note("f");
    sched_fail(s, "cleanup failed");
}

static void defer_then_fail_in_cleanup(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, note_cleanup, "1"), 0);
    REQUIRE_INT(sched_defer(s, fail_in_cleanup, s), 0);
    REQUIRE_INT(sched_defer(s, note_cleanup, "3"), 0);
}

/* A cleanup that fails the task: the cleanups below it still run. */
static void test_fail_inside_cleanup(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, defer_then_fail_in_cleanup, NULL) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EFAILED);
    REQUIRE_STR(sched_failure(s), "cleanup failed");
    REQUIRE_STR(journal, "3f1");
    sched_destroy(&s);
}

/* ---- Failure and unwinding -------------------------------------------------------- */

static sched_waiter_t *parked_waiter;
static volatile int never_ran;

static void parks_forever(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, note_cleanup, "[parked]"), 0);
    sched_park(s, &parked_waiter, "chan receive");
    note("NOT REACHED park");
}

static void sleeps_long(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, note_cleanup, "[sleeper]"), 0);
    sched_sleep_ns(s, 3600 * 1000 * MS);
    note("NOT REACHED sleep");
}

static void yields_forever(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, note_cleanup, "[yielder]"), 0);
    for (;;)
        sched_yield(s);
}

static void must_not_run(sched_t *s, void *arg)
{
    never_ran = 0;
}

/* A cleanup of an unwound goroutine may still use the scheduler: yielding
** and sleeping return at once, waking a dead waiter is ignored. */
static void cleanup_uses_sched(void *arg)
{
    sched_t *s = arg;

    sched_yield(s);
    sched_sleep_ns(s, 1000 * MS);
    if (parked_waiter != NULL)
        sched_ready(s, parked_waiter);
    note("[uses-sched]");
}

static void fails(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, note_cleanup, "[failer]"), 0);
    sched_yield(s);   /* everyone else has started */
    never_ran = 1;
    REQUIRE(sched_spawn(s, must_not_run, NULL) > 0);
    sched_fail(s, "boom %d", 42);
}

static void yields_with_sched_cleanup(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, cleanup_uses_sched, s), 0);
    for (;;)
        sched_yield(s);
}

static void quick(sched_t *s, void *arg)
{
    note("q");
}

static void test_fail_unwinds_others(void)
{
    sched_t *s = new_sched();
    sched_stats_t st;

    REQUIRE(sched_spawn(s, parks_forever, NULL) > 0);
    REQUIRE(sched_spawn(s, sleeps_long, NULL) > 0);
    REQUIRE(sched_spawn(s, yields_forever, NULL) > 0);
    REQUIRE(sched_spawn(s, yields_with_sched_cleanup, NULL) > 0);
    REQUIRE(sched_spawn(s, fails, NULL) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EFAILED);
    REQUIRE_STR(sched_failure(s), "boom 42");
    REQUIRE(never_ran == 1);
    /* The failing goroutine's own cleanups first, then the others by slot. */
    REQUIRE(strncmp(journal, "[failer]", 8) == 0);
    REQUIRE(strstr(journal, "[parked]") != NULL);
    REQUIRE(strstr(journal, "[sleeper]") != NULL);
    REQUIRE(strstr(journal, "[yielder]") != NULL);
    REQUIRE(strstr(journal, "[uses-sched]") != NULL);
    REQUIRE(strstr(journal, "NOT REACHED") == NULL);
    sched_stats_read(s, &st);
    REQUIRE_INT(st.goroutines, 0);
    REQUIRE_INT(st.stack_inuse_bytes, 0);

    /* Reusable: a fresh task runs to completion, the failure is cleared. */
    journal_len = 0;
    journal[0] = 0;
    parked_waiter = NULL;
    REQUIRE(sched_spawn(s, quick, NULL) > 0);
    REQUIRE(sched_spawn(s, quick, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(journal, "qq");
    REQUIRE_STR(sched_failure(s), "");
    sched_destroy(&s);
}

/* ---- Deadlock ----------------------------------------------------------------------- */

static sched_waiter_t *dl_waiters[64];

static void park_recv(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, note_cleanup, "R"), 0);
    sched_park(s, &dl_waiters[(intptr_t)arg], "chan receive");
}

static void park_send(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, note_cleanup, "S"), 0);
    sched_park(s, &dl_waiters[(intptr_t)arg], "chan send");
}

static void park_select(sched_t *s, void *arg)
{
    sched_park(s, &dl_waiters[(intptr_t)arg], "select");
}

static void test_deadlock_detected(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, park_recv, (void *)0) > 0);
    REQUIRE(sched_spawn(s, quick, NULL) > 0);
    REQUIRE(sched_spawn(s, park_send, (void *)1) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EDEADLOCK);
    REQUIRE_STR(sched_failure(s),
              "all goroutines are asleep - deadlock!\n"
              "\n"
              "goroutine 1 [chan receive]\n"
              "goroutine 3 [chan send]");
    /* The blocked goroutines were unwound: cleanups ran. */
    REQUIRE(strchr(journal, 'R') != NULL);
    REQUIRE(strchr(journal, 'S') != NULL);

    journal_len = 0;
    journal[0] = 0;
    REQUIRE(sched_spawn(s, quick, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(journal, "q");
    sched_destroy(&s);
}

static void main_waits(sched_t *s, void *arg)
{
    sched_waiter_t *w;

    for (intptr_t i = 0; i < 30; i++)
        REQUIRE(sched_spawn(s, park_recv, (void *)i) > 0);
    for (intptr_t i = 30; i < 35; i++)
        REQUIRE(sched_spawn(s, park_select, (void *)i) > 0);
    sched_park(s, &w, "sync.WaitGroup.Wait");
}

static void test_deadlock_grouped_when_many(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, main_waits, NULL) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EDEADLOCK);
    REQUIRE_STR(sched_failure(s),
              "all goroutines are asleep - deadlock!\n"
              "\n"
              "30 goroutines [chan receive]: 2, 3, 4, 5, 6, ...\n"
              "5 goroutines [select]: 32, 33, 34, 35, 36\n"
              "1 goroutine [sync.WaitGroup.Wait]: 1");
    sched_destroy(&s);
}

/* ---- Park / ready -------------------------------------------------------------------- */

enum { PINGS = 1000 };
static sched_waiter_t *ping_w, *pong_w;
static int pings, pongs;

static void pinger(sched_t *s, void *arg)
{
    for (int i = 0; i < PINGS; i++) {
        pings++;
        if (pong_w != NULL) {
            sched_waiter_t *w = pong_w;
            pong_w = NULL;
            sched_ready(s, w);
        }
        sched_park(s, &ping_w, "ping");
        REQUIRE_INT(pongs, pings);
    }
    if (pong_w != NULL)
        sched_ready(s, pong_w);
}

static void ponger(sched_t *s, void *arg)
{
    for (int i = 0; i < PINGS; i++) {
        pongs++;
        REQUIRE_INT(pongs, pings);
        if (ping_w != NULL) {
            sched_waiter_t *w = ping_w;
            ping_w = NULL;
            sched_ready(s, w);
        }
        if (i + 1 < PINGS)
            sched_park(s, &pong_w, "pong");
    }
}

static sched_waiter_t *order_w;

static void waits_then_notes(sched_t *s, void *arg)
{
    sched_park(s, &order_w, "wait");
    note("W");
}

static void readies_then_notes(sched_t *s, void *arg)
{
    sched_ready(s, order_w);
    note("r");   /* the readied goroutine runs after we switch away */
    sched_yield(s);
    note("y");
}

static void test_park_ready(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, pinger, NULL) > 0);
    REQUIRE(sched_spawn(s, ponger, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(pings, PINGS);
    REQUIRE_INT(pongs, PINGS);

    REQUIRE(sched_spawn(s, waits_then_notes, NULL) > 0);
    REQUIRE(sched_spawn(s, readies_then_notes, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(journal, "rWy");
    sched_destroy(&s);
}

/* ---- Hooks ---------------------------------------------------------------------------- */

typedef struct hook_counts {
    int safepoints, gstarts, gends, idle_begins, idle_ends;
    int idle_depth;
    int64_t last_gstart_id;
    uint64_t idle_until_ns, idle_hook_ns;   /* sched_idle_until_ns() in idle_begin, and when */
} hook_counts_t;

static uint64_t hooked_sleep_ns;   /* when hooked() began its sleep */
static uint64_t mono_ns(void);

static void on_safepoint(void *arg, sched_t *s)
{
    hook_counts_t *h = arg;

    h->safepoints++;
    REQUIRE(sched_self_id(s) > 0);
    sched_yield(s);   /* a switch point inside the hook does not recurse */
}

static void on_gstart(void *arg, sched_t *s)
{
    hook_counts_t *h = arg;

    h->gstarts++;
    h->last_gstart_id = sched_self_id(s);
    note("<");
}

static void on_gend(void *arg, sched_t *s)
{
    hook_counts_t *h = arg;

    h->gends++;
    note(">");
}

static void on_idle_begin(void *arg, sched_t *s)
{
    hook_counts_t *h = arg;

    REQUIRE_INT(sched_self_id(s), 0);
    REQUIRE_INT(h->idle_depth, 0);
    h->idle_depth++;
    h->idle_begins++;
    if (h->idle_until_ns == 0) {
        h->idle_until_ns = sched_idle_until_ns(s);
        h->idle_hook_ns = mono_ns();
    }
}

static void on_idle_end(void *arg, sched_t *s)
{
    hook_counts_t *h = arg;

    REQUIRE_INT(h->idle_depth, 1);
    h->idle_depth--;
    h->idle_ends++;
}

static void hooked(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, note_cleanup, "d"), 0);
    note("f");
    sched_yield(s);
    hooked_sleep_ns = mono_ns();
    sched_sleep_ns(s, 2 * MS);
}

static void test_hooks_called(void)
{
    sched_t *s = new_sched();
    hook_counts_t h = { 0 };
    sched_hooks_t hooks = {
        .safepoint = on_safepoint,
        .gstart = on_gstart,
        .gend = on_gend,
        .idle_begin = on_idle_begin,
        .idle_end = on_idle_end,
        .arg = &h,
    };

    sched_set_hooks(s, &hooks);
    REQUIRE(sched_spawn(s, hooked, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    /* gstart before fn, gend after it and before its cleanups. */
    REQUIRE_STR(journal, "<f>d");
    REQUIRE_INT(h.gstarts, 1);
    REQUIRE_INT(h.gends, 1);
    REQUIRE_INT(h.last_gstart_id, 1);
    REQUIRE_INT(h.safepoints, 2);   /* the yield and the sleep */
    REQUIRE(h.idle_begins >= 1);
    REQUIRE_INT(h.idle_begins, h.idle_ends);
    /* The first idle sleeps until the 2 ms sleep is due: at or after 2 ms
    ** from before the sleep began, at most 2 ms after the hook ran. */
    REQUIRE(h.idle_until_ns >= hooked_sleep_ns + 2 * MS);
    REQUIRE(h.idle_until_ns <= h.idle_hook_ns + 2 * MS);

    /* Failure: gend still runs for every goroutine that started. */
    h = (hook_counts_t){ 0 };
    journal_len = 0;
    journal[0] = 0;
    REQUIRE(sched_spawn(s, parks_forever, NULL) > 0);
    REQUIRE(sched_spawn(s, fails, NULL) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EFAILED);
    REQUIRE_INT(h.gstarts, 2);
    REQUIRE_INT(h.gends, 2);

    sched_set_hooks(s, NULL);
    h = (hook_counts_t){ 0 };
    REQUIRE(sched_spawn(s, hooked, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(h.gstarts, 0);
    REQUIRE_INT(h.safepoints, 0);
    sched_destroy(&s);
}

/* ---- Interrupts ------------------------------------------------------------------------ */

static int yields_seen;   /* atomic: the interrupter waits for it */

static void yields_until_interrupted(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, note_cleanup, "[yielder]"), 0);
    for (;;) {
        __atomic_add_fetch(&yields_seen, 1, __ATOMIC_SEQ_CST);
        sched_yield(s);
    }
}

/* Another thread, as the worker's sampler: once the goroutine has yielded
** 100 times. */
static void *interrupter(void *arg)
{
    while (__atomic_load_n(&yields_seen, __ATOMIC_SEQ_CST) < 100)
        (sched_yield)();
    sched_interrupt(arg);
    return NULL;
}

static uint32_t zero_word;

/* sched_interrupt from another thread: the goroutine ends at its next
** switch point, the others are unwound (their cleanups run), sched_run
** says SCHED_EINTERRUPTED, and the safepoint hook is not called for it
** (its word stays 0). The scheduler runs the next task as usual; an
** interrupt made before a run ends that run at its first switch point; one
** dropped by sched_set_hooks is not seen. */
static void test_interrupt(void)
{
    sched_t *s = new_sched();
    hook_counts_t h = { 0 };
    sched_hooks_t hooks = { .safepoint = on_safepoint, .arg = &h,
                            .safepoint_word = &zero_word };
    pthread_t t;

    sched_set_hooks(s, &hooks);
    journal_len = 0;
    journal[0] = 0;
    __atomic_store_n(&yields_seen, 0, __ATOMIC_SEQ_CST);
    REQUIRE(sched_spawn(s, parks_forever, NULL) > 0);
    REQUIRE(sched_spawn(s, yields_until_interrupted, NULL) > 0);
    REQUIRE_INT(pthread_create(&t, NULL, interrupter, s), 0);
    REQUIRE_INT(sched_run(s), SCHED_EINTERRUPTED);
    pthread_join(t, NULL);
    CHECK_CONTAINS(sched_failure(s), "interrupted at a switch point of goroutine 2");
    CHECK_CONTAINS(journal, "[yielder]");
    CHECK_CONTAINS(journal, "[parked]");
    CHECK(__atomic_load_n(&yields_seen, __ATOMIC_SEQ_CST) >= 100);
    CHECK_INT(h.safepoints, 0);
    CHECK_STR(sched_strerror(SCHED_EINTERRUPTED), "the task was interrupted");

    /* Next task: runs to its end. */
    journal_len = 0;
    journal[0] = 0;
    REQUIRE(sched_spawn(s, yield_three_times, "a") > 0);
    REQUIRE_INT(sched_run(s), 0);
    CHECK_STR(journal, "aaa");

    /* Interrupted before the run: the first switch point ends it. */
    journal_len = 0;
    journal[0] = 0;
    sched_interrupt(s);
    REQUIRE(sched_spawn(s, yield_three_times, "b") > 0);
    REQUIRE_INT(sched_run(s), SCHED_EINTERRUPTED);
    CHECK_STR(journal, "b");

    /* Dropped by sched_set_hooks. */
    journal_len = 0;
    journal[0] = 0;
    sched_interrupt(s);
    sched_set_hooks(s, &hooks);
    REQUIRE(sched_spawn(s, yield_three_times, "c") > 0);
    REQUIRE_INT(sched_run(s), 0);
    CHECK_STR(journal, "ccc");
    CHECK_INT(h.safepoints, 0);
    sched_destroy(&s);
}

/* ---- Self id and locals ----------------------------------------------------------------- */

static void uses_local(sched_t *s, void *arg)
{
    REQUIRE(sched_local(s) == NULL);
    sched_set_local(s, arg);
    sched_yield(s);
    REQUIRE(sched_local(s) == arg);
    sched_yield(s);
    REQUIRE(sched_local(s) == arg);
}

static void test_self_id_and_local(void)
{
    sched_t *s = new_sched();
    int a, b, c;

    REQUIRE(sched_local(s) == NULL);
    REQUIRE_INT(sched_self_id(s), 0);
    REQUIRE(sched_spawn(s, uses_local, &a) > 0);
    REQUIRE(sched_spawn(s, uses_local, &b) > 0);
    REQUIRE(sched_spawn(s, uses_local, &c) > 0);
    REQUIRE_INT(sched_run(s), 0);
    /* A recycled slot starts with a NULL local. */
    REQUIRE(sched_spawn(s, uses_local, &a) > 0);
    REQUIRE_INT(sched_run(s), 0);
    sched_destroy(&s);
}

/* ---- Limits and configuration -------------------------------------------------------------- */

static void test_too_many_goroutines(void)
{
    sched_config_t cfg;
    sched_t *s = NULL;

    sched_config_default(&cfg);
    REQUIRE_INT(cfg.stack_reserve_bytes, 256 << 10);
    REQUIRE_INT(cfg.max_goroutines, 1 << 20);
    cfg.max_goroutines = 3;
    REQUIRE_INT(sched_new(&cfg, &s), 0);
    for (int i = 0; i < 3; i++)
        REQUIRE(sched_spawn(s, quick, NULL) > 0);
    REQUIRE_INT(sched_spawn(s, quick, NULL), SCHED_ETOOMANY);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE(sched_spawn(s, quick, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(journal, "qqqq");
    sched_destroy(&s);
}

static void test_config_validated(void)
{
    sched_config_t cfg;
    sched_t *s = (sched_t *)&cfg;   /* must stay untouched on failure */

    sched_config_default(&cfg);
    cfg.stack_reserve_bytes = 1024;
    REQUIRE_INT(sched_new(&cfg, &s), -EINVAL);
    REQUIRE(s == (sched_t *)&cfg);
    cfg.stack_reserve_bytes = (size_t)1 << 40;
    REQUIRE_INT(sched_new(&cfg, &s), -EINVAL);
    cfg.stack_reserve_bytes = (size_t)1 << 30;
    cfg.max_goroutines = UINT32_MAX;   /* 4 Ei of address space */
    REQUIRE_INT(sched_new(&cfg, &s), -EINVAL);
    REQUIRE(s == (sched_t *)&cfg);

    /* Zero fields mean defaults; odd sizes are rounded to pages. */
    memset(&cfg, 0, sizeof cfg);
    cfg.stack_reserve_bytes = 100000;
    s = NULL;
    REQUIRE_INT(sched_new(&cfg, &s), 0);
    REQUIRE(sched_spawn(s, quick, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    sched_destroy(&s);
}

static void test_strerror(void)
{
    const int codes[] = { SCHED_EFAILED, SCHED_EDEADLOCK, SCHED_ETOOMANY };

    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        REQUIRE(sched_strerror(codes[i]) != NULL);
        REQUIRE(strlen(sched_strerror(codes[i])) > 0);
        for (size_t j = 0; j < i; j++)
            REQUIRE(strcmp(sched_strerror(codes[i]), sched_strerror(codes[j])) != 0);
    }
    REQUIRE_STR(sched_strerror(-ENOMEM), strerror(ENOMEM));
    REQUIRE(strlen(sched_strerror(-99999)) > 0);
}

/* ---- Per-goroutine machine state ------------------------------------------------------------- */

static uint16_t x87_cw(void)
{
    uint16_t cw;

    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw;
}

static void x87_set_cw(uint16_t cw)
{
    __asm__ volatile("fldcw %0" : : "m"(cw));
}

/* Spawned with SCHED_SPAWN_FPCTL: its rounding modes survive its switches. */
static void state_a(sched_t *s, void *arg)
{
    unsigned mxcsr = __builtin_ia32_stmxcsr();
    unsigned round_up = (mxcsr & ~0x6000u) | 0x4000u;
    uint16_t cw = x87_cw();

    __builtin_ia32_ldmxcsr(round_up);
    x87_set_cw((uint16_t)((cw & ~0x0c00u) | 0x0c00u));   /* x87: round toward zero */
    errno = 1234;
    for (int i = 0; i < 3; i++) {
        sched_yield(s);
        REQUIRE_INT(errno, 1234);
        REQUIRE_INT(__builtin_ia32_stmxcsr() & 0x6000u, 0x4000u);
        REQUIRE_INT(x87_cw() & 0x0c00u, 0x0c00u);
    }
    __builtin_ia32_ldmxcsr(mxcsr);
    x87_set_cw(cw);
}

/* Without the flag: errno is its own; A's rounding modes never reach it
** (leaving A puts sched_new()'s back). */
static void state_b(sched_t *s, void *arg)
{
    for (int i = 0; i < 3; i++) {
        REQUIRE_INT(__builtin_ia32_stmxcsr() & 0x6000u, 0);
        REQUIRE_INT(x87_cw() & 0x0c00u, 0);
        errno = 77;
        sched_yield(s);
        REQUIRE_INT(errno, 77);
    }
}

static void test_errno_and_mxcsr_per_goroutine(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn_flags(s, state_a, NULL, SCHED_SPAWN_FPCTL) > 0);
    REQUIRE(sched_spawn(s, state_b, NULL) > 0);
    REQUIRE(sched_spawn(s, state_b, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(__builtin_ia32_stmxcsr() & 0x6000u, 0);
    REQUIRE_INT(x87_cw() & 0x0c00u, 0);
    sched_destroy(&s);
}

/* ---- Misuse and teardown ------------------------------------------------------------------------ */

static int nested_rc;

static void runs_nested(sched_t *s, void *arg)
{
    nested_rc = sched_run(s);
}

static void test_run_inside_goroutine_refused(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, runs_nested, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(nested_rc, -EBUSY);
    sched_destroy(&s);
}

/* Destroy frees goroutines without running them; cleanup arrays kept by
** recycled slots are freed too (LSan checks under --config=asan). */
static void registers_cleanups(sched_t *s, void *arg)
{
    for (int i = 0; i < 20; i++)
        REQUIRE_INT(sched_defer(s, note_cleanup, "."), 0);
    if (arg != NULL)
        REQUIRE(sched_spawn(s, registers_cleanups, NULL) > 0);
    sched_yield(s);
    sched_fail(s, "stop");
}

static void test_destroy_with_live_goroutines(void)
{
    sched_t *s = new_sched();
    sched_stats_t st;

    for (int i = 0; i < 10; i++)
        REQUIRE(sched_spawn(s, quick, NULL) > 0);
    sched_destroy(&s);
    REQUIRE_STR(journal, "");   /* none of them ran */

    s = new_sched();
    REQUIRE(sched_spawn(s, registers_cleanups, s) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EFAILED);
    REQUIRE_INT(strlen(journal), 40);   /* both goroutines' cleanups ran */
    sched_stats_read(s, &st);
    REQUIRE_INT(st.goroutines, 0);
    for (int i = 0; i < 10; i++)
        REQUIRE(sched_spawn(s, quick, NULL) > 0);
    sched_destroy(&s);
}

/* ---- Stats from another thread, independent schedulers ------------------------------------------ */

enum { STAT_YIELDS = 200000, SCHED_TEST_GLOBAL_EVERY = 61 };
static volatile int reader_stop;

static void *stats_reader(void *arg)
{
    const sched_t *s = arg;
    sched_stats_t st, prev = { 0 };
    uint64_t reads = 0;

    while (!__atomic_load_n(&reader_stop, __ATOMIC_ACQUIRE)) {
        sched_stats_read(s, &st);
        REQUIRE(st.switches >= prev.switches);
        REQUIRE(st.spawned >= prev.spawned);
        REQUIRE(st.stack_hwm_bytes >= prev.stack_hwm_bytes);
        REQUIRE(st.goroutines <= 4);
        prev = st;
        reads++;
    }
    return (void *)(uintptr_t)reads;
}

static void yield_many(sched_t *s, void *arg)
{
    for (int i = 0; i < STAT_YIELDS; i++)
        sched_yield(s);
}

static void test_stats_read_from_other_thread(void)
{
    sched_t *s = new_sched();
    pthread_t reader;
    sched_stats_t st;

    REQUIRE_INT(pthread_create(&reader, NULL, stats_reader, s), 0);
    for (int i = 0; i < 4; i++)
        REQUIRE(sched_spawn(s, yield_many, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    __atomic_store_n(&reader_stop, 1, __ATOMIC_RELEASE);
    REQUIRE_INT(pthread_join(reader, NULL), 0);
    sched_stats_read(s, &st);
    REQUIRE_INT(st.spawned, 4);
    REQUIRE_INT(st.goroutines, 0);
    /* A yield switches, except when the 61st tick's turn of the global
    ** queue picks the goroutine that has just yielded there. */
    REQUIRE(st.switches >= 4ull * STAT_YIELDS - 4ull * STAT_YIELDS / SCHED_TEST_GLOBAL_EVERY - 1);
    REQUIRE(st.stack_hwm_bytes >= 4096);
    REQUIRE(st.stack_reserved_bytes >= 4ull * (256 << 10));
    sched_destroy(&s);
}

static void parks_quietly(sched_t *s, void *arg)
{
    sched_waiter_t *w;

    sched_park(s, &w, "chan receive");
}

static void *own_scheduler(void *arg)
{
    sched_t *s = new_sched();
    int *yields = arg;

    for (int i = 0; i < 8; i++)
        REQUIRE(sched_spawn(s, yield_many, NULL) > 0);
    REQUIRE(sched_spawn(s, parks_quietly, NULL) > 0);
    /* Deadlock, since one parks forever: each scheduler sees its own. */
    REQUIRE_INT(sched_run(s), SCHED_EDEADLOCK);
    REQUIRE(strstr(sched_failure(s), "goroutine 9 [chan receive]") != NULL);
    sched_destroy(&s);
    *yields = 1;
    return NULL;
}

static void test_independent_schedulers_in_threads(void)
{
    pthread_t t[2];
    int done[2] = { 0, 0 };

    for (int i = 0; i < 2; i++)
        REQUIRE_INT(pthread_create(&t[i], NULL, own_scheduler, &done[i]), 0);
    for (int i = 0; i < 2; i++)
        REQUIRE_INT(pthread_join(t[i], NULL), 0);
    REQUIRE(done[0] && done[1]);
}

/* ---- Runner --------------------------------------------------------------------------------------- */

typedef testrun_case_t test_case_t;

/* ---- ready_next (runnext) --------------------------------------------------- */

static sched_waiter_t *next_w;

static void parks_then_notes(sched_t *s, void *arg)
{
    sched_park(s, &next_w, "test");
    note((const char *)arg);
}

static void readies_next(sched_t *s, void *arg)
{
    (void)arg;
    note("M");
    /* Q is queued already; P is readied to run next, ahead of Q. */
    sched_ready_next(s, next_w);
    sched_yield(s);
    note("m");
}

static void just_note(sched_t *s, void *arg)
{
    (void)s;
    note((const char *)arg);
}

static void test_ready_next_runs_first(void)
{
    sched_t *s = new_sched();

    journal_len = 0;
    journal[0] = '\0';
    REQUIRE(sched_spawn(s, parks_then_notes, "P") > 0);
    REQUIRE(sched_spawn(s, readies_next, NULL) > 0);
    REQUIRE(sched_spawn(s, just_note, "Q") > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(journal, "MPQm");
    sched_destroy(&s);
}

/* Two goroutines handing off through ready_next forever do not starve the
** run queue: after SCHED_RUNNEXT_MAX turns the queue's head runs. */
static sched_waiter_t *hand_w[2];
static volatile int hand_stop;
static long hand_turns;

static void hander(sched_t *s, void *arg)
{
    int me = (int)(intptr_t)arg;

    while (!hand_stop) {
        sched_waiter_t *other = hand_w[!me];
        if (other != NULL) {
            hand_w[!me] = NULL;
            sched_ready_next(s, other);
        }
        hand_turns++;
        sched_park(s, &hand_w[me], "hand");
    }
    if (hand_w[!me] != NULL)
        sched_ready(s, hand_w[!me]);
}

static void stopper(sched_t *s, void *arg)
{
    (void)s;
    (void)arg;
    hand_stop = 1;
}

static void test_runnext_does_not_starve_the_queue(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, hander, (void *)(intptr_t)0) > 0);
    REQUIRE(sched_spawn(s, hander, (void *)(intptr_t)1) > 0);
    REQUIRE(sched_spawn(s, stopper, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE(hand_stop);
    REQUIRE(hand_turns <= 4 * (long)SCHED_RUNNEXT_MAX);
    sched_destroy(&s);
}

/* ---- The main goroutine's return ends the task ------------------------------- */

static sched_waiter_t *exit_waiters[4];
static int exit_cleanups;

static void exit_cleanup(void *arg)
{
    (void)arg;
    exit_cleanups++;
}

static void exit_parker(sched_t *s, void *arg)
{
    intptr_t i = (intptr_t)arg;

    REQUIRE_INT(sched_defer(s, exit_cleanup, NULL), 0);
    sched_park(s, &exit_waiters[i], i < 3 ? "chan receive" : "select");
    note("woke");                 /* never: nobody readies it */
}

static void exit_sleeper(sched_t *s, void *arg)
{
    (void)arg;
    REQUIRE_INT(sched_defer(s, exit_cleanup, NULL), 0);
    sched_sleep_ns(s, 3600ull * 1000000000u);
    note("slept");
}

static void exit_never_ran(sched_t *s, void *arg)
{
    (void)s;
    (void)arg;
    note("ran");
}

static void exit_main(sched_t *s, void *arg)
{
    (void)arg;
    REQUIRE_INT(sched_defer(s, note_cleanup, "main-cleanup "), 0);
    for (intptr_t i = 0; i < 4; i++)
        REQUIRE(sched_spawn(s, exit_parker, (void *)i) > 0);
    REQUIRE(sched_spawn(s, exit_sleeper, NULL) > 0);
    sched_yield(s);               /* they park and sleep */
    REQUIRE(sched_spawn(s, exit_never_ran, NULL) > 0);
    note("main-returns ");
}

static void test_main_return_ends_the_task(void)
{
    sched_t *s = new_sched();
    sched_stats_t st;

    REQUIRE(sched_spawn_flags(s, exit_main, NULL, SCHED_SPAWN_MAIN) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(sched_failure(s), "");
    REQUIRE_STR(journal, "main-returns main-cleanup ");
    REQUIRE_STR(sched_exit_report(s),
                 "goroutines alive at exit: 6, blocked on: chan receive 3, runnable 1, "
                 "select 1, sleep 1");
    REQUIRE_INT(exit_cleanups, 5);   /* theirs ran; the one that never ran had none */
    sched_stats_read(s, &st);
    REQUIRE_INT(st.alive_at_exit, 6);
    REQUIRE_INT(st.goroutines, 0);
    REQUIRE_INT(st.stack_inuse_bytes, 0);

    /* The next run starts clean; a main that leaves nobody reports nothing. */
    journal_len = 0;
    journal[0] = '\0';
    REQUIRE(sched_spawn_flags(s, exit_never_ran, NULL, SCHED_SPAWN_MAIN) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(journal, "ran");
    REQUIRE_STR(sched_exit_report(s), "");
    sched_stats_read(s, &st);
    REQUIRE_INT(st.alive_at_exit, 0);
    sched_destroy(&s);
}

static sched_waiter_t *goexit_waiter;

static void goexit_other(sched_t *s, void *arg)
{
    (void)arg;
    sched_yield(s);
    note("other-done ");
}

static void goexit_main(sched_t *s, void *arg)
{
    (void)arg;
    REQUIRE(sched_spawn(s, goexit_other, NULL) > 0);
    sched_exit(s);                /* runtime.Goexit: the program goes on */
}

static void blocked_main(sched_t *s, void *arg)
{
    (void)arg;
    sched_park(s, &goexit_waiter, "chan receive");
}

static void test_main_goexit_and_deadlock(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn_flags(s, goexit_main, NULL, SCHED_SPAWN_MAIN) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(journal, "other-done ");
    REQUIRE_STR(sched_exit_report(s), "");
    /* A blocked main with nobody to wake it is still a deadlock. */
    REQUIRE(sched_spawn_flags(s, blocked_main, NULL, SCHED_SPAWN_MAIN) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EDEADLOCK);
    REQUIRE(strstr(sched_failure(s), "deadlock") != NULL);
    REQUIRE_STR(sched_exit_report(s), "");
    sched_destroy(&s);
}

/* ---- Timer resolution ------------------------------------------------------ */

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t slept_ns[2];

static void sleep_twice(sched_t *s, void *arg)
{
    (void)arg;
    uint64_t t0 = mono_ns();
    sched_sleep_ns(s, 1250000);   /* 1.25 ms */
    uint64_t t1 = mono_ns();
    sched_sleep_ns(s, 100000);    /* 100 us */
    slept_ns[0] = t1 - t0;
    slept_ns[1] = mono_ns() - t1;
}

/* Lower bounds only, those that hold by construction: with Go's 1 ms the
** scheduler sleeps whole milliseconds, at least one, and looks again, so
** 100 us takes a whole millisecond. (1.25 ms takes two unless the first
** one oversleeps by a quarter -- as in Go: not checked.) */
static void test_timer_resolution(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, sleep_twice, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE(slept_ns[0] >= 1250000 && slept_ns[1] >= 100000);
    sched_set_timer_resolution(s, 1000000);
    REQUIRE(sched_spawn(s, sleep_twice, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE(slept_ns[0] >= 1250000);
    REQUIRE(slept_ns[1] >= 1000000);
    sched_destroy(&s);
}

/* ---- The system stack ---------------------------------------------------- */

/* Recurse `depth` frames of 1 KiB each; returns a sum the compiler cannot
** fold away. */
static __attribute__((noinline)) uint64_t deep(uint32_t depth)
{
    volatile char frame[1024];
    frame[0] = (char)depth;
    frame[sizeof frame - 1] = (char)(depth >> 8);
    if (depth == 0)
        return (uint64_t)frame[0];
    return deep(depth - 1) + (uint64_t)frame[sizeof frame - 1];
}

typedef struct sys_probe {
    uintptr_t goroutine_local, system_local;
    uint64_t sum;
} sys_probe_t;

static void on_system_stack(void *arg)
{
    sys_probe_t *p = arg;
    volatile char here = 0;
    p->system_local = (uintptr_t)&here;
    p->sum = deep(2048);   /* 2 MiB: far past a goroutine's 64 KiB */
}

static void call_systemstack(sched_t *s, void *arg)
{
    sys_probe_t *p = arg;
    volatile char here = 0;
    p->goroutine_local = (uintptr_t)&here;
    sched_systemstack(s, on_system_stack, p);
    note("back");
}

/* fn runs on the scheduler's stack, with room a goroutine's does not have,
** and comes back to the goroutine; from the scheduler's context it runs
** in place. */
static void test_systemstack(void)
{
    sched_config_t cfg;
    sched_config_default(&cfg);
    cfg.stack_reserve_bytes = 64 << 10;
    sched_t *s = NULL;
    REQUIRE_INT(sched_new(&cfg, &s), 0);
    sys_probe_t p = {0, 0, 0};
    journal_len = 0;
    journal[0] = '\0';
    REQUIRE(sched_spawn(s, call_systemstack, &p) > 0);
    REQUIRE_INT(sched_run(s), 0);
    CHECK_STR(journal, "back");
    uintptr_t dist = p.goroutine_local > p.system_local ? p.goroutine_local - p.system_local
                                                        : p.system_local - p.goroutine_local;
    CHECK_MSG(dist > (64u << 10), "fn ran %zu bytes from the goroutine's frame", (size_t)dist);
    CHECK(p.sum == deep(2048));
    /* No goroutine running: in place. */
    sys_probe_t q = {0, 0, 0};
    volatile char here = 0;
    q.goroutine_local = (uintptr_t)&here;
    sched_systemstack(s, on_system_stack, &q);
    CHECK(q.system_local < q.goroutine_local && q.goroutine_local - q.system_local < 4096);
    sched_destroy(&s);
}

/* ---- Preemption and Go's run queues ----------------------------------------------- */

static bool preempted_b;

static void req_then_point(sched_t *s, void *arg)
{
    note("a");
    sched_preempt_request(s);
    note(sched_preempt_point(s) ? "A" : "x");
    /* A request is taken once. */
    note(sched_preempt_point(s) ? "x" : "!");
}

static sched_waiter_t *parked_d;

static void park_d(sched_t *s, void *arg)
{
    note("d");
    sched_park(s, &parked_d, "d");
    note("D");
}

static void ready_d(sched_t *s, void *arg)
{
    note("b");
    sched_ready(s, parked_d);
}

static void note_arg(sched_t *s, void *arg)
{
    note((const char *)arg);
    /* No request for this slice. */
    if (sched_preempt_point(s))
        note("x");
}

/* A request makes the goroutine yield at its point, to the global queue:
** the local queue's goroutines run first, even one readied after it
** yielded. Without a request, a point is nothing. */
static void test_preempt_point_yields_to_the_global_queue(void)
{
    sched_t *s = new_sched();
    sched_stats_t st;

    REQUIRE(!sched_preempt_point(s));   /* outside a goroutine */
    REQUIRE(sched_spawn(s, park_d, NULL) > 0);
    REQUIRE(sched_spawn(s, req_then_point, NULL) > 0);
    REQUIRE(sched_spawn(s, ready_d, NULL) > 0);
    REQUIRE(sched_spawn(s, note_arg, "c") > 0);
    REQUIRE_INT(sched_run(s), 0);
    CHECK_STR(journal, "dabcDA!");
    sched_stats_read(s, &st);
    CHECK_INT(st.preemptions, 1);
    sched_destroy(&s);
}

static void req_then_yield(sched_t *s, void *arg)
{
    note("a");
    sched_preempt_request(s);
    sched_yield(s);
    note("A");
}

/* A request names the slice: once its goroutine has switched out, the next
** one on a slice of its own is not preempted by it. */
static void test_preempt_request_is_dropped_after_a_switch(void)
{
    sched_t *s = new_sched();
    sched_stats_t st;

    REQUIRE(sched_spawn(s, req_then_yield, NULL) > 0);
    REQUIRE(sched_spawn(s, note_arg, "b") > 0);
    REQUIRE_INT(sched_run(s), 0);
    CHECK_STR(journal, "abA");
    sched_stats_read(s, &st);
    CHECK_INT(st.preemptions, 0);
    sched_destroy(&s);
}

static void point_in_runnext(sched_t *s, void *arg)
{
    note("b");
    preempted_b = sched_preempt_point(s);
    note("B");
}

static void spawn_req_yield(sched_t *s, void *arg)
{
    note("a");
    sched_preempt_request(s);
    REQUIRE(sched_spawn(s, point_in_runnext, NULL) > 0);
    sched_yield(s);
    note("A");
}

/* A goroutine run from runnext inherits the slice (Go's inheritTime): a
** request for the spawner's slice preempts it too. */
static void test_runnext_inherits_the_slice(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, spawn_req_yield, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    CHECK(preempted_b);
    CHECK_STR(journal, "abAB");
    sched_destroy(&s);
}

enum { OVERFLOW_N = 300 };
static int overflow_order[OVERFLOW_N + 1], overflow_ran;
static sched_waiter_t *overflow_waiter;

static void overflow_child(sched_t *s, void *arg)
{
    overflow_order[overflow_ran++] = (int)(intptr_t)arg;
    if (overflow_ran == OVERFLOW_N && overflow_waiter != NULL)
        sched_ready(s, overflow_waiter);
}

static void overflow_parent(sched_t *s, void *arg)
{
    for (int i = 1; i <= OVERFLOW_N; i++)
        REQUIRE(sched_spawn(s, overflow_child, (void *)(intptr_t)i) > 0);
    while (overflow_ran < OVERFLOW_N)
        sched_park(s, &overflow_waiter, "children");
}

/* `go` puts each child in runnext, the one there to the local queue; the
** 257th put to the full local queue moves its older half and itself to
** the global queue, which every 61st tick serves first (proc.go). */
static void test_spawn_runnext_and_local_overflow(void)
{
    sched_t *s = new_sched();
    int pos1 = -1, pos256 = -1;

    REQUIRE(sched_spawn(s, overflow_parent, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(overflow_ran, OVERFLOW_N);
    CHECK_INT(overflow_order[0], OVERFLOW_N);   /* runnext */
    CHECK_INT(overflow_order[1], 129);          /* 1..128 went global */
    for (int i = 0; i < OVERFLOW_N; i++) {
        if (overflow_order[i] == 1)
            pos1 = i;
        if (overflow_order[i] == 256)
            pos256 = i;
    }
    CHECK_MSG(pos1 > 1 && pos1 < pos256, "child 1 ran %dth, child 256 %dth", pos1, pos256);
    sched_destroy(&s);
}

enum { SPIN_LIMIT = 200000000 };
static volatile uint64_t spin_progress[2];
static bool spin_saw_other[2];

static void spinner(sched_t *s, void *arg)
{
    int me = (int)(intptr_t)arg;

    for (uint64_t i = 0; i < SPIN_LIMIT; i++) {
        spin_progress[me]++;
        if (spin_progress[!me] > 0) {
            spin_saw_other[me] = true;
            return;
        }
        sched_preempt_point(s);
    }
}

/* With a slice, sysmon preempts a goroutine that never blocks: two that
** spin until the other has made progress both finish (without
** preemption the first spins to its limit and sees nothing). */
static void test_sysmon_preempts_a_spinning_goroutine(void)
{
    sched_t *s = new_sched();
    sched_stats_t st;

    sched_set_preempt(s, 1000000);   /* 1 ms */
    REQUIRE(sched_spawn(s, spinner, (void *)(intptr_t)0) > 0);
    REQUIRE(sched_spawn(s, spinner, (void *)(intptr_t)1) > 0);
    REQUIRE_INT(sched_run(s), 0);
    CHECK(spin_saw_other[0]);
    CHECK(spin_saw_other[1]);
    sched_stats_read(s, &st);
    CHECK(st.preemptions >= 1);
    sched_destroy(&s);
}

static int preempt_hook_calls;
static void count_preempt_hook(void *arg)
{
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_RELAXED);
}

/* The preempt hook is called with each request, sysmon's too. */
static void test_preempt_hook_called(void)
{
    sched_t *s = new_sched();
    sched_hooks_t hooks = { .preempt = count_preempt_hook, .arg = &preempt_hook_calls };

    sched_set_hooks(s, &hooks);
    sched_preempt_request(s);
    CHECK_INT(__atomic_load_n(&preempt_hook_calls, __ATOMIC_RELAXED), 1);
    sched_set_preempt(s, 1000000);
    REQUIRE(sched_spawn(s, spinner, (void *)(intptr_t)0) > 0);
    REQUIRE(sched_spawn(s, spinner, (void *)(intptr_t)1) > 0);
    REQUIRE_INT(sched_run(s), 0);
    CHECK(__atomic_load_n(&preempt_hook_calls, __ATOMIC_RELAXED) >= 2);
    sched_destroy(&s);
}

static const test_case_t cases[] = {
    { "systemstack", test_systemstack },
    { "timer_slack", test_timer_slack },
    { "ready_next_runs_first", test_ready_next_runs_first },
    { "runnext_does_not_starve_the_queue", test_runnext_does_not_starve_the_queue },
    { "fifo_yield_order", test_fifo_yield_order },
    { "spawn_from_goroutine", test_spawn_from_goroutine },
    { "sleep_order_by_deadline", test_sleep_order_by_deadline },
    { "sleeper_not_starved_by_yielder", test_sleeper_not_starved_by_yielder },
    { "defer_lifo_on_return_and_exit", test_defer_lifo_on_return_and_exit },
    { "fail_inside_cleanup", test_fail_inside_cleanup },
    { "fail_unwinds_others", test_fail_unwinds_others },
    { "deadlock_detected", test_deadlock_detected },
    { "deadlock_grouped_when_many", test_deadlock_grouped_when_many },
    { "park_ready", test_park_ready },
    { "hooks_called", test_hooks_called },
    { "interrupt", test_interrupt },
    { "self_id_and_local", test_self_id_and_local },
    { "too_many_goroutines", test_too_many_goroutines },
    { "config_validated", test_config_validated },
    { "strerror", test_strerror },
    { "errno_and_mxcsr_per_goroutine", test_errno_and_mxcsr_per_goroutine },
    { "run_inside_goroutine_refused", test_run_inside_goroutine_refused },
    { "destroy_with_live_goroutines", test_destroy_with_live_goroutines },
    { "stats_read_from_other_thread", test_stats_read_from_other_thread },
    { "independent_schedulers_in_threads", test_independent_schedulers_in_threads },
    { "main_return_ends_the_task", test_main_return_ends_the_task },
    { "main_goexit_and_deadlock", test_main_goexit_and_deadlock },
    { "timer_resolution", test_timer_resolution },
    { "preempt_point_yields_to_the_global_queue", test_preempt_point_yields_to_the_global_queue },
    { "preempt_request_is_dropped_after_a_switch", test_preempt_request_is_dropped_after_a_switch },
    { "runnext_inherits_the_slice", test_runnext_inherits_the_slice },
    { "spawn_runnext_and_local_overflow", test_spawn_runnext_and_local_overflow },
    { "sysmon_preempts_a_spinning_goroutine", test_sysmon_preempts_a_spinning_goroutine },
    { "preempt_hook_called", test_preempt_hook_called },
};

int main(int argc, char **argv)
{
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 60, NULL);
}
