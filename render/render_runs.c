/*
** render/render_runs.c -- `heapsim runs`: the runs, newest first.
*/
#include "render/render_int.h"
#include "base/table.h"

#include <json-c/json.h>
#include <math.h>
#include <string.h>

static int64_t run_wall(const store_run_info_t *r)
{
    if (r->started_unix_ns == STORE_NONE || r->ended_unix_ns == STORE_NONE)
        return STORE_NONE;
    return r->ended_unix_ns - r->started_unix_ns;
}

static int runs_json(FILE *out, const store_run_info_t *runs, size_t n)
{
    struct json_object *arr = json_object_new_array();

    if (!arr)
        return RENDER_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const store_run_info_t *r = &runs[i];
        struct json_object *o = json_object_new_object();
        if (!o) {
            json_object_put(arr);
            return RENDER_ENOMEM;
        }
        json_object_object_add(o, "run_id", json_object_new_int64(r->run_id));
        json_object_object_add(o, "token", render__json_str(r->token));
        json_object_object_add(o, "name", render__json_str(r->name));
        json_object_object_add(o, "status", render__json_str(r->status));
        json_object_object_add(o, "host", render__json_str(r->host));
        json_object_object_add(o, "started_unix_ns", render__json_int(r->started_unix_ns));
        json_object_object_add(o, "ended_unix_ns", render__json_int(r->ended_unix_ns));
        json_object_object_add(o, "wall_ns", render__json_int(run_wall(r)));
        json_object_object_add(o, "workers", render__json_int(r->workers_joined));
        json_object_object_add(o, "tasks_total", render__json_int(r->tasks_total));
        json_object_object_add(o, "tasks_done", render__json_int(r->tasks_done));
        json_object_object_add(o, "tasks_failed", render__json_int(r->tasks_failed));
        json_object_array_add(arr, o);
    }
    return render__json_print(out, arr);
}

static int runs_csv(FILE *out, const store_run_info_t *runs, size_t n)
{
    fputs("run_id,token,name,status,host,started_unix_ns,ended_unix_ns,wall_ns,"
          "workers,tasks_total,tasks_done,tasks_failed\r\n", out);
    for (size_t i = 0; i < n; i++) {
        const store_run_info_t *r = &runs[i];
        int64_t ints[] = {r->started_unix_ns, r->ended_unix_ns, run_wall(r),
                          r->workers_joined, r->tasks_total, r->tasks_done,
                          r->tasks_failed};

        fprintf(out, "%lld,", (long long)r->run_id);
        render__csv_field(out, r->token);
        fputc(',', out);
        render__csv_field(out, r->name);
        fputc(',', out);
        render__csv_field(out, r->status);
        fputc(',', out);
        render__csv_field(out, r->host);
        for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
            fputc(',', out);
            if (ints[k] != STORE_NONE)
                fprintf(out, "%lld", (long long)ints[k]);
        }
        fputs("\r\n", out);
    }
    return render__check_out(out);
}

int render_runs(FILE *out, const store_run_info_t *runs, size_t n,
                render_format_t format)
{
    static const char *const titles[] = {"RUN", "STARTED", "SCENARIO", "STATUS",
                                         "TASKS", "FAILED", "WALL", "HOST"};
    text_table_t *table;
    int rc = 0;

    if (!out || (n && !runs))
        return RENDER_EUSAGE;
    if (format == RENDER_JSON)
        return runs_json(out, runs, n);
    if (format == RENDER_CSV)
        return runs_csv(out, runs, n);
    if (n == 0) {
        fputs("no runs\n", out);
        return render__check_out(out);
    }
    table = text_table_new(8);
    if (!table)
        return RENDER_ENOMEM;
    for (size_t c = 0; c < 8; c++)
        rc = rc ? rc : text_table_header(table, c, titles[c],
                                            c == 0 || c == 4 || c == 5 || c == 6);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const store_run_info_t *r = &runs[i];
        char buf[64];

        rc = text_table_row(table);
        rc = rc ? rc : text_table_cellf(table, 0, "%lld", (long long)r->run_id);
        rc = rc ? rc : text_table_cellf(table, 1, "%s",
                                           render__time(buf, sizeof buf, r->started_unix_ns));
        rc = rc ? rc : text_table_cellf(table, 2, "%s", render__str(r->name));
        rc = rc ? rc : text_table_cellf(table, 3, "%s", render__str(r->status));
        rc = rc ? rc : text_table_cellf(table, 4, "%lld/%lld", (long long)r->tasks_done,
                                           (long long)r->tasks_total);
        rc = rc ? rc : text_table_cellf(table, 5, "%lld", (long long)r->tasks_failed);
        rc = rc ? rc : text_table_cellf(table, 6, "%s",
                                           render__human(buf, sizeof buf,
                                                         run_wall(r) == STORE_NONE ? NAN
                                                         : (double)run_wall(r),
                                                         STORE_UNIT_NS, NULL));
        rc = rc ? rc : text_table_cellf(table, 7, "%s", render__str(r->host));
    }
    if (rc == 0)
        text_table_print(table, out, 0);
    text_table_destroy(&table);
    return rc ? RENDER_ENOMEM : render__check_out(out);
}
