/*
** kernels/hdr.h -- a high-dynamic-range histogram of uint64 values (the
** request_server kernel records latencies in ns with it).
**
** Log-linear buckets, as HdrHistogram lays them out: values below 256 each
** have their own bucket (exact); above, every power of two [2^e, 2^(e+1))
** is cut into 128 equal buckets, so a bucket is at most 1/128 (0.78 %) of
** its values wide. The whole uint64 range fits in HDR_BUCKETS counters
** (58 KiB), so recording never fails and never clamps. Besides the buckets
** the exact count, minimum, maximum and sum are kept.
**
** Plain process memory, not the shared heap: a histogram is the kernel's
** own bookkeeping, not a workload object.
*/
#ifndef HEAPSIM_KERNELS_HDR_H
#define HEAPSIM_KERNELS_HDR_H

#include <stddef.h>
#include <stdint.h>

#define HDR_SUB_BUCKETS 128u                 /* buckets per power of two */
#define HDR_BUCKETS (58u * HDR_SUB_BUCKETS)  /* 0..255 exact, 2^8..2^64 by 2^e */

typedef struct hdr hdr_t;

/* A new, empty histogram; NULL when out of memory. */
hdr_t *hdr_new(void);
/* Accepts NULL and *hdr_p == NULL; sets *hdr_p to NULL. */
void hdr_destroy(hdr_t **hdr_p);

/* Count `value` once, or `n` times. A count saturates at UINT64_MAX (it
** never wraps); so does the sum. */
void hdr_record(hdr_t *h, uint64_t value);
void hdr_record_n(hdr_t *h, uint64_t value, uint64_t n);
/* Add every count of src to dst (src unchanged). */
void hdr_merge(hdr_t *dst, const hdr_t *src);
/* Forget every value. */
void hdr_reset(hdr_t *h);

uint64_t hdr_count(const hdr_t *h);
/* Exact; 0 when empty. */
uint64_t hdr_min(const hdr_t *h);
uint64_t hdr_max(const hdr_t *h);
double hdr_mean(const hdr_t *h);

/* The value at `percentile` (0..100; outside, clamped): the smallest
** recorded value v such that at least percentile % of the values are <= v,
** to within a bucket -- the bucket's highest value, but never above the
** exact maximum nor below the exact minimum. 0 when empty. percentile 100
** gives the exact maximum, 0 the exact minimum. */
uint64_t hdr_value_at_percentile(const hdr_t *h, double percentile);

/* The bucket layout, for tests and readers: the index of the bucket that
** holds `value`, and the lowest and highest value of bucket `index`
** (< HDR_BUCKETS). */
size_t hdr_bucket_index(uint64_t value);
uint64_t hdr_bucket_lowest(size_t index);
uint64_t hdr_bucket_highest(size_t index);

#endif
