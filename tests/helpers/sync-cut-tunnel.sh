#!/bin/sh
# sync-cut-tunnel.sh BYTES COMMAND [ARG...]: an mbsync Tunnel that runs
# COMMAND (an IMAP server on stdin and stdout, such as Dovecot's preauth
# wrapper) and drops the connection after the server has sent BYTES bytes:
# a link that dies in the middle of a sync.
#
# The client's socket is our stdin and stdout, one open file: COMMAND must
# not get it, because a server that makes its stdin non-blocking (Dovecot's
# imap does) would make our writes to stdout fail with EAGAIN.  So cat
# copies the client's bytes into a FIFO for COMMAND, and COMMAND's output
# goes through another FIFO into dd, which passes BYTES bytes on one at a
# time, as they come (head would hold them in its stdio buffer; dd with a
# larger block counts every short read from the FIFO as a block), and ends.  Then COMMAND
# and cat are killed (they may be waiting and never notice) and this script
# exits, which closes the client's socket.

bytes=$1
shift
dir=$(mktemp -d "${TMPDIR:-/tmp}/cut-tunnel.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/in" "$dir/out" || exit 1
# An asynchronous command's stdin is /dev/null unless redirected: hand cat
# the socket through fd 3.
exec 3<&0
cat <&3 3<&- > "$dir/in" &
copier=$!
"$@" < "$dir/in" > "$dir/out" 3<&- &
server=$!
dd bs=1 count="$bytes" < "$dir/out" 2>/dev/null
kill "$server" "$copier" 2>/dev/null
wait "$server" "$copier" 2>/dev/null
exit 0
