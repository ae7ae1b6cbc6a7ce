#!/bin/sh
# sync-no-appenduid.sh COMMAND [ARG...]: an mbsync Tunnel that runs COMMAND
# (an IMAP server on stdin and stdout, such as Dovecot's preauth wrapper)
# with the APPENDUID response codes taken out of what it sends: a server
# without UIDPLUS, as far as APPEND goes, whatever it advertises.  (Dovecot
# sends APPENDUID even when imap_capability leaves UIDPLUS out.)
#
# The client's socket is our stdin and stdout, one open file; COMMAND gets
# a pipe from cat instead, because a server that makes its stdin
# non-blocking (Dovecot's imap does) would make sed's writes to it fail.
cat | "$@" | sed -u 's/ \[APPENDUID [0-9]* [0-9]*\]//'
