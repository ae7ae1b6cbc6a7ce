#!/bin/sh
# mswatch with the real resident syncer: `syncer sync_imap --serve` behind
# two watch_maildirs watchers, one on the local Maildir and one on the test
# Dovecot's own Maildir (what `ssh host inputkill watch_maildirs` gives on a
# real server).  Checks that per-mailbox answers drive the syncs end to end,
# that the echo of the syncer's own writes transfers nothing, that a syncer
# killed in the middle is restarted and catches up without duplicates, and
# that a mailbox the channel does not cover fails for good.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/dovecot.sh"

dovecot_available
. "$top_srcdir/tests/helpers/sync-lib.sh"

plan 18

dovecot_setup || { echo "Bail out! the Dovecot fixture did not start"; exit 1; }
dovecot_seed "INBOX lists" 10 > /dev/null || { echo "Bail out! seeding failed"; exit 1; }

# Dovecot makes a folder's new/ only when it first needs it; the server
# watcher must find it there from the start (watch_maildirs watches the
# new/ and cur/ that exist when it starts).
dovecot_as_mail mkdir -p "$DOVECOT_MAILDIR/new" "$DOVECOT_MAILDIR/cur" "$DOVECOT_MAILDIR/tmp"
MAIL=$T_DIR/Mail
sync_write_rc "$T_DIR/mbsyncrc" imaps Maildir++ "$MAIL" \
  "Patterns * !excluded" "Create Both" "Expunge Both" "SyncState *"
sync_make_folder "$MAIL"
cat > "$T_DIR/mswatchrc" <<EOF
syncer sync_imap -V -c $T_DIR/mbsyncrc --serve c
# The server watcher sees a delivery's rename before the delivering Dovecot
# process has given it a UID; a sync started at once may find nothing yet
# and nothing would report it again.  A second's delay (1.2's default is
# 15) covers that window.
base_delay 1
inter_delay 1
store local {
  watch watch_maildirs -m $MAIL
}
store server {
  watch watch_maildirs -m $DOVECOT_MAILDIR
}
EOF

LOG=$T_DIR/log
XDG_RUNTIME_DIR=$T_DIR; export XDG_RUNTIME_DIR
mswatch -c "$T_DIR/mswatchrc" > "$LOG" 2>&1 &
MSWATCH=$!
at_exit "kill $MSWATCH; wait $MSWATCH"

local_ids () { { sync_local "$MAIL"; sync_local "$MAIL/.lists"; } | cut -d' ' -f1 | LC_ALL=C sort; }
server_ids () { { sync_server INBOX; sync_server lists; } | cut -d' ' -f1 | LC_ALL=C sort; }
count_is () { [ "$(local_ids | grep -c .)" -eq "$1" ]; }
serve_pid () { pgrep -f "sync_imap -V -c $T_DIR/mbsyncrc --serve" | head -n 1; }
pulled () { sync_pulled "$LOG"; }
pushed () { sync_pushed "$LOG"; }

check "the startup syncs bring all 20 messages" wait_until 60 count_is 20

# --- server -> local, and the echo ------------------------------------------------
id=$(sync_add_server INBOX)
arrived () { local_ids | grep -qxF -- "$id"; }
check "a message appended on the server arrives in the local INBOX" wait_until 30 arrived
# The delivery makes the local watcher report INBOX: that echo, and every
# later sync, must find nothing to move.  Give the echo time to be answered
# (mswatch logs each completed sync) and count what crossed.
synced_since () { [ "$(grep -c '^Sync completed' "$LOG")" -gt "$1" ]; }
n=$(grep -c '^Sync completed' "$LOG")
wait_until 3 synced_since "$n" || :
is "exactly 21 messages were pulled in all (no echo transfer)" "$(pulled)" 21
is "nothing was pushed" "$(pushed)" 0

# --- local -> server --------------------------------------------------------------
sync_local_flags "$MAIL" "$id" FS
flagged () { sync_server INBOX | grep -qxF -- "$id FS"; }
check "a flag set locally reaches the server" wait_until 30 flagged
lid=$(sync_add_local "$MAIL/.lists")
on_server () { sync_server lists | grep -q -F -- "$lid"; }
check "a message filed locally reaches the server's folder" wait_until 30 on_server
is "one message was pushed in all" "$(pushed)" 1

# --- the syncer killed in the middle of work --------------------------------------
old=$(serve_pid)
i=0
while [ $i -lt 5 ]; do sync_add_server lists > /dev/null; i=$((i + 1)); done
kill -9 "$old" 2>/dev/null
restarted () { p=$(serve_pid); [ -n "$p" ] && [ "$p" != "$old" ]; }
check "mswatch restarts the killed syncer" wait_until 30 restarted
check "after the restart everything is in step (27 messages)" wait_until 60 count_is 27
is "no message is duplicated on either side" \
  "$(local_ids | uniq -d | grep -c .) $(server_ids | uniq -d | grep -c .)" "0 0"
is "both sides hold the same messages" "$(local_ids | tr '\n' ' ')" "$(server_ids | tr '\n' ' ')"

# --- a mailbox the channel leaves out ------------------------------------------------
sync_add_server excluded > /dev/null
refused () { grep -q 'excluded.*failed permanently' "$LOG"; }
check "a server folder the channel leaves out fails for good, with a message" wait_until 30 refused

# --- the syncer's connections, in the log and the status report ---------------------
status_connection () { mswatch --status -c "$T_DIR/mswatchrc" 2>/dev/null | sed -n 's/^Syncer connection: //p'; }
connection_open () { status_connection | grep -qE '^[1-4] of 4 connections open to 127\.0\.0\.1 \(since [0-9-]+ [0-9:]+\)$'; }
check "the log says how the syncer's connections are" grep -qE '^Syncer connection: [0-4] of 4 connections open to 127\.0\.0\.1$' "$LOG"
check "... and so does the status report" wait_until 10 connection_open
# The server goes away; a wake-up restarts the syncer, whose sync of all
# mailboxes then cannot connect.
dovecot_stop
# Idle, the syncer sees its connections closed without a sync.
connection_closed () { status_connection | grep -qE '^0 of 4 connections open to 127\.0\.0\.1 \(since '; }
check "with the server gone, the idle syncer's connections show closed" wait_until 10 connection_closed
kill -USR2 "$MSWATCH"
connection_down () { status_connection | grep -qE '^down: .* \([0-9]+ failed attempts? in a row\) \(since '; }
check "with the server gone: down, with the reason" wait_until 30 connection_down
dovecot_restart || diag "Dovecot did not come back"
kill -USR2 "$MSWATCH"
check "... and open again once it is back and the next sync ran" wait_until 30 connection_open
check "the JSON report has it too" sh -c "mswatch --status --json -c '$T_DIR/mswatchrc' | grep -qE '\"connection\":\"[1-4] of 4 connections open to 127\\.0\\.0\\.1\",\"connection_since\":[0-9]+'"

