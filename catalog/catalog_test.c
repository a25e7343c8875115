/*
** catalog/catalog_test.c -- the catalog's contract: the table is sane,
** text parses exactly as documented, range errors say what was expected,
** and kparams_t values own their strings (run under --config=asan for
** leaks).
**
** Checks are base/testrun.h's, not assert(): opt builds define NDEBUG.
*/
#include "catalog/catalog.h"
#include "base/testrun.h"
#include "base/units.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A kernel of every parameter type, for what the real table lacks. */
static const char *const mode_choices[] = { "fast", "slow", NULL };
static const kparam_spec_t every_params[] = {
    { .name = "count", .type = KPARAM_INT, .doc = "d", .def_i = 3,
      .min_i = -5, .max_i = 5 },
    { .name = "buf", .type = KPARAM_SIZE, .doc = "d", .def_i = 4096,
      .min_i = 0, .max_i = (int64_t)1 << 30 },
    { .name = "ratio", .type = KPARAM_FLOAT, .doc = "d", .def_f = 0.5,
      .min_f = 0.0, .max_f = 1.0 },
    { .name = "pool", .type = KPARAM_BOOL, .doc = "d", .def_i = 0,
      .max_i = 1 },
    { .name = "mode", .type = KPARAM_STRING, .doc = "d", .def_s = "fast",
      .choices = mode_choices },
    { .name = "tag", .type = KPARAM_STRING, .doc = "d", .def_s = NULL },
};
static const kernel_spec_t every_kernel = {
    .name = "every", .summary = "test kernel", .params = every_params,
    .nparams = sizeof(every_params) / sizeof(every_params[0]),
};

static size_t idx(const kernel_spec_t *k, const char *name)
{
    size_t i = (size_t)-1;

    CHECK(catalog_param(k, name, &i) != NULL);
    return i;
}

static void test_table_is_sane(void)
{
    size_t n, i, j;
    const kernel_spec_t *ks = catalog_kernels(&n);

    CHECK(n >= 4);
    for (i = 0; i < n; i++) {
        const kernel_spec_t *k = &ks[i];

        CHECK(k->name != NULL && k->summary != NULL && k->summary[0] != '\0');
        if (i > 0)
            CHECK(strcmp(ks[i - 1].name, k->name) < 0); /* sorted, unique */
        CHECK(catalog_find(k->name) == k);
        for (j = 0; j < k->nparams; j++) {
            const kparam_spec_t *s = &k->params[j];
            size_t at = (size_t)-1, m;

            CHECK(s->doc != NULL && s->doc[0] != '\0');
            CHECK(catalog_param(k, s->name, &at) == s && at == j);
            for (m = 0; m < j; m++)
                CHECK(strcmp(k->params[m].name, s->name) != 0);
            CHECK(strcmp(s->name, "kernel") != 0);
            if (s->type == KPARAM_INT || s->type == KPARAM_SIZE) {
                CHECK(s->min_i <= s->def_i && s->def_i <= s->max_i);
            } else if (s->type == KPARAM_FLOAT) {
                CHECK(s->min_f <= s->def_f && s->def_f <= s->max_f);
            }
        }
    }
}

static void test_lookup_and_lists(void)
{
    char buf[512], tiny[8];
    const kernel_spec_t *bt = catalog_find("binary_trees");
    size_t at = 99;

    CHECK(bt != NULL && bt->nparams == 1);
    CHECK(catalog_find("binary-trees") == NULL);
    CHECK(catalog_find("") == NULL);
    CHECK(catalog_find(NULL) == NULL);
    CHECK(catalog_param(bt, "dpeth", &at) == NULL && at == 99);
    CHECK(catalog_param(bt, "depth", NULL) == &bt->params[0]);

    CHECK_STR(catalog_kernel_names(buf, sizeof(buf)),
              "binary_trees, churn, copy_vs_pointer, gcbench, leak, pingpong, pool, "
              "producer_consumer, request_server, sessions, spawn, stacks");
    CHECK_STR(catalog_kernel_names(tiny, sizeof(tiny)), "binary_");

    CHECK_STR(catalog_param_list(bt, buf, sizeof(buf)),
              "depth (int, 4..30, default 10)");
    CHECK_STR(catalog_param_list(catalog_find("churn"), buf, sizeof(buf)),
              "objects (int, 1..1000000000, default 1000000), "
              "live_objects (int, 0..100000000, default 10000), "
              "min_bytes (size, 8 B..32 MiB, default 16 B), "
              "max_bytes (size, 8 B..32 MiB, default 512 B), "
              "goroutines (int, 1..100000, default 1)");
    CHECK_STR(catalog_param_list(catalog_find("gcbench"), buf, sizeof(buf)),
              "max_depth (int, 4..24, default 16), "
              "long_lived_depth (int, 4..24, default 16), "
              "array_size (int, 0..100000000, default 500000)");
    CHECK_STR(catalog_param_list(catalog_find("spawn"), buf, sizeof(buf)),
              "goroutines (int, 1..10000000, default 10000)");
    CHECK_STR(catalog_param_list(catalog_find("pingpong"), buf, sizeof(buf)),
              "rounds (int, 1..1000000000, default 1000000)");
    CHECK_STR(catalog_param_list(&every_kernel, buf, sizeof(buf)),
              "count (int, -5..5, default 3), "
              "buf (size, 0 B..1 GiB, default 4 KiB), "
              "ratio (float, 0..1, default 0.5), pool (bool, default false), "
              "mode (string, fast|slow, default fast), "
              "tag (string, default )");
    CHECK_STR(catalog_type_name(KPARAM_SIZE), "size");
}

static void test_parse_size(void)
{
    static const struct { const char *text; int64_t bytes; } good[] = {
        { "0", 0 }, { "4096", 4096 }, { "1_000", 1000 },
        { "64KiB", 65536 }, { "64kib", 65536 }, { "4MiB", 4 << 20 },
        { "1GiB", (int64_t)1 << 30 }, { "1.5GiB", (int64_t)3 << 29 },
        { "32 MiB", 32 << 20 }, { "2\tKiB", 2048 }, { "8 B", 8 },
        { "8b", 8 }, { "1TiB", (int64_t)1 << 40 },
        { "1kB", 1000 }, { "1KB", 1000 }, { "3MB", 3000000 },
        { "2GB", 2000000000 }, { "1TB", 1000000000000 },
        { "0.5KiB", 512 }, { "0.1KiB", 102 },     /* rounded down */
        { "1.000001MiB", 1048577 },
        { "9223372036854775807", INT64_MAX },
        { "8388607TiB", (int64_t)8388607 << 40 },
    };
    static const char *const bad[] = {
        "", "-1", "+1", " 1", "1 ", "1.5", "1.5B", ".5GiB", "1.GiB",
        "1.1234567GiB", "1KiBx", "1 KiB B", "1e3", "abc", "0x10", "1K",
        "1__0", "_1", "1_", "GiB", "9223372036854775808",
        "8388608TiB", "99999999999999999999999", "9223372036854775807B0",
        "10000000000GB",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t got = -1;

        int rc = units_parse_size(good[i].text, &got);

        CHECK_MSG(rc == 0 && got == good[i].bytes,
                  "parse_size(\"%s\") = %d, %lld, want %lld", good[i].text, rc,
                  (long long)got, (long long)good[i].bytes);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t got = 77;

        int rc = units_parse_size(bad[i], &got);

        CHECK_MSG(rc == -EINVAL && got == 77, "parse_size(\"%s\") accepted: %d, %lld",
                  bad[i], rc, (long long)got);
    }
    CHECK(units_parse_size(NULL, &(int64_t){0}) == -EINVAL);

    /* What format_size prints, parse_size reads back. */
    {
        static const int64_t sizes[] = { 0, 1, 1000, 1024, 1536, 65536,
                                         (int64_t)5 << 30, (int64_t)3 << 40,
                                         INT64_MAX };
        char buf[40];

        for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            int64_t back = -1;

            units_format_size(sizes[i], buf, sizeof(buf));
            CHECK(units_parse_size(buf, &back) == 0 && back == sizes[i]);
        }
        CHECK_STR(units_format_size(32 << 20, buf, sizeof(buf)), "32 MiB");
        CHECK_STR(units_format_size(1536, buf, sizeof(buf)), "1536 B");
        CHECK_STR(units_format_size(0, buf, sizeof(buf)), "0 B");
    }
}

static void test_parse_int(void)
{
    int64_t v = 0;

    CHECK(units_parse_int("42", &v) == 0 && v == 42);
    CHECK(units_parse_int("-7", &v) == 0 && v == -7);
    CHECK(units_parse_int("+5", &v) == 0 && v == 5);
    CHECK(units_parse_int("1_000_000", &v) == 0 && v == 1000000);
    CHECK(units_parse_int("-9223372036854775808", &v) == 0 && v == INT64_MIN);
    CHECK(units_parse_int("9223372036854775807", &v) == 0 && v == INT64_MAX);
    v = 123;
    CHECK(units_parse_int("9223372036854775808", &v) == -EINVAL);
    CHECK(units_parse_int("-9223372036854775809", &v) == -EINVAL);
    CHECK(units_parse_int("123456789012345678901234567890", &v) == -EINVAL);
    CHECK(units_parse_int("", &v) == -EINVAL);
    CHECK(units_parse_int("-", &v) == -EINVAL);
    CHECK(units_parse_int("1__0", &v) == -EINVAL);
    CHECK(units_parse_int("_1", &v) == -EINVAL);
    CHECK(units_parse_int("1_", &v) == -EINVAL);
    CHECK(units_parse_int("12a", &v) == -EINVAL);
    CHECK(units_parse_int(" 12", &v) == -EINVAL);
    CHECK(units_parse_int("1.0", &v) == -EINVAL);
    CHECK(units_parse_int("0x10", &v) == -EINVAL);
    CHECK(v == 123);
}

static void test_range_errors(void)
{
    const kernel_spec_t *bt = catalog_find("binary_trees");
    const kernel_spec_t *churn = catalog_find("churn");
    kparams_t p, c;
    char err[256];
    size_t min_bytes = idx(churn, "min_bytes");

    CHECK(kparams_init(&p, bt) == 0);
    CHECK(kparams_init(&c, churn) == 0);
    CHECK(kparams_int(&p, "depth") == 10);

    CHECK(kparams_set_text(&p, 0, "abc", err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected an integer from 4 to 30, got \"abc\"");
    CHECK(kparams_set_text(&p, 0, "31", err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected an integer from 4 to 30, got \"31\"");
    CHECK(kparams_set_text(&p, 0, "99999999999999999999", err,
                           sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected an integer from 4 to 30, "
                   "got \"99999999999999999999\"");
    CHECK(kparams_set_int(&p, 0, 3, err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected an integer from 4 to 30, got 3");
    CHECK(kparams_set_bool(&p, 0, true, err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected an integer from 4 to 30, got true");
    CHECK(kparams_set_string(&p, 0, "12", err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected an integer from 4 to 30, got \"12\"");
    CHECK(kparams_set_float(&p, 0, 12.5, err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected an integer from 4 to 30, got 12.5");
    CHECK(kparams_int(&p, "depth") == 10); /* unchanged by every failure */

    CHECK(kparams_set_text(&p, 0, "2_0", err, sizeof(err)) == 0);
    CHECK(kparams_int(&p, "depth") == 20);
    CHECK(kparams_set_int(&p, 0, 30, NULL, 0) == 0);
    CHECK(kparams_set_float(&p, 0, 4.0, err, sizeof(err)) == 0);
    CHECK(kparams_int(&p, "depth") == 4);
    CHECK(kparams_set_int(&p, 0, 31, NULL, 0) == -EINVAL); /* NULL err ok */

    CHECK(kparams_set_text(&c, min_bytes, "1TiB", err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected a size from 8 B to 32 MiB, got \"1TiB\"");
    CHECK(kparams_set_text(&c, min_bytes, "12 parsecs", err,
                           sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected a size from 8 B to 32 MiB "
                   "(like 4096, 64KiB or 1.5GiB), got \"12 parsecs\"");
    CHECK(kparams_set_int(&c, min_bytes, 40 << 20, err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected a size from 8 B to 32 MiB, got 40 MiB");
    CHECK(kparams_int(&c, "min_bytes") == 16);
    CHECK(kparams_set_text(&c, min_bytes, "32MiB", err, sizeof(err)) == 0);
    CHECK(kparams_int(&c, "min_bytes") == 32 << 20);

    /* A tiny err buffer is truncated, not overrun. */
    {
        char small[10];

        memset(small, 'x', sizeof(small));
        CHECK(kparams_set_text(&p, 0, "abc", small, sizeof(small)) == -EINVAL);
        CHECK_STR(small, "expected ");
    }
    kparams_free(&p);
    kparams_free(&c);
}

static void test_every_type(void)
{
    kparams_t p;
    char err[256];
    size_t ratio = idx(&every_kernel, "ratio"), pool = idx(&every_kernel, "pool");
    size_t mode = idx(&every_kernel, "mode"), tag = idx(&every_kernel, "tag");
    size_t count = idx(&every_kernel, "count");
    static const char *const truthy[] = { "true", "TRUE", "True", "yes", "on",
                                          "1" };
    static const char *const falsy[] = { "false", "no", "OFF", "0" };
    static const char *const neither[] = { "maybe", "2", "", "tru", " true" };
    size_t i;

    CHECK(kparams_init(&p, &every_kernel) == 0);
    CHECK(kparams_int(&p, "count") == 3);
    CHECK(kparams_int(&p, "buf") == 4096);
    CHECK(kparams_float(&p, "ratio") == 0.5);
    CHECK(!kparams_bool(&p, "pool"));
    CHECK_STR(kparams_string(&p, "mode"), "fast");
    CHECK_STR(kparams_string(&p, "tag"), "");

    for (i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
        CHECK(kparams_set_bool(&p, pool, false, err, sizeof(err)) == 0);
        CHECK(kparams_set_text(&p, pool, truthy[i], err, sizeof(err)) == 0);
        CHECK(kparams_bool(&p, "pool"));
    }
    for (i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++) {
        CHECK(kparams_set_bool(&p, pool, true, err, sizeof(err)) == 0);
        CHECK(kparams_set_text(&p, pool, falsy[i], err, sizeof(err)) == 0);
        CHECK(!kparams_bool(&p, "pool"));
    }
    for (i = 0; i < sizeof(neither) / sizeof(neither[0]); i++)
        CHECK(kparams_set_text(&p, pool, neither[i], err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected true or false, got \" true\"");
    CHECK(kparams_set_int(&p, pool, 1, err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected true or false, got 1");
    CHECK(!kparams_bool(&p, "pool"));

    CHECK(kparams_set_text(&p, ratio, "1e-3", err, sizeof(err)) == 0);
    CHECK(kparams_float(&p, "ratio") == 1e-3);
    CHECK(kparams_set_int(&p, ratio, 1, err, sizeof(err)) == 0);
    CHECK(kparams_float(&p, "ratio") == 1.0);
    CHECK(kparams_set_text(&p, ratio, "1.5", err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected a number from 0 to 1, got \"1.5\"");
    CHECK(kparams_set_text(&p, ratio, "nan", err, sizeof(err)) == -EINVAL);
    CHECK(kparams_set_text(&p, ratio, "inf", err, sizeof(err)) == -EINVAL);
    CHECK(kparams_set_text(&p, ratio, "0x1p-1", err, sizeof(err)) == -EINVAL);
    CHECK(kparams_set_text(&p, ratio, "0.5x", err, sizeof(err)) == -EINVAL);
    CHECK(kparams_set_text(&p, ratio, "1e999", err, sizeof(err)) == -EINVAL);
    CHECK(kparams_set_float(&p, ratio, NAN, err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected a number from 0 to 1, got nan");
    CHECK(kparams_float(&p, "ratio") == 1.0);

    CHECK(kparams_set_float(&p, count, -5.0, err, sizeof(err)) == 0);
    CHECK(kparams_int(&p, "count") == -5);
    CHECK(kparams_set_float(&p, count, 1e300, err, sizeof(err)) == -EINVAL);
    CHECK(kparams_set_float(&p, count, INFINITY, err, sizeof(err)) == -EINVAL);
    CHECK(kparams_set_text(&p, count, "-6", err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected an integer from -5 to 5, got \"-6\"");

    CHECK(kparams_set_text(&p, mode, "slow", err, sizeof(err)) == 0);
    CHECK_STR(kparams_string(&p, "mode"), "slow");
    CHECK(kparams_set_string(&p, mode, "medium", err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected one of fast, slow, got \"medium\"");
    CHECK(kparams_set_text(&p, mode, "a\nb\"c", err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected one of fast, slow, got \"a\\nb\\\"c\"");
    CHECK(kparams_set_int(&p, mode, 3, err, sizeof(err)) == -EINVAL);
    CHECK_STR(err, "expected one of fast, slow, got 3");
    CHECK_STR(kparams_string(&p, "mode"), "slow");
    CHECK(kparams_set_string(&p, tag, "anything at all", err, sizeof(err)) == 0);
    CHECK_STR(kparams_string(&p, "tag"), "anything at all");

    /* Long values are cut in the message, which stays one line. */
    {
        char longtext[300];

        memset(longtext, 'z', sizeof(longtext) - 1);
        longtext[sizeof(longtext) - 1] = '\0';
        CHECK(kparams_set_text(&p, mode, longtext, err, sizeof(err)) == -EINVAL);
        CHECK(strstr(err, "zzz...\"") != NULL && strchr(err, '\n') == NULL);
    }
    kparams_free(&p);
}

static void test_copy_and_free(void)
{
    kparams_t src, dst, empty = { 0 }, empty_copy;
    size_t tag = idx(&every_kernel, "tag");

    CHECK(kparams_init(&src, &every_kernel) == 0);
    CHECK(kparams_set_string(&src, tag, "original", NULL, 0) == 0);
    CHECK(kparams_set_string(&src, tag, "replaced", NULL, 0) == 0);
    CHECK(kparams_copy(&dst, &src) == 0);
    CHECK(dst.kernel == src.kernel && dst.values != src.values);
    CHECK(dst.values[tag].u.s != src.values[tag].u.s);
    CHECK(kparams_set_string(&dst, tag, "changed", NULL, 0) == 0);
    CHECK(kparams_set_text(&dst, idx(&every_kernel, "count"), "-1", NULL, 0) == 0);
    CHECK_STR(kparams_string(&src, "tag"), "replaced");
    CHECK(kparams_int(&src, "count") == 3);
    CHECK(kparams_int(&dst, "count") == -1);
    kparams_free(&src);
    CHECK(src.values == NULL && src.kernel == NULL);
    kparams_free(&src);  /* twice is harmless */
    kparams_free(NULL);
    CHECK_STR(kparams_string(&dst, "tag"), "changed");
    kparams_free(&dst);

    CHECK(kparams_copy(&empty_copy, &empty) == 0 && empty_copy.values == NULL);
    kparams_free(&empty_copy);
}

/* Reading a parameter the kernel does not have is our own bug: the
** process aborts, in opt builds too. */
static void test_getter_of_unknown_name_aborts(void)
{
    pid_t pid;
    int status = 0;

    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        kparams_t p;

        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(3);
        if (kparams_init(&p, catalog_find("binary_trees")) != 0)
            _exit(2);
        (void)kparams_int(&p, "no_such_param");
        _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

/* kparams_json: every type, strings escaped, floats as a person writes them. */
static void test_json_of_every_type(void)
{
    static const char *const modes[] = { "fast", "slow", NULL };
    static const kparam_spec_t specs[] = {
        { .name = "count", .type = KPARAM_INT, .doc = "d", .def_i = -3,
          .min_i = -5, .max_i = 5 },
        { .name = "buf", .type = KPARAM_SIZE, .doc = "d", .def_i = 1 << 20,
          .min_i = 0, .max_i = 1 << 30 },
        { .name = "ratio", .type = KPARAM_FLOAT, .doc = "d", .def_f = 0.1,
          .min_f = 0, .max_f = 1 },
        { .name = "pool", .type = KPARAM_BOOL, .doc = "d", .def_i = 1,
          .max_i = 1 },
        { .name = "mode", .type = KPARAM_STRING, .doc = "d", .def_s = "slow",
          .choices = modes },
        { .name = "tag", .type = KPARAM_STRING, .doc = "d",
          .def_s = "a \"quoted\"/path\n" },
    };
    static const kernel_spec_t k = { .name = "every", .summary = "s",
                                     .params = specs, .nparams = 6 };
    kparams_t p;
    char *json;

    CHECK(kparams_init(&p, &k) == 0);
    json = kparams_json(&p);
    CHECK_STR(json, "{\"count\":-3,\"buf\":1048576,\"ratio\":0.1,\"pool\":true,"
                    "\"mode\":\"slow\",\"tag\":\"a \\\"quoted\\\"/path\\n\"}");
    free(json);
    CHECK(kparams_set_float(&p, 2, 1.0 / 3.0, NULL, 0) == 0);
    json = kparams_json(&p);
    CHECK(json != NULL && strstr(json, "\"ratio\":0.3333333333333333,") != NULL);
    free(json);
    /* Whole and plain values read as a person writes them, not 1e+00. */
    CHECK(kparams_set_float(&p, 2, 1.0, NULL, 0) == 0);
    json = kparams_json(&p);
    CHECK(json != NULL && strstr(json, "\"ratio\":1.0,") != NULL);
    free(json);
    CHECK(kparams_set_float(&p, 2, 0.0005, NULL, 0) == 0);
    json = kparams_json(&p);
    CHECK(json != NULL && strstr(json, "\"ratio\":0.0005,") != NULL);
    free(json);
    CHECK(kparams_set_float(&p, 2, 1e-7, NULL, 0) == 0);
    json = kparams_json(&p);
    CHECK(json != NULL && strstr(json, "\"ratio\":1e-07,") != NULL);
    free(json);
    kparams_free(&p);
}

int main(void)
{
    test_table_is_sane();
    test_lookup_and_lists();
    test_parse_size();
    test_parse_int();
    test_range_errors();
    test_every_type();
    test_copy_and_free();
    test_getter_of_unknown_name_aborts();
    test_json_of_every_type();
    if (testrun_exit_status("catalog_test") != 0)
        return 1;
    printf("catalog_test: all checks passed\n");
    return 0;
}
