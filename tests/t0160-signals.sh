#!/bin/sh
# Signals and not blocking (spec §7, §12 items 24-25, bug §10.1 10): while a
# long sync runs, SIGUSR1 is answered at once and watcher output is read;
# SIGTERM, SIGINT and SIGHUP end mswatch with status 0, send SIGTERM to the
# watchers and (unlike 1.2) end the running sync too; a SIGINT ignored by
# the parent stays ignored; a watcher sees EOF on its stdin when mswatch dies.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/helpers/coord-lib.sh"

termed () { file_has "$(wlog "$1")" term; }
sync_ended () { grep -q "^[0-9]* $1 " "$SYNC_DIR/done" 2>/dev/null; }
work_pid () { tail -n 1 "$SYNC_DIR/work.pids"; }
usr1_answered () { [ "$(count_lines "$T_DIR/out" "Pending mailboxes at")" -ge "$1" ]; }

write_rc <<EOF
base_delay 1
inter_delay 2
EOF

for sig in TERM INT HUP; do
  fresh_run
  start_ms
  wait_until 10 startup_done
  echo 30 >"$SYNC_DIR/sleep"
  feed_a x
  wait_syncs 3 5
  spid=$(sync_pid 3)
  wait_until 3 test -s "$SYNC_DIR/work.pids"

  if [ "$sig" = TERM ]; then
    # Non-blocking: the 30 s sync is running now.
    n=$(count_lines "$T_DIR/out" "Pending mailboxes at")
    t=$(now_ms)
    kill -USR1 "$MS_PID"
    wait_until 3 usr1_answered $((n + 1))
    between "SIGUSR1 during a running sync is answered within 1 s (ms)" "$(( $(now_ms) - t ))" 0 1000
    feed_a late
    report_has_late () {
      kill -USR1 "$MS_PID"
      wait_until 1 grep -qxF "	a: late x" "$T_DIR/out"
    }
    t=$(now_ms)
    wait_until 3 report_has_late
    between "a watcher line is read during the sync (shown as pending, ms)" "$(( $(now_ms) - t ))" 0 1000
    is "no second sync starts meanwhile" "$(nsyncs)" 3
  fi

  kill -"$sig" "$MS_PID"
  wait_ms_exit 8
  is "SIG$sig: exit 0" "$MS_STATUS" 0
  check "SIG$sig: watcher a got SIGTERM" termed a
  check "SIG$sig: watcher b got SIGTERM" termed b
  check "SIG$sig: the running sync was ended" sync_ended "$spid"
  wait_until 3 pid_dead "$(work_pid)"
  check "SIG$sig: nothing of the sync is left" pid_dead "$(work_pid)"
  check "SIG$sig: no watcher is left" pid_dead "$(watcher_pid a)"
  rm -f "$SYNC_DIR/sleep"
done

# A SIGINT that the parent ignores stays ignored (as in 1.2, for background
# jobs).
fresh_run
env --ignore-signal=INT mswatch -c "$RC" >"$T_DIR/out" 2>"$T_DIR/err" 7>&- 8>&- </dev/null &
MS_PID=$!
wait_until 10 startup_done
kill -INT "$MS_PID"
wait_until 1 ms_dead
check "an inherited ignored SIGINT stays ignored (1 s window)" ms_alive
stop_ms
is "... and SIGTERM still ends it with 0" "$MS_STATUS" 0

# The watchers' stdin stays open while mswatch lives, and reaches EOF when it
# dies, even by SIGKILL: that is what inputkill relies on over ssh.
fresh_run
WATCH_A="--stdin-eof=$T_DIR/eof-a"
write_rc <<EOF
base_delay 1
inter_delay 2
EOF
start_ms
wait_until 10 startup_done
check "a watcher's stdin stays open while mswatch runs" test ! -e "$T_DIR/eof-a"
kill -KILL "$MS_PID"
wait_until 5 test -s "$T_DIR/eof-a"
check "... and reaches EOF when mswatch is killed" file_has "$T_DIR/eof-a" eof

plan "$T_N"
