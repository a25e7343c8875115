/*
** proto/proto_fuzz.h -- what the decoder's fuzzer checks of one input, and
** the seed frames it starts from. Test-only: the libFuzzer target
** (proto_fuzz_main.c, built by tests/fuzz_proto.sh with clang) and the
** Bazel test that replays the corpus (proto_fuzz_test.c) call the same
** check, so CI exercises what the fuzzer explored.
*/
#ifndef HEAPSIM_PROTO_PROTO_FUZZ_H
#define HEAPSIM_PROTO_PROTO_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Decode data[0..size) and check what the decoder promises, aborting
** (with the reason on stderr) when it breaks a promise:
**   - refused: the reason is one non-empty line, and nothing is left to
**     free (the message is zeroed);
**   - accepted: the message encodes, its encoding decodes, and encoding
**     that again gives the same bytes (a canonical round trip).
** ASan/UBSan catch the rest (reads past the frame, leaks, overflow).
** Returns 1 when the frame was accepted, 0 when refused. */
int proto_fuzz_one(const uint8_t *data, size_t size);

/* The seed frames: a valid frame of every message type, with every
** optional field and at the edges of the ranges. Frame i (0 <= i <
** proto_fuzz_nseeds()) into a malloc'd buffer (*buf_p, *len_p; the caller
** frees) and its name (a file name: "task-full", ...) into *name_p.
** Returns 0 or -ENOMEM. */
size_t proto_fuzz_nseeds(void);
int proto_fuzz_seed(size_t i, char **buf_p, size_t *len_p, const char **name_p);

#endif
