#!/bin/bash
# bench-hibernate-window.sh — shows the window in which a Dovecot that
# hibernates IDLE connections does not report a change until the connection
# is next woken.  No mswatch-ng program takes part: a bare IMAP session
# (python3, plain IMAP on 127.0.0.1) IDLEs on INBOX of a Dovecot started for
# the run with imap_hibernate_timeout = 1s, and a second session APPENDs.
# Run by hand, as root, from a build directory:
#
#   bash SRCDIR/tests/bench/bench-hibernate-window.sh [BUILD_DIR]
#
# BUILD_DIR is only used to find the test libraries' helpers.  DELAYS is a
# comma-separated list of seconds (default below), REPS the tries per
# delay (default 4).
#
# Each try renews the IDLE (DONE, then IDLE: what watch_imap's keepalive
# does), waits DELAY seconds, APPENDs, and waits up to REPORT_DEADLINE_S
# for the EXISTS.  Prints per delay the milliseconds to each EXISTS, or
# "late" when none came.  Dovecot 2.3.19 here: late for every try between
# 0.6 and 0.95 s (the last 500 ms before the hand-over at 1 s, when the
# imap process holds the notification and the hibernated connection
# watches only for later changes); about 500 ms at 0.2 s (the imap
# process's own delay); milliseconds from 1.1 s on (woken by
# imap-hibernate).  A late change is reported by the next wake: in the
# next try's renewal here, by the keepalive in watch_imap.  Exit status 1
# when the fixture does not start, else 0.

BENCH_PROGRAM=watch_imap
. "$(dirname "$0")/bench-lib.sh"

export LC_ALL=C
DELAYS=${DELAYS:-0.2,0.6,0.8,0.95,1.1,1.3}
REPS=${REPS:-4}
# Dovecot's imap_hibernate_timeout (whole seconds; 1 is its least).
HIBERNATE_S=1
# Seconds to wait for an EXISTS before calling the change late: far beyond
# both the 500 ms delay and the hand-over's milliseconds.
REPORT_DEADLINE_S=3
# Seconds after each try before the next renewal: the connection has been
# hibernated again by then.
SETTLE_S=1.5

command -v python3 > /dev/null || { echo "python3 is needed" >&2; exit 1; }
why=$(dovecot_missing)
[ -z "$why" ] || { echo "cannot run: $why" >&2; exit 1; }
dovecot_setup --ssl no --hibernate "$HIBERNATE_S" --capability "IMAP4rev1 LITERAL+ IDLE" || {
  echo "Dovecot did not start" >&2
  exit 1
}

echo "Dovecot $(dovecot --version), imap_hibernate_timeout = ${HIBERNATE_S}s;" \
  "ms from APPEND to EXISTS, per delay after an IDLE renewal:"
python3 - 127.0.0.1 "$DOVECOT_IMAP_PORT" "$DOVECOT_USER" "$DOVECOT_PASS" \
  "$DELAYS" "$REPS" "$REPORT_DEADLINE_S" "$SETTLE_S" <<'EOF'
import select, socket, sys, time

host, port, user, password, delays, reps, deadline, settle = sys.argv[1:]
port, reps, deadline, settle = int(port), int(reps), float(deadline), float(settle)

def session():
    s = socket.create_connection((host, port))
    f = s.makefile('rb')
    f.readline()
    run(s, f, 'l', f'LOGIN {user} {password}')
    return s, f

def run(s, f, tag, command):
    s.sendall(f'{tag} {command}\r\n'.encode())
    while not f.readline().startswith(tag.encode() + b' '):
        pass

def until(f, prefix):
    while not f.readline().startswith(prefix):
        pass

watcher, wf = session()
run(watcher, wf, 'e', 'EXAMINE INBOX')
appender, af = session()
message = b'From: a@example.org\r\nSubject: window\r\n\r\nbody\r\n'
watcher.sendall(b'i IDLE\r\n')
until(wf, b'+')
time.sleep(settle)
for delay in (float(d) for d in delays.split(',')):
    results = []
    for _ in range(reps):
        watcher.sendall(b'DONE\r\n')
        until(wf, b'i ')
        watcher.sendall(b'i IDLE\r\n')
        until(wf, b'+')
        time.sleep(delay)
        start = time.monotonic()
        appender.sendall(b'a APPEND INBOX {%d+}\r\n' % len(message) + message + b'\r\n')
        until(af, b'a ')
        got = None
        while got is None:
            left = deadline - (time.monotonic() - start)
            if left <= 0 or not select.select([watcher], [], [], left)[0]:
                break
            if b'EXISTS' in wf.readline():
                got = (time.monotonic() - start) * 1000
        results.append('late' if got is None else '%.0f' % got)
        time.sleep(settle)
    print(f'  {delay:5.2f} s: {" ".join(results)}', flush=True)
EOF
