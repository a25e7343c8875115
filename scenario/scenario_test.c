/*
** scenario/scenario_test.c -- scenario_load() on real files written into
** $TEST_TMPDIR: valid scenarios and their expansion, every class of bad
** input with its exact "file:line:col: message", --set overrides, and the
** runtime settings' JSON.
**
** Checks are base/testrun.h's, not assert(): opt builds define NDEBUG.
*/
#include "scenario/scenario.h"
#include "base/testrun.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* CHECK_STR(got, want) reported at the caller's `line`. */
static void check_str(int line, const char *got, const char *want)
{
    if (got == NULL || strcmp(got, want) != 0)
        testrun_check_failed(__FILE__, line, "got  \"%s\"\n  want \"%s\"",
                             got != NULL ? got : "(null)", want);
}

static char tmpdir[512];

/* Write `text` to $TEST_TMPDIR/name; returns the path (static buffer per
** call site is not enough, so the caller's buffer). */
static const char *write_file(const char *name, const char *text, char *path,
                              size_t size)
{
    FILE *f;

    snprintf(path, size, "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(2);
    }
    return path;
}

/* Load `text` (as file `name`) with the given sets; the scenario or NULL
** (then err says why). */
static scenario_t *load_sets(const char *name, const char *text,
                             const char *const *sets, size_t nsets, char *err,
                             size_t errsize)
{
    char path[1024];
    scenario_t *scn = (scenario_t *)(uintptr_t)0x1;  /* must stay on failure */
    int rc;

    write_file(name, text, path, sizeof(path));
    rc = scenario_load(path, sets, nsets, &scn, err, errsize);
    if (rc != 0) {
        CHECK(rc == SCENARIO_EUSAGE);
        CHECK(scn == (scenario_t *)(uintptr_t)0x1);
        return NULL;
    }
    CHECK(scn != NULL);
    return scn;
}

static scenario_t *load_ok(const char *name, const char *text,
                           const char *const *sets, size_t nsets)
{
    char err[2048] = "";
    scenario_t *scn = load_sets(name, text, sets, nsets, err, sizeof(err));

    CHECK_MSG(scn != NULL, "unexpected load failure: %s", err);
    return scn;
}

/* Loading fails with exactly `want`, where "%F" stands for the path. */
static void expect_error_sets(int line, const char *name, const char *text,
                              const char *const *sets, size_t nsets,
                              const char *want)
{
    char err[2048] = "", path[1024], expected[2048], step[2048], names[1024];
    const char *mark = strstr(want, "%F");
    scenario_t *scn;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    if (mark != NULL)
        snprintf(step, sizeof(step), "%.*s%s%s", (int)(mark - want),
                 want, path, mark + 2);
    else
        snprintf(step, sizeof(step), "%s", want);
    /* %K: the catalog's kernel list, so a new kernel breaks nothing here. */
    mark = strstr(step, "%K");
    if (mark != NULL)
        snprintf(expected, sizeof(expected), "%.*s%s%s", (int)(mark - step),
                 step, catalog_kernel_names(names, sizeof(names)), mark + 2);
    else
        snprintf(expected, sizeof(expected), "%s", step);
    scn = load_sets(name, text, sets, nsets, err, sizeof(err));
    if (scn != NULL) {
        testrun_check_failed(__FILE__, line, "loaded, expected error %s", expected);
        scenario_free(&scn);
        return;
    }
    check_str(line, err, expected);
}

#define EXPECT_ERROR(name, text, want) \
    expect_error_sets(__LINE__, (name), (text), NULL, 0, (want))
#define EXPECT_SET_ERROR(text, set, want)                                 \
    do {                                                                  \
        const char *sets_[] = { (set) };                                  \
        expect_error_sets(__LINE__, "sets.yaml", (text), sets_, 1, (want)); \
    } while (0)

/* ---- valid scenarios -------------------------------------------------- */

static void test_single_task_defaults(void)
{
    static const char text[] = "task: {kernel: binary_trees}\n";
    scenario_t *scn = load_ok("single.yaml", text, NULL, 0);
    char *json;

    if (scn == NULL)
        return;
    CHECK_STR(scn->name, "single");
    CHECK_STR(scn->description, "");
    CHECK_STR(scn->text, text);
    CHECK(strstr(scn->path, "/single.yaml") != NULL);
    CHECK(scn->runtime.gogc == 100 && scn->runtime.memory_limit_bytes == 0 &&
          scn->runtime.heap_max_bytes == 0 &&
          scn->runtime.stack_reserve_bytes == 0);
    CHECK(scn->runtime.timer_resolution_ns == 1000000);   /* Go 1.19's */
    CHECK(scn->repeat == 1 && scn->seed == 1);
    CHECK(scn->sample_interval_ns == 100000000u);
    CHECK(scn->ntasks == 1);
    CHECK(scn->tasks[0].seq == 0 && scn->tasks[0].template_index == 0 &&
          scn->tasks[0].sweep_point == 0 && scn->tasks[0].repeat_index == 0);
    CHECK_STR(scn->tasks[0].label, "");
    CHECK(scn->tasks[0].params.kernel == catalog_find("binary_trees"));
    CHECK(kparams_int(&scn->tasks[0].params, "depth") == 10);
    json = kparams_json(&scn->tasks[0].params);
    CHECK_STR(json, "{\"depth\":10}");
    free(json);
    json = scenario_runtime_json(&scn->tasks[0].runtime);
    CHECK_STR(json, "{\"gogc\":100,\"memory_limit\":0,\"heap_max\":0,"
                    "\"stack_reserve\":0,\"timer_resolution\":1000000}");
    free(json);
    scenario_free(&scn);
    CHECK(scn == NULL);
    scenario_free(&scn);
    scenario_free(NULL);
}

static void test_every_key(void)
{
    static const char text[] =
        "# a comment first\n"
        "name: mixed-sizes\n"
        "description: Churn with a memory limit\n"
        "runtime:\n"
        "  gogc: off\n"
        "  memory_limit: 512MiB\n"
        "  heap_max: 1GiB\n"
        "  stack_reserve: 256 KiB\n"
        "  timer_resolution: 0\n"
        "task:\n"
        "  kernel: churn\n"
        "  objects: 2_000_000\n"
        "  min_bytes: 1KiB\n"
        "  max_bytes: \"1.5MiB\"\n"
        "  goroutines: 4\n"
        "repeat: 2\n"
        "seed: 42\n"
        "sample_interval: 250ms\n";
    scenario_t *scn = load_ok("every.yml", text, NULL, 0);
    const kparams_t *p;
    char *json;

    if (scn == NULL)
        return;
    CHECK_STR(scn->name, "mixed-sizes");
    CHECK_STR(scn->description, "Churn with a memory limit");
    CHECK(scn->runtime.gogc == -1);
    CHECK(scn->runtime.memory_limit_bytes == 512 << 20);
    CHECK(scn->runtime.heap_max_bytes == 1 << 30);
    CHECK(scn->runtime.stack_reserve_bytes == 256 << 10);
    CHECK(scn->runtime.timer_resolution_ns == 0);
    CHECK(scn->repeat == 2 && scn->seed == 42);
    CHECK(scn->sample_interval_ns == 250000000u);
    CHECK(scn->ntasks == 2);
    p = &scn->tasks[1].params;
    CHECK(kparams_int(p, "objects") == 2000000);
    CHECK(kparams_int(p, "live_objects") == 10000);
    CHECK(kparams_int(p, "min_bytes") == 1024);
    CHECK(kparams_int(p, "max_bytes") == 3 << 19);
    CHECK(kparams_int(p, "goroutines") == 4);
    CHECK(scn->tasks[1].runtime.gogc == -1 &&
          scn->tasks[1].runtime.heap_max_bytes == 1 << 30);
    CHECK(scn->tasks[1].repeat_index == 1 && scn->tasks[1].sweep_point == 0);
    json = scenario_runtime_json(&scn->runtime);
    CHECK_STR(json, "{\"gogc\":-1,\"memory_limit\":536870912,"
                    "\"heap_max\":1073741824,\"stack_reserve\":262144,"
                    "\"timer_resolution\":0}");
    free(json);
    json = kparams_json(p);
    CHECK_STR(json, "{\"objects\":2000000,\"live_objects\":10000,"
                    "\"min_bytes\":1024,\"max_bytes\":1572864,"
                    "\"goroutines\":4}");
    free(json);
    scenario_free(&scn);
}

static void test_sample_interval_forms(void)
{
    static const struct { const char *text; uint64_t ns; } good[] = {
        { "100ms", 100000000u }, { "1s", 1000000000u }, { "1.5s", 1500000000u },
        { "500", 500000000u }, { "10ms", 10000000u }, { "60s", 60000000000u },
        { "12.5ms", 12500000u }, { "2_000", 2000000000u },
    };
    static const char *const bad[] = {
        "5ms", "61s", "1h", "abc", "-100", "1.s", "0", "9999999999999999999s",
    };
    char text[256], err[1024];
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        scenario_t *scn;

        snprintf(text, sizeof(text),
                 "task: {kernel: spawn}\nsample_interval: %s\n", good[i].text);
        scn = load_ok("interval.yaml", text, NULL, 0);
        CHECK(scn != NULL && scn->sample_interval_ns == good[i].ns);
        scenario_free(&scn);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text),
                 "task: {kernel: spawn}\nsample_interval: %s\n", bad[i]);
        CHECK(load_sets("interval.yaml", text, NULL, 0, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "interval.yaml:2:18: sample_interval: expected a "
                          "duration from 10ms to 60s") != NULL);
    }
}

static void test_task_list_and_merge_keys(void)
{
    static const char text[] =
        "tasks:\n"
        "  - &base {kernel: churn, objects: 10, live_objects: 5}\n"
        "  - {<<: *base, goroutines: 4}\n"
        "  - kernel: spawn\n"
        "    goroutines: 5\n";
    scenario_t *scn = load_ok("list.yaml", text, NULL, 0);

    if (scn == NULL)
        return;
    CHECK(scn->ntasks == 3);
    CHECK(scn->tasks[0].template_index == 0 && scn->tasks[1].template_index == 1 &&
          scn->tasks[2].template_index == 2);
    CHECK(kparams_int(&scn->tasks[0].params, "goroutines") == 1);
    CHECK(kparams_int(&scn->tasks[1].params, "objects") == 10);
    CHECK(kparams_int(&scn->tasks[1].params, "live_objects") == 5);
    CHECK(kparams_int(&scn->tasks[1].params, "goroutines") == 4);
    CHECK(scn->tasks[2].params.kernel == catalog_find("spawn"));
    CHECK(kparams_int(&scn->tasks[2].params, "goroutines") == 5);
    scenario_free(&scn);
}

static void test_sweep_two_axes_repeat_three(void)
{
    static const char text[] =
        "task: {kernel: binary_trees, depth: 6}\n"
        "sweep:\n"
        "  depth: [4, 8]\n"
        "  gogc: [50, 100, off]\n"
        "repeat: 3\n"
        "seed: 7\n";
    static const char *const labels[6] = {
        "depth=4 gogc=50", "depth=4 gogc=100", "depth=4 gogc=off",
        "depth=8 gogc=50", "depth=8 gogc=100", "depth=8 gogc=off",
    };
    static const int depths[6] = { 4, 4, 4, 8, 8, 8 };
    static const int gogcs[6] = { 50, 100, -1, 50, 100, -1 };
    scenario_t *scn = load_ok("sweep.yaml", text, NULL, 0);
    scenario_t *again = load_ok("sweep.yaml", text, NULL, 0);
    scenario_t *reseeded;
    size_t i, j;

    if (scn == NULL || again == NULL)
        goto out;
    CHECK(scn->ntasks == 18);
    for (i = 0; i < scn->ntasks && i < 18; i++) {
        const scn_task_t *t = &scn->tasks[i];
        size_t point = i / 3;

        CHECK(t->seq == i);
        CHECK(t->template_index == 0);
        CHECK(t->sweep_point == point);
        CHECK(t->repeat_index == i % 3);
        CHECK_STR(t->label, labels[point]);
        CHECK(kparams_int(&t->params, "depth") == depths[point]);
        CHECK(t->runtime.gogc == gogcs[point]);
        CHECK(t->seed == again->tasks[i].seed);   /* deterministic */
        for (j = 0; j < i; j++)
            CHECK(t->seed != scn->tasks[j].seed); /* distinct */
    }
    CHECK(scn->runtime.gogc == 100); /* the scenario level is not swept */
    reseeded = load_ok("sweep8.yaml",
                       "task: {kernel: binary_trees, depth: 6}\n"
                       "sweep: {depth: [4, 8], gogc: [50, 100, off]}\n"
                       "repeat: 3\nseed: 8\n", NULL, 0);
    if (reseeded != NULL) {
        CHECK(reseeded->ntasks == 18);
        CHECK(reseeded->tasks[0].seed != scn->tasks[0].seed);
        CHECK_STR(reseeded->tasks[17].label, "depth=8 gogc=off");
        scenario_free(&reseeded);
    }
out:
    scenario_free(&scn);
    scenario_free(&again);
}

static void test_sweep_applies_per_template(void)
{
    static const char text[] =
        "tasks:\n"
        "  - {kernel: binary_trees}\n"
        "  - {kernel: spawn}\n"
        "  - {kernel: churn}\n"
        "sweep:\n"
        "  depth: [4, 8]\n"
        "  goroutines: [1, 2]\n"
        "  heap_max: [64MiB]\n";
    scenario_t *scn = load_ok("per_template.yaml", text, NULL, 0);

    if (scn == NULL)
        return;
    CHECK(scn->ntasks == 6);
    if (scn->ntasks == 6) {
        CHECK_STR(scn->tasks[0].label, "depth=4 heap_max=64MiB");
        CHECK_STR(scn->tasks[1].label, "depth=8 heap_max=64MiB");
        CHECK_STR(scn->tasks[2].label, "goroutines=1 heap_max=64MiB");
        CHECK_STR(scn->tasks[3].label, "goroutines=2 heap_max=64MiB");
        CHECK_STR(scn->tasks[5].label, "goroutines=2 heap_max=64MiB");
        CHECK(scn->tasks[2].template_index == 1 && scn->tasks[2].sweep_point == 0);
        CHECK(scn->tasks[4].template_index == 2 && scn->tasks[5].sweep_point == 1);
        CHECK(kparams_int(&scn->tasks[3].params, "goroutines") == 2);
        CHECK(kparams_int(&scn->tasks[5].params, "goroutines") == 2);
        CHECK(scn->tasks[0].runtime.heap_max_bytes == 64 << 20);
    }
    scenario_free(&scn);
}

/* No kernel may have a parameter named like a runtime key or "kernel":
** sweeps and --set tell them apart by name. */
static void test_no_parameter_shadows_a_runtime_key(void)
{
    static const char *const reserved[] = { "gogc", "memory_limit", "heap_max",
                                            "stack_reserve", "gctrace", "mem_profile_rate",
                                            "collector", "preempt", "kernel" };
    size_t n, k, r;
    const kernel_spec_t *ks = catalog_kernels(&n);

    for (k = 0; k < n; k++)
        for (r = 0; r < sizeof(reserved) / sizeof(reserved[0]); r++)
            CHECK(catalog_param(&ks[k], reserved[r], NULL) == NULL);
}

/* ---- bad input -------------------------------------------------------- */

static void test_file_level_errors(void)
{
    char err[1024], path[1024];
    scenario_t *scn = NULL;

    snprintf(path, sizeof(path), "%s/no_such.yaml", tmpdir);
    CHECK(scenario_load(path, NULL, 0, &scn, err, sizeof(err)) ==
          SCENARIO_EUSAGE);
    CHECK(scn == NULL);
    {
        char want[1100];

        snprintf(want, sizeof(want),
                 "%s: cannot read: No such file or directory", path);
        CHECK_STR(err, want);
    }
    CHECK(scenario_load(tmpdir, NULL, 0, &scn, err, sizeof(err)) ==
          SCENARIO_EUSAGE);
    CHECK(strstr(err, ": cannot read: Is a directory") != NULL);

    EXPECT_ERROR("empty.yaml", "",
                 "%F:1:1: empty scenario: expected a mapping with a 'task' "
                 "or 'tasks' key");
    EXPECT_ERROR("comments.yaml", "# nothing here\n",
                 "%F:1:1: empty scenario: expected a mapping with a 'task' "
                 "or 'tasks' key");
    EXPECT_ERROR("list.yaml", "- a\n- b\n",
                 "%F:1:1: expected a mapping of scenario keys (name, task, "
                 "...), got a list");
    EXPECT_ERROR("scalar.yaml", "hello\n",
                 "%F:1:1: expected a mapping of scenario keys (name, task, "
                 "...), got \"hello\"");
    {
        size_t size = (1 << 20) + 2;
        char *big = malloc(size);

        CHECK(big != NULL);
        if (big != NULL) {
            memset(big, '#', size - 1);
            big[size - 1] = '\0';
            EXPECT_ERROR("big.yaml", big,
                         "%F: too large for a scenario (more than 1048576 "
                         "bytes)");
            free(big);
        }
    }
    {
        FILE *f;

        snprintf(path, sizeof(path), "%s/nul.yaml", tmpdir);
        f = fopen(path, "w");
        CHECK(f != NULL);
        if (f != NULL) {
            fwrite("task: {kernel: spawn}\n\0\n", 1, 24, f);
            fclose(f);
        }
        CHECK(scenario_load(path, NULL, 0, &scn, err, sizeof(err)) ==
              SCENARIO_EUSAGE);
        CHECK(strstr(err, "nul.yaml: not a text file (it contains a NUL "
                          "byte)") != NULL);
    }
    EXPECT_ERROR("two_docs.yaml",
                 "task: {kernel: spawn}\n---\ntask: {kernel: spawn}\n",
                 "%F:3:1: a second YAML document; a scenario is one mapping");
}

static void test_yaml_errors_are_one_line_and_quiet(void)
{
    char log_path[1024];
    int saved, fd;
    struct stat st;

    /* libfyaml must not write to stderr: capture it around the loads. */
    snprintf(log_path, sizeof(log_path), "%s/stderr.log", tmpdir);
    fflush(stderr);
    saved = dup(2);
    fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);

    EXPECT_ERROR("syntax.yaml",
                 "name: x\n"
                 "task: {kernel: spawn, goroutines: [1, 2}\n",
                 "%F:2:40: invalid YAML: mismatched flow mapping end");
    EXPECT_ERROR("dup.yaml",
                 "name: a\n"
                 "task: {kernel: spawn}\n"
                 "name: b\n",
                 "%F:3:1: duplicate key 'name'");
    EXPECT_ERROR("dup_param.yaml",
                 "task:\n"
                 "  kernel: spawn\n"
                 "  goroutines: 1\n"
                 "  goroutines: 2\n",
                 "%F:4:3: duplicate key 'goroutines'");
    EXPECT_ERROR("bad_alias.yaml", "task: *nowhere\n",
                 "%F:1:8: invalid YAML: invalid alias");
    /* Positions of collections are probed through a libfyaml report. */
    EXPECT_ERROR("probe.yaml", "task: {kernel: spawn}\nsweep: {goroutines: []}\n",
                 "%F:2:21: sweep.goroutines: expected a non-empty list of values "
                 "like [1, 2, 4], got a list");

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    /* Our own mismatch reports went there too: pass them on. */
    if (stat(log_path, &st) == 0 && st.st_size > 0) {
        FILE *log = fopen(log_path, "r");
        char line[2048];

        while (log != NULL && fgets(line, sizeof(line), log) != NULL)
            fputs(line, stderr);
        if (log != NULL)
            fclose(log);
    }
    CHECK(stat(log_path, &st) == 0 && st.st_size == 0);
}

static void test_key_errors(void)
{
    EXPECT_ERROR("unknown_key.yaml",
                 "task: {kernel: spawn}\n"
                 "repeats: 3\n",
                 "%F:2:1: unknown key 'repeats'; known keys: name, "
                 "description, runtime, task, tasks, sweep, repeat, seed, "
                 "sample_interval, heap");
    EXPECT_ERROR("bad_heap.yaml",
                 "task: {kernel: spawn}\n"
                 "heap: private\n",
                 "%F:2:7: heap: expected per_task (each task a fresh heap, as a Go "
                 "program starts with an empty one) or shared (tasks with equal "
                 "runtime settings on one heap per host), got \"private\"");
    EXPECT_ERROR("heap_list.yaml",
                 "task: {kernel: spawn}\n"
                 "heap: [shared]\n",
                 "%F:2:7: heap: expected per_task (each task a fresh heap, as a Go "
                 "program starts with an empty one) or shared (tasks with equal "
                 "runtime settings on one heap per host), got a list");
    EXPECT_ERROR("unknown_kernel.yaml",
                 "task:\n"
                 "  kernel: binary_tree\n",
                 "%F:2:11: unknown kernel 'binary_tree'; known kernels: %K");
    EXPECT_ERROR("unknown_param.yaml",
                 "name: x\n"
                 "tasks:\n"
                 "  - kernel: binary_trees\n"
                 "    dpeth: 3\n",
                 "%F:4:5: unknown parameter 'dpeth' for kernel binary_trees; "
                 "its parameters: depth (int, 4..30, default 10)");
    EXPECT_ERROR("missing_kernel.yaml",
                 "tasks:\n"
                 "  - {kernel: spawn}\n"
                 "  - {depth: 4}\n",
                 "%F:3:5: tasks[1]: missing 'kernel'; known kernels: %K");
    EXPECT_ERROR("kernel_not_scalar.yaml",
                 "task: {kernel: [spawn]}\n",
                 "%F:1:16: task.kernel: expected a kernel name (%K), got a list");
    EXPECT_ERROR("both.yaml",
                 "task: {kernel: spawn}\n"
                 "tasks: [{kernel: spawn}]\n",
                 "%F:2:1: 'task' and 'tasks' exclude each other: use 'task' "
                 "for one template, 'tasks' for a list");
    EXPECT_ERROR("neither.yaml",
                 "name: x\n"
                 "repeat: 2\n",
                 "%F:1:1: missing 'task' (one template) or 'tasks' (a list)");
    EXPECT_ERROR("tasks_empty.yaml", "tasks: []\n",
                 "%F:1:8: tasks: expected a non-empty list of task mappings, "
                 "got a list");
    EXPECT_ERROR("task_scalar.yaml", "task: spawn\n",
                 "%F:1:7: task: expected a mapping with 'kernel' and its "
                 "parameters, got \"spawn\"");
    EXPECT_ERROR("task_null.yaml", "task:\n",
                 "%F:1:1: task: expected a mapping with 'kernel' and its "
                 "parameters, got null");
    EXPECT_ERROR("complex_key.yaml",
                 "task: {kernel: spawn}\n"
                 "? [a, b]\n"
                 ": 1\n",
                 "%F:2:3: expected a plain key, got a list");
}

static void test_value_errors(void)
{
    EXPECT_ERROR("wrong_type.yaml",
                 "task: {kernel: binary_trees, depth: abc}\n",
                 "%F:1:37: task.depth: expected an integer from 4 to 30, "
                 "got \"abc\"");
    EXPECT_ERROR("out_of_range.yaml",
                 "name: deep\n"
                 "task:\n"
                 "  kernel: binary_trees\n"
                 "  depth: 31\n",
                 "%F:4:10: task.depth: expected an integer from 4 to 30, "
                 "got \"31\"");
    EXPECT_ERROR("size_range.yaml",
                 "tasks:\n"
                 "  - kernel: churn\n"
                 "    max_bytes: 64MiB\n",
                 "%F:3:16: tasks[0].max_bytes: expected a size from 8 B to "
                 "32 MiB, got \"64MiB\"");
    EXPECT_ERROR("param_mapping.yaml",
                 "task:\n"
                 "  kernel: spawn\n"
                 "  goroutines: {a: 1}\n",
                 "%F:3:15: task.goroutines: expected an integer from 1 to "
                 "10000000, got a mapping");
    EXPECT_ERROR("param_null.yaml",
                 "task:\n"
                 "  kernel: spawn\n"
                 "  goroutines:\n",
                 "%F:3:3: task.goroutines: expected an integer from 1 to "
                 "10000000, got null");
    EXPECT_ERROR("repeat.yaml",
                 "task: {kernel: spawn}\nrepeat: 0\n",
                 "%F:2:9: repeat: expected an integer from 1 to 1000, got \"0\"");
    EXPECT_ERROR("repeat_big.yaml",
                 "task: {kernel: spawn}\nrepeat: 1001\n",
                 "%F:2:9: repeat: expected an integer from 1 to 1000, "
                 "got \"1001\"");
    EXPECT_ERROR("seed.yaml",
                 "task: {kernel: spawn}\nseed: -1\n",
                 "%F:2:7: seed: expected an integer >= 0, got \"-1\"");
    EXPECT_ERROR("name_list.yaml",
                 "name: [a]\ntask: {kernel: spawn}\n",
                 "%F:1:7: name: expected a string, got a list");
    EXPECT_ERROR("name_empty.yaml",
                 "name: ''\ntask: {kernel: spawn}\n",
                 "%F:1:7: name: expected a non-empty string");
    EXPECT_ERROR("newline.yaml",
                 "task: {kernel: \"spa\\nwn\"}\n",
                 "%F:1:16: unknown kernel 'spa\\nwn'; known kernels: %K");
}

static void test_runtime(void)
{
    scenario_t *scn;

    scn = load_ok("rt.yaml",
                  "runtime: {gogc: 50, memory_limit: 0, heap_max: 64MiB, "
                  "stack_reserve: 64KiB}\n"
                  "task: {kernel: spawn}\n", NULL, 0);
    if (scn != NULL) {
        CHECK(scn->runtime.gogc == 50 && scn->runtime.memory_limit_bytes == 0 &&
              scn->runtime.heap_max_bytes == 64 << 20 &&
              scn->runtime.stack_reserve_bytes == 64 << 10);
        CHECK(scn->tasks[0].runtime.heap_max_bytes == 64 << 20);
        scenario_free(&scn);
    }
    scn = load_ok("rt_off.yaml", "runtime: {gogc: OFF, memory_limit: 1.5GB}\n"
                                 "task: {kernel: spawn}\n", NULL, 0);
    if (scn != NULL) {
        CHECK(scn->runtime.gogc == -1);
        CHECK(scn->runtime.memory_limit_bytes == 1500000000);
        scenario_free(&scn);
    }
    EXPECT_ERROR("rt_gogc.yaml",
                 "runtime:\n"
                 "  gogc: 0\n"
                 "task: {kernel: spawn}\n",
                 "%F:2:9: runtime.gogc: expected an integer from 1 to 1000000 "
                 "or off, got \"0\"");
    EXPECT_ERROR("rt_heap.yaml",
                 "runtime: {heap_max: 1MiB}\ntask: {kernel: spawn}\n",
                 "%F:1:21: runtime.heap_max: expected 0 for the default, or a "
                 "size from 4 MiB to 1 TiB, got \"1MiB\"");
    EXPECT_ERROR("rt_stack.yaml",
                 "runtime: {stack_reserve: 32KiB}\ntask: {kernel: spawn}\n",
                 "%F:1:26: runtime.stack_reserve: expected 0 for the default, "
                 "or a size from 64 KiB to 1 GiB, got \"32KiB\"");
    EXPECT_ERROR("rt_limit.yaml",
                 "runtime: {memory_limit: lots}\ntask: {kernel: spawn}\n",
                 "%F:1:25: runtime.memory_limit: expected a size (like "
                 "512MiB), or 0 for no limit, got \"lots\"");
    EXPECT_ERROR("rt_rate.yaml",
                 "runtime: {mem_profile_rate: -1}\ntask: {kernel: spawn}\n",
                 "%F:1:29: runtime.mem_profile_rate: expected bytes per sample (like "
                 "512KiB; 1: every allocation; 0: off) up to 1 TiB, got \"-1\"");
    scn = load_ok("rt_rate.yaml", "runtime: {mem_profile_rate: 1}\ntask: {kernel: spawn}\n",
                  NULL, 0);
    if (scn != NULL) {
        CHECK(scn->tasks[0].runtime.mem_profile_rate == 1);
        char *json = scenario_runtime_json(&scn->tasks[0].runtime);
        CHECK_STR(json, "{\"gogc\":100,\"memory_limit\":0,\"heap_max\":0,"
                        "\"stack_reserve\":0,\"timer_resolution\":1000000,\"mem_profile_rate\":1}");
        free(json);
        scenario_free(&scn);
    }
    scn = load_ok("rt_rate_default.yaml", "task: {kernel: spawn}\n", NULL, 0);
    if (scn != NULL) {
        CHECK(scn->tasks[0].runtime.mem_profile_rate == 512 * 1024);
        scenario_free(&scn);
    }
    EXPECT_ERROR("rt_gctrace.yaml",
                 "runtime: {gctrace: 2}\ntask: {kernel: spawn}\n",
                 "%F:1:20: runtime.gctrace: expected 0 or 1, got \"2\"");
    scn = load_ok("rt_gctrace_on.yaml", "runtime: {gctrace: 1}\ntask: {kernel: spawn}\n",
                  NULL, 0);
    if (scn != NULL) {
        CHECK(scn->runtime.gctrace == 1 && scn->tasks[0].runtime.gctrace == 1);
        char *json = scenario_runtime_json(&scn->tasks[0].runtime);
        CHECK_STR(json, "{\"gogc\":100,\"memory_limit\":0,\"heap_max\":0,"
                        "\"stack_reserve\":0,\"timer_resolution\":1000000,\"gctrace\":1}");
        free(json);
        scenario_free(&scn);
    }
    EXPECT_ERROR("rt_key.yaml",
                 "runtime:\n"
                 "  gomaxprocs: 2\n"
                 "task: {kernel: spawn}\n",
                 "%F:2:3: unknown runtime key 'gomaxprocs'; known keys: gogc, "
                 "memory_limit, heap_max, stack_reserve, timer_resolution, "
                 "gctrace, mem_profile_rate, collector, preempt");
    EXPECT_ERROR("rt_timer.yaml",
                 "runtime: {timer_resolution: 2s}\ntask: {kernel: spawn}\n",
                 "%F:1:29: runtime.timer_resolution: expected a duration up to 1s "
                 "(like 1ms), or 0 for exact timers, got \"2s\"");
    EXPECT_ERROR("rt_scalar.yaml",
                 "runtime: fast\ntask: {kernel: spawn}\n",
                 "%F:1:10: runtime: expected a mapping of gogc, memory_limit, "
                 "heap_max, stack_reserve, timer_resolution, gctrace, mem_profile_rate, "
                 "collector, preempt, got \"fast\"");
    EXPECT_ERROR("rt_collector.yaml",
                 "runtime: {collector: green-tea}\ntask: {kernel: spawn}\n",
                 "%F:1:22: runtime.collector: expected concurrent or stw, got \"green-tea\"");
    {
        scenario_t *scn = load_ok("rt_stw.yaml", "runtime: {collector: stw}\ntask: {kernel: spawn}\n",
                                  NULL, 0);
        CHECK(scn != NULL && scn->tasks[0].runtime.collector == SCN_COLLECTOR_STW);
        char *json = scn ? scenario_runtime_json(&scn->tasks[0].runtime) : NULL;
        CHECK_CONTAINS(json, "\"collector\":\"stw\"");
        free(json);
        scenario_free(&scn);
        scn = load_ok("rt_conc.yaml", "task: {kernel: spawn}\n", NULL, 0);
        CHECK(scn != NULL && scn->tasks[0].runtime.collector == SCN_COLLECTOR_CONCURRENT);
        /* Go's preemption by default, not in the JSON then. */
        CHECK(scn != NULL && scn->tasks[0].runtime.preempt_ns == 0);
        json = scn ? scenario_runtime_json(&scn->tasks[0].runtime) : NULL;
        CHECK(json != NULL && strstr(json, "preempt") == NULL);
        free(json);
        scenario_free(&scn);
    }
    EXPECT_ERROR("rt_preempt.yaml",
                 "runtime: {preempt: 100us}\ntask: {kernel: spawn}\n",
                 "%F:1:20: runtime.preempt: expected a duration from 1ms to 1s (Go's 10ms), "
                 "or off, got \"100us\"");
    EXPECT_ERROR("rt_preempt2.yaml",
                 "runtime: {preempt: 2s}\ntask: {kernel: spawn}\n",
                 "%F:1:20: runtime.preempt: expected a duration from 1ms to 1s (Go's 10ms), "
                 "or off, got \"2s\"");
    EXPECT_ERROR("rt_preempt3.yaml",
                 "runtime: {preempt: never}\ntask: {kernel: spawn}\n",
                 "%F:1:20: runtime.preempt: expected a duration from 1ms to 1s (Go's 10ms), "
                 "or off, got \"never\"");
    {
        static const struct { const char *text; int64_t ns; const char *json; } ok[] = {
            { "off", SCN_PREEMPT_OFF, "\"preempt\":\"off\"" },
            { "20ms", 20000000, "\"preempt\":20}" },
            { "1.5ms", 1500000, "\"preempt\":1.500000}" },
            { "1s", 1000000000, "\"preempt\":1000}" },
        };
        for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
            char text[128];
            snprintf(text, sizeof text, "runtime: {preempt: %s}\ntask: {kernel: spawn}\n",
                     ok[i].text);
            scenario_t *scn = load_ok("rt_preempt_ok.yaml", text, NULL, 0);
            CHECK(scn != NULL && scn->tasks[0].runtime.preempt_ns == ok[i].ns);
            char *json = scn ? scenario_runtime_json(&scn->tasks[0].runtime) : NULL;
            CHECK_CONTAINS(json, ok[i].json);
            free(json);
            scenario_free(&scn);
        }
        /* A sweep over it, and --set. */
        const char *sets[] = { "preempt=off" };
        scenario_t *scn = load_ok("rt_preempt_sweep.yaml",
                                  "task: {kernel: spawn}\nsweep: {preempt: [off, 10ms]}\n",
                                  NULL, 0);
        CHECK(scn != NULL && scn->ntasks == 2 &&
              scn->tasks[0].runtime.preempt_ns == SCN_PREEMPT_OFF &&
              scn->tasks[1].runtime.preempt_ns == 0);
        scenario_free(&scn);
        scn = load_ok("rt_preempt_set.yaml", "task: {kernel: spawn}\n", sets, 1);
        CHECK(scn != NULL && scn->tasks[0].runtime.preempt_ns == SCN_PREEMPT_OFF);
        scenario_free(&scn);
    }
}

static void test_sweep_errors(void)
{
    EXPECT_ERROR("sweep_key.yaml",
                 "task: {kernel: binary_trees}\n"
                 "sweep:\n"
                 "  dpeth: [4, 8]\n",
                 "%F:3:3: sweep key 'dpeth' is neither a parameter of a task "
                 "nor a runtime key; parameters: depth (int, 4..30, default "
                 "10); runtime keys: gogc, memory_limit, heap_max, "
                 "stack_reserve, timer_resolution, "
                 "gctrace, mem_profile_rate, collector, preempt");
    EXPECT_ERROR("sweep_empty.yaml",
                 "task: {kernel: binary_trees}\n"
                 "sweep:\n"
                 "  depth: []\n",
                 "%F:3:10: sweep.depth: expected a non-empty list of values "
                 "like [1, 2, 4], got a list");
    EXPECT_ERROR("sweep_scalar.yaml",
                 "task: {kernel: binary_trees}\n"
                 "sweep: {depth: 8}\n",
                 "%F:2:16: sweep.depth: expected a non-empty list of values "
                 "like [1, 2, 4], got \"8\"");
    EXPECT_ERROR("sweep_value.yaml",
                 "task: {kernel: binary_trees}\n"
                 "sweep:\n"
                 "  depth:\n"
                 "    - 4\n"
                 "    - 40\n",
                 "%F:5:7: sweep.depth[1]: expected an integer from 4 to 30, "
                 "got \"40\" (task, kernel binary_trees)");
    EXPECT_ERROR("sweep_two_kernels.yaml",
                 "tasks: [{kernel: spawn}, {kernel: churn}]\n"
                 "sweep: {goroutines: [10, 200000]}\n",
                 "%F:2:26: sweep.goroutines[1]: expected an integer from 1 to "
                 "100000, got \"200000\" (tasks[1], kernel churn)");
    EXPECT_ERROR("sweep_runtime.yaml",
                 "task: {kernel: spawn}\n"
                 "sweep: {gogc: [100, never]}\n",
                 "%F:2:21: sweep.gogc[1]: expected an integer from 1 to "
                 "1000000 or off, got \"never\"");
    EXPECT_ERROR("sweep_nested.yaml",
                 "task: {kernel: spawn}\n"
                 "sweep: {goroutines: [[1]]}\n",
                 "%F:2:22: sweep.goroutines[0]: expected a scalar value, got a list");
}

static char *numbers_list(int n)
{
    size_t size = (size_t)n * 12 + 8, used = 0;
    char *text = malloc(size);
    int i;

    if (text == NULL)
        exit(2);
    used += (size_t)snprintf(text, size, "[");
    for (i = 1; i <= n; i++)
        used += (size_t)snprintf(text + used, size - used, "%s%d",
                                 i > 1 ? ", " : "", i);
    snprintf(text + used, size - used, "]");
    return text;
}

static void test_too_many_tasks(void)
{
    char *hundred = numbers_list(100), *more = numbers_list(101);
    char text[4096];
    scenario_t *scn;

    /* Exactly the limit loads... */
    snprintf(text, sizeof(text),
             "task: {kernel: churn}\nsweep: {objects: %s}\nrepeat: 1000\n",
             hundred);
    scn = load_ok("limit.yaml", text, NULL, 0);
    if (scn != NULL) {
        CHECK(scn->ntasks == 100000);
        CHECK(scn->tasks[99999].seq == 99999);
        CHECK_STR(scn->tasks[99999].label, "objects=100");
        CHECK(scn->tasks[99999].repeat_index == 999);
        scenario_free(&scn);
    }
    /* ...one point more does not. */
    snprintf(text, sizeof(text),
             "task: {kernel: churn}\nrepeat: 1000\nsweep: {objects: %s}\n",
             more);
    EXPECT_ERROR("too_many.yaml", text,
                 "%F:3:1: the scenario expands to more than 100000 tasks "
                 "(templates x sweep points x repeat)");
    /* A grid whose product overflows 32 bits is caught too. */
    snprintf(text, sizeof(text),
             "task: {kernel: churn}\n"
             "sweep: {objects: %s, live_objects: %s, goroutines: %s, "
             "min_bytes: [8, 16], max_bytes: %s}\n",
             hundred, hundred, hundred, "[512, 1024]");
    EXPECT_ERROR("overflow.yaml", text,
                 "%F:2:1: the scenario expands to more than 100000 tasks "
                 "(templates x sweep points x repeat)");
    free(hundred);
    free(more);
}

/* ---- --set ------------------------------------------------------------ */

static void test_sets(void)
{
    static const char base[] =
        "tasks: [{kernel: binary_trees}, {kernel: spawn}, {kernel: churn}]\n"
        "sweep:\n"
        "  depth: [4, 8]\n"
        "  gogc: [50, 100]\n";
    scenario_t *scn;

    {
        const char *sets[] = { "depth=12", "objects=3", "heap_max=2GiB",
                               "goroutines=7" };

        scn = load_ok("sets.yaml", "tasks: [{kernel: binary_trees}, "
                                   "{kernel: spawn}, {kernel: churn}]\n",
                      sets, 4);
        if (scn != NULL) {
            CHECK(scn->ntasks == 3);
            CHECK(kparams_int(&scn->tasks[0].params, "depth") == 12);
            CHECK(kparams_int(&scn->tasks[2].params, "objects") == 3);
            CHECK(kparams_int(&scn->tasks[1].params, "goroutines") == 7);
            CHECK(kparams_int(&scn->tasks[2].params, "goroutines") == 7);
            CHECK(scn->runtime.heap_max_bytes == (int64_t)2 << 30);
            CHECK(scn->tasks[2].runtime.heap_max_bytes == (int64_t)2 << 30);
            CHECK_STR(scn->tasks[0].label, "");
            scenario_free(&scn);
        }
    }
    {
        /* A set on a swept key leaves that axis one value. */
        const char *sets[] = { "depth=6", "gogc=off" };

        scn = load_ok("sets.yaml", base, sets, 2);
        if (scn != NULL) {
            /* binary_trees: 1 x 1 points; spawn, churn: 1 (gogc) each */
            CHECK(scn->ntasks == 3);
            CHECK_STR(scn->tasks[0].label, "depth=6 gogc=off");
            CHECK(kparams_int(&scn->tasks[0].params, "depth") == 6);
            CHECK(scn->tasks[0].runtime.gogc == -1);
            CHECK_STR(scn->tasks[1].label, "gogc=off");
            CHECK(scn->runtime.gogc == -1);
            scenario_free(&scn);
        }
    }
    {
        const char *sets[] = { "gogc=25" };

        scn = load_ok("sets.yaml", base, sets, 1);
        if (scn != NULL) {
            CHECK(scn->ntasks == 4); /* depth x 1 + 1 + 1 */
            CHECK_STR(scn->tasks[1].label, "depth=8 gogc=25");
            CHECK(scn->tasks[3].runtime.gogc == 25);
            scenario_free(&scn);
        }
    }
    {
        /* Go 1.19's timer resolution by default; 0 is exact, 0.5ms half. */
        const char *sets[] = { "timer_resolution=0.5ms" };

        scn = load_ok("timers.yaml", "task: {kernel: binary_trees}\n", sets, 1);
        CHECK(scn != NULL && scn->tasks[0].runtime.timer_resolution_ns == 500000);
        scenario_free(&scn);
    }
    {
        /* The last of two sets on a key wins; "=" in the value is kept. */
        const char *sets[] = { "depth=5", "depth=7" };

        scn = load_ok("sets.yaml", "task: {kernel: binary_trees}\n", sets, 2);
        CHECK(scn != NULL && kparams_int(&scn->tasks[0].params, "depth") == 7);
        scenario_free(&scn);
    }

    EXPECT_SET_ERROR("task: {kernel: binary_trees}\n", "dpeth=3",
                     "--set dpeth=3: no task has a parameter 'dpeth'; "
                     "parameters: depth (int, 4..30, default 10); runtime "
                     "keys: gogc, memory_limit, heap_max, stack_reserve, timer_resolution, "
                 "gctrace, mem_profile_rate, collector, preempt");
    EXPECT_SET_ERROR("tasks: [{kernel: binary_trees}, {kernel: spawn}]\n",
                     "objects=3",
                     "--set objects=3: no task has a parameter 'objects'; "
                     "parameters: binary_trees: depth (int, 4..30, default "
                     "10); spawn: goroutines (int, 1..10000000, default "
                     "10000); runtime keys: gogc, memory_limit, heap_max, "
                     "stack_reserve, timer_resolution, "
                 "gctrace, mem_profile_rate, collector, preempt");
    EXPECT_SET_ERROR("task: {kernel: binary_trees}\n", "depth",
                     "--set depth: expected key=value");
    EXPECT_SET_ERROR("task: {kernel: binary_trees}\n", "=3",
                     "--set =3: expected key=value");
    EXPECT_SET_ERROR("task: {kernel: binary_trees}\n", "depth=40",
                     "--set depth=40: binary_trees.depth: expected an integer "
                     "from 4 to 30, got \"40\"");
    EXPECT_SET_ERROR("task: {kernel: binary_trees}\n", "depth=",
                     "--set depth=: binary_trees.depth: expected an integer "
                     "from 4 to 30, got \"\"");
    EXPECT_SET_ERROR("tasks: [{kernel: spawn}, {kernel: churn}]\n",
                     "goroutines=200000",
                     "--set goroutines=200000: churn.goroutines: expected an "
                     "integer from 1 to 100000, got \"200000\"");
    EXPECT_SET_ERROR("task: {kernel: spawn}\n", "gogc=0",
                     "--set gogc=0: expected an integer from 1 to 1000000 or "
                     "off, got \"0\"");
    EXPECT_SET_ERROR("task: {kernel: spawn}\n", "stack_reserve=1TiB",
                     "--set stack_reserve=1TiB: expected 0 for the default, "
                     "or a size from 64 KiB to 1 GiB, got \"1TiB\"");
}

/* ---- JSON ------------------------------------------------------------- */

/* The runtime settings' JSON (a task's parameters: catalog_test). */
static void test_runtime_json(void)
{
    scn_runtime_t rt = { .gogc = -1, .memory_limit_bytes = (int64_t)1 << 40,
                         .heap_max_bytes = 0, .stack_reserve_bytes = 65536,
                         .mem_profile_rate = SCN_MEM_PROFILE_RATE_DEFAULT };
    scn_runtime_t big = { .gogc = 2147483647, .memory_limit_bytes = INT64_MAX,
                          .heap_max_bytes = -1, .stack_reserve_bytes = 1,
                          .timer_resolution_ns = INT64_MAX,
                          .mem_profile_rate = SCN_MEM_PROFILE_RATE_DEFAULT };
    char *json;

    json = scenario_runtime_json(&rt);
    CHECK_STR(json, "{\"gogc\":-1,\"memory_limit\":1099511627776,"
                    "\"heap_max\":0,\"stack_reserve\":65536,\"timer_resolution\":0}");
    free(json);
    json = scenario_runtime_json(&big);
    CHECK_STR(json, "{\"gogc\":2147483647,\"memory_limit\":9223372036854775807,"
                    "\"heap_max\":-1,\"stack_reserve\":1,"
                    "\"timer_resolution\":9223372036854775807}");
    free(json);
}

int main(void)
{
    const char *base = getenv("TEST_TMPDIR");

    snprintf(tmpdir, sizeof(tmpdir), "%s/scenario_test.XXXXXX",
             base != NULL ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    test_single_task_defaults();
    test_every_key();
    test_sample_interval_forms();
    test_task_list_and_merge_keys();
    test_sweep_two_axes_repeat_three();
    test_sweep_applies_per_template();
    test_no_parameter_shadows_a_runtime_key();
    test_file_level_errors();
    test_yaml_errors_are_one_line_and_quiet();
    test_key_errors();
    test_value_errors();
    test_runtime();
    test_sweep_errors();
    test_too_many_tasks();
    test_sets();
    test_runtime_json();
    if (testrun_exit_status("scenario_test") != 0)
        return 1;
    printf("scenario_test: all checks passed\n");
    return 0;
}
