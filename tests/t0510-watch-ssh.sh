#!/bin/sh
# t0510-watch-ssh.sh — watch_ssh against a real sshd listening on 127.0.0.1
# (tests/lib/sshd.sh: sshd_listen), with a real remote
# `inputkill watch_maildirs`.
#
# Checked: the start line and names are relayed; stdin EOF and SIGTERM stop
# it with status 0 and leave nothing running on the server; host keys are
# checked against known_hosts (plain, hashed, [host]:port only, a key type
# offered first because it is the one known), and an unknown or changed key
# is refused with its SHA256 fingerprint; authentication by key file and by
# ssh-agent, a key with a passphrase skipped unless the agent has it;
# IdentitiesOnly (-F and -o, also with only IDENTITY.pub on disk) offering
# just the agent's copy of the identity where all its keys would exceed
# sshd's MaxAuthTries; a frozen server (its sshd process stopped) detected
# within the keepalive bound; lines from the remote end that are not mailbox names dropped, its
# stderr passed on with a prefix; lines printed before the remote start
# line (a shell's greeting) never passed on; Host aliases of an ssh config
# file (-F, ~/.ssh/config) with Include and tokens, the command line
# winning over it, a ProxyJump refused without connecting, and config
# errors naming file and line; the remote command ending; connection
# errors; and mswatch running it as a watcher and syncing what it reports.
#
# "Remote" processes run on this machine, so they are found by their exact
# command lines, which contain this test's unique directory.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/sshd.sh"

sshd_available || skip_all "$SSHD_MISSING"
WS=$(sshd_bin watch_ssh)
[ -x "$WS" ] || skip_all "watch_ssh is not built"
IK=$(sshd_bin inputkill)
WM=$(sshd_bin watch_maildirs)
MSWATCH=$(sshd_bin mswatch)
FAKE_SYNC=$top_srcdir/tests/helpers/fake-sync.sh
SERVERDIR=$T_DIR/server-maildir
LOCALDIR=$T_DIR/local-maildir

plan 93

if sshd_setup && sshd_listen; then ok "sshd fixture: a listening sshd on 127.0.0.1"; else
  not_ok "sshd fixture: a listening sshd on 127.0.0.1"
  exit 1
fi
MAIN_PORT=$SSHD_PORT
MAIN_LISTENER=$SSHD_LISTEN_PID
MAIN_LOG=$SSHD_LISTEN_LOG

# No agent, and a home without ~/.ssh, unless a test sets them up: what
# this machine's user has must not decide the outcome.
unset SSH_AUTH_SOCK
HOME=$T_DIR/home
export HOME
mkdir -p "$HOME" "$SERVERDIR/cur" "$SERVERDIR/new" "$SERVERDIR/tmp" \
  "$LOCALDIR/cur" "$LOCALDIR/new" "$LOCALDIR/tmp"

KEY=$SSH_DIR/id_ed25519
KH=$T_DIR/known_hosts
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cat "$SSH_DIR/host_key.pub")" > "$KH"
HOST_FP=$(ssh-keygen -l -f "$SSH_DIR/host_key.pub" | awk '{ print $2 }')

# Options every connection to the main listener uses.
base_args () {
  echo "-p $MAIN_PORT -o GlobalKnownHostsFile=none"
}

IK_RE=$(re_escape "$IK $WM -m $SERVERDIR")
WM_RE=$(re_escape "$WM -m $SERVERDIR")
# Server-side processes for SERVERDIR: "inputkill-count watch_maildirs-count".
remote_count () { echo "$(pgrep -fx "$IK_RE" | wc -l) $(pgrep -fx "$WM_RE" | wc -l)"; }
remote_running () { [ "$(remote_count)" = "1 1" ]; }
remote_gone () { [ "$(remote_count)" = "0 0" ]; }
at_exit 'kill -KILL $(pgrep -fx "$IK_RE") $(pgrep -fx "$WM_RE")'

# start_ws NAME ARG...: starts watch_ssh in the background with its stdin a
# FIFO that the test holds open on fd 7 (closing fd 7 is the EOF), stdout
# in $T_DIR/NAME.out and stderr in $T_DIR/NAME.err.  Sets WS_PID.
start_ws () {
  local name=$1
  shift
  exec 7>&-
  rm -f "$T_DIR/$name.in"
  mkfifo "$T_DIR/$name.in"
  "$WS" "$@" < "$T_DIR/$name.in" > "$T_DIR/$name.out" 2> "$T_DIR/$name.err" 7>&- &
  WS_PID=$!
  at_exit "kill -KILL $WS_PID"
  exec 7> "$T_DIR/$name.in"
}

ws_gone () { ! kill -0 "$WS_PID" 2>/dev/null; }

# ws_wait SECONDS: waits for watch_ssh to exit and sets WS_STATUS to its
# status ("running" if it does not exit within SECONDS).  Not in a command
# substitution: only this shell can collect the status.
ws_wait () {
  if wait_until "$1" ws_gone; then
    wait "$WS_PID"
    WS_STATUS=$?
  else
    WS_STATUS=running
  fi
}

# out_is NAME CONTENT: NAME.out is exactly CONTENT (printf format).
out_is () { [ "$(od -An -c "$T_DIR/$1.out")" = "$(printf "$2" | od -An -c)" ]; }
has_start_line () { [ "$(head -c 1 "$T_DIR/$1.out" 2>/dev/null | od -An -c | tr -d ' ')" = '\n' ]; }
out_has () { grep -qx -- "$2" "$T_DIR/$1.out"; }

# deliver NAME: a message arriving in the server's INBOX, tmp/ then new/.
deliver () { echo "Subject: $1" > "$SERVERDIR/tmp/$1" && mv "$SERVERDIR/tmp/$1" "$SERVERDIR/new/$1"; }

# --- options -------------------------------------------------------------------
"$WS" > /dev/null 2> "$T_DIR/opt.err"
is "no HOST: exit 1" "$?" 1
"$WS" -p "$MAIN_PORT" 127.0.0.1 -l root -- true > /dev/null 2> "$T_DIR/opt.err"
st=$?
if [ "$st" = 1 ] && grep -q "options go before HOST" "$T_DIR/opt.err"; then
  ok "an option after HOST: exit 1, with a hint"
else
  not_ok "an option after HOST: exit 1, with a hint (status $st)"
  diag "$(cat "$T_DIR/opt.err")"
fi
"$WS" -o NoSuchOption=yes 127.0.0.1 -- true > /dev/null 2> "$T_DIR/opt.err"
st=$?
if [ "$st" = 1 ] && grep -q "NoSuchOption is not supported" "$T_DIR/opt.err"; then
  ok "an -o option it does not know: exit 1, named"
else
  not_ok "an -o option it does not know: exit 1, named (status $st)"
  diag "$(cat "$T_DIR/opt.err")"
fi

# --- relaying a real remote watcher; stopping it ------------------------------
# shellcheck disable=SC2046
start_ws live $(base_args) -i "$KEY" -o "UserKnownHostsFile=$KH" root@127.0.0.1 -- "$IK" "$WM" -m "$SERVERDIR"
wait_until 20 has_start_line live
check "the remote watcher's start line is relayed" has_start_line live
wait_until 10 remote_running
check "inputkill and watch_maildirs run on the server" remote_running
deliver m1
wait_until 10 out_has live INBOX
check "a delivery on the server comes out as INBOX" out_has live INBOX
exec 7>&-
ws_wait 10
is "stdin EOF: watch_ssh exits 0" "$WS_STATUS" 0
wait_until 15 remote_gone
is "after stdin EOF, nothing of the watcher is left on the server" "$(remote_count)" "0 0"

# shellcheck disable=SC2046
start_ws term $(base_args) -l root -i "$KEY" --known-hosts="$KH" 127.0.0.1 -- "$IK" "$WM" -m "$SERVERDIR"
wait_until 20 has_start_line term
wait_until 10 remote_running
check "a second watcher starts (-l, --known-hosts)" remote_running
kill -TERM "$WS_PID"
ws_wait 10
is "SIGTERM: watch_ssh exits 0" "$WS_STATUS" 0
wait_until 15 remote_gone
is "after SIGTERM, nothing of the watcher is left on the server" "$(remote_count)" "0 0"
exec 7>&-

# --- host keys ---------------------------------------------------------------------
: > "$T_DIR/empty_known_hosts"
# shellcheck disable=SC2046
start_ws unknown $(base_args) -i "$KEY" --known-hosts="$T_DIR/empty_known_hosts" 127.0.0.1 -- true
ws_wait 20
is "an unknown host key: exit 1" "$WS_STATUS" 1
check "... the message names the key type and its SHA256 fingerprint" \
  grep -q "ED25519 key $HOST_FP" "$T_DIR/unknown.err"
check "... and says it is not known" grep -q "is not known" "$T_DIR/unknown.err"
check "... and nothing was relayed" out_is unknown ''

ssh-keygen -q -t ed25519 -N '' -C other -f "$T_DIR/other_key"
printf '[127.0.0.1]:%s %s\n' "$MAIN_PORT" "$(cat "$T_DIR/other_key.pub")" > "$T_DIR/changed_known_hosts"
OTHER_FP=$(ssh-keygen -l -f "$T_DIR/other_key.pub" | awk '{ print $2 }')
# shellcheck disable=SC2046
start_ws changed $(base_args) -i "$KEY" --known-hosts="$T_DIR/changed_known_hosts" 127.0.0.1 -- true
ws_wait 20
is "a changed host key: exit 1" "$WS_STATUS" 1
check "... refused loudly" grep -q "REMOTE HOST IDENTIFICATION HAS CHANGED" "$T_DIR/changed.err"
if grep -q "$HOST_FP" "$T_DIR/changed.err" && grep -q "$OTHER_FP" "$T_DIR/changed.err"; then
  ok "... naming the offered and the known fingerprint"
else
  not_ok "... naming the offered and the known fingerprint"
  diag "$(cat "$T_DIR/changed.err")"
fi

# An entry without a port is for port 22 only, as with ssh.
printf '127.0.0.1 %s\n' "$(cat "$SSH_DIR/host_key.pub")" > "$T_DIR/port22_known_hosts"
# shellcheck disable=SC2046
start_ws port22 $(base_args) -i "$KEY" --known-hosts="$T_DIR/port22_known_hosts" 127.0.0.1 -- true
ws_wait 20
is "an entry for port 22 does not vouch for another port" "$WS_STATUS" 1

cp "$KH" "$T_DIR/hashed_known_hosts"
ssh-keygen -q -H -f "$T_DIR/hashed_known_hosts" > /dev/null 2>&1
rm -f "$T_DIR/hashed_known_hosts.old"
# shellcheck disable=SC2046
start_ws hashed $(base_args) -i "$KEY" --known-hosts="$T_DIR/hashed_known_hosts" 127.0.0.1 -- \
  "printf '\\nINBOX\\n'"
if grep -q '^|1|' "$T_DIR/hashed_known_hosts"; then
  ws_wait 20
  is "a hashed known_hosts entry is accepted; the command ending gives exit 2" "$WS_STATUS" 2
else
  not_ok "a hashed known_hosts entry is accepted (ssh-keygen -H did not hash)"
fi
check "... with the command's lines relayed" out_is hashed '\nINBOX\n'
check "... and its end reported with its status" \
  grep -q "the remote command exited with status 0" "$T_DIR/hashed.err"

# A server with an ECDSA and an ED25519 key, of which known_hosts has only
# the ED25519 one: that must be the one asked for, although libssh2 would
# ask for ECDSA first.
ssh-keygen -q -t ecdsa -N '' -C ecdsa-host -f "$SSH_DIR/host_ecdsa"
if sshd_listen -h "$SSH_DIR/host_ecdsa" -h "$SSH_DIR/host_key"; then
  printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cat "$SSH_DIR/host_key.pub")" > "$T_DIR/two_known_hosts"
  start_ws twokeys -p "$SSHD_PORT" -o GlobalKnownHostsFile=none -i "$KEY" \
    --known-hosts="$T_DIR/two_known_hosts" 127.0.0.1 -- "exit 3"
  ws_wait 20
  is "of two host key types, the one known is negotiated" "$WS_STATUS" 2
  check "... and the command's exit status is reported" \
    grep -q "exited with status 3" "$T_DIR/twokeys.err"
else
  not_ok "of two host key types, the one known is negotiated (no second listener)"
  not_ok "... and the command's exit status is reported"
fi
SSHD_PORT=$MAIN_PORT
SSHD_LISTEN_PID=$MAIN_LISTENER

# --- authentication ------------------------------------------------------------
# shellcheck disable=SC2046
start_ws wrongkey $(base_args) -i "$T_DIR/other_key" --known-hosts="$KH" 127.0.0.1 -- true
ws_wait 20
is "a key the server does not accept: exit 1" "$WS_STATUS" 1
check "... no key was accepted" grep -q "no key was accepted for root@127.0.0.1" "$T_DIR/wrongkey.err"

ssh-keygen -q -t ed25519 -N 'correct horse' -C locked -f "$T_DIR/locked_key"
cat "$T_DIR/locked_key.pub" >> "$SSH_DIR/authorized_keys"
# shellcheck disable=SC2046
start_ws locked $(base_args) -i "$T_DIR/locked_key" --known-hosts="$KH" 127.0.0.1 -- true
ws_wait 20
is "a key with a passphrase and no agent: exit 1" "$WS_STATUS" 1
check "... the key was skipped for its passphrase" \
  grep -q "locked_key is protected by a passphrase; skipped" "$T_DIR/locked.err"

eval "$(ssh-agent -s)" > /dev/null
at_exit "kill $SSH_AGENT_PID"
printf '#!/bin/sh\necho "correct horse"\n' > "$T_DIR/askpass"
chmod +x "$T_DIR/askpass"
SSH_ASKPASS=$T_DIR/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none \
  ssh-add "$T_DIR/locked_key" < /dev/null > /dev/null 2>&1
check "ssh-agent holds the key with the passphrase" sh -c 'ssh-add -l | grep -q locked'
# shellcheck disable=SC2046
start_ws agent $(base_args) -i "$T_DIR/locked_key" --known-hosts="$KH" 127.0.0.1 -- "echo; exec $IK sleep 60"
wait_until 20 has_start_line agent
check "... with the agent, the same key logs in" has_start_line agent
check "... and no passphrase message" sh -c '! grep -q passphrase "$1"' sh "$T_DIR/agent.err"
kill -TERM "$WS_PID"
ws_wait 10
# shellcheck disable=SC2046
start_ws agentonly $(base_args) --known-hosts="$KH" 127.0.0.1 -- "echo; exec $IK sleep 60"
wait_until 20 has_start_line agentonly
check "no key files at all: the agent's key is used" has_start_line agentonly
kill -TERM "$WS_PID"
ws_wait 10
kill "$SSH_AGENT_PID"
unset SSH_AUTH_SOCK SSH_AGENT_PID

# --- IdentitiesOnly: an agent with many keys ----------------------------------------
# The agent holds three keys the server does not accept, added before the
# one it does, and this listener allows 3 tries (MaxAuthTries): offering
# the agent's keys in its order ends the connection before the right one.
# With IdentitiesOnly, only the agent's copy of an IdentityFile is offered,
# as with ssh, also when only IDENTITY.pub is on disk.
eval "$(ssh-agent -s)" > /dev/null
at_exit "kill $SSH_AGENT_PID"
for d in 1 2 3; do
  ssh-keygen -q -t ed25519 -N '' -C "decoy$d" -f "$T_DIR/decoy$d"
  ssh-add "$T_DIR/decoy$d" < /dev/null > /dev/null 2>&1
done
ssh-add "$KEY" < /dev/null > /dev/null 2>&1
is "ssh-agent holds 3 keys the server refuses, then the one it accepts" \
  "$(ssh-add -l | awk '{ printf "%s ", $3 }')" "decoy1 decoy2 decoy3 mswatch-test-client "
mkdir -p "$T_DIR/pubonly"
cp "$KEY.pub" "$T_DIR/pubonly/id_ed25519.pub"
# ran_to_end NAME: watch_ssh logged in and ran the command to its end (a
# refused login gives exit 2 as well, but no exit status of the command).
ran_to_end () {
  [ "$WS_STATUS" = 2 ] && grep -q "the remote command exited with status 0" "$T_DIR/$1.err"
}

if sshd_listen -o MaxAuthTries=3; then
  MANY_PORT=$SSHD_PORT
  MANY_LISTENER=$SSHD_LISTEN_PID
  MANY_LOG=$SSHD_LISTEN_LOG
  printf '[127.0.0.1]:%s %s\n' "$MANY_PORT" "$(cat "$SSH_DIR/host_key.pub")" > "$T_DIR/many_known_hosts"
  cat > "$T_DIR/idonly_config" <<CONFIG
Host idonly
  HostName 127.0.0.1
  Port $MANY_PORT
  User root
  UserKnownHostsFile $T_DIR/many_known_hosts
  GlobalKnownHostsFile none
  IdentitiesOnly yes
  IdentityFile $KEY
Host plain
  HostName 127.0.0.1
  Port $MANY_PORT
  User root
  UserKnownHostsFile $T_DIR/many_known_hosts
  GlobalKnownHostsFile none
  IdentityFile $KEY
CONFIG

  start_ws manykeys -F "$T_DIR/idonly_config" plain -- "printf '\\n'"
  ws_wait 20
  # Exit 2 when watch_ssh reads the server's disconnect, 1 when it reads
  # refusals for the keys it offers after it: a matter of timing.
  check "without IdentitiesOnly, 3 refused agent keys first: no login (exit 1 or 2, got $WS_STATUS)" \
    sh -c "[ '$WS_STATUS' = 1 ] || [ '$WS_STATUS' = 2 ]"
  check "... and the command never ran" sh -c "! grep -q 'the remote command exited' '$T_DIR/manykeys.err'"
  check "... the server ended the connection after MaxAuthTries" \
    grep -q "Too many authentication failures" "$MANY_LOG"
  check "... and the message suggests why, and IdentitiesOnly" grep -q \
    "too many keys tried?.*IdentitiesOnly yes" "$T_DIR/manykeys.err"

  failed=$(grep -c "Failed publickey" "$MANY_LOG")
  start_ws idonly -F "$T_DIR/idonly_config" idonly -- "printf '\\nINBOX\\n'"
  ws_wait 20
  check "IdentitiesOnly yes + IdentityFile (-F): logs in; the command ran (exit 2 at its end)" \
    ran_to_end idonly
  check "... with its lines relayed" out_is idonly '\nINBOX\n'
  is "... and no other agent key was offered" "$(grep -c "Failed publickey" "$MANY_LOG")" "$failed"

  start_ws idonlyno -o IdentitiesOnly=no -F "$T_DIR/idonly_config" idonly -- "printf '\\n'"
  ws_wait 20
  check "-o IdentitiesOnly=no wins over the file's yes: every agent key, no login (exit 1 or 2, got $WS_STATUS)" \
    sh -c "[ '$WS_STATUS' = 1 ] || [ '$WS_STATUS' = 2 ]"
  check "... cut off by MaxAuthTries" grep -q "too many keys tried" "$T_DIR/idonlyno.err"

  start_ws pubonly -p "$MANY_PORT" -o GlobalKnownHostsFile=none \
    --known-hosts="$T_DIR/many_known_hosts" -o identitiesonly=YES \
    -i "$T_DIR/pubonly/id_ed25519" 127.0.0.1 -- "printf '\\nINBOX\\n'"
  ws_wait 20
  check "-o IdentitiesOnly=yes, only IDENTITY.pub on disk: the agent's key logs in" \
    ran_to_end pubonly
  check "... with the command's lines relayed" out_is pubonly '\nINBOX\n'

  sshd_listen_stop "$MANY_LISTENER"
  wait "$MANY_LISTENER" 2> /dev/null
else
  for n in 1 2 3 4 5 6 7 8 9 10; do not_ok "IdentitiesOnly (no listener with MaxAuthTries)"; done
fi
SSHD_PORT=$MAIN_PORT
SSHD_LISTEN_PID=$MAIN_LISTENER

"$WS" -o IdentitiesOnly=maybe 127.0.0.1 -- true > /dev/null 2> "$T_DIR/idbad.err"
st=$?
if [ "$st" = 1 ] && grep -qF -- '-o IdentitiesOnly must be yes or no (got "maybe")' "$T_DIR/idbad.err"
then ok "-o IdentitiesOnly with a bad value: exit 1, naming the option"; else
  not_ok "-o IdentitiesOnly with a bad value: exit 1, naming the option (status $st)"
  diag "$(cat "$T_DIR/idbad.err")"
fi
printf 'Host *\n  IdentitiesOnly perhaps\n' > "$T_DIR/idbad_config"
"$WS" -F "$T_DIR/idbad_config" 127.0.0.1 -- true > /dev/null 2> "$T_DIR/idbadconf.err"
is "IdentitiesOnly with a bad value in -F: exit 1" "$?" 1
check "... naming the file and the line" grep -qF \
  "watch_ssh: $T_DIR/idbad_config:2: IdentitiesOnly must be yes or no, not \"perhaps\"" \
  "$T_DIR/idbadconf.err"
kill "$SSH_AGENT_PID"
unset SSH_AUTH_SOCK SSH_AGENT_PID

# --- what the remote end sends --------------------------------------------------
cat > "$T_DIR/hostile.sh" <<'EOF'
#!/bin/sh
# A remote "watcher" that prints what no watcher should.
printf '\n'
printf 'INBOX\n'
printf '../x\n'
head -c 5000 /dev/zero | tr '\0' L
printf '\n'
printf 'a\001b\n'
printf '/etc\n'
printf 'good/name\n'
printf 'remote says \033[31mhi\n' >&2
printf 'unterminated'
EOF
chmod +x "$T_DIR/hostile.sh"
# shellcheck disable=SC2046
start_ws hostile $(base_args) -i "$KEY" --known-hosts="$KH" 127.0.0.1 -- "$T_DIR/hostile.sh"
ws_wait 20
is "a remote command that ends: exit 2" "$WS_STATUS" 2
if out_is hostile '\nINBOX\ngood/name\n'; then ok "only the start line and valid names pass"; else
  not_ok "only the start line and valid names pass"
  diag "$(od -c "$T_DIR/hostile.out" | head -n 5)"
fi
is "... the 4 other lines are dropped with a message" \
  "$(grep -c 'dropped a line that is not a mailbox name' "$T_DIR/hostile.err")" 4
check "... the over-long one among them" grep -q "a line longer than 4095 bytes" "$T_DIR/hostile.err"
check "remote stderr is passed on, prefixed, control characters escaped" \
  grep -qxF '127.0.0.1: remote says \x1b[31mhi' "$T_DIR/hostile.err"

# --- lines before the start line ----------------------------------------------------
# A remote shell whose start-up files greet before the watcher starts: the
# coordinator takes a first line other than the start line for a broken
# watcher, so the greeting must never reach stdout.
# shellcheck disable=SC2046
start_ws welcome $(base_args) -i "$KEY" --known-hosts="$KH" 127.0.0.1 -- \
  "echo Welcome; echo 'Last login: never'; exec $IK $WM -m $SERVERDIR"
wait_until 20 has_start_line welcome
check "lines before the remote start line: stdout starts with the start line" has_start_line welcome
wait_until 10 remote_running
deliver m3
wait_until 10 out_has welcome INBOX
check "... the names after it pass" out_has welcome INBOX
check "... and \"Welcome\" never reaches stdout" sh -c '! grep -q Welcome "$1"' sh "$T_DIR/welcome.out"
is "... the early lines are dropped with one message" \
  "$(grep -c 'before its start line' "$T_DIR/welcome.err")" 1
check "... which shows the first of them" \
  grep -q '^watch_ssh: 127.0.0.1: dropping .* beginning with "Welcome"$' "$T_DIR/welcome.err"
exec 7>&-
ws_wait 10
is "... stdin EOF: exit 0" "$WS_STATUS" 0
wait_until 15 remote_gone

# --- ssh_config: -F and ~/.ssh/config -------------------------------------------------
# As a user who moves `watch ssh ALIAS inputkill watch_maildirs` over has
# it.  The Include comes first: further down, it would belong to the last
# Host block.  %d and ~ are the test's HOME, $T_DIR/home.
mkdir -p "$T_DIR/conf.d"
SSHCONF=$T_DIR/ssh_config
cat > "$SSHCONF" <<CONFIG
# ssh_config for watch_ssh's tests
Include "$T_DIR/conf.d/*.conf"

Host !nomatch mail-alias other-alias
  HostName 127.0.0.1
  Port=$MAIN_PORT
  User root
Host wrongport-alias
  HostName 127.0.0.1
  Port 1
  User root
Host *-alias
  IdentityFile %d/../ssh/id_ed25519
  UserKnownHostsFile ~/../known_hosts
  GlobalKnownHostsFile none
  ConnectTimeout 10
Host jumpy
  HostName 127.0.0.1
  Port $MAIN_PORT
  ProxyJump jump.example.org
CONFIG
cat > "$T_DIR/conf.d/inc.conf" <<CONFIG
Host inc-alias
  HostName 127.0.0.1
  Port $MAIN_PORT
  User root
CONFIG

start_ws alias -F "$SSHCONF" mail-alias -- "$IK" "$WM" -m "$SERVERDIR"
wait_until 20 has_start_line alias
check "-F: a Host alias gives HostName, Port, User, IdentityFile, UserKnownHostsFile" \
  has_start_line alias
wait_until 10 remote_running
check "... the remote watcher runs" remote_running
deliver m4
wait_until 10 out_has alias INBOX
check "... and its names are relayed" out_has alias INBOX
exec 7>&-
ws_wait 10
is "... stdin EOF: exit 0" "$WS_STATUS" 0
wait_until 15 remote_gone

start_ws inc -F "$SSHCONF" inc-alias -- "printf '\\nINBOX\\n'"
ws_wait 20
is "-F: an alias from an included file: the command ran (exit 2 at its end)" "$WS_STATUS" 2
check "... with its lines relayed" out_is inc '\nINBOX\n'

start_ws wrongport -F "$SSHCONF" wrongport-alias -- true
ws_wait 20
is "-F: the file's Port is used" "$WS_STATUS" 2
check "... (port 1: refused)" grep -q "cannot connect to 127.0.0.1 port 1\\b" "$T_DIR/wrongport.err"
start_ws cmdport -F "$SSHCONF" -p "$MAIN_PORT" wrongport-alias -- "printf '\\n'"
ws_wait 20
is "-F: -p on the command line wins over the file's Port" "$WS_STATUS" 2
check "... and the command ran" out_is cmdport '\n'

connections=$(grep -c "Connection from" "$MAIN_LOG")
line=$(grep -n "ProxyJump" "$SSHCONF" | cut -d: -f1)
start_ws jumpy -F "$SSHCONF" jumpy -- true
ws_wait 10
is "-F: a host with ProxyJump: exit 1" "$WS_STATUS" 1
check "... refused, naming the file and the line" grep -qF \
  "watch_ssh: $SSHCONF:$line: ProxyJump jump.example.org: watch_ssh cannot connect through" \
  "$T_DIR/jumpy.err"
is "... without connecting to the host" "$(grep -c "Connection from" "$MAIN_LOG")" "$connections"

start_ws missing -F "$T_DIR/no_such_config" mail-alias -- true
ws_wait 10
is "-F with a file that does not exist: exit 1" "$WS_STATUS" 1
check "... saying so" grep -qF "cannot read $T_DIR/no_such_config" "$T_DIR/missing.err"

printf 'Host *\n  Port x\n' > "$T_DIR/bad_config"
start_ws badconf -F "$T_DIR/bad_config" mail-alias -- true
ws_wait 10
is "-F with a malformed line: exit 1" "$WS_STATUS" 1
check "... naming the file and the line" \
  grep -qF "watch_ssh: $T_DIR/bad_config:2: Port must be a number from 1 to 65535" \
  "$T_DIR/badconf.err"

# ~/.ssh/config is read without -F, and refused when others may write it,
# as ssh refuses it.  (The test's own HOME, named in full.)
mkdir -p "$T_DIR/home/.ssh"
cp "$SSHCONF" "$T_DIR/home/.ssh/config"
chmod 600 "$T_DIR/home/.ssh/config"
start_ws home other-alias -- "printf '\\n'"
ws_wait 20
is "~/.ssh/config: an alias in it is used without -F" "$WS_STATUS" 2
check "... and the command ran" out_is home '\n'
chmod 666 "$T_DIR/home/.ssh/config"
start_ws homeperm other-alias -- true
ws_wait 10
is "~/.ssh/config writable by others: exit 1" "$WS_STATUS" 1
check "... saying why" grep -qF "bad owner or permissions on $T_DIR/home/.ssh/config" \
  "$T_DIR/homeperm.err"
rm -r "$T_DIR/home/.ssh"

# --- a frozen server ----------------------------------------------------------------
# shellcheck disable=SC2046
start_ws frozen $(base_args) -i "$KEY" --known-hosts="$KH" --keepalive=1 --keepalive-count=2 \
  127.0.0.1 -- "$IK" "$WM" -m "$SERVERDIR"
wait_until 20 has_start_line frozen
wait_until 10 remote_running
session=$(sshd_session_pid "$(sshd_client_port "$WS_PID")")
if [ -n "$session" ]; then ok "the sshd process serving the connection is found"; else
  not_ok "the sshd process serving the connection is found"
fi
at_exit "kill -CONT $session; kill -KILL $session"
start=$(now_ms)
kill -STOP "$session"
ws_wait 15
st=$WS_STATUS
elapsed=$(($(now_ms) - start))
is "a frozen server: watch_ssh exits 2" "$st" 2
# The bound is 1 s x 2 after the last answer, which came before the freeze;
# 2 s of margin for a loaded machine.
check "... within the keepalive bound of 2 s, plus margin (took $elapsed ms)" [ "$elapsed" -le 4000 ]
check "... saying so" grep -q "connection to 127.0.0.1 lost (no answer for 2 s)" "$T_DIR/frozen.err"
kill -CONT "$session"
kill -TERM "$session" 2> /dev/null
exec 7>&-
wait_until 15 remote_gone

# --- connection errors --------------------------------------------------------------
# A port nothing listens on: the listener's, after it is gone.
sshd_listen
DEAD_PORT=$SSHD_PORT
sshd_listen_stop "$SSHD_LISTEN_PID"
wait "$SSHD_LISTEN_PID" 2> /dev/null
SSHD_PORT=$MAIN_PORT
SSHD_LISTEN_PID=$MAIN_LISTENER
start_ws refused -p "$DEAD_PORT" -i "$KEY" --known-hosts="$KH" 127.0.0.1 -- true
ws_wait 20
is "connection refused: exit 2" "$WS_STATUS" 2
check "... saying so" grep -q "cannot connect to 127.0.0.1 port $DEAD_PORT" "$T_DIR/refused.err"

# A listener that accepts (the kernel does) but never speaks.
kill -STOP "$MAIN_LISTENER"
start=$(now_ms)
# shellcheck disable=SC2046
start_ws mute $(base_args) -i "$KEY" --known-hosts="$KH" --connect-timeout=1 127.0.0.1 -- true
ws_wait 15
st=$WS_STATUS
elapsed=$(($(now_ms) - start))
kill -CONT "$MAIN_LISTENER"
is "a server that never answers: exit 2" "$st" 2
check "... after --connect-timeout=1 (took $elapsed ms)" [ "$elapsed" -le 3000 ]
check "... saying when" grep -q "timed out after 1 s in the SSH handshake" "$T_DIR/mute.err"

# --- under mswatch ------------------------------------------------------------------
mkdir -p "$T_DIR/sync"
esc () {
  local w out=
  for w in "$@"; do out="$out $(printf '%s' "$w" | sed 's/[^A-Za-z0-9/._=+-]/\\&/g')"; done
  printf '%s' "${out# }"
}
cat > "$T_DIR/mswatchrc" <<EOF
sync $(esc "$FAKE_SYNC" "$T_DIR/sync")
base_delay 0
inter_delay 1
max_delay 2
store local {
  watch $(esc "$WM" -m "$LOCALDIR")
}
store remote {
  watch $(esc "$WS" -p "$MAIN_PORT" -i "$KEY" -o "UserKnownHostsFile=$KH" 127.0.0.1 -- "$IK" "$WM" -m "$SERVERDIR")
}
EOF
# syncs ARGS: how many sync runs had exactly these arguments.
syncs () {
  local n
  n=$(grep -c -- " $1\$" "$T_DIR/sync/log" 2> /dev/null)
  echo "${n:-0}"
}
syncs_at_least () { [ "$(syncs "$2")" -ge "$1" ]; }

"$MSWATCH" -c "$T_DIR/mswatchrc" < /dev/null > "$T_DIR/ms.out" 2> "$T_DIR/ms.err" 7>&- &
MS_PID=$!
at_exit "kill -KILL $MS_PID"
wait_until 30 syncs_at_least 1 "\[\]"
check "mswatch with a watch_ssh watcher: the start-up syncs run" syncs_at_least 1 "\[\]"
wait_until 10 remote_running
n=$(syncs "\[INBOX\]")
deliver m2
wait_until 15 syncs_at_least $((n + 1)) "\[INBOX\]"
check "a delivery on the server triggers a sync of INBOX" syncs_at_least $((n + 1)) "\[INBOX\]"
kill -TERM "$MS_PID"
wait_until 20 sh -c '! kill -0 "$1" 2>/dev/null' sh "$MS_PID" || kill -KILL "$MS_PID"
wait "$MS_PID"
is "SIGTERM: mswatch exits 0" "$?" 0
wait_until 15 remote_gone
is "after mswatch stops, nothing is left on the server" "$(remote_count)" "0 0"
