#!/bin/sh
# The demo: installs what is needed, builds, and runs the real thing against
# a throwaway Dovecot on 127.0.0.1 with seeded mail:
#
#   mswatch ── watch_maildirs on the local Maildir
#           ── watch_maildirs on the server's own Maildir (what
#              `ssh host inputkill watch_maildirs` gives on a real server)
#           ── syncer: sync_imap --serve, reading the mbsyncrc written here
#
# It shows the initial download, then mail appended on the server arriving
# in the local Maildir and a flag set locally arriving on the server, each
# with the time it took.  Everything lives in a temporary directory that is
# removed at the end.  Run as root (the packages, and Dovecot's master).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" -eq 0 ]; then sh tests/install-deps.sh; fi
if [ ! -x build/mswatch ] || [ ! -x build/sync_imap ] || [ ! -x build/watch_maildirs ]; then
  echo "== building"
  [ -x configure ] || autoreconf -fi >/dev/null
  mkdir -p build
  (cd build && { [ -f Makefile ] || ../configure -q; } && make -s -j"$(nproc)")
fi

top_srcdir=$top
top_builddir=$top/build
. "$top/tests/lib/test-lib.sh"
. "$top/tests/lib/dovecot.sh"
set +u # dovecot.sh's helpers are written for the tests' shell options
work=$T_DIR

# fail MESSAGE: the demo stops with the logs' tails.
fail () {
  echo "demo: $*" >&2
  [ -f "$work/log" ] && tail -20 "$work/log" >&2
  exit 1
}

echo "== starting a throwaway Dovecot on 127.0.0.1 with 3 folders of 20 messages"
dovecot_setup || fail "Dovecot did not start (see $DOVECOT_STDIO_LOG)"
dovecot_seed "INBOX lists work" 20 > /dev/null || fail "seeding failed"

# Dovecot makes a folder's new/ only when it first needs it; the server
# watcher must find it there from the start (watch_maildirs watches the
# new/ and cur/ that exist when it starts).
dovecot_as_mail mkdir -p "$DOVECOT_MAILDIR/new" "$DOVECOT_MAILDIR/cur" "$DOVECOT_MAILDIR/tmp"
mail=$work/Mail
cat > "$work/mbsyncrc" <<RC
# What a user's ~/.mbsyncrc holds; sync_imap reads it as mbsync would.
IMAPAccount demo
Host 127.0.0.1
Port $DOVECOT_IMAPS_PORT
User $DOVECOT_USER
Pass $DOVECOT_PASS
TLSType IMAPS
SystemCertificates no
CertificateFile $DOVECOT_CA

IMAPStore demo-remote
Account demo

MaildirStore demo-local
Inbox $mail
SubFolders Maildir++

Channel demo
Far :demo-remote:
Near :demo-local:
Patterns *
Create Both
Expunge Both
SyncState *
RC

cat > "$work/mswatchrc" <<RC
# The resident syncer keeps one IMAP connection open between syncs.
syncer $top_builddir/sync_imap -c $work/mbsyncrc --serve demo
# The server watcher sees a delivery's rename before the delivering Dovecot
# process has given it a UID; a sync started at once may find nothing yet
# and nothing would report it again.  A second's delay (1.2's default is
# 15) covers that window.
base_delay 1
inter_delay 1
store local {
  watch $top_builddir/watch_maildirs -m $mail
}
store server {
  watch $top_builddir/watch_maildirs -m $DOVECOT_MAILDIR
}
RC
mkdir -p "$mail/cur" "$mail/new" "$mail/tmp"

echo "== mswatch starts (its own output is prefixed with '| ')"
t0=$(now_ms)
: > "$work/log" # before tail -f below looks for it
"$top_builddir/mswatch" -c "$work/mswatchrc" > "$work/log" 2>&1 &
pid=$!
at_exit "kill $pid; wait $pid"
tail -n +1 -f "$work/log" | sed -u 's/^/| /' &
at_exit "kill $!"

local_count () { find "$mail" -path '*/cur/*' -o -path '*/new/*' | grep -c . || true; }
synced_all () { [ "$(local_count)" -ge 60 ]; }
wait_until 60 synced_all || fail "the initial sync did not bring the 60 messages"
echo "== initial sync: 60 messages in 3 folders after $(( $(now_ms) - t0 )) ms"

echo "== a message is appended on the server (as an MDA or another client would)"
dovecot_make_message "$work/new.eml" "Hello from the server"
id=$(sed -n 's/^Message-ID: *//Ip' "$work/new.eml" | head -n 1 | tr -d '\r')
t0=$(now_ms)
dovecot_append INBOX "$work/new.eml" > /dev/null || fail "APPEND failed"
arrived () { grep -rlqF -- "$id" "$mail/new" "$mail/cur" 2>/dev/null; }
wait_until 30 arrived || fail "the new message did not arrive"
echo "== ... and is in the local INBOX after $(( $(now_ms) - t0 )) ms"

echo "== the message is flagged locally (as mutt does: rename to :2,F)"
file=$(grep -rlF -- "$id" "$mail/new" "$mail/cur" | head -n 1)
base=$(basename "$file")
t0=$(now_ms)
mv "$file" "$mail/cur/${base%%:2,*}:2,F"
flagged () { dovecot_messages INBOX | tail -n 1 | grep -qF '\Flagged'; }
wait_until 30 flagged || fail "the flag did not reach the server"
echo "== ... and is \\Flagged on the server after $(( $(now_ms) - t0 )) ms"

kill -USR1 "$pid" 2>/dev/null || true
wait_until 10 file_has "$work/log" "Pending mailboxes" || true
echo "== done"
