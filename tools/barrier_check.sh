#!/usr/bin/env bash
# tools/barrier_check.sh ROOT -- nothing outside shm_heap stores a reference
# into a heap object except through the write barrier.
#
# The rule (shm_heap/heap.h, issue #10): every store of a reference into a
# heap object goes through heap_write_ref() or heap_copy_refs(); reads go
# through heap_read_ref(). heap.h no longer offers raw slot pointers, so the
# compiler stops the old way; what it cannot stop is a cast, which this
# check looks for in every C file under ROOT except shm_heap/ (the heap's
# own), bazel-* and third_party/, with comments and string literals left
# out:
#   - heap_ptr(): the raw address of an object. Outside the heap, scalars
#     are reached through heap_data(), references through the calls above.
#   - heap_data() taken as `heap_ref_t *` (a cast, or a declaration that
#     initialises one): scalar bytes used as reference slots.
# Prints FILE:LINE: WHAT for each, and exits 1 if there is any, 0 if none,
# 2 on a usage error. It is lexical: a cast spread over several lines is
# not seen.
set -uo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: tools/barrier_check.sh ROOT (a heapsim source tree)" >&2
    exit 2
fi
root="${1%/}"

# Every C file but the heap's own, paths relative to root, sorted.
files="$(cd "$root" && find . \( -name 'bazel-*' -o -name .git -o -path ./shm_heap \
                                 -o -path ./third_party \) -prune \
                              -o -type f \( -name '*.c' -o -name '*.h' \) -print |
         sed 's|^\./||' | LC_ALL=C sort)"
[ -n "$files" ] || { echo "barrier_check: no C files under $root" >&2; exit 2; }

found="$(cd "$root" && printf '%s\n' "$files" | tr '\n' '\0' | xargs -0 awk '
    FNR == 1 { in_comment = 0 }
    {
        # The line without comments and literals (a comment may span lines).
        line = $0; code = ""
        while (line != "") {
            if (in_comment) {
                end = index(line, "*/")
                if (end == 0) { line = ""; break }
                line = substr(line, end + 2); in_comment = 0; continue
            }
            if (match(line, /\/\*|\/\/|"|\047/) == 0) { code = code line; break }
            code = code substr(line, 1, RSTART - 1)
            tok = substr(line, RSTART, RLENGTH)
            line = substr(line, RSTART + RLENGTH)
            if (tok == "/*") { in_comment = 1; code = code " " }
            else if (tok == "//") { line = "" }
            else {
                # A literal: skip to its closing quote (escapes included).
                while (line != "" && substr(line, 1, 1) != tok)
                    line = substr(line, (substr(line, 1, 1) == "\\") ? 3 : 2)
                line = substr(line, 2); code = code tok tok
            }
        }
        if (code ~ /(^|[^A-Za-z0-9_])heap_ptr[ \t]*\(/)
            printf "%s:%d: heap_ptr() outside shm_heap: store references with heap_write_ref/heap_copy_refs, read them with heap_read_ref, reach scalars through heap_data\n", FILENAME, FNR
        if (code ~ /\([ \t]*heap_ref_t[ \t]*\*[ \t]*\).*heap_data[ \t]*\(/ ||
            code ~ /(^|[^A-Za-z0-9_])heap_ref_t[ \t]*\*[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*=[ \t]*(\([^;]*\))?[ \t]*heap_data[ \t]*\(/)
            printf "%s:%d: heap_data() taken as reference slots: use heap_write_ref/heap_read_ref\n", FILENAME, FNR
    }')"
rc=$?
if [ "$rc" != 0 ]; then
    echo "barrier_check: awk failed (status $rc)" >&2
    exit 2
fi
if [ -n "$found" ]; then
    printf '%s\n' "$found"
    exit 1
fi
exit 0
