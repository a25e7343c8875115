/*
** sched/stack.c -- the stack arena (slots, guards, recycling) and the
** SIGSEGV/SIGBUS handler that turns a guard hit into a task failure.
** The picture is in sched_int.h.
*/
#include "sched/sched_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#if SCHED_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* Linux >= 6.13: a page-table guard marker, no VMA split. Older headers do
** not name it; older kernels answer EINVAL and we fall back to mprotect. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
/* Linux >= 6.15: a pidfd naming the calling thread, so process_madvise()
** advises many ranges of our own mm in one call (and stays right across
** fork, unlike a pidfd_open'ed one). Older kernels answer EBADF. */
#ifndef PIDFD_SELF_THREAD
#define PIDFD_SELF_THREAD (-10000)
#endif

/* Linux >= 6.8: UFFDIO_MOVE moves pages between two ranges registered
** with one userfaultfd. Older headers do not name it; older kernels do not
** offer the feature and the hand-over stays off. */
#define SCHED__UFFD_FEATURE_MOVE ((uint64_t)1 << 16)
struct sched__uffd_move {
    uint64_t dst, src, len, mode;
    int64_t move;
};
#define SCHED__UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct sched__uffd_move)

/* Alternate signal stack: big enough for our handler and for a sanitizer's
** handler we chain to (it symbolizes on it); committed only when touched. */
#define ALTSTACK_BYTES ((size_t)256 << 10)

/* ---- Arena ------------------------------------------------------------ */

/* Make [lo, lo + bytes) fault on any access. Tries MADV_GUARD_INSTALL while
** s->guard says it works; on EINVAL switches s to mprotect for good.
** Returns 0 or -errno (ENOMEM: out of VMAs in mprotect mode). */
static int guard_install(sched_t *s, char *lo, size_t bytes)
{
    while (s->guard == SCHED__GUARD_MADVISE) {
        if (madvise(lo, bytes, MADV_GUARD_INSTALL) == 0)
            return 0;
        if (errno == EINVAL)
            s->guard = SCHED__GUARD_MPROTECT;
        else if (errno != EINTR && errno != EAGAIN)
            return -errno;
    }
    if (mprotect(lo, bytes, PROT_NONE) != 0)
        return -errno;
    return 0;
}

/* ---- Page hand-over (see the picture) ---------------------------------- */

static void handover_off(sched_t *s)
{
    if (s->uffd >= 0)
        close(s->uffd);
    s->uffd = -1;
    if (s->uffd_canary != NULL)
        munmap((void *)s->uffd_canary, s->page_bytes);
    s->uffd_canary = NULL;
}

/* Best effort: on any failure the hand-over is simply off. */
static void handover_init(sched_t *s)
{
    struct uffdio_api api = {.api = UFFD_API, .features = SCHED__UFFD_FEATURE_MOVE};
    void *canary;

    s->uffd = -1;
    s->uffd_canary = NULL;
    if (getenv("HEAPSIM_NO_PAGE_HANDOVER") != NULL)   /* to measure without it */
        return;
    canary = mmap(NULL, s->page_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                  -1, 0);
    if (canary == MAP_FAILED)
        return;
    s->uffd_canary = canary;
    if (madvise(canary, s->page_bytes, MADV_WIPEONFORK) != 0)
        goto out_off;
    *s->uffd_canary = 1;
    s->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (s->uffd < 0)   /* unprivileged: kernel faults are not ours to see anyway */
        s->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (s->uffd < 0)
        goto out_off;
    struct uffdio_register reg = {
        .range = {.start = (uintptr_t)s->arena, .len = s->arena_bytes},
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    if (ioctl(s->uffd, UFFDIO_API, &api) != 0 || !(api.features & SCHED__UFFD_FEATURE_MOVE) ||
        ioctl(s->uffd, UFFDIO_REGISTER, &reg) != 0)
        goto out_off;   /* closing the descriptor unregisters */
    return;

out_off:
    handover_off(s);
}

static inline bool handover_on(const sched_t *s)
{
    return s->uffd >= 0 && *s->uffd_canary == 1;
}

/* Move the page at src to dst (both page aligned). Returns 0 if it moved,
** else the error (see the picture for which ones turn the hand-over
** off). errno is left as it was. */
static int page_move(sched_t *s, char *dst, char *src)
{
    struct sched__uffd_move mv = {
        .dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = s->page_bytes, .mode = 0, .move = 0,
    };
    int saved_errno = errno, rc = 0;

    if (ioctl(s->uffd, SCHED__UFFDIO_MOVE, &mv) != 0) {
        rc = errno;
        if (rc != ENOENT && rc != EEXIST && rc != EBUSY && rc != EAGAIN)
            handover_off(s);
    }
    errno = saved_errno;
    return rc;
}

/* The next goroutine after *cursor (NULL: start at runnext, then the
** local queue, then the global one) that wants a top page (see the picture); NULL when none
** is within the look. *looked counts the steps. */
static sched__gor_t *handover_next(sched_t *s, sched__gor_t **cursor, uint32_t *looked)
{
    sched__gor_t *x = *cursor;

    for (;;) {
        if (x == NULL)
            x = s->runnext != NULL ? s->runnext : sched__queued_first(s);
        else
            x = sched__queued_after(s, x);
        if (x == NULL || ++*looked > 2 * SCHED__ASIDE_BATCH + SCHED__RELEASE_BATCH)
            return NULL;
        *cursor = x;
        if (x->first_cold && x->ctx.sp == NULL && x->aside == NULL)
            return x;
        if (x->aside != NULL && !x->aside_populated &&
            x->aside_bytes + SCHED__FIRST_FRAME_GAP <= s->page_bytes)
            return x;
    }
}

/* Hand the top pages of slots[0..n) over to goroutines that want one. */
static void handover(sched_t *s, const uint32_t *slots, uint32_t n)
{
    sched__gor_t *cursor = NULL, *x = NULL;
    uint32_t looked = 0;

    for (uint32_t i = 0; i < n && handover_on(s); i++) {
        if (x == NULL && (x = handover_next(s, &cursor, &looked)) == NULL)
            return;
        char *src = s->arena + (size_t)(slots[i] + 1) * s->slot_bytes - s->page_bytes;
        int rc = page_move(s, sched__stack_top(s, x) - s->page_bytes, src);
        if (rc == 0) {
            if (x->aside != NULL)
                x->aside_populated = true;
            x->first_cold = false;
            x = NULL;
        } else if (rc == EEXIST) {
            x->first_cold = false;   /* its page is there: look no more at it */
            x = NULL;
            i--;                     /* the page still wants a taker */
        }
    }
}

int sched__arena_init(sched_t *s)
{
    int rc;

    s->guard = SCHED__GUARD_MADVISE;
    s->batch_madvise = true;
    s->batch_populate = true;
    s->arena_bytes = (size_t)s->max_goroutines * s->slot_bytes;
    s->arena = mmap(NULL, s->arena_bytes, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s->arena == MAP_FAILED) {
        rc = -errno;
        goto out;
    }
    /* With THP "always", the first touch of a slot would commit a 2 MiB
    ** page shared by eight stacks. Failure only means no THP at all. */
    (void)madvise(s->arena, s->arena_bytes, MADV_NOHUGEPAGE);

    s->gors_bytes = (size_t)s->max_goroutines * sizeof(sched__gor_t);
    s->gors_bytes = (s->gors_bytes + s->page_bytes - 1) & ~(s->page_bytes - 1);
    s->gors = mmap(NULL, s->gors_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s->gors == MAP_FAILED) {
        rc = -errno;
        goto out_unmap_arena;
    }

    s->altstack_map_bytes = s->page_bytes + ALTSTACK_BYTES;
    s->altstack_map = mmap(NULL, s->altstack_map_bytes, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s->altstack_map == MAP_FAILED) {
        rc = -errno;
        goto out_unmap_gors;
    }
    rc = guard_install(s, s->altstack_map, s->page_bytes);
    if (rc != 0)
        goto out_unmap_altstack;

    s->nslots = 0;
    s->free_slots = NULL;
    s->cold_slots = NULL;
    s->nwarm = 0;
    s->nrelease = 0;
    handover_init(s);
    return 0;

out_unmap_altstack:
    munmap(s->altstack_map, s->altstack_map_bytes);
out_unmap_gors:
    munmap(s->gors, s->gors_bytes);
out_unmap_arena:
    munmap(s->arena, s->arena_bytes);
out:
    s->arena = NULL;
    s->gors = NULL;
    s->altstack_map = NULL;
    s->uffd = -1;
    s->uffd_canary = NULL;
    return rc;
}

void sched__arena_fini(sched_t *s)
{
    handover_off(s);
    if (s->gors != NULL) {
        for (uint32_t i = 0; i < s->nslots; i++) {
            sched__gor_t *g = &s->gors[i];
#if SCHED_ASAN
            /* Frames of goroutines that never finished stay poisoned in
            ** ASan's shadow; a later mapping at this address would inherit
            ** them. */
            if (g->state != SCHED__FREE && g->ctx.sp != NULL) {
                char *sp = g->ctx.sp;
                __asan_unpoison_memory_region(sp, (size_t)(sched__stack_top(s, g) - sp));
            }
#endif
            free(g->defers);
            free(g->aside);
        }
        munmap(s->gors, s->gors_bytes);
        s->gors = NULL;
    }
    if (s->arena != NULL) {
        munmap(s->arena, s->arena_bytes);
        s->arena = NULL;
    }
    if (s->altstack_map != NULL) {
        munmap(s->altstack_map, s->altstack_map_bytes);
        s->altstack_map = NULL;
    }
}

/* Commit the pages of iov[0..n) now, in one system call, instead of one
** page fault each later: on a virtual machine a fault costs far more than
** its share of a batched call. Best effort: a kernel without
** process_madvise on ourselves, or without MADV_POPULATE_WRITE, leaves
** the pages to be faulted in on touch as before. */
static void pages_populate(sched_t *s, struct iovec *iov, size_t n)
{
    if (!s->batch_populate || n == 0)
        return;
    if (syscall(SYS_process_madvise, PIDFD_SELF_THREAD, iov, n, MADV_POPULATE_WRITE, 0u) < 0 &&
        errno != EINTR && errno != EAGAIN && errno != ENOMEM)
        s->batch_populate = false;
}

/* Install the guards of slots [first, first + count) in one system call
** when the kernel can (process_madvise on ourselves), so that carving a
** million slots is not a million calls. Returns true if it did. */
static bool guards_install_batch(sched_t *s, uint32_t first, uint32_t count)
{
    struct iovec iov[SCHED__CARVE_SLOTS];
    size_t want = (size_t)count * s->guard_bytes;
    long done;

    if (s->guard != SCHED__GUARD_MADVISE || !s->batch_madvise)
        return false;
    for (uint32_t i = 0; i < count; i++) {
        iov[i].iov_base = s->arena + (size_t)(first + i) * s->slot_bytes;
        iov[i].iov_len = s->guard_bytes;
    }
    done = syscall(SYS_process_madvise, PIDFD_SELF_THREAD, iov, (size_t)count,
                   MADV_GUARD_INSTALL, 0u);
    if (done == (long)want)
        return true;
    if (done < 0)
        s->batch_madvise = false;   /* not here: one call per slot from now on */
    return false;                   /* a short count: the per-slot calls redo it */
}

/* Make the next SCHED__CARVE_SLOTS slots usable and put them on the cold
** list, lowest address first. Returns 0 or -errno; on failure the batch is
** left PROT_NONE and s is unchanged. */
static int carve_slots(sched_t *s)
{
    uint32_t first = s->nslots;
    uint32_t count = s->max_goroutines - first;
    char *lo = s->arena + (size_t)first * s->slot_bytes;
    int rc;

    if (count == 0)
        return -ENOMEM;
    if (count > SCHED__CARVE_SLOTS)
        count = SCHED__CARVE_SLOTS;
    /* Adjacent to the carved prefix with the same flags: the kernel merges
    ** it into the one read/write VMA. */
    if (mprotect(lo, (size_t)count * s->slot_bytes, PROT_READ | PROT_WRITE) != 0)
        return -errno;
    if (!guards_install_batch(s, first, count)) {
        for (uint32_t i = 0; i < count; i++) {
            rc = guard_install(s, lo + (size_t)i * s->slot_bytes, s->guard_bytes);
            if (rc != 0)
                goto out_uncarve;
        }
    }
    for (uint32_t i = count; i-- > 0;) {   /* never touched: cold */
        sched__gor_t *g = &s->gors[first + i];
        g->state = SCHED__FREE;
        g->next = s->cold_slots;
        s->cold_slots = g;
    }
    s->nslots = first + count;
    sched__stat_set(&s->stats.stack_reserved_bytes, (uint64_t)s->nslots * s->slot_bytes);
    return 0;

out_uncarve:
    mprotect(lo, (size_t)count * s->slot_bytes, PROT_NONE);
    return rc;
}

static int slot_cmp(const void *a, const void *b);

/* madvise(MADV_DONTNEED) the whole slots slots[0..n) (indices, ascending
** after this call), one call per run of adjacent slots. Guards survive it
** (markers and PROT_NONE alike); the pages come back zeroed on touch. */
static void release_slots(sched_t *s, uint32_t *slots, uint32_t n, bool sorted)
{
    /* Top pages handed over first: the madvise then finds them gone. */
    handover(s, slots, n);
    if (!sorted)
        qsort(slots, n, sizeof slots[0], slot_cmp);
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;

        while (j < n && slots[j] == slots[j - 1] + 1)
            j++;
        (void)madvise(s->arena + (size_t)slots[i] * s->slot_bytes,
                      (size_t)(slots[j - 1] - slots[i] + 1) * s->slot_bytes, MADV_DONTNEED);
        i = j;
    }
}

/* Release the pages of the slots on release_pending; they go cold. */
static void release_flush(sched_t *s)
{
    uint32_t slots[SCHED__RELEASE_BATCH];
    uint32_t n = s->nrelease;
    bool sorted = true;

    for (uint32_t i = 0; i < n; i++) {
        slots[i] = (uint32_t)(s->release_pending[i] - s->gors);
        if (i > 0 && slots[i] < slots[i - 1])
            sorted = false;
    }
    release_slots(s, slots, n, sorted);
    for (uint32_t i = 0; i < n; i++) {
        sched__gor_t *g = s->release_pending[i];
        g->next = s->cold_slots;
        s->cold_slots = g;
    }
    s->nrelease = 0;
}

int sched__slot_alloc(sched_t *s, sched__gor_t **g_out)
{
    sched__gor_t *g;
    int rc;

    if (s->free_slots != NULL) {
        g = s->free_slots;
        s->free_slots = g->next;
        s->nwarm--;
        g->first_cold = false;   /* its top page may still be there */
    } else {
        if (s->cold_slots == NULL && s->nrelease > 0)
            release_flush(s);
        if (s->cold_slots == NULL) {
            rc = carve_slots(s);
            if (rc != 0)
                return rc;
        }
        g = s->cold_slots;
        s->cold_slots = g->next;
        g->first_cold = true;
    }
    assert(g->state == SCHED__FREE && g->id == 0 && g->stack_bytes == 0);
    g->next = NULL;
    *g_out = g;
    return 0;
}

void sched__slot_free(sched_t *s, sched__gor_t *g)
{
    char *top = sched__stack_top(s, g);

    /* Dead (or never started), so on no list, and not the stack we run on. */
    assert(g->state == SCHED__DEAD || (g->state == SCHED__RUNNABLE && !g->started));
    assert(g->aside == NULL && g != s->current);
#if SCHED_ASAN
    /* The frames this goroutine died with (from its last saved stack
    ** pointer up) never returned, so their redzones are still poisoned. */
    if (g->ctx.sp != NULL)
        __asan_unpoison_memory_region(g->ctx.sp, (size_t)(top - (char *)g->ctx.sp));
#endif
    bool warm = s->nwarm < SCHED__WARM_SLOTS;
    if (warm && g->stack_bytes > s->keep_bytes) {
        /* It went deep: give back everything but the top pages the next
        ** goroutine on this slot will touch anyway. Guards survive this. */
        char *lo = sched__stack_lo(s, g);
        (void)madvise(lo, (size_t)(top - s->keep_bytes - lo), MADV_DONTNEED);
    }
    sched__stat_sub(&s->stats.stack_committed_bytes, g->stack_bytes);
    sched__stat_sub(&s->stats.stack_inuse_bytes, g->go_bytes);
    g->stack_bytes = 0;
    g->go_bytes = 0;
    g->go_trip = 0;
    g->state = SCHED__FREE;
    g->id = 0;
    if (warm) {
        g->next = s->free_slots;
        s->free_slots = g;
        s->nwarm++;
        return;
    }
    s->release_pending[s->nrelease++] = g;   /* the whole slot goes */
    if (s->nrelease == SCHED__RELEASE_BATCH)
        release_flush(s);
}

/* ---- Parked stacks set aside ---------------------------------------- */

/* memcpy that sanitizers neither check nor intercept: a parked stack holds
** poisoned redzones between its frames. */
static inline void copy_raw(void *dst, const void *src, size_t n)
{
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static int slot_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

void sched__aside_flush(sched_t *s)
{
    uint32_t slots[SCHED__ASIDE_BATCH];
    uint32_t n = 0;
    bool sorted = true;
    uint64_t saved_bytes = 0;

    for (uint32_t i = 0; i < s->naside_pending; i++) {
        sched__gor_t *g = s->aside_pending[i];
        /* The gap above the first frame holds nothing: not kept. */
        char *sp = g->ctx.sp, *top = sched__stack_top(s, g) - SCHED__FIRST_FRAME_GAP;
        size_t live = (size_t)(top - sp);
        void *buf;

        g->aside_pending = false;
        if (g->state != SCHED__PARKED || !g->park_aside || g->aside != NULL)
            continue;
        buf = malloc(live);
        if (buf == NULL)
            continue;   /* it keeps its pages */
        copy_raw(buf, sp, live);
        g->aside = buf;
        g->aside_bytes = (uint32_t)live;
        saved_bytes += live;
        sched__stat_sub(&s->stats.stack_committed_bytes, g->stack_bytes);
        g->stack_bytes = 0;
        slots[n] = (uint32_t)(g - s->gors);
        if (n > 0 && slots[n] < slots[n - 1])
            sorted = false;
        n++;
    }
    s->naside_pending = 0;
    if (n == 0)
        return;
    sched__stat_add(&s->stats.stacks_aside, n);
    sched__stat_add(&s->stats.stack_aside_bytes, saved_bytes);
    release_slots(s, slots, n, sorted);
}

/* The whole pages that the set-aside bytes of g go back into: from its
** saved stack pointer to the top of its slot, the gap included. */
static inline size_t aside_pages(const sched_t *s, const sched__gor_t *g)
{
    return ((size_t)g->aside_bytes + SCHED__FIRST_FRAME_GAP + s->page_bytes - 1) &
           ~(s->page_bytes - 1);
}

/* Commit, in one call, the pages that g and the set-aside goroutines queued
** to run after it will copy their stacks back into (a close that wakes
** many parked goroutines restores them one after another). */
static void aside_populate_ahead(sched_t *s, sched__gor_t *g)
{
    struct iovec iov[SCHED__ASIDE_BATCH];
    size_t n = 0, looked = 0;

    /* A bounded look: a long queue of goroutines in place costs nothing. */
    for (sched__gor_t *x = g; x != NULL && n < SCHED__ASIDE_BATCH &&
                              looked < 2 * SCHED__ASIDE_BATCH;
         x = x == g ? sched__queued_first(s) : sched__queued_after(s, x), looked++) {
        if (x->aside == NULL || x->aside_populated)
            continue;
        size_t pages = aside_pages(s, x);
        x->aside_populated = true;
        iov[n].iov_base = sched__stack_top(s, x) - pages;
        iov[n].iov_len = pages;
        n++;
    }
    if (n > 1)   /* one page alone: the fault is as cheap */
        pages_populate(s, iov, n);
}

void sched__aside_restore(sched_t *s, sched__gor_t *g)
{
    size_t live = g->aside_bytes;
    size_t pages = aside_pages(s, g);

    assert(g->aside != NULL && g->stack_bytes == 0);
    if (!g->aside_populated)
        aside_populate_ahead(s, g);
    g->aside_populated = false;

    copy_raw(sched__stack_top(s, g) - SCHED__FIRST_FRAME_GAP - live, g->aside, live);
    free(g->aside);
    g->aside = NULL;
    g->aside_bytes = 0;
    sched__stat_sub(&s->stats.stacks_aside, 1);
    sched__stat_sub(&s->stats.stack_aside_bytes, live);
    g->stack_bytes = (uint32_t)pages;
    sched__stat_add(&s->stats.stack_committed_bytes, pages);
}

/* ---- Overflow signal -------------------------------------------------- */

/* Process-wide state, as little as signal handling strictly needs:
** - the handler is per process, so its installation is reference counted
**   across schedulers, and the dispositions it replaced are kept to chain
**   to (or restore) on a fault that is not ours;
** - the handler receives no user pointer, so it finds the scheduler running
**   on the faulting thread through a thread-local set by sched_run.
**   initial-exec: reading it in a handler must not allocate. */
static pthread_mutex_t signals_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned signals_refs;
static struct sigaction signals_old_segv;
static struct sigaction signals_old_bus;
static __thread sched_t *signals_running __attribute__((tls_model("initial-exec")));

/* The fault is not a goroutine overflow: hand it to whoever had the signal
** before us. A function handler is called in place (we stay installed); the
** default action is restored and the fault repeated, so a real crash dies
** at the faulting instruction with the usual status and core. */
static void fault_not_ours(int sig, siginfo_t *si, void *ucv)
{
    const struct sigaction *old = sig == SIGBUS ? &signals_old_bus : &signals_old_segv;

    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction != NULL) {
        old->sa_sigaction(sig, si, ucv);
        return;
    }
    if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler != SIG_DFL &&
        old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);
    if (si->si_code <= 0)   /* sent by kill(), not a fault: it will not recur */
        raise(sig);
}

static void on_fault(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    sched_t *s = signals_running;
    int saved_errno = errno;

    if (s != NULL && s->current != NULL && si->si_code > 0) {
        sched__gor_t *g = s->current;
        uintptr_t addr = (uintptr_t)si->si_addr;
        uintptr_t lo = (uintptr_t)sched__slot_lo(s, g);
        uintptr_t guard_end = lo + s->guard_bytes;
        uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];

        /* In the guard, with the stack pointer down there too: a wild
        ** pointer into the guard from a shallow stack is a crash. */
        if (addr >= lo && addr < guard_end && sp < guard_end + s->page_bytes) {
            uintptr_t top = (uintptr_t)sched__stack_top(s, g) - SCHED__FIRST_FRAME_GAP;
            uintptr_t *ret = (uintptr_t *)(top - sizeof(uintptr_t));

            /* Resume as if sched__gor_overflow(s) had just been called from
            ** the top of this goroutine's own stack (a null return address
            ** ends backtraces). The top page is committed: the first frame
            ** was forged there. */
            *ret = 0;
            uc->uc_mcontext.gregs[REG_RSP] = (greg_t)(uintptr_t)ret;
            uc->uc_mcontext.gregs[REG_RBP] = 0;
            uc->uc_mcontext.gregs[REG_RDI] = (greg_t)(uintptr_t)s;
            uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)sched__gor_overflow;
            errno = saved_errno;
            return;
        }
    }
    fault_not_ours(sig, si, ucv);
    errno = saved_errno;
}

int sched__signals_acquire(void)
{
    struct sigaction sa;
    int rc = 0;

    pthread_mutex_lock(&signals_lock);
    if (signals_refs == 0) {
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fault;
        /* No SA_NODEFER: the handler returns through sigreturn, which puts
        ** back the interrupted mask (SIGSEGV unblocked) and leaves the
        ** alternate stack, so the next overflow finds both ready. */
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGSEGV, &sa, &signals_old_segv) != 0) {
            rc = -errno;
            goto out_unlock;
        }
        if (sigaction(SIGBUS, &sa, &signals_old_bus) != 0) {
            rc = -errno;
            goto out_restore_segv;
        }
    }
    signals_refs++;
    pthread_mutex_unlock(&signals_lock);
    return 0;

out_restore_segv:
    sigaction(SIGSEGV, &signals_old_segv, NULL);
out_unlock:
    pthread_mutex_unlock(&signals_lock);
    return rc;
}

void sched__signals_release(void)
{
    pthread_mutex_lock(&signals_lock);
    if (signals_refs > 0 && --signals_refs == 0) {
        sigaction(SIGBUS, &signals_old_bus, NULL);
        sigaction(SIGSEGV, &signals_old_segv, NULL);
    }
    pthread_mutex_unlock(&signals_lock);
}

int sched__signals_enter(sched_t *s)
{
    stack_t ss;

    memset(&ss, 0, sizeof ss);
    ss.ss_sp = s->altstack_map + s->page_bytes;
    ss.ss_size = s->altstack_map_bytes - s->page_bytes;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, &s->old_altstack) != 0)
        return -errno;
    signals_running = s;
    return 0;
}

void sched__signals_leave(sched_t *s)
{
    signals_running = NULL;
    /* Whatever the thread had before (often SS_DISABLE, or a sanitizer's). */
    s->old_altstack.ss_flags &= ~SS_ONSTACK;
    sigaltstack(&s->old_altstack, NULL);
}
