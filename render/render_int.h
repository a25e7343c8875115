/*
** render/render_int.h -- what the files of the render module share.
**
** The picture: each command's renderer (render_runs.c, render_show.c,
** render_compare.c, render_export.c, render_html.c, render_rows.c for
** `sql`) turns read-model structs into text. They share human units (render_fmt.c: "220 ms",
** "75.5 MiB", "1.23M", "4.1 %"), the statistics of repeats
** (render_stats.c: mean, min..max, Welch's t-test), JSON helpers over
** json-c; tables print with base/table.h.
**
** Invariants: nothing here trusts the model to be complete -- NULL strings
** print as "-" (JSON null), unknown figures (NAN, STORE_NONE) as "-"
** (null) and are left out of every statistic.
*/
#ifndef HEAPSIM_RENDER_RENDER_INT_H
#define HEAPSIM_RENDER_RENDER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "render/render.h"

struct json_object;

/* ---- human units (render_fmt.c) ------------------------------------- */

/* value in unit as people read it, into buf: a duration for ns ("220 ms",
** "1.50 s"), a size for bytes ("75.5 MiB"), a count with k/M/G ("300k"),
** a fraction as a percentage ("4.1 %"), other units after the number
** ("12.5 items/s"). Three significant digits. "-" for NAN. Returns buf. */
const char *render__human(char *buf, size_t size, double value, store_unit_t unit,
                          const char *unit_name);
/* Local time "2024-05-01 14:03:22" of a Unix time in ns; "-" for
** STORE_NONE. Returns buf. */
const char *render__time(char *buf, size_t size, int64_t unix_ns);
/* s, or "-" when NULL. */
const char *render__str(const char *s);
/* Print text from the file on one line, control characters escaped as
** table cells escape them (\n, \t, \xNN): nothing read from a database
** reaches the terminal raw. NULL prints "-". */
void render__print_escaped(FILE *out, const char *text);
/* Print text, each of its lines after the first indented by indent
** spaces, other control characters escaped as \xNN; then a newline. */
void render__print_block(FILE *out, const char *text, int indent);

/* ---- statistics (render_stats.c) ------------------------------------ */

typedef struct render__stat {
    size_t n;                    /* finite values seen */
    double mean, min, max, var;  /* var: sample variance (n - 1); NAN when n < 2 */
} render__stat_t;

/* Of the n values, the finite ones. */
render__stat_t render__stat(const double *values, size_t n);

/* Welch's two-sided t-test of a against b: the p-value, or NAN when a side
** has fewer than 2 values. Equal means with no variance: 1; different
** means with no variance on either side: 0. */
double render__welch_p(const render__stat_t *a, const render__stat_t *b);

/* The figure f of the point's tasks that are done, into values (room for
** p->ntasks); returns how many. */
size_t render__point_values(const store_run_view_t *run, const store_point_view_t *p,
                            store_fig_t f, double *values);
/* The same for a metric by name; *unit (may be NULL) gets its unit. */
size_t render__point_metric(const store_run_view_t *run, const store_point_view_t *p,
                            const char *name, double *values, const char **unit);
/* Tasks of the point done and failed. */
void render__point_counts(const store_run_view_t *run, const store_point_view_t *p,
                          size_t *done, size_t *failed);
/* The metric names of the point's tasks, each once, in name order, into a
** new array *names_p (strings borrowed from the model). -1: no memory. */
int render__point_metric_names(const store_run_view_t *run,
                               const store_point_view_t *p,
                               const char ***names_p, size_t *n_p);
/* The point's title: its label, else its kernel and parameters. */
const char *render__point_title(const store_point_view_t *p);

/* ---- JSON (render_json.c) ------------------------------------------- */

/* A double as JSON, null when not finite. */
struct json_object *render__json_double(double v);
/* An int64 as JSON, null for STORE_NONE. */
struct json_object *render__json_int(int64_t v);
/* len bytes of text as a JSON string, invalid UTF-8 replaced by U+FFFD
** (what is read from a file is not trusted to be UTF-8). NULL when out
** of memory. */
struct json_object *render__json_text(const char *text, size_t len);
/* A string (render__json_text), null for NULL. */
struct json_object *render__json_str(const char *s);
/* Text that should be JSON parsed (strictly, UTF-8 checked, blanks after
** it allowed), or the text itself as a string when it is not. */
struct json_object *render__json_parsed(const char *text);
/* {"mean", "min", "max", "n"} of st (nulls when n is 0); with real, each
** figure a JSON real even when whole ("2000.0": a kernel metric is a REAL
** in the file and stays one), else whole numbers as integers. */
struct json_object *render__json_stat(const render__stat_t *st, bool real);
/* A double as a JSON real, its shortest exact text ("2000.0"); null when
** not finite. */
struct json_object *render__json_real(double v);
/* The run's own fields (not its tasks or points) as a JSON object. */
struct json_object *render__run_json(const store_run_view_t *run);
/* The run's events as a JSON array. */
struct json_object *render__events_json(const store_run_view_t *run);
/* A task with every figure and its metrics. */
struct json_object *render__task_json(const store_task_view_t *t);
/* A task's "result": {"output": its output text or null, METRIC: value,
** ...}, each metric a JSON real (what scripts of `heapsim run --json`
** read, e.g. bench/runtime.sh). NULL when out of memory. */
struct json_object *render__result_json(const store_task_view_t *t);
/* Print value (pretty), a newline, and drop it; RENDER_EIO if out failed. */
int render__json_print(FILE *out, struct json_object *value);

/* A task's figures under Go's runtime/metrics names (render_gonames.c):
** {GO_NAME: value or null, ..., "/gc/pauses:seconds": {"count", "sum",
** "buckets": {"1e-06": n, ..., "+Inf": n}} or null}; NULL out of memory. */
struct json_object *render__go_json(const store_task_go_t *go);

/* Flush out: RENDER_EIO when writing it failed. */
int render__check_out(FILE *out);

/* A CSV field (RFC 4180): quoted when it needs to be. */
void render__csv_field(FILE *out, const char *text);


#endif
