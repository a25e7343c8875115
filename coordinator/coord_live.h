/*
** coordinator/coord_live.h -- (private) a worker's live figures for the
** metrics endpoint, kept from the telemetry as it arrives.
**
** One metrics_worker_t per worker slot. Its sample figures are those of
** the worker's last `sample` (the row storage keeps); its GC figures
** count the `gc` messages of its current task, so that they start again
** at 0 with each task, as its heap does. Only telemetry the coordinator
** stores (of the current attempt) comes here.
*/
#ifndef HEAPSIM_COORDINATOR_COORD_LIVE_H
#define HEAPSIM_COORDINATOR_COORD_LIVE_H

#include <stdint.h>

#include "base/gc_fields.h"
#include "metrics/metrics.h"
#include "proto/proto.h"

/* A worker that said hello: no task, no figures yet. */
void coord_live_join(metrics_worker_t *w, const char *name, const char *host);

/* A sample of task `task_seq`. */
void coord_live_sample(metrics_worker_t *w, int64_t task_seq, const proto_sample_t *s);

/* A GC cycle of task `task_seq`. */
void coord_live_gc(metrics_worker_t *w, int64_t task_seq, const gc_fields_t *f);

#endif
