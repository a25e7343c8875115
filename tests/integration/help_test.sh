#!/usr/bin/env bash
# `heapsim help` lists every command, and `heapsim COMMAND --help` (or -h)
# prints that command's usage on stdout and exits 0 for every one of them,
# without doing anything else (no database, no run, no worker).
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

commands="run coordinator worker keygen top check kernels runs show compare sql export report profile leaks clean help"

"$HEAPSIM" help >"$T/help.txt" 2>"$T/err.txt"
expect_eq "help: exit status" "$?" 0
expect_eq "help: nothing on stderr" "$(wc -c <"$T/err.txt")" 0
expect_grep "help: usage line" "^usage: heapsim COMMAND" "$T/help.txt"

# Every command is listed, and nothing else is: a command's line in the
# help starts with two spaces and its name.
listed="$(grep -E '^  [a-z]' "$T/help.txt" | awk '{print $1}' | tr '\n' ' ')"
expect_eq "help lists every command" "$listed" "$commands "
for c in $commands; do
    expect_grep "help lists $c" "^  $c\b" "$T/help.txt"
done

# --help and -h: exit 0, the command's usage and summary on stdout, nothing
# on stderr, nothing done. Run from an empty directory, where a database
# would appear if the command ran.
mkdir "$T/cwd"
for c in $commands; do
    for flag in --help -h; do
        (cd "$T/cwd" && "$HEAPSIM" "$c" "$flag" >"$T/out.txt" 2>"$T/err.txt")
        expect_eq "$c $flag: exit status" "$?" 0
        expect_eq "$c $flag: nothing on stderr" "$(wc -c <"$T/err.txt")" 0
        if [ "$c" = help ]; then
            expect_eq "$c $flag: the whole help" "$(cat "$T/out.txt")" "$(cat "$T/help.txt")"
        else
            expect_grep "$c $flag: its usage" "^usage: heapsim $c\b" "$T/out.txt"
            # The summary line of `help` is on the command's page too.
            summary="$(grep -A1 -E "^  $c\b" "$T/help.txt" | sed -E "s/^  $c( [^ ]+)*( {2,}|$)//; s/^ +//" | grep -v '^$' | head -n 1)"
            expect_grep "$c $flag: its summary" "$summary" "$T/out.txt"
        fi
    done
done
check "--help wrote no database" test ! -e "$T/cwd/heapsim.db"
expect_eq "--help left the directory empty" "$(ls -A "$T/cwd")" ""

# Wherever it stands among the arguments.
"$HEAPSIM" show 3 --help >"$T/out.txt" 2>"$T/err.txt"
expect_eq "show 3 --help: exit status" "$?" 0
expect_grep "show 3 --help: usage" "^usage: heapsim show RUN " "$T/out.txt"
"$HEAPSIM" run "$REF/tests/data/small.yaml" --workers 2 -h >"$T/out.txt" 2>"$T/err.txt"
expect_eq "run SCENARIO -h: exit status" "$?" 0
expect_grep "run SCENARIO -h: usage" "^usage: heapsim run SCENARIO" "$T/out.txt"

# heapsim --help / -h: the whole help; no command: the help on stderr, 2.
for flag in --help -h; do
    "$HEAPSIM" "$flag" >"$T/out.txt" 2>/dev/null
    expect_eq "heapsim $flag: exit status" "$?" 0
    expect_eq "heapsim $flag: the help" "$(cat "$T/out.txt")" "$(cat "$T/help.txt")"
done
"$HEAPSIM" >"$T/out.txt" 2>"$T/err.txt"
expect_eq "no command: exit status" "$?" 2
expect_eq "no command: the help on stderr" "$(cat "$T/err.txt")" "$(cat "$T/help.txt")"

# An unknown option is still a usage error.
"$HEAPSIM" run --frobnicate >"$T/out.txt" 2>"$T/err.txt"
expect_eq "run --frobnicate: exit status" "$?" 2
expect_grep "run --frobnicate: message" "unknown option '--frobnicate'" "$T/err.txt"

check "no heapsim segment left in /dev/shm" no_segments_left
finish
