/*
** storage/store.h -- run history in SQLite.
**
** One database file (WAL mode) holds every run: its scenario, tasks,
** telemetry samples, GC cycles, per-task metrics and results. The schema is
** versioned with PRAGMA user_version (STORE_SCHEMA_VERSION), documented
** column by column in docs/schema.md; a file of an earlier version is
** migrated when opened. Times are integer nanoseconds: *_unix_ns since the
** epoch, t_ns since the task started.
**
** This module knows nothing of ZeroMQ or the heap.
*/
#ifndef HEAPSIM_STORAGE_STORE_H
#define HEAPSIM_STORAGE_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/gc_fields.h"
#include "base/proc.h"
#include "storage/store_model.h"

#define STORE_SCHEMA_VERSION 7

#define STORE_EDB       (-4001)  /* SQLite said no: store_errmsg() says why */
#define STORE_ENOTFOUND (-4002)  /* no such run */
#define STORE_ESCHEMA   (-4003)  /* not a heapsim database, or a newer schema */
#define STORE_EUSAGE    (-4004)  /* bad query text or arguments */
#define STORE_ENOTABLE  (-4006)  /* the database has no `events` table (schema < 2) */

typedef struct store store_t;

#define STORE_READONLY 0x1       /* open read-only (query commands); never creates */

/* Open (creating when allowed and missing) and check/upgrade the schema.
** On failure *store_p is NULL and err says what is wrong with which file. */
/* A file that is empty (or new) gets the schema unless STORE_READONLY;
** any other file must be a heapsim database of this version or an earlier
** one, else STORE_ESCHEMA and the file is left as it was: not SQLite
** ("file is not a database"), an SQLite file with other tables, a newer
** user_version. An earlier version is migrated forward in one transaction
** (a failure leaves it as it was), even with STORE_READONLY: the file is
** opened read-write for that, then read-only again.
** STORE_READONLY on a missing file: STORE_EDB, "no database at PATH".
** A read-write handle is in WAL mode with foreign keys on, so readers
** (`heapsim sql`) see committed data while a run writes. Statements wait
** up to 5 s for another writer's lock. A store_t is used by one thread at
** a time. err (errsize bytes, may be NULL) is "" on success. */
int store_open(const char *path, int flags, store_t **store_p,
               char *err, size_t errsize);
/* Close and NULL *store_p; accepts NULL. An open transaction is rolled
** back. */
void store_close(store_t **store_p);
/* The path st was opened with (a second connection to the same file, e.g.
** a writer thread's, opens it again); valid until store_close. */
const char *store_path(const store_t *st);
/* store_open sets a busy timeout of 5 s. Instead of it: fn(arg, count)
** is called each time a statement on st finds another connection's lock
** (count: the calls so far for this wait); it returns nonzero to wait and try again, 0 to fail
** ("database is locked"). It may be called on whichever thread uses st.
** STORE_EUSAGE when st or fn is NULL. */
int store_set_busy_handler(store_t *st, int (*fn)(void *arg, int count), void *arg);
/* The message of the last failure on st (naming the file or the failing
** statement), valid until the next call on st. */
const char *store_errmsg(store_t *st);
const char *store_strerror(int rc);

/* Every function below returns 0 or a STORE_E* code with store_errmsg()
** set. A write on a STORE_READONLY store is STORE_EUSAGE; so is a
** constraint the arguments break (an unknown run_id or task_id, a
** duplicate token, seq or worker name), with SQLite's words. A failed write
** changes nothing. Strings are copied; NULL strings are stored as NULL. */

/* Group many inserts in one transaction (telemetry arrives in bursts). */
/* begin takes the write lock now (BEGIN IMMEDIATE); STORE_EUSAGE if a
** transaction is already open. commit: STORE_EUSAGE if none is open; on
** failure the transaction stays open (commit again, or roll back). */
int store_begin(store_t *st);
int store_commit(store_t *st);
/* Undo the open transaction; 0 when there is none. */
int store_rollback(store_t *st);
/* A savepoint in the open transaction, so that a write of several rows (a
** task's result and its metrics, a profile's sites) can be undone alone
** when one of its rows is refused: store_savepoint opens it (STORE_EUSAGE
** when no transaction is open); store_savepoint_end keeps what was written
** since (keep) or undoes it, and closes it. */
int store_savepoint(store_t *st);
int store_savepoint_end(store_t *st, bool keep);

typedef struct store_run {
    const char *token;           /* unique id of the run, names its heaps */
    const char *name;            /* scenario name */
    const char *scenario_path;
    const char *scenario_text;
    const char *settings_json;   /* scenario-level runtime settings, overrides */
    const char *command_line;
    const char *host;            /* coordinator's host name */
    int workers;                 /* planned local workers, 0 if remote only */
    int64_t started_unix_ns;
    const proc_id_t *owner;      /* the process that runs it (proc_self()); NULL: none */
} store_run_t;

/* A new run with status "running"; its id into *run_id (may be NULL).
** token is required; settings_json, when not NULL, must be JSON. The
** owner, when given, is the run's liveness mark with its first heartbeat
** at started_unix_ns. */
int store_run_insert(store_t *st, const store_run_t *run, int64_t *run_id);

/* ---- A run's liveness mark --------------------------------------------
** While a run is 'running', the process that owns it (proc_id_t: host,
** boot, pid, start time) is in its row, and it refreshes heartbeat_unix_ns
** every STORE_BEAT_NS. The readers (store_runs_read, store_run_read,
** store_resume_load) show a 'running' run as 'interrupted', without
** writing, when its owner is gone:
**   - the owner is of this host and boot (proc_here): its pid no longer
**     runs with the same start time (dead, a zombie, or the pid reused);
**   - the owner is of this host but another boot: gone with that boot;
**   - the owner is elsewhere: no heartbeat for STORE_STALE_NS (6 beats; the
**     two hosts' clocks must agree to well within that);
**   - the run has no mark (written before schema version 4).
*/
#define STORE_BEAT_NS  5000000000LL     /* the owner's heartbeat */
#define STORE_STALE_NS 30000000000LL    /* an owner elsewhere is gone after this */

/* Make `owner` the run's owner, its heartbeat now_unix_ns, and the run
** 'running' with no end or error (a resumed run). STORE_ENOTFOUND when there
** is no such run. */
int store_run_claim(store_t *st, int64_t run_id, const proc_id_t *owner,
                    int64_t now_unix_ns);
/* The owner's heartbeat: one small row update, to be batched with the
** other writes of a store_begin/commit. STORE_ENOTFOUND: no such run. */
int store_run_beat(store_t *st, int64_t run_id, int64_t now_unix_ns);
/* status: "running", "done", "failed", "interrupted". */
/* Sets status, ended_unix_ns and error (NULL if none). STORE_ENOTFOUND
** when there is no such run; STORE_EUSAGE for another status. */
int store_run_finish(store_t *st, int64_t run_id, const char *status,
                     int64_t ended_unix_ns, const char *error);

typedef struct store_task {
    int64_t run_id;
    uint32_t seq;
    const char *kernel;
    const char *params_json;
    const char *runtime_json;
    const char *label;
    uint32_t sweep_point;
    uint32_t repeat_index;
    uint64_t seed;
} store_task_t;

/* A task with status "pending"; its id into *task_id (may be NULL).
** kernel is required; params_json, when not NULL, must be a JSON object
** and runtime_json JSON. (run_id, seq) is unique. */
int store_task_insert(store_t *st, const store_task_t *task, int64_t *task_id);
/* Status "running" on worker (workers.name) at host. STORE_ENOTFOUND when
** there is no such task. */
int store_task_start(store_t *st, int64_t task_id, const char *worker,
                     const char *host, int64_t started_unix_ns);

typedef struct store_task_result {
    const char *status;          /* "done", "failed" */
    const char *error;           /* NULL when done */
    const char *output;          /* the kernel's output text, may be NULL */
    int64_t ended_unix_ns;
    int64_t wall_ns;
    int64_t alloc_objects, alloc_bytes;
    int64_t gc_cycles;
    int64_t pause_max_ns, pause_total_ns;
    int64_t peak_heap_bytes;     /* heap in use, highest seen */
    int64_t peak_rss_bytes;
    int64_t stack_hwm_bytes;
    int64_t goroutines_max;
} store_task_result_t;

/* Record the result; r->status must be "done" or "failed". STORE_ENOTFOUND
** when there is no such task. */
int store_task_finish(store_t *st, int64_t task_id, const store_task_result_t *r);

/* A kernel's own figure, e.g. ("ns_per_roundtrip", 41.2, "ns"). */
/* name is unique per task (a second insert replaces the value and unit);
** "output" is reserved (it is the output's key in show's JSON) and value
** must be finite: STORE_EUSAGE otherwise. unit may be NULL. */
int store_metric_insert(store_t *st, int64_t task_id, const char *name,
                        double value, const char *unit);

typedef struct store_sample {
    int64_t run_id, task_id;
    const char *worker;
    int64_t t_ns;                /* since the task started */
    int64_t unix_ns;
    int64_t heap_alloc_bytes, heap_inuse_bytes, heap_sys_bytes;
    int64_t heap_live_bytes, heap_goal_bytes;
    int64_t num_gc, pause_total_ns;
    int64_t alloc_objects, alloc_bytes;   /* this worker, cumulative in the task */
    int64_t goroutines, stack_inuse_bytes;
    int64_t rss_bytes, cpu_user_ns, cpu_sys_ns;
    int64_t minor_faults, major_faults, ctx_switches;
} store_sample_t;

/* Hot path (a cached statement; batch them in store_begin/commit).
** task_id <= 0 is stored as NULL (no task). */
int store_sample_insert(store_t *st, const store_sample_t *s);

/* A row of gc_cycles: where the cycle ran, and its figures (one column
** each, of the same name; base/gc_fields.h lists them). */
typedef struct store_gc {
    int64_t run_id;
    int64_t task_id;             /* task running in the collecting worker, 0 if none */
    const char *host;
    const char *heap;            /* segment name */
    const char *worker;          /* collecting worker */
    gc_fields_t fields;
} store_gc_t;

/* Hot path, as store_sample_insert; task_id <= 0 is stored as NULL, a
** REAL field (gc_cpu_fraction) that is not finite as NULL. */
int store_gc_insert(store_t *st, const store_gc_t *gc);

typedef struct store_worker {
    int64_t run_id;
    const char *name;            /* unique in the run, e.g. "host:pid" */
    const char *host;
    int64_t pid;
    int64_t ncpu;
    int64_t joined_unix_ns;
} store_worker_t;

/* name is required and unique in the run. */
int store_worker_insert(store_t *st, const store_worker_t *w);

/* ---- Heap profiles (heap_profiles) ---------------------------------- */

typedef struct store_profile_site {
    char *site;                  /* allocation site label */
    int64_t alloc_objects, alloc_bytes;   /* sampled, not scaled */
    int64_t inuse_objects, inuse_bytes;
} store_profile_site_t;

/* One snapshot of a task's profile. */
typedef struct store_profile {
    int64_t task_id;
    int64_t seq;                 /* the task's place in its run (load only) */
    int64_t cycle;               /* GC cycles of its heap when taken */
    int64_t final;               /* 1 at the end of the task */
    int64_t rate;                /* bytes per sample; 1 = every allocation */
    store_profile_site_t *sites;
    size_t nsites;
} store_profile_t;

/* Store a snapshot, one row per site, in one transaction of its own unless
** one is open; a snapshot of the same task and cycle is replaced. */
int store_profile_insert(store_t *st, const store_profile_t *p);

/* Load into *out (owned: store_profile_free) the snapshot of the task with
** `seq` in run `run_id` (seq < 0: the run's only task with a profile) at
** cycle at_cycle (the last one taken at or before it; < 0: the last one
** taken). STORE_ENOTFOUND with a message when there is no such run, task
** or snapshot; STORE_EUSAGE when seq < 0 and several tasks have one.
** *out is left zeroed on failure. */
int store_profile_load(store_t *st, int64_t run_id, int64_t seq, int64_t at_cycle,
                       store_profile_t *out);
void store_profile_free(store_profile_t *p);

/* The GC cycles of the snapshots of task `seq` of run `run_id` (seq < 0 as
** store_profile_load), oldest first, into a malloc'd array (*cycles_p,
** *n_p; the caller frees), and the task's seq into *seq_out. Errors as
** store_profile_load's; nothing to free on failure. */
int store_profile_cycles(store_t *st, int64_t run_id, int64_t seq, int64_t **cycles_p,
                         size_t *n_p, int64_t *seq_out);
/* ---- Why objects are alive (retention, retention_sites, goroutine_leaks) -- */

typedef struct store_retention_site {
    char *site, *root_group, *root, *holder, *path;
    int64_t roots, objects, site_objects;
    int64_t retained_bytes, holder_retained_bytes;
} store_retention_site_t;

typedef struct store_goroutine_leak {
    char *label, *reason;
    int64_t count, min_cycles, max_cycles;
} store_goroutine_leak_t;

/* One heap snapshot's analysis (schema.sql, version 4). */
typedef struct store_retention {
    int64_t task_id;
    int64_t cycle, final;
    char *worker;
    int64_t objects, bytes, pause_ns, min_cycles;
    unsigned char *pprof;        /* gzipped pprof */
    size_t pprof_len;
    store_retention_site_t *sites;
    size_t nsites;
    store_goroutine_leak_t *leaks;
    size_t nleaks;
} store_retention_t;

/* Store a snapshot's rows in one transaction of its own unless one is
** open; one of the same task, cycle and final is replaced. */
int store_retention_insert(store_t *st, const store_retention_t *r);
/* Every snapshot of task `seq` (>= 0) of run `run_id`, oldest first (a
** final one after the others of its cycle), into a malloc'd array (*out,
** *n; store_retention_free). None is 0 with *n = 0. STORE_ENOTFOUND when
** there is no such run or task; nothing to free on failure. */
int store_retention_load(store_t *st, int64_t run_id, int64_t seq, store_retention_t **out,
                         size_t *n);
void store_retention_free(store_retention_t *r, size_t n);

/* ---- Events ------------------------------------------------------- */

/* Something that happened to a run besides its results: "worker_lost",
** "task_requeued", "telemetry_dropped", "peer_refused", ... */
typedef struct store_event {
    int64_t run_id;
    int64_t task_id;             /* <= 0: none (NULL) */
    int64_t unix_ns;
    const char *kind;            /* required */
    const char *worker;          /* NULL: none */
    int64_t count;               /* <= 0: one (NULL) */
    const char *detail;          /* in words; NULL: none */
} store_event_t;

/* One row of `events`. STORE_ENOTABLE on a database without the table
** (nothing changed: the caller may go on without events); STORE_EUSAGE for
** no kind or an unknown run or task. */
int store_event_insert(store_t *st, const store_event_t *e);

/* ---- Resuming a run ------------------------------------------------ */

/* What `--resume RUN_ID` rebuilds a run from: its token, scenario text and
** settings (with the --set overrides), its tasks' ids in seq order and
** which are done, and the names its workers had. */
typedef struct store_resume {
    /* status as the readers show it: a 'running' run whose owner is gone
    ** is 'interrupted'; owner says who owns it ("pid P on HOST"), NULL if
    ** no one is known. */
    char *token, *scenario_path, *scenario_text, *settings_json, *status, *owner;
    int64_t *task_ids;
    bool *task_done;
    size_t ntasks;
    char **workers;
    size_t nworkers;
} store_resume_t;

/* Fill *r (owned; store_resume_free releases it). STORE_ENOTFOUND when
** there is no such run; on failure *r holds nothing. */
int store_resume_load(store_t *st, int64_t run_id, store_resume_t *r);
void store_resume_free(store_resume_t *r);

/* ---- Ad-hoc queries (`heapsim sql`) ------------------------------------ */

typedef struct store_query store_query_t;

typedef struct store_query_opts {
    int64_t timeout_ms;          /* stop the statement after this long; 0: never */
    int64_t max_value_bytes;     /* largest string or blob it may make; 0: SQLite's */
} store_query_opts_t;

/* Compile one read-only statement (trailing blanks and comments allowed)
** into *q_p, to be stepped with store_query_step; opts may be NULL (no
** bounds). Refused before it runs, STORE_EUSAGE with store_errmsg():
** bad SQL (SQLite's words), more than one statement, statements that
** write, ATTACH/DETACH, transaction control, PRAGMAs that set -- on a
** read-write store too. Until store_query_close the store is the
** query's: its bounds hold, and nothing else may be done with st. On
** failure *q_p is NULL and the store is as before. */
int store_query_open(store_t *st, const char *sql, const store_query_opts_t *opts,
                     store_query_t **q_p);
/* The statement's columns: how many, and each one's name as SQLite gives
** it (valid until close; "?" when it has none). */
size_t store_query_columns(const store_query_t *q);
const char *store_query_column_name(const store_query_t *q, size_t col);
/* The next row: 1 with *values_p the row's store_query_columns() values
** (store_model.h; borrowed until the next step or close), 0 when there are
** no more, or a STORE_E* code: STORE_EUSAGE for an error of the statement
** at run time, the timeout ("ran longer than N ms") or a value larger
** than max_value_bytes, each with a message saying which. */
int store_query_step(store_query_t *q, const store_value_t **values_p);
/* Finish the query and put the store's bounds back; NULLs *q_p, accepts
** NULL. */
void store_query_close(store_query_t **q_p);

/* ---- The read model (store_model.h) ---------------------------------- */

typedef struct store_runs_filter {
    const char *scenario;        /* runs.name equal to it; NULL: any */
    const char *status;          /* runs.status equal to it; NULL: any */
    int64_t since_unix_ns;       /* started at or after it; STORE_NONE: any */
    int limit;                   /* at most this many, newest first; <= 0: all */
} store_runs_filter_t;

/* The runs that pass the filter (NULL: every run), newest first, into a
** new array *runs_p of *n_p (free with store_runs_free). On failure
** *runs_p is NULL and *n_p 0. */
int store_runs_read(store_t *st, const store_runs_filter_t *filter,
                    store_run_info_t **runs_p, size_t *n_p);
/* One run with its tasks (figures, pause percentiles, GC CPU share,
** metrics), sweep points and events, read in one snapshot, into *view_p (free with
** store_run_view_free). STORE_ENOTFOUND when there is no such run. */
int store_run_read(store_t *st, int64_t run_id, store_run_view_t **view_p);
/* A task's samples and GC cycles for a chart: all of them when there are
** at most max_rows, else max_rows spread evenly over the task's time (one
** index seek each, so the cost does not grow with the task's samples);
** max_rows 0: every row (export). *out is overwritten (clear it with store_task_series_clear).
** STORE_ENOTFOUND when there is no such task. */
int store_task_series_read(store_t *st, int64_t task_id, size_t max_rows,
                           store_task_series_t *out);

#endif
