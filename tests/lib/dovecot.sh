# dovecot.sh — a real Dovecot IMAP server for one test; source it after
# test-lib.sh.
#
#   dovecot_available                 # skip_all unless Dovecot can run here
#   dovecot_setup [OPTIONS] || ...    # config, certificates, user; starts it
#     (--layout maildir++|fs, --separator C, --capability "CAPS" to hide
#     extensions, --ssl yes|required|no, --cert good|untrusted|wronghost,
#     --hibernate SECS: IDLE connections hibernate after SECS)
#   mbsync, a syncer or openssl connect to 127.0.0.1:$DOVECOT_IMAPS_PORT
#   (TLS, verified against $DOVECOT_CA) or :$DOVECOT_IMAP_PORT (STARTTLS),
#   as $DOVECOT_USER / $DOVECOT_PASS, or run "$(dovecot_preauth_cmd)" as a
#   Tunnel: preauthenticated IMAP on stdin and stdout, no network at all.
#
# Then, for the test to act as the server's other users and its admin:
#   dovecot_seed N COUNT            bulk mail (fast; before clients connect)
#   dovecot_append FOLDER FILE [FLAGS], dovecot_make_message FILE [SUBJECT]
#   dovecot_store, dovecot_expunge, dovecot_messages, dovecot_status
#   dovecot_set_uidvalidity, dovecot_reset_uids   (UIDVALIDITY changes)
#   dovecot_imap CMD...             a raw preauthenticated session
#   dovecot_stop, dovecot_restart   (same ports; connections are cut)
#   dovecot_use_cert KIND, dovecot_tls_verify     (TLS failure cases)
#   dovecot_clear_logins            passwords seen outside TLS
# Folder names are IMAP names: modified UTF-7, hierarchy with $DOVECOT_SEP.
#
# Everything lives in $T_DIR/dovecot: dovecot.conf (self-contained, nothing
# from /etc/dovecot), the passwd file, the TLS files in tls/, the user's home
# with the mail in home/Maildir, and the logs: dovecot.log (log_path of the
# server), master.out (the master's own stdout and stderr: startup errors
# land there) and imap-preauth.log (the preauth imap).  They are kept with the
# test's logs when it fails.  The server listens on 127.0.0.1 only, on two
# ports picked free at run time; dovecot_restart keeps them.
#
# The test suite runs as root, and Dovecot makes that awkward in ways this
# file handles:
# * Mail may not be accessed as root (mail_uid 0 is refused whatever
#   first_valid_uid says, and passwd-file rejects uid 0), so the mail belongs
#   to `nobody`: mail_uid and mail_gid are set globally and the uid/gid fields
#   of the passwd file stay empty.  $T_DIR gets o+x so that nobody can reach
#   the home inside it.
# * The standalone imap binary refuses to run as root with a socket on its
#   stdout ("must not be started from inetd"), which is what an mbsync Tunnel
#   gives it; the preauth wrapper switches to the mail uid first.
# * The master keeps its stdout and stderr open for ever, so it must never
#   inherit the test's stdout (or a pipe someone waits on): both go to
#   master.out.
# * Unix socket paths are limited to 108 bytes.  When $T_DIR is long,
#   base_dir moves to a short directory under /tmp, with a symlink at
#   $DOVECOT_DIR/run (removed again at exit).
# * Dovecot counts a connection whose client and server addresses are equal
#   as secure, so on loopback even `ssl = required` lets a password through
#   in clear.  Tests that check credentials are only sent under TLS use
#   dovecot_clear_logins, which reads the login log instead.
# * Package installs must not start the system's dovecot on all addresses
#   (tests/install-deps.sh sees to that); this server never reads or touches
#   /etc/dovecot, /run/dovecot or /var/lib/dovecot.
#
# Reconfiguring: calling dovecot_setup again stops the server, rewrites the
# configuration from the new options (each call describes the whole
# configuration) and starts it on the same ports, keeping the mail.

DOVECOT_BIN=/usr/sbin/dovecot
DOVECOT_IMAP_BIN=/usr/lib/dovecot/imap
DOVECOT_DIR=$T_DIR/dovecot
DOVECOT_CONF=$DOVECOT_DIR/dovecot.conf
DOVECOT_LOG=$DOVECOT_DIR/dovecot.log
DOVECOT_STDIO_LOG=$DOVECOT_DIR/master.out
DOVECOT_PREAUTH=$DOVECOT_DIR/imap-preauth
DOVECOT_PREAUTH_LOG=$DOVECOT_DIR/imap-preauth.log
DOVECOT_TLS_DIR=$DOVECOT_DIR/tls
DOVECOT_CA=$DOVECOT_TLS_DIR/ca.pem
# The certificate the server presents normally: signed by $DOVECOT_CA, for
# 127.0.0.1 and localhost.  isync checks the host name against CN and
# dNSName only, Python and OpenSSL check an address against iPAddress only:
# so 127.0.0.1 is in the SAN both ways.
DOVECOT_CERT=$DOVECOT_TLS_DIR/server.pem
DOVECOT_KEY=$DOVECOT_TLS_DIR/server.key
# For negative TLS tests (see dovecot_use_cert): right names but self-signed,
# and signed by the CA but for another host name.
DOVECOT_UNTRUSTED_CERT=$DOVECOT_TLS_DIR/untrusted.pem
DOVECOT_UNTRUSTED_KEY=$DOVECOT_TLS_DIR/untrusted.key
DOVECOT_WRONGHOST_CERT=$DOVECOT_TLS_DIR/wronghost.pem
DOVECOT_WRONGHOST_KEY=$DOVECOT_TLS_DIR/wronghost.key
DOVECOT_WRONGHOST_NAME=wrong-host.invalid
DOVECOT_USER=test
DOVECOT_PASS=test
DOVECOT_HOME=$DOVECOT_DIR/home
DOVECOT_MAILDIR=$DOVECOT_HOME/Maildir
DOVECOT_IMAP_PORT=
DOVECOT_IMAPS_PORT=
export DOVECOT_CA DOVECOT_USER DOVECOT_PASS DOVECOT_MAILDIR DOVECOT_IMAP_PORT DOVECOT_IMAPS_PORT

# Set by dovecot_setup from its options.
DOVECOT_LAYOUT=maildir++
DOVECOT_SEP=.
DOVECOT_SSL=yes
DOVECOT_CAPABILITY=
DOVECOT_CERT_KIND=good

DOVECOT_PID=
DOVECOT_BASE_DIR=
DOVECOT_MOVED_BASE_DIR=
DOVECOT_CLEANUP_SET=
DOVECOT_MAIL_UID=
DOVECOT_MAIL_GID=
DOVECOT_SEED_RUNS=0
DOVECOT_SEEDED_FOLDERS=

# Seconds allowed for the server to come up or go away.  A cold start takes
# well under a second; the margin is for a loaded CI machine.
DOVECOT_DEADLINE=30
# Attempts at finding two free ports: another process may take a port
# between our check and Dovecot's bind, and then we try other ones.
DOVECOT_PORT_TRIES=8
# base_dir longer than this moves to /tmp: the longest socket below it
# ("replication-notify-fifo", 23 bytes) plus a slash and the NUL must fit in
# the 108 bytes of sun_path, with room to spare.
DOVECOT_BASE_DIR_MAX=70

# dovecot_missing: prints why Dovecot cannot run here, or nothing.
dovecot_missing () {
  local f
  for f in "$DOVECOT_BIN" "$DOVECOT_IMAP_BIN" /usr/bin/doveadm; do
    if [ ! -x "$f" ]; then
      echo "$f not found (install dovecot-imapd)"
      return
    fi
  done
  for f in openssl setpriv awk bash timeout ps; do
    if ! command -v "$f" >/dev/null 2>&1; then
      echo "$f not found"
      return
    fi
  done
  if [ "$(id -u)" -ne 0 ]; then
    echo "the Dovecot fixture starts a master process and must run as root"
  elif ! getent passwd nobody >/dev/null 2>&1; then
    echo "no user nobody to own the mail"
  elif ! getent passwd dovecot >/dev/null 2>&1 || ! getent passwd dovenull >/dev/null 2>&1; then
    echo "no dovecot or dovenull user (they come with dovecot-core)"
  elif [ ! -r /proc/net/tcp ]; then
    echo "/proc/net/tcp is not readable (needed to pick free ports)"
  fi
}

# dovecot_available: skips the whole test (skip_all, so call it before
# plan) with the reason when Dovecot cannot run here.
dovecot_available () {
  local why
  why=$(dovecot_missing)
  [ -z "$why" ] || skip_all "$why"
}

# dovecot_shq STRING: STRING quoted for sh.
dovecot_shq () {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# dovecot_q STRING: STRING as an IMAP quoted string.
dovecot_q () {
  case $1 in
    *[\\\"]*) printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')" ;;
    *) printf '"%s"' "$1" ;;
  esac
}

# dovecot_as_mail CMD...: runs CMD as the mail owner (nobody).
dovecot_as_mail () {
  setpriv --reuid="$DOVECOT_MAIL_UID" --regid="$DOVECOT_MAIL_GID" --clear-groups "$@"
}

# dovecot_doveadm ARGS...: doveadm against this server (mail commands need
# -u "$DOVECOT_USER").
dovecot_doveadm () {
  doveadm -c "$DOVECOT_CONF" "$@"
}

# dovecot_setup [OPTIONS]: writes the configuration (and, the first time,
# the certificates, the user and the preauth wrapper), starts the server and
# waits until both ports greet.  Returns 1, with the logs as TAP
# diagnostics, when it cannot.  Options:
#   --layout maildir++|fs  mail_location maildir:~/Maildir, or with
#                          :LAYOUT=fs (folders as plain directories)
#   --separator C          hierarchy separator (default "." for Maildir++,
#                          "/" for fs); sets DOVECOT_SEP
#   --capability "CAPS"    imap_capability: what is advertised after login,
#                          e.g. "IMAP4rev1 LITERAL+ UIDPLUS" to hide IDLE,
#                          NOTIFY, CONDSTORE and QRESYNC (the commands still
#                          work: only the advertisement changes)
#   --ssl yes|required|no  yes (default): IMAPS port and STARTTLS on the
#                          plain port; required: the same, and Dovecot
#                          refuses plaintext logins (not on loopback, see
#                          above); no: no TLS at all, no STARTTLS, and
#                          DOVECOT_IMAPS_PORT is empty
#   --cert good|untrusted|wronghost  the certificate presented at start
#                          (see dovecot_use_cert)
# The layout of existing mail is not converted: changing --layout or
# --separator between calls needs dovecot_wipe_mail first.
dovecot_setup () {
  DOVECOT_LAYOUT=maildir++
  DOVECOT_SEP=
  DOVECOT_SSL=yes
  DOVECOT_CAPABILITY=
  DOVECOT_CERT_KIND=good
  DOVECOT_HIBERNATE=
  while [ $# -gt 0 ]; do
    case $1 in
      --layout) DOVECOT_LAYOUT=$2; shift 2 ;;
      --separator) DOVECOT_SEP=$2; shift 2 ;;
      --capability) DOVECOT_CAPABILITY=$2; shift 2 ;;
      --ssl) DOVECOT_SSL=$2; shift 2 ;;
      --cert) DOVECOT_CERT_KIND=$2; shift 2 ;;
      --hibernate) DOVECOT_HIBERNATE=$2; shift 2 ;;
      *) diag "dovecot_setup: unknown option $1"; return 1 ;;
    esac
  done
  case $DOVECOT_LAYOUT in
    maildir++) : "${DOVECOT_SEP:=.}" ;;
    fs) : "${DOVECOT_SEP:=/}" ;;
    *) diag "dovecot_setup: --layout must be maildir++ or fs"; return 1 ;;
  esac
  case $DOVECOT_SSL in
    yes|required|no) ;;
    *) diag "dovecot_setup: --ssl must be yes, required or no"; return 1 ;;
  esac
  case $DOVECOT_CERT_KIND in
    good|untrusted|wronghost) ;;
    *) diag "dovecot_setup: --cert must be good, untrusted or wronghost"; return 1 ;;
  esac
  case $DOVECOT_SEP in
    ?) ;;
    *) diag "dovecot_setup: --separator must be one character"; return 1 ;;
  esac

  dovecot_stop
  if [ -z "$DOVECOT_CLEANUP_SET" ]; then
    at_exit dovecot_cleanup
    DOVECOT_CLEANUP_SET=yes
  fi
  dovecot_prepare || return 1
  dovecot_write_ssl_conf "$DOVECOT_CERT_KIND"

  if [ -n "$DOVECOT_IMAP_PORT" ]; then
    # Reconfiguring: same ports.
    [ "$DOVECOT_SSL" = no ] && DOVECOT_IMAPS_PORT=
    if [ "$DOVECOT_SSL" != no ] && [ -z "$DOVECOT_IMAPS_PORT" ]; then
      DOVECOT_IMAPS_PORT=$(dovecot_free_port "$DOVECOT_IMAP_PORT") || return 1
    fi
    dovecot_write_conf
    dovecot_start
    return
  fi

  local try=1
  while :; do
    DOVECOT_IMAP_PORT=$(dovecot_free_port) || return 1
    DOVECOT_IMAPS_PORT=
    if [ "$DOVECOT_SSL" != no ]; then
      DOVECOT_IMAPS_PORT=$(dovecot_free_port "$DOVECOT_IMAP_PORT") || return 1
    fi
    dovecot_write_conf
    dovecot_start quiet && return 0
    if [ "$DOVECOT_START_FAILURE" != bind ] || [ "$try" -ge "$DOVECOT_PORT_TRIES" ]; then
      dovecot_start_failed
      DOVECOT_IMAP_PORT=
      DOVECOT_IMAPS_PORT=
      return 1
    fi
    try=$((try + 1))
  done
}

# dovecot_prepare: the parts of the setup that survive reconfiguration:
# directories, mail owner, base_dir, certificates, passwd file, wrapper.
dovecot_prepare () {
  DOVECOT_MAIL_UID=$(id -u nobody) && DOVECOT_MAIL_GID=$(id -g nobody) || return 1
  mkdir -p "$DOVECOT_DIR/state" "$DOVECOT_HOME" "$DOVECOT_TLS_DIR" || return 1
  # The mail owner must get through $T_DIR (mktemp made it 0700) to the
  # home, and read the configuration.
  chmod o+x "$T_DIR" "$DOVECOT_DIR" || return 1
  chown "$DOVECOT_MAIL_UID:$DOVECOT_MAIL_GID" "$DOVECOT_HOME" || return 1
  if ! dovecot_as_mail test -w "$DOVECOT_HOME"; then
    diag "dovecot: user nobody cannot write to $DOVECOT_HOME; a parent directory" \
      "of \$T_DIR is probably closed to other users (set TMPDIR elsewhere)"
    return 1
  fi
  if [ ! -e "$DOVECOT_PREAUTH_LOG" ]; then
    : > "$DOVECOT_PREAUTH_LOG" || return 1
  fi
  chown "$DOVECOT_MAIL_UID:$DOVECOT_MAIL_GID" "$DOVECOT_PREAUTH_LOG" || return 1

  if [ -z "$DOVECOT_BASE_DIR" ]; then
    DOVECOT_BASE_DIR=$DOVECOT_DIR/run
    if [ ${#DOVECOT_BASE_DIR} -gt "$DOVECOT_BASE_DIR_MAX" ]; then
      DOVECOT_MOVED_BASE_DIR=$(mktemp -d /tmp/dovecot-run-XXXXXX) || return 1
      chmod 755 "$DOVECOT_MOVED_BASE_DIR"
      ln -sfn "$DOVECOT_MOVED_BASE_DIR" "$DOVECOT_DIR/run"
      DOVECOT_BASE_DIR=$DOVECOT_MOVED_BASE_DIR
    fi
  fi

  [ -s "$DOVECOT_WRONGHOST_CERT" ] || dovecot_make_certs || {
    diag "dovecot: could not make the test certificates"
    diag "$(cat "$DOVECOT_TLS_DIR/openssl.err" 2>/dev/null)"
    return 1
  }

  printf '%s:{PLAIN}%s::::%s::\n' "$DOVECOT_USER" "$DOVECOT_PASS" "$DOVECOT_HOME" \
    > "$DOVECOT_DIR/passwd" || return 1

  cat > "$DOVECOT_PREAUTH" <<EOF || return 1
#!/bin/sh
# Preauthenticated IMAP as user $DOVECOT_USER on stdin and stdout, for an
# mbsync Tunnel or a raw session in a test.  Arguments are passed to imap
# (e.g. -o imap_capability=...).  It switches to the mail owner first: run
# as root, imap refuses a socket on its stdout.  It logs to its stderr,
# which goes to the log file, not to whoever runs the tunnel.
exec 2>> $(dovecot_shq "$DOVECOT_PREAUTH_LOG")
exec setpriv --reuid=$DOVECOT_MAIL_UID --regid=$DOVECOT_MAIL_GID --clear-groups \\
  env -i USER=$(dovecot_shq "$DOVECOT_USER") HOME=$(dovecot_shq "$DOVECOT_HOME") \\
  PATH=/usr/sbin:/usr/bin:/sbin:/bin \\
  $DOVECOT_IMAP_BIN -c $(dovecot_shq "$DOVECOT_CONF") -o stats_writer_socket_path= \\
  -o log_path=/dev/stderr "\$@"
EOF
  chmod 755 "$DOVECOT_PREAUTH"
}

# dovecot_make_certs: a CA, the server certificate it signs, and the two
# bad certificates.  EC keys: they take milliseconds to make, RSA ones a
# good part of a second each.
dovecot_make_certs () {
  local d="$DOVECOT_TLS_DIR" err="$DOVECOT_TLS_DIR/openssl.err"
  local ec='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'
  : > "$err"
  # shellcheck disable=SC2086
  openssl req -x509 $ec -keyout "$d/ca.key" -out "$d/ca.pem" -days 365 \
    -subj '/CN=mswatch test CA' \
    -addext 'basicConstraints=critical,CA:true' \
    -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>>"$err" || return 1

  printf '%s\n' 'basicConstraints=CA:false' 'keyUsage=digitalSignature' \
    'extendedKeyUsage=serverAuth' \
    'subjectAltName=DNS:127.0.0.1,IP:127.0.0.1,DNS:localhost' > "$d/server.ext"
  printf '%s\n' 'basicConstraints=CA:false' 'keyUsage=digitalSignature' \
    'extendedKeyUsage=serverAuth' \
    "subjectAltName=DNS:$DOVECOT_WRONGHOST_NAME" > "$d/wronghost.ext"

  # shellcheck disable=SC2086
  openssl req $ec -keyout "$d/server.key" -out "$d/server.csr" \
    -subj '/CN=127.0.0.1' 2>>"$err" || return 1
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
    -set_serial 2 -days 365 -extfile "$d/server.ext" -out "$d/server.pem" 2>>"$err" || return 1

  # shellcheck disable=SC2086
  openssl req -x509 $ec -keyout "$d/untrusted.key" -out "$d/untrusted.pem" -days 365 \
    -subj '/CN=127.0.0.1' \
    -addext 'subjectAltName=DNS:127.0.0.1,IP:127.0.0.1,DNS:localhost' 2>>"$err" || return 1

  # shellcheck disable=SC2086
  openssl req $ec -keyout "$d/wronghost.key" -out "$d/wronghost.csr" \
    -subj "/CN=$DOVECOT_WRONGHOST_NAME" 2>>"$err" || return 1
  openssl x509 -req -in "$d/wronghost.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
    -set_serial 3 -days 365 -extfile "$d/wronghost.ext" -out "$d/wronghost.pem" 2>>"$err" || return 1
}

# dovecot_write_ssl_conf good|untrusted|wronghost: the certificate settings,
# in their own file so that dovecot_use_cert can swap them.
dovecot_write_ssl_conf () {
  local cert key
  case $1 in
    good) cert=$DOVECOT_CERT key=$DOVECOT_KEY ;;
    untrusted) cert=$DOVECOT_UNTRUSTED_CERT key=$DOVECOT_UNTRUSTED_KEY ;;
    wronghost) cert=$DOVECOT_WRONGHOST_CERT key=$DOVECOT_WRONGHOST_KEY ;;
    *) return 1 ;;
  esac
  DOVECOT_CERT_KIND=$1
  printf 'ssl_cert = <%s\nssl_key = <%s\n' "$cert" "$key" > "$DOVECOT_DIR/ssl.conf"
}

# dovecot_write_conf: dovecot.conf from the current settings and ports.
dovecot_write_conf () {
  local location='maildir:~/Maildir' disable_plain=no imaps_port="${DOVECOT_IMAPS_PORT:-0}"
  [ "$DOVECOT_LAYOUT" = fs ] && location=$location:LAYOUT=fs
  [ "$DOVECOT_SSL" = required ] && disable_plain=yes
  {
    cat <<EOF
# Written by tests/lib/dovecot.sh for one test.  Self-contained: nothing is
# read from /etc/dovecot, and nothing is written outside this directory
# (base_dir may be a short directory under /tmp, see run).
protocols = imap
listen = 127.0.0.1
base_dir = $DOVECOT_BASE_DIR
state_dir = $DOVECOT_DIR/state
log_path = $DOVECOT_LOG
auth_verbose = yes

# Mail belongs to nobody: Dovecot refuses to access mail as root.
mail_uid = $DOVECOT_MAIL_UID
mail_gid = $DOVECOT_MAIL_GID
first_valid_uid = 1
first_valid_gid = 1
mail_location = $location
namespace inbox {
  inbox = yes
  separator = $DOVECOT_SEP
}
# NOTIFY is built into imap; Dovecot advertises and serves it when every
# namespace has a mailbox list index (the default, stated here because the
# tests rely on it).
mailbox_list_index = yes

auth_mechanisms = plain login
disable_plaintext_auth = $disable_plain
passdb {
  driver = passwd-file
  args = $DOVECOT_DIR/passwd
}
userdb {
  driver = passwd-file
  args = $DOVECOT_DIR/passwd
}

ssl = $DOVECOT_SSL
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DOVECOT_IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps_port
    ssl = yes
  }
}
EOF
    [ "$DOVECOT_SSL" = no ] || printf '!include %s\n' "$DOVECOT_DIR/ssl.conf"
    [ -z "$DOVECOT_CAPABILITY" ] || printf 'imap_capability = %s\n' "$DOVECOT_CAPABILITY"
    [ -z "$DOVECOT_HIBERNATE" ] || dovecot_write_hibernate_conf
  } > "$DOVECOT_CONF"
}

# A connection that has been in IDLE for $DOVECOT_HIBERNATE seconds moves
# to the imap-hibernate process, which wakes it (a new imap process) the
# moment its mailbox changes; the woken IDLE reports the change at once,
# without the half second a running imap process waits.  The sockets are
# those of Dovecot's own example configuration: imap-hibernate reaches the
# imap processes through imap-master as Dovecot's internal user.  The
# process titles say how many connections imap-hibernate holds, for tests to
# see that it holds theirs.
dovecot_write_hibernate_conf () {
  cat <<EOF
imap_hibernate_timeout = ${DOVECOT_HIBERNATE}s
verbose_proctitle = yes
service imap {
  unix_listener imap-master {
    user = \$default_internal_user
  }
  extra_groups = \$default_internal_group
}
service imap-hibernate {
  unix_listener imap-hibernate {
    mode = 0660
    group = \$default_internal_group
  }
}
EOF
}

# dovecot_port_listening PORT: succeeds when some TCP socket (v4 or v6)
# listens on PORT.
dovecot_port_listening () {
  awk -v p="$(printf ':%04X' "$1")" '
    $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
    END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# dovecot_free_port [AVOID]: prints a port nobody listens on, other than
# AVOID.  Ports come from below the kernel's ephemeral range, so outgoing
# connections do not take them.
dovecot_free_port () {
  local n=0 port
  while [ $n -lt 100 ]; do
    port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12000 ))
    if [ "$port" != "${1:-}" ] && ! dovecot_port_listening "$port"; then
      echo "$port"
      return 0
    fi
    n=$((n + 1))
  done
  diag "dovecot: found no free port"
  return 1
}

# dovecot_greeting PORT: prints what the server says on the plain port
# (CRs removed) until it closes the connection after our LOGOUT.
dovecot_greeting () {
  timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "g LOGOUT\r\n" >&3
    cat <&3' greeting "$1" 2>/dev/null | tr -d '\r'
}

# dovecot_greeting_tls PORT: the same over TLS (not verified: this is a
# liveness probe, also used while a bad certificate is presented).
dovecot_greeting_tls () {
  printf 'g LOGOUT\r\n' |
    timeout 5 openssl s_client -quiet -connect "127.0.0.1:$1" 2>/dev/null | tr -d '\r'
}

# dovecot_ready: succeeds when both ports give a full greeting (the first
# line can be "Waiting for authentication process" while auth starts).
dovecot_ready () {
  dovecot_greeting "$DOVECOT_IMAP_PORT" | grep -q '^\* OK \[CAPABILITY' || return 1
  [ "$DOVECOT_SSL" = no ] && return 0
  dovecot_greeting_tls "$DOVECOT_IMAPS_PORT" | grep -q '^\* OK \[CAPABILITY'
}

# dovecot_pid_alive PID: succeeds while PID runs (a zombie does not count).
dovecot_pid_alive () {
  [ -r "/proc/$1/stat" ] || return 1
  # The state follows the command name in parentheses.
  ! sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | grep -q '^Z'
}

# dovecot_ready_or_dead: what dovecot_start waits for; a master that died
# (a port taken, a bad setting) ends the wait early.
dovecot_ready_or_dead () {
  dovecot_pid_alive "$DOVECOT_PID" || return 0
  dovecot_ready
}

# dovecot_start [quiet]: starts the master from the written configuration
# and waits until it serves.  On failure sets DOVECOT_START_FAILURE ("bind"
# when a port was taken) and, unless quiet, shows the logs.
dovecot_start () {
  local mark
  DOVECOT_START_FAILURE=
  mark=$(cat "$DOVECOT_STDIO_LOG" "$DOVECOT_LOG" 2>/dev/null | wc -l)
  "$DOVECOT_BIN" -F -c "$DOVECOT_CONF" < /dev/null >> "$DOVECOT_STDIO_LOG" 2>&1 &
  DOVECOT_PID=$!
  if wait_until "$DOVECOT_DEADLINE" dovecot_ready_or_dead && dovecot_pid_alive "$DOVECOT_PID"; then
    return 0
  fi
  if cat "$DOVECOT_STDIO_LOG" "$DOVECOT_LOG" 2>/dev/null | tail -n +"$((mark + 1))" |
      grep -q 'Address already in use'; then
    DOVECOT_START_FAILURE=bind
  else
    DOVECOT_START_FAILURE=other
  fi
  # Not dovecot_stop: when a port was taken, it stays taken.
  dovecot_kill
  [ "${1:-}" = quiet ] || dovecot_start_failed
  return 1
}

# dovecot_start_failed: the logs of a failed start, as TAP diagnostics.
dovecot_start_failed () {
  diag "dovecot did not start (ports $DOVECOT_IMAP_PORT ${DOVECOT_IMAPS_PORT:-none}); master output:"
  diag "$(tail -n 15 "$DOVECOT_STDIO_LOG" 2>/dev/null)"
  diag "dovecot.log:"
  diag "$(tail -n 15 "$DOVECOT_LOG" 2>/dev/null)"
}

# dovecot_pids_gone PID...: succeeds when none of the processes runs.
dovecot_pids_gone () {
  local p
  for p in "$@"; do
    if dovecot_pid_alive "$p"; then return 1; fi
  done
}

# dovecot_ports_free: succeeds when nothing listens on our ports.
dovecot_ports_free () {
  ! dovecot_port_listening "$DOVECOT_IMAP_PORT" &&
    { [ -z "$DOVECOT_IMAPS_PORT" ] || ! dovecot_port_listening "$DOVECOT_IMAPS_PORT"; }
}

# dovecot_stop: stops the server and waits until the master, all its
# processes and both listening sockets are gone, so that the ports can be
# bound again at once.  Client connections are cut at once, without a BYE
# for TLS sessions (see dovecot_kill).  Preauth imap processes are not the
# server's: they run on.
dovecot_stop () {
  [ -n "$DOVECOT_PID" ] || return 0
  dovecot_kill
  if [ -n "$DOVECOT_IMAP_PORT" ] && ! wait_until "$DOVECOT_DEADLINE" dovecot_ports_free; then
    diag "dovecot: ports still in use after stopping"
    return 1
  fi
}

# dovecot_kill: ends the master and its processes and reaps the master.
dovecot_kill () {
  local kids
  kids=$(ps -o pid= --ppid "$DOVECOT_PID" 2>/dev/null)
  kill -TERM "$DOVECOT_PID" 2>/dev/null
  wait_until "$DOVECOT_DEADLINE" dovecot_pids_gone "$DOVECOT_PID"
  # The master signals its processes and exits, but a session under TLS then
  # lingers for about ten seconds in imap-login (its BYE held back with
  # it) before the connection closes.  Tests want a restart to cut
  # connections now, so the stragglers get their own SIGTERM.
  # shellcheck disable=SC2086
  kill -TERM $kids 2>/dev/null
  # shellcheck disable=SC2086
  if ! wait_until "$DOVECOT_DEADLINE" dovecot_pids_gone "$DOVECOT_PID" $kids; then
    diag "dovecot: master $DOVECOT_PID or its processes ignored SIGTERM; killing them"
    # shellcheck disable=SC2086
    kill -KILL "$DOVECOT_PID" $kids 2>/dev/null
    # shellcheck disable=SC2086
    wait_until 5 dovecot_pids_gone "$DOVECOT_PID" $kids
  fi
  wait "$DOVECOT_PID" 2>/dev/null
  DOVECOT_PID=
}

# dovecot_restart: stop, then start again on the same ports with the same
# mail.  Connections open before are dropped.
dovecot_restart () {
  dovecot_stop || return 1
  dovecot_start
}

# dovecot_cleanup: at exit (registered by dovecot_setup).
dovecot_cleanup () {
  dovecot_stop
  if [ -n "$DOVECOT_MOVED_BASE_DIR" ]; then
    rm -rf "$DOVECOT_MOVED_BASE_DIR"
    rm -f "$DOVECOT_DIR/run"
  fi
}

# dovecot_cert_fingerprint FILE: SHA-256 fingerprint of a certificate.
dovecot_cert_fingerprint () {
  openssl x509 -in "$1" -noout -fingerprint -sha256 2>/dev/null
}

# dovecot_served_fingerprint: the same for what the IMAPS port presents.
dovecot_served_fingerprint () {
  timeout 5 openssl s_client -connect "127.0.0.1:$DOVECOT_IMAPS_PORT" < /dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 2>/dev/null
}

# dovecot_use_cert good|untrusted|wronghost: makes the server present that
# certificate from now on (on both ports) and waits until it does.  The
# server reloads its configuration (SIGHUP): established connections stay.
dovecot_use_cert () {
  local want cert
  [ -n "$DOVECOT_IMAPS_PORT" ] || { diag "dovecot_use_cert: TLS is off"; return 1; }
  dovecot_write_ssl_conf "$1" || { diag "dovecot_use_cert: unknown kind $1"; return 1; }
  case $1 in
    good) cert=$DOVECOT_CERT ;;
    untrusted) cert=$DOVECOT_UNTRUSTED_CERT ;;
    wronghost) cert=$DOVECOT_WRONGHOST_CERT ;;
  esac
  want=$(dovecot_cert_fingerprint "$cert")
  kill -HUP "$DOVECOT_PID" || return 1
  if ! wait_until "$DOVECOT_DEADLINE" dovecot_serves_fingerprint "$want"; then
    diag "dovecot: still not presenting the $1 certificate after reload"
    return 1
  fi
}

# dovecot_serves_fingerprint FP: the IMAPS port presents the certificate FP.
dovecot_serves_fingerprint () { [ "$(dovecot_served_fingerprint)" = "$1" ]; }

# dovecot_tls_verify [PORT [HOST]]: succeeds when a TLS connection to PORT
# (default the IMAPS port) verifies against $DOVECOT_CA for HOST (default
# 127.0.0.1).  openssl's complaint is left in $DOVECOT_DIR/tls-verify.err.
dovecot_tls_verify () {
  timeout 10 openssl s_client -connect "127.0.0.1:${1:-$DOVECOT_IMAPS_PORT}" \
    -CAfile "$DOVECOT_CA" -verify_return_error -verify_hostname "${2:-127.0.0.1}" \
    < /dev/null > /dev/null 2> "$DOVECOT_DIR/tls-verify.err"
}

# dovecot_preauth_cmd: prints the path of the preauth wrapper, a command
# that speaks IMAP on stdin and stdout, already logged in as $DOVECOT_USER
# ("* PREAUTH").  It works on pipes and on sockets (an mbsync Tunnel), does
# not need the server to be running, and each run is its own session.
dovecot_preauth_cmd () {
  printf '%s\n' "$DOVECOT_PREAUTH"
}

# dovecot_imap CMD...: one preauthenticated session running each CMD (tags
# t1, t2, ...) and then LOGOUT; prints the whole transcript without CRs.
# Fails when a command's tagged answer is not OK.  For raw input (literals,
# IDLE), pipe into "$(dovecot_preauth_cmd)" directly.
dovecot_imap () {
  local n=0 c out
  out=$({
    for c in "$@"; do
      n=$((n + 1))
      printf 't%d %s\r\n' "$n" "$c"
    done
    printf 'tz LOGOUT\r\n'
  } | "$DOVECOT_PREAUTH" 2>> "$DOVECOT_PREAUTH_LOG" | tr -d '\r')
  printf '%s\n' "$out"
  printf '%s\n' "$out" | grep -q '^tz OK' || return 1
  ! printf '%s\n' "$out" | grep -qE '^t[0-9]+ (NO|BAD)'
}

# dovecot_make_message FILE [SUBJECT]: writes a realistic RFC 5322 message
# (unique Message-ID, current Date) to FILE.
dovecot_make_message () {
  DOVECOT_SEED_RUNS=$((DOVECOT_SEED_RUNS + 1))
  TZ=UTC LC_ALL=C awk -f "$top_srcdir/tests/helpers/dovecot-seed.awk" -v out=- \
    -v subject="${2:-Test message $DOVECOT_SEED_RUNS}" \
    -v tag="m$$.$DOVECOT_SEED_RUNS.$(date +%s%N)" -v start="$(date +%s)" \
    -v seed="$DOVECOT_SEED_RUNS" > "$1"
}

# dovecot_append FOLDER FILE [FLAGS]: stores the message in FILE (LF or CRLF
# line ends, sent as is) in FOLDER through IMAP APPEND, with FLAGS such as
# '\Seen \Flagged'; creates FOLDER first if needed.  Prints the new UID.
# Going through IMAP (not the Maildir) means IDLE and NOTIFY sessions hear of
# it the way they would of delivered mail.
dovecot_append () {
  local q size out uid
  q=$(dovecot_q "$1")
  size=$(wc -c < "$2") || return 1
  out=$({
    printf 'a CREATE %s\r\n' "$q"
    printf 'b APPEND %s (%s) {%d+}\r\n' "$q" "${3:-}" "$size"
    cat "$2"
    printf '\r\nc LOGOUT\r\n'
  } | "$DOVECOT_PREAUTH" 2>> "$DOVECOT_PREAUTH_LOG" | tr -d '\r')
  uid=$(printf '%s\n' "$out" | sed -n 's/^b OK \[APPENDUID [0-9]* \([0-9]*\)\].*/\1/p')
  if [ -z "$uid" ]; then
    diag "dovecot_append to $1 failed:" "$out"
    return 1
  fi
  echo "$uid"
}

# dovecot_store FOLDER UIDSET +FLAGS|-FLAGS|FLAGS FLAGLIST: changes flags,
# e.g. dovecot_store INBOX 1:3 +FLAGS '\Seen \Flagged'.
dovecot_store () {
  dovecot_imap "SELECT $(dovecot_q "$1")" "UID STORE $2 $3.SILENT ($4)" > /dev/null
}

# dovecot_expunge FOLDER UIDSET: removes those messages.
dovecot_expunge () {
  dovecot_imap "SELECT $(dovecot_q "$1")" 'UID STORE '"$2"' +FLAGS.SILENT (\Deleted)' \
    "UID EXPUNGE $2" > /dev/null
}

# dovecot_messages FOLDER: one line per message, "UID FLAG FLAG ...", in UID
# order; \Recent is left out (it belongs to a session, not to the mail).
dovecot_messages () {
  local out
  out=$(dovecot_imap "EXAMINE $(dovecot_q "$1")" 'UID FETCH 1:* (UID FLAGS)') || {
    diag "dovecot_messages $1 failed:" "$out"
    return 1
  }
  printf '%s\n' "$out" | sed -n 's/^\* [0-9]* FETCH (\(.*\))$/\1/p' |
    sed 's/^\(.*\)UID \([0-9]*\)\(.*\)$/\2 \1\3/; s/FLAGS (\([^)]*\))/\1/' |
    sed 's/\\Recent//; s/  */ /g; s/ $//'
}

# dovecot_status FOLDER ITEM: prints one STATUS item (MESSAGES, UIDNEXT,
# UIDVALIDITY, UNSEEN, HIGHESTMODSEQ, ...) of FOLDER.
dovecot_status () {
  local out
  out=$(dovecot_imap "STATUS $(dovecot_q "$1") ($2)") || {
    diag "dovecot_status $1 $2 failed:" "$out"
    return 1
  }
  printf '%s\n' "$out" | sed -n "s/^\* STATUS .* ($2 \([0-9]*\))\$/\1/p"
}

# dovecot_set_uidvalidity FOLDER N: gives FOLDER the UIDVALIDITY N (the
# messages keep their UIDs; clients must still start over).
dovecot_set_uidvalidity () {
  dovecot_doveadm mailbox update -u "$DOVECOT_USER" --uid-validity "$2" "$1"
}

# dovecot_reset_uids FOLDER: what a server rebuild does: FOLDER loses its
# UID list and indexes, so at the next access it gets a new UIDVALIDITY and
# its messages new UIDs from 1.  Use it while no session has FOLDER open.
dovecot_reset_uids () {
  local dir
  dir=$(dovecot_folder_dir "$1") || return 1
  dovecot_as_mail sh -c 'rm -f "$1/dovecot-uidlist" "$1"/dovecot.index*' reset "$dir" &&
    dovecot_imap "EXAMINE $(dovecot_q "$1")" > /dev/null
}

# dovecot_folder_map: reads folder names, one a line, and prints for each
# "QUOTED<TAB>DIR": the name as an IMAP quoted string, and where its Maildir
# should be on the server.  Names of letters, digits, _ and - (with the
# separator between them) are stored as they are; for any other name DIR is
# empty (it may be escaped or encoded: ask doveadm).  One awk for a whole
# list: the seeder maps fifty names, and a process per name adds up on a
# busy machine.
dovecot_folder_map () {
  awk -v root="$DOVECOT_MAILDIR" -v sep="$DOVECOT_SEP" -v layout="$DOVECOT_LAYOUT" '
    {
      q = $0
      gsub(/[\\"]/, "\\\\&", q)
      dir = ""
      if ($0 == "INBOX") {
        dir = root
      } else {
        n = split($0, parts, sep)
        ok = n > 0
        for (i = 1; i <= n; i++)
          if (parts[i] == "" || parts[i] ~ /[^A-Za-z0-9_-]/) ok = 0
        if (ok) {
          rel = parts[1]
          for (i = 2; i <= n; i++) rel = rel (layout == "fs" ? "/" : ".") parts[i]
          dir = root "/" (layout == "fs" ? "" : ".") rel
        }
      }
      printf "\"%s\"\t%s\n", q, dir
    }'
}

# dovecot_folder_dir FOLDER: prints the server-side Maildir directory of
# FOLDER (which must exist).
dovecot_folder_dir () {
  local dir
  dir=$(printf '%s\n' "$1" | dovecot_folder_map | cut -f 2)
  if [ -n "$dir" ] && [ -d "$dir" ]; then
    printf '%s\n' "$dir"
  else
    dovecot_doveadm mailbox path -u "$DOVECOT_USER" "$1"
  fi
}

# dovecot_seed_names N: INBOX and N-1 more folder names (box01, box02...).
dovecot_seed_names () {
  local i=1
  echo INBOX
  while [ $i -lt "$1" ]; do
    printf 'box%02d\n' $i
    i=$((i + 1))
  done
}

# dovecot_seed FOLDERS COUNT: adds COUNT messages to each folder.  FOLDERS is
# a number N (INBOX, box01 ... up to N folders) or a list of names separated
# by white space (no spaces inside names; use dovecot_append for those).
# Missing folders are created.  Sets DOVECOT_SEEDED_FOLDERS.
#
# The messages (see tests/helpers/dovecot-seed.awk) are written as the mail
# owner into each folder's tmp/ and moved into cur/ when complete, like an
# MDA delivers; then one IMAP session examines every folder, which makes
# Dovecot assign the UIDs (in the order of the messages) and index them, and
# checks that each folder grew by COUNT.  10,000 messages in 50 folders take
# a few seconds.  No flags are set, and nobody is notified as it happens:
# seed before clients connect, append with dovecot_append afterwards.
dovecot_seed () {
  local count="$2" names name map q dir tag start out before after tab
  tab=$(printf '\t')
  case $1 in
    ''|*[!0-9]*) names=$1 ;;
    *) names=$(dovecot_seed_names "$1") ;;
  esac
  # shellcheck disable=SC2086
  DOVECOT_SEEDED_FOLDERS=$(echo $names)
  # shellcheck disable=SC2086
  map=$(printf '%s\n' $names | dovecot_folder_map)

  # One session creates the folders (those that exist already say so) and
  # counts their messages, for the check at the end.
  set --
  while IFS=$tab read -r q dir; do
    [ "$q" = '"INBOX"' ] || set -- "$@" "CREATE $q"
  done <<EOF
$map
EOF
  while IFS=$tab read -r q dir; do
    set -- "$@" "EXAMINE $q"
  done <<EOF
$map
EOF
  out=$(dovecot_imap "$@")
  if printf '%s\n' "$out" | grep -E '^t[0-9]+ (NO|BAD)' | grep -qv 'ALREADYEXISTS' ||
      ! printf '%s\n' "$out" | grep -q '^tz OK'; then
    diag "dovecot_seed: could not create or open the folders:" "$out"
    return 1
  fi
  before=$(printf '%s\n' "$out" | sed -n 's/^\* \([0-9]*\) EXISTS$/\1/p')

  # The directories, in the order of $names; doveadm only for odd names.
  set --
  while IFS=$tab read -r q dir; do
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then
      name=$(printf '%s\n' "$names" | awk -v n=$(($# + 1)) '{ for (i = 1; i <= NF; i++) if (++k == n) print $i }')
      dir=$(dovecot_doveadm mailbox path -u "$DOVECOT_USER" "$name") || return 1
    fi
    set -- "$@" "$dir"
  done <<EOF
$map
EOF
  DOVECOT_SEED_RUNS=$((DOVECOT_SEED_RUNS + 1))
  tag=seed$$r$DOVECOT_SEED_RUNS
  start=$(( $(date +%s) - count * 37 ))
  # shellcheck disable=SC2086
  if ! DOVECOT_SEED_NAMES=$(printf '%s\n' $names) dovecot_as_mail sh -c 'umask 077; exec "$@"' seed \
      env TZ=UTC LC_ALL=C awk -f "$top_srcdir/tests/helpers/dovecot-seed.awk" \
      -v count="$count" -v tag="$tag" -v start="$start" -v pid=$$ -v seed="$DOVECOT_SEED_RUNS" \
      "$@" 2>> "$DOVECOT_DIR/seed.err"; then
    diag "dovecot_seed: writing messages failed:" "$(tail -n 5 "$DOVECOT_DIR/seed.err")"
    return 1
  fi
  if ! dovecot_as_mail sh -c 'tag=$1; shift
      for d; do
        find "$d/tmp" -maxdepth 1 -type f -name "*.$tag:2," -exec mv -t "$d/cur" {} + || exit 1
      done' move "$tag" "$@" 2>> "$DOVECOT_DIR/seed.err"; then
    diag "dovecot_seed: moving messages into cur/ failed:" "$(tail -n 5 "$DOVECOT_DIR/seed.err")"
    return 1
  fi

  set --
  while IFS=$tab read -r q dir; do
    set -- "$@" "EXAMINE $q"
  done <<EOF
$map
EOF
  out=$(dovecot_imap "$@") || {
    diag "dovecot_seed: cannot open the folders after seeding:" "$out"
    return 1
  }
  after=$(printf '%s\n' "$out" | sed -n 's/^\* \([0-9]*\) EXISTS$/\1/p')
  # shellcheck disable=SC2086
  if ! printf '%s\n' "$(echo $before)" "$(echo $after)" | awk -v c="$count" '
      NR == 1 { n = split($0, b, " ") }
      NR == 2 { m = split($0, a, " ") }
      END { if (n != m) exit 1; for (i = 1; i <= n; i++) if (a[i] != b[i] + c) exit 1 }'; then
    diag "dovecot_seed: message counts before: $(echo $before)" "after: $(echo $after)"
    return 1
  fi
}

# dovecot_wipe_mail: deletes all of the user's mail (e.g. to change the
# layout).  Use it while the server is stopped or no session is open.
dovecot_wipe_mail () {
  rm -rf "$DOVECOT_MAILDIR"
}

# dovecot_clear_logins: prints how many login attempts (successful or not)
# the server saw that carried credentials outside TLS.  Dovecot logs
# "TLS" on logins under TLS and "secured" on loopback ones without it.
dovecot_clear_logins () {
  grep 'imap-login: ' "$DOVECOT_LOG" 2>/dev/null | grep 'user=<[^>]' | grep -v ', TLS' | grep -c 'method=' || true
}
