/*
** base/splitmix64_test.c -- the published SplitMix64 stream, and the
** shortcut to its i-th number.
*/
#include "base/splitmix64.h"

#include "base/testrun.h"

/* The reference sequence for seed 1234567 (the C code of Steele, Lea and
** Flood's paper, as published with Vigna's xoshiro generators). */
static void test_reference_stream(void)
{
    static const uint64_t want[] = {
        6457827717110365317ull, 3203168211198807973ull, 9817491932198370423ull,
        4593380528125082431ull, 16408922859458223821ull,
    };
    uint64_t state = 1234567;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        REQUIRE(splitmix64_next(&state) == want[i]);
    REQUIRE(state == 1234567 + 5 * SPLITMIX64_GAMMA);
}

static void test_at_is_the_stream(void)
{
    uint64_t seeds[] = { 0, 1, 1234567, 0xfedcba9876543210ull, UINT64_MAX };
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        uint64_t state = seeds[s];
        for (uint64_t i = 0; i < 1000; i++)
            REQUIRE(splitmix64_at(seeds[s], i) == splitmix64_next(&state));
    }
}

/* The mix is a bijection: no two of many nearby inputs collide, and a
** one-bit change of the input changes about half the output bits. */
static void test_mix_spreads(void)
{
    unsigned flipped = 0;
    for (uint64_t z = 0; z < 64; z++) {
        uint64_t a = splitmix64_mix(z), b = splitmix64_mix(z ^ 1);
        REQUIRE(a != b);
        flipped += (unsigned)__builtin_popcountll(a ^ b);
    }
    REQUIRE(flipped > 64 * 24 && flipped < 64 * 40);
}

static const testrun_case_t cases[] = {
    { "reference_stream", test_reference_stream },
    { "at_is_the_stream", test_at_is_the_stream },
    { "mix_spreads", test_mix_spreads },
};

int main(int argc, char **argv)
{
    return testrun_main(argc, argv, cases, sizeof cases / sizeof cases[0], 30, NULL);
}
