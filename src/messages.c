/* messages.c — see messages.h.  stdout is line-buffered (set in main()), so
 * our lines and a sync child's stay in order. */
#include "messages.h"

#include <stdio.h>

#include "mailbox-name.h"
#include "ms-time.h"

static gboolean quiet;

void
ms_messages_set_quiet (gboolean q)
{
  quiet = q;
}

char *
ms_messages_what (gint n)
{
  if (n < 0)
    return g_strdup ("all mailboxes");
  if (n == 1)
    return g_strdup ("1 mailbox");
  return g_strdup_printf ("%d mailboxes", n);
}

void
ms_msg_starting_watcher (const char *store)
{
  if (!quiet)
    printf ("Starting %s watcher\n", store);
}

/* "+ a b c " — each word followed by one space, nothing quoted (1.2). */
void
ms_msg_argv (const char *const *argv, const char *const *extra)
{
  if (quiet)
    return;
  g_autoptr (GString) line = g_string_new ("+ ");
  for (; argv && *argv; argv++)
    g_string_append_printf (line, "%s ", *argv);
  for (; extra && *extra; extra++)
    g_string_append_printf (line, "%s ", *extra);
  printf ("%s\n", line->str);
}

void
ms_msg_watching (void)
{
  if (!quiet)
    printf ("Watching mailstores\n");
}

void
ms_msg_sync_started (gint64 now, gint n)
{
  if (quiet)
    return;
  g_autofree char *t = ms_time_format (now);
  g_autofree char *what = ms_messages_what (n);
  printf ("Sync started at %s (%s)\n", t, what);
}

void
ms_msg_sync_completed (gint64 secs, gint64 now, gint n)
{
  if (quiet)
    return;
  g_autofree char *t = ms_time_format (now);
  g_autofree char *what = ms_messages_what (n);
  printf ("Sync completed after %" G_GINT64_FORMAT "s at %s (%s)\n", secs, t, what);
}

void
ms_msg_sync_errored (const char *prog, const MsChildExit *st, gint64 secs, gint64 now, gint n)
{
  g_autofree char *t = ms_time_format (now);
  g_autofree char *what = ms_messages_what (n);
  fflush (stdout);
  fprintf (stderr, "Sync errored: %s exited (status %d) after %" G_GINT64_FORMAT "s at %s (%s)\n",
           prog, st->signaled ? -1 : st->code, secs, t, what);
}

void
ms_msg_sync_timed_out (const char *prog, gint64 timeout)
{
  fflush (stdout);
  fprintf (stderr, "Sync timed out: %s ran longer than sync_timeout (%" G_GINT64_FORMAT "s); stopping it\n",
           prog, timeout);
}

void
ms_msg_sync_spawn_failed (const char *prog, const char *why)
{
  fflush (stdout);
  fprintf (stderr, "exec(\"%s\"): %s\n", prog, why);
}

void
ms_msg_watcher_closed_by (const char *store, gint64 now)
{
  g_autofree char *t = ms_time_format (now);
  fflush (stdout);
  fprintf (stderr, "Error: %s watcher connection closed by %s\n", store, t);
}

void
ms_msg_watcher_closed_at (const char *store, gint64 now)
{
  g_autofree char *t = ms_time_format (now);
  fflush (stdout);
  fprintf (stderr, "Error: %s watcher connection closed at %s\n", store, t);
}

void
ms_msg_watcher_exited (const char *store, const MsChildExit *st, gint64 now)
{
  g_autofree char *t = ms_time_format (now);
  g_autofree char *how = ms_child_exit_describe (st);
  fflush (stdout);
  fprintf (stderr, "Error: %s watcher%s by %s\n", store, how, t);
}

void
ms_msg_watcher_spawn_failed (const char *prog, const char *why)
{
  fflush (stdout);
  fprintf (stderr, "execvp(%s): %s\n", prog, why);
}

void
ms_msg_bad_start (const char *store, char byte)
{
  fflush (stdout);
  fprintf (stderr, "Expected start message '\n' from %s watcher, received '%c'\n", store, byte);
}

void
ms_msg_name_too_large (void)
{
  fflush (stdout);
  fprintf (stderr, "WARNING: mailbox name too large; syncing all mailboxes to get change\n");
}

void
ms_msg_bad_name (const char *store, const char *why)
{
  fflush (stdout);
  fprintf (stderr, "WARNING: %s watcher sent an unusable mailbox name (%s); ignoring it\n", store, why);
}

/* --- the resident syncer ------------------------------------------------- */

static const char *
name_or_all (const char *name)
{
  return name == NULL || *name == '\0' ? "all mailboxes" : name;
}

void
ms_msg_starting_syncer (void)
{
  if (!quiet)
    printf ("Starting syncer\n");
}

void
ms_msg_syncer_spawn_failed (const char *prog, const char *why)
{
  /* The watchers' wording: both are run the same way. */
  ms_msg_watcher_spawn_failed (prog, why);
}

void
ms_msg_syncer_bad_greeting (const char *why)
{
  fflush (stdout);
  fprintf (stderr, "Error: syncer did not greet: %s\n", why);
}

void
ms_msg_syncer_exited (const MsChildExit *st, gint64 now)
{
  g_autofree char *t = ms_time_format (now);
  g_autofree char *how = ms_child_exit_describe (st);
  fflush (stdout);
  fprintf (stderr, "Error: syncer%s by %s\n", how, t);
}

void
ms_msg_syncer_closed (gint64 now)
{
  g_autofree char *t = ms_time_format (now);
  fflush (stdout);
  fprintf (stderr, "Error: syncer connection closed by %s\n", t);
}

void
ms_msg_syncer_write_failed (const char *why)
{
  fflush (stdout);
  fprintf (stderr, "Error: writing to syncer: %s\n", why);
}

void
ms_msg_syncer_timed_out (const char *prog, const char *name, gint64 timeout)
{
  fflush (stdout);
  fprintf (stderr,
           "Sync timed out: %s gave no answer for %s within sync_timeout (%" G_GINT64_FORMAT
           "s); restarting it\n",
           prog, name_or_all (name), timeout);
}

void
ms_msg_syncer_info (const char *text, gsize len)
{
  if (!quiet)
    printf ("Syncer: %.*s\n", (int) len, text);
}

void
ms_msg_syncer_connection (const char *text, gsize len)
{
  if (!quiet)
    printf ("Syncer connection: %.*s\n", (int) len, text);
}

void
ms_msg_syncer_progress (const char *name, const char *text, gsize len)
{
  if (!quiet)
    printf ("Syncing %s: %.*s\n", name_or_all (name), (int) len, text);
}

/* How much of a malformed line a warning shows: enough to recognise it. */
#define BAD_LINE_SHOWN 80

void
ms_msg_syncer_bad_line (const char *why, const char *line, gsize len)
{
  g_autofree char *shown = ms_mailbox_name_for_log (line, len, BAD_LINE_SHOWN);
  fflush (stdout);
  fprintf (stderr, "WARNING: syncer sent a malformed line (%s): \"%s\"; ignoring it\n", why, shown);
}

void
ms_msg_syncer_bad_text (const char *why, const char *line, gsize len)
{
  g_autofree char *shown = ms_mailbox_name_for_log (line, len, BAD_LINE_SHOWN);
  fflush (stdout);
  fprintf (stderr, "WARNING: syncer sent text that breaks the protocol (%s): \"%s\"; showing it escaped\n",
           why, shown);
}

void
ms_msg_syncer_line_too_long (gsize max)
{
  fflush (stdout);
  fprintf (stderr, "WARNING: syncer sent a line longer than %" G_GSIZE_FORMAT " bytes; ignoring it\n",
           max);
}

void
ms_msg_syncer_unknown_tag (const char *tag)
{
  fflush (stdout);
  fprintf (stderr, "WARNING: syncer answered unknown tag %s; ignoring it\n", tag);
}

void
ms_msg_syncer_prefix_ignored (const char *file)
{
  fflush (stdout);
  fprintf (stderr, "WARNING: %s: mailbox_prefix does not apply to a syncer, which gets mailbox names bare\n",
           file);
}

void
ms_msg_sync_retry (const char *name, const char *reason)
{
  fflush (stdout);
  fprintf (stderr, "Sync of %s failed; will retry: %s\n", name_or_all (name), reason);
}

void
ms_msg_sync_failed (const char *name, const char *reason)
{
  fflush (stdout);
  fprintf (stderr, "Sync of %s failed permanently: %s\n", name_or_all (name), reason);
}

void
ms_msg_syncer_errored (const char *prog, gint n_retry, gint64 secs, gint64 now, gint n)
{
  g_autofree char *t = ms_time_format (now);
  g_autofree char *what = ms_messages_what (n);
  g_autofree char *failed = ms_messages_what (n_retry);
  fflush (stdout);
  fprintf (stderr, "Sync errored: %s failed for %s after %" G_GINT64_FORMAT "s at %s (%s)\n", prog,
           failed, secs, t, what);
}

/* --- the on_synced hook ------------------------------------------------------- */

void
ms_msg_hook_output (gboolean from_stderr, const char *line, gsize len)
{
  if (quiet && !from_stderr)
    return;
  /* The hook is a child like any other: its text must not drive the
   * terminal or split our log lines. */
  g_autofree char *shown = ms_mailbox_name_for_log (line, len, len);
  if (from_stderr) {
    fflush (stdout);
    fprintf (stderr, "on_synced: %s\n", shown);
  } else {
    printf ("on_synced: %s\n", shown);
  }
}

void
ms_msg_hook_line_too_long (gboolean from_stderr, gsize max)
{
  if (quiet && !from_stderr)
    return;
  if (from_stderr) {
    fflush (stdout);
    fprintf (stderr, "on_synced: [a line longer than %" G_GSIZE_FORMAT " bytes, not shown]\n", max);
  } else {
    printf ("on_synced: [a line longer than %" G_GSIZE_FORMAT " bytes, not shown]\n", max);
  }
}

void
ms_msg_hook_errored (const char *prog, const MsChildExit *st, gint64 secs, gint64 now, gint n)
{
  g_autofree char *t = ms_time_format (now);
  g_autofree char *what = ms_messages_what (n);
  fflush (stdout);
  fprintf (stderr, "Hook errored: %s exited (status %d) after %" G_GINT64_FORMAT "s at %s (%s)\n",
           prog, st->signaled ? -1 : st->code, secs, t, what);
}

void
ms_msg_hook_timed_out (const char *prog, gint64 timeout)
{
  fflush (stdout);
  fprintf (stderr, "Hook timed out: %s ran longer than sync_timeout (%" G_GINT64_FORMAT "s); stopping it\n",
           prog, timeout);
}

/* A WARNING as 1.2 wrote them: on stderr, never suppressed by -q. */
void
ms_msg_hook_running_long (const char *prog, gint64 secs)
{
  fflush (stdout);
  fprintf (stderr, "WARNING: on_synced hook %s has been running for %" G_GINT64_FORMAT
           "s; later runs are queued until it ends\n", prog, secs);
}

/* --- wake-ups and the status socket ---------------------------------------- */

void
ms_msg_wake (const char *why)
{
  if (!quiet)
    printf ("Woke up (%s): retrying now and restarting the watchers\n", why);
}

void
ms_msg_network_gone (void)
{
  if (!quiet)
    printf ("The network is gone: waiting for it to come back\n");
}

void
ms_msg_status_unavailable (const char *why)
{
  fflush (stdout);
  fprintf (stderr, "WARNING: no status socket: %s\n", why);
}

void
ms_msg_status_refused (gint64 uid)
{
  fflush (stdout);
  fprintf (stderr, "WARNING: status socket: refused a client of uid %" G_GINT64_FORMAT "\n", uid);
}
