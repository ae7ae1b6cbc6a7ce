#!/bin/sh
# inputkill (spec §9.1, §12 item 31): the program runs with fd 0 closed
# until inputkill's stdin reaches EOF, then gets SIGTERM (and SIGKILL after
# the grace period); its own exit status is passed on when it ends first.
# The last part runs `inputkill watch_maildirs` through a real sshd and
# checks that killing the ssh client leaves nothing behind on the server.
#
# A stdin that never reaches EOF is a FIFO opened read-write (`<> FIFO`):
# the process holds a writer itself.  A stdin we close at a chosen moment is
# a FIFO whose only writer is fd 4 of this shell.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/lib/sshd.sh"

IK=$(sshd_bin inputkill)
WM=$(sshd_bin watch_maildirs)
HELD=$T_DIR/held
mkfifo "$HELD"

plan 49

# run_ik ARGS...: runs inputkill; sets RC, OUT and ERR (file contents).
run_ik () {
  "$IK" "$@" > "$T_DIR/out" 2> "$T_DIR/err"
  RC=$?
  OUT=$(cat "$T_DIR/out")
  ERR=$(cat "$T_DIR/err")
}

# between DESC VALUE LOW HIGH
between () {
  if [ "$2" -ge "$3" ] && [ "$2" -le "$4" ]; then ok "$1"; else
    not_ok "$1"; diag "got $2, want $3..$4"
  fi
}

# A program that logs "up", and "TERM" when SIGTERM arrives; $0 is the log,
# and its pid goes to $0.pid.
TERM_LOGGER='trap "echo TERM >> \"$0\"; exit 0" TERM; echo $$ > "$0.pid"; echo up >> "$0"; while :; do sleep 0.1; done'
# One that ignores SIGTERM and writes its pid to $0.
TERM_IGNORER='trap "" TERM; echo $$ > "$0"; while :; do sleep 0.1; done'

# Should inputkill fail to stop a program, the test still must not leave it
# running: every program above is killed at the end if it is still ours (its
# command line names $T_DIR).
kill_leftovers () {
  local f p
  for f in "$T_DIR"/*.pid; do
    p=$(cat "$f" 2>/dev/null) || continue
    [ -n "$p" ] && grep -qF "$T_DIR" "/proc/$p/cmdline" 2>/dev/null && kill -KILL "$p"
  done
}
at_exit kill_leftovers

# start_closable NAME ARGS...: starts inputkill ARGS in the background with
# stdin from FIFO $T_DIR/NAME.in whose writer is our fd 4; sets IK_PID.
# SIGINT is reset to its default: a script's background job inherits it
# ignored, and inputkill leaves an ignored signal alone.
start_closable () {
  local name=$1; shift
  mkfifo "$T_DIR/$name.in"
  env --default-signal=INT "$IK" "$@" < "$T_DIR/$name.in" > "$T_DIR/$name.out" 2> "$T_DIR/$name.err" &
  IK_PID=$!
  exec 4> "$T_DIR/$name.in"
  at_exit "kill -KILL $IK_PID"
}

alive () { kill -0 "$1" 2>/dev/null; }
gone () { ! kill -0 "$1" 2>/dev/null; }

# --- command line -------------------------------------------------------
run_ik < /dev/null
is "no PROGRAM: exit 1" "$RC" 1
is "no PROGRAM: message" "$ERR" "No child command arguments. Use -? or --help for help."
run_ik -- < /dev/null
is "only --: the same message" "$ERR" "No child command arguments. Use -? or --help for help."

run_ik -V < /dev/null
is "-V exits 1, as in 1.2" "$RC" 1
is "-V names the program" "$(echo "$OUT" | sed -n 1p)" inputkill
check "-V names the package version" sh -c 'echo "$1" | sed -n 2p | grep -Eq "^mswatch-ng [0-9]"' sh "$OUT"

run_ik --help < /dev/null
is "--help exits 0" "$RC" 0
check "--help shows the usage" sh -c 'echo "$1" | grep -Fq "inputkill [OPTION" && echo "$1" | grep -Fq "] <PROGRAM> [ARGUMENT...]"' sh "$OUT"
check "--help shows the summary" sh -c 'echo "$1" | grep -Fq " - run PROGRAM until stdin is closed"' sh "$OUT"
check "--help documents --grace" sh -c 'echo "$1" | grep -Fq -- "--grace=SECONDS"' sh "$OUT"

run_ik -x true < /dev/null
is "an unknown option of its own: exit 1, no abort" "$RC" 1
check "an unknown option of its own: message" sh -c 'echo "$1" | grep -Fq "Unknown option -x"' sh "$ERR"
run_ik --grace=-1 true < /dev/null
is "--grace below 0: exit 1" "$RC" 1

run_ik printf '%s|' -x --help -V <> "$HELD"
is "options after PROGRAM belong to PROGRAM" "$OUT" "-x|--help|-V|"
is "... and its exit status is passed on" "$RC" 0
run_ik -- printf '%s|' -x -- <> "$HELD"
is "-- ends inputkill's options; a later -- is PROGRAM's" "$OUT" "-x|--|"

run_ik /nonexistent/prog < /dev/null
is "exec failure: exit 1" "$RC" 1
is "exec failure: message" "$ERR" 'inputkill: Unable to execute "/nonexistent/prog": No such file or directory'

# --- the program's exit -------------------------------------------------
run_ik sh -c 'exit 3' <> "$HELD"
is "PROGRAM exiting 3 first: exit 3" "$RC" 3
run_ik sh -c 'kill -KILL $$' <> "$HELD"
is "PROGRAM killed by a signal: exit 1" "$RC" 1

# --- what the program is given -------------------------------------------
sh -c 'ls /proc/$$/fd' <> "$HELD" > "$T_DIR/fds-plain"
run_ik sh -c 'ls /proc/$$/fd' <> "$HELD"
check "PROGRAM sees fd 0 closed (it is open without inputkill)" \
  sh -c '! grep -qx 0 "$1" && grep -qx 0 "$2"' sh "$T_DIR/out" "$T_DIR/fds-plain"
is "PROGRAM gets no descriptor of inputkill's (close-on-exec)" \
  "$(echo "$OUT" | tr '\n' ' ')" "$(grep -vx 0 "$T_DIR/fds-plain" | tr '\n' ' ')"
# The program reads its own status: a shell's, read by a child of it, may
# show the mask the shell sets for a moment around fork.
is "PROGRAM gets our signal dispositions and mask (SIGPIPE not left ignored)" \
  "$("$IK" grep -E '^Sig(Ign|Blk):' /proc/self/status <> "$HELD")" \
  "$(grep -E '^Sig(Ign|Blk):' /proc/self/status <> "$HELD")"

# --- stdin EOF: SIGTERM --------------------------------------------------
start_closable eof sh -c "$TERM_LOGGER" "$T_DIR/eof.log"
wait_until 10 file_has "$T_DIR/eof.log" up
echo "input is read and discarded" >&4
check "PROGRAM keeps running while stdin is open" sh -c '! grep -q TERM "$1" && kill -0 "$2"' sh "$T_DIR/eof.log" "$IK_PID"
is "inputkill gives up its stdout to PROGRAM" "$(readlink "/proc/$IK_PID/fd/1")" /dev/null
exec 4>&-
wait_until 10 file_has "$T_DIR/eof.log" TERM
check "stdin EOF: PROGRAM gets SIGTERM" file_has "$T_DIR/eof.log" TERM
wait "$IK_PID"
is "stdin EOF: exit 0" "$?" 0
is "nothing was written to PROGRAM's stdout" "$(cat "$T_DIR/eof.out")" ""

# The spec's own form: (sleep 1) | inputkill -- prog.
t0=$(now_ms)
(sleep 1) | "$IK" -- sh -c "$TERM_LOGGER" "$T_DIR/pipe.log"
rc=$?
elapsed=$(( $(now_ms) - t0 ))
is "(sleep 1) | inputkill -- prog: exit 0" "$rc" 0
check "(sleep 1) | inputkill -- prog: prog got SIGTERM" file_has "$T_DIR/pipe.log" TERM
between "(sleep 1) | inputkill -- prog: it ended after the input did (ms)" "$elapsed" 900 4000

# --- SIGKILL after the grace period --------------------------------------
start_closable grace --grace=1 sh -c "$TERM_IGNORER" "$T_DIR/grace.pid"
wait_until 10 test -s "$T_DIR/grace.pid"
t0=$(now_ms)
exec 4>&-
wait "$IK_PID"
rc=$?
elapsed=$(( $(now_ms) - t0 ))
is "PROGRAM ignoring SIGTERM: exit 0" "$rc" 0
check "PROGRAM ignoring SIGTERM was killed" gone "$(cat "$T_DIR/grace.pid")"
between "... after the grace period (ms)" "$elapsed" 900 4000

# --- signals to inputkill itself -----------------------------------------
for sig in TERM HUP INT; do
  start_closable "sig$sig" sh -c "$TERM_LOGGER" "$T_DIR/sig$sig.log"
  wait_until 10 file_has "$T_DIR/sig$sig.log" up
  kill -"$sig" "$IK_PID"
  wait "$IK_PID"
  rc=$?
  exec 4>&-
  is "SIG$sig to inputkill: exit 0" "$rc" 0
  check "SIG$sig to inputkill: PROGRAM got SIGTERM" file_has "$T_DIR/sig$sig.log" TERM
done

# sig_bit PID FIELD SIGNUM: whether bit SIGNUM of /proc/PID/status FIELD is set.
sig_bit () {
  local mask
  mask=$(sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null)
  [ -n "$mask" ] && [ $(( (0x$mask >> ($3 - 1)) & 1 )) -eq 1 ]
}
(trap '' HUP; exec "$IK" sh -c "$TERM_LOGGER" "$T_DIR/nohup.log") <> "$HELD" > /dev/null 2>&1 &
nohup_pid=$!
at_exit "kill -KILL $nohup_pid"
wait_until 10 sig_bit "$nohup_pid" SigCgt 15
check "a signal ignored at start (nohup) stays ignored" sig_bit "$nohup_pid" SigIgn 1
kill -TERM "$nohup_pid"
wait "$nohup_pid"

start_closable sigkill --grace=1 sh -c "$TERM_IGNORER" "$T_DIR/sigkill.pid"
wait_until 10 test -s "$T_DIR/sigkill.pid"
kill -TERM "$IK_PID"
wait "$IK_PID"
rc=$?
exec 4>&-
is "SIGTERM to inputkill, PROGRAM ignoring it: exit 0" "$rc" 0
check "... and PROGRAM was killed after the grace period" gone "$(cat "$T_DIR/sigkill.pid")"

# --- through a real sshd ---------------------------------------------------
SSH_CHECKS=5
if ! sshd_available; then
  for i in $(seq 0 $SSH_CHECKS); do ok "ssh # SKIP $SSHD_MISSING"; done
  exit 0
fi
if sshd_setup; then ok "sshd fixture: logging in to testhost works"; else
  not_ok "sshd fixture: logging in to testhost works"
  for i in $(seq 1 $SSH_CHECKS); do not_ok "ssh: not run, the fixture failed"; done
  exit 1
fi

SERVERDIR=$T_DIR/server-maildir
mkdir -p "$SERVERDIR/cur" "$SERVERDIR/new" "$SERVERDIR/tmp"
IK_RE=$(re_escape "$IK $WM -m $SERVERDIR")
WM_RE=$(re_escape "$WM -m $SERVERDIR")
# Server-side processes for SERVERDIR: "inputkill-count watch_maildirs-count".
remote_count () { echo "$(pgrep -fx "$IK_RE" | wc -l) $(pgrep -fx "$WM_RE" | wc -l)"; }
remote_running () { [ "$(remote_count)" = "1 1" ]; }
remote_gone () { [ "$(remote_count)" = "0 0" ]; }

# ssh_watch NAME: ssh testhost inputkill watch_maildirs, stdin never at EOF;
# sets SSH_PID.
ssh_watch () {
  ssh -F "$SSH_CONFIG" testhost "$IK" "$WM" -m "$SERVERDIR" \
    <> "$HELD" > "$T_DIR/$1.out" 2> "$T_DIR/$1.err" &
  SSH_PID=$!
  at_exit "kill -KILL $SSH_PID"
}

for sig in TERM KILL; do
  ssh_watch "ssh$sig"
  # Ready: the start line has come back through ssh.
  wait_until 15 test -s "$T_DIR/ssh$sig.out" && wait_until 5 remote_running
  if remote_running; then was_running=yes; else was_running=no; fi
  is "over ssh ($sig run): watch_maildirs runs under inputkill on the server" "$was_running" yes
  if [ "$sig" = TERM ]; then
    echo msg > "$SERVERDIR/tmp/m1" && mv "$SERVERDIR/tmp/m1" "$SERVERDIR/new/m1"
    wait_until 10 grep -qx INBOX "$T_DIR/ssh$sig.out"
    check "over ssh: a delivery on the server is reported as INBOX" grep -qx INBOX "$T_DIR/ssh$sig.out"
  fi
  kill -"$sig" "$SSH_PID" 2>/dev/null
  wait "$SSH_PID" 2>/dev/null
  wait_until 15 remote_gone
  if [ "$was_running" = yes ] && remote_gone; then
    ok "ssh client killed with SIG$sig: nothing left on the server"
  else
    not_ok "ssh client killed with SIG$sig: nothing left on the server"
    diag "server-side processes (inputkill watch_maildirs): $(remote_count)"
  fi
done
