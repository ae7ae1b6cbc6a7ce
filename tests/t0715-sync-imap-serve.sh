#!/bin/sh
# sync_imap --serve CHANNEL, the resident syncer of docs/protocol.md, against
# a real Dovecot: the greeting; several requests in flight; requests for the
# same mailbox that queue up while another sync runs are synced once and each
# answered; an unchanged mailbox answered OK 0 0, a changed one OK with its
# counts; bad names and bad lines refused; the server restarting between two
# requests (the next one reconnects and succeeds); and the end of stdin ending
# sync_imap with status 0.
#
# To have requests queue up for certain, the second instance reaches the
# server through a Tunnel whose first connection waits on a FIFO (the
# "gate") before it starts the preauth imap: the test sends the requests while the first sync is held
# at the gate, and knows they are queued once sync_imap has answered a
# malformed line sent after them (it reads its input in order).
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/dovecot.sh"
. "$top_srcdir/tests/helpers/sync-lib.sh"

dovecot_available

plan 100

if ! dovecot_setup; then
  echo "Bail out! the Dovecot fixture did not start"
  exit 1
fi
dovecot_seed INBOX 3 && dovecot_seed box01 2 || { echo "Bail out! seeding failed"; exit 1; }

# start_serve NAME RC: sync_imap --serve c on rc RC, reading the FIFO
# $T_DIR/NAME.in (held open on fd 3), answering into $T_DIR/NAME.out, -V log
# in $T_DIR/NAME.err; SERVE_PID and OUT are set.
start_serve () {
  local name=$1 rc=$2
  shift 2
  mkfifo "$T_DIR/$name.in"
  sync_imap -V -c "$rc" "$@" --serve c < "$T_DIR/$name.in" > "$T_DIR/$name.out" 2> "$T_DIR/$name.err" &
  SERVE_PID=$!
  OUT=$T_DIR/$name.out
  exec 3> "$T_DIR/$name.in"
}
# send LINE...: requests to the running instance.
send () { printf '%s\n' "$@" >&3; }
# stop_serve: closes stdin and waits for sync_imap to exit (SYNC_RC).
stop_serve () {
  exec 3>&-
  sync_wait_exit "$SERVE_PID"
}
# answered TAG: TAG has its final answer.
answered () { grep -qE "^$1 (OK|RETRY|FAIL)( |\$)" "$OUT"; }
# answer TAG: that final answer.
answer () { grep -E "^$1 (OK|RETRY|FAIL)( |\$)" "$OUT"; }
# answers_of TAG: how many final answers TAG got.
answers_of () { grep -cE "^$1 (OK|RETRY|FAIL)( |\$)" "$OUT"; }
# wait_answer DESC TAG: one TAP line for TAG being answered in time.
wait_answer () { check "$1" wait_until 30 answered "$2"; }

# --- over IMAPS ---------------------------------------------------------------
S=$T_DIR/s
sync_write_rc "$T_DIR/rc-imaps" imaps Verbatim "$S"
start_serve imaps "$T_DIR/rc-imaps"
greeted () { head -n 1 "$OUT" | grep -q '^\* MSWATCH-SYNCER 1 sync_imap '; }
check "the first line is the greeting" wait_until 30 greeted

send "a0 SYNC"
wait_answer "a sync of everything is answered" a0
is "... OK with the 5 messages pulled" "$(answer a0)" "a0 OK 5 0"
check "... after progress lines" grep -q '^a0 PROGRESS 1/2 mailboxes$' "$OUT"
sync_same "... INBOX is there" "$(sync_local "$S/INBOX")" "$(sync_server INBOX)"

send "a1 SYNC INBOX"
wait_answer "an unchanged mailbox is answered" a1
is "... OK 0 0" "$(answer a1)" "a1 OK 0 0"

sync_add_server box01 > /dev/null
sync_add_server box01 > /dev/null
sync_add_local "$S/INBOX" > /dev/null
send "a2 SYNC box01" "a3 SYNC INBOX"
wait_answer "two requests in flight: the first is answered" a2
wait_answer "... and the second" a3
is "... box01: 2 pulled" "$(answer a2)" "a2 OK 2 0"
is "... INBOX: 1 pushed" "$(answer a3)" "a3 OK 0 1"
sync_same "... box01 agrees with the server" "$(sync_local "$S/box01")" "$(sync_server box01)"
sync_same "... INBOX too" "$(sync_local "$S/INBOX")" "$(sync_server INBOX)"

# A sync that changed something is followed, when idle and once the
# Maildir's mtimes have settled, by one that leaves a fingerprint behind:
# the watchers' echo of a sync's own writes then costs no sync.
box01_log () { grep "^sync_imap: box01: [0-9]* pulled" "$T_DIR/imaps.err"; }
box01_fingerprinted () { box01_log | tail -n 1 | grep -q '0 pulled, 0 pushed, 0/0 flags, 0 removed, 0 expunged.* \[fingerprint\]$'; }
check "after box01's pull, one more sync of it leaves a fingerprint" wait_until 30 box01_fingerprinted
box01_syncs=$(box01_log | wc -l)
send "a2e SYNC box01"
wait_answer "... the echo request is answered" a2e
is "... OK 0 0, without a sync" "$(answer a2e) $(box01_log | wc -l)" "a2e OK 0 0 $box01_syncs"
check "... and box01 is looked at once more, by STATUS" \
  wait_until 30 grep -q '^sync_imap: box01: looked at once more: unchanged$' "$T_DIR/imaps.err"

# The echo comes a moment after the answer, before the Maildir's mtimes
# have settled: the echo request waits for them, and its sync leaves the
# fingerprint, so that no idle-time sync follows.
sync_add_server box01 > /dev/null
box01_syncs=$(box01_log | wc -l)
mkfifo "$T_DIR/answers"
tail -n +1 -f "$OUT" > "$T_DIR/answers" &
tail_pid=$!
send "a2p SYNC box01"
timeout 30 sed -n '/^a2p OK/q' < "$T_DIR/answers"
send "a2q SYNC box01"
kill "$tail_pid"
wait_answer "an echo sent as a pull is answered is answered" a2q
check "... box01 is left with a fingerprint" wait_until 30 box01_fingerprinted
is "... by the echo's own sync: two syncs, none when idle" "$(box01_log | wc -l)" $((box01_syncs + 2))

send "a4 SYNC ../evil"
wait_answer "a name leaving the Maildir root is answered" a4
check "... FAIL" grep -q '^a4 FAIL .*path component' "$OUT"
check "... and nothing was made for it" test ! -e "$T_DIR/evil"
send "bad! SYNC INBOX" "a5 FROB"
check "a malformed line gets * BAD" wait_until 30 file_has "$OUT" "* BAD malformed request line"
wait_answer "an unknown command is answered" a5
is "... FAIL" "$(answer a5)" "a5 FAIL unknown command"

# (The restarted master must not inherit fd 3, the FIFO's writing end: it
# would keep sync_imap's stdin open.)
check "the server restarts (the connection drops)" dovecot_restart 3>&-
new=$(sync_add_server INBOX)
send "a6 SYNC INBOX"
wait_answer "the next request is answered" a6
is "... OK, over a new connection" "$(answer a6)" "a6 OK 1 0"
check "... the new message arrived" sh -c '[ -n "$1" ]' x "$(sync_local_file "$S/INBOX" "$new")"

# A sync of everything on an idle account: once each mailbox has been
# synced with nothing to do (v1-v3), the next one (v4) syncs none of them.
send "v1 SYNC" "v2 SYNC INBOX" "v3 SYNC box01"
three_answered () { answered v1 && answered v2 && answered v3; }
check "three more requests are answered" wait_until 30 three_answered
# (Only v4's lines count: v1 may already have found both unchanged, when the
# idle-time sync after a6 left INBOX's fingerprint behind in time.)
lines_before=$(wc -l < "$T_DIR/imaps.err")
send "v4 SYNC"
wait_answer "a sync of everything on an idle account is answered" v4
v4_log=$(tail -n +"$((lines_before + 1))" "$T_DIR/imaps.err")
is "... OK 0 0, with one STATUS round trip and no mailbox synced" \
  "$(answer v4) $(printf '%s\n' "$v4_log" | grep -c '^sync_imap: all mailboxes: 2 of 2 unchanged$') $(printf '%s\n' "$v4_log" | grep -c '^sync_imap: [^ ]*: [0-9]* pulled')" \
  "v4 OK 0 0 1 0"

stop_serve
is "at the end of stdin sync_imap exits 0" "$SYNC_RC" 0
for t in a0 a1 a2 a3 a4 a5 a6; do
  c=$(answers_of $t)
  [ "$c" = 1 ] || { not_ok "every request got exactly one answer"; diag "$t: $c answers"; break; }
done
[ "$t" = a6 ] && [ "$c" = 1 ] && ok "every request got exactly one answer"

# --- a request found unchanged is looked at once more -----------------------------------
# A server may answer STATUS from an index a moment behind a change another
# session is committing, while a watcher of its Maildir has already seen
# the file: a mailbox that STATUS shows unchanged is asked about once more
# a little later (here after 2 s, for the test to change the server first)
# and synced if the server changed after all.
start_serve recheck "$T_DIR/rc-imaps" --recheck-after 2000
check "an instance that looks again after 2 s greets" wait_until 30 greeted
send "r1 SYNC box01"
wait_answer "... its first sync of box01 is answered" r1
send "r2 SYNC box01"
wait_answer "... the next request finds box01 unchanged" r2
new=$(sync_add_server box01)
arrived () { [ -n "$(sync_local_file "$S/box01" "$new")" ]; }
check "... the message added then arrives without a request" wait_until 30 arrived
check "... by the second look" grep -q '^sync_imap: box01: looked at once more: changed$' "$T_DIR/recheck.err"
is "... answering nothing" "$(grep -cE '^r[0-9]+ (OK|RETRY|FAIL)' "$OUT")" 2
stop_serve

# --- requests queued behind a sync: coalesced -------------------------------------------
G=$T_DIR/g
mkfifo "$T_DIR/gate"
sync_write_rc "$T_DIR/rc-gated" \
  "Tunnel \"if mkdir $T_DIR/gate.taken 2>/dev/null; then touch $T_DIR/gate.reached; read go < $T_DIR/gate; fi; exec $(dovecot_preauth_cmd)\"" \
  Verbatim "$G"
start_serve gated "$T_DIR/rc-gated"
check "second instance greets" wait_until 30 greeted
send "g0 SYNC INBOX"
check "its first sync waits at the gate" wait_until 30 test -e "$T_DIR/gate.reached"
send "b1 SYNC box01" "b2 SYNC box01" "b3 SYNC box01" "c1 SYNC INBOX" "bad! queued"
check "four more requests are queued behind it" wait_until 30 file_has "$OUT" "* BAD malformed request line"
printf 'go\n' > "$T_DIR/gate"
wait_answer "the first request is answered once the gate opens" g0
# (In any order: the four are synced side by side, see below.)
queued_answered () { answered b1 && answered b2 && answered b3 && answered c1; }
check "the queued ones too" wait_until 30 queued_answered
is "... g0 pulled INBOX" "$(answer g0)" "g0 OK 5 0"
is "... b1, b2 and b3 got the same answer" "$(answer b1 | cut -d' ' -f2-) $(answer b2 | cut -d' ' -f2-) $(answer b3 | cut -d' ' -f2-)" \
  "OK 6 0 OK 6 0 OK 6 0"
is "... from one sync of box01" "$(grep -c '^sync_imap: box01: 6 pulled' "$T_DIR/gated.err")" 1
is "... c1 found INBOX unchanged" "$(answer c1)" "c1 OK 0 0"
# The queued ones may be synced side by side and answered in any order
# (docs/protocol.md), but only after the sync they waited for.
is "... g0 answered first, then the four others" \
  "$(grep -oE '^(g0|b1|b2|b3|c1) OK' "$OUT" | cut -d' ' -f1 | { read -r first; echo "$first"; sort; } | tr '\n' ' ')" \
  "g0 b1 b2 b3 c1 "
stop_serve
is "... and exits 0 at the end of stdin" "$SYNC_RC" 0

# --- a server without CONDSTORE ------------------------------------------------------------
# No fingerprint can be left behind there, so nothing may be synced unasked
# (once a sync was looked at again whenever sync_imap was idle, for ever).
dovecot_setup --capability "IMAP4rev1 LITERAL+ UIDPLUS ENABLE IDLE" || diag "reconfiguring failed"
sync_write_rc "$T_DIR/rc-nocs" imaps Verbatim "$T_DIR/n"
start_serve nocs "$T_DIR/rc-nocs"
check "an instance on a server without CONDSTORE greets" wait_until 30 greeted
send "n1 SYNC INBOX"
wait_answer "... its sync of INBOX is answered" n1
send "n2 SYNC box01"
wait_answer "... and so is the next request" n2
stop_serve
is "... INBOX was synced once, as asked" "$(grep -c '^sync_imap: INBOX: ' "$T_DIR/nocs.err")" 1

# --- a sync's state, committed after the answer ----------------------------------------------
# The resident answers a sync once the journal holds it, and commits the
# state (the folder's renames synced, .mbsyncstate written, the journal
# emptied) once it has been idle a moment (200 ms), at the end of its
# input, or when SIGTERM stops it.  Until then it keeps the mailbox locked
# against mbsync; killed before, it leaves the journal, which the next run
# replays: nothing is lost or fetched twice.
K=$T_DIR/k
sync_write_rc "$T_DIR/rc-shelf" imaps Verbatim "$K"
KJ=$K/box01/.mbsyncstate.journal-ng
journal_pulls () { grep -c '^< ' "$KJ" 2>/dev/null; }
journal_empty () { [ -f "$KJ" ] && [ ! -s "$KJ" ]; }
server_count () { sync_server box01 | grep -c .; }

start_serve shelf1 "$T_DIR/rc-shelf"
check "a resident with the usual idle commit greets" wait_until 30 greeted
send "k1 SYNC box01"
wait_answer "... its first sync of box01 is answered" k1
sync_add_server box01 > /dev/null
sync_add_server box01 > /dev/null
send "k2 SYNC box01"
wait_answer "... two new messages: answered" k2
is "... OK 2 0" "$(answer k2)" "k2 OK 2 0"
check "... the state is committed once idle: the journal is emptied" wait_until 30 journal_empty
stop_serve
is "... and it exits 0 at the end of stdin" "$SYNC_RC" 0

# With the commit put off (test knob), the answer comes first.
start_serve shelf2 "$T_DIR/rc-shelf" --commit-after 600000
check "a resident that commits only after 10 minutes idle greets" wait_until 30 greeted
sync_add_server box01 > /dev/null
sync_add_server box01 > /dev/null
send "e1 SYNC box01"
wait_answer "... two new messages: answered" e1
is "... OK 2 0" "$(answer e1)" "e1 OK 2 0"
is "... while the journal still holds the two pulls" "$(journal_pulls)" 2
stop_serve
is "... at the end of stdin it exits 0" "$SYNC_RC" 0
check "... having committed the state" journal_empty

start_serve shelf3 "$T_DIR/rc-shelf" --commit-after 600000
check "another such resident greets" wait_until 30 greeted
sync_add_server box01 > /dev/null
sync_add_server box01 > /dev/null
send "t1 SYNC box01"
wait_answer "... two new messages: answered" t1
is "... OK 2 0, the journal holding them" "$(answer t1) $(journal_pulls)" "t1 OK 2 0 2"
if command -v mbsync > /dev/null 2>&1; then
  mbsync -c "$T_DIR/rc-shelf" c:box01 > "$T_DIR/shelf-mbsync1.log" 2>&1
  mbsync_rc=$?
  check "... mbsync meanwhile finds box01 locked" sh -c '[ "$1" != 0 ] && grep -qi locked "$2"' x "$mbsync_rc" "$T_DIR/shelf-mbsync1.log"
else
  ok "mbsync meanwhile finds box01 locked # SKIP mbsync not found (install isync)"
fi
# (Its input stays open: at its end it would commit and exit 0 as well.)
kill -TERM "$SERVE_PID"
sync_wait_exit "$SERVE_PID"
exec 3>&-
is "... SIGTERM ends it by that signal" "$SYNC_RC" 143
check "... having committed the state" journal_empty
if command -v mbsync > /dev/null 2>&1; then
  before=$(server_count)
  mbsync -c "$T_DIR/rc-shelf" c:box01 > "$T_DIR/shelf-mbsync2.log" 2>&1
  is "... mbsync then syncs box01 (exit 0)" "$?" 0
  is "... appending nothing: it knows the pulled messages" "$(server_count)" "$before"
  sync_same "... box01 agrees with the server, nothing twice" "$(sync_local "$K/box01")" "$(sync_server box01)"
else
  for t in "mbsync then syncs box01" "... appending nothing" "... box01 agrees"; do ok "$t # SKIP mbsync not found (install isync)"; done
fi

start_serve shelf4 "$T_DIR/rc-shelf" --commit-after 600000
check "a third such resident greets" wait_until 30 greeted
seen=$(sync_add_server box01)
sync_add_server box01 > /dev/null
send "x1 SYNC box01"
wait_answer "... two new messages: answered" x1
is "... OK 2 0, the journal holding them" "$(answer x1) $(journal_pulls)" "x1 OK 2 0 2"
kill -KILL "$SERVE_PID"
sync_wait_exit "$SERVE_PID"
exec 3>&-
is "... SIGKILL ends it before any commit" "$SYNC_RC" 137
# Marked read in the Maildir before the next run: a change to sync, not
# the base (the journal has the flags it was delivered with).
sync_local_flags "$K/box01" "$seen" S
before=$(server_count)
sync_run "$T_DIR/shelf-rerun.log" -V -c "$T_DIR/rc-shelf" c:box01
sync_exit_is "... the next run replays the journal (exit 0)" 0
is "... fetching and appending nothing" "$(sync_pulled "$SYNC_LOG") $(sync_pushed "$SYNC_LOG") $(server_count)" "0 0 $before"
sync_same "... box01 agrees with the server, nothing twice" "$(sync_local "$K/box01")" "$(sync_server box01)"
check "... and its state is committed" journal_empty
is "... the message marked read meanwhile is read on both sides" \
  "$(sync_msg_flags "$(sync_server box01)" "$seen")/$(sync_msg_flags "$(sync_local "$K/box01")" "$seen")" S/S

# SIGTERM right after the end of input (as mswatch stops a syncer), while
# a sync still runs (held at a gate): it ends at once, by that signal.
mkfifo "$T_DIR/gate2"
sync_write_rc "$T_DIR/rc-gated2" \
  "Tunnel \"if mkdir $T_DIR/gate2.taken 2>/dev/null; then touch $T_DIR/gate2.reached; read go < $T_DIR/gate2; fi; exec $(dovecot_preauth_cmd)\"" \
  Verbatim "$T_DIR/g2"
start_serve gated2 "$T_DIR/rc-gated2"
check "a resident whose first connection waits at a gate greets" wait_until 30 greeted
send "h1 SYNC INBOX"
check "... its sync waits at the gate" wait_until 30 test -e "$T_DIR/gate2.reached"
exec 3>&-
kill -TERM "$SERVE_PID"
sync_wait_exit "$SERVE_PID"
is "... its input closed, then SIGTERM: it ends by that signal" "$SYNC_RC" 143
timeout 10 sh -c "printf 'go\n' > $T_DIR/gate2" || diag "the gate had no reader left"

# --- progress of a download ----------------------------------------------------------------
# With the test knob --progress-interval 0, every message of a download is
# reported (normally at most one line every 500 ms).
mkfifo "$T_DIR/progress.in"
sync_write_rc "$T_DIR/rc-progress" imaps Verbatim "$T_DIR/p"
sync_imap --progress-interval 0 -c "$T_DIR/rc-progress" --serve c < "$T_DIR/progress.in" \
  > "$T_DIR/progress.out" 2> "$T_DIR/progress.err" &
SERVE_PID=$!
OUT=$T_DIR/progress.out
exec 3> "$T_DIR/progress.in"
send "p1 SYNC INBOX"
wait_answer "a first download of INBOX is answered" p1
n=$(sync_server INBOX | grep -c .)
is "... after a progress line per message, of $n" "$(grep -cE "^p1 PROGRESS [0-9]+/$n messages, " "$OUT")" "$n"
is "... the last one with all of them and all their bytes" \
  "$(grep '^p1 PROGRESS' "$OUT" | tail -n 1 | sed -nE 's/^p1 PROGRESS ([0-9]+)\/\1 messages, ([1-9][0-9]*)\/\2 bytes$/complete/p')" complete
stop_serve

# --- a server that takes one connection only -------------------------------------------
# Every connection after the first is refused (the Tunnel exits 1), as a
# server at its per-user limit does: a sync of everything with -j 4 goes on
# over the one connection, later runs ask for no more, until --regrow-after
# (normally ten minutes) has passed; then once more.
sync_write_rc "$T_DIR/rc-one" \
  "Tunnel \"echo call >> $T_DIR/one.calls; if mkdir $T_DIR/one.taken 2>/dev/null; then exec $(dovecot_preauth_cmd); fi; exit 1\"" \
  Verbatim "$T_DIR/one"
calls () { grep -c . "$T_DIR/one.calls"; }
start_serve one "$T_DIR/rc-one" -j 4 --regrow-after 2
send "o1 SYNC"
wait_answer "one connection only: a sync of everything is answered" o1
is "... OK" "$(answer o1 | cut -d' ' -f2)" OK
check "... on the connection it has" file_has "$T_DIR/one.err" "syncing on 1 connection"
over () { grep '^\* CONNECTION [0-9]* of [0-9]* ' "$OUT" | awk '$3 > $5 { bad = 1 } END { exit !bad }'; }
check "... and no CONNECTION line counts more open than in use" sh -c '! "$@"' x over
before=$(calls)
send "o2 SYNC"
wait_answer "a second sync of everything is answered" o2
is "... without asking for another connection" "$(calls)" "$before"
# After --regrow-after, a run with work for two connections asks again
# (and is refused again).
k=0
asked_again () {
  k=$((k + 1))
  sync_add_server INBOX > /dev/null && sync_add_server box01 > /dev/null || return 1
  send "r$k SYNC"
  wait_until 30 answered "r$k" && [ "$(calls)" -gt "$before" ]
}
check "after --regrow-after a run asks for more connections again" wait_until 20 asked_again
stop_serve
is "... and exits 0 at the end of its input" "$SYNC_RC" 0
