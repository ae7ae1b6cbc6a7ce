/* messages.h — every line the coordinator prints, in mswatch 1.2's words.
 *
 * Scripts and loggers parse these lines, so their text is part of the
 * compatibility contract (spec §2.3); keeping them in one file keeps the
 * contract in one place.  stdout lines are suppressed by -q (except the
 * SIGUSR1 report); stderr lines never are.  Times are wall-clock seconds.
 */
#pragma once

#include <glib.h>

#include "supervisor.h"

void ms_messages_set_quiet (gboolean quiet);

/* "1 mailbox", "N mailboxes" or "all mailboxes" (n < 0). (transfer full) */
char *ms_messages_what (gint n_mailboxes);

void ms_msg_starting_watcher (const char *store);
void ms_msg_argv (const char *const *argv, const char *const *extra);
void ms_msg_watching (void);
void ms_msg_sync_started (gint64 now, gint n_mailboxes);
void ms_msg_sync_completed (gint64 secs, gint64 now, gint n_mailboxes);
void ms_msg_sync_errored (const char *prog, const MsChildExit *st, gint64 secs, gint64 now, gint n_mailboxes);
void ms_msg_sync_timed_out (const char *prog, gint64 timeout);
void ms_msg_sync_spawn_failed (const char *prog, const char *why);
void ms_msg_watcher_closed_by (const char *store, gint64 now);
void ms_msg_watcher_closed_at (const char *store, gint64 now);
void ms_msg_watcher_exited (const char *store, const MsChildExit *st, gint64 now);
void ms_msg_watcher_spawn_failed (const char *prog, const char *why);
void ms_msg_bad_start (const char *store, char byte);
void ms_msg_name_too_large (void);
void ms_msg_bad_name (const char *store, const char *why);

/* The resident syncer (extension).  `name` NULL or "" means all mailboxes. */
void ms_msg_starting_syncer (void);
void ms_msg_syncer_spawn_failed (const char *prog, const char *why);
void ms_msg_syncer_bad_greeting (const char *why);
void ms_msg_syncer_exited (const MsChildExit *st, gint64 now);
void ms_msg_syncer_closed (gint64 now);
void ms_msg_syncer_write_failed (const char *why);
void ms_msg_syncer_timed_out (const char *prog, const char *name, gint64 timeout);
void ms_msg_syncer_info (const char *text, gsize len);
void ms_msg_syncer_connection (const char *text, gsize len);
void ms_msg_syncer_progress (const char *name, const char *text, gsize len);
void ms_msg_syncer_bad_line (const char *why, const char *line, gsize len);
void ms_msg_syncer_bad_text (const char *why, const char *line, gsize len);
void ms_msg_syncer_line_too_long (gsize max);
void ms_msg_syncer_unknown_tag (const char *tag);
void ms_msg_syncer_prefix_ignored (const char *file);
void ms_msg_sync_retry (const char *name, const char *reason);
void ms_msg_sync_failed (const char *name, const char *reason);
void ms_msg_syncer_errored (const char *prog, gint n_retry, gint64 secs, gint64 now, gint n_mailboxes);

/* The on_synced hook (extension).  Its output lines go to stdout (unless
 * -q) or, from its stderr, to stderr. */
void ms_msg_hook_output (gboolean from_stderr, const char *line, gsize len);
void ms_msg_hook_line_too_long (gboolean from_stderr, gsize max);
void ms_msg_hook_errored (const char *prog, const MsChildExit *st, gint64 secs, gint64 now, gint n_mailboxes);
void ms_msg_hook_timed_out (const char *prog, gint64 timeout);
void ms_msg_hook_running_long (const char *prog, gint64 secs);

/* Wake-ups (extension): why waits were cut short and watchers restarted. */
void ms_msg_wake (const char *why);
void ms_msg_network_gone (void);

/* The status socket (extension). */
void ms_msg_status_unavailable (const char *why);
void ms_msg_status_refused (gint64 uid);
