#!/bin/sh
# mswatch's command line (spec §2, §12 items 1-4): help, version, stray
# arguments, bad options and the config file's default path.
. "$top_srcdir/tests/lib/test-lib.sh"
. "$top_srcdir/tests/helpers/coord-lib.sh"

# run ARGS...: mswatch in the foreground; status in RC_, output in files.
run () {
  mswatch "$@" >"$T_DIR/o" 2>"$T_DIR/e" </dev/null
  RC_=$?
}

# 1. Help on stdout, exit 0, with 1.2's option lines.
run --help
is "--help exits 0" "$RC_" 0
for opt in "-c, --config=FILE" "-d, --dry" "-q, --quiet" "-V, --version"; do
  check "--help lists $opt" file_has "$T_DIR/o" "$opt"
done
check "--help names the program's purpose" \
  file_has "$T_DIR/o" "watch mailstores for changes and initiate mailbox syncs"
run -h
is "-h exits 0" "$RC_" 0
check "-h prints the same help" file_has "$T_DIR/o" "-q, --quiet"
run '-?'
is "-? exits 0 (the man page's spelling)" "$RC_" 0
run --help-all
is "--help-all exits 0" "$RC_" 0

# 2. -V prints the version and exits 1, as 1.2 did.
run -V
is "-V exits 1" "$RC_" 1
check "-V prints 'mswatch VERSION' on stdout" grep -qE '^mswatch [0-9]+\.[0-9]+' "$T_DIR/o"
run --version
is "--version exits 1" "$RC_" 1

# 3. A positional argument.
run extra more
is "an extra argument exits 1" "$RC_" 1
is "it is named on stderr" "$(head -n 1 "$T_DIR/e")" 'Unknown arguments starting with "extra"'

# 1.2 aborted (134) on an unknown option or a missing option argument.
run --no-such-option
is "an unknown option exits 1, not 134" "$RC_" 1
check "the unknown option is named on stderr" file_has "$T_DIR/e" "--no-such-option"
run -c
is "-c without its argument exits 1" "$RC_" 1
check "the missing argument is reported" test -s "$T_DIR/e"

# 4. The config file cannot be opened.
run -c /nonexistent
is "a missing -c file exits 1" "$RC_" 1
is "its message is 1.2's" "$(cat "$T_DIR/e")" \
  'Unable to open configuration file "/nonexistent": No such file or directory'

mkdir "$T_DIR/home"
HOME="$T_DIR/home" run
is "no -c and no ~/.mswatchrc exits 1" "$RC_" 1
is "the default path is \$HOME/.mswatchrc" "$(cat "$T_DIR/e")" \
  "Unable to open configuration file \"$T_DIR/home/.mswatchrc\": No such file or directory"

HOME=/x run
is "with HOME=/x the path is /x/.mswatchrc" "$(cat "$T_DIR/e")" \
  'Unable to open configuration file "/x/.mswatchrc": No such file or directory'

# A relative -c is relative to the working directory.
(cd "$T_DIR/home" && mswatch -c nosuch.rc >"$T_DIR/o" 2>"$T_DIR/e" </dev/null)
is "a relative -c path is reported as given" "$(cat "$T_DIR/e")" \
  'Unable to open configuration file "nosuch.rc": No such file or directory'

mkdir "$T_DIR/dir.rc"
run -c "$T_DIR/dir.rc"
is "a directory as config file exits 1" "$RC_" 1
check "its reason is given" file_has "$T_DIR/e" "Is a directory"

plan "$T_N"
