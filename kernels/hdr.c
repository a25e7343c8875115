/*
** kernels/hdr.c -- the log-linear histogram (see hdr.h).
**
** Bucket index of a value v:
**   v < 256:  v itself (buckets 0..255, one value each);
**   else:     with e = floor(log2 v) (8..63) and shift = e - 7, the top 8
**             bits m = v >> shift lie in [128, 255], and the index is
**             shift * 128 + m (256..7423).
** Consecutive powers of two therefore take consecutive runs of 128
** buckets, and bucket shift * 128 + m holds [m << shift, (m + 1) << shift).
*/
#include "kernels/hdr.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct hdr {
    uint64_t count;
    uint64_t min, max;
    uint64_t sum;              /* saturating */
    uint64_t counts[HDR_BUCKETS];
};

static inline uint64_t add_sat(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static inline uint64_t mul_sat(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

hdr_t *hdr_new(void)
{
    hdr_t *h = calloc(1, sizeof *h);
    if (h)
        h->min = UINT64_MAX;
    return h;
}

void hdr_destroy(hdr_t **hdr_p)
{
    if (!hdr_p)
        return;
    free(*hdr_p);
    *hdr_p = NULL;
}

void hdr_reset(hdr_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

size_t hdr_bucket_index(uint64_t value)
{
    if (value < 2 * HDR_SUB_BUCKETS)
        return (size_t)value;
    unsigned shift = 63u - (unsigned)__builtin_clzll(value) - 7u;
    return (size_t)shift * HDR_SUB_BUCKETS + (size_t)(value >> shift);
}

uint64_t hdr_bucket_lowest(size_t index)
{
    if (index < 2 * HDR_SUB_BUCKETS)
        return index;
    unsigned shift = (unsigned)(index / HDR_SUB_BUCKETS) - 1u;
    uint64_t m = index - (size_t)shift * HDR_SUB_BUCKETS;
    return m << shift;
}

uint64_t hdr_bucket_highest(size_t index)
{
    if (index < 2 * HDR_SUB_BUCKETS)
        return index;
    unsigned shift = (unsigned)(index / HDR_SUB_BUCKETS) - 1u;
    uint64_t m = index - (size_t)shift * HDR_SUB_BUCKETS;
    /* (m + 1) << shift overflows only for the very last bucket. */
    return m == 2 * HDR_SUB_BUCKETS - 1 && shift == 56 ? UINT64_MAX
                                                       : ((m + 1) << shift) - 1;
}

void hdr_record_n(hdr_t *h, uint64_t value, uint64_t n)
{
    if (n == 0)
        return;
    size_t i = hdr_bucket_index(value);
    h->counts[i] = add_sat(h->counts[i], n);
    h->count = add_sat(h->count, n);
    h->sum = add_sat(h->sum, mul_sat(value, n));
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void hdr_record(hdr_t *h, uint64_t value)
{
    hdr_record_n(h, value, 1);
}

void hdr_merge(hdr_t *dst, const hdr_t *src)
{
    if (src->count == 0)
        return;
    for (size_t i = 0; i < HDR_BUCKETS; i++)
        if (src->counts[i])
            dst->counts[i] = add_sat(dst->counts[i], src->counts[i]);
    dst->count = add_sat(dst->count, src->count);
    dst->sum = add_sat(dst->sum, src->sum);
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hdr_count(const hdr_t *h) { return h->count; }
uint64_t hdr_min(const hdr_t *h) { return h->count ? h->min : 0; }
uint64_t hdr_max(const hdr_t *h) { return h->max; }

double hdr_mean(const hdr_t *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

uint64_t hdr_value_at_percentile(const hdr_t *h, double percentile)
{
    if (h->count == 0)
        return 0;
    if (!(percentile > 0))             /* also NaN */
        return h->min;
    if (percentile >= 100)
        return h->max;
    /* The rank of the value asked for, 1..count. The product is rounded
    ** (99.9 % of 10000 comes out as 9990.000000000002): a few ulps off a
    ** whole number count as that number. */
    double exact = percentile / 100.0 * (double)h->count;
    double want = ceil(exact - exact * 4 * DBL_EPSILON);
    uint64_t rank = want < 1 ? 1 : want >= (double)h->count ? h->count : (uint64_t)want;
    uint64_t seen = 0;
    for (size_t i = 0; i < HDR_BUCKETS; i++) {
        seen = add_sat(seen, h->counts[i]);
        if (seen >= rank) {
            uint64_t v = hdr_bucket_highest(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;   /* counts saturated: the rank lies beyond them */
}
