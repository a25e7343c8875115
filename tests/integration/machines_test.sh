#!/usr/bin/env bash
# Three "machines" in network namespaces of this test's own: a coordinator
# and two worker machines (`heapsim worker --procs 2` each), joined by veth
# pairs, with addresses only inside the namespaces. Machine A is killed
# whole in the middle of the run; the run still completes on machine B.
# Needs root and `ip netns`: where namespaces cannot be made it says so and
# exits 77 (skipped), never 0. tests/run runs it outside Bazel's sandbox.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

id="hs$$"
nc="$id-c" na="$id-a" nb="$id-b"
skip() { echo "SKIPPED: $*"; exit 77; }
teardown() {
    for ns in "$nc" "$na" "$nb"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    cleanup
}
trap teardown EXIT

[ "$(id -u)" = 0 ] || skip "not root"
command -v ip >/dev/null || skip "no ip command"
ip netns add "$nc" 2>/dev/null || skip "cannot make a network namespace here"
ip netns add "$na" && ip netns add "$nb" || skip "cannot make network namespaces"
ip link add "$id-ca" netns "$nc" type veth peer name "$id-ac" netns "$na" &&
ip link add "$id-cb" netns "$nc" type veth peer name "$id-bc" netns "$nb" ||
    skip "cannot make veth pairs"
ip -n "$nc" addr add 10.77.1.1/24 dev "$id-ca"
ip -n "$na" addr add 10.77.1.2/24 dev "$id-ac"
ip -n "$nc" addr add 10.77.2.1/24 dev "$id-cb"
ip -n "$nb" addr add 10.77.2.2/24 dev "$id-bc"
for pair in "$nc $id-ca" "$nc $id-cb" "$na $id-ac" "$nb $id-bc" "$nc lo" "$na lo" "$nb lo"; do
    set -- $pair
    ip -n "$1" link set "$2" up
done
check "machine B has no route to machine A" test -z "$(ip -n "$nb" route get 10.77.1.2 2>/dev/null)"

cat >"$T/m.yaml" <<'YAML'
name: machines
task: {kernel: churn, objects: 3000000, live_objects: 20000}
repeat: 6
YAML
"$HEAPSIM" keygen "$T/keys" >/dev/null
ip netns exec "$nc" "$HEAPSIM" coordinator --bind tcp://0.0.0.0:7878 --keys "$T/keys" \
    --expect-workers 4 "$T/m.yaml" --db "$T/h.db" --quiet 2>"$T/c.err" &
coord=$!
ip netns exec "$na" "$HEAPSIM" worker --connect tcp://10.77.1.1:7878 --keys "$T/keys" \
    --procs 2 --name a 2>"$T/a.err" &
wa=$!
ip netns exec "$nb" "$HEAPSIM" worker --connect tcp://10.77.2.1:7878 --keys "$T/keys" \
    --procs 2 --name b 2>"$T/b.err" &
wb=$!
# Machine A holds a task: then it dies whole.
for i in $(seq 1 300); do
    [ -n "$(q "$T/h.db" "select 1 from tasks where status = 'running' and worker like 'a-%'" 2>/dev/null)" ] && break
    sleep 0.1
done
check "machine A ran a task" test -n "$(q "$T/h.db" "select 1 from tasks where worker like 'a-%'")"
for p in $(ip netns pids "$na"); do kill -9 "$p"; done
wait "$coord"
expect_eq "the run completes without machine A" "$?" 0
wait "$wb"
expect_eq "machine B's workers exit 0" "$?" 0
expect_eq "every task done" "$(q "$T/h.db" "select count(*) from tasks where status = 'done'")" 6
expect_eq "four workers joined" "$(q "$T/h.db" "select count(*) from workers")" 4
expect_grep "machine A's task ran again" "queued again" "$T/c.err"
finish
