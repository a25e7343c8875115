/*
** profile/profile.h -- heap profiles in pprof's format (the profile.proto
** message, gzipped), as Go's runtime/pprof writes them: `go tool pprof`
** reads them.
**
** A heap profile has one sample per allocation site with Go's four values,
** in Go's order: alloc_objects (count), alloc_space (bytes), inuse_objects
** (count), inuse_space (bytes); the period is the sampling rate in bytes
** ("space"), and each sample carries Go's "bytes" label (the average
** object size). Sites are the heap's labels, not stacks: each is a
** function of its own name with one location.
**
** The figures given are of samples (shm_heap's heap_prof_site_t, Go's
** memRecord); the encoder scales them to estimates of the totals as Go's
** scaleHeapSample does. Knows nothing of the heap or of storage.
*/
#ifndef HEAPSIM_PROFILE_PROFILE_H
#define HEAPSIM_PROFILE_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#define PROFILE_EGZIP (-6001)    /* zlib failed */

const char *profile_strerror(int rc);

/* One site's sampled figures. */
typedef struct profile_site {
    const char *name;            /* the site's label; NULL reads "(unknown)" */
    int64_t alloc_objects, alloc_bytes;   /* sampled allocations */
    int64_t inuse_objects, inuse_bytes;   /* of those, not freed */
} profile_site_t;

typedef struct profile_heap {
    int64_t rate;                /* bytes per sample (MemProfileRate); 1 = every allocation */
    int64_t time_unix_ns;        /* when it was taken */
    const char *comment;         /* a line shown by pprof -comments, or NULL */
    const profile_site_t *sites;
    size_t nsites;
} profile_heap_t;

/* Go's scaleHeapSample: estimated totals from `count` samples of `bytes`
** at `rate`, each sample standing for 1 / (1 - exp(-avg / rate))
** allocations; unchanged at rate <= 1; 0, 0 when either is 0. */
void profile_scale(int64_t count, int64_t bytes, int64_t rate, int64_t *count_out,
                   int64_t *bytes_out);

/* The profile as a gzipped pprof message into a malloc'd buffer (*buf_p,
** *len_p; the caller frees). Returns 0, -ENOMEM or PROFILE_EGZIP;
** nothing to free on failure. */
int profile_heap_encode(const profile_heap_t *p, unsigned char **buf_p, size_t *len_p);

/* The same, written to `path` (created or truncated). 0, or a negative
** code (-errno from the file). */
int profile_heap_write(const profile_heap_t *p, const char *path);

#endif
