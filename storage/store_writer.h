/*
** storage/store_writer.h -- a run's writes, queued to a thread of their own.
**
** Whoever serves a run (the coordinator's socket loop) must not wait on the
** disk: a slow disk, or another process holding the database's write lock,
** would stop it answering heartbeats. So it hands each write to a writer:
** the store_writer_* calls below copy their arguments into a record, queue
** it and return at once. The writer's thread, with its own SQLite
** connection to the same file, applies the records in the order they were
** queued, in transactions of about commit_every_ns (a task's result, a
** run's end, a drain and a full queue are committed at once).
**
** Ordering: one queue, one thread, transactions committed in order, so the
** database always holds a prefix of what was queued (less what was
** reported as not stored, below): a task marked done has its start and
** the telemetry queued before its result; a run marked finished has every
** record queued before its end. A process killed at any moment leaves
** such a prefix (SQLite's own atomic commit).
**
** Back-pressure: nothing is ever refused for room. store_writer_full()
** says when what is queued and not yet committed passes queue_max_bytes;
** the caller stops taking in new work (the coordinator stops reading its
** socket) until it is no longer full. The bound is soft: records queued
** while full are kept.
**
** Errors never pass silently. A record the database refuses for its own
** sake (a constraint: an unknown task, a duplicate name) is skipped, all
** its rows (a result and its metrics are one record), and reported. Any other failure (the database locked by another process
** beyond the busy timeout, the disk full, an I/O error) rolls the batch
** back; it is reported and retried, from its first record, after a short
** back-off (100 ms doubling to 1 s); after give_up_ns of failures in a row
** everything queued is dropped, and that is reported with how many
** records. Reports are messages the owner takes
** with store_writer_error(); store_writer_stats() counts them all.
**
** Threads: the store_writer_* calls are for one thread (the owner); the
** writer's thread is the only user of its connection.
*/
#ifndef HEAPSIM_STORAGE_STORE_WRITER_H
#define HEAPSIM_STORAGE_STORE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"

typedef struct store_writer store_writer_t;

typedef struct store_writer_opts {
    size_t queue_max_bytes;      /* full past this; 0: 64 MiB */
    uint64_t commit_every_ns;    /* a transaction's length; 0: 200 ms */
    int busy_timeout_ms;         /* wait for another's lock; 0: the store's 5 s */
    uint64_t give_up_ns;         /* failing this long, drop the queue; 0: 60 s */
} store_writer_opts_t;

/* Open `path` (an existing heapsim database, read-write) on a connection of
** the writer's own and start its thread; opts may be NULL (defaults). On
** failure *w_p is NULL, a negative code (STORE_E*, or -errno when no thread
** could start) is returned and err says why. */
int store_writer_new(const char *path, const store_writer_opts_t *opts,
                     store_writer_t **w_p, char *err, size_t errsize);
/* Drain (store_writer_drain), stop the thread, close the connection and
** NULL *w_p; accepts NULL. Messages not taken are lost with it. */
void store_writer_destroy(store_writer_t **w_p);

/* ---- Queueing: each copies what it is given (strings, arrays) and
** returns 0, or -ENOMEM with nothing queued. None waits on the disk. */

int store_writer_sample(store_writer_t *w, const store_sample_t *s);
int store_writer_gc(store_writer_t *w, const store_gc_t *g);
/* An event; on a database without the `events` table it is dropped
** without a report (as store_event_insert's STORE_ENOTABLE allows). */
int store_writer_event(store_writer_t *w, const store_event_t *e);
int store_writer_worker(store_writer_t *w, const store_worker_t *wk);
int store_writer_task_start(store_writer_t *w, int64_t task_id, const char *worker,
                            const char *host, int64_t started_unix_ns);

/* A kernel's figure of a task (store_metric_insert). */
typedef struct store_writer_metric {
    const char *name;
    double value;
    const char *unit;            /* may be NULL */
} store_writer_metric_t;

/* A task's result and its metrics (n may be 0); committed at once. */
int store_writer_task_finish(store_writer_t *w, int64_t task_id,
                             const store_task_result_t *r,
                             const store_writer_metric_t *metrics, size_t n);
int store_writer_run_beat(store_writer_t *w, int64_t run_id, int64_t now_unix_ns);
/* The run's end (store_run_finish); committed at once. */
int store_writer_run_finish(store_writer_t *w, int64_t run_id, const char *status,
                            int64_t ended_unix_ns, const char *error);
int store_writer_profile(store_writer_t *w, const store_profile_t *p);
int store_writer_retention(store_writer_t *w, const store_retention_t *r);

/* ---- The owner's view ------------------------------------------------ */

/* Whether what is queued and not yet committed is past queue_max_bytes. */
bool store_writer_full(const store_writer_t *w);

/* Wait until every record queued before the call is committed, or
** dropped after give_up_ns of failures (reported). Commits what is open
** at once rather than at the end of its commit_every_ns. */
void store_writer_drain(store_writer_t *w);
/* store_writer_drain for at most wait_ns: 0 once every record queued
** before the call is settled, 1 when some still are not (call it again to
** wait on, or give up with store_writer_abandon). */
int store_writer_drain_for(store_writer_t *w, uint64_t wait_ns);
/* Give up on every record queued and not yet committed, now and after:
** none of them is written. A wait for another connection's lock is cut
** short (within 10 ms) and an open transaction rolled back; what was
** committed stays. Returns, once the writer has let them all go, how many
** records were dropped so (counted in stats.dropped, not reported). */
uint64_t store_writer_abandon(store_writer_t *w);

/* The oldest report not yet taken, into msg (one line, "storing a sample:
** PATH: database is locked; retrying, 120 records wait"): 1, or 0 when
** there is none. The writer keeps the 32 oldest untaken; the rest are
** only counted. */
int store_writer_error(store_writer_t *w, char *msg, size_t size);

typedef struct store_writer_stats {
    uint64_t queued;             /* records queued, ever */
    uint64_t stored;             /* records committed */
    uint64_t skipped;            /* refused by the database for their own sake */
    uint64_t dropped;            /* given up on (give_up_ns) */
    uint64_t errors;             /* reports made */
    uint64_t commits;
} store_writer_stats_t;

void store_writer_stats(store_writer_t *w, store_writer_stats_t *out);

#endif
