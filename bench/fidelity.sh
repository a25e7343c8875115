#!/usr/bin/env bash
# bench/fidelity.sh [--lesson NAME]... [--quick | --scale N] [--depths "16 18"]
#                   [--keep DIR] -- heapsim's figures beside an equivalent Go 1.19
# program's, point by point (issue #9; the stack figures of issue #11).
#
# For binary-trees at each depth (default 16 and 18) and for every sweep
# point of every lesson scenario (scenarios/lessons/*.yaml), runs heapsim and
# bench/go/fidelity (the same kernel in Go: same objects, sizes, pointer
# slots, live set, goroutines, channels and pool use, same parameters and
# GOGC) and prints a table per point: figure, heapsim, Go, heapsim/Go.
#
#   --lesson NAME  only this lesson (gc-pacing, stacks, leaks, channels,
#                  copying, pool) or binary-trees; repeatable
#   --quick        counts (objects, requests, items, goroutines) / 10, and
#                  binary-trees at depths 14 and 16: under a minute (the full
#                  run: about 3)
#   --scale N      counts / N (--quick is --scale 10)
#   --depths "D.." binary-trees depths
#   --keep DIR     keep every point's scenario, database and Go output there
#   --collector C  heapsim's collector (concurrent, stw); repeatable, the
#                  first one fills the tables' heapsim column, the others
#                  add rows of GC cycles and peak heap (default: concurrent
#                  and stw)
#   --repeat N     run each point N times per side (default 1); the
#                  summary's figures are medians over them
#
# Run by hand, not a test: one run per point, side and collector (no
# best-of: these are counts, not timings, except where GC cycles depend on
# timing, as under the concurrent collector; --repeat N takes medians).
# At the end a SUMMARY: per point, GC cycles and peak heap of each
# collector beside Go's, the ratios, and issue #10's targets (gc-pacing:
# GC cycles and peak heap within 15 % of Go's; binary-trees: GC cycles
# within 25 %), held to the first collector. Go runs
# with GOMAXPROCS=1 (GO_GOMAXPROCS to change), GOGC from the point (off ->
# GOGC=off). HEAPSIM=path uses that binary instead of building one.
# GO_GODEBUG=gcstoptheworld=1 runs Go with a stop-the-world mark (sweeping
# stays concurrent), like heapsim's collector: what is left of a gap then
# is not Go's concurrent marking.
#
# A FRESH HEAP PER POINT. Tasks of one run with equal runtime settings share
# a heap today, so the script never runs a scenario as it is: per point it
# writes a scenario of that one task (the point's parameters and runtime
# settings, repeat 1) and runs it alone, `heapsim run POINT.yaml --workers 1
# --db DB`, into a database of its own. The Go program gets the task's seed
# (tasks.seed), so the random sizes (churn) are the same sequence.
#
# WHAT EACH FIGURE IS
#   gc cycles          heapsim: tasks.gc_cycles (every cycle of the task's
#                      heap, forced ones included); Go: NumGC delta over the
#                      kernel (forced included). `forced` alone: heapsim
#                      gc_cycles.forced, Go NumForcedGC (the leak kernel
#                      collects once or twice itself; runtime.GC() in Go).
#   objects allocated  heapsim: tasks.alloc_objects; Go: Mallocs delta.
#   bytes allocated    heapsim: tasks.alloc_bytes (size-class slot bytes:
#                      Go's classes, no header); Go: TotalAlloc delta
#                      (size-class slot bytes). Both count the runtime's
#                      own heap objects: goroutine records (g, 416 B),
#                      sudogs, go-statement closures.
#   peak heap in use   HeapAlloc (bytes of allocated objects, by size
#                      class, unswept garbage included) at its highest.
#                      heapsim: tasks.peak_heap_bytes, the exact high-water
#                      mark (the collector folds in the value before every
#                      sweep; nothing sampled). The old workaround, the max
#                      with gc_cycles.heap_start_bytes, is gone: that
#                      column is in-use span pages (HeapInuse), another
#                      figure, and the peak no longer needs the help.
#                      Go: /memory/classes/heap/objects (= HeapAlloc, no
#                      stop of the world) sampled by the program every
#                      64 KiB it allocates, before every runtime.GC() and at
#                      the end: within 64 KiB plus the Ps' cached spans of
#                      the true high-water mark (probe.go). Go's count
#                      starts from the runtime's own heap (the row "HeapAlloc
#                      at the start", some 0.1-0.3 MiB); heapsim's heap is
#                      empty when its task starts. Go's HeapInuse peak is
#                      printed for reference only (heapsim has no exact one).
#   marked heap, heap goal per paced cycle (means): heapsim
#                      gc_cycles.heap_live_bytes and the goal the cycle ran
#                      against (the previous row's heap_goal_bytes); Go
#                      gctrace's live heap (whole MiB, floored; "<1MiB"
#                      when the mean is below one) and the
#                      pacer's goal (gcpacertrace, exact). Go's heap at
#                      trigger / goal shows how early its concurrent mark
#                      starts; heapsim's collection starts at the goal.
#                      heapsim's first goal is Go's heap minimum, 4 MiB *
#                      GOGC/100.
#   stack term of the goal, max: the largest stack scan work of a cycle,
#                      every cycle (forced ones too: each sets the next
#                      goal), each cycle's own scan, which the goal set at
#                      its end counts (lastStackScan). heapsim:
#                      gc_cycles.stack_bytes, the goroutines' depths the
#                      processes reported at the cycle's root scan (the
#                      concurrent collector; the stw one: at the last
#                      cycle's end); Go: gcpacertrace's end-of-cycle line,
#                      "for HEAP+STACK+GLOBALS B work", printed before the
#                      cycle's gctrace line: its stackScanWork. (heapsim's
#                      figure was the previous cycle's until its stacks
#                      were scanned in the mark, and paced cycles only.)
#   MB stacks (gctrace), max: the largest "N MB stacks" of any cycle's
#                      gctrace line, forced ones included: Go 1.19 prints
#                      maxStackScan there, the stack space its goroutines
#                      hold; heapsim: gc_cycles.max_stack_bytes >> 20 (the
#                      same figure, as its gctrace prints it), and the exact
#                      bytes on a row of its own.
#   stack bytes per goroutine (stacks): heapsim's metric
#                      stack_bytes_per_goroutine, the growth of its
#                      Go-modelled StackInuse (2 KiB stacks doubled as Go
#                      1.19 does, sched.h) per goroutine, all at the bottom;
#                      Go: StackInuse growth per goroutine at the same
#                      moment. heapsim's real stack pages
#                      (stack_real_bytes_per_goroutine) and its modelled
#                      copies (stack_growths_per_goroutine) have rows of
#                      their own, heapsim only: Go has no such figure.
#   leaked goroutines, their stack bytes, live heap (leaks): heapsim's
#                      metrics leaked_goroutines, leaked_stack_bytes
#                      (Go-modelled StackInuse growth), live_bytes_end
#                      (marked by the kernel's collection),
#                      goroutines_alive_at_exit; Go: the same moments,
#                      StackInuse growth, HeapAlloc after runtime.GC(),
#                      NumGoroutine() - 1 as main returns. The real stack
#                      pages (leaked_stack_real_bytes) on a row of their own.
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lessons=()
scale=1
depths=""
keep=""
collectors=()
reps=1
while [ $# -gt 0 ]; do
    case "$1" in
    --lesson) lessons+=("${2:?--lesson needs a name}"); shift 2 ;;
    --quick) scale=10; shift ;;
    --scale) scale="${2:?--scale needs a number}"; shift 2 ;;
    --depths) depths="${2:?--depths needs depths}"; shift 2 ;;
    --keep) keep="${2:?--keep needs a directory}"; shift 2 ;;
    --collector) collectors+=("${2:?--collector needs a name}"); shift 2 ;;
    --repeat) reps="${2:?--repeat needs a number}"; shift 2 ;;
    -h | --help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fidelity: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$scale" in '' | *[!0-9]* | 0) echo "fidelity: --scale needs a positive integer" >&2; exit 2 ;; esac
case "$reps" in '' | *[!0-9]* | 0) echo "fidelity: --repeat needs a positive integer" >&2; exit 2 ;; esac
[ ${#collectors[@]} -gt 0 ] || collectors=(concurrent stw)
for c in "${collectors[@]}"; do
    case "$c" in concurrent | stw) ;; *) echo "fidelity: no collector '$c' (concurrent, stw)" >&2; exit 2 ;; esac
done
[ -n "$depths" ] || { [ "$scale" -gt 1 ] && depths="14 16" || depths="16 18"; }
[ ${#lessons[@]} -gt 0 ] || lessons=(binary-trees gc-pacing stacks leaks channels copying pool)
for l in "${lessons[@]}"; do
    [ "$l" = binary-trees ] || [ -f "$root/scenarios/lessons/$l.yaml" ] ||
        { echo "fidelity: no lesson '$l' (scenarios/lessons/$l.yaml)" >&2; exit 2; }
done
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null

work="$(mktemp -d "${TMPDIR:-/tmp}/fidelity.XXXXXX")"
if [ -n "$keep" ]; then mkdir -p "$keep"; work="$(cd "$keep" && pwd)"; else trap 'rm -rf "$work"' EXIT; fi
gobin="$out/go-fidelity"
(cd "$root/bench/go/fidelity" && GOFLAGS=-mod=mod go build -o "$gobin" .)

# Count parameters divided by --scale (never below 1).
scaled_keys='["objects","requests","items","goroutines"]'

# ratio A B: A/B with two decimals, "-" when either is missing or B is 0.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || a == "null" || b == "null" || b + 0 == 0) { print "-"; exit }
        printf "%.2f\n", a / b }'
}

# row FIGURE HEAPSIM GO
row() {
    printf '  %-34s %16s %16s %10s\n' "$1" "${2:--}" "${3:--}" "$(ratio "$2" "$3")"
}

# go_paced FILE: from Go's GODEBUG=gctrace=1,gcpacertrace=1 output, over
# the paced cycles, "mean_marked mean_goal mean_trigger/goal max_stack"
# (empty when none). Marked: gctrace's third heap figure (whole MiB, floored: up to
# 1 MiB low). Goal and trigger: the end-of-cycle pacer line, exact bytes,
#   pacer: ... in TRIGGERED B -> LIVE B (∆goal LIVE-GOAL, cons/mark ...)
# (forced cycles have no trigger and are skipped). Stack: the largest
# stack scan work of a cycle, "for HEAP+STACK+GLOBALS B work", forced
# cycles included (the cycle's own stackScanWork, printed at its end: Go's
# lastStackScan for the next goal).
go_paced() {
    awk '
    /^gc [0-9]+ @/ && !/\(forced\)/ {
        if (match($0, /[0-9]+->[0-9]+->[0-9]+ MB/)) {
            split(substr($0, RSTART, RLENGTH - 3), h, "->"); marked += h[3] * 1048576; nm++ } }
    /^pacer: .* in [0-9]+ B -> [0-9]+ B/ {
        if (match($0, / in [0-9]+ B -> [0-9]+ B \([^ ]*goal -?[0-9]+/)) {
            split(substr($0, RSTART + 1, RLENGTH - 1), f, / +/)
            t = f[2]; l = f[5]; d = f[8]
            if (t + 0 < 1e18 && l - d > 0) { goal += l - d; ratio += t / (l - d); ng++ } }
        if (match($0, /for [0-9]+\+[0-9]+\+[0-9]+ B work/)) {
            split(substr($0, RSTART + 4, RLENGTH - 11), w, "+")
            if (w[2] + 0 > stack) stack = w[2] + 0 } }
    END {
        if (nm == 0 && ng == 0) exit
        printf "%s %s %s %s\n", nm ? (marked / nm < 1048576 ? "<1MiB" : sprintf("%.0f", marked / nm)) : "-",
            ng ? sprintf("%.0f", goal / ng) : "-", ng ? sprintf("%.2f", ratio / ng) : "-",
            ng ? sprintf("%.0f", stack) : "-" }' "$1"
}

# go_mb_stacks FILE: the largest "N MB stacks" of Go's gctrace lines in
# FILE (every cycle, forced ones included), empty when there is none.
go_mb_stacks() {
    awk '/^gc [0-9]+ @/ && match($0, /, [0-9]+ MB stacks,/) {
        v = substr($0, RSTART + 2, RLENGTH - 13) + 0; n++; if (v > max) max = v }
        END { if (n) print max + 0 }' "$1"
}

# point_yaml FILE NAME N TASK_JSON PARAMS KERNEL GOGC: the scenario of one
# point: that one task, alone on its heap, with the task's runtime settings.
point_yaml() {
    local file="$1" name="$2" n="$3" task="$4" params="$5" kernel="$6" gogc="$7"
    {
        echo "# bench/fidelity.sh: one point of $name, alone on its heap"
        echo "name: fidelity-$n"
        printf 'runtime: {gogc: %s' "$( [ "$gogc" -lt 0 ] && echo off || echo "$gogc")"
        # Sizes as bytes; the timer resolution (ns in the JSON) as a duration,
        # written even when 0 (exact timers), which is not the default.
        jq -r '.runtime | to_entries[]
               | select(.key != "gogc" and (.value != 0 or .key == "timer_resolution"))
               | if .key == "timer_resolution"
                 then ", \(.key): \(if .value == 0 then "0" else "\(.value / 1000000)ms" end)"
                 else ", \(.key): \(.value)" end' <<<"$task" | tr -d '\n'
        echo "}"
        printf 'task: {kernel: %s' "$kernel"
        jq -r 'to_entries[] | ", \(.key): \(.value)"' <<<"$params" | tr -d '\n'
        echo "}"
        echo "repeat: 1"
    } >"$file"
}

# hs_figures DB: "gc_cycles peak_heap_bytes" of the one task in DB, "- -"
# when it did not end well.
hs_figures() {
    local f
    f=$(sqlite3 -separator ' ' "$1" "select gc_cycles, peak_heap_bytes from tasks where status = 'done'" 2>/dev/null || true)
    echo "${f:--  -}"
}

# The summary's lines: "POINT|FIGURE|LOW|HIGH|go|c1|c2..." (LOW/HIGH: the
# target's bounds on the first collector's ratio, empty when none).
summary=()

# point NAME TASK_JSON: run one task (an element of `heapsim check --json`'s
# tasks) on heapsim, alone on a fresh heap, and in Go; print its table.
point() {
    local name="$1" task="$2" n kernel params gogc yaml db rc run tid seed gorc
    n=$(( ${n_points:-0} + 1 )); n_points=$n
    kernel=$(jq -r .kernel <<<"$task")
    params=$(jq -c --argjson keys "$scaled_keys" --argjson s "$scale" '.params
        | with_entries(if (.key as $k | $keys | index($k)) and (.value | type) == "number"
                       then .value = ([(.value / $s | floor), 1] | max) else . end)' <<<"$task")
    gogc=$(jq -r '.runtime.gogc' <<<"$task")
    yaml="$work/point-$n.yaml"
    db="$work/point-$n.db"
    # Every collector, every repeat; the first collector's first run is the
    # point's heapsim column (point-N.*), the others point-N-COLLECTOR-R.*.
    local c r f ci xyaml xdb xrc
    local -A hsf=()     # hsf[c,r] = "gc_cycles peak_heap_bytes"
    for r in $(seq 1 "$reps"); do
        for ci in "${!collectors[@]}"; do
            c="${collectors[$ci]}"
            if [ "$ci" = 0 ] && [ "$r" = 1 ]; then
                xyaml="$yaml"; xdb="$db"; f="$work/point-$n.heapsim.out"
            else
                xyaml="$work/point-$n-$c-$r.yaml"; xdb="$work/point-$n-$c-$r.db"; f="$work/point-$n-$c-$r.heapsim.out"
            fi
            point_yaml "$xyaml" "$name" "$n" "$(jq -c --arg c "$c" '.runtime.collector = $c' <<<"$task")" \
                "$params" "$kernel" "$gogc"
            rm -f "$xdb"
            xrc=0
            "$heapsim" run "$xyaml" --workers 1 --db "$xdb" --quiet >"$f" 2>&1 || xrc=$?
            if [ "$ci" = 0 ] && [ "$r" = 1 ]; then rc=$xrc; fi
            hsf[$c,$r]=$(hs_figures "$xdb")
            [ "$xrc" = 0 ] || hsf[$c,$r]="- -"
        done
    done
    run=$(sqlite3 "$db" "select max(id) from runs" 2>/dev/null || true)
    tid=$(sqlite3 "$db" "select id from tasks where run_id = $run" 2>/dev/null || true)
    seed=$(sqlite3 "$db" "select seed from tasks where id = $tid" 2>/dev/null || echo 1)

    local goargs=() k v
    while IFS=$'\t' read -r k v; do goargs+=("-$k=$v"); done < <(jq -r 'to_entries[] | "\(.key)\t\(.value)"' <<<"$params")
    local -A gof=()     # gof[r] = "gc_cycles peak_heap_alloc_bytes"
    local gsuf xgorc
    for r in $(seq 1 "$reps"); do
        gsuf=""
        [ "$r" = 1 ] || gsuf="-$r"
        xgorc=0
        env GOMAXPROCS="${GO_GOMAXPROCS:-1}" GODEBUG="gctrace=1,gcpacertrace=1${GO_GODEBUG:+,$GO_GODEBUG}" GOGC="$( [ "$gogc" -lt 0 ] && echo off || echo "$gogc")" \
            "$gobin" "$kernel" "${goargs[@]}" -seed="$seed" >"$work/point-$n.go$gsuf.out" 2>"$work/point-$n.go$gsuf.err" || xgorc=$?
        [ "$r" != 1 ] || gorc=$xgorc
        gof[$r]=$(tail -n 1 "$work/point-$n.go$gsuf.out" | jq -r '"\(.gc_cycles // "-") \(.peak_heap_alloc_bytes // "-")"' 2>/dev/null || echo "- -")
        [ "$xgorc" = 0 ] || gof[$r]="- -"
    done
    local gj
    gj=$(tail -n 1 "$work/point-$n.go.out")
    jq -e . >/dev/null 2>&1 <<<"$gj" || gj='{}'

    echo
    echo "== $name: $kernel $(jq -r 'to_entries | map("\(.key)=\(.value)") | join(" ")' <<<"$params") gogc=$gogc"
    if [ "$rc" != 0 ] || [ -z "$tid" ]; then
        echo "  heapsim FAILED (exit $rc): $(tail -n 3 "$work/point-$n.heapsim.out" | tr '\n' ' ')"
        sqlite3 "$db" "select '  heapsim: ' || error from tasks where id = ${tid:-0}" 2>/dev/null || true
    fi
    if [ "$gorc" != 0 ]; then
        echo "  Go FAILED (exit $gorc): $(tail -n 3 "$work/point-$n.go.err" | tr '\n' ' ')"
    fi
    printf '  %-34s %16s %16s %10s\n' figure "heapsim ${collectors[0]}" "go1.19" heapsim/go
    local hs
    hs=$(sqlite3 -json "$db" "select t.gc_cycles, t.alloc_objects, t.alloc_bytes, t.peak_heap_bytes,
            (select coalesce(sum(forced), 0) from gc_cycles where task_id = t.id) as forced,
            t.stack_hwm_bytes, t.goroutines_max
        from tasks t where t.id = ${tid:-0}" 2>/dev/null | jq -c '.[0] // {}')
    [ -n "$hs" ] || hs='{}'
    [ "$rc" = 0 ] || hs='{}'          # a failed task's figures are not figures
    h() { jq -r ".$1 // empty" <<<"$hs"; }
    g() { jq -r ".$1 // empty" <<<"$gj"; }
    m() { [ "$rc" = 0 ] && sqlite3 "$db" "select value from metrics where task_id = ${tid:-0} and name = '$1'" 2>/dev/null; }
    # Paced cycles: heapsim's from gc_cycles, Go's from its traces.
    local hp gp
    # heapsim's gc_cycles.heap_goal_bytes is the goal set for the next
    # cycle; Go's pacer line gives the goal of the cycle itself: compare
    # the goal each cycle ran against (the previous cycle's; first Go's
    # heap minimum, 4 MiB * GOGC/100).
    hp=$(sqlite3 "$db" "select printf('%.0f %.0f - %d', avg(heap_live_bytes), avg(goal), max(stack_all)) from
            (select heap_live_bytes, forced,
                    max(stack_bytes) over () as stack_all,
                    lag(heap_goal_bytes, 1, 4194304 * max($gogc, 0) / 100) over (order by cycle) as goal
             from gc_cycles where task_id = ${tid:-0}) where forced = 0 having count(*) > 0" 2>/dev/null || true)
    gp=$(go_paced "$work/point-$n.go.err")
    [ "$rc" = 0 ] || hp=""
    [ "$gorc" = 0 ] || { gp=""; gj='{}'; }
    row "gc cycles (all)" "$(h gc_cycles)" "$(g gc_cycles)"
    row "  of them forced" "$(h forced)" "$(g gc_forced)"
    row "objects allocated" "$(h alloc_objects)" "$(g alloc_objects)"
    row "bytes allocated" "$(h alloc_bytes)" "$(g alloc_bytes)"
    row "peak heap in use (HeapAlloc, B)" "$(h peak_heap_bytes)" "$(g peak_heap_alloc_bytes)"
    for c in "${collectors[@]:1}"; do
        row "  heapsim $c: gc cycles" "$(cut -d' ' -f1 <<<"${hsf[$c,1]}")" "$(g gc_cycles)"
        row "  heapsim $c: peak heap (B)" "$(cut -d' ' -f2 <<<"${hsf[$c,1]}")" "$(g peak_heap_alloc_bytes)"
    done
    row "  Go: HeapAlloc at the start (B)" "" "$(g heap_alloc_start_bytes)"
    row "  Go: peak HeapInuse (B)" "" "$(g peak_heap_inuse_bytes)"
    row "marked heap per paced cycle (B)" "$(cut -d' ' -f1 <<<"$hp")" "$(cut -d' ' -f1 <<<"$gp")"
    row "heap goal per paced cycle (B)" "$(cut -d' ' -f2 <<<"$hp")" "$(cut -d' ' -f2 <<<"$gp")"
    row "  Go: heap at trigger / goal" "" "$(cut -d' ' -f3 <<<"$gp")"
    row "stack term of the goal, max (B)" "$(cut -d' ' -f4 <<<"$hp")" "$(cut -d' ' -f4 <<<"$gp")"
    local hms=""
    [ "$rc" = 0 ] && hms=$(sqlite3 "$db" "select max(max_stack_bytes) from gc_cycles
            where task_id = ${tid:-0}" 2>/dev/null)
    row "MB stacks (gctrace), max" "$( [ -n "$hms" ] && echo $((hms >> 20)))" \
        "$( [ "$gorc" = 0 ] && go_mb_stacks "$work/point-$n.go.err")"
    row "  heapsim's max_stack_bytes, max (B)" "$hms" ""
    case "$kernel" in
    stacks)
        row "stack B/goroutine (model/StackInuse)" "$(m stack_bytes_per_goroutine)" "$(g stack_bytes_per_goroutine)"
        row "  heapsim's real stack B/goroutine" "$(m stack_real_bytes_per_goroutine)" ""
        row "  heapsim's stack copies/goroutine" "$(m stack_growths_per_goroutine)" ""
        ;;
    leak)
        row "live heap after the loop (B)" "$(m live_bytes_end)" "$(g live_bytes_end)"
        row "retained objects" "$(m retained_objects)" "$(g retained_objects)"
        if [ "$(jq -r .mode <<<"$params")" = goroutines ]; then
            local hl gl
            hl=$(m leaked_goroutines); gl=$(g leaked_goroutines)
            row "leaked goroutines" "$hl" "$gl"
            row "their stack B (model/StackInuse)" "$(m leaked_stack_bytes)" "$(g leaked_stack_bytes)"
            row "  per leaked goroutine" \
                "$(awk -v s="$(m leaked_stack_bytes)" -v n="$hl" 'BEGIN{if (n > 0) printf "%.0f", s / n}')" \
                "$(awk -v s="$(g leaked_stack_bytes)" -v n="$gl" 'BEGIN{if (n > 0) printf "%.0f", s / n}')"
            row "  heapsim's real stack B of them" "$(m leaked_stack_real_bytes)" ""
            local ha ga
            ha=$(m goroutines_alive_at_exit); ga=$(g goroutines_end)
            [ -n "$ha" ] || [ "$rc" != 0 ] || ha=0
            [ -z "$ga" ] || ga=$((ga - 1))
            row "alive when main returned" "$ha" "$ga"
        fi
        ;;
    pool | request_server)
        row "buffers allocated new" "$(m buffers_new)" "$(g buffers_new)"
        ;;
    esac

    # The summary's two figures, medians over the repeats.
    local label lo_c="" hi_c="" lo_p="" hi_p="" k line
    case "$kernel" in
    binary_trees) label="$name"; lo_c=0.75; hi_c=1.25 ;;
    *) label="$name $kernel $(jq -r '.label // ""' <<<"$task")" ;;
    esac
    if [ "$name" = gc-pacing ]; then lo_c=0.85; hi_c=1.15; lo_p=0.85; hi_p=1.15; fi
    for k in 1 2; do
        if [ "$k" = 1 ]; then line="$label|gc cycles|$lo_c|$hi_c"; else line="$label|peak heap (MiB)|$lo_p|$hi_p"; fi
        line+="|$(for r in $(seq 1 "$reps"); do cut -d' ' -f"$k" <<<"${gof[$r]}"; done | median)"
        for c in "${collectors[@]}"; do
            line+="|$(for r in $(seq 1 "$reps"); do cut -d' ' -f"$k" <<<"${hsf[$c,$r]}"; done | median)"
        done
        summary+=("$line")
    done
}

echo "bench/fidelity.sh: heapsim $(git -C "$root" rev-parse --short HEAD 2>/dev/null) vs $(go version | cut -d' ' -f3)," \
     "GOMAXPROCS=${GO_GOMAXPROCS:-1}${GO_GODEBUG:+ GODEBUG=$GO_GODEBUG}, counts / $scale, $(date -u '+%Y-%m-%d %H:%M UTC')"
for l in "${lessons[@]}"; do
    if [ "$l" = binary-trees ]; then
        for d in $depths; do
            task=$("$heapsim" check "$root/scenarios/binary-trees.yaml" --set "depth=$d" --json | jq -c '.tasks[0]')
            point "binary-trees $d" "$task"
            # The kernel's output against Go's (the reference output).
            rm -f "$work/bt.heapsim"
            sqlite3 "$work/point-$n_points.db" \
                "select writefile('$work/bt.heapsim', output) from tasks" >/dev/null 2>&1 || true
            head -n -1 "$work/point-$n_points.go.out" >"$work/bt.go"
            if cmp -s "$work/bt.heapsim" "$work/bt.go"; then
                echo "  output: heapsim's equals Go's"
            else
                echo "  output: DIFFERENT (see $work/bt.heapsim, $work/bt.go with --keep)"
            fi
        done
        continue
    fi
    while IFS= read -r task; do
        point "$l" "$task"
    done < <("$heapsim" check "$root/scenarios/lessons/$l.yaml" --json | jq -c '.tasks[] | select(.repeat_index == 0)')
done
echo
echo "(peak heap in use: heapsim the exact high-water mark of HeapAlloc, Go HeapAlloc sampled"
echo " every 64 KiB allocated; see the script's header)"

echo
echo "== summary: medians over $reps run(s) per side; targets held to ${collectors[0]} (issue #10)"
hdr=$(printf '%-42s %-16s %9s' point figure go1.19)
for c in "${collectors[@]}"; do hdr+=$(printf ' %11s' "$c"); done
for c in "${collectors[@]}"; do hdr+=$(printf ' %8s' "${c:0:4}/go"); done
echo "$hdr   target"
for line in "${summary[@]}"; do
    IFS='|' read -r -a f <<<"$line"
    mib() { awk -v v="$1" 'BEGIN { if (v == "" || v == "-") print "-"; else printf "%.2f\n", v / 1048576 }'; }
    conv() { if [ "${f[1]}" = "gc cycles" ]; then echo "$1"; else mib "$1"; fi; }
    out_line=$(printf '%-42s %-16s %9s' "${f[0]}" "${f[1]}" "$(conv "${f[4]}")")
    for i in "${!collectors[@]}"; do out_line+=$(printf ' %11s' "$(conv "${f[$((5 + i))]}")"); done
    for i in "${!collectors[@]}"; do out_line+=$(printf ' %8s' "$(ratio "${f[$((5 + i))]}" "${f[4]}")"); done
    if [ -n "${f[2]}" ]; then
        out_line+="   ${f[2]}..${f[3]}: $(within "$(ratio "${f[5]}" "${f[4]}")" "${f[2]}" "${f[3]}")"
    fi
    echo "$out_line"
done
echo "(anchor: $(go version | cut -d' ' -f3), GOMAXPROCS=${GO_GOMAXPROCS:-1}${GO_GODEBUG:+ GODEBUG=$GO_GODEBUG}; heapsim" \
     "$(git -C "$root" rev-parse --short HEAD 2>/dev/null), counts / $scale, $(nproc) cores, load" \
     "$(cut -d' ' -f1-3 /proc/loadavg) at the end, $(date -u '+%Y-%m-%d %H:%M UTC'))"
