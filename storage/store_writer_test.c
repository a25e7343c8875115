/*
** storage/store_writer_test.c -- the writer thread's queue against a real
** SQLite file: records land in the order they were queued (across many
** transactions), everything queued is stored when the writer is destroyed,
** a database locked by another connection is reported and retried with
** nothing lost, a record the database refuses is reported and skipped,
** failures past give_up_ns drop the queue and say how much, and a writer
** killed mid-stream leaves a prefix of what was queued. Waits are for
** events (the test's time limit bounds them), never for a time.
*/
#include "storage/store_writer.h"
#include "base/testrun.h"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *tmp_path(const char *name)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    const char *dir = getenv("TEST_TMPDIR");
    char *path;
    if (asprintf(&path, "%s/%s", dir && *dir ? dir : "/tmp", name) < 0)
        abort();
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char *p;
        if (asprintf(&p, "%s%s", path, suffixes[i]) < 0)
            abort();
        unlink(p);
        free(p);
    }
    return path;
}

/* A database with one run and two tasks. */
static char *make_db(const char *name, int64_t *run_id, int64_t task_id[2])
{
    char *path = tmp_path(name), err[512];
    store_t *st;
    REQUIRE_MSG(store_open(path, 0, &st, err, sizeof err) == 0, "%s", err);
    store_run_t run = {.token = name, .name = "w", .host = "h", .started_unix_ns = 1};
    REQUIRE(store_run_insert(st, &run, run_id) == 0);
    for (int i = 0; i < 2; i++) {
        store_task_t t = {.run_id = *run_id, .seq = (uint32_t)i, .kernel = "binary_trees"};
        REQUIRE(store_task_insert(st, &t, &task_id[i]) == 0);
    }
    store_close(&st);
    return path;
}

static long long q_int(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long long v = -1;
    REQUIRE(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    REQUIRE_MSG(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK, "%s", sql);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static char *q_text(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    char *v = NULL;
    REQUIRE(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    REQUIRE_MSG(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK, "%s", sql);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static store_sample_t sample(int64_t run_id, int64_t task_id, int64_t i)
{
    return (store_sample_t){.run_id = run_id, .task_id = task_id, .worker = "w1",
                            .t_ns = i, .unix_ns = 1000 + i, .heap_inuse_bytes = i * 8};
}

/* The next report, waiting for one. */
static void next_report(store_writer_t *w, char *msg, size_t size)
{
    while (!store_writer_error(w, msg, size))
        usleep(1000);
}

/* Queue n samples of task_id, t_ns first, first + 1, ...: each accepted. */
static void queue_samples(store_writer_t *w, int64_t run_id, int64_t task_id, int64_t first,
                          int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        store_sample_t s = sample(run_id, task_id, first + i);
        CHECK_INT(store_writer_sample(w, &s), 0);
    }
}

/* The writer's counts of records stored and dropped so far. */
static void check_settled(store_writer_t *w, uint64_t stored, uint64_t dropped)
{
    store_writer_stats_t n;
    store_writer_stats(w, &n);
    CHECK_UINT(n.stored, stored);
    CHECK_UINT(n.dropped, dropped);
}

/* A second connection holding the write lock (BEGIN EXCLUSIVE). */
static sqlite3 *hold_lock(const char *db)
{
    sqlite3 *h;
    REQUIRE(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_exec(h, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);
    return h;
}

static void release_lock(sqlite3 *h)
{
    REQUIRE(sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(h);
}

/* ---- cases -------------------------------------------------------------- */

/* Every kind of record, interleaved, over several transactions: rows
** come out in the order queued, and updates apply in that order (a finish
** queued before a start leaves the task running). */
static void test_order(void)
{
    int64_t run_id, task[2];
    char *db = make_db("order.db", &run_id, task), err[512];
    store_writer_t *w;
    store_writer_opts_t o = {.commit_every_ns = 1000000};   /* 1 ms: many commits */
    REQUIRE_MSG(store_writer_new(db, &o, &w, err, sizeof err) == 0, "%s", err);

    store_worker_t wk = {.run_id = run_id, .name = "w1", .host = "h", .pid = 7,
                         .joined_unix_ns = 5};
    CHECK_INT(store_writer_worker(w, &wk), 0);
    CHECK_INT(store_writer_task_start(w, task[0], "w1", "h", 10), 0);
    for (int64_t i = 0; i < 20000; i++) {
        store_sample_t s = sample(run_id, task[0], i);
        CHECK_INT(store_writer_sample(w, &s), 0);
        if (i % 50 == 0) {
            store_event_t e = {.run_id = run_id, .unix_ns = i, .kind = "mark",
                               .count = i / 50 + 1, .detail = "in order"};
            CHECK_INT(store_writer_event(w, &e), 0);
        }
        if (i % 1000 == 0)
            CHECK_INT(store_writer_run_beat(w, run_id, 100 + i), 0);
        if (i == 10000)
            store_writer_drain(w);    /* at least two transactions, whatever the pace */
    }
    store_writer_metric_t m1[] = {{"ns_op", 1.0, "ns"}};
    store_writer_metric_t m2[] = {{"ns_op", 2.0, "ns"}, {"allocs", 3.0, NULL}};
    store_task_result_t done = {.status = "done", .output = "first", .ended_unix_ns = 20};
    CHECK_INT(store_writer_task_finish(w, task[0], &done, m1, 1), 0);
    done.output = "second";
    CHECK_INT(store_writer_task_finish(w, task[0], &done, m2, 2), 0);
    /* Task 1: its finish queued before its start. */
    store_task_result_t failed = {.status = "failed", .error = "x", .ended_unix_ns = 30};
    CHECK_INT(store_writer_task_finish(w, task[1], &failed, NULL, 0), 0);
    CHECK_INT(store_writer_task_start(w, task[1], "w1", "h", 40), 0);
    CHECK_INT(store_writer_run_finish(w, run_id, "done", 50, NULL), 0);
    store_writer_drain(w);

    store_writer_stats_t n;
    store_writer_stats(w, &n);
    CHECK_UINT(n.stored, n.queued);
    CHECK_UINT(n.errors, 0);
    CHECK(n.commits > 1);
    CHECK(!store_writer_full(w));
    store_writer_destroy(&w);
    CHECK(w == NULL);

    CHECK_INT(q_int(db, "select count(*) from samples"), 20000);
    /* Row ids follow t_ns: stored in the order queued. */
    CHECK_INT(q_int(db, "select count(*) from samples a join samples b on b.id = a.id + 1"
                        " where b.t_ns != a.t_ns + 1"), 0);
    CHECK_INT(q_int(db, "select count(*) from events"), 400);
    CHECK_INT(q_int(db, "select count(*) from events a join events b on b.id = a.id + 1"
                        " where b.count != a.count + 1"), 0);
    CHECK_INT(q_int(db, "select heartbeat_unix_ns from runs"), 100 + 19000);
    char *out = q_text(db, "select output from tasks where seq = 0");
    CHECK_STR(out, "second");
    free(out);
    CHECK_INT(q_int(db, "select value from metrics where name = 'ns_op'"), 2);
    CHECK_INT(q_int(db, "select count(*) from metrics"), 2);
    char *st1 = q_text(db, "select status from tasks where seq = 1");
    CHECK_STR(st1, "running");
    free(st1);
    char *run = q_text(db, "select status from runs");
    CHECK_STR(run, "done");
    free(run);
    free(db);
}

/* Destroyed at once after queueing: everything is stored first. */
static void test_drain_on_destroy(void)
{
    int64_t run_id, task[2];
    char *db = make_db("drain.db", &run_id, task), err[512];
    store_writer_t *w;
    REQUIRE_MSG(store_writer_new(db, NULL, &w, err, sizeof err) == 0, "%s", err);
    for (int64_t i = 0; i < 50000; i++) {
        store_sample_t s = sample(run_id, task[i & 1], i);
        CHECK_INT(store_writer_sample(w, &s), 0);
    }
    store_writer_destroy(&w);
    CHECK_INT(q_int(db, "select count(*) from samples"), 50000);
    CHECK_INT(q_int(db, "select count(distinct t_ns) from samples"), 50000);
    free(db);
}

/* Another connection holds the write lock past the busy timeout: the
** writer says so (as a report, with "retrying"), keeps everything, and
** stores it all, once, when the lock goes. The queue passes its bound
** meanwhile: full, never refused. */
static void test_locked_reported_and_retried(void)
{
    int64_t run_id, task[2];
    char *db = make_db("locked.db", &run_id, task), err[512], msg[700];
    store_writer_t *w;
    store_writer_opts_t o = {.busy_timeout_ms = 20, .queue_max_bytes = 16 << 10};
    REQUIRE_MSG(store_writer_new(db, &o, &w, err, sizeof err) == 0, "%s", err);
    sqlite3 *lock = hold_lock(db);
    queue_samples(w, run_id, task[0], 0, 500);
    CHECK(store_writer_full(w));
    next_report(w, msg, sizeof msg);
    CHECK_CONTAINS(msg, "database is locked");
    CHECK_CONTAINS(msg, "retrying");
    /* A second report: it went on trying (and backing off). */
    next_report(w, msg, sizeof msg);
    CHECK_CONTAINS(msg, "retrying");
    CHECK_INT(q_int(db, "select count(*) from samples"), 0);
    release_lock(lock);
    store_writer_drain(w);
    CHECK(!store_writer_full(w));
    store_writer_stats_t n;
    store_writer_stats(w, &n);
    CHECK(n.errors >= 2);
    CHECK_UINT(n.dropped, 0);
    CHECK_UINT(n.stored, 500);
    store_writer_destroy(&w);
    CHECK_INT(q_int(db, "select count(*) from samples"), 500);
    CHECK_INT(q_int(db, "select count(distinct t_ns) from samples"), 500);
    free(db);
}

/* A record the database refuses (a sample of a task that does not exist, a
** result with a metric of a reserved name): reported, skipped, and undone
** whole; the others around it are stored. */
static void test_refused_record_reported(void)
{
    int64_t run_id, task[2];
    char *db = make_db("refused.db", &run_id, task), err[512], msg[700];
    store_writer_t *w;
    REQUIRE_MSG(store_writer_new(db, NULL, &w, err, sizeof err) == 0, "%s", err);
    store_sample_t a = sample(run_id, task[0], 1), bad = sample(run_id, 999999, 2),
                   c = sample(run_id, task[1], 3);
    CHECK_INT(store_writer_sample(w, &a), 0);
    CHECK_INT(store_writer_sample(w, &bad), 0);
    CHECK_INT(store_writer_sample(w, &c), 0);
    /* A result whose second metric is refused (the reserved name): the
    ** whole record is undone, not half of it. */
    store_writer_metric_t m[] = {{"ns_op", 1.0, "ns"}, {"output", 2.0, NULL}};
    store_task_result_t done = {.status = "done", .ended_unix_ns = 20};
    CHECK_INT(store_writer_task_finish(w, task[1], &done, m, 2), 0);
    store_writer_drain(w);
    REQUIRE(store_writer_error(w, msg, sizeof msg) == 1);
    CHECK_CONTAINS(msg, "FOREIGN KEY");
    CHECK_CONTAINS(msg, "not stored");
    REQUIRE(store_writer_error(w, msg, sizeof msg) == 1);
    CHECK_CONTAINS(msg, "metric output");
    CHECK_CONTAINS(msg, "not stored");
    CHECK(store_writer_error(w, msg, sizeof msg) == 0);
    store_writer_stats_t n;
    store_writer_stats(w, &n);
    CHECK_UINT(n.skipped, 2);
    CHECK_UINT(n.stored, 2);
    store_writer_destroy(&w);
    CHECK_INT(q_int(db, "select count(*) from samples"), 2);
    CHECK_INT(q_int(db, "select sum(t_ns) from samples"), 4);
    CHECK_INT(q_int(db, "select count(*) from metrics"), 0);
    char *st1 = q_text(db, "select status from tasks where seq = 1");
    CHECK_STR(st1, "pending");
    free(st1);
    free(db);
}

/* Failing past give_up_ns: the queue is dropped, and the report says how
** many records; the writer goes on with what comes next. */
static void test_give_up_says_how_many(void)
{
    int64_t run_id, task[2];
    char *db = make_db("giveup.db", &run_id, task), err[512], msg[700];
    store_writer_t *w;
    store_writer_opts_t o = {.busy_timeout_ms = 20, .give_up_ns = 300000000};
    REQUIRE_MSG(store_writer_new(db, &o, &w, err, sizeof err) == 0, "%s", err);
    sqlite3 *lock = hold_lock(db);
    queue_samples(w, run_id, task[0], 0, 100);
    do
        next_report(w, msg, sizeof msg);
    while (!strstr(msg, "gave up"));
    CHECK_CONTAINS(msg, "100 records not stored");
    CHECK_CONTAINS(msg, "database is locked");
    store_writer_drain(w);           /* settled: dropped */
    release_lock(lock);
    queue_samples(w, run_id, task[1], 1000, 10);
    store_writer_drain(w);
    check_settled(w, 10, 100);
    store_writer_destroy(&w);
    CHECK_INT(q_int(db, "select count(*) from samples"), 10);
    CHECK_INT(q_int(db, "select min(t_ns) from samples"), 1000);
    free(db);
}

/* Giving up at once (store_writer_abandon), the database locked by
** another connection and the writer inside its busy wait (5 s a try,
** retried for 60 s): what was committed stays, every record not committed
** is dropped and counted, and so is any queued after. */
static void test_abandon(void)
{
    int64_t run_id, task[2];
    char *db = make_db("abandon.db", &run_id, task), err[512];
    store_writer_t *w;
    REQUIRE_MSG(store_writer_new(db, NULL, &w, err, sizeof err) == 0, "%s", err);
    queue_samples(w, run_id, task[0], 0, 10);
    CHECK_INT(store_writer_drain_for(w, UINT64_MAX / 2), 0);
    sqlite3 *lock = hold_lock(db);
    queue_samples(w, run_id, task[0], 100, 100);
    CHECK_INT(store_writer_drain_for(w, 50000000), 1);   /* locked out */
    CHECK_UINT(store_writer_abandon(w), 100);
    queue_samples(w, run_id, task[1], 1000, 5);
    CHECK_INT(store_writer_drain_for(w, UINT64_MAX / 2), 0);
    release_lock(lock);
    check_settled(w, 10, 105);
    store_writer_destroy(&w);
    CHECK_INT(q_int(db, "select count(*) from samples"), 10);
    CHECK_INT(q_int(db, "select max(t_ns) from samples"), 9);
    free(db);
}

/* store_writer_drain_for with the longest wait there is (UINT64_MAX ns)
** waits until the records are stored: its deadline must not wrap to the
** past, which would return 1 at once. The database is locked by another
** connection when the wait begins, so nothing is settled then; a thread
** lets go of the lock a while later (only so that the wait ends: how long
** "a while" is decides nothing that is checked). */
static void *release_later(void *arg)
{
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    release_lock(arg);
    return NULL;
}

static void test_drain_for_longest_wait(void)
{
    int64_t run_id, task[2];
    char *db = make_db("longest.db", &run_id, task), err[512];
    store_writer_t *w;
    REQUIRE_MSG(store_writer_new(db, NULL, &w, err, sizeof err) == 0, "%s", err);
    sqlite3 *lock = hold_lock(db);
    queue_samples(w, run_id, task[0], 0, 10);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, release_later, lock) == 0);
    CHECK_INT(store_writer_drain_for(w, UINT64_MAX), 0);
    pthread_join(t, NULL);
    check_settled(w, 10, 0);
    store_writer_destroy(&w);
    CHECK_INT(q_int(db, "select count(*) from samples"), 10);
    free(db);
}

/* A process killed while its writer streams (SIGKILL, no chance to clean
** up): the file is sound and holds a prefix of what was queued. */
static void test_killed_leaves_prefix(void)
{
    int64_t run_id, task[2];
    char *db = make_db("killed.db", &run_id, task);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        char err[512];
        store_writer_t *w;
        store_writer_opts_t o = {.commit_every_ns = 1000000};
        if (store_writer_new(db, &o, &w, err, sizeof err) != 0)
            _exit(3);
        for (int64_t i = 1;; i++) {
            store_event_t e = {.run_id = run_id, .unix_ns = i, .kind = "mark", .count = i};
            if (store_writer_event(w, &e) != 0)
                _exit(4);
            while (store_writer_full(w))
                usleep(100);
        }
    }
    /* Until some thousands are committed, then kill it mid-stream. */
    while (q_int(db, "select count(*) from events") < 5000) {
        REQUIRE(waitpid(pid, NULL, WNOHANG) == 0);
        usleep(2000);
    }
    kill(pid, SIGKILL);
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    char *ok = q_text(db, "pragma integrity_check");
    CHECK_STR(ok, "ok");
    free(ok);
    long long n = q_int(db, "select count(*) from events");
    CHECK(n >= 5000);
    CHECK_INT(q_int(db, "select min(count) from events"), 1);
    CHECK_INT(q_int(db, "select max(count) from events"), n);
    CHECK_INT(q_int(db, "select count(distinct count) from events"), n);
    free(db);
}

int main(int argc, char **argv)
{
    static const testrun_case_t tests[] = {
        {"order", test_order},
        {"drain_on_destroy", test_drain_on_destroy},
        {"locked_reported_and_retried", test_locked_reported_and_retried},
        {"refused_record_reported", test_refused_record_reported},
        {"give_up_says_how_many", test_give_up_says_how_many},
        {"killed_leaves_prefix", test_killed_leaves_prefix},
        {"abandon", test_abandon},
        {"drain_for_longest_wait", test_drain_for_longest_wait},
    };
    return testrun_main(argc, argv, tests, sizeof tests / sizeof tests[0], 120, NULL);
}
