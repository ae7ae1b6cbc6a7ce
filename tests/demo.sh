#!/bin/sh
# The demo: installs what is needed, builds, and shows mswatch keeping two
# throwaway Maildirs in step.  Two watch_maildirs watchers report changes;
# mswatch coalesces them and runs tests/demo/maildir-mirror.sh, which copies
# missing messages across.  A message dropped into one Maildir shows up in
# the other, and the time it took is printed.  Everything lives in a
# temporary directory that is removed at the end.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" -eq 0 ]; then sh tests/install-deps.sh; fi
if [ ! -x build/mswatch ] || [ ! -x build/watch_maildirs ]; then
  echo "== building"
  [ -x configure ] || autoreconf -fi >/dev/null
  mkdir -p build
  (cd build && { [ -f Makefile ] || ../configure -q; } && make -s -j"$(nproc)")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mswatch-demo.XXXXXX")
pid="" tailpid=""
cleanup () {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "$tailpid" ] && kill "$tailpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

for side in laptop server; do
  mkdir -p "$work/$side/cur" "$work/$side/new" "$work/$side/tmp" \
           "$work/$side/.lists/cur" "$work/$side/.lists/new" "$work/$side/.lists/tmp"
done

cat > "$work/mswatchrc" <<RC
# Two stores, each watched with watch_maildirs; the sync program mirrors them.
sync sh $top/tests/demo/maildir-mirror.sh $work/laptop $work/server
base_delay 0
inter_delay 1
store laptop {
  watch $top/build/watch_maildirs -m $work/laptop
}
store server {
  watch $top/build/watch_maildirs -m $work/server
}
RC

echo "== mswatch starts (its own output is prefixed with '| ')"
"$top/build/mswatch" -c "$work/mswatchrc" > "$work/log" 2>&1 &
pid=$!
tail -n +1 -f "$work/log" | sed -u 's/^/| /' &
tailpid=$!

# Wait (with a deadline of 10 s) until a path exists, or a line is logged.
await () {
  i=0
  while [ ! -e "$1" ]; do
    i=$((i + 1)); [ $i -le 200 ] || { echo "demo: timed out waiting for $1" >&2; exit 1; }
    sleep 0.05
  done
}
now_ms () { echo $(( $(date +%s%N) / 1000000 )); }
deliver () { # DIR NAME TEXT
  printf 'From: demo@example.org\nSubject: %s\n\n%s\n' "$2" "$3" > "$1/tmp/$2"
  mv "$1/tmp/$2" "$1/new/$2"
}

await_log () {
  i=0
  while ! grep -qE -- "$1" "$work/log"; do
    i=$((i + 1)); [ $i -le 200 ] || { echo "demo: timed out waiting for '$1'" >&2; exit 1; }
    sleep 0.05
  done
}

# The startup syncs (INBOX, then all mailboxes) come first.
await_log "Sync completed .*all mailboxes"

echo "== a message arrives on the server's INBOX"
t0=$(now_ms); deliver "$work/server" 1000.demo.server "hello from the server"
await "$work/laptop/new/1000.demo.server"
echo "== ... and is in the laptop's INBOX after $(( $(now_ms) - t0 )) ms"

echo "== a message is filed into the laptop's 'lists' folder"
t0=$(now_ms); deliver "$work/laptop/.lists" 1001.demo.laptop "a list message"
await "$work/server/.lists/new/1001.demo.laptop"
echo "== ... and is in the server's 'lists' folder after $(( $(now_ms) - t0 )) ms"

echo "== both Maildirs now hold:"
(cd "$work" && find laptop server -path '*/new/*' -type f | sort | sed 's/^/   /')
kill -USR1 "$pid" 2>/dev/null || true
await_log "Pending mailboxes"
echo "== done"
