#!/bin/bash
# bench-latency.sh — how long one change takes to cross between a real
# Dovecot (tests/lib/dovecot.sh, IMAPS verified against the test CA) and a
# local Maildir, with mswatch running a resident `sync_imap --serve`, and
# how long a one-folder mbsync run takes for the same change.  Run by hand,
# as root (the fixture's requirement), from a build directory:
#
#   PATH=$PWD:$PATH bash SRCDIR/tests/bench/bench-latency.sh [BUILD_DIR]
#
# BUILD_DIR defaults to the directory of the `mswatch` found on PATH.  Needs
# dovecot-imapd, isync (mbsync 1.4) and inotify-tools, as
# tests/install-deps.sh installs.  N=COUNT sets the number of timed changes
# per series (default 100; N=20 for a quick run), PAUSE=SECONDS the pause
# after each change has crossed (default 0.6, see below).  At N=100 the run
# takes about seven minutes.
#
# mswatch runs with `base_delay 0`, `inter_delay 0` (with a larger
# inter_delay every change after the first would wait for it) and
# `poll_period 0`, the syncer `sync_imap -V --serve` on one channel
# (Patterns *, Maildir++).  Series, one change at a time, each made after
# the previous one has crossed and PAUSE has passed:
#   A   APPEND to the server's INBOX (on an IMAP session kept open) -> the
#       message's file appears in the local Maildir; the server watcher is
#       `watch_imap`, the local one `watch_maildirs`.  Its parts: the
#       server's own notification delay (APPEND -> the line of a second
#       `watch_imap` run beside mswatch: another session, so an estimate of
#       what mswatch's watcher saw), the notification -> mswatch's "Sync
#       started" line, "Sync started" -> the file, and the file -> "Sync
#       completed" (what the sync does after the file is in place).
#   B   a flag added locally (a file in cur/ renamed from ":2," to ":2,F")
#       -> the server's Maildir file renamed to carry F, which is how
#       Dovecot stores the flag; parts: the rename -> "Sync started", and
#       "Sync started" -> the server's rename.
#   A'  APPEND -> file, with `mbsync -Tz c:INBOX` started the moment the
#       APPEND's OK is read (mswatch stopped).
#   B'  local rename -> server rename, with the same mbsync run started
#       right after the rename.
#   A2  as A, but the server is watched by `watch_maildirs` on Dovecot's own
#       Maildir (what `ssh host inputkill watch_maildirs` gives).  That
#       watcher sees Dovecot's rename into new/ before Dovecot has given the
#       message a UID, so a sync started at once can miss the message, and
#       nothing reports it again until the next change: such appends are
#       counted as missed when the message has not arrived within
#       MISS_DEADLINE_S, and reported, not failed.
#   A3  as A, but against Dovecot configured to hibernate IDLE connections
#       (imap_hibernate_timeout, as large installations run it), with
#       `watch_imap` on IDLE (DisableExtensions NOTIFY): a hibernated IDLE
#       is woken by the change at once and reports it without the 500 ms
#       a running imap process holds notifications for.  HIBERNATE_PAUSE
#       replaces PAUSE there.  Dovecot 2.3 drops a change made in the last
#       500 ms before it hibernates the connection (the imap process was
#       holding that notification; the hibernated connection watches only
#       for later changes).  Each change here is made 2 s after the last
#       crossed, clear of that window, but a keepalive renewal of the IDLE
#       moves the hand-over, and a change can land in it (one in 103 in
#       each full run): it waits for the next change or keepalive and is
#       counted as missed, as in A2.
# mbsync runs with -Tz, which turns off its one-second Maildir guard (it
# sleeps a second when a cur/ or new/ changed in the current second, as a
# local flag change always has); without it B' measures that second.  -Tz
# drops a race guard mbsync keeps for safety: the baseline is mbsync's work,
# not the wait it would add in practice.
#
# Every time comes from a timestamping reader (the line read by this shell
# for the APPEND's OK; inotifywait on both Maildirs; mswatch's output;
# the second watch_imap), microseconds of one clock.  Dovecot holds IDLE and
# NOTIFY notifications for up to 500 ms after an earlier one, hence PAUSE
# (as in bench-watch-imap.sh); the same pause is used in every series so
# that they are made alike.
#
# Prints median, 90th percentile and worst, in ms, per series and part, and
# the ratios of the medians to the mbsync baselines and to the 20 ms target
# (DESIGN: median <= 20 ms for A and B).  The exit status is 1 when a run
# goes wrong (a change that does not cross within DEADLINE_S in A, B, A' or
# B', an mbsync run that fails, a duplicate, the fixture not starting) and 0
# otherwise, whether or not the target is met.  Logs are kept on failure.

BENCH_PROGRAM=mswatch
. "$(dirname "$0")/bench-lib.sh"

export LC_ALL=C
N=${N:-100}
# Changes made and crossed before the timed ones in every series: the first
# ones pay for cold caches and the first SELECT on every side.
WARMUP=3
# Seconds to wait for one change to cross before calling the run broken.
DEADLINE_S=10
# Seconds an A2 append may take before it counts as missed.  A crossing
# takes tens of milliseconds; a missed message waits for the next change,
# and a longer deadline would only make each miss cost more time.
MISS_DEADLINE_S=2
# Seconds between a change having crossed and the next change.  Longer than
# Dovecot's 500 ms notification delay, so that no timer a session armed for
# the last change (or for the syncer's own reads and the flag changes,
# which Dovecot's inotify sees too) is still running when the next change
# is made; it also lets the watchers' echo of the sync, and the sync that
# follows it, end first.  PAUSE=0 shows the back-to-back case.
PAUSE=${PAUSE:-0.6}
# A3: IDLE connections hibernate after this many seconds (Dovecot's
# imap_hibernate_timeout; it counts whole seconds), and each change is made
# this long after the previous one crossed, so that the watcher's IDLE has
# hibernated again by then.
HIBERNATE_S=1
HIBERNATE_PAUSE=2
# Seconds without a line from mswatch that count as "settled" after its
# start and between series.
QUIET_S=1
# Old messages on the server before the first start.
SEED=5
# The latency target of DESIGN, in ms.
TARGET_MS=20

for p in mswatch sync_imap watch_imap watch_maildirs; do
  [ -x "$build/$p" ] || { echo "no $build/$p: build first" >&2; exit 1; }
done
why=$(dovecot_missing)
[ -z "$why" ] || { echo "cannot run: $why" >&2; exit 1; }
command -v mbsync > /dev/null 2>&1 || { echo "cannot run: mbsync not found (install isync)" >&2; exit 1; }
command -v inotifywait > /dev/null 2>&1 ||
  { echo "cannot run: inotifywait not found (install inotify-tools)" >&2; exit 1; }
[ -n "${EPOCHREALTIME:-}" ] || { echo "needs bash 5 (EPOCHREALTIME)" >&2; exit 1; }
. "$top_srcdir/tests/helpers/sync-lib.sh"

BAD=0
fail () { BAD=$((BAD + 1)); echo "FAIL: $*"; }

# stamp: copies lines from stdin to stdout, each prefixed with the
# microsecond it was read, carriage returns removed.
stamp () {
  local line t
  while IFS= read -r line; do
    t=$EPOCHREALTIME
    printf '%s %s\n' "${t/./}" "${line%$'\r'}"
  done
}

# reap_mbsync KEY: waits for the mbsync run of series KEY that the caller
# started in the background ($pid, if any); fails if it failed.
reap_mbsync () {
  [ -n "$pid" ] || return 0
  wait "$pid" || { fail "$1: mbsync exited $?: $(tail -n 3 "$T_DIR/$1.mbsync.log")"; return 1; }
  pid=
}

# stats FILE: "median p90 worst" in ms of the microsecond values in FILE.
stats () {
  sort -n "$1" 2>/dev/null | awk '{ v[NR] = $1 }
    END {
      if (NR == 0) { print "- - -"; exit }
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      p = v[int(NR * 0.9 + 0.999)]
      printf "%.1f %.1f %.1f\n", m / 1000, p / 1000, v[NR] / 1000
    }'
}

# lines FILE: how many lines FILE has (0 if none).
lines () { { wc -l < "$1"; } 2> /dev/null || echo 0; }
# first_after FILE MARK PATTERN: the timestamp of the first line after line
# MARK of FILE that matches the extended regex PATTERN (nothing if none).
first_after () { tail -n +"$(($2 + 1))" "$1" 2>/dev/null | grep -m 1 -E -- "$3" | cut -d' ' -f1; }
# record KEY FROM TO: TO - FROM (microseconds) into KEY's file, when both
# were seen.
record () { [ -n "$2" ] && [ -n "$3" ] && echo $(($3 - $2)) >> "$T_DIR/$1.us"; }
# message_id FILE: the Message-ID of a message file.
message_id () { sed -n 's/^Message-ID: *//p' "$1" | head -n 1 | tr -d '\r'; }

# found_in LOG MARK ID [REGEX]: sets FOUND to the timestamp of the first
# inotifywait event after line MARK of LOG whose file (whose path matches
# REGEX, if given) holds the message ID.
found_in () {
  local t ev path
  FOUND=
  while read -r t ev path; do
    [ -z "${4:-}" ] || [[ $path =~ $4 ]] || continue
    if [ -f "$path" ] && grep -qF -- "Message-ID: $3" "$path"; then
      FOUND=$t
      return 0
    fi
  done < <(tail -n +"$(($2 + 1))" "$1")
  return 1
}

PIDS=""
# spawn LOG CMD...: runs CMD in the background with its stdout through a
# timestamping reader into LOG and its stderr into LOG.err; SPAWNED gets its
# process id.  It does not inherit our pipes' descriptors.
spawn () {
  local log=$1
  shift
  "$@" > >(stamp > "$log") 2> "$log.err" 4>&- 6>&- 7>&- &
  SPAWNED=$!
  PIDS="$PIDS $SPAWNED"
}
# stop PID: ends a process we started and reaps it.
stop () {
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  # shellcheck disable=SC2086
  PIDS=$(printf '%s\n' $PIDS | grep -vx -- "$1" | tr '\n' ' ')
}
cleanup_run () {
  # t_finish runs this with IFS set to a newline.
  local IFS=$' \t\n' p
  exec 4>&- 6>&- 7>&- 2>/dev/null
  for p in $PIDS; do stop "$p"; done
}
at_exit cleanup_run

# watch_dirs LOG DIR...: inotifywait on DIR..., files renamed or created in
# them, stamped into LOG; waits until its watches are in place.
watch_dirs () {
  local log=$1
  shift
  spawn "$log" inotifywait -m -e moved_to -e create --format '%e %w%f' "$@"
  wait_until 10 grep -q 'Watches established' "$log.err" ||
    { fail "inotifywait did not start: $(cat "$log.err")"; return 1; }
}

# --- the server, the Maildirs ---------------------------------------------------

dovecot_setup || { echo "the Dovecot fixture did not start" >&2; exit 1; }
dovecot_seed INBOX "$SEED" > /dev/null || { echo "seeding failed" >&2; exit 1; }
# Dovecot makes new/ only when it first needs it; the Maildir watchers must
# find every directory there from the start.
dovecot_as_mail mkdir -p "$DOVECOT_MAILDIR/new" "$DOVECOT_MAILDIR/cur" "$DOVECOT_MAILDIR/tmp"
MAIL=$T_DIR/Mail
MB=$T_DIR/mb
RC=$T_DIR/mbsyncrc
MB_RC=$T_DIR/mbsyncrc.mbsync
sync_write_rc "$RC" imaps Maildir++ "$MAIL" "Patterns *" "Create Both" "SyncState *"
sync_write_rc "$MB_RC" imaps Maildir++ "$MB" "Patterns *" "Create Both" "SyncState *"
sync_make_folder "$MAIL"
sync_make_folder "$MB"
MBSYNC="mbsync -Tz -q -c $MB_RC c:INBOX"

LOCAL_EV=$T_DIR/local.ev
MB_EV=$T_DIR/mb.ev
SERVER_EV=$T_DIR/server.ev
watch_dirs "$LOCAL_EV" "$MAIL/new" "$MAIL/cur" || exit 1
watch_dirs "$MB_EV" "$MB/new" "$MB/cur" || exit 1
watch_dirs "$SERVER_EV" "$DOVECOT_MAILDIR/cur" || exit 1

# The appending session: Dovecot's preauth imap on a pipe, kept open so an
# APPEND costs one round trip; requests on fd 6, answers read from fd 7.
rm -f "$T_DIR/app.in" "$T_DIR/app.out"
mkfifo "$T_DIR/app.in" "$T_DIR/app.out"
exec 6<> "$T_DIR/app.in"
"$(dovecot_preauth_cmd)" < "$T_DIR/app.in" > "$T_DIR/app.out" 2> /dev/null 4>&- 6>&- 7>&- &
PIDS="$PIDS $!"
exec 7< "$T_DIR/app.out"
IFS= read -r -t "$DEADLINE_S" -u 7 greeting
case $greeting in
  '* PREAUTH'*) ;;
  *) echo "the appending session did not start: '$greeting'" >&2; exit 1 ;;
esac

# append FILE TAG: APPENDs the message in FILE to INBOX and sets T0 to the
# microsecond its OK was read.
append () {
  local data line t
  data=$(< "$1")
  printf '%s APPEND INBOX {%d+}\r\n%s\r\n' "$2" "${#data}" "$data" >&6
  while IFS= read -r -t "$DEADLINE_S" -u 7 line; do
    t=$EPOCHREALTIME
    case $line in
      "$2 OK"*) T0=${t/./}; return 0 ;;
      "$2 "*) fail "APPEND $2 answered '${line%$'\r'}'"; return 1 ;;
    esac
  done
  fail "APPEND $2 got no answer within $DEADLINE_S s"
  return 1
}

# --- mswatch ------------------------------------------------------------------

MS_PID=
MS_LOG=

# ms_start NAME SERVER-WATCHER...: starts mswatch with the local Maildir
# watched by watch_maildirs and the server by SERVER-WATCHER, its output
# stamped into $T_DIR/NAME.log, and waits until its start-up syncs are done.
ms_start () {
  local name=$1
  shift
  cat > "$T_DIR/$name.mswatchrc" <<EOF
syncer $build/sync_imap -V -c $RC --serve c
base_delay 0
inter_delay 0
poll_period 0
store local {
  watch $build/watch_maildirs -m $MAIL
}
store server {
  watch $*
}
EOF
  MS_LOG=$T_DIR/$name.log
  # stderr too: the syncer's -V lines and mswatch's errors, in one order.
  "$build/mswatch" -c "$T_DIR/$name.mswatchrc" > >(stamp > "$MS_LOG") 2>&1 4>&- 6>&- 7>&- &
  MS_PID=$!
  PIDS="$PIDS $MS_PID"
  if ! wait_until 60 grep -qs 'Sync completed.*(all mailboxes)' "$MS_LOG"; then
    fail "$name: mswatch did not complete its start-up syncs"
    tail -n 5 "$MS_LOG" | sed 's/^/  | /'
    return 1
  fi
  ms_settle
}

# ms_settled: mswatch has printed nothing for QUIET_S and has no sync
# running.
ms_settled () {
  local last t=$EPOCHREALTIME
  last=$(tail -n 1 "$MS_LOG" | cut -d' ' -f1)
  [ $(( ${t/./} - last )) -ge $((QUIET_S * 1000000)) ] &&
    [ "$(grep -c 'Sync started' "$MS_LOG")" -eq "$(grep -c 'Sync completed' "$MS_LOG")" ]
}
ms_settle () { wait_until 60 ms_settled || fail "mswatch did not settle: $(tail -n 1 "$MS_LOG")"; }

ms_stop () {
  [ -n "$MS_PID" ] || return 0
  stop "$MS_PID"
  MS_PID=
}

# --- the series ---------------------------------------------------------------

# series_append KEY HOW EVENTS: the APPEND -> file series, the file seen in
# the inotifywait log EVENTS.  HOW is mswatch (A: also the parts), mbsync
# (A': mbsync run at once) or race (A2: misses counted, not failed).
series_append () {
  local key=$1 how=$2 ev=$3 i msg id m_ev m_ms m_side deadline=$DEADLINE_S pid=''
  local t_side t_start t_done m_work
  : > "$T_DIR/$key.us"
  MISSED=0
  MISSED_IDS=""
  [ "$how" = race ] && deadline=$MISS_DEADLINE_S
  [ -n "$MS_LOG" ] && m_work=$(lines "$MS_LOG")
  for i in $(seq 1 $((WARMUP + N))); do
    msg=$T_DIR/msg
    dovecot_make_message "$msg" "latency $key $i" || { fail "$key: no message"; return 1; }
    id=$(message_id "$msg")
    m_ev=$(lines "$ev")
    [ -n "$MS_LOG" ] && m_ms=$(lines "$MS_LOG")
    m_side=$(lines "$T_DIR/side.log")
    append "$msg" "$key$i" || return 1
    if [ "$how" = mbsync ]; then
      $MBSYNC > "$T_DIR/$key.mbsync.log" 2>&1 4>&- 6>&- 7>&- &
      pid=$!
    fi
    if ! wait_until "$deadline" found_in "$ev" "$m_ev" "$id"; then
      if [ "$how" = race ]; then
        MISSED=$((MISSED + 1))
        MISSED_IDS="$MISSED_IDS $id"
        echo "  $key: append $i not in the Maildir within $MISS_DEADLINE_S s (missed)"
      else
        fail "$key: append $i not in the Maildir within $DEADLINE_S s"
        return 1
      fi
    fi
    reap_mbsync "$key" || return 1
    sleep "$PAUSE"
    [ "$i" -gt "$WARMUP" ] || continue
    [ -n "$FOUND" ] || continue
    record "$key" "$T0" "$FOUND"
    [ "$how" = mbsync ] && continue
    t_start=$(first_after "$MS_LOG" "$m_ms" 'Sync started')
    record "$key.start" "$T0" "$t_start"
    record "$key.tofile" "$t_start" "$FOUND"
    t_done=$(first_after "$MS_LOG" "$m_ms" 'Sync completed')
    record "$key.done" "$FOUND" "$t_done"
    [ "$how" = mswatch ] || continue
    t_side=$(first_after "$T_DIR/side.log" "$m_side" '^[0-9]+ INBOX$')
    record "$key.notify" "$T0" "$t_side"
    record "$key.tostart" "$t_side" "$t_start"
  done
  [ -z "$MS_LOG" ] || work "$key" "$m_work"
}

# to_cur DIR: moves every message of the Maildir folder DIR from new/ to cur/,
# with an empty info (":2,") if it has none, as a mail reader does once it
# has seen them.
to_cur () {
  local f base
  for f in "$1"/new/*; do
    [ -f "$f" ] || continue
    base=${f##*/}
    case $base in *:2,*) ;; *) base=$base:2, ;; esac
    mv "$f" "$1/cur/$base" || return 1
  done
}

# series_flag KEY HOW DIR EVENTS: the local flag -> server series.  HOW is
# mswatch (B, with the parts) or mbsync (B').
series_flag () {
  local key=$1 how=$2 dir=$3 ev=$4 i f base new id m_ev m_ms m_srv pid='' t_rename t_start m_work
  local -a files
  : > "$T_DIR/$key.us"
  mapfile -t files < <(find "$dir/cur" -maxdepth 1 -type f -name '*:2,' | sort)
  [ "${#files[@]}" -ge $((WARMUP + N)) ] ||
    { fail "$key: only ${#files[@]} unflagged messages in $dir/cur"; return 1; }
  [ -n "$MS_LOG" ] && m_work=$(lines "$MS_LOG")
  for i in $(seq 1 $((WARMUP + N))); do
    f=${files[$((i - 1))]}
    base=${f##*/}
    new=$dir/cur/${base}F
    id=$(message_id "$f")
    [ -n "$id" ] || { fail "$key: no Message-ID in $f"; return 1; }
    m_ev=$(lines "$ev")
    [ -n "$MS_LOG" ] && m_ms=$(lines "$MS_LOG")
    m_srv=$(lines "$SERVER_EV")
    mv "$f" "$new" || { fail "$key: cannot rename $f"; return 1; }
    if [ "$how" = mbsync ]; then
      $MBSYNC > "$T_DIR/$key.mbsync.log" 2>&1 4>&- 6>&- 7>&- &
      pid=$!
    fi
    if ! wait_until "$DEADLINE_S" found_in "$SERVER_EV" "$m_srv" "$id" ':2,[A-Za-z]*F[A-Za-z]*$'; then
      fail "$key: flag $i not on the server within $DEADLINE_S s"
      return 1
    fi
    reap_mbsync "$key" || return 1
    sleep "$PAUSE"
    [ "$i" -gt "$WARMUP" ] || continue
    t_rename=$(first_after "$ev" "$m_ev" "^[0-9]+ MOVED_TO $(printf '%s' "$new" | sed 's/[][\.*^$+?(){}|]/\\&/g')\$")
    [ -n "$t_rename" ] || { fail "$key: the rename of $new was not seen"; continue; }
    record "$key" "$t_rename" "$FOUND"
    [ "$how" = mbsync ] && continue
    t_start=$(first_after "$MS_LOG" "$m_ms" 'Sync started')
    record "$key.start" "$t_rename" "$t_start"
    record "$key.toserver" "$t_start" "$FOUND"
  done
  [ -z "$MS_LOG" ] || work "$key" "$m_work"
}

# no_duplicates WHAT DIR: the server's INBOX holds no more messages twice
# than it did before WHAT (the syncer's own explanation, if it gave one, is
# shown), and the Maildir folder DIR no more than the server.
SERVER_DUPS=0
no_duplicates () {
  local dups
  dups=$(sync_server INBOX | cut -d' ' -f1 | uniq -d | grep -c .)
  if [ "$dups" -gt "$SERVER_DUPS" ]; then
    fail "$1: $((dups - SERVER_DUPS)) more messages are on the server twice"
    [ -z "$MS_LOG" ] || grep -h 'treated as new' "$MS_LOG" | cut -d' ' -f2- | sed 's/^/  | /'
    SERVER_DUPS=$dups
  fi
  dups=$(sync_local "$2" | cut -d' ' -f1 | uniq -d | grep -c .)
  [ "$dups" -le "$SERVER_DUPS" ] || fail "$1: $dups messages are in $2 more than once"
}

# work KEY MARK: how many syncs mswatch started, and how many mailbox syncs
# the syncer did (its -V lines), since line MARK of its log, per timed or
# warm-up change of series KEY.
work () {
  tail -n +"$(($2 + 1))" "$MS_LOG" | awk -v n=$((WARMUP + N)) '
    / Sync started / { s++ } / sync_imap: [^ ]+: [0-9]+ pulled/ { b++ }
    END { printf "%.1f %.1f\n", s / n, b / n }' > "$T_DIR/$1.work"
}

# --- main -----------------------------------------------------------------------

echo "bench-latency: $N timed changes per series (+$WARMUP warm-up), pause $PAUSE s;" \
  "Dovecot $(dovecot --version 2>/dev/null | cut -d' ' -f1); $(mbsync --version 2>&1 | head -n 1)" \
  "with -Tz; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
t_begin=$SECONDS

# A and B: mswatch with watch_imap, and a second watch_imap for the
# server's notification delay.
rm -f "$T_DIR/side.in"
mkfifo "$T_DIR/side.in"
exec 4<> "$T_DIR/side.in"
"$build/watch_imap" -c "$RC" c < "$T_DIR/side.in" > >(stamp > "$T_DIR/side.log") 2> "$T_DIR/side.err" 4>&- 6>&- 7>&- &
SIDE_PID=$!
PIDS="$PIDS $SIDE_PID"
wait_until 30 test -s "$T_DIR/side.log" || { fail "watch_imap did not start: $(cat "$T_DIR/side.err")"; exit 1; }

echo "A:  APPEND -> local file, mswatch with watch_imap..."
ms_start imap "$build/watch_imap -c $RC c" || exit 1
series_append A mswatch "$LOCAL_EV"
no_duplicates "A" "$MAIL"

echo "B:  local flag -> server, mswatch with watch_imap..."
# What a mail reader does with new mail, while mswatch runs.
to_cur "$MAIL" || fail "cannot move the local messages to cur/"
ms_settle
no_duplicates "moving the local messages from new/ to cur/" "$MAIL"
series_flag B mswatch "$MAIL" "$LOCAL_EV"
no_duplicates "B" "$MAIL"
ms_stop
exec 4>&-
stop "$SIDE_PID"

echo "A': APPEND -> local file, $MBSYNC..."
MS_LOG=
mbsync -q -c "$MB_RC" c > "$T_DIR/mb-initial.log" 2>&1 4>&- 6>&- 7>&- ||
  fail "mbsync's initial sync failed: $(tail -n 3 "$T_DIR/mb-initial.log")"
series_append A1 mbsync "$MB_EV"
no_duplicates "A'" "$MB"

echo "B': local flag -> server, $MBSYNC..."
to_cur "$MB" || fail "cannot move mbsync's messages to cur/"
mbsync -Tz -q -c "$MB_RC" c > "$T_DIR/mb-tocur.log" 2>&1 4>&- 6>&- 7>&- ||
  fail "mbsync after moving to cur/ failed: $(tail -n 3 "$T_DIR/mb-tocur.log")"
series_flag B1 mbsync "$MB" "$MB_EV"
no_duplicates "B'" "$MB"

echo "A2: APPEND -> local file, mswatch with watch_maildirs on the server's Maildir..."
ms_start maildirs "$build/watch_maildirs -m $DOVECOT_MAILDIR" || exit 1
series_append A2 race "$LOCAL_EV"
a2_missed=$MISSED
# A missed message waits for the next change; the last one for the run's end.
late=0
for id in $MISSED_IDS; do
  sync_local "$MAIL" | grep -qF -- "$id " && late=$((late + 1))
done
ms_settle
no_duplicates "A2" "$MAIL"
ms_stop

echo "A3: APPEND -> local file, watch_imap on IDLE, Dovecot hibernating IDLE connections..."
dovecot_setup --hibernate "$HIBERNATE_S" || { fail "Dovecot did not restart with hibernation"; exit 1; }
RC_IDLE=$T_DIR/mbsyncrc.idle
sed '/^IMAPAccount /a DisableExtensions NOTIFY' "$RC" > "$RC_IDLE"
ms_start hibernate "$build/watch_imap -c $RC_IDLE c" || exit 1
PAUSE=$HIBERNATE_PAUSE series_append A3 race "$LOCAL_EV"
a3_missed=$MISSED
ms_settle
no_duplicates "A3" "$MAIL"
ms_stop

# --- report -------------------------------------------------------------------

# row LABEL KEY: one line of the table.
row () {
  # shellcheck disable=SC2046
  set -- "$1" $(stats "$T_DIR/$2.us") "$(lines "$T_DIR/$2.us")"
  printf '%-52s %8s %8s %8s %5s\n' "$1" "$2" "$3" "$4" "$5"
}
median () { stats "$T_DIR/$1.us" | cut -d' ' -f1; }
# ratio LABEL A B: A / B, both medians in ms.
ratio () {
  printf '%-52s %s\n' "$1" "$(awk -v a="$2" -v b="$3" \
    'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }')"
}

echo
echo "== latency, ms: median / p90 / worst (count)"
printf '%-52s %8s %8s %8s %5s\n' series median p90 worst n
row "A   APPEND -> local file (mswatch, watch_imap)" A
row "      APPEND -> 2nd watch_imap's line (server)" A.notify
row "      that line -> mswatch \"Sync started\"" A.tostart
row "      APPEND -> \"Sync started\"" A.start
row "      \"Sync started\" -> file" A.tofile
row "      file -> \"Sync completed\"" A.done
row "A'  APPEND -> local file (mbsync -Tz run at once)" A1
row "A2  APPEND -> local file (watch_maildirs on server)" A2
row "      APPEND -> \"Sync started\" (< 0: before the OK)" A2.start
row "      \"Sync started\" -> file" A2.tofile
echo "      missed within $MISS_DEADLINE_S s: $a2_missed of $((WARMUP + N))" \
  "($late of them arrived with a later sync)"
row "A3  APPEND -> local file (IDLE, Dovecot hibernating)" A3
row "      APPEND -> \"Sync started\"" A3.start
row "      \"Sync started\" -> file" A3.tofile
echo "      missed within $MISS_DEADLINE_S s: ${a3_missed:--} of $((WARMUP + N))"
row "B   local flag rename -> server file (mswatch)" B
row "      rename -> \"Sync started\"" B.start
row "      \"Sync started\" -> server file" B.toserver
row "B'  local flag rename -> server file (mbsync -Tz)" B1
echo
echo "== work per change: syncs mswatch started / mailbox syncs sync_imap did"
for k in A B A2 A3; do
  printf '%-4s %s\n' "$k" "$(sed 's| | / |' "$T_DIR/$k.work" 2>/dev/null || echo -)"
done
echo
echo "== ratios of medians"
ratio "A / A' (mswatch vs mbsync, server -> local)" "$(median A)" "$(median A1)"
ratio "B / B' (mswatch vs mbsync, local -> server)" "$(median B)" "$(median B1)"
ratio "A2 / A'" "$(median A2)" "$(median A1)"
ratio "A / $TARGET_MS ms target" "$(median A)" "$TARGET_MS"
ratio "A3 / $TARGET_MS ms target" "$(median A3)" "$TARGET_MS"
ratio "B / $TARGET_MS ms target" "$(median B)" "$TARGET_MS"
ratio "A without the server's notification delay / target" \
  "$(awk -v a="$(median A)" -v n="$(median A.notify)" 'BEGIN { if (a != "-" && n != "-") print a - n; else print "-" }')" \
  "$TARGET_MS"
echo
echo "took $((SECONDS - t_begin)) s; load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
# T_FAILED keeps the logs (test-lib.sh).
# shellcheck disable=SC2034
[ "$BAD" -eq 0 ] || { echo "$BAD failures"; T_FAILED=$BAD; exit 1; }
