#!/bin/sh
# Wake-ups: after a resume from suspend or when the network comes back,
# mswatch restarts its watchers at once and cuts every backoff wait short.
# Both are detected inside mswatch (the decisions are unit-tested in
# tests/test-wake.c); here SIGUSR2, the documented way for a sleep or
# network hook to say the same, stands in for them, and at the end GLib's
# network monitor itself sees a default route come and go in a network
# namespace of mswatch's own.  Each wait below is
# inter_delay (30 s) long, and must end within a couple of seconds of the
# signal.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/helpers/coord-lib.sh"

FAKE_SYNCER="$HELPERS/fake-syncer.sh"
SYNCER_DIR="$T_DIR/syncer"
mkdir -p "$SYNCER_DIR"
XDG_RUNTIME_DIR=$T_DIR; export XDG_RUNTIME_DIR

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

start_ms_of () {
  local v
  v=$(grep '^start ' "$(wlog "$1")" 2>/dev/null | sed -n "${2}p" | cut -d' ' -f2)
  echo "${v:-0}"
}
starts_at_least () { [ "$(nstarts "$1")" -ge "$2" ]; }
status_has () { mswatch --status -c "$RC" 2>/dev/null | grep -qE "$1"; }
wake () { WOKE=$(now_ms); kill -USR2 "$MS_PID"; }

# --- a watcher waiting out its restart backoff ------------------------------------
touch "$T_DIR/b-fails"
WATCH_B="--fail-while=$T_DIR/b-fails"
write_rc <<EOF
base_delay 1
inter_delay 30
max_delay 600
EOF
start_ms
wait_until 5 starts_at_least b 1
wait_until 5 status_has '^Watcher b: restarting at .*\(in (2[0-9]|30)s\)$'
check "b's failed start waits inter_delay (30 s)" status_has '^Watcher b: restarting at .*\(in (2[0-9]|30)s\)$'
rm -f "$T_DIR/b-fails"
wake
wait_until 5 starts_at_least b 2
between "SIGUSR2: b is started again at once (ms)" "$(( $(start_ms_of b 2) - WOKE ))" 0 2000
check "... said so on stdout" grep -qxF "Woke up (SIGUSR2): retrying now and restarting the watchers" "$T_DIR/out"
wait_until 5 startup_done
check "... then the restart procedure: INBOX, all mailboxes" test "$(sync_args 1) $(sync_args 2)" = "[INBOX] []"
check "the status shows the wake-up" status_has '^Wake-up: signal at [0-9-]+ [0-9:]+$'

# --- running watchers are restarted at once (their connections may be dead) -------
old_a=$(watcher_pid a)
old_b=$(watcher_pid b)
na=$(nstarts a)
nb=$(nstarts b)
feed_a x
wait_until 5 done_at_least 3
wake
wait_until 5 starts_at_least a $((na + 1))
wait_until 5 starts_at_least b $((nb + 1))
check "SIGUSR2: the running watchers got SIGTERM" sh -c "grep -q '^term .* $old_a\$' '$(wlog a)' &&
  grep -q '^term .* $old_b\$' '$(wlog b)'"
between "... and started again at once (ms)" "$(( $(start_ms_of a $((na + 1))) - WOKE ))" 0 2000
wait_until 5 done_at_least 5
is "... followed by INBOX and all mailboxes" "$(sync_args 4) $(sync_args 5)" "[INBOX] []"
is "no 'connection closed' errors for a restart we asked for" \
  "$(grep -cE 'watcher (connection closed by|exited|killed)' "$T_DIR/err")" 0
stop_ms

# --- a failed sync waiting out its retry backoff -------------------------------------
fresh_run
WATCH_B=
write_rc <<EOF
base_delay 1
inter_delay 30
max_delay 600
EOF
start_ms
wait_until 10 startup_done
echo 1 >"$SYNC_DIR/status"
feed_a f1
wait_until 35 done_at_least 3
wait_until 5 status_has '^Backoff changes: 1 failure, retry delay 30s$'
check "the failed sync waits inter_delay (30 s) to retry" status_has '^Next sync: changes at .*\(in (2[0-9]|30)s\)$'
echo 0 >"$SYNC_DIR/status"
wake
wait_until 5 done_at_least 5
between "SIGUSR2: syncing again at once (ms)" "$(( $(sync_ms 4) - WOKE ))" 0 2500
is "... INBOX, then all mailboxes, which covers f1" "$(sync_args 4) $(sync_args 5)" "[INBOX] []"
wait_until 5 status_has '^Pending a:$'
check "... f1 is no longer pending" status_has '^Pending a:$'
stop_ms

# --- the resident syncer waiting out its restart backoff -------------------------------
fresh_run
rm -f "$SYNCER_DIR"/*
{
  echo "syncer $(esc "$FAKE_SYNCER" "$SYNCER_DIR")"
  echo "store a { watch $(watch_words a) }"
  echo "store b { watch $(watch_words b) }"
  printf '%s\n' "base_delay 1" "inter_delay 30"
} >"$RC"
echo "* HELLO" >"$SYNCER_DIR/greeting"
nsyncers () { if [ -f "$SYNCER_DIR/starts" ]; then grep -c '^start ' "$SYNCER_DIR/starts"; else echo 0; fi; }
syncers_at_least () { [ "$(nsyncers)" -ge "$1" ]; }
start_ms
wait_err "Error: syncer did not greet" 5
wait_until 5 status_has '^Syncer: restarting at .*\(in (2[0-9]|30)s\)'
check "a syncer that failed to start waits inter_delay (30 s)" status_has '^Syncer: restarting at .*\(in (2[0-9]|30)s\)'
rm -f "$SYNCER_DIR/greeting"
wake
wait_until 5 syncers_at_least 2
syncer2=$(grep '^start ' "$SYNCER_DIR/starts" | sed -n 2p | cut -d' ' -f2)
between "SIGUSR2: the syncer is started again at once (ms)" "$(( ${syncer2:-0} - WOKE ))" 0 2500
wait_until 5 sh -c "[ -f '$SYNCER_DIR/log' ] && [ \$(wc -l <'$SYNCER_DIR/log') -ge 2 ]"
is "... greets, and gets INBOX, then all mailboxes" "$(cut -d' ' -f4 "$SYNCER_DIR/log" | tr '\n' ' ')" "[INBOX] * "
stop_ms

# --- a running syncer is replaced: its connections are likely dead too -------------------
# A request it hangs on (as on a dead connection, until the syncer's own
# timeout) must not hold the mailbox back: the new syncer gets it again.
fresh_run
rm -f "$SYNCER_DIR"/*
echo "HANG stuck" >"$SYNCER_DIR/answers"
start_ms
wait_until 10 syncers_at_least 1
wait_until 10 sh -c "[ \$(wc -l <'$SYNCER_DIR/log' 2>/dev/null || echo 0) -ge 2 ]"
feed_a stuck
stuck_asked () { grep -c " \[stuck\] HANG\$" "$SYNCER_DIR/log" 2>/dev/null; }
stuck_asked_twice () { [ "$(stuck_asked)" -ge 2 ]; }
wait_until 10 sh -c "grep -q ' \[stuck\] HANG\$' '$SYNCER_DIR/log'"
check "a running syncer hangs on a request" test "$(stuck_asked)" = 1
old_syncer=$(grep '^start ' "$SYNCER_DIR/starts" | sed -n 1p | cut -d' ' -f3)
echo "OK stuck" >"$SYNCER_DIR/answers"
wake
wait_until 5 syncers_at_least 2
syncer2=$(grep '^start ' "$SYNCER_DIR/starts" | sed -n 2p | cut -d' ' -f2)
between "SIGUSR2: the running syncer is replaced at once (ms)" "$(( ${syncer2:-0} - WOKE ))" 0 2500
check "... the old one was stopped" grep -qE "^(eof|term) [0-9]+ $old_syncer\$" "$SYNCER_DIR/starts"
new_syncer=$(grep '^start ' "$SYNCER_DIR/starts" | sed -n 2p | cut -d' ' -f3)
new_syncer_all () { grep -q "^[0-9]* $new_syncer [a-z0-9]* \* OK\$" "$SYNCER_DIR/log"; }
wait_until 10 new_syncer_all
check "... the new one syncs all mailboxes, which covers the hung one" new_syncer_all
wait_until 5 status_has '^Pending a:$'
check "... which is no longer pending" status_has '^Pending a:$'
stop_ms

# --- the network monitor itself ------------------------------------------------------
# GLib's netlink monitor (what runs without NetworkManager), with mswatch in
# a network namespace of its own that has only a loopback: no network until
# the test adds a default route (through lo: no other address), and the
# network back then.  A route change while the network stays up is no
# wake-up.
if unshare -n true 2>/dev/null && command -v ip >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1; then
  fresh_run
  write_rc <<EOF
base_delay 1
inter_delay 30
EOF
  # Runs its arguments in a namespace of their own, with the loopback up;
  # every step execs, so MS_PID is mswatch's.
  cat >"$T_DIR/in-netns" <<'EOF'
#!/bin/sh
exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"
EOF
  chmod 755 "$T_DIR/in-netns"
  MS_WRAP="GIO_USE_NETWORK_MONITOR=netlink $T_DIR/in-netns" start_ms
  wait_until 10 startup_done
  in_ns () { nsenter -t "$MS_PID" -n "$@"; }
  wakes () { count_lines "$T_DIR/out" "Woke up (the network is back)"; }
  wakes_at_least () { [ "$(wakes)" -ge "$1" ]; }
  check "mswatch runs in a namespace without a default route" sh -c "! nsenter -t $MS_PID -n ip route | grep -q default"
  is "... which is no network, and no wake-up" "$(wakes)" 0
  n=$(nstarts a)
  WOKE=$(now_ms)
  in_ns ip route add default dev lo
  wait_until 10 wakes_at_least 1
  check "a default route appears: the network is back" grep -qxF \
    "Woke up (the network is back): retrying now and restarting the watchers" "$T_DIR/out"
  wait_until 5 starts_at_least a $((n + 1))
  between "... and the watchers are started again at once (ms)" "$(( $(start_ms_of a $((n + 1))) - WOKE ))" 0 3000
  check "the status shows it" wait_until 5 status_has '^Wake-up: network at [0-9-]+ [0-9:]+$'
  # Another route while the network is up, then the default route gone:
  # the line that says so comes after whatever the first change caused.
  gone () { count_lines "$T_DIR/out" "The network is gone: waiting for it to come back"; }
  gone_at_least () { [ "$(gone)" -ge "$1" ]; }
  in_ns ip route add 127.77.0.0/16 dev lo
  in_ns ip route del default dev lo
  check "the default route gone: said once" wait_until 10 gone_at_least 1
  is "... and another route while up was no wake-up" "$(wakes)" 1
  in_ns ip route add default dev lo
  check "back again: one more wake-up" wait_until 10 wakes_at_least 2
  is "... and no more" "$(wakes) $(gone)" "2 1"
  stop_ms
else
  ok "the netlink network monitor # SKIP needs unshare -n, ip and nsenter"
fi

plan "$T_N"
