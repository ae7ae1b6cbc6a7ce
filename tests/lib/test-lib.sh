# test-lib.sh — shared by the shell integration tests; source it first.
#
# Gives each test a scratch directory (kept, with its logs, when a test
# fails), TAP output helpers, and wait_until, which polls a condition with a
# deadline: tests wait on events, never sleep for a fixed time.
#
# Daemons started by tests must never write to the test's stdout: a line
# starting with "ok" would be counted by the TAP driver.  Send them to files.

set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
PATH="$top_builddir:$PATH"
export PATH

T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ms-$T_NAME.XXXXXX")
T_N=0
T_FAILED=0
T_CLEANUPS=""

# at_exit CMD: run CMD (a string for eval) when the test ends, newest first.
at_exit () { T_CLEANUPS="$1
$T_CLEANUPS"; }

t_finish () {
  local rc=$?
  local IFS='
'
  for c in $T_CLEANUPS; do eval "$c" >/dev/null 2>&1 || :; done
  if [ "$T_FAILED" -ne 0 ] || [ "$rc" -ne 0 ]; then
    echo "# logs kept in $T_DIR"
  else
    rm -rf "$T_DIR"
  fi
}
trap t_finish EXIT
trap 'exit 1' INT TERM

plan () { echo "1..$1"; }
skip_all () { echo "1..0 # SKIP $*"; exit 0; }

ok () { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok () { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
diag () { printf '%s\n' "$@" | sed 's/^/# /'; }

# check DESC CMD...: one TAP line from the exit status of CMD.
check () {
  local desc=$1; shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# is DESC GOT WANT: string equality, with both shown on failure.
is () {
  if [ "$2" = "$3" ]; then ok "$1"; else
    not_ok "$1"; diag "got:  '$2'" "want: '$3'"
  fi
}

# file_has FILE PATTERN: grep -q with a fixed string.
file_has () { grep -qF -- "$2" "$1" 2>/dev/null; }

# wait_until SECONDS CMD...: run CMD every 50 ms until it succeeds; fails
# (returns 1) when SECONDS pass first.
wait_until () {
  local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
  while :; do
    if "$@"; then return 0; fi
    [ $(( $(date +%s%N) / 1000000 )) -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# count_lines FILE PATTERN: fixed-string matching lines (0 if no file).
count_lines () { grep -cF -- "$2" "$1" 2>/dev/null || true; }

# now_ms: wall clock in milliseconds.
now_ms () { echo $(( $(date +%s%N) / 1000000 )); }
