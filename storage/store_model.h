/*
** storage/store_model.h -- the run history's read model: what the query
** functions of store.h return, as plain structs.
**
** The rendering package (render/) takes these and never touches SQLite:
** a test builds them by hand. Everything here is owned by the struct that
** holds it and freed by the matching *_free(). A figure that is not known
** (a task not finished, a NULL in the file) is STORE_NONE for integers and
** NAN for doubles.
**
** This header has no SQLite in it: //storage:model is the structs and
** their destructors only (and base/gc_fields.h for a GC cycle's figures),
** so depending on it does not link the database.
*/
#ifndef HEAPSIM_STORAGE_STORE_MODEL_H
#define HEAPSIM_STORAGE_STORE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/gc_fields.h"

/* An integer that is not known. */
#define STORE_NONE INT64_MIN

/* How a figure is measured, which says how to print it. */
typedef enum store_unit {
    STORE_UNIT_COUNT,            /* a plain number */
    STORE_UNIT_NS,               /* nanoseconds: printed as a duration */
    STORE_UNIT_BYTES,            /* bytes: printed in KiB, MiB, GiB */
    STORE_UNIT_FRACTION,         /* 0..1: printed as a percentage */
    STORE_UNIT_OTHER,            /* a kernel metric's own unit, printed as is */
} store_unit_t;

/* The figures of a task, each a number per task (mean over repeats of a
** point). X(name, title, unit, doc). */
#define STORE_FIGURES(X)                                                                  \
    X(wall_ns,         "wall",        STORE_UNIT_NS,       "wall time of the kernel")          \
    X(alloc_objects,   "allocs",      STORE_UNIT_COUNT,    "objects allocated")                \
    X(alloc_bytes,     "allocated",   STORE_UNIT_BYTES,    "bytes allocated")                  \
    X(gc_cycles,       "GC",          STORE_UNIT_COUNT,    "collections during the task")      \
    X(gc_cpu_share,    "GC CPU",      STORE_UNIT_FRACTION, "mark and sweep CPU over wall time") \
    X(pause_p50_ns,    "p50 pause",   STORE_UNIT_NS,       "median stop-the-world pause")      \
    X(pause_p99_ns,    "p99 pause",   STORE_UNIT_NS,       "99th percentile pause")            \
    X(pause_max_ns,    "max pause",   STORE_UNIT_NS,       "longest pause")                    \
    X(pause_total_ns,  "total pause", STORE_UNIT_NS,       "sum of the pauses")                \
    X(peak_heap_bytes, "peak heap",   STORE_UNIT_BYTES,    "heap in use, highest seen")        \
    X(peak_rss_bytes,  "peak RSS",    STORE_UNIT_BYTES,    "resident set of the worker, highest") \
    X(goroutines_max,  "goroutines",  STORE_UNIT_COUNT,    "most goroutines alive at once")    \
    X(stack_hwm_bytes, "stacks",      STORE_UNIT_BYTES,    "goroutine stacks, high-water mark")

typedef enum store_fig {
#define STORE_FIG_ENUM(name, title, unit, doc) STORE_FIG_##name,
    STORE_FIGURES(STORE_FIG_ENUM)
#undef STORE_FIG_ENUM
    STORE_FIG_COUNT
} store_fig_t;

typedef struct store_fig_desc {
    const char *name;            /* the JSON key and column name */
    const char *title;           /* a table header */
    store_unit_t unit;
    const char *doc;
} store_fig_desc_t;

extern const store_fig_desc_t store_fig_desc[STORE_FIG_COUNT];

/* A metric's unit as a store_unit_t: "ns" a duration, "B" bytes, "%" and
** everything else STORE_UNIT_OTHER; NULL is STORE_UNIT_COUNT. */
store_unit_t store_unit_of(const char *unit);

/* ---- runs ------------------------------------------------------------ */

typedef struct store_run_info {
    int64_t run_id;
    char *token, *name, *status, *host;      /* NULL when the file has NULL */
    char *scenario_path, *command_line, *settings_json, *error;
    int64_t started_unix_ns, ended_unix_ns;  /* STORE_NONE when unknown */
    int64_t workers_planned, workers_joined;
    int64_t tasks_total, tasks_done, tasks_failed;
    /* The liveness mark (store.h): who owns the run, its last heartbeat
    ** (NULL/STORE_NONE when unknown). owner_gone: the file says 'running'
    ** but the owner is gone, so status is "interrupted" and error, if the
    ** file had none, says why; in store_run_read's view, so is the status
    ** of its tasks the file says are 'running'. */
    char *owner_host;
    int64_t owner_pid, heartbeat_unix_ns;
    bool owner_gone;
} store_run_info_t;

/* Free the strings of one run_info (not the struct itself). */
void store_run_info_clear(store_run_info_t *run);
/* Free an array of n run_infos and NULL *runs_p; accepts NULL. */
void store_runs_free(store_run_info_t **runs_p, size_t n);

/* ---- one run, its tasks and sweep points ------------------------------ */

typedef struct store_metric {
    char *name;
    char *unit;                  /* NULL when none */
    double value;
} store_metric_t;

/* ---- a task's figures under Go's names --------------------------------- */

/* Bounds of the pause histogram (ns): 1 µs to 1 s by tens, then +Inf, as
** the metrics endpoint's (metrics/metrics.h) and client_golang's for
** /gc/pauses:seconds. */
#define STORE_PAUSE_BUCKETS 7
extern const int64_t store_pause_bounds_ns[STORE_PAUSE_BUCKETS];

/* What a task's figures under Go's runtime/metrics names are made of
** (docs/metrics.md maps each to its column); STORE_NONE when not known. */
typedef struct store_task_go {
    int64_t alloc_bytes, alloc_objects, gc_cycles;    /* tasks: its result */
    int64_t gc_forced;                  /* gc_cycles rows with forced = 1 */
    int64_t pause_count, pause_total_ns;               /* its gc_cycles rows */
    int64_t pause_le[STORE_PAUSE_BUCKETS];             /* rows with stw_ns <= bound */
    int64_t goal_bytes;                 /* its last cycle's heap_goal_bytes
                                        ** (the goal in force after it), else
                                        ** its last sample's */
    int64_t heap_objects_bytes, goroutines, stack_bytes;   /* its last sample */
} store_task_go_t;

/* The scalar ones: X(go_name, member). /gc/pauses:seconds is the
** histogram of pause_le, pause_count and pause_total_ns;
** /gc/cycles/automatic:gc-cycles is gc_cycles - gc_forced. */
#define STORE_GO_METRICS(X)                                   \
    X("/gc/heap/allocs:bytes", alloc_bytes)                   \
    X("/gc/heap/allocs:objects", alloc_objects)               \
    X("/gc/cycles/total:gc-cycles", gc_cycles)                \
    X("/gc/cycles/forced:gc-cycles", gc_forced)               \
    X("/gc/heap/goal:bytes", goal_bytes)                      \
    X("/memory/classes/heap/objects:bytes", heap_objects_bytes) \
    X("/memory/classes/heap/stacks:bytes", stack_bytes)       \
    X("/sched/goroutines:goroutines", goroutines)

typedef struct store_task_view {
    int64_t task_id, seq, sweep_point, repeat_index;
    char *kernel, *label, *status, *worker, *error;
    char *params_json, *runtime_json;
    char *output;                /* the kernel's output text; NULL: none */
    double fig[STORE_FIG_COUNT]; /* NAN when unknown */
    store_metric_t *metrics;     /* in name order */
    size_t nmetrics;
    store_task_go_t go;          /* under Go's names */
} store_task_view_t;

/* A sweep point: the tasks of one kernel with the same label, parameters
** and runtime settings (its repeats). */
typedef struct store_point_view {
    char *kernel, *label, *params_json, *runtime_json;
    int64_t sweep_point;
    size_t *tasks;               /* indices into store_run_view_t.tasks, by seq */
    size_t ntasks;
} store_point_view_t;

/* A row of events: what happened to the run besides its tasks' results. */
typedef struct store_event_view {
    int64_t unix_ns;
    int64_t task_id;             /* STORE_NONE when none */
    int64_t count;               /* STORE_NONE when one */
    char *kind, *worker, *detail;
} store_event_view_t;

typedef struct store_run_view {
    store_run_info_t info;
    store_event_view_t *events;       /* in time order */
    size_t nevents;
    store_task_view_t *tasks;    /* by seq */
    size_t ntasks;
    store_point_view_t *points;  /* in the order of their first task */
    size_t npoints;
} store_run_view_t;

/* Free everything and NULL *view_p; accepts NULL. */
void store_run_view_free(store_run_view_t **view_p);

/* ---- a row of an ad-hoc query (`heapsim sql`) ------------------------- */

/* A value as SQLite stores it: its storage class and its content. */
typedef enum store_value_type {
    STORE_VALUE_NULL,
    STORE_VALUE_INT,             /* i */
    STORE_VALUE_REAL,            /* r */
    STORE_VALUE_TEXT,            /* len bytes at bytes, as stored (not checked UTF-8) */
    STORE_VALUE_BLOB,            /* len bytes at bytes (NULL when len is 0) */
} store_value_type_t;

typedef struct store_value {
    store_value_type_t type;
    int64_t i;
    double r;
    const unsigned char *bytes;  /* borrowed: see store_query_step */
    size_t len;
} store_value_t;

/* ---- time series of a task (for charts) ------------------------------ */

/* The columns of a sample, after t_ns, in the order of the samples table:
** X(name, unit). */
#define STORE_SAMPLE_COLUMNS(X)                  \
    X(heap_alloc_bytes, STORE_UNIT_BYTES)        \
    X(heap_inuse_bytes, STORE_UNIT_BYTES)        \
    X(heap_sys_bytes, STORE_UNIT_BYTES)          \
    X(heap_live_bytes, STORE_UNIT_BYTES)         \
    X(heap_goal_bytes, STORE_UNIT_BYTES)         \
    X(num_gc, STORE_UNIT_COUNT)                  \
    X(pause_total_ns, STORE_UNIT_NS)             \
    X(alloc_objects, STORE_UNIT_COUNT)           \
    X(alloc_bytes, STORE_UNIT_BYTES)             \
    X(goroutines, STORE_UNIT_COUNT)              \
    X(stack_inuse_bytes, STORE_UNIT_BYTES)       \
    X(rss_bytes, STORE_UNIT_BYTES)               \
    X(cpu_user_ns, STORE_UNIT_NS)                \
    X(cpu_sys_ns, STORE_UNIT_NS)                 \
    X(minor_faults, STORE_UNIT_COUNT)            \
    X(major_faults, STORE_UNIT_COUNT)            \
    X(ctx_switches, STORE_UNIT_COUNT)

typedef struct store_sample_row {
    int64_t t_ns;                /* since the task started */
#define STORE_SAMPLE_MEMBER(name, unit) int64_t name;
    STORE_SAMPLE_COLUMNS(STORE_SAMPLE_MEMBER)
#undef STORE_SAMPLE_MEMBER
} store_sample_row_t;

/* A GC cycle: every figure of base/gc_fields.h (a REAL one is NAN, an
** integer STORE_NONE when the file has NULL). */
typedef struct store_gc_row {
    int64_t t_ns;                /* start, since the task started */
    gc_fields_t f;
} store_gc_row_t;

typedef struct store_task_series {
    int64_t task_id;
    store_sample_row_t *samples; /* by t_ns, at most the number asked for */
    size_t nsamples;
    store_gc_row_t *gcs;         /* by t_ns, at most the number asked for */
    size_t ngcs;
} store_task_series_t;

/* Free the arrays of one series (not the struct) and zero it. */
void store_task_series_clear(store_task_series_t *series);

#endif
