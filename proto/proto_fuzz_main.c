/*
** proto/proto_fuzz_main.c -- the libFuzzer target for the frame decoder.
** Not built by Bazel (its toolchain is gcc): tests/fuzz_proto.sh builds it
** with clang -fsanitize=fuzzer,address,undefined and runs it on the seed
** corpus. proto_fuzz_one() says what is checked.
*/
#include <stddef.h>
#include <stdint.h>

#include "proto/proto_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_fuzz_one(data, size);
    return 0;
}
