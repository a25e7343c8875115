/*
** shm_heap/heap_test.c -- unit tests of the heap's contract (heap.h), one
** process plus forked children where the contract is about processes.
*/
#include "shm_heap/heap.h"
#include "shm_heap/heap_int.h"
#include "shm_heap/heap_testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MiB ((uint64_t)1 << 20)

/* The collector every heap of this test gets: main runs the suite once
** with each. */
static int g_collector = HEAP_COLLECTOR_STW;

static heap_t *open_heap(const char *token, uint64_t max_bytes, int gogc, uint64_t limit)
{
    char name[128];
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.collector = g_collector;
    cfg.heap_max_bytes = max_bytes;
    cfg.gogc = gogc;
    cfg.memory_limit_bytes = limit;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, token), &cfg, true, &h), 0, heap_strerror);
    return h;
}

static heap_t *attach_heap(const char *token)
{
    char name[128];
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, token), NULL, false, &h), 0, heap_strerror);
    return h;
}

static heap_gc_cycle_t last_cycle(heap_t *h)
{
    heap_stats_t st;
    heap_stats_read(h, &st);
    REQUIRE(st.num_gc > 0);
    heap_gc_cycle_t c;
    REQUIRE(heap_gc_history(h, (uint32_t)st.num_gc - 1, &c, 1) == 1);
    REQUIRE((uint64_t)c.fields.cycle == st.num_gc);
    return c;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i])
            return false;
    }
    return true;
}

/* ---- Size classes --------------------------------------------------- */

static void test_size_classes(void)
{
    uint32_t prev = 0;
    for (uint32_t cls = 1; cls < HEAP__NCLASSES; cls++) {
        const heap__class_t *c = &heap__classes[cls];
        REQUIRE(c->elem_bytes % 8 == 0 && c->elem_bytes > prev);
        prev = c->elem_bytes;
        uint64_t span = (uint64_t)c->npages * HEAP__PAGE_BYTES;
        REQUIRE(c->nelems == span / c->elem_bytes && c->nelems >= 1 && c->nelems <= HEAP__MAX_NELEMS);
        REQUIRE((span % c->elem_bytes) * 8 <= span);   /* tail waste <= 12.5% */
        for (uint64_t off = 0; off < (uint64_t)c->nelems * c->elem_bytes; off++)
            REQUIRE_MSG(((off * c->div_magic) >> 32) == off / c->elem_bytes,
                   "class %u offset %llu: magic division wrong", cls, (unsigned long long)off);
    }
    REQUIRE(prev == HEAP_MAX_SMALL_BYTES);
    REQUIRE(heap__classes[3].elem_bytes == 24 && heap__classes[3].nelems == 341);

    heap_t *h = open_heap("classes", 64 * MiB, 100, 0);
    REQUIRE(heap__footprint_bytes(h, 0, 0) == 8);
    for (uint32_t cls = 1; cls < HEAP__NCLASSES; cls++) {
        uint32_t elem = heap__classes[cls].elem_bytes;
        REQUIRE(heap__footprint_bytes(h, 0, elem) == elem);
        REQUIRE(heap__footprint_bytes(h, 0, elem - 1) == elem);
        if (cls + 1 < HEAP__NCLASSES)
            REQUIRE(heap__footprint_bytes(h, 0, elem + 1) == heap__classes[cls + 1].elem_bytes);
    }
    REQUIRE(heap__footprint_bytes(h, 2, 0) == 16);
    REQUIRE(heap__footprint_bytes(h, 0, HEAP_MAX_SMALL_BYTES) == HEAP_MAX_SMALL_BYTES);
    REQUIRE(heap__footprint_bytes(h, 0, HEAP_MAX_SMALL_BYTES + 1) == 5 * HEAP__PAGE_BYTES);
    heap_close(&h, true);
}

/* Go's own table, read from the Go tree this model follows ($HEAP_GO_ROOT,
** default /usr/lib/go-1.19): class_to_size, class_to_allocnpages and the
** two size -> class lookup tables must be ours, entry for entry. */
static int go_table(const char *src, const char *name, uint32_t *out, int max)
{
    char key[64];
    snprintf(key, sizeof key, "var %s = ", name);
    const char *p = strstr(src, key);
    REQUIRE_MSG(p != NULL, "%s not in sizeclasses.go", name);
    p = strchr(p, '{');
    REQUIRE(p != NULL);
    int n = 0;
    for (p++; *p && *p != '}';) {
        char *end;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        REQUIRE(n < max);
        out[n++] = (uint32_t)v;
        p = end;
    }
    return n;
}

static void test_size_classes_are_go(void)
{
    const char *root = getenv("HEAP_GO_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/VERSION", root ? root : "/usr/lib/go-1.19");
    FILE *f = fopen(path, "r");
    REQUIRE_MSG(f != NULL, "%s: the Go tree the model follows is missing", path);
    char version[64] = "";
    REQUIRE(fgets(version, sizeof version, f) != NULL);
    fclose(f);
    size_t vlen = strlen(HEAP_GO_VERSION);
    REQUIRE_MSG(strncmp(version, HEAP_GO_VERSION, vlen) == 0 &&
           (version[vlen] == '.' || version[vlen] == '\n' || version[vlen] == 0),
           "%s is %s, the model follows %s", path, version, HEAP_GO_VERSION);

    snprintf(path, sizeof path, "%s/src/runtime/sizeclasses.go", root ? root : "/usr/lib/go-1.19");
    f = fopen(path, "r");
    REQUIRE_MSG(f != NULL, "%s missing", path);
    static char src[1 << 17];
    size_t len = fread(src, 1, sizeof src - 1, f);
    fclose(f);
    src[len] = 0;

    uint32_t size[128], pages[128], c8[256], c128[512];
    REQUIRE(go_table(src, "class_to_size", size, 128) == HEAP__NCLASSES);
    REQUIRE(go_table(src, "class_to_allocnpages", pages, 128) == HEAP__NCLASSES);
    for (uint32_t cls = 1; cls < HEAP__NCLASSES; cls++) {
        REQUIRE_MSG(heap__classes[cls].elem_bytes == size[cls] && heap__classes[cls].npages == pages[cls],
               "class %u: ours %u bytes %u pages, Go's %u %u", cls,
               heap__classes[cls].elem_bytes, heap__classes[cls].npages, size[cls], pages[cls]);
    }
    int n8 = go_table(src, "size_to_class8", c8, 256);
    int n128 = go_table(src, "size_to_class128", c128, 512);
    REQUIRE(n8 == 1024 / 8 + 1 && n128 == (32768 - 1024) / 128 + 1);
    heap_t *h = open_heap("goclasses", 64 * MiB, 100, 0);
    for (uint32_t bytes = 1; bytes <= HEAP_MAX_SMALL_BYTES; bytes++) {
        uint32_t go = bytes <= 1024 - 8 ? c8[(bytes + 7) / 8] : c128[(bytes - 1024 + 127) / 128];
        REQUIRE_MSG(heap__size_class(h, bytes) == go, "%u bytes: class %u, Go's %u", bytes,
               heap__size_class(h, bytes), go);
    }
    heap_close(&h, true);
}

/* ---- Names, open and close ------------------------------------------ */

static void test_names_and_open_errors(void)
{
    char buf[128];
    REQUIRE(heap_segment_name("abc", buf, sizeof buf) != NULL);
    /* The test's own prefix (tu_init), inside the one it was given. */
    char want[160], mark[32];
    snprintf(want, sizeof want, "/%sabc", getenv("HEAPSIM_SHM_PREFIX"));
    snprintf(mark, sizeof mark, "t%d-", (int)getpid());
    REQUIRE_STR(buf, want);
    REQUIRE(strncmp(buf, "/heapsim-", 9) == 0 && strstr(buf, mark) != NULL);
    REQUIRE(strcmp(buf + strlen(buf) - 4, "-abc") == 0);
    REQUIRE(heap_segment_name("a/b", buf, sizeof buf) == NULL);
    char tiny[8];
    REQUIRE(heap_segment_name("abcdefgh", tiny, sizeof tiny) == NULL);

    heap_t *h = open_heap("errors", 64 * MiB, 100, 0), *h2 = NULL;
    heap_config_t cfg;
    heap_config_default(&cfg);
    REQUIRE(cfg.gogc == 100 && cfg.heap_max_bytes == 0 && cfg.memory_limit_bytes == 0);
    REQUIRE(heap_open(tu_segment(buf, sizeof buf, "errors"), &cfg, true, &h2) == -EEXIST);
    REQUIRE(heap_open(tu_segment(buf, sizeof buf, "nonesuch"), NULL, false, &h2) == -ENOENT);
    cfg.heap_max_bytes = 1 * MiB;
    REQUIRE(heap_open(tu_segment(buf, sizeof buf, "toosmall"), &cfg, true, &h2) == -EINVAL);
    REQUIRE(tu_shm_count() == 1);   /* the failed create left nothing */
    heap_close(&h, true);
    heap_close(&h, true);         /* NULL is fine */
    REQUIRE(tu_shm_count() == 0);

    /* Someone else's segment. */
    int fd = shm_open(tu_segment(buf, sizeof buf, "foreign"), O_RDWR | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, 4 * MiB) == 0);
    uint64_t junk = 0x1234567812345678ull;
    REQUIRE(pwrite(fd, &junk, sizeof junk, 0) == sizeof junk);
    close(fd);
    REQUIRE(heap_open(buf, NULL, false, &h2) == HEAP_EVERSION);
    REQUIRE(heap_unlink(buf) == 0);
    REQUIRE(heap_unlink(buf) == -ENOENT);

    REQUIRE(strcmp(heap_strerror(HEAP_EOOM), heap_strerror(HEAP_EROOTS)) != 0);
    REQUIRE(strstr(heap_strerror(-ENOENT), "No such") != NULL);

    /* HEAPSIM_PAGE_CACHE: unset, empty, 0 and 1 are taken; anything else
    ** is refused by name, and no segment is made. */
    char why[128];
    const char *good[] = { "", "0", "1" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        setenv("HEAPSIM_PAGE_CACHE", good[i], 1);
        REQUIRE(heap_env_check(why, sizeof why) == 0);
    }
    setenv("HEAPSIM_PAGE_CACHE", "on", 1);
    cfg.heap_max_bytes = 64 * MiB;   /* a heap it would make but for the variable */
    REQUIRE(heap_env_check(why, sizeof why) == HEAP_EENV);
    REQUIRE_MSG(strcmp(why, "HEAPSIM_PAGE_CACHE=on: expected 0 or 1") == 0, "why: %s", why);
    REQUIRE(heap_open(tu_segment(buf, sizeof buf, "env"), &cfg, true, &h2) == HEAP_EENV);
    REQUIRE(heap_unlink(buf) == -ENOENT);
    REQUIRE(strstr(heap_strerror(HEAP_EENV), "HEAPSIM_PAGE_CACHE") != NULL);
    unsetenv("HEAPSIM_PAGE_CACHE");
    REQUIRE(heap_env_check(why, sizeof why) == 0);
}

/* ---- Allocation ------------------------------------------------------ */

/* Pages of [addr, addr + len) in this process's page table
** (/proc/self/pagemap: bit 63, present). */
static size_t pages_present(const void *addr, size_t len)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uintptr_t first = (uintptr_t)addr / 4096, last = ((uintptr_t)addr + len - 1) / 4096;
    size_t n = 0;
    for (uintptr_t v = first; v <= last; v++) {
        uint64_t e = 0;
        if (pread(fd, &e, sizeof e, (off_t)(v * sizeof e)) == (ssize_t)sizeof e && (e >> 63) & 1)
            n++;
    }
    close(fd);
    return n;
}

/* heap_open maps the whole header, creating or attaching: the first stop
** of the world writes every process entry and steal queue, and a page
** first touched there faulted inside the first cycle's pause (1-1.4 ms
** where later pauses took 0.03-0.1 ms, on a VM whose faults cost 13-20
** us). */
static void test_header_mapped(void)
{
    heap_t *h = open_heap("hdrmap", 64 * MiB, 100, 0);
    size_t npages = (sizeof(heap__hdr_t) + 4095) / 4096;
    size_t have = pages_present(h->hdr, sizeof(heap__hdr_t));
    CHECK_MSG(have == npages, "creator: %zu of the header's %zu pages mapped after heap_open",
              have, npages);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        heap_t *a = NULL;
        char name[128];
        if (heap_open(tu_segment(name, sizeof name, "hdrmap"), NULL, false, &a) != 0)
            _exit(2);
        size_t got = pages_present(a->hdr, sizeof(heap__hdr_t));
        if (got != npages)
            fprintf(stderr, "heap_test: attacher: %zu of the header's %zu pages mapped after "
                            "heap_open\n", got, npages);
        heap_close(&a, false);
        _exit(got == npages ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "attacher: status %d", status);
    heap_close(&h, true);
}

static void test_alloc_sizes_and_zeroing(void)
{
    heap_t *h = open_heap("alloc", 128 * MiB, 100, 0);
    heap_enter(h);
    heap_roots_t *roots = heap_roots_new(h, 4096);
    REQUIRE(roots);

    static const size_t scalars[] = { 0, 1, 7, 8, 9, 16, 100, 1000, 1016, 1017, 4000,
                                      32760, 32761, 40000, 200000 };
    static const uint32_t nptrs_list[] = { 0, 1, 2, 7, 100 };
    int n = 0;
    heap_ref_t *slots = heap_roots_push(roots, 200);
    REQUIRE(slots);
    for (size_t a = 0; a < sizeof nptrs_list / sizeof *nptrs_list; a++) {
        for (size_t b = 0; b < sizeof scalars / sizeof *scalars; b++) {
            uint32_t np = nptrs_list[a];
            size_t sc = scalars[b];
            heap_ref_t r = heap_alloc(h, np, sc);
            REQUIRE(r != 0 && r % 8 == 0);
            REQUIRE(heap_obj_nptrs(h, r) == np);
            REQUIRE(heap_obj_size(h, r) == heap__footprint_bytes(h, np, sc));
            REQUIRE(heap_obj_size(h, r) >= np * 8 + sc);
            REQUIRE(all_zero(heap_ptr(h, r), np * 8 + sc));
            memset(heap_data(h, r, np), 0xAB, sc);
            slots[n++] = r;
        }
    }
    /* Garbage full of non-zero bytes, then reuse: everything must be zero. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 20000; i++) {
            size_t sc = (size_t)(i % 61) * 8;
            heap_ref_t r = heap_alloc(h, 1, sc);
            REQUIRE(r);
            memset(heap_ptr(h, r), 0xCD, 8 + sc);
        }
        for (int i = 0; i < 20; i++) {
            heap_ref_t r = heap_alloc(h, 3, 50000);
            REQUIRE(r);
            memset(heap_ptr(h, r), 0xCD, 3 * 8 + 50000);
        }
        REQUIRE_RC(heap_collect(h), 0, heap_strerror);
        for (int i = 0; i < 20000; i++) {
            size_t sc = (size_t)(i % 61) * 8;
            heap_ref_t r = heap_alloc(h, 1, sc);
            REQUIRE(r);
            REQUIRE_MSG(all_zero(heap_ptr(h, r), 8 + sc), "reused small object not zeroed");
        }
        for (int i = 0; i < 20; i++) {
            heap_ref_t r = heap_alloc(h, 3, 50000);
            REQUIRE(r);
            REQUIRE_MSG(all_zero(heap_ptr(h, r), 3 * 8 + 50000), "reused large object not zeroed");
        }
    }
    /* The rooted ones kept their bytes. */
    n = 0;
    for (size_t a = 0; a < sizeof nptrs_list / sizeof *nptrs_list; a++) {
        for (size_t b = 0; b < sizeof scalars / sizeof *scalars; b++) {
            heap_ref_t r = slots[n++];
            const unsigned char *d = heap_data(h, r, nptrs_list[a]);
            for (size_t i = 0; i < scalars[b]; i++)
                REQUIRE(d[i] == 0xAB);
            REQUIRE(heap_obj_size(h, r) == heap__footprint_bytes(h, nptrs_list[a], scalars[b]));
            REQUIRE(heap_obj_nptrs(h, r) == nptrs_list[a]);
        }
    }
    REQUIRE_HEAP_VERIFY(h);
    heap_leave(h);
    REQUIRE(heap_alloc(h, 1, 8) == 0 && heap_last_error(h) == -EINVAL);
    heap_roots_destroy(h, &roots);
    REQUIRE(roots == NULL);
    heap_close(&h, true);
}

/* No header in the slot: 16 bytes take the 16-byte class, 512 of them fill
** one 8 KiB span exactly; 32 KiB is a small object of Go's largest class. */
static void test_objects_as_go_counts_them(void)
{
    heap_t *h = open_heap("gocount", 64 * MiB, 100, 0);
    heap_enter(h);
    heap_ref_t *g = heap_globals(h, 4);
    heap_stats_t before, after;
    heap_stats_read(h, &before);
    heap_ref_t first = heap_alloc(h, 2, 0);
    REQUIRE(first && first % HEAP__PAGE_BYTES == 0);
    g[0] = first;
    heap_ref_t prev = first;
    for (int i = 1; i < 512; i++) {
        heap_ref_t r = heap_alloc(h, 2, 0);
        REQUIRE(r == first + 16 * (uint64_t)i);   /* one span, back to back */
        heap_write_ref(h, prev, 0, r);
        prev = r;
    }
    REQUIRE(prev + 16 == first + HEAP__PAGE_BYTES);
    heap__span_t *sp = heap__span(h, h->page_map[first >> HEAP__PAGE_SHIFT]);
    REQUIRE(sp->state == HEAP__SPAN_SMALL && sp->elem_bytes == 16 && sp->nelems == 512 &&
          sp->npages == 1);
    heap_ref_t next = heap_alloc(h, 2, 0);      /* the 513th: another span */
    REQUIRE(next && (next < first || next >= first + HEAP__PAGE_BYTES));
    heap_stats_read(h, &after);
    REQUIRE(after.total_alloc_bytes - before.total_alloc_bytes == 513 * 16);

    g[1] = heap_alloc(h, 1, HEAP_MAX_SMALL_BYTES - 8);   /* 32 KiB */
    sp = heap__span(h, h->page_map[g[1] >> HEAP__PAGE_SHIFT]);
    REQUIRE(sp->state == HEAP__SPAN_SMALL && sp->elem_bytes == HEAP_MAX_SMALL_BYTES &&
          sp->npages == 4 && sp->nelems == 1);
    REQUIRE(heap_obj_size(h, g[1]) == HEAP_MAX_SMALL_BYTES && heap_obj_nptrs(h, g[1]) == 1);
    heap_write_ref(h, g[1], 0, first);
    g[2] = heap_alloc(h, 0, HEAP_MAX_SMALL_BYTES + 1);   /* large: 5 pages */
    REQUIRE(heap_obj_size(h, g[2]) == 5 * HEAP__PAGE_BYTES);
    heap_stats_read(h, &before);
    REQUIRE(before.total_alloc_bytes - after.total_alloc_bytes ==
          HEAP_MAX_SMALL_BYTES + 5 * HEAP__PAGE_BYTES);

    g[0] = 0;
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);   /* the chain lives on through g[1] */
    heap_gc_cycle_t c = last_cycle(h);
    REQUIRE(c.fields.objects_live == 512 + 2);
    REQUIRE(c.fields.heap_live_bytes == 512 * 16 + HEAP_MAX_SMALL_BYTES + 5 * HEAP__PAGE_BYTES);
    REQUIRE(heap_obj_nptrs(h, first + 16 * 511) == 2);
    REQUIRE_HEAP_VERIFY(h);
    heap_leave(h);
    heap_close(&h, true);
}

static void test_roots_keep_objects_alive(void)
{
    heap_t *h = open_heap("roots", 64 * MiB, 100, 0);
    heap_enter(h);
    heap_roots_t *roots = heap_roots_new(h, 2048);
    heap_ref_t *slots = heap_roots_push(roots, 1000);
    for (uint32_t i = 0; i < 1000; i++) {
        slots[i] = heap_alloc(h, 1, 16);
        REQUIRE(slots[i]);
        *(uint64_t *)heap_data(h, slots[i], 1) = i;
        for (int g = 0; g < 5; g++)
            REQUIRE(heap_alloc(h, 0, 40));   /* garbage */
    }
    heap_stats_t st;
    heap_stats_read(h, &st);
    REQUIRE(st.heap_alloc_bytes == 1000 * 24 + 5000 * 48);
    REQUIRE(st.total_alloc_objects == 6000 && st.proc_alloc_objects == 6000);
    REQUIRE(st.num_gc == 0 && st.nprocs == 1);

    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_gc_cycle_t c = last_cycle(h);
    REQUIRE(c.fields.objects_live == 1000 && c.fields.heap_live_bytes == 1000 * 24);
    REQUIRE(c.fields.objects_freed >= 5000);
    heap_stats_read(h, &st);
    REQUIRE(st.heap_live_bytes == 1000 * 24 && st.heap_alloc_bytes == 1000 * 24);
    for (uint32_t i = 0; i < 1000; i++)
        REQUIRE(*(uint64_t *)heap_data(h, slots[i], 1) == i);
    REQUIRE_HEAP_VERIFY(h);

    /* A chain hanging off one root keeps all of it. */
    for (uint32_t i = 1; i < 1000; i++)
        heap_write_ref(h, slots[i - 1], 0, slots[i]);
    heap_roots_pop(roots, 999);
    REQUIRE(heap_roots_depth(roots) == 1);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    c = last_cycle(h);
    REQUIRE(c.fields.objects_live == 1000);
    heap_ref_t r = slots[0];
    for (uint32_t i = 0; i < 1000; i++, r = heap_read_ref(h, r, 0))
        REQUIRE(*(uint64_t *)heap_data(h, r, 1) == i);
    REQUIRE(r == 0);

    /* Cut the chain in the middle: the tail goes. */
    r = slots[0];
    for (int i = 0; i < 499; i++)
        r = heap_read_ref(h, r, 0);
    heap_write_ref(h, r, 0, 0);   /* nil slot */
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE(last_cycle(h).fields.objects_live == 500);
    REQUIRE_HEAP_VERIFY(h);

    heap_roots_pop(roots, 1);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    c = last_cycle(h);
    REQUIRE(c.fields.objects_live == 0 && c.fields.heap_live_bytes == 0);
    heap_stats_read(h, &st);
    REQUIRE(st.heap_alloc_bytes == 0);

    /* Overflow. */
    heap_roots_t *small = heap_roots_new(h, 4);
    REQUIRE(heap_roots_push(small, 3));
    REQUIRE(heap_roots_push(small, 2) == NULL && heap_last_error(h) == HEAP_EROOTS);
    REQUIRE(heap_roots_depth(small) == 3);
    REQUIRE(heap_roots_push(small, 0) != NULL);
    heap_roots_pop(small, 3);
    REQUIRE(heap_roots_depth(small) == 0);
    heap_roots_destroy(h, &small);
    heap_roots_destroy(h, &roots);
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
}

static void test_globals(void)
{
    heap_t *h = open_heap("globals", 64 * MiB, 100, 0);
    heap_enter(h);
    heap_ref_t *g = heap_globals(h, 8);
    REQUIRE(g && all_zero(g, 8 * sizeof *g));
    REQUIRE(heap_globals(h, 4) == g && heap_globals(h, 8) == g);
    REQUIRE(heap_globals(h, 9) == NULL && heap_last_error(h) == -EINVAL);
    for (int i = 0; i < 8; i++) {
        g[i] = heap_alloc(h, 2, 8);
        heap_ref_t child = heap_alloc(h, 0, 100);
        heap_write_ref(h, g[i], 1, child);   /* slot 0 stays nil */
    }
    for (int i = 0; i < 1000; i++)
        heap_alloc(h, 0, 64);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_gc_cycle_t c = last_cycle(h);
    REQUIRE(c.fields.objects_live == 16 && c.fields.globals_bytes >= (int64_t)(8 * sizeof(heap_ref_t)));
    g[3] = 0;
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE(last_cycle(h).fields.objects_live == 14);
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
}

static void test_large_objects(void)
{
    heap_t *h = open_heap("large", 256 * MiB, 100, 0);
    heap_enter(h);
    heap_roots_t *roots = heap_roots_new(h, 64);
    heap_ref_t *s = heap_roots_push(roots, 4);
    s[0] = heap_alloc(h, 5000, 1000);    /* large with many slots */
    REQUIRE(s[0] && heap_obj_nptrs(h, s[0]) == 5000 && heap_obj_size(h, s[0]) == 6 * 8192);
    for (int i = 0; i < 5000; i += 7) {
        heap_ref_t child = heap_alloc(h, 0, 24);
        REQUIRE(child);
        heap_write_ref(h, s[0], i, child);
    }
    s[1] = heap_alloc(h, 0, 3 * MiB);
    REQUIRE(s[1] && heap_obj_size(h, s[1]) == 3 * MiB);
    memset(heap_data(h, s[1], 0), 0x5A, 3 * MiB);
    s[2] = heap_alloc(h, 1, HEAP_MAX_SMALL_BYTES - 8);   /* exactly the biggest class */
    REQUIRE(s[2] && heap_obj_size(h, s[2]) == HEAP_MAX_SMALL_BYTES);
    REQUIRE(heap_obj_nptrs(h, s[2]) == 1);
    heap_write_ref(h, s[2], 0, s[1]);
    for (int i = 0; i < 50; i++)
        REQUIRE(heap_alloc(h, 0, 100000));
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_gc_cycle_t c = last_cycle(h);
    uint64_t want_objs = 3 + 715;
    REQUIRE((uint64_t)c.fields.objects_live == want_objs);
    uint64_t want_bytes = heap__footprint_bytes(h, 5000, 1000) + heap__footprint_bytes(h, 0, 3 * MiB) +
                          HEAP_MAX_SMALL_BYTES + 715 * 24;
    REQUIRE((uint64_t)c.fields.heap_live_bytes == want_bytes);
    REQUIRE_HEAP_VERIFY(h);
    const unsigned char *d = heap_data(h, s[1], 0);
    REQUIRE(d[0] == 0x5A && d[3 * MiB - 1] == 0x5A);

    heap_stats_t before, after;
    heap_stats_read(h, &before);
    s[0] = s[1] = s[2] = 0;
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_stats_read(h, &after);
    REQUIRE(last_cycle(h).fields.objects_live == 0);
    REQUIRE(after.heap_inuse_bytes + 3 * MiB < before.heap_inuse_bytes);
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
}

/* ---- Hook, history, stats ------------------------------------------- */

typedef struct hook_log {
    heap_gc_cycle_t cycles[64];
    int n;
} hook_log_t;

static void record_cycle(void *arg, const heap_gc_cycle_t *c)
{
    hook_log_t *log = arg;
    if (log->n < 64)
        log->cycles[log->n++] = *c;
}

static void test_hook_and_history(void)
{
    heap_t *h = open_heap("hook", 64 * MiB, 100, 0);
    hook_log_t log = { .n = 0 };
    heap_set_gc_hook(h, record_cycle, &log);
    heap_set_stack_bytes(h, 12345, 40960);   /* scanned; in use (maxStackScan) */
    heap_enter(h);
    heap_ref_t *g = heap_globals(h, 1);
    for (int round = 0; round < 10; round++) {
        g[0] = heap_alloc(h, 1, 100);
        for (int i = 0; i < 3000; i++) {
            heap_ref_t r = heap_alloc(h, 1, 200);
            heap_write_ref(h, r, 0, g[0]);
            if (i % 10 == 0)
                g[0] = r;
        }
        REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    }
    REQUIRE(log.n == 10);
    /* Not time(NULL): glibc's reads the coarse clock, up to a tick behind the
     * CLOCK_REALTIME the cycle's start was taken from (CI read 1796109115 s
     * for a cycle that began at 1796109116.0009 s). */
    struct timespec now_ts;
    REQUIRE(clock_gettime(CLOCK_REALTIME, &now_ts) == 0);
    uint64_t now_unix = (uint64_t)now_ts.tv_sec * 1000000000ull + (uint64_t)now_ts.tv_nsec;
    for (int i = 0; i < log.n; i++) {
        const heap_gc_cycle_t *c = &log.cycles[i];
        REQUIRE(c->fields.cycle == (uint32_t)i + 1 && c->fields.forced);
        REQUIRE(c->collector_pid == getpid() && c->fields.nprocs == 1);
        REQUIRE_MSG(c->fields.start_unix_ns + 3600ull * 1000000000ull > now_unix &&
                    (uint64_t)c->fields.start_unix_ns < now_unix + 1000000000ull,
                    "cycle %d: start_unix_ns %lld, now %llu ns, since_start_ns %lld",
                    i + 1, (long long)c->fields.start_unix_ns,
                    (unsigned long long)now_unix,
                    (long long)c->fields.since_start_ns);
        REQUIRE(i == 0 || c->fields.since_start_ns >= log.cycles[i - 1].fields.since_start_ns);
        if (g_collector == HEAP_COLLECTOR_STW)
            REQUIRE(c->fields.stw_ns >= c->fields.stop_ns + c->fields.mark_ns + c->fields.sweep_ns);
        else
            REQUIRE(c->fields.stw_ns >= c->fields.stop_ns + c->fields.sweep_ns);
        /* Both stops, summed as Go's PauseNs; the mark's CPU split. */
        REQUIRE(c->fields.concurrent == (g_collector == HEAP_COLLECTOR_CONCURRENT));
        REQUIRE(c->fields.stw_ns == c->fields.sweep_term_ns + c->fields.mark_term_ns);
        if (c->fields.concurrent) {
            REQUIRE(c->fields.sweep_term_ns > 0 && c->fields.mark_term_ns > 0);
            REQUIRE(c->fields.mark_assist_cpu_ns + c->fields.mark_bg_cpu_ns +
                        c->fields.mark_idle_cpu_ns > 0);
            REQUIRE(c->fields.heap_trigger_bytes > 0 && c->fields.heap_live_start_bytes > 0);
        } else {
            REQUIRE(c->fields.sweep_term_ns == 0 && c->fields.mark_assist_cpu_ns == 0);
            REQUIRE(c->fields.heap_live_start_bytes == c->fields.heap_live_end_bytes);
        }
        REQUIRE(c->fields.gc_cpu_fraction > 0.0 && c->fields.gc_cpu_fraction <= 1.0);
        REQUIRE(c->fields.heap_live_bytes <= c->fields.heap_end_bytes && c->fields.heap_end_bytes <= c->fields.heap_start_bytes);
        REQUIRE(c->fields.heap_goal_bytes >= HEAP_MIN_GOAL_BYTES);
        REQUIRE(c->fields.objects_live == 301 && c->fields.objects_freed >= 2700);
        REQUIRE(c->fields.heap_live_bytes == 300 * 208 + 112);
        REQUIRE(c->fields.stack_bytes == 12345 && c->fields.globals_bytes == 8);
        REQUIRE(c->fields.max_stack_bytes == 40960);
    }
    heap_gc_cycle_t hist[16];
    REQUIRE(heap_gc_history(h, 0, hist, 16) == 10);
    REQUIRE(memcmp(hist, log.cycles, 10 * sizeof *hist) == 0);
    REQUIRE(heap_gc_history(h, 7, hist, 16) == 3 && hist[0].fields.cycle == 8);
    REQUIRE(heap_gc_history(h, 2, hist, 2) == 2 && hist[1].fields.cycle == 4);
    REQUIRE(heap_gc_history(h, 10, hist, 16) == 0);

    heap_stats_t st;
    heap_stats_read(h, &st);
    REQUIRE(st.num_gc == 10 && st.pause_total_ns >= st.pause_max_ns && st.pause_max_ns > 0);
    REQUIRE(st.stack_bytes == 12345 && st.gogc == 100 && st.heap_max_bytes == 64 * MiB);
    REQUIRE(st.max_stack_bytes == 40960);
    REQUIRE(st.heap_goal_bytes == HEAP_MIN_GOAL_BYTES);
    REQUIRE(st.heap_sys_bytes >= st.heap_inuse_bytes && st.heap_inuse_bytes >= st.heap_alloc_bytes);
    REQUIRE(st.total_alloc_objects == 10 * 3001);
    heap_close(&h, true);
}

/* heap_stats_read() and heap_gc_history() from another thread while the
** heap's thread collects: counters never go back, history copies are
** never torn (every cycle of this workload has the same live set). */
typedef struct reader {
    heap_t *h;
    int stop;
    uint64_t reads, bad;
} reader_t;

static void *reader_main(void *arg)
{
    reader_t *r = arg;
    heap_gc_cycle_t hist[32];
    uint64_t last_gc = 0, last_total = 0;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        heap_stats_t st;
        heap_stats_read(r->h, &st);
        if (st.num_gc < last_gc || st.total_alloc_objects < last_total)
            r->bad++;
        last_gc = st.num_gc;
        last_total = st.total_alloc_objects;
        uint32_t after = st.num_gc > 32 ? (uint32_t)st.num_gc - 32 : 0;
        int n = heap_gc_history(r->h, after, hist, 32);
        for (int i = 0; i < n; i++) {
            if (hist[i].fields.cycle != after + 1 + (uint32_t)i || hist[i].fields.objects_live != 100 ||
                hist[i].fields.heap_live_bytes != 100 * 64 || !hist[i].fields.forced)
                r->bad++;
        }
        __atomic_store_n(&r->reads, r->reads + 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_stats_from_another_thread(void)
{
    heap_t *h = open_heap("reader", 64 * MiB, 100, 0);
    heap_enter(h);
    heap_ref_t *g = heap_globals(h, 100);
    for (int i = 0; i < 100; i++)
        g[i] = heap_alloc(h, 1, 48);
    reader_t r = { .h = h };
    pthread_t tid;
    REQUIRE(pthread_create(&tid, NULL, reader_main, &r) == 0);
    for (int round = 0; round < 300; round++) {
        for (int i = 0; i < 500; i++)
            heap_alloc(h, 0, 100);
        REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    }
    /* On a busy machine the reader may not have run yet: let it read. */
    while (__atomic_load_n(&r.reads, __ATOMIC_RELAXED) == 0)
        sched_yield();
    __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
    pthread_join(tid, NULL);
    printf("stats reader: %llu reads, %llu bad\n", (unsigned long long)r.reads,
           (unsigned long long)r.bad);
    REQUIRE(r.reads > 0 && r.bad == 0);
    heap_close(&h, true);
}

/* Allocate `garbage_bytes` in 1 KiB objects over `live_bytes` of rooted
** ones; returns the number of collections. */
static uint64_t pacing_run(const char *token, int gogc, uint64_t limit, uint64_t live_bytes,
                           uint64_t garbage_bytes, uint64_t *max_inuse)
{
    heap_t *h = open_heap(token, 256 * MiB, gogc, limit);
    /* The limit goal alone: how far the CPU limiter lets the heap run past
    ** it depends on how long pauses take on the machine. */
    heap__set_limiter(h, false);
    hook_log_t log = { .n = 0 };
    heap_set_gc_hook(h, record_cycle, &log);
    heap_enter(h);
    uint32_t nlive = (uint32_t)(live_bytes / 1024);
    heap_roots_t *roots = heap_roots_new(h, nlive + 1);
    heap_ref_t *slots = heap_roots_push(roots, nlive);
    for (uint32_t i = 0; i < nlive; i++)
        REQUIRE(slots[i] = heap_alloc(h, 0, 1000));
    *max_inuse = 0;
    for (uint64_t done = 0; done < garbage_bytes; done += 1024) {
        REQUIRE(heap_alloc(h, 1, 1000));
        if ((done & (256 * 1024 - 1)) == 0) {
            heap_stats_t st;
            heap_stats_read(h, &st);
            if (st.heap_inuse_bytes > *max_inuse)
                *max_inuse = st.heap_inuse_bytes;
        }
    }
    for (int i = 0; i < log.n; i++)
        REQUIRE(!log.cycles[i].fields.forced);
    heap_stats_t st;
    heap_stats_read(h, &st);
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
    return st.num_gc;
}

static void test_pacing(void)
{
    uint64_t inuse;
    uint64_t n25 = pacing_run("gogc25", 25, 0, 8 * MiB, 160 * MiB, &inuse);
    uint64_t n400 = pacing_run("gogc400", 400, 0, 8 * MiB, 160 * MiB, &inuse);
    uint64_t noff = pacing_run("gogcoff", HEAP_GOGC_OFF, 0, 8 * MiB, 160 * MiB, &inuse);
    printf("pacing: gogc=25 %llu cycles, gogc=400 %llu, off %llu\n", (unsigned long long)n25,
           (unsigned long long)n400, (unsigned long long)noff);
    REQUIRE(n400 >= 1 && n25 > 3 * n400);
    REQUIRE(noff == 0);

    /* gogc off: only heap_collect collects. Then turn it on at run time. */
    heap_t *h = open_heap("gogcset", 128 * MiB, HEAP_GOGC_OFF, 0);
    heap_enter(h);
    heap_stats_t st;
    heap_stats_read(h, &st);
    REQUIRE(st.gogc == HEAP_GOGC_OFF && st.heap_goal_bytes == 0);
    for (int i = 0; i < 20000; i++)
        heap_alloc(h, 0, 1000);
    heap_stats_read(h, &st);
    REQUIRE(st.num_gc == 0);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_stats_read(h, &st);
    REQUIRE(st.num_gc == 1);
    heap_set_gogc(h, 100);
    for (int i = 0; i < 20000; i++)
        heap_alloc(h, 0, 1000);
    heap_stats_read(h, &st);
    REQUIRE(st.num_gc > 1 && st.gogc == 100 && st.heap_goal_bytes == HEAP_MIN_GOAL_BYTES);
    heap_close(&h, true);
}

/* Go 1.19's goal: marked + (marked + stacks + globals) * GOGC/100, at
** least 4 MiB * GOGC/100; stacks are the stack scanned (lastStackScan),
** not the larger stack space in use (maxStackScan). */
static void test_pacer_goal(void)
{
    heap_t *h = open_heap("goal", 256 * MiB, 100, 0);
    heap_set_stack_bytes(h, 3 * MiB, 48 * MiB);
    heap_enter(h);
    heap_ref_t *g = heap_globals(h, 1000);
    REQUIRE(g);
    heap_roots_t *roots = heap_roots_new(h, 1024);
    heap_ref_t *s = heap_roots_push(roots, 1024);
    for (int i = 0; i < 1024; i++)
        REQUIRE(s[i] = heap_alloc(h, 0, 8192));
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    const uint64_t marked = 1024 * 8192, stacks = 3 * MiB, globals = 1000 * 8;
    heap_gc_cycle_t c = last_cycle(h);
    REQUIRE(c.fields.heap_live_bytes == marked && c.fields.stack_bytes == stacks && c.fields.globals_bytes == globals);
    REQUIRE(c.fields.max_stack_bytes == 48 * MiB);
    uint64_t want = marked + (marked + stacks + globals);
    REQUIRE_MSG((uint64_t)c.fields.heap_goal_bytes == want, "goal %llu, want %llu",
           (unsigned long long)c.fields.heap_goal_bytes, (unsigned long long)want);
    heap_stats_t st;
    heap_stats_read(h, &st);
    REQUIRE(st.heap_goal_bytes == want);
    heap_set_gogc(h, 50);
    heap_stats_read(h, &st);
    REQUIRE(st.heap_goal_bytes == marked + (marked + stacks + globals) * 50 / 100);

    /* A small heap: the minimum is 4 MiB scaled by GOGC. */
    heap_roots_pop(roots, 1024);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE(last_cycle(h).fields.heap_live_bytes == 0);
    heap_set_gogc(h, 25);
    heap_stats_read(h, &st);
    REQUIRE((stacks + globals) / 4 < MiB && st.heap_goal_bytes == 1 * MiB);
    heap_set_gogc(h, 400);
    heap_stats_read(h, &st);
    REQUIRE((stacks + globals) * 4 < 16 * MiB && st.heap_goal_bytes == 16 * MiB);
    heap_set_stack_bytes(h, 8 * MiB, 48 * MiB);
    heap_set_gogc(h, 400);
    heap_stats_read(h, &st);
    REQUIRE(st.heap_goal_bytes == (8 * MiB + globals) * 4);
    heap_set_gogc(h, 0);
    heap_stats_read(h, &st);
    REQUIRE(st.heap_goal_bytes == 0);   /* GOGC=0: collect all the time, as Go */
    heap_leave(h);
    heap_close(&h, true);
}

/* The limit's goal: limit - non-heap memory - 1 MiB of headroom (Go 1.19's
** memoryLimitHeapGoal), non-heap counting stacks and heap metadata. */
static void test_memory_limit_goal(void)
{
    const uint64_t limit = 64 * MiB, stacks = 2 * MiB;
    heap_t *h = open_heap("limitgoal", 256 * MiB, HEAP_GOGC_OFF, limit);
    heap_set_stack_bytes(h, stacks, stacks);
    heap_enter(h);
    heap_roots_t *roots = heap_roots_new(h, 1024);
    heap_ref_t *s = heap_roots_push(roots, 1024);
    for (int i = 0; i < 1024; i++)
        REQUIRE(s[i] = heap_alloc(h, 0, 1000));
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap__hdr_t *hdr = h->hdr;
    uint64_t live = hdr->heap_live_bytes;
    REQUIRE(live == 1024 * 1024);
    uint64_t heap_pages = hdr->commit_page - hdr->first_page;
    uint64_t free_bytes = (heap_pages - hdr->inuse_pages - hdr->released_pages) * HEAP__PAGE_BYTES;
    uint64_t mapped = heap__metadata_bytes(hdr) + stacks +
                      (heap_pages - hdr->released_pages) * HEAP__PAGE_BYTES;
    uint64_t non_heap = mapped - free_bytes - live;
    REQUIRE(non_heap >= stacks + heap__metadata_bytes(hdr));
    heap_stats_t st;
    heap_stats_read(h, &st);
    REQUIRE_MSG(st.heap_goal_bytes == limit - non_heap - MiB, "goal %llu, want %llu",
           (unsigned long long)st.heap_goal_bytes, (unsigned long long)(limit - non_heap - MiB));
    REQUIRE((uint64_t)last_cycle(h).fields.heap_goal_bytes == st.heap_goal_bytes);

    /* Less than 2 MiB left: the goal is the 1 MiB headroom itself, but
    ** never below the live heap. */
    heap_set_memory_limit(h, non_heap + 3 * MiB / 2);
    heap_stats_read(h, &st);
    REQUIRE(st.heap_goal_bytes == live);   /* 1 MiB < live */
    heap_roots_pop(roots, 1024);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_stats_read(h, &st);
    REQUIRE(h->hdr->marked_bytes == 0 && st.heap_goal_bytes == MiB);
    /* Non-heap memory alone over the limit: the goal is the live heap. */
    heap_set_memory_limit(h, stacks);
    heap_stats_read(h, &st);
    REQUIRE(st.heap_goal_bytes == 0);
    /* With GOGC on too, the smaller goal wins. */
    heap_set_gogc(h, 100);
    heap_set_memory_limit(h, 1024 * MiB);
    heap_stats_read(h, &st);
    REQUIRE(st.heap_goal_bytes == HEAP_MIN_GOAL_BYTES);
    heap_leave(h);
    heap_close(&h, true);
}

/* The scavenger: after the live set shrinks, free pages go back to the
** OS (the segment's blocks drop) in the background, paced, never below
** its goal, and come back zeroed when reused. */
static uint64_t segment_bytes(heap_t *h)
{
    struct stat sb;
    REQUIRE(fstat(h->fd, &sb) == 0);
    return (uint64_t)sb.st_blocks * 512;
}

static bool scavenger_has_work(heap_t *h)
{
    return (__atomic_load_n(&h->hdr->poll, __ATOMIC_SEQ_CST) & HEAP__POLL_SCAVENGE) != 0;
}

/* Poll safepoints until the lazy sweep is over and the background
** scavenger has parked, at most max_polls times. Returns the polls. */
static uint64_t poll_until_parked(heap_t *h, uint64_t max_polls)
{
    uint64_t n = 0;
    while (n < max_polls &&
           (scavenger_has_work(h) || __atomic_load_n(&h->hdr->sweep_active, __ATOMIC_SEQ_CST))) {
        heap_safepoint(h);
        n++;
    }
    return n;
}

/* Work for the scavenger: 40 MiB of 8 KiB objects live, collected, then
** all but 8 MiB of them dropped and two cycles run, so that ~32 MiB of
** free pages wait to be released. Called and returns outside the heap;
** the roots hold the 1024 objects still live (destroy them in the heap). */
static heap_roots_t *scavenger_setup(heap_t *h)
{
    heap_enter(h);
    heap_roots_t *roots = heap_roots_new(h, 8192);
    heap_ref_t *s = heap_roots_push(roots, 5120);
    for (int i = 0; i < 5120; i++)
        REQUIRE(s[i] = heap_alloc(h, 0, 8192));
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_roots_pop(roots, 5120 - 1024);           /* 8 MiB stay live */
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_leave(h);
    return roots;
}

static void test_scavenger(void)
{
    heap_t *h = open_heap("scavenge", 256 * MiB, 100, 0);
    heap_enter(h);
    heap_roots_t *roots = heap_roots_new(h, 8192);
    heap_ref_t *s = heap_roots_push(roots, 5120);
    for (int i = 0; i < 5120; i++) {
        REQUIRE(s[i] = heap_alloc(h, 0, 8192));   /* 40 MiB live */
        memset(heap_ptr(h, s[i]), 0x77, 8192);
    }
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_stats_t st;
    heap_stats_read(h, &st);
    uint64_t big = segment_bytes(h);
    printf("scavenger: 40 MiB live: segment %llu KiB, released %llu KiB\n",
           (unsigned long long)(big >> 10), (unsigned long long)(st.heap_released_bytes >> 10));
    REQUIRE(big >= 40 * MiB);

    /* The live set shrinks to 8 MiB: the goal is about 8.8 MiB retained.
    ** Without sleeps, every MARK_POLL_EVERY-th (16th) poll runs a batch,
    ** and a batch releases a 64 KiB quantum at least unless it parks; the
    ** lazy sweep takes 16 spans a poll that reaches it. */
    heap_roots_pop(roots, 5120 - 1024);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap__set_scavenge_sleep(h, false);
    uint64_t pages = h->hdr->hwm_page - h->hdr->first_page;
    uint64_t bound = 16 * (pages / 16 + (pages << HEAP__PAGE_SHIFT) / (64 << 10) + 8);
    uint64_t polls = poll_until_parked(h, bound);
    heap_stats_read(h, &st);
    uint64_t goal = __atomic_load_n(&h->hdr->scavenge_goal_bytes, __ATOMIC_SEQ_CST);
    uint64_t retained = heap__retained_bytes(h->hdr);
    uint64_t small = segment_bytes(h);
    printf("scavenger: 8 MiB live: parked after %llu polls (bound %llu); segment %llu KiB, "
           "released %llu KiB, retained %llu KiB, goal %llu KiB\n",
           (unsigned long long)polls, (unsigned long long)bound,
           (unsigned long long)(small >> 10), (unsigned long long)(st.heap_released_bytes >> 10),
           (unsigned long long)(retained >> 10), (unsigned long long)(goal >> 10));
    REQUIRE_MSG(!scavenger_has_work(h), "the scavenger still has work after %llu polls",
                (unsigned long long)polls);
    REQUIRE(goal != UINT64_MAX && goal >= 8 * MiB && goal <= 12 * MiB);
    REQUIRE_MSG(retained >= goal, "released below the goal");
    REQUIRE(retained - goal < HEAP__PAGE_BYTES);
    REQUIRE(st.heap_released_bytes >= 28 * MiB);
    REQUIRE(small + 28 * MiB <= big);
    REQUIRE(h->hdr->scav_bg_bytes >= 28 * MiB);
    REQUIRE_HEAP_VERIFY(h);

    /* The memory limit's goal: a limit at mapped memory wakes the
    ** scavenger at once (Go's gcControllerCommit), and it releases down to
    ** 95 % of the limit, below the retained goal. */
    uint64_t mapped = heap__mapped_bytes(h->hdr);
    heap_set_memory_limit(h, mapped);
    REQUIRE(scavenger_has_work(h));
    polls = poll_until_parked(h, bound);
    uint64_t mapped_now = heap__mapped_bytes(h->hdr);
    printf("scavenger: limit %llu KiB: mapped %llu KiB after %llu polls, retained %llu KiB\n",
           (unsigned long long)(mapped >> 10), (unsigned long long)(mapped_now >> 10),
           (unsigned long long)polls, (unsigned long long)(heap__retained_bytes(h->hdr) >> 10));
    REQUIRE(!scavenger_has_work(h));
    REQUIRE(mapped_now <= mapped / 100 * 95);
    REQUIRE(mapped_now + HEAP__PAGE_BYTES > mapped / 100 * 95);
    REQUIRE(heap__retained_bytes(h->hdr) < goal);
    heap_set_memory_limit(h, 0);
    REQUIRE_HEAP_VERIFY(h);

    /* Paced: with sleeps, a batch that released something is followed by
    ** 99 times its work (at least 1 ms) of sleep with one process
    ** attached, so over a wall time T there are at most 1 + T / 99 ms
    ** batches, however the machine schedules us. */
    heap__set_scavenge_sleep(h, true);
    heap_roots_pop(roots, 1024);                  /* nothing live */
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    uint64_t batches0 = __atomic_load_n(&h->hdr->scav_batches, __ATOMIC_SEQ_CST);
    uint64_t t0 = tu_now_ns();
    polls = poll_until_parked(h, UINT64_MAX);
    uint64_t elapsed = tu_now_ns() - t0;
    uint64_t batches = __atomic_load_n(&h->hdr->scav_batches, __ATOMIC_SEQ_CST) - batches0;
    heap_stats_read(h, &st);
    goal = __atomic_load_n(&h->hdr->scavenge_goal_bytes, __ATOMIC_SEQ_CST);
    retained = heap__retained_bytes(h->hdr);
    printf("scavenger: 0 live: %llu batches in %.1f ms (%llu polls); released %llu KiB, "
           "retained %llu KiB\n", (unsigned long long)batches, (double)elapsed / 1e6,
           (unsigned long long)polls, (unsigned long long)(st.heap_released_bytes >> 10),
           (unsigned long long)(retained >> 10));
    REQUIRE(batches >= 1);
    REQUIRE_MSG(batches <= 1 + elapsed / 99000000ull, "%llu batches in %llu ns: not paced",
                (unsigned long long)batches, (unsigned long long)elapsed);
    REQUIRE(goal == UINT64_MAX || retained >= goal);
    REQUIRE(retained <= 2 * MiB);
    REQUIRE_HEAP_VERIFY(h);

    /* Reuse: the released pages come back, zeroed. */
    s = heap_roots_push(roots, 5120);
    for (int i = 0; i < 5120; i++) {
        REQUIRE(s[i] = heap_alloc(h, 0, 8192));
        REQUIRE_MSG(all_zero(heap_ptr(h, s[i]), 8192), "reused released page not zero");
    }
    heap_stats_t again;
    heap_stats_read(h, &again);
    REQUIRE(again.heap_released_bytes < st.heap_released_bytes);
    REQUIRE_HEAP_VERIFY(h);
    heap_leave(h);
    heap_close(&h, true);
}

/* The background scavenger's process is SIGKILLed mid-release: holding
** the heap lock, a hole punched and its span not yet flagged released
** (and holding the batch's lease). The next process repairs the page heap,
** takes the batch over once the lease runs out, and brings retained
** memory to the goal with every counter right. */
static uint32_t scav_kill_countdown;

static void die_in_scavenger(void *arg, int point)
{
    (void)arg;
    if (point == HEAP__FP_SCAVENGE_BG && --scav_kill_countdown == 0)
        kill(getpid(), SIGKILL);
}

static void child_scavenge_and_die(void *arg)
{
    heap_t *h = attach_heap((const char *)arg);
    /* Hit 1: a quantum begins (lease, no lock); hit 2: after the punch. */
    scav_kill_countdown = 2;
    heap__set_fault_hook(h, die_in_scavenger, NULL);
    heap__set_scavenge_sleep(h, false);
    heap_enter(h);
    for (;;)
        heap_safepoint(h);
}

static void test_scavenger_killed(void)
{
    heap_t *h = open_heap("scavkill", 256 * MiB, 100, 0);
    heap_roots_t *roots = scavenger_setup(h);

    pid_t pid = tu_fork(child_scavenge_and_die, "scavkill");
    int status = tu_wait(pid);
    REQUIRE_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                "the scavenging child ended with status %#x", status);
    uint64_t released_before = heap__atomic_load(&h->hdr->released_pages) << HEAP__PAGE_SHIFT;

    heap_enter(h);
    heap__set_scavenge_sleep(h, false);
    uint64_t polls = poll_until_parked(h, UINT64_MAX);
    uint64_t goal = __atomic_load_n(&h->hdr->scavenge_goal_bytes, __ATOMIC_SEQ_CST);
    uint64_t retained = heap__retained_bytes(h->hdr);
    heap_stats_t st;
    heap_stats_read(h, &st);
    printf("scavenger killed: %llu KiB released when it died; after %llu polls here "
           "released %llu KiB, retained %llu KiB, goal %llu KiB\n",
           (unsigned long long)(released_before >> 10), (unsigned long long)polls,
           (unsigned long long)(st.heap_released_bytes >> 10),
           (unsigned long long)(retained >> 10), (unsigned long long)(goal >> 10));
    REQUIRE(released_before < 28 * MiB);
    REQUIRE(goal != UINT64_MAX && retained >= goal && retained - goal < HEAP__PAGE_BYTES);
    REQUIRE(st.heap_released_bytes >= 28 * MiB);
    REQUIRE_HEAP_VERIFY(h);
    heap_roots_destroy(h, &roots);
    heap_leave(h);
    heap_close(&h, true);
}

/* PAGE CACHE: the CACHED spans of attachment id, their pages, and the
** first one's page. */
static uint32_t cached_spans_at(heap_t *h, uint32_t attach_id, uint64_t *pages, uint32_t *first)
{
    uint32_t n = 0;
    *pages = 0;
    for (uint32_t s = h->hdr->first_page; s < h->hdr->hwm_page;) {
        heap__span_t *sp = heap__span(h, s);
        if (sp->state == HEAP__SPAN_CACHED && sp->owner == attach_id) {
            if (n++ == 0 && first)
                *first = s;
            *pages += sp->npages;
        }
        REQUIRE(sp->npages > 0);
        s += sp->npages;
    }
    return n;
}

static uint32_t cached_spans(heap_t *h, uint32_t attach_id, uint64_t *pages)
{
    return cached_spans_at(h, attach_id, pages, NULL);
}

static void child_cache_and_die(void *arg)
{
    heap_t *h = attach_heap((const char *)arg);
    heap_enter(h);
    for (int i = 0; i < 3 * 512 + 1; i++)   /* four spans of 16-byte objects */
        REQUIRE(heap_alloc(h, 2, 0));
    kill(getpid(), SIGKILL);
}

/* Small spans are cut from a process's cached run without the heap lock
** (heap_int.h, PAGE CACHE): the run is CACHED, neither free nor in use;
** it goes back on heap_close, and a killed process's at its retirement. */
/* Whether a process that allocated a span holds a run afterwards. */
static bool holds_run_after_alloc(const char *token)
{
    heap_t *h = open_heap(token, 64 * MiB, 100, 0);
    heap_enter(h);
    REQUIRE(heap_alloc(h, 2, 0));
    bool run = __atomic_load_n(&h->proc->pcache, __ATOMIC_RELAXED) != 0;
    heap_leave(h);
    heap_close(&h, true);
    return run;
}

static void test_page_cache(void)
{
    /* On by default and with 1; HEAPSIM_PAGE_CACHE=0 turns them off. */
    unsetenv("HEAPSIM_PAGE_CACHE");
    REQUIRE_MSG(holds_run_after_alloc("pcache-default"), "no run with HEAPSIM_PAGE_CACHE unset");
    setenv("HEAPSIM_PAGE_CACHE", "0", 1);
    REQUIRE_MSG(!holds_run_after_alloc("pcache-off"), "a run with HEAPSIM_PAGE_CACHE=0");
    setenv("HEAPSIM_PAGE_CACHE", "1", 1);
    heap_t *h = open_heap("pcache", 64 * MiB, 100, 0);
    heap_enter(h);
    heap_stats_t before, after;
    heap_stats_read(h, &before);
    heap_ref_t first = heap_alloc(h, 2, 0);
    for (int i = 1; i < 3 * 512 + 1; i++)
        REQUIRE(heap_alloc(h, 2, 0));
    heap_stats_read(h, &after);
    /* Four one-page spans cut from the front of one run, in order. */
    uint32_t run = h->hdr->procs[h->proc_index].pcache;
    uint32_t first_page = (uint32_t)(first >> HEAP__PAGE_SHIFT);
    REQUIRE_MSG(run == first_page + 4, "the run starts at page %u, the first span at %u", run,
                first_page);
    heap__span_t *rs = heap__span(h, run);
    REQUIRE(rs->state == HEAP__SPAN_CACHED && rs->owner == h->attach_id &&
            rs->npages == HEAP__PCACHE_PAGES - 4);
    for (uint32_t p = run; p < run + rs->npages; p++)
        REQUIRE(h->page_map[p] == 0);   /* no object lookup lands there */
    /* In use: the four spans, not the run (Go's heapInUse). */
    REQUIRE_MSG(after.heap_inuse_bytes - before.heap_inuse_bytes == 4 * HEAP__PAGE_BYTES,
                "in use grew by %llu bytes",
                (unsigned long long)(after.heap_inuse_bytes - before.heap_inuse_bytes));
    REQUIRE_HEAP_VERIFY(h);
    heap_leave(h);

    /* A process killed with a run: its run is free again once retired. */
    pid_t pid = tu_fork(child_cache_and_die, "pcache");
    int status = tu_wait(pid);
    REQUIRE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    uint32_t dead = 0;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        if (h->hdr->procs[i].state != HEAP__PROC_FREE && i != h->proc_index)
            dead = h->hdr->procs[i].attach_id;
    }
    uint64_t pages;
    uint32_t dead_run = 0;
    REQUIRE_MSG(dead && cached_spans_at(h, dead, &pages, &dead_run) == 1 &&
                    pages == HEAP__PCACHE_PAGES - 4,
                "the killed child's run: attachment %u", dead);
    /* As if it died in a span init, its page map set, its state not yet. */
    h->page_map[dead_run] = dead_run;
    heap_enter(h);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);   /* retires the dead */
    REQUIRE(cached_spans(h, dead, &pages) == 0);
    REQUIRE(h->page_map[dead_run] == 0);
    REQUIRE_HEAP_VERIFY(h);

    /* A repair walk (a process died holding the heap lock) runs beside
    ** processes cutting their runs: it leaves a live owner's run alone and
    ** asks the next stop to count the pages in use again. */
    uint32_t self = h->attach_id;
    REQUIRE(cached_spans(h, self, &pages) == 1);
    heap__lock(h);
    heap__repair_locked(h);
    heap__unlock(h);
    REQUIRE(cached_spans(h, self, &pages) == 1);
    REQUIRE(__atomic_load_n(&h->hdr->inuse_recount, __ATOMIC_SEQ_CST) == 1);
    __atomic_add_fetch(&h->hdr->inuse_pages, 7, __ATOMIC_SEQ_CST);   /* as a torn count */
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE(__atomic_load_n(&h->hdr->inuse_recount, __ATOMIC_SEQ_CST) == 0);
    REQUIRE_HEAP_VERIFY(h);   /* the count agrees with the spans again */

    /* A collection for want of memory takes every run back. */
    REQUIRE(heap_alloc(h, 2, 0));
    REQUIRE(cached_spans(h, self, &pages) == 1);
    REQUIRE_RC(heap__collect(h, HEAP__GC_BY_OOM), 0, heap_strerror);
    REQUIRE(cached_spans(h, self, &pages) == 0 && h->hdr->procs[h->proc_index].pcache == 0);
    REQUIRE_HEAP_VERIFY(h);

    /* heap_close gives the run back. */
    REQUIRE(heap_alloc(h, 2, 0));
    REQUIRE(cached_spans(h, self, &pages) == 1);
    heap_leave(h);
    heap_t *h2 = attach_heap("pcache");
    heap_close(&h, false);
    REQUIRE(cached_spans(h2, self, &pages) == 0);
    heap_enter(h2);
    REQUIRE_HEAP_VERIFY(h2);
    heap_leave(h2);
    heap_close(&h2, true);
}

/* PAGE CACHE, other processes' runs. A process killed half way through a
** cut (its fault point): heap_verify, before any collection, takes its
** CACHED spans back and counts the pages in use again (the cut span was
** counted, not published). A process holding a run while another's
** allocation fails for want of memory: that collection takes its run. */
typedef struct pcache_share {
    uint32_t has_run;            /* the child allocated and holds its run */
    uint32_t go_on;              /* the parent collected: allocate again */
    uint32_t allocated_after;
} pcache_share_t;
static pcache_share_t *pcache_share;

static int cut_hits;

static void die_in_cut(void *arg, int point)
{
    (void)arg;
    /* The second cut: from the run, without the heap lock (the first is
    ** made under it, as the run is taken, and a death there is the
    ** repair walk's). */
    if (point == HEAP__FP_PCACHE_CUT && ++cut_hits == 2)
        kill(getpid(), SIGKILL);
}

static void child_die_in_cut(void *arg)
{
    heap_t *h = attach_heap((const char *)arg);
    heap_enter(h);
    heap__set_fault_hook(h, die_in_cut, NULL);
    for (;;)
        REQUIRE(heap_alloc(h, 2, 0));   /* the first refill cuts */
}

static void child_hold_run(void *arg)
{
    heap_t *h = attach_heap((const char *)arg);
    heap_enter(h);
    for (int i = 0; i < 513; i++)   /* two spans: a run is cut */
        REQUIRE(heap_alloc(h, 2, 0));
    heap_leave(h);   /* stopped while the parent collects */
    __atomic_store_n(&pcache_share->has_run, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&pcache_share->go_on, __ATOMIC_SEQ_CST))
        sched_yield();
    heap_enter(h);
    for (int i = 0; i < 2000; i++)
        REQUIRE(heap_alloc(h, 2, 0));
    __atomic_store_n(&pcache_share->allocated_after, 1, __ATOMIC_SEQ_CST);
    heap_leave(h);
    heap_close(&h, false);
}

static void test_page_cache_others(void)
{
    heap_t *h = open_heap("pcache2", 64 * MiB, 100, 0);
    pid_t pid = tu_fork(child_die_in_cut, "pcache2");
    int status = tu_wait(pid);
    REQUIRE_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                "the child ended with status %#x, not in its cut", status);
    uint32_t dead = 0;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        if (h->hdr->procs[i].state != HEAP__PROC_FREE && i != h->proc_index)
            dead = h->hdr->procs[i].attach_id;
    }
    uint64_t pages;
    /* Half cut: the run has moved past the front, whose npages still
    ** spans it: one CACHED span of the rest of the run. */
    REQUIRE(dead && cached_spans(h, dead, &pages) == 1 && pages == HEAP__PCACHE_PAGES - 1);
    REQUIRE_HEAP_VERIFY(h);   /* before any collection */
    REQUIRE(cached_spans(h, dead, &pages) == 0);

    pcache_share = tu_shared(sizeof *pcache_share);
    pid = tu_fork(child_hold_run, "pcache2");
    while (!__atomic_load_n(&pcache_share->has_run, __ATOMIC_SEQ_CST))
        sched_yield();
    uint32_t other = 0;
    for (uint32_t i = 0; i < HEAP_MAX_PROCS; i++) {
        if (h->hdr->procs[i].state != HEAP__PROC_FREE && h->hdr->procs[i].pid == pid)
            other = h->hdr->procs[i].attach_id;
    }
    REQUIRE(other && cached_spans(h, other, &pages) == 1);
    heap_enter(h);
    REQUIRE_RC(heap__collect(h, HEAP__GC_BY_OOM), 0, heap_strerror);
    heap_leave(h);
    REQUIRE_MSG(cached_spans(h, other, &pages) == 0,
                "another process's run outlived a collection for want of memory");
    __atomic_store_n(&pcache_share->go_on, 1, __ATOMIC_SEQ_CST);
    tu_wait_ok(pid);
    REQUIRE(pcache_share->allocated_after);
    REQUIRE_HEAP_VERIFY(h);
    munmap(pcache_share, sizeof *pcache_share);
    heap_close(&h, true);
    unsetenv("HEAPSIM_PAGE_CACHE");
}

/* A collector killed at the end of a concurrent mark, its lazy sweep just
** begun (sweepgen moved on, no span swept yet): the marks of the unswept
** spans are the only record of what is live, and whoever takes the world
** over must sweep with them. It cleared them once, as for a collector
** killed mid-mark, and the sweep then freed every live object. */
static void die_sweep_begun(void *arg, int point)
{
    (void)arg;
    if (point == HEAP__FP_SWEEP_BEGUN)
        kill(getpid(), SIGKILL);
}

static void child_collect_and_die(void *arg)
{
    heap_t *h = attach_heap((const char *)arg);
    heap__set_fault_hook(h, die_sweep_begun, NULL);
    heap_enter(h);
    heap_collect(h);   /* a concurrent cycle's mark termination kills it */
    _exit(3);
}

static void test_collector_dies_sweep_begun(void)
{
    if (g_collector != HEAP_COLLECTOR_CONCURRENT)
        return;   /* a stop-the-world cycle sweeps within its stop */
    heap_t *h = open_heap("sweepbegun", 64 * MiB, 100, 0);
    heap_enter(h);
    const uint32_t fanout = 64, leaves = 32;
    tu_build_tree(h, fanout, leaves);
    heap_leave(h);   /* stopped while the child collects */
    pid_t pid = tu_fork(child_collect_and_die, "sweepbegun");
    int status = tu_wait(pid);
    REQUIRE_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                "the child ended with status %#x, not at its sweep's start", status);
    REQUIRE(h->hdr->sweep_active && h->hdr->gc_phase == HEAP__GC_SWEEP);
    heap_enter(h);   /* takes the world over from the dead collector */
    REQUIRE(heap_collect(h) == 0);
    heap_ref_t root = heap_globals(h, 1)[0];
    REQUIRE_MSG(heap_obj_nptrs(h, root) == fanout, "the tree's root: %u slots, %zu bytes",
                heap_obj_nptrs(h, root), heap_obj_size(h, root));
    uint32_t lost = 0;
    for (uint32_t i = 0; i < fanout; i++) {
        heap_ref_t kid = heap_read_ref(h, root, i);
        if (heap_obj_nptrs(h, kid) != leaves) {
            lost++;
            continue;
        }
        for (uint32_t k = 0; k < leaves; k++)
            lost += heap_obj_size(h, heap_read_ref(h, kid, k)) != 16;
    }
    CHECK_MSG(lost == 0, "%u live objects freed after the collector died", lost);
    REQUIRE_HEAP_VERIFY(h);
    heap_leave(h);
    heap_close(&h, true);
}

/* The scavenger's lease is its holder's until it puts it back: a batch
** held up past the 100 ms after which the holder is looked at (here at its
** fault point, as a long stop of the world holds one up) goes on alone;
** another process polling meanwhile, with the lease's time long past,
** starts no batch of its own. Once the holder is done, it can. */
typedef struct lease_share {
    uint32_t holding;            /* the child is in its batch, the lease its own */
    uint32_t go_on;              /* the parent lets it finish */
} lease_share_t;
static lease_share_t *lease_share;
static uint32_t lease_child_hits;
static uint64_t lease_parent_batches;

static void hold_in_batch(void *arg, int point)
{
    (void)arg;
    if (point != HEAP__FP_SCAVENGE_BG || lease_child_hits++ != 0)
        return;
    __atomic_store_n(&lease_share->holding, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&lease_share->go_on, __ATOMIC_SEQ_CST))
        sched_yield();
}

static void count_batch(void *arg, int point)
{
    (void)arg;
    if (point == HEAP__FP_SCAVENGE_BG)
        lease_parent_batches++;
}

static void child_hold_lease(void *arg)
{
    heap_t *h = attach_heap((const char *)arg);
    heap__set_fault_hook(h, hold_in_batch, NULL);
    heap__set_scavenge_sleep(h, false);
    heap_enter(h);
    while (!__atomic_load_n(&lease_share->holding, __ATOMIC_SEQ_CST))
        heap_safepoint(h);
    heap_leave(h);
    heap_close(&h, false);
}

/* Wait (outside the heap) until the scavenger's next look is due. */
static void wait_past_scav_next(heap_t *h)
{
    while (tu_now_ns() <= __atomic_load_n(&h->hdr->scav_next_ns, __ATOMIC_SEQ_CST))
        tu_sleep_ns(1000000);
}

static void test_scavenger_lease_held(void)
{
    lease_share = tu_shared(sizeof *lease_share);
    lease_parent_batches = 0;
    heap_t *h = open_heap("scavlease", 256 * MiB, 100, 0);
    heap_roots_t *roots = scavenger_setup(h);
    REQUIRE(scavenger_has_work(h));

    pid_t pid = tu_fork(child_hold_lease, "scavlease");
    while (!__atomic_load_n(&lease_share->holding, __ATOMIC_SEQ_CST))
        sched_yield();
    uint64_t lease = __atomic_load_n(&h->hdr->scav_lease, __ATOMIC_SEQ_CST);
    uint64_t batches0 = __atomic_load_n(&h->hdr->scav_batches, __ATOMIC_SEQ_CST);
    heap__set_fault_hook(h, count_batch, NULL);
    heap__set_scavenge_sleep(h, false);
    /* Twice past the time: the holder is looked at, found alive, and
    ** looked at again later. */
    for (int round = 0; round < 2; round++) {
        wait_past_scav_next(h);
        heap_enter(h);
        for (int i = 0; i < 20000; i++)
            heap_safepoint(h);
        heap_leave(h);
    }
    uint64_t lease_after = __atomic_load_n(&h->hdr->scav_lease, __ATOMIC_SEQ_CST);
    printf("scavenger lease held: %llu batches begun here while another held it\n",
           (unsigned long long)lease_parent_batches);
    CHECK_MSG(lease_parent_batches == 0, "%llu scavenger batches overlapped the held one",
              (unsigned long long)lease_parent_batches);
    CHECK(lease_after == lease && (uint32_t)lease != 0 && (uint32_t)lease != h->attach_id);
    CHECK(__atomic_load_n(&h->hdr->scav_batches, __ATOMIC_SEQ_CST) == batches0);
    __atomic_store_n(&lease_share->go_on, 1, __ATOMIC_SEQ_CST);
    tu_wait_ok(pid);
    CHECK((uint32_t)__atomic_load_n(&h->hdr->scav_lease, __ATOMIC_SEQ_CST) == 0);

    /* Its turn now. */
    heap_enter(h);
    poll_until_parked(h, UINT64_MAX);
    heap_leave(h);
    CHECK(lease_parent_batches > 0);
    uint64_t goal = __atomic_load_n(&h->hdr->scavenge_goal_bytes, __ATOMIC_SEQ_CST);
    uint64_t retained = heap__retained_bytes(h->hdr);
    CHECK(goal == UINT64_MAX || (retained >= goal && retained - goal < HEAP__PAGE_BYTES));
    heap__set_fault_hook(h, NULL, NULL);
    heap_enter(h);
    REQUIRE_HEAP_VERIFY(h);
    heap_roots_destroy(h, &roots);
    heap_leave(h);
    heap_close(&h, true);
    munmap(lease_share, sizeof *lease_share);
}

static void child_alloc_and_collect(void *arg)
{
    heap_t *h = attach_heap((const char *)arg);
    heap_enter(h);
    for (int i = 0; i < 2000; i++)
        REQUIRE(heap_alloc(h, 0, 4000));             /* 4096-byte class */
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_close(&h, false);
}

static void child_stacks_and_collect(void *arg)
{
    heap_t *h = attach_heap((const char *)arg);
    heap_set_stack_bytes(h, 2000, 64 << 10);
    heap_enter(h);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    /* The cycle and the pacer take each figure summed over both processes. */
    heap_gc_cycle_t c = last_cycle(h);
    REQUIRE(c.fields.nprocs == 2);
    REQUIRE_MSG(c.fields.stack_bytes == 1000 + 2000, "stack_bytes %lld",
                (long long)c.fields.stack_bytes);
    REQUIRE_MSG(c.fields.max_stack_bytes == (8 << 10) + (64 << 10), "max_stack_bytes %lld",
                (long long)c.fields.max_stack_bytes);
    REQUIRE(heap__atomic_load(&h->hdr->pacer_stack_bytes) == 1000 + 2000);
    REQUIRE(heap__atomic_load(&h->hdr->pacer_max_stack_bytes) == (8 << 10) + (64 << 10));
    heap_stats_t st;
    heap_stats_read(h, &st);
    REQUIRE(st.stack_bytes == 1000 + 2000 && st.max_stack_bytes == (8 << 10) + (64 << 10));
    heap_leave(h);
    heap_close(&h, false);
}

/* Two stack figures per process (the stack scanned, Go's lastStackScan;
** the stack space in use, maxStackScan), each summed over the processes
** attached; a process that detaches takes its figures with it. */
static void test_stack_figures_summed(void)
{
    heap_t *h = open_heap("stacks", 64 * MiB, 100, 0);
    heap_set_stack_bytes(h, 1000, 8 << 10);
    tu_wait_ok(tu_fork(child_stacks_and_collect, "stacks"));
    heap_enter(h);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_gc_cycle_t c = last_cycle(h);
    REQUIRE(c.fields.nprocs == 1);
    REQUIRE(c.fields.stack_bytes == 1000 && c.fields.max_stack_bytes == 8 << 10);
    REQUIRE(heap__atomic_load(&h->hdr->pacer_max_stack_bytes) == 8 << 10);
    heap_leave(h);
    heap_close(&h, true);
}

/* Exact high-water marks: the heap in use (HeapAlloc) peaks just before a
** sweep; the marks restart at heap_hwm_reset(). */
static void test_high_water_marks(void)
{
    heap_t *h = open_heap("hwm", 128 * MiB, HEAP_GOGC_OFF, 0);
    heap_enter(h);
    heap_ref_t *g = heap_globals(h, 1);
    g[0] = heap_alloc(h, 1, 1000);                 /* 1 KiB live */
    heap_hwm_reset(h);
    heap_hwm_t m;
    heap_hwm_read(h, &m);
    REQUIRE(m.heap_alloc_bytes == 1024 && m.heap_objects == 1 && m.stack_bytes == 0);

    for (int i = 0; i < 3000; i++)
        REQUIRE(heap_alloc(h, 0, 1000));             /* 3000 KiB of garbage */
    heap_stats_t st;
    heap_stats_read(h, &st);
    REQUIRE(st.heap_alloc_bytes == 3001 * 1024);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_stats_read(h, &st);
    REQUIRE(st.heap_alloc_bytes == 1024);
    heap_hwm_read(h, &m);
    REQUIRE(m.heap_alloc_bytes == 3001 * 1024 && m.heap_objects == 3001);

    for (int i = 0; i < 1000; i++)                 /* a lower second peak */
        REQUIRE(heap_alloc(h, 0, 2000));
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_hwm_read(h, &m);
    REQUIRE(m.heap_alloc_bytes == 3001 * 1024 && m.heap_objects == 3001);

    heap_set_stack_bytes(h, 64 << 10, 64 << 10);
    heap_set_stack_bytes(h, 8 << 10, 8 << 10);
    heap_hwm_reset(h);                             /* a new task */
    heap_hwm_read(h, &m);
    REQUIRE(m.heap_alloc_bytes == 1024 && m.heap_objects == 1 && m.stack_bytes == 8 << 10);
    heap_set_stack_bytes(h, 32 << 10, 32 << 10);
    heap_set_stack_bytes(h, 4 << 10, 4 << 10);
    for (int i = 0; i < 100; i++)
        REQUIRE(heap_alloc(h, 0, 100));              /* 112-byte class, not swept: now */
    heap_hwm_read(h, &m);
    REQUIRE(m.heap_alloc_bytes == 1024 + 100 * 112 && m.heap_objects == 101);
    REQUIRE(m.stack_bytes == 32 << 10);

    /* Another process's allocations count: the heap is shared. */
    heap_leave(h);
    tu_wait_ok(tu_fork(child_alloc_and_collect, "hwm"));
    heap_enter(h);
    heap_hwm_read(h, &m);
    REQUIRE(m.heap_alloc_bytes == 1024 + 100 * 112 + 2000 * 4096);
    REQUIRE(m.heap_objects == 101 + 2000);
    heap_leave(h);
    heap_close(&h, true);
}

static void test_memory_limit(void)
{
    uint64_t inuse;
    uint64_t n = pacing_run("limit", HEAP_GOGC_OFF, 16 * MiB, 2 * MiB, 160 * MiB, &inuse);
    printf("memory limit 16 MiB: %llu cycles, max in use %llu\n", (unsigned long long)n,
           (unsigned long long)inuse);
    REQUIRE(n >= 5);
    REQUIRE(inuse <= 16 * MiB + 2 * MiB);

    /* Set at run time, well below the gogc goal (4 MiB live * 5). */
    heap_t *h = open_heap("limitset", 128 * MiB, 400, 0);
    heap_enter(h);
    heap_roots_t *roots = heap_roots_new(h, 4096);
    heap_ref_t *slots = heap_roots_push(roots, 4096);
    for (int i = 0; i < 4096; i++)
        REQUIRE(slots[i] = heap_alloc(h, 0, 1000));
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_set_memory_limit(h, 8 * MiB);
    for (int i = 0; i < 100000; i++)
        heap_alloc(h, 0, 1000);
    heap_stats_t st;
    heap_stats_read(h, &st);
    printf("memory limit 8 MiB under a 20 MiB goal: %llu cycles\n", (unsigned long long)st.num_gc);
    REQUIRE(st.num_gc >= 15);
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
}

static void test_oom(void)
{
    heap_t *h = open_heap("oom", 8 * MiB, 100, 0);
    heap_enter(h);
    heap_ref_t *g = heap_globals(h, 1);
    uint64_t n = 0;
    for (;;) {
        heap_ref_t r = heap_alloc(h, 1, 1000);
        if (!r)
            break;
        heap_write_ref(h, r, 0, g[0]);
        g[0] = r;
        n++;
    }
    REQUIRE(heap_last_error(h) == HEAP_EOOM);
    REQUIRE(n > 1000);
    REQUIRE(heap_alloc(h, 0, 100000) == 0 && heap_last_error(h) == HEAP_EOOM);
    REQUIRE(heap_alloc(h, 0, (size_t)1 << 40) == 0 && heap_last_error(h) == HEAP_EOOM);
    REQUIRE(heap_alloc(h, UINT32_MAX, SIZE_MAX - 10) == 0 && heap_last_error(h) == HEAP_EOOM);
    REQUIRE_HEAP_VERIFY(h);
    /* The chain is intact. */
    uint64_t count = 0;
    for (heap_ref_t r = g[0]; r; r = heap_read_ref(h, r, 0))
        count++;
    REQUIRE(count == n);
    /* Free it: the heap works again. */
    g[0] = 0;
    for (int i = 0; i < 20000; i++)
        REQUIRE(heap_alloc(h, 1, 1000));
    REQUIRE(heap_alloc(h, 0, 1 * MiB));
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
}

/* Slot i of obj := bad, as a stray write would plant it: corruption, not a
** mutator's store, so not through the write barrier (which may check what
** it is given). */
static void poke_slot(heap_t *h, heap_ref_t obj, uint32_t i, heap_ref_t bad)
{
    ((heap_ref_t *)heap_ptr(h, obj))[i] = bad;
}

static void test_verify_detects_corruption(void)
{
    char why[256];
    heap_t *h = open_heap("corrupt", 64 * MiB, 100, 0);
    heap_enter(h);
    heap_ref_t *g = heap_globals(h, 2);
    g[0] = heap_alloc(h, 2, 8);
    g[1] = heap_alloc(h, 1, 8);
    heap_ref_t victim = heap_alloc(h, 1, 8);   /* not rooted, shares g[1]'s span */
    REQUIRE(heap_verify(h, why, sizeof why) == 0);

    poke_slot(h, g[0], 0, g[0] + 8);             /* inside an object */
    REQUIRE(heap_verify(h, why, sizeof why) == HEAP_ECORRUPT && why[0]);
    printf("verify caught: %s\n", why);
    poke_slot(h, g[0], 0, 0x7);                  /* misaligned */
    REQUIRE(heap_verify(h, why, sizeof why) == HEAP_ECORRUPT);
    poke_slot(h, g[0], 0, 0);
    REQUIRE(heap_verify(h, why, sizeof why) == 0);

    REQUIRE_RC(heap_collect(h), 0, heap_strerror);                  /* victim freed */
    poke_slot(h, g[1], 0, victim);               /* a dangling ref */
    REQUIRE(heap_verify(h, why, sizeof why) == HEAP_ECORRUPT);
    printf("verify caught: %s\n", why);
    poke_slot(h, g[1], 0, 0);

    uint64_t word = g[0] >> 3;                   /* its pointer-map bit */
    uint64_t *map = &h->ptr_map[word >> 6];
    *map &= ~(1ull << (word & 63));              /* no slots in a scan span */
    REQUIRE(heap_verify(h, why, sizeof why) == HEAP_ECORRUPT);
    printf("verify caught: %s\n", why);
    *map |= 1ull << (word & 63);
    REQUIRE(heap_obj_nptrs(h, g[0]) == 2);
    REQUIRE(heap_verify(h, why, sizeof why) == 0);
    heap_close(&h, true);
}

static void test_mark_stack_overflow(void)
{
    heap_t *h = open_heap("overflow", 64 * MiB, 100, 0);
    heap__set_mark_stack_limit(h, 16);
    heap_enter(h);
    heap_ref_t *g = heap_globals(h, 2);
    /* A wide tree: 200 children of 20 grandchildren each. */
    g[0] = heap_alloc(h, 200, 0);
    for (int i = 0; i < 200; i++) {
        heap_ref_t c = heap_alloc(h, 20, 8);
        heap_write_ref(h, g[0], i, c);
        for (int k = 0; k < 20; k++) {
            heap_ref_t gc = heap_alloc(h, 1, 8);
            *(uint64_t *)heap_data(h, gc, 1) = (uint64_t)i * 100 + (uint64_t)k;
            heap_write_ref(h, heap_read_ref(h, g[0], i), k, gc);
        }
    }
    /* A long list. */
    for (int i = 0; i < 5000; i++) {
        heap_ref_t r = heap_alloc(h, 1, 0);
        heap_write_ref(h, r, 0, g[1]);
        g[1] = r;
    }
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE(last_cycle(h).fields.objects_live == 1 + 200 + 4000 + 5000);
    for (int i = 0; i < 200; i++) {
        for (int k = 0; k < 20; k++) {
            heap_ref_t gc = heap_read_ref(h, heap_read_ref(h, g[0], i), k);
            REQUIRE(*(uint64_t *)heap_data(h, gc, 1) == (uint64_t)i * 100 + (uint64_t)k);
        }
    }
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
}

/* ---- Several processes ---------------------------------------------- */

typedef struct shared_ctl {
    tu_barrier_t barrier;
    uint32_t child_cycles;
    uint32_t stop;
} shared_ctl_t;

static void child_collector(void *arg)
{
    shared_ctl_t *ctl = arg;
    heap_t *h = attach_heap("twoproc");
    heap_enter(h);
    heap_ref_t *g = heap_globals(h, 1);
    for (int round = 0; round < 40; round++) {
        g[0] = heap_alloc(h, 1, 64);
        for (int i = 0; i < 2000; i++)
            heap_alloc(h, 1, 64);
        REQUIRE_RC(heap_collect(h), 0, heap_strerror);
        __atomic_add_fetch(&ctl->child_cycles, 1, __ATOMIC_SEQ_CST);
    }
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, false);
}

static void check_list(heap_t *h, heap_ref_t r, uint64_t n)
{
    for (uint64_t i = n; i-- > 0; r = heap_read_ref(h, r, 0))
        REQUIRE_MSG(r && *(uint64_t *)heap_data(h, r, 1) == i, "list element %llu broken",
               (unsigned long long)i);
    REQUIRE(r == 0);
}

static void test_two_processes(void)
{
    heap_t *h = open_heap("twoproc", 128 * MiB, 100, 0);
    shared_ctl_t *ctl = tu_shared(sizeof *ctl);
    heap_enter(h);
    heap_ref_t *g = heap_globals(h, 1);
    for (uint64_t i = 0; i < 3000; i++) {
        heap_ref_t r = heap_alloc(h, 1, 8);
        *(uint64_t *)heap_data(h, r, 1) = i;
        heap_write_ref(h, r, 0, g[0]);
        g[0] = r;
    }
    /* 1: the parent is outside while the child collects. */
    heap_leave(h);
    pid_t pid = tu_fork(child_collector, ctl);
    tu_wait_ok(pid);
    heap_enter(h);
    check_list(h, g[0], 3000);

    /* 2: the parent keeps running (safepoints and allocation) while the
    ** child collects: every child cycle must stop it. */
    ctl->child_cycles = 0;
    pid = tu_fork(child_collector, ctl);
    uint64_t extra = 0;
    while (__atomic_load_n(&ctl->child_cycles, __ATOMIC_SEQ_CST) < 40) {
        heap_ref_t r = heap_alloc(h, 1, 8);
        REQUIRE(r);
        *(uint64_t *)heap_data(h, r, 1) = 3000 + extra++;
        heap_write_ref(h, r, 0, g[0]);
        g[0] = r;
        for (int i = 0; i < 100; i++)
            heap_safepoint(h);
        if (extra % 64 == 0)
            check_list(h, g[0], 3000 + extra);
    }
    heap_leave(h);   /* about to block: count as stopped */
    tu_wait_ok(pid);
    heap_enter(h);
    check_list(h, g[0], 3000 + extra);
    REQUIRE_HEAP_VERIFY(h);
    heap_stats_t st;
    heap_stats_read(h, &st);
    REQUIRE(st.num_gc >= 80 && st.nprocs == 1);
    heap_gc_cycle_t hist[HEAP_GC_HISTORY];
    int n = heap_gc_history(h, 0, hist, HEAP_GC_HISTORY);
    REQUIRE(n == (int)st.num_gc);
    int by_child = 0;
    for (int i = 0; i < n; i++) {
        REQUIRE(hist[i].fields.cycle == (uint32_t)i + 1);
        if (hist[i].collector_pid != getpid())
            by_child++;
    }
    REQUIRE(by_child >= 80);
    heap_close(&h, true);
    munmap(ctl, sizeof *ctl);
}

static void child_collect_once(void *arg)
{
    heap_t *h = attach_heap((const char *)arg);
    heap_enter(h);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_close(&h, false);
}

/* Pool areas: the victim cache across collections, by this process and by
** another one; a full primary refuses; destroy drops the roots. */
static void test_pools(void)
{
    heap_t *h = open_heap("pools", 64 * MiB, 100, 0);
    heap_enter(h);
    REQUIRE(heap_safepoint_word(h) != NULL && *heap_safepoint_word(h) == 0);   /* no stop asked */
    REQUIRE(heap_pool_new(h, 0) == NULL && heap_last_error(h) == -EINVAL);
    heap_pool_t *p = heap_pool_new(h, 4);
    REQUIRE(p && heap_pool_capacity(p) == 4);
    uint32_t np, nv;
    REQUIRE(heap_pool_get(p) == 0);
    heap_ref_t obj[5];
    for (int i = 0; i < 5; i++) {
        obj[i] = heap_alloc(h, 1, 8);
        *(uint64_t *)heap_data(h, obj[i], 1) = (uint64_t)i;
    }
    heap_write_ref(h, obj[0], 0, heap_alloc(h, 0, 24));   /* a child stays with it */
    for (int i = 0; i < 4; i++)
        REQUIRE(heap_pool_put(p, obj[i]));
    REQUIRE(!heap_pool_put(p, obj[4]));                   /* primary full */
    REQUIRE(!heap_pool_put(p, 0));
    heap_pool_counts(p, &np, &nv);
    REQUIRE(np == 4 && nv == 0);

    /* First collection: all four (and obj[0]'s child) move to the victim. */
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE(last_cycle(h).fields.objects_live == 5);
    heap_pool_counts(p, &np, &nv);
    REQUIRE(np == 0 && nv == 4);
    REQUIRE_HEAP_VERIFY(h);
    /* Newest first; the primary before the victim. */
    heap_ref_t fresh = heap_alloc(h, 0, 8);
    REQUIRE(heap_pool_put(p, fresh));
    REQUIRE(heap_pool_get(p) == fresh);
    REQUIRE(heap_pool_get(p) == obj[3]);
    REQUIRE(*(uint64_t *)heap_data(h, obj[3], 1) == 3);
    heap_pool_counts(p, &np, &nv);
    REQUIRE(np == 0 && nv == 3);

    /* A collection by another process rotates our pool too: obj[0..2] are
    ** in the victim again... */
    heap_leave(h);
    tu_wait_ok(tu_fork(child_collect_once, "pools"));
    heap_enter(h);
    heap_pool_counts(p, &np, &nv);
    REQUIRE(np == 0 && nv == 0);   /* the primary was empty: the old victim is gone */
    REQUIRE(last_cycle(h).fields.objects_live == 0);
    REQUIRE(heap_pool_get(p) == 0);
    REQUIRE_HEAP_VERIFY(h);

    /* Put, collect, collect: gone after the second. */
    for (int i = 0; i < 3; i++)
        REQUIRE(heap_pool_put(p, heap_alloc(h, 0, 16)));
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE(last_cycle(h).fields.objects_live == 3);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE(last_cycle(h).fields.objects_live == 0);
    heap_pool_counts(p, &np, &nv);
    REQUIRE(np == 0 && nv == 0 && heap_pool_get(p) == 0);

    /* Resize keeps each object in its half. */
    REQUIRE(heap_pool_put(p, heap_alloc(h, 0, 16)));
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);                          /* -> victim */
    heap_ref_t newest = heap_alloc(h, 0, 16);
    REQUIRE(heap_pool_put(p, newest));
    heap_pool_t *before = p;
    REQUIRE(heap_pool_resize(h, &p, 0) == -EINVAL && p == before);
    REQUIRE_RC(heap_pool_resize(h, &p, 64), 0, heap_strerror);
    REQUIRE(p != before && heap_pool_capacity(p) == 64);
    heap_pool_counts(p, &np, &nv);
    REQUIRE(np == 1 && nv == 1);
    REQUIRE_HEAP_VERIFY(h);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);                          /* old victim goes */
    REQUIRE(last_cycle(h).fields.objects_live == 1);
    REQUIRE(heap_pool_get(p) == newest && heap_pool_get(p) == 0);

    /* Destroyed: what it held is garbage at once. */
    heap_pool_t *q = heap_pool_new(h, 2);
    REQUIRE(q && heap_pool_put(q, heap_alloc(h, 0, 16)));
    REQUIRE(heap_pool_put(p, heap_alloc(h, 0, 16)));
    REQUIRE_HEAP_VERIFY(h);
    heap_pool_destroy(h, &q);
    REQUIRE(q == NULL);
    heap_pool_destroy(h, &q);     /* NULL is fine */
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE(last_cycle(h).fields.objects_live == 1);
    heap_pool_destroy(h, &p);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    REQUIRE(last_cycle(h).fields.objects_live == 0);
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
}

static void child_attach_and_die(void *arg)
{
    heap_t *h = attach_heap((const char *)arg);
    heap_enter(h);
    heap_roots_t *r = heap_roots_new(h, 16);
    heap_roots_push(r, 1)[0] = heap_alloc(h, 0, 100);
    _exit(0);   /* no heap_close: a crash, as far as the heap knows */
}

typedef struct report_log {
    int n;
    char last[128];
} report_log_t;

static void report_removed(void *arg, const char *name)
{
    report_log_t *log = arg;
    log->n++;
    snprintf(log->last, sizeof log->last, "%s", name);
}

static void child_close_last(void *arg)
{
    shared_ctl_t *ctl = arg;
    heap_t *h = attach_heap("closelast");
    tu_barrier_wait(&ctl->barrier);   /* parent closes now */
    tu_barrier_wait(&ctl->barrier);
    heap_close(&h, true);
}

static void test_close_and_clean_stale(void)
{
    char name[128];
    report_log_t log = { .n = 0 };

    /* A segment whose only other process died. */
    heap_t *h = open_heap("stale", 16 * MiB, 100, 0);
    tu_wait_ok(tu_fork(child_attach_and_die, "stale"));
    heap_t *keep = open_heap("alive", 16 * MiB, 100, 0);
    REQUIRE(heap_clean_stale(report_removed, &log) == 0);   /* we are attached to both */
    heap_close(&h, false);
    REQUIRE(tu_shm_count() == 2);
    REQUIRE(heap_clean_stale(report_removed, &log) == 1);
    REQUIRE(log.n == 1 && strcmp(log.last, tu_segment(name, sizeof name, "stale")) == 0);
    REQUIRE(tu_shm_count() == 1);

    /* A heap left by another heapsim version (another layout): removed
    ** when no process maps it, kept while one does. */
    {
        char old[128];
        tu_segment(old, sizeof old, "oldlayout");
        int fd = shm_open(old, O_RDWR | O_CREAT | O_EXCL, 0600);
        REQUIRE(fd >= 0 && ftruncate(fd, (off_t)(1u << 20)) == 0);
        heap__hdr_t *hdr = mmap(NULL, sizeof *hdr, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        REQUIRE(hdr != MAP_FAILED);
        hdr->version = HEAP__LAYOUT_VERSION - 1;
        hdr->magic = HEAP__MAGIC;
        struct timespec long_ago[2] = {{.tv_sec = time(NULL) - 3600}, {.tv_sec = time(NULL) - 3600}};
        REQUIRE(futimens(fd, long_ago) == 0);
        close(fd);
        REQUIRE(heap_clean_stale(report_removed, &log) == 0);   /* we map it */
        munmap(hdr, sizeof *hdr);
        REQUIRE(heap_clean_stale(report_removed, &log) == 1);
        REQUIRE(strcmp(log.last, old) == 0);
    }

    /* The dead child's roots go at the next collection. */
    tu_wait_ok(tu_fork(child_attach_and_die, "alive"));
    heap_stats_t st;
    heap_stats_read(keep, &st);
    REQUIRE(st.nprocs == 2);
    REQUIRE_RC(heap_collect(keep), 0, heap_strerror);
    heap_stats_read(keep, &st);
    REQUIRE(st.nprocs == 1 && last_cycle(keep).fields.objects_live == 0);
    REQUIRE_HEAP_VERIFY(keep);
    heap_close(&keep, true);
    REQUIRE(tu_shm_count() == 0);

    /* unlink_if_last only unlinks for the last process. */
    shared_ctl_t *ctl = tu_shared(sizeof *ctl);
    ctl->barrier.n = 2;
    h = open_heap("closelast", 16 * MiB, 100, 0);
    pid_t pid = tu_fork(child_close_last, ctl);
    tu_barrier_wait(&ctl->barrier);
    heap_close(&h, true);
    REQUIRE(tu_shm_count() == 1);
    tu_barrier_wait(&ctl->barrier);
    tu_wait_ok(pid);
    REQUIRE(tu_shm_count() == 0);
    munmap(ctl, sizeof *ctl);
}

int main(void)
{
    tu_init("heap_test", 240);
    test_size_classes();
    test_size_classes_are_go();
    test_names_and_open_errors();
    test_header_mapped();
    for (int pass = 0; pass < 2; pass++) {
        g_collector = pass == 0 ? HEAP_COLLECTOR_STW : HEAP_COLLECTOR_CONCURRENT;
        fprintf(stderr, "heap_test: the %s collector\n", pass == 0 ? "stw" : "concurrent");
        test_alloc_sizes_and_zeroing();
        test_objects_as_go_counts_them();
        test_roots_keep_objects_alive();
        test_globals();
        test_large_objects();
        test_hook_and_history();
        test_stats_from_another_thread();
        test_pacing();
        test_pacer_goal();
        test_memory_limit_goal();
        test_memory_limit();
        test_scavenger();
        test_scavenger_killed();
        test_page_cache();
        test_page_cache_others();
        test_collector_dies_sweep_begun();
        test_scavenger_lease_held();
        test_high_water_marks();
        test_stack_figures_summed();
        test_oom();
        test_verify_detects_corruption();
        test_mark_stack_overflow();
        test_two_processes();
        test_close_and_clean_stale();
        test_pools();
    }
    tu_finish();
    return 0;
}
