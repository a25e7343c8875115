/*
** render/render.h -- the run history as people and programs read it:
** aligned text tables, JSON, CSV, and a self-contained HTML report.
**
** Every function takes the read model of storage/store_model.h (structs
** filled by storage's queries, or by a test) and writes to a FILE. This
** module never touches SQLite: each command's output is testable without a
** database. It owns the arithmetic of presenting figures too: means over
** repeats, min..max, and Welch's t-test for `compare`.
**
** Errors: 0, or a negative RENDER_E* code (render_strerror()). Output
** already written when a failure is known stays written.
*/
#ifndef HEAPSIM_RENDER_RENDER_H
#define HEAPSIM_RENDER_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "storage/store_model.h"

#define RENDER_EIO    (-5001)   /* writing the output failed */
#define RENDER_ENOMEM (-5002)   /* out of memory */
#define RENDER_EUSAGE (-5003)   /* bad arguments: no such point, ... */
#define RENDER_ETOOBIG (-5004)  /* a table too large to align (RENDER_TABLE_MAX_BYTES) */

const char *render_strerror(int rc);

typedef enum render_format {
    RENDER_TEXT,                 /* aligned tables, human units */
    RENDER_JSON,                 /* raw figures: ns, bytes, counts */
    RENDER_CSV,                  /* raw figures, RFC 4180 */
} render_format_t;

/* `heapsim runs`: newest first as given. JSON: an array of {"run_id",
** "token", "name", "status", "host", "started_unix_ns", "ended_unix_ns",
** "wall_ns", "workers", "tasks_total", "tasks_done", "tasks_failed"}. */
int render_runs(FILE *out, const store_run_info_t *runs, size_t n,
                render_format_t format);

/* `heapsim show`: the run's settings, then per sweep point (its repeats
** aggregated: mean, min..max over the tasks done) wall, allocations, GC
** cycles, GC CPU share, p50/p99/max pause, peak heap, goroutines, stacks
** and the kernel's metrics, in human units; then the tasks, their errors
** and the run's events. Text read from the file (names, errors, events)
** is printed with its control characters escaped. JSON: the run's fields,
** "settings", "tasks" (every figure, "metrics", "result": {"output",
** METRIC: value, ...}, "runtime_metrics" under Go's names), "events" and
** "points": [{"kernel", "label", "sweep_point", "params", "runtime",
** "repeats", "done", "failed", FIGURE: {"mean", "min", "max", "n"}, ...,
** "metrics": {NAME: {"mean", "min", "max", "n", "unit"}}}].
** It is also `heapsim run`'s summary (launcher/), so that the run's
** JSON and `show --json` of it are one document. */
int render_show(FILE *out, const store_run_view_t *run, render_format_t format);

/* `heapsim sql`: the rows of a query, added one at a time as storage
** hands them out (store_query_step). render_rows_new takes the column
** names (copied) and prints what comes before the rows: CSV its header
** line, JSON "[". Each render_rows_add prints its row at once in CSV
** (RFC 4180, CRLF, NULL empty, blobs in hex) and JSON (an object per row
** on a line of its own, keyed by column name, a repeated name getting
** ":2"; integers, reals, text with invalid UTF-8 replaced by U+FFFD, null,
** blobs as hex strings). A table (headers, NULL as NULL, numbers
** right-aligned, blobs in hex, control characters escaped) is kept whole
** and printed by render_rows_end; past RENDER_TABLE_MAX_BYTES held,
** render_rows_add says RENDER_ETOOBIG (use CSV or JSON, which stream).
** render_rows_end closes the JSON array. Destroyed without
** render_rows_end (the query failed midway), a JSON array is left
** unterminated, which no reader takes for a whole result, and a table is
** not printed. */
#define RENDER_TABLE_MAX_BYTES (64u << 20)

typedef struct render_rows render_rows_t;

int render_rows_new(FILE *out, render_format_t format, const char *const *names,
                    size_t ncols, render_rows_t **rows_p);
/* values: the ncols values of a row (borrowed for the call). */
int render_rows_add(render_rows_t *rows, const store_value_t *values);
int render_rows_end(render_rows_t *rows);
/* Free and NULL *rows_p; accepts NULL. */
void render_rows_destroy(render_rows_t **rows_p);

/* One side of a comparison: a run, and optionally one of its points (by
** label, or by index from 0 as text: "2"). */
typedef struct render_side {
    const store_run_view_t *run;
    const char *point;           /* NULL: every point of the run */
} render_side_t;

/* `heapsim compare`: the points of a matched with those of b (same kernel
** and label; a single point on each side is matched whatever its label),
** each figure side by side with its delta and whether the difference
** exceeds the noise of the repeats: Welch's t-test at 95 % (p < 0.05),
** "~" when not significant or with fewer than 2 repeats on a side.
** RENDER_EUSAGE with err set when a point is not found or nothing
** matches. */
int render_compare(FILE *out, const render_side_t *a, const render_side_t *b,
                   render_format_t format, char *err, size_t errsize);

/* `heapsim export`: everything about a run: the run, its tasks with
** every figure, metrics, events, and (series[i] for tasks[i], NULL: none)
** every sample and GC cycle. JSON: one document; CSV: one table per kind
** of row, each introduced by a line "# run", "# tasks", "# metrics",
** "# events", "# samples", "# gc_cycles". */
int render_export(FILE *out, const store_run_view_t *run,
                  const store_task_series_t *series, render_format_t format);

/* A run for the HTML report, with the time series of one task per point
** (series[i] for points[i]; its task's id in task_id, 0 when none). */
typedef struct render_report_run {
    const store_run_view_t *run;
    const store_task_series_t *series;
} render_report_run_t;

/* `heapsim report`: one self-contained HTML file (inline SVG and CSS, no
** script, nothing fetched): per point, heap in use and goal over time
** with GC cycles marked, pauses, goroutines and stack bytes, the kernel's
** metrics; a sweep's figures over the swept parameter; with two runs,
** both overlaid in each chart. nruns is 1 or 2. */
int render_html(FILE *out, const render_report_run_t *runs, size_t nruns);

#endif
