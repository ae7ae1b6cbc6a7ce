#!/bin/sh
# Startup and what the sync program and the watchers are given (spec §5.1,
# §6, §12 items 12, 13, 24, 26, 27, 29): the startup order on stdout, the
# union of both stores' names, names passed verbatim and sorted, bare names
# without mailbox_prefix, no leaked descriptors, the SIGUSR1 report, -q, -d.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/helpers/coord-lib.sh"

TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}'

# --- 12, 13: startup order; the union of both stores ------------------------
WATCH_A="--fds=$T_DIR/fds-a"
WATCH_B="--fds=$T_DIR/fds-b"
write_rc <<EOF
mailbox_prefix chan :
base_delay 4
inter_delay 4
EOF
t0=$(now_ms)
start_ms
wait_until 10 startup_done
check "both startup syncs ran" startup_done
between "they came at once, without base_delay (ms after start)" "$(( $(sync_ms 2) - t0 ))" 0 2500
is "the INBOX sync's argument" "$(sync_args 1)" "[chan:INBOX]"
is "the all-mailboxes sync's argument is the prefix" "$(sync_args 2)" "[chan]"
wait_out "(all mailboxes)" 5
wait_until 5 grep -q "^Sync completed.*(all mailboxes)" "$T_DIR/out"
cat >"$T_DIR/want" <<EOF
Starting a watcher
+ $FAKE_WATCHER --log=$T_DIR/w-a.log --fds=$T_DIR/fds-a $FIFO_A 
Starting b watcher
+ $FAKE_WATCHER --log=$T_DIR/w-b.log --fds=$T_DIR/fds-b $FIFO_B 
Watching mailstores
Sync started at TIME (1 mailbox)
+ $FAKE_SYNC $SYNC_DIR chan:INBOX 
Sync completed after Ns at TIME (1 mailbox)
Sync started at TIME (all mailboxes)
+ $FAKE_SYNC $SYNC_DIR chan 
Sync completed after Ns at TIME (all mailboxes)
EOF
masked_out | sed -E 's/after [0-9]+s/after Ns/' >"$T_DIR/got"
if cmp -s "$T_DIR/got" "$T_DIR/want"; then ok "stdout at startup, in 1.2's order and words"; else
  not_ok "stdout at startup, in 1.2's order and words"; diag "$(diff "$T_DIR/want" "$T_DIR/got")"
fi
# Whole seconds of the wall clock, as 1.2 counted them.
check "'Sync completed after 0s'" grep -qE "^Sync completed after [01]s at $TIME_RE \(1 mailbox\)$" "$T_DIR/out"
is "nothing on stderr" "$(cat "$T_DIR/err")" ""
is "the sync program got only fds 0, 1 and 2" "$(cat "$SYNC_DIR/fds")" "0 1 2"
is "watcher a got only fds 0, 1 and 2" "$(cat "$T_DIR/fds-a")" "0 1 2"
is "watcher b got only fds 0, 1 and 2" "$(cat "$T_DIR/fds-b")" "0 1 2"

feed_a foo
feed_b bar foo
wait_syncs 3 7
is "foo in a, bar and foo in b: one sync of the sorted union" "$(sync_args 3)" "[chan:bar][chan:foo]"
check "labelled (2 mailboxes)" grep -qE "^Sync started at $TIME_RE \(2 mailboxes\)$" "$T_DIR/out"
wait_until 5 done_at_least 3
is "the change sync's program got only fds 0, 1 and 2" "$(cat "$SYNC_DIR/fds")" "0 1 2"

# 24: the report with nothing pending.
kill -USR1 "$MS_PID"
wait_out "Pending mailboxes at" 3
printf 'Pending mailboxes at TIME:\n\ta:\n\tb:\n' >"$T_DIR/want"
masked_out | sed -n '/^Pending mailboxes/,$p' >"$T_DIR/got"
check "SIGUSR1 with nothing pending lists both stores, empty" cmp -s "$T_DIR/got" "$T_DIR/want"
stop_ms
is "SIGTERM: exit 0" "$MS_STATUS" 0

# --- 29 and no mailbox_prefix: bare names, "" for all ------------------------
fresh_run
WATCH_A='' WATCH_B=''
write_rc <<EOF
base_delay 1
inter_delay 2
EOF
start_ms
wait_until 10 startup_done
is "without a prefix, INBOX is passed bare" "$(sync_args 1)" "[INBOX]"
is "without a prefix, all mailboxes is one empty argument" "$(sync_args 2)" "[]"
feed_a "  sp x " b
feed_b a.b/c INBOX B
wait_syncs 3 5
is "names verbatim and sorted bytewise" "$(sync_args 3)" "[  sp x ][B][INBOX][a.b/c][b]"
check "labelled (5 mailboxes)" out_has "(5 mailboxes)"
stop_ms

# --- 24, 26: the SIGUSR1 report and -q ---------------------------------------
fresh_run
write_rc <<EOF
mailbox_prefix chan :
base_delay 4
inter_delay 4
EOF
start_ms -q
wait_until 10 startup_done
feed_a y x
feed_b z
# The names are read as soon as they are written; ask until they show.
report_lists_all () {
  kill -USR1 "$MS_PID"
  wait_until 1 grep -qF "	b: z" "$T_DIR/out"
}
wait_until 3 report_lists_all
masked_out | sed -n '/^Pending mailboxes/,$p' | tail -n 3 >"$T_DIR/got"
printf 'Pending mailboxes at TIME:\n\ta: x y\n\tb: z\n' >"$T_DIR/want"
if cmp -s "$T_DIR/got" "$T_DIR/want"; then ok "SIGUSR1 report under -q, names sorted per store"; else
  not_ok "SIGUSR1 report under -q, names sorted per store"; diag "$(cat "$T_DIR/got")"
fi
echo 1 >"$SYNC_DIR/status"
wait_err "Sync errored" 8
is "-q keeps 'Sync errored' on stderr" "$(masked_err | sed -E 's/after [01]s/after Ns/')" \
  "Sync errored: $FAKE_SYNC exited (status 1) after Ns at TIME (3 mailboxes)"
is "the failing sync had the union" "$(sync_args 3)" "[chan:x][chan:y][chan:z]"
is "-q prints nothing else on stdout" "$(grep -v -e '^Pending mailboxes at' -e '^	' "$T_DIR/out")" ""
stop_ms
is "-q: exit 0 on SIGTERM" "$MS_STATUS" 0

# --- 27: -d runs no sync program but prints the lines ------------------------
fresh_run
write_rc <<EOF
mailbox_prefix chan :
base_delay 1
inter_delay 2
EOF
start_ms -d
wait_out "(all mailboxes)" 10
feed_a foo
wait_out "chan:foo" 5
wait_until 5 grep -q "^Sync completed.*(1 mailbox)" "$T_DIR/out"
stop_ms
check "-d: the sync program never ran" test ! -e "$SYNC_DIR/log"
check "-d: the watchers ran" test "$(nstarts a)" -eq 1 -a "$(nstarts b)" -eq 1
check "-d: 'Sync started' for INBOX" grep -qE "^Sync started at $TIME_RE \(1 mailbox\)$" "$T_DIR/out"
check "-d: '+ argv' for INBOX" grep -qxF "+ $FAKE_SYNC $SYNC_DIR chan:INBOX " "$T_DIR/out"
check "-d: '+ argv' for all mailboxes" grep -qxF "+ $FAKE_SYNC $SYNC_DIR chan " "$T_DIR/out"
check "-d: '+ argv' for a change" grep -qxF "+ $FAKE_SYNC $SYNC_DIR chan:foo " "$T_DIR/out"
is "-d: every sync 'completed'" "$(grep -cE '^Sync completed after [01]s at' "$T_DIR/out")" 3
is "-d: nothing on stderr" "$(cat "$T_DIR/err")" ""

plan "$T_N"
