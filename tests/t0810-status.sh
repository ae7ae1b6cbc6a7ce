#!/bin/sh
# `mswatch --status [--json]` against a scripted scenario, field by field:
# a failed mailbox with its reason, a pending name with its due time, the
# syncer in flight with its last PROGRESS text, a watcher restarting.
# Then the socket itself: where it is, mode 0600, one per configuration,
# the /tmp fallback (found from a shell that has XDG_RUNTIME_DIR, but only
# as the server makes it: ours, closed to others), "no instance" errors
# naming where the client looked, other users refused (both by the
# socket's mode and by SO_PEERCRED), and clients that never read (which
# must not stall mswatch).  JSON is checked with python3 when there is one,
# else by exact keys.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/helpers/coord-lib.sh"

RUN_DIR="$T_DIR/run"
mkdir -p "$RUN_DIR"
chmod 700 "$RUN_DIR"
XDG_RUNTIME_DIR=$RUN_DIR; export XDG_RUNTIME_DIR
HAVE_PYTHON=
command -v python3 >/dev/null 2>&1 && python3 -c 'import json' 2>/dev/null && HAVE_PYTHON=1

# A resident syncer that answers OK, FAIL for "bad", and for "slow" a
# PROGRESS line (a download, in the form mswatch reads) and then nothing;
# it exits at EOF.
SYNCER="$T_DIR/status-syncer"
cat >"$SYNCER" <<'SYNCER_END'
#!/bin/sh
echo "start $$" >>"$1/starts"
echo '* MSWATCH-SYNCER 1 status-test'
while IFS= read -r line; do
  tag=${line%% *}
  name=${line#"$tag" SYNC}
  name=${name# }
  case $name in
    bad) echo "$tag FAIL mailbox \"bad\" does not exist" ;;
    slow) echo "$tag PROGRESS 3/10 messages, 3000/10000 bytes" ;;
    *) echo "$tag OK 1 0" ;;
  esac
done
SYNCER_END
chmod 755 "$SYNCER"

syncer_cleanup () {
  local p
  for p in $(cut -d' ' -f2 "$T_DIR/starts" 2>/dev/null); do
    if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q status-syncer; then
      kill -KILL "$p" 2>/dev/null
    fi
  done
  return 0
}
at_exit syncer_cleanup

# status [OPTION...]: the report of the mswatch running $RC.
status () { mswatch --status -c "$RC" "$@"; }
# field KEY: the value of the text report's "KEY: value" line.
field () { grep -F "$1: " "$T_DIR/status.txt" | head -n 1 | sed "s/^[^:]*: //"; }
report_has () { status >"$T_DIR/status.txt" && grep -qE "$1" "$T_DIR/status.txt"; }
# json_get EXPR: a Python expression over the parsed report `j`.
json_get () { python3 -c "import json, sys; j = json.load(open(sys.argv[1])); print($1)" "$T_DIR/status.json"; }
in_secs () { field "$1" | sed -nE 's/.*\(in ([0-9]+)s\)$/\1/p'; }
status_ok () { status >/dev/null 2>&1; }
completed () { [ "$(count_lines "$T_DIR/out" "Sync completed")" -ge "$1" ]; }

WATCH_B="--fail-while=$T_DIR/b-fails"
{
  echo "syncer $(esc "$SYNCER" "$T_DIR")"
  echo "store a { watch $(watch_words a) }"
  echo "store b { watch $(watch_words b) }"
  printf '%s\n' "base_delay 1" "inter_delay 10" "inter_delay 1 bad slow" "max_delay 100" "poll_period 0"
} >"$RC"

# --- no instance yet ------------------------------------------------------------
status >"$T_DIR/none.out" 2>"$T_DIR/none.err"
is "no instance: exit 1" "$?" 1
check "no instance: a clear message" grep -qF "mswatch: no mswatch is running with configuration $RC" \
  "$T_DIR/none.err"
check "... naming the socket looked for in \$XDG_RUNTIME_DIR" grep -qF "(nothing listens on $RUN_DIR/mswatch-" \
  "$T_DIR/none.err"
check "... and the one in the /tmp fallback" grep -qF "/tmp/mswatch-$(id -u)/mswatch-" "$T_DIR/none.err"
is "no instance: nothing on stdout" "$(cat "$T_DIR/none.out")" ""
check "--json alone is an error" sh -c "! mswatch --json -c '$RC' 2>/dev/null"

# --- the scenario ------------------------------------------------------------------
start_ms
wait_until 10 completed 2
sock=$(ls "$RUN_DIR"/mswatch-*.sock 2>/dev/null)
check "the socket is in \$XDG_RUNTIME_DIR, named for the configuration" \
  sh -c "[ -S '$sock' ] && echo '$sock' | grep -qE '/mswatch-[0-9a-f]{16}\\.sock\$'"
is "the socket's mode is 0600" "$(stat -c %a "$sock" 2>/dev/null)" 600

# A failed mailbox: the syncer answers FAIL with a reason.
feed_a bad
wait_err "Sync of bad failed permanently" 6
wait_until 5 completed 3
# A pending name: p1 (inter_delay 10) is due 10 s after that sync.
feed_a p1
wait_until 5 report_has '^Pending a: p1$'
status >"$T_DIR/status.txt"
is "exit 0 when an instance runs" "$?" 0
is "Pending a: the name" "$(field "Pending a")" "p1"
is "Pending b: nothing" "$(grep -c '^Pending b:$' "$T_DIR/status.txt")" 1
check "Next sync: changes at TIME (in Ns)" grep -qE \
  '^Next sync: changes at [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} \(in [0-9]+s\)$' "$T_DIR/status.txt"
between "... due inter_delay (10 s) after the last sync" "$(in_secs "Next sync")" 7 10
check "Mailbox bad: failed, with the syncer's reason" grep -qE \
  '^Mailbox bad: failed at [0-9-]+ [0-9:]+: mailbox "bad" does not exist$' "$T_DIR/status.txt"
check "Mailbox INBOX: ok" grep -qE '^Mailbox INBOX: ok at ' "$T_DIR/status.txt"
check "All mailboxes: ok" grep -qE '^All mailboxes: ok at ' "$T_DIR/status.txt"
is "Sync: idle" "$(field "Sync")" "idle"
is "Syncer: running, nothing in flight" "$(field "Syncer" | sed -E 's/for [0-9hms]+/for T/')" \
  "running for T, 0 requests in flight"
is "Watcher a: running" "$(field "Watcher a" | sed -E 's/for [0-9hms]+$/for T/')" "running for T"
is "Hook: off (none configured)" "$(field "Hook")" "off"
is "Next poll: off (poll_period 0)" "$(field "Next poll")" "off"
is "Wake-up: none" "$(field "Wake-up")" "none"
check "Process: pid, uptime, config" grep -qxE \
  "Process: pid $MS_PID, up [0-9hms]+, config $RC" "$T_DIR/status.txt"

status --json >"$T_DIR/status.json"
if [ -n "$HAVE_PYTHON" ]; then
  is "JSON: parses, version 1, our pid" "$(json_get '(j["version"], j["pid"] == '"$MS_PID"', j["truncated"])')" \
    "(1, True, False)"
  is "JSON: the pending name per store" "$(json_get '[p["mailboxes"] for p in j["pending"]]')" "[['p1'], []]"
  between "JSON: next_sync.at is 7-10 s ahead" "$(json_get 'j["next_sync"]["at"] - j["now"]')" 7 10
  is "JSON: next_sync kind, nothing waited for" "$(json_get '(j["next_sync"]["kind"], j["next_sync"]["waiting_for"])')" \
    "('changes', None)"
  is "JSON: the failed mailbox and its reason" \
    "$(json_get '[(m["result"], m["reason"]) for m in j["mailboxes"] if m["mailbox"] == "bad"]')" \
    "[('failed', 'mailbox \"bad\" does not exist')]"
  is "JSON: the syncer" "$(json_get '(j["syncer"]["state"], j["syncer"]["requests"])')" "('running', [])"
  is "JSON: no hook, no wake-up, no poll" "$(json_get '(j["hook"], j["wake"], j["next_poll"])')" \
    "(None, None, None)"
else
  check "JSON (no python3): exact keys" sh -c "grep -qF '\"version\":1,' '$T_DIR/status.json' &&
    grep -qF '{\"store\":\"a\",\"mailboxes\":[\"p1\"]}' '$T_DIR/status.json' &&
    grep -qF '\"result\":\"failed\",\"reason\":\"mailbox \\\\\"bad\\\\\" does not exist\"' '$T_DIR/status.json' &&
    grep -qF '\"truncated\":false}' '$T_DIR/status.json'"
fi

# The syncer in flight: slow (inter_delay 1) brings the sync forward, and
# the syncer answers p1 but leaves slow in progress.
feed_a slow
wait_until 6 report_has '^Request m[0-9]+: slow, sent [0-9hms]+ ago, progress: 3/10 messages, 3\.0 kB of 10\.0 kB$'
status >"$T_DIR/status.txt"
check "Request: the tag, the name, its age and its last PROGRESS text" grep -qE \
  '^Request m[0-9]+: slow, sent [0-9hms]+ ago, progress: 3/10 messages, 3\.0 kB of 10\.0 kB$' "$T_DIR/status.txt"
is "Syncer: one request in flight" "$(field "Syncer" | sed -E 's/for [0-9hms]+/for T/')" \
  "running for T, 1 request in flight"
is "Sync: the running batch" "$(field "Sync" | sed -E 's/for [0-9hms]+/for T/')" \
  "running for T (2 mailboxes): p1 slow"
is "Pending a: nothing left" "$(grep -c '^Pending a:$' "$T_DIR/status.txt")" 1
is "Next sync: none" "$(field "Next sync")" "none"
check "Mailbox p1: ok (answered while slow is not)" grep -qE '^Mailbox p1: ok at ' "$T_DIR/status.txt"

# A watcher restarting: b dies, and its restart fails; the next attempt is
# inter_delay (10 s) away.
touch "$T_DIR/b-fails"
kill -TERM "$(watcher_pid b)"
wait_until 6 report_has '^Watcher b: restarting at '
status >"$T_DIR/status.txt"
check "Watcher b: restarting at TIME (in Ns)" grep -qE \
  '^Watcher b: restarting at [0-9-]+ [0-9:]+ \(in [0-9]+s\)$' "$T_DIR/status.txt"
between "... inter_delay (10 s) after the failed start" "$(in_secs "Watcher b")" 7 10
is "Watcher failures: 1" "$(field "Watcher failures")" 1
is "Watcher a: still running" "$(field "Watcher a" | sed -E 's/for [0-9hms]+$/for T/')" "running for T"
check "the syncer's request is still shown" grep -qE '^Request m[0-9]+: slow, ' "$T_DIR/status.txt"
status --json >"$T_DIR/status.json"
if [ -n "$HAVE_PYTHON" ]; then
  is "JSON: the watchers' states" "$(json_get '[w["state"] for w in j["watchers"]]')" "['running', 'restarting']"
  between "JSON: b's restart_at is 7-10 s ahead" "$(json_get 'j["watchers"][1]["restart_at"] - j["now"]')" 7 10
  is "JSON: the request in flight and its progress" \
    "$(json_get '[(r["mailbox"], r["progress"], r["tag"].startswith("m"), r["sent"] <= j["now"]) for r in j["syncer"]["requests"]]')" \
    "[('slow', '3/10 messages, 3.0 kB of 10.0 kB', True, True)]"
  is "JSON: its download, counted" \
    "$(json_get '[(d["mailbox"], d["messages_done"], d["messages_total"], d["bytes_done"], d["bytes_total"]) for d in j["syncer"]["requests"][0]["downloads"]]')" \
    "[(None, 3, 10, 3000, 10000)]"
  is "JSON: the running sync" "$(json_get '(j["sync"]["kind"], j["sync"]["mailboxes"])')" "('changes', ['p1', 'slow'])"
else
  check "JSON (no python3): exact keys" sh -c "grep -qF '\"state\":\"restarting\"' '$T_DIR/status.json' &&
    grep -qF '\"mailbox\":\"slow\",\"sent\":' '$T_DIR/status.json' &&
    grep -qF '\"progress\":\"3/10 messages, 3.0 kB of 10.0 kB\"' '$T_DIR/status.json' &&
    grep -qF '\"downloads\":[{\"mailbox\":null,\"messages_done\":3,\"messages_total\":10,\"bytes_done\":3000,\"bytes_total\":10000}]' '$T_DIR/status.json'"
fi
check "SIGUSR1's report is unchanged: the store lines and the syncer line" sh -c "
  kill -USR1 $MS_PID; sleep 0.2
  grep -qxF 'Syncer state: running, 1 request in flight' '$T_DIR/out'"
rm -f "$T_DIR/b-fails"

# --- clients that never read do not stall mswatch --------------------------------------
if [ -n "$HAVE_PYTHON" ]; then
  # A report larger than a socket buffer: 300 names of 3000 bytes pending.
  long=$(head -c 3000 /dev/zero | tr '\0' L)
  i=0
  while [ $i -lt 300 ]; do feed_b "$i$long"; i=$((i + 1)); done
  wait_until 10 report_has '^Pending b: 0L'
  python3 - "$sock" >"$T_DIR/stall.out" 2>&1 <<'PY' &
import socket, sys, time
clients = []
for i in range(8):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    s.sendall(b"STATUS JSON\n")
    clients.append(s)
print("stalled", flush=True)
time.sleep(20)
PY
  stall=$!
  at_exit "kill $stall"
  wait_until 5 grep -q stalled "$T_DIR/stall.out"
  t=$(now_ms)
  status >"$T_DIR/big.txt" 2>"$T_DIR/big.err" &
  ninth=$!
  n=$(count_lines "$T_DIR/out" "Pending mailboxes at")
  kill -USR1 "$MS_PID"
  wait_until 3 sh -c "[ \$(grep -c 'Pending mailboxes at' '$T_DIR/out') -gt $n ]"
  between "eight clients that never read: SIGUSR1 is answered meanwhile (ms)" "$(( $(now_ms) - t ))" 0 2000
  wait "$ninth"
  is "a ninth client waits for a free slot, then gets the report" "$? $(cat "$T_DIR/big.err")" "0 "
  between "... once the stalled ones are dropped (after 5 s)" "$(( $(now_ms) - t ))" 3000 9500
  check "... bounded: the names beyond the cap are counted" grep -qE '^Pending b: 0L.* \.\.\. \([0-9]+ more\)$' \
    "$T_DIR/big.txt"
  check "... and the report is whole" grep -qxF "Wake-up: none" "$T_DIR/big.txt"
  kill "$stall" 2>/dev/null
else
  ok "stalled clients # SKIP python3 is not installed"
fi
stop_ms
check "the socket is removed at exit" test ! -e "$sock"

# --- one socket per configuration; the /tmp fallback ---------------------------------------
fresh_run
WATCH_B=
write_rc <<EOF
base_delay 1
EOF
RC2="$T_DIR/rc2"
cp "$RC" "$RC2"
start_ms
pid1=$MS_PID
wait_until 10 startup_done
rm -f "$SYNC_DIR/done"
env -u XDG_RUNTIME_DIR mswatch -c "$RC2" >"$T_DIR/out2" 2>"$T_DIR/err2" 7>&- 8>&- </dev/null &
pid2=$!
at_exit "kill $pid2"
fallback="/tmp/mswatch-$(id -u)"
wait_until 10 grep -q 'Watching' "$T_DIR/out2"
status >"$T_DIR/s1.txt"
env -u XDG_RUNTIME_DIR mswatch --status -c "$RC2" >"$T_DIR/s2.txt"
is "two instances, two reports (by config)" \
  "$(grep -o 'pid [0-9]*' "$T_DIR/s1.txt") $(grep -o 'pid [0-9]*' "$T_DIR/s2.txt")" "pid $pid1 pid $pid2"
is "without XDG_RUNTIME_DIR: a 0700 directory of ours in /tmp" "$(stat -c '%a %u' "$fallback")" "700 $(id -u)"
is "the same config file by another path finds the same instance" \
  "$(cd "$T_DIR" && env -u XDG_RUNTIME_DIR mswatch --status -c ./rc2 | grep -o 'pid [0-9]*')" "pid $pid2"
# A login shell has XDG_RUNTIME_DIR; an mswatch run by runit or cron has
# not: nothing listens in the shell's runtime directory, so the client
# looks in the fallback too.
mswatch --status -c "$RC2" >"$T_DIR/s3.txt" 2>"$T_DIR/s3.err"
is "with XDG_RUNTIME_DIR set, an instance started without it is found in the fallback" \
  "$? $(grep -o 'pid [0-9]*' "$T_DIR/s3.txt")" "0 pid $pid2"
kill -TERM "$pid2"
wait_until 10 sh -c "! kill -0 $pid2 2>/dev/null"
hash2=$(printf '%s' "$(realpath "$RC2")" | sha256sum | cut -c1-16)
sock2="$fallback/mswatch-$hash2.sock"
check "the second instance removed its socket" test ! -e "$sock2"
mswatch --status -c "$RC2" >/dev/null 2>"$T_DIR/s4.err"
is "once it is gone: exit 1, and both places named" "$? $(cat "$T_DIR/s4.err")" \
  "1 mswatch: no mswatch is running with configuration $RC2 (nothing listens on $RUN_DIR/mswatch-$hash2.sock nor on $sock2)"
stop_ms

# --- the fallback is used only as the server makes it ------------------------------------
# As a uid of our own in a user namespace, so that its fallback directory
# /tmp/mswatch-UID is this test's alone: our real uid's may serve other
# instances meanwhile, and must not be made unusable under them.  Files of
# another real uid show there as the overflow uid.
NS_UID=$((2000000000 + $$))
NS_FB="/tmp/mswatch-$NS_UID"
as_ns () { unshare --user --map-user="$NS_UID" --map-group="$NS_UID" "$@"; }
if ! as_ns true 2>/dev/null || [ -e "$NS_FB" ]; then
  for i in 1 2 3 4 5 6 7 8 9; do ok "the fallback's owner and mode # SKIP no user namespaces (unshare)"; done
else
  at_exit "rm -rf '$NS_FB'"
  NSD="$T_DIR/ns"
  mkdir -p "$NSD/run"
  chmod 700 "$NSD/run"
  printf '%s\n' "sync true" "store a { watch sh -c echo\\;exec\\ sleep\\ 600 }" \
    "store b { watch sh -c echo\\;exec\\ sleep\\ 600 }" >"$NSD/rc"
  ns_hash=$(printf '%s' "$(realpath "$NSD/rc")" | sha256sum | cut -c1-16)
  ns_sock="$NS_FB/mswatch-$ns_hash.sock"
  ns_not_running="mswatch: no mswatch is running with configuration $NSD/rc (nothing listens on $NSD/run/mswatch-$ns_hash.sock"
  # ns_status: `mswatch --status` from a shell with XDG_RUNTIME_DIR; its
  # exit status, then what it printed on stdout and stderr.
  ns_status () {
    as_ns env XDG_RUNTIME_DIR="$NSD/run" mswatch --status -c "$NSD/rc" >"$NSD/s.out" 2>"$NSD/s.err"
    echo "$? $(grep -o '^Process: pid [0-9]*' "$NSD/s.out")$(cat "$NSD/s.err")"
  }
  # Not through as_ns: $! must be mswatch's own pid (unshare and env exec it).
  unshare --user --map-user="$NS_UID" --map-group="$NS_UID" \
    env -u XDG_RUNTIME_DIR mswatch -c "$NSD/rc" >"$NSD/out" 2>"$NSD/err" 7>&- 8>&- </dev/null &
  nspid=$!
  at_exit "kill $nspid"
  wait_until 10 sh -c "[ -S '$ns_sock' ] && grep -q Watching '$NSD/out'"
  is "the fallback as the server makes it: found" "$(ns_status)" "0 Process: pid $nspid"
  chmod 755 "$NS_FB"
  is "a fallback directory others may enter: not used, and said why" "$(ns_status)" \
    "1 $ns_not_running; $ns_sock not tried: $NS_FB is not a directory of uid $NS_UID that only its owner may use)"
  chmod 700 "$NS_FB"
  chmod 660 "$ns_sock"
  is "a socket others may use: not used, and said why" "$(ns_status)" \
    "1 $ns_not_running; $ns_sock not tried: $ns_sock is not a socket of uid $NS_UID that only its owner may use)"
  chmod 600 "$ns_sock"
  if [ "$(id -u)" -eq 0 ]; then
    chown 1 "$NS_FB"
    is "a fallback directory of another uid: not used" "$(ns_status)" \
      "1 $ns_not_running; $ns_sock not tried: $NS_FB is not a directory of uid $NS_UID that only its owner may use)"
    chown 0 "$NS_FB"
    chown 1 "$ns_sock"
    is "a socket of another uid: not used" "$(ns_status)" \
      "1 $ns_not_running; $ns_sock not tried: $ns_sock is not a socket of uid $NS_UID that only its owner may use)"
    chown 0 "$ns_sock"
  else
    ok "a fallback directory of another uid # SKIP needs root (chown)"
    ok "a socket of another uid # SKIP needs root (chown)"
  fi
  is "put back as it was: found again" "$(ns_status)" "0 Process: pid $nspid"
  kill -TERM "$nspid"
  wait_until 10 sh -c "! kill -0 $nspid 2>/dev/null"
  check "the namespaced mswatch ended on SIGTERM and removed its socket" \
    sh -c "! kill -0 $nspid 2>/dev/null && [ ! -e '$ns_sock' ]"
  is "nothing listens in either place: both named" "$(ns_status)" "1 $ns_not_running nor on $ns_sock)"
  rm -rf "$NS_FB"
  is "no fallback directory at all: both named" "$(ns_status)" "1 $ns_not_running nor on $ns_sock)"
fi

# --- other users are refused ---------------------------------------------------------------------
nobody_uid=$(id -u nobody 2>/dev/null)
nobody_gid=$(id -g nobody 2>/dev/null)
as_nobody () { setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups "$@"; }
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1 || [ -z "$nobody_uid" ] ||
   [ -z "$(as_nobody mswatch --version 2>/dev/null)" ]; then
  for i in 1 2 3 4 5 6; do ok "other users # SKIP needs root, setpriv, and a build that nobody may run"; done
else
  # nobody's client against our socket: it reaches the socket (the
  # directories are open to it) and is stopped by its mode.
  fresh_run
  chmod 755 "$T_DIR" "$RUN_DIR"
  chmod 644 "$RC"
  start_ms
  wait_until 10 startup_done
  wait_until 5 status_ok
  as_nobody mswatch --status -c "$RC" >"$T_DIR/nobody.out" 2>"$T_DIR/nobody.err"
  is "another user's client: exit 1, nothing shown" "$? $(cat "$T_DIR/nobody.out")" "1 "
  check "... refused by the socket's mode" grep -qE "^mswatch: cannot connect to .*: Permission denied\$" \
    "$T_DIR/nobody.err"
  stop_ms
  chmod 700 "$RUN_DIR"
  # An mswatch run by nobody, and root (whom no mode stops) as the client:
  # SO_PEERCRED refuses it.
  ND="$T_DIR/nobody"
  mkdir -p "$ND/run"
  printf '%s\n' "sync true" "store a { watch sh -c echo\\;exec\\ cat }" \
    "store b { watch sh -c echo\\;exec\\ cat }" >"$ND/rc"
  chown "$nobody_uid:$nobody_gid" "$ND/run"
  chmod 700 "$ND/run"
  # Not through as_nobody: $! must be mswatch's own pid (setpriv and env
  # exec it), not that of a subshell running the function.
  setpriv --reuid="$nobody_uid" --regid="$nobody_gid" --clear-groups \
    env XDG_RUNTIME_DIR="$ND/run" mswatch -c "$ND/rc" >"$ND/out" 2>"$ND/err" </dev/null &
  npid=$!
  at_exit "kill $npid"
  wait_until 10 sh -c "ls '$ND/run'/mswatch-*.sock >/dev/null 2>&1 && grep -q Watching '$ND/out'"
  XDG_RUNTIME_DIR="$ND/run" mswatch --status -c "$ND/rc" >"$T_DIR/root.out" 2>"$T_DIR/root.err"
  is "a client of another uid (root): exit 1, nothing shown" "$? $(cat "$T_DIR/root.out")" "1 "
  is "... refused by SO_PEERCRED, with a message" "$(cat "$T_DIR/root.err")" \
    "mswatch: refused: this mswatch answers only uid $nobody_uid"
  check "... which the server logs" grep -qxF "WARNING: status socket: refused a client of uid 0" "$ND/err"
  kill -TERM "$npid"
  wait_until 10 sh -c "! kill -0 $npid 2>/dev/null"
  check "nobody's mswatch ended on SIGTERM" sh -c "! kill -0 $npid 2>/dev/null"
fi

plan "$T_N"
