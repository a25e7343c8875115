/*
** kernels/hdr_test.c -- the log-linear histogram: the bucket layout covers
** uint64 without gaps or overlaps at under 1 % relative width; percentiles
** agree with the exact ones of sorted samples to within a bucket; min,
** max, mean and count are exact; merge equals recording both; saturation
** instead of wrap-around; an empty histogram answers 0.
*/
#include "kernels/hdr.h"
#include "base/splitmix64.h"
#include "base/testrun.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 12345;

static uint64_t rnd(void)
{
    return splitmix64_next(&rng_state);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Every bucket starts where the previous ended, holds its own bounds,
** and is at most 1/128 of its lowest value wide. */
static void test_layout(void)
{
    CHECK_UINT(hdr_bucket_lowest(0), 0);
    CHECK_UINT(hdr_bucket_highest(HDR_BUCKETS - 1), UINT64_MAX);
    for (size_t i = 0; i < HDR_BUCKETS; i++) {
        uint64_t lo = hdr_bucket_lowest(i), hi = hdr_bucket_highest(i);
        CHECK(lo <= hi);
        CHECK_UINT(hdr_bucket_index(lo), i);
        CHECK_UINT(hdr_bucket_index(hi), i);
        if (i > 0)
            CHECK_UINT(hdr_bucket_highest(i - 1) + 1, lo);
        if (lo >= 256)
            CHECK((double)(hi - lo + 1) / (double)lo <= 1.0 / 128 + 1e-12);
        else
            CHECK(lo == hi);
        if (testrun_failures() > 20)
            return;
    }
    CHECK_UINT(hdr_bucket_index(UINT64_MAX), HDR_BUCKETS - 1);
    CHECK_UINT(hdr_bucket_index(255), 255);
    CHECK_UINT(hdr_bucket_index(256), 256);
    for (int k = 0; k < 100000; k++) {
        uint64_t v = rnd() >> (rnd() % 64);
        size_t i = hdr_bucket_index(v);
        CHECK(i < HDR_BUCKETS && hdr_bucket_lowest(i) <= v && v <= hdr_bucket_highest(i));
    }
}

static void test_empty(void)
{
    hdr_t *h = hdr_new();
    CHECK(h != NULL);
    CHECK_UINT(hdr_count(h), 0);
    CHECK_UINT(hdr_min(h), 0);
    CHECK_UINT(hdr_max(h), 0);
    CHECK(hdr_mean(h) == 0);
    CHECK_UINT(hdr_value_at_percentile(h, 50), 0);
    CHECK_UINT(hdr_value_at_percentile(h, 100), 0);
    hdr_destroy(&h);
    CHECK(h == NULL);
    hdr_destroy(&h);
    hdr_destroy(NULL);
}

/* Small values are exact: 1..100 each once. */
static void test_exact_small(void)
{
    hdr_t *h = hdr_new();
    for (uint64_t v = 1; v <= 100; v++)
        hdr_record(h, v);
    CHECK_UINT(hdr_count(h), 100);
    CHECK_UINT(hdr_min(h), 1);
    CHECK_UINT(hdr_max(h), 100);
    CHECK(hdr_mean(h) == 50.5);
    CHECK_UINT(hdr_value_at_percentile(h, 50), 50);
    CHECK_UINT(hdr_value_at_percentile(h, 90), 90);
    CHECK_UINT(hdr_value_at_percentile(h, 99), 99);
    CHECK_UINT(hdr_value_at_percentile(h, 99.9), 100);
    CHECK_UINT(hdr_value_at_percentile(h, 100), 100);
    CHECK_UINT(hdr_value_at_percentile(h, 0), 1);
    CHECK_UINT(hdr_value_at_percentile(h, -5), 1);
    CHECK_UINT(hdr_value_at_percentile(h, 250), 100);
    CHECK_UINT(hdr_value_at_percentile(h, 0.5), 1);
    hdr_destroy(&h);
}

/* Latency-like samples over six decades: every percentile within 1 % of
** the exact one (the smallest sample with that rank). */
static void test_percentiles_against_sorted(void)
{
    enum { N = 200000 };
    static uint64_t v[N];
    hdr_t *h = hdr_new();
    static const double ps[] = {1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 99.999};

    for (int i = 0; i < N; i++) {
        /* mostly 20..200 us, a tail to 50 ms */
        uint64_t x = 20000 + rnd() % 180000;
        if (rnd() % 1000 == 0)
            x = 1000000 + rnd() % 49000000;
        v[i] = x;
        hdr_record(h, x);
    }
    qsort(v, N, sizeof v[0], cmp_u64);
    CHECK_UINT(hdr_min(h), v[0]);
    CHECK_UINT(hdr_max(h), v[N - 1]);
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        /* ps[k] % of N, rounded up, in integers: P / 100000 of N. */
        uint64_t P = (uint64_t)(ps[k] * 1000 + 0.5);
        uint64_t rank = (P * N + 99999) / 100000;
        uint64_t exact = v[rank - 1];
        uint64_t got = hdr_value_at_percentile(h, ps[k]);
        double err = ((double)got - (double)exact) / (double)exact;
        CHECK_MSG(got >= exact && err <= 0.01, "p%g: exact %llu, hdr %llu (%.3f%%)", ps[k],
                  (unsigned long long)exact, (unsigned long long)got, err * 100);
    }
    /* The mean is exact. */
    double sum = 0;
    for (int i = 0; i < N; i++)
        sum += (double)v[i];
    CHECK(hdr_mean(h) > sum / N * (1 - 1e-12) && hdr_mean(h) < sum / N * (1 + 1e-12));
    hdr_destroy(&h);
}

/* A GC-pause-like tail: 9990 fast values and 10 slow ones. */
static void test_tail(void)
{
    hdr_t *h = hdr_new();
    hdr_record_n(h, 50000, 9990);
    hdr_record_n(h, 20000000, 10);
    CHECK_UINT(hdr_count(h), 10000);
    uint64_t p50 = hdr_value_at_percentile(h, 50);
    uint64_t p99 = hdr_value_at_percentile(h, 99);
    uint64_t p999 = hdr_value_at_percentile(h, 99.9);
    uint64_t p9999 = hdr_value_at_percentile(h, 99.99);
    CHECK(p50 >= 50000 && p50 <= 50000 * 1.01);
    CHECK(p99 >= 50000 && p99 <= 50000 * 1.01);
    CHECK(p999 >= 50000 && p999 <= 50000 * 1.01);   /* rank 9990 is still fast */
    CHECK_UINT(p9999, 20000000);                       /* clamped to the max */
    CHECK_UINT(hdr_value_at_percentile(h, 99.91), 20000000);
    hdr_destroy(&h);
}

static void test_merge_and_reset(void)
{
    hdr_t *a = hdr_new(), *b = hdr_new(), *both = hdr_new();
    for (int i = 0; i < 5000; i++) {
        uint64_t x = rnd() % 10000000, y = rnd() % 1000;
        hdr_record(a, x);
        hdr_record(b, y);
        hdr_record(both, x);
        hdr_record(both, y);
    }
    hdr_merge(a, b);
    CHECK_UINT(hdr_count(a), hdr_count(both));
    CHECK_UINT(hdr_min(a), hdr_min(both));
    CHECK_UINT(hdr_max(a), hdr_max(both));
    CHECK(hdr_mean(a) == hdr_mean(both));
    for (double p = 0; p <= 100; p += 0.5)
        CHECK_UINT(hdr_value_at_percentile(a, p), hdr_value_at_percentile(both, p));
    hdr_t *empty = hdr_new();
    hdr_merge(a, empty);
    CHECK_UINT(hdr_count(a), hdr_count(both));
    hdr_merge(empty, b);
    CHECK_UINT(hdr_min(empty), hdr_min(b));
    hdr_reset(a);
    CHECK_UINT(hdr_count(a), 0);
    CHECK_UINT(hdr_max(a), 0);
    CHECK_UINT(hdr_value_at_percentile(a, 50), 0);
    hdr_record(a, 7);
    CHECK_UINT(hdr_min(a), 7);
    hdr_destroy(&a);
    hdr_destroy(&b);
    hdr_destroy(&both);
    hdr_destroy(&empty);
}

/* Extreme values and counts saturate instead of wrapping. */
static void test_extremes(void)
{
    hdr_t *h = hdr_new();
    hdr_record(h, UINT64_MAX);
    hdr_record(h, 0);
    CHECK_UINT(hdr_min(h), 0);
    CHECK_UINT(hdr_max(h), UINT64_MAX);
    CHECK_UINT(hdr_value_at_percentile(h, 100), UINT64_MAX);
    CHECK_UINT(hdr_value_at_percentile(h, 50), 0);
    CHECK(hdr_mean(h) > 9e18);                        /* the sum saturated */
    hdr_record_n(h, 1000, UINT64_MAX);
    CHECK_UINT(hdr_count(h), UINT64_MAX);
    uint64_t p = hdr_value_at_percentile(h, 50);
    CHECK(p >= 1000 && p <= 1010);
    hdr_record_n(h, 5, 0);                             /* no-op */
    CHECK_UINT(hdr_min(h), 0);
    hdr_destroy(&h);
}

int main(void)
{
    test_layout();
    test_empty();
    test_exact_small();
    test_percentiles_against_sorted();
    test_tail();
    test_merge_and_reset();
    test_extremes();
    if (testrun_exit_status("hdr_test") != 0)
        return 1;
    printf("hdr_test: all checks passed\n");
    return 0;
}
