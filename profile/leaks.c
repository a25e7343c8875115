/*
** profile/leaks.c -- growing allocation sites across snapshots.
*/
#include "profile/leaks.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Site `name`'s estimated bytes and objects in use in snapshot s (0 when
** it is not there). */
static void inuse_of(const profile_snapshot_t *s, const char *name, int64_t rate,
                     int64_t *bytes, int64_t *objects)
{
    *bytes = 0;
    *objects = 0;
    for (size_t i = 0; i < s->nsites; i++) {
        const profile_site_t *site = &s->sites[i];
        const char *n = site->name ? site->name : "(unknown)";
        if (strcmp(n, name) == 0) {
            profile_scale(site->inuse_objects, site->inuse_bytes, rate, objects, bytes);
            return;
        }
    }
}

static int by_growth(const void *a, const void *b)
{
    const profile_leak_t *x = a, *y = b;
    return x->bytes_per_cycle < y->bytes_per_cycle ? 1
           : x->bytes_per_cycle > y->bytes_per_cycle ? -1 : strcmp(x->site, y->site);
}

/* Is `name` among the leaks found so far? */
static bool seen(const profile_leak_t *leaks, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(leaks[i].site, name) == 0)
            return true;
    return false;
}

int profile_find_leaks(const profile_snapshot_t *snaps, size_t n, int64_t rate,
                       profile_leak_t **out, size_t *nout)
{
    size_t cap = 0, found = 0;
    profile_leak_t *leaks = NULL;
    int64_t step = rate > 1 ? rate : 1;

    *out = NULL;
    *nout = 0;
    if (n < PROFILE_LEAKS_MIN_SNAPSHOTS)
        return 0;
    /* Every site of every snapshot, once (checked[] marks names done). */
    for (size_t si = 0; si < n; si++) {
        for (size_t k = 0; k < snaps[si].nsites; k++) {
            const char *name = snaps[si].sites[k].name ? snaps[si].sites[k].name : "(unknown)";
            bool done = false;
            for (size_t sj = 0; sj < si && !done; sj++)
                for (size_t q = 0; q < snaps[sj].nsites && !done; q++) {
                    const char *o = snaps[sj].sites[q].name ? snaps[sj].sites[q].name
                                                            : "(unknown)";
                    done = strcmp(o, name) == 0;
                }
            for (size_t q = 0; q < k && !done; q++) {
                const char *o = snaps[si].sites[q].name ? snaps[si].sites[q].name : "(unknown)";
                done = strcmp(o, name) == 0;
            }
            if (done || seen(leaks, found, name))
                continue;

            /* The series: least squares over (cycle, bytes), steps. */
            double sx = 0, sy = 0, sxx = 0, sxy = 0;
            int64_t prev = 0, first = 0, last = 0, last_objects = 0;
            int rises = 0, falls = 0;
            for (size_t t = 0; t < n; t++) {
                int64_t b, o;
                inuse_of(&snaps[t], name, rate, &b, &o);
                double x = (double)snaps[t].cycle, y = (double)b;
                sx += x;
                sy += y;
                sxx += x * x;
                sxy += x * y;
                if (t == 0)
                    first = b;
                else if (b > prev)
                    rises++;
                else if (b < prev)
                    falls++;
                prev = b;
                last = b;
                last_objects = o;
            }
            double dn = (double)n, den = dn * sxx - sx * sx;
            double slope = den > 0 ? (dn * sxy - sx * sy) / den : 0;
            if (!(last - first >= step && slope > 0 && rises >= 2 * falls))
                continue;
            if (found == cap) {
                cap = cap ? cap * 2 : 8;
                profile_leak_t *l = realloc(leaks, cap * sizeof *l);
                if (!l) {
                    free(leaks);
                    return -ENOMEM;
                }
                leaks = l;
            }
            leaks[found++] = (profile_leak_t){
                .site = name, .first_cycle = snaps[0].cycle, .last_cycle = snaps[n - 1].cycle,
                .first_bytes = first, .last_bytes = last, .last_objects = last_objects,
                .bytes_per_cycle = slope, .rises = rises, .falls = falls,
            };
        }
    }
    if (found)
        qsort(leaks, found, sizeof *leaks, by_growth);
    *out = leaks;
    *nout = found;
    return 0;
}
