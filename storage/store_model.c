/*
** storage/store_model.c -- the read model's descriptors and destructors.
*/
#include "storage/store_model.h"

#include <stdlib.h>
#include <string.h>

const store_fig_desc_t store_fig_desc[STORE_FIG_COUNT] = {
#define STORE_FIG_DESC(name, title, unit, doc) {#name, title, unit, doc},
    STORE_FIGURES(STORE_FIG_DESC)
#undef STORE_FIG_DESC
};

const int64_t store_pause_bounds_ns[STORE_PAUSE_BUCKETS] = {
    1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
};

store_unit_t store_unit_of(const char *unit)
{
    if (!unit || !*unit)
        return STORE_UNIT_COUNT;
    if (strcmp(unit, "ns") == 0)
        return STORE_UNIT_NS;
    if (strcmp(unit, "B") == 0 || strcmp(unit, "bytes") == 0)
        return STORE_UNIT_BYTES;
    return STORE_UNIT_OTHER;
}

void store_run_info_clear(store_run_info_t *run)
{
    if (!run)
        return;
    free(run->token);
    free(run->name);
    free(run->status);
    free(run->host);
    free(run->scenario_path);
    free(run->command_line);
    free(run->settings_json);
    free(run->error);
    free(run->owner_host);
    memset(run, 0, sizeof *run);
}

void store_runs_free(store_run_info_t **runs_p, size_t n)
{
    if (!runs_p || !*runs_p)
        return;
    for (size_t i = 0; i < n; i++)
        store_run_info_clear(&(*runs_p)[i]);
    free(*runs_p);
    *runs_p = NULL;
}

static void task_view_clear(store_task_view_t *t)
{
    free(t->kernel);
    free(t->label);
    free(t->status);
    free(t->worker);
    free(t->error);
    free(t->params_json);
    free(t->runtime_json);
    free(t->output);
    for (size_t i = 0; i < t->nmetrics; i++) {
        free(t->metrics[i].name);
        free(t->metrics[i].unit);
    }
    free(t->metrics);
}

static void point_view_clear(store_point_view_t *p)
{
    free(p->kernel);
    free(p->label);
    free(p->params_json);
    free(p->runtime_json);
    free(p->tasks);
}

void store_run_view_free(store_run_view_t **view_p)
{
    store_run_view_t *view;

    if (!view_p || !*view_p)
        return;
    view = *view_p;
    store_run_info_clear(&view->info);
    for (size_t i = 0; i < view->nevents; i++) {
        free(view->events[i].kind);
        free(view->events[i].worker);
        free(view->events[i].detail);
    }
    free(view->events);
    for (size_t i = 0; i < view->ntasks; i++)
        task_view_clear(&view->tasks[i]);
    free(view->tasks);
    for (size_t i = 0; i < view->npoints; i++)
        point_view_clear(&view->points[i]);
    free(view->points);
    free(view);
    *view_p = NULL;
}

void store_task_series_clear(store_task_series_t *series)
{
    if (!series)
        return;
    free(series->samples);
    free(series->gcs);
    memset(series, 0, sizeof *series);
}
