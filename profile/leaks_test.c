/*
** profile/leaks_test.c -- a site that only grows is found, with its
** slope; sites that go up and down (garbage not yet swept), stay flat or
** shrink are not; too few snapshots find nothing.
*/
#include "profile/leaks.h"

#include <stdlib.h>
#include <string.h>

#include "base/testrun.h"

enum { NSNAP = 6 };

/* Six snapshots at cycles 10, 20, ...: "kept" grows by 100 objects of
** 1 KiB a snapshot; "garbage" goes up and down; "flat" stays; "shrinks"
** falls; "late" appears at the fourth snapshot and grows. */
static profile_site_t sites[NSNAP][5];
static profile_snapshot_t snaps[NSNAP];

static void fill(void)
{
    static const int64_t garbage[NSNAP] = { 500, 100, 700, 50, 600, 80 };
    for (int t = 0; t < NSNAP; t++) {
        int64_t kept = 100 * (t + 1), shrink = 1000 - 100 * t;
        sites[t][0] = (profile_site_t){ "kept", kept, kept * 1024, kept, kept * 1024 };
        sites[t][1] = (profile_site_t){ "garbage", 1000 * (t + 1), 1000 * (t + 1) * 64,
                                        garbage[t], garbage[t] * 64 };
        sites[t][2] = (profile_site_t){ "flat", 40, 40 * 32, 40, 40 * 32 };
        sites[t][3] = (profile_site_t){ "shrinks", 1000, 1000 * 16, shrink, shrink * 16 };
        sites[t][4] = (profile_site_t){ "late", 10 * t, 10 * t * 256, 10 * t, 10 * t * 256 };
        snaps[t] = (profile_snapshot_t){ .cycle = 10 * (t + 1), .sites = sites[t],
                                         .nsites = t >= 3 ? 5 : 4 };
    }
}

static void test_finds_the_growing_sites(void)
{
    profile_leak_t *leaks;
    size_t n;
    fill();
    REQUIRE(profile_find_leaks(snaps, NSNAP, 1, &leaks, &n) == 0);
    REQUIRE(n == 2);
    CHECK_STR(leaks[0].site, "kept");           /* fastest first */
    CHECK_INT(leaks[0].first_bytes, 100 * 1024);
    CHECK_INT(leaks[0].last_bytes, 600 * 1024);
    CHECK_INT(leaks[0].last_objects, 600);
    CHECK_INT(leaks[0].first_cycle, 10);
    CHECK_INT(leaks[0].last_cycle, 60);
    /* 100 KiB per 10 cycles, exactly linear. */
    CHECK(leaks[0].bytes_per_cycle > 10239.99 && leaks[0].bytes_per_cycle < 10240.01);
    CHECK(leaks[0].rises == 5 && leaks[0].falls == 0);
    CHECK_STR(leaks[1].site, "late");
    free(leaks);
}

/* At Go's rate, growth below one sample's worth is not a finding. */
static void test_rate_sets_the_threshold(void)
{
    profile_leak_t *leaks;
    size_t n;
    fill();
    REQUIRE(profile_find_leaks(snaps, NSNAP, 512 * 1024, &leaks, &n) == 0);
    /* kept: scaled growth from ~100 KiB to ~600 KiB: more than 512 KiB;
    ** late: 10..50 objects of 256 B, scaled, about 2.5 MiB of growth. */
    for (size_t i = 0; i < n; i++)
        CHECK(strcmp(leaks[i].site, "kept") == 0 || strcmp(leaks[i].site, "late") == 0);
    free(leaks);
}

static void test_too_few_snapshots(void)
{
    profile_leak_t *leaks = (profile_leak_t *)1;
    size_t n = 9;
    fill();
    REQUIRE(profile_find_leaks(snaps, 2, 1, &leaks, &n) == 0);
    CHECK(n == 0 && leaks == NULL);
}

static const testrun_case_t cases[] = {
    { "finds_the_growing_sites", test_finds_the_growing_sites },
    { "rate_sets_the_threshold", test_rate_sets_the_threshold },
    { "too_few_snapshots", test_too_few_snapshots },
};

int main(int argc, char **argv)
{
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 30, NULL);
}
