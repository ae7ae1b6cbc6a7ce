# sync-lib.sh — shared by the sync_imap integration tests (t071x); source it
# after tests/lib/test-lib.sh and tests/lib/dovecot.sh.
#
# It writes mbsyncrc files for the three ways to reach the test Dovecot
# (IMAPS, STARTTLS, the preauth Tunnel), runs sync_imap with its output in a
# log file, and reads both sides of a sync the same way, so that tests
# compare like with like:
#
#   sync_local DIR     "MESSAGE-ID FLAGS" per message of a Maildir folder
#   sync_server FOLDER "MESSAGE-ID FLAGS" per message of a server folder
#
# FLAGS are Maildir letters in ASCII order (DFPRST) on both sides: \Draft D,
# \Flagged F, $Forwarded P, \Answered R, \Seen S, \Deleted T.  Lines are
# sorted (bytewise, whatever the locale), so two lists are equal exactly
# when both sides hold the same messages with the same flags, and a
# duplicate shows as a repeated line.
#
# Local messages are made and changed the way a mail reader does: a new
# message is a file in new/ (or cur/ with flags) without a ",U=" field, a
# flag change is a rename within cur/, a deletion is an unlink.

SYNC_HELPERS=$top_srcdir/tests/helpers
SYNC_RC=
SYNC_LOG=

command -v sync_imap >/dev/null 2>&1 || skip_all "sync_imap is not built"

# sync_account KIND: the IMAPAccount lines for imaps, starttls, tunnel,
# tunnel-noappenduid or tunnel-logged.
sync_account () {
  case $1 in
    imaps)
      printf '%s\n' "Host 127.0.0.1" "Port $DOVECOT_IMAPS_PORT" "User $DOVECOT_USER" \
        "Pass $DOVECOT_PASS" "SSLType IMAPS" "SystemCertificates no" "CertificateFile $DOVECOT_CA" ;;
    starttls)
      printf '%s\n' "Host 127.0.0.1" "Port $DOVECOT_IMAP_PORT" "User $DOVECOT_USER" \
        "Pass $DOVECOT_PASS" "SSLType STARTTLS" "SystemCertificates no" "CertificateFile $DOVECOT_CA" ;;
    tunnel)
      printf 'Tunnel "%s"\n' "$(dovecot_preauth_cmd)" ;;
    tunnel-noappenduid)
      # The same, with no APPENDUID in the server's answers (see
      # sync-no-appenduid.sh).
      printf 'Tunnel "sh %s %s"\n' "$SYNC_HELPERS/sync-no-appenduid.sh" "$(dovecot_preauth_cmd)" ;;
    tunnel-logged)
      # The same, with every byte sync_imap sends appended to
      # $T_DIR/client.log.  imap makes its stdin and stdout non-blocking;
      # were its stdout the tunnel socket, tee would share that and fail
      # with EAGAIN, so cat stands between them.
      printf 'Tunnel "tee -a %s | %s | cat"\n' "$T_DIR/client.log" "$(dovecot_preauth_cmd)" ;;
    *)
      # Anything else is taken as the account lines themselves.
      printf '%s\n' "$1" ;;
  esac
}

# sync_write_rc FILE KIND LAYOUT ROOT [CHANNEL-LINE...]: an mbsyncrc with
# one channel "c" between the IMAPStore "far" and the MaildirStore "near"
# rooted at ROOT (LAYOUT Verbatim: INBOX is ROOT/INBOX; Maildir++: ROOT is
# the INBOX).  Without channel lines the channel syncs every folder both
# ways, creating folders on both sides, with the state in each folder.
# ROOT is created.  (mbsync refuses Path with Maildir++: there, as in
# mbsync, the folders live below the Inbox.)
sync_write_rc () {
  local file=$1 kind=$2 layout=$3 root=$4 store
  shift 4
  [ $# -gt 0 ] || set -- "Patterns *" "Create Both" "SyncState *"
  case $layout in
    Maildir++) store="Inbox $root" ;;
    *) store="Path $root/
Inbox $root/INBOX" ;;
  esac
  {
    echo "IMAPAccount acct"
    sync_account "$kind"
    printf '\nIMAPStore far\nAccount acct\n\n'
    printf 'MaildirStore near\n%s\nSubFolders %s\n\n' "$store" "$layout"
    printf 'Channel c\nFar :far:\nNear :near:\n'
    printf '%s\n' "$@"
  } > "$file"
  mkdir -p "$root"
}

# sync_run LOG ARG...: runs sync_imap ARG... with stdout and stderr in LOG;
# SYNC_RC gets its exit status (above 128: killed by a signal) and SYNC_LOG
# the log's name.
sync_run () {
  SYNC_LOG=$1
  shift
  sync_imap "$@" > "$SYNC_LOG" 2>&1
  SYNC_RC=$?
}

# sync_pulled LOG / sync_pushed LOG: the messages a -V run reports as
# pulled (stored in the Maildir) or pushed (appended to the server).
sync_pulled () { sed -n 's/^sync_imap: .*: \([0-9]*\) pulled, .*/\1/p' "$1" | awk '{ n += $1 } END { print n + 0 }'; }
sync_pushed () { sed -n 's/^sync_imap: .*: [0-9]* pulled, \([0-9]*\) pushed, .*/\1/p' "$1" | awk '{ n += $1 } END { print n + 0 }'; }

# sync_count DIR: the messages (files in cur/ and new/) of a Maildir folder.
sync_count () {
  find "$1/cur" "$1/new" -maxdepth 1 -type f 2>/dev/null | wc -l | tr -d ' '
}

# sync_names DIR: the file names of a folder's messages, sorted (to see
# that a run renamed nothing).
sync_names () {
  find "$1/cur" "$1/new" -maxdepth 1 -type f 2>/dev/null | sed 's|^.*/\(new\|cur\)/|\1/|' | LC_ALL=C sort
}

# sync_files DIR: the paths of a folder's messages, NUL-terminated.
sync_files () {
  find "$1/cur" "$1/new" -maxdepth 1 -type f -print0 2>/dev/null
}

# sync_local DIR: "MESSAGE-ID FLAGS" for each message of a Maildir folder
# (flags from the file name's info part, letters outside DFPRST dropped),
# sorted.  A message without a Message-ID shows as "(none)".
sync_local () {
  sync_files "$1" | xargs -0 -r awk '
    function flush() {
      if (file == "") return
      n = file; sub(/^.*\//, "", n)
      f = ""
      if (match(n, /:2,[^:]*$/)) f = substr(n, RSTART + 3)
      gsub(/[^DFPRST]/, "", f)
      print (id == "" ? "(none)" : id), f
    }
    FNR == 1 { flush(); file = FILENAME; id = ""; hdr = 1 }
    hdr && /^\r?$/ { hdr = 0 }
    hdr && id == "" && tolower(substr($0, 1, 11)) == "message-id:" { id = $2; sub(/\r$/, "", id) }
    END { flush() }' | LC_ALL=C sort
}

# sync_local_bodies DIR: "MD5 FLAGS" for each message (the whole file, so
# the body too), sorted: what a folder holds, whatever its files are named.
sync_local_bodies () {
  sync_files "$1" | xargs -0 -r md5sum | awk '
    {
      n = $2; sub(/^.*\//, "", n)
      f = ""
      if (match(n, /:2,[^:]*$/)) f = substr(n, RSTART + 3)
      gsub(/[^DFPRST]/, "", f)
      print $1, f
    }' | LC_ALL=C sort
}

# sync_server FOLDER: "MESSAGE-ID FLAGS" for each message of a server
# folder, sorted; nothing when the folder does not exist.
sync_server () { sync_server_all "$1" | cut -d' ' -f2-; }

# sync_server_all FOLDER...: the same for several folders in one session,
# as "FOLDER MESSAGE-ID FLAGS" lines.
sync_server_all () {
  local f
  for f; do
    set -- "$@" "EXAMINE $(dovecot_q "$f")" 'UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])'
    shift
  done
  dovecot_imap "$@" |
    awk -v names="$(printf '%s\n' "$@" | sed -n 's/^EXAMINE "\(.*\)"$/\1/p')" '
      BEGIN { split(names, folder, "\n") }
      /^t[0-9]+ / { t = substr($1, 2) + 0 }
      /^\* [0-9]+ FETCH / {
        s = $0; sub(/^.*FLAGS \(/, "", s); sub(/\).*$/, "", s)
        f = ""
        if (s ~ /\\Draft/) f = f "D"
        if (s ~ /\\Flagged/) f = f "F"
        if (s ~ /\$Forwarded/) f = f "P"
        if (s ~ /\\Answered/) f = f "R"
        if (s ~ /\\Seen/) f = f "S"
        if (s ~ /\\Deleted/) f = f "T"
        id = "(none)"
        next
      }
      tolower(substr($0, 1, 11)) == "message-id:" { id = $2 }
      /^\)$/ { print folder[int(t / 2) + 1], id, f }' | LC_ALL=C sort
}

# sync_ids LIST: the Message-IDs of a sync_local/sync_server list.
sync_ids () { printf '%s\n' "$1" | cut -d' ' -f1; }

# sync_server_uid FOLDER MESSAGE-ID: the UID of that message on the server.
sync_server_uid () {
  dovecot_imap "EXAMINE $(dovecot_q "$1")" "UID SEARCH HEADER Message-ID $(dovecot_q "$2")" |
    sed -n 's/^\* SEARCH \([0-9]*\).*/\1/p'
}

# sync_server_flags FOLDER MESSAGE-ID FLAGS-CMD FLAGLIST: changes the flags
# of one server message, e.g. sync_server_flags INBOX "<x@y>" +FLAGS '\Seen'.
sync_server_flags () {
  local uid
  uid=$(sync_server_uid "$1" "$2")
  [ -n "$uid" ] || { diag "no message $2 in $1 on the server"; return 1; }
  dovecot_store "$1" "$uid" "$3" "$4"
}

# sync_server_expunge FOLDER MESSAGE-ID: removes one server message.
sync_server_expunge () {
  local uid
  uid=$(sync_server_uid "$1" "$2")
  [ -n "$uid" ] || { diag "no message $2 in $1 on the server"; return 1; }
  dovecot_expunge "$1" "$uid"
}

# sync_make_folder DIR: a Maildir folder (cur, new, tmp).
sync_make_folder () { mkdir -p "$1/cur" "$1/new" "$1/tmp"; }

# sync_unique_name: a Maildir file name (its unique part) no other call
# gives, even from a subshell ($(...) loses counters).
sync_unique_name () { echo "$(date +%s).L$$N$(date +%N).testhost"; }

# sync_add_local DIR [FLAGS]: delivers a new message into the Maildir folder
# DIR as a mail reader would (new/ without flags, cur/ with them) and
# prints its Message-ID.
sync_add_local () {
  local dir=$1 flags=${2:-} tmp name id
  sync_make_folder "$dir"
  name=$(sync_unique_name)
  tmp=$dir/tmp/$name
  dovecot_make_message "$tmp" "Local message $name" || return 1
  id=$(sed -n 's/^Message-ID: //p' "$tmp" | head -n 1)
  if [ -n "$flags" ]; then
    mv "$tmp" "$dir/cur/$name:2,$flags"
  else
    mv "$tmp" "$dir/new/$name"
  fi || return 1
  printf '%s\n' "$id"
}

# sync_add_local_anonymous DIR: delivers a new message without a
# Message-ID into the Maildir folder DIR and prints its Subject, unique.
sync_add_local_anonymous () {
  local name
  sync_make_folder "$1"
  name=$(sync_unique_name)
  printf 'From: someone@example.org\nSubject: no Message-ID %s\n\nA body.\n' "$name" \
    > "$1/tmp/$name" && mv "$1/tmp/$name" "$1/new/$name" && echo "no Message-ID $name"
}

# sync_add_server FOLDER [FLAGS]: appends a new message to a server folder
# (creating it) and prints its Message-ID.
sync_add_server () {
  local tmp=$T_DIR/server-message.$$
  dovecot_make_message "$tmp" "Server message" || return 1
  dovecot_append "$1" "$tmp" "${2:-}" > /dev/null || return 1
  sed -n 's/^Message-ID: //p' "$tmp" | head -n 1
  rm -f "$tmp"
}

# sync_local_file DIR MESSAGE-ID: the path of that message in the folder.
sync_local_file () {
  sync_files "$1" | xargs -0 -r grep -l -F -x -- "Message-ID: $2" | head -n 1
}

# sync_local_flags DIR MESSAGE-ID FLAGS: gives a local message exactly
# FLAGS (moving it to cur/, keeping the rest of its name).
sync_local_flags () {
  local f base
  f=$(sync_local_file "$1" "$2")
  [ -n "$f" ] || { diag "no message $2 in $1"; return 1; }
  base=${f##*/}
  base=${base%%:2,*}
  mv "$f" "$1/cur/$base:2,$3"
}

# sync_local_rm DIR MESSAGE-ID: deletes a local message.
sync_local_rm () {
  local f
  f=$(sync_local_file "$1" "$2")
  [ -n "$f" ] || { diag "no message $2 in $1"; return 1; }
  rm -f "$f"
}

# sync_msg_flags LIST MESSAGE-ID: the flags of one message in a list.
sync_msg_flags () {
  printf '%s\n' "$1" | awk -v id="$2" '$1 == id { print $2; found = 1 } END { exit !found }'
}

# sync_first_ids LIST N: the first N Message-IDs of a list.
sync_first_ids () { printf '%s\n' "$1" | head -n "$2" | cut -d' ' -f1; }

# sync_tree DIR: every path below DIR, sorted (to see what a run created).
sync_tree () { (cd "$1" && find . | LC_ALL=C sort); }

# sync_same DESC GOT WANT: like `is`, for multi-line lists, with a diff.
sync_same () {
  if [ "$2" = "$3" ]; then ok "$1"; else
    not_ok "$1"
    diag "$(printf '%s\n' "$3" > "$T_DIR/want.txt"; printf '%s\n' "$2" > "$T_DIR/got.txt"
      diff -u "$T_DIR/want.txt" "$T_DIR/got.txt" | tail -n +3)"
  fi
}

# sync_log_has DESC LOG TEXT: the log contains TEXT (shown when not).
sync_log_has () {
  if file_has "$2" "$3"; then ok "$1"; else
    not_ok "$1"
    diag "no \"$3\" in:" "$(tail -n 8 "$2")"
  fi
}

# sync_exit_is DESC WANT: SYNC_RC is WANT, with the log on failure.
sync_exit_is () {
  if [ "$SYNC_RC" = "$2" ]; then ok "$1"; else
    not_ok "$1"
    diag "exit status $SYNC_RC, want $2" "$(tail -n 8 "${SYNC_LOG:-/dev/null}")"
  fi
}

# sync_alive PID: PID runs (a zombie does not count).
sync_alive () {
  [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | grep -q '^Z'
}

# sync_wait_exit PID: waits for a sync_imap started in the background (whose
# stdin the caller has closed) to exit, killing it after a deadline; SYNC_RC
# gets its exit status.
sync_wait_exit () {
  if ! wait_until 30 eval "! sync_alive $1"; then
    diag "sync_imap $1 did not exit at the end of its input; killing it"
    kill "$1"
  fi
  wait "$1"
  SYNC_RC=$?
}
