#!/usr/bin/env bash
# Every lesson in scenarios/lessons/ runs -- made smaller with --set where
# the full one takes long -- on one worker, and shows the direction its
# lesson teaches, read from the points (per sweep point: mean, min, max
# over the repeats) of `heapsim show --json`. A direction must hold for
# every repeat: the worst repeat of the better side beats the best of the
# worse side (max < min). Speeds (start-up time, items per second,
# latency) are not checked here: the machines that run tests are shared
# and noisy; the README's lesson table and bench/ measure them.
#
#   gc-pacing  a higher GOGC: fewer cycles and a bigger peak heap
#   stacks     a goroutine's stack against a thread's
#   leaks      leaking (table or goroutines): the live heap grows with the
#              requests; releasing: it stays flat
#   channels   a buffer: consumers blocked less
#   copying    by pointer: fewer allocations and bytes than by value
#   pool       with the pool: fewer allocations, bytes and cycles
#   profiling  the leak grows the live heap (evict: flat), and the heap
#              profile's top in-use site is the leak's, while most bytes
#              are allocated elsewhere
#
# A lesson file this test does not know fails it.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

L="$REF/scenarios/lessons"
known="channels copying gc-pacing leaks pool profiling stacks"

for f in "$L"/*.yaml; do
    n="$(basename "$f" .yaml)"
    case " $known " in
        *" $n "*) pass ;;
        *) fail "lesson $n has no direction checked here" ;;
    esac
done

# lesson NAME TAG [--set k=v]...: run it into its own database, keep the
# show --json of the run as $T/TAG.json, and check every task is done.
lesson() {
    local name="$1" tag="$2"; shift 2
    local db="$T/$tag.db"
    "$HEAPSIM" run "$L/$name.yaml" --workers 1 --db "$db" "$@" \
        >"$T/$tag.out" 2>"$T/$tag.err"
    local rc=$?
    expect_eq "$tag: run exit status" "$rc" 0
    [ "$rc" = 0 ] || sed 's/^/    /' "$T/$tag.out" "$T/$tag.err" | head -n 30 >&2
    "$HEAPSIM" show 1 --db "$db" --json >"$T/$tag.json"
    expect_eq "$tag: tasks not done" \
        "$(q "$db" "select count(*) from tasks where status != 'done'")" 0
}

# fig TAG KERNEL LABEL PATH: PATH (a JSON path in the point) of the point
# of KERNEL labelled LABEL, e.g. fig pool pool 'pool=true' '$.metrics.allocs.max'
fig() {
    q ":memory:" "select json_extract(value, '$4')
                  from json_each(json(readfile('$T/$1.json')), '\$.points')
                  where json_extract(value, '\$.kernel') = '$2'
                    and json_extract(value, '\$.label') = '$3'"
}

# below "what" A B: A < B, both numbers.
below() {
    if [ -n "$2" ] && [ -n "$3" ] && awk -v a="$2" -v b="$3" 'BEGIN { exit !(a + 0 < b + 0) }'
    then pass; else fail "$1: '$2' is not below '$3'"; fi
}

# better "what" TAG KERNEL LOW_LABEL HIGH_LABEL FIGURE: FIGURE (a path
# below the point, without .min/.max) is lower at LOW_LABEL in every
# repeat than at HIGH_LABEL in any.
better() {
    below "$1" "$(fig "$2" "$3" "$4" "$6.max")" "$(fig "$2" "$3" "$5" "$6.min")"
}

# ---- gc-pacing: 500k objects instead of 3M ------------------------------
lesson gc-pacing gc --set objects=500000
better "GOGC 100 collects less than 25" gc churn gogc=100 gogc=25 '$.gc_cycles'
better "GOGC 400 collects less than 100" gc churn gogc=400 gogc=100 '$.gc_cycles'
better "GOGC 25 keeps a smaller heap than 100" gc churn gogc=25 gogc=100 '$.peak_heap_bytes'
better "GOGC 100 keeps a smaller heap than 400" gc churn gogc=100 gogc=400 '$.peak_heap_bytes'

# ---- stacks: 2000 goroutines (and threads) instead of 10k ----------------
lesson stacks stacks --set goroutines=2000
# Go's stacks: 10 frames fit in a few KiB, below the pages a thread
# touches; 100 frames of 128 B outgrow 16 KiB, so Go gives 32 KiB -- more
# than the pages the thread touches, far below its 8 MiB reservation.
below "depth=10: goroutine stack below a thread's" \
    "$(fig stacks stacks depth=10 '$.metrics.stack_bytes_per_goroutine.max')" \
    "$(fig stacks stacks depth=10 '$.metrics.thread_stack_bytes_per_thread.min')"
for d in depth=10 depth=100; do
    below "$d: goroutine stack far below a thread's reservation" \
        "$(fig stacks stacks $d '$.metrics.stack_bytes_per_goroutine.max')" \
        "$(fig stacks stacks $d '$.metrics.thread_stack_reserve_bytes.min')"
done

# ---- leaks: 10k and 20k requests instead of 200k -------------------------
lesson leaks leaks10 --set requests=10000
lesson leaks leaks20 --set requests=20000
for mode in table goroutines; do
    leak10="$(fig leaks10 leak "mode=$mode release=false" '$.metrics.live_bytes_end.max')"
    leak20="$(fig leaks20 leak "mode=$mode release=false" '$.metrics.live_bytes_end.min')"
    rel10="$(fig leaks10 leak "mode=$mode release=true" '$.metrics.live_bytes_end.max')"
    rel20="$(fig leaks20 leak "mode=$mode release=true" '$.metrics.live_bytes_end.max')"
    # Twice the requests, at least 1.5 times the live heap...
    below "$mode: leaking, the live heap grows with the requests" \
        "$(awk -v a="$leak10" 'BEGIN { print a * 1.5 }')" "$leak20"
    # ...and at least 10 % of 20k requests of 1 KiB are live.
    below "$mode: leaking, the retained requests are live" 2048000 "$leak20"
    # Releasing: flat, and small.
    below "$mode: releasing, the live heap stays flat" "$rel20" \
        "$(awk -v a="$rel10" 'BEGIN { print a + 65536 }')"
    below "$mode: releasing, the live heap stays small" "$rel20" 65536
done
expect_eq "goroutines: 10 % of the handlers leaked a watcher" \
    "$(fig leaks20 leak 'mode=goroutines release=false' '$.metrics.leaked_goroutines.min')" 2000.0
expect_eq "goroutines: releasing, none leaked" \
    "$(fig leaks20 leak 'mode=goroutines release=true' '$.metrics.leaked_goroutines.max')" 0.0
below "goroutines: the leaked watchers hold stack" 0 \
    "$(fig leaks20 leak 'mode=goroutines release=false' '$.metrics.leaked_stack_bytes.min')"
# The pacer's stack term is Go's lastStackScan (the depths the last cycle
# scanned), not StackInuse: 2000 parked watchers scan well under the
# 2 KiB each that Go allocates them, in every cycle.
stack_term="$(q "$T/leaks20.db" "select max(g.stack_bytes) from gc_cycles g
    join tasks t on g.task_id = t.id
    where t.kernel = 'leak' and json_extract(t.params_json, '\$.mode') = 'goroutines'
      and json_extract(t.params_json, '\$.release') = 0")"
below "goroutines: the goal's stack term is what was scanned" 0 "$stack_term"
below "goroutines: the goal's stack term is not StackInuse" "$stack_term" $((2000 * 2048))

# ---- channels: 150 items instead of 800 -----------------------------------
lesson channels channels --set items=150
better "buffer 64: the consumer is blocked less than unbuffered" channels \
    producer_consumer buffer=64 buffer=0 '$.metrics.consumer_blocked_percent'
better "buffer 8: the consumer is blocked less than unbuffered" channels \
    producer_consumer buffer=8 buffer=0 '$.metrics.consumer_blocked_percent'
expect_eq "unbuffered: nothing ever queued" \
    "$(fig channels producer_consumer buffer=0 '$.metrics.max_queued.max')" 0.0
below "buffer 64: items queue (the memory it costs)" 1 \
    "$(fig channels producer_consumer buffer=64 '$.metrics.max_queued.min')"

# ---- copying: 2000 items instead of 20k -----------------------------------
lesson copying copying --set items=2000
better "by pointer: fewer bytes allocated than by value" copying copy_vs_pointer \
    by=pointer by=value '$.metrics.alloc_bytes'
better "by pointer: fewer allocations than by value" copying copy_vs_pointer \
    by=pointer by=value '$.alloc_objects'
better "by pointer: fewer GC cycles than by value" copying copy_vs_pointer \
    by=pointer by=value '$.gc_cycles'
expect_eq "by pointer: nothing copied" \
    "$(fig copying copy_vs_pointer by=pointer '$.metrics.bytes_copied.max')" 0.0

# ---- pool: 3000 requests (request_server at 4000/s) ------------------------
lesson pool pool --set requests=3000 --set rate=4000
for k in pool request_server; do
    better "$k: fewer allocations with the pool" pool $k pool=true pool=false '$.alloc_objects'
    better "$k: fewer bytes allocated with the pool" pool $k pool=true pool=false \
        '$.metrics.alloc_bytes'
    better "$k: fewer GC cycles with the pool" pool $k pool=true pool=false '$.gc_cycles'
done

# ---- profiling: 40k requests instead of 200k, sampled every 64 KiB ---------
# (2,000 leaked sessions are 1.1 MiB: at 512 KiB a sample or two)
lesson profiling prof --set requests=40000 --set mem_profile_rate=64KiB
better "evict: a smaller live heap than the leak" prof sessions evict=true evict=false \
    '$.metrics.live_bytes_end'
expect_eq "the leak keeps every session" \
    "$(fig prof sessions evict=false '$.metrics.sessions_held.min')" 2000.0
"$HEAPSIM" profile 1 --task 0 --db "$T/prof.db" -o "$T/prof.pb.gz" >"$T/prof.txt" 2>&1
expect_eq "profile of the leaking task" "$?" 0
# Rows: inuse_space alloc_space site, by inuse_space.
expect_eq "top in-use site: the leak" "$(awk 'NR == 3 {print $3}' "$T/prof.txt")" \
    sessions.new_session
expect_eq "top allocating site: the bodies" \
    "$(awk 'NR > 2 {sub(/MB/, "", $2); print $2, $3}' "$T/prof.txt" | sort -gr | head -n 1 | cut -d' ' -f2)" \
    sessions.read_body

check "no heapsim segment left in /dev/shm" no_segments_left
finish
