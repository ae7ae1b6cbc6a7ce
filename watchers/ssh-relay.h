/* ssh-relay.h — what of a remote watcher's output watch_ssh passes on.
 *
 * The remote end of an SSH connection is untrusted input (a compromised
 * server must not be able to make the coordinator sync "../../etc"), so
 * watch_ssh does not copy bytes: it passes on lines that are watcher
 * protocol (spec §4.1) and nothing else.
 *
 *   - Standard output is split by the bounded line splitter.  A line passes
 *     if it is empty (the start message, or later "sync everything") or a
 *     name that ms_mailbox_name_check() accepts; a longer line or a bad name
 *     is dropped with a reason for the log.  An unterminated last line never
 *     passes: it is not a line of the protocol.
 *   - Standard error is for people: each line is passed on with a prefix
 *     (the host's name), control characters and invalid UTF-8 escaped so
 *     that the remote end cannot drive our terminal or forge a line of our
 *     own log, and lines over MS_SSH_LOG_LINE_MAX bytes replaced by a note.
 *
 * Pure: feed bytes, then pull results until NEED_MORE (or NULL).
 *
 * Ownership: the caller owns both objects; a passed line points into the
 * relay and stays valid until the next call on it; reasons and log lines
 * are (transfer full).
 */
#pragma once

#include <glib.h>

/* Longest remote stderr line shown.  Error messages are far shorter; a
 * longer "line" is binary junk or a runaway program, and shown in full it
 * would only bury the messages around it. */
#define MS_SSH_LOG_LINE_MAX 2048

/* How much of a dropped line the log shows.  Enough to recognise it; a
 * hostile line gets no more room in our log than that. */
#define MS_SSH_DROPPED_SHOWN_MAX 80

typedef enum {
  MS_SSH_RELAY_PASS,      /* *line / *len: a valid line, without its '\n' */
  MS_SSH_RELAY_DROP,      /* a line was dropped; *reason says which and why */
  MS_SSH_RELAY_NEED_MORE, /* no complete line buffered: feed more */
} MsSshRelayResult;

typedef struct MsSshRelay MsSshRelay;

MsSshRelay *ms_ssh_relay_new (void);
void ms_ssh_relay_free (MsSshRelay *relay);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSshRelay, ms_ssh_relay_free)

void ms_ssh_relay_feed (MsSshRelay *relay, const char *data, gsize len);
MsSshRelayResult ms_ssh_relay_next (MsSshRelay *relay, const char **line, gsize *len, char **reason);

typedef struct MsSshLogLines MsSshLogLines;

/* Lines come out as "PREFIX: TEXT". */
MsSshLogLines *ms_ssh_log_lines_new (const char *prefix);
void ms_ssh_log_lines_free (MsSshLogLines *lines);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSshLogLines, ms_ssh_log_lines_free)

void ms_ssh_log_lines_feed (MsSshLogLines *lines, const char *data, gsize len);
/* The next complete line, or NULL. */
char *ms_ssh_log_lines_next (MsSshLogLines *lines);
/* At the end of the stream, once next() has returned NULL: the
 * unterminated last line, or NULL.  Nothing may be fed afterwards. */
char *ms_ssh_log_lines_finish (MsSshLogLines *lines);
