/*
** profile/leaks.h -- allocation sites whose objects in use grow from GC
** cycle to GC cycle: the candidates for a leak (`heapsim leaks`).
**
** Input: a task's heap profile snapshots, oldest first (profile.h's
** sampled figures, one set per snapshot, a site missing from a snapshot
** having none in use). Per site, the estimated bytes in use (scaled as
** profile_scale does) form a series over the snapshots' cycles. A site is
** growing when, over at least PROFILE_LEAKS_MIN_SNAPSHOTS snapshots, its
** last figure is above its first by at least one sample's worth (the
** rate; a byte at rate 1), its least-squares slope is positive, and it
** rose at least twice as often as it fell from one snapshot to the next.
** Garbage not yet swept makes honest sites go up and down; what is kept
** only goes up.
*/
#ifndef HEAPSIM_PROFILE_LEAKS_H
#define HEAPSIM_PROFILE_LEAKS_H

#include <stddef.h>
#include <stdint.h>

#include "profile/profile.h"

#define PROFILE_LEAKS_MIN_SNAPSHOTS 3

typedef struct profile_snapshot {
    int64_t cycle;               /* GC cycles of the heap when taken */
    const profile_site_t *sites;
    size_t nsites;
} profile_snapshot_t;

typedef struct profile_leak {
    const char *site;            /* borrowed from the snapshots */
    int64_t first_cycle, last_cycle;
    int64_t first_bytes, last_bytes;   /* estimated bytes in use */
    int64_t last_objects;              /* estimated objects in use at the last */
    double bytes_per_cycle;      /* least-squares slope over the snapshots */
    int rises, falls;            /* steps up and down between snapshots */
} profile_leak_t;

/* The growing sites of n snapshots (cycles ascending) sampled at `rate`,
** fastest growing first, into a malloc'd array (*out, *nout; the caller
** frees *out, not the names). Returns 0 (none is *nout = 0) or -ENOMEM
** (*out NULL). */
int profile_find_leaks(const profile_snapshot_t *snaps, size_t n, int64_t rate,
                       profile_leak_t **out, size_t *nout);

#endif
