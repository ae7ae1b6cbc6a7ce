# bench-lib.sh — the start every Dovecot benchmark shares, sourced with
# BENCH_PROGRAM set to a program it runs: the build directory is the
# script's first argument, else the directory of BENCH_PROGRAM on PATH;
# sets build, top_srcdir and top_builddir, and loads the test libraries.
# (A dot script sees the caller's positional parameters.)

build=${1:-}
if [ -z "$build" ]; then
  build=$(command -v "$BENCH_PROGRAM") && build=$(dirname "$build") || {
    echo "$BENCH_PROGRAM is not on PATH: run from a build directory with PATH=\$PWD:\$PATH" >&2
    exit 1
  }
fi
build=$(cd "$build" && pwd) || exit 1
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
top_builddir=$build
export top_srcdir top_builddir
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/dovecot.sh"
