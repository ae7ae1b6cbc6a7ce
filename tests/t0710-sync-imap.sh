#!/bin/sh
# sync_imap against a real Dovecot: the first sync over IMAPS, STARTTLS and
# the preauth Tunnel; then, over the Tunnel, what one sync does with every
# kind of change: new mail both ways, flags both ways with conflicts,
# deletions under each Expunge setting and without Sync Gone, folders
# created on either side, nested and non-ASCII folder names in both local
# layouts, a server whose UIDVALIDITY changed, a run with nothing to do, the
# safety refusals (mass deletion, a vanished Maildir root, names that leave
# the root), and servers that hide CONDSTORE/QRESYNC or UIDPLUS.
#
# Every check reads real state: the server through IMAP (dovecot_messages,
# dovecot_status, sync_server), the Maildir through its files (sync_local:
# Message-IDs and the flags in the file names).
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/dovecot.sh"
. "$top_srcdir/tests/helpers/sync-lib.sh"

dovecot_available

plan 139

if ! dovecot_setup; then
  echo "Bail out! the Dovecot fixture did not start"
  exit 1
fi
{ dovecot_seed INBOX 6 && dovecot_seed box01 3; } || { echo "Bail out! seeding failed"; exit 1; }

# has_local DIR MESSAGE-ID: the folder holds that message.
has_local () { [ -n "$(sync_local_file "$1" "$2")" ]; }

# --- the first sync, three ways ---------------------------------------------
for kind in imaps starttls tunnel; do
  root=$T_DIR/$kind
  sync_write_rc "$T_DIR/rc-$kind" "$kind" Verbatim "$root"
  sync_run "$T_DIR/first-$kind.log" -V -c "$T_DIR/rc-$kind" c
  sync_exit_is "first sync over $kind exits 0" 0
  is "... INBOX and box01 have 6 and 3 messages" \
    "$(sync_count "$root/INBOX") $(sync_count "$root/box01")" "6 3"
  sync_same "... INBOX holds what the server holds" "$(sync_local "$root/INBOX")" "$(sync_server INBOX)"
  sync_same "... and so does box01" "$(sync_local "$root/box01")" "$(sync_server box01)"
done
is "no credentials went over the wire outside TLS" "$(dovecot_clear_logins)" 0

# The rest runs over the Tunnel; rc-logged is the same channel through a
# Tunnel that records what sync_imap sends.
M=$T_DIR/tunnel
RC=$T_DIR/rc-tunnel
sync_write_rc "$T_DIR/rc-logged" tunnel-logged Verbatim "$M"

# --- nothing to do ------------------------------------------------------------
names=$(sync_names "$M/INBOX")
server=$(dovecot_messages INBOX)
modseq=$(dovecot_status INBOX HIGHESTMODSEQ)
sync_run "$T_DIR/noop.log" -V -c "$RC" c
sync_exit_is "a run with nothing to do exits 0" 0
is "... pulls and pushes nothing" "$(sync_pulled "$SYNC_LOG") $(sync_pushed "$SYNC_LOG")" "0 0"
sync_log_has "... and skips the unchanged server mailboxes" "$SYNC_LOG" "INBOX: 0 pulled, 0 pushed, 0/0 flags, 0 removed, 0 expunged (server unchanged)"
sync_same "... renames no file" "$(sync_names "$M/INBOX")" "$names"
sync_same "... changes nothing on the server" "$(dovecot_messages INBOX)" "$server"
is "... not even a flag (HIGHESTMODSEQ)" "$(dovecot_status INBOX HIGHESTMODSEQ)" "$modseq"

# --- new mail both ways -----------------------------------------------------------
far_new=$(sync_add_server INBOX)
near_new=$(sync_add_local "$M/box01")
sync_run "$T_DIR/new.log" -V -c "$RC" c
sync_exit_is "syncing new mail both ways exits 0" 0
is "... one message pulled, one pushed" "$(sync_pulled "$SYNC_LOG") $(sync_pushed "$SYNC_LOG")" "1 1"
check "... the server's new message is in the Maildir" has_local "$M/INBOX" "$far_new"
is "... the local one is on the server" "$(sync_ids "$(sync_server box01)" | grep -cxF -- "$near_new")" 1
sync_same "... INBOX agrees on both sides" "$(sync_local "$M/INBOX")" "$(sync_server INBOX)"
sync_same "... box01 agrees on both sides" "$(sync_local "$M/box01")" "$(sync_server box01)"
check "... the pushed message got its UID in the file name" \
  sh -c 'case "$1" in *,U=[0-9]*) exit 0 ;; esac; exit 1' x "$(sync_local_file "$M/box01" "$near_new")"
# The pull leaves the state the next run's plan would compute (MaxPushedUid
# over the pulled message too), so that run has nothing to commit.
state_inode=$(stat -c %i "$M/INBOX/.mbsyncstate")
sync_run "$T_DIR/new-again.log" -V -c "$RC" c
sync_exit_is "the run after it exits 0" 0
is "... and leaves INBOX's state file alone" "$(stat -c %i "$M/INBOX/.mbsyncstate")" "$state_inode"

# --- flags both ways, and conflicts -------------------------------------------------
# Six messages of INBOX, A..F.  E and F start out seen on both sides.
set -- $(sync_first_ids "$(sync_local "$M/INBOX")" 6)
A=$1 B=$2 C=$3 D=$4 E=$5 F=$6
sync_server_flags INBOX "$E" +FLAGS '\Seen'
sync_server_flags INBOX "$F" +FLAGS '\Seen'
sync_run "$T_DIR/flags0.log" -c "$RC" c
is "setup: E and F seen in the Maildir" \
  "$(sync_msg_flags "$(sync_local "$M/INBOX")" "$E") $(sync_msg_flags "$(sync_local "$M/INBOX")" "$F")" "S S"

sync_server_flags INBOX "$A" +FLAGS '\Flagged'       # server only
sync_local_flags "$M/INBOX" "$B" S                    # Maildir only
sync_server_flags INBOX "$C" +FLAGS '\Flagged'       # different bits
sync_local_flags "$M/INBOX" "$C" S
sync_server_flags INBOX "$D" +FLAGS '\Answered'      # the same bit, both set
sync_local_flags "$M/INBOX" "$D" R
sync_server_flags INBOX "$E" -FLAGS '\Seen'          # the same bit, both cleared
sync_local_flags "$M/INBOX" "$E" ""
sync_server_flags INBOX "$F" -FLAGS '\Seen'          # one clears, the other sets
sync_local_flags "$M/INBOX" "$F" FS
: > "$T_DIR/client.log"
sync_run "$T_DIR/flags.log" -V -c "$T_DIR/rc-logged" c
sync_exit_is "syncing flag changes exits 0" 0
check "... asking the server only for what changed (QRESYNC)" file_has "$T_DIR/client.log" "(CHANGEDSINCE "
far=$(sync_server INBOX)
near=$(sync_local "$M/INBOX")
is "server-only change reaches the Maildir" "$(sync_msg_flags "$near" "$A")" F
is "Maildir-only change reaches the server" "$(sync_msg_flags "$far" "$B")" S
is "different bits changed on both sides: both kept, server" "$(sync_msg_flags "$far" "$C")" FS
is "... and Maildir" "$(sync_msg_flags "$near" "$C")" FS
is "the same bit set on both sides" "$(sync_msg_flags "$far" "$D")/$(sync_msg_flags "$near" "$D")" R/R
is "the same bit cleared on both sides" "$(sync_msg_flags "$far" "$E")/$(sync_msg_flags "$near" "$E")" /
is "one side clears S, the other sets F" "$(sync_msg_flags "$far" "$F")/$(sync_msg_flags "$near" "$F")" F/F
sync_same "INBOX agrees on both sides after the flag sync" "$near" "$far"
is "... and no message was transferred for it" "$(sync_pulled "$SYNC_LOG") $(sync_pushed "$SYNC_LOG")" "0 0"
sync_run "$T_DIR/flags2.log" -V -c "$RC" c
sync_same "a second run changes no flag" "$(sync_local "$M/INBOX")" "$near"

# --- new mail fetched along with SELECT -------------------------------------------------
# The bodies of the first 16 UIDs above those the last run knew go out with
# SELECT; the plan takes them, the rest are fetched as before, and a body
# the plan turns down is dropped from tmp/.
next=$(dovecot_status INBOX UIDNEXT)
i=0
while [ $i -lt 20 ]; do
  sync_add_server INBOX > /dev/null || diag "appending to INBOX failed"
  i=$((i + 1))
done
: > "$T_DIR/client.log"
sync_run "$T_DIR/ahead.log" -V -c "$T_DIR/rc-logged" c:INBOX
sync_exit_is "20 new server messages: exits 0" 0
is "... all 20 pulled" "$(sync_pulled "$SYNC_LOG")" 20
check "... the first 16 asked for along with SELECT" file_has "$T_DIR/client.log" \
  "UID FETCH $next:$((next + 15)) (UID BODY.PEEK[])"
check "... only the other 4 fetched after the plan" file_has "$T_DIR/client.log" \
  "UID FETCH $((next + 16)):$((next + 19)) (UID BODY.PEEK[])"
is "... no other body fetched" "$(grep -c 'BODY.PEEK' "$T_DIR/client.log")" 2
sync_same "... INBOX agrees on both sides, no message twice" "$(sync_local "$M/INBOX")" "$(sync_server INBOX)"
is "... nothing is left in tmp/" "$(find "$M/INBOX/tmp" -type f | wc -l)" 0

dovecot_seed ahead 2 || diag "seeding ahead failed"
sync_write_rc "$T_DIR/rc-ahead" tunnel-logged Verbatim "$T_DIR/ahead" "Patterns ahead" "Create Both" \
  "SyncState *" "Expunge Far"
sync_run "$T_DIR/ahead-1.log" -c "$T_DIR/rc-ahead" c
deleted=$(sync_add_server ahead '\Deleted')
kept=$(sync_add_server ahead)
: > "$T_DIR/client.log"
sync_run "$T_DIR/ahead-2.log" -V -c "$T_DIR/rc-ahead" c
sync_exit_is "a new message flagged \\Deleted with Expunge Far: exits 0" 0
is "... both bodies were asked for along with SELECT, and only then" "$(grep -c 'BODY.PEEK' "$T_DIR/client.log")" 1
is "... only the other one is pulled" "$(sync_pulled "$SYNC_LOG")" 1
check "... it is in the Maildir" has_local "$T_DIR/ahead/ahead" "$kept"
check "... the deleted one is not" sh -c '! grep -rqF -- "$1" "$2"' x "$deleted" "$T_DIR/ahead/ahead"
is "... and is expunged on the server" "$(sync_ids "$(sync_server ahead)" | grep -cxF -- "$deleted")" 0

# --- deletions --------------------------------------------------------------------
# One folder per setting; in each, the first message is expunged on the
# server and the second deleted from the Maildir.
dovecot_seed "dnone dnear dfar dboth dnogone" 4 || diag "seeding the deletion folders failed"
# deletion_case NAME CHANNEL-LINE...: sync the folder NAME, delete, sync again.
deletion_case () {
  local name=$1 root=$T_DIR/del-$1 list
  shift
  sync_write_rc "$T_DIR/rc-$name" tunnel Verbatim "$root" "Patterns $name" "Create Both" "SyncState *" "$@"
  sync_run "$T_DIR/$name-1.log" -c "$T_DIR/rc-$name" c
  list=$(sync_local "$root/$name")
  set -- $(sync_first_ids "$list" 2)
  GONE_FAR=$1 GONE_NEAR=$2
  sync_server_expunge "$name" "$GONE_FAR"
  sync_local_rm "$root/$name" "$GONE_NEAR"
  sync_run "$T_DIR/$name-2.log" -c "$T_DIR/rc-$name" c
  sync_exit_is "$name: the sync after deleting exits 0" 0
  NEAR=$(sync_local "$root/$name")
  FAR=$(sync_server "$name")
}
# has_line LIST LINE: LIST has exactly LINE (no message twice).
line_count () { printf '%s\n' "$1" | grep -cxF -- "$2"; }
id_count () { sync_ids "$1" | grep -cxF -- "$2"; }

deletion_case dnone "Expunge None"
is "Expunge None: a message gone from the server is flagged T locally" "$(line_count "$NEAR" "$GONE_FAR T")" 1
is "... one deleted locally is flagged \\Deleted on the server" "$(line_count "$FAR" "$GONE_NEAR T")" 1
is "... nothing else is removed" "$(sync_count "$T_DIR/del-dnone/dnone") $(dovecot_status dnone MESSAGES)" "3 3"

deletion_case dnear "Expunge Near"
is "Expunge Near: a message gone from the server is removed locally" "$(id_count "$NEAR" "$GONE_FAR")" 0
is "... one deleted locally stays on the server, flagged" "$(line_count "$FAR" "$GONE_NEAR T")" 1
is "... counts" "$(sync_count "$T_DIR/del-dnear/dnear") $(dovecot_status dnear MESSAGES)" "2 3"

deletion_case dfar "Expunge Far"
is "Expunge Far: a message gone from the server stays locally, flagged T" "$(line_count "$NEAR" "$GONE_FAR T")" 1
is "... one deleted locally is expunged on the server" "$(id_count "$FAR" "$GONE_NEAR")" 0
is "... counts" "$(sync_count "$T_DIR/del-dfar/dfar") $(dovecot_status dfar MESSAGES)" "3 2"

deletion_case dboth "Expunge Both"
is "Expunge Both: gone on both sides" "$(id_count "$NEAR" "$GONE_FAR") $(id_count "$FAR" "$GONE_NEAR")" "0 0"
sync_same "... the sides agree" "$NEAR" "$FAR"
is "... counts" "$(sync_count "$T_DIR/del-dboth/dboth") $(dovecot_status dboth MESSAGES)" "2 2"

deletion_case dnogone "Expunge Both" "Sync New Flags"
is "Sync without Gone: the server's deletion is not applied locally" "$(line_count "$NEAR" "$GONE_FAR ")" 1
is "... nor the local one on the server" "$(line_count "$FAR" "$GONE_NEAR ")" 1
is "... counts" "$(sync_count "$T_DIR/del-dnogone/dnogone") $(dovecot_status dnogone MESSAGES)" "3 3"

# --- folder creation ----------------------------------------------------------------
CR=$T_DIR/create
sync_add_server onlyfar > /dev/null
near_only=$(sync_add_local "$CR/onlynear")
sync_write_rc "$T_DIR/rc-cnear" tunnel Verbatim "$CR" "Patterns onlyfar onlynear" "Create Near" "SyncState *"
sync_run "$T_DIR/cnear.log" -c "$T_DIR/rc-cnear" c
is "Create Near: the server's new folder is made in the Maildir" "$(sync_count "$CR/onlyfar")" 1
is "... the local-only folder is not made on the server" \
  "$(dovecot_imap 'LIST "" "onlynear"' | grep -c '^\* LIST')" 0
check "... and that is reported" test "$SYNC_RC" -ne 0
sync_write_rc "$T_DIR/rc-cfar" tunnel Verbatim "$CR" "Patterns onlyfar onlynear" "Create Far" "SyncState *"
sync_run "$T_DIR/cfar.log" -c "$T_DIR/rc-cfar" c
sync_exit_is "Create Far: exits 0" 0
is "... the local folder is made on the server with its message" "$(sync_ids "$(sync_server onlynear)")" "$near_only"

# --- nested and accented folder names ------------------------------------------------
# Folders are named as the server names them, in modified UTF-7 (as mbsync
# 1.4 does): Bücher is B&APw-cher on both sides, Grüße Gr&APwA3w-e.
books=$(sync_add_local "$M/Projekte/B&APw-cher" S)
greet=$(sync_add_server "Archiv.Gr&APwA3w-e")
sync_run "$T_DIR/utf7.log" -c "$RC" c
sync_exit_is "Verbatim: syncing Projekte/B&APw-cher and Archiv/Gr&APwA3w-e exits 0" 0
is "the server has Projekte.B&APw-cher" "$(dovecot_status 'Projekte.B&APw-cher' MESSAGES)" 1
is "... holding the message, seen" "$(sync_server 'Projekte.B&APw-cher')" "$books S"
is "the server's Archiv.Gr&APwA3w-e is the local Archiv/Gr&APwA3w-e" \
  "$(sync_ids "$(sync_local "$M/Archiv/Gr&APwA3w-e")")" "$greet"
PP=$T_DIR/pp
sync_write_rc "$T_DIR/rc-pp" tunnel Maildir++ "$PP" "Patterns INBOX Projekte/* Archiv/*" "Create Both" "SyncState *"
pp_new=$(sync_add_local "$PP/.Projekte.B&APw-cher")
sync_run "$T_DIR/pp.log" -c "$T_DIR/rc-pp" c
sync_exit_is "Maildir++: exits 0" 0
is "... INBOX is the root folder" "$(sync_count "$PP")" "$(dovecot_status INBOX MESSAGES)"
is "... Archiv/Gr&APwA3w-e is .Archiv.Gr&APwA3w-e" "$(sync_ids "$(sync_local "$PP/.Archiv.Gr&APwA3w-e")")" "$greet"
is "... .Projekte.B&APw-cher joined Projekte.B&APw-cher on the server" "$(dovecot_status 'Projekte.B&APw-cher' MESSAGES)" 2
check "... with its new message" sh -c 'printf "%s\n" "$1" | grep -qF -- "$2"' x \
  "$(sync_server 'Projekte.B&APw-cher')" "$pp_new"
sync_run "$T_DIR/verb-after-pp.log" -V -c "$RC" c
is "the Verbatim tree then pulls that one message" "$(sync_count "$M/Projekte/B&APw-cher")" 2

# --- UIDVALIDITY changes ------------------------------------------------------------
dovecot_seed uv 5
sync_run "$T_DIR/uv0.log" -c "$RC" c
sync_local_flags "$M/uv" "$(sync_first_ids "$(sync_local "$M/uv")" 1)" F
sync_run "$T_DIR/uv1.log" -c "$RC" c
before=$(sync_local "$M/uv")
old_validity=$(dovecot_status uv UIDVALIDITY)
dovecot_reset_uids uv
uv_new=$(sync_add_server uv)
check "the server renumbered uv (UIDVALIDITY $old_validity -> $(dovecot_status uv UIDVALIDITY))" \
  test "$(dovecot_status uv UIDVALIDITY)" != "$old_validity"
sync_run "$T_DIR/uv2.log" -V -c "$RC" c
sync_exit_is "sync after the server renumbered a folder exits 0" 0
sync_log_has "... says it pairs the messages again" "$SYNC_LOG" "uv: server UIDVALIDITY changed"
is "... downloads only the new message" "$(sync_pulled "$SYNC_LOG")" 1
is "... so the folder has 6 files" "$(sync_count "$M/uv")" 6
sync_same "... no duplicates, same flags: the Maildir equals the server" "$(sync_local "$M/uv")" "$(sync_server uv)"
check "... the new message is among them" has_local "$M/uv" "$uv_new"
sync_run "$T_DIR/uv3.log" -V -c "$RC" c
is "the next run transfers nothing" "$(sync_pulled "$SYNC_LOG") $(sync_pushed "$SYNC_LOG")" "0 0"
dovecot_set_uidvalidity uv 777
sync_run "$T_DIR/uv4.log" -V -c "$RC" c
is "a new UIDVALIDITY with the same UIDs: nothing downloaded" "$(sync_pulled "$SYNC_LOG") $(sync_count "$M/uv")" "0 6"
sync_same "... the sides still agree" "$(sync_local "$M/uv")" "$(sync_server uv)"

# --- the mass-deletion guard -----------------------------------------------------------
MR=$T_DIR/mass
dovecot_seed mass 24
sync_write_rc "$T_DIR/rc-mass" tunnel Verbatim "$MR" "Patterns mass" "Create Both" "SyncState *" "Expunge Both"
sync_run "$T_DIR/mass0.log" -c "$T_DIR/rc-mass" c
is "mass: 24 messages synced" "$(sync_count "$MR/mass")" 24
sync_files "$MR/mass" | xargs -0 ls | head -n 14 | xargs rm -f
sync_run "$T_DIR/mass1.log" -c "$T_DIR/rc-mass" c
sync_exit_is "removing 14 of 24 messages locally: the sync fails" 1
sync_log_has "... saying why" "$SYNC_LOG" "14 of 24 messages on the server side"
is "... and the server keeps all 24" "$(dovecot_status mass MESSAGES)" 24
sync_run "$T_DIR/mass2.log" --force -c "$T_DIR/rc-mass" c
sync_exit_is "with --force it goes ahead" 0
is "... the server has the 10 left" "$(dovecot_status mass MESSAGES)" 10
sync_same "... and agrees with the Maildir" "$(sync_local "$MR/mass")" "$(sync_server mass)"

# --- the Maildir root gone --------------------------------------------------------------
server=$(dovecot_messages INBOX)
mv "$M" "$M.away"
sync_run "$T_DIR/gone.log" -c "$RC" c
sync_exit_is "with the Maildir root gone the sync fails" 1
sync_log_has "... saying why" "$SYNC_LOG" "is missing"
sync_run "$T_DIR/gone-box.log" -c "$RC" c:INBOX
sync_exit_is "... also for one named mailbox" 1
sync_log_has "... saying why" "$SYNC_LOG" "the Maildir root $M is missing"
check "... the root is not made again" test ! -e "$M"
sync_same "... nothing changed on the server" "$(dovecot_messages INBOX)" "$server"
mv "$M.away" "$M"

# --- names that leave the root --------------------------------------------------------
tree=$(sync_tree "$T_DIR")
for bad in "../x" "a/../../b" "box01/../../c"; do
  sync_run "$T_DIR/bad.log" -c "$RC" "c:$bad"
  sync_exit_is "mailbox \"$bad\" is refused" 1
  sync_log_has "... with a message" "$SYNC_LOG" "$bad"
done
sync_same "nothing was made anywhere in the test directory" \
  "$(sync_tree "$T_DIR" | grep -v '^\./bad\.log$')" "$(printf '%s\n' "$tree" | grep -v '^\./bad\.log$')"
is "nor on the server" "$(dovecot_imap 'LIST "" "*"' | grep -c '"\(\.\.\|x\|b\|c\)"$')" 0

# --- a server without CONDSTORE and QRESYNC ----------------------------------------------
dovecot_setup --capability "IMAP4rev1 LITERAL+ UIDPLUS ENABLE" || diag "reconfiguring failed"
check "CONDSTORE and QRESYNC are hidden now" \
  sh -c '! printf "%s\n" "$1" | grep -qE "CONDSTORE|QRESYNC"' x "$(dovecot_imap CAPABILITY)"
set -- $(sync_first_ids "$(sync_local "$M/box01")" 3)
sync_add_server box01 > /dev/null
sync_add_local "$M/box01" F > /dev/null
sync_server_flags box01 "$1" +FLAGS '\Draft'
sync_local_flags "$M/box01" "$2" RS
sync_server_expunge box01 "$3"
: > "$T_DIR/client.log"
sync_run "$T_DIR/nocs.log" -V -c "$T_DIR/rc-logged" c:box01
sync_exit_is "without CONDSTORE: exits 0" 0
check "... and asks for no CONDSTORE or QRESYNC feature" \
  sh -c '! grep -qE "CONDSTORE|CHANGEDSINCE|QRESYNC" "$1"' x "$T_DIR/client.log"
check "... but lists the whole mailbox" file_has "$T_DIR/client.log" "UID FETCH 1:* (UID FLAGS RFC822.SIZE)"
is "... one pulled, one pushed" "$(sync_pulled "$SYNC_LOG") $(sync_pushed "$SYNC_LOG")" "1 1"
far=$(sync_server box01)
is "... the server's flag change arrived" "$(sync_msg_flags "$(sync_local "$M/box01")" "$1")" D
is "... the local one too" "$(sync_msg_flags "$far" "$2")" RS
is "... the expunged message is flagged T locally (Expunge None)" "$(sync_msg_flags "$(sync_local "$M/box01")" "$3")" T
sync_same "... and otherwise the sides agree" "$(sync_local "$M/box01" | grep -v -- "^$3 ")" "$far"
sync_run "$T_DIR/nocs2.log" -V -c "$RC" c:box01
is "... the next run transfers nothing" "$(sync_pulled "$SYNC_LOG") $(sync_pushed "$SYNC_LOG")" "0 0"

# Dovecot answers APPEND with APPENDUID whatever it advertises; the Tunnel
# of rc-noappenduid takes that out.
dovecot_setup --capability "IMAP4rev1" || diag "reconfiguring failed"
sync_write_rc "$T_DIR/rc-noappenduid" tunnel-noappenduid Verbatim "$M"
p1=$(sync_add_local "$M/box01")
p2=$(sync_add_local "$M/box01" S)
anon1=$(sync_add_local_anonymous "$M/box01")
anon2=$(sync_add_local_anonymous "$M/box01")
sync_run "$T_DIR/nouidplus.log" -V -c "$T_DIR/rc-noappenduid" c:box01
sync_exit_is "without UIDPLUS, LITERAL+ and APPENDUID: exits 0" 0
is "... four pushed" "$(sync_pushed "$SYNC_LOG")" 4
sync_run "$T_DIR/nouidplus2.log" -V -c "$T_DIR/rc-noappenduid" c:box01
is "... found again on the server (by Message-ID, or by size and order): the next run transfers nothing" \
  "$(sync_pushed "$SYNC_LOG") $(sync_pulled "$SYNC_LOG")" "0 0"
far=$(sync_server box01)
is "... each is there once" "$(id_count "$far" "$p1") $(id_count "$far" "$p2") $(id_count "$far" "(none)")" "1 1 2"
sync_same "... and the sides agree" "$(sync_local "$M/box01" | grep -v -- "^$3 ")" "$far"
is "... also the ones without a Message-ID (by Subject)" \
  "$(grep -l "^Subject: $anon1\$" "$M"/box01/*/* | wc -l) $(grep -l "^Subject: $anon2\$" "$M"/box01/*/* | wc -l)" "1 1"

# --- started with stderr closed -----------------------------------------------------
# The first descriptor it opens must not become fd 2: the Tunnel's socket
# would get the -V log lines as commands.
new=$(sync_add_server INBOX)
: > "$T_DIR/client.log"
sync_imap -V -c "$T_DIR/rc-logged" c:INBOX > "$T_DIR/nostderr.out" 2>&-
is "with stderr closed, a -V sync exits 0" "$?" 0
check "... and the new message arrived" test -n "$(sync_local_file "$M/INBOX" "$new")"
check "... and no log line went to the server" sh -c '! grep -q "sync_imap" "$1"' x "$T_DIR/client.log"
