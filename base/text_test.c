/*
** base/text_test.c -- messages into bounded buffers, and doubles as their
** shortest exact text.
*/
#include "base/text.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/splitmix64.h"
#include "base/testrun.h"

static void check_double(double v, const char *want)
{
    char buf[TEXT_DOUBLE_MAX];
    text_format_double(buf, sizeof buf, v);
    REQUIRE_STR(buf, want);
}

static void test_format_double_examples(void)
{
    check_double(0.0, "0.0");
    check_double(-0.0, "-0.0");
    check_double(10.0, "10.0");
    check_double(-3.0, "-3.0");
    check_double(1500000.0, "1500000.0");
    check_double(999999999999999.0, "999999999999999.0");
    check_double(1e15, "1e+15");
    check_double(1234567890123456.0, "1234567890123456.0");
    check_double(1e20, "1e+20");
    check_double(0.25, "0.25");
    check_double(0.1, "0.1");
    check_double(1.0 / 3, "0.3333333333333333");
    check_double(123456.7, "123456.7");
    check_double(0.0001, "0.0001");
    check_double(1e-7, "1e-07");
    check_double(1.5e-5, "1.5e-05");
    check_double(2.5e300, "2.5e+300");
    check_double(5e-324, "5e-324");
    check_double(NAN, "nan");
    check_double(INFINITY, "inf");
    check_double(-INFINITY, "-inf");
}

/* Random bit patterns: the text reads back exactly, looks like a float,
** and one digit fewer would not read back. */
static void test_format_double_round_trip(void)
{
    uint64_t state = 42;
    char buf[TEXT_DOUBLE_MAX], shorter[400];   /* room for any %g, to please -Wformat */
    for (int i = 0; i < 50000; i++) {
        uint64_t bits = splitmix64_next(&state);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (i % 4 == 0)
            v = (double)(int64_t)(bits >> 20) / 1024;     /* short fractions */
        if (!isfinite(v))
            continue;
        text_format_double(buf, sizeof buf, v);
        REQUIRE(strtod(buf, NULL) == v);
        REQUIRE(strpbrk(buf, ".e") != NULL);
        char *e = strchr(buf, 'e');
        size_t digits = 0;
        for (const char *p = buf; *p && p != e; p++)
            digits += *p >= '0' && *p <= '9';
        if (e && digits > 1) {
            snprintf(shorter, sizeof shorter, "%.*g", (int)digits - 1, v);
            REQUIRE(strtod(shorter, NULL) != v);
        }
    }
}

static void test_format_double_small_buffer(void)
{
    char buf[4];
    text_format_double(buf, sizeof buf, 0.123456);
    REQUIRE_STR(buf, "0.1");
    text_format_double(buf, sizeof buf, 12345.0);
    REQUIRE_STR(buf, "123");
}

static void test_messages(void)
{
    char buf[8] = "ab";
    text_append(buf, sizeof buf, "%d", 123);
    REQUIRE_STR(buf, "ab123");
    text_append(buf, sizeof buf, "%s", "xyzw");
    REQUIRE_STR(buf, "ab123xy");
    char err[6];
    text_set_err(err, sizeof err, "no %s", "heap");
    REQUIRE_STR(err, "no he");
    text_set_err(NULL, 0, "ignored");
}

static const testrun_case_t cases[] = {
    { "format_double_examples", test_format_double_examples },
    { "format_double_round_trip", test_format_double_round_trip },
    { "format_double_small_buffer", test_format_double_small_buffer },
    { "messages", test_messages },
};

int main(int argc, char **argv)
{
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 60, NULL);
}
