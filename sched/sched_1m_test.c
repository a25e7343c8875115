/*
** sched/sched_1m_test.c -- one million goroutines alive at once, each
** parked on its own waiter, then all woken and ended. Shows that stacks are
** committed lazily (about one page each) and that guards cost no VMA.
**
** Tagged "manual": about 4.5 GiB of RAM while they are all alive (one
** stack page and a share of page tables each). Run it by name:
**   bazel test //sched:sched_1m_test
*/
#include "sched/sched.h"
#include "base/testrun.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { MANY = 1000000 };

static sched_waiter_t **waiters;
static sched_waiter_t *main_w;
static int parked;
static sched_stats_t seen;
static size_t maps_during, rss_during, pte_during;

static size_t count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    size_t lines = 0;
    int c;

    REQUIRE(f != NULL);
    while ((c = fgetc(f)) != EOF)
        lines += c == '\n';
    fclose(f);
    return lines;
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size_pages, resident_pages;

    REQUIRE(f != NULL);
    REQUIRE(fscanf(f, "%lu %lu", &size_pages, &resident_pages) == 2);
    fclose(f);
    return (size_t)resident_pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* Page tables are memory too, and not in the RSS: VmPTE in KiB. */
static size_t pte_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kib = 0;

    REQUIRE(f != NULL);
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmPTE: %zu kB", &kib) == 1)
            break;
    fclose(f);
    return kib << 10;
}

static void worker(sched_t *s, void *arg)
{
    intptr_t i = (intptr_t)arg;

    if (++parked == MANY)
        sched_ready(s, main_w);
    sched_park(s, &waiters[i], "chan receive");
}

static void spawner(sched_t *s, void *arg)
{
    for (intptr_t i = 0; i < MANY; i++)
        REQUIRE(sched_spawn(s, worker, (void *)i) > 0);
    sched_park(s, &main_w, "wait");
    sched_stats_read(s, &seen);
    maps_during = count_maps();
    rss_during = rss_bytes();
    pte_during = pte_bytes();
    for (intptr_t i = 0; i < MANY; i++)
        sched_ready(s, waiters[i]);
}

int main(void)
{
    sched_t *s = NULL;
    sched_stats_t st;
    size_t maps_before;

    waiters = calloc(MANY, sizeof *waiters);
    REQUIRE(waiters != NULL);
    REQUIRE(sched_new(NULL, &s) == 0);
    maps_before = count_maps();
    REQUIRE(sched_spawn(s, spawner, NULL) > 0);
    REQUIRE(sched_run(s) == 0);
    printf("%d goroutines alive: maps %zu -> %zu lines, stack in use %" PRIu64
           " MiB, reserved %" PRIu64 " GiB, rss %zu MiB + page tables %zu MiB"
           " (%zu bytes per goroutine)\n",
           MANY + 1, maps_before, maps_during, seen.stack_committed_bytes >> 20,
           seen.stack_reserved_bytes >> 30, rss_during >> 20, pte_during >> 20,
           (rss_during + pte_during) / (MANY + 1));
    REQUIRE(seen.goroutines == MANY + 1);
    REQUIRE(maps_during < maps_before + 16);
    REQUIRE(rss_during + pte_during < (size_t)8 << 30);
    sched_stats_read(s, &st);
    REQUIRE(st.goroutines == 0);
    REQUIRE(st.spawned == MANY + 1);
    sched_destroy(&s);
    free(waiters);
    printf("ok\n");
    return 0;
}
