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
    const char *keys_dir;        /* NULL: plain TCP; else CURVE (keys/keys.h) */
    int procs;                   /* > 1: that many worker processes (named
                                 ** NAME-1.. or host:pid), this one their
                                 ** parent: they exit with it, a SIGTERM to it
                                 ** reaches them */
} worker_opts_t;

#define WORKER_EXIT_USAGE 2      /* the endpoint cannot be used */

/* Serve until the coordinator says done or a signal stops us; a lost
** coordinator is tried again with a backoff (1 s doubling to 32 s).
** Returns the process exit status: 0 done or stopped, 1 on a failure to
** serve, WORKER_EXIT_USAGE for an endpoint ZeroMQ refuses (the reason was
** printed on stderr). A stop (SIGTERM, SIGINT, the parent's death) or a
** lost coordinator while a kernel runs interrupts the task at its next
** safepoint (rt_interrupt): its goroutines are unwound, the heap is left
** as after any task, and the task is handed back to the coordinator
** (`reject` with `interrupted`) when it can still be heard, then the stop
** goes on as when idle (exit 0) or the worker looks for a coordinator
** again. A stopped kernel that reaches no safepoint within 5 s is cut
** short with the process (exit 143, without leaving its heap: the others
** and `heapsim clean` cope). */
int worker_main(const worker_opts_t *opts);

#endif
