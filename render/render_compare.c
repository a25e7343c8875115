/*
** render/render_compare.c -- `heapsim compare`: two runs, or two points,
** side by side, in the manner of benchstat.
**
** Each figure's mean on either side, its spread (± the standard deviation
** over the repeats, as a share of the mean), the delta from A to B, and
** whether the difference exceeds the noise of the repeats: Welch's
** two-sided t-test at 95 % (p < 0.05). "~" when it does not, or when a
** side has fewer than 2 repeats done (no noise to judge by).
*/
#include "render/render_int.h"
#include "base/table.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ALPHA 0.05

static const char test_statement[] =
    "Welch's t-test, two-sided, at 95 %: a delta is shown as significant when "
    "p < 0.05; \"~\" when it is not, or when a side has fewer than 2 repeats.";

/* The figures compared, in order. */
static const store_fig_t compare_figs[] = {
    STORE_FIG_wall_ns, STORE_FIG_alloc_objects, STORE_FIG_alloc_bytes,
    STORE_FIG_gc_cycles, STORE_FIG_gc_cpu_share, STORE_FIG_pause_p50_ns,
    STORE_FIG_pause_p99_ns, STORE_FIG_pause_max_ns, STORE_FIG_pause_total_ns,
    STORE_FIG_peak_heap_bytes, STORE_FIG_peak_rss_bytes, STORE_FIG_goroutines_max,
    STORE_FIG_stack_hwm_bytes,
};
#define NCOMPARE_FIGS (sizeof compare_figs / sizeof compare_figs[0])

typedef struct pair {
    const store_point_view_t *a, *b;
} pair_t;

/* One row of a comparison. */
typedef struct row {
    const char *name;            /* figure or metric name */
    const char *title;           /* how the text table names it */
    const char *unit_name;       /* a metric's unit, or NULL */
    store_unit_t unit;
    render__stat_t a, b;
    double delta;                /* (b - a) / a, NAN when a is 0 or unknown */
    double p;                    /* NAN: no test */
    bool significant;
} row_t;

/* The point of run named by `which` (its label, or its index as text). */
static const store_point_view_t *find_point(const store_run_view_t *run,
                                            const char *which)
{
    char *end;
    long idx;

    for (size_t i = 0; i < run->npoints; i++)
        if (run->points[i].label && strcmp(run->points[i].label, which) == 0)
            return &run->points[i];
    idx = strtol(which, &end, 10);
    if (*which && !*end && idx >= 0 && (size_t)idx < run->npoints)
        return &run->points[idx];
    return NULL;
}

static bool same(const char *x, const char *y)
{
    return (!x && !y) || (x && y && strcmp(x, y) == 0);
}

/* The side's points: its one point, or all of them. */
static int side_points(const render_side_t *s, const store_point_view_t ***pts_p,
                       size_t *n_p, char *err, size_t errsize)
{
    const store_point_view_t **pts = calloc(s->run->npoints ? s->run->npoints : 1,
                                            sizeof *pts);
    size_t n = 0;

    if (!pts)
        return RENDER_ENOMEM;
    if (s->point) {
        const store_point_view_t *p = find_point(s->run, s->point);
        if (!p) {
            free(pts);
            if (err && errsize)
                snprintf(err, errsize, "run %lld has no point '%s' (points: by label, "
                         "or by number from 0 to %zu)", (long long)s->run->info.run_id,
                         s->point, s->run->npoints ? s->run->npoints - 1 : 0);
            return RENDER_EUSAGE;
        }
        pts[n++] = p;
    } else {
        for (size_t i = 0; i < s->run->npoints; i++)
            pts[n++] = &s->run->points[i];
    }
    *pts_p = pts;
    *n_p = n;
    return 0;
}

/* Pairs: same kernel and label; one point each: those two; else, with as
** many points on each side, in order. */
static size_t match(const store_point_view_t **pa, size_t na,
                    const store_point_view_t **pb, size_t nb, pair_t *pairs)
{
    size_t n = 0;

    if (na == 1 && nb == 1) {
        pairs[0] = (pair_t){pa[0], pb[0]};
        return 1;
    }
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (same(pa[i]->kernel, pb[j]->kernel) && same(pa[i]->label, pb[j]->label)) {
                pairs[n++] = (pair_t){pa[i], pb[j]};
                break;
            }
    if (n == 0 && na == nb)
        for (size_t i = 0; i < na; i++)
            pairs[n++] = (pair_t){pa[i], pb[i]};
    return n;
}

static void judge(row_t *r)
{
    r->delta = isfinite(r->a.mean) && isfinite(r->b.mean) && r->a.mean != 0
                   ? (r->b.mean - r->a.mean) / fabs(r->a.mean) : NAN;
    r->p = render__welch_p(&r->a, &r->b);
    r->significant = isfinite(r->p) && r->p < ALPHA;
}

/* The rows of a pair into a new array *rows_p: every figure, then every
** metric both sides have. */
static int pair_rows(const render_side_t *sa, const render_side_t *sb, const pair_t *pr,
                     double *va, double *vb, row_t **rows_p, size_t *n_p)
{
    const char **names;
    size_t nnames, n = 0;
    row_t *rows;

    if (render__point_metric_names(sa->run, pr->a, &names, &nnames))
        return RENDER_ENOMEM;
    rows = calloc(NCOMPARE_FIGS + nnames, sizeof *rows);
    if (!rows) {
        free(names);
        return RENDER_ENOMEM;
    }
    for (size_t f = 0; f < NCOMPARE_FIGS; f++) {
        row_t *r = &rows[n];
        store_fig_t fig = compare_figs[f];
        r->name = store_fig_desc[fig].name;
        r->title = store_fig_desc[fig].title;
        r->unit = store_fig_desc[fig].unit;
        r->a = render__stat(va, render__point_values(sa->run, pr->a, fig, va));
        r->b = render__stat(vb, render__point_values(sb->run, pr->b, fig, vb));
        if (r->a.n == 0 && r->b.n == 0)
            continue;
        judge(r);
        n++;
    }
    for (size_t m = 0; m < nnames; m++) {
        row_t *r = &rows[n];
        const char *unit_b;
        r->name = r->title = names[m];
        r->a = render__stat(va, render__point_metric(sa->run, pr->a, names[m], va,
                                                     &r->unit_name));
        r->b = render__stat(vb, render__point_metric(sb->run, pr->b, names[m], vb, &unit_b));
        if (r->b.n == 0)
            continue;
        r->unit = store_unit_of(r->unit_name);
        judge(r);
        n++;
    }
    free(names);
    *rows_p = rows;
    *n_p = n;
    return 0;
}

/* "p=0.012 n=3+3", or "n=1+3" when there is no test. */
static void verdict(char *buf, size_t size, const row_t *r)
{
    if (!isfinite(r->p))
        snprintf(buf, size, "n=%zu+%zu", r->a.n, r->b.n);
    else
        snprintf(buf, size, "p=%.3f n=%zu+%zu", r->p, r->a.n, r->b.n);
}

static void mean_cell(char *buf, size_t size, const render__stat_t *st, const row_t *r)
{
    char h[48];

    render__human(h, sizeof h, st->mean, r->unit, r->unit_name);
    if (st->n > 1 && st->mean != 0 && isfinite(st->var))
        snprintf(buf, size, "%s ± %.0f%%", h, 100 * sqrt(st->var) / fabs(st->mean));
    else
        snprintf(buf, size, "%s", h);
}

static void side_title(char *buf, size_t size, const render_side_t *s,
                       const store_point_view_t *p)
{
    snprintf(buf, size, "run %lld %s", (long long)s->run->info.run_id,
             render__point_title(p));
}

static int compare_text(FILE *out, const render_side_t *sa, const render_side_t *sb,
                        const pair_t *pairs, size_t npairs, double *va, double *vb)
{
    int rc = 0;

    fprintf(out, "A: run %lld (%s)%s%s\nB: run %lld (%s)%s%s\n",
            (long long)sa->run->info.run_id, render__str(sa->run->info.name),
            sa->point ? ", point " : "", sa->point ? sa->point : "",
            (long long)sb->run->info.run_id, render__str(sb->run->info.name),
            sb->point ? ", point " : "", sb->point ? sb->point : "");
    fprintf(out, "%s\n± is the standard deviation over the repeats, as a share of "
            "the mean.\n", test_statement);
    for (size_t i = 0; i < npairs && rc == 0; i++) {
        text_table_t *table = text_table_new(5);
        row_t *rows;
        size_t nrows;
        char ta[256], tb[256];

        if (!table || (rc = pair_rows(sa, sb, &pairs[i], va, vb, &rows, &nrows))) {
            text_table_destroy(&table);
            return rc ? rc : RENDER_ENOMEM;
        }
        side_title(ta, sizeof ta, sa, pairs[i].a);
        side_title(tb, sizeof tb, sb, pairs[i].b);
        rc = text_table_header(table, 0, "", false);
        rc = rc ? rc : text_table_header(table, 1, "A", true);
        rc = rc ? rc : text_table_header(table, 2, "B", true);
        rc = rc ? rc : text_table_header(table, 3, "DELTA", true);
        rc = rc ? rc : text_table_header(table, 4, "", false);
        for (size_t k = 0; k < nrows && rc == 0; k++) {
            const row_t *r = &rows[k];
            char a[64], b[64], v[64];
            mean_cell(a, sizeof a, &r->a, r);
            mean_cell(b, sizeof b, &r->b, r);
            verdict(v, sizeof v, r);
            rc = text_table_row(table);
            rc = rc ? rc : text_table_cellf(table, 0, "%s", r->title);
            rc = rc ? rc : text_table_cellf(table, 1, "%s", a);
            rc = rc ? rc : text_table_cellf(table, 2, "%s", b);
            if (!r->significant)
                rc = rc ? rc : text_table_cellf(table, 3, "~");
            else
                rc = rc ? rc : text_table_cellf(table, 3, "%+.1f%%", 100 * r->delta);
            rc = rc ? rc : text_table_cellf(table, 4, "(%s)", v);
        }
        if (rc == 0) {
            fprintf(out, "\n%s (%s)  vs  %s (%s):\n", ta, render__str(pairs[i].a->kernel),
                    tb, render__str(pairs[i].b->kernel));
            text_table_print(table, out, 2);
        }
        free(rows);
        text_table_destroy(&table);
    }
    return rc ? RENDER_ENOMEM : render__check_out(out);
}

static struct json_object *side_json(const render_side_t *s)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "run_id", json_object_new_int64(s->run->info.run_id));
    json_object_object_add(o, "name", render__json_str(s->run->info.name));
    json_object_object_add(o, "point", render__json_str(s->point));
    return o;
}

static int compare_json(FILE *out, const render_side_t *sa, const render_side_t *sb,
                        const pair_t *pairs, size_t npairs, double *va, double *vb)
{
    struct json_object *doc = json_object_new_object(), *arr = json_object_new_array();

    if (!doc || !arr) {
        json_object_put(doc);
        json_object_put(arr);
        return RENDER_ENOMEM;
    }
    json_object_object_add(doc, "a", side_json(sa));
    json_object_object_add(doc, "b", side_json(sb));
    json_object_object_add(doc, "test", json_object_new_string(test_statement));
    json_object_object_add(doc, "alpha", json_object_new_double(ALPHA));
    for (size_t i = 0; i < npairs; i++) {
        struct json_object *po = json_object_new_object(), *figs = json_object_new_array();
        row_t *rows;
        size_t nrows;

        if (pair_rows(sa, sb, &pairs[i], va, vb, &rows, &nrows)) {
            json_object_put(po);
            json_object_put(figs);
            json_object_put(arr);
            json_object_put(doc);
            return RENDER_ENOMEM;
        }
        json_object_object_add(po, "kernel", render__json_str(pairs[i].a->kernel));
        json_object_object_add(po, "a_point", render__json_str(render__point_title(pairs[i].a)));
        json_object_object_add(po, "b_point", render__json_str(render__point_title(pairs[i].b)));
        for (size_t k = 0; k < nrows; k++) {
            const row_t *r = &rows[k];
            struct json_object *fo = json_object_new_object();
            json_object_object_add(fo, "name", json_object_new_string(r->name));
            json_object_object_add(fo, "unit", render__json_str(r->unit_name));
            json_object_object_add(fo, "a", render__json_stat(&r->a, r->unit_name != NULL));
            json_object_object_add(fo, "b", render__json_stat(&r->b, r->unit_name != NULL));
            json_object_object_add(fo, "delta", render__json_double(r->delta));
            json_object_object_add(fo, "p", render__json_double(r->p));
            json_object_object_add(fo, "significant", json_object_new_boolean(r->significant));
            json_object_array_add(figs, fo);
        }
        free(rows);
        json_object_object_add(po, "figures", figs);
        json_object_array_add(arr, po);
    }
    json_object_object_add(doc, "pairs", arr);
    return render__json_print(out, doc);
}

static int compare_csv(FILE *out, const render_side_t *sa, const render_side_t *sb,
                       const pair_t *pairs, size_t npairs, double *va, double *vb)
{
    fputs("a_point,b_point,figure,unit,a_mean,a_n,b_mean,b_n,delta,p,significant\r\n", out);
    for (size_t i = 0; i < npairs; i++) {
        row_t *rows;
        size_t nrows;

        if (pair_rows(sa, sb, &pairs[i], va, vb, &rows, &nrows))
            return RENDER_ENOMEM;
        for (size_t k = 0; k < nrows; k++) {
            const row_t *r = &rows[k];
            render__csv_field(out, render__point_title(pairs[i].a));
            fputc(',', out);
            render__csv_field(out, render__point_title(pairs[i].b));
            fputc(',', out);
            render__csv_field(out, r->name);
            fputc(',', out);
            render__csv_field(out, r->unit_name);
            fprintf(out, ",%.17g,%zu,%.17g,%zu,", r->a.mean, r->a.n, r->b.mean, r->b.n);
            if (isfinite(r->delta))
                fprintf(out, "%.6g", r->delta);
            fputc(',', out);
            if (isfinite(r->p))
                fprintf(out, "%.6g", r->p);
            fprintf(out, ",%d\r\n", r->significant);
        }
        free(rows);
    }
    return render__check_out(out);
}

int render_compare(FILE *out, const render_side_t *a, const render_side_t *b,
                   render_format_t format, char *err, size_t errsize)
{
    const store_point_view_t **pa = NULL, **pb = NULL;
    size_t na, nb, npairs;
    pair_t *pairs = NULL;
    double *va = NULL, *vb = NULL;
    int rc;

    if (err && errsize)
        err[0] = '\0';
    if (!out || !a || !b || !a->run || !b->run)
        return RENDER_EUSAGE;
    if ((rc = side_points(a, &pa, &na, err, errsize)))
        return rc;
    if ((rc = side_points(b, &pb, &nb, err, errsize)))
        goto out_free;
    pairs = calloc(na ? na : 1, sizeof *pairs);
    va = calloc(a->run->ntasks ? a->run->ntasks : 1, sizeof *va);
    vb = calloc(b->run->ntasks ? b->run->ntasks : 1, sizeof *vb);
    if (!pairs || !va || !vb) {
        rc = RENDER_ENOMEM;
        goto out_free;
    }
    npairs = match(pa, na, pb, nb, pairs);
    if (npairs == 0) {
        if (err && errsize)
            snprintf(err, errsize, "no point of run %lld matches a point of run %lld "
                     "(same kernel and label); name one on each side as RUN:POINT",
                     (long long)a->run->info.run_id, (long long)b->run->info.run_id);
        rc = RENDER_EUSAGE;
        goto out_free;
    }
    if (format == RENDER_JSON)
        rc = compare_json(out, a, b, pairs, npairs, va, vb);
    else if (format == RENDER_CSV)
        rc = compare_csv(out, a, b, pairs, npairs, va, vb);
    else
        rc = compare_text(out, a, b, pairs, npairs, va, vb);
out_free:
    free(vb);
    free(va);
    free(pairs);
    free(pb);
    free(pa);
    return rc;
}
