/*
** base/gc_fields_test.c -- the table says what the struct holds: one entry
** per X(...) line, in order, each naming its own member of its own type.
*/
#include "base/gc_fields.h"

#include <string.h>

#include "base/testrun.h"

static void test_table_matches_struct(void)
{
    /* Every member is 8 bytes (int64_t or double): no padding, no gaps. */
    REQUIRE_INT(sizeof(gc_fields_t), GC_FIELDS_COUNT * 8);
    for (size_t i = 0; i < GC_FIELDS_COUNT; i++) {
        const gc_fields_desc_t *f = &gc_fields_desc[i];
        REQUIRE_INT(f->offset, i * 8);
        REQUIRE(f->kind == GC_FIELDS_KIND_INT || f->kind == GC_FIELDS_KIND_REAL);
        REQUIRE(f->name && f->name[0] && f->doc && f->doc[0]);
        for (size_t j = 0; j < i; j++)
            REQUIRE(strcmp(f->name, gc_fields_desc[j].name) != 0);
    }
}

/* A few members by name, through the table. */
static const gc_fields_desc_t *find(const char *name)
{
    for (size_t i = 0; i < GC_FIELDS_COUNT; i++)
        if (strcmp(gc_fields_desc[i].name, name) == 0)
            return &gc_fields_desc[i];
    return NULL;
}

static void test_access_by_table(void)
{
    gc_fields_t f;
    memset(&f, 0, sizeof f);
    const gc_fields_desc_t *stw = find("stw_ns"), *frac = find("gc_cpu_fraction");
    const gc_fields_desc_t *freed = find("objects_freed");
    REQUIRE(stw && frac && freed);
    REQUIRE(stw->kind == GC_FIELDS_KIND_INT && frac->kind == GC_FIELDS_KIND_REAL);
    *gc_fields_int(&f, stw) = 123456789;
    *gc_fields_real(&f, frac) = 0.125;
    *gc_fields_int(&f, freed) = -7;
    REQUIRE_INT(f.stw_ns, 123456789);
    REQUIRE(f.gc_cpu_fraction == 0.125);
    REQUIRE_INT(f.objects_freed, -7);
    f.cycle = 42;
    REQUIRE_INT(gc_fields_get_int(&f, find("cycle")), 42);
    REQUIRE(gc_fields_get_real(&f, frac) == 0.125);
}

static const testrun_case_t cases[] = {
    { "table_matches_struct", test_table_matches_struct },
    { "access_by_table", test_access_by_table },
};

int main(int argc, char **argv)
{
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 30, NULL);
}
