#!/bin/sh
# sync_imap's TLS and authentication against a real Dovecot and, for OAuth,
# the scripted server: a certificate for another host name and one from an
# unknown CA are refused with an error naming the cause (and no credentials
# are sent); STARTTLS configured but not offered sends no credentials; the
# secret from PassCmd never shows in sync_imap's output, whatever fails; and
# XOAUTH2 / OAUTHBEARER send exactly the token PassCmd printed, in the form
# the mechanisms define, with or without SASL-IR and however long the token;
# the resident runs PassCmd again when the server refuses what it printed
# before (an OAuth token expires within the hour), and a PassCmd that hangs
# fails with a message instead of stalling the sync.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/dovecot.sh"
. "$top_srcdir/tests/helpers/sync-lib.sh"

dovecot_available
command -v base64 >/dev/null 2>&1 || skip_all "base64 not found"

plan 54

if ! dovecot_setup; then
  echo "Bail out! the Dovecot fixture did not start"
  exit 1
fi
dovecot_seed INBOX 2 || { echo "Bail out! seeding failed"; exit 1; }

# logins: how many logins of the test user the server has seen.
logins () { grep -c "Login: user=<$DOVECOT_USER>" "$DOVECOT_LOG" 2>/dev/null || true; }
# lacks FILE TEXT: FILE does not contain TEXT.
lacks () { ! grep -qF -- "$2" "$1"; }

# --- certificates ---------------------------------------------------------------
sync_write_rc "$T_DIR/rc-imaps" imaps Verbatim "$T_DIR/m"
sync_run "$T_DIR/good.log" -c "$T_DIR/rc-imaps" c
sync_exit_is "with the right certificate IMAPS works" 0
n=$(logins)

check "the server presents a certificate for another host" dovecot_use_cert wronghost
sync_run "$T_DIR/wronghost.log" -c "$T_DIR/rc-imaps" c
sync_exit_is "... sync_imap refuses it" 1
sync_log_has "... naming the certificate of 127.0.0.1" "$SYNC_LOG" "certificate of 127.0.0.1 not accepted"
sync_log_has "... and the cause" "$SYNC_LOG" "mismatch"
sed 's/^Host 127.0.0.1$/Host localhost/' "$T_DIR/rc-imaps" > "$T_DIR/rc-localhost"
sync_run "$T_DIR/wronghost-name.log" -c "$T_DIR/rc-localhost" c
sync_exit_is "... also when connecting by name (localhost)" 1
sync_log_has "... a host name mismatch" "$SYNC_LOG" "hostname mismatch"
sed 's/^SSLType IMAPS$/SSLType STARTTLS/; s/^Port .*/Port '"$DOVECOT_IMAP_PORT"'/' "$T_DIR/rc-imaps" > "$T_DIR/rc-starttls"
sync_run "$T_DIR/wronghost-starttls.log" -c "$T_DIR/rc-starttls" c
sync_exit_is "... and over STARTTLS" 1
sync_log_has "... for the same reason" "$SYNC_LOG" "mismatch"
check "back to the right certificate" dovecot_use_cert good

grep -v '^CertificateFile' "$T_DIR/rc-imaps" > "$T_DIR/rc-noca"
sync_run "$T_DIR/noca.log" -c "$T_DIR/rc-noca" c
sync_exit_is "a CA we do not trust (no CertificateFile, SystemCertificates no): refused" 1
sync_log_has "... naming the cause" "$SYNC_LOG" "unable to get local issuer certificate"
is "no refused connection logged in" "$(logins)" "$n"

# --- STARTTLS not offered ---------------------------------------------------------
# (Dovecot adds STARTTLS to its greeting whatever imap_capability says, so
# the server runs without TLS; on loopback it would still take a password.)
check "reconfigure the server without TLS" dovecot_setup --ssl no
check "... its greeting lacks STARTTLS" \
  sh -c '! printf "%s\n" "$1" | grep -q STARTTLS' x "$(dovecot_greeting "$DOVECOT_IMAP_PORT")"
sync_write_rc "$T_DIR/rc-starttls" starttls Verbatim "$T_DIR/m"
sync_run "$T_DIR/nostarttls.log" -c "$T_DIR/rc-starttls" c
sync_exit_is "STARTTLS configured but not offered: the sync fails" 1
sync_log_has "... saying why" "$SYNC_LOG" "does not offer it; not sending credentials"
is "... and the server saw no credentials in clear" "$(dovecot_clear_logins)" 0
is "... nor any login" "$(logins)" "$n"
check "reconfigure the server back" dovecot_setup
sync_write_rc "$T_DIR/rc-imaps" imaps Verbatim "$T_DIR/m"   # the IMAPS port is new

# --- PassCmd secrets ---------------------------------------------------------------
SECRET=pc-$$-Hunter2-secret
# passcmd_rc NAME COMMAND: the IMAPS rc with PassCmd COMMAND instead of Pass
# (COMMAND without '"'; awk, not sed, so that '|' and '&' are plain).
passcmd_rc () {
  PASSCMD=$2 awk '/^Pass / { print "PassCmd \"" ENVIRON["PASSCMD"] "\""; next } { print }' \
    "$T_DIR/rc-imaps" > "$T_DIR/rc-$1"
}
# serve_start RC NAME: the resident on RC, its answers in $T_DIR/NAME.out and
# its log in NAME.err; requests go to fd 3, its pid is in $pid.
serve_start () {
  rm -f "$T_DIR/serve.in"
  mkfifo "$T_DIR/serve.in"
  sync_imap -V -c "$1" --serve c < "$T_DIR/serve.in" > "$T_DIR/$2.out" 2> "$T_DIR/$2.err" &
  pid=$!
  exec 3> "$T_DIR/serve.in"
}
passcmd_rc passok "echo $DOVECOT_PASS"
sync_run "$T_DIR/passok.log" -c "$T_DIR/rc-passok" c
sync_exit_is "PassCmd's first line is the password" 0
# From a terminal, PassCmd gets it as its stdin (it may prompt there, as
# with mbsync); otherwise /dev/null.
passcmd_rc ttyonly "if test -t 0; then echo $DOVECOT_PASS; else exit 1; fi"
script -qec "sync_imap -c '$T_DIR/rc-ttyonly' c" /dev/null < /dev/null > "$T_DIR/tty.log" 2>&1
is "run from a terminal, PassCmd has it as its stdin" "$?" 0
sync_run "$T_DIR/notty.log" -c "$T_DIR/rc-ttyonly" c < /dev/null
sync_exit_is "... and without one, /dev/null" 1
passcmd_rc wrongpass "echo $SECRET"
sync_run "$T_DIR/wrongpass.log" -V -c "$T_DIR/rc-wrongpass" c
sync_exit_is "a wrong password from PassCmd: the sync fails" 1
sync_log_has "... saying the login failed" "$SYNC_LOG" "failed"
check "... without showing the secret (even with -V)" lacks "$SYNC_LOG" "$SECRET"
passcmd_rc failing "echo $SECRET; exit 3"
sync_run "$T_DIR/failing.log" -c "$T_DIR/rc-failing" c
sync_exit_is "PassCmd failing after printing: the sync fails" 1
sync_log_has "... saying PassCmd failed" "$SYNC_LOG" "PassCmd of account acct failed"
check "... without showing what it printed" lacks "$SYNC_LOG" "$SECRET"
serve_start "$T_DIR/rc-wrongpass" serve
printf 's1 SYNC INBOX\n' >&3
check "--serve with the wrong password answers" wait_until 30 grep -qE '^s1 (RETRY|FAIL)' "$T_DIR/serve.out"
exec 3>&-
sync_wait_exit "$pid"
check "... and neither its answers nor its log show the secret" \
  sh -c '! grep -qF -- "$1" "$2" "$3"' x "$SECRET" "$T_DIR/serve.out" "$T_DIR/serve.err"

# --- a secret that expires ------------------------------------------------------------
# The resident keeps what PassCmd printed for its later connections; the
# password changes on the server, the connections drop, and the next
# request finds the old secret refused: PassCmd runs again and the sync
# goes through.
printf '%s\n' "$DOVECOT_PASS" > "$T_DIR/pw"
passcmd_rc rotating "echo run >> $T_DIR/passcmd.runs; cat $T_DIR/pw"
serve_start "$T_DIR/rc-rotating" rot
printf 'r1 SYNC INBOX\n' >&3
check "the resident syncs with the secret PassCmd printed" wait_until 30 grep -q '^r1 OK' "$T_DIR/rot.out"
is "... having run PassCmd once" "$(wc -l < "$T_DIR/passcmd.runs")" 1
NEWPASS=np-$$-rotated
printf '%s:{PLAIN}%s::::%s::\n' "$DOVECOT_USER" "$NEWPASS" "$DOVECOT_HOME" > "$DOVECOT_DIR/passwd"
printf '%s\n' "$NEWPASS" > "$T_DIR/pw"
# (The server must not inherit the request pipe, or its end never comes.)
check "the server changes the password and drops every connection" dovecot_restart 3>&-
printf 'r2 SYNC INBOX\n' >&3
check "the next request is answered OK" wait_until 60 grep -q '^r2 OK' "$T_DIR/rot.out"
is "... after PassCmd ran once more" "$(wc -l < "$T_DIR/passcmd.runs")" 2
sync_log_has "... saying why" "$T_DIR/rot.err" "refused the secret PassCmd printed earlier"
exec 3>&-
sync_wait_exit "$pid"
check "... and no output shows either password" \
  sh -c '! grep -qF -e "$1" -e "$2" "$3" "$4"' x "$NEWPASS" "$DOVECOT_PASS" "$T_DIR/rot.out" "$T_DIR/rot.err"
printf '%s:{PLAIN}%s::::%s::\n' "$DOVECOT_USER" "$DOVECOT_PASS" "$DOVECOT_HOME" > "$DOVECOT_DIR/passwd"

# A PassCmd that never finishes (a prompt nobody answers) fails the sync,
# naming the bound, instead of stalling it: one that keeps its output open,
# and one that closed it and lingers.  (The test knob shortens the bound.)
passcmd_rc hanging "exec sleep 100000"
sync_run "$T_DIR/hanging.log" --pass-cmd-timeout 1 -c "$T_DIR/rc-hanging" c
sync_exit_is "a PassCmd that hangs: the sync fails" 1
sync_log_has "... saying it did not finish" "$SYNC_LOG" "PassCmd of account acct did not finish within 1 s"
passcmd_rc lingering "echo $SECRET; exec sleep 100000 > /dev/null"
sync_run "$T_DIR/lingering.log" --pass-cmd-timeout 1 -c "$T_DIR/rc-lingering" c
sync_log_has "one that printed and lingers fails the same way" "$SYNC_LOG" "did not finish within 1 s"

# --- XOAUTH2 and OAUTHBEARER -----------------------------------------------------------
TOKEN=ya29.$$-token-from-passcmd
# oauth_rc NAME SCENARIO MECH TOKEN: an rc against the scripted server.
oauth_rc () {
  sync_write_rc "$T_DIR/rc-$1" \
    "Tunnel \"sh $SYNC_HELPERS/scripted-imap.sh $2 $T_DIR/$1.server\"
User someone@example.org
PassCmd \"echo $4\"
AuthMechs $3" Verbatim "$T_DIR/$1"
}
b64 () { printf "$1" | base64 -w 0; }
xoauth2=$(b64 "user=someone@example.org\001auth=Bearer $TOKEN\001\001")

oauth_rc xo-ir xoauth2-ir XOAUTH2 "$TOKEN"
sync_run "$T_DIR/xo-ir.log" -c "$T_DIR/rc-xo-ir" c
sync_exit_is "XOAUTH2 with SASL-IR: the sync succeeds" 0
is "... the AUTHENTICATE line carries base64(user=U^Aauth=Bearer TOKEN^A^A)" \
  "$(grep 'AUTHENTICATE' "$T_DIR/xo-ir.server" | cut -d' ' -f2-)" "AUTHENTICATE XOAUTH2 $xoauth2"
is "... and the messages came" "$(sync_count "$T_DIR/xo-ir/INBOX")" 2

oauth_rc xo xoauth2 XOAUTH2 "$TOKEN"
sync_run "$T_DIR/xo.log" -c "$T_DIR/rc-xo" c
sync_exit_is "XOAUTH2 without SASL-IR: the sync succeeds" 0
is "... the response follows the server's +" \
  "$(grep -A1 'AUTHENTICATE' "$T_DIR/xo.server" | cut -d' ' -f2- | tr '\n' ' ')" "AUTHENTICATE XOAUTH2 $xoauth2 "

long=$(head -c 1500 /dev/zero | tr '\0' 'T')
oauth_rc xo-long xoauth2-ir XOAUTH2 "$long"
sync_run "$T_DIR/xo-long.log" -c "$T_DIR/rc-xo-long" c
sync_exit_is "a 1500-byte token with SASL-IR: the sync succeeds" 0
is "... the response goes after the + (the command line stays short)" \
  "$(grep -A1 'AUTHENTICATE' "$T_DIR/xo-long.server" | cut -d' ' -f2- | tr '\n' ' ')" \
  "AUTHENTICATE XOAUTH2 $(b64 "user=someone@example.org\001auth=Bearer $long\001\001") "

oauth_rc ob xoauth2-ir OAUTHBEARER "$TOKEN"
sync_run "$T_DIR/ob.log" -c "$T_DIR/rc-ob" c
sync_exit_is "OAUTHBEARER: the sync succeeds" 0
is "... the response is the GS2 header and the token (no host or port over a Tunnel)" \
  "$(grep 'AUTHENTICATE' "$T_DIR/ob.server" | cut -d' ' -f4 | base64 -d | od -An -c | tr -s ' \n' ' ')" \
  "$(printf "n,a=someone@example.org,\001auth=Bearer $TOKEN\001\001" | od -An -c | tr -s ' \n' ' ')"

oauth_rc xo-no xoauth2-reject XOAUTH2 "$TOKEN"
sync_run "$T_DIR/xo-no.log" -c "$T_DIR/rc-xo-no" c
sync_exit_is "a refused token: the sync fails" 1
sync_log_has "... saying so" "$SYNC_LOG" "authentication (XOAUTH2) failed: Invalid credentials"
is "... after answering the server's error challenge with an empty line" \
  "$(grep -A2 'AUTHENTICATE' "$T_DIR/xo-no.server" | tail -n 1)" ""
check "... without showing the token" lacks "$SYNC_LOG" "$TOKEN"
