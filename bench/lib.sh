# shellcheck shell=bash disable=SC2034  # sets variables for the sourcing script
# bench/lib.sh -- shared by the bench scripts (sourced, not run).
#
# Sets root, out (bench/out), repeat (REPEAT, default 3) and heapsim (the
# binary: HEAPSIM if set, else tools/setup builds it and it is
# bazel-bin/cli/heapsim); installs what the anchors need. Then offers
# best_of, the pause parsers and stats.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repeat="${REPEAT:-3}"
out="$root/bench/out"
mkdir -p "$out"

need=()
command -v go >/dev/null || need+=(golang-go)
[ -f /usr/include/gc.h ] || need+=(libgc-dev)
command -v /usr/bin/time >/dev/null || need+=(time)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v bc >/dev/null || need+=(bc)
if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ -n "${HEAPSIM:-}" ]; then
    heapsim="$HEAPSIM"
else
    "$root/tools/setup"
    heapsim="$root/bazel-bin/cli/heapsim"
fi

# go_build DIR NAME: build bench/go/DIR into $out/NAME.
go_build() {
    (cd "$root/bench/go/$1" && GOFLAGS=-mod=mod go build -o "$out/$2" .)
}

# best_of N CMD...: run CMD N times; keep the run with the lowest wall time.
# Sets WALL (s), RSS (peak, KiB), BEST_I (1..N, which run) and leaves that
# run's stdout and stderr in $out/best.out and $out/best.err, every run's
# in $out/run-I.out and $out/run-I.err (I = 1..N) and every run's wall
# time in WALLS (space-separated, in order). Stops the script if CMD fails,
# unless ALLOW_FAIL=1 (then STATUS is its exit status).
best_of() {
    local n="$1" i w r rc; shift
    WALL=""; RSS=""; BEST_I=""; STATUS=0; WALLS=""
    rm -f "$out"/run-*.out "$out"/run-*.err
    for i in $(seq 1 "$n"); do
        rc=0
        /usr/bin/time -f '%e %M' -o "$out/time.txt" "$@" >"$out/stdout.txt" 2>"$out/stderr.txt" || rc=$?
        if [ "$rc" != 0 ] && [ "${ALLOW_FAIL:-0}" != 1 ]; then
            echo "bench: '$*' failed (exit $rc):" >&2
            tail -n 20 "$out/stderr.txt" >&2
            exit 1
        fi
        cp "$out/stdout.txt" "$out/run-$i.out"
        cp "$out/stderr.txt" "$out/run-$i.err"
        read -r w r < <(tail -n 1 "$out/time.txt")
        WALLS="${WALLS:+$WALLS }$w"
        if [ -z "$WALL" ] || awk "BEGIN{exit !($w < $WALL)}"; then
            WALL="$w"; RSS="$r"; BEST_I="$i"; STATUS="$rc"
            cp "$out/stdout.txt" "$out/best.out"
            cp "$out/stderr.txt" "$out/best.err"
        fi
    done
}

# best_run DB N: the id of run BEST_I of the last N runs in DB (after
# best_of N heapsim run ... --db DB).
best_run() {
    sqlite3 "$1" "select id from runs order by id desc limit 1 offset $(($2 - BEST_I))"
}

# last_runs DB N: the ids of the last N runs in DB, oldest first.
last_runs() {
    sqlite3 "$1" "select id from (select id from runs order by id desc limit $2) order by id"
}

# go_pauses FILE: Go's pause per cycle, in ns, from GODEBUG=gctrace=1 lines
#   gc N @t s p%: a+b+c ms clock, x+y/z/w+v ms cpu, ...
# The clock figures are sweep termination (STW), concurrent mark and scan,
# and mark termination (STW): a cycle's pause is a + c, which is what
# runtime.MemStats.PauseNs records per cycle. Printed as integers: awk's
# default %.6g would print 1.205e+06, which sort -n misreads.
go_pauses() {
    sed -nE 's/^gc [0-9]+ @[0-9.]+s [0-9]+%: ([0-9.]+)\+[0-9.]+\+([0-9.]+) ms clock.*/\1 \2/p' "$1" |
        awk '{printf "%.0f\n", ($1 + $2) * 1000000}'
}

# boehm_pauses FILE: Boehm's pause per collection, in ns (pauses.h).
boehm_pauses() {
    sed -nE 's/^boehm pause ([0-9]+)$/\1/p' "$1"
}

# stats: reads pauses in ns, one per line; prints "count max_ms p99_ms".
# p99 is the nearest rank, ceil(0.99 n): with fewer than 100 pauses that is
# the max, so it is marked with a '*'.
stats() {
    sort -n | awk '{a[NR]=$1} END {
        if (NR == 0) { print "0 - -"; exit }
        i = int(NR * 0.99 + 0.999); if (i > NR) i = NR; if (i < 1) i = 1
        printf "%d %.3f %.3f%s\n", NR, a[NR] / 1e6, a[i] / 1e6, NR < 100 ? "*" : "" }'
}

# mb KIB: KiB as MiB with one decimal.
mb() { awk "BEGIN{printf \"%.1f\", $1 / 1024}"; }

# median: reads numbers, one per line (or "-"); prints their median (the
# lower middle one of an even count: a figure that was measured), "-" when
# none.
median() {
    grep -v '^-*$' | sort -g | awk '{a[NR]=$1} END { if (NR == 0) print "-"; else print a[int((NR + 1) / 2)] }'
}

# ratio A B: A/B with two decimals; "-" when either is missing or B is 0.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) { print "-"; exit }
        printf "%.2f\n", a / b }'
}

# verdict VALUE OP BOUND: PASS or MISS for VALUE OP BOUND (OP: <= or >=),
# "-" when VALUE is missing.
verdict() {
    awk -v v="$1" -v op="$2" -v b="$3" 'BEGIN {
        if (v == "" || v == "-") { print "-"; exit }
        ok = (op == "<=") ? (v + 0 <= b + 0) : (v + 0 >= b + 0)
        print ok ? "PASS" : "MISS" }'
}

# within VALUE LOW HIGH: PASS when LOW <= VALUE <= HIGH, else MISS; "-"
# when VALUE is missing.
within() {
    awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN {
        if (v == "" || v == "-") { print "-"; exit }
        print (v + 0 >= lo + 0 && v + 0 <= hi + 0) ? "PASS" : "MISS" }'
}

# anchor_line GOMAXPROCS...: the line naming the anchor, the heapsim build
# and the machine, printed by every script under its table.
anchor_line() {
    echo "(anchor: $(go version | cut -d' ' -f3) $(go env GOOS)/$(go env GOARCH), GOMAXPROCS=$*;" \
         "heapsim $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- . ':!bench' 2>/dev/null || echo '+changes')," \
         "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the end, $(date -u '+%Y-%m-%d %H:%M UTC'))"
}

# cycle_breakdown DB RUN: what a run's collections spent, from its gc_cycles
# rows: "cycles N; pause (stw_ns) mean/max; of it stopping (stop_ns),
# sweeping (sweep_ns, and the sweep's thread CPU time, sweep_cpu_ns: a
# wall far above it means the collector was descheduled) and the rest
# (first stop's work, mark termination, pacer); the concurrent mark's wall
# (mark_ns)", in ms; for the means and for the longest pause.
cycle_breakdown() {
    sqlite3 -separator ' ' "$1" "select stw_ns, stop_ns, sweep_ns, stw_ns - stop_ns - sweep_ns, mark_ns, sweep_cpu_ns
                                 from gc_cycles where run_id = $2" |
        awk '
        { n++; for (i = 1; i <= 6; i++) { s[i] += $i; if ($i > m[i]) m[i] = $i }
          if (n == 1 || $1 > big) { big = $1; bs = $2; bw = $3; bo = $4; bc = $6 } }
        END {
            if (n == 0) { print "no collections"; exit }
            printf "%d cycles; pause mean %.3f = stop %.3f + sweep %.3f (cpu %.3f) + rest %.3f; longest %.3f = %.3f + %.3f (cpu %.3f) + %.3f; mark wall mean %.2f (ms)\n",
                n, s[1] / n / 1e6, s[2] / n / 1e6, s[3] / n / 1e6, s[6] / n / 1e6, s[4] / n / 1e6,
                big / 1e6, bs / 1e6, bw / 1e6, bc / 1e6, bo / 1e6, s[5] / n / 1e6 }'
}
