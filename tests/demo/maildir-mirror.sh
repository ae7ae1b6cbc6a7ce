#!/bin/sh
# maildir-mirror.sh A B [MAILBOX...] — the demo's sync program.
#
# A stand-in for mbsync that mswatch can drive: for each mailbox named (INBOX
# is the Maildir root, FOLDER is .FOLDER; the empty name means every folder),
# copy each message that one side has and the other lacks, delivering it the
# Maildir way (write to tmp/, then rename into new/).  Messages are matched by
# the part of the file name before ':'.  It never deletes anything.
set -eu
a=$1 b=$2
shift 2

folders () {
  echo INBOX
  for d in "$a"/.*/ "$b"/.*/; do
    n=$(basename "$d")
    case "$n" in .|..|".*") continue ;; esac
    [ -d "$d/cur" ] && echo "${n#.}"
  done | sort -u
}

dir_of () { if [ "$2" = INBOX ]; then echo "$1"; else echo "$1/.$2"; fi; }

copy_missing () { # FROM TO
  mkdir -p "$2/tmp" "$2/new" "$2/cur"
  for f in "$1"/new/* "$1"/cur/*; do
    [ -f "$f" ] || continue
    base=$(basename "$f"); key=${base%%:*}
    if ! ls "$2/new/$key"* "$2/cur/$key"* >/dev/null 2>&1; then
      cp "$f" "$2/tmp/$key" && mv "$2/tmp/$key" "$2/new/$key"
      echo "  copied $key -> $2"
    fi
  done
}

if [ $# -eq 0 ] || { [ $# -eq 1 ] && [ -z "$1" ]; }; then
  set -- $(folders)
fi
for box in "$@"; do
  copy_missing "$(dir_of "$a" "$box")" "$(dir_of "$b" "$box")"
  copy_missing "$(dir_of "$b" "$box")" "$(dir_of "$a" "$box")"
done
