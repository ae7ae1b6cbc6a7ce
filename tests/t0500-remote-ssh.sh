#!/bin/sh
# mswatch watching a "server" Maildir over a real ssh connection, the way
# 1.2's README sets it up: `watch ssh HOST inputkill watch_maildirs -m DIR`.
#
# The server is sshd run by the client's ProxyCommand (tests/lib/sshd.sh),
# so "remote" processes are ordinary processes of this machine, found by
# their exact command lines, which contain this test's unique directory.
# Checked: the startup syncs, a delivery on the server reaching the sync
# program as INBOX, a killed ssh client being reported, restarted and
# followed by a full sync (spec §4.2, §5.1, §6.1; bare names without
# mailbox_prefix, "" for all), and that stopping mswatch leaves nothing
# running on the server.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/sshd.sh"

sshd_available || skip_all "$SSHD_MISSING"

MSWATCH=$(sshd_bin mswatch)
IK=$(sshd_bin inputkill)
WM=$(sshd_bin watch_maildirs)
LOCALDIR=$T_DIR/local-maildir
SERVERDIR=$T_DIR/server-maildir
SYNC=$T_DIR/sync.sh
SYNC_LOG=$T_DIR/sync.log
RC=$T_DIR/mswatchrc
TIME_RE='[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}'

plan 14

if sshd_setup; then ok "sshd fixture: logging in to testhost works"; else
  not_ok "sshd fixture: logging in to testhost works"
  exit 1
fi

for d in "$LOCALDIR" "$SERVERDIR"; do mkdir -p "$d/cur" "$d/new" "$d/tmp"; done

# The sync program logs "SECONDS ARGC [ARG]..." per run, so that one empty
# argument ("all mailboxes" without mailbox_prefix) shows as "1 []".
cat > "$SYNC" <<EOF
#!/bin/sh
{ printf '%s %s' "\$(date +%s)" "\$#"; for a; do printf ' [%s]' "\$a"; done; echo; } >> "$SYNC_LOG"
EOF
chmod +x "$SYNC"
: > "$SYNC_LOG"

# esc WORD...: words for an mswatchrc, every character that is not plainly
# safe escaped with a backslash (the config has no quotes).
esc () {
  local w out=
  for w in "$@"; do out="$out $(printf '%s' "$w" | sed 's/[^A-Za-z0-9/._=+-]/\\&/g')"; done
  printf '%s' "${out# }"
}

cat > "$RC" <<EOF
sync $(esc "$SYNC")
base_delay 0
inter_delay 1
max_delay 2
store local {
  watch $(esc "$WM" -m "$LOCALDIR")
}
store remote {
  watch $(esc ssh -F "$SSH_CONFIG" testhost "$IK" "$WM" -m "$SERVERDIR")
}
EOF

IK_RE=$(re_escape "$IK $WM -m $SERVERDIR")
WM_RE=$(re_escape "$WM -m $SERVERDIR")
SSH_RE=$(re_escape "ssh -F $SSH_CONFIG testhost $IK $WM -m $SERVERDIR")
LOCAL_RE=$(re_escape "$WM -m $LOCALDIR")
# Server-side processes for SERVERDIR: "inputkill-count watch_maildirs-count".
remote_count () { echo "$(pgrep -fx "$IK_RE" | wc -l) $(pgrep -fx "$WM_RE" | wc -l)"; }
remote_running () { [ "$(remote_count)" = "1 1" ]; }
remote_gone () { [ "$(remote_count)" = "0 0" ]; }
local_gone () { ! pgrep -fx "$SSH_RE" >/dev/null && ! pgrep -fx "$LOCAL_RE" >/dev/null; }

# syncs PATTERN: how many sync runs had exactly these arguments.
syncs () { grep -c -- " $1\$" "$SYNC_LOG"; }
syncs_at_least () { [ "$(syncs "$2")" -ge "$1" ]; }
out_count () { grep -cx -- "$1" "$T_DIR/out"; }
out_count_at_least () { [ "$(out_count "$2")" -ge "$1" ]; }

# deliver DIR NAME: a message arriving in DIR's INBOX, tmp/ then new/.
deliver () { echo "Subject: $2" > "$1/tmp/$2" && mv "$1/tmp/$2" "$1/new/$2"; }

"$MSWATCH" -c "$RC" < /dev/null > "$T_DIR/out" 2> "$T_DIR/err" &
MS_PID=$!
at_exit "kill -KILL $MS_PID"
at_exit 'kill -KILL $(pgrep -fx "$SSH_RE") $(pgrep -fx "$IK_RE") $(pgrep -fx "$WM_RE") $(pgrep -fx "$LOCAL_RE")'

wait_until 30 file_has "$T_DIR/out" "Watching mailstores"
check "mswatch starts watching both stores" file_has "$T_DIR/out" "Watching mailstores"
wait_until 15 syncs_at_least 1 "1 \[\]"
is "startup: one INBOX sync, with the bare name" "$(syncs "1 \[INBOX\]")" 1
is "startup: one all-mailboxes sync, with one empty argument" "$(syncs "1 \[\]")" 1
wait_until 10 remote_running
check "inputkill and watch_maildirs run on the server" remote_running

deliver "$SERVERDIR" m1
wait_until 15 syncs_at_least 2 "1 \[INBOX\]"
check "a delivery on the server is synced as INBOX" syncs_at_least 2 "1 \[INBOX\]"

# The connection drops: kill the ssh client.
ssh_pid=$(pgrep -fx "$SSH_RE")
[ -n "$ssh_pid" ] || diag "no ssh client found"
kill -TERM $ssh_pid
wait_until 15 grep -Eq "^Error: remote watcher connection closed by $TIME_RE\$" "$T_DIR/err"
check "the dropped connection is reported" \
  grep -Eq "^Error: remote watcher connection closed by $TIME_RE\$" "$T_DIR/err"
wait_until 20 out_count_at_least 2 "Starting remote watcher"
is "the remote watcher is started again" "$(out_count "Starting remote watcher")" 2
wait_until 20 syncs_at_least 2 "1 \[\]"
is "a full sync follows the reconnection" "$(syncs "1 \[\]")" 2
wait_until 15 remote_running
is "on the server, the old session is gone and a new one runs" "$(remote_count)" "1 1"

n=$(syncs "1 \[INBOX\]")
deliver "$SERVERDIR" m2
wait_until 15 syncs_at_least $((n + 1)) "1 \[INBOX\]"
check "after reconnecting, a delivery on the server is synced" syncs_at_least $((n + 1)) "1 \[INBOX\]"

kill -TERM "$MS_PID"
wait_until 20 sh -c '! kill -0 "$1" 2>/dev/null' sh "$MS_PID" || kill -KILL "$MS_PID"
wait "$MS_PID"
is "SIGTERM: mswatch exits 0" "$?" 0
wait_until 15 remote_gone
is "after mswatch stops, nothing is left on the server" "$(remote_count)" "0 0"
wait_until 10 local_gone
check "... nor the ssh client and the local watcher" local_gone
