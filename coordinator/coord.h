/*
** coordinator/coord.h -- hands a run's tasks to workers and stores what
** comes back.
**
** The coordinator binds a ZeroMQ ROUTER. Workers say hello (answered with
** welcome), then ask for work with `ready`; the coordinator answers with a
** task, holds the request until one is free, or says `done` when the run
** has finished. Samples, GC cycles and results go to storage as they
** arrive, through a writer thread (storage/store_writer.h) that commits
** them in short transactions: the loop never waits on the disk. The tasks, their ids and heap
** keys come from the run's plan; their states, attempts and the workers'
** liveness are coordinator/lease.h's. docs/protocol.md has the protocol.
**
** A worker is its ROUTER connection identity, never only the name it
** announces: a second worker asking for a name in use gets it with "#2".
** Messages from a connection that has not said hello are refused and
** counted. A worker not heard from for misses_max heartbeats, or whose
** process exits, is lost and its task queued again; a task fails for good
** after attempts_max attempts ended the same way (a kernel's own failure
** at once: it is deterministic).
**
** The coordinator knows nothing of processes or terminals. Whoever starts
** local workers supervises them through the `supervise` hook (a worker
** that dies while holding a task fails that task with the reason), and
** whoever shows progress gets it through the `progress` hook.
*/
#ifndef HEAPSIM_COORDINATOR_COORD_H
#define HEAPSIM_COORDINATOR_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan/plan.h"
#include "storage/store.h"

typedef struct coord coord_t;
struct metrics_server;

/* Where the run stands, for a progress display. */
typedef struct coord_progress {
    int64_t run_id;
    size_t ntasks;
    size_t nfinished;            /* done or failed */
    size_t nrunning;
    size_t nfailed;
    int nworkers;                /* that said hello */
    int64_t heap_inuse_bytes;    /* from the latest sample */
    int64_t gc_cycles;           /* seen so far, all heaps */
    uint64_t elapsed_ns;         /* since coord_run began */
} coord_progress_t;

typedef struct coord_hooks {
    /* Called on every turn of the loop (at least every 50 ms). A supervisor
    ** of worker processes reports each one that has exited with
    ** coord_worker_exited() and returns how many it still has: at 0 the
    ** tasks left fail ("no worker left to run the task"), and at the end
    ** the run waits (a short grace) for them to exit. Returns -1 when it
    ** supervises none. NULL: no supervisor, workers come and go. */
    int (*supervise)(coord_t *c, void *arg);
    /* About every 200 ms, and once more with final set when the loop ends.
    ** NULL: no progress shown. */
    void (*progress)(const coord_progress_t *p, bool final, void *arg);
    void *arg;                   /* passed to both */
} coord_hooks_t;

typedef struct coord_opts {
    const char *bind;            /* e.g. "tcp://0.0.0.0:7878", "ipc:///tmp/x" */
    store_t *store;              /* borrowed, for the file it has open: the
                                 ** coordinator writes through a connection of
                                 ** its own, and not through this one */
    const plan_t *plan;          /* borrowed; every task has its id */
    int64_t run_id;
    coord_hooks_t hooks;
    int heartbeat_ms;            /* 0: 1000 */
    int misses_max;              /* 0: 3 heartbeats missed and a worker is lost */
    int attempts_max;            /* 0: 3 */
    int workers_max;             /* 0: 1024 connected at once */
    const bool *settled;         /* NULL, or per plan task: done in an earlier
                                 ** coordinator of this run (resume), not run */
    const char *const *taken_names;   /* worker names the run has had */
    size_t ntaken;
    int expect_workers;          /* hand out no task before this many workers
                                 ** said hello (0: start at once) */
    const char *keys_dir;        /* NULL: plain TCP; else CURVE with this
                                 ** directory's keys and allow-list (keys.h) */
    size_t store_queue_bytes;    /* 0: 64 MiB. Rows queued to storage and not
                                 ** yet committed past this: the loop stops
                                 ** reading its socket until there is room */
    int drain_stall_ms;          /* 0: 10 s. At the end of the run, telemetry an
                                 ** ended attempt said it sent (tseq_last) and
                                 ** that has not come is waited for while some
                                 ** comes at least this often (listening time),
                                 ** then said missing */
    struct metrics_server *metrics;   /* borrowed; NULL: none. The loop
                                 ** publishes the run's live figures to it
                                 ** (metrics/metrics.h) about every 100 ms,
                                 ** never waiting on it */
} coord_opts_t;

/* What was refused or went missing, for tests and the end-of-run line. */
typedef struct coord_counters {
    uint64_t bad_frames;         /* malformed, truncated, unknown, wrong version */
    uint64_t no_hello;           /* from connections that did not say hello */
    uint64_t refused_full;       /* hellos over workers_max */
    uint64_t duplicates;         /* results for an attempt already ended */
    uint64_t stale;              /* telemetry of an attempt not current */
    uint64_t tseq_gaps;          /* telemetry messages missing (sequence gaps) */
    uint64_t tel_bad;            /* telemetry numbers not in sequence (dropped),
                                 ** and ends with a bad last number (tseq_last) */
    uint64_t tel_missing;        /* telemetry frames the ended attempts said they
                                 ** sent and that never came (at the run's end) */
    uint64_t lost;               /* workers lost */
    uint64_t requeued;           /* attempts that ended and were queued again */
    uint64_t refused_keys;       /* CURVE handshakes refused (key not allowed) */
    uint64_t store_errors;       /* storage failures the writer reported */
    uint64_t store_lost;         /* rows not stored: refused by the database,
                                 ** given up on, or not queued (no memory) */
    uint64_t deaf_ns;            /* time the loop did not read its socket,
                                 ** waiting for the storage writer */
} coord_counters_t;

void coord_counters(const coord_t *c, coord_counters_t *out);

/* Bind and get ready. On failure returns a negative code with a one-line
** reason in err ("cannot bind tcp://...: Address already in use"). */
int coord_new(const coord_opts_t *opts, coord_t **coord_p, char *err, size_t errsize);
void coord_destroy(coord_t **coord_p);

/* Whether `bind` can be bound here (bound and released at once), before
** anything is written: 0, or -1 with the reason in err. */
int coord_check_endpoint(const char *bind, char *err, size_t errsize);

/* The endpoint actually bound (a wildcard port resolved). */
const char *coord_endpoint(const coord_t *c);

/* Serve until every task has a result, or SIGINT/SIGTERM. Marks the run
** finished in storage ("done", "failed" when a task failed,
** "interrupted") and returns once everything it queued to storage is
** committed (or reported not stored). Returns 0 when every task is done,
** 1 when some failed, 130 when interrupted. */
int coord_run(coord_t *c);

/* For the supervise hook: the worker process `pid` (as its hello said) has
** exited, `why` ("killed by signal 9 (Killed)", "exited with status 1").
** It is lost: the attempt it held ends with "the worker <why>" and the
** task is queued again (or fails for good, see above). A pid no worker
** has is ignored. */
void coord_worker_exited(coord_t *c, int64_t pid, const char *why);

#endif
