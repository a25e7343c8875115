/*
** render/render_gonames.c -- a task's figures under Go's runtime/metrics
** names, as `heapsim show --json` and `heapsim export` print them
** ("runtime_metrics"; docs/metrics.md maps each name to heapsim's column).
** The names and what feeds them are storage's list (STORE_GO_METRICS);
** the end-of-run summary (`heapsim run --json`) is render_show too.
*/
#include "render/render_int.h"

#include <json-c/json.h>
#include <stdio.h>

struct json_object *render__go_json(const store_task_go_t *go)
{
    struct json_object *o = json_object_new_object(), *p, *b;
    char key[32];

    if (!o)
        return NULL;
#define RENDER_GO_ADD(name, member) json_object_object_add(o, name, render__json_int(go->member));
    STORE_GO_METRICS(RENDER_GO_ADD)
#undef RENDER_GO_ADD
    json_object_object_add(o, "/gc/cycles/automatic:gc-cycles",
                           go->gc_cycles == STORE_NONE || go->gc_forced == STORE_NONE
                               ? NULL : json_object_new_int64(go->gc_cycles - go->gc_forced));
    if (go->pause_count == STORE_NONE) {
        json_object_object_add(o, "/gc/pauses:seconds", NULL);
        return o;
    }
    p = json_object_new_object();
    b = json_object_new_object();
    if (!p || !b) {
        json_object_put(p);
        json_object_put(b);
        json_object_put(o);
        return NULL;
    }
    json_object_object_add(p, "count", json_object_new_int64(go->pause_count));
    json_object_object_add(p, "sum", render__json_real((double)go->pause_total_ns / 1e9));
    for (int i = 0; i < STORE_PAUSE_BUCKETS; i++) {
        snprintf(key, sizeof key, "%g", (double)store_pause_bounds_ns[i] / 1e9);
        json_object_object_add(b, key, json_object_new_int64(go->pause_le[i]));
    }
    json_object_object_add(b, "+Inf", json_object_new_int64(go->pause_count));
    json_object_object_add(p, "buckets", b);
    json_object_object_add(o, "/gc/pauses:seconds", p);
    return o;
}
