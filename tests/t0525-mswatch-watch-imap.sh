#!/bin/sh
# t0525-mswatch-watch-imap.sh — mswatch end to end with watch_imap as the
# server's watcher: the resident syncer (`sync_imap --serve`), watch_maildirs
# on the local Maildir and watch_imap on the test Dovecot (NOTIFY), with
# base_delay 0 and periodic syncs off.  Checks that the startup syncs bring
# the seeded mail of three folders (one nested); that mail appended on the
# server arrives because watch_imap reported its folder; that flag changes
# and expunges on the server, and flag changes made locally, cross over;
# that a server restart makes watch_imap exit non-zero, mswatch restart it
# and sync everything, so that mail appended while the server was down
# arrives, and that the syncer, whose connection died too, carries on; and
# that at the end both sides hold the same messages, none twice.
#
# Each watcher runs under a small recorder (written below) that passes its
# output to mswatch unchanged and keeps a copy of every line, plus the
# watcher's exit status: the test can then tell which watcher reported a
# folder, and how watch_imap ended.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/dovecot.sh"

[ -x "$top_builddir/watch_imap" ] || skip_all "watch_imap is not built"
dovecot_available
. "$top_srcdir/tests/helpers/sync-lib.sh"

plan 37

# Seconds allowed for one step to show its effect.  Each normally takes a
# fraction of a second; the margin is for a loaded machine.
STEP=20

dovecot_setup || { echo "Bail out! the Dovecot fixture did not start"; exit 1; }
FOLDERS="INBOX lists lists.debian"
dovecot_seed "$FOLDERS" 3 > /dev/null || { echo "Bail out! seeding failed"; exit 1; }

MAIL=$T_DIR/Mail
RC=$T_DIR/mbsyncrc
sync_write_rc "$RC" imaps Maildir++ "$MAIL" "Patterns *" "Create Both" "Expunge Both" "SyncState *"
sync_make_folder "$MAIL"

# The status socket goes in a directory of this test's own (mswatch wants
# it closed to others; $T_DIR is open to the mail owner, see dovecot.sh).
mkdir -m 700 "$T_DIR/run"
XDG_RUNTIME_DIR=$T_DIR/run
export XDG_RUNTIME_DIR

# record NAME PROGRAM ARG...: runs the watcher with mswatch's stdin and
# stderr; its output goes to mswatch through tee, which keeps a copy of
# every line in NAME.lines, and its exit status, when it ends, is appended
# to NAME.rc as "exit N".  mswatch stops a watcher with SIGTERM, sent to
# the recorder: it passes that on (watch_maildirs, unlike watch_imap, does
# not end when its stdin closes).  An asynchronous command's stdin would be
# /dev/null: fd 3 hands mswatch's pipe over.
cat > "$T_DIR/record" <<'EOF'
name=$1
shift
rm -f "$name.fifo"
mkfifo "$name.fifo" || exit 1
tee -a "$name.lines" < "$name.fifo" &
exec 3<&0
"$@" <&3 3<&- > "$name.fifo" &
pid=$!
exec 3<&-
trap 'kill -TERM "$pid" 2> /dev/null' TERM
# A trapped signal ends the first wait early; the second gets the status.
wait "$pid"
rc=$?
kill -0 "$pid" 2> /dev/null && { wait "$pid"; rc=$?; }
echo "exit $rc" >> "$name.rc"
exit "$rc"
EOF

# The syncer takes no second look at a mailbox it found unchanged (it would
# 200 ms later: see t0715), so that every server change here is brought by
# watch_imap's report and the sync mswatch starts for it.
cat > "$T_DIR/mswatchrc" <<EOF
syncer sync_imap -V -c $RC --serve c --recheck-after 3600000
base_delay 0
inter_delay 1
# Restarts of a watcher that cannot start (while the server is down) are
# spaced 1, 2, 2, 4, 4... seconds: this keeps the wait after the server is
# back short.
max_delay 4
# No periodic syncs: every sync after the startup is a change sync or the
# full sync after a watcher restart.
poll_period 0
store local {
  watch sh $T_DIR/record $T_DIR/local watch_maildirs -m $MAIL
}
store server {
  watch sh $T_DIR/record $T_DIR/server watch_imap -V -c $RC c
}
EOF

# At the end, once mswatch has stopped them, the recorders must be gone
# before $T_DIR is removed.
recorders_gone () { ! pgrep -f "sh $T_DIR/record " > /dev/null; }
at_exit "wait_until 10 recorders_gone"

LOG=$T_DIR/log
mswatch -c "$T_DIR/mswatchrc" > "$LOG" 2>&1 &
MSWATCH=$!
at_exit "kill $MSWATCH; wait $MSWATCH"

# local_dir FOLDER: the Maildir folder of a server folder (Maildir++).
local_dir () { if [ "$1" = INBOX ]; then echo "$MAIL"; else echo "$MAIL/.$1"; fi; }
# local_all / server_all: "FOLDER MESSAGE-ID FLAGS" for every message of
# the three folders, sorted, on each side.  While the syncer renames a file
# the listing may miss it and awk complains; the waits call this again, and
# the comparisons are made when nothing moves.
local_all () {
  local f
  for f in $FOLDERS; do sync_local "$(local_dir "$f")" 2> /dev/null | sed "s/^/$f /"; done | LC_ALL=C sort
}
# shellcheck disable=SC2086
server_all () { sync_server_all $FOLDERS; }
local_ids () { local_all | cut -d' ' -f1,2; }
server_ids () { server_all | cut -d' ' -f1,2; }
count_is () { [ "$(local_ids | grep -c .)" -eq "$1" ]; }
has_local () { local_ids | grep -qxF -- "$1 $2"; }
lacks_local () { ! has_local "$1" "$2"; }
local_flags_are () { local_all | grep -qxF -- "$1 $2 $3"; }
server_flags_are () { sync_server "$1" | grep -qxF -- "$2 $3"; }

# The log and the recorded watcher lines from a mark on.
log_mark () { LOG_MARK=$(wc -l < "$LOG"); SERVER_MARK=$(wc -l < "$T_DIR/server.lines"); }
log_since () { tail -n +"$((LOG_MARK + 1))" "$LOG"; }
server_said () { tail -n +"$((SERVER_MARK + 1))" "$T_DIR/server.lines" | grep -qxF -- "$1"; }
first_sync_since () { log_since | grep -m 1 '^Sync started' | sed 's/.*(\(.*\))$/\1/'; }
pulled () { sync_pulled "$LOG"; }

# settled: mswatch has nothing to do: both watchers and the syncer run, no
# sync runs or is due, nothing is pending, no request is in flight.
settled () {
  mswatch --status -c "$T_DIR/mswatchrc" > "$T_DIR/status" 2> /dev/null &&
    grep -q '^Watcher local: running' "$T_DIR/status" &&
    grep -q '^Watcher server: running' "$T_DIR/status" &&
    grep -q '^Syncer: running for .*, 0 requests in flight$' "$T_DIR/status" &&
    grep -qx 'Sync: idle' "$T_DIR/status" &&
    grep -qx 'Next sync: none' "$T_DIR/status" &&
    ! grep -q '^Pending [a-z]*:.' "$T_DIR/status"
}
# echoed: the local watcher has reported every folder (the startup syncs
# wrote to all three).
echoed () {
  local f
  for f in $FOLDERS; do grep -qxF -- "$f" "$T_DIR/local.lines" 2> /dev/null || return 1; done
}
# quiet_now: the echo of the startup syncs has been answered and nothing is
# left to do, so that from now on only the test's changes start syncs.
quiet_now () { echoed && settled; }

# --- 1. startup ---------------------------------------------------------------------
check "the startup syncs bring the 9 seeded messages" wait_until 30 count_is 9
is "... each in its folder (lists.debian nested in lists)" "$(local_ids)" "$(server_ids)"
check "watch_imap watches the server by NOTIFY" file_has "$LOG" "by NOTIFY"
check "everything settles after the startup" wait_until "$STEP" quiet_now
check "periodic syncs are off" file_has "$T_DIR/status" "Next poll: off"

# --- 2. server -> local, started by watch_imap -------------------------------------------
log_mark
pulled0=$(pulled)
id=$(sync_add_server INBOX)
check "a message appended on the server arrives in the local INBOX" \
  wait_until "$STEP" has_local INBOX "$id"
check "... watch_imap reported INBOX" server_said INBOX
is "... and the first sync after the append was of one mailbox (a change sync)" \
  "$(first_sync_since)" "1 mailbox"
if log_since | grep -q '(all mailboxes)'; then
  not_ok "... and no sync of all mailboxes ran (no poll, no restart)"
else
  ok "... and no sync of all mailboxes ran (no poll, no restart)"
fi
# The syncer logs each mailbox it syncs; its first pull of INBOX since the
# mark must come after mswatch started that sync (the syncer also re-syncs
# on its own right after a change, which must not be what brought it).
pulled_by_sync () {
  log_since | awk '/^Sync started/ && !s { s = NR } /^sync_imap: INBOX: 1 pulled/ && !p { p = NR }
    END { exit !(s && p && s < p) }'
}
check "... pulled by the sync mswatch started" pulled_by_sync
is "... exactly one message was pulled" "$(( $(pulled) - pulled0 ))" 1

# --- 3. flags and expunges on the server -> local ----------------------------------------
check "settled again" wait_until "$STEP" settled
log_mark
deb1=$(sync_server lists.debian | head -n 1 | cut -d' ' -f1)
lst1=$(sync_server lists | head -n 1 | cut -d' ' -f1)
sync_server_flags lists.debian "$deb1" +FLAGS '\Flagged \Answered'
check "flags set on the server in the nested folder reach the local copy" \
  wait_until "$STEP" local_flags_are lists.debian "$deb1" FR
check "... watch_imap reported lists.debian" server_said lists.debian
sync_server_expunge lists "$lst1"
check "a message expunged on the server is removed locally" wait_until "$STEP" lacks_local lists "$lst1"
check "... watch_imap reported lists" server_said lists

# --- 4. local -> server ------------------------------------------------------------------
sync_local_flags "$MAIL" "$id" FS
check "flags set locally reach the server" wait_until "$STEP" server_flags_are INBOX "$id" FS

# --- 5. the server restarts ----------------------------------------------------------------
check "settled before the restart" wait_until "$STEP" settled
log_mark
serve_pid () { pgrep -f "sync_imap -V -c $RC --serve" | head -n 1; }
syncer0=$(serve_pid)
starts0=$(count_lines "$LOG" "Starting server watcher")
exited () { test -s "$T_DIR/server.rc"; }
check "dovecot stops" dovecot_stop
check "watch_imap exits when its connection is cut" wait_until "$STEP" exited
is "... with status 2" "$(head -n 1 "$T_DIR/server.rc")" "exit 2"
said_why () {
  log_since | grep '^watch_imap: ' | grep -q 'connection lost.*exiting so that a restart syncs everything'
}
check "... saying why" said_why
logged_end () { log_since | grep -Eq '^Error: server watcher (connection closed by|exited)'; }
check "mswatch logs the end of the server watcher" wait_until "$STEP" logged_end
# The preauth imap needs no running server: this mail arrives while
# nothing watches the server, and watch_imap will never report it.
down1=$(sync_add_server INBOX)
down2=$(sync_add_server lists.debian)
check "dovecot starts again" dovecot_start
restarted () { [ "$(count_lines "$LOG" "Starting server watcher")" -gt "$starts0" ] && settled; }
check "mswatch restarts watch_imap" wait_until 30 restarted
synced_all () { log_since | grep -q '^Sync started at .* (all mailboxes)$'; }
check "a sync of all mailboxes followed the restart" synced_all
check "mail appended while the server was down arrives (INBOX)" wait_until "$STEP" has_local INBOX "$down1"
check "... and in the nested folder" wait_until "$STEP" has_local lists.debian "$down2"
once_each () {
  [ "$(local_ids | grep -cxF -e "INBOX $down1" -e "lists.debian $down2")" -eq 2 ] &&
    [ "$(server_ids | grep -cxF -e "INBOX $down1" -e "lists.debian $down2")" -eq 2 ]
}
check "... each once on both sides" once_each
diag "watch_imap runs ended with: $(tr '\n' ' ' < "$T_DIR/server.rc")"
syncer1=$(serve_pid)
diag "syncer pid before the restart $syncer0, after $syncer1"

check "settled after the restart" wait_until "$STEP" settled
log_mark
later=$(sync_add_server lists)
check "the syncer recovered: a later append arrives" wait_until "$STEP" has_local lists "$later"
check "... reported by the new watch_imap" server_said lists
is "... in a change sync of one mailbox" "$(first_sync_since)" "1 mailbox"

# --- 6. both sides at the end ----------------------------------------------------------------
check "settled at the end" wait_until "$STEP" settled
is "12 messages locally (9 + 4 appended - 1 expunged)" "$(local_ids | grep -c .)" 12
is "no message is duplicated on either side" \
  "$(local_ids | uniq -d | grep -c .) $(server_ids | uniq -d | grep -c .)" "0 0"
sync_same "both sides hold the same messages with the same flags" "$(local_all)" "$(server_all)"
