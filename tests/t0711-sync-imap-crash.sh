#!/bin/sh
# sync_imap killed at every step of a sync loses nothing and duplicates
# nothing (the notmuch T380 way).  One scripted change set (pulls, pushes, a
# new folder, flag changes both ways, deletions both ways, under Expunge
# Both and Expunge Far) is synced once without interruption to get the
# expected end state; then, from the same starting point each time, for
# N = 0, 1, 2, ... sync_imap runs with --die-after N (it must exit 99 before
# its step N+1), a clean run follows, and both sides must equal the
# expected state: the Maildir by message bodies and flags (file names
# aside), the server by Message-IDs and flags.  A further run must then have
# nothing to do.  The loop ends with the first N at which the run no longer
# dies.
#
# The same for pushes to a server that answers APPEND without APPENDUID
# (some of the messages without a Message-ID), and for the re-pairing after
# the server's UIDVALIDITY changed.  Then a connection that drops in the
# middle of a large download (a Tunnel cut after a number of bytes),
# followed by a run over a good connection.
#
# The server is reached through the preauth Tunnel, so that its whole mail
# store can be copied and put back between runs.  Each Tunnel holds a
# shared lock (flock -s; sync_imap opens several connections) for as long as
# its imap process lives, and the test takes that lock exclusively before it
# touches the store, so that no dying session still writes Dovecot's
# indexes while the store is replaced.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/dovecot.sh"
. "$top_srcdir/tests/helpers/sync-lib.sh"

dovecot_available
command -v flock >/dev/null 2>&1 || skip_all "flock not found (util-linux)"

# More steps than any run of the scenario takes: a bound on the loop if
# --die-after stopped working.
MAX_STEPS=300
# Seconds to wait for the last imap session to end.
IDLE_DEADLINE=20

L=$T_DIR/local
SNAP=$T_DIR/snap
LOCK=$T_DIR/imap.lock
RC=$T_DIR/rc
FOLDERS="INBOX work fresh keep"

if ! dovecot_setup; then
  echo "Bail out! the Dovecot fixture did not start"
  exit 1
fi
: > "$LOCK"
# Channel c expunges both sides; channel k, for the folder keep, only the
# server, so that Maildir copies stay behind (flagged T) as pairs lose their
# server side.
sync_write_rc "$RC" "Tunnel \"flock -s $LOCK $(dovecot_preauth_cmd)\"" Verbatim "$L" \
  "Patterns * !keep" "Create Both" "SyncState *" "Expunge Both"
printf '%s\n' "" "Channel k" "Far :far:" "Near :near:" "Patterns keep" "Create Both" \
  "SyncState *" "Expunge Far" >> "$RC"

# server_idle: no imap session of ours runs any more.
server_idle () { flock -w "$IDLE_DEADLINE" "$LOCK" true; }

snapshot () {
  server_idle || return 1
  rm -rf "$SNAP" && mkdir -p "$SNAP" &&
    cp -a "$DOVECOT_MAILDIR" "$SNAP/server" && cp -a "$L" "$SNAP/local"
}
restore () {
  server_idle || return 1
  rm -rf "$DOVECOT_MAILDIR" "$L" &&
    cp -a "$SNAP/server" "$DOVECOT_MAILDIR" && cp -a "$SNAP/local" "$L"
}

# end_state: what both sides hold, folder by folder.
end_state () {
  local f
  for f in $FOLDERS; do
    echo "== Maildir $f"
    sync_local_bodies "$L/$f"
  done
  echo "== server"
  # shellcheck disable=SC2086
  sync_server_all $FOLDERS
}

# --- the starting point ---------------------------------------------------------
dovecot_seed INBOX 8 && dovecot_seed "work keep" 4 || { echo "Bail out! seeding failed"; exit 1; }
sync_run "$T_DIR/initial.log" -c "$RC" c k
sync_exit_is "initial sync" 0

inbox=$(sync_local "$L/INBOX")
work=$(sync_local "$L/work")
set -- $(sync_first_ids "$inbox" 6)
sync_add_server INBOX > /dev/null
sync_add_server INBOX '\Seen \Flagged' > /dev/null
sync_add_server INBOX > /dev/null
sync_add_server work '\Answered' > /dev/null
sync_add_local "$L/INBOX" > /dev/null
sync_add_local "$L/INBOX" S > /dev/null
sync_add_local "$L/work" FS > /dev/null
sync_add_local "$L/fresh" > /dev/null
sync_server_flags INBOX "$1" +FLAGS '\Flagged'
sync_local_flags "$L/INBOX" "$2" S
sync_server_flags INBOX "$3" +FLAGS '\Seen'
sync_local_flags "$L/INBOX" "$3" R
sync_server_expunge INBOX "$4"
sync_local_rm "$L/INBOX" "$5"
sync_local_flags "$L/INBOX" "$6" ST
set -- $(sync_first_ids "$work" 2)
sync_local_flags "$L/work" "$1" R
sync_server_flags work "$2" +FLAGS '\Seen'
set -- $(sync_first_ids "$(sync_local "$L/keep")" 4)
sync_server_flags keep "$1" +FLAGS '\Deleted'
sync_local_rm "$L/keep" "$2"
sync_server_expunge keep "$3"
sync_local_flags "$L/keep" "$4" F
snapshot || { echo "Bail out! cannot copy the mail"; exit 1; }

# --- the uninterrupted run ------------------------------------------------------------
sync_run "$T_DIR/expected.log" -V -c "$RC" c k
sync_exit_is "uninterrupted run" 0
expected=$(end_state)
printf '%s\n' "$expected" > "$T_DIR/expected.state"
is "... pulled 4, pushed 4" "$(sync_pulled "$SYNC_LOG") $(sync_pushed "$SYNC_LOG")" "4 4"
is "... leaving 18 messages on the server and 20 in the Maildir" \
  "$(printf '%s\n' "$expected" | sed -n '/^== server/,$p' | grep -vc '^==') $(printf '%s\n' "$expected" | sed '/^== server/,$d' | grep -vc '^==')" \
  "18 20"
for f in INBOX work fresh; do
  sync_same "... $f agrees on both sides" "$(sync_local "$L/$f")" "$(sync_server "$f")"
done
sync_same "... keep too, but for the Maildir copies of what the server expunged, flagged T" \
  "$(sync_local "$L/keep" | grep -v ' [A-Z]*T$')" "$(sync_server keep)"
is "... there are two of those" "$(sync_local "$L/keep" | grep -c ' [A-Z]*T$')" 2

# --- killed at step N ------------------------------------------------------------------
# kill_loop RC CHANNEL...: for N = 0, 1, ... from the snapshot: a run of
# CHANNEL... killed before step N+1, a clean run, the end state compared
# with $T_DIR/expected.state, and a run that must find nothing to do; up
# to the first N the run survives.  KILL_STEPS gets that N.
kill_loop () {
  local rc=$1 n=0 died rerun state idle desc
  shift
  while [ "$n" -le "$MAX_STEPS" ]; do
    restore || { not_ok "restoring the starting point for N=$n"; break; }
    # One connection for the run that dies: "step N" then names one point
    # of one mailbox's sync (with several, the other threads would be cut
    # wherever they are, and N would mean something else each time).
    sync_run "$T_DIR/die-$n.log" --die-after "$n" --connections 1 -c "$rc" "$@"
    died=$SYNC_RC
    if [ "$died" = 0 ]; then
      sync_same "--die-after $n: the run completes, as the uninterrupted one" "$(end_state)" "$expected"
      break
    fi
    sync_run "$T_DIR/rerun-$n.log" -c "$rc" "$@"
    rerun=$SYNC_RC
    state=$(end_state)
    sync_run "$T_DIR/idle-$n.log" -V -c "$rc" "$@"
    idle="$SYNC_RC $(sync_pulled "$SYNC_LOG") $(sync_pushed "$SYNC_LOG")"
    desc="--die-after $n: exits 99, the next run exits 0 and gives the uninterrupted result"
    if [ "$died" = 99 ] && [ "$rerun" = 0 ] && [ "$state" = "$expected" ] && [ "$idle" = "0 0 0" ]; then
      ok "$desc"
    else
      not_ok "$desc"
      diag "exit $died, then $rerun; the run after: exit, pulled, pushed = $idle"
      [ "$rerun" = 0 ] || diag "$(tail -n 5 "$T_DIR/rerun-$n.log")"
      printf '%s\n' "$state" > "$T_DIR/state-$n"
      diag "$(diff -u "$T_DIR/expected.state" "$T_DIR/state-$n" | tail -n +3)"
    fi
    n=$((n + 1))
  done
  KILL_STEPS=$n
}

kill_loop "$RC" c k
check "the kill loop ended after $KILL_STEPS steps (below $MAX_STEPS)" \
  test "$KILL_STEPS" -gt 10 -a "$KILL_STEPS" -lt "$MAX_STEPS"

# --- the same for pushes to a server that answers without APPENDUID -------------------------
# The appended messages are found again by Message-ID, and those without one
# by size and order, also after a crash (the journal's '>' lines).
RC_ANON=$T_DIR/rc-anon
sync_write_rc "$RC_ANON" "Tunnel \"flock -s $LOCK sh $SYNC_HELPERS/sync-no-appenduid.sh $(dovecot_preauth_cmd)\"" \
  Verbatim "$L" "Patterns anon" "Create Both" "SyncState *"
FOLDERS=anon
dovecot_seed anon 2
sync_run "$T_DIR/anon-initial.log" -c "$RC_ANON" c
sync_add_local_anonymous "$L/anon" > /dev/null
sync_add_local "$L/anon" S > /dev/null
sync_add_local_anonymous "$L/anon" > /dev/null
sync_add_server anon > /dev/null
snapshot || { echo "Bail out! cannot copy the mail"; exit 1; }
sync_run "$T_DIR/anon-expected.log" -V -c "$RC_ANON" c
sync_exit_is "anon: the uninterrupted run" 0
is "... pulled 1, pushed 3" "$(sync_pulled "$SYNC_LOG") $(sync_pushed "$SYNC_LOG")" "1 3"
expected=$(end_state)
printf '%s\n' "$expected" > "$T_DIR/expected.state"
sync_same "... the sides agree" "$(sync_local "$L/anon")" "$(sync_server anon)"
kill_loop "$RC_ANON" c
check "anon: the kill loop ended after $KILL_STEPS steps" test "$KILL_STEPS" -gt 5 -a "$KILL_STEPS" -lt "$MAX_STEPS"

# --- and for a sync that pairs messages again after a UIDVALIDITY change -------------------
RC_UV=$T_DIR/rc-uv
sync_write_rc "$RC_UV" "Tunnel \"flock -s $LOCK $(dovecot_preauth_cmd)\"" Verbatim "$L" \
  "Patterns uv" "Create Both" "SyncState *"
FOLDERS=uv
dovecot_seed uv 5
sync_run "$T_DIR/uv-initial.log" -c "$RC_UV" c
sync_local_flags "$L/uv" "$(sync_first_ids "$(sync_local "$L/uv")" 1)" F
server_idle
dovecot_reset_uids uv
sync_add_server uv > /dev/null
snapshot || { echo "Bail out! cannot copy the mail"; exit 1; }
sync_run "$T_DIR/uv-expected.log" -V -c "$RC_UV" c
sync_exit_is "uv: the uninterrupted run after a UIDVALIDITY change" 0
is "... pulls only the new message" "$(sync_pulled "$SYNC_LOG") $(sync_count "$L/uv")" "1 6"
expected=$(end_state)
printf '%s\n' "$expected" > "$T_DIR/expected.state"
sync_same "... the sides agree" "$(sync_local "$L/uv")" "$(sync_server uv)"
kill_loop "$RC_UV" c
check "uv: the kill loop ended after $KILL_STEPS steps" test "$KILL_STEPS" -gt 5 -a "$KILL_STEPS" -lt "$MAX_STEPS"

# --- a first download in slices --------------------------------------------------------
# A new mailbox larger than a slice (the test knob makes a slice 3
# messages) is listed, fetched and committed slice by slice.  Killed at
# every step of that, the next run completes it: nothing lost, nothing
# twice, and the flags as on the server.
RC_SL=$T_DIR/rc-sliced
sync_write_rc "$RC_SL" "Tunnel \"flock -s $LOCK $(dovecot_preauth_cmd)\"" Verbatim "$L" \
  "Patterns sliced" "Create Both" "SyncState *"
FOLDERS=sliced
dovecot_seed sliced 6
sync_add_server sliced '\Seen' > /dev/null
set -- $(sync_first_ids "$(sync_server sliced)" 2)
sync_server_flags sliced "$2" +FLAGS '\Flagged'
snapshot || { echo "Bail out! cannot copy the mail"; exit 1; }
sync_run "$T_DIR/sliced-expected.log" -V -c "$RC_SL" --first-slice 3 c
sync_exit_is "sliced: the uninterrupted first download of 7 messages in slices of 3" 0
is "... lists three slices" "$(grep -c 'first download, UIDs' "$SYNC_LOG")" 3
is "... pulls 7" "$(sync_pulled "$SYNC_LOG")" 7
expected=$(end_state)
printf '%s\n' "$expected" > "$T_DIR/expected.state"
sync_same "... the sides agree, flags too" "$(sync_local "$L/sliced")" "$(sync_server sliced)"
kill_loop "$RC_SL" --first-slice 3 c
check "sliced: the kill loop ended after $KILL_STEPS steps" test "$KILL_STEPS" -gt 5 -a "$KILL_STEPS" -lt "$MAX_STEPS"

# --- a connection that drops mid-download ------------------------------------------------
B=$T_DIR/big
dovecot_seed big 40
bytes=$(du -sb "$(dovecot_folder_dir big)/cur" | cut -f 1)
sync_write_rc "$T_DIR/rc-cut" \
  "Tunnel \"sh $SYNC_HELPERS/sync-cut-tunnel.sh $((bytes / 2)) $(dovecot_preauth_cmd)\"" \
  Verbatim "$B" "Patterns big" "Create Both" "SyncState *" "Expunge Both"
sync_write_rc "$T_DIR/rc-good" tunnel Verbatim "$B" "Patterns big" "Create Both" "SyncState *" "Expunge Both"
sync_run "$T_DIR/cut.log" -c "$T_DIR/rc-cut" c
sync_exit_is "the connection drops halfway through 40 messages: the sync fails" 1
sync_log_has "... saying so" "$SYNC_LOG" "closed the connection"
got=$(sync_count "$B/big")
check "... after storing some of them ($got)" test "$got" -gt 0 -a "$got" -lt 40
is "... every stored message is whole (its Message-ID found)" "$(sync_local "$B/big" | grep -c '^(none)')" 0
sync_run "$T_DIR/cut-rerun.log" -V -c "$T_DIR/rc-good" c
sync_exit_is "the next run over a good connection exits 0" 0
is "... pulling only the rest" "$(sync_pulled "$SYNC_LOG")" "$((40 - got))"
sync_same "... the Maildir holds the 40 messages once each" "$(sync_local "$B/big")" "$(sync_server big)"
is "... and the server still has 40" "$(dovecot_status big MESSAGES)" 40

plan "$T_N"
