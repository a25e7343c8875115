#!/usr/bin/env bash
# The live view: a coordinator with --metrics-addr, scraped with curl over
# a real socket while its worker runs. Each scrape is checked line by line
# against the exposition format (names valid, # HELP and # TYPE before a
# family's samples, histogram buckets cumulative with +Inf = _count), and
# its figures against what lands in SQLite for that run: the worker's
# gauges are one stored sample row, field for field; its GC counters and
# pause histogram are the first N stored GC cycles of its task. `heapsim
# top --once/--json` reads the same endpoint; `heapsim leaks --live`
# reports on a running run and, at the end, what `heapsim leaks RUN` does.
# Bad addresses are one-line usage errors (exit 2) that write nothing.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

db="$T/h.db"
cat >"$T/churn.yaml" <<'YAML'
name: live-churn
sample_interval: 20ms
task: {kernel: churn, objects: 12000000, live_objects: 20000}
YAML

# ---- Usage errors: one line, exit 2, nothing written ----------------------
one_line_exit2() {   # what, then the command
    local what="$1"; shift
    "$@" >"$T/out" 2>"$T/err"
    expect_eq "$what: exit" "$?" 2
    expect_eq "$what: one line" "$(wc -l <"$T/err")" 1
}
one_line_exit2 "metrics beyond loopback" \
    "$HEAPSIM" run "$T/churn.yaml" --db "$T/no.db" --metrics-addr 0.0.0.0:0
expect_grep "says why" "reachable from other hosts.*--insecure" "$T/err"
check "nothing written" test ! -e "$T/no.db"
one_line_exit2 "metrics address without a port" \
    "$HEAPSIM" coordinator --bind "ipc:///tmp/heapsim-mt-$$-a.sock" "$T/churn.yaml" --db "$T/no.db" \
    --metrics-addr 127.0.0.1
expect_grep "says what it expects" "HOST:PORT" "$T/err"
one_line_exit2 "top without a port" "$HEAPSIM" top 127.0.0.1
one_line_exit2 "top: nobody there" "$HEAPSIM" top 127.0.0.1:1
expect_grep "top says it cannot connect" "cannot connect to 127.0.0.1:1" "$T/err"
one_line_exit2 "leaks --live: no run running" "$HEAPSIM" leaks --live --db "$T/empty.db"

# heapsim run serves them too (its launcher runs the coordinator); a run
# with a metrics endpoint ends as any other.
cat >"$T/tiny.yaml" <<'YAML'
name: tiny
task: {kernel: churn, objects: 10000, live_objects: 100}
YAML
"$HEAPSIM" run "$T/tiny.yaml" --workers 1 --db "$T/tiny.db" --quiet --metrics-addr 127.0.0.1:0 \
    2>"$T/tiny.err"
expect_eq "run --metrics-addr: exit" "$?" 0
expect_grep "run says where its metrics are" "^heapsim: run 1 metrics at http://127.0.0.1:[1-9][0-9]*/metrics$" "$T/tiny.err"

# ---- A coordinator serving metrics; scraped before and during the run -----
# ipc paths are short: not under TEST_TMPDIR.
sock="/tmp/heapsim-mt-$$-$RANDOM.sock"
ep="ipc://$sock"
"$HEAPSIM" coordinator --bind "$ep" "$T/churn.yaml" --db "$db" --metrics-addr 127.0.0.1:0 \
    >/dev/null 2>"$T/coord.err" &
coord=$!
url=""
for _ in $(seq 1 300); do
    url="$(grep -o 'http://127\.0\.0\.1:[0-9]*/metrics' "$T/coord.err" | head -1)"
    [ -n "$url" ] && break
    sleep 0.1
done
check "the coordinator says where its metrics are" test -n "$url"
addr="${url#http://}"; addr="${addr%/metrics}"

# The exposition format, line by line; prints "name{labels} value" lines
# of the samples it accepted, and exits 1 at the first line that is wrong.
validate() {
    awk '
    function bad(why) { printf "line %d: %s: %s\n", NR, why, $0 > "/dev/stderr"; failed = 1; exit 1 }
    /^# HELP / { if ($3 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) bad("bad name in HELP");
                 if ($3 in help) bad("HELP twice"); help[$3] = 1; next }
    /^# TYPE / { if ($3 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) bad("bad name in TYPE");
                 if ($3 in type) bad("TYPE twice");
                 if ($4 !~ /^(counter|gauge|histogram|summary|untyped)$/ || NF != 4) bad("bad type");
                 if (!($3 in help)) bad("TYPE before HELP");
                 type[$3] = $4; next }
    /^#/ { next }
    /^$/ { next }
    {
        if (!match($0, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) bad("bad metric name");
        name = substr($0, 1, RLENGTH); rest = substr($0, RLENGTH + 1)
        fam = name
        if (!(fam in type)) { fam = name; sub(/_(bucket|sum|count)$/, "", fam) }
        if (!(fam in type)) bad("sample before its TYPE")
        if (fam != name && type[fam] != "histogram" && type[fam] != "summary") bad("suffix on a " type[fam])
        if (substr(rest, 1, 1) == "{") {
            if (!match(rest, /^\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\}/)) bad("bad labels")
            labels = substr(rest, 1, RLENGTH); rest = substr(rest, RLENGTH + 1)
        } else labels = ""
        if (rest !~ /^ ([-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[-+]Inf)$/) bad("bad value")
        value = substr(rest, 2)
        if (type[fam] == "counter" && value + 0 < 0) bad("negative counter")
        if (name ~ /_bucket$/) {
            key = labels; sub(/,le="[^"]*"/, "", key)
            if (key in lastbucket && value + 0 < lastbucket[key]) bad("buckets not cumulative")
            lastbucket[key] = value + 0
            if (labels ~ /le="\+Inf"/) inf[key] = value + 0
        }
        if (name ~ /_count$/ && type[fam] == "histogram") { key = labels; count[key] = value + 0 }
        print name labels " " value
    }
    END {
        if (failed) exit 1
        for (k in count) if (!(k in inf) || inf[k] != count[k]) { print "+Inf bucket != _count for " k > "/dev/stderr"; exit 1 }
    }'
}

# Before any worker: the run's tasks queued, no worker.
curl -sS --max-time 10 -o "$T/s0.txt" -D "$T/h0.txt" "$url"
expect_eq "scrape before workers: curl" "$?" 0
expect_grep "the exposition's content type" "Content-Type: text/plain; version=0.0.4" "$T/h0.txt"
check "scrape before workers: valid" eval 'validate <"$T/s0.txt" >"$T/v0.txt"'
expect_grep "one task queued" '^heapsim_tasks{run="1",state="queued"} 1$' "$T/v0.txt"
expect_grep "no worker yet" '^heapsim_workers{run="1"} 0$' "$T/v0.txt"

# Other paths and methods.
expect_eq "GET /: 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/")" 404
expect_eq "POST /metrics: 405" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "$url")" 405
big="$(head -c 20000 /dev/zero | tr '\0' a)"
expect_eq "a 20 KB header: 431" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$url")" 431

# A worker joins; scrape until the endpoint shows its task with samples and
# GC cycles (the run takes seconds; bounded, not timed).
"$HEAPSIM" worker --connect "$ep" --name w1 2>"$T/w1.err" &
worker=$!
got=""
for i in $(seq 1 600); do
    curl -sS --max-time 10 -o "$T/s.txt" "$url" 2>/dev/null || break
    if grep -q '^go_gc_cycles_total_gc_cycles_total{run="1",worker="w1",host="[^"]*",task="0"} [1-9]' "$T/s.txt" &&
       grep -q '^go_gc_heap_goal_bytes{run="1",worker="w1"' "$T/s.txt"; then
        got=1
        cp "$T/s.txt" "$T/during.txt"
        break
    fi
    sleep 0.05
done
check "a scrape during the run shows the worker's task with GC cycles" test -n "$got"
"$HEAPSIM" top "$addr" --once >"$T/top.txt" 2>&1
expect_eq "top --once during the run: exit" "$?" 0
"$HEAPSIM" top "http://$addr/metrics" --json >"$T/top.json" 2>&1
expect_eq "top --json during the run: exit" "$?" 0
"$HEAPSIM" leaks --live --once --db "$db" >"$T/leaks_live_during.txt" 2>&1
expect_eq "leaks --live during the run: exit" "$?" 0
wait "$worker"
expect_eq "worker exit" "$?" 0
wait "$coord"
expect_eq "coordinator exit" "$?" 0

check "the scrape during the run is valid" eval 'validate <"$T/during.txt" >"$T/v.txt"'
expect_grep "a running task" '^heapsim_tasks{run="1",state="running"} 1$' "$T/v.txt"
expect_grep "one worker" '^heapsim_workers{run="1"} 1$' "$T/v.txt"
for fam in go_gc_heap_goal_bytes go_memory_classes_heap_objects_bytes \
    go_memory_classes_heap_stacks_bytes go_sched_goroutines_goroutines \
    go_gc_heap_allocs_bytes_total go_gc_heap_allocs_objects_total \
    go_gc_cycles_total_gc_cycles_total go_gc_cycles_forced_gc_cycles_total \
    go_gc_pauses_seconds heapsim_frames_dropped_total; do
    expect_grep "family $fam" "^# TYPE $fam " "$T/during.txt"
done

# The worker's gauges are one stored sample row, field for field.
val() { awk -v n="$1" '{ split($1, a, "{") } a[1] == n && $1 ~ /worker="w1"/ { print $2 }' "$T/v.txt"; }
heap="$(val go_memory_classes_heap_objects_bytes)"; goal="$(val go_gc_heap_goal_bytes)"
gor="$(val go_sched_goroutines_goroutines)"; stacks="$(val go_memory_classes_heap_stacks_bytes)"
ab="$(val go_gc_heap_allocs_bytes_total)"; ao="$(val go_gc_heap_allocs_objects_total)"
check "gauges scraped ($heap $goal $gor $stacks $ab $ao)" test -n "$heap" -a -n "$goal" -a -n "$ab"
expect_eq "a stored sample has exactly the scraped figures" "$(q "$db" "select count(*) from samples s
    join tasks t on s.task_id = t.id where t.run_id = 1 and t.seq = 0 and s.worker = 'w1'
    and s.heap_alloc_bytes = $heap and s.heap_goal_bytes = $goal and s.goroutines = $gor
    and s.stack_inuse_bytes = $stacks and s.alloc_bytes = $ab and s.alloc_objects = $ao")" 1

# GC counters and the pause histogram: the first N stored cycles of the task.
n="$(val go_gc_cycles_total_gc_cycles_total)"
first_n="select g.* from gc_cycles g join tasks t on g.task_id = t.id
    where t.run_id = 1 and t.seq = 0 order by g.cycle limit $n"
expect_eq "cycles 1..N stored" "$(q "$db" "select count(*), min(cycle), max(cycle) from ($first_n)")" "$n|1|$n"
expect_eq "forced cycles" "$(q "$db" "select count(*) from ($first_n) where forced = 1")" \
    "$(val go_gc_cycles_forced_gc_cycles_total)"
expect_eq "pause count" "$(awk '$1 ~ /^go_gc_pauses_seconds_count\{.*worker="w1"/ {print $2}' "$T/v.txt")" "$n"
pause_sum="$(awk '$1 ~ /^go_gc_pauses_seconds_sum\{.*worker="w1"/ {print $2}' "$T/v.txt")"
stored_sum="$(q "$db" "select sum(stw_ns) from ($first_n)")"
check "pause sum $pause_sum s = stored $stored_sum ns" \
    awk -v a="$pause_sum" -v b="$stored_sum" 'BEGIN { d = a * 1e9 - b; exit !(d < 1 && d > -1) }'
for le in 0.0001 0.001 0.01 0.1; do
    expect_eq "pauses <= $le s" \
        "$(awk -v le="le=\"$le\"" 'index($1, "go_gc_pauses_seconds_bucket{") == 1 && index($1, "worker=\"w1\"") && index($1, le) {print $2}' "$T/v.txt")" \
        "$(q "$db" "select count(*) from ($first_n) where stw_ns <= $le * 1e9")"
done

# top read the same endpoint.
expect_grep "top: header" "^heapsim top $addr  run 1" "$T/top.txt"
expect_grep "top: the worker's row" "^w1 .* 0 .*MiB" "$T/top.txt"
j() { q ":memory:" "select json_extract(readfile('$T/top.json'), '$1')"; }
expect_eq "top --json: run" "$(j '$.run_id')" 1
expect_eq "top --json: worker" "$(j '$.workers[0].worker')" w1
expect_eq "top --json: task" "$(j '$.workers[0].task')" 0
check "top --json: goal" test "$(j '$.workers[0].goal_bytes')" -gt 0
check "top --json: GC rate" awk -v r="$(j '$.workers[0].gc_per_s')" 'BEGIN { exit !(r > 0) }'
expect_grep "leaks --live: the running run" "^heapsim leaks --live: run 1 (live-churn), running" \
    "$T/leaks_live_during.txt"

# ---- leaks --live on a leaking run: during it, and its last report ---------
# The worker is stopped (SIGSTOP) as soon as its task has stored a heap
# profile snapshot, so that the live report is taken while the task runs.
cat >"$T/leak.yaml" <<'YAML'
name: live-leak
sample_interval: 10ms
task: {kernel: leak, requests: 2000000, request_bytes: 1KiB, retain_percent: 10}
YAML
sock2="/tmp/heapsim-mt-$$-$RANDOM.sock"
"$HEAPSIM" coordinator --bind "ipc://$sock2" "$T/leak.yaml" --db "$db" --set mem_profile_rate=1 \
    --heartbeat 1000 --misses 60 --json >"$T/run2.json" 2>"$T/coord2.err" &
run2=$!
"$HEAPSIM" leaks --live --db "$db" >"$T/ll0.txt" 2>&1
for _ in $(seq 1 300); do
    grep -q "^heapsim leaks --live: run 2 (live-leak), running" "$T/ll0.txt" && break
    sleep 0.05
    "$HEAPSIM" leaks --live --db "$db" >"$T/ll0.txt" 2>&1
done
expect_grep "leaks --live before any worker" "^no task started yet" "$T/ll0.txt"
"$HEAPSIM" worker --connect "ipc://$sock2" --name w2 2>"$T/w2.err" &
worker2=$!
stopped=""
for _ in $(seq 1 1200); do
    if [ "$(q "$db" "select count(*) from heap_profiles p join tasks t on p.task_id = t.id where t.run_id = 2")" != 0 ]; then
        kill -STOP "$worker2" && stopped=1
        break
    fi
    sleep 0.02
done
check "the worker stopped once its task has a snapshot" test -n "$stopped"
expect_eq "the task still running" "$(q "$db" "select status from tasks where run_id = 2")" running
"$HEAPSIM" leaks --live --db "$db" >"$T/ll.txt" 2>&1
expect_eq "leaks --live during the run: exit" "$?" 0
kill -CONT "$worker2"
expect_grep "leaks --live: the newest running run" "^heapsim leaks --live: run 2 (live-leak), running" "$T/ll.txt"
expect_grep "leaks --live: the running task's snapshots" "^task 0 (running): [1-9][0-9]* heap profile snapshot" "$T/ll.txt"
wait "$worker2"
expect_eq "leak worker exit" "$?" 0
wait "$run2"
expect_eq "leak run exit" "$?" 0
"$HEAPSIM" leaks --live 2 --db "$db" >"$T/ll_end.txt" 2>&1
expect_eq "leaks --live after the end: exit" "$?" 0
"$HEAPSIM" leaks 2 --db "$db" >"$T/l_end.txt" 2>&1
expect_grep "the leak found" "leak.payload" "$T/ll_end.txt"
# The growth table (leaks RUN goes on with why the sites are alive).
sites_table() { sed -n '/SITE (objects in use growing)/,/^$/p' "$1" | grep '^  '; }
expect_eq "the same sites as heapsim leaks RUN" "$(sites_table "$T/ll_end.txt")" "$(sites_table "$T/l_end.txt")"

# ---- The figures under Go's runtime/metrics names in --json (issue 9) ----
# show --json: each name is the stored column docs/metrics.md maps it to.
"$HEAPSIM" show 1 --db "$db" --json >"$T/show1.json"
expect_eq "show 1 --json: exit" "$?" 0
g() { q ":memory:" "select json_extract(readfile('$1'), '\$.tasks[0].runtime_metrics.\"$2\"${3:-}')"; }
task1="(select id from tasks where run_id = 1 and seq = 0)"
expect_eq "/gc/heap/allocs:bytes" "$(g "$T/show1.json" /gc/heap/allocs:bytes)" \
    "$(q "$db" "select alloc_bytes from tasks where id = $task1")"
expect_eq "/gc/heap/allocs:objects" "$(g "$T/show1.json" /gc/heap/allocs:objects)" \
    "$(q "$db" "select alloc_objects from tasks where id = $task1")"
expect_eq "/gc/cycles/total:gc-cycles" "$(g "$T/show1.json" /gc/cycles/total:gc-cycles)" \
    "$(q "$db" "select gc_cycles from tasks where id = $task1")"
expect_eq "/gc/cycles/forced:gc-cycles" "$(g "$T/show1.json" /gc/cycles/forced:gc-cycles)" \
    "$(q "$db" "select count(*) from gc_cycles where task_id = $task1 and forced = 1")"
expect_eq "/gc/heap/goal:bytes: the last cycle's goal" "$(g "$T/show1.json" /gc/heap/goal:bytes)" \
    "$(q "$db" "select heap_goal_bytes from gc_cycles where task_id = $task1 order by cycle desc limit 1")"
last_sample="from samples where task_id = $task1 order by t_ns desc limit 1"
expect_eq "/memory/classes/heap/objects:bytes" "$(g "$T/show1.json" /memory/classes/heap/objects:bytes)" \
    "$(q "$db" "select heap_alloc_bytes $last_sample")"
expect_eq "/sched/goroutines:goroutines" "$(g "$T/show1.json" /sched/goroutines:goroutines)" \
    "$(q "$db" "select goroutines $last_sample")"
expect_eq "/memory/classes/heap/stacks:bytes" "$(g "$T/show1.json" /memory/classes/heap/stacks:bytes)" \
    "$(q "$db" "select stack_inuse_bytes $last_sample")"
expect_eq "/gc/pauses:seconds count" "$(g "$T/show1.json" /gc/pauses:seconds .count)" \
    "$(q "$db" "select count(stw_ns) from gc_cycles where task_id = $task1")"
expect_eq "/gc/pauses:seconds +Inf" "$(g "$T/show1.json" /gc/pauses:seconds '.buckets."+Inf"')" \
    "$(q "$db" "select count(stw_ns) from gc_cycles where task_id = $task1")"
expect_eq "/gc/pauses:seconds <= 10 ms" "$(g "$T/show1.json" /gc/pauses:seconds '.buckets."0.01"')" \
    "$(q "$db" "select count(*) from gc_cycles where task_id = $task1 and stw_ns <= 10000000")"
check "/gc/pauses:seconds sum" awk -v a="$(g "$T/show1.json" /gc/pauses:seconds .sum)" \
    -v b="$(q "$db" "select sum(stw_ns) from gc_cycles where task_id = $task1")" \
    'BEGIN { d = a * 1e9 - b; exit !(d < 1 && d > -1) }'
# run --json (the coordinator's summary) carries the same object as show --json.
"$HEAPSIM" show 2 --db "$db" --json >"$T/show2.json"
rm2="\$.tasks[0].runtime_metrics"
expect_eq "run --json and show --json: the same runtime_metrics" \
    "$(q ":memory:" "select json(json_extract(readfile('$T/run2.json'), '$rm2'))")" \
    "$(q ":memory:" "select json(json_extract(readfile('$T/show2.json'), '$rm2'))")"
check "run --json: runtime_metrics present" test -n "$(q ":memory:" "select json_extract(readfile('$T/run2.json'), '$rm2.\"/gc/heap/allocs:bytes\"')")"

rm -f "$sock" "$sock2" "/tmp/heapsim-mt-$$-a.sock"
check "no heapsim segment left in /dev/shm" no_segments_left
finish
