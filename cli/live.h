/*
** cli/live.h -- the commands that watch a run while it runs: `heapsim top`
** (the coordinator's metrics endpoint) and `heapsim leaks --live` (the
** run's heap profile snapshots as they land in its database).
**
** Both print one frame and return when `once` (or stdout is not a
** terminal); otherwise they redraw in place every interval_ms until
** SIGINT/SIGTERM, or until the run is over. Return the exit status: 0,
** 1 (a failure after the start), 2 (a bad address or run: one line on
** stderr saying which).
*/
#ifndef HEAPSIM_CLI_LIVE_H
#define HEAPSIM_CLI_LIVE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct live_opts {
    const char *progname;        /* for messages: "heapsim" */
    bool once;
    bool json;                   /* top: one frame as JSON (implies once) */
    int interval_ms;             /* between frames; 0: 1000 */
} live_opts_t;

/* `heapsim top ADDR`: ADDR is HOST:PORT, or http://HOST:PORT[/metrics]. */
int live_top(const live_opts_t *o, const char *addr);

/* `heapsim leaks --live [RUN] [--task SEQ]`: run_id 0 is the newest run
** still running in db; task_seq < 0: every task of the run that has
** snapshots. */
int live_leaks(const live_opts_t *o, const char *db, int64_t run_id, int64_t task_seq);

#endif
