# coord-lib.sh — shared setup for the coordinator (mswatch) tests.
# Source it after tests/lib/test-lib.sh.
#
# Every test runs mswatch on a config of its own with two stores, a and b,
# whose watchers are fake-watcher.sh reading names from the FIFOs $FIFO_A and
# $FIFO_B, and whose sync program is fake-sync.sh logging into $SYNC_DIR.
# mswatch's stdout and stderr go to $T_DIR/out and $T_DIR/err; each watcher
# logs its starts and SIGTERMs to $T_DIR/w-a.log and $T_DIR/w-b.log.
#
# The test shell holds both FIFOs open read-write (fds 7 and 8), so feeding a
# name never blocks, even while a watcher is being restarted: the name waits
# in the FIFO for the next watcher.  mswatch itself is started without them.

HELPERS="$top_srcdir/tests/helpers"
FAKE_SYNC="$HELPERS/fake-sync.sh"
FAKE_WATCHER="$HELPERS/fake-watcher.sh"
SYNC_DIR="$T_DIR/sync"
FIFO_A="$T_DIR/fifo-a"
FIFO_B="$T_DIR/fifo-b"
RC="$T_DIR/rc"
MS_PID=
MS_STATUS=

mkdir -p "$SYNC_DIR"
mkfifo "$FIFO_A" "$FIFO_B" || skip_all "cannot create FIFOs"
exec 7<>"$FIFO_A" 8<>"$FIFO_B"
command -v mswatch >/dev/null 2>&1 || skip_all "mswatch is not built"
[ -d /proc/self/fd ] || skip_all "no /proc"

# esc WORD...: each word escaped for an mswatchrc (a backslash before every
# character that is not plainly safe), joined by spaces.
esc () {
  local w out=
  for w in "$@"; do
    out="$out $(printf '%s' "$w" | sed 's/[^A-Za-z0-9/._=+-]/\\&/g')"
  done
  printf '%s' "${out# }"
}

# The watch line of store S; WATCH_A / WATCH_B add fake-watcher options
# (words without spaces).
watch_words () {
  local s=$1 fifo opts
  if [ "$s" = a ]; then fifo=$FIFO_A; opts=${WATCH_A:-}; else fifo=$FIFO_B; opts=${WATCH_B:-}; fi
  # shellcheck disable=SC2086
  esc "$FAKE_WATCHER" "--log=$T_DIR/w-$s.log" $opts "$fifo"
}

# write_rc: a config with the fake sync and watchers, plus the lines on stdin.
write_rc () {
  {
    echo "sync $(esc "$FAKE_SYNC" "$SYNC_DIR")"
    echo "store a { watch $(watch_words a) }"
    echo "store b { watch $(watch_words b) }"
    cat
  } >"$RC"
}

# start_ms [OPTION...]: starts mswatch in the background on $RC.  SIGINT is
# reset to its default (a background job of a script inherits it ignored).
# MS_WRAP, when set, is a command (words) that runs mswatch in the same
# process, such as "unshare -n".
start_ms () {
  : >"$T_DIR/out"
  : >"$T_DIR/err"
  # shellcheck disable=SC2086
  env --default-signal=INT ${MS_WRAP:-} mswatch -c "$RC" "$@" >"$T_DIR/out" 2>"$T_DIR/err" 7>&- 8>&- </dev/null &
  MS_PID=$!
  MS_STATUS=
}

# fresh_run: forgets the sync and watcher logs of a previous run, after
# killing whatever a deliberately killed mswatch left behind (a watcher left
# reading a FIFO would steal the next run's names).
fresh_run () {
  coord_cleanup
  rm -f "$SYNC_DIR"/* "$T_DIR"/w-*.log
}

ms_alive () { [ -n "$MS_PID" ] && kill -0 "$MS_PID" 2>/dev/null; }
ms_dead () { ! ms_alive; }

# wait_ms_exit SECONDS: waits for mswatch to end; its status in MS_STATUS.
wait_ms_exit () {
  wait_until "$1" ms_dead || return 1
  wait "$MS_PID" 2>/dev/null
  MS_STATUS=$?
  return 0
}

# stop_ms: SIGTERM, and SIGKILL if it is not gone within 10 s.  mswatch
# must not leave a watcher behind: one still alive is a failed test.
stop_ms () {
  local p
  ms_alive || return 0
  kill -TERM "$MS_PID"
  if ! wait_ms_exit 10; then
    not_ok "mswatch ended within 10 s of SIGTERM"
    kill -KILL "$MS_PID" 2>/dev/null
    wait_ms_exit 2
  fi
  for p in $(grep -h '^start ' "$T_DIR"/w-*.log 2>/dev/null | cut -d' ' -f3); do
    if pid_alive "$p"; then
      not_ok "no watcher outlives mswatch"
      diag "watcher $p is still running: $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")"
      kill -KILL "$p" 2>/dev/null
    fi
  done
}

feed_a () { printf '%s\n' "$@" >&7; }
feed_b () { printf '%s\n' "$@" >&8; }

# The sync log: "MS PID [ARG]..." per run.
nsyncs () { if [ -f "$SYNC_DIR/log" ]; then wc -l <"$SYNC_DIR/log"; else echo 0; fi; }
sync_line () { sed -n "${1}p" "$SYNC_DIR/log" 2>/dev/null; }
sync_args () { sync_line "$1" | cut -d' ' -f3-; }
# (0 when there is no such run, so that arithmetic on it fails a check
# instead of the script)
sync_ms () { local v; v=$(sync_line "$1" | cut -d' ' -f1); echo "${v:-0}"; }
sync_pid () { sync_line "$1" | cut -d' ' -f2; }
syncs_at_least () { [ "$(nsyncs)" -ge "$1" ]; }
# wait_syncs N SECONDS: until at least N runs have started.
wait_syncs () { wait_until "$2" syncs_at_least "$1"; }
ndone () { if [ -f "$SYNC_DIR/done" ]; then wc -l <"$SYNC_DIR/done"; else echo 0; fi; }
done_at_least () { [ "$(ndone)" -ge "$1" ]; }
# startup_done: both startup syncs (INBOX, then all mailboxes) have ended.
startup_done () { done_at_least 2; }

out_has () { file_has "$T_DIR/out" "$1"; }
err_has () { file_has "$T_DIR/err" "$1"; }
wait_out () { wait_until "$2" out_has "$1"; }
wait_err () { wait_until "$2" err_has "$1"; }

# Watcher logs: "start MS PID" and "term MS PID" lines.
wlog () { echo "$T_DIR/w-$1.log"; }
nstarts () { if [ -f "$(wlog "$1")" ]; then grep -c '^start ' "$(wlog "$1")"; else echo 0; fi; }
watcher_pid () { grep '^start ' "$(wlog "$1")" 2>/dev/null | tail -n 1 | cut -d' ' -f3; }
pid_alive () { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
pid_dead () { ! pid_alive "$1"; }

# With timestamps masked, so that output can be compared exactly.
masked_out () { sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}/TIME/g' "$T_DIR/out"; }
masked_err () { sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}/TIME/g' "$T_DIR/err"; }

# between DESC GOT LOW HIGH: a number within [LOW, HIGH].
between () {
  if [ -n "$2" ] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then ok "$1"; else
    not_ok "$1"; diag "got: '$2', want: $3..$4"
  fi
}

# Kills everything a test may have left behind: mswatch, watchers (from
# their logs), orphans (from *.pid files) and syncs (from the sync log).
# A pid is killed only while its command line is still one of ours.
coord_cleanup () {
  local p
  if [ -n "$MS_PID" ] && grep -q mswatch "/proc/$MS_PID/cmdline" 2>/dev/null; then
    kill -KILL "$MS_PID" 2>/dev/null
  fi
  for p in $(cat "$T_DIR"/w-*.log 2>/dev/null | cut -d' ' -f3) \
           $(cat "$T_DIR"/*.pid "$SYNC_DIR/work.pids" 2>/dev/null) \
           $(cut -d' ' -f2 "$SYNC_DIR/log" 2>/dev/null); do
    if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -qE 'fake-|sleep'; then
      kill -KILL "$p" 2>/dev/null
    fi
  done
  return 0
}
at_exit coord_cleanup
