# tests/lib.sh -- shared by the integration tests (sourced, not run).
#
# Each test gets its own shared-memory prefix (HEAPSIM_SHM_PREFIX, inside
# the one it was given: tests/run gives its run one), so that it can check
# that nothing of its own is left in /dev/shm while other tests run beside
# it, and a trap that removes its segments and children even when it fails.
set -uo pipefail

HEAPSIM="${HEAPSIM:-$(cd "$(dirname "$1")" && pwd)/$(basename "$1")}"
export HEAPSIM_SHM_PREFIX="${HEAPSIM_SHM_PREFIX:-heapsim-}it$$-$RANDOM-"
T="$(mktemp -d "${TEST_TMPDIR:-/tmp}/heapsim-it.XXXXXX")"
REF="${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-heapsim}"
[ -d "$REF/tests" ] || REF="$(pwd)"
checks=0
failed=0

cleanup() {
    local pids
    pids="$(jobs -p)"
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    rm -f /dev/shm/"$HEAPSIM_SHM_PREFIX"* 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

pass() { checks=$((checks + 1)); }
fail() { checks=$((checks + 1)); failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# check "what" COMMAND...: passes when the command succeeds.
check() {
    local what="$1"; shift
    if "$@"; then pass; else fail "$what"; fi
}

# expect_eq "what" ACTUAL EXPECTED
expect_eq() {
    if [ "$2" = "$3" ]; then pass; else fail "$1: got '$2', want '$3'"; fi
}

# expect_grep "what" PATTERN FILE
expect_grep() {
    if grep -q -- "$2" "$3"; then pass; else
        fail "$1: no '$2' in $3:"; sed 's/^/    /' "$3" >&2; fi
}

# wait_for SECONDS "what" COMMAND...: runs the command every 50 ms until it
# succeeds (a passed check) or SECONDS have gone by (a failed one, and
# status 1). Make the bound generous: only a failing test waits it out.
wait_for() {
    local secs="$1" what="$2"; shift 2
    local i
    for ((i = 0; i < secs * 20; i++)); do
        "$@" && { pass; return 0; }
        sleep 0.05
    done
    fail "$what (not within $secs s)"
    return 1
}

q() { sqlite3 -batch -noheader "$1" "$2"; }

no_segments_left() {
    local left
    left="$(ls /dev/shm | grep "^$HEAPSIM_SHM_PREFIX" || true)"
    [ -z "$left" ] || { echo "left in /dev/shm: $left" >&2; return 1; }
}

finish() {
    echo "$checks checks, $failed failed"
    [ "$failed" = 0 ]
}
