/*
** coordinator/lease_test.c -- the task state machine on a fake clock: a
** grant is an attempt, a lost peer's task goes back to the queue with the
** lost attempt recorded, heartbeats decide who is lost, N same failures
** fail a task for good, stale ends change nothing, the peer cap holds.
*/
#include "coordinator/lease.h"
#include "base/testrun.h"

#include <stdio.h>

#define SEC 1000000000ull

static lease_t *make(size_t ntasks, int peers_max)
{
    lease_config_t cfg;
    lease_t *l = NULL;
    lease_config_default(&cfg);
    cfg.peers_max = peers_max;
    REQUIRE(lease_new(&cfg, ntasks, &l) == 0);
    return l;
}

static void test_config(void)
{
    lease_config_t cfg;
    lease_t *l = (lease_t *)1;
    lease_config_default(&cfg);
    CHECK_UINT(cfg.heartbeat_ns, SEC);
    CHECK_INT(cfg.misses_max, 3);
    CHECK_INT(cfg.attempts_max, 3);
    cfg.heartbeat_ns = 0;
    CHECK_INT(lease_new(&cfg, 1, &l), -22);
    CHECK(l == NULL);
    lease_destroy(&l);
    lease_destroy(NULL);
}

static void test_happy_path(void)
{
    lease_t *l = make(2, 8);
    int p = lease_peer_join(l, 0);
    size_t task;
    int attempt;
    CHECK(p >= 0);
    CHECK_INT(lease_grant(l, p, &task, &attempt), 0);
    CHECK_INT(task, 0);
    CHECK_INT(attempt, 1);
    CHECK_INT(lease_task_state(l, 0), LEASE_LEASED);
    CHECK_INT(lease_peer_task(l, p), 0);
    /* One task per peer at a time. */
    CHECK_INT(lease_grant(l, p, &task, &attempt), LEASE_ESTALE);
    CHECK_INT(lease_start(l, 0, 1, p), 0);
    CHECK_INT(lease_task_state(l, 0), LEASE_RUNNING);
    CHECK_INT(lease_end(l, 0, 1, p, LEASE_OUT_DONE, false, NULL), LEASE_DONE);
    /* A duplicate result is stale and changes nothing. */
    CHECK_INT(lease_end(l, 0, 1, p, LEASE_OUT_FAILED, true, "dup"), LEASE_ESTALE);
    CHECK_INT(lease_task_state(l, 0), LEASE_DONE);
    CHECK_INT(lease_grant(l, p, &task, &attempt), 0);
    CHECK_INT(task, 1);
    CHECK_INT(lease_end(l, 1, 1, p, LEASE_OUT_DONE, false, NULL), LEASE_DONE);
    CHECK_INT(lease_grant(l, p, &task, &attempt), LEASE_EEMPTY);
    CHECK(lease_finished(l));
    CHECK_INT(lease_count(l, LEASE_DONE), 2);
    lease_destroy(&l);
    CHECK(l == NULL);
}

static void test_heartbeat_loss_requeues(void)
{
    lease_t *l = make(1, 8);
    int a = lease_peer_join(l, 0), b = lease_peer_join(l, 0);
    size_t task;
    int attempt, lost[4];
    long held[4];
    CHECK_INT(lease_grant(l, a, &task, &attempt), 0);
    CHECK_INT(lease_start(l, task, attempt, a), 0);
    /* b keeps beating, a falls silent after 0.5 s. */
    lease_peer_seen(l, a, SEC / 2);
    for (uint64_t t = 1; t <= 3; t++) {
        lease_peer_seen(l, b, t * SEC);
        CHECK_INT(lease_expire(l, t * SEC, lost, held, 4), 0);
    }
    lease_peer_seen(l, b, 3 * SEC + SEC / 2);
    CHECK_INT(lease_expire(l, 3 * SEC + SEC / 2, lost, held, 4), 1);
    CHECK_INT(lost[0], a);
    CHECK_INT(held[0], 0);
    CHECK(!lease_peer_live(l, a));
    CHECK(lease_peer_live(l, b));
    CHECK_INT(lease_task_state(l, 0), LEASE_QUEUED);
    size_t n;
    const lease_attempt_t *ended = lease_task_attempts(l, 0, &n);
    REQUIRE(n == 1);
    CHECK_INT(ended[0].attempt, 1);
    CHECK_INT(ended[0].peer, a);
    CHECK_INT(ended[0].outcome, LEASE_OUT_LOST);
    CHECK_CONTAINS(ended[0].reason, "no heartbeat for 3000 ms");
    /* The late result of the lost attempt is stale. */
    CHECK_INT(lease_end(l, 0, 1, a, LEASE_OUT_DONE, false, NULL), LEASE_ESTALE);
    /* b gets it as attempt 2 and finishes. */
    CHECK_INT(lease_grant(l, b, &task, &attempt), 0);
    CHECK_INT(attempt, 2);
    CHECK_INT(lease_end(l, 0, 2, a, LEASE_OUT_DONE, false, NULL), LEASE_ESTALE);
    CHECK_INT(lease_end(l, 0, 2, b, LEASE_OUT_DONE, false, NULL), LEASE_DONE);
    CHECK(lease_finished(l));
    lease_destroy(&l);
}

static void test_same_failure_gives_up(void)
{
    lease_t *l = make(1, 8);
    int p = lease_peer_join(l, 0);
    size_t task;
    int attempt;
    for (int i = 1; i <= 2; i++) {
        CHECK_INT(lease_grant(l, p, &task, &attempt), 0);
        CHECK_INT(attempt, i);
        CHECK_INT(lease_end(l, 0, i, p, LEASE_OUT_FAILED, false, "cannot decode"),
                  LEASE_QUEUED);
    }
    CHECK_INT(lease_grant(l, p, &task, &attempt), 0);
    CHECK_INT(lease_end(l, 0, 3, p, LEASE_OUT_FAILED, false, "cannot decode"), LEASE_FAILED);
    CHECK_STR(lease_task_reason(l, 0), "cannot decode");
    CHECK_INT(lease_grant(l, p, &task, &attempt), LEASE_EEMPTY);
    lease_destroy(&l);

    /* Different reasons: retried until 3 x attempts_max attempts. */
    l = make(1, 8);
    p = lease_peer_join(l, 0);
    int state = -1;
    for (int i = 1; i <= 9; i++) {
        char why[32];
        snprintf(why, sizeof why, "way %d", i);
        CHECK_INT(lease_grant(l, p, &task, &attempt), 0);
        state = lease_end(l, 0, i, p, LEASE_OUT_LOST, false, why);
        CHECK_INT(state, i < 9 ? LEASE_QUEUED : LEASE_FAILED);
    }
    lease_destroy(&l);

    /* A kernel's own failure is final at once. */
    l = make(1, 8);
    p = lease_peer_join(l, 0);
    CHECK_INT(lease_grant(l, p, &task, &attempt), 0);
    CHECK_INT(lease_end(l, 0, 1, p, LEASE_OUT_FAILED, true, "out of heap"), LEASE_FAILED);
    lease_destroy(&l);
}

static void test_peer_lose_and_cap(void)
{
    lease_t *l = make(3, 2);
    int a = lease_peer_join(l, 0), b = lease_peer_join(l, 0);
    size_t task;
    int attempt;
    CHECK_INT(lease_peer_join(l, 0), LEASE_EFULL);
    CHECK_INT(lease_grant(l, a, &task, &attempt), 0);
    CHECK_INT(lease_grant(l, b, &task, &attempt), 0);
    CHECK_INT(lease_peer_lose(l, a, "killed by signal 9"), 0);
    CHECK_INT(lease_peer_lose(l, a, "again"), LEASE_EINVAL);
    CHECK_INT(lease_peers_live(l), 1);
    /* Its slot is used again. */
    int c = lease_peer_join(l, 5);
    CHECK_INT(c, a);
    /* The queue: task 2 first, then task 0 re-queued behind it. */
    CHECK_INT(lease_grant(l, c, &task, &attempt), 0);
    CHECK_INT(task, 2);
    CHECK_INT(lease_end(l, 2, 1, c, LEASE_OUT_DONE, false, NULL), LEASE_DONE);
    CHECK_INT(lease_grant(l, c, &task, &attempt), 0);
    CHECK_INT(task, 0);
    CHECK_INT(attempt, 2);
    /* Undeliverable: back to the front, attempt taken back. */
    CHECK_INT(lease_ungrant(l, 0, 2), 0);
    CHECK_INT(lease_task_state(l, 0), LEASE_QUEUED);
    CHECK_INT(lease_task_attempt(l, 0), 1);
    CHECK_INT(lease_peer_task(l, c), -1);
    lease_fail_rest(l, "interrupted");
    CHECK(lease_finished(l));
    CHECK_INT(lease_count(l, LEASE_FAILED), 2);
    CHECK_INT(lease_peer_task(l, b), -1);
    CHECK_STR(lease_task_reason(l, 1), "interrupted");
    lease_destroy(&l);
}

static void test_settle(void)
{
    lease_t *l = make(3, 2);
    int p = lease_peer_join(l, 0);
    size_t task;
    int attempt;
    CHECK_INT(lease_settle(l, 1, true), 0);
    CHECK_INT(lease_settle(l, 1, true), LEASE_ESTALE);
    CHECK_INT(lease_grant(l, p, &task, &attempt), 0);
    CHECK_INT(task, 0);
    CHECK_INT(lease_end(l, 0, 1, p, LEASE_OUT_DONE, false, NULL), LEASE_DONE);
    CHECK_INT(lease_grant(l, p, &task, &attempt), 0);
    CHECK_INT(task, 2);
    lease_destroy(&l);
}

int main(void)
{
    test_config();
    test_happy_path();
    test_heartbeat_loss_requeues();
    test_same_failure_gives_up();
    test_peer_lose_and_cap();
    test_settle();
    if (testrun_exit_status("lease_test") != 0)
        return 1;
    printf("lease_test: all checks passed\n");
    return 0;
}
