/*
** render/render_show.c -- `heapsim show`: one run, per sweep point.
**
** Text: the run's header and settings; "points" (a row per point, named
** by its label or else its parameters: the mean over its repeats that are
** done, every figure in human units); "min..max" (the same rows as
** ranges, when a point has more than one repeat done); "kernel metrics"
** (a row per point and metric); "tasks" (a row per task); "errors".
** JSON: the same, every figure raw. `heapsim run` prints it as its
** summary.
*/
#include "render/render_int.h"
#include "base/table.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The figures in the points table, in order. */
static const store_fig_t point_figs[] = {
    STORE_FIG_wall_ns, STORE_FIG_alloc_objects, STORE_FIG_alloc_bytes,
    STORE_FIG_gc_cycles, STORE_FIG_gc_cpu_share, STORE_FIG_pause_p50_ns,
    STORE_FIG_pause_p99_ns, STORE_FIG_pause_max_ns, STORE_FIG_peak_heap_bytes,
    STORE_FIG_goroutines_max, STORE_FIG_stack_hwm_bytes,
};
#define NPOINT_FIGS (sizeof point_figs / sizeof point_figs[0])

/* A point's name in show's tables: its label, else its parameters as
** "depth=10 mode=tree" (strings without quotes; the KERNEL column beside
** it names the kernel), else its kernel. Returns buf or a string of p. */
static const char *point_name(const store_point_view_t *p, char *buf, size_t size)
{
    struct json_object *params;
    size_t len = 0;

    if ((p->label && *p->label) || !p->params_json)
        return render__point_title(p);
    params = render__json_parsed(p->params_json);
    if (!json_object_is_type(params, json_type_object) ||
        json_object_object_length(params) == 0) {
        json_object_put(params);
        return render__point_title(p);
    }
    buf[0] = '\0';
    json_object_object_foreach(params, key, value) {
        const char *text = json_object_is_type(value, json_type_string)
                               ? json_object_get_string(value)
                               : json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN);
        int n = snprintf(buf + len, size - len, "%s%s=%s", len ? " " : "", key, text);
        if (n < 0 || (size_t)n >= size - len)
            break;
        len += (size_t)n;
    }
    json_object_put(params);
    return buf;
}

/* "  label     value", the value escaped (it comes from the file). */
static void field(FILE *out, const char *label, const char *value)
{
    fprintf(out, "  %-9s ", label);
    render__print_escaped(out, value);
    fputc('\n', out);
}

/* "key=value" for each key of the settings JSON, objects flattened
** ("runtime.gogc=100"), *_ns values as durations. */
static void settings_line(char *buf, size_t size, const char *prefix,
                          struct json_object *obj)
{
    json_object_object_foreach(obj, key, value) {
        char name[128], human[64];
        size_t len = strlen(buf);

        snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", key);
        if (json_object_is_type(value, json_type_object)) {
            settings_line(buf, size, name, value);
            continue;
        }
        if (json_object_is_type(value, json_type_array) &&
            json_object_array_length(value) == 0)
            continue;
        if (strlen(key) > 3 && strcmp(key + strlen(key) - 3, "_ns") == 0 &&
            json_object_is_type(value, json_type_int)) {
            name[strlen(name) - 3] = '\0';
            render__human(human, sizeof human, (double)json_object_get_int64(value),
                          STORE_UNIT_NS, NULL);
            snprintf(buf + len, size - len, "%s%s=%s", len ? " " : "", name, human);
        } else {
            snprintf(buf + len, size - len, "%s%s=%s", len ? " " : "", name,
                     json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
        }
    }
}

static void header_text(FILE *out, const store_run_view_t *run)
{
    const store_run_info_t *r = &run->info;
    char buf[1024];

    fprintf(out, "run %lld: ", (long long)r->run_id);
    render__print_escaped(out, r->name);
    fputs(" (", out);
    render__print_escaped(out, r->status);
    fputs(")\n", out);
    field(out, "token", r->token);
    field(out, "started", render__time(buf, sizeof buf, r->started_unix_ns));
    if (r->started_unix_ns != STORE_NONE && r->ended_unix_ns != STORE_NONE)
        field(out, "duration", render__human(buf, sizeof buf,
                                             (double)(r->ended_unix_ns - r->started_unix_ns),
                                             STORE_UNIT_NS, NULL));
    snprintf(buf, sizeof buf, "%lld joined, %lld local planned",
             (long long)r->workers_joined, (long long)r->workers_planned);
    field(out, "workers", buf);
    field(out, "host", r->host);
    field(out, "scenario", r->scenario_path);
    if (r->command_line)
        field(out, "command", r->command_line);
    if (r->settings_json) {
        struct json_object *s = json_tokener_parse(r->settings_json);
        buf[0] = '\0';
        if (s && json_object_is_type(s, json_type_object))
            settings_line(buf, sizeof buf, "", s);
        else
            snprintf(buf, sizeof buf, "%s", r->settings_json);
        json_object_put(s);
        field(out, "settings", buf);
    }
    if (r->error) {
        fprintf(out, "  %-9s ", "error");
        render__print_block(out, r->error, 12);
    }
}

/* The points table, as means (ranges false) or min..max (ranges true). */
static int points_table(FILE *out, const store_run_view_t *run, bool ranges,
                        double *values)
{
    text_table_t *table = text_table_new(3 + NPOINT_FIGS);
    int rc = 0;

    if (!table)
        return RENDER_ENOMEM;
    rc = text_table_header(table, 0, "POINT", false);
    rc = rc ? rc : text_table_header(table, 1, "KERNEL", false);
    rc = rc ? rc : text_table_header(table, 2, "DONE", true);
    for (size_t f = 0; f < NPOINT_FIGS && rc == 0; f++) {
        char title[64];
        snprintf(title, sizeof title, "%s", store_fig_desc[point_figs[f]].title);
        for (char *c = title; *c; c++)
            *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        rc = text_table_header(table, 3 + f, title, true);
    }
    for (size_t i = 0; i < run->npoints && rc == 0; i++) {
        const store_point_view_t *p = &run->points[i];
        size_t done, failed;
        char name[256];

        render__point_counts(run, p, &done, &failed);
        if (ranges && done < 2)
            continue;
        rc = text_table_row(table);
        rc = rc ? rc : text_table_cellf(table, 0, "%s", point_name(p, name, sizeof name));
        rc = rc ? rc : text_table_cellf(table, 1, "%s", render__str(p->kernel));
        rc = rc ? rc : text_table_cellf(table, 2, "%zu/%zu", done, p->ntasks);
        for (size_t f = 0; f < NPOINT_FIGS && rc == 0; f++) {
            store_fig_t fig = point_figs[f];
            store_unit_t unit = store_fig_desc[fig].unit;
            render__stat_t st = render__stat(values, render__point_values(run, p, fig, values));
            char a[48], b[48];

            if (unit == STORE_UNIT_COUNT && fig != STORE_FIG_gc_cycles &&
                fig != STORE_FIG_goroutines_max)
                unit = STORE_UNIT_COUNT;
            if (ranges)
                rc = text_table_cellf(table, 3 + f, "%s..%s",
                                         render__human(a, sizeof a, st.min, unit, NULL),
                                         render__human(b, sizeof b, st.max, unit, NULL));
            else if (st.n > 0 && (fig == STORE_FIG_gc_cycles ||
                                  fig == STORE_FIG_goroutines_max) && st.mean < 1000 &&
                     st.mean != floor(st.mean))
                rc = text_table_cellf(table, 3 + f, "%.1f", st.mean);
            else
                rc = text_table_cellf(table, 3 + f, "%s",
                                         render__human(a, sizeof a, st.mean, unit, NULL));
        }
    }
    if (rc == 0) {
        fprintf(out, ranges ? "\nmin..max over the repeats done:\n"
                            : "\npoints (mean over the repeats done):\n");
        text_table_print(table, out, 2);
    }
    text_table_destroy(&table);
    return rc ? RENDER_ENOMEM : 0;
}

static int metrics_table(FILE *out, const store_run_view_t *run, double *values)
{
    text_table_t *table = text_table_new(5);
    int rc;

    if (!table)
        return RENDER_ENOMEM;
    rc = text_table_header(table, 0, "POINT", false);
    rc = rc ? rc : text_table_header(table, 1, "METRIC", false);
    rc = rc ? rc : text_table_header(table, 2, "MEAN", true);
    rc = rc ? rc : text_table_header(table, 3, "MIN..MAX", true);
    rc = rc ? rc : text_table_header(table, 4, "N", true);
    for (size_t i = 0; i < run->npoints && rc == 0; i++) {
        const store_point_view_t *p = &run->points[i];
        const char **names;
        size_t nnames;
        char name[256];

        if (render__point_metric_names(run, p, &names, &nnames)) {
            rc = -1;
            break;
        }
        for (size_t m = 0; m < nnames && rc == 0; m++) {
            const char *unit_name;
            size_t n = render__point_metric(run, p, names[m], values, &unit_name);
            render__stat_t st = render__stat(values, n);
            store_unit_t unit = store_unit_of(unit_name);
            char a[48], b[48], c[48];

            rc = text_table_row(table);
            rc = rc ? rc : text_table_cellf(table, 0, "%s", point_name(p, name, sizeof name));
            rc = rc ? rc : text_table_cellf(table, 1, "%s", names[m]);
            rc = rc ? rc : text_table_cellf(table, 2, "%s",
                                               render__human(a, sizeof a, st.mean, unit,
                                                             unit_name));
            if (st.n > 1)
                rc = rc ? rc : text_table_cellf(
                    table, 3, "%s..%s", render__human(b, sizeof b, st.min, unit, unit_name),
                    render__human(c, sizeof c, st.max, unit, unit_name));
            rc = rc ? rc : text_table_cellf(table, 4, "%zu", st.n);
        }
        free(names);
    }
    if (rc == 0 && text_table_rows(table) > 0) {
        fprintf(out, "\nkernel metrics (over the repeats done):\n");
        text_table_print(table, out, 2);
    }
    text_table_destroy(&table);
    return rc ? RENDER_ENOMEM : 0;
}

static int tasks_table(FILE *out, const store_run_view_t *run)
{
    text_table_t *table = text_table_new(7);
    int rc;

    if (!table)
        return RENDER_ENOMEM;
    rc = text_table_header(table, 0, "SEQ", true);
    rc = rc ? rc : text_table_header(table, 1, "POINT", false);
    rc = rc ? rc : text_table_header(table, 2, "REPEAT", true);
    rc = rc ? rc : text_table_header(table, 3, "STATUS", false);
    rc = rc ? rc : text_table_header(table, 4, "WORKER", false);
    rc = rc ? rc : text_table_header(table, 5, "WALL", true);
    rc = rc ? rc : text_table_header(table, 6, "GC", true);
    for (size_t i = 0; i < run->npoints && rc == 0; i++) {
        const store_point_view_t *p = &run->points[i];
        char name[256];

        for (size_t k = 0; k < p->ntasks && rc == 0; k++) {
            const store_task_view_t *t = &run->tasks[p->tasks[k]];
            char a[48], b[48];

            rc = text_table_row(table);
            rc = rc ? rc : text_table_cellf(table, 0, "%lld", (long long)t->seq);
            rc = rc ? rc : text_table_cellf(table, 1, "%s", point_name(p, name, sizeof name));
            rc = rc ? rc : text_table_cellf(table, 2, "%lld", (long long)t->repeat_index);
            rc = rc ? rc : text_table_cellf(table, 3, "%s", render__str(t->status));
            rc = rc ? rc : text_table_cellf(table, 4, "%s", render__str(t->worker));
            rc = rc ? rc : text_table_cellf(table, 5, "%s",
                                               render__human(a, sizeof a,
                                                             t->fig[STORE_FIG_wall_ns],
                                                             STORE_UNIT_NS, NULL));
            rc = rc ? rc : text_table_cellf(table, 6, "%s",
                                               render__human(b, sizeof b,
                                                             t->fig[STORE_FIG_gc_cycles],
                                                             STORE_UNIT_COUNT, NULL));
        }
    }
    if (rc == 0) {
        fprintf(out, "\ntasks:\n");
        text_table_print(table, out, 2);
    }
    text_table_destroy(&table);
    return rc ? RENDER_ENOMEM : 0;
}

static int show_text(FILE *out, const store_run_view_t *run, double *values)
{
    bool any_repeats = false;
    int rc;

    header_text(out, run);
    if (run->ntasks == 0) {
        fputs("\nno tasks\n", out);
        return render__check_out(out);
    }
    for (size_t i = 0; i < run->npoints; i++) {
        size_t done, failed;
        render__point_counts(run, &run->points[i], &done, &failed);
        any_repeats = any_repeats || done > 1;
    }
    if ((rc = points_table(out, run, false, values)) ||
        (any_repeats && (rc = points_table(out, run, true, values))) ||
        (rc = metrics_table(out, run, values)) || (rc = tasks_table(out, run)))
        return rc;
    for (size_t i = 0; i < run->ntasks; i++) {
        const store_task_view_t *t = &run->tasks[i];
        if (!t->error)
            continue;
        fprintf(out, "\nerror of task %lld (", (long long)t->seq);
        render__print_escaped(out, t->kernel);
        fputs("): ", out);
        render__print_block(out, t->error, 4);
    }
    if (run->nevents > 0) {
        fprintf(out, "\nevents:\n");
        for (size_t i = 0; i < run->nevents; i++) {
            const store_event_view_t *e = &run->events[i];
            char when[64];
            fprintf(out, "  %s  ", render__time(when, sizeof when, e->unix_ns));
            render__print_escaped(out, e->kind);
            if (e->count != STORE_NONE)
                fprintf(out, " x%lld", (long long)e->count);
            if (e->worker) {
                fputs("  worker ", out);
                render__print_escaped(out, e->worker);
            }
            if (e->task_id != STORE_NONE)
                fprintf(out, "  task %lld", (long long)e->task_id);
            if (e->detail) {
                fputs("  ", out);
                render__print_escaped(out, e->detail);
            }
            fputc('\n', out);
        }
    }
    return render__check_out(out);
}

/* ---- JSON ------------------------------------------------------------ */

struct json_object *render__result_json(const store_task_view_t *t)
{
    struct json_object *o = json_object_new_object();

    if (!o)
        return NULL;
    json_object_object_add(o, "output", render__json_str(t->output));
    /* storage refuses a metric named "output"; one in the file does not
    ** replace the output either. */
    for (size_t m = 0; m < t->nmetrics; m++)
        if (t->metrics[m].name && strcmp(t->metrics[m].name, "output") != 0)
            json_object_object_add(o, t->metrics[m].name,
                                   render__json_real(t->metrics[m].value));
    return o;
}

struct json_object *render__task_json(const store_task_view_t *t)
{
    struct json_object *o = json_object_new_object(), *metrics;

    if (!o)
        return NULL;
    json_object_object_add(o, "task_id", json_object_new_int64(t->task_id));
    json_object_object_add(o, "seq", render__json_int(t->seq));
    json_object_object_add(o, "kernel", render__json_str(t->kernel));
    json_object_object_add(o, "label", render__json_str(t->label));
    json_object_object_add(o, "sweep_point", render__json_int(t->sweep_point));
    json_object_object_add(o, "repeat_index", render__json_int(t->repeat_index));
    json_object_object_add(o, "params", render__json_parsed(t->params_json));
    json_object_object_add(o, "runtime", render__json_parsed(t->runtime_json));
    json_object_object_add(o, "status", render__json_str(t->status));
    json_object_object_add(o, "worker", render__json_str(t->worker));
    json_object_object_add(o, "error", render__json_str(t->error));
    for (int f = 0; f < STORE_FIG_COUNT; f++)
        json_object_object_add(o, store_fig_desc[f].name, render__json_double(t->fig[f]));
    metrics = json_object_new_object();
    for (size_t m = 0; metrics && m < t->nmetrics; m++) {
        struct json_object *mo = json_object_new_object();
        json_object_object_add(mo, "value", render__json_real(t->metrics[m].value));
        json_object_object_add(mo, "unit", render__json_str(t->metrics[m].unit));
        json_object_object_add(metrics, t->metrics[m].name, mo);
    }
    json_object_object_add(o, "metrics", metrics);
    json_object_object_add(o, "result", render__result_json(t));
    json_object_object_add(o, "runtime_metrics", render__go_json(&t->go));
    return o;
}

static struct json_object *point_json(const store_run_view_t *run,
                                      const store_point_view_t *p, double *values)
{
    struct json_object *o = json_object_new_object(), *metrics;
    const char **names;
    size_t done, failed, nnames;

    if (!o)
        return NULL;
    render__point_counts(run, p, &done, &failed);
    json_object_object_add(o, "kernel", render__json_str(p->kernel));
    json_object_object_add(o, "label", render__json_str(p->label));
    json_object_object_add(o, "sweep_point", render__json_int(p->sweep_point));
    json_object_object_add(o, "params", render__json_parsed(p->params_json));
    json_object_object_add(o, "runtime", render__json_parsed(p->runtime_json));
    json_object_object_add(o, "first_seq",
                           p->ntasks ? render__json_int(run->tasks[p->tasks[0]].seq) : NULL);
    json_object_object_add(o, "repeats", json_object_new_int64((int64_t)p->ntasks));
    json_object_object_add(o, "done", json_object_new_int64((int64_t)done));
    json_object_object_add(o, "failed", json_object_new_int64((int64_t)failed));
    for (int f = 0; f < STORE_FIG_COUNT; f++) {
        render__stat_t st = render__stat(values, render__point_values(run, p, f, values));
        json_object_object_add(o, store_fig_desc[f].name,
                               st.n ? render__json_stat(&st, false) : NULL);
    }
    metrics = json_object_new_object();
    if (metrics && render__point_metric_names(run, p, &names, &nnames) == 0) {
        for (size_t m = 0; m < nnames; m++) {
            const char *unit;
            render__stat_t st = render__stat(values, render__point_metric(run, p, names[m],
                                                                          values, &unit));
            struct json_object *mo = render__json_stat(&st, true);
            if (mo)
                json_object_object_add(mo, "unit", render__json_str(unit));
            json_object_object_add(metrics, names[m], mo);
        }
        free(names);
    }
    json_object_object_add(o, "metrics", metrics);
    return o;
}

struct json_object *render__run_json(const store_run_view_t *run)
{
    const store_run_info_t *r = &run->info;
    struct json_object *doc = json_object_new_object();

    if (!doc)
        return NULL;
    json_object_object_add(doc, "run_id", json_object_new_int64(r->run_id));
    json_object_object_add(doc, "token", render__json_str(r->token));
    json_object_object_add(doc, "name", render__json_str(r->name));
    json_object_object_add(doc, "status", render__json_str(r->status));
    json_object_object_add(doc, "host", render__json_str(r->host));
    json_object_object_add(doc, "scenario_path", render__json_str(r->scenario_path));
    json_object_object_add(doc, "command_line", render__json_str(r->command_line));
    json_object_object_add(doc, "settings", render__json_parsed(r->settings_json));
    json_object_object_add(doc, "error", render__json_str(r->error));
    json_object_object_add(doc, "started_unix_ns", render__json_int(r->started_unix_ns));
    json_object_object_add(doc, "ended_unix_ns", render__json_int(r->ended_unix_ns));
    json_object_object_add(doc, "wall_ns",
                           r->started_unix_ns != STORE_NONE && r->ended_unix_ns != STORE_NONE
                               ? json_object_new_int64(r->ended_unix_ns - r->started_unix_ns)
                               : NULL);
    json_object_object_add(doc, "workers", render__json_int(r->workers_joined));
    json_object_object_add(doc, "workers_planned", render__json_int(r->workers_planned));
    json_object_object_add(doc, "tasks_total", render__json_int(r->tasks_total));
    json_object_object_add(doc, "tasks_done", render__json_int(r->tasks_done));
    json_object_object_add(doc, "tasks_failed", render__json_int(r->tasks_failed));
    return doc;
}

struct json_object *render__events_json(const store_run_view_t *run)
{
    struct json_object *arr = json_object_new_array();

    for (size_t i = 0; arr && i < run->nevents; i++) {
        const store_event_view_t *e = &run->events[i];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "unix_ns", render__json_int(e->unix_ns));
        json_object_object_add(o, "kind", render__json_str(e->kind));
        json_object_object_add(o, "task_id", render__json_int(e->task_id));
        json_object_object_add(o, "worker", render__json_str(e->worker));
        json_object_object_add(o, "count", render__json_int(e->count));
        json_object_object_add(o, "detail", render__json_str(e->detail));
        json_object_array_add(arr, o);
    }
    return arr;
}

static int show_json(FILE *out, const store_run_view_t *run, double *values)
{
    struct json_object *doc = render__run_json(run), *tasks, *points;

    if (!doc)
        return RENDER_ENOMEM;
    tasks = json_object_new_array();
    for (size_t i = 0; tasks && i < run->ntasks; i++)
        json_object_array_add(tasks, render__task_json(&run->tasks[i]));
    json_object_object_add(doc, "tasks", tasks);
    points = json_object_new_array();
    for (size_t i = 0; points && i < run->npoints; i++)
        json_object_array_add(points, point_json(run, &run->points[i], values));
    json_object_object_add(doc, "points", points);
    json_object_object_add(doc, "events", render__events_json(run));
    return render__json_print(out, doc);
}

int render_show(FILE *out, const store_run_view_t *run, render_format_t format)
{
    double *values;
    int rc;

    if (!out || !run)
        return RENDER_EUSAGE;
    values = calloc(run->ntasks ? run->ntasks : 1, sizeof *values);
    if (!values)
        return RENDER_ENOMEM;
    rc = format == RENDER_JSON ? show_json(out, run, values) : show_text(out, run, values);
    free(values);
    return rc;
}
