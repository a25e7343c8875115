/*
** launcher/launcher_test.c -- launcher_run() with real worker processes,
** a real SQLite file and real shared memory.
**
** The local workers are this test binary itself: run as `heapsim worker
** --connect EP ...` (what the launcher starts) it serves as a worker. Every
** case uses its own HEAPSIM_SHM_PREFIX and checks that nothing of its own
** is left in /dev/shm.
*/
#include "launcher/launcher.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/testrun.h"
#include "worker/worker.h"


static char dir[512];

/* This case's files and segment prefix: apart from every other case. */
static void setup(const char *name)
{
    const char *tmp = getenv("TEST_TMPDIR");
    char prefix[128];

    snprintf(dir, sizeof dir, "%s/%s", tmp && *tmp ? tmp : "/tmp", name);
    mkdir(dir, 0700);
    /* Inside the prefix tests/run gives every test, so that its leak check
    ** sees ours too. */
    static char base[64];
    if (!base[0]) {
        const char *given = getenv("HEAPSIM_SHM_PREFIX");
        snprintf(base, sizeof base, "%s",
                 given && *given && !strchr(given, '/') ? given : "heapsim-");
    }
    snprintf(prefix, sizeof prefix, "%slt%d-", base, (int)getpid());
    REQUIRE(setenv("HEAPSIM_SHM_PREFIX", prefix, 1) == 0);
}

static const char *path_of(const char *file, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", dir, file);
    return buf;
}

static const char *write_scenario(const char *text, char *buf, size_t size)
{
    FILE *f = fopen(path_of("s.yaml", buf, size), "w");
    REQUIRE(f != NULL);
    REQUIRE(fputs(text, f) >= 0);
    REQUIRE(fclose(f) == 0);
    return buf;
}

/* How many segments with this case's prefix are in /dev/shm. */
static int segments_left(void)
{
    const char *prefix = getenv("HEAPSIM_SHM_PREFIX");
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    int n = 0;

    REQUIRE(d != NULL);
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            fprintf(stderr, "left in /dev/shm: %s\n", e->d_name);
            n++;
        }
    closedir(d);
    return n;
}

/* The first column of the first row of `sql` as an integer or text. */
static long long q_int(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long long v;

    REQUIRE(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static void q_text(const char *db, const char *sql, char *buf, size_t size)
{
    sqlite3 *h;
    sqlite3_stmt *st;

    REQUIRE(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
}

/* Two runtime settings and `heap: shared`, so two heaps per host, on two
** local workers (each shared by a point's two repeats). */
static const char *two_heaps =
    "name: two-heaps\n"
    "task: {kernel: churn, objects: 300000, live_objects: 1000}\n"
    "sweep: {gogc: [50, 200]}\n"
    "repeat: 2\n"
    "heap: shared\n"
    "sample_interval: 10ms\n";

static void test_local_run(void)
{
    char scn[600], db[600], text[256];

    setup("local_run");
    launcher_opts_t o = {
        .cmd = "run", .scenario_path = write_scenario(two_heaps, scn, sizeof scn),
        .db = path_of("h.db", db, sizeof db), .local = true, .workers = 2,
        .quiet = true, .command_line = "launcher_test local_run",
    };
    REQUIRE_INT(launcher_run(&o), LAUNCHER_EXIT_OK);
    q_text(db, "select status from runs", text, sizeof text);
    REQUIRE_STR(text, "done");
    q_text(db, "select command_line from runs", text, sizeof text);
    REQUIRE_STR(text, "launcher_test local_run");
    REQUIRE_INT(q_int(db, "select workers from runs"), 2);
    REQUIRE_INT(q_int(db, "select count(*) from tasks where status = 'done'"), 4);
    REQUIRE_INT(q_int(db, "select count(*) from workers"), 2);
    /* Task ids ascend with seq, as the plan and the coordinator want. */
    REQUIRE_INT(q_int(db, "select count(*) from tasks a join tasks b on a.seq < b.seq"
                        " where a.id >= b.id"), 0);
    /* One heap per runtime setting: each GC cycle names its heap. */
    REQUIRE_INT(q_int(db, "select count(distinct heap) from gc_cycles"), 2);
    REQUIRE_INT(segments_left(), 0);
}

/* A bad scenario: usage status, and no database is made. */
static void test_bad_scenario(void)
{
    char scn[600], db[600];
    struct stat sb;

    setup("bad_scenario");
    launcher_opts_t o = {
        .cmd = "run",
        .scenario_path = write_scenario("name: x\ntask: {kernel: nope}\n", scn, sizeof scn),
        .db = path_of("h.db", db, sizeof db), .local = true, .workers = 1,
        .quiet = true, .command_line = "x",
    };
    REQUIRE_INT(launcher_run(&o), LAUNCHER_EXIT_USAGE);
    REQUIRE(stat(db, &sb) != 0);
}

/* Workers that exit at once: the supervisor reports them gone, the tasks
** fail with the reason, and the run ends (it does not wait for workers). */
static void test_workers_that_die(void)
{
    char scn[600], db[600], text[256];

    setup("workers_that_die");
    launcher_opts_t o = {
        .cmd = "run", .scenario_path = write_scenario(two_heaps, scn, sizeof scn),
        .db = path_of("h.db", db, sizeof db), .local = true, .workers = 2,
        .worker_exe = "/bin/false", .quiet = true, .command_line = "x",
    };
    REQUIRE_INT(launcher_run(&o), LAUNCHER_EXIT_FAILED);
    q_text(db, "select status from runs", text, sizeof text);
    REQUIRE_STR(text, "failed");
    REQUIRE_INT(q_int(db, "select count(*) from tasks where status = 'failed' and"
                        " error = 'no worker left to run the task'"), 4);
    REQUIRE_INT(segments_left(), 0);
}

/* An endpoint that cannot be bound: usage status, and nothing written
** (not even the database file). */
static void test_cannot_bind(void)
{
    char scn[600], db[600];

    setup("cannot_bind");
    launcher_opts_t o = {
        .cmd = "coordinator", .scenario_path = write_scenario(two_heaps, scn, sizeof scn),
        .db = path_of("h.db", db, sizeof db), .bind = "tcp://no-such-host.invalid:1",
        .quiet = true, .command_line = "x",
    };
    REQUIRE_INT(launcher_run(&o), LAUNCHER_EXIT_USAGE);
    CHECK(access(db, F_OK) != 0);
    o.bind = "bogus://x";
    REQUIRE_INT(launcher_run(&o), LAUNCHER_EXIT_USAGE);
    CHECK(access(db, F_OK) != 0);
}

/* `launcher_test worker --connect EP --name N --local-child`: what the
** launcher starts as a local worker. */
static int serve_as_worker(int argc, char **argv)
{
    worker_opts_t wo = {.quiet = true};
    for (int i = 2; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--connect") == 0)
            wo.endpoint = argv[++i];
        else if (strcmp(argv[i], "--name") == 0)
            wo.name = argv[++i];
    }
    wo.exit_with_parent = true;
    if (!wo.endpoint)
        return 2;
    return worker_main(&wo);
}

int main(int argc, char **argv)
{
    static const testrun_case_t cases[] = {
        {"local_run", test_local_run},
        {"bad_scenario", test_bad_scenario},
        {"workers_that_die", test_workers_that_die},
        {"cannot_bind", test_cannot_bind},
    };
    if (argc > 1 && strcmp(argv[1], "worker") == 0)
        return serve_as_worker(argc, argv);
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 120, NULL);
}
