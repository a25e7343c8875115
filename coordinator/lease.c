/*
** coordinator/lease.c -- the task and peer state machine (see lease.h).
**
** tasks[i].state is the truth; `queue` is a ring of the QUEUED tasks' indices
** (each at most once, so ntasks slots suffice). A peer slot is live or free;
** a live peer holds at most one task (peer.task), and a task LEASED or
** RUNNING names its peer (task.peer): the two always agree.
*/
#include "coordinator/lease.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ltask {
    lease_state_t state;
    int attempt;                 /* the current or last one; 0 never granted */
    int peer;                    /* -1 unless LEASED or RUNNING */
    lease_attempt_t *ended;
    size_t nended;
    char reason[160];            /* why FAILED */
} ltask_t;

typedef struct lpeer {
    bool live;
    uint64_t seen_ns;
    long task;                   /* -1 */
} lpeer_t;

struct lease {
    lease_config_t cfg;
    ltask_t *tasks;
    size_t ntasks;
    size_t *queue;               /* ring of ntasks */
    size_t qhead, qlen;
    lpeer_t *peers;
    int npeers, cappeers;        /* slots used so far, allocated */
    int *free_slots;             /* slots of lost peers, to use again */
    int nfree;
    size_t nlive;
    size_t count[LEASE_FAILED + 1];
};

void lease_config_default(lease_config_t *cfg)
{
    cfg->heartbeat_ns = 1000000000u;
    cfg->misses_max = 3;
    cfg->attempts_max = 3;
    cfg->peers_max = 1024;
}

const char *lease_strerror(int rc)
{
    switch (rc) {
    case 0: return "success";
    case LEASE_EFULL: return "too many workers";
    case LEASE_EEMPTY: return "no task queued";
    case LEASE_ESTALE: return "not the current attempt of this worker";
    case LEASE_EINVAL: return "no such task or worker";
    case -ENOMEM: return "out of memory";
    case -EINVAL: return "invalid configuration";
    default: return "unknown error";
    }
}

int lease_new(const lease_config_t *cfg, size_t ntasks, lease_t **lease_p)
{
    *lease_p = NULL;
    if (cfg->heartbeat_ns == 0 || cfg->misses_max < 1 || cfg->attempts_max < 1 ||
        cfg->peers_max < 1)
        return -EINVAL;
    lease_t *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    l->cfg = *cfg;
    l->ntasks = ntasks;
    l->tasks = calloc(ntasks ? ntasks : 1, sizeof *l->tasks);
    l->queue = calloc(ntasks ? ntasks : 1, sizeof *l->queue);
    if (!l->tasks || !l->queue) {
        lease_destroy(&l);
        return -ENOMEM;
    }
    for (size_t i = 0; i < ntasks; i++) {
        l->tasks[i].state = LEASE_QUEUED;
        l->tasks[i].peer = -1;
        l->queue[l->qlen++] = i;
    }
    l->count[LEASE_QUEUED] = ntasks;
    *lease_p = l;
    return 0;
}

void lease_destroy(lease_t **lease_p)
{
    lease_t *l = lease_p ? *lease_p : NULL;
    if (!l)
        return;
    for (size_t i = 0; l->tasks && i < l->ntasks; i++)
        free(l->tasks[i].ended);
    free(l->tasks);
    free(l->queue);
    free(l->peers);
    free(l->free_slots);
    free(l);
    *lease_p = NULL;
}

static void set_state(lease_t *l, ltask_t *t, lease_state_t s)
{
    assert(l->count[t->state] > 0);
    l->count[t->state]--;
    l->count[s]++;
    t->state = s;
}

static void enqueue(lease_t *l, size_t task, bool front)
{
    assert(l->qlen < l->ntasks);
    if (front) {
        l->qhead = (l->qhead + l->ntasks - 1) % l->ntasks;
        l->queue[l->qhead] = task;
    } else {
        l->queue[(l->qhead + l->qlen) % l->ntasks] = task;
    }
    l->qlen++;
}

/* ---- Peers ------------------------------------------------------------ */

static bool peer_ok(const lease_t *l, int peer)
{
    return peer >= 0 && peer < l->npeers && l->peers[peer].live;
}

int lease_peer_join(lease_t *l, uint64_t now_ns)
{
    int slot;
    if (l->nlive >= (size_t)l->cfg.peers_max)
        return LEASE_EFULL;
    if (l->nfree > 0) {
        slot = l->free_slots[--l->nfree];
    } else {
        if (l->npeers == l->cappeers) {
            int cap = l->cappeers ? l->cappeers * 2 : 16;
            lpeer_t *p = realloc(l->peers, (size_t)cap * sizeof *p);
            if (!p)
                return -ENOMEM;
            l->peers = p;
            int *f = realloc(l->free_slots, (size_t)cap * sizeof *f);
            if (!f)
                return -ENOMEM;
            l->free_slots = f;
            l->cappeers = cap;
        }
        slot = l->npeers++;
    }
    l->peers[slot] = (lpeer_t){.live = true, .seen_ns = now_ns, .task = -1};
    l->nlive++;
    return slot;
}

void lease_peer_seen(lease_t *l, int peer, uint64_t now_ns)
{
    if (peer_ok(l, peer) && now_ns > l->peers[peer].seen_ns)
        l->peers[peer].seen_ns = now_ns;
}

bool lease_peer_live(const lease_t *l, int peer)
{
    return peer_ok(l, peer);
}

long lease_peer_task(const lease_t *l, int peer)
{
    return peer_ok(l, peer) ? l->peers[peer].task : -1;
}

size_t lease_peers_live(const lease_t *l)
{
    return l->nlive;
}

long lease_peer_lose(lease_t *l, int peer, const char *reason)
{
    if (!peer_ok(l, peer))
        return LEASE_EINVAL;
    long task = l->peers[peer].task;
    if (task >= 0) {
        int rc = lease_end(l, (size_t)task, l->tasks[task].attempt, peer, LEASE_OUT_LOST,
                           false, reason);
        assert(rc >= 0);
        (void)rc;
    }
    l->peers[peer].live = false;
    l->peers[peer].task = -1;
    l->free_slots[l->nfree++] = peer;
    l->nlive--;
    return task;
}

size_t lease_expire(lease_t *l, uint64_t now_ns, int *lost, long *tasks, size_t maxlost)
{
    uint64_t limit = l->cfg.heartbeat_ns * (uint64_t)l->cfg.misses_max;
    size_t n = 0;
    char reason[160];
    snprintf(reason, sizeof reason, "worker lost: no heartbeat for %llu ms",
             (unsigned long long)(limit / 1000000u));
    for (int p = 0; p < l->npeers; p++) {
        if (!l->peers[p].live || now_ns < l->peers[p].seen_ns ||
            now_ns - l->peers[p].seen_ns < limit)
            continue;
        long task = lease_peer_lose(l, p, reason);
        if (n < maxlost) {
            lost[n] = p;
            tasks[n] = task;
        }
        n++;
    }
    return n;
}

/* ---- Tasks ------------------------------------------------------------ */

int lease_grant(lease_t *l, int peer, size_t *task, int *attempt)
{
    if (!peer_ok(l, peer))
        return LEASE_EINVAL;
    if (l->peers[peer].task >= 0)
        return LEASE_ESTALE;
    if (l->qlen == 0)
        return LEASE_EEMPTY;
    size_t i = l->queue[l->qhead];
    l->qhead = (l->qhead + 1) % l->ntasks;
    l->qlen--;
    ltask_t *t = &l->tasks[i];
    assert(t->state == LEASE_QUEUED);
    set_state(l, t, LEASE_LEASED);
    t->attempt++;
    t->peer = peer;
    l->peers[peer].task = (long)i;
    *task = i;
    *attempt = t->attempt;
    return 0;
}

int lease_ungrant(lease_t *l, size_t task, int attempt)
{
    if (task >= l->ntasks)
        return LEASE_EINVAL;
    ltask_t *t = &l->tasks[task];
    if (t->state != LEASE_LEASED || t->attempt != attempt)
        return LEASE_ESTALE;
    l->peers[t->peer].task = -1;
    t->peer = -1;
    t->attempt--;
    set_state(l, t, LEASE_QUEUED);
    enqueue(l, task, true);
    return 0;
}

int lease_start(lease_t *l, size_t task, int attempt, int peer)
{
    if (task >= l->ntasks)
        return LEASE_EINVAL;
    ltask_t *t = &l->tasks[task];
    if ((t->state != LEASE_LEASED && t->state != LEASE_RUNNING) ||
        t->attempt != attempt || t->peer != peer)
        return LEASE_ESTALE;
    if (t->state == LEASE_LEASED)
        set_state(l, t, LEASE_RUNNING);
    return 0;
}

/* The retry rule: attempts that ended as this one did, and all of them. */
static bool gives_up(const lease_t *l, const ltask_t *t, const char *reason)
{
    int same = 0;
    for (size_t i = 0; i < t->nended; i++)
        if (t->ended[i].outcome != LEASE_OUT_DONE && strcmp(t->ended[i].reason, reason) == 0)
            same++;
    return same >= l->cfg.attempts_max || (int)t->nended >= 3 * l->cfg.attempts_max;
}

int lease_end(lease_t *l, size_t task, int attempt, int peer, lease_outcome_t outcome,
              bool final, const char *reason)
{
    if (task >= l->ntasks)
        return LEASE_EINVAL;
    ltask_t *t = &l->tasks[task];
    if ((t->state != LEASE_LEASED && t->state != LEASE_RUNNING) ||
        t->attempt != attempt || t->peer != peer)
        return LEASE_ESTALE;
    lease_attempt_t *e = realloc(t->ended, (t->nended + 1) * sizeof *e);
    if (!e)
        return -ENOMEM;
    t->ended = e;
    e = &t->ended[t->nended++];
    e->attempt = attempt;
    e->peer = peer;
    e->outcome = outcome;
    snprintf(e->reason, sizeof e->reason, "%s",
             outcome == LEASE_OUT_DONE ? "" : (reason ? reason : "failed"));

    assert(l->peers[peer].task == (long)task);
    l->peers[peer].task = -1;
    t->peer = -1;
    if (outcome == LEASE_OUT_DONE) {
        set_state(l, t, LEASE_DONE);
    } else if (final || gives_up(l, t, e->reason)) {
        snprintf(t->reason, sizeof t->reason, "%s", e->reason);
        set_state(l, t, LEASE_FAILED);
    } else {
        set_state(l, t, LEASE_QUEUED);
        enqueue(l, task, false);
    }
    return (int)t->state;
}

void lease_fail_rest(lease_t *l, const char *reason)
{
    for (size_t i = 0; i < l->ntasks; i++) {
        ltask_t *t = &l->tasks[i];
        if (t->state == LEASE_DONE || t->state == LEASE_FAILED)
            continue;
        if (t->peer >= 0)
            l->peers[t->peer].task = -1;
        t->peer = -1;
        snprintf(t->reason, sizeof t->reason, "%s", reason);
        set_state(l, t, LEASE_FAILED);
    }
    l->qlen = 0;
}

int lease_settle(lease_t *l, size_t task, bool done)
{
    if (task >= l->ntasks)
        return LEASE_EINVAL;
    ltask_t *t = &l->tasks[task];
    if (t->state != LEASE_QUEUED || t->attempt != 0)
        return LEASE_ESTALE;
    /* Take it out of the queue, keeping the others' order. */
    size_t k = 0;
    for (size_t j = 0; j < l->qlen; j++) {
        size_t v = l->queue[(l->qhead + j) % l->ntasks];
        if (v != task)
            l->queue[(l->qhead + k++) % l->ntasks] = v;
    }
    l->qlen = k;
    set_state(l, t, done ? LEASE_DONE : LEASE_FAILED);
    return 0;
}

size_t lease_ntasks(const lease_t *l) { return l->ntasks; }

lease_state_t lease_task_state(const lease_t *l, size_t task)
{
    assert(task < l->ntasks);
    return l->tasks[task].state;
}

int lease_task_attempt(const lease_t *l, size_t task)
{
    return task < l->ntasks ? l->tasks[task].attempt : 0;
}

int lease_task_peer(const lease_t *l, size_t task)
{
    return task < l->ntasks ? l->tasks[task].peer : -1;
}

const lease_attempt_t *lease_task_attempts(const lease_t *l, size_t task, size_t *n)
{
    *n = task < l->ntasks ? l->tasks[task].nended : 0;
    return task < l->ntasks ? l->tasks[task].ended : NULL;
}

const char *lease_task_reason(const lease_t *l, size_t task)
{
    return task < l->ntasks ? l->tasks[task].reason : "";
}

size_t lease_count(const lease_t *l, lease_state_t state)
{
    return l->count[state];
}

bool lease_finished(const lease_t *l)
{
    return l->count[LEASE_DONE] + l->count[LEASE_FAILED] == l->ntasks;
}
