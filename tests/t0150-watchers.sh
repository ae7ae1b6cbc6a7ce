#!/bin/sh
# Watcher starts, failures and restarts (spec §4.2, §5.1, §12 items 21-23):
# a wrong start byte is fatal, a watcher that dies before its start byte is
# retried with the backoff, a running watcher that ends is restarted and
# followed by the full resynchronisation, and a watcher that cannot be
# executed is reported as 1.2 did.  Start times come from the watchers' own
# logs ("start MS PID").
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/helpers/coord-lib.sh"

start_ms_of () {
  local v
  v=$(grep '^start ' "$(wlog "$1")" 2>/dev/null | sed -n "${2}p" | cut -d' ' -f2)
  echo "${v:-0}"
}
start_gap () { echo $(( $(start_ms_of "$1" "$3") - $(start_ms_of "$1" "$2") )); }
starts_at_least () { [ "$(nstarts "$1")" -ge "$2" ]; }
a_termed () { file_has "$(wlog a)" term; }

# --- 21: a wrong start byte from a watcher that stays alive ---------------------
WATCH_B="--start=X"
write_rc <<EOF
base_delay 1
inter_delay 2
EOF
start_ms
wait_ms_exit 10
is "a wrong start byte: exit 1" "$MS_STATUS" 1
printf "Expected start message '\n' from b watcher, received 'X'\n" >"$T_DIR/want"
if cmp -s "$T_DIR/err" "$T_DIR/want"; then ok "1.2's message, with the newline printed as is"; else
  not_ok "1.2's message, with the newline printed as is"; diag "$(cat "$T_DIR/err")"
fi
check "the other watcher got SIGTERM" a_termed
check "no watcher is left running" pid_dead "$(watcher_pid a)"
check "... neither the bad one" pid_dead "$(watcher_pid b)"
check "no sync ran" test ! -e "$SYNC_DIR/log"

# --- 22: a watcher that exits before its start byte ------------------------------
fresh_run
touch "$T_DIR/b-fails"
WATCH_B="--fail-while=$T_DIR/b-fails"
write_rc <<EOF
base_delay 1
inter_delay 1
max_delay 4
EOF
start_ms
wait_until 10 starts_at_least b 4
rm -f "$T_DIR/b-fails"
wait_until 10 startup_done
between "start retry 1 after inter_delay (1 s)" "$(start_gap b 1 2)" 700 2400
between "start retry 2 after 2 s" "$(start_gap b 2 3)" 1700 3500
between "start retry 3 after 2 s" "$(start_gap b 3 4)" 1700 3500
between "start retry 4 after 4 s (max_delay)" "$(start_gap b 4 5)" 3500 6000
is "'connection closed at' for each failed start" \
  "$(masked_err | sort -u)" "Error: b watcher connection closed at TIME"
is "... four of them" "$(wc -l <"$T_DIR/err")" 4
is "a was started once" "$(count_lines "$T_DIR/out" "Starting a watcher")" 1
is "b was started five times" "$(count_lines "$T_DIR/out" "Starting b watcher")" 5
is "'Watching mailstores' once both are up" "$(count_lines "$T_DIR/out" "Watching mailstores")" 1
check "no sync before b was up" test "$(sync_ms 1)" -ge "$(start_ms_of b 5)"
is "then the startup syncs" "$(sync_args 1) $(sync_args 2)" "[INBOX] []"
stop_ms

# --- 23: a running watcher ends ---------------------------------------------------
fresh_run
WATCH_B=
write_rc <<EOF
base_delay 1
inter_delay 1
max_delay 4
EOF
start_ms
wait_until 10 startup_done
# After an event was handled, a restart is immediate.
feed_a x
wait_until 5 done_at_least 3
old=$(watcher_pid a)
t=$(now_ms)
kill -TERM "$old"
wait_until 5 starts_at_least a 2
wait_until 5 done_at_least 5
check "'connection closed by' when its output ends" \
  grep -qxE "Error: a watcher connection closed by [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}" "$T_DIR/err"
between "restarted at once after events were handled (ms)" "$(( $(start_ms_of a 2) - t ))" 0 1500
masked_out | awk '/^Starting a watcher/ { n++ } n >= 2' | grep -v -e '^+' -e '^Sync completed' >"$T_DIR/got"
printf '%s\n' "Starting a watcher" "Watching mailstores" \
  "Sync started at TIME (1 mailbox)" "Sync started at TIME (all mailboxes)" >"$T_DIR/want"
if cmp -s "$T_DIR/got" "$T_DIR/want"; then ok "then: start, 'Watching mailstores', INBOX and all-mailboxes syncs"; else
  not_ok "then: start, 'Watching mailstores', INBOX and all-mailboxes syncs"; diag "$(cat "$T_DIR/got")"
fi
is "the resynchronisation's arguments" "$(sync_args 4) $(sync_args 5)" "[INBOX] []"
is "b was left alone" "$(nstarts b)" 1
# With nothing handled since the last restart, the next one waits 2I.
t=$(now_ms)
kill -TERM "$(watcher_pid a)"
wait_until 6 starts_at_least a 3
between "restarted after 2 x inter_delay when nothing happened since the last restart" \
  "$(( $(start_ms_of a 3) - t ))" 1500 3500
wait_until 5 done_at_least 7
is "and resynchronised again" "$(sync_args 6) $(sync_args 7)" "[INBOX] []"
stop_ms

# A watcher that exits while something it left behind holds its stdout: 1.2's
# "exited with error N" wording.
fresh_run
WATCH_A="--die-after=1 --status=3 --orphan=$T_DIR/orphans.pid"
write_rc <<EOF
base_delay 1
inter_delay 1
max_delay 4
EOF
start_ms
wait_err "watcher" 8
wait_until 5 starts_at_least a 2
stop_ms
check "'exited with error 3 by' when it exits first" \
  grep -qxE "Error: a watcher exited with error 3 by [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}" "$T_DIR/err"
check "... and it is restarted" test "$(count_lines "$T_DIR/out" "Starting a watcher")" -ge 2

# A watcher that cannot be executed.
fresh_run
WATCH_A=
write_rc <<EOF
base_delay 1
inter_delay 1
EOF
sed -i "s|^store b .*|store b { watch $(esc "$T_DIR/no-such-watcher") x }|" "$RC"
start_ms
wait_err "connection closed at" 5
stop_ms
check "exec failure: 1.2's execvp message" \
  grep -qxF "execvp($T_DIR/no-such-watcher): No such file or directory" "$T_DIR/err"
check "exec failure: then 'connection closed at'" \
  grep -q "^Error: b watcher connection closed at " "$T_DIR/err"
is "exec failure: exit 0 on SIGTERM while retrying" "$MS_STATUS" 0

plan "$T_N"
