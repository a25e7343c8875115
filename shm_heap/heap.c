/*
** shm_heap/heap.c -- the segment: naming, creating and attaching,
** closing, stale-segment cleanup, the robust locks and their repair, root
** stacks and globals, statistics and settings.
*/
#include "shm_heap/heap_int.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PREFIX "heapsim-"
#define ATTACH_WAIT_NS 5000000000ull      /* for a creator still initializing */
#define STALE_PARTIAL_AGE_S 60            /* a never-initialized segment this old is stale */
#define DEFAULT_MIN_RESERVE ((uint64_t)64 << 20)
#define MAX_RESERVE_PAGES ((uint64_t)1 << 31)

const char *heap_strerror(int rc)
{
    switch (rc) {
    case 0: return "success";
    case HEAP_EOOM: return "heap exhausted even after a collection";
    case HEAP_ECORRUPT: return "heap invariant broken";
    case HEAP_EVERSION: return "segment made by another layout version";
    case HEAP_EFULL: return "too many processes attached";
    case HEAP_EROOTS: return "root stack overflow";
    case HEAP_EENV: return "HEAPSIM_PAGE_CACHE must be 0 or 1";
    default:
        if (rc < 0 && rc > -4096)
            return strerror(-rc);
        return "unknown error";
    }
}

void heap_config_default(heap_config_t *cfg)
{
    cfg->heap_max_bytes = 0;
    cfg->gogc = 100;
    cfg->memory_limit_bytes = 0;
    cfg->collector = HEAP_COLLECTOR_CONCURRENT;
}

/* HEAPSIM_PAGE_CACHE: 1 (page caches on) when unset, empty or 1, 0 when
** 0, -1 for anything else. */
static int page_cache_env(const char **value_out)
{
    const char *v = getenv("HEAPSIM_PAGE_CACHE");
    *value_out = v;
    if (!v || !*v || strcmp(v, "1") == 0)
        return 1;
    return strcmp(v, "0") == 0 ? 0 : -1;
}

int heap_env_check(char *why, size_t whysize)
{
    const char *v;
    if (page_cache_env(&v) >= 0)
        return 0;
    if (why && whysize)
        snprintf(why, whysize, "HEAPSIM_PAGE_CACHE=%s: expected 0 or 1", v);
    return HEAP_EENV;
}

static const char *shm_prefix(void)
{
    const char *p = getenv("HEAPSIM_SHM_PREFIX");
    return p && *p ? p : DEFAULT_PREFIX;
}

char *heap_segment_name(const char *run_token, char *buf, size_t size)
{
    if (!run_token || !buf || strchr(run_token, '/'))
        return NULL;
    const char *prefix = shm_prefix();
    if (strchr(prefix, '/'))
        return NULL;
    int n = snprintf(buf, size, "/%s%s", prefix, run_token);
    if (n < 0 || (size_t)n >= size)
        return NULL;
    return buf;
}

int heap_unlink(const char *name)
{
    return shm_unlink(name) == 0 ? 0 : -errno;
}

/* ---- The locks ------------------------------------------------------ */

/* ENOTRECOVERABLE: only if a repairer unlocked without making the mutex
** consistent, which this code never does. */
static void lock_failed(const char *what, int rc)
{
    fprintf(stderr, "shm_heap: %s failed: %s\n", what, strerror(rc));
    abort();
}

#ifndef NDEBUG
/* The highest span class whose central lock h holds, or -1. */
static int central_held_top(const heap_t *h)
{
    for (int w = (int)(sizeof h->central_held / sizeof h->central_held[0]); w-- > 0;)
        if (h->central_held[w])
            return w * 64 + 63 - __builtin_clzll(h->central_held[w]);
    return -1;
}
#endif

/* pthread_mutex_lock, after a short spin on trylock: the heap's critical
** sections last about a microsecond, and a process sleeping in the futex
** and woken again costs two system calls and a context switch on each
** side, many times the wait it saves. The owner runs on another core
** while we spin; if it is not running (more processes than cores), the
** spin gives up after LOCK_SPIN_NS by the clock (a PAUSE lasts from a few
** to over a hundred cycles, by CPU) and we sleep as before. Robust
** mutexes: a trylock reports EOWNERDEAD just as lock does. */
#define LOCK_SPIN_NS 20000ull
static int mutex_lock_spin(pthread_mutex_t *m)
{
    uint64_t until = 0;
    for (unsigned i = 0;; i++) {
        int rc = pthread_mutex_trylock(m);
        if (rc != EBUSY)
            return rc;
        if (i == 2)
            until = heap__now_ns(CLOCK_MONOTONIC) + LOCK_SPIN_NS;
        else if (i > 2 && heap__now_ns(CLOCK_MONOTONIC) >= until)
            break;
        for (unsigned k = 0; k < 32u << (i < 3 ? i : 3); k++)
            __builtin_ia32_pause();
    }
    return pthread_mutex_lock(m);
}

void heap__lock(heap_t *h)
{
    /* Order: the heap lock, then central locks; never the other way. */
    assert(central_held_top(h) < 0);
    int rc = mutex_lock_spin(&h->hdr->lock);
    if (rc == EOWNERDEAD) {
        heap__repair_locked(h);
        pthread_mutex_consistent(&h->hdr->lock);
        return;
    }
    if (rc != 0)
        lock_failed("heap lock", rc);
}

void heap__unlock(heap_t *h)
{
    pthread_mutex_unlock(&h->hdr->lock);
}

void heap__central_lock(heap_t *h, uint32_t spc)
{
    pthread_mutex_t *lock = &h->hdr->central[spc].lock;
    /* Central locks in ascending span class. */
    assert(spc < HEAP__NSPANCLASSES && central_held_top(h) < (int)spc);
    int rc = mutex_lock_spin(lock);
    if (rc == EOWNERDEAD) {
        heap__central_repair_locked(h, spc);
        pthread_mutex_consistent(lock);
    } else if (rc != 0) {
        lock_failed("central lock", rc);
    }
#ifndef NDEBUG
    h->central_held[spc >> 6] |= 1ull << (spc & 63);
#endif
}

void heap__central_unlock(heap_t *h, uint32_t spc)
{
    /* A move on or off the list is finished before the lock goes. */
    assert(h->hdr->central[spc].busy_page == 0);
#ifndef NDEBUG
    assert(h->central_held[spc >> 6] & (1ull << (spc & 63)));
    h->central_held[spc >> 6] &= ~(1ull << (spc & 63));
#endif
    pthread_mutex_unlock(&h->hdr->central[spc].lock);
}

static void central_lock_all(heap_t *h)
{
    for (uint32_t spc = 0; spc < HEAP__NSPANCLASSES; spc++)
        heap__central_lock(h, spc);
}

static void central_unlock_all(heap_t *h)
{
    for (uint32_t spc = HEAP__NSPANCLASSES; spc-- > 0;)
        heap__central_unlock(h, spc);
}

void heap__lock_world(heap_t *h)
{
    heap__lock(h);
    central_lock_all(h);
}

void heap__unlock_world(heap_t *h)
{
    central_unlock_all(h);
    heap__unlock(h);
}

void heap__repair_locked(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    if (hdr->hist_seq & 1)
        __atomic_store_n(&hdr->hist_seq, hdr->hist_seq + 1, __ATOMIC_RELEASE);
    /* The page heap first: root-list checks look objects up in the map.
    ** The walk rewrites every central list, so it holds their locks. */
    central_lock_all(h);
    heap__walk(h, HEAP__WALK_REPAIR, NULL);
    central_unlock_all(h);
    /* Root lists: forward links are committed last, back links may lag. */
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        if (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) == HEAP__PROC_FREE)
            continue;
        if (p->globals && heap__check_ref(h, p->globals, true, NULL, 0) != 0)
            p->globals = 0;
        heap_ref_t prev = 0;
        heap_ref_t *link = &p->roots_head;
        uint64_t guard = (uint64_t)hdr->npages * HEAP__MAX_NELEMS;
        while (*link && guard--) {
            heap_ref_t ref = *link;
            struct heap_roots *r = heap_ptr(h, ref);
            if (heap__check_ref(h, ref, true, NULL, 0) != 0 || r->kind != HEAP__ROOTS_MAGIC ||
                r->self != ref) {
                *link = 0;
                break;
            }
            r->prev = prev;
            prev = ref;
            link = &r->next;
        }
        /* Pool lists: the same. */
        prev = 0;
        link = &p->pools_head;
        guard = (uint64_t)hdr->npages * HEAP__MAX_NELEMS;
        while (*link && guard--) {
            heap_ref_t ref = *link;
            if (!heap__pool_valid(h, ref, i)) {
                *link = 0;
                break;
            }
            struct heap_pool *pool = heap_ptr(h, ref);
            pool->prev = prev;
            prev = ref;
            link = &pool->next;
        }
    }
}

/* ---- Creating and attaching ----------------------------------------- */

typedef struct layout {
    uint64_t seg_bytes;
    uint32_t npages;
    uint64_t hdr_bytes;
    uint64_t page_map_off;
    uint64_t spans_off;
    uint64_t ptr_map_off;
    uint32_t first_page;
} layout_t;

static uint64_t round_up(uint64_t v, uint64_t to)
{
    return (v + to - 1) / to * to;
}

static int layout_compute(uint64_t seg_bytes, layout_t *L)
{
    L->seg_bytes = round_up(seg_bytes, HEAP__PAGE_BYTES);
    if (L->seg_bytes / HEAP__PAGE_BYTES >= MAX_RESERVE_PAGES)
        return -EINVAL;
    L->npages = (uint32_t)(L->seg_bytes >> HEAP__PAGE_SHIFT);
    L->hdr_bytes = round_up(sizeof(heap__hdr_t), HEAP__PAGE_BYTES);
    L->page_map_off = L->hdr_bytes;
    L->spans_off = L->page_map_off + round_up((uint64_t)L->npages * sizeof(uint32_t),
                                              HEAP__PAGE_BYTES);
    L->ptr_map_off = L->spans_off + round_up((uint64_t)L->npages * sizeof(heap__span_t),
                                             HEAP__PAGE_BYTES);
    uint64_t end = L->ptr_map_off + round_up((uint64_t)L->npages * HEAP__PTR_MAP_PAGE_BYTES,
                                             HEAP__PAGE_BYTES);
    L->first_page = (uint32_t)(end >> HEAP__PAGE_SHIFT);
    /* Room for at least a few spans of the biggest class. */
    if ((uint64_t)L->first_page + 64 > L->npages)
        return -EINVAL;
    return 0;
}

static uint64_t default_reserve(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long psize = sysconf(_SC_PAGESIZE);
    uint64_t quarter = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize / 4 : 0;
    return quarter > DEFAULT_MIN_RESERVE ? quarter : DEFAULT_MIN_RESERVE;
}

static void init_header(heap__hdr_t *hdr, const layout_t *L, const heap_config_t *cfg)
{
    hdr->version = HEAP__LAYOUT_VERSION;
    hdr->hdr_bytes = (uint32_t)sizeof(heap__hdr_t);
    hdr->span_bytes = (uint32_t)sizeof(heap__span_t);
    hdr->page_bytes = (uint32_t)HEAP__PAGE_BYTES;
    hdr->seg_bytes = L->seg_bytes;
    hdr->page_map_off = L->page_map_off;
    hdr->spans_off = L->spans_off;
    hdr->ptr_map_off = L->ptr_map_off;
    hdr->npages = L->npages;
    hdr->first_page = L->first_page;
    hdr->create_unix_ns = heap__now_ns(CLOCK_REALTIME);
    hdr->create_mono_ns = heap__now_ns(CLOCK_MONOTONIC);
    hdr->gc_phase = HEAP__GC_IDLE;
    hdr->sweepgen = 1;
    hdr->cache_epoch = 1;
    hdr->gogc = cfg->gogc;
    heap__pacer_init(&hdr->pacer, cfg->gogc < 0 ? -1 : cfg->gogc,
                     cfg->memory_limit_bytes ? cfg->memory_limit_bytes : HEAP__PACER_NONE,
                     (int64_t)heap__now_ns(CLOCK_MONOTONIC), 1);
    hdr->collector = cfg->collector == HEAP_COLLECTOR_STW ? HEAP__COLLECTOR_STW
                                                          : HEAP__COLLECTOR_CONCURRENT;
    hdr->scavenge_goal_bytes = UINT64_MAX;
    hdr->memory_limit_bytes = cfg->memory_limit_bytes;
    hdr->hwm_page = L->first_page;
    hdr->commit_page = L->first_page;
}

/* The heap lock and every central lock: robust, process-shared. */
static int init_locks(heap__hdr_t *hdr)
{
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (rc)
        return -rc;
    rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (!rc)
        rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (!rc)
        rc = pthread_mutex_init(&hdr->lock, &attr);
    for (uint32_t spc = 0; spc < HEAP__NSPANCLASSES && !rc; spc++)
        rc = pthread_mutex_init(&hdr->central[spc].lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return -rc;
}

/* Wait for the creator to publish the header, map the whole segment. */
static int attach_map(int fd, char **base_out, size_t *bytes_out)
{
    uint64_t deadline = heap__now_ns(CLOCK_MONOTONIC) + ATTACH_WAIT_NS;
    struct timespec nap = { 0, 1000000 };
    for (;;) {
        struct stat st;
        if (fstat(fd, &st) != 0)
            return -errno;
        if ((uint64_t)st.st_size >= sizeof(heap__hdr_t)) {
            char *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                              fd, 0);
            if (base == MAP_FAILED)
                return -errno;
            heap__hdr_t *hdr = (heap__hdr_t *)base;
            uint64_t magic = __atomic_load_n(&hdr->magic, __ATOMIC_ACQUIRE);
            if (magic == HEAP__MAGIC) {
                if (hdr->version != HEAP__LAYOUT_VERSION ||
                    hdr->hdr_bytes != sizeof(heap__hdr_t) ||
                    hdr->span_bytes != sizeof(heap__span_t) ||
                    hdr->page_bytes != HEAP__PAGE_BYTES ||
                    hdr->seg_bytes != (uint64_t)st.st_size) {
                    munmap(base, (size_t)st.st_size);
                    return HEAP_EVERSION;
                }
                *base_out = base;
                *bytes_out = (size_t)st.st_size;
                return 0;
            }
            munmap(base, (size_t)st.st_size);
            if (magic != 0)
                return HEAP_EVERSION;
        }
        if (heap__now_ns(CLOCK_MONOTONIC) > deadline)
            return -ETIMEDOUT;
        nanosleep(&nap, NULL);
    }
}

/* Claim a process entry (OUTSIDE). Entries of dead processes are reused
** when no entry is free. */
static int claim_entry(heap_t *h)
{
    heap__hdr_t *hdr = h->hdr;
    heap__lock(h);
    int idx = -1;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS && idx < 0; i++) {
        if (__atomic_load_n(&hdr->procs[i].state, __ATOMIC_SEQ_CST) == HEAP__PROC_FREE)
            idx = (int)i;
    }
    for (uint32_t i = 0; i < HEAP_MAX_PROCS && idx < 0; i++) {
        heap__proc_t *p = &hdr->procs[i];
        if (heap__pid_dead(p->pid, p->start_ticks, true)) {
            heap__pcache_reclaim_locked(h, p->attach_id, false);
            heap__proc_retire_locked(h, i);
            idx = (int)i;
        }
    }
    if (idx < 0) {
        heap__unlock(h);
        return HEAP_EFULL;
    }
    heap__proc_t *p = &hdr->procs[idx];
    if (++hdr->next_attach_id == 0)
        ++hdr->next_attach_id;
    p->pid = h->pid;
    p->start_ticks = heap__pid_start_ticks(h->pid);
    p->attach_id = hdr->next_attach_id;
    p->last_error = 0;
    p->roots_head = 0;
    p->globals = 0;
    p->pools_head = 0;
    p->prof_sites = 0;
    p->prof_samples = 0;
    heap__atomic_store(&p->stack_bytes, 0);
    heap__proc_set_max_stack(hdr, p, 0);
    heap__atomic_store(&p->alloc_bytes, 0);
    heap__atomic_store(&p->alloc_objects, 0);
    __atomic_store_n(&p->state, HEAP__PROC_OUTSIDE, __ATOMIC_SEQ_CST);
    heap__unlock(h);

    h->proc_index = (uint32_t)idx;
    h->proc = p;
    heap_hwm_reset(h);
    h->attach_id = p->attach_id;
    return 0;
}

static void build_class_tables(heap_t *h)
{
    uint32_t cls = 1;
    for (uint32_t i = 0; i < sizeof h->class_small; i++) {
        uint32_t need = i * 8;
        while (heap__classes[cls].elem_bytes < need)
            cls++;
        h->class_small[i] = (uint8_t)cls;
    }
    for (uint32_t i = 0; i < sizeof h->class_large; i++) {
        uint32_t need = 1024 + i * 128;
        while (heap__classes[cls].elem_bytes < need)
            cls++;
        h->class_large[i] = (uint8_t)cls;
    }
}


int heap_open(const char *name, const heap_config_t *cfg, bool create, heap_t **heap_p)
{
    int rc;
    if (!name || !heap_p || (create && !cfg) || strlen(name) >= sizeof(((heap_t *)0)->name))
        return -EINVAL;

    const char *pc;
    int pcache = page_cache_env(&pc);   /* PAGE CACHE: on unless turned off */
    if (pcache < 0)
        return HEAP_EENV;
    heap_t *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->fd = -1;
    h->pid = getpid();
    h->pcache_on = pcache == 1;
    h->thread = pthread_self();
    h->mark_limit = 0;
    heap__set_mark_stack_limit(h, 0);
    snprintf(h->name, sizeof h->name, "%s", name);
    build_class_tables(h);
    h->prof_left = UINT64_MAX;   /* HEAP PROFILE: off until heap_prof_set_rate */

    layout_t L;
    if (create) {
        uint64_t reserve = cfg->heap_max_bytes ? cfg->heap_max_bytes : default_reserve();
        if (reserve < HEAP__MIN_RESERVE_BYTES) {
            rc = -EINVAL;
            goto out_free;
        }
        rc = layout_compute(reserve, &L);
        if (rc)
            goto out_free;
    }

    h->fd = shm_open(name, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
    if (h->fd < 0) {
        rc = -errno;
        goto out_free;
    }

    if (create) {
        if (ftruncate(h->fd, (off_t)L.seg_bytes) != 0) {
            rc = -errno;
            goto out_unlink;
        }
        if (fallocate(h->fd, 0, 0, (off_t)L.hdr_bytes) != 0 && errno != EOPNOTSUPP) {
            rc = -errno;
            goto out_unlink;
        }
        h->view.base = mmap(NULL, L.seg_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0);
        if (h->view.base == MAP_FAILED) {
            h->view.base = NULL;
            rc = -errno;
            goto out_unlink;
        }
        h->map_bytes = L.seg_bytes;
        h->hdr = (heap__hdr_t *)h->view.base;
        init_header(h->hdr, &L, cfg);
        rc = init_locks(h->hdr);
        if (rc)
            goto out_unmap;
        heap__pacer_update_locked(h);
        __atomic_store_n(&h->hdr->magic, HEAP__MAGIC, __ATOMIC_RELEASE);
    } else {
        rc = attach_map(h->fd, &h->view.base, &h->map_bytes);
        if (rc)
            goto out_close;
        h->hdr = (heap__hdr_t *)h->view.base;
    }

    /* Map every page of the header now. The first stop of the world writes
    ** every process entry and steal queue (mark_start), and a page first
    ** touched there faults inside the pause: the first cycle's sweep
    ** termination took 1.0-1.4 ms on a VM whose faults cost 13-20 us,
    ** against 0.03-0.1 ms for every later one. */
    heap__prefault(h, 0, sizeof(heap__hdr_t), 4096);
    h->view.stw_word = &h->hdr->poll;
    h->page_map = (uint32_t *)(h->view.base + h->hdr->page_map_off);
    h->spans = (heap__span_t *)(h->view.base + h->hdr->spans_off);
    h->ptr_map = (uint64_t *)(h->view.base + h->hdr->ptr_map_off);
    rc = claim_entry(h);
    if (rc)
        goto out_unmap;
    h->cache_epoch = __atomic_load_n(&h->hdr->cache_epoch, __ATOMIC_ACQUIRE);
    *heap_p = h;
    return 0;

out_unmap:
    munmap(h->view.base, h->map_bytes);
out_unlink:
    if (create)
        shm_unlink(name);
out_close:
    close(h->fd);
out_free:
    free(h);
    return rc;
}

void heap_close(heap_t **heap_p, bool unlink_if_last)
{
    if (!heap_p || !*heap_p)
        return;
    heap_t *h = *heap_p;
    *heap_p = NULL;
    bool last = false;
    if (getpid() == h->pid) {
        heap__hdr_t *hdr = h->hdr;
        heap_leave(h);
        heap__lock(h);
        heap__mcache_flush(h);
        heap__pcache_reclaim_locked(h, h->attach_id, false);
        heap__proc_retire_locked(h, h->proc_index);
        last = true;
        for (uint32_t i = 0; i < HEAP_MAX_PROCS && last; i++) {
            heap__proc_t *p = &hdr->procs[i];
            if (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) != HEAP__PROC_FREE &&
                !heap__pid_dead(p->pid, p->start_ticks, true))
                last = false;
        }
        heap__unlock(h);
        if (__atomic_load_n(&hdr->stw, __ATOMIC_SEQ_CST) != 0) {
            __atomic_add_fetch(&hdr->stop_seq, 1, __ATOMIC_SEQ_CST);
            heap__futex_wake(&hdr->stop_seq);
        }
    }
    /* else: a heap_t inherited across fork() belongs to the parent. */
    munmap(h->view.base, h->map_bytes);
    close(h->fd);
    if (last && unlink_if_last)
        shm_unlink(h->name);
    free(h->mark_stack);
    free(h);
}

/* ---- Stale segments ------------------------------------------------- */

/* Is the segment at fd (named, for age checks) safe to remove? */
/* Is /dev/shm/<base> mapped by any process we can see? Reads every
** /proc/PID/maps: independent of the segment's layout and of pid reuse.
** Unreadable processes (another user's) count as not mapping it. */
static bool segment_mapped(const char *base)
{
    char want[NAME_MAX + 16], path[sizeof "/proc//maps" + NAME_MAX], line[4096];
    DIR *proc = opendir("/proc");
    bool mapped = false;
    struct dirent *de;

    if (!proc)
        return true;            /* cannot tell: keep it */
    snprintf(want, sizeof want, "/dev/shm/%s", base);
    size_t wlen = strlen(want);
    while (!mapped && (de = readdir(proc)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/maps", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f)) {
            char *at = strstr(line, want);
            /* the name ends the line (maybe " (deleted)" follows) */
            if (at && (at[wlen] == '\n' || at[wlen] == ' ' || at[wlen] == '\0')) {
                mapped = true;
                break;
            }
        }
        fclose(f);
    }
    closedir(proc);
    return mapped;
}

static bool segment_stale(int fd, const char *base)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return false;
    if ((uint64_t)st.st_size < sizeof(heap__hdr_t)) {
        /* Never initialized: a creator may be between shm_open and
        ** ftruncate right now; only old ones are stale. */
        return time(NULL) - st.st_mtime > STALE_PARTIAL_AGE_S;
    }
    size_t bytes = round_up(sizeof(heap__hdr_t), HEAP__PAGE_BYTES);
    heap__hdr_t *hdr = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (hdr == MAP_FAILED)
        return false;
    bool stale, other_version = false;
    uint64_t magic = __atomic_load_n(&hdr->magic, __ATOMIC_ACQUIRE);
    if (magic == 0) {
        stale = time(NULL) - st.st_mtime > STALE_PARTIAL_AGE_S;
    } else if (magic != HEAP__MAGIC) {
        stale = false;   /* not ours to judge */
    } else if (hdr->version != HEAP__LAYOUT_VERSION) {
        /* Another heapsim version's heap: its process table may differ from
        ** ours, so ask the system instead whether anyone still maps it
        ** (below, once our own look at the header is unmapped). */
        other_version = true;
        stale = false;
    } else {
        stale = true;
        for (uint32_t i = 0; i < HEAP_MAX_PROCS && stale; i++) {
            const heap__proc_t *p = &hdr->procs[i];
            if (__atomic_load_n(&p->state, __ATOMIC_SEQ_CST) != HEAP__PROC_FREE &&
                !heap__pid_dead(p->pid, p->start_ticks, true))
                stale = false;
        }
    }
    munmap(hdr, bytes);
    if (other_version)
        stale = time(NULL) - st.st_mtime > STALE_PARTIAL_AGE_S && !segment_mapped(base);
    return stale;
}

int heap_clean_stale(void (*report)(void *arg, const char *name), void *arg)
{
    const char *prefix = shm_prefix();
    size_t plen = strlen(prefix);
    DIR *dir = opendir("/dev/shm");
    if (!dir)
        return -errno;
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, prefix, plen) != 0)
            continue;
        char name[NAME_MAX + 2];
        snprintf(name, sizeof name, "/%s", de->d_name);
        int fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
            continue;
        bool stale = segment_stale(fd, de->d_name);
        close(fd);
        if (stale && shm_unlink(name) == 0) {
            removed++;
            if (report)
                report(arg, name);
        }
    }
    closedir(dir);
    return removed;
}

/* ---- Roots ---------------------------------------------------------- */

static void set_error(heap_t *h, int rc)
{
    __atomic_store_n(&h->proc->last_error, rc, __ATOMIC_RELAXED);
}

int heap_last_error(const heap_t *h)
{
    return __atomic_load_n(&h->proc->last_error, __ATOMIC_RELAXED);
}

/* A root object of `capacity` slots, lock held on return iff non-NULL. */
static struct heap_roots *roots_alloc_locked(heap_t *h, uint32_t capacity, uint32_t kind)
{
    uint64_t bytes = sizeof(struct heap_roots) + (uint64_t)capacity * sizeof(heap_ref_t);
    for (int attempt = 0;; attempt++) {
        heap__lock(h);
        heap_ref_t ref = heap__alloc_direct_locked(h, bytes);
        if (ref) {
            struct heap_roots *r = heap_ptr(h, ref);
            r->self = ref;
            r->next = r->prev = 0;
            r->depth = kind == HEAP__GLOBALS_MAGIC ? capacity : 0;
            r->capacity = capacity;
            r->proc_index = h->proc_index;
            r->attach_id = h->attach_id;
            r->kind = kind;
            return r;
        }
        heap__unlock(h);
        if (attempt > 0 || !h->entered) {
            set_error(h, HEAP_EOOM);
            return NULL;
        }
        heap__collect(h, HEAP__GC_BY_OOM);
    }
}

static heap_roots_t *roots_new_here(heap_t *h, uint32_t capacity)
{
    struct heap_roots *r = roots_alloc_locked(h, capacity, HEAP__ROOTS_MAGIC);
    if (!r)
        return NULL;
    heap__fault(h, HEAP__FP_ROOTS_LINK);
    heap_ref_t head = h->proc->roots_head;
    r->next = head;
    if (head)
        ((struct heap_roots *)heap_ptr(h, head))->prev = r->self;
    h->proc->roots_head = r->self;   /* commit */
    heap__unlock(h);
    return r;
}

static void roots_destroy_here(heap_t *h, heap_roots_t **roots_p)
{
    if (!roots_p || !*roots_p)
        return;
    struct heap_roots *r = *roots_p;
    *roots_p = NULL;
    heap__lock(h);
    if (r->kind == HEAP__ROOTS_MAGIC && r->attach_id == h->attach_id) {
        if (r->prev)
            ((struct heap_roots *)heap_ptr(h, r->prev))->next = r->next;
        else
            h->proc->roots_head = r->next;
        if (r->next)
            ((struct heap_roots *)heap_ptr(h, r->next))->prev = r->prev;
        r->kind = HEAP__ROOTS_DEAD;
        r->depth = 0;
    }
    heap__unlock(h);
}

heap_ref_t *heap_roots_push(heap_roots_t *r, uint32_t n)
{
    if (n > r->capacity - r->depth) {
        heap__hdr_t *hdr = (heap__hdr_t *)((char *)r - r->self);
        __atomic_store_n(&hdr->procs[r->proc_index].last_error, HEAP_EROOTS,
                         __ATOMIC_RELAXED);
        return NULL;
    }
    heap_ref_t *slots = r->slots + r->depth;
    memset(slots, 0, (size_t)n * sizeof(heap_ref_t));
    r->depth += n;
    return slots;
}

void heap_roots_pop(heap_roots_t *r, uint32_t n)
{
    r->depth = n <= r->depth ? r->depth - n : 0;
}

uint32_t heap_roots_depth(const heap_roots_t *r)
{
    return r->depth;
}

static heap_ref_t *globals_here(heap_t *h, uint32_t n)
{
    if (h->proc->globals) {
        struct heap_roots *g = heap_ptr(h, h->proc->globals);
        if (n <= g->capacity)
            return g->slots;
        set_error(h, -EINVAL);
        return NULL;
    }
    struct heap_roots *g = roots_alloc_locked(h, n, HEAP__GLOBALS_MAGIC);
    if (!g)
        return NULL;
    h->proc->globals = g->self;
    heap__unlock(h);
    return g->slots;
}

const uint32_t *heap_safepoint_word(heap_t *h)
{
    return &h->hdr->poll;
}

void heap_set_interrupt_hook(heap_t *h, heap_interrupt_fn fn, void *arg)
{
    __atomic_store_n(&h->interrupt_pending, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&h->view.stw_word, &h->hdr->poll, __ATOMIC_SEQ_CST);
    h->interrupt_fn = fn;
    h->interrupt_arg = arg;
}

void heap_interrupt(heap_t *h)
{
    if (!h->interrupt_fn)
        return;
    h->interrupt_word = HEAP__POLL_STW;   /* the allocation fast path looks at that bit */
    __atomic_store_n(&h->interrupt_pending, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&h->view.stw_word, &h->interrupt_word, __ATOMIC_SEQ_CST);
}

void heap__safepoint_slow(heap_t *h)
{
    /* On the system stack (heap_set_stack_runner) the hook, which may end
    ** the goroutine, waits: the next poll on the goroutine's own stack
    ** delivers it (the word stays pointed at interrupt_word). */
    if (!h->on_system_stack &&
        __atomic_exchange_n(&h->interrupt_pending, 0, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(&h->view.stw_word, &h->hdr->poll, __ATOMIC_SEQ_CST);
        if (h->interrupt_fn)
            h->interrupt_fn(h->interrupt_arg);   /* may not return */
    } else if (!__atomic_load_n(&h->interrupt_pending, __ATOMIC_SEQ_CST) &&
               __atomic_load_n(&h->view.stw_word, __ATOMIC_SEQ_CST) != &h->hdr->poll) {
        __atomic_store_n(&h->view.stw_word, &h->hdr->poll, __ATOMIC_SEQ_CST);
    }
    heap__park(h);
}

/* ---- Pools ---------------------------------------------------------- */

bool heap__pool_valid(heap_t *h, heap_ref_t ref, uint32_t i)
{
    if (heap__check_ref(h, ref, true, NULL, 0) != 0)
        return false;
    const struct heap_pool *p = heap_ptr(h, ref);
    if (p->kind != HEAP__POOL_MAGIC || p->self != ref || p->proc_index != i ||
        p->half == 0 || p->half > HEAP_POOL_MAX_CAPACITY)
        return false;
    uint64_t room = heap_obj_size(h, ref);
    return sizeof(struct heap_pool) + 2 * (uint64_t)p->half * sizeof(heap_ref_t) <= room;
}

static heap_pool_t *pool_new_here(heap_t *h, uint32_t capacity)
{
    if (capacity == 0 || capacity > HEAP_POOL_MAX_CAPACITY) {
        set_error(h, -EINVAL);
        return NULL;
    }
    uint64_t bytes = sizeof(struct heap_pool) + 2 * (uint64_t)capacity * sizeof(heap_ref_t);
    heap_ref_t ref = 0;
    for (int attempt = 0;; attempt++) {
        heap__lock(h);
        ref = heap__alloc_direct_locked(h, bytes);
        if (ref)
            break;
        heap__unlock(h);
        if (attempt > 0 || !h->entered) {
            set_error(h, HEAP_EOOM);
            return NULL;
        }
        heap__collect(h, HEAP__GC_BY_OOM);
    }
    /* Memory handed out is zero: every slot is nil. */
    struct heap_pool *p = heap_ptr(h, ref);
    p->self = ref;
    p->prev = 0;
    p->counts = heap__pool_counts(0, 0, 0);
    p->half = capacity;
    p->proc_index = h->proc_index;
    p->attach_id = h->attach_id;
    p->kind = HEAP__POOL_MAGIC;
    heap_ref_t head = h->proc->pools_head;
    p->next = head;
    if (head)
        ((struct heap_pool *)heap_ptr(h, head))->prev = ref;
    h->proc->pools_head = ref;   /* commit */
    heap__unlock(h);
    return (heap_pool_t *)p;
}

static void pool_destroy_here(heap_t *h, heap_pool_t **pool_p)
{
    if (!pool_p || !*pool_p)
        return;
    struct heap_pool *p = (struct heap_pool *)*pool_p;
    *pool_p = NULL;
    heap__lock(h);
    if (p->kind == HEAP__POOL_MAGIC && p->attach_id == h->attach_id) {
        if (p->prev)
            ((struct heap_pool *)heap_ptr(h, p->prev))->next = p->next;
        else
            h->proc->pools_head = p->next;
        if (p->next)
            ((struct heap_pool *)heap_ptr(h, p->next))->prev = p->prev;
        p->kind = HEAP__POOL_DEAD;
    }
    heap__unlock(h);
}

bool heap_pool_put(heap_pool_t *pool, heap_ref_t ref)
{
    struct heap_pool *p = (struct heap_pool *)pool;
    uint64_t c = p->counts;
    uint32_t half = heap__pool_primary_half(c), n = heap__pool_primary_count(c);
    if (ref == 0 || n >= p->half)
        return false;
    /* Every slot past a half's count is nil. */
    assert(p->slots[(uint64_t)half * p->half + n] == 0);
    p->slots[(uint64_t)half * p->half + n] = ref;
    __atomic_store_n(&p->counts, heap__pool_counts(half, n + 1, heap__pool_victim_count(c)),
                     __ATOMIC_RELAXED);
    return true;
}

heap_ref_t heap_pool_get(heap_pool_t *pool)
{
    struct heap_pool *p = (struct heap_pool *)pool;
    uint64_t c = p->counts;
    uint32_t half = heap__pool_primary_half(c);
    uint32_t n = heap__pool_primary_count(c), v = heap__pool_victim_count(c);
    heap_ref_t ref = 0;
    while (!ref && n > 0) {
        heap_ref_t *slot = &p->slots[(uint64_t)half * p->half + --n];
        ref = *slot;
        *slot = 0;
    }
    while (!ref && v > 0) {
        heap_ref_t *slot = &p->slots[(uint64_t)(half ^ 1) * p->half + --v];
        ref = *slot;
        *slot = 0;
    }
    __atomic_store_n(&p->counts, heap__pool_counts(half, n, v), __ATOMIC_RELAXED);
    return ref;
}

static int pool_resize_here(heap_t *h, heap_pool_t **pool_p, uint32_t capacity)
{
    heap_pool_t *fresh = heap_pool_new(h, capacity);
    if (!fresh)
        return heap_last_error(h);
    /* From here to the end there is no safepoint: nothing rotates. */
    struct heap_pool *old = (struct heap_pool *)*pool_p;
    struct heap_pool *p = (struct heap_pool *)fresh;
    uint64_t c = old->counts;
    uint32_t half = heap__pool_primary_half(c);
    uint32_t n = heap__pool_primary_count(c), v = heap__pool_victim_count(c);
    if (n > capacity || v > capacity) {
        heap_pool_destroy(h, &fresh);
        set_error(h, -EINVAL);
        return -EINVAL;
    }
    memcpy(&p->slots[0], &old->slots[(uint64_t)half * old->half], (size_t)n * sizeof(heap_ref_t));
    memcpy(&p->slots[capacity], &old->slots[(uint64_t)(half ^ 1) * old->half],
           (size_t)v * sizeof(heap_ref_t));
    __atomic_store_n(&p->counts, heap__pool_counts(0, n, v), __ATOMIC_RELAXED);
    heap_pool_destroy(h, pool_p);
    *pool_p = fresh;
    return 0;
}

uint32_t heap_pool_capacity(const heap_pool_t *pool)
{
    return ((const struct heap_pool *)pool)->half;
}

void heap_pool_counts(const heap_pool_t *pool, uint32_t *primary, uint32_t *victim)
{
    uint64_t c = __atomic_load_n(&((const struct heap_pool *)pool)->counts, __ATOMIC_RELAXED);
    if (primary)
        *primary = heap__pool_primary_count(c);
    if (victim)
        *victim = heap__pool_victim_count(c);
}

/* ---- Settings and statistics ---------------------------------------- */

void heap_set_gc_hook(heap_t *h, heap_gc_hook_fn fn, void *arg)
{
    h->gc_hook = fn;
    h->gc_hook_arg = arg;
}

static void atomic_max(uint64_t *p, uint64_t v)
{
    uint64_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v > old && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED,
                                                   __ATOMIC_RELAXED))
        ;
}

void heap_set_stack_bytes(heap_t *h, uint64_t scan_bytes, uint64_t inuse_bytes)
{
    /* Only the heap's own thread reports stacks (THREADING in heap.h): a
    ** second reporter, such as a sampling thread, would overwrite the
    ** runtime's figures with other ones. */
    assert(pthread_equal(pthread_self(), h->thread));
    heap__atomic_store(&h->proc->stack_bytes, scan_bytes);
    heap__proc_set_max_stack(h->hdr, h->proc, inuse_bytes);
    atomic_max(&h->proc->hwm_stack_bytes, scan_bytes);
}

void heap__proc_set_max_stack(heap__hdr_t *hdr, heap__proc_t *p, uint64_t inuse_bytes)
{
    /* Go's addScannableStack: the total moves with every stack that grows,
    ** shrinks, starts or ends, so that revise() and the memory limit see
    ** the stack space in use now, not as of the last cycle. Unsigned
    ** wrap-around makes the difference of a shrink a subtraction. */
    uint64_t old = __atomic_exchange_n(&p->max_stack_bytes, inuse_bytes, __ATOMIC_RELAXED);
    if (old != inuse_bytes)
        __atomic_add_fetch(&hdr->pacer_max_stack_bytes, inuse_bytes - old, __ATOMIC_RELAXED);
}

void heap_set_stack_scan(heap_t *h, heap_stack_scan_fn fn, void *arg)
{
    h->stack_scan = fn;
    h->stack_scan_arg = fn ? arg : NULL;
}

void heap__alloc_now(heap_t *h, uint64_t *bytes_out, uint64_t *objects_out)
{
    heap__hdr_t *hdr = h->hdr;
    uint64_t bytes = heap__atomic_load(&hdr->retired_alloc_bytes);
    uint64_t objects = heap__atomic_load(&hdr->retired_alloc_objects);
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        bytes += heap__atomic_load(&p->alloc_bytes);
        objects += heap__atomic_load(&p->alloc_objects);
    }
    uint64_t at_gc = heap__atomic_load(&hdr->alloc_bytes_at_gc);
    uint64_t objs_at_gc = heap__atomic_load(&hdr->alloc_objects_at_gc);
    *bytes_out = heap__atomic_load(&hdr->marked_bytes) + (bytes > at_gc ? bytes - at_gc : 0);
    *objects_out = heap__atomic_load(&hdr->marked_objects) +
                   (objects > objs_at_gc ? objects - objs_at_gc : 0);
}

void heap_hwm_reset(heap_t *h)
{
    uint64_t bytes, objects;
    heap__alloc_now(h, &bytes, &objects);
    heap__atomic_store(&h->proc->hwm_alloc_bytes, bytes);
    heap__atomic_store(&h->proc->hwm_objects, objects);
    heap__atomic_store(&h->proc->hwm_stack_bytes, heap__atomic_load(&h->proc->stack_bytes));
}

void heap_hwm_read(heap_t *h, heap_hwm_t *out)
{
    uint64_t bytes, objects;
    heap__alloc_now(h, &bytes, &objects);
    uint64_t b = heap__atomic_load(&h->proc->hwm_alloc_bytes);
    uint64_t o = heap__atomic_load(&h->proc->hwm_objects);
    uint64_t s = heap__atomic_load(&h->proc->hwm_stack_bytes);
    uint64_t stack_now = heap__atomic_load(&h->proc->stack_bytes);
    out->heap_alloc_bytes = b > bytes ? b : bytes;
    out->heap_objects = o > objects ? o : objects;
    out->stack_bytes = s > stack_now ? s : stack_now;
}

void heap_set_gogc(heap_t *h, int gogc)
{
    heap__lock(h);
    __atomic_store_n(&h->hdr->gogc, gogc, __ATOMIC_RELAXED);
    heap__pacer_update_locked(h);
    heap__unlock(h);
}

void heap_set_memory_limit(heap_t *h, uint64_t bytes)
{
    heap__lock(h);
    heap__atomic_store(&h->hdr->memory_limit_bytes, bytes);
    heap__pacer_update_locked(h);
    heap__unlock(h);
}

void heap__set_fault_hook(heap_t *h, heap__fault_fn fn, void *arg)
{
    h->fault_fn = fn;
    h->fault_arg = arg;
}

void heap_stats_read(heap_t *h, heap_stats_t *st)
{
    heap__hdr_t *hdr = h->hdr;
    memset(st, 0, sizeof *st);
    uint64_t bytes = heap__atomic_load(&hdr->retired_alloc_bytes);
    uint64_t objects = heap__atomic_load(&hdr->retired_alloc_objects);
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        heap__proc_t *p = &hdr->procs[i];
        bytes += heap__atomic_load(&p->alloc_bytes);
        objects += heap__atomic_load(&p->alloc_objects);
        if (__atomic_load_n(&p->state, __ATOMIC_RELAXED) != HEAP__PROC_FREE) {
            st->nprocs++;
            st->stack_bytes += heap__atomic_load(&p->stack_bytes);
            st->max_stack_bytes += heap__atomic_load(&p->max_stack_bytes);
        }
    }
    st->total_alloc_bytes = bytes;
    st->total_alloc_objects = objects;
    uint64_t marked = heap__atomic_load(&hdr->marked_bytes);
    uint64_t at_gc = heap__atomic_load(&hdr->alloc_bytes_at_gc);
    st->heap_alloc_bytes = marked + (bytes > at_gc ? bytes - at_gc : 0);
    uint64_t inuse_pages = heap__atomic_load(&hdr->inuse_pages);
    st->heap_inuse_bytes = inuse_pages << HEAP__PAGE_SHIFT;
    uint64_t committed = __atomic_load_n(&hdr->commit_page, __ATOMIC_RELAXED);
    uint64_t heap_pages = committed > hdr->first_page ? committed - hdr->first_page : 0;
    st->heap_sys_bytes = (heap_pages << HEAP__PAGE_SHIFT) + heap__metadata_bytes(hdr);
    st->heap_max_bytes = hdr->seg_bytes;
    st->heap_released_bytes = heap__atomic_load(&hdr->released_pages) << HEAP__PAGE_SHIFT;
    st->heap_live_bytes = marked;
    uint64_t goal = heap__goal_bytes(h);
    st->heap_goal_bytes = goal == UINT64_MAX ? 0 : goal;
    st->num_gc = heap__atomic_load(&hdr->num_gc);
    st->pause_total_ns = heap__atomic_load(&hdr->pause_total_ns);
    st->pause_max_ns = heap__atomic_load(&hdr->pause_max_ns);
    st->gogc = __atomic_load_n(&hdr->gogc, __ATOMIC_RELAXED);
    st->proc_alloc_bytes = heap__atomic_load(&h->proc->alloc_bytes);
    st->proc_alloc_objects = heap__atomic_load(&h->proc->alloc_objects);
}

/* ---- The slow paths on the system stack (heap_set_stack_runner) ------- */

/* One call of any of the functions below, carried to the system stack. */
typedef struct slow_call {
    heap_t *h;
    uint32_t n;
    void *ptr_in;          /* roots_p / pool_p */
    void *ptr_out;
    int rc;
} slow_call_t;

static void roots_new_thunk(void *p)
{
    slow_call_t *c = p;
    c->ptr_out = roots_new_here(c->h, c->n);
}
static void roots_destroy_thunk(void *p)
{
    slow_call_t *c = p;
    roots_destroy_here(c->h, c->ptr_in);
}
static void globals_thunk(void *p)
{
    slow_call_t *c = p;
    c->ptr_out = globals_here(c->h, c->n);
}
static void pool_new_thunk(void *p)
{
    slow_call_t *c = p;
    c->ptr_out = pool_new_here(c->h, c->n);
}
static void pool_destroy_thunk(void *p)
{
    slow_call_t *c = p;
    pool_destroy_here(c->h, c->ptr_in);
}
static void pool_resize_thunk(void *p)
{
    slow_call_t *c = p;
    c->rc = pool_resize_here(c->h, c->ptr_in, c->n);
}

heap_roots_t *heap_roots_new(heap_t *h, uint32_t capacity)
{
    slow_call_t c = {.h = h, .n = capacity};
    heap__systemstack(h, roots_new_thunk, &c);
    return c.ptr_out;
}

void heap_roots_destroy(heap_t *h, heap_roots_t **roots_p)
{
    slow_call_t c = {.h = h, .ptr_in = roots_p};
    heap__systemstack(h, roots_destroy_thunk, &c);
}

heap_ref_t *heap_globals(heap_t *h, uint32_t n)
{
    if (h->proc->globals) {   /* the common case: no lock */
        struct heap_roots *g = heap_ptr(h, h->proc->globals);
        if (n <= g->capacity)
            return g->slots;
    }
    slow_call_t c = {.h = h, .n = n};
    heap__systemstack(h, globals_thunk, &c);
    return c.ptr_out;
}

heap_pool_t *heap_pool_new(heap_t *h, uint32_t capacity)
{
    slow_call_t c = {.h = h, .n = capacity};
    heap__systemstack(h, pool_new_thunk, &c);
    return c.ptr_out;
}

void heap_pool_destroy(heap_t *h, heap_pool_t **pool_p)
{
    slow_call_t c = {.h = h, .ptr_in = pool_p};
    heap__systemstack(h, pool_destroy_thunk, &c);
}

int heap_pool_resize(heap_t *h, heap_pool_t **pool_p, uint32_t capacity)
{
    slow_call_t c = {.h = h, .ptr_in = pool_p, .n = capacity};
    heap__systemstack(h, pool_resize_thunk, &c);
    return c.rc;
}
