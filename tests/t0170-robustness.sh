#!/bin/sh
# Misbehaving watchers (DESIGN "Limits and bad input", spec §4.2 and bugs
# §10.1 6 and 10): a flood of lines, a line far over the length limit, names
# that could leave the Maildir root, a watcher that ignores SIGTERM (at exit
# and at restart), and a watcher that dies in a loop (the restarts keep to
# the backoff and cost next to no CPU).
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/helpers/coord-lib.sh"

start_ms_of () {
  local v
  v=$(grep '^start ' "$(wlog "$1")" 2>/dev/null | sed -n "${2}p" | cut -d' ' -f2)
  echo "${v:-0}"
}
start_gap () { echo $(( $(start_ms_of "$1" "$3") - $(start_ms_of "$1" "$2") )); }
starts_at_least () { [ "$(nstarts "$1")" -ge "$2" ]; }
usr1_answered () { out_has "Pending mailboxes at"; }
# cpu_ticks PID: user + system time so far, in clock ticks.
cpu_ticks () { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICKS=$(getconf CLK_TCK 2>/dev/null || echo 100)

# --- a flood, an over-long line, bad names ------------------------------------
write_rc <<EOF
mailbox_prefix chan :
base_delay 2
inter_delay 2
EOF
start_ms
wait_until 10 startup_done
t=$(now_ms)
feed_a "@flood 100000"
kill -USR1 "$MS_PID"
wait_until 3 usr1_answered
between "SIGUSR1 answered within 1 s while 100000 lines pour in (ms)" "$(( $(now_ms) - t ))" 0 1000
wait_syncs 3 8
wait_until 5 done_at_least 3
is "one sync of the deduplicated names" "$(sync_args 3)" \
  "[chan:f0][chan:f1][chan:f2][chan:f3][chan:f4][chan:f5][chan:f6][chan:f7][chan:f8][chan:f9]"

feed_a "@long 1048576"
wait_err "WARNING: mailbox name too large" 10
feed_a tail real
wait_syncs 4 8
wait_until 5 done_at_least 4
is "1 MB without a newline: one warning" \
  "$(count_lines "$T_DIR/err" "WARNING: mailbox name too large; syncing all mailboxes to get change")" 1
is "... the empty name, and no name made of the line's tail" "$(sync_args 4)" "[chan:][chan:real]"

# An empty line is the name "" (1.2 passed it as "PREFIX+SEP"); the others
# could corrupt a log or leave the Maildir root.
feed_a "$(printf 'ctl\001x')" "../x" "/abs" "a/../../b" "." "" good
wait_syncs 5 8
is "names with control characters or leaving the root are refused" "$(sync_args 5)" "[chan:][chan:good]"
is "... each with a warning" \
  "$(count_lines "$T_DIR/err" "WARNING: a watcher sent an unusable mailbox name")" 5
is "nothing else on stderr" "$(grep -cv WARNING "$T_DIR/err")" 0
stop_ms
is "exit 0 after all that" "$MS_STATUS" 0

# --- a watcher that ignores SIGTERM: killed at exit ------------------------------
fresh_run
WATCH_B="--ignore-term"
write_rc <<EOF
base_delay 1
inter_delay 1
EOF
start_ms
wait_until 10 startup_done
b=$(watcher_pid b)
kill -TERM "$MS_PID"
wait_ms_exit 8
is "with a watcher ignoring SIGTERM, mswatch still exits 0" "$MS_STATUS" 0
check "... after SIGKILLing it" pid_dead "$b"

# --- ... and at a restart: it closed its stdout but lives on --------------------
fresh_run
WATCH_B="--ignore-term --close-stdout"
write_rc <<EOF
base_delay 1
inter_delay 2
max_delay 4
EOF
start_ms
wait_err "Error: b watcher connection closed by" 5
b=$(watcher_pid b)
t=$(now_ms)
wait_until 8 pid_dead "$b"
check "a watcher that closed its output but ignores SIGTERM is killed" pid_dead "$b"
between "... after the grace period (ms)" "$(( $(now_ms) - t ))" 3000 7000
check "... and a new one was started" starts_at_least b 2
stop_ms
for p in $(grep '^start ' "$(wlog b)" | cut -d' ' -f3); do
  pid_alive "$p" && break
done
check "no watcher outlives mswatch" pid_dead "$p"

# --- a watcher that dies in a loop ------------------------------------------------
fresh_run
WATCH_B="--die-after=0"
write_rc <<EOF
base_delay 1
inter_delay 1
max_delay 4
EOF
start_ms
wait_until 20 starts_at_least b 5
between "restart 1 after 2 x inter_delay (nothing handled in between)" "$(start_gap b 1 2)" 1500 3500
between "restart 2 after 2 s" "$(start_gap b 2 3)" 1500 3500
between "restart 3 after 4 s" "$(start_gap b 3 4)" 3500 6000
between "restart 4 after 4 s (max_delay)" "$(start_gap b 4 5)" 3500 6000
stop_ms

# inter_delay 0 would mean no delay at all: a floor of 1 s keeps the CPU idle.
fresh_run
write_rc <<EOF
base_delay 0
inter_delay 0
max_delay 0
EOF
start_ms
wait_until 5 starts_at_least b 2
c0=$(cpu_ticks "$MS_PID")
n0=$(nstarts b)
t=$(now_ms)
wait_until 4 starts_at_least b $((n0 + 10))
n1=$(nstarts b)
c1=$(cpu_ticks "$MS_PID")
el=$(( $(now_ms) - t ))
stop_ms
between "with inter_delay 0, at most one restart a second (restarts in ${el} ms)" \
  "$((n1 - n0))" 1 $((el / 900 + 1))
between "mswatch used under 0.5 s of CPU in that time (ticks of 1/$TICKS s)" \
  "$((c1 - c0))" 0 $((TICKS / 2))

plan "$T_N"
