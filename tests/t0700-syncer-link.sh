#!/bin/sh
# The resident syncer (the `syncer` extension, docs/protocol.md): the
# greeting, the restart procedure's INBOX and all-mailboxes requests, batches
# sent whole and answered out of order, RETRY (kept, retried after the
# backoff), FAIL (dropped until reported again), a syncer that dies, closes
# its output, greets wrongly or cannot be executed (restarted with backoff,
# then a full sync), malformed and over-long lines (warned about, never
# fatal), sync_timeout on a hung request, SIGUSR1 while a request hangs, -d,
# the mailbox_prefix warning, and SIGTERM leaving no syncer behind.  The
# syncer is tests/helpers/fake-syncer.sh; it logs every start and request
# with a timestamp.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/helpers/coord-lib.sh"

FAKE_SYNCER="$HELPERS/fake-syncer.sh"
SYNCER_DIR="$T_DIR/syncer"
mkdir -p "$SYNCER_DIR"

# write_syncer_rc: a config with the fake syncer and watchers, plus the
# lines on stdin.
write_syncer_rc () {
  {
    echo "syncer $(esc "$FAKE_SYNCER" "$SYNCER_DIR")"
    echo "store a { watch $(watch_words a) }"
    echo "store b { watch $(watch_words b) }"
    cat
  } >"$RC"
}

# Every syncer this test started is killed at the end, whatever happened.
syncer_cleanup () {
  local p
  for p in $(grep '^start ' "$SYNCER_DIR/starts" 2>/dev/null | cut -d' ' -f3); do
    if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q fake-syncer; then
      kill -KILL "$p" 2>/dev/null
    fi
  done
  return 0
}
at_exit syncer_cleanup

fresh_syncer_run () {
  syncer_cleanup
  fresh_run
  rm -f "$SYNCER_DIR"/*
}

answers () { printf '%s\n' "$@" >"$SYNCER_DIR/answers"; }

# The request log: "MS PID TAG [NAME]|* ACTION" per request.
REQ_LOG="$SYNCER_DIR/log"
nreq () { if [ -f "$REQ_LOG" ]; then wc -l <"$REQ_LOG"; else echo 0; fi; }
req_at_least () { [ "$(nreq)" -ge "$1" ]; }
req_line () { sed -n "${1}p" "$REQ_LOG" 2>/dev/null; }
req_ms () { local v; v=$(req_line "$1" | cut -d' ' -f1); echo "${v:-0}"; }
req_tag () { req_line "$1" | cut -d' ' -f3; }
req_name () { req_line "$1" | cut -d' ' -f4- | sed 's/ [A-Z0-9]*$//'; }
req_names () { cut -d' ' -f4- "$REQ_LOG" 2>/dev/null | sed 's/ [A-Z0-9]*$//' | tr '\n' ' '; }
nreq_for () { count_lines "$REQ_LOG" " [$1] "; }
req_for_at_least () { [ "$(nreq_for "$1")" -ge "$2" ]; }
req_ms_for () { local v; v=$(grep -F " [$1] " "$REQ_LOG" 2>/dev/null | sed -n "${2}p" | cut -d' ' -f1); echo "${v:-0}"; }

# The syncers' own log: "start|eof|term MS PID".
STARTS="$SYNCER_DIR/starts"
nsyncers () { if [ -f "$STARTS" ]; then grep -c '^start ' "$STARTS"; else echo 0; fi; }
syncers_at_least () { [ "$(nsyncers)" -ge "$1" ]; }
syncer_ms () { local v; v=$(grep '^start ' "$STARTS" 2>/dev/null | sed -n "${1}p" | cut -d' ' -f2); echo "${v:-0}"; }
syncer_pid () { grep '^start ' "$STARTS" 2>/dev/null | sed -n "${1}p" | cut -d' ' -f3; }
# stopped_ms N: when the Nth syncer saw itself stopped: mswatch closes its
# stdin and sends SIGTERM at once, and which one the shell notices first
# ("eof" or "term") is a matter of timing.
stopped_ms () { local v; v=$(grep -E '^(term|eof) ' "$STARTS" 2>/dev/null | sed -n "${1}p" | cut -d' ' -f2); echo "${v:-0}"; }
no_syncer_left () {
  local p
  for p in $(grep '^start ' "$STARTS" 2>/dev/null | cut -d' ' -f3); do
    pid_alive "$p" && return 1
  done
  return 0
}

count_at_least () { [ "$(count_lines "$1" "$2")" -ge "$3" ]; }
completed () { count_at_least "$T_DIR/out" "Sync completed" "$1"; }

# report: sends SIGUSR1 and prints the last report without its first line
# (the store lines, then the syncer line).
report () {
  local n
  n=$(count_lines "$T_DIR/out" "Syncer state:")
  kill -USR1 "$MS_PID"
  wait_until 5 count_at_least "$T_DIR/out" "Syncer state:" $((n + 1)) || return 1
  awk '/^Pending mailboxes at/ { n = NR } { l[NR] = $0 } END { for (i = n + 1; i <= n + 3; i++) print l[i] }' \
    "$T_DIR/out"
}
want_report () { printf '\ta:%s\n\tb:%s\nSyncer state: %s\n' "$1" "$2" "$3"; }

# --- the greeting, the startup requests, one name -------------------------------
write_syncer_rc <<EOF
base_delay 1
inter_delay 2
max_delay 100
EOF
start_ms
wait_until 10 req_at_least 2
is "startup: INBOX first, then all mailboxes (TAG SYNC)" "$(req_names)" "[INBOX] * "
is "one syncer started" "$(nsyncers)" 1
wait_until 5 completed 2
feed_a foo
feed_b "my box"
wait_until 6 req_at_least 4
wait_until 5 completed 3
is "a batch: one request per name, names verbatim and bare" "$(req_name 3) $(req_name 4)" "[foo] [my box]"
is "tags are unique" "$(cut -d' ' -f3 "$REQ_LOG" | sort | uniq -d)" ""
check "tags are 1-16 letters and digits" \
  sh -c "cut -d' ' -f3 '$REQ_LOG' | grep -qvE '^[A-Za-z0-9]{1,16}\$' && exit 1 || exit 0"
is "OK names leave the pending set" "$(report)" "$(want_report "" "" "running, 0 requests in flight")"
masked_out | sed -E 's/after [01]s/after Ns/' | grep -v '^Pending\|^	\|^Syncer state' >"$T_DIR/got"
{
  echo "Starting syncer"
  echo "+ $FAKE_SYNCER $SYNCER_DIR "
  echo "Starting a watcher"
  echo "+ $FAKE_WATCHER --log=$T_DIR/w-a.log $FIFO_A "
  echo "Starting b watcher"
  echo "+ $FAKE_WATCHER --log=$T_DIR/w-b.log $FIFO_B "
  echo "Watching mailstores"
  echo "Sync started at TIME (1 mailbox)"
  echo "Sync completed after Ns at TIME (1 mailbox)"
  echo "Sync started at TIME (all mailboxes)"
  echo "Sync completed after Ns at TIME (all mailboxes)"
  echo "Sync started at TIME (2 mailboxes)"
  echo "Sync completed after Ns at TIME (2 mailboxes)"
} >"$T_DIR/want"
if cmp -s "$T_DIR/got" "$T_DIR/want"; then ok "stdout: 1.2's lines per batch, no argv per sync"; else
  not_ok "stdout: 1.2's lines per batch, no argv per sync"; diag "$(diff "$T_DIR/want" "$T_DIR/got")"
fi
is "nothing on stderr" "$(cat "$T_DIR/err")" ""

# --- several requests in flight, answered out of order ---------------------------
answers "HOLD n1" "HOLD n2" "RELEASE n3"
feed_a n1 n2
feed_b n3
wait_until 6 completed 4
is "the batch is sent whole" "$(req_name 5) $(req_name 6) $(req_name 7)" "[n1] [n2] [n3]"
tag_of () { grep -F " [$1] " "$REQ_LOG" | cut -d' ' -f3; }
is "answered in another order (n3, n2, n1)" "$(tail -n 3 "$SYNCER_DIR/answered" | cut -d' ' -f2 | tr '\n' ' ')" \
  "$(tag_of n3) $(tag_of n2) $(tag_of n1) "
check "the batch completes when all three have answered" out_has "(3 mailboxes)"
is "all three left the pending set" "$(report)" "$(want_report "" "" "running, 0 requests in flight")"

# --- RETRY: kept pending, retried after the backoff --------------------------------
answers "RETRY r1"
feed_a r1
wait_until 6 req_for_at_least r1 1
wait_err "Sync errored" 3
is "a RETRY keeps the name pending" "$(report)" "$(want_report " r1" "" "running, 0 requests in flight")"
answers ""
wait_until 6 req_for_at_least r1 2
between "the retry follows the backoff (inter_delay 2 s)" \
  "$(( $(req_ms_for r1 2) - $(req_ms_for r1 1) ))" 1500 3500
wait_until 5 completed 5
check "the RETRY is reported with its reason" \
  grep -qxF "Sync of r1 failed; will retry: fake temporary failure" "$T_DIR/err"
check "... and the batch as errored" \
  grep -qE "^Sync errored: $FAKE_SYNCER failed for 1 mailbox after [01]s at .* \(1 mailbox\)$" "$T_DIR/err"
is "after the retry succeeded nothing is pending" "$(report)" "$(want_report "" "" "running, 0 requests in flight")"

# --- FAIL: dropped, not retried until reported again ---------------------------------
answers "FAIL f1"
n=$(count_lines "$T_DIR/out" "Sync completed")
feed_a f1
wait_until 6 req_for_at_least f1 1
wait_until 5 completed $((n + 1))
check "a FAIL is reported with its reason" \
  grep -qxF "Sync of f1 failed permanently: fake permanent failure" "$T_DIR/err"
is "... and is not an errored batch" "$(count_lines "$T_DIR/err" "Sync errored")" 1
is "... and the name is dropped" "$(report)" "$(want_report "" "" "running, 0 requests in flight")"
feed_b g1
wait_until 6 req_for_at_least g1 1
wait_until 5 completed $((n + 2))
is "the next batch does not retry it" "$(req_name "$(nreq)")" "[g1]"
is "f1 was requested once" "$(nreq_for f1)" 1
answers ""
feed_b f1
wait_until 6 req_for_at_least f1 2
check "reported again, it is requested again" req_for_at_least f1 2
stop_ms
is "SIGTERM: exit 0" "$MS_STATUS" 0
check "SIGTERM: the syncer saw EOF or SIGTERM" grep -qE '^(eof|term) ' "$STARTS"
check "SIGTERM: no syncer left" no_syncer_left

# --- the syncer dies mid-request -----------------------------------------------------------
fresh_syncer_run
write_syncer_rc <<EOF
base_delay 1
inter_delay 2
max_delay 100
EOF
answers "DIE1 d1"
start_ms
wait_until 10 completed 2
feed_a d1
wait_until 6 req_for_at_least d1 1
wait_err "Sync errored" 5
check "the death is reported with its status" \
  grep -qE '^Error: syncer exited with error 3 by [0-9]{4}-' "$T_DIR/err"
check "the in-flight request failed (batch errored)" \
  grep -qE "^Sync errored: $FAKE_SYNCER failed for 1 mailbox after" "$T_DIR/err"
is "no per-mailbox line for a request the syncer never answered" \
  "$(count_lines "$T_DIR/err" "Sync of d1")" 0
is "meanwhile: restarting, the name still pending" "$(report)" \
  "$(want_report " d1" "" "restarting, 0 requests in flight")"
answers "DIE1 d1" "RETRY *"
wait_until 8 syncers_at_least 2
between "restarted after the backoff (inter_delay 2 s)" \
  "$(( $(syncer_ms 2) - $(req_ms_for d1 1) ))" 1500 4000
wait_until 6 req_at_least 4
is "after the restart: a sync of all mailboxes" "$(req_line 4 | cut -d' ' -f2,4)" "$(syncer_pid 2) *"
wait_until 5 count_at_least "$T_DIR/err" "Sync errored" 2
check "a RETRY of all mailboxes: the batch errored" \
  grep -qE "^Sync errored: $FAKE_SYNCER failed for all mailboxes after [01]s at .* \(all mailboxes\)$" "$T_DIR/err"
is "... and the name it had taken along is pending again" "$(report)" \
  "$(want_report " d1" "" "running, 0 requests in flight")"
answers "DIE1 d1"
wait_until 6 req_at_least 5
between "the sync of all mailboxes is retried after the backoff (2 s)" \
  "$(( $(req_ms 5) - $(req_ms 4) ))" 1500 3500
is "... as a sync of all mailboxes" "$(req_name 5)" "*"
wait_until 5 completed 3
is "once it succeeds, the name is covered" "$(report)" "$(want_report "" "" "running, 0 requests in flight")"
check "the old syncer is gone" pid_dead "$(syncer_pid 1)"
feed_a d1
wait_until 6 req_for_at_least d1 2
is "reported again, the name goes to the new syncer" \
  "$(grep -F ' [d1] ' "$REQ_LOG" | tail -n 1 | cut -d' ' -f2)" "$(syncer_pid 2)"
stop_ms

# --- a syncer that closes its stdout ---------------------------------------------------------
fresh_syncer_run
answers "CLOSE c1"
start_ms
wait_until 10 completed 2
feed_a c1
wait_err "Error: syncer connection closed by" 6
check "closing stdout is reported" err_has "Error: syncer connection closed by"
# The coordinator closes the syncer's input and sends SIGTERM at once; which
# of the two the script notices first is up to the scheduler.
cpid=$(syncer_pid 1)
wait_until 8 pid_dead "$cpid"
check "... and that syncer is stopped" pid_dead "$cpid"
check "... by its input closing or by SIGTERM" grep -qE "^(eof|term) [0-9]+ $cpid\$" "$STARTS"
wait_until 8 syncers_at_least 2
wait_until 6 req_at_least 4
is "a new one gets a sync of all mailboxes" "$(req_name 4)" "*"
stop_ms

# --- greetings: wrong version, wrong line, then right ------------------------------------
fresh_syncer_run
write_syncer_rc <<EOF
base_delay 1
inter_delay 1
max_delay 100
EOF
echo "* MSWATCH-SYNCER 2 from the future" >"$SYNCER_DIR/greeting"
start_ms
wait_until 8 syncers_at_least 2
check "version 2: said so" \
  grep -qxF "Error: syncer did not greet: it speaks protocol version 2; mswatch speaks version 1" "$T_DIR/err"
between "version 2: a failed start, retried after inter_delay (1 s)" \
  "$(( $(syncer_ms 2) - $(syncer_ms 1) ))" 800 3000
echo "* HELLO" >"$SYNCER_DIR/greeting"
wait_until 8 syncers_at_least 4
check "a wrong greeting: said so" \
  grep -qxF "Error: syncer did not greet: expected \"* MSWATCH-SYNCER 1\", received \"* HELLO\"" "$T_DIR/err"
between "the next failed start waits twice as long (2 s)" \
  "$(( $(syncer_ms 4) - $(syncer_ms 3) ))" 1500 4000
check "mswatch keeps running" ms_alive
is "no request went to a syncer that did not greet" "$(nreq)" 0
check "the watchers run meanwhile" out_has "Watching mailstores"
case "$(report | tail -n 1)" in
  "Syncer state: greeting, 0 requests in flight" | "Syncer state: restarting, 0 requests in flight")
    ok "SIGUSR1 shows the syncer starting or restarting" ;;
  *) not_ok "SIGUSR1 shows the syncer starting or restarting"; diag "$(report)" ;;
esac
rm -f "$SYNCER_DIR/greeting"
wait_until 12 req_at_least 2
is "once it greets: INBOX, then all mailboxes" "$(req_names)" "[INBOX] * "
stop_ms
check "no syncer left" no_syncer_left

# --- a syncer that cannot be executed -----------------------------------------------------------
fresh_syncer_run
write_syncer_rc <<EOF
base_delay 1
inter_delay 1
EOF
sed -i "1s|.*|syncer $(esc "$T_DIR/no-such-syncer")|" "$RC"
start_ms
wait_until 8 count_at_least "$T_DIR/err" "execvp(" 2
check "exec failure: the watchers' message" \
  grep -qxF "execvp($T_DIR/no-such-syncer): No such file or directory" "$T_DIR/err"
is "... retried, mswatch keeps running" "$(count_at_least "$T_DIR/err" "execvp(" 2 && ms_alive && echo yes)" yes
stop_ms

# --- malformed lines, an over-long line -----------------------------------------------------------
fresh_syncer_run
write_syncer_rc <<EOF
base_delay 1
inter_delay 1
EOF
answers "JUNK j1" "LONG l1"
start_ms
wait_until 10 completed 2
feed_a j1
wait_until 5 completed 3
is "seven malformed or unexpected lines, seven warnings" "$(count_lines "$T_DIR/err" "WARNING: syncer")" 7
check "an unknown keyword" grep -qxF \
  'WARNING: syncer sent a malformed line (unknown keyword): "hello world"; ignoring it' "$T_DIR/err"
check "an unknown tag" grep -qxF 'WARNING: syncer answered unknown tag zz99; ignoring it' "$T_DIR/err"
check "a bad count" grep -qF '(IN count is not a decimal number)' "$T_DIR/err"
check "a stray byte" grep -qxF \
  'WARNING: syncer sent a malformed line (tag has a character other than A-Z, a-z and 0-9): "\xff\xfe"; ignoring it' \
  "$T_DIR/err"
check "a control character in the text: warned about" grep -qF \
  '(contains a control character): "' "$T_DIR/err"
check "... and the line is still taken, the text shown escaped" \
  grep -qxF 'Syncing j1: bad\x01char' "$T_DIR/out"
check "a second greeting" grep -qF '(a second greeting)' "$T_DIR/err"
check "an informational line goes to stdout" grep -qxF "Syncer: informational text" "$T_DIR/out"
is "the real answer after the junk counted" "$(report)" "$(want_report "" "" "running, 0 requests in flight")"
feed_b l1
wait_until 5 completed 4
check "a line over 8192 bytes: warned about" \
  grep -qxF "WARNING: syncer sent a line longer than 8192 bytes; ignoring it" "$T_DIR/err"
is "... and the answer after it counted" "$(report)" "$(want_report "" "" "running, 0 requests in flight")"
answers "BADTEXT b1"
feed_a b1
wait_until 5 completed 5
check "a final answer with Latin-1 text: warned about" grep -qF \
  '(not valid UTF-8): "' "$T_DIR/err"
check "... and still taken, the reason shown escaped" \
  grep -qxF 'Sync of b1 failed permanently: caf\xe9 au lait' "$T_DIR/err"
is "the same syncer all along" "$(nsyncers)" 1
is "no sync errored" "$(count_lines "$T_DIR/err" "Sync errored")" 0
stop_ms

# --- PROGRESS lines; SIGUSR1 and watchers served while a request hangs; SIGTERM --------------
fresh_syncer_run
write_syncer_rc <<EOF
base_delay 1
inter_delay 1
EOF
answers "PROGRESS p1" "HANG s1"
start_ms
wait_until 10 completed 2
feed_a p1
wait_until 5 completed 3
check "progress is shown on stdout" grep -qxF "Syncing p1: 1/2 messages" "$T_DIR/out"
feed_a s1
wait_until 6 req_for_at_least s1 1
t=$(now_ms)
report >/dev/null
between "SIGUSR1 answered at once while a request hangs (ms)" "$(( $(now_ms) - t ))" 0 1500
feed_b late
report_is () { [ "$(report)" = "$1" ]; }
want=$(want_report " s1" " late" "running, 1 request in flight")
wait_until 5 report_is "$want"
is "... showing the request in flight, and a new name read meanwhile" "$(report)" "$want"
spid=$(syncer_pid 1)
stop_ms
is "SIGTERM during a hung request: exit 0" "$MS_STATUS" 0
wait_until 6 pid_dead "$spid"
check "... and the syncer is gone" pid_dead "$spid"

# --- sync_timeout: a hung request restarts the syncer --------------------------------------------
fresh_syncer_run
write_syncer_rc <<EOF
base_delay 1
inter_delay 1
sync_timeout 2
EOF
answers "HANG h1" "HOLD h2"
start_ms
wait_until 10 completed 2
feed_a h1 h2
wait_until 6 req_for_at_least h2 1
wait_err "Sync timed out" 6
check "the timeout is reported" grep -qxF \
  "Sync timed out: $FAKE_SYNCER gave no answer for h1 within sync_timeout (2s); restarting it" "$T_DIR/err"
wait_until 8 grep -qE '^(term|eof) ' "$STARTS"
between "the stuck syncer was stopped after sync_timeout (2 s)" \
  "$(( $(stopped_ms 1) - $(req_ms_for h1 1) ))" 1500 4000
check "both requests in flight failed" \
  grep -qE "^Sync errored: $FAKE_SYNCER failed for 2 mailboxes after [23]s" "$T_DIR/err"
wait_until 8 syncers_at_least 2
answers ""
wait_until 6 req_at_least 5
is "the new syncer gets a sync of all mailboxes" "$(req_name 5)" "*"
wait_until 5 completed 3
is "which covers both names" "$(report)" "$(want_report "" "" "running, 0 requests in flight")"
stop_ms

# --- -d: no syncer, every request succeeds ---------------------------------------------------------
fresh_syncer_run
write_syncer_rc <<EOF
base_delay 1
inter_delay 1
EOF
start_ms -d
wait_until 10 completed 2
feed_a x1
wait_until 5 completed 3
check "-d: the batch 'completes'" grep -qE '^Sync completed after [01]s at .* \(1 mailbox\)$' "$T_DIR/out"
is "-d: no syncer was started" "$(nsyncers) $(count_lines "$T_DIR/out" "Starting syncer")" "0 0"
stop_ms

# --- mailbox_prefix: a warning, names still bare -------------------------------------------------
fresh_syncer_run
write_syncer_rc <<EOF
base_delay 1
inter_delay 1
mailbox_prefix mail :
EOF
start_ms
wait_until 10 req_at_least 2
check "mailbox_prefix with syncer: warned at start-up" grep -qxF \
  "WARNING: $RC: mailbox_prefix does not apply to a syncer, which gets mailbox names bare" "$T_DIR/err"
is "... and the names stay bare" "$(req_names)" "[INBOX] * "
stop_ms
check "no syncer left at the end" no_syncer_left

plan "$T_N"
