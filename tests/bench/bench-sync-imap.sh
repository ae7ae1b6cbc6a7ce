#!/bin/sh
# bench-sync-imap.sh — sync_imap against mbsync 1.4, on a real Dovecot
# started for the run (tests/lib/dovecot.sh), over IMAPS verified against
# the test CA.  Run by hand, as root (the fixture's requirement), from a
# build directory, with the built programs on PATH:
#
#   PATH=$PWD:$PATH sh tests/bench/bench-sync-imap.sh [BUILD_DIR]
#
# (out of tree: the script's path in the source tree instead).  BUILD_DIR
# defaults to the directory of the `sync_imap` found on PATH.  Needs
# dovecot-imapd and isync (mbsync 1.4), as tests/install-deps.sh installs.
# Environment:
#   RUNS=N          runs of each timed scenario (default 3; at least 3)
#   MS_BENCH_BIG=0  skips the 100,000-message memory run (slow to seed)
#
# Scenarios, each run by every client on its own fresh copy of the same
# server and Maildir state (the server's mail is restored from a snapshot
# before each client's series), reporting the median wall time of RUNS runs
# and the ratio sync_imap / mbsync:
#   1. initial sync of 10,000 messages in 50 folders (Patterns *,
#      SyncState *): one-shot sync_imap vs mbsync, target <= 0.7;
#   2. no-change resync of those 50 folders: the resident
#      `sync_imap --serve` answering 50 `SYNC NAME` requests (from the first
#      request written to the last answer read; the process has done its
#      initial sync before) vs one-shot mbsync, target <= 0.1;
#   3. 100 new server messages, two in each of the 50 folders, then the same
#      syncs (50 requests to the resident; whole channel one-shot),
#      target <= 0.5;
#   4. 100 local flag changes (two Maildir files per folder renamed, one to
#      Seen, one to Flagged), then the same syncs, target <= 0.5.
#   One-shot sync_imap is timed in 2-4 too, for reference.  Before the
#   changes of 3 and 4 the resident is let finish what it does unasked
#   after a sync (res_idle), so that its requests find all of them.
#   5. peak RSS (VmHWM) of an initial sync of 10,000 and of 100,000 messages
#      in one folder, target <= 32 MB and flat in the message count.
#      sync_imap's is read exactly: it runs resident and is asked once, and
#      VmHWM is read after its answer.  mbsync's is sampled from /proc every
#      20 ms while it runs, so it is a lower bound (reference only).
# Before every timed step, sync(1) runs, so that no step's fsyncs wait for
# the write-back of what an earlier step (or client) left dirty, and the
# clock is let pass the second of the last change to the client's Maildir:
# mbsync sleeps a second when it finds a folder changed in the current
# second, which is a cost of syncing at once after a change, not of the
# sync (scenario 4 with mbsync takes a second longer without this).
# Every run is checked: per folder, the Maildir holds as many messages as
# the server, no UID and no Message-ID twice, the server did not grow, and
# the flag changes reached the server.  The exit status is 1 on such a
# correctness failure (or when the fixture cannot start) and 0 otherwise,
# whether or not the targets are met.  Logs are kept on failure.
#
# The server's mail, every client's Maildir and the snapshot live under one
# scratch directory in $TMPDIR: about 600 MB with the big run.

BENCH_PROGRAM=sync_imap
. "$(dirname "$0")/bench-lib.sh"

RUNS=${RUNS:-3}
[ "$RUNS" -ge 3 ] 2>/dev/null || RUNS=3
MS_BENCH_BIG=${MS_BENCH_BIG:-1}
# The main data set: FOLDERS folders of PER_FOLDER messages.
FOLDERS=50
PER_FOLDER=200
# Scenario 3 adds NEW_PER_FOLDER server messages to every folder, scenario
# 4 renames two local files per folder (one Seen, one Flagged).
NEW_PER_FOLDER=2
# Sizes of the one-folder memory runs.
SMALL=10000
BIG=100000
# The memory target, in kB.
RSS_TARGET_KB=32768
# mbsync's VmHWM sampling period (seconds, for sleep).
SAMPLE_PERIOD=0.02

SI=$build/sync_imap
[ -x "$SI" ] || { echo "no $SI: build first" >&2; exit 1; }
why=$(dovecot_missing)
[ -z "$why" ] || { echo "cannot run: $why" >&2; exit 1; }
command -v mbsync > /dev/null 2>&1 || { echo "cannot run: mbsync not found (install isync)" >&2; exit 1; }

W=$T_DIR/work
RESULTS=$T_DIR/results
mkdir -p "$W"
: > "$RESULTS"
BAD=0

say () { printf '%s\n' "$*"; }
# fail WHAT: a correctness failure; the run goes on, the exit status is 1.
fail () {
  BAD=$((BAD + 1))
  say "FAIL: $*"
}

now_us () { echo $(( $(date +%s%N) / 1000 )); }
ms () { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

# record KEY MICROSECONDS: one timing, for the medians.
record () { echo "$1 $2" >> "$RESULTS"; }
# median KEY: the median of KEY's timings, in microseconds (empty if none).
median () {
  awk -v k="$1" '$1 == k { print $2 }' "$RESULTS" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# spread KEY: "min-max ms" of KEY's timings.
spread () {
  awk -v k="$1" '$1 == k { print $2 }' "$RESULTS" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR) printf "%.0f-%.0f", v[1] / 1000, v[NR] / 1000 }'
}

# --- configuration ------------------------------------------------------------

# write_rc FILE ROOT PATTERN: an mbsyncrc with channel "bench" syncing the
# server folders matching PATTERN into the Maildir ROOT (Verbatim).
write_rc () {
  cat > "$1" <<EOF
IMAPAccount bench
Host 127.0.0.1
Port $DOVECOT_IMAPS_PORT
User $DOVECOT_USER
Pass $DOVECOT_PASS
SSLType IMAPS
SystemCertificates no
CertificateFile $DOVECOT_CA

IMAPStore bench-far
Account bench

MaildirStore bench-near
Path $2/
Inbox $2/INBOX
SubFolders Verbatim

Channel bench
Far :bench-far:
Near :bench-near:
Patterns $3
Create Near
SyncState *
EOF
}

# --- the server -----------------------------------------------------------------

SNAPSHOT=$T_DIR/server-snapshot

# server_snapshot: saves the user's mail (with Dovecot's indexes).
server_snapshot () {
  dovecot_stop || return 1
  rm -rf "$SNAPSHOT"
  cp -a "$DOVECOT_HOME" "$SNAPSHOT" || return 1
  dovecot_start
}

# server_restore: puts the snapshot back, with the server stopped, so every
# client starts from the same server state (UIDs, UIDVALIDITY, flags).
server_restore () {
  dovecot_stop || return 1
  rm -rf "$DOVECOT_HOME"
  cp -a "$SNAPSHOT" "$DOVECOT_HOME" || return 1
  dovecot_start
}

# server_counts FOLDER...: "FOLDER MESSAGES" per folder, sorted.
server_counts () {
  local f
  for f in "$@"; do set -- "$@" "STATUS $(dovecot_q "$f") (MESSAGES)"; shift; done
  dovecot_imap "$@" | sed -n 's/^\* STATUS "\{0,1\}\([^" ]*\)"\{0,1\} (MESSAGES \([0-9]*\))$/\1 \2/p' |
    LC_ALL=C sort
}

# server_flag_counts FOLDER...: "SEEN FLAGGED": messages with each flag.
server_flag_counts () {
  local f
  for f in "$@"; do
    set -- "$@" "EXAMINE $(dovecot_q "$f")" "UID SEARCH SEEN" "UID SEARCH FLAGGED"
    shift
  done
  dovecot_imap "$@" | awk '
    /^\* SEARCH/ { n++; c = NF - 2; if (n % 2) seen += c; else flagged += c }
    END { printf "%d %d\n", seen, flagged }'
}

# expected_counts N FOLDER...: "FOLDER N" per folder, sorted.
expected_counts () {
  local n=$1
  shift
  printf "%s $n\n" "$@" | LC_ALL=C sort
}

# --- the Maildir side --------------------------------------------------------------

# local_counts ROOT: "FOLDER MESSAGES" per folder (top-level folders only,
# which is all the benchmark makes), sorted; a folder where a ,U= value or
# a Message-ID appears twice, or a message has no ,U=, is printed with
# "DUPLICATES" or "NO-UID" instead of its count.
local_counts () {
  (cd "$1" && find . -mindepth 3 -maxdepth 3 -type f \( -path './*/cur/*' -o -path './*/new/*' \) \
     -exec grep -i -m 1 -H '^message-id:' {} +) | awk '
    {
      path = $0
      sub(/:[Mm][Ee][Ss][Ss][Aa][Gg][Ee]-[Ii][Dd]:.*/, "", path)
      id = substr($0, length(path) + 2)
      split(path, p, "/")
      box = p[2]
      n[box]++
      if (match(p[4], /,U=[0-9]+/)) {
        u = substr(p[4], RSTART + 3, RLENGTH - 3)
        if (seen_uid[box, u]++) dup[box] = 1
      } else nouid[box] = 1
      if (seen_id[box, tolower(id)]++) dup[box] = 1
    }
    END {
      for (b in n) print b, (b in dup) ? "DUPLICATES" : (b in nouid) ? "NO-UID" : n[b]
    }' | LC_ALL=C sort
}

# local_messages ROOT: total files in ROOT's folders (cur/ and new/).
local_messages () {
  find "$1" -mindepth 3 -maxdepth 3 -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l
}

# local_flag_counts ROOT: "SEEN FLAGGED": files with S, with F in their info.
local_flag_counts () {
  find "$1" -mindepth 3 -maxdepth 3 -type f \( -path '*/cur/*' -o -path '*/new/*' \) |
    awk -F/ '{ i = index($NF, ":2,"); if (!i) next; f = substr($NF, i + 3)
               if (f ~ /S/) s++; if (f ~ /F/) fl++ }
             END { printf "%d %d\n", s, fl }'
}

# flag_local ROOT: in every folder, the two messages with the lowest ,U=
# get Seen and Flagged added to their file names (in cur/, as an MUA does).
flag_local () {
  local root=$1 box first second
  for box in $NAMES; do
    set -- $(find "$root/$box/cur" "$root/$box/new" -maxdepth 1 -type f -name '*,U=*' |
      awk '{ f = $0; sub(/.*,U=/, "", f); sub(/[^0-9].*/, "", f); print f, $0 }' |
      sort -n | head -n 2 | cut -d' ' -f 2-)
    [ $# -eq 2 ] || { fail "flag_local: $box has fewer than two messages"; return 1; }
    first=$1 second=$2
    mark "$root/$box" "$first" S || return 1
    mark "$root/$box" "$second" F || return 1
  done
}

# mark FOLDER FILE LETTER: adds flag LETTER to FILE (flags kept sorted) and
# moves it to FOLDER/cur.
mark () {
  local base info flags name
  base=${2##*/}
  case $base in
    *:2,*) info=${base##*:2,}; name=${base%:2,*} ;;
    *) info=; name=$base ;;
  esac
  flags=$(printf '%s%s\n' "$info" "$3" | fold -w 1 | LC_ALL=C sort -u | tr -d '\n')
  mv "$2" "$1/cur/$name:2,$flags"
}

# --- checks ---------------------------------------------------------------------------

# check_sync WHAT ROOT PER_FOLDER: the Maildir matches the server, and the
# server has PER_FOLDER messages in every folder (nothing was uploaded
# twice).
check_sync () {
  local want server mine
  want=$(expected_counts "$3" $NAMES)
  server=$(server_counts $NAMES)
  mine=$(local_counts "$2")
  if [ "$server" != "$want" ]; then
    fail "$1: server folders are not $3 messages each"
    printf '%s\n' "$server" | grep -v " $3\$" | head -n 5 | sed 's/^/  server: /'
    return 1
  fi
  if [ "$mine" != "$want" ]; then
    fail "$1: Maildir does not match the server ($3 per folder)"
    printf '%s\n' "$mine" | grep -v " $3\$" | head -n 5 | sed 's/^/  local: /'
    return 1
  fi
}

# check_flags WHAT ROOT: the flag changes of scenario 4 are on both sides.
check_flags () {
  local want server mine
  want="$FOLDERS $FOLDERS"
  server=$(server_flag_counts $NAMES)
  mine=$(local_flag_counts "$2")
  [ "$server" = "$want" ] || fail "$1: server has $server Seen/Flagged messages, want $want"
  [ "$mine" = "$want" ] || fail "$1: Maildir has $mine Seen/Flagged messages, want $want"
}

# --- the clients ------------------------------------------------------------------------

# settle ROOT: called before every timed step, for every client alike.
# It writes back what earlier steps left dirty (10,000 fresh messages are a
# lot of it), so that the step's fsyncs do not wait for someone else's data;
# and it waits until the clock has left the second in which a cur/ or new/
# directory under ROOT last changed.  mbsync sleeps for a second when it
# finds one changed in the current second (it could not tell a later change
# in the same second by the mtime), and the scenarios measure a sync after
# the changes, not that race.
settle () {
  sync
  wait_until 5 clock_past_changes "$1" || say "note: $1 has directories changed in the future"
}

# clock_past_changes ROOT: the current second is later than the mtime of
# every cur/ and new/ directory of ROOT's folders.
clock_past_changes () {
  local newest
  newest=$(find "$1" -mindepth 2 -maxdepth 2 -type d \( -name cur -o -name new \) -printf '%T@\n' |
    sort -n | tail -n 1 | cut -d. -f1)
  [ -z "$newest" ] || [ "$(date +%s)" -gt "$newest" ]
}

# timed KEY ROOT LOG CMD...: runs CMD (a client syncing into ROOT) with its
# output in LOG and records its wall time under KEY; fails (a correctness
# failure) when it does not exit 0.
timed () {
  local key=$1 log=$3 t0 t1 rc
  settle "$2"
  shift 3
  t0=$(now_us)
  "$@" > "$log" 2>&1
  rc=$?
  t1=$(now_us)
  record "$key" $((t1 - t0))
  say "  $key: $(ms $((t1 - t0))) ms"
  if [ "$rc" -ne 0 ]; then
    fail "$key: '$*' exited $rc"
    sed 's/^/  | /' "$log" | tail -n 5
    return 1
  fi
}

# The resident sync_imap: requests on fd 3, answers on fd 4.
RES_PID=
RES_ANSWER=

# res_start RC: starts `sync_imap --serve bench` and reads its greeting.
res_start () {
  rm -f "$W/res.in" "$W/res.out"
  mkfifo "$W/res.in" "$W/res.out" || return 1
  "$SI" -c "$1" --serve bench < "$W/res.in" > "$W/res.out" 2> "$W/res.err" &
  RES_PID=$!
  exec 3> "$W/res.in" 4< "$W/res.out"
  local greeting
  read -r greeting <&4
  case $greeting in
    '* MSWATCH-SYNCER 1 '*) ;;
    *) fail "resident sync_imap greeted with '$greeting'"; res_stop; return 1 ;;
  esac
}

# res_stop: closes its input (which ends it) and reaps it.
res_stop () {
  [ -n "$RES_PID" ] || return 0
  exec 3>&-
  wait "$RES_PID"
  exec 4<&-
  RES_PID=
}
at_exit res_stop

# res_send TEXT: writes TEXT to the resident, if it still runs (writing to
# a pipe nobody reads would kill this script with SIGPIPE).
res_send () {
  if [ -z "$RES_PID" ] || ! dovecot_pid_alive "$RES_PID"; then
    fail "resident sync_imap is gone"
    tail -n 5 "$W/res.err" | sed 's/^/  | /'
    return 1
  fi
  printf '%s' "$1" >&3
}

# res_answer TAG: reads lines until TAG's answer (PROGRESS lines skipped);
# sets RES_ANSWER to what follows the tag.
res_answer () {
  local tag rest
  while read -r tag rest <&4; do
    [ "$tag" = "$1" ] || continue
    case $rest in PROGRESS*) continue ;; esac
    RES_ANSWER=$rest
    return 0
  done
  RES_ANSWER="(sync_imap exited)"
  return 1
}

# res_sync_all KEY ROOT: sends one "SYNC NAME" per folder at once and reads
# the answers; records the time from the first request to the last answer.
# Every answer must be OK.  Sets RES_CHANGES to the sum of the answers' IN
# and OUT counts.
res_sync_all () {
  local key=$1 root=$2 i=0 t0 t1 box failed=0 reqs=""
  for box in $NAMES; do
    i=$((i + 1))
    reqs="${reqs}r$i SYNC $box
"
  done
  RES_CHANGES=0
  res_send "" || return 1
  settle "$root"
  t0=$(now_us)
  printf '%s' "$reqs" >&3
  # Answers come in any order (docs/protocol.md): read until each of the
  # $i requests has its final line.
  local n=$i tag rest
  i=0
  while [ $i -lt "$n" ]; do
    read -r tag rest <&4 || { failed=1; fail "$key: sync_imap exited"; break; }
    case $tag in r[0-9]*) ;; *) continue ;; esac
    case $rest in
      PROGRESS*) continue ;;
      OK\ *) set -- $rest; RES_CHANGES=$((RES_CHANGES + $2 + $3)) ;;
      *) failed=1; fail "$key: $tag answered '$rest'" ;;
    esac
    i=$((i + 1))
  done
  t1=$(now_us)
  record "$key" $((t1 - t0))
  say "  $key: $(ms $((t1 - t0))) ms ($RES_CHANGES changes)"
  [ "$failed" -eq 0 ] || { tail -n 5 "$W/res.err" | sed 's/^/  | /'; return 1; }
}

# res_idle: waits until the resident has done what it does unasked after
# its answers (a sync once more of a mailbox a sync changed, a second look
# at one found unchanged; both start within a second), so that the next
# scenario's changes are found by its requests, not before: a second, then
# until it used no CPU for 300 ms.
res_idle () {
  local before after
  sleep 1
  after=$(res_cpu)
  while :; do
    before=$after
    sleep 0.3
    after=$(res_cpu)
    [ "$after" = "$before" ] && break
  done
}

# res_cpu: the resident's user + system time in clock ticks.
res_cpu () {
  awk '{ print $14 + $15 }' "/proc/$RES_PID/stat" 2>/dev/null
}

# vmhwm PID: the process's peak RSS in kB (nothing once it has exited).
vmhwm () {
  awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status" 2>/dev/null
}

# --- scenarios 1-4 ---------------------------------------------------------------

# add_new_mail: NEW_PER_FOLDER new messages in every folder, as delivered
# mail.  The seeder's counter is reset so each client gets the same bytes.
add_new_mail () {
  DOVECOT_SEED_RUNS=1000
  dovecot_seed "$NAMES" "$NEW_PER_FOLDER" || fail "could not add the new server messages"
}

# series_mbsync RUN: scenarios 1-4 with one-shot mbsync.
series_mbsync () {
  local root=$W/mb rc=$W/mb.rc
  rm -rf "$root" && mkdir -p "$root"
  write_rc "$rc" "$root" '*'
  server_restore || { fail "server restore"; return 1; }
  timed mbsync.1 "$root" "$W/mb-1.log" mbsync -q -c "$rc" bench
  check_sync "mbsync initial sync, run $1" "$root" $PER_FOLDER
  timed mbsync.2 "$root" "$W/mb-2.log" mbsync -q -c "$rc" bench
  check_sync "mbsync no-change resync, run $1" "$root" $PER_FOLDER
  add_new_mail
  timed mbsync.3 "$root" "$W/mb-3.log" mbsync -q -c "$rc" bench
  check_sync "mbsync after new server mail, run $1" "$root" $((PER_FOLDER + NEW_PER_FOLDER))
  flag_local "$root"
  timed mbsync.4 "$root" "$W/mb-4.log" mbsync -q -c "$rc" bench
  check_sync "mbsync after local flag changes, run $1" "$root" $((PER_FOLDER + NEW_PER_FOLDER))
  check_flags "mbsync after local flag changes, run $1" "$root"
}

# series_oneshot RUN: the same with one-shot sync_imap.
series_oneshot () {
  local root=$W/one rc=$W/one.rc
  rm -rf "$root" && mkdir -p "$root"
  write_rc "$rc" "$root" '*'
  server_restore || { fail "server restore"; return 1; }
  timed oneshot.1 "$root" "$W/one-1.log" "$SI" -q -c "$rc" bench
  check_sync "sync_imap initial sync, run $1" "$root" $PER_FOLDER
  timed oneshot.2 "$root" "$W/one-2.log" "$SI" -q -c "$rc" bench
  check_sync "sync_imap no-change resync, run $1" "$root" $PER_FOLDER
  add_new_mail
  timed oneshot.3 "$root" "$W/one-3.log" "$SI" -q -c "$rc" bench
  check_sync "sync_imap after new server mail, run $1" "$root" $((PER_FOLDER + NEW_PER_FOLDER))
  flag_local "$root"
  timed oneshot.4 "$root" "$W/one-4.log" "$SI" -q -c "$rc" bench
  check_sync "sync_imap after local flag changes, run $1" "$root" $((PER_FOLDER + NEW_PER_FOLDER))
  check_flags "sync_imap after local flag changes, run $1" "$root"
}

# series_resident RUN: the resident sync_imap; its initial sync (one
# "SYNC" for the whole channel) is timed for reference only.
series_resident () {
  local root=$W/res rc=$W/res.rc t0 t1
  rm -rf "$root" && mkdir -p "$root"
  write_rc "$rc" "$root" '*'
  server_restore || { fail "server restore"; return 1; }
  res_start "$rc" || return 1
  res_send "" || { res_stop; return 1; }
  settle "$root"
  t0=$(now_us)
  printf 'i SYNC\n' >&3
  res_answer i
  t1=$(now_us)
  record resident.1 $((t1 - t0))
  say "  resident.1: $(ms $((t1 - t0))) ms"
  case $RES_ANSWER in
    OK\ *) ;;
    *) fail "resident initial sync answered '$RES_ANSWER'"; res_stop; return 1 ;;
  esac
  check_sync "resident initial sync, run $1" "$root" $PER_FOLDER

  res_idle
  res_sync_all resident.2 "$root"
  [ "$RES_CHANGES" -eq 0 ] || fail "resident no-change resync reported $RES_CHANGES changes"
  check_sync "resident no-change resync, run $1" "$root" $PER_FOLDER
  res_idle
  add_new_mail
  res_sync_all resident.3 "$root"
  [ "$RES_CHANGES" -eq $((FOLDERS * NEW_PER_FOLDER)) ] ||
    fail "resident sync of new mail reported $RES_CHANGES changes"
  check_sync "resident after new server mail, run $1" "$root" $((PER_FOLDER + NEW_PER_FOLDER))
  res_idle
  flag_local "$root"
  res_sync_all resident.4 "$root"
  [ "$RES_CHANGES" -eq $((2 * FOLDERS)) ] ||
    fail "resident sync of local flag changes reported $RES_CHANGES changes"
  check_sync "resident after local flag changes, run $1" "$root" $((PER_FOLDER + NEW_PER_FOLDER))
  check_flags "resident after local flag changes, run $1" "$root"
  res_stop
}

# --- scenario 5 ----------------------------------------------------------------------

# rss_run SIZE: the one-folder initial syncs of folder bigSIZE.
rss_run () {
  local size=$1 box="big$1" root rc pid hwm v t0 t1 names
  # sync_imap, resident: exact VmHWM after its answer.
  root=$W/rss-si-$size rc=$W/rss-si-$size.rc
  rm -rf "$root" && mkdir -p "$root"
  write_rc "$rc" "$root" "$box"
  res_start "$rc" || return 1
  res_send "" || { res_stop; return 1; }
  settle "$root"
  t0=$(now_us)
  printf 'b SYNC\n' >&3
  res_answer b
  t1=$(now_us)
  hwm=$(vmhwm "$RES_PID")
  case $RES_ANSWER in
    OK\ *) ;;
    *) fail "sync_imap initial sync of $box answered '$RES_ANSWER'" ;;
  esac
  res_stop
  say "  sync_imap $box: $(ms $((t1 - t0))) ms, VmHWM ${hwm} kB"
  echo "rss.si.$size $hwm $((t1 - t0))" >> "$RESULTS"
  names=$NAMES NAMES=$box
  check_sync "sync_imap initial sync of $box" "$root" "$size"
  NAMES=$names
  rm -rf "$root"

  # mbsync: VmHWM sampled while it runs.
  root=$W/rss-mb-$size rc=$W/rss-mb-$size.rc
  rm -rf "$root" && mkdir -p "$root"
  write_rc "$rc" "$root" "$box"
  settle "$root"
  t0=$(now_us)
  mbsync -q -c "$rc" bench > "$W/rss-mb-$size.log" 2>&1 &
  pid=$!
  hwm=0
  while v=$(vmhwm "$pid") && [ -n "$v" ]; do
    hwm=$v
    sleep "$SAMPLE_PERIOD"
  done
  wait "$pid" || fail "mbsync initial sync of $box exited $?"
  t1=$(now_us)
  say "  mbsync $box: $(ms $((t1 - t0))) ms, VmHWM >= ${hwm} kB (sampled)"
  echo "rss.mb.$size $hwm $((t1 - t0))" >> "$RESULTS"
  NAMES=$box
  check_sync "mbsync initial sync of $box" "$root" "$size"
  NAMES=$names
  rm -rf "$root"
}

# --- report ---------------------------------------------------------------------------

# row LABEL MB_KEY SI_KEY TARGET: one line of the table.
row () {
  local mb si ratio verdict
  mb=$(median "$2")
  si=$(median "$3")
  if [ -z "$mb" ] || [ -z "$si" ]; then
    printf '%-46s %12s %12s %7s %7s  %s\n' "$1" - - - "$4" "no data"
    return
  fi
  ratio=$(awk -v a="$si" -v b="$mb" 'BEGIN { printf "%.3f", a / b }')
  if [ "$4" = - ]; then
    verdict=""
  elif awk -v r="$ratio" -v t="$4" 'BEGIN { exit !(r <= t) }'; then
    verdict=met
  else
    verdict=MISSED
  fi
  printf '%-46s %9s ms %9s ms %7s %7s  %s\n' "$1" "$(ms "$mb")" "$(ms "$si")" "$ratio" "$4" "$verdict"
  printf '%-46s %12s %12s\n' "    (min-max ms over $RUNS runs)" "$(spread "$2")" "$(spread "$3")"
}

# rss_row SIZE: one line of the memory table.
rss_row () {
  local si mb verdict
  si=$(awk -v k="rss.si.$1" '$1 == k { print $2, $3 }' "$RESULTS")
  mb=$(awk -v k="rss.mb.$1" '$1 == k { print $2, $3 }' "$RESULTS")
  [ -n "$si" ] || return 0
  set -- "$1" $si ${mb:-- 0}
  if [ "$2" -le "$RSS_TARGET_KB" ]; then verdict=met; else verdict=MISSED; fi
  printf '%-20s %10s kB %8s ms   %10s kB %8s ms   %s\n' "$1 messages" "$2" "$(ms "$3" | cut -d. -f1)" \
    ">=$4" "$(ms "$5" | cut -d. -f1)" "$verdict"
}

# --- main ---------------------------------------------------------------------------------

say "sync_imap benchmark: $SI ($("$SI" --version 2>&1 | head -n 1))"
say "against $(mbsync --version 2>&1 | head -n 1); $RUNS runs each; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
dovecot_setup || { echo "the Dovecot fixture did not start" >&2; exit 1; }
NAMES=$(dovecot_seed_names "$FOLDERS" | tr '\n' ' ')

say "seeding $((FOLDERS * PER_FOLDER)) messages in $FOLDERS folders..."
DOVECOT_SEED_RUNS=0
dovecot_seed "$NAMES" "$PER_FOLDER" || { echo "seeding failed" >&2; exit 1; }
server_snapshot || { echo "could not snapshot the server's mail" >&2; exit 1; }

run=1
while [ "$run" -le "$RUNS" ]; do
  say "run $run of $RUNS"
  series_mbsync "$run"
  series_oneshot "$run"
  series_resident "$run"
  run=$((run + 1))
done

say "memory: initial sync of one folder"
dovecot_stop
rm -rf "${DOVECOT_HOME:?}"/* "$SNAPSHOT" "$W/mb" "$W/one" "$W/res"
dovecot_start || { echo "Dovecot did not restart" >&2; exit 1; }
sizes=$SMALL
[ "$MS_BENCH_BIG" = 0 ] || sizes="$SMALL $BIG"
for size in $sizes; do
  say "seeding $size messages in big$size..."
  dovecot_seed "big$size" "$size" || { fail "seeding big$size"; continue; }
  rss_run "$size"
done

say ""
say "== results: median wall time ($RUNS runs); ratio = sync_imap / mbsync"
printf '%-46s %12s %12s %7s %7s\n' scenario mbsync sync_imap ratio target
row "1 initial sync, 10k msgs / 50 folders" mbsync.1 oneshot.1 0.7
row "  resident's initial SYNC (reference)" mbsync.1 resident.1 -
row "2 no-change resync, resident 50 x SYNC NAME" mbsync.2 resident.2 0.1
row "  one-shot sync_imap (reference)" mbsync.2 oneshot.2 -
row "3 100 new server msgs (2/folder), resident" mbsync.3 resident.3 0.5
row "  one-shot sync_imap (reference)" mbsync.3 oneshot.3 -
row "4 100 local flag changes (2/folder), resident" mbsync.4 resident.4 0.5
row "  one-shot sync_imap (reference)" mbsync.4 oneshot.4 -
say ""
say "== 5 peak RSS (VmHWM), initial sync of one folder; target <= $((RSS_TARGET_KB / 1024)) MB, flat"
printf '%-20s %13s %11s   %13s %11s\n' size sync_imap time mbsync time
for size in $sizes; do rss_row "$size"; done
say ""
say "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$BAD" -ne 0 ]; then
  say "$BAD correctness failure(s): see FAIL lines above"
  exit 1
fi
say "all runs correct"
