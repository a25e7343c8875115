/*
** worker/worker.h -- a worker process: asks the coordinator for tasks, runs
** each on its scheduler over the host's shared heap for the run, and sends
** back telemetry and results.
*/
#ifndef HEAPSIM_WORKER_WORKER_H
#define HEAPSIM_WORKER_WORKER_H

#include <stdbool.h>

typedef struct worker_opts {
    const char *endpoint;        /* e.g. "tcp://host:7878" */
    const char *name;            /* NULL: "host:pid" */
    bool exit_with_parent;       /* a local worker of `heapsim run` */
    bool quiet;
} worker_opts_t;

/* Serve until the coordinator says done or a signal stops us. Returns the
** process exit status: 0 done, 1 on a failure to serve (the reason was
** printed on stderr). */
int worker_main(const worker_opts_t *opts);

#endif
