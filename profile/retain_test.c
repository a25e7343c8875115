/*
** profile/retain_test.c -- retain.h: immediate dominators and retained
** sizes against their definitions on random graphs (d dominates n iff
** removing d cuts n off from the roots); site reports and the retention
** profile (decoded back) on a graph of known shape.
*/
#include "profile/retain.h"
#include "profile/profile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/splitmix64.h"
#include "base/testrun.h"
#include "profile/pprof.pb-c.h"

#define MAXN 48

static uint64_t key_of(int i) { return 0x10000 + (uint64_t)i * 16; }

/* Reachable from the super-root (node 0) without passing through `cut`. */
static void reach(int n, bool adj[MAXN][MAXN], int cut, bool *out)
{
    int queue[MAXN], head = 0, tail = 0;
    memset(out, 0, (size_t)n * sizeof *out);
    out[0] = true;
    queue[tail++] = 0;
    while (head < tail) {
        int v = queue[head++];
        for (int w = 0; w < n; w++) {
            if (adj[v][w] && !out[w] && w != cut) {
                out[w] = true;
                queue[tail++] = w;
            }
        }
    }
}

static void test_random_graphs(void)
{
    uint64_t rng = 20261130;
    for (int round = 0; round < 400; round++) {
        int n = 2 + (int)(splitmix64_next(&rng) % (MAXN - 2));      /* with the super-root */
        int nroots = 1 + (int)(splitmix64_next(&rng) % 4);
        if (nroots > n - 1)
            nroots = n - 1;
        int density = 1 + (int)(splitmix64_next(&rng) % 4);         /* edges per node, about */
        static bool adj[MAXN][MAXN];
        memset(adj, 0, sizeof adj);
        uint64_t bytes[MAXN] = {0};
        retain_graph_t *g = retain_graph_new();
        REQUIRE(g);
        uint32_t idx[MAXN];
        idx[0] = RETAIN_SUPER;
        /* Nodes 1..nroots are roots, the rest objects, added in a random
        ** order of keys so that edges to later nodes resolve by key. */
        for (int i = 1; i < n; i++) {
            int64_t r;
            if (i <= nroots) {
                char group[32];
                snprintf(group, sizeof group, "root %d", i);
                r = retain_add_root(g, key_of(i), group, NULL);
                adj[0][i] = true;
            } else {
                bytes[i] = 8 + splitmix64_next(&rng) % 1000;
                r = retain_add_object(g, key_of(i), bytes[i], 3, 1, NULL);
            }
            REQUIRE(r > 0);
            idx[i] = (uint32_t)r;
        }
        for (int v = 1; v < n; v++) {
            int k = (int)(splitmix64_next(&rng) % (uint64_t)(2 * density));
            for (int e = 0; e < k; e++) {
                int w = nroots + 1 + (int)(splitmix64_next(&rng) % (uint64_t)(n - nroots));
                if (w >= n) {
                    /* a reference to a key never added: dropped */
                    REQUIRE(retain_add_edge(g, idx[v], 0xdead0000) == 0);
                    continue;
                }
                adj[v][w] = true;
                REQUIRE(retain_add_edge(g, idx[v], key_of(w)) == 0);
            }
        }
        REQUIRE(retain_graph_analyze(g) == 0);

        bool all[MAXN], without[MAXN][MAXN];
        reach(n, adj, -1, all);
        for (int d = 1; d < n; d++)
            reach(n, adj, d, without[d]);
        for (int v = 1; v < n; v++) {
            uint32_t got = retain_idom(g, idx[v]);
            if (!all[v]) {
                CHECK_MSG(got == RETAIN_NONE, "round %d: unreachable %d has idom %u", round, v,
                          got);
                CHECK_UINT(retain_retained_bytes(g, idx[v]), 0);
                continue;
            }
            /* Strict dominators of v; idom = the one every other dominates. */
            int want = 0, ndom = 0;
            int doms[MAXN];
            for (int d = 1; d < n; d++)
                if (d != v && !without[d][v])
                    doms[ndom++] = d;
            for (int i = 0; i < ndom; i++) {
                bool lowest = true;
                for (int j = 0; j < ndom; j++)
                    if (j != i && without[doms[j]][doms[i]])
                        lowest = false;   /* doms[i] is reached without doms[j] */
                if (lowest)
                    want = doms[i];
            }
            CHECK_MSG(got == idx[want], "round %d: idom(%d) = node %u, want %d", round, v, got,
                      want);
            /* retained(v) = bytes of v and of every node v dominates. */
            uint64_t r = bytes[v];
            for (int w = 1; w < n; w++)
                if (w != v && all[w] && !without[v][w])
                    r += bytes[w];
            CHECK_MSG(retain_retained_bytes(g, idx[v]) == r,
                      "round %d: retained(%d) = %llu, want %llu", round, v,
                      (unsigned long long)retain_retained_bytes(g, idx[v]),
                      (unsigned long long)r);
        }
        uint64_t total = 0;
        for (int v = 1; v < n; v++)
            total += all[v] ? bytes[v] : 0;
        CHECK_UINT(retain_retained_bytes(g, RETAIN_SUPER), total);
        CHECK_UINT(retain_reachable_bytes(g), total);
        retain_graph_destroy(&g);
        CHECK(g == NULL);
    }
}

/* A long chain: no recursion to overflow, one frame in the profile. */
static void test_long_chain(void)
{
    retain_graph_t *g = retain_graph_new();
    REQUIRE(g);
    int64_t r = retain_add_root(g, 8, "goroutine list", "goroutine 1 list");
    REQUIRE(r > 0 && retain_add_edge(g, (uint32_t)r, 16) == 0);
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        int64_t o = retain_add_object(g, 16 + (uint64_t)i * 16, 16, 2, 1, NULL);
        REQUIRE(o > 0);
        if (i + 1 < n)
            REQUIRE(retain_add_edge(g, (uint32_t)o, 16 + (uint64_t)(i + 1) * 16) == 0);
    }
    REQUIRE(retain_graph_analyze(g) == 0);
    CHECK_UINT(retain_retained_bytes(g, retain_node_of(g, 16)), (uint64_t)n * 16);
    CHECK_UINT(retain_retained_bytes(g, retain_node_of(g, 16 + 100 * 16)), (uint64_t)(n - 100) * 16);
    unsigned char *buf;
    size_t len;
    CHECK_INT(retain_pprof_encode(g, 0, NULL, &buf, &len), 0);
    free(buf);
    retain_graph_destroy(&g);
}

static uint8_t *gunzip(const unsigned char *buf, size_t len, size_t *out_len)
{
    size_t cap = 16 << 20;
    uint8_t *out = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    REQUIRE(out && inflateInit2(&z, 15 + 16) == Z_OK);
    z.next_in = (Bytef *)buf;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    REQUIRE(inflate(&z, Z_FINISH) == Z_STREAM_END);
    *out_len = z.total_out;
    inflateEnd(&z);
    return out;
}

/* The stack of sample s as "leaf;...;outermost". */
static void stack_text(const Heapsim__Pprof__Profile *m, const Heapsim__Pprof__Sample *s,
                       char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < s->n_location_id; i++) {
        const Heapsim__Pprof__Location *l = m->location[s->location_id[i] - 1];
        REQUIRE(l->id == s->location_id[i] && l->n_line == 1);
        const Heapsim__Pprof__Function *f = m->function[l->line[0]->function_id - 1];
        len += (size_t)snprintf(out + len, size - len, "%s%s", i ? ";" : "",
                                m->string_table[f->name]);
        REQUIRE(len < size);
    }
}

/* main's root -> table -> 100 sessions -> a 64 B field each; 10 watchers'
** roots -> a request -> a payload each; one object held by two roots. */
static void test_known_shape(void)
{
    retain_graph_t *g = retain_graph_new();
    REQUIRE(g);
    uint64_t k = 0x1000;
    int64_t main_root = retain_add_root(g, k++, "goroutine kernel.main [running]",
                                        "goroutine 1 kernel.main [running]");
    REQUIRE(main_root > 0);
    uint64_t table = k++;
    REQUIRE(retain_add_edge(g, (uint32_t)main_root, table) == 0);
    int64_t t = retain_add_object(g, table, 8192, 0, 1024, "t.table");
    REQUIRE(t > 0);
    for (int i = 0; i < 100; i++) {
        uint64_t s = k++, f = k++;
        REQUIRE(retain_add_edge(g, (uint32_t)t, s) == 0);
        int64_t sn = retain_add_object(g, s, 576, 30, 1, "t.session");
        REQUIRE(sn > 0 && retain_add_edge(g, (uint32_t)sn, f) == 0);
        REQUIRE(retain_add_object(g, f, 64, 5, 1, NULL) > 0);
    }
    uint64_t shared = k++;
    REQUIRE(retain_add_object(g, shared, 1000, 0, 0, "t.shared") > 0);
    REQUIRE(retain_add_edge(g, (uint32_t)main_root, shared) == 0);
    for (int i = 0; i < 10; i++) {
        char inst[64];
        snprintf(inst, sizeof inst, "goroutine %d leak.watcher [chan receive]", 100 + i);
        int64_t r = retain_add_root(g, k++, "goroutine leak.watcher [chan receive]", inst);
        REQUIRE(r > 0);
        uint64_t req = k++, pay = k++;
        REQUIRE(retain_add_edge(g, (uint32_t)r, req) == 0);
        if (i == 3)
            REQUIRE(retain_add_edge(g, (uint32_t)r, shared) == 0);
        int64_t rn = retain_add_object(g, req, 16, 2, 1, "t.request");
        REQUIRE(rn > 0 && retain_add_edge(g, (uint32_t)rn, pay) == 0);
        REQUIRE(retain_add_object(g, pay, 1024 + 16 * i, 40, 0, "t.payload") > 0);
    }
    CHECK_INT(retain_add_object(g, table, 8, 1, 0, NULL), -EEXIST);
    REQUIRE(retain_graph_analyze(g) == 0);

    retain_site_t s;
    REQUIRE(retain_site_report(g, "t.session", &s) == 0);
    CHECK_STR(s.root_group, "goroutine kernel.main [running]");
    CHECK_STR(s.root, "goroutine 1 kernel.main [running]");
    CHECK_UINT(s.objects, 100);
    CHECK_UINT(s.site_objects, 100);
    CHECK_UINT(s.roots, 1);
    CHECK_UINT(s.retained_bytes, 100 * (576 + 64));
    CHECK_STR(s.holder, "t.table");
    CHECK_UINT(s.holder_retained_bytes, 8192 + 100 * (576 + 64));
    CHECK_UINT(s.path_len, 2);
    CHECK_STR(s.path, "goroutine 1 kernel.main [running]\n"
                      "-> t.table (8192 B, retains 72192 B)\n"
                      "-> t.session (576 B, retains 640 B)");
    retain_site_free(&s);

    REQUIRE(retain_site_report(g, "t.payload", &s) == 0);
    CHECK_STR(s.root_group, "goroutine leak.watcher [chan receive]");
    CHECK_UINT(s.roots, 10);
    CHECK_UINT(s.objects, 10);
    CHECK_UINT(s.retained_bytes, 10 * 1024 + 16 * 45);
    CHECK_STR(s.holder, "goroutine leak.watcher [chan receive]");   /* no one object */
    CHECK_UINT(s.holder_retained_bytes, 10 * (16 + 1024) + 16 * 45);  /* all 10 roots; the shared one is not theirs */
    CHECK_STR(s.root, "goroutine 109 leak.watcher [chan receive]"); /* the largest payload */
    CHECK_CONTAINS(s.path, "-> t.request (16 B, retains 1184 B)\n-> t.payload (1168 B, retains 1168 B)");
    retain_site_free(&s);

    REQUIRE(retain_site_report(g, "t.shared", &s) == 0);
    CHECK_UINT(s.retained_bytes, 1000);
    retain_site_free(&s);
    CHECK_INT(retain_site_report(g, "no.such.site", &s), 1);
    CHECK(s.site == NULL);

    /* The profile: stacks are dominator chains, values own bytes, so a
    ** frame's cum is what it retains. */
    unsigned char *buf;
    size_t len, raw_len;
    REQUIRE(retain_pprof_encode(g, 1234, "retention", &buf, &len) == 0);
    uint8_t *raw = gunzip(buf, len, &raw_len);
    Heapsim__Pprof__Profile *m = heapsim__pprof__profile__unpack(NULL, raw_len, raw);
    REQUIRE(m);
    REQUIRE(m->n_sample_type == 2);
    CHECK_STR(m->string_table[m->sample_type[0]->type], "objects");
    CHECK_STR(m->string_table[m->sample_type[1]->type], "space");
    CHECK_STR(m->string_table[m->default_sample_type], "space");
    CHECK_INT(m->time_nanos, 1234);
    int64_t total = 0;
    int found = 0;
    for (size_t i = 0; i < m->n_sample; i++) {
        const Heapsim__Pprof__Sample *sm = m->sample[i];
        char st[512];
        REQUIRE(sm->n_value == 2);
        total += sm->value[1];
        stack_text(m, sm, st, sizeof st);
        if (strcmp(st, "class 64 B, 1 ptr;t.session;t.table;goroutine kernel.main [running]") == 0) {
            found++;
            CHECK_INT(sm->value[0], 100);
            CHECK_INT(sm->value[1], 6400);
        } else if (strcmp(st, "t.session;t.table;goroutine kernel.main [running]") == 0) {
            found++;
            CHECK_INT(sm->value[0], 100);
        } else if (strcmp(st, "t.payload;t.request;goroutine leak.watcher [chan receive]") == 0) {
            found++;
            CHECK_INT(sm->value[0], 10);
            CHECK_INT(sm->value[1], 10 * 1024 + 16 * 45);
        } else if (strcmp(st, "t.shared;(several roots)") == 0) {
            found++;
            CHECK_INT(sm->value[1], 1000);
        }
    }
    CHECK_INT(found, 4);
    CHECK_INT(total, (int64_t)retain_reachable_bytes(g));
    heapsim__pprof__profile__free_unpacked(m, NULL);
    free(raw);
    free(buf);
    retain_graph_destroy(&g);
}

int main(void)
{
    test_random_graphs();
    test_long_chain();
    test_known_shape();
    return testrun_exit_status("retain_test");
}
