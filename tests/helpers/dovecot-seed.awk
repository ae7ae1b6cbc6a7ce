# dovecot-seed.awk — writes realistic RFC 5322 test messages as Maildir files.
#
# Used by dovecot_seed and dovecot_make_message in tests/lib/dovecot.sh.
# Writing the files ourselves and letting Dovecot index them afterwards is
# the fast way to fill a mailbox: one awk process writes thousands of files,
# where `doveadm save` or an IMAP APPEND costs a process or a round trip per
# message.  Dropping files into a Maildir is the contract every MDA relies
# on, so Dovecot assigns UIDs to them exactly as it would to delivered mail.
#
# Variables (-v):
#   count  messages per folder
#   tag    a string unique to this run; it goes into every Message-ID and
#          file name, so seeding the same folder twice never collides
#   start  Unix time of each folder's first message; the others follow
#          `step` seconds apart (default 37), so Date headers and file names
#          increase together
#   pid    the seeding shell's pid, for the file names
#   seed   srand() seed: the same seed gives the same bytes, which keeps
#          benchmark runs comparable
#   out    "-" to print one message on stdout instead of writing folders
#   subject  (with out = "-") the Subject of that message
# Operands: one Maildir folder directory per folder (the server-side path).
# The environment variable DOVECOT_SEED_NAMES holds the folder names, one a
# line in the same order, for the Subject lines.  (Passing them with -v
# would let awk interpret backslashes in them.)
# Each message is written to DIR/tmp/NAME and left there; the caller moves
# the files into DIR/cur/ so that no reader ever sees a half-written file.
#
# File names are TIME.M<i>P<pid>Q<n>.<tag>:2, for message i of folder n,
# with TIME growing with i: Dovecot orders new files by that time stamp
# when it gives them UIDs, so message i of a folder gets the i-th new UID.  Times are
# printed in UTC; the caller runs us with TZ=UTC and LC_ALL=C.

BEGIN {
  if (count == "") count = 1
  if (step == "") step = 37
  if (seed == "") seed = 1
  srand(seed)

  nwords = split("account agenda answer archive backup batch budget calendar " \
    "change client config copy dataset deadline draft error folder forward " \
    "header index invoice label latency ledger mailbox meeting message " \
    "mirror network notice offline patch pipeline quarterly queue release " \
    "report request review roadmap schedule server session signal status " \
    "summary sync thread ticket timeout update upload vendor weekly window", words, " ")
  nnames = split("Alice Example|Bob Sample|Carol Tester|Dave Operator|" \
    "Erin Admin|Frank Builder|Grace Hopper|Heidi Reviewer", names, "|")
  nhosts = split("example.org example.net lists.example.com corp.example", hosts, " ")

  if (out == "-") {
    if (subject == "") subject = "Test message"
    message(subject, "<" tag ".single@mswatch.test>", start)
    exit 0
  }

  nlabels = split(ENVIRON["DOVECOT_SEED_NAMES"], labels, "\n")
  for (a = 1; a < ARGC; a++) {
    dir = ARGV[a]
    folder = (a <= nlabels ? labels[a] : dir)
    for (i = 1; i <= count; i++) {
      t = start + (i - 1) * step
      # Q (the folder's number) and the run's tag keep names unique.
      name = sprintf("%d.M%dP%dQ%d.%s:2,", t, i, pid, a, tag)
      file = dir "/tmp/" name
      subj = sprintf("Seed %d of %s: %s %s %s", i, folder,
        word(), word(), word())
      msgid = sprintf("<seed-%s-%d-%d@mswatch.test>", tag, a, i)
      printf "%s", text(subj, msgid, t) > file
      close(file)
    }
    delete ARGV[a]
  }
  exit 0
}

function word() { return words[int(rand() * nwords) + 1] }

function message(subj, msgid, t) { printf "%s", text(subj, msgid, t) }

# text SUBJECT MSGID TIME: one whole message with LF line ends (Dovecot's
# Maildir storage keeps LF; IMAP clients see CRLF).
function text(subj, msgid, t,    who, addr, host, s, body, len, line, n, p) {
  who = names[int(rand() * nnames) + 1]
  host = hosts[int(rand() * nhosts) + 1]
  addr = tolower(who)
  gsub(/ /, ".", addr)
  s = "Return-Path: <" addr "@" host ">\n"
  s = s "Received: from mx." host " by mail.mswatch.test with ESMTP; " date(t) "\n"
  s = s "Message-ID: " msgid "\n"
  s = s "Date: " date(t) "\n"
  s = s "From: " who " <" addr "@" host ">\n"
  s = s "To: Test User <test@mswatch.test>\n"
  s = s "Subject: " subj "\n"
  s = s "MIME-Version: 1.0\n"
  s = s "Content-Type: text/plain; charset=us-ascii\n"
  s = s "Content-Transfer-Encoding: 7bit\n"
  s = s "\n"

  # A body of 300 bytes to about 4 KB, in paragraphs of wrapped lines.
  len = 300 + int(rand() * rand() * 3800)
  body = "Hello,\n\n"
  line = ""
  n = 0
  while (length(body) < len) {
    p = word()
    if (length(line) + length(p) + 1 > 72) {
      body = body line "\n"
      line = ""
      if (++n % 6 == 0) body = body "\n"
    }
    line = (line == "" ? toupper(substr(p, 1, 1)) substr(p, 2) : line " " p)
  }
  body = body line ".\n\n-- \n" who "\n"
  return s body
}

# date T: RFC 5322 date-time in UTC.
function date(t) { return strftime("%a, %d %b %Y %H:%M:%S +0000", t) }
