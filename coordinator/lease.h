/*
** coordinator/lease.h -- the tasks of a run and the peers that hold them,
** as a pure state machine: no sockets, no storage, no clock of its own.
** Every call that depends on time takes `now_ns` (any monotonic clock), so
** a test drives it with a fake one.
**
** A task:
**
**     QUEUED --grant--> LEASED --start--> RUNNING --end(ok)--> DONE
**        ^                 |                 |
**        |                 +------ end(failed, lost) --------+--> FAILED
**        +------------ (re-queued while attempts remain) ----+
**
** Every grant is an attempt, numbered from 1. An attempt ends done, failed
** (the worker said so, or the coordinator rejected its result, or the
** worker could not decode the task) or lost (its peer missed heartbeats,
** exited, or was interrupted). A kernel's own failure is deterministic (a
** seeded task fails the same way again), so `end` takes whether it is
** final. A retryable end re-queues the task, unless `attempts_max`
** attempts of it have ended the same way (same reason text), or it has had
** 3 x attempts_max attempts in all: then it fails for good with that
** reason. Only the current attempt may end a task: an end for an older
** attempt, or from a peer that does not hold it, is stale (a duplicate
** result, a worker that came back late) and changes nothing.
**
** A peer is a worker connection. It is live from join until it is lost:
** lease_expire() loses every peer not seen for `misses_max` heartbeat
** intervals; lease_peer_lose() loses one at once (its process exited). A
** lost peer's task is re-queued as a lost attempt. At most `peers_max`
** peers are live at once; the slot of a lost peer is used again.
*/
#ifndef HEAPSIM_COORDINATOR_LEASE_H
#define HEAPSIM_COORDINATOR_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEASE_EFULL   (-6001)    /* peers_max peers are live */
#define LEASE_EEMPTY  (-6002)    /* no task is queued */
#define LEASE_ESTALE  (-6003)    /* not the current attempt, or not this peer's */
#define LEASE_EINVAL  (-6004)    /* no such task or peer, or a dead peer */

typedef enum lease_state {
    LEASE_QUEUED,
    LEASE_LEASED,                /* sent to a peer, not yet known to run */
    LEASE_RUNNING,               /* the peer said it runs it */
    LEASE_DONE,
    LEASE_FAILED,                /* for good */
} lease_state_t;

typedef enum lease_outcome {
    LEASE_OUT_DONE,
    LEASE_OUT_FAILED,
    LEASE_OUT_LOST,
} lease_outcome_t;

/* One ended attempt of a task. */
typedef struct lease_attempt {
    int attempt;                 /* 1, 2, ... */
    int peer;
    lease_outcome_t outcome;
    char reason[160];            /* "" when done */
} lease_attempt_t;

typedef struct lease_config {
    uint64_t heartbeat_ns;       /* 1 s */
    int misses_max;              /* 3: lost after 3 intervals unseen */
    int attempts_max;            /* 3 */
    int peers_max;               /* 1024 live peers */
} lease_config_t;

typedef struct lease lease_t;

void lease_config_default(lease_config_t *cfg);

/* ntasks tasks, all QUEUED in index order. Returns 0, -EINVAL for a
** config out of range (heartbeat 0, misses, attempts or peers < 1), or
** -ENOMEM; *lease_p NULL on failure. */
int lease_new(const lease_config_t *cfg, size_t ntasks, lease_t **lease_p);
/* Accepts NULL and *lease_p == NULL; NULLs *lease_p. */
void lease_destroy(lease_t **lease_p);
const char *lease_strerror(int rc);

/* ---- Peers ---------------------------------------------------------- */

/* A new live peer seen now: its slot (>= 0), or LEASE_EFULL / -ENOMEM. */
int lease_peer_join(lease_t *l, uint64_t now_ns);
/* Any message from the peer. A dead or unknown peer is ignored. */
void lease_peer_seen(lease_t *l, int peer, uint64_t now_ns);
bool lease_peer_live(const lease_t *l, int peer);
/* The task the peer holds (LEASED or RUNNING), or -1. */
long lease_peer_task(const lease_t *l, int peer);
/* Lose a live peer now; its task (if any) ends as a lost attempt with
** `reason`. Returns the task's index or -1 when it held none;
** LEASE_EINVAL for a dead or unknown peer. */
long lease_peer_lose(lease_t *l, int peer, const char *reason);
/* Lose every live peer not seen since now - misses_max * heartbeat: their
** slots go into lost[] and the task each held (or -1) into tasks[] (up to
** maxlost; the rest are lost all the same and counted). Returns how many
** were lost. Their tasks end as lost attempts, reason "worker lost: no
** heartbeat for N ms". */
size_t lease_expire(lease_t *l, uint64_t now_ns, int *lost, long *tasks, size_t maxlost);
size_t lease_peers_live(const lease_t *l);

/* ---- Tasks ---------------------------------------------------------- */

/* The next queued task to a live peer that holds none: LEASED, a new
** attempt. Returns 0 with *task and *attempt, LEASE_EEMPTY, LEASE_EINVAL
** (dead peer) or LEASE_ESTALE (the peer holds a task). */
int lease_grant(lease_t *l, int peer, size_t *task, int *attempt);
/* The grant could not be delivered: back to the front of the queue, the
** attempt number taken back. Only for the current LEASED attempt. */
int lease_ungrant(lease_t *l, size_t task, int attempt);
/* The peer runs it (its first telemetry, or an ack): LEASED -> RUNNING.
** RUNNING stays RUNNING. LEASE_ESTALE otherwise. */
int lease_start(lease_t *l, size_t task, int attempt, int peer);
/* End the current attempt. ok: DONE. Otherwise FAILED when `final` or the
** retry rule above says so, else QUEUED again. Returns the new state (>= 0)
** or LEASE_ESTALE / LEASE_EINVAL with nothing changed. */
int lease_end(lease_t *l, size_t task, int attempt, int peer, lease_outcome_t outcome,
              bool final, const char *reason);
/* Fail every task not yet DONE or FAILED, for good, with reason (the run
** is interrupted, or no worker is left); their peers hold nothing. */
void lease_fail_rest(lease_t *l, const char *reason);
/* Make task DONE or FAILED from the start (resume: it finished in an
** earlier run). Only a QUEUED task with no attempts. */
int lease_settle(lease_t *l, size_t task, bool done);

size_t lease_ntasks(const lease_t *l);
lease_state_t lease_task_state(const lease_t *l, size_t task);
int lease_task_attempt(const lease_t *l, size_t task);     /* 0: never granted */
int lease_task_peer(const lease_t *l, size_t task);        /* -1 unless held */
/* The ended attempts of a task, oldest first (valid until the next call
** that changes the task). */
const lease_attempt_t *lease_task_attempts(const lease_t *l, size_t task, size_t *n);
/* The reason it failed for good, "" otherwise. */
const char *lease_task_reason(const lease_t *l, size_t task);
size_t lease_count(const lease_t *l, lease_state_t state);
/* Every task DONE or FAILED. */
bool lease_finished(const lease_t *l);

#endif
