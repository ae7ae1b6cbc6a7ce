#!/bin/sh
# scripted-imap.sh SCENARIO LOG: a scripted IMAP "server" on stdin and
# stdout, run as an mbsync Tunnel, for what a real server does not do:
# malformed or hostile responses, and authentication exchanges to record.
#
# It serves one mailbox, INBOX, with two messages, answering just enough of
# IMAP4rev1 for a sync (CAPABILITY, LIST, SELECT, UID FETCH, APPEND with a
# LITERAL+ literal, which it takes and forgets, LOGOUT; any other command
# gets OK), and appends every line it receives (without the CR; literals
# left out) to LOG.  SCENARIO changes one thing:
#
#   good             nothing: a sync against it succeeds
#   garbage          junk bytes right after the greeting
#   bad-fetch        the listing's FETCH response has an unclosed list
#   literal-short    a body literal announced larger than what is sent,
#                    after which the server hangs up
#   literal-long     a body literal announced smaller than what is sent
#   huge-literal     a body literal claiming 100 GB
#   size-low         RFC822.SIZE in the listing half the bodies' sizes
#   vanish           message 2 is listed, but a FETCH of its body answers
#                    nothing for it (as if expunged in between)
#   bye              BYE in answer to SELECT, then the server hangs up
#   slow-select      SELECT is answered after $SCRIPTED_STALL_S seconds
#   select-no        SELECT is answered NO
#   evil-list        LIST answers with names that climb out of any root
#   append-hangup    on reading an APPEND command (its literal still
#                    coming) the server creates LOG.append and exits, for
#                    the test to cut the connection there
#   xoauth2          a greeting that offers AUTH=XOAUTH2 and
#                    AUTH=OAUTHBEARER (no PREAUTH), without SASL-IR: the
#                    initial response comes after a "+"
#   xoauth2-ir       the same with SASL-IR
#   xoauth2-reject   the same as xoauth2, but the token is refused the way
#                    Gmail refuses one: a "+" with an error, then NO
#
# Without a login scenario the greeting is PREAUTH.

scenario=$1
log=$2
: >> "$log"
cr=$(printf '\r')

# line TEXT...: sends each argument as one line with CRLF.
line () {
  printf '%s\r\n' "$@"
}

body1=$(printf 'Message-ID: <one@scripted.test>\r\nSubject: one\r\n\r\nThe first body.\r\n.')
body1=${body1%.}
body2=$(printf 'Message-ID: <two@scripted.test>\r\nSubject: two\r\n\r\nThe second body.\r\n.')
body2=${body2%.}
size1=${#body1}
size2=${#body2}

caps="IMAP4rev1 LITERAL+ UIDPLUS"
case $scenario in
  xoauth2|xoauth2-reject) line "* OK [CAPABILITY $caps AUTH=XOAUTH2 AUTH=OAUTHBEARER] scripted server ready" ;;
  xoauth2-ir) line "* OK [CAPABILITY $caps AUTH=XOAUTH2 AUTH=OAUTHBEARER SASL-IR] scripted server ready" ;;
  *) line "* PREAUTH [CAPABILITY $caps] scripted server ready" ;;
esac
if [ "$scenario" = garbage ]; then
  printf '\001\002\377 ((( {5}\r\n]]]\r\n'
fi

# fetch_body UID: one FETCH response with the body of message UID, as the
# scenario wants it.
fetch_body () {
  local body size
  if [ "$1" = 1 ]; then body=$body1 size=$size1; else body=$body2 size=$size2; fi
  case $scenario in
    literal-short)
      printf '* %s FETCH (UID %s BODY[] {%s}\r\n%s' "$1" "$1" $((size + 500)) "$body"
      exit 0 ;;
    literal-long) size=$((size - 20)) ;;
    huge-literal) size=100000000000 ;;
  esac
  printf '* %s FETCH (UID %s BODY[] {%s}\r\n%s)\r\n' "$1" "$1" "$size" "$body"
}

# authenticate TAG ARGS: the AUTHENTICATE exchange.
authenticate () {
  local tag=$1 args=$2 response
  case $args in
    *" "*) ;;
    *)
      # No initial response: ask for it.
      line "+ "
      IFS= read -r response || exit 0
      printf '%s\n' "${response%"$cr"}" >> "$log"
      ;;
  esac
  if [ "$scenario" = xoauth2-reject ]; then
    line "+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0="
    IFS= read -r response || exit 0
    printf '%s\n' "${response%"$cr"}" >> "$log"
    line "$tag NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"
    return
  fi
  line "$tag OK [CAPABILITY $caps] authenticated"
}

while IFS= read -r input; do
  input=${input%"$cr"}
  printf '%s\n' "$input" >> "$log"
  tag=${input%% *}
  cmd=${input#* }
  case $cmd in
    CAPABILITY)
      line "* CAPABILITY $caps" "$tag OK done" ;;
    "AUTHENTICATE "*)
      authenticate "$tag" "${cmd#AUTHENTICATE }" ;;
    'LIST "" ""')
      line '* LIST (\Noselect) "/" ""' "$tag OK done" ;;
    "LIST "*)
      if [ "$scenario" = evil-list ]; then
        line '* LIST () "/" "../evil"' '* LIST () "/" "a/../../b"' '* LIST () "/" "INBOX/../../c"' \
          '* LIST () "/" ".."' '* LIST () "/" "/tmp"'
      fi
      line '* LIST () "/" INBOX' "$tag OK done" ;;
    "SELECT "*|"EXAMINE "*)
      if [ "$scenario" = bye ]; then
        line "* BYE going away now"
        exit 0
      fi
      [ "$scenario" != slow-select ] || sleep "$SCRIPTED_STALL_S"
      if [ "$scenario" = select-no ]; then
        line "$tag NO Permission denied"
        continue
      fi
      line "* 2 EXISTS" "* OK [UIDVALIDITY 7] ok" "* OK [UIDNEXT 3] ok" "$tag OK [READ-WRITE] done" ;;
    "UID FETCH "*"BODY.PEEK[]"*)
      case $cmd in
        *" 1:2 "*|*" 1,2 "*) fetch_body 1; [ "$scenario" = vanish ] || fetch_body 2 ;;
        *" 1 "*) fetch_body 1 ;;
        *" 2 "*) [ "$scenario" = vanish ] || fetch_body 2 ;;
      esac
      line "$tag OK done" ;;
    "UID FETCH "*)
      listed1=$size1 listed2=$size2
      if [ "$scenario" = size-low ]; then
        listed1=$((size1 / 2)) listed2=$((size2 / 2))
      fi
      if [ "$scenario" = bad-fetch ]; then
        line "* 1 FETCH (UID 1 FLAGS (\\Seen RFC822.SIZE $listed1"
      else
        line "* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE $listed1)"
      fi
      line "* 2 FETCH (UID 2 FLAGS () RFC822.SIZE $listed2)" "$tag OK done" ;;
    "APPEND "*"{"*"+}")
      if [ "$scenario" = append-hangup ]; then
        : > "$log.append"
        exit 0
      fi
      # The literal, byte by byte (a larger block could read past it), and
      # the CRLF after it.
      size=${cmd##*\{}
      size=${size%+\}}
      dd bs=1 count="$size" of=/dev/null 2>/dev/null
      IFS= read -r input
      line "$tag OK [APPENDUID 7 3] done" ;;
    LOGOUT)
      line "* BYE bye" "$tag OK done"
      exit 0 ;;
    *)
      line "$tag OK done" ;;
  esac
done
exit 0
