/*
** metrics/metrics.h -- a run's live figures in Prometheus's text format
** (exposition format 0.0.4), served over HTTP, and read back.
**
** The coordinator fills a metrics_snapshot_t from its workers' telemetry
** and publishes it to a metrics_server_t, whose own thread answers
** `GET /metrics` from the last snapshot published. Publishing never waits:
** when the server thread is copying the previous snapshot, the call
** returns at once and the caller tries again on its next turn. The loop
** that publishes is never held by a client, however slow.
**
** Metric names follow Go's runtime/metrics where Go has the figure, named
** as the Prometheus Go client names them (client_golang's runtime/metrics
** collector): "/a/b/name:unit" is go_a_b_name_unit, with '-' as '_', a
** unit's '/' as "_per_", and "_total" after a cumulative figure that is
** not a histogram. /gc/heap/goal:bytes is go_gc_heap_goal_bytes,
** /gc/cycles/total:gc-cycles go_gc_cycles_total_gc_cycles_total. The
** figures Go has no name for are heapsim_*. docs/metrics.md lists them.
**
** The server speaks the part of HTTP/1.x a scraper needs: GET or HEAD of
** /metrics (a query string is ignored), one request per connection
** (answered with Connection: close). Other paths are 404, other methods
** 405, a request whose head exceeds METRICS_REQUEST_MAX bytes 431, a
** malformed one 400. It binds loopback unless told otherwise.
**
** The reading side (metrics_scrape(), metrics_parse()) is what `heapsim
** top` uses: a GET over a plain socket and a strict parser of the format.
**
** Errors: 0, or a negative METRICS_E* code; the functions that take an
** err buffer put a one-line reason there.
*/
#ifndef HEAPSIM_METRICS_METRICS_H
#define HEAPSIM_METRICS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define METRICS_EUSAGE  (-7001)   /* a bad address, a refused address */
#define METRICS_ESYS    (-7002)   /* a socket call failed */
#define METRICS_ENOMEM  (-7003)
#define METRICS_EPROTO  (-7004)   /* the peer's answer is not what HTTP or the
                                  ** exposition format allows */

const char *metrics_strerror(int rc);

/* The longest request head the server reads (request line and headers). */
#define METRICS_REQUEST_MAX 8192

/* Pause histogram buckets (upper bounds, seconds): powers of ten from 1 µs
** to 1 s, then +Inf, as client_golang re-buckets /gc/pauses:seconds. */
#define METRICS_PAUSE_BUCKETS 7
extern const double metrics_pause_bounds_s[METRICS_PAUSE_BUCKETS];

/* One worker as of its latest telemetry. The sample figures are the
** worker's last `sample` message (the same row storage keeps in
** `samples`); the GC figures count the `gc` messages of its current task
** (rows of `gc_cycles`). task_seq < 0: no task yet (labels say task=""). */
typedef struct metrics_worker {
    char name[128], host[128];
    int64_t task_seq;
    bool has_sample;
    int64_t t_ns;                       /* the sample's time since the task began */
    int64_t heap_alloc_bytes, heap_inuse_bytes, heap_sys_bytes, heap_live_bytes;
    int64_t heap_goal_bytes, alloc_objects, alloc_bytes, goroutines, stack_inuse_bytes;
    int64_t rss_bytes, cpu_user_ns, cpu_sys_ns;
    int64_t gc_cycles, gc_forced;       /* gc messages of the task */
    uint64_t pause_le[METRICS_PAUSE_BUCKETS];   /* pauses <= bound, cumulative */
    int64_t pause_total_ns, pause_max_ns;
} metrics_worker_t;

/* Task states as the coordinator's lease table has them. */
typedef enum metrics_task_state {
    METRICS_TASK_QUEUED, METRICS_TASK_LEASED, METRICS_TASK_RUNNING,
    METRICS_TASK_DONE, METRICS_TASK_FAILED, METRICS_TASK_STATES
} metrics_task_state_t;

typedef struct metrics_snapshot {
    int64_t run_id;
    int64_t tasks[METRICS_TASK_STATES];
    int64_t workers_live, workers_joined, workers_lost;
    /* Frames dropped, by why: malformed, from a peer without hello,
    ** telemetry of an attempt no longer current, telemetry never received
    ** (sequence gaps). */
    uint64_t dropped_malformed, dropped_no_hello, dropped_stale, dropped_missing;
    double uptime_s;
    const metrics_worker_t *workers;    /* borrowed by publish, owned by a copy */
    size_t nworkers;
} metrics_snapshot_t;

/* The snapshot in the exposition format, to out: # HELP and # TYPE before
** each family, every sample labelled. 0 or METRICS_ENOMEM/ESYS (write). */
int metrics_write(FILE *out, const metrics_snapshot_t *s);

/* ---- The server -------------------------------------------------------- */

typedef struct metrics_server metrics_server_t;

/* Bind addr ("127.0.0.1:9100", "[::1]:9100", "localhost:0": port 0 picks
** one) and start the serving thread. A host that is not loopback is
** refused (METRICS_EUSAGE) unless allow_remote. Until the first publish
** the endpoint serves an empty run (run_id 0, no worker). */
int metrics_server_new(const char *addr, bool allow_remote, metrics_server_t **server_p,
                       char *err, size_t errsize);

/* Stop the thread (a request being answered is cut off), close, free;
** accepts NULL and NULLs *server_p. */
void metrics_server_destroy(metrics_server_t **server_p);

/* "HOST:PORT" actually bound (port resolved). */
const char *metrics_server_address(const metrics_server_t *srv);

/* Copy s for the server to serve. Unless `wait`, never waits: returns
** false (nothing changed) when the serving thread holds the snapshot; with
** `wait`, waits for it to finish copying (for a first snapshot, before a
** loop starts). False on out of memory too; true when published. */
bool metrics_server_publish(metrics_server_t *srv, const metrics_snapshot_t *s, bool wait);

/* Requests answered, by status class, for tests. */
void metrics_server_counts(metrics_server_t *srv, uint64_t *ok, uint64_t *refused);

/* ---- The reading side ---------------------------------------------------- */

/* Whether addr ("HOST:PORT") names a loopback address; false when it does
** not parse. */
bool metrics_addr_is_loopback(const char *addr);

/* GET http://addr/metrics within timeout_ms per step (connect, send,
** receive). The body (NUL-terminated, malloc'd) in *body_p. Answers other
** than 200 and bodies over 64 MiB are METRICS_EPROTO. */
int metrics_scrape(const char *addr, int timeout_ms, char **body_p, size_t *len_p, char *err,
                   size_t errsize);

typedef struct metrics_label {
    char *name, *value;
} metrics_label_t;

typedef struct metrics_sample {
    char *name;                  /* as written: go_gc_pauses_seconds_bucket */
    char *family;                /* the family it belongs to (its # TYPE) */
    metrics_label_t *labels;
    size_t nlabels;
    double value;
} metrics_sample_t;

typedef struct metrics_family {
    char *name, *type, *help;    /* type: counter, gauge, histogram, summary, untyped */
} metrics_family_t;

typedef struct metrics_parsed {
    metrics_family_t *families;
    size_t nfamilies;
    metrics_sample_t *samples;
    size_t nsamples;
} metrics_parsed_t;

/* Parse a body in the text format, strictly: every line a comment, a
** # HELP / # TYPE, or a sample whose name is valid and whose family has
** had its # TYPE (a histogram's _bucket/_sum/_count, a summary's
** _sum/_count, belong to it); no family typed twice; values as the format
** writes them (Go's ParseFloat: NaN, +Inf, -Inf). On failure the line
** number and why in err, *out left empty. */
int metrics_parse(const char *text, size_t len, metrics_parsed_t *out, char *err,
                  size_t errsize);
void metrics_parsed_free(metrics_parsed_t *p);

/* The value of label `name` in s, or NULL. */
const char *metrics_label(const metrics_sample_t *s, const char *name);

#endif
