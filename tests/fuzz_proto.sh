#!/usr/bin/env bash
# tests/fuzz_proto.sh -- fuzz the wire protocol's frame decoder (by hand).
#
#   tests/fuzz_proto.sh [SECONDS] [-- LIBFUZZER_OPTIONS...]
#
# Builds proto/proto_fuzz_main.c with clang -fsanitize=fuzzer,address,
# undefined (Bazel's toolchain is gcc, so outside Bazel), seeds a working
# corpus with the seed frames (proto_fuzz_test --write-seeds) and the
# corpus kept in proto/testdata/fuzz/, and runs libFuzzer for SECONDS (300
# by default). What it checks of each input is proto_fuzz_one()
# (proto/proto_fuzz.h); a broken promise or a sanitizer report stops it
# with the input in bench/out/fuzz/crash-*. Keep such an input as
# proto/testdata/fuzz/crash-NAME once fixed: proto_fuzz_test replays it
# under the normal toolchain from then on. Everything it makes is under
# bench/out/fuzz (not tracked).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-300}"
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
case "$seconds" in
'' | *[!0-9]*) echo "tests/fuzz_proto.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;;
esac
command -v clang >/dev/null || { echo "tests/fuzz_proto.sh: clang is not installed (apt-get install clang)" >&2; exit 2; }

work="$root/bench/out/fuzz"
mkdir -p "$work/corpus"
cd "$root"
bazel build //proto:proto_fuzz_test >/dev/null 2>&1 ||
    { echo "tests/fuzz_proto.sh: bazel build //proto:proto_fuzz_test failed" >&2; exit 1; }
bazel-bin/proto/proto_fuzz_test --write-seeds "$work/corpus"
cp proto/testdata/fuzz/* "$work/corpus/"

clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I. \
    proto/proto_fuzz_main.c proto/proto_fuzz.c proto/proto.c \
    catalog/catalog.c base/text.c base/units.c base/gc_fields.c \
    -lmsgpackc -ljson-c -lm -o "$work/proto_fuzz"

echo "fuzzing proto_decode for $seconds s; corpus $work/corpus" >&2
cd "$work"
./proto_fuzz -max_total_time="$seconds" -print_final_stats=1 -max_len=65536 \
    -artifact_prefix="$work/" "$@" corpus 2>&1 | tee fuzz.log | grep -E "^(#[0-9]+[[:space:]]*(INITED|DONE)|stat::|==|SUMMARY|proto_fuzz:)" || true
status="${PIPESTATUS[0]}"
ls crash-* leak-* timeout-* oom-* 2>/dev/null && echo "findings above (inputs in $work)" >&2
exit "$status"
