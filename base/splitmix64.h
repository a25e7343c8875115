/*
** base/splitmix64.h -- SplitMix64 (Steele, Lea and Flood, 2014): the
** seeded stream every part of heapsim draws from, so that a seed means the
** same numbers everywhere. Header-only: a few multiplies.
**
** The state advances by a fixed odd gamma per draw and each output is the
** state through a mixing function; so the i-th output of a stream is
** splitmix64_at(seed, i) without drawing the ones before it.
*/
#ifndef HEAPSIM_BASE_SPLITMIX64_H
#define HEAPSIM_BASE_SPLITMIX64_H

#include <stdint.h>

#define SPLITMIX64_GAMMA 0x9e3779b97f4a7c15ull

/* The output function: z well mixed (a bijection on 64 bits). */
static inline uint64_t splitmix64_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The next number of the stream *state (which it advances). */
static inline uint64_t splitmix64_next(uint64_t *state)
{
    return splitmix64_mix(*state += SPLITMIX64_GAMMA);
}

/* Output i (from 0) of the stream seeded with seed: the (i+1)-th call of
** splitmix64_next on a state that starts at seed. */
static inline uint64_t splitmix64_at(uint64_t seed, uint64_t i)
{
    return splitmix64_mix(seed + (i + 1) * SPLITMIX64_GAMMA);
}

#endif
