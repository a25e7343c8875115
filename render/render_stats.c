/*
** render/render_stats.c -- the statistics of repeats: mean, min..max,
** sample variance, and Welch's t-test, the test benchstat and hyperfine
** users know: it does not assume the two sides have the same variance.
**
** The p-value of t with df degrees of freedom (two-sided) is the
** regularized incomplete beta I_x(df/2, 1/2) at x = df / (df + t^2),
** evaluated by its continued fraction (modified Lentz), which converges
** fast for the x and parameters a comparison of repeats gives.
*/
#include "render/render_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

render__stat_t render__stat(const double *values, size_t n)
{
    render__stat_t st = {.n = 0, .mean = NAN, .min = NAN, .max = NAN, .var = NAN};
    double sum = 0, sq = 0;

    for (size_t i = 0; i < n; i++) {
        double v = values[i];
        if (!isfinite(v))
            continue;
        if (st.n == 0 || v < st.min)
            st.min = v;
        if (st.n == 0 || v > st.max)
            st.max = v;
        sum += v;
        st.n++;
    }
    if (st.n == 0)
        return st;
    st.mean = sum / (double)st.n;
    if (st.n < 2)
        return st;
    for (size_t i = 0; i < n; i++)
        if (isfinite(values[i]))
            sq += (values[i] - st.mean) * (values[i] - st.mean);
    st.var = sq / (double)(st.n - 1);
    return st;
}

/* The continued fraction of the incomplete beta function at x. */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-14;
    double c = 1, d = 1 - (a + b) * x / (a + 1), h;

    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    h = d;
    for (int m = 1; m <= 300; m++) {
        double m2 = 2.0 * m, aa, del;

        aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        d = 1 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        del = d * c;
        h *= del;
        if (fabs(del - 1) < eps)
            break;
    }
    return h;
}

/* The regularized incomplete beta I_x(a, b), 0 <= x <= 1. */
static double beta_inc(double a, double b, double x)
{
    double front;

    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1) / (a + b + 2))
        return front * beta_cf(a, b, x) / a;
    return 1 - front * beta_cf(b, a, 1 - x) / b;
}

double render__welch_p(const render__stat_t *a, const render__stat_t *b)
{
    double va, vb, se2, t, df;

    if (a->n < 2 || b->n < 2)
        return NAN;
    va = a->var / (double)a->n;
    vb = b->var / (double)b->n;
    se2 = va + vb;
    if (se2 == 0)
        return a->mean == b->mean ? 1 : 0;
    t = (a->mean - b->mean) / sqrt(se2);
    df = se2 * se2 / (va * va / (double)(a->n - 1) + vb * vb / (double)(b->n - 1));
    return beta_inc(df / 2, 0.5, df / (df + t * t));
}

static bool task_done(const store_task_view_t *t)
{
    return t->status && strcmp(t->status, "done") == 0;
}

size_t render__point_values(const store_run_view_t *run, const store_point_view_t *p,
                            store_fig_t f, double *values)
{
    size_t n = 0;

    for (size_t i = 0; i < p->ntasks; i++) {
        const store_task_view_t *t = &run->tasks[p->tasks[i]];
        if (task_done(t) && isfinite(t->fig[f]))
            values[n++] = t->fig[f];
    }
    return n;
}

size_t render__point_metric(const store_run_view_t *run, const store_point_view_t *p,
                            const char *name, double *values, const char **unit)
{
    size_t n = 0;

    if (unit)
        *unit = NULL;
    for (size_t i = 0; i < p->ntasks; i++) {
        const store_task_view_t *t = &run->tasks[p->tasks[i]];
        if (!task_done(t))
            continue;
        for (size_t m = 0; m < t->nmetrics; m++) {
            if (strcmp(t->metrics[m].name, name) != 0 || !isfinite(t->metrics[m].value))
                continue;
            values[n++] = t->metrics[m].value;
            if (unit && !*unit)
                *unit = t->metrics[m].unit;
            break;
        }
    }
    return n;
}

void render__point_counts(const store_run_view_t *run, const store_point_view_t *p,
                          size_t *done, size_t *failed)
{
    *done = *failed = 0;
    for (size_t i = 0; i < p->ntasks; i++) {
        const store_task_view_t *t = &run->tasks[p->tasks[i]];
        if (task_done(t))
            (*done)++;
        else if (t->status && strcmp(t->status, "failed") == 0)
            (*failed)++;
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int render__point_metric_names(const store_run_view_t *run,
                               const store_point_view_t *p,
                               const char ***names_p, size_t *n_p)
{
    size_t cap = 0, n = 0;
    const char **names = NULL;

    for (size_t i = 0; i < p->ntasks; i++) {
        const store_task_view_t *t = &run->tasks[p->tasks[i]];
        for (size_t m = 0; m < t->nmetrics; m++) {
            bool seen = false;
            for (size_t k = 0; k < n && !seen; k++)
                seen = strcmp(names[k], t->metrics[m].name) == 0;
            if (seen)
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                const char **grown = realloc(names, ncap * sizeof *names);
                if (!grown) {
                    free(names);
                    return -1;
                }
                names = grown;
                cap = ncap;
            }
            names[n++] = t->metrics[m].name;
        }
    }
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    *names_p = names;
    *n_p = n;
    return 0;
}

const char *render__point_title(const store_point_view_t *p)
{
    if (p->label && *p->label)
        return p->label;
    return p->kernel ? p->kernel : "-";
}
