/*
** coordinator/coord.h -- hands a run's tasks to workers and stores what
** comes back.
**
** The coordinator binds a ZeroMQ ROUTER. Workers say hello, then ask for
** work with `ready`; the coordinator answers with a task, holds the request
** until one is free, or says `done` when the run has finished. Samples, GC
** cycles and results go to storage as they arrive, grouped in short
** transactions. Local workers (heapsim run) are watched as child processes:
** one that dies while holding a task fails that task with the reason.
*/
#ifndef HEAPSIM_COORDINATOR_COORD_H
#define HEAPSIM_COORDINATOR_COORD_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "scenario/scenario.h"
#include "storage/store.h"

typedef struct coord coord_t;

typedef struct coord_opts {
    const char *bind;            /* e.g. "tcp://0.0.0.0:7878", "ipc:///tmp/x" */
    store_t *store;              /* borrowed */
    const scenario_t *scn;       /* borrowed */
    int64_t run_id;
    const char *token;
    const int64_t *task_ids;     /* scn->ntasks ids, in scenario order */
    FILE *progress;              /* live progress line, NULL for none */
    const pid_t *children;       /* local worker processes to watch */
    int nchildren;
} coord_opts_t;

/* Bind and get ready. On failure returns a negative code with a one-line
** reason in err ("cannot bind tcp://...: Address already in use"). */
int coord_new(const coord_opts_t *opts, coord_t **coord_p, char *err, size_t errsize);
void coord_destroy(coord_t **coord_p);

/* The endpoint actually bound (a wildcard port resolved). */
const char *coord_endpoint(const coord_t *c);

/* Serve until every task has a result, or SIGINT/SIGTERM. Marks the run
** finished in storage ("done", "failed" when a task failed,
** "interrupted"). Returns 0 when every task is done, 1 when some failed,
** 130 when interrupted. */
int coord_run(coord_t *c);

#endif
