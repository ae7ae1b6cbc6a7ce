#!/bin/sh
# bench-mswatch.sh — the coordinator's memory and throughput.
#
#   sh tests/bench/bench-mswatch.sh [BUILD_DIR]
#
# 1. RSS of mswatch with two idle watchers after start-up (target ≤ 6 MB).
# 2. Throughput: one watcher writes LINES change lines (NAMES distinct
#    mailbox names, cycled) as fast as it can.  A pipe holds only 64 KiB, so
#    the writer finishes only when mswatch has read all but the last 64 KiB:
#    the writer's time is mswatch's absorption time (target ≥ 100,000
#    lines/s).  RSS is read again afterwards: it may grow by the pending set
#    (NAMES names), not with LINES.
# mswatch 1.2, if installed as /usr/bin/mswatch, is measured alongside for
# the RSS figure.
set -eu

build=${1:-build}
build=$(cd "$build" && pwd)
LINES=${LINES:-1000000}
NAMES=${NAMES:-1000}
work=$(mktemp -d "${TMPDIR:-/tmp}/ms-bench.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT

rss_kb () { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

wait_for () { # FILE PATTERN
  i=0
  until grep -q -- "$2" "$1" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 400 ] || { echo "timed out waiting for '$2' in $1" >&2; exit 1; }
    sleep 0.05
  done
}

cat > "$work/idle-watcher" <<'W'
#!/bin/sh
echo
exec sleep 100000
W
cat > "$work/flood-watcher" <<W
#!/bin/sh
echo
start=\$(date +%s%N)
awk -v n=$LINES -v k=$NAMES 'BEGIN { for (i = 0; i < n; i++) print "box" (i % k) }'
end=\$(date +%s%N)
echo "\$start \$end" > "$work/flood-times"
exec sleep 100000
W
chmod +x "$work/idle-watcher" "$work/flood-watcher"

run_mswatch () { # BINARY WATCHER_B
  cat > "$work/rc" <<RC
sync true
base_delay 3600
inter_delay 3600
max_delay 3600
store a { watch $work/idle-watcher }
store b { watch $2 }
RC
  "$1" -c "$work/rc" > "$work/out" 2>&1 &
  pid=$!
  wait_for "$work/out" "Sync completed.*all mailboxes"
}

echo "== RSS with two idle watchers"
run_mswatch "$build/mswatch" "$work/idle-watcher"
ng=$(rss_kb $pid)
kill $pid; wait $pid 2>/dev/null || true; pid=""
echo "mswatch-ng: ${ng} kB"
if [ -x /usr/bin/mswatch ]; then
  run_mswatch /usr/bin/mswatch "$work/idle-watcher"
  old=$(rss_kb $pid)
  kill $pid; wait $pid 2>/dev/null || true; pid=""
  echo "mswatch 1.2: ${old} kB (ratio $(awk -v a="$ng" -v b="$old" 'BEGIN { printf "%.2f", a / b }'))"
fi

echo "== Throughput: $LINES lines, $NAMES distinct names"
rm -f "$work/flood-times"
run_mswatch "$build/mswatch" "$work/flood-watcher"
before=$(rss_kb $pid)
i=0; until [ -s "$work/flood-times" ]; do i=$((i + 1)); [ $i -lt 1200 ] || exit 1; sleep 0.05; done
after=$(rss_kb $pid)
kill -USR1 $pid
wait_for "$work/out" "Pending mailboxes"
pending=$(grep -A2 "Pending mailboxes" "$work/out" | awk -F: '/\tb:/ { print NF ? split($2, x, " ") : 0 }')
kill $pid; wait $pid 2>/dev/null || true; pid=""
read -r start end < "$work/flood-times"
ms=$(( (end - start) / 1000000 ))
echo "absorbed in ${ms} ms: $(awk -v n="$LINES" -v ms="$ms" 'BEGIN { printf "%.0f", n / (ms / 1000.0) }') lines/s"
echo "pending names reported: ${pending} (expected $NAMES)"
echo "RSS before ${before} kB, after ${after} kB"
