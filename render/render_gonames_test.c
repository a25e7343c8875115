/*
** render/render_gonames_test.c -- a task's figures under Go's names, from
** a store_task_go_t built by hand: every name present, unknown figures
** null, automatic = total - forced, the pause histogram cumulative with
** +Inf equal to the count.
*/
#include "render/render_int.h"
#include "base/testrun.h"

#include <json-c/json.h>
#include <string.h>

static struct json_object *get(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    CHECK_MSG(json_object_object_get_ex(o, key, &v), "no key %s", key);
    return v;
}

static void test_known(void)
{
    store_task_go_t go = {
        .alloc_bytes = 1000, .alloc_objects = 10, .gc_cycles = 5, .gc_forced = 1,
        .pause_count = 5, .pause_total_ns = 2500000, .pause_le = {0, 2, 2, 2, 5, 5, 5},
        .goal_bytes = 4194304, .heap_objects_bytes = 123, .goroutines = 7, .stack_bytes = 8192,
    };
    struct json_object *o = render__go_json(&go);
    REQUIRE(o);
    CHECK_INT(json_object_get_int64(get(o, "/gc/heap/allocs:bytes")), 1000);
    CHECK_INT(json_object_get_int64(get(o, "/gc/heap/allocs:objects")), 10);
    CHECK_INT(json_object_get_int64(get(o, "/gc/cycles/total:gc-cycles")), 5);
    CHECK_INT(json_object_get_int64(get(o, "/gc/cycles/forced:gc-cycles")), 1);
    CHECK_INT(json_object_get_int64(get(o, "/gc/cycles/automatic:gc-cycles")), 4);
    CHECK_INT(json_object_get_int64(get(o, "/gc/heap/goal:bytes")), 4194304);
    CHECK_INT(json_object_get_int64(get(o, "/memory/classes/heap/objects:bytes")), 123);
    CHECK_INT(json_object_get_int64(get(o, "/memory/classes/heap/stacks:bytes")), 8192);
    CHECK_INT(json_object_get_int64(get(o, "/sched/goroutines:goroutines")), 7);
    struct json_object *p = get(o, "/gc/pauses:seconds"), *b = p ? get(p, "buckets") : NULL;
    REQUIRE(p && b);
    CHECK_INT(json_object_get_int64(get(p, "count")), 5);
    CHECK(json_object_get_double(get(p, "sum")) == 0.0025);
    CHECK_INT(json_object_get_int64(get(b, "1e-05")), 2);
    CHECK_INT(json_object_get_int64(get(b, "0.01")), 5);
    CHECK_INT(json_object_get_int64(get(b, "+Inf")), 5);
    CHECK_INT(json_object_object_length(b), STORE_PAUSE_BUCKETS + 1);
    json_object_put(o);
}

static void test_unknown(void)
{
    store_task_go_t go;
    for (size_t i = 0; i < sizeof go / sizeof(int64_t); i++)
        ((int64_t *)(void *)&go)[i] = STORE_NONE;
    struct json_object *o = render__go_json(&go);
    REQUIRE(o);
    CHECK_INT(json_object_object_length(o), 10);
    json_object_object_foreach(o, key, value)
        CHECK_MSG(value == NULL, "%s is not null", key);
    json_object_put(o);
}

int main(int argc, char **argv)
{
    static const testrun_case_t cases[] = {
        {"known", test_known},
        {"unknown", test_unknown},
    };
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 30, NULL);
}
