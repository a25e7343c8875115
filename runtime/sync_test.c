/*
** runtime/sync_test.c -- WaitGroup, Mutex and Once against sync.h: mutual
** exclusion across switch points, FIFO handoff, waiting for a count,
** exactly-once, Go's misuse messages, deadlock reasons, and a failed task
** unwinding goroutines that are queued on them.
**
** Each case runs in its own forked process with a time limit; pass a case
** name as argv[1] to run just that one in-process.
*/
#include "runtime/sync.h"
#include "base/testrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static sched_t *new_sched(void)
{
    sched_t *s = NULL;

    REQUIRE_INT(sched_new(NULL, &s), 0);
    return s;
}

static char journal[1024];
static size_t journal_len;

static void note(const char *what)
{
    size_t n = strlen(what);

    REQUIRE(journal_len + n < sizeof journal);
    memcpy(journal + journal_len, what, n + 1);
    journal_len += n;
}

/* ---- Mutex ------------------------------------------------------------------ */

enum { WORKERS = 8, ROUNDS = 200 };
static sync_mutex_t mu = SYNC_MUTEX_INIT;
static long counter;
static int inside;

/* A read-modify-write with a switch point in the middle: without the
** mutex, updates are lost. */
static void increments(sched_t *s, void *arg)
{
    for (int i = 0; i < ROUNDS; i++) {
        sync_mutex_lock(s, &mu);
        REQUIRE_INT(inside, 0);
        inside = 1;
        long seen = counter;
        sched_yield(s);
        counter = seen + 1;
        inside = 0;
        sync_mutex_unlock(s, &mu);
        sched_yield(s);
    }
}

static void test_mutex_excludes(void)
{
    sched_t *s = new_sched();

    for (int i = 0; i < WORKERS; i++)
        REQUIRE(sched_spawn(s, increments, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(counter, (long)WORKERS * ROUNDS);
    REQUIRE(!mu.locked);
    sched_destroy(&s);
}

static void holds_then_releases(sched_t *s, void *arg)
{
    sync_mutex_lock(s, &mu);
    note("H");
    for (int i = 0; i < 3; i++)
        sched_yield(s);   /* everyone else queues meanwhile */
    sync_mutex_unlock(s, &mu);
}

static void takes_turn(sched_t *s, void *arg)
{
    sync_mutex_lock(s, &mu);
    note(arg);
    sync_mutex_unlock(s, &mu);
}

static void test_mutex_fifo_handoff_and_trylock(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, holds_then_releases, NULL) > 0);
    REQUIRE(sched_spawn(s, takes_turn, "a") > 0);
    REQUIRE(sched_spawn(s, takes_turn, "b") > 0);
    REQUIRE(sched_spawn(s, takes_turn, "c") > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_STR(journal, "Habc");

    REQUIRE(sync_mutex_trylock(&mu));
    REQUIRE(!sync_mutex_trylock(&mu));
    mu.locked = false;
    sched_destroy(&s);
}

static void unlocks_free_mutex(sched_t *s, void *arg)
{
    sync_mutex_unlock(s, &mu);
}

static void locks_twice(sched_t *s, void *arg)
{
    sync_mutex_lock(s, &mu);
    sync_mutex_lock(s, &mu);
}

static void test_mutex_misuse(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, unlocks_free_mutex, NULL) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EFAILED);
    REQUIRE_STR(sched_failure(s), "sync: unlock of unlocked mutex");

    REQUIRE(sched_spawn(s, locks_twice, NULL) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EDEADLOCK);
    REQUIRE_STR(sched_failure(s),
              "all goroutines are asleep - deadlock!\n\ngoroutine 2 [sync.Mutex.Lock]");
    sched_destroy(&s);
}

/* ---- WaitGroup --------------------------------------------------------------- */

static sync_wg_t wg = SYNC_WG_INIT;
static int finished;

static void works_then_done(sched_t *s, void *arg)
{
    int n = (int)(intptr_t)arg;

    for (int i = 0; i < n; i++)
        sched_yield(s);
    if (n % 3 == 0)
        sched_sleep_ns(s, 1000000);
    finished++;
    sync_wg_done(s, &wg);
}

static void waits_for(sched_t *s, void *arg)
{
    sync_wg_wait(s, &wg);
    REQUIRE_INT(finished, 10);
    note(arg);
}

static void coordinator(sched_t *s, void *arg)
{
    sync_wg_wait(s, &wg);   /* zero: returns at once */
    sync_wg_add(s, &wg, 10);
    for (intptr_t i = 0; i < 10; i++)
        REQUIRE(sched_spawn(s, works_then_done, (void *)i) > 0);
    REQUIRE(sched_spawn(s, waits_for, "1") > 0);
    REQUIRE(sched_spawn(s, waits_for, "2") > 0);
    sync_wg_wait(s, &wg);
    REQUIRE_INT(finished, 10);
    note("0");
}

static void test_waitgroup(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, coordinator, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    /* Woken oldest first: the coordinator, then "2" (the last `go`, in
    ** runnext, runs and waits before "1"). */
    REQUIRE_STR(journal, "021");
    REQUIRE_INT(wg.count, 0);
    sched_destroy(&s);
}

static void done_too_often(sched_t *s, void *arg)
{
    sync_wg_add(s, &wg, 1);
    sync_wg_done(s, &wg);
    sync_wg_done(s, &wg);
}

static void waits_forever(sched_t *s, void *arg)
{
    sync_wg_add(s, &wg, 1);
    sync_wg_wait(s, &wg);
}

static void test_waitgroup_misuse(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, done_too_often, NULL) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EFAILED);
    REQUIRE_STR(sched_failure(s), "sync: negative WaitGroup counter");

    sync_wg_init(&wg);
    REQUIRE(sched_spawn(s, waits_forever, NULL) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EDEADLOCK);
    REQUIRE(strstr(sched_failure(s), "goroutine 2 [sync.WaitGroup.Wait]") != NULL);
    sched_destroy(&s);
}

/* ---- Once ----------------------------------------------------------------------- */

static sync_once_t once = SYNC_ONCE_INIT;
static int init_runs;

static void slow_init(void *arg)
{
    sched_t *s = arg;

    init_runs++;
    for (int i = 0; i < 5; i++)
        sched_yield(s);   /* the others arrive while it runs */
    note("I");
}

static void needs_init(sched_t *s, void *arg)
{
    sync_once_do(s, &once, slow_init, s);
    REQUIRE_INT(once.state, 2);
    note(arg);
}

static void test_once(void)
{
    sched_t *s = new_sched();

    REQUIRE(sched_spawn(s, needs_init, "a") > 0);
    REQUIRE(sched_spawn(s, needs_init, "b") > 0);
    REQUIRE(sched_spawn(s, needs_init, "c") > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(init_runs, 1);
    REQUIRE_STR(journal, "Iabc");
    REQUIRE(sched_spawn(s, needs_init, "d") > 0);   /* done: no wait */
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(init_runs, 1);
    sched_destroy(&s);
}

/* ---- A failed task unwinds goroutines queued on sync objects ----------------------- */

static void unlock_cleanup(void *arg)
{
    sched_t *s = arg;

    sync_mutex_unlock(s, &mu);
    sync_wg_done(s, &wg);
    note("u");
}

static void holder_fails(sched_t *s, void *arg)
{
    sync_mutex_lock(s, &mu);
    REQUIRE_INT(sched_defer(s, unlock_cleanup, s), 0);
    for (int i = 0; i < 3; i++)
        sched_yield(s);   /* the others queue on mu and wg */
    sched_fail(s, "holder failed");
}

static void queued_locker(sched_t *s, void *arg)
{
    sync_mutex_lock(s, &mu);
    note("NOT REACHED");
}

static void queued_waiter(sched_t *s, void *arg)
{
    sync_wg_wait(s, &wg);
    note("NOT REACHED");
}

static void relocks_in_cleanup(void *arg)
{
    sched_t *s = arg;

    sync_mutex_lock(s, &mu);   /* unwinding: at once */
    sync_mutex_unlock(s, &mu);
    sync_wg_wait(s, &wg);      /* unwinding: at once */
    note("r");
}

static void queued_with_cleanup(sched_t *s, void *arg)
{
    REQUIRE_INT(sched_defer(s, relocks_in_cleanup, s), 0);
    sync_mutex_lock(s, &mu);
    note("NOT REACHED");
}

static void test_failure_unwinds_queued(void)
{
    sched_t *s = new_sched();

    sync_wg_add(s, &wg, 2);   /* outside a goroutine: fine when >= 0 */
    REQUIRE(sched_spawn(s, holder_fails, NULL) > 0);
    REQUIRE(sched_spawn(s, queued_locker, NULL) > 0);
    REQUIRE(sched_spawn(s, queued_waiter, NULL) > 0);
    REQUIRE(sched_spawn(s, queued_with_cleanup, NULL) > 0);
    REQUIRE(sched_spawn(s, queued_locker, NULL) > 0);
    REQUIRE_INT(sched_run(s), SCHED_EFAILED);
    REQUIRE_STR(sched_failure(s), "holder failed");
    REQUIRE(strstr(journal, "NOT REACHED") == NULL);
    /* The holder's own cleanup ran before the unwinding (and handed the
    ** mutex on), the queued one's during it. */
    REQUIRE_STR(journal, "ur");

    /* Objects of a failed task are initialized again, then work. */
    sync_mutex_init(&mu);
    sync_wg_init(&wg);
    counter = 0;
    for (int i = 0; i < WORKERS; i++)
        REQUIRE(sched_spawn(s, increments, NULL) > 0);
    REQUIRE_INT(sched_run(s), 0);
    REQUIRE_INT(counter, (long)WORKERS * ROUNDS);
    sched_destroy(&s);
}

/* ---- Runner ------------------------------------------------------------------------- */

typedef testrun_case_t test_case_t;

static const test_case_t cases[] = {
    { "mutex_excludes", test_mutex_excludes },
    { "mutex_fifo_handoff_and_trylock", test_mutex_fifo_handoff_and_trylock },
    { "mutex_misuse", test_mutex_misuse },
    { "waitgroup", test_waitgroup },
    { "waitgroup_misuse", test_waitgroup_misuse },
    { "once", test_once },
    { "failure_unwinds_queued", test_failure_unwinds_queued },
};

int main(int argc, char **argv)
{
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 60, NULL);
}
