#!/bin/sh
# t0300-watch-maildirs.sh — watch_maildirs on real Maildir trees (spec §8 and
# §12 item 30): options and start-up errors, what is and is not reported in
# the Maildir++ and verbatim layouts, folders created, renamed and deleted at
# run time, and the exits (base deleted, event queue overflow, reader gone).
#
# The watcher runs in the background with its output in a file.  After each
# action the test touches a message into a barrier folder and waits for that
# folder's name: inotify delivers one queue in order, so every line the
# action caused comes before it, and the lines in between can be compared
# exactly — including "nothing at all".

. "$top_srcdir/tests/lib/test-lib.sh"

WM=$top_builddir/watch_maildirs
[ -x "$WM" ] || skip_all "watch_maildirs is not built"
command -v timeout >/dev/null 2>&1 || skip_all "timeout(1) is missing"

plan 64

SAME_INODE_TAIL='". Either there are multiple paths to the inode (not supported) or the underlying filesystem is quickly changing (restart).'

mkmaildir () { for d in "$@"; do mkdir -p "$d/cur" "$d/new" "$d/tmp"; done; }

# once COMMAND...: runs COMMAND (watch_maildirs, or env ... watch_maildirs)
# to completion under a deadline; sets RC, OUT and ERR.
once () {
  timeout 10 "$@" > "$T_DIR/once.out" 2> "$T_DIR/once.err" < /dev/null
  RC=$?
  OUT=$(cat "$T_DIR/once.out")
  ERR=$(cat "$T_DIR/once.err")
}

# spawn NAME ARGS...: starts watch_maildirs in the background with its output
# in $T_DIR/NAME.out and .err and its exit status, once it exits, in
# $T_DIR/NAME.rc; sets PID.  Returns when the start newline has been written.
spawn () {
  local name=$1; shift
  rm -f "$T_DIR/$name.pid" "$T_DIR/$name.rc"
  (
    sh -c 'echo $$ > "$0"; exec "$@"' "$T_DIR/$name.pid" "$WM" "$@" \
      > "$T_DIR/$name.out" 2> "$T_DIR/$name.err" < /dev/null
    echo $? > "$T_DIR/$name.rc"
  ) > /dev/null &
  wait_until 10 test -s "$T_DIR/$name.pid" || return 1
  PID=$(cat "$T_DIR/$name.pid")
  # Wait for the status file too, or it may land after the scratch
  # directory has been removed.
  at_exit "kill $PID; wait_until 5 exited $name"
  WOUT=$T_DIR/$name.out
  MARK=1 # lines of WOUT already looked at: the start newline
  wait_until 10 test -s "$WOUT"
}

exited () { test -s "$T_DIR/$1.rc"; }

# The barrier: a folder whose name ends every expected list.
BARRIER=""
BNAME=""
NB=0
new_lines () { awk -v m="$MARK" 'NR > m' "$WOUT"; }
barrier_seen () { new_lines | grep -qxF -- "$BNAME"; }

# expect DESC LINE...: the actions done since the last expect made the
# watcher print exactly LINE... (nothing, if none are given).
expect () {
  local desc=$1 got n; shift
  NB=$((NB + 1))
  : > "$BARRIER/new/b$NB"
  if wait_until 10 barrier_seen; then
    got=$(new_lines | awk -v b="$BNAME" '$0 == b { exit } { print }')
    n=$(new_lines | awk -v b="$BNAME" '{ n++ } $0 == b { print n; exit }')
    MARK=$((MARK + n))
  else
    got="(barrier $BNAME never printed; output: $(new_lines | tr '\n' '|'))"
  fi
  is "$desc" "$got" "$(printf '%s\n' "$@")"
}

# ---- options -----------------------------------------------------------

once "$WM" -V
is "-V prints the backend" "$(echo "$OUT" | sed -n 1p)" "watch_maildirs (inotify)"
case $(echo "$OUT" | sed -n 2p) in
  "mswatch-ng "[0-9]*) ok "-V prints the version" ;;
  *) not_ok "-V prints the version"; diag "$OUT" ;;
esac
is "-V exits 1, as 1.2 did" "$RC" 1

once "$WM" --help
check "--help lists -m, --maildir=DIR and exits 0" \
  test "$RC" = 0 -a -n "$(echo "$OUT" | grep -F -- '-m, --maildir=DIR')"

once "$WM" --bogus
check "an unknown option is a GOption error with exit 1, not an abort" \
  test "$RC" = 1 -a -n "$(echo "$ERR" | grep -F 'Unknown option --bogus')"

once "$WM" x
is "an extra argument is refused" "$RC:$ERR" '1:Unknown arguments starting with "x"'

once "$WM" --layout=mh -m "$T_DIR"
check "an unknown layout is refused" test "$RC" = 1 -a -n "$(echo "$ERR" | grep -F '"mh"')"

# ---- start-up errors -----------------------------------------------------

once "$WM" -m "$T_DIR/none"
is "a missing Maildir: 1.2's message, exit 1, no start newline" "$RC:$OUT:$ERR" \
  "1::inotify_add_watch(\"$T_DIR/none\"): No such file or directory"

mkdir -p "$T_DIR/plain/cur"
once "$WM" -m "$T_DIR/plain"
is "a directory without cur/ and new/ is not a Maildir" "$RC:$OUT:$ERR" \
  "1::Error: \"$T_DIR/plain\" is not a Maildir"

mkmaildir "$T_DIR/coll" "$T_DIR/coll/.INBOX" "$T_DIR/coll/.other"
once "$WM" -m "$T_DIR/coll"
is "a .INBOX folder collides with INBOX" "$RC:$OUT:$ERR" \
  "1::IMAP folder name collision between INBOX and the Maildir .INBOX"

mkmaildir "$T_DIR/sym" "$T_DIR/sym/.foo"
ln -s .foo "$T_DIR/sym/.lnk"
once "$WM" -m "$T_DIR/sym"
case "$ERR" in
  "Encountered the same inode multiple times, while starting to watch IMAP folder \"lnk$SAME_INODE_TAIL" | \
  "Encountered the same inode multiple times, while starting to watch IMAP folder \"foo$SAME_INODE_TAIL")
    is "a symlinked folder is the same inode twice: exit 1" "$RC:$OUT" "1:" ;;
  *) not_ok "a symlinked folder is the same inode twice"; diag "rc $RC, stderr: $ERR" ;;
esac

# Which Maildir: -m, then $MAILDIR, then $HOME/Maildir.
once "$WM" -m "$T_DIR/by-option"
is "-m names the Maildir" "$ERR" "inotify_add_watch(\"$T_DIR/by-option\"): No such file or directory"
once env MAILDIR="$T_DIR/by-env" HOME="$T_DIR/home" "$WM" -m "$T_DIR/by-option"
is "-m overrides \$MAILDIR" "$ERR" "inotify_add_watch(\"$T_DIR/by-option\"): No such file or directory"
once env MAILDIR="$T_DIR/by-env" HOME="$T_DIR/home" "$WM"
is "\$MAILDIR overrides ~/Maildir" "$ERR" "inotify_add_watch(\"$T_DIR/by-env\"): No such file or directory"
once env -u MAILDIR HOME="$T_DIR/home" "$WM"
is "~/Maildir is the default" "$ERR" \
  "inotify_add_watch(\"$T_DIR/home/Maildir\"): No such file or directory"

# ---- Maildir++ -----------------------------------------------------------

M=$T_DIR/M
mkmaildir "$M" "$M/.foo" "$M/.foo.bar" "$M/.zz-barrier"
mkdir -p "$M/.newf" "$M/plain/cur" "$M/plain/new"
mkmaildir "$T_DIR/elsewhere"
ln -s ../elsewhere "$M/.ext"
BARRIER=$M/.zz-barrier
BNAME=zz-barrier

spawn pp -m "$M"
check "the start message is one newline, and nothing else" \
  sh -c 'printf "\n" | cmp -s - "$1"' sh "$WOUT"

echo body > "$M/tmp/x"
expect "writing in tmp/ prints nothing"
mv "$M/tmp/x" "$M/new/x"
expect "mv tmp/x new/x prints INBOX" INBOX
mv "$M/new/x" "$M/cur/x:2,S"
expect "mv new/x cur/x:2,S prints INBOX twice" INBOX INBOX
mv "$M/cur/x:2,S" "$M/cur/x:2,RS"
expect "a flag rename in cur/ prints INBOX twice" INBOX INBOX
: > "$M/.foo.bar/new/m1"
expect "a new message in .foo.bar/new prints foo.bar" foo.bar
: > "$T_DIR/elsewhere/new/m"
expect "a folder that is a symlink to a directory elsewhere is followed" ext
touch "$M/cur/x:2,RS"
chmod 600 "$M/cur/x:2,RS"
echo more >> "$M/cur/x:2,RS"
expect "touch, chmod and appending print nothing"
: > "$M/dovecot-uidlist"
: > "$M/.foo/maildirfolder"
: > "$M/.newf/new-file"
mkdir "$M/.newf/sub" "$M/plain/new/sub"
expect "files in the roots and non-folders print nothing"
ln "$M/.foo.bar/new/m1" "$M/.foo.bar/new/m2"
expect "a hard link in new/ prints once" foo.bar
mkdir "$M/cur/d"
rmdir "$M/cur/d"
expect "mkdir and rmdir inside cur/ print once each" INBOX INBOX

mkdir -p "$M/.n3/cur" "$M/.n3/new" "$M/.n3/tmp"
expect "creating .n3/{cur,new,tmp} prints n3" n3
: > "$M/.n3/new/m"
expect "later changes in .n3 are reported" n3
mkdir "$M/.n5"
expect "a new .n5 without cur/ and new/ prints nothing"
mkdir "$M/.n5/cur"
expect "... nor with cur/ alone"
mkdir "$M/.n5/new"
expect "... and n5 once new/ appears too" n5
: > "$M/.n5/new/m"
expect "changes in .n5 are reported" n5
mv "$M/.n3" "$M/.n4"
expect "mv .n3 .n4 prints n3 then n4" n3 n4
mv "$M/.n4/new/m" "$M/.n4/cur/m:2,"
expect "the renamed folder is watched under its new name" n4 n4
rm "$M/.n4/cur/m:2,"
expect "deleting a message prints the folder" n4
rm -r "$M/.n4"
expect "deleting the folder prints its name once" n4
mkdir -p "$M/.n4/cur" "$M/.n4/new"
expect "a folder of the same name can come back" n4
rmdir "$M/.n5/cur"
expect "a folder that loses cur/ is reported as gone" n5
: > "$M/.n5/new/m2"
expect "... after which its new/ is not reported"
mkdir "$M/.n5/cur"
expect "... until cur/ is back" n5

mkmaildir "$M/.with space" "$M/.a&b" "$M/.Überweisung"
: > "$M/.with space/new/m"
expect "names are printed verbatim: spaces, &, UTF-8" "with space" "a&b" "Überweisung" "with space"

kill -STOP "$PID"
: > "$M/new/while-stopped"
kill -CONT "$PID"
expect "events queued while stopped are still reported" INBOX

mv "$M" "$T_DIR/M2"
M=$T_DIR/M2
BARRIER=$M/.zz-barrier
: > "$M/new/after-rename"
expect "a renamed base Maildir is still watched, as in 1.2" INBOX

is "nothing was written to stderr" "$(cat "$T_DIR/pp.err")" ""
mkmaildir "$M/$(printf '.bad\nname')"
expect "a directory whose name would break the line protocol is not watched"
check "... and a warning says so" \
  grep -qF 'not watching ".bad\x0aname": mailbox name contains control character' "$T_DIR/pp.err"
nerr=$(wc -l < "$T_DIR/pp.err")
rm -rf "$M"
if wait_until 10 exited pp; then
  is "deleting the base Maildir ends it with status 1 and no message" \
    "$(cat "$T_DIR/pp.rc"):$(sed -n "$((nerr + 1)),\$p" "$T_DIR/pp.err")" "1:"
else
  not_ok "deleting the base Maildir ends it"
fi

# ---- verbatim layout ---------------------------------------------------------

V=$T_DIR/V
mkmaildir "$V" "$V/a" "$V/a/b" "$V/c/d" "$V/.hidden" "$V/zz-barrier"
BARRIER=$V/zz-barrier
BNAME=zz-barrier

spawn vb --layout=verbatim -m "$V"
check "verbatim: the start message is one newline" sh -c 'printf "\n" | cmp -s - "$1"' sh "$WOUT"
: > "$V/new/m"
: > "$V/a/b/new/m"
: > "$V/c/d/cur/m:2,S"
expect "verbatim: nested folders are named a/b" INBOX a/b c/d
: > "$V/.hidden/new/m"
: > "$V/c/file"
mkdir "$V/c/e"
expect "verbatim: hidden directories and non-folders print nothing"
mkdir -p "$V/a/b/cur/x/cur" "$V/a/b/cur/x/new"
expect "verbatim: a directory inside cur/ is a change, never a folder" a/b
mkdir -p "$V/e/f/cur" "$V/e/f/new"
expect "verbatim: a folder created at run time, below a new directory" e/f
: > "$V/e/f/new/m"
expect "verbatim: ... is watched" e/f
mv "$V/a" "$V/z"
expect "verbatim: renaming a/ reports the old folders, then the new ones" a a/b z z/b
: > "$V/z/b/new/m2"
expect "verbatim: a renamed subtree is watched under its new names" z/b
rm "$V/z/b/new/"*
expect "verbatim: deleting messages" z/b z/b
rm -r "$V/z"
NB=$((NB + 1))
: > "$V/zz-barrier/new/b$NB"
wait_until 10 barrier_seen
is "verbatim: deleting a subtree reports each folder once" \
  "$(new_lines | awk '$0 == "zz-barrier" { exit } { print }' | sort | tr '\n' ' ')" "z z/b "
is "verbatim: nothing was written to stderr" "$(cat "$T_DIR/vb.err")" ""

mkmaildir "$T_DIR/V2/x"
spawn v2 --layout=verbatim -m "$T_DIR/V2"
: > "$T_DIR/V2/x/new/m"
check "verbatim: the base need not be a Maildir" wait_until 10 grep -qx x "$WOUT"

# ---- exits -------------------------------------------------------------

# A symlink to a watched folder appearing at run time: the same message as at
# start-up, but exit 2, since it may also mean a rename we have not read yet.
R=$T_DIR/R
mkmaildir "$R" "$R/.foo"
spawn rt -m "$R"
ln -s .foo "$R/.lnk"
if wait_until 10 exited rt; then
  is "a second path to a folder at run time exits 2" "$(cat "$T_DIR/rt.rc")" 2
  check "... with 1.2's message" grep -qF \
    "Encountered the same inode multiple times, while starting to watch IMAP folder \"lnk$SAME_INODE_TAIL" \
    "$T_DIR/rt.err"
else
  not_ok "a second path to a folder at run time ends the watcher"
  not_ok "... with 1.2's message"
fi

# Closing our end of a FIFO while the watcher has nothing to say: it must
# notice by itself (POLLERR) and exit 0.
mkmaildir "$T_DIR/F"
mkfifo "$T_DIR/fifo"
exec 3<> "$T_DIR/fifo"
(
  sh -c 'echo $$ > "$0"; exec "$@"' "$T_DIR/fifo.pid" "$WM" -m "$T_DIR/F" \
    > "$T_DIR/fifo" 2> "$T_DIR/fifo.err" < /dev/null
  echo $? > "$T_DIR/fifo.rc"
) > /dev/null 3<&- &
wait_until 10 test -s "$T_DIR/fifo.pid" && at_exit "kill $(cat "$T_DIR/fifo.pid"); wait_until 5 exited fifo"
first=$(timeout 10 head -c 1 <&3 | od -An -c | tr -d ' ')
is "through a FIFO: the start newline arrives" "$first" '\n'
exec 3>&-
if wait_until 10 exited fifo; then
  is "an idle watcher exits 0 once its reader is gone" "$(cat "$T_DIR/fifo.rc")" 0
else
  not_ok "an idle watcher exits once its reader is gone"
fi

# Overflow: stop the watcher, queue more events than the kernel keeps, and
# let it go on; it must say so and exit 2.
maxq=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 0)
if [ "$maxq" -gt 0 ] && [ "$maxq" -le 100000 ]; then
  O=$T_DIR/O
  mkmaildir "$O"
  spawn ov -m "$O"
  kill -STOP "$PID"
  n=$((maxq / 2 + 100))
  (cd "$O/new" && seq -f 'm%g' 1 "$n" | xargs touch && seq -f 'm%g' 1 "$n" | xargs rm -f)
  kill -CONT "$PID"
  if wait_until 20 exited ov; then
    check "an event queue overflow exits 2 with a message" \
      test "$(cat "$T_DIR/ov.rc")" = 2 -a -n "$(grep -F 'overflowed' "$T_DIR/ov.err")"
  else
    not_ok "an event queue overflow ends the watcher"
  fi
else
  ok "# SKIP fs.inotify.max_queued_events is $maxq"
fi
