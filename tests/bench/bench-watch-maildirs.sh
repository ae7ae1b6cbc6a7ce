#!/bin/sh
# bench-watch-maildirs.sh — how fast watch_maildirs starts on a big tree, and
# what it costs while it runs.  Run by hand, not by `make check`:
#
#   sh tests/bench/bench-watch-maildirs.sh [BUILD_DIR]
#
# For a Maildir++ tree of FOLDERS folders (default 10,000; target: ready in
# under 2 s) and a verbatim tree of the same size (100 directories of 100
# folders each), RUNS times each (default 5), it reports:
#   - the time from starting watch_maildirs to its start newline (median and
#     worst), read through a FIFO, so it includes the process start;
#   - VmRSS once ready, from /proc/PID/status;
#   - the inotify watches it holds, from /proc/PID/fdinfo;
#   - the time to report BURST (default 10,000) new messages in one folder:
#     from the first file created to the last line read.
# If inotifywait (inotify-tools) is installed, the time it takes to set up
# its recursive watch on the same Maildir++ tree is printed alongside.
set -eu

build=${1:-build}
build=$(cd "$build" && pwd)
WM=$build/watch_maildirs
FOLDERS=${FOLDERS:-10000}
RUNS=${RUNS:-5}
BURST=${BURST:-10000}
[ -x "$WM" ] || { echo "no $WM: build first" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ms-bench-wm.XXXXXX")
pid=""
cleanup () {
  exec 3>&- 2>/dev/null || :
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now_us () { echo $(( $(date +%s%N) / 1000 )); }
ms () { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }
median () { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
worst () { sort -n | tail -n 1; }

limit=$(cat /proc/sys/fs/inotify/max_user_watches 2>/dev/null || echo 0)
need=$((3 * FOLDERS + 3))
if [ "$limit" -lt "$need" ]; then
  echo "fs.inotify.max_user_watches is $limit; $need are needed (sysctl -w to raise it)" >&2
  exit 1
fi

echo "creating trees with $FOLDERS folders..."
pp=$work/pp
mkdir -p "$pp/cur" "$pp/new" "$pp/tmp"
(cd "$pp" && seq -f '.folder%05g' 1 "$FOLDERS" |
   awk '{ print $0 "/cur"; print $0 "/new"; print $0 "/tmp" }' | xargs mkdir -p)
vb=$work/vb
mkdir -p "$vb/cur" "$vb/new" "$vb/tmp"
(cd "$vb" && seq 0 $((FOLDERS - 1)) |
   awk '{ d = sprintf("group%03d/box%03d", int($1 / 100), $1 % 100);
          print d "/cur"; print d "/new"; print d "/tmp" }' | xargs mkdir -p)

mkfifo "$work/fifo"

# start LAYOUT DIR: starts watch_maildirs on DIR with its stdout on fd 3 (a
# FIFO we keep open, so that it does not see its reader go) and waits for
# the start newline; sets pid and START_US.
start () {
  exec 3<> "$work/fifo"
  t0=$(now_us)
  "$WM" --layout="$1" -m "$2" > "$work/fifo" 2> "$work/err" 3>&- &
  pid=$!
  head -c 1 <&3 > /dev/null
  START_US=$(( $(now_us) - t0 ))
}

stop () {
  exec 3>&-
  wait "$pid" 2>/dev/null || :
  pid=""
}

watches () { # PID: inotify watches held
  cat /proc/"$1"/fdinfo/* 2>/dev/null | grep -c '^inotify wd:' || :
}

rss_kb () { awk '/^VmRSS/ { print $2 }' /proc/"$1"/status; }

bench_start () { # LAYOUT DIR
  : > "$work/times"
  for _ in $(seq 1 "$RUNS"); do
    start "$1" "$2"
    echo "$START_US" >> "$work/times"
    RSS=$(rss_kb "$pid")
    WATCHES=$(watches "$pid")
    stop
  done
  printf '%-10s ready: median %s ms, worst %s ms; RSS %s kB; %s watches\n' "$1" \
    "$(ms "$(median < "$work/times")")" "$(ms "$(worst < "$work/times")")" "$RSS" "$WATCHES"
}

bench_start maildir++ "$pp"
bench_start verbatim "$vb"

# Burst: BURST messages created in one folder while we read the lines.
start maildir++ "$pp"
t0=$(now_us)
(cd "$pp/.folder00001/new" && seq -f 'm%g' 1 "$BURST" | xargs touch)
head -n "$BURST" <&3 > "$work/burst"
t1=$(now_us)
got=$(grep -cx 'folder00001' "$work/burst" || :)
printf 'burst:     %s messages created and reported in %s ms (%s lines); RSS %s kB after\n' \
  "$BURST" "$(ms $((t1 - t0)))" "$got" "$(rss_kb "$pid")"
stop

if command -v inotifywait > /dev/null 2>&1; then
  mkfifo "$work/iw-fifo"
  : > "$work/times"
  for _ in $(seq 1 "$RUNS"); do
    t0=$(now_us)
    inotifywait -m -r -e create,delete,move "$pp" > /dev/null 2> "$work/iw-fifo" &
    iw=$!
    grep -q -m 1 'Watches established' < "$work/iw-fifo"
    echo $(( $(now_us) - t0 )) >> "$work/times"
    n=$(watches "$iw")
    kill "$iw"; wait "$iw" 2>/dev/null || :
  done
  printf 'inotifywait -r (reference, %s watches): median %s ms\n' "$n" \
    "$(ms "$(median < "$work/times")")"
fi
