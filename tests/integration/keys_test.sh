#!/usr/bin/env bash
# CURVE: `heapsim keygen`, a coordinator with --keys accepts the workers
# whose key is on its allow-list and refuses (says and counts) the others;
# binding beyond loopback without keys needs --insecure.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

"$HEAPSIM" keygen "$T/keys" >/dev/null
expect_eq "keygen exit" "$?" 0
for f in coordinator.cert coordinator.cert_secret worker.cert worker.cert_secret workers/worker.cert; do
    check "keygen made $f" test -f "$T/keys/$f"
done
expect_eq "secret key private" "$(stat -c %a "$T/keys/worker.cert_secret")" 600
# An intruder: the coordinator's public key, a worker key of its own.
"$HEAPSIM" keygen "$T/other" >/dev/null
cp "$T/keys/coordinator.cert" "$T/other/coordinator.cert"
rm "$T/other/coordinator.cert_secret"   # else zcert_load reads it first

port=$((20000 + RANDOM % 30000))
ep="tcp://127.0.0.1:$port"
"$HEAPSIM" coordinator --bind "$ep" --keys "$T/keys" "$REF/tests/data/small.yaml" \
    --db "$T/h.db" --quiet 2>"$T/c.err" &
coord=$!
"$HEAPSIM" worker --connect "$ep" --keys "$T/other" --name intruder 2>"$T/i.err" &
intruder=$!
for i in $(seq 1 100); do
    grep -q "refused a worker" "$T/c.err" && break
    sleep 0.1
done
expect_grep "the refused key is said" "refused a worker at .*its key is not allowed" "$T/c.err"
"$HEAPSIM" worker --connect "$ep" --keys "$T/keys" --name good 2>"$T/g.err" &
good=$!
wait "$coord"
expect_eq "coordinator with keys: every task done" "$?" 0
wait "$good"
expect_eq "the allowed worker exits 0" "$?" 0
expect_grep "refusals counted" "workers refused for their keys" "$T/c.err"
expect_eq "only the allowed worker joined" "$(q "$T/h.db" "select group_concat(name) from workers")" good
kill "$intruder" 2>/dev/null
wait "$intruder" 2>/dev/null

# Beyond loopback: keys or --insecure.
"$HEAPSIM" coordinator --bind "tcp://0.0.0.0:$port" "$REF/tests/data/small.yaml" \
    --db "$T/x.db" >/dev/null 2>"$T/e1"
expect_eq "0.0.0.0 without keys: usage error" "$?" 2
expect_grep "0.0.0.0 without keys: said" "insecure" "$T/e1"
check "0.0.0.0 without keys: nothing written" test ! -e "$T/x.db"
"$HEAPSIM" coordinator --bind "tcp://0.0.0.0:$port" --insecure "$T/no-such.yaml" \
    --db "$T/x.db" >/dev/null 2>"$T/e2"
expect_eq "--insecure passes the check (then the scenario is missing)" "$?" 2
check "--insecure: not the endpoint's error" test -z "$(grep insecure "$T/e2")"
"$HEAPSIM" worker --connect "$ep" --keys "$T/none" 2>"$T/e3"
expect_eq "worker with missing keys: usage error" "$?" 2
finish
