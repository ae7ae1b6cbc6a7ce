#!/bin/sh
# Failing syncs (spec §5.2 fail(), §5.3, §6.3, §12 items 17-19): the retry
# backoff I, 2I, 2I, ... and its cap, the "Sync errored" line, pending names
# kept across failures, the startup all-mailboxes retry, a sync program that
# cannot be executed, and the sync_timeout extension.  Gaps are measured from
# the end of a failed run (when mswatch sees it) to the start of the next.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/helpers/coord-lib.sh"

done_ms () { local v; v=$(sed -n "${1}p" "$SYNC_DIR/done" | cut -d' ' -f1); echo "${v:-0}"; }
gap () { echo $(( $(sync_ms "$2") - $(done_ms "$1") )); }

# --- 17: the backoff, the message, names kept, a success resets it -----------
write_rc <<EOF
base_delay 1
inter_delay 2
max_delay 100
EOF
start_ms
wait_until 10 startup_done
echo 1 >"$SYNC_DIR/status"
feed_a n1
wait_until 5 done_at_least 3
feed_b n2
wait_until 5 done_at_least 4
wait_until 7 done_at_least 5
echo 0 >"$SYNC_DIR/status"
wait_until 7 done_at_least 6
is "attempt 1: the first change" "$(sync_args 3)" "[n1]"
is "attempt 2: the kept name plus the new one" "$(sync_args 4)" "[n1][n2]"
is "attempts 3 and 4: the same names" "$(sync_args 5) $(sync_args 6)" "[n1][n2] [n1][n2]"
between "retry 1 after inter_delay (2 s)" "$(gap 3 4)" 1000 3500
between "retry 2 after 2 x inter_delay (4 s)" "$(gap 4 5)" 3000 6000
between "retry 3 again after 4 s (1.2 doubles every second failure)" "$(gap 5 6)" 3000 6500
# "after Ns" counts whole seconds of the wall clock, as 1.2 did: a short
# run that crosses a second boundary shows 1s.
masked_err | sed -E 's/after [01]s/after Ns/' >"$T_DIR/got"
printf '%s\n' \
  "Sync errored: $FAKE_SYNC exited (status 1) after Ns at TIME (1 mailbox)" \
  "Sync errored: $FAKE_SYNC exited (status 1) after Ns at TIME (2 mailboxes)" \
  "Sync errored: $FAKE_SYNC exited (status 1) after Ns at TIME (2 mailboxes)" >"$T_DIR/want"
if cmp -s "$T_DIR/got" "$T_DIR/want"; then ok "one 'Sync errored' line per failure, on stderr"; else
  not_ok "one 'Sync errored' line per failure, on stderr"; diag "$(cat "$T_DIR/got")"
fi
check "the success is reported on stdout" \
  grep -qE '^Sync completed after [01]s at .* \(2 mailboxes\)$' "$T_DIR/out"
feed_a n3
wait_until 6 done_at_least 7
is "after the success only new names are synced" "$(sync_args 7)" "[n3]"
between "a success resets the spacing (next sync inter_delay after it)" "$(gap 6 7)" 1000 3500
stop_ms

# --- 18: max_delay below inter_delay: every retry after inter_delay ----------
fresh_run
write_rc <<EOF
base_delay 1
inter_delay 2
max_delay 1
EOF
start_ms
wait_until 10 startup_done
echo 1 >"$SYNC_DIR/status"
feed_a m
wait_until 12 done_at_least 6
between "max_delay < inter_delay: retry 1 after 2 s" "$(gap 3 4)" 1000 3500
between "max_delay < inter_delay: retry 2 after 2 s" "$(gap 4 5)" 1000 3500
between "max_delay < inter_delay: retry 3 after 2 s" "$(gap 5 6)" 1000 3500
stop_ms

# --- 19: the startup all-mailboxes sync fails ---------------------------------
fresh_run
echo 1 >"$SYNC_DIR/status"
write_rc <<EOF
base_delay 1
inter_delay 2
max_delay 100
EOF
start_ms
wait_until 5 done_at_least 2
feed_a c1
wait_until 10 done_at_least 4
echo 0 >"$SYNC_DIR/status"
wait_until 7 done_at_least 5
is "the failed INBOX sync is not retried" "$(grep -c '\[INBOX\]' "$SYNC_DIR/log")" 1
is "the all-mailboxes sync is retried until it succeeds" \
  "$(sync_args 2)$(sync_args 3)$(sync_args 4)$(sync_args 5)" "[][][][]"
between "all-mailboxes retry 1 after 2 s" "$(gap 2 3)" 1000 3500
between "all-mailboxes retry 2 after 4 s" "$(gap 3 4)" 3000 6000
between "all-mailboxes retry 3 after 4 s" "$(gap 4 5)" 3000 6500
is "a change arriving meanwhile got no sync of its own before that" \
  "$(head -n 5 "$SYNC_DIR/log" | grep -c c1)" 0
is "four failures reported" "$(grep -c '^Sync errored' "$T_DIR/err")" 4
check "the INBOX failure is labelled (1 mailbox)" \
  grep -qE "^Sync errored: .* exited \(status 1\) after [01]s at .* \(1 mailbox\)$" "$T_DIR/err"
check "the others are labelled (all mailboxes)" \
  grep -qE "^Sync errored: .* exited \(status 1\) after [01]s at .* \(all mailboxes\)$" "$T_DIR/err"
stop_ms

# --- a sync program that cannot be executed -----------------------------------
fresh_run
write_rc <<EOF
base_delay 1
inter_delay 2
EOF
sed -i "1s|.*|sync $(esc "$T_DIR/no-such-sync") arg|" "$RC"
start_ms
wait_err "(all mailboxes)" 10
stop_ms
check "exec failure: 1.2's message" \
  grep -qxF "exec(\"$T_DIR/no-such-sync\"): No such file or directory" "$T_DIR/err"
check "exec failure: reported as status 1" \
  grep -qE "^Sync errored: $T_DIR/no-such-sync exited \(status 1\) after [01]s at .* \(1 mailbox\)$" "$T_DIR/err"

# --- sync_timeout: a hung sync is stopped and retried ---------------------------
fresh_run
write_rc <<EOF
base_delay 1
inter_delay 2
sync_timeout 2
EOF
start_ms
wait_until 10 startup_done
echo 30 >"$SYNC_DIR/sleep"
feed_a hung
wait_until 8 grep -q TERM "$SYNC_DIR/done"
rm -f "$SYNC_DIR/sleep"
wait_until 8 done_at_least 4
killed=$(grep TERM "$SYNC_DIR/done" | cut -d' ' -f1)
[ -n "$killed" ] || killed=0
between "the hung sync was stopped after sync_timeout (2 s)" "$(( killed - $(sync_ms 3) ))" 1500 4000
check "the timeout is reported" grep -q "^Sync timed out: $FAKE_SYNC" "$T_DIR/err"
check "... as a failure killed by a signal (status -1)" \
  grep -qE "^Sync errored: $FAKE_SYNC exited \(status -1\) after [23]s at .* \(1 mailbox\)$" "$T_DIR/err"
is "the retry has the same name" "$(sync_args 4)" "[hung]"
between "the retry follows the backoff (2 s)" "$(( $(sync_ms 4) - killed ))" 1000 3500
stop_ms
is "sync_timeout: exit 0 on SIGTERM" "$MS_STATUS" 0

plan "$T_N"
