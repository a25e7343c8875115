/*
** sched/preempt.c -- sysmon: the thread that asks a goroutine to yield
** when it has run a whole slice without being scheduled anew (sched.h,
** "Run queues and preemption"). Go 1.19's sysmon and retake (proc.go) on
** one P: each round it reads the P's schedtick; a tick that has changed
** is noted with the time; one unchanged for the slice (forcePreemptNS)
** gets preemptone. Its sleep starts at 20 us and, once 50 rounds have
** passed with nothing to retake from a system call (there are none here:
** always), doubles each round up to 10 ms -- here up to the slice, which
** is Go's 10 ms unless set otherwise.
**
** The thread only reads s->schedtick and writes s->preempt_req (atomics);
** everything else of s is the sched_run thread's.
*/
#include "sched/sched_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

struct sched__sysmon {
    sched_t *s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;          /* CLOCK_MONOTONIC */
    bool stop;                    /* under lock */
    uint64_t slice_ns;
    void (*hook)(void *arg);      /* the preempt hook as the run began */
    void *hook_arg;
};

static void *sysmon_main(void *arg)
{
    struct sched__sysmon *m = arg;
    sched_t *s = m->s;
    uint64_t max_ns = m->slice_ns < SCHED__SYSMON_MAX_NS ? m->slice_ns : SCHED__SYSMON_MAX_NS;
    uint64_t delay_ns = SCHED__SYSMON_MIN_NS, rounds = 0;
    uint64_t seen_tick = __atomic_load_n(&s->schedtick, __ATOMIC_RELAXED);
    uint64_t seen_ns = sched__now_ns();

    if (max_ns < SCHED__SYSMON_MIN_NS)
        max_ns = SCHED__SYSMON_MIN_NS;
    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        if (++rounds > SCHED__SYSMON_IDLE_ROUNDS)
            delay_ns = 2 * delay_ns < max_ns ? 2 * delay_ns : max_ns;
        uint64_t until_ns = sched__now_ns() + delay_ns;
        struct timespec ts = {
            .tv_sec = (time_t)(until_ns / 1000000000u),
            .tv_nsec = (long)(until_ns % 1000000000u),
        };
        while (!m->stop && pthread_cond_timedwait(&m->wake, &m->lock, &ts) != ETIMEDOUT)
            ;
        if (m->stop)
            break;
        /* retake */
        uint64_t now_ns = sched__now_ns();
        uint64_t tick = __atomic_load_n(&s->schedtick, __ATOMIC_RELAXED);
        if (tick != seen_tick) {
            seen_tick = tick;
            seen_ns = now_ns;
        } else if (now_ns - seen_ns >= m->slice_ns) {
            /* preemptone: the request names the slice, so that it is
            ** dropped if that goroutine has switched out meanwhile. */
            __atomic_store_n(&s->preempt_req, tick + 1, __ATOMIC_RELAXED);
            if (m->hook != NULL)
                m->hook(m->hook_arg);
            seen_ns = now_ns;   /* asked again a slice later if it goes on */
        }
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

void sched__sysmon_start(sched_t *s)
{
    struct sched__sysmon *m;
    pthread_condattr_t attr;

    s->sysmon = NULL;
    if (s->preempt_ns == 0)
        return;
    m = calloc(1, sizeof *m);
    if (m == NULL)
        return;
    m->s = s;
    m->slice_ns = s->preempt_ns;
    m->hook = s->hooks.preempt;
    m->hook_arg = s->hooks.arg;
    if (pthread_condattr_init(&attr) != 0)
        goto out_free;
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&m->wake, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        goto out_free;
    }
    pthread_condattr_destroy(&attr);
    if (pthread_mutex_init(&m->lock, NULL) != 0)
        goto out_cond;
    /* Signals stay with the process's own threads: the new one blocks all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&m->thread, NULL, sysmon_main, m);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        goto out_mutex;
    s->sysmon = m;
    return;

out_mutex:
    pthread_mutex_destroy(&m->lock);
out_cond:
    pthread_cond_destroy(&m->wake);
out_free:
    free(m);
}

void sched__sysmon_stop(sched_t *s)
{
    struct sched__sysmon *m = s->sysmon;

    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    m->stop = true;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    free(m);
    s->sysmon = NULL;
}
