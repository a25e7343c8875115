/*
** profile/profile_test.c -- what profile_heap_encode() writes is a gzip
** of one pprof Profile, read back with the generated decoder: Go's four
** sample types and period, a function and a location per site, values
** scaled as Go's scaleHeapSample scales them, Go's "bytes" label.
*/
#include "profile/profile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/testrun.h"
#include "profile/pprof.pb-c.h"

/* gunzip buf into a malloc'd buffer. */
static uint8_t *gunzip(const unsigned char *buf, size_t len, size_t *out_len)
{
    size_t cap = 1 << 20;
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

static Heapsim__Pprof__Profile *decode(const profile_heap_t *p)
{
    unsigned char *buf;
    size_t len, raw_len;
    REQUIRE_RC(profile_heap_encode(p, &buf, &len), 0, profile_strerror);
    REQUIRE(len > 18 && buf[0] == 0x1f && buf[1] == 0x8b);   /* gzip */
    uint8_t *raw = gunzip(buf, len, &raw_len);
    Heapsim__Pprof__Profile *m = heapsim__pprof__profile__unpack(NULL, raw_len, raw);
    REQUIRE(m != NULL);
    free(raw);
    free(buf);
    return m;
}

static const char *str(const Heapsim__Pprof__Profile *m, int64_t i)
{
    REQUIRE(i >= 0 && (size_t)i < m->n_string_table);
    return m->string_table[i];
}

static void test_scale_is_gos(void)
{
    int64_t c, b;
    profile_scale(10, 640, 512 * 1024, &c, &b);
    /* 1 / (1 - exp(-64 / 524288)) = 8192.5 (to four digits) */
    double scale = 1.0 / (1.0 - exp(-64.0 / 524288.0));
    CHECK_INT(c, (int64_t)(10 * scale));
    CHECK_INT(b, (int64_t)(640 * scale));
    CHECK(c > 81900 && c < 81950);
    profile_scale(10, 640, 1, &c, &b);
    CHECK(c == 10 && b == 640);
    profile_scale(0, 640, 512, &c, &b);
    CHECK(c == 0 && b == 0);
    /* Objects far above the rate are nearly always sampled: scale near 1
    ** (two 8 MiB objects: 1 / (1 - exp(-16))). */
    profile_scale(2, 16 << 20, 512 * 1024, &c, &b);
    CHECK(c == 2 && b >= 16 << 20 && b < (16 << 20) + 16);
}

static void test_heap_profile(void)
{
    const profile_site_t sites[] = {
        { "leak.payload", 100, 102400, 90, 92160 },
        { "leak.request", 100, 1600, 5, 80 },
        { NULL, 1, 16, 0, 0 },
    };
    profile_heap_t p = { .rate = 1, .time_unix_ns = 1700000000000000000LL,
                         .comment = "task 3", .sites = sites, .nsites = 3 };
    Heapsim__Pprof__Profile *m = decode(&p);
    static const char *const types[4][2] = {
        {"alloc_objects", "count"}, {"alloc_space", "bytes"},
        {"inuse_objects", "count"}, {"inuse_space", "bytes"},
    };
    REQUIRE(m->n_sample_type == 4);
    for (int i = 0; i < 4; i++) {
        CHECK_STR(str(m, m->sample_type[i]->type), types[i][0]);
        CHECK_STR(str(m, m->sample_type[i]->unit), types[i][1]);
    }
    CHECK_STR(str(m, 0), "");
    REQUIRE(m->period_type);
    CHECK_STR(str(m, m->period_type->type), "space");
    CHECK_INT(m->period, 1);
    CHECK_INT(m->time_nanos, 1700000000000000000LL);
    CHECK_STR(str(m, m->default_sample_type), "inuse_space");
    REQUIRE(m->n_comment == 1);
    CHECK_STR(str(m, m->comment[0]), "task 3");
    REQUIRE(m->n_sample == 3 && m->n_location == 3 && m->n_function == 3);
    for (size_t i = 0; i < 3; i++) {
        const Heapsim__Pprof__Sample *s = m->sample[i];
        REQUIRE(s->n_location_id == 1 && s->n_value == 4);
        const Heapsim__Pprof__Location *loc = NULL;
        for (size_t j = 0; j < m->n_location; j++)
            if (m->location[j]->id == s->location_id[0])
                loc = m->location[j];
        REQUIRE(loc && loc->n_line == 1);
        const Heapsim__Pprof__Function *fn = NULL;
        for (size_t j = 0; j < m->n_function; j++)
            if (m->function[j]->id == loc->line[0]->function_id)
                fn = m->function[j];
        REQUIRE(fn);
        CHECK_STR(str(m, fn->name), sites[i].name ? sites[i].name : "(unknown)");
        CHECK_INT(s->value[0], sites[i].alloc_objects);
        CHECK_INT(s->value[1], sites[i].alloc_bytes);
        CHECK_INT(s->value[2], sites[i].inuse_objects);
        CHECK_INT(s->value[3], sites[i].inuse_bytes);
        REQUIRE(s->n_label == 1);
        CHECK_STR(str(m, s->label[0]->key), "bytes");
        CHECK_INT(s->label[0]->num, sites[i].alloc_bytes / sites[i].alloc_objects);
    }
    heapsim__pprof__profile__free_unpacked(m, NULL);

    /* At Go's rate, values are scaled. */
    p.rate = 512 * 1024;
    m = decode(&p);
    int64_t c, b;
    profile_scale(90, 92160, p.rate, &c, &b);
    CHECK_INT(m->sample[0]->value[2], c);
    CHECK_INT(m->sample[0]->value[3], b);
    CHECK_INT(m->period, 512 * 1024);
    heapsim__pprof__profile__free_unpacked(m, NULL);

    /* No sites: still a valid profile. */
    p.nsites = 0;
    m = decode(&p);
    CHECK(m->n_sample == 0 && m->n_sample_type == 4);
    heapsim__pprof__profile__free_unpacked(m, NULL);
}

static void test_write_errors(void)
{
    profile_heap_t p = { .rate = 1 };
    CHECK_INT(profile_heap_write(&p, "/nonexistent-dir/heap.pb.gz"), -ENOENT);
    char path[] = "/tmp/heapsim-profile-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    CHECK_RC(profile_heap_write(&p, path), 0, profile_strerror);
    unlink(path);
}

static const testrun_case_t cases[] = {
    { "scale_is_gos", test_scale_is_gos },
    { "heap_profile", test_heap_profile },
    { "write_errors", test_write_errors },
};

int main(int argc, char **argv)
{
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 30, NULL);
}
