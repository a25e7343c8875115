/*
** shm_heap/heap_model.c -- see heap_model.h.
*/
#include "shm_heap/heap_model.h"
#include "shm_heap/heap_int.h"
#include "shm_heap/heap_testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    heap_ref_t ref;
    uint32_t nptrs;
    uint32_t scalar_bytes;
    uint32_t seen;            /* epoch of the last walk that reached it */
    uint32_t *kids;           /* nptrs node ids, 0 = nil */
} node_t;

struct model {
    heap_t *h;
    model_config_t cfg;
    uint64_t rng;
    heap_roots_t *roots;
    heap_ref_t *stack;        /* the root stack's slot 0 */
    uint32_t *stack_ids;      /* model of slots [0, depth) */
    uint32_t depth;
    heap_ref_t *globals;
    uint32_t *global_ids;
    node_t *nodes;            /* id = index + 1 */
    uint32_t nnodes, cap;
    uint32_t epoch;
    uint64_t steps;
    uint32_t *walk;           /* scratch for model_check */
    size_t walk_cap;
};

void model_config_default(model_config_t *cfg)
{
    cfg->root_capacity = 256;
    cfg->nglobals = 64;
    cfg->collect_ppm = 500;
    cfg->verify_ppm = 100;
    cfg->leave_ppm = 300;
    cfg->large_ppm = 3000;
    cfg->check_every = 20000;
}

static uint64_t checksum(uint32_t id, uint32_t nptrs, uint32_t scalar_bytes)
{
    uint64_t x = ((uint64_t)id << 32) ^ ((uint64_t)nptrs << 16) ^ scalar_bytes;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static inline uint8_t fill_byte(uint32_t id, uint32_t j)
{
    return (uint8_t)(id * 31u + j * 7u);
}

model_t *model_new(heap_t *h, const model_config_t *cfg, uint64_t seed)
{
    model_t *m = calloc(1, sizeof *m);
    REQUIRE(m);
    m->h = h;
    m->cfg = *cfg;
    m->rng = seed;
    m->roots = heap_roots_new(h, cfg->root_capacity);
    REQUIRE(m->roots);
    m->stack = heap_roots_push(m->roots, 0);
    REQUIRE(m->stack);
    m->stack_ids = calloc(cfg->root_capacity, sizeof *m->stack_ids);
    m->globals = heap_globals(h, cfg->nglobals);
    REQUIRE(m->globals);
    m->global_ids = calloc(cfg->nglobals, sizeof *m->global_ids);
    REQUIRE(m->stack_ids && m->global_ids);
    return m;
}

void model_destroy(model_t **model_p)
{
    model_t *m = *model_p;
    if (!m)
        return;
    *model_p = NULL;
    heap_roots_destroy(m->h, &m->roots);
    for (uint32_t i = 0; i < m->nnodes; i++)
        free(m->nodes[i].kids);
    free(m->nodes);
    free(m->stack_ids);
    free(m->global_ids);
    free(m->walk);
    free(m);
}

static node_t *node(model_t *m, uint32_t id)
{
    return &m->nodes[id - 1];
}

static heap_ref_t ref_of(model_t *m, uint32_t id)
{
    return id ? node(m, id)->ref : 0;
}

/* A node reachable right now: a random root, then a short random walk. */
static uint32_t pick_reachable(model_t *m)
{
    uint32_t id = 0;
    for (int tries = 0; tries < 8 && !id; tries++) {
        uint32_t n = m->depth + m->cfg.nglobals;
        uint32_t k = (uint32_t)tu_below(&m->rng, n);
        id = k < m->depth ? m->stack_ids[k] : m->global_ids[k - m->depth];
    }
    if (!id)
        return 0;
    for (uint64_t steps = tu_below(&m->rng, 7); steps > 0; steps--) {
        node_t *n = node(m, id);
        if (!n->nptrs)
            break;
        uint32_t kid = n->kids[tu_below(&m->rng, n->nptrs)];
        if (!kid)
            break;
        id = kid;
    }
    return id;
}

/* Allocate a node; the caller stores its ref before allocating again. */
static uint32_t new_node(model_t *m)
{
    uint64_t r = tu_below(&m->rng, 100);
    uint32_t nptrs = r < 70 ? (uint32_t)tu_below(&m->rng, 5)
                   : r < 95 ? 5 + (uint32_t)tu_below(&m->rng, 12)
                            : 17 + (uint32_t)tu_below(&m->rng, 200);
    uint32_t scalar = 16 + (uint32_t)tu_below(&m->rng, 300);
    if (tu_below(&m->rng, 1000000) < m->cfg.large_ppm)
        scalar = 32000 + (uint32_t)tu_below(&m->rng, 120000);
    heap_ref_t ref = heap_alloc(m->h, nptrs, scalar);
    REQUIRE_MSG(ref, "heap_alloc(%u, %u): %s", nptrs, scalar, heap_strerror(heap_last_error(m->h)));
    if (m->nnodes == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 1024;
        m->nodes = realloc(m->nodes, m->cap * sizeof *m->nodes);
        REQUIRE(m->nodes);
    }
    uint32_t id = ++m->nnodes;
    node_t *n = node(m, id);
    n->ref = ref;
    n->nptrs = nptrs;
    n->scalar_bytes = scalar;
    n->seen = 0;
    n->kids = nptrs ? calloc(nptrs, sizeof *n->kids) : NULL;
    REQUIRE(!nptrs || n->kids);
    uint8_t *d = heap_data(m->h, ref, nptrs);
    uint64_t head[2] = { id, checksum(id, nptrs, scalar) };
    memcpy(d, head, sizeof head);
    for (uint32_t j = 16; j < scalar; j++)
        d[j] = fill_byte(id, j);
    return id;
}

static void set_kid(model_t *m, uint32_t parent, uint32_t slot, uint32_t kid)
{
    node(m, parent)->kids[slot] = kid;
    heap_write_ref(m->h, node(m, parent)->ref, slot, ref_of(m, kid));
}

static void set_root(model_t *m, uint32_t id)
{
    uint32_t n = m->depth + m->cfg.nglobals;
    uint32_t k = (uint32_t)tu_below(&m->rng, n);
    if (k < m->depth) {
        m->stack_ids[k] = id;
        m->stack[k] = ref_of(m, id);
    } else {
        m->global_ids[k - m->depth] = id;
        m->globals[k - m->depth] = ref_of(m, id);
    }
}

static int fail(char *why, size_t whysize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whysize, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whysize, fmt, ap);
    va_end(ap);
    return -1;
}

static int check_node(model_t *m, uint32_t id, char *why, size_t whysize)
{
    heap_t *h = m->h;
    node_t *n = node(m, id);
    if (heap_obj_nptrs(h, n->ref) != n->nptrs ||
        heap_obj_size(h, n->ref) != heap__footprint_bytes(h, n->nptrs, n->scalar_bytes))
        return fail(why, whysize, "node %u: heap says %u slots %zu bytes, model %u %u", id,
                    heap_obj_nptrs(h, n->ref), heap_obj_size(h, n->ref), n->nptrs,
                    n->scalar_bytes);
    const uint8_t *d = heap_data(h, n->ref, n->nptrs);
    uint64_t head[2];
    memcpy(head, d, sizeof head);
    if (head[0] != id || head[1] != checksum(id, n->nptrs, n->scalar_bytes))
        return fail(why, whysize, "node %u: id/checksum %llu/%llx", id,
                    (unsigned long long)head[0], (unsigned long long)head[1]);
    uint32_t stride = n->scalar_bytes > 4096 ? 61 : 1;
    for (uint32_t j = 16; j < n->scalar_bytes; j += stride) {
        if (d[j] != fill_byte(id, j))
            return fail(why, whysize, "node %u: scalar byte %u is %u", id, j, d[j]);
    }
    for (uint32_t i = 0; i < n->nptrs; i++) {
        heap_ref_t slot = heap_read_ref(h, n->ref, i);
        if (slot != ref_of(m, n->kids[i]))
            return fail(why, whysize, "node %u slot %u: %#llx, model says node %u (%#llx)", id,
                        i, (unsigned long long)slot, n->kids[i],
                        (unsigned long long)ref_of(m, n->kids[i]));
    }
    return 0;
}

int model_check(model_t *m, uint64_t *bytes, uint64_t *objects, char *why, size_t whysize)
{
    uint64_t live_bytes = 0, live_objects = 0;
    m->epoch++;
    size_t top = 0;
    uint32_t nroots = m->depth + m->cfg.nglobals;
    for (uint32_t k = 0; k < nroots; k++) {
        uint32_t id = k < m->depth ? m->stack_ids[k] : m->global_ids[k - m->depth];
        heap_ref_t have = k < m->depth ? m->stack[k] : m->globals[k - m->depth];
        if (have != ref_of(m, id))
            return fail(why, whysize, "root %u: %#llx, model says node %u", k,
                        (unsigned long long)have, id);
        if (!id || node(m, id)->seen == m->epoch)
            continue;
        node(m, id)->seen = m->epoch;
        if (top == m->walk_cap) {
            m->walk_cap = m->walk_cap ? m->walk_cap * 2 : 4096;
            m->walk = realloc(m->walk, m->walk_cap * sizeof *m->walk);
            REQUIRE(m->walk);
        }
        m->walk[top++] = id;
        while (top) {
            uint32_t cur = m->walk[--top];
            int rc = check_node(m, cur, why, whysize);
            if (rc)
                return rc;
            node_t *n = node(m, cur);
            live_bytes += heap__footprint_bytes(m->h, n->nptrs, n->scalar_bytes);
            live_objects++;
            for (uint32_t i = 0; i < n->nptrs; i++) {
                uint32_t kid = n->kids[i];
                if (!kid || node(m, kid)->seen == m->epoch)
                    continue;
                node(m, kid)->seen = m->epoch;
                if (top == m->walk_cap) {
                    m->walk_cap *= 2;
                    m->walk = realloc(m->walk, m->walk_cap * sizeof *m->walk);
                    REQUIRE(m->walk);
                }
                m->walk[top++] = kid;
            }
        }
    }
    if (bytes)
        *bytes = live_bytes;
    if (objects)
        *objects = live_objects;
    return 0;
}

void model_step(model_t *m)
{
    heap_t *h = m->h;
    uint64_t op = tu_below(&m->rng, 100);
    if (op < 40) {
        /* A new node under a root or under a reachable node. */
        uint32_t parent = tu_below(&m->rng, 4) ? pick_reachable(m) : 0;
        uint32_t id = new_node(m);
        if (parent && node(m, parent)->nptrs)
            set_kid(m, parent, (uint32_t)tu_below(&m->rng, node(m, parent)->nptrs), id);
        else
            set_root(m, id);
    } else if (op < 48) {
        /* Grow: fill the nil slots of a reachable node with new nodes. */
        uint32_t parent = pick_reachable(m);
        for (uint32_t i = 0; parent && i < node(m, parent)->nptrs && i < 8; i++) {
            if (!node(m, parent)->kids[i]) {
                uint32_t id = new_node(m);
                set_kid(m, parent, i, id);
            }
        }
    } else if (op < 60) {
        uint32_t parent = pick_reachable(m);
        if (parent && node(m, parent)->nptrs) {
            uint32_t kid = tu_below(&m->rng, 8) ? pick_reachable(m) : 0;
            set_kid(m, parent, (uint32_t)tu_below(&m->rng, node(m, parent)->nptrs), kid);
        }
    } else if (op < 65) {
        set_root(m, tu_below(&m->rng, 3) ? pick_reachable(m) : 0);
    } else if (op < 72) {
        uint32_t k = 1 + (uint32_t)tu_below(&m->rng, 4);
        if (m->depth + k <= m->cfg.root_capacity) {
            heap_ref_t *s = heap_roots_push(m->roots, k);
            REQUIRE(s == m->stack + m->depth);
            for (uint32_t i = 0; i < k; i++)
                REQUIRE(s[i] == 0);
            memset(m->stack_ids + m->depth, 0, k * sizeof *m->stack_ids);
            m->depth += k;
        } else {
            REQUIRE(heap_roots_push(m->roots, k) == NULL && heap_last_error(h) == HEAP_EROOTS);
        }
    } else if (op < 78) {
        uint32_t k = 1 + (uint32_t)tu_below(&m->rng, 4);
        if (k > m->depth)
            k = m->depth;
        heap_roots_pop(m->roots, k);
        m->depth -= k;
        REQUIRE(heap_roots_depth(m->roots) == m->depth);
    } else {
        uint32_t id = pick_reachable(m);
        char why[256];
        if (id && check_node(m, id, why, sizeof why) != 0)
            testrun_require_failed(__FILE__, __LINE__, "%s", why);
    }

    uint64_t dice = tu_below(&m->rng, 1000000);
    if (dice < m->cfg.collect_ppm) {
        REQUIRE_RC(heap_collect(h), 0, heap_strerror);
    } else if (dice < m->cfg.collect_ppm + m->cfg.verify_ppm) {
        REQUIRE_HEAP_VERIFY(h);
    } else if (dice < m->cfg.collect_ppm + m->cfg.verify_ppm + m->cfg.leave_ppm) {
        heap_leave(h);
        tu_sleep_ns(tu_below(&m->rng, 200000));
        heap_enter(h);
    } else if (dice % 16 == 0) {
        heap_safepoint(h);
    }
    if (m->cfg.check_every && ++m->steps % m->cfg.check_every == 0) {
        char why[256];
        if (model_check(m, NULL, NULL, why, sizeof why) != 0)
            testrun_require_failed(__FILE__, __LINE__, "model check after %llu steps: %s",
                    (unsigned long long)m->steps, why);
    }
}
