#!/usr/bin/env bash
# bench/multiproc.sh [WORKERS ...] -- four churn tasks
# (scenarios/bench/multiproc.yaml, `heap: shared`) on 1, 2 and 4 worker
# processes sharing one heap, under each heapsim collector, beside Go 1.19
# doing the same work in 4 goroutines of one process (bench/go/churn) at
# GOMAXPROCS=1 and 2 (GO_PROCS), measured in the same run on this machine.
# Go runs each setting twice: its own way (the four tasks at once, four
# live sets at every setting), and heapsim's way (P goroutines taking the
# tasks in turn, as P worker processes do: one live set at a time at 1, two
# at 2), so the summary shows how much of a gap is how the two are run.
#
# Prints per configuration: allocations per second (all tasks' objects over
# the run's wall time: first task start to last task end for heapsim, the
# program's own clock for Go; collections included), the speedup over one
# process (one P for Go), GC count, max and p99 pause, and for heapsim the
# longest wait to stop every process. Then a summary: each collector's
# speedup of 2 processes over 1 beside Go's 2 Ps over 1 (issue #10's
# target: >= 1.7x), and what the shared heap's collections were made of
# (gc_cycles: stop_ns, sweep_ns, the rest; the concurrent mark's wall).
#
# Run by hand. Each configuration runs REPEAT times (default 3), the runs
# interleaved (round r runs every configuration once: a busy spell of a
# shared machine does not land on one configuration); a row is its fastest
# run, and the summary gives the speedup of the fastest runs (best) and of
# the median rates (med). Environment:
#   HEAPSIM=path       that binary instead of building one
#   COLLECTORS="a b"   heapsim collectors (default "concurrent stw"); the
#                      first one is held to the target
#   GO_PROCS="1 2"     Go's GOMAXPROCS values (the first is the base)
#   OBJECTS=N          objects per task (default 10000000, the scenario's)
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

workers=("$@")
[ ${#workers[@]} -gt 0 ] || workers=(1 2 4)
read -r -a go_procs <<<"${GO_PROCS:-1 2}"
read -r -a collectors <<<"${COLLECTORS:-concurrent stw}"
scenario="$root/scenarios/bench/multiproc.yaml"
tasks=4; objects="${OBJECTS:-10000000}"; live=100000; min_bytes=16; max_bytes=512   # as in the scenario
go_build churn go-churn

db="$out/bench.db"
ncpu="$(nproc)"

row() {   # name procs wall alloc/s speedup "count max p99" max_stop
    local n mx p99
    read -r n mx p99 <<<"$6"
    printf '%-32s %5s %8s %10s %7s %6s %8sms %8sms%-1s %9s\n' "$1" "$2" "$3" "$4" "$5" "$n" "$mx" \
        "${p99%\*}" "${p99//[^*]/}" "$7"
}

# rate_of DB RUN: "span_s allocs_per_s" of a heapsim run.
rate_of() {
    sqlite3 -separator ' ' "$1" "
        select printf('%.2f', (max(ended_unix_ns) - min(started_unix_ns)) / 1e9),
               sum(alloc_objects) * 1e9 / (max(ended_unix_ns) - min(started_unix_ns))
        from tasks where run_id = $2 and status = 'done'"
}

declare -A R   # allocations per second: R[best|med,collector,workers], R[best|med,go,procs]
breakdowns=()

# The runs, interleaved: round r runs every configuration once, so that a
# busy spell of the machine falls on all of them alike, not on one.
declare -A RUNS GORATES   # heapsim run ids per [collector,workers]; Go rates per [procs]
for r in $(seq 1 "$repeat"); do
    for c in "${collectors[@]}"; do
        for w in "${workers[@]}"; do
            best_of 1 "$heapsim" run "$scenario" --workers "$w" --set "collector=$c" \
                --set "objects=$objects" --db "$db" --quiet
            RUNS[$c,$w]="${RUNS[$c,$w]:-} $(last_runs "$db" 1)"
        done
    done
    for p in "${go_procs[@]}"; do
        # go: the tasks at once; gosched: P goroutines taking them in turn.
        for mode in go gosched; do
            goworkers=0
            [ "$mode" = go ] || goworkers="$p"
            best_of 1 env GOMAXPROCS="$p" GODEBUG=gctrace=1 "$out/go-churn" \
                "$tasks" "$objects" "$live" "$min_bytes" "$max_bytes" "$goworkers"
            cp "$out/best.out" "$out/$mode-churn-$p-$r.out"
            cp "$out/best.err" "$out/$mode-churn-$p-$r.err"
            GORATES[$mode,$p]="${GORATES[$mode,$p]:-} $(cut -d' ' -f4 "$out/best.out")"
        done
    done
done

printf '%-32s %5s %8s %10s %7s %6s %10s %11s %9s\n' implementation procs wall_s allocs/s speedup gcs \
    max_pause p99_pause max_stop
for c in "${collectors[@]}"; do
    base=""
    for w in "${workers[@]}"; do
        # The fastest run (highest rate) makes the row.
        run=$(for r in ${RUNS[$c,$w]}; do echo "$(rate_of "$db" "$r" | cut -d' ' -f2) $r"; done |
              sort -g | tail -n 1 | cut -d' ' -f2)
        read -r span_s rate < <(rate_of "$db" "$run")
        [ -n "$base" ] || base="$rate"
        R[best,$c,$w]="$rate"
        R[med,$c,$w]=$(for r in ${RUNS[$c,$w]}; do rate_of "$db" "$r" | cut -d' ' -f2; done | median)
        stop=$(sqlite3 "$db" "select printf('%.3fms', max(stop_ns) / 1e6) from gc_cycles where run_id = $run")
        row "heapsim $c --workers $w" "$w" "$span_s" "$(awk "BEGIN{printf \"%.2fM\", $rate / 1e6}")" \
            "$(awk "BEGIN{printf \"%.2fx\", $rate / $base}")" \
            "$(sqlite3 "$db" "select stw_ns from gc_cycles where run_id = $run" | stats)" "$stop"
        breakdowns+=("$(printf '  %-12s --workers %s run %-5s %s' "$c" "$w" "$run" "$(cycle_breakdown "$db" "$run")")")
        breakdowns+=("$(printf '  %-12s %-11s %-9s %s' "" "" "" "$(sqlite3 "$db" "
            select printf('workers'' CPU: user %.2f s, sys %.2f s; minor faults %d; over a span of %.2f s',
                          sum(u) / 1e9, sum(s) / 1e9, sum(f),
                          (select (max(ended_unix_ns) - min(started_unix_ns)) / 1e9 from tasks where run_id = $run))
            from (select max(cpu_user_ns) u, max(cpu_sys_ns) s, max(minor_faults) f
                  from samples where run_id = $run group by worker)")")")
    done
done
for mode in go gosched; do
    gobase=""
    for p in "${go_procs[@]}"; do
        i=$(for r in $(seq 1 "$repeat"); do echo "$(cut -d' ' -f4 "$out/$mode-churn-$p-$r.out") $r"; done |
            sort -g | tail -n 1 | cut -d' ' -f2)
        read -r _ _ wall_ns rate <"$out/$mode-churn-$p-$i.out"
        [ -n "$gobase" ] || gobase="$rate"
        R[best,$mode,$p]="$rate"
        R[med,$mode,$p]=$(tr ' ' '\n' <<<"${GORATES[$mode,$p]}" | median)
        name="go1.19 GOMAXPROCS=$p"
        [ "$mode" = go ] || name="go1.19 GOMAXPROCS=$p, $p at a time"
        row "$name" "$p" "$(awk "BEGIN{printf \"%.2f\", $wall_ns / 1e9}")" \
            "$(awk "BEGIN{printf \"%.2fM\", $rate / 1e6}")" "$(awk "BEGIN{printf \"%.2fx\", $rate / $gobase}")" \
            "$(go_pauses "$out/$mode-churn-$p-$i.err" | stats)" "-"
    done
done
echo "($tasks tasks x $objects objects of $min_bytes..$max_bytes B, $live live each; fastest of $repeat interleaved runs."
echo " This machine has $ncpu cores: $ncpu processes (or Ps) can at best be ${ncpu}x one, and 4 processes"
echo " no more than that. heapsim's gcs and pauses are the shared heap's (one collector stops every"
echo " process); max_stop is the longest wait for every process to reach a safepoint. Go's pause:"
echo " sweep termination + mark termination STW per cycle; * p99 of < 100 pauses is the max."
echo " \"P at a time\": Go run as heapsim's workers run the tasks, P goroutines taking them in turn)"

# The summary: N processes over 1 against Go's N Ps over its first.
echo
echo "== summary: allocation rate, N processes on one heap over 1, beside Go N Ps over ${go_procs[0]} (target for N = 2: >= 1.7x)"
printf '%-34s %10s %10s %10s %10s   %s\n' figure heapsim go1.19 ratio "" "target (${collectors[0]})"
gb="${go_procs[0]}"
for w in "${workers[@]}"; do
    [ "$w" != "${workers[0]}" ] || continue
    for kind in best med; do
        g="" gs=""
        [ -z "${R[$kind,go,$w]:-}" ] || g=$(ratio "${R[$kind,go,$w]}" "${R[$kind,go,$gb]}")
        [ -z "${R[$kind,gosched,$w]:-}" ] ||
            gs=$(ratio "${R[$kind,gosched,$w]}" "${R[$kind,gosched,$gb]}")
        for c in "${collectors[@]}"; do
            h=$(ratio "${R[$kind,$c,$w]}" "${R[$kind,$c,${workers[0]}]}")
            t=""
            [ "$w" != 2 ] || [ "$c" != "${collectors[0]}" ] || t=">= 1.7x: $(verdict "$h" ">=" 1.7)"
            printf '%-34s %10s %10s %10s %10s   %s\n' "$c $w/${workers[0]} procs ($kind)" "${h}x" \
                "${g:--}${g:+x}" "$(ratio "$h" "$g")" "" "$t"
        done
        printf '%-34s %10s %10s %10s %10s   %s\n' "  go, $w at a time/${gb} ($kind)" "" \
            "${gs:--}${gs:+x}" "" "" "(Go run as heapsim's workers run it)"
    done
done
anchor_line "${go_procs[*]}"
echo
echo "== what the shared heap's collections were made of (gc_cycles of each row's run), and the"
echo "   workers' CPU and page faults (their last telemetry samples: cumulative per worker process)"
printf '%s\n' "${breakdowns[@]}"
echo "(stop: waiting for every process to reach a safepoint, both stops; sweep: the eager sweep inside"
echo " the second stop; rest: the first stop's work, mark termination's drain and the pacer -- under"
echo " stw, the whole mark)"
