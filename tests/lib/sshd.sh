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
