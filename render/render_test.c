/*
** render/render_test.c -- every renderer on a read model built by hand:
** no database, as the module promises. Checks the human units, the
** statistics (Welch's p-values against values computed independently, by
** numerical integration of Student's t density), and each command's
** output in each format (JSON parsed back with json-c).
*/
#include "render/render.h"
#include "render/render_int.h"
#include "base/testrun.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a model by hand ---------------------------------------------- */

/* A run of two sweep points (gogc=50, gogc=200) of `repeats` tasks each,
** every task done; wall times from walls[point][repeat]. */
static store_run_view_t *make_run(int64_t run_id, size_t repeats, const double walls[2][5])
{
    store_run_view_t *v = calloc(1, sizeof *v);
    static const char *const labels[] = {"gogc=50", "gogc=200"};
    static const char *const runtimes[] = {"{\"gogc\":50}", "{\"gogc\":200}"};

    v->info.run_id = run_id;
    v->info.token = strdup("tok");
    v->info.name = strdup("sweep, \"quoted\" <b>");
    v->info.status = strdup("done");
    v->info.settings_json = strdup("{\"runtime\":{\"gogc\":100},\"sample_interval_ns\":100000000}");
    v->info.started_unix_ns = 1700000000000000000LL;
    v->info.ended_unix_ns = 1700000000000000000LL + 2500000000LL;
    v->info.workers_planned = v->info.workers_joined = 2;
    v->info.tasks_total = v->info.tasks_done = (int64_t)(2 * repeats);
    v->ntasks = 2 * repeats;
    v->tasks = calloc(v->ntasks, sizeof *v->tasks);
    v->npoints = 2;
    v->points = calloc(2, sizeof *v->points);
    for (size_t p = 0; p < 2; p++) {
        store_point_view_t *pt = &v->points[p];
        pt->kernel = strdup("churn");
        pt->label = strdup(labels[p]);
        pt->params_json = strdup("{\"objects\":1000}");
        pt->runtime_json = strdup(runtimes[p]);
        pt->sweep_point = (int64_t)p;
        pt->tasks = calloc(repeats, sizeof *pt->tasks);
        pt->ntasks = repeats;
        for (size_t r = 0; r < repeats; r++) {
            size_t i = p * repeats + r;
            store_task_view_t *t = &v->tasks[i];
            pt->tasks[r] = i;
            t->task_id = (int64_t)(100 + i);
            t->seq = (int64_t)i;
            t->sweep_point = (int64_t)p;
            t->repeat_index = (int64_t)r;
            t->kernel = strdup("churn");
            t->label = strdup(labels[p]);
            t->status = strdup("done");
            t->worker = strdup("local-0");
            t->params_json = strdup("{\"objects\":1000}");
            t->runtime_json = strdup(runtimes[p]);
            for (int f = 0; f < STORE_FIG_COUNT; f++)
                t->fig[f] = NAN;
            t->fig[STORE_FIG_wall_ns] = walls[p][r];
            t->fig[STORE_FIG_gc_cycles] = p ? 15 : 64;
            t->fig[STORE_FIG_peak_heap_bytes] = (double)(p ? 10 : 7) * 1048576;
            t->fig[STORE_FIG_gc_cpu_share] = 0.041;
            t->fig[STORE_FIG_pause_p99_ns] = 3.5e6;
            t->nmetrics = 1;
            t->metrics = calloc(1, sizeof *t->metrics);
            t->metrics[0].name = strdup("trees_ns");
            t->metrics[0].unit = strdup("ns");
            t->metrics[0].value = 220280343.0 + (double)r;
        }
    }
    return v;
}

static const double walls_apart[2][5] = {
    {100e6, 102e6, 98e6, 101e6, 99e6},
    {70e6, 72e6, 69e6, 71e6, 70e6},
};

/* Output of fn into a string (caller frees). */
static char *capture(int (*fn)(FILE *, void *), void *arg, int *rc)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);

    *rc = fn(f, arg);
    fclose(f);
    return text;
}

static struct json_object *parse(const char *text)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *v;

    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    v = json_tokener_parse_ex(tok, text, (int)strlen(text));
    json_tokener_free(tok);
    return v;
}

static struct json_object *at(struct json_object *o, const char *path)
{
    char buf[256], *save, *part;

    snprintf(buf, sizeof buf, "%s", path);
    for (part = strtok_r(buf, ".", &save); part && o; part = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)atoi(part));
        else if (!json_object_object_get_ex(o, part, &o))
            o = NULL;
    }
    return o;
}

/* ---- units and statistics -------------------------------------------- */

static void test_human_units(void)
{
    char buf[64];

    CHECK_STR(render__human(buf, sizeof buf, 220280343.0, STORE_UNIT_NS, NULL), "220 ms");
    CHECK_STR(render__human(buf, sizeof buf, 950, STORE_UNIT_NS, NULL), "950 ns");
    CHECK_STR(render__human(buf, sizeof buf, 1500, STORE_UNIT_NS, NULL), "1.50 µs");
    CHECK_STR(render__human(buf, sizeof buf, 2.5e9, STORE_UNIT_NS, NULL), "2.50 s");
    CHECK_STR(render__human(buf, sizeof buf, 125e9, STORE_UNIT_NS, NULL), "2m05s");
    CHECK_STR(render__human(buf, sizeof buf, 512, STORE_UNIT_BYTES, NULL), "512 B");
    CHECK_STR(render__human(buf, sizeof buf, 79167199, STORE_UNIT_BYTES, NULL), "75.5 MiB");
    CHECK_STR(render__human(buf, sizeof buf, 300000, STORE_UNIT_COUNT, NULL), "300k");
    CHECK_STR(render__human(buf, sizeof buf, 1234567, STORE_UNIT_COUNT, NULL), "1.23M");
    CHECK_STR(render__human(buf, sizeof buf, 42, STORE_UNIT_COUNT, NULL), "42");
    CHECK_STR(render__human(buf, sizeof buf, 0.0412, STORE_UNIT_FRACTION, NULL), "4.12 %");
    CHECK_STR(render__human(buf, sizeof buf, 541.7, STORE_UNIT_OTHER, "items/s"),
              "542 items/s");
    CHECK_STR(render__human(buf, sizeof buf, -3e6, STORE_UNIT_NS, NULL), "-3.00 ms");
    CHECK_STR(render__human(buf, sizeof buf, NAN, STORE_UNIT_NS, NULL), "-");
    CHECK_INT(store_unit_of("ns"), STORE_UNIT_NS);
    CHECK_INT(store_unit_of("B"), STORE_UNIT_BYTES);
    CHECK_INT(store_unit_of("items/s"), STORE_UNIT_OTHER);
}

/* p-values from an independent computation (Python: Welch's t and df,
** then Simpson's rule over Student's t density). */
static void test_welch(void)
{
    double a1[] = {1, 2, 3, 4}, b1[] = {2, 3, 9, 10, 11};
    double a2[] = {10.1, 10.3, 9.9, 10.0, 10.2}, b2[] = {10.0, 10.4, 10.1, 9.8, 10.3};
    double a3[] = {112.2, 105.2, 91.0}, b3[] = {87.0, 72.3, 68.3};
    double one[] = {5}, same[] = {7, 7, 7}, other[] = {9, 9, 9};
    render__stat_t sa, sb;

    sa = render__stat(a1, 4);
    sb = render__stat(b1, 5);
    CHECK(fabs(sa.mean - 2.5) < 1e-12);
    CHECK(fabs(sa.var - 5.0 / 3) < 1e-12);
    CHECK_MSG(fabs(render__welch_p(&sa, &sb) - 0.0729955) < 1e-5, "p=%g",
              render__welch_p(&sa, &sb));
    sa = render__stat(a2, 5);
    sb = render__stat(b2, 5);
    CHECK_MSG(fabs(render__welch_p(&sa, &sb) - 0.8803401) < 1e-5, "p=%g",
              render__welch_p(&sa, &sb));
    sa = render__stat(a3, 3);
    sb = render__stat(b3, 3);
    CHECK_MSG(fabs(render__welch_p(&sa, &sb) - 0.0335653) < 1e-5, "p=%g",
              render__welch_p(&sa, &sb));
    /* Fewer than 2 on a side: no test. */
    sa = render__stat(one, 1);
    CHECK(isnan(render__welch_p(&sa, &sb)));
    /* No variance: equal means are the same, different ones are not. */
    sa = render__stat(same, 3);
    sb = render__stat(same, 3);
    CHECK(render__welch_p(&sa, &sb) == 1);
    sb = render__stat(other, 3);
    CHECK(render__welch_p(&sa, &sb) == 0);
    /* Unknown values are left out. */
    double holes[] = {NAN, 4, INFINITY, 6};
    sa = render__stat(holes, 4);
    CHECK_INT(sa.n, 2);
    CHECK(sa.mean == 5 && sa.min == 4 && sa.max == 6);
}

/* ---- commands -------------------------------------------------------- */

typedef struct show_arg {
    const store_run_view_t *run;
    render_format_t format;
} show_arg_t;

static int do_show(FILE *f, void *arg)
{
    show_arg_t *a = arg;
    return render_show(f, a->run, a->format);
}

static void test_show(void)
{
    store_run_view_t *run = make_run(7, 5, walls_apart);
    show_arg_t arg = {run, RENDER_TEXT};
    int rc;
    char *text = capture(do_show, &arg, &rc);

    CHECK_RC(rc, 0, render_strerror);
    CHECK_CONTAINS(text, "run 7: sweep");
    CHECK_CONTAINS(text, "runtime.gogc=100");
    CHECK_CONTAINS(text, "sample_interval=100 ms");
    /* Kernel metrics in human units, not "220280343.0 ns". */
    CHECK_CONTAINS(text, "trees_ns");
    CHECK_CONTAINS(text, "220 ms");
    CHECK(!strstr(text, "220280343"));
    CHECK_CONTAINS(text, "100 ms");      /* the mean wall of gogc=50 */
    CHECK_CONTAINS(text, "98.0 ms..102 ms");
    CHECK_CONTAINS(text, "4.10 %");
    CHECK_CONTAINS(text, "P99 PAUSE");
    CHECK(!strstr(text, "events:"));

    free(text);

    /* Events, when the run has any. */
    run->nevents = 1;
    run->events = calloc(1, sizeof *run->events);
    run->events[0] = (store_event_view_t){.unix_ns = 1700000001000000000LL, .task_id = 103,
                                     .count = STORE_NONE, .kind = strdup("worker_lost"),
                                     .worker = strdup("local-1"), .detail = NULL};
    text = capture(do_show, &arg, &rc);
    CHECK_CONTAINS(text, "events:\n");
    CHECK_CONTAINS(text, "worker_lost  worker local-1  task 103\n");
    arg.format = RENDER_JSON;
    free(text);
    text = capture(do_show, &arg, &rc);
    CHECK_RC(rc, 0, render_strerror);
    struct json_object *doc = parse(text);
    REQUIRE(doc != NULL);
    CHECK_INT(json_object_get_int64(at(doc, "run_id")), 7);
    CHECK_STR(json_object_get_string(at(doc, "points.0.label")), "gogc=50");
    CHECK_INT(json_object_get_int64(at(doc, "points.0.wall_ns.mean")), 100000000);
    CHECK_INT(json_object_get_int64(at(doc, "points.1.wall_ns.min")), 69000000);
    CHECK_INT(json_object_get_int64(at(doc, "points.0.wall_ns.n")), 5);
    CHECK_STR(json_object_get_string(at(doc, "points.0.metrics.trees_ns.unit")), "ns");
    /* A metric is a REAL in the file and stays a real, whole or not. */
    CHECK(json_object_is_type(at(doc, "points.0.metrics.trees_ns.min"), json_type_double));
    CHECK_CONTAINS(text, "\"min\":220280343.0");
    CHECK_INT(json_object_get_int64(at(doc, "points.0.repeats")), 5);
    CHECK_INT(json_object_get_int64(at(doc, "points.1.runtime.gogc")), 200);
    /* A figure no task has is null, not absent. */
    struct json_object *unknown = (struct json_object *)1;
    CHECK(json_object_object_get_ex(at(doc, "points.0"), "alloc_objects", &unknown));
    CHECK(unknown == NULL);
    CHECK_INT(json_object_array_length(at(doc, "tasks")), 10);
    CHECK_STR(json_object_get_string(at(doc, "events.0.kind")), "worker_lost");
    CHECK(json_object_get_type(at(doc, "events.0.count")) == json_type_null);
    json_object_put(doc);
    free(text);

    /* Points without a label are named by their parameters. */
    arg.format = RENDER_TEXT;
    free(run->points[0].label);
    run->points[0].label = NULL;
    free(run->points[0].params_json);
    run->points[0].params_json = strdup("{\"depth\":10,\"mode\":\"tree\"}");
    text = capture(do_show, &arg, &rc);
    CHECK_CONTAINS(text, "\n  depth=10 mode=tree  churn ");
    free(run->points[0].params_json);
    run->points[0].params_json = strdup("{}");
    free(text);
    text = capture(do_show, &arg, &rc);
    CHECK_CONTAINS(text, "\n  churn     churn ");
    free(text);
    store_run_view_free(&run);
    CHECK(run == NULL);
}

/* What the old end-of-run printer gave `heapsim run` and scripts read
** (each task's "result": output and metrics), and text from the file that
** must not reach a terminal raw or a JSON reader as invalid UTF-8. */
static void test_show_result_and_hostile_text(void)
{
    store_run_view_t *run = make_run(8, 1, walls_apart);
    show_arg_t arg = {run, RENDER_JSON};
    struct json_object *doc, *unknown = (struct json_object *)1;
    int rc;
    char *text;

    free(run->info.name);
    run->info.name = strdup("evil\x1b[2J\nname");
    run->info.error = strdup("stopped\nby \x07 hand");
    run->tasks[0].output = strdup("line one\n\xff\xfe end \xc3\xa9");
    run->tasks[1].error = strdup("out of heap\x1b[31m\nat depth 30");
    free(run->tasks[1].kernel);
    run->tasks[1].kernel = strdup("k\x1b");
    free(run->tasks[1].metrics[0].name);
    run->tasks[1].metrics[0].name = strdup("output");   /* never the output */
    run->nevents = 1;
    run->events = calloc(1, sizeof *run->events);
    run->events[0] = (store_event_view_t){.unix_ns = 1700000001000000000LL,
                                          .task_id = STORE_NONE, .count = STORE_NONE,
                                          .kind = strdup("peer_refused"),
                                          .detail = strdup("bad\x1b[0m peer\r")};

    text = capture(do_show, &arg, &rc);
    CHECK_RC(rc, 0, render_strerror);
    doc = parse(text);
    REQUIRE(doc != NULL);
    CHECK_STR(json_object_get_string(at(doc, "tasks.0.result.output")),
              "line one\n\xef\xbf\xbd\xef\xbf\xbd end \xc3\xa9");
    CHECK(json_object_is_type(at(doc, "tasks.0.result.trees_ns"), json_type_double));
    CHECK(json_object_get_double(at(doc, "tasks.0.result.trees_ns")) == 220280343.0);
    CHECK(json_object_object_get_ex(at(doc, "tasks.1.result"), "output", &unknown));
    CHECK(unknown == NULL);                           /* none: null, not the metric */
    CHECK_INT(json_object_object_length(at(doc, "tasks.1.result")), 1);
    CHECK_STR(json_object_get_string(at(doc, "name")), "evil\x1b[2J\nname");
    CHECK_STR(json_object_get_string(at(doc, "tasks.1.error")),
              "out of heap\x1b[31m\nat depth 30");
    CHECK(json_object_is_type(at(doc, "tasks.0.runtime_metrics"), json_type_object));
    json_object_put(doc);
    free(text);

    arg.format = RENDER_TEXT;
    text = capture(do_show, &arg, &rc);
    CHECK_RC(rc, 0, render_strerror);
    CHECK(strchr(text, 0x1b) == NULL);
    CHECK(strchr(text, 0x07) == NULL);
    CHECK(strchr(text, '\r') == NULL);
    CHECK_CONTAINS(text, "run 8: evil\\x1b[2J\\nname (done)\n");
    CHECK_CONTAINS(text, "  error     stopped\n            by \\x07 hand\n");
    CHECK_CONTAINS(text, "error of task 1 (k\\x1b): out of heap\\x1b[31m\n    at depth 30\n");
    CHECK_CONTAINS(text, "peer_refused  bad\\x1b[0m peer\\x0d\n");
    free(text);
    store_run_view_free(&run);
}

typedef struct runs_arg {
    const store_run_info_t *runs;
    size_t n;
    render_format_t format;
} runs_arg_t;

static int do_runs(FILE *f, void *arg)
{
    runs_arg_t *a = arg;
    return render_runs(f, a->runs, a->n, a->format);
}

static void test_runs(void)
{
    store_run_info_t runs[2] = {
        {.run_id = 2, .name = "b", .status = "running", .started_unix_ns = 1700000001000000000LL,
         .ended_unix_ns = STORE_NONE, .tasks_total = 4, .tasks_done = 1},
        {.run_id = 1, .name = "a,\"x\"", .status = "done", .started_unix_ns = 1700000000000000000LL,
         .ended_unix_ns = 1700000000000000000LL + 1500000000LL, .tasks_total = 2,
         .tasks_done = 2},
    };
    runs_arg_t arg = {runs, 2, RENDER_TEXT};
    int rc;
    char *text = capture(do_runs, &arg, &rc);

    CHECK_RC(rc, 0, render_strerror);
    CHECK_CONTAINS(text, "RUN  STARTED");
    CHECK_CONTAINS(text, "1.50 s");
    CHECK_CONTAINS(text, "1/4");
    free(text);
    arg.format = RENDER_JSON;
    text = capture(do_runs, &arg, &rc);
    struct json_object *doc = parse(text);
    REQUIRE(doc != NULL);
    CHECK_INT(json_object_array_length(doc), 2);
    CHECK(json_object_get_type(at(doc, "0.wall_ns")) == json_type_null);
    CHECK_INT(json_object_get_int64(at(doc, "1.wall_ns")), 1500000000);
    json_object_put(doc);
    free(text);
    arg.format = RENDER_CSV;
    text = capture(do_runs, &arg, &rc);
    CHECK_CONTAINS(text, "\r\n1,,\"a,\"\"x\"\"\",done");
    free(text);
    arg.n = 0;
    arg.format = RENDER_TEXT;
    text = capture(do_runs, &arg, &rc);
    CHECK_STR(text, "no runs\n");
    free(text);
}

typedef struct compare_arg {
    render_side_t a, b;
    render_format_t format;
    char err[256];
} compare_arg_t;

static int do_compare(FILE *f, void *arg)
{
    compare_arg_t *a = arg;
    return render_compare(f, &a->a, &a->b, a->format, a->err, sizeof a->err);
}

static void test_compare(void)
{
    /* Two runs: wall apart beyond the noise; the metric within it. */
    static const double walls_close[2][5] = {
        {100e6, 103e6, 97e6, 101e6, 99e6},
        {99e6, 102e6, 98e6, 100e6, 101e6},
    };
    store_run_view_t *ra = make_run(1, 5, walls_apart);
    store_run_view_t *rb = make_run(2, 5, walls_close);
    store_run_view_t *r1 = make_run(3, 1, walls_apart);
    compare_arg_t arg = {.a = {ra, "gogc=50"}, .b = {ra, "gogc=200"}, .format = RENDER_TEXT};
    int rc;
    char *text = capture(do_compare, &arg, &rc);

    CHECK_RC(rc, 0, render_strerror);
    CHECK_CONTAINS(text, "Welch's t-test, two-sided, at 95 %");
    CHECK_CONTAINS(text, "-29.6%");       /* 100 ms -> 70.4 ms */
    CHECK_CONTAINS(text, "p=0.000 n=5+5");
    free(text);

    /* The two runs point by point, as JSON. */
    arg = (compare_arg_t){.a = {ra, NULL}, .b = {rb, NULL}, .format = RENDER_JSON};
    text = capture(do_compare, &arg, &rc);
    CHECK_RC(rc, 0, render_strerror);
    struct json_object *doc = parse(text);
    REQUIRE(doc != NULL);
    CHECK_INT(json_object_array_length(at(doc, "pairs")), 2);
    CHECK_STR(json_object_get_string(at(doc, "pairs.0.figures.0.name")), "wall_ns");
    /* gogc=50 in both: 100 ms vs 100 ms, not significant. */
    CHECK(!json_object_get_boolean(at(doc, "pairs.0.figures.0.significant")));
    /* gogc=200: 70.4 ms vs 100 ms, significant. */
    CHECK(json_object_get_boolean(at(doc, "pairs.1.figures.0.significant")));
    CHECK(json_object_get_double(at(doc, "pairs.1.figures.0.p")) < 0.05);
    json_object_put(doc);
    free(text);

    /* Fewer than 2 repeats on a side: "~", and no p. */
    arg = (compare_arg_t){.a = {r1, "0"}, .b = {ra, "0"}, .format = RENDER_TEXT};
    text = capture(do_compare, &arg, &rc);
    CHECK_RC(rc, 0, render_strerror);
    CHECK_CONTAINS(text, "(n=1+5)");
    CHECK(!strstr(text, "p="));
    free(text);

    /* CSV has a row per figure. */
    arg = (compare_arg_t){.a = {ra, "gogc=50"}, .b = {rb, "gogc=50"}, .format = RENDER_CSV};
    text = capture(do_compare, &arg, &rc);
    CHECK_CONTAINS(text, "a_point,b_point,figure");
    CHECK_CONTAINS(text, "gogc=50,gogc=50,wall_ns,,");
    free(text);

    /* A point that does not exist. */
    arg = (compare_arg_t){.a = {ra, "gogc=999"}, .b = {rb, NULL}, .format = RENDER_TEXT};
    text = capture(do_compare, &arg, &rc);
    CHECK_RC(rc, RENDER_EUSAGE, render_strerror);
    CHECK_CONTAINS(arg.err, "no point 'gogc=999'");
    CHECK_STR(text, "");
    free(text);
    store_run_view_free(&r1);
    store_run_view_free(&rb);
    store_run_view_free(&ra);
}

/* Series for a point: n samples, a GC cycle every 10th. */
static void make_series(store_task_series_t *s, size_t n)
{
    memset(s, 0, sizeof *s);
    s->samples = calloc(n, sizeof *s->samples);
    s->gcs = calloc(n, sizeof *s->gcs);
    s->nsamples = n;
    for (size_t i = 0; i < n; i++) {
        store_sample_row_t *r = &s->samples[i];
        r->t_ns = (int64_t)i * 10000000;
        r->heap_inuse_bytes = (int64_t)(i % 10 + 1) << 20;
        r->heap_goal_bytes = 12 << 20;
        r->goroutines = 3;
        r->stack_inuse_bytes = 8192;
        if (i % 10 == 9) {
            store_gc_row_t *g = &s->gcs[s->ngcs++];
            g->t_ns = r->t_ns;
            g->f.stw_ns = 250000 + (int64_t)i * 1000;
        }
    }
}

typedef struct html_arg {
    render_report_run_t runs[2];
    size_t nruns;
} html_arg_t;

static int do_html(FILE *f, void *arg)
{
    html_arg_t *a = arg;
    return render_html(f, a->runs, a->nruns);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_html(void)
{
    store_run_view_t *ra = make_run(1, 3, walls_apart), *rb = make_run(2, 3, walls_apart);
    store_task_series_t sa[2], sb[2];
    html_arg_t arg = {.runs = {{ra, sa}, {rb, sb}}, .nruns = 1};
    int rc;
    char *text;

    for (int i = 0; i < 2; i++) {
        make_series(&sa[i], 50);
        make_series(&sb[i], 40);
    }
    text = capture(do_html, &arg, &rc);
    CHECK_RC(rc, 0, render_strerror);
    CHECK(strncmp(text, "<!DOCTYPE html>", 15) == 0);
    CHECK(!strstr(text, "<script"));
    /* Self-contained: no URL but the SVG namespace. */
    CHECK_INT(count(text, "http"), count(text, "xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK_CONTAINS(text, "data-chart=\"heap\" data-points=\"100\"");
    CHECK_CONTAINS(text, "data-series=\"gc cycles\" data-n=\"5\"");
    CHECK_CONTAINS(text, "data-chart=\"pauses\" data-points=\"5\"");
    CHECK_CONTAINS(text, "data-chart=\"goroutines\"");
    CHECK_CONTAINS(text, "data-chart=\"stacks\"");
    CHECK_CONTAINS(text, "data-chart=\"metric\"");
    CHECK_CONTAINS(text, "wall over gogc");       /* the sweep, over its parameter */
    CHECK_CONTAINS(text, "sweep, &quot;quoted&quot; &lt;b&gt;");
    CHECK(!strstr(text, "<b>"));
    free(text);
    /* Two runs: overlaid. */
    arg.nruns = 2;
    text = capture(do_html, &arg, &rc);
    CHECK_RC(rc, 0, render_strerror);
    CHECK_CONTAINS(text, "data-series=\"B heap in use\" data-n=\"40\"");
    CHECK_CONTAINS(text, "data-series=\"run B\"");
    CHECK_CONTAINS(text, "Run 2:");
    free(text);
    for (int i = 0; i < 2; i++) {
        store_task_series_clear(&sa[i]);
        store_task_series_clear(&sb[i]);
    }
    store_run_view_free(&rb);
    store_run_view_free(&ra);
}

typedef struct export_arg {
    const store_run_view_t *run;
    const store_task_series_t *series;
    render_format_t format;
} export_arg_t;

static int do_export(FILE *f, void *arg)
{
    export_arg_t *a = arg;
    return render_export(f, a->run, a->series, a->format);
}

static void test_export(void)
{
    store_run_view_t *run = make_run(4, 2, walls_apart);
    store_task_series_t series[4];
    export_arg_t arg = {run, series, RENDER_JSON};
    int rc;
    char *text;

    for (int i = 0; i < 4; i++)
        make_series(&series[i], 20);
    text = capture(do_export, &arg, &rc);
    CHECK_RC(rc, 0, render_strerror);
    struct json_object *doc = parse(text);
    REQUIRE(doc != NULL);
    CHECK_INT(json_object_array_length(at(doc, "tasks")), 4);
    CHECK_INT(json_object_array_length(at(doc, "tasks.3.samples")), 20);
    CHECK_INT(json_object_array_length(at(doc, "tasks.3.gc_cycles")), 2);
    CHECK_INT(json_object_get_int64(at(doc, "tasks.0.gc_cycles.1.stw_ns")), 269000);
    CHECK_INT(json_object_get_int64(at(doc, "tasks.0.samples.19.stack_inuse_bytes")), 8192);
    CHECK_STR(json_object_get_string(at(doc, "tasks.0.metrics.trees_ns.unit")), "ns");
    json_object_put(doc);
    free(text);
    arg.format = RENDER_CSV;
    text = capture(do_export, &arg, &rc);
    CHECK_RC(rc, 0, render_strerror);
    CHECK_CONTAINS(text, "# tasks\r\ntask_id,seq,kernel");
    CHECK_CONTAINS(text, "# samples\r\ntask_id,t_ns,heap_alloc_bytes");
    CHECK_CONTAINS(text, "# gc_cycles\r\ntask_id,t_ns,cycle");
    CHECK_INT(count(text, "\r\n100,"), 1 + 20 + 2 + 1); /* task, samples, gcs, metric */
    free(text);
    for (int i = 0; i < 4; i++)
        store_task_series_clear(&series[i]);
    store_run_view_free(&run);
}

/* `heapsim sql`'s rows, row by row, in each format. */
static char *rows_text(render_format_t format, const char *const *names, size_t ncols,
                       const store_value_t *rows, size_t nrows, bool end, int *rc)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    render_rows_t *r;

    *rc = render_rows_new(f, format, names, ncols, &r);
    for (size_t i = 0; *rc == 0 && i < nrows; i++)
        *rc = render_rows_add(r, &rows[i * ncols]);
    if (*rc == 0 && end)
        *rc = render_rows_end(r);
    render_rows_destroy(&r);
    CHECK(r == NULL);
    fclose(f);
    return text;
}

static void test_rows(void)
{
    static const char *const names[] = {"i", "r", "t", "n", "b", "i"};
    static const unsigned char blob[] = {0x00, 0xff, 0x10};
    static const char text_a[] = "a,\"b\"\nc", text_bad[] = "x\xffy\x1b";
    const store_value_t rows[] = {
        {.type = STORE_VALUE_INT, .i = 7}, {.type = STORE_VALUE_REAL, .r = 2.5},
        {.type = STORE_VALUE_TEXT, .bytes = (const unsigned char *)text_a, .len = 7},
        {.type = STORE_VALUE_NULL}, {.type = STORE_VALUE_BLOB, .bytes = blob, .len = 3},
        {.type = STORE_VALUE_INT, .i = -1},
        {.type = STORE_VALUE_INT, .i = 1234567}, {.type = STORE_VALUE_REAL, .r = 2000},
        {.type = STORE_VALUE_TEXT, .bytes = (const unsigned char *)text_bad, .len = 4},
        {.type = STORE_VALUE_NULL}, {.type = STORE_VALUE_BLOB, .bytes = NULL, .len = 0},
        {.type = STORE_VALUE_NULL},
    };
    struct json_object *doc;
    char *text;
    int rc;

    text = rows_text(RENDER_TEXT, names, 6, rows, 2, true, &rc);
    CHECK_RC(rc, 0, render_strerror);
    CHECK(strncmp(text, "i        r       t         n     b       i\n", 43) == 0);
    CHECK_CONTAINS(text, "\n-------  ------  --------  ----  ------  ----\n");
    CHECK_CONTAINS(text, "\n      7     2.5  a,\"b\"\\nc  NULL  00ff10    -1\n");
    CHECK_CONTAINS(text, "\n1234567  2000.0  x");
    CHECK_CONTAINS(text, "y\\x1b   NULL          NULL\n");   /* escaped, NULL as NULL */
    free(text);

    text = rows_text(RENDER_CSV, names, 6, rows, 2, true, &rc);
    CHECK_RC(rc, 0, render_strerror);
    CHECK_STR(text, "i,r,t,n,b,i\r\n7,2.5,\"a,\"\"b\"\"\nc\",,00ff10,-1\r\n"
                    "1234567,2000.0,x\xffy\x1b,,,\r\n");
    free(text);

    text = rows_text(RENDER_JSON, names, 6, rows, 2, true, &rc);
    CHECK_RC(rc, 0, render_strerror);
    CHECK(strncmp(text, "[\n  {\"i\":7,", 11) == 0);
    doc = parse(text);
    REQUIRE(doc != NULL);
    CHECK_INT(json_object_array_length(doc), 2);
    CHECK_INT(json_object_get_int64(at(doc, "0.i")), 7);
    CHECK_INT(json_object_get_int64(at(doc, "0.i:2")), -1);     /* a repeated name */
    CHECK(json_object_is_type(at(doc, "1.r"), json_type_double));
    CHECK_CONTAINS(text, "\"r\":2000.0");
    CHECK_STR(json_object_get_string(at(doc, "0.t")), text_a);
    CHECK(json_object_get_type(at(doc, "0.n")) == json_type_null);
    CHECK_STR(json_object_get_string(at(doc, "0.b")), "00ff10");
    CHECK_STR(json_object_get_string(at(doc, "1.t")), "x\xef\xbf\xbdy\x1b");  /* UTF-8 repaired */
    CHECK_STR(json_object_get_string(at(doc, "1.b")), "");
    json_object_put(doc);
    free(text);

    /* No rows: an empty array, a header alone. */
    text = rows_text(RENDER_JSON, names, 6, rows, 0, true, &rc);
    CHECK_STR(text, "[]\n");
    free(text);
    text = rows_text(RENDER_CSV, names, 6, rows, 0, true, &rc);
    CHECK_STR(text, "i,r,t,n,b,i\r\n");
    free(text);

    /* Cut short (the query failed midway): JSON is left unterminated, no
    ** reader takes it for a whole result; a table prints nothing. */
    text = rows_text(RENDER_JSON, names, 6, rows, 1, false, &rc);
    CHECK_RC(rc, 0, render_strerror);
    CHECK(text[strlen(text) - 1] == '\n' && !strchr(text, ']'));
    doc = parse(text);
    CHECK(doc == NULL);
    json_object_put(doc);
    free(text);
    text = rows_text(RENDER_TEXT, names, 6, rows, 2, false, &rc);
    CHECK_STR(text, "");
    free(text);

    /* A table is held whole: past its cap it says so and prints nothing;
    ** CSV streams the same row. */
    size_t big_len = RENDER_TABLE_MAX_BYTES / 2 + 1;
    unsigned char *big = malloc(big_len);
    REQUIRE(big != NULL);
    memset(big, 'x', big_len);
    store_value_t big_row = {.type = STORE_VALUE_TEXT, .bytes = big, .len = big_len};
    text = rows_text(RENDER_TEXT, names, 1, &big_row, 1, true, &rc);
    CHECK_RC(rc, RENDER_ETOOBIG, render_strerror);
    CHECK_STR(text, "");
    CHECK_CONTAINS(render_strerror(rc), "use --csv or --json");
    free(text);
    text = rows_text(RENDER_CSV, names, 1, &big_row, 1, true, &rc);
    CHECK_RC(rc, 0, render_strerror);
    CHECK_INT(strlen(text), 3 + big_len + 2);   /* "i\r\n", the row */
    free(text);
    free(big);
}

/* A full output stream: RENDER_EIO, not silence. */
static void test_write_error(void)
{
    store_run_view_t *run = make_run(5, 2, walls_apart);
    FILE *full = fopen("/dev/full", "w");

    REQUIRE(full != NULL);
    CHECK_RC(render_show(full, run, RENDER_TEXT), RENDER_EIO, render_strerror);
    fclose(full);
    store_run_view_free(&run);
}

int main(int argc, char **argv)
{
    static const testrun_case_t tests[] = {
        {"human_units", test_human_units},
        {"welch", test_welch},
        {"show", test_show},
        {"show_result_and_hostile_text", test_show_result_and_hostile_text},
        {"runs", test_runs},
        {"compare", test_compare},
        {"html", test_html},
        {"export", test_export},
        {"rows", test_rows},
        {"write_error", test_write_error},
    };

    return testrun_main(argc, argv, tests, sizeof tests / sizeof tests[0], 60, NULL);
}
