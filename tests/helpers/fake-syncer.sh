#!/bin/sh
# fake-syncer.sh — a scripted resident syncer (docs/protocol.md) for the
# coordinator tests.
#
# Usage (as the `syncer` line of a test config): fake-syncer.sh DIR
#
# DIR is the test's control directory.  The syncer appends to DIR/starts
#     start MS PID     when it starts
#     eof MS PID       when its stdin reaches EOF (it then exits 0)
#     term MS PID      when a SIGTERM arrives (it then exits 143)
# and, for every request, one line to DIR/log once it has decided what to
# do with it:
#     MS PID TAG [NAME] ACTION      (a request for one mailbox)
#     MS PID TAG * ACTION           (TAG SYNC: all mailboxes)
# MS is the wall clock in milliseconds.  Every final answer it sends is
# appended to DIR/answered as "MS TAG".
#
# DIR/greeting, when it exists, replaces the greeting
# "* MSWATCH-SYNCER 1 fake-syncer" with its first line; an empty file means
# no greeting at all.
#
# DIR/answers says what to do with each request, one "ACTION NAME" per line
# (NAME is the rest of the line, spaces included; "*" is the all-mailboxes
# request).  It is read at every request, so a test can change it between
# requests; the first line naming the mailbox wins, and a mailbox it does
# not name gets OK.  Actions:
#     OK        "TAG OK 1 0"
#     RETRY     "TAG RETRY fake temporary failure"
#     FAIL      "TAG FAIL fake permanent failure"
#     PROGRESS  "TAG PROGRESS 1/2 messages", then OK
#     HANG      never answer (other requests are still served)
#     HOLD      answer OK only when a RELEASE request comes
#     RELEASE   answer this request, then every held one, newest first
#     DIE       exit 3 at once, without answering
#     DIE1      DIE the first time any DIE1 request comes (DIR/died is
#               created then), OK afterwards
#     CLOSE     close stdout and keep reading stdin
#     JUNK      send malformed and unexpected lines, then OK (see below)
#     LONG      send a 9000-byte line, then OK
#     BADTEXT   "TAG FAIL caf\351 au lait" (Latin-1, not UTF-8)
set -u

dir=$1
hold=
greeting='* MSWATCH-SYNCER 1 fake-syncer'

now () { date +%s%3N; }

trap 'echo "term $(now) $$" >>"$dir/starts"; exit 143' TERM
echo "start $(now) $$" >>"$dir/starts"

if [ -e "$dir/greeting" ]; then
  greeting=
  IFS= read -r greeting <"$dir/greeting" || :
fi
[ -n "$greeting" ] && printf '%s\n' "$greeting"

# action_for NAME: the action DIR/answers gives NAME.
action_for () {
  action=OK
  [ -f "$dir/answers" ] || return 0
  while IFS= read -r rule; do
    if [ "${rule#* }" = "$1" ]; then
      action=${rule%% *}
      return 0
    fi
  done <"$dir/answers"
}

answer () {
  printf '%s\n' "$2"
  echo "$(now) $1" >>"$dir/answered"
}

while IFS= read -r line; do
  tag=${line%% *}
  rest=${line#* }
  if [ "$rest" = SYNC ] || [ "$line" = "$tag" ]; then
    name='*'
    shown='*'
  else
    name=${rest#SYNC }
    shown="[$name]"
  fi
  action_for "$name"
  if [ "$action" = DIE1 ]; then
    if [ -e "$dir/died" ]; then action=OK; else : >"$dir/died"; action=DIE; fi
  fi
  echo "$(now) $$ $tag $shown $action" >>"$dir/log"
  case "$action" in
    OK) answer "$tag" "$tag OK 1 0" ;;
    RETRY) answer "$tag" "$tag RETRY fake temporary failure" ;;
    FAIL) answer "$tag" "$tag FAIL fake permanent failure" ;;
    PROGRESS)
      printf '%s PROGRESS 1/2 messages\n' "$tag"
      answer "$tag" "$tag OK 2 0" ;;
    HANG) ;;
    HOLD) hold="$tag $hold" ;;
    RELEASE)
      answer "$tag" "$tag OK 1 0"
      for h in $hold; do answer "$h" "$h OK 1 0"; done
      hold= ;;
    DIE) exit 3 ;;
    CLOSE) exec >&- ;;
    JUNK)
      printf 'hello world\n'
      printf 'zz99 OK 1 2\n'
      printf '%s OK x 2\n' "$tag"
      printf '%s\n' "$tag"
      printf '* MSWATCH-SYNCER 1 again\n'
      printf '* informational text\n'
      printf '%s PROGRESS bad\001char\n' "$tag"
      printf '\377\376\n'
      answer "$tag" "$tag OK 1 0" ;;
    BADTEXT) answer "$tag" "$(printf '%s FAIL caf\351 au lait' "$tag")" ;;
    LONG)
      head -c 9000 /dev/zero | tr '\0' x
      printf '\n'
      answer "$tag" "$tag OK 1 0" ;;
    *) echo "fake-syncer: unknown action $action" >&2; exit 64 ;;
  esac
done
echo "eof $(now) $$" >>"$dir/starts"
exit 0
