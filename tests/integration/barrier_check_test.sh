#!/usr/bin/env bash
# tools/barrier_check.sh (run on the real tree by tests/run) finds each way
# of storing a reference into a heap object around the write barrier, and
# only those: a tree with clean code passes, each planted violation fails
# with its file and line, the heap's own files and comments are left alone.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"
checker="$HEAPSIM"   # lib.sh resolves its argument: here the checker

repo="$T/repo"
mkdir -p "$repo/shm_heap" "$repo/runtime" "$repo/kernels" "$repo/bazel-out/k8" \
         "$repo/third_party/x"

# The heap's own files may use raw slot pointers; so may Bazel's output and
# third-party code.
cat >"$repo/shm_heap/heap.c" <<'EOF'
void heap_copy(heap_t *h, heap_ref_t r) { ((heap_ref_t *)heap_ptr(h, r))[0] = 0; }
EOF
cp "$repo/shm_heap/heap.c" "$repo/bazel-out/k8/copy.c"
cp "$repo/shm_heap/heap.c" "$repo/third_party/x/copy.c"
# Code as it should be, with the names in comments and strings.
cat >"$repo/runtime/chan.c" <<'EOF'
/* heap_ptr(h, r) is the heap's own:
** (heap_ref_t *)heap_ptr(h, ch) is not for us. */
static void put(heap_t *h, heap_ref_t obj, heap_ref_t ref)
{
    heap_write_ref(h, obj, 0, ref);   // not heap_ptr(h, obj)
    const char *why = "heap_ptr(h, obj) went away";
    char q = '"';
    uint64_t *words = heap_data(h, obj, 1);
    heap_ref_t *frame = rt_push(rt, 1);
    frame[0] = heap_read_ref(h, obj, 0);
    my_heap_ptr(h, obj);
}
EOF
cp "$repo/runtime/chan.c" "$repo/kernels/tree.c"

# run_check WHAT WANT_STATUS: the checker on the tree, its output in $T/out.
run_check() {
    "$checker" "$repo" >"$T/out" 2>&1
    expect_eq "$1: exit status" "$?" "$2"
}

run_check "a clean tree" 0
check "a clean tree: says nothing" test ! -s "$T/out"

# plant FILE LINE TEXT WHAT: the line appended to a copy of a clean file
# (at line LINE), and the checker must name FILE:LINE with WHAT.
plant() {
    local file="$1" line="$2" text="$3" what="$4"
    cp "$repo/$file" "$T/saved"
    printf '%s\n' "$text" >>"$repo/$file"
    run_check "planted: $text" 1
    expect_grep "planted: $text: names it" "^$file:$line: $what" "$T/out"
    expect_eq "planted: $text: only it" "$(wc -l <"$T/out")" 1
    cp "$T/saved" "$repo/$file"
}

plant kernels/tree.c 13 '((heap_ref_t *)heap_ptr(h, node))[1] = left;' 'heap_ptr() outside shm_heap'
plant runtime/chan.c 13 'heap_ref_t *s = heap_ptr(h, obj); s[0] = ref;' 'heap_ptr() outside shm_heap'
plant runtime/chan.c 13 'memcpy(heap_ptr(h, dst), heap_ptr(h, src), n * 8);' 'heap_ptr() outside shm_heap'
plant kernels/tree.c 13 'x = ((const heap_ref_t *) heap_ptr (h, node))[0];' 'heap_ptr() outside shm_heap'
plant kernels/tree.c 13 '((heap_ref_t *)heap_data(h, node, 0))[0] = left;' 'heap_data() taken as reference slots'
plant kernels/tree.c 13 'heap_ref_t *slots = heap_data(h, node, 0);' 'heap_data() taken as reference slots'
plant kernels/tree.c 13 'heap_ref_t *slots = (void *)heap_data(h, node, 0);' 'heap_data() taken as reference slots'
# After a comment that spans lines, code is code again.
plant runtime/chan.c 14 $'/* a comment\n*/ heap_ptr(h, obj);' 'heap_ptr() outside shm_heap'
# A header counts as a C file.
cp "$repo/runtime/chan.c" "$repo/runtime/rt_int.h"
plant runtime/rt_int.h 13 'static inline heap_ref_t *slots_of(heap_t *h, heap_ref_t r) { return heap_ptr(h, r); }' \
    'heap_ptr() outside shm_heap'

# Two at once: both named, in file order.
printf 'heap_ptr(h, a);\n' >>"$repo/kernels/tree.c"
printf 'heap_ptr(h, b);\n' >>"$repo/runtime/chan.c"
run_check "two violations" 1
expect_eq "two violations: both, in order" "$(cut -d: -f1,2 "$T/out" | tr '\n' ' ')" \
    "kernels/tree.c:13 runtime/chan.c:13 "

"$checker" >"$T/out" 2>&1
expect_eq "no tree: usage error" "$?" 2
expect_grep "no tree: says how" "usage: tools/barrier_check.sh ROOT" "$T/out"
"$checker" "$T/nowhere" >"$T/out" 2>&1
expect_eq "a missing tree: usage error" "$?" 2

finish
