#!/bin/sh
# sync_imap against a broken or hostile server (tests/helpers/scripted-imap.sh
# as the Tunnel): junk after the greeting, a malformed FETCH, literals whose
# size lies either way, a literal claiming 100 GB, BYE in the middle of a
# command, mailbox names that climb out of the Maildir root, and a TLS
# server that hangs up while a message is being appended.  Each must fail
# the sync with a message (exit 1 in one-shot mode, RETRY or FAIL in --serve
# mode), never kill sync_imap by a signal, and never write anything outside
# the Maildir root (nor a message file from a broken response).
#
# For TLS the scripted server sits behind `openssl s_server`, joined to it
# by two FIFOs.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/dovecot.sh"   # for dovecot_free_port only
. "$top_srcdir/tests/helpers/sync-lib.sh"

plan 72

SCRIPTED=$SYNC_HELPERS/scripted-imap.sh

# scripted_rc NAME SCENARIO: rc-NAME syncing every folder of the scripted
# server into $T_DIR/NAME, its log in $T_DIR/NAME.server.
scripted_rc () {
  sync_write_rc "$T_DIR/rc-$1" "Tunnel \"sh $SCRIPTED $2 $T_DIR/$1.server\"" Verbatim "$T_DIR/$1"
}

# outside NAME: every path in the test directory but the Maildir root NAME
# and the logs.
outside () {
  sync_tree "$T_DIR" | grep -v -e "^\./$1\(/\|\$\)" -e '\.log$' -e '\.server\(\.append\)\?$' -e '^\./rc-'
}

# --- the script itself works ------------------------------------------------------
scripted_rc good good
sync_run "$T_DIR/good.log" -V -c "$T_DIR/rc-good" c
sync_exit_is "against the plain scripted server the sync succeeds" 0
sync_same "... with its two messages" "$(sync_local "$T_DIR/good/INBOX")" \
  "$(printf '%s\n' '<one@scripted.test> S' '<two@scripted.test> ')"

# --- mbsync's -a and -l -------------------------------------------------------------
# rc-two: channel c (every folder into $T_DIR/two) and channel d (INBOX
# into $T_DIR/two-d).
scripted_rc two good
printf '\nMaildirStore near-d\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n\n' \
  "$T_DIR/two-d" "$T_DIR/two-d" >> "$T_DIR/rc-two"
printf 'Channel d\nFar :far:INBOX\nNear :near-d:INBOX\nCreate Near\nSyncState *\n' >> "$T_DIR/rc-two"
mkdir -p "$T_DIR/two-d"
sync_run "$T_DIR/two-l.log" -l -c "$T_DIR/rc-two" c
sync_exit_is "-l c: exit 0" 0
is "... prints the channel's mailboxes, one per line" "$(cat "$T_DIR/two-l.log")" INBOX
is "... and syncs nothing" "$(sync_count "$T_DIR/two/INBOX")" 0
sync_run "$T_DIR/two-a.log" -a -c "$T_DIR/rc-two"
sync_exit_is "-a: exit 0" 0
is "... channel c synced" "$(sync_count "$T_DIR/two/INBOX")" 2
is "... and channel d" "$(sync_count "$T_DIR/two-d/INBOX")" 2
sync_run "$T_DIR/two-x.log" -a -c "$T_DIR/rc-two" c
sync_exit_is "-a with a channel as well: a usage error" 1

# --- hostile responses ----------------------------------------------------------------
# hostile SCENARIO TEXT: one-shot sync against SCENARIO; TEXT is expected in
# the error.
hostile () {
  local before
  scripted_rc "$1" "$1"
  before=$(outside "$1")
  sync_run "$T_DIR/$1.log" -c "$T_DIR/rc-$1" c
  sync_exit_is "$1: the sync fails (exit 1, not a signal)" 1
  sync_log_has "$1: ... with a message" "$SYNC_LOG" "$2"
  is "$1: ... no message file was written" "$(sync_count "$T_DIR/$1/INBOX")" 0
  is "$1: ... nothing half-written stays in tmp/" "$(find "$T_DIR/$1/INBOX/tmp" -type f 2>/dev/null | wc -l)" 0
  sync_same "$1: ... nothing was written outside the Maildir root" "$(outside "$1")" "$before"
}

hostile garbage "server response:"
hostile bad-fetch "server response:"
hostile literal-short "closed the connection"
hostile literal-long "server response:"
hostile huge-literal "literal"
hostile bye "going away now"

# --- Timeout --------------------------------------------------------------------------
# timeout_rc NAME SECONDS: rc-NAME against the slow-select server, with
# Timeout SECONDS.
timeout_rc () {
  scripted_rc "$1" slow-select
  sed -i "/^Tunnel/a Timeout $2" "$T_DIR/rc-$1"
}
timeout_rc slow-1 1
export SCRIPTED_STALL_S=3
sync_run "$T_DIR/slow-1.log" -c "$T_DIR/rc-slow-1" c
sync_exit_is "Timeout 1, a server that answers SELECT after 3 s: the sync fails" 1
sync_log_has "... saying it timed out" "$SYNC_LOG" "timed out"
# mbsync's Timeout 0 is no timeout: a wait longer than the default (20 s)
# must not end the sync.
timeout_rc slow-0 0
SCRIPTED_STALL_S=21
sync_run "$T_DIR/slow-0.log" -c "$T_DIR/rc-slow-0" c
sync_exit_is "Timeout 0, a server that answers SELECT after 21 s: the sync succeeds" 0
is "... with both messages" "$(sync_count "$T_DIR/slow-0/INBOX")" 2

# --- mailbox names from LIST --------------------------------------------------------------
scripted_rc evil evil-list
before=$(outside evil)
sync_run "$T_DIR/evil.log" -c "$T_DIR/rc-evil" c
sync_exit_is "names with .. from LIST: the sync fails" 1
sync_log_has "... saying why" "$SYNC_LOG" "path component"
sync_same "... nothing was made outside the Maildir root" "$(outside evil)" "$before"
check "... no /tmp/cur appeared" test ! -e /tmp/cur
is "... INBOX was still synced" "$(sync_count "$T_DIR/evil/INBOX")" 2
is "... and the root holds nothing else" "$(sync_tree "$T_DIR/evil" | grep -v '^\./INBOX' | tr '\n' ' ')" ". "

# --- --serve answers RETRY or FAIL and lives on -----------------------------------------------
scripted_rc serve bad-fetch
mkfifo "$T_DIR/serve.in"
sync_imap -c "$T_DIR/rc-serve" --serve c < "$T_DIR/serve.in" > "$T_DIR/serve.out" 2> "$T_DIR/serve.log" &
pid=$!
exec 3> "$T_DIR/serve.in"
printf 'r1 SYNC INBOX\n' >&3
answered () { grep -qE "^$1 (OK|RETRY|FAIL)" "$T_DIR/serve.out"; }
check "--serve: a malformed FETCH is answered" wait_until 20 answered r1
check "... with RETRY or FAIL" grep -qE '^r1 (RETRY|FAIL) .*server response' "$T_DIR/serve.out"
check "... and sync_imap is still running" kill -0 "$pid"
printf 'r2 SYNC INBOX\n' >&3
check "... and answers the next request" wait_until 20 answered r2
exec 3>&-
sync_wait_exit "$pid"
is "... and exits 0 at the end of its input" "$SYNC_RC" 0
is "... no message file was written" "$(sync_count "$T_DIR/serve/INBOX")" 0

# --- a NO leaves the connection as it is ------------------------------------------------
# A server that refuses SELECT: each request is answered RETRY with what
# the server said, and the second one is not tried again on a new
# connection (it would hear the same NO).  The scripted server logs each
# connection's one LIST "" "" (the delimiter).
scripted_rc sno select-no
mkfifo "$T_DIR/sno.in"
sync_imap -c "$T_DIR/rc-sno" --serve c < "$T_DIR/sno.in" > "$T_DIR/sno.out" 2> "$T_DIR/sno.log" &
pid=$!
exec 3> "$T_DIR/sno.in"
answered_sno () { grep -qE "^$1 (OK|RETRY|FAIL)" "$T_DIR/sno.out"; }
printf 'r1 SYNC INBOX\n' >&3
check "a server that answers SELECT with NO: the request is answered" wait_until 20 answered_sno r1
printf 'r2 SYNC INBOX\n' >&3
check "... and so is the next" wait_until 20 answered_sno r2
is "... both RETRY, with the server's words" "$(grep -cE '^r[12] RETRY .*Permission denied' "$T_DIR/sno.out")" 2
exec 3>&-
sync_wait_exit "$pid"
is "... on one connection" "$(grep -c ' LIST "" ""$' "$T_DIR/sno.server")" 1

# --- a TLS server that hangs up in the middle of an APPEND -----------------------------
# The scripted server marks the moment it reads the APPEND; the test then
# kills s_server, while sync_imap is still writing the 20 MB literal.  The
# writes that follow fail with EPIPE, which must be an error, not SIGPIPE.
H=$T_DIR/hangup
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$T_DIR/tls.key" -out "$T_DIR/tls.pem" -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 2> "$T_DIR/openssl.err"
port=$(dovecot_free_port)
mkfifo "$T_DIR/tls.in" "$T_DIR/tls.out"
# Opening a FIFO waits for the other end: s_server opens its output first,
# the script its input first, so that neither waits for the other.
openssl s_server -accept "127.0.0.1:$port" -cert "$T_DIR/tls.pem" -key "$T_DIR/tls.key" -quiet \
  -naccept 1 > "$T_DIR/tls.out" < "$T_DIR/tls.in" 2> "$T_DIR/s_server.err" &
tls_server=$!
sh "$SCRIPTED" append-hangup "$T_DIR/hangup.server" < "$T_DIR/tls.out" > "$T_DIR/tls.in" &
scripted_server=$!
# If s_server never starts (its port taken meanwhile), the script would wait
# on its FIFO for ever, holding the test's stderr open: kill both at the end.
at_exit "kill -KILL $tls_server $scripted_server"
check "s_server listens" wait_until 20 dovecot_port_listening "$port"
sync_write_rc "$T_DIR/rc-hangup" "Host 127.0.0.1
Port $port
SSLType IMAPS
SystemCertificates no
CertificateFile $T_DIR/tls.pem
User someone
Pass secret" Verbatim "$H"
sync_make_folder "$H/INBOX"
{
  printf 'Message-ID: <big@scripted.test>\nSubject: big\n\n'
  head -c 20000000 /dev/zero | tr '\0' x | fold -w 76
} > "$H/INBOX/new/1700000000.big.testhost"
before=$(outside hangup)
SYNC_LOG=$T_DIR/hangup.log
sync_imap -c "$T_DIR/rc-hangup" c > "$SYNC_LOG" 2>&1 &
pid=$!
at_exit "kill -KILL $pid"
check "... the APPEND starts" wait_until 30 test -e "$T_DIR/hangup.server.append"
kill -KILL "$tls_server"
wait "$tls_server" 2> /dev/null
sync_wait_exit "$pid"
sync_exit_is "a TLS server gone in the middle of an APPEND: the sync fails (exit 1, not SIGPIPE)" 1
check "... saying the connection broke" grep -qE '^sync_imap: INBOX: (TLS (write|read)|.*closed the connection)' "$SYNC_LOG"
is "... the two server messages were pulled before" "$(sync_count "$H/INBOX")" 3
sync_same "... nothing was written outside the Maildir root" "$(outside hangup)" "$before"

# --- PROGRESS stays in its form when the server's counts are off ---------------------
# The download form (docs/protocol.md) never has more done than the total,
# and a download ends at done = total: with sizes the server gives too low,
# and with a message listed but gone when its body is fetched.
for scenario in size-low vanish; do
  scripted_rc "$scenario" "$scenario"
  printf 'a1 SYNC\n' | sync_imap --progress-interval 0 -c "$T_DIR/rc-$scenario" --serve c \
    > "$T_DIR/$scenario.out" 2> "$T_DIR/$scenario.err"
  grep '^a1 PROGRESS INBOX: ' "$T_DIR/$scenario.out" > "$T_DIR/$scenario.progress"
  check "$scenario: download progress lines come" test -s "$T_DIR/$scenario.progress"
  is "$scenario: none has more done than its total" \
    "$(awk '{ split($4, m, "/"); split($6, b, "/"); if (m[1] + 0 > m[2] + 0 || b[1] + 0 > b[2] + 0) print }' \
       "$T_DIR/$scenario.progress")" ""
  is "$scenario: the last one is complete" \
    "$(tail -n 1 "$T_DIR/$scenario.progress" | sed -nE 's/^a1 PROGRESS INBOX: ([0-9]+)\/\1 messages, ([0-9]+)\/\2 bytes$/complete/p')" \
    complete
done
is "vanish: one message arrived" "$(sync_count "$T_DIR/vanish/INBOX")" 1
