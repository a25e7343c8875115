/*
** render/render_export.c -- `heapsim export`: everything about a run, as
** one JSON document or as CSV sections.
*/
#include "render/render_int.h"

#include <json-c/json.h>
#include <math.h>
#include <string.h>

static struct json_object *series_json(const store_task_series_t *s,
                                       struct json_object **gcs_p)
{
    struct json_object *samples = json_object_new_array();
    struct json_object *gcs = json_object_new_array();

    for (size_t i = 0; samples && i < s->nsamples; i++) {
        const store_sample_row_t *r = &s->samples[i];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "t_ns", render__json_int(r->t_ns));
#define SAMPLE_JSON(name, unit) json_object_object_add(o, #name, render__json_int(r->name));
        STORE_SAMPLE_COLUMNS(SAMPLE_JSON)
#undef SAMPLE_JSON
        json_object_array_add(samples, o);
    }
    for (size_t i = 0; gcs && i < s->ngcs; i++) {
        const store_gc_row_t *r = &s->gcs[i];
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "t_ns", render__json_int(r->t_ns));
        for (int f = 0; f < GC_FIELDS_COUNT; f++) {
            const gc_fields_desc_t *d = &gc_fields_desc[f];
            json_object_object_add(o, d->name,
                                   d->kind == GC_FIELDS_KIND_INT
                                       ? render__json_int(gc_fields_get_int(&r->f, d))
                                       : render__json_double(gc_fields_get_real(&r->f, d)));
        }
        json_object_array_add(gcs, o);
    }
    *gcs_p = gcs;
    return samples;
}

static int export_json(FILE *out, const store_run_view_t *run,
                       const store_task_series_t *series)
{
    struct json_object *doc = render__run_json(run), *tasks = json_object_new_array();

    if (!doc || !tasks) {
        json_object_put(doc);
        json_object_put(tasks);
        return RENDER_ENOMEM;
    }
    for (size_t i = 0; i < run->ntasks; i++) {
        struct json_object *t = render__task_json(&run->tasks[i]);
        if (t && series) {
            struct json_object *gcs;
            json_object_object_add(t, "samples", series_json(&series[i], &gcs));
            json_object_object_add(t, "gc_cycles", gcs);
        }
        json_object_array_add(tasks, t);
    }
    json_object_object_add(doc, "tasks", tasks);
    json_object_object_add(doc, "events", render__events_json(run));
    return render__json_print(out, doc);
}

static void csv_int(FILE *out, int64_t v)
{
    fputc(',', out);
    if (v != STORE_NONE)
        fprintf(out, "%lld", (long long)v);
}

static void csv_double(FILE *out, double v)
{
    fputc(',', out);
    if (isfinite(v))
        fprintf(out, "%.17g", v);
}

static int export_csv(FILE *out, const store_run_view_t *run,
                      const store_task_series_t *series)
{
    const store_run_info_t *r = &run->info;

    fputs("# run\r\nrun_id,token,name,status,host,started_unix_ns,ended_unix_ns,"
          "scenario_path,command_line,settings_json,error\r\n", out);
    fprintf(out, "%lld,", (long long)r->run_id);
    render__csv_field(out, r->token);
    fputc(',', out);
    render__csv_field(out, r->name);
    fputc(',', out);
    render__csv_field(out, r->status);
    fputc(',', out);
    render__csv_field(out, r->host);
    csv_int(out, r->started_unix_ns);
    csv_int(out, r->ended_unix_ns);
    fputc(',', out);
    render__csv_field(out, r->scenario_path);
    fputc(',', out);
    render__csv_field(out, r->command_line);
    fputc(',', out);
    render__csv_field(out, r->settings_json);
    fputc(',', out);
    render__csv_field(out, r->error);
    fputs("\r\n\r\n# tasks\r\ntask_id,seq,kernel,label,sweep_point,repeat_index,status,"
          "worker,params_json,runtime_json,error", out);
    for (int f = 0; f < STORE_FIG_COUNT; f++)
        fprintf(out, ",%s", store_fig_desc[f].name);
    fputs("\r\n", out);
    for (size_t i = 0; i < run->ntasks; i++) {
        const store_task_view_t *t = &run->tasks[i];
        fprintf(out, "%lld", (long long)t->task_id);
        csv_int(out, t->seq);
        fputc(',', out);
        render__csv_field(out, t->kernel);
        fputc(',', out);
        render__csv_field(out, t->label);
        csv_int(out, t->sweep_point);
        csv_int(out, t->repeat_index);
        fputc(',', out);
        render__csv_field(out, t->status);
        fputc(',', out);
        render__csv_field(out, t->worker);
        fputc(',', out);
        render__csv_field(out, t->params_json);
        fputc(',', out);
        render__csv_field(out, t->runtime_json);
        fputc(',', out);
        render__csv_field(out, t->error);
        for (int f = 0; f < STORE_FIG_COUNT; f++)
            csv_double(out, t->fig[f]);
        fputs("\r\n", out);
    }
    fputs("\r\n# metrics\r\ntask_id,name,value,unit\r\n", out);
    for (size_t i = 0; i < run->ntasks; i++) {
        const store_task_view_t *t = &run->tasks[i];
        for (size_t m = 0; m < t->nmetrics; m++) {
            fprintf(out, "%lld,", (long long)t->task_id);
            render__csv_field(out, t->metrics[m].name);
            csv_double(out, t->metrics[m].value);
            fputc(',', out);
            render__csv_field(out, t->metrics[m].unit);
            fputs("\r\n", out);
        }
    }
    fputs("\r\n# events\r\nunix_ns,kind,task_id,worker,count,detail\r\n", out);
    for (size_t i = 0; i < run->nevents; i++) {
        const store_event_view_t *e = &run->events[i];
        fprintf(out, "%lld,", (long long)e->unix_ns);
        render__csv_field(out, e->kind);
        csv_int(out, e->task_id);
        fputc(',', out);
        render__csv_field(out, e->worker);
        csv_int(out, e->count);
        fputc(',', out);
        render__csv_field(out, e->detail);
        fputs("\r\n", out);
    }
    if (series) {
        fputs("\r\n# samples\r\ntask_id,t_ns", out);
#define SAMPLE_TITLE(name, unit) fputs("," #name, out);
        STORE_SAMPLE_COLUMNS(SAMPLE_TITLE)
#undef SAMPLE_TITLE
        fputs("\r\n", out);
        for (size_t i = 0; i < run->ntasks; i++)
            for (size_t k = 0; k < series[i].nsamples; k++) {
                const store_sample_row_t *s = &series[i].samples[k];
                fprintf(out, "%lld", (long long)run->tasks[i].task_id);
                csv_int(out, s->t_ns);
#define SAMPLE_CSV(name, unit) csv_int(out, s->name);
                STORE_SAMPLE_COLUMNS(SAMPLE_CSV)
#undef SAMPLE_CSV
                fputs("\r\n", out);
            }
        fputs("\r\n# gc_cycles\r\ntask_id,t_ns", out);
        for (int f = 0; f < GC_FIELDS_COUNT; f++)
            fprintf(out, ",%s", gc_fields_desc[f].name);
        fputs("\r\n", out);
        for (size_t i = 0; i < run->ntasks; i++)
            for (size_t k = 0; k < series[i].ngcs; k++) {
                const store_gc_row_t *g = &series[i].gcs[k];
                fprintf(out, "%lld", (long long)run->tasks[i].task_id);
                csv_int(out, g->t_ns);
                for (int f = 0; f < GC_FIELDS_COUNT; f++) {
                    const gc_fields_desc_t *d = &gc_fields_desc[f];
                    if (d->kind == GC_FIELDS_KIND_INT)
                        csv_int(out, gc_fields_get_int(&g->f, d));
                    else
                        csv_double(out, gc_fields_get_real(&g->f, d));
                }
                fputs("\r\n", out);
            }
    }
    return render__check_out(out);
}

int render_export(FILE *out, const store_run_view_t *run,
                  const store_task_series_t *series, render_format_t format)
{
    if (!out || !run)
        return RENDER_EUSAGE;
    if (format == RENDER_CSV)
        return export_csv(out, run, series);
    return export_json(out, run, series);
}
