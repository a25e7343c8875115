/*
** render/render_html.c -- `heapsim report`: one self-contained HTML file.
**
** Why hand-written SVG rather than a charting library: the report must
** open anywhere with no network, so a library would have to be inlined
** into every file (hundreds of KiB of JavaScript, vendored and pinned in
** this tree, with its own updates and licence to follow); the charts are
** plain lines, dots and bars over a time or parameter axis, which take a
** page of C; and SVG elements are DOM nodes a test can count and read
** (each chart and series carries data-* attributes saying what it holds),
** with no script to run before there is anything to check. The file has
** no script at all.
**
** Layout: the run(s) and settings; a summary table per run; when a run
** sweeps a parameter, its figures over that parameter (min..max as error
** bars); then per sweep point (at most MAX_POINT_SECTIONS) heap in use
** and goal over time with GC cycles marked, pauses, goroutines, stack
** bytes, and the kernel's metrics. With two runs, each chart overlays the
** second run's matching point (same label, else the same index) in a
** second colour.
*/
#include "render/render_int.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_POINT_SECTIONS 12
#define CHART_W 640
#define CHART_H 240
#define PAD_L 72
#define PAD_R 16
#define PAD_T 28
#define PAD_B 36

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                     "#ff7f0e", "#8c564b"};

/* Text with <, >, &, " escaped. */
static void esc(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '&': fputs("&amp;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*s, out);
        }
    }
}

/* ---- a chart --------------------------------------------------------- */

typedef enum series_kind { SERIES_LINE, SERIES_DOTS, SERIES_BARS } series_kind_t;

typedef struct series {
    const char *name;
    const double *x, *y;
    const double *ylo, *yhi;     /* error bars, or NULL */
    size_t n;
    int color;
    series_kind_t kind;
    bool dashed;
} series_t;

typedef struct chart {
    const char *id;              /* data-chart */
    const char *title;
    const char *xlabel;
    store_unit_t xunit, yunit;
    const char *yunit_name;
    const char *const *xnames;   /* category names for x = 0, 1, ...; or NULL */
    size_t nxnames;
    const double *marks;         /* x of vertical ticks (GC cycles), or NULL */
    size_t nmarks;
    int marks_color;
} chart_t;

static void extend(double v, double *lo, double *hi)
{
    if (!isfinite(v))
        return;
    if (v < *lo)
        *lo = v;
    if (v > *hi)
        *hi = v;
}

/* A "nice" step for about n ticks over span. */
static double nice_step(double span, int n)
{
    double raw = span / n, mag = pow(10, floor(log10(raw))), f = raw / mag;

    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

static void svg_chart(FILE *out, const chart_t *c, const series_t *s, size_t ns)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = 0, y1 = -INFINITY;
    size_t total = 0;
    char buf[64];

    for (size_t i = 0; i < ns; i++)
        for (size_t k = 0; k < s[i].n; k++) {
            if (!isfinite(s[i].y[k]))
                continue;
            extend(s[i].x[k], &x0, &x1);
            extend(s[i].y[k], &y0, &y1);
            if (s[i].yhi)
                extend(s[i].yhi[k], &y0, &y1);
            total++;
        }
    for (size_t k = 0; k < c->nmarks; k++)
        extend(c->marks[k], &x0, &x1);
    fprintf(out, "<figure><svg class=\"chart\" data-chart=\"%s\" data-points=\"%zu\" "
            "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">\n",
            c->id, total, CHART_W, CHART_H, CHART_W, CHART_H);
    fprintf(out, "<text x=\"%d\" y=\"16\" class=\"title\">", PAD_L);
    esc(out, c->title);
    fputs("</text>\n", out);
    if (total == 0) {
        fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"empty\">no data</text></svg>"
                "</figure>\n", CHART_W / 2 - 30, CHART_H / 2);
        return;
    }
    if (c->xnames) {
        x0 = -0.5;
        x1 = (double)c->nxnames - 0.5;
    }
    if (x1 <= x0)
        x1 = x0 + 1;
    if (y1 <= y0)
        y1 = y0 + 1;
    y1 *= 1.05;
    double pw = CHART_W - PAD_L - PAD_R, ph = CHART_H - PAD_T - PAD_B;
#define PX(v) (PAD_L + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (PAD_T + ph - ((v) - y0) / (y1 - y0) * ph)
    /* Axes, grid and tick labels. */
    fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" class=\"plot\"/>\n",
            PAD_L, PAD_T, pw, ph);
    double step = nice_step(y1 - y0, 4);
    for (double v = ceil(y0 / step) * step; v <= y1 + step * 1e-9; v += step) {
        fprintf(out, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                "<text x=\"%d\" y=\"%.1f\" class=\"ytick\">%s</text>\n",
                PAD_L, PAD_L + pw, PY(v), PY(v), PAD_L - 4, PY(v) + 4,
                render__human(buf, sizeof buf, v, c->yunit, c->yunit_name));
    }
    if (c->xnames) {
        for (size_t k = 0; k < c->nxnames; k++) {
            fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"xtick\">", PX((double)k),
                    CHART_H - PAD_B + 14);
            esc(out, c->xnames[k]);
            fputs("</text>\n", out);
        }
    } else {
        double xs = nice_step(x1 - x0, 5);
        for (double v = ceil(x0 / xs) * xs; v <= x1 + xs * 1e-9; v += xs)
            fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"xtick\">%s</text>\n", PX(v),
                    CHART_H - PAD_B + 14, render__human(buf, sizeof buf, v, c->xunit, NULL));
    }
    fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"xlabel\">", PAD_L + pw / 2, CHART_H - 4);
    esc(out, c->xlabel);
    fputs("</text>\n", out);
    /* GC cycles: ticks along the bottom of the plot. */
    if (c->nmarks) {
        fprintf(out, "<g class=\"marks\" data-series=\"gc cycles\" data-n=\"%zu\" "
                "stroke=\"%s\">", c->nmarks, colors[c->marks_color % 6]);
        for (size_t k = 0; k < c->nmarks; k++)
            if (isfinite(c->marks[k]))
                fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>",
                        PX(c->marks[k]), PX(c->marks[k]), PAD_T + ph, PAD_T + ph - 8);
        fputs("</g>\n", out);
    }
    /* The series. */
    for (size_t i = 0; i < ns; i++) {
        const series_t *sr = &s[i];
        const char *color = colors[sr->color % 6];
        fprintf(out, "<g class=\"series\" data-series=\"");
        esc(out, sr->name);
        fprintf(out, "\" data-n=\"%zu\">", sr->n);
        if (sr->kind == SERIES_LINE) {
            fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s "
                    "points=\"", color, sr->dashed ? " stroke-dasharray=\"5,3\"" : "");
            for (size_t k = 0; k < sr->n; k++)
                if (isfinite(sr->y[k]) && isfinite(sr->x[k]))
                    fprintf(out, "%.1f,%.1f ", PX(sr->x[k]), PY(sr->y[k]));
            fputs("\"/>", out);
        }
        for (size_t k = 0; k < sr->n; k++) {
            double xc = PX(sr->x[k]);
            if (!isfinite(sr->y[k]) || !isfinite(sr->x[k]))
                continue;
            if (sr->kind == SERIES_BARS) {
                /* Side by side when two runs share a category. */
                double w = pw / (double)(c->xnames ? c->nxnames : sr->n) / 3;
                xc += ns > 1 ? (sr->color % 2 ? w / 2 : -w / 2) : 0;
                fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        "fill=\"%s\" fill-opacity=\"0.8\"/>", xc - w / 2, PY(sr->y[k]),
                        ns > 1 ? w : w * 1.5, PY(y0) - PY(sr->y[k]), color);
            } else if (sr->kind == SERIES_DOTS || sr->ylo) {
                fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>",
                        xc, PY(sr->y[k]), color);
            }
            if (sr->ylo && sr->yhi && isfinite(sr->ylo[k]) && isfinite(sr->yhi[k]))
                fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                        "stroke=\"#333\" stroke-width=\"1.5\"/>", xc, xc, PY(sr->ylo[k]),
                        PY(sr->yhi[k]));
        }
        fputs("</g>\n", out);
    }
    /* Legend. */
    for (size_t i = 0; i < ns; i++) {
        double lx = PAD_L + pw - 180;
        double ly = PAD_T + 12 + 14 * (double)i;
        fprintf(out, "<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"3\" fill=\"%s\"/>"
                "<text x=\"%.0f\" y=\"%.0f\" class=\"legend\">", lx, ly - 3,
                colors[s[i].color % 6], lx + 14, ly + 1);
        esc(out, s[i].name);
        fputs("</text>\n", out);
    }
    fputs("</svg></figure>\n", out);
#undef PX
#undef PY
}

/* ---- the page --------------------------------------------------------- */

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}"
    "h1{font-size:20px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
    "h3{font-size:15px}table{border-collapse:collapse;margin:8px 0}"
    "td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:right}"
    "td:first-child,th:first-child{text-align:left}"
    "figure{display:inline-block;margin:6px}"
    ".chart .title{font-weight:bold;font-size:13px}"
    ".chart .plot{fill:#fafafa;stroke:#ccc}.chart .grid{stroke:#e4e4e4}"
    ".chart text{font-size:11px;fill:#444}.chart .ytick{text-anchor:end}"
    ".chart .xtick,.chart .xlabel{text-anchor:middle}"
    ".marks line{stroke-width:1}.run0{color:#1f77b4}.run1{color:#d62728}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}"
    "dt{color:#666}dd{margin:0;font-family:monospace}";

static void run_header(FILE *out, const store_run_view_t *run, size_t which)
{
    const store_run_info_t *r = &run->info;
    char buf[64];

    fprintf(out, "<h2 class=\"run%zu\">Run %lld: ", which, (long long)r->run_id);
    esc(out, render__str(r->name));
    fputs(" (", out);
    esc(out, render__str(r->status));
    fputs(")</h2>\n<dl>", out);
    fputs("<dt>started</dt><dd>", out);
    esc(out, render__time(buf, sizeof buf, r->started_unix_ns));
    fputs("</dd><dt>duration</dt><dd>", out);
    esc(out, r->started_unix_ns != STORE_NONE && r->ended_unix_ns != STORE_NONE
                 ? render__human(buf, sizeof buf,
                                 (double)(r->ended_unix_ns - r->started_unix_ns),
                                 STORE_UNIT_NS, NULL) : "-");
    fputs("</dd><dt>host</dt><dd>", out);
    esc(out, render__str(r->host));
    fputs("</dd><dt>command</dt><dd>", out);
    esc(out, render__str(r->command_line));
    fputs("</dd><dt>settings</dt><dd>", out);
    esc(out, render__str(r->settings_json));
    fprintf(out, "</dd><dt>tasks</dt><dd>%lld done, %lld failed, of %lld</dd></dl>\n",
            (long long)r->tasks_done, (long long)r->tasks_failed, (long long)r->tasks_total);
}

static const store_fig_t table_figs[] = {
    STORE_FIG_wall_ns, STORE_FIG_alloc_objects, STORE_FIG_gc_cycles,
    STORE_FIG_gc_cpu_share, STORE_FIG_pause_p50_ns, STORE_FIG_pause_p99_ns,
    STORE_FIG_pause_max_ns, STORE_FIG_peak_heap_bytes, STORE_FIG_goroutines_max,
};
#define NTABLE_FIGS (sizeof table_figs / sizeof table_figs[0])

static void summary_table(FILE *out, const store_run_view_t *run, double *values)
{
    char a[48], b[48], c[48];

    fputs("<table class=\"summary\"><tr><th>point</th><th>kernel</th><th>done</th>", out);
    for (size_t f = 0; f < NTABLE_FIGS; f++) {
        fputs("<th>", out);
        esc(out, store_fig_desc[table_figs[f]].title);
        fputs("</th>", out);
    }
    fputs("</tr>\n", out);
    for (size_t i = 0; i < run->npoints; i++) {
        const store_point_view_t *p = &run->points[i];
        size_t done, failed;
        render__point_counts(run, p, &done, &failed);
        fputs("<tr><td>", out);
        esc(out, render__point_title(p));
        fputs("</td><td>", out);
        esc(out, render__str(p->kernel));
        fprintf(out, "</td><td>%zu/%zu</td>", done, p->ntasks);
        for (size_t f = 0; f < NTABLE_FIGS; f++) {
            store_unit_t u = store_fig_desc[table_figs[f]].unit;
            render__stat_t st = render__stat(values,
                                             render__point_values(run, p, table_figs[f], values));
            fputs("<td>", out);
            esc(out, render__human(a, sizeof a, st.mean, u, NULL));
            if (st.n > 1) {
                fputs("<br><small>", out);
                esc(out, render__human(b, sizeof b, st.min, u, NULL));
                fputs("..", out);
                esc(out, render__human(c, sizeof c, st.max, u, NULL));
                fputs("</small>", out);
            }
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</table>\n", out);
}

/* The parameter a run sweeps: the first key (of params, then runtime)
** whose value differs between its points, into name (empty when none);
** x[i] its value at point i when every value is a number (else NAN). */
static void swept_param(const store_run_view_t *run, char *name, size_t size, double *x)
{
    static const char *const which[] = {"params", "runtime"};

    name[0] = '\0';
    for (size_t i = 0; i < run->npoints; i++)
        x[i] = NAN;
    if (run->npoints < 2)
        return;
    for (int w = 0; w < 2 && !name[0]; w++) {
        const char *first_text = w ? run->points[0].runtime_json : run->points[0].params_json;
        struct json_object *first = first_text ? json_tokener_parse(first_text) : NULL;
        if (!first || !json_object_is_type(first, json_type_object)) {
            json_object_put(first);
            continue;
        }
        json_object_object_foreach(first, key, v0) {
            bool differs = false, numeric = true;
            for (size_t i = 0; i < run->npoints; i++) {
                const char *t = w ? run->points[i].runtime_json : run->points[i].params_json;
                struct json_object *o = t ? json_tokener_parse(t) : NULL, *v = NULL;
                if (o)
                    json_object_object_get_ex(o, key, &v);
                if (!v || !json_object_equal(v, v0))
                    differs = true;
                if (v && (json_object_is_type(v, json_type_int) ||
                          json_object_is_type(v, json_type_double)))
                    x[i] = json_object_get_double(v);
                else
                    numeric = false;
                json_object_put(o);
            }
            if (differs) {
                snprintf(name, size, "%s", key);
                if (!numeric)
                    for (size_t i = 0; i < run->npoints; i++)
                        x[i] = NAN;
                break;
            }
        }
        (void)which;
        json_object_put(first);
    }
}

static const store_fig_t sweep_figs[] = {
    STORE_FIG_wall_ns, STORE_FIG_gc_cycles, STORE_FIG_gc_cpu_share,
    STORE_FIG_pause_p99_ns, STORE_FIG_peak_heap_bytes, STORE_FIG_alloc_bytes,
};
#define NSWEEP_FIGS (sizeof sweep_figs / sizeof sweep_figs[0])

/* Figures over the swept parameter, every run overlaid. */
static int sweep_section(FILE *out, const render_report_run_t *runs, size_t nruns)
{
    char param[128];
    size_t maxp = 0;
    int rc = 0;

    for (size_t r = 0; r < nruns; r++)
        if (runs[r].run->npoints > maxp)
            maxp = runs[r].run->npoints;
    if (maxp < 2)
        return 0;
    double *x = calloc(maxp, sizeof *x), *vals = NULL;
    double *ys = calloc(maxp * 3 * nruns, sizeof *ys);
    size_t maxt = 1;
    for (size_t r = 0; r < nruns; r++)
        if (runs[r].run->ntasks > maxt)
            maxt = runs[r].run->ntasks;
    vals = calloc(maxt, sizeof *vals);
    double *xs = calloc(maxp * nruns, sizeof *xs);
    const char **names = calloc(maxp, sizeof *names);
    if (!x || !ys || !vals || !xs || !names) {
        rc = RENDER_ENOMEM;
        goto out_free;
    }
    swept_param(runs[0].run, param, sizeof param, x);
    bool numeric = param[0] != '\0';
    for (size_t i = 0; i < runs[0].run->npoints; i++)
        numeric = numeric && isfinite(x[i]);
    fputs("<h2>Sweep</h2>\n<p>Each figure at each sweep point: the mean over its "
          "repeats, min..max as a bar.</p>\n", out);
    for (size_t f = 0; f < NSWEEP_FIGS; f++) {
        series_t s[2];
        char title[160];
        memset(s, 0, sizeof s);
        for (size_t r = 0; r < nruns; r++) {
            const store_run_view_t *run = runs[r].run;
            double *y = ys + (r * 3) * maxp, *lo = y + maxp, *hi = lo + maxp;
            double *xr = xs + r * maxp;
            double xr_param[64];
            if (r > 0 && numeric) {
                char p2[128];
                double *x2 = run->npoints <= 64 ? xr_param : NULL;
                if (x2)
                    swept_param(run, p2, sizeof p2, x2);
                for (size_t i = 0; i < run->npoints; i++)
                    xr[i] = x2 && !strcmp(p2, param) ? x2[i] : (double)i;
            } else {
                for (size_t i = 0; i < run->npoints; i++)
                    xr[i] = numeric ? x[i] : (double)i;
            }
            for (size_t i = 0; i < run->npoints; i++) {
                render__stat_t st = render__stat(
                    vals, render__point_values(run, &run->points[i], sweep_figs[f], vals));
                y[i] = st.mean;
                lo[i] = st.min;
                hi[i] = st.max;
                if (r == 0)
                    names[i] = render__point_title(&run->points[i]);
            }
            s[r] = (series_t){.name = nruns > 1 ? (r ? "run B" : "run A")
                                                : store_fig_desc[sweep_figs[f]].title,
                              .x = xr, .y = y, .ylo = lo, .yhi = hi, .n = run->npoints,
                              .color = (int)r, .kind = SERIES_LINE};
        }
        snprintf(title, sizeof title, "%s over %s", store_fig_desc[sweep_figs[f]].title,
                 numeric ? param : "the sweep points");
        chart_t c = {.id = "sweep", .title = title, .xlabel = numeric ? param : "point",
                     .xunit = STORE_UNIT_COUNT, .yunit = store_fig_desc[sweep_figs[f]].unit,
                     .xnames = numeric ? NULL : names,
                     .nxnames = numeric ? 0 : runs[0].run->npoints};
        svg_chart(out, &c, s, nruns);
    }
out_free:
    free(names);
    free(xs);
    free(vals);
    free(ys);
    free(x);
    return rc;
}

/* The point of run b that matches point i of run a. */
static const store_point_view_t *match_point(const store_run_view_t *a, size_t i,
                                             const store_run_view_t *b, size_t *j_p)
{
    const store_point_view_t *p = &a->points[i];

    for (size_t j = 0; j < b->npoints; j++)
        if (p->label && b->points[j].label && !strcmp(p->label, b->points[j].label) &&
            p->kernel && b->points[j].kernel && !strcmp(p->kernel, b->points[j].kernel)) {
            *j_p = j;
            return &b->points[j];
        }
    if (i < b->npoints) {
        *j_p = i;
        return &b->points[i];
    }
    return NULL;
}

/* The arrays of one run's series for the charts of a point. */
typedef struct point_data {
    double *t, *inuse, *goal, *gor, *stack, *gct, *stw;
    size_t ns, ng;
} point_data_t;

static int point_data(const store_task_series_t *s, point_data_t *d)
{
    memset(d, 0, sizeof *d);
    d->ns = s->nsamples;
    d->ng = s->ngcs;
    d->t = calloc(d->ns + 1, sizeof *d->t);
    d->inuse = calloc(d->ns + 1, sizeof *d->inuse);
    d->goal = calloc(d->ns + 1, sizeof *d->goal);
    d->gor = calloc(d->ns + 1, sizeof *d->gor);
    d->stack = calloc(d->ns + 1, sizeof *d->stack);
    d->gct = calloc(d->ng + 1, sizeof *d->gct);
    d->stw = calloc(d->ng + 1, sizeof *d->stw);
    if (!d->t || !d->inuse || !d->goal || !d->gor || !d->stack || !d->gct || !d->stw)
        return RENDER_ENOMEM;
#define V(x) ((x) == STORE_NONE ? NAN : (double)(x))
    for (size_t k = 0; k < d->ns; k++) {
        const store_sample_row_t *r = &s->samples[k];
        d->t[k] = V(r->t_ns);
        d->inuse[k] = V(r->heap_inuse_bytes);
        d->goal[k] = V(r->heap_goal_bytes);
        d->gor[k] = V(r->goroutines);
        d->stack[k] = V(r->stack_inuse_bytes);
    }
    for (size_t k = 0; k < d->ng; k++) {
        d->gct[k] = V(s->gcs[k].t_ns);
        d->stw[k] = V(s->gcs[k].f.stw_ns);
    }
#undef V
    return 0;
}

static void point_data_free(point_data_t *d)
{
    free(d->t);
    free(d->inuse);
    free(d->goal);
    free(d->gor);
    free(d->stack);
    free(d->gct);
    free(d->stw);
}

static int point_section(FILE *out, const render_report_run_t *runs, size_t nruns,
                         size_t i, double *vals)
{
    const store_point_view_t *pts[2] = {&runs[0].run->points[i], NULL};
    const store_task_series_t *ser[2] = {&runs[0].series[i], NULL};
    point_data_t d[2];
    size_t nr = 1;
    int rc = 0;

    if (nruns > 1) {
        size_t j;
        if ((pts[1] = match_point(runs[0].run, i, runs[1].run, &j))) {
            ser[1] = &runs[1].series[j];
            nr = 2;
        }
    }
    memset(d, 0, sizeof d);
    for (size_t r = 0; r < nr && rc == 0; r++)
        rc = point_data(ser[r], &d[r]);
    if (rc)
        goto out_free;
    fputs("<h2>", out);
    esc(out, render__point_title(pts[0]));
    fputs(" <small>(", out);
    esc(out, render__str(pts[0]->kernel));
    fputs(")</small></h2>\n", out);
    fprintf(out, "<p>Time series of one task of the point (its first repeat done)%s.</p>\n",
            nr > 1 ? "; run A solid, run B dashed, in its own colour" : "");
    {
        series_t s[4];
        size_t n = 0;
        for (size_t r = 0; r < nr; r++) {
            s[n++] = (series_t){.name = r ? "B heap in use" : "heap in use", .x = d[r].t,
                                .y = d[r].inuse, .n = d[r].ns, .color = (int)r * 1,
                                .kind = SERIES_LINE, .dashed = r > 0};
            s[n++] = (series_t){.name = r ? "B heap goal" : "heap goal", .x = d[r].t,
                                .y = d[r].goal, .n = d[r].ns, .color = 2 + (int)r * 2,
                                .kind = SERIES_LINE, .dashed = true};
        }
        chart_t c = {.id = "heap", .title = "Heap in use and goal (ticks: GC cycles)",
                     .xlabel = "time since the task started", .xunit = STORE_UNIT_NS,
                     .yunit = STORE_UNIT_BYTES, .marks = d[0].gct, .nmarks = d[0].ng,
                     .marks_color = 3};
        svg_chart(out, &c, s, n);
    }
    {
        series_t s[2];
        for (size_t r = 0; r < nr; r++)
            s[r] = (series_t){.name = r ? "B pause" : "pause per GC cycle", .x = d[r].gct,
                              .y = d[r].stw, .n = d[r].ng, .color = (int)r,
                              .kind = SERIES_DOTS};
        chart_t c = {.id = "pauses", .title = "Stop-the-world pauses",
                     .xlabel = "time since the task started", .xunit = STORE_UNIT_NS,
                     .yunit = STORE_UNIT_NS};
        svg_chart(out, &c, s, nr);
    }
    {
        series_t s[2];
        for (size_t r = 0; r < nr; r++)
            s[r] = (series_t){.name = r ? "B goroutines" : "goroutines", .x = d[r].t,
                              .y = d[r].gor, .n = d[r].ns, .color = (int)r,
                              .kind = SERIES_LINE, .dashed = r > 0};
        chart_t c = {.id = "goroutines", .title = "Goroutines alive",
                     .xlabel = "time since the task started", .xunit = STORE_UNIT_NS,
                     .yunit = STORE_UNIT_COUNT};
        svg_chart(out, &c, s, nr);
    }
    {
        series_t s[2];
        for (size_t r = 0; r < nr; r++)
            s[r] = (series_t){.name = r ? "B stacks" : "stack bytes in use", .x = d[r].t,
                              .y = d[r].stack, .n = d[r].ns, .color = (int)r,
                              .kind = SERIES_LINE, .dashed = r > 0};
        chart_t c = {.id = "stacks", .title = "Goroutine stacks",
                     .xlabel = "time since the task started", .xunit = STORE_UNIT_NS,
                     .yunit = STORE_UNIT_BYTES};
        svg_chart(out, &c, s, nr);
    }
    /* The kernel's metrics: one chart per metric (its own unit), a bar per
    ** run (mean) with min..max. */
    {
        const char **names;
        size_t nnames;
        if (render__point_metric_names(runs[0].run, pts[0], &names, &nnames)) {
            rc = RENDER_ENOMEM;
            goto out_free;
        }
        for (size_t m = 0; m < nnames && m < 8; m++) {
            double xv[2], yv[2], lo[2], hi[2];
            series_t s[2];
            const char *unit = NULL;
            const char *cats[1] = {names[m]};
            for (size_t r = 0; r < nr; r++) {
                const char *u;
                render__stat_t st = render__stat(
                    vals, render__point_metric(runs[r].run, pts[r], names[m], vals, &u));
                if (!unit)
                    unit = u;
                xv[r] = 0;
                yv[r] = st.mean;
                lo[r] = st.min;
                hi[r] = st.max;
                s[r] = (series_t){.name = nr > 1 ? (r ? "run B" : "run A") : "mean",
                                  .x = &xv[r], .y = &yv[r], .ylo = &lo[r], .yhi = &hi[r],
                                  .n = 1, .color = (int)r, .kind = SERIES_BARS};
            }
            char title[160];
            snprintf(title, sizeof title, "Kernel metric: %s", names[m]);
            chart_t c = {.id = "metric", .title = title, .xlabel = "min..max over the repeats",
                         .xunit = STORE_UNIT_COUNT, .yunit = store_unit_of(unit),
                         .yunit_name = unit, .xnames = cats, .nxnames = 1};
            svg_chart(out, &c, s, nr);
        }
        free(names);
    }
out_free:
    for (size_t r = 0; r < 2; r++)
        point_data_free(&d[r]);
    return rc;
}

int render_html(FILE *out, const render_report_run_t *runs, size_t nruns)
{
    size_t maxt = 1;
    double *vals;
    int rc = 0;

    if (!out || !runs || nruns < 1 || nruns > 2)
        return RENDER_EUSAGE;
    for (size_t r = 0; r < nruns; r++) {
        if (!runs[r].run || !runs[r].series)
            return RENDER_EUSAGE;
        if (runs[r].run->ntasks > maxt)
            maxt = runs[r].run->ntasks;
    }
    vals = calloc(maxt, sizeof *vals);
    if (!vals)
        return RENDER_ENOMEM;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<!-- heapsim report: self-contained (inline SVG and CSS, no script, "
          "nothing fetched) -->\n<title>heapsim report: ", out);
    for (size_t r = 0; r < nruns; r++) {
        fprintf(out, "%srun %lld ", r ? "vs " : "", (long long)runs[r].run->info.run_id);
        esc(out, render__str(runs[r].run->info.name));
    }
    fprintf(out, "</title>\n<style>%s</style></head><body>\n<h1>heapsim report</h1>\n",
            style);
    for (size_t r = 0; r < nruns; r++) {
        run_header(out, runs[r].run, r);
        summary_table(out, runs[r].run, vals);
    }
    if ((rc = sweep_section(out, runs, nruns)))
        goto out_free;
    for (size_t i = 0; i < runs[0].run->npoints && i < MAX_POINT_SECTIONS; i++)
        if ((rc = point_section(out, runs, nruns, i, vals)))
            goto out_free;
    if (runs[0].run->npoints > MAX_POINT_SECTIONS)
        fprintf(out, "<p>%zu more points: see <code>heapsim show %lld</code>.</p>\n",
                runs[0].run->npoints - MAX_POINT_SECTIONS,
                (long long)runs[0].run->info.run_id);
    fputs("</body></html>\n", out);
    rc = render__check_out(out);
out_free:
    free(vals);
    return rc;
}
