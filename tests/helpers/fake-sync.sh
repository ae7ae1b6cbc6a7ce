#!/bin/bash
# fake-sync.sh — a scripted sync program for the coordinator tests.
#
# Usage (as the `sync` line of a test config): fake-sync.sh DIR [MAILBOX...]
#
# DIR is the test's control directory; the mailbox arguments mswatch appends
# follow it.  Every run appends one line to DIR/log:
#
#     MS PID [ARG][ARG]...
#
# MS is the wall clock in milliseconds when the run began, and each argument
# is bracketed, so spaces and empty arguments stay visible ("all mailboxes"
# without a mailbox_prefix is one empty argument: "[]").  The descriptors the
# run was given at exec are written to DIR/fds.
#
# What the run does is read from DIR at each run, so a test can change it
# between runs:
#   DIR/sleep   seconds of simulated work before exiting (a SIGTERM ends it,
#               and the run then dies of that signal, as a real program would)
#   DIR/status  the exit status (default 0)
# When the run ends, "MS PID STATUS" (or "MS PID TERM") is appended to
# DIR/done.
#
# Timing tests measure from these stamps, so nothing before them forks: a
# loaded machine would otherwise add its process start-up time to every gap.
set -u

# stamp: the wall clock in ms into $ms, without forking.
stamp () { ms=${EPOCHREALTIME/./}; ms=${ms%???}; }

stamp
start=$ms
dir=$1
shift

# The descriptors we were given.  The glob opens a directory descriptor
# while it expands, which is closed (and gone from the list) by the time we
# test each entry; bash's own descriptor for this script is skipped.
fds=
for f in /proc/$$/fd/*; do
  [ -e "$f" ] || continue
  [ "$f" -ef "$0" ] && continue
  fds="$fds ${f##*/}"
done
echo "${fds# }" >"$dir/fds"

args=
[ $# -gt 0 ] && printf -v args '[%s]' "$@"
printf '%s %s %s\n' "$start" "$$" "$args" >>"$dir/log"

status=0
[ -s "$dir/status" ] && read -r status <"$dir/status"
if [ -s "$dir/sleep" ]; then
  read -r secs <"$dir/sleep"
  sleep "$secs" &
  work=$!
  echo "$work" >>"$dir/work.pids"
  trap 'kill $work 2>/dev/null; stamp; echo "$ms $$ TERM" >>"$dir/done"; trap - TERM; kill -TERM $$' TERM
  wait $work
fi
stamp
echo "$ms $$ $status" >>"$dir/done"
exit "$status"
