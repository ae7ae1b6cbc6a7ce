#!/bin/sh
# sync_imap takes over from mbsync, and mbsync back from sync_imap, with the
# same ~/.mbsyncrc: after mbsync has synced a seeded server, sync_imap must
# download nothing, duplicate nothing and change nothing on the server; the
# changes made after that must sync; and mbsync run again afterwards must
# find nothing to do.  Twice: with the state in each folder (SyncState *)
# and a Verbatim tree, and with mbsync's default state directory ~/.mbsync/
# (HOME pointing into the test directory) and a Maildir++ tree.  One server
# folder is accented ("été"): both programs name its Maildir folder as the
# server does, in modified UTF-7; a folder a MUA made in UTF-8 is refused
# with the name it should have.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/dovecot.sh"
. "$top_srcdir/tests/helpers/sync-lib.sh"

dovecot_available
command -v mbsync >/dev/null 2>&1 || skip_all "mbsync not found (install isync)"

plan 56

if ! dovecot_setup; then
  echo "Bail out! the Dovecot fixture did not start"
  exit 1
fi
# "&AOk-t&AOk-" is "été" in modified UTF-7: mbsync 1.4 names its folder so.
# (Appended through IMAP: the seeder asks doveadm, which takes UTF-8 names.)
ETE='&AOk-t&AOk-'
dovecot_seed INBOX 6 && dovecot_seed "box01 box02" 3 &&
  for i in 1 2 3; do sync_add_server "$ETE" > /dev/null || exit 1; done || { echo "Bail out! seeding failed"; exit 1; }
dovecot_store INBOX 1:2 +FLAGS '\Seen'
dovecot_store INBOX 3 +FLAGS '\Flagged \Answered'
dovecot_store box01 1 +FLAGS '\Seen \Draft'

FOLDERS="INBOX box01 box02 $ETE"
HOME=$T_DIR/home
export HOME
mkdir -p "$HOME"

# folder_dir ROOT LAYOUT BOX: where BOX lives in the tree.
folder_dir () {
  case $2:$3 in
    Maildir++:INBOX) echo "$1" ;;
    Maildir++:*) echo "$1/.$3" ;;
    *) echo "$1/$3" ;;
  esac
}

# tree_names ROOT LAYOUT: every message file name of every folder.
tree_names () {
  local f
  for f in $FOLDERS; do echo "== $f"; sync_names "$(folder_dir "$1" "$2" "$f")"; done
}

# server_state: every server message with its flags, and the counters that
# any change (even a flag) moves.
server_state () {
  local f
  for f in $FOLDERS; do
    echo "== $f $(dovecot_status "$f" UIDNEXT) $(dovecot_status "$f" HIGHESTMODSEQ)"
    dovecot_messages "$f"
  done
}

# adoption NAME LAYOUT [CHANNEL-LINE...]: the whole round for one setup.
adoption () {
  local name=$1 layout=$2 root=$T_DIR/$1 rc=$T_DIR/rc-$1 names server far near f dir
  shift 2
  sync_write_rc "$rc" tunnel "$layout" "$root" "$@"

  mbsync -c "$rc" c > "$T_DIR/$name-mbsync1.log" 2>&1
  is "$name: mbsync syncs first (exit 0)" "$?" 0
  names=$(tree_names "$root" "$layout")
  server=$(server_state)

  sync_run "$T_DIR/$name-adopt.log" -V -c "$rc" c
  sync_exit_is "$name: sync_imap with the same rc exits 0" 0
  is "$name: ... downloads and uploads nothing" "$(sync_pulled "$SYNC_LOG") $(sync_pushed "$SYNC_LOG")" "0 0"
  sync_same "$name: ... touches no local file" "$(tree_names "$root" "$layout")" "$names"
  sync_same "$name: ... changes nothing on the server" "$(server_state)" "$server"
  for f in $FOLDERS; do
    dir=$(folder_dir "$root" "$layout" "$f")
    sync_same "$name: ... $f agrees with the server" "$(sync_local "$dir")" "$(sync_server "$f")"
  done

  # Changes after the adoption.
  dir=$(folder_dir "$root" "$layout" box01)
  far=$(sync_add_server box01 '\Flagged')
  near=$(sync_add_local "$dir" S)
  sync_local_flags "$dir" "$(sync_first_ids "$(sync_local "$dir" | grep '^<seed')" 1)" R
  sync_server_flags INBOX "$(sync_first_ids "$(sync_server INBOX)" 1)" +FLAGS '\Answered'
  sync_run "$T_DIR/$name-after.log" -V -c "$rc" c
  sync_exit_is "$name: changes after the adoption sync (exit 0)" 0
  is "$name: ... one message each way" "$(sync_pulled "$SYNC_LOG") $(sync_pushed "$SYNC_LOG")" "1 1"
  is "$name: ... the server's new message arrived, flagged" "$(sync_msg_flags "$(sync_local "$dir")" "$far")" F
  is "$name: ... the local one too, seen" "$(sync_msg_flags "$(sync_server box01)" "$near")" S
  for f in INBOX box01; do
    sync_same "$name: ... $f agrees with the server" \
      "$(sync_local "$(folder_dir "$root" "$layout" "$f")")" "$(sync_server "$f")"
  done

  # And mbsync takes over again.
  names=$(tree_names "$root" "$layout")
  server=$(server_state)
  mbsync -V -c "$rc" c > "$T_DIR/$name-mbsync2.log" 2>&1
  is "$name: mbsync after sync_imap exits 0" "$?" 0
  sync_same "$name: ... touches no local file" "$(tree_names "$root" "$layout")" "$names"
  sync_same "$name: ... changes nothing on the server" "$(server_state)" "$server"
  check "$name: ... and reports no error or warning" \
    sh -c '! grep -iE "error|warning" "$1"' x "$T_DIR/$name-mbsync2.log"
}

adoption instate Verbatim "Patterns *" "Create Both" "SyncState *"
check "instate: the state is in each folder" test -s "$T_DIR/instate/box01/.mbsyncstate"

# A folder made in UTF-8 (by a MUA) stands for no server folder: sync_imap
# names the folder it should be, creates nothing, and syncs the rest.
CAFE=$(printf 'caf\303\251')
mkdir -p "$T_DIR/instate/$CAFE/cur" "$T_DIR/instate/$CAFE/new" "$T_DIR/instate/$CAFE/tmp"
sync_add_local "$T_DIR/instate/$CAFE" S > /dev/null
far=$(sync_add_server box02)
sync_run "$T_DIR/utf8-folder.log" -c "$T_DIR/rc-instate" c
sync_exit_is "a folder named in UTF-8: sync_imap fails" 1
check "... saying what to rename it to" grep -qF "rename the folder to \"caf&AOk-\"" "$T_DIR/utf8-folder.log"
no_cafe_on_server () { ! dovecot_doveadm mailbox list -u "$DOVECOT_USER" | grep -qi caf; }
check "... creates no server folder for it" no_cafe_on_server
check "... and syncs the other folders" test -n "$(sync_local_file "$T_DIR/instate/box02" "$far")"
rm -rf "$T_DIR/instate/$CAFE"

# A crash in the middle of a download, then mbsync: the messages already in
# the Maildir are in sync_imap's journal, not in the state mbsync reads, so
# mbsync must refuse that mailbox (held off by what looks to it like an
# interrupted run of its own) instead of copying them again; sync_imap
# finishes the sync and takes that down, and mbsync then finds nothing to do.
B2=$T_DIR/instate/box02
for i in 1 2 3 4; do sync_add_server box02 > /dev/null; done
sync_run "$T_DIR/crash.log" --die-after 9 -c "$T_DIR/rc-instate" c:box02
sync_exit_is "a sync_imap killed in the middle of a download" 99
check "... left part of it in the Maildir" test "$(sync_count "$B2")" -gt 4
check "... and mbsync held off" grep -qxF "mswatch-ng: sync_imap was interrupted here; let sync_imap finish it" \
  "$B2/.mbsyncstate.journal"
local_before=$(sync_count "$B2")
server_before=$(dovecot_status box02 MESSAGES)
mbsync -c "$T_DIR/rc-instate" c > "$T_DIR/crash-mbsync.log" 2>&1
is "mbsync after the crash fails" "$?" 1
check "... saying to let sync_imap finish" grep -qF "let sync_imap finish it" "$T_DIR/crash-mbsync.log"
is "... and copies nothing either way" "$(sync_count "$B2") $(dovecot_status box02 MESSAGES)" "$local_before $server_before"
sync_run "$T_DIR/crash-finish.log" -c "$T_DIR/rc-instate" c
sync_exit_is "sync_imap then finishes it" 0
check "... and takes the fence down" test ! -e "$B2/.mbsyncstate.new" -a ! -e "$B2/.mbsyncstate.journal"
sync_same "... box02 agrees with the server" "$(sync_local "$B2")" "$(sync_server box02)"
mbsync -c "$T_DIR/rc-instate" c > "$T_DIR/crash-mbsync2.log" 2>&1
is "mbsync then exits 0" "$?" 0
is "... and copies nothing" "$(sync_count "$B2") $(dovecot_status box02 MESSAGES)" \
  "$(dovecot_status box02 MESSAGES) $(dovecot_status box02 MESSAGES)"

adoption homestate Maildir++ "Patterns *" "Create Both"
check "homestate: the state is in ~/.mbsync/" test -s "$HOME/.mbsync/:far:box01_:near:box01"
check "homestate: ... and not in the folders" test ! -e "$T_DIR/homestate/.box01/.mbsyncstate"
