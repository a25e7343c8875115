/*
** shm_heap/heap_conc_test.c -- the concurrent mark keeps the tri-colour
** invariant: a mutator rewires references while marking runs in small
** steps, and every object reachable at the end of each cycle must have
** survived it, checked against an independent model of the graph.
**
** The moves are the ones that lose objects without a barrier: a
** reference taken out of a not-yet-scanned object into an already
** scanned root or object, new objects (allocated black) linked in, roots
** dropped. Built against the heap without its write barrier
** (heap_conc_nobarrier_test, HEAPSIM_TEST_NO_BARRIER), the same run must
** find lost objects: so this test can fail.
*/
#include "shm_heap/heap_int.h"
#include "shm_heap/heap_testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 6000
#define NSLOTS 2
#define NROOTS 32
#ifdef HEAPSIM_TEST_NO_BARRIER
#define ROUNDS 2000   /* until an object is lost */
#else
#define ROUNDS 40
#endif
#define OPS_PER_ROUND 600

typedef struct model {
    heap_t *h;
    heap_ref_t *roots;              /* the root stack's slots */
    heap_ref_t ref[MAX_NODES];      /* node -> its object (0: gone) */
    int kid[MAX_NODES][NSLOTS];     /* node -> node, -1 nil */
    int root[NROOTS];
    int n;
    uint8_t seen[MAX_NODES];
    int reach[MAX_NODES], nreach;
    uint64_t rng;
} model_t;

static int new_node(model_t *m)
{
    if (m->n >= MAX_NODES)
        return -1;
    heap_ref_t r = heap_alloc(m->h, NSLOTS, sizeof(uint64_t));
    REQUIRE(r != 0);
    int id = m->n++;
    *(uint64_t *)heap_data(m->h, r, NSLOTS) = 0x7a67000000000000ull | (uint64_t)id;
    m->ref[id] = r;
    m->kid[id][0] = m->kid[id][1] = -1;
    return id;
}

static void set_kid(model_t *m, int a, int i, int b)
{
    heap_write_ref(m->h, m->ref[a], (uint32_t)i, b < 0 ? 0 : m->ref[b]);
    m->kid[a][i] = b;
}

static void set_root(model_t *m, int r, int b)
{
    m->roots[r] = b < 0 ? 0 : m->ref[b];
    m->root[r] = b;
}

/* The nodes reachable from the roots, in the model. */
static void reachable(model_t *m)
{
    memset(m->seen, 0, (size_t)m->n);
    m->nreach = 0;
    for (int r = 0; r < NROOTS; r++) {
        if (m->root[r] >= 0 && !m->seen[m->root[r]]) {
            m->seen[m->root[r]] = 1;
            m->reach[m->nreach++] = m->root[r];
        }
    }
    for (int k = 0; k < m->nreach; k++) {
        int a = m->reach[k];
        for (int i = 0; i < NSLOTS; i++) {
            int b = m->kid[a][i];
            if (b >= 0 && !m->seen[b]) {
                m->seen[b] = 1;
                m->reach[m->nreach++] = b;
            }
        }
    }
}

static int any_reachable(model_t *m)
{
    return m->nreach ? m->reach[tu_below(&m->rng, (uint64_t)m->nreach)] : -1;
}

/* Every reachable node still an allocated object with its tag and its
** slots as the model says. Returns how many are not. */
static int lost_objects(model_t *m)
{
    reachable(m);
    int lost = 0;
    for (int k = 0; k < m->nreach; k++) {
        int a = m->reach[k];
        heap_ref_t r = m->ref[a];
        char why[128];
        bool ok = heap__check_ref(m->h, r, false, why, sizeof why) == 0 &&
                  *(uint64_t *)heap_data(m->h, r, NSLOTS) == (0x7a67000000000000ull | (uint64_t)a);
        for (int i = 0; ok && i < NSLOTS; i++)
            ok = heap_read_ref(m->h, r, (uint32_t)i) == (m->kid[a][i] < 0 ? 0 : m->ref[m->kid[a][i]]);
        lost += !ok;
    }
    return lost;
}

/* One mutation, between mark steps. */
static void mutate(model_t *m)
{
    int a = any_reachable(m), b = any_reachable(m);
    if (a < 0)
        return;
    int i = (int)tu_below(&m->rng, NSLOTS), j = (int)tu_below(&m->rng, NSLOTS);
    switch (tu_below(&m->rng, 6)) {
    case 0:   /* move a reference from one object into another, delete the old */
    case 1: {
        int x = m->kid[a][i];
        set_kid(m, b, j, x);
        if (a != b || i != j)
            set_kid(m, a, i, -1);
        break;
    }
    case 2: { /* into a root (scanned already), out of the heap */
        int x = m->kid[a][i];
        if (x >= 0) {
            set_root(m, (int)tu_below(&m->rng, NROOTS), x);
            set_kid(m, a, i, -1);
        }
        break;
    }
    case 3: { /* a new object, linked in, taking over an old reference */
        int n = new_node(m);
        if (n >= 0) {
            set_kid(m, n, 0, m->kid[a][i]);
            set_kid(m, a, i, n);
        }
        break;
    }
    case 4: { /* a root moves into the heap and is dropped */
        int r = (int)tu_below(&m->rng, NROOTS);
        set_kid(m, a, i, m->root[r]);
        set_root(m, r, -1);
        break;
    }
    default:  /* drop a reference */
        set_kid(m, a, i, -1);
        break;
    }
    reachable(m);
}

int main(void)
{
    tu_init("heap_conc_test", 120);
    char name[128];
    heap_config_t cfg;
    heap_config_default(&cfg);
    cfg.heap_max_bytes = 256u << 20;
    cfg.gogc = HEAP_GOGC_OFF;   /* only the cycles this test starts */
    heap_t *h = NULL;
    REQUIRE_RC(heap_open(tu_segment(name, sizeof name, "conc"), &cfg, true, &h), 0, heap_strerror);
    heap_enter(h);
    static model_t model;
    model_t *m = &model;
    m->h = h;
    m->rng = tu_seed();
    heap_roots_t *rs = heap_roots_new(h, NROOTS);
    REQUIRE(rs != NULL);
    m->roots = heap_roots_push(rs, NROOTS);
    REQUIRE(m->roots != NULL);

    /* A random graph, much of it garbage. */
    for (int k = 0; k < 1500; k++)
        new_node(m);
    for (int a = 0; a < m->n; a++)
        for (int i = 0; i < NSLOTS; i++)
            set_kid(m, a, i, tu_below(&m->rng, 4) ? (int)tu_below(&m->rng, (uint64_t)m->n) : -1);
    for (int r = 0; r < NROOTS; r++)
        set_root(m, r, (int)tu_below(&m->rng, (uint64_t)m->n));
    reachable(m);

    int lost = 0, cycles = 0, steps = 0;
    for (int round = 0; round < ROUNDS && !lost; round++) {
        /* Keep the graph big enough for the moves that matter. */
        while (m->nreach < 600 && m->n < MAX_NODES - OPS_PER_ROUND) {
            int x = new_node(m);
            set_kid(m, x, 0, any_reachable(m));
            set_kid(m, x, 1, any_reachable(m));
            int a = any_reachable(m);
            if (a >= 0 && tu_below(&m->rng, 2))
                set_kid(m, a, (int)tu_below(&m->rng, NSLOTS), x);
            else
                set_root(m, (int)tu_below(&m->rng, NROOTS), x);
            reachable(m);
        }
        REQUIRE_RC(heap__mark_begin(h), 0, heap_strerror);
        REQUIRE(heap__mark_running(h) && h->view.barrier_on);
        for (int op = 0; op < OPS_PER_ROUND && heap__mark_running(h); op++) {
            if (tu_below(&m->rng, 3) == 0) {
                heap__mark_step(h, 64 + tu_below(&m->rng, 1024));
                steps++;
            }
            mutate(m);
        }
        heap__mark_end(h);
        REQUIRE(!heap__mark_running(h) && !h->view.barrier_on);
        /* The sweep is lazy: finish it, so a lost object is a freed one. */
        while (heap__sweep_some(h, 1u << 30))
            ;
        cycles++;
        lost += lost_objects(m);
        /* Forget the garbage: those nodes are never touched again. */
        for (int a = 0; a < m->n; a++)
            if (!m->seen[a])
                m->ref[a] = 0;
        if (m->n > MAX_NODES - OPS_PER_ROUND) {
            /* Room for new nodes: renumber the live ones. */
            static int map[MAX_NODES];
            int n = 0;
            for (int a = 0; a < m->n; a++)
                map[a] = m->seen[a] ? n++ : -1;
            for (int a = 0; a < m->n; a++) {
                if (map[a] < 0)
                    continue;
                m->ref[map[a]] = m->ref[a];
                for (int i = 0; i < NSLOTS; i++)
                    m->kid[map[a]][i] = m->kid[a][i] < 0 ? -1 : map[m->kid[a][i]];
                *(uint64_t *)heap_data(h, m->ref[map[a]], NSLOTS) =
                    0x7a67000000000000ull | (uint64_t)map[a];
            }
            for (int r = 0; r < NROOTS; r++)
                m->root[r] = m->root[r] < 0 ? -1 : map[m->root[r]];
            m->n = n;
            reachable(m);
        }
    }
    fprintf(stderr, "heap_conc_test: %d cycles, %d mark steps, %d objects lost\n", cycles,
            steps, lost);
#ifdef HEAPSIM_TEST_NO_BARRIER
    /* Without the barrier the same moves must lose objects. */
    REQUIRE_MSG(lost > 0, "no object lost without the write barrier: the test cannot fail");
#else
    REQUIRE_INT(lost, 0);
    REQUIRE(cycles == ROUNDS);
    REQUIRE_HEAP_VERIFY(h);
#endif
    heap_roots_destroy(h, &rs);
    heap_leave(h);
    heap_close(&h, true);
    tu_finish();
    return 0;
}
