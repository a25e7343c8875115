/*
** worker/retention.c -- a heap snapshot of the running task, its roots
** named, analysed into a 'retention' message (retention.h).
*/
#include "worker/retention.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profile/retain.h"
#include "shm_heap/heap_snapshot.h"

/* container ref -> what the runtime calls it. */
typedef struct name_entry {
    heap_ref_t ref;              /* 0 = empty */
    char *group, *instance;
} name_entry_t;

typedef struct names {
    name_entry_t *v;
    size_t mask, n;
    bool oom;
} names_t;

static size_t slot_of(const names_t *m, heap_ref_t ref)
{
    uint64_t x = ref * 0x9e3779b97f4a7c15ull;
    return (size_t)(x ^ (x >> 31)) & m->mask;
}

static void names_put(void *arg, heap_ref_t ref, const char *group, const char *instance)
{
    names_t *m = arg;
    if (m->oom || ref == 0)
        return;
    if ((m->n + 1) * 2 > m->mask) {
        size_t size = m->mask ? (m->mask + 1) * 2 : 256;
        name_entry_t *v = calloc(size, sizeof *v);
        if (!v) {
            m->oom = true;
            return;
        }
        names_t grown = { v, size - 1, m->n, false };
        for (size_t i = 0; m->v && i <= m->mask; i++) {
            if (!m->v[i].ref)
                continue;
            size_t j = slot_of(&grown, m->v[i].ref);
            while (v[j].ref)
                j = (j + 1) & grown.mask;
            v[j] = m->v[i];
        }
        free(m->v);
        *m = grown;
    }
    size_t j = slot_of(m, ref);
    while (m->v[j].ref && m->v[j].ref != ref)
        j = (j + 1) & m->mask;
    if (m->v[j].ref)
        return;                  /* named already */
    m->v[j].group = strdup(group);
    m->v[j].instance = strdup(instance);
    if (!m->v[j].group || !m->v[j].instance) {
        free(m->v[j].group);
        free(m->v[j].instance);
        m->oom = true;
        return;
    }
    m->v[j].ref = ref;
    m->n++;
}

static const name_entry_t *names_get(const names_t *m, heap_ref_t ref)
{
    if (!m->v)
        return NULL;
    for (size_t j = slot_of(m, ref);; j = (j + 1) & m->mask) {
        if (m->v[j].ref == ref)
            return &m->v[j];
        if (!m->v[j].ref)
            return NULL;
    }
}

static void names_free(names_t *m)
{
    for (size_t i = 0; m->v && i <= m->mask; i++) {
        free(m->v[i].group);
        free(m->v[i].instance);
    }
    free(m->v);
}

/* What the walk saw, copied as it went: the world is stopped while it
** runs, so the graph is built after it (retain.h's hashing and interning
** would otherwise lengthen the pause). */
typedef struct raw_node {
    heap_ref_t ref;
    uint64_t bytes;              /* objects */
    uint64_t first_edge;
    uint32_t nedges;
    uint32_t size_class, nptrs;  /* objects */
    uint32_t site;               /* index into sites, UINT32_MAX none */
    uint32_t kind;               /* 0 object, else HEAP_SNAP_ROOT_* */
    pid_t pid;                   /* roots */
} raw_node_t;

typedef struct raw {
    raw_node_t *nodes;
    size_t nnodes, nodes_cap;
    heap_ref_t *edges;
    size_t nedges, edges_cap;
    const char **site_ptr;       /* the walk's site pointers (stable while it runs) */
    char **site_name;            /* their copies */
    size_t nsites, sites_cap;
} raw_t;

static void raw_free(raw_t *r)
{
    for (size_t i = 0; i < r->nsites; i++)
        free(r->site_name[i]);
    free(r->site_ptr);
    free(r->site_name);
    free(r->nodes);
    free(r->edges);
}

static int raw_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static uint32_t raw_site(raw_t *r, const char *site)
{
    if (!site)
        return UINT32_MAX;
    for (size_t i = r->nsites; i-- > 0;)
        if (r->site_ptr[i] == site)
            return (uint32_t)i;
    size_t cap = r->sites_cap;
    if (raw_grow((void **)&r->site_ptr, &cap, r->nsites + 1, sizeof *r->site_ptr) != 0)
        return UINT32_MAX;
    cap = r->sites_cap;
    if (raw_grow((void **)&r->site_name, &cap, r->nsites + 1, sizeof *r->site_name) != 0)
        return UINT32_MAX;
    r->sites_cap = cap;
    char *copy = strdup(site);
    if (!copy)
        return UINT32_MAX;
    r->site_ptr[r->nsites] = site;
    r->site_name[r->nsites] = copy;
    return (uint32_t)r->nsites++;
}

static raw_node_t *raw_node(raw_t *r, const heap_ref_t *refs, uint32_t nrefs)
{
    if (raw_grow((void **)&r->nodes, &r->nodes_cap, r->nnodes + 1, sizeof *r->nodes) != 0 ||
        raw_grow((void **)&r->edges, &r->edges_cap, r->nedges + nrefs, sizeof *r->edges) != 0)
        return NULL;
    raw_node_t *n = &r->nodes[r->nnodes++];
    memset(n, 0, sizeof *n);
    n->first_edge = r->nedges;
    n->nedges = nrefs;
    n->site = UINT32_MAX;
    if (nrefs)
        memcpy(&r->edges[r->nedges], refs, (size_t)nrefs * sizeof *refs);
    r->nedges += nrefs;
    return n;
}

static int on_root(void *arg, const heap_snap_root_t *root)
{
    raw_node_t *n = raw_node(arg, root->refs, root->nrefs);
    if (!n)
        return -ENOMEM;
    n->ref = root->container;
    n->kind = root->kind;
    n->pid = root->pid;
    return 0;
}

static int on_object(void *arg, const heap_snap_object_t *o)
{
    raw_t *r = arg;
    uint32_t site = raw_site(r, o->site);
    raw_node_t *n = raw_node(r, o->refs, o->nrefs);
    if (!n)
        return -ENOMEM;
    n->ref = o->ref;
    n->bytes = o->bytes;
    n->size_class = o->size_class;
    n->nptrs = o->nptrs;
    n->site = site;
    return 0;
}

/* The graph of what the walk saw, roots named by `names`. */
static int build_graph(const raw_t *r, const names_t *names, retain_graph_t *g)
{
    pid_t self = getpid();
    for (size_t i = 0; i < r->nnodes; i++) {
        const raw_node_t *n = &r->nodes[i];
        int64_t node;
        if (n->kind == 0) {
            node = retain_add_object(g, n->ref, n->bytes, n->size_class, n->nptrs,
                                     n->site == UINT32_MAX ? NULL : r->site_name[n->site]);
        } else {
            char group[96], instance[128];
            const name_entry_t *e = names_get(names, n->ref);
            const char *gname = group, *iname = instance;
            if (e) {
                gname = e->group;
                iname = e->instance;
            } else if (n->kind == HEAP_SNAP_ROOT_GLOBALS) {
                snprintf(group, sizeof group, "globals");
                snprintf(instance, sizeof instance, "globals of process %d", (int)n->pid);
            } else if (n->kind == HEAP_SNAP_ROOT_POOL) {
                snprintf(group, sizeof group, "sync.Pool");
                snprintf(instance, sizeof instance, "sync.Pool of process %d", (int)n->pid);
            } else if (n->pid == self) {
                snprintf(group, sizeof group, "runtime roots");
                snprintf(instance, sizeof instance, "runtime roots of process %d", (int)n->pid);
            } else {
                snprintf(group, sizeof group, "another process's roots");
                snprintf(instance, sizeof instance, "roots of process %d", (int)n->pid);
            }
            node = retain_add_root(g, n->ref, gname, iname);
        }
        if (node < 0)
            return (int)node;
        for (uint32_t k = 0; k < n->nedges; k++)
            if (retain_add_edge(g, (uint32_t)node, r->edges[n->first_edge + k]) != 0)
                return -ENOMEM;
    }
    return 0;
}

void retention_init(retention_t *r, const char *worker, int64_t task_id)
{
    memset(r, 0, sizeof *r);
    r->worker = worker;
    r->task_id = task_id;
    r->running.type = PROTO_SAMPLE;
    r->final.type = PROTO_SAMPLE;
}

void retention_free(retention_t *r)
{
    if (r->running.type == PROTO_RETENTION)
        proto_msg_free(&r->running);
    if (r->final.type == PROTO_RETENTION)
        proto_msg_free(&r->final);
    r->running.type = r->final.type = PROTO_SAMPLE;
}

/* The analysis of g into m (a PROTO_RETENTION message). */
static int fill(retention_t *r, rt_t *rt, retain_graph_t *g, const heap_snap_stats_t *st,
                bool final, proto_msg_t *m)
{
    heap_t *h = rt_heap(rt);
    proto_retention_t *p = &m->u.retention;
    heap_prof_site_t sites[HEAP_PROF_SITES];
    heap_stats_t hs;
    struct timespec now;
    int rc;

    memset(m, 0, sizeof *m);
    m->type = PROTO_RETENTION;
    snprintf(p->worker, sizeof p->worker, "%s", r->worker);
    snprintf(m->worker, sizeof m->worker, "%s", r->worker);
    heap_stats_read(h, &hs);
    p->task_id = r->task_id;
    p->cycle = (int64_t)hs.num_gc;
    p->final = final;
    p->objects = (int64_t)st->objects;
    p->bytes = (int64_t)st->bytes;
    p->pause_ns = (int64_t)st->pause_ns;
    p->min_cycles = RETENTION_GLEAK_MIN_CYCLES;

    int n = heap_prof_read(h, false, sites, HEAP_PROF_SITES, NULL);
    if (n > HEAP_PROF_SITES)
        n = HEAP_PROF_SITES;
    p->sites = calloc(n > 0 ? (size_t)n : 1, sizeof *p->sites);
    if (!p->sites)
        return -ENOMEM;
    for (int i = 0; i < n; i++) {
        retain_site_t s;
        if (!sites[i].name[0] || retain_site_report(g, sites[i].name, &s) != 0)
            continue;
        proto_retention_site_t *d = &p->sites[p->nsites++];
        snprintf(d->site, sizeof d->site, "%.*s", HEAP_PROF_SITE_NAME - 1, sites[i].name);
        d->root_group = s.root_group;
        d->root = s.root;
        d->holder = s.holder;
        d->path = s.path;
        s.root_group = s.root = s.holder = s.path = NULL;
        d->roots = (int64_t)s.roots;
        d->objects = (int64_t)s.objects;
        d->site_objects = (int64_t)s.site_objects;
        d->retained_bytes = (int64_t)s.retained_bytes;
        d->holder_retained_bytes = (int64_t)s.holder_retained_bytes;
        retain_site_free(&s);
        /* the wire's bound on a text */
        if (strlen(d->path) > PROTO_RETENTION_TEXT_MAX)
            d->path[PROTO_RETENTION_TEXT_MAX] = '\0';
    }

    rt_gleak_t *gl;
    size_t ngl;
    if ((rc = rt_goroutine_leaks(rt, RETENTION_GLEAK_MIN_CYCLES, &gl, &ngl)) != 0)
        return rc;
    p->groups = calloc(ngl ? ngl : 1, sizeof *p->groups);
    if (!p->groups) {
        free(gl);
        return -ENOMEM;
    }
    for (size_t i = 0; i < ngl && i < PROTO_RETENTION_GROUPS_MAX; i++) {
        proto_goroutine_group_t *d = &p->groups[p->ngroups++];
        snprintf(d->where, sizeof d->where, "%s", gl[i].where);
        snprintf(d->reason, sizeof d->reason, "%s", gl[i].reason);
        d->count = (int64_t)gl[i].count;
        d->min_cycles = (int64_t)gl[i].min_cycles;
        d->max_cycles = (int64_t)gl[i].max_cycles;
    }
    free(gl);

    char comment[256];
    snprintf(comment, sizeof comment,
             "heapsim retention, GC cycle %lld%s: stacks are dominator chains (root group -> "
             "... -> object); flat = own bytes, cum = bytes retained",
             (long long)p->cycle, final ? ", main returned" : "");
    clock_gettime(CLOCK_REALTIME, &now);
    rc = retain_pprof_encode(g, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec, comment,
                             &p->pprof, &p->pprof_len);
    if (rc == 0 && p->pprof_len > PROTO_RETENTION_PPROF_MAX) {
        free(p->pprof);
        p->pprof = NULL;
        p->pprof_len = 0;          /* too big for the wire: the sites still go */
    }
    return rc;
}

void retention_take(retention_t *r, rt_t *rt, bool final)
{
    names_t names = {0};
    raw_t raw = {0};
    retain_graph_t *g = NULL;
    heap_snap_stats_t st;
    proto_msg_t m = {.type = PROTO_SAMPLE};

    rt_roots_describe(rt, names_put, &names);
    if (names.oom || !(g = retain_graph_new()))
        goto out;
    heap_snap_ops_t ops = { .root = on_root, .object = on_object, .arg = &raw };
    heap_t *h = rt_heap(rt);
    if (heap_snapshot(h, &ops, &st) != 0)
        goto out;
    /* The analysis reads only what the walk copied, and the heap's
    ** statistics and profile, which need no stop. The final one runs
    ** outside the heap, as a goroutine in a system call would: inside, it
    ** held up every stop of the world another process on a shared heap
    ** asked meanwhile (25-104 ms each, at the end of each of multiproc's
    ** tasks, where the stops took 0.05 ms otherwise). A running one stays
    ** inside: it is taken from rt_push, rt_pop or an allocation, where the
    ** kernel may hold a reference no root names, which a collection
    ** another process ran while this one was outside would free. */
    if (final)
        heap_leave(h);
    int rc = build_graph(&raw, &names, g);
    if (rc == 0)
        rc = retain_graph_analyze(g);
    if (rc == 0) {
        r->taken++;
        if (st.pause_ns > r->pause_max_ns)
            r->pause_max_ns = st.pause_ns;
        rc = fill(r, rt, g, &st, final, &m);
        if (rc != 0)
            proto_msg_free(&m);
    }
    if (final)
        heap_enter(h);
    if (rc != 0)
        goto out;
    proto_msg_t *keep = final ? &r->final : &r->running;
    if (keep->type == PROTO_RETENTION)
        proto_msg_free(keep);
    *keep = m;
out:
    retain_graph_destroy(&g);
    raw_free(&raw);
    names_free(&names);
}

void retention_hook(void *arg, rt_t *rt)
{
    retention_take(arg, rt, false);
}
