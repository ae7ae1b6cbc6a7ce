#!/bin/sh
# The on_synced hook: what it is given (the batch's names after the `sync`
# program succeeded, nothing after a sync of all mailboxes, only the OK
# names of a resident syncer), its output relayed, its failures reported
# and harmless, a slow hook never delaying a sync, names synced meanwhile
# merged into one next run (never two at once), sync_timeout stopping a
# hung hook, a hung hook without sync_timeout reported once (and in the
# status report), -d, and the recipes in docs/hooks.  The hook is
# tests/helpers/fake-hook.sh; it logs every run with a timestamp.
# mswatch's hidden test knob --hook-warn-after=S brings that report
# forward from 300 s.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/helpers/coord-lib.sh"

FAKE_HOOK="$HELPERS/fake-hook.sh"
FAKE_SYNCER="$HELPERS/fake-syncer.sh"
HOOK_DIR="$T_DIR/hook"
SYNCER_DIR="$T_DIR/syncer"
mkdir -p "$HOOK_DIR" "$SYNCER_DIR"
# The status socket goes to the test's directory, not the session's.
XDG_RUNTIME_DIR=$T_DIR; export XDG_RUNTIME_DIR

hook_line () { echo "on_synced $(esc "$FAKE_HOOK" "$HOOK_DIR")"; }

# The hook's runs: "start MS PID [ARG]..." in $HOOK_DIR/log, and
# "MS PID STATUS|TERM" in $HOOK_DIR/done.
nhooks () { if [ -f "$HOOK_DIR/log" ]; then wc -l <"$HOOK_DIR/log"; else echo 0; fi; }
hooks_at_least () { [ "$(nhooks)" -ge "$1" ]; }
hook_args () { sed -n "${1}p" "$HOOK_DIR/log" 2>/dev/null | cut -d' ' -f4-; }
hook_ms () { local v; v=$(sed -n "${1}p" "$HOOK_DIR/log" 2>/dev/null | cut -d' ' -f2); echo "${v:-0}"; }
nhooks_done () { if [ -f "$HOOK_DIR/done" ]; then wc -l <"$HOOK_DIR/done"; else echo 0; fi; }
hooks_done_at_least () { [ "$(nhooks_done)" -ge "$1" ]; }
hook_done_ms () { local v; v=$(sed -n "${1}p" "$HOOK_DIR/done" 2>/dev/null | cut -d' ' -f1); echo "${v:-0}"; }
done_ms () { local v; v=$(sed -n "${1}p" "$SYNC_DIR/done" | cut -d' ' -f1); echo "${v:-0}"; }

hook_cleanup () {
  local p
  for p in $(cut -d' ' -f3 "$HOOK_DIR/log" 2>/dev/null); do
    if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q fake-hook; then
      kill -KILL "$p" 2>/dev/null
    fi
  done
  for p in $(grep '^start ' "$SYNCER_DIR/starts" 2>/dev/null | cut -d' ' -f3); do
    if tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q fake-syncer; then
      kill -KILL "$p" 2>/dev/null
    fi
  done
  return 0
}
at_exit hook_cleanup

fresh_hook_run () {
  hook_cleanup
  fresh_run
  rm -f "$HOOK_DIR"/* "$SYNCER_DIR"/*
}

# --- the `sync` program: names of successful batches, nothing for "all" -------
{ hook_line; printf '%s\n' "base_delay 1" "inter_delay 2" "max_delay 100"; } | write_rc
echo "hello from the hook" >"$HOOK_DIR/stdout"
printf '%s\n' "a warning" "caf$(printf '\351') on stderr" >"$HOOK_DIR/stderr"
start_ms
wait_until 10 startup_done
wait_until 5 hooks_done_at_least 2
is "startup: the INBOX sync, then all mailboxes (no names)" "$(hook_args 1)|$(hook_args 2)" "[INBOX]|"
feed_a n1
feed_b "n2 x" n1
wait_until 6 done_at_least 3
wait_until 5 hooks_done_at_least 3
is "a batch: its names, deduplicated and sorted, verbatim" "$(hook_args 3)" "[n1][n2 x]"
check "the hook's stdout is relayed to stdout" grep -qxF "on_synced: hello from the hook" "$T_DIR/out"
check "its stderr to stderr" grep -qxF "on_synced: a warning" "$T_DIR/err"
check "... escaped like any child's text" grep -qxF 'on_synced: caf\xe9 on stderr' "$T_DIR/err"
is "one line per line of each run" "$(count_lines "$T_DIR/out" "on_synced: hello")" 3

# A failing sync: no hook; its retry succeeds: the hook gets the names.
echo 1 >"$SYNC_DIR/status"
feed_a f1
wait_until 6 done_at_least 4
echo 0 >"$SYNC_DIR/status"
wait_until 8 done_at_least 5
wait_until 5 hooks_done_at_least 4
is "a failed sync runs no hook" "$(nhooks)" 4
is "its successful retry does" "$(hook_args 4)" "[f1]"
check "the hook ran after the retry, not the failure" test "$(hook_ms 4)" -ge "$(sync_ms 5)"

# A failing hook: reported, nothing else changes.
echo 3 >"$HOOK_DIR/status"
feed_a h1
wait_until 6 hooks_done_at_least 5
wait_err "Hook errored" 3
check "a failing hook is reported with its status" grep -qE \
  "^Hook errored: $FAKE_HOOK exited \(status 3\) after [01]s at [0-9-]+ [0-9:]+ \(1 mailbox\)\$" "$T_DIR/err"
rm -f "$HOOK_DIR/status"
n=$(ndone)
feed_b h2
wait_until 6 done_at_least $((n + 1))
is "... and the next sync is as usual, h1 not retried" "$(sync_args "$(nsyncs)")" "[h2]"
wait_until 5 hooks_done_at_least 6
is "... and so is the next hook" "$(hook_args 6)" "[h2]"
is "no sync errored but the one made to" "$(count_lines "$T_DIR/err" "Sync errored")" 1

# --- a slow hook: the next sync on time, names merged into one next run ---------
: >"$HOOK_DIR/hold"
n=$(ndone)
h=$(nhooks)
feed_a s1
wait_until 6 done_at_least $((n + 1))
wait_until 5 hooks_at_least $((h + 1))
first_done=$(done_ms $((n + 1)))
feed_a s2
feed_b s3
wait_until 6 done_at_least $((n + 2))
between "the next sync starts on time while the hook hangs (inter_delay 2 s)" \
  "$(( $(sync_ms $((n + 2))) - first_done ))" 1000 3500
feed_b s4
wait_until 6 done_at_least $((n + 3))
is "meanwhile no second hook started" "$(nhooks)" $((h + 1))
rm -f "$HOOK_DIR/hold"
wait_until 6 hooks_done_at_least $((h + 2))
is "the held run had its own names" "$(hook_args $((h + 1)))" "[s1]"
is "the next run: everything synced meanwhile, merged, once" "$(hook_args $((h + 2)))" "[s2][s3][s4]"
check "it started only after the held one ended" \
  test "$(hook_ms $((h + 2)))" -ge "$(hook_done_ms $((h + 1)))"
stop_ms
is "SIGTERM: exit 0" "$MS_STATUS" 0

# --- sync_timeout stops a hung hook --------------------------------------------------
fresh_hook_run
{ hook_line; printf '%s\n' "base_delay 1" "inter_delay 1" "sync_timeout 2"; } | write_rc
start_ms --hook-warn-after=2
wait_until 10 startup_done
wait_until 5 hooks_done_at_least 2
: >"$HOOK_DIR/hold"
feed_a t1
wait_until 6 hooks_at_least 3
wait_until 8 grep -q TERM "$HOOK_DIR/done"
killed=$(grep TERM "$HOOK_DIR/done" | cut -d' ' -f1)
between "a hung hook is stopped after sync_timeout (2 s)" "$(( ${killed:-0} - $(hook_ms 3) ))" 1500 4000
check "... said so" grep -qxF \
  "Hook timed out: $FAKE_HOOK ran longer than sync_timeout (2s); stopping it" "$T_DIR/err"
wait_err "Hook errored" 3
# (The fake hook exits 143 on SIGTERM; a hook killed by it shows -1.)
check "... and reported as failed" grep -qE \
  "^Hook errored: $FAKE_HOOK exited \(status (143|-1)\) after [23]s at .* \(1 mailbox\)\$" "$T_DIR/err"
is "... and not reported as running long: sync_timeout (2 s) is no longer than that limit (2 s)" \
  "$(count_lines "$T_DIR/err" "WARNING: on_synced hook")" 0
rm -f "$HOOK_DIR/hold"
feed_b t2
wait_until 6 hooks_done_at_least 4
is "the next hook runs as usual" "$(hook_args 4)" "[t2]"
stop_ms

# --- no sync_timeout: a hung hook is reported once, and in the status ------------------
# It holds every later run back, for ever; syncs go on.  The limit is
# 300 s; the test knob makes it 2 s.
fresh_hook_run
{ hook_line; printf '%s\n' "base_delay 1" "inter_delay 1"; } | write_rc
start_ms --hook-warn-after=2
wait_until 10 startup_done
wait_until 5 hooks_done_at_least 2
hook_status () { mswatch --status -c "$RC" >"$T_DIR/status.txt" 2>/dev/null && grep -qE "$1" "$T_DIR/status.txt"; }
warnings () { count_lines "$T_DIR/err" "WARNING: on_synced hook"; }
: >"$HOOK_DIR/hold"
n=$(ndone)
feed_a w1
wait_until 6 hooks_at_least 3
wait_err "WARNING: on_synced hook" 6
warned=$(now_ms)
between "a hook still running after the limit (2 s) is reported" "$(( warned - $(hook_ms 3) ))" 1500 4000
is "... on stderr, in 1.2's WARNING style, with how long it has run" \
  "$(grep -F "WARNING: on_synced hook" "$T_DIR/err" | sed -E 's/running for [23]s;/running for Ns;/')" \
  "WARNING: on_synced hook $FAKE_HOOK has been running for Ns; later runs are queued until it ends"
feed_b w2
wait_until 6 done_at_least $((n + 2))
is "syncs go on meanwhile" "$(sync_args $((n + 2)))" "[w2]"
wait_until 5 hook_status '^Hook queued: w2$'
check "the status report: the run, for how long" grep -qE '^Hook: running for [0-9]+s \(1 mailbox\): w1$' \
  "$T_DIR/status.txt"
check "... the same warning" grep -qxF "Hook warning: running longer than 2s; later runs are queued until it ends" \
  "$T_DIR/status.txt"
check "... and the run queued behind it" grep -qxF "Hook queued: w2" "$T_DIR/status.txt"
check "... and in JSON" sh -c "mswatch --status --json -c '$RC' | grep -qF '\"since\":' && mswatch --status --json -c '$RC' | grep -qE '\"hook\":\{\"state\":\"running\",\"since\":[0-9]+,\"running_long\":2,'"
wait_until 10 hook_status '^Hook: running for ([4-9]|[1-9][0-9])s '
is "reported once, however long it runs" "$(warnings)" 1
rm -f "$HOOK_DIR/hold"
wait_until 6 hooks_done_at_least 4
is "released: the queued run follows" "$(hook_args 4)" "[w2]"
wait_until 5 hook_status '^Hook: idle$'
check "... and the status has no warning left" sh -c "! grep -q '^Hook warning:' '$T_DIR/status.txt'"
is "a run that ends in time is not reported" "$(warnings)" 1
stop_ms

# --- a hook that cannot be executed ---------------------------------------------------
fresh_hook_run
printf '%s\n' "on_synced $(esc "$T_DIR/no-such-hook") x" "base_delay 1" "inter_delay 1" | write_rc
start_ms
wait_until 10 startup_done
wait_err "Hook errored" 5
check "exec failure: said so" grep -qxF "exec(\"$T_DIR/no-such-hook\"): No such file or directory" "$T_DIR/err"
check "... and reported as status 1" grep -qE \
  "^Hook errored: $T_DIR/no-such-hook exited \(status 1\) after 0s at .* \(1 mailbox\)\$" "$T_DIR/err"
feed_a e1
wait_until 6 done_at_least 3
is "... and syncs go on" "$(sync_args 3)" "[e1]"
stop_ms

# --- -d: nothing is synced, so no hook runs ---------------------------------------------
fresh_hook_run
{ hook_line; printf '%s\n' "base_delay 1" "inter_delay 1"; } | write_rc
start_ms -d
wait_out "(all mailboxes)" 10
feed_a d1
wait_out "(1 mailbox)" 5
stop_ms
is "-d: no hook ran" "$(nhooks)" 0

# --- the resident syncer: only the names answered OK ---------------------------------------
fresh_hook_run
{
  echo "syncer $(esc "$FAKE_SYNCER" "$SYNCER_DIR")"
  echo "store a { watch $(watch_words a) }"
  echo "store b { watch $(watch_words b) }"
  hook_line
  printf '%s\n' "base_delay 1" "inter_delay 2"
} >"$RC"
printf '%s\n' "RETRY r1" "FAIL x1" "PROGRESS p1" >"$SYNCER_DIR/answers"
start_ms
wait_until 10 hooks_done_at_least 2
is "syncer startup: INBOX, then all mailboxes (no names)" "$(hook_args 1)|$(hook_args 2)" "[INBOX]|"
feed_a ok1 r1 x1 p1
wait_err "Sync errored" 6
wait_until 5 hooks_done_at_least 3
is "only the names answered OK (not RETRY, not FAIL)" "$(hook_args 3)" "[ok1][p1]"
: >"$SYNCER_DIR/answers"
wait_until 8 hooks_done_at_least 4
is "the RETRY name, once its retry succeeds" "$(hook_args 4)" "[r1]"
is "the FAIL name never" "$(grep -c 'x1' "$HOOK_DIR/log")" 0
stop_ms

# --- the recipes: mutt-mailboxes -------------------------------------------------------
MUTT="$top_srcdir/docs/hooks/mutt-mailboxes"
MD="$T_DIR/Maildir"
for f in "" .foo .bar.baz ".it's" "nested/deep" "with space"; do
  mkdir -p "$MD/$f/cur" "$MD/$f/new" "$MD/$f/tmp"
done
mkdir -p "$MD/nested/cur" "$MD/not-a-folder/sub"
MB="$T_DIR/mutt/mailboxes"
HOME="$T_DIR" sh "$MUTT" -m "$MD" -o "$MB" INBOX ignored
{
  echo "# Written by mutt-mailboxes (an mswatch on_synced hook); do not edit."
  echo "mailboxes '$MD'"
  echo "mailboxes '$MD/.bar.baz'"
  echo "mailboxes '$MD/.foo'"
  echo "mailboxes '$MD/.it'\\''s'"
  echo "mailboxes '$MD/nested'"
  echo "mailboxes '$MD/nested/deep'"
  echo "mailboxes '$MD/with space'"
} >"$T_DIR/want-mb"
if cmp -s "$MB" "$T_DIR/want-mb"; then ok "mutt-mailboxes: every folder, quoted for mutt"; else
  not_ok "mutt-mailboxes: every folder, quoted for mutt"; diag "$(diff "$T_DIR/want-mb" "$MB")"
fi
ino=$(stat -c %i "$MB")
sh "$MUTT" -m "$MD" -o "$MB"
is "mutt-mailboxes: an unchanged list is not rewritten" "$(stat -c %i "$MB")" "$ino"
rm -rf "$MD/.foo"
mkdir -p "$MD/.new/cur"
sh "$MUTT" -m "$MD" -o "$MB"
check "mutt-mailboxes: a removed folder goes" sh -c "! grep -qF '/.foo' '$MB'"
check "mutt-mailboxes: a new one comes" grep -qxF "mailboxes '$MD/.new'" "$MB"
is "mutt-mailboxes: no temporary file left" "$(ls "$T_DIR/mutt")" "mailboxes"
check "mutt-mailboxes: a missing Maildir is an error" sh -c "! sh '$MUTT' -m '$T_DIR/none' -o '$MB' 2>/dev/null"

# --- the recipes: gnus-check-groups ---------------------------------------------------
GNUS="$top_srcdir/docs/hooks/gnus-check-groups"
printf '%s\n' '#!/bin/sh' '{ echo --; printf "%s\n" "$@"; } >>"$EMACSCLIENT_LOG"' >"$T_DIR/emacsclient"
chmod 755 "$T_DIR/emacsclient"
EMACSCLIENT_LOG="$T_DIR/emacsclient.log"; export EMACSCLIENT_LOG
EMACSCLIENT="$T_DIR/emacsclient" sh "$GNUS" -p 'nnimap+local:' -d / INBOX 'lists.my "list"' 'back\slash'
is "gnus-check-groups: emacsclient --eval FORM" "$(sed -n 2p "$EMACSCLIENT_LOG")" "--eval"
check "gnus-check-groups: the groups, prefixed, dots mapped, escaped for Lisp" grep -qF \
  '(list "nnimap+local:INBOX" "nnimap+local:lists/my \"list\"" "nnimap+local:back\\slash")' \
  "$EMACSCLIENT_LOG"
check "gnus-check-groups: checks them with gnus-group-get-new-news-this-group" \
  grep -qF '(gnus-group-get-new-news-this-group)' "$EMACSCLIENT_LOG"
sed -n '3,$p' "$EMACSCLIENT_LOG" >"$T_DIR/form.el"
: >"$EMACSCLIENT_LOG"
EMACSCLIENT="$T_DIR/emacsclient" sh "$GNUS" -p 'nnimap+local:'
check "gnus-check-groups: no names (all mailboxes): every group, as 'g'" \
  grep -qF '(gnus-group-get-new-news)' "$EMACSCLIENT_LOG"
if command -v emacs >/dev/null 2>&1; then
  # Evaluate the form in a batch Emacs against a stand-in Gnus that knows
  # two of the three groups and records what it is asked to check.
  cat >"$T_DIR/stub.el" <<'STUB'
(defvar gnus-group-buffer (get-buffer-create "*Group*"))
(defvar gnus-group-marked nil)
(defvar checked nil)
(defvar listed nil)
(defun gnus-alive-p () t)
(defun gnus-get-info (g) (member g '("nnimap+local:INBOX" "nnimap+local:lists/my \"list\"")))
(defun gnus-group-get-new-news-this-group (&optional n dont-scan)
  (setq checked (list n (copy-sequence gnus-group-marked) mark-active)))
(defun gnus-group-list-groups (&rest _) (setq listed t))
STUB
  got=$(emacs --batch -Q -l "$T_DIR/stub.el" --eval \
    "(let ((v (eval (car (read-from-string (with-temp-buffer (insert-file-contents \"$T_DIR/form.el\") (buffer-string)))))))
       (princ (format \"%S %S %S\" v checked listed)))" 2>"$T_DIR/emacs.err")
  is "gnus-check-groups: the form checks exactly the known groups (in Emacs)" "$got" \
    '2 (nil ("nnimap+local:INBOX" "nnimap+local:lists/my \"list\"") nil) t'
else
  ok "gnus-check-groups: the form in Emacs # SKIP emacs is not installed"
fi

plan "$T_N"
