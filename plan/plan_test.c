/*
** plan/plan_test.c -- the plan's contract: tasks with equal runtime
** settings share a heap key and others do not, keys are "<token>-<n>"
** dense in order of first use, the same (scenario, token) gives the same
** keys, bad tokens and out-of-order ids are refused with the plan
** unchanged; and a real scenario file with a sweep, loaded and planned.
*/
#include "plan/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/testrun.h"

/* A scenario of n tasks built by hand, task i with gogc[i], with `heap:
** shared` (the cases below test the grouping); the plan looks at nothing
** but that setting, the tasks and their runtime settings. */
typedef struct fixture {
    scenario_t scn;
    scn_task_t tasks[16];
} fixture_t;

static void fixture_init(fixture_t *f, const int *gogc, size_t n)
{
    memset(f, 0, sizeof *f);
    REQUIRE(n <= sizeof f->tasks / sizeof f->tasks[0]);
    for (size_t i = 0; i < n; i++) {
        f->tasks[i].seq = (uint32_t)i;
        f->tasks[i].runtime.gogc = gogc[i];
        f->tasks[i].runtime.heap_max_bytes = 64 << 20;
    }
    f->scn.name = "fixture";
    f->scn.shared_heap = true;
    f->scn.tasks = f->tasks;
    f->scn.ntasks = n;
}

static void test_equal_runtime_shares_a_heap(void)
{
    static const int gogc[] = {50, 50, 99, 50, 99, 7};
    fixture_t f;
    plan_t *p = NULL;

    fixture_init(&f, gogc, 6);
    REQUIRE_INT(plan_new(&f.scn, "ab12", &p), 0);
    REQUIRE(p != NULL);
    REQUIRE(plan_scenario(p) == &f.scn);
    REQUIRE_STR(plan_token(p), "ab12");
    REQUIRE_INT(plan_ntasks(p), 6);
    REQUIRE_INT(plan_nheaps(p), 3);
    REQUIRE_STR(plan_heap_key(p, 0), "ab12-0");
    REQUIRE_STR(plan_heap_key(p, 1), "ab12-1");
    REQUIRE_STR(plan_heap_key(p, 2), "ab12-2");
    static const size_t want[] = {0, 0, 1, 0, 1, 2};
    for (size_t i = 0; i < 6; i++) {
        REQUIRE(plan_task(p, i)->scn == &f.tasks[i]);
        REQUIRE_INT(plan_task(p, i)->heap, want[i]);
        REQUIRE_INT(plan_task(p, i)->id, 0);
        REQUIRE_STR(plan_task_heap_key(p, i), plan_heap_key(p, want[i]));
    }
    plan_destroy(&p);
    REQUIRE(p == NULL);
}

/* Every runtime setting counts, not only gogc. */
static void test_every_runtime_setting_counts(void)
{
    static const int gogc[] = {100, 100, 100, 100, 100};
    fixture_t f;
    plan_t *p = NULL;

    fixture_init(&f, gogc, 5);
    f.tasks[1].runtime.memory_limit_bytes = 1 << 20;
    f.tasks[2].runtime.heap_max_bytes = 128 << 20;
    f.tasks[3].runtime.stack_reserve_bytes = 64 << 10;
    REQUIRE_INT(plan_new(&f.scn, "t", &p), 0);
    REQUIRE_INT(plan_nheaps(p), 4);
    REQUIRE_INT(plan_task(p, 4)->heap, 0);
    REQUIRE_STR(plan_task_heap_key(p, 3), "t-3");
    plan_destroy(&p);
}

/* Rebuilt from the same scenario and token (as --resume will): the same
** keys; another token: other keys, the same grouping. */
static void test_same_inputs_same_keys(void)
{
    static const int gogc[] = {10, 20, 10, 30};
    fixture_t f;
    plan_t *a = NULL, *b = NULL, *c = NULL;

    fixture_init(&f, gogc, 4);
    REQUIRE_INT(plan_new(&f.scn, "run1", &a), 0);
    REQUIRE_INT(plan_new(&f.scn, "run1", &b), 0);
    REQUIRE_INT(plan_new(&f.scn, "run2", &c), 0);
    REQUIRE_INT(plan_nheaps(a), plan_nheaps(b));
    for (size_t i = 0; i < 4; i++) {
        REQUIRE_STR(plan_task_heap_key(a, i), plan_task_heap_key(b, i));
        REQUIRE(strcmp(plan_task_heap_key(a, i), plan_task_heap_key(c, i)) != 0);
        REQUIRE_INT(plan_task(a, i)->heap, plan_task(c, i)->heap);
    }
    plan_destroy(&a);
    plan_destroy(&b);
    plan_destroy(&c);
}

static void test_bad_tokens_refused(void)
{
    static const int gogc[] = {100, 200};
    char long_token[PLAN_KEY_MAX];
    fixture_t f;
    plan_t *p = (plan_t *)&f;   /* must come back NULL */

    fixture_init(&f, gogc, 2);
    REQUIRE_INT(plan_new(&f.scn, "", &p), -EINVAL);
    REQUIRE(p == NULL);
    p = (plan_t *)&f;
    REQUIRE_INT(plan_new(&f.scn, NULL, &p), -EINVAL);
    REQUIRE(p == NULL);
    REQUIRE_INT(plan_new(&f.scn, "a/b", &p), -EINVAL);
    REQUIRE(p == NULL);

    /* "<token>-1" must fit with its NUL: a token of KEY_MAX - 3 does,
    ** one more does not. */
    memset(long_token, 'x', sizeof long_token);
    long_token[PLAN_KEY_MAX - 3] = '\0';
    REQUIRE_INT(plan_new(&f.scn, long_token, &p), 0);
    REQUIRE_INT(strlen(plan_heap_key(p, 1)), PLAN_KEY_MAX - 1);
    plan_destroy(&p);
    long_token[PLAN_KEY_MAX - 3] = 'x';
    long_token[PLAN_KEY_MAX - 2] = '\0';
    REQUIRE_INT(plan_new(&f.scn, long_token, &p), -EINVAL);
    REQUIRE(p == NULL);
    REQUIRE_STR(plan_strerror(-EINVAL), "invalid run token or task id");
}

static void test_task_ids_ascend(void)
{
    static const int gogc[] = {1, 2, 3, 4};
    fixture_t f;
    plan_t *p = NULL;

    fixture_init(&f, gogc, 4);
    REQUIRE_INT(plan_new(&f.scn, "tok", &p), 0);
    REQUIRE_INT(plan_ids_complete(p), 0);
    REQUIRE_INT(plan_find_task(p, 10), -1);
    REQUIRE_INT(plan_set_task_id(p, 1, 20), 0);
    REQUIRE_INT(plan_find_task(p, 20), 1);
    /* Refused, and nothing changes: not positive, not above the one
    ** before, not below the one after. */
    REQUIRE_INT(plan_set_task_id(p, 0, 0), -EINVAL);
    REQUIRE_INT(plan_set_task_id(p, 0, -5), -EINVAL);
    REQUIRE_INT(plan_set_task_id(p, 0, 20), -EINVAL);
    REQUIRE_INT(plan_set_task_id(p, 3, 19), -EINVAL);
    REQUIRE_INT(plan_set_task_id(p, 2, 20), -EINVAL);
    REQUIRE_INT(plan_task(p, 0)->id, 0);
    REQUIRE_INT(plan_task(p, 2)->id, 0);
    REQUIRE_INT(plan_task(p, 3)->id, 0);
    REQUIRE_INT(plan_find_task(p, 20), 1);

    REQUIRE_INT(plan_set_task_id(p, 0, 7), 0);
    REQUIRE_INT(plan_set_task_id(p, 3, 40), 0);
    REQUIRE_INT(plan_ids_complete(p), 0);
    REQUIRE_INT(plan_find_task(p, 40), 3);
    REQUIRE_INT(plan_set_task_id(p, 2, 21), 0);
    REQUIRE_INT(plan_ids_complete(p), 1);
    static const int64_t ids[] = {7, 20, 21, 40};
    for (size_t i = 0; i < 4; i++)
        REQUIRE_INT(plan_find_task(p, ids[i]), (long)i);
    REQUIRE_INT(plan_find_task(p, 8), -1);
    REQUIRE_INT(plan_find_task(p, 41), -1);
    REQUIRE_INT(plan_find_task(p, 0), -1);
    plan_destroy(&p);
}

static void test_no_tasks_no_heaps(void)
{
    fixture_t f;
    plan_t *p = NULL;

    fixture_init(&f, NULL, 0);
    REQUIRE_INT(plan_new(&f.scn, "empty", &p), 0);
    REQUIRE_INT(plan_ntasks(p), 0);
    REQUIRE_INT(plan_nheaps(p), 0);
    REQUIRE_INT(plan_ids_complete(p), 1);
    REQUIRE_INT(plan_find_task(p, 1), -1);
    plan_destroy(&p);
    plan_destroy(&p);       /* NULL is fine */
    plan_destroy(NULL);
}

/* By default each task is a program of its own: a fresh heap per task,
** whatever the runtime settings. */
static void test_fresh_heap_per_task_by_default(void)
{
    static const int gogc[] = {50, 50, 99, 50};
    fixture_t f;
    plan_t *p = NULL;

    fixture_init(&f, gogc, 4);
    f.scn.shared_heap = false;
    REQUIRE_INT(plan_new(&f.scn, "ab12", &p), 0);
    REQUIRE_INT(plan_nheaps(p), 4);
    for (size_t i = 0; i < 4; i++) {
        char want[32];
        snprintf(want, sizeof want, "ab12-%zu", i);
        REQUIRE_INT(plan_task(p, i)->heap, i);
        REQUIRE_STR(plan_task_heap_key(p, i), want);
    }
    plan_destroy(&p);
}

/* A real scenario file: by default every task a heap of its own; with
** `heap: shared`, a sweep over gogc with repeats puts each sweep point's
** repeats on one heap, and a kernel-parameter sweep leaves one heap. */
static void test_loaded_scenario(void)
{
    const char *dir = getenv("TEST_TMPDIR");
    char path[512], err[512];
    scenario_t *scn = NULL;
    plan_t *p = NULL;
    FILE *f;

    snprintf(path, sizeof path, "%s/sweep.yaml", dir && *dir ? dir : "/tmp");
    f = fopen(path, "w");
    REQUIRE(f != NULL);
    static const char body[] = "name: sweep\n"
                               "task: {kernel: binary_trees, depth: 6}\n"
                               "sweep: {gogc: [50, 200], depth: [6, 7]}\n"
                               "repeat: 2\n";
    fputs(body, f);
    REQUIRE(fclose(f) == 0);
    REQUIRE_INT(scenario_load(path, NULL, 0, &scn, err, sizeof err), 0);
    REQUIRE_INT(scn->ntasks, 8);
    REQUIRE(!scn->shared_heap);
    REQUIRE_INT(plan_new(scn, "0123456789abcdef", &p), 0);
    REQUIRE_INT(plan_nheaps(p), 8);
    plan_destroy(&p);
    scenario_free(&scn);

    f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs(body, f);
    fputs("heap: shared\n", f);
    REQUIRE(fclose(f) == 0);
    REQUIRE_INT(scenario_load(path, NULL, 0, &scn, err, sizeof err), 0);
    REQUIRE(scn->shared_heap);
    REQUIRE_INT(plan_new(scn, "0123456789abcdef", &p), 0);
    REQUIRE_INT(plan_nheaps(p), 2);
    for (size_t i = 0; i < scn->ntasks; i++) {
        size_t want = scn->tasks[i].runtime.gogc == scn->tasks[0].runtime.gogc ? 0 : 1;
        REQUIRE_INT(plan_task(p, i)->heap, want);
    }
    REQUIRE_STR(plan_heap_key(p, 1), "0123456789abcdef-1");
    plan_destroy(&p);
    scenario_free(&scn);
    unlink(path);
}

int main(int argc, char **argv)
{
    static const testrun_case_t cases[] = {
        {"equal_runtime_shares_a_heap", test_equal_runtime_shares_a_heap},
        {"every_runtime_setting_counts", test_every_runtime_setting_counts},
        {"same_inputs_same_keys", test_same_inputs_same_keys},
        {"bad_tokens_refused", test_bad_tokens_refused},
        {"task_ids_ascend", test_task_ids_ascend},
        {"no_tasks_no_heaps", test_no_tasks_no_heaps},
        {"fresh_heap_per_task_by_default", test_fresh_heap_per_task_by_default},
        {"loaded_scenario", test_loaded_scenario},
    };
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 60, NULL);
}
