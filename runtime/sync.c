/*
** runtime/sync.c -- WaitGroup, Mutex and Once on park/ready (see sync.h).
**
** Every queue is a singly linked list of nodes that live in the frames of
** the parked goroutines. A node is linked just before its goroutine parks
** and unlinked by whoever readies it; the goroutine does not touch the
** queue after it wakes. While the scheduler unwinds, no node is ever read:
** its goroutine may have been ended and its stack recycled.
*/
#include "runtime/sync.h"

#include <stddef.h>

struct sync__waiter {
    sched_waiter_t *w;
    struct sync__waiter *next;
};

/* Ready every node of a chain kept newest first, oldest first, then
** forget the chain. */
static void ready_all(sched_t *s, sync__waiter_t **list)
{
    sync__waiter_t *n = *list, *oldest_first = NULL;

    *list = NULL;
    if (sched_unwinding(s))
        return;
    while (n != NULL) {
        sync__waiter_t *next = n->next;
        n->next = oldest_first;
        oldest_first = n;
        n = next;
    }
    while (oldest_first != NULL) {
        sync__waiter_t *next = oldest_first->next;   /* dead once its owner runs */
        sched_ready(s, oldest_first->w);
        oldest_first = next;
    }
}

/* ---- Mutex ------------------------------------------------------------- */

void sync_mutex_init(sync_mutex_t *m)
{
    m->locked = false;
    m->head = m->tail = NULL;
}

void sync_mutex_lock(sched_t *s, sync_mutex_t *m)
{
    sync__waiter_t self = { NULL, NULL };

    if (!m->locked || sched_unwinding(s)) {
        m->locked = true;
        return;
    }
    if (m->tail != NULL)
        m->tail->next = &self;
    else
        m->head = &self;
    m->tail = &self;
    sched_park(s, &self.w, "sync.Mutex.Lock");
    /* Woken by unlock, which left m locked for us and unlinked self. */
}

bool sync_mutex_trylock(sync_mutex_t *m)
{
    if (m->locked)
        return false;
    m->locked = true;
    return true;
}

void sync_mutex_unlock(sched_t *s, sync_mutex_t *m)
{
    sync__waiter_t *first = m->head;

    if (!m->locked)
        sched_fail(s, "sync: unlock of unlocked mutex");
    if (first == NULL || sched_unwinding(s)) {
        m->locked = false;
        m->head = m->tail = NULL;
        return;
    }
    m->head = first->next;
    if (m->head == NULL)
        m->tail = NULL;
    sched_ready(s, first->w);   /* still locked: it is theirs now */
}

/* ---- WaitGroup ----------------------------------------------------------- */

void sync_wg_init(sync_wg_t *wg)
{
    wg->count = 0;
    wg->waiters = NULL;
}

void sync_wg_add(sched_t *s, sync_wg_t *wg, int64_t delta)
{
    wg->count += delta;
    if (wg->count < 0)
        sched_fail(s, "sync: negative WaitGroup counter");
    if (wg->count == 0)
        ready_all(s, &wg->waiters);
}

void sync_wg_done(sched_t *s, sync_wg_t *wg)
{
    sync_wg_add(s, wg, -1);
}

void sync_wg_wait(sched_t *s, sync_wg_t *wg)
{
    sync__waiter_t self = { NULL, NULL };

    if (wg->count == 0 || sched_unwinding(s))
        return;
    self.next = wg->waiters;
    wg->waiters = &self;
    sched_park(s, &self.w, "sync.WaitGroup.Wait");
}

/* ---- Once ------------------------------------------------------------------ */

void sync_once_init(sync_once_t *o)
{
    o->state = 0;
    o->waiters = NULL;
}

void sync_once_do(sched_t *s, sync_once_t *o, void (*fn)(void *arg), void *arg)
{
    sync__waiter_t self = { NULL, NULL };

    if (o->state == 2)
        return;
    if (o->state == 1) {
        if (sched_unwinding(s))
            return;
        self.next = o->waiters;
        o->waiters = &self;
        sched_park(s, &self.w, "sync.Once.Do");
        return;
    }
    o->state = 1;
    fn(arg);
    o->state = 2;
    ready_all(s, &o->waiters);
}
