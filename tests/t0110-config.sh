#!/bin/sh
# The config file end to end through the binary (spec §3, §12 items 5-11):
# 1.2's exact messages and exit status 1 for every error, the FILE:LINE line
# we add after them, the directive 1.2 echoed on stdout, the lexing rules,
# and both store layouts.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/helpers/coord-lib.sh"

SYNC="sync $(esc "$FAKE_SYNC" "$SYNC_DIR")"
W_A=$(esc "$FAKE_WATCHER" "$FIFO_A")
W_B=$(esc "$FAKE_WATCHER" "$FIFO_B")

# bad DESC FIRST-LINE [LINE]: the config on stdin is refused: exit 1,
# FIRST-LINE is stderr's first line, and a later line starts with RC:LINE
# (or RC: when no LINE is given).
bad () {
  cat >"$RC"
  mswatch -c "$RC" >"$T_DIR/o" 2>"$T_DIR/e" </dev/null
  local rc=$? first where
  first=$(head -n 1 "$T_DIR/e")
  if [ -n "${3:-}" ]; then where="$RC:$3:"; else where="$RC:"; fi
  if [ "$rc" -eq 1 ] && [ "$first" = "$2" ] && tail -n +2 "$T_DIR/e" | grep -qF -- "$where"; then
    ok "$1"
  else
    not_ok "$1"
    diag "exit $rc, want 1; want first line '$2' and a later '$where'; stderr:"
    diag "$(cat "$T_DIR/e")"
  fi
}

# good DESC: the config on stdin is accepted: mswatch starts both watchers and
# runs both startup syncs, then ends on SIGTERM with status 0.
good () {
  cat >"$RC"
  fresh_run
  start_ms
  if wait_until 10 startup_done && stop_ms && [ "$MS_STATUS" = 0 ]; then
    ok "$1"
  else
    stop_ms
    not_ok "$1"
    diag "stderr:" "$(cat "$T_DIR/err")"
  fi
}

# §12 5-7: missing and repeated pieces.
bad "no sync line" "Configuration file is missing field sync" <<EOF
store a { watch w }
store b { watch w }
EOF
bad "no stores" "Configuration file has no stores" <<EOF
sync s
EOF
bad "one store" "Configuration file has only one store (a); two are required" <<EOF
sync s
store a { watch w }
EOF
bad "three stores" "More than two store entries. Error on:" 4 <<EOF
sync s
store a { watch w }
store b { watch w }
store c { watch w3 x }
EOF
check "the third store's watch words are echoed on stdout" file_has "$T_DIR/o" "w3 x"
bad "two sync lines" "More than one entry of the same type. Error on:" 3 <<EOF
sync a b
store a { watch w }
sync c d
store b { watch w }
EOF
is "the second sync line is echoed on stdout as 1.2 did" "$(cat "$T_DIR/o")" "sync c d "
bad "two base_delay lines" "More than one entry of the same type. Error on:" 2 <<EOF
base_delay 1
base_delay 2
sync s
store a { watch w }
store b { watch w }
EOF
is "the second base_delay is echoed on stdout" "$(cat "$T_DIR/o")" "base_delay 2"
for d in "inter_delay 5" "max_delay 5" "poll_period 5" "mailbox_prefix p :"; do
  bad "two '${d%% *}' lines" "More than one entry of the same type. Error on:" 5 <<EOF
sync s
store a { watch w }
store b { watch w }
$d
$d
EOF
done
bad "two watch lines in one store (1.2 aborted)" "Multiple store entries of the same type" 4 <<EOF
sync s
store a {
  watch w
  watch w2
}
store b { watch w }
EOF
bad "a store without a watch line" "Error parsing configuration: syntax error." 2 <<EOF
sync s
store a { }
store b { watch w }
EOF

# §12 8-9: cross-field checks.
bad "base_delay above the default inter_delay" \
  "Configuration error: base_delay (61) > default inter_delay (60)" <<EOF
$SYNC
base_delay 61
store a { watch $W_A }
store b { watch $W_B }
EOF
good "base_delay equal to the default inter_delay is accepted" <<EOF
$SYNC
base_delay 60
store a { watch $W_A }
store b { watch $W_B }
EOF
bad "base_delay above a mailbox's inter_delay" \
  'Configuration error: base_delay (6) > inter_delay for mailbox "box1" (5)' <<EOF
$SYNC
inter_delay 5 box1
base_delay 6
store a { watch $W_A }
store b { watch $W_B }
EOF

# §12 10: lexing.
bad "'#' inside a word starts a comment (the '}' is lost)" \
  "Error parsing configuration: syntax error." 3 <<EOF
sync s
store a { watch w x#y z }
store b { watch w }
EOF
cat >"$RC" <<EOF
sync s
mailbox_prefix "p" ":"
store a { watch w }
store b { watch w }
EOF
mswatch -c "$RC" >"$T_DIR/o" 2>"$T_DIR/e" </dev/null
is "quotes: exit 1" "$?" 1
check "quotes: 1.2's warning" file_has "$T_DIR/e" "Unrecognized characters: '\"' (34). Ignoring."
check "quotes: a syntax error" file_has "$T_DIR/e" "Error parsing configuration: syntax error."
check "quotes: the location" file_has "$T_DIR/e" "$RC:2:"

for v in 10s -5 1.5 0x10; do
  bad "base_delay $v is a syntax error" "Error parsing configuration: syntax error." 2 <<EOF
sync s
base_delay $v
store a { watch w }
store b { watch w }
EOF
done
# (The test functions must not run in a pipeline's subshell: they count.)
printf 'sync s\r\nstore a { watch w }\r\nstore b { watch w }\r\n' >"$T_DIR/in"
bad "a CRLF file is refused" "Error parsing configuration: syntax error." 1 <"$T_DIR/in"
cat >"$RC" <<EOF
sync s \\
  more
store a { watch w }
store b { watch w }
EOF
mswatch -c "$RC" >"$T_DIR/o" 2>"$T_DIR/e" </dev/null
is "a backslash before a newline: exit 1" "$?" 1
check "a backslash before a newline: 1.2's warning" \
  file_has "$T_DIR/e" "Unrecognized characters: '\\' (92). Ignoring."
check "a backslash before a newline: a syntax error at line 1" file_has "$T_DIR/e" "$RC:1:"
bad "a keyword as an argument" "Error parsing configuration: syntax error." 1 <<EOF
sync prog store
store a { watch w }
store b { watch w }
EOF
bad "keywords are case-sensitive (Sync)" "Error parsing configuration: syntax error." 1 <<EOF
Sync s
store a { watch w }
store b { watch w }
EOF
bad "an unknown directive" "Error parsing configuration: syntax error." 4 <<EOF
sync s
store a { watch w }
store b { watch w }
frobnicate 3
EOF
bad "mailbox_prefix with one word" "Error parsing configuration: syntax error." 2 <<EOF
sync s
mailbox_prefix p
store a { watch w }
store b { watch w }
EOF
bad "mailbox_prefix with three words" "Error parsing configuration: syntax error." 2 <<EOF
sync s
mailbox_prefix p : x
store a { watch w }
store b { watch w }
EOF
bad "ignore without a mailbox" "Error parsing configuration: syntax error." 2 <<EOF
sync s
ignore
store a { watch w }
store b { watch w }
EOF

# The watch line's words as the watcher receives them: "a\ b c\d e\\f"
# gives "a b", "cd", "e\f"; the sync line: "\sync", "x{y", "z}w", "'", a
# number, and a comment glued to a word.
good "escapes, keywords as words, braces inside words, numbers as words" <<EOF
sync $(esc "$FAKE_SYNC" "$SYNC_DIR") \\sync x{y z}w it's 123 end#comment
store a { watch $(esc "$FAKE_WATCHER" "--argv=$T_DIR/argv" "$FIFO_A") a\\ b c\\d e\\\\f }
store b { watch $W_B }
EOF
is "the watcher's argv" "$(cat "$T_DIR/argv" 2>/dev/null)" "[--argv=$T_DIR/argv][$FIFO_A][a b][cd][e\\f]"
is "the sync program's argv" "$(sync_args 1)" "[sync][x{y][z}w][it's][123][end][INBOX]"

# §12 11: both store layouts, comments and blank lines anywhere, a missing
# final newline, directives after the stores, two stores with one name.
printf '%s\n' "# a comment" "" "store a" "" "# between the name and the brace" "{" "" \
  "  # inside" "  watch $W_A" "" "}" "store a {" "watch $W_B }   # trailing comment" \
  "$SYNC" "mailbox_prefix p :" "base_delay 0" "inter_delay 0" "poll_period 0" "max_delay 0" |
  sed '$ s/$/ # no newline after this/' | head -c -1 >"$T_DIR/in"
good "the multi-line store layout, with blank and comment lines" <"$T_DIR/in"
is "the prefix directive after the stores was read" "$(sync_args 1)" "[p:INBOX]"

bad "'} store b {...}' on one line" "Error parsing configuration: syntax error." 2 <<EOF
sync s
store a { watch w } store b { watch w }
EOF
bad "something after '}' on its line" "Error parsing configuration: syntax error." 2 <<EOF
sync s
store a { watch w } x
store b { watch w }
EOF

plan "$T_N"
