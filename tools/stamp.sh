# shellcheck shell=bash
# tools/stamp.sh -- the state of heapsim's sources as one line (sourced by
# tools/setup and its test, not run).
#
# heapsim_stamp ROOT prints a digest of HEAPSIM_BAZEL_FLAGS and of the
# name, size and modification time (ns) of every file the build may read:
# in a git checkout, the tracked files and the untracked ones git does not
# ignore (a new source file counts, heapsim.db does not); elsewhere, every
# file but .git, bazel-*, databases and the stamp itself. An edit, a new,
# removed or renamed file, or a checkout changes it. It reads no file's
# contents: a few ms for the whole tree.
heapsim_stamp() {
    local root="$1" files
    if [ -e "$root/.git" ] &&
        files="$(git -C "$root" ls-files --cached --others --exclude-standard 2>/dev/null)"; then
        :
    else
        files="$(cd "$root" && find . \( -name .git -o -name 'bazel-*' -o -name '*.db' \
                 -o -name '*.db-*' -o -name '.heapsim-stamp*' \) -prune -o -type f -print)"
    fi
    {
        printf 'flags=%s\n' "${HEAPSIM_BAZEL_FLAGS:-}"
        printf '%s\n' "$files"
        # A tracked file since deleted is not there to stat: its name above
        # and its missing line here still change the digest.
        (cd "$root" && printf '%s\n' "$files" | grep -v '^\(\./\)\?\.heapsim-stamp' |
            xargs -r -d '\n' stat -c '%n %s %.9Y' -- 2>/dev/null)
    } | md5sum | cut -d' ' -f1
}
