#!/bin/bash
# fake-hook.sh — a scripted on_synced hook for the coordinator tests.
#
# Usage (as the `on_synced` line of a test config): fake-hook.sh DIR [MAILBOX...]
#
# DIR is the test's control directory; the mailbox names mswatch appends
# follow it.  Every run appends one line to DIR/log when it starts,
#
#     start MS PID [ARG][ARG]...
#
# (MS: the wall clock in milliseconds; each argument bracketed, so a run
# with no names is "start MS PID "), and one to DIR/done when it ends:
# "MS PID STATUS", or "MS PID TERM" when a SIGTERM ended it.
#
# What the run does is read from DIR when it starts:
#   DIR/hold    while this file exists, the run waits (a SIGTERM ends it);
#               removing it lets the run finish
#   DIR/status  the exit status (default 0)
#   DIR/stdout  copied to the hook's stdout
#   DIR/stderr  copied to the hook's stderr
set -u

stamp () { ms=${EPOCHREALTIME/./}; ms=${ms%???}; }

stamp
dir=$1
shift
args=
[ $# -gt 0 ] && printf -v args '[%s]' "$@"
printf 'start %s %s %s\n' "$ms" "$$" "$args" >>"$dir/log"

trap 'stamp; echo "$ms $$ TERM" >>"$dir/done"; exit 143' TERM

[ -f "$dir/stdout" ] && cat "$dir/stdout"
[ -f "$dir/stderr" ] && cat "$dir/stderr" >&2
while [ -e "$dir/hold" ]; do
  # A short sleep in the background, so that the TERM trap runs at once.
  sleep 0.05 &
  wait $!
done
status=0
[ -s "$dir/status" ] && read -r status <"$dir/status"
stamp
echo "$ms $$ $status" >>"$dir/done"
exit "$status"
