/*
** launcher/launcher.h -- one run launched from this host: `heapsim run`
** (the coordinator and local worker processes) and `heapsim coordinator`
** (the coordinator alone; workers connect from elsewhere).
**
** launcher_run() does the whole run: loads the scenario, opens the
** database, plans the run under a fresh token, stores the run and its tasks
** in one transaction, binds the coordinator, starts and supervises the
** local workers, serves until the run ends, stops the workers, removes the
** run's heaps on this host and its ipc socket, and prints the summary.
** Messages go to stderr ("heapsim CMD: ..."), the live progress line too
** (when stderr is a terminal), the summary to stdout.
*/
#ifndef HEAPSIM_LAUNCHER_LAUNCHER_H
#define HEAPSIM_LAUNCHER_LAUNCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* launcher_run()'s results, the process's exit status. */
#define LAUNCHER_EXIT_OK 0             /* every task done */
#define LAUNCHER_EXIT_FAILED 1         /* a task failed, or the launcher did */
#define LAUNCHER_EXIT_USAGE 2          /* bad scenario, database file or endpoint */
#define LAUNCHER_EXIT_INTERRUPTED 130  /* SIGINT/SIGTERM; what ran is stored */

typedef struct launcher_opts {
    const char *cmd;             /* names the messages: "run", "coordinator" */
    const char *scenario_path;   /* NULL with resume_run_id */
    int64_t resume_run_id;       /* > 0: finish this stored run's unfinished
                                 ** tasks (its scenario, token and --set
                                 ** overrides are the stored ones) */
    const char *const *sets;     /* nsets "key=value" overrides (--set) */
    size_t nsets;
    const char *db;              /* the database file */
    const char *bind;            /* endpoint to bind; NULL: a private ipc
                                 ** socket, only with `local` */
    bool local;                  /* start and supervise workers on this host */
    int workers;                 /* local workers; 0: one per core */
    const char *worker_exe;      /* the heapsim binary local workers run
                                 ** (`worker --connect EP`); NULL: this one */
    const char *keys_dir;        /* CURVE keys (keys/keys.h); NULL: none */
    int expect_workers;          /* no task before this many workers joined */
    int heartbeat_ms;            /* 0: 1000 */
    int misses;                  /* heartbeats missed before a peer is lost; 0: 3 */
    bool insecure;               /* allow binding beyond loopback without keys,
                                 ** and the metrics endpoint beyond loopback */
    const char *metrics_addr;    /* HOST:PORT of the Prometheus endpoint
                                 ** (metrics/metrics.h); NULL: none. Its
                                 ** address is said on stderr */
    bool json;                   /* the summary as JSON */
    bool quiet;                  /* no progress, no text summary */
    const char *command_line;    /* stored with the run */
} launcher_opts_t;

/* Run as described above. Returns a LAUNCHER_EXIT_* status. A bad scenario
** or database file writes nothing; a failure to bind marks the stored run
** failed. */
int launcher_run(const launcher_opts_t *opts);

#endif
