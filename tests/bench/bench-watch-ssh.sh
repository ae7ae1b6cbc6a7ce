#!/bin/sh
# bench-watch-ssh.sh — how long watch_ssh takes to notice a frozen server.
# Run by hand as root (it starts sshd on 127.0.0.1), not by `make check`:
#
#   sh tests/bench/bench-watch-ssh.sh [BUILD_DIR]
#
# For the default bound (--keepalive=10 x --keepalive-count=3 = 30 s) and a
# 3 s bound (1 x 3), RUNS times each (default 10): watch_ssh runs a remote
# `inputkill sleep`, the link idles for one to two intervals (a random
# time, so that the freeze falls anywhere between two answers), then the
# sshd process serving the connection is stopped with SIGSTOP, and the time
# until watch_ssh exits is measured.  Prints each run, min / median / max,
# and whether every run stayed within the bound (it must).
#
# COMPARE_SSH=1 times OpenSSH's client the same way, with the same
# ServerAliveInterval and ServerAliveCountMax, for reference (it gives up
# one interval later than its count says: up to 40 s and 4 s).
set -eu

build=${1:-build}
top_builddir=$(cd "$build" && pwd)
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
export top_builddir top_srcdir
RUNS=${RUNS:-10}
COMPARE_SSH=${COMPARE_SSH:-0}
WS=$top_builddir/watch_ssh
[ -x "$WS" ] || { echo "no $WS: build first" >&2; exit 1; }

. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/sshd.sh"
sshd_available || { echo "$SSHD_MISSING" >&2; exit 1; }
sshd_setup > /dev/null || { echo "sshd did not start" >&2; exit 1; }
sshd_listen > /dev/null || { echo "sshd could not listen" >&2; exit 1; }

IK=$top_builddir/inputkill
KEY=$SSH_DIR/id_ed25519
KH=$T_DIR/known_hosts
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cat "$SSH_DIR/host_key.pub")" > "$KH"
mkfifo "$T_DIR/in"

median () { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
started () { [ -s "$T_DIR/out" ]; }
gone () { ! kill -0 "$CLIENT" 2>/dev/null; }

# run_once INTERVAL COUNT CLIENT-KIND: one measurement into $T_DIR/times.
run_once () {
  local interval=$1 count=$2 kind=$3 session t0 idle
  : > "$T_DIR/out"
  if [ "$kind" = watch_ssh ]; then
    "$WS" -p "$SSHD_PORT" -o GlobalKnownHostsFile=none -i "$KEY" --known-hosts="$KH" \
      --keepalive="$interval" --keepalive-count="$count" 127.0.0.1 -- "echo; exec $IK sleep 600" \
      < "$T_DIR/in" > "$T_DIR/out" 2> "$T_DIR/err" 7>&- &
  else
    ssh -F /dev/null -p "$SSHD_PORT" -i "$KEY" -o UserKnownHostsFile="$KH" \
      -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes -o ServerAliveInterval="$interval" \
      -o ServerAliveCountMax="$count" 127.0.0.1 "echo; exec $IK sleep 600" \
      < "$T_DIR/in" > "$T_DIR/out" 2> "$T_DIR/err" 7>&- &
  fi
  CLIENT=$!
  exec 7> "$T_DIR/in"
  wait_until 20 started || { echo "$kind did not start:" >&2; cat "$T_DIR/err" >&2; exit 1; }
  session=$(sshd_session_pid "$(sshd_client_port "$CLIENT")")
  [ -n "$session" ] || { echo "no sshd session found for $kind" >&2; exit 1; }
  idle=$(awk -v k="$interval" -v r="$(od -An -N2 -tu2 /dev/urandom)" \
    'BEGIN { printf "%.3f", k * (1 + r / 65536) }')
  sleep "$idle"
  t0=$(now_ms)
  kill -STOP "$session"
  if ! wait_until $((interval * (count + 1) * 2 + 5)) gone; then
    echo "$kind did not notice the frozen server" >&2
    kill "$CLIENT"
  fi
  echo $(($(now_ms) - t0)) >> "$T_DIR/times"
  wait "$CLIENT" 2> /dev/null || :
  kill -CONT "$session"
  kill -TERM "$session" 2> /dev/null || :
  exec 7>&-
}

# bench INTERVAL COUNT CLIENT-KIND LABEL
bench () {
  local bound_ms=$(($1 * $2 * 1000)) i
  : > "$T_DIR/times"
  for i in $(seq 1 "$RUNS"); do
    run_once "$1" "$2" "$3"
  done
  printf '%-9s %-34s runs (ms): %s\n' "$3" "$4" "$(tr '\n' ' ' < "$T_DIR/times")"
  printf '%-9s %-34s min %s ms, median %s ms, max %s ms; within %s ms: %s\n' "$3" "" \
    "$(sort -n "$T_DIR/times" | head -n 1)" "$(median < "$T_DIR/times")" \
    "$(sort -n "$T_DIR/times" | tail -n 1)" "$bound_ms" \
    "$(awk -v b="$bound_ms" '$1 > b { bad++ } END { print bad ? "NO (" bad " over)" : "yes" }' "$T_DIR/times")"
}

echo "frozen-server detection, $RUNS runs each: time from SIGSTOP of the server's sshd to exit"
bench 10 3 watch_ssh "default bound 30 s (10 s x 3)"
bench 1 3 watch_ssh "bound 3 s (--keepalive=1, count 3)"
if [ "$COMPARE_SSH" = 1 ]; then
  bench 10 3 ssh "ServerAliveInterval 10, CountMax 3"
  bench 1 3 ssh "ServerAliveInterval 1, CountMax 3"
fi
