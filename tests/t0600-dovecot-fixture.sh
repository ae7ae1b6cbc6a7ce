#!/bin/sh
# The Dovecot fixture (tests/lib/dovecot.sh) that the IMAP tests build on,
# checked with real clients: openssl for TLS and capabilities, mbsync over
# IMAPS, STARTTLS and a Tunnel through the preauth wrapper (which puts a
# socket on imap's stdout), raw sessions for NOTIFY and for the helpers that
# change mail, restarts, the bad certificates, hidden capabilities and the
# fs layout.  The time the bulk seeder takes is printed as a diagnostic;
# MS_TEST_SLOW=1 makes that the full 10,000 messages in 50 folders.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/dovecot.sh"

dovecot_available
command -v mbsync >/dev/null 2>&1 || skip_all "mbsync not found (install isync)"

plan 63

# has_word LIST WORD: WORD is one of the space-separated words of LIST.
has_word () { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }

# Negations and probes, as single commands for check.
lacks_word () { ! has_word "$@"; }
tls_rejected () { ! dovecot_tls_verify; }
greets_on () { dovecot_greeting_tls "$1" | grep -q '^\* OK \[CAPABILITY'; }

# listen_addrs PORT: the local addresses (kernel hex) of sockets listening
# on PORT, IPv4 and IPv6.
listen_addrs () {
  awk -v p="$(printf ':%04X' "$1")" '
    $4 == "0A" && substr($2, length($2) - 4) == p { sub(/:.*/, "", $2); print $2 }' \
    /proc/net/tcp /proc/net/tcp6 | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# caps_after_login: the CAPABILITY list after logging in over IMAPS, with
# the certificate verified against the test CA.
caps_after_login () {
  printf 'a LOGIN %s %s\r\nb CAPABILITY\r\nc LOGOUT\r\n' "$DOVECOT_USER" "$DOVECOT_PASS" |
    timeout 20 openssl s_client -quiet -connect "127.0.0.1:$DOVECOT_IMAPS_PORT" \
      -CAfile "$DOVECOT_CA" -verify_return_error -verify_hostname 127.0.0.1 \
      2> "$T_DIR/s_client.err" | tr -d '\r' | sed -n 's/^\* CAPABILITY //p' | tail -n 1
}

# --- start ------------------------------------------------------------------
if dovecot_setup; then
  ok "dovecot starts (imap $DOVECOT_IMAP_PORT, imaps $DOVECOT_IMAPS_PORT)"
else
  not_ok "dovecot starts"
  echo "Bail out! the fixture did not start"
  exit 1
fi
is "plain port listens on 127.0.0.1 only" "$(listen_addrs "$DOVECOT_IMAP_PORT")" 0100007F
is "IMAPS port listens on 127.0.0.1 only" "$(listen_addrs "$DOVECOT_IMAPS_PORT")" 0100007F

# --- capabilities -------------------------------------------------------------
caps=$(caps_after_login)
for c in IDLE NOTIFY CONDSTORE QRESYNC UIDPLUS LITERAL+; do
  if has_word "$caps" "$c"; then ok "IMAPS (verified) CAPABILITY has $c"; else
    not_ok "IMAPS (verified) CAPABILITY has $c"
    diag "capabilities: $caps" "$(cat "$T_DIR/s_client.err")"
  fi
done

out=$(printf 'a LOGIN %s %s\r\nb LOGOUT\r\n' "$DOVECOT_USER" "$DOVECOT_PASS" |
  timeout 20 openssl s_client -quiet -starttls imap -connect "127.0.0.1:$DOVECOT_IMAP_PORT" \
    -CAfile "$DOVECOT_CA" -verify_return_error -verify_hostname 127.0.0.1 \
    2> "$T_DIR/starttls.err" | tr -d '\r')
check "STARTTLS with a verified certificate, then LOGIN" \
  sh -c 'printf "%s\n" "$1" | grep -q "^a OK"' x "$out"

out=$(dovecot_imap CAPABILITY)
check "preauth wrapper session (pipe) answers" \
  sh -c 'printf "%s\n" "$1" | grep -q "^\* PREAUTH .*NOTIFY.*Logged in as test"' x "$out"

# --- seeding ------------------------------------------------------------------
check "seed 3 folders x 5 messages" dovecot_seed 3 5
is "seeded folders" "$DOVECOT_SEEDED_FOLDERS" "INBOX box01 box02"
for f in INBOX box01 box02; do
  is "$f has 5 messages" "$(dovecot_status "$f" MESSAGES)" 5
done
subjects=$(dovecot_imap 'EXAMINE box01' 'UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])' |
  sed -n 's/^Subject: Seed \([0-9]*\) of box01:.*/\1/p' | tr '\n' ' ')
is "UIDs follow the seeding order" "$subjects" "1 2 3 4 5 "
ids=$(dovecot_imap 'EXAMINE box02' 'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])' |
  sed -n 's/^Message-ID: //p' | sort -u | wc -l)
is "Message-IDs are unique" "$ids" 5

# --- mbsync three ways --------------------------------------------------------
# write_mbsyncrc NAME ACCOUNT-LINES...: a config syncing everything into
# $T_DIR/mb-NAME.
write_mbsyncrc () {
  local name="$1"
  shift
  {
    echo "IMAPAccount $name"
    printf '%s\n' "$@"
    cat <<EOF

IMAPStore $name-far
Account $name

MaildirStore $name-near
Path $T_DIR/mb-$name/
Inbox $T_DIR/mb-$name/INBOX
SubFolders Verbatim

Channel $name
Far :$name-far:
Near :$name-near:
Patterns *
Create Near
SyncState *
EOF
  } > "$T_DIR/mbsyncrc-$name"
  mkdir -p "$T_DIR/mb-$name"
}

# synced_count NAME: messages mbsync stored with a UID in their name.
synced_count () {
  find "$T_DIR/mb-$1" -type f \( -path '*/cur/*' -o -path '*/new/*' \) -name '*,U=*' | wc -l
}

write_mbsyncrc imaps "Host 127.0.0.1" "Port $DOVECOT_IMAPS_PORT" "User $DOVECOT_USER" \
  "Pass $DOVECOT_PASS" "SSLType IMAPS" "SystemCertificates no" "CertificateFile $DOVECOT_CA"
write_mbsyncrc starttls "Host 127.0.0.1" "Port $DOVECOT_IMAP_PORT" "User $DOVECOT_USER" \
  "Pass $DOVECOT_PASS" "SSLType STARTTLS" "SystemCertificates no" "CertificateFile $DOVECOT_CA"
write_mbsyncrc tunnel "Tunnel \"$(dovecot_preauth_cmd)\""

for t in imaps starttls tunnel; do
  mbsync -c "$T_DIR/mbsyncrc-$t" -a > "$T_DIR/mbsync-$t.log" 2>&1
  rc=$?
  is "mbsync over $t exits 0" "$rc" 0
  [ "$rc" -eq 0 ] || diag "$(tail -n 5 "$T_DIR/mbsync-$t.log")"
  is "mbsync over $t got all 15 messages" "$(synced_count "$t")" 15
done
is "no credentials were sent outside TLS" "$(dovecot_clear_logins)" 0
printf 'a LOGIN %s %s\r\nb LOGOUT\r\n' "$DOVECOT_USER" "$DOVECOT_PASS" |
  timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; cat >&3; cat <&3' x "$DOVECOT_IMAP_PORT" \
  > "$T_DIR/clear-login.out" 2>&1
clear_logins_is_one () { [ "$(dovecot_clear_logins)" = 1 ]; }
check "a LOGIN without STARTTLS is counted by dovecot_clear_logins" wait_until 10 clear_logins_is_one

# --- NOTIFY ---------------------------------------------------------------------
# A session asks for mailbox events and idles; a message appended by
# another session must show up as an unsolicited STATUS.
mkfifo "$T_DIR/notify.in"
"$(dovecot_preauth_cmd)" < "$T_DIR/notify.in" > "$T_DIR/notify.out" 2>&1 &
notify_pid=$!
exec 4<> "$T_DIR/notify.in"
printf 'n1 NOTIFY SET (selected (MessageNew (UID) MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge))\r\nn2 SELECT INBOX\r\nn3 IDLE\r\n' >&4
check "NOTIFY SET accepted and IDLE started" wait_until 20 file_has "$T_DIR/notify.out" "+ idling"
dovecot_make_message "$T_DIR/msg1" "Fixture message"
uid=$(dovecot_append box01 "$T_DIR/msg1" '\Seen \Flagged')
is "dovecot_append prints the new UID" "$uid" 6
check "the NOTIFY session hears of it" wait_until 20 file_has "$T_DIR/notify.out" "* STATUS box01 ("
printf 'DONE\r\nn4 LOGOUT\r\n' >&4
exec 4>&-
check "NOTIFY session ends" wait_until 20 dovecot_pids_gone "$notify_pid"
wait "$notify_pid" 2>/dev/null

# --- helpers that change mail ---------------------------------------------------
is "appended message has its flags" "$(dovecot_messages box01 | tail -n 1)" '6 \Flagged \Seen'
dovecot_store box01 1:2 +FLAGS '\Answered'
dovecot_expunge box01 3
is "dovecot_store and dovecot_expunge" "$(dovecot_messages box01 | tr '\n' ',')" \
  '1 \Answered,2 \Answered,4,5,6 \Flagged \Seen,'
dovecot_set_uidvalidity box01 4242
is "dovecot_set_uidvalidity" "$(dovecot_status box01 UIDVALIDITY)" 4242
dovecot_reset_uids box01
v=$(dovecot_status box01 UIDVALIDITY)
check "dovecot_reset_uids gives a new UIDVALIDITY ($v)" test "$v" != 4242
is "... and renumbers from 1" "$(dovecot_messages box01 | cut -d' ' -f1 | tr '\n' ' ')" "1 2 3 4 5 "

# --- restart ----------------------------------------------------------------------
port=$DOVECOT_IMAPS_PORT
mkfifo "$T_DIR/held.in"
openssl s_client -quiet -connect "127.0.0.1:$port" < "$T_DIR/held.in" > "$T_DIR/held.out" 2>&1 &
held_pid=$!
exec 5<> "$T_DIR/held.in"
printf 'a LOGIN %s %s\r\n' "$DOVECOT_USER" "$DOVECOT_PASS" >&5
check "a session is logged in before the restart" wait_until 20 file_has "$T_DIR/held.out" "a OK"
check "dovecot_restart" dovecot_restart
check "the restart dropped that session" wait_until 20 dovecot_pids_gone "$held_pid"
exec 5>&-
wait "$held_pid" 2>/dev/null
is "same IMAPS port after restart" "$DOVECOT_IMAPS_PORT" "$port"
check "server answers again on the same port" greets_on "$port"

# --- certificates -----------------------------------------------------------------
check "the good certificate verifies" dovecot_tls_verify
check "switch to the untrusted certificate" dovecot_use_cert untrusted
check "openssl -verify_return_error rejects it" tls_rejected
check "... as self-signed" file_has "$DOVECOT_DIR/tls-verify.err" "self-signed certificate"
mbsync -c "$T_DIR/mbsyncrc-imaps" -a > "$T_DIR/mbsync-untrusted.log" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && file_has "$T_DIR/mbsync-untrusted.log" "self-signed certificate"; then
  ok "mbsync refuses it too"
else
  not_ok "mbsync refuses it too"
  diag "exit $rc" "$(tail -n 3 "$T_DIR/mbsync-untrusted.log")"
fi
check "switch to the wrong-host certificate" dovecot_use_cert wronghost
check "openssl rejects it for 127.0.0.1" tls_rejected
check "... as a hostname mismatch" file_has "$DOVECOT_DIR/tls-verify.err" "hostname mismatch"
check "back to the good certificate" dovecot_use_cert good
check "it verifies again" dovecot_tls_verify

# --- seeding speed ----------------------------------------------------------------
if [ "${MS_TEST_SLOW:-}" = 1 ]; then nf=50 nm=200; else nf=10 nm=20; fi
t0=$(now_ms)
check "seed $nf folders x $nm messages" dovecot_seed "$nf" "$nm"
ms=$(( $(now_ms) - t0 ))
diag "seeding $((nf * nm)) messages in $nf folders took $ms ms"
is "last seeded folder has $nm messages" "$(dovecot_status "box$(printf %02d $((nf - 1)))" MESSAGES)" "$nm"

# --- hidden capabilities ----------------------------------------------------------
port=$DOVECOT_IMAP_PORT
check "reconfigure with --capability" \
  dovecot_setup --capability "IMAP4rev1 LITERAL+ UIDPLUS ENABLE"
is "same plain port after reconfiguring" "$DOVECOT_IMAP_PORT" "$port"
caps=$(caps_after_login)
check "NOTIFY is hidden ($caps)" lacks_word "$caps" NOTIFY
check "IDLE is hidden" lacks_word "$caps" IDLE
check "UIDPLUS is still there" has_word "$caps" UIDPLUS

# --- fs layout ------------------------------------------------------------------------
dovecot_stop
dovecot_wipe_mail
check "restart with --layout fs" dovecot_setup --layout fs
is "separator for fs" "$DOVECOT_SEP" /
check "seed nested folders" dovecot_seed "INBOX lists/debian work" 2
check "nested folder is a plain directory" test -d "$DOVECOT_MAILDIR/lists/debian/cur"
is "INBOX directory agrees with doveadm" "$(dovecot_folder_dir INBOX)" \
  "$(dovecot_doveadm mailbox path -u "$DOVECOT_USER" INBOX)"
is "dovecot_folder_dir agrees with doveadm" "$(dovecot_folder_dir lists/debian)" \
  "$(dovecot_doveadm mailbox path -u "$DOVECOT_USER" lists/debian)"
