/*
** profile/profile_int.h -- private to profile/: what profile.c and
** retain.c share.
*/
#ifndef HEAPSIM_PROFILE_PROFILE_INT_H
#define HEAPSIM_PROFILE_PROFILE_INT_H

#include <stddef.h>
#include <stdint.h>

/* gzip `len` bytes of `in` into a malloc'd buffer (*out_p, *out_len; the
** caller frees). 0, -ENOMEM or PROFILE_EGZIP (nothing to free). */
int profile__gzip(const uint8_t *in, size_t len, unsigned char **out_p, size_t *out_len);

#endif
