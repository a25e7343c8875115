/*
** base/gc_fields.c -- GC_FIELDS as a table.
*/
#include "base/gc_fields.h"

#define GC_FIELDS_DESC(name, kind, doc) \
    { #name, GC_FIELDS_KIND_##kind, offsetof(gc_fields_t, name), doc },

const gc_fields_desc_t gc_fields_desc[GC_FIELDS_COUNT] = {
    GC_FIELDS(GC_FIELDS_DESC)
};
