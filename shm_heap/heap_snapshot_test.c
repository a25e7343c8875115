/*
** shm_heap/heap_snapshot_test.c -- heap_snapshot() on a heap of known
** shape in real shared memory, two processes attached: every root of both
** (root stacks, globals, a pool area) and exactly the reachable objects,
** each once, with its size, class, slots, site and targets; garbage and a
** cycle handled; nothing in the segment changed (heap_verify passes, the
** next collection frees the garbage as before).
*/
#include "shm_heap/heap.h"
#include "shm_heap/heap_snapshot.h"
#include "shm_heap/heap_testutil.h"

#include <string.h>
#include <unistd.h>

#define MiB ((uint64_t)1 << 20)
#define MAX_SEEN 64

typedef struct seen_root {
    uint32_t kind;
    pid_t pid;
    heap_ref_t container;
    heap_ref_t refs[8];
    uint32_t nrefs;
} seen_root_t;

typedef struct seen_obj {
    heap_ref_t ref;
    uint64_t bytes;
    uint32_t size_class, nptrs;
    char site[64];
    heap_ref_t refs[8];
    uint32_t nrefs;
} seen_obj_t;

typedef struct seen {
    seen_root_t roots[MAX_SEEN];
    int nroots;
    seen_obj_t objs[MAX_SEEN];
    int nobjs;
} seen_t;

static int on_root(void *arg, const heap_snap_root_t *r)
{
    seen_t *s = arg;
    REQUIRE(s->nobjs == 0);              /* every root before any object */
    REQUIRE(s->nroots < MAX_SEEN && r->nrefs <= 8);
    seen_root_t *d = &s->roots[s->nroots++];
    d->kind = r->kind;
    d->pid = r->pid;
    d->container = r->container;
    d->nrefs = r->nrefs;
    if (r->nrefs)
        memcpy(d->refs, r->refs, r->nrefs * sizeof *r->refs);
    return 0;
}

static int on_object(void *arg, const heap_snap_object_t *o)
{
    seen_t *s = arg;
    REQUIRE(s->nobjs < MAX_SEEN && o->nrefs <= 8);
    seen_obj_t *d = &s->objs[s->nobjs++];
    d->ref = o->ref;
    d->bytes = o->bytes;
    d->size_class = o->size_class;
    d->nptrs = o->nptrs;
    snprintf(d->site, sizeof d->site, "%s", o->site ? o->site : "");
    d->nrefs = o->nrefs;
    if (o->nrefs)
        memcpy(d->refs, o->refs, o->nrefs * sizeof *o->refs);
    return 0;
}

static const seen_obj_t *obj(const seen_t *s, heap_ref_t ref)
{
    const seen_obj_t *found = NULL;
    for (int i = 0; i < s->nobjs; i++) {
        if (s->objs[i].ref == ref) {
            CHECK_MSG(!found, "object %#llx reported twice", (unsigned long long)ref);
            found = &s->objs[i];
        }
    }
    return found;
}

static const seen_root_t *root(const seen_t *s, heap_ref_t container)
{
    for (int i = 0; i < s->nroots; i++)
        if (s->roots[i].container == container)
            return &s->roots[i];
    return NULL;
}

/* Shared with the child: its segment, what it made, two barriers. */
typedef struct shared {
    char name[128];
    heap_ref_t a;                 /* the parent's object the child points at */
    heap_ref_t child_roots, y;
    tu_barrier_t made, done;
} shared_t;

static void child(void *arg)
{
    shared_t *sh = arg;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(sh->name, NULL, false, &h), 0, heap_strerror);
    heap_enter(h);
    heap_prof_set_rate(h, 1, 3);
    heap_roots_t *r = heap_roots_new(h, 4);
    REQUIRE(r);
    heap_ref_t *slot = heap_roots_push(r, 1);
    slot[0] = heap_alloc_at(h, 1, 8, "child.y");
    heap_write_ref(h, slot[0], 0, sh->a);
    sh->y = slot[0];
    sh->child_roots = heap_roots_ref(r);
    heap_leave(h);                /* outside: counts as stopped */
    tu_barrier_wait(&sh->made);
    tu_barrier_wait(&sh->done);
    heap_close(&h, false);
}

static void test_known_shape(void)
{
    shared_t *sh = tu_shared(sizeof *sh);
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.heap_max_bytes = 64 * MiB;
    cfg.gogc = HEAP_GOGC_OFF;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(sh->name, sizeof sh->name, "snap"), &cfg, true, &h), 0,
               heap_strerror);
    heap_enter(h);
    heap_prof_set_rate(h, 1, 7);

    /* Root stack r: [a, nil, c]. a <-> b (a holds b twice), c large -> d
    ** (noscan) and a; globals -> e; the pool holds f; x -> a is garbage. */
    heap_roots_t *r = heap_roots_new(h, 8);
    REQUIRE(r);
    heap_ref_t *fr = heap_roots_push(r, 3);
    heap_ref_t a = fr[0] = heap_alloc_at(h, 2, 16, "t.a");
    heap_ref_t b = heap_alloc_at(h, 1, 0, "t.b");
    heap_write_ref(h, a, 0, b);
    heap_write_ref(h, a, 1, b);
    heap_write_ref(h, b, 0, a);
    heap_ref_t c = fr[2] = heap_alloc_at(h, 3, 40000, "t.large");
    heap_ref_t d = heap_alloc_at(h, 0, 100, "t.noscan");
    heap_write_ref(h, c, 1, d);
    heap_write_ref(h, c, 2, a);
    heap_ref_t *g = heap_globals(h, 2);
    REQUIRE(g);
    heap_ref_t e = g[0] = heap_alloc_at(h, 0, 8, "t.global");
    heap_pool_t *pool = heap_pool_new(h, 4);
    REQUIRE(pool);
    heap_ref_t f = heap_alloc_at(h, 0, 24, "t.pooled");
    REQUIRE(heap_pool_put(pool, f));
    heap_ref_t x = heap_alloc_at(h, 1, 0, "t.garbage");
    heap_write_ref(h, x, 0, a);
    sh->a = a;

    tu_barrier_t *made = &sh->made, *done = &sh->done;
    made->n = done->n = 2;
    heap_leave(h);
    pid_t pid = tu_fork(child, sh);
    tu_barrier_wait(made);
    heap_enter(h);

    seen_t *s = calloc(1, sizeof *s);
    REQUIRE(s);
    heap_snap_ops_t ops = { .root = on_root, .object = on_object, .arg = s };
    heap_snap_stats_t st;
    REQUIRE_INT(heap_snapshot(h, &ops, &st), 0);

    /* Roots: the parent's stack, globals and pool; the child's stack. */
    CHECK_INT(s->nroots, 4);
    CHECK_UINT(st.roots, 4);
    const seen_root_t *rr = root(s, heap_roots_ref(r));
    REQUIRE(rr);
    CHECK_INT(rr->kind, HEAP_SNAP_ROOT_STACK);
    CHECK_INT(rr->pid, getpid());
    CHECK_INT(rr->nrefs, 2);
    CHECK(rr->refs[0] == a && rr->refs[1] == c);
    int globals = 0;
    for (int i = 0; i < s->nroots; i++) {
        if (s->roots[i].kind == HEAP_SNAP_ROOT_GLOBALS) {
            globals++;
            CHECK(s->roots[i].nrefs == 1 && s->roots[i].refs[0] == e);
        }
    }
    CHECK_INT(globals, 1);
    const seen_root_t *rp = root(s, heap_pool_ref(pool));
    REQUIRE(rp);
    CHECK_INT(rp->kind, HEAP_SNAP_ROOT_POOL);
    CHECK(rp->nrefs == 1 && rp->refs[0] == f);
    const seen_root_t *rc = root(s, sh->child_roots);
    REQUIRE(rc);
    CHECK_INT(rc->kind, HEAP_SNAP_ROOT_STACK);
    CHECK_INT(rc->pid, pid);
    CHECK(rc->nrefs == 1 && rc->refs[0] == sh->y);

    /* Objects: a b c d e f y, once each; not x. */
    CHECK_INT(s->nobjs, 7);
    CHECK_UINT(st.objects, 7);
    CHECK(obj(s, x) == NULL);
    const seen_obj_t *oa = obj(s, a), *ob = obj(s, b), *oc = obj(s, c), *od = obj(s, d);
    const seen_obj_t *oe = obj(s, e), *of = obj(s, f), *oy = obj(s, sh->y);
    REQUIRE(oa && ob && oc && od && oe && of && oy);
    CHECK_STR(oa->site, "t.a");
    CHECK_UINT(oa->bytes, heap_obj_size(h, a));
    CHECK_UINT(oa->bytes, 32);
    CHECK_UINT(oa->nptrs, 2);
    CHECK(oa->size_class > 0);
    CHECK(oa->nrefs == 2 && oa->refs[0] == b && oa->refs[1] == b);
    CHECK(ob->nrefs == 1 && ob->refs[0] == a && ob->nptrs == 1);
    CHECK_STR(oc->site, "t.large");
    CHECK_UINT(oc->size_class, 0);
    CHECK_UINT(oc->bytes, heap_obj_size(h, c));
    CHECK_UINT(oc->nptrs, 3);
    CHECK(oc->nrefs == 2 && oc->refs[0] == d && oc->refs[1] == a);   /* slot 0 nil */
    CHECK(od->nptrs == 0 && od->nrefs == 0 && od->bytes == 112);
    CHECK_STR(od->site, "t.noscan");
    CHECK_STR(oe->site, "t.global");
    CHECK_STR(of->site, "t.pooled");
    CHECK_STR(oy->site, "child.y");
    CHECK(oy->nrefs == 1 && oy->refs[0] == a);
    uint64_t bytes = 0;
    for (int i = 0; i < s->nobjs; i++)
        bytes += s->objs[i].bytes;
    CHECK_UINT(st.bytes, bytes);
    CHECK_UINT(st.edges, 2 + 1 + 1 + 1 + 2 + 1 + 2 + 1);   /* roots 5, objects 6 */

    /* Read only: the heap is intact and x is still only garbage. */
    REQUIRE_HEAP_VERIFY(h);
    uint64_t x_bytes = heap_obj_size(h, x);
    heap_stats_t hs0, hs1;
    heap_stats_read(h, &hs0);
    REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    heap_stats_read(h, &hs1);
    CHECK_UINT(hs0.heap_alloc_bytes - hs1.heap_alloc_bytes, x_bytes);

    /* Without callbacks: the same walk, counted. */
    ops.object = NULL;
    ops.root = NULL;
    REQUIRE_INT(heap_snapshot(h, &ops, &st), 0);
    CHECK_UINT(st.objects, 7);
    CHECK_UINT(st.roots, 4);

    heap_leave(h);
    tu_barrier_wait(done);
    tu_wait_ok(pid);
    free(s);
    heap_pool_destroy(h, &pool);
    heap_roots_destroy(h, &r);
    heap_close(&h, true);
}

static int stop_at_first(void *arg, const heap_snap_object_t *o)
{
    (void)o;
    ++*(int *)arg;
    return 42;
}

/* A callback's non-zero return ends the walk at once; the world restarts. */
static void test_callback_stops(void)
{
    char name[128];
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.heap_max_bytes = 64 * MiB;
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, "snap-stop"), &cfg, true, &h), 0,
               heap_strerror);
    heap_enter(h);
    heap_ref_t *g = heap_globals(h, 1);
    for (int i = 0; i < 100; i++) {
        heap_ref_t n = heap_alloc(h, 1, 8);
        heap_write_ref(h, n, 0, g[0]);
        g[0] = n;
    }
    int calls = 0;
    heap_snap_ops_t ops = { .object = stop_at_first, .arg = &calls };
    CHECK_INT(heap_snapshot(h, &ops, NULL), 42);
    CHECK_INT(calls, 1);
    CHECK_RC(heap_collect(h), 0, heap_strerror);   /* the world is ours again */
    REQUIRE_HEAP_VERIFY(h);
    heap_close(&h, true);
}

int main(void)
{
    tu_init("heap_snapshot_test", 120);
    test_known_shape();
    test_callback_stops();
    tu_finish();
    return 0;
}
