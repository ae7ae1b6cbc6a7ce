#!/bin/bash
# fake-watcher.sh — a scripted mswatch watcher for the coordinator tests.
#
# Usage: fake-watcher.sh [OPTION...] FIFO [IGNORED...]
#
# By default it behaves like a well-mannered watcher: it prints the start
# newline, then copies every line written into FIFO to its stdout, one write
# per line, so mswatch sees each name as soon as the test writes it.  The
# FIFO is opened read-write, so a test writing single lines (each open and
# close of the FIFO) never makes it see end-of-file; --exit-on-eof asks for
# the opposite.  Words after FIFO are ignored (they exist so that a test can
# check how the config parser split a `watch` line, with --argv).
#
# Two lines written into FIFO are commands instead of names:
#   @flood N   print N lines f0, f1, ..., f9, f0, ... as fast as possible
#   @long N    print N bytes 'L' and no newline (the next line continues it)
#
# Options (all of the form --name or --name=VALUE):
#   --log=FILE            append "start MS PID", and "term MS PID" when a
#                         SIGTERM arrives, to FILE (MS: wall clock in ms)
#   --argv=FILE           write every argument, each as [ARG], to FILE
#   --fds=FILE            write the descriptors open at exec time to FILE
#   --start=C             send the character C instead of the start newline
#   --exit-before-start=N exit with status N before sending anything
#   --fail-while=FILE     exit 1 before sending anything while FILE exists
#   --ignore-term         ignore SIGTERM (only SIGKILL ends it)
#   --die-after=SECS      exit SECS seconds after the start newline
#   --status=N            the status for --die-after (default 0)
#   --orphan=PIDFILE      when the copying ends: leave a child that keeps our
#                         stdout open, append its pid to PIDFILE, and exit
#   --close-stdout        after the start newline, close stdout and hang
#   --exit-on-eof         exit when the last writer of FIFO closes it
#   --stdin-eof=FILE      append "eof MS" to FILE when stdin reaches EOF
#                         (mswatch holds it open while it lives); the pid
#                         of the process that waits for it goes to FILE.pid
set -u

log= argv_file= fds_file= start=$'\n' exit_before= fail_while= ignore_term=
die_after= status=0 orphan= close_stdout= exit_on_eof= stdin_eof= fifo=

# The descriptors we were given.  The glob opens a directory descriptor
# while it expands, which is closed (and gone from the list) by the time we
# test each entry; bash's own descriptor for this script is skipped.
list_fds () {
  local f fds=
  for f in /proc/$$/fd/*; do
    [ -e "$f" ] || continue
    [ "$f" -ef "$0" ] && continue
    fds="$fds ${f##*/}"
  done
  echo "${fds# }" >"$1"
}

# now_ms: the wall clock in ms into $ms, without forking (the tests measure
# gaps between these stamps; a fork on a loaded machine would add to them).
now_ms () { ms=${EPOCHREALTIME/./}; ms=${ms%???}; }

all_args=("$@")
for arg in "$@"; do
  case "$arg" in
    --log=*) log=${arg#*=} ;;
    --argv=*) argv_file=${arg#*=} ;;
    --fds=*) fds_file=${arg#*=} ;;
    --start=*) start=${arg#*=} ;;
    --exit-before-start=*) exit_before=${arg#*=} ;;
    --fail-while=*) fail_while=${arg#*=} ;;
    --ignore-term) ignore_term=1 ;;
    --die-after=*) die_after=${arg#*=} ;;
    --status=*) status=${arg#*=} ;;
    --orphan=*) orphan=${arg#*=} ;;
    --close-stdout) close_stdout=1 ;;
    --exit-on-eof) exit_on_eof=1 ;;
    --stdin-eof=*) stdin_eof=${arg#*=} ;;
    --*) echo "fake-watcher: unknown option $arg" >&2; exit 64 ;;
    *) fifo=$arg; break ;;
  esac
done
[ -n "$fifo" ] || { echo "fake-watcher: no FIFO given" >&2; exit 64; }

[ -n "$fds_file" ] && list_fds "$fds_file"
[ -n "$argv_file" ] && printf '[%s]' "${all_args[@]}" >"$argv_file"
now_ms
[ -n "$log" ] && echo "start $ms $$" >>"$log"

if [ -n "$ignore_term" ]; then
  trap '' TERM
else
  trap 'now_ms; [ -n "$log" ] && echo "term $ms $$" >>"$log"; exit 0' TERM
fi

[ -n "$exit_before" ] && exit "$exit_before"
if [ -n "$fail_while" ] && [ -e "$fail_while" ]; then exit 1; fi

printf '%s' "$start"

if [ -n "$stdin_eof" ]; then
  # A background job's stdin is /dev/null unless redirected explicitly.
  exec 4<&0
  { cat >/dev/null; now_ms; echo "eof $ms" >>"$stdin_eof"; } <&4 >/dev/null 2>&1 4<&- &
  echo $! >"$stdin_eof.pid"
  exec 4<&-
fi

if [ -n "$close_stdout" ]; then
  exec >&- && exec sleep 3600
fi

if [ -n "$exit_on_eof" ]; then
  exec 3<"$fifo"
else
  exec 3<>"$fifo"
fi

# read -t gives up at the deadline of --die-after; bash keeps a partial
# line for the next read, but the tests write whole lines anyway.
deadline=
now_ms
[ -n "$die_after" ] && deadline=$(( ms + die_after * 1000 ))
while :; do
  if [ -n "$deadline" ]; then
    now_ms
    left=$(( deadline - ms ))
    [ "$left" -gt 0 ] || break
    printf -v timeout '%d.%03d' $((left / 1000)) $((left % 1000))
    IFS= read -r -t "$timeout" line <&3
    rc=$?
    if [ "$rc" -gt 128 ]; then continue; fi   # timed out: check the deadline
  else
    IFS= read -r line <&3
    rc=$?
  fi
  [ "$rc" -eq 0 ] || break
  case "$line" in
    "@flood "*) awk -v n="${line#* }" 'BEGIN { for (i = 0; i < n; i++) print "f" (i % 10) }' ;;
    "@long "*) head -c "${line#* }" /dev/zero | tr '\0' L ;;
    *) printf '%s\n' "$line" ;;
  esac
done

if [ -n "$orphan" ]; then
  sleep 60 <&- 3<&- &
  echo $! >>"$orphan"
fi
exit "$status"
