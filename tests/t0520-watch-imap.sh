#!/bin/sh
# t0520-watch-imap.sh — watch_imap against a real Dovecot (tests/lib/dovecot.sh)
# over IMAPS: the three detection methods (NOTIFY; IDLE with STATUS polling,
# NOTIFY hidden; STATUS polling alone, NOTIFY, IDLE and CONDSTORE hidden),
# new mail, flag changes, expunges, folders created and deleted, in several
# folders, each reported once under the name watch_maildirs would print
# (Maildir++ and Verbatim, a nested and an accented folder); the exits: stdin
# closed, stdout's reader gone, server restarted, server hung; start-up
# errors.
#
# Exactly-once: after an action the test waits for every name it expects,
# then appends a message to a barrier folder and waits for that; the lines
# in between must be exactly the expected names, each once.  Dovecot sends
# its notifications in order on a connection, and the barrier change is
# made only after the expected lines were read.

. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/dovecot.sh"

WI=$top_builddir/watch_imap
[ -x "$WI" ] || skip_all "watch_imap is not built"
dovecot_available

plan 102

LC_ALL=C
export LC_ALL
# The folders "été" and "lists.été", in modified UTF-7, the form IMAP and
# the Maildir (as mbsync 1.4 names its folders) both use; Dovecot's NOTIFY
# names them in UTF-8.
ETE_IMAP='&AOk-t&AOk-'
# Capability lists that hide NOTIFY, then IDLE and CONDSTORE too.
CAPS_IDLE="IMAP4rev1 LITERAL+ UIDPLUS ENABLE IDLE CONDSTORE QRESYNC"
CAPS_POLL="IMAP4rev1 LITERAL+ UIDPLUS ENABLE"

# write_rc FILE LAYOUT [ACCOUNT-LINE...]: an mbsyncrc with channel "c"
# watching every server folder but Trash, for a Maildir store in LAYOUT.
# Without account lines the password comes from PassCmd.
write_rc () {
  local file=$1 layout=$2 store
  shift 2
  [ $# -gt 0 ] || set -- "PassCmd \"echo $DOVECOT_PASS\""
  case $layout in
    Maildir++) store="Inbox $T_DIR/mail-pp" ;;
    *) store="Path $T_DIR/mail-vb/
Inbox $T_DIR/mail-vb/INBOX" ;;
  esac
  cat > "$file" <<EOF
IMAPAccount acct
Host 127.0.0.1
Port $DOVECOT_IMAPS_PORT
User $DOVECOT_USER
TLSType IMAPS
SystemCertificates no
CertificateFile $DOVECOT_CA
$(printf '%s\n' "$@")

IMAPStore far
Account acct

MaildirStore near
$store
SubFolders $layout

Channel c
Far :far:
Near :near:
Patterns * !Trash
SyncState *
EOF
}

# once NAME ARGS...: runs watch_imap to completion (stdin /dev/null is
# fine: it fails before it would read it); sets RC, OUT and ERR.
once () {
  local name=$1
  shift
  timeout 30 "$WI" "$@" < /dev/null > "$T_DIR/$name.out" 2> "$T_DIR/$name.err"
  RC=$?
  OUT=$(cat "$T_DIR/$name.out")
  ERR=$(cat "$T_DIR/$name.err")
}

exited () { test -s "$T_DIR/$1.rc"; }
started () { test -s "$WOUT" || exited "$WNAME"; }

# spawn NAME ARGS...: starts watch_imap ARGS... in the background with its
# stdin a FIFO held open on fd 7, its output in $T_DIR/NAME.out and .err,
# and its exit status, once it exits, in NAME.rc; waits for the start line.
spawn () {
  local name=$1
  shift
  rm -f "$T_DIR/$name.pid" "$T_DIR/$name.rc" "$T_DIR/$name.in"
  mkfifo "$T_DIR/$name.in"
  exec 7<> "$T_DIR/$name.in"
  (
    sh -c 'echo $$ > "$0"; exec "$@"' "$T_DIR/$name.pid" "$WI" "$@" \
      < "$T_DIR/$name.in" > "$T_DIR/$name.out" 2> "$T_DIR/$name.err"
    echo $? > "$T_DIR/$name.rc"
  ) > /dev/null 7>&- &
  wait_until 10 test -s "$T_DIR/$name.pid" || return 1
  PID=$(cat "$T_DIR/$name.pid")
  at_exit "kill $PID 2>/dev/null; wait_until 5 exited $name"
  WNAME=$name
  WOUT=$T_DIR/$name.out
  WERR=$T_DIR/$name.err
  MARK=1
  wait_until 30 started
}

# stop: closes the watcher's stdin; it must exit 0 promptly.
stop () {
  exec 7>&-
  if wait_until 10 exited "$WNAME"; then
    is "$WNAME: exits 0 when stdin closes" "$(cat "$T_DIR/$WNAME.rc")" 0
  else
    not_ok "$WNAME: exits 0 when stdin closes"
  fi
}

# start_ok DESC: the watcher printed the start line first, and is running.
start_ok () {
  if [ "$(head -c 1 "$WOUT" | od -An -c | tr -d ' ')" = '\n' ] && ! exited "$WNAME"; then
    ok "$1"
  else
    not_ok "$1"
    diag "output: $(od -c "$WOUT" | head -n 3)" "stderr: $(cat "$WERR")"
  fi
}

new_lines () { awk -v m="$MARK" 'NR > m' "$WOUT"; }
saw () { new_lines | grep -qxF -- "$1"; }

# expect DESC NAME...: the actions since the last expect made the watcher
# print exactly NAME... (nothing if none is given), each once.
expect () {
  local desc=$1 name got n
  shift
  for name in "$@"; do
    wait_until 20 saw "$name" || break
  done
  dovecot_append zbarrier "$MSG" > /dev/null
  if wait_until 20 saw zbarrier; then
    got=$(new_lines | awk '$0 == "zbarrier" { exit } { print }' | sort)
    n=$(new_lines | awk '{ n++ } $0 == "zbarrier" { print n; exit }')
    MARK=$((MARK + n))
  else
    got="(barrier never printed; output: $(new_lines | tr '\n' '|') stderr: $(tail -n 3 "$WERR"))"
  fi
  is "$desc" "$got" "$(printf '%s\n' "$@" | sort)"
}

# imap_pids: the imap processes (sessions of logged-in users) of this
# test's server, children of its master; other tests' servers are left alone.
imap_pids () { ps -o pid= -o comm= --ppid "$DOVECOT_PID" | awk '$2 == "imap" { print $1 }'; }

# quietly CMD...: CMD with its output (a transcript) kept off the TAP stream.
quietly () { "$@" > /dev/null; }

# --- the server -------------------------------------------------------------------
if dovecot_setup; then
  ok "dovecot starts"
else
  not_ok "dovecot starts"
  echo "Bail out! the fixture did not start"
  exit 1
fi
check "seed folders" dovecot_seed "INBOX work lists.debian Trash zbarrier" 2
check "create the UTF-8 folders" \
  quietly dovecot_imap "CREATE \"$ETE_IMAP\"" "CREATE \"lists.$ETE_IMAP\""
MSG=$T_DIR/msg
dovecot_make_message "$MSG" "watch_imap test"
write_rc "$T_DIR/rc-pp" Maildir++
write_rc "$T_DIR/rc-vb" Verbatim

# --- start-up errors ------------------------------------------------------------------
once err1 -c "$T_DIR/rc-pp" nope
is "unknown channel: exit 1" "$RC" 1
is "... says so" "$ERR" "watch_imap: $T_DIR/rc-pp: no channel nope"
is "... and prints no start line" "$OUT" ""
{ cat "$T_DIR/rc-pp"; printf '\nGroup all\nChannel c\n'; } > "$T_DIR/rc-group"
once errg -c "$T_DIR/rc-group" all
is "a Group's name: exit 1, naming its channels" "$RC $ERR" \
  "1 watch_imap: $T_DIR/rc-group: all is a Group (of c); give one channel, and run one per channel"
once err2 -c "$T_DIR/rc-pp" --max-idle 99 c
is "--max-idle 99: exit 1" "$RC" 1
check "... names the limit" file_has "$T_DIR/err2.err" "--max-idle must be at most 8"
once err3 -c "$T_DIR/rc-pp"
is "no channel given: exit 1" "$RC" 1
write_rc "$T_DIR/rc-badpass" Maildir++ "Pass wrong-Secret-42"
once err4 -c "$T_DIR/rc-badpass" -V c
is "wrong password: exit 1" "$RC" 1
check "... says the login failed" file_has "$T_DIR/err4.err" "authentication"
check "... never shows the password" sh -c '! grep -q "wrong-Secret-42" "$1"' x "$T_DIR/err4.err"
is "... and prints no start line" "$OUT" ""
once ver --version
is "--version: exit 0" "$RC" 0
check "... prints the version" file_has "$T_DIR/ver.out" "watch_imap "

# --- NOTIFY, Maildir++ names ------------------------------------------------------------
spawn notify -V -c "$T_DIR/rc-pp" c
start_ok "NOTIFY: start line"
check "NOTIFY: chosen" file_has "$WERR" "by NOTIFY"
dovecot_append INBOX "$MSG" > /dev/null
expect "NOTIFY: new mail in INBOX" INBOX
dovecot_append lists.debian "$MSG" > /dev/null
expect "NOTIFY: new mail in a nested folder" lists.debian
dovecot_append "$ETE_IMAP" "$MSG" > /dev/null
expect "NOTIFY: new mail in a UTF-8 folder" "$ETE_IMAP"
dovecot_append "lists.$ETE_IMAP" "$MSG" > /dev/null
expect "NOTIFY: new mail in a nested UTF-8 folder" "lists.$ETE_IMAP"
dovecot_store work 1 +FLAGS '\Flagged'
expect "NOTIFY: a flag change (not \\Seen)" work
dovecot_doveadm expunge -u "$DOVECOT_USER" mailbox lists.debian uid 1
expect "NOTIFY: an expunge" lists.debian
dovecot_append Trash "$MSG" > /dev/null
expect "NOTIFY: a folder the Patterns exclude is not reported"
dovecot_append work "$MSG" > /dev/null
dovecot_append INBOX "$MSG" > /dev/null
dovecot_store "$ETE_IMAP" 1 +FLAGS '\Seen'
expect "NOTIFY: three folders at once, each once" work INBOX "$ETE_IMAP"
dovecot_imap 'CREATE fresh' > /dev/null
expect "NOTIFY: a folder created" fresh
dovecot_imap 'DELETE fresh' > /dev/null
expect "NOTIFY: a folder deleted" fresh
check "NOTIFY: Trash never printed" sh -c '! grep -qx Trash "$1"' x "$WOUT"
stop

# --- NOTIFY, Verbatim names -------------------------------------------------------------
spawn verbatim -c "$T_DIR/rc-vb" c
start_ok "Verbatim: start line"
dovecot_append lists.debian "$MSG" > /dev/null
expect "Verbatim: a nested folder is a/b" lists/debian
dovecot_append "lists.$ETE_IMAP" "$MSG" > /dev/null
expect "Verbatim: a nested UTF-8 folder" "lists/$ETE_IMAP"
dovecot_append INBOX "$MSG" > /dev/null
dovecot_store lists.debian 2 +FLAGS '\Answered'
expect "Verbatim: INBOX and a flag change together" INBOX lists/debian
stop

# --- DisableExtensions; a one-mailbox channel over a Tunnel ----------------------------
write_rc "$T_DIR/rc-noext" Maildir++ "Pass $DOVECOT_PASS" "DisableExtensions NOTIFY"
spawn noext -V -c "$T_DIR/rc-noext" c
start_ok "DisableExtensions NOTIFY: start line"
check "DisableExtensions NOTIFY: IDLE is used instead" file_has "$WERR" "by IDLE"
stop

cat > "$T_DIR/rc-one" <<EOF
IMAPAccount acct
Tunnel "$(dovecot_preauth_cmd)"

IMAPStore far
Account acct

MaildirStore near
Inbox $T_DIR/mail-one
SubFolders Maildir++

Channel one
Far :far:work
Near :near:work
SyncState *
EOF
spawn one -V -c "$T_DIR/rc-one" one
start_ok "one mailbox over a Tunnel: start line"
check "one mailbox over a Tunnel: NOTIFY on just that mailbox" file_has "$WERR" "by NOTIFY, 1 mailbox known"
dovecot_append INBOX "$MSG" > /dev/null
dovecot_append work "$MSG" > /dev/null
wait_until 20 saw work
is "one mailbox over a Tunnel: only its name is printed" "$(new_lines)" work
stop

# --- IDLE, with STATUS polling for the rest --------------------------------------------
check "hide NOTIFY" dovecot_setup --capability "$CAPS_IDLE"
spawn idle -V --poll 1 --hot work -c "$T_DIR/rc-pp" c
start_ok "IDLE: start line"
check "IDLE: chosen" file_has "$WERR" "by IDLE"
check "IDLE: on INBOX" file_has "$WERR" "IDLE on INBOX"
check "IDLE: on the --hot folder" file_has "$WERR" "IDLE on work"
dovecot_append INBOX "$MSG" > /dev/null
expect "IDLE: new mail in INBOX" INBOX
dovecot_store work 1 -FLAGS '\Flagged'
expect "IDLE: a flag change in the hot folder" work
dovecot_store INBOX 1 +FLAGS '\Seen'
expect "IDLE: a flag change in INBOX" INBOX
dovecot_doveadm expunge -u "$DOVECOT_USER" mailbox INBOX uid 1
expect "IDLE: an expunge in INBOX" INBOX
dovecot_append "lists.$ETE_IMAP" "$MSG" > /dev/null
expect "IDLE: new mail in a polled nested UTF-8 folder" "lists.$ETE_IMAP"
dovecot_doveadm expunge -u "$DOVECOT_USER" mailbox lists.debian uid 2
dovecot_store "$ETE_IMAP" 1 +FLAGS '\Draft'
expect "IDLE: expunge and flag change in polled folders" lists.debian "$ETE_IMAP"
dovecot_append work "$MSG" > /dev/null
dovecot_append Trash "$MSG" > /dev/null
dovecot_append lists.debian "$MSG" > /dev/null
expect "IDLE: IDLE and polled folders at once; Trash left out" work lists.debian
stop

# Renewal: the keepalive re-issues IDLE every second; it keeps working.
spawn renew -V --poll 1 --keepalive 1 --max-idle 1 --hot work -c "$T_DIR/rc-pp" c
start_ok "IDLE renewal: start line"
check "--max-idle 1: only INBOX idles" sh -c '! grep -q "IDLE on work" "$1"' x "$WERR"
renewed_twice () { [ "$(grep -c 'IDLE renewed' "$WERR")" -ge 2 ]; }
check "IDLE renewal: IDLE re-issued by the keepalive" wait_until 20 renewed_twice
dovecot_append INBOX "$MSG" > /dev/null
dovecot_store work 1 +FLAGS '\Flagged'
expect "IDLE renewal: changes still reported (work by polling)" INBOX work
stop

# --- IDLE through Dovecot's hibernation ---------------------------------------------
# Large installations hand a connection that idles over to imap-hibernate;
# a change in its mailbox wakes it in a new imap process, which reports the
# change at once.  The keepalive (DONE, then IDLE again) wakes it as well.
check "hide NOTIFY, hibernate IDLE connections after 1 s" \
  dovecot_setup --capability "$CAPS_IDLE" --hibernate 1
spawn hib -V --poll 1 --keepalive 4 --max-idle 1 -c "$T_DIR/rc-pp" c
start_ok "hibernation: start line"
hibernated () { ps -o args= --ppid "$DOVECOT_PID" | grep -qxF 'dovecot/imap-hibernate [1 connections]'; }
check "hibernation: its IDLE connection is handed over" wait_until 10 hibernated
dovecot_append INBOX "$MSG" > /dev/null
expect "hibernation: new mail wakes it, and is reported" INBOX
check "... it is handed over again" wait_until 10 hibernated
renewals () { grep -c 'IDLE renewed' "$WERR"; }
n=$(renewals)
renewed () { [ "$(renewals)" -gt "$n" ]; }
check "hibernation: the keepalive goes through" wait_until 20 renewed
check "... and it is handed over again" wait_until 10 hibernated
# One message (the newest: the one appended above), as in the other flag
# tests: a change to several comes as several FETCH lines, which a slow
# machine may read apart and report one by one.
dovecot_store INBOX '*' +FLAGS '\Flagged'
expect "hibernation: a flag change is reported" INBOX
check "hibernation: Dovecot woke it every time" sh -c '! grep -q "Failed to unhibernate" "$1"' x "$DOVECOT_LOG"
stop

# --- STATUS polling alone, without CONDSTORE ----------------------------------------
check "hide NOTIFY, IDLE and CONDSTORE" dovecot_setup --capability "$CAPS_POLL"
spawn poll -V --poll 1 -c "$T_DIR/rc-pp" c
start_ok "polling: start line"
check "polling: chosen" file_has "$WERR" "by STATUS polling"
dovecot_append work "$MSG" > /dev/null
expect "polling: new mail" work
dovecot_store lists.debian 3 +FLAGS '\Seen'
expect "polling: \\Seen changed (UNSEEN)" lists.debian
dovecot_doveadm expunge -u "$DOVECOT_USER" mailbox INBOX uid 2
dovecot_append "$ETE_IMAP" "$MSG" > /dev/null
expect "polling: an expunge and new mail in two folders" INBOX "$ETE_IMAP"
dovecot_imap 'CREATE fresh2' > /dev/null
expect "polling: a folder created" fresh2
dovecot_imap 'DELETE fresh2' > /dev/null
expect "polling: a folder deleted" fresh2
stop

# --- connection losses -----------------------------------------------------------------
check "all capabilities back" dovecot_setup
spawn restart1 -c "$T_DIR/rc-pp" c
start_ok "restart (NOTIFY): start line"
t0=$(now_ms)
check "restart (NOTIFY): dovecot_restart" dovecot_restart
if wait_until 20 exited restart1; then
  ok "restart (NOTIFY): watch_imap exits ($(( $(now_ms) - t0 )) ms after the restart began)"
else
  not_ok "restart (NOTIFY): watch_imap exits"
fi
is "restart (NOTIFY): exit status 2" "$(cat "$T_DIR/restart1.rc" 2>/dev/null)" 2
check "restart (NOTIFY): says the connection was lost" file_has "$WERR" "connection lost"
check "restart (NOTIFY): ... and that a restart syncs everything" \
  file_has "$WERR" "exiting so that a restart syncs everything"
exec 7>&-

check "hide NOTIFY again" dovecot_setup --capability "$CAPS_IDLE"
spawn restart2 --hot work -c "$T_DIR/rc-pp" c
start_ok "restart (IDLE): start line"
check "restart (IDLE): dovecot_restart" dovecot_restart
check "restart (IDLE): watch_imap exits" wait_until 20 exited restart2
is "restart (IDLE): exit status 2" "$(cat "$T_DIR/restart2.rc" 2>/dev/null)" 2
check "restart (IDLE): says which connection" file_has "$WERR" "connection lost"
exec 7>&-

# A server that stops answering: only the keepalive can tell.
check "all capabilities back again" dovecot_setup
write_rc "$T_DIR/rc-timeout" Maildir++ "Pass $DOVECOT_PASS" "Timeout 2"
spawn hung --keepalive 1 -c "$T_DIR/rc-timeout" c
start_ok "hung server: start line"
pids=$(imap_pids)
check "hung server: its imap sessions found" test -n "$pids"
at_exit "kill -CONT $(echo $pids) 2>/dev/null"
# shellcheck disable=SC2086
kill -STOP $pids
t0=$(now_ms)
if wait_until 20 exited hung; then
  ok "hung server: watch_imap exits ($(( $(now_ms) - t0 )) ms after the server hung)"
else
  not_ok "hung server: watch_imap exits"
fi
is "hung server: exit status 2" "$(cat "$T_DIR/hung.rc" 2>/dev/null)" 2
check "hung server: says it timed out" file_has "$WERR" "timed out"
# shellcheck disable=SC2086
kill -CONT $pids
exec 7>&-

# --- stdout's reader goes away -----------------------------------------------------------
mkfifo "$T_DIR/gone.in" "$T_DIR/gone.fifo"
exec 7<> "$T_DIR/gone.in"
(
  "$WI" -c "$T_DIR/rc-pp" c < "$T_DIR/gone.in" > "$T_DIR/gone.fifo" 2> "$T_DIR/gone.err"
  echo $? > "$T_DIR/gone.rc"
) 7>&- &
first=$(head -c 1 < "$T_DIR/gone.fifo" | od -An -c | tr -d ' ')
is "reader gone: the start line was read" "$first" '\n'
check "reader gone: watch_imap exits at once, with nothing to write" wait_until 20 exited gone
is "reader gone: exit status 0" "$(cat "$T_DIR/gone.rc" 2>/dev/null)" 0
exec 7>&-

# --- the whole output of one run, for the record -----------------------------------------
is "no line was ever a Trash line" "$(cat "$T_DIR"/*.out | grep -cx Trash)" 0
