#!/bin/bash
# bench-watch-imap.sh — how long watch_imap takes to print a mailbox's name
# after a message is APPENDed to it, on a real Dovecot started for the run
# (tests/lib/dovecot.sh), over IMAPS verified against the test CA.  Run by
# hand, as root, from a build directory:
#
#   bash SRCDIR/tests/bench/bench-watch-imap.sh [BUILD_DIR]
#
# BUILD_DIR defaults to where `watch_imap` is found on PATH.  N=COUNT sets
# the number of timed appends per method (default 100), PAUSE=SECONDS the
# pause after each report (default 0.6, see below).
#
# For each method — NOTIFY (all capabilities), and IDLE on INBOX (NOTIFY
# hidden with dovecot_setup --capability) — it appends COUNT messages to
# INBOX one at a time, each after the previous one was reported, and times
# from the APPEND's completion to the line "INBOX" read from watch_imap.
# The same appends are timed for a bare IMAP session doing the same thing
# by hand (NOTIFY SET, or EXAMINE and IDLE, through Dovecot's preauth imap
# on a pipe): that is the server's own delay, the floor for any client.
# Dovecot holds notifications for up to 500 ms (NOTIFY_DELAY_MSECS), so
# absolute numbers are the server's; the ratio and the difference show what
# watch_imap adds.  Every line is read through a timestamping reader, so
# waiting for one does not delay the other.
#
# Prints median, 90th percentile and worst, in ms, per method, and the
# ratio of the medians.  The exit status is 1 when a run goes wrong (a
# missing or wrong line, the fixture not starting) and 0 otherwise.
# Logs are kept on failure.

BENCH_PROGRAM=watch_imap
. "$(dirname "$0")/bench-lib.sh"

export LC_ALL=C
N=${N:-100}
# Appends made and reported before the timed ones: the first ones pay for
# cold caches on both sides.
WARMUP=3
# Seconds to wait for one report before calling the run broken.
DEADLINE_S=10
# Seconds between a report and the next append.  Longer than Dovecot's
# 500 ms notification delay, so that no timer a session armed for the
# last change (or for the other session's index reads, which Dovecot's
# inotify also sees) is still running when the next append is made: each
# append then starts both sessions' timers alike.  PAUSE=0 shows the
# back-to-back case.
PAUSE=${PAUSE:-0.6}
CAPS_IDLE="IMAP4rev1 LITERAL+ UIDPLUS ENABLE IDLE CONDSTORE QRESYNC"

WI=$build/watch_imap
[ -x "$WI" ] || { echo "no $WI: build first" >&2; exit 1; }
why=$(dovecot_missing)
[ -z "$why" ] || { echo "cannot run: $why" >&2; exit 1; }
[ -n "${EPOCHREALTIME:-}" ] || { echo "needs bash 5 (EPOCHREALTIME)" >&2; exit 1; }

BAD=0
fail () { BAD=$((BAD + 1)); echo "FAIL: $*"; }

# us: microseconds since the epoch.
us () { local t=$EPOCHREALTIME; echo "${t/./}"; }

# stamp: copies lines from stdin to stdout, each prefixed with the
# microsecond it was read, carriage returns removed.
stamp () {
  local line t
  while IFS= read -r line; do
    t=$EPOCHREALTIME
    printf '%s %s\n' "${t/./}" "${line%$'\r'}"
  done
}

# stats FILE: "median p90 worst" in ms of the microsecond values in FILE.
stats () {
  sort -n "$1" | awk '{ v[NR] = $1 }
    END {
      if (NR == 0) { print "- - -"; exit }
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      p = v[int(NR * 0.9 + 0.999)]
      printf "%.1f %.1f %.1f\n", m / 1000, p / 1000, v[NR] / 1000
    }'
}

# events FILE PATTERN: how many lines of FILE match the extended regex.
events () { grep -cE -- "$2" "$1" 2>/dev/null || true; }
# nth_stamp FILE PATTERN K: the timestamp of the K-th matching line.
nth_stamp () { grep -E -- "$2" "$1" | sed -n "${3}p" | cut -d' ' -f1; }
# nth_text FILE PATTERN K: its text.
nth_text () { grep -E -- "$2" "$1" | sed -n "${3}p" | cut -d' ' -f2-; }

dovecot_setup || { echo "the Dovecot fixture did not start" >&2; exit 1; }
dovecot_seed "INBOX work" 1 || exit 1
MSG=$T_DIR/msg
dovecot_make_message "$MSG" "bench"
cat > "$T_DIR/rc" <<EOF
IMAPAccount acct
Host 127.0.0.1
Port $DOVECOT_IMAPS_PORT
User $DOVECOT_USER
Pass $DOVECOT_PASS
TLSType IMAPS
SystemCertificates no
CertificateFile $DOVECOT_CA

IMAPStore far
Account acct

MaildirStore near
Inbox $T_DIR/mail
SubFolders Maildir++

Channel c
Far :far:
Near :near:
Patterns *
SyncState *
EOF

PIDS=""
cleanup_run () {
  exec 4>&- 5>&- 2>/dev/null
  # shellcheck disable=SC2086
  [ -n "$PIDS" ] && kill $PIDS 2>/dev/null
  PIDS=""
}
at_exit cleanup_run

# run METHOD: one series; appends "METHOD median p90 worst ..." to RESULTS.
run () {
  local method=$1 raw_cmds raw_ready raw_event d i nw nr t1 tw tr text
  local wi_log=$T_DIR/$method-wi.log raw_log=$T_DIR/$method-raw.log
  local wi_lat=$T_DIR/$method-wi.us raw_lat=$T_DIR/$method-raw.us diff=$T_DIR/$method-diff.us
  : > "$wi_lat"; : > "$raw_lat"; : > "$diff"
  case $method in
    NOTIFY)
      dovecot_setup || return 1
      raw_cmds='a ENABLE QRESYNC\r\nb NOTIFY SET (personal (MessageNew MessageExpunge FlagChange))\r\n'
      raw_ready='^[0-9]+ b OK'
      raw_event='^[0-9]+ \* STATUS INBOX ' ;;
    IDLE)
      dovecot_setup --capability "$CAPS_IDLE" || return 1
      raw_cmds='a EXAMINE INBOX\r\nb IDLE\r\n'
      raw_ready='^[0-9]+ \+ '
      raw_event='^[0-9]+ \* [0-9]+ EXISTS' ;;
  esac

  # The bare session, on a pipe.
  rm -f "$T_DIR/raw.in" "$T_DIR/wi.in"
  mkfifo "$T_DIR/raw.in" "$T_DIR/wi.in"
  exec 5<> "$T_DIR/raw.in"
  "$(dovecot_preauth_cmd)" < "$T_DIR/raw.in" 2>/dev/null 5>&- | stamp > "$raw_log" &
  PIDS="$PIDS $!"
  printf "$raw_cmds" >&5
  wait_until 20 grep -qE "$raw_ready" "$raw_log" || { fail "$method: the bare session did not start"; return 1; }

  # watch_imap, its stdin held open on fd 4.
  exec 4<> "$T_DIR/wi.in"
  "$WI" -c "$T_DIR/rc" c < "$T_DIR/wi.in" 2> "$T_DIR/$method-wi.err" 4>&- 5>&- | stamp > "$wi_log" &
  PIDS="$PIDS $!"
  wait_until 30 test -s "$wi_log" || { fail "$method: watch_imap did not start: $(cat "$T_DIR/$method-wi.err")"; return 1; }

  d=$((DEADLINE_S * 1000))
  for i in $(seq 1 $((WARMUP + N))); do
    nw=$(events "$wi_log" '^[0-9]+ [^ ]')
    nr=$(events "$raw_log" "$raw_event")
    dovecot_append INBOX "$MSG" > /dev/null || { fail "$method: append $i failed"; return 1; }
    t1=$(us)
    reported () { [ "$(events "$wi_log" '^[0-9]+ [^ ]')" -gt "$nw" ] && [ "$(events "$raw_log" "$raw_event")" -gt "$nr" ]; }
    if ! wait_until "$DEADLINE_S" reported; then
      fail "$method: append $i not reported within $DEADLINE_S s"
      return 1
    fi
    sleep "$PAUSE"
    text=$(nth_text "$wi_log" '^[0-9]+ [^ ]' $((nw + 1)))
    [ "$text" = INBOX ] || fail "$method: append $i reported as '$text'"
    [ "$i" -gt "$WARMUP" ] || continue
    tw=$(nth_stamp "$wi_log" '^[0-9]+ [^ ]' $((nw + 1)))
    tr=$(nth_stamp "$raw_log" "$raw_event" $((nr + 1)))
    echo $((tw - t1)) >> "$wi_lat"
    echo $((tr - t1)) >> "$raw_lat"
    echo $((tw - tr)) >> "$diff"
  done
  # Each append was reported once: nothing more than one line per append.
  local lines
  lines=$(events "$wi_log" '^[0-9]+ [^ ]')
  [ "$lines" -eq $((WARMUP + N)) ] || fail "$method: $lines lines for $((WARMUP + N)) appends"

  printf '%-7s %s %s %s\n' "$method" "$(stats "$wi_lat")" "$(stats "$raw_lat")" "$(stats "$diff")" >> "$T_DIR/results"
  cleanup_run
}

echo "bench-watch-imap: $N appends per method to INBOX; Dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1)"
: > "$T_DIR/results"
run NOTIFY
run IDLE

echo
echo "APPEND done -> line read, ms (median / p90 / worst)"
printf '%-7s %-22s %-22s %-22s %s\n' method watch_imap "bare session" "watch_imap - bare" "ratio of medians"
while read -r m a1 a2 a3 b1 b2 b3 c1 c2 c3; do
  ratio=$(awk -v a="$a1" -v b="$b1" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  printf '%-7s %-22s %-22s %-22s %s\n' "$m" "$a1 / $a2 / $a3" "$b1 / $b2 / $b3" "$c1 / $c2 / $c3" "$ratio"
done < "$T_DIR/results"
echo
echo "Dovecot delays IDLE and NOTIFY notifications by up to 500 ms; the"
echo "bare session shows that floor, the difference what watch_imap adds."
[ "$BAD" -eq 0 ] || { echo "$BAD failures"; T_FAILED=$BAD; exit 1; }
