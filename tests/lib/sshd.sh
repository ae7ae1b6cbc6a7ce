# sshd.sh — a real OpenSSH server for one test; source it after test-lib.sh.
#
# The server is not a daemon: the client's ProxyCommand runs `sshd -i`, which
# speaks SSH on its stdin and stdout, so no port is opened, nothing listens,
# and each connection has its own sshd that ends with it.  Everything (keys,
# configs, the server log) lives in $T_DIR/ssh and is kept with the test's
# logs when it fails.
#
#   sshd_available || skip_all "$SSHD_MISSING"
#   sshd_setup || ...          # sets SSH_CONFIG; checks one login
#   ssh -F "$SSH_CONFIG" testhost /abs/path/to/program ARGS...
#
# The remote command runs under root's login shell with the system PATH, so
# tests pass absolute paths of the programs they built (see sshd_bin).
#
# Pitfalls this handles: sshd must be started by its absolute path (it
# re-executes itself), needs its privilege-separation directory /run/sshd and
# the `sshd` user, and without UsePAM=no would go through PAM and systemd
# sessions.  StrictModes is off because $T_DIR's parents are not ours to vet.

SSHD=/usr/sbin/sshd
SSH_DIR=$T_DIR/ssh
SSH_CONFIG=$SSH_DIR/ssh_config
SSHD_CONFIG=$SSH_DIR/sshd_config
SSHD_LOG=$SSH_DIR/sshd.log
SSHD_MISSING=

# sshd_available: succeeds when a test can start sshd here; otherwise sets
# SSHD_MISSING to the reason, for skip_all.
sshd_available () {
  if [ ! -x "$SSHD" ]; then
    SSHD_MISSING="$SSHD not found (install openssh-server)"
  elif ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
    SSHD_MISSING="ssh or ssh-keygen not found (install openssh-client)"
  elif [ "$(id -u)" -ne 0 ]; then
    SSHD_MISSING="sshd tests log in as root and must run as root"
  elif ! getent passwd sshd >/dev/null 2>&1; then
    SSHD_MISSING="no sshd user (it comes with openssh-server)"
  else
    return 0
  fi
  return 1
}

# sshd_bin NAME: absolute path of a program in the build tree, for use in a
# remote command.
sshd_bin () {
  printf '%s/%s\n' "$(cd "$top_builddir" && pwd)" "$1"
}

# sshd_setup: makes keys and both configs, then logs in once; returns 1 (with
# the server log as TAP diagnostics) if that login fails.
sshd_setup () {
  mkdir -p "$SSH_DIR" /run/sshd || return 1
  chmod 700 "$SSH_DIR"
  ssh-keygen -q -t ed25519 -N '' -C mswatch-test-host -f "$SSH_DIR/host_key" || return 1
  ssh-keygen -q -t ed25519 -N '' -C mswatch-test-client -f "$SSH_DIR/id_ed25519" || return 1
  cp "$SSH_DIR/id_ed25519.pub" "$SSH_DIR/authorized_keys"
  printf 'testhost %s\n' "$(cat "$SSH_DIR/host_key.pub")" > "$SSH_DIR/known_hosts"

  cat > "$SSHD_CONFIG" <<EOF
# Only ever run as \`sshd -i\`; ListenAddress keeps a mistaken daemon local.
ListenAddress 127.0.0.1
HostKey "$SSH_DIR/host_key"
PidFile none
AuthorizedKeysFile "$SSH_DIR/authorized_keys"
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin yes
StrictModes no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
LogLevel VERBOSE
EOF

  cat > "$SSH_CONFIG" <<EOF
Host testhost
  HostName 127.0.0.1
  HostKeyAlias testhost
  User root
  ProxyCommand "$SSHD" -i -f "$SSHD_CONFIG" -E "$SSHD_LOG"
  IdentityFile "$SSH_DIR/id_ed25519"
  IdentitiesOnly yes
  UserKnownHostsFile "$SSH_DIR/known_hosts"
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  CheckHostIP no
  UpdateHostKeys no
  BatchMode yes
  ControlMaster no
  ControlPath none
  LogLevel ERROR
EOF

  local out
  out=$(ssh -F "$SSH_CONFIG" testhost echo ssh-ready < /dev/null 2> "$SSH_DIR/setup.err")
  if [ "$out" != ssh-ready ]; then
    diag "ssh to testhost failed; client said:"
    diag "$(cat "$SSH_DIR/setup.err")"
    diag "sshd log:"
    diag "$(tail -n 20 "$SSHD_LOG" 2>/dev/null)"
    return 1
  fi
}

# re_escape STRING: STRING as an extended regular expression matching itself
# (for pgrep -f with a path in it).
re_escape () {
  printf '%s\n' "$1" | sed 's/[][\.*^$+?(){}|]/\\&/g'
}

# --- a listening sshd, for clients that make their own TCP connection -----
#
# watch_ssh speaks SSH itself (libssh2) and has no ProxyCommand, so it needs
# a server on a port.  sshd_listen runs sshd in the foreground (-D) on
# 127.0.0.1 with the configuration and keys of sshd_setup (call that first),
# on a port picked at random and retried if taken, since sshd cannot be given
# port 0.  Each connection is served by a child of the listener, so a test
# can find (and freeze) the one process behind its own connection.
#
#   sshd_listen [SSHD_ARG...] || ...   # sets SSHD_PORT, SSHD_LISTEN_PID
#   pid=$(sshd_session_pid "$(sshd_client_port "$client_pid")")
#
# Extra arguments go to sshd, e.g. `-h FILE` for another host key.  Several
# listeners may run; the variables name the last one started.  Each is
# stopped, with the sessions it forked, when the test ends.

SSHD_PORT=
SSHD_LISTEN_PID=
SSHD_LISTEN_LOG=

# sshd_listen_ready PORT: the listener has bound PORT, or has died trying.
sshd_listen_ready () {
  grep -q "Server listening on 127.0.0.1 port $1" "$SSHD_LISTEN_LOG" 2>/dev/null ||
    ! kill -0 "$SSHD_LISTEN_PID" 2>/dev/null
}

sshd_listen () {
  local try port
  for try in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
    SSHD_LISTEN_LOG=$SSH_DIR/sshd-listen-$port.log
    "$SSHD" -D -f "$SSHD_CONFIG" -E "$SSHD_LISTEN_LOG" -p "$port" "$@" < /dev/null > /dev/null 2>&1 &
    SSHD_LISTEN_PID=$!
    wait_until 10 sshd_listen_ready "$port"
    if grep -q "Server listening on 127.0.0.1 port $port" "$SSHD_LISTEN_LOG" 2>/dev/null; then
      SSHD_PORT=$port
      at_exit "sshd_listen_stop $SSHD_LISTEN_PID"
      return 0
    fi
    kill "$SSHD_LISTEN_PID" 2>/dev/null
    wait "$SSHD_LISTEN_PID" 2>/dev/null
  done
  diag "sshd could not listen on 127.0.0.1; its log says:"
  diag "$(tail -n 5 "$SSHD_LISTEN_LOG" 2>/dev/null)"
  return 1
}

# sshd_listen_stop PID: stops a listener and the sessions it forked (woken
# first, in case a test froze one).
sshd_listen_stop () {
  local children
  children=$(pgrep -P "$1")
  [ -n "$children" ] && kill -CONT $children && kill -TERM $children
  kill -TERM "$1"
}

# tcp_hex_port N: a port as /proc/net/tcp writes it.
tcp_hex_port () { printf '%04X' "$1"; }

# sshd_client_port PID: the local port of PID's connection to the last
# listener (empty if it has none).
sshd_client_port () {
  local inodes hex
  inodes=$(ls -l /proc/"$1"/fd 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p' | tr '\n' ' ')
  hex=$(awk -v rp="$(tcp_hex_port "$SSHD_PORT")" -v inodes=" $inodes" '
    NR > 1 { split($2, l, ":"); split($3, r, ":")
             if (r[2] == rp && index(inodes, " " $10 " ")) { print l[2]; exit } }' /proc/net/tcp)
  [ -n "$hex" ] && printf '%d\n' "0x$hex"
}

# sshd_session_pid CLIENT_PORT: the child of the last listener that serves
# the connection from CLIENT_PORT.
sshd_session_pid () {
  local inode pid
  [ -n "$1" ] || return 1
  inode=$(awk -v lp="$(tcp_hex_port "$SSHD_PORT")" -v rp="$(tcp_hex_port "$1")" '
    NR > 1 { split($2, l, ":"); split($3, r, ":")
             if (l[2] == lp && r[2] == rp) { print $10; exit } }' /proc/net/tcp)
  [ -n "$inode" ] || return 1
  for pid in $(pgrep -P "$SSHD_LISTEN_PID"); do
    if ls -l /proc/"$pid"/fd 2>/dev/null | grep -q "socket:\[$inode\]"; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}
