/* mailbox-name.h — which mailbox names are safe to pass on.
 *
 * Mailbox names arrive from watchers, some of them on remote machines, and
 * end up as sync arguments and (in sync_imap) as paths below a Maildir root.
 * A remote watcher is untrusted input, so a name is checked where it enters.
 * The rules are deliberately narrow, so that every name mswatch 1.2 passed
 * verbatim (spaces, '&', '.', '/', UTF-8, the empty name meaning "all") still
 * passes:
 *
 *   - at most MS_MAILBOX_NAME_MAX bytes;
 *   - no NUL and no ASCII control characters (they would corrupt the line
 *     protocols and the log, and no IMAP server allows them in names);
 *   - not absolute ('/' first) and no '/'-separated component that is "." or
 *     "..", so no name can leave the Maildir root in a Verbatim layout.
 */
#pragma once

#include <glib.h>

/* mswatch 1.2 read watcher output in 4095-byte chunks and treated a longer
 * line as "too large"; we keep that bound.  Real IMAP names are far shorter. */
#define MS_MAILBOX_NAME_MAX 4095

/* Returns TRUE if name[0..len) is safe; otherwise sets MS_ERROR_BAD_NAME with
 * a reason that does not repeat the (possibly hostile) name. */
gboolean ms_mailbox_name_check (const char *name, gsize len, GError **error);

/* Escapes a name for a log line: control characters and non-UTF-8 bytes as
 * \xNN, and at most `max` bytes of the name shown.  (transfer full) */
char *ms_mailbox_name_for_log (const char *name, gsize len, gsize max);
