#!/usr/bin/env bash
# tools/setup skips Bazel and the package query when nothing changed since
# its last build, and builds again when anything did: a source edited, a
# new untracked file, other flags, a binary rebuilt in another
# configuration or removed, a failed build. Bazel cannot run inside a Bazel
# test, so a stand-in `bazel` on PATH records each build and writes a
# binary; a stand-in `dpkg-query` records each query.
lib="${TEST_SRCDIR:-}/${TEST_WORKSPACE:-}/tests/lib.sh"
[ -f "$lib" ] || lib="$(cd "$(dirname "$0")/.." && pwd)/lib.sh"
source "$lib" "$1"

repo="$T/repo"
mkdir -p "$repo/tools" "$repo/src" "$T/bin"
cp "$REF/tools/setup" "$REF/tools/stamp.sh" "$repo/tools/"
chmod +x "$repo/tools/setup"
printf 'int main(void) { return 0; }\n' >"$repo/src/main.c"
printf 'cc_binary(name = "heapsim")\n' >"$repo/src/BUILD"
printf '/bazel-*\nheapsim.db\n/.heapsim-stamp*\n' >"$repo/.gitignore"

cat >"$T/bin/bazel" <<'STUB'
#!/usr/bin/env bash
echo "bazel $*" >>"$STUB_LOG"
[ -e "$STUB_FAIL" ] && { echo "ERROR: it broke" >&2; exit 1; }
mkdir -p bazel-bin/cli
# A new binary, as a real build writes one: a new file, new contents.
rm -f bazel-bin/cli/heapsim
printf '#!/bin/sh\necho built %s\n' "$RANDOM$RANDOM" >bazel-bin/cli/heapsim
chmod +x bazel-bin/cli/heapsim
STUB
cat >"$T/bin/dpkg-query" <<'STUB'
#!/usr/bin/env bash
echo "dpkg-query" >>"$STUB_LOG"
shift 2                                   # -W -f=FORMAT
for p in "$@"; do echo "$p install ok installed"; done
STUB
chmod +x "$T/bin/bazel" "$T/bin/dpkg-query"
export PATH="$T/bin:$PATH" STUB_LOG="$T/calls" STUB_FAIL="$T/fail"
export HOME="$T" GIT_CONFIG_NOSYSTEM=1
unset HEAPSIM_BAZEL_FLAGS HEAPSIM_SKIP_BUILD

# setup_calls WHAT WANT: run tools/setup; WANT is what it called, e.g.
# "dpkg-query bazel" or "" (nothing).
setup_calls() {
    : >"$T/calls"
    "$repo/tools/setup" >"$T/out" 2>&1
    local rc=$? got
    got="$(awk '{print $1}' "$T/calls" | tr '\n' ' ' | sed 's/ $//')"
    expect_eq "$1: exit status" "$rc" "${3:-0}"
    expect_eq "$1: calls" "$got" "$2"
}

git -C "$repo" init -q && git -C "$repo" add -A || fail "git init"

# The stamp itself: the same tree gives the same line, an edit another.
. "$repo/tools/stamp.sh"
s1="$(heapsim_stamp "$repo")"
expect_eq "stamp: stable" "$(heapsim_stamp "$repo")" "$s1"
check "stamp: a digest" test "${#s1}" = 32
echo "// more" >>"$repo/src/main.c"
s2="$(heapsim_stamp "$repo")"
check "stamp: an edit changes it" test "$s2" != "$s1"
touch "$repo/heapsim.db"
expect_eq "stamp: an ignored database does not count" "$(heapsim_stamp "$repo")" "$s2"

setup_calls "first run" "dpkg-query bazel"
check "first run: the binary" test -x "$repo/bazel-bin/cli/heapsim"
check "first run: the stamp" test -s "$repo/.heapsim-stamp"
setup_calls "nothing changed" ""
setup_calls "nothing changed, again" ""

echo "// edit" >>"$repo/src/main.c"
setup_calls "a tracked source edited" "dpkg-query bazel"
setup_calls "after that build" ""

touch -d '2001-01-01 00:00:00' "$repo/src/BUILD"
setup_calls "a BUILD file's time changed" "dpkg-query bazel"

printf 'int f(void);\n' >"$repo/src/new.c"           # untracked, not ignored
setup_calls "a new untracked source" "dpkg-query bazel"
setup_calls "after that build" ""
rm "$repo/src/new.c"
setup_calls "a source removed" "dpkg-query bazel"

HEAPSIM_BAZEL_FLAGS="--copt=-O0" setup_calls "other flags" "dpkg-query bazel"
setup_calls "the flags back" "dpkg-query bazel"

# `bazel test --config=asan` rebuilds the same binary path.
(cd "$repo" && bazel build --config=asan //cli:heapsim) && : >"$T/calls"
setup_calls "the binary rebuilt by someone else" "dpkg-query bazel"
rm -f "$repo/bazel-bin/cli/heapsim"
setup_calls "the binary removed" "dpkg-query bazel"

touch "$T/fail"
echo "// broken" >>"$repo/src/main.c"
setup_calls "a failed build" "dpkg-query bazel" 1
expect_grep "a failed build: says so" "the build failed" "$T/out"
check "a failed build: no stamp" test ! -e "$repo/.heapsim-stamp"
rm "$T/fail"
setup_calls "after a failed build" "dpkg-query bazel"
setup_calls "then nothing changed" ""

HEAPSIM_SKIP_BUILD=1 setup_calls "tests/run: packages only" "dpkg-query"

# Not a git checkout (a tarball): every file counts but bazel-*, .git and
# databases.
rm -rf "$repo/.git"
setup_calls "no git: first run" "dpkg-query bazel"
setup_calls "no git: nothing changed" ""
touch "$repo/heapsim.db"
setup_calls "no git: a database" ""
echo "// edit" >>"$repo/src/main.c"
setup_calls "no git: an edit" "dpkg-query bazel"

finish
