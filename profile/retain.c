/*
** profile/retain.c -- dominators, retained sizes, paths and the
** retention profile of an object graph (retain.h).
**
** Layout: nodes in arrays indexed from 0 (the super-root); labels are
** interned strings; edges are gathered as (from, to key) and turned into
** successor and predecessor lists (CSR) by retain_graph_analyze().
*/
#include "profile/retain.h"
#include "profile/profile.h"
#include "profile/profile_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/pprof.pb-c.h"

#define UNDEF UINT32_MAX

struct retain_graph {
    /* nodes */
    uint32_t n, cap;
    uint64_t *key, *bytes;
    uint32_t *label;             /* string id: site/class name; a root's group */
    uint32_t *instance;          /* string id: a root's instance; UNDEF for objects */
    /* interned strings */
    char **str;
    uint32_t nstr, str_cap;
    uint32_t *str_map;           /* open addressing: string ids, UNDEF empty */
    uint32_t str_mask;
    /* key -> node */
    uint64_t *map_key;
    uint32_t *map_node;
    uint32_t map_mask;
    /* edges as added */
    uint32_t *e_from;
    uint64_t *e_to;
    size_t ne, e_cap;
    /* analysis */
    bool analyzed;
    uint32_t *succ_off, *succ, *pred_off, *pred;
    uint32_t *rpo, nreach;       /* reachable nodes, reverse postorder */
    uint32_t *po;                /* postorder number; UNDEF unreachable */
    uint32_t *idom, *depth;      /* dominator tree */
    uint64_t *retained;
    uint32_t *parent, *root_of;  /* shortest path tree; the root on that path */
    uint64_t reachable_bytes;
    /* labels of unsampled objects by (bytes, nptrs, large): a cache, as
    ** formatting and interning one per object costs most of a walk */
    struct { uint64_t bytes; uint32_t nptrs, label; } class_label[256];
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ull;
    return x ^ (x >> 29);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint32_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* The id of string s, interned. UNDEF on -ENOMEM. */
static uint32_t intern(retain_graph_t *g, const char *s)
{
    if (g->nstr * 2 >= g->str_mask) {
        uint32_t size = g->str_mask ? (g->str_mask + 1) * 2 : 256;
        uint32_t *m = malloc(size * sizeof *m);
        if (!m)
            return UNDEF;
        memset(m, 0xff, size * sizeof *m);
        for (uint32_t i = 0; i < g->nstr; i++) {
            uint32_t j = (uint32_t)hash_str(g->str[i]) & (size - 1);
            while (m[j] != UNDEF)
                j = (j + 1) & (size - 1);
            m[j] = i;
        }
        free(g->str_map);
        g->str_map = m;
        g->str_mask = size - 1;
    }
    uint32_t j = (uint32_t)hash_str(s) & g->str_mask;
    for (; g->str_map[j] != UNDEF; j = (j + 1) & g->str_mask)
        if (strcmp(g->str[g->str_map[j]], s) == 0)
            return g->str_map[j];
    uint32_t cap = g->str_cap;
    if (grow((void **)&g->str, &cap, g->nstr + 1, sizeof *g->str) != 0)
        return UNDEF;
    g->str_cap = cap;
    char *copy = strdup(s);
    if (!copy)
        return UNDEF;
    g->str[g->nstr] = copy;
    g->str_map[j] = g->nstr;
    return g->nstr++;
}

static uint32_t map_find(const retain_graph_t *g, uint64_t key)
{
    if (!g->map_key)
        return UNDEF;
    for (uint32_t j = (uint32_t)mix(key) & g->map_mask;; j = (j + 1) & g->map_mask) {
        if (g->map_key[j] == key)
            return g->map_node[j];
        if (g->map_key[j] == 0)
            return UNDEF;
    }
}

static int map_put(retain_graph_t *g, uint64_t key, uint32_t node)
{
    if ((uint64_t)g->n * 2 >= g->map_mask) {
        uint32_t size = g->map_mask ? (g->map_mask + 1) * 2 : 1024;
        uint64_t *k = calloc(size, sizeof *k);
        uint32_t *v = malloc(size * sizeof *v);
        if (!k || !v) {
            free(k);
            free(v);
            return -ENOMEM;
        }
        for (uint32_t i = 0; g->map_key && i <= g->map_mask; i++) {
            if (!g->map_key[i])
                continue;
            uint32_t j = (uint32_t)mix(g->map_key[i]) & (size - 1);
            while (k[j])
                j = (j + 1) & (size - 1);
            k[j] = g->map_key[i];
            v[j] = g->map_node[i];
        }
        free(g->map_key);
        free(g->map_node);
        g->map_key = k;
        g->map_node = v;
        g->map_mask = size - 1;
    }
    uint32_t j = (uint32_t)mix(key) & g->map_mask;
    while (g->map_key[j])
        j = (j + 1) & g->map_mask;
    g->map_key[j] = key;
    g->map_node[j] = node;
    return 0;
}

static int64_t add_node(retain_graph_t *g, uint64_t key, uint64_t bytes, uint32_t label,
                        uint32_t instance)
{
    if (g->analyzed || label == UNDEF)
        return -ENOMEM;
    if (key != 0 && map_find(g, key) != UNDEF)
        return -EEXIST;
    uint32_t need = g->n + 1, cap = g->cap;
    if (need > cap) {
        uint32_t c1 = cap, c2 = cap, c3 = cap, c4 = cap;
        if (grow((void **)&g->key, &c1, need, sizeof *g->key) ||
            grow((void **)&g->bytes, &c2, need, sizeof *g->bytes) ||
            grow((void **)&g->label, &c3, need, sizeof *g->label) ||
            grow((void **)&g->instance, &c4, need, sizeof *g->instance))
            return -ENOMEM;
        g->cap = c1;
    }
    uint32_t n = g->n;
    if (key != 0 && map_put(g, key, n) != 0)
        return -ENOMEM;
    g->key[n] = key;
    g->bytes[n] = bytes;
    g->label[n] = label;
    g->instance[n] = instance;
    g->n++;
    return n;
}

retain_graph_t *retain_graph_new(void)
{
    retain_graph_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    if (add_node(g, 0, 0, intern(g, "(roots)"), UNDEF) != 0) {
        retain_graph_destroy(&g);
        return NULL;
    }
    return g;
}

void retain_graph_destroy(retain_graph_t **g_p)
{
    retain_graph_t *g = g_p ? *g_p : NULL;
    if (!g)
        return;
    for (uint32_t i = 0; i < g->nstr; i++)
        free(g->str[i]);
    free(g->str);
    free(g->str_map);
    free(g->key);
    free(g->bytes);
    free(g->label);
    free(g->instance);
    free(g->map_key);
    free(g->map_node);
    free(g->e_from);
    free(g->e_to);
    free(g->succ_off);
    free(g->succ);
    free(g->pred_off);
    free(g->pred);
    free(g->rpo);
    free(g->po);
    free(g->idom);
    free(g->depth);
    free(g->retained);
    free(g->parent);
    free(g->root_of);
    free(g);
    *g_p = NULL;
}

static int add_edge_raw(retain_graph_t *g, uint32_t from, uint64_t to)
{
    if (g->ne == g->e_cap) {
        size_t cap = g->e_cap ? 2 * g->e_cap : 1024;
        uint32_t *f = realloc(g->e_from, cap * sizeof *f);
        if (!f)
            return -ENOMEM;
        g->e_from = f;
        uint64_t *t = realloc(g->e_to, cap * sizeof *t);
        if (!t)
            return -ENOMEM;
        g->e_to = t;
        g->e_cap = cap;
    }
    g->e_from[g->ne] = from;
    g->e_to[g->ne] = to;
    g->ne++;
    return 0;
}

int64_t retain_add_root(retain_graph_t *g, uint64_t key, const char *group,
                        const char *instance)
{
    if (!key)
        return -EINVAL;
    uint32_t gl = intern(g, group ? group : "(root)");
    uint32_t il = intern(g, instance ? instance : (group ? group : "(root)"));
    if (il == UNDEF)
        return -ENOMEM;
    int64_t n = add_node(g, key, 0, gl, il);
    if (n < 0)
        return n;
    /* The super-root's edge; its target is found by key like any other. */
    if (add_edge_raw(g, RETAIN_SUPER, key) != 0)
        return -ENOMEM;
    return n;
}

int64_t retain_add_object(retain_graph_t *g, uint64_t key, uint64_t bytes,
                          uint32_t size_class, uint32_t nptrs, const char *site)
{
    char name[96];
    if (!key)
        return -EINVAL;
    uint32_t slot = (uint32_t)(mix(bytes * 1315423911u + nptrs * 2u + (size_class == 0)) & 255);
    if (!site && g->class_label[slot].bytes == bytes && g->class_label[slot].nptrs == nptrs &&
        g->class_label[slot].label != 0 && (size_class == 0) == (bytes > 32768))
        return add_node(g, key, bytes, g->class_label[slot].label, UNDEF);
    if (!site) {
        if (size_class)
            snprintf(name, sizeof name, "class %" PRIu64 " B, %u ptr%s", bytes, nptrs,
                     nptrs == 1 ? "" : "s");
        else
            snprintf(name, sizeof name, "large %" PRIu64 " KiB, %u ptr%s", bytes >> 10, nptrs,
                     nptrs == 1 ? "" : "s");
        uint32_t label = intern(g, name);
        if (label != UNDEF && (size_class == 0) == (bytes > 32768)) {
            g->class_label[slot].bytes = bytes;
            g->class_label[slot].nptrs = nptrs;
            g->class_label[slot].label = label;
        }
        return add_node(g, key, bytes, label, UNDEF);
    }
    return add_node(g, key, bytes, intern(g, site), UNDEF);
}

int retain_add_edge(retain_graph_t *g, uint32_t from, uint64_t to)
{
    if (g->analyzed || from >= g->n)
        return -EINVAL;
    return add_edge_raw(g, from, to);
}

/* CSR lists of resolved edges, forward (succ) or backward (pred). */
static int build_csr(retain_graph_t *g, const uint32_t *to_node, bool forward,
                     uint32_t **off_p, uint32_t **adj_p)
{
    uint32_t *off = calloc((size_t)g->n + 1, sizeof *off);
    size_t m = 0;
    if (!off)
        return -ENOMEM;
    for (size_t e = 0; e < g->ne; e++) {
        if (to_node[e] == UNDEF)
            continue;
        off[(forward ? g->e_from[e] : to_node[e]) + 1]++;
        m++;
    }
    for (uint32_t i = 0; i < g->n; i++)
        off[i + 1] += off[i];
    uint32_t *adj = malloc((m ? m : 1) * sizeof *adj);
    uint32_t *fill = malloc(((size_t)g->n + 1) * sizeof *fill);
    if (!adj || !fill) {
        free(off);
        free(adj);
        free(fill);
        return -ENOMEM;
    }
    memcpy(fill, off, ((size_t)g->n + 1) * sizeof *fill);
    for (size_t e = 0; e < g->ne; e++) {
        if (to_node[e] == UNDEF)
            continue;
        uint32_t a = forward ? g->e_from[e] : to_node[e];
        uint32_t b = forward ? to_node[e] : g->e_from[e];
        adj[fill[a]++] = b;
    }
    free(fill);
    *off_p = off;
    *adj_p = adj;
    return 0;
}

/* Postorder numbers and the reverse postorder, iterative DFS from 0. */
static int order(retain_graph_t *g)
{
    uint32_t n = g->n;
    uint32_t *stack = malloc((size_t)n * sizeof *stack);
    uint32_t *next = calloc(n, sizeof *next);   /* next successor to try */
    uint8_t *seen = calloc(n, 1);
    g->po = malloc((size_t)n * sizeof *g->po);
    g->rpo = malloc((size_t)n * sizeof *g->rpo);
    if (!stack || !next || !seen || !g->po || !g->rpo) {
        free(stack);
        free(next);
        free(seen);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        g->po[i] = UNDEF;
    uint32_t sp = 0, count = 0;
    stack[sp++] = 0;
    seen[0] = 1;
    while (sp > 0) {
        uint32_t v = stack[sp - 1];
        uint32_t k = g->succ_off[v] + next[v];
        if (k < g->succ_off[v + 1]) {
            next[v]++;
            uint32_t w = g->succ[k];
            if (!seen[w]) {
                seen[w] = 1;
                stack[sp++] = w;
            }
            continue;
        }
        sp--;
        g->po[v] = count++;
    }
    g->nreach = count;
    for (uint32_t i = 0; i < n; i++)
        if (g->po[i] != UNDEF)
            g->rpo[count - 1 - g->po[i]] = i;
    free(stack);
    free(next);
    free(seen);
    return 0;
}

static uint32_t intersect(const retain_graph_t *g, uint32_t a, uint32_t b)
{
    while (a != b) {
        while (g->po[a] < g->po[b])
            a = g->idom[a];
        while (g->po[b] < g->po[a])
            b = g->idom[b];
    }
    return a;
}

/* Cooper, Harvey, Kennedy: iterate idom over the reverse postorder until
** nothing changes. */
static int dominators(retain_graph_t *g)
{
    g->idom = malloc((size_t)g->n * sizeof *g->idom);
    if (!g->idom)
        return -ENOMEM;
    for (uint32_t i = 0; i < g->n; i++)
        g->idom[i] = UNDEF;
    g->idom[0] = 0;
    for (bool changed = true; changed;) {
        changed = false;
        for (uint32_t i = 1; i < g->nreach; i++) {
            uint32_t b = g->rpo[i], nd = UNDEF;
            for (uint32_t k = g->pred_off[b]; k < g->pred_off[b + 1]; k++) {
                uint32_t p = g->pred[k];
                if (g->idom[p] == UNDEF)
                    continue;   /* unreachable, or not reached by this pass yet */
                nd = nd == UNDEF ? p : intersect(g, p, nd);
            }
            if (g->idom[b] != nd) {
                g->idom[b] = nd;
                changed = true;
            }
        }
    }
    return 0;
}

/* Shortest paths from the super-root (BFS), and which root each path
** starts at. */
static int shortest_paths(retain_graph_t *g)
{
    uint32_t n = g->n;
    uint32_t *queue = malloc((size_t)n * sizeof *queue);
    g->parent = malloc((size_t)n * sizeof *g->parent);
    g->root_of = malloc((size_t)n * sizeof *g->root_of);
    if (!queue || !g->parent || !g->root_of) {
        free(queue);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++)
        g->parent[i] = g->root_of[i] = UNDEF;
    uint32_t head = 0, tail = 0;
    queue[tail++] = 0;
    g->parent[0] = 0;
    while (head < tail) {
        uint32_t v = queue[head++];
        for (uint32_t k = g->succ_off[v]; k < g->succ_off[v + 1]; k++) {
            uint32_t w = g->succ[k];
            if (g->parent[w] != UNDEF)
                continue;
            g->parent[w] = v;
            g->root_of[w] = v == 0 ? w : g->root_of[v];
            queue[tail++] = w;
        }
    }
    free(queue);
    return 0;
}

int retain_graph_analyze(retain_graph_t *g)
{
    if (g->analyzed)
        return 0;
    uint32_t *to_node = malloc((g->ne ? g->ne : 1) * sizeof *to_node);
    if (!to_node)
        return -ENOMEM;
    for (size_t e = 0; e < g->ne; e++)
        to_node[e] = map_find(g, g->e_to[e]);
    int rc = build_csr(g, to_node, true, &g->succ_off, &g->succ);
    if (!rc)
        rc = build_csr(g, to_node, false, &g->pred_off, &g->pred);
    free(to_node);
    if (!rc)
        rc = order(g);
    if (!rc)
        rc = dominators(g);
    if (!rc)
        rc = shortest_paths(g);
    if (rc)
        return rc;
    g->retained = calloc(g->n, sizeof *g->retained);
    g->depth = calloc(g->n, sizeof *g->depth);
    if (!g->retained || !g->depth)
        return -ENOMEM;
    for (uint32_t i = 1; i < g->nreach; i++) {
        uint32_t v = g->rpo[i];
        g->depth[v] = g->depth[g->idom[v]] + 1;
    }
    g->reachable_bytes = 0;
    for (uint32_t i = g->nreach; i-- > 0;) {
        uint32_t v = g->rpo[i];
        g->retained[v] += g->bytes[v];
        g->reachable_bytes += g->bytes[v];
        if (v != 0)
            g->retained[g->idom[v]] += g->retained[v];
    }
    g->idom[0] = RETAIN_NONE;
    g->analyzed = true;
    return 0;
}

uint32_t retain_nodes(const retain_graph_t *g) { return g->n; }

uint32_t retain_idom(const retain_graph_t *g, uint32_t n)
{
    return g->analyzed && n < g->n ? g->idom[n] : RETAIN_NONE;
}

uint64_t retain_retained_bytes(const retain_graph_t *g, uint32_t n)
{
    return g->analyzed && n < g->n ? g->retained[n] : 0;
}

uint32_t retain_node_of(const retain_graph_t *g, uint64_t key)
{
    return key == 0 ? RETAIN_SUPER : map_find(g, key);
}

const char *retain_label(const retain_graph_t *g, uint32_t n)
{
    return n < g->n ? g->str[g->label[n]] : NULL;
}

uint64_t retain_reachable_bytes(const retain_graph_t *g)
{
    return g->reachable_bytes;
}

/* ---- Site reports ------------------------------------------------------ */

void retain_site_free(retain_site_t *s)
{
    if (!s)
        return;
    free(s->site);
    free(s->root_group);
    free(s->root);
    free(s->holder);
    free(s->path);
    memset(s, 0, sizeof *s);
}

typedef struct group {
    uint32_t label;              /* the roots' group string */
    uint64_t objects, retained, roots;
    uint32_t best;               /* its object retaining the most */
    uint32_t lca;                /* closest common dominator so far */
} group_t;

static uint32_t dom_lca(const retain_graph_t *g, uint32_t a, uint32_t b)
{
    while (g->depth[a] > g->depth[b])
        a = g->idom[a];
    while (g->depth[b] > g->depth[a])
        b = g->idom[b];
    while (a != b) {
        a = g->idom[a];
        b = g->idom[b];
    }
    return a;
}

/* A node's name on a path: a root's instance, an object's label. */
static const char *node_name(const retain_graph_t *g, uint32_t v)
{
    return g->instance[v] != UNDEF ? g->str[g->instance[v]] : g->str[g->label[v]];
}

static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            return -ENOMEM;
        if (*buf && *len + (size_t)k < *cap) {
            *len += (size_t)k;
            return 0;
        }
        size_t c = *cap ? *cap * 2 : 256;
        while (c < *len + (size_t)k + 1)
            c *= 2;
        char *p = realloc(*buf, c);
        if (!p)
            return -ENOMEM;
        *buf = p;
        *cap = c;
    }
}

static char *path_text(const retain_graph_t *g, uint32_t v, uint32_t *len_out)
{
    uint32_t steps = 0;
    for (uint32_t u = v; u != 0; u = g->parent[u])
        steps++;
    uint32_t *chain = malloc((size_t)steps * sizeof *chain);
    if (!chain)
        return NULL;
    uint32_t k = steps;
    for (uint32_t u = v; u != 0; u = g->parent[u])
        chain[--k] = u;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (uint32_t i = 0; i < steps && rc == 0; i++) {
        uint32_t u = chain[i];
        if (i == 0)
            rc = append(&buf, &len, &cap, "%s", node_name(g, u));
        else
            rc = append(&buf, &len, &cap, "\n-> %s (%" PRIu64 " B, retains %" PRIu64 " B)",
                        node_name(g, u), g->bytes[u], g->retained[u]);
    }
    free(chain);
    if (rc) {
        free(buf);
        return NULL;
    }
    *len_out = steps ? steps - 1 : 0;
    return buf;
}

int retain_site_report(const retain_graph_t *g, const char *site, retain_site_t *out)
{
    memset(out, 0, sizeof *out);
    if (!g->analyzed)
        return -EINVAL;
    uint32_t sl = UNDEF;
    for (uint32_t j = (uint32_t)hash_str(site) & g->str_mask; g->str_map[j] != UNDEF;
         j = (j + 1) & g->str_mask)
        if (strcmp(g->str[g->str_map[j]], site) == 0)
            sl = g->str_map[j];
    if (sl == UNDEF)
        return 1;

    /* nested[v]: a proper dominator of v is labelled site. */
    uint8_t *nested = calloc(g->n, 1);
    uint32_t *stamp = calloc(g->n, sizeof *stamp);   /* roots counted per group + 1 */
    group_t *groups = NULL;
    uint32_t ngroups = 0, groups_cap = 0;
    int rc = -ENOMEM;
    if (!nested || !stamp)
        goto out;
    for (uint32_t i = 1; i < g->nreach; i++) {
        uint32_t v = g->rpo[i], d = g->idom[v];
        nested[v] = d != 0 && (g->label[d] == sl || nested[d]);
    }
    uint64_t site_objects = 0;
    for (uint32_t i = 1; i < g->nreach; i++) {
        uint32_t v = g->rpo[i];
        if (g->label[v] != sl || g->instance[v] != UNDEF)
            continue;
        site_objects++;
        uint32_t root = g->root_of[v], gl = g->label[root], k;
        for (k = 0; k < ngroups && groups[k].label != gl; k++)
            ;
        if (k == ngroups) {
            if (grow((void **)&groups, &groups_cap, ngroups + 1, sizeof *groups) != 0)
                goto out;
            groups[ngroups++] = (group_t){ .label = gl, .best = v, .lca = v };
        }
        group_t *gr = &groups[k];
        gr->objects++;
        if (!nested[v])
            gr->retained += g->retained[v];
        if (g->retained[v] > g->retained[gr->best])
            gr->best = v;
        gr->lca = dom_lca(g, gr->lca, v);
        if (stamp[root] != k + 1) {
            stamp[root] = k + 1;
            gr->roots++;
        }
    }
    rc = 1;
    if (ngroups == 0)
        goto out;
    group_t *best = &groups[0];
    for (uint32_t k = 1; k < ngroups; k++)
        if (groups[k].retained > best->retained)
            best = &groups[k];
    out->site = strdup(site);
    out->root_group = strdup(g->str[best->label]);
    out->root = strdup(node_name(g, g->root_of[best->best]));
    out->roots = best->roots;
    out->objects = best->objects;
    out->site_objects = site_objects;
    out->retained_bytes = best->retained;
    if (best->lca == 0) {
        /* No one object holds them: the group does, with all it retains. */
        uint64_t sum = 0;
        for (uint32_t k = g->succ_off[0]; k < g->succ_off[1]; k++) {
            uint32_t r = g->succ[k];
            if (g->instance[r] != UNDEF && g->label[r] == best->label)
                sum += g->retained[r];
        }
        out->holder = strdup(g->str[best->label]);
        out->holder_retained_bytes = sum;
    } else {
        out->holder = strdup(node_name(g, best->lca));
        out->holder_retained_bytes = g->retained[best->lca];
    }
    out->path = path_text(g, best->best, &out->path_len);
    rc = 0;
    if (!out->site || !out->root_group || !out->root || !out->holder || !out->path) {
        retain_site_free(out);
        rc = -ENOMEM;
    }
out:
    free(nested);
    free(stamp);
    free(groups);
    return rc;
}

/* ---- The retention profile --------------------------------------------- */

/* A trie of chains: chain c = parent chain + one frame (a string id). */
typedef struct chains {
    uint32_t *parent, *frame, *depth;
    uint64_t *objects, *bytes;
    uint32_t n, cap;
    uint32_t *map;               /* open addressing over (parent, frame) */
    uint32_t mask;
} chains_t;

static void chains_free(chains_t *c)
{
    free(c->parent);
    free(c->frame);
    free(c->depth);
    free(c->objects);
    free(c->bytes);
    free(c->map);
}

static uint64_t chain_hash(uint32_t parent, uint32_t frame)
{
    return mix(((uint64_t)parent << 32) | frame);
}

/* The chain parent + frame (parent UNDEF: the outermost frame). */
static uint32_t chain_get(chains_t *c, uint32_t parent, uint32_t frame)
{
    if (c->n * 2 >= c->mask) {
        uint32_t size = c->mask ? (c->mask + 1) * 2 : 1024;
        uint32_t *m = malloc(size * sizeof *m);
        if (!m)
            return UNDEF;
        memset(m, 0xff, size * sizeof *m);
        for (uint32_t i = 0; i < c->n; i++) {
            uint32_t j = (uint32_t)chain_hash(c->parent[i], c->frame[i]) & (size - 1);
            while (m[j] != UNDEF)
                j = (j + 1) & (size - 1);
            m[j] = i;
        }
        free(c->map);
        c->map = m;
        c->mask = size - 1;
    }
    uint32_t j = (uint32_t)chain_hash(parent, frame) & c->mask;
    for (; c->map[j] != UNDEF; j = (j + 1) & c->mask) {
        uint32_t i = c->map[j];
        if (c->parent[i] == parent && c->frame[i] == frame)
            return i;
    }
    uint32_t need = c->n + 1, cap = c->cap;
    if (need > cap) {
        uint32_t c1 = cap, c2 = cap, c3 = cap, c4 = cap, c5 = cap;
        if (grow((void **)&c->parent, &c1, need, sizeof *c->parent) ||
            grow((void **)&c->frame, &c2, need, sizeof *c->frame) ||
            grow((void **)&c->depth, &c3, need, sizeof *c->depth) ||
            grow((void **)&c->objects, &c4, need, sizeof *c->objects) ||
            grow((void **)&c->bytes, &c5, need, sizeof *c->bytes))
            return UNDEF;
        c->cap = c1;
    }
    uint32_t i = c->n++;
    c->parent[i] = parent;
    c->frame[i] = frame;
    c->depth[i] = parent == UNDEF ? 1 : c->depth[parent] + 1;
    c->objects[i] = c->bytes[i] = 0;
    c->map[j] = i;
    return i;
}

/* n's chain under chain `base` (UNDEF: none), folding repeats and depth. */
static uint32_t chain_extend(chains_t *c, uint32_t base, uint32_t frame, uint32_t deeper)
{
    if (base != UNDEF && c->frame[base] == frame)
        return base;
    if (base != UNDEF && c->depth[base] >= RETAIN_STACK_MAX - 1) {
        if (c->frame[base] == deeper)
            return base;
        frame = deeper;
    }
    return chain_get(c, base, frame);
}

/* Every reachable node's chain (node_chain), objects and bytes summed per
** chain. */
static int build_chains(const retain_graph_t *g, chains_t *c, uint32_t several, uint32_t deeper)
{
    uint32_t *node_chain = malloc((size_t)g->n * sizeof *node_chain);
    if (!node_chain)
        return -ENOMEM;
    node_chain[0] = UNDEF;
    for (uint32_t i = 1; i < g->nreach; i++) {
        uint32_t v = g->rpo[i], d = g->idom[v], ch;
        if (g->instance[v] != UNDEF) {
            ch = chain_get(c, UNDEF, g->label[v]);          /* a root: its group */
        } else {
            uint32_t base = d != 0 ? node_chain[d] : chain_get(c, UNDEF, several);
            ch = base == UNDEF ? UNDEF : chain_extend(c, base, g->label[v], deeper);
        }
        if (ch == UNDEF) {
            free(node_chain);
            return -ENOMEM;
        }
        node_chain[v] = ch;
        if (g->instance[v] == UNDEF) {
            c->objects[ch]++;
            c->bytes[ch] += g->bytes[v];
        }
    }
    free(node_chain);
    return 0;
}

int retain_pprof_encode(const retain_graph_t *g, int64_t time_unix_ns, const char *comment,
                        unsigned char **buf_p, size_t *len_p)
{
    static const char *const fixed[] = {"", "objects", "count", "space", "bytes", "heapsim",
                                        "heapsim retention", "(several roots)", "(deeper)"};
    enum { S_OBJECTS = 1, S_COUNT, S_SPACE, S_BYTES, S_HEAPSIM, S_FILE, S_SEVERAL, S_DEEPER,
           NFIXED };
    if (!g->analyzed)
        return -EINVAL;
    /* Strings: the fixed ones, the comment, then the graph's (frame f is
    ** string NFIXED + 1 + f). The two frames of our own are graph strings
    ** too, so interned in a copy-free way: ids past the graph's. */
    uint32_t nstr = NFIXED + 1 + g->nstr;
    uint32_t several = g->nstr, deeper = g->nstr + 1;   /* frames outside the graph's */
    chains_t c;
    memset(&c, 0, sizeof c);
    int rc = build_chains(g, &c, several, deeper);
    if (rc) {
        chains_free(&c);
        return rc;
    }

    Heapsim__Pprof__Profile msg;
    heapsim__pprof__profile__init(&msg);
    char **strings = malloc((size_t)nstr * sizeof *strings);
    uint32_t nframes = g->nstr + 2;
    Heapsim__Pprof__Function *fn = calloc(nframes, sizeof *fn);
    Heapsim__Pprof__Function **fn_p = calloc(nframes, sizeof *fn_p);
    Heapsim__Pprof__Location *loc = calloc(nframes, sizeof *loc);
    Heapsim__Pprof__Location **loc_p = calloc(nframes, sizeof *loc_p);
    Heapsim__Pprof__Line *line = calloc(nframes, sizeof *line);
    Heapsim__Pprof__Line **line_p = calloc(nframes, sizeof *line_p);
    uint32_t *loc_of = malloc(nframes * sizeof *loc_of);
    uint32_t nsamples = 0, nlocs = 0;
    for (uint32_t i = 0; i < c.n; i++)
        nsamples += c.objects[i] > 0;
    Heapsim__Pprof__Sample *smp = calloc(nsamples ? nsamples : 1, sizeof *smp);
    Heapsim__Pprof__Sample **smp_p = calloc(nsamples ? nsamples : 1, sizeof *smp_p);
    uint64_t *ids = malloc(((size_t)nsamples * RETAIN_STACK_MAX + 1) * sizeof *ids);
    int64_t *values = malloc(((size_t)nsamples * 2 + 1) * sizeof *values);
    Heapsim__Pprof__ValueType types[2], period;
    Heapsim__Pprof__ValueType *types_p[2] = {&types[0], &types[1]};
    Heapsim__Pprof__Mapping mapping, *mapping_p = &mapping;
    int64_t comment_index = NFIXED;
    rc = -ENOMEM;
    if (!strings || !fn || !fn_p || !loc || !loc_p || !line || !line_p || !loc_of || !smp ||
        !smp_p || !ids || !values)
        goto out;
    for (uint32_t i = 0; i < NFIXED; i++)
        strings[i] = (char *)fixed[i];
    strings[NFIXED] = (char *)(comment ? comment : "");
    for (uint32_t i = 0; i < g->nstr; i++)
        strings[NFIXED + 1 + i] = g->str[i];
    for (uint32_t f = 0; f < nframes; f++)
        loc_of[f] = UNDEF;

    heapsim__pprof__value_type__init(&types[0]);
    types[0].type = S_OBJECTS;
    types[0].unit = S_COUNT;
    heapsim__pprof__value_type__init(&types[1]);
    types[1].type = S_SPACE;
    types[1].unit = S_BYTES;
    heapsim__pprof__value_type__init(&period);
    period.type = S_SPACE;
    period.unit = S_BYTES;
    heapsim__pprof__mapping__init(&mapping);
    mapping.id = 1;
    mapping.filename = S_HEAPSIM;
    mapping.has_functions = 1;

    size_t nids = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < c.n; i++) {
        if (c.objects[i] == 0)
            continue;
        Heapsim__Pprof__Sample *s = &smp[k];
        heapsim__pprof__sample__init(s);
        s->location_id = &ids[nids];
        for (uint32_t ch = i; ch != UNDEF; ch = c.parent[ch]) {
            uint32_t f = c.frame[ch];
            if (loc_of[f] == UNDEF) {
                uint32_t l = nlocs++;
                int64_t name = f == several  ? S_SEVERAL
                               : f == deeper ? S_DEEPER
                                             : (int64_t)(NFIXED + 1 + f);
                heapsim__pprof__function__init(&fn[l]);
                fn[l].id = l + 1;
                fn[l].name = fn[l].system_name = name;
                fn[l].filename = S_FILE;
                fn_p[l] = &fn[l];
                heapsim__pprof__line__init(&line[l]);
                line[l].function_id = l + 1;
                line_p[l] = &line[l];
                heapsim__pprof__location__init(&loc[l]);
                loc[l].id = l + 1;
                loc[l].mapping_id = 1;
                loc[l].n_line = 1;
                loc[l].line = &line_p[l];
                loc_p[l] = &loc[l];
                loc_of[f] = l;
            }
            ids[nids++] = loc_of[f] + 1;
            s->n_location_id++;
        }
        values[2 * k] = (int64_t)c.objects[i];
        values[2 * k + 1] = (int64_t)c.bytes[i];
        s->n_value = 2;
        s->value = &values[2 * k];
        smp_p[k] = s;
        k++;
    }

    msg.n_sample_type = 2;
    msg.sample_type = types_p;
    msg.n_sample = nsamples;
    msg.sample = smp_p;
    msg.n_mapping = 1;
    msg.mapping = &mapping_p;
    msg.n_location = nlocs;
    msg.location = loc_p;
    msg.n_function = nlocs;
    msg.function = fn_p;
    msg.n_string_table = nstr;
    msg.string_table = strings;
    msg.time_nanos = time_unix_ns;
    msg.period_type = &period;
    msg.period = 1;
    msg.default_sample_type = S_SPACE;
    if (comment) {
        msg.n_comment = 1;
        msg.comment = &comment_index;
    }
    size_t len = heapsim__pprof__profile__get_packed_size(&msg);
    uint8_t *raw = malloc(len ? len : 1);
    if (!raw)
        goto out;
    heapsim__pprof__profile__pack(&msg, raw);
    rc = profile__gzip(raw, len, buf_p, len_p);
    free(raw);
out:
    free(strings);
    free(fn);
    free(fn_p);
    free(loc);
    free(loc_p);
    free(line);
    free(line_p);
    free(loc_of);
    free(smp);
    free(smp_p);
    free(ids);
    free(values);
    chains_free(&c);
    return rc;
}
