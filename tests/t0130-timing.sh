#!/bin/sh
# The sync timer (spec §5.2, §5.4, §5.5, §12 items 14-16, 20, 28): base_delay,
# inter_delay, per-mailbox inter_delay, ignore, and poll_period (0 disables
# it).  Times come from the fake sync's log (start of each run) and its done
# file (end of each run, which is when mswatch counts a success).  1.2 used
# whole seconds, so the spec allows ±1 s; every window below is chosen so
# that the wrong rule would land outside it; the upper bounds leave a loaded
# machine some extra room where that keeps them apart.
#
# Where a scenario needs a change to arrive at a given moment, the test
# sleeps until then: that sets up the input, it does not wait for a result.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/helpers/coord-lib.sh"

done_ms () { local v; v=$(sed -n "${1}p" "$SYNC_DIR/done" | cut -d' ' -f1); echo "${v:-0}"; }

# sleep_until MS: sleeps until the wall clock reaches MS.
sleep_until () {
  local left=$(( $1 - $(now_ms) ))
  [ "$left" -gt 0 ] && sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
  return 0
}

# --- 14, 15: base_delay, then inter_delay after a success -------------------
write_rc <<EOF
base_delay 3
inter_delay 6
EOF
start_ms
wait_until 10 startup_done
t=$(now_ms)
feed_a m1
sleep_until $((t + 2000))
feed_b m2
wait_syncs 3 6
between "a change syncs base_delay (3 s) later, not postponed by one at +2 s" \
  "$(( $(sync_ms 3) - t ))" 2000 4500
is "both changes in that sync" "$(sync_args 3)" "[m1][m2]"
wait_until 5 done_at_least 3
s=$(done_ms 3)
sleep_until $((s + 1000))
feed_a m3
wait_syncs 4 9
between "a change 1 s after a success syncs at success + inter_delay (6 s), not +4" \
  "$(( $(sync_ms 4) - s ))" 5000 7500
is "the second sync has only the new change" "$(sync_args 4)" "[m3]"
stop_ms

# --- 20, 16: ignore; per-mailbox inter_delay ---------------------------------
fresh_run
write_rc <<EOF
base_delay 1
inter_delay 2
inter_delay 8 slow
ignore ign1 ign2
ignore ign3
EOF
start_ms
wait_until 10 startup_done
t=$(now_ms)
feed_a ign1
feed_b ign3
wait_syncs 3 3
is "ignored mailboxes alone trigger no sync (3 s window)" "$(nsyncs)" 2
feed_a ign1 x
wait_syncs 3 5
is "an ignored name is dropped from a batch" "$(sync_args 3)" "[x]"
wait_until 5 done_at_least 3
s=$(done_ms 3)
sleep_until $((s + 1000))
feed_a slow
wait_syncs 4 12
between "'slow' (inter_delay 8) alone, 1 s after a sync: synced 8 s after that sync" \
  "$(( $(sync_ms 4) - s ))" 7000 9900
is "that sync has slow" "$(sync_args 4)" "[slow]"
wait_until 5 done_at_least 4
s=$(done_ms 4)
sleep_until $((s + 3000))
feed_a slow
feed_b fast
wait_syncs 5 6
between "slow and fast 3 s after a sync: one sync at +4 (base_delay after them)" \
  "$(( $(sync_ms 5) - s ))" 3000 6000
is "that sync has both" "$(sync_args 5)" "[fast][slow]"
is "the ignored names were never synced" "$(grep -c ign "$SYNC_DIR/log")" 0
stop_ms

# --- 28: poll_period -------------------------------------------------------
fresh_run
write_rc <<EOF
base_delay 1
inter_delay 2
poll_period 3
EOF
start_ms
wait_until 10 startup_done
wait_syncs 4 9
is "two polls within 9 s of startup" "$(nsyncs)" 4
is "a poll syncs all mailboxes" "$(sync_args 3)$(sync_args 4)" "[][]"
wait_until 5 done_at_least 3
between "the first poll: 3 s ±10% after startup" "$(( $(sync_ms 3) - $(done_ms 2) ))" 2500 4200
between "the second poll: 3 s ±10% after the first" "$(( $(sync_ms 4) - $(done_ms 3) ))" 2500 4200
stop_ms

# poll_period 0 disables polling (1.2 died of SIGFPE below 10).
fresh_run
write_rc <<EOF
base_delay 1
inter_delay 2
poll_period 0
EOF
start_ms
wait_until 10 startup_done
wait_syncs 3 3
is "poll_period 0: no sync beyond the startup ones (3 s window)" "$(nsyncs)" 2
check "poll_period 0: still running" ms_alive
feed_a y
wait_syncs 3 5
is "poll_period 0: changes still sync" "$(sync_args 3)" "[y]"
stop_ms
is "poll_period 0: exit 0 on SIGTERM" "$MS_STATUS" 0
is "nothing on stderr" "$(cat "$T_DIR/err")" ""

plan "$T_N"
