/*
** profile/profile.c -- a heap profile as pprof's message (generated
** protobuf-c code from pprof.proto), gzipped with zlib.
*/
#include "profile/profile.h"
#include "profile/profile_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile/pprof.pb-c.h"

const char *profile_strerror(int rc)
{
    if (rc == 0)
        return "success";
    if (rc == PROFILE_EGZIP)
        return "gzip compression failed";
    return strerror(-rc);
}

void profile_scale(int64_t count, int64_t bytes, int64_t rate, int64_t *count_out,
                   int64_t *bytes_out)
{
    if (count == 0 || bytes == 0) {
        *count_out = 0;
        *bytes_out = 0;
        return;
    }
    if (rate <= 1) {
        *count_out = count;
        *bytes_out = bytes;
        return;
    }
    double avg = (double)bytes / (double)count;
    double scale = 1.0 / (1.0 - exp(-avg / (double)rate));
    *count_out = (int64_t)((double)count * scale);
    *bytes_out = (int64_t)((double)bytes * scale);
}

/* The string table: index 0 is "". */
typedef struct strtab {
    char **s;
    size_t n, cap;
} strtab_t;

/* Index of text in t, added if new; -1 on -ENOMEM. */
static int64_t str_index(strtab_t *t, const char *text)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->s[i], text) == 0)
            return (int64_t)i;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **s = realloc(t->s, cap * sizeof *s);
        if (!s)
            return -1;
        t->s = s;
        t->cap = cap;
    }
    t->s[t->n] = (char *)text;   /* borrowed: every text outlives the encoding */
    return (int64_t)t->n++;
}

enum { NVALUES = 4 };

/* Everything the message points to, freed in one place. */
typedef struct build {
    strtab_t strings;
    Heapsim__Pprof__ValueType types[NVALUES], period_type;
    Heapsim__Pprof__ValueType *type_ptrs[NVALUES];
    Heapsim__Pprof__Mapping mapping, *mapping_ptr;
    Heapsim__Pprof__Function *functions, **function_ptrs;
    Heapsim__Pprof__Location *locations, **location_ptrs;
    Heapsim__Pprof__Line *lines, **line_ptrs;
    Heapsim__Pprof__Sample *samples, **sample_ptrs;
    Heapsim__Pprof__Label *labels, **label_ptrs;
    uint64_t *location_ids;
    int64_t *values;
    int64_t comment;
} build_t;

static void build_free(build_t *b)
{
    free(b->strings.s);
    free(b->functions);
    free(b->function_ptrs);
    free(b->locations);
    free(b->location_ptrs);
    free(b->lines);
    free(b->line_ptrs);
    free(b->samples);
    free(b->sample_ptrs);
    free(b->labels);
    free(b->label_ptrs);
    free(b->location_ids);
    free(b->values);
}

/* Fill *msg from p; 0 or -ENOMEM. */
static int build_message(const profile_heap_t *p, build_t *b, Heapsim__Pprof__Profile *msg)
{
    static const char *const names[NVALUES][2] = {
        {"alloc_objects", "count"}, {"alloc_space", "bytes"},
        {"inuse_objects", "count"}, {"inuse_space", "bytes"},
    };
    size_t n = p->nsites ? p->nsites : 1;   /* calloc(0) may be NULL */
    int64_t failed = 0;

    heapsim__pprof__profile__init(msg);
    failed |= str_index(&b->strings, "");
    for (int i = 0; i < NVALUES; i++) {
        heapsim__pprof__value_type__init(&b->types[i]);
        b->types[i].type = str_index(&b->strings, names[i][0]);
        b->types[i].unit = str_index(&b->strings, names[i][1]);
        failed |= b->types[i].type | b->types[i].unit;
        b->type_ptrs[i] = &b->types[i];
    }
    heapsim__pprof__value_type__init(&b->period_type);
    b->period_type.type = str_index(&b->strings, "space");
    b->period_type.unit = str_index(&b->strings, "bytes");
    failed |= b->period_type.type | b->period_type.unit;

    b->functions = calloc(n, sizeof *b->functions);
    b->function_ptrs = calloc(n, sizeof *b->function_ptrs);
    b->locations = calloc(n, sizeof *b->locations);
    b->location_ptrs = calloc(n, sizeof *b->location_ptrs);
    b->lines = calloc(n, sizeof *b->lines);
    b->line_ptrs = calloc(n, sizeof *b->line_ptrs);
    b->samples = calloc(n, sizeof *b->samples);
    b->sample_ptrs = calloc(n, sizeof *b->sample_ptrs);
    b->labels = calloc(n, sizeof *b->labels);
    b->label_ptrs = calloc(n, sizeof *b->label_ptrs);
    b->location_ids = calloc(n, sizeof *b->location_ids);
    b->values = calloc(n * NVALUES, sizeof *b->values);
    if (failed < 0 || !b->functions || !b->function_ptrs || !b->locations ||
        !b->location_ptrs || !b->lines || !b->line_ptrs || !b->samples ||
        !b->sample_ptrs || !b->labels || !b->label_ptrs || !b->location_ids || !b->values)
        return -ENOMEM;

    /* One mapping that says the functions are known: nothing to symbolize. */
    heapsim__pprof__mapping__init(&b->mapping);
    b->mapping.id = 1;
    b->mapping.filename = str_index(&b->strings, "heapsim");
    b->mapping.has_functions = 1;
    b->mapping_ptr = &b->mapping;
    int64_t bytes_key = str_index(&b->strings, "bytes");
    int64_t file = str_index(&b->strings, "heapsim kernels");
    if (b->mapping.filename < 0 || bytes_key < 0 || file < 0)
        return -ENOMEM;

    for (size_t i = 0; i < p->nsites; i++) {
        const profile_site_t *s = &p->sites[i];
        uint64_t id = i + 1;
        int64_t name = str_index(&b->strings, s->name ? s->name : "(unknown)");
        if (name < 0)
            return -ENOMEM;

        heapsim__pprof__function__init(&b->functions[i]);
        b->functions[i].id = id;
        b->functions[i].name = name;
        b->functions[i].system_name = name;
        b->functions[i].filename = file;
        b->function_ptrs[i] = &b->functions[i];

        heapsim__pprof__line__init(&b->lines[i]);
        b->lines[i].function_id = id;
        b->line_ptrs[i] = &b->lines[i];
        heapsim__pprof__location__init(&b->locations[i]);
        b->locations[i].id = id;
        b->locations[i].mapping_id = 1;
        b->locations[i].n_line = 1;
        b->locations[i].line = &b->line_ptrs[i];
        b->location_ptrs[i] = &b->locations[i];

        int64_t *v = &b->values[i * NVALUES];
        profile_scale(s->alloc_objects, s->alloc_bytes, p->rate, &v[0], &v[1]);
        profile_scale(s->inuse_objects, s->inuse_bytes, p->rate, &v[2], &v[3]);
        b->location_ids[i] = id;
        heapsim__pprof__sample__init(&b->samples[i]);
        b->samples[i].n_location_id = 1;
        b->samples[i].location_id = &b->location_ids[i];
        b->samples[i].n_value = NVALUES;
        b->samples[i].value = v;
        if (s->alloc_objects > 0 && s->alloc_bytes / s->alloc_objects != 0) {
            heapsim__pprof__label__init(&b->labels[i]);
            b->labels[i].key = bytes_key;
            b->labels[i].num = s->alloc_bytes / s->alloc_objects;
            b->label_ptrs[i] = &b->labels[i];
            b->samples[i].n_label = 1;
            b->samples[i].label = &b->label_ptrs[i];
        }
        b->sample_ptrs[i] = &b->samples[i];
    }

    if (p->comment) {
        b->comment = str_index(&b->strings, p->comment);
        if (b->comment < 0)
            return -ENOMEM;
        msg->n_comment = 1;
        msg->comment = &b->comment;
    }
    msg->n_sample_type = NVALUES;
    msg->sample_type = b->type_ptrs;
    msg->n_sample = p->nsites;
    msg->sample = b->sample_ptrs;
    msg->n_mapping = 1;
    msg->mapping = &b->mapping_ptr;
    msg->n_location = p->nsites;
    msg->location = b->location_ptrs;
    msg->n_function = p->nsites;
    msg->function = b->function_ptrs;
    msg->n_string_table = b->strings.n;
    msg->string_table = b->strings.s;
    msg->time_nanos = p->time_unix_ns;
    msg->period_type = &b->period_type;
    msg->period = p->rate;
    msg->default_sample_type = str_index(&b->strings, "inuse_space");
    return 0;
}

/* gzip in into a malloc'd buffer. */
int profile__gzip(const uint8_t *in, size_t len, unsigned char **out_p, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return PROFILE_EGZIP;
    uLong bound = deflateBound(&z, (uLong)len);
    unsigned char *out = malloc(bound);
    if (!out) {
        deflateEnd(&z);
        return -ENOMEM;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    size_t n = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return PROFILE_EGZIP;
    }
    *out_p = out;
    *out_len = n;
    return 0;
}

int profile_heap_encode(const profile_heap_t *p, unsigned char **buf_p, size_t *len_p)
{
    build_t b;
    Heapsim__Pprof__Profile msg;
    memset(&b, 0, sizeof b);
    int rc = build_message(p, &b, &msg);
    if (rc != 0)
        goto out_build;
    size_t len = heapsim__pprof__profile__get_packed_size(&msg);
    uint8_t *raw = malloc(len ? len : 1);
    if (!raw) {
        rc = -ENOMEM;
        goto out_build;
    }
    heapsim__pprof__profile__pack(&msg, raw);
    rc = profile__gzip(raw, len, buf_p, len_p);
    free(raw);
out_build:
    build_free(&b);
    return rc;
}

int profile_heap_write(const profile_heap_t *p, const char *path)
{
    unsigned char *buf;
    size_t len;
    int rc = profile_heap_encode(p, &buf, &len);
    if (rc != 0)
        return rc;
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        rc = -errno;
        goto out_buf;
    }
    if (fwrite(buf, 1, len, fp) != len)
        rc = -EIO;
    if (fclose(fp) != 0 && rc == 0)
        rc = -errno;
out_buf:
    free(buf);
    return rc;
}
